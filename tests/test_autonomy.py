"""Autonomy as data: canaries, the kill switch, audited policy changes, a broken file refused with its line while
the last good version stays active, and earned-autonomy evidence."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cx_core import audit, autonomy, desk
from cx_core.access import StaffUser
from cx_core.errors import ConfigError, InvalidInput, NotAuthorised
from cx_core.models import Role, TicketIn
from cx_core.policy import load_policy, parse_policy
from cx_core.services import Services
from cx_core.store.db import utcnow
from cx_core.store.tables import ProposalRow, TicketRow
from tests.conftest import NOW
from tests.helpers import find_order

ADMIN = StaffUser("root", "Root", Role.admin)
SUPERVISOR = StaffUser("sam", "Sam", Role.supervisor)
ADVISOR = StaffUser("ada", "Ada", Role.advisor)


def base() -> dict:
    return {"version": 1, "autonomy": {"address_change": 2}}


def test_canary_applies_to_a_share_of_customers_or_chosen_channels() -> None:
    p = parse_policy({**base(), "canary": {"address_change": {"level": 3, "percent": 30}}})
    customers = [f"user_{i}" for i in range(1000)]
    share = sum(p.level("address_change", c) == 3 for c in customers) / len(customers)
    assert 0.25 < share < 0.35
    assert all(p.level("address_change", c) == p.level("address_change", c) for c in customers[:50])  # stable
    p = parse_policy({**base(), "canary": {"address_change": {"level": 3, "channels": ["chat"]}}})
    assert p.level("address_change", "anyone", "chat") == 3
    assert p.level("address_change", "anyone", "email") == 2


def test_kill_switch_drops_every_level_to_copilot() -> None:
    p = parse_policy({**base(), "kill_switch": True, "autonomy": {"address_change": 4, "order_status": 1},
                      "canary": {"exchange": {"level": 4, "percent": 100}}})
    assert p.level("address_change") == 2
    assert p.level("exchange", "u1") == 2
    assert p.level("order_status") == 1  # below copilot stays where it is


def test_limits_and_levels_are_validated_with_the_field() -> None:
    with pytest.raises(ConfigError, match="limits.refund"):
        parse_policy({**base(), "limits": {"refund": {"auto_max": 600, "advisor_max": 500}}})
    with pytest.raises(ConfigError, match="autonomy.address_change"):
        parse_policy({**base(), "autonomy": {"address_change": 7}})
    with pytest.raises(ConfigError, match="canary.exchange.channels"):
        parse_policy({**base(), "canary": {"exchange": {"level": 3, "channels": ["fax"]}}})


def test_broken_file_names_the_line_and_the_last_good_version_stays(services: Services, tmp_path: Path) -> None:
    good = services.policy()
    path = services.settings.writable_policy_file
    path.write_text((services.settings.knowledge_dir / "policy.yaml").read_text().replace(
        "  order_status: 1", "  order_status: eleven"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "eleven" in t)
    assert f"line {line}" in str(err.value) and "autonomy.order_status" in str(err.value)
    time.sleep(0.01)
    assert services.policy() is good
    assert "stays active" in services.policy_error


def test_policy_change_is_versioned_audited_with_who_why_and_diff(services: Services) -> None:
    current = services.policy()
    path = services.settings.writable_policy_file
    with pytest.raises(NotAuthorised):
        autonomy.set_level(services.db, path, current, SUPERVISOR, "address_change", 3, "trial")
    with pytest.raises(InvalidInput, match="why"):
        autonomy.set_level(services.db, path, current, ADMIN, "address_change", 3, " ")
    out = autonomy.set_level(services.db, path, current, ADMIN, "address_change", 3, "99% approval over 6 weeks")
    assert out["version"] == current.version + 1
    assert out["diff"] == [{"field": "autonomy.address_change", "before": 2, "after": 3}]
    assert services.settings.active_policy_file == path
    reloaded = services.policy()
    assert reloaded.version == current.version + 1 and reloaded.level("address_change") == 3
    event = next(e for e in audit.events(services.db, ADMIN) if e.kind == "policy.changed")
    assert event.actor == "root" and event.data["why"] == "99% approval over 6 weeks"
    assert event.data["diff"][0]["field"] == "autonomy.address_change"
    with pytest.raises(InvalidInput, match="nothing changed"):
        autonomy.set_level(services.db, path, reloaded, ADMIN, "address_change", 3, "again")
    autonomy.set_kill_switch(services.db, path, reloaded, ADMIN, True, "incident 42")
    assert services.policy().level("address_change") == 2
    hist = autonomy.history(services.db, ADMIN)
    assert [h["version"] for h in hist] == [current.version + 2, current.version + 1]
    assert audit.verify(services.db).ok


def test_kill_switch_stops_an_autonomous_action(services: Services) -> None:
    path = services.settings.writable_policy_file
    autonomy.set_level(services.db, path, services.policy(), ADMIN, "address_change", 3, "trial")
    autonomy.set_kill_switch(services.db, path, services.policy(), ADMIN, True, "incident")
    o = find_order(services, "pending")
    t = TicketIn(id="K-1", customer=o["email"], subject="Address",
                 body=f"Please change the address of {o['order_id']} to 12 Oak Street, Austin, TX 73301.")
    desk.add_tickets(services.db, [t], source="test")
    result = services.pipeline.process(t, now=NOW)
    assert result.autonomy == 2
    assert not result.executed_writes()


def test_earned_autonomy_recommends_with_evidence_and_a_minimum_sample(services: Services) -> None:
    policy = services.policy()
    now = utcnow()
    with services.db.tx() as s:
        for i in range(30):
            s.add(TicketRow(id=f"E-{i}", channel="email", subject="s", body="b", created_at=now, status="resolved",
                            task_type="resend_invoice", customer_id=None))
            s.add(TicketRow(id=f"R-{i}", channel="email", subject="s", body="b", created_at=now, status="resolved",
                            task_type="exchange", customer_id=None))
        s.flush()
        for i in range(30):
            s.add(ProposalRow(ticket_id=f"E-{i}", action="resend_invoice", args={}, decision="needs_approval",
                              status="executed", decided_by="ada", decided_at=now, edited=False))
            s.add(ProposalRow(ticket_id=f"R-{i}", action="exchange_item", args={}, decision="needs_approval",
                              status="rejected" if i % 3 == 0 else "executed", decided_by="ada", decided_at=now))
        s.add(TicketRow(id="F-1", channel="email", subject="s", body="b", created_at=now, status="open",
                        task_type="order_cancel"))
        s.flush()
        s.add(ProposalRow(ticket_id="F-1", action="cancel_order", args={}, decision="needs_approval",
                          status="executed", decided_by="ada", decided_at=now))
    ev = {e.task_type: e for e in autonomy.earned_autonomy(services.db, ADMIN, policy)}
    assert ev["resend_invoice"].recommendation == "promote" and ev["resend_invoice"].to_level == 3
    assert ev["resend_invoice"].approval_rate == 1.0
    assert ev["exchange"].recommendation == "demote" and "rejected" in ev["exchange"].reasons[0]
    assert ev["order_cancel"].recommendation == "hold" and "needed" in ev["order_cancel"].reasons[0]
    assert policy.level("resend_invoice") == 2  # nothing changes without an admin
