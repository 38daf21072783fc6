"""Tandem — the advisor copilot. Entry point: sign-in and role-based navigation."""

from __future__ import annotations

import sys
from typing import Any

import streamlit as st

from cx_core import session_cookie, sessions
from cx_core.access import StaffUser
from cx_core.auth import Throttle, authenticate, refresh, sso_user
from cx_core.errors import NotAuthorised
from cx_core.models import ROLE_RANK, Role
from cx_core.safe_text import one_line
from cx_core.sessions import SessionKeys
from pages.common import guarded, services, worker_status


def serve(options: list[str]) -> None:
    """``python app.py [--streamlit.option value …]``: this page served as an ``st.App`` with the route that writes
    the session cookie (``session_cookie``), with the pages below from the very first visit after a start.
    (Streamlit otherwise serves the first visit after a start from the files in ``pages/``: a page list of module
    names, and "Page not found" over the sign-in for a link to a ticket.)"""
    from functools import cache

    from streamlit.runtime.pages_manager import PagesManager

    from cx_core.config import load_settings

    PagesManager.uses_pages_directory = False
    config: dict[str, Any] = {}
    pairs = iter(options)
    for option in pairs:
        name, _, value = option.removeprefix("--").partition("=")
        raw = value or next(pairs, "")
        config[name] = raw.lower() == "true" if raw.lower() in {"true", "false"} else int(raw) if raw.isdigit() \
            else raw
    keys = cache(lambda: SessionKeys.from_settings(load_settings()))  # the same key the pages sign tokens with
    st.App(__file__, routes=session_cookie.routes(keys)).run(config=config)


if __name__ == "__main__" and not st.runtime.exists():
    serve(sys.argv[1:])

# a narrow sidebar (its width in pixels): the ticket and its records get the room at 1366 px
st.set_page_config(page_title="Tandem", page_icon=":material/support_agent:", layout="wide", initial_sidebar_state=220)


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


@st.cache_resource(show_spinner=False)
def session_keys() -> SessionKeys:
    return SessionKeys.from_settings(services().settings)


def keep_cookie(token: str) -> None:
    """Asks the browser to keep ``token`` for the session's lifetime (written at the end of this run)."""
    st.session_state["cookie"] = ("keep", token)


def forget_cookie(token: str) -> None:
    """Asks the browser to drop the cookie, but only while it still holds ``token``: a tab that signs out never
    removes the cookie of a newer sign-in made in another tab."""
    st.session_state["cookie"] = ("forget", token)


def write_cookie(where: Any) -> None:
    """Has the server write (or remove) the pending session cookie, ``HttpOnly``: the page posts a one-time code
    for it to the app's own route (``session_cookie``); the token itself never reaches the page."""
    pending = st.session_state.pop("cookie", None)
    if pending is None:
        return
    code = session_cookie.offer(pending[1], keep=pending[0] == "keep")
    with where:
        st.html(session_cookie.script(code, str(st.get_option("server.baseUrlPath") or "")),
                unsafe_allow_javascript=True, width="content")


def begin_session(user: StaffUser) -> None:
    """Signs ``user`` in for this browser: a server-side session whose token the cookie keeps across reloads
    and new tabs."""
    keys = session_keys()
    token = sessions.start(services().db, user, client_address(), keys=keys)
    st.session_state.update(user=user, session_token=token)
    keep_cookie(token)


def signed_in_user() -> StaffUser | None:
    """The account this browser is signed in as, as stored now (its current role), or None. A session is checked
    on every run, so sign-out elsewhere, an expired session or a deactivated account signs out at the next click;
    a new tab or a reload resumes the session from the cookie."""
    db, keys = services().db, session_keys()
    user: StaffUser | None = st.session_state.get("user")
    token: str | None = st.session_state.get("session_token")
    if user is None:
        token = st.context.cookies.get(keys.cookie_name)
        if not isinstance(token, str) or not token or token == st.session_state.get("ended_token"):
            return None
        user = sessions.resume(db, token, keys=keys)
        if user is None:
            st.session_state["ended_token"] = token  # tried once per tab, then removed from the browser
            forget_cookie(token)
            return None
        st.session_state.update(user=user, session_token=token)
        return user
    user = sessions.resume(db, token, keys=keys) if token else refresh(db, user)
    if user is None:
        st.session_state.clear()
        if token:
            st.session_state["ended_token"] = token
            forget_cookie(token)
        return None
    st.session_state["user"] = user
    return user


