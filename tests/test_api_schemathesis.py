"""The inbound API as schemathesis attacks it from its own OpenAPI document: examples, boundary values, random
fuzzing and stateful sequences against the real server, on SQLite and PostgreSQL, with a token that reaches every
ticket and with a default one. A fixed seed makes the run repeatable; no case may get a server error."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cx_core.config import Settings
from tests.helpers import fresh_pg_database
from tests.test_api import Api, cli, running_api

pytestmark = pytest.mark.api

SEED = 20261123
SECRETS = {"TANDEM_CHATWOOT_WEBHOOK_SECRET": "cw-secret", "TANDEM_ZENDESK_WEBHOOK_SECRET": "zd-secret",
           "TANDEM_ZAMMAD_WEBHOOK_SECRET": "zm-secret", "TANDEM_HELPDESK_WEBHOOK_TOKEN": "hd-token",
           "TANDEM_API_RATE_PER_MINUTE": "100000", "TANDEM_API_FAILED_AUTH_PER_MINUTE": "100000"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server per database for both tokens: each token is made for its run, and a default token reaches only
    its own tickets, whatever the admin's run stored before it."""
    if shutil.which("st", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("schemathesis is not installed")
    data = tmp_path_factory.mktemp(f"schemathesis-{request.param}") / "data"
    if request.param == "sqlite":
        with running_api(world, data, SECRETS) as running:
            yield running
        return
    with fresh_pg_database("schemathesis") as url:
        with running_api(world, data, {**SECRETS, "TANDEM_DATABASE_URL": url}) as running:
            yield running


@pytest.mark.parametrize("scope", ["admin", "default"])
def test_no_case_gets_a_server_error(api: Api, scope: str) -> None:
    made = cli(api.env, "api-token", "create", f"schemathesis {scope}", *(["--scope", "admin"] if scope == "admin"
                                                                         else []))
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    run = subprocess.run([str(Path(sys.executable).parent / "st"), "run", f"{api.url}/api/v1/openapi.json",
                          "-H", f"Authorization: Bearer {token}", "--checks", "not_a_server_error",
                          "--max-examples", "60", "--seed", str(SEED), "--workers", "1", "--no-color",
                          "--warnings", "off"],
                         capture_output=True, text=True, timeout=600, env=api.env)
    summary = run.stdout[-3000:]
    assert run.returncode == 0, summary + run.stderr[-2000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert cases is not None, summary
    assert int(cases.group(1)) == int(cases.group(2)) >= 500, summary
    print(f"schemathesis seed {SEED}, {scope} token: {cases.group(0)}")
