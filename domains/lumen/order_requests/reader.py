"""The whole message read sentence by sentence: which sentences ask for something done with an order (each a
request, with what the customer wants instead if it cannot be done), which only hint, prefer, ask or give a
detail, and which hold a request for a person (a condition, a change of mind), with the words that tell them
apart; then each request settled and the steps written (``steps``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cx_core.entities import find_address, gives_contact
from cx_core.plans import ASKS_ONLY
from cx_core.reading import bounds, language
from cx_core.reading.requests import (
    ACTIONISH,
    ADDRESS_FIX,
    ADDS,
    ASKED,
    ASKING,
    BECAUSE,
    HINT,
    HOLD,
    MIND,
    MONEY_BACK,
    NEGATED,
    OTHER_ONE,
    PAYING,
    PREFERENCE,
    PREFERENCE_IF,
    QUESTION,
    REMOVE,
    THE_SAME_THING,
    TOO,
    UNNEEDED,
    WANTS,
    WHETHER,
)

from .base import Reading, Unsure
from .details import _sentence_methods
from .items import _mentions_any
from .sentences import (
    _PAIR,
    _cond_kind,
    _conditional,
    _fallback,
    _if_possible,
    _kind,
    _rule,
    _sentence_ops,
    _split_sentences,
    _spoken_of,
    grammar,
)
from .state import _Context, _State, _Unit
from .steps import _settle, _write_steps
from .variants import _dict_pairs

ORDER_INTENTS = {"return_refund", "damaged_item", "exchange", "order_cancel", "address_change"}


def interpret(text: str, snap: dict[str, Any]) -> Reading:
    """The order operations a ticket asks for: each request read on its own, so that one the reading cannot
    settle leaves the others standing (``steps`` and ``unsure`` both set), or why a person has to read it all."""
    reading = Reading()
    text = language.typos_fixed(text)
    try:
        _interpret(text, snap, reading)
        _second_choices(text, snap, reading)
    except Unsure as why:
        reading.steps = []
        reading.unsure = str(why)
        # it was about orders even when the doubt came before the verbs were read: no other planner guesses
        reading.found = reading.found or bool(_PAIR.search(text)) or any(
            _sentence_ops(x) for x in _split_sentences(text))
    return reading


def _second_choices(text: str, snap: dict[str, Any], reading: Reading) -> None:
    """For each request with a fallback that was read as it stands ("send the lamp back; if you won't take it back,
    cancel my other order instead"), the steps of the fallback, read as if the rules refused the request: the
    planner proposes them only once the first choice is refused."""
    for n in reading.fallbacks:
        other = Reading()
        try:
            _interpret(text, snap, other, refused=n)
        except Unsure:
            continue
        first = [s for s in reading.steps if s not in other.steps]
        second = [s for s in other.steps if s not in reading.steps]
        if len({a for a, _, _ in first}) == 1 and second:
            reading.second += [(a, args, why, first[0][0]) for a, args, why in second]


@dataclass
class _Message:
    """What the sentences of a message ask, as they are read one by one."""

    units: list[_Unit] = field(default_factory=list)  # the requests, in the order the customer wrote them
    doubts: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why): a condition or a change of
    # mind, and what it touches
    general: list[str] = field(default_factory=list)  # sentences that may name a payment method or a reason for
    # every request
    asked: bool = False  # an order's verb is spoken of, even as a noun ("a return")
    mind: bool = False  # the customer may change their mind
    wants: bool = False  # an order's verb spoken of in words that ask for it ("I'd like a return", "please send a
    # replacement")
    wrong_address: str = ""  # "the address on my order is wrong", the new one still to come


def _interpret(text: str, snap: dict[str, Any], reading: Reading, refused: int = -1) -> None:
    """Reads the message into ``reading``; with ``refused``, as if the rules refused that request (by its place)."""
    original = text
    order_ids = list(dict.fromkeys("#" + m.upper() for m in grammar().record_id.findall(text)))
    msg = _Message()
    ctx = _Context(snap, text, order_ids, [], [], msg.general, asks=reading.asks)
    pairs = _dict_pairs(text, snap, order_ids)
    if pairs:  # the pairs are read; what else the sentences ask is read without them
        text = _PAIR.sub(" the listed items ", text)
        ctx.text = text
    for sentence in _split_sentences(text):
        _read_sentence(sentence, ctx, msg, reading)
    _heading_said_again(text, msg)
    if not msg.units and not pairs:
        if msg.wants and not msg.doubts:  # "I'd like a return for order #W…": wanted, the details still to ask
            reading.found = True
            return
        if msg.asked or msg.doubts:
            reading.found = True
            raise Unsure(msg.doubts[0][1] if msg.doubts else
                         "the customer may change their mind; a person confirms what to do" if msg.mind else
                         ASKS_ONLY)
        return
    reading.found = True
    own = {o["order_id"] for o in snap["orders"]}
    unknown = [o for o in order_ids if o not in own]
    if unknown:
        raise Unsure(f"order {unknown[0]} is not on the customer's account")
    st = _State()
    for x, new in pairs:
        st.changes.setdefault(x.order["order_id"], []).append((x, new))
    # each request on its own: what it cannot settle stays with it (and the orders it speaks of)
    for n, unit in enumerate(msg.units):
        st = _settle(unit, st, ctx, msg.doubts, refused=n == refused)
    reading.fallbacks = [n for n, unit in enumerate(msg.units) if unit.fallback is not None]
    _write_steps(st, ctx, original, msg.doubts, reading)


def _heading_said_again(text: str, msg: _Message) -> None:
    """A subject line ("Change lamp colour before it ships") asks only what the body does not: its request is
    dropped when the body asks one of the same kind in its own words."""
    first, _, rest = text.partition("\n")
    heading = first.strip()
    if not rest.strip() or not heading or heading[-1] in ".?!" or len(heading.split()) > 10:
        return
    own = [u for u in msg.units if u.sentence.strip() == heading]
    kinds = {_kind(v) for u in msg.units if u not in own for v, _, _ in u.ops}
    msg.units = [u for u in msg.units if u not in own or not {_kind(v) for v, _, _ in u.ops} <= kinds]


def _read_sentence(sentence: str, ctx: _Context, msg: _Message, reading: Reading) -> None:
    """One sentence of the message: a hint about an item, a preference, a request, a detail, or a doubt that a
    person resolves."""
    spoken = _spoken_of(sentence)
    msg.asked = msg.asked or spoken  # spoken of, even as a noun ("a return")
    msg.wants = msg.wants or bool(spoken and WANTS.search(sentence) and not HOLD.search(sentence)
                                  and not ASKING.search(sentence) and not _conditional(sentence))
    hint = HINT.search(sentence)
    if hint and not _sentence_ops(hint.group(2)):
        ctx.hints.append((hint.group(1), hint.group(2)))
        return
    verbs = _sentence_ops(sentence)
    if HOLD.search(sentence):
        return
    if MIND.search(sentence):
        msg.mind = True
        msg.doubts.append((sentence, "the customer may change their mind; a person confirms what to do"))
        return
    if _conditional(sentence):
        pref = PREFERENCE.search(sentence) or PREFERENCE_IF.search(sentence)
        if pref:  # "if both are available, you prefer art": a tie-breaker, not a condition on the request
            ctx.preferences.append(sentence.split(",", 1)[-1] if pref.re is PREFERENCE else pref.group(0))
            sentence = (sentence[: pref.start()] + sentence[pref.end():]).strip(" ,")
            verbs = _sentence_ops(sentence)
            if not verbs or _conditional(sentence):
                return
    if _conditional(sentence) and not (verbs and (language.rules_settle(sentence) or bounds.on_making(sentence))):
        _read_condition(sentence, verbs, msg, reading)
    elif not (QUESTION.search(sentence) and not verbs or ASKING.search(sentence)):
        _read_request(sentence, verbs, ctx.snap, msg)
    elif not verbs:
        msg.general.append(sentence)  # "Could the money go on my gift card?": a detail of a request, asked


def _read_condition(sentence: str, verbs: list[tuple[str, str]], msg: _Message, reading: Reading) -> None:
    """A sentence with a condition: what to do if an earlier request cannot be done, a detail ("if the agent asks
    how to pay, …"), a request with its reason after "because", or a request a person decides."""
    fallback = _fallback(sentence)
    if fallback is not None:
        _read_fallback(sentence, fallback, msg)
        return
    possible = _if_possible(sentence)
    if possible is not None and _rule(possible[0]) is False:
        return  # "if cancelling part of the order is possible, …": it is not, so that request falls
    if not verbs and (PAYING.search(sentence) or ASKED.search(sentence)):
        msg.general.append(sentence)  # "if the agent asks how to pay, you prefer PayPal": a detail, not a request
        return
    because = BECAUSE.search(sentence)
    if because and verbs and not _sentence_ops(sentence[: because.end()]) \
            and not _conditional(sentence[because.end():]):
        said = sentence[because.end():]  # "if asked, wait, because you also want to return the watch"
        msg.units.append(_Unit([(v, seg, said) for v, seg in _sentence_ops(said)], said))
        return
    if verbs or ACTIONISH.search(sentence):
        reading.found = reading.found or bool(verbs)
        msg.doubts.append((sentence, "the request depends on a condition; a person decides"))


def _read_fallback(sentence: str, fallback: tuple[str, str], msg: _Message) -> None:
    """What to do if a request cannot be done: the fallback of the last request of the kind the condition names
    (or of the last request), a request of its own when the shop's rules already refuse what the condition
    speaks of, or a doubt."""
    cond, then = fallback
    then_ops = _sentence_ops(then, passive=True)  # "see if it can be cancelled"
    if _conditional(then) or MIND.search(then):
        msg.doubts.append((sentence, "the request depends on a condition; a person decides"))
        return
    kind = _cond_kind(cond)
    target = next((u for u in reversed(msg.units) if kind is None or kind in
                   {"remove" if REMOVE.match(seg) else _kind(v) for v, seg, _ in u.ops}), None)
    if target is None and _rule(cond) is False:
        if then_ops:  # "if cancelling part of an order is not possible, cancel the whole order"
            msg.units.append(_Unit([(v, seg, then) for v, seg in then_ops], then))
        return
    if target is not None and target.fallback is None:
        target.fallback = [(v, seg, then) for v, seg in then_ops]
        target.fallback_sentence = then
        return
    msg.doubts.append((sentence, "the request depends on a condition; a person decides"))


def _read_request(sentence: str, verbs: list[tuple[str, str]], snap: dict[str, Any], msg: _Message) -> None:
    """A sentence that asks for something done (a verb, "I want a full refund", "I no longer need …", "… and the
    other one too"), says the last request again, or gives a detail."""
    units = msg.units
    refund = MONEY_BACK.search(sentence)
    if not verbs and (ADDRESS_FIX.search(sentence) or msg.wrong_address) and find_address(sentence):
        # the address said to be wrong, and the right one in the same sentence or the next
        sentence = sentence if ADDRESS_FIX.search(sentence) else msg.wrong_address + " " + sentence
        verbs = [("change", sentence)]
    elif not verbs and ADDRESS_FIX.search(sentence):
        msg.wrong_address = sentence
    if not verbs and refund and not NEGATED.search(sentence[: refund.start()][-40:]) and not _money_goes(
            sentence, units, snap):
        verbs = [("refund", sentence)]  # "the earbuds are faulty and I want a full refund"
    if not verbs and units and len(sentence.split()) <= 10 and not WHETHER.search(sentence) and \
            TOO.search(sentence) and (
            OTHER_ONE.search(sentence) or _mentions_any(sentence, snap)):
        verbs = [(units[-1].ops[-1][0], units[-1].ops[-1][0] + " " + sentence)]  # "… and the other one too"
    if not verbs and language.INSTEAD.search(sentence) and _mentions_any(sentence, snap):
        verbs = [("change", sentence)]  # "on my desk lamp order, can I have the gold one instead of white?"
    unneeded = UNNEEDED.search(sentence)
    if not verbs and unneeded and _mentions_any(sentence[unneeded.end():], snap):
        verbs = [("unneeded", sentence[unneeded.start():])]  # "I no longer need the boots and the watch"
    if verbs and gives_contact(sentence) and not _mentions_any(sentence, snap) and not grammar().record_id.search(sentence):
        verbs = []  # "new phone number is (484) 555-0172, please update it": the account's details, no order's
    if verbs and units and _repeats(units[-1], verbs, sentence, snap):
        units[-1].sentence += " " + sentence  # "return it because …": the same request, said again
    elif verbs:
        units.append(_Unit([(v, seg, sentence) for v, seg in verbs], sentence))
    else:
        msg.general.append(sentence)


def _money_goes(sentence: str, units: list[_Unit], snap: dict[str, Any]) -> bool:
    """"Any money back can go to my Visa" after a request: where that request's money goes (a payment method and
    no item named), not a refund asked for on its own."""
    if not units or _mentions_any(sentence, snap):
        return False
    try:
        return bool(_sentence_methods(sentence, snap))
    except Unsure:
        return False


def _repeats(unit: _Unit, verbs: list[tuple[str, str]], sentence: str, snap: dict[str, Any]) -> bool:
    """The verbs only say the last request again ("return it because …", "return it for a full refund"): the
    same kind of request about "it", naming nothing new, with no word that adds a request ("also", "too")."""
    kinds = {_kind(v) for v, _, _ in unit.ops}
    if ADDS.search(sentence):
        return False
    return all(_kind(v) in kinds and THE_SAME_THING.search(seg[len(v):])
               and not _mentions_any(seg, snap)
               and not grammar().record_id.search(seg) and not re.search(r"\d{10}|\{", seg) for v, seg in verbs)
