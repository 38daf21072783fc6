"""``domain check``: the shipped pack is ready, and each fault of a broken pack is one line naming its file and field."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from cx_core.actions.base import REGISTRY
from cx_core.config import PROJECT_ROOT
from cx_core.domain_check import check
from cx_core.findings import Problem
from cx_core.pack_content import NOT_A_REQUEST, UNCLASSIFIED

INIT = '''
from pathlib import Path

from cx_core.domain import Brand, DomainPack

PACK = DomainPack(
    name="{pkg}", title="Acme Telecom", package="{pkg}", root=Path(__file__).resolve().parent,
    task_types={{"plan_change": "change plan", "outage": "outage report"}}, informational=frozenset({{"outage"}}),
    brand=Brand(name="Acme", signature="Best regards,\\nAcme Care"),
    modules={{"actions": "{pkg}.actions", "records": "{pkg}.records", "planner": "{pkg}.planner"}},
)
'''
ACTIONS = '''
from cx_core.actions.base import Args, action


class ChangePlan(Args):
    customer_id: str
    plan: str


@action(name="{pkg}_change_plan", args=ChangePlan, writes=True, reversible=False, risk="low", connector="crm",
        task_types=("plan_change",), owner=lambda s, a: a.customer_id)
def change_plan(s, args, ctx):
    """Moves the customer to another plan."""
    return {{"plan": args.plan}}
'''
RECORDS = '''
def lookup(session, ref):
    return None


def identify(session, text):
    return None


def snapshot(session, customer_id, now):
    return {}


def tiers(session):
    return {}
'''
PLANNER = '''
def plan(triage, snapshot, today, text=""):
    return None
'''
POLICY = '''version: 1
autonomy:
  plan_change: 2
  outage: 1
limits:
  {pkg}_change_plan: {{auto_max: 0, advisor_max: 100}}
never_autonomous: [escalate_to_human]
'''
EXAMPLES = {"plan_change": ["I want a cheaper plan", "move me to the unlimited plan", "change my plan please",
                            "can I switch to the family plan", "downgrade my contract"],
            "outage": ["my internet is down", "no signal since this morning", "is there an outage in Leeds",
                       "the broadband keeps dropping", "no service at all today"],
            NOT_A_REQUEST: ["thanks", "hello there"]}


def make_pack(tmp_path: Path) -> Path:
    """A small pack that passes every check, in its own folder (a package importable from ``tmp_path``)."""
    pkg = f"acme_{uuid.uuid4().hex[:10]}"
    folder = tmp_path / pkg
    (folder / "knowledge" / "articles").mkdir(parents=True)
    (folder / "knowledge" / "training").mkdir()
    (folder / "__init__.py").write_text(INIT.format(pkg=pkg), encoding="utf-8")
    (folder / "actions.py").write_text(ACTIONS.format(pkg=pkg), encoding="utf-8")
    (folder / "records.py").write_text(RECORDS, encoding="utf-8")
    (folder / "planner.py").write_text(PLANNER, encoding="utf-8")
    (folder / "knowledge" / "articles" / "plans.md").write_text("# Changing plans\n\nAny day.\n", encoding="utf-8")
    rows = ["text,label"] + [f"{text},{label}" for label, texts in EXAMPLES.items() for text in texts]
    (folder / "knowledge" / "training" / "task_types.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "knowledge" / "policy.yaml").write_text(POLICY.format(pkg=pkg), encoding="utf-8")
    return folder


def run_check(target: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "cx_core", "domain", "check", target], env=env, capture_output=True,
                          text=True, cwd=PROJECT_ROOT, timeout=120)


def only(problems: list[Problem], file: str, field: str) -> Problem:
    hits = [p for p in problems if Path(p.file).name == file and p.field == field]
    assert len(hits) == 1, f"expected one problem on {file}: {field}, got {[str(p) for p in problems]}"
    return hits[0]


def test_the_shipped_pack_is_ready() -> None:
    out = run_check("domains/lumen")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == [out.stdout.strip()]
    assert out.stdout.startswith("domain 'lumen' is ready: 17 task types, ")
    assert "articles" in out.stdout and "training examples" in out.stdout and "policy version 1" in out.stdout


def test_a_good_pack_has_no_problem_and_the_registry_is_left_as_it_was(tmp_path: Path) -> None:
    before = dict(REGISTRY)
    found = check(make_pack(tmp_path))
    assert list(found) == [], [str(p) for p in found]
    assert found.summary() == ("domain '" + found.name + "' is ready: 2 task types, 1 action, 1 article, "
                               "12 training examples, policy version 1")
    assert REGISTRY == before


def test_each_fault_is_reported_with_its_file_and_field(tmp_path: Path) -> None:
    folder = make_pack(tmp_path)
    pkg = folder.name
    csv = folder / "knowledge" / "training" / "task_types.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "switch me to the business plan,plan_chnage")  # line 4 of the file
    lines.append(f"please tell me something,{UNCLASSIFIED}")
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    policy = folder / "knowledge" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("[escalate_to_human]",
                                                                 "[escalate_to_human, refund_everything]"))
    records = folder / "records.py"
    records.write_text(records.read_text(encoding="utf-8").replace("def identify(", "def _identify("))
    (folder / "planner.py").write_text("import no_such_module_anywhere\n\n" + PLANNER, encoding="utf-8")

    found = check(folder)

    bad = only([p for p in found if "plan_chnage" in p.message], "task_types.csv", "label")
    assert bad.message.startswith("line 4: 'plan_chnage' is not a task type") and "did you mean 'plan_change'" in \
        bad.message
    assert bad.file.endswith(f"{pkg}/knowledge/training/task_types.csv")
    assert any(p.field == "label" and p.message.startswith(f"line {len(lines)}: '{UNCLASSIFIED}'") for p in found)
    unknown = only(found, "policy.yaml", "never_autonomous.1")
    assert unknown.message.startswith("line 7: unknown action 'refund_everything' (actions are: ")
    assert f"{pkg}_change_plan" in unknown.message  # the pack's own actions are known to its policy
    missing = only(found, "records.py", "identify")
    assert "must define identify(session, text)" in missing.message
    broken = only(found, "planner.py", "import")
    assert broken.message.startswith("line 1: the planner module") and "No module named 'no_such_module_anywhere'" \
        in broken.message
    assert len(found) == 5, [str(p) for p in found]
    assert found.summary() == "5 problems"


def test_pack_fields_and_too_few_examples(tmp_path: Path) -> None:
    folder = make_pack(tmp_path)
    init = folder / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8").replace(f'name="{folder.name}"', 'name="acme"')
                    .replace('frozenset({"outage"})', 'frozenset({"outage", "outages"})'), encoding="utf-8")
    csv = folder / "knowledge" / "training" / "task_types.csv"
    csv.write_text("\n".join(x for x in csv.read_text(encoding="utf-8").splitlines() if "no signal" not in x) + "\n",
                   encoding="utf-8")
    found = check(folder)
    assert only(found, "__init__.py", "PACK.name").message.endswith(f'set name="{folder.name}"')
    assert "'outages' is not one of the pack's task types" in only(found, "__init__.py", "PACK.informational").message
    assert only(found, "task_types.csv", "label").message.startswith("task type 'outage' has 4 examples: add at least "
                                                                     "1 more")
    assert len(found) == 3, [str(p) for p in found]


def test_a_pack_that_cannot_be_imported_is_one_problem(tmp_path: Path) -> None:
    folder = make_pack(tmp_path)
    (folder / "__init__.py").write_text("PACK = (\n", encoding="utf-8")
    found = check(folder)
    assert len(found) == 1 and Path(found[0].file).name == "__init__.py" and found[0].field == "PACK"
    assert found[0].message.startswith("line 1: the pack cannot be imported: SyntaxError")


def test_the_command_prints_one_line_per_problem_and_exits_1(tmp_path: Path) -> None:
    folder = make_pack(tmp_path)
    records = folder / "records.py"
    records.write_text(records.read_text(encoding="utf-8").replace("def tiers(", "def _tiers("))
    out = run_check(str(folder))
    assert out.returncode == 1 and out.stderr == ""
    assert out.stdout.splitlines() == [f"{folder / 'records.py'}: tiers: missing: the records module "
                                       f"({folder.name}.records) must define tiers(session) — customer id → service "
                                       "tier", "1 problem"]


PACK_YAML = """title: Acme Telecom
task_types: {plan_change: change plan, outage: outage report}
informational: [outage]
channels: [email, {name: whatsapp, label: WhatsApp, sla_minutes: 60}]
brand: {name: Acme, signature: "Best regards,\\nAcme Care"}
locale: {currency: GBP, region: GB, time_zone: Europe/London}
"""


def data_pack(tmp_path: Path, text: str = PACK_YAML) -> Path:
    """``make_pack``'s pack with no Python at all: ``pack.yaml`` instead of ``__init__.py`` and its modules."""
    folder = make_pack(tmp_path)
    for name in ("__init__.py", "actions.py", "records.py", "planner.py"):
        (folder / name).unlink()
    policy = folder / "knowledge" / "policy.yaml"
    policy.write_text("\n".join(x for x in policy.read_text(encoding="utf-8").splitlines() if "change_plan" not in x
                                and "limits" not in x) + "\n", encoding="utf-8")
    (folder / "pack.yaml").write_text(text, encoding="utf-8")
    return folder


