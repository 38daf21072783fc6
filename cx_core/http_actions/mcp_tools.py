"""MCP tools as actions: the tools of an MCP server an admin registers (a command Tandem launches over stdio, or a
URL over streamable HTTP) become typed actions, their ``inputSchema`` the arguments. Annotations count only for a
server marked trusted; otherwise every tool is destructive and a person confirms it. The tool list is kept in the
pack's ``actions.yaml`` when the server is registered (``actions import-mcp``), so starting Tandem never depends on
the server; each call connects, calls one tool and closes."""

from __future__ import annotations

import asyncio
import json
import re
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from ..actions.base import ActionSpec, ExecContext
from ..errors import ConfigError, InvalidInput, PolicyDenied
from ..secret_mask import mask
from . import calls
from .calls import as_refusal
from .schema import model_from_schema
from .spec import NAME, ActionWording, McpServer, McpTool
from .wording import written

KEY_ARGUMENT = "idempotency_key"
OWNER_FIELDS = ("customer_id", "user_id", "account_id")  # a tool taking this argument gets Tandem's key in it, so a retry is recognised


def action_name(server: McpServer, tool: McpTool) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", f"{server.name}_{tool.name}".lower()).strip("_")[:60]
    if not re.fullmatch(NAME, name):
        raise InvalidInput(f"tool '{tool.name}': cannot be named as an action")
    return name


def effect(server: McpServer, tool: McpTool) -> str:
    """read, write or destructive: from the annotations of a trusted server; destructive otherwise."""
    if not server.trusted:
        return "destructive"
    notes = tool.annotations or {}
    if notes.get("readOnlyHint") is True:
        return "read"
    return "destructive" if notes.get("destructiveHint", True) is not False else "write"


async def _session_call(server: McpServer, what: str, name: str = "", args: dict[str, Any] | None = None) -> Any:
    from mcp import ClientSession

    async with AsyncExitStack() as stack:
        if server.command:
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            params = StdioServerParameters(command=server.command[0], args=list(server.command[1:]))
            read, write = await stack.enter_async_context(stdio_client(params))
        else:
            from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

            headers = {k: calls._secrets(v) for k, v in server.headers.items()}
            client = await stack.enter_async_context(create_mcp_http_client(headers=headers or None))
            read, write = await stack.enter_async_context(streamable_http_client(calls._secrets(str(server.url)),
                                                                                 http_client=client))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        if what == "list":
            return (await session.list_tools()).tools
        return await session.call_tool(name, args or {})


def _run(server: McpServer, what: str, name: str = "", args: dict[str, Any] | None = None) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(_session_call(server, what, name, args), timeout=server.timeout)

    return asyncio.run(bounded())


def list_tools(server: McpServer) -> list[McpTool]:
    """The server's tools as it lists them now."""
    try:
        tools = _run(server, "list")
    except Exception as exc:  # noqa: BLE001 - the SDK raises its own errors: one line
        inner = _unwrap(exc)
        raise ConfigError(mask(f"the MCP server '{server.name}' could not be reached: {type(inner).__name__}: "
                               f"{str(inner).splitlines()[0] if str(inner) else ''}".rstrip(": "))) from exc
    out = []
    for t in tools:
        notes = t.annotations.model_dump(by_alias=True, exclude_none=True) if getattr(t, "annotations", None) \
            else {}
        schema = getattr(t, "input_schema", None) or getattr(t, "inputSchema", None)
        title = getattr(t, "title", None) or notes.get("title") or ""
        out.append(McpTool(name=t.name, title=str(title), description=(t.description or "").strip(),
                           input_schema=dict(schema or {"type": "object", "properties": {}}), annotations=notes))
    return out


