"""Reading a request against a schema the engine has never seen: which action it asks for, and which argument
values it states, with nothing invented.

The shipped MiniLM places the message, the action and argument descriptions and the words around each candidate
value in one space; small models trained on the Schema-Guided Dialogue training services (``training.py``, not on
any company's words) weigh those similarities with what English says about each candidate:

- **actions**: similarity of the message (and of the question it answers) to each action's words, and whether the
  message asks to *do* something (book, buy, reserve) or to *find* something, read by a classifier of the message;
  where every action has examples (messages it was asked with), the message's similarity to the nearest of them;
- **arguments**: candidates are read first by kind — days and times relative to when the message was written,
  numbers and number words, amounts, the values of a choice (with the pack's synonyms), yes-or-no statements, and
  spans of words for free text — then each (argument, candidate) pair is scored from the similarity of the
  argument's words to the candidate and to the words before it, whether the question before asked for that
  argument, the candidate's shape, and its order among candidates of the same kind. An argument takes its best
  candidate only above a threshold set for precision: a value the reader is unsure of is left out, never guessed.

A free argument's kind (a day, a time, a number, words) is read from its description, by its nearest neighbours
among the training services' arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from . import language, numbers, phrases, when
from .schema import Action, Argument, Schema, split_name

STOP = frozenset("""a an the i me my we our you your it its is are was were be been am do does did to of in on at for
from with by and or but if then so as that this these those there here what which who whom when where why how can could
would will should may might must shall please thanks thank hi hello hey yes no not ok okay sure also just too very really
some any all one want like need get find look looking book make go going have has had let know think see say tell give
help about around after before into out up down over under again more most other such only own same than that's i'm
i'd i'll it's don't can't won't what's there's let's yeah yep nope great good fine perfect cool alright nice""".split())
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’&.-]*[A-Za-z0-9]|[A-Za-z0-9]")
MAX_SPAN = 6
KIND_CODES = {"date": 0, "time": 1, "number": 2, "money": 3, "text": 4, "enum": 5, "boolean": 6}


@dataclass(frozen=True)
class Candidate:
    """A value the message may give: its kind, its value (ISO date, ``HH:MM``, digits, a choice's value, words),
    and where it stands."""

    kind: str
    value: str
    start: int
    end: int
    text: str
    shape: tuple[float, ...] = ()


@dataclass
class Turn:
    """One message to read: its text, the question it answers (and the arguments that question asked for), and
    the day it was written."""

    text: str
    today: date
    system: str = ""
    requested: tuple[str, ...] = ()
    _cands: list[Candidate] | None = field(default=None, repr=False)

    def candidates(self) -> list[Candidate]:
        if self._cands is None:
            self._cands = candidates(self.text, self.today)
        return self._cands


# ------------------------------------------------------------------ candidates, by kind
def _spans(text: str) -> list[Candidate]:
    """Runs of up to six words that could be a free value: not starting or ending with a function word, within
    one clause; a capitalised run is marked (a name, a city)."""
    out = []
    toks = list(_TOKEN.finditer(text))
    for i in range(len(toks)):
        for j in range(i, min(i + MAX_SPAN, len(toks))):
            first, last = toks[i].group(0).lower(), toks[j].group(0).lower()
            if first in STOP or last in STOP:
                continue
            between = text[toks[i].start():toks[j].end()]
            if re.search(r"[.!?;:()\"]", between.replace(".", "", between.count(".") if re.search(r"\w\.\w|Dr\.|St\.",
                                                                                                   between) else 0)):
                continue
            if "," in between and not re.fullmatch(r"[^,]+, [A-Z]{2}|[^,]+, [A-Z][a-z]+", between):
                continue
            words = [t.group(0) for t in toks[i:j + 1]]
            caps = sum(w[:1].isupper() for w in words) / len(words)
            digits = sum(any(c.isdigit() for c in w) for w in words) / len(words)
            stop = sum(w.lower() in STOP for w in words) / len(words)
            start = toks[i].start()
            sentence_start = start == 0 or bool(re.search(r"[.!?]\s*$", text[:start]))
            # maximal: no word of the same run (a content word, no punctuation between) just before or after
            before = i > 0 and toks[i - 1].group(0).lower() not in STOP and not re.search(
                r"[.,;:!?()\"]", text[toks[i - 1].end():toks[i].start()])
            after = j + 1 < len(toks) and toks[j + 1].group(0).lower() not in STOP and not re.search(
                r"[.,;:!?()\"]", text[toks[j].end():toks[j + 1].start()])
            out.append(Candidate("text", between, start, toks[j].end(), between,
                                 (caps, digits, stop, float(len(words)), float(sentence_start),
                                  float(not before), float(not after))))
    return out


