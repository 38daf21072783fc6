"""Putting a domain pack in force: the part of the composition root that turns a ``DomainPack`` (types in
``cx_core.domain``) into what the engine runs with — its typed actions and declared ones in the registry, its
tables beside the engine's, its customer records and its planner, each checked against the role it plays
(``cx_core.domain``'s Protocols).

``Services`` calls ``use`` once per process (as tau2-bench's ``get_environment()`` builds the domain once and hands
it down); the command line does for the commands that need no models. Nothing below the composition root puts a pack
in force."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from . import declared_records, domain, http_actions
from .actions import conversation as _engine_actions  # noqa: F401 - the engine's own actions, in force with every pack
from .actions.base import REGISTRY, ActionSpec, use_pack
from .domain import Demo, DomainPack, Planner, Records, Vocabulary
from .errors import ConfigError
from .reading.reader import Vocabulary as ReadingVocabulary
from .store.db import use_pack_tables


def put_in_force(pack: DomainPack) -> dict[str, ActionSpec]:
    """The pack's typed actions (importing its actions module runs the ``@action`` decorators) and its declared ones
    in force beside the engine's, and its tables known to the store; returns the pack's own actions."""
    use_pack_tables(pack.module("tables").METADATA if pack.has("tables") else None)
    try:
        own = use_pack(pack.package, (pack.modules["actions"],) if pack.has("actions") else ())
    except ImportError as exc:
        raise ConfigError(f"domain '{pack.name}': its actions cannot be imported ({exc})") from exc
    declared = http_actions.register_pack(pack.root, pack.package, frozenset(pack.task_types))
    return {**own, **{name: REGISTRY[name] for name in [*declared.actions, *declared.mcp, *declared.composites]
                       if name in REGISTRY}}


def use(pack: DomainPack) -> DomainPack:
    """Makes ``pack`` the one this process serves, its actions in force."""
    put_in_force(pack)
    return domain.serve(pack)


def use_named(name: str) -> DomainPack:
    return use(domain.find(name))


def records(pack: DomainPack) -> Records:
    """The customer records the engine reads: the pack's records module; else the ones its ``card.yaml`` declares
    over its read actions; else none (no ticket names a known customer, so nothing acts on anyone's record)."""
    return cast(Records, declared_records.records_of(pack))


def planner(pack: DomainPack) -> Planner:
    """What turns a triaged ticket into steps: the pack's planner module; else its ``recipes.yaml`` read by the
    engine's recipe planner; else a planner that proposes no action."""
    return cast(Planner, declared_records.planner_of(pack))


def demo(pack: DomainPack) -> Demo:
    """The pack's demo world and ticket simulator (only packs that bring one)."""
    return cast(Demo, pack.module("demo"))


def vocabulary(pack: DomainPack | None = None) -> Vocabulary:
    """The names a policy of this domain may use: its task types and channels, and its actions — those in force, and
    those its actions file declares but keeps out for a problem of their own (a limit on one of them is harmless,
    and refusing the whole policy for it would take every other action's limits away too)."""
    pack = use(pack) if pack is not None else domain.active()
    return Vocabulary(task_types=frozenset(pack.task_types) | {"unclassified"},
                      actions=frozenset(REGISTRY) | frozenset(http_actions.LOADED.refused),
                      channels=frozenset(pack.channel_names))


def reading(pack: DomainPack) -> Any:
    """What the engine's reader takes from the pack, as data (``reading.yaml`` beside the pack: the shapes of its
    ids, the words customers use for each kind of record), with the pack's country and currency."""
    return _reading(pack.root, pack.locale.region, pack.locale.currency)


@cache
def _reading(root: Any, region: str, currency: str) -> Any:
    import yaml

    path = root / "reading.yaml"
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'ids' and 'records'")
    try:
        return ReadingVocabulary.of(ids=data.get("ids") or {}, records=data.get("records") or {}, region=region,
                                    currency=currency, day_first=data.get("day_first"),
                                    follow_ups=data.get("follow_ups"),
                                    counts=data.get("counts"), options=data.get("options"),
                                    requests=data.get("requests"))
    except Exception as exc:  # noqa: BLE001 - a bad pattern is one line naming the file
        raise ConfigError(f"{path}: {exc}") from exc


def records_of_active() -> Any:
    """The records of the pack in force (for the few places that read a customer outside a pipeline run)."""
    return records(domain.active())
