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


def _slot_widget() -> None:
    from types import SimpleNamespace

    from cx_core import desk
    from pages.fields import field_widget

    snapshot = {"appointments": [{"appointment_id": "APT-1", "free_slots": [
        {"slot_id": f"SL-{n}", "start": start} for n, start in
        enumerate(["2026-11-28T10:00", "2026-11-27T14:00", "2026-11-27T14:00", "2026-11-28T10:00",
                   "2026-11-27T14:00"])]}]}
    choices = desk.record_choices(snapshot)
    field = SimpleNamespace(description="The new time", title=None)
    field_widget("slot_id", field, "SL-2", "slot-field", choices)


def test_each_time_on_offer_is_one_choice_in_time_order_and_the_chosen_one_stays() -> None:
    at = AppTest.from_function(_slot_widget, default_timeout=30).run()
    assert not at.exception
    [box] = at.selectbox
    assert box.options == ["27 Nov 2026, 14:00 · 3 free at this time", "28 Nov 2026, 10:00 · 2 free at this time"]
    assert box.value == "SL-2"  # the time already proposed, whichever of its free slots it named
