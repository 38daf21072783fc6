"""The background worker: claims waiting tickets and processes them; optionally feeds the live simulator.

A claim is a lease (``TANDEM_LEASE_SECONDS``) that a thread renews while the ticket is processed, so a worker that
dies (``kill -9``, a lost machine) strands nothing: its ticket is taken back once the lease runs out. Ctrl-C or
SIGTERM lets the ticket in hand finish and then stops; a second one puts that ticket back in the queue at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from sqlalchemy.exc import SQLAlchemyError

from . import delivery, demo_history, desk
from .channels import email, helpdesk
from .errors import DatabaseBusy, LeaseLost, TandemError
from .services import Services
from .stopping import stopping_on_signals
from .store.db import Database, utcnow
from .store.tables import HeartbeatRow

log = logging.getLogger("tandem.worker")


def heartbeat(services: Services, name: str, info: dict[str, int]) -> None:
    with services.db.tx() as s:
        row = s.get(HeartbeatRow, name)
        if row is None:
            s.add(HeartbeatRow(name=name, at=utcnow(), info=info))
        else:
            row.at, row.info = utcnow(), info


@contextmanager
def keep_lease(db: Database, ticket_id: str, claim: str, seconds: float) -> Iterator[None]:
    """Renews the claim's lease every third of its length while the block runs, from a thread, so a long ticket
    is never taken back from a live worker."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(seconds / 3):
            try:
                if not desk.renew_lease(db, ticket_id, claim, seconds):
                    log.warning("ticket %s was taken back by another worker", ticket_id)
                    return
            except (TandemError, SQLAlchemyError) as exc:  # the next beat tries again; the lease has slack
                log.warning("could not renew the lease on ticket %s: %s", ticket_id, exc)

    beat = threading.Thread(target=renew, name=f"lease {ticket_id}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        done.set()
        beat.join()


def _give_up(services: Services, ticket_id: str, claim: str, message: str) -> None:
    """Hands the ticket to the advisors with the error, unless another worker holds it by now."""
    try:
        desk.mark_failed(services.db, ticket_id, message, claim=claim, policy=services.policy())
    except LeaseLost:
        log.warning("ticket %s failed here but another worker holds it now", ticket_id)


def process_one(services: Services, name: str) -> bool:
    """Processes the next waiting ticket, if any. A failure marks that ticket and never stops the worker; a busy
    database puts the ticket back in the queue; a lost lease leaves it to the worker that holds it now."""
    lease = services.settings.lease_seconds
    row = desk.claim_next(services.db, name, lease)
    if row is None:
        return False
    claim = row.claimed_by or ""
    try:
        with keep_lease(services.db, row.id, claim, lease):
            ticket, read_through, prior = desk.for_agent(services.db, row)
            result = services.pipeline.process(ticket, claim=claim, prior=prior)
            desk.store_result(services.db, services.policy(), result, claim=claim, read_through=read_through)
    except LeaseLost as exc:
        log.warning("ticket %s: %s", row.id, exc)
    except DatabaseBusy as exc:
        log.warning("ticket %s goes back to the queue: %s", row.id, exc)
        try:
            desk.release(services.db, row.id, claim, str(exc))
        except DatabaseBusy:
            log.warning("ticket %s comes back when its lease runs out", row.id)
    except TandemError as exc:
        log.warning("ticket %s failed: %s", row.id, exc)
        _give_up(services, row.id, claim, str(exc))
    except Exception as exc:  # noqa: BLE001 - one bad ticket must not stop the queue; it is recorded
        log.exception("ticket %s failed", row.id)
        _give_up(services, row.id, claim, f"processing failed: {type(exc).__name__}: {exc}")
    except BaseException:  # stopped at once (a second Ctrl-C): the ticket goes back to the queue now
        desk.release(services.db, row.id, claim, "the worker was stopped while processing it")
        raise
    return True


@contextmanager
def _beside(target: Callable[[threading.Event], object], stop: threading.Event, name: str) -> Iterator[None]:
    """Runs ``target(stop)`` in a thread for as long as the block runs."""
    def guarded() -> None:
        try:
            target(stop)
        except Exception:  # noqa: BLE001 - logged; the worker goes on processing tickets
            log.exception("%s stopped", name)

    thread = threading.Thread(target=guarded, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def run(services: Services, simulate: bool = True, once: bool = False,
        stop: threading.Event | None = None, deliver: bool = True, channels: bool = True) -> int:
    """Runs until ``stop`` is set or a SIGINT/SIGTERM arrives (or, with ``once``, until no ticket is waiting).
    Beside the tickets it delivers the outbox (``deliver``) and reads the configured mailbox (``channels``).
    Returns tickets processed."""
    stop = stop or threading.Event()
    with ExitStack() as beside:
        if deliver and not once:
            beside.enter_context(_beside(lambda ev: delivery.run(services.db, services.settings, ev),
                                         threading.Event(), "delivery"))
        if channels and not once and services.settings.imap_host:

            beside.enter_context(_beside(lambda ev: email.watch(services.db, services.settings, ev),
                                         threading.Event(), "mailbox"))
        if channels and not once and services.settings.helpdesk_url:

            beside.enter_context(_beside(lambda ev: helpdesk.watch(services.db, services.settings, ev),
                                         threading.Event(), "helpdesk"))
        return _process(services, simulate, once, stop)


def _process(services: Services, simulate: bool, once: bool, stop: threading.Event) -> int:
    name = f"{socket.gethostname()}:{os.getpid()}"
    sim = services.pack.module("demo").Simulator(services.db, seed=int(time.time())) \
        if simulate and services.pack.has_demo else None
    next_ticket = time.monotonic()
    processed = 0
    last_beat = 0.0
    with stopping_on_signals(stop):
        while not stop.is_set():
            if time.monotonic() - last_beat > 5:
                heartbeat(services, name, {"processed": processed})
                last_beat = time.monotonic()
            if sim is not None and time.monotonic() >= next_ticket:
                desk.add_tickets(services.db, [sim.ticket(utcnow())], source="simulator",
                                 join_repeats=True)
                next_ticket = time.monotonic() + services.settings.simulator_interval
            if process_one(services, name):
                processed += 1
                continue
            if services.pack.has_demo and (worked := demo_history.finish_if_due(services)) is not None:
                log.info("the demo colleague handled %d of the first tickets", worked)
            if once:
                break
            stop.wait(services.settings.worker_poll)
    return processed
