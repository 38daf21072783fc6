"""Which of an order's items a customer's words name: by the product's full name, by a misspelt one ("the smrat
tv"), or by the word that names the kind of product ("the thermostat" for the Smart Thermostat) when no other
item of the order is one."""

from __future__ import annotations

import re
from difflib import get_close_matches
from typing import Any

from cx_core.reading import comparing, cuts, language, records
from cx_core.wording import day, listed, money


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]{2,}", text.lower()))  # "tv" is a word of "Smart TV"


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 2 else word


def mentions_item(text: str, item: dict[str, Any], close: bool = False) -> bool:
    """The item's full product name appears in the text (singular or plural); with ``close``, each of its words
    of four letters or more may be misspelt by a letter or two ("smrat tv")."""
    name_words = {_stem(w) for w in _words(item["name"])}
    said = {_stem(w) for w in _words(text)}
    if not close:
        return bool(name_words) and name_words <= said
    return bool(name_words) and all(w in said or len(w) >= 4 and get_close_matches(w, said, n=1, cutoff=0.75)
                                    for w in name_words)


def pick_items(order: dict[str, Any], text: str) -> list[dict[str, Any]]:
    open_items = [i for i in order["items"] if i["status"] == "ordered"]
    if cuts.all_of("order").search(text):
        return open_items
    text = language.not_fine(text) or text  # "the smart plug in the same parcel is fine" names no item concerned
    listed = [{"name": i["name"]} for i in open_items]
    text = comparing.without_companions(text, lambda t: bool(records.named(t, listed)))  # "…came with my kettle"
    mentioned = [i for i in open_items if mentions_item(text, i)] or \
        [i for i in open_items if mentions_item(text, i, close=True)]  # "the smrat tv": a slip of the keyboard
    if not mentioned and len(described := records.named(text, [{"name": i["name"]} for i in open_items])) == 1:
        mentioned = [open_items[described[0]]]  # "my mesh wifi pack" (the Wi-Fi Mesh System)
    if not mentioned:  # "the thermostat": the kind of product, when the order holds one product of that kind
        said = {_stem(w) for w in re.findall(r"[a-z0-9]{2,}", text.lower())}
        kinds = {i["name"]: _stem(re.findall(r"[a-z0-9]{2,}", i["name"].lower())[-1]) for i in open_items
                 if re.search(r"[a-z0-9]{2}", i["name"].lower())}
        named = [i for i in open_items if kinds.get(i["name"]) in said]
        if len({i["name"] for i in named}) == 1 and list(kinds.values()).count(kinds[named[0]["name"]]) == 1:
            mentioned = named
    if mentioned:
        return mentioned[:1] if len({i["name"] for i in mentioned}) == 1 else mentioned
    return open_items if len(open_items) == 1 else []


def the_names(items: list[dict[str, Any]]) -> list[str]:
    """Items as a reply names them, each product once: ["the Soundbar", "the Smart TV"]."""
    return list(dict.fromkeys(f"the {i['name']}" for i in items))


def swap_words(order: dict[str, Any], args: dict[str, Any]) -> dict[str, str]:
    """What an exchange swaps, for its sentence: {"swap": "the exchange of the Coffee Machine for the silver one"}
    (the options that change), or {} when the records do not say."""
    items = {i["item_id"]: i for i in order.get("items", [])}
    old_ids, new_ids = list(args.get("item_ids") or []), list(args.get("new_item_ids") or [])
    if len(old_ids) != 1 or len(new_ids) != 1 or old_ids == new_ids or old_ids[0] not in items:
        return {}
    old = items[old_ids[0]]
    new = next((v for v in order.get("variants", {}).get(old["item_id"], []) if v["item_id"] == new_ids[0]), None)
    if new is None:
        return {}
    was = old.get("options") or {}
    keys = [k for k, v in (new.get("options") or {}).items() if was.get(k) != v]
    if not keys:
        return {}
    now = " ".join(str(new["options"][k]) for k in keys)
    before = " ".join(str(was[k]) for k in keys if was.get(k) is not None)
    return {"swap": f"the exchange of the {old['name']} for the {now} one",
            "change": f"the {old['name']} " + (f"from {before} to {now}" if before else f"to the {now} one")}


def cancelled_words(order: dict[str, Any]) -> dict[str, str]:
    """What a cancellation takes away and gives back, for its sentence: "the EV Charger and the Wi-Fi Mesh System",
    "$1,035.59"."""
    refundable = order.get("refundable")
    items = listed(the_names(order["items"]))
    return {"items": items, **({"paid": money(float(refundable))} if isinstance(refundable, int | float) else {})}


