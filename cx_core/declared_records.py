"""A pack's customer records and card without Python: ``card.yaml`` in the pack's folder declares them over the
pack's read actions (declared in ``actions.yaml``, imported from OpenAPI, an MCP server's tools, or the pack's own).

```yaml
customer:                 # who a ticket's sender is (only for a pack without a records module)
  find: {action: find_customer, args: {email: "{email}"}, field: response.0}   # by an e-mail address
  get: {action: get_customer, args: {customer_id: "{id}"}}                     # by the customer's id
  fields: {id: id, name: name, first_name: first_name, email: email, tier: tier}   # only id is required
reads:                    # what the card and the planner read about the customer (the snapshot), by name
  accounts: {action: list_accounts, args: {customer_id: "{customer_id}"}, field: items}
card:                     # what advisors see beside a ticket; "{profile.name}" is a field of the snapshot
  headline: "{profile.name}"
  contact: ["{profile.tier}", "{profile.email}", "{profile.phone}"]      # joined with " · ", empty parts left out
  details: ["{profile.address}", "customer since {profile.since}"]
  tables:
    Accounts: {rows: accounts, columns: {account: id, plan: plan, status: status}}
```

The snapshot a recipe's ``record:`` bindings and the card read is ``{"profile": <the customer's record>, <each read
by name>: <its answer>}``. A pack that keeps its records in Python (``records`` module) may still declare only the
``card:`` here, over what its ``snapshot`` returns.

The workspace reads the card once per ticket view (``cx_core.desk.customer``), so its reruns never call the team's
systems again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .actions.base import REGISTRY, ExecContext
from .domain import Customer
from .errors import ConfigError, ConnectorUnavailable, InvalidInput, NotFound, TandemError
from .http_actions import as_refusal, calls
from .http_actions.calls import lookup
from .plans import Plan
from .recipe_book import load as load_recipes
from .recipes import plan

if TYPE_CHECKING:
    from .domain import DomainPack
    from .plans import Plan

FILE_NAME = "card.yaml"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
CUSTOMER_FIELDS = ("id", "name", "first_name", "email", "tier")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Read(_Strict):
    """A read action called with arguments (templates over ``{customer_id}``, ``{email}`` or ``{id}``); ``field``
    is where its answer holds what is wanted (a dot path: ``items``, ``response.0``)."""

    action: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    field: str | None = None


class CustomerSpec(_Strict):
    find: Read | None = Field(default=None, description="The customer by an e-mail address ({email}).")
    get: Read = Field(description="The customer by id ({id}).")
    fields: dict[str, str] = Field(default_factory=dict, description="Where the record holds id, name, "
                                   "first_name, email and tier.")

    @field_validator("fields")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(CUSTOMER_FIELDS))
        if unknown:
            raise ValueError(f"unknown field {', '.join(unknown)} (fields are: {', '.join(CUSTOMER_FIELDS)})")
        return value


class Table(_Strict):
    rows: str = Field(min_length=1, description="The snapshot's list (a read's name, or a dot path in it).")
    columns: dict[str, str] = Field(default_factory=dict, description="Column title → field of each row; "
                                    "default every plain field.")


Line = str | list[str]


class CardSpec(_Strict):
    headline: Line = "{profile.name}"
    contact: Line = Field(default_factory=lambda: ["{profile.tier}", "{profile.email}"])
    details: Line = ""
    tables: dict[str, Table] = Field(default_factory=dict)


class CardFile(_Strict):
    customer: CustomerSpec | None = None
    reads: dict[str, Read] = Field(default_factory=dict)
    card: CardSpec | None = None

    @field_validator("reads")
    @classmethod
    def _names(cls, value: dict[str, Read]) -> dict[str, Read]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,59}", name):
                raise ValueError(f"'{name}' is not a plain name (lower-case letters, digits and _)")
            if name == "profile":
                raise ValueError("'profile' is the customer's own record (customer.get): give the read another "
                                 "name")
        return value


# ------------------------------------------------------------------ reading and checking the file
def card_file(root: Path) -> Path:
    return root / FILE_NAME


def problems(path: Path, actions: Mapping[str, Any] | None = None, refused: Mapping[str, str] | None = None
             ) -> list[tuple[str, str]]:
    """Every problem of a card file as (field, what to fix): unreadable, a field that is not one, a read action that
    is not in force (or not a read), a table whose rows name no read. ``actions`` is the registry to check against
    (None: the names are not checked); ``refused`` the declared actions kept out of force, with their reason."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        return [("file", f"cannot be read: {exc}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [("file", f"line {mark.line + 1}: not valid YAML ({getattr(exc, 'problem', exc)})" if mark
                 else f"not valid YAML ({exc})")]
    if not isinstance(raw, dict):
        return [("file", "must be a mapping with customer, reads and card")]
    try:
        spec = CardFile.model_validate(raw)
    except ValidationError as exc:
        return [(".".join(str(p) for p in err["loc"]) or "file", err["msg"].removeprefix("Value error, "))
                for err in exc.errors()]
    out: list[tuple[str, str]] = []
    if actions is not None:
        named: list[tuple[str, Read]] = [(f"reads.{n}", r) for n, r in spec.reads.items()]
        if spec.customer is not None:
            named += [("customer.get", spec.customer.get)]
            if spec.customer.find is not None:
                named += [("customer.find", spec.customer.find)]
        for where, read in named:
            action = actions.get(read.action)
            if action is None:
                why = (refused or {}).get(read.action)
                out.append((f"{where}.action", f"'{read.action}' is not in force because: {why}" if why else
                            f"'{read.action}' is not an action of the pack (reads are: "
                            f"{', '.join(sorted(n for n, a in actions.items() if not a.writes)) or 'none'})"))
            elif action.writes:
                out.append((f"{where}.action", f"'{read.action}' changes records: the card only reads (use a read "
                                               "action, effect: read)"))
    if spec.card is not None:
        for title, table in spec.card.tables.items():
            first = table.rows.split(".")[0]
            if first != "profile" and first not in spec.reads:
                out.append((f"card.tables.{title}.rows", f"'{first}' is not one of the reads (reads are: "
                                                         f"{', '.join(['profile', *spec.reads])})"))
    return out


