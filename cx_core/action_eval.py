"""``eval actions``: a domain's τ-bench tasks as tickets through the same pipeline the app runs, at copilot level,
in a throw-away store where every write is only previewed. The pack loads its τ-bench data and scores each
ticket's proposals against the task's expected writes; this module runs the tickets and adds up the scores.

Two views of the same run:

- per ticket (the keys of ARCHITECTURE.md): a ticket is *proposed* when the agent reached a firm conclusion on it
  (nothing left to a person), and *exact* when its proposed writes equal the expected ones;
  ``precision = exact / proposed`` and ``coverage = proposed / n``.
- per request (``request_recall``, ``request_precision``): a *request* is one expected write call of a task
  (τ-bench calls a write once per order or per record, so each call is one thing the customer asked for; two
  calls of the same action on the same record with the same arguments count twice). A transfer to a person is
  not counted: its only argument is a free-text summary that no proposal can equal, and the agent's counterpart,
  an escalation, is scored per ticket. A proposed write is every write the agent put before the advisor ready to
  approve (needs approval or executed), on every ticket, decided or not. A request is *read* when a proposed
  write equals it exactly (same action, same arguments); ``request_recall = read / requests`` and
  ``request_precision = proposed writes equal to an expected one / proposed writes``; the counts are
  ``requests``, ``requests_proposed`` and ``requests_read``.

Every run also reports its two halves (``halves``): the tasks shuffled with a fixed seed (``SPLIT_SEED``) and
cut in two, a *tune* half that rules may be changed from and a *check* half that is only ever measured, so that a
rule written for one task's wording shows as a gap between the halves."""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import desk
from .config import load_settings
from .errors import InvalidInput
from .files import json_lines, read_json
from .models import Channel, ProcessResult, TicketIn
from .services import Services


def read_tasks(path: Path) -> list[dict[str, Any]]:
    """τ-bench tasks: tau2's JSON list, or v1's JSON lines (``instruction`` and ``actions`` with ``kwargs``),
    which become the same form."""
    if path.suffix != ".jsonl":
        raw = read_json(path)
        if not isinstance(raw, list):
            raise InvalidInput(f"{path}: expected a list of tasks (τ-bench tau2 format)")
        return raw
    tasks = []
    for n, v1 in json_lines(path, "a τ-bench v1 task"):
        try:
            tasks.append({"id": str(v1.get("task_index", n)),
                          "user_scenario": {"instructions": {"reason_for_call": v1["instruction"], "known_info": ""}},
                          "evaluation_criteria": {"actions": [{"name": a["name"], "arguments": a.get("kwargs", {})}
                                                              for a in v1.get("actions", [])]}})
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"{path}: line {n} is not a τ-bench v1 task (missing {exc})") from exc
    return tasks


SPLIT_SEED = 20261124


def halves(ids: list[str], seed: int = SPLIT_SEED) -> dict[str, str]:
    """Each task id's half, ``tune`` or ``check``: the ids in file order shuffled by ``random.Random(seed)``, the first
    half (rounded up) to tune on."""
    order = list(dict.fromkeys(ids))
    random.Random(seed).shuffle(order)
    cut = (len(order) + 1) // 2
    return {tid: ("tune" if i < cut else "check") for i, tid in enumerate(order)}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    exact = sum(1 for r in rows if r["status"] == "exact")
    proposed = exact + sum(1 for r in rows if r["status"] == "wrong")
    return {"n": n, "proposed": proposed, "exact": exact, "precision": round(exact / proposed, 4) if proposed else 0.0,
            "coverage": round(proposed / n, 4) if n else 0.0, "ids": [r["id"] for r in rows]}


def ticket_of(task: dict[str, Any], created_at: datetime) -> TicketIn:
    """The ticket a task's customer would write: its ``reason_for_call`` and ``known_info``, no customer given."""
    ins = task.get("user_scenario", {}).get("instructions", {})
    if not isinstance(ins, dict) or not ins.get("reason_for_call"):
        raise InvalidInput(f"task {task.get('id')}: no user_scenario.instructions.reason_for_call")
    body = f"{ins['reason_for_call'].strip()}\n\n{(ins.get('known_info') or '').strip()}"
    return TicketIn(id=f"tau-{task['id']}", channel=Channel.email, subject="", body=body, created_at=created_at)


