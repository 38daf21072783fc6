"""What a reply says of an action declared as data: templates filled sentence by sentence (a missing field drops its
sentence, never half of it), defaults built from the label that are honest in every state, reads silent unless their
facts are written, and every template field checked by ``actions check`` with its file and field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cx_core import wording
from cx_core.drafting import ProposalState, outcome_sentence, recompose, render
from cx_core.http_actions import openapi
from cx_core.http_actions import wording as declared
from cx_core.http_actions.spec import ActionWording
from cx_core.models import ReplyPart
from cx_core.wording import (
    DONE,
    FAILED,
    PROPOSED,
    REFUSED,
    STATES,
    WAITING,
    claimed_actions,
    claims,
    fill,
    money_in,
    sentence,
)
from tests.test_honest_replies import PAST_CLAIM

REFUND_ARGS = {"type": "object", "required": ["order_id", "amount", "reason"],
               "properties": {"order_id": {"type": "string"}, "amount": {"type": "number", "exclusiveMinimum": 0},
                              "reason": {"type": "string", "minLength": 1}}}
SAMPLES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("create_refund", "Refund an order", REFUND_ARGS, {"order_id": "O-1", "amount": 12.5, "reason": "damaged"}),
    ("change_address", "Change the delivery address of a pending order",
     {"type": "object", "required": ["order_id", "address"],
      "properties": {"order_id": {"type": "string"}, "address": {"type": "string", "maxLength": 500}}},
     {"order_id": "O-2", "address": "12 Birch Lane, Hull"}),
    ("send_voucher", "Send a voucher",
     {"type": "object", "required": ["customer_id", "value", "expires_on"],
      "properties": {"customer_id": {"type": "string"}, "value": {"type": "integer"},
                     "expires_on": {"type": "string", "format": "date"}}},
     {"customer_id": "C1", "value": 20, "expires_on": "2026-12-31"}),
    ("cancel_subscription", "Cancel a subscription",
     {"type": "object", "required": ["subscription_id"], "properties": {"subscription_id": {"type": "string"}}},
     {"subscription_id": "SUB-9"}),
]


@pytest.fixture
def registered() -> Any:
    """Declares the samples' default wording for one test, then puts back what was there."""
    yield lambda name, label, schema, said=None: wording.declare(
        name, declared.build(name, label, schema, "write", said))
    wording.forget_declared()


def test_a_template_is_filled_sentence_by_sentence_and_a_missing_field_drops_only_its_sentence() -> None:
    template = ("Your {result.month} bill comes to {result.total:money}. It includes a {result.late_fee:money} late "
                "fee. I've asked a colleague to approve a credit of {amount:money} on bill {bill_id}.")
    full = fill(template, {"bill_id": "B-11", "amount": 15}, {"month": "November", "total": 84.2, "late_fee": 15},
                currency="USD")
    assert full == ("Your November bill comes to $84.20. It includes a $15.00 late fee. I've asked a colleague to "
                    "approve a credit of $15.00 on bill B-11.")
    without_fee = fill(template, {"bill_id": "B-11", "amount": 15}, {"month": "November", "total": 84.2})
    assert without_fee == "Your November bill comes to $84.20. I've asked a colleague to approve a credit of $15.00 " \
                          "on bill B-11."
    assert fill(template, {}, {}) == ""  # nothing known: nothing said, never "a  late fee"
    assert fill("Moved to {new_date:date}.", {"new_date": "2026-11-28T14:00"}) == "Moved to Saturday 28 November " \
                                                                                   "at 14:00."
    assert fill("Fees: {result.fees:list}.", {}, {"fees": ["late fee", "paper bill", "card fee"]}) == \
        "Fees: late fee, paper bill and card fee."
    assert fill("First fee {result.fees.0.amount:money}.", {}, {"fees": [{"amount": 5}]}, currency="EUR") == \
        "First fee €5.00."
    assert fill("A {amount:money} refund.", {"amount": "not a number"}) == ""
    assert money_in(1234.5, "GBP") == "£1,234.50" and money_in(8, "CHF") == "8.00 CHF"


