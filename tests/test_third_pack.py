"""Northwind Energy, a third company's pack made from an empty folder by following the README: no Python beyond
``PACK``; its actions imported from its own service's OpenAPI document and reviewed, its customers and card
declared over the service's reads, its recipes as data.

End to end as a team runs it: the service started on 127.0.0.1, ``setup`` in a fresh data folder, tickets posted
through the inbound API with a token, ``worker --once --no-simulate``, then each ticket read: its task type, its
proposals (the right actions with the right arguments, or a question where the ticket is ambiguous, or none where
it only asks), one approval per write by an advisor making exactly one call with an idempotency key, and a reply
that never says an action ran before it did. ``replay`` runs the pack's scenario tickets and never writes."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cx_core import desk as tandem_desk
from cx_core import domain, packs, wording
from cx_core.access import StaffUser
from cx_core.actions.base import REGISTRY
from cx_core.config import PROJECT_ROOT, load_settings
from cx_core.models import Role
from cx_core.services import Services
from tests.helpers import HTTP, free_port, outside_env
from tests.servers.northwind_energy import NorthwindService, running_northwind

pytestmark = [pytest.mark.http_actions, pytest.mark.api]

PACK_DIR = PROJECT_ROOT / "domains" / "northwind"
SERVICE_TOKEN = "nw-service-token-5d1f8a2c"
ADA = StaffUser("ada", "Ada Advisor", Role.advisor)
SIGNATURE = "Kind regards,\nThe Northwind Energy team"


def _day(d: date) -> str:
    return f"{d:%A} {d.day} {d:%B}"


@dataclass
class Case:
    """One ticket and what the agent should make of it."""

    id: str
    customer: str
    subject: str
    body: str
    task_type: str
    proposals: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    path: str = ""  # where the approved write lands on the service
    abstains: str = ""  # the reason an ambiguous ticket's proposal gives
    asks: str = ""  # the question the reply puts
    channel: str = "email"
    proposed: str = ""  # what the reply says of the action while a person decides (actions.yaml's wording)
    done: str = ""  # and once it ran
    refused: str = ""  # or when the service refused it as the agent planned it
    read: bool = False  # the proposal is a read, run at once (nothing to approve)
    explains: str = ""  # what the reply says of what the read found


def cases(book: date, move: date) -> list[Case]:
    ask = "I'll confirm by email as soon as it goes through."
    return [
        Case("NW-E1", "priya.shah@example.co.uk", "Meter reading",
             "Hello, here is my electricity meter reading for this month: 23817. My last bill was estimated, so "
             "please work it out again. Thanks, Priya", "meter_reading",
             [("submit_reading", {"account_id": "E-2001", "reading": 23817})], "/accounts/E-2001/readings",
             proposed=f"I've asked a colleague to record your meter reading of 23817 on account E-2001. {ask}",
             done="I've recorded your meter reading of 23817 on account E-2001. Your estimated bill B-3001 has been "
                  "worked out again from it and now comes to £"),
        Case("NW-E2", "tom.bennett@example.co.uk", "Late payment fee",
             "Hi, I have been charged a £12 late payment fee on my October bill, but the direct debit failed because "
             "of an error at my bank. Please remove the fee.", "fee_waiver",
             [("credit_bill", {"bill_id": "B-3003", "amount": 12.0, "reason": "late payment fee waived"})],
             "/bills/B-3003/credits",
             proposed=f"I've asked a colleague to approve a credit of £12.00 on bill B-3003. {ask}",
             done="I've credited £12.00 to bill B-3003; the credit shows on your bill within one working day."),
        Case("NW-E3", "aisha.okafor@example.co.uk", "Paying what I owe",
             "I can't pay the whole gas balance in one go. Could I spread it over 6 months please?", "payment_plan",
             [("create_payment_plan", {"account_id": "G-2004", "amount": 412.75, "instalments": 6})],
             "/accounts/G-2004/payment-plans",
             proposed="I've asked a colleague to approve a payment plan spreading £412.75 over 6 monthly instalments "
                      f"on account G-2004. {ask}",
             done="I've set up your payment plan: £412.75 over 6 monthly instalments of £68.79, the first taken on "),
        Case("NW-E4", "gareth.lloyd@example.co.uk", "", "Please change my direct debit date to the 28th.",
             "payment_date", [("change_payment_day", {"account_id": "E-2005", "day": 28})],
             "/accounts/E-2005/payment-day", channel="chat",
             proposed=f"I've asked a colleague to approve moving the Direct Debit on account E-2005 to day 28 of each "
                      f"month. {ask}",
             done="I've moved the Direct Debit on account E-2005 to day 28 of each month, from the next collection "
                  "at least 5 working days away."),
        Case("NW-E5", "olu.adeyemi@example.co.uk", "Tariff", "Please switch me to the Fixed 24 tariff.",
             "tariff_change", [("change_tariff", {"account_id": "E-2008", "tariff_code": "FIX24"})],
             "/accounts/E-2008/tariff",
             proposed="I've asked a colleague to approve moving account E-2008 to the Fixed 24 tariff; the new prices "
                      f"start the day after the change. {ask}",
             done="I've moved account E-2008 to the Fixed 24 tariff; the new prices start tomorrow."),
        Case("NW-E6", "priya.shah@example.co.uk", "Gas meter",
             f"My gas meter display has gone blank. Can an engineer come on {_day(book)} in the morning?",
             "book_visit", [("book_visit", {"account_id": "G-2002", "date": book.isoformat(), "period": "morning",
                                            "reason": "meter fault"})], "/accounts/G-2002/visits",
             proposed=f"I've asked a colleague to book an engineer for {_day(book)} in the morning. {ask}",
             done=f"I've booked an engineer for {_day(book)} in the morning; they call 30 minutes before arriving."),
        Case("NW-E7", "gareth.lloyd@example.co.uk", "Engineer visit",
             "Something has come up and I won't be at home for the smart meter installation. Could you move it to "
             f"{_day(move)} in the afternoon?", "move_visit",
             [("move_visit", {"visit_id": "V-4001", "date": move.isoformat(), "period": "afternoon"})],
             "/visits/V-4001",
             proposed=f"I've asked a colleague to move your engineer visit to {_day(move)} in the afternoon. {ask}",
             done=f"I've moved your engineer visit to {_day(move)} in the afternoon; the engineer calls 30 minutes "
                  "before arriving."),
        # two bills carry a late fee: which one is for the customer to say
        Case("NW-E8", "mei.chen@example.co.uk", "Late fee", "Please take the late fee off my bill, I paid a day late.",
             "fee_waiver", [("credit_bill", {"reason": "late payment fee waived"})],
             abstains="which of the customer's bills is meant", asks="Which bill is the late payment fee on"),
        # only a question: answered from the articles, beside the customer's own bill read line by line
        Case("NW-E9", "olu.adeyemi@example.co.uk", "Standing charge",
             "What is the standing charge and why do I pay it even on days I use no energy?", "bill_question",
             [("get_bill", {"bill_id": "B-3008"})], read=True, explains="Your bill B-3008 for "),
        # of two bills, "my latest" is the newer: it is read and explained, nothing else is done
        Case("NW-E11", "aisha.okafor@example.co.uk", "Gas bill",
             "Why is my latest gas bill so high? I don't understand what I'm paying for.", "bill_question",
             [("get_bill", {"bill_id": "B-3005"})], read=True, explains="Your bill B-3005 for "),
        # a reading below the last one: the service's dry run refuses it, and the reply says why
        Case("NW-E10", "tom.bennett@example.co.uk", "Reading", "Hello, please use my meter reading of 30012 for my "
             "bill.", "meter_reading", [("submit_reading", {"account_id": "E-2003", "reading": 30012})],
             refused="I couldn't record the reading of 30012 on account E-2003: a reading of 30012 is lower than "
                     "the last one we have (40518, read on "),
    ]


def cli(env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cx_core", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, input=stdin, timeout=timeout)


@dataclass
class Desk:
    service: NorthwindService
    env: dict[str, str]
    data: Path
    api: str
    token: str
    svc: Services
    cases: list[Case]
    replay: subprocess.Popen[bytes]
    replayed: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, headers={"Authorization": f"Bearer {self.token}"}, timeout=30, verify=False)

    def proposals(self, ticket_id: str) -> list[dict[str, Any]]:
        return [p for p in tandem_desk.get_ticket(self.svc.db, ticket_id)["proposals"] if p["action"] != "send_reply"]

    def reply(self, ticket_id: str) -> str:
        return tandem_desk.reply_draft(tandem_desk.get_ticket(self.svc.db, ticket_id))[1]


def _free_days(service: NorthwindService) -> tuple[date, date]:
    """A free morning a week or more ahead for a booking, and a later free afternoon to move the booked visit to."""
    slots = HTTP.get(f"{service.url}/slots", headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}).json()["items"]
    soon = date.today() + timedelta(days=7)
    free = {(s["date"], s["period"]) for s in slots}
    mornings = sorted(date.fromisoformat(d) for d, p in free if p == "morning" and date.fromisoformat(d) >= soon)
    book = mornings[0]
    move = min(date.fromisoformat(d) for d, p in free if p == "afternoon" and date.fromisoformat(d) > book)
    return book, move


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    folder = tmp_path_factory.mktemp("northwind")
    data = folder / "data"
    with running_northwind(folder / "service", token=SERVICE_TOKEN) as service, pytest.MonkeyPatch.context() as mp:
        env = {**outside_env(),
               "TANDEM_DOMAIN": "northwind", "TANDEM_DATA_DIR": str(data), "TANDEM_DATABASE_URL": "",
               "TANDEM_NORTHWIND_URL": service.url, "TANDEM_NORTHWIND_TOKEN": SERVICE_TOKEN,
               "TANDEM_ADMIN_PASSWORD": "northwind-admin-2026", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "OPENAI_API_KEY": "test-key-unused", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
        done = cli(env, "setup")
        assert done.returncode == 0, done.stderr
        assert "first admin 'admin' created" in done.stderr and "classifier trained" in done.stderr, done.stderr
        # the scenario tickets replayed meanwhile, from a copy of what setup made (they never write: checked below)
        replayed = (folder / "replay.jsonl").open("w")
        replay = subprocess.Popen([sys.executable, "-m", "cx_core", "replay", "--tickets",
                                   str(PACK_DIR / "scenarios.jsonl"), "--json"], cwd=PROJECT_ROOT, env=env,
                                  stdout=replayed, stderr=subprocess.DEVNULL)
        port = free_port()
        log = (folder / "api.log").open("w")
        api = subprocess.Popen([sys.executable, "-m", "cx_core", "api", "--port", str(port)], cwd=PROJECT_ROOT,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        svc: Services | None = None
        try:
            # the advisor and the API's token, as the README's step 9 makes them, while the API starts
            done = cli(env, "users", "add", "ada", "--role", "advisor", "--password-stdin", stdin="ada-advisor-2026\n")
            assert done.returncode == 0, done.stderr
            done = cli(env, "api-token", "create", "northwind web form")
            assert done.returncode == 0, done.stderr
            token = done.stdout.strip().splitlines()[-1]
            deadline = time.monotonic() + 90
            while True:
                try:
                    if HTTP.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if api.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the API did not start: " + (folder / "api.log").read_text()[-2000:])
                time.sleep(0.2)
            book, move = _free_days(service)
            todo = cases(book, move)
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
                for c in todo:
                    resp = client.post("/api/v1/tickets", json={"id": c.id, "customer": c.customer,
                                                                "channel": c.channel, "subject": c.subject,
                                                                "body": c.body})
                    assert resp.status_code == 201, resp.text
            done = cli(env, "worker", "--once", "--no-simulate")
            assert done.returncode == 0, done.stderr
            assert f"{len(todo)} tickets processed" in done.stderr, done.stderr
            for name in ("TANDEM_NORTHWIND_URL", "TANDEM_NORTHWIND_TOKEN"):
                mp.setenv(name, env[name])
            svc = Services(load_settings(domain="northwind", data_dir=data, database_url=""))
            yield Desk(service, env, data, url, token, svc, todo, replay, folder / "replay.jsonl")
        finally:
            if replay.poll() is None:
                replay.kill()
            replay.wait(timeout=20)
            replayed.close()
            if svc is not None:
                svc.close()
            api.terminate()
            try:
                api.wait(timeout=20)
            except subprocess.TimeoutExpired:
                api.kill()
            log.close()
            packs.use(domain.find(domain.DEFAULT_DOMAIN))


def _content(reply: str) -> str:
    """The reply without its greeting and signature."""
    body = reply.strip()
    body = re.sub(r"^Hi [^\n]*,\n", "", body)
    return body.replace(SIGNATURE, "").strip()


def _typed(action: str, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments as the call will carry them (the action's own argument model)."""
    return dict(REGISTRY[action].args_model.model_validate(args).model_dump(mode="json", exclude_none=True))


