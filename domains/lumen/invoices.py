"""Resending an invoice: which of the customer's invoices the words point at, and where it may go."""

from __future__ import annotations

import re

from cx_core.plans import Step
from cx_core.reading import language, records
from domains.lumen.asked import Answer, Asked, Planned


def _several(text: str) -> bool:
    """The words ask for more than one invoice ("the invoices for …", "all my receipts")."""
    return bool(re.search(r"\b(?:invoices|receipts|bills)\b", text, re.I))


def resend_invoice(r: Asked) -> Planned:
    """The invoice a customer asks to have again: the one they name, the one of the order they name, the one of an
    installation, or the one whose order holds what they describe ("the invoice for the washing machine"); asked
    for at another address, the answer that invoices go only to the one on file."""
    invoices = r.snap["invoices"]
    on_file = str(r.snap["profile"].get("email") or "").lower()
    elsewhere = [e for e in r.ents.get("emails") or [] if e.lower() != on_file and e.lower() in r.text.lower()]
    if elsewhere:  # said in the request's own words: "send it to our accounts team at …, not to me"
        # the knowledge base: an invoice goes only to the email address on the account
        return [], Answer(f"we only ever send invoices to the email address on your account, so I can't send it to "
                          f"{elsewhere[0]}; you can download it from My account → Orders and forward it, or change the "
                          "email address on your account first")
    named = [i for i in invoices if i["invoice_id"] in r.ents.get("invoice_ids", [])]
    by_order = [i for i in invoices if i["order_id"] and i["order_id"] in r.ents.get("order_ids", [])]
    own = [i for i in by_order if i["order_id"] in r.text]  # the order this request names, not another one's
    pick = (named or own or by_order or ([invoices[0]] if len(invoices) == 1 else []))
    if "instal" in r.text.lower() and not pick:
        pick = [i for i in invoices if i["appointment_id"]][:1]
    if not pick and len(invoices) > 1:  # "the invoice for the washing machine", "the TV and the plug invoices"
        orders = {o["order_id"]: o for o in r.snap["orders"]}
        billed = [{"invoice": i, "order": orders.get(i["order_id"]) or {}} for i in invoices]
        said = language.unnegated(r.text)
        each = records.named_each(said, billed, r.ents.get("dates") or [])
        # "all"/"both" with no list that names each one: which ones is not guessed
        hit = each or ([] if language.EVERY.search(r.text) else records.named(said, billed, r.ents.get("dates") or []))
        if len(hit) > 1 and not each and language.LATEST.search(said):  # "my most recent invoice" of those named
            hit = [max(hit, key=lambda h: str(invoices[h]["issued_on"]))]
        pick = [invoices[h] for h in hit] if len(hit) == 1 or each or _several(said) else []
    if not pick and len(invoices) > 1 and language.LATEST.search(r.text):  # "a copy of my most recent invoice"
        pick = [max(invoices, key=lambda i: str(i["issued_on"]))]
    if pick:
        return [Step("resend_invoice", {"invoice_id": i["invoice_id"]}, r.intent, "customer asked")
                for i in list({i["invoice_id"]: i for i in pick}.values())], ""
    steps = [Step("resend_invoice", {"invoice_id": invoices[0]["invoice_id"]}, r.intent, "most recent invoice",
                  missing="which invoice")] if invoices else []
    return steps, "which invoice do you need (the order number is enough)?"
