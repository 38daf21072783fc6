"""The Schema-Guided Dialogue data (``../shared/data/sgd``, CC BY-SA 4.0) as the reader meets it: each user turn
with only its service's schema (a service seen in training with, on each action, the training turns that asked for
it), the system turn before it and the day the conversations were written (Friday 1 March 2019); and the measure
``eval reading`` prints (intent accuracy on the turns that state an intent; argument precision and recall over the values a turn informs, a value counting when it equals, ignoring case, one
of the gold values as written or canonical)."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from ..config import PROJECT_ROOT
from ..errors import InvalidInput
from .schema import Schema, from_sgd
from .schema_reader import Turn
from .shipped import schema_reader

WRITTEN = date(2019, 3, 1)


@dataclass(frozen=True)
class SgdTurn:
    id: str
    service: str
    text: str
    intent: str
    new_intent: bool
    informed: dict[str, dict[str, list[str]]]
    system: str
    requested: tuple[str, ...]


# where the training split lies when the folder read holds only another split (a held-out test split)
SHARED = PROJECT_ROOT.parent / "shared" / "data" / "sgd"


def _file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.exists():
        raise InvalidInput(f"{path}: not found; give --sgd the folder that holds {name} (../shared/data/sgd)")
    return path


def _training(folder: Path, name: str) -> Path | None:
    """A training file (``schema_train.json``, ``train.jsonl.gz``): beside the split read, else in
    ``../shared/data/sgd``; None when neither has it."""
    return next((p for p in (folder / name, SHARED / name) if p.exists()), None)


def schemas(folder: Path, split: str) -> dict[str, Schema]:
    with _file(folder, f"schema_{split}.json").open(encoding="utf-8") as f:
        return {s["service_name"]: from_sgd(s) for s in json.load(f)}


def seen_services(folder: Path) -> set[str]:
    """The services of the training split; none known (every service unseen) when its schema is nowhere."""
    path = _training(folder, "schema_train.json")
    if path is None:
        return set()
    with path.open(encoding="utf-8") as f:
        return {s["service_name"] for s in json.load(f)}


def with_examples(folder: Path, known: dict[str, Schema], seen: set[str]) -> dict[str, Schema]:
    """The services seen in training with, on each action, the training turns that asked for it: what the reader
    was fitted on, as a team's own past messages would be. Without the training turns, the schemas as they are."""
    path = _training(folder, "train.jsonl.gz")
    if path is None:
        return known
    asked: dict[tuple[str, str], list[str]] = {}
    for t in turns(path.parent, "train"):
        if t.new_intent and t.service in seen and t.service in known:
            asked.setdefault((t.service, t.intent), []).append(t.text)
    out = dict(known)
    for name in seen & set(known):
        schema = known[name]
        actions = tuple(replace(a, examples=tuple(asked.get((name, a.name), ()))) for a in schema.actions)
        out[name] = replace(schema, actions=actions)
    return out


def turns(folder: Path, split: str) -> Iterator[SgdTurn]:
    with gzip.open(_file(folder, f"{split}.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            system = r.get("system_before") or {}
            yield SgdTurn(r["id"], r["service"], r["utterance"], r["intent"], bool(r["new_intent"]),
                          r.get("informed") or {}, system.get("utterance") or "", tuple(system.get("requested") or ()))


def correct(value: str, gold: dict[str, list[str]]) -> bool:
    """A value counts when it equals, ignoring case, one of the gold values as written or canonical."""
    v = value.strip().lower()
    return any(v == g.strip().lower() for g in [*gold.get("values", []), *gold.get("canonical", [])])


class Tally:
    """Counts for one group of turns (all, seen, unseen, a service)."""

    def __init__(self) -> None:
        self.turns = self.intent_turns = self.intent_right = self.bound = self.right = self.gold = 0

    def add(self, turn: SgdTurn, action: str, values: dict[str, str]) -> None:
        self.turns += 1
        if turn.new_intent:
            self.intent_turns += 1
            self.intent_right += action == turn.intent
        self.gold += len(turn.informed)
        for name, value in values.items():
            self.bound += 1
            self.right += name in turn.informed and correct(value, turn.informed[name])

    def result(self) -> dict[str, Any]:
        return {"n_turns": self.turns, "n_intent_turns": self.intent_turns,
                "intent_accuracy": round(self.intent_right / self.intent_turns, 4) if self.intent_turns else None,
                "slot_precision": round(self.right / self.bound, 4) if self.bound else None,
                "slot_recall": round(self.right / self.gold, 4) if self.gold else None,
                "wrong_bound": self.bound - self.right, "n_bound": self.bound, "n_gold": self.gold}


def evaluate(folder: Path, split: str = "dev", limit: int | None = None, services: set[str] | None = None,
             reader: Any = None, progress: Any = None) -> dict[str, Any]:
    """Reads every user turn of ``split`` (or the first ``limit``, or only ``services``) and scores it."""
    reader = reader or schema_reader()
    known = schemas(folder, split)
    if services:
        unknown = services - set(known)
        if unknown:
            raise InvalidInput(f"--services: {', '.join(sorted(unknown))} not in the {split} split; it has "
                               f"{', '.join(sorted(known))}")
    seen = seen_services(folder)
    rows = [t for t in turns(folder, split) if not services or t.service in services]
    rows = rows[:limit] if limit else rows
    present = {t.service for t in rows}
    known = {k: v for k, v in known.items() if k in present}
    if split != "train":  # a turn is never its own example
        known = with_examples(folder, known, seen)
    groups: dict[str, Tally] = {"all": Tally(), "seen": Tally(), "unseen": Tally()}
    by_service: dict[str, Tally] = {}
    started = time.perf_counter()
    for n, t in enumerate(rows):
        schema = known[t.service]
        read = reader.read(schema, Turn(t.text, WRITTEN, t.system, t.requested))
        values = {k: c.value for k, c in read.arguments.items()}
        for tally in (groups["all"], groups["seen" if t.service in seen else "unseen"],
                      by_service.setdefault(t.service, Tally())):
            tally.add(t, read.action, values)
        if progress is not None:
            progress(n + 1, len(rows))
    seconds = time.perf_counter() - started
    out = groups["all"].result()
    out.update(seen=groups["seen"].result(), unseen=groups["unseen"].result(),
               by_service={k: v.result() for k, v in sorted(by_service.items())},
               ms_per_turn=round(1000 * seconds / max(1, len(rows)), 2), split=split,
               unseen_services=sorted(s for s in by_service if s not in seen))
    return out
