"""Autonomy & policy (admins): the level of each task type with the evidence for it, a replay before a level is
raised, limits, review sampling, the kill switch, and every change with who and why."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cx_core import autonomy, desk, replay
from cx_core.access import require
from cx_core.models import Role
from cx_core.safe_text import one_line
from pages.common import current_user, guarded, label, services

user = current_user()
svc = services()
st.title("Autonomy & policy")
LEVELS = {0: "0 · manual", 1: "1 · answer", 2: "2 · copilot", 3: "3 · supervised", 4: "4 · orchestrate"}
REC_ICON = {"promote": "⬆ promote", "demote": "⬇ demote", "hold": "hold"}


def save(fn: Any) -> None:
    out = guarded(fn)
    if out is not None:
        st.toast(f"Saved as policy version {one_line(out['version'])}", icon=":material/check:")
        st.rerun()


def kill_switch(policy: Any) -> None:
    with st.container(border=True):
        cols = st.columns([3, 2, 1.2], vertical_alignment="bottom")
        state = "ON — every task type is at copilot or below" if policy.kill_switch else "off"
        cols[0].markdown(f"**Kill switch:** {state}")
        cols[0].caption("Drops every task type to copilot at once; the agent then only proposes.")
        why = cols[1].text_input("Reason", key="kill-why", placeholder="e.g. incident 42")
        if cols[2].button("Turn off" if policy.kill_switch else "Turn on", type="primary" if not policy.kill_switch
                          else "secondary", icon=":material/power_settings_new:", width="stretch"):
            save(lambda: autonomy.set_kill_switch(svc.db, svc.settings.writable_policy_file, policy, user,
                                                  not policy.kill_switch, why))


def evidence_table(policy: Any) -> list[Any]:
    evidence = autonomy.earned_autonomy(svc.db, user, policy)
    rows = []

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v:.0f} %"

    for e in evidence:
        r = {k: pct(v) if k.endswith("_%") else v for k, v in e.as_row().items()}
        rows.append({"task type": label(r["task_type"]), "level": LEVELS[r["level"]], "sample": r["sample"],
                     "approved %": r["approval_%"], "edited %": r["edit_%"], "rejected %": r["reject_%"],
                     "autonomous": r["autonomous"], "reversed %": r["reversal_%"], "reopened %": r["reopen_%"],
                     "recommendation": REC_ICON[r["recommendation"]] + (f" to {r['to_level']}" if r["to_level"]
                                                                      is not None else ""),
                     "why": r["why"]})
    st.dataframe(rows, hide_index=True, width="stretch", height=min(38 + 35 * len(rows), 460),
                 column_config={"why": st.column_config.TextColumn(width="large")})
    st.caption(f"Over the last {policy.earned.window_days:d} days; a recommendation needs at least "
               f"{policy.earned.min_sample:d} decisions. Nothing changes until an admin saves it below.")
    return evidence


def change_level(policy: Any, evidence: list[Any]) -> None:
    types = sorted(set(policy.autonomy) | {e.task_type for e in evidence} - {"unclassified"})
    recommended = next((e for e in evidence if e.recommendation != "hold"), None)
    cols = st.columns([2, 1.6, 3])
    task_type = cols[0].selectbox("Task type", types, format_func=label,
                                  index=types.index(recommended.task_type) if recommended else 0)
    current = policy.level(task_type)
    target = cols[1].selectbox("New level", list(LEVELS), format_func=LEVELS.get,
                               index=recommended.to_level if recommended and recommended.task_type == task_type
                               and recommended.to_level is not None else current)
    why = cols[2].text_input("Why", placeholder="e.g. 98% approval over 6 weeks", key="level-why")
    key = f"replay::{task_type}::{target}"
    raising = target > current
    b = st.columns([1.4, 1.4, 4])
    if b[0].button("Replay recent tickets", icon=":material/replay:", disabled=target == current):
        items = replay.recent_tickets(svc.db, user, task_type, limit=15)
        if not items:
            st.warning(f"No stored {label(task_type)} tickets to replay yet.")
        else:
            raw = policy.model_dump(mode="json")
            raw["autonomy"] = {**raw["autonomy"], task_type: target}
            raw["version"] = policy.version + 1
            candidate = type(policy).model_validate(raw)
            with st.spinner(f"Replaying {len(items)} tickets twice in a throw-away copy…"):
                st.session_state[key] = guarded(
                    lambda: replay.compare_for(svc.db, user, svc.settings, items, policy, candidate))
    report = st.session_state.get(key)
    if report:
        show_report(report)
    blocked = raising and not report
    if b[1].button("Save level", type="primary", icon=":material/save:", disabled=target == current or blocked,
                   help="Replay first: a raised level is saved only after you have seen what it would do."
                   if blocked else None):
        save(lambda: autonomy.set_level(svc.db, svc.settings.writable_policy_file, policy, user, task_type, target,
                                        why))
    if target != current:
        b[2].caption(f"{label(task_type)}: {LEVELS[current]} → {LEVELS[target]}")


def show_report(report: dict[str, Any]) -> None:
    a, c = report["active"], report["candidate"]
    rows = [{"outcome": k.replace("_", " "), "now": a["actions"][k], "with the change": c["actions"][k]}
            for k in ("executed", "needs_approval", "escalated", "denied", "abstained")]
    rows.append({"outcome": "replies sent alone", "now": a["replies_sent"], "with the change": c["replies_sent"]})
    rows.append({"outcome": "tickets escalated", "now": a["escalated"], "with the change": c["escalated"]})
    cols = st.columns([1.2, 2])
    cols[0].dataframe(rows, hide_index=True, width="stretch")
    diffs = report["differences"]
    cols[1].markdown(f"**{len(diffs)} of {c['tickets']:d} tickets would be handled differently**")
    held = report.get("held") or []
    if held:
        cols[1].markdown("**What still holds the others for a person:**  \n" + "  \n".join(
            f"{len(h['tickets'])} ticket{'s' if len(h['tickets']) != 1 else ''}: "
            f"{one_line(h['reason'][:1].upper() + h['reason'][1:], 200)}" for h in held[:6]))
        cols[1].caption("Limits per action and the review sample are on the Limits tab.")
    if diffs:
        cols[1].dataframe([{"ticket": d.get("subject") or d["ticket_id"], "now": ", ".join(map(decision_text, d["active"])) or "—",
                            "with the change": ", ".join(map(decision_text, d["candidate"])) or "—"} for d in diffs],
                          hide_index=True, width="stretch")


def limits(policy: Any) -> None:
    money = svc.pack.locale.currency
    alone, advisor = f"alone up to ({money})", f"advisor up to ({money})"
    rows = [{"action": action_name(k), alone: v.auto_max, advisor: v.advisor_max} for k, v in policy.limits.items()]
    names = {action_name(k): k for k in policy.limits}
    edited = st.data_editor(rows, hide_index=True, width="stretch", disabled=["action"], key="limits-editor")
    cols = st.columns([2, 2, 3], vertical_alignment="bottom")
    rate = cols[0].number_input("Review sample %", 0, 100, int(round(policy.review.sample_rate * 100)))
    risk = cols[1].number_input("Always review risk above", 0.0, 1.0, float(policy.review.risk_above), step=0.05)
    why = cols[2].text_input("Why", key="limits-why")
    if st.button("Save limits and sampling", icon=":material/save:"):
        raw = policy.model_dump(mode="json")
        raw["limits"] = {names.get(r["action"], r["action"]): {"auto_max": r[alone], "advisor_max": r[advisor]}
                         for r in edited}
        raw["review"] = {"sample_rate": rate / 100, "risk_above": risk}
        save(lambda: autonomy.save_policy(svc.db, svc.settings.writable_policy_file, policy, raw, user, why))
    st.caption(f"Amounts in {one_line(money)}. Above “advisor up to”, a supervisor approves. Never autonomous: "
               + ", ".join(one_line(action_name(a)) for a in policy.never_autonomous) + ".")


def action_name(name: str) -> str:
    """An action as people say it ("Refund"), from its registered label; a name no action has, in words."""
    spec = desk.REGISTRY.get(name)
    return spec.label if spec and spec.label else name.replace("_", " ").capitalize()


def decision_text(entry: str) -> str:
    """A replayed decision ("refund=needs_approval") in words: "Refund: needs approval"."""
    name, _, decision = entry.partition("=")
    return f"{action_name(name)}: {decision.replace('_', ' ')}" if decision else action_name(name)


def setting_name(field: str) -> str:
    """A changed policy field in words: "autonomy.order_status" → "Autonomy · Order status"."""
    head, _, rest = field.partition(".")
    words = head.replace("_", " ").capitalize()
    if not rest:
        return words
    tail = label(rest) if head == "autonomy" else action_name(rest.split(".")[0]) + (
        " · " + rest.split(".", 1)[1].replace("_", " ") if "." in rest else "")
    return f"{words} · {tail}"


def history() -> None:
    changes = autonomy.history(svc.db, user)
    if not changes:
        st.info("No changes yet: the shipped policy is in force.")
        return
    for h in changes:
        with st.expander(f"Version {one_line(h['version'])} · {h['at']:%d %b %Y %H:%M} · {one_line(h['by'])} — "
                         f"{one_line(h['why'], 200)}"):
            st.dataframe([{"setting": setting_name(d["field"]), "before": str(d["before"]), "after": str(d["after"])}
                          for d in h["diff"]], hide_index=True, width="stretch")


def page() -> None:
    require(user, Role.admin, svc.db)
    if svc.policy_error:
        st.error(f"The policy file was refused: {one_line(svc.policy_error, 400)}")
    policy = svc.policy()
    st.caption(f"Policy version {one_line(policy.version)} · levels: 0 manual, 1 answer, 2 copilot, 3 supervised, "
               "4 orchestrate")
    kill_switch(policy)
    levels, limit_tab, hist = st.tabs(["Levels and evidence", "Limits and review", "History"])
    with levels:
        evidence = evidence_table(policy)
        st.subheader("Change a level")
        change_level(policy, evidence)
    with limit_tab:
        limits(policy)
    with hist:
        history()


guarded(page)
