"""Domain packs. Everything a company's own business is made of comes from the active pack: its task types, typed
actions and the systems they reach, its customer records, request readers, policy, knowledge articles, labelled
examples, brand, locale and demo world. The engine knows none of them.

A pack is found by name among the ``tandem.domains`` entry points (a team ``pip install``s its own) or as a
folder ``domains/<name>/`` beside the engine, whose package exposes ``PACK`` or, for a pack of data alone, whose
``pack.yaml`` says the same (``cx_core.pack_file``). ``TANDEM_DOMAIN`` picks it.
A pack's ``__init__`` stays light (names and paths); its Python parts are named by module and imported on use.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from . import pack_file
from .errors import ConfigError

if TYPE_CHECKING:
    from .models import Triage
    from .plans import Plan

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOMAIN = "lumen"
ENTRY_POINT_GROUP = "tandem.domains"


@dataclass(frozen=True)
class ChannelSpec:
    """A way customers reach the company, with its first-response target (the policy's ``sla_minutes`` may
    override it). ``live`` channels are conversations in real time (chat, phone); the others wait for an answer."""

    name: str
    label: str = ""
    sla_minutes: int = 1440
    live: bool = False

    @property
    def shown(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


DEFAULT_CHANNELS = (ChannelSpec("email", "E-mail", 1440), ChannelSpec("chat", "Chat", 15, live=True),
                    ChannelSpec("phone", "Phone", 240, live=True), ChannelSpec("social", "Social media", 240))
CHANNELS = tuple(c.name for c in DEFAULT_CHANNELS)


# What the engine reads of a customer's profile, and what it takes when a pack leaves a field out (or empty).
PROFILE_DEFAULTS: Mapping[str, str] = {"tier": "standard", "first_name": "there", "name": "the customer"}


@dataclass(frozen=True)
class Customer:
    """A customer as the engine sees one. Only ``id`` is required; every other field is optional with a documented
    default (``PROFILE_DEFAULTS``): ``tier`` "standard", ``name`` the e-mail's name or "the customer", and in the
    profile ``first_name`` the name's first word, else "there" ("Hi there,"). ``profile`` holds what the pack shows
    and drafts from; ``shown_profile()`` is it with those fields always there."""

    id: str
    name: str = ""
    email: str = ""
    tier: str = "standard"
    profile: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", str(self.id))
        object.__setattr__(self, "name", str(self.name or "").strip())
        object.__setattr__(self, "email", str(self.email or "").strip())
        object.__setattr__(self, "tier", str(self.tier or "").strip() or PROFILE_DEFAULTS["tier"])
        object.__setattr__(self, "profile", dict(self.profile or {}))

    def shown_profile(self) -> dict[str, Any]:
        """The profile with every field the engine reads filled in: ``id``, ``name``, ``first_name``, ``email`` and
        ``tier`` from the profile when it has them, else from the customer, else their defaults."""
        out = dict(self.profile)

        def given(key: str) -> str:
            value = out.get(key)
            return str(value).strip() if value not in (None, "") else ""

        name = given("name") or self.name or (self.email.split("@")[0] if self.email else "") \
            or PROFILE_DEFAULTS["name"]
        first = given("first_name") or (name.split()[0] if given("name") or self.name else "") \
            or PROFILE_DEFAULTS["first_name"]
        out.update(id=given("id") or self.id, name=name, first_name=first, email=given("email") or self.email,
                   tier=given("tier") or self.tier)
        return out


# ------------------------------------------------------------------ the roles a pack's parts play
@runtime_checkable
class Records(Protocol):
    """A pack's customer records, as the engine reads them (``session`` is a SQLAlchemy session of the store)."""

    def lookup(self, session: Any, ref: str | None) -> Customer | None:
        """The customer an e-mail address or customer id names, or None."""

    def identify(self, session: Any, text: str) -> Customer | None:
        """The customer a message's text names (an id, an e-mail, a name and ZIP), or None; never verified."""

    def snapshot(self, session: Any, customer_id: str, now: datetime) -> dict[str, Any]:
        """Everything planning reads about the customer: their records by collection. A records module may also
        have ``for_message(session, snapshot, text, now)``, which returns the snapshot with what the message's
        own words name looked up (what is for sale on the dates and places it names)."""

    def tiers(self, session: Any) -> dict[str, str]:
        """Each customer id's tier (Insights splits by it)."""

    def card(self, session: Any, customer_id: str, now: datetime) -> dict[str, Any]:
        """The customer card: a headline, a contact line, a details line and one table per system."""


