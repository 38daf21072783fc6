"""Which of the customer's items the words name: by a product's names (strong: its name and aliases; weak: a
distinctive word of it), told apart by the order's state and the item's options when they own several of one
product, "everything" with its exceptions, and the orders a sentence speaks of."""

from __future__ import annotations

import re
from difflib import get_close_matches
from typing import Any

from cx_core import qualifiers
from cx_core.reading import comparing, language, records
from cx_core.reading.phrases import flat, has

from .base import Unsure, _Item
from .catalogue_words import catalogue

# words of the language, not of the catalogue: they never name a product on their own either
_FUNCTION_WORDS = {"the", "and"}


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
    if any(has(text, n) or has(text, n + "s") for n in strong):
        return 2
    return 1 if any(has(text, w) for w in weak) else 0


def _typed_fast(text: str, product: str) -> bool:
    """The product's full name typed fast ("cfofee machine"): each word of it there, or one of five letters or more
    off by a letter or two."""
    said = set(re.findall(r"[a-z]+", text.lower()))
    words = re.findall(r"[a-z]+", product.lower())
    return len(words) > 1 and all(w in said or len(w) >= 5 and get_close_matches(w, said, n=1, cutoff=0.8)
                                  for w in words)


def _plural(text: str, product: str) -> bool:
    """The text speaks of several of this product ("both", "two", "all", or the plural name)."""
    strong, weak = _names_for(product)
    said = flat(text)
    if not product.lower().endswith("s") and any(a.endswith("s") and has(text, a) for a in strong[3:]):
        return True  # "bookshelves"
    for n in strong + weak:
        n = flat(n)
        if n.endswith("s") or not n:
            continue
        if re.search(rf"(?<![a-z0-9]){re.escape(n)}(?:s|es)(?![a-z0-9])", said) or re.search(
                rf"\b(?:both|two|three|all|these|them)\b(?: [a-z]+){{0,3}} {re.escape(n)}", said):
            return True
    return False


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
            n += bool(re.search(rf"\bsize {re.escape(v.lower())}\b|\b{re.escape(v.lower())} size\b", flat(text)))
            n += any(code == v and has(text, w) for w, code in catalogue().size_words.items())
        elif v.lower() not in {"yes", "no", "none"}:
            n += has(text, v)
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
    include = comparing.without_companions(include, lambda t: any(_mention_strength(t, n) for n in names) or bool(
        records.named(t, [{"name": n} for n in names])))  # "the speaker that came with my kettle": the speaker
    excluded = {n for n in names if _mention_strength(exclude, n)} if exclude else set()
    if exclude and not excluded:
        raise Unsure(f"the exception “{exclude.strip()[:40]}” does not name an item of the order")
    if allow_all and comparing.EVERY_ONE.search(include):
        orders = {x.order["order_id"] for x in pool}
        if len(orders) != 1 and language.LATEST.search(include):  # "everything from my last order"
            newest = max((x.order for x in pool), key=lambda o: str(o.get("created_at") or ""))
            pool, orders = [x for x in pool if x.order is newest], {newest["order_id"]}
        if len(orders) != 1:
            raise Unsure("“everything” fits more than one order; the order number is needed")
        return [x for x in pool if x.item["name"] not in excluded]
    if not any(_mention_strength(include, n) for n in names):
        if len(fast := [n for n in names if _typed_fast(include, n)]) == 1:  # named, typed fast: that one alone
            return [x for x in pool if x.item["name"] == fast[0]]
        described = records.named(include, [{"name": n} for n in names])  # "my mesh wifi" (Wi-Fi Mesh System)
        if len(described) == 1:
            return [x for x in pool if x.item["name"] == names[described[0]]]
        orders = {x.order["order_id"] for x in pool}
        if len(orders) == 1 and len(pool) == 1 and re.search(r"\b(?:it|this|that|the item|my order)\b", include, re.I):
            return pool  # "return it" about an order with a single item
        return []
    strengths = {n: _mention_strength(include, n) for n in names}
    best = max(strengths.values())
    chosen_names = [n for n, v in strengths.items() if v == best]
    if best == 1 and len(chosen_names) > 1:
        raise Unsure(f"“{include.strip()[:60]}” could be any of: {', '.join(chosen_names)}")
    if best == 2:  # "the over-ear headphones and the 4-pack of smart plugs": a short name beside a full one
        chosen_names += _also_named(include, chosen_names, [n for n, v in strengths.items() if v == 1])
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


def _also_named(text: str, strong: list[str], weak: list[str]) -> list[str]:
    """The one product named by a distinctive word outside the full names said ("smart" inside "smart plugs" names
    no smart speaker); none when that word would fit several."""
    rest = flat(text)
    for n in strong:
        for name in sorted(_names_for(n)[0], key=len, reverse=True):
            rest = re.sub(rf"(?<![a-z0-9]){re.escape(flat(name))}(?:e?s)?(?![a-z0-9])", " ", rest)
    found = [n for n in weak if _mention_strength(rest, n)]
    return found if len(found) == 1 else []


def _mentions_any(text: str, snap: dict[str, Any]) -> bool:
    return any(_mention_strength(text, i["name"]) for o in snap["orders"] for i in o["items"])


def _referents(sentence: str, snap: dict[str, Any], order_ids: list[str]) -> set[str] | None:
    """The orders (and "address", "user") a sentence speaks of; None when it names none of them."""
    refs = {o for o in order_ids if o.lstrip("#").lower() in sentence.lower()}
    for o in snap["orders"]:
        if any(_mention_strength(sentence, i["name"]) for i in o["items"]):
            refs.add(o["order_id"])
    if re.search(r"\baddress", sentence, re.I):
        refs.add("address")
    return refs or None
