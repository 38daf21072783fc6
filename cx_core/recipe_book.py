"""A pack's recipe book as data (``recipes.yaml``): each task type's steps and how each argument is bound, the
pack's id patterns and its words for values; read once, again when the file changes, with every problem named by its
field (``cx_core.recipes`` resolves a book against a message)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from . import expressions
from .errors import ConfigError
from .reading import language, phrases, route

BINDING_KINDS = ("entity", "said", "record", "step", "const", "resolver", "compute")
# what a recipe file held before the engine read English itself: refused with the reason
RETIRED = {"hold_if": "conditions are read by the engine for every pack",
           "all_words": "'all of my…' is read by the engine for every pack",
           "latest_words": "'my latest…' is read by the engine for every pack"}


@dataclass(frozen=True)
class Binding:
    kind: str
    name: str = ""
    value: Any = None
    field: str = ""  # record: the field bound (default: key); step: the result field
    key: str = ""  # record: the field that identifies it
    where: Mapping[str, Any] = dc_field(default_factory=dict)
    named_by: str = ""
    narrow_by: tuple[str, ...] = ()
    must_match: tuple[str, ...] = ()  # record: entities the words give that the record must have one of, else none is it
    pick: str = "one"  # one | each
    newest_by: str = ""  # the field that orders records in time: "my most recent booking" takes the newest
    filter: str = ""  # record: a JMESPath expression each row must meet ("code != {@accounts.tariff}")
    cap: Any = None  # compute: the most the value may be (a number, or an expression)
    ask: str = ""
    default: Any = None
    any_named: bool = False  # record: a key the message names is taken even when no record of the customer has it
    described: bool = False  # record: only one the words name or narrow to ("my Dallas to Atlanta trip"), never asked
    otherwise: Binding | None = None  # record: bound instead when this one cannot be ("the October bill", else the balance)
    now: str = ""  # said: the value as it is now ("{@accounts.payment_day}"), which "a week earlier" counts from
    per: str = ""  # said, a count: when none is said, how many monthly parts pay the argument named here, each at most
    # what the message says a month can be ("£25 a month is what I can manage": £96.40 in 4)


@dataclass(frozen=True)
class StepSpec:
    action: str
    args: Mapping[str, Binding]
    why: str = ""


@dataclass(frozen=True)
class Recipe:
    task_type: str
    steps: tuple[StepSpec, ...]


@dataclass(frozen=True)
class Book:
    """Every recipe of a pack, and how entities are read from a message."""

    recipes: Mapping[str, Recipe]
    patterns: Mapping[str, re.Pattern[str]] = dc_field(default_factory=dict)
    words: Mapping[str, Mapping[str, tuple[str, ...]]] = dc_field(default_factory=dict)
    routes: tuple[str, ...] = ()  # the word lists whose values are places: read in the order of the trip

    def spans(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """Where in ``text`` each of the pack's own entities was read (its patterns' matches, its words' phrases)."""
        out: dict[str, list[tuple[int, int]]] = {}
        for name, rx in self.patterns.items():
            out.setdefault(name, []).extend(m.span() for m in rx.finditer(text))
        for name, values in self.words.items():
            for said in values.values():
                for p in said:
                    out.setdefault(name, []).extend(phrases.find(p, text))
        return out

    def entities(self, text: str, found: Mapping[str, Any]) -> dict[str, list[Any]]:
        """The engine's entities plus the pack's own: each pattern's matches and each word list's values, in the
        order they appear in the text."""
        out: dict[str, list[Any]] = {k: list(v) if isinstance(v, list) else [v] for k, v in found.items() if v}
        for name, rx in self.patterns.items():
            hits = list(dict.fromkeys(m.group(1) if rx.groups else m.group(0) for m in rx.finditer(text)))
            if hits:
                out[name] = hits
        for name, values in self.words.items():
            spans = phrases.said(values, text)
            # a value the customer sets aside anywhere ("move it to that, not Fixed 24") is never one they give
            given = {v: min(s for s, _ in sp) for v, sp in spans.items()
                     if not any(language.contrasted(text, s) for s, _ in sp)}
            if given:
                out[name] = route.ordered(text, {v: spans[v] for v in given}) if name in self.routes else \
                    sorted(given, key=lambda v: given[v])
        return out


