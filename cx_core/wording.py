"""What a reply may say about an action, by the action's state, and what a sentence claims was done.

An action's sentence follows its proposal: once executed it says what was done ("I've moved …"); while the
proposal waits for a person it says what happens next and never claims the result ("I'm arranging to move …");
once rejected it is gone, or replaced by what the advisor chose to say; refused or failed after approval it says
what happens instead when the action has words for that. ``claims`` reads any sentence (the agent's, the
advisor's, a language model's) for a statement, in the past or present perfect, that an action was carried out,
so that nothing is sent that says an action ran when it did not.

Actions written in Python carry their wording in ``WORDING``, where each pack's ``wording`` module registers it
when the pack's actions are imported; actions declared as data (``actions.yaml``) carry templates, filled by
``fill`` and registered beside them with ``declare``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .actions.base import REGISTRY, enum_labels, speaks_of
from .domain import _current

# the states a reply sentence can be in: proposed (a person decides), waiting (approved and sent, the system's
# answer to come), done, refused (by the system or policy), failed (not done now), gone (rejected: nothing to say)
PROPOSED, WAITING, DONE, REFUSED, FAILED, GONE = "proposed", "waiting", "done", "refused", "failed", "gone"
STATES = (PROPOSED, WAITING, DONE, REFUSED, FAILED)


def money(x: float) -> str:
    return f"${x:,.2f}"


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "AUD": "A$", "CAD": "C$", "NZD": "NZ$"}


def money_in(x: float, currency: str = "") -> str:
    """An amount as people read it in ``currency`` (the active pack's by default): "$84.20", "€15.00", "84.20 CHF"."""
    if not currency:

        currency = _current[0].locale.currency if _current else "USD"
    code = currency.upper()
    symbol = _SYMBOLS.get(code)
    if code == "JPY":
        return f"¥{x:,.0f}"
    return f"{'-' if x < 0 else ''}{symbol}{abs(x):,.2f}" if symbol else f"{x:,.2f} {code}"


def day(iso: str) -> str:
    """'2026-11-28T08:00' → 'Saturday 28 November at 08:00'."""
    try:
        d = date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    text = d.strftime("%A %d %B").replace(" 0", " ")
    return text + (f" at {iso[11:16]}" if len(iso) > 10 else "")


@dataclass(frozen=True)
class Wording:
    """An action's sentence once done and while it waits; ``noun`` names it in an advisor's instructions and
    ``claimed`` matches a sentence that says it was done. ``proposed`` (a person decides; default: ``waiting``),
    ``refused`` and ``failed`` (after approval: what happens instead) are optional; ``explicit`` names the states
    whose words someone wrote for this action, rather than a default."""

    noun: str
    done: Callable[[dict[str, Any], dict[str, Any], dict[str, str]], str]
    waiting: Callable[[dict[str, Any], dict[str, str]], str]
    claimed: re.Pattern[str]
    ids: tuple[str, ...] = field(default=("order_id",))
    proposed: Callable[[dict[str, Any], dict[str, str]], str] | None = None
    refused: Callable[[dict[str, Any], dict[str, str]], str] | None = None
    failed: Callable[[dict[str, Any], dict[str, str]], str] | None = None
    explicit: frozenset[str] = frozenset()
    how: str = ""  # what happens once it is started, for a customer who asks how ("you'll receive a prepaid label…")


CONFIRM = "I'll confirm by email as soon as it goes through."
# a sentence says an action was done when a first-person or passive perfect/past form carries one of its verbs
_DONE_FORM = (r"(?:\b(?:i|we)\s*(?:'ve|’ve|\s+have|\s+had)?\s+(?:now\s+|just\s+|already\s+|also\s+)?|"
              r"\b(?:has|have|had|'s|’s)\s+(?:now\s+|just\s+|already\s+)?been\s+|\b(?:was|were|is now|are now)\s+|"
              r"\b(?:is|are)\s+(?:now\s+)?(?:fully\s+)?)")


def _claim(verbs: str, topic: str = "") -> re.Pattern[str]:
    """A done-form followed (within the sentence) by one of ``verbs``; with ``topic``, the sentence must also name
    what was acted on (so that "I've updated your ticket" is no claim of a contact-details change)."""
    core = rf"{_DONE_FORM}(?:[\w'’$.,-]+\s+){{0,3}}?(?:{verbs})\b"
    return re.compile(rf"(?=.*{core})(?=.*\b(?:{topic}))" if topic else core, re.I | re.S)


# the wording of the actions written in Python, by name: each pack registers its own (its ``wording`` module,
# imported with its actions); declared actions are added and taken out with ``declare`` and ``forget_declared``
WORDING: dict[str, Wording] = {}


def sentence(action: str, state: str, args: dict[str, Any], result: dict[str, Any] | None = None,
             planned: dict[str, str] | None = None, intent: str = "", reason: str = "") -> str:
    """The reply's sentence for ``action`` in ``state`` (one of ``STATES``, or ``GONE``); '' when the action says
    nothing to the customer in that state (or its arguments are incomplete)."""
    w = WORDING.get(action)
    if w is None or state == GONE:
        return ""
    extra = {**(planned or {}), "intent": intent, "reason": reason}
    try:
        if state == DONE:
            return w.done(args, result or {}, extra)
        if state == WAITING:
            return w.waiting(args, extra)
        if state == PROPOSED:
            return (w.proposed or w.waiting)(args, extra)
        said = w.refused if state == REFUSED else w.failed if state == FAILED else None
        return said(args, extra) if said is not None else ""
    except (KeyError, TypeError, ValueError, IndexError):
        return ""


def offer(action: str, args: dict[str, Any]) -> str:
    """The reply's offer of an action the customer only asked about: "If you would like me to arrange the return
    for order #W1005060, just reply to this message and I'll start it." '' for an action with no words."""
    w = WORDING.get(action)
    if w is None or not w.noun:
        return ""
    if w.how:  # "How do I return it?": how it goes, then the offer
        return (f"I can arrange {w.noun}{_named(w, args)} for you: {w.how}. Just reply to this message if you would "
                "like me to start it.")
    return f"If you would like me to arrange {w.noun}{_named(w, args)}, just reply to this message and I'll start it."


def noun_for(action: str, args: dict[str, Any]) -> str:
    """How a reply names an action on its record ("the shipping address change for order #W1000430"); '' when the
    pack words it not."""
    w = WORDING.get(action)
    return f"{w.noun}{_named(w, args)}" if w is not None and w.noun else ""


def _named(w: Wording, args: dict[str, Any]) -> str:
    return next((f" for {k.removesuffix('_id').replace('_', ' ')} {args[k]}" for k in w.ids if args.get(k)), "")


def also_decided(steps: list[tuple[str, dict[str, Any]]]) -> str:
    """For a case handed to a person: what else of the message they decide ("They will also decide on the warranty
    repair for order #W1001789."), so the reply leaves no request unspoken; '' when nothing else is."""
    nouns = list(dict.fromkeys(f"{w.noun}{_named(w, args)}" for action, args in steps
                               if (w := WORDING.get(action)) is not None and w.noun))
    return f"They will also decide on {listed(nouns)}." if nouns else ""


def has_words(action: str, state: str) -> bool:
    """Whether someone wrote ``action``'s words for ``state`` (not a default)."""
    w = WORDING.get(action)
    return w is not None and state in w.explicit


def split_sentences(text: str) -> list[str]:
    """The sentences of a reply (citation markers kept), one line of the greeting or sign-off each."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"“(])", line) if s.strip())
    return out


def claims(text: str, action: str, strict: bool = False) -> list[str]:
    """The sentences of ``text`` that say ``action`` was carried out. A rule ("once your refund has been issued…")
    is no claim, unless ``strict``: knowledge quoted to a customer is read strictly, since a reader may not see the
    condition."""
    w = WORDING.get(action)
    if w is None:
        return []
    return [s for s in split_sentences(text) if (strict or not (_conditional(s) or _SYMPATHY.search(s)))
            and not _NOT_DONE.search(s) and w.claimed.search(s)]


# "I haven't cancelled anything", "it was not refunded": the claim is denied, not made
_NOT_DONE = re.compile(r"(?:\b(?:not|never|no\s+longer)|n['’]t)\s+(?:(?:yet|been|be|have|has|had|just|actually|"
                       r"already)\s+)*[a-z]+(?:ed|ded|led|unded|ent|ken|ne)\b", re.I)
# "I'm sorry your flight home was cancelled": what happened to the customer, told with sympathy, is nothing done here
_SYMPATHY = re.compile(r"^\W*(?:(?:i\s*['’]?\s*a?m|we\s*['’]?\s*re|we\s+are)\s+(?:so\s+|very\s+|really\s+)?sorry|sorry|"
                       r"(?:i\s*['’]?\s*a?m|we\s*['’]?\s*re)\s+sad)\b(?![,\s]+(?:but|for\s+the\s+wait)\b)", re.I)



def claimed_actions(text: str, strict: bool = False) -> dict[str, list[str]]:
    """Every action some sentence of ``text`` says was done, with those sentences."""

    return {a: found for a in WORDING if speaks_of(a) and (found := claims(text, a, strict))}


def _conditional(s: str) -> bool:
    """'Once your refund has been issued, it takes 5 days' describes a rule, not something done."""
    return bool(re.match(r"^\W*(?:once|when|after|if|as soon as|until|before|whenever)\b", s, re.I))


def names(sentence_text: str, args: dict[str, Any], action: str) -> bool:
    """Whether the sentence names the record this action's arguments point at (its order, invoice, charge…)."""
    w = WORDING.get(action)
    ids = [str(args[k]) for k in (w.ids if w else ()) if args.get(k)]
    return any(i.lower() in sentence_text.lower() for i in ids)


# ------------------------------------------------------------------ templates: the words of actions declared as data
# "{order_id}", "{amount:money}", "{result.fees.0.amount:money}", "{reason}": a field, with an optional format
# "{result.lines:each(description amount:money)}": each row of a list, its fields in order, the rows joined
FIELD = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*(?::\s*([A-Za-z_]+(?:\([A-Za-z0-9_:,. ]*\))?)\s*)?\}")
FORMATS = {"money": "an amount in the pack's currency ($84.20)", "date": "a date as people read it (Saturday 28 "
           "November)", "number": "a number with thousands separators", "list": "items joined (a, b and c)",
           "lower": "in lower case", "each": "each row of a list, by its fields: each(description amount:money)"}
