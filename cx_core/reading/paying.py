"""The words customers use for their saved payment methods, for every pack: a method's id written out
("gift_card_7219486"), its kind ("my gift card", "PayPal", "the card"), a card's brand ("my Amex", "the
Mastercard") and its last four digits ("the Visa ending 3261"). A pack's records give each method as a mapping with
``id``, ``source`` (its kind: ``credit_card``, ``debit_card``, ``gift_card``, ``paypal``, ``certificate``…), and where
it has them ``brand``, ``last_four`` and ``balance``; which method pays for what stays the pack's rule."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .language import contrasted

# the kinds of payment method, in the words customers use (a card's brand names a card)
KIND_WORDS: dict[str, re.Pattern[str]] = {
    "gift_card": re.compile(r"gift ?cards?|\bgc\b", re.I),
    "paypal": re.compile(r"pay ?pal", re.I),
    "certificate": re.compile(r"\b(?:travel )?certificates?\b|\bvouchers?\b", re.I),
    "credit_card": re.compile(r"credit ?cards?|debit ?cards?|\bvisa\b|master ?card|\bamex\b|american express|"
                              r"\bdiscover card\b|(?<!gift )(?<!gift)\bcards?\b", re.I),
}
# a card's brand, as customers write it
BRAND_WORDS: dict[str, re.Pattern[str]] = {
    "visa": re.compile(r"\bvisa\b", re.I),
    "mastercard": re.compile(r"\bmaster ?card\b", re.I),
    "amex": re.compile(r"\bamex\b|\bamerican express\b", re.I),
    "discover": re.compile(r"\bdiscover\b", re.I),
}
_CARDS = frozenset({"credit_card", "debit_card"})
# a change of the method alone: "change the payment method to my PayPal"
CHANGE_METHOD = re.compile(r"\bchange (?:the |my |your )?payment(?: method)? to\b", re.I)
RuledOut = Callable[[str, int, int], bool]


def _contrasted(text: str, start: int, _end: int) -> bool:
    return contrasted(text, start)


def kind(method: Mapping[str, Any]) -> str:
    """The method's kind as this module names it (a debit card is a card)."""
    source = str(method.get("source") or "")
    return "credit_card" if source in _CARDS else source


def brand(method: Mapping[str, Any]) -> str:
    """The card's brand as this module names it ("Visa" → ``visa``, "American Express" → ``amex``), or ''."""
    said = str(method.get("brand") or "")
    return next((name for name, words in BRAND_WORDS.items() if words.search(said)), said.lower())


def name(method: Mapping[str, Any]) -> str:
    """What a customer calls the method: a card by its brand ("Visa"), else its kind ("gift card")."""
    if kind(method) == "credit_card" and method.get("brand"):
        return str(method["brand"]).title() if str(method["brand"]).islower() else str(method["brand"])
    return {"credit_card": "card", "gift_card": "gift card", "paypal": "PayPal", "certificate": "certificate"}.get(
        kind(method), kind(method).replace("_", " "))


def ids_written(text: str, methods: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """The method ids written out: the customer's own, and those of the shape of a method's id that are not
    theirs (a stranger's, or a slip)."""
    own = {str(m["id"]) for m in methods}
    kinds = sorted({*KIND_WORDS, *(str(m["id"]).rsplit("_", 1)[0] for m in methods if "_" in str(m["id"]))},
                   key=len, reverse=True)
    shape = re.compile(rf"\b(?:{'|'.join(re.escape(k) for k in kinds)})_\d+\b")
    found = list(dict.fromkeys(shape.findall(text)))
    return [m for m in found if m in own], [m for m in found if m not in own]


def kinds_named(text: str, ruled_out: RuledOut = _contrasted) -> list[str]:
    """The kinds of method the words name and do not set aside ("on my gift card rather than PayPal": the gift
    card)."""
    return [k for k, words in KIND_WORDS.items()
            if any(not ruled_out(text, m.start(), m.end()) for m in words.finditer(text))]


def where_named(text: str, method: Mapping[str, Any], ruled_out: RuledOut | None = None) -> list[int]:
    """Where the words name this method by its brand or, for any other kind, by its kind: the places not set
    aside ("Do NOT charge the Mastercard you have on file")."""
    if kind(method) == "credit_card" and method.get("brand"):
        words = BRAND_WORDS.get(brand(method)) or re.compile(rf"\b{re.escape(str(method['brand']))}\b", re.I)
    else:
        words = KIND_WORDS.get(kind(method)) or re.compile(rf"\b{re.escape(name(method))}\b", re.I)
    return [m.start() for m in words.finditer(text) if ruled_out is None or not ruled_out(text, m.start(), m.end())]


def brand_said(text: str, methods: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The cards whose brand the words name ("my Amex")."""
    return [m for m in methods if m.get("brand") and (words := BRAND_WORDS.get(brand(m))) is not None
            and words.search(text)]


def by_last_four(text: str, methods: Iterable[Mapping[str, Any]], ruled_out: RuledOut | None = None
                 ) -> list[Mapping[str, Any]]:
    """The methods whose last four digits the words give ("the Visa ending 3261, not the one ending 1357")."""
    said = {m.group(0) for m in re.finditer(r"(?<!\d)\d{4}(?!\d)", text)
            if ruled_out is None or not ruled_out(text, m.start(), m.end())}
    return [m for m in methods if str(m.get("last_four") or "") in said]


def every_one(text: str, method: Mapping[str, Any]) -> bool:
    """Whether the words take every saved method of this one's kind ("use both my gift cards", "all of my
    certificates"), not one of them by its balance."""
    words = KIND_WORDS.get(kind(method))
    return words is not None and bool(re.search(rf"\b(?:both|all|each)\s+(?:of\s+)?(?:(?:my|the|our|your)\s+)?"
                                                rf"(?:[\w$.]+\s+)?(?:{words.pattern})", text, re.I))


# how to pay for what was asked before: a means of payment, a verb of paying, and no other act
MEANS = re.compile(r"\b(?:card|cards|gift\s*cards?|certificates?|vouchers?|paypal|visa|mastercard|amex|points|"
                   r"miles|store\s+credit|account\s+credit)\b", re.I)
PAYS = re.compile(r"\b(?:pay|pays|paid|paying|charge|charged|cover|covers|use|using|put\s+(?:it|that|the\s+rest|"
                  r"whatever|the\s+balance|the\s+difference))\b", re.I)
OTHER_ACT = re.compile(r"\b(?:refund\w*|cancel\w*|return\w*|exchang\w*|(?:re-?)?book\w*|reschedul\w*|move|change|update|"
                       r"remove|add|send|switch|replace|upgrade|downgrade)\b", re.I)


def only_how_to_pay(text: str) -> bool:
    """Words that only say how to pay ("If there's a charge, put it on the gift card first, and if that doesn't have
    enough on it, use my Visa"): a means of payment and a verb of paying, no other act and no question."""
    return bool(MEANS.search(text) and PAYS.search(text)) and not OTHER_ACT.search(text) and "?" not in text
