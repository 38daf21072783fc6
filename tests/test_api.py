"""The inbound API as its clients meet it: the real server (``python -m cx_core api``) over a copy of the demo world,
called over HTTP with tokens made by the command line."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from cx_core import api_tokens
from cx_core.access import StaffUser
from cx_core.config import PROJECT_ROOT, Settings
from cx_core.conversations import add_note
from cx_core.models import Role
from cx_core.store.db import Database
from cx_core.store.tables import MessageRow, TicketRow
from tests.conftest import copy_world
from tests.helpers import HTTP, free_port, outside_env

pytestmark = pytest.mark.api


@dataclass
class Api:
    url: str
    env: dict[str, str]
    settings: Settings
    db: Database
    token: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token if token is not None else self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=False)


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m cx_core ARGS`` against the test's data folder."""
    return subprocess.run([sys.executable, "-m", "cx_core", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def new_token(env: dict[str, str], name: str) -> tuple[int, str]:
    """A token made by ``api-token create``: (its id, the token printed once)."""
    done = cli(env, "api-token", "create", name)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    made = re.search(r"token (\d+) '", done.stderr)
    assert made is not None, done.stderr
    return int(made.group(1)), token


@contextmanager
def running_api(world: Settings, data: Path, extra_env: dict[str, str] | None = None) -> Iterator[Api]:
    """The real API server on a free port over a copy of the demo world, with a token named 'test'."""
    settings = copy_world(world, data)
    env = {**outside_env(),
           "TANDEM_DATA_DIR": str(data), "TANDEM_DATABASE_URL": "", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "OPENAI_API_KEY": "test-key-unused",
           "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", **(extra_env or {})}
    _, token = new_token(env, "test")
    port = free_port()
    log = (data / "api.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "cx_core", "api", "--port", str(port)], cwd=PROJECT_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    db = Database(settings.db_url)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if HTTP.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the API did not start: " + (data / "api.log").read_text()[-2000:])
            time.sleep(0.2)
        yield Api(url, env, settings, db, token)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        db.dispose()


def count_tickets(db: Database, ticket_id: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(TicketRow).where(TicketRow.id == ticket_id)) or 0)


def count_messages(db: Database, ticket_id: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(MessageRow).where(MessageRow.ticket_id == ticket_id))
                   or 0)


