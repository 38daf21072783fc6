"""Policy file validation and the decision matrix of ``evaluate``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cx_core import domain, packs
from cx_core.config import PROJECT_ROOT
from cx_core.errors import ConfigError
from cx_core.models import Role
from cx_core.policy import escalation_reason, evaluate, load_policy, parse_policy

KNOWN = packs.vocabulary(domain.find("lumen"))
POLICY = load_policy(PROJECT_ROOT / "domains" / "lumen" / "knowledge" / "policy.yaml", KNOWN)


def decide(**kw: object) -> str:
    base: dict[str, object] = {"action": "refund", "writes": True, "amount": 20.0, "actor_role": None,
                               "autonomy": 3, "verified": True}
    base.update(kw)
    return evaluate(POLICY, **base).decision  # type: ignore[arg-type]


def test_shipped_policy_is_valid() -> None:
    assert POLICY.version >= 1
    assert POLICY.level("order_status") == 1
    assert POLICY.level("something_new") == POLICY.default_autonomy


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("version: 1\nautonomy:\n  order_status: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p.yaml line \d+"):
        load_policy(bad)


def test_wrong_field_is_named() -> None:
    with pytest.raises(ConfigError, match="autonomy.order_status"):
        parse_policy({"version": 1, "autonomy": {"order_status": 9}})
    with pytest.raises(ConfigError, match="limits.refund.auto_max"):
        parse_policy({"version": 1, "limits": {"refund": {"auto_max": -1, "advisor_max": 5}}})
    with pytest.raises(ConfigError, match="surprise"):
        parse_policy({"version": 1, "surprise": True})


def test_every_name_is_checked_against_the_domain(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "domains" / "lumen" / "knowledge" / "policy.yaml").read_text(encoding="utf-8")
    cases = [("never_autonomous: [escalate_to_human", "never_autonomous: [no_such_action, escalate_to_human",
              "never_autonomous.0", "no_such_action", "unknown action"),
             ("  complaint: 2\n", "  complaint: 2\n  flying_carpet: 2\n", "autonomy.flying_carpet",
              "flying_carpet", "unknown task type"),
             ("  refund: {auto_max", "  refund_everything: {auto_max: 1, advisor_max: 2}\n  refund: {auto_max",
              "limits.refund_everything", "refund_everything", "unknown action"),
             ("  chat: 15", "  chat: 15\n  fax: 60", "sla_minutes.fax", "fax", "unknown channel")]
    for old, new, field, name, message in cases:
        assert old in text, old
        bad = tmp_path / "policy.yaml"
        bad.write_text(text.replace(old, new, 1), encoding="utf-8")
        with pytest.raises(ConfigError, match=f"policy.yaml line \\d+: field '{field}': {message} '{name}'") as err:
            load_policy(bad, KNOWN)
        line = int(str(err.value).split(" line ")[1].split(":")[0])
        assert name in bad.read_text(encoding="utf-8").splitlines()[line - 1]
        assert load_policy(bad).version >= 1  # without a domain to check against, names are not judged


def test_an_edited_policy_naming_a_lost_action_falls_back_to_the_shipped_one(tmp_path: Path) -> None:
    from cx_core.config import load_settings
    from cx_core.services import Services

    settings = load_settings(data_dir=tmp_path, database_url="")
    text = (PROJECT_ROOT / "domains" / "lumen" / "knowledge" / "policy.yaml").read_text(encoding="utf-8")
    (tmp_path / "policy.yaml").write_text(text.replace("never_autonomous: [escalate_to_human",
                                                       "never_autonomous: [close_account, escalate_to_human"))
    svc = Services(settings)
    try:
        assert svc.policy().version == POLICY.version
        assert "close_account" in svc.policy_error and "shipped policy" in svc.policy_error
    finally:
        svc.close()


def test_decision_matrix() -> None:
    assert decide() == "allow"
    assert decide(autonomy=2) == "needs_approval"
    assert decide(amount=120.0) == "needs_approval"  # above auto_max 50
    assert decide(verified=False) == "needs_approval"
    assert decide(confidence=0.5) == "needs_approval"
    assert decide(escalate_because="legal signals in the ticket") == "escalate"
    assert decide(writes=False, autonomy=0) == "allow"
    assert decide(actor_role=Role.advisor, amount=400.0) == "allow"
    assert decide(actor_role=Role.advisor, amount=900.0) == "deny"  # above advisor_max 500
    assert decide(actor_role=Role.supervisor, amount=900.0) == "allow"
    assert decide(action="escalate_to_human") == "needs_approval"  # never autonomous


def test_kill_switch_caps_every_level() -> None:
    raw = POLICY.model_dump()
    raw["kill_switch"] = True
    raw["autonomy"] = {"order_status": 4}
    assert parse_policy(raw).level("order_status") == 2


def test_escalation_reasons() -> None:
    assert "safety" in escalation_reason(POLICY, {"safety": True}, 0.9, 0.0)
    assert "legal" in escalation_reason(POLICY, {"legal": True}, 0.9, 0.0)
    assert "not sure what the customer asks" in escalation_reason(POLICY, {}, 0.2, 0.0)
    assert "frustration" in escalation_reason(POLICY, {}, 0.9, 0.95)
    assert escalation_reason(POLICY, {}, 0.9, 0.1) == ""
