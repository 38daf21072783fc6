"""Actions on a team's own systems without writing Python: calls declared in the pack's ``actions.yaml`` (by hand,
from an OpenAPI document, or the tools of an MCP server) become typed actions in the same registry as the pack's
own, behind the same ``execute`` chokepoint: schema, ownership, policy and limits, the approver's role, a preview
before anyone approves, then the outbox and its dispatcher for the outside call, so a crash, a double click or two
approvals at once still make exactly one call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ..actions.base import REGISTRY, ActionSpec, ExecContext, _register, forget
from ..errors import ConfigError, ConnectorUnavailable, InvalidInput, PolicyDenied
from ..wording import declare, forget_declared
from . import calls, composite, loading, mcp_tools, wording
from .calls import as_refusal
from .schema import model_from_schema
from .spec import FILE_NAME, Declared, Lookup, Service

log = logging.getLogger("tandem.http_actions")


@dataclass
class Loaded:
    """What the active pack's actions file gave: the actions in force, and the problems that kept others out."""

    path: Path | None = None
    actions: dict[str, Declared] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    mcp: list[str] = field(default_factory=list)
    composites: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # a declared action or MCP server kept out → why


LOADED = Loaded()


@dataclass
class HttpRemote:
    """The outside side of a declared action: the call the dispatcher makes with Tandem's idempotency key."""

    decl: Declared
    service: Service

    @property
    def idempotent(self) -> bool:
        return self.decl.effect == "read" or bool(self.decl.idempotency_key)

    def call(self, args: dict[str, Any], key: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the mapped result, the audit facts); ``CallFailed`` when the call does not succeed."""
        answer = calls.send(self.service, self.decl.call(), args, key=key, key_header=self.decl.idempotency_key,
                            retry=self.decl.retry, idempotent=self.idempotent)
        return calls.mapped(answer.data, self.decl.result), answer.facts


def _read(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """A declared read, called on behalf of another action (its owner, its amount, a precondition)."""

    spec = REGISTRY.get(name)
    if spec is None or not isinstance(spec.remote, HttpRemote):
        raise ConnectorUnavailable(f"the read action '{name}' is not available")
    clean = spec.args_model.model_validate(args).model_dump(mode="json")
    try:
        return spec.remote.call(clean)[0]
    except (calls.CallFailed, ConfigError) as exc:
        raise as_refusal(exc) from exc


def _value(lookup: Lookup, args: dict[str, Any]) -> Any:
    if lookup.arg:
        return args.get(lookup.arg)
    assert lookup.action is not None
    return calls.lookup(_read(lookup.action, calls.render(lookup.args, args)), lookup.field)


def build(decl: Declared, service: Service, package: str) -> ActionSpec:
    """The registry's spec for one declared action."""
    model = model_from_schema(decl.name, decl.arguments, f"actions.{decl.name}.arguments")
    remote = HttpRemote(decl, service)

    def dump(a: Any) -> dict[str, Any]:
        return dict(a.model_dump(mode="json"))

    def run(s: Session, a: Any, ctx: ExecContext) -> dict[str, Any]:
        return calls.run_remote(remote, a, ctx.idempotency_key)

    def owner(s: Session, a: Any) -> str | None:
        if decl.owner is None:
            return None
        found = _value(decl.owner, dump(a))
        return None if found is None else str(found)

    def amount(s: Session, a: Any) -> float | None:
        assert decl.amount is not None
        found = _value(decl.amount, dump(a))
        try:
            return None if found is None else float(found)
        except (TypeError, ValueError):
            return None

    def preview(s: Session, a: Any, ctx: ExecContext) -> dict[str, Any]:
        """The preconditions through read actions, then the service's own dry run when it has one; nothing is
        changed anywhere. A refusal raises as the call itself would."""
        args = dump(a)
        for p in decl.preconditions:
            value = _value(p, args)
            if p.one_of is not None and value not in p.one_of:
                raise PolicyDenied(p.message)
            if p.at_least is not None:
                floor = calls.render(p.at_least, args)
                try:
                    if float(value) < float(floor):
                        raise PolicyDenied(p.message)
                except (TypeError, ValueError) as exc:
                    raise PolicyDenied(p.message) from exc
        if decl.preview is None:
            return {"would_call": f"{decl.method} {decl.path}", **args}
        try:
            answer = calls.send(service, decl.preview, args, idempotent=True)
        except (calls.CallFailed, ConfigError) as exc:
            raise as_refusal(exc) from exc
        if decl.preview.ok and calls.lookup(answer.data, decl.preview.ok) is not True:
            why = calls.lookup(answer.data, decl.preview.reason) if decl.preview.reason else None
            raise PolicyDenied(str(why or f"{service_label(decl)} says it would not succeed"))
        return {"preview": answer.data if isinstance(answer.data, dict) else {"answer": answer.data}, **args}

    def undo(s: Session, a: Any, result: dict[str, Any], ctx: ExecContext) -> dict[str, Any]:
        assert decl.undo is not None
        values = {**dump(a), "result": result}
        try:
            answer = calls.send(service, decl.undo, values, key=f"undo-{ctx.idempotency_key or decl.name}",
                                key_header=decl.idempotency_key, idempotent=bool(decl.idempotency_key))
        except (calls.CallFailed, ConfigError) as exc:
            raise as_refusal(exc) from exc
        return {"undone": True, **(answer.data if isinstance(answer.data, dict) else {})}

    run.__doc__ = decl.description
    return ActionSpec(name=decl.name, args_model=model, run=run, description=decl.description,
                      writes=decl.effect != "read", reversible=decl.undo is not None, risk=decl.risk,
                      connector=decl.service, task_types=tuple(decl.task_types), owner=owner,
                      amount=amount if decl.amount else None, label=decl.label or decl.name.replace("_", " ").capitalize(),
                      confirm=decl.needs_confirmation and decl.effect != "read",
                      compensate=undo if decl.undo is not None else None,
                      preview=preview if decl.effect != "read" else None, local=False, remote=remote,
                      refunds_in_full=decl.refunds_in_full and decl.effect != "read")


