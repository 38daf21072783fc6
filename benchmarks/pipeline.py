"""Time per ticket through the whole pipeline, side by side with raw MiniLM embedding, in one run.

    python benchmarks/pipeline.py [--tickets 200]

Builds a private demo world in a temporary folder, then measures on simulated tickets:
raw embedding of the ticket text alone (batch of 1, cache cleared), triage alone, and the full
pipeline (triage, retrieval, planning, policy through execute, drafting). Writes benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.results_file import write_section  # noqa: E402
from cx_core import desk  # noqa: E402
from cx_core.config import load_settings  # noqa: E402
from cx_core.services import Services  # noqa: E402
from cx_core.setup import build_demo  # noqa: E402
from domains.lumen.demo.simulator import Simulator  # noqa: E402


def ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.mean(samples) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        svc = Services(load_settings(data_dir=Path(tmp), database_url=""))
        build_demo(svc, tickets_n=0, process=False, quiet=True)
        now = datetime.now()
        batch = Simulator(svc.db, seed=5).tickets(args.tickets, now)
        desk.add_tickets(svc.db, batch, source="bench")
        svc.pipeline.process(batch[0], now=now)  # warm-up: models loaded, indexes built
        raw, tri, full = [], [], []
        for t in batch:
            svc.embedder._cache.clear()
            start = time.perf_counter()
            svc.embedder._load().encode([t.subject + "\n" + t.body], normalize_embeddings=True)
            raw.append(time.perf_counter() - start)
            svc.embedder._cache.clear()
            start = time.perf_counter()
            svc.triager.triage(t.subject, t.body, today=now.date())
            tri.append(time.perf_counter() - start)
            svc.embedder._cache.clear()
            start = time.perf_counter()
            svc.pipeline.process(t, now=now)
            full.append(time.perf_counter() - start)
        (raw_mean, raw_p95), (tri_mean, tri_p95), (full_mean, full_p95) = ms(raw), ms(tri), ms(full)
        lines = [
            "## Pipeline speed",
            "",
            f"Pipeline timing, {len(batch)} simulated demo tickets, CPU only, measured {now:%Y-%m-%d} "
            "with `python benchmarks/pipeline.py`. Embedding cache cleared before every measurement.",
            "",
            "| stage | mean ms / ticket | p95 ms | × raw embedding |",
            "|---|---|---|---|",
            f"| raw MiniLM embedding of the ticket (1 text) | {raw_mean:.1f} | {raw_p95:.1f} | 1.0 |",
            f"| triage (sentences + whole text, classifier, signals) | {tri_mean:.1f} | {tri_p95:.1f} | "
            f"{tri_mean / raw_mean:.1f} |",
            f"| full pipeline (triage, retrieval, planning, policy, drafting) | {full_mean:.1f} | {full_p95:.1f} | "
            f"{full_mean / raw_mean:.1f} |",
            "",
            f"Throughput of the full pipeline on one worker: {1000 / full_mean:.1f} tickets/s.",
        ]
        write_section("pipeline", "\n".join(lines))
        print("\n".join(lines))
        svc.close()


if __name__ == "__main__":
    main()
