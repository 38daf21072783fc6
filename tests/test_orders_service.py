"""The orders service harness: a real HTTP service of a team's own, with idempotency, faults and a clean OpenAPI."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import orders_service as harness
from tests.servers.orders_service import OPERATION_IDS, OrdersService, running_orders_service

pytestmark = pytest.mark.http_actions

orders_service = harness.orders_service


@pytest.fixture
def svc(orders_service: OrdersService) -> OrdersService:
    orders_service.seed()
    return orders_service


@pytest.fixture(scope="module")
def web(orders_service: OrdersService) -> Iterator[httpx.Client]:
    """One client for the whole module (a new client per request costs more than the service's answer)."""
    with httpx.Client(base_url=orders_service.url, timeout=30, limits=httpx.Limits(max_connections=100)) as client:
        yield client


def _refund(web: httpx.Client, order_id: str, amount: float, key: str | None = None,
            reason: str = "damaged") -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return web.post(f"/orders/{order_id}/refunds", json={"amount": amount, "reason": reason}, headers=headers)


def test_seed_and_read(svc: OrdersService, web: httpx.Client) -> None:
    svc.seed([{"id": "K1", "email": "k@example.com", "name": "Kim"}],
             [{"id": "A1", "customer_id": "K1", "status": "pending", "total": 10.25, "address": "2 Bay St"},
              {"id": "A2", "customer_id": "K1", "status": "shipped", "total": 5, "address": "2 Bay St"}])
    r = web.get("/orders/A1")
    assert r.status_code == 200
    assert r.json() == {"id": "A1", "customer_id": "K1", "status": "pending", "total": 10.25, "refunded": 0.0,
                        "refundable": 10.25, "address": "2 Bay St"}
    listed = web.get("/customers/K1/orders").json()
    assert [o["id"] for o in listed] == ["A1", "A2"]
    gone = web.get("/orders/O1")
    assert gone.status_code == 404 and gone.json() == {"detail": "order O1 not found"}
    assert web.get("/customers/C9/orders").json() == {"detail": "customer C9 not found"}
    assert svc.order("A2")["status"] == "shipped"
    assert [(c["method"], c["path"], c["status"]) for c in svc.calls()] == [
        ("GET", "/orders/A1", 200), ("GET", "/customers/K1/orders", 200), ("GET", "/orders/O1", 404),
        ("GET", "/customers/C9/orders", 404)]


def test_refund_preview_and_undo(svc: OrdersService, web: httpx.Client) -> None:
    preview = web.post("/orders/O1/refunds/preview", json={"amount": 30, "reason": "late"})
    assert preview.status_code == 200
    assert preview.json()["ok"] is True and preview.json()["refundable"] == 120.0
    too_much = web.post("/orders/O1/refunds/preview", json={"amount": 500, "reason": "late"}).json()
    assert too_much["ok"] is False and "above" in too_much["reason"]
    assert svc.applied("refund") == [] and svc.order("O1")["refunded"] == 0

    r = _refund(web, "O1", 30, reason="late")
    assert r.status_code == 201
    refund = r.json()
    assert refund == {"id": refund["id"], "order_id": "O1", "amount": 30.0, "reason": "late", "status": "done"}
    assert svc.order("O1")["refundable"] == 90.0

    over = _refund(web, "O1", 90.01)
    assert over.status_code == 422
    assert "above the refundable 90.00" in over.json()["detail"] and "\n" not in over.json()["detail"]
    invalid = _refund(web, "O1", 0)
    assert invalid.status_code == 422 and isinstance(invalid.json()["detail"], str)
    assert _refund(web, "O9", 1).json() == {"detail": "order O9 not found"}

    undo = web.delete(f"/refunds/{refund['id']}")
    assert undo.status_code == 204 and undo.content == b""
    assert svc.order("O1")["refundable"] == 120.0
    assert web.delete(f"/refunds/{refund['id']}").status_code == 409
    assert web.delete("/refunds/R999999").status_code == 404
    assert [a["amount"] for a in svc.applied("refund")] == [30.0]
    assert [a["refund_id"] for a in svc.applied("refund_deletion")] == [refund["id"]]


def test_cancel_and_change_address(svc: OrdersService, web: httpx.Client) -> None:
    moved = web.patch("/orders/O2/address", json={"address": "12 Birch Lane, Hull"},
                        headers={"Idempotency-Key": "addr-1"})
    assert moved.status_code == 200 and moved.json()["address"] == "12 Birch Lane, Hull"
    cancelled = web.post("/orders/O2/cancel", json={"reason": "changed mind"},
                           headers={"Idempotency-Key": "cancel-1"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = web.post("/orders/O2/cancel", json={"reason": "changed mind"},
                       headers={"Idempotency-Key": "cancel-1"})
    assert (again.status_code, again.json()) == (200, cancelled.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    shipped = web.post("/orders/O3/cancel", json={"reason": "too slow"})
    assert shipped.status_code == 409 and "only pending" in shipped.json()["detail"]
    assert web.patch("/orders/O3/address", json={"address": "x"}).status_code == 409
    assert web.patch("/orders/O2/address", json={"address": "y"}).status_code == 409
    assert [a["order_id"] for a in svc.applied("cancellation")] == ["O2"]
    assert [(a["from"], a["to"]) for a in svc.applied("address_change")] == [
        ("1 Elm Street, Leeds", "12 Birch Lane, Hull")]
    with pytest.raises(ValueError):
        svc.applied("refunds")  # type: ignore[arg-type]


def test_same_key_twice_applies_once(svc: OrdersService, web: httpx.Client) -> None:
    first, second = _refund(web, "O1", 10, "k-1"), _refund(web, "O1", 10, "k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(svc.applied("refund")) == 1 and svc.order("O1")["refunded"] == 10.0
    reused = _refund(web, "O1", 11, "k-1")
    assert reused.status_code == 422
    assert reused.json() == {"detail": "Idempotency-Key reused with another request"}
    calls = svc.calls("/orders/O1/refunds")
    assert [(c["idempotency_key"], c["status"], c["replayed"]) for c in calls] == [
        ("k-1", 201, False), ("k-1", 201, True), ("k-1", 422, False)]


def test_a_refused_request_is_answered_the_same_on_retry(svc: OrdersService, web: httpx.Client) -> None:
    first = _refund(web, "O1", 500, "big")
    assert first.status_code == 422
    again = _refund(web, "O1", 500, "big")
    assert (again.status_code, again.json()) == (422, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert svc.applied("refund") == []


def test_fifty_concurrent_requests_with_one_key_apply_once(svc: OrdersService, web: httpx.Client) -> None:
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda _: _refund(web, "O1", 7.5, "same"), range(50)))
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["id"] for r in answers}) == 1
    assert len(svc.applied("refund")) == 1 and svc.order("O1")["refunded"] == 7.5
    assert len(svc.calls("/orders/O1/refunds")) == 50


def test_fifty_concurrent_requests_with_their_own_keys_apply_fifty_times(svc: OrdersService, web: httpx.Client) -> None:
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda i: _refund(web, "O1", 1, f"key-{i}"), range(50)))
    assert [r.status_code for r in answers] == [201] * 50
    assert len({r.json()["id"] for r in answers}) == 50
    assert len(svc.applied("refund")) == 50 and svc.order("O1")["refunded"] == 50.0


