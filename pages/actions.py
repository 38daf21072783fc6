"""Actions (admins): every action in force and where it comes from, what the pack's actions file still lacks (its
problems, the settings its services need), a trial of a read action against the real system, and the recent calls
to the team's own systems."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cx_core import action_admin
from cx_core.access import require
from cx_core.models import Role
from cx_core.safe_text import escape_markdown, inline_code, one_line
from pages.common import current_user, guarded, services

user = current_user()
svc = services()
st.title("Actions")
st.caption("Besides the pack's own Python actions, actions on your team's own systems are declared in the pack's "
           "`actions.yaml`, with no code: written by hand, imported from an OpenAPI document with "
           "`python -m cx_core actions import-openapi`, or the tools of an MCP server with "
           "`python -m cx_core actions import-mcp`. Check the file with `python -m cx_core actions check`.")


def main() -> None:
    require(user, Role.admin, svc.db)
    for line in action_admin.file_problems(svc.db, user):
        st.error(one_line(line, 400), icon=":material/error:")
    for m in action_admin.missing_secrets(svc.db, user):
        used = f" ({', '.join(m['actions'])})" if m["actions"] else ""
        st.warning(f"{one_line(m['setting'], 80)} is not set: calls to {one_line(m['service'], 60)} fail until it is"
                   f"{escape_markdown(used)}", icon=":material/key:")
    out = action_admin.not_in_force(svc.db, user)
    if out:
        st.subheader("Not in force")
        st.caption("Each of these has a problem of its own in the actions file (or depends on one that has); every "
                   "other action is in force.")
        st.dataframe([{"Name": r["name"], "Why": one_line(r["reason"], 300)} for r in out], hide_index=True,
                     width="stretch")
    rows = action_admin.catalogue(svc, user)
    st.subheader("Actions in force")
    st.dataframe([{"Action": r["label"], "Source": r["source"], "Effect": r["effect"],
                   "Confirmed": r["confirm"], "Reversible": r["reversible"], "Service": r["service"],
                   "Call": f"{r['method']} {r['path']}".strip()} for r in rows], hide_index=True, width="stretch")
    if not rows:
        return
    by_name = {r["name"]: r for r in rows}
    chosen = st.selectbox("See an action", list(by_name), key="action-pick",
                          format_func=lambda n: f"{by_name[n]['label']} ({n})")
    details(by_name[str(chosen)])
    recent_calls()


def details(row: dict[str, Any]) -> None:
    """The chosen action: what it does, its facts, its argument schema, and a trial when it only reads."""
    with st.container(border=True):
        st.markdown(f"**{one_line(row['label'], 120)}** · {inline_code(row['name'])} · "
                    f"{escape_markdown(row['source'])} · {one_line(row['effect'])}")
        st.markdown(escape_markdown(row["description"] or "No description."))
        facts = [f"service {one_line(row['service'], 60)}"]
        if row["method"]:
            facts.append(f"call {inline_code(row['method'] + ' ' + row['path'])}")
        if row["effect"] == "read":
            facts.append("changes nothing")
        else:
            facts.append("a person confirms it" if row["confirm"] else "no confirmation")
            facts.append("can be undone" if row["reversible"] else "cannot be undone")
        if row["task_type_labels"]:
            facts.append("for " + ", ".join(one_line(t, 60) for t in row["task_type_labels"]))
        st.caption(" · ".join(facts))  # each fact escaped where it was made
        with st.expander("Arguments", icon=":material/data_object:"):
            fields = action_admin.form_fields(row["name"])
            st.dataframe([{"Argument": f["name"], "Type": f["type"], "Required": "yes" if f["required"] else "no",
                           "What it is": f["help"]} for f in fields] or [{"Argument": "none"}], hide_index=True,
                         width="stretch")
        if row["effect"] == "read":
            try_it(row["name"])
        else:
            st.caption("Only read actions can be tried here; a write runs from a ticket, with its preview and "
                       "approval.")


def try_it(name: str) -> None:
    """One text field per argument, started from the schema's examples or defaults; the answer or the reason."""
    fields = action_admin.form_fields(name)
    with st.form(f"try-{name}"):
        st.markdown("**Try it**")
        texts: dict[str, str] = {}
        for f in fields:
            required = " (required)" if f["required"] else ""
            texts[f["name"]] = st.text_input(one_line(f["name"], 60) + required, value=f["value"],
                                             key=f"try-{name}-{f['name']}",
                                             help=one_line(f"{f['type']}. {f['help']}", 300))
        if not fields:
            st.caption("This action takes no arguments.")
        submitted = st.form_submit_button("Try it", type="primary", icon=":material/play_arrow:")
    if not submitted:
        return
    out = guarded(lambda: action_admin.try_read(svc.db, user, name, action_admin.form_args(name, texts)))
    if out is None:
        return
    status = f" · status {out['status']:d}" if isinstance(out["status"], int) else ""
    if out["ok"]:
        st.success(f"Answered in {out['latency_ms']:d} ms" + status, icon=":material/check_circle:")
        st.json(out["result"])
    else:
        st.error(one_line(out["error"] or "the call did not succeed", 400) + status, icon=":material/error:")


def recent_calls() -> None:
    st.subheader("Recent calls")
    calls = action_admin.recent_calls(svc.db, user)
    if not calls:
        st.caption("No call to your team's own systems yet.")
        return
    st.dataframe([{"At": f"{c['at']:%d %b %H:%M:%S}", "Action": c["action"], "Ticket": c["ticket"] or "",
                   "Call": f"{c['method']} {c['host']} {c['path']}", "Status": c["status"],
                   "Latency ms": c["latency_ms"], "OK": c["ok"], "Error": c["error"] or ""} for c in calls],
                  hide_index=True, width="stretch")


guarded(main)
