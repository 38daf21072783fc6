"""Which option of the same product the words describe: option lists ("{'color': 'black'}"), item numbers,
values and their other words, a size step, comparisons with the current option ("a slightly lower resolution"),
extremes and prices, preferences that break ties, and another item of the customer's as the model; options not
spoken of stay as they are."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from cx_core.reading import comparing

from .base import Impossible, Unsure, _Item
from .catalogue_words import catalogue
from .items import _eligible, _mention_strength
from .sentences import _PAIR, _flat, _has, _norm

_ITEM_ID = re.compile(r"(?<![\d#W])\d{10}(?!\d)")
_DICT = re.compile(r"\{[^{}]*\}")


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
    for scale in comparing.SCALES:
        if text.lower() in scale:
            return float(scale.index(text.lower()))
    return None


def _comparison(spec: str, item: dict[str, Any], variants: list[dict[str, Any]]
                ) -> tuple[str, bool, float | None, bool, str] | None:
    """A comparison with the current option ("a slightly lower resolution", "1000 more pieces", "a shorter one"):
    (option key, up, amount or None, nearest, the words without it); None when there is none. Raises ``Unsure``
    when it cannot be placed on one option whose values can be ordered ("a more fancy theme")."""
    found = [m for m in comparing.COMPARE.finditer(spec)
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
    return key, word in comparing.UP, float(amount) if amount else None, bool(m.group("degree")), rest


# "the same material and color": options named in a list after "same" or "keep"
_KEPT_LIST = r"(?:\w+\s+)?(?:[a-z]+(?:\s+[a-z]+)?\s+(?:and|or|&)\s+)?"


@dataclass
class _Described:
    """What the words ask of the new option: the values asked for (``wanted``), the options that may change to
    reach them (``free``), the values preferred (``soft``), and an extreme ("the maximum capacity", on
    ``extreme_key``) or a comparison with the current option (``compare``, see ``_comparison``)."""

    wanted: dict[str, str]
    free: set[str]
    soft: dict[str, set[str]] = field(default_factory=dict)
    extreme: re.Match[str] | None = None
    extreme_key: str | None = None
    compare: tuple[str, bool, float | None, bool, str] | None = None


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
    cheapest = bool(re.search(r"\b(?:cheapest|least expensive|lowest price)\b", spec, re.I))
    dearest = bool(re.search(r"\b(?:most expensive|priciest|highest price)\b", spec, re.I))
    if dicts and not dicts[-1]:  # "to {}": the same options, an identical replacement
        identical = by_id.get(item["item_id"])
        if identical is None or not identical["available"]:
            raise Unsure(f"the same {item['name']} is not available for a replacement")
        return identical
    asked = _listed(dicts[-1], variants) if dicts else _described(spec, item, variants, cheapest, dearest)
    if asked.wanted and asked.compare is None and not asked.soft and all(
            str(item["options"].get(k, "")).lower() == str(x).lower() for k, x in asked.wanted.items()):
        said = " ".join(str(x) for x in asked.wanted.values())  # "I wanted it in black" of a black one
        raise Impossible(f"the {item['name']} ordered is already {said}",
                         ask="which other option would you like instead?")
    fits = [v for v in variants if v["available"] and v["item_id"] != item["item_id"]
            and all(str(v["options"].get(k, "")).lower() == str(x).lower() for k, x in asked.wanted.items())]
    if asked.compare is not None:
        fits = _compared(fits, item, asked.compare)
    if not fits:
        raise Impossible(f"no available {item['name']} has the options asked for")
    fits = _kept(fits, item, asked, strict)
    if asked.soft:
        fits = _preferred(fits, item, asked)
    if asked.extreme and asked.extreme_key:
        fits = _extreme(fits, asked.extreme, asked.extreme_key)
    if cheapest or dearest:
        fits.sort(key=lambda v: v["price"], reverse=dearest)
        if len(fits) > 1 and fits[0]["price"] == fits[1]["price"]:
            raise Unsure("two options share the price asked for")
        return fits[0]
    if len(fits) > 1:
        raise Unsure(f"{len(fits)} options of the {item['name']} fit the description")
    return fits[0]


def _listed(wanted: dict[str, str], variants: list[dict[str, Any]]) -> _Described:
    """What an option list asks for ("to {'color': 'black'}"), under the product's own option names."""
    keys = {k.lower(): k for v in variants for k in v["options"]}
    if any(k not in keys for k in wanted):
        raise Unsure("an option in the message is not one this product has")
    return _Described({keys[k]: v for k, v in wanted.items()}, set())


