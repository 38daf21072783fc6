"""A team's own pack, from an empty folder: no demo world, no Python beyond ``PACK``; its actions, customer records
and card declared over its own HTTP service. Set up with ``setup`` (a first admin printed once), run by the worker
without a simulator, its card read once per ticket view; profile fields it leaves out take their defaults."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from cx_core import desk, domain, packs
from cx_core.auth import authenticate, create_user
from cx_core.cli import main
from cx_core.config import Settings, load_settings
from cx_core.errors import ConfigError, ConnectorUnavailable, InvalidInput, NotFound
from cx_core.models import Role, TicketIn
from cx_core.services import Services
from cx_core.store.db import Database
from tests.servers.stub import JsonHandler, serving

NOW = datetime(2026, 11, 18, 9, 30)

INIT = '''"""Kestrel Energy: a small pack kept outside the engine, with no demo world."""
from pathlib import Path

from cx_core.domain import Brand, DomainPack

PACK = DomainPack(
    name="{pkg}", title="Kestrel Energy", package="{pkg}", root=Path(__file__).resolve().parent,
    task_types={{"meter_reading": "submit a meter reading", "tariff_question": "tariff question",
                "moving_home": "moving home"}},
    informational=frozenset({{"tariff_question"}}),
    brand=Brand(name="Kestrel Energy", signature="Warm regards,\\nKestrel Energy", sender="care@kestrel.example"),
    modules={modules},
)
'''
ACTIONS = '''services:
  energy:
    base_url: ${KESTREL_URL}
    allowed_hosts: [127.0.0.1]
actions:
  - name: find_customer
    description: The customer with an e-mail address.
    effect: read
    service: energy
    path: /customers
    query: {email: "{email}"}
    arguments: {type: object, required: [email], properties: {email: {type: string}}}
  - name: get_customer
    description: One customer by id.
    effect: read
    service: energy
    path: /customers/{customer_id}
    arguments: {type: object, required: [customer_id], properties: {customer_id: {type: string}}}
  - name: list_accounts
    description: The customer's energy accounts.
    effect: read
    service: energy
    path: /customers/{customer_id}/accounts
    arguments: {type: object, required: [customer_id], properties: {customer_id: {type: string}}}
  - name: get_account
    description: One energy account.
    effect: read
    service: energy
    path: /accounts/{account_id}
    arguments: {type: object, required: [account_id], properties: {account_id: {type: string}}}
  - name: submit_reading
    label: Submit a meter reading
    description: Records a meter reading on an account.
    effect: write
    service: energy
    method: POST
    path: /accounts/{account_id}/readings
    body: {value: "{value}"}
    arguments:
      type: object
      required: [account_id, value]
      properties: {account_id: {type: string}, value: {type: integer, minimum: 0}}
    owner: {action: get_account, args: {account_id: "{account_id}"}, field: customer_id}
    idempotency_key: Idempotency-Key
    task_types: [meter_reading]
'''
CARD = '''customer:
  find: {action: find_customer, args: {email: "{email}"}}
  get: {action: get_customer, args: {customer_id: "{id}"}}
reads:
  accounts: {action: list_accounts, args: {customer_id: "{customer_id}"}, field: items}
card:
  headline: "{profile.name}"
  contact: ["{profile.tier}", "{profile.email}", "{profile.phone}"]
  details: ["{profile.address}", "customer since {profile.since}"]
  tables:
    Accounts: {rows: accounts, columns: {account: id, fuel: fuel, balance: balance}}
'''
RECIPES = '''patterns:
  reading: '\\b(\\d{5})\\b'
recipes:
  meter_reading:
    steps:
      - action: submit_reading
        args:
          account_id: {record: accounts, key: id}
          value: {entity: reading}
'''
POLICY = '''version: 1
autonomy: {meter_reading: 2, tariff_question: 1, moving_home: 2}
limits: {submit_reading: {auto_max: 0, advisor_max: 100}}
never_autonomous: [submit_reading]
'''
ARTICLES = {"tariffs.md": "# Our tariffs\n\n## Fixed or variable\n\nThe fixed tariff keeps the same unit price for "
                          "twelve months. The variable tariff follows the market each month.\n",
            "readings.md": "# Meter readings\n\n## Sending a reading\n\nSend the five digits on the meter's display; "
                           "we bill from it within two days.\n"}
EXAMPLES = {
    "meter_reading": ["my meter reading is 12345", "here is my reading for this month", "please take my gas reading",
                      "I want to submit a meter reading", "the electricity meter says 04521",
                      "reading attached, can you update my bill"],
    "tariff_question": ["what is the difference between fixed and variable", "which tariff am I on",
                        "is the fixed tariff cheaper", "how does the variable tariff work",
                        "can you explain your tariffs", "what unit price do I pay"],
    "moving_home": ["I am moving house next month", "we are moving out on Friday", "I have sold my home",
                    "new tenant moving in", "close my account because I am moving", "I am moving to a new address"],
    "none": ["thanks", "hello", "kind regards"],
}
CUSTOMERS = {"C1": {"id": "C1", "name": "Dana Fox", "email": "dana@kestrel-customer.example",
                    "address": {"line1": "1 Elm Street", "city": "Leeds"}, "since": "2021-03-01"},
             "C2": {"id": "C2", "name": "Sam Lee", "email": "sam@kestrel-customer.example"}}
ACCOUNTS = {"A1": {"id": "A1", "customer_id": "C1", "fuel": "gas", "balance": -12.5},
            "A2": {"id": "A2", "customer_id": "C1", "fuel": "electricity", "balance": 3.0},
            "A3": {"id": "A3", "customer_id": "C2", "fuel": "gas", "balance": 0.0}}


class Energy(JsonHandler):
    """The team's own service: customers, their accounts, and readings (remembered by idempotency key)."""

    calls: list[str] = []
    keys: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Energy.calls.append(self.path)
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if parts == ["customers"]:
            email = parse_qs(url.query).get("email", [""])[0].lower()
            self._answer(200, [c for c in CUSTOMERS.values() if c["email"] == email])
        elif len(parts) == 2 and parts[0] == "customers" and parts[1] in CUSTOMERS:
            self._answer(200, CUSTOMERS[parts[1]])
        elif len(parts) == 3 and parts[0] == "customers" and parts[2] == "accounts":
            self._answer(200, {"items": [a for a in ACCOUNTS.values() if a["customer_id"] == parts[1]]})
        elif len(parts) == 2 and parts[0] == "accounts" and parts[1] in ACCOUNTS:
            self._answer(200, ACCOUNTS[parts[1]])
        else:
            self._answer(404, {"detail": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        seen = self._seen()
        Energy.calls.append(self.path)
        Energy.keys.append(seen.headers.get("idempotency-key", ""))
        self._answer(201, {"id": f"R{len(Energy.keys)}", "value": (seen.body or {}).get("value")})


def write_pack(base: Path, name: str, *, records: str | None = None, card: str = CARD,
               actions: str = ACTIONS, recipes: str | None = RECIPES) -> Path:
    """The pack in ``base/name``: PACK, knowledge, policy, actions.yaml, card.yaml (and recipes.yaml)."""
    folder = base / name
    (folder / "knowledge" / "articles").mkdir(parents=True)
    (folder / "knowledge" / "training").mkdir()
    modules = {"records": f"{name}.records"} if records is not None else {}
    (folder / "__init__.py").write_text(INIT.format(pkg=name, modules=json.dumps(modules)), encoding="utf-8")
    if records is not None:
        (folder / "records.py").write_text(records, encoding="utf-8")
    (folder / "actions.yaml").write_text(actions, encoding="utf-8")
    if card:
        (folder / "card.yaml").write_text(card, encoding="utf-8")
    if recipes:
        (folder / "recipes.yaml").write_text(recipes, encoding="utf-8")
    for file, text in ARTICLES.items():
        (folder / "knowledge" / "articles" / file).write_text(text, encoding="utf-8")
    rows = ["text,label"] + [f"{t},{label}" for label, texts in EXAMPLES.items() for t in texts]
    (folder / "knowledge" / "training" / "task_types.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "knowledge" / "policy.yaml").write_text(POLICY, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def energy() -> Iterator[str]:
    with serving(Energy) as url:
        yield url


@pytest.fixture
def pack_dirs(tmp_path: Path, energy: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder of packs named by ``TANDEM_PACKS_DIR``; the demo company is in force again afterwards."""
    base = tmp_path / "packs"
    base.mkdir()
    monkeypatch.setenv("TANDEM_PACKS_DIR", str(base))
    monkeypatch.setenv("TANDEM_KESTREL_URL", energy)
    monkeypatch.delenv("TANDEM_ADMIN_PASSWORD", raising=False)
    domain.find.cache_clear()
    Energy.calls.clear()
    Energy.keys.clear()
    yield base
    monkeypatch.delenv("TANDEM_PACKS_DIR")
    domain.find.cache_clear()
    packs.use(domain.find(domain.DEFAULT_DOMAIN))


def pack_name() -> str:
    return f"kestrel_{uuid.uuid4().hex[:8]}"


def settings_for(name: str, data: Path, **more: Any) -> Settings:
    return load_settings(domain=name, data_dir=data, database_url="", **more)


def set_up(name: str, data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TANDEM_DOMAIN", name)
    monkeypatch.setenv("TANDEM_DATA_DIR", str(data))
    assert main(["setup"]) == 0
    monkeypatch.delenv("TANDEM_DOMAIN")
    monkeypatch.delenv("TANDEM_DATA_DIR")
    return capsys.readouterr().err


# ------------------------------------------------------------------ set-up and the first admin
def test_setup_prepares_a_pack_without_a_demo_and_prints_the_first_admins_password_once(
        pack_dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    name = pack_name()
    write_pack(pack_dirs, name)
    data = tmp_path / "data"
    err = set_up(name, data, capsys, monkeypatch)
    found = re.search(r"Sign in as 'admin' with this password.*\n\n {4}(\S+)\n", err)
    assert found, err
    password = found.group(1)
    assert "2 articles" in err and "classifier trained" in err
    svc = Services(settings_for(name, data))
    try:
        assert authenticate(svc.db, "admin", password).role == Role.admin
        assert svc.kb.count() > 0 and svc.model_path.exists()
    finally:
        svc.close()
    raw = (data / "tandem.db").read_bytes() + b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file()
                                                       and p.suffix in {".log", ".yaml", ".json"})
    assert password.encode() not in raw  # only its hash is kept
    again = set_up(name, data, capsys, monkeypatch)
    assert "password" not in again and "0 new or changed" in again  # nothing made twice, nothing printed twice


def test_the_first_admin_takes_the_password_given(pack_dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    name = pack_name()
    write_pack(pack_dirs, name)
    monkeypatch.setenv("TANDEM_ADMIN_PASSWORD", "kestrel-admin-2026")
    err = set_up(name, tmp_path / "data", capsys, monkeypatch)
    assert "kestrel-admin-2026" not in err and "TANDEM_ADMIN_PASSWORD" in err
    svc = Services(settings_for(name, tmp_path / "data"))
    try:
        assert authenticate(svc.db, "admin", "kestrel-admin-2026").username == "admin"
    finally:
        svc.close()


def test_demo_if_missing_prepares_a_pack_without_a_demo_module(pack_dirs: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    name = pack_name()
    write_pack(pack_dirs, name)
    monkeypatch.setenv("TANDEM_DOMAIN", name)
    monkeypatch.setenv("TANDEM_DATA_DIR", str(tmp_path / "data"))
    assert main(["demo", "--if-missing"]) == 0
    err = capsys.readouterr().err
    assert "has no demo world" in err and "First admin created" in err


def test_replay_on_a_pack_without_a_demo_needs_no_setup_first_and_reads_with_its_examples_as_they_are(
        pack_dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    name = pack_name()
    folder = write_pack(pack_dirs, name)
    monkeypatch.setenv("TANDEM_DOMAIN", name)
    monkeypatch.setenv("TANDEM_DATA_DIR", str(tmp_path / "data"))
    tickets = tmp_path / "t.jsonl"
    tickets.write_text(json.dumps({"id": "R-1", "customer": "dana@kestrel-customer.example", "channel": "email",
                                   "subject": "", "body": "Here is my meter reading: 12345."}) + "\n")
    assert main(["replay", "--tickets", str(tickets), "--json"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["ticket_id"] == "R-1" and first["task_type"]
    # the examples changed since: the replay reads with a classifier trained on them, not the one before
    csv = folder / "knowledge" / "training" / "task_types.csv"
    model = tmp_path / "data" / "models" / "task_types.joblib"
    before = model.stat().st_mtime if model.exists() else None
    csv.write_text(csv.read_text(encoding="utf-8") + "my meter says 55555,meter_reading\n", encoding="utf-8")
    assert main(["replay", "--tickets", str(tickets), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["ticket_id"] == "R-1"
    assert before is None or model.stat().st_mtime == before  # the replay's copy was retrained, not the desk's


# ------------------------------------------------------------------ records and card declared over read actions
def test_customers_are_found_and_the_card_is_built_from_card_yaml(pack_dirs: Path, tmp_path: Path) -> None:
    name = pack_name()
    write_pack(pack_dirs, name)
    pack = packs.use(domain.find(name))
    records = packs.records(pack)
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.session() as s:
        dana = records.lookup(s, "Dana@kestrel-customer.example")
        assert dana is not None and (dana.id, dana.name, dana.tier) == ("C1", "Dana Fox", "standard")
        assert records.lookup(s, "C2").name == "Sam Lee"
        assert records.lookup(s, "nobody@example.com") is None and records.lookup(s, "C404") is None
        assert records.identify(s, "Hi, I'm dana@kestrel-customer.example, reading 12345").id == "C1"
        assert records.identify(s, "dana@kestrel-customer.example and sam@kestrel-customer.example") is None
        snap = records.snapshot(s, "C1", NOW)
        card = records.card(s, "C1", NOW)
    assert [a["id"] for a in snap["accounts"]] == ["A1", "A2"] and snap["profile"]["first_name"] == "Dana"
    assert card["headline"] == "Dana Fox"
    assert card["contact"] == "standard · dana@kestrel-customer.example"  # no phone: left out, no tier: standard
    assert card["details"] == "1 Elm Street, Leeds · customer since 2021-03-01"
    assert card["tabs"] == {"Accounts": [{"account": "A1", "fuel": "gas", "balance": -12.5},
                                         {"account": "A2", "fuel": "electricity", "balance": 3.0}]}


def test_the_cards_reads_are_made_once_per_ticket_view(pack_dirs: Path, tmp_path: Path) -> None:
    """Two ticket views with reruns: the team's service is asked once per view, and again once the ticket
    changes (a decision, a message) — never on a rerun."""
    name = pack_name()
    write_pack(pack_dirs, name)
    pack = packs.use(domain.find(name))
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", pack=name)
    db.migrate()
    desk.add_tickets(db, [TicketIn(id=f"K-{i}", customer="dana@kestrel-customer.example", channel="email",
                                      subject="reading", body="my reading is 12345", created_at=NOW)
                             for i in (1, 2)], source="test")
    from cx_core.auth import create_user
    from cx_core.conversations import add_note

    ada = create_user(db, "ada", "Ada", Role.advisor, "password-123")
    Energy.calls.clear()
    for tid in ("K-1", "K-2"):
        for _rerun in range(5):
            view = desk.customer_view(db, pack, ada, tid, "C1")
            assert view["card"]["headline"] == "Dana Fox"
            assert [c[0] for c in view["choices"]["account_id"]] == ["A1", "A2"]
    per_view = 2  # the customer and their accounts
    assert len(Energy.calls) == 2 * per_view, Energy.calls
    add_note(db, ada, "K-1", "customer called")  # a change on the ticket: the next view reads again
    desk.customer_view(db, pack, ada, "K-1", "C1")
    desk.customer_view(db, pack, ada, "K-1", "C1")
    assert len(Energy.calls) == 3 * per_view
    desk.customer_view(db, pack, ada, "K-1", "C1", fresh=True)  # "read again" asks now
    assert len(Energy.calls) == 4 * per_view


def test_a_card_yaml_naming_a_write_or_an_unknown_read_is_reported(pack_dirs: Path) -> None:
    from cx_core.domain_check import check

    name = pack_name()
    bad = CARD.replace("action: list_accounts", "action: list_acounts").replace(
        "find: {action: find_customer", "find: {action: submit_reading")
    folder = write_pack(pack_dirs, name, card=bad)
    found = [str(p) for p in check(folder)]
    assert any("card.yaml: customer.find.action: 'submit_reading' changes records" in p for p in found), found
    assert any("card.yaml: reads.accounts.action: 'list_acounts' is not an action of the pack" in p
               for p in found), found


# ------------------------------------------------------------------ the agent on such a pack
@pytest.fixture
def kestrel(pack_dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    name = pack_name()
    write_pack(pack_dirs, name)
    set_up(name, tmp_path / "data", capsys, monkeypatch)
    svc = Services(settings_for(name, tmp_path / "data"))
    yield svc
    svc.close()


def test_the_worker_runs_a_pack_without_a_demo_and_without_a_simulator(kestrel: Services) -> None:
    from cx_core import worker

    desk.add_tickets(kestrel.db, [TicketIn(id="K-10", customer="dana@kestrel-customer.example", channel="email",
                                              subject="Meter reading", body="Hello, my meter reading is 12345.",
                                              created_at=NOW)], source="test")
    assert worker.run(kestrel, simulate=True, once=True, deliver=False, channels=False) == 1
    data = desk.get_ticket(kestrel.db, "K-10")
    assert data["ticket"]["error"] is None and data["ticket"]["customer_id"] == "C1"
    result = data["result"]
    assert result.triage.task_type == "meter_reading"
    assert result.draft.reply.startswith("Hi Dana,")
    [p] = [p for p in data["proposals"] if p["action"] == "submit_reading"]
    assert p["args"] == {"account_id": "A1", "value": 12345} or p["decision"] == "abstained"


# ------------------------------------------------------------------ profile fields a pack leaves out
RECORDS_WITHOUT_PROFILE = '''
from cx_core.domain import Customer


def lookup(session, ref):
    return Customer(id="C9") if ref and ("dana" in ref or ref == "C9") else None


def identify(session, text):
    return None


def snapshot(session, customer_id, now):
    return {"accounts": []}


def tiers(session):
    return {}
'''


def test_a_profile_without_tier_or_names_runs_through_the_pipeline(pack_dirs: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    name = pack_name()
    write_pack(pack_dirs, name, records=RECORDS_WITHOUT_PROFILE, card="", recipes=None)
    set_up(name, tmp_path / "data", capsys, monkeypatch)
    svc = Services(settings_for(name, tmp_path / "data"))
    try:
        ticket = TicketIn(id="K-20", customer="dana@kestrel-customer.example", channel="email",
                          subject="tariffs", body="What is the difference between fixed and variable?",
                          created_at=NOW)
        desk.add_tickets(svc.db, [ticket], source="test")
        result = svc.pipeline.process(ticket, now=NOW)
        assert result.customer_id == "C9" and result.draft.reply.startswith("Hi there,")
        assert "(standard)" in result.draft.summary
        ada = create_user(svc.db, "ada", "Ada", Role.advisor, "password-123")
        view = desk.customer_view(svc.db, svc.pack, ada, "K-20", "C9")  # the card: from the profile
        assert view["card"]["headline"] == "the customer" and view["card"]["contact"] == "standard"
    finally:
        svc.close()


# ------------------------------------------------------------------ one data folder, one pack
def test_a_data_folder_belongs_to_one_pack(pack_dirs: Path, tmp_path: Path) -> None:
    name = pack_name()
    write_pack(pack_dirs, name)
    data = tmp_path / "data"
    Services(settings_for(name, data)).db.migrate()
    lumen = Services(load_settings(domain="lumen", data_dir=data, database_url=""))
    with pytest.raises(ConfigError, match=rf"this data folder \({data}\) belongs to pack '{name}'; give "
                                          rf"TANDEM_DATA_DIR another folder or use TANDEM_DOMAIN={name}"):
        lumen.db.migrate()
    lumen.close()
    assert settings_for(name, data).data_dir == data
    assert load_settings(domain=name).data_dir.name == name  # by default, a pack's own folder under data/


def test_two_installations_never_send_the_same_idempotency_key(tmp_path: Path) -> None:
    from cx_core.actions.execute import outbound_key

    a, b = (Database(f"sqlite:///{tmp_path / f'{n}.db'}") for n in "ab")
    for db in (a, b):
        db.migrate()
    assert a.install_id != b.install_id and len(a.install_id) == 12
    assert Database(a.url).install_id == a.install_id  # made once, kept in the store
    key = outbound_key(a, "proposal:1")
    assert key == f"tandem-{a.install_id}-proposal:1" and outbound_key(a, key) == key
    assert outbound_key(b, "proposal:1") != key


def test_the_workspace_reads_the_card_once_however_often_the_page_reruns(kestrel: Services,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ticket views, each opened and rerun three times: two calls each (the customer and their accounts)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from cx_core import worker
    from cx_core.config import PROJECT_ROOT

    create_user(kestrel.db, "ada", "Ada", Role.advisor, "password-123")
    desk.add_tickets(kestrel.db, [TicketIn(id=f"K-3{i}", customer="dana@kestrel-customer.example", channel="email",
                                              subject="Tariffs", body="Which tariff am I on?", created_at=NOW)
                                     for i in (1, 2)], source="test")
    while worker.process_one(kestrel, "test"):
        pass
    monkeypatch.setenv("TANDEM_DOMAIN", kestrel.pack.name)
    monkeypatch.setenv("TANDEM_DATA_DIR", str(kestrel.settings.data_dir))
    st.cache_resource.clear()
    try:
        per_view = []
        for tid in ("K-31", "K-32"):
            Energy.calls.clear()
            at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
            at.session_state["user"] = desk.StaffUser("ada", "Ada", Role.advisor)
            at.query_params["ticket"] = tid
            at.switch_page("pages/workspace.py").run()
            for _ in range(3):
                at.run()
            assert not at.exception
            assert any("Dana Fox" in m.value for m in at.markdown)
            per_view.append(len(Energy.calls))
        assert per_view == [2, 2], Energy.calls
    finally:
        st.cache_resource.clear()


def test_a_base_url_given_as_a_setting_is_kept_when_importing_from_an_address(tmp_path: Path) -> None:
    from cx_core.http_actions.openapi import import_openapi

    doc = {"openapi": "3.1.0", "info": {"title": "Energy"}, "servers": [{"url": "/v1"}],
           "paths": {"/customers/{customer_id}": {"get": {"operationId": "getCustomer", "parameters": [
               {"name": "customer_id", "in": "path", "required": True, "schema": {"type": "string"}}]}}}}

    class Document(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802
            self._answer(200, doc)

    with serving(Document) as url:
        path, added, _ = import_openapi(f"{url}/openapi.json", tmp_path / "actions.yaml", base_url="${ENERGY_URL}")
        assert added == ["get_customer"]
        assert "base_url: ${ENERGY_URL}\n" in path.read_text(encoding="utf-8")
        import_openapi(f"{url}/openapi.json", tmp_path / "other.yaml")  # the document's own server, relative to it
        assert f"base_url: {url}/v1\n" in (tmp_path / "other.yaml").read_text(encoding="utf-8")


def test_a_ticket_that_arrives_while_the_teams_records_are_down_finds_its_customer_when_read(
        kestrel: Services, monkeypatch: pytest.MonkeyPatch, energy: str) -> None:
    from cx_core import worker

    monkeypatch.setenv("TANDEM_KESTREL_URL", "http://127.0.0.1:9")  # nothing answers there
    ticket = TicketIn(id="K-40", customer="dana@kestrel-customer.example", channel="email", subject="Tariffs",
                      body="Which tariff am I on?", created_at=NOW)
    assert desk.add_tickets(kestrel.db, [ticket], source="test") == (1, 0)  # stored all the same
    assert desk.get_ticket(kestrel.db, "K-40")["ticket"]["customer_id"] is None
    monkeypatch.setenv("TANDEM_KESTREL_URL", energy)
    assert worker.process_one(kestrel, "test")
    assert desk.get_ticket(kestrel.db, "K-40")["ticket"]["customer_id"] == "C1"


def test_a_bad_declared_action_keeps_the_policy_and_every_other_action_in_force(pack_dirs: Path, tmp_path: Path) -> None:
    from cx_core import http_actions
    from cx_core.actions.base import REGISTRY

    name = pack_name()
    write_pack(pack_dirs, name, actions=ACTIONS.replace("path: /accounts/{account_id}/readings",
                                                    "path: accounts/{account_id}/readings"))
    svc = Services(settings_for(name, tmp_path / "data"))  # the policy names it in limits and never_autonomous
    try:
        assert svc.policy().never_autonomous == ["submit_reading"] and svc.policy_error == ""
        assert "submit_reading" not in REGISTRY and {"find_customer", "get_account"} <= set(REGISTRY)
        assert list(http_actions.LOADED.refused) == ["submit_reading"]
        assert http_actions.LOADED.refused["submit_reading"].startswith("path: must start with a single /")
    finally:
        svc.close()


def test_the_card_says_what_could_not_be_read_when_the_service_is_down(pack_dirs: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    name = pack_name()
    write_pack(pack_dirs, name)
    pack = packs.use(domain.find(name))
    monkeypatch.setenv("TANDEM_KESTREL_URL", "http://127.0.0.1:9")
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.session() as s:
        card = packs.records(pack).card(s, "C1", NOW)
        with pytest.raises(ConnectorUnavailable, match="could not be reached"):
            packs.records(pack).snapshot(s, "C1", NOW)  # the agent's own reading fails, and the ticket says why
    assert card["headline"] == "C1" and card["tabs"] == {"Accounts": []}
    assert set(card["unread"]) == {"profile", "accounts"}


def test_actions_check_lists_what_is_kept_out_and_why(pack_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = pack_name()
    write_pack(pack_dirs, name, actions=ACTIONS.replace("action: get_account, args", "action: get_acount, args"))
    assert main(["actions", "check", "--domain", name]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("actions.yaml: actions.submit_reading.owner.action: 'get_acount' is not a read action of "
                           "this file")
    assert out[-2] == "not in force: submit_reading (each for the problem named above); 4 in force"
    assert out[-1] == "1 problem"


# ------------------------------------------------------------------ a pack fixed while tickets wait
def test_a_pack_changed_while_tickets_wait_reads_them_again_and_keeps_what_people_decided(
        pack_dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from cx_core import worker

    name = pack_name()
    folder = write_pack(pack_dirs, name, recipes=None)  # no recipes yet: nothing is proposed
    data = tmp_path / "data"
    set_up(name, data, capsys, monkeypatch)
    svc = Services(settings_for(name, data))
    ada = create_user(svc.db, "ada", "Ada", Role.advisor, "password-123")
    try:
        desk.add_tickets(svc.db, [TicketIn(id=tid, customer="dana@kestrel-customer.example", channel="email",
                                           subject="Meter reading", body=f"Hello, my meter reading is {value}.",
                                           created_at=NOW) for tid, value in (("K-30", 12345), ("K-31", 23456))],
                         source="test")
        assert worker.run(svc, simulate=False, once=True, deliver=False, channels=False) == 2

        def actions(tid: str) -> list[tuple[str, str]]:
            return [(p["action"], p["status"]) for p in desk.get_ticket(svc.db, tid)["proposals"]]

        assert actions("K-30") == [] and actions("K-31") == []
        # Ada decides something on K-31 (a reading she adds by hand, then turns down): a decision, and her ticket
        added = desk.add_action(svc.db, svc.policy(), ada, "K-31", "submit_reading", {"account_id": "A1", "value": 1})
        desk.reject(svc.db, ada, added["id"], "wrong: typed by mistake")
        # the pack gains its recipes; the next start reads again what waits on nobody
        (folder / "recipes.yaml").write_text(RECIPES, encoding="utf-8")
        assert "the pack changed: 1 open ticket read again with it" in set_up(name, data, capsys, monkeypatch)
        assert desk.get_ticket(svc.db, "K-31")["ticket"]["status"] == "open"  # Ada's: hers to read again
        assert worker.run(svc, simulate=False, once=True, deliver=False, channels=False) == 1
        assert [a for a, _ in actions("K-30")] == ["submit_reading"]  # read with the pack as it is now
        desk.reread(svc.db, ada, "K-31")
        assert worker.run(svc, simulate=False, once=True, deliver=False, channels=False) == 1
        assert ("submit_reading", "rejected") in actions("K-31")  # what Ada decided stays decided
        assert ("submit_reading", "pending") in actions("K-31")  # and the new pack's proposal is there beside it
        with pytest.raises(NotFound):
            desk.reread(svc.db, ada, "K-99")
        assert desk.reread_waiting(svc.db, ["K-30"]) == ["K-30"]
        with pytest.raises(InvalidInput, match="already waiting for the agent"):
            desk.reread(svc.db, ada, "K-30")
        assert worker.run(svc, simulate=False, once=True, deliver=False, channels=False) == 1
        # unchanged, a start reads nothing again
        assert "read again" not in set_up(name, data, capsys, monkeypatch)
    finally:
        svc.close()
