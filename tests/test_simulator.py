"""The demo world is the same for the same seed; the simulator covers every task type with real records."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import func, select

from cx_core.services import Services
from cx_core.store.db import Database
from domains.lumen.demo.simulator import WEIGHTS, Simulator, labelled
from domains.lumen.demo.world import build_world
from domains.lumen.tables import AppointmentRow, CustomerRow, InvoiceRow, OrderRow, SlotRow
from tests.conftest import NOW


def test_world_size_and_determinism(services: Services, tmp_path: object) -> None:
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CustomerRow)) == 200
        assert s.scalar(select(func.count()).select_from(OrderRow)) == 600
        assert s.scalar(select(func.count()).select_from(InvoiceRow)) > 500
        assert s.scalar(select(func.count()).select_from(AppointmentRow)) > 50
        assert s.scalar(select(func.count()).where(SlotRow.free.is_(True))) > 500
        first = [o.order_id for o in s.scalars(select(OrderRow).order_by(OrderRow.order_id).limit(20))]
    other = Database(f"sqlite:///{tmp_path}/again.db")
    build_world(other, services.settings.seed, NOW.date())
    with other.session() as s:
        assert [o.order_id for o in s.scalars(select(OrderRow).order_by(OrderRow.order_id).limit(20))] == first
    other.dispose()


def test_simulated_tickets_reference_real_records(services: Services) -> None:
    sim = Simulator(services.db, seed=3)
    batch = sim.tickets(300, NOW)
    assert len({t.id for t in batch}) == 300
    with services.db.session() as s:
        orders = {o for o in s.scalars(select(OrderRow.order_id))}
    mentioned = [m for t in batch for m in re.findall(r"#W\d{7}", t.body)]
    assert mentioned and all(m in orders for m in mentioned)
    channels = Counter(t.channel for t in batch)
    assert set(channels) == {"email", "chat", "phone", "social"}
    assert any(len(t.body) > 200 for t in batch) and any(len(t.body) < 80 for t in batch)
    assert any(t.customer is None for t in batch)
    kinds = Counter(task for _, task in labelled(sim, 400, NOW))
    assert len(kinds) >= 15 and set(kinds) <= set(WEIGHTS)


def test_the_first_batch_is_read_by_the_worker_and_then_the_colleagues_morning_is_done_once(
        services: Services) -> None:
    """``setup`` leaves the demo's first tickets to the worker (the page answers at once); the worker that empties
    the queue does the demo colleague's morning, once, however many workers run."""
    from cx_core import demo_history, desk, worker
    from cx_core.store.db import utcnow
    from cx_core.store.tables import TicketRow

    def colleagues() -> int:
        with services.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(TicketRow).where(TicketRow.assigned_to == "bo")) or 0)

    added, _ = desk.add_tickets(services.db, Simulator(services.db, seed=3).tickets(2, utcnow(), spread_minutes=10),
                                source="simulator", join_repeats=True)
    demo_history.mark_pending(services)
    before = colleagues()
    assert worker.run(services, simulate=False, once=True, deliver=False, channels=False) == added
    assert not (services.settings.data_dir / demo_history.PENDING).exists()
    assert colleagues() > before
    assert demo_history.finish_if_due(services) is None  # done once
