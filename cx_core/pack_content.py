"""The checks of a pack's files: its knowledge folder (articles, labelled examples, policy), its recipes and its
card, each problem with its file and field."""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from . import declared_records, recipe_book
from .actions.base import REGISTRY
from .domain import DomainPack, Vocabulary
from .errors import ConfigError
from .findings import Findings, Where, at_line, exc_text, not_in_force, shown, suggest
from .policy import Policy, _line_of, unknown_names

MIN_EXAMPLES = 5  # labelled examples per task type the classifier needs
NOT_A_REQUEST = "none"  # the training label of sentences that ask for nothing (``triage.NONE``)
UNCLASSIFIED = "unclassified"  # what triage answers when unsure (``triage.UNCLASSIFIED``): never a label
RESERVED = (NOT_A_REQUEST, UNCLASSIFIED)


def check_knowledge(pack: DomainPack, where: Where, own: dict[str, Any] | None, refused: Mapping[str, str],
                     found: Findings) -> None:
    folder = pack.knowledge_dir
    if not folder.is_dir():
        found.add(where.init, "PACK.knowledge", f"the knowledge folder {shown(folder)} does not exist: create it "
                                                "with articles/, training/task_types.csv and policy.yaml (or point "
                                                "knowledge= at the folder that has them)")
        return
    found.counts["task type"] = len(pack.task_types)
    if own is not None:
        found.counts.setdefault("action", len(own))
    articles = folder / "articles"
    if not articles.is_dir():
        found.add(articles, "articles/", "missing: add the folder with at least one Markdown article (.md) the "
                                         "replies can quote")
    else:
        found.counts["article"] = n = sum(1 for _ in articles.rglob("*.md"))
        if not n:
            found.add(articles, "*.md", "no article: add at least one Markdown article (.md) the replies can quote")
    check_training(pack, folder / "training" / "task_types.csv", found)
    check_policy(pack, own, refused, found)


def check_training(pack: DomainPack, path: Path, found: Findings) -> None:
    """The labelled examples exactly as the trainer reads them (columns ``text`` and ``label``), line by line."""
    if not path.is_file():
        found.add(path, "file", f"missing: add a CSV with the columns text,label and at least {MIN_EXAMPLES} "
                                "examples of each task type")
        return
    counts = dict.fromkeys(pack.task_types, 0)
    examples = 0
    header: list[str] | None = None
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            while True:
                line = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                if not any(cell.strip() for cell in row):
                    continue
                if header is None:
                    header = [c.strip() for c in row]
                    missing = [c for c in ("text", "label") if c not in header]
                    if missing:
                        bom = " (the file starts with a byte-order mark: save it as UTF-8 without BOM)" \
                            if header[0].startswith("\ufeff") else ""
                        found.add(path, "columns", f"line {line}: no column {' or '.join(repr(m) for m in missing)}"
                                                   f" (columns are: {', '.join(header)}): the first line must name "
                                                   f"the columns text,label{bom}")
                        return
                    continue
                cells = dict(zip(header, row, strict=False))
                text, label = (cells.get("text") or "").strip(), (cells.get("label") or "").strip()
                if not label:
                    found.add(path, "label", f"line {line}: no label: the trainer skips this row (give a task type, "
                                             f"or '{NOT_A_REQUEST}' for a sentence that asks for nothing)")
                    continue
                if not text:
                    found.add(path, "text", f"line {line}: no text: the trainer skips this row")
                    continue
                examples += 1
                if label in counts:
                    counts[label] += 1
                elif label == UNCLASSIFIED:
                    found.add(path, "label", f"line {line}: '{UNCLASSIFIED}' is what triage answers when unsure and "
                                             f"is never trained: use a task type, or '{NOT_A_REQUEST}'")
                elif label != NOT_A_REQUEST:
                    found.add(path, "label", f"line {line}: '{label}' is not a task type of '{pack.name}'"
                                             f"{suggest(label, pack.task_types)}")
    except UnicodeDecodeError as exc:
        found.add(path, "file", f"is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8")
        return
    except csv.Error as exc:
        found.add(path, "file", f"line {reader.line_num}: not a readable CSV ({exc})")
        return
    if header is None:
        found.add(path, "columns", "the file is empty: the first line must name the columns text,label")
        return
    found.counts["training example"] = examples
    for task_type, n in counts.items():
        if n < MIN_EXAMPLES:
            found.add(path, "label", f"task type '{task_type}' has {n} example{'s' if n != 1 else ''}: add at least "
                                     f"{MIN_EXAMPLES - n} more (the classifier needs {MIN_EXAMPLES} of each)")