@pytest.mark.parametrize("name,label,schema,args", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_an_action_nobody_wrote_words_for_is_named_in_every_state_and_only_done_claims_it(
        registered: Any, name: str, label: str, schema: dict[str, Any], args: dict[str, Any]) -> None:
    registered(name, label, schema)
    said = {state: sentence(name, state, args, {"id": "X-1"}) for state in STATES}
    for state, text in said.items():
        assert text, f"{name} says nothing while {state}"
        assert wording.lower_first(label) in text, f"{name} {state} does not name the action: {text}"
        assert "{" not in text and "}" not in text
    assert claims(said[DONE], name) == [said[DONE]]
    for state in (PROPOSED, WAITING, REFUSED, FAILED):
        assert not claimed_actions(said[state]), f"{name} {state} claims: {said[state]}"
        assert not PAST_CLAIM.search(said[state]), f"{name} {state} reads as done: {said[state]}"
    if name == "create_refund":
        assert said[PROPOSED] == ("I've asked a colleague to approve this: refund an order (order O-1, amount "
                                  "$12.50). I'll confirm by email as soon as it goes through.")
        assert said[DONE] == "Done: refund an order (order O-1, amount $12.50)."
        assert "damaged" not in " ".join(said.values())  # the reason is for the ledger, not the sentence
    if name == "send_voucher":
        assert "C1" not in said[DONE] and "Thursday 31 December" in said[DONE]  # whose it is goes without saying


def test_a_claim_in_other_words_is_still_read_as_one(registered: Any) -> None:
    registered("create_refund", "Refund an order", REFUND_ARGS)
    assert claims("I've refunded your order O-1 in full.", "create_refund")
    assert not claims("Once an order has been refunded, the money takes 5 days.", "create_refund")
    registered("credit_bill", "Credit a fee on a bill", {"type": "object", "properties": {}},
               ActionWording(verbs=["credited", "waived"], topic=["fee", "bill"]))
    assert claims("We have waived the late fee.", "credit_bill")
    assert not claims("We have waived nothing yet.", "credit_bill")


def test_written_words_replace_the_defaults_state_by_state(registered: Any) -> None:
    registered("create_refund", "Refund an order", REFUND_ARGS, ActionWording(
        done="I've refunded {amount:money} on order {order_id} (refund {result.id}).",
        refused="The refund on order {order_id} could not be made this way ({reason}); a colleague will call you.",
        failed=""))
    args = {"order_id": "O-1", "amount": 12.5, "reason": "x"}
    assert sentence("create_refund", DONE, args, {"id": "R-7"}) == "I've refunded $12.50 on order O-1 (refund R-7)."
    assert sentence("create_refund", DONE, args, {}) == ""  # no refund id came back: no half sentence
    assert sentence("create_refund", FAILED, args) == ""  # "": says nothing in that state
    assert sentence("create_refund", PROPOSED, args).startswith("I've asked a colleague to approve this")
    # a refusal as the agent planned it speaks in the action's own words when it has them
    refused = outcome_sentence("create_refund", args, None, {}, "return_refund", "denied", "denied",
                               "the refund is more than what can still be refunded")
    assert refused == ("The refund on order O-1 could not be made this way (the refund is more than what can still "
                       "be refunded); a colleague will call you.")


def test_each_state_of_a_proposal_rewords_its_sentence(registered: Any) -> None:
    registered("create_refund", "Refund an order", REFUND_ARGS)
    args = {"order_id": "O-1", "amount": 12.5, "reason": "x"}
    parts = [ReplyPart(text="Hi Dana,", paragraph=0), ReplyPart(text="", paragraph=1, kind="action", proposal=0),
             ReplyPart(text="", paragraph=2, kind="next"), ReplyPart(text="Best wishes,\nHarbor", paragraph=3)]

    def reads(decision: str, status: str, note: str = "") -> str:
        return render(recompose(parts, {0: ProposalState("create_refund", args, decision, status, None, "", note)}))

    assert "I've asked a colleague to approve this: refund an order" in reads("needs_approval", "pending")
    assert "Your request is under way: refund an order" in reads("needs_approval", "calling")
    assert "Done: refund an order (order O-1, amount $12.50)." in reads("needs_approval", "executed")
    assert "I wasn't able to do this as asked" in reads("needs_approval", "denied")
    assert "I haven't been able to confirm this yet" in reads("needs_approval", "failed")
    assert "We'll call you tomorrow instead." in reads("needs_approval", "denied", "We'll call you tomorrow instead.")
    rejected = reads("needs_approval", "rejected")  # a person said no, and wrote nothing for the customer
    assert rejected.split("\n\n")[1] == "A colleague is looking at your message and will get back to you shortly."


def test_a_read_says_nothing_unless_its_facts_say_what_it_found() -> None:
    schema = {"type": "object", "required": ["order_id"], "properties": {"order_id": {"type": "string"}}}
    silent = declared.build("get_order", "Get an order", schema, "read", None)
    assert silent.done({"order_id": "O-1"}, {"status": "shipped"}, {}) == ""
    assert declared.written("Get an order", schema, "read") is None
    told = declared.build("get_order", "Get an order", schema, "read", ActionWording(
        facts="Order {order_id} is {result.status:lower}. {result.refundable:money} of it can still be refunded."))
    assert told.done({"order_id": "O-1"}, {"status": "Shipped", "refundable": 45.5}, {}) == \
        "Order O-1 is shipped. $45.50 of it can still be refunded."
    assert not told.claimed.search("Order O-1 is shipped.")  # a look-up is never "done" in a way a reply can claim


def test_actions_check_names_each_template_field_that_names_nothing(tmp_path: Path) -> None:
    path = tmp_path / "actions.yaml"
    path.write_text(yaml.safe_dump({
        "services": {"orders": {"base_url": "https://orders.internal"}},
        "actions": [
            {"name": "get_order", "description": "One order.", "effect": "read", "service": "orders",
             "path": "/orders/{order_id}", "arguments": {"type": "object", "required": ["order_id"],
                                                         "properties": {"order_id": {"type": "string"}}},
             "wording": {"facts": "Order {order_id} is {result.status}.", "done": "Found {order}."}},
            {"name": "create_refund", "description": "A refund.", "effect": "write", "service": "orders",
             "method": "POST", "path": "/orders/{order_id}/refunds", "arguments": REFUND_ARGS,
             "owner": {"arg": "order_id"}, "result": {"id": "id", "amount": "amount"},
             "wording": {"proposed": "A refund of {amount:money} on {order_id} for {result.id}.",
                         "done": "Refunded {amount:cash} as {result.refund_id}.",
                         "waiting": "Sending {order id}.", "facts": "{amount}"}},
        ]}), encoding="utf-8")
    lines = openapi.check(path, frozenset(), frozenset())
    assert lines == [
        f"{path}: actions.get_order.wording.done: {{order}} names no argument (arguments: order_id)",
        f"{path}: actions.create_refund.wording.facts: only a read says what it found; a write says what it did in "
        "'done'",
        f"{path}: actions.create_refund.wording.proposed: {{result.id}}: there is no result before the action has "
        "run (use it in done)",
        f"{path}: actions.create_refund.wording.waiting: {{order id}} is not a field: write {{argument}}, "
        "{result.field} or {argument:money}",
        f"{path}: actions.create_refund.wording.done: {{amount:cash}}: unknown format 'cash' (formats: money, date, "
        "number, list, lower, each)",
        f"{path}: actions.create_refund.wording.done: {{result.refund_id}} names no result field (result: amount, "
        "id)",
    ], "\n".join(lines)


def test_an_imported_write_gets_words_to_edit_and_a_read_none(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.safe_dump({
        "openapi": "3.1.0", "info": {"title": "Billing"}, "servers": [{"url": "https://billing.internal"}],
        "paths": {
            "/bills/{bill_id}": {"get": {"operationId": "getBill", "summary": "Get a bill", "parameters": [
                {"name": "bill_id", "in": "path", "required": True, "schema": {"type": "string"}}]}},
            "/bills/{bill_id}/credits": {"post": {
                "operationId": "creditFee", "summary": "Credit a fee on a bill {bill_id}.",
                "parameters": [{"name": "bill_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"content": {"application/json": {"schema": {
                    "type": "object", "required": ["amount", "reason"],
                    "properties": {"amount": {"type": "number"}, "reason": {"type": "string"}}}}}}}},
        }}), encoding="utf-8")
    target = tmp_path / "actions.yaml"
    openapi.import_openapi(str(spec), target)
    by_name = {a["name"]: a for a in yaml.safe_load(target.read_text())["actions"]}
    assert "wording" not in by_name["get_bill"]
    said = by_name["credit_fee"]["wording"]
    assert set(said) == set(STATES)
    assert said[DONE] == "Done: credit a fee on a bill (bill {bill_id}, amount {amount:money})."
    assert not re.search(r"\{reason", " ".join(said.values()))
    assert not [line for line in openapi.check(target, frozenset(), frozenset()) if ".wording" in line]


