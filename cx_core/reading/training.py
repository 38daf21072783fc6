"""Training the schema reader's small models from the Schema-Guided Dialogue *training* services
(``python -m cx_core train-reader --sgd ../shared/data/sgd``). Nothing of the development services is used, so the
eight development services absent from training are read as a new company's schema would be. The artefact is a
few hundred kilobytes (``cx_core/reading/model/reader.joblib``); its data's licence (CC BY-SA 4.0) is noted beside
it. Deterministic for a given seed."""

from __future__ import annotations

import random
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .schema import Argument, Schema
from .schema_reader import _TOKEN, Model, SchemaReader, Turn, example_features, intent_features, pair_features
from .sgd import WRITTEN, SgdTurn, correct, schemas, turns

SEED = 20240607
# the training services fall into folds; each fold's turns are read as a new company's would be: the words its
# values use are counted without it, and its pairs are scored by a model fitted on the other folds
FOLDS = 5
PRECISION = 0.96  # the thresholds aim a little above the 0.95 wanted, to hold on new services


def gold_kind(values: Sequence[str]) -> str:
    """The kind an argument's canonical values show: ISO days, ``HH:MM`` times, digits, or words."""
    counts = Counter("date" if re.fullmatch(r"\d{4}-\d\d-\d\d", v) else "time" if re.fullmatch(r"\d\d:\d\d", v)
                     else "number" if re.fullmatch(r"\d+(?:\.\d+)?", v) else "text" for v in values)
    return counts.most_common(1)[0][0] if counts else "text"


def _kinds(rows: list[SgdTurn], known: dict[str, Schema]) -> dict[tuple[str, str], str]:
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    for t in rows:
        for name, gold in t.informed.items():
            seen[(t.service, name)].extend(gold.get("canonical", [])[:1])
    out = {}
    for service, schema in known.items():
        for a in schema.arguments:
            out[(service, a.name)] = a.kind if a.kind != "text" else gold_kind(seen.get((service, a.name), []))
    return out


def token_prior(rows: list[SgdTurn], least: int = 3) -> dict[str, float]:
    """For each word seen at least ``least`` times, how often it stands inside a value the turn informs (smoothed):
    "trying" and "need" almost never, a city's name often; and, keyed ``<word`` and ``>word``, how often a value
    begins right after it ("to", "from", "starring") and ends right before it ("on", "please"), ``^`` and ``$``
    standing for the start and end of the message."""
    inside: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for t in rows:
        low = t.text.lower()
        spans = [(m.start(), m.end()) for gold in t.informed.values() for v in gold.get("values", [])
                 for m in re.finditer(re.escape(v.lower()), low)]
        toks = list(_TOKEN.finditer(t.text))
        for m in toks:
            w = m.group(0).lower()
            total[w] += 1
            inside[w] += any(s <= m.start() and m.end() <= e for s, e in spans)
        for i, (prev, after) in enumerate(zip(["^", *(m.group(0).lower() for m in toks)],
                                              [*(m.group(0).lower() for m in toks), "$"], strict=True)):
            begins = i < len(toks) and any(s == toks[i].start() for s, _ in spans)
            ends = i > 0 and any(e == toks[i - 1].end() for _, e in spans)
            total["<" + prev] += 1
            inside["<" + prev] += begins
            total[">" + after] += 1
            inside[">" + after] += ends
    return {w: round((inside[w] + 0.5) / (n + 1.0), 4) for w, n in total.items() if n >= least}


def _pairs(rows: list[SgdTurn], known: dict[str, Schema], kinds: dict[tuple[str, str], str],
           encode: Callable[[list[str]], np.ndarray], prior: dict[str, float], reader: SchemaReader
           ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str, int, int, str]]]:
    """The (argument, candidate) pairs of ``rows`` with their features, labels and places; which action each turn
    asks for is read by ``reader``, as at run time, not taken from the annotation."""
    X: list[tuple[float, ...]] = []
    y: list[int] = []
    where: list[tuple[int, str, int, int, str]] = []
    for n, t in enumerate(rows):
        schema = known[t.service]
        args = list(schema.arguments)
        vecs = encode([a.words for a in args])
        ks = [kinds[(t.service, a.name)] for a in args]
        turn = Turn(t.text, WRITTEN, t.system, t.requested)
        belongs = reader.belonging(schema, reader.action_probs(schema, turn))
        for p in pair_features(turn, args, ks, vecs, encode, prior, belongs):
            X.append(p.features)
            gold = t.informed.get(p.arg)
            y.append(int(gold is not None and correct(p.cand.value if p.cand.kind != "text" else p.cand.text, gold)))
            where.append((n, p.arg, p.cand.start, p.cand.end, p.cand.kind))
    return np.asarray(X, dtype=np.float32), np.asarray(y), where