_EACH = re.compile(r"each\(([^()]*)\)")
_TEMPLATE_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9{\"“(])")


class _Missing(Exception):
    """A field a template names that has no value to show: its sentence is left out."""


def template_fields(template: str) -> list[tuple[str, str]]:
    """Every field a template names, as (dotted path, format or '')."""
    return [(m.group(1), m.group(2) or "") for m in FIELD.finditer(template or "")]


def at_path(values: Any, path: str) -> Any:
    """``values`` at a dot path (``customer.id``, ``items.0.sku``); None when it is not there."""
    node = values
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, list) and not part.isdigit():  # "lines.description": that field of every row
            node = [row.get(part) for row in node if isinstance(row, dict) and row.get(part) not in (None, "")]
        else:
            return None
    return node


def listed(items: list[str], last: str = "and") -> str:
    """Items as a sentence names them: "a", "a and b", "a, b and c" (or "a, b or c"); '' for none."""
    return ", ".join(items[:-1]) + f" {last} " + items[-1] if len(items) > 1 else "".join(items)


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.2f}"


def _rows(value: Any, spec: str, currency: str) -> str:
    """Each row of a list by the fields ``spec`` names ("description amount:money" → "Standing charge $12.00"),
    the rows joined ("a, b and c"); a row missing one of them is left out."""
    fields = [f.partition(":") for f in re.split(r"[\s,]+", spec.strip()) if f]
    shown = []
    for row in value if isinstance(value, list) else [value]:
        try:
            shown.append(" ".join(_show(at_path(row, name), fmt, currency) for name, _, fmt in fields))
        except _Missing:
            continue
    if not shown:
        raise _Missing
    return listed(shown)


