"""``domain check``: every problem of a domain pack before it is served, each with its file and field.

A pack is checked the way the engine will use it — its ``PACK``, the modules it names by role, its knowledge
folder (articles, labelled examples, policy) and its recipes — and every problem becomes a ``Problem`` naming
the file, the field and what to fix. Nothing here raises: a pack that cannot even be imported is one problem.
The check imports the pack's modules but loads no model and opens no database.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from . import declared_records, http_actions, pack_file, read_check, wording
from .actions import base
from .actions.base import REGISTRY, use_pack
from .domain import ENTRY_POINT_GROUP, ChannelSpec, DomainPack, available, from_pack_file, pack_dirs
from .findings import Findings, Where, at_line, exc_text, file_of, site, suggest
from .http_actions import actions_file, loading
from .pack_content import RESERVED, check_card, check_knowledge, check_recipes
from .store.tables import Base

# What the engine calls in each role's module: "name(arguments)" (the engine's call) and what it is for. A bare
# name is checked for presence only.
ROLES: dict[str, tuple[tuple[str, str], ...]] = {
    "records": (("lookup(session, ref)", "the Customer for an id or email, or None"),
                ("identify(session, text)", "the Customer a message's text names, or None"),
                ("snapshot(session, customer_id, now)", "what the planner reads about a customer"),
                ("tiers(session)", "customer id → service tier")),
    "planner": (("plan(triage, snapshot, today, text)", "the Plan of steps for a triaged ticket"),),
    "demo": (("build_world(db, seed, today)", "builds the demo world and returns its counts"),
             ("Simulator", "makes simulated tickets: Simulator(db, seed=...)"),
             ("work_some(services)", "handles a few demo tickets as an advisor would"),
             ("summary(counts)", "one line about the world built")),
    "tables": (("METADATA", "the sqlalchemy MetaData of the pack's own tables"),),
    "evaluation": (("evaluate(db_path, tasks_path)", "scores the pack on τ-bench tasks"),),
    "actions": (),
}
OPTIONAL: dict[str, tuple[tuple[str, str], ...]] = {
    "records": (("card(session, customer_id, now)", "the customer card the workspace shows"),),
    "planner": (("grounded(triage, snapshot, text)", "the triage corrected by what the records say"),),
}


def check(path_or_name: str | Path, sample: str = "") -> Findings:
    """Every problem of the pack in the folder ``path_or_name`` (or the pack of that name: a folder under
    ``domains/`` or an installed ``tandem.domains`` entry point), as a list; empty when the pack is ready.
    The engine's action registry is left as it was found."""
    found = Findings()
    with _registry_kept():
        try:
            _check(str(path_or_name), found, sample)
        except Exception as exc:  # a bug of the checker on a strange pack is still one line, not a traceback
            found.add(str(path_or_name), "check", f"stopped early: {type(exc).__name__}: {exc}")
    return found


# ------------------------------------------------------------------ finding and importing the pack
def _check(arg: str, found: Findings, sample: str = "") -> None:
    where_pack = _load(arg, found)
    if where_pack is None:
        return
    where, pack = where_pack
    found.name = str(pack.name)
    start = len(found)
    _check_pack(pack, where, found)
    own = _check_modules(pack, where, found)
    if where.init.name == pack_file.FILE:  # its fields are pack.yaml's own, not PACK's
        found[start:] = [replace(p, field=p.field.removeprefix("PACK.")) for p in found[start:]]
    refused = _check_declared(pack, where, own, found)
    check_knowledge(pack, where, own, refused, found)
    check_recipes(pack, where, own, refused, found)
    check_card(pack, where, refused, found)
    if sample and not found:
        columns = read_check.check_reads(where.folder, sample, found)
        read_check.check_bindings(where.folder / "recipes.yaml", columns, found)
    elif declared_records.card_file(where.folder).is_file() and not sample:
        found.notes.append("the reads were not called: give --sample EMAIL (a customer the team's system knows) to "
                           "call each once and check what it answers")


def _load(arg: str, found: Findings) -> tuple[Where, DomainPack] | None:
    """The pack's folder and ``PACK``, or None after adding the one problem that stops the check."""
    folder = Path(arg)
    if not folder.is_dir() and re.fullmatch(r"[A-Za-z_]\w*", arg):
        folder = next((base / arg for base in pack_dirs() if (base / arg).is_dir()), folder)
    if folder.is_dir():
        return _load_folder(folder.resolve(), found)
    point = next((ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == arg), None)
    if point is None:
        found.add(arg, "PATH", f"no pack folder and no installed pack named '{arg}': give the folder that holds the "
                               f"pack's __init__.py, or one of: {', '.join(available()) or 'none'}")
        return None
    try:
        value = point.load()
    except Exception as exc:
        file, line = site(exc, None, None)
        found.add(file or f"entry point {point.value}", "PACK", f"{at_line(line)}the pack cannot be imported: "
                                                                f"{exc_text(exc)}")
        return None
    module = sys.modules.get(point.module)
    init = Path(getattr(module, "__file__", None) or point.value)
    if not isinstance(value, DomainPack):
        found.add(init, "PACK", f"entry point {point.value} is a {type(value).__name__}, not a DomainPack")
        return None
    folder = Path(value.root) if isinstance(value.root, Path) else init.parent
    return Where(folder, init, point.name, _import_path(folder) or ""), value


