"""Which option of the same product the words describe: the engine's reading of options
(``cx_core.reading.options``) with Lumen's catalogue words, option lists written out ("{'color': 'black'}") and
another item of the customer's as the model ("the same type as the one I already received")."""

from __future__ import annotations

import ast
import re
from typing import Any

from cx_core.reading import comparing, cuts, options
from cx_core.reading.phrases import flat

from .base import Unsure, _Item
from .catalogue_words import catalogue
from .items import _eligible, _mention_strength
from .sentences import _PAIR

_DICT = re.compile(r"\{[^{}]*\}")


def _dict_pairs(text: str, snap: dict[str, Any], order_ids: list[str]) -> list[tuple[_Item, dict[str, Any]]]:
    """"Product {options} to {options}" pairs: the item with exactly the first options, changed to the variant
    with the second (options not named stay as they are)."""
    out: list[tuple[_Item, dict[str, Any]]] = []
    used: set[tuple[str, int]] = set()
    for m in _PAIR.finditer(text):
        current, wanted = _dicts(m.group(2))[0], m.group(3)
        before = cuts.so_far(text[: m.start()])
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


def _target_variant(spec: str, item: dict[str, Any], variants: list[dict[str, Any]], strict: bool = False
                    ) -> dict[str, Any]:
    """The one option of the same product the words describe (``options.target_variant``), an option list written
    out in them included."""
    dicts = _dicts(spec)
    return dict(options.target_variant(spec, item, variants, catalogue(), listed=dicts[-1] if dicts else None,
                                       strict=strict))


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
    keys = [k for k in options if flat(k) == flat(what) or flat(k) == flat(what.split()[-1])]
    if keys:
        return {keys[0]: options[keys[0]]}
    raise Unsure(f"“same {what}” is not an option of the {x.item['name']}")