def planned_words(action: str, args: dict[str, Any], order: dict[str, Any] | None) -> dict[str, str]:
    """What a step read from the message is worded with: what a cancellation takes away, how a repair happens,
    what an exchange swaps."""
    if order is None:
        return {}
    if action == "book_repair":
        return repair_words(order, [i for i in order["items"] if i["item_id"] in args.get("item_ids", [])])
    if action == "return_items":
        return return_words(order, args)
    return cancelled_words(order) if action == "cancel_order" else swap_words(order, args)


def return_words(order: dict[str, Any], args: dict[str, Any]) -> dict[str, str]:
    """What a return sends back when it is part of the order ("the Smart Plug"), and whether it is collected from
    home (a large appliance, which is never posted), for its sentence."""
    ids = set(args.get("item_ids") or [])
    back = [i for i in order.get("items", []) if i["item_id"] in ids]
    words = {"items": listed(the_names(back))} if back and len(back) < len(order.get("items", [])) else {}
    return {**words, **({"collected": "yes"} if any(i.get("at_home") for i in back) else {})}


def repair_words(order: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, str]:
    """How a warranty repair happens (the knowledge base: large appliances at home, the rest collected) and the day
    the order was delivered, which puts it past the return window."""
    return {"visit": "a technician's visit at your home" if any(i.get("at_home") for i in items)
            else "its collection", **({"delivered": day(order["delivered_on"])} if order.get("delivered_on") else {})}


def pick_order(snap: dict[str, Any], ents: dict[str, Any], statuses: tuple[str, ...], text: str, whole: str = "",
               described: str = "") -> tuple[dict[str, Any] | None, str]:
    """The order a request is about, or (None, what to ask); the only order in ``statuses`` is not assumed when the
    ``whole`` message names an item of another order ("a refund for the dishwasher? I don't want it any more").
    When the request's own words name none, the ``described`` words may ("the silver washing machine you installed
    … can someone come out and fix it?": the message's only request)."""
    own = {o["order_id"]: o for o in snap["orders"]}
    named = [own[o] for o in ents.get("order_ids", []) if o in own]
    foreign = [o for o in ents.get("order_ids", []) if o not in own]
    if len(named) > 1:  # "order #W1 … my robot vacuum (order #W2)": the one holding the item the words name
        holding = [o for o in named if any(mentions_item(text, i) for i in o["items"])]
        named = holding if len(holding) == 1 else named
    if named:
        return named[0], ""
    if foreign:
        return None, f"we could not find order {foreign[0]} on your account; could you check the number?"
    candidates = [o for o in snap["orders"] if o["status"] in statuses]
    for words in dict.fromkeys([text, described]):  # the request's own words first
        by_item = [o for o in candidates if any(mentions_item(words, i) for i in o["items"])] if words else []
        if len(by_item) > 1:  # "…the washer on Monday, the charger on Tuesday. Could the washer come on Tuesday?"
            asked = language.asking(words)
            by_item = [o for o in by_item if any(mentions_item(asked, i) for i in o["items"])] or by_item
        hits = records.named(words, [{"items": o["items"]} for o in candidates])  # "the black mesh wifi one"
        if len(by_item) == 1 or len(hits) == 1:
            return by_item[0] if len(by_item) == 1 else candidates[hits[0]], ""
    elsewhere = any(mentions_item(whole, i) for o in snap["orders"] if o not in candidates for i in o["items"])
    if len(candidates) == 1 and not elsewhere:
        return candidates[0], ""
    if not candidates:
        return None, "we could not find an order on your account that this applies to; could you send the order number?"
    return None, "could you confirm the order number (it starts with #W)?"


def pick_new_variant(order: dict[str, Any], item: dict[str, Any], ents: dict[str, Any]) -> dict[str, Any] | None:
    wanted = {w.lower() for w in ents.get("colours", []) + ents.get("sizes", [])}
    size_map = {"small": "s", "medium": "m", "large": "l"}
    wanted |= {size_map[w] for w in wanted if w in size_map}
    if not wanted:
        return None
    best = None
    for v in order["variants"].get(item["item_id"], []):
        if v["item_id"] == item["item_id"] or not v["available"]:
            continue
        values = {str(x).lower() for x in v["options"].values()}
        score = len(values & wanted)
        same = len(values & {str(x).lower() for x in item["options"].values()})
        if score and (best is None or (score, same) > best[0]):
            best = ((score, same), v, False)
        elif best is not None and score and (score, same) == best[0]:
            best = (best[0], best[1], True)  # a tie: the customer has to choose
    return best[1] if best and not best[2] else None
