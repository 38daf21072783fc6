"""Each verb of a request applied to what the message asks so far: a change of address, a cancellation (and
"I no longer need …", or a refund, read as a cancellation or a return), a return, an exchange or a change of
items; a request's verbs together (``_run``), or why they cannot be done."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cx_core.reading import addressing, comparing, cuts, records
from cx_core.reading.phrases import has
from cx_core.reading.requests import OTHER_ONE, REMOVE
from cx_core.wording import listed
from domains.lumen.picking import mentions_item

from .base import ORDER, Impossible, Unsure, _Item
from .details import _address_target, _cancel_reason, _original, _same_address, _sentence_methods
from .items import _eligible, _mention_strength, _mentions_any, _names_for, _narrow, _resolve_items
from .sentences import _PAY_CHANGE, grammar
from .state import _Context, _State
from .variants import _DICT, _dicts, _like_other, _lower_keys, _target_variant

_PENDING = ("pending", "pending (item modified)")
_ALL_PENDING = comparing.every(ORDER)
_BECOMES = ("to", "for", "into", "with")  # the words before what an item is changed to


@dataclass
class _Verb:
    """One verb of a request as it is applied: its words (``segment``) and sentence, the state it adds to, the
    message, the items a fallback's "it" or "that order" stands for (``context``), the orders the words speak of,
    and the message's words before them."""

    verb: str
    segment: str
    sentence: str
    st: _State
    ctx: _Context
    context: list[_Item]
    orders: list[str]
    before: str


def _apply(verb: str, segment: str, sentence: str, st: _State, ctx: _Context, context: list[_Item]) -> None:
    """One verb of a request, added to the state; raises ``Unsure`` (or ``Impossible``) when it cannot be settled.
    ``context`` holds the items a fallback's "it" or "that order" stands for."""
    if _PAY_CHANGE.match(segment):
        return  # "change payment to …" names the method for that order's requests
    if "the listed items" in segment and not _mentions_any(segment.replace("the listed items", ""), ctx.snap):
        return
    orders = _orders_spoken_of(segment, sentence, st, ctx, context)
    at = ctx.text.find(sentence)
    before = (ctx.text[:at] if at >= 0 else "") + sentence[: max(sentence.find(segment), 0)]
    v = _Verb(verb, segment, sentence, st, ctx, context, orders, before)
    if addressing.ADDRESS.search(segment) or addressing.SHIP_TO.match(verb):
        _change_address(v)
    elif verb == "unneeded":  # "you no longer need the boots": cancelled if the order has not left yet
        _unneeded(v)
    elif verb == "refund":  # "I want a full refund" for an item: returned if delivered, cancelled if not sent yet
        _refund(v)
    elif verb == "cancel" or REMOVE.match(segment):
        _cancel(v)
    elif verb == "return" or verb.startswith("send back"):
        _return(v)
    else:  # exchange / change / modify
        _change_items(v)


def _orders_spoken_of(segment: str, sentence: str, st: _State, ctx: _Context, context: list[_Item]) -> list[str]:
    """The orders a verb's words speak of: those its sentence names (not one whose address is copied), else those
    of the items a fallback's "it" stands for, else "the same order" as the last request's items, else the one
    order the message names, unless the words name another order's item."""
    snap, order_ids = ctx.snap, ctx.order_ids
    ref = grammar().same_as.search(sentence)
    in_sentence = [o for o in order_ids if o.lstrip("#").lower() in sentence.lower()
                   and not (ref and o == "#" + ref.group(1).upper())]
    context_orders = list(dict.fromkeys(x.order["order_id"] for x in context))
    same_order = list(dict.fromkeys(x.order["order_id"] for x in st.items)) if re.search(
        r"\b(?:in|from|of) the same order\b", sentence, re.I) and not in_sentence else []
    if context_orders and not in_sentence:  # "… cancel the order with the black lamp and the plugs instead": the
        # words name more of another order's products than of the order the fallback's "it" stands for
        named = {o["order_id"]: sum(_mention_strength(segment, n) > 0 for n in {i["name"] for i in o["items"]})
                 for o in snap["orders"]}
        best = max(named.values(), default=0)
        top = [o for o, n in named.items() if n == best]
        if best and len(top) == 1 and top[0] not in context_orders:
            context_orders = top
    seg_orders = [o for o in in_sentence if o.lstrip("#").lower() in segment.lower()] or in_sentence or \
        context_orders or same_order
    if not seg_orders and len(order_ids) == 1:  # the one order the message names, unless the words name another's item
        inside = _eligible(snap, ("delivered", "pending", "pending (item modified)", "processed"), order_ids)
        outside = _eligible(snap, ("delivered", "pending", "pending (item modified)", "processed"), [])
        names = {x.item["name"] for x in inside}
        if not any(_mention_strength(segment, x.item["name"]) for x in outside if x.item["name"] not in names):
            seg_orders = list(order_ids)
    return seg_orders


