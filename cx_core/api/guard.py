"""What stands before the API: the bearer token and its scopes, rates per token and per address, and the size of
every body."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import api_tokens
from ..config import Settings
from ..errors import TandemError
from ..store.db import Database
from .shapes import problem

PREFIX = "/api/v1"
OPEN_PATHS = {f"{PREFIX}/health", f"{PREFIX}/openapi.json", f"{PREFIX}/docs", f"{PREFIX}/docs/oauth2-redirect"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
RETRY_AFTER_SECONDS = 2


def _header_text(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), "")


# ------------------------------------------------------------------ rates
class Buckets:
    """Token buckets by key, in this process: ``take`` spends one request of a key's rate a minute, or says how long
    to wait when there is none left."""

    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._buckets: dict[Any, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _level(self, key: Any, per_minute: int, now: float) -> float:
        tokens, last = self._buckets.get(key, (float(per_minute), now))
        return min(float(per_minute), tokens + (now - last) * per_minute / 60.0)

    def take(self, key: Any, per_minute: int, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens = self._level(key, per_minute, now)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) * 60.0 / per_minute
            if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
                self._forget_full(per_minute, now)
            self._buckets[key] = (tokens - 1.0, now)
            return None

    def _forget_full(self, per_minute: int, now: float) -> None:
        """Drops the keys whose buckets have filled up again (they would start full anyway)."""
        for key in [k for k in self._buckets if self._level(k, per_minute, now) >= per_minute - 1]:
            del self._buckets[key]


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, int(seconds + 0.999)))}


# ------------------------------------------------------------------ the guard: tokens, rates and body size
class Guard:
    """Checks the bearer token and its rate before the app sees an API call, and the size of every body: a body
    over the limit is refused by its Content-Length or, without one, as soon as the bytes read pass the limit; the
    body read is handed on whole, so nothing downstream reads more. A client address that keeps sending missing or
    wrong tokens gets 429 instead of 401 for a while."""

    def __init__(self, app: ASGIApp, db: Database, settings: Settings) -> None:
        self.app = app
        self.db = db
        self.settings = settings
        self.max_bytes = settings.api_max_body_kb * 1024
        self.rates = Buckets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        if path.startswith(f"{PREFIX}/") and path not in OPEN_PATHS and not path.startswith(f"{PREFIX}/webhooks/"):
            refused = await self._authorise(scope, headers)
            if refused is not None:
                await refused(scope, receive, send)
                return
        if scope.get("method") in BODY_METHODS:
            too_big = problem(413, f"the request body is over {self.max_bytes // 1024} KB "
                                    "(TANDEM_API_MAX_BODY_KB)")
            declared = _header_text(headers, b"content-length")
            if declared.strip().isdigit() and int(declared) > self.max_bytes:
                await too_big(scope, receive, send)
                return
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                if len(body) > self.max_bytes:
                    await too_big(scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break
            receive = _replay(bytes(body), receive)
        await self.app(scope, receive, send)

    def _client(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> str:
        name = self.settings.client_address_header.strip().lower().encode("latin-1", "ignore")
        if name:
            forwarded = [x.strip() for x in _header_text(headers, name).split(",") if x.strip()]
            if forwarded:
                return forwarded[-1][:200]
        client = scope.get("client")
        return str(client[0]) if client else "unknown"

    async def _authorise(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> JSONResponse | None:
        scheme, _, token = _header_text(headers, b"authorization").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._refused(scope, headers, "missing bearer token: send 'Authorization: Bearer TOKEN' (make "
                                                 "one with 'python -m cx_core api-token create NAME')",
                                 {"WWW-Authenticate": "Bearer"})
        try:
            grant = await run_in_threadpool(api_tokens.verify, self.db, token.strip())
        except TandemError as exc:
            return problem(503, str(exc), {"Retry-After": str(RETRY_AFTER_SECONDS)})
        if grant is None:
            return self._refused(scope, headers, "the token is not valid or was revoked",
                                 {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        per_minute = grant.rate_per_minute or self.settings.api_rate_per_minute
        wait = self.rates.take(("token", grant.id), per_minute)
        if wait is not None:
            return problem(429, f"this token's rate of {per_minute} calls a minute is used up; wait and try again",
                            retry_after(wait))
        scope.setdefault("state", {})["api_grant"] = grant
        return None

    def _refused(self, scope: Scope, headers: list[tuple[bytes, bytes]], line: str, challenge: dict[str, str]
                 ) -> JSONResponse:
        """401 for a missing or wrong token; 429 once the address sent more of them than its rate allows (a right
        token from the same address is never held back)."""
        wait = self.rates.take(("client", self._client(scope, headers)), self.settings.api_failed_auth_per_minute)
        if wait is not None:
            return problem(429, "too many calls with a missing or wrong token from this address; wait and try "
                                 "again", retry_after(wait))
        return problem(401, line, challenge)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="A token from `python -m cx_core api-token create NAME` or the Users page.")


def api_grant(request: Request, _: HTTPAuthorizationCredentials | None = Security(bearer)) -> api_tokens.Grant:
    """What the call's token may do (checked by the guard before the request got here)."""
    grant = getattr(request.state, "api_grant", None)
    if not isinstance(grant, api_tokens.Grant):
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return grant


def need_scope(grant: api_tokens.Grant, scope: str) -> None:
    if not grant.may(scope):
        has = ", ".join(sorted(grant.scopes)) or "none"
        raise HTTPException(403, f"this token may not {api_tokens.SCOPES[scope]} (its scopes: {has}); an admin can "
                                 f"make one with '{scope}'")
