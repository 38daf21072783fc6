"""A real django-helpdesk server on 127.0.0.1, in its own venv and with its own SQLite, for end-to-end tests."""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import fcntl
import hashlib
import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port

REQUIREMENTS = Path(__file__).with_name("helpdesk-requirements.txt")
CACHE = Path(os.environ.get("TANDEM_HELPDESK_CACHE") or Path(__file__).resolve().parents[2] / ".venv-helpdesk")
API_USER = "tandem-agent"
API_PASSWORD = "tandem-agent-password"
API_USER_EMAIL = "agent@helpdesk.test"
QUEUE_SLUG = "support"
QUEUE_EMAIL = "support@helpdesk.test"
DB_NAME = "helpdesk.sqlite3"

SETTINGS_PY = """\
import os
from pathlib import Path

WORKDIR = Path(os.environ["HD_WORKDIR"])
SECRET_KEY = "tandem-test-helpdesk-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "hd_urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": WORKDIR / "helpdesk.sqlite3",
                         "OPTIONS": {"timeout": 20}}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
SITE_ID = 1
STATIC_URL = "/static/"
MEDIA_ROOT = WORKDIR / "media"
LOGIN_URL = "/login/"
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = WORKDIR / "outbox"
DEFAULT_FROM_EMAIL = "support@helpdesk.test"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_PUBLIC_TICKET_QUEUE = "support"
HELPDESK_PUBLIC_TICKET_PRIORITY = 3
HELPDESK_PUBLIC_TICKET_DUE_DATE = None
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "WARNING"},
                "helpdesk": {"handlers": ["console"], "level": "WARNING"}},
}
"""

URLS_PY = """\
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
"""

MANAGE_PY = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hd_settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

SEED_PY = f"""\
from django.contrib.auth import get_user_model
from helpdesk.models import Queue

get_user_model().objects.create_user({API_USER!r}, {API_USER_EMAIL!r}, {API_PASSWORD!r},
                                     first_name="Tandem", last_name="Agent", is_staff=True)
Queue.objects.create(title="Support", slug={QUEUE_SLUG!r}, email_address={QUEUE_EMAIL!r},
                     allow_public_submission=True, allow_email_submission=True,
                     email_box_type="local", email_box_local_dir="mail", email_box_interval=0)
"""

SITE_FILES = {"hd_settings.py": SETTINGS_PY, "hd_urls.py": URLS_PY, "manage.py": MANAGE_PY}


class HelpdeskUnavailable(RuntimeError):
    """django-helpdesk could not be installed or started here."""