def _slot_model(X: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=250, learning_rate=0.08, max_leaf_nodes=31, l2_regularization=1.0,
                                          random_state=SEED).fit(X, y)


def _assigned(probs: np.ndarray, y: np.ndarray, where: list[tuple[int, str, int, int, str]], kinds: list[str],
              limits: dict[str, float]) -> tuple[int, int]:
    """(bound, right) when the reader assigns as it does at run time (``SchemaReader.arguments``): in each turn the
    pairs by falling probability, an argument its best candidate above its kind's limit, no words given twice."""
    bound = right = 0
    order = np.lexsort((-probs, np.asarray([w[0] for w in where])))
    taken_args: set[tuple[int, str]] = set()
    spans: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for i in order:
        n, arg, start, end, ckind = where[i]
        if probs[i] < limits[kinds[i]] or (n, arg) in taken_args:
            continue
        if ckind != "boolean" and any(start < e and s < end for s, e in spans[n]):
            continue
        taken_args.add((n, arg))
        if ckind != "boolean":
            spans[n].append((start, end))
        bound += 1
        right += int(y[i])
    return bound, right


def _assignment_thresholds(probs: np.ndarray, y: np.ndarray, where: list[tuple[int, str, int, int, str]],
                           kinds: list[str], step: float = 0.02) -> dict[str, float]:
    """Per argument kind, thresholds that bind as many right values as the assignment allows while its precision
    on services the scorer never saw stays at ``PRECISION``: from 0.99 everywhere, the kind whose lowering gains the most
    right values for each wrong one is lowered a step at a time."""
    limits = {k: 0.99 for k in set(kinds)}
    bound, right = _assigned(probs, y, where, kinds, limits)
    while True:
        best: tuple[float, str, int, int] | None = None
        for kind in limits:
            if limits[kind] - step < 0.3:
                continue
            trial = {**limits, kind: round(limits[kind] - step, 2)}
            b, r = _assigned(probs, y, where, kinds, trial)
            if b and r / b < PRECISION:
                continue
            gain = (r - right) / max(1, (b - r) - (bound - right))  # a step that binds nothing more: gain 0
            if best is None or gain > best[0]:
                best = (gain, kind, b, r)
        if best is None:
            break
        _, kind, bound, right = best
        limits[kind] = round(limits[kind] - step, 2)
    return {**limits, "default": 0.9}


def _folds(services: Sequence[str]) -> list[set[str]]:
    """The training services in ``FOLDS`` folds, shuffled with the seed."""
    order = sorted(services)
    random.Random(SEED).shuffle(order)
    return [set(order[i::FOLDS]) for i in range(FOLDS)]


def _argument_model(sample: list[SgdTurn], rows: list[SgdTurn], known: dict[str, Schema],
                    kinds: dict[tuple[str, str], str], encode: Callable[[list[str]], np.ndarray],
                    intents: SchemaReader, say: Callable[[str], None]) -> tuple[Any, dict[str, float], int, int]:
    """The (argument, candidate) scorer and its thresholds. Each fold's pairs are featured with the words of the
    other folds alone, as a new service's are at run time; the thresholds come from every pair scored by a model
    that never saw its service (fitted on the other folds); the scorer shipped is fitted on all the pairs."""
    parts = []
    shift = 0
    for fold in _folds(sorted({t.service for t in rows})):
        turns_in = [t for t in sample if t.service in fold]
        X, y, where = _pairs(turns_in, known, kinds, encode, token_prior([t for t in rows if t.service not in fold]),
                             intents)
        ks = [kinds[(turns_in[n].service, arg)] for n, arg, _, _, _ in where]
        parts.append((X, y, [(n + shift, arg, a, b, k) for n, arg, a, b, k in where], ks))
        shift += len(turns_in)
        say(f"fold of {len(fold)} services: {len(turns_in)} turns, {len(y)} pairs")
    probs = []
    for i, (X, _, _, _) in enumerate(parts):
        others = [p for j, p in enumerate(parts) if j != i]
        probs.append(_slot_model(np.vstack([p[0] for p in others]), np.concatenate([p[1] for p in others]))
                     .predict_proba(X)[:, 1])
    y_all = np.concatenate([p[1] for p in parts])
    thresholds = _assignment_thresholds(np.concatenate(probs), y_all, [w for p in parts for w in p[2]],
                                        [k for p in parts for k in p[3]])
    return (_slot_model(np.vstack([p[0] for p in parts]), y_all), thresholds, int(len(y_all)), int(y_all.sum()))


