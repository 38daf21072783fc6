"""The returns policy for appliances installed at home: returned only before their installation starts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cx_core.plans import Plan, Step
from cx_core.wording import day, listed

from .picking import repair_words, the_names

_SENT_BACK = ("return_items", "exchange_item")  # what cannot happen to an appliance once it is installed


def not_once_installed(plan: Plan, snap: dict[str, Any] | None, fault: str) -> None:
    """The returns policy: an appliance installed at home is returned (or swapped) only before its installation
    starts; after, a return is refused with the way the warranty leaves open, and one asked because it is damaged
    is repaired under the warranty (the replacement or refund offered beside it is no longer said)."""
    out = []
    for st in plan.steps:
        order = next((o for o in (snap or {}).get("orders") or [] if o["order_id"] == st.args.get("order_id")), None)
        chosen = [i for i in (order or {}).get("items") or [] if i["item_id"] in (st.args.get("item_ids") or [])]
        installed = _installed(snap or {}, str(st.args.get("order_id")), chosen) \
            if st.action in _SENT_BACK and not st.refused and chosen else ""
        if not installed or order is None or (st.action == "exchange_item" and st.intent != "damaged_item"):
            out.append(st)
            continue
        one = len(chosen) == 1
        names = listed(the_names(chosen))
        if st.intent == "damaged_item":
            words = {k: v for k, v in repair_words(order, chosen).items() if k != "delivered"}
            out.append(Step("book_repair", {"order_id": order["order_id"], "item_ids": [i["item_id"] for i in chosen],
                                            "fault": fault}, st.intent,
                            f"installed on {installed}: no longer returned; the warranty repairs it",
                            defaults={**words, "installed": installed, "items": names, "one": "yes" if one else ""}))
            plan.questions.pop(st.intent, None)  # a replacement or a refund instead: neither is open any more
        else:
            out.append(replace(st, refused=(
                f"{names} {'was' if one else 'were'} installed on {installed}, so "
                f"{'it' if one else 'they'} can no longer be returned: an installed appliance can be returned only "
                f"before its installation starts. If anything is wrong with {'it' if one else 'them'}, our two-year "
                "warranty covers a free repair: just tell us what the fault is and I'll book it")))
    plan.steps = out


def _installed(snap: dict[str, Any], order_id: str, chosen: list[dict[str, Any]]) -> str:
    """The day an installation of the order was carried out, when the items chosen are installed at home; ''."""
    if not any(i.get("at_home") for i in chosen):
        return ""
    done = sorted(str(a["start"]) for a in snap.get("appointments") or [] if a.get("order_id") == order_id
                  and a.get("status") == "completed" and a.get("kind", "installation") == "installation")
    return day(done[0][:10]) if done else ""
