"""Scheduling: installation appointments and technicians' free slots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx_core.errors import NotFound, PolicyDenied
from cx_core.store.db import require_row
from domains.lumen.tables import AppointmentRow, SlotRow


def appointments(s: Session, user_id: str) -> list[AppointmentRow]:
    return list(s.scalars(select(AppointmentRow).where(AppointmentRow.user_id == user_id)
                          .order_by(AppointmentRow.start)))


def get_appointment(s: Session, appointment_id: str) -> AppointmentRow:
    return require_row(s, AppointmentRow, appointment_id, "appointment")


def free_slots(s: Session, region: str, after: datetime, limit: int = 10) -> list[SlotRow]:
    return list(s.scalars(select(SlotRow).where(SlotRow.region == region, SlotRow.free.is_(True),
                                                SlotRow.start >= after).order_by(SlotRow.start).limit(limit)))


def move(s: Session, appointment_id: str, slot_id: str, now: datetime) -> str:
    """Moves a booked appointment to a free slot in its region; returns the slot it left."""
    appt = get_appointment(s, appointment_id)
    if appt.status != "booked":
        raise PolicyDenied(f"appointment {appointment_id} is {appt.status}; only booked appointments can be moved")
    slot = s.scalars(select(SlotRow).where(SlotRow.slot_id == slot_id).with_for_update()).first()
    if slot is None:
        raise NotFound(f"slot {slot_id} not found")
    if not slot.free:
        raise PolicyDenied(f"slot {slot_id} is no longer free")
    if slot.region != appt.region:
        raise PolicyDenied(f"slot {slot_id} is in {slot.region}, not in the customer's region {appt.region}")
    if slot.start <= now:
        raise PolicyDenied("the new slot is in the past")
    old = s.get(SlotRow, appt.slot_id)
    if old is not None:
        old.free = True
    slot.free = False
    previous = appt.slot_id
    appt.slot_id, appt.start, appt.technician = slot.slot_id, slot.start, slot.technician
    return previous


def restore(s: Session, appointment_id: str, slot_id: str) -> None:
    """Puts an appointment back in the slot it left, if that slot is still free."""
    appt = get_appointment(s, appointment_id)
    slot = s.scalars(select(SlotRow).where(SlotRow.slot_id == slot_id).with_for_update()).first()
    if slot is None:
        raise NotFound(f"slot {slot_id} not found")
    if not slot.free:
        raise PolicyDenied(f"the original slot {slot_id} has been taken since; book another one with the customer")
    current = s.get(SlotRow, appt.slot_id)
    if current is not None:
        current.free = True
    slot.free = False
    appt.slot_id, appt.start, appt.technician = slot.slot_id, slot.start, slot.technician