def _items_of(v: _Verb, pool: list[_Item], allow_all: bool = True) -> list[_Item]:
    """The items of ``pool`` the verb's words name: by name, "the other one", "it" (the items a fallback stands
    for, or the last ones named before), "the more expensive one" of those named."""
    segment, st, hints = v.segment, v.st, v.ctx.hints
    other = OTHER_ONE.search(segment)
    found = _resolve_items(segment[: other.start()] if other else segment, pool, allow_all=allow_all, hints=hints)
    if other and (found or st.items):  # "the lamp and the other one too", "… and the other one too"
        before_items = found or st.items
        names = {x.item["name"] for x in before_items}
        everywhere = [x for x in _eligible(v.ctx.snap, ("delivered", "pending", "processed"), [])
                      if x.item["name"] in names and all(x.item is not y.item for y in before_items)]
        others = [x for x in pool if any(x.item is y.item for y in everywhere)]
        if len(everywhere) != 1 or len(others) != 1:
            raise Unsure("which other item is meant is not clear, or it cannot be done the same way")
        found = found + others
    if not found and comparing.ANAPHOR.search(segment[len(v.verb):][:40]):  # "return it", "cancel that one as well"
        found = [x for x in v.context if any(x.item is y.item for y in pool)] or \
            _earlier_items(v.ctx, v.before, pool, hints)
        if len(found) > 1 and len({x.item["name"] for x in found}) == 1:  # "cancel the 7kW white one" of two
            found = _narrow(found, segment, found[0].item["name"], hints)
    cheap = comparing.BY_PRICE.search(segment)
    if cheap and len(found) > 1:  # "the more expensive one" of the two named
        word = (cheap.group(1) or cheap.group(2)).lower()
        top = max if word in {"more", "pricier", "priciest", "dearer", "dearest"} else min
        best = top(x.item["price"] for x in found)
        found = [x for x in found if x.item["price"] == best]
        if len(found) != 1:
            raise Unsure("the items cost the same; which one is meant is not clear")
    return found


def _earlier_items(ctx: _Context, before: str, pool: list[_Item], hints: list[tuple[str, str]]) -> list[_Item]:
    """The items "it" or "them" stands for: the last ones named before, in the same sentence or earlier."""
    parts = cuts.parts(before)
    for part in reversed(parts[-6:]):
        try:
            found = _resolve_items(part, pool, allow_all=False, hints=hints)
        except Impossible:
            raise
        except Unsure:
            return []
        if found:
            return found
    return []


def _change_address(v: _Verb) -> None:
    """A new shipping address for the orders the words name (all pending ones, one named by city or item, "my
    wrong order"), and for the account when they say so."""
    segment, sentence, st, snap = v.segment, v.sentence, v.st, v.ctx.snap
    target = _address_target(segment, sentence, snap, v.ctx.text)
    head = cuts.at_target(segment)[0]
    # "my account address", "the address on my profile … home address"; never across a clause ("Lumen Home team,
    # the delivery address")
    if addressing.ACCOUNT_ADDRESS.search(head) or addressing.ACCOUNT_TOO.search(sentence) and \
            addressing.ALONG_WITH_ACCOUNT.search(sentence):
        st.default_address = target
    pending = [o for o in snap["orders"] if o["status"] in _PENDING]
    if _ALL_PENDING.search(segment):
        chosen = pending
    elif v.orders:
        chosen = [o for o in snap["orders"] if o["order_id"] in v.orders]
    elif cuts.speaks_of(ORDER).search(head) or _mentions_any(head, snap):  # "send my desk lamp to …"
        by_city = [o for o in pending if has(addressing.places(head), o["address"]["city"])]
        by_item = [x.order for x in _resolve_items(head, _eligible(snap, ("pending",), []), allow_all=False)]
        by_item_orders = list({o["order_id"]: o for o in by_item}.values())
        both = [o for o in by_city if o in by_item_orders]  # "my mesh wifi order … not Floyd Ford": both point
        chosen = both or by_item_orders or by_city or pending
        if len(chosen) > 1:  # "my wrong order": the one not already going there
            chosen = [o for o in chosen if not _same_address(o["address"], target)] or chosen
        if len(chosen) != 1:
            raise Unsure("which order's address to change is not clear")
    else:
        chosen = []
    for o in chosen:
        if o["status"] not in _PENDING and v.ctx.strict:
            raise Impossible(f"order {o['order_id']} has left the warehouse; its address cannot change")
        if not _same_address(o["address"], target):
            st.addresses[o["order_id"]] = target
    if not chosen and st.default_address is None:
        raise Unsure("which address to change is not clear")


