"""A pack with no Python at all: ``pack.yaml`` in the pack's folder says what an ``__init__.py`` with ``PACK`` would
(the title, task types and their labels, which are answered from knowledge, channels, brand and locale). The folder's
name is the pack's name. Every problem is one line naming the field and what to fix."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

FILE = "pack.yaml"


class PackFileError(ConfigError):
    """One problem of ``pack.yaml``: the field (``file`` for the whole file) and what to fix."""

    def __init__(self, path: Path, field: str, message: str) -> None:
        super().__init__(f"{path}: {field}: {message}")
        self.path, self.field, self.message = path, field, message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Brand(_Strict):
    name: str = Field(min_length=1)
    signature: str = Field(min_length=1)
    sender: str = ""


class _Locale(_Strict):
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    time_zone: str = "UTC"
    date_format: str = "%A %d %B %Y"
    phone_example: str = ""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{value}' is not a time zone (e.g. Europe/London)") from exc
        return value


class _Channel(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = ""
    sla_minutes: int = Field(default=1440, gt=0)
    live: bool = False


class PackFile(_Strict):
    """What ``pack.yaml`` holds."""

    name: str = ""  # optional: the folder's name; when given it must be the same
    title: str = Field(min_length=1)
    task_types: dict[str, str] = Field(min_length=1)
    informational: list[str] = []
    channels: list[_Channel | str] = []
    brand: _Brand
    locale: _Locale = _Locale()
    modules: dict[str, str] = {}  # optional Python parts by role, as for an ``__init__.py`` pack

    @field_validator("task_types")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, label in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)):
                raise ValueError(f"'{name}' is not a task type name: use lower case letters, digits and _")
            if not str(label or "").strip():
                raise ValueError(f"'{name}' has no label: give the words people read for it")
        return value


def _first(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "file"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "is missing"
    elif err["type"] == "extra_forbidden":
        message = "is not a field of pack.yaml (fields: " + ", ".join(PackFile.model_fields) + ")"
    more = len(exc.errors()) - 1
    return where, message + (f" (and {more} more)" if more else "")


def read(folder: Path) -> PackFile:
    """``folder/pack.yaml`` validated, or PackFileError: one line ``…/pack.yaml: FIELD: what to fix``."""
    path = folder / FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PackFileError(path, "file", f"cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise PackFileError(path, "file", f"{where}not valid YAML ({getattr(exc, 'problem', None) or exc})") from exc
    if not isinstance(raw, dict):
        raise PackFileError(path, "file", "must be a mapping with title, task_types and brand")
    try:
        parsed = PackFile.model_validate(raw)
    except ValidationError as exc:
        raise PackFileError(path, *_first(exc)) from exc
    if parsed.name and parsed.name != folder.name:
        raise PackFileError(path, "name", f"is '{parsed.name}' but the folder is '{folder.name}': the folder's name "
                                          "is the pack's name (leave name out, or rename the folder)")
    return parsed