@runtime_checkable
class Planner(Protocol):
    """What turns a triaged ticket into steps."""

    def plan(self, triage: Triage, snapshot: dict[str, Any] | None, today: date, text: str = "") -> Plan:
        """The steps (typed actions with arguments) that would resolve the ticket's requests. A planner may also take
        ``reading`` (the message's ``Reading``, made once by the engine) as a keyword."""


@runtime_checkable
class Demo(Protocol):
    """A pack's demo world: a seeded company and a live simulator of tickets."""

    def build_world(self, db: Any, seed: int, today: date) -> Any:
        """Builds the demo world into the store."""

    def summary(self, db: Any) -> dict[str, Any]:
        """What the demo world holds, in counts."""


@dataclass(frozen=True)
class Brand:
    """Who the replies come from."""

    name: str
    signature: str  # the sign-off under every reply
    sender: str = ""  # the address replies are sent from


@dataclass(frozen=True)
class Locale:
    currency: str = "USD"
    region: str = "US"  # the country whose phone numbers and addresses customers usually write (ISO 3166 code)
    time_zone: str = "UTC"
    date_format: str = "%A %d %B %Y"
    phone_example: str = ""


@dataclass(frozen=True)
class DomainPack:
    """One company's business, as data and named modules.

    ``modules`` names the pack's Python parts by role: ``actions`` (importing it registers the typed actions),
    ``records`` (``lookup(session, ref)`` and ``identify(session, text)`` → ``Customer``, ``snapshot(session,
    customer_id, now)`` → what planning reads, ``tiers(session)``), ``planner`` (``plan(triage, snapshot, today,
    text)`` → ``Plan``, optionally ``grounded(triage, snapshot, text)``), ``demo`` (``build_world``,
    ``Simulator``, ``work_some``, ``summary``), ``tables`` (``METADATA``: the pack's own tables) and
    ``evaluation`` (``evaluate(db_path, tasks_path)``: its τ-bench scorer).
    """

    name: str
    title: str
    package: str  # the pack's Python package: every module under it belongs to the pack
    root: Path  # the pack's folder
    task_types: Mapping[str, str]  # name → the label people read
    brand: Brand
    modules: Mapping[str, str]
    locale: Locale = field(default_factory=Locale)
    knowledge: Path | None = None  # knowledge folder (articles/, training/, policy.yaml); default root/knowledge
    informational: frozenset[str] = frozenset()  # task types answered from knowledge, with no action to propose
    channels: tuple[ChannelSpec | str, ...] = DEFAULT_CHANNELS  # a bare name takes the engine's defaults

    @property
    def channel_specs(self) -> tuple[ChannelSpec, ...]:
        known = {c.name: c for c in DEFAULT_CHANNELS}
        return tuple(c if isinstance(c, ChannelSpec) else known.get(c, ChannelSpec(c)) for c in self.channels)

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channel_specs)

    def channel(self, name: str) -> ChannelSpec:
        """The channel called ``name`` (a channel the pack does not list gets the engine's defaults)."""
        return next((c for c in self.channel_specs if c.name == name), ChannelSpec(name))

    @property
    def knowledge_dir(self) -> Path:
        return self.knowledge or self.root / "knowledge"

    @property
    def policy_file(self) -> Path:
        return self.knowledge_dir / "policy.yaml"

    def module(self, role: str) -> ModuleType:
        """The pack's module for ``role``; a pack without one is told so in one line."""
        name = self.modules.get(role)
        if not name:
            raise ConfigError(f"domain '{self.name}' has no {role} module")
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"domain '{self.name}': its {role} module {name} cannot be imported ({exc})") from exc

    def has(self, role: str) -> bool:
        return bool(self.modules.get(role))

    @property
    def has_demo(self) -> bool:
        """Whether the pack brings a demo world (and a simulator of tickets); a team's own pack usually does not."""
        return self.has("demo")

    def label(self, task_type: str) -> str:
        return self.task_types.get(task_type, task_type.replace("_", " "))


