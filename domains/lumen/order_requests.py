"""Reads what a customer wants done with their orders — return, exchange, change items, cancel, change an
address — item by item, grounded in their own records: which of their items each phrase names, which option
of the same product the words describe, which payment method they named. Whatever it cannot settle with
certainty (a condition, a change of mind, an item it cannot tell apart, an option two variants share) makes
the whole reading unsure, and a person decides: precision before coverage.

The catalogue's words (other names customers use for products, words that name none on their own, synonyms of
option values, size words) are data, read once from ``catalogue.yaml`` beside this file; the words of the
language (numbers, "everything", "except", verbs) are here."""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cx_core.entities import find_address
from cx_core.errors import ConfigError

ORDER_INTENTS = {"return_refund", "damaged_item", "exchange", "order_cancel", "address_change"}

_VERB = re.compile(r"\b(return|exchange|swap|switch|change|modify|upgrade|downgrade|replace|cancel|adjust|update|"
                   r"send back|ship (?:it|them|order|my order)?\s*to)\w*", re.I)
_NEGATED = re.compile(r"(?:\bnot|\bnever|n't|\bnor)\s+(?:\w+\s+){0,2}$", re.I)
_CONDITION = re.compile(r"\b(?:if|unless|otherwise|in case|whether|once|as long as|provided)\b", re.I)
_PREFERENCE = re.compile(r"\bif\b[^.]*\b(?:multiple|several|both|more than one|many)\b[^.]*\b(?:available|options?)\b"
                         r"[^.,]*,\s*(?:you |i )?(?:would )?(?:prefer|like|want|choose|pick)\b", re.I)
_MIND = re.compile(r"\b(?:regrets?|change (?:your|my|his|her) mind|changes? (?:it|them) back|back to the original|"
                   r"undo|reverse|then decide|later decide|on second thought|initially|eventually|indecisive|"
                   r"undecided|at first)\b", re.I)
# the customer asks about something without wanting it done yet
_HOLD = re.compile(r"\b(?:not sure yet|don'?t process|do not process|don'?t do anything|do not do anything|"
                   r"hold off|wait before|(?:just|only) (?:check|ask)\w*)\b", re.I)
_HINT = re.compile(r"\bwhich ([a-z][a-z -]*?)\b[^,]*,\s*(?:it is|it's|they are|mention|say)\b(.*)", re.I)
_ACTIONISH = re.compile(r"\b(?:return|exchange|swap|switch|change|modify|upgrade|cancel|refund|keep|proceed|"
                        r"transfer|do|go (?:for|with)|get|use|pay|buy|order|remove|add)\w*\b", re.I)
_QUESTION = re.compile(r"^\s*(?:you (?:also )?(?:want|would like|wish) to (?:know|check|ask|confirm|find out|"
                       r"inquire)|ask\b|you wonder|what|how|which|when|is|are|can|could)\b", re.I)
_ASKING = re.compile(r"^\s*(?:how|what|when|where|why|which|is|are|does|do|will)\b[^?]*\?\s*$", re.I)
_PAIR = re.compile(r"([A-Za-z][\w-]*(?: [A-Za-z][\w-]*){0,3})\s*(\{[^{}]*\})\s*(?:to|for|into)\b[^{}]*?(\{[^{}]*\})")
_RELATIVE = re.compile(r"\b(?:bigger|smaller|larger|lower|higher|less|more(?! expensive)|fewer|fewest|maximum|"
                       r"minimum|max|min|fancier|fancy|better|faster|slower|cheaper|longer|shorter|brighter|"
                       r"lighter|heavier|upgrade|downgrade|similar|or above|or below|at least|at most|"
                       r"different|taller|wider|narrower|thinner|thicker|newer|older|warmer|cooler|stronger|"
                       r"weaker|quieter|louder|closer|nicer)\b", re.I)
_ALL = re.compile(r"\b(?:everything|all (?:the |of the |my |your )?(?:items|things|of it|of them)|"
                  r"(?:whole|entire) order|all (?:that|i|you) (?:ordered|bought|received))\b", re.I)
_ALL_PENDING = re.compile(r"\ball (?:of )?(?:my |your |the )?(?:possible |current )?(?:pending |open )?orders?\b", re.I)
_EXCEPT = re.compile(r"\b(?:except(?: for)?|but not|other than|apart from|besides|excluding|but (?:keep|leave))\b",
                     re.I)
_ITEM_ID = re.compile(r"(?<![\d#W])\d{10}(?!\d)")
_DICT = re.compile(r"\{[^{}]*\}")
_METHOD_ID = re.compile(r"\b(?:credit_card|gift_card|paypal)_\d+\b")

# words of the language, not of the catalogue: they never name a product on their own either
_FUNCTION_WORDS = {"the", "and"}
_NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
            "nine": "9", "ten": "10"}
_METHOD_WORDS = [("gift_card", r"gift ?cards?|\bgc\b"), ("paypal", r"pay ?pal"),
                 ("credit_card", r"credit ?cards?|\bvisa\b|master ?card|\bamex\b|american express|(?<!gift )(?<!gift)\bcard\b")]


# Lumen's product and option words (aliases, generic words, option synonyms, sizes); tests point this elsewhere
CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")
_SECTIONS = ("aliases", "generic_words", "option_values", "sizes", "size_order")