def _show(value: Any, fmt: str, currency: str) -> str:
    """A value as the reply shows it; ``_Missing`` when there is nothing to show."""
    if (each := _EACH.fullmatch(fmt)) is not None and value not in (None, [], ""):
        return _rows(value, each.group(1), currency)
    if value is None or value == "" or value == [] or isinstance(value, dict):
        raise _Missing
    if isinstance(value, list) or fmt == "list":
        items = [_show(v, "" if fmt == "list" else fmt, currency) for v in (value if isinstance(value, list)
                                                                             else [value])]
        return listed(items)
    if fmt in {"money", "number"}:
        try:
            x = float(value)
        except (TypeError, ValueError) as exc:
            raise _Missing from exc
        return money_in(x, currency) if fmt == "money" else _number(x)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = _number(value)
    else:
        text = " ".join(str(value).split())
    if fmt == "date":
        text = day(text)
    elif fmt == "lower":
        text = text.lower()
    elif fmt:
        raise _Missing  # a format nobody knows (``actions check`` names it)
    if len(text) > 200:
        raise _Missing  # a blob, not a fact a sentence can carry
    return text


NAME_FIELDS = ("name", "label", "title", "display_name")  # what a record calls itself, for people
_CODE_FIELD = re.compile(r"^(?:code|id|key|slug)$|_(?:code|id)$")
NAMED = "name:"  # a planned value's key: an argument's code as the customer's records name it


