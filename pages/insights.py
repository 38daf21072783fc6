"""Insights (supervisors and admins): outcome metrics by task type, channel and day, the impact matrix and CSV."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from cx_core import desk, exports, insights, model_usage
from cx_core.access import require
from cx_core.models import Role
from cx_core.safe_text import one_line
from cx_core.wording import money_in
from pages.common import current_user, guarded, label, services

user = current_user()
svc = services()
st.title("Insights")
PERCENT = {"auto_resolution", "escalation", "fcr", "sla_compliance", "acceptance", "edit_rate", "reply_edit_rate"}


def fmt(metric: str, value: Any) -> str:
    if value is None:
        return "—"
    if metric in PERCENT:
        return f"{value:.0%}"
    if metric == "cost_per_ticket":
        return money_in(float(value), svc.pack.locale.currency)
    if metric == "handle_min":
        return f"{value:.1f} min"
    return f"{value:g}" if isinstance(value, float) else str(value)


def table(rows: list[dict[str, Any]], key: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if key == "task_type" and not frame.empty:
        frame[key] = frame[key].map(label)
    return frame.rename(columns={key: key.replace("_", " ").capitalize(), **insights.LABELS})


def charts(rows: list[dict[str, Any]], split: str) -> None:
    """Volume, outcome rates, handle time and cost per ticket, by the chosen breakdown."""
    frame = pd.DataFrame(rows)
    if split == "task_type":
        frame["task_type"] = frame["task_type"].map(label)
    c1, c2 = st.columns([1, 1.4])
    names = alt.Y(f"{split}:N", title=None, sort="ascending" if split == "day" else "-x",
                  axis=alt.Axis(labelLimit=180, labelOverlap=False))
    with c1:
        st.markdown("**Volume**")
        st.altair_chart(alt.Chart(frame).mark_bar(color="#5b6ee1").encode(
            y=names, x=alt.X("tickets:Q", title="tickets"), tooltip=[split, "tickets"]).properties(
            height=max(160, 26 * len(frame))), width="stretch")
    with c2:
        st.markdown("**Outcome rates**")
        rates = frame.melt(id_vars=[split], value_vars=["auto_resolution", "escalation", "fcr", "sla_compliance"],
                           var_name="metric", value_name="share").dropna()
        rates["metric"] = rates["metric"].map({"auto_resolution": "Auto", "escalation": "Escalated",
                                               "fcr": "FCR", "sla_compliance": "SLA met"})
        base = alt.Chart(rates).encode(y=alt.Y(f"{split}:N", title=None,
                                               axis=alt.Axis(labelLimit=180, labelOverlap=False)),
                                       x=alt.X("metric:N", title=None, axis=alt.Axis(labelAngle=0, orient="top")))
        cells = base.mark_rect().encode(color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                                                        legend=None),
                                        tooltip=[split, "metric", alt.Tooltip("share:Q", format=".0%")])
        text = base.mark_text(fontSize=11).encode(text=alt.Text("share:Q", format=".0%"),
                                                  color=alt.condition("datum.share > 0.6", alt.value("white"),
                                                                      alt.value("#333")))
        st.altair_chart((cells + text).properties(height=max(160, 26 * len(frame))), width="stretch")
    c3, c4 = st.columns(2)
    with c3:
        st.markdown("**Handle time (minutes, people-resolved tickets)**")
        handled = frame.dropna(subset=["handle_min"])
        if handled.empty:
            st.caption("No tickets resolved by people in this period.")
        else:
            st.altair_chart(alt.Chart(handled).mark_bar(color="#e59f3c").encode(
                y=alt.Y(f"{split}:N", title=None), x=alt.X("handle_min:Q", title="minutes"),
                tooltip=[split, "handle_min"]).properties(height=220), width="stretch")
    with c4:
        st.markdown(f"**Cost per ticket ({one_line(svc.pack.locale.currency)})**")
        st.altair_chart(alt.Chart(frame.dropna(subset=["cost_per_ticket"])).mark_bar(color="#3aa17e").encode(
            y=alt.Y(f"{split}:N", title=None), x=alt.X("cost_per_ticket:Q", title=svc.pack.locale.currency),
            tooltip=[split, "cost_per_ticket"]).properties(height=220), width="stretch")


def impact_matrix(facts: list[dict[str, Any]]) -> None:
    """Volume against complexity for each task type, with the advice for each."""
    matrix = insights.impact_matrix(facts)
    mframe = pd.DataFrame(matrix)
    mframe["task type"] = mframe["task_type"].map(label)
    st.markdown("Volume against complexity for each task type: automate the high-volume, low-complexity work "
                "first; use assisted automation where complexity is medium and volume low.")
    points = alt.Chart(mframe).mark_circle(size=220, opacity=0.8).encode(
        x=alt.X("complexity:Q", scale=alt.Scale(domain=[0, 1]), title="complexity (0–1)"),
        y=alt.Y("volume:Q", title="tickets"), color=alt.Color("advice:N", legend=alt.Legend(orient="bottom",
                                                                                        title=None, columns=2)),
        tooltip=["task type", "volume", "complexity", "advice"])
    names = points.mark_text(dy=-14, fontSize=11).encode(text="task type:N", color=alt.value("#444"))
    rules = alt.Chart(pd.DataFrame({"x": [0.25, 0.5]})).mark_rule(strokeDash=[4, 4], color="#bbb").encode(x="x:Q")
    st.altair_chart((rules + points + names).properties(height=380), width="stretch")
    st.dataframe(mframe[["task type", "volume", "complexity", "auto_resolution", "advice"]], hide_index=True,
                 width="stretch", column_config={"auto_resolution": st.column_config.NumberColumn(
                     "auto-resolution", format="percent")})


def main() -> None:
    require(user, Role.supervisor, svc.db)
    top = st.columns([1.2, 2.6, 2])
    days = top[0].selectbox("Period", [1, 7, 30, 90], index=2, format_func=lambda d: f"Last {d} day{'s' * (d > 1)}")
    split = top[1].segmented_control("Break down by", ["task_type", "channel", "tier", "day"], default="task_type",
                                     format_func=lambda k: k.replace("_", " ").capitalize()) or "task_type"
    s = svc.settings
    facts = insights.ticket_facts(svc.db, user, desk.utcnow() - timedelta(days=days), advisor_cost_per_hour=s.advisor_cost_per_hour,
                                  agent_cost_per_ticket=s.agent_cost_per_ticket)
    if not facts:
        st.info("No processed tickets in this period yet. Metrics appear as soon as the agent has handled tickets.")
        return
    total = insights.summarise(facts)
    keys = ["auto_resolution", "escalation", "fcr", "csat_proxy", "sla_compliance", "handle_min", "acceptance",
            "edit_rate", "reply_edit_rate", "cost_per_ticket"]
    for row in (keys[:5], keys[5:]):
        cols = st.columns(5)
        for c, k in zip(cols, row, strict=True):
            c.metric(insights.LABELS[k], fmt(k, total[k]))
    currency = svc.pack.locale.currency
    st.caption(f"{total['tickets']:d} processed tickets. Cost uses {money_in(s.advisor_cost_per_hour, currency)} an "
               f"advisor hour and {money_in(s.agent_cost_per_ticket, currency)} of agent compute a ticket (settings TANDEM_ADVISOR_COST_PER_HOUR, "
               "TANDEM_AGENT_COST_PER_TICKET).")
    rows = insights.by(facts, split)
    chart_tab, matrix_tab, table_tab, model_tab, help_tab = st.tabs(
        ["Charts", "Impact matrix", "Table and export", "Model", "Definitions"])
    with chart_tab:
        charts(rows, split)
    with matrix_tab:
        impact_matrix(facts)
    with table_tab:
        st.dataframe(table(rows, split), hide_index=True, width="stretch")
        e1, e2, _ = st.columns([1, 1, 3])
        e1.download_button("Download this table (CSV)", exports.to_csv(rows), file_name=f"tandem-insights-{split}.csv",
                           mime="text/csv", icon=":material/download:")
        e2.download_button("Download per-ticket facts (CSV)", exports.to_csv(facts), file_name="tandem-tickets.csv",
                           mime="text/csv", icon=":material/download:")
    with model_tab:
        model_use(days)
    with help_tab:
        st.markdown(insights.DEFINITIONS)


def model_use(days: int) -> None:
    """A configured model's calls by day and stage: tokens, mean latency, fallbacks and calls the budget stopped."""
    s = svc.settings
    if not s.llm_base_url:
        st.info("No model is configured: the offline engine reads, decides and writes every reply, at no token cost.")
        return
    budget = f"{s.llm_daily_tokens:,} tokens a day" if s.llm_daily_tokens else "no daily limit"
    st.caption(f"Model {one_line(s.llm_model or 'default')} at {one_line(s.llm_base_url)} · budget: {budget} "
               "(TANDEM_LLM_DAILY_TOKENS). Past the budget the offline engine answers until midnight (UTC).")
    rows = model_usage.usage(svc.db, days)
    if not rows:
        st.info("The model has not been called in this period.")
        return
    st.dataframe(pd.DataFrame(rows).rename(columns={
        "day": "Day", "stage": "Stage", "calls": "Calls", "tokens": "Tokens", "mean_latency_ms": "Mean latency (ms)",
        "fallbacks": "Fell back to offline", "not_called": "Not called (budget spent)"}), hide_index=True,
        width="stretch")


guarded(main)
