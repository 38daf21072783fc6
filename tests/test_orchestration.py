"""Level 3 and 4 end to end: the plan across scheduling, billing and notifications, alternative routes when a
step fails, a policy refusal that stops the plan with a context packet, and the supervisor's review queue with
reversal by compensating action. Checked on backend state and audit events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cx_core import audit, desk, health, review
from cx_core.access import StaffUser
from cx_core.errors import InvalidInput, NotAuthorised
from cx_core.models import Decision, ProcessResult, Role, TicketIn
from cx_core.policy import Policy
from cx_core.services import Services
from cx_core.store.tables import NotificationRow, ReviewRow
from cx_core.wording import CONFIRM, day
from domains.lumen import planner
from domains.lumen.tables import AppointmentRow, ChargeRow, OrderRow, SlotRow
from tests.conftest import NOW
from tests.helpers import DEMO_ADMIN, find_callout_with_booking, find_order, order

SUPERVISOR = StaffUser("sam", "Sam", Role.supervisor)
ADVISOR = StaffUser("ada", "Ada", Role.advisor)
BODY = ("Hello,\n\nI can't be home for my installation, please move it to another day.\n\n"
        "Also I was charged a $49 call-out fee but the technician never came. Please remove it.\n\nThanks")


def with_policy(svc: Services, **changes: Any) -> Policy:
    raw = svc.policy().model_dump(mode="json")
    for key, value in changes.items():
        raw[key] = {**raw[key], **value} if isinstance(value, dict) and isinstance(raw.get(key), dict) else value
    policy = Policy.model_validate(raw)
    svc.policy = lambda: policy  # type: ignore[method-assign]
    svc.__dict__.pop("pipeline", None)
    return policy


def run(svc: Services, ticket_id: str, customer: str, body: str, level: int) -> ProcessResult:
    t = TicketIn(id=ticket_id, customer=customer, subject="Installation and a charge", body=body, created_at=NOW)
    desk.add_tickets(svc.db, [t], source="test")
    result = svc.pipeline.process(t, now=NOW, autonomy=level)
    desk.store_result(svc.db, svc.policy(), result)
    return result


def appointment(svc: Services, appointment_id: str) -> AppointmentRow:
    with svc.db.session() as s:
        row = s.get(AppointmentRow, appointment_id)
        assert row is not None
        s.expunge(row)
        return row


def credited(svc: Services, charge_id: str) -> float:
    with svc.db.session() as s:
        row = s.get(ChargeRow, charge_id)
        assert row is not None
        return row.credited


def test_level_4_runs_the_plan_across_systems(services: Services) -> None:
    c = find_callout_with_booking(services)
    result = run(services, "O-1", c["email"], BODY, 4)
    got = [(p.action, p.decision, p.route) for p in result.proposals]
    assert ("reschedule_appointment", Decision.executed, "planned") in got
    assert ("notify_field_team", Decision.executed, "planned") in got
    assert ("credit_charge", Decision.executed, "planned") in got
    assert ("send_reply", Decision.executed, "") in got
    assert not result.escalated
    assert appointment(services, c["appointment_id"]).slot_id != c["slot_id"]
    assert credited(services, c["charge_id"]) == pytest.approx(49.0)
    note = next(p for p in result.proposals if p.action == "notify_field_team").args["message"]
    assert day(appointment(services, c["appointment_id"]).start.isoformat(timespec="minutes")) in note
    kinds = [e.kind for e in audit.events(services.db, DEMO_ADMIN, ticket_id="O-1")]
    # moved, field team told of the move and asked (in the same note) to check the visit report, credited, replied
    assert kinds.count("action.executed") == 4 and "plan.started" in kinds and "plan.completed" in kinds
    notes = [p.args["message"] for p in result.proposals if p.action == "notify_field_team"]
    assert any("check the visit report" in n for n in notes)


def test_a_slot_taken_meanwhile_takes_the_next_free_slot(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    c = find_callout_with_booking(services)
    original = planner.plan
    taken: list[str] = []

    def plan_then_someone_books(*args: Any, **kw: Any) -> Any:
        plan = original(*args, **kw)
        step = next(st for st in plan.steps if st.action == "reschedule_appointment")
        with services.db.tx() as s:
            slot = s.get(SlotRow, step.args["slot_id"])
            assert slot is not None
            slot.free = False
        taken.append(step.args["slot_id"])
        return plan

    monkeypatch.setattr(planner, "plan", plan_then_someone_books)
    result = run(services, "O-2", c["email"], BODY, 4)
    moved = next(p for p in result.proposals if p.action == "reschedule_appointment")
    assert moved.decision == Decision.executed and moved.route == "alternative"
    assert appointment(services, c["appointment_id"]).slot_id not in {taken[0], c["slot_id"]}
    assert not result.escalated


def test_scheduling_down_takes_the_field_team_route(services: Services) -> None:
    c = find_callout_with_booking(services)
    with health.outage("scheduling"):
        result = run(services, "O-3", c["email"], BODY, 4)
    routes = {(p.action, p.route): p.decision for p in result.proposals}
    assert routes[("reschedule_appointment", "failed")] == Decision.needs_approval
    assert routes[("notify_field_team", "fallback")] == Decision.executed
    assert routes[("notify_field_team", "skipped")] == Decision.abstained
    assert appointment(services, c["appointment_id"]).slot_id == c["slot_id"]
    assert credited(services, c["charge_id"]) == pytest.approx(49.0)
    with services.db.session() as s:
        bodies = s.scalars(select(NotificationRow.body).where(NotificationRow.ticket_id == "O-3",
                                                             NotificationRow.channel == "field")).all()
    assert any("call the customer to rebook" in b for b in bodies)
    assert "action.failed" in [e.kind for e in audit.events(services.db, DEMO_ADMIN, ticket_id="O-3")]


def test_a_step_policy_refuses_stops_the_plan_and_escalates_with_a_context_packet(services: Services) -> None:
    with_policy(services, limits={"credit_charge": {"auto_max": 20, "advisor_max": 500}})
    c = find_callout_with_booking(services)
    body = ("I was charged a $49 call-out fee but the technician never came. Please remove it.\n\n"
            "Also please move my installation to another day.")
    result = run(services, "O-4", c["email"], body, 4)
    assert result.escalated and "plan stopped" in result.escalation_reason
    assert credited(services, c["charge_id"]) == 0
    packet = result.packet
    assert packet is not None
    assert packet["refused"]["action"] == "credit_charge" and "automatic limit" in packet["refused"]["reason"]
    assert packet["steps_done"] == []  # the charge came first; nothing after it ran
    assert {w["action"] for w in packet["waiting"]} >= {"reschedule_appointment"}
    assert packet["summary"] and "approve" in packet["suggested_next"].lower()
    assert appointment(services, c["appointment_id"]).slot_id == c["slot_id"]
    kinds = [e.kind for e in audit.events(services.db, DEMO_ADMIN, ticket_id="O-4")]
    assert "plan.stopped" in kinds and "ticket.escalated" in kinds
    esc = review.escalations(services.db, SUPERVISOR)
    assert esc[0]["id"] == "O-4" and esc[0]["packet"]["refused"]["action"] == "credit_charge"


def test_reprocessing_the_same_ticket_never_repeats_a_side_effect(services: Services) -> None:
    c = find_callout_with_booking(services)
    first = run(services, "O-5", c["email"], BODY, 4)
    t = TicketIn(id="O-5", customer=c["email"], subject="Installation and a charge", body=BODY, created_at=NOW)
    services.pipeline.process(t, now=NOW, autonomy=4)
    assert credited(services, c["charge_id"]) == pytest.approx(49.0)
    with services.db.session() as s:
        replies = s.scalars(select(NotificationRow).where(NotificationRow.ticket_id == "O-5",
                                                         NotificationRow.kind == "reply")).all()
    assert len(replies) == 1 and first.proposals


def test_sampled_autonomous_action_is_reversed_by_a_supervisor(services: Services) -> None:
    with_policy(services, review={"sample_rate": 1.0, "risk_above": 1.0})
    o = find_order(services, "pending")
    before = order(services, o["order_id"]).address1
    body = f"Please change the address of {o['order_id']} to 12 Oak Street, Austin, TX 73301."
    result = run(services, "V-1", o["email"], body, 3)
    assert [p.action for p in result.executed_writes()][:1] == ["change_shipping_address"]
    assert order(services, o["order_id"]).address1 == "12 Oak Street"
    items, total = review.queue(services.db, SUPERVISOR)
    item = next(i for i in items if i["action"] == "change_shipping_address")
    assert total >= 1 and item["reversible"] and "sample" in item["why"]
    with pytest.raises(NotAuthorised):
        review.reverse(services.db, ADVISOR, item["id"], "wrong")
    with pytest.raises(InvalidInput):
        review.reverse(services.db, SUPERVISOR, item["id"], "")
    out = review.reverse(services.db, SUPERVISOR, item["id"], "customer wrote from a shared mailbox")
    assert out["status"] == "reversed" and not out["duplicate"]
    row = order(services, o["order_id"])
    assert row.address1 == before and row.address_changes == 0
    assert review.reverse(services.db, SUPERVISOR, item["id"], "again")["duplicate"]
    kinds = [e.kind for e in audit.events(services.db, DEMO_ADMIN, ticket_id="V-1")]
    assert kinds.count("action.reversed") == 1 and "review.queued" in kinds
    assert audit.verify(services.db).ok


def test_every_action_the_agent_took_alone_is_findable_and_reversible_from_its_ticket(services: Services) -> None:
    with_policy(services, review={"sample_rate": 0.0, "risk_above": 1.0})  # nothing sampled, nothing risky
    o = find_order(services, "pending")
    before = order(services, o["order_id"]).address1
    run(services, "V-4", o["email"], f"Please change the address of {o['order_id']} to 9 Elm Road, Austin, TX "
                                     "73301.", 3)
    assert not [i for i in review.queue(services.db, SUPERVISOR)[0] if i["ticket_id"] == "V-4"]  # not to review
    everything, _ = review.queue(services.db, SUPERVISOR, "all")
    item = next(i for i in everything if i["ticket_id"] == "V-4" and i["action"] == "change_shipping_address")
    assert item["status"] == "unsampled" and item["reversible"]
    assert desk.reversible_on(services.db, ADVISOR, "V-4") == {}  # advisors see no reversal
    on_ticket = desk.reversible_on(services.db, SUPERVISOR, "V-4")
    assert [v["id"] for v in on_ticket.values()].count(item["id"]) == 1
    message = desk.reversal_text(services.db, SUPERVISOR, item["id"])
    assert "reversed" in message and o["order_id"] in message
    with pytest.raises(NotAuthorised):
        desk.reverse_and_tell(services.db, services.policy(), ADVISOR, item["id"], "wrong", message)
    out = desk.reverse_and_tell(services.db, services.policy(), SUPERVISOR, item["id"], "shared mailbox", message)
    assert out["status"] == "reversed" and out["told"], out
    assert order(services, o["order_id"]).address1 == before
    data = desk.get_ticket(services.db, "V-4")
    moved = next(p for p in data["proposals"] if p["action"] == "change_shipping_address")
    assert moved["status"] == "reversed" and moved["decided_by"] == "sam"
    assert data["ticket"]["status"] == "waiting" and data["messages"][-1]["direction"] == "out"
    assert "reversed" in data["messages"][-1]["body"]
    kinds = [e.kind for e in audit.events(services.db, DEMO_ADMIN, ticket_id="V-4")]
    assert kinds.count("action.reversed") == 1 and kinds.count("reversal.told") == 1
    again = desk.reverse_and_tell(services.db, services.policy(), SUPERVISOR, item["id"], "again", message)
    assert again["duplicate"] and not again["told"]  # the customer is not told twice
    assert audit.verify(services.db).ok


def test_risky_actions_are_always_reviewed_and_confirm_or_flag_closes_them(services: Services) -> None:
    with_policy(services, review={"sample_rate": 0.0, "risk_above": 0.5})
    c = find_callout_with_booking(services)
    run(services, "V-2", c["email"], BODY, 3)
    items, _ = review.queue(services.db, SUPERVISOR)
    actions = {i["action"]: i for i in items}
    assert "credit_charge" in actions and actions["credit_charge"]["risk"] > 0.5
    assert "reschedule_appointment" not in actions  # low risk, not sampled
    with pytest.raises(InvalidInput):
        review.flag(services.db, SUPERVISOR, actions["credit_charge"]["id"], "")
    review.flag(services.db, SUPERVISOR, actions["credit_charge"]["id"], "should have asked for the visit log")
    with pytest.raises(InvalidInput, match="already flagged"):
        review.confirm(services.db, SUPERVISOR, actions["credit_charge"]["id"])
    assert review.counts(services.db, DEMO_ADMIN).get("flagged") == 1


def test_reversing_a_moved_appointment_whose_old_slot_is_gone_changes_nothing(services: Services) -> None:
    with_policy(services, review={"sample_rate": 1.0})
    c = find_callout_with_booking(services)
    run(services, "V-3", c["email"], "Please move my installation to another day.", 3)
    moved_to = appointment(services, c["appointment_id"]).slot_id
    with services.db.tx() as s:
        old = s.get(SlotRow, c["slot_id"])
        assert old is not None
        old.free = False
    items, _ = review.queue(services.db, SUPERVISOR)
    item = next(i for i in items if i["action"] == "reschedule_appointment")
    with pytest.raises(InvalidInput, match="taken since"):
        review.reverse(services.db, SUPERVISOR, item["id"], "customer called back")
    assert appointment(services, c["appointment_id"]).slot_id == moved_to
    with services.db.session() as s:
        assert s.get(ReviewRow, item["id"]).status == "open"  # type: ignore[union-attr]
        assert s.get(OrderRow, "#W0000000") is None


def booked_with_its_call_out_billed(services: Services, only: bool) -> list[tuple[str, str]]:
    """Customers with a visit still booked whose call-out charge was billed (``only``: their one call-out charge):
    each one's email and that charge."""
    from domains.lumen.tables import CustomerRow, InvoiceRow

    found = []
    with services.db.session() as s:
        for inv in s.scalars(select(InvoiceRow).where(InvoiceRow.appointment_id.is_not(None))):
            a = s.get(AppointmentRow, inv.appointment_id)
            charges = [] if a is None or a.status != "booked" else list(s.scalars(
                select(ChargeRow).where(ChargeRow.user_id == a.user_id, ChargeRow.kind == "callout")))
            billed = [c for c in charges if abs(c.amount - inv.amount) < 0.01]
            visits = [] if a is None else list(s.scalars(select(AppointmentRow.appointment_id).where(
                AppointmentRow.user_id == a.user_id, AppointmentRow.status == "booked")))
            if a is not None and billed and (len(charges) == 1 or not only) and len(visits) == 1:  # "my installation"
                found.append((s.get(CustomerRow, a.user_id).email, billed[0].charge_id))  # type: ignore[union-attr]
    return found


