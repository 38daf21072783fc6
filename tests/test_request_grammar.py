"""The engine's grammar of requests (``cx_core.reading.requests``) with the verbs of a pack it has never seen: a
library whose members renew, return and reserve loans. Negation, a verb used as a noun or in an idiom, a condition
that only asks whether, a fallback and the kind a condition names are read from English alone; the verbs come
from data."""

from __future__ import annotations

import pytest

from cx_core.errors import ConfigError
from cx_core.reading.reader import Vocabulary

LIBRARY = Vocabulary.of(
    ids={"loan": {"pattern": r"(?i)\b(LN-\d{5})\b"}},
    records={"loan": ["loan", "book", "borrowing"]},
    requests={"record": "loan", "verbs": {"renew": ["renew", "extend"], "return": ["return", "bring back"],
                                          "reserve": ["reserve", "hold"]},
              "money_back": "return", "not_needed": "return"},
).requests


@pytest.mark.parametrize("sentence, kinds", [
    ("Please renew LN-12345 for another three weeks", ["renew"]),
    ("Could you extend my loan and reserve the sequel", ["renew", "reserve"]),
    ("I don't want to renew it", []),  # negation
    ("The renewal went through fine", []),  # a noun, not a verb asked for
    ("My plans have changed, please bring back the atlas", ["return"]),
    ("The book was returned last week", []),  # the passive tells, it does not ask
    ("It needs to be returned by Friday", ["return"]),  # … unless it is wanted
    ("The library renews loans by itself", []),  # a verb that describes
])
def test_verbs_that_ask_and_verbs_that_only_speak(sentence: str, kinds: list[str]) -> None:
    assert [LIBRARY.kind(v) for v, _ in LIBRARY.ops(sentence)] == kinds


def test_a_message_is_cut_into_requests() -> None:
    text = "Renew LN-12345 please. Also reserve the next volume; thanks"
    assert LIBRARY.sentences(text) == ["Renew LN-12345 please", "Also reserve the next volume;", "thanks"]
    # "also" inside a condition stays with it
    assert len(LIBRARY.sentences("If the renewal fails also reserve it")) == 1
    assert LIBRARY.record_id.findall("renew ln-12345 and LN-54321") == ["ln-12345", "LN-54321"]


@pytest.mark.parametrize("sentence, conditional", [
    ("If it is overdue, renew it", True),
    ("Unless someone reserved it, extend my loan", True),
    ("I want to know if the book is in", False),  # "if" that means "whether"
    ("Could you check whether it has a hold", False),
])
def test_a_condition_and_an_if_that_only_asks(sentence: str, conditional: bool) -> None:
    assert LIBRARY.conditional(sentence) is conditional


def test_a_fallback_and_the_request_it_stands_for() -> None:
    assert LIBRARY.fallback("If that is not possible, reserve it instead", lambda _: None) == (
        "that is not possible", "reserve it instead")
    assert LIBRARY.fallback("Otherwise return it", lambda _: None) == ("", "return it")
    # a condition on something else is no fallback
    assert LIBRARY.fallback("If you can't find my card, call me", lambda _: None) is None
    assert LIBRARY.cond_kind("if it cannot be renewed") == "renew"
    # the one who would take it back refusing: what bringing it back is, a fallback
    assert LIBRARY.fallback("If for whatever reason you won't take it back, then reserve the sequel instead",
                            lambda _: None) == ("for whatever reason you won't take it back", "reserve the sequel instead")
    assert LIBRARY.cond_kind("if you refuse to take the atlas back") == "return"
    assert LIBRARY.cond_kind("if extending isn't allowed") == "renew"
    assert LIBRARY.cond_kind("if the weather is bad") is None
    assert LIBRARY.if_possible("If renewing twice is possible, do it") == ("renewing twice is possible", "do it")
    assert LIBRARY.kind("refund") == "return" and LIBRARY.kind("unneeded") == "return"


def test_a_pack_without_verbs_reads_no_request() -> None:
    bare = Vocabulary.of().requests
    assert bare.ops("Please renew it") == [] and bare.cond_kind("if it can't be renewed") is None


def test_verbs_that_are_not_a_list_are_one_line_naming_the_file(tmp_path) -> None:
    from cx_core import packs

    (tmp_path / "reading.yaml").write_text("requests:\n  record: loan\n  verbs:\n    renew: renew\n")
    with pytest.raises(ConfigError, match=r"reading\.yaml: requests: verbs: expected"):
        packs._reading(tmp_path, "GB", "GBP")
    (tmp_path / "reading.yaml").write_text("requests: renew\n")
    with pytest.raises(ConfigError, match=r"reading\.yaml: requests: expected a mapping"):
        packs._reading(tmp_path, "US", "USD")
