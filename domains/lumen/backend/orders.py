"""Orders: products and variants, orders, items and fulfilments. Hard invariants live here (τ-bench retail):
only pending orders are cancelled or modified, only delivered items returned or exchanged, exchanges stay
within the same product, one address change per order."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx_core.errors import InvalidInput, NotFound, PolicyDenied
from cx_core.reading.when import nth_weekday
from cx_core.store.db import require_row
from cx_core.wording import day
from domains.lumen.tables import FulfillmentRow, OrderItemRow, OrderRow, ProductRow, VariantRow

CANCEL_REASONS = ("no longer needed", "ordered by mistake")
ITEMS_MODIFIED = "pending (item modified)"
PENDING = ("pending", ITEMS_MODIFIED)
RETURN_WINDOW_DAYS = 30
WARRANTY_DAYS = 730  # the manufacturer's warranty: two years from delivery (Warranty and repairs)
MAX_RESCHEDULES = 2


def get_order(s: Session, order_id: str, lock: bool = False) -> OrderRow:
    stmt = select(OrderRow).where(OrderRow.order_id == order_id)
    if lock:
        stmt = stmt.with_for_update()
    row = s.scalars(stmt).first()
    if row is None:
        raise NotFound(f"order {order_id} not found")
    return row


def items(s: Session, order_id: str) -> list[OrderItemRow]:
    return list(s.scalars(select(OrderItemRow).where(OrderItemRow.order_id == order_id)
                          .order_by(OrderItemRow.position)))


def fulfillments(s: Session, order_id: str) -> list[FulfillmentRow]:
    return list(s.scalars(select(FulfillmentRow).where(FulfillmentRow.order_id == order_id)))


def orders_for_user(s: Session, user_id: str) -> list[OrderRow]:
    return list(s.scalars(select(OrderRow).where(OrderRow.user_id == user_id).order_by(OrderRow.created_at.desc())))


def order_view(s: Session, order: OrderRow) -> dict[str, Any]:
    """An order as plain data (what lookup actions return and the pages show)."""
    return {
        "order_id": order.order_id, "user_id": order.user_id, "status": order.status,
        "created_at": order.created_at.isoformat(timespec="minutes"),
        "expected_delivery": order.expected_delivery.isoformat() if order.expected_delivery else None,
        "delivered_on": order.delivered_on.isoformat() if order.delivered_on else None,
        "address": address_of(order),
        "items": [{"item_id": i.item_id, "product_id": i.product_id, "name": i.name, "price": i.price,
                   "options": i.options, "status": i.status} for i in items(s, order.order_id)],
        "tracking": [t for f in fulfillments(s, order.order_id) for t in f.tracking_ids],
    }


def address_of(order: OrderRow) -> dict[str, str]:
    return {k: getattr(order, k) for k in ("address1", "address2", "city", "state", "country", "zip")}


def get_variant(s: Session, item_id: str) -> VariantRow:
    return require_row(s, VariantRow, item_id, "item")


def product(s: Session, product_id: str) -> ProductRow:
    return require_row(s, ProductRow, product_id, "product")


def variants(s: Session, product_id: str) -> list[VariantRow]:
    return list(s.scalars(select(VariantRow).where(VariantRow.product_id == product_id)))


def _require_status(order: OrderRow, allowed: tuple[str, ...], what: str) -> None:
    if order.status not in allowed:
        raise PolicyDenied(f"order {order.order_id} is {order.status}; only {' or '.join(allowed)} orders can be {what}")


def change_address(s: Session, order_id: str, address: dict[str, str]) -> dict[str, str]:
    order = get_order(s, order_id, lock=True)
    _require_status(order, PENDING, "changed")
    if order.address_changes >= 1:
        raise PolicyDenied(f"the address of order {order_id} was already changed once")
    before = address_of(order)
    for key in ("address1", "address2", "city", "state", "country", "zip"):
        setattr(order, key, address.get(key, "") or "")
    order.address_changes += 1
    return before


def restore_address(s: Session, order_id: str, before: dict[str, str]) -> None:
    order = get_order(s, order_id, lock=True)
    for key, value in before.items():
        setattr(order, key, value)
    order.address_changes = max(0, order.address_changes - 1)


def public_holiday(day: date) -> str:
    """The US public holiday on ``day`` ('' when none): no deliveries go out on it."""
    y = day.year
    named = {date(y, 1, 1): "New Year's Day", nth_weekday(y, 1, 0, 3): "Martin Luther King Jr. Day",
             nth_weekday(y, 2, 0, 3): "Presidents' Day", nth_weekday(y, 5, 0, -1): "Memorial Day", date(y, 6, 19): "Juneteenth",
             date(y, 7, 4): "Independence Day", nth_weekday(y, 9, 0, 1): "Labor Day", nth_weekday(y, 10, 0, 2): "Columbus Day",
             date(y, 11, 11): "Veterans Day", nth_weekday(y, 11, 3, 4): "Thanksgiving", date(y, 12, 25): "Christmas Day"}
    return named.get(day, "")


def delivery_refusal(new_date: date, today: date) -> str:
    """Why a delivery cannot be moved to ``new_date`` ('' when it can)."""
    if not today + timedelta(days=1) <= new_date <= today + timedelta(days=14):
        return "a delivery can be moved to a date between 1 and 14 days from today"
    if new_date.weekday() == 6:
        return "we do not deliver on Sundays"
    if holiday := public_holiday(new_date):
        return f"we do not deliver on public holidays ({holiday})"
    return ""


def reschedule_delivery(s: Session, order_id: str, new_date: date, today: date) -> str | None:
    order = get_order(s, order_id, lock=True)
    _require_status(order, ("pending", "processed"), "rescheduled")
    refused = delivery_refusal(new_date, today)
    if refused:
        raise PolicyDenied(refused)
    extra = dict(order.extra or {})
    if int(extra.get("reschedules", 0)) >= MAX_RESCHEDULES:
        raise PolicyDenied(f"order {order_id} has already been rescheduled {MAX_RESCHEDULES} times")
    before = order.expected_delivery.isoformat() if order.expected_delivery else None
    extra["reschedules"] = int(extra.get("reschedules", 0)) + 1
    order.extra = extra
    order.expected_delivery = new_date
    return before


def restore_delivery(s: Session, order_id: str, previous: date | None) -> None:
    order = get_order(s, order_id, lock=True)
    order.expected_delivery = previous
    extra = dict(order.extra or {})
    extra["reschedules"] = max(0, int(extra.get("reschedules", 0)) - 1)
    order.extra = extra


def cancel(s: Session, order_id: str, reason: str) -> None:
    order = get_order(s, order_id, lock=True)
    _require_status(order, PENDING, "cancelled")
    if reason not in CANCEL_REASONS:
        raise InvalidInput(f"cancellation reason must be one of: {', '.join(CANCEL_REASONS)}")
    order.status = "cancelled"
    order.cancel_reason = reason


def past_window(order_id: str, delivered: date | str | None = None) -> str:
    """Why an order delivered too long ago is neither returned nor exchanged (the day it came, when known), and the
    way the policy leaves open."""
    on = f"on {day(str(delivered))}, " if delivered else ""
    return (f"order {order_id} was delivered {on}more than {RETURN_WINDOW_DAYS} days ago, so it can no longer be "
            "returned or exchanged. If anything is wrong with it, our two-year warranty covers a free repair: just "
            "tell us what the fault is and I'll book it")


def _delivered_items(s: Session, order: OrderRow, item_ids: list[str], today: date) -> list[OrderItemRow]:
    _require_status(order, ("delivered",), "returned or exchanged")
    if order.delivered_on and (today - order.delivered_on).days > RETURN_WINDOW_DAYS:
        raise PolicyDenied(past_window(order.order_id, order.delivered_on))
    return _ordered_items(s, order, item_ids, "a returnable item")


def _ordered_items(s: Session, order: OrderRow, item_ids: list[str], what: str) -> list[OrderItemRow]:
    """The order's items still as ordered that ``item_ids`` name, each once (``what`` names them in the error)."""
    if not item_ids:
        raise InvalidInput("name at least one item")
    rows = [i for i in items(s, order.order_id) if i.status == "ordered"]
    chosen: list[OrderItemRow] = []
    for item_id in item_ids:
        match = next((r for r in rows if r.item_id == item_id and r not in chosen), None)
        if match is None:
            raise InvalidInput(f"item {item_id} is not {what} of order {order.order_id}")
        chosen.append(match)
    return chosen


