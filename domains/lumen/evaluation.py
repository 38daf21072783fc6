"""τ-bench retail as an outside check of the action engine: its ``db.json`` loaded into the Orders/CRM/Billing
store, its tasks turned into tickets (``reason_for_call`` + ``known_info``, no customer given), processed by the
same pipeline at copilot level, and the proposed write actions compared with the expected ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from cx_core.action_eval import Score
from cx_core.action_eval import evaluate as run_tasks
from cx_core.errors import InvalidInput
from cx_core.files import read_json
from cx_core.models import Decision, ProcessResult
from cx_core.store.db import Database
from domains.lumen.backend import billing
from domains.lumen.tables import (
    CustomerRow,
    FulfillmentRow,
    OrderItemRow,
    OrderRow,
    PaymentMethodRow,
    PaymentRow,
    ProductRow,
    VariantRow,
)

LOADED_AT = datetime(2024, 5, 1, 12, 0)
# Tandem action -> τ-bench retail tool
TAU_NAME = {"cancel_order": "cancel_pending_order", "change_shipping_address": "modify_pending_order_address",
            "return_items": "return_delivered_order_items", "exchange_item": "exchange_delivered_order_items",
            "modify_order_items": "modify_pending_order_items", "update_default_address": "modify_user_address"}
WRITE_TOOLS = {"cancel_pending_order", "modify_pending_order_address", "modify_pending_order_items",
               "return_delivered_order_items", "exchange_delivered_order_items", "modify_user_address",
               "transfer_to_human_agents"}


def load_db(db: Database, data: dict[str, Any]) -> dict[str, int]:
    """Loads a τ-bench retail database (products, users, orders) into the store's tables."""
    for key in ("products", "users", "orders"):
        if not isinstance(data.get(key), dict):
            raise InvalidInput(f"db.json: expected an object '{key}' (τ-bench retail format)")
    with db.tx() as s:
        for p in data["products"].values():
            s.add(ProductRow(product_id=p["product_id"], name=p["name"], category=p["name"]))
            for v in p["variants"].values():
                s.add(VariantRow(item_id=v["item_id"], product_id=p["product_id"], options=v["options"],
                                 available=bool(v["available"]), price=float(v["price"])))
        for u in data["users"].values():
            a = u["address"]
            s.add(CustomerRow(user_id=u["user_id"], first_name=u["name"]["first_name"],
                              last_name=u["name"]["last_name"], email=u["email"], address1=a["address1"],
                              address2=a.get("address2", ""), city=a["city"], state=a["state"], country=a["country"],
                              zip=a["zip"], created_at=LOADED_AT))
            for m in u["payment_methods"].values():
                s.add(PaymentMethodRow(id=m["id"], user_id=u["user_id"], source=m["source"], brand=m.get("brand"),
                                       last_four=m.get("last_four"), balance=m.get("balance")))
        s.flush()
        for o in data["orders"].values():
            a = o["address"]
            s.add(OrderRow(order_id=o["order_id"], user_id=o["user_id"], status=o["status"], address1=a["address1"],
                           address2=a.get("address2", ""), city=a["city"], state=a["state"], country=a["country"],
                           zip=a["zip"], created_at=LOADED_AT))
        s.flush()
        for o in data["orders"].values():
            for pos, it in enumerate(o["items"]):
                s.add(OrderItemRow(order_id=o["order_id"], position=pos, item_id=it["item_id"],
                                   product_id=it["product_id"], name=it["name"], price=float(it["price"]),
                                   options=it["options"]))
            for f in o.get("fulfillments", []):
                s.add(FulfillmentRow(order_id=o["order_id"], tracking_ids=f["tracking_id"], item_ids=f["item_ids"]))
            for pay in o.get("payment_history", []):
                s.add(PaymentRow(order_id=o["order_id"], transaction_type=pay["transaction_type"],
                                 amount=float(pay["amount"]), payment_method_id=pay["payment_method_id"],
                                 created_at=LOADED_AT))
    return {k: len(data[k]) for k in ("products", "users", "orders")}


def _norm(name: str, args: dict[str, Any]) -> str:
    a = dict(args)
    if name == "exchange_delivered_order_items" or name == "modify_pending_order_items":
        pairs = sorted(zip(a.get("item_ids", []), a.get("new_item_ids", []), strict=False))
        a["item_ids"], a["new_item_ids"] = [p[0] for p in pairs], [p[1] for p in pairs]
    elif "item_ids" in a:
        a["item_ids"] = sorted(a["item_ids"])
    if name in {"modify_pending_order_address", "modify_user_address"}:
        key = "order_id" if name == "modify_pending_order_address" else "user_id"
        a = {k: a.get(k, "") or "" for k in (key, "address1", "address2", "city", "state", "country", "zip")}
    return name + json.dumps(a, sort_keys=True)


