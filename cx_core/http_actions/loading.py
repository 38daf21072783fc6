"""Reading an actions file entry by entry: each service, action and MCP server is checked on its own, so one that is
wrong is kept out of force alone (with the actions of a service that is wrong, and those that read through an
action kept out), and every other stays in force.

Every problem is ``(field, what to fix)``, the field naming the entry (``actions.create_refund.path``). Problems of
an entry itself come first, in the file's order; then what follows from them (``actions.create_refund.owner.action:
uses 'get_order', which is not in force because: …``), so the real cause is always read first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, InvalidInput
from .schema import model_from_schema
from .spec import ActionsFile, Composite, Declared, McpServer, Service
from .wording import template_problems

SECTIONS = ("services", "actions", "mcp_servers", "composites")


@dataclass
class Reading:
    """An actions file, entry by entry: what can be put in force, every problem, and why each entry that cannot is
    kept out (its first problem, or the entry it depends on)."""

    services: dict[str, Service] = field(default_factory=dict)
    actions: list[Declared] = field(default_factory=list)
    mcp_servers: list[McpServer] = field(default_factory=list)
    composites: list[Composite] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # an action's (or MCP server's) name → why it is out
    whole_file: bool = False  # the file itself cannot be read: nothing of it is in force

    @property
    def file(self) -> ActionsFile:
        return ActionsFile.model_construct(services=self.services, actions=self.actions,
                                           mcp_servers=self.mcp_servers, composites=self.composites)


def _errors(exc: ValidationError, where: str, fields: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """Each error as (field, message); a check of the whole entry that names one of its fields ("path: must start
    with a single /") is told on that field."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        message = err["msg"].removeprefix("Value error, ")
        named = re.match(r"([a-z_]+): (.+)", message, re.S)
        if not loc and named and named.group(1) in fields:
            loc, message = [named.group(1)], named.group(2)
        out.append((".".join([where, *loc]), message))
    return out


def _valid(model: type[BaseModel], raw: Any, where: str, out: list[tuple[str, str]]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        out.extend(_errors(exc, where, frozenset(model.model_fields)))
        return None


def _because(problems: list[tuple[str, str]], where: str) -> str:
    """Why an entry is kept out: its first problem, its field relative to the entry."""
    field_, message = problems[0]
    rest = field_[len(where) + 1:] if field_.startswith(where + ".") else ""
    return f"{rest}: {message}" if rest else message


def read(path: Path, known_actions: frozenset[str] = frozenset(), task_types: frozenset[str] = frozenset()
         ) -> Reading:
    """The file at ``path`` entry by entry. ``known_actions`` are the actions already in force (a declared one may
    not take their names); ``task_types`` the pack's."""
    out = Reading()
    raw = _raw(path, out)
    if raw is None:
        return out
    own: list[tuple[str, str]] = []  # problems of the entries themselves
    for key in raw:
        if key not in SECTIONS:
            own.append((str(key), f"unknown section (sections are: {', '.join(SECTIONS)})"))
    bad_services = _read_services(raw, out, own)
    entries = _read_actions(raw, out, own)
    _read_servers(raw, out, own)
    _semantic(out, entries, bad_services, own, known_actions, task_types)
    follow = _consequences(out, entries, bad_services)
    out.actions = [d for n, d in entries if n not in out.refused]
    _read_composites(raw, out, own, {d.name: d for d in out.actions}, task_types)
    out.mcp_servers = [m for m in out.mcp_servers if m.name not in out.refused]
    out.services = {n: s for n, s in out.services.items() if n not in bad_services}
    out.problems = own + follow
    return out


def _raw(path: Path, out: Reading) -> dict[str, Any] | None:
    """The file's mapping, or None with the whole file's problem in ``out``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        out.problems, out.whole_file = [("file", f"cannot be read: {exc}")], True
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        out.problems = [("file", f"line {mark.line + 1}: not valid YAML ({getattr(exc, 'problem', exc)})" if mark
                         else f"not valid YAML ({exc})")]
        out.whole_file = True
        return None
    if not isinstance(raw, dict):
        out.problems, out.whole_file = [("file", "must be a mapping with services, actions and mcp_servers")], True
        return None
    return raw


def _read_services(raw: dict[str, Any], out: Reading, own: list[tuple[str, str]]) -> dict[str, str]:
    """The services that read well go into ``out``; returns the others with why."""
    bad_services: dict[str, str] = {}
    services = raw.get("services") or {}
    if not isinstance(services, dict):
        own.append(("services", "must be a mapping of service names to their base_url, headers, allowed_hosts"))
        services = {}
    for name, body in services.items():
        where = f"services.{name}"
        found: list[tuple[str, str]] = []
        service = _valid(Service, body, where, found)
        if service is None:
            own.extend(found)
            bad_services[str(name)] = _because(found, where)
        else:
            out.services[str(name)] = service
    return bad_services


def _read_actions(raw: dict[str, Any], out: Reading, own: list[tuple[str, str]]) -> list[tuple[str, Declared]]:
    """The actions that read well, by name; the others are refused in ``out``."""
    actions = raw.get("actions") or []
    if not isinstance(actions, list):
        own.append(("actions", "must be a list of actions, each starting with '- name: ...'"))
        actions = []
    seen: set[str] = set()
    entries: list[tuple[str, Declared]] = []
    for i, body in enumerate(actions):
        name = str(body.get("name")) if isinstance(body, dict) and body.get("name") else str(i)
        where = f"actions.{name}"
        if name in seen:
            own.append((f"{where}.name", f"'{name}' is declared twice: give each action its own name"))
            continue
        seen.add(name)
        found: list[tuple[str, str]] = []
        decl = _valid(Declared, body, where, found)
        if decl is None:
            own.extend(found)
            out.refused[name] = _because(found, where)
            continue
        entries.append((name, decl))
    return entries


def _listed(raw: dict[str, Any], section: str, what: str, own: list[tuple[str, str]]
            ) -> Iterator[tuple[str, str, Any]]:
    """Each entry of a list section as (its name, where it is, its body); a section that is no list is one
    problem."""
    entries = raw.get(section) or []
    if not isinstance(entries, list):
        own.append((section, f"must be a list of {what}, each starting with '- name: ...'"))
        entries = []
    for i, body in enumerate(entries):
        name = str(body.get("name")) if isinstance(body, dict) and body.get("name") else str(i)
        yield name, f"{section}.{name}", body


def _read_composites(raw: dict[str, Any], out: Reading, own: list[tuple[str, str]], declared: dict[str, Declared],
                     task_types: frozenset[str]) -> None:
    """The composites whose parts are declared writes in force go into ``out``; the others are refused there."""
    for name, where, body in _listed(raw, "composites", "composites", own):
        found: list[tuple[str, str]] = []
        comp = _valid(Composite, body, where, found)
        if comp is not None and name in declared:
            found.append((f"{where}.name", f"'{name}' is also an action's name: give the composite its own"))
        if comp is not None and (why := refused_part(comp, declared)):
            found.append((f"{where}.parts", why))
        for tt in comp.task_types if comp is not None and task_types else []:
            if tt not in task_types:
                found.append((f"{where}.task_types", f"'{tt}' is not one of the pack's task types"))
        if found or comp is None:
            own.extend(found)
            out.refused[name] = _because(found, where)
        else:
            out.composites.append(comp)


def refused_part(comp: Composite, declared: dict[str, Declared]) -> str:
    """Why a composite cannot be put in force ('' when it can): each part is a declared write in force."""
    for part in comp.parts:
        decl = declared.get(part.action)
        if decl is None:
            return f"part '{part.action}' is not a declared action in force"
        if decl.effect == "read":
            return f"part '{part.action}' is a read: a composite's parts change records"
    return ""


def _read_servers(raw: dict[str, Any], out: Reading, own: list[tuple[str, str]]) -> None:
    """The MCP servers that read well go into ``out``; the others are refused there."""
    for name, where, body in _listed(raw, "mcp_servers", "servers", own):
        found: list[tuple[str, str]] = []
        server = _valid(McpServer, body, where, found)
        if server is None:
            own.extend(found)
            out.refused[name] = _because(found, where)
        else:
            out.mcp_servers.append(server)


def _semantic(out: Reading, entries: list[tuple[str, Declared]], bad_services: dict[str, str],
              own: list[tuple[str, str]], known_actions: frozenset[str], task_types: frozenset[str]) -> None:
    """What a readable entry can still get wrong (unknown services, reads that are not there, placeholders…): each
    problem belongs to its entry; one about a service or a read kept out is a consequence, told as such."""
    semantic = semantic_problems(_as_checked(out.services, bad_services, [d for _, d in entries], out.mcp_servers),
                                 known_actions, task_types)
    kept_out_reads = set(out.refused)
    for field_, message in semantic:
        parts = field_.split(".")
        name = parts[1] if len(parts) > 1 else ""
        if parts[0] == "actions" and len(parts) > 3 and parts[-1] == "action" and _names_refused(
                message, kept_out_reads):
            continue  # told as a consequence of the read kept out
        own.append((field_, message))
        if parts[0] in ("actions", "mcp_servers") and name and name not in out.refused:
            out.refused[name] = _because([(field_, message)], f"{parts[0]}.{name}")
        if parts[0] == "services" and name and name not in bad_services:
            bad_services[name] = _because([(field_, message)], f"services.{name}")


def _consequences(out: Reading, entries: list[tuple[str, Declared]], bad_services: dict[str, str]
                  ) -> list[tuple[str, str]]:
    """An action on a service kept out, or reading through an action kept out, is kept out too."""
    follow: list[tuple[str, str]] = []
    by_service: dict[str, list[str]] = {}
    changed = True
    while changed:
        changed = False
        for name, decl in entries:
            if name in out.refused:
                continue
            why = _kept_out_because(decl, name, out, bad_services)
            if why is not None:
                if decl.service in bad_services:
                    by_service.setdefault(decl.service, []).append(name)  # one line per service, not per action
                else:
                    follow.append(why)
                out.refused[name] = why[1]
                changed = True
    for service, names in by_service.items():
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        follow.insert(0, (f"actions.{names[0]}.service" if len(names) == 1 else "actions",
                          f"{len(names)} action{'s' if len(names) != 1 else ''} on the service '{service}' "
                          f"({shown}) {'is' if len(names) == 1 else 'are'} not in force because of the service's "
                          f"problem above: {bad_services[service]}"))
    return follow


def _kept_out_because(decl: Declared, name: str, out: Reading, bad_services: dict[str, str]
                      ) -> tuple[str, str] | None:
    if decl.service in bad_services:
        return (f"actions.{name}.service", f"the service '{decl.service}' is not in force because: "
                                           f"{bad_services[decl.service]}")
    for kind, lookup in _lookups(decl):
        if lookup.action and lookup.action in out.refused:
            return (f"actions.{name}.{kind}.action", f"uses '{lookup.action}', which is not in force "
                                                     f"because: {out.refused[lookup.action]}")
    return None


def _as_checked(services: dict[str, Service], bad: dict[str, str], actions: list[Declared],
                servers: list[McpServer]) -> ActionsFile:
    """The file as the semantic checks see it: a service kept out still counts as declared, so its actions are told
    as a consequence of it rather than as naming an unknown service."""
    stand_in = Service.model_construct(base_url="https://kept-out.invalid", headers={},
                                       allowed_hosts=["kept-out.invalid"], timeout=10.0)
    return ActionsFile.model_construct(services={**services, **dict.fromkeys(bad, stand_in)}, actions=actions,
                                       mcp_servers=servers)


def _names_refused(message: str, refused: set[str]) -> bool:
    return any(f"'{name}' is not a read action" in message for name in refused)


def _lookups(decl: Declared) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if decl.owner is not None:
        found.append(("owner", decl.owner))
    if decl.amount is not None:
        found.append(("amount", decl.amount))
    found += [(f"preconditions.{i}", p) for i, p in enumerate(decl.preconditions)]
    return found


def problems(path: Path, known_actions: frozenset[str] = frozenset(), task_types: frozenset[str] = frozenset()
             ) -> list[tuple[str, str]]:
    """Every problem of an actions file as (field, what to fix), each entry's own first and what follows from them
    after; empty when it is ready."""
    return read(path, known_actions, task_types).problems


def semantic_problems(parsed: ActionsFile, known_actions: frozenset[str] = frozenset(),
                      task_types: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """What a valid file can still get wrong: unknown services, reads that do not exist, placeholders that name no
    argument, argument schemas that cannot be used, task types the pack does not have."""
    out: list[tuple[str, str]] = []
    declared = {a.name: a for a in parsed.actions}
    reads = {n for n, a in declared.items() if a.effect == "read"}
    for a in parsed.actions:
        where = f"actions.{a.name}"
        if a.name in known_actions:
            out.append((f"{where}.name", f"'{a.name}' is already an action of the pack: choose another name"))
        if a.service not in parsed.services:
            out.append((f"{where}.service", f"unknown service '{a.service}' (services: "
                                            f"{', '.join(parsed.services) or 'none declared'})"))
        try:
            model = model_from_schema(a.name, a.arguments, f"{where}.arguments")
            fields = set(model.model_fields)
        except InvalidInput as exc:
            out.append((f"{where}.arguments", str(exc).split(": ", 1)[-1]))
            fields = set(a.arguments.get("properties") or {})
        for part, template in (("path", a.path), ("query", a.query), ("body", a.body), ("headers", a.headers)):
            for name in placeholders(template):
                if name not in fields:
                    out.append((f"{where}.{part}", f"{{{name}}} names no argument (arguments: "
                                                   f"{', '.join(sorted(fields)) or 'none'})"))
        for kind, lookup in (("owner", a.owner), ("amount", a.amount), *(("preconditions", p) for p in
                                                                         a.preconditions)):
            if lookup is None:
                continue
            if lookup.arg and lookup.arg not in fields:
                out.append((f"{where}.{kind}.arg", f"'{lookup.arg}' is not an argument"))
            if lookup.action and lookup.action not in reads:
                out.append((f"{where}.{kind}.action", f"'{lookup.action}' is not a read action of this file"))
        if a.effect != "read" and a.owner is None:
            out.append((f"{where}.owner", "a write must say whose record it touches (owner: {arg: customer_id} or "
                                          "owner: {action: a read, field: customer_id}), or no ownership is "
                                          "checked"))
        for t in a.task_types:
            if task_types and t not in task_types:
                out.append((f"{where}.task_types", f"'{t}' is not a task type of the pack"))
        if a.wording is not None:
            out += template_problems(a.wording, f"{where}.wording", fields, a.effect == "read",
                                     set(a.result) if a.result else None)
    for m in parsed.mcp_servers:
        for t in m.task_types:
            if task_types and t not in task_types:
                out.append((f"mcp_servers.{m.name}.task_types", f"'{t}' is not a task type of the pack"))
        for tool in m.tools:
            if tool.wording is not None:
                    out += template_problems(tool.wording, f"mcp_servers.{m.name}.tools.{tool.name}.wording",
                                         set(tool.input_schema.get("properties") or {}),
                                         bool(m.trusted and tool.annotations.get("readOnlyHint") is True), None)
    for name, service in parsed.services.items():
        if not service.allowed_hosts and service.base_url.startswith("${"):
            out.append((f"services.{name}.allowed_hosts", "a base URL given as a setting needs its allowed hosts "
                                                          "listed, so a changed setting cannot send calls elsewhere"))
    return out


def placeholders(template: Any) -> set[str]:
    """The argument names a template uses (``{order_id}``; ``{result.x}`` is an undo's result, not an argument)."""
    found: set[str] = set()
    if isinstance(template, str):
        found |= {m for m in re.findall(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}", template)}  # ${NAME}: a setting
    elif isinstance(template, dict):
        for v in template.values():
            found |= placeholders(v)
    elif isinstance(template, list):
        for v in template:
            found |= placeholders(v)
    return found


def load(path: Path) -> ActionsFile:
    """The actions file, or ``ConfigError`` with its first problem (``actions check`` lists them all)."""
    found = problems(path)
    if found:
        field, message = found[0]
        raise ConfigError(f"{path}: {field}: {message}")
    return ActionsFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
