"""Triage: task type (MiniLM + logistic regression on labelled examples), requests, urgency, sentiment,
language and personal data, each with the reasons behind it."""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
from langdetect import DetectorFactory, LangDetectException, detect_langs
from threadpoolctl import ThreadpoolController
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from . import entities
from .embedding import Embedder
from .entities import MAX_CHARS, normalise, split_sentences, whole_text
from .errors import ConfigError, InvalidInput
from .labelled import read_labelled_csv
from .models import Request, Triage
from .reading import language
from .reading.backing import Backing, backed
from .redact import find_pii
from .request_split import (
    ASK,
    BACK_TO,
    IMPERATIVE,
    NARROWS,
    NEW_REQUEST,
    POINTS_BACK,
    asked_outright,
    asks_in_so_many_words,
    asks_plainly,
    follow_ups,
    gives_a_figure,
    gives_something,
    names_a_record,
    opens_request,
    part_of,
    tells_of_a_plan,
    tells_only,
)
from .signals import (
    AND_AGAIN,
    ANGER,
    CANCEL_SERVICE,
    COMPLAINT,
    COMPLAINT_INSIDE,
    COURTESY,
    DONE_TO,
    LEAVE,
    LEGAL,
    NEUTRAL_WORDS,
    NOT_LEGAL,
    OWN_SLIP,
    PROBLEM,
    REPEAT,
    STILL,
    THREAT,
    URGENT,
    contacts,
    ordinal,
    safety,
    signals,
    vulnerable,
)

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

DetectorFactory.seed = 0
NONE = "none"
UNCLASSIFIED = "unclassified"
REQUEST_MIN = 0.5  # a sentence below this is context, not a separate request

def tone_analyzer() -> SentimentIntensityAnalyzer:
    """VADER with the words that name a request ("cancel", "charged") left neutral: asking to cancel is no
    feeling."""
    vader = SentimentIntensityAnalyzer()
    for word in NEUTRAL_WORDS:
        vader.lexicon.pop(word, None)
    return vader


@dataclass
class Prediction:
    label: str
    confidence: float
    similarity: float = 1.0  # cosine similarity to the closest training example


_THREADPOOLS = ThreadpoolController()


def _one_blas_thread() -> Any:
    """Small per-ticket matrix work runs on one BLAS thread: OpenBLAS threads spinning next to PyTorch's
    made a 14 ms prediction take 40 ms on two cores (benchmarks/RESULTS.md)."""
    return _THREADPOOLS.limit(limits=1, user_api="blas")


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


_ENGLISH = frozenset("i my me you your we our it its is was are were be been the a an and or but to of for in on at "
                     "with this that have has had not no can could would will please want do did don't i'm it's".split())

