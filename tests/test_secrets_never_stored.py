"""Secrets are never stored: a team's webhook service whose base URL path, header and query carry secrets, and
whose error answers echo them back, called through the real execute path and the dispatcher (success, refusal,
server error, timeout), an MCP server whose URL and header carry secrets, and replies whose delivery fails with the
helpdesk's and the mail server's password in the answer. Afterwards the database file (and its WAL), the logs of
this process and of a dispatcher process, and what the pages are handed hold none of the planted values, in any
encoding; the audit chain still verifies. Also: the masking step on its own, and a blank secret refused at start."""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
import yaml
from sqlalchemy import select, update

from cx_core import action_admin, audit, conversations, delivery, desk, domain, outbox, packs, secret_mask
from cx_core.access import StaffUser
from cx_core.actions import ExecContext
from cx_core.actions.execute import execute
from cx_core.config import PROJECT_ROOT, Settings, load_settings
from cx_core.conversations import Inbound
from cx_core.errors import ConfigError
from cx_core.http_actions import LOADED
from cx_core.models import Role
from cx_core.secret_mask import MARK, mask
from cx_core.services import Services
from cx_core.store.tables import ActionCallRow, NotificationRow, TicketRow
from domains.lumen.tables import CustomerRow
from tests.conftest import NOW, copy_world
from tests.helpers import DEMO_ADMIN
from tests.servers.stub import JsonHandler, serving

pytestmark = pytest.mark.http_actions
ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)

# the planted secrets: settings the actions file names as ${NAME}, and the helpdesk's and mail server's passwords
HOOK_SECRET = "hk-7Qe93LmZpxW"  # in the service's base URL path
ORDERS_TOKEN = "ot-Vd82kPq1RsT"  # in the Authorization header
PARTNER_CODE = "pc+8Wz0y/Te=Nf"  # in the query string (characters that are encoded there)
MCP_SECRET = "ms-Jr4Hq2Xc6Uk"  # in an MCP server's URL path
MCP_KEY = "mk-Lp0Aa9Dd3Zq"  # in an MCP server's X-Api-Key header
HELPDESK_USER, HELPDESK_PASSWORD = "tandem-bot", "hd-Pw5tXq9Lbc"
SMTP_USER, SMTP_PASSWORD = "care@lumen.test", "sm-Gk7Rn2Vw8Yh"
PLANTED = {"HOOK_SECRET": HOOK_SECRET, "ORDERS_TOKEN": ORDERS_TOKEN, "PARTNER_CODE": PARTNER_CODE,
           "MCP_SECRET": MCP_SECRET, "MCP_KEY": MCP_KEY, "HELPDESK_PASSWORD": HELPDESK_PASSWORD,
           "SMTP_PASSWORD": SMTP_PASSWORD}
USERS = {HELPDESK_PASSWORD: HELPDESK_USER, SMTP_PASSWORD: SMTP_USER}


def encodings(value: str) -> dict[str, str]:
    """The forms a secret could be stored in: as written, URL-encoded, base64 (alone, in Basic credentials, in
    SMTP's AUTH PLAIN)."""
    out = {"raw": value, "url": quote(value, safe=""), "url+": quote_plus(value),
           "base64": base64.b64encode(value.encode()).decode(),
           "json": json.dumps(value)[1:-1]}
    user = USERS.get(value, "x")
    out["basic"] = base64.b64encode(f"{user}:{value}".encode()).decode()
    out["plain"] = base64.b64encode(f"\0{user}\0{value}".encode()).decode()
    return out


def found_in(data: bytes) -> list[str]:
    """Every planted secret, in any of its forms, that ``data`` contains."""
    return [f"{name} ({form})" for name, value in PLANTED.items() for form, text in encodings(value).items()
            if text.encode() in data]


