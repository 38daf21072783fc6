"""A reply never tells a customer something that did not happen: each action sentence follows its proposal's state
(done once executed, not claimed while it waits, gone once rejected or refused), sending is checked in the core,
and an advisor's edits survive a decision."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from cx_core import desk
from cx_core.access import StaffUser
from cx_core.actions.base import speaks_of
from cx_core.drafting import ProposalState, merge_edits, outcome_sentence, recompose, render
from cx_core.errors import InvalidInput, ReplyHeld
from cx_core.llm import Polished
from cx_core.models import Channel, Draft, ReplyPart, Role, TicketIn
from cx_core.secret_mask import mask
from cx_core.services import Services
from cx_core.wording import WORDING, claimed_actions, claims
from domains.lumen.demo.simulator import TEMPLATES, Simulator
from tests.conftest import NOW
from tests.helpers import DEMO_ADMIN, find_callout_with_booking, find_order

ADA = StaffUser("ada", "Ada Advisor", Role.advisor)
# an outside reader's test of a claim: a first-person or passive past/perfect form of an action verb
PAST_CLAIM = re.compile(
    r"\b(?:I've|I have|I|we've|we have|we|has been|have been|had been|was|were|is now|are now)\s+(?:\w+\s+){0,2}?"
    r"(?:moved|changed|cancell?ed|opened|arranged|refunded|re-?sent|sent|credited|updated|recorded|rescheduled|"
    r"processed|issued|booked|reimbursed|exchanged|replaced|returned)\b", re.I)
SAMPLE_ARGS: dict[str, dict[str, Any]] = {
    "reschedule_delivery": {"order_id": "#W1000001", "new_date": "2026-11-28"},
    "change_shipping_address": {"order_id": "#W1000001", "address1": "1 Main St", "city": "Austin", "state": "TX",
                                "zip": "73301"},
    "cancel_order": {"order_id": "#W1000001", "reason": "no longer needed"},
    "return_items": {"order_id": "#W1000001", "item_ids": ["1"]},
    "exchange_item": {"order_id": "#W1000001", "item_ids": ["1"], "new_item_ids": ["2"]},
    "book_repair": {"order_id": "#W1000001", "item_ids": ["1"], "fault": "the screen flickers"},
    "modify_order_items": {"order_id": "#W1000001", "item_ids": ["1"], "new_item_ids": ["2"]},
    "refund": {"order_id": "#W1000001", "amount": 24.0, "reason": "charged twice"},
    "resend_invoice": {"invoice_id": "INV-0001"},
    "credit_charge": {"charge_id": "CHG-0001", "amount": 49.0, "reason": "technician late"},
    "update_contact_details": {"user_id": "u1", "phone": "415-555-0142"},
    "update_default_address": {"user_id": "u1", "address1": "1 Main St", "city": "Austin", "state": "TX",
                               "zip": "73301"},
    "reschedule_appointment": {"appointment_id": "APT-0001", "slot_id": "S-1"},
    "add_internal_note": {"user_id": "u1", "body": "complaint"},
}


AIRLINE_ARGS: dict[str, dict[str, Any]] = {
    "cancel_reservation": {"reservation_id": "ZFA04Y"},
    "update_reservation_flights": {"reservation_id": "ZFA04Y", "cabin": "business", "payment_id": "credit_card_1",
                                   "flights": [{"flight_number": "HAT001", "date": "2026-12-01"}]},
    "update_reservation_baggages": {"reservation_id": "ZFA04Y", "total_baggages": 2, "nonfree_baggages": 0,
                                    "payment_id": "credit_card_1"},
    "update_reservation_passengers": {"reservation_id": "ZFA04Y", "passengers": []},
    "book_reservation": {"origin": "JFK", "destination": "SEA"},
    "send_certificate": {"reservation_id": "ZFA04Y", "amount": 100},
}


def _worded_honestly(action: str, args: dict[str, Any]) -> None:
    planned = {"start": "2026-11-28T08:00"}
    done = outcome_sentence(action, args, {}, planned, "complaint", "needs_approval", "executed")
    assert done and claims(done, action), f"{action}: its done sentence must read as done: {done}"
    waiting = outcome_sentence(action, args, None, planned, "complaint", "needs_approval", "pending")
    escalated = outcome_sentence(action, args, None, planned, "complaint", "escalated", "escalated")
    refused = outcome_sentence(action, args, None, planned, "complaint", "denied", "denied",
                               "order #W1000001 is delivered; only pending orders can be changed")
    for state, text in (("waiting", waiting), ("escalated", escalated), ("refused", refused)):
        assert text, f"{action} says nothing while {state}"
        assert not claimed_actions(text), f"{action} {state} claims: {text}"
        assert not claims(text, action), f"{action} {state} claims itself: {text}"
        assert not PAST_CLAIM.search(text), f"{action} {state} reads as done: {text}"
    for status in ("rejected", "denied", "failed"):
        assert outcome_sentence(action, args, None, planned, "complaint", "needs_approval", status) == ""
        note = "We'll look at other options with you tomorrow."
        assert outcome_sentence(action, args, None, planned, "complaint", "needs_approval", status, "", note) == note


def test_every_action_is_worded_for_every_state_and_only_done_claims_it() -> None:
    from domains.airline.wording import AIRLINE_WORDING

    # the wording of the actions in force (another pack's, put in force by an earlier test, has left with it)
    assert set(SAMPLE_ARGS) == {a for a in WORDING if speaks_of(a)} - set(AIRLINE_WORDING)
    for action, args in SAMPLE_ARGS.items():
        _worded_honestly(action, args)


def test_the_airlines_writes_are_worded_honestly_too() -> None:
    from domains.airline.wording import AIRLINE_WORDING

    writes = {a for a, w in AIRLINE_WORDING.items() if w.claimed.pattern != "(?!)"}
    assert set(AIRLINE_ARGS) == writes
    for action, args in AIRLINE_ARGS.items():
        _worded_honestly(action, args)


def _ticket_for(sim: Simulator, task: str, n: int) -> TicketIn | None:
    rng = random.Random(n)
    for _ in range(20):
        got = sim._fill(task, None, NOW)
        if got is None or got[0] is None:
            continue
        uid, values = got
        customer = sim.pools.customers[uid]
        body = f"Hello,\n\n{rng.choice(TEMPLATES[task]).format(**values)}\n\nThanks,\n{customer.first_name}"
        return TicketIn(id=f"H-{n}-{task}", customer=customer.email, channel=Channel.email, subject="", body=body,
                        created_at=NOW)
    return None


@pytest.fixture
def fresh_tickets(services: Services) -> list[TicketIn]:
    sim = Simulator(services.db, seed=11)
    tasks = ["delivery_reschedule", "address_change", "order_cancel", "return_refund", "exchange", "damaged_item",
             "duplicate_charge", "resend_invoice", "contact_update", "installation_reschedule", "charge_dispute",
             "complaint"]
    out = [t for n, task in enumerate(tasks) if (t := _ticket_for(sim, task, n)) is not None]
    assert len(out) == len(tasks)
    return out


@pytest.mark.parametrize("level", [2, 3])
def test_no_reply_claims_an_action_that_did_not_run(services: Services, fresh_tickets: list[TicketIn],
                                                    level: int) -> None:
    writes = 0
    for t in fresh_tickets:
        desk.add_tickets(services.db, [t], source="test")
        r = services.pipeline.process(t, now=NOW, autonomy=level)
        ran = {p.action for p in r.proposals if p.decision.value == "executed"}
        not_run = {p.action for p in r.proposals if p.decision.value != "executed"} - ran
        writes += sum(1 for p in r.proposals if p.action in WORDING)
        said = claimed_actions(r.draft.reply)
        assert not set(said) & not_run, f"{t.id} at level {level}: {said}\n{r.draft.reply}"
        if level == 2:
            assert not ran - {"lookup_order"}, f"{t.id}: nothing runs alone at copilot level"
            assert not PAST_CLAIM.search(r.draft.reply), f"{t.id}: {r.draft.reply}"
    assert writes >= 10  # the tickets asked for real actions


def _processed(services: Services, ticket_id: str, body: str, customer: str) -> dict[str, Any]:
    t = TicketIn(id=ticket_id, customer=customer, subject="", body=body, created_at=NOW)
    desk.add_tickets(services.db, [t], source="test")
    result = services.pipeline.process(t, now=NOW, autonomy=2)
    desk.store_result(services.db, services.policy(), result)
    return desk.get_ticket(services.db, ticket_id)


def test_sending_checks_what_the_reply_says_against_what_ran(services: Services) -> None:
    o = find_order(services, "delivered", duplicate=True)
    data = _processed(services, "H-refund", f"My card was charged twice for order {o['order_id']}. Please refund one.",
                      o["email"])
    refund = next(p for p in data["proposals"] if p["action"] == "refund")
    assert refund["status"] == "pending"
    parts, draft = desk.reply_draft(data)
    assert "I'm arranging a refund" in draft and not claims(draft, "refund")
    # the draft speaks of the undecided refund: held, but the advisor may send anyway with a reason
    with pytest.raises(ReplyHeld) as held:
        desk.send_reply(services.db, services.policy(), ADA, "H-refund", draft)
    assert held.value.overridable and "Approve or reject the refund first" in str(held.value)
    # a sentence that says the refund was done is never sent, not even with a reason
    lie = draft.replace(next(p.text for p in parts if p.kind == "action"),
                        f"I've refunded $10.00 on order {o['order_id']}.")
    for why in ("", "customer insisted"):
        with pytest.raises(ReplyHeld) as held:
            desk.send_reply(services.db, services.policy(), ADA, "H-refund", lie, override=why)
        assert not held.value.overridable and "has not been done" in str(held.value)
    # approved: the sentence now says it was done, the advisor's own edit survives, and it sends
    edited = draft.replace("Hi ", "Dear ", 1) + "\n\nP.S. Thank you for spotting it."
    desk.approve(services.db, services.policy(), ADA, refund["id"])
    data = desk.get_ticket(services.db, "H-refund")
    after, _ = desk.reply_draft(data)
    merged = merge_edits(edited, parts, after)
    assert merged.startswith("Dear ") and "P.S. Thank you for spotting it." in merged
    assert "I've refunded" in merged and "I'm arranging" not in merged
    out = desk.send_reply(services.db, services.policy(), ADA, "H-refund", merged)
    assert out["status"] == "executed"
    assert desk.get_ticket(services.db, "H-refund")["ticket"]["status"] == "resolved"


def test_the_drafts_own_sentences_are_data_at_send_and_only_what_a_person_typed_is_read(services: Services) -> None:
    """A sentence of the agent's draft carries what it claims as data (worded from the proposals' states), so the
    check at Send never reads it back as English; the same words typed by a person are read, and refused."""
    o = find_order(services, "delivered", duplicate=True)
    data = _processed(services, "H-typed", f"My card was charged twice for order {o['order_id']}. Please refund one.",
                      o["email"])
    desk.reject(services.db, ADA, next(p for p in data["proposals"] if p["action"] == "refund")["id"], "not now")
    data = desk.get_ticket(services.db, "H-typed")
    earlier = f"A refund of $5.00 was refunded on order {o['order_id']} last month."  # a fact of the records
    parts = data["result"].draft.parts
    sign_off = parts[-1]
    data["result"].draft.parts = [*parts[:-1], ReplyPart(text=earlier, paragraph=sign_off.paragraph - 1),
                                  sign_off]
    _, text = desk.reply_draft(data)
    assert earlier in text and claims(earlier, "refund")  # read as English, it would claim a refund done
    assert not [m for m, _ in desk.reply_problems(data, text, resolve=False) if "has not been done" in m]
    typed = text.replace(earlier, f"I've refunded $5.00 on order {o['order_id']}.")
    assert [m for m, _ in desk.reply_problems(data, typed, resolve=False) if "has not been done" in m]


def test_a_rejected_action_leaves_the_reply_and_the_advisors_words_take_its_place(services: Services) -> None:
    o = find_order(services, "delivered", duplicate=True)
    data = _processed(services, "H-reject", f"I was charged twice for order {o['order_id']}, please refund it.",
                      o["email"])
    refund = next(p for p in data["proposals"] if p["action"] == "refund")
    desk.reject(services.db, ADA, refund["id"], "Customer must confirm first",
                   say_instead="Could you confirm which of the two payments you would like back?")
    _, text = desk.reply_draft(desk.get_ticket(services.db, "H-reject"))
    assert "Could you confirm which of the two payments" in text
    assert "refund" not in " ".join(claimed_actions(text)) and "I'm arranging a refund" not in text
    assert desk.send_reply(services.db, services.policy(), ADA, "H-reject", text)["status"] == "executed"


def test_resolving_with_undecided_proposals_is_asked_and_an_override_is_audited(services: Services) -> None:
    o = find_order(services, "delivered", duplicate=True)
    _processed(services, "H-open", f"Order {o['order_id']} was charged twice. Refund please.", o["email"])
    plain = "Hi,\n\nThank you, we are looking into it.\n\nKind regards"
    with pytest.raises(ReplyHeld) as held:
        desk.send_reply(services.db, services.policy(), ADA, "H-open", plain)
    assert held.value.overridable and "wait" in str(held.value) and "approve or reject" in str(held.value)
    # sent without resolving: nothing claimed, nothing undecided is resolved
    assert desk.send_reply(services.db, services.policy(), ADA, "H-open", plain, resolve=False)["status"] == "executed"
    assert desk.get_ticket(services.db, "H-open")["ticket"]["status"] != "resolved"
    out = desk.send_reply(services.db, services.policy(), ADA, "H-open", plain, override="customer closed it by phone")
    assert out["status"] == "executed"
    from cx_core import audit

    kinds = [(e.kind, e.data) for e in audit.events(services.db, DEMO_ADMIN, "H-open")]
    # the reason as the audit keeps it: masked wherever it holds a secret another service registered
    assert any(k == "reply.override" and d["reason"] == mask("customer closed it by phone") for k, d in kinds), kinds


def test_recompose_keeps_quotes_only_beside_a_sentence_that_stays() -> None:
    from cx_core.models import ReplyPart

    parts = [ReplyPart(text="Hi Ann,", paragraph=0),
             ReplyPart(text="", paragraph=1, kind="action", proposal=0, intent="duplicate_charge"),
             ReplyPart(text="Refunds reach your card within 5 days. [1]", paragraph=1, kind="support", proposal=0),
             ReplyPart(text="Kind regards,\nLumen Home Customer Care", paragraph=2)]
    args = SAMPLE_ARGS["refund"]
    waiting = recompose(parts, {0: ProposalState("refund", args, "needs_approval", "pending")})
    assert "I'm arranging a refund" in render(waiting) and "[1]" in render(waiting)
    gone = recompose(parts, {0: ProposalState("refund", args, "needs_approval", "rejected")})
    assert render(gone) == "Hi Ann,\n\nKind regards,\nLumen Home Customer Care"
    done = recompose(parts, {0: ProposalState("refund", args, "needs_approval", "executed", {})})
    assert "I've refunded $24.00" in render(done)
    assert merge_edits(render(waiting).replace("Hi Ann", "Hello Ann"), waiting, gone) == (
        "Hello Ann,\n\nKind regards,\nLumen Home Customer Care")


def test_a_rewrite_that_claims_an_action_that_did_not_run_is_not_used(services: Services) -> None:
    o = find_order(services, "delivered", duplicate=True)

    class Boastful:
        name = "openai"

        def polish(self, draft: Draft, passages: Any, language: str, names: Any = None) -> Polished:
            return Polished(Draft(summary=draft.summary, reply=f"Hi,\n\nI've refunded you in full on order "
                                  f"{o['order_id']}.\n\nBye", citations=draft.citations), "openai")

    services.pipeline.engine = Boastful()
    t = TicketIn(id="H-llm", customer=o["email"], body=f"Charged twice for {o['order_id']}, refund one please.",
                 created_at=NOW)
    desk.add_tickets(services.db, [t], source="test")
    r = services.pipeline.process(t, now=NOW, autonomy=2)
    assert r.engine == "offline" and "said the refund was done" in r.engine_note
    assert "I'm arranging a refund" in r.draft.reply


def test_a_charge_asked_about_is_explained_and_only_a_dispute_is_credited(services: Services) -> None:
    c = find_callout_with_booking(services)
    asked = _processed(services, "H-what", "Why is there a $49 charge on my account? I don't understand it.",
                       c["email"])
    assert not asked["proposals"]  # nothing to credit: the customer asked what it is
    _, draft = desk.reply_draft(asked)
    assert "call-out charge" in draft and "$49.00" in draft and "tell us why" in draft
    disputed = _processed(services, "H-dispute", "I was charged $49 for a call-out but the technician never came. "
                          "Please remove it.", c["email"])
    assert any(p["action"] == "credit_charge" for p in disputed["proposals"])


def test_moving_house_names_the_other_orders_still_due_at_the_old_address(services: Services) -> None:
    from sqlalchemy import select

    from domains.lumen.tables import CustomerRow, OrderRow

    with services.db.session() as s:
        rows = list(s.scalars(select(OrderRow).where(OrderRow.status == "pending").order_by(OrderRow.order_id)))
        by_user: dict[str, list[OrderRow]] = {}
        for o in rows:
            by_user.setdefault(o.user_id, []).append(o)
        uid, mine = next((u, os) for u, os in by_user.items() if len(os) >= 2
                         and len({(o.address1, o.zip) for o in os}) == 1)
        c = s.get(CustomerRow, uid)
        assert c is not None
        email, first, second = c.email, mine[0].order_id, mine[1].order_id.lower()
    data = _processed(services, "H-moved", f"I have moved house. Please ship order {first} to 12 Oak Street, "
                      "Dallas, TX 75201.", email)
    _, draft = desk.reply_draft(data)
    assert f"order {second}" in draft.lower() and "also due at your old address" in draft, draft


def test_an_unhappy_message_that_names_nothing_is_asked_what_it_is_about(services: Services) -> None:
    c = find_order(services, "delivered")
    _, alone = desk.reply_draft(_processed(services, "H-unhappy", "I am really disappointed with the service lately. "
                                           "Nobody calls back.", c["email"]))
    assert "which order or request is this about?" in alone and "A colleague" not in alone, alone
    _, both = desk.reply_draft(_processed(services, "H-unhappy-2", "I am really disappointed with the service "
                                          f"lately. Also, please resend the invoice for order {c['order_id']}.",
                                          c["email"]))
    assert "which order or request" not in both, both


def test_a_technician_who_came_late_has_the_visit_report_checked_too(services: Services) -> None:
    c = find_callout_with_booking(services)
    late = _processed(services, "H-late", "Please remove the $49 call-out charge, your engineer was 3 hours late.",
                      c["email"])
    notes = [p["args"].get("message", "") for p in late["proposals"] if p["action"] == "notify_field_team"]
    assert any(p["action"] == "credit_charge" for p in late["proposals"]) and any("came late" in n for n in notes)


def test_a_message_with_no_address_that_names_an_order_reads_nothing_back(services: Services) -> None:
    o = find_order(services, "pending")
    t = TicketIn(id="H-noaddr", customer="", channel="phone", subject="", created_at=NOW,
                 body=f"Call notes: customer says could you let me know where order {o['order_id']} is? It still "
                      "hasn't arrived.")
    result = services.pipeline.process(t, now=NOW)
    assert result.customer_id == o["user_id"] and "not verified" in result.draft.summary
    assert "only with its holder" in result.draft.reply and o["order_id"] not in result.draft.reply
    assert "tracking" not in result.draft.reply and "expected" not in result.draft.reply, result.draft.reply
    # greeted as a stranger: the account holder's name would tell whoever wrote whose account it is
    assert result.draft.reply.startswith("Hi there,") and o["first_name"] not in result.draft.reply
    # the advisor still sees what was read
    assert [(p.action, p.decision.value) for p in result.proposals] == [("lookup_order", "executed")]


def test_a_refusal_read_from_the_records_is_never_told_to_a_sender_not_verified(services: Services) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from domains.lumen.tables import OrderRow

    with services.db.session() as s:
        o = {"order_id": s.scalars(select(OrderRow.order_id).where(
            OrderRow.status == "delivered", OrderRow.delivered_on < NOW.date() - timedelta(days=40))
            .order_by(OrderRow.order_id)).first()}
    t = TicketIn(id="H-stranger", customer="", channel="chat", subject="", created_at=NOW,
                 body=f"i'd like to send back everything from order {o['order_id']} and get my money back.")
    desk.add_tickets(services.db, [t], source="test")
    desk.store_result(services.db, services.policy(), services.pipeline.process(t, now=NOW, autonomy=2))
    data = desk.get_ticket(services.db, "H-stranger")
    assert [p["status"] for p in data["proposals"] if p["action"] == "return_items"] == ["denied"]  # the advisor sees it
    _, reply = desk.reply_draft(data)  # as the workspace shows it, from the stored proposals
    assert "only with its holder" in reply and o["order_id"] not in reply and "30 days" not in reply, reply


def test_i_dont_want_it_any_more_after_a_refund_request_cancels_no_other_order(services: Services) -> None:
    from sqlalchemy import select

    from domains.lumen.tables import CustomerRow, OrderItemRow, OrderRow

    with services.db.session() as s:  # a customer with one pending order and a delivered one
        found = None
        for c in s.scalars(select(OrderRow.user_id).where(OrderRow.status == "pending")).all():
            orders = s.scalars(select(OrderRow).where(OrderRow.user_id == c)).all()
            if [o.status for o in orders].count("pending") == 1 and any(o.status == "delivered" for o in orders):
                d = next(o for o in orders if o.status == "delivered")
                found = (c, s.scalars(select(OrderItemRow.name).where(OrderItemRow.order_id == d.order_id)).first())
                break
    assert found is not None
    uid, item = found
    with services.db.session() as s:
        email = s.get(CustomerRow, uid).email  # type: ignore[union-attr]
    t = TicketIn(id="H-itref", customer=email, subject="", created_at=NOW,
                 body=f"Can I get a refund for the {item}? I don't want it anymore.")
    result = services.pipeline.process(t, now=NOW)
    assert not any(p.action == "cancel_order" for p in result.proposals), result.proposals


def test_a_question_about_refunds_arranges_nothing_and_asks_for_no_items(services: Services) -> None:
    o = find_order(services, "delivered")
    t = TicketIn(id="H-howlong", customer=o["email"], subject="", created_at=NOW, body="How long does a refund take?")
    result = services.pipeline.process(t, now=NOW)
    assert not [p for p in result.proposals if p.action != "send_reply"], result.proposals
    assert "Which items" not in result.draft.reply and "[1]" in result.draft.reply


def test_a_step_that_needs_another_waits_for_it_and_goes_when_it_is_rejected(services: Services) -> None:
    """The field team is told of a new visit only once the visit moved: approving the note first is refused with
    what to approve first; rejecting the move rejects the note (and the waived call-out charge) with it."""
    c = find_callout_with_booking(services)
    data = _processed(services, "H-dep", "Nobody can be home for the installation, please move it to next Tuesday "
                      "and take off the call-out charge.", c["email"])
    by = {p["action"]: p for p in data["proposals"]}
    move, note = by["reschedule_appointment"], by["notify_field_team"]
    assert note["depends_on"] == "reschedule_appointment" and move["status"] == "pending"
    with pytest.raises(InvalidInput, match="approve 'Reschedule appointment' first"):
        desk.approve(services.db, services.policy(), ADA, note["id"])
    desk.reject(services.db, ADA, move["id"], "Customer must confirm first")
    after = {p["action"]: p for p in desk.get_ticket(services.db, "H-dep")["proposals"]}
    assert after["notify_field_team"]["status"] == "rejected"
    assert "'Reschedule appointment', which this step depends on, was rejected" in after["notify_field_team"][
        "reject_reason"]
    if "credit_charge" in after:
        assert after["credit_charge"]["status"] == "rejected"
    with pytest.raises(InvalidInput, match="rejected and cannot be approved"):
        desk.approve(services.db, services.policy(), ADA, note["id"])
    assert desk.get_ticket(services.db, "H-dep")["ticket"]["assigned_to"] == "ada"  # the first decision took it


def test_a_change_asked_in_a_message_with_no_address_is_promised_nothing(services: Services) -> None:
    """Named in the message only: the change waits for a person who checks who wrote, and the reply neither
    promises it nor speaks of the customer's other orders, now or once it is worded again from the proposals."""
    o = find_order(services, "pending")
    t = TicketIn(id="H-noaddr-move", customer="", channel="email", subject="I've just moved house", created_at=NOW,
                 body=f"I've just moved house. Please ship order {o['order_id']} to 783 Maple Avenue, Columbus, OH "
                      "43215 instead.")
    desk.add_tickets(services.db, [t], source="test")
    result = services.pipeline.process(t, now=NOW, autonomy=2)
    desk.store_result(services.db, services.policy(), result)
    move = next(p for p in result.proposals if p.action == "change_shipping_address")
    assert move.reason.startswith("the sender is not verified")
    _, reply = desk.reply_draft(desk.get_ticket(services.db, "H-noaddr-move"))
    for text in (result.draft.reply, reply):
        assert "only with its holder" in text and "arranging" not in text and "old address" not in text, text