def names_in(snapshot: Any, depth: int = 0) -> dict[str, str]:
    """Every code in a customer's records that a record names for people: a listed record's code or id (``code``,
    ``id``, ``…_code``, ``…_id``: ``FIX12``, ``FIBRE900``) mapped to its ``name`` ("Fixed 12"), so a reply never
    shows a customer the code. The customer's own profile names the customer, not a code: it is left out."""
    out: dict[str, str] = {}
    if depth > 5:
        return out
    rows = snapshot if isinstance(snapshot, list) else [v for k, v in snapshot.items() if depth or k != "profile"] \
        if isinstance(snapshot, dict) else []
    if isinstance(snapshot, dict) and depth > 1:  # a record of a list (a snapshot's read, then its rows)
        name = next((str(snapshot[k]) for k in NAME_FIELDS if isinstance(snapshot.get(k), str)
                     and snapshot[k].strip()), "")
        for k, v in snapshot.items() if name else ():
            if isinstance(v, str) and v != name and _CODE_FIELD.search(k) and re.fullmatch(r"[A-Za-z0-9_.-]{2,40}", v):
                out.setdefault(v, name)
    for v in rows[:500]:
        if isinstance(v, dict | list):
            for code, name in names_in(v, depth + 1).items():
                out.setdefault(code, name)
    return out


def enum_labels_of(action: str) -> dict[str, dict[str, str]]:
    """What customers call each enum value of an action's arguments (its schema's ``x-enum-labels``), by argument."""
    spec = REGISTRY.get(action)
    out: dict[str, dict[str, str]] = {}
    for name, arg in (spec.args_model.model_fields.items() if spec is not None else ()):
        if labels := enum_labels(arg):
            out[name] = labels
    return out


def shown_as(planned: dict[str, str]) -> dict[str, str]:
    """The arguments' names for people that a step carries in its planned values (``names_in``)."""
    return {k.removeprefix(NAMED): v for k, v in planned.items() if k.startswith(NAMED)}


def fill(template: str, args: dict[str, Any], result: dict[str, Any] | None = None, reason: str = "",
         currency: str = "", names: dict[str, str] | None = None) -> str:
    """A template's text with its fields filled from the action's arguments (``{order_id}``), what it returned
    (``{result.refund_id}``) and why it was refused (``{reason}``). Each sentence of the template stands or goes
    whole: a sentence naming a field with no value is left out, never sent half-written. An argument that is a
    code the customer's records name (``names``: ``FIX12`` → "Fixed 12") is shown by that name."""
    values = {**args, **(names or {}), "result": result or {}, "reason": reason}
    out: list[str] = []
    for part in _TEMPLATE_SENTENCE.split((template or "").strip()):
        try:
            out.append(FIELD.sub(lambda m: _show(at_path(values, m.group(1)), m.group(2) or "", currency), part))
        except _Missing:
            continue
    return " ".join(s for s in out if s.strip())


