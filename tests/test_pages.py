"""AppTest: every page renders for the roles that see it, without an exception, and roles are enforced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cx_core import tickets
from cx_core.config import PROJECT_ROOT, Settings
from cx_core.models import Role, TicketIn
from cx_core.services import Services
from cx_core.tickets import StaffUser
from tests.conftest import NOW, copy_world
from tests.helpers import find_order

APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture
def app_data(world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    settings = copy_world(world, tmp_path / "data")
    monkeypatch.setenv("TANDEM_DATA_DIR", str(settings.data_dir))
    import streamlit as st

    st.cache_resource.clear()
    svc = Services(settings)
    o = find_order(svc, "pending")
    ticket = TicketIn(id="P-1", customer=o["email"], channel="email", subject="New address", created_at=NOW,
                      body=f"Please ship order {o['order_id']} to 12 Oak Street, Austin, TX 78701 instead.")
    tickets.add_tickets(svc.db, [ticket], source="test")
    tickets.store_result(svc.db, svc.policy(), svc.pipeline.process(ticket, now=NOW))
    yield svc
    svc.close()
    st.cache_resource.clear()


def signed_in(role: Role) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = StaffUser(f"test-{role.value}", f"Test {role.value}", role)
    return at


def test_sign_in_form_and_wrong_password(app_data: Services) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    at.text_input[0].input("ada")
    at.text_input[1].input("wrong-password")
    at.button[0].click().run()
    assert any("Wrong username or password" in e.value for e in at.error)
    at.text_input[1].input("advisor-demo")
    at.button[0].click().run()
    assert not at.exception and "user" in at.session_state


def test_inbox_renders(app_data: Services) -> None:
    at = signed_in(Role.advisor).run()
    assert not at.exception
    assert any(m.label == "Open" for m in at.metric)


def test_workspace_renders_a_ticket(app_data: Services) -> None:
    at = signed_in(Role.advisor)
    at.query_params["ticket"] = "P-1"
    at.switch_page("pages/workspace.py").run()
    assert not at.exception
    assert any(b.label == "Approve" for b in at.button)
    assert any("Send reply" in b.label for b in at.button)


def test_workspace_unknown_ticket_is_a_warning_not_a_crash(app_data: Services) -> None:
    at = signed_in(Role.advisor)
    at.query_params["ticket"] = "does-not-exist"
    at.switch_page("pages/workspace.py").run()
    assert not at.exception and any("not found" in w.value for w in at.warning)


def test_audit_page_for_supervisors_only(app_data: Services) -> None:
    at = signed_in(Role.supervisor)
    at.switch_page("pages/audit_log.py").run()
    assert not at.exception and not at.error
    advisor = signed_in(Role.advisor)
    advisor.switch_page("pages/audit_log.py").run()
    assert any("supervisor role" in e.value for e in advisor.error)
