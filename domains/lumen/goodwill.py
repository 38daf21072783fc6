"""Money off that a customer asks for, within the knowledge base's limits: a goodwill credit of up to $25 for a poor
experience they complain of, and otherwise a partial refund of up to 20 % of an item's price for minor cosmetic
damage on an item they keep; more, or an item that cannot be told, waits for a person with the reason."""

from __future__ import annotations

from datetime import date
from typing import Any

from cx_core.models import Triage
from cx_core.plans import Step
from cx_core.reading import language
from cx_core.wording import money

from .asked import Asked
from .picking import pick_items

COSMETIC_SHARE = 0.20  # damaged-or-defective-items: a partial refund of up to 20 % of the item price if kept
GOODWILL_MAX = 25.0  # complaints-handling: goodwill credits up to $25; more needs a supervisor
# the requests money off settles: the item is kept, so nothing is returned, exchanged or disputed besides
SETTLES = frozenset({"damaged_item", "complaint", "exchange", "return_refund", "charge_dispute"})


def money_off(triage: Triage, snap: dict[str, Any] | None, today: date, text: str) -> tuple[Step, set[str]] | None:
    """A refund of the amount the customer asks off ("take $75 off the price and I'll live with the mark", "a $20
    credit for the trouble") on the delivered order the message is about, and the kinds of request it settles;
    None when the words ask no money off or name no such order."""
    amount = language.money_off(text)
    asked = [r for r in triage.requests if r.intent in SETTLES]
    if amount is None or snap is None or not asked:
        return None
    first = asked[0]
    order, _ = Asked(first.intent, first.text, triage.entities, snap, today, text,
                     tuple(r.intent for r in triage.requests)).order(("delivered",))
    if order is None:
        return None
    args: dict[str, Any] = {"order_id": order["order_id"], "amount": amount}
    if any(r.intent == "complaint" for r in asked):
        args["reason"] = "goodwill credit for a poor experience"
        over = "" if amount <= GOODWILL_MAX else f"a goodwill credit over {money(GOODWILL_MAX)} needs a supervisor"
    else:
        items = pick_items(order, text)
        limit = round(COSMETIC_SHARE * float(items[0]["price"]), 2) if len(items) == 1 else None
        args["reason"] = "partial refund for cosmetic damage, item kept" + (f": {items[0]['name']}" if items else "")
        over = "which item the partial refund is for is not clear" if limit is None else "" if amount <= limit else \
            f"it is more than 20 % of the item's price ({money(limit)}), which needs a supervisor"
    return Step("refund", args, first.intent, f"the customer asks {money(amount)} off; {args['reason']}",
                held=over), {r.intent for r in asked}