@pytest.fixture(scope="module")
def api(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(world, tmp_path_factory.mktemp("api")) as running:
        yield running


def ticket(ticket_id: str, **fields: str) -> dict[str, str]:
    return {"id": ticket_id, "customer": "ana@example.com", "channel": "email", "subject": "Where is my parcel?",
            "body": "Hello, my order has not arrived yet. Can you tell me where it is?", **fields}


def test_health_needs_no_token_and_openapi_lists_the_paths(api: Api) -> None:
    health = HTTP.get(f"{api.url}/api/v1/health", timeout=10)
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok"}
    doc = HTTP.get(f"{api.url}/api/v1/openapi.json", timeout=10).json()
    assert {"/api/v1/tickets", "/api/v1/tickets/{ticket_id}", "/api/v1/tickets/{ticket_id}/messages",
            "/api/v1/health", "/api/v1/webhooks/chatwoot", "/api/v1/webhooks/zendesk",
            "/api/v1/webhooks/helpdesk"} <= set(doc["paths"])
    assert HTTP.get(f"{api.url}/api/v1/docs", timeout=10).status_code == 200


def test_calls_without_a_valid_token_get_401(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as anonymous:
        missing = anonymous.post("/api/v1/tickets", json=ticket("AUTH-1"))
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "\n" not in missing.json()["detail"] and "token" in missing.json()["detail"]
    with api.client("tdm_not-a-real-token") as wrong:
        assert wrong.post("/api/v1/tickets", json=ticket("AUTH-1")).status_code == 401
        assert wrong.get("/api/v1/tickets/AUTH-1").status_code == 401
    token_id, token = api_tokens.create(api.db, "to revoke", "test")
    with api.client(token) as c:
        assert c.get("/api/v1/tickets/AUTH-NONE").status_code == 404  # the token works
        api_tokens.revoke(api.db, token_id, "test")
        revoked = c.get("/api/v1/tickets/AUTH-NONE")
    assert revoked.status_code == 401
    assert revoked.headers["www-authenticate"].startswith("Bearer")
    assert count_tickets(api.db, "AUTH-1") == 0
    listed = {t["name"]: t for t in api_tokens.all_tokens(api.db)}
    assert listed["to revoke"]["revoked_at"] is not None and listed["to revoke"]["last_used_at"] is not None
    assert listed["test"]["revoked_at"] is None and token not in str(listed)


def test_a_ticket_is_created_once(api: Api) -> None:
    with api.client() as c:
        first = c.post("/api/v1/tickets", json=ticket("API-1"))
        assert first.status_code == 201, first.text
        assert first.json() == {"id": "API-1"}
        assert first.headers["location"] == "/api/v1/tickets/API-1"
        again = c.post("/api/v1/tickets", json=ticket("API-1", body="A different text the second time."))
    assert again.status_code == 200
    assert again.json()["id"] == "API-1" and again.json()["status"] == "new"
    assert [m["body"] for m in again.json()["messages"]] == [ticket("API-1")["body"]]
    assert count_tickets(api.db, "API-1") == 1
    assert count_messages(api.db, "API-1") == 1


def test_a_message_is_added_once_by_its_external_id(api: Api) -> None:
    with api.client() as c:
        assert c.post("/api/v1/tickets", json=ticket("API-2")).status_code == 201
        body = {"body": "It is order W2000001, by the way.", "author": "customer", "external_id": "form-2-a"}
        first = c.post("/api/v1/tickets/API-2/messages", json=body)
        assert first.status_code == 201, first.text
        assert first.json()["ticket_id"] == "API-2" and isinstance(first.json()["message_id"], int)
        again = c.post("/api/v1/tickets/API-2/messages", json=body)
        assert again.status_code == 200
        assert again.json() == first.json()
        assert count_messages(api.db, "API-2") == 2
        unknown = c.post("/api/v1/tickets/API-NOPE/messages", json={**body, "external_id": "form-x"})
    assert unknown.status_code == 404
    assert "API-NOPE" in unknown.json()["detail"]
    assert count_tickets(api.db, "API-NOPE") == 0


def test_get_shows_the_conversation_without_internal_notes(api: Api) -> None:
    with api.client() as c:
        assert c.post("/api/v1/tickets", json=ticket("API-3")).status_code == 201
        assert c.post("/api/v1/tickets/API-3/messages",
                      json={"body": "Any news?", "external_id": "form-3-a"}).status_code == 201
        add_note(api.db, StaffUser("ada", "Ada Advisor", Role.advisor), "API-3", "Internal: courier contacted.")
        got = c.get("/api/v1/tickets/API-3")
    assert got.status_code == 200
    view = got.json()
    assert set(view) == {"id", "status", "customer_replied", "messages", "proposals"}
    assert [(m["author"], m["direction"]) for m in view["messages"]] == [("customer", "in"), ("customer", "in")]
    assert all("courier contacted" not in m["body"] for m in view["messages"])
    assert all(set(m) == {"author", "body", "created_at", "direction"} for m in view["messages"])
    assert view["customer_replied"] is True and view["proposals"] == []


def test_bad_input_is_422_naming_the_field_and_stores_nothing(api: Api) -> None:
    with api.client() as c:
        no_body = c.post("/api/v1/tickets", json={"id": "API-BAD-1", "subject": "no body"})
        assert no_body.status_code == 422
        assert no_body.json()["detail"].startswith("body: ")
        channel = c.post("/api/v1/tickets", json=ticket("API-BAD-2", channel="fax"))
        assert channel.status_code == 422
        assert channel.json()["detail"].startswith("channel: ") and "fax" in channel.json()["detail"]
        not_json = c.post("/api/v1/tickets", content=b"{not json", headers={"Content-Type": "application/json"})
        assert not_json.status_code == 422 and "\n" not in not_json.json()["detail"]
        unknown_field = c.post("/api/v1/tickets", json={**ticket("API-BAD-3"), "bdy": "typo"})
        assert unknown_field.status_code == 422 and unknown_field.json()["detail"].startswith("bdy: ")
        assert c.post("/api/v1/tickets", json=ticket("API-BAD-4")).status_code == 201
        no_id = c.post("/api/v1/tickets/API-BAD-4/messages", json={"body": "hi"})
        assert no_id.status_code == 422 and no_id.json()["detail"].startswith("external_id: ")
    for ticket_id in ("API-BAD-1", "API-BAD-2", "API-BAD-3"):
        assert count_tickets(api.db, ticket_id) == 0
    assert count_messages(api.db, "API-BAD-4") == 1


def test_an_oversize_body_is_413_and_stores_nothing(api: Api) -> None:
    limit = api.settings.api_max_body_kb * 1024
    big = ticket("API-BIG-1", body="x" * (limit + 1000))
    with api.client() as c:
        declared = c.post("/api/v1/tickets", json=big)
        assert declared.status_code == 413
        assert "TANDEM_API_MAX_BODY_KB" in declared.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while the body is read
            yield b'{"id": "API-BIG-2", "body": "'
            for _ in range(limit // 8192 + 2):
                yield b"y" * 8192
            yield b'"}'

        streamed = c.post("/api/v1/tickets", content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
    assert count_tickets(api.db, "API-BIG-1") == 0
    assert count_tickets(api.db, "API-BIG-2") == 0


def test_unknown_ticket_is_404(api: Api) -> None:
    with api.client() as c:
        got = c.get("/api/v1/tickets/NO-SUCH-TICKET")
    assert got.status_code == 404
    assert got.json() == {"detail": "ticket NO-SUCH-TICKET not found"}


def test_the_worker_reads_api_tickets_and_get_shows_its_proposals(api: Api) -> None:
    with api.client() as c:
        assert c.post("/api/v1/tickets", json=ticket(
            "API-W-1", body="I was charged twice for my last order, please refund the duplicate payment.")
        ).status_code == 201
        assert c.get("/api/v1/tickets/API-W-1").json()["status"] == "new"  # stored only: no pipeline in the request
        done = cli(api.env, "worker", "--once", "--no-simulate", timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        view = c.get("/api/v1/tickets/API-W-1").json()
    assert view["status"] in {"open", "escalated", "resolved"}
    assert isinstance(view["proposals"], list)
    for p in view["proposals"]:
        assert set(p) == {"action", "args", "decision", "status", "reason"}
        assert isinstance(p["action"], str) and isinstance(p["args"], dict)