def candidates(text: str, today: date) -> list[Candidate]:
    """Every typed candidate of ``text``: days, clock times, numbers (digits and words), amounts and word spans
    (none across a day or a time)."""
    out = [Candidate("date", w.value, w.start, w.end, w.text) for w in when.dates(text, today, day_first=False)]
    out += [Candidate("time", w.value, w.start, w.end, w.text) for w in when.times(text) if w.kind == "time"]
    for n in numbers.find(text):
        if n.ordinal and any(c.kind == "date" and c.start <= n.start < c.end for c in out):
            continue
        if any(c.kind == "time" and c.start <= n.start < c.end for c in out):
            continue
        value = str(n.whole) if n.whole is not None else str(n.value)
        out.append(Candidate("number", value, n.start, n.end, n.text))
    for m in re.finditer(r"[$£€]\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s?(?:dollars|bucks|pounds|euros)\b", text):
        out.append(Candidate("money", re.sub(r"[^\d.]", "", m.group(0)).rstrip("."), m.start(), m.end(), m.group(0)))
    timed = [(c.start, c.end) for c in out if c.kind in ("date", "time")]
    return out + [c for c in _spans(text) if not any(c.start < e and s < c.end for s, e in timed)]


def choice_candidates(arg: Argument, text: str) -> list[Candidate]:
    """The values of a choice that ``text`` names: the value itself or one of its phrases, as whole words (a number
    choice also by its word: "two" for 2)."""
    out = []
    for value in arg.values:
        said = {value, *arg.synonyms.get(value, ())}
        if arg.kind == "number" and value.isdigit():
            said |= {w for w, n in numbers.UNITS.items() if str(n) == value}
        for p in said:
            for start, end in phrases.find(p, text):
                out.append(Candidate("enum", value, start, end, text[start:end]))
    return out


# ------------------------------------------------------------------ the model
@dataclass
class Model:
    """The trained weights: what asks to *do* rather than find (over message vectors), how the action features
    combine, how an (argument, candidate) pair's features combine, the training arguments' vectors and kinds (to
    read a free argument's kind), and the thresholds set for precision."""

    write_coef: np.ndarray
    write_bias: float
    intent_coef: np.ndarray
    intent_bias: float
    slot_model: Any  # a fitted classifier with predict_proba
    kind_vectors: np.ndarray
    kind_labels: list[str]
    thresholds: dict[str, float]
    token_prior: dict[str, float] = field(default_factory=dict)
    version: int = 4
    example_coef: np.ndarray | None = None  # the action features with the examples' (``example_features``)
    example_bias: float = 0.0

    def writes(self, vec: np.ndarray) -> float:
        return float(1 / (1 + np.exp(-(vec @ self.write_coef + self.write_bias))))


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(a @ b.T)


def intent_features(msg: np.ndarray, system: np.ndarray | None, actions: np.ndarray, writes: Sequence[bool],
                    p_write: float) -> np.ndarray:
    """One row per action: its similarity to the message, its margin over the others, its similarity to the
    question before, and whether its doing-or-finding agrees with the message's."""
    c1 = actions @ msg
    c2 = actions @ system if system is not None else np.zeros(len(actions))
    rows = []
    for i in range(len(actions)):
        others = np.delete(c1, i)
        others2 = np.delete(c2, i)
        rows.append([c1[i], c1[i] - (others.max() if len(others) else 0.0), c2[i],
                     (1.0 if writes[i] else -1.0) * (p_write - 0.5),
                     c2[i] - (others2.max() if len(others2) and system is not None else 0.0)])
    return np.asarray(rows)


