"""Ticket workspace: the conversation, the customer, the agent's triage, summary, proposals and reply."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st
from pydantic import ValidationError

from cx_core import desk
from cx_core.actions import action_label
from cx_core.models import ROLE_RANK, Role
from cx_core.plans import AS_ASKED, NOT_VERIFIED
from cx_core.safe_text import contacts_as_code, escape_markdown, one_line
from pages.common import (
    SENTIMENT_COLOUR,
    STATUS_COLOUR,
    URGENCY_COLOUR,
    current_user,
    guarded,
    label,
    packet_view,
    reverse_popover,
    services,
    show_error,
    sla_text,
)
from pages.composer import reply_box
from pages.customer import customer_card
from pages.explain import done_elsewhere, sources, why_the_agent_thinks_so
from pages.fields import (
    GONE,
    TICKET_STATE,
    complete,
    field_name,
    field_widget,
    first_error,
    records_tabs,
    result_text,
    value_text,
)

REJECT_REASONS = ["Wrong action for this request", "Wrong details (order, item, amount or date)",
                  "Customer must confirm first", "Against policy", "Duplicate of another action", "Other"]
DECISION_COLOUR = {"executed": "green", "pending": "blue", "escalated": "orange", "denied": "red",
                   "rejected": "gray", "abstained": "gray", "calling": "violet", "failed": "red", "reversed": "gray"}
_WORDS = {"message", "body", "fault", "reason", "note"}  # fields of free text, shown whole
# a record's code ("SL-00241") with nothing said of it: once its action is done, the "Done:" line says what it was
_CODE = re.compile(r"^[A-Z]{2,4}-\d{3,}$")
SHOWN_STATUS = {"calling": "sent, awaiting answer", "failed": "not done", "executed": "done", "denied": "refused by the rules"}
ABOVE = "Above your limit: approving sends it to a supervisor, who decides."
user = current_user()
svc = services()
# the ticket starts at the top of the screen and uses the width; an e-mail address or phone number never breaks
st.html("<style>.block-container{padding-top:2.2rem;padding-left:2rem;padding-right:2rem}"
        "[data-testid='stMarkdownContainer'] p code{white-space:nowrap}[data-testid='stPopoverBody']{min-width:34rem}</style>")
ticket_id = st.query_params.get("ticket") or st.session_state.get("ticket")


def pick_ticket() -> None:
    st.title("Ticket workspace")
    rows, _ = desk.inbox(svc.db, limit=30)
    if not rows:
        st.info("No open tickets. New tickets appear in the Inbox as they arrive.")
        return
    options = {r["id"]: f"{r['subject'][:70]} — {r['customer']}" for r in rows}
    chosen = st.selectbox("Open a ticket", list(options), format_func=lambda k: options[k], index=None,
                          placeholder="Choose a ticket, or open one from the Inbox")
    if chosen:
        st.query_params["ticket"] = chosen
        st.rerun()


def _above_me(p: dict[str, Any]) -> bool:
    """A proposal only a higher role approves (a supervisor's, for an advisor)."""
    need = next((r for r in Role if r.value == p.get("required_role")), Role.advisor)
    return ROLE_RANK[user.role] < ROLE_RANK[need]


def proposal_note(p: dict[str, Any], spec: Any) -> str:
    """Why a proposal stands as it does, in one line: the agent's reason, who decided, what a call waits for."""
    note = p["reason"] or p["rationale"]
    if p["status"] == "rejected":
        note = f"Rejected by {p['decided_by']}: {p['reject_reason']}"
    elif p["status"] == "reversed":
        note = f"Done by the agent, then reversed by {p['decided_by']}: {p['reject_reason']}"
    elif p["status"] == "executed" and p["decision"] == "executed":
        note = "Done by the agent alone, within its limits" + ("" if note.startswith("within policy") else f": {note}")
    elif p["status"] == "executed" and p.get("decided_by"):  # who approved it, by name
        note = f"Approved by {p['decided_by']}"
    call = p.get("call") or {}
    if p["status"] == "calling" and call.get("status") == "retrying":
        note = f"Not done yet, retrying: {call.get('error') or 'no answer'} (attempt {call.get('attempts')})"
    elif p["status"] == "calling":
        note = f"Sent to {spec.connector if spec else 'the system'}; not done until it answers."
    elif p["status"] == "failed":
        note = f"Not done: {p['reason']}. Approve again to retry with the same key."
    if p["required_role"] == "supervisor" and p["status"] == "pending":
        note += " · needs a supervisor"
    if spec and not spec.reversible and p["status"] == "pending" and not str(p["reason"]).startswith(AS_ASKED):
        note += " · cannot be undone"  # (one refused as asked runs only once changed: said then)
    if p.get("depends_on") and p["status"] == "pending" and (first := desk.REGISTRY.get(p["depends_on"])):
        note += f" · runs after '{first.label}'"
    return note[:1].upper() + note[1:]


def proposal_card(p: dict[str, Any], editable: bool, shortcut: str | None = None,
                  choices: dict[str, list[tuple[str, str]]] | None = None, alone: dict[str, Any] | None = None) -> None:
    """One proposed action: its details, why, and what a person may do with it now; ``alone`` is the review record
    of an action the agent took by itself, which a supervisor may reverse here."""
    choices = choices or {}
    spec = desk.REGISTRY.get(p["action"])
    title = spec.label if spec else p["action"]
    # keyed by the proposal: when the cards reorder after a decision, an open pop-over stays with its own card
    with st.container(border=True, key=f"card-{p['id']}"):
        head = st.columns([3, 1.3])
        head[0].markdown(f"**{one_line(title)}**")
        shown = "pending" if p["status"] == "pending" and p["decision"] == "abstained" else p["status"]
        shown = "denied" if shown == "pending" and str(p["reason"]).startswith(AS_ASKED) else shown  # held, as asked
        head[1].badge(("needs a decision" if complete(p["args"], spec) else "needs details")
                      if p["decision"] == "abstained" and shown == "pending" else one_line(SHOWN_STATUS.get(shown, shown)),
                      color=DECISION_COLOUR.get(shown, "gray"))
        args = {k: v for k, v in p["args"].items() if not (p["status"] == "executed" and isinstance(v, str)
                                                           and _CODE.match(v)
                                                           and value_text(k, v, choices) in (v, v + GONE))}
        fields = spec.args_model.model_fields if spec else {}
        st.markdown("  \n".join(f"**{field_name(k, fields.get(k))}:** "  # a message is read whole
                                f"{contacts_as_code(value_text(k, v, choices), 600 if k in _WORDS else 160, phones=False)}"
                                for k, v in args.items() if v not in ("", None, [], {})) or "_no details_")
        st.caption(escape_markdown(proposal_note(p, spec)))
        done_elsewhere(p.get("done_elsewhere") if shown != "denied" else None)  # a refusal runs nowhere twice
        if not editable or p["status"] not in {"pending", "escalated", "failed"}:
            if p["status"] == "executed" and p["result"] and result_text(p):
                st.caption("Done: " + one_line(result_text(p), 300))  # one_line escapes it
            elif p["status"] == "denied" and editable:
                st.caption("Nothing to approve: the reply tells the customer why.")
            if alone and alone["status"] in ("open", "unsampled") and p["status"] == "executed":
                if alone["reversible"]:
                    reverse_popover(st, alone["id"], f"t{p['id']}")
                else:
                    st.caption("This action cannot be undone; contact the customer instead.")
            return
        b = st.columns([1.5, 1, 1])
        unsure = p["decision"] == "abstained"
        # approved only on purpose, asked twice: a sender not verified, or the very action already done elsewhere
        stranger = p["reason"] == NOT_VERIFIED or not (p.get("done_elsewhere") or {"pending": True})["pending"] \
            or _above_me(p)  # a supervisor's to approve: the advisor's click only refers it
        confirm_needed = spec is not None and (not spec.reversible or unsure or stranger)
        twice = not (p.get("done_elsewhere") or {"pending": True})["pending"]
        if shown == "denied":  # the rules refuse it as asked: there is nothing to approve, only to change or drop
            b[0].caption("Edit it into something the rules allow, or reject it.")
        elif twice:  # already done for the customer from another ticket: only on purpose, with the reason
            again_popover(b[0], p["id"])
        elif b[0].button("Approve", key=f"approve-{p['id']}", type="secondary" if stranger or unsure else "primary",
                       icon=":material/check:", disabled=unsure and not complete(p["args"], spec), shortcut=shortcut,
                       help="Some details are missing: use Edit to fill them in." if unsure else ABOVE if _above_me(p)
                       else "Approve only once you know who wrote, or that it should be done again." if stranger else None):
            if confirm_needed and not st.session_state.get(f"confirm-{p['id']}"):
                st.session_state[f"confirm-{p['id']}"] = True
                st.rerun()
            run_approve(p["id"], None)
        if st.session_state.get(f"confirm-{p['id']}"):
            why = proposal_note(p, spec)
            st.warning(f"{ABOVE} Send it to them?" if _above_me(p) and not unsure else f"The agent did not propose this "
                       f"as sure ({one_line(why[:1].lower() + why[1:])}). Approve it as it stands?" if unsure or stranger else
                       "This action cannot be undone. Approve again to confirm.")
            if st.button("Yes, do it", key=f"confirm-yes-{p['id']}", type="primary"):
                st.session_state.pop(f"confirm-{p['id']}", None)
                run_approve(p["id"], None)
        edit_popover(b[1], p, spec, args, choices)
        with b[2].popover("Reject", icon=":material/close:", key=f"reject-open-{p['id']}"):
            with st.form(f"reject-{p['id']}"):
                code = st.selectbox("Reason", REJECT_REASONS)
                detail = st.text_input("Details (optional)")
                instead = st.text_area("Tell the customer instead (optional)", height=80,
                                       help="Replaces this action's sentence in the reply; left empty, the "
                                            "sentence is removed.")
                if st.form_submit_button("Reject proposal"):
                    guarded(lambda: desk.reject(svc.db, user, p["id"], f"{code}{': ' + detail if detail else ''}",
                                                   say_instead=instead))
                    st.rerun()


def edit_popover(where: Any, p: dict[str, Any], spec: Any, args: dict[str, Any],
                 choices: dict[str, list[tuple[str, str]]]) -> None:
    """The proposal's fields, as the records offer them, to approve with changes."""
    fields = dict(spec.args_model.model_fields) if spec is not None else {}
    # the items of the order being changed, the options of the item being swapped: what goes with the records named
    choices = choices.within(args) if isinstance(choices, desk.Choices) else choices
    with where.popover("Edit", icon=":material/edit:", key=f"edit-open-{p['id']}"):
        with st.form(f"edit-{p['id']}"):
            # the button first, in view wherever the pop-over opens; many fields scroll inside it below
            go = st.form_submit_button("Approve with changes", type="primary")
            said = st.container()
            values = {}
            with st.container(height=300 if len(fields) > 3 else "content", border=False):
                found = (guarded(lambda: desk.field_options(svc.db, p["action"], args)) or {}) if fields else {}
                for name, field in fields.items():
                    values[name] = field_widget(name, field, args.get(name), f"arg-{p['id']}-{name}", choices,
                                                found.get(name))
            if go:
                edited = {k: v for k, v in values.items() if v not in (None, "", [])}
                try:
                    if spec is not None:
                        spec.args_model.model_validate(edited)
                except ValidationError as exc:
                    said.error(one_line(first_error(exc)))
                else:
                    run_approve(p["id"], edited)


def again_popover(place: Any, proposal_id: int) -> None:
    """Approve for an action already done for the customer from another ticket: only with the reason."""
    with place.popover("Do it again", icon=":material/repeat:", key=f"again-open-{proposal_id}"), \
            st.form(f"again-{proposal_id}"):
        why = st.text_input("Why do it a second time?", max_chars=500, help="Kept in the audit log with your name.")
        if st.form_submit_button("Do it again", type="primary"):
            if not why.strip():
                st.error("Give the reason to do it again, or reject it.")
            else:
                run_approve(proposal_id, None, again=why)


def run_approve(proposal_id: int, edited: dict[str, Any] | None, again: str = "") -> None:
    out = guarded(lambda: desk.approve(svc.db, svc.policy(), user, proposal_id, edited, again=again))
    if out:
        st.session_state["flash"] = (out["status"], out["reason"])
    st.rerun()


def ticket_header(t: dict[str, Any], result: Any) -> None:
    """The ticket's subject and its chips: status, channel, triage and the time left to the first response."""
    subject = contacts_as_code(t["subject"], 140, phones=False)
    head = st.columns([3.2, 2.8], vertical_alignment="center")
    if subject:
        head[0].markdown(f"#### {subject}", help=escape_markdown(" ".join(t["subject"].split())))
    elif (opening := one_line(desk.cut_words(re.split(r"(?<=[.!?])\s+", desk.opening(str(t.get("body") or "")),
                                                       maxsplit=1)[0], 70))):  # its first sentence, when short
        head[0].markdown(f"#### :gray[{opening}]", help="No subject: the first words of the message")
    else:
        head[0].markdown("#### :gray[No subject]")
    with head[1]:
        chips = st.container(horizontal=True, gap="small")
        chips.badge(one_line(TICKET_STATE.get(t["status"], t["status"])),
                    color=STATUS_COLOUR.get(t["status"], "gray"))
        chips.badge(one_line(svc.pack.channel(t["channel"]).shown), color="gray", icon=":material/forum:",
                    help=f"Came in through {one_line(t['source'])}")
        if t["customer_replied"]:
            chips.badge("customer replied", color="blue", icon=":material/reply:")
        if result is not None:
            tri = result.triage
            chips.badge(one_line(tri.urgency), color=URGENCY_COLOUR.get(tri.urgency, "gray"),
                        help=one_line("; ".join(tri.urgency_reasons)))
            chips.badge(f"{label(tri.task_type)} · {tri.confidence:.0%}", color="violet",
                        help=f"Read as: {label(tri.intent)}")
            chips.badge(one_line(tri.sentiment), color=SENTIMENT_COLOUR.get(tri.sentiment, "gray"),
                        help=one_line("; ".join(tri.sentiment_reasons)))
        if t["status"] != "resolved":
            text, colour = sla_text(t["sla_due"], t["status"])
            chips.badge(one_line(text), color=colour, icon=":material/timer:", help="Time left to the first-response target")


def workspace(tid: str) -> None:
    data = desk.get_ticket(svc.db, tid)
    t, result = data["ticket"], data["result"]
    st.session_state["ticket"] = tid
    ticket_header(t, result)
    if t["error"] and t["status"] not in {"new", "processing"}:
        failed_bar(t)
    elif result is None:
        st.info("The agent has not processed this ticket yet; it will appear here within seconds.")
    assignment_bar(t)
    flash = st.session_state.pop("flash", None)
    if flash:
        (st.success if flash[0] in {"executed", "pending", "sent", "reversed"} else st.warning)(
            f"{one_line(flash[0].replace('_', ' ').capitalize())}: {one_line(flash[1], 600)}")
    left, right = st.columns([1, 1.25], gap="medium")
    with left:
        st.markdown("**Conversation**")
        live_thread(tid, int(t["read_through"] or 0), t["processed_at"])
        note_box(tid)
        if result is not None:
            st.markdown("**Summary**")
            st.markdown(contacts_as_code(result.draft.summary, phones=False))  # an address in it copies exactly
        view = customer_card(tid, t["customer_id"], t["customer_ref"])
    if view:  # below both columns, full width; the records the proposals act on open first
        records_tabs(view, data["proposals"])
    st.caption("Shortcuts: **Ctrl+Enter** send the reply · **Alt+A** approve the first proposal · "
               "**Alt+T** take · **Alt+N** next free ticket · **Alt+I** inbox")
    with right:
        if result is None:
            return
        if result.escalated:  # the reason, and beside it the packet a supervisor reads: one line of the screen
            why, packet = st.columns([4, 1.3], vertical_alignment="center") if result.packet else (st, None)
            why.warning(f"**Escalated:** {escape_markdown(result.escalation_reason)}")
            if packet is not None:
                with packet.popover("Packet", icon=":material/inventory_2:", width="stretch",
                                    help="The context packet: what a supervisor needs to take the case over"):
                    packet_view(result.packet)
        choices = (view or {}).get("choices") or guarded(lambda: desk.ticket_choices(svc.db, tid)) or {}
        props = sorted((p for p in data["proposals"] if not desk.is_read(p["action"])),  # undecided ones first
                       key=lambda p: p["status"] not in {"pending", "escalated", "failed", "calling"})
        if clash := guarded(lambda: desk.clash_note(svc.db, tid)):  # a later message may undo this one's request
            st.warning(one_line(clash), icon=":material/call_split:")
        head, more = st.columns([3, 1.3], vertical_alignment="center")  # the heading, and beside it adding one
        head.markdown("**Proposed actions**" + (f" ({len(props)}, scroll to see each)" if len(props) > 2 else f" ({len(props)})" if len(props) > 1 else ""))
        if t["status"] in {"open", "escalated", "waiting"}:
            with more:
                add_action(tid, choices)
        if len(props) > 2:  # every card of the scrolling box named, so none is missed below the first
            st.caption("In this box: " + " · ".join(action_label(p["action"]) for p in props))
        unknown = ", ".join(label(k) for k in result.no_action) if result else ""
        if unknown:
            st.caption(f"No action here for: {unknown}; the reply answers it from the knowledge base.")
        elif not props:
            st.caption("No actions proposed for this ticket.")
        first = next((p["id"] for p in props if p["status"] in {"pending", "escalated"} and not _above_me(p)
                      and p["decision"] != "abstained" and p["reason"] != NOT_VERIFIED
                      and (p.get("done_elsewhere") or {"pending": True})["pending"]), None)
        alone = desk.reversible_on(svc.db, user, tid)
        # several proposals scroll in their own box, so the reply stays on the first screen beside the first one
        with st.container(height=380 if len(props) > 2 else "content", key="proposal-list"):
            for p in props:
                proposal_card(p, editable=t["status"] != "resolved", shortcut="Alt+A" if p["id"] == first else None,
                              choices=choices, alone=alone.get(p.get("execution_key") or ""))
        if t["status"] == "resolved":
            sent = [m for m in data["messages"] if m["direction"] == "out"]
            st.success("Reply sent and ticket resolved." if sent else "Resolved.")
        else:
            reply_box(tid, data, user)
        sources(result)
        why_the_agent_thinks_so(result.triage)
        read_again(t)


def read_again(t: dict[str, Any]) -> None:
    """After a fix to the pack: the agent reads this open ticket again; what people decided stays decided."""
    if t["status"] in {"open", "escalated", "waiting"} and ROLE_RANK[user.role] >= ROLE_RANK[Role.advisor] and \
            st.button("Read again", icon=":material/refresh:", type="tertiary", key=f"reread-{t['id']}",
                      help="The agent reads the whole conversation again with the pack as it is now (after a fix to "
                           "the pack); what people decided here stays decided") and \
            guarded(lambda: desk.reread(svc.db, user, t["id"]) or True):
        st.session_state["flash"] = ("pending", "The ticket is back in the queue; the agent reads it again.")
        st.rerun()


DELIVERY = {"pending": ("sending…", "gray"), "sending": ("sending…", "gray"), "delivered": ("delivered", "green"),
            "retrying": ("not delivered, retrying", "orange"), "failed": ("not delivered", "red")}


@st.fragment(run_every=3)
def live_thread(tid: str, read_through: int, processed_at: Any) -> None:
    """The thread, refreshed every few seconds: a customer's new message appears as it arrives, and once the agent
    has read it again the whole workspace follows (new triage, proposals and reply)."""
    messages = guarded(lambda: desk.thread(svc.db, tid)) or []
    # a short thread is shown whole, the customer's first words at the top; a long one scrolls, newest at the foot
    lines = sum(3 + len(m["body"][:4000]) // 55 + m["body"][:4000].count("\n") for m in messages)
    heard: set[str] = set()
    with st.container(height="content" if lines <= 26 else 320, border=False):
        for m in messages:
            if m["direction"] == "note":
                with st.chat_message("note", avatar=":material/sticky_note_2:"):
                    st.caption(f"Internal note · {one_line(m['author'], 80)} · {m['at']:%d %b %H:%M} · never sent")
                    st.text(m["body"][:4000])
                continue
            by_agent = m["direction"] != "in" and m["author"] in {"agent", "tandem"}
            avatar = None if m["direction"] == "in" else ":material/smart_toy:" if by_agent else ":material/support_agent:"
            with st.chat_message("user" if m["direction"] == "in" else "assistant", avatar=avatar):
                who = "customer" if m["direction"] == "in" else one_line(m["author"], 80)
                line = f"{who} · {m['at']:%d %b %H:%M}"
                words = " ".join(m["body"].split()).casefold()
                if m["direction"] == "in":
                    if words in heard:  # the customer sent the same message again: said, not shown twice
                        st.caption(line + " · the same message again, word for word")
                        continue
                    heard.add(words)
                if m["direction"] == "in" and read_through and m["id"] > read_through:
                    line += " · new: the agent is reading it"
                st.caption(line)
                st.text(m["body"][:4000])
                d = m["delivery"]
                if d is not None and d["destination"] != "local":
                    text, colour = DELIVERY.get(d["status"], (d["status"], "gray"))
                    why = f"{one_line(d['error'], 300)} (attempt {d['attempts']:d})" if d["error"] else None
                    st.badge(f"{one_line(text)} · {one_line(d['destination'], 60)}", color=colour,
                             icon=":material/outbox:", help=why)
    now = desk.processing_mark(svc.db, tid)
    if now is not None and now != processed_at:
        st.rerun(scope="app")  # the agent finished reading the conversation again: show its new conclusions


def note_box(tid: str) -> None:
    """An internal note for colleagues: kept on the thread, never sent, never read as the customer's words."""
    with st.popover("Add an internal note", icon=":material/sticky_note_2:"):
        with st.form(f"note-{tid}", clear_on_submit=True):
            text = st.text_area("Note (only staff see it)", height=90)
            if st.form_submit_button("Add note"):
                if guarded(lambda: desk.add_note(svc.db, user, tid, text)):
                    st.rerun()


def add_action(tid: str, choices: dict[str, list[tuple[str, str]]]) -> None:
    """An action the agent did not propose, added by the advisor: any write in force, its fields offering the
    customer's own records; checked and rehearsed like the agent's own, then approved like them."""
    names = desk.addable_actions()
    if not names:
        return
    with st.popover("Add an action", icon=":material/add:", width="stretch"):
        name = st.selectbox("Action", names, index=None, placeholder="Choose an action…", key=f"add-{tid}",
                            format_func=lambda n: desk.REGISTRY[n].label or n.replace("_", " "))
        if not name:
            st.caption("The action is checked against the customer's records and policy, then waits for approval "
                       "like the agent's own proposals.")
            return
        spec = desk.REGISTRY[name]
        if spec.description:
            st.caption(escape_markdown(spec.description))
        with st.form(f"add-form-{tid}-{name}"):
            values = {field: field_widget(field, info, None, f"add-{tid}-{name}-{field}", choices)
                      for field, info in spec.args_model.model_fields.items()}
            if st.form_submit_button("Check and add", type="primary"):
                wanted = {k: v for k, v in values.items() if v not in (None, "", [])}
                try:
                    out = desk.add_action(svc.db, svc.policy(), user, tid, name, wanted)
                except Exception as exc:  # noqa: BLE001 - one line, the form keeps what was typed
                    show_error(exc)
                else:
                    role = out["required_role"]
                    st.session_state["flash"] = ("pending", f"{spec.label} added; it waits for approval"
                                                 + (f" by a {role}" if role != "advisor" else "") + ".")
                    st.rerun()


def _escalate_button(place: Any, tid: str) -> None:
    """Hand the ticket to a supervisor, with the reason they will read first."""
    with place.popover("Escalate", icon=":material/supervisor_account:"), \
            st.form(f"escalate-{tid}", border=False):
        why = st.text_input("Why does a supervisor need it?", placeholder="e.g. the customer asks for a manager")
        if st.form_submit_button("Escalate to a supervisor", type="primary") and \
                guarded(lambda: desk.escalate(svc.db, user, tid, why) or True):
            st.toast("Escalated: the ticket is in the supervisors' queue with your reason.")
            st.rerun()


def assignment_bar(t: dict[str, Any]) -> None:
    """Who works this ticket: a free one is taken with its first decision (or Take), not by reading it; nobody
    works someone else's unknowingly."""
    owner = t["assigned_to"]
    active = t["status"] in {"open", "escalated", "waiting"}
    bar = st.columns([1.9, 1.2, 1.3, 1.7, 1.2], vertical_alignment="center")
    if t["status"] in ("open", "waiting") and owner in (None, user.username):
        _escalate_button(bar[2], t["id"])
    if owner == user.username:
        bar[0].caption(":material/person: Assigned to you" if active else ":material/person: Handled by you")
        if active and bar[1].button("Release", icon=":material/person_remove:", type="tertiary"):
            guarded(lambda: desk.assign(svc.db, user, t["id"], None))
            st.toast("Released: the ticket is back in the queue for anyone to take.")
            st.rerun()
    elif owner and not active:
        bar[0].caption(f":material/person: Handled by {one_line(owner, 60)}")
    elif owner:
        bar[0].warning(f"**{one_line(owner, 60)}** is working on this ticket.", icon=":material/person:")
        if ROLE_RANK[user.role] >= ROLE_RANK[Role.supervisor] and bar[1].button("Take over", icon=":material/swap_horiz:"):
            guarded(lambda: desk.assign(svc.db, user, t["id"], user.username))
            st.rerun()
    elif active:
        bar[0].caption(":material/person_outline: Unassigned: your first decision makes it yours")
        if bar[1].button("Take", icon=":material/person_add:", shortcut="Alt+T"):
            guarded(lambda: desk.assign(svc.db, user, t["id"], user.username))
            st.rerun()
    if bar[3].button("Next ticket", icon=":material/skip_next:", shortcut="Alt+N", help="The most urgent free ticket"):
        nxt = guarded(lambda: next_ticket(t["id"]))
        if nxt:
            st.query_params["ticket"] = nxt
            st.rerun()
        else:
            st.toast("No other free ticket right now.")
    if bar[4].button("Inbox", icon=":material/inbox:", shortcut="Alt+I", type="tertiary"):
        st.switch_page("pages/inbox.py")


def next_ticket(current: str) -> str | None:
    rows, _ = desk.inbox(svc.db, where=desk.InboxFilter(statuses=("open", "escalated"), assigned="unassigned"),
                            limit=2)
    return next((r["id"] for r in rows if r["id"] != current), None)


def failed_bar(t: dict[str, Any]) -> None:
    """The agent could not read this ticket: why, in one line (the details are in the worker's log), and a way to
    let it try again once the cause is fixed."""
    bar = st.columns([4, 1.4], vertical_alignment="center")
    bar[0].error(f"The agent could not process this ticket: {one_line(t['error'], 300)}",
                 icon=":material/error:")
    if ROLE_RANK[user.role] >= ROLE_RANK[Role.advisor] and bar[1].button(
            "Run the agent again", icon=":material/replay:", key=f"retry-{t['id']}",
            help="Puts the ticket back in the queue; the agent reads the whole conversation again"):
        try:
            desk.retry(svc.db, user, t["id"])
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            show_error(exc)
        else:
            st.session_state["flash"] = ("pending", "The ticket is back in the queue; the agent reads it again.")
            st.rerun()


if ticket_id:
    guarded(lambda: workspace(str(ticket_id)))
else:
    guarded(pick_ticket)
