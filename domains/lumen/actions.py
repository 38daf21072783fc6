"""The typed actions. Each re-checks its preconditions in code, whatever the policy or the ticket said."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy.orm import Session

from cx_core import outbox as notifications
from cx_core.actions.base import Args, ExecContext, action
from cx_core.errors import InvalidInput
from cx_core.wording import day
from domains.lumen import wording  # noqa: F401  (registers how replies speak of these actions)
from domains.lumen.backend import billing, crm, orders, scheduling

OrderId = Field(pattern=r"^#W\d{7}$", description="Order id, e.g. #W1234567.")


def _order_owner(s: Session, a: Any) -> str:
    return orders.get_order(s, a.order_id).user_id


def _user_owner(_s: Session, a: Any) -> str:
    return str(a.user_id)


# ---------------------------------------------------------------- orders
class LookupOrder(Args):
    order_id: str = OrderId


@action(name="lookup_order", args=LookupOrder, writes=False, reversible=True, risk="low", connector="orders",
        task_types=("order_status",), owner=_order_owner, label="Look up order")
def lookup_order(s: Session, a: LookupOrder, ctx: ExecContext) -> dict[str, Any]:
    """Read an order's status, items, expected delivery date and tracking numbers."""
    return orders.order_view(s, orders.get_order(s, a.order_id))


class RescheduleDelivery(Args):
    order_id: str = OrderId
    new_date: date = Field(description="New delivery date (1 to 14 days ahead, not a Sunday or a public holiday).")


def _undo_reschedule_delivery(s: Session, a: RescheduleDelivery, result: dict[str, Any], ctx: ExecContext
                              ) -> dict[str, Any]:
    previous = result.get("undo", {}).get("previous")
    orders.restore_delivery(s, a.order_id, date.fromisoformat(previous) if previous else None)
    return {"order_id": a.order_id, "expected_delivery": previous}


@action(name="reschedule_delivery", args=RescheduleDelivery, writes=True, reversible=True, risk="low",
        connector="orders", task_types=("delivery_reschedule",), owner=_order_owner, label="Reschedule delivery",
        compensate=_undo_reschedule_delivery)
def reschedule_delivery(s: Session, a: RescheduleDelivery, ctx: ExecContext) -> dict[str, Any]:
    """Move the expected delivery date of a pending or processed order."""
    before = orders.reschedule_delivery(s, a.order_id, a.new_date, ctx.today)
    return {"order_id": a.order_id, "expected_delivery": a.new_date.isoformat(), "undo": {"previous": before}}


class Address(Args):
    address1: str = Field(min_length=3, title="Street", description="Street and number.")
    address2: str = Field(default="", title="Apartment or suite", description="Apartment, suite or unit.")
    city: str = Field(min_length=2)
    state: str = Field(pattern=r"^[A-Z]{2}$", description="Two-letter state code.")
    country: Literal["USA"] = "USA"
    zip: str = Field(pattern=r"^\d{5}$", title="ZIP code", description="Five-digit ZIP code.")


class ChangeShippingAddress(Address):
    order_id: str = OrderId


def _undo_address(s: Session, a: ChangeShippingAddress, result: dict[str, Any], ctx: ExecContext) -> dict[str, Any]:
    previous = result.get("undo", {}).get("previous") or {}
    orders.restore_address(s, a.order_id, previous)
    return {"order_id": a.order_id, "address": previous}


@action(name="change_shipping_address", args=ChangeShippingAddress, writes=True, reversible=True, risk="medium",
        connector="orders", task_types=("address_change",), owner=_order_owner, label="Change shipping address",
        compensate=_undo_address)
def change_shipping_address(s: Session, a: ChangeShippingAddress, ctx: ExecContext) -> dict[str, Any]:
    """Change the shipping address of a pending order (once per order)."""
    new = a.model_dump(exclude={"order_id"})
    before = orders.change_address(s, a.order_id, new)
    return {"order_id": a.order_id, "address": new, "undo": {"previous": before}}


class CancelOrder(Args):
    order_id: str = OrderId
    reason: Literal["no longer needed", "ordered by mistake"] = Field(description="Why the customer cancels.")


def _cancel_amount(s: Session, a: CancelOrder) -> float:
    return billing.refundable(s, a.order_id)


