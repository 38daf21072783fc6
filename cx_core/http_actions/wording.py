"""What the reply says of a declared action (``actions.yaml``'s ``wording:``), and the words an action gets when
nobody wrote any: built from its label and the arguments that name what it acts on, honest in every state (it
never says an action ran before it did). ``actions import-openapi`` and ``import-mcp`` write these defaults into the
file, so a team edits words rather than starting from nothing. A read says nothing unless its ``facts`` say what
it found."""

from __future__ import annotations

import re
from typing import Any

from ..wording import (
    CONFIRM,
    DONE,
    FAILED,
    FIELD,
    FORMATS,
    PROPOSED,
    REFUSED,
    STATES,
    WAITING,
    Wording,
    claim_pattern,
    lower_first,
    template_fields,
    templated,
)
from .spec import ActionWording

# arguments that say why or how, not what: never in a default sentence
FREE_TEXT = frozenset({"reason", "note", "notes", "comment", "comments", "message", "description", "body", "text",
                       "details", "why", "explanation", "memo", "idempotency_key"})
# whose record it is: the customer knows who they are
WHO = frozenset({"customer_id", "customerid", "user_id", "userid", "account_holder", "owner_id"})
MONEY = re.compile(r"(?:^|_)(?:amount|price|total|fee|fees|cost|credit|refund|balance|charge|sum|value)(?:$|_)")
IDS = re.compile(r"(?:_id|Id|_number|_ref|_reference|_code)$|^(?:id|number|reference|code)$")
DATES = re.compile(r"(?:^|_)(?:date|day)(?:$|_)|_(?:at|on)$")
MOST = 3  # arguments a default sentence names


def label_of(label: str, name: str) -> str:
    """The label a sentence uses: braces taken out (a summary may quote a path) and no closing full stop."""
    text = re.sub(r"[{}]", "", re.sub(r"\s*\{[^{}]*\}", "", label or "")).strip().rstrip(".")
    text = text or name.replace("_", " ").capitalize()
    return " ".join(text.split())


