"""Recipes: what resolves each task type, written as data by the domain pack (``recipes.yaml``).

A recipe is the ordered actions that resolve one task type. Each argument is bound to

- ``said: true`` — the argument's value read from the message by the engine, from the action's own schema (its type,
  range, choices and description: "the number on the meter's display", "day of the month (1 to 28)");
- ``entity: NAME`` — a value read from the message (the engine's entities: ``dates``, ``time_of_day``, the ids the
  pack's ``reading.yaml`` declares as ``KIND_ids``, and the pack's ``words``: the phrases customers use for values);
- ``record: COLLECTION`` — a record of the customer's snapshot (``reservations.flights``: the rows under each of
  another's) chosen by a declared rule: the ones ``where`` keeps
  (``field: value``, ``field: {not: value}``), then the one the message names by ``key`` (``named_by`` entity),
  else the one the message's other entities point to (``narrow_by``: dates, places, flight numbers found among the
  record's values), else the only one left; ``pick: each`` takes every record kept when the message says ``all``;
  ``any_named: true`` takes a key the message names even when no record of the customer's has it (any flight's
  status);
- ``step: ACTION`` with ``field`` — an earlier step's result (filled in when that step has run);
- ``const: VALUE``;
- ``resolver: NAME`` — a function of the pack's own, for what data cannot say.

What cannot be bound with certainty is marked missing, with what to ask, and a person decides: nothing is guessed. A
look-up (a read action) whose record cannot be chosen and that has no ``ask`` is left out.
A task type without a recipe proposes nothing and says so (``Plan.no_action``). The English around a request
(a negation, a condition, a fallback, "all of my…", "my latest…", a question that only asks) is read by the engine
(``cx_core.reading``) for every pack: a recipe file holds no grammar.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from datetime import date
from functools import partial
from typing import Any

from . import expressions
from .actions.base import REGISTRY, is_read
from .embedding import similar
from .errors import ConfigError
from .models import Request, Triage
from .plans import Plan, Step
from .reading import arguments, language
from .reading import records as reading_records
from .reading.day_times import times_of_days
from .reading.requests import asks_for_a_change
from .recipe_book import Binding, Book, Recipe, StepSpec
from .wording import listed


class Unbound(Exception):
    """An argument that cannot be bound with certainty: ``need`` says what a person must decide (shown to the
    advisor), ``ask`` the question for the customer when the customer can settle it."""

    def __init__(self, need: str, ask: str = "", final: bool = False) -> None:
        super().__init__(need)
        self.need = need
        self.ask = ask
        self.final = final  # nothing else can make the step run (a rule refuses it): no further fact is asked for


@dataclass
class Context:
    """What a binding or a resolver may read: the request, the whole message, its entities, the customer's
    snapshot, today, and the arguments already bound for this step (a chosen record under ``@COLLECTION``)."""

    request: Request
    text: str
    entities: dict[str, list[Any]]
    snapshot: dict[str, Any]
    today: date
    bound: dict[str, Any] = dc_field(default_factory=dict)
    latest: bool = False  # the message asks about the newest record ("my most recent booking")
    reading: Any = None  # the message's Reading (cx_core.reading), made once by the engine
    own: dict[str, list[Any]] = dc_field(default_factory=dict)  # the entities of the request's own words
    kept: dict[str, list[Any]] = dc_field(default_factory=dict)  # those of the sentences that do not say "leave it"
    alone: bool = False  # the message's only request
    earlier: list[Step] = dc_field(default_factory=list)  # the steps planned for the requests said before this one


Resolver = Callable[[Context], Any]


# ------------------------------------------------------------------ binding
def _scalars(value: Any) -> Iterable[str]:
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _scalars(v)
    elif value is not None:
        yield str(value).lower()


def _keeps(record: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    for name, want in where.items():
        have = record.get(name)
        if isinstance(want, dict) and "not" in want:
            if have == want["not"]:
                return False
        elif isinstance(want, list):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


def _given(ctx: Context, name: str) -> list[Any]:
    """The values of ``name`` the customer gives: the request's own words first; else the message's, never from a
    sentence that asks to keep something as it is ("leave my electricity where it is, on Flex")."""
    return list(ctx.own.get(name) or (ctx.kept if ctx.kept else ctx.entities).get(name) or [])


def collection(snapshot: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """A snapshot's rows by name; ``reservations.flights`` are the rows under each reservation, each with its
    parent's own fields beside its own (a flight knows its ``reservation_id``; its own ``status`` wins)."""
    parts = name.split(".")
    rows = [r for r in snapshot.get(parts[0]) or [] if isinstance(r, dict)]
    for part in parts[1:]:
        rows = [{**{k: v for k, v in parent.items() if not isinstance(v, dict | list)}, **child}
                for parent in rows for child in (parent.get(part) or []) if isinstance(child, dict)]
    return rows