def test_a_rebooked_visit_has_its_call_out_charge_waived_with_the_reason_said(services: Services) -> None:
    email, charge = booked_with_its_call_out_billed(services, only=True)[0]
    result = run(services, "O-W", email, "I can't be home for my installation, could you move it to another day?", 2)
    credit = next(p for p in result.proposals if p.action == "credit_charge")
    assert credit.args["charge_id"] == charge and "disputes" not in credit.args["reason"]
    assert "as you are rebooking the visit it was charged for" in result.draft.reply
    moved = next(x for x in result.draft.reply.split("\n\n") if "rebooking the visit" in x)
    # the promise to confirm comes once, after both things arranged, never between them
    assert moved.count(CONFIRM) == 1 and moved.endswith(CONFIRM), moved


def test_why_a_call_out_charge_is_billed_is_answered_when_its_visit_is_rebooked_too(services: Services) -> None:
    email, _ = booked_with_its_call_out_billed(services, only=False)[0]
    result = run(services, "O-WHY", email, "I can't be home for my installation, could you move it to another day? "
                 "Why is there a call-out charge of $49 on my account? I was home all day and nobody came.", 2)
    assert any(p.action == "credit_charge" for p in result.proposals)
    assert "A call-out charge is billed when a technician arrives and nobody is home" in result.draft.reply, \
        result.draft.reply


