"""Who pays, among the member's saved payment methods: the one the message names (its id, a card's last four
digits, its kind, a gift card's balance), the card that paid for a booking when money goes back, or a gift card or
certificate for what it holds with a card for the rest; otherwise the question that lets the member choose."""

from __future__ import annotations

from typing import Any

from cx_core.reading import arguments, conditions, language, numbers, paying, topics
from cx_core.recipes import Context, Unbound
from cx_core.wording import listed

from . import costs

_COUNT = {2: "two", 3: "three", 4: "four"}


def payment_split(ctx: Context) -> list[dict[str, Any]]:
    """A new booking paid in full by the one saved method the member named (or their only one), or by a gift card
    or certificate for what it holds with a card for the rest when the member says so; once its total is known
    (fares for every traveller, insurance, paid bags)."""
    kinds = _kinds_named(ctx, ctx.snapshot["user"].get("payment_methods") or [])
    held = [m for m in kinds if m.get("balance") is not None]  # a gift card or certificate pays what it holds
    cards = [m for m in kinds if m.get("balance") is None]
    # "my $250 gift card": of several alike, those whose balance is said; "both my gift cards": all of them
    if len(held) > 1 and len({_kind(m) for m in held}) < len(held) and not all(paying.every_one(ctx.text, m)
                                                                                 for m in held):
        held = _by_balance(ctx, held)
    # "my $150 certificate first, then my gift card, the rest on my Mastercard": each in turn, the card for the rest
    split = held and len(cards) == 1 and language.REMAINDER.search(ctx.text)
    method = None if split else payment(ctx)
    total = costs.booking_total(ctx.snapshot, dict(ctx.bound)) if {"flights", "passengers", "insurance",
                                                              "nonfree_baggages"} <= set(ctx.bound) else None
    if total is None:
        waiting = "the flights are chosen" if "flights" not in ctx.bound else "every traveller is known"
        raise Unbound(f"the amount to charge (known once {waiting})")
    if method is not None:
        return [{"payment_id": method, "amount": total}]
    parts, left = [], float(total)
    for m in sorted(held, key=lambda m: _where_named(ctx.text, m)):
        if (part := round(min(float(m["balance"]), left), 2)) > 0:
            parts.append({"payment_id": m["id"], "amount": part})
            left = round(left - part, 2)
    return parts + ([{"payment_id": cards[0]["id"], "amount": left}] if left > 0 else [])


def _methods(ctx: Context) -> list[str]:
    """The saved payment methods that can pay for this, as one phrase: "your Visa card ending 1234 or your gift card
    ($80 left)" (a travel certificate pays only for a new booking; an empty gift card pays nothing)."""
    booking = "@reservations" not in ctx.bound
    rec = ctx.bound.get("@reservations") or {}
    need = costs.change_cost(ctx.bound, rec, ctx.snapshot) if rec and "flights" in ctx.bound else \
        costs.bags_cost(ctx.bound, rec) if rec and "nonfree_baggages" in ctx.bound else None
    labels = [f"your {m['label']}" for m in ctx.snapshot["user"].get("payment_methods") or []
              if (m["source"] == "credit_card" or float(m.get("balance") or 0) >= max(need or 0, 0.01))
              and (booking or m["source"] != "certificate")]  # a balance too small to pay it is not offered
    return labels or ["a saved payment method"]


