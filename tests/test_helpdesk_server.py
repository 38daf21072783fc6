"""The django-helpdesk harness: a real server, its REST API, customer e-mail replies and its webhooks."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.servers import helpdesk as harness
from tests.servers.helpdesk import HelpdeskAPIError, HelpdeskServer

pytestmark = pytest.mark.helpdesk

helpdesk_server = harness.helpdesk_server

CUSTOMER = "dana@example.com"


def literal(text: str) -> str:
    """Text that helpdesk's comment templating renders back unchanged (every brace becomes a literal)."""
    return re.sub(r"[{}]", lambda m: "{{ '" + m.group(0) + "' }}", text)


def _plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_ticket_staff_reply_and_customer_reply_round_trip(helpdesk_server: HelpdeskServer) -> None:
    hd = helpdesk_server
    ticket = hd.open_ticket(CUSTOMER, "Kettle leaks", "My new kettle leaks from the base.")
    assert ticket["submitter_email"] == CUSTOMER and ticket["status"] == 1 and ticket["queue"] == hd.queue_id
    [opened] = ticket["followup_set"]
    assert opened["user"] is None and opened["title"] == "Ticket Opened Via Web"

    reply = hd.add_staff_followup(ticket["id"], "Sorry about that, Dana. A replacement is on its way.")
    assert reply["user"] == 1 and reply["public"] is True and reply["ticket"] == ticket["id"]
    assert reply["email_recipients"] == [CUSTOMER]

    answer = hd.add_customer_followup(ticket["id"], CUSTOMER, "Thank you! When will it arrive?")
    assert answer["user"] is None and answer["public"] is True
    assert answer["comment"].strip() == "Thank you! When will it arrive?"
    assert answer["title"] == f"E-Mail Received from {CUSTOMER}"
    assert answer["message_id"].endswith("@customer.test>")

    fus = hd.followups(ticket["id"])
    assert [f["id"] for f in fus] == [opened["id"], reply["id"], answer["id"]]
    assert len({f["id"] for f in fus}) == 3
    assert [f["user"] is None for f in fus] == [True, False, True]
    assert hd.ticket(ticket["id"])["followup_set"] == fus

    sent = [(m["To"], m["Subject"], _plain(m)) for m in hd.outbox()]
    assert any(to == CUSTOMER and "replacement is on its way" in body for to, _s, body in sent)
    assert all(f"[{hd.queue_slug}-{ticket['id']}]" in subject for _t, subject, _b in sent)


def test_staff_created_ticket_and_private_note(helpdesk_server: HelpdeskServer) -> None:
    hd = helpdesk_server
    ticket = hd.open_ticket_by_api("lee@example.com", "Refund please", "Order 1234 arrived broken.")
    [opened] = ticket["followup_set"]
    assert opened["user"] == 1 and opened["title"] == "Ticket Opened"
    with pytest.raises(HelpdeskAPIError) as err:
        hd.api("POST", "tickets/", {"queue": hd.queue_id, "title": "x", "description": "y", "submitter_email": "a@example.com"})
    assert err.value.status == 400 and "priority" in err.value.body

    note = hd.add_staff_followup(ticket["id"], "internal: check stock", public=False, title="Note")
    assert note["public"] is False and note["title"] == "Note" and note["email_recipients"] == []
    other = hd.open_ticket("kim@example.com", "Other", "Another ticket.")
    everyone = hd.api("GET", f"followups/?ticket={ticket['id']}&page_size=100")["results"]
    assert other["id"] in {f["ticket"] for f in everyone}
    with pytest.raises(HelpdeskAPIError) as anon:
        hd.api("GET", f"tickets/{ticket['id']}/", auth=False)
    assert anon.value.status in (401, 403)


def test_staff_comment_is_rendered_as_a_django_template(helpdesk_server: HelpdeskServer) -> None:
    hd = helpdesk_server
    ticket = hd.open_ticket(CUSTOMER, "Braces", "x")
    assert hd.add_staff_followup(ticket["id"], "a {{ ticket.id }} b {# c #} d")["comment"] == "a  b  d"
    with pytest.raises(HelpdeskAPIError) as err:
        hd.add_staff_followup(ticket["id"], "50%} off")
    assert err.value.status == 500
    for text in ["a {{ ticket.id }} b {# c #} d", "50%} off {% if %}", '{"json": {"k": 1}}', "{{{ }}}"]:
        assert hd.add_staff_followup(ticket["id"], literal(text))["comment"] == text


class _Recorder(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.calls.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook_sink() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []
    handler = type("Recorder", (_Recorder,), {"calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/helpdesk?token=s3cret", calls
    finally:
        server.shutdown()
        server.server_close()


def _wait_for(calls: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(calls) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return list(calls)


def test_webhooks_for_new_ticket_and_followups(tmp_path: Path,
                                               webhook_sink: tuple[str, list[dict[str, Any]]]) -> None:
    url, calls = webhook_sink
    with harness.helpdesk_or_skip(tmp_path / "helpdesk", webhook_url=url) as hd:
        ticket = hd.open_ticket(CUSTOMER, "Where is my order?", "Order 77 has not arrived.")
        [new] = _wait_for(calls, 1)
        assert new["path"] == "/hooks/helpdesk?token=s3cret"
        assert new["headers"]["Content-Type"] == "application/json"
        assert not any(k.lower().startswith("x-") or "signature" in k.lower() for k in new["headers"])
        assert set(new["json"]) == {"ticket", "queue_slug"} and new["json"]["queue_slug"] == hd.queue_slug
        assert new["json"]["ticket"] == ticket

        reply = hd.add_staff_followup(ticket["id"], "It ships tomorrow.")
        staff = _wait_for(calls, 2)[1]
        assert set(staff["json"]) == {"ticket", "queue_slug", "followup_id"}
        assert staff["json"]["followup_id"] == reply["id"]
        assert staff["json"]["ticket"]["followup_set"][-1] == reply

        answer = hd.add_customer_followup(ticket["id"], CUSTOMER, "Great, thanks!")
        customer = _wait_for(calls, 3)[2]
        assert customer["json"]["followup_id"] == answer["id"]
        by_id = {f["id"]: f for f in customer["json"]["ticket"]["followup_set"]}
        assert by_id[answer["id"]]["user"] is None and by_id[reply["id"]]["user"] == 1
        time.sleep(0.3)
        assert len(calls) == 3
        (tmp_path / "webhooks.json").write_text(json.dumps(calls, indent=1))