@dataclass(frozen=True)
class Catalogue:
    """The words customers use for the catalogue's products and options, as read from the pack's catalogue file."""

    aliases: dict[str, tuple[str, ...]]  # product name → other names of it
    generic: frozenset[str]  # words of product names that do not name a product on their own
    value_words: dict[str, tuple[str, ...]]  # option value → other words for it
    size_words: dict[str, str]  # "extra large" → "XL"
    size_order: tuple[str, ...]  # size codes, smallest first
    size_pattern: str  # a size word or code followed by "size"/"sized" ("medium sized", "xl size")


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML whose mappings refuse a repeated key (plain YAML keeps the last one without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: the base class says so
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} appears twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _word(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: {where}: expected a word, got {value!r} (quote words such as \"no\" or \"8\")")
    return value.strip()


def _words(path: Path, where: str, value: Any, lower: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {where}: expected a list of words like [a, b], got {value!r}")
    words = (_word(path, f"{where}[{i}]", w) for i, w in enumerate(value))
    return tuple(w.lower() if lower else w for w in words)


def _mapping(path: Path, where: str, value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {where}: expected a mapping of word: value, got {value!r}")
    return value


def load_catalogue(path: Path) -> Catalogue:
    """Reads and checks a catalogue file; anything wrong raises ``ConfigError`` naming the file and the key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: catalogue file cannot be read ({exc.strerror or exc})") from exc
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}{where}: {problem}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected the sections {', '.join(_SECTIONS)}")
    unknown = [str(k) for k in raw if k not in _SECTIONS]
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: not a section (the sections are {', '.join(_SECTIONS)})")
    missing = [k for k in _SECTIONS if k not in raw]
    if missing:
        raise ConfigError(f"{path}: {missing[0]}: section missing")
    aliases = {_word(path, "aliases", k).lower(): _words(path, f"aliases.{k}", v)
               for k, v in _mapping(path, "aliases", raw["aliases"]).items()}
    generic = _words(path, "generic_words", raw["generic_words"])
    for i, w in enumerate(generic):
        if not re.fullmatch(r"[a-z]+", w):
            raise ConfigError(f"{path}: generic_words[{i}]: {w!r} is not a single word of letters")
    values = {_word(path, "option_values", k).lower(): _words(path, f"option_values.{k}", v)
              for k, v in _mapping(path, "option_values", raw["option_values"]).items()}
    order = _words(path, "size_order", raw["size_order"], lower=False)  # codes as the options write them
    sizes = {_word(path, "sizes", k).lower(): _word(path, f"sizes.{k}", v)
             for k, v in _mapping(path, "sizes", raw["sizes"]).items()}
    for word, code in sizes.items():
        if code not in order:
            raise ConfigError(f"{path}: sizes.{word}: {code!r} is not in size_order")
    names = sorted(set(sizes) | {c.lower() for c in sizes.values()}, key=lambda w: (-len(w), w))
    pattern = rf"\b({'|'.join(re.escape(n) for n in names)})(?: |-)?sized?\b|\bsize (?:of )?([a-z0-9.]+)\b"
    return Catalogue(aliases, frozenset(generic), values, sizes, order, pattern)


@functools.cache
def catalogue() -> Catalogue:
    """The pack's catalogue words, read once from ``CATALOGUE_FILE`` (``catalogue.cache_clear()`` reads it again)."""
    return load_catalogue(CATALOGUE_FILE)


@dataclass
class Reading:
    """What the text asks for: typed steps ready for ``execute`` (action, args, why), or why it is unsure."""

    steps: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    unsure: str = ""
    found: bool = False  # the text asks for something done with an order at all


class Unsure(Exception):
    pass


def _norm(text: str) -> str:
    t = text.lower().replace("’", "'")
    for word, digit in _NUMBERS.items():
        t = re.sub(rf"\b{word}(?=[- ](?:piece|inch|foot|feet|ft|bar|liters?|cups?)\b)", digit, t)
    t = re.sub(r"(\d)\s*(?:foot|feet)\b", r"\1 ft", t)
    return t


def _flat(text: str) -> str:
    return re.sub(r"[^a-z0-9%.+]+", " ", _norm(text)).strip()


def _has(text: str, phrase: str) -> bool:
    return bool(re.search(rf"(?<![a-z0-9]){re.escape(_flat(phrase))}(?![a-z0-9])", _flat(text)))


def _names_for(product: str) -> tuple[list[str], list[str]]:
    """Strong names (the full name and its aliases) and weak ones (a distinctive single word) of a product."""
    name = product.lower()
    strong = [name, name.replace("-", ""), name.replace("-", " ")]
    cat = catalogue()
    strong += list(cat.aliases.get(name, ()))
    words = re.findall(r"[a-z]+", name)
    weak = []
    if words:
        head = words[-1]
        if head not in cat.generic and head not in _FUNCTION_WORDS:
            weak += [head, head.rstrip("s"), head + "s", head + "es"]
        if words[0] not in cat.generic and words[0] not in _FUNCTION_WORDS and len(words) > 1:
            weak.append(words[0])
    return strong, [w for w in weak if len(w) > 2]


def _mention_strength(text: str, product: str) -> int:
    strong, weak = _names_for(product)
    if any(_has(text, n) or _has(text, n + "s") for n in strong):
        return 2
    return 1 if any(_has(text, w) for w in weak) else 0


def _plural(text: str, product: str) -> bool:
    """The text speaks of several of this product ("both", "two", "all", or the plural name)."""
    strong, weak = _names_for(product)
    flat = _flat(text)
    if not product.lower().endswith("s") and any(a.endswith("s") and _has(text, a) for a in strong[3:]):
        return True  # "bookshelves"
    for n in strong + weak:
        n = _flat(n)
        if n.endswith("s") or not n:
            continue
        if re.search(rf"(?<![a-z0-9]){re.escape(n)}(?:s|es)(?![a-z0-9])", flat) or re.search(
                rf"\b(?:both|two|three|all|these|them)\b(?: [a-z]+){{0,3}} {re.escape(n)}", flat):
            return True
    return False


def _split_sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?;])\s+|\n+|\s+(?=(?:also|lastly|finally|then|and then|additionally)\b,?\s)", text,
                     flags=re.I)
    out: list[str] = []
    for part in (p.strip(" .") for p in parts if p and p.strip(" .")):
        if out and out[-1].endswith(";") and not _VERB.search(part) and (
                ":" in out[-1] or re.match(r"(?:via|using|with|paid with|pay with)\b", part, re.I)):
            out[-1] = out[-1][:-1] + ", " + part  # "Return #W…: Kettle; Wall Clock;" is one list, "…; via X" one request
        else:
            out.append(part)
    return out


