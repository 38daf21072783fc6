"""The inbound API and the webhooks attacked as a stranger would, against the real server on SQLite and PostgreSQL:
ids that belong to a channel, tokens that reach other clients' tickets, floods, NUL and control characters, strange
signature headers and every webhook field given the wrong type. Every answer is a 4xx or a success, never a 5xx,
and no genuine message is dropped."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cx_core import api_tokens
from cx_core.access import StaffUser
from cx_core.config import Settings
from cx_core.errors import InvalidInput, NotAuthorised
from cx_core.models import Role
from cx_core.services import Services
from cx_core.store.db import Database, utcnow
from cx_core.store.tables import AuditRow, MessageRow, TicketRow
from tests.helpers import HTTP, fresh_pg_database
from tests.test_api import Api, cli, running_api, ticket
from tests.test_webhooks import conversation_created, message_created, post_chatwoot
from tests.test_zammad import payload as zammad_payload
from tests.test_zammad import post_zammad

pytestmark = pytest.mark.api

CHATWOOT_SECRET = "cw-webhook-secret-for-tests"
ZENDESK_SECRET = "zd-signing-secret-for-tests"
ZAMMAD_SECRET = "zammad-hmac-sha1-token-for-tests"
HELPDESK_TOKEN = "hd-url-token-for-tests"
SECRETS = {"TANDEM_CHATWOOT_WEBHOOK_SECRET": CHATWOOT_SECRET, "TANDEM_ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
           "TANDEM_ZAMMAD_WEBHOOK_SECRET": ZAMMAD_SECRET, "TANDEM_HELPDESK_WEBHOOK_TOKEN": HELPDESK_TOKEN,
           "TANDEM_API_FAILED_AUTH_PER_MINUTE": "1000"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data = tmp_path_factory.mktemp(f"attacks-{request.param}")
    if request.param == "sqlite":
        with running_api(world, data, SECRETS) as running:
            yield running
        return
    with fresh_pg_database("attacks") as url:
        with running_api(world, data, {**SECRETS, "TANDEM_DATABASE_URL": url}) as running:
            db = Database(url)
            try:
                yield replace(running, db=db)
            finally:
                db.dispose()


def _token(api: Api, name: str, *args: str) -> tuple[int, str]:
    done = cli(api.env, "api-token", "create", name, *args)
    assert done.returncode == 0, done.stderr
    made = re.search(r"token (\d+) '", done.stderr)
    assert made is not None, done.stderr
    return int(made.group(1)), done.stdout.strip().splitlines()[-1]


def _count(db: Database, model: Any, *where: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _zendesk(api: Api, body: dict[str, Any] | bytes, signature: str | None = None, stamp: str | None = None,
             delivery: str | None = None) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = stamp or datetime_now()
    sig = signature if signature is not None else base64.b64encode(
        hmac.new(ZENDESK_SECRET.encode(), ts.encode() + raw, hashlib.sha256).digest()).decode()
    headers = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sig,
               "X-Zendesk-Webhook-Signature-Timestamp": ts,
               "X-Zendesk-Webhook-Invocation-Id": delivery or str(uuid.uuid4())}
    encoded = [(k.encode(), v.encode("latin-1", "replace")) for k, v in headers.items()]
    return HTTP.post(f"{api.url}/api/v1/webhooks/zendesk", content=raw, headers=encoded, timeout=30)


def datetime_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def zendesk_comment(ticket_id: int, comment_id: int, text: str) -> dict[str, Any]:
    return {"ticket_id": str(ticket_id), "comment_id": str(comment_id), "comment": text, "author_role": "end-user",
            "requester_email": "ana.ortiz@example.com", "requester_phone": "", "requester_id": "77",
            "subject": "Parcel", "via": "Mail"}


def helpdesk_ticket(ticket_id: int, text: str) -> dict[str, Any]:
    return {"ticket": {"id": ticket_id, "title": "Kettle broken", "description": text,
                       "submitter_email": "ana.ortiz@example.com", "status": 1,
                       "followup_set": [{"id": ticket_id * 10, "title": "Ticket Opened", "comment": text,
                                         "public": True, "user": None, "date": "2026-11-20T10:00:00+00:00"}]},
            "queue_slug": "support"}


def _helpdesk(api: Api, body: dict[str, Any] | bytes, token: str = HELPDESK_TOKEN) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HTTP.post(f"{api.url}/api/v1/webhooks/helpdesk", params={"token": token}, content=raw,
                      headers={"Content-Type": "application/json"}, timeout=30)


# ------------------------------------------------------------------ ids belong to their source
def test_a_channel_id_is_refused_on_the_api_and_a_taken_id_never_swallows_a_conversation(api: Api) -> None:
    """An API client cannot name its ticket like a helpdesk's; and a conversation whose usual id is taken anyway (an
    older ticket) opens its own ticket and keeps every message."""
    n = 900_000 + int(time.time() * 1000) % 90_000
    with api.client() as c:
        for taken in (f"zendesk-{n}", f"Chatwoot-{n}", f"zammad-{n}", f"helpdesk-{n}", "email-0123456789ab"):
            refused = c.post("/api/v1/tickets", json=ticket(taken))
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"].startswith("id: ") and "choose another id" in refused.json()["detail"]
        assert c.post("/api/v1/tickets", json=ticket(f"email-{n}")).status_code == 201  # not a mailbox's id
    # an old ticket already carries the id the Zendesk conversation would get
    with api.db.tx() as s:
        s.add(TicketRow(id=f"zendesk-{n}", channel="email", subject="old", body="an older ticket",
                        created_at=utcnow(), source="import", status="resolved"))
    first = _zendesk(api, zendesk_comment(n, n * 10 + 1, "My parcel has not arrived, order W1000001."))
    second = _zendesk(api, zendesk_comment(n, n * 10 + 2, "Any news on my parcel?"))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["detail"] == second.json()["detail"] == "message received"
    ticket_id = first.json()["ticket_id"]
    assert ticket_id != f"zendesk-{n}" and second.json()["ticket_id"] == ticket_id
    assert _count(api.db, MessageRow, MessageRow.ticket_id == ticket_id) == 2  # 0 of 2 dropped
    assert _count(api.db, MessageRow, MessageRow.ticket_id == f"zendesk-{n}") == 0


def _file(api: Api, rows: list[dict[str, Any]]) -> Path:
    path = Path(api.settings.data_dir) / f"import-{uuid.uuid4().hex[:6]}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_an_import_refuses_channel_ids_but_keeps_a_helpdesks_history_linked(api: Api) -> None:
    n = 700_000 + int(time.time() * 1000) % 90_000
    path = _file(api, [
        {"id": f"helpdesk-{n}", "subject": "Kettle", "body": "The kettle I bought is broken."},
        {"id": f"helpdesk-{n + 1}", "conversation": f"helpdesk:{n + 1}", "subject": "Kettle",
         "body": "The kettle I bought is broken.", "customer": "ana.ortiz@example.com"},
        {"id": f"hist-{n}", "conversation": f"fax:{n}", "subject": "x", "body": "y"},
    ])
    done = cli(api.env, "import-tickets", str(path))
    assert done.returncode == 1
    lines = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 2
    assert "line 1: field 'id': ids like 'helpdesk-…' are kept for tickets that come from django-helpdesk" in lines[0]
    assert "line 3: field 'conversation'" in lines[1]
    assert "1 tickets added" in done.stdout
    with api.db.session() as s:
        linked = s.get(TicketRow, f"helpdesk-{n + 1}")
        assert linked is not None and linked.external_ref == f"helpdesk:{n + 1}" and linked.source == "helpdesk"
        assert s.get(TicketRow, f"helpdesk-{n}") is None
    # what the helpdesk sends next for that ticket joins the imported history
    got = _helpdesk(api, helpdesk_ticket(n + 1, "The kettle I bought is broken."))
    assert got.status_code == 200, got.text
    assert got.json()["ticket_id"] == f"helpdesk-{n + 1}"
    # importing the same history again opens nothing twice
    again = cli(api.env, "import-tickets", str(_file(api, [
        {"id": f"other-{n}", "conversation": f"helpdesk:{n + 1}", "subject": "Kettle", "body": "again"}])))
    assert again.returncode == 0 and "0 tickets added, 1 already present" in again.stdout


# ------------------------------------------------------------------ scoped tokens
def test_a_token_reaches_only_its_own_tickets_unless_an_admin_widens_it(api: Api) -> None:
    n = uuid.uuid4().hex[:6]
    a_id, a = _token(api, f"shop A {n}")
    _, b = _token(api, f"shop B {n}")
    _, write_only = _token(api, f"form {n}", "--scope", "write")
    _, read_only = _token(api, f"reader {n}", "--scope", "read")
    with api.client(a) as ca, api.client(b) as cb:
        assert ca.post("/api/v1/tickets", json=ticket(f"A-{n}")).status_code == 201
        assert ca.get(f"/api/v1/tickets/A-{n}").status_code == 200
        # another client's token: as if the ticket did not exist; its id cannot be taken either
        assert cb.get(f"/api/v1/tickets/A-{n}").status_code == 404
        posted = cb.post(f"/api/v1/tickets/A-{n}/messages", json={"body": "cancel everything", "external_id": "x1"})
        assert posted.status_code == 404
        clash = cb.post("/api/v1/tickets", json=ticket(f"A-{n}", body="mine now"))
        assert clash.status_code == 409 and "choose another id" in clash.json()["detail"]
        # message ids are each token's own: both may number theirs from 1
        assert cb.post("/api/v1/tickets", json=ticket(f"B-{n}")).status_code == 201
        for c, t in ((ca, f"A-{n}"), (cb, f"B-{n}")):
            assert c.post(f"/api/v1/tickets/{t}/messages", json={"body": "hello", "external_id": "1"}).status_code \
                == 201
    assert _count(api.db, MessageRow, MessageRow.ticket_id == f"A-{n}") == 2
    with api.client(write_only) as w, api.client(read_only) as r:
        assert w.post("/api/v1/tickets", json=ticket(f"W-{n}")).status_code == 201
        refused = w.get(f"/api/v1/tickets/W-{n}")
        assert refused.status_code == 403 and "read" in refused.json()["detail"]
        again = w.post("/api/v1/tickets", json=ticket(f"W-{n}"))
        assert again.status_code == 200 and again.json() == {"id": f"W-{n}"}
        assert r.post("/api/v1/tickets", json=ticket(f"R-{n}")).status_code == 403
        assert r.get(f"/api/v1/tickets/A-{n}").status_code == 404
    # a channel's ticket is out of reach of every default token
    conv = 600_000 + int(time.time() * 1000) % 90_000
    hooked = _zendesk(api, zendesk_comment(conv, conv * 10, "Where is my parcel?"))
    assert hooked.status_code == 200 and hooked.json()["ticket_id"] == f"zendesk-{conv}", hooked.text
    with api.client(a) as ca:
        assert ca.get(f"/api/v1/tickets/zendesk-{conv}").status_code == 404
        assert ca.post(f"/api/v1/tickets/zendesk-{conv}/messages",
                       json={"body": "refund me", "external_id": "z"}).status_code == 404
    # widened by an admin (audited), the token reaches it
    widened = cli(api.env, "api-token", "widen", str(a_id))
    assert widened.returncode == 0, widened.stderr
    assert f"token {a_id} now reaches every ticket" in widened.stdout, (widened.stdout, widened.stderr)
    with api.client(a) as ca:
        got = ca.get(f"/api/v1/tickets/zendesk-{conv}")
        assert got.status_code == 200, got.text
    assert _count(api.db, AuditRow, AuditRow.kind == "api_token.widened") >= 1
    assert cli(api.env, "api-token", "narrow", str(a_id)).returncode == 0
    with api.client(a) as ca:
        assert ca.get(f"/api/v1/tickets/zendesk-{conv}").status_code == 404
    assert _count(api.db, MessageRow, MessageRow.ticket_id == f"zendesk-{conv}") == 1


def test_a_token_over_its_rate_or_quota_gets_429_and_stores_nothing(api: Api) -> None:
    n = uuid.uuid4().hex[:6]
    _, slow = _token(api, f"slow {n}", "--rate", "3")
    _, small = _token(api, f"small {n}", "--daily-quota", "2")
    with api.client(slow) as c:
        answers = [c.get(f"/api/v1/tickets/NOPE-{n}").status_code for _ in range(5)]
        assert answers[:3] == [404, 404, 404] and answers[3] == 429
        limited = c.get(f"/api/v1/tickets/NOPE-{n}")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    with api.client(small) as c:
        assert c.post("/api/v1/tickets", json=ticket(f"Q1-{n}")).status_code == 201
        assert c.post(f"/api/v1/tickets/Q1-{n}/messages", json={"body": "hi", "external_id": "1"}
                      ).status_code == 201
        over = c.post("/api/v1/tickets", json=ticket(f"Q2-{n}"))
        assert over.status_code == 429 and "quota" in over.json()["detail"]
        assert int(over.headers["retry-after"]) >= 1
    assert _count(api.db, TicketRow, TicketRow.id == f"Q2-{n}") == 0


def test_an_address_sending_wrong_tokens_is_slowed_down(world: Settings, tmp_path: Path) -> None:
    with running_api(world, tmp_path / "data", {"TANDEM_API_FAILED_AUTH_PER_MINUTE": "5"}) as api:
        with api.client("tdm_guess") as c:
            answers = [c.get("/api/v1/tickets/X").status_code for _ in range(7)]
        assert answers[:5] == [401] * 5 and answers[5:] == [429, 429]
        with api.client() as good:  # a right token from the same address is never held back
            assert good.get("/api/v1/tickets/X").status_code == 404


# ------------------------------------------------------------------ bad input is a 4xx, always
def test_nul_and_control_characters_are_refused_in_ids_and_dropped_from_text(api: Api) -> None:
    n = uuid.uuid4().hex[:6]
    with api.client() as c:
        for bad in (f"N\x00{n}", f"N\x1b{n}", f"N\u202e{n}"):
            refused = c.post("/api/v1/tickets", json=ticket(bad))
            assert refused.status_code == 422 and refused.json()["detail"].startswith("id: "), refused.text
        assert c.post("/api/v1/tickets", json=ticket(f"C-{n}", customer="ana\x00@example.com")).status_code == 422
        half = c.post("/api/v1/tickets", headers={"Content-Type": "application/json"}, content=json.dumps(
            ticket(f"H-{n}", body="Where is it?\ud800")).encode())
        assert half.status_code == 422 and half.json()["detail"].startswith("body: ")
        stored = c.post("/api/v1/tickets", json=ticket(f"T-{n}", subject="Par\x00cel", body="Where\x00 is it?"))
        assert stored.status_code == 201, stored.text
        assert c.post(f"/api/v1/tickets/T-{n}/messages", json={"body": "a\x00b", "external_id": "m\x00"}
                      ).status_code == 422
        assert c.post(f"/api/v1/tickets/T-{n}/messages", json={"body": "any\x00 news", "external_id": "m1"}
                      ).status_code == 201
        assert c.get("/api/v1/tickets/T%00X").status_code == 422
        assert c.get(f"/api/v1/tickets/{'x' * 5000}").status_code in (404, 414)
        assert c.post("/api/v1/tickets", json=ticket(f"D-{n}", created_at="0001-01-01T00:00:00+05:00")
                      ).status_code == 422
    with api.db.session() as s:
        row = s.get(TicketRow, f"T-{n}")
        assert row is not None and row.subject == "Parcel" and "\x00" not in row.body
        bodies = list(s.scalars(select(MessageRow.body).where(MessageRow.ticket_id == f"T-{n}")))
    assert "any news" in bodies


def test_a_written_time_outside_a_sane_window_is_refused_in_one_line(api: Api) -> None:
    """``created_at`` decides where a ticket waits in the agent's queue: a date centuries back or ahead (or older
    than a month) is refused with one line, and nothing is stored; a recent one is kept."""
    from datetime import timedelta

    n = uuid.uuid4().hex[:6]
    now = utcnow()
    with api.client() as c:
        for k, when in enumerate(("1653-03-01T10:00:00Z", "9999-12-31T23:59:59Z",
                                  (now - timedelta(days=31)).isoformat() + "Z",
                                  (now + timedelta(hours=2)).isoformat() + "Z")):
            refused = c.post("/api/v1/tickets", json=ticket(f"W-{n}-{k}", created_at=when))
            detail = refused.json()["detail"]
            assert refused.status_code == 422 and detail.startswith("created_at: ") and "\n" not in detail, detail
        kept = c.post("/api/v1/tickets", json=ticket(f"W-{n}-ok", created_at=(now - timedelta(days=2)).isoformat()
                                                     + "Z"))
        assert kept.status_code == 201, kept.text
        late = c.post(f"/api/v1/tickets/W-{n}-ok/messages", json={"body": "any news?", "external_id": f"w-{n}",
                                                                  "created_at": "1700-01-01T00:00:00Z"})
        assert late.status_code == 422 and late.json()["detail"].startswith("created_at: "), late.text
    assert _count(api.db, TicketRow, TicketRow.id.like(f"W-{n}-%")) == 1


@pytest.mark.parametrize("signature", ["sha256=é", "ü" * 64, "\u00ff\u00fe", "sha1=" + "ß" * 40])
def test_a_signature_header_with_strange_characters_is_401(api: Api, signature: str) -> None:
    body = json.dumps(message_created(1, 1, "hi")).encode()
    headers = {"Content-Type": "application/json", "X-Chatwoot-Timestamp": str(int(time.time())),
               "X-Chatwoot-Signature": signature.encode("latin-1", "replace").decode("latin-1")}
    raw_headers = [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]
    with httpx.Client(timeout=30) as c:
        chat = c.post(f"{api.url}/api/v1/webhooks/chatwoot", content=body, headers=raw_headers)
        zen = _zendesk(api, b"{}", signature=signature.encode("latin-1", "replace").decode("latin-1"))
        zam = c.post(f"{api.url}/api/v1/webhooks/zammad", content=body,
                     headers=[(b"X-Hub-Signature", signature.encode("latin-1", "replace"))])
        hd = c.post(f"{api.url}/api/v1/webhooks/helpdesk?token=%C3%BC%00", content=b"{}")
    assert (chat.status_code, zen.status_code, zam.status_code, hd.status_code) == (401, 401, 401, 401)


WRONG_TYPES: list[Any] = [["Channel::WebWidget"], {"a": 1}, 12, None, True, 10 ** 40, -1.5, "x\x00y", "\ud800",
                          "", "z" * 3000, [[[[[]]]]]]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value in a JSON document (objects and lists)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


def _mutants(doc: dict[str, Any], limit: int) -> Iterator[dict[str, Any]]:
    """``doc`` with one field at a time given each wrong type, spread evenly over the fields (at most ``limit``)."""
    paths = list(_paths(doc))
    every = max(1, len(paths) * len(WRONG_TYPES) // limit)
    for i, (path, value) in enumerate((p, v) for p in paths for v in WRONG_TYPES):
        if i % every == 0:
            yield _set(doc, path, value)


def test_every_webhook_field_of_the_wrong_type_is_answered_without_a_server_error(api: Api) -> None:
    """Signed (so verified) payloads of all four webhooks, one field at a time made a list, an object, a number,
    null, a bool, a huge number, text with NUL or half a character, or very long: never a 5xx."""
    statuses: dict[int, int] = {}
    seed = int(time.time()) % 100_000

    def note(resp: httpx.Response, what: str) -> None:
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.text[:300]}"

    for i, doc in enumerate(_mutants(message_created(seed, seed, "Where is my parcel?"), 220)):
        note(post_chatwoot(api, doc), f"chatwoot message_created #{i}")
    for i, doc in enumerate(_mutants(conversation_created(seed + 1, seed + 1, "Hello?"), 120)):
        note(post_chatwoot(api, doc), f"chatwoot conversation_created #{i}")
    for i, doc in enumerate(_mutants(zendesk_comment(seed, seed, "Where is my parcel?"), 110)):
        note(_zendesk(api, doc), f"zendesk #{i}")
    for i, doc in enumerate(_mutants(zammad_payload(seed, seed, "<p>Where is my parcel?</p>"), 260)):
        resp = post_zammad(api, doc)
        note(resp, f"zammad #{i}")
    for i, doc in enumerate(_mutants(helpdesk_ticket(seed, "The kettle is broken."), 110)):
        note(_helpdesk(api, doc), f"helpdesk #{i}")
    for raw in (b"[]", b"null", b"\xff\xfe", b"{" * 5000 + b"}" * 5000, b'{"event": "message_created"}'):
        note(_helpdesk(api, raw), "helpdesk raw")
        note(_zendesk(api, raw), "zendesk raw")
    assert sum(statuses.values()) > 700 and not any(code >= 500 for code in statuses)


def test_the_token_list_and_widening_are_for_admins_only(services: Services) -> None:
    advisor, admin = StaffUser("ada", "Ada Advisor", Role.advisor), StaffUser("root", "Robin Admin", Role.admin)
    token_id, _ = api_tokens.create_for(services.db, admin, "form", ["write"])
    for call in (lambda u: api_tokens.list_tokens(services.db, u),
                 lambda u: api_tokens.widen_for(services.db, u, token_id, True),
                 lambda u: api_tokens.create_for(services.db, u, "x")):
        with pytest.raises(NotAuthorised):
            call(advisor)
    api_tokens.widen_for(services.db, admin, token_id, True)
    listed = {t["id"]: t for t in api_tokens.list_tokens(services.db, admin)}
    assert listed[token_id]["all_tickets"] is True and listed[token_id]["scopes"] == ["write"]
    with pytest.raises(InvalidInput, match="scopes: 'owner' is not a scope"):
        api_tokens.create_for(services.db, admin, "x", ["owner"])
