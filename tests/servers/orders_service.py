"""A team's own order and billing service, run as a separate process for the declarative HTTP action tests.

FastAPI over its own SQLite file (WAL; data survives restarts). Mutating endpoints honour ``Idempotency-Key``: a
key seen before is answered with the first response and applies nothing again. Every request is recorded before it
is handled, and test-only routes under ``/_test`` seed data, read what was received and applied, and inject faults.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

OrderStatus = Literal["pending", "shipped", "delivered", "cancelled"]
AppliedKind = Literal["refund", "cancellation", "address_change", "refund_deletion"]
APPLIED_KINDS: tuple[str, ...] = ("refund", "cancellation", "address_change", "refund_deletion")
OPERATION_IDS = ("getOrder", "listCustomerOrders", "createRefund", "previewRefund", "cancelOrder", "changeAddress",
                 "deleteRefund")
PROJECT_ROOT = Path(__file__).resolve().parents[2]

SAMPLE_CUSTOMERS: list[dict[str, Any]] = [
    {"id": "C1", "email": "dana@example.com", "name": "Dana Fox"},
    {"id": "C2", "email": "sam@example.com", "name": "Sam Lee"},
]
SAMPLE_ORDERS: list[dict[str, Any]] = [
    {"id": "O1", "customer_id": "C1", "status": "delivered", "total": 120.0, "address": "1 Elm Street, Leeds"},
    {"id": "O2", "customer_id": "C1", "status": "pending", "total": 45.5, "address": "1 Elm Street, Leeds"},
    {"id": "O3", "customer_id": "C2", "status": "shipped", "total": 80.0, "address": "9 Oak Road, York"},
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL,
    total_cents INTEGER NOT NULL, address TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refunds (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, order_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS applied (n INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target TEXT NOT NULL,
    data TEXT NOT NULL, idempotency_key TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    body TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS calls (n INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT NOT NULL, path TEXT NOT NULL,
    query TEXT NOT NULL, idempotency_key TEXT, headers TEXT NOT NULL, body TEXT NOT NULL, status INTEGER,
    replayed INTEGER NOT NULL DEFAULT 0, at REAL NOT NULL);
"""


class Problem(BaseModel):
    """Every error: one line saying what is wrong."""

    detail: str = Field(description="What went wrong, in one line.", examples=["order O9 not found"])


class Order(BaseModel):
    """An order as the service holds it, with what can still be refunded."""

    id: str = Field(description="Order id.", examples=["O1"])
    customer_id: str = Field(description="Id of the customer who placed the order.", examples=["C1"])
    status: OrderStatus = Field(description="Where the order is in its life.")
    total: float = Field(description="What the customer paid, in the account currency.", examples=[120.0])
    refunded: float = Field(description="Sum of the refunds made and not undone.", examples=[20.0])
    refundable: float = Field(description="What can still be refunded: total minus refunded.", examples=[100.0])
    address: str = Field(description="Delivery address.", examples=["1 Elm Street, Leeds"])


class RefundRequest(BaseModel):
    """A refund to make on an order."""

    model_config = ConfigDict(extra="forbid")
    amount: float = Field(gt=0, description="Amount to refund; more than 0 and at most the order's refundable.",
                          examples=[20.0])
    reason: str = Field(min_length=1, max_length=500, description="Why the refund is made, for the ledger.",
                        examples=["item arrived damaged"])


class Refund(BaseModel):
    """A refund that was made."""

    id: str = Field(description="Refund id.", examples=["R1"])
    order_id: str = Field(description="Order refunded.", examples=["O1"])
    amount: float = Field(description="Amount refunded.", examples=[20.0])
    reason: str = Field(description="Why the refund was made.")
    status: Literal["done"] = Field(description="Always done: refunds are made at once.")


class RefundPreview(BaseModel):
    """Whether a refund would be accepted, without making it."""

    ok: bool = Field(description="True when createRefund would accept this amount now.")
    refundable: float = Field(description="What can still be refunded on the order.")
    reason: str = Field(description="Why it would or would not be accepted.")


