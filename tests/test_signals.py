"""Urgency, sentiment and language on the project's own labelled set (no public labels exist for these)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cx_core.services import Services
from tests.conftest import NOW

ROWS = [json.loads(line) for line in (Path(__file__).parent / "data" / "signals.jsonl").read_text().splitlines()]


def test_signals_on_the_labelled_set(services: Services) -> None:
    hits = {"urgency": 0, "sentiment": 0, "language": 0}
    misses = []
    for row in ROWS:
        tri = services.triager.triage("", row["text"], today=NOW.date())
        for key in hits:
            if getattr(tri, key) == row[key]:
                hits[key] += 1
            else:
                misses.append((key, row["text"][:50], getattr(tri, key), row[key]))
        if row["urgency"] == "critical":
            assert tri.urgency == "critical", row["text"]  # safety is never missed
        assert tri.urgency_reasons and tri.sentiment_reasons  # every chip explains itself
    n = len(ROWS)
    assert hits["language"] == n, misses
    assert hits["urgency"] / n >= 0.85, misses
    assert hits["sentiment"] / n >= 0.75, misses


@pytest.mark.parametrize("text, word", [
    ("And to add insult to injury, the replacement was late too.", ""),
    ("We've been flooded with emails about it; fire away with your questions.", ""),
    ("It really hurts my business when the delivery is missed.", ""),
    ("My son cut his finger on the broken glass of the oven door.", "cut his finger"),
    ("To add insult to injury, sparks came out of the socket.", "sparks"),
    ("I had to bleed the radiators myself.", ""),
    # a battery that swells or a thing too hot to hold, a smell of burning plastic: the product-safety signs
    ("The bottom panel is bulging outwards where the battery sits.", "bulging"),
    ("When I picked it up the underside was almost too hot to hold.", "too hot to hold"),
    ("There was a sharp plastic smell in the kitchen.", "plastic smell"),
    ("The plastic around the meter looks scorched.", "scorched"),
    ("My ankle is swelling after the fall, so I can't get to the door quickly.", ""),
])
def test_a_hazard_in_a_figure_of_speech_is_none_and_a_real_one_is_never_missed(text: str, word: str) -> None:
    from cx_core import signals

    assert signals.safety(text) == word


@pytest.mark.parametrize("text, no_show, late", [
    ("The engineer never turned up.", True, False),
    ("Nobody came, it was a no-show.", True, False),
    ("He turned up almost two and a half hours after the window ended.", False, True),
    ("The technician was two hours late.", False, True),
    ("I rang an hour after the delivery and nobody answered the phone.", False, False),
])
def test_a_visit_missed_or_come_late_is_read_as_such(text: str, no_show: bool, late: bool) -> None:
    from cx_core import signals

    assert (bool(signals.NO_SHOW.search(text)), bool(signals.CAME_LATE.search(text))) == (no_show, late)


@pytest.mark.parametrize("text, vulnerable", [
    ("Any day except Monday and Thursday, when I have hospital appointments.", False),
    ("I was in hospital when they were due, I've never paid late before.", False),
    ("Not next Thursday, I've got my scan at the hospital.", False),
    ("My husband is still in hospital and I'm on my own with the kids.", True),
    ("I'm writing from a hospital bed after a fall.", True),
    ("My mother is elderly and lives alone.", True),
    ("We're expecting a baby, I'm eight months pregnant.", True),
])
def test_a_hospital_named_for_an_appointment_or_a_past_stay_is_no_vulnerability(text: str, vulnerable: bool) -> None:
    from cx_core import signals

    assert signals.signals(text)["vulnerable"] is vulnerable


@pytest.mark.parametrize("text, tier, hands_over", [
    ("My carer is with me on Friday mornings, so someone can let the engineer in.", "priority", False),
    ("My carer is with me on Friday mornings, so someone can let the engineer in.", "standard", True),
    ("I use a wheelchair, so the meter needs to be reachable.", "priority", False),
    ("My husband passed away last month and the account is in his name.", "priority", True),
    ("I'm writing from a hospital bed; my carer reads me your letters.", "priority", True),
])
def test_needs_a_register_already_holds_hand_the_ticket_to_no_one_by_themselves(text: str, tier: str,
                                                                                  hands_over: bool) -> None:
    from cx_core import signals
    from cx_core.policy import Escalation, Policy, escalation_reason

    policy = Policy(version=1, escalation=Escalation(needs_on_record=["priority"]))
    reason = escalation_reason(policy, signals.signals(text), 0.9, 0.0, tier)
    assert (reason == "the customer may be vulnerable") is hands_over
    assert escalation_reason(Policy(version=1), signals.signals(text), 0.9, 0.0, tier) == \
        "the customer may be vulnerable"  # a company that names no register hands every one over


@pytest.mark.parametrize("text, at_risk", [
    ("My phone was stolen on the bus and now I can't get into my account. Send the codes to 07700 900123.", True),
    ("My email account was hacked and I cannot log in any more.", True),
    ("Someone changed my password and I'm locked out.", True),
    ("my mobile got nicked yesterday, the verification code still goes to it", True),
    ("I've got a new phone, please update my number to 07700 900123.", False),  # nothing lost to anyone
    ("I can't sign in, I think I forgot my password.", False),  # locked out, the way in in no one else's hands
    ("I lost my wallet with the gift card in it.", False),
])
def test_an_account_whose_way_in_someone_else_may_hold_waits_for_a_person(text: str, at_risk: bool) -> None:
    from cx_core import signals
    from cx_core.policy import Policy, escalation_reason

    found = signals.signals(text)
    assert found["account_at_risk"] is at_risk
    assert (signals.held_first(found, text) == signals.AT_RISK) is at_risk
    assert (escalation_reason(Policy(version=1), found, 0.99, 0.0) == signals.AT_RISK) is at_risk
