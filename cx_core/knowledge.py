"""The knowledge base: articles chunked by heading, stored in Chroma with MiniLM, retrieved by hybrid
BM25 + dense search fused by reciprocal rank."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import chromadb
import numpy as np
import yaml

from .config import Settings
from .embedding import TandemMiniLM, shared_embedder
from .errors import ConfigError, InvalidInput
from .models import Passage

logging.getLogger("bm25s").setLevel(logging.WARNING)
logging.getLogger("pypdf").setLevel(logging.ERROR)  # a malformed PDF is refused in one line, not warned about
COLLECTION = "kb_chunks"
SUPPORTED = {".md", ".markdown", ".txt", ".pdf", ".html", ".htm", ".docx", ".csv"}
RRF_K = 60
MB = 1024 * 1024


@dataclass
class Document:
    doc_id: str
    title: str
    text: str
    task_types: list[str] = field(default_factory=list)
    updated: str = ""
    source: str = ""


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    heading: str
    text: str
    task_types: list[str]


# a line that starts a Markdown block of its own: heading, list item, table row, code fence, rule, setext underline
_BLOCK = re.compile(r"^[ \t]{0,3}(?:#{1,6}(?:[ \t]|$)|[-*+•][ \t]|\d{1,3}[.)][ \t]|\||```|~~~|(?:[-*_][ \t]*){3,}$|"
                    r"=+[ \t]*$|-+[ \t]*$|<)")
_ITEM = re.compile(r"^[ \t]{0,3}(?:[-*+•]|\d{1,3}[.)])[ \t]")
_QUOTE_LINE = re.compile(r"^[ \t]{0,3}>[ \t]?")


def paragraphs(text: str) -> str:
    """Markdown read as paragraphs, whatever column it was wrapped at: the lines of a paragraph become one line, a
    list item's wrapped lines join the item (indented, or going on in lower case), and a quote's lines join the
    quote. Headings, list items, tables, code blocks, rules, blank lines and hard breaks (two spaces or a backslash
    at the end of a line) stay where they are, so "Restart your router by / holding the button…" is read as the one
    sentence it is."""
    out: list[str] = []
    fence = False
    open_ = ""  # what the last line out is, when a wrapped line may go on from it: "prose", "item" or "quote"
    for raw in text.splitlines():
        line = raw.rstrip()
        body = line.strip()
        if body.startswith(("```", "~~~")):
            fence, open_ = not fence, ""
            out.append(line)
            continue
        if fence or not body:
            out.append(line)
            open_ = ""
            continue
        hard = raw.endswith("  ") or line.endswith("\\")
        quote = _QUOTE_LINE.match(line)
        if quote and open_ == "quote":
            out[-1] = out[-1].rstrip("\\ ") + " " + line[quote.end():].strip()
        elif quote:
            out.append(line)
            open_ = "quote"
        elif _BLOCK.match(line):  # (a setext heading's underline too: nothing goes on from it)
            out.append(line)
            open_ = "item" if _ITEM.match(line) else ""
        elif open_ == "prose" or (open_ == "item" and (raw[:1] in " \t" or body[:1].islower())):
            out[-1] = out[-1].rstrip("\\ ") + " " + body
        else:
            out.append(line)
            open_ = "prose"
        if hard:
            open_ = ""
    return "\n".join(out)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "document"


@dataclass(frozen=True)
class IngestLimits:
    """How big a knowledge file may be, checked on every ingest path (upload page, ``ingest-kb``, any caller of
    ``parse_upload``) before anything is inflated or parsed: a small DOCX or PDF can unpack to gigabytes."""

    file_bytes: int  # the file as uploaded or on disk
    unpacked_bytes: int  # a DOCX's parts together, one PDF stream, the text of any document
    parts: int  # files inside a DOCX
    pages: int  # pages of a PDF

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestLimits:
        return cls(file_bytes=settings.max_upload_mb * MB, unpacked_bytes=settings.max_unpacked_mb * MB,
                   parts=settings.max_document_parts, pages=settings.max_pdf_pages)

    def too_big(self, name: str, what: str, size: int, limit: int, setting: str) -> InvalidInput:
        return InvalidInput(f"{name}: {what} {_mb(size)}, over the {_mb(limit)} limit ({setting})")


def _mb(size: int) -> str:
    return f"{size / MB:.0f} MB" if size >= 10 * MB else f"{size / MB:.1f} MB"


DEFAULT_LIMITS = IngestLimits.from_settings(Settings.model_construct())


def parse_document(path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> Document:
    """A file as a ``Document`` (see ``parse_upload`` for the formats); a file over the size limit is refused
    before it is read."""
    try:
        size = path.stat().st_size
        if size > limits.file_bytes:
            raise limits.too_big(path.name, "the file is", size, limits.file_bytes, "TANDEM_MAX_UPLOAD_MB")
        with path.open("rb") as fh:
            data = fh.read(limits.file_bytes + 1)  # a device or a growing file stops at the limit too
    except OSError as exc:
        raise InvalidInput(f"{path.name}: cannot be read ({exc.strerror})") from exc
    return parse_upload(path.name, data, limits)


def parse_upload(name: str, data: bytes, limits: IngestLimits = DEFAULT_LIMITS) -> Document:
    """Markdown/text (YAML front matter gives id, title, task_types, updated, audience), PDF, HTML, DOCX, or an FAQ
    CSV (one question and answer a row). Headings become sections; the result is Markdown-shaped text, read as
    paragraphs whatever column the file was wrapped at. A file over ``limits`` is refused with one line naming it
    and the limit."""
    suffix = Path(name).suffix.lower()
    stem = Path(name).stem
    if suffix not in SUPPORTED:
        raise InvalidInput(f"{name}: unsupported file type '{suffix or 'none'}' (use {', '.join(sorted(SUPPORTED))})")
    if len(data) > limits.file_bytes:
        raise limits.too_big(name, "the file is", len(data), limits.file_bytes, "TANDEM_MAX_UPLOAD_MB")
    if not data.strip():
        raise InvalidInput(f"{name}: the file is empty")
    meta: dict[str, Any] = {}
    if suffix in {".md", ".markdown", ".txt"}:
        meta, body = _front_matter(name, _text(name, data))
        body = paragraphs(body)
        heading = re.search(r"^#\s+(.+)$", body, re.M)
        title = str(meta.get("title") or (heading.group(1).strip() if heading else stem.replace("-", " ").title()))
        if _internal(meta) and not re.match(r"^internal\b", title, re.I):
            title = f"Internal: {title}"  # for staff: guides advisors and the agent, never quoted to a customer
    else:
        parser = {".pdf": _pdf, ".html": _html, ".htm": _html, ".docx": _docx, ".csv": _faq_csv}[suffix]
        title, body = parser(name, data, limits)
        title = title or stem.replace("-", " ").replace("_", " ").title()
    if len(body) > limits.unpacked_bytes:
        raise limits.too_big(name, "its text is", len(body), limits.unpacked_bytes, "TANDEM_MAX_UNPACKED_MB")
    if not body.strip():
        raise InvalidInput(f"{name}: no text found in the document"
                           + (" (a scanned PDF needs text recognition first)" if suffix == ".pdf" else ""))
    types = meta.get("task_types", []) or []
    return Document(
        doc_id=str(meta.get("id") or _slug(stem)),
        title=title,
        text=body.strip(),
        task_types=[str(t).strip() for t in (types.split(",") if isinstance(types, str) else types) if str(t).strip()],
        updated=str(meta.get("updated", "")),
        source=name,
    )


def _internal(meta: dict[str, Any]) -> bool:
    """Front matter that says the document is for staff: ``audience: staff`` (or ``internal``), ``internal: true``."""
    audience = str(meta.get("audience") or "").strip().lower()
    return audience in {"staff", "internal", "advisors", "agents"} or meta.get("internal") is True


def find_files(paths: Iterable[Path]) -> list[Path]:
    """Every supported file under the given files and folders, in order; a path that does not exist is refused."""
    paths = list(paths)
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED and p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or folder")
    if not files:
        raise InvalidInput(f"{', '.join(map(str, paths)) or 'no path given'}: no documents found (supported: "
                           + ", ".join(sorted(SUPPORTED)) + ")")
    return files


def load_paths(paths: Iterable[Path], limits: IngestLimits = DEFAULT_LIMITS) -> list[Document]:
    """Every supported file under the given files and folders, parsed (all or nothing: for a shipped set such as
    the demo articles; ``kb_docs.parse_paths`` and ``kb_docs.store`` keep the good files of a mixed batch)."""
    return [parse_document(p, limits) for p in find_files(paths)]


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: not UTF-8 text (save it as UTF-8 and upload again)") from exc


def _front_matter(name: str, raw: str) -> tuple[dict[str, Any], str]:
    if raw.startswith("---"):
        parts = raw.split("---", 2)
        if len(parts) == 3:
            try:
                loaded = yaml.safe_load(parts[1]) or {}
            except yaml.YAMLError as exc:
                raise InvalidInput(f"{name}: front matter is not valid YAML") from exc
            return (loaded if isinstance(loaded, dict) else {}), parts[2]
    return {}, raw


def _pdf(name: str, data: bytes, limits: IngestLimits) -> tuple[str, str]:
    """Each page's text; short title-case lines ending without a full stop become headings. pypdf's own output
    limits are set to ours, so a stream that inflates past them stops there."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PyPdfError

    cap = limits.unpacked_bytes
    try:
        with apply_configuration(zlib_maximum_output_length=cap, lzw_maximum_output_length=cap,
                                 run_length_maximum_output_length=cap, brotli_maximum_output_length=cap,
                                 jbig2_maximum_output_length=cap, array_based_stream_maximum_output_length=cap,
                                 maximum_declared_stream_length=cap, image_maximum_buffer_size=cap,
                                 stream_decoding_work_maximum_length=cap):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise InvalidInput(f"{name}: the PDF is password-protected (upload an unprotected copy)")
            if len(reader.pages) > limits.pages:
                raise InvalidInput(f"{name}: {len(reader.pages)} pages, over the {limits.pages} page limit "
                                   "(TANDEM_MAX_PDF_PAGES)")
            pages: list[str] = []
            size = 0
            for page in reader.pages:
                pages.append(page.extract_text() or "")
                if not pages[-1].strip():
                    page.get_contents()  # text extraction passes over a stream it could not unpack: say why
                size += len(pages[-1])
                if size > cap:
                    raise limits.too_big(name, "its text is", size, cap, "TANDEM_MAX_UNPACKED_MB")
            meta_title = str((reader.metadata.get("/Title") if reader.metadata else "") or "").strip()
    except LimitReachedError as exc:
        raise InvalidInput(f"{name}: a part of the PDF unpacks to more than the {_mb(cap)} limit "
                           "(TANDEM_MAX_UNPACKED_MB)") from exc
    except (PyPdfError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InvalidInput(f"{name}: not a readable PDF ({' '.join(str(exc).split())[:80]})") from exc
    lines: list[str] = []
    for text in pages:
        for line in text.splitlines():
            line = line.strip()
            if not line:
                lines.append("")
            elif _looks_like_heading(line):
                lines += ["", f"## {line}", ""]
            else:
                lines.append(re.sub(r"^[•◦▪●‣∙]\s*", "- ", line))
        if lines and lines[-1].strip().endswith((".", "!", "?", ":")) or lines and lines[-1].startswith("## "):
            lines.append("")  # a page that ends mid-sentence goes on with the next page's first line
    body = paragraphs("\n".join(lines))
    first = next((ln.lstrip("# ") for ln in lines if ln.strip()), "")
    return meta_title or first[:120], body


def _looks_like_heading(line: str) -> bool:
    words = line.split()
    return (1 <= len(words) <= 9 and line[-1] not in ".,;:" and line[0].isupper()
            and sum(w[0].isupper() for w in words if w[0].isalpha()) >= max(1, len(words) // 2)
            and not re.search(r"\d{3,}", line))


_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)


def _html(name: str, data: bytes, limits: IngestLimits) -> tuple[str, str]:
    from bs4 import BeautifulSoup

    if re.search(rb"<!ENTITY", data, re.I):
        raise InvalidInput(f"{name}: the page declares XML entities (a 'billion laughs' pattern web pages never "
                           "need); save it as plain HTML")
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "header", "noscript", "form"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    out: list[str] = []
    for el in (soup.body or soup).find_all(["h1", "h2", "h3", "h4", "p", "li", "td", "pre", "blockquote"]):
        text = el.get_text(" ", strip=True)
        if not text:
            continue
        if el.name in {"h1", "h2", "h3", "h4"}:
            level = min(int(el.name[1]), 3)
            title = title or (text if level == 1 else "")
            out += ["", "#" * level + " " + text, ""]
        elif el.name == "li":
            out.append(f"- {text}")
        elif el.name == "td" and el.find_parent("td") is None:
            out.append(text)
        elif el.find_parent(["li", "td"]) is None:
            out += [text, ""]
    return title, "\n".join(out)


def _repack_docx(name: str, data: bytes, limits: IngestLimits) -> bytes:
    """The DOCX re-packed from its parts, each read no further than its declared size: python-docx reads a part
    whole, and zipfile inflates all of it before cutting it to that size, so a part that lies about its size
    would still take gigabytes. Refused: too many parts, declared sizes over the unpacked limit, a part that does
    not match its declared size and checksum, and XML that declares a DTD (Word never writes one; its entities
    are the 'billion laughs' expansion)."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > limits.parts:
                raise InvalidInput(f"{name}: {len(infos)} parts, over the {limits.parts} part limit "
                                   "(TANDEM_MAX_DOCUMENT_PARTS)")
            total = sum(i.file_size for i in infos)
            if total > limits.unpacked_bytes:
                raise limits.too_big(name, "it unpacks to", total, limits.unpacked_bytes, "TANDEM_MAX_UNPACKED_MB")
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as clean:
                for info in infos:
                    with zf.open(info) as part:
                        body = part.read(info.file_size)  # stops at the declared size and checks the CRC there
                    if info.filename.lower().endswith((".xml", ".rels")) and _DTD.search(body):
                        raise InvalidInput(f"{name}: {info.filename} declares a DTD or XML entities, which Word "
                                           "never writes (a 'billion laughs' pattern); save it again from Word")
                    clean.writestr(info.filename, body)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise InvalidInput(f"{name}: not a readable Word (.docx) file ({' '.join(str(exc).split())[:80]})") from exc
    return out.getvalue()


def _docx(name: str, data: bytes, limits: IngestLimits) -> tuple[str, str]:
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(_repack_docx(name, data, limits)))
    except (zipfile.BadZipFile, KeyError, ValueError, SyntaxError) as exc:  # lxml's XMLSyntaxError is one
        raise InvalidInput(f"{name}: not a readable Word (.docx) file") from exc
    title = (document.core_properties.title or "").strip()
    out: list[str] = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        level = re.match(r"Heading (\d)", style)
        if style == "Title":
            title = title or text
            out += [f"# {text}", ""]
        elif level:
            out += ["", "#" * min(int(level.group(1)) + 1, 3) + " " + text, ""]
        elif "List" in style:
            out.append(f"- {text}")
        else:
            out += [text, ""]
    for table in document.tables:
        for row in table.rows:
            out.append(" | ".join(cell.text.strip() for cell in row.cells))
        out.append("")
    return title, "\n".join(out)


FAQ_QUESTION = ("question", "q", "title")
FAQ_ANSWER = ("answer", "a", "response", "body")


def _faq_csv(name: str, data: bytes, limits: IngestLimits) -> tuple[str, str]:
    """An FAQ sheet: a question column and an answer column (``question``/``answer``, or ``q``/``a``)."""
    import csv

    try:
        rows = list(csv.reader(io.StringIO(_text(name, data))))
    except csv.Error as exc:
        raise InvalidInput(f"{name}: not a readable CSV ({exc})") from exc
    if not rows:
        raise InvalidInput(f"{name}: the CSV is empty")
    header = [h.strip().lower() for h in rows[0]]
    q = next((header.index(h) for h in FAQ_QUESTION if h in header), None)
    a = next((header.index(h) for h in FAQ_ANSWER if h in header), None)
    if q is None or a is None:
        found = ", ".join(f"'{h.strip()[:40]}'" for h in rows[0][:8] if h.strip()) or "none"
        raise InvalidInput(f"{name}: an FAQ CSV needs a 'question' and an 'answer' column; found {found}, expected "
                           f"one of {', '.join(FAQ_QUESTION)} and one of {', '.join(FAQ_ANSWER)}")
    out: list[str] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if len(row) <= max(q, a):
            if any(cell.strip() for cell in row):
                raise InvalidInput(f"{name}: line {line_no} has {len(row)} columns, expected at least {max(q, a) + 1}")
            continue
        if row[q].strip() and row[a].strip():
            out += [f"## {row[q].strip()}", "", row[a].strip(), ""]
    if not out:
        raise InvalidInput(f"{name}: no row has both a question and an answer (columns "
                           f"'{rows[0][q].strip()}' and '{rows[0][a].strip()}')")
    return "", "\n".join(out)


def chunk_document(doc: Document, max_chars: int = 1200) -> list[Chunk]:
    """One chunk per ``##`` section (long sections split by paragraph), each prefixed by its title."""
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
            self._version = stamp

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
                               similarity=round(sims.get(i, 0.0), 4)))
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