@action(name="cancel_order", args=CancelOrder, writes=True, reversible=False, risk="medium", connector="orders",
        task_types=("order_cancel",), owner=_order_owner, amount=_cancel_amount, label="Cancel order", confirm=True,
        refunds_in_full=True)
def cancel_order(s: Session, a: CancelOrder, ctx: ExecContext) -> dict[str, Any]:
    """Cancel a pending order and refund everything paid to the original payment method."""
    orders.cancel(s, a.order_id, a.reason)
    amount = billing.refundable(s, a.order_id)
    refund_id = None
    if amount > 0:
        refund_id = billing.refund(s, a.order_id, amount, billing.original_method(s, a.order_id), "order cancelled")
    return {"order_id": a.order_id, "status": "cancelled", "refunded": amount, "refund_id": refund_id}


class Refund(Args):
    order_id: str = OrderId
    amount: float = Field(gt=0, le=100000, description="Amount in USD.")
    reason: str = Field(min_length=3, max_length=200)
    payment_method_id: str | None = Field(default=None, description="Defaults to the original payment method.")


def _refund_amount(_s: Session, a: Refund) -> float:
    return a.amount


def _undo_refund(s: Session, a: Refund, result: dict[str, Any], ctx: ExecContext) -> dict[str, Any]:
    refund_id = int(result.get("undo", {}).get("refund_id", 0))
    billing.reverse_refund(s, refund_id)
    return {"order_id": a.order_id, "reversed_refund": refund_id}


@action(name="refund", args=Refund, writes=True, reversible=True, risk="high", connector="billing",
        task_types=("duplicate_charge", "return_refund", "damaged_item", "complaint"), owner=_order_owner,
        amount=_refund_amount, label="Refund", compensate=_undo_refund)
def refund(s: Session, a: Refund, ctx: ExecContext) -> dict[str, Any]:
    """Refund part or all of an order's payments (never more than was paid and not yet refunded)."""
    method = a.payment_method_id or billing.original_method(s, a.order_id)
    refund_id = billing.refund(s, a.order_id, a.amount, method, a.reason)
    return {"order_id": a.order_id, "refunded": a.amount, "payment_method_id": method,
            "undo": {"refund_id": refund_id}}


class ReturnItems(Args):
    order_id: str = OrderId
    item_ids: list[str] = Field(min_length=1, description="Item ids to return.")
    payment_method_id: str | None = Field(default=None, description="Refund destination; original by default.")


def _return_amount(s: Session, a: ReturnItems) -> float:
    rows = orders.items(s, a.order_id)
    return round(sum(next((r.price for r in rows if r.item_id == i), 0.0) for i in a.item_ids), 2)


@action(name="return_items", args=ReturnItems, writes=True, reversible=False, risk="medium", connector="orders",
        task_types=("return_refund", "damaged_item"), owner=_order_owner, amount=_return_amount,
        label="Return items", confirm=True, combine=("item_ids",))
def return_items(s: Session, a: ReturnItems, ctx: ExecContext) -> dict[str, Any]:
    """Open a return for delivered items; the refund goes to the original method or an existing gift card."""
    method = a.payment_method_id or billing.original_method(s, a.order_id)
    user = orders.get_order(s, a.order_id).user_id
    if method not in {m.id for m in billing.payment_methods(s, user)}:
        raise InvalidInput(f"payment method {method} is not one of the customer's")
    amount = orders.request_return(s, a.order_id, a.item_ids, ctx.today)
    refund_id = billing.refund(s, a.order_id, amount, method, "return of " + ", ".join(a.item_ids))
    return {"order_id": a.order_id, "status": "return requested", "refunded": amount, "refund_id": refund_id}


class BookRepair(Args):
    order_id: str = OrderId
    item_ids: list[str] = Field(min_length=1, description="The faulty items.")
    fault: str = Field(min_length=3, max_length=1000, description="What is wrong, in the customer's words.")


def _undo_repair(s: Session, a: BookRepair, result: dict[str, Any], ctx: ExecContext) -> dict[str, Any]:
    orders.cancel_repair(s, a.order_id, str(result["repair_id"]))
    return {"order_id": a.order_id, "repair_id": result["repair_id"], "status": "repair cancelled"}