def _words(name: str) -> str:
    """"order_id" → "order", "newDate" → "new date"."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"(?:_id|_number|_ref|_reference|_code)$", "", text, flags=re.I) or text
    return text.replace("_", " ").strip().lower() or name


def shown_field(name: str, prop: dict[str, Any]) -> str:
    """How a default sentence names one argument ("order {order_id}", "amount {amount:money}"); '' for one it
    leaves out (free text, whose record it is, structures)."""
    kind = prop.get("type")
    if name.lower() in FREE_TEXT or name.lower() in WHO or kind == "object":
        return ""
    if kind == "string" and int(prop.get("maxLength") or 0) > 120:
        return ""
    if kind == "array" and (prop.get("items") or {}).get("type", "string") == "object":
        return ""
    if kind in {"number", "integer"} and MONEY.search(name.lower()):
        fmt = ":money"
    elif prop.get("format") in {"date", "date-time"} or DATES.search(name.lower()):
        fmt = ":date"
    elif kind == "array":
        fmt = ":list"
    else:
        fmt = ""
    return f"{_words(name)} {{{name}{fmt}}}"


def key_fields(arguments: dict[str, Any]) -> str:
    """What a default sentence says the action acts on: its first required arguments that name something
    ("order {order_id}, amount {amount:money}")."""
    props = arguments.get("properties") or {}
    required = [r for r in arguments.get("required") or [] if r in props]
    ordered = [n for n in props if n in required]  # in the order the schema lists them
    shown = [f for n in ordered if (f := shown_field(n, props[n] or {}))]
    return ", ".join(shown[:MOST])


def default_templates(label: str, arguments: dict[str, Any], effect: str) -> dict[str, str]:
    """The words of an action nobody wrote any for: what it is (its label) and what it acts on, in each state. A
    read says nothing."""
    if effect == "read":
        return {state: "" for state in STATES}
    what = lower_first(label)
    fields = key_fields(arguments)
    if fields:
        what = f"{what} ({fields})"
    return {
        PROPOSED: f"I've asked a colleague to approve this: {what}. {CONFIRM}",
        WAITING: f"Your request is under way: {what}. {CONFIRM}",
        DONE: f"Done: {what}.",
        REFUSED: f"I wasn't able to do this as asked: {what}. A colleague will look at what we can do instead "
                 "and get back to you.",
        FAILED: f"I haven't been able to confirm this yet: {what}. A colleague will follow it up and get back "
                "to you.",
    }


def written(label: str, arguments: dict[str, Any], effect: str) -> dict[str, Any] | None:
    """The ``wording:`` block an import writes for an action (None for a read, which says nothing until its
    ``facts`` are written)."""
    if effect == "read":
        return None
    return default_templates(label_of(label, ""), arguments, effect)


def ids_of(arguments: dict[str, Any]) -> tuple[str, ...]:
    """The arguments that name the record acted on (what a claim must name to be about this one)."""
    props = arguments.get("properties") or {}
    return tuple(n for n in props if IDS.search(n) and n.lower() not in WHO)


def build(name: str, label: str, arguments: dict[str, Any], effect: str, wording: ActionWording | None
          ) -> Wording:
    """The wording in force for a declared action or tool: what was written, and the defaults for the rest."""
    label = label_of(label, name)
    w = wording or ActionWording()
    defaults = default_templates(label, arguments, effect)
    templates = {state: text if (text := getattr(w, state)) is not None else defaults[state] for state in STATES}
    explicit = {state for state in STATES if getattr(w, state) is not None}
    if w.facts is not None:
        templates[DONE] = w.facts
        explicit.add(DONE)
    claimed = re.compile(r"(?!)") if effect == "read" else claim_pattern(label, w.verbs, w.topic)
    return templated(w.noun or f"the action “{label}”", templates, claimed, ids_of(arguments), frozenset(explicit))


_BRACES = re.compile(r"\{[^{}]*\}?|\}")


def template_problems(wording: ActionWording, where: str, arguments: set[str], read: bool,
                      result: set[str] | None) -> list[tuple[str, str]]:
    """Every field of a ``wording:`` block that names nothing: an unknown argument, a result field the action does
    not return (checked when it declares ``result:``), a result before the action has run, an unknown format."""
    out: list[tuple[str, str]] = []
    if wording.facts is not None and not read:
        out.append((f"{where}.facts", "only a read says what it found; a write says what it did in 'done'"))
    for state in (*STATES, "facts"):
        template = getattr(wording, state)
        if not template:
            continue
        at = f"{where}.{state}"
        for piece in _BRACES.findall(template):
            if not FIELD.fullmatch(piece):
                out.append((at, f"{piece} is not a field: write {{argument}}, {{result.field}} or "
                                "{argument:money}"))
        for path, fmt in template_fields(template):
            root, _, rest = path.partition(".")
            shown = f"{{{path}{':' + fmt if fmt else ''}}}"
            if fmt and fmt.split("(")[0] not in FORMATS:
                out.append((at, f"{shown}: unknown format '{fmt}' (formats: {', '.join(FORMATS)})"))
            if root == "result":
                if state not in {DONE, "facts"}:
                    out.append((at, f"{shown}: there is no result before the action has run (use it in done)"))
                elif not rest:
                    out.append((at, f"{shown} names no field: write {{result.FIELD}}"))
                elif result is not None and rest.split(".")[0] not in result:
                    out.append((at, f"{shown} names no result field (result: {', '.join(sorted(result))})"))
            elif root == "reason":
                if state not in {REFUSED, FAILED}:
                    out.append((at, f"{shown}: only refused and failed have a reason"))
            elif root not in arguments:
                out.append((at, f"{shown} names no argument (arguments: {', '.join(sorted(arguments)) or 'none'})"))
    return out
