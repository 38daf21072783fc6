"""Replies a new pack gets for free. Harbor Outfitters (``tests/packs/harbor``) declares its order service's actions
by importing the service's OpenAPI document, writes its recipes and hard-wrapped articles as data, and adds one
sentence of its own: what an order look-up may tell a customer. Against the real order service, every scenario's
reply says something, quotes whole sentences, names the customer's own figures and asks nothing the customer said;
and a ticket solved by a declared action speaks of it in every state: proposed, under way, done, refused, failed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import update

from cx_core import delivery, desk, domain, http_actions, kb_docs, packs
from cx_core.access import StaffUser
from cx_core.actions import REGISTRY
from cx_core.auth import ensure_demo_users
from cx_core.config import load_settings
from cx_core.documents import load_paths
from cx_core.drafting import NEXT
from cx_core.http_actions import openapi
from cx_core.models import Decision, ProcessResult, Role, TicketIn
from cx_core.services import Services
from cx_core.store.tables import NotificationRow
from cx_core.triage import train_default
from cx_core.wording import claims
from tests.conftest import NOW
from tests.packs.harbor import PACK
from tests.servers.orders_service import OrdersService, running_orders_service
from tests.test_reply_text import check, quotes

pytestmark = pytest.mark.http_actions
ADA = StaffUser("ada", "Ada Advisor", Role.advisor)
SCENARIOS = Path(PACK.root) / "scenarios.jsonl"
CUSTOMERS = [{"id": "C1", "email": "dana@example.com", "name": "Dana Fox"},
             {"id": "C2", "email": "sam@example.com", "name": "Sam Lee"}]
ORDERS = [{"id": "O-1001", "customer_id": "C1", "status": "delivered", "total": 120.0, "address": "1 Elm Street"},
          {"id": "O-1002", "customer_id": "C1", "status": "delivered", "total": 45.5, "address": "1 Elm Street"},
          {"id": "O-2001", "customer_id": "C2", "status": "shipped", "total": 80.0, "address": "9 Oak Road"},
          {"id": "O-3001", "customer_id": "C1", "status": "delivered", "total": 30.0, "address": "1 Elm Street"},
          {"id": "O-3002", "customer_id": "C2", "status": "delivered", "total": 20.0, "address": "9 Oak Road"},
          {"id": "O-3003", "customer_id": "C1", "status": "delivered", "total": 25.0, "address": "1 Elm Street"},
          {"id": "O-3004", "customer_id": "C2", "status": "delivered", "total": 15.0, "address": "9 Oak Road"}]
# the one sentence Harbor writes: what an order look-up may tell the customer
FACTS = ("Order {order_id} is {result.status:lower} and came to {result.total:money}. {result.refundable:money} of "
         "it can still be refunded.")


@dataclass
class Harbor:
    svc: Services
    orders: OrdersService
    actions_file: Path


@pytest.fixture(scope="module")
def harbor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harbor]:
    folder = tmp_path_factory.mktemp("harbor")
    original = domain._from_folder
    with running_orders_service(folder) as orders, pytest.MonkeyPatch.context() as mp:
        orders.seed(CUSTOMERS, ORDERS)
        mp.setattr(domain, "_from_folder", lambda name: PACK if name == "harbor" else original(name))
        mp.delenv("TANDEM_ACTIONS_FILE", raising=False)
        packs.use(domain.find("harbor"))
        target = folder / "actions.yaml"
        openapi.import_openapi(f"{orders.url}/openapi.json", target, taken=frozenset(REGISTRY))
        declared = yaml.safe_load(target.read_text(encoding="utf-8"))
        for a in declared["actions"]:
            if a["name"] == "get_order":
                a["wording"] = {"facts": FACTS}
        target.write_text(yaml.safe_dump(declared, sort_keys=False), encoding="utf-8")
        mp.setenv("TANDEM_ACTIONS_FILE", str(target))
        svc = Services(load_settings(domain="harbor", data_dir=folder / "data", database_url=""))
        try:
            assert not http_actions.LOADED.problems, http_actions.LOADED.problems
            svc.db.migrate()
            ensure_demo_users(svc.db)
            svc.kb.reset()
            kb_docs.ingest(svc.db, svc.kb, load_paths([svc.settings.articles_dir]), "system")
            train_default(svc.settings.knowledge_dir / "training" / "task_types.csv", svc.embedder, svc.model_path)
            yield Harbor(svc, orders, target)
        finally:
            svc.close()
    assert "cancel_order" in http_actions.LOADED.actions  # Harbor declared one, named like the demo company's own
    packs.use(domain.find(domain.DEFAULT_DOMAIN))
    assert REGISTRY["cancel_order"].remote is None  # which is still the demo company's own, once Harbor leaves


def scenarios() -> list[TicketIn]:
    rows = [json.loads(line) for line in SCENARIOS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [TicketIn(created_at=NOW, **r) for r in rows]


def process(h: Harbor, ticket: TicketIn, store: bool = False) -> ProcessResult:
    desk.add_tickets(h.svc.db, [ticket], source="test")
    result = h.svc.pipeline.process(ticket, now=NOW)
    if store:
        desk.store_result(h.svc.db, h.svc.policy(), result)
    return result


def middle(reply: str) -> str:
    """What the reply says between its greeting and its sign-off."""
    return " ".join(reply.split("\n\n")[1:-1])


def test_every_scenario_reply_says_something_whole_and_asks_nothing_the_customer_said(harbor: Harbor) -> None:
    harbor.svc.pipeline.rehearsal = True  # as replay does: reads and dry runs only, never a write
    problems: list[str] = []
    results: dict[str, ProcessResult] = {}
    try:
        for ticket in scenarios():
            result = results[ticket.id] = process(harbor, ticket.model_copy(update={"id": f"R-{ticket.id}"}))
            problems += [f"{ticket.id}: {p}" for p in check(result, ticket.subject, ticket.channel, ticket.body)]
    finally:
        harbor.svc.pipeline.rehearsal = False
    assert not problems, "\n".join(problems)
    said = {k: middle(r.draft.reply) for k, r in results.items()}
    # a refund solved by a declared action: the order's own figures, and the refund proposed with its amount
    assert "Order O-1002 is delivered and came to £45.50. £45.50 of it can still be refunded." in said["HB-01"]
    assert "I've asked a colleague to approve this: refund an order (order O-1002, amount £45.50)." in said["HB-01"]
    assert not claims(said["HB-01"], "create_refund")
    # a question answered from the look-up alone, and sent at level 1
    assert "Order O-2001 is shipped and came to £80.00." in said["HB-02"]
    assert any(p.action == "send_reply" and p.decision == Decision.executed for p in results["HB-02"].proposals)
    # a hard-wrapped article quoted in whole sentences
    assert any(q.startswith("Restart your router by holding the button on its back for 10 seconds")
               for q in quotes(results["HB-03"])), said["HB-03"]
    # "Saturday afternoon" is bound, not asked again; "Friday" alone asks which part of the day
    callback = next(p for p in results["HB-04"].proposals if p.action == "harbor_book_callback")
    assert callback.args["time_of_day"] == "afternoon" and callback.args["day"] == "2026-11-21"
    assert "morning or" not in said["HB-04"] and "in the afternoon" in said["HB-04"]
    assert "morning or the afternoon" in said["HB-05"]
    # someone else's order: nothing is done and the reply says why; no order named: the reply asks which
    assert not any(p.decision == Decision.executed and p.action == "create_refund"
                   for p in results["HB-06"].proposals)
    assert said["HB-06"].startswith("Unfortunately, I can't do that: the record does not belong")
    assert "Which order is it?" in said["HB-07"]


def test_a_ticket_solved_by_a_declared_action_speaks_of_it_in_every_state(harbor: Harbor) -> None:
    h = harbor

    def refund_ticket(ticket_id: str, order_id: str, customer: str = "dana@example.com") -> tuple[dict[str, Any], int]:
        body = f"Hello, please refund order {order_id}, it is not what I ordered."
        process(h, TicketIn(id=ticket_id, customer=customer, subject="Refund", body=body, created_at=NOW), store=True)
        data = desk.get_ticket(h.svc.db, ticket_id)
        refund = next(p for p in data["proposals"] if p["action"] == "create_refund")
        return data, int(refund["id"])

    def reply(ticket_id: str) -> str:
        return desk.reply_draft(desk.get_ticket(h.svc.db, ticket_id))[1]

    # proposed, then done once approved: the service's own answer
    data, pid = refund_ticket("HD-done", "O-3001")
    before = reply("HD-done")
    assert "I've asked a colleague to approve this: refund an order (order O-3001, amount £30.00)." in before
    assert desk.approve(h.svc.db, h.svc.policy(), ADA, pid)["status"] == "executed"
    after = reply("HD-done")
    assert "Done: refund an order (order O-3001, amount £30.00)." in after and "approve this" not in after
    assert claims(after, "create_refund")
    assert len(h.orders.applied("refund")) == 1

    # refused by the service (a 4xx): what happens instead, no blame, nothing claimed
    _, pid = refund_ticket("HD-refused", "O-3002", "sam@example.com")
    h.orders.fault("/orders/O-3002/refunds", status=409, count=1, method="POST")
    assert desk.approve(h.svc.db, h.svc.policy(), ADA, pid)["status"] == "denied"
    text = reply("HD-refused")
    assert "I wasn't able to do this as asked: refund an order (order O-3002, amount £20.00). A colleague will " \
           "look at what we can do instead and get back to you." in text
    assert not claims(text, "create_refund") and "409" not in text

    # a 500: retried under the same key, under way meanwhile, done once the service answers
    _, pid = refund_ticket("HD-waiting", "O-3003")
    h.orders.fault("/orders/O-3003/refunds", status=500, count=1, method="POST")
    assert desk.approve(h.svc.db, h.svc.policy(), ADA, pid)["status"] == "calling"
    text = reply("HD-waiting")
    assert "Your request is under way: refund an order (order O-3003, amount £25.00)." in text
    assert not claims(text, "create_refund")
    time.sleep(0.3)
    with h.svc.db.tx() as s:
        s.execute(update(NotificationRow).where(NotificationRow.status == "retrying")
                  .values(next_attempt_at=NOW.replace(year=2000)))
    delivery.run_once(h.svc.db, h.svc.settings)
    assert "Done: refund an order (order O-3003, amount £25.00)." in reply("HD-waiting")

    # failed: a write without a key whose call went unanswered may have been done; the reply says it is not
    # confirmed, never that it ran
    remote = REGISTRY["create_refund"].remote
    _, pid = refund_ticket("HD-failed", "O-3004", "sam@example.com")
    key, remote.decl.idempotency_key = remote.decl.idempotency_key, None
    remote.service.timeout = 1.0
    try:
        h.orders.fault("/orders/O-3004/refunds", delay=2.5, count=1, method="POST")
        assert desk.approve(h.svc.db, h.svc.policy(), ADA, pid)["status"] == "failed"
    finally:
        remote.decl.idempotency_key, remote.service.timeout = key, 10.0
    text = reply("HD-failed")
    assert "I haven't been able to confirm this yet: refund an order (order O-3004, amount £15.00)." in text
    assert not claims(text, "create_refund")


def test_a_reply_with_nothing_to_say_says_what_happens_next_and_is_not_sent_alone(
        harbor: Harbor, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harbor
    # a set-up question the knowledge base has nothing on, at level 1 (answered alone when there is an answer)
    monkeypatch.setattr(h.svc.kb, "retrieve", lambda *a, **k: [])
    result = process(h, TicketIn(id="HN-1", customer="dana@example.com", subject="Router",
                                 body="How do I restart my router? The light is red.", created_at=NOW), store=True)
    assert [r.intent for r in result.triage.requests] == ["setup_question"]
    assert middle(result.draft.reply) == NEXT
    assert not any(p.action == "send_reply" for p in result.proposals)  # a colleague answers it
    monkeypatch.undo()
    # a proposal rejected with nothing to tell the customer: its sentence goes, the order's facts stay
    process(h, TicketIn(id="HN-2", customer="dana@example.com", subject="Refund",
                        body="Please refund order O-1001.", created_at=NOW), store=True)
    data = desk.get_ticket(h.svc.db, "HN-2")
    pid = next(int(p["id"]) for p in data["proposals"] if p["action"] == "create_refund")
    desk.reject(h.svc.db, ADA, pid, "duplicate of another ticket")
    text = desk.reply_draft(desk.get_ticket(h.svc.db, "HN-2"))[1]
    assert "Order O-1001 is delivered and came to £120.00." in text and "refund an order" not in text


def test_a_code_the_customers_records_name_is_shown_to_them_by_that_name() -> None:
    """A tariff, plan or product code bound from the customer's records reads as the name those records give it
    ("the Fixed 12 tariff", never "the FIX12 tariff"); the customer's own profile names no code."""
    import re

    from cx_core.wording import NAMED, PROPOSED, names_in, templated

    snap = {"profile": {"id": "C-1", "name": "Priya Shah", "tier": "priority"},
            "tariffs": [{"code": "FIX12", "name": "Fixed 12", "kind": "fixed"}, {"code": "FLEX", "name": "Flex"}],
            "accounts": [{"id": "E-1", "tariff": "FLEX", "fuel": "electricity"}]}
    names = names_in(snap)
    assert names == {"FIX12": "Fixed 12", "FLEX": "Flex"}
    wording = templated("the tariff change", {PROPOSED: "I've asked a colleague to approve moving account "
                                                        "{account_id} to the {tariff_code} tariff."}, re.compile("x"))
    args = {"account_id": "E-1", "tariff_code": "FIX12"}
    planned = {NAMED + k: names[v] for k, v in args.items() if v in names}
    assert wording.proposed is not None
    assert wording.proposed(args, planned) == ("I've asked a colleague to approve moving account E-1 to the Fixed 12 "
                                               "tariff.")