def _unneeded(v: _Verb) -> None:
    """"You no longer need the boots": the order is cancelled if it has not left yet."""
    found = _resolve_items(v.segment, _eligible(v.ctx.snap, _PENDING + ("delivered", "processed"), v.orders),
                           allow_all=False, hints=v.ctx.hints)
    if not found:
        return
    if any(x.order["status"] not in _PENDING for x in found):
        raise Unsure("some of the items no longer needed have already been sent")
    _apply("cancel", "cancel " + v.segment, v.sentence, v.st, v.ctx, found)


def _refund(v: _Verb) -> None:
    """"I want a full refund" for an item: a return if it was delivered, a cancellation if it has not been sent."""
    scope = _eligible(v.ctx.snap, ("delivered",) + _PENDING, v.orders)
    found = _items_of(v, scope)
    if not found and len(v.orders) == 1 and cuts.this_one(ORDER).search(v.segment):
        found = scope  # "not receive the current order and get a full refund"
    states = {x.order["status"] in _PENDING for x in found}
    if not found or len(states) > 1:
        raise Unsure("which item the refund is for is not clear")
    if states == {False}:
        _apply("return", v.segment, v.sentence, v.st, v.ctx, found)
    else:
        _apply("cancel", v.segment, v.sentence, v.st, v.ctx, found)


def _whole_orders_only(order: dict[str, Any], said: list[str]) -> None:
    """Raises the whole-orders-only refusal, with the way forward, when the order holds more than the items
    ``said``."""
    others = [i["name"] for i in order["items"] if i["name"] not in set(said)]
    if others:
        raise Impossible(f"only whole orders can be cancelled, and order {order['order_id']} also holds the "
                         f"{listed(list(dict.fromkeys(others)))}",
                         ask=f"would you like me to cancel the whole order, or keep it and return the "
                             f"{listed(list(dict.fromkeys(said)))} once it arrives?")


_ITEMS_ORDER = cuts.by_what_it_holds(ORDER)  # "cancel the coffee machine order", "my doorbell and speaker order"


def _by_its_items(text: str, orders: list[dict[str, Any]]) -> bool:
    """Whether the words name one of ``orders`` by the things it holds ("the coffee machine order") and name none of
    its things on their own ("cancel the lamp from my lamp and kettle order" names the lamp)."""
    names = {i["name"] for o in orders for i in o["items"]}
    phrases = [m for m in _ITEMS_ORDER.finditer(text) if any(_mention_strength(m.group(1), n) for n in names)]
    rest = _ITEMS_ORDER.sub(" ", text)
    return bool(phrases) and not any(_mention_strength(rest, n) for n in names)


