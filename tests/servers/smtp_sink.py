"""An SMTP server (aiosmtpd) on 127.0.0.1 that accepts every message and remembers the ``Message-ID`` of each one it
took, in order, so a test can count what a mail server received. A message is taken when its ``DATA`` ends, before
the answer, which ``delay`` holds back (a slow server, and the moment a sender may die not knowing it was taken);
``rcpt_delay`` holds back the answer to each ``RCPT TO`` (a slow server before anything was handed over)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.helpers import free_port


class SmtpSink:
    """What the server took, and how long it takes to answer ``DATA`` (``delay``) and ``RCPT TO`` (``rcpt_delay``),
    in seconds."""

    def __init__(self, delay: float = 0.0, rcpt_delay: float = 0.0) -> None:
        self.delay = delay
        self.rcpt_delay = rcpt_delay
        self.host, self.port = "127.0.0.1", 0
        self._lock = threading.Lock()
        self._taken: list[str] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        raw = envelope.original_content or envelope.content or b""
        msg = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default)
        with self._lock:
            self._taken.append(str(msg.get("Message-ID") or ""))
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"

    def taken(self) -> list[str]:
        """The Message-IDs of the messages taken, oldest first (a message taken twice is here twice)."""
        with self._lock:
            return list(self._taken)

    def counts(self) -> Counter[str]:
        return Counter(self.taken())


@contextmanager
def running_smtp_sink(delay: float = 0.0, rcpt_delay: float = 0.0) -> Iterator[SmtpSink]:
    """The server on a free port; ``sink.port`` is where it listens."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink(delay, rcpt_delay)
    sink.port = free_port()
    controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=15)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
