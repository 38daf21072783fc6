"""Knowledge base: heading-aware chunks, hybrid retrieval, persisted collection reopening, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from cx_core.documents import parse_document
from cx_core.errors import InvalidInput
from cx_core.knowledge import KnowledgeBase, chunk_document
from cx_core.services import Services

QUERIES = {
    "I moved, please change the shipping address on my order": "change-shipping-address",
    "can the technician come on another day for the installation": "installation-appointments",
    "I was charged twice for the same order": "duplicate-charges",
    "my thermostat will not connect to wifi": "smart-thermostat-troubleshooting",
    "the password reset email never arrives": "account-access-and-passwords",
    "please delete all my personal data": "data-protection-requests",
    "why was I charged a call-out fee when the technician never came": "installation-callout-charges",
    "how long does a refund take to reach my card": "refunds-timelines",
}


def test_chunks_follow_headings(services: Services) -> None:
    doc = parse_document(services.settings.articles_dir / "returns-policy.md")
    chunks = chunk_document(doc)
    assert doc.doc_id == "returns-policy" and "return_refund" in doc.task_types
    assert [c.heading for c in chunks][:3] == ["Who can return and when", "How to return an item",
                                               "How a return works (staff)"]


@pytest.mark.parametrize("query,doc_id", QUERIES.items())
def test_retrieval_finds_the_article(services: Services, query: str, doc_id: str) -> None:
    hits = services.kb.retrieve(query, k=3)
    assert doc_id in [h.doc_id for h in hits], [h.doc_id for h in hits]


def test_collection_reopens_with_its_embedding_function(services: Services) -> None:
    again = KnowledgeBase(services.settings.chroma_path)
    assert again.count() == services.kb.count() > 100
    assert "order-cancellation" in [h.doc_id for h in again.retrieve("cancel my order", k=3)]


def test_ingest_replaces_a_document_and_refuses_bad_files(services: Services, tmp_path: Path) -> None:
    doc = tmp_path / "loyalty.md"
    doc.write_text("---\nid: loyalty\ntitle: Loyalty points\n---\n# Loyalty points\n\n## Earning\nOne point per "
                   "dollar spent on orders.\n", encoding="utf-8")
    before = services.kb.count()
    services.kb.ingest_paths([doc])
    services.kb.ingest_paths([doc])
    assert services.kb.count() == before + 1
    assert services.kb.retrieve("how many loyalty points do I earn", k=1)[0].doc_id == "loyalty"
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"\x89PNG")
    with pytest.raises(InvalidInput, match="unsupported file type"):
        services.kb.ingest_paths([bad])
    empty = tmp_path / "empty.md"
    empty.write_text("---\nid: x\n---\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="empty"):
        services.kb.ingest_paths([empty])
    assert services.kb.count() == before + 1


def test_metadata_filters(services: Services) -> None:
    only = services.kb.retrieve("how long does it take", k=5, task_type="installation_reschedule",
                                only_task_type=True)
    assert only and all(p.doc_id in {"installation-appointments", "installation-callout-charges"} for p in only)
    fresh = services.kb.retrieve("refund to my card", k=10, updated_after="2026-09-01")
    assert fresh and "refunds-timelines" not in {p.doc_id for p in fresh}  # last reviewed 2026-08-15


def test_replies_quote_what_customers_may_read_and_what_staff_are_told_to_say() -> None:
    from cx_core.drafting import customer_facing

    assert customer_facing("Check the order's payment history for two payments of the same amount.", True) == ""
    assert customer_facing("Tell the customer the refund takes 5 to 7 business days to appear on a card.", True) \
        == "The refund takes 5 to 7 business days to appear on a card."
    assert customer_facing("Ask the customer to check with neighbours and safe places.", False) \
        == "Please check with neighbours and safe places."
    assert customer_facing("Tell the customer that one colleague owns the case and will update them.", True) \
        == "One colleague owns the case and will update you."
    assert customer_facing("The thermostat uses 2.4 GHz Wi-Fi only.", False) == "The thermostat uses 2.4 GHz Wi-Fi only."
    assert customer_facing("Advisors may credit up to $500 with a reason.", False) == ""


HARD_WRAPPED = """---
id: hub-restart
title: Restarting the Lumen Hub
task_types: technical_question
updated: 2026-10-02
---
# Restarting the Lumen Hub

