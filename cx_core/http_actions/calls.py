"""Making a declared call: the request rendered from its templates (arguments URL-quoted in the path, secrets read
from settings at the moment of the call and never kept), sent only to an allowed host, and its answer mapped into
the result the reply and the next steps read. Every call leaves facts for the audit log — method, host, path,
status, latency and digests of request and response — and nothing secret."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from .. import http_client
from ..config import _secrets_file_values
from ..errors import ConfigError, ConnectorUnavailable, NotFound, PolicyDenied
from ..secret_mask import mask, register, url_secrets
from ..wording import at_path
from .spec import REFERENCE, Call, Service


class CallFailed(Exception):
    """A call that did not succeed. ``retry``: trying again can help (a timeout or a 5xx of an idempotent call);
    ``unknown``: the system may have done it (a write that timed out without an idempotency key)."""

    def __init__(self, message: str, retry: bool = False, unknown: bool = False,
                 facts: dict[str, Any] | None = None) -> None:
        super().__init__(mask(message))  # a service's reason may echo what it was sent
        self.retry, self.unknown, self.facts = retry, unknown, facts or {}


def setting(name: str) -> str | None:
    """``${NAME}``: the setting ``TANDEM_NAME`` from the environment, else ``name`` under ``[tandem]`` in
    ``.streamlit/secrets.toml``; None when it is not set or only blanks. A value read is known to the masking step
    from then on, so it is never stored, shown or logged."""
    value = _raw_setting(name)
    if value is None or not value.strip():
        return None
    register(*url_secrets(value))
    return value


def _raw_setting(name: str) -> str | None:
    value = os.environ.get(f"TANDEM_{name}")
    if value:
        return value

    found = _secrets_file_values().get(name.lower())
    return str(found) if found not in (None, "") else None


def register_references(*templates: Any) -> None:
    """Makes the values of the settings the templates name known to the masking step (an actions file loaded)."""
    for t in templates:
        for text in _strings(t):
            for name in REFERENCE.findall(text):
                setting(name)


def missing_settings(*templates: Any) -> list[str]:
    """The ``TANDEM_*`` settings the templates name that are not set."""
    names: set[str] = set()
    for t in templates:
        for text in _strings(t):
            names |= set(REFERENCE.findall(text))
    return sorted(f"TANDEM_{n}" for n in names if setting(n) is None)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _secrets(text: str) -> str:
    def one(m: Any) -> str:
        value = setting(m.group(1))
        if value is None:
            if _raw_setting(m.group(1)) is not None:
                raise ConfigError(f"the setting TANDEM_{m.group(1)} is set but blank: give it its value or unset it")
            raise ConfigError(f"the setting TANDEM_{m.group(1)} is not set")
        return value

    return REFERENCE.sub(one, text)


def _query_value(template: str, values: dict[str, Any]) -> str | None:
    """A query parameter: its ``{argument}`` parts filled in and its ``${NAME}`` parts read from the settings (a
    key some services take in the query); an argument's own text is never read for references. None when the
    parameter is one optional argument that was not given: the parameter is then left out, never sent as "None"."""
    if render(template, values) is None:
        return None
    parts = REFERENCE.split(template)
    return "".join(_secrets(f"${{{p}}}") if i % 2 else str(render(p, values)) if p else ""
                   for i, p in enumerate(parts))


def lookup(data: Any, path: str | None) -> Any:
    """``data`` at a dot path (``customer.id``, ``items.0.sku``); None when it is not there."""
    return at_path(data, path) if path else data


def render(template: Any, values: dict[str, Any], quoted: bool = False) -> Any:
    """A template with ``{name}`` (and ``{result.x}``) filled in: a string that is one placeholder keeps the value's
    type (a number stays a number); otherwise values are written into the text (URL-quoted in a path)."""
    import re

    if isinstance(template, dict):
        return {k: render(v, values, quoted) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values, quoted) for v in template]
    if not isinstance(template, str):
        return template
    whole = re.fullmatch(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}", template)
    if whole and not quoted:
        return lookup(values, whole.group(1))

    def one(m: Any) -> str:
        value = lookup(values, m.group(1))
        text = "" if value is None else str(value)
        return quote(text, safe="") if quoted else text

    return re.sub(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_.]*)\}", one, template)  # ${NAME} is a setting, not an argument


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass
class Answer:
    status: int
    data: Any
    facts: dict[str, Any] = field(default_factory=dict)


def send(service: Service, call: Call, values: dict[str, Any], key: str | None = None,
         key_header: str | None = None, retry: int = 0, idempotent: bool = False) -> Answer:
    """Makes the call; raises ``CallFailed`` (with the audit facts) when it does not succeed. Retries a timeout or a
    5xx up to ``retry`` times only when ``idempotent`` (a read, or a call carrying an idempotency key)."""
    base = _secrets(service.base_url)
    url = base + render(call.path, values, quoted=True)
    host = urlsplit(url).hostname or ""
    allowed = set(service.allowed_hosts) or {urlsplit(base).hostname or ""}
    if host not in allowed:
        raise CallFailed(f"{host or 'that address'} is not an allowed host for this service "
                         f"(allowed: {', '.join(sorted(allowed))})")
    headers = {k: _secrets(v) for k, v in {**service.headers, **call.headers}.items()}
    if key and key_header:
        headers[key_header] = key
    params = {k: v for k, v in ((k, _query_value(t, values)) for k, t in call.query.items()) if v is not None}
    body = render(call.body, values) if call.body is not None else None
    raw = json.dumps(body, sort_keys=True, default=str).encode() if body is not None else b""
    if body is not None:
        headers["Content-Type"] = "application/json"
    facts: dict[str, Any] = {"method": call.method, "host": host, "path": declared_path(service, call, values),
                             "request_digest": digest(raw)}
    tries = 1 + (retry if idempotent else 0)
    for attempt in range(tries):
        started = time.perf_counter()
        try:
            with http_client.client(timeout=service.timeout, follow_redirects=False) as client:
                resp = client.request(call.method, url, params=params or None, headers=headers,
                                      content=raw if body is not None else None)
        except httpx.TimeoutException as exc:
            facts.update(status=None, latency_ms=round((time.perf_counter() - started) * 1000))
            if attempt + 1 < tries:
                continue
            raise CallFailed(f"{service_name(host)} did not answer within {service.timeout:.0f} s", retry=idempotent,
                             unknown=not idempotent and call.method != "GET", facts=facts) from exc
        except httpx.HTTPError as exc:
            facts.update(status=None, latency_ms=round((time.perf_counter() - started) * 1000))
            if attempt + 1 < tries:
                continue
            raise CallFailed(f"{service_name(host)} could not be reached ({type(exc).__name__})", retry=True,
                             facts=facts) from exc
        facts.update(status=resp.status_code, latency_ms=round((time.perf_counter() - started) * 1000),
                     response_digest=digest(resp.content))
        if resp.status_code >= 500 and attempt + 1 < tries:
            continue
        try:
            data = resp.json() if resp.content else {}
        except ValueError:
            data = {"text": resp.text[:500]}
        if resp.is_success:
            return Answer(resp.status_code, data, facts)
        reason = _reason(data) or resp.reason_phrase
        raise CallFailed(f"{service_name(host)} answered {resp.status_code}: {reason}",
                         retry=resp.status_code >= 500 or resp.status_code == 429, facts=facts)
    raise AssertionError("unreachable")


def declared_path(service: Service, call: Call, values: dict[str, Any]) -> str:
    """The path a call reached as it is recorded: the base URL's path as declared (a ``${NAME}`` in it stays the
    reference, so a secret in a webhook's path is never written down) and the call's own path, filled in."""
    base = service.base_url
    whole = REFERENCE.match(base)
    if whole is not None and whole.start() == 0:  # the base URL is a setting: its path is the setting's business
        rest = base[whole.end():]
        base_path = urlsplit(rest).path if rest.startswith("/") else ""
    else:
        base_path = urlsplit(base).path
    return (base_path.rstrip("/") + render(call.path, values, quoted=True))[:500]


def service_name(host: str) -> str:
    return f"the service at {host}" if host else "the service"


def _reason(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("detail", "message", "error", "reason", "description"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:300]
            if isinstance(value, list) and value and isinstance(value[0], dict) and value[0].get("msg"):
                loc = ".".join(str(x) for x in value[0].get("loc", [])[1:])
                return f"{loc}: {value[0]['msg']}" if loc else str(value[0]["msg"])
    return ""


def mapped(data: Any, mapping: dict[str, str] | None) -> dict[str, Any]:
    """The answer as the action's result: the declared fields, or the whole JSON object."""
    if mapping:
        return {name: lookup(data, path) for name, path in mapping.items()}
    return dict(data) if isinstance(data, dict) else {"response": data}


def run_remote(remote: Any, args: Any, key: str | None) -> dict[str, Any]:
    """An action's outside call with its arguments (a validated model) and Tandem's idempotency key: what it
    returned, or the failure as the engine's errors (``as_refusal``)."""
    try:
        return dict(remote.call(dict(args.model_dump(mode="json")), key=key)[0])
    except (CallFailed, ConfigError) as exc:
        raise as_refusal(exc) from exc


def as_refusal(exc: CallFailed | ConfigError) -> Exception:
    """A failed call as the engine's errors: the system refused it (4xx: nothing changed, the reason shown), the
    record is not there (404), or the system is unavailable (retry later)."""
    if isinstance(exc, ConfigError):
        return ConnectorUnavailable(str(exc))
    status = exc.facts.get("status")
    if status == 404:
        return NotFound(str(exc))
    if isinstance(status, int) and 400 <= status < 500 and status != 429:
        return PolicyDenied(str(exc))
    return ConnectorUnavailable(str(exc))
