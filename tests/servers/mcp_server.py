"""A real MCP server for the MCP action tests: voucher tools over its own SQLite file, on stdio or streamable HTTP.

Every ``tools/call`` is recorded in the ``calls`` table before it runs (tool, arguments, at; then whether it
failed), so a test can count what was asked as well as what was applied.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field
from typing_extensions import TypedDict

SERVER_NAME = "vouchers"
MCP_PATH = "/mcp"
SCRIPT = Path(__file__).resolve()
PROJECT_ROOT = SCRIPT.parents[2]
TOOL_NAMES = ("lookup_voucher", "issue_voucher", "close_account")
WELCOME_VOUCHER = {"code": "WELCOME10", "customer_id": "C1", "amount": 10.0, "reason": "welcome",
                   "status": "active"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (n INTEGER PRIMARY KEY AUTOINCREMENT, tool TEXT NOT NULL, arguments TEXT NOT NULL,
    is_error INTEGER, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS vouchers (n INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT UNIQUE NOT NULL,
    customer_id TEXT NOT NULL, amount REAL NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL,
    idempotency_key TEXT UNIQUE, fingerprint TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS closed_accounts (customer_id TEXT PRIMARY KEY, at REAL NOT NULL);
"""


class Voucher(TypedDict):
    code: str
    customer_id: str
    amount: float
    reason: str
    status: str


class IssuedVoucher(Voucher):
    replayed: bool


class ClosedAccount(TypedDict):
    customer_id: str
    status: str
    already_closed: bool
    vouchers_cancelled: int


class McpStore:
    """The server's SQLite file; readable from the test process while the server runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def create(self) -> None:
        db = self.connect()
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            db.execute("INSERT OR IGNORE INTO vouchers (code, customer_id, amount, reason, status, at) "
                       "VALUES (:code, :customer_id, :amount, :reason, :status, 0)", WELCOME_VOUCHER)
        finally:
            db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
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

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        db = self.connect()
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def calls(self) -> list[dict[str, Any]]:
        """Every tool call received, oldest first: tool, arguments, is_error (None while running), at."""
        return [{"tool": t, "arguments": json.loads(a), "is_error": None if e is None else bool(e), "at": at}
                for t, a, e, at in self._rows("SELECT tool, arguments, is_error, at FROM calls ORDER BY n")]

    def vouchers(self) -> list[dict[str, Any]]:
        """Every voucher issued (the welcome voucher aside), oldest first."""
        return [{"code": c, "customer_id": cu, "amount": a, "reason": r, "status": s, "idempotency_key": k}
                for c, cu, a, r, s, k in self._rows("SELECT code, customer_id, amount, reason, status, "
                                                    "idempotency_key FROM vouchers WHERE at > 0 ORDER BY n")]

    def closed_accounts(self) -> list[str]:
        return [c for (c,) in self._rows("SELECT customer_id FROM closed_accounts ORDER BY at")]


def build_server(db_path: Path) -> Any:
    """The MCP server over the SQLite file at ``db_path``."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    store = McpStore(db_path)
    store.create()

    class RecordCalls:
        """Records each ``tools/call`` before it is handled, and whether it failed."""

        async def __call__(self, ctx: Any, call_next: Any) -> Any:
            if ctx.method != "tools/call":
                return await call_next(ctx)
            params = ctx.params or {}
            with store.write() as db:
                n = db.execute("INSERT INTO calls (tool, arguments, at) VALUES (?, ?, ?)",
                               (str(params.get("name")), json.dumps(params.get("arguments") or {}),
                                time.time())).lastrowid
            failed = True
            try:
                result = await call_next(ctx)
                failed = bool(result.get("isError") if isinstance(result, dict) else getattr(result, "is_error", 0))
                return result
            finally:
                with store.write() as db:
                    db.execute("UPDATE calls SET is_error = ? WHERE n = ?", (int(failed), n))

    server = MCPServer(SERVER_NAME, version="1.0.0", instructions="Vouchers and accounts of the shop's customers.",
                       middleware=[RecordCalls()], log_level="WARNING")

    @server.tool(title="Look up a voucher", annotations=ToolAnnotations(read_only_hint=True))
    def lookup_voucher(code: Annotated[str, Field(description="The voucher code, e.g. WELCOME10.")]) -> Voucher:
        """Look up a voucher by its code: who it belongs to, its amount and whether it is still active."""
        db = store.connect()
        try:
            row = db.execute("SELECT code, customer_id, amount, reason, status FROM vouchers WHERE code = ?",
                             (code.strip().upper(),)).fetchone()
        finally:
            db.close()
        if row is None:
            raise ToolError(f"voucher {code} not found")
        return {"code": row[0], "customer_id": row[1], "amount": row[2], "reason": row[3], "status": row[4]}

    @server.tool(title="Issue a voucher",
                 annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True))
    def issue_voucher(
            customer_id: Annotated[str, Field(description="The customer who receives the voucher.")],
            amount: Annotated[float, Field(gt=0, le=500, description="Voucher value in the account currency.")],
            reason: Annotated[str, Field(min_length=1, description="Why the voucher is given.")],
            idempotency_key: Annotated[str | None, Field(description="Retries with the same key issue one voucher "
                                                                     "only.")] = None) -> IssuedVoucher:
        """Issue a goodwill voucher to a customer; a retry with the same idempotency_key issues nothing more."""
        fingerprint = json.dumps([customer_id, round(amount, 2), reason])
        with store.write() as db:
            if idempotency_key:
                seen = db.execute("SELECT code, customer_id, amount, reason, status, fingerprint FROM vouchers "
                                  "WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
                if seen is not None:
                    if seen[5] != fingerprint:
                        raise ToolError("idempotency_key reused with other arguments")
                    return {"code": seen[0], "customer_id": seen[1], "amount": seen[2], "reason": seen[3],
                            "status": seen[4], "replayed": True}
            n = db.execute("INSERT INTO vouchers (code, customer_id, amount, reason, status, idempotency_key, "
                           "fingerprint, at) VALUES ('', ?, ?, ?, 'active', ?, ?, ?)",
                           (customer_id, round(amount, 2), reason, idempotency_key, fingerprint,
                            time.time())).lastrowid
            code = f"V{n:05d}"
            db.execute("UPDATE vouchers SET code = ? WHERE n = ?", (code, n))
        return {"code": code, "customer_id": customer_id, "amount": round(amount, 2), "reason": reason,
                "status": "active", "replayed": False}

    @server.tool(title="Close an account",
                 annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False))
    def close_account(customer_id: Annotated[str, Field(description="The customer whose account closes.")]
                      ) -> ClosedAccount:
        """Close a customer's account for good: their vouchers are cancelled and they can no longer sign in."""
        with store.write() as db:
            already = db.execute("SELECT 1 FROM closed_accounts WHERE customer_id = ?",
                                 (customer_id,)).fetchone() is not None
            if not already:
                db.execute("INSERT INTO closed_accounts (customer_id, at) VALUES (?, ?)", (customer_id, time.time()))
                cancelled = db.execute("UPDATE vouchers SET status = 'cancelled' WHERE customer_id = ? AND "
                                       "status = 'active'", (customer_id,)).rowcount
            else:
                cancelled = 0
        return {"customer_id": customer_id, "status": "closed", "already_closed": already,
                "vouchers_cancelled": cancelled}

    @server.custom_route("/health", methods=["GET"])
    async def health(_request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"ok": True})

    return server


