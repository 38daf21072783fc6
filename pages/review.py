"""Supervisor review: sampled and risky autonomous actions (confirm, flag, reverse) and escalated tickets with
their context packets."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cx_core import review, shown
from cx_core.access import require
from cx_core.models import Role
from cx_core.safe_text import inline_code, one_line
from pages.common import current_user, guarded, label, packet_view, reverse_popover, services

user = current_user()
svc = services()
st.title("Review")
STATUS = {"To review": "open", "Everything the agent did": "all", "Flagged": "flagged", "Reversed": "reversed",
          "Confirmed": "confirmed"}
PAGE_SIZE = 15


def args_text(args: dict[str, Any]) -> str:
    return shown.pairs(args)


def sampled_item(item: dict[str, Any]) -> None:
    with st.container(border=True):
        head = st.columns([4.2, 1.2, 1.4], vertical_alignment="center")
        head[0].markdown(f"**{one_line(item['label'])}** — {one_line(item['subject'] or item['ticket_id'])}")
        head[0].caption(one_line(args_text(item["args"]), 220))
        head[1].badge(label(item["task_type"]), color="violet")
        colour = "red" if item["risk"] > 0.6 else "orange" if item["risk"] > 0.4 else "gray"
        head[2].badge(f"risk {item['risk']:.2f}", color=colour, help=f"In the queue because: {one_line(item['why'])}")
        head[0].page_link("pages/workspace.py", label="Open the ticket", icon=":material/open_in_new:",
                          query_params={"ticket": item["ticket_id"]})
        if item["status"] not in ("open", "unsampled"):
            st.caption(f"{one_line(item['status'].capitalize())} by {one_line(item['decided_by'])}"
                       + (f": {one_line(item['note'], 400)}" if item["note"] else ""))
            if item["compensation"]:
                st.caption(f"Undone: {one_line(args_text(item['compensation']))}")
            return
        if item["status"] == "unsampled":
            st.caption(f"Done by the agent alone {item['created_at']:%d %b %H:%M}; not in the review sample.")
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
        reverse_popover(buttons[2], item["id"], f"r{item['id']}")


def escalation(item: dict[str, Any]) -> None:
    p = item["packet"] or {}
    with st.container(border=True):
        head = st.columns([4.2, 1.2, 1.2], vertical_alignment="center")
        head[0].page_link("pages/workspace.py", label=f"**{one_line(item['subject'] or item['id'])}**",
                          query_params={"ticket": item["id"]})
        head[0].caption(f"{inline_code(item['customer'] or '')} · {item['created_at']:%d %b %H:%M}")
        head[1].badge(label(item["task_type"]), color="violet")
        head[2].badge(one_line(item["urgency"] or "normal"), color="orange")
        packet_view(p)


def page() -> None:
    require(user, Role.supervisor, svc.db)
    flash = st.session_state.pop("flash", None)
    if flash:
        st.success(f"Reversed. {one_line(flash[1])}", icon=":material/undo:")
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
            st.info("Nothing here. Every action the agent takes alone is listed under \"Everything the agent "
                    "did\"; sampled and risky ones also wait under \"To review\".")
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
