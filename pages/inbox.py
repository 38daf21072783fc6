"""Inbox: the live queue, the soonest response due first, with SLA countdowns, filters, search, paging and claiming."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cx_core import desk
from cx_core.safe_text import code_line, one_line
from pages.common import URGENCY_COLOUR, current_user, guarded, label, services, sla_text

PAGE_SIZE = 15
STATUSES = {"Needs action": ("new", "processing", "open"), "Escalated": ("escalated",),
            "Waiting": ("waiting",), "Resolved": ("resolved",),
            "All": ("new", "processing", "open", "escalated", "waiting", "resolved")}
WHO = {"anyone": "Everyone's", "mine": "Mine", "unassigned": "Unassigned"}
ORDERS = {"sla": "Response due soonest", "priority": "Most urgent", "newest": "Newest"}
user = current_user()
svc = services()
# ten tickets on a laptop screen: a tighter page top and one line per ticket
st.html("<style>.block-container{padding-top:2.2rem}.st-key-inbox-rows{gap:.15rem !important}"
        ".st-key-inbox-rows [data-testid='stColumn'] [data-testid='stVerticalBlock']{gap:0}"
        ".st-key-inbox-rows [data-testid='stHorizontalBlock']{border-bottom:1px solid #e5e7eb;padding:.15rem 0 .5rem}"
        ".st-key-inbox-rows [data-testid='stCaptionContainer'] p{margin:0;line-height:1.25}"
        "</style>")


def reset_page() -> None:
    st.session_state["inbox_page"] = 0


top = st.columns([0.9, 5, 1.1], vertical_alignment="center")
top[0].markdown("### Inbox")
search = top[1].text_input("Search", placeholder="Search subject, text, customer email or ticket id",
                           label_visibility="collapsed", on_change=reset_page, key="inbox-search")
row = st.columns([4.6, 2.5, 1], vertical_alignment="center")
view = row[0].segmented_control("Queue", list(STATUSES), default="Needs action", label_visibility="collapsed",
                                key="inbox-view", on_change=reset_page) or "Needs action"
who = row[1].segmented_control("Whose", list(WHO), format_func=WHO.get, default="anyone", key="inbox-who",
                               label_visibility="collapsed", on_change=reset_page) or "anyone"
options = guarded(lambda: desk.filter_options(svc.db)) or {}
with top[2].popover("Filters", icon=":material/filter_list:", width="stretch"):
    chosen = {
        "task_types": st.multiselect("Task type", options.get("task_types", []), format_func=label,
                                     key="f-task", on_change=reset_page),
        "urgencies": st.multiselect("Urgency", options.get("urgencies", []), key="f-urgency", on_change=reset_page),
        "sentiments": st.multiselect("Sentiment", options.get("sentiments", []), key="f-sentiment",
                                     on_change=reset_page),
        "channels": st.multiselect("Channel", options.get("channels", []), key="f-channel", on_change=reset_page),
    }
    order = st.radio("Order", list(ORDERS), format_func=ORDERS.get, key="inbox-order", on_change=reset_page,
                     help="By default the ticket whose first-response target comes soonest is first")
active = [label(v) if k == "task_types" else one_line(v) for k, vs in chosen.items() for v in vs]
if active:
    row[2].caption("Filtered: " + ", ".join(active))
where = desk.InboxFilter(statuses=STATUSES[view], assigned=who, me=user.username, search=search, order=order,
                            **{k: tuple(v) for k, v in chosen.items()})
page_no = int(st.session_state.get("inbox_page", 0))


def take(ticket_id: str, to: str | None) -> None:
    guarded(lambda: desk.assign(svc.db, user, ticket_id, to))


def ticket_row(r: dict[str, Any]) -> None:
    """One ticket in two short lines: the subject (the link) over who, when and how they feel; the task type over
    urgency and status; the time left; who has it."""
    c = st.columns([5.2, 2.1, 1.6, 1.1], vertical_alignment="center", gap="small")
    subject = r["subject"]
    c[0].page_link("pages/workspace.py", label=f"**{one_line(desk.cut_words(subject, 70))}**" if subject
                   else ":gray[No subject]", query_params={"ticket": r["id"]},
                   help=one_line(subject, 300) if len(subject) > 70 else None)
    replied = " · :blue[customer replied]" if r["customer_replied"] else ""
    c[0].caption(f"{code_line(r['customer'], 60)} · {one_line(r['channel'])} · "
                 f"{r['created_at']:%d %b %H:%M} · {one_line(r['sentiment'])}{replied}")
    pending = f" · {r['pending']:d} to review" if r["pending"] else ""
    if r["task_type"]:
        asked = r["requests"] or [r["task_type"]]  # the first thing the customer asks names the ticket
        c[1].badge(label(asked[0]) + (f" +{len(asked) - 1}" if len(asked) > 1 else ""), color="violet",
                   help=", ".join(label(a) for a in asked) if len(asked) > 1 else None)
        c[1].caption(f":{URGENCY_COLOUR.get(r['urgency'], 'gray')}[{one_line(r['urgency'])}] · {one_line(r['status'])}{pending}")
    else:
        c[1].caption("The agent is reading it…")
    if r["status"] == "resolved":  # no clock runs on a resolved ticket, and nobody holds it any more
        c[2].badge("resolved", color="green", icon=":material/check:")
        c[3].caption(f":material/person: {one_line(r['assigned_to'], 30)}" if r["assigned_to"] else "")
        return
    text, colour = sla_text(r["sla_due"], r["status"])
    c[2].badge(one_line(text), color=colour, icon=":material/timer:")
    owner = r["assigned_to"]
    if owner == user.username:
        c[3].button("Release", key=f"rel-{r['id']}", type="secondary", on_click=take, args=(r["id"], None),
                    help="You are working on this ticket: give it back to the queue", width="stretch")
    elif owner:
        c[3].caption(f":material/person: {one_line(owner, 30)}")
    elif r["status"] in {"open", "escalated", "waiting"}:
        c[3].button("Take", key=f"take-{r['id']}", type="secondary", on_click=take, args=(r["id"], user.username),
                    help="Assign this ticket to yourself", width="stretch")


@st.fragment(run_every=5)
def live_queue() -> None:
    guarded(lambda: desk.sweep_expired(svc.db))  # a dead worker's tickets come back to the queue
    counts = desk.counts(svc.db, me=user.username)
    waiting = counts.get("new", 0) + counts.get("processing", 0)
    st.caption(f"Waiting for the agent **{waiting:d}** · Open **{counts.get('open', 0):d}** · Mine "
               f"**{counts.get('mine', 0):d}** · Unassigned **{counts.get('unassigned', 0):d}** · Escalated "
               f"**{counts.get('escalated', 0):d}** · On the customer **{counts.get('waiting', 0):d}**",
               help="Mine: open or escalated tickets assigned to you. Unassigned: open or escalated tickets nobody "
                    "has taken. On the customer: replied and waiting for the customer's answer.")
    rows, total = desk.inbox(svc.db, where=where, limit=PAGE_SIZE, offset=page_no * PAGE_SIZE)
    if not rows:
        st.info("No tickets match. New tickets appear here automatically." if (search or active or who != "anyone")
                else "No tickets here right now. New tickets appear automatically.")
        st.session_state["inbox_pages"] = 1
        return
    with st.container(key="inbox-rows"):
        for r in rows:
            ticket_row(r)
    pages = max(1, -(-total // PAGE_SIZE))
    st.session_state["inbox_pages"] = pages
    st.caption(f"Page {page_no + 1:d} of {pages:d} · {total:d} tickets")


guarded(live_queue)
nav = st.columns([1, 1, 6])
if nav[0].button("Previous", disabled=page_no == 0, icon=":material/chevron_left:"):
    st.session_state["inbox_page"] = page_no - 1
    st.rerun()
if nav[1].button("Next", icon=":material/chevron_right:",
                 disabled=page_no + 1 >= int(st.session_state.get("inbox_pages", 1))):
    st.session_state["inbox_page"] = page_no + 1
    st.rerun()