def _cancel(v: _Verb) -> None:
    """A cancellation (or an item to remove) of the pending orders the words name, whole orders only, for the
    reason the customer gave."""
    segment, st, snap = v.segment, v.st, v.ctx.snap
    if _ALL_PENDING.search(segment):
        chosen_ids = [o["order_id"] for o in snap["orders"] if o["status"] in _PENDING]
        named: list[_Item] = []
    else:
        whole_order = bool(cuts.whole(ORDER, ("pending",)).search(segment))
        # "cancel the order …" of the items a fallback's "it" stands for, not of another order the words name
        of_context = any(x.order["order_id"] in v.orders for x in v.context)
        named = [] if whole_order and not of_context else _items_of(
            v, _eligible(snap, _PENDING, v.orders), allow_all=False)
        if not named and of_context and not whole_order:
            named = list(v.context)
        if named:
            chosen_ids = list(dict.fromkeys(x.order["order_id"] for x in named))
        elif v.orders:
            chosen_ids = v.orders
        elif whole_order and cuts.that_same(ORDER).search(segment) and \
                (told := _earlier_items(v.ctx, v.before, _eligible(snap, _PENDING + ("processed", "delivered"), []),
                                        v.ctx.hints)):  # "I ordered a coffee machine … by accident. Cancel that order"
            chosen_ids = list(dict.fromkeys(x.order["order_id"] for x in told))
        else:
            elsewhere = _resolve_items(segment, _eligible(snap, ("processed", "delivered"), []), allow_all=False)
            if elsewhere:
                st.items = elsewhere
                raise Impossible(f"the {elsewhere[0].item['name']} has been sent; only a pending order can be "
                                 "cancelled")
            raise Unsure("which order to cancel is not clear")
    if named:
        st.items = named
        if not comparing.WHOLE.search(segment) and not _by_its_items(v.sentence, [x.order for x in named]):
            for x in named:
                _whole_orders_only(x.order, [y.item["name"] for y in named])
    elif len(chosen_ids) == 1 and not comparing.WHOLE_OR_ALL.search(v.before + " " + v.sentence) and \
            not _by_its_items(v.sentence, [o for o in snap["orders"] if o["order_id"] == chosen_ids[0]]):
        # "I ordered the speaker by mistake, please cancel order #W…": the order, for one of its items
        order = next((o for o in snap["orders"] if o["order_id"] == chosen_ids[0]), None)
        words, items = v.before + " " + v.sentence, (order or {}).get("items", [])
        said = [i["name"] for i in items if mentions_item(words, i)] or \
            [i["name"] for i in items if mentions_item(words, i, close=True)]  # "the smrat speaker"
        said += [i["name"] for i in items if i["name"] not in said and records.named(v.segment, [{"name": i["name"]}])]
        said += [i["name"] for i in items if i["name"] not in said and _mention_strength(words, i["name"])]  # "a thermostat"
        if order and said:  # "… the order I put through on Wednesday, the matte black lamp plus the white plug 4-pack"
            _whole_orders_only(order, said)
    if REMOVE.match(segment) and named:
        raise Impossible("an item cannot be removed from an order; only the whole order can be cancelled")
    if not chosen_ids:
        raise Unsure("there is no pending order to cancel")
    by_id = {o["order_id"]: o for o in snap["orders"]}
    for oid in chosen_ids:  # the action refuses it and says why; a fallback the customer gave applies instead
        if by_id.get(oid, {}).get("status") not in _PENDING and v.ctx.strict:
            raise Impossible(f"order {oid} is no longer pending and cannot be cancelled")
    reason = _cancel_reason(segment, v.sentence, v.before, (v.ctx.around, *v.ctx.details), second=bool(v.ctx.around))
    for oid in chosen_ids:
        st.cancels[oid] = reason


def _return(v: _Verb) -> None:
    """A return of the delivered items the words name; an item not delivered yet cannot be returned."""
    segment, st = v.segment, v.st
    if not re.search(r"[a-z0-9]", segment[len(v.verb):], re.I):
        return  # "… when you return": the verb alone names nothing
    pool = _eligible(v.ctx.snap, ("delivered",), v.orders)
    items = _items_of(v, pool)
    if items and comparing.NOT_ARRIVED.search(segment):
        items = []  # "return the pending lamp" is not the lamp that was delivered
    if not items:
        pending = _resolve_items(segment, _eligible(v.ctx.snap, ("pending", "processed"), v.orders),
                                 allow_all=False) or ([x for x in v.context if x.order["status"] != "delivered"]
                                                      if comparing.ANAPHOR.search(segment) else [])
        if pending:
            st.items = pending
            raise Impossible(f"the {pending[0].item['name']} has not been delivered yet and cannot be returned")
        raise Unsure("which delivered items to return is not clear")
    for x in items:  # an item asked for twice (a subject line repeating the message) is returned once
        to_return = st.returns.setdefault(x.order["order_id"], [])
        if all(y.item is not x.item for y in to_return):
            to_return.append(x)
    st.items = items


