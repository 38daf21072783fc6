"""What a configured model costs, stage by stage, and the day's budget that stops model calls, never the desk.

``Metered`` wraps a language engine: before a call it checks the tokens the day has used against
``TANDEM_LLM_DAILY_TOKENS`` and, past it, answers with the offline result and says why; after a call it adds the
tokens the server counted, the time it took and whether it fell back to the day's row for its stage. Insights
shows the rows (``usage``)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .llm import Engine, OfflineEngine, Polished
from .models import Draft, Passage
from .store.db import Database, utcnow
from .store.tables import ModelUsageRow

WORDING = "wording"


def _day(now: datetime | None = None) -> str:
    return (now or utcnow()).strftime("%Y-%m-%d")


def tokens_today(db: Database, now: datetime | None = None) -> int:
    with db.session() as s:
        return int(sum(r.tokens for r in s.scalars(select(ModelUsageRow).where(ModelUsageRow.day == _day(now)))))


def record(db: Database, stage: str, tokens: int = 0, latency_ms: int = 0, fallback: bool = False,
           skipped: bool = False, now: datetime | None = None) -> None:
    """Adds one call (or one call not made) to the day's row of ``stage``; several workers add safely."""
    day = _day(now)
    add: dict[str, Any] = {"calls": ModelUsageRow.calls + (0 if skipped else 1),
                           "tokens": ModelUsageRow.tokens + tokens, "latency_ms": ModelUsageRow.latency_ms + latency_ms,
                           "fallbacks": ModelUsageRow.fallbacks + int(fallback),
                           "skipped": ModelUsageRow.skipped + int(skipped)}
    where = (ModelUsageRow.day == day) & (ModelUsageRow.stage == stage)
    for _ in range(2):
        with db.tx() as s:
            if s.execute(update(ModelUsageRow).where(where).values(**add)).rowcount:  # type: ignore[attr-defined]
                return
        try:
            with db.tx() as s:
                s.add(ModelUsageRow(day=day, stage=stage, calls=0 if skipped else 1, tokens=tokens,
                                    latency_ms=latency_ms, fallbacks=int(fallback), skipped=int(skipped)))
            return
        except IntegrityError:  # another worker made the row meanwhile: add to it
            continue


def usage(db: Database, days: int = 14, now: datetime | None = None) -> list[dict[str, Any]]:
    """The last ``days`` days' rows, newest first: calls, tokens, mean latency, fallbacks and calls not made."""
    since = _day((now or utcnow()) - timedelta(days=days - 1))
    with db.session() as s:
        rows = s.scalars(select(ModelUsageRow).where(ModelUsageRow.day >= since)
                         .order_by(ModelUsageRow.day.desc(), ModelUsageRow.stage))
        return [{"day": r.day, "stage": r.stage, "calls": r.calls, "tokens": r.tokens,
                 "mean_latency_ms": round(r.latency_ms / r.calls) if r.calls else 0, "fallbacks": r.fallbacks,
                 "not_called": r.skipped} for r in rows]


class Metered:
    """A language engine held to a daily token budget, every call recorded by stage."""

    def __init__(self, inner: Engine, db: Database, daily_tokens: int = 0) -> None:
        self.inner = inner
        self.db = db
        self.daily_tokens = daily_tokens
        self.name = inner.name

    def polish(self, draft: Draft, passages: list[Passage], language: str,
               names: list[str] | None = None) -> Polished:
        if self.daily_tokens and tokens_today(self.db) >= self.daily_tokens:
            record(self.db, WORDING, skipped=True)
            return Polished(draft, OfflineEngine.name, f"the day's model budget of {self.daily_tokens:,} tokens is "
                                                       "spent; the offline wording stands until midnight (UTC)")
        started = time.perf_counter()
        out = self.inner.polish(draft, passages, language, names)
        record(self.db, WORDING, tokens=out.tokens, latency_ms=round((time.perf_counter() - started) * 1000),
               fallback=bool(out.fallback_reason))
        return out
