"""The contract between the dispatcher and the channels: the message a channel delivers (``Outgoing``), what a
channel's outgoing side is (``Deliverer``), and how it says it could not (``DeliveryFailed``). Channels import this,
never the dispatcher loop (``cx_core.delivery``) that drives them."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import TandemError


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver, as a channel adapter sees it."""

    id: int
    key: str  # the idempotency key: the same message delivered twice carries the same key
    destination: str
    kind: str
    channel: str
    ticket_id: str | None
    recipient: str
    subject: str
    body: str
    headers: dict[str, Any] = field(default_factory=dict)
    conversation: str | None = None  # the ticket's conversation id in the destination system
    attempts: int = 0
    token: str = ""  # the fencing token of the claim: the message is this dispatcher's while its row carries it
    in_doubt: bool = False  # an earlier attempt was handed over and its outcome is unknown
    handover: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def handing_over(self) -> None:
        """A channel calls this right before the message leaves for the receiving system (for e-mail: before
        ``DATA``). It records the hand-over, and raises ``NotOurs`` when another dispatcher has taken the message
        meanwhile: then the channel must not send it."""
        if self.handover is not None:
            self.handover()


class DeliveryFailed(TandemError):
    """A channel could not deliver a message. ``retry`` is False when trying again cannot help (the receiving
    system refused the message itself). ``in_doubt``: the message was handed over and no answer came back (a
    connection lost or timed out after sending), so the receiving system may have it."""

    def __init__(self, message: str, retry: bool = True, in_doubt: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        self.in_doubt = in_doubt


class NotOurs(TandemError):
    """The message was taken over by another dispatcher (this one's lease ran out): it is not sent from here."""


class Deliverer(Protocol):
    """A channel adapter's outgoing side: delivers one message, returns the receiving system's id for it (or None;
    a call to an action returns its answer as a dict), raises ``DeliveryFailed`` (or any error, taken as
    temporary).

    An adapter that sets ``hands_over = True`` calls ``item.handing_over()`` itself right before the request that
    hands the message over (after its own checks, such as looking for an earlier attempt's reply); for any other,
    the dispatcher records the hand-over just before calling ``deliver``."""

    name: str

    def deliver(self, item: Outgoing) -> str | dict[str, Any] | None: ...


class Kept:
    """Messages that stay in Tandem: replies to demo and imported tickets, notes to the field team, replies to API
    tickets when no outbound webhook is set (the API's ``GET /tickets/ID`` returns them)."""

    hands_over = True  # nothing leaves Tandem

    def __init__(self, name: str = "local") -> None:
        self.name = name

    def deliver(self, item: Outgoing) -> str | None:
        return None



def failpoint(name: str) -> None:
    """Fault injection for the crash tests: ``TANDEM_FAILPOINT=name`` kills this process right here."""
    if os.environ.get("TANDEM_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
