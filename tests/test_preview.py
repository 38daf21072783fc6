"""No side effect before approval: proposing, rehearsing (replay, evaluation) and approving-to-be use an action's
side-effect-free preview; only an allowed run calls the system outside."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cx_core.actions import REGISTRY, ExecContext
from cx_core.actions.base import Args, action, forget
from cx_core.actions.execute import execute
from cx_core.models import Role
from cx_core.services import Services
from cx_core.store.tables import ExecutionRow
from tests.conftest import NOW
from tests.helpers import find_order, order


class Parcel(Args):
    reference: str


SENT: list[str] = []  # what the outside system received


def _send(_s: Session, a: Parcel, _ctx: ExecContext) -> dict[str, Any]:
    """Book a courier at the carrier (an outside system)."""
    SENT.append(a.reference)
    return {"sent": a.reference}


def _preview(_s: Session, a: Parcel, _ctx: ExecContext) -> dict[str, Any]:
    if a.reference == "refused":
        from cx_core.errors import PolicyDenied
        raise PolicyDenied("the carrier refuses this parcel")
    return {"would_send": a.reference}


@pytest.fixture
def outside() -> Iterator[str]:
    SENT.clear()
    action(name="book_courier", args=Parcel, writes=True, reversible=False, risk="low", connector="courier",
           task_types=("complaint",), owner=lambda _s, _a: None, local=False, preview=_preview)(_send)
    yield "book_courier"
    forget("book_courier")


def ctx(role: Role | None = None, autonomy: int = 3, dry_run: bool = False) -> ExecContext:
    return ExecContext(actor="tester" if role else "agent", role=role, ticket_id="T-1", customer_id=None,
                       autonomy=autonomy, today=NOW.date(), now=NOW, dry_run=dry_run)


def executions(svc: Services) -> int:
    with svc.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(ExecutionRow)) or 0)


def test_an_action_reaching_outside_must_bring_a_preview() -> None:
    with pytest.raises(TypeError, match="no preview"):
        action(name="wire_money", args=Parcel, writes=True, reversible=False, risk="high", connector="bank",
               task_types=("complaint",), owner=lambda _s, _a: None, local=False)(_send)
    assert "wire_money" not in REGISTRY


def test_proposing_previews_and_never_acts(services: Services, outside: str) -> None:
    out = execute(services.db, services.policy(), outside, {"reference": "P-1"}, ctx(autonomy=2))
    assert out.status == "needs_approval" and SENT == []
    refused = execute(services.db, services.policy(), outside, {"reference": "refused"}, ctx(autonomy=2))
    assert refused.status == "denied" and "carrier refuses" in refused.reason and SENT == []


def test_a_rehearsal_says_what_would_change_and_changes_nothing(services: Services, outside: str) -> None:
    before = executions(services)
    out = execute(services.db, services.policy(), outside, {"reference": "P-2"}, ctx(dry_run=True))
    assert out.status == "executed" and "rehearsal" in out.reason
    assert out.result == {"would_send": "P-2"} and SENT == [] and executions(services) == before
    done = execute(services.db, services.policy(), outside, {"reference": "P-2"}, ctx(Role.advisor))
    assert done.status == "executed" and SENT == ["P-2"] and executions(services) == before + 1


def test_a_local_action_rehearses_in_a_savepoint(services: Services) -> None:
    o = find_order(services, "pending")
    args = {"order_id": o["order_id"], "address1": "12 Oak Street", "city": "Austin", "state": "TX", "zip": "78701"}
    c = ExecContext(actor="agent", role=None, ticket_id="T-1", customer_id=o["user_id"], autonomy=3,
                    today=NOW.date(), now=NOW, dry_run=True)
    out = execute(services.db, services.policy(), "change_shipping_address", args, c)
    assert out.status == "executed" and "rehearsal" in out.reason
    assert order(services, o["order_id"]).address1 != "12 Oak Street"
    # and since nothing ran, the real change is still possible (an address changes once)
    real = execute(services.db, services.policy(), "change_shipping_address", args,
                   ExecContext(actor="ada", role=Role.advisor, ticket_id="T-1", customer_id=o["user_id"],
                               today=NOW.date(), now=NOW))
    assert real.status == "executed" and order(services, o["order_id"]).address1 == "12 Oak Street"