def _import_path(folder: Path) -> str | None:
    """The dotted name the folder is imported by (its parents holding an ``__init__.py`` included)."""
    if not (folder / "__init__.py").exists():
        return None
    parts = [folder.name]
    parent = folder.parent
    while (parent / "__init__.py").exists() and parent != parent.parent:
        parts.insert(0, parent.name)
        parent = parent.parent
    return ".".join(parts)


def _load_folder(folder: Path, found: Findings) -> tuple[Where, DomainPack] | None:
    init = folder / "__init__.py"
    dotted = _import_path(folder)
    if dotted is None and (folder / pack_file.FILE).exists():
        return _load_data_pack(folder, found)
    if dotted is None:
        found.add(init, "PACK", f"{folder} has no pack.yaml (title, task_types, brand) and no __init__.py "
                                "defining PACK = DomainPack(...): add pack.yaml")
        return None
    if not all(part.isidentifier() for part in dotted.split(".")):
        found.add(init, "PACK", f"'{dotted}' cannot be imported (each folder name must be a Python identifier): "
                                "rename the folder")
        return None
    base = folder.parents[dotted.count(".")]
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    try:
        module = importlib.import_module(dotted)
    except BaseException as exc:  # SystemExit from a pack's import is a problem too
        if isinstance(exc, KeyboardInterrupt):
            raise
        file, line = site(exc, init, folder)
        found.add(file or init, "PACK", f"{at_line(line)}the pack cannot be imported: {exc_text(exc)}")
        return None
    where = Where(folder, init, folder.name, dotted)
    loaded_from = Path(getattr(module, "__file__", None) or "")
    if loaded_from.resolve() != init.resolve():
        found.add(init, "PACK", f"the name '{dotted}' is already taken by {loaded_from or 'another module'}: rename "
                                "the folder (or check the pack from its own project)")
        return None
    pack = getattr(module, "PACK", None)
    if pack is None:
        found.add(init, "PACK", "not defined: add PACK = DomainPack(name=..., title=..., package=..., root=..., "
                                "task_types=..., brand=..., modules=...)")
        return None
    if not isinstance(pack, DomainPack):
        found.add(init, "PACK", f"is a {type(pack).__name__}, not a cx_core.domain.DomainPack")
        return None
    return where, pack


def _load_data_pack(folder: Path, found: Findings) -> tuple[Where, DomainPack] | None:
    """A pack of data alone: its ``pack.yaml``."""
    described = folder / pack_file.FILE
    if not folder.name.isidentifier():
        found.add(described, "name", f"the folder's name '{folder.name}' is the pack's name and must be an "
                                     "identifier (letters, digits and _): rename the folder")
        return None
    try:
        pack = from_pack_file(folder, folder.name)
    except pack_file.PackFileError as exc:
        found.add(exc.path, exc.field, exc.message)
        return None
    return Where(folder, described, folder.name, ""), pack


# ------------------------------------------------------------------ PACK itself
def _check_pack(pack: DomainPack, where: Where, found: Findings) -> None:
    init = where.init
    if pack.name != where.expected_name:
        found.add(init, "PACK.name", f"is '{pack.name}' but the pack is found as '{where.expected_name}' (its "
                                     f"folder or entry point): set name=\"{where.expected_name}\"")
    if where.import_path and pack.package != where.import_path:
        found.add(init, "PACK.package", f"is '{pack.package}' but the folder is imported as '{where.import_path}': "
                                        f"set package=\"{where.import_path}\"")
    if not isinstance(pack.root, Path) or pack.root.resolve() != where.folder.resolve():
        found.add(init, "PACK.root", f"is {pack.root} but the pack's folder is {where.folder}: set "
                                     "root=Path(__file__).resolve().parent")
    if not isinstance(pack.task_types, Mapping) or not pack.task_types:
        found.add(init, "PACK.task_types", "is empty: give each task type a label people read, e.g. "
                                           "{\"plan_change\": \"change plan\"}")
    else:
        for name, label in pack.task_types.items():
            if not isinstance(label, str) or not label.strip():
                found.add(init, f"PACK.task_types.{name}", "has no label: give the words people read for it")
            if name in RESERVED:
                found.add(init, f"PACK.task_types.{name}", f"'{name}' is reserved by the engine (sentences that ask "
                                                           "for nothing / triage unsure): choose another name")
        for name in sorted(set(pack.informational) - set(pack.task_types)):
            found.add(init, "PACK.informational", f"'{name}' is not one of the pack's task types"
                                                  f"{suggest(name, pack.task_types)}")
    _check_channels(found, init, pack.channels)
    for key in ("name", "signature"):
        if not str(getattr(pack.brand, key, "") or "").strip():
            found.add(init, f"PACK.brand.{key}", "is empty: every reply is signed with the brand's name and "
                                                 "signature")