@action(name="book_repair", args=BookRepair, writes=True, reversible=True, risk="low", connector="orders",
        task_types=("damaged_item", "technical_question"), owner=_order_owner, label="Book a warranty repair",
        compensate=_undo_repair)
def book_repair(s: Session, a: BookRepair, ctx: ExecContext) -> dict[str, Any]:
    """Book a free warranty repair for delivered items under the two-year warranty: a courier collects them (large
    appliances are repaired at home). The route for a fault after the 30-day return window."""
    booked = orders.book_repair(s, a.order_id, a.item_ids, a.fault, ctx.today)
    return {"order_id": a.order_id, "status": "repair booked", **booked}


class ExchangeItem(Args):
    order_id: str = OrderId
    item_ids: list[str] = Field(min_length=1)
    new_item_ids: list[str] = Field(min_length=1, description="One option of the same product per item: another "
                                    "option, or the same one for an identical replacement.")
    payment_method_id: str | None = None


@action(name="exchange_item", args=ExchangeItem, writes=True, reversible=False, risk="medium", connector="orders",
        task_types=("exchange", "damaged_item"), owner=_order_owner, label="Exchange item", confirm=True,
        combine=("item_ids", "new_item_ids"))
def exchange_item(s: Session, a: ExchangeItem, ctx: ExecContext) -> dict[str, Any]:
    """Exchange delivered items for other options of the same product (or an identical replacement); settles the
    price difference."""
    diff = orders.request_exchange(s, a.order_id, a.item_ids, a.new_item_ids, ctx.today)
    method = a.payment_method_id or billing.original_method(s, a.order_id)
    if diff < 0:
        billing.refund(s, a.order_id, -diff, method, "exchange price difference")
    return {"order_id": a.order_id, "status": "exchange requested", "price_difference": diff}


class ModifyOrderItems(Args):
    order_id: str = OrderId
    item_ids: list[str] = Field(min_length=1, description="Item ids of the pending order to change.")
    new_item_ids: list[str] = Field(min_length=1, description="One new option of the same product per item.")
    payment_method_id: str | None = Field(default=None, description="Pays or receives the price difference; "
                                                                    "the original method by default.")


def _modify_amount(s: Session, a: ModifyOrderItems) -> float:
    rows = orders.items(s, a.order_id)
    old = sum(next((r.price for r in rows if r.item_id == i), 0.0) for i in a.item_ids)
    new = sum(orders.get_variant(s, i).price for i in a.new_item_ids)
    return round(abs(new - old), 2)


def _undo_modify(s: Session, a: ModifyOrderItems, result: dict[str, Any], ctx: ExecContext) -> dict[str, Any]:
    undo = result.get("undo", {})
    orders.restore_items(s, a.order_id, undo.get("items", []))
    if undo.get("payment_id"):
        billing.reverse_charge(s, int(undo["payment_id"]))
    if undo.get("refund_id"):
        billing.reverse_refund(s, int(undo["refund_id"]))
    return {"order_id": a.order_id, "items": [i["item_id"] for i in undo.get("items", [])]}


@action(name="modify_order_items", args=ModifyOrderItems, writes=True, reversible=True, risk="medium",
        connector="orders", task_types=("exchange",), owner=_order_owner, amount=_modify_amount,
        label="Change items of a pending order", compensate=_undo_modify, combine=("item_ids", "new_item_ids"))
def modify_order_items(s: Session, a: ModifyOrderItems, ctx: ExecContext) -> dict[str, Any]:
    """Change items of a pending order to other options of the same products (once per order); the price
    difference is charged to, or refunded to, the payment method."""
    method = a.payment_method_id or billing.original_method(s, a.order_id)
    user = orders.get_order(s, a.order_id).user_id
    if method not in {m.id for m in billing.payment_methods(s, user)}:
        raise InvalidInput(f"payment method {method} is not one of the customer's")
    diff, before = orders.modify_items(s, a.order_id, a.item_ids, a.new_item_ids)
    undo: dict[str, Any] = {"items": before}
    if diff > 0:
        undo["payment_id"] = billing.charge(s, a.order_id, diff, method, "item change price difference")
    elif diff < 0:
        undo["refund_id"] = billing.refund(s, a.order_id, -diff, method, "item change price difference")
    return {"order_id": a.order_id, "status": orders.ITEMS_MODIFIED, "price_difference": diff,
            "payment_method_id": method, "undo": undo}


