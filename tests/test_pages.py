"""AppTest: every page renders for the roles that see it, without an exception, and roles are enforced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cx_core import desk
from cx_core.access import StaffUser
from cx_core.auth import create_user
from cx_core.config import PROJECT_ROOT, Settings
from cx_core.models import Role, TicketIn
from cx_core.services import Services
from tests.conftest import NOW, copy_world
from tests.helpers import DEMO_ADMIN, find_order

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
    desk.add_tickets(svc.db, [ticket], source="test")
    desk.store_result(svc.db, svc.policy(), svc.pipeline.process(ticket, now=NOW))
    for role in Role:
        create_user(svc.db, f"test-{role.value}", f"Test {role.value}", role, "password-123")
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
    assert any("Waiting for the agent" in c.value and "Open" in c.value for c in at.caption)


def test_workspace_renders_a_ticket(app_data: Services) -> None:
    at = signed_in(Role.advisor)
    at.query_params["ticket"] = "P-1"
    at.switch_page("pages/workspace.py").run()
    assert not at.exception
    assert any(b.label == "Approve" for b in at.button)
    assert any(b.label.startswith("Send") for b in at.button)


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


def test_review_page_shows_sampled_actions_and_reverses_one(app_data: Services) -> None:
    from cx_core.policy import Policy

    raw = app_data.policy().model_dump(mode="json")
    raw["review"] = {"sample_rate": 1.0, "risk_above": 1.0}
    policy = Policy.model_validate(raw)
    # another customer than P-1's, whose own open address change on that order would wait for their choice
    o = find_order(app_data, "pending", other_than=find_order(app_data, "pending")["user_id"])
    ticket = TicketIn(id="P-2", customer=o["email"], channel="email", subject="Address please", created_at=NOW,
                      body=f"Please change the address of {o['order_id']} to 77 Birch Lane, Austin, TX 78702.")
    desk.add_tickets(app_data.db, [ticket], source="test")
    desk.store_result(app_data.db, policy, app_data.pipeline.process(ticket, now=NOW, autonomy=3))
    at = signed_in(Role.supervisor)
    at.switch_page("pages/review.py").run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric if m.label == "To review"] == ["2"]  # the change and the reply
    at.text_input(key=next(t.key for t in at.text_input if t.key and t.key.startswith("rev-note-"))).input(
        "shared mailbox")
    at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("rev-r"))).click().run()
    assert not at.exception
    from cx_core import review

    assert review.counts(app_data.db, DEMO_ADMIN).get("reversed") == 1
    advisor = signed_in(Role.advisor)
    advisor.switch_page("pages/review.py").run()
    assert any("supervisor role" in e.value for e in advisor.error)


def test_autonomy_page_for_admins_saves_a_lowered_level_and_shows_history(app_data: Services) -> None:
    at = signed_in(Role.admin)
    at.switch_page("pages/autonomy.py").run()
    assert not at.exception and not at.error
    at.selectbox[0].select("address_change").run()
    at.selectbox[1].select(1).run()
    at.text_input(key="level-why").input("too many edits this month").run()
    save_button = next(b for b in at.button if b.label == "Save level")
    assert not save_button.disabled  # lowering needs no replay
    save_button.click().run()
    assert not at.exception
    from cx_core import autonomy

    assert autonomy.history(app_data.db, DEMO_ADMIN)[0]["why"] == "too many edits this month"
    supervisor = signed_in(Role.supervisor)
    supervisor.switch_page("pages/autonomy.py").run()
    assert any("admin role" in e.value for e in supervisor.error)


def test_knowledge_page_lists_documents_and_only_editors_upload(app_data: Services) -> None:
    at = signed_in(Role.advisor)
    at.switch_page("pages/knowledge.py").run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric if m.label == "Documents"] == [str(len(app_data.kb.documents()))]
    assert any("Supervisors and admins add documents" in i.value for i in at.info)
    sup = signed_in(Role.supervisor)
    sup.switch_page("pages/knowledge.py").run()
    assert not sup.exception and not any("Supervisors and admins add" in i.value for i in sup.info)
    sup.selectbox[0].select(app_data.kb.documents()[0]["doc_id"]).run()
    assert not sup.exception and any(b.label == "Delete for good" for b in sup.button)


def test_insights_page_for_supervisors(app_data: Services) -> None:
    at = signed_in(Role.supervisor)
    at.switch_page("pages/insights.py").run()
    assert not at.exception and not at.error
    assert {"Auto-resolution", "SLA compliance", "Cost per ticket"} <= {m.label for m in at.metric}
    assert any("No model is configured" in i.value for i in at.info)  # the Model tab, offline
    advisor = signed_in(Role.advisor)
    advisor.switch_page("pages/insights.py").run()
    assert any("supervisor role" in e.value for e in advisor.error)


def test_channels_page_for_admins_only(app_data: Services) -> None:
    at = signed_in(Role.admin)
    at.switch_page("pages/channels.py").run()
    assert not at.exception and not at.error
    assert "Channels" in [t.value for t in at.title]
    supervisor = signed_in(Role.supervisor)
    supervisor.switch_page("pages/channels.py").run()
    assert not supervisor.exception and any("admin role" in e.value for e in supervisor.error)


def test_users_page_creates_a_user(app_data: Services) -> None:
    at = signed_in(Role.admin)
    at.switch_page("pages/users.py").run()
    assert not at.exception and not at.error
    at.text_input[0].input("jo.martin")
    at.text_input[1].input("Jo Martin")
    at.text_input[2].input("first-pass-1")
    next(b for b in at.button if b.label == "Create user").click().run()
    assert not at.exception
    from cx_core.auth import authenticate

    assert authenticate(app_data.db, "jo.martin", "first-pass-1") is not None
    sup = signed_in(Role.supervisor)
    sup.switch_page("pages/users.py").run()
    assert any("admin role" in e.value for e in sup.error)


def test_inbox_take_assigns_the_ticket(app_data: Services) -> None:
    at = signed_in(Role.advisor).run()
    next(b for b in at.button if b.key == "take-P-1").click().run()
    assert not at.exception
    assert desk.get_ticket(app_data.db, "P-1")["ticket"]["assigned_to"] == "test-advisor"


def test_workspace_reply_offers_the_decisions_wording_and_never_types_into_the_advisors_edits(app_data: Services) -> None:
    at = signed_in(Role.advisor)
    at.query_params["ticket"] = "P-1"
    at.switch_page("pages/workspace.py").run()
    reply = next(t for t in at.text_area if t.label.startswith("Suggested reply"))
    assert "I'm arranging to change the shipping address" in reply.value and "I've changed" not in reply.value
    reply.input(reply.value.replace("Hi ", "Hello ", 1)).run()
    next(b for b in at.button if b.label == "Send and resolve").click().run()
    assert not at.exception
    assert any("Approve or reject the address change first" in w.value for w in at.warning)
    assert any(b.label == "Send anyway" for b in at.button)  # an audited override is offered
    next(b for b in at.button if b.label == "Approve").click().run()
    assert not at.exception
    reply = next(t for t in at.text_area if t.label.startswith("Suggested reply"))
    # what the advisor typed never changes by itself: the decision's wording is offered beside it
    assert reply.value.startswith("Hello ") and "I'm arranging to change the shipping address" in reply.value
    assert any("A newer suggested reply is ready." in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Use the newer reply").click().run()
    reply = next(t for t in at.text_area if t.label.startswith("Suggested reply"))
    assert reply.value.startswith("Hello ") and "I've changed the shipping address" in reply.value  # edits kept
    next(b for b in at.button if b.label == "Send and resolve").click().run()
    assert not at.exception and desk.get_ticket(app_data.db, "P-1")["ticket"]["status"] == "resolved"


def test_what_an_advisor_typed_and_did_not_send_outlives_a_reload(app_data: Services) -> None:
    at = signed_in(Role.advisor)
    at.query_params["ticket"] = "P-1"
    at.switch_page("pages/workspace.py").run()
    reply = next(t for t in at.text_area if t.label.startswith("Suggested reply"))
    mine = reply.value.replace("Hi ", "Good morning ", 1)
    reply.input(mine).run()
    again = signed_in(Role.advisor)  # the same advisor, a new browser session (a reload)
    again.query_params["ticket"] = "P-1"
    again.switch_page("pages/workspace.py").run()
    assert not again.exception
    assert next(t for t in again.text_area if t.label.startswith("Suggested reply")).value == mine
    other = signed_in(Role.supervisor)  # another person opens the ticket: the suggestion, not someone's draft
    other.query_params["ticket"] = "P-1"
    other.switch_page("pages/workspace.py").run()
    assert not next(t for t in other.text_area if t.label.startswith("Suggested reply")).value.startswith("Good morning")
    reply = next(t for t in again.text_area if t.label.startswith("Suggested reply"))
    reply.input(reply.value.replace("Good morning ", "Hi ", 1)).run()  # back to the suggestion: nothing kept


def test_workspace_adds_an_action_the_agent_missed(app_data: Services) -> None:
    at = signed_in(Role.advisor)
    at.query_params["ticket"] = "P-1"
    at.switch_page("pages/workspace.py").run()
    assert not at.exception
    at.selectbox(key="add-P-1").select("refund").run()
    order_box = at.selectbox(key="add-P-1-refund-order_id")
    assert order_box.options and all(" · " in o for o in order_box.options)  # the customer's orders, described
    order_box.set_value(order_box.options[0].split(" · ")[0])
    at.number_input(key="add-P-1-refund-amount").set_value(5.0)
    at.text_input(key="add-P-1-refund-reason").input("goodwill gesture")
    next(b for b in at.button if b.label == "Check and add").click().run()
    assert not at.exception and not at.error
    added = [p for p in desk.get_ticket(app_data.db, "P-1")["proposals"] if p["action"] == "refund"]
    assert len(added) == 1 and added[0]["status"] == "pending" and added[0]["rationale"].startswith("added by")
    assert any("Refund" in m.value for m in at.markdown)


def test_reading_a_ticket_takes_nothing_and_release_gives_it_back_for_good(app_data: Services) -> None:
    at = signed_in(Role.advisor)
    at.query_params["ticket"] = "P-1"
    at.switch_page("pages/workspace.py").run()
    assert desk.get_ticket(app_data.db, "P-1")["ticket"]["assigned_to"] is None  # opening it to read claims nothing
    next(b for b in at.button if b.label == "Take").click().run()
    assert desk.get_ticket(app_data.db, "P-1")["ticket"]["assigned_to"] == "test-advisor"
    next(b for b in at.button if b.label == "Release").click().run()
    assert not at.exception
    assert desk.get_ticket(app_data.db, "P-1")["ticket"]["assigned_to"] is None  # not taken again on the rerun
    assert any(b.label == "Take" for b in at.button)


def test_a_reply_already_sent_is_never_offered_again_in_a_new_session(app_data: Services) -> None:
    data = desk.get_ticket(app_data.db, "P-1")
    _, text = desk.reply_draft(data)
    advisor = StaffUser("test-advisor", "Test advisor", Role.advisor)
    from cx_core.drafting import NEXT

    desk.send_reply(app_data.db, app_data.policy(), advisor, "P-1", f"Hi,\n\n{NEXT}\n\nKind regards", resolve=False,
                    override="a holding line first")
    at = signed_in(Role.advisor)  # a holding line answers nothing: the draft is still offered
    at.query_params["ticket"] = "P-1"
    at.switch_page("pages/workspace.py").run()
    assert next(t for t in at.text_area if t.key == "reply-P-1").value == text
    desk.send_reply(app_data.db, app_data.policy(), advisor, "P-1", text, resolve=False, override="sent as drafted")
    at = signed_in(Role.advisor)  # another session: nothing of the send is in it
    at.query_params["ticket"] = "P-1"
    at.switch_page("pages/workspace.py").run()
    assert not at.exception
    box = next(t for t in at.text_area if t.key == "reply-P-1")
    assert box.value == "" and box.label.startswith("Follow-up (the suggested reply went out at")