def expected_writes(task: dict[str, Any]) -> list[str]:
    actions = task.get("evaluation_criteria", {}).get("actions") or []
    return sorted(_norm(a["name"], a.get("arguments") or {}) for a in actions if a["name"] in WRITE_TOOLS)


def tau_args(action: str, args: dict[str, Any], original_method: Callable[[str], str]) -> dict[str, Any]:
    a = dict(args)
    if action in {"return_items", "exchange_item", "modify_order_items"} and not a.get("payment_method_id"):
        a["payment_method_id"] = original_method(a["order_id"])  # what the action uses when none is given
    if action in {"change_shipping_address", "update_default_address"}:
        a.setdefault("address2", "")
        a.setdefault("country", "USA")
    return a


def rule_violations(data: dict[str, Any], user_id: str | None, name: str, args: dict[str, Any]) -> list[str]:
    """τ-bench retail's rules, checked on the original data, independently of Tandem's own checks."""
    problems = []
    if name == "modify_user_address":
        return [] if user_id is not None and args.get("user_id") == user_id else ["not the identified customer"]
    order = data["orders"].get(args.get("order_id", ""))
    if order is None:
        return ["unknown order"]
    if user_id is None or order["user_id"] != user_id:
        problems.append("the order is not the identified customer's")
    need = {"cancel_pending_order": "pending", "modify_pending_order_address": "pending",
            "modify_pending_order_items": "pending",
            "return_delivered_order_items": "delivered", "exchange_delivered_order_items": "delivered"}.get(name)
    if need and order["status"] != need:
        problems.append(f"order is {order['status']}, not {need}")
    if name == "cancel_pending_order" and args.get("reason") not in {"no longer needed", "ordered by mistake"}:
        problems.append("cancellation reason not allowed")
    items = {i["item_id"]: i for i in order["items"]}
    for old, new in zip(args.get("item_ids", []), args.get("new_item_ids", []), strict=False):
        product = data["products"].get(items.get(old, {}).get("product_id", ""), {})
        variant = product.get("variants", {}).get(new)
        if variant is None:
            problems.append("exchange to another product")
        elif not variant["available"]:
            problems.append("exchange to an unavailable item")
    if any(i not in items for i in args.get("item_ids", [])):
        problems.append("item not in the order")
    pm = args.get("payment_method_id")
    if pm and user_id and pm not in data["users"].get(user_id, {}).get("payment_methods", {}):
        problems.append("payment method is not the customer's")
    return problems


def _score(data: dict[str, Any]) -> Any:
    def score(task: dict[str, Any], result: ProcessResult, services: Any) -> Score:
        writes = [p for p in result.proposals if p.action not in {"lookup_order", "send_reply"}]
        unsure = (not writes or any(p.decision not in {Decision.needs_approval, Decision.executed}
                                    for p in writes) or any(p.action not in TAU_NAME for p in writes)
                  or result.escalated or result.triage.abstained)
        with services.db.session() as s:
            ours = sorted(_norm(TAU_NAME[p.action], tau_args(p.action, p.args,
                                                              lambda o: billing.original_method(s, o)))
                          for p in writes if p.action in TAU_NAME
                          and p.decision in {Decision.needs_approval, Decision.executed})
        want = expected_writes(task)
        if unsure:
            why = ("triage abstained" if result.triage.abstained else
                   f"escalated: {result.escalation_reason}" if result.escalated else
                   "no write proposed" if not writes else "; ".join(
                       f"{p.action}: {p.decision.value} ({p.reason})" for p in writes
                       if p.decision not in {Decision.needs_approval, Decision.executed}
                       or p.action not in TAU_NAME))
            return Score("abstained", why, ours, want)
        violations = 0
        for name_args in ours:
            name, args = name_args[: name_args.index("{")], json.loads(name_args[name_args.index("{"):])
            violations += bool(rule_violations(data, result.customer_id, name, args))
        return Score("exact" if ours == want else "wrong", "", ours, want, violations)
    return score


def evaluate(db_path: Path, tasks_path: Path, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Runs every task as a ticket through the pipeline and scores the proposals (see ARCHITECTURE.md)."""
    data = read_json(db_path)
    return run_tasks("lumen", tasks_path, lambda services: load_db(services.db, data), _score(data),
                     now=datetime(2024, 5, 15, 12, 0), loaded_at=LOADED_AT, progress=progress,
                     unmatchable=frozenset({"transfer_to_human_agents"}))
