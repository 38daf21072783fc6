"""Which variant of one thing the words describe, in any trade: values and the other words customers use for them,
a size step ("one size bigger"), a comparison with the current option ("a slightly lower resolution", "1000 more
pieces"), an extreme ("the maximum capacity"), a price ("the cheapest"), preferences that only break ties ("ideally
silver, rather than black"); options not spoken of stay as they are.

A thing is a mapping ``{"item_id", "name", "options": {key: value}}``; its variants are mappings ``{"item_id",
"options", "available", "price"}``. A pack brings the words of its catalogue (``OptionWords``); the grammar is here.
A choice the words leave open raises ``Unsure`` (a person reads it); one the records refuse raises ``Impossible``
(a fallback the customer gave applies)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cx_core.reading import comparing
from cx_core.reading.phrases import flat, has, normal


class Unsure(Exception):
    """The words leave the choice to a person; the message says why."""


class Impossible(Unsure):
    """The request is clear but cannot be done under the rules or with what is in stock (a fact of the records, not
    a doubt of the reading): a fallback the customer gave ("if not possible, …") applies. ``items`` are what the
    request spoke of, which the fallback's "it" stands for; ``ask`` the way forward, as a question to the customer."""

    def __init__(self, why: str, items: Sequence[Any] | None = None, ask: str = "") -> None:
        super().__init__(why)
        self.items = list(items or [])
        self.ask = ask


class OptionWords(Protocol):
    """A catalogue's words for its options, from the pack's data."""

    @property
    def value_words(self) -> Mapping[str, tuple[str, ...]]: ...  # option value → other words for it

    @property
    def size_words(self) -> Mapping[str, str]: ...  # "extra large" → "XL"

    @property
    def size_order(self) -> tuple[str, ...]: ...  # size codes, smallest first

    @property
    def size_pattern(self) -> str: ...  # a size word or code before "size"/"sized", or after "size"


# an amount with its unit that must be one of the thing's options: "256 gb", "6 ft", "1000 pieces"
_MEASURE = re.compile(r"\b\d+(?:\.\d+)?\s?(?:gb|tb|mb|inch|inches|ft|ml|l|mah|mp|x|bar|hours?|w|lbs|mm|cups?|"
                      r"liters?|pieces?|piece|degrees|%)(?![a-z])")
# "the same material and color": options named in a list after "same" or "keep"
_KEPT_LIST = r"(?:\w+\s+)?(?:[a-z]+(?:\s+[a-z]+)?\s+(?:and|or|&)\s+)?"
_KEPT = r"\b(?:same|keep(?:ing)?(?: the)?|current|existing)\s+" + _KEPT_LIST
_SAME = r"\b(?:same|keep(?:ing)?(?: the)?)\s+" + _KEPT_LIST
# other words every customer uses for an option value, whatever the trade ("the big one" of a large one); a
# pack's ``value_words`` add its catalogue's own
SAME_VALUE: Mapping[str, tuple[str, ...]] = {"large": ("big",), "small": ("little",), "grey": ("gray",),
                                             "gray": ("grey",)}
# words that name the thing compared, not an option: "a smaller one", "a lighter model"
_THING = frozenset({"one", "version", "model", "variant", "item", "kind"})


def _without(key: str) -> str:
    """"without the X", "no X", "non-X": the option said to be absent."""
    return rf"\b(?:no|without|non|not)\s*{re.escape(flat(key))}\b"


def wanted_options(spec: str, item: Mapping[str, Any], variants: Sequence[Mapping[str, Any]], words: OptionWords
                   ) -> dict[str, str]:
    """Option values the words ask for (a key → one value); raises ``Unsure`` on words it cannot place."""
    for phrase in comparing.INDIFFERENT.findall(normal(spec)):
        spec = re.sub(re.escape(phrase), " ", normal(spec))
    name_words = set(re.findall(r"[a-z]+", item["name"].lower()))
    text = " ".join(w for w in flat(spec).split() if w not in name_words)
    keys: dict[str, set[str]] = {}
    for v in variants:
        for k, x in v["options"].items():
            keys.setdefault(k, set()).add(str(x))
    wanted: dict[str, set[str]] = {}
    size_key = next((k for k in keys if k.lower() == "size"), None)
    if size_key:  # "medium sized", "size 8", "s size": the size, before the same words can mean anything else
        for m in list(re.finditer(words.size_pattern, text)):
            word = (m.group(1) or m.group(2) or "").lower()
            code = words.size_words.get(word, word)
            value = next((v for v in keys[size_key] if v.lower() in {word, code.lower()}), None)
            if value is not None:
                wanted.setdefault(size_key, set()).add(value)
                text = text.replace(m.group(0), " ")
    for key, values in keys.items():
        for value in values:
            _value_said(text, key, value, words, wanted)
        if "size" in key.lower() and not wanted.get(key) and key != size_key:
            for word, code in words.size_words.items():
                if code in values and has(text, word):
                    wanted.setdefault(key, set()).add(code)
    known = {flat(str(x)) for vals in keys.values() for x in vals}
    for amount in _MEASURE.findall(text):
        if not any(flat(amount).replace(" ", "") in k.replace(" ", "") for k in known):
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
        mentioned = has(text, key) or has(text, key.split()[-1]) and len(key.split()[-1]) > 3
        if mentioned and not re.search(_KEPT + re.escape(flat(key)), text):
            raise Unsure(f"the message speaks of the {key} without a value that can be matched")
    return out


