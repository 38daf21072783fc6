"""An answer that goes out without a person answers what was asked, or waits for a person with the reason: a
question the knowledge base speaks of is answered from it and sent at the answer level; one that names what the
knowledge base never mentions ("my Amex", "Bitcoin") is drafted from the nearest passage at best, so the draft
waits, the ticket says why, and the audit log records it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from cx_core import desk
from cx_core.answer_check import content_words, why_it_waits
from cx_core.models import Channel, Decision, ProcessResult, Request, TicketIn
from cx_core.services import Services
from cx_core.store.tables import AuditRow
from tests.conftest import NOW

# (question, words of the article sentence the reply must quote)
ANSWERED = [
    ("Which cards do you accept?", "Visa, Mastercard, American Express"),
    ("Can I change the payment card on an order that's already placed?", "switched to another saved payment method"),
    ("How do I pair my soundbar with my TV?", "HDMI"),
    ("How do I reset my password? I can't log in.", "reset link"),
]
NOT_ANSWERED = [
    ("Can I pay with my Amex instead of the gift card?", "Amex"),
    ("Can I pay with Bitcoin?", "Bitcoin"),
]


def _ask(svc: Services, email: str, n: int, question: str) -> ProcessResult:
    t = TicketIn(id=f"ASK-{n}", customer=email, channel=Channel.email, subject="A question", body=question,
                 created_at=NOW)
    desk.add_tickets(svc.db, [t], source="test")
    out = svc.pipeline.process(t, now=NOW, autonomy=1)
    desk.store_result(svc.db, svc.policy(), out)
    return out


@pytest.fixture
def customer_email(services: Services) -> str:
    row = services.db.engine.connect().exec_driver_sql("SELECT email FROM crm_customers LIMIT 1").first()
    assert row is not None
    return str(row[0])


def test_a_question_the_knowledge_base_answers_goes_out_alone_and_answers_it(services: Services,
                                                                            customer_email: str) -> None:
    for n, (question, fact) in enumerate(ANSWERED):
        out = _ask(services, customer_email, n, question)
        sent = [p for p in out.proposals if p.action == "send_reply"]
        assert sent and sent[0].decision == Decision.executed, (question, out.reply_waits)
        assert fact in out.draft.reply, (question, out.draft.reply)
        assert not out.reply_waits


def test_a_question_naming_what_the_knowledge_base_never_mentions_waits_with_the_reason(services: Services,
                                                                                     customer_email: str) -> None:
    for n, (question, unknown) in enumerate(NOT_ANSWERED):
        out = _ask(services, customer_email, 100 + n, question)
        assert not any(p.action == "send_reply" and p.decision == Decision.executed for p in out.proposals)
        assert f"“{unknown}”" in out.reply_waits and "check the answer" in out.reply_waits
        assert out.replay_record()["reply_waits"] == out.reply_waits
        data = desk.get_ticket(services.db, f"ASK-{100 + n}")
        assert data["ticket"]["status"] != "resolved" and data["result"].reply_waits == out.reply_waits
    with services.db.session() as s:
        logged = [d for e in s.execute(select(AuditRow).where(AuditRow.kind == "ticket.processed")).scalars()
                  if (d := json.loads(e.data)).get("reply_waits")]
    assert len(logged) == len(NOT_ANSWERED)


def test_the_words_of_asking_and_greeting_are_not_what_a_question_is_about() -> None:
    assert content_words("Hi, quick question: is there any way I could pay with my Amex instead? Thanks!") == \
        ["pay", "Amex"]
    known = {"pay", "card", "wifi", "conne", "gift"}
    assert why_it_waits(["How do I reconnect the Wi-Fi?"], known) == ""  # a prefix, a hyphen
    assert "“Amex”" in why_it_waits(["Can I pay with my Amex?"], known)


def test_a_question_the_classifier_cannot_place_is_answered_from_the_knowledge_base(services: Services,
                                                                                  customer_email: str) -> None:
    out = _ask(services, customer_email, 200, "Do you take American Express?")
    assert not out.escalated and out.triage.task_type == "payment_method"
    assert "American Express" in out.draft.reply and out.draft.citations
    assert "answered from the knowledge base" in out.triage.entities["from_knowledge"]
    # the classifier's doubt still keeps the reply from going out alone: a person approves it, told why
    assert not any(p.action == "send_reply" and p.decision == Decision.executed for p in out.proposals)
    for n, question in enumerate(["Do you ship to Mars?", "Can I bring my dog to your showroom?"]):
        out = _ask(services, customer_email, 201 + n, question)
        assert out.escalated and "not sure what the customer asks" in out.escalation_reason
        assert "from_knowledge" not in out.triage.entities


def test_a_question_asked_beside_a_request_is_answered_from_the_knowledge_base(services: Services,
                                                                              customer_email: str) -> None:
    """A question asked beside a request to act ("…move it, please. Does the installation include taking away the
    old appliance?") is answered from the knowledge base, with its citation, when a passage answers it; one the
    knowledge base does not answer gets nothing made up, and the summary names it for the advisor."""
    move = "My installation needs to move, please, to any morning next week. "
    out = _ask(services, customer_email, 90, move + "Will the technician call before arriving at the house?")
    assert "The technician calls 30 minutes before arriving." in out.draft.reply
    assert "Also asks" not in out.draft.summary and out.draft.citations
    out = _ask(services, customer_email, 91, move + "Does the technician take the old appliance away?")
    assert "appliance" not in out.draft.reply.lower()
    assert "Also asks, not answered from the knowledge base: “Does the technician take the old appliance away?”" \
        in out.draft.summary


def test_which_questions_are_asked_beside_the_requests() -> None:
    """Only a question that asks to be told counts; one that names a day or a figure, or asks for something to be
    done, belongs to its request; a request that only asks is answered as such already."""
    from types import SimpleNamespace

    from cx_core.answer_check import Answers
    from cx_core.models import Request, Triage

    body = ("Please book the engineer for the morning. Will the electricity go off while the work is done? "
            "Could someone come on Monday instead? Is the 9am slot free?")
    tri = Triage(task_type="book_visit", intent="book_visit", confidence=0.9,
                 requests=[Request(intent="book_visit", text=body, confidence=0.9)])
    ticket = TicketIn(id="Q-1", customer="a@example.com", channel=Channel.email, subject="Visit", body=body)
    answers = Answers(None, SimpleNamespace(informational=frozenset()))
    assert answers.also_asked(tri, ticket) == ["Will the electricity go off while the work is done?"]
    only = "How long does a refund take to reach my card?"
    asked = Triage(task_type="return_refund", intent="return_refund", confidence=0.9,
                   requests=[Request(intent="return_refund", text=only, confidence=0.9)])
    assert answers.also_asked(asked, ticket.model_copy(update={"body": only})) == []
    # "What actually is that?": a short question about what the sentence before names, asked with it
    told = "There's a line on my bill called standing charge. What actually is that?"
    bill = Triage(task_type="bill_question", intent="bill_question", confidence=0.9,
                  requests=[Request(intent="bill_question", text=told.split(". ")[0] + ".", confidence=0.9)])
    assert answers.also_asked(bill, ticket.model_copy(update={"body": told})) == [told]


@pytest.mark.parametrize(("sentence", "change"), [
    ("Can you work out which plan would be cheapest for us and move our account onto it?", True),
    ("Please switch the card on that order, as long as there is no fee.", True),
    ("I'd like you to cancel it if it hasn't shipped.", True),
    ("Could you tell me how to change my plan?", False),
    ("I want to know whether I can cancel.", False),
    ("Can I change my tariff at any time?", False),
    ("Please don't change anything yet.", False),
    ("Which tariff is cheapest?", False),
])
def test_a_sentence_that_asks_for_a_change_is_told_from_one_that_asks_to_be_told(sentence: str, change: bool) -> None:
    from cx_core.reading import language
    from cx_core.reading.requests import asks_for_a_change

    assert asks_for_a_change(language.sentences(sentence)[0]) is change


def test_an_answer_to_a_question_that_also_asks_for_a_change_waits_with_the_reason(services: Services) -> None:
    from cx_core.answer_check import Answers

    informational = sorted(services.pipeline.pack.informational)[0]
    text = "Which cards do you accept? Please switch my order's payment to the Visa."
    tri = services.triager.triage("Cards", text).model_copy(update={
        "requests": [Request(intent=informational, text=text, confidence=0.9)]})
    waits = Answers(services.kb, services.pipeline.pack).why_it_waits(tri, None, None)
    assert waits.startswith("the customer also asks for something to be done (“Please switch")
