"""The Actions page and its engine side: the actions in force with their source and effect, the settings a declared
service still needs, the recent calls, and an admin's trial of a read action (never a write, never by an advisor)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from cx_core import action_admin, domain, packs
from cx_core.access import StaffUser
from cx_core.auth import create_user
from cx_core.config import PROJECT_ROOT, load_settings
from cx_core.errors import InvalidInput, NotAuthorised
from cx_core.models import Role
from cx_core.services import Services
from cx_core.store.db import utcnow
from cx_core.store.tables import ActionCallRow, AuditRow
from tests.helpers import plain

APP = str(PROJECT_ROOT / "app.py")
ADMIN = StaffUser("test-admin", "Test admin", Role.admin)
ADVISOR = StaffUser("test-advisor", "Test advisor", Role.advisor)
TOKEN = "TANDEM_ADMIN_TEST_ORDERS_TOKEN"


class _Orders(BaseHTTPRequestHandler):
    """A team's orders system: one order, and who asked with which token."""

    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization")})
        if self.path == "/orders/A-1":
            body, status = {"id": "A-1", "status": "shipped", "customer": {"id": "C-9"}}, 200
        else:
            body, status = {"detail": "no such order"}, 404
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's signature
        return


@pytest.fixture
def orders_system() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Orders)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Orders.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _declared_file(folder: Path, base_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "actions.yaml"
    path.write_text(f"""
services:
  shop:
    base_url: {base_url}
    headers: {{Authorization: "Bearer ${{{TOKEN.removeprefix('TANDEM_')}}}"}}
actions:
  - name: get_shop_order
    label: Look up a shop order
    description: Read an order of the shop system.
    effect: read
    service: shop
    path: /orders/{{order_id}}
    arguments:
      type: object
      required: [order_id]
      properties:
        order_id: {{type: string, description: The order's id, examples: [A-1]}}
    result: {{status: status, customer_id: customer.id}}
    task_types: [order_status]
  - name: void_shop_order
    description: Void an order in the shop system.
    effect: destructive
    service: shop
    method: DELETE
    path: /orders/{{order_id}}
    arguments: {{type: object, required: [order_id], properties: {{order_id: {{type: string}}}}}}
    owner: {{action: get_shop_order, args: {{order_id: "{{order_id}}"}}, field: customer_id}}
""", encoding="utf-8")
    return path


@pytest.fixture
def svc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """An empty database with an admin and an advisor; the demo pack in force without declared actions."""
    monkeypatch.delenv("TANDEM_ACTIONS_FILE", raising=False)
    monkeypatch.delenv(TOKEN, raising=False)
    services = Services(load_settings(data_dir=tmp_path / "data", database_url=""))
    services.db.migrate()
    for user in (ADMIN, ADVISOR):
        create_user(services.db, user.username, user.display_name, user.role, "password-123")
    yield services
    services.close()


@pytest.fixture
def declared(svc: Services, tmp_path: Path, orders_system: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The demo pack with an actions file kept outside it (``TANDEM_ACTIONS_FILE``); the pack as shipped after."""
    path = _declared_file(tmp_path / "outside", orders_system)
    monkeypatch.setenv("TANDEM_ACTIONS_FILE", str(path))
    packs.use(domain.find("lumen"))
    yield path
    monkeypatch.delenv("TANDEM_ACTIONS_FILE")
    packs.use(domain.find("lumen"))


def _tried(svc: Services) -> list[AuditRow]:
    with svc.db.session() as s:
        return list(s.scalars(select(AuditRow).where(AuditRow.kind == "action.tried").order_by(AuditRow.seq)))


def test_catalogue_lists_the_packs_actions_with_their_effects(svc: Services) -> None:
    rows = {r["name"]: r for r in action_admin.catalogue(svc, ADMIN)}
    assert rows["lookup_order"]["source"] == "pack code" and rows["lookup_order"]["effect"] == "read"
    assert rows["cancel_order"]["effect"] == "destructive" and rows["cancel_order"]["confirm"]
    assert rows["refund"]["effect"] == "write" and rows["refund"]["reversible"]
    assert rows["send_reply"]["source"] == "engine"
    assert rows["lookup_order"]["schema"]["required"] == ["order_id"]
    assert rows["lookup_order"]["method"] == "" and rows["lookup_order"]["service"] == "orders"
    assert not action_admin.missing_secrets(svc.db, ADMIN) and not action_admin.file_problems(svc.db, ADMIN)


def test_try_read_refuses_a_write_and_an_advisor(svc: Services) -> None:
    with pytest.raises(InvalidInput, match="only read actions can be tried here"):
        action_admin.try_read(svc.db, ADMIN, "refund", {"order_id": "#W0000001", "amount": 5, "reason": "test"})
    with pytest.raises(NotAuthorised, match="admin role"):
        action_admin.try_read(svc.db, ADVISOR, "lookup_order", {"order_id": "#W0000001"})
    with pytest.raises(InvalidInput, match="^order_id: "):
        action_admin.try_read(svc.db, ADMIN, "lookup_order", {"order_id": "W1"})
    assert not _tried(svc)


def test_try_read_of_a_pack_read_gives_the_reason_and_is_audited(svc: Services) -> None:
    out = action_admin.try_read(svc.db, ADMIN, "lookup_order", {"order_id": "#W0000001"})
    assert out["ok"] is False and out["result"] is None and out["error"] and "\n" not in out["error"]
    event = _tried(svc)[-1]
    assert event.actor == "test-admin" and json.loads(event.data)["action"] == "lookup_order"
    assert json.loads(event.data)["ok"] is False


def test_recent_calls_newest_first(svc: Services) -> None:
    now = utcnow()
    with svc.db.tx() as s:
        s.add(ActionCallRow(action="get_shop_order", ticket_id="T-1", method="GET", host="shop.internal",
                            path="/orders/A-1", status=200, ok=True, latency_ms=12, at=now - timedelta(minutes=5)))
        s.add(ActionCallRow(action="void_shop_order", ticket_id=None, method="DELETE", host="shop.internal",
                            path="/orders/A-1", status=409, ok=False, latency_ms=30, error="already shipped", at=now))
    calls = action_admin.recent_calls(svc.db, ADMIN)
    assert [c["action"] for c in calls] == ["void_shop_order", "get_shop_order"]
    assert calls[0] == {"at": now, "action": "void_shop_order", "ticket": None, "method": "DELETE",
                        "host": "shop.internal", "path": "/orders/A-1", "status": 409, "ok": False,
                        "latency_ms": 30, "error": "already shipped"}
    assert len(action_admin.recent_calls(svc.db, ADMIN, limit=1)) == 1


def test_declared_actions_missing_settings_and_a_tried_read(svc: Services, declared: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rows = {r["name"]: r for r in action_admin.catalogue(svc, ADMIN)}
    assert rows["get_shop_order"]["source"] == "declared (HTTP)" and rows["get_shop_order"]["effect"] == "read"
    assert (rows["void_shop_order"]["effect"], rows["void_shop_order"]["method"],
            rows["void_shop_order"]["path"]) == ("destructive", "DELETE", "/orders/{order_id}")
    assert rows["void_shop_order"]["confirm"] and rows["lookup_order"]["source"] == "pack code"
    assert action_admin.missing_secrets(svc.db, ADMIN) == [{"kind": "service", "service": "shop", "setting": TOKEN,
                                               "actions": ["get_shop_order", "void_shop_order"]}]
    assert action_admin.form_fields("get_shop_order")[0] | {"help": ""} == {
        "name": "order_id", "type": "string", "required": True, "help": "", "value": "A-1"}
    out = action_admin.try_read(svc.db, ADMIN, "get_shop_order", {"order_id": "A-1"})
    assert out["ok"] is False and TOKEN in out["error"] and not _Orders.seen  # nothing sent without its secret
    monkeypatch.setenv(TOKEN, "secret-value")
    assert not action_admin.missing_secrets(svc.db, ADMIN)
    out = action_admin.try_read(svc.db, ADMIN, "get_shop_order", {"order_id": "A-1"})
    assert out["ok"] and out["status"] == 200 and out["result"] == {"status": "shipped", "customer_id": "C-9"}
    assert _Orders.seen[-1]["auth"] == "Bearer secret-value"
    out = action_admin.try_read(svc.db, ADMIN, "get_shop_order", {"order_id": "B-2"})
    assert out["ok"] is False and out["status"] == 404 and "no such order" in out["error"]
    with pytest.raises(InvalidInput, match="only read actions"):
        action_admin.try_read(svc.db, ADMIN, "void_shop_order", {"order_id": "A-1"})
    events = [json.loads(e.data) for e in _tried(svc)]
    assert [(e["ok"], e["status"]) for e in events] == [(False, None), (True, 200), (False, 404)]
    assert all("secret-value" not in json.dumps(e) for e in events)


def test_an_action_with_a_problem_is_kept_out_alone(svc: Services, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = _declared_file(tmp_path / "broken", "http://127.0.0.1:9")
    path.write_text(path.read_text(encoding="utf-8").replace("service: shop\n    method", "service: nowhere\n"
                                                             "    method"), encoding="utf-8")
    monkeypatch.setenv("TANDEM_ACTIONS_FILE", str(path))
    try:
        packs.use(domain.find("lumen"))
        problems = action_admin.file_problems(svc.db, ADMIN)
        assert problems and all(p.startswith(f"{path}: ") for p in problems)
        assert any("void_shop_order.service: unknown service 'nowhere'" in p for p in problems)
        names = {r["name"] for r in action_admin.catalogue(svc, ADMIN)}
        assert "get_shop_order" in names and "void_shop_order" not in names  # the others stay in force
        assert action_admin.not_in_force(svc.db, ADMIN) == [
            {"name": "void_shop_order", "reason": "service: unknown service 'nowhere' (services: shop)"}]
    finally:
        monkeypatch.delenv("TANDEM_ACTIONS_FILE")
        packs.use(domain.find("lumen"))
    assert not action_admin.file_problems(svc.db, ADMIN)


def test_form_args_reads_numbers_and_keeps_text() -> None:
    packs.use(domain.find("lumen"))
    assert action_admin.form_args("refund", {"order_id": " #W1234567 ", "amount": "12.5", "reason": "",
                                             "payment_method_id": ""}) == {"order_id": "#W1234567", "amount": 12.5}


# ------------------------------------------------------------------ the page
@pytest.fixture
def app_data(svc: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.setenv("TANDEM_DATA_DIR", str(svc.settings.data_dir))
    import streamlit as st

    st.cache_resource.clear()
    yield svc
    st.cache_resource.clear()


def _page(user: StaffUser) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = user
    return at.switch_page("pages/actions.py")


def test_actions_page_lists_the_packs_actions_for_admins_only(app_data: Services) -> None:
    at = _page(ADMIN).run()
    assert not at.exception and not at.error
    listed = at.dataframe[0].value
    assert {"Look up order", "Refund", "Cancel order"} <= set(listed["Action"])
    assert set(listed.loc[listed["Action"] == "Look up order", "Source"]) == {"pack code"}
    at.selectbox(key="action-pick").select("lookup_order").run()
    assert not at.exception and any(b.label == "Try it" for b in at.button)
    advisor = _page(ADVISOR).run()
    assert any("admin role" in e.value for e in advisor.error) and not advisor.dataframe


def test_actions_page_warns_of_a_missing_setting_and_tries_a_declared_read(app_data: Services, declared: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(ADMIN).run()
    assert not at.exception and not at.error
    assert any(plain(w.value).startswith(f"{TOKEN} is not set: calls to shop fail until it is") for w in at.warning)
    monkeypatch.setenv(TOKEN, "secret-value")
    at.selectbox(key="action-pick").select("get_shop_order").run()
    assert at.text_input(key="try-get_shop_order-order_id").value == "A-1"
    next(b for b in at.button if b.label == "Try it").click().run()
    assert not at.exception and not at.error
    assert any("Answered in" in s.value and "status 200" in s.value for s in at.success)
    assert json.loads(at.json[-1].value) == {"status": "shipped", "customer_id": "C-9"}
