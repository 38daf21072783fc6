"""What a reply says about each of Lumen Home's actions: once done, and while it waits for a person (never that it
is done). Registered beside the engine's wording when the pack's actions are imported."""

from __future__ import annotations

from typing import Any

from cx_core.wording import CONFIRM, WORDING, Wording, _claim, day, money

DUPLICATE = "duplicate charge"  # the reason a refund of a payment taken twice carries


def _refunded_to(p: dict[str, str]) -> str:
    """Where the refund goes and when it shows: the method that paid, when the plan knows it."""
    if p.get("paid_with") and p.get("lands"):
        return f", to your {p['paid_with']}, where it shows {p['lands']}"
    return ", to the payment method you paid with (on a card it shows within 5 to 7 business days)"


def _refunded(a: dict[str, Any], p: dict[str, str] | None = None) -> str:
    """What is refunded: the amount on the order, or the second of two payments when it was charged twice (the
    order named once when the sentence already named it)."""
    if a.get("reason") == DUPLICATE:
        return f"the duplicate {money(float(a['amount']))} payment" + (
            "" if (p or {}).get("noticed") else f" on order {a['order_id']}")
    return f"{money(float(a['amount']))} on order {a['order_id']}"


def _noticed(a: dict[str, Any], p: dict[str, str]) -> str:
    """A double charge the customer did not write about, found on their records: said before its refund."""
    if p.get("noticed") == "again":  # the next of several: said as one more
        return f"Your order {a['order_id']} was charged twice as well, so "
    return f"I also noticed that your order {a['order_id']} was charged twice, so " if p.get("noticed") else ""


def _refund_to(a: dict[str, Any]) -> str:
    """Where a return's refund goes: the method the customer asked for ("your Lumen gift card"), else the one that
    paid."""
    kind = str(a.get("payment_method_id") or "").rsplit("_", 1)[0]
    return {"gift_card": "your Lumen gift card", "paypal": "your PayPal account"}.get(kind, "your original payment method")


def _of(a: dict[str, Any], p: dict[str, str]) -> str:
    """What a return sends back: "of the Smart Plug from order #W…" when part of the order, else "for order #W…"."""
    return f"of {p['items']} from order {a['order_id']}" if p.get("items") else f"for order {a['order_id']}"


def address_words(a: dict[str, Any]) -> str:
    return (f"{a['address1']}{', ' + a['address2'] if a.get('address2') else ''}, {a['city']}, {a['state']} "
            f"{a['zip']}")


def _along(p: dict[str, str]) -> str:
    """An address changed for one item of an order: the order has one address, so the rest go there too."""
    return f" An order ships to one address, so {p['with']} will go there too." if p.get("with") else ""


def _contact(a: dict[str, Any]) -> str:
    """ "your email address to … and your phone number to …": what changes, each to its new value."""
    return " and ".join([*([f"your email address to {a['email']}"] if a.get("email") else []),
                         *([f"your phone number to {a['phone']}"] if a.get("phone") else [])]) or "your contact details"


def _when(a: dict[str, Any], r: dict[str, Any], planned: dict[str, str]) -> str:
    start = r.get("start") or planned.get("start") or ""
    return f" to {day(start)}" if start else ""


def _from(planned: dict[str, str]) -> str:
    """ " on Monday 23 November" when the customer has other visits booked, so the reply says which one moves."""
    return f" on {day(planned['from'][:10])}" if planned.get("from") else ""


def _swap(a: dict[str, Any], planned: dict[str, str]) -> str:
    """ "a replacement of the Robot Vacuum" when the same item is sent again, else "the exchange"."""
    if a.get("item_ids") and a.get("item_ids") == a.get("new_item_ids"):
        return f"a replacement of {planned['items']}" if planned.get("items") else "a replacement"
    return planned.get("swap") or "the exchange"


def _one(a: dict[str, Any]) -> str:
    return "one" if a.get("item_ids") and a.get("item_ids") == a.get("new_item_ids") else "item"


def _refund_of(r: dict[str, Any]) -> str:
    amount = r.get("refunded")
    return money(float(amount)) if isinstance(amount, int | float) and not isinstance(amount, bool) else "the refund"


def _charge(a: dict[str, Any], p: dict[str, str] | None = None) -> str:
    """The charge as the customer knows it ("the call-out charge billed on Saturday 14 November"), else by its
    reference."""
    p = p or {}
    if p.get("waived") and p.get("charge"):  # the knowledge base's waiver, said with its reason
        return f"the {p['charge']} billed for that appointment, as you are rebooking the visit it was charged for"
    billed = f" {p['billed']}" if p.get("billed") else ""
    return f"the {p['charge']}{billed}" if p.get("charge") else f"charge {a['charge_id']}"


