"""The problems ``domain check`` finds: each one with its file, field and what to fix, and the helpers that
name where a problem is (the file shown relative to the project, the line of an exception, a close name)."""

from __future__ import annotations

import difflib
import inspect
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing to fix: the file it is in, the field (or name) in that file, and what is wrong."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class Findings(list[Problem]):
    """The problems of one pack, in the order found; ``name`` and ``counts`` (task types, actions, articles,
    examples, policy version) describe the pack for the summary line."""

    def __init__(self) -> None:
        super().__init__()
        self.name = ""
        self.counts: dict[str, int] = {}
        self.notes: list[str] = []  # what was found beside the problems (each read called, what it answered)

    def add(self, file: Path | str, field: str, message: str) -> None:
        self.append(Problem(shown(file), field, message))

    def summary(self) -> str:
        """The last line of the command: the number of problems, or that the pack is ready and what it holds."""
        if self:
            return f"{len(self)} problem{'s' if len(self) != 1 else ''}"
        order = ["task type", "action", "article", "training example"]
        counts = sorted(self.counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
        held = [f"{n} {what}{'s' if n != 1 else ''}" for what, n in counts if what != "policy"]
        if "policy" in self.counts:
            held.append(f"policy version {self.counts['policy']}")
        return f"domain '{self.name}' is ready: {', '.join(held)}"



@dataclass
class Where:
    folder: Path
    init: Path  # where PACK is defined
    expected_name: str
    import_path: str  # the folder's dotted import path ('' for an entry point's pack)



def not_in_force(name: str, refused: Mapping[str, str]) -> str:
    return f"'{name}', which is not in force because: {refused[name]} (fix it in actions.yaml)"


def file_of(fn: Callable[..., Any]) -> Path | None:
    try:
        return Path(inspect.getsourcefile(fn) or "") or None
    except TypeError:
        return None


# ------------------------------------------------------------------ knowledge: articles, examples, policy
def site(exc: BaseException, file: Path | None, folder: Path | None) -> tuple[Path | None, int | None]:
    """Where an import failed: the file and line of a syntax error, else the deepest frame in ``file`` or, failing
    that, in the pack's folder."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return Path(exc.filename), exc.lineno
    frames = traceback.extract_tb(exc.__traceback__)
    for want in ([file] if file else []) + [None]:
        for frame in reversed(frames):
            here = Path(frame.filename)
            if (want is not None and here == want) or (want is None and folder and inside(here, folder)):
                return here, frame.lineno
    return None, None


def inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def exc_text(exc: BaseException) -> str:
    """The exception as one line (a syntax error without its file and line: the problem names them)."""
    text = exc.msg if isinstance(exc, SyntaxError) and exc.msg else str(exc).strip()
    text = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def at_line(line: int | None) -> str:
    return f"line {line}: " if line else ""


def suggest(name: str, known: Mapping[str, Any] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f": did you mean '{close[0]}'?"
    return f" (task types are: {', '.join(sorted(known))})"


def shown(path: Path | str) -> str:
    """A path as people type it: relative to the working folder when it is inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)