def test_an_mcp_tool_gets_words_from_its_title_and_a_re_import_keeps_the_ones_it_was_given() -> None:
    from cx_core.http_actions.mcp_tools import _worded
    from cx_core.http_actions.spec import McpServer, McpTool

    server = McpServer(name="vouchers", url="https://tools.internal/mcp", trusted=True)
    schema = {"type": "object", "required": ["customer_id", "amount"],
              "properties": {"customer_id": {"type": "string"}, "amount": {"type": "number"},
                             "idempotency_key": {"type": "string"}}}
    tools = [McpTool(name="issue_voucher", title="Issue a voucher", input_schema=schema),
             McpTool(name="find_voucher", title="Find a voucher", input_schema=schema,
                     annotations={"readOnlyHint": True})]
    fresh = {t.name: t for t in _worded(server, tools, {})}
    said = fresh["issue_voucher"].wording
    assert said is not None and said.done == "Done: issue a voucher (amount {amount:money})."
    assert fresh["find_voucher"].wording is None  # a read says nothing until its facts are written
    edited = {"mcp_servers": [{"name": "vouchers", "tools": [
        {"name": "issue_voucher", "wording": {"done": "I've sent you a voucher worth {amount:money}."}}]}]}
    again = {t.name: t for t in _worded(server, tools, edited)}
    kept = again["issue_voucher"].wording
    assert kept is not None and kept.done == "I've sent you a voucher worth {amount:money}." and kept.proposed is None


def test_a_declared_action_named_like_another_packs_keeps_that_packs_words_once_it_goes() -> None:
    before = wording.WORDING["refund"]
    wording.declare("refund", declared.build("refund", "Refund a payment", REFUND_ARGS, "write", None))
    assert wording.WORDING["refund"] is not before
    wording.forget_declared()
    assert wording.WORDING["refund"] is before