def payment(ctx: Context) -> str:
    """The saved payment method the member named (its id, or a card's last four digits), or the only one saved;
    bags the free allowance covers cost nothing, so the card on file is named only for the record."""
    methods = ctx.snapshot["user"].get("payment_methods") or []
    rec = ctx.bound.get("@reservations") or {}
    cards_on_file = [m["id"] for m in methods if m.get("source") == "credit_card"]
    if rec and "nonfree_baggages" in ctx.bound and int(ctx.bound["nonfree_baggages"]) <= int(rec.get("nonfree_baggages") or 0) \
            and cards_on_file:
        return str(cards_on_file[0])
    ids = {m["id"] for m in methods}
    named = [p for p in ctx.entities.get("payment_ids") or [] if p in ids]
    if len(set(named)) == 1:
        return str(named[0])
    four = {str(f) for f in ctx.entities.get("last_four") or []}  # "the Visa ending 3261, not the one ending 1357"
    cards = [m["id"] for m in paying.by_last_four(ctx.text, methods, arguments.ruled_out_in_words)
             if str(m.get("last_four")) in four]  # a gift card's too
    if len(cards) == 1:
        return str(cards[0])
    kinds = _kinds_named(ctx, methods)
    on_file = [m for m in methods if m.get("source") == "credit_card"]
    card = topics.A_CARD.search(ctx.text)
    if len(kinds) == 1 and kinds[0].get("balance") is not None and len(on_file) == 1 and card \
            and conditions.under_condition(ctx.text, card.start()):
        kinds = [*kinds, on_file[0]]  # "my certificate; if certificates can't be used for bags, the card on file"
    if len(kinds) == 1:  # "charge my Mastercard", "use my gift card": the one of that kind
        return str(kinds[0]["id"])
    # "use my certificate, or if that's not possible my Visa": of the kinds named, the one that can pay this
    usable = _methods(ctx) if len(kinds) > 1 else []
    able = [m for m in kinds if f"your {m['label']}" in usable]
    if len(kinds) > 1 and len(able) == 1:
        return str(able[0]["id"])
    # "the gift card that has 150 on it, not the 200 one": of those that can pay, the one whose balance is said
    by_balance = _by_balance(ctx, [m for m in able or kinds if m.get("balance") is not None])
    if len(kinds) > 1 and len(by_balance) == 1:
        return str(by_balance[0]["id"])
    if len(methods) == 1:
        return str(methods[0]["id"])
    cards_saved = [m["id"] for m in methods if m.get("source") == "credit_card"]
    if len(cards_saved) == 1 and topics.A_CARD.search(ctx.text):
        return str(cards_saved[0])  # "my card on file": the member has one
    paid_with = {str(h.get("payment_id")) for h in rec.get("payment_history") or []} & set(cards_saved)
    cost = costs.change_cost(ctx.bound, rec, ctx.snapshot) if rec and "flights" in ctx.bound else None
    if len(paid_with) == 1 and cost is not None and cost <= 0 and (topics.A_CARD.search(ctx.text) or not kinds):
        return paid_with.pop()  # money back on this booking ("my card on file", or no method named): where it came from
    if len(cards_saved) > 1 and topics.A_CARD.search(ctx.text):  # "my card": which of their cards
        named_cards = [f"your {m['label']}" for m in methods if m.get("source") == "credit_card"]
        raise Unbound("which of the member's cards pays",  # "my card on file", and there are several
                      f"you have {_COUNT.get(len(named_cards), len(named_cards))} cards on file: which should we "
                      f"use, {listed(named_cards, last='or')}?")
    usable = _methods(ctx)
    back = cost is not None and cost < 0  # money back: where it goes, not what pays
    raise Unbound("which saved payment method pays" if not back else "which saved payment method the refund goes to",
                  (f"shall the difference go back to {usable[0]}?" if back else f"shall we charge it to {usable[0]}?")
                  if len(usable) == 1 else
                  f"which of your saved payment methods should {'the difference go back to' if back else 'we use'}: "
                  f"{', '.join(usable[:-1])} or {usable[-1]}?")


def _kind(method: dict[str, Any]) -> str:
    """What a member calls a saved payment method: its card's brand ("Mastercard"), "gift card", "certificate"."""
    return paying.name(method)


def _where_named(text: str, method: dict[str, Any]) -> int:
    return min(paying.where_named(text, method), default=len(text))


def _kinds_named(ctx: Context, methods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The saved methods whose kind the message names ("my Mastercard", "my gift card"), but one only ever named to
    be ruled out ("Do NOT charge the Mastercard you have on file")."""
    return [m for m in methods if paying.where_named(ctx.text, m, arguments.ruled_out_in_words)]


def _by_balance(ctx: Context, methods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of methods with a balance, those whose balance the message says ("my $250 gift card"), never one it sets
    aside ("not the 200 one")."""
    said = [n.value for n in numbers.find(ctx.text) if not language.contrasted(ctx.text, n.start)]
    return [m for m in methods if any(abs(float(m["balance"]) - a) < 0.005 for a in said)]
