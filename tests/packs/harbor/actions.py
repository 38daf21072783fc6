"""Harbor's one action of its own: a call back booked with the phone team. Its words are templates, like a declared
action's."""

from __future__ import annotations

from typing import Any, Literal

from cx_core.actions.base import Args, ExecContext, action
from cx_core.wording import CONFIRM, DONE, PROPOSED, WAITING, WORDING, claim_pattern, templated


class Callback(Args):
    customer_id: str
    day: str
    time_of_day: Literal["morning", "afternoon", "evening"]


@action(name="harbor_book_callback", args=Callback, writes=True, reversible=False, risk="low", connector="phone",
        task_types=("callback_request",), owner=lambda s, a: a.customer_id, label="Book a call back")
def book_callback(s: Any, args: Callback, ctx: ExecContext) -> dict[str, Any]:
    """Books a call from the phone team on a day and in a part of the day."""
    return {"day": args.day, "time_of_day": args.time_of_day}


WORDING["harbor_book_callback"] = templated(
    "the call back",
    {PROPOSED: f"I'm arranging a call back on {{day:date}}, in the {{time_of_day}}. {CONFIRM}",
     WAITING: f"I'm arranging a call back on {{day:date}}, in the {{time_of_day}}. {CONFIRM}",
     DONE: "I've booked a call back on {day:date}, in the {time_of_day}."},
    claim_pattern("Book a call back", ["booked", "arranged", "scheduled"], ["call"]), ())