def stdio_command(db_path: Path) -> list[str]:
    """The command line an MCP client launches to talk to this server over stdio (works from any directory)."""
    return [sys.executable, "-P", str(SCRIPT), "--db", str(db_path)]


class McpServerError(RuntimeError):
    """The MCP server would not start."""


@dataclass
class McpHttpServer:
    """A running MCP server on streamable HTTP; ``url`` is its MCP endpoint."""

    url: str
    port: int
    db_path: Path
    log_path: Path
    startup_seconds: float = 0.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def store(self) -> McpStore:
        return McpStore(self.db_path)

    def calls(self) -> list[dict[str, Any]]:
        return self.store.calls()

    def vouchers(self) -> list[dict[str, Any]]:
        return self.store.vouchers()

    def closed_accounts(self) -> list[str]:
        return self.store.closed_accounts()


@contextmanager
def running_mcp_http(folder: Path) -> Iterator[McpHttpServer]:
    """The server as its own process on streamable HTTP, 127.0.0.1 and a free port, over ``folder/mcp.sqlite``."""
    import httpx

    from tests.helpers import free_port

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = McpHttpServer(url=f"http://127.0.0.1:{port}{MCP_PATH}", port=port, db_path=folder / "mcp.sqlite",
                           log_path=folder / "mcp_server.log")
    started = time.monotonic()
    with open(server.log_path, "ab") as log:
        server.process = subprocess.Popen([*stdio_command(server.db_path), "--transport", "http", "--port",
                                           str(port)], cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            if server.process.poll() is not None:
                raise McpServerError(f"MCP server exited with {server.process.returncode}: "
                                     f"{server.log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > 30:
                raise McpServerError("MCP server not ready in 30 s")
            time.sleep(0.02)
        server.startup_seconds = time.monotonic() - started
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    server = build_server(args.db)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port, streamable_http_path=MCP_PATH)


if __name__ == "__main__":
    main()
