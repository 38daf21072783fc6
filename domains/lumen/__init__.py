"""Lumen Home, the demo company: a home-electronics retailer with installation appointments (orders, billing,
CRM, scheduling). Its knowledge, examples and policy are in ``knowledge/`` beside this file, as every pack's."""

from __future__ import annotations

from pathlib import Path

from cx_core.domain import DEFAULT_CHANNELS, Brand, ChannelSpec, DomainPack, Locale

ROOT = Path(__file__).resolve().parent

TASK_TYPES = {
    "order_status": "order status", "delivery_reschedule": "reschedule delivery", "address_change": "change address",
    "order_cancel": "cancel order", "return_refund": "return / refund", "exchange": "exchange",
    "damaged_item": "damaged item", "duplicate_charge": "duplicate charge", "resend_invoice": "resend invoice",
    "contact_update": "update contact details", "payment_method": "payment method",
    "installation_reschedule": "reschedule installation", "charge_dispute": "charge dispute",
    "technical_question": "technical question", "account_access": "account access", "complaint": "complaint",
    "data_request": "data protection request",
}

PACK = DomainPack(
    name="lumen",
    title="Lumen Home",
    package="domains.lumen",
    root=ROOT,
    task_types=TASK_TYPES,
    informational=frozenset({"order_status", "technical_question", "account_access", "payment_method"}),
    brand=Brand(name="Lumen Home", signature="Kind regards,\nLumen Home Customer Care", sender="care@lumenhome.example"),
    locale=Locale(currency="USD", time_zone="America/Chicago", phone_example="+1 512 555 0142"),
    channels=(*DEFAULT_CHANNELS, ChannelSpec("whatsapp", "WhatsApp", 60, live=True)),
    modules={"actions": "domains.lumen.actions", "records": "domains.lumen.records", "planner": "domains.lumen.planner",
             "demo": "domains.lumen.demo", "tables": "domains.lumen.tables", "evaluation": "domains.lumen.evaluation"},
)
