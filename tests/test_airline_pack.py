"""The airline pack on the same engine: its demo world, recipes, pages, a browser journey and its τ-bench
evaluation, with the engine unchanged. Each test leaves the demo company's pack in force again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from cx_core import desk, domain, packs, recipe_book
from cx_core.access import StaffUser
from cx_core.actions.base import REGISTRY
from cx_core.auth import create_user
from cx_core.config import PROJECT_ROOT, Settings, load_settings
from cx_core.models import Decision, Role, TicketIn
from cx_core.services import Services
from cx_core.setup import build_demo
from domains.airline import demo as airline_demo
from tests.conftest import WORLD_DAY
from tests.helpers import running_app, settle

NOW = datetime(2026, 11, 18, 14, 0)
PACK_DIR = PROJECT_ROOT / "domains" / "airline"


@pytest.fixture(scope="module")
def airline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The airline's demo world, knowledge and classifier, built once (no tickets yet)."""
    settings = load_settings(domain="airline", data_dir=tmp_path_factory.mktemp("airline"), database_url="")
    svc = Services(settings)
    build_demo(svc, tickets_n=0, process=False, quiet=True, today=WORLD_DAY)
    for role in Role:
        create_user(svc.db, f"test-{role.value}", f"Test {role.value}", role, "password-123")
    svc.close()
    yield settings
    packs.use(domain.find(domain.DEFAULT_DOMAIN))


@pytest.fixture
def svc(airline: Settings) -> Iterator[Services]:
    s = Services(airline)
    yield s
    s.close()
    packs.use(domain.find(domain.DEFAULT_DOMAIN))


def test_the_pack_is_complete_and_its_recipes_name_only_what_it_has() -> None:
    pack = domain.find("airline")
    assert pack.title == "Horizon Air Travel" and pack.brand.signature.endswith("Customer Care")
    packs.put_in_force(pack)
    resolvers = getattr(pack.module("planner"), "RESOLVERS", {})
    assert recipe_book.problems(PACK_DIR / "recipes.yaml", REGISTRY, pack.task_types, resolvers) == []
    known = packs.vocabulary(pack)
    assert {"cancel_reservation", "send_certificate", "send_reply"} <= known.actions
    assert "refund" not in known.actions  # the demo company's actions are not the airline's
    packs.use(domain.find(domain.DEFAULT_DOMAIN))