def _from_entry_points(name: str) -> DomainPack | None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                pack = ep.load()
            except Exception as exc:  # a broken third-party pack is reported, not raised as a traceback
                raise ConfigError(f"domain '{name}' (entry point {ep.value}) cannot be loaded: {exc}") from exc
            return _checked(pack, f"entry point {ep.value}")
    return None


def pack_dirs() -> list[Path]:
    """Where packs are looked for by folder: ``domains/`` beside the engine, then each folder ``TANDEM_PACKS_DIR``
    lists (separated by ``:``), for a team that keeps its pack in its own repository."""
    extra = os.environ.get("TANDEM_PACKS_DIR", "")
    return [PROJECT_ROOT / "domains", *(Path(p).expanduser().resolve() for p in extra.split(os.pathsep) if p.strip())]


def _from_folder(name: str) -> DomainPack | None:
    if not name.isidentifier():
        return None
    for base in pack_dirs():
        folder = base / name
        if (folder / "__init__.py").exists() or (folder / "pack.yaml").exists():
            break
    else:
        return None
    inside = base == PROJECT_ROOT / "domains"
    dotted = f"domains.{name}" if inside else name
    if not (folder / "__init__.py").exists():  # a pack of data alone: pack.yaml says what PACK would
        return from_pack_file(folder, dotted)
    root = PROJECT_ROOT if inside else base
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(dotted)
    except ImportError as exc:
        raise ConfigError(f"domain '{name}' in {folder} cannot be imported: {exc}") from exc
    loaded_from = Path(getattr(module, "__file__", None) or "")
    if loaded_from.resolve() != (folder / "__init__.py").resolve():
        raise ConfigError(f"domain '{name}' in {folder}: the name '{dotted}' is already taken by "
                          f"{loaded_from or 'another module'}: rename the pack's folder")
    return _checked(getattr(module, "PACK", None), f"{folder}/__init__.py")


def from_pack_file(folder: Path, package: str) -> DomainPack:
    """The pack ``folder/pack.yaml`` describes (``pack_file.PackFileError``, one line, when it cannot);
    ``package`` is the dotted name the folder would be imported by."""
    parsed = pack_file.read(folder)
    channels = tuple(c if isinstance(c, str) else ChannelSpec(c.name, c.label, c.sla_minutes, c.live)
                     for c in parsed.channels)
    return DomainPack(
        name=folder.name, title=parsed.title, package=package, root=folder.resolve(),
        task_types=dict(parsed.task_types), informational=frozenset(parsed.informational),
        brand=Brand(parsed.brand.name, parsed.brand.signature, parsed.brand.sender),
        locale=Locale(**parsed.locale.model_dump()), modules=dict(parsed.modules),
        channels=channels or DEFAULT_CHANNELS)


def _checked(pack: Any, where: str) -> DomainPack:
    if not isinstance(pack, DomainPack):
        raise ConfigError(f"{where}: expected a DomainPack named PACK, found {type(pack).__name__}")
    return pack


def available() -> list[str]:
    """Every pack that can be selected: installed entry points and folders under domains/."""
    names = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    for folder in pack_dirs():
        if folder.is_dir():
            names |= {p.name for p in folder.iterdir() if p.name.isidentifier()
                      and ((p / "__init__.py").exists() or (p / "pack.yaml").exists())}
    return sorted(names)


@cache
def find(name: str) -> DomainPack:
    """The pack called ``name``; an unknown name is one line that lists the ones there are."""
    pack = _from_entry_points(name) or _from_folder(name)
    if pack is None:
        raise ConfigError(f"unknown domain '{name}': set TANDEM_DOMAIN to one of {', '.join(available()) or 'none'}")
    return pack


_current: list[DomainPack] = []


def serve(pack: DomainPack) -> DomainPack:
    """Records ``pack`` as the one this process serves. Only the composition root (``cx_core.packs.use``, called by
    ``Services``, the command line and the test set-up) calls it, after putting the pack's actions in force."""
    _current[:] = [pack]
    return pack


def active() -> DomainPack:
    """The pack this process serves. Nothing here puts a pack in force: a process that never built ``Services`` (or
    called ``cx_core.packs.use``) is told so in one line."""
    if not _current:
        raise ConfigError("no domain pack is in force in this process: build Services (or call cx_core.packs.use) "
                          "first")
    return _current[0]


@dataclass(frozen=True)
class Vocabulary:
    task_types: frozenset[str]
    actions: frozenset[str]
    channels: frozenset[str]
