"""Text a customer can receive: every draft over the demo scenarios (the demo company's and the airline's) is plain
text on a plain-text channel, apologises at most once, puts no "Re:" where the customer wrote none, says something
between its greeting and its sign-off, asks nothing the customer already said, and quotes knowledge only as complete
sentences, each once and each about the customer's own case."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cx_core import desk, domain, packs
from cx_core.config import PROJECT_ROOT, Settings, load_settings
from cx_core.drafting import APOLOGY, RENDERS_MARKDOWN, for_customer, reply_subject
from cx_core.models import Passage, ProcessResult, TicketIn
from cx_core.passages import other_case, quotable_sentences, same_point
from cx_core.safe_text import plain_text
from cx_core.services import Services
from cx_core.setup import build_demo
from cx_core.wording import split_sentences
from tests.conftest import NOW, WORLD_DAY
from tests.helpers import find_callout_with_booking, find_order

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.json"))
AIRLINE_SCENARIOS = PROJECT_ROOT / "domains" / "airline" / "scenarios.jsonl"
AIR_NOW = datetime(2026, 11, 18, 14, 0)

MARKDOWN = re.compile(r"\*\*|__|^\s{0,3}#{1,6}\s|\[[^\]\n]+\]\([^)\n]*\)|!\[|(?<![\w*])\*[^\s*][^*\n]*\*(?![\w*])|`",
                      re.M)
QUOTE = re.compile(r"([^\[\]]+?)\s\[\d+\]")  # a quoted knowledge sentence and its citation marker


def quotes(result: ProcessResult) -> list[str]:
    """The knowledge sentences the draft quotes (each part that ends in a citation marker)."""
    return [m.group(1).strip() for p in result.draft.parts if p.kind in {"text", "support"} and p.text
            for m in QUOTE.finditer(p.text)]


def complete(sentence: str) -> bool:
    """A sentence a reader can take whole: a capital or digit first, a full stop last, nothing left hanging."""
    return (bool(re.match(r"^[A-Z0-9\"“(]", sentence)) and sentence.endswith((".", "!", "?"))
            and not re.search(r"(?:[,;:]|\b(?:or|and|but|the|a|an|of|to|with|for|when|if))\s*[.!?]$", sentence)
            and sentence.count("(") == sentence.count(")"))


ALTERNATIVES = re.compile(r"\b([a-z]+)\s+or\s+(?:in\s+)?(?:the\s+|a\s+|an\s+)?([a-z]+)\b", re.I)


def asked_already(reply: str, body: str) -> list[str]:
    """The reply's questions that offer a choice the customer already made ("morning or afternoon?" to a customer
    who wrote "Saturday afternoon")."""
    out = []
    for sent in split_sentences(for_customer(reply)):
        if not sent.endswith("?"):
            continue
        for a, b in ALTERNATIVES.findall(sent):
            named = {w for w in (a, b) if re.search(rf"\b{re.escape(w)}s?\b", body, re.I)}
            if len(named) == 1:
                out.append(sent)
    return out


def says_nothing(reply: str) -> bool:
    """A reply that is only its greeting and sign-off (an apology alone says nothing either; "I'm sorry, but …" goes
    on to say something)."""
    middle = [p for p in reply.split("\n\n")[1:-1] if p.strip()]
    return not any(not APOLOGY.search(s) or ", but " in s for p in middle for s in split_sentences(p))


def check(result: ProcessResult, subject: str, channel: str, body: str = "") -> list[str]:
    """What an advisor would have to rewrite before sending; [] when nothing."""
    problems: list[str] = []
    reply = result.draft.reply
    sent = for_customer(reply, channel)
    if not reply:
        return problems
    if says_nothing(reply):
        problems.append("nothing between the greeting and the sign-off")
    problems += [f"asks what the ticket already says: {q!r}" for q in asked_already(reply, body)]
    for text, where in ((reply, "draft"), (sent, "sent")):
        if channel not in RENDERS_MARKDOWN and (m := MARKDOWN.search(text)):
            problems.append(f"markdown {m.group(0)!r} in the {where} reply")
    if len(APOLOGY.findall(reply)) > 1:
        problems.append("more than one apology")
    if re.search(r"\bRe:", reply) and not re.search(r"\bRe:", subject):
        problems.append("'Re:' the customer did not write")
    said = [s for s in split_sentences(for_customer(reply)) if len(s) > 25]
    if len(said) != len(set(said)):
        problems.append(f"a sentence said twice: {[s for s in said if said.count(s) > 1][0]!r}")
    found = quotes(result)
    for q in found:
        if not complete(q):
            problems.append(f"cut-off quote {q!r}")
    for i, a in enumerate(found):
        for b in found[i + 1:]:
            if a == b or same_point(a, b):
                problems.append(f"the same point quoted twice: {a!r} / {b!r}")
    return problems


def lumen_tickets(svc: Services) -> Iterator[tuple[TicketIn, int | None]]:
    from domains.lumen.demo.simulator import Simulator
    from tests.test_scenarios import fill

    for path in SCENARIOS:
        sc = json.loads(path.read_text(encoding="utf-8"))
        pick = sc["pick"]
        values: dict[str, Any] = {"date": (NOW + timedelta(days=3)).strftime("%A %d %B")}
        values.update(find_callout_with_booking(svc) if pick.get("callout") else find_order(svc, **pick["order"]))
        raw = {k: fill(v, values) for k, v in sc["ticket"].items()}
        yield TicketIn(id=f"TXT-{path.stem[:24]}", created_at=NOW, **raw), sc.get("autonomy")
    for t in Simulator(svc.db, seed=11).tickets(16, NOW):
        yield t, None


def test_the_demo_companys_drafts_can_be_sent_as_written(services: Services) -> None:
    problems: list[str] = []
    for ticket, level in lumen_tickets(services):
        desk.add_tickets(services.db, [ticket], source="test")
        result = services.pipeline.process(ticket, now=NOW, autonomy=level)
        problems += [f"{ticket.id}: {p}" for p in check(result, ticket.subject, ticket.channel, ticket.body)]
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def airline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = load_settings(domain="airline", data_dir=tmp_path_factory.mktemp("airline-text"), database_url="")
    svc = Services(settings)
    build_demo(svc, tickets_n=0, process=False, quiet=True, today=WORLD_DAY)
    svc.close()
    yield settings
    packs.use(domain.find(domain.DEFAULT_DOMAIN))


def test_the_airlines_drafts_can_be_sent_as_written(airline: Settings) -> None:
    from domains.airline import demo as airline_demo

    svc = Services(airline)
    try:
        rows = [json.loads(line) for line in AIRLINE_SCENARIOS.read_text(encoding="utf-8").splitlines() if line]
        items = [TicketIn(id=r["id"], channel=r["channel"], subject=r["subject"], body=r["body"], created_at=AIR_NOW)
                 for r in rows]
        with svc.db.session() as s:
            made = airline_demo.demo_tickets(s, 12, seed=3, now=AIR_NOW)
        items += [TicketIn(id=t["id"], customer=t["customer"], channel="email", subject=t["subject"], body=t["body"],
                           created_at=AIR_NOW) for t in made]
        problems: list[str] = []
        for ticket in items:
            desk.add_tickets(svc.db, [ticket], source="test")
            result = svc.pipeline.process(ticket, now=AIR_NOW)
            problems += [f"{ticket.id}: {p}" for p in check(result, ticket.subject, ticket.channel, ticket.body)]
            if ticket.id == "AIR-028":  # a cancelled flight: its compensation, never a fragment of the rule
                assert not any(q.endswith(("or.", "and.")) for q in quotes(result))
        assert not problems, "\n".join(problems)
    finally:
        svc.close()
        packs.use(domain.find(domain.DEFAULT_DOMAIN))


def test_what_is_sent_on_a_plain_text_channel_carries_no_markdown() -> None:
    written = ("# Your refund\n\nWe have **approved** it; see the [returns page](https://help.example.com/returns) "
               "or *My account → Orders*. ![logo](https://x.example/logo.png)\n* step one\n`code` [1]")
    for channel in ("email", "chat", "phone", "social"):
        sent = for_customer(written, channel)
        assert not MARKDOWN.search(sent), (channel, sent)
        assert "returns page (https://help.example.com/returns)" in sent and "My account → Orders" in sent
        assert "[1]" not in sent
    assert plain_text("5 * 3 = 15, snake_case_name and a * b") == "5 * 3 = 15, snake_case_name and a * b"


def test_a_reply_subject_repeats_only_what_the_customer_wrote() -> None:
    assert reply_subject("Refund for order #W1000016", "email") == "Re: Refund for order #W1000016"
    assert reply_subject("Re: Refund", "email") == "Re: Refund"  # never "Re: Re:"
    assert reply_subject("", "email") == ""
    assert reply_subject("Caller asking if a flight has landed", "phone") == ""  # the advisor's label, not theirs
    assert reply_subject("which day do I fly back?", "chat") == ""


def test_list_items_are_quoted_whole_and_examples_never() -> None:
    text = ("Compensation is a travel certificate that can be used on a future booking. It is available when you:\n"
            "- are a **silver** or **gold** member, **or**\n- have **travel insurance** on the booking, **or**\n"
            "- are flying **business**.\nRegular members travelling in economy without insurance are not eligible.")
    assert quotable_sentences(text, "Who can receive compensation") == [
        "Compensation is a travel certificate that can be used on a future booking. It is available when you are a "
        "silver or gold member, have travel insurance on the booking, or are flying business.",
        "Regular members travelling in economy without insurance are not eligible."]
    example = ("The allowance depends on the cabin.\n\nExample: a silver member books economy for three people. "
               "Each traveller has 2 free bags, so the booking includes 6 free bags.")
    assert quotable_sentences(example, "Free bags") == ["The allowance depends on the cabin."]
    assert quotable_sentences("Name changes need proof (e.g. marriage certificate) and are handled by a person.") == [
        "Name changes need proof (e.g. marriage certificate) and are handled by a person."]
    assert quotable_sentences("Insurance is offered once, while booking.\nIt cannot be added to an existing booking later.") \
        == ["Insurance is offered once, while booking. It cannot be added to an existing booking later."]


def test_a_sentence_about_another_case_is_left_out() -> None:
    p = Passage(doc_id="d", title="Compensation", heading="Who can receive compensation", text="", score=1.0)
    status = Passage(doc_id="s", title="Status", heading="What each status means", text="", score=1.0)
    pool = [("Regular members travelling in economy without insurance are not eligible.", p, 0),
            ("Delayed: the flight will leave later than planned.", status, 0),
            ("Landed: the flight has arrived.", status, 0),
            ("If you want to pay with a new card, add it to your profile first.", p, 0),
            ("Cancelling a subscription is different from cancelling an order: a person handles it.", p, 0)]
    # a gold member whose flight was delayed, paying with the card on file, cancelling an order
    assert other_case(pool, "My flight HAT039 was delayed. Use my card on file. Cancel my order.", "gold") == [
        True, False, True, True, True]
    # the customer only asks whether it has landed: no status is quoted as if it were theirs
    assert other_case(pool[1:3], "", "") == [True, True]


def test_a_reply_asking_the_customer_to_write_back_keeps_the_ticket_open_but_an_offer_does_not() -> None:
    from cx_core.desk.reply import promises_follow_up

    assert promises_follow_up("We can move you to another flight, or cancel it for a refund; just reply and tell us "
                              "which.")
    assert promises_follow_up("Please write to us from the email address on your account.")
    assert not promises_follow_up("I've booked it. If you would rather have a replacement, just reply and I'll "
                                  "arrange that instead.")


def test_a_list_item_quoted_under_its_label_reads_as_a_sentence() -> None:
    from cx_core.drafting import framed

    assert framed("Slow or dropping Wi-Fi: in the app, run Network check.", "Troubleshooting") == \
        "For slow or dropping Wi-Fi: in the app, run Network check."
    assert framed("Please note: returns are free.", "Returns") == "Please note: returns are free."


@pytest.mark.parametrize("text, claimed", [
    ("No problem, I haven't cancelled anything.", False),
    ("The order was not cancelled yet.", False),
    ("I'm sorry your order was cancelled by the carrier.", False),
    ("I've cancelled order #W1002420.", True),
    ("Sorry, but I have cancelled the order.", True),
])
def test_a_claim_denied_or_told_with_sympathy_is_no_claim_of_an_action_done(text: str, claimed: bool) -> None:
    """What a person types is read for claims at Send: "I haven't cancelled anything" says nothing was done, and
    "I'm sorry your … was cancelled" tells of what happened to the customer."""
    from cx_core.wording import claimed_actions

    assert ("cancel_order" in claimed_actions(text)) is claimed


def test_a_return_refunded_to_the_method_the_customer_asked_for_says_where_the_money_goes() -> None:
    """ "Could the money go on my Lumen gift card rather than PayPal?": the return's sentence names the gift card,
    never "your original payment method", once it is waiting and once it is done."""
    from domains.lumen.wording import LUMEN_WORDING

    w = LUMEN_WORDING["return_items"]
    args = {"order_id": "#W1006059", "item_ids": ["6625382720"], "payment_method_id": "gift_card_9010850"}
    assert "your Lumen gift card" in w.waiting(args, {}) and "original payment method" not in w.waiting(args, {})
    assert "your Lumen gift card" in w.done(args, {}, {})
    assert "original payment method" in w.waiting({**args, "payment_method_id": None}, {})
