"""Reads what a customer wants done with their orders — return, exchange, change items, cancel, change an
address — request by request and item by item, grounded in their own records: which of their items each phrase
names (or "it", "the other one", "in the same order" stand for), which option of the same product the words
describe (values, comparisons with the current one, another item of theirs as the model), which payment method
and reason they gave, and what they want instead if a request cannot be done ("if that is not possible, …",
applied only when the records or the shop's rules say so). Whatever it cannot settle with certainty (a
condition on the conversation, a change of mind, an item it cannot tell apart, an option two variants share)
holds the requests on the orders it speaks of — all of them when it names none — and a person decides those:
precision before coverage. The requests it did settle are still read (``Reading.steps`` beside
``Reading.unsure``).

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

from cx_core import qualifiers
from cx_core.entities import find_address
from cx_core.errors import ConfigError

ORDER_INTENTS = {"return_refund", "damaged_item", "exchange", "order_cancel", "address_change"}

_VERB = re.compile(r"\b(return|exchange|swap|switch|change|modify|upgrade|downgrade|replace|cancel|adjust|update|remove|"
                   r"send back|ship (?:it|them|order|my order)?\s*to)\w*", re.I)
_NEGATED = re.compile(r"(?:\bnot|\bnever|n't|\bnor)\s+(?:\w+\s+){0,2}$", re.I)
_CONDITION = re.compile(r"\b(?:if|unless|otherwise|in case|whether|once|as long as|provided)\b", re.I)
_PREFERENCE = re.compile(r"\bif\b[^.]*\b(?:multiple|several|both|more than one|many)\b[^.]*\b(?:available|options?)\b"
                         r"[^.,]*,\s*(?:you |i )?(?:would )?(?:prefer|like|want|choose|pick)\b", re.I)
_PREFERENCE_IF = re.compile(r"(?:,\s*)?(?:and\s+)?(?:you |i )?(?:would )?prefer\w*\b[^.;]*?\bif\b[^.;]*?\b(?:multiple|"
                            r"several|both|more than one|many)\b[^.;]*?\b(?:available|options?)\b", re.I)
_MIND = re.compile(r"\b(?:regrets?|change (?:your|my|his|her) mind|changes? (?:it|them) back|back to the original|"
                   r"undo|reverse|then decide|later decide|on second thought|initially|eventually|indecisive|"
                   r"undecided|at first)\b", re.I)
# the customer asks about something without wanting it done yet
_HOLD = re.compile(r"\b(?:not sure yet|don'?t process|do not process|don'?t do anything|do not do anything|"
                   r"hold off|wait before|(?:just|only) (?:check|ask)\w*)\b", re.I)
_HINT = re.compile(r"\bwhich ([a-z][a-z -]*?)\b[^,]*,\s*(?:it is|it's|they are|mention|say)\b(.*)", re.I)
_ACTIONISH = re.compile(r"\b(?:return|exchange|swap|switch|change|modify|upgrade|cancel|refund|keep|proceed|"
                        r"transfer|do|go (?:for|with)|get|use|pay|buy|order|remove|add)\w*\b", re.I)
_QUESTION = re.compile(r"^\s*(?:(?:finally|lastly|also|then|and|but|additionally|first|second|next)\b,?\s*)*"
                       r"(?:you (?:also )?(?:want|would like|wish) to (?:know|check|ask|confirm|find out|"
                       r"inquire)|ask\b|you wonder|what|how|which|when|is|are|can|could)\b", re.I)
_ASKING = re.compile(r"^\s*(?:how|what|when|where|why|which|is|are|does|do|will)\b[^?]*\?\s*$", re.I)
_PAIR = re.compile(r"([A-Za-z][\w-]*(?: [A-Za-z][\w-]*){0,3})\s*(\{[^{}]*\})\s*(?:to|for|into)\b[^{}]*?(\{[^{}]*\})")
_RELATIVE = re.compile(r"\b(?:bigger|smaller|larger|lower|higher|less|more(?! expensive)|fewer|fewest|maximum|"
                       r"minimum|max|min|fancier|fancy|better|faster|slower|cheaper|longer|shorter|brighter|"
                       r"lighter|heavier|upgrade|downgrade|similar|or above|or below|at least|at most|"
                       r"different|taller|wider|narrower|thinner|thicker|newer|older|warmer|cooler|stronger|"
                       r"weaker|quieter|louder|closer|nicer)\b", re.I)
_ALL = re.compile(r"\b(?:everything|all (?:the |of the |my |your )?(?:items|things|of it|of them)|the (?:items|things)|"
                  r"(?:whole|entire) order|all (?:that|i|you) (?:ordered|bought|received))\b", re.I)
_ALL_PENDING = re.compile(r"\ball (?:of )?(?:my |your |the )?(?:possible |current )?(?:pending |open )?orders?\b", re.I)
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
    """What the text asks for: typed steps ready for ``execute`` (action, args, why) for the requests it settled,
    and why the rest (or all of it, when there are no steps) is unsure."""

    steps: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    unsure: str = ""
    found: bool = False  # the text asks for something done with an order at all


class Unsure(Exception):
    pass


class Impossible(Unsure):
    """The request is clear but cannot be done under the shop's rules or with what is in stock (a fact of the
    records, not a doubt of the reading): a fallback the customer gave ("if not possible, …") applies. ``items``
    are the items the request spoke of, which the fallback's "it" stands for."""

    def __init__(self, why: str, items: list[_Item] | None = None) -> None:
        super().__init__(why)
        self.items = items or []


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
    parts: list[str] = []
    for sentence in re.split(r"(?<=[.!?;])\s+|\n+", text):
        # "… Also cancel …" starts another request, unless a condition opened before it governs it
        pieces = re.split(r"\s+(?=(?:also|lastly|finally|then|and then|additionally)\b,?\s)", sentence, flags=re.I)
        for i, piece in enumerate(pieces):
            if parts and i and (_CONDITION.search(parts[-1]) or not _VERB.search(piece) or not _VERB.search(parts[-1])):
                parts[-1] += " " + piece
            else:
                parts.append(piece)
    out: list[str] = []
    for part in (p.strip(" .") for p in parts if p and p.strip(" .")):
        if out and out[-1].endswith(";") and not _VERB.search(part) and (
                ":" in out[-1] or re.match(r"(?:via|using|with|paid with|pay with)\b", part, re.I)):
            out[-1] = out[-1][:-1] + ", " + part  # "Return #W…: Kettle; Wall Clock;" is one list, "…; via X" one request
        elif out and out[-1].endswith(","):
            out[-1] = out[-1] + " " + part  # "If the tablet is returned, also cancel …": one sentence, one condition
        else:
            out.append(part)
    return out


_NOUN_BEFORE = re.compile(r"\b(?:the|a|an|this|that|these|those|my|your|his|her|our|their|its|any|some|no|each|"
                          r"every|of|for|life|easy|quick|free)\s+$", re.I)
_WANT_BE = re.compile(r"\b(?:needs?|has|have|must|should|wants?|would like|like)\s+(?:\w+\s+)?to be\s+$|"
                      r"\b(?:must|should)\s+be\s+$", re.I)
_WHEN_BEFORE = re.compile(r"\b(?:when|once|until|after|before|till) (?:you|i|we|they|he|she)\s+$", re.I)
_BE_BEFORE = re.compile(r"\b(?:be|been|being|is|are|was|were|get|got|gets)\s+$", re.I)