def _sentence_ops(sentence: str) -> list[tuple[str, str]]:
    """The (verb, segment) pairs of a sentence: each verb with the words up to the next verb."""
    hits = []
    for m in _VERB.finditer(sentence):
        if _NEGATED.search(sentence[: m.start()][-40:]):
            continue
        hits.append(m)
    out = []
    for i, m in enumerate(hits):
        end = hits[i + 1].start() if i + 1 < len(hits) else len(sentence)
        out.append((m.group(1).lower(), sentence[m.start(): end]))
    return out


@dataclass
class _Item:
    order: dict[str, Any]
    item: dict[str, Any]


def _eligible(snap: dict[str, Any], statuses: tuple[str, ...], order_ids: list[str]) -> list[_Item]:
    own = [o for o in snap["orders"] if o["status"] in statuses]
    if order_ids:
        own = [o for o in own if o["order_id"] in order_ids]
    return [_Item(o, i) for o in own for i in o["items"] if i.get("status", "ordered") == "ordered"]


def _option_words(item: dict[str, Any], text: str) -> int:
    """How many of the item's own option values the text names (to tell two items of one product apart)."""
    n = 0
    for value in item["options"].values():
        v = str(value)
        if len(v) <= 3 and (v.isupper() or v.isdigit()):
            n += bool(re.search(rf"\bsize {re.escape(v.lower())}\b|\b{re.escape(v.lower())} size\b", _flat(text)))
            n += any(code == v and _has(text, w) for w, code in catalogue().size_words.items())
        elif v.lower() not in {"yes", "no", "none"}:
            n += _has(text, v)
    return n


def _narrow(matches: list[_Item], head: str, name: str, hints: list[tuple[str, str]]) -> list[_Item]:
    """Among several items of one product, the one the words describe (status, options, a hint), or all."""
    if re.search(r"\bpending\b|\b(?:just )?(?:ordered|placed)\b", head, re.I):
        matches = [x for x in matches if x.order["status"].startswith("pending")] or matches
    elif re.search(r"\b(?:received|delivered|got)\b", head, re.I):
        matches = [x for x in matches if x.order["status"] == "delivered"] or matches
    if len({x.item["item_id"] + x.order["order_id"] for x in matches}) <= 1:
        return matches
    described = head + " " + " ".join(h for what, h in hints if _mention_strength(what, name))
    scores = [_option_words(x.item, described) for x in matches]
    best = max(scores)
    if best and scores.count(best) == 1:
        return [matches[scores.index(best)]]
    return matches


def _resolve_items(segment: str, pool: list[_Item], allow_all: bool = True,
                   hints: list[tuple[str, str]] | None = None) -> list[_Item]:
    """Items of ``pool`` that the segment names; raises ``Unsure`` when a name fits several items."""
    include, exclude = segment, ""
    if _EXCEPT.search(segment):
        parts = _EXCEPT.split(segment, maxsplit=1)
        include, exclude = parts[0], parts[1]
    names = sorted({x.item["name"] for x in pool})
    excluded = {n for n in names if _mention_strength(exclude, n)} if exclude else set()
    if exclude and not excluded:
        raise Unsure(f"the exception “{exclude.strip()[:40]}” does not name an item of the order")
    if allow_all and _ALL.search(include):
        orders = {x.order["order_id"] for x in pool}
        if len(orders) != 1:
            raise Unsure("“everything” fits more than one order; the order number is needed")
        return [x for x in pool if x.item["name"] not in excluded]
    if not any(_mention_strength(include, n) for n in names):
        orders = {x.order["order_id"] for x in pool}
        if len(orders) == 1 and len(pool) == 1 and re.search(r"\b(?:it|this|that|the item|my order)\b", include, re.I):
            return pool  # "return it" about an order with a single item
        return []
    strengths = {n: _mention_strength(include, n) for n in names}
    best = max(strengths.values())
    chosen_names = [n for n, v in strengths.items() if v == best]
    if best == 1 and len(chosen_names) > 1:
        raise Unsure(f"“{include.strip()[:60]}” could be any of: {', '.join(chosen_names)}")
    head = re.split(r"\b(?:to|into|for a|for an|for the|for one)\b", include, maxsplit=1)[0]
    groups = {n: [x for x in pool if x.item["name"] == n] for n in chosen_names}
    if re.search(r"\b(?:same|one) order\b", include, re.I) and len(chosen_names) > 1:
        common = set.intersection(*({x.order["order_id"] for x in g} for g in groups.values()))
        if len(common) == 1:
            groups = {n: [x for x in g if x.order["order_id"] in common] for n, g in groups.items()}
    chosen = []
    for n, matches in groups.items():
        if len(matches) > 1 and _plural(include, n):  # "all my small t-shirts": those the options describe
            scores = [_option_words(x.item, head) for x in matches]
            matches = [x for x, sc in zip(matches, scores, strict=True) if sc == max(scores)]
        elif len(matches) > 1:
            matches = _narrow(matches, head, n, hints or [])
            if len(matches) > 1:
                raise Unsure(f"the customer has more than one {n}; which one is meant is not clear")
        chosen += matches
    return chosen


