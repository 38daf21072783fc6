"""Triage and retrieval judgment on outside data (../shared/data, train/dev halves only), in one run.

    python benchmarks/judgment.py [--quick]

1. Banking77: train on train.csv, score on dev.csv (the app's IntentModel; raw MiniLM + LR alongside).
2. Bitext: train on train.csv, score on dev.csv, accuracy per language-variation flag.
3. Out of scope: 10 Banking77 intents left out of training; how many of their dev texts abstain at the
   confidence threshold that abstains on at most 5 % of in-scope dev texts.
4. τ³ banking knowledge: recall@10 / nDCG@10 for Tandem, BM25 alone, dense alone.
5. Speed: ms per ticket for the intent model and for raw MiniLM embedding, measured side by side.
Results go to benchmarks/RESULTS.md (the section between the judgment markers).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from benchmarks.results_file import write_section  # noqa: E402
from cx_core.embedding import shared_embedder  # noqa: E402
from cx_core.evaluation import eval_retrieval  # noqa: E402
from cx_core.triage import IntentModel, normalise  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def banking77(emb) -> tuple[list[str], IntentModel, dict[str, float]]:  # type: ignore[no-untyped-def]
    train, dev = rows(DATA / "banking77/train.csv"), rows(DATA / "banking77/dev.csv")
    xt, yt = [r["text"] for r in train], [r["category"] for r in train]
    xd, yd = [r["text"] for r in dev], [r["category"] for r in dev]
    model = IntentModel.train(xt, yt, emb)
    model.embedder = emb
    pred = [p.label for p in model.predict(xd)]
    raw = LogisticRegression(C=30, max_iter=3000).fit(emb.encode([normalise(x) for x in xt]), yt)
    raw_pred = raw.predict(emb.encode([normalise(x) for x in xd]))
    # speed, one ticket at a time, cache cleared, side by side
    sample = xd[:200]
    emb._cache.clear()
    t0 = time.perf_counter()
    for x in sample:
        emb._load().encode([x], normalize_embeddings=True)
    raw_ms = (time.perf_counter() - t0) / len(sample) * 1000
    emb._cache.clear()
    t0 = time.perf_counter()
    for x in sample:
        model.predict([x])
    model_ms = (time.perf_counter() - t0) / len(sample) * 1000
    out = {"accuracy": accuracy_score(yd, pred), "macro_f1": f1_score(yd, pred, average="macro"),
           "raw_accuracy": accuracy_score(yd, raw_pred), "raw_ms": raw_ms, "model_ms": model_ms, "n": len(xd)}
    lines = [
        "### Banking77 (train → dev, 1,003 texts)",
        "",
        "| model | accuracy | macro-F1 |",
        "|---|---|---|",
        f"| MiniLM + logistic regression (baseline) | {out['raw_accuracy']:.2%} | — |",
        f"| Tandem IntentModel (MiniLM view + word/char n-gram view, calibrated) | {out['accuracy']:.2%} | "
        f"{out['macro_f1']:.2%} |",
        "",
        f"Speed, one ticket at a time: raw MiniLM embedding {raw_ms:.1f} ms, Tandem intent model "
        f"{model_ms:.1f} ms per ticket ({model_ms / raw_ms:.2f} × raw embedding).",
    ]
    return lines, model, out


def bitext(emb) -> list[str]:  # type: ignore[no-untyped-def]
    train, dev = rows(DATA / "bitext/train.csv"), rows(DATA / "bitext/dev.csv")
    model = IntentModel.train([r["utterance"] for r in train], [r["intent"] for r in train], emb)
    model.embedder = emb
    pred = [p.label for p in model.predict([r["utterance"] for r in dev])]
    truth = [r["intent"] for r in dev]
    whole = accuracy_score(truth, pred)
    lines = ["### Bitext (train → dev, per language-variation flag)", "",
             f"All {len(dev)} texts: accuracy {whole:.2%}.", "", "| flag | texts | accuracy | vs all |", "|---|---|---|---|"]
    for flag in sorted({f for r in dev for f in r["flags"]}):
        idx = [i for i, r in enumerate(dev) if flag in r["flags"]]
        acc = accuracy_score([truth[i] for i in idx], [pred[i] for i in idx])
        lines.append(f"| {flag} | {len(idx)} | {acc:.2%} | {100 * (acc - whole):+.1f} pt |")
    return lines


def out_of_scope(emb, seed: int = 20240607) -> list[str]:  # type: ignore[no-untyped-def]
    train, dev = rows(DATA / "banking77/train.csv"), rows(DATA / "banking77/dev.csv")
    intents = sorted({r["category"] for r in train})
    held = set(random.Random(seed).sample(intents, 10))
    model = IntentModel.train([r["text"] for r in train if r["category"] not in held],
                              [r["category"] for r in train if r["category"] not in held], emb)
    model.embedder = emb
    preds = model.predict([r["text"] for r in dev])
    oos = np.array([r["category"] in held for r in dev])
    conf = np.array([p.confidence for p in preds])
    sim = np.array([p.similarity for p in preds])
    lines = ["### Out of scope (10 Banking77 intents never trained; dev texts)", "",
             f"Held-out intents: {', '.join(sorted(held))}.", "",
             "| abstain when | threshold | in-scope abstained | out-of-scope abstained |", "|---|---|---|---|"]
    for name, score in (("confidence <", conf), ("nearest-example similarity <", sim),
                        ("confidence × similarity <", conf * sim)):
        t = float(np.quantile(score[~oos], 0.05))
        lines.append(f"| {name} | {t:.3f} | {(score[~oos] < t).mean():.1%} | {(score[oos] < t).mean():.1%} |")
    return lines


def retrieval(emb) -> list[str]:  # type: ignore[no-untyped-def]
    d = DATA / "tau_bench/banking_knowledge"
    r = eval_retrieval(d / "documents.jsonl", d / "tasks_train.json", 10, emb)
    return ["### τ³ banking knowledge (39 train tasks, 698 documents, k = 10)", "",
            "| retriever | recall@10 | nDCG@10 |", "|---|---|---|",
            f"| BM25 alone (whole documents, whole instructions) | {r['bm25']['recall_at_k']:.3f} | "
            f"{r['bm25']['ndcg_at_k']:.3f} |",
            f"| dense MiniLM alone (whole documents, whole instructions) | {r['dense']['recall_at_k']:.3f} | "
            f"{r['dense']['ndcg_at_k']:.3f} |",
            f"| Tandem (heading chunks, per-sentence hybrid search, RRF, related titles) | "
            f"{r['tandem']['recall_at_k']:.3f} | {r['tandem']['ndcg_at_k']:.3f} |",
            "", f"{r['ms_per_query']:.0f} ms per task query (instructions of ~1,500 characters)."]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip", nargs="*", default=[], choices=["banking77", "bitext", "oos", "retrieval"])
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit("../shared/data is not available")
    emb = shared_embedder()
    sections = [f"## Judgment on outside data (measured {time.strftime('%Y-%m-%d')}, "
                "`python benchmarks/judgment.py`)", ""]
    if "banking77" not in args.skip:
        lines, _, _ = banking77(emb)
        sections += lines + [""]
    if "bitext" not in args.skip:
        sections += bitext(emb) + [""]
    if "oos" not in args.skip:
        sections += out_of_scope(emb) + [""]
    if "retrieval" not in args.skip:
        sections += retrieval(emb) + [""]
    text = "\n".join(sections)
    print(text)
    write_section("judgment", text)


if __name__ == "__main__":
    main()