## Restart the hub
When the hub stops answering, restart it. Restart your hub by
holding the button on its back for 10 seconds, until the ring
turns white. Wait two minutes before you open the app again.

Before you restart it:
- make sure the hub is plugged into the wall socket and not
  into a power strip;
- check that the router next to it
is switched on.

## Factory reset (staff)
A factory reset erases the hub's schedules; tell the customer
that the schedules have to be set up again afterwards.
"""


def test_a_hard_wrapped_article_is_read_as_paragraphs_and_lists_stay_lists(tmp_path: Path) -> None:
    from cx_core.documents import paragraphs
    from cx_core.passages import quotable_sentences

    path = tmp_path / "hub.md"
    path.write_text(HARD_WRAPPED, encoding="utf-8")
    doc = parse_document(path)
    assert doc.doc_id == "hub-restart" and doc.task_types == ["technical_question"] and doc.updated == "2026-10-02"
    restart = chunk_document(doc)[0]
    assert restart.heading == "Restart the hub"
    assert ("Restart your hub by holding the button on its back for 10 seconds, until the ring turns white."
            in restart.text)
    assert "\n- make sure the hub is plugged into the wall socket and not into a power strip;\n" in restart.text
    assert "\n- check that the router next to it is switched on." in restart.text
    quotable = quotable_sentences(restart.text, restart.heading)
    assert "Restart your hub by holding the button on its back for 10 seconds, until the ring turns white." \
        in quotable
    assert not [s for s in quotable if s.endswith(("by.", "the.", "not.", " and."))], quotable
    # passages stored before articles were read as paragraphs are quoted whole too
    wrapped = "Restart your hub by\nholding the button for 10 seconds.\nWait two minutes."
    assert quotable_sentences(wrapped)[0] == "Restart your hub by holding the button for 10 seconds."
    assert paragraphs("| a | b |\n| c | d |\n```\nline one\nline two\n```") == \
        "| a | b |\n| c | d |\n```\nline one\nline two\n```"  # tables and code keep their lines


def test_front_matter_marks_a_document_for_staff(tmp_path: Path) -> None:
    path = tmp_path / "escalations.md"
    path.write_text("---\ntitle: Escalation paths\naudience: staff\ntask_types: [complaint, damaged_item]\n---\n"
                    "## Who takes what\nSafety reports go to the product safety team the same day.\n",
                    encoding="utf-8")
    doc = parse_document(path)
    assert doc.title == "Internal: Escalation paths" and doc.task_types == ["complaint", "damaged_item"]
    from cx_core.drafting import STAFF_SECTION

    assert STAFF_SECTION.search(doc.title)  # guides advisors and the agent, never quoted to a customer


def test_a_reply_quotes_a_hard_wrapped_article_in_whole_sentences(services: Services, tmp_path: Path) -> None:
    from datetime import datetime

    from sqlalchemy import select

    from cx_core import desk
    from cx_core.models import TicketIn
    from domains.lumen.tables import CustomerRow
    from tests.test_reply_text import check, quotes

    path = tmp_path / "hub.md"
    path.write_text(HARD_WRAPPED, encoding="utf-8")
    services.kb.ingest_paths([path])
    with services.db.session() as s:
        email = s.scalars(select(CustomerRow.email).order_by(CustomerRow.user_id).limit(1)).one()
    ticket = TicketIn(id="KB-WRAP-1", customer=email, channel="email", subject="Lumen Hub",
                      body="Hello, how long do I hold the button to restart my Lumen Hub?",
                      created_at=datetime(2026, 11, 18, 9, 30))
    desk.add_tickets(services.db, [ticket], source="test")
    result = services.pipeline.process(ticket, now=ticket.created_at, autonomy=1)
    found = quotes(result)
    assert any(q.startswith("Restart your hub by holding the button on its back for 10 seconds") for q in found), \
        result.draft.reply
    assert not check(result, ticket.subject, ticket.channel), check(result, ticket.subject, ticket.channel)