def _mentions_any(text: str, snap: dict[str, Any]) -> bool:
    return any(_mention_strength(text, i["name"]) for o in snap["orders"] for i in o["items"])


def _dict_pairs(text: str, snap: dict[str, Any], order_ids: list[str]) -> list[tuple[_Item, dict[str, Any]]]:
    """"Product {options} to {options}" pairs: the item with exactly the first options, changed to the variant
    with the second (options not named stay as they are)."""
    out: list[tuple[_Item, dict[str, Any]]] = []
    used: set[tuple[str, int]] = set()
    for m in _PAIR.finditer(text):
        current, wanted = _dicts(m.group(2))[0], m.group(3)
        before = re.split(r"(?<=[.;!?])\s+|\n", text[: m.start()])[-1]
        sentence_orders = [o for o in order_ids if o.lstrip("#") in before]
        pool = _eligible(snap, ("delivered", "pending"), sentence_orders[-1:] or order_ids)
        fits = [x for x in pool if _mention_strength(m.group(1), x.item["name"]) == 2
                and all(str(_lower_keys(x.item["options"]).get(k, "")).lower() == v.lower() for k, v in current.items())
                and (x.order["order_id"], id(x.item)) not in used]
        if len({x.order["order_id"] for x in fits}) != 1:
            raise Unsure(f"the {m.group(1).strip()} with those options is not on exactly one order")
        x = fits[0]
        used.add((x.order["order_id"], id(x.item)))
        out.append((x, _target_variant(wanted, x.item, x.order["variants"].get(x.item["item_id"], []))))
    return out


def _lower_keys(options: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in options.items()}


def _dicts(segment: str) -> list[dict[str, str]]:
    out = []
    for m in _DICT.finditer(segment):
        try:
            value = ast.literal_eval(m.group(0))
        except (ValueError, SyntaxError):
            raise Unsure("an option list in the message could not be read") from None
        if isinstance(value, dict):
            out.append({str(k).lower(): str(v) for k, v in value.items()})
    return out


def _wanted_options(spec: str, item: dict[str, Any], variants: list[dict[str, Any]]) -> dict[str, str]:
    """Option values the words ask for (a key → one value); raises ``Unsure`` on words it cannot place."""
    for phrase in re.findall(r"\b(?:do not|don't|doesn't|does not) care (?:about|for) (?:the )?([a-z ]+?)"
                             r"(?: or not)?(?=[,.;]|$| and\b)", _norm(spec)):
        spec = re.sub(re.escape(phrase), " ", _norm(spec))
    name_words = set(re.findall(r"[a-z]+", item["name"].lower()))
    text = " ".join(w for w in _flat(spec).split() if w not in name_words)
    keys: dict[str, set[str]] = {}
    for v in variants:
        for k, x in v["options"].items():
            keys.setdefault(k, set()).add(str(x))
    wanted: dict[str, set[str]] = {}
    cat = catalogue()
    size_key = next((k for k in keys if k.lower() == "size"), None)
    if size_key:  # "medium sized", "size 8", "s size": the size, before the same words can mean anything else
        for m in list(re.finditer(cat.size_pattern, text)):
            word = (m.group(1) or m.group(2) or "").lower()
            code = cat.size_words.get(word, word)
            value = next((v for v in keys[size_key] if v.lower() in {word, code.lower()}), None)
            if value is not None:
                wanted.setdefault(size_key, set()).add(value)
                text = text.replace(m.group(0), " ")
    for key, values in keys.items():
        for value in values:
            low = value.lower()
            if low in {"yes", "no", "none"}:
                if low in {"no", "none"} and re.search(rf"\b(?:no|without|non|not)\s*{re.escape(_flat(key))}\b",
                                                        text):
                    wanted.setdefault(key, set()).add(value)
                elif low == "yes" and _has(text, key) and not re.search(
                        rf"\b(?:no|without|non|not)\s*{re.escape(_flat(key))}\b", text):
                    wanted.setdefault(key, set()).add(value)
                continue
            short = (value.isalpha() and value.isupper() and len(value) <= 3) or value.isdigit()
            if short:  # a size letter or a bare number only counts next to the word "size"
                if re.search(rf"\bsize (?:of )?{re.escape(low)}\b|\b{re.escape(low)} size\b", text):
                    wanted.setdefault(key, set()).add(value)
                continue
            if _has(text, value) or any(_has(text, w) for w in cat.value_words.get(low, ())):
                wanted.setdefault(key, set()).add(value)
        if "size" in key.lower() and not wanted.get(key) and key != size_key:
            for word, code in cat.size_words.items():
                if code in values and _has(text, word):
                    wanted.setdefault(key, set()).add(code)
    known = {_flat(str(x)) for vals in keys.values() for x in vals}
    for amount in re.findall(r"\b\d+(?:\.\d+)?\s?(?:gb|tb|mb|inch|inches|ft|ml|l|mah|mp|x|bar|hours?|w|lbs|mm|cups?|"
                             r"liters?|pieces?|piece|degrees|%)(?![a-z])", text):
        if not any(_flat(amount).replace(" ", "") in k.replace(" ", "") for k in known):
            raise Unsure(f"“{amount}” is not an option of the {item['name']}")
    out: dict[str, str] = {}
    for key, vals in wanted.items():
        if len(vals) == 1:
            out[key] = next(iter(vals))
            continue
        new = [v for v in vals if v != str(item["options"].get(key))]
        if len(new) != 1:
            raise Unsure(f"the message names several {key} options")
        out[key] = new[0]
    for key in keys:
        if key in out:
            continue
        mentioned = _has(text, key) or _has(text, key.split()[-1]) and len(key.split()[-1]) > 3
        kept = re.search(rf"\b(?:same|keep(?:ing)?(?: the)?|current|existing)\s+(?:\w+\s+)?{re.escape(_flat(key))}",
                         text)
        if mentioned and not kept:
            raise Unsure(f"the message speaks of the {key} without a value that can be matched")
    return out