def test_a_hundred_concurrent_reads_and_writes(svc: OrdersService, web: httpx.Client) -> None:
    def one(i: int) -> int:
        if i % 2:
            return web.get(f"/orders/O{1 + i % 3}").status_code
        return _refund(web, "O1", 1, f"mix-{i}").status_code

    with ThreadPoolExecutor(100) as pool:
        statuses = list(pool.map(one, range(100)))
    assert statuses.count(201) == 50 and statuses.count(200) == 50
    assert len(svc.calls()) == 100 and all(c["status"] is not None for c in svc.calls())


def test_fault_status_is_recorded_and_applies_nothing(svc: OrdersService, web: httpx.Client) -> None:
    svc.fault("/orders/O1/refunds", status=500, count=2)
    assert _refund(web, "O1", 5, "f-1").status_code == 500
    assert _refund(web, "O1", 5, "f-1").status_code == 500
    assert svc.applied("refund") == []
    assert _refund(web, "O1", 5, "f-1").status_code == 201
    assert [c["status"] for c in svc.calls("/orders/O1/refunds")] == [500, 500, 201]
    svc.fault("/orders/", status=503, method="POST", retry_after=2)
    assert web.get("/orders/O1").status_code == 200
    busy = _refund(web, "O1", 5, "f-2")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "2"
    svc.fault("/orders/O1", status=500, count=5)
    svc.clear_faults()
    assert web.get("/orders/O1").status_code == 200