# ---------------------------------------------------------------- billing
class ResendInvoice(Args):
    invoice_id: str = Field(pattern=r"^INV-\d{4,}$")


def _invoice_owner(s: Session, a: ResendInvoice) -> str:
    return billing.get_invoice(s, a.invoice_id).user_id


@action(name="resend_invoice", args=ResendInvoice, writes=True, reversible=False, risk="low", connector="billing",
        task_types=("resend_invoice",), owner=_invoice_owner, label="Resend invoice")
def resend_invoice(s: Session, a: ResendInvoice, ctx: ExecContext) -> dict[str, Any]:
    """Email an invoice again to the address on the account (never to another address)."""
    inv = billing.mark_sent(s, a.invoice_id)
    customer = crm.get_customer(s, inv.user_id)
    nid = notifications.send(s, customer.email, "email", "invoice", f"Your invoice {inv.invoice_id}",
                             f"{inv.description}: ${inv.amount:.2f}, issued {inv.issued_on.isoformat()}.",
                             ctx.ticket_id)
    return {"invoice_id": a.invoice_id, "sent_to": customer.email, "notification_id": nid}


class CreditCharge(Args):
    charge_id: str = Field(pattern=r"^CHG-\d{4,}$")
    amount: float = Field(gt=0, le=100000)
    reason: str = Field(min_length=3, max_length=200)


def _charge_owner(s: Session, a: CreditCharge) -> str:
    return billing.get_charge(s, a.charge_id).user_id


def _credit_amount(_s: Session, a: CreditCharge) -> float:
    return a.amount


def _undo_credit(s: Session, a: CreditCharge, result: dict[str, Any], ctx: ExecContext) -> dict[str, Any]:
    billing.reverse_credit(s, a.charge_id, a.amount)
    return {"charge_id": a.charge_id, "reversed_credit": a.amount}


@action(name="credit_charge", args=CreditCharge, writes=True, reversible=True, risk="high", connector="billing",
        task_types=("charge_dispute",), owner=_charge_owner, amount=_credit_amount, label="Credit charge",
        compensate=_undo_credit)
def credit_charge(s: Session, a: CreditCharge, ctx: ExecContext) -> dict[str, Any]:
    """Credit all or part of a disputed charge (never more than the charge)."""
    credited = billing.credit(s, a.charge_id, a.amount)
    return {"charge_id": a.charge_id, "credited_total": credited, "undo": {"amount": a.amount}}


# ---------------------------------------------------------------- CRM
class UpdateContact(Args):
    user_id: str = Field(title="Customer")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
    phone: str | None = Field(default=None, pattern=r"^\+?[\d\s().-]{7,20}$")

    @field_validator("phone")
    @classmethod
    def _digits(cls, v: str | None) -> str | None:
        return v.strip() if v else v


def _undo_contact(s: Session, a: UpdateContact, result: dict[str, Any], ctx: ExecContext) -> dict[str, Any]:
    previous = result.get("undo", {}).get("previous") or {}
    crm.restore_contact(s, a.user_id, previous)
    return {"user_id": a.user_id, **previous}


@action(name="update_contact_details", args=UpdateContact, writes=True, reversible=True, risk="medium",
        connector="crm", task_types=("contact_update",), owner=_user_owner, label="Update contact details",
        compensate=_undo_contact)
def update_contact_details(s: Session, a: UpdateContact, ctx: ExecContext) -> dict[str, Any]:
    """Update the customer's email address and/or phone number."""
    if not a.email and not a.phone:
        raise InvalidInput("give a new email or phone number")
    before = crm.update_contact(s, a.user_id, str(a.email) if a.email else None, a.phone)
    return {"user_id": a.user_id, "email": str(a.email) if a.email else None, "phone": a.phone,
            "undo": {"previous": before}}


class UpdateDefaultAddress(Address):
    user_id: str = Field(title="Customer")


