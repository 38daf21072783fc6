"""Real mail servers on 127.0.0.1 for tests: Dovecot for IMAP (with IDLE) and an SMTP server delivering into it.

SMTP is ``aiosmtpd``; each accepted message is handed to Dovecot's own delivery agent (``dovecot-lda``), so it
lands in the recipient's Maildir INBOX as a real MTA would put it there, byte for byte (no headers are added).
Each user is a passwd-file that Dovecot reads on demand, so ``add_user`` works before or after ``start``; the
users in ``DEFAULT_USERS`` always exist. Both servers speak plain text (no TLS, no STARTTLS): connect with
``IMAPClient(host, port, ssl=False)`` and ``smtplib.SMTP``. Unknown recipients are refused at RCPT (550).
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from imapclient import IMAPClient

from tests.helpers import free_port

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
DEFAULT_USERS = {"support@tandem.test": "support-pass", "ann@customer.test": "ann-pass"}
START_TIMEOUT = 15.0
PASSWD_RECHECK_SECONDS = 1.1
LDA_EXIT_REPLIES = {67: "550 5.1.1 No such user here", 75: "451 4.3.0 Temporary delivery failure"}


class MailServersUnavailable(RuntimeError):
    """Dovecot or the SMTP server could not be started here."""


def _find_dovecot() -> tuple[str, str]:
    """Paths of the ``dovecot`` master binary and its ``dovecot-lda``."""
    master = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if master is None:
        raise MailServersUnavailable("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    prefix = Path(master).resolve().parent.parent
    for libexec in ("lib/dovecot", "libexec/dovecot", "lib64/dovecot"):
        lda = prefix / libexec / "dovecot-lda"
        if os.access(lda, os.X_OK):
            return master, str(lda)
    raise MailServersUnavailable(f"dovecot-lda not found next to {master}")


def _accounts() -> tuple[str, str, str, int, int]:
    """Dovecot's internal user and group, its login user, and the uid and gid that own the mail, for this process."""
    if os.getuid() != 0:
        me = pwd.getpwuid(os.getuid()).pw_name
        return me, grp.getgrgid(os.getgid()).gr_name, me, os.getuid(), os.getgid()
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError as exc:
        raise MailServersUnavailable("no unprivileged user 'nobody' to own the test mail") from exc
    try:
        login = pwd.getpwnam("dovenull").pw_name
    except KeyError:
        login = nobody.pw_name
    return "root", "root", login, nobody.pw_uid, nobody.pw_gid


class _Delivery:
    """aiosmtpd handler: accepts mail for known users and hands it to dovecot-lda."""

    def __init__(self, servers: MailServers) -> None:
        self.servers = servers

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() not in self.servers.users:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or b""
        for rcpt in envelope.rcpt_tos:
            code = await asyncio.to_thread(self.servers.deliver, content, envelope.mail_from or "", rcpt)
            if code != 0:
                return LDA_EXIT_REPLIES.get(code, f"554 5.3.0 Delivery to {rcpt} failed")
        return "250 Message accepted for delivery"


class MailServers:
    """Dovecot IMAP and an SMTP server on free ports of 127.0.0.1.

    Config, users and logs go under ``root``; sockets and Maildirs go in a private temporary folder (owned by
    ``nobody`` when running as root, since Dovecot never touches mail as root) that ``stop`` deletes.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.imap_host = HOST
        self.smtp_host = HOST
        self.imap_port = 0
        self.smtp_port = 0
        self.users: dict[str, str] = {}
        self._lock = threading.Lock()
        self._dovecot: subprocess.Popen[bytes] | None = None
        self._smtp: Controller | None = None
        self._runtime: Path | None = None
        self._master, self._lda = "", ""
        self._accounts = ("", "", "", -1, -1)
        self.config = self.root / "dovecot.conf"
        self.passwd_dir = self.root / "users"
        self.log = self.root / "dovecot.log"
        for address, password in DEFAULT_USERS.items():
            self.add_user(address, password)

    def add_user(self, address: str, password: str) -> None:
        """Create a mailbox (or change its password); it can log in and receive mail as soon as this returns.

        Addresses are case-insensitive. Changing a password of a running server waits about a second.
        """
        address = address.lower()
        if any(c in address + password for c in ":/%\n\r") or any(c.isspace() for c in address) \
                or "@" not in address or address.startswith("."):
            raise ValueError(f"unusable address or password for {address!r}")
        with self._lock:
            existed = address in self.users
            self.users[address] = password
            self.passwd_dir.mkdir(parents=True, exist_ok=True)
            path = self.passwd_dir / address
            tmp = path.with_name(f".{address}.tmp")
            tmp.write_text(f"{address}:{{PLAIN}}{password}::::::\n")
            if existed:
                stamp = int(path.stat().st_mtime) + 1
                os.utime(tmp, (stamp, stamp))
            os.replace(tmp, path)
            if existed and self._dovecot is not None:
                time.sleep(PASSWD_RECHECK_SECONDS)

    def start(self) -> None:
        """Start Dovecot, then the SMTP server; raises MailServersUnavailable if either cannot run."""
        self._master, self._lda = _find_dovecot()
        self._accounts = _accounts()
        self._runtime = Path(tempfile.mkdtemp(prefix="tandem-mail-"))
        try:
            self._runtime.chmod(0o755)
            (self._runtime / "run").mkdir()
            (self._runtime / "mail").mkdir()
            os.chown(self._runtime / "mail", self._accounts[3], self._accounts[4])
            self._start_dovecot()
            self._start_smtp()
        except BaseException:
            self.stop()
            raise

    def _write_config(self) -> None:
        assert self._runtime is not None
        internal_user, internal_group, login_user, mail_uid, mail_gid = self._accounts
        no_chroot = "" if os.getuid() == 0 else "  chroot =\n"
        self.config.write_text(f"""\