class CancelRequest(BaseModel):
    """Why an order is cancelled."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, description="Why the order is cancelled.",
                        examples=["customer changed their mind"])


class AddressChange(BaseModel):
    """A new delivery address."""

    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=1, max_length=500, description="The new delivery address.",
                         examples=["12 Birch Lane, Hull"])


class SeedCustomer(BaseModel):
    id: str
    email: str
    name: str


class SeedOrder(BaseModel):
    id: str
    customer_id: str
    status: OrderStatus
    total: float = Field(ge=0)
    address: str


class Seed(BaseModel):
    customers: list[SeedCustomer] = []
    orders: list[SeedOrder] = []


class FaultSpec(BaseModel):
    path_prefix: str
    status: int | None = Field(default=None, ge=100, le=599)
    delay: float | None = Field(default=None, ge=0)
    count: int = Field(default=1, ge=1)
    method: str | None = None
    retry_after: int | None = None


OrderId = Annotated[str, PathParam(description="Order id.", examples=["O1"])]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", description="Makes the call safe to retry: a key seen before is answered with the "
                                         "first response and changes nothing again; the same key with another "
                                         "request is refused with 422.")]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "The order (or refund, or customer) does not exist."},
    422: {"model": Problem, "description": "The request is invalid or refused (for example an amount above the "
                                           "refundable, or an Idempotency-Key reused with another request)."},
}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": Problem, "description": "The order is not pending."}}


def _cents(amount: float) -> int:
    return int(round(amount * 100))


def _money(cents: int) -> float:
    return round(cents / 100, 2)


class HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Store:
    """The service's SQLite file: one connection per operation, writes serialised by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.fault_lock = threading.Lock()
        self.faults: list[dict[str, Any]] = []
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, alone."""
        with self.lock:
            db = self.connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            finally:
                db.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        db = self.connect()
        try:
            yield db
        finally:
            db.close()

    def record_call(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> int:
        with self.write() as db:
            cur = db.execute("INSERT INTO calls (method, path, query, idempotency_key, headers, body, at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (method, path, query, headers.get("idempotency-key"), json.dumps(headers),
                              body.decode("utf-8", "replace"), time.time()))
            return int(cur.lastrowid or 0)

    def finish_call(self, n: int, status: int, replayed: bool) -> None:
        with self.write() as db:
            db.execute("UPDATE calls SET status = ?, replayed = ? WHERE n = ?", (status, int(replayed), n))

    def take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        with self.fault_lock:
            for fault in self.faults:
                if fault["count"] > 0 and path.startswith(fault["path_prefix"]) and (
                        not fault["method"] or fault["method"].upper() == method):
                    fault["count"] -= 1
                    return dict(fault)
        return None

    def add_fault(self, spec: FaultSpec) -> None:
        with self.fault_lock:
            self.faults.append(spec.model_dump())

    def clear_faults(self) -> None:
        with self.fault_lock:
            self.faults.clear()

    def seed(self, seed: Seed) -> None:
        with self.write() as db:
            for table in ("customers", "orders", "refunds", "applied", "idempotency", "calls"):
                db.execute(f"DELETE FROM {table}")
            db.executemany("INSERT INTO customers (id, email, name) VALUES (?, ?, ?)",
                           [(c.id, c.email, c.name) for c in seed.customers])
            db.executemany("INSERT INTO orders (id, customer_id, status, total_cents, address) VALUES (?, ?, ?, ?, ?)",
                           [(o.id, o.customer_id, o.status, _cents(o.total), o.address) for o in seed.orders])
        self.clear_faults()

    @staticmethod
    def order(db: sqlite3.Connection, order_id: str) -> dict[str, Any]:
        row = db.execute("SELECT id, customer_id, status, total_cents, address FROM orders WHERE id = ?",
                         (order_id,)).fetchone()
        if row is None:
            raise HttpError(404, f"order {order_id} not found")
        refunded = int(db.execute("SELECT COALESCE(SUM(amount_cents), 0) FROM refunds WHERE order_id = ? AND "
                                  "status = 'done'", (order_id,)).fetchone()[0])
        return {"id": row[0], "customer_id": row[1], "status": row[2], "total": _money(row[3]),
                "refunded": _money(refunded), "refundable": _money(max(row[3] - refunded, 0)), "address": row[4]}

    @staticmethod
    def apply(db: sqlite3.Connection, kind: str, target: str, data: dict[str, Any], key: str | None) -> None:
        db.execute("INSERT INTO applied (kind, target, data, idempotency_key, at) VALUES (?, ?, ?, ?, ?)",
                   (kind, target, json.dumps(data), key, time.time()))

    def idempotent(self, key: str | None, fingerprint: dict[str, Any],
                   act: Callable[[sqlite3.Connection], tuple[int, Any]]) -> Response:
        """Run ``act`` once per ``Idempotency-Key``, in one transaction; a seen key gets the first answer back."""
        digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()
        with self.write() as db:
            if key:
                seen = db.execute("SELECT fingerprint, status, body FROM idempotency WHERE key = ?",
                                  (key,)).fetchone()
                if seen is not None:
                    if seen[0] != digest:
                        return _problem(422, "Idempotency-Key reused with another request")
                    return _answer(seen[1], None if seen[2] is None else json.loads(seen[2]), replayed=True)
            try:
                status, body = act(db)
            except HttpError as e:
                status, body = e.status, {"detail": e.detail}
            if key:
                db.execute("INSERT INTO idempotency (key, fingerprint, status, body, at) VALUES (?, ?, ?, ?, ?)",
                           (key, digest, status, None if body is None else json.dumps(body), time.time()))
        return _answer(status, body)


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _answer(status: int, body: Any, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


class Recorder:
    """Records every request before it is handled (test routes aside) and applies the injected faults."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_test/"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        n = await run_in_threadpool(self.store.record_call, method, path, scope["query_string"].decode("latin-1"),
                                    headers, body)
        fault = self.store.take_fault(method, path)
        if fault and fault["delay"]:
            await asyncio.sleep(fault["delay"])
        if fault and fault["status"]:
            extra = {"Retry-After": str(fault["retry_after"])} if fault["retry_after"] is not None else None
            response = JSONResponse({"detail": f"injected fault: {fault['status']}"}, status_code=fault["status"],
                                    headers=extra)
            await run_in_threadpool(self.store.finish_call, n, fault["status"], False)
            await response(scope, receive, send)
            return

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                replayed = any(k.lower() == b"idempotent-replayed" for k, _ in message.get("headers", []))
                await run_in_threadpool(self.store.finish_call, n, int(message["status"]), replayed)
            await send(message)

        await self.app(scope, replay, watch)


