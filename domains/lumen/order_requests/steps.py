"""Each request settled against the records (or what the customer wants instead when it cannot be done), and
the steps written from what was settled: one call per order and kind, with the payment method each goes with;
a request a person has to decide holds the orders it speaks of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cx_core import qualifiers
from cx_core.reading import comparing, cuts

from .base import Impossible, Reading, Unsure
from .details import _order_methods, _original, _preferred_method, _sentence_methods
from .items import _referents
from .state import _Context, _State, _Unit
from .verbs import _run

_Step = tuple[str, dict[str, Any], str]  # (action, args, why), ready for ``execute``


def _settle(unit: _Unit, st: _State, ctx: _Context, doubts: list[tuple[str, str]], refused: bool = False) -> _State:
    """The state after one request, or after what the customer wants instead when it cannot be done (with
    ``refused``, as if the rules refused the request as read); what it cannot settle goes to ``doubts`` and leaves
    the state as it was."""
    loose = _loose_words(unit.sentence + " " + unit.fallback_sentence)
    if loose:
        doubts.append((unit.sentence, qualifiers.need(loose)))
        return st
    ctx.strict = unit.fallback is not None
    primary = _run(unit.ops, unit.sentence, st, ctx, [])
    ctx.strict = False
    if refused and unit.fallback is not None and not isinstance(primary, Unsure):
        primary = Impossible("the rules refuse the first choice", items=primary.items)
    if isinstance(primary, Impossible) and unit.fallback is not None:
        return _fall_back(unit, primary, st, ctx, doubts)
    if isinstance(primary, Unsure):
        doubts.append((unit.sentence, _doubt(primary, ctx)))
        return st
    return primary


def _doubt(why: Unsure, ctx: _Context) -> str:
    """Why a request waits for a person; an impossible one keeps the way forward to ask the customer."""
    if isinstance(why, Impossible) and why.ask:
        ctx.asks[str(why)] = why.ask
    return str(why)


def _loose_words(request: str) -> list[qualifiers.Qualifier]:
    """The qualifiers of one request that this reading does not apply: it applies conditions (held, or read as
    fallbacks), exceptions (``_resolve_items``) and the superlatives that pick an option (``_target_variant``); any
    other superlative, bound or quantity goes to a person."""
    binding = qualifiers.Binding(kinds={qualifiers.CONDITION, qualifiers.EXCEPTION})
    binding.uses(comparing.SUPERLATIVE, request)
    return qualifiers.unbound(request, binding, (qualifiers.SUPERLATIVE, qualifiers.BOUND, qualifiers.QUANTITY))


def _fall_back(unit: _Unit, primary: Impossible, st: _State, ctx: _Context, doubts: list[tuple[str, str]]
               ) -> _State:
    """A request that cannot be done, replaced by the customer's fallback: its verbs (their "it" stands for the
    items the request spoke of), the same request with the preferences it gives, or only another payment
    method."""
    spoken = primary.items
    prefer = cuts.PREFERS.search(unit.fallback_sentence)
    if not unit.fallback and prefer:
        # "if no exact item is available, you prefer i5 over i7": the same request, with those preferences
        ctx.preferences.append(unit.fallback_sentence[prefer.start():])
        outcome = _run(unit.ops, unit.sentence, st, ctx, [])
        ctx.preferences.pop()
    elif not unit.fallback and not _sentence_methods(unit.fallback_sentence, ctx.snap):
        doubts.append((unit.sentence + " " + unit.fallback_sentence, _doubt(primary, ctx)))
        return st
    else:
        ops = unit.fallback or [(v, seg, unit.sentence) for v, seg, _ in unit.ops]  # only another method
        ctx.around = unit.sentence
        outcome = _run(ops, unit.fallback_sentence, st, ctx, spoken,
                       extra=unit.sentence if not unit.fallback else "")
        ctx.around = ""
    if isinstance(outcome, Unsure):
        doubts.append((unit.sentence + " " + unit.fallback_sentence, _doubt(outcome, ctx)))
        return st
    return outcome


def _write_steps(st: _State, ctx: _Context, original: str, doubts: list[tuple[str, str]], reading: Reading
                 ) -> None:
    """The steps of what was settled, in ``reading.steps``: one on an order a doubt speaks of waits for a person
    (``reading.unsure`` says why); raises ``Unsure`` when a doubt holds the whole message or no step is left."""
    payments = _payments(original, st, ctx)
    blocked, whole = _blocked(doubts, ctx.snap, ctx.order_ids)
    steps = _change_steps(st, payments, ctx.snap) + _return_steps(st, payments, doubts, blocked)
    if whole:
        raise Unsure(whole)
    firm = [s for s in steps if not _touches(s, blocked)]
    if doubts:
        reading.unsure = next(why for _, why in doubts)
    if not firm:
        raise Unsure(reading.unsure or "nothing to change: the records already match the request")
    reading.steps = firm


@dataclass
class _Payments:
    """The payment method each order's requests go with: the one a sentence naming the order gives, else the one
    its requests named, else the one the message names for every request (``unsure``: why that one is not
    clear)."""

    by_order: dict[str, str]
    named: dict[str, set[str]]
    general: set[str]
    unsure: str

    def method(self, oid: str) -> str | None:
        if oid in self.by_order:
            return self.by_order[oid]
        named = self.named.get(oid, set())
        if len(named) > 1:
            raise Unsure(f"two payment methods are named for order {oid}")
        if named:
            return next(iter(named))
        if self.unsure:
            raise Unsure(self.unsure)
        if len(self.general) > 1:
            raise Unsure("more than one payment method is named")
        return next(iter(self.general)) if self.general else None


def _payments(original: str, st: _State, ctx: _Context) -> _Payments:
    by_order = _order_methods(original, ctx.snap)
    general_methods: set[str] = set()
    general_unsure = ""
    for sentence in ctx.details:
        try:
            general_methods |= _preferred_method(sentence, ctx.snap) or _sentence_methods(sentence, ctx.snap)
        except Unsure as doubt:
            general_unsure = str(doubt)
    return _Payments(by_order, st.methods, general_methods, general_unsure)


def _blocked(doubts: list[tuple[str, str]], snap: dict[str, Any], order_ids: list[str]) -> tuple[set[str], str]:
    """The orders (and "address", "user") the doubts speak of, and why the first doubt that speaks of none holds
    the whole message ('' when there is none)."""
    blocked: set[str] = set()
    whole = ""
    for sentence, reason in doubts:
        refs = _referents(sentence, snap, order_ids)
        if refs is None:
            whole = whole or reason
        else:
            blocked |= refs
    return blocked, whole


def _touches(step: tuple[str, dict[str, Any], str], blocked: set[str]) -> bool:
    action, args, _ = step
    if action == "update_default_address":
        return "address" in blocked or "user" in blocked
    if action == "change_shipping_address" and "address" in blocked:
        return True
    return str(args.get("order_id")) in blocked


def _change_steps(st: _State, payments: _Payments, snap: dict[str, Any]) -> list[_Step]:
    """Exchanges, address changes, item changes, the account's address and cancellations: exchanges and item
    changes are one call per order, with every item of that order."""
    steps: list[_Step] = []
    for oid, changed in st.changes.items():
        order = changed[0][0].order
        if order["status"] == "delivered":
            steps.append(("exchange_item", {"order_id": oid, "item_ids": [p[0].item["item_id"] for p in changed],
                                            "new_item_ids": [p[1]["item_id"] for p in changed],
                                            "payment_method_id": payments.method(oid) or _original(order)},
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
                                                 "payment_method_id": payments.method(oid) or _original(order)},
                          "pending order, options asked for: " + "; ".join(
                              f"{p[0].item['name']} → {p[1]['options']}" for p in changed)))
    if st.default_address is not None:
        steps.append(("update_default_address", {"user_id": snap["profile"]["user_id"], **st.default_address},
                      "the customer asked to change the address on the account"))
    for oid, reason in st.cancels.items():
        if oid in st.changes or oid in st.returns:
            raise Unsure(f"order {oid} is both to be cancelled and changed")
        steps.append(("cancel_order", {"order_id": oid, "reason": reason}, "the customer asked to cancel"))
    return steps


def _return_steps(st: _State, payments: _Payments, doubts: list[tuple[str, str]], blocked: set[str]
                  ) -> list[_Step]:
    """One return per order; a refund to a method other than the original one or a gift card waits for a
    person."""
    steps: list[_Step] = []
    for oid, xs in st.returns.items():
        order = xs[0].order
        named = payments.method(oid)
        if named and named != _original(order) and not named.startswith("gift_card"):
            doubts.append(("", "a refund goes to the original payment method or a gift card"))
            blocked.add(oid)
        steps.append(("return_items", {"order_id": oid, "item_ids": [x.item["item_id"] for x in xs],
                                       "payment_method_id": named or _original(order)},
                      "the customer asked to return " + ", ".join(x.item["name"] for x in xs)))
    return steps