# ------------------------------------------------------------------ the services that echo what they were sent
@dataclass
class Partner:
    """The team's webhook service, the MCP server and the helpdesk, on one stand-in: what they received, and the
    answers they are told to give next (``faults``: a path's next answers)."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, path: str, *modes: str) -> None:
        with self.lock:
            self.faults.setdefault(path, []).extend(modes)


def _handler(partner: Partner, customer: str) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _serve(self) -> None:
            seen = self._seen()
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            auth = seen.headers.get("authorization", "")
            with partner.lock:
                partner.seen.append({"method": self.command, "path": url.path, "query": query, "auth": auth,
                                     "headers": seen.headers, "body": seen.body})
                tail = url.path.split(f"/hooks/{HOOK_SECRET}", 1)[-1]
                mode = partner.faults.get(tail, [None]).pop(0) if partner.faults.get(tail) else None
            echoed = f"{self.command} {self.path} with Authorization: {auth}"
            if url.path.startswith("/mcp/"):  # an MCP server that refuses the key it was given
                self._answer(401, {"error": f"key {seen.headers.get('x-api-key')} is not valid for {self.path}"})
                return
            if url.path.startswith("/helpdesk/"):  # django-helpdesk refusing the reply, echoing the credentials
                user_pass = base64.b64decode(auth.split()[-1]).decode() if auth.startswith("Basic ") else ""
                self._answer(400, {"detail": f"bad request from {user_pass} ({echoed})"})
                return
            if not url.path.startswith(f"/hooks/{HOOK_SECRET}/") or auth != f"Bearer {ORDERS_TOKEN}" \
                    or query.get("code") != PARTNER_CODE:
                self._answer(403, {"detail": f"not allowed: {echoed}"})
                return
            if mode == "slow":
                time.sleep(2.0)
            elif mode == "refuse":
                self._answer(422, {"detail": f"order note refused; you sent {echoed} and code={PARTNER_CODE}"})
                return
            elif mode == "fail":
                self._answer(500, {"error": f"upstream crashed handling {echoed}"})
                return
            order = tail.split("/")[2]
            if self.command == "GET":
                self._answer(200, {"id": order, "customer_id": customer, "status": "delivered"})
            else:
                self._answer(201, {"id": f"N-{len(partner.seen)}", "order_id": order, "ok": True})

        def _answer(self, status: int, data: Any) -> None:
            try:
                super()._answer(status, data)
            except (BrokenPipeError, ConnectionResetError):  # the caller gave up waiting
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


class SmtpStub:
    """A mail server that refuses every login, echoing the AUTH PLAIN line and the decoded password back (as some
    servers' error texts do)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.logins: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 stub ESMTP\r\n")
            for raw in lines:
                line = raw.decode().strip()
                verb = line.split(" ", 1)[0].upper()
                if verb in {"EHLO", "HELO"}:
                    conn.sendall(b"250-stub\r\n250 AUTH PLAIN\r\n")
                elif verb == "AUTH":
                    blob = line.split()[-1]
                    self.logins.append(blob)
                    password = base64.b64decode(blob).split(b"\0")[-1].decode()
                    conn.sendall(f"535 5.7.8 AUTH PLAIN {blob} rejected: password {password} is wrong\r\n".encode())
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.sock.close()


# ------------------------------------------------------------------ the world
@dataclass
class World:
    svc: Services
    partner: Partner
    smtp: SmtpStub
    folder: Path
    env: dict[str, str]
    customer: dict[str, Any]
    log: list[str]
    shown: list[str] = field(default_factory=list)  # what the pages and the API were handed

    @property
    def settings(self) -> Settings:
        return self.svc.settings


def _actions_file(base: str) -> dict[str, Any]:
    order_id = {"order_id": {"type": "string"}}
    return {
        "services": {"partner": {"base_url": f"{base}/hooks/${{HOOK_SECRET}}",
                                 "headers": {"Authorization": "Bearer ${ORDERS_TOKEN}"}, "timeout": 1}},
        "actions": [
            {"name": "partner_get_order", "label": "Look up a partner order", "description": "Look up an order "
             "in the partner's system.", "effect": "read", "service": "partner", "method": "GET",
             "path": "/orders/{order_id}", "query": {"code": "${PARTNER_CODE}"},
             "arguments": {"type": "object", "required": ["order_id"], "properties": order_id},
             "result": {"customer_id": "customer_id", "status": "status"}},
            {"name": "partner_add_note", "label": "Note on a partner order", "description": "Add a note to an "
             "order in the partner's system.", "effect": "write", "service": "partner", "method": "POST",
             "path": "/orders/{order_id}/notes", "query": {"code": "${PARTNER_CODE}"}, "body": {"text": "{text}"},
             "arguments": {"type": "object", "required": ["order_id", "text"],
                           "properties": {**order_id, "text": {"type": "string"}}},
             "owner": {"action": "partner_get_order", "args": {"order_id": "{order_id}"}, "field": "customer_id"},
             "idempotency_key": "Idempotency-Key", "retry": 1},
            {"name": "partner_add_flag", "label": "Flag a partner order", "description": "Flag an order in the "
             "partner's system (takes no idempotency key).", "effect": "write", "service": "partner",
             "method": "POST", "path": "/orders/{order_id}/flags", "query": {"code": "${PARTNER_CODE}"},
             "arguments": {"type": "object", "required": ["order_id"], "properties": order_id},
             "owner": {"action": "partner_get_order", "args": {"order_id": "{order_id}"}, "field": "customer_id"}},
        ],
        "mcp_servers": [{"name": "partner_tools", "url": f"{base}/mcp/${{MCP_SECRET}}",
                         "headers": {"X-Api-Key": "${MCP_KEY}"}, "timeout": 10,
                         "tools": [{"name": "hold_order", "description": "Hold an order for review.",
                                    "input_schema": {"type": "object", "required": ["order_id"],
                                                     "properties": order_id}}]}],
    }


class _Collect(logging.Handler):
    """Every record of the process as a handler writes it, tracebacks included."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(self.format(record))


@pytest.fixture(scope="module")
def secret_world(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("secrets")
    base = copy_world(world, folder / "data")
    with Services(base).db.session() as s:
        row = s.scalars(select(CustomerRow).order_by(CustomerRow.user_id).limit(1)).one()
        customer = {"id": row.user_id, "email": row.email}
    partner, smtp = Partner(), SmtpStub()
    planted_env = {f"TANDEM_{k}": v for k, v in PLANTED.items() if k not in {"HELPDESK_PASSWORD", "SMTP_PASSWORD"}}
    log: list[str] = []
    collect = _Collect(log)
    root = logging.getLogger()
    previous_level = root.level
    saved = {k: os.environ.get(k) for k in [*planted_env, "TANDEM_ACTIONS_FILE"]}
    with serving(_handler(partner, customer["id"])) as url:
        target = folder / "actions.yaml"
        target.write_text(yaml.safe_dump(_actions_file(url), sort_keys=False))
        os.environ.update({**planted_env, "TANDEM_ACTIONS_FILE": str(target)})
        root.addHandler(collect)
        root.setLevel(logging.DEBUG)
        settings = load_settings(data_dir=base.data_dir, database_url="", helpdesk_url=f"{url}/helpdesk",
                                 helpdesk_user=HELPDESK_USER, helpdesk_password=HELPDESK_PASSWORD,
                                 smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                                 smtp_user=SMTP_USER, smtp_password=SMTP_PASSWORD, mail_from="care@lumen.test")
        svc = Services(settings)
        env = {**os.environ, "TANDEM_DATA_DIR": str(base.data_dir), "TANDEM_HELPDESK_URL": f"{url}/helpdesk",
               "TANDEM_HELPDESK_USER": HELPDESK_USER, "TANDEM_HELPDESK_PASSWORD": HELPDESK_PASSWORD,
               "TANDEM_SMTP_HOST": "127.0.0.1", "TANDEM_SMTP_PORT": str(smtp.port), "TANDEM_SMTP_SECURITY": "none",
               "TANDEM_SMTP_USER": SMTP_USER, "TANDEM_SMTP_PASSWORD": SMTP_PASSWORD,
               "TANDEM_MAIL_FROM": "care@lumen.test", "HF_HUB_OFFLINE": "1"}
        try:
            assert not LOADED.problems, LOADED.problems
            yield World(svc, partner, smtp, folder, env, customer, log)
        finally:
            root.removeHandler(collect)
            root.setLevel(previous_level)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            packs.use(domain.find("lumen"))
            svc.close()
            smtp.close()


def _ticket(w: World, ticket_id: str) -> str:
    got = conversations.receive(w.svc.db, Inbound(source="api", ticket_id=ticket_id, customer=w.customer["email"],
                                                  body="Please note on my order that the parcel was damaged."))
    with w.svc.db.tx() as s:
        row = s.get(TicketRow, got.ticket_id)
        assert row is not None
        row.status, row.task_type = "open", "return_refund"
    return got.ticket_id


def _approve(w: World, ticket_id: str, action: str, args: dict[str, Any]) -> dict[str, Any]:
    """An advisor adds the action and approves it: the call goes through the outbox and the dispatcher."""
    pid = int(desk.add_action(w.svc.db, w.svc.policy(), ADVISOR, ticket_id, action, args)["id"])
    out = desk.approve(w.svc.db, w.svc.policy(), ADVISOR, pid)
    w.shown.append(json.dumps(out, default=str))
    return out


def _due_now(w: World) -> None:
    with w.svc.db.tx() as s:
        s.execute(update(NotificationRow).where(NotificationRow.status == "retrying")
                  .values(next_attempt_at=NOW.replace(year=2000)))


def _reply(w: World, ticket_id: str, destination: str) -> None:
    """A reply queued for ``destination`` (the ticket came from there)."""
    with w.svc.db.tx() as s:
        row = s.get(TicketRow, ticket_id)
        assert row is not None
        row.external_ref = f"{destination}:42"
        outbox.send(s, w.customer["email"], "email", "reply", "Your order", "We have noted the damage.", ticket_id,
                    destination=destination)


def test_secrets_planted_in_paths_headers_queries_and_echoed_errors_are_never_stored(secret_world: World) -> None:
    w = secret_world
    ctx = ExecContext(actor="agent", role=None, ticket_id=None, customer_id=w.customer["id"], autonomy=2,
                      today=NOW.date(), now=NOW)
    tid = _ticket(w, "S-1")
    ctx.ticket_id = tid

    # reads, run at once: an answer, a refusal that echoes the credentials, a server error, a timeout
    out = execute(w.svc.db, w.svc.policy(), "partner_get_order", {"order_id": "P-1"}, ctx)
    assert out.status == "executed" and out.result["customer_id"] == w.customer["id"], out
    for mode in ("refuse", "fail", "slow"):
        w.partner.fault("/orders/P-2", mode)
        out = execute(w.svc.db, w.svc.policy(), "partner_get_order", {"order_id": "P-2"}, ctx)
        assert out.status in {"denied", "failed"}, out
        w.shown.append(out.reason)
    w.partner.faults.clear()

    # writes, through the outbox and the dispatcher
    assert _approve(w, tid, "partner_add_note", {"order_id": "P-1", "text": "damaged"})["status"] == "executed"
    w.partner.fault("/orders/P-3/notes", "refuse")
    out = _approve(w, tid, "partner_add_note", {"order_id": "P-3", "text": "refused"})
    assert out["status"] == "denied" and "422" in out["reason"] and MARK in out["reason"], out
    w.partner.fault("/orders/P-4/notes", "fail", "fail", "fail", "fail")
    out = _approve(w, tid, "partner_add_note", {"order_id": "P-4", "text": "retried"})
    assert out["status"] == "calling" and "500" in out["reason"], out
    w.partner.fault("/orders/P-5/flags", "slow")
    out = _approve(w, tid, "partner_add_flag", {"order_id": "P-5"})
    assert out["status"] == "failed" and "may have been done" in out["reason"], out
    out = _approve(w, tid, "partner_tools_hold_order", {"order_id": "P-6"})
    assert out["status"] in {"calling", "failed"}, out

    # replies whose delivery fails with the helpdesk's and the mail server's password in their answers
    for n, destination in enumerate(("helpdesk", "email")):
        _reply(w, _ticket(w, f"S-R{n}"), destination)
    delivery.run_once(w.svc.db, w.settings)

    # a dispatcher process of its own (its own settings, actions file and logging) tries what is due again
    time.sleep(0.1)
    _due_now(w)
    done = subprocess.run([sys.executable, "-m", "cx_core", "dispatch", "--once"], cwd=PROJECT_ROOT, env=w.env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    process_log = done.stdout + done.stderr
    assert "not delivered" in process_log  # it logged the failures, with their reasons

    # the secrets were really sent: in the path, the header, the query, the MCP URL and header, the logins
    sent = json.dumps(w.partner.seen)
    for name in ("HOOK_SECRET", "ORDERS_TOKEN", "PARTNER_CODE", "MCP_SECRET", "MCP_KEY"):
        assert PLANTED[name] in sent or quote(PLANTED[name], safe="") in sent, name
    assert any(base64.b64decode(s["auth"].split()[-1]).decode().endswith(HELPDESK_PASSWORD)
               for s in w.partner.seen if s["path"].startswith("/helpdesk/"))
    assert any(base64.b64decode(b).decode().endswith(SMTP_PASSWORD) for b in w.smtp.logins)

    # ... and recorded: the calls with their declared path, the failures with the reasons, masked
    with w.svc.db.session() as s:
        rows = s.scalars(select(ActionCallRow).where(ActionCallRow.ticket_id == tid)).all()
        problems = {(r.destination, r.status): r.last_error for r in s.scalars(select(NotificationRow))
                    if r.status in {"retrying", "failed"}}
    paths = {r.path for r in rows}
    assert "/hooks/${HOOK_SECRET}/orders/P-1/notes" in paths and "tools/hold_order" in paths, paths
    assert any(r.error and MARK in r.error and "422" in r.error for r in rows)
    assert MARK in (problems.get(("helpdesk", "failed")) or ""), problems
    assert MARK in (problems.get(("email", "retrying")) or problems.get(("email", "failed")) or ""), problems
    w.shown += [json.dumps(x, default=str) for x in (delivery.problems(w.svc.db, DEMO_ADMIN), action_admin.recent_calls(
        w.svc.db, DEMO_ADMIN), desk.get_ticket(w.svc.db, tid), audit.events(w.svc.db, DEMO_ADMIN, limit=500))]
    assert audit.verify(w.svc.db).ok

    # the measure: no planted secret, in any encoding, in the database file, its WAL, the logs or the pages
    w.svc.db.engine.dispose()
    files = {p.name: p.read_bytes() for p in w.settings.data_dir.glob("tandem.db*")}
    assert "tandem.db" in files and len(files["tandem.db"]) > 0
    with sqlite3.connect(w.settings.data_dir / "tandem.db") as db:  # the WAL's pages written into the file itself
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files["tandem.db after checkpoint"] = (w.settings.data_dir / "tandem.db").read_bytes()
    places = {**{f"file {name}": data for name, data in files.items()},
              "this process's log": "\n".join(w.log).encode(), "dispatcher process's log": process_log.encode(),
              "pages and API": "\n".join(w.shown).encode()}
    found = {place: found_in(data) for place, data in places.items()}
    assert MARK.encode() in files["tandem.db after checkpoint"]
    assert any(MARK in line for line in w.log) and any("HTTP Request" in line for line in w.log)  # logged, masked
    print(f"\nplanted {len(PLANTED)} secrets in {sum(len(encodings(v)) for v in PLANTED.values())} forms; "
          f"checked {', '.join(f'{k} ({len(v)} bytes)' for k, v in places.items())}; "
          f"found {sum(len(v) for v in found.values())}")
    assert not any(found.values()), found


# ------------------------------------------------------------------ the masking step alone
def test_the_masking_step_knows_registered_values_in_every_encoding_and_credentials_by_their_place(
        tmp_path: Path) -> None:
    value = "zz-Unit8Secret/Value+1"
    secret_mask.register(value, "short", "      ")
    assert mask(f"GET /hooks/{value}/x") == f"GET /hooks/{MARK}/x"
    for form in encodings(value).values():
        assert value not in mask(f"seen: {form} end") and form not in mask(f"seen: {form} end"), form
    assert mask("short answer") == "short answer"  # too short to recognise as text
    cases = {
        "Authorization: Bearer abcdefgh12345": f"Authorization: Bearer {MARK}",
        "Authorization: Token token=9f8e7d6c5b": f"Authorization: Token {MARK}",
        "Basic " + base64.b64encode(b"someone:pa55word").decode(): f"Basic {MARK}",
        "https://ann:hunter22@db.example/x": f"https://ann:{MARK}@db.example/x",
        "/hook?token=abc123&page=2": f"/hook?token={MARK}&page=2",
        "api_access_token: cw-9x8y7z": f"api_access_token: {MARK}",
        "X-Api-Key: key-123456": f"X-Api-Key: {MARK}",
        '{"password": "p\\"w", "user": "ann"}': f'{{"password": "{MARK}", "user": "ann"}}',
        "login failed: password=letmein1": f"login failed: password={MARK}",
        "token tdm_" + "A" * 43 + " revoked": f"token {MARK} revoked",
    }
    for text, want in cases.items():
        assert mask(text) == want, text
        assert mask(want) == want  # masking masked text changes nothing
    for text in ("basic information", "the token prefix tdm_AbCd", "idempotency_key=abc token_id=4",
                 "password: field required", "order 1234 refunded"):
        assert mask(text) == text
    assert secret_mask.mask_data({"error": f"sent {value}", "n": [1, {"k": value}]}) == \
        {"error": f"sent {MARK}", "n": [1, {"k": MARK}]}

    # settings make their secrets known as they are loaded: the outbound webhook's path, a password in an address
    load_settings(data_dir=tmp_path, outbound_webhook_url="https://hooks.example/services/T0/B0/Xq7wuY2z",
                  chatwoot_url="https://bot:cw-Pass-881@chat.example", zendesk_api_token="zd-token-5521")
    text = "POST https://hooks.example/services/T0/B0/Xq7wuY2z to https://bot:cw-Pass-881@chat.example with zd-token-5521"
    assert mask(text) == f"POST https://hooks.example/{MARK} to https://bot:{MARK}@chat.example with {MARK}"


def test_log_records_are_masked_whatever_logger_writes_them(caplog: pytest.LogCaptureFixture) -> None:
    value = "log-Secret-5150"
    secret_mask.register(value)
    caplog.set_level(logging.INFO)
    logging.getLogger("httpx").info("HTTP Request: %s %s", "GET", f"https://h.example/{value}/x")
    try:
        raise RuntimeError(f"refused {value}")
    except RuntimeError:
        logging.getLogger("tandem.delivery").exception("not delivered: %s", ValueError(f"key={value}"))
    text = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert value not in text and text.count(MARK) >= 3, text


# ------------------------------------------------------------------ a blank secret refused at start
@pytest.mark.parametrize("name", ["TANDEM_CHATWOOT_WEBHOOK_SECRET", "TANDEM_HELPDESK_WEBHOOK_TOKEN",
                                  "TANDEM_SMTP_PASSWORD"])
def test_a_blank_secret_is_refused_at_start_with_the_settings_name(name: str, tmp_path: Path) -> None:
    env = {**os.environ, "TANDEM_DATA_DIR": str(tmp_path), name: "   "}
    done = subprocess.run([sys.executable, "-m", "cx_core", "audit", "verify"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "blank" in lines[0], done.stderr
    with pytest.raises(ConfigError, match=f"{name} is set but blank"):
        load_settings(data_dir=tmp_path, **{name.removeprefix("TANDEM_").lower(): " \t"})
    assert load_settings(data_dir=tmp_path, **{name.removeprefix("TANDEM_").lower(): ""})  # unset: feature off


# ------------------------------------------------------------------ a base URL given whole, its segment echoed alone
SEGMENT, ECHO_TOKEN = "Seg9xQ2wLk7", "et-Mn4Zp8Qy2Rv"


def every_form(value: str) -> dict[str, str]:
    """A secret as a service may echo it: as written, in upper and lower case, URL-encoded once and twice, as
    JSON, in hexadecimal of either case and in base64."""
    hexed = value.encode().hex()
    return {"raw": value, "upper": value.upper(), "lower": value.lower(), "url": quote(value, safe=""),
            "url twice": quote(quote(value, safe=""), safe=""), "json": json.dumps(value)[1:-1], "hex": hexed,
            "HEX": hexed.upper(), "base64": base64.b64encode(value.encode()).decode()}


def _echo_handler() -> type[BaseHTTPRequestHandler]:
    class Echo(JsonHandler):
        """A service that names the secret segment of its own address alone, in every form, when it refuses; and
        echoes the token it was sent in a read's answer."""

        def _serve(self) -> None:
            seen = self._seen()
            forms = ", ".join(every_form(SEGMENT).values())
            if self.command == "GET" and self.path.endswith("/notes/N-1"):
                self._answer(200, {"note": f"sent with {seen.headers.get('authorization')}; your route is "
                                           f"{forms}", "id": "N-1"})
            else:
                self._answer(404, {"detail": f"no route under {forms} for token {every_form(ECHO_TOKEN)}"})

        do_GET = do_POST = _serve

    return Echo


@pytest.fixture(params=["sqlite", "postgres"])
def echo_world(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        tuple[Services, list[str]]]:
    """An empty Tandem (SQLite, or a fresh PostgreSQL database) whose actions file names a service by a base URL
    given whole as ``${ECHO_URL}`` (the form the README recommends), with a token in a header."""
    from contextlib import ExitStack

    from cx_core.auth import create_user
    from tests.helpers import fresh_pg_database

    log: list[str] = []
    collect = _Collect(log)
    root = logging.getLogger()
    with ExitStack() as stack:
        url = stack.enter_context(serving(_echo_handler()))
        database_url = stack.enter_context(fresh_pg_database()) if request.param == "postgres" else ""
        if request.param == "postgres":
            request.node.add_marker(pytest.mark.postgres)
        actions = tmp_path / "actions.yaml"
        note_id = {"note_id": {"type": "string"}}
        actions.write_text(yaml.safe_dump({
            "services": {"notes": {"base_url": "${ECHO_URL}", "headers": {"Authorization": "Bearer ${ECHO_TOKEN}"},
                                   "allowed_hosts": ["127.0.0.1"], "timeout": 2}},
            "actions": [
                {"name": "read_note", "label": "Read a note", "description": "Read a note.", "effect": "read",
                 "service": "notes", "method": "GET", "path": "/notes/{note_id}",
                 "arguments": {"type": "object", "required": ["note_id"], "properties": note_id}},
                {"name": "add_note", "label": "Add a note", "description": "Add a note.", "effect": "write",
                 "service": "notes", "method": "POST", "path": "/notes/{note_id}/lines", "body": {"id": "{note_id}"},
                 "arguments": {"type": "object", "required": ["note_id", "customer_id"],
                               "properties": {**note_id, "customer_id": {"type": "string"}}},
                 "owner": {"arg": "customer_id"}, "idempotency_key": "Idempotency-Key"}]}, sort_keys=False))
        monkeypatch.setenv("TANDEM_ECHO_URL", f"{url}/hooks/{SEGMENT}/v2")
        monkeypatch.setenv("TANDEM_ECHO_TOKEN", ECHO_TOKEN)
        monkeypatch.setenv("TANDEM_ACTIONS_FILE", str(actions))
        root.addHandler(collect)
        previous = root.level
        root.setLevel(logging.DEBUG)
        stack.callback(root.removeHandler, collect)
        stack.callback(root.setLevel, previous)
        stack.callback(packs.use, domain.find("lumen"))
        svc = Services(load_settings(data_dir=tmp_path / "data", database_url=database_url))
        stack.callback(svc.close)
        svc.db.migrate()
        create_user(svc.db, DEMO_ADMIN.username, DEMO_ADMIN.display_name, DEMO_ADMIN.role, "password-123")
        create_user(svc.db, ADVISOR.username, ADVISOR.display_name, ADVISOR.role, "password-123")
        with svc.db.tx() as s:
            s.add(CustomerRow(user_id="ann_1", first_name="Ann", last_name="Lee", email="ann@example.com",
                              created_at=NOW))
        assert not LOADED.problems, LOADED.problems
        yield svc, log


def _stored(svc: Services) -> bytes:
    """Every row of every table, as the database gives it back."""
    from sqlalchemy import text

    from cx_core.store.tables import Base

    out = []
    with svc.db.session() as s:
        for table in Base.metadata.sorted_tables:
            out += [repr(tuple(row)) for row in s.execute(text(f'SELECT * FROM "{table.name}"'))]
    return "\n".join(out).encode()


def test_a_whole_url_setting_whose_segment_a_service_echoes_alone_is_never_stored(
        echo_world: tuple[Services, list[str]]) -> None:
    svc, log = echo_world
    ticket = conversations.receive(svc.db, Inbound(source="api", ticket_id="E-1", customer="ann@example.com",
                                                   body="Please add a line to my note."))
    ctx = ExecContext(actor="agent", role=None, ticket_id=ticket.ticket_id, customer_id="ann_1", autonomy=2,
                      today=NOW.date(), now=NOW)
    refused = execute(svc.db, svc.policy(), "read_note", {"note_id": "N-404"}, ctx)
    assert refused.status in {"denied", "failed"} and MARK in refused.reason, refused
    with svc.db.tx() as s:
        row = s.get(TicketRow, ticket.ticket_id)
        assert row is not None
        row.status = "open"
    proposal = int(desk.add_action(svc.db, svc.policy(), ADVISOR, ticket.ticket_id, "add_note",
                                   {"note_id": "N-2", "customer_id": "ann_1"})["id"])
    approved = desk.approve(svc.db, svc.policy(), ADVISOR, proposal)
    tried = [action_admin.try_read(svc.db, DEMO_ADMIN, "read_note", {"note_id": n}) for n in ("N-1", "N-404")]
    assert tried[0]["ok"] and MARK in json.dumps(tried[0]["result"]), tried[0]  # "Try it" masks the answer too
    assert not tried[1]["ok"] and MARK in tried[1]["error"], tried[1]
    assert audit.verify(svc.db).ok
    places = {"database": _stored(svc), "log": "\n".join(log).encode(),
              "pages": json.dumps([refused.reason, approved, tried], default=str).encode()}
    if svc.db.is_sqlite:
        svc.db.engine.dispose()
        with sqlite3.connect(svc.settings.data_dir / "tandem.db") as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        places["database file"] = (svc.settings.data_dir / "tandem.db").read_bytes()
    found = [f"{name} ({form}) in the {place}" for place, data in places.items()
             for name, value in (("segment", SEGMENT), ("token", ECHO_TOKEN))
             for form, text in every_form(value).items() if text.encode() in data]
    assert any(MARK.encode() in data for data in places.values())
    assert not found, found