def test_an_item_already_sent_back_is_traced_not_returned_again(services: Services) -> None:
    o = find_order(services, "delivered")
    data = _processed(services, "H-sentback", f"I sent it back last week (order {o['order_id']}). When will I get my "
                      "refund?", o["email"])
    assert not [p for p in data["proposals"] if p["action"] == "return_items"]
    _, draft = desk.reply_draft(data)
    assert "tracking number" in draft and "arranging a return" not in draft, draft


def test_how_long_a_refund_takes_to_my_card_is_answered_from_the_timelines(services: Services) -> None:
    o = find_order(services, "delivered")
    _, draft = desk.reply_draft(_processed(services, "H-howlong", "How long does a refund take to reach my card?",
                                           o["email"]))
    assert "5 to 7 business days" in draft and "payment history" not in draft, draft


def test_a_double_charge_refund_says_where_the_money_goes_and_when(services: Services) -> None:
    from domains.lumen.records import refund_route

    o = find_order(services, "delivered", duplicate=True)
    data = _processed(services, "H-dup-route", f"My card was charged twice for order {o['order_id']}. Please refund "
                      "one.", o["email"])
    _, draft = desk.reply_draft(data)
    with services.db.session() as s:
        from domains.lumen.records import snapshot
        snap = snapshot(s, o["user_id"], NOW)
    order = next(x for x in snap["orders"] if x["order_id"] == o["order_id"])
    route = refund_route(order, order["duplicate_payment"], snap["payment_methods"])
    assert route and f"to your {route['paid_with']}, where it shows {route['lands']}" in draft, draft


