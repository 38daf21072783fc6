"""The composer: the suggested reply as its proposals now stand, the advisor's own words kept through every
decision, a newer draft offered beside it (never swapped in), and the send with the checks before it goes."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cx_core import desk
from cx_core.access import StaffUser
from cx_core.drafting import NEXT, render
from cx_core.errors import ReplyHeld
from cx_core.safe_text import one_line
from pages.common import guarded, services, show_error


def _sent(tid: str, out: dict[str, Any], resolved: bool) -> None:
    """What the advisor is told once a reply went out (or why it did not), then the page again."""
    if out["status"] == "executed":
        st.session_state[f"sent-{tid}"] = True
        st.session_state["flash"] = ("sent", "the reply went to the customer; " + (
            "the ticket is resolved" if resolved else "the ticket waits for the customer's answer"))
    else:
        st.session_state["flash"] = (out["status"], out["reason"])
    st.rerun()


UNSENT_KEPT = 2000  # unsent replies kept across reloads, the oldest let go first


@st.cache_resource
def _unsent() -> dict[tuple[str, str], tuple[str, Any]]:
    """What each advisor typed and has not sent, by (advisor, ticket): it outlives a reload or a visit elsewhere
    (a widget's own state goes when the page no longer shows it), for as long as the app runs."""
    return {}


def _keep_unsent(user: StaffUser, tid: str, text: str, parts: Any, suggested: str) -> None:
    kept = _unsent()
    if not text.strip() or text.strip() == suggested.strip():
        kept.pop((user.username, tid), None)
        return
    kept[(user.username, tid)] = (text, parts)
    while len(kept) > UNSENT_KEPT:
        kept.pop(next(iter(kept)))


def reply_box(tid: str, data: dict[str, Any], user: StaffUser) -> None:
    """The suggested reply. A decision on a proposal rewords that action's sentence (done once it ran, gone once
    rejected): in the suggestion as it stands, or, once the advisor typed in it, offered beside their words. Sending is checked in the core: a reply that says an
    action was done when it was not is refused; one about an undecided action can be sent anyway, with a reason."""
    svc = services()
    key, parts_key = f"reply-{tid}", f"reply-parts-{tid}"
    parts, text = desk.reply_draft(data)
    sent = answered_at(data)
    if st.session_state.pop(f"sent-{tid}", False):  # sent: the composer starts empty, never one click from a resend
        st.session_state[key], st.session_state[parts_key] = "", parts
        _unsent().pop((user.username, tid), None)
    elif key not in st.session_state and (typed := _unsent().get((user.username, tid))) and not sent:
        st.session_state[key], st.session_state[parts_key] = typed  # what they typed before a reload, as typed
    elif key not in st.session_state:  # a reply already sent since the agent's last reading is not offered again
        st.session_state[key], st.session_state[parts_key] = ("" if sent else text), parts
    elif parts and st.session_state.get(parts_key) != parts:
        before = desk.align(st.session_state.get(parts_key) or parts, parts)
        if len(before) != len(parts) or any((a.kind, a.proposal) != (b.kind, b.proposal)
                                            for a, b in zip(before, parts, strict=True)):
            # a new draft altogether (the ticket was read again): offered beside the advisor's, never swapped in
            st.session_state[f"newer-{tid}"] = (text, parts)
        elif str(st.session_state[key]).strip() == render(before).strip():  # untouched: it follows the decision
            st.session_state[key], st.session_state[parts_key] = text, parts
            st.toast("The reply now says what was decided.", icon=":material/edit_note:")
        else:  # the advisor's own words: the decision's wording is offered beside them, never typed into them
            st.session_state[f"newer-{tid}"] = (desk.merge_edits(st.session_state[key], before, parts), parts)
    lines = sum(1 + len(line) // 85 for line in str(st.session_state.get(key) or "").splitlines())
    body = str(st.session_state.get(key) or "")  # what the box holds: the send buttons sit above it, always in view
    # a reply that asks the customer something or promises word back leaves the ticket open by default
    follow_up = desk.promises_follow_up(body) or data["ticket"]["status"] == "escalated"
    empty = not body.strip()  # an empty composer offers no send as the way on
    # the button that carries the Ctrl+Enter shortcut gets the room for it
    head, *send = st.columns([1.25, 1.45, 1.9] if follow_up or empty else [1.25, 1.9, 1.45], vertical_alignment="center")
    title = (f"Follow-up (the suggested reply went out at {sent:%H:%M})" if sent and empty else
             "Suggested reply (edit before sending)")
    head.markdown(f"**{one_line(title.split(' (')[0])}**",
                  help=one_line(title.split(" (")[1].rstrip(")").capitalize()) + ". Markers such as [1] point to the sources "
                       "listed below the reply; they are taken out of what the customer receives.")
    resolve = send[0].button("Send and resolve", type="secondary" if follow_up or empty else "primary",
                             icon=":material/send:", shortcut=None if follow_up or empty else "Ctrl+Enter",
                             width="stretch", help="The reply asks or promises something: keep the ticket open "
                             "instead" if follow_up else None)
    keep_open = send[1].button("Send, keep open", icon=":material/schedule_send:", width="stretch",
                               type="primary" if follow_up and not empty else "secondary",
                               shortcut="Ctrl+Enter" if follow_up and not empty else None,
                               help="Send the reply and keep the ticket open, e.g. while the customer answers a "
                                    "question")
    refusal = st.container()  # why Send was refused, and the way past it: at the composer, above the reply, in view
    newer_offer(tid, key, parts_key)
    waits = getattr(data["result"], "reply_waits", "") if data.get("result") is not None else ""
    if waits and not sent:  # the level would have sent it alone: why a person reads it first
        st.caption(f":material/pan_tool: Not sent alone: {one_line(waits, 300)}.")
    # as tall as the reply needs, up to what keeps it on a laptop screen beside the first proposal
    st.text_area(title, height=min(max(22 * lines + 30, 170), 420), key=key, label_visibility="collapsed")
    _keep_unsent(user, tid, str(st.session_state.get(key) or ""), st.session_state.get(parts_key),
                 render(st.session_state.get(parts_key) or []) if st.session_state.get(parts_key) else text)
    if resolve or keep_open:
        st.session_state.pop(f"held-{tid}", None)
        try:
            out = desk.send_reply(svc.db, svc.policy(), user, tid, body, resolve=resolve)
        except ReplyHeld as exc:
            st.session_state[f"held-{tid}"] = (str(exc), exc.overridable, resolve)
        except Exception as exc:  # noqa: BLE001 - shown as one line, never a traceback
            show_error(exc)
        else:
            _sent(tid, out, resolve)
    refused_at(refusal, tid, body, user)


def refused_at(refusal: Any, tid: str, body: str, user: StaffUser) -> None:
    """Why Send was refused, in ``refusal`` (at the composer, above the reply), and the audited way past it."""
    svc = services()
    held = st.session_state.get(f"held-{tid}")
    if held:
        message, overridable, wanted_resolve = held
        refusal.warning(one_line(message, 800), icon=":material/block:")
        if overridable:  # one row, so that the reply it speaks of stays in view below it
            with refusal.form(f"override-{tid}", border=False):
                reason, go = st.columns([4, 1.2], vertical_alignment="bottom")
                why = reason.text_input("Send anyway: why (recorded in the audit log)", label_visibility="collapsed",
                                        placeholder="Send anyway: why? (recorded in the audit log)")
                if go.form_submit_button("Send anyway", width="stretch"):
                    out = guarded(lambda: desk.send_reply(svc.db, svc.policy(), user, tid, body,
                                                             resolve=wanted_resolve, override=why))
                    if out:
                        st.session_state.pop(f"held-{tid}", None)
                        _sent(tid, out, wanted_resolve)


def newer_offer(tid: str, key: str, parts_key: str) -> None:
    """A newer suggested reply (the agent read the ticket again) beside the advisor's own: what changed, and the
    choice to take it; the composer never changes by itself."""
    newer = st.session_state.get(f"newer-{tid}")
    if not newer:
        return
    text, parts = newer
    mine = str(st.session_state.get(key) or "")
    if text.strip() == mine.strip():
        st.session_state.pop(f"newer-{tid}", None)
        st.session_state[parts_key] = parts
        return
    added, gone = desk.changed_sentences(mine, text)
    with st.container(border=True):
        st.markdown(":material/update: **A newer suggested reply is ready.** Yours stays as it is until you choose; "
                    "the newer one keeps your edits where they still fit.")
        for sentence in added[:4]:
            st.caption(f":green[Adds:] {one_line(sentence, 200)}")
        for sentence in gone[:4]:
            st.caption(f":red[No longer says:] {one_line(sentence, 200)}")
        use, keep = st.columns(2)
        if use.button("Use the newer reply", key=f"use-newer-{tid}", width="stretch"):
            st.session_state[key], st.session_state[parts_key] = text, parts
            st.session_state.pop(f"newer-{tid}", None)
            st.rerun()
        if keep.button("Keep mine", key=f"keep-mine-{tid}", width="stretch"):
            st.session_state[parts_key] = parts
            st.session_state.pop(f"newer-{tid}", None)
            st.rerun()


def answered_at(data: dict[str, Any]) -> Any:
    """When a reply went out after the agent last read the ticket (its draft is answered), else None. A holding
    line alone ("A colleague is looking at your message…") answers nothing: the draft is still offered."""
    read = data["ticket"]["processed_at"]
    return max((m["at"] for m in data["messages"] if m["direction"] == "out" and read and m["at"] >= read
                and not (NEXT in m["body"] and len(m["body"]) < len(NEXT) + 160)), default=None)
