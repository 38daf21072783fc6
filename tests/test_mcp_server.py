"""The MCP server harness, reached with the ``mcp`` client library over stdio and streamable HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.servers.mcp_server import TOOL_NAMES, McpStore, running_mcp_http, stdio_command

pytestmark = pytest.mark.http_actions


def _params(db: Path, cwd: Path | None = None) -> StdioServerParameters:
    command = stdio_command(db)
    return StdioServerParameters(command=command[0], args=command[1:], cwd=cwd)


@asynccontextmanager
async def _stdio(db: Path, cwd: Path | None = None) -> AsyncIterator[ClientSession]:
    async with stdio_client(_params(db, cwd)) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def _http(url: str) -> AsyncIterator[ClientSession]:
    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def _check_tools(session: ClientSession) -> None:
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert sorted(tools) == sorted(TOOL_NAMES)
    for tool in tools.values():
        assert tool.description and "\n" not in tool.description
        assert tool.input_schema["type"] == "object" and tool.input_schema["properties"]
        assert tool.output_schema and tool.output_schema["type"] == "object"
    lookup, issue, close = tools["lookup_voucher"], tools["issue_voucher"], tools["close_account"]
    assert lookup.annotations and lookup.annotations.read_only_hint is True
    assert lookup.input_schema["properties"]["code"]["type"] == "string"
    assert lookup.input_schema["required"] == ["code"]
    assert issue.annotations and issue.annotations.destructive_hint is False
    assert issue.annotations.idempotent_hint is True and issue.annotations.read_only_hint is False
    props = issue.input_schema["properties"]
    assert props["amount"]["type"] == "number" and props["amount"]["exclusiveMinimum"] == 0
    assert props["customer_id"]["type"] == "string" and props["reason"]["type"] == "string"
    assert {"type": "string"} in props["idempotency_key"]["anyOf"]
    assert sorted(issue.input_schema["required"]) == ["amount", "customer_id", "reason"]
    assert close.annotations and close.annotations.destructive_hint is True
    wire = close.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert wire["inputSchema"]["required"] == ["customer_id"]
    assert wire["annotations"]["destructiveHint"] is True


async def _call_each(session: ClientSession, customer: str) -> list[tuple[str, dict[str, Any]]]:
    """Calls every tool (twice with one key, once refused); returns what was sent, in order."""
    sent: list[tuple[str, dict[str, Any]]] = []

    async def call(tool: str, args: dict[str, Any]) -> Any:
        sent.append((tool, args))
        return await session.call_tool(tool, args)

    welcome = await call("lookup_voucher", {"code": "WELCOME10"})
    assert welcome.is_error is False
    assert welcome.structured_content == {"code": "WELCOME10", "customer_id": "C1", "amount": 10.0,
                                          "reason": "welcome", "status": "active"}
    assert json.loads(welcome.content[0].text) == welcome.structured_content

    args = {"customer_id": customer, "amount": 12.5, "reason": "late delivery", "idempotency_key": "k-1"}
    first = await call("issue_voucher", args)
    again = await call("issue_voucher", args)
    assert first.is_error is False and first.structured_content["replayed"] is False
    assert again.structured_content == {**first.structured_content, "replayed": True}
    other = await call("issue_voucher", {"customer_id": customer, "amount": 5, "reason": "sorry"})
    assert other.structured_content["code"] != first.structured_content["code"]

    found = await call("lookup_voucher", {"code": first.structured_content["code"]})
    assert found.structured_content["amount"] == 12.5 and found.structured_content["customer_id"] == customer

    missing = await call("lookup_voucher", {"code": "NOPE"})
    assert missing.is_error is True and missing.structured_content is None
    assert "voucher NOPE not found" in missing.content[0].text

    reused = await call("issue_voucher", {**args, "amount": 99})
    assert reused.is_error is True and "idempotency_key reused" in reused.content[0].text

    invalid = await call("issue_voucher", {"customer_id": customer, "amount": -1, "reason": "x"})
    assert invalid.is_error is True and "greater than 0" in invalid.content[0].text

    closed = await call("close_account", {"customer_id": customer})
    assert closed.structured_content == {"customer_id": customer, "status": "closed", "already_closed": False,
                                         "vouchers_cancelled": 2}
    twice = await call("close_account", {"customer_id": customer})
    assert twice.structured_content["already_closed"] is True
    cancelled = await call("lookup_voucher", {"code": first.structured_content["code"]})
    assert cancelled.structured_content["status"] == "cancelled"
    return sent


def _check_store(store: McpStore, sent: list[tuple[str, dict[str, Any]]], customer: str) -> None:
    calls = store.calls()
    assert [(c["tool"], c["arguments"]) for c in calls] == sent
    assert [c["is_error"] for c in calls] == [False] * 5 + [True] * 3 + [False] * 3
    assert all(c["at"] > 0 for c in calls)
    vouchers = store.vouchers()
    assert [(v["customer_id"], v["amount"], v["idempotency_key"]) for v in vouchers] == [
        (customer, 12.5, "k-1"), (customer, 5.0, None)]
    assert store.closed_accounts() == [customer]


def test_stdio_transport(tmp_path: Path) -> None:
    db = tmp_path / "mcp.sqlite"

    async def run() -> list[tuple[str, dict[str, Any]]]:
        async with _stdio(db) as session:
            assert session.server_info and session.server_info.name == "vouchers"
            await _check_tools(session)
            return await _call_each(session, "C7")

    sent = asyncio.run(run())
    _check_store(McpStore(db), sent, "C7")


def test_streamable_http_transport(tmp_path: Path) -> None:
    with running_mcp_http(tmp_path) as server:
        assert server.url.endswith("/mcp") and server.startup_seconds < 10

        async def run() -> list[tuple[str, dict[str, Any]]]:
            async with _http(server.url) as session:
                await _check_tools(session)
                return await _call_each(session, "C8")

        sent = asyncio.run(run())
        _check_store(server.store, sent, "C8")
        assert server.vouchers() == server.store.vouchers() and server.closed_accounts() == ["C8"]


def test_stdio_command_works_from_any_directory(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    async def run() -> Any:
        async with _stdio(tmp_path / "mcp.sqlite", cwd=elsewhere) as session:
            return await session.call_tool("lookup_voucher", {"code": "welcome10"})

    assert asyncio.run(run()).structured_content["code"] == "WELCOME10"


def test_one_key_issues_one_voucher_under_concurrent_calls(tmp_path: Path) -> None:
    with running_mcp_http(tmp_path) as server:
        args = {"customer_id": "C9", "amount": 3, "reason": "goodwill", "idempotency_key": "same"}

        async def run() -> list[Any]:
            async with _http(server.url) as one, _http(server.url) as two:
                return list(await asyncio.gather(*(s.call_tool("issue_voucher", args)
                                                   for _ in range(10) for s in (one, two))))

        results = asyncio.run(run())
        assert len({r.structured_content["code"] for r in results}) == 1
        assert sorted(r.structured_content["replayed"] for r in results) == [False] + [True] * 19
        assert len(server.vouchers()) == 1 and len(server.calls()) == 20


def test_high_level_client_over_both_transports(tmp_path: Path) -> None:
    with running_mcp_http(tmp_path / "http") as server:

        async def run(target: str | StdioServerParameters) -> tuple[str, list[str], Any]:
            async with Client(target) as client:
                tools = await client.list_tools()
                result = await client.call_tool("issue_voucher", {"customer_id": "C3", "amount": 1,
                                                                  "reason": "test", "idempotency_key": "hl"})
                return client.protocol_version, sorted(t.name for t in tools.tools), result

        for target in (server.url, _params(tmp_path / "stdio.sqlite")):
            version, names, result = asyncio.run(run(target))
            assert version and names == sorted(TOOL_NAMES)
            assert result.is_error is False and result.structured_content["customer_id"] == "C3"
        assert len(server.vouchers()) == 1
        assert len(McpStore(tmp_path / "stdio.sqlite").vouchers()) == 1