def records(b: Binding, ctx: Context, each: bool) -> list[dict[str, Any]]:
    """The records a binding chooses; raises ``Unbound`` when the choice is not certain."""
    everything = collection(ctx.snapshot, b.name)
    pool = [r for r in everything if _keeps(r, b.where) and _meets(r, b, ctx)]
    key = b.key or b.field
    named = [str(v).lower() for v in _given(ctx, b.named_by) or _given(ctx, b.named_by + "s")] if b.named_by else []
    if b.named_by and not named:  # a code the pattern misses ("YNKEDB") still names a record written out in full
        named = [str(r.get(key)).lower() for r in everything if len(str(r.get(key) or "")) >= 5
                 and re.search(rf"(?<![A-Za-z0-9]){re.escape(str(r.get(key)))}(?![A-Za-z0-9])", ctx.text)]
    if named and b.filter and not (ctx.own.get(b.named_by) or ctx.own.get(b.named_by + "s")):
        # named elsewhere in the message ("We're currently on Flex. … which would be cheapest, and move us onto
        # it?"): only one the binding may choose
        named = [n for n in named if any(str(r.get(key)).lower() == n and _meets(r, b, ctx) for r in everything)]
    if named:
        mine = {str(r.get(key)).lower(): r for r in everything}
        picked = [mine[n] for n in named if n in mine]
        if not picked and b.any_named:  # "is HAT045 on time?": any flight, not only the customer's
            return [{key: v} for v in dict.fromkeys(_given(ctx, b.named_by) or _given(ctx, b.named_by + "s"))]
        if not picked:
            raise Unbound(f"{named[0].upper()} is not on this customer's account",
                          f"we could not find {named[0].upper()} on your account; could you check it?")
        return picked  # a record the customer names is the one meant, whatever its state (the action says why not)
    pool = _matching(pool, b, ctx)
    if each and not pool:
        raise Unbound(f"no {b.name.replace('_', ' ')} to act on", b.ask)
    narrowed_by_words = False  # by the message's words, then the request's own ("for my gas … leave the other")
    for hint in b.narrow_by:  # "both my flights, on the 10th and the 11th": every one of those the words name
        for found in (ctx.entities.get(hint, []), ctx.own.get(hint, [])):
            values = {str(v).lower() for v in found}
            narrowed = [r for r in pool if values & set(_scalars(r))] if values else []
            if narrowed:
                pool, narrowed_by_words = narrowed, True
    if b.described and not narrowed_by_words:
        # with no entities declared to narrow it, only one its own words name ("the October bill"), or none
        days = [str(d) for d in ctx.entities.get("dates", [])]
        if not b.narrow_by and len(pool) > 1 and len(described := reading_records.named(ctx.request.text, pool,
                                                                                          days)) == 1:
            return [pool[described[0]]]
        raise Unbound(f"no {b.name.replace('_', ' ')} the words describe", "")
    if each:
        return pool
    if len(pool) > 1:  # described by its own words ("the EV charger", "the one delivered on Wednesday"), or
        days = [str(d) for d in ctx.entities.get("dates", [])]  # pointed at ("fix it") and described elsewhere
        for words in dict.fromkeys([ctx.request.text, _described_elsewhere(ctx)]):
            if words and len(described := reading_records.named(words, pool, days)) == 1:
                return [pool[described[0]]]
    if len(pool) > 1 and ctx.latest and b.newest_by:
        return [max(pool, key=lambda r: str(r.get(b.newest_by) or ""))]
    if len(pool) > 1 and (best := reading_records.superlative(ctx.request.text, pool, similar)) is not None:
        return [dict(best)]  # "whichever of your fixed tariffs has the lowest gas unit rate"
    if len(pool) == 1:
        return pool
    raise Unbound(f"which of the customer's {b.name.replace('_', ' ')} is meant", b.ask)


