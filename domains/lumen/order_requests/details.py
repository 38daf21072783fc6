"""The details a request carries beside its items: the payment method the customer named (an id, or words that
fit one of their methods), the reason for a cancellation, and the address they want (written out, copied from an
order, the account's, or one on record named by its city or by who lives there)."""

from __future__ import annotations

from typing import Any

from cx_core.entities import find_address
from cx_core.reading import addressing, comparing, cuts, paying
from cx_core.reading.phrases import has, normal

from .base import Unsure
from .items import _mention_strength
from .sentences import _PAY_CHANGE, _sentence_ops, _split_sentences, grammar
from .variants import _dicts


def _method_ids(text: str, snap: dict[str, Any]) -> list[str]:
    """Payment method ids written out (``gift_card_7219486``); raises ``Unsure`` for one that is not the
    customer's."""
    own, strangers = paying.ids_written(text, snap.get("payment_methods", []))
    if strangers:
        raise Unsure(f"payment method {strangers[0]} is not on the customer's account")
    return own


def _payment(text: str, snap: dict[str, Any]) -> str | None:
    """The payment method the customer named, None when none; raises ``Unsure`` when the name fits several."""
    ids = _method_ids(text, snap)
    if len(ids) == 1:
        return ids[0]
    if ids:
        raise Unsure("more than one payment method is named")
    low = normal(text)
    named = paying.kinds_named(low)  # "on my gift card rather than PayPal": the gift card
    if not named:
        return None
    if len(named) > 1:
        raise Unsure("more than one payment method is named")
    methods = [m for m in snap.get("payment_methods", []) if paying.kind(m) == named[0]]
    brands = paying.brand_said(low, methods)
    if brands:
        methods = brands
    if len(methods) != 1:
        raise Unsure(f"the customer has {len(methods) or 'no'} {named[0].replace('_', ' ')} payment methods")
    return str(methods[0]["id"])


def _original(order: dict[str, Any]) -> str | None:
    return next((p["method"] for p in order.get("payments", []) if p["type"] == "payment"), None)


def _sentence_methods(sentence: str, snap: dict[str, Any]) -> set[str]:
    """The payment methods a sentence names (ids or words); raises ``Unsure`` when words fit several."""
    ids = _method_ids(sentence, snap)
    if ids:
        return set(ids)
    found = _payment(sentence, snap)
    return {found} if found else set()


def _preferred_method(sentence: str, snap: dict[str, Any]) -> set[str]:
    """"you prefer PayPal over a gift card": the method named first after "prefer"."""
    first = comparing.preferred(sentence)
    return set() if first is None else _sentence_methods(first, snap)


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
        copied = grammar().same_as.findall(sentence)
        for oid in grammar().record_id.findall(sentence):
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


def _cancel_reason(segment: str, sentence: str = "", before: str = "", more: tuple[str, ...] = (),
                   second: bool = False) -> str:
    """The reason for a cancellation: the one the request gives, or the message around it, or a detail given
    elsewhere ("if asked for the reason, say it was a mistake"). A reason other than a mistake ("we found it
    cheaper elsewhere", "I'll be away when it arrives") means it is no longer needed, and so does a cancellation
    wanted only as the ``second`` choice to another request ("if you won't take the lamp back, cancel the new one"):
    the order is no longer needed once the first cannot be done."""
    def said(text: str) -> str:
        low = normal(text)
        mistake, unneeded = bool(comparing.BY_MISTAKE.search(low)), bool(comparing.NO_NEED.search(low))
        if mistake and unneeded:
            raise Unsure("the message gives two reasons for cancelling")
        return "ordered by mistake" if mistake else "no longer needed" if unneeded else ""

    for text in (segment, sentence):
        if said(text):
            return said(text)
    last = cuts.pieces(before)[-1:]
    around = " ".join(last + [sentence or segment])
    if said(around):
        return said(around)
    for text in more:
        if text and said(text):
            return said(text)
    if second or comparing.REASON.search(around) or any(comparing.REASON.search(t) for t in more[:1] if t):
        return "no longer needed"
    raise Unsure("the reason for cancelling is not given (no longer needed, or ordered by mistake)")


def _address_target(segment: str, whole: str, snap: dict[str, Any], text: str = "") -> dict[str, str]:
    """The address a request asks for: written out, copied from an order, the one on the account, the one on
    record in a city named ("my NYC address", "my daughter's address" where she lives), or the new home an
    order of theirs was sent to."""
    for d in _dicts(segment):
        if {"address1", "city", "zip"} <= set(d):
            return {k: d.get(k, "") or "" for k in ("address1", "address2", "city", "state", "country", "zip")}
    found = find_address(segment, text or whole) or find_address(whole, text)
    if found:
        return {k: found.get(k, "") for k in ("address1", "address2", "city", "state", "country", "zip")}
    same = grammar().same_as.search(segment)
    if same:
        ref = next((o for o in snap["orders"] if o["order_id"] == "#" + same.group(1).upper()), None)
        if ref is None:
            raise Unsure("the order whose address is to be copied is not the customer's")
        return dict(ref["address"])
    if addressing.TO_ACCOUNT_ADDRESS.search(segment):
        return dict(snap["profile"]["address"])
    place = addressing.places(cuts.at_target(segment)[-1])
    known = {(a["address1"], a["zip"]): a for a in [o["address"] for o in snap["orders"]]
             + [snap["profile"]["address"]]}
    fields = ("address1", "address2", "city", "state", "country", "zip")
    person = addressing.SOMEONES.search(place)
    if person:  # "my daughter's address" and, elsewhere, "my daughter lives in Chicago"
        lives = addressing.lives(person.group(1)).search(text)
        place = addressing.places(lives.group(1)) if lives else ""
    named = [a for a in known.values() if a.get("city") and has(place, a["city"])]
    if len(named) == 1:  # "my NYC address": the one address on record in that city
        return {k: named[0].get(k, "") for k in fields}
    new_home = addressing.NEW_HOME.search(place)
    if new_home and not named:  # "the new home", where an order of theirs was sent ("… bought a lamp sent there")
        told = [x for x in cuts.pieces(text) if addressing.NEW_HOME.search(x)
                and x.strip() != whole.strip()]
        homes = {(o["address"]["address1"], o["address"]["zip"]): o["address"] for x in told
                 for o in snap["orders"] if any(_mention_strength(x, i["name"]) == 2 for i in o["items"])}
        if len(homes) == 1:
            return {k: next(iter(homes.values())).get(k, "") for k in fields}
    raise Unsure("the new address is not given in full")


def _same_address(a: dict[str, str], b: dict[str, str]) -> bool:
    return all((a.get(k) or "").strip().lower() == (b.get(k) or "").strip().lower()
               for k in ("address1", "address2", "city", "state", "zip"))
