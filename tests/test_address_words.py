"""The words that say which address a request speaks of, read by the engine for every pack."""

from __future__ import annotations

import pytest

from cx_core.reading import addressing


@pytest.mark.parametrize(("text", "account"), [
    ("please change the address on my account", True),
    ("update my profile address too", True),
    ("the address you have on file is old", True),
    ("send the order to my new place", False),
    ("my email address is new", False),
])
def test_the_accounts_own_address_is_named_and_an_email_address_is_no_place(text: str, account: bool) -> None:
    assert bool(addressing.ACCOUNT_ADDRESS.search(text)) is account
    assert bool(addressing.ADDRESS.search("my email address is new")) is False


def test_someones_address_is_where_the_message_says_they_live_and_cities_go_by_their_address_names() -> None:
    text = "Please send it to my daughter's place. My daughter lives in NYC now."
    who = addressing.SOMEONES.search(text)
    assert who is not None and who.group(1) == "daughter"
    lives = addressing.lives(who.group(1)).search(text)
    assert lives is not None and addressing.places(lives.group(1)) == "New York now"
    assert addressing.SHIP_TO.match("send") and not addressing.SHIP_TO.match("send back")
