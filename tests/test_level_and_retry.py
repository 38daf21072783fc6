"""What the agent did alone says the level in force; a ticket the agent failed on shows why in one line and can be
run again (command line and workspace), audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cx_core import audit, desk, worker
from cx_core.access import StaffUser
from cx_core.cli import main
from cx_core.config import PROJECT_ROOT
from cx_core.errors import InvalidInput, TandemError
from cx_core.models import Decision, Role, TicketIn
from cx_core.services import Services
from tests.conftest import NOW
from tests.helpers import DEMO_ADMIN, find_order

ADVISOR = StaffUser("ada", "Ada Advisor", Role.advisor)


def test_an_answer_sent_alone_at_level_1_says_level_1(services: Services) -> None:
    o = find_order(services, "delivered")
    t = TicketIn(id="L-1", customer=o["email"], channel="email", subject="Order status",
                 body=f"Hello, where is my order #{o['order_id']}? Has it been delivered?", created_at=NOW)
    desk.add_tickets(services.db, [t], source="test")
    result = services.pipeline.process(t, now=NOW)
    assert result.autonomy == 1
    [sent] = [p for p in result.proposals if p.action == "send_reply"]
    assert sent.decision == Decision.executed
    assert sent.reason == "within policy at autonomy level 1 (answer)"
    event = [e for e in audit.events(services.db, DEMO_ADMIN, ticket_id="L-1") if e.kind == "action.executed"][-1]
    assert event.data["action"] == "send_reply" and event.data["reason"].endswith("level 1 (answer)")


def test_an_action_done_alone_at_level_3_says_level_3(services: Services) -> None:
    o = find_order(services, "pending")
    t = TicketIn(id="L-3", customer=o["email"], channel="email", subject="New address", created_at=NOW,
                 body=f"Please change the address of {o['order_id']} to 12 Oak Street, Austin, TX 73301.")
    desk.add_tickets(services.db, [t], source="test")
    result = services.pipeline.process(t, now=NOW, autonomy=3)
    done = result.executed_writes()
    assert [p.action for p in done][:1] == ["change_shipping_address"], result.proposals
    assert done[0].reason == "within policy at autonomy level 3 (supervised)"


# ------------------------------------------------------------------ a failed ticket, run again
def _failed(svc: Services, ticket_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    o = find_order(svc, "pending")
    desk.add_tickets(svc.db, [TicketIn(id=ticket_id, customer=o["email"], channel="email", subject="Where is it",
                                          body=f"Where is order #{o['order_id']}?", created_at=NOW)], source="test")

    def broken(*_a: object, **_k: object) -> None:
        raise KeyError("tier")

    with monkeypatch.context() as m:
        m.setattr(svc.pipeline, "process", broken)
        assert worker.process_one(svc, "test-worker")


def test_a_failed_ticket_says_why_in_one_line_and_runs_again(services: Services,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _failed(services, "F-1", monkeypatch)
    t = desk.get_ticket(services.db, "F-1")["ticket"]
    assert t["status"] == "open" and t["error"] == "processing failed: KeyError: 'tier'"
    assert not worker.process_one(services, "test-worker")  # never taken again by itself
    desk.retry(services.db, ADVISOR, "F-1")
    with pytest.raises(InvalidInput, match="already waiting for the agent"):
        desk.retry(services.db, ADVISOR, "F-1")
    events = [e for e in audit.events(services.db, DEMO_ADMIN, ticket_id="F-1") if e.kind == "ticket.retried"]
    assert len(events) == 1 and events[0].actor == "ada" and events[0].data["error"].startswith("processing failed")
    assert worker.process_one(services, "test-worker")
    t = desk.get_ticket(services.db, "F-1")["ticket"]
    assert t["error"] is None and t["status"] in {"open", "resolved", "escalated"}
    with pytest.raises(InvalidInput, match="the agent did not fail on ticket F-1"):
        desk.retry(services.db, ADVISOR, "F-1")


def test_the_worker_runs_failed_tickets_again_from_the_command_line(services: Services, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _failed(services, "F-2", monkeypatch)
    _failed(services, "F-3", monkeypatch)
    with pytest.raises(TandemError, match="ticket F-4 not found"):
        desk.retry_failed(services.db, ["F-2", "F-4"])
    assert desk.get_ticket(services.db, "F-2")["ticket"]["error"]  # nothing changed
    monkeypatch.setenv("TANDEM_DATA_DIR", str(services.settings.data_dir))
    assert main(["worker", "--retry-failed", "F-2", "--once", "--no-deliver", "--no-mailbox"]) == 0
    assert "1 failed ticket back in the queue: F-2" in capsys.readouterr().err
    assert desk.get_ticket(services.db, "F-2")["ticket"]["error"] is None
    assert desk.get_ticket(services.db, "F-3")["ticket"]["error"]
    assert desk.retry_failed(services.db) == ["F-3"]


def test_the_workspace_shows_the_failure_in_one_line_and_a_button_to_run_again(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    _failed(services, "F-5", monkeypatch)
    monkeypatch.setenv("TANDEM_DATA_DIR", str(services.settings.data_dir))
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
        at.session_state["user"] = ADVISOR
        at.query_params["ticket"] = "F-5"
        at.switch_page("pages/workspace.py").run()
        assert not at.exception
        shown = [e.value.replace("\\", "") for e in at.error]  # as the page reads (markdown escapes aside)
        assert any(v.startswith("The agent could not process this ticket: processing failed: KeyError: 'tier'")
                   for v in shown), shown
        assert not any("Traceback" in v for v in shown)
        [again] = [b for b in at.button if b.label == "Run the agent again"]
        again.click().run()
        assert not at.exception
        t = desk.get_ticket(services.db, "F-5")["ticket"]
        assert t["status"] == "new" and t["error"] is None
        assert [e.actor for e in audit.events(services.db, DEMO_ADMIN, ticket_id="F-5")
                if e.kind == "ticket.retried"] == ["ada"]
    finally:
        st.cache_resource.clear()