@dataclass
class Score:
    """One task: ``status`` is exact, wrong or abstained (no firm conclusion: a person decides); ``refused`` when
    the firm conclusion was a refusal under the domain's rules."""

    status: str
    why: str = ""
    proposed: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    violations: int = 0
    refused: bool = False


def request_counts(proposed: list[str], expected: list[str], unmatchable: frozenset[str] = frozenset()
                   ) -> tuple[int, int, int]:
    """(requests, proposed writes, requests read) of one task: each expected write call is a request unless its
    action is ``unmatchable``; a proposed write reads at most one request equal to it (a multiset match)."""
    wanted = Counter(w for w in expected if w[: w.find("{")] not in unmatchable)
    ours = Counter(proposed)
    return sum(wanted.values()), sum(ours.values()), sum((wanted & ours).values())


Scorer = Callable[[dict[str, Any], ProcessResult, Any], Score]


def evaluate(domain: str, tasks_path: Path, load_world: Callable[[Any], Any], score: Scorer, now: datetime,
             loaded_at: datetime, progress: Callable[[int, int], None] | None = None,
             unmatchable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Runs every task as a ticket in ``domain`` and adds up the scores: the JSON keys of ARCHITECTURE.md, plus
    ``refused`` and the per-request view (module text); ``unmatchable`` names expected write actions that are not
    counted as requests."""

    tasks = read_tasks(tasks_path)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tandem-tau-") as tmp:
        base = load_settings(domain=domain)
        settings = load_settings(domain=domain, data_dir=Path(tmp), database_url=f"sqlite:///{Path(tmp) / 'tau.db'}",
                                 knowledge_dir=base.knowledge_dir, policy_file=base.active_policy_file)
        services = Services(settings)
        try:
            services.db.migrate()
            services.pipeline.rehearsal = True  # nothing acts, here or outside
            load_world(services)
            if services.kb.count() == 0:
                services.kb.ingest_paths([settings.articles_dir])
            per_task: list[dict[str, Any]] = []
            count: Counter[str] = Counter()
            violations = refused = 0
            requests = [0, 0, 0]  # expected, proposed, read
            for i, task in enumerate(tasks):
                ticket = ticket_of(task, loaded_at)
                desk.add_tickets(services.db, [ticket], source="eval")
                result = services.pipeline.process(ticket, now=now, autonomy=2)
                sc = score(task, result, services)
                count[sc.status] += 1
                violations += sc.violations
                refused += sc.refused and sc.status != "abstained"
                counts = request_counts(sc.proposed, sc.expected, unmatchable)
                requests = [a + b for a, b in zip(requests, counts, strict=True)]
                per_task.append({"id": task.get("id"), "status": sc.status, "why": sc.why, "proposed": sc.proposed,
                                 "expected": sc.expected, "requests_read": counts[2],
                                 **({"refused": True} if sc.refused else {})})
                if progress:
                    progress(i + 1, len(tasks))
        finally:
            services.close()
    n = len(tasks)
    proposed = count["exact"] + count["wrong"]
    exact = count["exact"]
    half_of = halves([str(t["id"]) for t in per_task])
    for t in per_task:
        t["half"] = half_of[str(t["id"])]
    split = {h: _summary([t for t in per_task if t["half"] == h]) for h in ("tune", "check")}
    return {"n": n, "proposed": proposed, "exact": exact,
            "precision": round(exact / proposed, 4) if proposed else 0.0,
            "coverage": round(proposed / n, 4) if n else 0.0,
            "db_match": round(exact / proposed, 4) if proposed else 0.0,  # equal write sets leave equal databases
            "policy_violations": violations, "refused": refused,
            "request_recall": round(requests[2] / requests[0], 4) if requests[0] else 0.0,
            "request_precision": round(requests[2] / requests[1], 4) if requests[1] else 0.0,
            "requests": requests[0], "requests_proposed": requests[1], "requests_read": requests[2],
            "halves": {h: {k: v for k, v in part.items() if k != "ids"} for h, part in split.items()},
            "split_seed": SPLIT_SEED, "seconds": round(time.perf_counter() - started, 1), "tasks": per_task}
