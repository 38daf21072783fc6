"""Channel adapters: the ways tickets come in and replies go out.

Each module turns what its system sends into ``conversations.Inbound`` messages for ``conversations.receive`` and,
through ``from_settings(settings)``, gives the dispatcher a ``delivery.Deliverer`` for replies (None when the channel
is not configured): ``email`` (an IMAP mailbox and SMTP), ``chatwoot`` and ``zendesk`` (signed webhooks and their
reply APIs), ``helpdesk`` (django-helpdesk: webhooks and its REST API) and ``outbound`` (replies to API tickets,
POSTed to the team's own webhook).
"""