def _past(verb: str) -> str:
    """A pattern for the past forms of a verb ("refund" → "refunded", "send" → "sent", "cancel" → "cancelled")."""
    irregular = {"send": "sent", "resend": "re-?sent", "make": "made", "set": "set", "reset": "reset",
                 "pay": "paid", "give": "given|gave", "take": "taken|took", "put": "put", "hold": "held",
                 "buy": "bought", "get": "got|gotten", "find": "found", "leave": "left", "keep": "kept",
                 "write": "written|wrote", "tell": "told", "bring": "brought", "run": "run|ran", "do": "done|did"}
    verb = verb.lower()
    if verb in irregular:
        return irregular[verb]
    if verb.endswith("e"):
        return re.escape(verb) + "d"
    if re.search(r"[^aeiou]y$", verb):
        return re.escape(verb[:-1]) + "ied"
    return re.escape(verb) + re.escape(verb[-1]) + "?ed"


_LABEL_STOP = frozenset("a an the of to for on in at by from with and or your my our their its this that new "
                        "one some all any".split())


def claim_pattern(label: str, verbs: list[str] | None = None, topic: list[str] | None = None) -> re.Pattern[str]:
    """What a sentence that says a declared action was done looks like: a done-form of one of ``verbs`` (default:
    the past of the label's first word, "Refund an order" → "refunded") naming the ``topic`` (default: the label's
    other words), or the default done sentence ("Done: refund an order …")."""
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", label)
    if verbs is None:
        verbs_rx = _past(words[0]) if words else ""
    else:
        verbs_rx = "|".join(re.escape(v.strip()) for v in verbs if v.strip())
    if topic is None:
        nouns = [w.lower() for w in words[1:] if w.lower() not in _LABEL_STOP and len(w) > 2]
        topic_rx = "|".join(re.escape(n[:-1] if n.endswith("s") and len(n) > 4 else n) for n in nouns)
    else:
        topic_rx = "|".join(re.escape(t.strip()) for t in topic if t.strip())
    done = rf"^\W*done\s*:\s*{re.escape(lower_first(label))}" if label else r"(?!)"
    if not verbs_rx:
        return re.compile(done, re.I | re.S)
    return re.compile(rf"(?:{_claim(verbs_rx, topic_rx).pattern})|(?:{done})", re.I | re.S)


def lower_first(label: str) -> str:
    """A label inside a sentence: "Refund an order" → "refund an order"; "MCP lookup" and "PayPal refund" stay."""
    first = label.split(" ", 1)[0]
    if len(first) > 1 and (first.isupper() or any(c.isupper() for c in first[1:])):
        return label
    return label[:1].lower() + label[1:]


def templated(noun: str, templates: dict[str, str], claimed: re.Pattern[str], ids: tuple[str, ...] = (),
              explicit: frozenset[str] = frozenset(), currency: str = "") -> Wording:
    """The wording of an action declared as data: one template per state (``STATES``), filled by ``fill``."""

    def state(name: str) -> Callable[[dict[str, Any], dict[str, str]], str]:
        return lambda a, p: fill(templates.get(name) or "", a, None, p.get("reason", ""), currency, shown_as(p))

    return Wording(noun, lambda a, r, p: fill(templates.get(DONE) or "", a, r, p.get("reason", ""), currency,
                                              shown_as(p)),
                   state(WAITING), claimed, ids, proposed=state(PROPOSED), refused=state(REFUSED),
                   failed=state(FAILED), explicit=explicit)


# the declared actions' wording in force, with what each replaced (None: nothing), so a reload puts it back
_DECLARED: dict[str, Wording | None] = {}


def declare(name: str, wording: Wording) -> None:
    """Puts a declared action's wording in force beside the pack's own."""
    if name not in _DECLARED:
        _DECLARED[name] = WORDING.get(name)
    WORDING[name] = wording


def forget_declared() -> None:
    """Takes every declared action's wording out (the actions file is being read again)."""
    for name, before in _DECLARED.items():
        if before is None:
            WORDING.pop(name, None)
        else:
            WORDING[name] = before
    _DECLARED.clear()
