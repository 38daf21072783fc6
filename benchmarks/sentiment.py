"""How the tone reading (``Triager.sentiment``) reads outside data: Bitext's customer-service utterances (dev half
of ../shared/data/bitext, never the test half).

    python benchmarks/sentiment.py [--no-write]

A complaint ("I'm not happy with the service, I want to file a complaint") must read negative; a neutral request
("where is my order?", "I need my invoice") must not. Prints the share read negative for the complaint intent and
for each neutral intent (target: complaint ≥ 90 %, each neutral intent ≤ 10 %), the same by Bitext's register flag
(W = offensive wording, Q = colloquial, P = polite), and the accuracy on the project's own labelled set
(tests/data/signals.jsonl). Results go to benchmarks/RESULTS.md (the section between the sentiment markers).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.results_file import write_section  # noqa: E402
from cx_core.triage import Triager  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "bitext" / "dev.csv"
NEGATIVE_INTENTS = ("complaint",)
NEUTRAL_INTENTS = ("track_order", "get_invoice")
TARGETS = {"complaint": (">=", 0.90), "track_order": ("<=", 0.10), "get_invoice": ("<=", 0.10)}


def tone_reader() -> Triager:
    """The triager's tone reading alone (it needs neither the task-type model nor the embedder)."""
    return Triager(model=None, embedder=None)  # type: ignore[arg-type]


def negative_rates(rows: list[dict[str, str]], intents: tuple[str, ...], reader: Triager) -> dict[str, dict[str, float]]:
    """For each intent: how many utterances and the share read negative."""
    out: dict[str, dict[str, float]] = {}
    for intent in intents:
        texts = [r["utterance"] for r in rows if r["intent"] == intent]
        negative = sum(reader.sentiment(t)[0] == "negative" for t in texts)
        out[intent] = {"n": len(texts), "negative": negative / len(texts) if texts else 0.0}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md as it is")
    args = ap.parse_args()
    if not DEV.exists():
        print(f"{DEV}: not found (the shared evaluation data sits beside the project)", file=sys.stderr)
        return 1
    with DEV.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    reader = tone_reader()
    started = time.perf_counter()
    rates = negative_rates(rows, NEGATIVE_INTENTS + NEUTRAL_INTENTS, reader)
    ms = (time.perf_counter() - started) * 1000 / sum(int(v["n"]) for v in rates.values())
    by_flag: dict[str, Counter[str]] = {}
    for r in rows:
        if r["intent"] in rates:
            for flag in "WQP":
                if flag in r["flags"]:
                    c = by_flag.setdefault(f"{r['intent']}:{flag}", Counter())
                    c["n"] += 1
                    c["negative"] += reader.sentiment(r["utterance"])[0] == "negative"
    plain = {i: [r for r in rows if r["intent"] == i and "W" not in r["flags"]] for i in NEUTRAL_INTENTS}
    plain_neg = {i: sum(reader.sentiment(r["utterance"])[0] == "negative" for r in v) for i, v in plain.items()}
    labelled = [json.loads(line) for line in (ROOT / "tests" / "data" / "signals.jsonl").read_text().splitlines()]
    own = sum(reader.sentiment(r["text"])[0] == r["sentiment"] for r in labelled) / len(labelled)

    lines = ["| intent | utterances | read negative | target | met |", "|---|---|---|---|---|"]
    for intent, v in rates.items():
        op, bar = TARGETS[intent]
        met = v["negative"] >= bar if op == ">=" else v["negative"] <= bar
        lines.append(f"| `{intent}` | {int(v['n'])} | {v['negative']:.1%} | {op} {bar:.0%} | {'yes' if met else 'no'} |")
    flags = ", ".join(f"{k} {c['negative'] / c['n']:.0%} of {c['n']}" for k, c in sorted(by_flag.items()))
    text = "\n".join([
        f"## Tone on Bitext (measured {time.strftime('%Y-%m-%d')}, `python benchmarks/sentiment.py`)",
        "",
        "Share of Bitext dev utterances (`../shared/data/bitext/dev.csv`) that `Triager.sentiment` reads "
        "negative: every complaint should, a neutral request should not.",
        "",
        *lines,
        "",
        f"By register flag (W offensive, Q colloquial, P polite; an utterance can carry several): {flags}. "
        "Without the W flag (\"my fucking order\", which the angry-words signal reads as anger on purpose), "
        + ", ".join(f"{plain_neg[i]} of {len(plain[i])} `{i}`" for i in NEUTRAL_INTENTS) + " read negative.",
        f"Project's own labelled set (`tests/data/signals.jsonl`, {len(labelled)} texts): {own:.0%} of tones right. "
        f"{ms:.2f} ms per text.",
    ])
    print(text)
    if not args.no_write:
        write_section("sentiment", text)
    return 0 if all((v["negative"] >= TARGETS[i][1]) if TARGETS[i][0] == ">=" else (v["negative"] <= TARGETS[i][1])
                    for i, v in rates.items()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