class McpRemote:
    """The outside side of a tool: one call with Tandem's key (in the tool's ``idempotency_key`` argument when it has
    one, so the server recognises a retry)."""

    def __init__(self, server: McpServer, tool: McpTool) -> None:
        self.server, self.tool = server, tool
        self.idempotent = KEY_ARGUMENT in (tool.input_schema.get("properties") or {}) or \
            effect(server, tool) == "read"

    def call(self, args: dict[str, Any], key: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        sent = {k: v for k, v in args.items() if v is not None}
        if key and KEY_ARGUMENT in (self.tool.input_schema.get("properties") or {}):
            sent[KEY_ARGUMENT] = key
        started = time.perf_counter()
        raw = json.dumps(sent, sort_keys=True, default=str).encode()
        facts: dict[str, Any] = {"method": "MCP", "host": self.server.name, "path": f"tools/{self.tool.name}",
                                 "request_digest": calls.digest(raw)}
        try:
            result = _run(self.server, "call", self.tool.name, sent)
        except TimeoutError as exc:
            facts.update(status=None, latency_ms=round((time.perf_counter() - started) * 1000))
            raise calls.CallFailed(f"the MCP server '{self.server.name}' did not answer within "
                                   f"{self.server.timeout:.0f} s", retry=self.idempotent,
                                   unknown=not self.idempotent, facts=facts) from exc
        except Exception as exc:  # noqa: BLE001 - connection and protocol errors of the SDK: retried later
            facts.update(status=None, latency_ms=round((time.perf_counter() - started) * 1000))
            inner = _unwrap(exc)
            raise calls.CallFailed(f"the MCP server '{self.server.name}' could not be reached "
                                   f"({type(inner).__name__}: {str(inner).splitlines()[0][:160] if str(inner) else ''})",
                                   retry=True, facts=facts) from exc
        text = " ".join(getattr(c, "text", "") for c in result.content or [] if getattr(c, "text", None))
        facts.update(latency_ms=round((time.perf_counter() - started) * 1000),
                     response_digest=calls.digest(text.encode()))
        if _get(result, "is_error", "isError"):
            facts["status"] = 422  # the tool refused: nothing to retry
            raise calls.CallFailed(f"{self.tool.name} refused: {' '.join(text.split())[:300] or 'no reason given'}",
                                   facts=facts)
        facts["status"] = 200
        data = _get(result, "structured_content", "structuredContent")
        if data is None:
            try:
                data = json.loads(text) if text.strip() else {}
            except json.JSONDecodeError:
                data = {"text": text}
        if isinstance(data, dict) and set(data) == {"result"} and isinstance(data["result"], dict):
            data = data["result"]
        return (dict(data) if isinstance(data, dict) else {"result": data}), facts


def _get(obj: Any, *names: str) -> Any:
    """An attribute under the SDK's current name or its former one."""
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def _unwrap(exc: BaseException) -> BaseException:
    """The first real error inside the SDK's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def build(server: McpServer, tool: McpTool) -> ActionSpec:
    name = action_name(server, tool)
    schema = dict(tool.input_schema or {"type": "object", "properties": {}})
    props = {k: v for k, v in (schema.get("properties") or {}).items() if k != KEY_ARGUMENT}
    schema = {"type": "object", "properties": props,
              "required": [r for r in schema.get("required", []) if r in props]}
    model = model_from_schema(name, schema, f"mcp_servers.{server.name}.tools.{tool.name}.inputSchema")
    remote = McpRemote(server, tool)
    kind = effect(server, tool)
    owner_arg = next((f for f in OWNER_FIELDS if f in props), None)

    def run(s: Session, a: Any, ctx: ExecContext) -> dict[str, Any]:

        try:
            result = remote.call(a.model_dump(mode="json"), key=ctx.idempotency_key)[0]
        except calls.CallFailed as exc:
            raise as_refusal(exc) from exc
        named = next((result[f] for f in OWNER_FIELDS if result.get(f) not in (None, "")), None)
        if ctx.ticket_id and named is not None and str(named) != str(ctx.customer_id or ""):
            # what a tool read back names another customer: it is not shown on this customer's ticket
            raise PolicyDenied("the record does not belong to the customer on this ticket")
        return result

    def owner(s: Session, a: Any) -> str | None:
        value = getattr(a, owner_arg, None) if owner_arg else None
        return None if value is None else str(value)

    def amount(s: Session, a: Any) -> float | None:
        value = getattr(a, "amount", None)
        return float(value) if isinstance(value, int | float) else None

    def preview(s: Session, a: Any, ctx: ExecContext) -> dict[str, Any]:
        """MCP has no dry run: the arguments are checked against the tool's schema, and nothing is called."""
        return {"would_call": f"{server.name}: {tool.name}", **a.model_dump(mode="json")}

    description = tool.description or f"The {tool.name} tool of {server.name}."
    run.__doc__ = description
    return ActionSpec(name=name, args_model=model, run=run, description=description, writes=kind != "read",
                      reversible=False, risk="high" if kind == "destructive" else "medium", connector=server.name,
                      task_types=tuple(server.task_types), owner=owner, amount=amount if "amount" in props else None,
                      label=(tool.title if server.trusted else None) or tool.name.replace("_", " ").capitalize(),
                      confirm=kind != "read", preview=preview if kind != "read" else None, local=False,
                      remote=remote)


def _worded(server: McpServer, tools: list[McpTool], current: dict[str, Any]) -> list[McpTool]:
    """The tools with the reply's words for each: kept from an earlier registration of the server (the team may
    have edited them), else written from the tool's title (none for a read)."""

    before: dict[str, Any] = {}
    for m in current.get("mcp_servers") or []:
        if isinstance(m, dict) and m.get("name") == server.name:
            before = {str(t.get("name")): t.get("wording") for t in m.get("tools") or [] if isinstance(t, dict)}
    out = []
    for tool in tools:
        said = before.get(tool.name)
        if said is None:
            label = (tool.title if server.trusted else "") or tool.name.replace("_", " ").capitalize()
            said = written(label, tool.input_schema, effect(server, tool))
        out.append(tool.model_copy(update={"wording": ActionWording.model_validate(said) if said else None}))
    return out


def import_mcp(target: Path, server: McpServer) -> tuple[Path, list[str]]:
    """Lists the server's tools now and writes the server with them to the actions file ``target`` (replacing an
    earlier registration of the same name, whose tools keep the words the team gave them)."""
    current: dict[str, Any] = {}
    if target.exists():
        current = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
    server = server.model_copy(update={"tools": _worded(server, list_tools(server), current)})
    servers = [m for m in current.get("mcp_servers") or [] if isinstance(m, dict) and m.get("name") != server.name]
    servers.append(server.model_dump(mode="json", exclude_none=True))
    current["mcp_servers"] = servers
    target.write_text(yaml.safe_dump(current, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")
    return target, [action_name(server, t) for t in server.tools]
