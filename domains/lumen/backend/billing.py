"""Billing: payment methods, order payments and refunds, invoices, charges and credits.
A refund is never above what was paid and not yet refunded; a credit never above the charge."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx_core.errors import InvalidInput, NotFound, PolicyDenied
from cx_core.store.db import require_row, utcnow
from domains.lumen.tables import ChargeRow, InvoiceRow, PaymentMethodRow, PaymentRow


def payment_methods(s: Session, user_id: str) -> list[PaymentMethodRow]:
    return list(s.scalars(select(PaymentMethodRow).where(PaymentMethodRow.user_id == user_id)))


def payments(s: Session, order_id: str) -> list[PaymentRow]:
    return list(s.scalars(select(PaymentRow).where(PaymentRow.order_id == order_id).order_by(PaymentRow.id)))


def refundable(s: Session, order_id: str) -> float:
    rows = payments(s, order_id)
    paid = sum(r.amount for r in rows if r.transaction_type == "payment")
    refunded = sum(r.amount for r in rows if r.transaction_type == "refund")
    return round(paid - refunded, 2)


def original_method(s: Session, order_id: str) -> str:
    first = next((r for r in payments(s, order_id) if r.transaction_type == "payment"), None)
    if first is None:
        raise NotFound(f"order {order_id} has no payment")
    return first.payment_method_id


def duplicate_payment(s: Session, order_id: str) -> PaymentRow | None:
    """The second of two payments of the same amount on one order, if there is one not yet refunded."""
    rows = payments(s, order_id)
    pays = [r for r in rows if r.transaction_type == "payment"]
    refunds = [r for r in rows if r.transaction_type == "refund"]
    for i, a in enumerate(pays):
        for b in pays[i + 1:]:
            if abs(a.amount - b.amount) < 0.005 and not any(abs(r.amount - b.amount) < 0.005 for r in refunds):
                return b
    return None


def refund(s: Session, order_id: str, amount: float, payment_method_id: str, note: str) -> int:
    if amount <= 0:
        raise InvalidInput("the refund amount must be greater than 0")
    available = refundable(s, order_id)
    if amount > available + 0.005:
        raise PolicyDenied(f"refund of {amount:.2f} is above what remains paid on order {order_id} ({available:.2f})")
    method = require_row(s, PaymentMethodRow, payment_method_id, "payment method")
    if method.source == "gift_card":
        method.balance = round((method.balance or 0.0) + amount, 2)
    row = PaymentRow(order_id=order_id, transaction_type="refund", amount=round(amount, 2),
                     payment_method_id=payment_method_id, created_at=utcnow(), note=note[:200])
    s.add(row)
    s.flush()
    return row.id


def charge(s: Session, order_id: str, amount: float, payment_method_id: str, note: str) -> int:
    """Takes an extra payment on an order (a price difference); a gift card must cover it."""
    if amount <= 0:
        raise InvalidInput("the amount to charge must be greater than 0")
    method = require_row(s, PaymentMethodRow, payment_method_id, "payment method")
    if method.source == "gift_card":
        if (method.balance or 0.0) + 0.005 < amount:
            raise PolicyDenied(f"gift card {payment_method_id} holds {method.balance or 0.0:.2f}, "
                               f"less than the {amount:.2f} to pay")
        method.balance = round((method.balance or 0.0) - amount, 2)
    row = PaymentRow(order_id=order_id, transaction_type="payment", amount=round(amount, 2),
                     payment_method_id=payment_method_id, created_at=utcnow(), note=note[:200])
    s.add(row)
    s.flush()
    return row.id


def _void(s: Session, row_id: int, kind: str) -> None:
    """Removes a payment or refund row, giving a gift card back what the row had moved."""
    row = s.get(PaymentRow, row_id)
    if row is None or row.transaction_type != kind:
        raise NotFound(f"{kind} {row_id} not found")
    method = s.get(PaymentMethodRow, row.payment_method_id)
    if method is not None and method.source == "gift_card":
        method.balance = round((method.balance or 0.0) + (row.amount if kind == "payment" else -row.amount), 2)
    s.delete(row)


def reverse_charge(s: Session, payment_id: int) -> None:
    _void(s, payment_id, "payment")


def reverse_refund(s: Session, refund_id: int) -> None:
    _void(s, refund_id, "refund")


def invoices(s: Session, user_id: str) -> list[InvoiceRow]:
    return list(s.scalars(select(InvoiceRow).where(InvoiceRow.user_id == user_id)
                          .order_by(InvoiceRow.issued_on.desc())))


def get_invoice(s: Session, invoice_id: str) -> InvoiceRow:
    return require_row(s, InvoiceRow, invoice_id, "invoice")


def mark_sent(s: Session, invoice_id: str) -> InvoiceRow:
    row = get_invoice(s, invoice_id)
    row.times_sent += 1
    return row


def charges(s: Session, user_id: str) -> list[ChargeRow]:
    return list(s.scalars(select(ChargeRow).where(ChargeRow.user_id == user_id)
                          .order_by(ChargeRow.created_on.desc())))


def get_charge(s: Session, charge_id: str) -> ChargeRow:
    return require_row(s, ChargeRow, charge_id, "charge")


def credit(s: Session, charge_id: str, amount: float) -> float:
    row = get_charge(s, charge_id)
    if amount <= 0:
        raise InvalidInput("the credit must be greater than 0")
    if row.credited + amount > row.amount + 0.005:
        raise PolicyDenied(f"credit of {amount:.2f} is above what remains of charge {charge_id} "
                           f"({row.amount - row.credited:.2f})")
    row.credited = round(row.credited + amount, 2)
    row.status = "credited" if row.credited >= row.amount - 0.005 else "partly credited"
    return row.credited


def reverse_credit(s: Session, charge_id: str, amount: float) -> None:
    row = get_charge(s, charge_id)
    row.credited = round(max(0.0, row.credited - amount), 2)
    row.status = "charged" if row.credited == 0 else "partly credited"
