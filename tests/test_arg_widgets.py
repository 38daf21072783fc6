"""The widget an advisor fills an action's argument with: a choice, optional or not, is chosen from its options as
people read them, never typed as a code."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _reason_widget() -> None:
    from domains.airline.actions import CancelReservation
    from pages.fields import arg_widget

    arg_widget("reason", CancelReservation.model_fields["reason"], "change_of_plan", "reason-field")


def test_an_optional_choice_is_a_choice_shown_in_words() -> None:
    at = AppTest.from_function(_reason_widget, default_timeout=30).run()
    assert not at.exception and not at.text_input
    [box] = at.selectbox
    assert box.value == "change_of_plan"  # the action takes its code; the advisor reads its words
    assert box.options == ["change of plan", "airline cancelled", "health", "weather", "other"]