def _matching(pool: list[dict[str, Any]], b: Binding, ctx: Context) -> list[dict[str, Any]]:
    """The records that have one of the values the words give for each of ``must_match`` (the airports and the day
    of "my father's Miami to Chicago flight this evening"); when the words give some and no record has any, the
    words describe another record: ``Unbound``, so that an ``otherwise`` looks elsewhere."""
    for hint in b.must_match:
        values = {str(v).lower() for v in ctx.entities.get(hint, [])}
        if values:
            pool = [r for r in pool if values & set(_scalars(r))]
            if not pool:
                raise Unbound(f"none of the customer's {b.name.replace('_', ' ')} has the {hint} the words give", b.ask)
    return pool


def _described_elsewhere(ctx: Context) -> str:
    """The words of the whole message that deny nothing, for its only request when that points back at something
    its own words do not name ("The EV charger in the garage stopped working. Can someone come out and fix it?")."""
    return language.unnegated(ctx.text) if ctx.alone and language.points_back(ctx.request.text) else ""


def _bind(b: Binding, ctx: Context, resolvers: Mapping[str, Resolver]) -> Any:
    if b.kind == "const":
        return b.value
    if b.kind == "entity":
        # the request's own words first; else the message's, but never from a sentence that asks for nothing to
        # change ("leave my electricity where it is, on Flex")
        found = _given(ctx, b.name)
        if len(set(map(str, found))) == 1:
            return found[0]
        if not found and b.default is not None:
            return b.default
        raise Unbound(f"the {b.name.replace('_', ' ')}" if not found else f"which {b.name.replace('_', ' ')} is meant",
                      b.ask)
    if b.kind == "resolver":
        fn = resolvers.get(b.name)
        if fn is None:
            raise ConfigError(f"recipes: unknown resolver '{b.name}'")
        return fn(ctx)
    if b.kind == "step":
        return "{" + b.field + "}"
    if b.kind == "compute":
        try:
            return expressions.computed(b.name, ctx.snapshot, ctx.bound, b.cap)
        except expressions.NoValue as exc:
            raise Unbound(b.ask or f"the value of {b.name}", b.ask) from exc
    raise ConfigError(f"recipes: unknown binding kind '{b.kind}'")


def _meets(row: Any, b: Binding, ctx: Context) -> bool:
    """Whether a row meets the binding's ``filter`` (none: every row); one naming what is not bound yet keeps
    none."""
    if not b.filter:
        return True
    try:
        return expressions.keeps(b.filter, row, ctx.bound)
    except expressions.NoValue:
        return False


