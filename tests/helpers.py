"""Finding demo records that fit a test, by what they are rather than by id."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cx_core.access import StaffUser
from cx_core.config import PROJECT_ROOT
from cx_core.models import Role
from cx_core.services import Services
from domains.lumen.backend import billing
from domains.lumen.tables import AppointmentRow, ChargeRow, CustomerRow, OrderItemRow, OrderRow, PaymentRow

# one client for the tests' plain calls to servers on 127.0.0.1: ``httpx.get``/``httpx.post`` build a TLS context each
# time (tens of milliseconds), which a suite of thousands of requests pays in minutes
HTTP = httpx.Client(timeout=30, verify=False)

DEMO_ADMIN = StaffUser("root", "Robin Admin", Role.admin)  # the demo world's admin, for what only admins see


def plain(markdown: str) -> str:
    """What a person reads of a text a page wrote as escaped Markdown (``safe_text``): escapes and invisible word
    joiners taken out (the AppTest hands the Markdown over as written)."""
    import re

    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def find_order(svc: Services, status: str, max_total: float | None = None, min_total: float | None = None,
               single_item: bool = False, duplicate: bool = False, other_than: str | tuple[str, ...] | None = ()
               ) -> dict[str, Any]:
    """The first order in ``status`` that fits, of a customer not in ``other_than``."""
    others = (other_than,) if isinstance(other_than, str) else tuple(other_than or ())
    with svc.db.session() as s:
        for o in s.scalars(select(OrderRow).where(OrderRow.status == status).order_by(OrderRow.order_id)):
            if o.user_id in others:
                continue
            total = billing.refundable(s, o.order_id)
            items = list(s.scalars(select(OrderItemRow).where(OrderItemRow.order_id == o.order_id)))
            if max_total is not None and total > max_total:
                continue
            if min_total is not None and total < min_total:
                continue
            if single_item and len(items) != 1:
                continue
            if duplicate and billing.duplicate_payment(s, o.order_id) is None:
                continue
            c = s.get(CustomerRow, o.user_id)
            assert c is not None
            return {"order_id": o.order_id, "user_id": o.user_id, "email": c.email, "first_name": c.first_name,
                    "total": total, "item": items[0].name.lower(), "item_id": items[0].item_id}
    raise LookupError(f"no {status} order fits")


def find_callout_with_booking(svc: Services) -> dict[str, Any]:
    with svc.db.session() as s:
        for ch in s.scalars(select(ChargeRow).where(ChargeRow.kind == "callout").order_by(ChargeRow.charge_id)):
            booked = list(s.scalars(select(AppointmentRow).where(AppointmentRow.user_id == ch.user_id,
                                                                 AppointmentRow.status == "booked")))
            if len(booked) == 1:
                c = s.get(CustomerRow, ch.user_id)
                assert c is not None
                others = [x for x in s.scalars(select(ChargeRow).where(ChargeRow.user_id == ch.user_id,
                                                                       ChargeRow.kind == "callout"))]
                if len(others) != 1:
                    continue
                return {"charge_id": ch.charge_id, "user_id": ch.user_id, "email": c.email,
                        "appointment_id": booked[0].appointment_id, "slot_id": booked[0].slot_id}
    raise LookupError("no call-out charge with a single booked appointment")


def refunds(svc: Services, order_id: str) -> list[float]:
    with svc.db.session() as s:
        return [p.amount for p in s.scalars(select(PaymentRow).where(PaymentRow.order_id == order_id,
                                                                     PaymentRow.transaction_type == "refund"))]


def order(svc: Services, order_id: str) -> OrderRow:
    with svc.db.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        s.expunge(row)
        return row


PG_ADMIN_URL = os.environ.get("TANDEM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_pg_database(prefix: str = "tandem") -> Iterator[str]:
    """The URL of a new, empty database on the test PostgreSQL server, dropped afterwards (connections and all);
    skips the test when no server answers."""
    psycopg = pytest.importorskip("psycopg")
    raw = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        admin = psycopg.connect(raw, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_app(env: dict[str, str]) -> Iterator[str]:
    """A real ``python app.py`` (``streamlit run app.py``, as the run command starts it) on a free port with ``env``
    added; yields its URL once it is healthy."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=PROJECT_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# true once the page has shown a connected app, with no script run going and every image loaded or failed, for
# ``quiet`` milliseconds on end (counted from the call: a click's rerun has that long to begin)
_SETTLED = """(quiet) => {
    const app = document.querySelector("[data-testid='stApp']");
    const now = performance.now();
    const idle = !!app && app.getAttribute("data-test-connection-state") === "CONNECTED"
        && app.getAttribute("data-test-script-state") === "notRunning"
        && Array.from(document.images).every((img) => img.complete);
    if (!idle || window.__tandemIdleSince === undefined) {
        window.__tandemIdleSince = now;
        return false;
    }
    return now - window.__tandemIdleSince >= quiet;
}"""


def settle(page: Any, quiet_ms: int = 500, timeout_ms: int = 60_000) -> None:
    """Waits until the Streamlit page in ``page`` has finished its run and drawn it: connected, no script running
    and its images loaded, for ``quiet_ms`` on end. Late elements and images have had their chance to appear."""
    page.evaluate("() => { window.__tandemIdleSince = performance.now(); }")
    page.wait_for_function(_SETTLED, arg=quiet_ms, polling=50, timeout=timeout_ms)


# counts the page's script runs from now on (each change of the app's run state away from "not running")
_WATCH_RUNS = """() => {
    window.__tandemRuns = 0;
    const app = document.querySelector("[data-testid='stApp']");
    if (!app) return;
    new MutationObserver(() => {
        if (app.getAttribute("data-test-script-state") !== "notRunning") window.__tandemRuns += 1;
    }).observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
}"""


@contextmanager
def rerun_of(page: Any, wait_ms: int = 3_000) -> Iterator[None]:
    """Around what a person does that the app answers with a rerun (a click, a field left): afterwards waits for
    that rerun to begin (at most ``wait_ms``) and for the page to settle, so the server has what they did."""
    from playwright.sync_api import TimeoutError as NoRerun

    page.evaluate(_WATCH_RUNS)
    yield
    try:
        page.wait_for_function("() => window.__tandemRuns === undefined || window.__tandemRuns > 0", polling=20,
                               timeout=wait_ms)
    except NoRerun:  # none came: the page is settled all the same
        pass
    settle(page)


def outside_env() -> dict[str, str]:
    """This process's environment without Tandem's settings (a subprocess configured from scratch), keeping the
    test run's shared embedding cache."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_") or k == "TANDEM_EMBEDDING_CACHE"}


RUN_WIDE = ("TANDEM_EMBEDDING_CACHE", "OMP_NUM_THREADS")


def cache_env() -> dict[str, str]:
    """The test run's shared embedding cache and its math threads, for a subprocess given a minimal environment: a
    command that took two math threads while both test processes keep the two cores busy waits on a thread that is
    not running (measured: ``eval intents`` 30 s with one thread, four and a half minutes with two)."""
    return {k: v for k, v in os.environ.items() if k in RUN_WIDE}


def installable_slots(snap: dict[str, Any], appointment_id: str) -> list[dict[str, Any]]:
    """An appointment's free slots on which its goods are there to install: after the order's expected delivery."""
    appt = next(a for a in snap["appointments"] if a["appointment_id"] == appointment_id)
    due = next((str(o.get("expected_delivery") or "") for o in snap["orders"] if o["order_id"] == appt["order_id"]
                and o.get("status") in ("pending", "processed")), "")
    return [x for x in appt["free_slots"] if x["start"][:10] > due]