def test_scenario_tickets_are_read_as_their_task_type(svc: Services) -> None:
    rows = [json.loads(line) for line in (PACK_DIR / "scenarios.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    right = sum(svc.triager.triage(r["subject"], r["body"], today=NOW.date()).task_type == r["expect_task_type"]
                for r in rows)
    assert len(rows) >= 40 and right / len(rows) >= 0.85, f"{right} of {len(rows)}"


def test_cancellations_follow_the_airlines_rules_and_nothing_acts_before_approval(svc: Services) -> None:
    with svc.db.session() as s:
        made = airline_demo.demo_tickets(s, 72, seed=3, now=NOW)
    cancels = [t for t in made if t["task_type"] == "cancel_booking"][:8]
    assert {t["expected"] for t in cancels} == {"allowed", "refused"}
    for t in cancels:
        ticket = TicketIn(id=t["id"], customer=t["customer"], channel="email", subject=t["subject"], body=t["body"],
                          created_at=NOW)
        desk.add_tickets(svc.db, [ticket], source="test")
        result = svc.pipeline.process(ticket, now=NOW)
        desk.store_result(svc.db, svc.policy(), result)
        [cancel] = [p for p in result.proposals if p.action == "cancel_reservation"]
        assert cancel.args["reservation_id"] == t["reservation_id"]
        if t["expected"] == "allowed":
            assert cancel.decision == Decision.needs_approval, cancel.reason
            # what goes and what comes back, as the knowledge base asks: the flights and the amount paid
            assert re.search(rf"cancellation of reservation {t['reservation_id']}(?: \(HAT\d+.* on \w+day \d+ \w+\))?, "
                             r"and the \$[\d,.]+ you paid will go back", result.draft.reply), result.draft.reply
        else:
            assert cancel.decision == Decision.denied and cancel.refused_by == "invariant"
            assert "cannot be cancelled" in cancel.reason or "already" in cancel.reason
        assert result.draft.reply.rstrip().endswith("Horizon Air Travel Customer Care")
        assert "order" not in result.draft.reply.lower()  # no word of the demo company's business
    with svc.db.session() as s:
        from domains.airline.tables import AirlineReservationRow

        assert all(s.get(AirlineReservationRow, t["reservation_id"]).status != "cancelled"  # type: ignore[union-attr]
                   for t in cancels if t["expected"] == "allowed")


def test_a_booking_named_from_another_address_is_explained_not_asked_for_again(svc: Services) -> None:
    """The sender's address is on no account, but the message gives a booking code: the reply says why nothing is
    done from here (identified, not verified) instead of asking for the reference the customer just gave."""
    from sqlalchemy import select

    from domains.airline.tables import AirlineReservationRow

    with svc.db.session() as s:
        code = s.scalars(select(AirlineReservationRow.reservation_id).order_by(AirlineReservationRow.reservation_id)
                         ).first()
    ticket = TicketIn(id="AIR-ELSEWHERE", customer="someone.else@example.org", channel="email",
                      subject="Cancel my trip", body=f"Please cancel my reservation {code}, I can no longer travel.",
                      created_at=NOW)
    desk.add_tickets(svc.db, [ticket], source="test")
    result = svc.pipeline.process(ticket, now=NOW)
    reply = result.draft.reply
    assert "another email address" in reply and "could not match" not in reply
    assert "send your reference" not in reply and not result.executed_writes()


def test_a_flight_the_airline_cancelled_is_spoken_of_after_another_answer_and_first_when_written_about(
        svc: Services) -> None:
    """A member writes about anything; a flight of theirs that the airline cancelled is spoken of, with what they
    may do about it: after the answer to what they asked, and first when they write about that booking."""
    from sqlalchemy import select

    from cx_core.store.tables import TicketRow
    from domains.airline.disruptions import disrupted
    from domains.airline.tables import AirlineUserRow

    def _said(news: list[Any]) -> list[str]:
        return [d.sentence() for d in news]

    records = packs.records(svc.pack)
    with svc.db.session() as s:  # a member with no other open ticket (whose reply would tell of it already)
        busy = set(s.scalars(select(TicketRow.customer_id).where(TicketRow.status.in_(("open", "escalated",
                                                                                      "waiting")))))
        users = s.scalars(select(AirlineUserRow).order_by(AirlineUserRow.user_id)).all()
        hit = next(((u, notes, snap) for u in users if u.user_id not in busy
                    and (notes := _said(disrupted(snap := records.snapshot(s, u.user_id, NOW))))
                    and "cancelled by us" in notes[0]), None)
    assert hit is not None, "the demo world has a member with a flight the airline cancelled"
    member, notes, snap = hit
    ticket = TicketIn(id="AIR-DISRUPTED", customer=member.email, channel="email", subject="Baggage question",
                      body="How many checked bags can I take for free?", created_at=NOW)
    desk.add_tickets(svc.db, [ticket], source="test")
    reply = svc.pipeline.process(ticket, now=NOW).draft.reply
    assert notes[0] in reply and "cancelled by us" in reply and "full refund" in reply
    paragraphs = reply.split("\n\n")
    assert notes[0] not in paragraphs[1] and notes[0] in paragraphs[-2]  # the answer first, then the news
    rid = next(r["reservation_id"] for r in snap["reservations"] if r["reservation_id"] in notes[0])
    ticket = TicketIn(id="AIR-DISRUPTED-2", customer=member.email, channel="email", subject="",
                      body=f"What is happening with reservation {rid}?", created_at=NOW)
    desk.add_tickets(svc.db, [ticket], source="test")
    reply = svc.pipeline.process(ticket, now=NOW).draft.reply
    assert notes[0] in reply.split("\n\n")[1]  # the booking written about: first, right after the greeting


def _signed_in(role: Role) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = StaffUser(f"test-{role.value}", f"Test {role.value}", role)
    return at


def test_the_pages_serve_the_airline(svc: Services, airline: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    with svc.db.session() as s:
        [t] = [x for x in airline_demo.demo_tickets(s, 9, seed=5, now=NOW) if x["task_type"] == "add_baggage"][:1]
    ticket = TicketIn(id="AIR-PAGE-1", customer=t["customer"], channel="email", subject=t["subject"], body=t["body"],
                      created_at=NOW)
    desk.add_tickets(svc.db, [ticket], source="test")
    desk.store_result(svc.db, svc.policy(), svc.pipeline.process(ticket, now=NOW))
    monkeypatch.setenv("TANDEM_DOMAIN", "airline")
    monkeypatch.setenv("TANDEM_DATA_DIR", str(airline.data_dir))
    st.cache_resource.clear()
    try:
        inbox = _signed_in(Role.advisor).run()
        assert not inbox.exception
        at = _signed_in(Role.advisor)
        at.query_params["ticket"] = "AIR-PAGE-1"
        at.switch_page("pages/workspace.py").run()
        assert not at.exception
        shown = " ".join(str(m.value) for m in at.markdown)
        assert t["reservation_id"] in shown
        for role, page in ((Role.supervisor, "pages/review.py"), (Role.admin, "pages/autonomy.py"),
                           (Role.supervisor, "pages/insights.py")):
            other = _signed_in(role)
            other.switch_page(page).run()
            assert not other.exception, page
    finally:
        st.cache_resource.clear()


def needs_a_browser() -> None:
    from tests.test_browser import CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright")


def allowed_tickets(svc: Services, now: datetime, task: str, fits: Any) -> list[dict[str, Any]]:
    """The demo's tickets of ``task`` that the rules allow on the real clock and that ``fits`` keeps, over many seeds."""
    with svc.db.session() as s:
        return [x for seed in range(11, 41) for x in airline_demo.demo_tickets(s, 18, seed=seed, now=now)
                if x["task_type"] == task and x["expected"] == "allowed" and fits(x)]


def advisors_words_stay(page: Any, svc: Services, ticket_id: str) -> None:
    """What the advisor typed stays while the customer writes again and the agent reads it: the newer draft is
    offered beside it, never swapped in."""
    from playwright.sync_api import expect

    from cx_core import conversations, worker
    from cx_core.conversations import Inbound
    from tests.helpers import rerun_of
    from tests.test_browser import ARTIFACTS

    reply = page.get_by_role("textbox", name="Suggested reply (edit before sending)")
    expect(reply).to_be_visible(timeout=30_000)
    settle(page)
    mine = "Hello! The names on your booking are corrected now; your boarding passes will show them."
    reply.fill(mine)
    with rerun_of(page):
        reply.blur()
    follow_up = "Thanks! And how many checked bags can I bring on that booking?"
    conversations.receive(svc.db, Inbound(source="api", ticket_id=ticket_id, external_id=f"{ticket_id}-2",
                                          body=follow_up))
    expect(page.get_by_text(follow_up)).to_be_visible(timeout=20_000)
    while worker.process_one(svc, "browser"):
        pass
    expect(page.get_by_text("A newer suggested reply is ready.")).to_be_visible(timeout=30_000)
    expect(reply).to_have_value(mine)
    page.screenshot(path=str(ARTIFACTS / "airline-newer-draft-offered-1366.png"))


def clashing_tickets(svc: Services, found: list[dict[str, Any]], at: datetime) -> str:
    """A cancellation (for a reason that lasts, not a flight we cancelled) and, ten minutes later, the same
    customer's message asking for a bag on that booking, both stored as the queue stores them: the cancellation's
    id."""
    t = next(x for x in found if "cancelled by the airline" not in str(x.get("why")))
    cancel = TicketIn(id="AIR-C-1", customer=t["customer"], channel="email", subject="Browser test: change of plan",
                      body=t["body"], created_at=at - timedelta(minutes=15))
    bags = TicketIn(id="AIR-C-2", customer=t["customer"], channel="email", subject="Bags", created_at=at - timedelta(
        minutes=5), body=f"Please add one checked bag to my booking {t['reservation_id']}, thanks.")
    desk.add_tickets(svc.db, [cancel, bags], source="test")
    for ticket, read_at in ((cancel, at - timedelta(minutes=15)), (bags, at - timedelta(minutes=5)),
                            (cancel, at - timedelta(minutes=4))):  # the first read again once the second came
        desk.store_result(svc.db, svc.policy(), svc.pipeline.process(ticket, now=read_at))
    assert desk.clash_note(svc.db, cancel.id).startswith("The newer ticket “Bags”"), desk.clash_note(svc.db, cancel.id)
    return cancel.id


@pytest.mark.browser
def test_an_advisor_approves_an_airline_proposal_in_the_browser(svc: Services, airline: Settings) -> None:
    from tests.test_browser import (
        ARTIFACTS,
        CHROMIUM,
        FLAGS,
        edit_fits_and_offers_each_choice_once,
        in_view_above,
        sign_in,
    )

    needs_a_browser()
    from playwright.sync_api import expect, sync_playwright

    # approved on the real clock, by an advisor: a cancellation the rules allow for a reason that lasts (a business
    # cabin, cover, a flight we cancelled; never one allowed only within 24 hours of booking, which may run out
    # meanwhile) and whose refund is within an advisor's limit
    now = datetime.now(UTC)
    at = now.replace(tzinfo=None)
    found = allowed_tickets(svc, now, "cancel_booking", lambda x: "within the last 24 hours" not in str(x.get("why")))
    for n, t in enumerate(found):
        ticket = TicketIn(id=f"AIR-B-{n}", customer=t["customer"], channel="email",
                          subject="Browser test: cancel booking", body=t["body"], created_at=at)
        result = svc.pipeline.process(ticket, now=at)
        if all(p.required_role == Role.advisor for p in result.proposals):
            desk.add_tickets(svc.db, [ticket], source="test")
            desk.store_result(svc.db, svc.policy(), svc.pipeline.process(ticket, now=at))
            break
    else:
        pytest.fail("the demo world has no cancellation an advisor may approve for good")
    clashing = clashing_tickets(svc, [x for x in found if x["customer"] != t["customer"]], at)
    with running_app({"TANDEM_DOMAIN": "airline", "TANDEM_DATA_DIR": str(airline.data_dir)}) as url, \
            sync_playwright() as p:
        ARTIFACTS.mkdir(exist_ok=True)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(url)  # the sign-in page names the pack in force, never the demo shop
        expect(page.get_by_text("Horizon Air Travel customer care")).to_be_visible(timeout=30_000)
        assert "Lumen" not in page.inner_text("body")
        sign_in(page, url, "ada", "advisor-demo")
        page.get_by_role("link", name="Browser test: cancel booking").click()
        expect(page.get_by_text("Proposed actions")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "airline-ticket.png"), full_page=True)
        # sent before the cancellation is decided: refused at the composer, in view, quoting the sentence
        reply = page.get_by_role("textbox", name="Suggested reply (edit before sending)")
        expect(reply).to_have_value(re.compile(r"I'm arranging the cancellation"), timeout=30_000)
        page.wait_for_timeout(500)
        page.get_by_role("button", name=re.compile(r"^Send")).first.click()
        refused = page.get_by_text(re.compile(r"remove the sentence about it: \"[^\"]*arranging the cancellation"))
        expect(refused).to_be_visible(timeout=20_000)
        box = refused.bounding_box()
        page.screenshot(path=str(ARTIFACTS / "airline-send-refused-1366.png"))
        assert box is not None and box["y"] + box["height"] <= 768, f"the refusal is out of view: {box}"
        edit_fits_and_offers_each_choice_once(page, "airline-edit-popover-1366.png")
        page.get_by_role("button", name="Approve").first.click()
        expect(page.get_by_text("This action cannot be undone")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Yes, do it").click()  # a cancellation is confirmed first
        expect(page.get_by_text("Executed:")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "airline-approved.png"), full_page=True)
        # a newer ticket of another customer's asks for bags on the booking their older one cancels: read first
        page.goto(f"{url}/ticket?ticket={clashing}")
        note = page.get_by_text(re.compile(r"The newer ticket “Bags” of this customer, still open, asks for something"))
        expect(note).to_be_visible(timeout=30_000)
        settle(page)
        in_view_above(page, note, page.get_by_text("Proposed actions"), "airline-conflict-above-proposals-1366.png")
        browser.close()
    from domains.airline.tables import AirlineReservationRow

    with svc.db.session() as s:
        row = s.get(AirlineReservationRow, t["reservation_id"])
        assert row is not None and row.status == "cancelled"


def test_eval_actions_on_tau_bench_airline_meets_its_targets(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "tau_bench" / "airline"
    env = {**os.environ, "TANDEM_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("TANDEM_DOMAIN", None)
    out = subprocess.run([sys.executable, "-m", "cx_core", "eval", "actions", "--domain", "airline", "--db",
                          str(folder), "--tasks", str(folder / "tasks_train.json"), "--json"], env=env,
                         capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900)
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    assert set(result) == {"n", "proposed", "exact", "precision", "coverage", "db_match", "policy_violations",
                           "request_recall", "request_precision", "requests", "requests_proposed", "requests_read",
                           "halves", "split_seed"}
    assert result["halves"]["tune"]["n"] + result["halves"]["check"]["n"] == result["n"]
    assert result["n"] == 30 and result["policy_violations"] == 0
    assert result["precision"] >= 0.95 and result["coverage"] >= 0.25
    # the per-request view: every expected write but a transfer to a person is a request
    assert 0.0 <= result["request_recall"] <= 1.0 and 0.0 <= result["request_precision"] <= 1.0
    assert 0 <= result["requests_read"] <= min(result["requests"], result["requests_proposed"])
    assert result["requests"] == 26 and result["request_precision"] >= 0.95


@pytest.mark.browser
def test_the_travellers_of_a_name_change_are_edited_as_a_table_of_names_and_dates(svc: Services,
                                                                                  airline: Settings) -> None:
    """The Edit of a passenger change shows each traveller as a row (first name, last name, date of birth as a
    date), never a dict; approving it unchanged writes the travellers the agent proposed."""
    from tests.test_browser import ARTIFACTS, CHROMIUM, FLAGS, raw_on_screen, sign_in

    needs_a_browser()
    from playwright.sync_api import expect, sync_playwright

    now = datetime.now(UTC)
    at = now.replace(tzinfo=None)
    found = allowed_tickets(svc, now, "change_passenger", lambda x: bool(x.get("passenger")))
    assert found, "the demo world has no name change the rules allow"
    t = found[0]
    ticket = TicketIn(id="AIR-PAX", customer=t["customer"], channel="email", subject="Browser test: name change",
                      body=t["body"], created_at=at)
    desk.add_tickets(svc.db, [ticket], source="test")
    desk.store_result(svc.db, svc.policy(), svc.pipeline.process(ticket, now=at))
    proposed = next(p for p in desk.get_ticket(svc.db, "AIR-PAX")["proposals"]
                    if p["action"] == "update_reservation_passengers")
    with running_app({"TANDEM_DOMAIN": "airline", "TANDEM_DATA_DIR": str(airline.data_dir)}) as url, \
            sync_playwright() as p:
        ARTIFACTS.mkdir(exist_ok=True)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        sign_in(page, url, "ada", "advisor-demo")
        page.get_by_role("link", name="Browser test: name change").click()
        expect(page.get_by_text("Proposed actions")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Edit").first.click()
        form = page.locator("[data-testid='stPopoverBody']")
        expect(form.get_by_text("one row each")).to_be_visible(timeout=30_000)
        grid = form.locator("[data-testid='stDataFrame']")
        expect(grid).to_be_visible()
        text = form.inner_text() + " " + " ".join(grid.all_inner_texts())
        page.screenshot(path=str(ARTIFACTS / "airline-passengers-edit.png"))
        assert "{" not in text and "first_name" not in text and not raw_on_screen(text), text
        form.get_by_role("button", name="Approve with changes").click()
        expect(page.get_by_text("Executed:").first).to_be_visible(timeout=30_000)
        advisors_words_stay(page, svc, "AIR-PAX")
        browser.close()
    from domains.airline.tables import AirlineReservationRow

    with svc.db.session() as s:
        row = s.get(AirlineReservationRow, t["reservation_id"])
        assert row is not None
        assert [dict(x) for x in row.passengers] == [
            {k: str(v) for k, v in x.items()} for x in proposed["args"]["passengers"]]