class IntentModel:
    """Two views of a text, one calibrated decision.

    - dense: logistic regression over normalised MiniLM embeddings (meaning);
    - sparse: logistic regression over word 1–2-grams and character 2–5-grams (wording, typos, ids).
    Their log-probabilities are blended with weight ``w`` and divided by a temperature; ``w`` and the
    temperature are fitted on a held-out tenth of the training data, then both views are refitted on all of it.
    The cosine similarity to the nearest training example is kept as an out-of-scope signal.
    """

    def __init__(self, dense: LogisticRegression, sparse: LogisticRegression | None, vectorizer: Any,
                 labels: list[str], weight: float, temperature: float, train_vectors: np.ndarray) -> None:
        self.dense = dense
        self.sparse = sparse
        self.vectorizer = vectorizer
        self.labels = labels
        self.weight = weight
        self.temperature = temperature
        self.train_vectors = np.ascontiguousarray(train_vectors, dtype=np.float32)
        self.embedder: Embedder | None = None
        self.similarity_floor = 0.0  # below it a text is unlike anything trained: out of scope

    # ------------------------------------------------------------ training
    @staticmethod
    def _fit_views(texts: list[str], vectors: np.ndarray, labels: list[str], c_dense: float,
                   c_sparse: float) -> tuple[LogisticRegression, LogisticRegression | None, Any]:
        # scikit-learn loads only where a model is trained (a second and a half that commands never reading
        # tickets do not pay); a saved model brings it in as it is read
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_union

        dense = LogisticRegression(C=c_dense, max_iter=3000).fit(vectors, labels)
        if len(texts) < 40:
            return dense, None, None
        vectorizer = make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        )
        sparse = LogisticRegression(C=c_sparse, max_iter=3000)
        sparse.fit(vectorizer.fit_transform(texts), labels)
        return dense, sparse, vectorizer

    @classmethod
    def train(cls, texts: list[str], labels: list[str], embedder: Embedder, c: float = 30.0,
              c_sparse: float = 10.0, seed: int = 0) -> IntentModel:
        if len(set(labels)) < 2:
            raise InvalidInput("training data needs at least two different labels")
        clean = [normalise(t) for t in texts]
        vectors = embedder.encode(clean)
        y = np.array(labels)
        weight, temperature, floor = 0.6, 1.0, 0.0
        counts = {lbl: labels.count(lbl) for lbl in sorted(set(labels))}  # sorted: the split must not follow hashing
        if len(texts) >= 200 and min(counts.values()) >= 3:
            rng = np.random.default_rng(seed)
            hold = np.zeros(len(texts), dtype=bool)
            for lbl in counts:  # a stratified tenth
                idx = np.flatnonzero(y == lbl)
                hold[rng.choice(idx, size=max(1, len(idx) // 10), replace=False)] = True
            fit_idx, cal_idx = np.flatnonzero(~hold), np.flatnonzero(hold)
            d, sp, vec = cls._fit_views([clean[i] for i in fit_idx], vectors[fit_idx], list(y[fit_idx]), c, c_sparse)
            probe = cls(d, sp, vec, list(d.classes_), weight, 1.0, vectors[fit_idx])
            weight, temperature = probe._calibrate([clean[i] for i in cal_idx], vectors[cal_idx], list(y[cal_idx]))
            # 5 % of genuine held-out texts fall below the floor (measured: the best out-of-scope signal)
            floor = float(np.quantile(probe.nearest_similarity(vectors[cal_idx]), 0.05))
        dense, sparse, vectorizer = cls._fit_views(clean, vectors, labels, c, c_sparse)
        model = cls(dense, sparse, vectorizer, list(dense.classes_), weight, temperature, vectors)
        model.similarity_floor = floor
        return model

    def _log_probs(self, texts: list[str], vectors: np.ndarray, weight: float) -> np.ndarray:
        with _one_blas_thread():
            return self._blend(texts, vectors, weight)

    def _blend(self, texts: list[str], vectors: np.ndarray, weight: float) -> np.ndarray:
        logp = np.log(np.clip(self.dense.predict_proba(vectors), 1e-9, 1.0))
        if self.sparse is not None and self.vectorizer is not None:
            sparse_p = self.sparse.predict_proba(self.vectorizer.transform(texts))
            logp = weight * logp + (1 - weight) * np.log(np.clip(sparse_p, 1e-9, 1.0))
        return np.asarray(logp)

    def _calibrate(self, texts: list[str], vectors: np.ndarray, labels: list[str]) -> tuple[float, float]:
        """The temperature with the lowest held-out log-loss (the blend weight stays at the value measured on
        Banking77 dev, where 0.6 beat every other weight; per-dataset choices on a tenth of the data were noise)."""
        y = np.array([self.labels.index(lbl) if lbl in self.labels else -1 for lbl in labels])
        keep = y >= 0
        best_w = self.weight
        logp = self._log_probs(texts, vectors, best_w)[keep]
        best_t, best_loss = 1.0, float("inf")
        for t in np.linspace(0.3, 3.0, 28):
            p = _softmax(logp / t)
            loss = float(-np.log(np.clip(p[np.arange(len(p)), y[keep]], 1e-12, 1.0)).mean())
            if loss < best_loss:
                best_t, best_loss = float(t), loss
        return best_w, best_t

    # ------------------------------------------------------------ prediction
    def probabilities(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities for texts whose (normalised) embeddings are ``vectors``."""
        return _softmax(self._log_probs([normalise(t) for t in texts], vectors, self.weight) / self.temperature)

    def nearest_similarity(self, vectors: np.ndarray) -> np.ndarray:
        with _one_blas_thread():
            return np.asarray((vectors @ self.train_vectors.T).max(axis=1))

    def predict(self, texts: list[str], vectors: np.ndarray | None = None) -> list[Prediction]:
        if vectors is None:
            if self.embedder is None:
                raise RuntimeError("IntentModel.predict needs vectors or an embedder")
            vectors = self.embedder.encode([normalise(t) for t in texts])
        probs = self.probabilities(texts, vectors)
        sims = self.nearest_similarity(vectors)
        best = probs.argmax(axis=1)
        return [Prediction(self.labels[i], float(p[i]), float(sim))
                for i, p, sim in zip(best, probs, sims, strict=True)]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        embedder, self.embedder = self.embedder, None
        joblib.dump(self, path)
        self.embedder = embedder

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        try:
            model = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - an unreadable model file is a configuration problem
            raise ConfigError(f"{path}: the intent model cannot be read; train it again") from exc
        if not isinstance(model, cls):
            raise ConfigError(f"{path}: not an intent model; train it again")
        return model


class Triager:
    """Turns a ticket's text into a ``Triage``; the model and thresholds are injected."""

    def __init__(self, model: IntentModel, embedder: Embedder, abstain_below: float = 0.45,
                 frustration_escalate: float = 0.85, backing: Backing | None = None) -> None:
        self.model, self.embedder, self.backing = model, embedder, backing  # backing: the pack's actions' reading
        self.abstain_below, self.frustration_escalate = abstain_below, frustration_escalate
        self._vader, self._lock = tone_analyzer(), threading.Lock()

    # ------------------------------------------------------------ task type and requests
    def classify(self, subject: str, body: str) -> tuple[Prediction, list[Request]]:
        """The task type and the requests, sentence by sentence. A text the model cannot place is read once more
        with its misspelt words put right ("canecl my odrer" → "cancel my order"); its requests keep the
        customer's own words."""
        pred, requests = self._classify(subject, body)
        if requests and pred.confidence >= self.abstain_below:
            return pred, self._read_as(requests)
        fixed = (self._spelled(subject), self._spelled(body))
        if fixed == (subject, body):
            return pred, self._read_as(requests)
        again, found = self._classify(*fixed)
        theirs = dict(zip(split_sentences(fixed[1]), split_sentences(body), strict=False))
        for r in found:
            for mine, own in theirs.items():
                r.text = r.text.replace(mine, own)
        return again, self._read_as(found)

    def _read_as(self, requests: list[Request]) -> list[Request]:
        """Each request with its words as the knowledge base spells them, when a slip of the keys made them
        otherwise ("pair my thermostat with Gogle Home"): what its answer is searched by."""
        for r in requests:
            if len(r.text) <= 600 and (fixed := self._spelled(r.text)) != r.text:
                r.read_as = fixed
        return requests

    def _spelled(self, text: str) -> str:
        """``text`` with each word the model never saw, and that reads as a slip of the keys of one it saw (same
        first letter, at most one letter longer or shorter, four in five letters alike), put right."""
        words = getattr(self, "_words", None)
        if words is None:
            union = getattr(self.model, "vectorizer", None)
            vocab = union.transformer_list[0][1].vocabulary_ if union is not None else {}
            words = self._words = {w for w in vocab if " " not in w and w.isalpha() and len(w) >= 3}
            self._by_first: dict[str, list[str]] = {}
            for w in sorted(words):
                self._by_first.setdefault(w[0], []).append(w)
            self._fixed: dict[str, str] = {}

        def right(m: re.Match[str]) -> str:
            w = m.group(0)
            low = w.lower()
            if low in words or len(w) < 4:
                return w
            if low not in self._fixed:  # each word looked up once (names and codes too: the memory is bounded)
                if len(self._fixed) > 50_000:
                    self._fixed.clear()
                near = difflib.get_close_matches(low, [x for x in self._by_first.get(low[0], [])
                                                       if abs(len(x) - len(w)) <= 1], n=1, cutoff=0.8)
                self._fixed[low] = near[0] if near else ""
            return self._fixed[low] or w
        return re.sub(r"[A-Za-z]+", right, text)

    def _classify(self, subject: str, body: str) -> tuple[Prediction, list[Request]]:
        sentences = split_sentences(language.unsigned(body))  # a phone under the name signs, asks nothing
        if subject.strip():
            sentences.append(subject.strip()[:300])  # last: it only adds a request the body does not make
        probs, vectors = self._beliefs(subject, body, sentences)
        sentence_preds = [Prediction(self.model.labels[i], float(p[i])) for i, p in zip(probs[1:].argmax(axis=1),
                                                                                     probs[1:], strict=True)]
        closest = float(self.model.nearest_similarity(vectors).max()) if len(vectors) else 0.0
        requests: list[Request] = []
        from_subject = len(sentences) - 1 if subject.strip() else -1
        lead, scene = "", None  # scene: a plan told before what is asked of it, and what it reads as alone
        in_body = sentences[:from_subject] if from_subject >= 0 else sentences
        for i, (sentence, pred) in enumerate(zip(sentences, sentence_preds, strict=True)):
            if requests and i and i - 1 != from_subject and self._asks_of_it(
                    sentence, pred, scene=not any(sentences[i - 1] in r.text for r in requests)):
                read = self._with_scene(sentences[i - 1], sentence, pred)  # "… has packed in. Please replace it."
                if read is not pred and all(r.intent != read.label for r in requests):
                    pred, sentence = read, f"{sentences[i - 1]} {sentence}"
            if pred.label == NONE or pred.confidence < REQUEST_MIN and not asked_outright(
                    sentence, pred.label, pred.confidence, [r.intent for r in requests], scene is not None):
                if requests and (pred.label != NONE or POINTS_BACK.search(sentence)) and asks_in_so_many_words(sentence):
                    requests[-1].text += " " + sentence  # "… so please send that one to Glenwood Ave instead"
                continue  # context; but a wish of another kind after a request ("… and I want full refunds") asks,
                # unless it speaks of what came before ("any chance you could take it off?")
            if requests and NARROWS.match(sentence):
                requests[-1].text += " " + sentence  # "…split into three? All of it apart from the £12 fee"
                continue
            if tells_only(sentence):
                continue  # "I rebooked the installer, the new time is Monday the 30th": told of, not asked
            if not lead and tells_of_a_plan(sentence) and any("?" in s or asks_plainly(s) for s in in_body[i + 1:]):
                lead, scene = sentence, pred  # "We were due to fly on the 9th. … so please call the trip off."
                continue
            if i == from_subject and requests:
                continue
            if not lead and i and i - 1 != from_subject and POINTS_BACK.search(sentence) and not requests \
                    and sentence_preds[i - 1].confidence < REQUEST_MIN:
                read = self._with_scene(sentences[i - 1], sentence, pred)  # "… for the installation. Could it be …"
                if read is not pred:
                    pred, lead = read, sentences[i - 1]  # "it" is what the statement spoke of: read with it
            sentence, lead = (f"{lead} {sentence}" if lead else sentence), ""
            if scene is not None:  # what is asked of a plan is of its kind when it follows one of that kind up
                pred, scene = (Prediction(scene.label, max(scene.confidence, pred.confidence))
                               if pred.label in follow_ups().get(scene.label, ()) else pred), None
            if self._leads_in(sentences, sentence_preds, i, from_subject):
                lead = sentence  # "The lamp isn't right for us. How do I return it?": the context of what follows
                continue
            if requests and self._points_back(requests[-1], sentence):
                continue
            p_previous = float(probs[i + 1][self.model.labels.index(requests[-1].intent)]) \
                if requests and requests[-1].intent in self.model.labels else 0.0
            if requests and part_of(requests[-1], pred.label, sentence, p_previous):
                if gives_something(sentence):
                    requests[-1].text += " " + sentence
                continue
            self._add(requests, pred, sentence, probs[i + 1])
        if scene is not None:  # nothing else asked: the plan told is the request
            requests.append(Request(intent=scene.label, text=lead, confidence=scene.confidence))
        by_label = {lbl: float(p) for lbl, p in zip(self.model.labels, probs[0], strict=True)}
        if requests:
            # the ticket's type is the request the sentences and the whole text agree on most
            top = max(requests, key=lambda r: (r.confidence + by_label.get(r.intent, 0.0)) / 2)
            best, best_p = top.intent, max(top.confidence, by_label.get(top.intent, 0.0))
        else:
            best = max((lbl for lbl in self.model.labels if lbl != NONE), key=lambda lbl: by_label[lbl])
            best_p = by_label[best]
            if best_p >= self.abstain_below:
                requests.append(Request(intent=best, text=(subject or body)[:300], confidence=best_p))
        if closest < getattr(self.model, "similarity_floor", 0.0):
            return Prediction(best, best_p, closest), []  # unlike anything trained: a person decides
        return Prediction(best, best_p, closest), requests

    def _add(self, requests: list[Request], pred: Prediction, sentence: str, probs: np.ndarray) -> None:
        """A sentence read as a request: more words of one of its kind already made (the last one's), or a new one."""
        known = next((r for r in requests if r.intent == pred.label), None)
        if known is not None:
            norm = sentence.lower().rstrip(".?! ")
            if norm not in known.text.lower() and (known is requests[-1]):
                known.text += " " + sentence
            known.confidence = max(known.confidence, pred.confidence)
        else:
            requests.append(Request(intent=pred.label, text=sentence, confidence=pred.confidence,
                                    second=self._second(probs, pred.label)))

    def _beliefs(self, subject: str, body: str, sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The model's belief in each kind, and the vectors, of the whole text and of each sentence: a sentence read as
        what it asks for, and, when unsure of a plain request, with what the pack's actions say it asks for."""
        whole = (subject + "\n" + body)[:2000].strip() or "(empty)"
        wanted = {i: w for i, x in enumerate(sentences) if (w := language.wanted_only(x)) != x}
        texts = [whole, *sentences, *wanted.values()]
        vectors = self.embedder.encode([normalise(x) for x in texts])
        probs = self.model.probabilities(texts, vectors)
        for n, i in enumerate(wanted):  # "a replacement please, not a refund": read as what it asks for, when
            asked = probs[1 + len(sentences) + n]  # that alone reads as a request
            label = int(asked.argmax())
            if self.model.labels[label] != NONE and float(asked[label]) >= REQUEST_MIN:
                probs[1 + i] = asked
        probs, vectors = probs[: 1 + len(sentences)], vectors[: 1 + len(sentences)]
        for i, x in enumerate(sentences):  # unsure of a plain request: what the pack's actions say it asks for
            probs[1 + i] = backed(probs[1 + i], x, self.model.labels, self.backing, asks_plainly, REQUEST_MIN)
        return probs, vectors

    def _with_scene(self, scene: str, sentence: str, pred: Prediction) -> Prediction:
        """A first request that points back at the statement before it ("We won't be home tomorrow for the
        dishwasher installation. Could it be moved to Monday?"): of the kind the two read as together, when that
        reads as a request."""
        together = self.model.probabilities([f"{scene} {sentence}"], self.embedder.encode([normalise(
            f"{scene} {sentence}")]))[0]
        best = int(together.argmax())
        if self.model.labels[best] == NONE or float(together[best]) < REQUEST_MIN:
            return pred
        return Prediction(str(self.model.labels[best]), float(together[best]))

    def _second(self, probs: np.ndarray, first: str) -> str:
        """The model's next reading of a sentence, when it is close: at least a third as likely as the first."""
        top = [str(self.model.labels[i]) for i in np.argsort(-probs)[:2]]
        runner = next((lbl for lbl in top if lbl != first), "")
        return runner if runner and runner != NONE and probs[self.model.labels.index(runner)] * 3 >= probs.max() else ""

    @staticmethod
    def _asks_of_it(sentence: str, pred: Prediction, scene: bool) -> bool:
        """A plain request about what the sentence before spoke of ("Please send someone to replace it."), that the
        model reads as no request of its own: read with that sentence, it may be one of another kind (one opening by
        pointing back, "Please add them to our booking", only when no request took that sentence)."""
        return pred.confidence < REQUEST_MIN and bool(IMPERATIVE.search(sentence) and BACK_TO.search(sentence)) \
            and (scene or not POINTS_BACK.search(sentence))

    def _points_back(self, previous: Request, sentence: str) -> bool:
        """A request that points back at what a statement before it spoke of ("There's a £12 late fee on my
        September bill. Could it be removed?") is one request with it, of the kind the two read as together."""
        if not POINTS_BACK.search(sentence) or NEW_REQUEST.search(sentence) or names_a_record(sentence) \
                or ASK.search(previous.text):
            return False
        previous.text += " " + sentence
        together = self.model.probabilities([previous.text], self.embedder.encode([normalise(previous.text)]))[0]
        best = int(together.argmax())
        if self.model.labels[best] != NONE and float(together[best]) >= REQUEST_MIN:
            previous.intent, previous.confidence = str(self.model.labels[best]), float(together[best])
        return True

    @staticmethod
    def _leads_in(sentences: list[str], preds: list[Prediction], i: int, from_subject: int) -> bool:
        """Whether sentence ``i`` only sets the scene for the next one: it asks nothing, reports no problem, names
        no record and gives no figure, and the next sentence opens a request of another kind."""
        sentence, nxt = sentences[i], i + 1
        if nxt >= len(sentences) or nxt == from_subject or gives_a_figure(sentence):
            return False
        if ASK.search(sentence) or NEW_REQUEST.search(sentence) or IMPERATIVE.search(sentence) \
                or PROBLEM.search(sentence) or names_a_record(sentence) or COMPLAINT.search(sentence):
            return False
        after = preds[nxt]
        return after.label not in (NONE, preds[i].label, *follow_ups().get(preds[i].label, ())) \
            and after.confidence >= REQUEST_MIN and opens_request(sentences[nxt])

    # ------------------------------------------------------------ signals
    def sentiment(self, text: str) -> tuple[str, float, float, list[str]]:
        """The tone (negative, neutral, positive), VADER's compound score, frustration (0–1) and the reasons.

        VADER reads the words; a grievance it cannot see is read from what the customer says: a complaint or
        disappointment, writing again about the same thing, a threat (legal, a chargeback, reporting us, leaving),
        angry words, shouting and exclamation marks, a problem still not solved. Any of these reads negative;
        a problem described with courtesy ("arrived damaged, I'd like my money back, thanks!") is read without the
        courtesy formulas, which say nothing about the matter."""
        text = text[:MAX_CHARS]
        # "ordered it by mistake", "no longer needed": the customer's own change of mind, no grievance; a question
        # ("is my flight delayed?") asks about a state and says nothing of how the customer feels about it
        plain = " ".join(s for s in re.split(r"(?<=[.!?])\s+|\n+", OWN_SLIP.sub(" ", text))
                         if not s.rstrip().endswith("?"))
        with self._lock:
            compound = float(self._vader.polarity_scores(plain)["compound"])
            core = float(self._vader.polarity_scores(COURTESY.sub(" ", plain))["compound"])
        reasons: list[str] = []
        frustration = max(0.0, -compound) * 0.45
        grievance = False

        def found(weight: float, why: str, grieves: bool = True) -> None:
            nonlocal frustration, grievance
            frustration += weight
            reasons.append(why)
            grievance = grievance or grieves

        words = re.findall(r"\b[A-Za-z]{4,}\b", text)  # "HAT186", "ORD" and "SFO" are codes, not shouting
        caps = [w for w in words if w.isupper()]
        if words and len(caps) / len(words) > 0.3 and len(caps) >= 3:
            found(0.25, "shouting (capitals)")
        bangs = text.count("!")
        if bangs >= 2 or "?!" in text or "!?" in text:
            found(0.15 if bangs >= 3 else 0.1, "many exclamation marks" if bangs >= 3 else "exclamation marks",
                  grieves=compound < 0.5)
        n = contacts(text)
        if n > 1:
            said = REPEAT.search(text) or AND_AGAIN.search(text)  # in their words: "nobody calls back" is no count
            found(0.2 + 0.1 * (n >= 3), f"repeated contact ('{said.group(0).lower()}'" + (
                f", at least the {ordinal(n)} time)" if n >= 3 else ")") if said else
                f"repeated contact (at least the {ordinal(n)} time)")
        if m := ANGER.search(text):
            found(0.25, f"angry words ('{m.group(0).lower()}')")
        if m := (LEGAL.search(NOT_LEGAL.sub(' ', text)) or THREAT.search(text)):
            found(0.25, f"threatens action ('{m.group(0).lower()}')")
        if m := LEAVE.search(text):
            found(0.2, f"threatens to leave ('{m.group(0).lower()}')")
        if m := (COMPLAINT.search(text) or COMPLAINT_INSIDE.search(text)):
            found(0.15, f"complains ('{m.group(0).lower()}')")
        if m := STILL.search(text):
            found(0.1, f"still not solved ('{m.group(0).lower()}')")
        if m := DONE_TO.search(text):  # "you cancelled my flight… what are you going to do?"
            found(0.15, f"says we did it ('{m.group(0).lower()}')")
        problem = PROBLEM.search(text)
        if problem and core < 0.3:
            found(0.1, f"describes a problem ('{problem.group(0).lower()}')")
        frustration = min(1.0, frustration)
        label = ("negative" if compound <= -0.4 or frustration >= 0.5 or grievance
                 else "positive" if compound >= 0.4 and not problem else "neutral")
        # the words' own tone comes first; what reads as a grievance beyond the words follows
        tone = "warm" if compound >= 0.4 else "harsh" if compound <= -0.4 else "plain"
        reasons.insert(0, f"the words read {tone}" + (", but what they say is a grievance"
                                                      if label == "negative" and tone != "harsh" else ""))
        return label, compound, round(frustration, 2), reasons

    @staticmethod
    def language(text: str) -> str:
        letters = re.sub(r"[^A-Za-zÀ-ÿ]", "", text)
        if len(letters) < 25:
            return "en"
        try:  # a short message in English words other languages share ("robot vacuum came broken") stays English
            found = detect_langs(text[:2000])
        except LangDetectException:
            return "en"
        english = next((x.prob for x in found if x.lang == "en"), 0.0)
        words = re.findall(r"[a-z']+", text.lower())
        # English function words in every sentence ("my order came, I want it") are English whatever names it cites
        if words and sum(w in _ENGLISH for w in words) / len(words) >= 0.2:
            return "en"
        return str(found[0].lang) if found[0].prob >= 0.7 and english < 0.1 else "en"

    def urgency(self, text: str, frustration: float, tier: str, channel: str) -> tuple[str, list[str]]:
        reasons = []
        level = 1
        if hazard := safety(text):
            reasons.append(f"safety words ('{hazard.lower()}')")
            level = 3
        if legal := (LEGAL.search(NOT_LEGAL.sub(' ', text)) or THREAT.search(text)):
            reasons.append(f"legal words ('{legal.group(0).lower()}')")
            level = max(level, 2)
        if vulnerable(text):
            reasons.append("possible vulnerability")
            level = max(level, 2)
        if URGENT.search(text):
            reasons.append("asks for urgency")
            level = max(level, 2)
        if frustration >= 0.6:
            reasons.append(f"very upset (frustration {frustration:.0%})")
            level = max(level, 2)
        if REPEAT.search(text):
            reasons.append("repeated contact")
            level = max(level, 2)
        if CANCEL_SERVICE.search(text) or LEAVE.search(text):
            reasons.append("wants to leave")
            level = max(level, 2)
        if tier in {"plus", "business"}:
            reasons.append(f"{tier} customer (faster response target)")
        if channel == "chat" and level == 1:
            reasons.append("live chat")
        names = {0: "low", 1: "normal", 2: "high", 3: "critical"}
        return names[level], reasons or ["no urgency signals"]

    def triage(self, subject: str, body: str, *, tier: str = "standard", channel: str = "email",
               today: date | None = None) -> Triage:
        text = whole_text(subject, body).strip()  # a subject that repeats the body is read once
        today = today or datetime.now(UTC).date()
        pred, requests = self.classify(subject, body)
        sentiment, compound, frustration, s_reasons = self.sentiment(text)
        urgency, u_reasons = self.urgency(text, frustration, tier, channel)
        abstained = pred.confidence < self.abstain_below or not text or not requests
        found: dict[str, Any] = entities.extract(text[:MAX_CHARS], today)
        found.update(signals(text), tier=tier)  # the customer's tier: a need a register holds is no hand-over
        return Triage(task_type=UNCLASSIFIED if abstained else pred.label, intent=pred.label,
                      confidence=round(pred.confidence, 4), abstained=abstained,
                      requests=[] if abstained else requests, urgency=urgency, urgency_reasons=u_reasons,
                      sentiment=sentiment, sentiment_score=round(compound, 3), frustration=frustration,
                      sentiment_reasons=s_reasons, language=self.language(text), pii=find_pii(text), entities=found)


def train_default(training_csv: Path, embedder: Embedder, out: Path) -> IntentModel:
    model = IntentModel.train(*read_labelled_csv(training_csv), embedder)
    model.save(out)
    return model