def _why(p: dict[str, str]) -> str:
    """To "why is there a call-out charge? nobody came": when the knowledge base bills it, before the credit."""
    if not p.get("why"):
        return ""
    return ("A call-out charge is billed when a technician arrives and nobody is home, or when a visit is changed "
            "less than 24 hours before its window. " + ("As you tell us nobody came, " if p["why"] == "no_show" else
                                                        "As you tell us the technician came late, "))


def _warranty(a: dict[str, Any], planned: dict[str, str]) -> str:
    """Why a repair and not a return: the order's delivery day, past the 30-day window, and the warranty."""
    if planned.get("installed"):  # installed at home: no longer returned, whatever its delivery day
        return (f"As {planned.get('items') or 'it'} {'was' if planned.get('one') else 'were'} installed on "
                f"{planned['installed']}, {'it' if planned.get('one') else 'they'} can no longer be returned, so the "
                "fault is covered by our two-year warranty")
    if planned.get("delivered"):
        return (f"Order {a['order_id']} was delivered on {planned['delivered']}, more than 30 days ago, so the fault "
                "is covered by our two-year warranty rather than a return")
    return f"The fault on order {a['order_id']} is covered by our two-year warranty"


def _repair_visit(planned: dict[str, str]) -> str:
    """How a repair happens (the knowledge base: large appliances are repaired at home, the rest collected)."""
    return planned.get("visit") or "a collection, or for a large appliance a technician's visit at your home"


# the knowledge base's rule for a formal complaint: logged, handed to a supervisor, answered within 5 business days
FORMAL_DONE = ("I've recorded your formal complaint and passed it to a supervisor, who now owns your case; we answer "
               "formal complaints within 5 business days.")
FORMAL_WAITING = ("I'm recording your formal complaint and passing it to a supervisor, who will own your case; we "
                  "answer formal complaints within 5 business days.")