def test_a_pack_of_data_alone_is_its_pack_yaml(tmp_path: Path) -> None:
    folder = data_pack(tmp_path)
    found = check(folder)
    assert list(found) == [] and found.summary().startswith(f"domain '{folder.name}' is ready: 2 task types")
    out = run_check(str(folder))
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1].startswith(f"domain '{folder.name}' is ready")


def test_each_fault_of_pack_yaml_is_one_line_naming_its_field(tmp_path: Path) -> None:
    cases = {
        PACK_YAML.replace("title: Acme Telecom\n", ""): ("title", "is missing"),
        PACK_YAML.replace("outage: outage report", "Outage Report: outage report"): ("task_types", "not a task type"),
        PACK_YAML.replace("time_zone: Europe/London", "time_zone: Mars/Olympus"): ("locale.time_zone",
                                                                                  "is not a time zone"),
        PACK_YAML + "colour: blue\n": ("colour", "is not a field of pack.yaml"),
        PACK_YAML.replace("informational: [outage]", "informational: [outages]"): ("informational",
                                                                                  "'outages' is not one of"),
        PACK_YAML + "name: other\n": ("name", "the folder's name is the pack's name"),
        "title: [unclosed\n": ("file", "line 2: not valid YAML"),
        "- a list\n": ("file", "must be a mapping"),
    }
    for i, (text, (field, words)) in enumerate(cases.items()):
        found = check(data_pack(tmp_path / str(i), text))
        assert len(found) == 1, [str(p) for p in found]
        assert Path(found[0].file).name == "pack.yaml" and found[0].field == field and words in found[0].message, \
            str(found[0])