def test_a_delayed_request_still_applies_after_the_client_gave_up(svc: OrdersService, web: httpx.Client) -> None:
    svc.fault("/orders/O1/refunds", delay=1.0)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        web.post("/orders/O1/refunds", json={"amount": 4, "reason": "slow"}, headers={"Idempotency-Key": "slow-1"},
                 timeout=0.3)
    assert svc.calls("/orders/O1/refunds")[0]["status"] is None
    assert svc.applied("refund") == []
    deadline = time.monotonic() + 10
    while not svc.applied("refund") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert time.monotonic() - started >= 1.0
    assert [a["idempotency_key"] for a in svc.applied("refund")] == ["slow-1"]
    retry = _refund(web, "O1", 4, "slow-1", reason="slow")
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert len(svc.applied("refund")) == 1


def test_delay_with_status_waits_then_fails(svc: OrdersService, web: httpx.Client) -> None:
    svc.fault("/orders/O1/refunds", status=502, delay=0.4)
    started = time.monotonic()
    assert _refund(web, "O1", 4, "ds-1").status_code == 502
    assert time.monotonic() - started >= 0.4
    assert svc.applied("refund") == []


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def test_openapi_document_lists_the_seven_typed_operations(svc: OrdersService) -> None:
    doc = svc.openapi()
    ops = {op["operationId"]: (method, path, op) for path, item in doc["paths"].items()
           for method, op in item.items()}
    assert sorted(ops) == sorted(OPERATION_IDS)
    assert not any(p.startswith("/_test") for p in doc["paths"])
    assert (ops["createRefund"][0], ops["createRefund"][1]) == ("post", "/orders/{order_id}/refunds")
    assert (ops["changeAddress"][0], ops["deleteRefund"][0]) == ("patch", "delete")
    for name, (_method, path, op) in ops.items():
        assert op["summary"] and op["description"], name
        for param in op.get("parameters", []):
            assert param["schema"].get("type") or param["schema"].get("anyOf"), (name, param)
        path_params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert path_params == {part.strip("{}") for part in path.split("/") if part.startswith("{")}, name
    for name in ("createRefund", "previewRefund", "cancelOrder", "changeAddress"):
        body = ops[name][2]["requestBody"]
        assert body["required"] is True
        schema = _resolve(doc, body["content"]["application/json"]["schema"])
        assert schema["type"] == "object" and schema["properties"] and schema["required"], name
    refund = _resolve(doc, ops["createRefund"][2]["requestBody"]["content"]["application/json"]["schema"])
    assert refund["properties"]["amount"]["type"] == "number"
    assert refund["properties"]["amount"]["exclusiveMinimum"] == 0
    assert set(refund["required"]) == {"amount", "reason"}
    for name in ("createRefund", "cancelOrder", "changeAddress", "deleteRefund"):
        headers = [p for p in ops[name][2]["parameters"] if p["in"] == "header"]
        assert [h["name"] for h in headers] == ["Idempotency-Key"], name
    assert "201" in ops["createRefund"][2]["responses"] and "204" in ops["deleteRefund"][2]["responses"]
    order = _resolve(doc, ops["getOrder"][2]["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(order["properties"]) == {"id", "customer_id", "status", "total", "refunded", "refundable", "address"}
    assert order["properties"]["status"]["enum"] == ["pending", "shipped", "delivered", "cancelled"]
    assert [(c["method"], c["path"], c["status"]) for c in svc.calls()] == [("GET", "/openapi.json", 200)]


def test_data_survives_a_restart(tmp_path: Path) -> None:
    with running_orders_service(tmp_path) as svc:
        assert svc.startup_seconds < 5
        svc.seed()
        with httpx.Client(base_url=svc.url) as web:
            assert _refund(web, "O1", 12, "r-1").status_code == 201
        svc.restart()
        assert svc.order("O1")["refunded"] == 12.0
        with httpx.Client(base_url=svc.url) as web:
            assert _refund(web, "O1", 12, "r-1").headers["Idempotent-Replayed"] == "true"
        assert len(svc.applied("refund")) == 1
    with sqlite3.connect(tmp_path / "orders.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(httpx.ConnectError):
        svc.order("O1")