base_dir = {self._runtime / "run"}
state_dir = {self.root / "state"}
instance_name = tandem-test-{self.imap_port}
protocols = imap
listen = {HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu
auth_failure_delay = 0
log_path = {self.log}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 0
first_valid_gid = 0
mail_uid = {mail_uid}
mail_gid = {mail_gid}
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
postmaster_address = postmaster@tandem.test
hostname = mail.tandem.test
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.passwd_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = {self.passwd_dir}/%u
  default_fields = home={self._runtime / "mail"}/%u
}}
service imap-login {{
{no_chroot}  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service imap-urlauth-login {{
{no_chroot}}}
service anvil {{
{no_chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
""")

    def _start_dovecot(self) -> None:
        (self.root / "state").mkdir(exist_ok=True)
        for _ in range(3):
            self.imap_port = free_port()
            self._write_config()
            self.log.write_text("")
            with open(self.root / "dovecot.out", "wb") as out:
                self._dovecot = subprocess.Popen([self._master, "-F", "-c", str(self.config)], stdout=out,
                                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self._wait_for_greeting():
                return
            self._stop_dovecot()
            if "Address already in use" not in self._log_tail():
                break
        raise MailServersUnavailable(f"dovecot did not start: {self._log_tail()}")

    def _wait_for_greeting(self) -> bool:
        assert self._dovecot is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._dovecot.poll() is not None:
                return False
            try:
                with socket.create_connection((HOST, self.imap_port), timeout=2) as s:
                    if s.recv(64).startswith(b"* OK"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def _log_tail(self) -> str:
        text = ""
        for name in ("dovecot.out", "dovecot.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")
        return " | ".join(text.strip().splitlines()[-6:]) or "no log output"

    def _start_smtp(self) -> None:
        try:
            from aiosmtpd.controller import Controller
        except ImportError as exc:
            raise MailServersUnavailable(f"aiosmtpd is not installed: {exc}") from exc
        last: Exception | None = None
        for _ in range(3):
            self.smtp_port = free_port()
            controller = Controller(_Delivery(self), hostname=HOST, port=self.smtp_port, ready_timeout=START_TIMEOUT,
                                    server_hostname="smtp.tandem.test", enable_SMTPUTF8=True)
            try:
                controller.start()
            except Exception as exc:
                last = exc
                continue
            self._smtp = controller
            return
        raise MailServersUnavailable(f"SMTP server did not start: {last}")

    def deliver(self, content: bytes, sender: str, recipient: str) -> int:
        """Put one raw message into ``recipient``'s INBOX with dovecot-lda; returns its exit code (0 is success)."""
        cmd = [self._lda, "-c", str(self.config), "-d", recipient.lower(), "-a", recipient]
        if sender:
            cmd += ["-f", sender]
        return subprocess.run(cmd, input=content, capture_output=True, timeout=30).returncode

    @contextmanager
    def imap(self, address: str, password: str) -> Iterator[IMAPClient]:
        """A logged-in IMAPClient for ``address``; logs out afterwards."""
        client = IMAPClient(self.imap_host, self.imap_port, ssl=False, timeout=30)
        try:
            client.login(address, password)
            yield client
        finally:
            try:
                client.logout()
            except Exception:
                client.shutdown()

    def inbox(self, address: str, password: str) -> list[bytes]:
        """Raw RFC 822 bytes of every message in the user's INBOX, oldest first, read over IMAP without marking them seen."""
        with self.imap(address, password) as client:
            client.select_folder("INBOX", readonly=True)
            uids = sorted(client.search(["ALL"]))
            if not uids:
                return []
            data = client.fetch(uids, ["BODY.PEEK[]"])
            return [data[uid][b"BODY[]"] for uid in uids]

    def send(self, message: bytes | str | EmailMessage, from_addr: str,
             to_addrs: str | Sequence[str]) -> dict[str, tuple[int, bytes]]:
        """Send over SMTP to the test server; returns the refused recipients (smtplib raises if all are refused)."""
        recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=30) as smtp:
            if isinstance(message, EmailMessage):
                return smtp.send_message(message, from_addr, recipients)
            return smtp.sendmail(from_addr, recipients, message)

    def _stop_dovecot(self) -> None:
        proc, self._dovecot = self._dovecot, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop both servers and delete their sockets and Maildirs (config and logs stay under ``root``)."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.stop()
        self._stop_dovecot()
        if self._runtime is not None:
            shutil.rmtree(self._runtime, ignore_errors=True)
            self._runtime = None


@contextmanager
def running_mail_servers(tmp_path: Path) -> Iterator[MailServers]:
    """Started mail servers keeping their files in ``tmp_path``; raises MailServersUnavailable if they cannot run."""
    servers = MailServers(tmp_path)
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="module")
def mail_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServers]:
    """Real IMAP and SMTP servers for one test module (skips if Dovecot or aiosmtpd is missing).

    Mailboxes are shared by the module's tests: tests that count messages should ``add_user`` their own address.
    """
    servers = MailServers(tmp_path_factory.mktemp("mail"))
    try:
        servers.start()
    except MailServersUnavailable as exc:
        pytest.skip(f"mail servers unavailable: {exc}")
    try:
        yield servers
    finally:
        servers.stop()
