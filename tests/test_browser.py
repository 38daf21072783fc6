"""A real ``streamlit run`` driven in Debian's headless Chromium: an advisor signs in, opens a ticket,
approves the proposal, sends the reply, and the backend has changed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cx_core import audit, tickets
from cx_core.config import PROJECT_ROOT, Settings
from cx_core.models import TicketIn
from cx_core.services import Services
from tests.conftest import NOW, copy_world
from tests.helpers import find_order, order

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def app(world: Settings, tmp_path: Path) -> Iterator[tuple[str, Services, dict[str, str]]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright")
    settings = copy_world(world, tmp_path / "data")
    svc = Services(settings)
    o = find_order(svc, "pending")
    ticket = TicketIn(id="B-1", customer=o["email"], channel="email", subject="Browser test: new address",
                      created_at=NOW, body=f"Hello, please ship order {o['order_id']} to 12 Oak Street, Austin, "
                                           f"TX 78701 instead. Thanks, {o['first_name']}")
    tickets.add_tickets(svc.db, [ticket], source="test")
    tickets.store_result(svc.db, svc.policy(), svc.pipeline.process(ticket, now=NOW))
    port = _free_port()
    env = {**os.environ, "TANDEM_DATA_DIR": str(settings.data_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start")
        yield url, svc, o
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        svc.close()


def test_advisor_approves_a_proposal_and_sends_the_reply(app: tuple[str, Services, dict[str, str]]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, svc, o = app
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url)
        page.get_by_role("textbox", name="Username").fill("ada")
        page.get_by_role("textbox", name="Password").fill("advisor-demo")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Waiting for the agent")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "advisor-inbox.png"), full_page=True)
        page.get_by_role("link", name="Browser test: new address").click()
        expect(page.get_by_text("Proposed actions")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Change shipping address")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "advisor-ticket.png"), full_page=True)
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_text("executed —")).to_be_visible(timeout=30_000)
        assert order(svc, o["order_id"]).address1 == "12 Oak Street"
        page.get_by_role("button", name="Send reply and resolve").click()
        expect(page.get_by_text("Reply sent.")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "advisor-resolved.png"), full_page=True)
        browser.close()
    kinds = [e.kind for e in audit.events(svc.db, ticket_id="B-1")]
    assert {"proposal.approved", "action.executed", "ticket.resolved"} <= set(kinds)
    assert tickets.get_ticket(svc.db, "B-1")["ticket"]["status"] == "resolved"
    assert audit.verify(svc.db).ok
