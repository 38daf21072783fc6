"""A real ``streamlit run`` driven in Debian's headless Chromium: an advisor signs in, opens a ticket,
approves the proposal, sends the reply, and the backend has changed."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cx_core import audit, desk
from cx_core.config import PROJECT_ROOT, Settings
from cx_core.models import TicketIn
from cx_core.services import Services
from tests.conftest import NOW, copy_world
from tests.helpers import DEMO_ADMIN, find_order, order, rerun_of, running_app, settle

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def app(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Services, dict[str, str]]]:
    """One ``streamlit run`` for the journeys: B-1 waits for an advisor; B-2 was handled alone at level 3 and
    sampled for review."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright")
    from cx_core.policy import Policy

    settings = copy_world(world, tmp_path_factory.mktemp("browser") / "data")
    svc = Services(settings)
    o = find_order(svc, "pending")
    ticket = TicketIn(id="B-1", customer=o["email"], channel="email", subject="Browser test: new address",
                      created_at=NOW, body=f"Hello, please ship order {o['order_id']} to 12 Oak Street, Austin, "
                                           f"TX 78701 instead. Thanks, {o['first_name']}")
    o2 = find_order(svc, "pending", other_than=o["user_id"])
    sampled = TicketIn(id="B-2", customer=o2["email"], channel="email", subject="Browser test: sampled change",
                       created_at=NOW, body=f"Please change the address of {o2['order_id']} to 77 Birch Lane, "
                                            "Austin, TX 78702.")
    desk.add_tickets(svc.db, [ticket, sampled], source="test")
    desk.store_result(svc.db, svc.policy(), svc.pipeline.process(ticket, now=NOW))
    raw = svc.policy().model_dump(mode="json")
    raw["review"] = {"sample_rate": 1.0, "risk_above": 1.0}
    desk.store_result(svc.db, Policy.model_validate(raw), svc.pipeline.process(sampled, now=NOW, autonomy=3))
    try:
        with running_app({"TANDEM_DATA_DIR": str(settings.data_dir)}) as url:
            yield url, svc, {**o, "sampled_order": o2["order_id"], "sampled_user": o2["user_id"]}
    finally:
        svc.close()


@pytest.fixture(scope="module")
def chromium(app: tuple[str, Services, dict[str, str]]) -> Iterator[Any]:
    """One Chromium for the journeys; each test has a browser context of its own (its own cookies and storage)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture
def laptop_page(chromium: Any) -> Iterator[Any]:
    """A page the size of a laptop's screen."""
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    yield context.new_page()
    context.close()


def sign_in(page: Any, url: str, username: str, password: str) -> None:
    from playwright.sync_api import expect

    page.context.clear_cookies()  # another person on this browser: the last one's session is not theirs
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Waiting for the agent")).to_be_visible(timeout=30_000)
    # the session cookie is written by the server just after the page signs in: a new page load needs it
    for _ in range(300):
        if any(c["name"].startswith("tandem_session_") for c in page.context.cookies()):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("the session cookie was never written")


