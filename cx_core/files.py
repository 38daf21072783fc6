"""Reading JSON and JSON-lines files given on the command line: one clear line naming the file (and the line)
when it cannot be read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InvalidInput


def _text(path: Path) -> str:
    if not path.exists():
        raise InvalidInput(f"{path}: file not found")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text") from exc


def read_json(path: Path) -> Any:
    """The JSON value in ``path``."""
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def json_lines(path: Path, expected: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for every non-blank line; ``expected`` says what a line should hold, for the error."""
    for n, line in enumerate(_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}: line {n} is not valid JSON ({exc.msg}); expected {expected}") from exc
