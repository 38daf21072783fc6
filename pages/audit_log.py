"""Audit log: every decision and action, hash-chained; supervisors verify the chain here."""

from __future__ import annotations

import streamlit as st

from cx_core import audit
from cx_core.models import Role
from cx_core.tickets import require
from pages.common import current_user, guarded, services

user = current_user()
svc = services()
st.title("Audit log")


def page() -> None:
    require(user, Role.supervisor)
    if st.button("Verify the chain", icon=":material/verified:"):
        result = audit.verify(svc.db)
        (st.success if result.ok else st.error)(result.message)
    ticket = st.text_input("Only events for ticket", placeholder="ticket id")
    events = audit.events(svc.db, ticket_id=ticket.strip() or None, limit=300)
    if not events:
        st.info("No events yet.")
        return
    st.dataframe([{"#": e.seq, "at": e.at.strftime("%Y-%m-%d %H:%M:%S"), "actor": e.actor, "event": e.kind,
                   "ticket": e.ticket_id or "", "details": ", ".join(f"{k}={v}" for k, v in e.data.items()
                                                                     if k in {"action", "reason", "outcome",
                                                                              "task_type", "decision"})[:160],
                   "hash": e.hash[:12]} for e in events], hide_index=True, width="stretch", height=560)


guarded(page)
