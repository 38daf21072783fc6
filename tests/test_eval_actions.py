"""``eval actions`` on τ-bench retail (read from ../shared): the contract it prints, both halves of the fixed split,
the per-request view, and precision first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cx_core.config import PROJECT_ROOT

pytestmark = pytest.mark.shared


def eval_actions(shared_data: Path, tasks: str, tmp_path: Path) -> dict[str, float]:
    retail = shared_data / "tau_bench" / "retail"
    env = {**os.environ, "TANDEM_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "cx_core", "eval", "actions", "--db", str(retail / "db.json"),
                          "--tasks", str(retail / tasks), "--json"], env=env, capture_output=True,
                         text=True, cwd=PROJECT_ROOT, timeout=900)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


CONTRACT = {"n", "proposed", "exact", "precision", "coverage", "db_match", "policy_violations"}
PER_REQUEST = {"request_recall", "request_precision", "requests", "requests_proposed", "requests_read"}
HALVES = {"halves", "split_seed"}


def check_halves(result: dict[str, Any]) -> None:
    """Both halves of the fixed split are reported, and they add up to the whole."""
    tune, check = result["halves"]["tune"], result["halves"]["check"]
    assert tune["n"] + check["n"] == result["n"] and tune["proposed"] + check["proposed"] == result["proposed"]
    assert tune["exact"] + check["exact"] == result["exact"]


def check_requests(result: dict[str, float]) -> None:
    """The per-request view: each expected write is a request; recall and precision in [0, 1], from the counts."""
    assert 0 <= result["requests_read"] <= min(result["requests"], result["requests_proposed"])
    assert 0.0 <= result["request_recall"] <= 1.0 and 0.0 <= result["request_precision"] <= 1.0
    if result["requests"]:
        assert result["request_recall"] == pytest.approx(result["requests_read"] / result["requests"], abs=1e-4)
    if result["requests_proposed"]:
        assert result["request_precision"] == pytest.approx(result["requests_read"] / result["requests_proposed"],
                                                            abs=1e-4)


def test_a_request_is_one_expected_write_read_at_most_once() -> None:
    from cx_core.action_eval import request_counts

    expected = ['cancel{"order_id": "#W1"}', 'cancel{"order_id": "#W2"}', 'transfer_to_human_agents{"summary": "x"}']
    proposed = ['cancel{"order_id": "#W1"}', 'cancel{"order_id": "#W1"}', 'return{"order_id": "#W3"}']
    # (requests, proposed writes, requests read): a transfer is no request; a write read twice counts once
    assert request_counts(proposed, expected, frozenset({"transfer_to_human_agents"})) == (2, 3, 1)
    assert request_counts([], [], frozenset()) == (0, 0, 0)


def test_eval_actions_prints_the_contract_on_tau_bench_retail(shared_data: Path, tmp_path: Path) -> None:
    result = eval_actions(shared_data, "tasks_train.json", tmp_path)
    assert set(result) == CONTRACT | PER_REQUEST | HALVES  # the contract, the per-request view and the halves
    check_halves(result)
    assert result["n"] == 74 and result["policy_violations"] == 0
    assert result["proposed"] <= result["n"] and result["exact"] <= result["proposed"]
    # measured 0.419 at precision 1.00 (benchmarks/RESULTS.md); each request of a message is read on its own
    assert result["precision"] >= 0.95 and result["coverage"] >= 0.38
    check_requests(result)
    assert result["requests"] == 120 and result["request_precision"] >= 0.95 and result["request_recall"] >= 0.42


def test_eval_actions_reads_v1_task_lines_and_stays_precise(shared_data: Path, tmp_path: Path) -> None:
    result = eval_actions(shared_data, "v1_tasks_dev.jsonl", tmp_path)
    assert result["n"] == 20 and result["policy_violations"] == 0
    assert result["proposed"] == 0 or result["precision"] >= 0.95  # precision first: unsure tickets go to a person
    check_requests(result)
