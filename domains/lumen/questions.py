"""The questions Lumen's planner asks when a request does not name enough: which items of an order, which of the
options an item is sold in (and that the one named is not)."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from cx_core.reading import topics
from cx_core.wording import day, listed, money

from .picking import the_names


def which_items(order: dict[str, Any], what: str, also: str = "") -> str:
    """The question for an order whose items the message does not name, naming them."""
    names = the_names(order["items"])
    asked = f"which items from order {order['order_id']} would you like to {what}"
    if len(names) > 6:  # too many to read out: the customer sees them in their account
        return f"{asked}{', ' + also if also else ''}?"
    return f"{asked} ({listed(names, 'or')}), {also}?" if also else f"{asked}: {listed(names, 'or')}?"


def exchange_question(order: dict[str, Any], chosen: list[dict[str, Any]], ents: dict[str, Any]) -> str:
    """What to ask when the new option is not settled, naming what exists: the options the item is sold in now,
    and, when the customer named one it does not come in, saying so."""
    if len(chosen) != 1:
        return which_items(order, "exchange", "and for which option (size or colour)")
    item = chosen[0]
    others = [v for v in order["variants"].get(item["item_id"], []) if v["available"] and v["item_id"] != item["item_id"]]
    if not others:
        return (f"the {item['name']} is not available in another option at the moment; would you like a return or a "
                "replacement of the same one instead?")
    wanted, fits = _fitting(others, ents)
    shown = fits or others
    # "available as a 2-pack in white, or a 3-pack…": a countable option takes its article
    offered = re.sub(r"(?<![\w-])(\d+-(?:pack|piece|set|seater))\b", r"a \1", options_said([v["options"] for v in shown[:6]]))
    if wanted and not fits:
        near = _own_kind_first(item, shown)
        lead = f"the {item['name']} does not come in {' '.join(wanted)}; " + (near or f"it is available as {offered}")
    else:
        lead = f"the {item['name']} is available as {offered}"
    return f"{lead}. Which would you like? If none of these suits you, you can return it for a refund instead."


def _own_kind_first(item: dict[str, Any], shown: list[dict[str, Any]]) -> str:
    """For an item sold in two kinds of option (a size and a colour), the options that keep the customer's own one
    of them first, then the rest, each with its price where it differs ("it comes in black, like yours, as the mop
    combo (at $399.00); it also comes as the mop combo in white (at $399.00)"), or '' when there is no such split."""
    own = {k: str(v) for k, v in (item.get("options") or {}).items()}
    if len(own) != 2:
        return ""
    near = [v for v in shown if sum(str(v["options"].get(k)) != x for k, x in own.items()) == 1]
    kept = [k for k in own if near and all(str(v["options"].get(k)) == own[k] for v in near)]
    if len(kept) != 1:
        return ""
    other = next(k for k in own if k != kept[0])
    said = f"it comes {_as(kept[0], own[kept[0]])}, like yours, " + listed(
        [_as(other, str(v["options"][other])) + _price(v, item) for v in near], last="or")
    rest = [v for v in shown if v not in near]
    if rest:
        said += "; it also comes " + listed([" ".join(_as(k, str(v["options"][k])) for k in sorted(
            own, key=_COLOUR.__contains__)) + _price(v, item) for v in rest], last="or")
    return said


_COLOUR = ("color", "colour")


def _as(key: str, value: str) -> str:
    """An option as a person names it: "in silver" for a colour, "as the 55 inch" for the rest."""
    return f"in {value}" if key in _COLOUR else f"as the {value}"


def _price(variant: dict[str, Any], item: dict[str, Any]) -> str:
    """" (at $399.00)" when an option costs other than the customer's own, else ''."""
    price = float(variant.get("price") or 0)
    return f" (at {money(price)})" if price and abs(price - float(item.get("price") or 0)) > 0.005 else ""


def _fitting(others: list[dict[str, Any]], ents: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The options the customer named (colours, sizes) and the variants on sale that have one of them."""
    wanted = [str(w).lower() for w in ents.get("colours", []) + ents.get("sizes", [])]
    return wanted, [v for v in others if wanted and set(wanted) & {str(x).lower() for x in v["options"].values()}]


def missing_option(order: dict[str, Any], item: dict[str, Any], ents: dict[str, Any]) -> str:
    """What an exchange of one item still needs, as the advisor reads it: the option the customer named when it is
    not sold ("the Washing Machine is not sold in black"), else only that the customer picks one."""
    others = [v for v in order["variants"].get(item["item_id"], []) if v["available"] and v["item_id"] != item["item_id"]]
    wanted, fits = _fitting(others, ents)
    if wanted and not fits:
        return f"the new option: the {item['name']} is not sold in {' '.join(wanted)}, so the customer picks one that is"
    return "the new option (the customer chooses among those sold)"


def options_said(options: list[dict[str, Any]]) -> str:
    """Options as a person says them: "black, white or blue"; "the standard model in black or white, or the mop
    combo in black" when they differ in two ways."""
    either = partial(listed, last="or")
    values = [[str(x) for x in o.values()] for o in options]
    if all(len(v) == 1 for v in values):
        return either([v[0] for v in values])
    if all(len(v) == 2 for v in values):
        groups: dict[str, list[str]] = {}
        for first, second in values:
            groups.setdefault(first, []).append(second)
        said = [f"{first} in {either(seconds)}" for first, seconds in groups.items()]
        return ", or ".join(said) if any(len(s) > 1 for s in groups.values()) else either(said)
    return "; ".join(", ".join(v) for v in values)


# the customer says the parcel is already on its way back: the return was made, not asked for
def sent_back(snap: dict[str, Any], ents: dict[str, Any], text: str) -> str | None:
    """For "I returned the lamp from order #W… last week, when is my refund?": what to tell the customer instead of
    arranging a return again (the return on record and when its refund comes, or that none is on record yet and
    what traces it); None when the message does not say the item was already sent back, or names no order."""
    if not topics.SENT_BACK.search(text):
        return None
    named = [o for o in snap.get("orders", []) if o["order_id"] in ents.get("order_ids", [])]
    if len(named) != 1:
        return None
    oid = named[0]["order_id"]
    if named[0].get("status") == "return requested":
        return (f"the return of order {oid} is on record: the refund goes to your original payment method as soon "
                "as the parcel is scanned at our warehouse")
    return (f"I can't see the return of order {oid} on our side yet; could you send us the tracking number or the "
            "drop-off receipt, so that we can trace the parcel?")


def also_moved(steps: list[Any], questions: dict[str, str], snap: dict[str, Any] | None, text: str) -> str:
    """A customer who moved and changes an order's address: the knowledge base leaves the account's address as it
    was, so ask whether it changes too, and name their other orders still due at the old address; '' otherwise."""
    moved = [st for st in steps if st.action == "change_shipping_address"]
    if not moved or snap is None or not topics.MOVED.search(text) or "address_change" in questions \
            or any(st.action == "update_default_address" for st in steps) \
            or snap.get("profile", {}).get("address", {}).get("address1") == moved[0].args.get("address1"):
        return ""
    changing = {st.args.get("order_id") for st in moved}
    old = {(o["address"]["address1"], o["address"]["zip"]) for o in snap["orders"] if o["order_id"] in changing}
    at_old = {o["order_id"]: o for o in snap["orders"] if o["order_id"] not in changing
              and (o["address"]["address1"], o["address"]["zip"]) in old}
    also = [f"order {o['order_id']} ({listed([i['name'] for i in o['items']])})" for o in at_old.values()
            if o["status"] == "pending"]
    # what can no longer follow them: an order already on its way, a technician's visit booked there
    gone = [f"order {o['order_id']} has already left for your old address, so its address can no longer change"
            for o in at_old.values() if o["status"] == "processed"]
    visits = [f"the technician's visit on {day(str(a['start']))} (order {a['order_id']}) is booked at your old address, "
              "so tell us if it should move with you" for a in snap.get("appointments") or []
              if a.get("status") == "booked" and (a.get("order_id") in at_old or a.get("order_id") in changing)]
    notes = "".join(f" {n[0].upper()}{n[1:]}." for n in gone + visits)
    return ((f"{listed(also)} {'is' if len(also) == 1 else 'are'} also due at your old address; shall I change "
             f"{'that' if len(also) == 1 else 'those'} too? And would" if also else "would")
            + " you also like the address on your account changed, so that future orders go there too?" + notes)
