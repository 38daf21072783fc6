"""``domain check PACK --sample EMAIL``: each read of a pack's ``card.yaml`` called once, for a customer the team's
system knows, as the engine will call it. What each read answered (its shape, its rows, their fields) is noted; a
read that fails, a ``field:`` its answer does not have, and a recipe binding that names a field its read's rows never
have (so it could never match) are problems, each with what to fix."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import declared_records, recipe_book
from .actions import REGISTRY
from .errors import ConfigError, NotFound, TandemError
from .findings import Findings
from .http_actions.calls import lookup


def shape(answer: Any, field: str | None) -> str:
    """How a read's answer holds its rows, in words: "a list of 3", "one object", "a list of 2 under 'items'"."""
    if field:
        return f"the field '{field}' of its answer"
    if isinstance(answer, list):
        return f"a list of {len(answer)}"
    if isinstance(answer, dict):
        rows = declared_records.rows(answer)
        wrapped = next((k for k, v in answer.items() if isinstance(v, list) and v == rows), None)
        return f"a list of {len(rows)} under '{wrapped}'" if wrapped else "one object (read as one row)"
    return "nothing" if answer is None else f"a {type(answer).__name__}"


def _columns(rows: list[Any]) -> set[str]:
    return {str(k) for r in rows if isinstance(r, Mapping) for k in r}


def check_reads(root: Path, email: str, found: Findings) -> dict[str, set[str]]:
    """Calls ``card.yaml``'s reads once for the customer with ``email``; returns each read's columns (the fields
    its rows have), for the recipes' bindings to be checked against."""
    path = declared_records.card_file(root)
    try:
        spec = declared_records.load(root)
    except ConfigError:
        return {}  # its problems are listed by the card's own check
    if spec is None or spec.customer is None:
        found.notes.append(f"{path.name}: no customer reads are declared, so there is nothing to call")
        return {}
    local = [n for n, r in spec.reads.items() if (a := REGISTRY.get(r.action)) is not None and a.remote is None]
    if local:
        found.notes.append(f"{path.name}: not called here (Python reads need the app's database): {', '.join(local)}")
    try:
        customer = declared_records.DeclaredRecords(spec).lookup(None, email)
    except TandemError as exc:
        found.add(path, "customer.find", f"calling it for {email} failed: {exc}")
        return {}
    if customer is None:
        found.add(path, "customer.find", f"no customer has the e-mail {email}: give --sample the e-mail of a customer "
                                         "the team's system knows")
        return {}
    found.notes.append(f"customer.find: {email} is customer {customer.id}")
    values = {"customer_id": customer.id, "id": customer.id, "profile": dict(customer.profile)}
    columns: dict[str, set[str]] = {}
    for name, read in spec.reads.items():
        if name in local:
            continue
        try:
            answer = declared_records.call_read(None, read.model_copy(update={"field": None}), values)
        except NotFound:
            found.notes.append(f"reads.{name}: {read.action} has no record for customer {customer.id} (404)")
            continue
        except TandemError as exc:
            found.add(path, f"reads.{name}", f"calling {read.action} failed: {exc}")
            continue
        part = lookup(answer, read.field) if read.field else answer
        if read.field and part is None:
            keys = ", ".join(sorted(answer)) if isinstance(answer, dict) else shape(answer, None)
            found.add(path, f"reads.{name}.field", f"{read.action}'s answer has no field '{read.field}' (it has: "
                                                   f"{keys}): name one of them, or leave field out")
            continue
        rows = declared_records.rows(part)
        columns[name] = _columns(rows)
        found.notes.append(f"reads.{name}: {read.action} answered {shape(answer, read.field)}: {len(rows)} "
                           f"row{'s' if len(rows) != 1 else ''}" + (f" with {', '.join(sorted(columns[name]))}"
                                                                    if columns[name] else ""))
    return columns


def check_bindings(recipes_path: Path, columns: Mapping[str, set[str]], found: Findings) -> None:
    """Each recipe argument bound to a read's rows names fields those rows have (its ``key``, ``field`` and
    ``where``); rows that were empty for the sample are not judged."""
    if not recipes_path.is_file():
        return
    try:
        book = recipe_book.load(recipes_path)
    except TandemError:
        return  # its problems are listed by the recipes' own check
    for task_type, recipe in book.recipes.items():
        for i, step in enumerate(recipe.steps):
            for arg, b in step.args.items():
                have = columns.get(b.name) if b.kind == "record" else None
                if not have:
                    continue
                named = [f for f in (b.key, b.field, *b.where, b.newest_by) if f]
                missing = [f for f in dict.fromkeys(named) if f.split(".")[0] not in have]
                if missing:
                    found.add(recipes_path, f"recipes.{task_type}.steps.{i}.args.{arg}",
                              f"the rows of '{b.name}' have no field {', '.join(repr(m) for m in missing)} (they "
                              f"have: {', '.join(sorted(have))}), so this binding could never match")