_FILES: dict[Path, tuple[float, CardFile | None]] = {}
_FILES_LOCK = threading.Lock()


def load(root: Path) -> CardFile | None:
    """The pack's card file (None when it has none); read again when it changes. A file with a problem is
    ``ConfigError`` with its first problem (``domain check`` lists them all)."""
    path = card_file(root)
    if not path.exists():
        return None
    mtime = path.stat().st_mtime
    with _FILES_LOCK:
        kept = _FILES.get(path)
        if kept is not None and kept[0] == mtime:
            return kept[1]
    found = problems(path)
    if found:
        field, message = found[0]
        raise ConfigError(f"{path}: {field}: {message}")
    spec = CardFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    with _FILES_LOCK:
        _FILES[path] = (mtime, spec)
    return spec


# ------------------------------------------------------------------ calling a read
def call_read(s: Any, read: Read, values: dict[str, Any]) -> Any:
    """The part of a read action's answer that ``read.field`` names, for ``values`` (``{customer_id}``…).
    ``NotFound`` when the system has no such record; ``ConnectorUnavailable`` when it does not answer."""

    spec = REGISTRY.get(read.action)
    if spec is None:
        raise ConnectorUnavailable(f"the read action '{read.action}' is not in force")
    if spec.writes:
        raise ConfigError(f"'{read.action}' changes records; the customer card only reads")
    try:
        parsed = spec.args_model.model_validate(calls.render(read.args, values))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(f"{read.action}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from exc
    if spec.remote is not None:
        try:
            answer = spec.remote.call(parsed.model_dump(mode="json"))[0]
        except (calls.CallFailed, ConfigError) as exc:
            raise as_refusal(exc) from exc
    else:
        answer = spec.run(s, parsed, ExecContext(actor="agent", role=None, ticket_id=None, customer_id=None))
    return calls.lookup(answer, read.field) if read.field else answer


def field_of(record: Mapping[str, Any], path: str | None, usual: tuple[str, ...]) -> Any:
    """A field of a record: where ``path`` says, else the first of the usual names it has."""

    if path:
        return lookup(record, path)
    return next((record[k] for k in usual if record.get(k) not in (None, "")), None)


_WRAPPERS = ("items", "data", "results", "records", "rows", "response", "entries", "content")
_PAGING = {"total", "count", "total_count", "page", "pages", "per_page", "page_size", "next", "previous", "prev",
           "cursor", "next_cursor", "limit", "offset", "has_more", "links", "meta", "object", "url"}


def rows(answer: Any) -> list[Any]:
    """A read's answer as the rows a card's table and a recipe's ``record:`` go through, whatever its shape: a
    list as it is; a list under a field (``items``, ``data``, ``results``…, beside paging fields such as ``total``
    or ``next``; or the object's only field) as that list; any other object as a one-row list; nothing as none."""
    if answer is None:
        return []
    if isinstance(answer, list):
        return answer
    if isinstance(answer, dict):
        lists = [k for k, v in answer.items() if isinstance(v, list)]
        if len(answer) == 1 and lists:
            return list(answer[lists[0]])
        wrapped = [k for k in _WRAPPERS if k in lists]
        if wrapped and all(str(k).lower() in _PAGING for k in answer if k != wrapped[0]):
            return list(answer[wrapped[0]])
    return [answer]


def _one(value: Any) -> dict[str, Any] | None:
    """A record from an answer: the object itself, or the only object of a list (none or several: None)."""
    if isinstance(value, dict) and set(value) == {"response"} and isinstance(value["response"], list):
        value = value["response"]
    if isinstance(value, list):
        objects = [v for v in value if isinstance(v, dict)]
        return objects[0] if len(objects) == 1 else None
    return value if isinstance(value, dict) and value else None


# ------------------------------------------------------------------ records declared over read actions
class DeclaredRecords:
    """``lookup``, ``identify``, ``snapshot``, ``tiers`` and ``card`` of a pack that declares its records in
    ``card.yaml``."""

    def __init__(self, spec: CardFile) -> None:
        assert spec.customer is not None
        self.spec = spec
        self.customer_spec = spec.customer

    def _customer(self, record: dict[str, Any] | None) -> Any:

        if record is None:
            return None
        fields = self.customer_spec.fields
        cid = field_of(record, fields.get("id"), ("id", "customer_id", "user_id"))
        if cid in (None, ""):
            return None
        first = field_of(record, fields.get("first_name"), ("first_name", "firstName", "given_name"))
        name = field_of(record, fields.get("name"), ("name", "full_name", "fullName"))
        if not name:
            last = field_of(record, None, ("last_name", "lastName", "family_name"))
            name = " ".join(str(p) for p in (first, last) if p)
        email = field_of(record, fields.get("email"), ("email", "email_address"))
        tier = field_of(record, fields.get("tier"), ("tier",))
        profile = {**record, "name": name or "", "email": email or ""}
        if first:
            profile["first_name"] = first
        if tier:
            profile["tier"] = tier
        customer = Customer(id=str(cid), name=str(name or ""), email=str(email or ""), tier=str(tier or ""),
                            profile=profile)
        return Customer(id=customer.id, name=customer.name, email=customer.email, tier=customer.tier,
                        profile=customer.shown_profile())

    def view(self, s: Any, customer_id: str, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        """The card and the snapshot it was made from, each read made once."""
        snap = self._snapshot(s, customer_id, strict=False)
        return render_card(self.spec.card, snap), snap

    def _by(self, s: Any, read: Read, values: dict[str, Any]) -> Any:
        try:
            return self._customer(_one(call_read(s, read, values)))
        except NotFound:
            return None

    def lookup(self, s: Any, ref: str | None) -> Any:
        """The customer a ticket names: an e-mail address (``customer.find``) or an id (``customer.get``)."""
        ref = (ref or "").strip()
        if not ref:
            return None
        if "@" in ref:
            find = self.customer_spec.find
            return self._by(s, find, {"email": ref}) if find is not None else None
        return self._by(s, self.customer_spec.get, {"id": ref, "customer_id": ref})

    def identify(self, s: Any, text: str) -> Any:
        """The one customer the e-mail addresses in a message name (identified, never verified); None when none
        or several do."""
        if self.customer_spec.find is None:
            return None
        found: dict[str, Any] = {}
        for email in list(dict.fromkeys(e.lower() for e in _EMAIL.findall(text or "")))[:3]:
            customer = self._by(s, self.customer_spec.find, {"email": email})
            if customer is not None:
                found[customer.id] = customer
        return next(iter(found.values())) if len(found) == 1 else None

    def snapshot(self, s: Any, customer_id: str, now: datetime) -> dict[str, Any]:
        """``{"profile": the customer's record, <read>: its answer…}``: what the planner and the card read."""
        return self._snapshot(s, customer_id, strict=True)

    def _snapshot(self, s: Any, customer_id: str, strict: bool) -> dict[str, Any]:
        unread: dict[str, str] = {}
        try:
            customer = self._by(s, self.customer_spec.get, {"id": customer_id, "customer_id": customer_id})
        except TandemError as exc:
            if strict:
                raise
            customer, unread["profile"] = None, str(exc)
        snap: dict[str, Any] = {"profile": dict(customer.profile) if customer is not None else {"id": customer_id}}
        if unread:
            snap["_unread"] = unread
        values = {"customer_id": customer_id, "id": customer_id, "profile": snap["profile"]}
        for name, read in self.spec.reads.items():
            try:
                snap[name] = rows(call_read(s, read, values))
            except NotFound:
                snap[name] = []
            except TandemError as exc:
                if strict:
                    raise
                snap[name] = None
                snap.setdefault("_unread", {})[name] = str(exc)
        return snap

    def tiers(self, s: Any) -> dict[str, str]:
        """Not known for every customer without asking the team's system for all of them: tickets break down by
        tier as "unknown" in Insights."""
        return {}

    def card(self, s: Any, customer_id: str, now: datetime) -> dict[str, Any]:
        return render_card(self.spec.card, self._snapshot(s, customer_id, strict=False))


class NoRecords:
    """A pack with no customer records: no ticket names a known customer, so nothing acts on anyone's record."""

    def lookup(self, s: Any, ref: str | None) -> None:
        return None

    def identify(self, s: Any, text: str) -> None:
        return None

    def snapshot(self, s: Any, customer_id: str, now: datetime) -> dict[str, Any]:
        return {}

    def tiers(self, s: Any) -> dict[str, str]:
        return {}

    def card(self, s: Any, customer_id: str, now: datetime) -> dict[str, Any]:
        return render_card(None, {"profile": {"id": customer_id}})


class _WithCard:
    """A pack's records module whose card is declared in ``card.yaml`` (or not at all: the card is then made from
    the snapshot's profile)."""

    def __init__(self, module: Any, spec: CardSpec | None) -> None:
        self._module, self._spec = module, spec

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def card(self, s: Any, customer_id: str, now: datetime) -> dict[str, Any]:
        return self.view(s, customer_id, now)[0]

    def view(self, s: Any, customer_id: str, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        snap = self._module.snapshot(s, customer_id, now) or {}
        shown = snap
        if "profile" not in snap:
            customer = self._module.lookup(s, customer_id)
            shown = {**snap, "profile": customer.shown_profile() if customer is not None else {"id": customer_id}}
        return render_card(self._spec, shown), snap


def records_of(pack: DomainPack) -> Any:
    """The records the engine reads for ``pack`` (see ``DomainPack.records``)."""
    spec = load(pack.root)
    if pack.has("records"):
        module = pack.module("records")
        if callable(getattr(module, "card", None)):
            return module
        return _WithCard(module, spec.card if spec is not None else None)
    if spec is not None and spec.customer is not None:
        return DeclaredRecords(spec)
    return NoRecords()


# ------------------------------------------------------------------ a planner from recipes.yaml, or none
class RecipePlanner:
    """The engine's recipe planner over the pack's ``recipes.yaml`` (no resolvers of the pack's own)."""

    def __init__(self, path: Path, write_free: frozenset[str]) -> None:
        self.path, self.write_free = path, write_free

    def plan(self, triage: Any, snapshot: dict[str, Any] | None, today: Any, text: str = "", reading: Any = None
             ) -> Plan:
        return plan(load_recipes(self.path), triage, snapshot, today, text, {}, write_free=self.write_free,
                    reading=reading)


class NoPlanner:
    """A pack with neither a planner nor recipes: no action is proposed; each request that is not informational is
    named as one no action is known for, and the reply answers from the knowledge base."""

    def __init__(self, write_free: frozenset[str]) -> None:
        self.write_free = write_free

    def plan(self, triage: Any, snapshot: dict[str, Any] | None, today: Any, text: str = "") -> Plan:

        out = Plan()
        if not getattr(triage, "abstained", False):
            out.no_action = [r.intent for r in triage.requests if r.intent not in self.write_free]
        return out


def planner_of(pack: DomainPack) -> Any:
    if pack.has("planner"):
        return pack.module("planner")
    recipes = pack.root / "recipes.yaml"
    if recipes.exists():
        return RecipePlanner(recipes, frozenset(pack.informational))
    return NoPlanner(frozenset(pack.informational))


# ------------------------------------------------------------------ the card from a snapshot
def _text(value: Any) -> str:
    """A value as card text: a list or an address (a mapping) as its plain parts joined."""
    if value is None or isinstance(value, bool) and not value:
        return ""
    if isinstance(value, Mapping):
        return ", ".join(_text(v) for v in value.values() if _text(v))
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value if _text(v))
    return str(value).strip()


def fill(template: str, snap: Mapping[str, Any]) -> str:
    """``"{profile.name}"`` with the snapshot's values; a template whose placeholders are all empty is empty."""

    names = _PLACEHOLDER.findall(template)
    values = {n: _text(lookup(snap, n)) for n in names}
    if names and not any(values.values()):
        return ""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template).strip()


def line(template: Line, snap: Mapping[str, Any]) -> str:
    parts = [template] if isinstance(template, str) else list(template)
    return " · ".join(p for p in (fill(t, snap) for t in parts) if p)


def _cell(value: Any) -> Any:
    """A table cell: a plain value as it is, a list or a mapping as text."""
    return value if isinstance(value, bool | int | float | str) else _text(value)


def table(spec: Table, snap: Mapping[str, Any]) -> list[dict[str, Any]]:

    value = lookup(snap, spec.rows)
    if isinstance(value, Mapping) and set(value) == {"response"}:
        value = value["response"]
    rows = [value] if isinstance(value, Mapping) else value if isinstance(value, list) else []
    out: list[dict[str, Any]] = []
    for row in rows:
        if not isinstance(row, Mapping):
            out.append({spec.rows: _cell(row)})
            continue
        if spec.columns:
            out.append({title: _cell(lookup(row, path)) for title, path in spec.columns.items()})
        else:
            out.append({k.replace("_", " "): _cell(v) for k, v in row.items()
                        if not isinstance(v, Mapping | list) or _text(v)})
    return out


def render_card(spec: CardSpec | None, snap: Mapping[str, Any]) -> dict[str, Any]:
    """The card (a headline, contact and details lines, one table each) from a snapshot."""
    spec = spec or CardSpec()
    headline = line(spec.headline, snap) or str((snap.get("profile") or {}).get("id") or "customer")
    tabs = {title: table(t, snap) for title, t in spec.tables.items()}
    unread = snap.get("_unread") or {}
    return {"headline": headline, "contact": line(spec.contact, snap), "details": line(spec.details, snap),
            "tabs": tabs, "unread": dict(unread)}


# ------------------------------------------------------------------ one ticket view's reads, kept