def _sentence_ops(sentence: str, passive: bool = False) -> list[tuple[str, str]]:
    """The (verb, segment) pairs of a sentence: each verb with the words up to the next verb. A verb's word used
    as a noun ("the return is complete", "life changes", "clicky switches") or, unless ``passive``, in the passive
    ("the camera to be exchanged") asks for nothing."""
    hits = []
    for m in _VERB.finditer(sentence):
        prefix = sentence[: m.start()]
        if _NEGATED.search(prefix[-40:]) or _NOUN_BEFORE.search(prefix[-12:]) or _WHEN_BEFORE.search(prefix[-16:]):
            continue
        word = m.group(0).lower()
        if word.endswith("s") and " " not in word and not re.search(r"\b(?:it|he|she|who|which)\s+$", prefix[-10:],
                                                                    re.I):
            continue
        if word.endswith("ed") and not passive and _BE_BEFORE.search(prefix[-10:]) and not _WANT_BE.search(prefix[-30:]):
            continue
        hits.append(m)
    out = []
    for i, m in enumerate(hits):
        end = hits[i + 1].start() if i + 1 < len(hits) else len(sentence)
        out.append((m.group(1).lower(), sentence[m.start(): end]))
    return out


_WHETHER = re.compile(r"\b(?:know|check|ask|asks|wonder|see|find out|confirm|verify|inquire|understand|curious|sure)\b",
                      re.I)


def _conditional(sentence: str) -> bool:
    """The sentence puts a condition on something ("if", "unless", "otherwise"); an "if" that means "whether"
    ("you want to know if the order has shipped") does not."""
    for m in _CONDITION.finditer(sentence):
        if m.group(0).lower() in {"if", "whether"}:
            prefix = sentence[: m.start()]
            asks = list(_WHETHER.finditer(prefix))
            if asks and not _sentence_ops(prefix[asks[-1].end():]):
                continue
            if m.group(0).lower() == "whether":
                continue
        return True
    return False


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
    cut = qualifiers.split_exception(segment)
    if cut is not None:
        include, exclude = cut
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
        kept = re.search(rf"\b(?:same|keep(?:ing)?(?: the)?|current|existing)\s+{_KEPT_LIST}{re.escape(_flat(key))}",
                         text)
        if mentioned and not kept:
            raise Unsure(f"the message speaks of the {key} without a value that can be matched")
    return out


_UP = {"bigger", "larger", "higher", "more", "longer", "brighter", "heavier", "taller", "wider", "thicker", "faster",
       "stronger", "louder", "greater", "bigger-sized"}
_DOWN = {"smaller", "lower", "less", "fewer", "shorter", "dimmer", "narrower", "thinner", "slower", "weaker",
         "quieter"}
_ORDINALS = (("low", "medium", "high"), ("small", "medium", "large"), ("slow", "medium", "fast"),
             ("light", "medium", "heavy"), ("short", "medium", "long"))
_COMPARE = re.compile(r"\b(?:(?P<amount>\d+(?:\.\d+)?)\s+)?(?P<degree>slightly |a (?:bit|little) |one step |"
                      r"the next )?(?P<word>" + "|".join(sorted(_UP | _DOWN)) + r")\b(?:\s+(?P<what>[a-z]+(?: [a-z]+)?))?"
                      r"|\b(?P<amount2>\d+(?:\.\d+)?)\s+(?P<what2>[a-z]+)\s+(?P<word2>more|less|fewer)\b", re.I)


def _soft_options(text: str, item: dict[str, Any], variants: list[dict[str, Any]]) -> dict[str, set[str]]:
    """What the customer would prefer ("prefer i5 over i7, and silver or black than other colors"): for each
    option, the values named first in each preference; words it cannot place are left out (a preference only
    breaks ties)."""
    out: dict[str, set[str]] = {}
    for clause in re.split(r"\bprefer\w*\b|\bideally\b|\bif possible\b", text, flags=re.I):
        first = re.split(r"\s*(?:>|\bthan\b|\bover\b|\brather than\b|\binstead of\b)", clause, maxsplit=1,
                         flags=re.I)[0]
        for part in re.split(r",|;|\band\b|\bor\b|/|\(|\)", first, flags=re.I):
            if not part.strip():
                continue
            try:
                found = _wanted_options(part, item, variants)
            except Unsure:
                continue
            for key, value in found.items():
                out.setdefault(key, set()).add(value)
    return out


def _rank(value: Any) -> float | None:
    """Where an option value stands among its kind: its number, its size code, or a low/medium/high word."""
    text = str(value)
    number = re.search(r"\d+(?:\.\d+)?", text)
    if number:
        return float(number.group(0))
    sizes = catalogue().size_order
    if text in sizes:
        return float(sizes.index(text))
    for scale in _ORDINALS:
        if text.lower() in scale:
            return float(scale.index(text.lower()))
    return None


def _comparison(spec: str, item: dict[str, Any], variants: list[dict[str, Any]]
                ) -> tuple[str, bool, float | None, bool, str] | None:
    """A comparison with the current option ("a slightly lower resolution", "1000 more pieces", "a shorter one"):
    (option key, up, amount or None, nearest, the words without it); None when there is none. Raises ``Unsure``
    when it cannot be placed on one option whose values can be ordered ("a more fancy theme")."""
    found = [m for m in _COMPARE.finditer(spec)
             if not (m.group("word") or "").lower() == "more" or not (m.group("what") or "").startswith("expensive")]
    if not found:
        return None
    if len(found) > 1:
        raise Unsure("several comparisons need a person to weigh the options")
    m = found[0]
    word = (m.group("word") or m.group("word2")).lower()
    what = (m.group("what") or m.group("what2") or "").lower()
    keys = [k for k in item["options"] if all(_rank(v["options"].get(k)) is not None for v in variants)]
    named = [k for k in keys if what and (_flat(what).startswith(_flat(k)) or _flat(k) in _flat(what)
                                          or _flat(k).split()[-1] == _flat(what).split()[0])]
    stem = re.sub(r"(?:er|est)$", "", word)
    words = [w for w in _flat(what).split() if w not in {"one", "version", "model", "variant", "item", "kind"}]
    if what and not named:
        subject = words[0] if words else stem
        by_word = [k for k in keys if len(subject) >= 4 and _flat(k).startswith(subject[:5])]
        known = {w for v in variants for k, x in v["options"].items() for w in _flat(f"{k} {x}").split()}
        if by_word:
            named = by_word  # "a less bright one": brightness
        elif any(w not in known for w in words):
            raise Unsure(f"“{m.group(0).strip()}” needs a person to compare the options")
    by_stem = [k for k in keys if len(stem) >= 4 and _flat(k).startswith(stem[:5])]
    key = (named or by_stem or (keys if len(keys) == 1 else [None]))[0]
    if key is None:
        raise Unsure(f"“{m.group(0).strip()}” needs a person to compare the options")
    amount = m.group("amount") or m.group("amount2")
    end = m.end() if (named and what and m.group("what")) or m.group("what2") else m.end("word")
    rest = spec[: m.start()] + " " + spec[end:]
    return key, word in _UP, float(amount) if amount else None, bool(m.group("degree")), rest


# "the same material and color": options named in a list after "same" or "keep"
_KEPT_LIST = r"(?:\w+\s+)?(?:[a-z]+(?:\s+[a-z]+)?\s+(?:and|or|&)\s+)?"


