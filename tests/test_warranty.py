"""A fault after the 30-day return window is no dead end: the planner proposes a warranty repair, the reply says
what the warranty covers and what happens next, and a repair can be undone; past two years, the refusal says why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cx_core import desk
from cx_core.access import StaffUser
from cx_core.models import Decision, Role, TicketIn
from cx_core.services import Services
from domains.lumen.tables import OrderItemRow, OrderRow
from tests.conftest import NOW
from tests.helpers import find_order

ADVISOR = StaffUser("ada", "Ada", Role.advisor)


def delivered_days_ago(svc: Services, order_id: str, days: int) -> None:
    with svc.db.tx() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        row.delivered_on = NOW.date() - timedelta(days=days)


def item_statuses(svc: Services, order_id: str) -> list[str]:
    with svc.db.session() as s:
        return [r.status for r in s.query(OrderItemRow).filter(OrderItemRow.order_id == order_id)]


def ticket(svc: Services, tid: str, body: str, email: str) -> TicketIn:
    t = TicketIn(id=tid, customer=email, channel="email", subject="It broke", body=body, created_at=NOW)
    desk.add_tickets(svc.db, [t], source="test")
    return t


def test_a_fault_after_the_return_window_gets_a_warranty_repair_not_a_refusal(services: Services) -> None:
    o = find_order(services, "delivered", single_item=True)
    delivered_days_ago(services, o["order_id"], 75)
    t = ticket(services, "WR-1", f"Hello, the {o['item']} from order {o['order_id']} stopped working and came "
                                 "broken. What can you do?", o["email"])
    result = services.pipeline.process(t, now=NOW, autonomy=2)
    desk.store_result(services.db, services.policy(), result)
    repair = [p for p in result.proposals if p.action == "book_repair"]
    assert repair and repair[0].decision == Decision.needs_approval, [(p.action, p.reason) for p in result.proposals]
    assert not [p for p in result.proposals if p.action == "return_items"]
    assert "warranty" in result.draft.reply and "Unfortunately" not in result.draft.reply
    pid = next(p["id"] for p in desk.get_ticket(services.db, "WR-1")["proposals"] if p["action"] == "book_repair")
    out = desk.approve(services.db, services.policy(), ADVISOR, pid)
    assert out["status"] == "executed", out
    assert out["result"]["repair_id"].startswith("RP-") and item_statuses(services, o["order_id"]) == ["repair booked"]


def test_a_repair_is_undone_by_its_compensation_and_refused_after_two_years(services: Services) -> None:
    from cx_core.actions import REGISTRY, ExecContext
    from cx_core.errors import PolicyDenied
    from domains.lumen.backend import orders

    o = find_order(services, "delivered", single_item=True)
    delivered_days_ago(services, o["order_id"], 200)
    spec = REGISTRY["book_repair"]
    args = spec.args_model.model_validate({"order_id": o["order_id"], "item_ids": [o["item_id"]],
                                           "fault": "the screen flickers"})
    ctx = ExecContext(actor="ada", role=Role.advisor, ticket_id="WR-2", customer_id=o["user_id"], today=NOW.date(),
                      now=NOW)
    with services.db.tx() as s:
        done = spec.run(s, args, ctx)
    assert item_statuses(services, o["order_id"]) == ["repair booked"]
    assert spec.compensate is not None
    with services.db.tx() as s:
        spec.compensate(s, args, done, ctx)
    assert item_statuses(services, o["order_id"]) == ["ordered"]
    delivered_days_ago(services, o["order_id"], 800)
    with pytest.raises(PolicyDenied, match="warranty has ended"), services.db.tx() as s:
        orders.book_repair(s, o["order_id"], [o["item_id"]], "broken", NOW.date())