def request_return(s: Session, order_id: str, item_ids: list[str], today: date) -> float:
    """Marks items for return; returns the amount to refund for them."""
    order = get_order(s, order_id, lock=True)
    chosen = _delivered_items(s, order, item_ids, today)
    for row in chosen:
        row.status = "return requested"
    order.status = "return requested"
    return round(sum(r.price for r in chosen), 2)


def book_repair(s: Session, order_id: str, item_ids: list[str], fault: str, today: date) -> dict[str, Any]:
    """Books a warranty repair (collection, or at home for large appliances) for delivered items still under the
    two-year warranty; returns the repair's reference and what happens next."""
    order = get_order(s, order_id, lock=True)
    _require_status(order, ("delivered",), "repaired under warranty")
    if order.delivered_on and (today - order.delivered_on).days > WARRANTY_DAYS:
        raise PolicyDenied(f"order {order_id} was delivered more than two years ago, so its warranty has ended")
    chosen = _ordered_items(s, order, item_ids, "an item that can be repaired")
    repairs = list((order.extra or {}).get("repairs", []))
    reference = f"RP-{order_id.lstrip('#W')}-{len(repairs) + 1}"
    for row in chosen:
        row.status = "repair booked"
    repairs.append({"repair_id": reference, "item_ids": list(item_ids), "fault": fault[:1000],
                    "booked_on": today.isoformat(), "status": "booked"})
    order.extra = {**(order.extra or {}), "repairs": repairs}
    return {"repair_id": reference, "items": [r.name for r in chosen]}


