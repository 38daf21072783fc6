"""Starts ``python -m cx_core`` commands as forks of one process that has imported Tandem already.

Run by the tests as ``python -m tests.fork_server`` through :class:`ForkServer`. A command started this way is a
real process of its own, with its own environment, log, database connections and exit status, killed with a real
signal; it is a fork of this server (as ``tests/crash_driver.py`` forks its workers) rather than a fresh interpreter,
which would spend most of a short-lived command importing. The server reads one JSON request a line on stdin and
answers one JSON line on stdout: ``{"op": "start", "args": [...], "env": {...}, "log": path}`` gives the pid;
``{"op": "poll", "pid": n}`` gives the exit code once the process has ended (``-9`` when killed with SIGKILL)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from cx_core.config import PROJECT_ROOT


def _child(request: dict[str, Any]) -> None:
    """The fork: the command's stdin and stdout on /dev/null, stderr appended to its log; never returns."""
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.dup2(log, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        random.seed()
        from cx_core.cli import main

        code = main(request["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the exit code and the log say it
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def serve() -> None:
    import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401

    import cx_core.channels.email  # noqa: F401 - what a dispatcher uses, imported once for every fork
    import cx_core.cli  # noqa: F401
    import cx_core.commands  # noqa: F401
    import cx_core.delivery  # noqa: F401

    assert threading.active_count() == 1, "a thread at a fork would be left holding its locks in the child"
    codes: dict[int, int] = {}
    started: set[int] = set()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "start":
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _child(request)
            started.add(pid)
            answer: dict[str, Any] = {"pid": pid}
        else:
            pid = int(request["pid"])
            if pid not in codes:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    codes[pid] = os.waitstatus_to_exitcode(status)
            answer = {"code": codes.get(pid)}
        print(json.dumps(answer), flush=True)
    for pid in started - set(codes):  # the tests are done with it: nothing outlives the server
        if not os.waitpid(pid, os.WNOHANG)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


class Forked:
    """A command started by the fork server, with what the tests use of a ``subprocess.Popen``."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.ask({"op": "poll", "pid": self.pid})["code"]
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"forked {self.pid}", timeout or 0)
            time.sleep(0.02)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The client: ``start`` runs ``python -m cx_core ARGS`` with ``env`` as a fork of the server."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fork_server"], cwd=PROJECT_ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        assert ready.strip() == '{"ready": true}', f"the fork server did not start: {ready!r}"

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def start(self, args: list[str], env: dict[str, str], log: Path) -> Forked:
        return Forked(self, int(self.ask({"op": "start", "args": args, "env": env, "log": str(log)})["pid"]))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


if __name__ == "__main__":
    serve()
