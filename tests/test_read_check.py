"""``domain check PACK --sample EMAIL`` calls each read of a data-only pack once, against the team's own service
(a real HTTP server the test starts), says what each answered, and names what could never bind: a ``field:`` the
answer lacks, a recipe binding on a field the rows never have."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cx_core.config import PROJECT_ROOT
from cx_core.domain_check import check
from tests.servers.northwind_energy import NorthwindService, running_northwind

TOKEN = "read-check-token"
SAMPLE = "priya.shah@example.co.uk"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NorthwindService]:
    with running_northwind(tmp_path_factory.mktemp("northwind-service"), token=TOKEN) as running:
        yield running


@pytest.fixture
def env(service: NorthwindService, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("TANDEM_NORTHWIND_URL", service.url)
    monkeypatch.setenv("TANDEM_NORTHWIND_TOKEN", TOKEN)
    return {**os.environ, "HF_HUB_OFFLINE": "1"}


def _copy(tmp_path: Path) -> Path:
    """The shipped Northwind pack under a package name of its own, to break."""
    pkg = f"nw_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / pkg
    shutil.copytree(PROJECT_ROOT / "domains" / "northwind", folder)
    return folder


def test_each_read_is_called_once_and_what_it_answered_is_said(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "cx_core", "domain", "check", "northwind", "--sample", SAMPLE],
                          env=env, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"customer.find: {SAMPLE} is customer C-1001" in done.stdout
    for read in ("accounts", "bills", "visits", "slots", "tariffs"):
        assert f"reads.{read}: " in done.stdout and " row" in done.stdout
    assert "answered the field 'items' of its answer" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("domain 'northwind' is ready")


def test_without_a_sample_the_reads_are_not_called_and_it_says_how(env: dict[str, str]) -> None:
    found = check("northwind")
    assert not found and any("give --sample EMAIL" in n for n in found.notes)


def test_a_field_the_answer_lacks_and_a_binding_that_could_never_match_are_named(env: dict[str, str],
                                                                                tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    card = folder / "card.yaml"
    card.write_text(card.read_text(encoding="utf-8").replace(
        "bills: {action: list_bills, args: {customer_id: \"{customer_id}\"}, field: items}",
        "bills: {action: list_bills, args: {customer_id: \"{customer_id}\"}, field: entries}"), encoding="utf-8")
    recipes = folder / "recipes.yaml"
    recipes.write_text(recipes.read_text(encoding="utf-8").replace(
        "account_id: {record: accounts, key: id, where: {status: active}, narrow_by: [fuel],\n"
        "                       ask: \"which meter",
        "account_id: {record: accounts, key: account_no, where: {status: active}, narrow_by: [fuel],\n"
        "                       ask: \"which meter"), encoding="utf-8")
    found = check(folder, sample=SAMPLE)
    fields = {p.field: p.message for p in found}
    assert "list_bills's answer has no field 'entries' (it has: " in fields["reads.bills.field"]
    assert "items" in fields["reads.bills.field"]
    binding = fields["recipes.meter_reading.steps.0.args.account_id"]
    assert "the rows of 'accounts' have no field 'account_no'" in binding and "could never match" in binding
    assert len(found) == 2, [str(p) for p in found]


def test_a_sample_the_service_does_not_know_is_one_line(env: dict[str, str]) -> None:
    found = check("northwind", sample="nobody@example.org")
    assert [p.field for p in found] == ["customer.find"]
    assert "no customer has the e-mail nobody@example.org" in found[0].message
