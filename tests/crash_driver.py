"""Kills a real worker process at random points, again and again, then lets one worker finish the queue.

Run by ``tests/test_crash.py`` as ``python -m tests.crash_driver DATA_DIR DB_URL KILLS SEED``. The model weights
and the intent model are loaded once here; each worker is a fork of this process (a fresh interpreter per kill
would spend most of the test importing torch) that opens its own database and knowledge connections, processes
tickets with ``worker.run`` as ``python -m cx_core worker`` does, and gets SIGKILL at a random moment. Prints one
JSON line: how many workers were killed and how long the last one took to finish the queue.
"""

from __future__ import annotations

import faulthandler
import json
import os
import random
import select as io_select
import signal
import sys
import time
from pathlib import Path

from sqlalchemy import func, select


def _worker(services: object, ready: int) -> None:
    """The child: its own connections, then the worker loop until killed."""
    from cx_core import worker
    from cx_core.services import Services

    assert isinstance(services, Services)
    faulthandler.enable()  # a worker that hangs prints where when the driver aborts it
    services.db.engine.dispose(close=False)  # never share the parent's pooled connections
    _ = services.pipeline  # the knowledge index opened: killed from here on, a worker may hold a ticket
    os.write(ready, b"1")
    os.close(ready)
    worker.run(services, simulate=False)


def _waiting(services: object) -> int:
    from cx_core.services import Services
    from cx_core.store.tables import TicketRow

    assert isinstance(services, Services)
    with services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(TicketRow)
                            .where(TicketRow.status.in_(("new", "processing")))) or 0)


def _fork(target: object, *args: object) -> int:
    pid = os.fork()
    if pid == 0:  # the child never returns into the parent's code
        code = 0
        try:
            target(*args)  # type: ignore[operator]
        except SystemExit as exc:
            code = int(exc.code or 0)
        except BaseException:  # noqa: BLE001 - the exit code says it
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    return pid


def _drain(services: object) -> None:
    """A last worker that nobody kills: runs until no ticket is waiting or held (expired leases come back)."""
    from cx_core import worker
    from cx_core.services import Services

    assert isinstance(services, Services)
    faulthandler.enable()
    services.db.engine.dispose(close=False)
    deadline = time.monotonic() + 300
    while _waiting(services) and time.monotonic() < deadline:
        if not worker.run(services, simulate=False, once=True):
            time.sleep(0.2)
    sys.exit(0 if not _waiting(services) else 3)


def _wait(pid: int, seconds: float) -> int:
    """The child's exit status; one still running after ``seconds`` is aborted with its stack on stderr."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.2)
    os.kill(pid, signal.SIGABRT)
    return os.waitpid(pid, 0)[1]


def main() -> int:
    data_dir, db_url, kills, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    import torch

    torch.set_num_threads(1)  # no thread pool exists when the workers are forked
    from cx_core.config import load_settings
    from cx_core.services import Services

    services = Services(load_settings(data_dir=data_dir, database_url=db_url))
    services.embedder.encode_one("warm")  # the weights, loaded once for every fork
    _ = services.intent_model
    rng = random.Random(seed)
    started = time.monotonic()
    for _ in range(kills):
        ready_r, ready_w = os.pipe()
        pid = _fork(_worker, services, ready_w)
        os.close(ready_w)
        if not io_select.select([ready_r], [], [], 120)[0]:  # never ready: its stack on stderr, and the run fails
            os.kill(pid, signal.SIGABRT)
            os.waitpid(pid, 0)
            raise SystemExit("a worker was not ready after 120 s (its stack is above)")
        os.read(ready_r, 1)
        os.close(ready_r)
        time.sleep(rng.uniform(0.05, 0.6))  # long enough to claim, process and store a ticket or two
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    killing = time.monotonic() - started
    started = time.monotonic()
    pid = _fork(_drain, services)
    status = _wait(pid, 360)
    print(json.dumps({"kills": kills, "killing_s": round(killing, 1), "drain_s": round(time.monotonic() - started, 1),
                      "drain_exit": os.waitstatus_to_exitcode(status)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
