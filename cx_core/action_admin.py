"""The Actions page's engine side: every action in force and where it comes from (the engine, the pack's Python,
the pack's ``actions.yaml``, an MCP server), the settings its services still need, the recent calls to the team's
own systems, and an admin's trial of a read action, so a declared file can be checked against the real system
before any ticket depends on it. Setting values are never returned, only their names."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import select

from . import audit, http_actions
from .access import StaffUser, require
from .actions.base import REGISTRY, ActionSpec, ExecContext
from .errors import ConfigError, InvalidInput, NotFound, TandemError
from .http_actions import calls, mcp_tools
from .models import Role
from .secret_mask import mask, mask_data
from .store.db import Database
from .store.tables import ActionCallRow

if TYPE_CHECKING:
    from .services import Services

DECLARED = "declared (HTTP)"
PACK_CODE = "pack code"
ENGINE = "engine"
_SOURCE_ORDER = {ENGINE: 0, PACK_CODE: 1, DECLARED: 2}
_TEXT_TYPES = {"string", ""}  # a form's text is passed as typed; other types are read as JSON when they parse


def _loaded() -> Any:
    """The active pack's declared actions (read at call time: loading a pack replaces the object)."""

    return http_actions.LOADED


def source(spec: ActionSpec, package: str = "") -> str:
    """Where an action in force comes from: the pack's ``actions.yaml`` (an HTTP call or an MCP server's tool),
    the pack's Python package, or the engine itself (replies, escalation)."""
    loaded = _loaded()
    if spec.name in loaded.actions:
        return DECLARED
    if spec.name in loaded.mcp:
        return f"MCP: {spec.connector}"
    module = getattr(spec.run, "__module__", "") or ""
    if package and (module == package or module.startswith(package + ".")):
        return PACK_CODE
    return ENGINE if module.startswith("cx_core.") else PACK_CODE


def effect(spec: ActionSpec) -> str:
    """read, write or destructive: what a declared action or a trusted MCP tool says it is; for code, a read when it
    writes nothing, destructive when it is confirmed and cannot be undone, a write otherwise."""
    decl = _loaded().actions.get(spec.name)
    if decl is not None:
        return str(decl.effect)
    remote = spec.remote
    if spec.name in _loaded().mcp and remote is not None and hasattr(remote, "server"):

        return mcp_tools.effect(remote.server, remote.tool)
    if not spec.writes:
        return "read"
    return "destructive" if spec.confirm and not spec.reversible else "write"


def catalogue(services: Services, user: StaffUser) -> list[dict[str, Any]]:
    """Every action in force with what an admin checks before trusting it: its source and effect, whether a person
    confirms it and whether it can be undone, the system it reaches (and the HTTP call of a declared one), the task
    types it serves and its argument schema (admins)."""
    require(user, Role.admin, services.db)
    loaded = _loaded()
    pack = services.pack
    rows: list[dict[str, Any]] = []
    for name, spec in REGISTRY.items():
        decl = loaded.actions.get(name)
        method, path = "", ""
        if decl is not None:
            method, path = str(decl.method), decl.path
        elif name in loaded.mcp and spec.remote is not None and hasattr(spec.remote, "tool"):
            method, path = "MCP", f"tools/{spec.remote.tool.name}"
        rows.append({"name": name, "label": spec.label or name.replace("_", " ").capitalize(),
                     "description": spec.description, "source": source(spec, pack.package), "effect": effect(spec),
                     "confirm": spec.confirm, "reversible": spec.reversible, "service": spec.connector,
                     "method": method, "path": path, "task_types": list(spec.task_types),
                     "task_type_labels": [pack.label(t) for t in spec.task_types],
                     "schema": spec.args_model.model_json_schema()})
    rows.sort(key=lambda r: (_SOURCE_ORDER.get(r["source"], 3), r["source"], r["label"].lower()))
    return rows


