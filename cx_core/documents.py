"""Documents for the knowledge base: files and uploads (Markdown, text, PDF, HTML, DOCX, FAQ CSV) read into plain
text with their front matter, within the size and page limits an operator sets; hard-wrapped text joined into
paragraphs."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .config import Settings
from .errors import InvalidInput

logging.getLogger("pypdf").setLevel(logging.ERROR)  # a malformed PDF is refused in one line, not warned about
SUPPORTED = {".md", ".markdown", ".txt", ".pdf", ".html", ".htm", ".docx", ".csv"}
MB = 1024 * 1024


@dataclass
class Document:
    doc_id: str
    title: str
    text: str
    task_types: list[str] = field(default_factory=list)
    updated: str = ""
    source: str = ""


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
        missing = [f"no {what} column (name one {', '.join(names)})" for what, names, at in
                   (("question", FAQ_QUESTION, q), ("answer", FAQ_ANSWER, a)) if at is None]
        raise InvalidInput(f"{name}: an FAQ CSV needs a question and an answer column: {' and '.join(missing)}; "
                           f"the header has {found}")
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
