"""Personal data found in text, and its redaction before anything is stored, logged or sent to a model."""

from __future__ import annotations

import re

_CARD = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")  # a card number stands alone (never inside a key)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<!\w)(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\w)")
_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_CVV = re.compile(r"\b(?:cvv2?|cvc2?|csc|security code)\b\W{0,3}\d{3,4}\b", re.I)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")


def _luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _cards(text: str) -> list[re.Match[str]]:
    found = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            found.append(m)
    return found


def find_pii(text: str) -> list[str]:
    """Kinds of personal data present in ``text`` (card_number, email, phone, ssn, iban)."""
    kinds = []
    if _cards(text):
        kinds.append("card_number")
    if _EMAIL.search(text):
        kinds.append("email")
    if _PHONE.search(text):
        kinds.append("phone")
    if _SSN.search(text):
        kinds.append("ssn")
    if _IBAN.search(text):
        kinds.append("iban")
    return kinds


def redact_secrets(text: str) -> str:
    """Card numbers, SSNs and IBANs replaced by a marker; used on everything Tandem stores or shows."""
    for m in reversed(_cards(text)):
        text = text[: m.start()] + "[card number removed]" + text[m.end() :]
    text = _SSN.sub("[id number removed]", text)
    text = _CVV.sub("[security code removed]", text)
    return _IBAN.sub("[bank account removed]", text)


def redact_all(text: str) -> str:
    """Every kind of personal data masked; used before text leaves the process (LLM prompts)."""
    text = redact_secrets(text)
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub("[phone]", text)