# ------------------------------------------------------------------ modules by role
def _check_modules(pack: DomainPack, where: Where, found: Findings) -> dict[str, Any] | None:
    """Checks every module the pack names; returns the pack's own actions (None when they could not be loaded)."""
    init = where.init
    own: dict[str, Any] | None = None if pack.has("actions") else {}
    for role, name in pack.modules.items():
        field = f"PACK.modules.{role}"
        if role not in ROLES:
            close = difflib.get_close_matches(role, ROLES, n=1, cutoff=0.75)
            if close:  # a typo disables a part of the pack without a word; another name is the pack's own
                found.add(init, field, f"unknown role '{role}': did you mean '{close[0]}'?")
            continue
        if not name:
            found.add(init, field, "names no module: give the module's dotted name or leave the role out")
            continue
        package = where.import_path or pack.package  # a wrong PACK.package is reported once, above
        if package and name != package and not name.startswith(package + "."):
            found.add(init, field, f"'{name}' is not under the pack's package '{package}': name a module of the "
                                   f"pack (e.g. '{package}.{role}'); the engine counts only those as the pack's")
        if role == "actions":
            own = _check_actions(pack, name, where, found)
            continue
        module = _import(role, name, where, found)
        if module is None:
            continue
        file = Path(getattr(module, "__file__", None) or init)
        for sig, what in ROLES[role]:
            _need(module, role, name, sig, what, file, found, required=True)
        for sig, what in OPTIONAL.get(role, ()):
            _need(module, role, name, sig, what, file, found, required=False)
        if role == "tables":
            _check_tables(module, file, found)
    return own


def _import(role: str, name: str, where: Where, found: Findings) -> ModuleType | None:
    """The module, or None after adding why it cannot be imported (on its own file and line when it has one)."""
    field = f"PACK.modules.{role}"
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        spec = None
    try:
        return importlib.import_module(name)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        if isinstance(exc, ModuleNotFoundError) and exc.name == name:
            found.add(where.init, field, f"there is no module '{name}': create it or correct the name")
            return None
        origin = Path(spec.origin) if spec is not None and spec.origin and spec.origin != "built-in" else None
        file, line = site(exc, origin, where.folder)
        found.add(file or origin or where.init, "import" if (file or origin) else field,
                  f"{at_line(line)}the {role} module {name} cannot be imported: {exc_text(exc)}")
        return None


def _need(module: ModuleType, role: str, name: str, sig: str, what: str, file: Path, found: Findings,
          required: bool) -> None:
    attr = sig.split("(")[0]
    value = getattr(module, attr, None)
    if value is None:
        if required:
            found.add(file, attr, f"missing: the {role} module ({name}) must define {sig} — {what}")
        return
    if "(" not in sig:
        return
    if not callable(value):
        found.add(file, attr, f"is a {type(value).__name__}, not a function: define {sig} — {what}")
        return
    n_args = len([a for a in sig[sig.index("(") + 1:-1].split(",") if a.strip()])
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*([None] * n_args))
    except TypeError:
        found.add(file, attr, f"{attr}{signature} cannot be called as {sig}: the engine passes {n_args} "
                              f"argument{'s' if n_args != 1 else ''}")


def _check_tables(module: ModuleType, file: Path, found: Findings) -> None:
    from sqlalchemy import MetaData


    metadata = getattr(module, "METADATA", None)
    if metadata is None:
        return
    if not isinstance(metadata, MetaData):
        found.add(file, "METADATA", f"is a {type(metadata).__name__}, not a sqlalchemy MetaData (use "
                                    "Base.metadata of the pack's DeclarativeBase)")
        return
    for table in sorted(set(metadata.tables) & set(Base.metadata.tables)):
        found.add(file, "METADATA", f"table '{table}' has the name of one of the engine's tables: rename it "
                                    "(only missing tables are created, so the pack's would never be)")


