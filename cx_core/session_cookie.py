"""The session cookie, written by the server so that scripts on the page can never read it (``HttpOnly``).

Streamlit runs the page's Python on the server and has no way to answer a page run with a ``Set-Cookie`` header,
so the app is served as an ``st.App`` with one route of its own, ``POST /_tandem/session``. A page that signs in
(or out) asks for a *hand-over code*: 32 random bytes that stand for "keep this token" or "forget this token",
usable once, for two minutes. A one-line script on the page posts the code to the route, and the route answers
with the cookie: ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, ``Secure`` over HTTPS, for the session's lifetime,
or expired at once to forget it. The token itself never appears in the page; a code already used, expired or
unknown is a 404 that changes nothing. Forgetting removes the cookie only while the browser still holds that very
token, so a tab that signs out never removes the cookie of a newer sign-in made in another tab.

Codes live in the memory of the process that serves the page (the one that also answers the page's own
connection); several app servers behind one address need the sticky sessions Streamlit needs anyway.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROUTE = "/_tandem/session"
CODE_SECONDS = 120.0
MAX_CODES = 10_000  # codes never used are dropped beyond this many (oldest first)


@dataclass(frozen=True)
class _Handover:
    keep: bool  # keep the token in the cookie, or forget it
    token: str
    until: float


_lock = threading.Lock()
_codes: dict[str, _Handover] = {}


def offer(token: str, keep: bool, now: Callable[[], float] = time.monotonic) -> str:
    """A one-time code the page exchanges for writing (``keep``) or removing the cookie of ``token``."""
    code = secrets.token_urlsafe(32)
    with _lock:
        at = now()
        for old in [c for c, h in _codes.items() if h.until < at]:
            del _codes[old]
        while len(_codes) >= MAX_CODES:
            del _codes[next(iter(_codes))]
        _codes[code] = _Handover(keep, token, at + CODE_SECONDS)
    return code


def redeem(code: str, now: Callable[[], float] = time.monotonic) -> _Handover | None:
    """The hand-over behind ``code``, once; None for a code used, expired or never given."""
    with _lock:
        found = _codes.pop(code, None) if isinstance(code, str) else None
    return found if found is not None and found.until >= now() else None


def routes(keys: Callable[[], Any]) -> list[Any]:
    """The route that answers a hand-over code with the cookie; ``keys`` gives the ``SessionKeys`` in force (its
    cookie name and the session's lifetime), read when a code is redeemed."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def exchange(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"detail": "send {\"code\": …} as JSON"}, status_code=400)
        code = body.get("code") if isinstance(body, dict) else None
        handover = redeem(code) if isinstance(code, str) and len(code) < 100 else None
        if handover is None:
            return JSONResponse({"detail": "this code is unknown, used or expired"}, status_code=404)
        session = keys()
        answer = JSONResponse({"ok": True})
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"
        if handover.keep:
            answer.set_cookie(session.cookie_name, handover.token, max_age=int(session.lifetime.total_seconds()),
                              path="/", secure=secure, httponly=True, samesite="strict")
        elif request.cookies.get(session.cookie_name) == handover.token:
            answer.delete_cookie(session.cookie_name, path="/", secure=secure, httponly=True, samesite="strict")
        return answer

    return [Route(ROUTE, exchange, methods=["POST"])]


def script(code: str, base_path: str = "") -> str:
    """The page's one-line script that posts ``code`` to the route (on the app's own origin and base path)."""
    import json

    url = "/" + "/".join(p for p in (base_path.strip("/"), ROUTE.strip("/")) if p)
    return (f"<script>fetch({json.dumps(url)}, {{method: 'POST', credentials: 'same-origin', "
            f"headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{code: {json.dumps(code)}}})}});"
            "</script>")
