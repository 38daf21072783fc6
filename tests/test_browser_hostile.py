"""Every page and error path of a real ``python app.py``, walked in Debian's Chromium as an admin, with hostile
values in every field a stranger controls: the ticket's sender, subject and text (through the API and by e-mail),
an advisor's query string (before and after sign-in), an uploaded file's name, a delivery failure's text and a
team's service's answer and error (the Actions page's "Try it"). Each value carries a tracking image, an HTML image,
a phishing link and a bare URL aimed at a local beacon; the service also echoes the secrets it was sent. The walk
counts the beacon's requests and every live link or image on each page: 0 and 0, and no secret on any page."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from sqlalchemy import select

from cx_core import api_tokens, worker
from cx_core.channels import email as mailbox
from cx_core.config import Settings
from cx_core.conversations import Inbound, receive
from cx_core.services import Services
from cx_core.store.db import utcnow
from cx_core.store.tables import NotificationRow, TicketRow
from tests.conftest import copy_world
from tests.helpers import running_app, settle
from tests.servers.stub import Beacon, JsonHandler
from tests.test_browser import ARTIFACTS, CHROMIUM, FLAGS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.hostile]
LINK_WORDS, IMAGE_ALT = "Verify your account", "tracking-pixel"
TOKEN, SEGMENT = "hx-Tk7Qw9Zr3Lp", "Hk4Seg8Wq2Zx"


def bait(host: str, tag: str) -> str:
    return (f"![{IMAGE_ALT}](http://{host}/{tag}.png) <img src=\"http://{host}/{tag}-img.png\"> "
            f"[{LINK_WORDS}](http://{host}/{tag}-phish) http://{host}/{tag}-bare")


def forms(value: str) -> list[str]:
    hexed = value.encode().hex()
    return [value, value.upper(), value.lower(), quote(quote(value, safe=""), safe=""), hexed, hexed.upper(),
            base64.b64encode(value.encode()).decode()]


def _service(host: str) -> ThreadingHTTPServer:
    """A team's notes system that answers with hostile text and echoes the token and its own secret path."""

    class Notes(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802
            echoed = f"{self.headers.get('Authorization')} on {', '.join(forms(SEGMENT))}"
            if self.path.endswith("/notes/N-1"):
                self._answer(200, {"note": bait(host, "service"), "seen": echoed, "link": f"http://{host}/svc"})
            else:
                self._answer(502, {"detail": f"{bait(host, 'service-error')} {echoed} {', '.join(forms(TOKEN))}"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Notes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _actions_file(folder: Path) -> Path:
    path = folder / "actions.yaml"
    note_id = {"note_id": {"type": "string", "examples": ["N-1"]}}
    path.write_text(yaml.safe_dump({
        "services": {"notes": {"base_url": "${HOSTILE_URL}", "allowed_hosts": ["127.0.0.1"],
                               "headers": {"Authorization": "Bearer ${HOSTILE_TOKEN}"}, "timeout": 5}},
        "actions": [{"name": "read_team_note", "label": "Read a team note", "description": "Read a note.",
                     "effect": "read", "service": "notes", "method": "GET", "path": "/notes/{note_id}",
                     "arguments": {"type": "object", "required": ["note_id"], "properties": note_id}}]},
        sort_keys=False))
    return path


@pytest.fixture(scope="module")
def hostile(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A copy of the demo world holding hostile tickets (API and e-mail), a failed delivery with a hostile reason,
    and the app running with a declared read on a hostile service."""
    from fastapi.testclient import TestClient

    from cx_core.api import create_app

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright")
    beacon = Beacon()
    service = _service(beacon.host)
    folder = tmp_path_factory.mktemp("hostile")
    settings = copy_world(world, folder / "data")
    svc = Services(settings)
    host = beacon.host
    _, token = api_tokens.create(svc.db, "hostile-test", "root")
    with TestClient(create_app(svc)) as api:  # through the API: every field a stranger sets
        made = api.post("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}, json={
            "id": "HX-API", "customer": f"[{LINK_WORDS}](http://{host}/sender-phish) ![{IMAGE_ALT}](http://{host}/s.png)",
            "channel": "email", "subject": f"Refund {bait(host, 'subject')}", "body": f"Hello {bait(host, 'body')}"})
        assert made.status_code == 201, made.text
    raw = (f"From: \"{LINK_WORDS} ![{IMAGE_ALT}](http://{host}/from.png)\" <mallory@evil.test>\r\n"
           f"Message-ID: <hx-1@evil.test>\r\nSubject: Order {bait(host, 'mail-subject')}\r\n\r\n"
           f"Where is my order? {bait(host, 'mail-body')}").encode()
    by_mail = mailbox.parse(raw)
    assert by_mail is not None
    mail_ticket = receive(svc.db, by_mail).ticket_id
    receive(svc.db, Inbound(source="api", ticket_id="HX-API", customer=None, body=f"Again {bait(host, 'follow')}"))
    while worker.process_one(svc, "test"):
        pass
    with svc.db.tx() as s:  # a reply that could not be delivered, the destination's reason quoting the bait
        s.add(NotificationRow(recipient=f"[{LINK_WORDS}](http://{host}/to)", channel="email", kind="reply",
                              subject="Re: order", body="Hello", ticket_id="HX-API", created_at=utcnow(),
                              destination="email", status="failed", idempotency_key="hx-failed", headers={},
                              attempts=12, next_attempt_at=utcnow(), last_error=f"550 {bait(host, 'delivery')}"))
        ticket_ids = list(s.scalars(select(TicketRow.id).where(TicketRow.id.in_(["HX-API", mail_ticket]))))
    env = {"TANDEM_DATA_DIR": str(settings.data_dir), "TANDEM_ACTIONS_FILE": str(_actions_file(folder)),
           "TANDEM_HOSTILE_URL": f"http://127.0.0.1:{service.server_address[1]}/hooks/{SEGMENT}",
           "TANDEM_HOSTILE_TOKEN": TOKEN}
    try:
        with running_app(env) as url:
            yield {"url": url, "beacon": beacon, "tickets": ticket_ids, "folder": folder, "svc": svc}
    finally:
        service.shutdown()
        beacon.close()
        svc.close()


def test_no_page_or_error_path_loads_or_links_anything_a_stranger_wrote(hostile: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, beacon = hostile["url"], hostile["beacon"]
    report: dict[str, dict[str, int]] = {}
    ARTIFACTS.mkdir(exist_ok=True)

    def harmless(page: Any, where: str) -> None:
        settle(page)  # images and late elements have had their chance to load
        # a link the page wrote from a stranger's Markdown: aimed at the beacon, or with the bait's own words as its
        # whole text (a relative link from a file's name); a link to a ticket whose subject quotes them is the app's
        links = page.locator(f"a[href*='{beacon.host}']").count() + page.locator("a").filter(
            has_text=re.compile(rf"^\s*{re.escape(LINK_WORDS)}\s*$")).count()
        images = page.locator(f"img[src*='{beacon.host}'], img[alt='{IMAGE_ALT}']").count()
        html = page.content()
        secrets = [f for v in (TOKEN, SEGMENT) for f in forms(v) if f in html]
        report[where] = {"remote loads": len(beacon.seen), "live links": links, "images": images,
                         "secrets": len(secrets)}
        assert (links, images, beacon.seen, secrets) == (0, 0, [], []), f"{where}: {report[where]} {beacon.seen}"
        assert "Traceback" not in page.locator("[data-testid='stMain']").inner_text(), where

    def open_all(page: Any) -> None:
        for summary in page.locator("[data-testid='stExpander'] details:not([open]) > summary").all():
            if summary.is_visible():
                summary.click()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        # a crafted link opened while signed out: it survives sign-in and ends in "not found", as text
        page.goto(f"{url}/ticket?ticket=" + quote(f"![{IMAGE_ALT}](http://{beacon.host}/qs.png) "
                                                  f"[{LINK_WORDS}](http://{beacon.host}/qs-phish)"))
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
        harmless(page, "sign-in page with a crafted link")
        page.get_by_role("textbox", name="Username").fill("root")
        page.get_by_role("textbox", name="Password").fill("admin-demo")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("not found").first).to_be_visible(timeout=30_000)
        harmless(page, "workspace: a crafted ticket link")
        sign_in(page, url, "root", "admin-demo")
        for ticket in hostile["tickets"]:
            page.goto(f"{url}/ticket?ticket={quote(ticket)}")
            expect(page.get_by_text("Customer", exact=True).first).to_be_visible(timeout=30_000)
            open_all(page)
            page.screenshot(path=str(ARTIFACTS / f"hostile-{ticket[:12]}.png"), full_page=True)
            harmless(page, f"workspace: {ticket}")
        for name in ("Inbox", "Knowledge base", "Review", "Insights", "Audit log", "Autonomy & policy",
                     "Users and roles", "Channels", "Actions"):
            page.get_by_role("link", name=name).first.click()
            expect(page.get_by_role("heading").first).to_be_visible(timeout=30_000)
            settle(page)
            open_all(page)
            harmless(page, name)
        page.get_by_role("link", name="Review").first.click()
        page.get_by_role("tab", name="Escalations").click()
        harmless(page, "Review: escalations")

        # an uploaded file whose name carries the bait (a file name holds no "/": a relative link and image)
        page.get_by_role("link", name="Knowledge base").first.click()
        page.get_by_role("tab", name="Upload").click()
        named = f"[{LINK_WORDS}](phish.html) ![{IMAGE_ALT}](t.png)"
        page.locator("input[type=file]").first.set_input_files([
            {"name": f"{named}.md", "mimeType": "text/markdown", "buffer": b"# Opening hours\n\nOpen 9 to 5."},
            {"name": f"{named}.csv", "mimeType": "text/csv", "buffer": b"item,price\nwrap,4\n"}])
        page.get_by_role("button", name="Add to the knowledge base").click()
        expect(page.get_by_text("Not stored").first).to_be_visible(timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "hostile-upload.png"), full_page=True)
        harmless(page, "Knowledge base: upload outcome")

        # a team's service answering and failing with hostile text and the secrets it was sent
        page.get_by_role("link", name="Actions").first.click()
        field = page.get_by_test_id("stSelectbox").filter(has_text="See an action").first.locator("input")
        field.click()
        field.fill("Read a team note")
        page.get_by_role("option", name="Read a team note").first.click()
        expect(page.get_by_role("button", name="Try it")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Try it").click()
        expect(page.get_by_text("Answered in").first).to_be_visible(timeout=30_000)
        harmless(page, "Actions: a service's answer")
        box = page.get_by_test_id("stTextInput").filter(has_text="(required)").first.locator("input")
        box.fill("N-9")
        page.get_by_role("button", name="Try it").click()
        expect(page.get_by_text("502").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "hostile-try-it.png"), full_page=True)
        harmless(page, "Actions: a service's error")
        browser.close()
    (ARTIFACTS / "hostile-walk.json").write_text(json.dumps(report, indent=1))
    print(f"\nwalked {len(report)} pages and error paths: "
          f"{sum(r['remote loads'] for r in report.values())} remote loads, "
          f"{sum(r['live links'] + r['images'] for r in report.values())} live links or images, "
          f"{sum(r['secrets'] for r in report.values())} secrets")