def test_level_4_takes_the_customers_second_choice_when_the_rules_refuse_the_first(services: Services) -> None:
    """"Send back the lamp; if you won't take it back, cancel my pending order instead": at level 4 the return is
    refused (delivered two months ago) and the plan goes on to the cancellation, which a person confirms (it cannot
    be undone), instead of stopping at the refusal."""
    old = find_order(services, "delivered")
    other = find_order(services, "pending", other_than=old["user_id"], max_total=100)
    with services.db.tx() as s:
        row, mine = s.get(OrderRow, old["order_id"]), s.get(OrderRow, other["order_id"])
        assert row is not None and mine is not None
        row.delivered_on = NOW.date() - timedelta(days=60)
        mine.user_id = old["user_id"]
    body = (f"Could I send back the {old['item']} from order {old['order_id']}? If for whatever reason you won't take "
            f"it back, then cancel my pending order {other['order_id']} instead.")
    result = run(services, "O-9", old["email"], body, 4)
    got = {p.action: (p.decision, p.route) for p in result.proposals}
    assert got["return_items"] == (Decision.denied, "refused")
    cancel = next(p for p in result.proposals if p.action == "cancel_order")
    assert cancel.decision == Decision.needs_approval and "cannot be undone" in cancel.reason
    assert "second choice" in cancel.rationale and cancel.args["order_id"] == other["order_id"]
    assert order(services, other["order_id"]).status == "pending"
    kinds = [e.kind for e in audit.events(services.db, DEMO_ADMIN, ticket_id="O-9")]
    assert "plan.second_choice" in kinds