def _target_variant(spec: str, item: dict[str, Any], variants: list[dict[str, Any]]) -> dict[str, Any]:
    """The one option of the same product the words describe; raises ``Unsure`` otherwise."""
    by_id = {v["item_id"]: v for v in variants}
    ids = [i for i in _ITEM_ID.findall(spec) if i in by_id and i != item["item_id"]]
    if len(set(ids)) == 1:
        return by_id[ids[0]]
    if ids:
        raise Unsure("several item numbers are given for one item")
    dicts = _dicts(spec)
    soft: dict[str, str] = {}
    extreme: re.Match[str] | None = None
    extreme_key: str | None = None
    cheapest = bool(re.search(r"\b(?:cheapest|least expensive|lowest price)\b", spec, re.I))
    dearest = bool(re.search(r"\b(?:most expensive|priciest|highest price)\b", spec, re.I))
    if dicts and not dicts[-1]:  # "to {}": the same options, an identical replacement
        identical = by_id.get(item["item_id"])
        if identical is None or not identical["available"]:
            raise Unsure(f"the same {item['name']} is not available for a replacement")
        return identical
    if dicts:
        wanted = dicts[-1]
        keys = {k.lower(): k for v in variants for k in v["options"]}
        if any(k not in keys for k in wanted):
            raise Unsure("an option in the message is not one this product has")
        wanted = {keys[k]: v for k, v in wanted.items()}
        free: set[str] = set()
    else:
        spec_wo = re.sub(r"\b(?:cheapest|least expensive|lowest price|most expensive|priciest|highest price)\b",
                         " ", spec, flags=re.I)
        step = re.search(r"\b(?:one|a) size (smaller|bigger|larger|up|down)\b", spec_wo, re.I)
        size_key = next((k for k in item["options"] if k.lower() == "size"), None)
        sizes = catalogue().size_order
        if step and size_key and str(item["options"][size_key]) in sizes:
            at = sizes.index(str(item["options"][size_key])) + (1 if step.group(1).lower() in
                                                                {"bigger", "larger", "up"} else -1)
            if not 0 <= at < len(sizes):
                raise Unsure("there is no size beyond the current one")
            spec_wo = spec_wo.replace(step.group(0), f" size {sizes[at]} ")
        extreme = re.search(r"\b(maximum|max|highest|largest|biggest|minimum|min|lowest|smallest|fewest)\s+"
                            r"([a-z][a-z ]*?)(?= capacity\b|[,.;]|$| and\b| but\b| with\b)", _norm(spec_wo))
        extreme_key = next((k for k in item["options"] if extreme and _flat(k) in _flat(extreme.group(2))), None)
        if extreme and extreme_key:
            spec_wo = re.sub(re.escape(extreme.group(0)), " ", _norm(spec_wo), count=1)
        relative = _RELATIVE.search(spec_wo)
        if relative:
            raise Unsure(f"“{relative.group(0)}” needs a person to compare the options")
        parts = re.split(r"\b(?:prefer(?:ably|ring|s|red)?|ideally|if possible)\b", spec_wo, maxsplit=1)
        hard, soft_text = parts[0], (parts[1] if len(parts) > 1 else "")
        wanted = _wanted_options(hard, item, variants)
        soft = _wanted_options(soft_text, item, variants) if soft_text.strip() else {}
        free = set(item["options"]) - set(wanted) if (cheapest or dearest) else set()
        free |= set(soft) - set(wanted)
        if extreme and extreme_key:
            free.add(extreme_key)
        same = {k for k in item["options"] if re.search(
            rf"\b(?:same|keep(?:ing)?(?: the)?)\s+(?:\w+\s+)?{re.escape(_flat(k))}", _flat(spec))}
        free -= same
        if not wanted and not (cheapest or dearest or extreme_key):
            raise Unsure("the new option is not described")
    fits = [v for v in variants if v["available"] and v["item_id"] != item["item_id"]
            and all(str(v["options"].get(k, "")).lower() == str(x).lower() for k, x in wanted.items())]
    if not fits:
        raise Unsure(f"no available {item['name']} has the options asked for")
    # options the customer did not speak of stay as they are, as far as the catalogue allows
    kept = [sum(str(v["options"].get(k)) == str(item["options"].get(k)) for k in item["options"]
                if k not in wanted and k not in free) for v in fits]
    fits = [v for v, n in zip(fits, kept, strict=True) if n == max(kept)]
    if not dicts and soft:
        preferred = [v for v in fits if all(str(v["options"].get(k)) == x for k, x in soft.items()
                                            if k not in wanted)]
        fits = preferred or [v for v in fits if all(str(v["options"].get(k)) == str(item["options"].get(k))
                                                     for k in soft if k not in wanted)] or fits
    if not dicts and extreme and extreme_key:
        def number(v: dict[str, Any]) -> float:
            found = re.search(r"\d+(?:\.\d+)?", str(v["options"].get(extreme_key, "")))
            if not found:
                raise Unsure(f"the {extreme_key} options cannot be compared")
            return float(found.group(0))
        top = max if extreme.group(1).lower() in {"maximum", "max", "highest", "largest", "biggest"} else min
        best = top(number(v) for v in fits)
        fits = [v for v in fits if number(v) == best]
    if cheapest or dearest:
        fits.sort(key=lambda v: v["price"], reverse=dearest)
        if len(fits) > 1 and fits[0]["price"] == fits[1]["price"]:
            raise Unsure("two options share the price asked for")
        return fits[0]
    if len(fits) > 1:
        raise Unsure(f"{len(fits)} options of the {item['name']} fit the description")
    return fits[0]


