"""Audit log: every decision and action, hash-chained; supervisors verify the chain here."""

from __future__ import annotations

import streamlit as st

from cx_core import audit, exports
from cx_core.access import require
from cx_core.models import Role
from cx_core.safe_text import one_line
from pages.common import current_user, guarded, services

user = current_user()
svc = services()
st.title("Audit log")


def page() -> None:
    require(user, Role.supervisor, svc.db)
    cols = st.columns([3, 1.2, 1.2], vertical_alignment="bottom")
    kept = cols[0].text_input("Anchor kept outside Tandem (optional)", placeholder="SEQ:HASH",
                              help="Printed by 'python -m cx_core audit anchor' or the Anchor button. A log rewritten "
                                   "from its first event still links up, but no longer contains an anchor kept "
                                   "earlier.")
    if cols[1].button("Verify the chain", icon=":material/verified:"):
        result = guarded(lambda: audit.verify_for(svc.db, user, kept.strip()))
        if result is not None:
            (st.success if result.ok else st.error)(one_line(result.message))
    if cols[2].button("Anchor", icon=":material/anchor:", help="The chain's current head, to keep outside Tandem"):
        head = guarded(lambda: audit.anchor_for(svc.db, user))
        if head:
            st.code(head, language=None)
            st.caption("Keep this line somewhere the database's administrators cannot change (a ticket in another "
                       "system, a signed e-mail); verify against it later.")
    ticket = st.text_input("Only events for ticket", placeholder="ticket id")
    events = audit.events(svc.db, user, ticket_id=ticket.strip() or None, limit=300)
    if not events:
        st.info("No events yet.")
        return
    rows = [{"#": e.seq, "at": e.at.strftime("%Y-%m-%d %H:%M:%S"), "actor": e.actor, "event": e.kind,
             "ticket": e.ticket_id or "", "details": ", ".join(f"{k}={v}" for k, v in e.data.items()
                                                               if k in {"action", "reason", "outcome",
                                                                        "task_type", "decision"})[:160],
             "hash": e.hash} for e in events]
    st.dataframe([{**r, "hash": r["hash"][:12]} for r in rows], hide_index=True, width="stretch", height=560)
    st.download_button("Download these events (CSV)", exports.to_csv(rows), file_name="tandem-audit-log.csv",
                       mime="text/csv", icon=":material/download:")


guarded(page)