EXAMPLES_NEAR = 3  # an action's examples speak through the three nearest the message


def example_features(msg: np.ndarray, examples: Sequence[np.ndarray]) -> np.ndarray:
    """One row per action that has examples (messages it was asked with): the message's mean similarity to the
    nearest of them, and its margin over the other actions'."""
    near = np.asarray([float(np.sort(e @ msg)[-EXAMPLES_NEAR:].mean()) if len(e) else 0.0 for e in examples])
    return np.asarray([[near[i], near[i] - (np.delete(near, i).max() if len(near) > 1 else 0.0)]
                       for i in range(len(near))])


# a free argument whose name says it counts something ("number_of_days", "stay_length", "num_passengers")
_COUNTS = re.compile(r"(?:^|_)(?:number|num|count|length|total|quantity|qty)(?:_|$)|_(?:count|number)$")

CLOSE = 0.5  # a runner-up at least half as likely as the best reading is close to it (set on the training services)
SAME_WORDS = 0.9  # similarity above which two arguments' words say the same thing


def arg_kind(arg: Argument, vec: np.ndarray, model: Model) -> str:
    """An argument's kind: a choice's own; a count when its name says so; that of a training argument worded the
    same; else read from its words by its nearest training arguments."""
    if arg.kind != "text":
        return arg.kind
    if _COUNTS.search(arg.name) and not re.search(r"(?:^|_)(?:phone|account|id|street|card)(?:_|$)", arg.name):
        return "number"
    sims = model.kind_vectors @ vec
    top = np.argsort(-sims)[:5]
    if sims[top[0]] >= SAME_WORDS:  # worded as a training argument is: its kind, whatever the neighbours say
        return model.kind_labels[top[0]]
    votes: dict[str, float] = {}
    for i in top:
        votes[model.kind_labels[i]] = votes.get(model.kind_labels[i], 0.0) + float(sims[i])
    return max(votes, key=lambda k: votes[k])


COMPATIBLE = {"date": ("date",), "time": ("time",), "number": ("number",), "money": ("money", "number"),
              "text": ("text",), "enum": ("enum",), "boolean": ("boolean",)}


def left_context(text: str, start: int, words: int = 3) -> str:
    before = re.split(r"[.!?;]", text[:start])[-1]
    return " ".join(_TOKEN.findall(before)[-words:])


def right_context(text: str, end: int, words: int = 2) -> str:
    """The first content words after a candidate, in its clause ("four *on the same day*" → "same day")."""
    after = re.split(r"[.!?;,]", text[end:])[0]
    return " ".join([w for w in _TOKEN.findall(after) if w.lower() not in STOP][:words])


def unit_word(text: str, end: int) -> str:
    """The word right after a candidate when it is a content word of the same clause: what a number counts ("4
    *people*", "3 *star*", "two *rooms*")."""
    m = re.match(r"[ -]*(" + _TOKEN.pattern + ")", text[end:])
    if not m:
        return ""
    w = m.group(1).lower()
    return "" if w in STOP else w


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


@dataclass(frozen=True)
class Pair:
    arg: str
    cand: Candidate
    features: tuple[float, ...]


PRIOR_UNSEEN = 0.5  # a word the training turns never had: likely a name


def neighbours(text: str, start: int, end: int) -> tuple[str, str]:
    """The word just before a candidate and just after it (``^`` and ``$`` at the message's edges)."""
    before = _TOKEN.findall(text[max(0, start - 40):start])
    after = _TOKEN.findall(text[end:end + 40])
    return (before[-1].lower() if before else "^"), (after[0].lower() if after else "$")


PRIOR_EDGE = 0.05  # a word the training turns seldom had beside a value


