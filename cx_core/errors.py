"""Every error Tandem raises on purpose, as one tree.

    TandemError                 base: anything the product reports deliberately
    ├── InvalidInput            the user sees what to fix (bad file, bad field, bad argument)
    │   └── ReplyHeld           a reply would tell the customer something that has not happened
    ├── PolicyDenied            the advisor sees the policy reason; nothing was executed
    ├── NotAuthorised           the signed-in role may not do this
    ├── ConnectorUnavailable    a backend system did not answer; retry later
    ├── DatabaseBusy            Tandem's database stayed locked by other writers; retry in a moment
    ├── LeaseLost               a worker no longer holds the ticket it was processing; another one has it
    ├── NotFound                a record named in a request does not exist
    └── ConfigError             the operator sees which setting to fix

Pages map them to ``st.error`` / ``st.warning``; the CLI prints one line and exits non-zero.
"""

from __future__ import annotations


class TandemError(Exception):
    """Base of every deliberate Tandem error; ``str(err)`` is one line meant for people."""


class InvalidInput(TandemError):
    """Input that cannot be used as given; the message says what to fix."""


class ReplyHeld(InvalidInput):
    """A reply was not sent: it speaks of an action that has not run, or the ticket still has undecided proposals.
    ``overridable`` is False when the reply says an action was done that was not: that is never sent."""

    def __init__(self, message: str, overridable: bool) -> None:
        super().__init__(message)
        self.overridable = overridable


class PolicyDenied(TandemError):
    """The policy refused an action; the message is the reason."""


class HandedOver(PolicyDenied):
    """Refused here, and the rules send the case to a person ("a colleague in our reservations team will look at
    it"): the message is the reason, and the ticket is escalated so that the promised person does take it."""


class NotAuthorised(TandemError):
    """The caller's role does not allow the operation."""


class ConnectorUnavailable(TandemError):
    """A backend system could not be reached or failed; nothing was changed."""


class DatabaseBusy(TandemError):
    """Other writers held the database's lock past every retry; nothing was changed. Contention, not an outage."""


class LeaseLost(TandemError):
    """The worker's claim on a ticket expired and was taken back; what it had not yet done is left to the new holder."""


class NotFound(TandemError):
    """A record named in the request does not exist."""


class ConfigError(TandemError):
    """A setting or configuration file is wrong; the message names it."""