def _method_ids(text: str, snap: dict[str, Any]) -> list[str]:
    """Payment method ids written out (``gift_card_7219486``); raises ``Unsure`` for one that is not the
    customer's."""
    own = {str(m["id"]) for m in snap.get("payment_methods", [])}
    found = list(dict.fromkeys(_METHOD_ID.findall(text)))
    strangers = [m for m in found if m not in own]
    if strangers:
        raise Unsure(f"payment method {strangers[0]} is not on the customer's account")
    return found


def _payment(text: str, snap: dict[str, Any]) -> str | None:
    """The payment method the customer named, None when none; raises ``Unsure`` when the name fits several."""
    ids = _method_ids(text, snap)
    if len(ids) == 1:
        return ids[0]
    if ids:
        raise Unsure("more than one payment method is named")
    low = _norm(text)
    named = [kind for kind, pattern in _METHOD_WORDS if re.search(pattern, low)]
    if not named:
        return None
    if len(named) > 1:
        raise Unsure("more than one payment method is named")
    methods = [m for m in snap.get("payment_methods", []) if m["source"] == named[0]]
    brands = [m for m in methods if m.get("brand") and re.search(rf"\b{re.escape(m['brand'].lower())}\b", low)]
    if brands:
        methods = brands
    if len(methods) != 1:
        raise Unsure(f"the customer has {len(methods) or 'no'} {named[0].replace('_', ' ')} payment methods")
    return str(methods[0]["id"])


def _original(order: dict[str, Any]) -> str | None:
    return next((p["method"] for p in order.get("payments", []) if p["type"] == "payment"), None)


def _cancel_reason(text: str) -> str:
    low = _norm(text)
    if re.search(r"\bmistake|\bwrong (?:item|thing|one|order)|by accident|accidental", low):
        return "ordered by mistake"
    if re.search(r"no longer need|don'?t need|do not need|not need(?:ed)? any ?more|changed? my mind|"
                 r"no need for|won'?t need|not needed", low):
        return "no longer needed"
    raise Unsure("the reason for cancelling is not given (no longer needed, or ordered by mistake)")


def _address_target(segment: str, whole: str, snap: dict[str, Any]) -> dict[str, str]:
    for d in _dicts(segment):
        if {"address1", "city", "zip"} <= set(d):
            return {k: d.get(k, "") or "" for k in ("address1", "address2", "city", "state", "country", "zip")}
    found = find_address(segment) or find_address(whole)
    if found:
        return {k: found.get(k, "") for k in ("address1", "address2", "city", "state", "country", "zip")}
    same = re.search(r"same (?:address )?as (?:order |in order |my order )?#?(W\d{7})", segment, re.I)
    if same:
        ref = next((o for o in snap["orders"] if o["order_id"] == "#" + same.group(1).upper()), None)
        if ref is None:
            raise Unsure("the order whose address is to be copied is not the customer's")
        return dict(ref["address"])
    if re.search(r"\bto (?:my|your|the) (?:default|profile|account|home|user)(?: default)? address|"
                 r"\baddress (?:on|in) (?:my|your|the) (?:profile|account)", segment, re.I):
        return dict(snap["profile"]["address"])
    place = _places(re.split(r"\bto\b", segment, maxsplit=1)[-1])
    known = {(a["address1"], a["zip"]): a for a in [o["address"] for o in snap["orders"]]
             + [snap["profile"]["address"]]}
    named = [a for a in known.values() if a.get("city") and _has(place, a["city"])]
    if len(named) == 1:  # "my NYC address": the one address on record in that city
        return {k: named[0].get(k, "") for k in ("address1", "address2", "city", "state", "country", "zip")}
    raise Unsure("the new address is not given in full")


_PLACES = {r"\bnyc\b|\bnew york city\b|\bbig apple\b|\bmanhattan\b": "New York",
           r"\bwashington,? d\.?c\.?|\bd\.?c\.?\b": "Washington", r"\bla\b": "Los Angeles",
           r"\bsf\b": "San Francisco", r"\bphilly\b": "Philadelphia"}


def _places(text: str) -> str:
    """Common names of cities written as they are on addresses."""
    for pattern, city in _PLACES.items():
        text = re.sub(pattern, city, text, flags=re.I)
    return text


def _same_address(a: dict[str, str], b: dict[str, str]) -> bool:
    return all((a.get(k) or "").strip().lower() == (b.get(k) or "").strip().lower()
               for k in ("address1", "address2", "city", "state", "zip"))


def interpret(text: str, snap: dict[str, Any]) -> Reading:
    """The order operations a ticket asks for, or why a person has to read it."""
    reading = Reading()
    try:
        _interpret(text, snap, reading)
    except Unsure as why:
        reading.steps = []
        reading.unsure = str(why)
        # it was about orders even when the doubt came before the verbs were read: no other planner guesses
        reading.found = reading.found or bool(_PAIR.search(text)) or any(
            _sentence_ops(x) for x in _split_sentences(text))
    return reading


def _methods_per_order(text: str, snap: dict[str, Any]) -> dict[str, str]:
    """Order → the payment method id written out in the sentence that asks for something on that order."""
    out: dict[str, str] = {}
    for sentence in _split_sentences(text):
        ids = _method_ids(sentence, snap)
        if len(ids) > 1:
            raise Unsure("more than one payment method is named for one request")
        if not ids:
            continue
        copied = re.findall(r"same (?:address )?as (?:order |in order |my order )?#?(W\d{7})", sentence, re.I)
        for found in re.findall(r"#?\b(W\d{7})\b", sentence, re.I):
            oid = "#" + found.upper()
            if found.upper() in {c.upper() for c in copied}:
                continue
            if out.setdefault(oid, ids[0]) != ids[0]:
                raise Unsure(f"two payment methods are named for order {oid}")
    return out