class HelpdeskAPIError(RuntimeError):
    """The REST API answered 4xx or 5xx."""

    def __init__(self, status: int, method: str, url: str, body: str) -> None:
        super().__init__(f"{method} {url} -> {status}: {body[:500]}")
        self.status, self.body = status, body


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    try:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HelpdeskUnavailable(f"{' '.join(cmd[:4])}: {e}") from e
    if done.returncode != 0:
        raise HelpdeskUnavailable(f"{' '.join(cmd[:4])} failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    return done.stdout


def _env(workdir: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")}
    return {**keep, "HD_WORKDIR": str(workdir), "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", **extra}


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _venv_python() -> Path:
    return CACHE / "venv" / "bin" / "python"


def _ensure_venv() -> Path:
    """The helpdesk venv, (re)built from helpdesk-requirements.txt when its stamp does not match."""
    stamp = CACHE / "venv.stamp"
    want = _digest(REQUIREMENTS.read_bytes(), sys.version)
    python = _venv_python()
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python
    shutil.rmtree(CACHE / "venv", ignore_errors=True)
    stamp.unlink(missing_ok=True)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    _run([sys.executable, "-m", "venv", str(CACHE / "venv")], CACHE, env, 300)
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--only-binary=:all:", "-r", str(REQUIREMENTS)],
         CACHE, env, 900)
    _run([str(python), "-m", "pip", "check"], CACHE, env, 120)
    stamp.write_text(want)
    return python


def _ensure_template(python: Path) -> tuple[Path, Path]:
    """The Django site folder and a migrated, seeded SQLite file to copy for each server."""
    key = _digest(REQUIREMENTS.read_bytes(), sys.version, SEED_PY, *SITE_FILES.values())
    site, template = CACHE / f"site-{key}", CACHE / f"template-{key}.sqlite3"
    if template.exists() and (site / "manage.py").exists():
        return site, template
    for stale in [*CACHE.glob("site-*"), *CACHE.glob("build-*"), *CACHE.glob("template-*")]:
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    site.mkdir(parents=True)
    for name, text in SITE_FILES.items():
        (site / name).write_text(text)
    build = CACHE / f"build-{key}"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir()
    env = _env(build)
    _run([str(python), str(site / "manage.py"), "migrate", "--noinput"], build, env, 300)
    _run([str(python), str(site / "manage.py"), "shell", "-c", SEED_PY], build, env, 120)
    tmp = template.with_suffix(".tmp")
    shutil.copyfile(build / DB_NAME, tmp)
    tmp.rename(template)
    shutil.rmtree(build, ignore_errors=True)
    return site, template


def prepare() -> tuple[Path, Path, Path]:
    """Venv python, site folder and template database, building whatever is missing (idempotent)."""
    if not REQUIREMENTS.exists():
        raise HelpdeskUnavailable(f"missing {REQUIREMENTS}")
    with _locked(CACHE / "lock"):
        python = _ensure_venv()
        site, template = _ensure_template(python)
    return python, site, template


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


@dataclass
class HelpdeskServer:
    """A running django-helpdesk: REST API under ``{url}/api/`` with HTTP basic auth as a staff user."""

    url: str
    workdir: Path
    python: Path
    site: Path
    env: dict[str, str]
    api_user: str = API_USER
    api_password: str = API_PASSWORD
    queue_slug: str = QUEUE_SLUG
    queue_email: str = QUEUE_EMAIL
    queue_id: int = 1
    startup_seconds: float = 0.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def auth_header(self) -> str:
        token = base64.b64encode(f"{self.api_user}:{self.api_password}".encode()).decode()
        return f"Basic {token}"

    def api(self, method: str, path: str, body: dict[str, Any] | None = None, auth: bool = True) -> Any:
        """One JSON call to the REST API as the staff user; raises ``HelpdeskAPIError`` on 4xx/5xx."""
        url = path if path.startswith("http") else f"{self.api_url}/{path.lstrip('/')}"
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = self.auth_header
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise HelpdeskAPIError(e.code, method, url, e.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """``GET /api/tickets/<id>/``: the ticket with its ``followup_set``."""
        return dict(self.api("GET", f"tickets/{ticket_id}/"))

    def tickets(self) -> list[dict[str, Any]]:
        """Every ticket, following the API's pagination."""
        out: list[dict[str, Any]] = []
        page: str | None = "tickets/?page_size=100"
        while page:
            data = self.api("GET", page)
            out += data["results"]
            page = data["next"]
        return out

    def followups(self, ticket_id: int) -> list[dict[str, Any]]:
        """The ticket's follow-ups, oldest first (the API's followups list has no ticket filter)."""
        return sorted(self.ticket(ticket_id)["followup_set"], key=lambda f: f["id"])

    def open_ticket(self, email_address: str, title: str, description: str) -> dict[str, Any]:
        """A customer opens a ticket through the public web form (anonymous, as a customer would)."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
        form_url = f"{self.url}/tickets/submit/"
        with opener.open(form_url, timeout=30) as resp:
            page = resp.read().decode()
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if not match:
            raise RuntimeError("no CSRF token on the public ticket form")
        fields = {"csrfmiddlewaretoken": match.group(1), "title": title, "body": description,
                  "submitter_email": email_address}
        req = urllib.request.Request(form_url, data=urllib.parse.urlencode(fields).encode(), method="POST",
                                     headers={"Referer": form_url})
        try:
            opener.open(req, timeout=30)
        except urllib.error.HTTPError as e:
            if e.code != 302:
                raise
            location = e.headers.get("Location", "")
        else:
            raise RuntimeError("the public ticket form did not accept the ticket")
        found = re.search(r"ticket=[^&]*?-(\d+)(?:&|$)", location)
        if not found:
            raise RuntimeError(f"unexpected redirect after submitting a ticket: {location}")
        return self.ticket(int(found.group(1)))

    def open_ticket_by_api(self, email_address: str, title: str, description: str) -> dict[str, Any]:
        """Staff open a ticket on a customer's behalf with ``POST /api/tickets/``."""
        return dict(self.api("POST", "tickets/", {"queue": self.queue_id, "title": title, "description": description,
                                                  "submitter_email": email_address, "priority": 3}))

    def add_staff_followup(self, ticket_id: int, text: str, public: bool = True,
                           title: str | None = None) -> dict[str, Any]:
        """``POST /api/followups/`` as the staff API user (how Tandem's reply is posted)."""
        body: dict[str, Any] = {"ticket": ticket_id, "comment": text, "public": public}
        if title is not None:
            body["title"] = title
        return dict(self.api("POST", "followups/", body))

    def add_customer_followup(self, ticket_id: int, email_address: str, text: str) -> dict[str, Any]:
        """The customer replies by e-mail; helpdesk's own ``get_email`` ingests it as a follow-up (user null)."""
        msg = EmailMessage()
        msg["From"] = email_address
        msg["To"] = self.queue_email
        msg["Subject"] = f"Re: [{self.queue_slug}-{ticket_id}] reply"
        msg["Date"] = email.utils.formatdate(localtime=False)
        message_id = f"<{uuid.uuid4().hex}@customer.test>"
        msg["Message-ID"] = message_id
        msg.set_content(text)
        mail_dir = self.workdir / "mail"
        tmp = mail_dir.parent / f"{uuid.uuid4().hex}.eml.tmp"
        tmp.write_text(msg.as_string())
        tmp.rename(mail_dir / f"{uuid.uuid4().hex}.eml")
        self.fetch_mail()
        for f in self.followups(ticket_id):
            if f["message_id"] == message_id:
                return dict(f)
        raise RuntimeError(f"helpdesk did not turn the customer's e-mail into a follow-up on ticket {ticket_id}")

    def fetch_mail(self) -> None:
        """Run ``manage.py get_email`` once: every message in the queue's local mailbox becomes a ticket or follow-up."""
        _run([str(self.python), str(self.site / "manage.py"), "get_email", "--quiet"], self.workdir, self.env, 120)

    def outbox(self) -> list[EmailMessage]:
        """E-mails helpdesk would have sent (file backend; each file may hold several messages)."""
        out: list[EmailMessage] = []
        for path in sorted((self.workdir / "outbox").glob("*.log"), key=lambda p: p.stat().st_mtime):
            for chunk in path.read_text().split("-" * 79 + "\n"):
                if chunk.strip():
                    out.append(email.message_from_string(chunk, EmailMessage, policy=email.policy.default))
        return out

    def log(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def running_helpdesk(workdir: Path, webhook_url: str | None = None,
                     followup_webhook_url: str | None = None) -> Iterator[HelpdeskServer]:
    """Start django-helpdesk on a free port with a fresh copy of the seeded database; stop it on exit.

    ``webhook_url`` receives the new-ticket and follow-up webhooks (``followup_webhook_url`` overrides
    the latter). Raises ``HelpdeskUnavailable`` if it cannot be installed or started.
    """
    started = time.monotonic()
    python, site, template = prepare()
    workdir.mkdir(parents=True, exist_ok=True)
    for sub in ("mail", "outbox", "media"):
        (workdir / sub).mkdir(exist_ok=True)
    shutil.copyfile(template, workdir / DB_NAME)
    hooks: dict[str, str] = {}
    if webhook_url:
        hooks["HELPDESK_NEW_TICKET_WEBHOOK_URLS"] = webhook_url
    if followup_webhook_url or webhook_url:
        hooks["HELPDESK_FOLLOWUP_WEBHOOK_URLS"] = str(followup_webhook_url or webhook_url)
    env = _env(workdir, **hooks)
    port = free_port()
    log = open(workdir / "server.log", "wb")
    proc = subprocess.Popen([str(python), str(site / "manage.py"), "runserver", f"127.0.0.1:{port}",
                             "--noreload", "--skip-checks"],
                            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = HelpdeskServer(url=f"http://127.0.0.1:{port}", workdir=workdir, python=python, site=site, env=env,
                            process=proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise HelpdeskUnavailable(f"helpdesk exited with {proc.returncode}: {server.log()[-2000:]}")
            try:
                server.api("GET", "tickets/?page_size=1")
                break
            except HelpdeskAPIError as e:
                raise HelpdeskUnavailable(f"{e}: {server.log()[-2000:]}") from e
            except OSError:
                if time.monotonic() > deadline:
                    raise HelpdeskUnavailable(f"helpdesk not ready in 60 s: {server.log()[-2000:]}") from None
                time.sleep(0.05)
        server.startup_seconds = time.monotonic() - started
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@contextmanager
def helpdesk_or_skip(workdir: Path, webhook_url: str | None = None,
                     followup_webhook_url: str | None = None) -> Iterator[HelpdeskServer]:
    """``running_helpdesk``, but the test is skipped with the reason if helpdesk cannot be installed or started."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(running_helpdesk(workdir, webhook_url, followup_webhook_url))
        except HelpdeskUnavailable as e:
            pytest.skip(f"django-helpdesk unavailable: {e}")
        yield server


@pytest.fixture(scope="module")
def helpdesk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskServer]:
    """One django-helpdesk per test module, without webhooks; skips if it cannot be installed or started."""
    with helpdesk_or_skip(tmp_path_factory.mktemp("helpdesk")) as server:
        yield server
