"""A small HTTP service of our own that receives deliveries the way a team's system would: it keeps what it
received in its own SQLite file and honours ``Idempotency-Key`` (a key seen before is answered as before and changes
nothing), so a test can count what was applied, not only what was sent."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.helpers import free_port


class Sink:
    """The service's state and knobs: ``delay`` before answering, ``fail`` the next N requests with ``status``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.delay = 0.0
        self.fail = 0
        self.fail_status = 500
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS requests (n INTEGER PRIMARY KEY, path TEXT, key TEXT, "
                       "headers TEXT, body TEXT, at REAL)")
            db.execute("CREATE TABLE IF NOT EXISTS applied (key TEXT PRIMARY KEY, body TEXT, n INTEGER)")
        self.url = ""

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        key = headers.get("idempotency-key", "")
        with self.lock, self._db() as db:
            cur = db.execute("INSERT INTO requests (path, key, headers, body, at) VALUES (?, ?, ?, ?, ?)",
                             (path, key, json.dumps(headers), body.decode("utf-8", "replace"), time.time()))
            n = int(cur.lastrowid or 0)
            if self.fail > 0:
                self.fail -= 1
                return self.fail_status, {"error": "the service is failing on purpose"}
            if key:
                seen = db.execute("SELECT n FROM applied WHERE key = ?", (key,)).fetchone()
                if seen is not None:
                    return 200, {"id": f"d{seen[0]}", "replayed": True}
                db.execute("INSERT INTO applied (key, body, n) VALUES (?, ?, ?)",
                           (key, body.decode("utf-8", "replace"), n))
        return 201, {"id": f"d{n}"}

    def requests(self) -> list[dict[str, Any]]:
        with self._db() as db:
            return [{"path": p, "key": k, "headers": json.loads(h), "body": b}
                    for p, k, h, b in db.execute("SELECT path, key, headers, body FROM requests ORDER BY n")]

    def applied(self) -> list[str]:
        with self._db() as db:
            return [k for (k,) in db.execute("SELECT key FROM applied ORDER BY n")]


@contextmanager
def running_sink(folder: Path) -> Iterator[Sink]:
    """The service on a free port of 127.0.0.1; ``sink.url`` is its base URL."""
    sink = Sink(folder / "sink.sqlite")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size)
            if sink.delay:
                time.sleep(sink.delay)
            status, answer = sink.handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_PUT = do_POST  # noqa: N815

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
