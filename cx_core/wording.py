"""What a reply may say about an action, by the action's state, and what a sentence claims was done.

An action's sentence follows its proposal: once executed it says what was done ("I've moved …"); while the
proposal waits for a person it says what happens next and never claims the result ("I'm arranging to move …");
once rejected or refused after approval it is gone, or replaced by what the advisor chose to say. ``claims``
reads any sentence (the agent's, the advisor's, a language model's) for a statement, in the past or present
perfect, that an action was carried out, so that nothing is sent that says an action ran when it did not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# the proposal states a reply sentence can be in (``ProposalRow.status``, plus the decision taken at processing)
DONE, WAITING, GONE = "done", "waiting", "gone"


def money(x: float) -> str:
    return f"${x:,.2f}"


def day(iso: str) -> str:
    """'2026-11-28T08:00' → 'Saturday 28 November at 08:00'."""
    try:
        d = date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    text = d.strftime("%A %d %B").replace(" 0", " ")
    return text + (f" at {iso[11:16]}" if len(iso) > 10 else "")


def _address(a: dict[str, Any]) -> str:
    return (f"{a['address1']}{', ' + a['address2'] if a.get('address2') else ''}, {a['city']}, {a['state']} "
            f"{a['zip']}")


def _contact(a: dict[str, Any]) -> str:
    return (f": email {a['email']}" if a.get("email") else "") + (f", phone {a['phone']}" if a.get("phone") else "")


@dataclass(frozen=True)
class Wording:
    """An action's sentence once done and while it waits; ``noun`` names it in an advisor's instructions and
    ``claimed`` matches a sentence that says it was done."""

    noun: str
    done: Callable[[dict[str, Any], dict[str, Any], dict[str, str]], str]
    waiting: Callable[[dict[str, Any], dict[str, str]], str]
    claimed: re.Pattern[str]
    ids: tuple[str, ...] = field(default=("order_id",))


def _when(a: dict[str, Any], r: dict[str, Any], planned: dict[str, str]) -> str:
    start = r.get("start") or planned.get("start") or ""
    return f" to {day(start)}" if start else ""


CONFIRM = "I'll confirm by email as soon as it goes through."
# a sentence says an action was done when a first-person or passive perfect/past form carries one of its verbs
_DONE_FORM = (r"(?:\b(?:i|we)\s*(?:'ve|’ve|\s+have|\s+had)?\s+(?:now\s+|just\s+|already\s+|also\s+)?|"
              r"\b(?:has|have|had|'s|’s)\s+(?:now\s+|just\s+|already\s+)?been\s+|\b(?:was|were|is now|are now)\s+|"
              r"\b(?:is|are)\s+(?:now\s+)?(?:fully\s+)?)")


def _claim(verbs: str, topic: str = "") -> re.Pattern[str]:
    """A done-form followed (within the sentence) by one of ``verbs``; with ``topic``, the sentence must also name
    what was acted on (so that "I've updated your ticket" is no claim of a contact-details change)."""
    core = rf"{_DONE_FORM}(?:[\w'’$.,-]+\s+){{0,3}}?(?:{verbs})\b"
    return re.compile(rf"(?=.*{core})(?=.*\b(?:{topic}))" if topic else core, re.I | re.S)


WORDING: dict[str, Wording] = {
    "reschedule_delivery": Wording(
        "the delivery date change",
        lambda a, r, p: f"I've moved the delivery of order {a['order_id']} to {day(a['new_date'])}.",
        lambda a, p: f"I'm arranging to move the delivery of order {a['order_id']} to {day(a['new_date'])}. {CONFIRM}",
        _claim(r"moved|rescheduled|changed|re-?booked|arranged|updated|set", r"deliver")),
    "change_shipping_address": Wording(
        "the address change",
        lambda a, r, p: f"I've changed the shipping address of order {a['order_id']} to {_address(a)}.",
        lambda a, p: f"I'm arranging to change the shipping address of order {a['order_id']} to {_address(a)}. "
                     f"{CONFIRM}",
        _claim(r"changed|updated|corrected|amended|moved|set", r"address")),
    "cancel_order": Wording(
        "the cancellation",
        lambda a, r, p: (f"I've cancelled order {a['order_id']}; everything you paid will be refunded to your "
                         "original payment method."),
        lambda a, p: (f"I'm arranging the cancellation of order {a['order_id']}; once it goes through, everything you "
                      f"paid goes back to your original payment method. {CONFIRM}"),
        _claim(r"cancell?ed|called off|stopped")),
    "return_items": Wording(
        "the return",
        lambda a, r, p: (f"I've opened a return for order {a['order_id']}: you'll receive a prepaid label by email, "
                         "and the refund goes to your original payment method."),
        lambda a, p: (f"I'm arranging a return for order {a['order_id']}; once it is open you'll receive a prepaid "
                      f"label by email, and the refund goes to your original payment method."),
        _claim(r"opened|started|created|arranged|processed|accepted|approved|booked|registered|set up",
               r"return")),
    "exchange_item": Wording(
        "the exchange",
        lambda a, r, p: (f"I've arranged the exchange on order {a['order_id']}; return instructions are on their way "
                         "by email and the new item ships when we receive the old one."),
        lambda a, p: (f"I'm arranging the exchange on order {a['order_id']}; once it is confirmed, return "
                      "instructions follow by email and the new item ships when we receive the old one."),
        _claim(r"arranged|processed|accepted|approved|opened|started|booked|exchanged|swapped|replaced|set up",
               r"exchange|replace|swap")),
    "refund": Wording(
        "the refund",
        lambda a, r, p: f"I've refunded {money(float(a['amount']))} on order {a['order_id']}.",
        lambda a, p: f"I'm arranging a refund of {money(float(a['amount']))} on order {a['order_id']}. {CONFIRM}",
        _claim(r"refunded|reimbursed|credited|paid back|returned (?:the|your) money|issued|processed|sent|made",
               r"refund|reimburs|money back|credited|paid back")),
    "modify_order_items": Wording(
        "the item change",
        lambda a, r, p: (f"I've changed the items on order {a['order_id']} as you asked; any price difference goes "
                         "to or from your payment method."),
        lambda a, p: (f"I'm arranging the item change on order {a['order_id']}; any price difference goes to or from "
                      f"your payment method. {CONFIRM}"),
        _claim(r"changed|updated|swapped|replaced|modified|amended|switched", r"item|order|option|size|colou?r")),
    "update_default_address": Wording(
        "the account address change",
        lambda a, r, p: f"I've updated the address on your account to {_address(a)}.",
        lambda a, p: f"I'm arranging to update the address on your account to {_address(a)}. {CONFIRM}",
        _claim(r"changed|updated|corrected|amended|saved|set", r"address"), ()),
    "resend_invoice": Wording(
        "the invoice",
        lambda a, r, p: f"I've sent invoice {a['invoice_id']} again to the email address on your account.",
        lambda a, p: f"I'm arranging for invoice {a['invoice_id']} to be sent again to the email address on your "
                     "account.",
        _claim(r"re-?sent|sent|e-?mailed|forwarded|attached", r"invoice|receipt"), ("invoice_id",)),
    "credit_charge": Wording(
        "the credit",
        lambda a, r, p: f"I've credited {money(float(a['amount']))} for charge {a['charge_id']}.",
        lambda a, p: f"I'm arranging a credit of {money(float(a['amount']))} for charge {a['charge_id']}. {CONFIRM}",
        _claim(r"credited|refunded|reversed|waived|removed|cancell?ed|written off|issued|applied",
               r"charge|credit|fee|refund"), ("charge_id",)),
    "update_contact_details": Wording(
        "the contact details change",
        lambda a, r, p: "I've updated your contact details" + _contact(a) + ".",
        lambda a, p: "I'm arranging the update of your contact details" + _contact(a) + f". {CONFIRM}",
        _claim(r"updated|changed|corrected|amended|replaced|saved|set", r"contact|e-?mail|phone|number|details"),
        ()),
    "reschedule_appointment": Wording(
        "the appointment change",
        lambda a, r, p: ("I've moved your installation appointment" + _when(a, r, p)
                         + "; you'll get a confirmation by email."),
        lambda a, p: ("I'm arranging to move your installation appointment" + _when(a, {}, p) + ". " + CONFIRM),
        _claim(r"moved|rescheduled|changed|re-?booked|booked|arranged|set", r"appointment|installation|technician|"
               r"engineer|visit"), ("appointment_id",)),
    "add_internal_note": Wording(
        "the complaint record",
        lambda a, r, p: ("I've recorded your complaint on your account, so that everyone who helps you knows what "
                         "happened.") if p.get("intent") == "complaint" else "",
        lambda a, p: ("I'll record your complaint on your account, so that everyone who helps you knows what "
                      "happened.") if p.get("intent") == "complaint" else "",
        _claim(r"recorded|logged|noted|filed|registered", r"complaint"), ()),
}


def sentence(action: str, state: str, args: dict[str, Any], result: dict[str, Any] | None = None,
             planned: dict[str, str] | None = None, intent: str = "") -> str:
    """The reply's sentence for ``action`` in ``state`` (``DONE``, ``WAITING`` or ``GONE``); '' when the action
    says nothing to the customer in that state (or its arguments are incomplete)."""
    w = WORDING.get(action)
    if w is None or state == GONE:
        return ""
    extra = {**(planned or {}), "intent": intent}
    try:
        return w.done(args, result or {}, extra) if state == DONE else w.waiting(args, extra)
    except (KeyError, TypeError, ValueError):
        return ""


def split_sentences(text: str) -> list[str]:
    """The sentences of a reply (citation markers kept), one line of the greeting or sign-off each."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"“(])", line) if s.strip())
    return out