def _change_items(v: _Verb) -> None:
    """An exchange or a change of items: each item the words name, to the option the words after it describe."""
    segment, hints = v.segment, v.ctx.hints
    pool = _eligible(v.ctx.snap, ("delivered", "pending"), v.orders)
    items = _resolve_items(segment, pool, allow_all=False, hints=hints)
    if not items and cuts.PARTICIPLE_FIRST.match(segment):  # "the puzzle in the same order also needs to be exchanged"
        items = _resolve_items(v.sentence[: v.sentence.find(segment)], pool, allow_all=False, hints=hints)
    if not items and cuts.ACTS_ON_EARLIER.match(segment):  # "… and want to exchange it"
        earlier = v.sentence[: v.sentence.find(segment)]
        items = _resolve_items(earlier, pool, allow_all=False, hints=hints)
        if not items and v.context:
            items = [x for x in v.context if any(x.item is y.item for y in pool)]
        if not items:  # "The mesh system is lovely but I wanted it in silver. Can I swap it?": the sentence before
            told = [d for d in v.ctx.details if d in v.before  # said before it ("The speaker … is fine" after is not)
                    and _resolve_items(d, pool, allow_all=False, hints=hints)]
            earlier = told[-1] if len(told) == 1 else earlier
            items = _resolve_items(earlier, pool, allow_all=False, hints=hints) if told else []
        segment = earlier + " " + segment[segment.find(" "):]
    if not items and len(segment.split()) <= 2:
        return  # a bare verb ("Address change", a subject line) names nothing to change
    if not items:
        raise Unsure("which item to change is not clear")
    v.st.items = items
    for x in items:
        new = _new_option(x, items, segment, v.ctx)
        if new is None:
            continue
        asked_to = v.st.changes.setdefault(x.order["order_id"], [])
        if all(y.item is not x.item for y, _ in asked_to):
            asked_to.append((x, new))


def _new_option(x: _Item, items: list[_Item], segment: str, ctx: _Context) -> dict[str, Any] | None:
    """The option item ``x`` changes to, from the words about it (those up to the next item named); None when an
    option list gives current options that are not this item's."""
    spec, shared = segment, ""
    if len({y.item["name"] for y in items}) > 1:
        strong, weak = _names_for(x.item["name"])
        starts = [m.start() for n in strong + weak for m in re.finditer(rf"\b{re.escape(n)}\b", segment, re.I)]
        others = [m.start() for y in items if y.item["name"] != x.item["name"]
                  for n in _names_for(y.item["name"])[0] + _names_for(y.item["name"])[1]
                  for m in re.finditer(rf"\b{re.escape(n)}\b", segment, re.I)]
        begin = min(starts) if starts else 0
        after = [p for p in others if p > begin]
        spec = segment[begin: min(after) if after else len(segment)]
        shared = segment[max(starts + others, default=0):]  # "… swap both for the black versions": said of each
    dicts = _DICT.findall(spec)
    if len(dicts) >= 2:
        current = _dicts(dicts[0])[0]
        options = _lower_keys(x.item["options"])
        if any(str(options.get(k, "")).lower() != v.lower() for k, v in current.items() if k in options):
            return None
    target_text = cuts.at_target(spec, _BECOMES)
    words = target_text[1] if len(target_text) > 1 else spec
    if len(target_text) == 1 and len(to_shared := cuts.at_target(shared, _BECOMES)) > 1:
        words = to_shared[1]
    if dicts:
        words = spec[spec.rfind("{"):]
    variants = x.order["variants"].get(x.item["item_id"], [])
    like = _like_other(spec, x, ctx.snap)
    if like is not None:  # "to the same type as the one I already received"
        words = repr(like)
    return _target_variant(words + " " + " ".join(ctx.preferences), x.item, variants, strict=ctx.strict)


def _run(ops: list[tuple[str, str, str]], sentence: str, st: _State, ctx: _Context, context: list[_Item],
         extra: str = "") -> _State | Unsure:
    """The state after one request's verbs, or why they cannot be done (an ``Impossible`` carries the items it
    spoke of in ``items``, for a fallback's "it")."""
    trial = st.copy()
    before = trial.orders()
    try:
        for verb, segment, where in ops:
            _apply(verb, segment, where, trial, ctx, context)
        named = _sentence_methods(sentence, ctx.snap) or (_sentence_methods(extra, ctx.snap) if extra else set())
    except Impossible as why:
        why.items = why.items or trial.items
        return why
    except Unsure as why:
        return why
    if len(named) > 1:
        return Unsure("more than one payment method is named for one request")
    touched = (trial.orders() - before) | {o for o in trial.orders() if o.lstrip("#") in sentence}
    for oid in touched:
        trial.methods.setdefault(oid, set()).update(named)
        if oid in trial.returns and named:
            method = next(iter(named))
            if method != _original(trial.returns[oid][0].order) and not method.startswith("gift_card"):
                return Impossible("a refund goes to the original payment method or a gift card",
                                  trial.returns[oid])
    return trial
