"""What the on-disk embedding cache (``TANDEM_EMBEDDING_CACHE``) saves: the demo company's knowledge passages and
labelled examples embedded three ways in one run, side by side.

    python benchmarks/embedding_cache.py [--no-write]

- no cache file: a fresh process embeds every text (what each process did before);
- first fill: the same, writing each vector to the file;
- another process, cache warm: a new embedder (nothing in memory) reads every vector from the file.

And what batching texts of alike length saves when a long text comes with its short sentences (as a long request
is searched whole and sentence by sentence): each passage with its sentences, given to the model in one call (every
batch padded to its longest text) against ``Embedder.encode`` (batches of alike length).

The model is loaded before timing in each case, so the numbers are encoding and cache work only. Results go to
benchmarks/RESULTS.md (the section between the embedding-cache markers).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.results_file import write_section  # noqa: E402
from cx_core.documents import load_paths  # noqa: E402
from cx_core.embedding import Embedder  # noqa: E402
from cx_core.knowledge import chunk_document  # noqa: E402

PACK = ROOT / "domains" / "lumen" / "knowledge"


def texts() -> list[str]:
    passages = [f"{c.title} — {c.heading}\n{c.text}" for d in load_paths([PACK / "articles"])
                for c in chunk_document(d)]
    with (PACK / "training" / "task_types.csv").open(newline="", encoding="utf-8") as fh:
        examples = [row["text"] for row in csv.DictReader(fh)]
    return list(dict.fromkeys(passages + examples))


def timed(embedder: Embedder, batch: list[str]) -> float:
    embedder._load()  # noqa: SLF001 - the model's load is not what is measured
    started = time.perf_counter()
    embedder.encode(batch)
    return time.perf_counter() - started


def requests() -> list[list[str]]:
    """Each knowledge passage with its sentences: a long text among short ones, as a long request is searched."""
    out = []
    for d in load_paths([PACK / "articles"]):
        for c in chunk_document(d):
            sentences = [x for x in re.split(r"(?<=[.!?])\s+", c.text) if x.strip()]
            if len(sentences) >= 3:
                out.append([f"{c.title} — {c.heading}\n{c.text}", *sentences])
    return out


def padded(embedder: Embedder, groups: list[list[str]]) -> float:
    model = embedder._load()  # noqa: SLF001 - the model's load is not what is measured
    started = time.perf_counter()
    for group in groups:
        model.encode(group, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - started


def alike(embedder: Embedder, groups: list[list[str]]) -> float:
    embedder._load()  # noqa: SLF001
    started = time.perf_counter()
    for group in groups:
        embedder.encode(group)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md as it is")
    args = parser.parse_args()
    batch = texts()
    with tempfile.TemporaryDirectory(prefix="tandem-cache-bench-") as tmp:
        path = str(Path(tmp) / "vectors.sqlite")
        none = timed(Embedder(disk=""), batch)
        fill = timed(Embedder(disk=path), batch)
        warm = timed(Embedder(disk=path), batch)
    groups = requests()
    raw, grouped = padded(Embedder(disk=""), groups), alike(Embedder(disk=""), groups)
    text = "\n".join([
        f"## Embedding cache (measured {time.strftime('%Y-%m-%d')}, `python benchmarks/embedding_cache.py`)",
        "",
        f"The demo company's {len(batch)} knowledge passages and labelled examples, embedded in one run "
        "(model loaded before timing):",
        "",
        "| how | seconds | vs no cache |",
        "|---|---|---|",
        f"| no cache file (a fresh process) | {none:.2f} | 1.00× |",
        f"| first fill of the cache file | {fill:.2f} | {fill / none:.2f}× |",
        f"| another process, cache warm | {warm:.3f} | {warm / none:.3f}× |",
        "",
        f"{len(groups)} passages searched whole and sentence by sentence ({sum(map(len, groups))} texts, one call "
        "each, no cache):",
        "",
        "| batching | seconds | vs one padded batch |",
        "|---|---|---|",
        f"| all of a request's texts in one batch (padded to the longest) | {raw:.2f} | 1.00× |",
        f"| texts of alike length together (`Embedder.encode`) | {grouped:.2f} | {grouped / raw:.2f}× |",
    ])
    print(text)
    if not args.no_write:
        write_section("embedding-cache", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
