"""The background worker: claims new tickets and processes them; optionally feeds the live simulator."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from . import tickets
from .demo.simulator import Simulator
from .errors import TandemError
from .services import Services
from .store.db import utcnow
from .store.tables import HeartbeatRow

log = logging.getLogger("tandem.worker")


def heartbeat(services: Services, name: str, info: dict[str, int]) -> None:
    with services.db.tx() as s:
        row = s.get(HeartbeatRow, name)
        if row is None:
            s.add(HeartbeatRow(name=name, at=utcnow(), info=info))
        else:
            row.at, row.info = utcnow(), info


def process_one(services: Services, name: str) -> bool:
    """Processes the next new ticket, if any. A failure marks that ticket and never stops the worker."""
    row = tickets.claim_next(services.db, name)
    if row is None:
        return False
    try:
        result = services.pipeline.process(tickets.as_ticket_in(row))
        tickets.store_result(services.db, services.policy(), result)
    except TandemError as exc:
        tickets.mark_failed(services.db, row.id, str(exc))
    except Exception as exc:  # noqa: BLE001 - one bad ticket must not stop the queue; it is recorded
        log.exception("ticket %s failed", row.id)
        tickets.mark_failed(services.db, row.id, f"processing failed: {type(exc).__name__}: {exc}")
    return True


def run(services: Services, simulate: bool = True, once: bool = False,
        stop: threading.Event | None = None) -> int:
    """Runs until ``stop`` is set (or, with ``once``, until the queue is empty). Returns tickets processed."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    stop = stop or threading.Event()
    sim = Simulator(services.db, seed=int(time.time())) if simulate else None
    next_ticket = time.monotonic()
    processed = 0
    last_beat = 0.0
    while not stop.is_set():
        if time.monotonic() - last_beat > 5:
            heartbeat(services, name, {"processed": processed})
            last_beat = time.monotonic()
        if sim is not None and time.monotonic() >= next_ticket:
            tickets.add_tickets(services.db, [sim.ticket(utcnow())], source="simulator")
            next_ticket = time.monotonic() + services.settings.simulator_interval
        if process_one(services, name):
            processed += 1
            continue
        if once:
            break
        stop.wait(services.settings.worker_poll)
    return processed
