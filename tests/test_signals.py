"""Urgency, sentiment and language on the project's own labelled set (no public labels exist for these)."""

from __future__ import annotations

import json
from pathlib import Path

from cx_core.services import Services
from tests.conftest import NOW

ROWS = [json.loads(line) for line in (Path(__file__).parent / "data" / "signals.jsonl").read_text().splitlines()]


def test_signals_on_the_labelled_set(services: Services) -> None:
    hits = {"urgency": 0, "sentiment": 0, "language": 0}
    misses = []
    for row in ROWS:
        tri = services.triager.triage("", row["text"], today=NOW.date())
        for key in hits:
            if getattr(tri, key) == row[key]:
                hits[key] += 1
            else:
                misses.append((key, row["text"][:50], getattr(tri, key), row[key]))
        if row["urgency"] == "critical":
            assert tri.urgency == "critical", row["text"]  # safety is never missed
        assert tri.urgency_reasons and tri.sentiment_reasons  # every chip explains itself
    n = len(ROWS)
    assert hits["language"] == n, misses
    assert hits["urgency"] / n >= 0.85, misses
    assert hits["sentiment"] / n >= 0.75, misses
