"""Lumen Home's backend systems as tables: CRM, Orders, Billing and Scheduling.

The Orders/Billing/CRM tables are a superset of the τ-bench retail schema (users, products with variants,
orders with items, fulfilments and payment history), so its ``db.json`` loads into the same backend.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Lumen's own tables, created beside the engine's in the same database."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


METADATA = Base.metadata


# ---------------------------------------------------------------- CRM
class CustomerRow(Base):
    __tablename__ = "crm_customers"
    user_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    address1: Mapped[str] = mapped_column(String(200), default="")
    address2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(40), default="")
    country: Mapped[str] = mapped_column(String(60), default="")
    zip: Mapped[str] = mapped_column(String(20), default="", index=True)
    tier: Mapped[str] = mapped_column(String(20), default="standard")
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CrmNoteRow(Base):
    __tablename__ = "crm_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(80), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    author: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


# ---------------------------------------------------------------- Orders
class ProductRow(Base):
    __tablename__ = "orders_products"
    product_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(60), default="")
    needs_installation: Mapped[bool] = mapped_column(Boolean, default=False)


class VariantRow(Base):
    __tablename__ = "orders_variants"
    item_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("orders_products.product_id"), index=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    price: Mapped[float] = mapped_column(Float)


class OrderRow(Base):
    __tablename__ = "orders_orders"
    order_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(80), index=True)
    status: Mapped[str] = mapped_column(String(40), index=True)
    address1: Mapped[str] = mapped_column(String(200), default="")
    address2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(40), default="")
    country: Mapped[str] = mapped_column(String(60), default="")
    zip: Mapped[str] = mapped_column(String(20), default="")
    address_changes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expected_delivery: Mapped[date | None] = mapped_column(Date, nullable=True)
    delivered_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(80), nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OrderItemRow(Base):
    __tablename__ = "orders_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders_orders.order_id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    item_id: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    price: Mapped[float] = mapped_column(Float)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(40), default="ordered")
    new_item_id: Mapped[str | None] = mapped_column(String(40), nullable=True)


class FulfillmentRow(Base):
    __tablename__ = "orders_fulfillments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders_orders.order_id"), index=True)
    carrier: Mapped[str] = mapped_column(String(60), default="")
    tracking_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    item_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)


# ---------------------------------------------------------------- Billing
class PaymentMethodRow(Base):
    __tablename__ = "billing_payment_methods"
    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(80), index=True)
    source: Mapped[str] = mapped_column(String(20))
    brand: Mapped[str | None] = mapped_column(String(30), nullable=True)
    last_four: Mapped[str | None] = mapped_column(String(4), nullable=True)
    balance: Mapped[float | None] = mapped_column(Float, nullable=True)


class PaymentRow(Base):
    """An order's payment history (τ-bench ``payment_history``): payments and refunds."""

    __tablename__ = "billing_payments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    transaction_type: Mapped[str] = mapped_column(String(20))
    amount: Mapped[float] = mapped_column(Float)
    payment_method_id: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(String(200), default="")


class InvoiceRow(Base):
    __tablename__ = "billing_invoices"
    invoice_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(80), index=True)
    order_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    appointment_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    description: Mapped[str] = mapped_column(String(200))
    amount: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="paid")
    issued_on: Mapped[date] = mapped_column(Date)
    times_sent: Mapped[int] = mapped_column(Integer, default=1)


class ChargeRow(Base):
    __tablename__ = "billing_charges"
    charge_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(80), index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    kind: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(200))
    amount: Mapped[float] = mapped_column(Float)
    credited: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(20), default="charged")
    created_on: Mapped[date] = mapped_column(Date)


# ---------------------------------------------------------------- Scheduling
class SlotRow(Base):
    __tablename__ = "sched_slots"
    slot_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    start: Mapped[datetime] = mapped_column(DateTime, index=True)
    end: Mapped[datetime] = mapped_column(DateTime)
    region: Mapped[str] = mapped_column(String(60))
    technician: Mapped[str] = mapped_column(String(80))
    free: Mapped[bool] = mapped_column(Boolean, default=True, index=True)


class AppointmentRow(Base):
    __tablename__ = "sched_appointments"
    appointment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(80), index=True)
    order_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    kind: Mapped[str] = mapped_column(String(30), default="installation")
    slot_id: Mapped[str] = mapped_column(String(40))
    start: Mapped[datetime] = mapped_column(DateTime)
    technician: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), default="booked")
    region: Mapped[str] = mapped_column(String(60), default="")