def _described(spec: str, item: dict[str, Any], variants: list[dict[str, Any]], cheapest: bool, dearest: bool
               ) -> _Described:
    """What words ask of the new option: values, a size step, an extreme, a comparison, preferences; raises
    ``Unsure`` when they describe nothing, or compare in a way only a person can weigh."""
    spec_wo = re.sub(r"\b(?:cheapest|least expensive|lowest price|most expensive|priciest|highest price)\b",
                     " ", spec, flags=re.I)
    spec_wo = _size_step(spec_wo, item)
    extreme = re.search(r"\b(maximum|max|highest|largest|biggest|minimum|min|lowest|smallest|fewest)\s+"
                        r"([a-z][a-z ]*?)(?= capacity\b|[,.;]|$| and\b| but\b| with\b)", _norm(spec_wo))
    extreme_key = next((k for k in item["options"] if extreme and _flat(k) in _flat(extreme.group(2))), None)
    if extreme and extreme_key:
        spec_wo = re.sub(re.escape(extreme.group(0)), " ", _norm(spec_wo), count=1)
    compare = _comparison(spec_wo, item, variants)
    if compare is not None:  # "a slightly lower resolution", "1000 more pieces", "a shorter one"
        spec_wo = compare[4]
    relative = comparing.RELATIVE.search(spec_wo)
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
    return _Described(wanted, free, soft, extreme, extreme_key, compare)


def _size_step(spec: str, item: dict[str, Any]) -> str:
    """"One size bigger" written as the size it means ("size L"); raises ``Unsure`` past the first or last size."""
    step = re.search(r"\b(?:one|a) size (smaller|bigger|larger|up|down)\b", spec, re.I)
    size_key = next((k for k in item["options"] if k.lower() == "size"), None)
    sizes = catalogue().size_order
    if step and size_key and str(item["options"][size_key]) in sizes:
        at = sizes.index(str(item["options"][size_key])) + (1 if step.group(1).lower() in
                                                            {"bigger", "larger", "up"} else -1)
        if not 0 <= at < len(sizes):
            raise Unsure("there is no size beyond the current one")
        spec = spec.replace(step.group(0), f" size {sizes[at]} ")
    return spec


def _compared(fits: list[dict[str, Any]], item: dict[str, Any], compare: tuple[str, bool, float | None, bool, str]
              ) -> list[dict[str, Any]]:
    """The options that stand above (or below) the current one as the comparison asks: by the amount it names, or
    the nearest ones for "slightly", or any."""
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
    return [v for v, _ in ranked]


def _kept(fits: list[dict[str, Any]], item: dict[str, Any], asked: _Described, strict: bool
          ) -> list[dict[str, Any]]:
    """Options the customer did not speak of stay as they are, as far as the catalogue allows; with ``strict``,
    exactly (or ``Impossible``)."""
    wanted, free = asked.wanted, asked.free
    kept = [sum(str(v["options"].get(k)) == str(item["options"].get(k)) for k in item["options"]
                if k not in wanted and k not in free) for v in fits]
    if strict and max(kept) < len([k for k in item["options"] if k not in wanted and k not in free]):
        raise Impossible(f"no available {item['name']} has exactly the options asked for")
    return [v for v, n in zip(fits, kept, strict=True) if n == max(kept)]


def _preferred(fits: list[dict[str, Any]], item: dict[str, Any], asked: _Described) -> list[dict[str, Any]]:
    """The options with the values the customer prefers, else those that keep the current ones, else all."""
    soft, wanted = asked.soft, asked.wanted
    preferred = [v for v in fits if all(str(v["options"].get(k)) in x for k, x in soft.items() if k not in wanted)]
    return preferred or [v for v in fits if all(str(v["options"].get(k)) == str(item["options"].get(k))
                                                for k in soft if k not in wanted)] or fits


def _extreme(fits: list[dict[str, Any]], extreme: re.Match[str], key: str) -> list[dict[str, Any]]:
    """The options with the highest (or lowest) number in ``key``: "the maximum capacity"."""
    top = max if extreme.group(1).lower() in {"maximum", "max", "highest", "largest", "biggest"} else min
    best = top(_number(v, key) for v in fits)
    return [v for v in fits if _number(v, key) == best]


def _number(variant: dict[str, Any], key: str) -> float:
    found = re.search(r"\d+(?:\.\d+)?", str(variant["options"].get(key, "")))
    if not found:
        raise Unsure(f"the {key} options cannot be compared")
    return float(found.group(0))


def _like_other(spec: str, x: _Item, snap: dict[str, Any]) -> dict[str, str] | None:
    """The options of the customer's other item of the same product that the words point to ("the same type as
    the one you already received"): all of them, or the option named; None when the words say no such thing."""
    m = comparing.SAME_AS.search(spec)
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
