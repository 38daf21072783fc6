"""The tools of a real MCP server as actions: registered through ``actions import-mcp`` (over streamable HTTP as a
trusted server, over stdio as an untrusted one), checked clean, their effects taken from the annotations only when
the server is trusted; a read runs at once, a write waits for a person and makes exactly one call carrying Tandem's
idempotency key, a tool's error is a one-line refusal, and a server that is down leaves the call retrying."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from cx_core import audit, conversations, delivery, desk, domain, packs
from cx_core.access import StaffUser
from cx_core.actions import REGISTRY, ExecContext
from cx_core.actions.execute import execute, outbound_key
from cx_core.config import PROJECT_ROOT, Settings
from cx_core.conversations import Inbound
from cx_core.errors import InvalidInput
from cx_core.http_actions import LOADED
from cx_core.models import Autonomy, Role
from cx_core.services import Services
from cx_core.store.tables import ExecutionRow, NotificationRow, TicketRow
from domains.lumen.tables import CustomerRow
from tests.conftest import NOW, copy_world
from tests.helpers import DEMO_ADMIN
from tests.servers.mcp_server import (
    TOOL_NAMES,
    WELCOME_VOUCHER,
    McpHttpServer,
    McpStore,
    running_mcp_http,
    stdio_command,
)

pytestmark = pytest.mark.http_actions
ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)
CLI_TIMEOUT = 120


@dataclass
class McpWorld:
    """A copy of the demo world with three MCP servers registered: ``vouchers`` (trusted, HTTP), ``vouchers_local``
    (untrusted, stdio) and ``vouchers_spare`` (trusted, HTTP, stopped after it was registered)."""

    svc: Services
    server: McpHttpServer
    stdio_db: Path
    actions_file: Path
    env: dict[str, str]
    customers: list[dict[str, Any]]
    registered: dict[str, str]  # server name → what the CLI printed

    @property
    def settings(self) -> Settings:
        return self.svc.settings

    @property
    def stdio(self) -> McpStore:
        return McpStore(self.stdio_db)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m cx_core actions …`` in its own process."""
    return subprocess.run([sys.executable, "-m", "cx_core", "actions", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT)


def _register(env: dict[str, str], name: str, *args: str) -> str:
    """Registers an MCP server through the CLI; returns what it printed."""
    done = _cli(env, "import-mcp", name, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def mcp_world(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpWorld]:
    """The demo world with the servers registered in an actions file of its own, in force while the module runs."""
    folder = tmp_path_factory.mktemp("mcp-actions")
    settings = copy_world(world, folder / "data")
    svc = Services(settings)
    with svc.db.session() as s:
        rows = s.scalars(select(CustomerRow).order_by(CustomerRow.user_id).limit(2)).all()
        customers = [{"id": r.user_id, "email": r.email} for r in rows]
    target = folder / "tandem-actions.yaml"  # TANDEM_ACTIONS_FILE is a file of any name, not a pack folder
    stdio_db = folder / "stdio" / "mcp.sqlite"
    stdio_db.parent.mkdir()
    env = {**os.environ, "TANDEM_ACTIONS_FILE": str(target), "TANDEM_DATA_DIR": str(settings.data_dir)}
    previous = os.environ.get("TANDEM_ACTIONS_FILE")
    try:
        with running_mcp_http(folder / "http") as server:
            registered = {
                "vouchers": _register(env, "vouchers", "--trusted", "--task-types", "complaint", "--url", server.url),
                "vouchers_local": _register(env, "vouchers_local", "--command", *stdio_command(stdio_db)),
            }
            with running_mcp_http(folder / "spare") as spare:
                registered["vouchers_spare"] = _register(env, "vouchers_spare", "--trusted", "--url", spare.url)
            # the spare server is gone: its registration now points at a closed port
            os.environ["TANDEM_ACTIONS_FILE"] = str(target)
            packs.use(domain.find("lumen"))
            assert not LOADED.problems, LOADED.problems
            yield McpWorld(svc, server, stdio_db, target, env, customers, registered)
    finally:
        if previous is None:
            os.environ.pop("TANDEM_ACTIONS_FILE", None)
        else:
            os.environ["TANDEM_ACTIONS_FILE"] = previous
        packs.use(domain.find("lumen"))
        svc.close()


def _ticket(w: McpWorld, ticket_id: str) -> str:
    """An open ticket from the first demo customer."""
    got = conversations.receive(w.svc.db, Inbound(source="api", ticket_id=ticket_id, customer=w.customers[0]["email"],
                                                  body="My delivery was late again; I would like a voucher."))
    with w.svc.db.tx() as s:
        row = s.get(TicketRow, got.ticket_id)
        assert row is not None and row.customer_id == w.customers[0]["id"]
        row.status, row.task_type = "open", "complaint"
    return got.ticket_id


def _agent(w: McpWorld, ticket_id: str) -> ExecContext:
    """The agent acting alone on the ticket, at the copilot level."""
    return ExecContext(actor="agent", role=None, ticket_id=ticket_id, customer_id=w.customers[0]["id"], autonomy=2,
                       today=NOW.date(), now=NOW)


def _add(w: McpWorld, ticket_id: str, action: str, args: dict[str, Any]) -> int:
    """An advisor adds ``action`` to the ticket; returns the proposal's id."""
    return int(desk.add_action(w.svc.db, w.svc.policy(), ADVISOR, ticket_id, action, args)["id"])


def _approve(w: McpWorld, pid: int) -> dict[str, Any]:
    return desk.approve(w.svc.db, w.svc.policy(), ADVISOR, pid)


def _proposal(w: McpWorld, ticket_id: str, pid: int) -> dict[str, Any]:
    return next(p for p in desk.get_ticket(w.svc.db, ticket_id)["proposals"] if p["id"] == pid)


def _calls(store: McpStore | McpHttpServer, tool: str, key: str | None = None) -> list[dict[str, Any]]:
    """The calls of ``tool`` a server recorded (with Tandem's key ``key``, when given)."""
    return [c for c in store.calls() if c["tool"] == tool
            and (key is None or c["arguments"].get("idempotency_key") == key)]


def test_the_cli_registers_both_servers_with_their_tools_and_the_file_checks_clean(mcp_world: McpWorld) -> None:
    w = mcp_world
    for name, kind in (("vouchers", "trusted: its annotations count"),
                       ("vouchers_local", "untrusted: every tool is confirmed by a person")):
        out = w.registered[name]
        for tool in TOOL_NAMES:
            assert f"added  {name}_{tool}" in out
        assert f"3 tools of '{name}' written to {w.actions_file} ({kind})" in out

    servers = {m["name"]: m for m in yaml.safe_load(w.actions_file.read_text())["mcp_servers"]}
    assert list(servers) == ["vouchers", "vouchers_local", "vouchers_spare"]
    http, local = servers["vouchers"], servers["vouchers_local"]
    assert http["url"] == w.server.url and http["trusted"] is True and http["task_types"] == ["complaint"]
    assert "command" not in http
    assert local["command"] == stdio_command(w.stdio_db) and local["trusted"] is False and "url" not in local
    for server in (http, local):
        tools = {t["name"]: t for t in server["tools"]}
        assert sorted(tools) == sorted(TOOL_NAMES)
        assert all(t["description"] and t["input_schema"]["type"] == "object" for t in tools.values())
        lookup, issue, close = tools["lookup_voucher"], tools["issue_voucher"], tools["close_account"]
        assert lookup["input_schema"]["required"] == ["code"]
        assert lookup["annotations"]["readOnlyHint"] is True
        assert sorted(issue["input_schema"]["required"]) == ["amount", "customer_id", "reason"]
        assert "idempotency_key" in issue["input_schema"]["properties"]
        assert issue["annotations"]["destructiveHint"] is False and issue["annotations"]["idempotentHint"] is True
        assert close["input_schema"]["required"] == ["customer_id"] and close["annotations"]["destructiveHint"] is True
    assert not w.server.calls() and not w.stdio.calls()  # listing the tools calls none of them

    done = _cli(w.env, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{w.actions_file}: 0 actions, 3 MCP servers, no problems" in done.stdout


def test_annotations_count_for_the_trusted_server_only(mcp_world: McpWorld) -> None:
    w = mcp_world
    lookup, issue, close = (REGISTRY[f"vouchers_{t}"] for t in ("lookup_voucher", "issue_voucher", "close_account"))
    assert not lookup.writes and not lookup.confirm and lookup.preview is None
    assert issue.writes and issue.confirm and issue.risk == "medium"
    assert close.writes and close.confirm and close.risk == "high"
    assert issue.task_types == ("complaint",)
    assert issue.connector == "vouchers" and not issue.local and issue.remote.idempotent
    assert "idempotency_key" not in issue.args_model.model_fields  # Tandem's key, never a model's argument
    for tool in TOOL_NAMES:
        spec = REGISTRY[f"vouchers_local_{tool}"]
        assert spec.writes and spec.confirm and spec.risk == "high", tool
        assert spec.label == tool.replace("_", " ").capitalize()
    assert not REGISTRY["vouchers_local_close_account"].remote.idempotent
    assert REGISTRY["vouchers_local_issue_voucher"].remote.idempotent  # it takes the key, so a retry is recognised
    assert {f"vouchers_{t}" for t in ("issue_voucher", "close_account")} | {f"vouchers_local_{t}" for t in
                                                                             TOOL_NAMES} <= set(desk.addable_actions())

    # even a look-up of the untrusted server waits for a person at the highest autonomy, and asking calls nothing
    tid = _ticket(w, "M-0")
    ctx = _agent(w, tid)
    ctx.autonomy = int(Autonomy.orchestrate)
    out = execute(w.svc.db, w.svc.policy(), "vouchers_local_lookup_voucher", {"code": "WELCOME10"}, ctx)
    assert out.status == "needs_approval" and "cannot be undone" in out.reason, out
    assert not _calls(w.stdio, "lookup_voucher")


def test_a_read_runs_at_once_and_keeps_another_customers_record_off_the_ticket(mcp_world: McpWorld) -> None:
    w = mcp_world
    tid = _ticket(w, "M-1")
    before = len(w.server.calls())
    out = execute(w.svc.db, w.svc.policy(), "vouchers_lookup_voucher", {"code": "welcome10"}, _agent(w, tid))
    assert WELCOME_VOUCHER["customer_id"] != w.customers[0]["id"]
    assert out.status == "denied" and "does not belong" in out.reason and not out.result
    calls = w.server.calls()[before:]
    assert [(c["tool"], c["arguments"], c["is_error"]) for c in calls] == [
        ("lookup_voucher", {"code": "welcome10"}, False)]
    with w.svc.db.session() as s:  # a read leaves no execution and nothing in the outbox
        assert s.scalar(select(ExecutionRow).where(ExecutionRow.ticket_id == tid)) is None
        assert s.scalar(select(NotificationRow).where(NotificationRow.destination == "action",
                                                      NotificationRow.ticket_id == tid)) is None


def test_an_approved_voucher_is_issued_once_with_tandems_key(mcp_world: McpWorld) -> None:
    w = mcp_world
    tid = _ticket(w, "M-2")
    mine, other = w.customers[0]["id"], w.customers[1]["id"]
    before = len(w.server.calls())
    with pytest.raises(InvalidInput, match="does not belong to the customer"):
        _add(w, tid, "vouchers_issue_voucher", {"customer_id": other, "amount": 5, "reason": "late delivery"})
    with pytest.raises(InvalidInput, match="does not belong to the customer"):
        _add(w, tid, "vouchers_close_account", {"customer_id": "C-UNKNOWN"})
    with pytest.raises(InvalidInput, match="amount"):
        _add(w, tid, "vouchers_issue_voucher", {"customer_id": mine, "amount": 900, "reason": "late delivery"})
    pid = _add(w, tid, "vouchers_issue_voucher", {"customer_id": mine, "amount": 12.5, "reason": "late delivery"})
    assert _proposal(w, tid, pid)["status"] == "pending"
    assert len(w.server.calls()) == before  # refused or waiting: no tool was called

    out = _approve(w, pid)
    assert out["status"] == "executed", out
    assert out["result"]["customer_id"] == mine and out["result"]["replayed"] is False
    key = outbound_key(w.svc.db, f"proposal:{pid}")  # this installation's id in front: never repeated elsewhere
    calls = w.server.calls()[before:]
    assert [(c["tool"], c["arguments"], c["is_error"]) for c in calls] == [
        ("issue_voucher", {"customer_id": mine, "amount": 12.5, "reason": "late delivery", "idempotency_key": key},
         False)]
    assert [(v["customer_id"], v["amount"], v["code"]) for v in w.server.vouchers() if v["idempotency_key"] == key] \
        == [(mine, 12.5, out["result"]["code"])]
    p = _proposal(w, tid, pid)
    assert p["status"] == "executed" and p["result"]["code"] == out["result"]["code"]
    assert _approve(w, pid)["status"] == "executed"  # a second click
    assert len(w.server.calls()) == before + 1
    events = [e for e in audit.events(w.svc.db, DEMO_ADMIN, ticket_id=tid) if e.kind == "action.executed"]
    assert len(events) == 1 and events[0].data["call"]["method"] == "MCP"
    assert events[0].data["call"]["path"] == "tools/issue_voucher" and events[0].data["call"]["status"] == 200
    assert key not in str(events[0].data["call"])

    for i in range(5):  # two approvals at once
        pid = _add(w, tid, "vouchers_issue_voucher", {"customer_id": mine, "amount": 1 + i, "reason": "twice"})
        results: list[str] = []
        gate = threading.Barrier(2)

        def approve(pid: int = pid, gate: threading.Barrier = gate, results: list[str] = results) -> None:
            gate.wait()
            results.append(_approve(w, pid)["status"])

        threads = [threading.Thread(target=approve) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert "executed" in results and set(results) <= {"executed", "calling"}, results
        assert _proposal(w, tid, pid)["status"] == "executed"
        sent = outbound_key(w.svc.db, f"proposal:{pid}")
        assert len(_calls(w.server, "issue_voucher", sent)) == 1
        assert len([v for v in w.server.vouchers() if v["idempotency_key"] == sent]) == 1
    assert audit.verify(w.svc.db).ok


def test_a_tools_error_is_a_one_line_refusal_and_is_not_retried(mcp_world: McpWorld) -> None:
    w = mcp_world
    tid = _ticket(w, "M-3")
    out = execute(w.svc.db, w.svc.policy(), "vouchers_lookup_voucher", {"code": "NOPE"}, _agent(w, tid))
    assert out.status == "denied" and "\n" not in out.reason, out
    assert out.reason.startswith("lookup_voucher refused:") and "voucher NOPE not found" in out.reason
    missing = [c for c in w.server.calls() if c["arguments"] == {"code": "NOPE"}]
    assert [c["is_error"] for c in missing] == [True]

    # a write of the untrusted server: approved, refused by the tool, never sent again
    pid = _add(w, tid, "vouchers_local_lookup_voucher", {"code": "NOPE"})
    out = _approve(w, pid)
    assert out["status"] == "denied" and "\n" not in out["reason"], out
    assert "voucher NOPE not found" in out["reason"]
    assert _proposal(w, tid, pid)["status"] == "denied"
    delivery.run_once(w.svc.db, w.settings)
    assert [c["is_error"] for c in _calls(w.stdio, "lookup_voucher")] == [True]
    assert not [p for p in delivery.problems(w.svc.db, DEMO_ADMIN) if p["ticket_id"] == tid and p["status"] == "retrying"]
    with pytest.raises(InvalidInput, match="denied and cannot be approved"):
        _approve(w, pid)
    assert len(_calls(w.stdio, "lookup_voucher")) == 1


def test_a_server_that_is_down_leaves_the_call_retrying(mcp_world: McpWorld) -> None:
    w = mcp_world
    tid = _ticket(w, "M-4")
    pid = _add(w, tid, "vouchers_spare_issue_voucher", {"customer_id": w.customers[0]["id"], "amount": 4,
                                                         "reason": "late delivery"})
    started = time.monotonic()
    out = _approve(w, pid)
    took = time.monotonic() - started
    assert out["status"] == "calling", out
    assert out["reason"].startswith("not done yet, retrying:") and "vouchers_spare" in out["reason"]
    assert "\n" not in out["reason"] and took < 15, (out, took)
    assert _proposal(w, tid, pid)["status"] == "calling"  # not done, and never said to be
    waiting = [p for p in delivery.problems(w.svc.db, DEMO_ADMIN) if p["ticket_id"] == tid]
    assert [(p["destination"], p["status"], p["attempts"]) for p in waiting] == [("action", "retrying", 1)]
    assert "could not be reached" in waiting[0]["error"]
    kinds = [e.kind for e in reversed(audit.events(w.svc.db, DEMO_ADMIN, ticket_id=tid)) if e.kind.startswith("action.")]
    assert kinds[-2:] == ["action.calling", "action.retrying"] and "action.executed" not in kinds
    assert _approve(w, pid)["status"] == "calling"  # a second click sends nothing more


def test_an_untrusted_stdio_server_issues_an_approved_voucher_once(mcp_world: McpWorld) -> None:
    w = mcp_world
    tid = _ticket(w, "M-5")
    http_before = len(w.server.calls())
    pid = _add(w, tid, "vouchers_local_issue_voucher", {"customer_id": w.customers[0]["id"], "amount": 7,
                                                         "reason": "late delivery"})
    assert not _calls(w.stdio, "issue_voucher")
    out = _approve(w, pid)
    assert out["status"] == "executed", out
    assert out["result"]["amount"] == 7 and out["result"]["replayed"] is False
    assert _approve(w, pid)["status"] == "executed"
    calls = _calls(w.stdio, "issue_voucher")
    assert [(c["arguments"], c["is_error"]) for c in calls] == [
        ({"customer_id": w.customers[0]["id"], "amount": 7, "reason": "late delivery",
          "idempotency_key": outbound_key(w.svc.db, f"proposal:{pid}")}, False)]
    assert [v["idempotency_key"] for v in w.stdio.vouchers()] == [outbound_key(w.svc.db, f"proposal:{pid}")]
    assert len(w.server.calls()) == http_before  # the other registration of the same tools was not reached
