"""Channels (admins): how tickets come in and replies go out, and every message that is not delivered yet."""

from __future__ import annotations

import streamlit as st

from cx_core import channel_status, delivery
from cx_core.safe_text import one_line
from pages.common import current_user, guarded, services

user = current_user()
svc = services()
st.title("Channels")
st.caption("Tickets come in from your mailbox, helpdesk or the API, and every reply goes back the same way. "
           "Set a channel up with the settings named below (README: *Connect your helpdesk or mailbox*).")


def main() -> None:
    st.subheader("Ways in and out")
    st.dataframe(channel_status.configured(svc.db, user, svc.settings), hide_index=True, width="stretch",
                 column_config={"channel": "Channel", "does": "What it does", "state": "State",
                                "missing": "Settings still missing", "webhook": "Webhook address (on the API)"})
    st.subheader("Outgoing messages")
    summary = delivery.summary(svc.db, user)
    statuses = ("delivered", "pending", "sending", "retrying", "failed")
    st.dataframe([{"destination": dest, **{k: counts.get(k, 0) for k in statuses}}
                  for dest, counts in sorted(summary.items())] or [{"destination": "nothing sent yet"}],
                 hide_index=True, width="stretch")
    problems = delivery.problems(svc.db, user)
    if not problems:
        st.success("Every message has been delivered or is on its way.", icon=":material/check_circle:")
    for p in problems:
        with st.container(border=True):
            c = st.columns([3.5, 1.2], vertical_alignment="center")
            state = "Not delivered, retrying" if p["status"] == "retrying" else "Not delivered: gave up"
            when = f" · next try {p['next_attempt_at']:%d %b %H:%M:%S}" if p["next_attempt_at"] else ""
            tries = f"{p['attempts']:d} attempt{'s' if p['attempts'] != 1 else ''}"
            c[0].markdown(f"**{state}** · {one_line(p['destination'], 60)} · to {one_line(p['recipient'], 60)} · {tries}{when}")
            c[0].caption(one_line(p["error"] or "", 300))
            if p["ticket_id"]:
                c[0].page_link("pages/workspace.py", label=f"Ticket {one_line(p['ticket_id'], 60)}",
                               query_params={"ticket": p["ticket_id"]}, icon=":material/open_in_new:")
            if c[1].button("Retry now", key=f"retry-{p['id']}", icon=":material/refresh:"):
                guarded(lambda p=p: delivery.retry_now(svc.db, user, p["id"]))
                st.rerun()
    with st.expander("Recent webhook deliveries", icon=":material/webhook:"):
        st.dataframe(channel_status.recent_webhooks(svc.db, user) or [{"received": "none yet"}], hide_index=True,
                     width="stretch")
    with st.expander("Mailbox and helpdesk readers", icon=":material/mark_email_read:"):
        st.dataframe(channel_status.cursors(svc.db, user) or [{"reader": "none yet"}], hide_index=True, width="stretch")


guarded(main)