def value_likeness(words: Sequence[str], prior: dict[str, float]) -> tuple[float, float, float, float]:
    """How much the words look like a value rather than the sentence around one, from how often each word was part
    of a value in the training turns: the lowest, the mean, the share of words never seen, the first word's."""
    ps = [prior.get(w.lower(), PRIOR_UNSEEN) for w in words] or [0.0]
    unseen = sum(w.lower() not in prior for w in words) / max(1, len(words))
    return min(ps), float(np.mean(ps)), unseen, ps[0]


def pair_features(turn: Turn, args: Sequence[Argument], kinds: Sequence[str], arg_vecs: np.ndarray,
                  encode: Any, prior: dict[str, float] | None = None,
                  belongs: dict[str, tuple[float, float]] | None = None) -> list[Pair]:
    """Every (argument, candidate) pair of compatible kinds, with its features; ``belongs`` gives, per argument,
    how likely the action asked for takes it and needs it (``SchemaReader.belonging``)."""
    prior = prior or {}
    belongs = belongs or {}
    text = turn.text
    cands = turn.candidates()
    per_arg: list[list[Candidate]] = []
    for arg, kind in zip(args, kinds, strict=True):
        if kind in ("enum", "number") and arg.values:
            per_arg.append(choice_candidates(arg, text))
        elif kind == "boolean":
            per_arg.append([Candidate("boolean", "True", 0, len(text), text)])
        else:
            per_arg.append([c for c in cands if c.kind in COMPATIBLE.get(kind, ("text",))])
    needed = {c.text for cs in per_arg for c in cs if c.kind != "boolean"}
    lefts = {(c.start, c.end): left_context(text, c.start) for cs in per_arg for c in cs}
    rights = {(c.start, c.end): right_context(text, c.end) for cs in per_arg for c in cs}
    units = {(c.start, c.end): unit_word(text, c.end) for cs in per_arg for c in cs}
    texts = sorted(needed | {v for v in lefts.values() if v} | {v for v in rights.values() if v} |
                   {v for v in units.values() if v} | {text})
    vec = dict(zip(texts, encode(texts), strict=True))
    zero = np.zeros(arg_vecs.shape[1], dtype=np.float32)
    msg = vec[text]
    requested = set(turn.requested)
    # kinds in order: the n-th argument of a kind and the n-th candidate of that kind go together
    kind_order: dict[str, list[str]] = {}
    for arg, kind in zip(args, kinds, strict=True):
        kind_order.setdefault(kind, []).append(arg.name)
    out: list[Pair] = []
    for a_i, (arg, kind) in enumerate(zip(args, kinds, strict=True)):
        av = arg_vecs[a_i]
        same = [c for c in cands if c.kind in COMPATIBLE.get(kind, ())] if kind in ("date", "time") else []
        name_words = set(split_name(arg.name).split()) - STOP
        arg_stems = {_stem(w.lower()) for w in _TOKEN.findall(arg.words)} - STOP
        for c in per_arg[a_i]:
            left, right = lefts[(c.start, c.end)], rights[(c.start, c.end)]
            lv, rv = vec.get(left, zero), vec.get(right, zero)
            cv = vec.get(c.text, zero) if c.kind != "boolean" else msg
            order = kind_order.get(kind, [arg.name])
            idx = next((i for i, s in enumerate(same) if s.start == c.start), 0)
            shape = c.shape or (sum(w[:1].isupper() for w in c.text.split()) / max(1, len(c.text.split())),
                                float(any(ch.isdigit() for ch in c.text)), 0.0, float(len(c.text.split())), 0.0,
                                1.0, 1.0)
            likeness = value_likeness(_TOKEN.findall(c.text), prior) if c.kind == "text" else (1.0, 1.0, 0.0, 1.0)
            prev, nxt = neighbours(text, c.start, c.end) if c.kind != "boolean" else ("^", "$")
            edges = (prior.get("<" + prev, PRIOR_EDGE), prior.get(">" + nxt, PRIOR_EDGE))
            negated = 1.0 if c.kind == "boolean" and re.search(r"\b(?:no|not|n't|without|don't need|doesn't need)\b",
                                                                text, re.I) else 0.0
            unit = units[(c.start, c.end)] if c.kind != "boolean" else ""
            in_sys = 1.0 if turn.system and c.text.lower() in turn.system.lower() else 0.0
            named = 1.0 if name_words & {w.lower() for w in _TOKEN.findall(left + " " + right)} else 0.0
            feats = (float(av @ cv), float(av @ lv) if left else 0.0, float(av @ rv) if right else 0.0,
                     float(av @ msg), 1.0 if arg.name in requested else 0.0, float(len(requested)),
                     1.0 if requested and arg.name not in requested else 0.0,
                     *shape, *likeness, float(c.start) / max(1, len(text)), float(len(same)), float(idx),
                     float(order.index(arg.name)), float(len(order)), negated, in_sys, named,
                     float(KIND_CODES.get(kind, 4)), float(KIND_CODES.get(c.kind, 4)),
                     1.0 if c.kind == "enum" else 0.0, *belongs.get(arg.name, (0.5, 0.5)), *edges,
                     float(av @ vec[unit]) if unit else 0.0, 1.0 if unit and _stem(unit) in arg_stems else 0.0)
            out.append(Pair(arg.name, c, feats))
    return _relative(out)