def create_app(db_path: Path) -> FastAPI:
    """The service over the SQLite file at ``db_path``."""
    store = Store(db_path)
    app = FastAPI(title="Orders service", version="1.0.0",
                  description="Orders and billing of the shop: look up orders, refund, cancel and change the "
                              "delivery address. Mutating calls accept an Idempotency-Key header and are safe to "
                              "retry with the same key.",
                  openapi_tags=[{"name": "orders", "description": "Orders and their delivery."},
                                {"name": "refunds", "description": "Money back to the customer."}])
    app.state.store = store

    @app.exception_handler(HttpError)
    async def _http_error(_request: Request, exc: HttpError) -> JSONResponse:
        return _problem(exc.status, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return _problem(422, "; ".join(parts).replace("\n", " "))

    @app.get("/orders/{order_id}", operation_id="getOrder", tags=["orders"], response_model=Order,
             summary="Get an order",
             description="One order with its status, total, what was refunded and what can still be refunded.",
             responses=ERRORS)
    def get_order(order_id: OrderId) -> dict[str, Any]:
        with store.read() as db:
            return store.order(db, order_id)

    @app.get("/customers/{customer_id}/orders", operation_id="listCustomerOrders", tags=["orders"],
             response_model=list[Order], summary="List a customer's orders",
             description="Every order of one customer, oldest id first.", responses=ERRORS)
    def list_customer_orders(
            customer_id: Annotated[str, PathParam(description="Customer id.", examples=["C1"])]) -> list[Any]:
        with store.read() as db:
            if db.execute("SELECT 1 FROM customers WHERE id = ?", (customer_id,)).fetchone() is None:
                raise HttpError(404, f"customer {customer_id} not found")
            ids = [r[0] for r in db.execute("SELECT id FROM orders WHERE customer_id = ? ORDER BY id",
                                            (customer_id,))]
            return [store.order(db, i) for i in ids]

    @app.post("/orders/{order_id}/refunds", operation_id="createRefund", tags=["refunds"], status_code=201,
              response_model=Refund, summary="Refund an order",
              description="Refunds part or all of an order at once. Refused with 422 when the amount is above "
                          "what can still be refunded. Safe to retry with the same Idempotency-Key.",
              responses=ERRORS)
    def create_refund(order_id: OrderId, body: RefundRequest, idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            order = store.order(db, order_id)
            if _cents(body.amount) > _cents(order["refundable"]):
                raise HttpError(422, f"refund of {body.amount:.2f} is above the refundable "
                                     f"{order['refundable']:.2f} of order {order_id}")
            cur = db.execute("INSERT INTO refunds (order_id, amount_cents, reason, status, at) "
                             "VALUES (?, ?, ?, 'done', ?)", (order_id, _cents(body.amount), body.reason, time.time()))
            refund_id = f"R{cur.lastrowid}"
            db.execute("UPDATE refunds SET id = ? WHERE n = ?", (refund_id, cur.lastrowid))
            refund = {"id": refund_id, "order_id": order_id, "amount": _money(_cents(body.amount)),
                      "reason": body.reason, "status": "done"}
            store.apply(db, "refund", order_id, refund, idempotency_key)
            return 201, refund

        return store.idempotent(idempotency_key, {"op": "createRefund", "order_id": order_id,
                                                  "body": body.model_dump()}, act)

    @app.post("/orders/{order_id}/refunds/preview", operation_id="previewRefund", tags=["refunds"],
              response_model=RefundPreview, summary="Check a refund without making it",
              description="Says whether createRefund would accept this amount now. Changes nothing.",
              responses=ERRORS)
    def preview_refund(order_id: OrderId, body: RefundRequest) -> dict[str, Any]:
        with store.read() as db:
            order = store.order(db, order_id)
        ok = _cents(body.amount) <= _cents(order["refundable"])
        why = (f"a refund of {body.amount:.2f} fits within the refundable {order['refundable']:.2f}" if ok else
               f"a refund of {body.amount:.2f} is above the refundable {order['refundable']:.2f}")
        return {"ok": ok, "refundable": order["refundable"], "reason": why}

    @app.post("/orders/{order_id}/cancel", operation_id="cancelOrder", tags=["orders"], response_model=Order,
              summary="Cancel a pending order",
              description="Cancels an order that has not shipped yet; 409 for any other status. Safe to retry "
                          "with the same Idempotency-Key.", responses={**ERRORS, **CONFLICT})
    def cancel_order(order_id: OrderId, body: CancelRequest, idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            order = store.order(db, order_id)
            if order["status"] != "pending":
                raise HttpError(409, f"order {order_id} is {order['status']}; only pending orders can be cancelled")
            db.execute("UPDATE orders SET status = 'cancelled' WHERE id = ?", (order_id,))
            store.apply(db, "cancellation", order_id, {"order_id": order_id, "reason": body.reason},
                        idempotency_key)
            return 200, store.order(db, order_id)

        return store.idempotent(idempotency_key, {"op": "cancelOrder", "order_id": order_id,
                                                  "body": body.model_dump()}, act)

    @app.patch("/orders/{order_id}/address", operation_id="changeAddress", tags=["orders"], response_model=Order,
               summary="Change the delivery address",
               description="Changes where a pending order is delivered; 409 once it has shipped. Safe to retry "
                           "with the same Idempotency-Key.", responses={**ERRORS, **CONFLICT})
    def change_address(order_id: OrderId, body: AddressChange, idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            order = store.order(db, order_id)
            if order["status"] != "pending":
                raise HttpError(409, f"order {order_id} is {order['status']}; only a pending order's address "
                                     f"can change")
            db.execute("UPDATE orders SET address = ? WHERE id = ?", (body.address, order_id))
            store.apply(db, "address_change", order_id, {"order_id": order_id, "from": order["address"],
                                                         "to": body.address}, idempotency_key)
            return 200, store.order(db, order_id)

        return store.idempotent(idempotency_key, {"op": "changeAddress", "order_id": order_id,
                                                  "body": body.model_dump()}, act)

    @app.delete("/refunds/{refund_id}", operation_id="deleteRefund", tags=["refunds"], status_code=204,
                response_class=Response, summary="Undo a refund",
                description="Undoes a refund made by createRefund; the amount becomes refundable again. 409 when "
                            "it was already undone. Safe to retry with the same Idempotency-Key.",
                responses={404: ERRORS[404], 409: {"model": Problem, "description": "Already undone."},
                           422: ERRORS[422]})
    def delete_refund(refund_id: Annotated[str, PathParam(description="Refund id.", examples=["R1"])],
                      idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            row = db.execute("SELECT order_id, amount_cents, status FROM refunds WHERE id = ?",
                             (refund_id,)).fetchone()
            if row is None:
                raise HttpError(404, f"refund {refund_id} not found")
            if row[2] != "done":
                raise HttpError(409, f"refund {refund_id} is already undone")
            db.execute("UPDATE refunds SET status = 'undone' WHERE id = ?", (refund_id,))
            store.apply(db, "refund_deletion", refund_id, {"refund_id": refund_id, "order_id": row[0],
                                                           "amount": _money(row[1])}, idempotency_key)
            return 204, None

        return store.idempotent(idempotency_key, {"op": "deleteRefund", "refund_id": refund_id}, act)

    @app.get("/_test/health", include_in_schema=False)
    def _health() -> dict[str, Any]:
        return {"ok": True, "pid": os.getpid()}

    @app.post("/_test/seed", include_in_schema=False)
    def _seed(seed: Seed) -> dict[str, Any]:
        store.seed(seed)
        return {"customers": len(seed.customers), "orders": len(seed.orders)}

    @app.get("/_test/calls", include_in_schema=False)
    def _calls(path_prefix: Annotated[str | None, Query()] = None) -> list[dict[str, Any]]:
        with store.read() as db:
            rows = db.execute("SELECT n, method, path, query, idempotency_key, headers, body, status, replayed, at "
                              "FROM calls ORDER BY n").fetchall()
        return [{"n": r[0], "method": r[1], "path": r[2], "query": r[3], "idempotency_key": r[4],
                 "headers": json.loads(r[5]), "body": r[6], "status": r[7], "replayed": bool(r[8]), "at": r[9]}
                for r in rows if r[2].startswith(path_prefix or "")]

    @app.get("/_test/applied", include_in_schema=False)
    def _applied(kind: Annotated[str | None, Query()] = None) -> list[dict[str, Any]]:
        with store.read() as db:
            rows = db.execute("SELECT n, kind, target, data, idempotency_key, at FROM applied ORDER BY n").fetchall()
        return [{"n": r[0], "kind": r[1], "target": r[2], **json.loads(r[3]), "idempotency_key": r[4], "at": r[5]}
                for r in rows if kind is None or r[1] == kind]

    @app.get("/_test/orders/{order_id}", include_in_schema=False)
    def _order(order_id: str) -> dict[str, Any]:
        with store.read() as db:
            return store.order(db, order_id)

    @app.post("/_test/faults", include_in_schema=False)
    def _add_fault(spec: FaultSpec) -> dict[str, Any]:
        store.add_fault(spec)
        return {"faults": len(store.faults)}

    @app.delete("/_test/faults", include_in_schema=False)
    def _clear_faults() -> dict[str, Any]:
        store.clear_faults()
        return {"faults": 0}

    app.add_middleware(Recorder, store=store)
    return app


class OrdersServiceError(RuntimeError):
    """The service would not start, or a test route refused a request."""


@dataclass
class OrdersService:
    """A running orders service process and the test routes that inspect and steer it."""

    url: str
    db_path: Path
    port: int
    log_path: Path
    startup_seconds: float = 0.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def _test(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/_test/{path}", timeout=30, **kwargs)
        if response.status_code >= 400:
            raise OrdersServiceError(f"{method} /_test/{path}: {response.status_code} {response.text}")
        return response.json()

    def seed(self, customers: list[dict[str, Any]] | None = None,
             orders: list[dict[str, Any]] | None = None) -> None:
        """Replace every customer, order, refund, recorded call and fault; the sample data by default."""
        self._test("POST", "seed", json={"customers": SAMPLE_CUSTOMERS if customers is None else customers,
                                         "orders": SAMPLE_ORDERS if orders is None else orders})

    def calls(self, path_prefix: str | None = None) -> list[dict[str, Any]]:
        """Every request received, oldest first: method, path, query, idempotency_key, headers, body, status
        (None while still being handled), replayed, at."""
        params = {"path_prefix": path_prefix} if path_prefix else None
        return list(self._test("GET", "calls", params=params))

    def applied(self, kind: AppliedKind) -> list[dict[str, Any]]:
        """The changes actually made, oldest first: ``refund``, ``cancellation``, ``address_change`` or
        ``refund_deletion``."""
        if kind not in APPLIED_KINDS:
            raise ValueError(f"kind must be one of {', '.join(APPLIED_KINDS)}, not {kind!r}")
        return list(self._test("GET", "applied", params={"kind": kind}))

    def fault(self, path_prefix: str, status: int | None = None, delay: float | None = None, count: int = 1,
              method: str | None = None, retry_after: int | None = None) -> None:
        """The next ``count`` requests whose path starts with ``path_prefix`` (and of ``method``, if given) wait
        ``delay`` seconds, then get ``status`` without being handled; with a delay alone they are handled late."""
        self._test("POST", "faults", json={"path_prefix": path_prefix, "status": status, "delay": delay,
                                           "count": count, "method": method, "retry_after": retry_after})

    def clear_faults(self) -> None:
        self._test("DELETE", "faults")

    def order(self, order_id: str) -> dict[str, Any]:
        """The order as the service holds it now (not recorded as a call)."""
        return dict(self._test("GET", f"orders/{order_id}"))

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document at ``/openapi.json`` (recorded as a call, like any request but the test routes)."""
        return dict(httpx.get(f"{self.url}/openapi.json", timeout=30).json())

    def start(self, timeout: float = 30) -> None:
        """Start the process on this port and database and wait until it answers."""
        started = time.monotonic()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "tests.servers.orders_service", "--port",
                                         str(self.port), "--db", str(self.db_path)],
                                        cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = started + timeout
        while True:
            if self.process.poll() is not None:
                raise OrdersServiceError(f"orders service exited with {self.process.returncode}: "
                                         f"{self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{self.url}/_test/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise OrdersServiceError(f"orders service not ready in {timeout} s")
            time.sleep(0.02)
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL); the database stays."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def running_orders_service(folder: Path) -> Iterator[OrdersService]:
    """The service as its own process on a free port of 127.0.0.1 over ``folder/orders.sqlite``; stopped on exit."""
    from tests.helpers import free_port

    folder.mkdir(parents=True, exist_ok=True)
    service: OrdersService | None = None
    for attempt in range(3):
        port = free_port()
        service = OrdersService(url=f"http://127.0.0.1:{port}", db_path=folder / "orders.sqlite", port=port,
                                log_path=folder / "orders_service.log")
        try:
            service.start()
            break
        except OrdersServiceError:
            if attempt == 2:
                raise
    assert service is not None
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def orders_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrdersService]:
    """One orders service per test module, seeded with the sample data."""
    with running_orders_service(tmp_path_factory.mktemp("orders_service")) as service:
        service.seed()
        yield service


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(args.db), host=args.host, port=args.port, log_level="warning", access_log=False,
                workers=1, backlog=2048, timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
