"""CRM: customers, contact details, consent and notes."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cx_core.errors import InvalidInput, NotFound
from cx_core.store.db import require_row, utcnow
from domains.lumen.tables import CrmNoteRow, CustomerRow, OrderRow


def get_customer(s: Session, user_id: str) -> CustomerRow:
    return require_row(s, CustomerRow, user_id, "customer")


def find_customer(s: Session, ref: str | None) -> CustomerRow | None:
    """The customer named by an email address or a customer id, if any."""
    if not ref or not ref.strip():
        return None
    ref = ref.strip()
    if "@" in ref:
        return s.scalars(select(CustomerRow).where(func.lower(CustomerRow.email) == ref.lower())).first()
    return s.get(CustomerRow, ref)


def find_by_name_zip(s: Session, first: str, last: str, zip_code: str) -> CustomerRow | None:
    return s.scalars(select(CustomerRow).where(
        func.lower(CustomerRow.first_name) == first.lower(), func.lower(CustomerRow.last_name) == last.lower(),
        CustomerRow.zip == zip_code)).first()


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_USER_ID = re.compile(r"\b[a-z]+_[a-z]+_\d{4}\b")
_NAME = re.compile(r"\b([A-Z][a-z]+)\s+([A-Z][a-z]+)\b")
_ORDER_ID = re.compile(r"#?W(\d{7})\b")
_ZIP = re.compile(r"(?<![\d#W])\d{5}(?!\d)")


def identify(s: Session, text: str) -> CustomerRow | None:
    """The one customer a ticket's text identifies (an email, a customer id, an order number, or a full name with a
    ZIP code);
    None when nothing or more than one customer matches. Identified, not verified: the sender still has to
    prove it is them before the agent acts alone."""
    found: dict[str, CustomerRow] = {}
    for email in _EMAIL.findall(text):
        c = find_customer(s, email)
        if c is not None:
            found[c.user_id] = c
    for uid in _USER_ID.findall(text):
        c = s.get(CustomerRow, uid)
        if c is not None:
            found[c.user_id] = c
    orders = {f"#W{n}" for n in _ORDER_ID.findall(text)}
    if orders:  # an order number names the customer who placed it
        for uid in s.scalars(select(OrderRow.user_id).where(OrderRow.order_id.in_(orders))):
            c = s.get(CustomerRow, uid)
            if c is not None:
                found[c.user_id] = c
    if not found:
        zips = set(_ZIP.findall(text))
        for first, last in _NAME.findall(text):
            for z in zips:
                c = find_by_name_zip(s, first, last, z)
                if c is not None:
                    found[c.user_id] = c
    return next(iter(found.values())) if len(found) == 1 else None


ADDRESS_FIELDS = ("address1", "address2", "city", "state", "country", "zip")


def update_address(s: Session, user_id: str, address: dict[str, str]) -> dict[str, str]:
    """Sets the customer's default address; returns the one it replaces."""
    c = get_customer(s, user_id)
    before = {k: getattr(c, k) for k in ADDRESS_FIELDS}
    for key in ADDRESS_FIELDS:
        setattr(c, key, address.get(key, "") or "")
    return before


def update_contact(s: Session, user_id: str, email: str | None, phone: str | None) -> dict[str, str | None]:
    row = get_customer(s, user_id)
    before = {"email": row.email, "phone": row.phone}
    if email:
        taken = s.scalars(select(CustomerRow).where(func.lower(CustomerRow.email) == email.lower(),
                                                    CustomerRow.user_id != user_id)).first()
        if taken:
            raise InvalidInput("that email address belongs to another account")
        row.email = email.lower()
    if phone:
        row.phone = phone
    return before


def restore_contact(s: Session, user_id: str, before: dict[str, str | None]) -> None:
    row = get_customer(s, user_id)
    if before.get("email"):
        row.email = str(before["email"])
    row.phone = before.get("phone")


def add_note(s: Session, user_id: str, author: str, body: str, ticket_id: str | None) -> int:
    get_customer(s, user_id)
    note = CrmNoteRow(user_id=user_id, author=author, body=body, ticket_id=ticket_id, created_at=utcnow())
    s.add(note)
    s.flush()
    return note.id


def notes(s: Session, user_id: str) -> list[CrmNoteRow]:
    return list(s.scalars(select(CrmNoteRow).where(CrmNoteRow.user_id == user_id).order_by(CrmNoteRow.id.desc())))


def retract_note(s: Session, note_id: int, by: str) -> None:
    note = s.get(CrmNoteRow, note_id)
    if note is None:
        raise NotFound(f"note {note_id} not found")
    note.body = f"[retracted by {by}] {note.body}"
