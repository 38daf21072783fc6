"""Small stand-ins for the reply APIs of helpdesks (Chatwoot, Zendesk, Zammad) and a team's webhook: an HTTP server
in a thread that records every request and answers JSON, each test module deciding the answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers import free_port


@dataclass
class Seen:
    """One request as the stand-in received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class JsonHandler(BaseHTTPRequestHandler):
    """Reads a JSON request and writes a JSON answer; quiet."""

    content_type = "application/json"

    def log_message(self, *args: Any) -> None:
        return

    def _answer(self, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _seen(self) -> Seen:
        size = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(size) if size else b""
        return Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The handler on a free port of 127.0.0.1; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Beacon:
    """A local web server that records the path of every request it gets: a tracking image loaded, or a link
    followed, lands here (``host`` is its ``127.0.0.1:PORT``)."""

    def __init__(self) -> None:
        seen = self.seen = []  # type: list[str]

        class Record(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                seen.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
