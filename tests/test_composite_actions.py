"""A composite step declared as data: a reschedule on a system with no "move" (cancel the booked visit, then book the
new time), approved once, rehearsed part by part, run in order against the team's real service (the Northwind
service the test starts), each part once; when the booking fails, the cancellation is undone. A composite whose part
is not a declared write is kept out with its reason."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cx_core import desk, domain, http_actions, packs
from cx_core.access import StaffUser
from cx_core.auth import create_user
from cx_core.config import PROJECT_ROOT, load_settings
from cx_core.http_actions import loading
from cx_core.models import Role, TicketIn
from cx_core.services import Services
from cx_core.store.tables import TicketRow
from cx_core.wording import DONE, sentence
from tests.conftest import NOW
from tests.helpers import HTTP
from tests.servers.northwind_energy import NorthwindService, running_northwind

TOKEN = "composite-token"
EMAILS = ["gareth.lloyd@example.co.uk", "priya.shah@example.co.uk", "tom.bennett@example.co.uk"]
ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)
CANCEL = {"name": "cancel_visit", "label": "Cancel an engineer visit", "description": "Cancels a booked visit.",
          "effect": "write", "service": "energy", "method": "POST", "path": "/visits/{visit_id}/cancel",
          "arguments": {"type": "object", "required": ["visit_id"],
                        "properties": {"visit_id": {"type": "string", "description": "Visit number."}}},
          "idempotency_key": "Idempotency-Key", "confirm": True,
          "owner": {"action": "get_visit", "args": {"visit_id": "{visit_id}"}, "field": "customer_id"},
          "undo": {"method": "POST", "path": "/visits/{visit_id}/restore"}, "task_types": ["move_visit"]}
RESCHEDULE = {
    "name": "reschedule_visit", "label": "Reschedule an engineer visit",
    "description": "Cancel the booked visit and book the new time, as one change.", "task_types": ["move_visit"],
    "arguments": {"type": "object", "required": ["visit_id", "account_id", "date", "period"], "properties": {
        "visit_id": {"type": "string", "description": "The booked visit."},
        "account_id": {"type": "string", "description": "Supply account number."},
        "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "New day."},
        "period": {"type": "string", "enum": ["morning", "afternoon"], "description": "New part of the day."}}},
    "parts": [{"action": "cancel_visit", "args": {"visit_id": "{visit_id}"}},
              {"action": "book_visit", "args": {"account_id": "{account_id}", "date": "{date}", "period": "{period}",
                                                "reason": "rescheduled visit"}}],
    "wording": {"proposed": "I've asked a colleague to approve moving your engineer visit to {date:date} in the "
                            "{period}.",
                "done": "I've moved your engineer visit to {date:date} in the {period}.",
                "verbs": ["moved", "rescheduled"], "topic": ["visit", "engineer"]}}


@pytest.fixture(scope="module")
def energy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NorthwindService, Services, Path]]:
    folder = tmp_path_factory.mktemp("composite")
    actions = yaml.safe_load((PROJECT_ROOT / "domains" / "northwind" / "actions.yaml").read_text(encoding="utf-8"))
    actions["actions"].append(CANCEL)
    actions["composites"] = [RESCHEDULE, {**RESCHEDULE, "name": "broken_reschedule",
                                          "parts": [{"action": "get_visit", "args": {"visit_id": "{visit_id}"}},
                                                    RESCHEDULE["parts"][1]]}]
    target = folder / "actions.yaml"
    target.write_text(yaml.safe_dump(actions, sort_keys=False), encoding="utf-8")
    shutil.copy(PROJECT_ROOT / "domains" / "northwind" / "card.yaml", folder / "card.yaml")
    saved = {k: os.environ.get(k) for k in ("TANDEM_ACTIONS_FILE", "TANDEM_NORTHWIND_URL", "TANDEM_NORTHWIND_TOKEN")}
    with running_northwind(folder / "service", token=TOKEN) as service:
        os.environ.update(TANDEM_ACTIONS_FILE=str(target), TANDEM_NORTHWIND_URL=service.url,
                          TANDEM_NORTHWIND_TOKEN=TOKEN)
        svc = Services(load_settings(domain="northwind", data_dir=folder / "data", database_url=""))
        try:
            packs.use(domain.find("northwind"))
            svc.db.migrate()
            create_user(svc.db, "ada", "Ada Advisor", Role.advisor, "ada-advisor-composite")
            yield service, svc, target
        finally:
            svc.close()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            packs.use(domain.find("lumen"))


def _get(service: NorthwindService, path: str) -> Any:
    return HTTP.get(f"{service.url}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()


def _booked_and_free(service: NorthwindService) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A booked visit of a customer, its account's customer's e-mail, and a free slot another day."""
    for email in EMAILS:
        found = _get(service, f"/customers?email={email}")
        c = (found["items"] if isinstance(found, dict) else found)[0]
        visits = [v for v in _get(service, f"/customers/{c['id']}/visits")["items"] if v["status"] == "booked"]
        if visits:
            free = [s for s in _get(service, "/slots")["items"] if s["date"] != visits[0]["date"]]
            return visits[0], free[0], email
    raise AssertionError("no booked visit in the service's data")


