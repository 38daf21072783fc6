"""Hostile input stays harmless: knowledge files that unpack to gigabytes are refused on every ingest path with
the ingesting process's memory measured, a mixed batch stores its good files, customer and document Markdown is
shown as text (or without remote images and live links), and CSV cells that start like a formula stay text."""

from __future__ import annotations

import csv
import io
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from cx_core import exports, kb_docs
from cx_core.access import StaffUser
from cx_core.config import PROJECT_ROOT, Settings
from cx_core.documents import DEFAULT_LIMITS, MB, IngestLimits, parse_upload
from cx_core.errors import InvalidInput
from cx_core.models import Role
from cx_core.safe_text import WORD_JOINER, contacts_as_code, escape_markdown, inline_code, safe_markdown
from cx_core.services import Services
from tests.test_operations import docx_bytes, pdf_bytes

pytestmark = pytest.mark.hostile
SUPERVISOR = StaffUser("sam", "Sam Supervisor", Role.supervisor)
GB = 1 << 30
PEAK_RSS_MB = 500


# ---------------------------------------------------------------- bombs, built fast
def deflated(total: int, chunk: bytes = b" " * MB) -> tuple[bytes, int, int]:
    """Raw deflate data that inflates to ``total`` bytes of ``chunk`` repeated, with its CRC-32 and Adler-32.
    After a full flush deflate starts afresh, so every chunk compresses to the same bytes: compressed once, the
    block is repeated (a gigabyte costs a second, not a minute)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    times = total // len(chunk)
    crc, adler = 0, 1
    for _ in range(times):
        crc, adler = zlib.crc32(chunk, crc), zlib.adler32(chunk, adler)
    return block * times + packer.flush(), crc, adler


def zip_with(entries: dict[str, bytes], bomb: str, size: int, declared: int | None = None) -> bytes:
    """A zip holding ``entries`` and the entry ``bomb`` that inflates to ``size`` bytes of spaces, which the zip's
    headers say is ``declared`` bytes (the truth when None) with the checksum of those first bytes, so a reader
    that stops at the declared size finds nothing wrong. Written by hand: zipfile would compress the gigabyte."""
    data, crc, _ = deflated(size)
    members = [(name, zlib.compress(body, 9)[2:-4], zlib.crc32(body), len(body)) for name, body in entries.items()]
    members.append((bomb, data, zlib.crc32(b" " * declared) if declared else crc, declared or size))
    out = io.BytesIO()
    directory = b""
    for name, raw, crc_, size_ in members:
        fields = (8, 0, 0, crc_, len(raw), size_, len(name))  # deflate, time, date, crc, sizes, name length
        directory += (b"PK\x01\x02" + struct.pack("<HHH", 20, 20, 0) + struct.pack("<HHHIIIH", *fields)
                      + struct.pack("<HHHHII", 0, 0, 0, 0, 0, out.tell()) + name.encode())
        out.write(b"PK\x03\x04" + struct.pack("<HH", 20, 0) + struct.pack("<HHHIIIH", *fields)
                  + struct.pack("<H", 0) + name.encode() + raw)
    start = out.tell()
    out.write(directory + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(members), len(members), len(directory),
                                                      start, 0))
    return out.getvalue()


def docx_parts() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(docx_bytes())) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def zip_bomb_docx(declared: int | None = None) -> bytes:
    """A real Word file whose document.xml inflates to a gigabyte (declared as ``declared`` bytes, if given)."""
    parts = {k: v for k, v in docx_parts().items() if k != "word/document.xml"}
    return zip_with(parts, "word/document.xml", GB, declared)


LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10)) + b"]>\n")


def laughs_docx() -> bytes:
    """Billion laughs in a Word file's document.xml."""
    parts = docx_parts()
    body = parts["word/document.xml"].split(b"?>", 1)[-1]
    parts["word/document.xml"] = LAUGHS + body.replace(b"Gift wrap costs", b"&lol9; Gift wrap costs")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


def laughs_html() -> bytes:
    return LAUGHS + b"<html><body><h1>Prices</h1><p>&lol9;</p></body></html>"