LUMEN_WORDING = {
    "book_repair": Wording(
        "the warranty repair",
        lambda a, r, p: (f"{_warranty(a, p)}: I've booked a free repair (reference {r.get('repair_id', '')}), and "
                         f"we'll contact you by email to arrange {_repair_visit(p)}."),
        lambda a, p: (f"{_warranty(a, p)}: I'm arranging a free repair, and we'll then email you to arrange "
                      f"{_repair_visit(p)}. If you can, reply with a photo or a short video of the fault."),
        _claim(r"booked|arranged|scheduled|set up|registered|opened", r"repair")),
    "reschedule_delivery": Wording(
        "the delivery date change",
        lambda a, r, p: f"I've moved the delivery of order {a['order_id']} to {day(a['new_date'])}.",
        lambda a, p: f"I'm arranging to move the delivery of order {a['order_id']} to {day(a['new_date'])}. {CONFIRM}",
        _claim(r"moved|rescheduled|changed|re-?booked|arranged|updated|set", r"deliver")),
    "change_shipping_address": Wording(
        "the address change",
        lambda a, r, p: f"I've changed the shipping address of order {a['order_id']} to {address_words(a)}." + _along(p),
        lambda a, p: f"I'm arranging to change the shipping address of order {a['order_id']} to {address_words(a)}."
                     f"{_along(p)} {CONFIRM}",
        _claim(r"changed|updated|corrected|amended|moved|set", r"address")),
    "cancel_order": Wording(
        "the cancellation",
        lambda a, r, p: (f"I've cancelled order {a['order_id']}; everything you paid will be refunded to your "
                         "original payment method."),
        lambda a, p: (f"I'm arranging the cancellation of order {a['order_id']}"
                      + (f" ({p['items']})" if p.get("items") else "")
                      + f", and everything you paid{' (' + p['paid'] + ')' if p.get('paid') else ''} will go back to "
                      + (f"your {p['paid_with']}, where it shows {p['lands']}" if p.get("paid_with") and p.get("lands")
                         else "your original payment method") + f". {CONFIRM}"),
        _claim(r"cancell?ed|called off|stopped")),
    "return_items": Wording(
        "the return",
        lambda a, r, p: (f"I've opened a return {_of(a, p)}: " + (
            f"we'll email you to book a collection from your home, and {_refund_of(r)} goes back to {_refund_to(a)} "
            "as soon as the driver scans it at collection." if p.get("collected") else
            f"you'll receive a prepaid label by email, and {_refund_of(r)} goes back to {_refund_to(a)} "
            "as soon as the parcel is scanned at the drop-off point.")),
        lambda a, p: (f"I'm arranging a return {_of(a, p)}; once the return is open " + (
            f"we'll email you to book a collection from your home, and the refund goes to {_refund_to(a)} as soon as "
            "the driver scans it at collection." if p.get("collected") else
            f"you'll receive a prepaid label by email, and the refund goes to {_refund_to(a)} as soon as the parcel "
            "is scanned.")),
        _claim(r"opened|started|created|arranged|processed|accepted|approved|booked|registered|set up",
               r"return"),
        how=("you'll receive a prepaid return label and the drop-off points by email, and the refund goes to your "
             "original payment method as soon as the parcel is scanned")),
    "exchange_item": Wording(
        "the exchange",
        lambda a, r, p: (f"I've arranged {_swap(a, p)} on order {a['order_id']}; return instructions are on their way "
                         f"by email and the new {_one(a)} ships when we receive the old one."),
        lambda a, p: (f"I'm arranging {_swap(a, p)} on order {a['order_id']}; once it is confirmed, return "
                      f"instructions follow by email and the new {_one(a)} ships when we receive the old one."),
        _claim(r"arranged|processed|accepted|approved|opened|started|booked|exchanged|swapped|replaced|set up",
               r"exchange|replace|swap")),
    "refund": Wording(
        "the refund",
        lambda a, r, p: f"{_noticed(a, p)}I've refunded {_refunded(a, p)}{_refunded_to(p)}.",
        lambda a, p: f"{_noticed(a, p)}I'm arranging a refund of {_refunded(a, p)}{_refunded_to(p)}. {CONFIRM}",
        _claim(r"refunded|reimbursed|credited|paid back|returned (?:the|your) money|issued|processed|sent|made",
               r"refund|reimburs|money back|credited|paid back")),
    "modify_order_items": Wording(
        "the item change",
        lambda a, r, p: (f"I've changed {p.get('change') or 'the items'} on order {a['order_id']} as you asked; any "
                         f"price difference goes to or from your {p.get('paid_with') or 'payment method'}."),
        lambda a, p: (f"I'm arranging to change {p.get('change') or 'the items'} on order {a['order_id']}; any price "
                      f"difference goes to or from your {p.get('paid_with') or 'payment method'}. {CONFIRM}"),
        _claim(r"changed|updated|swapped|replaced|modified|amended|switched", r"item|order|option|size|colou?r")),
    "update_default_address": Wording(
        "the account address change",
        lambda a, r, p: f"I've updated the address on your account to {address_words(a)}.",
        lambda a, p: f"I'm arranging to update the address on your account to {address_words(a)}. {CONFIRM}",
        _claim(r"changed|updated|corrected|amended|saved|set", r"address"), ()),
    "resend_invoice": Wording(
        "the invoice",
        lambda a, r, p: f"I've sent invoice {a['invoice_id']} again to the email address on your account.",
        lambda a, p: f"I'm arranging for invoice {a['invoice_id']} to be sent again to the email address on your "
                     "account.",
        _claim(r"re-?sent|sent|e-?mailed|forwarded|attached", r"invoice|receipt"), ("invoice_id",)),
    "credit_charge": Wording(
        "the credit",
        lambda a, r, p: (f"{_why(p)}I've credited {money(float(a['amount']))} for {_charge(a, p)}; the credit shows on "
                         "your next invoice."),
        lambda a, p: (f"{_why(p)}I'm arranging a credit of {money(float(a['amount']))} for {_charge(a, p)}; it will show "
                      f"on your next invoice. {CONFIRM}"),
        _claim(r"credited|refunded|reversed|waived|removed|cancell?ed|written off|issued|applied",
               r"charge|credit|fee|refund"), ("charge_id",)),
    "update_contact_details": Wording(
        "the contact details change",
        lambda a, r, p: f"I've updated {_contact(a)}.",
        lambda a, p: f"I'm arranging to update {_contact(a)}. {CONFIRM}",
        _claim(r"updated|changed|corrected|amended|replaced|saved|set", r"contact|e-?mail|phone|number|details"),
        ()),
    "reschedule_appointment": Wording(
        "the appointment change",
        lambda a, r, p: ("I've moved your installation appointment" + _from(p) + _when(a, r, p)
                         + "; you'll get a confirmation by email."),
        lambda a, p: ("I'm arranging to move your installation appointment" + _from(p) + _when(a, {}, p) + ". " + CONFIRM),
        _claim(r"moved|rescheduled|changed|re-?booked|booked|arranged|set", r"appointment|installation|technician|"
               r"engineer|visit"), ("appointment_id",)),
    "add_internal_note": Wording(
        "the complaint record",
        lambda a, r, p: (FORMAL_DONE if p.get("formal") else "I've recorded your complaint on your account, where "
                         "everyone who helps you will see it.") if p.get("intent") == "complaint" else "",
        lambda a, p: (FORMAL_WAITING if p.get("formal") else "I'll record your complaint on your account, where "
                      "everyone who helps you will see it.") if p.get("intent") == "complaint" else "",
        _claim(r"recorded|logged|noted|filed|registered", r"complaint"), ()),
}
WORDING.update(LUMEN_WORDING)
