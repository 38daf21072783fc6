"""The tone a ticket is read with: a grievance reads negative and raises frustration, however politely it is put; a
plain request does not; policy hands repeat contacts and threats to a person. Measured on Bitext's dev utterances."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from cx_core.policy import Policy, escalation_reason
from cx_core.triage import Triager, contacts, signals

POLICY = Policy(version=1)  # the default escalation rules: a person from the third contact, on legal signals


@pytest.fixture(scope="module")
def reader() -> Triager:
    return Triager(model=None, embedder=None)  # type: ignore[arg-type]  # the tone reading needs neither


def read(reader: Triager, text: str) -> tuple[str, float, str]:
    label, _, frustration, _ = reader.sentiment(text)
    return label, frustration, escalation_reason(POLICY, signals(text), confidence=0.9, frustration=frustration)


def test_an_angry_third_contact_reads_negative_and_goes_to_a_person(reader: Triager) -> None:
    text = ("Hello,\n\nHas my dishwasher been dispatched yet? Order number #W1004222. This is the third time I'm "
            "writing about this!!!\n\nMany thanks,\nAngela")
    label, frustration, escalation = read(reader, text)
    assert label == "negative" and frustration >= 0.3
    assert contacts(text) == 3 and "third contact" in escalation
    assert reader.urgency(text, frustration, "standard", "email")[0] == "high"


def test_a_repeat_contact_threatening_a_chargeback_reads_negative_and_escalates(reader: Triager) -> None:
    for text in ("I have contacted you twice already about the duplicate payment on order #W1001619. Refund it or "
                 "I will file a chargeback.",
                 "I wrote to you last week and again on Monday about the double charge. If it is not refunded by "
                 "Friday I will dispute it with my bank."):
        label, frustration, escalation = read(reader, text)
        assert label == "negative" and frustration >= 0.5, text
        assert escalation, text  # legal signals or the third contact: a person answers


def test_a_damaged_item_asking_for_the_money_back_reads_negative_however_polite(reader: Triager) -> None:
    text = "My kettle from order #W1234567 arrived damaged, the lid is cracked. I would like my money back please. Thanks!"
    label, frustration, escalation = read(reader, text)
    assert label == "negative" and frustration > 0 and not escalation


@pytest.mark.parametrize("text", [
    "I want to make a formal complaint about how my order was handled.",
    "I am really disappointed with the service I've had lately. Nobody calls back.",
    "If this is not sorted by Friday I will take my business elsewhere.",
    "Absolutely unacceptable, worst service ever.",
    "Hello, you cancelled my flight to Denver tomorrow. What are you going to do about it?",
])
def test_grievances_read_negative(reader: Triager, text: str) -> None:
    label, frustration, _ = read(reader, text)
    assert label == "negative" and frustration > 0


@pytest.mark.parametrize("text", [
    "Where is my order W1234567?",
    "Please cancel order #W1000006, I ordered it by mistake.",
    "cancel order #W1000016 now, no longer needed",
    "Is HAT186 from ORD to SFO delayed this evening?",
    "Could you send the invoice again please?",
    "My card was charged $40 for order #W1000016, can I have the invoice?",
])
def test_plain_requests_are_not_negative(reader: Triager, text: str) -> None:
    label, frustration, escalation = read(reader, text)
    assert label != "negative" and frustration < 0.2 and not escalation
    assert contacts(text) == 1


def test_contacts_counts_this_message() -> None:
    assert contacts("This is my third email about it.") == 3
    assert contacts("I already asked twice and nobody replied.") == 3
    assert contacts("I'm writing again about my refund.") == 2
    assert contacts("My card was charged twice.") == 1  # a double charge is no repeated contact


def _bitext_dev(shared: Path) -> list[dict[str, str]]:
    with (shared / "bitext" / "dev.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_bitext_complaints_read_negative_and_plain_requests_do_not(reader: Triager, shared_data: Path) -> None:
    rows = _bitext_dev(shared_data)

    def negative(intent: str) -> float:
        texts = [r["utterance"] for r in rows if r["intent"] == intent]
        assert texts, intent
        return sum(reader.sentiment(t)[0] == "negative" for t in texts) / len(texts)

    assert negative("complaint") >= 0.90
    for intent in ("track_order", "get_invoice"):
        assert negative(intent) <= 0.10, intent


def test_a_present_whose_timing_matters_is_acknowledged_unless_something_went_wrong() -> None:
    from cx_core.empathy import empathy
    from cx_core.models import Request, Triage

    def said(text: str, sentiment: str = "neutral") -> str:
        named = {"order_ids": re.findall(r"#W\d+", text)}
        triage = Triage(task_type="order_status", intent="order_status", confidence=0.9, sentiment=sentiment,
                        requests=[Request(intent="order_status", text=text, confidence=0.9)],
                        entities={**signals(text), **named})
        return empathy(triage, "email")

    assert said("I ordered this as a present, so the timing matters. Where is order #W1?") == \
        "I understand the timing matters, as it's a present."
    assert said("It's a birthday present. Where is order #W1?") == ""  # nothing said of timing: nothing assumed
    # a request about the account alone, beside it: the present is not what the message is about
    assert said("I ordered this as a present, so the timing matters. Please delete my personal data.") == ""
    assert said("I ordered this as a present, so the timing matters. It arrived damaged.", "negative") == \
        "I'm sorry it arrived damaged."


def test_a_repeated_contact_is_explained_in_the_customers_own_words(reader: Triager) -> None:
    *_, why = reader.sentiment("I am really disappointed with the service lately. Nobody calls back.")
    assert "repeated contact ('nobody calls back')" in why, why
    *_, why = reader.sentiment("This is the third time I'm writing about this!!!")
    assert "repeated contact ('third time', at least the third time)" in why, why
