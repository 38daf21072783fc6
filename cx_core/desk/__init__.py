"""The advisor's desk: the one face the pages import.

- ``queue``: the work queue (claims and leases for the agent, results, failures put back);
- ``inbox``: filters, search, counts, who has which ticket, the ticket as the workspace reads it;
- ``decisions``: approve, reject and add actions (every approval goes through ``execute``);
- ``reply``: the reply's checks and its sending;
- ``reversal``: undoing what the agent did alone, and telling the customer.

Access (``StaffUser``, ``require``), intake (``add_tickets``, ``parse_ticket_file``), the thread and its notes
(``thread``, ``add_note``), the actions the desk may show (``REGISTRY``, ``is_read``), the words for a task type
(``label``) and for merging an advisor's edits (``merge_edits``) live in their own modules and are named here for
the pages and the command line.
"""

from __future__ import annotations

from ..access import StaffUser, current, require
from ..actions.base import REGISTRY, is_read
from ..conversations import IMPORT_BATCH, ParseError, add_note, add_tickets, insert_tickets, parse_ticket_file, thread
from ..drafting import label, merge_edits
from ..review import for_ticket as reversible_on
from ..review import reversal_text
from ..store.db import utcnow
from .customer import customer_view, ticket_version
from .decisions import (
    Choices,
    add_action,
    addable_actions,
    approve,
    field_options,
    once_each,
    record_choices,
    reject,
    ticket_choices,
)
from .inbox import (
    ACTIVE,
    FACETS,
    InboxFilter,
    assign,
    clash_note,
    counts,
    customer_tickets,
    cut_words,
    escalate,
    filter_options,
    get_ticket,
    inbox,
    opening,
    plain,
    processing_mark,
)
from .queue import (
    as_ticket_in,
    claim_next,
    failure_line,
    for_agent,
    mark_failed,
    priority_of,
    release,
    release_expired,
    renew_lease,
    reread,
    reread_waiting,
    retry,
    retry_failed,
    sla_due,
    store_result,
    sweep_expired,
    worker_seen,
)
from .reply import (
    UNDECIDED,
    added_parts,
    align,
    changed_sentences,
    promises_follow_up,
    proposal_states,
    reply_draft,
    reply_problems,
    send_reply,
)
from .reversal import reverse_and_tell

__all__ = [
    "REGISTRY", "add_note", "is_read", "label", "merge_edits", "thread", "utcnow", "worker_seen",
    "ACTIVE", "FACETS", "IMPORT_BATCH", "UNDECIDED", "InboxFilter", "ParseError", "StaffUser", "add_action", "add_tickets",
    "addable_actions", "added_parts", "align", "changed_sentences", "approve", "as_ticket_in", "assign", "claim_next", "counts", "current", "customer_view", "escalate", "promises_follow_up", "ticket_version",
    "clash_note", "customer_tickets", "cut_words", "failure_line", "filter_options", "for_agent", "get_ticket", "inbox", "opening",
    "insert_tickets", "mark_failed", "parse_ticket_file", "plain", "priority_of", "processing_mark", "proposal_states",
    "Choices", "field_options", "once_each", "record_choices", "reject", "release", "release_expired", "renew_lease", "reply_draft", "reply_problems",
    "require", "reread", "reread_waiting", "retry", "retry_failed", "reversal_text", "reverse_and_tell", "reversible_on", "send_reply", "sla_due", "store_result", "sweep_expired", "ticket_choices",
]