def _value_said(text: str, key: str, value: str, words: OptionWords, wanted: dict[str, set[str]]) -> None:
    """Adds ``value`` of ``key`` to ``wanted`` when the words say it: a yes/no option by its key said with or
    without a "no"; a size letter or a bare number only beside the word "size"; any other by itself or by one of
    its other words."""
    low = value.lower()
    if low in {"yes", "no", "none"}:
        absent = re.search(_without(key), text)
        if (low in {"no", "none"} and absent) or (low == "yes" and has(text, key) and not absent):
            wanted.setdefault(key, set()).add(value)
        return
    if (value.isalpha() and value.isupper() and len(value) <= 3) or value.isdigit():
        if re.search(rf"\bsize (?:of )?{re.escape(low)}\b|\b{re.escape(low)} size\b", text):
            wanted.setdefault(key, set()).add(value)
        return
    if has(text, value) or any(has(text, w) for w in (*words.value_words.get(low, ()), *SAME_VALUE.get(low, ()))):
        wanted.setdefault(key, set()).add(value)


def soft_options(text: str, item: Mapping[str, Any], variants: Sequence[Mapping[str, Any]], words: OptionWords
                 ) -> dict[str, set[str]]:
    """What the customer would prefer ("prefer i5 over i7, and silver or black than other colors"): for each
    option, the values named first in each preference; words it cannot place are left out (a preference only
    breaks ties)."""
    out: dict[str, set[str]] = {}
    for clause in comparing.PREFERENCE.split(text):
        first = comparing.OVER.split(clause, maxsplit=1)[0]
        for part in re.split(r",|;|\band\b|\bor\b|/|\(|\)", first, flags=re.I):
            if not part.strip():
                continue
            try:
                found = wanted_options(part, item, variants, words)
            except Unsure:
                continue
            for key, value in found.items():
                out.setdefault(key, set()).add(value)
    return out


def rank(value: Any, words: OptionWords) -> float | None:
    """Where an option value stands among its kind: its number, its size code, or a low/medium/high word."""
    text = str(value)
    number = re.search(r"\d+(?:\.\d+)?", text)
    if number:
        return float(number.group(0))
    if text in words.size_order:
        return float(words.size_order.index(text))
    for scale in comparing.SCALES:
        if text.lower() in scale:
            return float(scale.index(text.lower()))
    return None


_Compare = tuple[str, bool, float | None, bool, str]


def comparison(spec: str, item: Mapping[str, Any], variants: Sequence[Mapping[str, Any]], words: OptionWords
               ) -> _Compare | None:
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
    keys = [k for k in item["options"] if all(rank(v["options"].get(k), words) is not None for v in variants)]
    named = [k for k in keys if what and (flat(what).startswith(flat(k)) or flat(k) in flat(what)
                                          or flat(k).split()[-1] == flat(what).split()[0])]
    stem = re.sub(r"(?:er|est)$", "", word)
    said = [w for w in flat(what).split() if w not in _THING]
    if what and not named:
        subject = said[0] if said else stem
        by_word = [k for k in keys if len(subject) >= 4 and flat(k).startswith(subject[:5])]
        known = {w for v in variants for k, x in v["options"].items() for w in flat(f"{k} {x}").split()}
        if by_word:
            named = by_word  # "a less bright one": brightness
        elif any(w not in known for w in said):
            raise Unsure(f"“{m.group(0).strip()}” needs a person to compare the options")
    by_stem = [k for k in keys if len(stem) >= 4 and flat(k).startswith(stem[:5])]
    key = (named or by_stem or (keys if len(keys) == 1 else [None]))[0]
    if key is None:
        raise Unsure(f"“{m.group(0).strip()}” needs a person to compare the options")
    amount = m.group("amount") or m.group("amount2")
    end = m.end() if (named and what and m.group("what")) or m.group("what2") else m.end("word")
    rest = spec[: m.start()] + " " + spec[end:]
    return key, word in comparing.UP, float(amount) if amount else None, bool(m.group("degree")), rest