def test_a_formal_complaint_misspelt_still_goes_to_a_supervisor(services: Services) -> None:
    o = find_order(services, "delivered")
    data = _processed(services, "H-formal-typo", f"Order {o['order_id']} arrived broken. I want to make a formal "
                      "cmplaint about how this was handled.", o["email"])
    assert data["ticket"]["status"] == "escalated"
    _, draft = desk.reply_draft(data)
    assert "formal complaint to a supervisor" in draft and "5 business days" in draft, draft


def test_the_invoice_resent_is_the_one_of_the_order_the_request_names(services: Services) -> None:
    from sqlalchemy import select

    from domains.lumen.tables import CustomerRow, InvoiceRow

    with services.db.session() as s:
        rows = list(s.scalars(select(InvoiceRow).where(InvoiceRow.order_id.is_not(None)).order_by(InvoiceRow.invoice_id)))
        by_user: dict[str, list[InvoiceRow]] = {}
        for i in rows:
            by_user.setdefault(i.user_id, []).append(i)
        uid, mine = next((u, xs) for u, xs in by_user.items() if len({x.order_id for x in xs}) >= 2)
        customer = s.get(CustomerRow, uid)
        assert customer is not None
        first, second = mine[0], next(x for x in mine if x.order_id != mine[0].order_id)
        email = customer.email
    data = _processed(services, "H-invoice-pick", f"Order {first.order_id} is fine. Please resend the invoice for "
                      f"{second.order_id}.", email)
    sent = [p["args"]["invoice_id"] for p in data["proposals"] if p["action"] == "resend_invoice"]
    assert sent == [second.invoice_id], sent