def service_label(decl: Declared) -> str:
    return f"the {decl.service} service"


def actions_file(root: Path) -> Path:
    """The active pack's actions file: ``TANDEM_ACTIONS_FILE`` when set (kept outside the pack), else the pack's own
    ``actions.yaml``."""
    import os

    override = os.environ.get("TANDEM_ACTIONS_FILE", "").strip()
    return Path(override) if override else root / FILE_NAME


def register_pack(root: Path, package: str, task_types: frozenset[str] = frozenset()) -> Loaded:
    """Puts the actions declared in the pack's actions file in force for the pack, entry by entry: an action with a
    problem (or on a service with one, or reading through an action kept out) stays out alone, with its reason,
    and every other is in force. The problems are kept for the Actions page and ``actions check``, and logged."""
    global LOADED
    for name in list(LOADED.actions) + LOADED.mcp + LOADED.composites:
        forget(name, declared=True)  # a pack's own action of the same name stays
    forget_declared()
    path = actions_file(root)
    LOADED = Loaded(path=path if path.exists() else None)
    if not path.exists():
        if path != root / FILE_NAME:  # named by TANDEM_ACTIONS_FILE, so meant to be there
            LOADED.problems = [("file", f"{path} does not exist (TANDEM_ACTIONS_FILE)")]
            log.error("TANDEM_ACTIONS_FILE: %s does not exist; no declared actions are in force", path)
        return LOADED

    reading = loading.read(path, frozenset(REGISTRY), task_types)
    LOADED = put_in_force(reading, package, path)
    for field_name, message in LOADED.problems:
        log.error("%s: %s: %s", path, field_name, message)
    if LOADED.refused:
        log.error("%s: not in force: %s", path, ", ".join(sorted(LOADED.refused)))
    return LOADED


def put_in_force(reading: loading.Reading, package: str, path: Path | None = None) -> Loaded:
    """Registers what a reading of an actions file allows; an action (or MCP tool) that cannot be built stays out
    alone, with its reason."""
    out = Loaded(path=path, problems=list(reading.problems), refused=dict(reading.refused))
    if reading.whole_file:
        return out
    parsed = reading.file
    calls.register_references([[s.base_url, s.headers] for s in parsed.services.values()],
                              [[a.path, a.query, a.headers, a.body] for a in parsed.actions],
                              [[m.url or "", m.headers, m.command or []] for m in parsed.mcp_servers])
    for decl in parsed.actions:
        try:
            _register(f"{package}.actions_yaml", build(decl, parsed.services[decl.service], package))
        except InvalidInput as exc:
            out.problems.append((f"actions.{decl.name}", str(exc)))
            out.refused[decl.name] = str(exc)
            continue
        declare(decl.name, wording.build(decl.name, decl.label, decl.arguments, decl.effect, decl.wording))
        out.actions[decl.name] = decl
    out.services = dict(parsed.services)
    for comp in parsed.composites or []:
        try:
            _register(f"{package}.actions_yaml", composite.build(comp))
        except (InvalidInput, KeyError) as exc:
            out.problems.append((f"composites.{comp.name}", str(exc)))
            out.refused[comp.name] = str(exc)
            continue
        declare(comp.name, wording.build(comp.name, comp.label, comp.arguments, comp.effect, comp.wording))
        out.composites.append(comp.name)
    if parsed.mcp_servers:
        for server in parsed.mcp_servers:
            for tool in server.tools:
                try:
                    spec = mcp_tools.build(server, tool)
                except (InvalidInput, ConfigError) as exc:
                    out.problems.append((f"mcp_servers.{server.name}.tools.{tool.name}", str(exc)))
                    out.refused[mcp_tools.action_name(server, tool)] = str(exc)
                    continue
                _register(f"{package}.actions_yaml", spec)
                declare(spec.name, wording.build(spec.name, spec.label, tool.input_schema,
                                                 mcp_tools.effect(server, tool), tool.wording))
                out.mcp.append(spec.name)
    return out