def _steps_for(spec: StepSpec, req: Request, ctx_base: Context, resolvers: Mapping[str, Resolver],
               each: bool, done_actions: list[str], asks: list[str]) -> list[Step]:
    """One step per record chosen (``pick: each`` under "all", each the request names under "both" or with a value
    of its own), args in order."""
    record_args = [(name, b) for name, b in spec.args.items() if b.kind == "record"]
    choices: list[dict[str, Any] | None] = [None]
    unbound: Unbound | None = None
    if record_args:
        name, b = record_args[0]
        try:
            several = any(len({str(v).lower() for v in ctx_base.own.get(h, [])}) > 1 for h in b.narrow_by)
            before = _bound_before(spec, name, ctx_base, resolvers)
            if several and not each and _each_its_own(spec, before, _or_otherwise(b, lambda x: records(
                    x, before, True))[0]):
                each = True  # "electric 12301, gas 5299": each record named with a value of its own
            first = b
            chosen_by, b = _or_otherwise(b, lambda x: records(x, before, each and (
                x.pick == "each" or several and x is first)))  # "when did my second flight land?": a flown one
            choices, record_args[0] = list(chosen_by), (name, b)
        except Unbound as exc:
            unbound = exc
    out = []
    for chosen in choices:
        ctx = replace(ctx_base, bound={})
        args: dict[str, Any] = {}
        gaps: list[Unbound] = [unbound] if unbound is not None else []
        no_record = unbound is not None
        depends = ""
        for name, b in spec.args.items():
            if b.kind == "record":
                if chosen is None:
                    continue
                if b is record_args[0][1] or b.name == record_args[0][1].name:
                    rec = chosen  # the same collection: the record already chosen (a bill, then its late fee)
                else:
                    try:
                        found, b = _or_otherwise(b, partial(_record_of, ctx=ctx, first=record_args[0][1].name,
                                                            chosen=chosen))
                        rec = found[0]
                    except Unbound as exc:
                        gaps.append(exc)
                        no_record = True
                        continue
                ctx.bound["@" + b.name] = rec
                args[name] = _less_excepted(spec.action, name, rec.get(b.field or b.key), ctx, rec)
                ctx.bound[name] = args[name]
                continue
            if b.kind == "step":
                depends = b.name
            if no_record and b.kind == "resolver":
                continue  # a resolver reads the chosen record: nothing to resolve without it
            try:
                args[name] = _said(spec.action, name, b, ctx, chosen) if b.kind == "said" else \
                    _bind(b, ctx, resolvers)
                ctx.bound[name] = args[name]
            except Unbound as exc:
                gaps.append(exc)
                if exc.final:
                    gaps = [exc]
                    break
        if depends and depends not in done_actions:
            depends = ""
        if gaps and is_read(spec.action) and not any(g.ask for g in gaps):
            continue  # a look-up whose record cannot be chosen, and nothing to ask: there is nothing to look up
        final = gaps[0].need if gaps and gaps[0].final else ""
        out.append(Step(spec.action, args, req.intent, spec.why or f"recipe for {req.intent.replace('_', ' ')}",
                        missing="" if final else _together([g.need for g in gaps]), held=final, final=bool(final),
                        depends_on=depends, alternatives=_second_choices(spec, args, ctx)))
        questions = list(dict.fromkeys(g.ask for g in gaps if g.ask))
        if questions:
            asks.append(questions[0] if len(questions) == 1 else " ".join(_as_question(q) for q in questions))
    return out


def _record_of(b: Binding, ctx: Context, first: str, chosen: dict[str, Any]) -> list[dict[str, Any]]:
    """The one record a later binding of a step chooses; of the collection the step's first record came from, that
    record."""
    return [chosen] if b.name == first else records(b, ctx, False)[:1]


def _or_otherwise(b: Binding, choose: Callable[[Binding], list[dict[str, Any]]]
                  ) -> tuple[list[dict[str, Any]], Binding]:
    """The records a binding chooses, else those its ``otherwise`` chooses ("spread the October bill": that bill's
    amount; "spread what I owe": the balance), with the binding that chose them; when none can, the first one's
    reason, unless a later one has a question to ask."""
    reason: Unbound | None = None
    while True:
        try:
            return choose(b), b
        except Unbound as exc:
            reason = exc if reason is None or exc.ask else reason
            if b.otherwise is None:
                raise reason from None
            b = b.otherwise


def _each_its_own(spec: StepSpec, ctx: Context, pool: list[dict[str, Any]]) -> bool:
    """Whether every record the request's words name has a value of its own said beside it ("electric 12301, gas
    5299"), so each is meant, though no "both" or "all" is said."""
    said = [(n, b) for n, b in spec.args.items() if b.kind == "said"]
    if len(pool) < 2 or not said:
        return False
    for n, b in said:
        try:
            values = [str(_said(spec.action, n, b, ctx, r)) for r in pool]
        except Unbound:
            return False
        if len(set(values)) != len(values):
            return False
    return True