def choose(page: Any, box: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``box``: type to filter, Enter to take the first match."""
    field = page.get_by_test_id("stSelectbox").filter(has_text=box).first.locator("input")
    field.click()
    field.fill(option)
    page.get_by_role("option", name=option).first.wait_for(timeout=10_000)
    field.press("Enter")


def reverse(page: Any, why: str) -> None:
    """A supervisor reverses the first reversible action on the page, telling the customer (the default)."""
    opener = page.get_by_role("button", name="Reverse").first
    opener.evaluate("e => e.scrollIntoView({block: 'center'})")  # where a person reads it, not at the screen's edge
    opener.click()
    page.get_by_role("textbox", name="Why reverse it?").fill(why)
    button = page.get_by_role("button", name="Reverse now")
    box, screen = button.bounding_box(), page.viewport_size
    for _ in range(30):  # the page settles once the pop-over is open (the app re-renders around it)
        if box is not None and screen is not None and box["y"] + box["height"] <= screen["height"]:
            break
        page.wait_for_timeout(100)
        box = button.bounding_box()
    assert box is not None and screen is not None and box["y"] + box["height"] <= screen["height"], \
        f"the pop-over runs past the screen: {box}"
    page.screenshot(path=str(ARTIFACTS / "reverse-popover.png"))
    button.click()


def test_advisor_approves_a_proposal_and_sends_the_reply(app: tuple[str, Services, dict[str, str]],
                                                         browser_page: Any) -> None:
    from playwright.sync_api import expect

    url, svc, o = app
    page = browser_page
    sign_in(page, url, "ada", "advisor-demo")
    page.screenshot(path=str(ARTIFACTS / "advisor-inbox.png"), full_page=True)
    page.get_by_role("link", name="Browser test: new address").click()
    expect(page.get_by_text("Proposed actions")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Change shipping address")).to_be_visible()
    expect(page.get_by_text("your first decision makes it yours")).to_be_visible()  # reading a ticket claims nothing
    assert desk.get_ticket(svc.db, "B-1")["ticket"]["assigned_to"] is None
    page.screenshot(path=str(ARTIFACTS / "advisor-ticket.png"), full_page=True)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Executed:")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Assigned to you")).to_be_visible()
    assert order(svc, o["order_id"]).address1 == "12 Oak Street"
    # the draft turns to the past tense once the change ran (the page has re-read the ticket): then it is sent
    expect(page.get_by_role("textbox", name="Suggested reply (edit before sending)")).to_have_value(
        re.compile("I've changed the shipping address"), timeout=30_000)
    page.get_by_role("button", name="Send and resolve").click()
    expect(page.get_by_text("Reply sent and ticket resolved.")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "advisor-resolved.png"), full_page=True)
    kinds = [e.kind for e in audit.events(svc.db, DEMO_ADMIN, ticket_id="B-1")]
    assert {"ticket.assigned", "proposal.approved", "action.executed", "ticket.resolved"} <= set(kinds)
    assert desk.get_ticket(svc.db, "B-1")["ticket"]["status"] == "resolved"
    assert audit.verify(svc.db).ok


def test_supervisor_reverses_a_sampled_autonomous_action(app: tuple[str, Services, dict[str, str]],
                                                         laptop_page: Any) -> None:
    from playwright.sync_api import expect

    from cx_core import conversations

    url, svc, o = app
    before = order(svc, o["sampled_order"]).address1
    assert before == "77 Birch Lane"  # the agent changed it alone
    page = laptop_page
    sign_in(page, url, "sam", "supervisor-demo")
    page.get_by_role("link", name="Review").click()
    expect(page.get_by_text("Change shipping address — Browser test: sampled change")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "supervisor-review.png"), full_page=True)
    reverse(page, "customer wrote from a shared mailbox")
    expect(page.get_by_text("Reversed. The customer was told.")).to_be_visible(timeout=30_000)
    page.get_by_role("radio", name="Reversed").click()
    expect(page.get_by_text("Reversed by sam")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "supervisor-reversed.png"), full_page=True)
    assert order(svc, o["sampled_order"]).address1 != "77 Birch Lane"
    told = [m["body"] for m in conversations.thread(svc.db, "B-2") if m["direction"] == "out"][-1]
    # the action named in plain words, as the customer would say it, never by its code or its label pasted in
    assert f"the address change for order {o['sampled_order']}" in told and "change shipping address" not in told
    kinds = [e.kind for e in audit.events(svc.db, DEMO_ADMIN, ticket_id="B-2")]
    assert "action.reversed" in kinds and audit.verify(svc.db).ok


def test_admin_replays_and_raises_a_level(app: tuple[str, Services, dict[str, str]], browser_page: Any) -> None:
    from playwright.sync_api import expect

    from cx_core import autonomy
    from cx_core.policy import load_policy

    url, svc, first = app
    page = browser_page
    sign_in(page, url, "root", "admin-demo")
    page.get_by_role("link", name="Autonomy & policy").click()
    expect(page.get_by_role("button", name="Replay recent tickets")).to_be_visible(timeout=30_000)
    choose(page, "Task type", "change address")
    settle(page)  # the level box follows the chosen task type
    choose(page, "New level", "supervised")
    expect(page.get_by_role("button", name="Save level")).to_be_disabled()  # replay first
    page.get_by_role("textbox", name="Why").first.fill("pilot after six weeks at 97% approval")
    page.get_by_role("button", name="Replay recent tickets").click()
    expect(page.get_by_text("tickets would be handled differently")).to_be_visible(timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "admin-replay.png"), full_page=True)
    page.get_by_role("button", name="Save level").click()
    for _ in range(60):  # the page saves, then reruns
        path = svc.settings.writable_policy_file
        if path.exists() and load_policy(path).level("address_change") == 3:
            break
        page.wait_for_timeout(500)
    assert load_policy(svc.settings.writable_policy_file).level("address_change") == 3
    page.screenshot(path=str(ARTIFACTS / "admin-saved.png"), full_page=True)
    assert autonomy.history(svc.db, DEMO_ADMIN)[0]["why"] == "pilot after six weeks at 97% approval"
    assert "policy.changed" in {e.kind for e in audit.events(svc.db, DEMO_ADMIN)}

    # the agent now acts alone on a new request, and a supervisor finds it and reverses it from its ticket
    assert svc.policy().level("address_change") == 3  # the saved file is in force
    o = find_order(svc, "pending", other_than=(first["user_id"], first["sampled_user"]))
    ticket = TicketIn(id="B-L3", customer=o["email"], channel="email", subject="Browser test: level 3",
                      created_at=NOW, body=f"Please change the address of {o['order_id']} to 5 Cedar Court, Austin, TX 78703.")
    desk.add_tickets(svc.db, [ticket], source="test")
    desk.store_result(svc.db, svc.policy(), svc.pipeline.process(ticket, now=NOW))
    assert order(svc, o["order_id"]).address1 == "5 Cedar Court"
    sign_in(page, url, "sam", "supervisor-demo")
    page.get_by_role("link", name="Review").click()
    page.get_by_role("radio", name="Everything the agent did").click()
    expect(page.get_by_text("Change shipping address — Browser test: level 3")).to_be_visible(timeout=30_000)
    page.goto(f"{url}/ticket?ticket=B-L3")
    expect(page.get_by_text("Done by the agent alone")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "supervisor-ticket-level3.png"), full_page=True)
    reverse(page, "the customer has moved again")
    expect(page.get_by_text("The customer was told.")).to_be_visible(timeout=30_000)
    assert order(svc, o["order_id"]).address1 != "5 Cedar Court"
    data = desk.get_ticket(svc.db, "B-L3")
    assert data["messages"][-1]["direction"] == "out" and "reversed" in data["messages"][-1]["body"]
    events = audit.events(svc.db, DEMO_ADMIN, ticket_id="B-L3")
    by_kind = {e.kind: e for e in events}
    assert by_kind["action.executed"].actor == "agent" and by_kind["action.reversed"].actor == "sam"
    assert "reversal.told" in by_kind and audit.verify(svc.db).ok


def test_pdf_upload_shows_progress_and_becomes_citable(app: tuple[str, Services, dict[str, str]],
                                                       browser_page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.test_operations import pdf_bytes

    url, svc, o = app
    sections = [("Saturday Installations", "Installations on Saturdays are available in every region from 8 am "
                 "to 1 pm. A Saturday installation appointment costs nothing extra and is booked like any other "
                 "slot.")]
    sections += [(f"Model Notes {i}", f"Model {i} of the appliance range has its own care notes: clean the "
                  f"filter every {i % 9 + 2} weeks and keep the vents free.") for i in range(1, 120)]
    pdf = tmp_path / "weekend-service-guide.pdf"
    pdf.write_bytes(pdf_bytes("Weekend Service Guide", sections))
    page = browser_page
    sign_in(page, url, "sam", "supervisor-demo")
    page.get_by_role("link", name="Knowledge base").click()
    page.get_by_role("tab", name="Upload").click()
    page.locator("input[type=file]").first.set_input_files(str(pdf))
    expect(page.get_by_role("button", name="Add to the knowledge base")).to_be_enabled(timeout=30_000)
    page.get_by_role("button", name="Add to the knowledge base").click()
    expect(page.get_by_text("Embedding passages")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "kb-upload-progress.png"), full_page=True)
    expect(page.get_by_text("Knowledge base updated")).to_be_visible(timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "kb-uploaded.png"), full_page=True)
    ticket = TicketIn(id="B-3", customer=o["email"], channel="email", subject="Browser test: Saturday installation",
                      created_at=NOW, body="Do you do installations on Saturdays? I work all week and would like my "
                                           "installation appointment on a Saturday morning.")
    desk.add_tickets(svc.db, [ticket], source="test")
    result = svc.pipeline.process(ticket, now=NOW)
    desk.store_result(svc.db, svc.policy(), result)
    assert "weekend-service-guide" in {c.doc_id for c in result.draft.citations}
    page.get_by_role("link", name="Inbox").click()
    page.get_by_role("link", name="Browser test: Saturday installation").click()
    expect(page.get_by_text("Weekend Service Guide — Saturday Installations").first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "kb-cited.png"), full_page=True)


@pytest.fixture
def beacon() -> Iterator[tuple[int, list[str]]]:
    """A local web server that records every request it gets: a tracking image or a clicked link lands here."""
    from tests.servers.stub import Beacon

    server = Beacon()
    yield server.server.server_address[1], server.seen
    server.close()


@pytest.mark.hostile
def test_customer_and_document_markdown_load_nothing_and_link_nowhere(app: tuple[str, Services, dict[str, str]],
                                                                      browser_page: Any,
                                                                      beacon: tuple[int, list[str]]) -> None:
    """A ticket and a knowledge document carrying a tracking image, an HTML image, a link and a bare URL to a local
    beacon: the inbox, the workspace (its citations open), the review queue, the escalations and the knowledge page
    show them, and the beacon receives nothing and the pages hold no anchor or image pointing at it."""
    from playwright.sync_api import expect
    from sqlalchemy import select

    from cx_core import kb_docs
    from cx_core.documents import parse_upload
    from cx_core.policy import Policy
    from cx_core.safe_text import WORD_JOINER
    from cx_core.store.tables import TicketRow
    from domains.lumen.tables import CustomerRow, OrderRow

    url, svc, o = app
    port, seen = beacon
    host = f"127.0.0.1:{port}"
    shown = f"http:{WORD_JOINER}//{host}"  # how a URL in plain text reads on the page: the same, and not a link

    def bait(tag: str) -> str:
        return (f"![x](http://{host}/{tag}.png) <img src=\"http://{host}/{tag}-img.png\"> "
                f"[click here](http://{host}/{tag}-phish) http://{host}/{tag}-bare")

    guide = (f"# Beacon Guide\n\n## Recycling old appliances {bait('heading')}\n\nWe take your old fridge, washer "
             f"or oven away for recycling when we deliver the new one; the haul-away is free. {bait('kb')}\n\n"
             f"- **Book it** on the order page [portal](http://{host}/kb-list)\n")
    kb_docs.ingest(svc.db, svc.kb, [parse_upload("beacon-guide.md", guide.encode())], "sam")
    with svc.db.session() as s:  # a customer of its own: each order's address changes only once
        busy = {o["user_id"], order(svc, o["sampled_order"]).user_id}
        row = s.scalars(select(OrderRow).where(OrderRow.status == "pending", OrderRow.user_id.not_in(busy))
                        .order_by(OrderRow.order_id.desc())).first()
        assert row is not None
        customer = s.get(CustomerRow, row.user_id)
        assert customer is not None
        o2 = {"order_id": row.order_id, "email": customer.email}
    hostile = [TicketIn(id="H-1", customer=o["email"], channel="email", created_at=NOW,
                        subject=f"Old fridge recycling {bait('subject')}",
                        body=f"Will you take my old fridge away for recycling when you deliver the new one? "
                             f"{bait('body')}"),
               TicketIn(id="H-2", customer=o2["email"], channel="email", created_at=NOW, subject="Address change",
                        body=f"Please change the address of {o2['order_id']} to 9 Elm Road, Austin, TX 78703."),
               TicketIn(id="H-3", customer=o["email"], channel="email", created_at=NOW,
                        subject=f"My lawyer will hear of this {bait('escalated')}",
                        body=f"My lawyer is taking legal action about order {o['order_id']}. {bait('esc-body')}")]
    desk.add_tickets(svc.db, hostile, source="test")
    result = svc.pipeline.process(hostile[0], now=NOW)
    assert "beacon-guide" in {c.doc_id for c in result.draft.citations}
    desk.store_result(svc.db, svc.policy(), result)
    raw = svc.policy().model_dump(mode="json")
    raw["review"] = {"sample_rate": 1.0, "risk_above": 1.0}
    sampled = svc.pipeline.process(hostile[1], now=NOW, autonomy=3)
    desk.store_result(svc.db, Policy.model_validate(raw), sampled)
    assert order(svc, o2["order_id"]).address1 == "9 Elm Road"  # done alone, so sampled for review
    with svc.db.tx() as s:  # the subject the reviewer sees (the clean one let the agent act alone)
        row = s.get(TicketRow, "H-2")
        assert row is not None
        row.subject = f"Address change {bait('sampled')}"
    escalated = svc.pipeline.process(hostile[2], now=NOW)
    assert escalated.escalated
    desk.store_result(svc.db, svc.policy(), escalated)
    page = browser_page

    def harmless(where: str) -> None:
        settle(page)  # images and late elements have had their chance to load
        for kind, found in (("a live link to", f"a[href*='{host}']"), ("an image from", f"img[src*='{host}']")):
            where_found = [el.evaluate("e => (e.closest('[data-testid^=st]') || e).getAttribute('data-testid') + ': '"
                                       " + e.outerHTML.slice(0, 160)") for el in page.locator(found).all()]
            assert not where_found, f"{where}: {kind} the beacon in {where_found}"
        assert seen == [], f"{where}: the beacon was called: {seen}"

    def open_expanders() -> None:
        for summary in page.locator("[data-testid='stExpander'] details:not([open]) > summary").all():
            if summary.is_visible():  # not those of another tab
                summary.click()

    sign_in(page, url, "ada", "advisor-demo")
    expect(page.get_by_role("link", name="Old fridge recycling").first).to_be_visible(timeout=30_000)
    assert "![x]" not in page.locator("[data-testid='stMain']").inner_text()  # previews are plain words
    harmless("inbox")
    page.get_by_role("link", name="Old fridge recycling").first.click()
    expect(page.get_by_text("Proposed actions")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"http://{host}/body-bare").first).to_be_visible()  # the message, as st.text
    open_expanders()
    expect(page.get_by_text("the haul-away is free").first).to_be_visible(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "hostile-ticket.png"), full_page=True)
    harmless("workspace")

    sign_in(page, url, "sam", "supervisor-demo")
    page.get_by_role("link", name="Review").click()
    expect(page.get_by_text(f"{shown}/sampled-bare").first).to_be_visible(timeout=30_000)
    harmless("review queue")
    page.get_by_role("tab", name="Escalations").click()
    expect(page.get_by_text(f"{shown}/escalated-bare").first).to_be_visible(timeout=30_000)
    harmless("escalations")
    page.get_by_role("link", name="Knowledge base").click()
    choose(page, "Open a document", "Beacon Guide")
    expect(page.get_by_text("Passages (what the agent retrieves and cites)")).to_be_visible(timeout=30_000)
    kb_bare = page.get_by_text(f"{shown}/kb-bare").filter(visible=True).first
    for _ in range(6):  # a rerun of the page may close an expander again while the passages load
        open_expanders()
        try:
            expect(kb_bare).to_be_visible(timeout=5_000)
            break
        except AssertionError:
            continue
    expect(kb_bare).to_be_visible(timeout=5_000)
    page.screenshot(path=str(ARTIFACTS / "hostile-knowledge.png"), full_page=True)
    harmless("knowledge page")
    page.get_by_role("tab", name="Search").click()
    page.get_by_role("textbox", name="Try a question").fill("recycling my old fridge")
    page.get_by_role("textbox", name="Try a question").press("Enter")
    expect(page.get_by_text("Beacon Guide —").first).to_be_visible(timeout=30_000)
    open_expanders()
    harmless("knowledge search")


def test_workspace_fits_a_laptop_screen_and_an_advisor_adds_an_action(app: tuple[str, Services, dict[str, str]],
                                                                      laptop_page: Any) -> None:
    """At 1366×768 ten inbox rows, the reply and the proposals are on screen without scrolling; an advisor adds the refund the
    agent did not propose, which waits for approval; a resolved ticket shows no countdown and no Release; the
    inbox cuts a long subject at a word and keeps previews free of markup."""
    from playwright.sync_api import expect
    from sqlalchemy import select

    from cx_core.store.tables import TicketRow
    from domains.lumen.tables import CustomerRow, OrderRow

    url, svc, o = app
    with svc.db.session() as s:  # a customer no other journey touches
        busy = {o["user_id"], order(svc, o["sampled_order"]).user_id}
        rows = s.scalars(select(OrderRow).where(OrderRow.status == "delivered", OrderRow.user_id.not_in(busy))
                         .order_by(OrderRow.order_id)).all()
        row = rows[0]
        customer = s.get(CustomerRow, row.user_id)
        assert customer is not None
        email = customer.email
    long_subject = ("Browser test: my parcel arrived with the lid cracked and I would like the money back for the "
                    "whole thing please")
    fresh = [TicketIn(id="W-1", customer=email, channel="email", created_at=NOW, subject=long_subject,
                      body=f"My order {row.order_id} arrived with a cracked lid. I would like the money back, please."),
             TicketIn(id="W-2", customer=email, channel="email", created_at=NOW, subject="Browser test: done already",
                      body=f"Where is my order {row.order_id}?")]
    desk.add_tickets(svc.db, fresh, source="test")
    desk.add_tickets(svc.db, [TicketIn(id=f"W-FILL-{n}", customer=f"reader{n}@example.org", channel="email",
                                       created_at=NOW, subject=f"Browser test: a question, number {n}",
                                       body="When do you deliver on Saturdays?") for n in range(10)], source="test")
    for t in fresh:
        desk.store_result(svc.db, svc.policy(), svc.pipeline.process(t, now=NOW))
    with svc.db.tx() as s:
        done = s.get(TicketRow, "W-2")
        assert done is not None
        done.status, done.assigned_to = "resolved", "ada"
    page = laptop_page
    sign_in(page, url, "ada", "advisor-demo")
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "inbox-1366.png"))
    rows = page.locator(".st-key-inbox-rows [data-testid='stPageLink']").all()
    above = [r for r in rows if (box := r.bounding_box()) and box["y"] + box["height"] <= 768]
    assert len(rows) >= 10 and len(above) >= 10, f"{len(above)} of {len(rows)} tickets above the fold"
    link = page.get_by_role("link", name="Browser test: my parcel arrived")
    expect(link).to_be_visible(timeout=30_000)
    shown = link.inner_text().strip()
    assert shown.endswith("…") and shown[:-1].strip() in long_subject and len(shown) < len(long_subject)
    assert long_subject.startswith(shown[:-1].rstrip())  # cut at a word, never inside one
    link.click()
    expect(page.get_by_text("Proposed actions")).to_be_visible(timeout=30_000)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "workspace-1366.png"))
    reply = page.get_by_role("textbox", name="Suggested reply (edit before sending)")
    for what, el in (("the proposals", page.get_by_text("Proposed actions")),
                     ("the first proposal", page.get_by_role("button", name="Approve").first),
                     ("sending", page.get_by_role("button", name="Send and resolve"))):
        box = el.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 768, f"{what} is below the fold: {box}"
    box = reply.bounding_box()  # the reply's first lines are on the first screen, under the send buttons
    assert box is not None and box["y"] + 110 <= 768, f"the reply is below the fold: {box}"
    page.get_by_role("button", name="Add an action").click()
    choose(page, "Action", "Refund")
    choose(page, "Order", row.order_id)
    page.get_by_role("spinbutton", name="Amount").fill("5")
    page.get_by_role("textbox", name="Reason").fill("goodwill gesture")
    page.get_by_role("button", name="Check and add").click()
    expect(page.get_by_text("Refund added; it waits for approval")).to_be_visible(timeout=30_000)
    added = [p for p in desk.get_ticket(svc.db, "W-1")["proposals"] if p["rationale"].startswith("added by")]
    assert [p["action"] for p in added] == ["refund"] and added[0]["status"] == "pending"
    page.screenshot(path=str(ARTIFACTS / "workspace-added.png"))
    page.goto(f"{url}/ticket?ticket=W-2")  # the session survives the new page load
    expect(page.get_by_text("Browser test: done already").first).to_be_visible(timeout=30_000)
    settle(page)
    main = page.locator("[data-testid='stMain']").inner_text()
    assert " left" not in main and "overdue" not in main
    expect(page.get_by_role("button", name="Release")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "workspace-resolved.png"))


def test_a_customer_follow_up_arrives_live_in_the_workspace(app: tuple[str, Services, dict[str, str]],
                                                            browser_page: Any) -> None:
    from playwright.sync_api import expect

    from cx_core import conversations, worker
    from cx_core.conversations import Inbound

    url, svc, o = app
    conversations.receive(svc.db, Inbound(source="api", ticket_id="B-4", customer=o["email"],
                                          subject="Browser test: a conversation",
                                          body="Hello, how do I pair my smart thermostat with the app?"))
    while worker.process_one(svc, "browser"):
        pass
    page = browser_page
    sign_in(page, url, "ada", "advisor-demo")
    page.goto(f"{url}/ticket?ticket=B-4")
    expect(page.get_by_text("Proposed actions")).to_be_visible(timeout=30_000)
    follow_up = "Thanks. Also, could you send me a copy of my last invoice?"
    conversations.receive(svc.db, Inbound(source="api", ticket_id="B-4", external_id="live-1", body=follow_up))
    expect(page.get_by_text(follow_up)).to_be_visible(timeout=20_000)  # no reload: the thread follows
    expect(page.get_by_text("new: the agent is reading it")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "follow-up-arrived.png"), full_page=True)
    while worker.process_one(svc, "browser"):
        pass
    expect(page.get_by_text("new: the agent is reading it")).to_have_count(0, timeout=20_000)
    expect(page.get_by_text("customer replied").first).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Add an internal note").click()
    page.get_by_role("textbox", name="Note (only staff see it)").fill("Checked the invoice in billing first.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Checked the invoice in billing first.")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "follow-up-read.png"), full_page=True)
    thread = conversations.thread(svc.db, "B-4")
    directions = [m["direction"] for m in thread]
    assert directions.count("in") == 2 and directions[-1] == "note"
    assert desk.get_ticket(svc.db, "B-4")["ticket"]["status"] in {"open", "escalated", "resolved"}


def test_an_answer_that_waits_says_why_and_a_newer_draft_never_replaces_the_advisors(
        app: tuple[str, Services, dict[str, str]], browser_page: Any) -> None:
    from playwright.sync_api import expect

    from cx_core import conversations, worker
    from cx_core.conversations import Inbound

    url, svc, o = app
    conversations.receive(svc.db, Inbound(source="api", ticket_id="B-6", customer=o["email"],
                                          subject="Browser test: paying another way",
                                          body="Hello, can I pay with my Amex instead of the gift card?"))
    while worker.process_one(svc, "browser"):
        pass
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, url, "ada", "advisor-demo")
    page.goto(f"{url}/ticket?ticket=B-6")
    # the question names what the knowledge base never mentions: the answer waits for the advisor, who is told why
    expect(page.get_by_text("Not sent alone:")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("never mentions “Amex”")).to_be_visible()
    reply = page.get_by_role("textbox", name="Suggested reply (edit before sending)")
    mine = "Hello! Yes: American Express cards are welcome, and a pending order can be switched to a saved card."
    reply.fill(mine)
    with rerun_of(page):
        reply.blur()
    follow_up = "Thanks. Also, could you send me a copy of my last invoice?"
    conversations.receive(svc.db, Inbound(source="api", ticket_id="B-6", external_id="live-6", body=follow_up))
    expect(page.get_by_text(follow_up)).to_be_visible(timeout=20_000)
    while worker.process_one(svc, "browser"):
        pass
    # the agent's newer draft is offered beside the advisor's words, never swapped in under them
    expect(page.get_by_text("A newer suggested reply is ready.")).to_be_visible(timeout=30_000)
    expect(reply).to_have_value(mine)
    page.screenshot(path=str(ARTIFACTS / "newer-draft-offered.png"), full_page=False)
    page.get_by_role("button", name="Use the newer reply").click()
    expect(page.get_by_text("A newer suggested reply is ready.")).to_have_count(0, timeout=20_000)
    expect(reply).not_to_have_value(mine)
    assert "invoice" in reply.input_value().lower()
    # an action with many fields: its Edit pop-over fits the laptop screen, its button in view (a customer and an
    # order no other journey touches)
    from sqlalchemy import select

    from domains.lumen.tables import OrderRow

    level3 = find_order(svc, "pending", other_than=(o["user_id"], o["sampled_user"]))["user_id"]  # level-3 journey
    with svc.db.session() as s:
        last = s.scalars(select(OrderRow.user_id).where(OrderRow.status == "pending")
                         .order_by(OrderRow.order_id.desc())).first()  # the outside-text journey's
    mine_only = find_order(svc, "pending", other_than=(o["user_id"], o["sampled_user"], level3, str(last)))
    moved = TicketIn(id="B-7", customer=mine_only["email"], channel="email", subject="Browser test: a new address",
                     created_at=NOW, body=f"Please send order {mine_only['order_id']} to 9 Elm Road, Apt 4, Austin, "
                                          "TX 78704 instead.")
    desk.add_tickets(svc.db, [moved], source="test")
    # read at the copilot level, whatever level another journey set: the change waits for the advisor
    desk.store_result(svc.db, svc.policy(), svc.pipeline.process(moved, now=NOW, autonomy=2))
    page.goto(f"{url}/ticket?ticket=B-7")
    expect(page.get_by_text("Proposed actions")).to_be_visible(timeout=30_000)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "edit-before-1366.png"), full_page=True)
    page.get_by_role("button", name="Edit").first.click()
    button = page.get_by_role("button", name="Approve with changes")
    expect(button).to_be_visible(timeout=20_000)
    box = button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 768, f"the pop-over runs past the screen: {box}"
    page.screenshot(path=str(ARTIFACTS / "edit-popover-1366.png"))
    page.keyboard.press("Escape")
    # sent before the change is decided: the refusal shows at the composer, in view, quoting the sentence it
    # objects to, with the reply it speaks of right below it
    page.goto(f"{url}/ticket?ticket=B-7")
    typed = page.get_by_role("textbox", name="Suggested reply (edit before sending)")
    expect(typed).to_be_visible(timeout=30_000)
    settle(page)
    page.get_by_role("button", name=re.compile(r"^Send")).first.click()
    refused = page.get_by_text(re.compile(r"remove the sentence about it: \"I'm arranging to change the shipping"))
    expect(refused).to_be_visible(timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "send-refused-1366.png"))
    box, below = refused.bounding_box(), typed.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 768, f"the refusal is out of view: {box}"
    assert below is not None and below["y"] > box["y"], "the reply is not at the refusal"
    # the advisor types, then approves: their words stay as typed, the decision's wording is offered beside them
    page.goto(f"{url}/ticket?ticket=B-7")
    expect(typed).to_be_visible(timeout=30_000)
    settle(page)
    mine = typed.input_value().replace("Hi ", "Hello ", 1)  # a touch of the advisor's own; the action's words kept
    typed.fill(mine)
    with rerun_of(page):
        typed.blur()
    with rerun_of(page):
        page.get_by_role("button", name=re.compile(r"^Approve(?! with)")).first.click()
    confirm = page.get_by_role("button", name=re.compile(r"^(?:Approve again to confirm|Yes, do it)"))
    if confirm.count():
        confirm.first.click()
    expect(page.get_by_text("A newer suggested reply is ready.")).to_be_visible(timeout=30_000)
    expect(typed).to_have_value(mine)
    page.screenshot(path=str(ARTIFACTS / "decision-offered-1366.png"))
    page.get_by_role("button", name="Use the newer reply").click()
    expect(typed).to_have_value(re.compile(r"^Hello .*I've changed the shipping address", re.S), timeout=20_000)
    # what they typed and did not send outlives a reload
    kept = typed.input_value() + "\n\nThanks for letting us know in time."
    typed.fill(kept)
    with rerun_of(page):
        typed.blur()
    page.reload()
    expect(page.get_by_role("textbox", name="Suggested reply (edit before sending)")).to_have_value(kept,
                                                                                                   timeout=30_000)


RAW = {"a dict": re.compile(r"\{\s*['\"][A-Za-z_]+['\"]\s*:"),
       "a timestamp": re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),
       "a code word": re.compile(r"(?<![\w./-])[a-z]+(?:_[a-z]+)+(?![\w./-])")}


def raw_on_screen(text: str) -> list[str]:
    """Internals a person should not have to read: dicts, ISO timestamps, snake_case code words."""
    return [f"{what}: {m.group(0)}" for what, rx in RAW.items() for m in rx.finditer(text)]


def test_no_page_shows_dicts_timestamps_or_code_words(app: tuple[str, Services, dict[str, str]],
                                                      browser_page: Any) -> None:
    """Every page an admin reaches, and a ticket with its customer's tabs, read as text: values are written as
    people read them (dates, names, words), never a dict, an ISO timestamp or a code word; only a name set as code,
    which one copies, may look like one."""
    from playwright.sync_api import expect

    url, _, _ = app
    page = browser_page
    sign_in(page, url, "root", "admin-demo")
    found: dict[str, list[str]] = {}

    def read(where: str) -> None:
        settle(page)
        for el in page.locator("[data-testid='stExpander'] summary").all():
            if el.is_visible() and el.get_attribute("aria-expanded") != "true":
                el.click()
        text = page.evaluate("""() => {  // what a person reads: icons (ligature names) are not text
            const main = document.querySelector("[data-testid='stMain']").cloneNode(true);
            // icons, and names set as code: what an admin copies (a command, an action's name)
            main.querySelectorAll("[data-testid='stIconMaterial'], .material-symbols-rounded, [translate='no'], code")
                .forEach(e => e.remove());
            document.body.appendChild(main);
            const text = main.innerText;
            main.remove();
            return text;
        }""")
        grid = " ".join(page.locator("[data-testid='stDataFrame']").all_inner_texts())
        bad = raw_on_screen(text + " " + grid)
        if bad:
            found[where] = sorted(set(bad))

    for address in ("inbox", "knowledge", "review", "insights", "audit", "autonomy", "users", "channels",
                    "actions"):
        page.goto(f"{url}/{address}")
        expect(page.locator("[data-testid='stMain']")).to_be_visible(timeout=30_000)
        read(address)
        for tab in page.get_by_role("tab").all()[1:]:
            tab.click()
            read(f"{address} › {tab.inner_text()}")
    page.goto(f"{url}/ticket?ticket=B-1")
    expect(page.get_by_text("Proposed actions")).to_be_visible(timeout=30_000)
    read("ticket")
    for tab in page.get_by_role("tab").all():
        tab.click()
        read(f"ticket › {tab.inner_text()}")
    edits = page.get_by_role("button", name="Edit")
    for n in range(edits.count()):  # what each proposal's Edit offers: values as people read them too
        edits.nth(n).click()
        form = page.locator("[data-testid='stPopoverBody']").last
        expect(form).to_be_visible(timeout=20_000)
        settle(page)
        if bad := raw_on_screen(form.inner_text()):
            found[f"ticket › Edit {n + 1}"] = sorted(set(bad))
        page.keyboard.press("Escape")
    (ARTIFACTS / "raw-on-screen.json").write_text(json.dumps(found, indent=1))
    assert not found, found


def edit_fits_and_offers_each_choice_once(page: Any, shot: str) -> None:
    """The first proposal's Edit pop-over fits a 1366×768 screen, its button in view, and each of its lists offers
    every choice once, as a person reads it."""
    from playwright.sync_api import expect

    settle(page)
    page.get_by_role("button", name="Edit").first.click()
    form = page.locator("[data-testid='stPopoverBody']").last
    button = form.get_by_role("button", name="Approve with changes")
    expect(button).to_be_visible(timeout=20_000)
    box = button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 768, f"the pop-over runs past the screen: {box}"
    page.screenshot(path=str(ARTIFACTS / shot))
    lists = form.get_by_test_id("stSelectbox")
    expect(lists.first).to_be_visible(timeout=20_000)  # on a busy machine the lists may draw after the button
    for n in range(lists.count()):
        lists.nth(n).locator("input").click()
        page.get_by_role("option").first.wait_for(timeout=10_000)
        offered = page.get_by_role("option").all_inner_texts()
        assert offered and len(offered) == len(set(offered)), offered
        lists.nth(n).locator("input").press("Escape")
    page.keyboard.press("Escape")
    settle(page)


def in_view_above(page: Any, first: Any, then: Any, name: str) -> None:
    """``first`` is on the laptop screen without scrolling, above ``then``; a screenshot named ``name`` is kept."""
    page.screenshot(path=str(ARTIFACTS / name))
    box, below = first.bounding_box(), then.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 768, f"out of view: {box}"
    assert below is not None and below["y"] > box["y"], f"not above what it concerns: {box} / {below}"


def test_a_conflicting_ticket_of_the_same_customer_shows_above_the_proposals(
        app: tuple[str, Services, dict[str, str]], laptop_page: Any) -> None:
    """A newer open ticket of the customer cancels the order this one changes: the advisor reads it first, above
    the proposals, on the first screen."""
    from playwright.sync_api import expect
    from sqlalchemy import select

    from cx_core.store.tables import TicketRow

    url, svc, _ = app
    with svc.db.session() as s:  # a customer no other journey writes about
        busy = tuple(str(c) for c in s.scalars(select(TicketRow.customer_id)) if c)
    o = find_order(svc, "pending", other_than=busy)
    change = TicketIn(id="B-9", customer=o["email"], channel="email", subject="Browser test: new address",
                      created_at=NOW, body=f"Please send order {o['order_id']} to 12 Elm Street, Springfield, "
                                           "IL 62704 instead.")
    cancel = TicketIn(id="B-10", customer=o["email"], channel="email", subject="Cancel my order",
                      created_at=NOW + timedelta(minutes=20),
                      body=f"Please cancel order {o['order_id']}, I don't need it any more.")
    desk.add_tickets(svc.db, [change, cancel], source="test")
    for t, read_at in ((change, NOW), (cancel, cancel.created_at), (change, cancel.created_at + timedelta(minutes=1))):
        # the first read again once the second came, as the queue does
        desk.store_result(svc.db, svc.policy(), svc.pipeline.process(t, now=read_at, autonomy=2))
    assert desk.clash_note(svc.db, "B-9").startswith("The newer ticket “Cancel my order”")
    page = laptop_page
    sign_in(page, url, "ada", "advisor-demo")
    page.goto(f"{url}/ticket?ticket=B-9")
    note = page.get_by_text(re.compile(r"The newer ticket “Cancel my order” of this customer, still open"))
    expect(note).to_be_visible(timeout=30_000)
    settle(page)
    in_view_above(page, note, page.get_by_text("Proposed actions"), "conflict-above-proposals-1366.png")


def test_an_installations_new_time_is_offered_once_each_and_only_after_its_goods(
        app: tuple[str, Services, dict[str, str]], laptop_page: Any) -> None:
    """The Edit of a moved installation at 1366×768: its button in view, each time on offer once (several free
    technicians at one time are one choice), none on or before the day the goods arrive."""
    from sqlalchemy import select

    from cx_core import packs
    from cx_core.store.tables import TicketRow
    from cx_core.wording import day
    from domains.lumen.tables import CustomerRow

    url, svc, _ = app
    records = packs.records(svc.pack)
    with svc.db.session() as s:
        busy = {str(c) for c in s.scalars(select(TicketRow.customer_id)) if c}
        found = [(c.email, a, o) for c in s.scalars(select(CustomerRow).order_by(CustomerRow.user_id))
                 if c.user_id not in busy for snap in [records.snapshot(s, c.user_id, NOW)]
                 for a in snap["appointments"] if a["status"] == "booked" and len(a.get("free_slots") or []) > 3
                 for o in snap["orders"] if o["order_id"] == a["order_id"]]
    assert found, "the demo world has no booked installation with free times"
    email, a, o = found[0]
    if o.get("status") in ("pending", "processed") and o.get("expected_delivery"):
        assert all(str(f["start"])[:10] > str(o["expected_delivery"]) for f in a["free_slots"])
    later = a["free_slots"][-1]["start"][:10]
    moved = TicketIn(id="B-11", customer=email, channel="email", subject="Browser test: another time",
                     created_at=NOW, body=f"Hello, could the technician come for my installation on "
                                          f"{day(later)} instead?")
    desk.add_tickets(svc.db, [moved], source="test")
    desk.store_result(svc.db, svc.policy(), svc.pipeline.process(moved, now=NOW, autonomy=2))
    assert any(p["action"] == "reschedule_appointment" for p in desk.get_ticket(svc.db, "B-11")["proposals"])
    page = laptop_page
    sign_in(page, url, "ada", "advisor-demo")
    page.goto(f"{url}/ticket?ticket=B-11")
    from playwright.sync_api import expect

    expect(page.get_by_text("Proposed actions")).to_be_visible(timeout=30_000)
    edit_fits_and_offers_each_choice_once(page, "new-time-edit-1366.png")
