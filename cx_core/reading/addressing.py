"""The words of English that say which address a request speaks of, for every pack: a thing sent somewhere ("ship
it to", "deliver my lamp to"), the account's own address ("my profile address", "the address on my account",
"the address you have on file"), someone else's ("my daughter's place", and where the message says she lives), a
new home, and the everyday names of cities ("NYC", "Philly") as addresses write them. Where an address is written
out, ``values.addresses`` reads it."""

from __future__ import annotations

import re

# a thing sent somewhere: "ship", "send", "deliver", "redirect", "forward" (never "send back")
SHIP_TO = re.compile(r"(?:ship|send|deliver|redirect|forward)\b(?!\s+back\b)", re.I)
# the word "address" as a place, not an e-mail address
ADDRESS = re.compile(r"(?<!e-mail )(?<!email )\baddress\b", re.I)
# the account's own address named as the thing changed: "my account address", "the address on my profile", "home
# address", "the address you have on file"; never across a clause ("Lumen Home team, the delivery address")
ACCOUNT_ADDRESS = re.compile(r"\b(?:(?:user|default|profile|account)\b[^.,;!?]{0,20}\b|home\s+)address|\baddress\s+"
                             r"(?:on|of|for|in)\s+(?:my|the|our)\s+(?:user\s+)?(?:account|profile)\b|\baddress\s+"
                             r"(?:you\s+have\s+|we\s+have\s+)?on\s+file\b", re.I)
# "… and my default address too": the account's address changed beside an order's
ACCOUNT_TOO = re.compile(r"\b(?:user|default|profile|account)\s+address", re.I)
ALONG_WITH_ACCOUNT = re.compile(r"\b(?:and|along with|as well as|plus) (?:also )?(?:my |your |the )?"
                                r"(?:user |default |profile )+address", re.I)
# the account's address as the place to send to: "to my profile address", "the address in my account"
TO_ACCOUNT_ADDRESS = re.compile(r"\bto (?:my|your|the) (?:default|profile|account|home|user)(?: default)? address|"
                                r"\baddress (?:on|in) (?:my|your|the) (?:profile|account)", re.I)
# someone else's address: "my daughter's address", "her mother's place" (its first group: who)
SOMEONES = re.compile(r"\b(?:my|your|his|her|our|their)\s+([a-z]+)'s\s+(?:address|place|home|house|apartment)", re.I)
# a new home: "the new house", "our new place"
NEW_HOME = re.compile(r"\bnew (?:home|house|address|place|apartment|flat)\b", re.I)


def lives(who: str) -> re.Pattern[str]:
    """Where the message says someone lives: "my daughter lives in Chicago" (its first group: the place)."""
    return re.compile(rf"\b{re.escape(who)}\b[^.;]*?\b(?:lives?|living|stays?|moved|is)\s+(?:now\s+)?(?:in|at|to)\s+"
                      r"([^.;,]+)", re.I)


# the everyday names of cities, as their addresses write them
_CITY_NAMES = {r"\bnyc\b|\bnew york city\b|\bbig apple\b|\bmanhattan\b": "New York",
               r"\bwashington,? d\.?c\.?|\bd\.?c\.?\b": "Washington", r"\bla\b": "Los Angeles",
               r"\bsf\b": "San Francisco", r"\bphilly\b": "Philadelphia"}


def places(text: str) -> str:
    """``text`` with the everyday names of cities written as they are on addresses ("my NYC address")."""
    for pattern, city in _CITY_NAMES.items():
        text = re.sub(pattern, city, text, flags=re.I)
    return text
