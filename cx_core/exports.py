"""CSV files for people: every cell that a spreadsheet would read as a formula is made text first.

A ticket id or subject such as ``=HYPERLINK("http://…","Click")`` opened in Excel, LibreOffice or Google Sheets
runs as a formula. A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading apostrophe (OWASP's advice), which the spreadsheet shows as plain text; numbers stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will read it as written: text that starts like a formula is prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """``rows`` (one dict a row, the first row's keys as the header) as CSV text with every cell made safe."""
    rows = list(rows)
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[str(safe_cell(k)) for k in rows[0]], extrasaction="ignore")
    writer.writeheader()
    writer.writerows({str(safe_cell(k)): safe_cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()
