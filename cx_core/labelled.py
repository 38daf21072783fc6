"""Labelled examples in a CSV file (a text column and a label column), read with a one-line error for what is
wrong with the file."""

from __future__ import annotations

import csv
from pathlib import Path

from .errors import InvalidInput


def read_labelled_csv(path: Path, text_col: str = "text", label_col: str = "label") -> tuple[list[str], list[str]]:
    """Texts and labels from a CSV; a missing column or empty file is a one-line error."""
    if not path.exists():
        raise InvalidInput(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        if label_col == "auto":  # the usual names, in order
            label_col = next((c for c in ("label", "category", "intent") if c in cols), "label")
        for col in (text_col, label_col):
            if col not in cols:
                raise InvalidInput(f"{path}: no column '{col}' (columns are: {', '.join(cols) or 'none'})")
        texts, labels = [], []
        for row in reader:
            text, label = (row.get(text_col) or "").strip(), (row.get(label_col) or "").strip()
            if text and label:
                texts.append(text)
                labels.append(label)
    if not texts:
        raise InvalidInput(f"{path}: no labelled rows")
    return texts, labels