def missing_secrets(db: Database, user: StaffUser) -> list[dict[str, Any]]:
    """Each ``TANDEM_*`` setting a declared service (its base URL and headers, or an action's own headers and query)
    or an MCP server's headers name that is not set here, with the actions whose calls fail until it is. Names only
    (admins)."""

    require(user, Role.admin, db)
    loaded = _loaded()
    found: dict[tuple[str, str, str], set[str]] = {}
    for service_name, service in loaded.services.items():
        users = [d for d in loaded.actions.values() if d.service == service_name]
        for setting in calls.missing_settings(service.base_url, service.headers):
            found.setdefault(("service", service_name, setting), set()).update(d.name for d in users)
        for d in users:
            for setting in calls.missing_settings(d.headers, d.query):
                found.setdefault(("service", service_name, setting), set()).add(d.name)
    servers: dict[str, Any] = {}
    tools: dict[str, set[str]] = {}
    for name in loaded.mcp:
        remote = getattr(REGISTRY.get(name), "remote", None)
        server = getattr(remote, "server", None)
        if server is not None:
            servers[server.name] = server
            tools.setdefault(server.name, set()).add(name)
    for server_name, server in servers.items():
        for setting in calls.missing_settings(server.headers):
            found.setdefault(("MCP server", server_name, setting), set()).update(tools[server_name])
    return [{"kind": kind, "service": service_name, "setting": setting, "actions": sorted(names)}
            for (kind, service_name, setting), names in sorted(found.items(), key=lambda kv: (kv[0][1], kv[0][2]))]


def recent_calls(db: Database, user: StaffUser, limit: int = 50) -> list[dict[str, Any]]:
    """The latest calls made to the team's own systems, newest first: what was called, how it answered and how
    long it took (never its secrets; admins)."""
    require(user, Role.admin, db)
    with db.session() as s:
        rows = s.scalars(select(ActionCallRow).order_by(ActionCallRow.at.desc(), ActionCallRow.id.desc())
                         .limit(max(1, limit))).all()
    return [{"at": r.at, "action": r.action, "ticket": r.ticket_id, "method": r.method, "host": r.host,
             "path": r.path, "status": r.status, "ok": r.ok, "latency_ms": r.latency_ms, "error": r.error}
            for r in rows]


def file_problems(db: Database, user: StaffUser) -> list[str]:
    """What kept the pack's ``actions.yaml`` out of force (or some of its actions and servers), one line each
    (admins)."""
    require(user, Role.admin, db)
    loaded = _loaded()
    where = f"{loaded.path}: " if loaded.path is not None else ""
    return [f"{where}{field}: {message}" for field, message in loaded.problems]


def not_in_force(db: Database, user: StaffUser) -> list[dict[str, str]]:
    """The declared actions (and MCP servers) the actions file keeps out of force, each with why; every other one is
    in force (admins)."""
    require(user, Role.admin, db)
    return [{"name": name, "reason": reason} for name, reason in sorted(_loaded().refused.items())]


def _spec(name: str) -> ActionSpec:
    spec = REGISTRY.get(name)
    if spec is None:
        raise NotFound(f"no action called '{name}' is in force")
    return spec


