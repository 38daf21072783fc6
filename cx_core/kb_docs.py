"""Knowledge-base documents as people manage them: upload (any supported format) with versions, replace,
delete, passage preview, and the health of the base: **stale** documents (old and never cited) and **gaps**
(task types whose retrieval is weak, frequent questions that no document answers well)."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from . import audit
from .access import StaffUser, require
from .documents import DEFAULT_LIMITS, Document, IngestLimits, find_files, parse_document, parse_upload
from .errors import InvalidInput, NotFound
from .knowledge import KnowledgeBase, chunk_document
from .models import ProcessResult, Role
from .store.db import Database, utcnow
from .store.tables import KbVersionRow, TicketRow

EDITOR_ROLE = Role.supervisor  # who may upload, replace and delete documents
WEAK_MATCH = 0.45  # best passage's cosine similarity below this: the base had no good answer
Progress = Callable[[int, int], None]


def _digest(doc: Document) -> str:
    return hashlib.sha256(f"{doc.title}\n{doc.text}".encode()).hexdigest()


def _tags(doc: Document | KbVersionRow) -> tuple[str, str]:
    """What a document's front matter says of it beside its text: the task types it is written for, and when it was
    last reviewed. A change to either is a change of the document."""
    kinds = doc.task_types if isinstance(doc.task_types, str) else ",".join(doc.task_types)
    return kinds[:300], (doc.updated or "")[:20]


def ingest(db: Database, kb: KnowledgeBase, docs: Iterable[Document], actor: str,
           progress: Progress | None = None) -> list[dict[str, Any]]:
    """Index ``docs`` and record a new version of each; a document whose text has not changed is left as it is."""
    docs = list(docs)
    seen: set[str] = set()
    for d in docs:
        if d.doc_id in seen:
            raise InvalidInput(f"two files would both become the document '{d.doc_id}': rename one of them")
        seen.add(d.doc_id)
    with db.session() as s:
        latest = _latest(s, [d.doc_id for d in docs])
    indexed = {str(d["doc_id"]) for d in kb.documents()}
    changed = [d for d in docs if d.doc_id not in latest or latest[d.doc_id].sha256 != _digest(d)
               or latest[d.doc_id].deleted or d.doc_id not in indexed or _tags(latest[d.doc_id]) != _tags(d)]
    counts = {d.doc_id: len(chunk_document(d)) for d in changed}
    kb.ingest(changed, progress)
    out: list[dict[str, Any]] = []
    with db.tx() as s:
        for d in docs:
            prev = latest.get(d.doc_id)
            if d not in changed:
                out.append({"doc_id": d.doc_id, "title": d.title, "version": prev.version if prev else 0,
                            "status": "unchanged", "passages": prev.chunks if prev else 0})
                continue
            version = (prev.version if prev else 0) + 1
            s.add(KbVersionRow(doc_id=d.doc_id, version=version, title=d.title[:300], source=d.source[:300],
                               format=(d.source.rsplit(".", 1)[-1].lower() if "." in d.source else "md")[:20],
                               sha256=_digest(d), chunks=counts[d.doc_id], task_types=",".join(d.task_types)[:300],
                               updated=d.updated[:20], by=actor, at=utcnow(), deleted=False))
            audit.append(s, actor, "kb.uploaded", None, doc_id=d.doc_id, version=version, title=d.title,
                         source=d.source, passages=counts[d.doc_id])
            out.append({"doc_id": d.doc_id, "title": d.title, "version": version,
                        "status": "replaced" if prev and not prev.deleted else "added", "passages": counts[d.doc_id]})
    return out


Parsed = list[tuple[str, Document | InvalidInput]]  # each file's name with its document, or why it was refused


def parse_files(files: list[tuple[str, bytes]], limits: IngestLimits = DEFAULT_LIMITS) -> Parsed:
    """Each uploaded file parsed on its own, within ``limits``."""
    out: Parsed = []
    for name, data in files:
        try:
            out.append((name, parse_upload(name, data, limits)))
        except InvalidInput as exc:
            out.append((name, exc))
    return out


def parse_paths(paths: Iterable[Path], limits: IngestLimits = DEFAULT_LIMITS) -> Parsed:
    """Each supported file under the given files and folders parsed on its own, within ``limits`` (a file over the
    size limit is refused before it is read); a path that does not exist is refused like a bad file."""
    out: Parsed = []
    for path in paths:
        try:
            files = find_files([path])
        except InvalidInput as exc:
            out.append((str(path), exc))
            continue
        for file in files:
            try:
                out.append((str(file), parse_document(file, limits)))
            except InvalidInput as exc:
                out.append((str(file), exc))
    return out


def store(db: Database, kb: KnowledgeBase, parsed: Parsed, actor: str,
          progress: Progress | None = None) -> list[dict[str, Any]]:
    """Index the good files of a batch and say, per file in order, what was stored (``added``, ``replaced``,
    ``unchanged``, with version and passages) or ``refused`` and why: a bad file never costs its neighbours
    their upload. A second file that would become the same document as an earlier one is refused."""
    outcomes: list[dict[str, Any]] = []
    good: list[tuple[int, Document]] = []
    owner: dict[str, str] = {}
    for name, doc in parsed:
        if isinstance(doc, InvalidInput):
            outcomes.append({"file": name, "status": "refused", "reason": str(doc)})
        elif doc.doc_id in owner:
            outcomes.append({"file": name, "status": "refused",
                             "reason": f"{name}: would become the document '{doc.doc_id}' like {owner[doc.doc_id]} "
                                       "in the same batch; rename one of them"})
        else:
            owner[doc.doc_id] = name
            good.append((len(outcomes), doc))
            outcomes.append({"file": name})
    stored = ingest(db, kb, [doc for _, doc in good], actor, progress) if good else []
    for (at, _), out in zip(good, stored, strict=True):
        outcomes[at].update(out)
    return outcomes


def upload(db: Database, kb: KnowledgeBase, user: StaffUser, files: list[tuple[str, bytes]],
           replace: str | None = None, progress: Progress | None = None,
           limits: IngestLimits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """The upload page: every file parsed on its own within ``limits``, the good ones stored (see ``store`` for
    the per-file outcome). ``replace`` makes the single uploaded file the new version of that document, whatever
    its file name."""
    user = require(user, EDITOR_ROLE, db)
    if not files:
        raise InvalidInput("choose at least one file to upload")
    if replace and len(files) != 1:
        raise InvalidInput("replace takes exactly one file")
    parsed = parse_files(files, limits)
    if replace:
        for _, doc in parsed:
            if isinstance(doc, Document):
                doc.doc_id = replace
    return store(db, kb, parsed, user.username, progress)


def delete(db: Database, kb: KnowledgeBase, user: StaffUser, doc_id: str, why: str) -> int:
    """Remove a document from the base (its version history stays); returns the passages removed."""
    user = require(user, EDITOR_ROLE, db)
    if not why.strip():
        raise InvalidInput("say why the document is deleted (it goes in the audit log)")
    removed = kb.delete_document(doc_id)
    with db.tx() as s:
        rows = s.scalars(select(KbVersionRow).where(KbVersionRow.doc_id == doc_id, KbVersionRow.deleted.is_(False)))
        marked = 0
        for row in rows:
            row.deleted = True
            marked += 1
        if not removed and not marked:
            raise NotFound(f"document {doc_id} not found")
        audit.append(s, user.username, "kb.deleted", None, doc_id=doc_id, passages=removed, why=why.strip()[:500])
    return removed


def versions(db: Database, doc_id: str) -> list[dict[str, Any]]:
    with db.session() as s:
        rows = s.scalars(select(KbVersionRow).where(KbVersionRow.doc_id == doc_id)
                         .order_by(KbVersionRow.version.desc())).all()
        return [{"version": r.version, "title": r.title, "source": r.source, "passages": r.chunks, "by": r.by,
                 "at": r.at, "deleted": r.deleted} for r in rows]


def _latest(s: Any, doc_ids: list[str] | None = None) -> dict[str, KbVersionRow]:
    stmt = select(KbVersionRow).order_by(KbVersionRow.version)
    if doc_ids is not None:
        stmt = stmt.where(KbVersionRow.doc_id.in_(doc_ids))
    return {r.doc_id: r for r in s.scalars(stmt)}


def _recent_results(db: Database, since: datetime, limit: int = 5000) -> list[tuple[TicketRow, ProcessResult]]:
    with db.session() as s:
        rows = s.scalars(select(TicketRow).where(TicketRow.processed_at >= since, TicketRow.result.is_not(None))
                         .order_by(TicketRow.processed_at.desc()).limit(limit)).all()
        out = []
        for r in rows:
            try:
                out.append((r, ProcessResult.model_validate(r.result)))
            except ValueError:
                continue
        return out


def documents(db: Database, kb: KnowledgeBase, now: datetime | None = None, stale_days: int = 180,
              window_days: int = 90) -> list[dict[str, Any]]:
    """Every live document with its version, size, citations in the window and whether it is stale
    (not updated or uploaded for ``stale_days`` and never cited in the window)."""
    now = now or utcnow()
    cited: Counter[str] = Counter()
    last_cited: dict[str, datetime] = {}
    for row, result in _recent_results(db, now - timedelta(days=window_days)):
        for doc_id in {c.doc_id for c in result.draft.citations}:
            cited[doc_id] += 1
            if row.processed_at and (doc_id not in last_cited or row.processed_at > last_cited[doc_id]):
                last_cited[doc_id] = row.processed_at
    with db.session() as s:
        latest = _latest(s)
    out = []
    for d in kb.documents():
        v = latest.get(str(d["doc_id"]))
        changed = _as_date(d.get("updated")) or (v.at if v else None)
        age = (now - changed).days if changed else None
        out.append({"doc_id": d["doc_id"], "title": d["title"], "version": v.version if v else 1,
                    "format": v.format if v else "md", "passages": d["chunks"], "updated": changed,
                    "uploaded_by": v.by if v else "", "cited": cited.get(str(d["doc_id"]), 0),
                    "last_cited": last_cited.get(str(d["doc_id"])),
                    "stale": bool(age is not None and age > stale_days and not cited.get(str(d["doc_id"])))})
    return out


def _as_date(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def gaps(db: Database, now: datetime | None = None, window_days: int = 30, weak: float = WEAK_MATCH,
         min_tickets: int = 3) -> dict[str, Any]:
    """Where the base does not answer: per task type, how often the best passage was a weak match; and the
    requests (by intent) most often left without a good document, with examples."""
    now = now or utcnow()
    per_type: dict[str, list[float]] = defaultdict(list)
    unanswered: dict[str, list[str]] = defaultdict(list)
    for row, result in _recent_results(db, now - timedelta(days=window_days)):
        sims = [p.similarity for p in result.passages if p.similarity]
        if not sims and result.passages:
            continue  # processed before similarities were recorded
        best = max(sims, default=0.0)
        per_type[result.triage.task_type].append(best)
        if best < weak:
            unanswered[result.triage.intent].append(row.subject or row.body[:80])
    stats = {t: (sum(x < weak for x in v) / len(v), sum(v) / len(v)) for t, v in per_type.items()}
    task_types = [{"task_type": t, "tickets": len(per_type[t]), "mean_match": round(stats[t][1], 3),
                   "weak_share": round(stats[t][0], 3)}
                  for t in sorted(stats, key=lambda t: (-stats[t][0], stats[t][1]))]
    questions = [{"intent": i, "tickets": len(unanswered[i]), "examples": unanswered[i][:3]}
                 for i in sorted(unanswered, key=lambda i: -len(unanswered[i])) if len(unanswered[i]) >= min_tickets]
    return {"weak_below": weak, "task_types": task_types, "questions": questions}
