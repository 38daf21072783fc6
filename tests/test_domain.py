"""The engine knows no domain: it imports no pack, and a pack is found by name (folder or entry point)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cx_core import domain, packs
from cx_core.config import PROJECT_ROOT, load_settings
from cx_core.errors import ConfigError


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_the_engine_imports_no_domain_pack() -> None:
    offenders = {str(p.relative_to(PROJECT_ROOT)): sorted(m for m in _imports(p) if m.split(".")[0] == "domains")
                 for p in (PROJECT_ROOT / "cx_core").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_a_pack_imports_the_engine_only_through_its_public_modules() -> None:
    for p in (PROJECT_ROOT / "domains").rglob("*.py"):
        for module in _imports(p):
            top = module.split(".")
            assert top[0] != "pages" and module != "app", f"{p}: a pack never imports the pages"
            if top[0] == "domains" and len(top) > 1:
                assert top[1] == p.relative_to(PROJECT_ROOT / "domains").parts[0], f"{p} imports another pack"


def test_the_demo_company_is_a_pack_found_by_name() -> None:
    pack = domain.find("lumen")
    assert pack.name == "lumen" and pack.package == "domains.lumen"
    assert "order_status" in pack.task_types and pack.brand.signature.endswith("Customer Care")
    assert "lumen" in domain.available()
    known = packs.vocabulary(pack)
    assert {"refund", "send_reply", "escalate_to_human"} <= known.actions
    assert "complaint" in known.task_types and "email" in known.channels


def test_an_unknown_domain_is_one_line_that_names_the_ones_there_are(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"unknown domain 'acme': set TANDEM_DOMAIN to one of .*lumen"):
        domain.find("acme")
    monkeypatch.setenv("TANDEM_DOMAIN", "acme")
    with pytest.raises(ConfigError, match="unknown domain 'acme'"):
        load_settings()


ACME = domain.DomainPack(name="acme", title="Acme Telecom", package="tests.acme_pack", root=PROJECT_ROOT / "tests",
                         task_types={"plan_change": "change plan"},
                         brand=domain.Brand(name="Acme", signature="Best regards,\nAcme Care"), modules={})


def test_an_installed_pack_is_found_through_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    point = importlib.metadata.EntryPoint(name="acme", value="tests.test_domain:ACME", group=domain.ENTRY_POINT_GROUP)
    real = importlib.metadata.entry_points

    def entry_points(**kw: str) -> object:
        return [point] if kw.get("group") == domain.ENTRY_POINT_GROUP else real(**kw)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    domain.find.cache_clear()
    try:
        assert domain.find("acme") is ACME and "acme" in domain.available()
        assert ACME.label("plan_change") == "change plan"
        with pytest.raises(ConfigError, match="domain 'acme' has no planner module"):
            ACME.module("planner")
    finally:
        domain.find.cache_clear()