def _interpret(text: str, snap: dict[str, Any], reading: Reading) -> None:
    original = text
    order_ids = list(dict.fromkeys("#" + m.upper() for m in re.findall(r"#?\b(W\d{7})\b", text, re.I)))
    own = {o["order_id"] for o in snap["orders"]}
    preferences = []
    ops: list[tuple[str, str, str]] = []  # (verb, segment, sentence)
    hints: list[tuple[str, str]] = []
    mind = False
    pairs = _dict_pairs(text, snap, order_ids)
    if pairs:  # the pairs are read; what else the sentences ask is read without them
        text = _PAIR.sub(" the listed items ", text)
    asked = False
    for sentence in _split_sentences(text):
        asked = asked or bool(_sentence_ops(sentence))
        hint = _HINT.search(sentence)
        if hint and not _sentence_ops(hint.group(2)):
            hints.append((hint.group(1), hint.group(2)))
            continue
        verbs = _sentence_ops(sentence)
        if _HOLD.search(sentence):
            continue
        if _MIND.search(sentence):
            mind = True
            continue
        if _CONDITION.search(sentence):
            if _PREFERENCE.search(sentence):
                preferences.append(sentence.split(",", 1)[-1])
                continue
            if verbs or _ACTIONISH.search(sentence):
                reading.found = reading.found or bool(verbs)
                raise Unsure("the request depends on a condition; a person decides")
            continue
        if _QUESTION.search(sentence) and not verbs or _ASKING.search(sentence):
            continue
        ops += [(v, seg, sentence) for v, seg in verbs]
    if not ops and not pairs:
        if asked:
            reading.found = True
            raise Unsure("the customer may change their mind; a person confirms what to do" if mind else
                         "the customer asks about it without wanting it done yet")
        return
    reading.found = True
    if mind:
        raise Unsure("the customer may change their mind; a person confirms what to do")
    unknown = [o for o in order_ids if o not in own]
    if unknown:
        raise Unsure(f"order {unknown[0]} is not on the customer's account")
    written = _method_ids(original, snap)
    method = written[0] if len(written) == 1 else _payment(_METHOD_ID.sub(" ", original), snap)
    method_for = _methods_per_order(original, snap)
    steps: list[tuple[str, dict[str, Any], str]] = []
    returns: dict[str, list[_Item]] = {}
    changes: dict[str, list[tuple[_Item, dict[str, Any]]]] = {}
    for x, new in pairs:
        changes.setdefault(x.order["order_id"], []).append((x, new))
    cancels: list[str] = []
    addresses: list[tuple[str, dict[str, str]]] = []
    default_address: dict[str, str] | None = None
    cancel_reasons: dict[str, str] = {}
    for verb, segment, sentence in ops:
        if "the listed items" in segment and not _mentions_any(segment.replace("the listed items", ""), snap):
            continue
        ref = re.search(r"same (?:address )?as (?:order |in order |my order )?#?(W\d{7})", sentence, re.I)
        in_sentence = [o for o in order_ids if o.lstrip("#").lower() in sentence.lower()
                       and not (ref and o == "#" + ref.group(1).upper())]
        seg_orders = [o for o in in_sentence if o.lstrip("#").lower() in segment.lower()] or in_sentence or (
            order_ids if len(order_ids) == 1 else [])
        if re.search(r"(?<!e-mail )(?<!email )\baddress\b", segment, re.I) or verb.startswith("ship"):
            target = _address_target(segment, sentence, snap)
            head = re.split(r"\bto\b", segment, maxsplit=1)[0]
            if re.search(r"\b(?:user|default|profile|account|home)\b[^.]{0,20}\baddress", head, re.I) or \
                    re.search(r"\b(?:user|default|profile|account)\s+address", sentence, re.I) and \
                    re.search(r"\b(?:and|along with|as well as|plus) (?:also )?(?:my |your |the )?"
                              r"(?:user |default |profile )+address", sentence, re.I):
                default_address = target
            pending = [o for o in snap["orders"] if o["status"] in ("pending", "pending (item modified)")]
            if _ALL_PENDING.search(segment):
                chosen = pending
            elif seg_orders:
                chosen = [o for o in snap["orders"] if o["order_id"] in seg_orders]
            elif re.search(r"\border", head, re.I):
                by_city = [o for o in pending if _has(_places(head), o["address"]["city"])]
                by_item = [x.order for x in _resolve_items(head, _eligible(snap, ("pending",), []), allow_all=False)]
                chosen = by_city or list({o["order_id"]: o for o in by_item}.values()) or pending
                if len(chosen) != 1:
                    raise Unsure("which order's address to change is not clear")
            else:
                chosen = []
            for o in chosen:
                if not _same_address(o["address"], target):
                    addresses.append((o["order_id"], target))
            if not chosen and default_address is None:
                raise Unsure("which address to change is not clear")
            continue
        if verb == "cancel":
            pending = [o for o in snap["orders"] if o["status"] in ("pending", "pending (item modified)")]
            if _ALL_PENDING.search(segment):
                chosen_ids = [o["order_id"] for o in pending]
            elif seg_orders:
                chosen_ids = seg_orders
            else:
                items = _resolve_items(segment, _eligible(snap, ("pending", "pending (item modified)"), []),
                                       allow_all=False)
                if not items:
                    raise Unsure("which order to cancel is not clear")
                for x in items:
                    others = [i for i in x.order["items"] if i["name"] not in {y.item["name"] for y in items}]
                    if others:
                        raise Unsure(f"only whole orders can be cancelled and {x.order['order_id']} holds "
                                     "other items too")
                chosen_ids = list(dict.fromkeys(x.order["order_id"] for x in items))
            if not chosen_ids:
                raise Unsure("there is no pending order to cancel")
            reason = _cancel_reason(segment) if re.search(r"mistake|need|mind|accident", segment, re.I) \
                else _cancel_reason(text)
            cancels += [o for o in chosen_ids if o not in cancels]
            for oid in chosen_ids:
                cancel_reasons[oid] = reason
            continue
        if verb == "return" or verb.startswith("send back"):
            items = _resolve_items(segment, _eligible(snap, ("delivered",), seg_orders), hints=hints)
            if not items:
                raise Unsure("which delivered items to return is not clear")
            for x in items:  # an item asked for twice (a subject line repeating the message) is returned once
                to_return = returns.setdefault(x.order["order_id"], [])
                if all(y.item is not x.item for y in to_return):
                    to_return.append(x)
            continue
        # exchange / change / modify: each named item with the words that follow it
        pool = _eligible(snap, ("delivered", "pending"), seg_orders)
        items = _resolve_items(segment, pool, allow_all=False, hints=hints)
        if not items and re.match(r"\w+ (?:it|them)\b", segment):  # "you received a laptop and want to exchange it"
            earlier = sentence[: sentence.find(segment)]
            items = _resolve_items(earlier, pool, allow_all=False, hints=hints)
            segment = earlier + " " + segment[segment.find(" "):]
        if not items and len(segment.split()) <= 2:
            continue  # a bare verb ("Address change", a subject line) names nothing to change
        if not items:
            raise Unsure("which item to change is not clear")
        for x in items:
            spec = segment
            if len({y.item["name"] for y in items}) > 1:
                strong, weak = _names_for(x.item["name"])
                starts = [m.start() for n in strong + weak for m in re.finditer(rf"\b{re.escape(n)}\b",
                                                                                 segment, re.I)]
                others = [m.start() for y in items if y.item["name"] != x.item["name"]
                          for n in _names_for(y.item["name"])[0] + _names_for(y.item["name"])[1]
                          for m in re.finditer(rf"\b{re.escape(n)}\b", segment, re.I)]
                begin = min(starts) if starts else 0
                after = [p for p in others if p > begin]
                spec = segment[begin: min(after) if after else len(segment)]
            dicts = _DICT.findall(spec)
            if len(dicts) >= 2:
                current = _dicts(dicts[0])[0]
                options = _lower_keys(x.item["options"])
                if any(str(options.get(k, "")).lower() != v.lower() for k, v in current.items() if k in options):
                    continue
            target_text = re.split(r"\b(?:to|for|into|with)\b", spec, maxsplit=1)
            words = target_text[1] if len(target_text) > 1 else spec
            if dicts:
                words = spec[spec.rfind("{"):]
            variants = x.order["variants"].get(x.item["item_id"], [])
            new = _target_variant(words + " " + " ".join(preferences), x.item, variants)
            asked_to = changes.setdefault(x.order["order_id"], [])
            if all(y.item is not x.item for y, _ in asked_to):
                asked_to.append((x, new))
    # exchanges and item changes are one call per order, with every item of that order
    for oid, pairs in changes.items():
        order = pairs[0][0].order
        pm = method_for.get(oid) or method or _original(order)
        if order["status"] == "delivered":
            steps.append(("exchange_item", {"order_id": oid, "item_ids": [p[0].item["item_id"] for p in pairs],
                                            "new_item_ids": [p[1]["item_id"] for p in pairs],
                                            "payment_method_id": pm},
                          "same product, options asked for: " + "; ".join(
                              f"{p[0].item['name']} → {p[1]['options']}" for p in pairs)))
    for oid, target in addresses:
        steps.append(("change_shipping_address", {"order_id": oid, **target}, "the customer gave the new address"))
    for oid, pairs in changes.items():
        order = pairs[0][0].order
        if order["status"] == "pending" and any(p[0].item["item_id"] == p[1]["item_id"] for p in pairs):
            raise Unsure(f"the options asked for on order {oid} are the ones it already has")
        if order["status"] == "pending":
            steps.append(("modify_order_items", {"order_id": oid, "item_ids": [p[0].item["item_id"] for p in pairs],
                                                 "new_item_ids": [p[1]["item_id"] for p in pairs],
                                                 "payment_method_id": method_for.get(oid) or method
                                                 or _original(order)},
                          "pending order, options asked for: " + "; ".join(
                              f"{p[0].item['name']} → {p[1]['options']}" for p in pairs)))
    if default_address is not None:
        steps.append(("update_default_address", {"user_id": snap["profile"]["user_id"], **default_address},
                      "the customer asked to change the address on the account"))
    for oid in cancels:
        if oid in changes or oid in returns:
            raise Unsure(f"order {oid} is both to be cancelled and changed")
        steps.append(("cancel_order", {"order_id": oid, "reason": cancel_reasons[oid]}, "the customer asked to cancel"))
    for oid, xs in returns.items():
        order = xs[0].order
        named = method_for.get(oid) or method
        pm = named or _original(order)
        if named and named != _original(order) and not named.startswith("gift_card"):
            raise Unsure("a refund goes to the original payment method or a gift card")
        steps.append(("return_items", {"order_id": oid, "item_ids": [x.item["item_id"] for x in xs],
                                       "payment_method_id": pm},
                      "the customer asked to return " + ", ".join(x.item["name"] for x in xs)))
    if not steps:
        raise Unsure("nothing to change: the records already match the request")
    reading.steps = steps