def claims(text: str, action: str, strict: bool = False) -> list[str]:
    """The sentences of ``text`` that say ``action`` was carried out. A rule ("once your refund has been issued…")
    is no claim, unless ``strict``: knowledge quoted to a customer is read strictly, since a reader may not see the
    condition."""
    w = WORDING.get(action)
    if w is None:
        return []
    return [s for s in split_sentences(text) if (strict or not _conditional(s)) and w.claimed.search(s)]


def claimed_actions(text: str, strict: bool = False) -> dict[str, list[str]]:
    """Every action some sentence of ``text`` says was done, with those sentences."""
    from .actions.base import speaks_of

    return {a: found for a in WORDING if speaks_of(a) and (found := claims(text, a, strict))}


def _conditional(s: str) -> bool:
    """'Once your refund has been issued, it takes 5 days' describes a rule, not something done."""
    return bool(re.match(r"^\W*(?:once|when|after|if|as soon as|until|before|whenever)\b", s, re.I))


def names(sentence_text: str, args: dict[str, Any], action: str) -> bool:
    """Whether the sentence names the record this action's arguments point at (its order, invoice, charge…)."""
    w = WORDING.get(action)
    ids = [str(args[k]) for k in (w.ids if w else ()) if args.get(k)]
    return any(i.lower() in sentence_text.lower() for i in ids)
