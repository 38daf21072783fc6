"""The customer box of the ticket workspace: who wrote, read from the team's records once per version of the
ticket, what of them was not read and why, and the customer's other open tickets."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cx_core import desk
from cx_core.safe_text import code_line, contacts_as_code, escape_markdown, one_line
from pages.common import current_user, guarded, services
from pages.fields import sender_moved


def customer_card(tid: str, customer_id: str | None, ref: str | None) -> dict[str, Any] | None:
    """The customer's card, read once per version of the ticket (the workspace's reruns never call the team's
    systems again); *Read again* asks them now."""
    user, svc = current_user(), services()  # this session's, at each call (the module is imported once per process)
    st.markdown("**Customer**")
    if not customer_id:
        st.info(f"No customer record matches the sender ({code_line(ref, 120) if ref else 'no address given'}): "
                "nothing changes on an account until someone has checked who wrote.")
        return None
    fresh = bool(st.session_state.pop(f"card-fresh-{tid}", False))
    view = guarded(lambda: desk.customer_view(svc.db, svc.pack, user, tid, customer_id, fresh=fresh))
    if not view:
        return None
    card = view["card"]
    # contact details can come from a customer's message: one line of plain text each
    head = st.columns([6, 1], vertical_alignment="center")
    # a separator stays with what it follows: a wrapped line never starts with "·"
    head[0].markdown(f"**{one_line(card['headline'])}** · " + contacts_as_code(card["contact"]).replace(" · ", "\u00a0· ")
                     + "  \n"
                     + one_line(card["details"]))
    if head[1].button("", icon=":material/refresh:", key=f"card-refresh-{tid}", type="tertiary",
                      help="Read the customer's records again"):
        st.session_state[f"card-fresh-{tid}"] = True
        st.rerun()
    if moved := sender_moved(ref, card["contact"]):
        st.warning(one_line(moved), icon=":material/alternate_email:")
    for name, why in (card.get("unread") or {}).items():
        st.caption(f"{escape_markdown(name)}: not read ({one_line(why, 200)})")
    past = desk.customer_tickets(svc.db, customer_id, exclude=tid)
    still = [r for r in past if r["status"] in {"new", "open", "escalated", "waiting"}]
    if still:  # the same matter asked twice is answered (and refunded) once
        st.warning(f"{len(still)} more open ticket{'s' if len(still) > 1 else ''} from this customer (Tickets tab): "
                   + "; ".join(f"“{one_line(desk.cut_words(r['subject'], 50))}” ({one_line(r['status'])})" for r in still[:2])
                   + (" …" if len(still) > 2 else ""), icon=":material/content_copy:")
    return {**view, "past": past}
