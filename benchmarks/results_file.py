"""Each benchmark owns one marked section of benchmarks/RESULTS.md and rewrites only that."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(name: str, text: str) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if start in old and end in old:
        old = old[: old.index(start)].rstrip() + "\n" + old[old.index(end) + len(end):]
    RESULTS.write_text(old.rstrip() + f"\n\n{start}\n{text.strip()}\n{end}\n", encoding="utf-8")