def test_a_question_for_what_a_person_since_gave_goes_once_the_action_ran() -> None:
    """"Which invoice do you need?" stays while the resend waits for someone to choose it; once a person picked the
    invoice and the resend ran, the reply no longer asks."""
    from cx_core.drafting import ASKS
    from cx_core.models import ReplyPart

    args = {"invoice_id": "INV-100008"}
    parts = [ReplyPart(text="Hi Ann,", paragraph=0),
             ReplyPart(text="", paragraph=1, kind="action", proposal=0, intent="invoice_request"),
             ReplyPart(text="Which invoice do you need (the order number is enough)?", paragraph=1,
                       intent="invoice_request", planned={ASKS: "1"}),
             ReplyPart(text="Kind regards,\nLumen Home Customer Care", paragraph=2)]
    waiting = render(recompose(parts, {0: ProposalState("resend_invoice", args, "abstained", "pending")}))
    assert "Which invoice do you need" in waiting
    ran = render(recompose(parts, {0: ProposalState("resend_invoice", args, "abstained", "executed", {})}))
    assert "Which invoice" not in ran and "INV-100008" in ran


def test_the_invoice_resent_is_the_one_for_the_product_the_customer_names(services: Services) -> None:
    """"The invoice for the washing machine": of the customer's invoices, the one whose order holds the one product
    named, read by the engine's reading of records described by their words."""
    from datetime import datetime

    from sqlalchemy import select

    from domains.lumen.records import snapshot
    from domains.lumen.tables import CustomerRow, InvoiceRow

    with services.db.session() as s:
        rows = list(s.scalars(select(InvoiceRow).where(InvoiceRow.order_id.is_not(None)).order_by(InvoiceRow.invoice_id)))
        users = sorted({i.user_id for i in rows if sum(x.user_id == i.user_id for x in rows) >= 2})
        picked = None
        for uid in users:
            snap = snapshot(s, uid, datetime(2026, 11, 20))
            names = {o["order_id"]: {i["name"] for i in o["items"]} for o in snap["orders"]}
            for inv in (i for i in snap["invoices"] if i.get("order_id")):
                mine = names.get(inv["order_id"], set())
                others = set().union(*(v for k, v in names.items() if k != inv["order_id"]))
                only = sorted(n for n in mine if n not in others and not any(w in " ".join(others).lower()
                                                                             for w in n.lower().split()))
                if only:
                    picked = (uid, inv["invoice_id"], only[0])
                    break
            if picked:
                break
        assert picked is not None
        uid, invoice_id, product = picked
        customer = s.get(CustomerRow, uid)
        assert customer is not None
        email = customer.email
    data = _processed(services, "H-invoice-described", f"Could you send me the invoice for the {product.lower()}? I "
                      "can't find the original e-mail.", email)
    sent = [p["args"]["invoice_id"] for p in data["proposals"] if p["action"] == "resend_invoice"]
    assert sent == [invoice_id], (sent, product)
