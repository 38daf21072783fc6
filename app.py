"""Tandem — the advisor copilot. Entry point: sign-in and role-based navigation."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cx_core.auth import Throttle, authenticate, refresh, sso_user
from cx_core.errors import NotAuthorised
from cx_core.models import ROLE_RANK, Role
from pages.common import guarded, services, worker_status

st.set_page_config(page_title="Tandem", page_icon=":material/support_agent:", layout="wide")


def sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file: local accounts only
        return False


def client_address() -> str:
    """Where a sign-in attempt comes from, for throttling: the reverse proxy's header when one is configured
    (its last address, the one the proxy itself saw), else the connection's address ("localhost" locally)."""
    header = services().settings.client_address_header
    if header:
        values = st.context.headers.get_all(header)
        last = values[-1].split(",")[-1].strip() if values else ""
        if last:
            return last
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "localhost"


def sign_in() -> None:
    left, mid, right = st.columns([1, 1.2, 1])
    with mid:
        st.title("Tandem")
        st.caption("The advisor copilot for Lumen Home customer care")
        if sso_configured():
            if st.user.is_logged_in:
                user = sso_user(services().db, str(st.user.get("email") or ""))
                if user is not None:
                    st.session_state["user"] = user
                    st.rerun()
                st.error("Your account is not set up in Tandem yet; ask an admin to add you in Users and roles.")
                st.button("Sign out of single sign-on", on_click=st.logout)
            else:
                st.button("Sign in with single sign-on", type="primary", on_click=st.login, width="stretch")
            st.divider()
        with st.form("sign-in"):
            username = st.text_input("Username")
            password = st.text_input("Password", type="password")
            if st.form_submit_button("Sign in", type="primary", width="stretch"):
                svc = services()
                try:
                    user = authenticate(svc.db, username, password, client_address(),
                                        limits=Throttle.from_settings(svc.settings))
                except NotAuthorised as exc:  # waiting after failed attempts, or locked: one line, no detail
                    st.error(str(exc))
                    return
                if user is None:
                    st.error("Wrong username or password.")
                else:
                    st.session_state["user"] = user
                    st.rerun()


def main() -> None:
    user = st.session_state.get("user")
    if user is not None:  # the account as it is now: a changed role applies at once, a deactivated one signs out
        user = refresh(services().db, user)
        if user is None:
            st.session_state.clear()
        else:
            st.session_state["user"] = user
    if user is None:
        guarded(sign_in)
        return
    rank = ROLE_RANK[user.role]
    sections: dict[str, list[Any]] = {"Work": [
        st.Page("pages/inbox.py", title="Inbox", icon=":material/inbox:", default=True, url_path="inbox"),
        st.Page("pages/workspace.py", title="Ticket workspace", icon=":material/support_agent:", url_path="ticket"),
        st.Page("pages/knowledge.py", title="Knowledge base", icon=":material/menu_book:", url_path="knowledge")]}
    if rank >= ROLE_RANK[Role.supervisor]:
        sections["Operations"] = [
            st.Page("pages/review.py", title="Review", icon=":material/fact_check:", url_path="review"),
            st.Page("pages/insights.py", title="Insights", icon=":material/monitoring:", url_path="insights"),
            st.Page("pages/audit_log.py", title="Audit log", icon=":material/verified:", url_path="audit")]
    if rank >= ROLE_RANK[Role.admin]:
        sections["Administration"] = [
            st.Page("pages/autonomy.py", title="Autonomy & policy", icon=":material/tune:", url_path="autonomy"),
            st.Page("pages/users.py", title="Users and roles", icon=":material/group:", url_path="users")]
    nav = st.navigation(sections)
    with st.sidebar:
        st.markdown(f"**{user.display_name}**  \n{user.role.value.capitalize()}")
        alive, text = worker_status(services())
        st.badge("Agent running" if alive else "Agent stopped", color="green" if alive else "red",
                 icon=":material/smart_toy:", help=text)
        if not alive:
            st.caption("Start it with `python -m cx_core worker` (the run command does this).")
        if st.button("Sign out", icon=":material/logout:"):
            st.session_state.clear()
            if sso_configured() and st.user.is_logged_in:
                st.logout()
            st.rerun()
    guarded(nav.run)


main()