def _undo_default_address(s: Session, a: UpdateDefaultAddress, result: dict[str, Any], ctx: ExecContext
                          ) -> dict[str, Any]:
    previous = result.get("undo", {}).get("previous") or {}
    crm.update_address(s, a.user_id, previous)
    return {"user_id": a.user_id, "address": previous}


@action(name="update_default_address", args=UpdateDefaultAddress, writes=True, reversible=True, risk="low",
        connector="crm", task_types=("address_change", "contact_update"), owner=_user_owner,
        label="Update default address", compensate=_undo_default_address)
def update_default_address(s: Session, a: UpdateDefaultAddress, ctx: ExecContext) -> dict[str, Any]:
    """Change the customer's default address (orders already placed keep theirs)."""
    new = a.model_dump(exclude={"user_id"})
    before = crm.update_address(s, a.user_id, new)
    return {"user_id": a.user_id, "address": new, "undo": {"previous": before}}


class AddNote(Args):
    user_id: str = Field(title="Customer")
    body: str = Field(min_length=1, max_length=4000)


def _undo_note(s: Session, a: AddNote, result: dict[str, Any], ctx: ExecContext) -> dict[str, Any]:
    crm.retract_note(s, int(result["note_id"]), ctx.actor)
    return {"note_id": result["note_id"], "retracted": True}


@action(name="add_internal_note", args=AddNote, writes=True, reversible=True, risk="low", connector="crm",
        task_types=("complaint", "data_request"), owner=_user_owner, label="Add internal note", compensate=_undo_note)
def add_internal_note(s: Session, a: AddNote, ctx: ExecContext) -> dict[str, Any]:
    """Add a note to the customer's CRM record, visible to staff only."""
    return {"note_id": crm.add_note(s, a.user_id, ctx.actor, a.body, ctx.ticket_id)}


# ---------------------------------------------------------------- scheduling
class RescheduleAppointment(Args):
    appointment_id: str = Field(pattern=r"^APT-\d{4,}$")
    slot_id: str = Field(title="New time", description="A free slot in the customer's region.")


def _appointment_owner(s: Session, a: Any) -> str:
    return scheduling.get_appointment(s, a.appointment_id).user_id


def _undo_appointment(s: Session, a: RescheduleAppointment, result: dict[str, Any], ctx: ExecContext
                      ) -> dict[str, Any]:
    previous = str(result.get("undo", {}).get("previous_slot", ""))
    scheduling.restore(s, a.appointment_id, previous)
    appt = scheduling.get_appointment(s, a.appointment_id)
    return {"appointment_id": a.appointment_id, "start": appt.start.isoformat(timespec="minutes")}


@action(name="reschedule_appointment", args=RescheduleAppointment, writes=True, reversible=True, risk="low",
        connector="scheduling", task_types=("installation_reschedule",), owner=_appointment_owner,
        label="Reschedule appointment", compensate=_undo_appointment)
def reschedule_appointment(s: Session, a: RescheduleAppointment, ctx: ExecContext) -> dict[str, Any]:
    """Move an installation appointment to a free slot; the old slot is released."""
    previous = scheduling.move(s, a.appointment_id, a.slot_id, ctx.now)
    appt = scheduling.get_appointment(s, a.appointment_id)
    start = appt.start.isoformat(timespec="minutes")
    return {"appointment_id": a.appointment_id, "start": start, "when": day(start),
            "technician": appt.technician, "undo": {"previous_slot": previous}}


class NotifyFieldTeam(Args):
    appointment_id: str = Field(pattern=r"^APT-\d{4,}$")
    message: str = Field(min_length=3, max_length=2000)


@action(name="notify_field_team", args=NotifyFieldTeam, writes=True, reversible=False, risk="low",
        connector="notifications", task_types=("installation_reschedule", "charge_dispute"),
        owner=_appointment_owner, label="Notify field team")
def notify_field_team(s: Session, a: NotifyFieldTeam, ctx: ExecContext) -> dict[str, Any]:
    """Send a message to the field team about an appointment."""
    appt = scheduling.get_appointment(s, a.appointment_id)
    nid = notifications.send(s, f"field-team/{appt.region}", "field", "field_team",
                             f"Appointment {appt.appointment_id}", a.message, ctx.ticket_id)
    return {"notification_id": nid, "technician": appt.technician}