# ------------------------------------------------------------------ the pack itself
def test_domain_check_finds_the_pack_ready() -> None:
    done = subprocess.run([sys.executable, "-m", "cx_core", "domain", "check", "domains/northwind"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"domain 'northwind' is ready: 10 task types, 17 actions, 9 articles, \d+ training examples, "
                     r"policy version 1", done.stdout), done.stdout


def test_the_pack_is_data_alone() -> None:
    assert sorted(p.name for p in PACK_DIR.rglob("*.py")) == []
    pack = domain.find("northwind")
    assert pack.modules == {} and pack.package == "domains.northwind" and pack.root == PACK_DIR.resolve()
    assert pack.locale.currency == "GBP" and pack.channel("app").shown == "Northwind app"
    assert "northwind" in domain.available()


def test_actions_yaml_is_the_import_of_the_services_openapi_document_reviewed(desk: Desk, tmp_path: Path) -> None:
    """What ``actions import-openapi`` writes today, and the review the README asks for: allowed hosts and the token
    on the service, each account write owned through the account's read, and the task types each write serves."""
    target = tmp_path / "imported.yaml"
    done = cli({**desk.env, "TANDEM_ACTIONS_FILE": str(target)}, "actions", "import-openapi",
               f"{desk.service.url}/openapi.json", "--service", "energy", "--base-url", "${NORTHWIND_URL}")
    assert done.returncode == 0, done.stderr
    imported = yaml.safe_load(target.read_text(encoding="utf-8"))
    shipped = yaml.safe_load((PACK_DIR / "actions.yaml").read_text(encoding="utf-8"))
    assert shipped["services"]["energy"] == {**imported["services"]["energy"],
                                             "headers": {"Authorization": "Bearer ${NORTHWIND_TOKEN}"},
                                             "allowed_hosts": ["127.0.0.1", "localhost"]}
    mine = {a["name"]: a for a in shipped["actions"]}
    assert list(mine) == [a["name"] for a in imported["actions"]]
    by_account = {"action": "get_account", "args": {"account_id": "{account_id}"}, "field": "customer_id"}
    for action in imported["actions"]:
        reviewed = dict(mine[action["name"]])
        reviewed.pop("wording", None)
        action.pop("wording", None)
        if action.get("owner") == {"arg": "account_id"}:  # a supply account is not the customer
            assert reviewed.pop("owner") == by_account
            action.pop("owner")
        if action["effect"] == "write":
            assert reviewed.pop("task_types")
        assert reviewed == action, action["name"]


# ------------------------------------------------------------------ the agent on the tickets
def test_each_ticket_is_read_for_its_customer_and_task_type(desk: Desk) -> None:
    for c in desk.cases:
        data = tandem_desk.get_ticket(desk.svc.db, c.id)
        assert data["ticket"]["error"] is None, (c.id, data["ticket"]["error"])
        assert data["ticket"]["customer_id"], c.id
        assert data["result"].triage.task_type == c.task_type, (c.id, data["result"].triage.requests)


def test_the_proposals_are_the_right_actions_with_the_right_arguments(desk: Desk) -> None:
    with desk.client() as client:
        for c in desk.cases:
            got = client.get(f"/api/v1/tickets/{c.id}")
            assert got.status_code == 200, got.text
            shown = [p for p in got.json()["proposals"] if p["action"] != "send_reply"]
            assert [p["action"] for p in shown] == [a for a, _ in c.proposals], (c.id, shown)
            for p, (action, args) in zip(shown, c.proposals, strict=True):
                if c.abstains:
                    assert p["decision"] == "abstained" and c.abstains in p["reason"], (c.id, p)
                    assert {k: v for k, v in p["args"].items() if k in args} == args
                elif c.read:
                    assert p["decision"] == "executed" and p["args"] == args, (c.id, p)
                elif c.refused:
                    assert p["decision"] == "denied" and "lower than the last one" in p["reason"], (c.id, p)
                    assert _typed(action, p["args"]) == args, (c.id, p["args"])
                else:
                    assert p["decision"] == "needs_approval" and p["status"] == "pending", (c.id, p)
                    assert _typed(action, p["args"]) == args, (c.id, p["args"])


def test_each_reply_asks_answers_or_says_why_before_anyone_approves(desk: Desk) -> None:
    for c in desk.cases:
        reply = desk.reply(c.id)
        assert reply.startswith("Hi ") and reply.rstrip().endswith(SIGNATURE), reply
        assert _content(reply), (c.id, reply)  # more than a greeting and a signature
        if c.asks:
            assert c.asks in reply, reply
        if c.read:
            assert c.explains in reply and "£" in reply.split(c.explains)[1].split("\n")[0], reply  # its lines
            assert "standing charge" in _content(reply).lower(), reply
        if c.refused:
            assert c.refused in reply and not wording.claims(reply, "submit_reading"), reply
            assert not [w for w in desk.service.writes() if w["path"] == "/accounts/E-2003/readings"]


def test_one_approval_makes_exactly_one_call_with_an_idempotency_key(desk: Desk) -> None:
    writes = [c for c in desk.cases if c.path and not c.read]
    assert not desk.service.writes(), "nothing is written before a person approves"
    for c in writes:
        [p] = desk.proposals(c.id)
        before = desk.reply(c.id)
        assert c.proposed in before, (c.id, before)  # what happens next, while a person decides
        assert c.done not in before and not wording.claims(before, p["action"]), before  # never done before it ran
        out = tandem_desk.approve(desk.svc.db, desk.svc.policy(), ADA, p["id"])
        assert out["status"] == "executed", (c.id, out)
        assert tandem_desk.approve(desk.svc.db, desk.svc.policy(), ADA, p["id"])["status"] == "executed"  # clicked twice
        calls = [w for w in desk.service.writes() if w["path"] == c.path]
        assert len(calls) == 1, (c.id, calls)
        assert calls[0]["idempotency_key"] and calls[0]["idempotency_key"].startswith("tandem-"), calls[0]
        after = desk.reply(c.id)
        assert c.done in after and c.proposed not in after, (c.id, after)  # what was done, once it ran
        assert wording.claims(after, p["action"]), after
    applied = {a["kind"]: a for a in desk.service.applied()}
    assert set(applied) == {"reading", "credit", "payment_plan", "payment_day", "tariff", "visit_booked",
                            "visit_moved"}
    assert applied["reading"]["data"]["rebilled"] == "B-3001"  # the estimated bill worked out again
    assert f"now comes to £{applied['reading']['data']['bill_total']:.2f}." in desk.reply("NW-E1")
    assert applied["payment_plan"]["data"]["instalment"] == 68.79
    assert len(desk.service.writes()) == len(writes)


def test_replay_runs_the_scenario_tickets_and_never_writes(desk: Desk) -> None:
    """``replay --tickets domains/northwind/scenarios.jsonl --json``, started once setup was done: one record per
    ticket, in order, and not one call to a write endpoint of the service (every write it holds is an approval)."""
    assert desk.replay.wait(timeout=300) == 0
    rows = [json.loads(line) for line in desk.replayed.read_text().splitlines() if line.strip()]
    expected = [json.loads(line)["id"] for line in (PACK_DIR / "scenarios.jsonl").read_text().splitlines()
                if line.strip()]
    assert [r["ticket_id"] for r in rows] == expected
    assert all(r["reply"].startswith("Hi ") and _content(r["reply"]) for r in rows)
    approved = {c.path for c in desk.cases if c.path}
    assert {w["path"] for w in desk.service.writes()} <= approved  # a replay previews, it never writes
    assert len(desk.service.writes()) <= len(approved)


# ------------------------------------------------------------------ what the README's path needed of the engine
def test_a_read_whose_optional_query_parameter_is_not_given_is_called_without_it(desk: Desk) -> None:
    """``list_free_slots`` (imported with its optional ``from_date``) is read for every ticket by ``card.yaml``: the
    parameter left out, never sent as the text "None"."""
    slots = [c for c in desk.service.calls() if c["method"] == "GET" and c["path"] == "/slots"]
    assert slots and all("from_date" not in c["query"] for c in slots), slots[:3]
    from cx_core.http_actions import calls

    decl = REGISTRY["list_free_slots"].remote.decl
    service = REGISTRY["list_free_slots"].remote.service
    assert calls.send(service, decl.call(), {"from_date": "2030-01-07"}).data == {"items": []}  # given: sent
    assert desk.service.calls()[-1]["query"] == "from_date=2030-01-07"


def test_an_articles_front_matter_changed_is_a_new_version(desk: Desk) -> None:
    """Setting the task types an article is written for (or its review date) is a change ``setup`` and ``ingest-kb``
    index again, even when its text is the same."""
    from cx_core import kb_docs
    from cx_core.documents import parse_document

    doc = parse_document(PACK_DIR / "knowledge" / "articles" / "direct-debit.md")
    assert kb_docs.ingest(desk.svc.db, desk.svc.kb, [doc], "test")[0]["status"] == "unchanged"
    retagged = dataclasses.replace(doc, task_types=["payment_date"])
    assert kb_docs.ingest(desk.svc.db, desk.svc.kb, [retagged], "test")[0]["status"] == "replaced"
    assert kb_docs.ingest(desk.svc.db, desk.svc.kb, [retagged], "test")[0]["status"] == "unchanged"
    assert kb_docs.ingest(desk.svc.db, desk.svc.kb, [doc], "test")[0]["status"] == "replaced"