_SIMS = (0, 1, 2, -2)  # the similarity features a pair is compared on with its rivals (-2: the unit word's)


def _relative(pairs: list[Pair]) -> list[Pair]:
    """Each pair's similarities beside its rivals': the best other candidate for the same argument, and the best
    other argument for the same words (a value goes to the argument it fits best)."""
    by_arg: dict[str, list[int]] = {}
    by_cand: dict[tuple[int, int, str], list[int]] = {}
    for i, p in enumerate(pairs):
        by_arg.setdefault(p.arg, []).append(i)
        by_cand.setdefault((p.cand.start, p.cand.end, p.cand.kind), []).append(i)
    out = []
    for i, p in enumerate(pairs):
        extra: list[float] = []
        for group in (by_arg[p.arg], by_cand[(p.cand.start, p.cand.end, p.cand.kind)]):
            others = [pairs[j].features for j in group if j != i]
            for k in _SIMS:
                extra.append(p.features[k] - max((o[k] for o in others), default=0.0))
            extra.append(float(len(group)))
        out.append(Pair(p.arg, p.cand, (*p.features, *extra)))
    return out


@dataclass
class Read:
    action: str
    confidence: float
    arguments: dict[str, Candidate]
    scores: dict[str, float]


class SchemaReader:
    """Reads turns against schemas with a trained ``Model`` and the shipped encoder (``encode(texts)`` → rows)."""

    def __init__(self, model: Model, encode: Any) -> None:
        self.model = model
        self.encode = encode
        self._vecs: dict[str, np.ndarray] = {}
        self._examples: dict[tuple[str, ...], np.ndarray] = {}

    def _vec(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vecs]
        if missing:
            self._vecs.update(zip(missing, self.encode(missing), strict=True))
        return np.asarray([self._vecs[t] for t in texts])

    def _example_vecs(self, examples: tuple[str, ...]) -> np.ndarray:
        if examples not in self._examples:
            self._examples[examples] = np.asarray(self.encode(list(examples)))
        return self._examples[examples]

    def action_probs(self, schema: Schema, turn: Turn) -> np.ndarray:
        """Each of the service's actions' probability of being the one the turn asks for."""
        if len(schema.actions) == 1:
            return np.ones(1)
        msg = self._vec([turn.text])[0]
        system = self._vec([turn.system])[0] if turn.system else None
        acts = self._vec([a.words for a in schema.actions])
        feats = intent_features(msg, system, acts, [a.writes for a in schema.actions], self.model.writes(msg))
        if self.model.example_coef is not None and all(a.examples for a in schema.actions):
            feats = np.hstack([feats, example_features(msg, [self._example_vecs(a.examples) for a in schema.actions])])
            scores = feats @ self.model.example_coef + self.model.example_bias
        else:
            scores = feats @ self.model.intent_coef + self.model.intent_bias
        p = np.exp(scores - scores.max())
        return np.asarray(p / p.sum())

    def action(self, schema: Schema, turn: Turn) -> tuple[Action, float]:
        """The action the turn asks for, with a probability among the service's actions."""
        p = self.action_probs(schema, turn)
        best = int(np.argmax(p))
        return schema.actions[best], float(p[best])

    @staticmethod
    def belonging(schema: Schema, probs: np.ndarray) -> dict[str, tuple[float, float]]:
        """Per argument: the probability that the action asked for takes it, and that it needs it."""
        out = {}
        for arg in schema.arguments:
            takes = sum(float(p) for a, p in zip(schema.actions, probs, strict=True)
                        if any(x.name == arg.name for x in a.arguments))
            needs = sum(float(p) for a, p in zip(schema.actions, probs, strict=True) if arg.name in a.required)
            out[arg.name] = (round(takes, 4), round(needs, 4))
        return out

    def arguments(self, schema: Schema, turn: Turn, only: Sequence[str] | None = None,
                  actions: np.ndarray | None = None) -> tuple[dict[str, Candidate], dict[str, float]]:
        """The argument values the turn states: each argument its best candidate above its kind's threshold, no
        candidate (nor overlapping words) given to two arguments; ``actions``: the action probabilities, when the
        caller has them."""
        args = [a for a in schema.arguments if only is None or a.name in only]
        if not args:
            return {}, {}
        arg_vecs = self._vec([a.words for a in args])
        kinds = [arg_kind(a, v, self.model) for a, v in zip(args, arg_vecs, strict=True)]
        belongs = self.belonging(schema, self.action_probs(schema, turn) if actions is None else actions)
        pairs = pair_features(turn, args, kinds, arg_vecs, lambda ts: self._vec(list(ts)), self.model.token_prior,
                              belongs)
        if not pairs:
            return {}, {}
        probs = self.model.slot_model.predict_proba(np.asarray([p.features for p in pairs]))[:, 1]
        asked = [(w.start, w.end) for w in language.asked_about(turn.text)]
        kind_of = dict(zip((a.name for a in args), kinds, strict=True))
        ranked = sorted(zip(probs, range(len(pairs)), strict=True), key=lambda x: -x[0])
        taken_args: set[str] = set()
        taken_spans: list[tuple[int, int]] = []
        out: dict[str, Candidate] = {}
        scores: dict[str, float] = {}
        for p, i in ranked:
            pair = pairs[i]
            limit = self.model.thresholds.get(kind_of[pair.arg], self.model.thresholds.get("default", 0.5))
            if p < limit or pair.arg in taken_args:
                continue
            c = pair.cand
            if c.kind not in ("boolean",) and any(c.start < e and s < c.end for s, e in taken_spans):
                continue
            if any(s <= c.start < e for s, e in asked):  # "do they serve vegetarian food?" asks, states nothing
                continue
            out[pair.arg] = c
            scores[pair.arg] = float(p)
            taken_args.add(pair.arg)
            if c.kind != "boolean":
                taken_spans.append((c.start, c.end))
        return out, scores

    def read(self, schema: Schema, turn: Turn) -> Read:
        probs = self.action_probs(schema, turn)
        best = int(np.argmax(probs))
        values, scores = self.arguments(schema, turn, actions=probs)
        best = self._assuming_less(schema, probs, best, values)
        return Read(schema.actions[best].name, float(probs[best]), values, scores)

    @staticmethod
    def _assuming_less(schema: Schema, probs: np.ndarray, best: int, values: Mapping[str, Candidate]) -> int:
        """Of two close readings, the action that assumes less of what was not said: when the runner-up needs
        only what the best needs, and the message gives none of what the best needs besides ("find me a flight":
        a one-way search, not a round trip that needs a day back), the runner-up."""
        if len(probs) < 2:
            return best
        second = int(np.argsort(-probs)[1])
        needs, fewer = set(schema.actions[best].required), set(schema.actions[second].required)
        extra = needs - fewer
        if extra and fewer <= needs and not extra & set(values) and probs[second] >= CLOSE * probs[best]:
            return second
        return best