def _dialogue_fold(turn: SgdTurn) -> int:
    """The fold of a turn's whole dialogue, stable across runs: an example never speaks for its own dialogue."""
    return zlib.crc32(turn.id.split(":")[0].encode()) % FOLDS


def _intent_models(stated: list[SgdTurn], msgs: np.ndarray, p_write: np.ndarray, known: dict[str, Schema],
                   encode: Callable[[list[str]], np.ndarray]) -> tuple[Any, Any]:
    """How the action features combine, without examples (a new service's actions) and with them (a service
    whose actions carry messages they were asked with: each turn's examples are those of the other dialogues'
    folds, as a new message's are at run time)."""
    from sklearn.linear_model import LogisticRegression

    folds = np.asarray([_dialogue_fold(t) for t in stated])
    by_action: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, t in enumerate(stated):
        by_action[(t.service, t.intent)].append(i)
    # each action's examples left when one fold is held out, made once
    held_out = {(key, f): msgs[[j for j in rows if folds[j] != f]] for key, rows in by_action.items()
                for f in range(FOLDS)}
    empty = msgs[:0]
    X: list[np.ndarray] = []
    X_ex: list[np.ndarray] = []
    y: list[int] = []
    for i, (t, msg, pw) in enumerate(zip(stated, msgs, p_write, strict=True)):
        schema = known[t.service]
        if len(schema.actions) < 2:
            continue
        system = encode([t.system])[0] if t.system else None
        acts = encode([a.words for a in schema.actions])
        rows = intent_features(msg, system, acts, [a.writes for a in schema.actions], pw)
        others = [held_out.get(((t.service, a.name), int(folds[i])), empty) for a in schema.actions]
        X.extend(rows)
        X_ex.extend(np.hstack([rows, example_features(msg, others)]))
        y.extend(int(a.name == t.intent) for a in schema.actions)
    return (LogisticRegression(max_iter=3000).fit(np.asarray(X), y),
            LogisticRegression(max_iter=3000).fit(np.asarray(X_ex), y))


def train(folder: Path, encode: Callable[[list[str]], np.ndarray], limit: int = 30000,
          say: Callable[[str], None] = print) -> tuple[Model, dict[str, Any]]:
    """The reader's weights, fitted on the training services, and a report of what was fitted."""
    from sklearn.linear_model import LogisticRegression

    known = schemas(folder, "train")
    rows = list(turns(folder, "train"))
    kinds = _kinds(rows, known)
    rng = random.Random(SEED)

    # doing or finding: a classifier of the message, over the turns that state an intent
    stated = [t for t in rows if t.new_intent]
    say(f"{len(stated)} turns that state an intent")
    msgs = encode([t.text for t in stated])
    writes = [next(a for a in known[t.service].actions if a.name == t.intent).writes for t in stated]
    write_model = LogisticRegression(C=1.0, max_iter=3000).fit(msgs, writes)
    p_write = write_model.predict_proba(msgs)[:, 1]

    # the action: one row per (turn, action) of services with several actions, without examples and with them
    intent_model, example_model = _intent_models(stated, msgs, p_write, known, encode)

    # the kinds of free arguments, from their words
    free = [(service, a) for service, schema in known.items() for a in schema.arguments if a.kind == "text"]
    kind_vectors = encode([a.words for _, a in free])
    kind_labels = [kinds[(service, a.name)] for service, a in free]

    # the arguments: (argument, candidate) pairs of a sample of turns
    sample = rng.sample(rows, min(limit, len(rows)))
    intents = SchemaReader(Model(write_model.coef_[0].astype(np.float32), float(write_model.intercept_[0]),
                                 intent_model.coef_[0].astype(np.float32), float(intent_model.intercept_[0]), None,
                                 np.asarray(kind_vectors, dtype=np.float32), kind_labels, {}), encode)
    slot_model, thresholds, pairs, positives = _argument_model(sample, rows, known, kinds, encode, intents, say)
    model = Model(write_coef=write_model.coef_[0].astype(np.float32), write_bias=float(write_model.intercept_[0]),
                  intent_coef=intent_model.coef_[0].astype(np.float32), intent_bias=float(intent_model.intercept_[0]),
                  slot_model=slot_model, kind_vectors=np.asarray(kind_vectors, dtype=np.float32),
                  kind_labels=kind_labels, thresholds=thresholds, token_prior=token_prior(rows),
                  example_coef=example_model.coef_[0].astype(np.float32),
                  example_bias=float(example_model.intercept_[0]))
    report = {"turns": len(rows), "intent_turns": len(stated), "pairs": pairs, "positives": positives,
              "thresholds": thresholds, "folds": FOLDS, "free_arguments": len(free)}
    return model, report


def kind_table(known: dict[str, Schema]) -> list[Argument]:
    return [a for s in known.values() for a in s.arguments]
