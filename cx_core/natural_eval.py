"""Tickets in customers' own words, replayed and scored against what a good advisor would propose
(``python -m cx_core eval natural``): the format of ``../shared/data/tickets-natural`` (a ticket file and its
expectations), a fixed tune/check split of every set, and both halves reported.

A proposal counts when an advisor could approve it or it ran (needs approval, escalated, executed). A ticket is
*exact* when every expected proposal is matched by its own proposal with the expected arguments and every write
proposed is expected (an extra read is tolerated); ``must_not`` lists what would be wrong. Argument values: ``"*"``
is any non-empty value, ``{"any_of": […]}`` one of those (``null``: left out), a list of plain values is a set, a
list of objects in order, numbers within 0.005, text ignoring case and surrounding blanks."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import InvalidInput

SPLIT_SEED = 20261126
SKIP = {"send_reply", "escalate_to_human"}
LIVE = {"needs_approval", "escalated", "executed"}


def split_of(ticket_ids: Iterable[str]) -> dict[str, str]:
    """Each ticket's half, ``tune`` or ``check``: the ids sorted, shuffled with a fixed seed, the first half to
    tune on. Fixed for a given set of ids, whatever order they come in."""
    ids = sorted(set(ticket_ids))
    random.Random(SPLIT_SEED).shuffle(ids)
    half = (len(ids) + 1) // 2
    return {i: ("tune" if n < half else "check") for n, i in enumerate(ids)}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise InvalidInput(f"{path}: not found")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{n}: not JSON ({exc.msg})") from exc
    return out


def _norm(v: Any) -> str:
    return re.sub(r"\s+", " ", str(v)).strip().lower()


def same(want: Any, got: Any, key: str = "") -> bool:
    if want == "*":
        return got not in (None, "", [], {})
    if isinstance(want, dict) and set(want) == {"any_of"}:
        return any(same(w, got, key) for w in want["any_of"])
    if want is None or got is None:
        return want is None and got in (None, "")
    if isinstance(want, dict):
        return isinstance(got, dict) and all(same(v, got.get(k), k) for k, v in want.items())
    if isinstance(want, list):
        if not isinstance(got, list) or len(want) != len(got):
            return False
        if all(not isinstance(w, (dict, list)) for w in want):
            return sorted(map(_norm, want)) == sorted(map(_norm, got))
        return all(same(w, g, key) for w, g in zip(want, got, strict=True))
    if isinstance(want, bool) or isinstance(got, bool):
        return bool(want == got)
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return abs(want - got) < 0.005
    if isinstance(want, (int, float)) and isinstance(got, str):
        try:
            return abs(want - float(got)) < 0.005
        except ValueError:
            return False
    if "phone" in key:
        return re.sub(r"\D", "", str(want)) == re.sub(r"\D", "", str(got))
    return _norm(want) == _norm(got)


def _matches(entry: Any, proposal: dict[str, Any]) -> bool:
    if isinstance(entry, str):
        return bool(proposal["action"] == entry)
    return bool(proposal["action"] == entry["action"] and same(entry.get("args", {}), proposal.get("args") or {}))


def judge(expected: dict[str, Any], record: dict[str, Any], reads: set[str]) -> dict[str, Any]:
    """One ticket: exact proposals, the expected ones missing, the writes not expected, a ``must_not`` proposed,
    task type and escalation."""
    props = [p for p in record["proposals"] if p["action"] not in SKIP and p.get("decision") in LIVE]
    free = list(range(len(props)))
    missing = []
    for e in expected["proposals"]:
        hit = next((i for i in free if _matches(e, props[i])), None)
        if hit is None:
            missing.append(e)
        else:
            free.remove(hit)
    extra = [props[i] for i in free if props[i]["action"] not in reads]
    violated = [m for m in expected.get("must_not", []) if any(_matches(m, p) for p in props)]
    return {"id": expected["id"], "exact": not missing and not extra, "missing": missing,
            "extra": [{"action": p["action"], "args": p.get("args")} for p in extra], "must_not": violated,
            "task_type": record.get("task_type") == expected.get("task_type"),
            "escalation": bool(record.get("escalated")) == bool(expected.get("escalate")),
            "acts": bool(expected["proposals"]),
            "answered_alone": any(p["action"] == "send_reply" and p.get("decision") == "executed"
                                  for p in record["proposals"]),
            **({"reply_waits": record["reply_waits"]} if record.get("reply_waits") else {})}


def score(expected: list[dict[str, Any]], records: list[dict[str, Any]], reads: set[str]) -> dict[str, Any]:
    """Both halves and the whole: tickets, exact, exact of those that ask for something done, task type,
    escalation, a ``must_not`` proposed; and every ticket's judgement."""
    by_id = {r["ticket_id"]: r for r in records}
    halves = split_of(e["id"] for e in expected)
    judged = [judge(e, by_id[e["id"]], reads) for e in expected if e["id"] in by_id]

    def tally(rows: list[dict[str, Any]]) -> dict[str, Any]:
        acts = [r for r in rows if r["acts"]]
        return {"tickets": len(rows), "exact": sum(r["exact"] for r in rows),
                "exact_of_acts": f"{sum(r['exact'] for r in acts)} of {len(acts)}",
                "task_type": sum(r["task_type"] for r in rows), "escalation": sum(r["escalation"] for r in rows),
                "must_not_violated": sum(bool(r["must_not"]) for r in rows),
                "answered_alone": sum(r["answered_alone"] for r in rows),
                "reply_held": sum(bool(r.get("reply_waits")) for r in rows),
                "exact_share": round(sum(r["exact"] for r in rows) / len(rows), 3) if rows else None}

    return {"tune": tally([j for j in judged if halves[j["id"]] == "tune"]),
            "check": tally([j for j in judged if halves[j["id"]] == "check"]), "all": tally(judged),
            "missing_records": sorted(set(halves) - set(by_id)),
            "tickets": [{**j, "half": halves[j["id"]]} for j in judged]}
