"""Shared pieces of the pages: the services handle, the signed-in user, error display and small widgets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import streamlit as st

from cx_core import desk, shown
from cx_core.access import StaffUser
from cx_core.actions import action_label
from cx_core.auth import address_warning
from cx_core.errors import (
    ConfigError,
    ConnectorUnavailable,
    InvalidInput,
    NotAuthorised,
    NotFound,
    PolicyDenied,
    TandemError,
)
from cx_core.safe_text import escape_markdown, one_line, safe_markdown
from cx_core.services import Services

log = logging.getLogger("tandem.ui")
URGENCY_COLOUR = {"critical": "red", "high": "orange", "normal": "blue", "low": "gray"}
SENTIMENT_COLOUR = {"negative": "red", "neutral": "gray", "positive": "green"}
STATUS_COLOUR = {"new": "gray", "processing": "gray", "open": "blue", "escalated": "orange", "waiting": "violet",
                 "resolved": "green"}


@st.cache_resource(show_spinner=False)
def services() -> Services:
    """One ``Services`` per server process (database engine, policy, models on first use)."""
    svc = Services()
    svc.db.migrate()
    if warning := address_warning(svc.settings):
        log.warning(warning)
    return svc


def current_user() -> StaffUser:
    user = st.session_state.get("user")
    if user is None:
        st.stop()
    return user  # type: ignore[no-any-return]


def show_error(exc: Exception) -> None:
    """The right message for the right audience; never a traceback, never a secret."""
    text = one_line(exc, 600)  # an exception may quote a ticket id from a link, a sender or a service: text only
    if isinstance(exc, (InvalidInput, NotFound)):
        st.warning(text)
    elif isinstance(exc, PolicyDenied):
        st.error(f"Policy: {text}")
    elif isinstance(exc, NotAuthorised):
        st.error(text)
    elif isinstance(exc, ConnectorUnavailable):
        st.warning(f"{text} — try again in a moment.")
    elif isinstance(exc, ConfigError):
        st.error(f"Configuration problem: {text}")
    elif isinstance(exc, TandemError):
        st.error(text)
    else:
        log.exception("unexpected error on a page")
        st.error("Something went wrong on our side. The details were logged for the operator; please try again.")


def guarded(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - every error is shown, none is swallowed silently
        show_error(exc)
        return None


def sla_text(due: datetime | None, status: str = "") -> tuple[str, str]:
    """'12 min left' / 'overdue 5 min' and a colour; a ticket waiting on the customer had its reply: no clock."""
    if status == "waiting":
        return "replied", "gray"
    if due is None:
        return "—", "gray"
    minutes = int((due - desk.utcnow()).total_seconds() // 60)
    if minutes < 0:
        return f"overdue {_span(-minutes)}", "red"
    return f"{_span(minutes)} left", "orange" if minutes <= 30 else "green"


def _span(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d}"
    return f"{minutes // 1440} d"


def label(task_type: str | None) -> str:
    return desk.label(task_type or "…")


def worker_status(svc: Services) -> tuple[bool, str]:
    seen = desk.worker_seen(svc.db)
    if seen is None:
        return False, "no worker has run yet"
    age = (desk.utcnow() - seen).total_seconds()
    return age < 30, f"last seen {int(age)} s ago"


def packet_view(p: dict[str, Any]) -> None:
    """An escalation's context packet: why, summary, steps done, the refused step, what waits, what next."""
    st.markdown(f"**Why:** {escape_markdown(p.get('reason', ''))}")  # reason and summary quote the customer
    if p.get("summary"):
        st.markdown(f"**Summary:** {escape_markdown(p['summary'])}")
    cols = st.columns(2)
    done = p.get("steps_done") or []
    cols[0].markdown("**Done:** " + (", ".join(action_label(d["action"]) for d in done) or "nothing yet"))
    refused = p.get("refused")
    if refused:
        cols[1].markdown(f"**Stopped at:** {action_label(refused['action'])} — {escape_markdown(refused['reason'])}")
    for r in p.get("refused_steps") or []:
        cols[1].markdown(f"**Refused by the rules:** {action_label(r['action'])}")
    waiting = p.get("waiting") or []
    if waiting:
        cols[1].markdown("**Waiting for a decision:** " + ", ".join(action_label(w["action"]) for w in waiting))
    history = p.get("history") or []
    if history:
        st.markdown("**Earlier contacts:** " + "; ".join(
            f"{one_line(shown.value(str(h.get('at', ''))[:10]))} · {one_line(str(h.get('subject', '')), 60)} "
            f"({one_line(h.get('status', ''))})"
            for h in history))
    if p.get("suggested_next"):
        st.info(escape_markdown(p["suggested_next"]), icon=":material/lightbulb:")


def show_passage(text: str) -> None:
    """A knowledge passage with its formatting; images and links stay live only for the hosts the admin allowed
    (``TANDEM_ALLOWED_LINK_HOSTS``)."""
    st.markdown(safe_markdown(text, services().settings.allowed_link_hosts))


def reverse_popover(where: Any, review_id: int, key: str) -> None:
    """Reverse an action the agent took alone: the reason, the message to the customer (drafted, editable) and
    whether it goes now; the compensating action runs and both are audited."""
    svc, user = services(), current_user()
    with where.popover("Reverse", icon=":material/undo:",  # no caption inside: the pop-over fits a laptop screen
                       help="Runs the action's undo now and records it in the audit log."):
        note = st.text_input("Why reverse it?", key=f"rev-note-{key}")
        text = st.session_state.get(f"rev-text-{key}") or guarded(
            lambda: desk.reversal_text(svc.db, user, review_id)) or ""
        message = st.text_area("Message to the customer", value=text, height=90, key=f"rev-msg-{key}")
        left, right = st.columns([1.6, 1], vertical_alignment="center")  # one row: it fits a laptop screen
        tell = left.checkbox("Send it to the customer now", value=True, key=f"rev-tell-{key}",
                             help="Unticked, the ticket reopens with this message drafted for its advisor.")
        if right.button("Reverse now", key=f"rev-{key}", type="primary", width="stretch"):
            out = guarded(lambda: desk.reverse_and_tell(svc.db, svc.policy(), user, review_id, note,
                                                        message if tell else ""))
            if out is not None:
                told = ("The customer was told." if out["told"] else
                        f"The message could not be sent ({out['told_reason']}); it is drafted on the ticket."
                        if tell else "The ticket is open again with a message to the customer drafted.")
                st.session_state["flash"] = ("reversed", told)
                st.rerun()