def _ticket(svc: Services, tid: str, email: str) -> None:
    desk.add_tickets(svc.db, [TicketIn(id=tid, customer=email, subject="My engineer visit", created_at=NOW,
                                       body="Could the engineer come another day?")], source="test")
    with svc.db.tx() as s:  # read by the agent: open, with its customer
        row = s.get(TicketRow, tid)
        assert row is not None and row.customer_id
        row.status, row.task_type = "open", "move_visit"


def test_a_composite_is_in_force_and_one_whose_part_reads_is_kept_out_with_its_reason(energy: Any) -> None:
    _, _, target = energy
    assert "reschedule_visit" in http_actions.LOADED.composites
    reading = loading.read(target)
    assert reading.refused["broken_reschedule"].endswith("part 'get_visit' is a read: a composite's parts change "
                                                         "records")


def test_a_reschedule_is_approved_once_and_each_part_runs_once_in_order(energy: Any) -> None:
    service, svc, _ = energy
    visit, slot, email = _booked_and_free(service)
    _ticket(svc, "C-1", email)
    args = {"visit_id": visit["id"], "account_id": visit["account_id"], "date": slot["date"], "period": slot["period"]}
    added = desk.add_action(svc.db, svc.policy(), ADVISOR, "C-1", "reschedule_visit", args)
    assert added["status"] == "pending"  # checked (owner, policy, each part's preview): nothing changed yet
    assert _get(service, f"/visits/{visit['id']}")["status"] == "booked"
    out = desk.approve(svc.db, svc.policy(), ADVISOR, int(added["id"]))
    assert out["status"] == "executed", out
    assert _get(service, f"/visits/{visit['id']}")["status"] == "cancelled"
    now = [v for v in _get(service, f"/customers/{visit['customer_id']}/visits")["items"]
           if v["status"] == "booked" and v["date"] == slot["date"] and v["period"] == slot["period"]]
    assert len(now) == 1
    assert desk.approve(svc.db, svc.policy(), ADVISOR, int(added["id"]))["status"] == "executed"  # a second click
    again = [v for v in _get(service, f"/customers/{visit['customer_id']}/visits")["items"]
             if v["status"] == "booked" and v["date"] == slot["date"] and v["period"] == slot["period"]]
    assert len(again) == 1  # each part ran once
    proposal = next(p for p in desk.get_ticket(svc.db, "C-1")["proposals"] if p["id"] == int(added["id"]))
    assert [p["action"] for p in proposal["result"]["parts"]] == ["cancel_visit", "book_visit"]
    said = sentence("reschedule_visit", DONE, args, proposal["result"])
    assert said.startswith("I've moved your engineer visit to ") and said.endswith(f"in the {slot['period']}.")


def test_when_the_booking_fails_the_cancellation_is_undone(energy: Any) -> None:
    service, svc, _ = energy
    visit, _, email = _booked_and_free(service)
    _ticket(svc, "C-2", email)
    taken = {"visit_id": visit["id"], "account_id": visit["account_id"], "date": "2026-11-28",  # a Saturday
             "period": "morning"}
    with pytest.raises(Exception, match="weekend|not free"):  # the booking's own preview says no: nothing runs
        desk.add_action(svc.db, svc.policy(), ADVISOR, "C-2", "reschedule_visit", taken)
    assert _get(service, f"/visits/{visit['id']}")["status"] == "booked"
    # the same failure at run time (the preview passed, then the slot went): the cancelled visit is put back
    from cx_core.actions import REGISTRY

    remote = REGISTRY["reschedule_visit"].remote
    assert remote is not None
    with pytest.raises(Exception, match="undone"):
        remote.call(taken, key="composite-test-1")
    assert _get(service, f"/visits/{visit['id']}")["status"] == "booked"
