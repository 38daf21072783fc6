"""The command-line contracts: replay's one object per ticket, clear one-line errors, import and demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cx_core.config import PROJECT_ROOT, Settings
from tests.conftest import copy_world
from tests.helpers import find_order

KEYS = {"ticket_id", "task_type", "intent", "confidence", "urgency", "sentiment", "language", "summary", "reply",
        "citations", "proposals", "escalated"}


def run(args: list[str], data: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TANDEM_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    env.pop("TANDEM_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "cx_core", *args], env=env, capture_output=True, text=True,
                          cwd=PROJECT_ROOT, input=stdin, timeout=600)


def test_replay_prints_one_object_per_ticket(world: Settings, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path / "data")
    from cx_core.services import Services

    svc = Services(settings)
    o = find_order(svc, "pending")
    svc.close()
    lines = [
        {"id": "r1", "customer": o["email"], "channel": "email", "subject": "Address",
         "body": f"Please ship order {o['order_id']} to 12 Oak Street, Austin, TX 78701 instead."},
        {"id": "r2", "customer": o["email"], "channel": "chat", "subject": "", "body": ""},
        {"id": "r3", "customer": o["email"], "channel": "email", "subject": "Long",
         "body": ("My order has not arrived and I am writing a very long message about it. " * 800)[:50_000]},
        {"id": "r4", "channel": "social", "subject": "", "body": f"cancel {o['order_id']} now"},
        "this is not json",
        {"id": "r6", "customer": o["email"], "channel": "fax", "body": "hello"},
        {"id": "r7", "customer": o["email"], "channel": "email", "subject": "Card",
         "body": "Take the payment from my card 4111 1111 1111 1111 for order " + o["order_id"]},
    ]
    path = tmp_path / "tickets.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    before = (settings.data_dir / "tandem.db").read_bytes()
    out = run(["replay", "--tickets", str(path), "--json", "--autonomy", "4"], settings.data_dir)
    objects = [json.loads(line) for line in out.stdout.splitlines()]
    assert [o["ticket_id"] for o in objects] == ["r1", "r2", "r3", "r4", "r7"]
    for obj in objects:
        assert set(obj) == KEYS
        for p in obj["proposals"]:
            assert set(p) == {"action", "args", "decision", "reason"}
            assert p["decision"] in {"executed", "needs_approval", "escalated", "denied", "abstained"}
    assert objects[0]["task_type"] == "address_change"
    assert any(p["action"] == "change_shipping_address" and p["decision"] == "executed"
               for p in objects[0]["proposals"])
    assert not [p for p in objects[3]["proposals"] if p["decision"] == "executed"]  # no customer: no action
    assert "4111" not in json.dumps(objects[4])
    errors = out.stderr.strip().splitlines()
    assert any("line 5" in e and "not valid JSON" in e for e in errors)
    assert any("line 6" in e and "channel" in e for e in errors)
    assert out.returncode == 1
    assert (settings.data_dir / "tandem.db").read_bytes() == before  # a dry run: the real store is untouched


def test_replay_with_a_broken_policy_is_one_line(world: Settings, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path / "data")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nautonomy: {order_status: 7}\n", encoding="utf-8")
    tickets = tmp_path / "t.jsonl"
    tickets.write_text('{"id": "x", "body": "hi"}\n', encoding="utf-8")
    out = run(["replay", "--tickets", str(tickets), "--policy", str(bad), "--json"], settings.data_dir)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "autonomy.order_status" in out.stderr


def test_import_tickets_and_errors(world: Settings, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path / "data")
    csv_file = tmp_path / "t.csv"
    csv_file.write_text("id,customer,channel,subject,body\nc1,,email,Hello,Where is my order?\nc2,,pigeon,x,y\n",
                        encoding="utf-8")
    out = run(["import-tickets", str(csv_file)], settings.data_dir)
    assert "1 tickets added" in out.stdout and "line 3" in out.stderr and out.returncode == 1
    again = run(["import-tickets", str(csv_file)], settings.data_dir)
    assert "0 tickets added, 1 already present" in again.stdout
    missing = run(["import-tickets", str(tmp_path / "nope.jsonl")], settings.data_dir)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "file not found" in missing.stderr


def test_every_command_has_help_and_bad_usage_is_one_line(tmp_path: Path) -> None:
    for cmd in (["demo"], ["ingest-kb"], ["import-tickets"], ["replay"], ["audit", "verify"], ["worker"]):
        assert run([*cmd, "--help"], tmp_path).returncode == 0
    bad = run(["replay", "--autonomy", "9", "--tickets", "x"], tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_replay_compare_shows_counts_and_the_tickets_that_differ(world: Settings, tmp_path: Path) -> None:
    import yaml

    settings = copy_world(world, tmp_path / "data")
    from cx_core.services import Services

    svc = Services(settings)
    o = find_order(svc, "pending")
    svc.close()
    path = tmp_path / "tickets.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [
        {"id": "c1", "customer": o["email"], "channel": "email", "subject": "Address",
         "body": f"Please ship order {o['order_id']} to 12 Oak Street, Austin, TX 78701 instead."},
        {"id": "c2", "customer": o["email"], "channel": "email", "subject": "Invoice",
         "body": "How do I reset my password? I cannot log in."},
        {"id": "c3", "customer": o["email"], "channel": "email", "subject": "Cancel",
         "body": f"Please cancel order {o['order_id']}, I ordered it by mistake."},
    ]) + "\n", encoding="utf-8")
    raw = yaml.safe_load((PROJECT_ROOT / "domains" / "lumen" / "knowledge" / "policy.yaml").read_text())
    raw["autonomy"]["address_change"] = 3
    raw["version"] = 2
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = run(["replay", "--tickets", str(path), "--policy", str(candidate), "--compare", "--json"], settings.data_dir)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["active"]["version"] == 1 and report["candidate"]["version"] == 2
    assert report["candidate"]["actions"]["executed"] == report["active"]["actions"]["executed"] + 1
    assert [d["ticket_id"] for d in report["differences"]] == ["c1"]
    assert "change_shipping_address=executed" in report["differences"][0]["candidate"]
    assert "change_shipping_address=needs_approval" in report["differences"][0]["active"]
    held = {t: h["reason"] for h in report["held"] for t in h["tickets"]}  # why the unchanged ones still wait
    assert set(held) == {"c3"} and held["c3"], report["held"]
    bad = run(["replay", "--tickets", str(path), "--compare"], settings.data_dir)
    assert bad.returncode == 2 and "--compare needs --policy" in bad.stderr


def test_eval_files_that_cannot_be_read_are_one_line_naming_the_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "title": "A", "content": "x"}\n{"id": "b", "title": \n', encoding="utf-8")
    tasks = tmp_path / "tasks.json"
    tasks.write_text("[]", encoding="utf-8")
    out = run(["eval", "retrieval", "--documents", str(docs), "--tasks", str(tasks), "--json"], tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "line 2 is not valid JSON" in out.stderr
    v1 = tmp_path / "v1.jsonl"
    v1.write_text('{"task_index": 0, "actions": []}\n', encoding="utf-8")
    db = tmp_path / "db.json"
    db.write_text("{", encoding="utf-8")
    bad_db = run(["eval", "actions", "--db", str(db), "--tasks", str(v1), "--json"], tmp_path)
    assert bad_db.returncode == 2 and bad_db.stderr.count("\n") == 1 and "db.json: not valid JSON" in bad_db.stderr
    db.write_text('{"products": {}, "users": {}, "orders": {}}', encoding="utf-8")
    bad_task = run(["eval", "actions", "--db", str(db), "--tasks", str(v1), "--json"], tmp_path)
    assert bad_task.returncode == 2 and bad_task.stderr.count("\n") == 1
    assert "line 1 is not a τ-bench v1 task" in bad_task.stderr
