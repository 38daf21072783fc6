"""Actions on a team's own HTTP service, declared without code: imported from its OpenAPI document, checked, and
run through the same chokepoint as every action — an approval makes exactly one call, two approvals at once make
one, a process killed between the decision and the call makes it once after restart, a timeout or a 500 ends as
the proposal says, a read feeds a later step, and replay or rehearsal never reaches a write endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select, update

from cx_core import audit, conversations, delivery, desk, domain, packs
from cx_core.access import StaffUser
from cx_core.actions import REGISTRY, ExecContext
from cx_core.actions.execute import execute
from cx_core.config import PROJECT_ROOT, Settings
from cx_core.conversations import Inbound
from cx_core.http_actions import LOADED, openapi
from cx_core.models import Role
from cx_core.plans import Step
from cx_core.services import Services
from cx_core.store.tables import ActionCallRow, NotificationRow, TicketRow
from domains.lumen.tables import CustomerRow
from tests.conftest import NOW, copy_world
from tests.helpers import DEMO_ADMIN
from tests.servers.orders_service import OrdersService, running_orders_service

pytestmark = pytest.mark.http_actions
ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)


class World:
    def __init__(self, svc: Services, orders: OrdersService, folder: Path, customers: list[dict[str, Any]]) -> None:
        self.svc, self.orders, self.folder, self.customers = svc, orders, folder, customers

    @property
    def settings(self) -> Settings:
        return self.svc.settings


@pytest.fixture(scope="module")
def world_http(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("http-actions")
    settings = copy_world(world, folder / "data")
    svc = Services(settings)
    with svc.db.session() as s:
        rows = s.scalars(select(CustomerRow).order_by(CustomerRow.user_id).limit(2)).all()
        customers = [{"id": r.user_id, "email": r.email, "name": f"{r.first_name} {r.last_name}"} for r in rows]
    with running_orders_service(folder) as orders:
        orders.seed(customers, [
            {"id": "O-1", "customer_id": customers[0]["id"], "status": "delivered", "total": 500.0, "address": "x"},
            {"id": "O-2", "customer_id": customers[0]["id"], "status": "pending", "total": 45.5, "address": "x"},
            {"id": "O-3", "customer_id": customers[1]["id"], "status": "delivered", "total": 80.0, "address": "y"},
        ])
        target = folder / "actions.yaml"
        openapi.import_openapi(f"{orders.url}/openapi.json", target, taken=frozenset(REGISTRY))
        previous = os.environ.get("TANDEM_ACTIONS_FILE")
        os.environ["TANDEM_ACTIONS_FILE"] = str(target)
        try:
            packs.use(domain.find("lumen"))
            assert not LOADED.problems, LOADED.problems
            yield World(svc, orders, folder, customers)
        finally:
            if previous is None:
                os.environ.pop("TANDEM_ACTIONS_FILE", None)
            else:
                os.environ["TANDEM_ACTIONS_FILE"] = previous
            packs.use(domain.find("lumen"))
            svc.close()


def _ticket(w: World, ticket_id: str, customer: int = 0) -> str:
    got = conversations.receive(w.svc.db, Inbound(source="api", ticket_id=ticket_id, customer=w.customers[customer]
                                                  ["email"], body="Please refund part of my order."))
    with w.svc.db.tx() as s:
        row = s.get(TicketRow, got.ticket_id)
        assert row is not None
        row.status, row.task_type = "open", "return_refund"
    return got.ticket_id


def _refund(w: World, ticket_id: str, amount: float, order_id: str = "O-1") -> int:
    return int(desk.add_action(w.svc.db, w.svc.policy(), ADVISOR, ticket_id, "create_refund",
                                  {"order_id": order_id, "amount": amount, "reason": "goodwill"})["id"])


def _proposal(w: World, ticket_id: str, pid: int) -> dict[str, Any]:
    return next(p for p in desk.get_ticket(w.svc.db, ticket_id)["proposals"] if p["id"] == pid)


def test_the_openapi_import_declares_reads_and_confirmed_writes_and_checks_clean(world_http: World) -> None:
    w = world_http
    declared = yaml.safe_load((w.folder / "actions.yaml").read_text())
    by_name = {a["name"]: a for a in declared["actions"]}
    assert by_name["get_order"]["effect"] == "read"
    refund = by_name["create_refund"]
    assert refund["effect"] == "write" and refund["confirm"] is True and refund["idempotency_key"] == "Idempotency-Key"
    assert refund["owner"] == {"action": "get_order", "args": {"order_id": "{order_id}"}, "field": "customer_id"}
    assert refund["preview"]["path"].endswith("/refunds/preview") and refund["undo"]["method"] == "DELETE"
    assert "orders_service_cancel_order" in by_name  # the pack's own cancel_order keeps its name
    env = {**os.environ, "TANDEM_ACTIONS_FILE": str(w.folder / "actions.yaml"), "TANDEM_DATA_DIR":
           str(w.settings.data_dir)}
    done = subprocess.run([sys.executable, "-m", "cx_core", "actions", "check"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = w.folder / "broken.yaml"
    bad = {**declared, "actions": [{**refund, "owner": {"action": "nope", "field": "x"}, "path": "/x/{missing}"}]}
    broken.write_text(yaml.safe_dump(bad))
    done = subprocess.run([sys.executable, "-m", "cx_core", "actions", "check"], cwd=PROJECT_ROOT,
                          env={**env, "TANDEM_ACTIONS_FILE": str(broken)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"{broken}: actions.create_refund.path: {{missing}} names no argument" in done.stdout
    assert f"{broken}: actions.create_refund.owner.action: 'nope' is not a read action" in done.stdout


def test_an_approval_makes_exactly_one_call_and_the_service_changes(world_http: World) -> None:
    w = world_http
    tid = _ticket(w, "H-1")
    before = len(w.orders.applied("refund"))
    pid = _refund(w, tid, 12.5)
    assert _proposal(w, tid, pid)["status"] == "pending"
    assert not [c for c in w.orders.calls("/orders/O-1/refunds") if c["method"] == "POST" and
                not c["path"].endswith("/preview")]  # previewed with the dry run, nothing written yet
    out = desk.approve(w.svc.db, w.svc.policy(), ADVISOR, pid)
    assert out["status"] == "executed", out
    p = _proposal(w, tid, pid)
    assert p["status"] == "executed" and p["result"]["amount"] == 12.5
    assert len(w.orders.applied("refund")) == before + 1
    assert desk.approve(w.svc.db, w.svc.policy(), ADVISOR, pid)["status"] == "executed"  # a second click
    assert len(w.orders.applied("refund")) == before + 1
    events = [e for e in audit.events(w.svc.db, DEMO_ADMIN, ticket_id=tid) if e.kind == "action.executed"]
    assert len(events) == 1
    call = events[0].data["call"]
    assert call["method"] == "POST" and call["path"] == "/orders/O-1/refunds" and call["status"] == 201
    assert "request_digest" in call and "Idempotency-Key" not in str(events[0].data)
    with w.svc.db.session() as s:
        row = s.scalars(select(ActionCallRow).where(ActionCallRow.ticket_id == tid)).one()
        assert row.ok and row.latency_ms is not None
    _, text = desk.reply_draft(desk.get_ticket(w.svc.db, tid))
    assert audit.verify(w.svc.db).ok


def test_a_record_of_another_customer_is_refused_before_any_call(world_http: World) -> None:
    w = world_http
    tid = _ticket(w, "H-2")
    with pytest.raises(Exception, match="does not belong to the customer"):
        _refund(w, tid, 5.0, order_id="O-3")
    with pytest.raises(Exception, match="Refund an order"):
        _refund(w, tid, 5000.0)  # the service's dry run says no: one line, nothing stored


def test_two_approvals_at_once_make_one_call_each_time(world_http: World) -> None:
    w = world_http
    tid = _ticket(w, "H-3")
    before = len(w.orders.applied("refund"))
    trials = 100
    for i in range(trials):
        pid = _refund(w, tid, 1.0 + i / 1000)
        results: list[str] = []
        gate = threading.Barrier(2)

        def approve(pid: int = pid, gate: threading.Barrier = gate, results: list[str] = results) -> None:
            gate.wait()
            results.append(desk.approve(w.svc.db, w.svc.policy(), ADVISOR, pid)["status"])

        threads = [threading.Thread(target=approve) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert "executed" in results, results
    refunds = w.orders.applied("refund")
    assert len(refunds) == before + trials
    keys = [c["idempotency_key"] for c in w.orders.calls("/orders/O-1/refunds") if c["method"] == "POST"
            and not c["path"].endswith("/preview") and c["idempotency_key"]]
    assert len(keys) == len(set(keys)) >= trials  # never two calls for one approval


def test_killed_between_the_decision_and_the_call_it_calls_once_after_restart(world_http: World) -> None:
    w = world_http
    tid = _ticket(w, "H-4")
    pid = _refund(w, tid, 7.25)
    before = len(w.orders.applied("refund"))
    env = {**os.environ, "TANDEM_ACTIONS_FILE": str(w.folder / "actions.yaml"), "TANDEM_DATA_DIR":
           str(w.settings.data_dir), "TANDEM_FAILPOINT": "delivery.claimed", "TANDEM_DELIVERY_LEASE_SECONDS": "1",
           "HF_HUB_OFFLINE": "1"}
    script = ("from cx_core.services import Services; from cx_core import desk; from cx_core.models import Role;"
              f"svc = Services(); desk.approve(svc.db, svc.policy(), desk.StaffUser('ada', 'Ada', Role.advisor),"
              f" {pid})")
    dead = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=180)
    assert dead.returncode == -9, dead.stderr.decode()[-2000:]
    assert _proposal(w, tid, pid)["status"] == "calling"  # decided and committed; the call was never made
    assert len(w.orders.applied("refund")) == before
    env.pop("TANDEM_FAILPOINT")
    for _ in range(30):
        time.sleep(1.2)
        subprocess.run([sys.executable, "-m", "cx_core", "dispatch", "--once"], cwd=PROJECT_ROOT, env=env,
                       capture_output=True, timeout=120)
        if _proposal(w, tid, pid)["status"] == "executed":
            break
    assert _proposal(w, tid, pid)["status"] == "executed"
    assert len(w.orders.applied("refund")) == before + 1


def test_a_500_is_retried_under_the_same_key_and_a_timeout_is_stated(world_http: World) -> None:
    w = world_http
    tid = _ticket(w, "H-5")
    before = len(w.orders.applied("refund"))
    pid = _refund(w, tid, 3.0)
    w.orders.fault("/orders/O-1/refunds", status=500, count=1, method="POST")
    out = desk.approve(w.svc.db, w.svc.policy(), ADVISOR, pid)
    assert out["status"] == "calling" and "retrying" in out["reason"] and "500" in out["reason"]
    assert _proposal(w, tid, pid)["status"] == "calling"  # not done, and never said to be
    thread = delivery.problems(w.svc.db, DEMO_ADMIN)
    assert any(p["destination"] == "action" and p["status"] == "retrying" for p in thread)
    time.sleep(0.3)
    with w.svc.db.tx() as s:
        s.execute(update(NotificationRow).where(NotificationRow.status == "retrying")
                  .values(next_attempt_at=NOW.replace(year=2000)))
    delivery.run_once(w.svc.db, w.settings)
    assert _proposal(w, tid, pid)["status"] == "executed"
    assert len(w.orders.applied("refund")) == before + 1

    refused = _refund(w, tid, 2.0)
    w.orders.fault("/orders/O-1/refunds", status=409, count=1, method="POST")
    out = desk.approve(w.svc.db, w.svc.policy(), ADVISOR, refused)
    assert out["status"] == "denied" and "409" in out["reason"]
    assert _proposal(w, tid, refused)["status"] == "denied"
    assert len(w.orders.applied("refund")) == before + 1


def test_a_read_feeds_a_later_step_and_rehearsal_never_writes(world_http: World) -> None:
    from cx_core.step_runner import StepRunner

    w = world_http
    tid = _ticket(w, "H-6")
    ctx = ExecContext(actor="agent", role=None, ticket_id=tid, customer_id=w.customers[0]["id"], autonomy=2,
                      today=NOW.date(), now=NOW)
    run = StepRunner(w.svc.db, w.svc.policy(), ctx, "")
    run.single(Step(action="get_order", args={"order_id": "O-2"}, intent="return_refund", rationale="look it up"),
               True)
    refundable = run.results["get_order"]["refundable"]
    run.single(Step(action="create_refund", args={"order_id": "O-2", "amount": "{refundable}", "reason": "damaged"},
                    intent="return_refund", rationale="refund what is left", depends_on="get_order"), True)
    assert run.proposals[1].args["amount"] == str(refundable)
    assert run.proposals[1].decision.value == "needs_approval"  # a person confirms
    writes_before = [c for c in w.orders.calls("/orders/O-2") if c["method"] != "GET"
                     and not c["path"].endswith("/preview")]
    dry = ExecContext(actor="agent", role=None, ticket_id=tid, customer_id=w.customers[0]["id"], autonomy=3,
                      today=NOW.date(), now=NOW, dry_run=True)
    for action, args in (("create_refund", {"order_id": "O-2", "amount": 1.0, "reason": "x"}),
                         ("change_address", {"order_id": "O-2", "address": "2 Park Lane"})):
        out = execute(w.svc.db, w.svc.policy(), action, args, dry)
        assert out.status in {"executed", "needs_approval"}, out
    writes_after = [c for c in w.orders.calls("/orders/O-2") if c["method"] != "GET"
                    and not c["path"].endswith("/preview")]
    assert writes_after == writes_before  # replay and rehearsal reach reads and dry runs only


def test_a_timeout_is_retried_with_its_key_and_without_a_key_it_is_said_to_be_unknown(world_http: World) -> None:
    w = world_http
    remote = REGISTRY["create_refund"].remote
    tid = _ticket(w, "H-7")
    before = len(w.orders.applied("refund"))
    pid = _refund(w, tid, 4.0)
    remote.service.timeout = 3.0  # the reads before the call answer well within it, even on a busy machine
    try:
        w.orders.fault("/orders/O-1/refunds", delay=6.0, count=1, method="POST")
        out = desk.approve(w.svc.db, w.svc.policy(), ADVISOR, pid)
        assert out["status"] == "calling" and "did not answer within 3 s" in out["reason"]
        time.sleep(3.5)  # the slow service applied it after all; the retry carries the same key
        with w.svc.db.tx() as s:
            s.execute(update(NotificationRow).where(NotificationRow.status == "retrying")
                      .values(next_attempt_at=NOW.replace(year=2000)))
        delivery.run_once(w.svc.db, w.settings)
        assert _proposal(w, tid, pid)["status"] == "executed"
        assert len(w.orders.applied("refund")) == before + 1  # once, though sent twice

        key_header = remote.decl.idempotency_key
        remote.decl.idempotency_key = None  # a service that takes no key: a timeout may have done it
        try:
            pid = _refund(w, tid, 5.0)
            w.orders.fault("/orders/O-1/refunds", delay=6.0, count=1, method="POST")
            out = desk.approve(w.svc.db, w.svc.policy(), ADVISOR, pid)
            assert out["status"] == "failed" and "may have been done" in out["reason"]
            assert _proposal(w, tid, pid)["status"] == "failed"
        finally:
            remote.decl.idempotency_key = key_header
    finally:
        remote.service.timeout = 10.0


def test_a_dry_run_on_the_writes_path_is_its_preview_whatever_its_method_and_an_orphan_is_said(
        tmp_path: Path) -> None:
    """``POST /visits/{id}/validate`` checks ``PATCH /visits/{id}``: the write's preview, though their methods
    differ; a dry run that belongs to no write is named in the notes, not dropped unsaid."""
    import json

    ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"ok": {"type": "boolean"}, "reason": {"type": "string"}}}}}}}
    body = {"content": {"application/json": {"schema": {"type": "object", "properties": {
        "date": {"type": "string", "description": "New day."}}}}}}
    param = [{"name": "visit_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    doc = {"openapi": "3.1.0", "info": {"title": "Visits", "version": "1"}, "servers": [{"url": "http://x.example"}],
           "paths": {
               "/visits/{visit_id}": {"patch": {"operationId": "rescheduleVisit", "summary": "Reschedule a visit",
                                                "parameters": param, "requestBody": body, "responses": ok}},
               "/visits/{visit_id}/validate": {"post": {"operationId": "validateReschedule", "parameters": param,
                                                        "requestBody": body, "responses": ok}},
               "/bills/{bill_id}/preview": {"post": {"operationId": "previewNothing", "responses": ok, "parameters": [
                   {"name": "bill_id", "in": "path", "required": True, "schema": {"type": "string"}}]}}}}
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(doc), encoding="utf-8")
    notes: list[str] = []
    _, added, _ = openapi.import_openapi(str(spec), tmp_path / "actions.yaml", notes=notes)
    assert added == ["reschedule_visit"]
    [action] = yaml.safe_load((tmp_path / "actions.yaml").read_text(encoding="utf-8"))["actions"]
    assert action["preview"]["method"] == "POST" and action["preview"]["path"] == "/visits/{visit_id}/validate"
    assert len(notes) == 1 and notes[0].startswith("preview_nothing (POST /bills/{bill_id}/preview) is a dry run of "
                                                   "no write")


def test_an_enums_labels_are_what_customers_call_its_values_read_and_shown() -> None:
    """``x-enum-labels`` beside an ``enum``: the value is read from the customer's name for it ("Fixed 24"), and a
    reply shows that name, never the code; labels for values the enum lacks are one line naming the field."""
    from datetime import datetime

    from cx_core.errors import InvalidInput
    from cx_core.http_actions.schema import model_from_schema
    from cx_core.reading import arguments
    from cx_core.reading.reader import read

    schema = {"type": "object", "required": ["tariff_code"], "properties": {"tariff_code": {
        "type": "string", "description": "Tariff to move to.", "enum": ["FLEX", "FIX12", "FIX24"],
        "x-enum-labels": {"FLEX": "Northwind Flex", "FIX12": "Fixed 12", "FIX24": "Fixed 24"}}}}
    model = model_from_schema("change_tariff", schema)
    spec = arguments.spec_of("tariff_code", model.model_fields["tariff_code"])
    for text, want in (("Please put me on Fixed 24 from next month.", "FIX24"),
                       ("Move me to FIX12 please.", "FIX12"), ("Switch me to a cheaper tariff.", None)):
        assert arguments.read(spec, read(text, datetime(2026, 11, 20, 9)))[0] == want, text
    listed = {**schema["properties"]["tariff_code"], "x-enum-labels": ["Flex", "Fixed 12", "Fixed 24"]}
    assert model_from_schema("x", {"type": "object", "properties": {"t": listed}}).model_fields["t"] \
        .json_schema_extra == {"x-enum-labels": {"FLEX": "Flex", "FIX12": "Fixed 12", "FIX24": "Fixed 24"}}
    for bad, words in (({"FIX36": "Fixed 36"}, "FIX36 not among the enum values"),
                       (["Flex"], "1 labels for 3 enum values")):
        with pytest.raises(InvalidInput, match=words):
            model_from_schema("x", {"type": "object", "properties": {"t": {**listed, "x-enum-labels": bad}}})


def test_outgoing_clients_share_one_tls_context_that_verifies_certificates() -> None:
    import ssl

    from cx_core import http_client

    assert http_client.tls() is http_client.tls() and http_client.tls().verify_mode == ssl.CERT_REQUIRED
    with http_client.client(timeout=1) as c:
        assert c.timeout.connect == 1
