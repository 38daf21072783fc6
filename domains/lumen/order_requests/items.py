"""Which of the customer's items the words name: by a product's names (strong: its name and aliases; weak: a
distinctive word of it), told apart by the order's state and the item's options when they own several of one
product, "everything" with its exceptions, and the orders a sentence speaks of."""

from __future__ import annotations

import re
from typing import Any

from cx_core import qualifiers
from cx_core.reading import comparing, cuts, language, naming, records
from cx_core.reading.phrases import flat

from .base import ORDER, Unsure, _Item
from .catalogue_words import catalogue


def _names() -> naming.Names:
    return naming.Names(catalogue())


def _names_for(product: str) -> tuple[list[str], list[str]]:
    return _names().of(product)


def _mention_strength(text: str, product: str) -> int:
    return _names().strength(text, product)


def _eligible(snap: dict[str, Any], statuses: tuple[str, ...], order_ids: list[str]) -> list[_Item]:
    own = [o for o in snap["orders"] if o["status"] in statuses]
    if order_ids:
        own = [o for o in own if o["order_id"] in order_ids]
    return [_Item(o, i) for o in own for i in o["items"] if i.get("status", "ordered") == "ordered"]


def _narrow(matches: list[_Item], head: str, name: str, hints: list[tuple[str, str]]) -> list[_Item]:
    """Among several items of one product, the one the words describe (status, options, a hint), or all."""
    if comparing.NOT_ARRIVED.search(head) or cuts.PLACED.search(head):
        matches = [x for x in matches if x.order["status"].startswith("pending")] or matches
    elif comparing.ARRIVED.search(head):
        matches = [x for x in matches if x.order["status"] == "delivered"] or matches
    if len({x.item["item_id"] + x.order["order_id"] for x in matches}) <= 1:
        return matches
    described = head + " " + " ".join(h for what, h in hints if _mention_strength(what, name))
    scores = [_names().option_words(x.item["options"], described) for x in matches]
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
    if exclude and not excluded and comparing.EVERY_ONE.search(include):
        raise Unsure(f"the exception “{exclude.strip()[:40]}” does not name an item of the order")
    # "cancel the coffee machine order but keep the air purifier one": what is kept is another order's, not an
    # exception to the things named
    if allow_all and comparing.EVERY_ONE.search(include):
        orders = {x.order["order_id"] for x in pool}
        if len(orders) != 1 and language.LATEST.search(include):  # "everything from my last order"
            newest = max((x.order for x in pool), key=lambda o: str(o.get("created_at") or ""))
            pool, orders = [x for x in pool if x.order is newest], {newest["order_id"]}
        if len(orders) != 1:
            raise Unsure("“everything” fits more than one order; the order number is needed")
        return [x for x in pool if x.item["name"] not in excluded]
    if not any(_mention_strength(include, n) for n in names):
        if len(fast := [n for n in names if naming.typed_fast(include, n)]) == 1:  # named, typed fast: that one alone
            return [x for x in pool if x.item["name"] == fast[0]]
        described = records.named(include, [{"name": n} for n in names])  # "my mesh wifi" (Wi-Fi Mesh System)
        if len(described) == 1:
            return [x for x in pool if x.item["name"] == names[described[0]]]
        orders = {x.order["order_id"] for x in pool}
        if len(orders) == 1 and len(pool) == 1 and cuts.it_or_the(ORDER).search(include):
            return pool  # "return it" about an order with a single item
        return []
    strengths = {n: _mention_strength(include, n) for n in names}
    best = max(strengths.values())
    chosen_names = [n for n, v in strengths.items() if v == best]
    said = [frozenset(w.rstrip("s") for w in _names().weak_said(include, n)) for n in chosen_names]
    apart = all(not (a & b) for i, a in enumerate(said) for b in said[i + 1:])  # "my doorbell and speaker order"
    if best == 1 and len(chosen_names) > 1 and not apart:
        raise Unsure(f"“{include.strip()[:60]}” could be any of: {', '.join(chosen_names)}")
    if best == 2:  # "the over-ear headphones and the 4-pack of smart plugs": a short name beside a full one
        chosen_names += _also_named(include, chosen_names, [n for n, v in strengths.items() if v == 1])
    head = cuts.at_target(include, ("to", "into", "for a", "for an", "for the", "for one"))[0]
    groups = {n: [x for x in pool if x.item["name"] == n] for n in chosen_names}
    if cuts.one_of_them(ORDER).search(include) and len(chosen_names) > 1:
        common = set.intersection(*({x.order["order_id"] for x in g} for g in groups.values()))
        if len(common) == 1:
            groups = {n: [x for x in g if x.order["order_id"] in common] for n, g in groups.items()}
    chosen = []
    for n, matches in groups.items():
        if len(matches) > 1 and _names().several(include, n):  # "all my small t-shirts": those the options describe
            scores = [_names().option_words(x.item["options"], head) for x in matches]
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
    if cuts.speaks_of("address").search(sentence):
        refs.add("address")
    return refs or None