def _target_variant(spec: str, item: dict[str, Any], variants: list[dict[str, Any]], strict: bool = False
                    ) -> dict[str, Any]:
    """The one option of the same product the words describe; raises ``Unsure`` otherwise, or ``Impossible`` when
    none in stock has what was asked for (with ``strict``, also when an option not spoken of would change)."""
    by_id = {v["item_id"]: v for v in variants}
    ids = [i for i in _ITEM_ID.findall(spec) if i in by_id and i != item["item_id"]]
    if len(set(ids)) == 1:
        return by_id[ids[0]]
    if ids:
        raise Unsure("several item numbers are given for one item")
    dicts = _dicts(spec)
    soft: dict[str, set[str]] = {}
    extreme: re.Match[str] | None = None
    extreme_key: str | None = None
    compare: tuple[str, bool, float | None, bool, str] | None = None
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
        compare = _comparison(spec_wo, item, variants)
        if compare is not None:  # "a slightly lower resolution", "1000 more pieces", "a shorter one"
            spec_wo = compare[4]
        relative = _RELATIVE.search(spec_wo)
        if relative:
            raise Unsure(f"“{relative.group(0)}” needs a person to compare the options")
        parts = re.split(r"\b(?:prefer(?:ably|ring|s|red)?|ideally|if possible)\b", spec_wo, maxsplit=1)
        hard, soft_text = parts[0], (parts[1] if len(parts) > 1 else "")
        wanted = _wanted_options(hard, item, variants)
        soft = _soft_options(soft_text, item, variants) if soft_text.strip() else {}
        free = set(item["options"]) - set(wanted) if (cheapest or dearest) else set()
        free |= set(soft) - set(wanted)
        if compare is not None:
            free.add(compare[0])
        if extreme and extreme_key:
            free.add(extreme_key)
        same = {k for k in item["options"] if re.search(
            rf"\b(?:same|keep(?:ing)?(?: the)?)\s+{_KEPT_LIST}{re.escape(_flat(k))}", _flat(spec))}
        free -= same
        if not wanted and not (cheapest or dearest or extreme_key or compare):
            raise Unsure("the new option is not described")
    fits = [v for v in variants if v["available"] and v["item_id"] != item["item_id"]
            and all(str(v["options"].get(k, "")).lower() == str(x).lower() for k, x in wanted.items())]
    if not dicts and compare is not None:
        key, up, amount, nearest, _ = compare
        now = _rank(item["options"][key])
        if now is None:
            raise Unsure(f"the {key} options cannot be compared")
        ranked = [(v, r) for v in fits for r in [_rank(v["options"].get(key))]
                  if r is not None and (r > now if up else r < now)]
        if amount is not None:
            ranked = [(v, r) for v, r in ranked if abs(abs(r - now) - amount) < 1e-6]
        elif nearest and ranked:
            gap = min(abs(r - now) for _, r in ranked)
            ranked = [(v, r) for v, r in ranked if abs(r - now) == gap]
        fits = [v for v, _ in ranked]
    if not fits:
        raise Impossible(f"no available {item['name']} has the options asked for")
    # options the customer did not speak of stay as they are, as far as the catalogue allows
    kept = [sum(str(v["options"].get(k)) == str(item["options"].get(k)) for k in item["options"]
                if k not in wanted and k not in free) for v in fits]
    if strict and max(kept) < len([k for k in item["options"] if k not in wanted and k not in free]):
        raise Impossible(f"no available {item['name']} has exactly the options asked for")
    fits = [v for v, n in zip(fits, kept, strict=True) if n == max(kept)]
    if not dicts and soft:
        preferred = [v for v in fits if all(str(v["options"].get(k)) in x for k, x in soft.items()
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


def _cancel_reason(segment: str, sentence: str = "", before: str = "", more: tuple[str, ...] = ()) -> str:
    """The reason for a cancellation: the one the request gives, or the message around it, or a detail given
    elsewhere ("if asked for the reason, say it was a mistake"). A reason other than a mistake ("we found it
    cheaper elsewhere", "I'll be away when it arrives") means it is no longer needed."""
    def said(text: str) -> str:
        low = _norm(text)
        mistake = bool(re.search(r"\bmistake|\bwrong (?:item|thing|one|order)|by accident|accidental", low))
        unneeded = bool(re.search(r"no longer need|don'?t need|do not need|not need(?:ed)? any ?more|changed? my mind|"
                                  r"no need for|won'?t need|not needed", low))
        if mistake and unneeded:
            raise Unsure("the message gives two reasons for cancelling")
        return "ordered by mistake" if mistake else "no longer needed" if unneeded else ""

    for text in (segment, sentence):
        if said(text):
            return said(text)
    last = [p for p in re.split(r"(?<=[.!?;])\s+|\n+", before) if p.strip()][-1:]
    around = " ".join(last + [sentence or segment])
    if said(around):
        return said(around)
    for text in more:
        if text and said(text):
            return said(text)
    if _REASON.search(around) or any(_REASON.search(t) for t in more[:1] if t):
        return "no longer needed"
    raise Unsure("the reason for cancelling is not given (no longer needed, or ordered by mistake)")


def _address_target(segment: str, whole: str, snap: dict[str, Any], text: str = "") -> dict[str, str]:
    """The address a request asks for: written out, copied from an order, the one on the account, the one on
    record in a city named ("my NYC address", "my daughter's address" where she lives), or the new home an
    order of theirs was sent to."""
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
    fields = ("address1", "address2", "city", "state", "country", "zip")
    person = re.search(r"\b(?:my|your|his|her|our|their)\s+([a-z]+)'s\s+(?:address|place|home|house|apartment)",
                       place, re.I)
    if person:  # "my daughter's address" and, elsewhere, "my daughter lives in Chicago"
        lives = re.search(rf"\b{re.escape(person.group(1))}\b[^.;]*?\b(?:lives?|living|stays?|moved|is)\s+(?:now\s+)?"
                          r"(?:in|at|to)\s+([^.;,]+)", text, re.I)
        place = _places(lives.group(1)) if lives else ""
    named = [a for a in known.values() if a.get("city") and _has(place, a["city"])]
    if len(named) == 1:  # "my NYC address": the one address on record in that city
        return {k: named[0].get(k, "") for k in fields}
    new_home = re.search(r"\bnew (?:home|house|address|place|apartment|flat)\b", place, re.I)
    if new_home and not named:  # "the new home", where an order of theirs was sent ("… bought a lamp sent there")
        told = [x for x in re.split(r"(?<=[.!?;])\s+", text) if re.search(
            r"\bnew (?:home|house|address|place|apartment|flat)\b", x, re.I) and x.strip() != whole.strip()]
        homes = {(o["address"]["address1"], o["address"]["zip"]): o["address"] for x in told
                 for o in snap["orders"] if any(_mention_strength(x, i["name"]) == 2 for i in o["items"])}
        if len(homes) == 1:
            return {k: next(iter(homes.values())).get(k, "") for k in fields}
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
    """The order operations a ticket asks for: each request read on its own, so that one the reading cannot
    settle leaves the others standing (``steps`` and ``unsure`` both set), or why a person has to read it all."""
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


@dataclass
class _Unit:
    """One request of the message: the verbs of a sentence, and what the customer wants instead if it cannot
    be done (a fallback's verbs, or only another payment method)."""

    ops: list[tuple[str, str, str]]  # (verb, segment, sentence)
    sentence: str
    fallback: list[tuple[str, str, str]] | None = None
    fallback_sentence: str = ""


@dataclass
class _State:
    returns: dict[str, list[_Item]] = field(default_factory=dict)
    changes: dict[str, list[tuple[_Item, dict[str, Any]]]] = field(default_factory=dict)
    cancels: dict[str, str] = field(default_factory=dict)  # order → reason
    addresses: dict[str, dict[str, str]] = field(default_factory=dict)
    default_address: dict[str, str] | None = None
    methods: dict[str, set[str]] = field(default_factory=dict)  # order → methods the requests on it named
    items: list[_Item] = field(default_factory=list)  # the items the last request spoke of ("the other one")

    def copy(self) -> _State:
        return _State({k: list(v) for k, v in self.returns.items()}, {k: list(v) for k, v in self.changes.items()},
                      dict(self.cancels), dict(self.addresses), self.default_address,
                      {k: set(v) for k, v in self.methods.items()}, list(self.items))

    def orders(self) -> set[str]:
        return set(self.returns) | set(self.changes) | set(self.cancels) | set(self.addresses)


@dataclass
class _Context:
    snap: dict[str, Any]
    text: str  # the whole message, as read (option lists already taken out)
    order_ids: list[str]
    hints: list[tuple[str, str]]
    preferences: list[str]
    details: list[str] = field(default_factory=list)  # sentences that ask nothing but may give a detail
    around: str = ""  # the request a fallback replaces, for details it gave (a reason)
    strict: bool = False  # the request has a fallback: an option not spoken of must not change, and what the
    # shop's rules refuse is known here (without one, the action itself refuses it and says why)


# "if that is not possible", "if it cannot be returned", "if removing one item is not possible", "otherwise"
_IF = re.compile(r"^\W*(?:(?:and|but|also|then|so)\s+)*(?:if|in case|should)\s+(?P<cond>[^,]+?)\s*,\s*(?:then\s+)?"
                 r"(?P<then>.+)$", re.I | re.S)
_ELSE = re.compile(r"^\W*(?:(?:and|but)\s+)?(?:otherwise|if not|else|failing that|if that fails)\b,?\s*(?P<then>.+)$",
                   re.I | re.S)
_NOT = re.compile(r"\b(?:not|no|cannot|unable|impossible|unavailable|none)\b|n't\b", re.I)
_POSSIBLE = re.compile(r"\b(?:possible|impossible|available|unavailable|able|way|doable|work|works|worked|in stock|"
                       r"can|could|cannot|allowed)\b|n't be\b|can't\b", re.I)
# a condition on what someone says or does in the conversation, or on a fact the reading does not check
_OTHER_PARTY = re.compile(r"\b(?:agent|they|he|she|someone|anyone|asks?|asked|says?|said|tells?|told|offers?|"
                          r"propos\w*|confirm\w*|agrees?|insists?|help|allow\w*|let)\b|\$|\d|\b(?:price|cost|"
                          r"cheaper|expensive|less than|more than|over|under|above|below|shipped|arriv\w*|"
                          r"deliver\w*|time|days?|weeks?|still)\b", re.I)
_PARTIAL = re.compile(r"\b(?:cancel\w*|remov\w*|delet\w*)\b.{0,30}\b(?:partial\w*|part|one|some|single|"
                      r"individual|just|only|an?)\b.{0,12}\b(?:items?|things?|products?|of (?:the|an|my|your) "
                      r"order)\b|\b(?:partial|partially)\b.{0,20}\bcancel\w*", re.I)
_REMOVE = re.compile(r"\b(?:remove|take (?:it |them )?(?:off|out)|delete|drop)\b", re.I)
_PAY_CHANGE = re.compile(r"\bchange (?:the |my |your )?payment(?: method)? to\b", re.I)
_ANAPHOR = re.compile(r"\b(?:it|them|this one|that one|these|those|this|that|the same one|one|the item|the product)\b",
                      re.I)
_OTHER_ONE = re.compile(r"\bthe other (?:one|item|ones|items)\b", re.I)
_CHEAPER_ONE = re.compile(r"\bthe (more|less) expensive (?:one|item)\b|\bthe (cheaper|cheapest|pricier|priciest|"
                          r"dearer|dearest)\s+(?:one|item)\b", re.I)
_ASKED = re.compile(r"\b(?:if|when|once)\s+(?:the agent |they |he |she |someone )?(?:asks?|asked)\b", re.I)
_UNNEEDED = re.compile(r"\b(?:no longer|don'?t|do not|won'?t|will not) (?:need|want)\b", re.I)
_REFUND = re.compile(r"\b(?:full|complete) refund|\b(?:get|want|need|receive|request|like) (?:a |my )?refund\b|"
                     r"\bmoney back\b|\brefund (?:me|it|them)\b", re.I)
_REASON = re.compile(r"\b(?:because|since|due to|given that|as i|as you|as we|so that|so i|so you)\b|,\s*so\b|"
                     r"\b(?:found|find|buy|get) (?:it|them|the same \w+|a better \w+|\w+ cheaper)\b", re.I)


def _fallback(sentence: str) -> tuple[str, str] | None:
    """(condition, what to do) when the sentence says what to do if something cannot be done; None otherwise.
    The condition is "" when it only says "otherwise", or names the request it is about ("removing one item")."""
    m = _ELSE.match(sentence)
    if m:
        return "", m.group("then")
    m = _IF.match(sentence)
    if not m:
        return None
    cond = m.group("cond")
    if _rule(cond) is False and _NOT.search(cond):
        return cond, m.group("then")
    if not (_NOT.search(cond) and _POSSIBLE.search(cond)) or _OTHER_PARTY.search(cond):
        return None
    rest = [w for w in re.findall(r"[a-z']+", cond.lower()) if w not in _PLAIN_CONDITION]
    if rest and _cond_kind(cond) is None:
        return None  # "if you can't get a coupon": a condition on something else
    return cond, m.group("then")


_PLAIN_CONDITION = {"this", "that", "it", "they", "there", "so", "is", "are", "was", "were", "be", "isn't", "aren't",
                    "not", "no", "possible", "available", "in", "stock", "work", "works", "doable", "an", "option",
                    "a", "way", "any", "to", "do", "the", "same", "item", "items", "one", "does", "doesn't",
                    "don't", "can", "can't", "cannot", "done", "exact", "that's", "it's", "isnt", "n't"}


def _if_possible(sentence: str) -> tuple[str, str] | None:
    """(condition, what to do) for "if <something> is possible, <do this>" (the opposite of a fallback)."""
    m = _IF.match(sentence)
    if not m or _NOT.search(m.group("cond")) or not re.search(r"\bpossible\b", m.group("cond"), re.I):
        return None
    return m.group("cond"), m.group("then")


def _rule(cond: str) -> bool | None:
    """Whether what a condition speaks of can be done under the shop's rules, when the words say so on their own:
    part of an order cannot be cancelled, an item cannot be removed from one. None: the words do not say."""
    if _PARTIAL.search(cond) or re.search(r"\bremov\w*\b.{0,20}\b(?:items?|one|it|them)\b", cond, re.I):
        return False
    return None


def _kind(verb: str) -> str:
    return {"swap": "exchange", "switch": "exchange", "replace": "exchange", "modify": "exchange",
            "upgrade": "exchange", "downgrade": "exchange", "adjust": "exchange", "update": "exchange",
            "change": "exchange", "send back": "return", "unneeded": "cancel", "refund": "return"}.get(verb, verb)


def _cond_kind(cond: str) -> str | None:
    """The kind of request a condition names ("if it cannot be returned": return), or None."""
    m = re.search(r"\b(return|exchang|swap|switch|chang|modif|upgrad|cancel|remov|refund)\w*", cond, re.I)
    if not m:
        return None
    word = m.group(1).lower()
    return {"exchang": "exchange", "swap": "exchange", "switch": "exchange", "chang": "exchange",
            "modif": "exchange", "upgrad": "exchange", "remov": "remove", "refund": "return"}.get(word, word)


def _sentence_methods(sentence: str, snap: dict[str, Any]) -> set[str]:
    """The payment methods a sentence names (ids or words); raises ``Unsure`` when words fit several."""
    ids = _method_ids(sentence, snap)
    if ids:
        return set(ids)
    found = _payment(sentence, snap)
    return {found} if found else set()


def _preferred_method(sentence: str, snap: dict[str, Any]) -> set[str]:
    """"you prefer PayPal over a gift card": the method named first after "prefer"."""
    m = re.search(r"\bprefer\w*\b(.*)", sentence, re.I)
    if not m:
        return set()
    first = re.split(r"\b(?:than|over|rather than|to|instead of|but|and then|then)\b|>|,", m.group(1), maxsplit=1)[0]
    return _sentence_methods(first, snap)


def _earlier_items(ctx: _Context, before: str, pool: list[_Item], hints: list[tuple[str, str]]) -> list[_Item]:
    """The items "it" or "them" stands for: the last ones named before, in the same sentence or earlier."""
    parts = [p for p in re.split(r"(?<=[.!?;])\s+|\n+|,\s*(?:and\s+)?|\s+and\s+", before) if p.strip()]
    for part in reversed(parts[-6:]):
        try:
            found = _resolve_items(part, pool, allow_all=False, hints=hints)
        except Impossible:
            raise
        except Unsure:
            return []
        if found:
            return found
    return []


def _apply(verb: str, segment: str, sentence: str, st: _State, ctx: _Context, context: list[_Item]) -> None:
    """One verb of a request, added to the state; raises ``Unsure`` (or ``Impossible``) when it cannot be settled.
    ``context`` holds the items a fallback's "it" or "that order" stands for."""
    snap, text, order_ids, hints = ctx.snap, ctx.text, ctx.order_ids, ctx.hints
    if _PAY_CHANGE.match(segment):
        return  # "change payment to …" names the method for that order's requests
    if "the listed items" in segment and not _mentions_any(segment.replace("the listed items", ""), snap):
        return
    ref = re.search(r"same (?:address )?as (?:order |in order |my order )?#?(W\d{7})", sentence, re.I)
    in_sentence = [o for o in order_ids if o.lstrip("#").lower() in sentence.lower()
                   and not (ref and o == "#" + ref.group(1).upper())]
    context_orders = list(dict.fromkeys(x.order["order_id"] for x in context))
    same_order = list(dict.fromkeys(x.order["order_id"] for x in st.items)) if re.search(
        r"\b(?:in|from|of) the same order\b", sentence, re.I) and not in_sentence else []
    seg_orders = [o for o in in_sentence if o.lstrip("#").lower() in segment.lower()] or in_sentence or \
        context_orders or same_order
    if not seg_orders and len(order_ids) == 1:  # the one order the message names, unless the words name another's item
        inside = _eligible(snap, ("delivered", "pending", "pending (item modified)", "processed"), order_ids)
        outside = _eligible(snap, ("delivered", "pending", "pending (item modified)", "processed"), [])
        names = {x.item["name"] for x in inside}
        if not any(_mention_strength(segment, x.item["name"]) for x in outside if x.item["name"] not in names):
            seg_orders = list(order_ids)
    at = text.find(sentence)
    before = (text[:at] if at >= 0 else "") + sentence[: max(sentence.find(segment), 0)]
    pending_states = ("pending", "pending (item modified)")

    def items_of(pool: list[_Item], allow_all: bool = True) -> list[_Item]:
        other = _OTHER_ONE.search(segment)
        found = _resolve_items(segment[: other.start()] if other else segment, pool, allow_all=allow_all, hints=hints)
        if other and (found or st.items):  # "the lamp and the other one too", "… and the other one too"
            before_items = found or st.items
            names = {x.item["name"] for x in before_items}
            everywhere = [x for x in _eligible(snap, ("delivered", "pending", "processed"), [])
                          if x.item["name"] in names and all(x.item is not y.item for y in before_items)]
            others = [x for x in pool if any(x.item is y.item for y in everywhere)]
            if len(everywhere) != 1 or len(others) != 1:
                raise Unsure("which other item is meant is not clear, or it cannot be done the same way")
            found = found + others
        if not found and _ANAPHOR.search(segment[len(verb):][:40]):  # "return it", "cancel that one as well"
            found = [x for x in context if any(x.item is y.item for y in pool)] or \
                _earlier_items(ctx, before, pool, hints)
        cheap = _CHEAPER_ONE.search(segment)
        if cheap and len(found) > 1:  # "the more expensive one" of the two named
            word = (cheap.group(1) or cheap.group(2)).lower()
            top = max if word in {"more", "pricier", "priciest", "dearer", "dearest"} else min
            best = top(x.item["price"] for x in found)
            found = [x for x in found if x.item["price"] == best]
            if len(found) != 1:
                raise Unsure("the items cost the same; which one is meant is not clear")
        return found

    if re.search(r"(?<!e-mail )(?<!email )\baddress\b", segment, re.I) or verb.startswith("ship"):
        target = _address_target(segment, sentence, snap, text)
        head = re.split(r"\bto\b", segment, maxsplit=1)[0]
        if re.search(r"\b(?:user|default|profile|account|home)\b[^.]{0,20}\baddress", head, re.I) or \
                re.search(r"\b(?:user|default|profile|account)\s+address", sentence, re.I) and \
                re.search(r"\b(?:and|along with|as well as|plus) (?:also )?(?:my |your |the )?"
                          r"(?:user |default |profile )+address", sentence, re.I):
            st.default_address = target
        pending = [o for o in snap["orders"] if o["status"] in pending_states]
        if _ALL_PENDING.search(segment):
            chosen = pending
        elif seg_orders:
            chosen = [o for o in snap["orders"] if o["order_id"] in seg_orders]
        elif re.search(r"\border", head, re.I):
            by_city = [o for o in pending if _has(_places(head), o["address"]["city"])]
            by_item = [x.order for x in _resolve_items(head, _eligible(snap, ("pending",), []), allow_all=False)]
            chosen = by_city or list({o["order_id"]: o for o in by_item}.values()) or pending
            if len(chosen) > 1:  # "my wrong order": the one not already going there
                chosen = [o for o in chosen if not _same_address(o["address"], target)] or chosen
            if len(chosen) != 1:
                raise Unsure("which order's address to change is not clear")
        else:
            chosen = []
        for o in chosen:
            if o["status"] not in pending_states and ctx.strict:
                raise Impossible(f"order {o['order_id']} has left the warehouse; its address cannot change")
            if not _same_address(o["address"], target):
                st.addresses[o["order_id"]] = target
        if not chosen and st.default_address is None:
            raise Unsure("which address to change is not clear")
        return
    if verb == "unneeded":  # "you no longer need the boots": cancelled if the order has not left yet
        found = _resolve_items(segment, _eligible(snap, pending_states + ("delivered", "processed"), seg_orders),
                               allow_all=False, hints=hints)
        if not found:
            return
        if any(x.order["status"] not in pending_states for x in found):
            raise Unsure("some of the items no longer needed have already been sent")
        _apply("cancel", "cancel " + segment, sentence, st, ctx, found)
        return
    if verb == "refund":  # "I want a full refund" for an item: returned if delivered, cancelled if not sent yet
        scope = _eligible(snap, ("delivered",) + pending_states, seg_orders)
        found = items_of(scope)
        if not found and len(seg_orders) == 1 and re.search(r"\b(?:the|this|that|my|your|current) order\b", segment,
                                                            re.I):
            found = scope  # "not receive the current order and get a full refund"
        states = {x.order["status"] in pending_states for x in found}
        if not found or len(states) > 1:
            raise Unsure("which item the refund is for is not clear")
        if states == {False}:
            _apply("return", segment, sentence, st, ctx, found)
        else:
            _apply("cancel", segment, sentence, st, ctx, found)
        return
    if verb == "cancel" or _REMOVE.match(segment):
        if _ALL_PENDING.search(segment):
            chosen_ids = [o["order_id"] for o in snap["orders"] if o["status"] in pending_states]
            named: list[_Item] = []
        else:
            whole_order = bool(re.search(r"^\w+\s+(?:\w+\s+)?(?:the |my |your |this |that |whole |entire |full |"
                                         r"complete |pending )*orders?\b", segment, re.I))
            named = [] if whole_order and not context else items_of(
                _eligible(snap, pending_states, seg_orders), allow_all=False)
            if not named and context and not whole_order:
                named = list(context)
            if named:
                chosen_ids = list(dict.fromkeys(x.order["order_id"] for x in named))
            elif seg_orders:
                chosen_ids = seg_orders
            else:
                elsewhere = _resolve_items(segment, _eligible(snap, ("processed", "delivered"), []), allow_all=False)
                if elsewhere:
                    st.items = elsewhere
                    raise Impossible(f"the {elsewhere[0].item['name']} has been sent; only a pending order can be "
                                     "cancelled")
                raise Unsure("which order to cancel is not clear")
        if named:
            st.items = named
            if not re.search(r"\b(?:whole|entire|full|complete)\b", segment, re.I):
                for x in named:
                    if any(i["name"] not in {y.item["name"] for y in named} for i in x.order["items"]):
                        raise Impossible(f"only whole orders can be cancelled and {x.order['order_id']} holds "
                                         "other items too")
        if _REMOVE.match(segment) and named:
            raise Impossible("an item cannot be removed from an order; only the whole order can be cancelled")
        if not chosen_ids:
            raise Unsure("there is no pending order to cancel")
        by_id = {o["order_id"]: o for o in snap["orders"]}
        for oid in chosen_ids:  # the action refuses it and says why; a fallback the customer gave applies instead
            if by_id.get(oid, {}).get("status") not in pending_states and ctx.strict:
                raise Impossible(f"order {oid} is no longer pending and cannot be cancelled")
        reason = _cancel_reason(segment, sentence, before, (ctx.around, *ctx.details))
        for oid in chosen_ids:
            st.cancels[oid] = reason
        return
    if verb == "return" or verb.startswith("send back"):
        if not re.search(r"[a-z0-9]", segment[len(verb):], re.I):
            return  # "… when you return": the verb alone names nothing
        pool = _eligible(snap, ("delivered",), seg_orders)
        items = items_of(pool)
        if items and re.search(r"\b(?:pending|just (?:ordered|placed)|not (?:yet )?(?:arrived|delivered|"
                               r"received))\b", segment, re.I):
            items = []  # "return the pending lamp" is not the lamp that was delivered
        if not items:
            pending = _resolve_items(segment, _eligible(snap, ("pending", "processed"), seg_orders),
                                     allow_all=False) or ([x for x in context if x.order["status"] != "delivered"]
                                                          if _ANAPHOR.search(segment) else [])
            if pending:
                st.items = pending
                raise Impossible(f"the {pending[0].item['name']} has not been delivered yet and cannot be returned")
            raise Unsure("which delivered items to return is not clear")
        for x in items:  # an item asked for twice (a subject line repeating the message) is returned once
            to_return = st.returns.setdefault(x.order["order_id"], [])
            if all(y.item is not x.item for y in to_return):
                to_return.append(x)
        st.items = items
        return
    # exchange / change / modify: each named item with the words that follow it
    pool = _eligible(snap, ("delivered", "pending"), seg_orders)
    items = _resolve_items(segment, pool, allow_all=False, hints=hints)
    if not items and re.match(r"\w+ed\b", segment):  # "the puzzle in the same order also needs to be exchanged"
        items = _resolve_items(sentence[: sentence.find(segment)], pool, allow_all=False, hints=hints)
    if not items and re.match(r"\w+ (?:it|them)\b", segment):  # "you received a laptop and want to exchange it"
        earlier = sentence[: sentence.find(segment)]
        items = _resolve_items(earlier, pool, allow_all=False, hints=hints)
        if not items and context:
            items = [x for x in context if any(x.item is y.item for y in pool)]
        segment = earlier + " " + segment[segment.find(" "):]
    if not items and len(segment.split()) <= 2:
        return  # a bare verb ("Address change", a subject line) names nothing to change
    if not items:
        raise Unsure("which item to change is not clear")
    st.items = items
    for x in items:
        spec = segment
        if len({y.item["name"] for y in items}) > 1:
            strong, weak = _names_for(x.item["name"])
            starts = [m.start() for n in strong + weak for m in re.finditer(rf"\b{re.escape(n)}\b", segment, re.I)]
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
        like = _like_other(spec, x, snap)
        if like is not None:  # "to the same type as the one I already received"
            words = repr(like)
        new = _target_variant(words + " " + " ".join(ctx.preferences), x.item, variants, strict=ctx.strict)
        asked_to = st.changes.setdefault(x.order["order_id"], [])
        if all(y.item is not x.item for y, _ in asked_to):
            asked_to.append((x, new))


def _repeats(unit: _Unit, verbs: list[tuple[str, str]], sentence: str, snap: dict[str, Any]) -> bool:
    """The verbs only say the last request again ("return it because …", "return it for a full refund"): the
    same kind of request about "it", naming nothing new, with no word that adds a request ("also", "too")."""
    kinds = {_kind(v) for v, _, _ in unit.ops}
    if re.search(r"\b(?:other|too|as well|also|both|another|additionally|plus|all|every\w*)\b", sentence, re.I):
        return False
    return all(_kind(v) in kinds and re.search(r"\b(?:it|them|the item|the product)\b", seg[len(v):], re.I)
               and not _mentions_any(seg, snap)
               and not re.search(r"#?\bW\d{7}\b|\d{10}|\{", seg) for v, seg in verbs)


def _run(ops: list[tuple[str, str, str]], sentence: str, st: _State, ctx: _Context, context: list[_Item],
         extra: str = "") -> _State | Unsure:
    """The state after one request's verbs, or why they cannot be done (an ``Impossible`` carries the items it
    spoke of in ``items``, for a fallback's "it")."""
    trial = st.copy()
    before = trial.orders()
    try:
        for verb, segment, where in ops:
            _apply(verb, segment, where, trial, ctx, context)
        named = _sentence_methods(sentence, ctx.snap) or (_sentence_methods(extra, ctx.snap) if extra else set())
    except Impossible as why:
        why.items = why.items or trial.items
        return why
    except Unsure as why:
        return why
    if len(named) > 1:
        return Unsure("more than one payment method is named for one request")
    touched = (trial.orders() - before) | {o for o in trial.orders() if o.lstrip("#") in sentence}
    for oid in touched:
        trial.methods.setdefault(oid, set()).update(named)
        if oid in trial.returns and named:
            method = next(iter(named))
            if method != _original(trial.returns[oid][0].order) and not method.startswith("gift_card"):
                return Impossible("a refund goes to the original payment method or a gift card",
                                  trial.returns[oid])
    return trial


_SAME_AS = re.compile(r"\bsame (?P<what>[a-z]+(?: [a-z]+)?) as (?:the one|the \w+|what|that|those|mine)\b[^.;]*?"
                      r"\b(?P<where>received|got|bought|own|have|had|delivered|other order|before|last time|"
                      r"already)\b|\b(?:the )?(?P<what2>type|kind|model|one|version|variant) (?:that is |that's |which is )?"
                      r"in (?:my|your|the) (?P<where2>pending|other) order\b", re.I)


def _like_other(spec: str, x: _Item, snap: dict[str, Any]) -> dict[str, str] | None:
    """The options of the customer's other item of the same product that the words point to ("the same type as
    the one you already received"): all of them, or the option named; None when the words say no such thing."""
    m = _SAME_AS.search(spec)
    if not m:
        return None
    where = (m.group("where") or m.group("where2")).lower()
    received = where in {"received", "got", "delivered", "already", "before", "last time"}
    others = [i for o in snap["orders"] if o["order_id"] != x.order["order_id"]
              and (o["status"] == "delivered" or not received) and (o["status"] == "pending" or where != "pending")
              for i in o["items"] if i["name"] == x.item["name"]]
    kinds = {tuple(sorted((str(k), str(v)) for k, v in i["options"].items())) for i in others}
    if len(kinds) != 1:
        raise Unsure(f"which other {x.item['name']} is meant is not clear")
    options = dict(next(iter(kinds)))
    what = (m.group("what") or m.group("what2")).lower()
    if what.split()[-1] in {"one", "model", "kind", "version", "item", "thing", "type", "variant", "options", "specs"}:
        return options  # "the same type as the one I received": that very variant
    keys = [k for k in options if _flat(k) == _flat(what) or _flat(k) == _flat(what.split()[-1])]
    if keys:
        return {keys[0]: options[keys[0]]}
    raise Unsure(f"“same {what}” is not an option of the {x.item['name']}")


def _referents(sentence: str, snap: dict[str, Any], order_ids: list[str]) -> set[str] | None:
    """The orders (and "address", "user") a sentence speaks of; None when it names none of them."""
    refs = {o for o in order_ids if o.lstrip("#").lower() in sentence.lower()}
    for o in snap["orders"]:
        if any(_mention_strength(sentence, i["name"]) for i in o["items"]):
            refs.add(o["order_id"])
    if re.search(r"\baddress", sentence, re.I):
        refs.add("address")
    return refs or None


def _interpret(text: str, snap: dict[str, Any], reading: Reading) -> None:
    original = text
    order_ids = list(dict.fromkeys("#" + m.upper() for m in re.findall(r"#?\b(W\d{7})\b", text, re.I)))
    own = {o["order_id"] for o in snap["orders"]}
    general: list[str] = []  # sentences that may name a payment method or a reason for every request
    ctx = _Context(snap, text, order_ids, [], [], general)
    units: list[_Unit] = []
    doubts: list[tuple[str, str]] = []  # (sentence, why): a condition or a change of mind, and what it touches
    mind = False
    pairs = _dict_pairs(text, snap, order_ids)
    if pairs:  # the pairs are read; what else the sentences ask is read without them
        text = _PAIR.sub(" the listed items ", text)
        ctx.text = text
    asked = False
    for sentence in _split_sentences(text):
        asked = asked or bool(_VERB.search(sentence))  # spoken of, even as a noun ("a return")
        hint = _HINT.search(sentence)
        if hint and not _sentence_ops(hint.group(2)):
            ctx.hints.append((hint.group(1), hint.group(2)))
            continue
        verbs = _sentence_ops(sentence)
        if _HOLD.search(sentence):
            continue
        if _MIND.search(sentence):
            mind = True
            doubts.append((sentence, "the customer may change their mind; a person confirms what to do"))
            continue
        if _conditional(sentence):
            pref = _PREFERENCE.search(sentence) or _PREFERENCE_IF.search(sentence)
            if pref:  # "if both are available, you prefer art": a tie-breaker, not a condition on the request
                ctx.preferences.append(sentence.split(",", 1)[-1] if pref.re is _PREFERENCE else pref.group(0))
                sentence = (sentence[: pref.start()] + sentence[pref.end():]).strip(" ,")
                verbs = _sentence_ops(sentence)
                if not verbs or _conditional(sentence):
                    continue
        if _conditional(sentence):
            fallback = _fallback(sentence)
            if fallback is not None:
                cond, then = fallback
                then_ops = _sentence_ops(then, passive=True)  # "see if it can be cancelled"
                if _conditional(then) or _MIND.search(then):
                    doubts.append((sentence, "the request depends on a condition; a person decides"))
                    continue
                kind = _cond_kind(cond)
                target = next((u for u in reversed(units) if kind is None or kind in
                               {"remove" if _REMOVE.match(seg) else _kind(v) for v, seg, _ in u.ops}), None)
                if target is None and _rule(cond) is False:
                    if then_ops:  # "if cancelling part of an order is not possible, cancel the whole order"
                        units.append(_Unit([(v, seg, then) for v, seg in then_ops], then))
                    continue
                if target is not None and target.fallback is None:
                    target.fallback = [(v, seg, then) for v, seg in then_ops]
                    target.fallback_sentence = then
                    continue
                doubts.append((sentence, "the request depends on a condition; a person decides"))
                continue
            possible = _if_possible(sentence)
            if possible is not None and _rule(possible[0]) is False:
                continue  # "if cancelling part of the order is possible, …": it is not, so that request falls
            if not verbs and (re.search(r"\b(?:pay\w*|refund\w*|charge\w*)\b", sentence, re.I) or _ASKED.search(sentence)):
                general.append(sentence)  # "if the agent asks how to pay, you prefer PayPal": a detail, not a request
                continue
            because = re.search(r"\bbecause\b", sentence, re.I)
            if because and verbs and not _sentence_ops(sentence[: because.end()]) \
                    and not _conditional(sentence[because.end():]):
                said = sentence[because.end():]  # "if asked, wait, because you also want to return the watch"
                units.append(_Unit([(v, seg, said) for v, seg in _sentence_ops(said)], said))
                continue
            if verbs or _ACTIONISH.search(sentence):
                reading.found = reading.found or bool(verbs)
                doubts.append((sentence, "the request depends on a condition; a person decides"))
            continue
        if _QUESTION.search(sentence) and not verbs or _ASKING.search(sentence):
            continue
        refund = _REFUND.search(sentence)
        if not verbs and refund and not _NEGATED.search(sentence[: refund.start()][-40:]):
            verbs = [("refund", sentence)]  # "the earbuds are faulty and I want a full refund"
        if not verbs and units and len(sentence.split()) <= 10 and not _WHETHER.search(sentence) and \
                re.search(r"\b(?:too|as well|also)\b", sentence, re.I) and (
                _OTHER_ONE.search(sentence) or _mentions_any(sentence, snap)):
            verbs = [(units[-1].ops[-1][0], units[-1].ops[-1][0] + " " + sentence)]  # "… and the other one too"
        unneeded = _UNNEEDED.search(sentence)
        if not verbs and unneeded and _mentions_any(sentence[unneeded.end():], snap):
            verbs = [("unneeded", sentence[unneeded.start():])]  # "I no longer need the boots and the watch"
        if verbs and units and _repeats(units[-1], verbs, sentence, snap):
            units[-1].sentence += " " + sentence  # "return it because …": the same request, said again
        elif verbs:
            units.append(_Unit([(v, seg, sentence) for v, seg in verbs], sentence))
        else:
            general.append(sentence)
    if not units and not pairs:
        if asked or doubts:
            reading.found = True
            raise Unsure(doubts[0][1] if doubts else
                         "the customer may change their mind; a person confirms what to do" if mind else
                         "the customer asks about it without wanting it done yet")
        return
    reading.found = True
    unknown = [o for o in order_ids if o not in own]
    if unknown:
        raise Unsure(f"order {unknown[0]} is not on the customer's account")
    st = _State()
    for x, new in pairs:
        st.changes.setdefault(x.order["order_id"], []).append((x, new))
    # each request on its own: what it cannot settle stays with it (and the orders it speaks of)
    for unit in units:
        loose = _loose_words(unit.sentence + " " + unit.fallback_sentence)
        if loose:
            doubts.append((unit.sentence, qualifiers.need(loose)))
            continue
        ctx.strict = unit.fallback is not None
        primary = _run(unit.ops, unit.sentence, st, ctx, [])
        ctx.strict = False
        if isinstance(primary, Impossible) and unit.fallback is not None:
            spoken = primary.items
            prefer = re.search(r"\bprefer", unit.fallback_sentence, re.I)
            if not unit.fallback and prefer:
                # "if no exact item is available, you prefer i5 over i7": the same request, with those preferences
                ctx.preferences.append(unit.fallback_sentence[prefer.start():])
                outcome = _run(unit.ops, unit.sentence, st, ctx, [])
                ctx.preferences.pop()
                if isinstance(outcome, Unsure):
                    doubts.append((unit.sentence + " " + unit.fallback_sentence, str(outcome)))
                else:
                    st = outcome
                continue
            if not unit.fallback and not _sentence_methods(unit.fallback_sentence, snap):
                doubts.append((unit.sentence + " " + unit.fallback_sentence, str(primary)))
                continue
            ops = unit.fallback or [(v, seg, unit.sentence) for v, seg, _ in unit.ops]  # only another method
            ctx.around = unit.sentence
            outcome = _run(ops, unit.fallback_sentence, st, ctx, spoken,
                           extra=unit.sentence if not unit.fallback else "")
            ctx.around = ""
            if isinstance(outcome, Unsure):
                doubts.append((unit.sentence + " " + unit.fallback_sentence, str(outcome)))
            else:
                st = outcome
        elif isinstance(primary, Unsure):
            doubts.append((unit.sentence, str(primary)))
        else:
            st = primary
    steps: list[tuple[str, dict[str, Any], str]] = []
    by_order = _order_methods(original, snap)
    general_methods: set[str] = set()
    general_unsure = ""
    for sentence in general:
        try:
            general_methods |= _preferred_method(sentence, snap) or _sentence_methods(sentence, snap)
        except Unsure as doubt:
            general_unsure = str(doubt)
    blocked: set[str] = set()
    whole = ""
    for sentence, reason in doubts:
        refs = _referents(sentence, snap, order_ids)
        if refs is None:
            whole = whole or reason
        else:
            blocked |= refs

    def method(oid: str, order: dict[str, Any]) -> str | None:
        if oid in by_order:
            return by_order[oid]
        named = st.methods.get(oid, set())
        if len(named) > 1:
            raise Unsure(f"two payment methods are named for order {oid}")
        if named:
            return next(iter(named))
        if general_unsure:
            raise Unsure(general_unsure)
        if len(general_methods) > 1:
            raise Unsure("more than one payment method is named")
        return next(iter(general_methods)) if general_methods else None

    # exchanges and item changes are one call per order, with every item of that order
    for oid, changed in st.changes.items():
        order = changed[0][0].order
        if order["status"] == "delivered":
            steps.append(("exchange_item", {"order_id": oid, "item_ids": [p[0].item["item_id"] for p in changed],
                                            "new_item_ids": [p[1]["item_id"] for p in changed],
                                            "payment_method_id": method(oid, order) or _original(order)},
                          "same product, options asked for: " + "; ".join(
                              f"{p[0].item['name']} → {p[1]['options']}" for p in changed)))
    for oid, address in st.addresses.items():
        steps.append(("change_shipping_address", {"order_id": oid, **address}, "the customer gave the new address"))
    for oid, changed in st.changes.items():
        order = changed[0][0].order
        if order["status"] == "pending" and any(p[0].item["item_id"] == p[1]["item_id"] for p in changed):
            raise Unsure(f"the options asked for on order {oid} are the ones it already has")
        if order["status"] == "pending":
            steps.append(("modify_order_items", {"order_id": oid, "item_ids": [p[0].item["item_id"] for p in changed],
                                                 "new_item_ids": [p[1]["item_id"] for p in changed],
                                                 "payment_method_id": method(oid, order) or _original(order)},
                          "pending order, options asked for: " + "; ".join(
                              f"{p[0].item['name']} → {p[1]['options']}" for p in changed)))
    if st.default_address is not None:
        steps.append(("update_default_address", {"user_id": snap["profile"]["user_id"], **st.default_address},
                      "the customer asked to change the address on the account"))
    for oid, reason in st.cancels.items():
        if oid in st.changes or oid in st.returns:
            raise Unsure(f"order {oid} is both to be cancelled and changed")
        steps.append(("cancel_order", {"order_id": oid, "reason": reason}, "the customer asked to cancel"))
    for oid, xs in st.returns.items():
        order = xs[0].order
        named = method(oid, order)
        if named and named != _original(order) and not named.startswith("gift_card"):
            doubts.append(("", "a refund goes to the original payment method or a gift card"))
            blocked.add(oid)
        steps.append(("return_items", {"order_id": oid, "item_ids": [x.item["item_id"] for x in xs],
                                       "payment_method_id": named or _original(order)},
                      "the customer asked to return " + ", ".join(x.item["name"] for x in xs)))
    if whole:
        raise Unsure(whole)
    firm = [s for s in steps if not _touches(s, blocked)]
    if doubts:
        reading.unsure = next(why for _, why in doubts)
    if not firm:
        raise Unsure(reading.unsure or "nothing to change: the records already match the request")
    reading.steps = firm


# what this reading applies: conditions (held, or read as fallbacks), exceptions (``_resolve_items``), and the
# superlatives that pick an option (``_target_variant``); any other superlative, bound or quantity goes to a person
_SUPERLATIVES_READ = re.compile(r"\b(?:cheapest|least expensive|lowest price|most expensive|priciest|highest price|"
                                r"maximum|max|highest|largest|biggest|minimum|min|lowest|smallest|fewest)\b", re.I)


def _loose_words(request: str) -> list[qualifiers.Qualifier]:
    """The qualifiers of one request that this reading does not apply."""
    binding = qualifiers.Binding(kinds={qualifiers.CONDITION, qualifiers.EXCEPTION})
    binding.uses(_SUPERLATIVES_READ, request)
    return qualifiers.unbound(request, binding, (qualifiers.SUPERLATIVE, qualifiers.BOUND, qualifiers.QUANTITY))


def _touches(step: tuple[str, dict[str, Any], str], blocked: set[str]) -> bool:
    action, args, _ = step
    if action == "update_default_address":
        return "address" in blocked or "user" in blocked
    if action == "change_shipping_address" and "address" in blocked:
        return True
    return str(args.get("order_id")) in blocked


def _order_methods(text: str, snap: dict[str, Any]) -> dict[str, str]:
    """Order → the payment method named in a sentence that names that order: a sentence that asks for something
    on it ("For #W…, exchange … via paypal_…") before one that only says "change payment to …"."""
    found: dict[str, dict[int, set[str]]] = {}
    for sentence in _split_sentences(text):
        ids = _method_ids(sentence, snap)
        if not ids:
            try:
                ids = sorted(_sentence_methods(sentence, snap))
            except Unsure:
                continue
        if not ids:
            continue
        strength = 1 if _PAY_CHANGE.search(sentence) and len(_sentence_ops(sentence)) <= 1 else 2
        copied = re.findall(r"same (?:address )?as (?:order |in order |my order )?#?(W\d{7})", sentence, re.I)
        for oid in re.findall(r"#?\b(W\d{7})\b", sentence, re.I):
            if oid.upper() in {c.upper() for c in copied}:
                continue
            found.setdefault("#" + oid.upper(), {}).setdefault(strength, set()).update(ids)
    out: dict[str, str] = {}
    for oid, by_strength in found.items():
        best = by_strength[max(by_strength)]
        if len(best) > 1:
            raise Unsure(f"two payment methods are named for order {oid}")
        out[oid] = next(iter(best))
    return out
