"""Supervisor review: sampled and risky autonomous actions (confirm, flag, reverse) and escalated tickets with
their context packets."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cx_core import review
from cx_core.access import require
from cx_core.models import Role
from cx_core.safe_text import escape_markdown, inline_code, one_line
from pages.common import current_user, guarded, label, packet_view, services

user = current_user()
svc = services()
st.title("Review")
STATUS = {"To review": "open", "Flagged": "flagged", "Reversed": "reversed", "Confirmed": "confirmed", "All": "all"}
PAGE_SIZE = 15


def args_text(args: dict[str, Any]) -> str:
    return " · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in args.items() if k != "message" and v not in ("", None))


def sampled_item(item: dict[str, Any]) -> None:
    with st.container(border=True):
        head = st.columns([4.2, 1.2, 1.4], vertical_alignment="center")
        head[0].markdown(f"**{item['label']}** — {one_line(item['subject'] or item['ticket_id'])}")
        head[0].caption(one_line(args_text(item["args"]), 220))
        head[1].badge(label(item["task_type"]), color="violet")
        colour = "red" if item["risk"] > 0.6 else "orange" if item["risk"] > 0.4 else "gray"
        head[2].badge(f"risk {item['risk']:.2f}", color=colour, help=f"In the queue because: {item['why']}")
        head[0].page_link("pages/workspace.py", label="Open the ticket", icon=":material/open_in_new:",
                          query_params={"ticket": item["ticket_id"]})
        if item["status"] != "open":
            st.caption(f"{item['status'].capitalize()} by {item['decided_by']}"
                       + (f": {escape_markdown(item['note'])}" if item["note"] else ""))
            if item["compensation"]:
                st.caption(f"Undone: {one_line(args_text(item['compensation']))}")
            return
        buttons = st.columns([1, 1, 1.3, 3])
        if buttons[0].button("Confirm", key=f"confirm-{item['id']}", icon=":material/check:"):
            guarded(lambda: review.confirm(svc.db, user, item["id"]))
            st.rerun()
        with buttons[1].popover("Flag", icon=":material/flag:"):
            note = st.text_input("What is wrong?", key=f"flag-note-{item['id']}")
            if st.button("Flag it", key=f"flag-{item['id']}", type="primary"):
                if guarded(lambda: review.flag(svc.db, user, item["id"], note)) is not None:
                    st.rerun()
        if not item["reversible"]:
            buttons[2].button("Reverse", key=f"rev-off-{item['id']}", disabled=True, icon=":material/undo:",
                              help="This action cannot be undone; contact the customer instead.")
            return
        with buttons[2].popover("Reverse", icon=":material/undo:"):
            st.caption("Runs the compensating action now and records it in the audit log. The ticket reopens for its "
                       "advisor with a message to the customer drafted.")
            note = st.text_input("Why reverse it?", key=f"rev-note-{item['id']}")
            if st.button("Reverse now", key=f"rev-{item['id']}", type="primary"):
                out = guarded(lambda: review.reverse(svc.db, user, item["id"], note))
                if out is not None:
                    st.toast("Reversed. The ticket is open again with a message to the customer drafted.",
                             icon=":material/undo:")
                    st.rerun()


def escalation(item: dict[str, Any]) -> None:
    p = item["packet"] or {}
    with st.container(border=True):
        head = st.columns([4.2, 1.2, 1.2], vertical_alignment="center")
        head[0].page_link("pages/workspace.py", label=f"**{one_line(item['subject'] or item['id'])}**",
                          query_params={"ticket": item["id"]})
        head[0].caption(f"{inline_code(item['customer'] or '')} · {item['created_at']:%d %b %H:%M}")
        head[1].badge(label(item["task_type"]), color="violet")
        head[2].badge(item["urgency"] or "normal", color="orange")
        packet_view(p)


def page() -> None:
    require(user, Role.supervisor)
    counts = review.counts(svc.db, user)
    esc = review.escalations(svc.db, user, limit=100)
    m = st.columns(4)
    m[0].metric("To review", counts.get("open", 0))
    m[1].metric("Escalated tickets", len(esc))
    m[2].metric("Flagged", counts.get("flagged", 0))
    m[3].metric("Reversed", counts.get("reversed", 0))
    sampled, escalated = st.tabs(["Autonomous actions", "Escalations"])
    with sampled:
        view = st.segmented_control("Show", list(STATUS), default="To review", label_visibility="collapsed")
        page_no = int(st.session_state.get("review_page", 0))
        items, total = review.queue(svc.db, user, STATUS[view or "To review"], limit=PAGE_SIZE,
                                    offset=page_no * PAGE_SIZE)
        if not items:
            st.info("Nothing to review here. Sampled and risky autonomous actions appear as the agent works.")
        for item in items:
            sampled_item(item)
        pages = max(1, -(-total // PAGE_SIZE))
        if pages > 1:
            st.session_state["review_page"] = st.number_input("Page", 1, pages, page_no + 1) - 1
    with escalated:
        if not esc:
            st.info("No escalated tickets.")
        for item in esc:
            escalation(item)


guarded(page)