@dataclass
class Described:
    """What the words ask of the new option: the values asked for (``wanted``), the options that may change to
    reach them (``free``), the values preferred (``soft``), and an extreme ("the maximum capacity", on
    ``extreme_key``) or a comparison with the current option (``compare``, see ``comparison``)."""

    wanted: dict[str, str]
    free: set[str]
    soft: dict[str, set[str]] = field(default_factory=dict)
    extreme: re.Match[str] | None = None
    extreme_key: str | None = None
    compare: _Compare | None = None


def target_variant(spec: str, item: Mapping[str, Any], variants: Sequence[Mapping[str, Any]], words: OptionWords,
                   listed: Mapping[str, str] | None = None, strict: bool = False) -> Mapping[str, Any]:
    """The one variant of the same thing the words describe (or ``listed``, the options written out: empty for
    the very same one again); raises ``Unsure`` otherwise, or ``Impossible`` when none in stock has what was asked
    for (with ``strict``, also when an option not spoken of would change)."""
    by_id = {v["item_id"]: v for v in variants}
    ids = {i for i in by_id if i != item["item_id"] and re.search(rf"(?<![\w#]){re.escape(str(i))}(?!\w)", spec)}
    if len(ids) == 1:
        return by_id[next(iter(ids))]
    if ids:
        raise Unsure("several item numbers are given for one item")
    cheapest, dearest = bool(comparing.CHEAPEST.search(spec)), bool(comparing.DEAREST.search(spec))
    if listed is not None and not listed:  # the same options: an identical replacement
        identical = by_id.get(item["item_id"])
        if identical is None or not identical["available"]:
            raise Unsure(f"the same {item['name']} is not available for a replacement")
        return identical
    asked = _listed(listed, variants) if listed else described(spec, item, variants, words, cheapest or dearest)
    if asked.wanted and asked.compare is None and not asked.soft and all(
            str(item["options"].get(k, "")).lower() == str(x).lower() for k, x in asked.wanted.items()):
        said = " ".join(str(x) for x in asked.wanted.values())  # "I wanted it in black" of a black one
        raise Impossible(f"the {item['name']} ordered is already {said}",
                         ask="which other option would you like instead?")
    fits = [v for v in variants if v["available"] and v["item_id"] != item["item_id"]
            and all(str(v["options"].get(k, "")).lower() == str(x).lower() for k, x in asked.wanted.items())]
    if asked.compare is not None:
        fits = _compared(fits, item, asked.compare, words)
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


def _listed(wanted: Mapping[str, str], variants: Sequence[Mapping[str, Any]]) -> Described:
    """What an option list asks for ("to {'color': 'black'}"), under the product's own option names."""
    keys = {k.lower(): k for v in variants for k in v["options"]}
    if any(k.lower() not in keys for k in wanted):
        raise Unsure("an option in the message is not one this product has")
    return Described({keys[k.lower()]: v for k, v in wanted.items()}, set())


def described(spec: str, item: Mapping[str, Any], variants: Sequence[Mapping[str, Any]], words: OptionWords,
              by_price: bool = False) -> Described:
    """What words ask of the new option: values, a size step, an extreme, a comparison, preferences; raises
    ``Unsure`` when they describe nothing, or compare in a way only a person can weigh. ``by_price``: the words
    pick by price, so every option not asked for may change."""
    spec_wo = comparing.BY_PRICE_WORDS.sub(" ", spec)
    spec_wo = size_step(spec_wo, item, words)
    extreme = comparing.EXTREME.search(normal(spec_wo))
    extreme_key = next((k for k in item["options"] if extreme and flat(k) in flat(extreme.group(2))), None)
    if extreme and extreme_key:
        spec_wo = re.sub(re.escape(extreme.group(0)), " ", normal(spec_wo), count=1)
    compare = comparison(spec_wo, item, variants, words)
    if compare is not None:  # "a slightly lower resolution", "1000 more pieces", "a shorter one"
        spec_wo = compare[4]
    relative = comparing.RELATIVE.search(spec_wo)
    if relative:
        raise Unsure(f"“{relative.group(0)}” needs a person to compare the options")
    parts = comparing.PREFERENCE.split(spec_wo, maxsplit=1)
    hard, soft_text = parts[0], (parts[1] if len(parts) > 1 else "")
    wanted = wanted_options(hard, item, variants, words)
    soft = soft_options(soft_text, item, variants, words) if soft_text.strip() else {}
    free = set(item["options"]) - set(wanted) if by_price else set()
    free |= set(soft) - set(wanted)
    if compare is not None:
        free.add(compare[0])
    if extreme and extreme_key:
        free.add(extreme_key)
    free -= {k for k in item["options"] if re.search(_SAME + re.escape(flat(k)), flat(spec))}
    if not wanted and not (by_price or extreme_key or compare):
        raise Unsure("the new option is not described")
    return Described(wanted, free, soft, extreme, extreme_key, compare)