def _bound_before(spec: StepSpec, first: str, ctx: Context, resolvers: Mapping[str, Resolver]) -> Context:
    """The context with what the step declares before its first record bound, for that record's ``filter`` to
    name ("the bills with a line of the kind the customer disputes": ``{reason}``)."""
    bound: dict[str, Any] = {}
    out = replace(ctx, bound=bound)
    for name, b in spec.args.items():
        if name == first:
            break
        try:
            bound[name] = _said(spec.action, name, b, out, None) if b.kind == "said" else \
                _bind(b, out, resolvers) if b.kind in ("entity", "const", "compute") else None
        except Unbound:
            continue
        if bound[name] is None:
            bound.pop(name)
    return out


def _field_of(action: str, name: str) -> Any:
    """The declared field of an action's argument (None when the action or the argument is not declared)."""
    spec = REGISTRY.get(action)
    return spec.args_model.model_fields.get(name) if spec is not None else None


def _less_excepted(action: str, name: str, value: Any, ctx: Context, rec: Mapping[str, Any] | None = None) -> Any:
    """A sum taken from a record, less what the customer leaves out of it ("all of it apart from the £12 late
    fee"), or less what a step planned before takes off that record when the words ask for "the rest" ("…the £12
    late fee to come off my October bill. Once it's off, can the rest of the bill be spread…")."""
    field = _field_of(action, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    off = arguments.excepted(arguments.spec_of(name, field), ctx.reading, ctx.request.text) \
        if field is not None and ctx.reading is not None else 0.0
    if not off and rec is not None and language.REMAINDER.search(ctx.request.text):
        keys = _keys(rec)  # the record, or one of its own (the bill of an account's balance), that the step changed
        off = sum(float(st.args["amount"]) for st in ctx.earlier if isinstance(st.args.get("amount"), int | float)
                  and not st.refused and not st.held and any(keys & _keys(r) for v in st.args.values()
                                                             if isinstance(v, str) for r in _rows_with(ctx, v)))
    return round(value - off, 2) if 0 < off < value else value


def _keys(rec: Mapping[str, Any]) -> set[str]:
    """A record's key and the keys of the records it belongs to, never whose it is (the customer's own id)."""
    return {str(v) for k, v in rec.items() if isinstance(v, str) and (k == "id" or k.endswith("_id"))
            and k not in ("customer_id", "user_id")}


def _rows_with(ctx: Context, value: str) -> list[Mapping[str, Any]]:
    """The customer's records whose key is ``value``."""
    return [r for rows in ctx.snapshot.values() if isinstance(rows, list) for r in rows
            if isinstance(r, Mapping) and value in _keys(r)]


def _first_records(recipe: Recipe | None, snap: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The customer's records the first step of a recipe acts on (None when it acts on none)."""
    steps = recipe.steps if recipe is not None else ()
    first = next((b for b in steps[0].args.values() if b.kind == "record"), None) if steps else None
    return None if first is None else [r for r in collection(snap, first.name) if _keeps(r, first.where)]


def _as_can_be_done(req: Request, book: Book, snap: Mapping[str, Any] | None) -> Request:
    """A request to change a record of a kind the customer has none of ("Could an engineer come in the first week
    of January?" read as moving a visit, with no visit booked) is read as the model's next reading of it, when that
    one's records are there."""
    if snap is None or not req.second or req.second not in book.recipes or _first_records(
            book.recipes.get(req.intent), snap) != []:
        return req
    if _first_records(book.recipes[req.second], snap) == []:
        return req
    return req.model_copy(update={"intent": req.second, "second": req.intent})


def _as_asked(req: Request, book: Book) -> Request:
    """A request of a kind that is only answered which also asks, in so many words, for a change ("Can you work
    out which tariff would be cheapest for us and move our gas onto it?") is read as the model's next reading of
    it, when that kind changes something."""
    if req.intent in book.recipes or not req.second or req.second not in book.recipes or all(
            is_read(s.action) for s in book.recipes[req.second].steps):
        return req
    if not any(asks_for_a_change(s) for s in language.sentences(req.text)):
        return req
    return req.model_copy(update={"intent": req.second, "second": req.intent})


def _said(action: str, name: str, b: Binding, ctx: Context, chosen: Mapping[str, Any] | None) -> Any:
    """An argument read from the message by the action's own schema; the chosen record's words pick among several
    values ("electric 12301, gas 5302")."""
    field = _field_of(action, name)
    if field is None or ctx.reading is None:
        raise Unbound(f"the {name.replace('_', ' ')}", b.ask)
    near = " ".join(str(v) for v in (chosen or {}).values() if isinstance(v, str | int | float))
    try:
        now = expressions.evaluate(b.now, dict(ctx.snapshot), ctx.bound) if b.now else None
    except expressions.NoValue:
        now = None
    value, why = arguments.read(arguments.spec_of(name, field), ctx.reading, near, ctx.request.text, now)
    if value is None and b.per and isinstance(total := ctx.bound.get(b.per), int | float):
        value = arguments.parts(ctx.reading, total)  # "no more than £25 a month" of £96.40: 4 parts
    if value is None:
        if b.default is not None:
            return b.default
        if why == arguments.STUCK:  # the only figure said is where a fault left it: no value to give, nor to ask
            raise Unbound(f"the {name.replace('_', ' ')}: the figure said is where it is stuck, a fault", final=True)
        raise Unbound(f"the {name.replace('_', ' ')}" if why == arguments.NOT_FOUND else
                      f"which {name.replace('_', ' ')} is meant", b.ask)
    return value


def _second_choices(spec: StepSpec, args: dict[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The step again with the customer's second choice of a value read from the message ("…Saturday? If you don't
    do weekends, then a week on Tuesday"), tried when the first is refused."""
    action = REGISTRY.get(spec.action)
    if action is None or ctx.reading is None:
        return []
    out = []
    for name, b in spec.args.items():
        field = action.args_model.model_fields.get(name)
        if b.kind != "said" or name not in args or field is None:
            continue
        second = arguments.fallback(arguments.spec_of(name, field), ctx.reading)
        if second is not None and second != args[name]:
            out.append({**args, name: second, **_said_of_day(str(second), spec, args, action, ctx.reading)})
    return out


def _said_of_day(day: str, spec: StepSpec, args: dict[str, Any], action: Any, reading: Any) -> dict[str, Any]:
    """The part of the day said with a second-choice day ("…a Saturday morning? If Saturdays are out, the first
    Friday afternoon"): the choice argument it fills, in place of the first day's."""
    parts = times_of_days(reading.text, reading.written_at.date()).get(day, {}).get("parts", [])
    out = {}
    for name, b in spec.args.items():
        field = action.args_model.model_fields.get(name)
        if b.kind == "said" and name in args and field is not None:
            choices = arguments.spec_of(name, field).choices
            said = [p for p in parts if p in choices]
            if len(said) == 1:
                out[name] = said[0]
    return out


def _together(needs: list[str]) -> str:
    """Every missing fact of a step in one noun phrase: "A", "A and B", "A, B and C"."""
    return listed(list(dict.fromkeys(n for n in needs if n)))


def _as_question(ask: str) -> str:
    """One question of several, as its own sentence: a capital first and a question mark last."""
    ask = ask.strip()
    end = "" if ask.endswith(("?", ".")) else "." if "?" in ask else "?"
    return ask[:1].upper() + ask[1:] + end


_INFO_QUESTION = re.compile(r"^\W*(?:why|what|how|when|where|who|which|is|are|was|were|does|do|did|has|have|had)\b"
                            r"[^?]*\?\s*$", re.I)


def acts(request_text: str) -> bool:
    """Whether a request asks for something to be done, not only to know something (without a Reading): a request
    whose every sentence is a question about the matter ("is it the installation fee?") gets answered."""
    sentences = [x for x in re.split(r"(?<=[.!?])\s+", request_text.strip()) if x.strip()]
    return not sentences or not all(_INFO_QUESTION.match(x) for x in sentences)


def _clauses(reading: Any, intent: str) -> list[Any]:
    return [r for r in reading.requests if r.task_type == intent] if reading is not None else []


def _own_records(entities: dict[str, list[Any]], snap: dict[str, Any] | None) -> dict[str, list[Any]]:
    """A value read as one kind that is the key of one of the customer's own records ("FNG382", a booking code
    shaped like a flight number) names that record: it is read as that record's key, not as the other kind."""
    keys = {str(v).lower(): k for rows in (snap or {}).values() if isinstance(rows, list) for r in rows
            if isinstance(r, dict) for k, v in r.items() if k.endswith("_id") and isinstance(v, str) and len(v) >= 5}
    out = {name: list(values) for name, values in entities.items()}
    for name, values in entities.items():
        for v in values:
            key = keys.get(str(v).lower())
            if key and name not in (key, key + "s") and isinstance(v, str):
                out[name] = [x for x in out[name] if x != v]
                out.setdefault(key, [])
                if v not in out[key]:
                    out[key].append(v)
    return {name: values for name, values in out.items() if values}


def plan(book: Book, triage: Triage, snap: dict[str, Any] | None, today: date, text: str,
         resolvers: Mapping[str, Resolver] | None = None, write_free: Iterable[str] = (), reading: Any = None
         ) -> Plan:
    """A plan for every request of the ticket, in the order the customer asked. The engine's Reading says what the
    words around a request do: a request that only asks to know something gets no write, "all of my…" takes every
    record a ``pick: each`` rule keeps, "my latest…" the newest; what holds or drops a write (a negation, a change
    of mind, a condition, a fallback) is applied to every pack's plan by the engine afterwards
    (``cx_core.reading.guard``)."""
    result = Plan()
    if triage.abstained:
        return result
    resolvers = resolvers or {}
    quiet = set(write_free)
    entities = _own_records(book.entities(text, triage.entities), snap)
    # a word list's values only from the sentences that do not ask to keep something as it is
    said = book.entities(language.unnegated(text), {})
    kept = {k: v for k, v in entities.items() if k not in book.words} | {k: v for k, v in said.items() if k in book.words}
    for n, req in enumerate(triage.requests):
        if (done_as := _as_asked(_as_can_be_done(req, book, snap), book)) is not req:
            # read as what can be done, for every stage after this one (the summary, the reply, the ticket's type)
            triage.requests[n] = done_as
            if triage.task_type == req.intent:
                triage.task_type = done_as.intent
            req = done_as
        recipe = book.recipes.get(req.intent)
        if recipe is None:
            if req.intent not in quiet:
                result.no_action.append(req.intent)
            continue
        if snap is None:
            if req.intent not in quiet and recipe.steps:
                result.questions[req.intent] = ("we could not match your message to an account; please write from "
                                                "the email address on your account or send your reference")
            continue
        clauses = _clauses(reading, req.intent)
        each = any(c.qualifiers.every is not None for c in clauses)
        latest = any(c.qualifiers.latest is not None for c in clauses)
        # the request's own words: its clauses that do not take it back ("switch my gas to Fixed 24; the electric
        # can stay on Flex": the gas and Fixed 24 alone)
        wanted = " ".join(c.sentence.text for c in clauses if c.sentence.text in req.text
                          and c.qualifiers.negated is None and c.qualifiers.withdrawn is None)
        ctx = Context(req, text, entities, snap, today, latest=latest, reading=reading,
                      own=book.entities(language.unnegated(wanted or req.text), {}), kept=kept,
                      alone=len(triage.requests) == 1, earlier=list(result.steps))
        done: list[str] = []
        doing = any(c.kind != "ask" for c in clauses) if clauses else acts(req.text)
        for spec in recipe.steps:
            asks: list[str] = []
            steps = _steps_for(spec, req, ctx, resolvers, each, done, asks)
            if not doing:
                steps = [st for st in steps if is_read(st.action)]
            seen = {(s.action, str(sorted(s.args.items()))) for s in result.steps}
            result.steps.extend(s for s in steps if (s.action, str(sorted(s.args.items()))) not in seen)
            done.append(spec.action)
            if asks and req.intent not in result.questions:
                result.questions[req.intent] = asks[0]
    return result