def check_policy(pack: DomainPack, own: dict[str, Any] | None, refused: Mapping[str, str],
                  found: Findings) -> None:
    """The policy as ``policy.load_policy`` reads it, but every problem instead of the first: the same messages,
    each with its field and line."""

    path = pack.policy_file
    if not path.is_file():
        found.add(path, "file", "missing: add the pack's policy (version, autonomy per task type, limits per action)")
        return
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        found.add(path, "file", f"is not UTF-8 text ({exc.reason}): save it as UTF-8")
        return
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        found.add(path, "file", f"{at_line(mark.line + 1 if mark is not None else None)}not valid YAML"
                                f" ({getattr(exc, 'problem', None) or exc})")
        return
    if not isinstance(raw, dict):
        found.add(path, "file", "the policy must be a mapping of fields (version: 1, autonomy: ..., limits: ...)")
        return

    def located(loc: tuple[Any, ...], msg: str) -> None:
        found.add(path, ".".join(str(p) for p in loc) or "policy", f"{at_line(_line_of(text, loc))}{msg}")

    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            located(tuple(err["loc"]), err["msg"])
        return
    found.counts["policy"] = policy.version
    known = Vocabulary(task_types=frozenset(pack.task_types) | {UNCLASSIFIED}, actions=frozenset(REGISTRY),
                       channels=frozenset(pack.channel_names))
    for loc, msg in unknown_names(policy, known):
        if loc[0] in ("limits", "never_autonomous"):
            name = str(loc[1]) if loc[0] == "limits" else policy.never_autonomous[int(loc[1])]
            if name in refused:  # a consequence of the declared action's own problem, reported above
                located(loc, f"names {not_in_force(name, refused)}")
                continue
            if own is None:
                continue  # the pack's actions could not be loaded (reported above): every name of theirs would show
        located(loc, msg)


# ------------------------------------------------------------------ recipes (cx_core.recipe_book)
def check_recipes(pack: DomainPack, where: Where, own: dict[str, Any] | None, refused: Mapping[str, str],
                   found: Findings) -> None:
    path = where.folder / "recipes.yaml"
    if not path.is_file():
        return
    planner = sys.modules.get(pack.modules.get("planner", "")) if pack.has("planner") else None
    resolvers = getattr(planner, "RESOLVERS", None)
    try:
        # against what this check put in force, the declared actions included
        result = recipe_book.problems(path, sorted(REGISTRY), sorted(pack.task_types),
                          sorted(resolvers) if isinstance(resolvers, Mapping) else ())
        for field, message in result:
            named = re.fullmatch(r"unknown action '(.+)'", str(message))
            if named and named.group(1) in refused:  # a consequence of the declared action's problem (above)
                step = str(field).removesuffix(".action")
                found.add(path, str(field), f"recipe step {step} uses action {not_in_force(named.group(1), refused)}")
                continue
            if own is None and "unknown action" in str(message):
                continue  # the pack's actions could not be loaded (reported above)
            found.add(path, str(field) or "recipes", str(message))
    except Exception as exc:
        found.add(path, "recipes", f"cannot be checked: {exc_text(exc)}")


def check_card(pack: DomainPack, where: Where, refused: Mapping[str, str], found: Findings) -> None:
    """``card.yaml``, when the pack declares its card (and, without a records module, its customers) there: each
    read it names is a read action in force."""

    path = declared_records.card_file(where.folder)
    if not path.is_file():
        return
    problems = declared_records.problems(path, REGISTRY, refused)
    for field_name, message in problems:
        found.add(path, field_name, message)
    if problems:
        return
    try:
        spec = declared_records.load(where.folder)
    except ConfigError:
        return
    if spec is not None and spec.customer is None and not pack.has("records"):
        found.add(path, "customer", "missing: with no records module, say how a ticket's sender becomes a customer "
                                    "(customer: {find: a read by e-mail, get: a read by id})")


# ------------------------------------------------------------------ helpers
