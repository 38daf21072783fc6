"""How words name one of a catalogue's things, in any trade: by its name or another name customers use for it (strong),
by a distinctive word of its name (weak: "the lamp" of a Desk Lamp, never a word the pack calls generic such as
"smart"), typed fast ("cfofee machine"), several of it ("both lamps", "the two shirts"), and which of two of the same
thing the words describe by its own option values ("the size M one"). A pack brings its catalogue's words as data
(``CatalogueWords``); the grammar is here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any, Protocol

from cx_core.reading.phrases import flat, has

# words of the language, not of a catalogue: they never name a thing on their own
_FUNCTION_WORDS = frozenset({"the", "and"})
_SEVERAL = re.compile(r"\b(?:both|two|three|all|these|them)\b(?: [a-z]+){0,3} ")


class CatalogueWords(Protocol):
    """A catalogue's words, from the pack's data."""

    @property
    def aliases(self) -> Mapping[str, tuple[str, ...]]: ...  # a thing's name (lower case) → other names for it

    @property
    def generic(self) -> frozenset[str]: ...  # words of names that name no thing on their own

    @property
    def size_words(self) -> Mapping[str, str]: ...  # "extra large" → "XL"


class Names:
    """The words that name the things of one catalogue."""

    def __init__(self, words: CatalogueWords) -> None:
        self.words = words

    def of(self, thing: str) -> tuple[list[str], list[str]]:
        """Strong names (the full name and its other names) and weak ones (a distinctive single word) of a thing."""
        name = thing.lower()
        strong = [name, name.replace("-", ""), name.replace("-", " "), *self.words.aliases.get(name, ())]
        parts = re.findall(r"[a-z]+", name)
        weak = []
        if parts:
            head = parts[-1]
            if head not in self.words.generic and head not in _FUNCTION_WORDS:
                weak += [head, head.rstrip("s"), head + "s", head + "es"]
            if parts[0] not in self.words.generic and parts[0] not in _FUNCTION_WORDS and len(parts) > 1:
                weak.append(parts[0])
        return strong, [w for w in weak if len(w) > 2]

    def strength(self, text: str, thing: str) -> int:
        """2 when ``text`` names the thing by a strong name, 1 by a weak one, else 0."""
        strong, weak = self.of(thing)
        if any(has(text, n) or has(text, n + "s") for n in strong):
            return 2
        return 1 if any(has(text, w) for w in weak) else 0

    def weak_said(self, text: str, thing: str) -> set[str]:
        """The weak names of a thing that ``text`` says ("speaker" of "Smart Speaker")."""
        return {w for w in self.of(thing)[1] if has(text, w)}

    def several(self, text: str, thing: str) -> bool:
        """Whether the text speaks of several of the thing ("both", "two", "all", or its plural name)."""
        strong, weak = self.of(thing)
        said = flat(text)
        if not thing.lower().endswith("s") and any(a.endswith("s") and has(text, a) for a in strong[3:]):
            return True  # "bookshelves"
        for n in strong + weak:
            n = flat(n)
            if n.endswith("s") or not n:
                continue
            if re.search(rf"(?<![a-z0-9]){re.escape(n)}(?:s|es)(?![a-z0-9])", said) or re.search(
                    _SEVERAL.pattern + re.escape(n), said):
                return True
        return False

    def option_words(self, options: Mapping[str, Any], text: str) -> int:
        """How many of a thing's own option values the text names (to tell two of the same thing apart); a size
        letter or number counts beside the word "size", or by a size word of the catalogue."""
        n = 0
        for value in options.values():
            v = str(value)
            if len(v) <= 3 and (v.isupper() or v.isdigit()):
                n += bool(re.search(rf"\bsize {re.escape(v.lower())}\b|\b{re.escape(v.lower())} size\b", flat(text)))
                n += any(code == v and has(text, w) for w, code in self.words.size_words.items())
            elif v.lower() not in {"yes", "no", "none"}:
                n += has(text, v)
        return n


def typed_fast(text: str, thing: str) -> bool:
    """A thing's full name typed fast ("cfofee machine"): each word of it there, or one of five letters or more off
    by a letter or two."""
    said = set(re.findall(r"[a-z]+", text.lower()))
    words = re.findall(r"[a-z]+", thing.lower())
    return len(words) > 1 and all(w in said or len(w) >= 5 and get_close_matches(w, said, n=1, cutoff=0.8)
                                  for w in words)