def sign_out(user: StaffUser) -> None:
    """Ends every session of the account, in every browser and tab, and forgets this browser's cookie."""
    sessions.end_all(services().db, user.username)
    token = st.session_state.get("session_token")
    st.session_state.clear()
    if token:
        st.session_state["ended_token"] = token
        forget_cookie(token)
    if sso_configured() and st.user.is_logged_in:
        st.logout()
    st.rerun()


def sign_in() -> None:
    left, mid, right = st.columns([1, 1.2, 1])
    with mid:
        st.title("Tandem")
        brand = guarded(lambda: services().pack.brand.name)
        st.caption(f"The advisor copilot for {one_line(brand, 80)} customer care" if brand else
                   "The advisor copilot for customer care")
        if sso_configured():
            if st.user.is_logged_in and st.session_state.get("ended_token") and not st.session_state.get("sso_again"):
                # this tab's session ended (signed out here or elsewhere): signing in again is the person's choice
                st.button("Sign in with single sign-on", type="primary", width="stretch",
                          on_click=lambda: st.session_state.update(sso_again=True))
            elif st.user.is_logged_in:
                st.session_state.pop("sso_again", None)
                user = sso_user(services().db, str(st.user.get("email") or ""))
                if user is not None:
                    begin_session(user)
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
                    st.error(one_line(exc))
                    return
                if user is None:
                    st.error("Wrong username or password.")
                else:
                    begin_session(user)
                    st.rerun()


# (section, the role it needs, file, title, icon, address); the first page is the landing page
PAGES: list[tuple[str, Role, str, str, str, str]] = [
    ("Work", Role.advisor, "pages/inbox.py", "Inbox", ":material/inbox:", "inbox"),
    ("Work", Role.advisor, "pages/workspace.py", "Ticket workspace", ":material/support_agent:", "ticket"),
    ("Work", Role.advisor, "pages/knowledge.py", "Knowledge base", ":material/menu_book:", "knowledge"),
    ("Operations", Role.supervisor, "pages/review.py", "Review", ":material/fact_check:", "review"),
    ("Operations", Role.supervisor, "pages/insights.py", "Insights", ":material/monitoring:", "insights"),
    ("Operations", Role.supervisor, "pages/audit_log.py", "Audit log", ":material/verified:", "audit"),
    ("Administration", Role.admin, "pages/autonomy.py", "Autonomy & policy", ":material/tune:", "autonomy"),
    ("Administration", Role.admin, "pages/users.py", "Users and roles", ":material/group:", "users"),
    ("Administration", Role.admin, "pages/channels.py", "Channels", ":material/cable:", "channels"),
    ("Administration", Role.admin, "pages/actions.py", "Actions", ":material/electrical_services:", "actions"),
]


def signed_out() -> None:
    """The sign-in page alone, with no page list, at every page's address: a link opened while signed out
    (a ticket, the review queue…) is kept, and opens once the person has signed in."""
    def sign_in_page() -> None:
        guarded(sign_in)

    pages = [st.Page(sign_in_page, title="Sign in", icon=":material/login:", url_path="sign-in", default=True)]
    pages += [st.Page(sign_in_page, title="Sign in", icon=":material/login:", url_path=address)
              for *_, address in PAGES]
    wanted = st.navigation(pages, position="hidden")
    if wanted.url_path:
        st.session_state["after_sign_in"] = (wanted.url_path, {k: v[:200] for k, v in st.query_params.items()})
    else:
        st.session_state.pop("after_sign_in", None)
    wanted.run()
    write_cookie(st.container())


def main() -> None:
    user = guarded(signed_in_user)
    if user is None:
        signed_out()
        return
    rank = ROLE_RANK[user.role]
    sections: dict[str, list[Any]] = {}
    for n, (section, role, file, title, icon, address) in enumerate(PAGES):
        if rank >= ROLE_RANK[role]:
            sections.setdefault(section, []).append(
                st.Page(file, title=title, icon=icon, url_path=address, default=n == 0))
    nav = st.navigation(sections)
    after = st.session_state.pop("after_sign_in", None)
    if after:  # the link opened before signing in, when this role may see that page
        target = next((p for pages in sections.values() for p in pages if p.url_path == after[0]), None)
        if target is not None:
            st.switch_page(target, query_params=after[1])
    write_cookie(st.sidebar)
    with st.sidebar:
        st.markdown(f"**{one_line(user.display_name)}**  \n{one_line(user.role.value.capitalize())}")
        alive, text = worker_status(services())
        st.badge("Agent running" if alive else "Agent stopped", color="green" if alive else "red",
                 icon=":material/smart_toy:", help=one_line(text))
        if not alive:
            st.caption("Start it with `python -m cx_core worker` (the run command does this).")
        if st.button("Sign out", icon=":material/logout:"):
            sign_out(user)
    guarded(nav.run)


main()
