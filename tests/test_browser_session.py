"""A browser session behaves like one, in Debian's headless Chromium against a real ``streamlit run``: signing in
survives a reload and opens new tabs signed in; signing out in one tab signs every tab out; a link to a ticket
opened while signed out opens that ticket after sign-in; a new role applies at the next reload and a deactivated
account is signed out by it. The sign-in page lists no pages."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cx_core import auth, desk
from cx_core.access import StaffUser
from cx_core.config import PROJECT_ROOT, Settings
from cx_core.models import Role, TicketIn
from cx_core.services import Services
from tests.conftest import NOW, copy_world
from tests.helpers import running_app

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
ADMIN = StaffUser("root", "Robin Admin", Role.admin)
SUBJECT = "Session test: where is my parcel"
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def app(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Services]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright")
    settings = copy_world(world, tmp_path_factory.mktemp("browser-session") / "data")
    svc = Services(settings)
    desk.add_tickets(svc.db, [TicketIn(id="S-1", channel="email", subject=SUBJECT, created_at=NOW,
                                          body="Hello, my parcel has not arrived yet. Where is it?")], source="test")
    auth.create_user(svc.db, "kim", "Kim Advisor", Role.advisor, "kim-password-1")
    try:
        with running_app({"TANDEM_DATA_DIR": str(settings.data_dir)}) as url:
            yield url, svc
    finally:
        svc.close()


@pytest.fixture
def browser(app: tuple[str, Services]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def new_tab(context: Any, url: str) -> Any:
    page = context.new_page()
    page.goto(url)
    return page


def sign_in_form(page: Any) -> Any:
    return page.get_by_role("button", name="Sign in")


def signed_in_as(page: Any, name: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stSidebar").get_by_text(name)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def signed_out(page: Any) -> None:
    from playwright.sync_api import expect

    expect(sign_in_form(page)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)  # no page list, no module names


def sign_in(page: Any, username: str, password: str) -> None:
    from playwright.sync_api import expect

    expect(sign_in_form(page)).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    sign_in_form(page).click()


def session_cookie(context: Any, url: str) -> dict[str, Any] | None:
    found = [c for c in context.cookies(url) if c["name"].startswith("tandem_session_")]
    assert len(found) <= 1
    return found[0] if found else None


def wait_for_cookie(page: Any, context: Any, url: str, present: bool) -> dict[str, Any] | None:
    for _ in range(50):
        cookie = session_cookie(context, url)
        if (cookie is not None) == present:
            return cookie
        page.wait_for_timeout(200)
    pytest.fail(f"the session cookie was {'never written' if present else 'not removed'}")


def test_first_visit_shows_the_sign_in_page_alone(app: tuple[str, Services], browser: Any) -> None:
    from playwright.sync_api import expect

    url, _ = app
    # the first visit since the app started, at a page's own address: the sign-in page, never the files in pages/
    page = new_tab(browser.new_context(viewport={"width": 1280, "height": 800}), f"{url}/users")
    signed_out(page)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    for module in ("audit log", "common", "workspace", "users", "Page not found"):
        expect(page.get_by_text(module, exact=True)).to_have_count(0)
    page.goto(url)
    signed_out(page)
    page.screenshot(path=str(ARTIFACTS / "session-sign-in.png"), full_page=True)


def test_a_session_survives_reloads_and_new_tabs_and_sign_out_ends_it_everywhere(
        app: tuple[str, Services], browser: Any) -> None:
    from playwright.sync_api import expect

    url, svc = app
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    first = new_tab(context, url)
    sign_in(first, "ada", "advisor-demo")
    signed_in_as(first, "Ada Advisor")
    cookie = wait_for_cookie(first, context, url, present=True)
    assert cookie is not None
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/" and cookie["domain"] == "127.0.0.1"
    assert cookie["httpOnly"] and "tandem_session_" not in first.evaluate("document.cookie")  # no script reads it
    assert cookie["expires"] > 0  # kept when the browser closes, until the session expires

    first.reload()
    signed_in_as(first, "Ada Advisor")
    second = new_tab(context, url)
    signed_in_as(second, "Ada Advisor")
    first.get_by_role("link", name="Knowledge base").click()
    expect(first).to_have_url(f"{url}/knowledge", timeout=TIMEOUT)
    first.reload()  # a reload keeps the page the person was on
    signed_in_as(first, "Ada Advisor")
    expect(first).to_have_url(f"{url}/knowledge")
    first.screenshot(path=str(ARTIFACTS / "session-after-reload.png"), full_page=True)

    second.get_by_role("button", name="Sign out").click()
    signed_out(second)
    wait_for_cookie(second, context, url, present=False)
    first.get_by_role("link", name="Inbox").click()  # the other tab, still open: its next click signs it out
    signed_out(first)
    first.reload()
    signed_out(first)
    assert auth.refresh(svc.db, StaffUser("ada", "Ada Advisor", Role.advisor)) is not None  # the account is fine

    sign_in(first, "ada", "advisor-demo")  # signing in again works, and a new tab follows
    signed_in_as(first, "Ada Advisor")
    wait_for_cookie(first, context, url, present=True)
    signed_in_as(new_tab(context, url), "Ada Advisor")
    context.close()


def test_a_ticket_link_opened_while_signed_out_opens_that_ticket_after_sign_in(
        app: tuple[str, Services], browser: Any) -> None:
    from playwright.sync_api import expect

    url, _ = app
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = new_tab(context, f"{url}/ticket?ticket=S-1")
    signed_out(page)
    sign_in(page, "ada", "advisor-demo")
    expect(page.get_by_role("heading", name=SUBJECT)).to_be_visible(timeout=TIMEOUT)
    expect(page).to_have_url(f"{url}/ticket?ticket=S-1")
    signed_in_as(page, "Ada Advisor")
    page.screenshot(path=str(ARTIFACTS / "session-deep-link.png"), full_page=True)
    wait_for_cookie(page, context, url, present=True)
    other = new_tab(context, f"{url}/ticket?ticket=S-1")  # signed in already: the link opens at once
    expect(other.get_by_role("heading", name=SUBJECT)).to_be_visible(timeout=TIMEOUT)
    context.close()


def test_a_new_role_applies_at_the_next_reload_and_deactivation_signs_out(
        app: tuple[str, Services], browser: Any) -> None:
    from playwright.sync_api import expect

    url, svc = app
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = new_tab(context, url)
    sign_in(page, "kim", "kim-password-1")
    signed_in_as(page, "Kim Advisor")
    expect(page.get_by_role("link", name="Review")).to_have_count(0)
    wait_for_cookie(page, context, url, present=True)

    auth.update_user(svc.db, ADMIN, "kim", role=Role.supervisor)
    page.reload()
    signed_in_as(page, "Kim Advisor")
    expect(page.get_by_role("link", name="Review")).to_be_visible(timeout=TIMEOUT)

    auth.update_user(svc.db, ADMIN, "kim", active=False)
    page.reload()
    signed_out(page)
    wait_for_cookie(page, context, url, present=False)  # the ended session's cookie is dropped too
    sign_in(page, "kim", "kim-password-1")
    expect(page.get_by_text("Wrong username or password.")).to_be_visible(timeout=TIMEOUT)
    context.close()