def pdf_bomb(size: int = GB) -> bytes:
    """A one-page PDF whose FlateDecode content stream inflates to ``size`` bytes."""
    raw, _, adler = deflated(size)
    stream = b"\x78\xda" + raw + adler.to_bytes(4, "big")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out = io.BytesIO(b"%PDF-1.4\n")
    out.seek(0, io.SEEK_END)
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
              + b"".join(b"%010d 00000 n \n" % o for o in offsets)
              + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    files = {"zip-bomb.docx": zip_bomb_docx(), "lying-zip.docx": zip_bomb_docx(declared=4096),
             "laughs.docx": laughs_docx(), "laughs.html": laughs_html(), "bomb.pdf": pdf_bomb()}
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    huge = folder / "huge.txt"
    with huge.open("wb") as fh:
        fh.truncate(GB)  # sparse: a gigabyte of text that takes no disk
    paths["huge.txt"] = huge
    return paths


# Forks the command from a small process and reports its peak memory from wait4. A process started straight
# from pytest would carry pytest's own high-water mark (Linux keeps it across fork and exec), so the ingesting
# process is the launcher's child, whose mark starts from the launcher's few megabytes.
LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
print(f"peak-rss-kb {usage.ru_maxrss}", file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(args: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    """Run ``python ARGS``; its exit code, stderr and peak resident memory in MB (from its own rusage)."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    *lines, last = done.stderr.strip().splitlines()
    assert last.startswith("peak-rss-kb "), done.stderr
    return done.returncode, "\n".join(lines), int(last.split()[1]) / 1024  # Linux reports kilobytes


EXPECTED = {"zip-bomb.docx": "it unpacks to 1025 MB, over the 50 MB limit (TANDEM_MAX_UNPACKED_MB)",
            "lying-zip.docx": "not a readable Word (.docx) file",
            "laughs.docx": "declares a DTD or XML entities",
            "laughs.html": "declares XML entities",
            "bomb.pdf": "unpacks to more than the 50 MB limit (TANDEM_MAX_UNPACKED_MB)",
            "huge.txt": "the file is 1024 MB, over the 20 MB limit (TANDEM_MAX_UPLOAD_MB)"}


def test_command_line_refuses_every_bomb_with_little_memory(bombs: dict[str, Path], tmp_path: Path) -> None:
    env = {**os.environ, "TANDEM_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    code, err, peak = run_measured(["-m", "cx_core", "ingest-kb", *map(str, bombs.values())], env)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == len(bombs), err
    for name, says in EXPECTED.items():
        line = next(ln for ln in lines if name in ln)
        assert line.startswith("error: ") and says in line, line
    assert peak < PEAK_RSS_MB, f"peak RSS {peak:.0f} MB"
    print(f"peak RSS {peak:.0f} MB")


def test_upload_path_refuses_every_bomb_with_little_memory(bombs: dict[str, Path], tmp_path: Path) -> None:
    """The page's path (bytes in memory, parsed by ``kb_docs.parse_files``) in its own measured process."""
    script = ("import sys; from pathlib import Path; from cx_core import kb_docs\n"
              "files = [(Path(p).name, Path(p).read_bytes()) for p in sys.argv[1:]]\n"
              "for name, doc in kb_docs.parse_files(files): print(doc, file=sys.stderr)\n")
    small = [str(p) for name, p in bombs.items() if name != "huge.txt"]
    env = {**os.environ, "TANDEM_DATA_DIR": str(tmp_path / "data")}
    code, err, peak = run_measured(["-c", script, *small], env)
    assert code == 0, err
    for name in (Path(p).name for p in small):
        assert EXPECTED[name] in next(ln for ln in err.splitlines() if ln.startswith(name)), err
    assert peak < PEAK_RSS_MB, f"peak RSS {peak:.0f} MB"
    print(f"peak RSS {peak:.0f} MB")


def test_limits_come_from_the_settings_and_the_uploader_enforces_the_same() -> None:
    import tomllib

    settings = Settings.model_construct()
    assert DEFAULT_LIMITS == IngestLimits.from_settings(settings)
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == settings.max_upload_mb
    tight = IngestLimits(file_bytes=1000, unpacked_bytes=5000, parts=3, pages=1)
    with pytest.raises(InvalidInput, match=r"^big\.md: the file is 0\.0 MB, over the 0\.0 MB limit"):
        parse_upload("big.md", b"# Big\n\n" + b"x" * 2000, tight)
    with pytest.raises(InvalidInput, match=r"^gift\.docx: 17 parts, over the 3 part limit \(TANDEM_MAX_DOCUMENT_PARTS\)$"):
        parse_upload("gift.docx", docx_bytes(), IngestLimits(file_bytes=MB, unpacked_bytes=MB, parts=3, pages=1))
    two_pages = pdf_bytes("Long", [(f"Part {i}", "A sentence of text. " * 40) for i in range(8)])
    with pytest.raises(InvalidInput, match=r"^long\.pdf: \d+ pages, over the 1 page limit \(TANDEM_MAX_PDF_PAGES\)$"):
        parse_upload("long.pdf", two_pages, IngestLimits(file_bytes=MB, unpacked_bytes=MB, parts=3, pages=1))


def test_a_mixed_batch_stores_the_good_files_and_says_why_the_others_were_not(services: Services) -> None:
    db, kb = services.db, services.kb
    out = kb_docs.upload(db, kb, SUPERVISOR, [
        ("gift-faq.csv", b"question,answer\nDo you gift wrap?,Yes, for 4 dollars an item.\n"),
        ("prices.csv", b"item,price\nwrap,4\n"),
        ("bomb.docx", zip_bomb_docx()),
        ("returns-note.md", b"# Returns note\n\n## Window\n\nReturns are accepted for 30 days."),
        ("returns-note.txt", b"# Returns note again\n\nSame id as the Markdown file."),
    ])
    assert [o["status"] for o in out] == ["added", "refused", "refused", "added", "refused"]
    assert out[1]["reason"] == ("prices.csv: an FAQ CSV needs a question and an answer column: no question column "
                                "(name one question, q, title) and no answer column (name one answer, a, response, "
                                "body); the header has 'item', 'price'")
    assert out[2]["reason"].startswith("bomb.docx: it unpacks to 1025 MB, over the 50 MB limit")
    assert "would become the document 'returns-note' like returns-note.md" in out[4]["reason"]
    assert {"gift-faq", "returns-note"} <= {d["doc_id"] for d in kb.documents()}
    assert all("\n" not in o.get("reason", "") for o in out)


def test_command_line_stores_the_good_files_of_a_mixed_batch(services: Services, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from cx_core import cli

    good = tmp_path / "care.md"
    good.write_text("# Care\n\n## Cleaning\n\nWipe the filter monthly.")
    bad = tmp_path / "faq.csv"
    bad.write_text("question,answer\n,\n")
    monkeypatch.setenv("TANDEM_DATA_DIR", str(services.settings.data_dir))
    assert cli.main(["ingest-kb", str(good), str(bad), str(tmp_path / "missing.md")]) == 2
    out, err = capsys.readouterr()
    assert "added  care  v1" in out
    assert [ln for ln in err.splitlines() if ln.startswith("error")] == [f"error: {bad.name}: no row has both a question and an answer (columns 'question' and "
                                "'answer')", f"error: {tmp_path / 'missing.md'}: no such file or folder"]


def test_a_passage_written_twice_is_stored_once_and_blocks_nothing_beside_it(
        services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An FAQ with a row repeated (and a Markdown article with a section pasted twice) is stored with each passage
    once, on the page and from the command line, and the valid file uploaded beside it is stored too."""
    from cx_core import cli

    faq = (b"question,answer\nDo you gift wrap?,Yes, for 4 dollars an item.\nCan I pay later?,Yes, in three parts."
           b"\nDo you gift wrap?,Yes, for 4 dollars an item.\n")
    twice = b"# Care\n\n## Cleaning\n\nWipe the filter monthly.\n\n## Cleaning\n\nWipe the filter monthly.\n"
    out = kb_docs.upload(services.db, services.kb, SUPERVISOR, [("gift-faq.csv", faq), ("care.md", twice),
                                                                  ("hours.md", b"# Hours\n\nOpen 9 to 5.")])
    assert [(o["status"], o["passages"]) for o in out] == [("added", 2), ("added", 1), ("added", 1)], out
    assert len(services.kb.chunks_of("gift-faq")) == 2
    (tmp_path / "faq.csv").write_bytes(faq.replace(b"gift wrap", b"wrap presents"))
    (tmp_path / "valid.md").write_text("# Valid\n\n## Hours\n\nOpen every day.")
    monkeypatch.setenv("TANDEM_DATA_DIR", str(services.settings.data_dir))
    assert cli.main(["ingest-kb", str(tmp_path / "faq.csv"), str(tmp_path / "valid.md")]) == 0
    printed, err = capsys.readouterr()
    assert "Traceback" not in err and "DuplicateIDError" not in err, err
    assert "added  faq  v1" in printed and "added  valid  v1" in printed, printed


# ---------------------------------------------------------------- Markdown shown as text, or made safe
HOSTILE = ("Hi ![x](http://127.0.0.1:9/beacon.png) <img src=\"http://127.0.0.1:9/i.png\"> "
           "[click](http://127.0.0.1:9/phish) http://127.0.0.1:9/bare www.example.com $x$ :red[alarm] &amp; **b**")


# what Streamlit's GitHub-flavoured Markdown turns into links inside plain text (mdast-util-gfm-autolink-literal)
GFM_BARE_LINK = re.compile(r"(https?://|www(?=\.))[-.\w]+", re.I)
GFM_EMAIL = re.compile(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+")


def render(markdown: str) -> str:
    """HTML as a CommonMark renderer with GitHub's tables and strikethrough makes it (the browser test covers
    Streamlit's own renderer, bare URLs included)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


def test_customer_text_escapes_everything_markdown_could_act_on() -> None:
    html = render(escape_markdown(HOSTILE + " write to fraud@evil.test"))
    assert "<a " not in html and "<img" not in html and "<strong>" not in html
    assert not GFM_BARE_LINK.search(html) and not GFM_EMAIL.search(html)
    assert html.replace(WORD_JOINER, "").startswith("<p>Hi ![x](http://127.0.0.1:9/beacon.png) &lt;img")
    assert render(inline_code("a ` b")) == "<p><code>a ` b</code></p>\n"


def test_contact_details_copy_exactly_and_still_link_nothing() -> None:
    html = render(contacts_as_code(HOSTILE + " · ann.lee+home@mail.example.com · +1 512-555-0142 · `x`@y.test"))
    assert "<code>ann.lee+home@mail.example.com</code>" in html and "<code>+1 512-555-0142</code>" in html
    assert not any(WORD_JOINER in c for c in re.findall(r"<code>(.*?)</code>", html))
    assert "<a " not in html and "<img" not in html
    assert not GFM_EMAIL.search(re.sub(r"<code>.*?</code>", "", html))  # outside a code span no address is bare


def test_knowledge_markdown_keeps_formatting_but_no_remote_image_or_foreign_link() -> None:
    doc = ("## Refunds\n\n- **Card**: 5 days ![t](http://127.0.0.1:9/b.png)\n- See [our page](https://help.lumen.test/r)"
           " or [this](http://127.0.0.1:9/phish)\n\n| a | b |\n|---|---|\n| 1 | <img src=x> |\n\n```\n[x](http://y)\n```")
    out = safe_markdown(doc)
    html = render(out)
    assert "<strong>Card</strong>" in html and "<table>" in html and "<h2>" in html
    prose, code = html.split("<pre>")
    assert "<a " not in html and "<img" not in html and not GFM_BARE_LINK.search(prose)
    assert code.startswith("<code>[x](http://y)")  # code stays code, never a link
    kept = render(safe_markdown(doc, "lumen.test"))
    assert '<a href="https://help.lumen.test/r">our page</a>' in kept and kept.count("<a ") == 1
    assert safe_markdown(out) == out  # written once, stable


def test_csv_cells_that_start_like_a_formula_stay_text() -> None:
    rows = [{"ticket": '=HYPERLINK("http://evil","x")', "subject": "+1 call", "who": "@me", "tab": "\tx",
             "delta": -3, "note": "-minus", "ok": "plain"}]
    cells = next(csv.DictReader(io.StringIO(exports.to_csv(rows))))
    assert cells == {"ticket": '\'=HYPERLINK("http://evil","x")', "subject": "'+1 call", "who": "'@me",
                     "tab": "'\tx", "delta": "-3", "note": "'-minus", "ok": "plain"}
