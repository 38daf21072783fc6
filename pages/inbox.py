"""Inbox: live queue, most urgent first, SLA countdowns."""

from __future__ import annotations

import streamlit as st

from cx_core import tickets
from pages.common import STATUS_COLOUR, URGENCY_COLOUR, current_user, guarded, label, services, sla_text

PAGE_SIZE = 15
current_user()
st.title("Inbox")

top = st.columns([2.4, 2.6])
search = top[0].text_input("Search", placeholder="subject, customer email or ticket id", label_visibility="collapsed")
view = top[1].segmented_control("Queue", ["Needs action", "Escalated", "Resolved", "All"], default="Needs action",
                                label_visibility="collapsed")
STATUSES = {"Needs action": ("new", "processing", "open"), "Escalated": ("escalated",), "Resolved": ("resolved",),
            "All": ("new", "processing", "open", "escalated", "resolved")}
page_no = int(st.session_state.get("inbox_page", 0))


@st.fragment(run_every=5)
def live_queue() -> None:
    svc = services()
    counts = tickets.counts(svc.db)
    m = st.columns(4)
    m[0].metric("Waiting for the agent", counts.get("new", 0) + counts.get("processing", 0))
    m[1].metric("Open", counts.get("open", 0))
    m[2].metric("Escalated", counts.get("escalated", 0))
    m[3].metric("Resolved", counts.get("resolved", 0))
    rows, total = tickets.inbox(svc.db, statuses=STATUSES[view or "Needs action"], search=search,
                                limit=PAGE_SIZE, offset=page_no * PAGE_SIZE)
    if not rows:
        st.info("No tickets here right now. New tickets appear automatically.")
        return
    for r in rows:
        with st.container(border=True):
            c = st.columns([0.8, 4.4, 1.6, 1.4, 1.0], vertical_alignment="center")
            c[0].badge(r["urgency"], color=URGENCY_COLOUR.get(r["urgency"], "gray"))
            c[1].page_link("pages/workspace.py", label=f"**{r['subject'][:90] or '(no subject)'}**",
                           query_params={"ticket": r["id"]})
            c[1].caption(f"`{r['customer']}` · {r['channel']} · {r['created_at']:%d %b %H:%M}")
            c[2].badge(label(r["task_type"]), color="violet")
            if r["pending"]:
                c[2].caption(f"{r['pending']} proposal{'s' if r['pending'] > 1 else ''} to review")
            text, colour = sla_text(r["sla_due"])
            c[3].badge(text, color=colour, icon=":material/timer:")
            c[4].badge(r["status"], color=STATUS_COLOUR.get(r["status"], "gray"))
    pages = max(1, -(-total // PAGE_SIZE))
    st.session_state["inbox_pages"] = pages
    st.caption(f"Page {page_no + 1} of {pages} · {total} tickets")


guarded(live_queue)
nav = st.columns([1, 1, 6])
if nav[0].button("Previous", disabled=page_no == 0, icon=":material/chevron_left:"):
    st.session_state["inbox_page"] = page_no - 1
    st.rerun()
if nav[1].button("Next", icon=":material/chevron_right:",
                 disabled=page_no + 1 >= int(st.session_state.get("inbox_pages", 1))):
    st.session_state["inbox_page"] = page_no + 1
    st.rerun()