def cancel_repair(s: Session, order_id: str, repair_id: str) -> None:
    """Undoes a booked repair: its items are as they were, the booking is marked cancelled."""
    order = get_order(s, order_id, lock=True)
    repairs = list((order.extra or {}).get("repairs", []))
    booked = next((r for r in repairs if r.get("repair_id") == repair_id), None)
    if booked is None or booked.get("status") != "booked":
        raise InvalidInput(f"repair {repair_id} is not booked on order {order_id}")
    left = list(booked["item_ids"])
    for row in items(s, order_id):
        if row.status == "repair booked" and row.item_id in left:
            row.status = "ordered"
            left.remove(row.item_id)
    repairs = [{**r, "status": "cancelled"} if r is booked else r for r in repairs]
    order.extra = {**(order.extra or {}), "repairs": repairs}


def request_exchange(s: Session, order_id: str, item_ids: list[str], new_item_ids: list[str], today: date) -> float:
    """Marks items for exchange; returns the price difference (positive: the customer pays)."""
    if len(item_ids) != len(new_item_ids):
        raise InvalidInput("give one new item for each item to exchange")
    order = get_order(s, order_id, lock=True)
    chosen = _delivered_items(s, order, item_ids, today)
    diff = 0.0
    for row, new_id in zip(chosen, new_item_ids, strict=True):
        new = _new_variant(s, row, new_id, identical_ok=True)  # a faulty unit can be replaced by the same one
        row.status = "exchange requested"
        row.new_item_id = new_id
        diff += new.price - row.price
    order.status = "exchange requested"
    return round(diff, 2)


def _new_variant(s: Session, row: OrderItemRow, new_id: str, identical_ok: bool = False) -> VariantRow:
    new = get_variant(s, new_id)
    if new.product_id != row.product_id:
        raise PolicyDenied("an item can only be changed to another option of the same product")
    if not new.available:
        raise PolicyDenied(f"item {new_id} is not available")
    if new.item_id == row.item_id and not identical_ok:
        raise InvalidInput("the new item must be a different option")
    return new


def modify_items(s: Session, order_id: str, item_ids: list[str], new_item_ids: list[str]
                 ) -> tuple[float, list[dict[str, Any]]]:
    """Changes items of a pending order to other options of the same products, once per order. Returns the
    price difference (positive: the customer pays) and the items as they were, for a reversal."""
    if not item_ids or len(item_ids) != len(new_item_ids):
        raise InvalidInput("give one new item for each item to change")
    order = get_order(s, order_id, lock=True)
    if order.status == ITEMS_MODIFIED:
        raise PolicyDenied(f"the items of order {order_id} were already changed once")
    _require_status(order, ("pending",), "modified")
    rows = items(s, order_id)
    chosen: list[OrderItemRow] = []
    for item_id in item_ids:
        match = next((r for r in rows if r.item_id == item_id and r not in chosen), None)
        if match is None:
            raise InvalidInput(f"item {item_id} is not in order {order_id}")
        chosen.append(match)
    before, diff = [], 0.0
    for row, new_id in zip(chosen, new_item_ids, strict=True):
        new = _new_variant(s, row, new_id)
        before.append({"position": row.position, "item_id": row.item_id, "options": row.options, "price": row.price})
        diff += new.price - row.price
        row.item_id, row.options, row.price = new.item_id, dict(new.options), new.price
    order.status = ITEMS_MODIFIED
    return round(diff, 2), before


def restore_items(s: Session, order_id: str, before: list[dict[str, Any]]) -> None:
    order = get_order(s, order_id, lock=True)
    rows = {r.position: r for r in items(s, order_id)}
    for old in before:
        row = rows[int(old["position"])]
        row.item_id, row.options, row.price = old["item_id"], old["options"], float(old["price"])
    order.status = "pending"
