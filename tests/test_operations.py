"""The operation around the agent: knowledge documents (formats, versions, delete, health), users and roles,
ticket assignment and inbox filters, and the Insights metrics."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from cx_core import audit, auth, desk, exports, insights, kb_docs
from cx_core.access import StaffUser
from cx_core.documents import parse_upload
from cx_core.errors import InvalidInput, NotAuthorised
from cx_core.models import Role, TicketIn
from cx_core.services import Services
from tests.conftest import NOW
from tests.helpers import find_order

ADMIN = StaffUser("root", "Robin Admin", Role.admin)
SUPERVISOR = StaffUser("sam", "Sam Supervisor", Role.supervisor)
ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)


def pdf_bytes(title: str, sections: list[tuple[str, str]]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_title(title)
    for heading, text in sections:
        pdf.set_font("Helvetica", size=15)
        pdf.cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def docx_bytes() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("Gift wrapping", 0)
    d.add_heading("Prices", 1)
    d.add_paragraph("Gift wrap costs 4 dollars per item.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------- knowledge documents
def test_every_supported_format_becomes_sections() -> None:
    pdf = parse_upload("warranty.pdf", pdf_bytes("Warranty Claims", [
        ("Warranty Claims", "Products carry a two year warranty from delivery."),
        ("How To Open A Claim", "Ask for the order number and a photo of the fault.")]))
    assert pdf.title == "Warranty Claims" and "## How To Open A Claim" in pdf.text
    word = parse_upload("gift.docx", docx_bytes())
    assert word.title == "Gift wrapping" and "## Prices" in word.text
    faq = parse_upload("faq.csv", b"question,answer\nDo you ship abroad?,EU only.\n")
    assert "## Do you ship abroad?" in faq.text
    html = parse_upload("loyalty.html", b"<html><head><title>Loyalty</title></head><body><nav>menu</nav>"
                                         b"<h2>Expiry</h2><p>Points expire after 2 years.</p></body></html>")
    assert html.title == "Loyalty" and "## Expiry" in html.text and "menu" not in html.text


@pytest.mark.parametrize(("name", "data", "says"), [
    ("x.pdf", b"not a pdf", "not a readable PDF"),
    ("x.docx", b"PK", "not a readable Word"),
    ("x.csv", b"a,b\n1,2\n", "needs a question and an answer column: no question column"),
    ("x.exe", b"MZ", "unsupported file type"),
    ("x.md", b"   ", "empty"),
])
def test_bad_files_get_one_line_errors(name: str, data: bytes, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as err:
        parse_upload(name, data)
    assert "\n" not in str(err.value)


def test_upload_versions_replace_delete_and_roles(services: Services) -> None:
    db, kb = services.db, services.kb
    before = kb.count()
    with pytest.raises(NotAuthorised):
        kb_docs.upload(db, kb, ADVISOR, [("w.pdf", b"x")])
    first = pdf_bytes("Warranty", [("Claims", "Warranty claims are answered within five working days.")])
    out = kb_docs.upload(db, kb, SUPERVISOR, [("warranty.pdf", first)])
    assert out[0]["status"] == "added" and out[0]["version"] == 1
    assert kb.retrieve("how fast are warranty claims answered", k=1)[0].doc_id == "warranty"
    again = kb_docs.upload(db, kb, SUPERVISOR, [("warranty.pdf", first)])
    assert again[0]["status"] == "unchanged" and again[0]["version"] == 1
    # a new version with the same number of passages: retrieval sees the new text at once
    second = pdf_bytes("Warranty", [("Claims", "Warranty claims are answered by the zephyr desk within two days.")])
    out = kb_docs.upload(db, kb, SUPERVISOR, [("anything.pdf", second)], replace="warranty")
    assert out[0]["status"] == "replaced" and out[0]["version"] == 2
    assert kb.retrieve("zephyr desk", k=1)[0].doc_id == "warranty"
    assert [v["version"] for v in kb_docs.versions(db, "warranty")] == [2, 1]
    # one bad file: refused with its reason, its good neighbour stored
    mixed = kb_docs.upload(db, kb, SUPERVISOR, [("good.md", b"# Good\n\nText."), ("bad.csv", b"a,b\n")])
    assert [m["status"] for m in mixed] == ["added", "refused"] and "bad.csv: an FAQ CSV needs" in mixed[1]["reason"]
    assert kb_docs.delete(db, kb, SUPERVISOR, "good", "only here to show a mixed batch") == 1
    with pytest.raises(InvalidInput, match="say why"):
        kb_docs.delete(db, kb, SUPERVISOR, "warranty", " ")
    assert kb_docs.delete(db, kb, SUPERVISOR, "warranty", "superseded by the new policy") == 1
    assert kb.count() == before and all(v["deleted"] for v in kb_docs.versions(db, "warranty"))
    kinds = [e.kind for e in audit.events(db, ADMIN)]
    assert kinds.count("kb.uploaded") == 3 and kinds.count("kb.deleted") == 2
    assert audit.verify(db).ok


def test_stale_documents_and_gaps(services: Services) -> None:
    o = find_order(services, "pending")
    t = TicketIn(id="G-1", customer=o["email"], channel="email", subject="Thermostat offline", created_at=NOW,
                 body="Hi, my smart thermostat keeps dropping off the wifi. How do I get it to reconnect?")
    desk.add_tickets(services.db, [t], source="test")
    result = services.pipeline.process(t, now=NOW)
    assert result.passages and all(0 < p.similarity <= 1 for p in result.passages)
    desk.store_result(services.db, services.policy(), result)
    later = NOW + timedelta(days=400)
    docs = kb_docs.documents(services.db, services.kb, now=later, window_days=500)
    cited = {c.doc_id for c in result.draft.citations}
    assert cited and all(not d["stale"] for d in docs if d["doc_id"] in cited)
    assert any(d["stale"] for d in docs if d["doc_id"] not in cited)
    g = kb_docs.gaps(services.db, now=later, window_days=500, weak=1.01, min_tickets=1)
    assert g["task_types"][0]["weak_share"] == 1.0 and g["questions"][0]["tickets"] == 1


# ---------------------------------------------------------------- users and roles
def test_admins_manage_users_and_changes_apply_at_once(services: Services) -> None:
    db = services.db
    with pytest.raises(NotAuthorised):
        auth.list_users(db, SUPERVISOR)
    auth.add_user(db, ADMIN, "jo.martin", "Jo Martin", Role.advisor, "first-pass-1")
    with pytest.raises(InvalidInput, match="taken"):
        auth.add_user(db, ADMIN, "jo.martin", "Jo Again", Role.advisor, "first-pass-1")
    jo = auth.authenticate(db, "jo.martin", "first-pass-1")
    assert jo is not None and jo.role == Role.advisor
    auth.update_user(db, ADMIN, "jo.martin", role=Role.supervisor)
    assert auth.refresh(db, jo).role == Role.supervisor  # type: ignore[union-attr]
    assert auth.sso_user(db, "Jo.Martin@lumen.example").username == "jo.martin"  # type: ignore[union-attr]
    assert auth.sso_user(db, "stranger@lumen.example") is None
    auth.update_user(db, ADMIN, "jo.martin", password="second-pass-2")
    assert auth.authenticate(db, "jo.martin", "first-pass-1") is None
    auth.update_user(db, ADMIN, "jo.martin", active=False)
    assert auth.refresh(db, jo) is None and auth.authenticate(db, "jo.martin", "second-pass-2") is None
    with pytest.raises(InvalidInput, match="last active admin"):
        auth.update_user(db, ADMIN, "root", role=Role.advisor)
    assert {"user.saved", "user.changed"} <= {e.kind for e in audit.events(db, ADMIN)}


# ---------------------------------------------------------------- assignment and inbox filters
def test_claiming_filters_and_counts(services: Services) -> None:
    db = services.db
    o = find_order(services, "pending")
    batch = [TicketIn(id=f"A-{i}", customer=o["email"], channel=ch, subject=f"Question {i}", created_at=NOW,
                      body=f"Please ship order {o['order_id']} to 12 Oak Street, Austin, TX 78701 instead.")
             for i, ch in enumerate(["email", "chat", "email"])]
    desk.add_tickets(db, batch, source="test")
    for t in batch:
        desk.store_result(db, services.policy(), services.pipeline.process(t, now=NOW))
    other = StaffUser("ben", "Ben", Role.advisor)
    auth.create_user(db, "ben", "Ben", Role.advisor, "password-123")
    assert desk.assign(db, ADVISOR, "A-0", "ada") == "ada"
    with pytest.raises(InvalidInput, match="ada is working on this ticket"):
        desk.assign(db, other, "A-0", "ben")
    with pytest.raises(NotAuthorised):
        desk.assign(db, ADVISOR, "A-1", "ben")
    pending = [p for p in desk.get_ticket(db, "A-0")["proposals"] if p["status"] == "pending"]
    with pytest.raises(InvalidInput, match="ada is working"):
        desk.send_reply(db, services.policy(), other, "A-0", "Hello")
    if pending:
        with pytest.raises(InvalidInput, match="ada is working"):
            desk.reject(db, other, pending[0]["id"], "not mine")
    assert desk.assign(db, SUPERVISOR, "A-0", "ben") == "ben"  # a supervisor hands it over
    counts = desk.counts(db, me="ben")
    assert counts["mine"] == 1 and counts["unassigned"] >= 2
    mine, n = desk.inbox(db, where=desk.InboxFilter(statuses=("open", "escalated"), assigned="mine", me="ben"))
    assert n == 1 and mine[0]["id"] == "A-0"
    chats, _ = desk.inbox(db, where=desk.InboxFilter(statuses=("open", "escalated"), channels=("chat",)))
    assert [r["id"] for r in chats] == ["A-1"]
    assert "chat" in desk.filter_options(db)["channels"]
    assert {r["id"] for r in desk.customer_tickets(db, o["user_id"], exclude="A-0")} >= {"A-1", "A-2"}
    assert [e.kind for e in audit.events(db, ADMIN, ticket_id="A-0")].count("ticket.assigned") == 2


# ---------------------------------------------------------------- insights
def test_insights_metrics_and_matrix(services: Services) -> None:
    db, policy = services.db, services.policy()
    o = find_order(services, "pending")
    batch = [TicketIn(id=f"I-{i}", customer=o["email"], channel="email", subject=f"Order {i}", created_at=NOW,
                      body=f"Please ship order {o['order_id']} to 12 Oak Street, Austin, TX 78701 instead.")
             for i in range(2)]
    desk.add_tickets(db, batch, source="test")
    for t in batch:
        desk.store_result(db, policy, services.pipeline.process(t, now=NOW))
    desk.assign(db, ADVISOR, "I-0", "ada")
    for p in desk.get_ticket(db, "I-0")["proposals"]:
        if p["status"] == "pending" and p["decision"] != "abstained":
            desk.approve(db, policy, ADVISOR, p["id"])
    draft = desk.get_ticket(db, "I-0")["result"].draft.reply
    assert desk.send_reply(db, policy, ADVISOR, "I-0", draft + "\n\nP.S. Sorry for the trouble.")["status"] == \
        "executed"
    facts = insights.ticket_facts(db, ADMIN, NOW - timedelta(days=1), now=NOW + timedelta(hours=1))
    assert len(facts) == 2
    total = insights.summarise(facts)
    assert total["tickets"] == 2 and total["acceptance"] == 1.0 and total["reply_edit_rate"] == 1.0
    assert total["handle_min"] is not None and total["cost_per_ticket"] >= 0.02
    assert total["fcr"] is not None and 1 <= total["csat_proxy"] <= 5
    one = next(f for f in facts if f["ticket"] == "I-0")
    assert one["resolved"] and not one["auto_resolved"] and one["repeat"] is False
    assert [r["channel"] for r in insights.by(facts, "channel")] == ["email"]
    matrix = insights.impact_matrix(facts)
    assert matrix and all(0 <= m["complexity"] <= 1 and m["advice"] for m in matrix)
    assert exports.to_csv(facts).splitlines()[0].startswith("ticket,day,task_type")