def test_a_data_pack_is_found_by_name_and_a_broken_one_is_one_line(tmp_path: Path, monkeypatch) -> None:
    from cx_core import domain
    from cx_core.errors import ConfigError

    folder = data_pack(tmp_path)
    monkeypatch.setenv("TANDEM_PACKS_DIR", str(tmp_path))
    domain.find.cache_clear()
    try:
        pack = domain.find(folder.name)
        assert pack.package == folder.name and pack.informational == {"outage"}
        assert pack.channel("whatsapp").sla_minutes == 60 and pack.brand.signature == "Best regards,\nAcme Care"
        assert folder.name in domain.available()
        (folder / "pack.yaml").write_text("title: Acme\nbrand: {name: Acme, signature: Acme Care}\n", encoding="utf-8")
        domain.find.cache_clear()
        try:
            domain.find(folder.name)
            raise AssertionError("a pack.yaml without task types was taken")
        except ConfigError as exc:
            assert str(exc).endswith("pack.yaml: task_types: is missing") and "\n" not in str(exc)
    finally:
        domain.find.cache_clear()


def test_the_reserved_labels_are_the_triage_ones() -> None:
    from cx_core import triage

    assert (NOT_A_REQUEST, UNCLASSIFIED) == (triage.NONE, triage.UNCLASSIFIED)


def test_channels_are_checked_as_data() -> None:
    from cx_core.domain import ChannelSpec
    from cx_core.domain_check import _check_channels
    from cx_core.findings import Findings

    found = Findings()
    _check_channels(found, Path("domains/acme/__init__.py"),
                    (ChannelSpec("whatsapp", "WhatsApp", 60), "email", "Bad Name", ChannelSpec("sms", sla_minutes=0),
                     "email"))
    lines = [str(p) for p in found]
    assert any("PACK.channels.2" in x and "not a channel name" in x for x in lines)
    assert any("PACK.channels.sms.sla_minutes" in x for x in lines)
    assert any("'email' is listed twice" in x for x in lines) and len(lines) == 3


