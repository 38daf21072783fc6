"""Users and roles (admins): create accounts, change roles, deactivate, set a new password; unlock sign-ins;
make and revoke tokens for the inbound API."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from cx_core import api_tokens, auth
from cx_core.models import Role
from cx_core.safe_text import one_line
from pages.common import current_user, guarded, services

user = current_user()
svc = services()
st.title("Users and roles")
ROLES = [Role.advisor, Role.supervisor, Role.admin]
ROLE_HELP = ("**Advisor**: inbox, tickets, approve within limits. **Supervisor**: also review, escalations, audit, "
             "insights, knowledge uploads, approvals above advisor limits. **Admin**: also autonomy, policy and users.")


def main() -> None:
    flash = st.session_state.pop("users-flash", None)
    if flash:
        st.success(one_line(flash))
    users = auth.list_users(svc.db, user)
    st.caption(ROLE_HELP)
    st.dataframe([{"Username": u["username"], "Name": u["name"], "Role": str(u["role"]).capitalize(),
                   "Active": u["active"], "Since": f"{u['created']:%d %b %Y}"} for u in users],
                 hide_index=True, width="stretch")
    left, right = st.columns(2, gap="large")
    with left, st.container(border=True):
        st.subheader("Add a user")
        gen = int(st.session_state.get("add-user-gen", 0))  # a new form after a success; a refusal keeps what was typed
        with st.form(f"add-user-{gen}"):
            username = st.text_input("Username", placeholder="e.g. jo.martin")
            name = st.text_input("Name", placeholder="Jo Martin")
            role = st.selectbox("Role", ROLES, format_func=lambda r: r.value.capitalize())
            password = st.text_input("First password", type="password", help="At least 8 characters; share it "
                                                                              "privately and ask them to change it.")
            if st.form_submit_button("Create user", type="primary"):
                made = guarded(lambda: auth.add_user(svc.db, user, username, name, role, password))
                if made:
                    st.session_state["users-flash"] = f"{made.display_name} can now sign in as {made.username}."
                    st.session_state["add-user-gen"] = gen + 1
                    st.rerun()
    with right, st.container(border=True):
        st.subheader("Change a user")
        names = {u["username"]: f"{u['name']} ({u['username']})" for u in users}
        who = st.selectbox("User", list(names), format_func=lambda k: names[k], key="edit-who")
        current = next(u for u in users if u["username"] == who)
        with st.form("edit-user"):
            role = st.selectbox("Role", ROLES, index=ROLES.index(Role(str(current["role"]))),
                                format_func=lambda r: r.value.capitalize())
            active = st.toggle("Active (can sign in)", value=bool(current["active"]))
            password = st.text_input("New password (leave empty to keep)", type="password")
            if st.form_submit_button("Save changes", type="primary"):
                done = guarded(lambda: auth.update_user(svc.db, user, str(who), role=role, active=active,
                                                        password=password or None) or True)
                if done:
                    st.session_state["users-flash"] = f"Saved {names[str(who)]}."
                    st.rerun()
    sign_in_locks()
    api_tokens_section()
    st.caption("Single sign-on: put your identity provider in front with Streamlit's OIDC login (README, "
               "'Single sign-on'); roles stay managed here.")


def api_tokens_section() -> None:
    """Tokens for the inbound API: the list with what each may do, a new token shown once, widening or narrowing
    what a token reaches, and revoking one (all audited)."""
    with st.container(border=True):
        st.subheader("API tokens")
        st.caption("Systems that send tickets to Tandem's inbound API (`python -m cx_core api`) call it with "
                   "`Authorization: Bearer TOKEN`. Only a hash of each token is kept; revoking one refuses its "
                   "calls at once. A token reads and writes only the tickets it opened unless you let it reach "
                   "every ticket.")
        made = st.session_state.pop("api-token-made", None)
        if made:
            st.success(f"Token “{one_line(made['name'])}” created. Copy it now:")
            st.code(made["token"], language=None)
            st.warning("It will not be shown again: Tandem keeps only its hash. If it is lost, revoke it and "
                       "create another.")
        tokens = api_tokens.list_tokens(svc.db, user)
        if tokens:
            st.dataframe([{"Name": t["name"], "Token": f"{t['prefix']}…", "May": _scopes(t["scopes"]),
                           "Reaches": _reach(t), "Rate": f"{t['rate_per_minute'] or svc.settings.api_rate_per_minute}"
                                                         "/min",
                           "Daily quota": f"{t['daily_quota'] or svc.settings.api_daily_quota:,}",
                           "Created": _when(t["created_at"]), "By": t["created_by"],
                           "Last used": _when(t["last_used_at"]) or "never",
                           "State": f"revoked {_when(t['revoked_at'])}" if t["revoked_at"] else "active"}
                          for t in tokens], hide_index=True, width="stretch")
        else:
            st.caption("No API token yet.")
        left, right = st.columns(2, gap="large")
        with left, st.form("new-api-token", clear_on_submit=False):
            name = st.text_input("What the token is for", max_chars=80, placeholder="e.g. web contact form")
            scopes = st.multiselect("It may", list(api_tokens.SCOPES), default=list(api_tokens.DEFAULT_SCOPES),
                                    format_func=lambda k: api_tokens.SCOPES[k], key="new-token-scopes")
            every = st.checkbox("Reach every ticket of every channel, not only the tickets it opens",
                                key="new-token-every", help="Only for a trusted system of your own; recorded in the "
                                                             "audit log")
            if st.form_submit_button("Create token", type="primary"):
                created = guarded(lambda: api_tokens.create_for(svc.db, user, name, scopes, every))
                if created:
                    st.session_state["api-token-made"] = {"name": " ".join(name.split()), "token": created[1]}
                    st.rerun()
        active = {t["id"]: f"{t['name']} ({t['prefix']}…)" for t in tokens if not t["revoked_at"]}
        with right:
            if not active:
                return
            which = st.selectbox("Token", list(active), format_func=lambda k: active[k], key="revoke-token")
            chosen = next(t for t in tokens if t["id"] == which)
            widened = bool(chosen["all_tickets"])
            if "admin" not in chosen["scopes"]:
                label = "Let it reach only the tickets it opened" if widened else "Let it reach every ticket"
                if st.button(label, icon=":material/travel_explore:", key="widen-token",
                             help="Recorded in the audit log"):
                    if guarded(lambda: api_tokens.widen_for(svc.db, user, int(which), not widened) or True):
                        st.session_state["users-flash"] = (f"Token {active[int(which)]} now reaches "
                                                           + ("only its own tickets." if widened else
                                                              "every ticket of every channel."))
                        st.rerun()
            sure = st.checkbox("Calls with this token will be refused from now on", key="revoke-token-sure")
            if st.button("Revoke", icon=":material/key_off:", disabled=not sure,
                         help="Recorded in the audit log; cannot be undone"):
                def revoke() -> bool:
                    api_tokens.revoke_for(svc.db, user, int(which))
                    return True

                if guarded(revoke):
                    st.session_state["users-flash"] = f"Token {active[int(which)]} revoked."
                    st.session_state.pop("revoke-token-sure", None)
                    st.rerun()


def _scopes(scopes: list[str]) -> str:
    return ", ".join({"write": "add tickets", "read": "read tickets", "admin": "admin"}.get(s, s) for s in scopes)


def _reach(token: dict[str, object]) -> str:
    scopes = token["scopes"]
    return "every ticket" if token["all_tickets"] or (isinstance(scopes, list) and "admin" in scopes) \
        else "its own tickets"


def _when(at: datetime | None) -> str:
    return f"{at:%d %b %Y %H:%M}" if at else ""


def sign_in_locks() -> None:
    """Where sign-ins are held back after failures (an account at one address, an account to new addresses, an
    address whatever the name), and the admin's unlock of a name (audited)."""
    locks = auth.sign_in_locks(svc.db, user)
    s = svc.settings
    with st.container(border=True):
        st.subheader("Locked sign-ins")
        if s.client_address_header.strip():
            st.caption(f"After {s.sign_in_delay_after:d} failed sign-ins of an account from one address, attempts from "
                       f"there wait longer each time; after {s.sign_in_lock_after:d} the account is locked at that "
                       "address until you unlock it here, and stays open everywhere else. Wrong passwords from "
                       "addresses an account never signed in from are also counted together: after "
                       f"{s.sign_in_account_delay_after:d} new addresses wait longer each time, but are never locked "
                       "out; addresses it signed in from keep working. An address failing "
                       f"{s.sign_in_client_lock_after:d} times, whatever the names, is refused for "
                       f"{s.sign_in_client_lock_minutes:d} min. Names that are not accounts are counted the same way, "
                       "so nobody can find out which names exist.")
        else:
            st.warning("No proxy header names the client's address (TANDEM_CLIENT_ADDRESS_HEADER), so every person "
                       "behind a proxy looks alike: failed sign-ins only make later attempts wait, and nothing is "
                       "ever locked. Set it when Tandem runs behind a reverse proxy.", icon=":material/info:")
            st.caption(f"After {s.sign_in_delay_after:d} failed sign-ins of an account from one address, or "
                       f"{s.sign_in_account_delay_after:d} from addresses it never signed in from, attempts wait "
                       "longer each time, up to "
                       f"{max(1, s.sign_in_max_delay_seconds // 60)} min. Names that are not accounts are counted the "
                       "same way, so nobody can find out which names exist.")
        if not locks:
            st.caption("No account or address is locked or waiting.")
            return
        st.dataframe([{"Username": r["username"] if r["scope"] != "client" else "any account",
                       "Account": ("yes" if r["known"] else "no such account") if r["scope"] != "client" else "",
                       "From": _where(r),
                       "State": ("locked" if r["locked"] and r["scope"] != "client" else
                                 f"{'locked' if r['locked'] else 'waits'} until {r['waiting_until']:%H:%M:%S}"),
                       "Failures": r["failures"], "Last attempt": f"{r['last_attempt']:%d %b %H:%M}"}
                      for r in locks], hide_index=True, width="stretch")
        names = list(dict.fromkeys(r["username"] for r in locks if r["scope"] != "client"))
        if not names:
            return
        who = st.selectbox("Account to unlock", names, key="unlock-who")
        if st.button("Unlock", icon=":material/lock_open:", help="Clears the account's failed attempts at every "
                                                                  "address and the waits of the addresses where it "
                                                                  "was held back; recorded in the audit log"):
            done = guarded(lambda: auth.unlock(svc.db, user, str(who)))
            if done:
                st.session_state["users-flash"] = f"{who} can sign in again."
                st.rerun()


def _where(r: dict[str, object]) -> str:
    if r["scope"] == "account":
        return "every new address"
    return f"{r['client']}{' (signed in from here before)' if r['familiar'] else ''}"


guarded(main)
