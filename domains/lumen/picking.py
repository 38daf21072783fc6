"""Which of an order's items a customer's words name: by the product's full name, by a misspelt one ("the smrat
tv"), or by the word that names the kind of product ("the thermostat" for the Smart Thermostat) when no other
item of the order is one."""

from __future__ import annotations

import re
from difflib import get_close_matches
from typing import Any


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]{2,}", text.lower()))  # "tv" is a word of "Smart TV"


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 2 else word


def mentions_item(text: str, item: dict[str, Any], close: bool = False) -> bool:
    """The item's full product name appears in the text (singular or plural); with ``close``, each of its words
    of four letters or more may be misspelt by a letter or two ("smrat tv")."""
    name_words = {_stem(w) for w in _words(item["name"])}
    said = {_stem(w) for w in _words(text)}
    if not close:
        return bool(name_words) and name_words <= said
    return bool(name_words) and all(w in said or len(w) >= 4 and get_close_matches(w, said, n=1, cutoff=0.75)
                                    for w in name_words)


def pick_items(order: dict[str, Any], text: str) -> list[dict[str, Any]]:
    open_items = [i for i in order["items"] if i["status"] == "ordered"]
    if re.search(r"\b(everything|all (?:the |of the )?items|whole order|entire order)\b", text, re.I):
        return open_items
    mentioned = [i for i in open_items if mentions_item(text, i)] or \
        [i for i in open_items if mentions_item(text, i, close=True)]  # "the smrat tv": a slip of the keyboard
    if not mentioned:  # "the thermostat": the kind of product, when the order holds one product of that kind
        said = {_stem(w) for w in re.findall(r"[a-z0-9]{2,}", text.lower())}
        kinds = {i["name"]: _stem(re.findall(r"[a-z0-9]{2,}", i["name"].lower())[-1]) for i in open_items
                 if re.search(r"[a-z0-9]{2}", i["name"].lower())}
        named = [i for i in open_items if kinds.get(i["name"]) in said]
        if len({i["name"] for i in named}) == 1 and list(kinds.values()).count(kinds[named[0]["name"]]) == 1:
            mentioned = named
    if mentioned:
        return mentioned[:1] if len({i["name"] for i in mentioned}) == 1 else mentioned
    return open_items if len(open_items) == 1 else []


def the_names(items: list[dict[str, Any]]) -> list[str]:
    """Items as a reply names them, each product once: ["the Soundbar", "the Smart TV"]."""
    return list(dict.fromkeys(f"the {i['name']}" for i in items))