def size_step(spec: str, item: Mapping[str, Any], words: OptionWords) -> str:
    """"One size bigger" written as the size it means ("size L"); raises ``Unsure`` past the first or last size."""
    step = comparing.SIZE_STEP.search(spec)
    size_key = next((k for k in item["options"] if k.lower() == "size"), None)
    sizes = words.size_order
    if step and size_key and str(item["options"][size_key]) in sizes:
        at = sizes.index(str(item["options"][size_key])) + (1 if step.group(1).lower() in comparing.STEP_UP
                                                            else -1)
        if not 0 <= at < len(sizes):
            raise Unsure("there is no size beyond the current one")
        spec = spec.replace(step.group(0), f" size {sizes[at]} ")
    return spec


def _compared(fits: list[Mapping[str, Any]], item: Mapping[str, Any], compare: _Compare, words: OptionWords
              ) -> list[Mapping[str, Any]]:
    """The options that stand above (or below) the current one as the comparison asks: by the amount it names, or
    the nearest ones for "slightly", or any."""
    key, up, amount, nearest, _ = compare
    now = rank(item["options"][key], words)
    if now is None:
        raise Unsure(f"the {key} options cannot be compared")
    ranked = [(v, r) for v in fits for r in [rank(v["options"].get(key), words)]
              if r is not None and (r > now if up else r < now)]
    if amount is not None:
        ranked = [(v, r) for v, r in ranked if abs(abs(r - now) - amount) < 1e-6]
    elif nearest and ranked:
        gap = min(abs(r - now) for _, r in ranked)
        ranked = [(v, r) for v, r in ranked if abs(r - now) == gap]
    return [v for v, _ in ranked]


def _kept(fits: list[Mapping[str, Any]], item: Mapping[str, Any], asked: Described, strict: bool
          ) -> list[Mapping[str, Any]]:
    """Options the customer did not speak of stay as they are, as far as the catalogue allows; with ``strict``,
    exactly (or ``Impossible``)."""
    wanted, free = asked.wanted, asked.free
    kept = [sum(str(v["options"].get(k)) == str(item["options"].get(k)) for k in item["options"]
                if k not in wanted and k not in free) for v in fits]
    if strict and max(kept) < len([k for k in item["options"] if k not in wanted and k not in free]):
        raise Impossible(f"no available {item['name']} has exactly the options asked for")
    return [v for v, n in zip(fits, kept, strict=True) if n == max(kept)]


def _preferred(fits: list[Mapping[str, Any]], item: Mapping[str, Any], asked: Described) -> list[Mapping[str, Any]]:
    """The options with the values the customer prefers, else those that keep the current ones, else all."""
    soft, wanted = asked.soft, asked.wanted
    preferred = [v for v in fits if all(str(v["options"].get(k)) in x for k, x in soft.items() if k not in wanted)]
    return preferred or [v for v in fits if all(str(v["options"].get(k)) == str(item["options"].get(k))
                                                for k in soft if k not in wanted)] or fits


def _extreme(fits: list[Mapping[str, Any]], extreme: re.Match[str], key: str) -> list[Mapping[str, Any]]:
    """The options with the highest (or lowest) number in ``key``: "the maximum capacity"."""
    top = max if extreme.group(1).lower() in comparing.TOP_WORDS else min
    best = top(_number(v, key) for v in fits)
    return [v for v in fits if _number(v, key) == best]


def _number(variant: Mapping[str, Any], key: str) -> float:
    found = re.search(r"\d+(?:\.\d+)?", str(variant["options"].get(key, "")))
    if not found:
        raise Unsure(f"the {key} options cannot be compared")
    return float(found.group(0))