def _kind(schema: dict[str, Any]) -> str:
    """A property's JSON type ("" when the schema does not say one), an optional value's non-null one."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "")
    if not kind and isinstance(schema.get("anyOf"), list):
        kind = next((o.get("type") for o in schema["anyOf"] if isinstance(o, dict) and o.get("type") not in
                     (None, "null")), "")
    return str(kind or "")


def _written_properties(spec: ActionSpec) -> dict[str, Any]:
    """The argument properties as the actions file or the MCP server wrote them (with their examples, which the
    generated model does not carry); empty for code actions."""
    decl = _loaded().actions.get(spec.name)
    if decl is not None:
        written = decl.arguments.get("properties")
    else:
        tool = getattr(spec.remote, "tool", None)
        written = (tool.input_schema or {}).get("properties") if tool is not None else None
    return {k: v for k, v in written.items() if isinstance(v, dict)} if isinstance(written, dict) else {}


def form_fields(name: str) -> list[dict[str, Any]]:
    """The arguments of an action as form fields: name, type, required, help, and a starting value taken from the
    schema's examples or default, so a trial starts from something the system accepts."""
    spec = _spec(name)
    schema = spec.args_model.model_json_schema()
    required = set(schema.get("required") or [])
    written = _written_properties(spec)
    out = []
    for field_name, prop in (schema.get("properties") or {}).items():
        prop = {**(written.get(field_name) or {}), **(prop if isinstance(prop, dict) else {})}
        kind = _kind(prop)
        start: Any = None
        examples = prop.get("examples")
        if isinstance(examples, list) and examples:
            start = examples[0]
        elif "example" in prop:
            start = prop["example"]
        elif prop.get("default") is not None:
            start = prop["default"]
        text = "" if start is None else start if isinstance(start, str) else json.dumps(start)
        out.append({"name": field_name, "type": kind or "value", "required": field_name in required,
                    "help": str(prop.get("description") or ""), "value": text})
    return out


def form_args(name: str, texts: dict[str, str]) -> dict[str, Any]:
    """A trial form's texts as arguments: empty fields left out (their default applies, or the missing one is
    named), numbers, booleans, lists and objects read as JSON when they parse, text kept as typed."""
    kinds = {f["name"]: f["type"] for f in form_fields(name)}
    args: dict[str, Any] = {}
    for key, text in texts.items():
        value = text.strip()
        if not value:
            continue
        if kinds.get(key, "") in _TEXT_TYPES:
            args[key] = value
            continue
        try:
            args[key] = json.loads(value)
        except ValueError:
            args[key] = value
    return args


def _validated(spec: ActionSpec, args: dict[str, Any]) -> Any:
    try:
        return spec.args_model.model_validate(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "not valid")).removeprefix("Value error, ")
        raise InvalidInput(f"{where}: {message}" if where else message) from exc


def _plain(value: Any) -> Any:
    """A result as plain JSON (dates as text), for the page and the audit log."""
    return json.loads(json.dumps(value, default=str))


def try_read(db: Database, user: StaffUser, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Runs a read action once for an admin, outside any ticket, to see what the system answers: declared and MCP
    reads call the system, a pack's own read runs on the database without changing it. Recorded in the audit log
    (``action.tried``). A refusal, a timeout or a missing setting comes back as ``ok`` False with the one-line
    reason; writes are never tried here, since trying one would change the customer's records. Secrets in the
    answer are masked, as everywhere (``secret_mask``)."""

    actor = require(user, Role.admin, db)
    spec = _spec(name)
    if spec.writes:
        raise InvalidInput("only read actions can be tried here")
    parsed = _validated(spec, args)
    clean = parsed.model_dump(mode="json")
    result: Any = None
    status: int | None = None
    error: str | None = None
    started = time.perf_counter()
    latency: int | None = None
    if spec.remote is not None:
        try:
            result, facts = spec.remote.call(clean)
            status, latency = facts.get("status"), facts.get("latency_ms")
        except calls.CallFailed as exc:
            status, latency, error = exc.facts.get("status"), exc.facts.get("latency_ms"), str(exc)
        except ConfigError as exc:
            error = str(exc)
    else:
        ctx = ExecContext(actor=actor.username, role=Role.admin, ticket_id=None, customer_id=None)
        try:
            with db.session() as s:
                result = spec.run(s, parsed, ctx)
        except TandemError as exc:
            error = str(exc)
    if latency is None:
        latency = round((time.perf_counter() - started) * 1000)
    ok = error is None
    error = " ".join(error.split()) if error else None
    db.run(lambda s: audit.append(s, actor.username, "action.tried", None, action=name, args=clean, ok=ok,
                                  status=status))
    # what a system answers may echo a secret it was sent (a token, a path): masked like everything shown
    return {"ok": ok, "result": mask_data(_plain(result)) if ok else None, "status": status, "latency_ms": latency,
            "error": mask(error) if error else None}
