"""The knowledge base: articles chunked by heading, stored in Chroma with MiniLM, retrieved by hybrid
BM25 + dense search fused by reciprocal rank."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import chromadb
import numpy as np

from .documents import Document, load_paths
from .embedding import TandemMiniLM, shared_embedder
from .errors import ConfigError
from .models import Passage

logging.getLogger("bm25s").setLevel(logging.WARNING)
COLLECTION = "kb_chunks"
RRF_K = 60


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    heading: str
    text: str
    task_types: list[str]


def chunk_document(doc: Document, max_chars: int = 1200) -> list[Chunk]:
    """One chunk per ``##`` section (long sections split by paragraph), each prefixed by its title; a passage that
    is the same as an earlier one (same heading, same words) is kept once."""
    sections: list[tuple[str, str]] = []
    current = ""
    lines: list[str] = []
    for line in doc.text.splitlines():
        if re.match(r"^#{1,3}\s+", line):
            if "".join(lines).strip():
                sections.append((current, "\n".join(lines).strip()))
            current, lines = re.sub(r"^#+\s+", "", line).strip(), []
            if current == doc.title:
                current = ""
        else:
            lines.append(line)
    if "".join(lines).strip():
        sections.append((current, "\n".join(lines).strip()))
    chunks: list[Chunk] = []
    seen: set[str] = set()  # a passage written twice (an FAQ's repeated row) is one passage
    for heading, text in sections:
        pieces, buf = [], ""
        for para in re.split(r"\n\s*\n", text):
            if buf and len(buf) + len(para) > max_chars:
                pieces.append(buf)
                buf = ""
            buf = f"{buf}\n\n{para}".strip()
        if buf:
            pieces.append(buf)
        for piece in pieces:
            digest = hashlib.sha1(f"{doc.doc_id}|{heading}|{piece}".encode()).hexdigest()[:12]
            if digest in seen:
                continue
            seen.add(digest)
            chunks.append(Chunk(f"{doc.doc_id}::{digest}", doc.doc_id, doc.title, heading or doc.title, piece,
                                doc.task_types))
    return chunks


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def split_queries(text: str, min_chars: int = 25) -> list[str]:
    """The sentences of a long request that are long enough to search on their own."""
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip() for p in parts if len(p.strip()) >= min_chars][:40]


def boilerplate(texts: list[str], min_share: float = 0.1, min_count: int = 3) -> set[str]:
    """Sentences repeated across many requests (role-play instructions, signatures): no signal for search."""
    counts: dict[str, int] = {}
    for t in texts:
        for s in set(_norm(x) for x in split_queries(t)):
            counts[s] = counts.get(s, 0) + 1
    floor = max(min_count, int(min_share * len(texts)))
    return {s for s, c in counts.items() if c >= floor}


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class KnowledgeBase:
    """Chroma collection plus an in-memory BM25 index over the same chunks."""

    def __init__(self, chroma_path: Path | None = None, chroma_url: str = "") -> None:
        try:
            if chroma_url:
                m = re.match(r"https?://([^:/]+)(?::(\d+))?", chroma_url)
                if not m:
                    raise ConfigError(f"TANDEM_CHROMA_URL '{chroma_url}' is not an http(s) URL")
                self.client: Any = chromadb.HttpClient(host=m.group(1), port=int(m.group(2) or 8000))
            else:
                assert chroma_path is not None
                chroma_path.mkdir(parents=True, exist_ok=True)
                self.client = chromadb.PersistentClient(path=str(chroma_path),
                                                        settings=chromadb.Settings(anonymized_telemetry=False))
        except ValueError as exc:
            raise ConfigError(f"cannot open the knowledge index: {exc}") from exc
        self.collection = self.client.get_or_create_collection(COLLECTION, embedding_function=TandemMiniLM())
        self._lock = threading.Lock()
        self._bm25: Any = None
        self._chunks: list[dict[str, Any]] = []
        self._vocabulary: frozenset[str] = frozenset()
        self._version: tuple[int, int] = (-1, -1)
        self._chroma_path = None if chroma_url else chroma_path
        self._known_generation: int | None = None

    def _reopen(self) -> None:
        """Another process (the app, the worker, the command line) changed a local index: its vectors are read
        afresh from disk, since an open local client keeps the ones it loaded."""
        if self._chroma_path is None:
            return  # a Chroma server is shared and always current
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a stale client is best effort
            pass
        self.client = chromadb.PersistentClient(path=str(self._chroma_path),
                                                settings=chromadb.Settings(anonymized_telemetry=False))
        self.collection = self.client.get_or_create_collection(COLLECTION, embedding_function=TandemMiniLM())

    # ------------------------------------------------------------ writing
    def ingest(self, docs: Iterable[Document], progress: Callable[[int, int], None] | None = None,
               batch: int = 32) -> int:
        """Replace each document's chunks with fresh ones; returns the number of chunks written.
        ``progress(done, total)`` counts passages embedded, so a long PDF moves the bar too."""
        plan = [(doc, chunk_document(doc)) for doc in docs]
        total = sum(len(chunks) for _, chunks in plan)
        done = 0
        if progress:
            progress(0, total)
        for doc, chunks in plan:
            self.collection.delete(where={"doc_id": doc.doc_id})
            for start in range(0, len(chunks), batch):
                part = chunks[start:start + batch]
                self.collection.add(
                    ids=[c.chunk_id for c in part],
                    documents=[f"{c.title} — {c.heading}\n{c.text}" for c in part],  # what is embedded
                    metadatas=[{"doc_id": c.doc_id, "title": c.title, "heading": c.heading, "body": c.text,
                                "task_types": ",".join(c.task_types), "updated": doc.updated,
                                "source": doc.source} for c in part],
                )
                done += len(part)
                if progress:
                    progress(done, total)
        self._bump()
        return done

    def delete_document(self, doc_id: str) -> int:
        """Remove every chunk of ``doc_id``; returns how many there were."""
        got = self.collection.get(where={"doc_id": doc_id}, include=[])
        if got["ids"]:
            self.collection.delete(ids=got["ids"])
            self._bump()
        return len(got["ids"])

    def chunks_of(self, doc_id: str) -> list[dict[str, Any]]:
        """The passages of one document as stored (heading and text), in a stable order."""
        got = self.collection.get(where={"doc_id": doc_id}, include=["metadatas"])
        return [{"id": cid, "heading": m.get("heading", ""), "text": m.get("body", "")}
                for cid, m in zip(got["ids"], got["metadatas"] or [], strict=True)]

    def _generation(self) -> int:
        """A counter kept in the collection's metadata, raised by every write, so that every process
        (app, worker) notices a replaced document even when the number of passages is unchanged."""
        try:
            meta = self.client.get_collection(COLLECTION, embedding_function=TandemMiniLM()).metadata or {}
        except Exception:  # noqa: BLE001 - the collection was reset under us; the count check still applies
            return -1
        return int(meta.get("generation", 0))

    def _bump(self) -> None:
        new = self._generation() + 1
        self.collection.modify(metadata={"generation": new})
        self._known_generation = new
        self._version = (-1, -1)

    def ingest_paths(self, paths: Iterable[Path], progress: Callable[[int, int], None] | None = None) -> int:
        return self.ingest(load_paths(paths), progress)

    def reset(self) -> None:
        self.client.delete_collection(COLLECTION)
        self.collection = self.client.get_or_create_collection(COLLECTION, embedding_function=TandemMiniLM())
        self._version = (-1, -1)

    def count(self) -> int:
        return int(self.collection.count())

    def documents(self) -> list[dict[str, Any]]:
        got = self.collection.get(include=["metadatas"])
        docs: dict[str, dict[str, Any]] = {}
        for meta in got["metadatas"] or []:
            d = docs.setdefault(str(meta["doc_id"]), {"doc_id": meta["doc_id"], "title": meta["title"],
                                                      "updated": meta.get("updated", ""), "chunks": 0})
            d["chunks"] += 1
        return sorted(docs.values(), key=lambda d: d["title"])

    # ------------------------------------------------------------ reading
    def _ensure_bm25(self) -> None:
        stamp = (self.count(), self._generation())
        if self._bm25 is not None and stamp == self._version:
            return
        with self._lock:
            if self._known_generation is not None and stamp[1] != self._known_generation:
                self._reopen()
            self._known_generation = stamp[1]
            got = self.collection.get(include=["documents", "metadatas"])
            self._chunks = [
                {"id": cid, **meta, "text": meta.get("body", doc)}
                for cid, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
            ]
            if self._chunks:
                corpus = [_tokens(f"{c['title']} {c['heading']} {c['text']}") for c in self._chunks]
                retriever = bm25s.BM25()
                retriever.index(corpus, show_progress=False)
                self._bm25 = retriever
            self._vocabulary = frozenset(t for c in self._chunks for t in re.findall(
                r"[a-z0-9]+(?:-[a-z0-9]+)*", f"{c['title']} {c['heading']} {c['text']}".lower()))
            self._version = stamp

    def vocabulary(self) -> frozenset[str]:
        """Every word the knowledge base uses (lower case, hyphenated ones whole), in its titles, headings and text."""
        self._ensure_bm25()
        return self._vocabulary

    def _bm25_ranking(self, query: str, n: int) -> list[int]:
        if not self._chunks or self._bm25 is None:
            return []
        tokens = [t for t in _tokens(query) if t]
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [i for i in order[:n] if scores[i] > 0]

    def fused(self, queries: list[str], n: int = 30, task_type: str | None = None,
              only_task_type: bool = False, updated_after: str | None = None,
              similarity: dict[int, float] | None = None, untagged: bool = False) -> dict[int, float]:
        """Reciprocal-rank fusion of the BM25 and dense rankings of every query, over chunk indexes.
        Filters: ``only_task_type`` keeps articles written for ``task_type`` (and, with ``untagged``, articles
        written for no task type in particular, such as a new upload); ``updated_after`` (ISO date) drops articles
        not reviewed since then."""
        queries = [q[:2000] for q in queries if q.strip()]
        if not queries or self.count() == 0:
            return {}
        self._ensure_bm25()
        n = min(n, len(self._chunks))
        index = {c["id"]: i for i, c in enumerate(self._chunks)}
        dense = self.collection.query(query_texts=queries, n_results=n, include=["distances"])
        fused: dict[int, float] = {}
        for q, ids, dists in zip(queries, dense["ids"], dense["distances"] or [], strict=True):
            dense_ranking = [index[cid] for cid in ids if cid in index]
            if similarity is not None:  # cosine similarity, for an absolute sense of how good a match is
                for cid, dist in zip(ids, dists, strict=True):
                    if cid in index:
                        similarity[index[cid]] = max(similarity.get(index[cid], -1.0), 1.0 - float(dist))
            for ranking in (dense_ranking, self._bm25_ranking(q, n)):
                for rank, i in enumerate(ranking):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        def keep(i: int) -> bool:
            c = self._chunks[i]
            tags = [t for t in str(c.get("task_types", "")).split(",") if t]
            if only_task_type and task_type and task_type not in tags and not (untagged and not tags):
                return False
            return not (updated_after and str(c.get("updated") or "0000") < updated_after)

        if only_task_type or updated_after:
            fused = {i: v for i, v in fused.items() if keep(i)}
        if task_type:
            boost = len(queries) / (RRF_K + 3)
            for i in fused:
                tags = str(self._chunks[i].get("task_types", ""))
                if task_type in tags.split(",") or (untagged and not tags):  # untagged: written for any type
                    fused[i] += boost
        return fused

    def retrieve(self, query: str, k: int = 5, task_type: str | None = None, only_task_type: bool = False,
                 updated_after: str | None = None, untagged: bool = False) -> list[Passage]:
        """Top ``k`` passages for ``query``: BM25 and dense rankings fused (RRF), one passage per heading,
        with a boost for articles written for ``task_type`` and optional metadata filters."""
        sims: dict[int, float] = {}
        fused = self.fused([query], n=max(k * 6, 20), task_type=task_type, only_task_type=only_task_type,
                           updated_after=updated_after, similarity=sims, untagged=untagged)
        out: list[Passage] = []
        seen: set[tuple[str, str]] = set()
        for i, score in sorted(fused.items(), key=lambda kv: -kv[1]):
            c = self._chunks[i]
            key = (str(c["doc_id"]), str(c["heading"]))
            if key in seen:
                continue
            seen.add(key)
            out.append(Passage(doc_id=str(c["doc_id"]), title=str(c["title"]), heading=str(c["heading"]),
                               text=str(c["text"]), score=round(score, 5),
                               similarity=round(sims.get(i, 0.0), 4),
                               task_types=[t for t in str(c.get("task_types") or "").split(",") if t]))
            if len(out) >= k:
                break
        return out

    def retrieve_documents(self, query: str, k: int = 10, task_type: str | None = None,
                           ignore: set[str] | None = None) -> list[tuple[str, float]]:
        """Top ``k`` documents for a long request: the whole text and each of its sentences are searched
        (BM25 and dense), all rankings fused, and each document scored by its best passages."""
        sentences = [s for s in split_queries(query) if _norm(s) not in (ignore or set())]
        fused = self.fused([query, *sentences], n=40, task_type=task_type)
        per_doc: dict[str, list[float]] = {}
        for i, score in fused.items():
            per_doc.setdefault(str(self._chunks[i]["doc_id"]), []).append(score)
        ranked = {d: sum(sorted(v, reverse=True)[:2]) for d, v in per_doc.items()}
        return sorted(self._with_related(ranked).items(), key=lambda kv: -kv[1])[:k]

    def _with_related(self, ranked: dict[str, float], top: int = 5, weight: float = 0.6,
                      min_similarity: float = 0.5) -> dict[str, float]:
        """Documents whose titles are close to the best hits' titles are raised (siblings of a product family,
        the procedure next to the policy): score += weight × similarity × the hit's score."""
        if not ranked:
            return ranked
        titles = {str(c["doc_id"]): str(c["title"]) for c in self._chunks}
        ids = list(titles)
        vectors = shared_embedder().encode([titles[d] for d in ids])
        position = {d: i for i, d in enumerate(ids)}
        best = [d for d, _ in sorted(ranked.items(), key=lambda kv: -kv[1])[:top] if d in position]
        sims = vectors @ vectors[[position[d] for d in best]].T
        sims = np.where(sims > min_similarity, sims, 0.0) * np.array([ranked[d] for d in best])
        out = dict(ranked)
        for d, lift in zip(ids, sims.max(axis=1), strict=True):
            if lift > 0:
                out[d] = out.get(d, 0.0) + weight * float(lift)
        return out
