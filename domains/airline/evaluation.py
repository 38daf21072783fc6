"""τ-bench airline as an outside check of the airline pack: its users, reservations and flights loaded into the
pack's store, its tasks turned into tickets (``reason_for_call`` + ``known_info``, no customer given), processed by
the engine's pipeline at copilot level with every write only previewed, and the conclusions scored.

A ticket is decided when every write the agent reached is either proposed for approval, or refused by a rule of
the airline (the action's own check, e.g. "basic economy cannot be changed"), or when it only asked questions the
agent answered with nothing to do (every request informational, every look-up done); anything unsure (a missing argument,
an escalation, a mix of proposals and refusals) is left to a person and not counted. A decision is exact when the
proposed writes equal the task's expected ones (a refusal proposes none). Every proposed write is also checked
against τ-bench's policy on the original data, independently of the pack's own checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from cx_core.action_eval import Score
from cx_core.action_eval import evaluate as run_tasks
from cx_core.actions.base import is_read
from cx_core.errors import InvalidInput
from cx_core.models import Decision, ProcessResult

from . import PACK
from .backend import TAU_NOW, load_tau

WRITE_TOOLS = {"cancel_reservation", "update_reservation_flights", "update_reservation_baggages",
               "update_reservation_passengers", "book_reservation", "send_certificate", "transfer_to_human_agents"}
TAU_ARGS = {"cancel_reservation": ("reservation_id",)}  # τ-bench's own arguments, where Tandem's say more
FIRM = {Decision.needs_approval, Decision.executed}


def _norm(name: str, args: dict[str, Any]) -> str:
    keep = TAU_ARGS.get(name)
    a = {k: v for k, v in args.items() if keep is None or k in keep}
    for key in ("flights", "passengers", "payment_methods"):
        if isinstance(a.get(key), list):
            a[key] = [{k: str(v) for k, v in x.items()} if isinstance(x, dict) else x for x in a[key]]
    return name + json.dumps(a, sort_keys=True, default=str)


def expected_writes(task: dict[str, Any]) -> list[str]:
    actions = task.get("evaluation_criteria", {}).get("actions") or []
    return sorted(_norm(a["name"], a.get("arguments") or {}) for a in actions if a["name"] in WRITE_TOOLS)


def _read(folder: Path) -> dict[str, Any]:
    try:
        return {k: json.loads((folder / f"{k}.json").read_text(encoding="utf-8"))
                for k in ("users", "reservations", "flights")}
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{folder}: expected τ-bench airline's users.json, reservations.json and flights.json "
                           f"({exc})") from exc


def _flown(data: dict[str, Any], r: dict[str, Any]) -> bool:
    for f in r["flights"]:
        day = data["flights"].get(f["flight_number"], {}).get("dates", {}).get(f["date"], {})
        if day.get("status") in {"landed", "flying"} or date.fromisoformat(f["date"]) < TAU_NOW.date():
            return True
    return False


def rule_violations(data: dict[str, Any], user_id: str | None, name: str, args: dict[str, Any]) -> list[str]:
    """τ-bench airline's policy.md, checked on the original data, independently of the pack's own checks."""
    problems: list[str] = []
    if name == "book_reservation":
        return [] if user_id is not None and args.get("user_id") == user_id else ["not the identified member"]
    if name == "send_certificate":
        u = data["users"].get(args.get("user_id", ""), {})
        r = data["reservations"].get(args.get("reservation_id", ""), {})
        if u.get("membership") not in {"silver", "gold"} and r.get("insurance") != "yes" and r.get("cabin") != "business":
            problems.append("compensation for a regular member without insurance or business cabin")
        return problems
    r = data["reservations"].get(args.get("reservation_id", ""))
    if r is None:
        return ["unknown reservation"]
    if user_id is None or r["user_id"] != user_id:
        problems.append("the reservation is not the identified member's")
    if name == "cancel_reservation":
        booked = datetime.fromisoformat(r["created_at"])
        cancelled_by_airline = any(data["flights"].get(f["flight_number"], {}).get("dates", {}).get(f["date"], {})
                                   .get("status") == "cancelled" for f in r["flights"])
        if _flown(data, r):
            problems.append("a flight was already flown")
        if not (TAU_NOW - booked <= timedelta(hours=24) or cancelled_by_airline or r["cabin"] == "business"
                or r["insurance"] == "yes"):
            problems.append("cancellation not allowed by policy")
    if name == "update_reservation_flights":
        if r["cabin"] == "basic_economy" and args.get("cabin") == "basic_economy":
            problems.append("basic economy flights cannot be changed")
        if args.get("cabin") != r["cabin"] and _flown(data, r):
            problems.append("cabin change after a flight was flown")
    if name == "update_reservation_baggages" and int(args.get("total_baggages", 0)) < int(r["total_baggages"]):
        problems.append("checked bags cannot be removed")
    if name == "update_reservation_passengers" and len(args.get("passengers", [])) != len(r["passengers"]):
        problems.append("the number of passengers cannot change")
    pid = args.get("payment_id")
    if pid and user_id and pid not in data["users"].get(user_id, {}).get("payment_methods", {}):
        problems.append("payment method is not the member's")
    return problems


def _score(data: dict[str, Any]) -> Callable[[dict[str, Any], ProcessResult, Any], Score]:
    def score(task: dict[str, Any], result: ProcessResult, services: Any) -> Score:
        writes = [p for p in result.proposals if p.action not in {"send_reply"} and not is_read(p.action)]
        want = expected_writes(task)
        proposed = [p for p in writes if p.decision in FIRM]
        refused = [p for p in writes if p.decision == Decision.denied and p.refused_by == "invariant"]
        ours = sorted(_norm(p.action, p.args) for p in proposed)
        asked = [r.intent for r in result.triage.requests]
        if not writes and asked and not result.triage.abstained and not result.escalated \
                and set(asked) <= PACK.informational and all(p.decision in FIRM for p in result.proposals):
            # a question answered from knowledge and the records, with nothing to do: a decision too
            return Score("exact" if not want else "wrong", "answered: no action needed", [], want)
        if result.triage.abstained or result.escalated or not writes:
            why = ("triage abstained" if result.triage.abstained else
                   f"escalated: {result.escalation_reason}" if result.escalated else "no write reached")
            return Score("abstained", why, ours, want)
        if len(proposed) == len(writes):
            violations = sum(bool(rule_violations(data, result.customer_id, p.action, p.args)) for p in proposed)
            return Score("exact" if ours == want else "wrong", "", ours, want, violations)
        if len(refused) == len(writes):
            return Score("exact" if not want else "wrong", "; ".join(p.reason for p in refused), [], want,
                         refused=True)
        return Score("abstained", "; ".join(f"{p.action}: {p.decision.value} ({p.reason})" for p in writes
                                            if p.decision not in FIRM), ours, want)
    return score


def evaluate(db_path: Path, tasks_path: Path, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Runs every task as a ticket through the pipeline and scores the conclusions (see the module's text)."""
    folder = Path(db_path)
    if folder.is_file():
        folder = folder.parent
    data = _read(folder)

    def load(services: Any) -> None:
        with services.db.tx() as s:
            load_tau(s, folder)

    return run_tasks("airline", tasks_path, load, _score(data), now=TAU_NOW, loaded_at=TAU_NOW, progress=progress,
                     unmatchable=frozenset({"transfer_to_human_agents"}))