def _check_actions(pack: DomainPack, name: str, where: Where, found: Findings) -> dict[str, Any] | None:
    """Puts the pack's actions in force as ``DomainPack.activate`` does and checks each one."""

    field = "PACK.modules.actions"
    if _import("actions", name, where, found) is None:
        return None
    # a module outside the pack's package (reported above) is claimed under its own parent package, so that its
    # actions are still checked and none is left registered loose, in force for every pack after this one
    package = where.import_path or pack.package
    prefix = package if name == package or name.startswith(package + ".") else name.rpartition(".")[0]
    try:
        own = use_pack(prefix or name, (name,))
    except Exception as exc:
        found.add(where.init, field, f"its actions cannot be put in force: {exc_text(exc)}")
        return None
    module = sys.modules.get(name)
    file = Path(getattr(module, "__file__", None) or where.init)
    if not own:
        found.add(file, "@action", f"importing {name} registers no action: decorate each runner with "
                                   "@cx_core.actions.base.action(name=..., ...)")
    for action_name, spec in sorted(own.items()):
        at = file_of(spec.run) or file
        if spec.writes and not spec.local and spec.preview is None:
            found.add(at, f"{action_name}.preview", "the action writes to an outside system (local=False) but has "
                                                    "no preview: add preview=... that says what it would change "
                                                    "without changing anything")
        if spec.writes and spec.reversible and spec.compensate is None:
            found.add(at, f"{action_name}.compensate", "the action is reversible but has no compensating action: "
                                                       "add compensate=... or set reversible=False")
        for task_type in spec.task_types:
            if isinstance(pack.task_types, Mapping) and task_type not in pack.task_types:
                found.add(at, f"{action_name}.task_types", f"'{task_type}' is not one of the pack's task types"
                                                           f"{suggest(task_type, pack.task_types)}")
    return own


def _check_declared(pack: DomainPack, where: Where, own: dict[str, Any] | None, found: Findings) -> dict[str, str]:
    """The pack's ``actions.yaml`` (HTTP calls by hand or from OpenAPI, MCP servers' tools) read entry by entry as
    the engine reads it: each entry's own problems first, then what follows from them. Puts the declared actions in
    force for the rest of the check (the policy and the recipes may name them); returns those kept out, with why."""

    path = actions_file(pack.root)
    if not path.exists():
        if path != pack.root / "actions.yaml":
            found.add(path, "file", "does not exist (TANDEM_ACTIONS_FILE names it): create it or unset the setting")
        return {}
    known = frozenset(REGISTRY) if own is not None else frozenset()
    task_types = frozenset(pack.task_types) if isinstance(pack.task_types, Mapping) else frozenset()
    reading = loading.read(path, known, task_types)
    for field_name, message in reading.problems:
        found.add(path, field_name, message)
    package = where.import_path or pack.package
    if own is not None:
        use_pack(package, ())  # the pack's own (checked above) and its declared ones, together, as in the engine
    loaded = http_actions.put_in_force(reading, package, path)
    http_actions.LOADED = loaded
    for field_name, message in loaded.problems[len(reading.problems):]:  # an action that could not be built
        found.add(path, field_name, message)
    if own is not None:
        found.counts["action"] = len(own) + len(loaded.actions) + len(loaded.mcp) + len(loaded.composites)
    return dict(loaded.refused)


@contextmanager
def _registry_kept() -> Iterator[None]:
    """The engine's actions in force (and the active pack's prefix), and their wording, as they were before the
    check."""
    registry, active, loaded = dict(base.REGISTRY), list(base._active), http_actions.LOADED
    loose, packs = dict(base._LOOSE), {k: dict(v) for k, v in base._PACKS.items()}
    worded, declared = dict(wording.WORDING), dict(wording._DECLARED)
    try:
        yield
    finally:
        wording.WORDING.clear()
        wording.WORDING.update(worded)
        wording._DECLARED.clear()
        wording._DECLARED.update(declared)
        base.REGISTRY.clear()
        base.REGISTRY.update(registry)
        base._active[:] = active
        base._LOOSE.clear()
        base._LOOSE.update(loose)
        base._PACKS.clear()
        base._PACKS.update(packs)
        http_actions.LOADED = loaded


def _check_channels(found: Findings, init: Path, channels: tuple[Any, ...]) -> None:
    """Each channel a pack lists: a plain lower-case name, a response target above 0 minutes, listed once."""
    names: list[str] = []
    for i, channel in enumerate(channels):
        spec = channel if isinstance(channel, ChannelSpec) else None
        name = spec.name if spec else channel
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,19}", name):
            found.add(init, f"PACK.channels.{i}", f"{name!r} is not a channel name: use lower-case letters, digits "
                                                  "and _ (at most 20), e.g. 'whatsapp'")
            continue
        names.append(name)
        if spec is not None and not (isinstance(spec.sla_minutes, int) and spec.sla_minutes > 0):
            found.add(init, f"PACK.channels.{name}.sla_minutes", "must be a whole number of minutes above 0")
    for name in sorted({n for n in names if names.count(n) > 1}):
        found.add(init, "PACK.channels", f"'{name}' is listed twice")