# ------------------------------------------------------------------ actions declared in actions.yaml (HTTP, OpenAPI, MCP)
DECLARED = '''services:
  billing:
    base_url: https://billing.acme.example
actions:
  - name: get_invoice
    description: One invoice with its customer.
    effect: read
    service: billing
    path: /invoices/{invoice_id}
    arguments: {type: object, required: [invoice_id], properties: {invoice_id: {type: string}}}
  - name: credit_invoice
    description: Credits part of an invoice.
    effect: write
    service: billing
    method: POST
    path: /invoices/{invoice_id}/credits
    body: {amount: "{amount}"}
    arguments: {type: object, required: [invoice_id, amount], properties: {invoice_id: {type: string},
                amount: {type: number}}}
    owner: {action: get_invoice, args: {invoice_id: "{invoice_id}"}, field: customer_id}
    amount: {arg: amount}
    task_types: [plan_change]
  - name: resend_invoice
    description: Sends an invoice again.
    effect: write
    service: billing
    method: POST
    path: /invoices/{invoice_id}/resend
    arguments: {type: object, required: [invoice_id], properties: {invoice_id: {type: string}}}
    owner: {action: get_invoice, args: {invoice_id: "{invoice_id}"}, field: customer_id}
mcp_servers:
  - name: vouchers
    url: https://tools.acme.example/mcp
    tools:
      - name: issue_voucher
        input_schema: {type: object, properties: {customer_id: {type: string}, amount: {type: number}}}
'''
RECIPES = '''recipes:
  plan_change:
    steps:
      - action: credit_invoice
        args: {invoice_id: {entity: invoice_id}, amount: {const: 5}}
'''


def declared_pack(tmp_path: Path) -> Path:
    folder = make_pack(tmp_path)
    (folder / "actions.yaml").write_text(DECLARED, encoding="utf-8")
    (folder / "recipes.yaml").write_text(RECIPES, encoding="utf-8")
    policy = folder / "knowledge" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace(
        "never_autonomous: [escalate_to_human]",
        "  credit_invoice: {auto_max: 0, advisor_max: 50}\n  vouchers_issue_voucher: {auto_max: 10, advisor_max: 20}\n"
        "never_autonomous: [escalate_to_human, resend_invoice]"), encoding="utf-8")
    return folder


def test_policy_and_recipes_may_name_every_source_of_actions(tmp_path: Path) -> None:
    before = dict(REGISTRY)
    found = check(declared_pack(tmp_path))
    assert list(found) == [], [str(p) for p in found]
    assert "5 actions" in found.summary()  # its Python one, three declared, one MCP tool
    assert REGISTRY == before


def test_a_bad_declared_action_is_named_first_and_its_consequences_say_so(tmp_path: Path) -> None:
    folder = declared_pack(tmp_path)
    actions = folder / "actions.yaml"
    actions.write_text(DECLARED.replace("path: /invoices/{invoice_id}/credits", "path: invoices/{invoice_id}/credits"),
                       encoding="utf-8")
    found = check(folder)
    lines = [str(p) for p in found]
    assert Path(found[0].file).name == "actions.yaml" and found[0].field == "actions.credit_invoice.path", lines
    assert "must start with a single /" in found[0].message
    limit = only(found, "policy.yaml", "limits.credit_invoice")
    assert "names 'credit_invoice', which is not in force because: path:" in limit.message
    step = only(found, "recipes.yaml", "recipes.plan_change.steps[0].action")
    assert step.message.startswith("recipe step recipes.plan_change.steps[0] uses action 'credit_invoice', which is "
                                   "not in force because: path:")
    assert not any("unknown action" in line for line in lines), lines  # nobody blamed for the action's own problem
    assert len(found) == 3, lines


def test_one_bad_declared_action_takes_out_only_itself_and_what_reads_through_it(tmp_path: Path) -> None:
    from cx_core.http_actions import loading

    folder = declared_pack(tmp_path)
    path = folder / "actions.yaml"
    path.write_text(DECLARED.replace("effect: read\n    service: billing\n    path: /invoices/{invoice_id}\n",
                                     "effect: read\n    service: billing\n    path: /invoices/{invoice_id}\n"
                                     "    method: POST\n"), encoding="utf-8")
    reading = loading.read(path)
    assert [a.name for a in reading.actions] == [] and [m.name for m in reading.mcp_servers] == ["vouchers"]
    assert reading.refused["get_invoice"].startswith("effect: a read is a GET, not a POST")
    assert reading.refused["credit_invoice"].startswith("uses 'get_invoice', which is not in force because: effect:")
    assert [f for f, _ in reading.problems] == ["actions.get_invoice.effect", "actions.credit_invoice.owner.action",
                                                "actions.resend_invoice.owner.action"]
    path.write_text(DECLARED.replace("base_url: https://billing.acme.example", "base_url: billing.acme.example"),
                    encoding="utf-8")
    reading = loading.read(path)
    assert reading.actions == [] and list(reading.refused) == ["get_invoice", "credit_invoice", "resend_invoice"]
    assert reading.problems[0][0] == "services.billing.base_url"
    assert reading.refused["get_invoice"].startswith("the service 'billing' is not in force because: base_url:")
    assert [m.name for m in reading.mcp_servers] == ["vouchers"]  # another source stays in force
