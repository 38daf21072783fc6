"""The words customers use for the catalogue's products and options (other names of products, words that name
none on their own, synonyms of option values, size words), read once from the pack's ``catalogue.yaml`` and
checked: a team adds a customer's word there, not in code."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cx_core.errors import ConfigError

# Lumen's product and option words (aliases, generic words, option synonyms, sizes), in the pack's folder; tests
# point this elsewhere (through the package: ``order_requests.CATALOGUE_FILE``)
CATALOGUE_FILE = Path(__file__).parent.with_name("catalogue.yaml")
_SECTIONS = ("aliases", "generic_words", "option_values", "sizes", "size_order")


@dataclass(frozen=True)
class Catalogue:
    """The words customers use for the catalogue's products and options, as read from the pack's catalogue file."""

    aliases: dict[str, tuple[str, ...]]  # product name → other names of it
    generic: frozenset[str]  # words of product names that do not name a product on their own
    value_words: dict[str, tuple[str, ...]]  # option value → other words for it
    size_words: dict[str, str]  # "extra large" → "XL"
    size_order: tuple[str, ...]  # size codes, smallest first
    size_pattern: str  # a size word or code followed by "size"/"sized" ("medium sized", "xl size")


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML whose mappings refuse a repeated key (plain YAML keeps the last one without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: the base class says so
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} appears twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _word(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: {where}: expected a word, got {value!r} (quote words such as \"no\" or \"8\")")
    return value.strip()


def _words(path: Path, where: str, value: Any, lower: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {where}: expected a list of words like [a, b], got {value!r}")
    words = (_word(path, f"{where}[{i}]", w) for i, w in enumerate(value))
    return tuple(w.lower() if lower else w for w in words)


def _mapping(path: Path, where: str, value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {where}: expected a mapping of word: value, got {value!r}")
    return value


def load_catalogue(path: Path) -> Catalogue:
    """Reads and checks a catalogue file; anything wrong raises ``ConfigError`` naming the file and the key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: catalogue file cannot be read ({exc.strerror or exc})") from exc
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}{where}: {problem}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected the sections {', '.join(_SECTIONS)}")
    unknown = [str(k) for k in raw if k not in _SECTIONS]
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: not a section (the sections are {', '.join(_SECTIONS)})")
    missing = [k for k in _SECTIONS if k not in raw]
    if missing:
        raise ConfigError(f"{path}: {missing[0]}: section missing")
    aliases = {_word(path, "aliases", k).lower(): _words(path, f"aliases.{k}", v)
               for k, v in _mapping(path, "aliases", raw["aliases"]).items()}
    generic = _words(path, "generic_words", raw["generic_words"])
    for i, w in enumerate(generic):
        if not re.fullmatch(r"[a-z]+", w):
            raise ConfigError(f"{path}: generic_words[{i}]: {w!r} is not a single word of letters")
    values = {_word(path, "option_values", k).lower(): _words(path, f"option_values.{k}", v)
              for k, v in _mapping(path, "option_values", raw["option_values"]).items()}
    order = _words(path, "size_order", raw["size_order"], lower=False)  # codes as the options write them
    sizes = {_word(path, "sizes", k).lower(): _word(path, f"sizes.{k}", v)
             for k, v in _mapping(path, "sizes", raw["sizes"]).items()}
    for word, code in sizes.items():
        if code not in order:
            raise ConfigError(f"{path}: sizes.{word}: {code!r} is not in size_order")
    names = sorted(set(sizes) | {c.lower() for c in sizes.values()}, key=lambda w: (-len(w), w))
    pattern = rf"\b({'|'.join(re.escape(n) for n in names)})(?: |-)?sized?\b|\bsize (?:of )?([a-z0-9.]+)\b"
    return Catalogue(aliases, frozenset(generic), values, sizes, order, pattern)


@functools.cache
def catalogue() -> Catalogue:
    """The pack's catalogue words, read once from ``CATALOGUE_FILE`` (``catalogue.cache_clear()`` reads it again)."""
    return load_catalogue(CATALOGUE_FILE)
