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
