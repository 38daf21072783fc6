"""Insights: the outcome metrics of the operation, per task type, channel and day, and the volume × complexity
impact matrix that says where to automate next.

Definitions (shown on the page too):
- **auto-resolution**: resolved by the agent alone (the reply was sent by the agent);
- **escalation**: escalated to a person by the agent;
- **handle time**: minutes from a person picking the ticket up (assignment, else the moment it was ready) to
  resolution, for tickets people resolved;
- **first-contact resolution**: resolved, and the same customer did not write again within 7 days;
- **CSAT proxy** (1–5): 5 for a positive ticket, 4 neutral, 2 negative; one point off for a missed SLA and one
  for a repeat contact within 7 days;
- **SLA compliance**: resolved before the SLA, or still open and not yet due;
- **acceptance / edit**: of the proposals people decided, the share approved, and of those the share edited;
  of the replies people sent, the share they changed from the suggestion;
- **cost per ticket**: handle time × the advisor's hourly cost, plus the agent's cost per ticket.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from . import packs
from .access import StaffUser, require
from .actions.base import is_read
from .domain import active
from .models import ProcessResult, Role
from .store.db import Database, utcnow
from .store.tables import MessageRow, ProposalRow, TicketRow

REPEAT_DAYS = 7
METRICS = ["tickets", "auto_resolution", "escalation", "handle_min", "fcr", "csat_proxy", "sla_compliance",
           "acceptance", "edit_rate", "reply_edit_rate", "cost_per_ticket"]
DEFINITIONS = __doc__ or ""  # the page shows them as written: the product's own Markdown

LABELS = {"tickets": "Tickets", "auto_resolution": "Auto-resolution", "escalation": "Escalation",
          "handle_min": "Handle time (min)", "fcr": "First-contact resolution", "csat_proxy": "CSAT proxy (1–5)",
          "sla_compliance": "SLA compliance", "acceptance": "Suggestion acceptance", "edit_rate": "Action edit rate",
          "reply_edit_rate": "Reply edit rate", "cost_per_ticket": "Cost per ticket"}


def ticket_facts(db: Database, user: StaffUser, since: datetime, now: datetime | None = None,
                 advisor_cost_per_hour: float = 36.0, agent_cost_per_ticket: float = 0.02) -> list[dict[str, Any]]:
    """One record per processed ticket created since ``since``: the facts every metric is computed from
    (supervisors)."""
    require(user, Role.supervisor, db)
    now = now or utcnow()
    with db.session() as s:
        rows = s.scalars(select(TicketRow).where(TicketRow.created_at >= since,
                                                 TicketRow.processed_at.is_not(None))).all()
        ids = [r.id for r in rows]
        tiers = packs.records(active()).tiers(s)
        props: dict[str, list[ProposalRow]] = defaultdict(list)
        replies: dict[str, list[MessageRow]] = defaultdict(list)
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            for p in s.scalars(select(ProposalRow).where(ProposalRow.ticket_id.in_(part))):
                props[p.ticket_id].append(p)
            for m in s.scalars(select(MessageRow).where(MessageRow.ticket_id.in_(part),
                                                        MessageRow.direction == "out")):
                replies[m.ticket_id].append(m)
        contacts: dict[str, list[datetime]] = defaultdict(list)
        for cid, at in s.execute(select(TicketRow.customer_id, TicketRow.created_at)
                                 .where(TicketRow.customer_id.is_not(None), TicketRow.created_at >= since)):
            contacts[str(cid)].append(at)
        facts = [_facts(r, props[r.id], replies[r.id], contacts, tiers, now, advisor_cost_per_hour,
                        agent_cost_per_ticket) for r in rows]
    return facts


def _facts(r: TicketRow, props: list[ProposalRow], replies: list[MessageRow], contacts: dict[str, list[datetime]],
           tiers: dict[str, str], now: datetime, rate: float, agent_cost: float) -> dict[str, Any]:
    result = ProcessResult.model_validate(r.result) if r.result else None
    resolved = r.status == "resolved" and r.resolved_at is not None
    by_agent = resolved and any(m.author == "agent" for m in replies)
    repeat = bool(r.customer_id) and any(
        r.created_at < at <= r.created_at + timedelta(days=REPEAT_DAYS) for at in contacts.get(r.customer_id or "", []))
    if r.sla_due is None:
        sla_met = None
    elif resolved:
        sla_met = r.resolved_at <= r.sla_due  # type: ignore[operator]
    else:
        sla_met = None if now <= r.sla_due else False
    handle = None
    if resolved and not by_agent:
        start = r.assigned_at or r.processed_at or r.created_at
        handle = max(0.0, (r.resolved_at - start).total_seconds() / 60)  # type: ignore[operator]
    decided = [p for p in props if p.decided_by and p.decided_by != "agent" and p.status in {"executed", "rejected"}]
    approved = [p for p in decided if p.status == "executed"]
    human_replies = [m for m in replies if m.author != "agent"]
    reply_edited = None
    if human_replies and result is not None:
        ratio = difflib.SequenceMatcher(None, result.draft.reply.strip(), human_replies[-1].body.strip()).ratio()
        reply_edited = ratio < 0.97
    csat = None
    if resolved:
        csat = {"positive": 5, "neutral": 4, "negative": 2}.get(r.sentiment or "neutral", 4)
        csat -= (sla_met is False) + repeat
        csat = max(1, csat)
    return {
        "ticket": r.id, "day": r.created_at.date().isoformat(), "task_type": r.task_type or "unclassified",
        "channel": r.channel, "tier": tiers.get(r.customer_id or "", "unknown"), "status": r.status,
        "resolved": resolved, "auto_resolved": by_agent,
        "escalated": r.status == "escalated" or bool(result and result.escalated),
        "handle_min": handle, "fcr": (resolved and not repeat) if resolved else None, "repeat": repeat,
        "csat_proxy": csat, "sla_met": sla_met,
        "decided": len(decided), "approved": len(approved), "edited": sum(bool(p.edited) for p in approved),
        "reply_edited": reply_edited,
        "requests": len(result.triage.requests) if result else 1,
        "actions": sum(1 for p in props if not is_read(p.action)),
        "cost": (handle or 0.0) * rate / 60 + agent_cost,
    }


def _share(values: list[Any]) -> float | None:
    vals = [bool(v) for v in values if v is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return round(sum(vals) / len(vals), 2) if vals else None


def summarise(facts: list[dict[str, Any]]) -> dict[str, Any]:
    """The metrics over a set of ticket facts (None where nothing could be measured)."""
    decided = sum(f["decided"] for f in facts)
    approved = sum(f["approved"] for f in facts)
    return {
        "tickets": len(facts),
        "auto_resolution": _share([f["auto_resolved"] for f in facts]),
        "escalation": _share([f["escalated"] for f in facts]),
        "handle_min": _mean([f["handle_min"] for f in facts]),
        "fcr": _share([f["fcr"] for f in facts]),
        "csat_proxy": _mean([f["csat_proxy"] for f in facts]),
        "sla_compliance": _share([f["sla_met"] for f in facts]),
        "acceptance": round(approved / decided, 4) if decided else None,
        "edit_rate": round(sum(f["edited"] for f in facts) / approved, 4) if approved else None,
        "reply_edit_rate": _share([f["reply_edited"] for f in facts]),
        "cost_per_ticket": _mean([f["cost"] for f in facts]),
    }


def by(facts: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The metrics per value of ``key`` (task_type, channel, tier or day)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in facts:
        groups[str(f[key])].append(f)
    return [{key: k, **summarise(v)} for k, v in sorted(groups.items())]


def impact_matrix(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task type: volume and complexity (0–1: the mean of its escalation share, share of tickets with
    several requests and share needing several actions), with the recommendation of the impact matrix:
    high volume and low complexity first for full automation; medium complexity, low volume for assisted."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in facts:
        groups[f["task_type"]].append(f)
    if not groups:
        return []
    volumes = sorted(len(v) for v in groups.values())
    median = volumes[len(volumes) // 2]
    out = []
    for task_type, fs in groups.items():
        n = len(fs)
        complexity = (sum(f["escalated"] for f in fs) / n + sum(f["requests"] > 1 for f in fs) / n
                      + sum(f["actions"] > 1 for f in fs) / n) / 3
        high_volume = n >= median
        if complexity < 0.25:
            advice = "Automate fully (supervised, level 3)" if high_volume else "Automate when convenient"
        elif complexity < 0.5:
            advice = "Orchestrate with review (level 4 canary)" if high_volume else "Assisted automation (level 2)"
        else:
            advice = "Copilot: people decide (level 1–2)" if high_volume else "Keep with people"
        out.append({"task_type": task_type, "volume": n, "complexity": round(complexity, 3),
                    "auto_resolution": _share([f["auto_resolved"] for f in fs]), "advice": advice})
    return sorted(out, key=lambda r: (-r["volume"], r["complexity"]))
