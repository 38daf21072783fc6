"""SQLAlchemy tables of the engine: the ticket queue, proposals, executions, reviews, the outbox, staff, their
sessions and the audit log. A domain pack keeps its own systems' tables on a base of its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .masked import MaskedJSON, MaskedString, MaskedText  # secrets masked on the way in (error texts, call paths)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# ---------------------------------------------------------------- Notifications
class NotificationRow(Base):
    """One outgoing message (a reply to a customer, a note to the field team), written in the transaction that
    decided it and delivered afterwards by the dispatcher through its ``destination`` channel, with retries; the
    ``idempotency_key`` is what the receiving system de-duplicates by (an e-mail's Message-ID, a helpdesk's key)."""

    __tablename__ = "notify_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    destination: Mapped[str] = mapped_column(String(20), default="local")  # the channel adapter that delivers it
    # pending → sending (a dispatcher holds it) → delivered; retrying after a failure; failed once it gave up
    status: Mapped[str] = mapped_column(String(20), default="pending")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the conversation's message it carries
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # threading: message_id, in_reply_to…
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(MaskedText, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    remote_id: Mapped[str | None] = mapped_column(String(300), nullable=True)  # the receiving system's own id
    result: Mapped[dict[str, Any] | None] = mapped_column(MaskedJSON, nullable=True)  # what a called action answered
    # the fencing token of the dispatcher that holds the row: it renews the lease with it right before each hand-over
    # and nobody else sends a row somebody still owns
    claim: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # when the current attempt was handed to the receiving system (cleared once its outcome is recorded): a row
    # claimed again with this set may already have been accepted there, so its next delivery may be a duplicate
    handed_over_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # how many times it was sent again after an attempt whose outcome a crash left unknown
    resent_in_doubt: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


# ---------------------------------------------------------------- Ticket queue
class TicketRow(Base):
    __tablename__ = "tickets"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    customer_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    source: Mapped[str] = mapped_column(String(20), default="import")
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    sla_due: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    task_type: Mapped[str | None] = mapped_column(String(60), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    urgency: Mapped[str | None] = mapped_column(String(20), nullable=True)
    sentiment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(MaskedJSON, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # a claim is a lease: the worker holding the ticket renews it while it works; once past, anyone takes it back
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    assigned_to: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(MaskedText, nullable=True)
    # the conversation in the system the ticket came from (``chatwoot:42``, ``email:<root Message-ID>``), unique
    external_ref: Mapped[str | None] = mapped_column(String(400), nullable=True)
    # the customer wrote again since the last reply (the inbox marks it); cleared by the next reply sent
    customer_replied: Mapped[bool] = mapped_column(Boolean, default=False)
    # the newest message the agent's result has read (a message after it means the ticket is read again)
    read_through: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the API token that opened the ticket (a token reads and writes only its own tickets unless widened)
    api_token_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class MessageRow(Base):
    """One message of a ticket's conversation: from the customer (``in``), to the customer (``out``: the agent's or
    an advisor's reply) or an internal ``note``; ``external_id`` is its id in the system it came from or went to,
    prefixed by that system (``email:<Message-ID>``, ``chatwoot:123``), unique, so a delivery seen twice adds
    nothing."""

    __tablename__ = "ticket_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    author: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    direction: Mapped[str] = mapped_column(String(10), default="in")  # in | out | note
    channel: Mapped[str | None] = mapped_column(String(20), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(400), nullable=True)


class ProposalRow(Base):
    __tablename__ = "proposals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    action: Mapped[str] = mapped_column(String(60))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rationale: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(MaskedText, default="")
    required_role: Mapped[str] = mapped_column(String(20), default="advisor")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    result: Mapped[dict[str, Any] | None] = mapped_column(MaskedJSON, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reject_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    # what the advisor chose to tell the customer instead of the rejected action (replaces its sentence in the reply)
    customer_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the side effect behind an executed proposal (``executions.idempotency_key``)
    execution_key: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    # the action of the same plan this one needs to have run first (rejecting that one rejects this one too)
    depends_on: Mapped[str | None] = mapped_column(String(60), nullable=True)


class ExecutionRow(Base):
    """One side effect, keyed by its idempotency key: the same key never executes twice."""

    __tablename__ = "executions"
    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    action: Mapped[str] = mapped_column(String(60))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ticket_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    result: Mapped[dict[str, Any]] = mapped_column(MaskedJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # the worker's claim on the ticket it ran under (an interrupted attempt's work is told apart from a retry's)
    claim: Mapped[str | None] = mapped_column(String(80), nullable=True)


class ReviewRow(Base):
    """An autonomous action a supervisor looks at afterwards: sampled, or above the risk threshold."""

    __tablename__ = "review_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(200), index=True)
    execution_key: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(60))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(MaskedJSON, default=dict)
    task_type: Mapped[str] = mapped_column(String(60), default="")
    risk: Mapped[float] = mapped_column(Float, default=0.0)
    why: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open|confirmed|flagged|reversed
    note: Mapped[str] = mapped_column(Text, default="")
    compensation: Mapped[dict[str, Any] | None] = mapped_column(MaskedJSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PolicyChangeRow(Base):
    """Every saved version of the policy: who, why, what changed, and the full text."""

    __tablename__ = "policy_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)
    by: Mapped[str] = mapped_column(String(80))
    why: Mapped[str] = mapped_column(Text)
    diff: Mapped[list[Any]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text)


class KbVersionRow(Base):
    """One uploaded version of a knowledge-base document (the newest one not deleted is live)."""

    __tablename__ = "kb_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(300), default="")
    format: Mapped[str] = mapped_column(String(20), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    task_types: Mapped[str] = mapped_column(String(300), default="")
    updated: Mapped[str] = mapped_column(String(20), default="")
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(DateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditRow(Base):
    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(60), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """Single row holding the chain head; updating it first serialises appenders on every database."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class StaffUserRow(Base):
    __tablename__ = "staff_users"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class HeartbeatRow(Base):
    __tablename__ = "worker_heartbeat"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ModelUsageRow(Base):
    """A configured model's calls in one day and stage (``wording``): how many, the tokens its server counted, the
    time they took and how many fell back to the offline result."""

    __tablename__ = "model_usage"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    stage: Mapped[str] = mapped_column(String(30), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # calls not made: the day's budget was spent


class WebhookDeliveryRow(Base):
    """A signed webhook delivery, recorded once by its delivery id: a retried delivery is acknowledged, not read."""

    __tablename__ = "webhook_deliveries"
    provider: Mapped[str] = mapped_column(String(30), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    event: Mapped[str] = mapped_column(String(60), default="")
    ticket_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(DateTime)


class ApiTokenRow(Base):
    """A token for the inbound API. Only the SHA-256 of the token is kept; ``prefix`` lets people tell them apart."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # what the token may do: ``write`` (new tickets and messages), ``read`` (read tickets back), ``admin`` (both, on
    # every ticket of every channel); comma-separated
    scopes: Mapped[str] = mapped_column(String(60), default="write,read", server_default="write,read")
    # an admin's explicit choice: the token reaches every ticket of every channel, not only those it opened
    all_tickets: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rate_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the setting's default
    daily_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)  # new tickets and messages a day


class ApiTokenUsageRow(Base):
    """How many tickets and messages a token added on one day (UTC), counted against its daily quota."""

    __tablename__ = "api_token_usage"
    token_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    count: Mapped[int] = mapped_column(Integer, default=0)


class ActionCallRow(Base):
    """One call to a team's own system (a declared action or an MCP tool): what was called, how it answered and
    how long it took, never its secrets; the digests tie it to the audit log without keeping personal data."""

    __tablename__ = "action_calls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    method: Mapped[str] = mapped_column(String(10), default="")
    host: Mapped[str] = mapped_column(MaskedString(200), default="")
    path: Mapped[str] = mapped_column(MaskedString(500), default="")
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(MaskedText, nullable=True)
    request_digest: Mapped[str] = mapped_column(String(64), default="")
    response_digest: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ChannelCursorRow(Base):
    """How far a polled channel has read (a mailbox's UIDVALIDITY and last UID, a helpdesk's last change)."""

    __tablename__ = "channel_cursors"
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class MigrationRow(Base):
    __tablename__ = "schema_migrations"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    applied_at: Mapped[datetime] = mapped_column(DateTime)


class MetaRow(Base):
    """Facts about this store itself: the pack it belongs to (``pack``) and this installation's random id
    (``install_id``, in every idempotency key sent to another system), each written once."""

    __tablename__ = "tandem_meta"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime)


Index("ix_tickets_queue", TicketRow.status, TicketRow.priority)


class SignInThrottleRow(Base):
    """Failed sign-ins of one account name (known or not, so names cannot be probed) or of one client address.

    ``failures`` counts wrong passwords and attempts refused while waiting; it is forgotten after a quiet
    window, reset by a successful sign-in (accounts) and cleared when an admin unlocks the account.
    """

    __tablename__ = "sign_in_throttle"
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)  # account | client
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)  # the username tried, or the address
    failures: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)  # attempts refused in a row without a check
    last_attempt_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_client: Mapped[str] = mapped_column(String(200), default="")  # accounts: where the last failure came from


class SignInFamiliarRow(Base):
    """A client address an account signed in from successfully: failures from elsewhere never lock it out there."""

    __tablename__ = "sign_in_familiar"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    client: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_success_at: Mapped[datetime] = mapped_column(DateTime)


class StaffSessionRow(Base):
    """A browser's signed-in session. Only the SHA-256 of the token's secret part is kept, so the table cannot be
    used to sign in; a session ends when it expires or is revoked (sign-out, deactivation, a new password)."""

    __tablename__ = "staff_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    client: Mapped[str] = mapped_column(String(200), default="")  # the address it was started from


# Inbox at scale: every index leads with what the inbox filters or orders by, so a page, the queue counts and the
# "mine" view read the live queue (new, processing, open, escalated) and not the history of resolved tickets;
# the one-column indexes let the filter menus step from value to value instead of scanning every ticket.
INBOX_INDEXES = (
    Index("ix_tickets_inbox", TicketRow.status, TicketRow.priority.desc(), TicketRow.sla_due, TicketRow.created_at),
    Index("ix_tickets_status_assigned", TicketRow.status, TicketRow.assigned_to),
    Index("ix_tickets_customer_created", TicketRow.customer_id, TicketRow.created_at),
    Index("ix_tickets_task_type", TicketRow.task_type),
    Index("ix_tickets_urgency", TicketRow.urgency),
    Index("ix_tickets_sentiment", TicketRow.sentiment),
    Index("ix_tickets_channel", TicketRow.channel),
)

# Conversations and delivery: outside ids are unique (a delivery seen twice adds nothing), and the dispatcher reads
# what is due through its own index.
CONVERSATION_INDEXES = (
    Index("ux_tickets_external_ref", TicketRow.external_ref, unique=True),
    Index("ux_ticket_messages_external_id", MessageRow.external_id, unique=True),
    Index("ux_notify_outbox_idempotency_key", NotificationRow.idempotency_key, unique=True),
    Index("ix_outbox_due", NotificationRow.status, NotificationRow.next_attempt_at),
)
