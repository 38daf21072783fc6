"""Secrets never stored: one masking step for everything Tandem records or shows.

Secrets reach Tandem as settings (``TANDEM_*`` in the environment or ``[tandem]`` in ``.streamlit/secrets.toml``):
passwords, API tokens, webhook secrets, ``OPENAI_API_KEY``, the password in ``TANDEM_DATABASE_URL``, and every
``${NAME}`` a declared service or MCP server puts into its base URL, headers or query. Each value is registered here
the moment it becomes known (settings loaded, an actions file loaded, a ``${NAME}`` filled into a request), and
``mask`` replaces it with ``[secret removed]`` wherever it appears: as written, in any case, URL-encoded once or
twice, JSON-escaped, hexadecimal and base64-encoded (also inside a longer base64 text, so ``Basic`` credentials built
from it are found too). A URL's secret is its path, each of the path's segments that is not plain words, its query
values and its password.

Values the text itself shows to be credentials are masked without being known: ``Authorization`` headers
(``Bearer …``, ``Basic …``, ``Token token=…``), ``X-Api-Key`` and ``api_access_token`` headers, ``password=``,
``token=``, ``secret=``, ``api_key=`` and their JSON forms, the password in ``scheme://user:password@host``, and
Tandem's own API tokens (``tdm_…``) and the usual shapes of provider keys.

A value shorter than six characters is not masked as raw text (a four-digit PIN would mask every number that
happens to match it); it is still masked where it stands as a credential by the patterns above.

The step runs where text is kept or shown, not at every caller: the audit log's canonical form (before it is
hashed, so the chain verifies and never holds a secret), the columns of calls, outbox errors, proposals and
executions (``store.tables`` declares them ``MaskedText`` / ``MaskedJSON``, so every insert and update passes it),
the errors a call raises (a service's reason may echo what it was sent), the pages' one-line texts and error
boxes, the command line's error line, and every log record of the process: a log-record factory, installed on
import, masks each record's message, arguments and traceback as it is created, so it holds for every logger
(Tandem's, uvicorn's, httpx's) and every handler, including those configured later.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

MARK = "[secret removed]"
MIN_LENGTH = 6  # shorter values are not masked as raw text: too many ordinary words and numbers would match

_lock = threading.Lock()
_values: set[str] = set()
# (anchor, folded, pattern): the pattern runs only on text that contains its anchor, a plain substring every form of
# the value keeps (sought in the lower-cased text when ``folded``), so text without any secret costs one substring
# search per form; longest values first
_known: tuple[tuple[str | None, bool, re.Pattern[str]], ...] = ()


def _b64_cores(raw: bytes) -> set[str]:
    """The base64 characters that encode only ``raw``, for each of the three alignments it can have inside a longer
    text: a value found in any base64 stream (``Basic dXNlcjpwYXNz…``) whatever precedes it."""
    out = set()
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw).decode("ascii").rstrip("=")
        start, end = -(-8 * k // 6), (8 * (k + len(raw))) // 6
        core = enc[start:end]
        if len(core) >= MIN_LENGTH and core not in MARK:
            out |= {core, core.replace("+", "-").replace("/", "_")}
    return out


_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")
_EDGE = "[A-Za-z0-9+/_-]{0,2}"  # the characters around a base64 core that mix its bits with its neighbours'


def _percent(c: str, times: int) -> str:
    """``c`` percent-encoded ``times`` times, hex digits in either case (``/`` → ``%2F``, ``%252f``)."""
    return "".join("%" + "25" * (times - 1) + f"{b:02X}" for b in c.encode("utf-8"))


def _char(c: str) -> str:
    """A character of a secret as it may appear: itself, percent-encoded once or twice, JSON-escaped, ``+`` for a
    space in a query (the pattern is compiled ignoring case, so upper- and lower-case forms are found alike)."""
    if _UNRESERVED.fullmatch(c):
        return re.escape(c)
    ways = {re.escape(c), _percent(c, 1), _percent(c, 2)}
    escaped = json.dumps(c)[1:-1]
    if escaped != c:
        ways.add(re.escape(escaped))
    if not c.isascii():
        ways.add(re.escape(json.dumps(c, ensure_ascii=True)[1:-1]))
    if c == " ":
        ways.add(r"\+")
    if c == "/":
        ways.add(r"\\/")
    return "(?:" + "|".join(sorted(ways, key=len, reverse=True)) + ")"


def pattern_of(value: str) -> str:
    """A regular expression (to compile ignoring case) for ``value`` as written, URL-encoded once or twice (wholly
    or in part, as clients do) or JSON-escaped."""
    return "".join(_char(c) for c in value)


def _entries(value: str) -> list[tuple[str | None, bool, re.Pattern[str]]]:
    """How ``value`` is found: as text in any encoding and any case (anchored by its longest run of characters no
    encoding changes, lower-cased), as hexadecimal of its bytes in either case, and as base64 in any alignment
    (anchored by the core itself, whose case matters)."""
    runs = sorted(_UNRESERVED.findall(value), key=len, reverse=True)
    anchor = runs[0].lower() if runs and len(runs[0]) >= 3 else None
    out: list[tuple[str | None, bool, re.Pattern[str]]] = [(anchor, True, re.compile(pattern_of(value), re.I))]
    hexed = value.encode("utf-8").hex()
    out.append((hexed, True, re.compile(re.escape(hexed), re.I)))
    for core in sorted(_b64_cores(value.encode("utf-8")), key=len, reverse=True):
        out.append((core, False, re.compile(f"{_EDGE}{re.escape(core)}{_EDGE}={{0,2}}")))
    return out


def register(*values: Any) -> None:
    """Makes ``values`` (strings, ``SecretStr``, or None) known to ``mask``; cheap when they are known already.
    Blank and short values are left out (see the module's note)."""
    fresh = []
    for value in values:
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        text = str(value)
        for v in {text, text.strip()}:
            if len(v) >= MIN_LENGTH and v not in _values and v not in MARK:
                fresh.append(v)
    if not fresh:
        return
    global _known
    with _lock:
        _values.update(fresh)
        _known = tuple(e for v in sorted(_values, key=lambda v: (-len(v), v)) for e in _entries(v))


# ------------------------------------------------------------------ credentials recognised by their place
_NAMES = (r"(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
          r"credentials?)")
_SCHEMES = r"(?:bearer|basic|token|digest|apikey|key|sso-key|otoken)\s+"
_RUN = re.compile(r"(?:\[secret removed\]){2,}")
_FRESH = r"(?!\[secret removed\])"  # a value that is masked already is not masked again


def _upto(stop: str) -> str:
    """A value: one or more characters up to one of ``stop`` (a class body) or a marker."""
    return r"(?P<secret>(?:(?!\[secret removed\])[^" + stop + r"])+)"


def _basic(m: re.Match[str]) -> str:
    """``Basic`` followed by base64 of ``user:password`` (and not the word "basic" in a sentence)."""
    try:
        decoded = base64.b64decode(m.group("secret") + "=" * (-len(m.group("secret")) % 4), validate=True)
    except ValueError:
        return m.group(0)
    return m.group("keep") + MARK if b":" in decoded else m.group(0)


def _keep(m: re.Match[str]) -> str:
    return m.group("keep") + MARK


_NAME_WORDS = ("password", "passwd", "pwd", "passphrase", "secret", "token", "api_key", "api-key", "apikey",
               "access_key", "access-key", "private_key", "private-key", "credential", "credentials")
# (words of which one must be in the lower-cased text for the pattern to run, the pattern, its replacement)
_PATTERNS: list[tuple[tuple[str, ...], re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # scheme://user:password@host: the password (the user stays, it says which account)
    (("://",), re.compile(r"(?P<keep>://[^\s/?#@:\"'<>]+:)" + _upto(r"\s/?#@\"'<>") + r"(?=@)"), _keep),
    # an Authorization header, whatever its scheme (Bearer x, Basic x, Token token=x, a bare key)
    (("authoriz",), re.compile(r"(?P<keep>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?\s*"
                               r"(?!(?:" + _SCHEMES + r")?\[secret removed\])(?:" + _SCHEMES + r")?)" +
                               _upto(r"\s\"',;"), re.I), _keep),
    (("bearer",), re.compile(r"(?P<keep>\bbearer\s+)" + _FRESH + r"(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)", re.I),
     _keep),
    (("basic",), re.compile(r"(?P<keep>\bbasic\s+)(?P<secret>[A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])", re.I),
     _basic),
    (("token token=",), re.compile(r"(?P<keep>\btoken\s+token=[\"']?)" + _upto(r"\s\"',;"), re.I), _keep),
    # headers that carry a key by name
    (("api-key", "access_token", "access-token", "auth-token", "private-token", "subscription-key"),
     re.compile(r"(?P<keep>\b(?:x-api-key|api[_-]?access[_-]?token|x-auth-token|x-access-token|private-token|"
                r"x-chatwoot-api-key|ocp-apim-subscription-key)[\"']?\s*[:=]\s*[\"']?\s*)" + _upto(r"\s\"',;&"),
                re.I), _keep),
    # name=value (query strings, form bodies, connection strings, log lines): hook_secret=…, api_key=…
    (tuple(f"{w}=" for w in _NAME_WORDS),
     re.compile(r"(?P<keep>" + _NAMES + r"=[\"']?)" + _upto(r"\s\"'&,;<>"), re.I), _keep),
    # "name": "value" (JSON, Python reprs): "password": "…", 'client_secret': '…'
    (tuple(f"{w}{q}" for w in _NAME_WORDS for q in "\"'"),
     re.compile(r"(?P<keep>" + _NAMES + r"[\"']\s*:\s*(?P<q>[\"']))" + _FRESH + r"(?P<secret>(?:(?!(?P=q))[^\\]|\\.)+)",
                re.I), _keep),
    # tokens whose shape says what they are: Tandem's API tokens and the usual providers' keys
    (("tdm_", "sk-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "akia"),
     re.compile(r"(?P<keep>)\b(?:tdm_[A-Za-z0-9_-]{20,}|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|"
                r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|"
                r"AKIA[0-9A-Z]{16})"), _keep),
]


def mask(text: str) -> str:
    """``text`` with every known secret value and every recognisable credential replaced by ``[secret removed]``.
    Masking masked text changes nothing."""
    if not text or not isinstance(text, str):
        return text
    low = text.lower()
    for anchor, folded, pattern in _known:
        if anchor is None or anchor in (low if folded else text):
            text = pattern.sub(MARK, text)
            low = text.lower()
    for words, pattern, replace in _PATTERNS:
        if any(w in low for w in words):
            text = pattern.sub(replace, text)
    if MARK + MARK in text:
        text = _RUN.sub(MARK, text)
    return text


def mask_data(value: Any) -> Any:
    """A JSON-like value with every string in it masked (keys as well); other values unchanged."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, Mapping):
        return {mask(k) if isinstance(k, str) else k: mask_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(mask_data(v) for v in value)
    return value


# ------------------------------------------------------------------ settings: which of them are secrets
SECRET_SETTING = re.compile(r"(?:SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|"
                            r"CREDENTIAL)", re.I)


def _named_secrets(pairs: Any) -> list[str]:
    """The values whose setting's name says they are secret (numbers and switches aside: a limit's setting may
    have TOKEN in its name)."""
    return [str(v) for k, v in pairs if isinstance(v, str) and SECRET_SETTING.search(str(k)) and not v.isdigit()
            and v.strip().lower() not in {"true", "false", "yes", "no", "on", "off"}]


def _secrets_file() -> list[str]:
    """Every secret-named value in ``.streamlit/secrets.toml``, in any section (``[tandem]``, and the sign-in
    provider's ``[auth]``: ``client_secret``, ``cookie_secret``)."""
    import tomllib
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / ".streamlit" / "secrets.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):  # a broken secrets file is reported by load_settings
        return []
    found: list[tuple[str, Any]] = []

    def walk(node: Any) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v)
            else:
                found.append((k, v))

    walk(data)
    return _named_secrets(found)


_WORDS = re.compile(r"[a-z]+(?:[-_.][a-z]+)*")  # a path segment of plain lower-case words ("webhooks", "api-v")


def url_secrets(value: str) -> list[str]:
    """What of a setting's value is secret: of a URL its path, each segment of the path that is not plain words
    (a service's error may name one segment alone: ``/hooks/T0k3n/in`` → ``T0k3n``), its query values and password
    (its scheme and host stay readable in logs and errors: a webhook's secret is usually its path), of anything else
    the whole."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme in {"http", "https"} and parts.hostname:
        path = parts.path.strip("/")
        segments = [unquote(p) for p in path.split("/") if p and not _WORDS.fullmatch(p)] if "/" in path else []
        return [p for p in (path, *segments, parts.password or "", *(v for _, v in parse_qsl(parts.query))) if p]
    return [value]


def register_settings(settings: Any) -> None:
    """Every secret of a ``Settings``: its ``SecretStr`` fields, the model server's key, the password of any
    address (the database's, a helpdesk's), the outbound webhook address's path and query; and every ``TANDEM_*``
    value (environment or secrets file) whose name says it is a secret."""
    import os
    from urllib.parse import urlsplit

    from pydantic import SecretStr

    values: list[Any] = [v for v in (getattr(settings, n, None) for n in type(settings).model_fields)
                         if isinstance(v, SecretStr)]
    values.append(getattr(settings, "llm_api_key", None))
    url = str(getattr(settings, "database_url", "") or "")
    if url:
        try:
            from sqlalchemy.engine import make_url

            values.append(make_url(url).password)
        except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse is refused where it is used
            pass
    for name in type(settings).model_fields:  # a password in any address; the outbound webhook's whole secret part
        if name.endswith("_url") and name != "database_url" and (value := str(getattr(settings, name) or "")):
            values += url_secrets(value) if name == "outbound_webhook_url" else [urlsplit(value).password]
    values += _named_secrets((k, v) for k, v in os.environ.items() if k.startswith("TANDEM_"))
    values += _secrets_file()
    register(*values)


# ------------------------------------------------------------------ logs: every record of the process
def _arg(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - an object that cannot be shown is left to the formatter
        return value
    masked = mask(text)
    return value if masked == text else masked


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message, arguments, traceback and stack masked (in place)."""
    if isinstance(record.msg, str):
        record.msg = mask(record.msg)
    elif record.msg is not None:
        record.msg = _arg(record.msg)
    if isinstance(record.args, Mapping):
        record.args = {k: _arg(v) for k, v in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_arg(a) for a in record.args)
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        masked = mask(text)
        if masked != text:
            record.exc_text = masked
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    return record


_installed: list[Callable[..., logging.LogRecord]] = []


def install_log_masking() -> None:
    """Masks every log record of the process as it is created, whichever logger makes it (Tandem's, uvicorn's,
    httpx's) and whichever handler writes it; once per process."""
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return scrub(previous(*args, **kwargs))

        _installed.append(factory)
        logging.setLogRecordFactory(factory)


install_log_masking()