# ------------------------------------------------------------------ loading
def _binding(raw: Any, where: str) -> Binding:
    if not isinstance(raw, dict):
        return Binding("const", value=raw)
    kinds = [k for k in BINDING_KINDS if k in raw]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: give exactly one of {', '.join(BINDING_KINDS)}")
    kind = kinds[0]
    if kind == "said" and raw.get("said") is not True:
        raise ConfigError(f"{where}: said: true (the value is read from the message by the action's schema)")
    pick = str(raw.get("pick", "one"))
    if pick not in ("one", "each"):
        raise ConfigError(f"{where}: pick must be 'one' or 'each', not '{pick}'")
    for key in ("compute", "filter", "cap", "now"):
        if isinstance(raw.get(key), str) and (wrong := expressions.problem(raw[key])):
            raise ConfigError(f"{where}.{key}: {wrong}")
    if raw.get("per") and kind != "said":
        raise ConfigError(f"{where}.per: only a said count may follow from an amount a month, e.g. "
                          f"instalments: {{said: true, per: amount}}")
    if raw.get("ask") and "?" not in str(raw["ask"]):
        raise ConfigError(f"{where}.ask: is the question the reply puts to the customer: ask it, with a '?' "
                          f"(e.g. \"which booking do you mean?\")")
    otherwise = None
    if "otherwise" in raw:
        if kind != "record" or not isinstance(raw["otherwise"], dict) or "record" not in raw["otherwise"]:
            raise ConfigError(f"{where}.otherwise: a record binding may fall back on another record binding, "
                              f"e.g. otherwise: {{record: accounts, key: id, field: balance}}")
        otherwise = _binding(raw["otherwise"], f"{where}.otherwise")
    return Binding(kind=kind, name="" if kind in ("const", "said") else str(raw[kind]), value=raw.get("const"),
                   field=str(raw.get("field", "")), key=str(raw.get("key", "")), where=dict(raw.get("where") or {}),
                   named_by=str(raw.get("named_by", "")), narrow_by=tuple(raw.get("narrow_by") or ()), pick=pick,
                   must_match=tuple(raw.get("must_match") or ()),
                   newest_by=str(raw.get("newest_by", "")), filter=str(raw.get("filter", "")), cap=raw.get("cap"),
                   ask=str(raw.get("ask", "")), default=raw.get("default"), any_named=raw.get("any_named") is True,
                   described=raw.get("described") is True, otherwise=otherwise, now=str(raw.get("now", "")),
                   per=str(raw.get("per", "")))


def parse(data: Any, source: str = "recipes.yaml") -> Book:
    """A book from the YAML's data; anything malformed is one line naming the field."""
    if not isinstance(data, dict) or not isinstance(data.get("recipes"), dict):
        raise ConfigError(f"{source}: expected a mapping with 'recipes'")
    for key, why in RETIRED.items():
        if key in data or any(isinstance(r, dict) and key in r for r in data["recipes"].values()):
            raise ConfigError(f"{source}: {key}: remove it ({why})")
    recipes = {}
    for task_type, spec in data["recipes"].items():
        where = f"{source}: recipes.{task_type}"
        if not isinstance(spec, dict) or not isinstance(spec.get("steps"), list):
            raise ConfigError(f"{where}: expected 'steps', a list")
        steps = []
        for i, st in enumerate(spec["steps"]):
            if not isinstance(st, dict) or not st.get("action"):
                raise ConfigError(f"{where}.steps[{i}]: expected 'action'")
            args = st.get("args") or {}
            if not isinstance(args, dict):
                raise ConfigError(f"{where}.steps[{i}].args: expected a mapping")
            steps.append(StepSpec(str(st["action"]), {k: _binding(v, f"{where}.steps[{i}].args.{k}")
                                                      for k, v in args.items()}, str(st.get("why", ""))))
        recipes[str(task_type)] = Recipe(str(task_type), tuple(steps))
    try:
        patterns = {str(k): re.compile(str(v)) for k, v in (data.get("patterns") or {}).items()}
    except re.error as exc:
        raise ConfigError(f"{source}: patterns: {exc}") from exc
    words = {str(k): {str(val): tuple(str(p) for p in ps) for val, ps in (vals or {}).items()}
             for k, vals in (data.get("words") or {}).items()}
    routes = tuple(str(r) for r in data.get("routes") or ())
    if unknown := [r for r in routes if r not in words]:
        raise ConfigError(f"{source}: routes: {unknown[0]} is not one of the word lists under 'words'")
    return Book(recipes, patterns, words, routes)


def load(path: Path) -> Book:
    """The recipe book at ``path``, read again whenever the file changes (a pack fixed while the worker runs)."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from exc
    return _load(path, stamp)


@cache
def _load(path: Path, stamp: int) -> Book:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from exc
    return parse(data, str(path))


def problems(path: Path, actions: Iterable[str], task_types: Iterable[str],
             resolvers: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Every problem of a recipe file as (field, message): unreadable, an unknown task type, action or resolver,
    a step result used before its step."""
    try:
        book = _load.__wrapped__(path, 0)
    except ConfigError as exc:
        return [("", str(exc).split(": ", 1)[-1])]
    known_actions, known_types, known_resolvers = set(actions), set(task_types), set(resolvers)
    found: list[tuple[str, str]] = []
    for tt, recipe in book.recipes.items():
        if tt not in known_types:
            found.append((f"recipes.{tt}", f"unknown task type '{tt}'"))
        earlier: set[str] = set()
        for i, st in enumerate(recipe.steps):
            at = f"recipes.{tt}.steps[{i}]"
            if st.action not in known_actions:
                found.append((f"{at}.action", f"unknown action '{st.action}'"))
            for arg, b in st.args.items():
                if b.kind == "resolver" and b.name not in known_resolvers:
                    found.append((f"{at}.args.{arg}", f"unknown resolver '{b.name}'"))
                if b.kind == "step" and b.name not in earlier:
                    found.append((f"{at}.args.{arg}", f"step '{b.name}' does not come before this one"))
            earlier.add(st.action)
    return found
