"""What a reader is given to read a request against: a service's actions (intents) and their arguments (slots),
each with the words that describe it, its kind and, for a choice, its values with the words customers use for
them. Made from a pack's actions (their pydantic models, descriptions and enum labels) or from any schema written
in the same terms (a Schema-Guided Dialogue service, an OpenAPI operation)."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import UnionType
from typing import Any, Literal, get_args, get_origin

KINDS = ("date", "time", "number", "money", "enum", "boolean", "text", "email", "phone", "address", "id")


@dataclass(frozen=True)
class Argument:
    """One argument of an action: its name, what it is in words, its kind, and for a choice its values (each with
    the phrases customers use for it)."""

    name: str
    description: str = ""
    kind: str = "text"
    values: tuple[str, ...] = ()
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    required: bool = False

    @property
    def words(self) -> str:
        """The name and description as one phrase, the way similarity reads them."""
        name = re.sub(r"[_\s]+", " ", self.name).strip()
        return f"{name}: {self.description}" if self.description else name


@dataclass(frozen=True)
class Action:
    name: str
    description: str = ""
    arguments: tuple[Argument, ...] = ()
    writes: bool = False  # changes something (a booking, a purchase), as opposed to finding or reading
    required: tuple[str, ...] = ()  # the arguments it cannot run without
    examples: tuple[str, ...] = ()  # messages customers have asked for it with, where a service has them

    @property
    def words(self) -> str:
        return f"{split_name(self.name)}: {self.description}" if self.description else split_name(self.name)


@dataclass(frozen=True)
class Schema:
    """A service: its actions, and every argument any of them takes (by name)."""

    name: str
    description: str
    actions: tuple[Action, ...]
    arguments: tuple[Argument, ...]

    def argument(self, name: str) -> Argument | None:
        return next((a for a in self.arguments if a.name == name), None)


def split_name(name: str) -> str:
    """``SearchOnewayFlight`` → "search oneway flight", ``new_slot_id`` → "new slot id"."""
    return " ".join(re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").lower().split())


# ------------------------------------------------------------------ from a Schema-Guided Dialogue service
def from_sgd(service: Mapping[str, Any]) -> Schema:
    """A Schema-Guided Dialogue service: intents become actions (transactional ones write), slots arguments. A
    categorical slot is a choice (``True``/``False`` a yes-or-no, digits a number); the kind of a free slot is
    left to the reader (``text`` here), which learns it from the slot's words."""
    args = []
    for s in service.get("slots", []):
        values = tuple(str(v) for v in s.get("possible_values") or [])
        kind = "text"
        if s.get("is_categorical"):
            kind = "boolean" if set(values) <= {"True", "False"} else \
                "number" if values and all(v.isdigit() for v in values) else "enum"
        args.append(Argument(str(s["name"]), str(s.get("description", "")), kind, values if kind != "text" else ()))
    by_name = {a.name: a for a in args}
    actions = tuple(Action(str(i["name"]), str(i.get("description", "")),
                           tuple(by_name[n] for n in [*i.get("required_slots", []), *i.get("optional_slots", {})]
                                 if n in by_name), bool(i.get("is_transactional")),
                           tuple(str(n) for n in i.get("required_slots", [])))
                    for i in service.get("intents", []))
    return Schema(str(service["service_name"]), str(service.get("description", "")), actions, tuple(args))


# ------------------------------------------------------------------ from a pack's actions
def kind_of(annotation: Any) -> tuple[str, tuple[str, ...]]:
    """An argument's kind (and a choice's values) from its Python type."""
    base = annotation
    if get_origin(base) in (typing.Union, UnionType):
        base = next((a for a in get_args(base) if a is not type(None)), base)
    if get_origin(base) is Literal:
        values = tuple(str(v) for v in get_args(base))
        return ("boolean" if set(values) <= {"True", "False"} else "enum"), values
    if base is bool:
        return "boolean", ("True", "False")
    if base is date:
        return "date", ()
    if base in (int, float):
        return "number", ()
    return "text", ()


def from_actions(name: str, specs: Iterable[Any], synonyms: Mapping[str, Mapping[str, Iterable[str]]] | None = None
                 ) -> Schema:
    """A pack's actions (``ActionSpec``s of the registry) as a schema: each field of an action's arguments model
    with its description, kind and choices; ``synonyms`` adds, by argument name, the phrases customers use for
    each value (a pack's vocabulary)."""
    synonyms = synonyms or {}
    actions: list[Action] = []
    arguments: dict[str, Argument] = {}
    for spec in specs:
        fields = spec.args_model.model_fields
        args = []
        for field_name, info in fields.items():
            kind, values = kind_of(info.annotation)
            words = {str(v): tuple(str(p) for p in ps) for v, ps in (synonyms.get(field_name) or {}).items()}
            arg = Argument(field_name, str(info.description or ""), kind, values or tuple(words), words,
                           info.is_required())
            args.append(arg)
            arguments.setdefault(field_name, arg)
        actions.append(Action(spec.name, str(spec.description or spec.label or ""), tuple(args), bool(spec.writes),
                              tuple(a.name for a in args if a.required)))
    return Schema(name, "", tuple(actions), tuple(arguments.values()))
