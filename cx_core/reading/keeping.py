"""What a customer says stays as it is or is all right ("the fitting on the 27th stays as it is", "the smart plug
in the same parcel is fine", "the coffee maker can still come on Monday"): what it names is kept, never asked for."""

from __future__ import annotations

import re

# something the customer says stays as it is: "the fitting on the 27th stays as it is", "… is fine as booked", "the
# visit next Wednesday is still fine", "the coffee maker can still come on Monday"
UNCHANGED = re.compile(r"\b(?:stays?|remains?|(?:can|should|will)\s+(?:stay|remain))\s+(?:as\s+(?:it\s+is|is|they\s+are|"
                       r"booked|planned|arranged|scheduled)|unchanged|the\s+same)\b|\b(?:fine|ok|okay)\s+as\s+(?:it\s+is|is|"
                       r"booked|planned|arranged|scheduled)\b|\b(?:is|are)\s+still\s+(?:fine|ok|okay|good)\b|\b(?:is|are|"
                       r"will\s+be|stays?|remains?)\s+(?:still\s+)?(?:unaffected|not\s+affected|unchanged)\b|"
                       r"\b(?:can|will|should)\s+still\s+(?:come|arrive|be\s+delivered|go\s+ahead)\b", re.I)
# or is all right: "the smart plug in the same parcel is fine", "the other two work perfectly"
FINE = re.compile(r"\b(?:is|are|was|were|works?|worked|arrived|came|turned\s+up|showed\s+up)\s+(?:(?:absolutely|"
                   r"perfectly|totally|just|all|still)\s+)?(?:fine|ok|okay|perfect|intact|spot\s+on|in\s+perfect\s+condition|"
                   r"undamaged|unaffected)\b|\b(?:works?|working)\s+(?:fine|perfectly|great)\b|" + UNCHANGED.pattern, re.I)
BUT = re.compile(r"\bbut\b", re.I)  # "the lamp is fine but the kettle is cracked": not only fine


def unchanged(text: str) -> bool:
    """Whether ``text`` says something stays as it is ("the installation on December 3rd is fine as booked"): what
    it names is kept, never asked for."""
    return bool(UNCHANGED.search(text)) and not BUT.search(text)


def fine_of(text: str) -> str:
    """The words that ``text`` says are all right, in their clause ("Refund to my Mastercard" of "Refund to my
    Mastercard is fine"); '' when it says nothing is."""
    m = FINE.search(text)
    return re.split(r"[,;:]|\b(?:and|so|but)\b", text[:m.start()], flags=re.I)[-1].strip() if m else ""
