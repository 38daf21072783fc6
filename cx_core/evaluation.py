"""Evaluation on outside data with the same components the app uses: ``eval intents`` and ``eval retrieval``."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from .documents import Document
from .embedding import Embedder
from .errors import InvalidInput
from .files import json_lines, read_json
from .knowledge import KnowledgeBase, _tokens, boilerplate
from .labelled import read_labelled_csv
from .triage import IntentModel


# ------------------------------------------------------------------ retrieval
def load_documents(path: Path) -> list[Document]:
    """Documents from JSONL with ``id``, ``title``, ``content`` (τ³ banking_knowledge format)."""
    docs = []
    for n, raw in json_lines(path, "a JSON object with id, title, content"):
        try:
            docs.append(Document(doc_id=str(raw["id"]), title=str(raw.get("title", "")),
                                 text=str(raw.get("content") or raw.get("text") or "")))
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"{path}: line {n}: expected a JSON object with id, title, content") from exc
    if not docs:
        raise InvalidInput(f"{path}: no documents")
    return docs


def load_retrieval_tasks(path: Path) -> list[tuple[str, str, list[str]]]:
    """(task id, query, relevant doc ids): the query is the task's user instructions."""
    raw = read_json(path)
    out = []
    for i, task in enumerate(raw if isinstance(raw, list) else []):
        instr = (task.get("user_scenario") or {}).get("instructions")
        if isinstance(instr, dict):
            instr = " ".join(str(v) for v in instr.values() if v)
        relevant = task.get("required_documents") or []
        if instr and relevant:
            out.append((str(task.get("id", i)), str(instr), [str(d) for d in relevant]))
    if not out:
        raise InvalidInput(f"{path}: no tasks with user instructions and required_documents")
    return out


def recall_ndcg(ranked: list[str], relevant: list[str], k: int) -> tuple[float, float]:
    rel = set(relevant)
    top = ranked[:k]
    recall = len(rel & set(top)) / len(rel)
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(top) if d in rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), k)))
    return recall, dcg / ideal if ideal else 0.0


def _mean_scores(rankings: list[list[str]], tasks: list[tuple[str, str, list[str]]], k: int) -> dict[str, float]:
    pairs = [recall_ndcg(r, t[2], k) for r, t in zip(rankings, tasks, strict=True)]
    return {"recall_at_k": round(float(np.mean([p[0] for p in pairs])), 4),
            "ndcg_at_k": round(float(np.mean([p[1] for p in pairs])), 4)}


def eval_retrieval(documents: Path, tasks_path: Path, k: int, embedder: Embedder) -> dict[str, Any]:
    """Tandem's hybrid retrieval against BM25 alone and dense MiniLM alone, measured in the same run."""
    docs = load_documents(documents)
    tasks = load_retrieval_tasks(tasks_path)
    ids = [d.doc_id for d in docs]
    whole = [f"{d.title}\n{d.text}" for d in docs]

    bm25 = bm25s.BM25()
    bm25.index([_tokens(t) for t in whole], show_progress=False)
    bm25_rank = []
    for _, query, _ in tasks:
        scores = bm25.get_scores(_tokens(query))
        bm25_rank.append([ids[i] for i in np.argsort(-scores)[:k]])

    doc_vecs = embedder.encode(whole)
    query_vecs = embedder.encode([q for _, q, _ in tasks])
    dense_rank = [[ids[i] for i in np.argsort(-(doc_vecs @ qv))[:k]] for qv in query_vecs]

    with tempfile.TemporaryDirectory(prefix="tandem-eval-") as tmp:
        kb = KnowledgeBase(Path(tmp) / "chroma")
        kb.ingest(docs)
        started = time.perf_counter()
        ignore = boilerplate([q for _, q, _ in tasks])
        tandem_rank = [[d for d, _ in kb.retrieve_documents(q, k=k, ignore=ignore)] for _, q, _ in tasks]
    took = (time.perf_counter() - started) / len(tasks)
    return {"tandem": _mean_scores(tandem_rank, tasks, k), "bm25": _mean_scores(bm25_rank, tasks, k),
            "dense": _mean_scores(dense_rank, tasks, k), "k": k, "n": len(tasks),
            "documents": len(docs), "ms_per_query": round(took * 1000, 1)}


# ------------------------------------------------------------------ intents
def eval_intents(train: Path, test: Path, text_col: str, label_col: str, embedder: Embedder) -> dict[str, Any]:
    """Trains the app's intent model on ``train`` and scores it on ``test``."""

    x_train, y_train = read_labelled_csv(train, text_col, label_col)
    x_test, y_test = read_labelled_csv(test, text_col, label_col)
    model = IntentModel.train(x_train, y_train, embedder)
    started = time.perf_counter()
    model.embedder = embedder
    predicted = [model.predict([t])[0].label for t in x_test]
    took = (time.perf_counter() - started) / len(x_test)
    return {"accuracy": round(float(accuracy_score(y_test, predicted)), 4),
            "macro_f1": round(float(f1_score(y_test, predicted, average="macro")), 4),
            "n": len(x_test), "ms_per_ticket": round(took * 1000, 2)}
