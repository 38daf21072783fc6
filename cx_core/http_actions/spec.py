"""What a declared action is: the YAML a pack keeps in ``actions.yaml`` (written by hand or by ``actions
import-openapi``), read into these models and checked with every problem's file and field.

```yaml
services:
  orders:                                   # a system of the team's, reached over HTTP
    base_url: ${ORDERS_URL}                 # ${NAME}: the setting TANDEM_NAME (environment or secrets.toml)
    headers: {Authorization: "Bearer ${ORDERS_TOKEN}"}   # secrets are references, never values (also in a
                                            # base URL's path and an action's query), and never stored
    allowed_hosts: [orders.internal]        # default: the base URL's host
actions:
  - name: refund_order
    label: Refund an order
    description: Refund part or all of what was paid for an order.   # also what a model would see
    effect: write                           # read | write | destructive
    service: orders
    method: POST
    path: /orders/{order_id}/refunds
    body: {amount: "{amount}", reason: "{reason}"}
    arguments: {type: object, required: [order_id, amount, reason], properties: {…}}   # JSON Schema
    owner: {action: get_order, args: {order_id: "{order_id}"}, field: customer_id}
    amount: {arg: amount}
    idempotency_key: Idempotency-Key        # the header that carries Tandem's key; retries only with it
    preview: {method: POST, path: /orders/{order_id}/refunds/preview, body: {…}, ok: ok, reason: reason}
    undo: {method: DELETE, path: "/refunds/{result.refund_id}"}
    result: {refund_id: id, status: status}  # what the reply and the next steps read
    wording:                                # what the reply says of it, by state; default: from the label
      proposed: "I've asked a colleague to approve a refund of {amount:money} on order {order_id}."
      waiting: "A refund of {amount:money} on order {order_id} is on its way to our payments team."
      done: "I've refunded {amount:money} on order {order_id} (refund {result.refund_id})."
      refused: "The refund on order {order_id} could not be made this way; a colleague will call you."
      failed: "The refund on order {order_id} has not gone through yet; we'll try again and confirm."
      verbs: [refunded, reimbursed]         # a sentence claiming it was done…
      topic: [refund, order]                # …and naming it (so nothing says it ran when it did not)
```
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = r"^[a-z][a-z0-9_]{1,59}$"
REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
FILE_NAME = "actions.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Service(Strict):
    """A system the actions call."""

    base_url: str = Field(description="e.g. https://orders.internal/api or ${ORDERS_URL}")
    headers: dict[str, str] = Field(default_factory=dict, description="Sent on every call; secrets as ${NAME}.")
    allowed_hosts: list[str] = Field(default_factory=list, description="Hosts calls may reach; default the base "
                                     "URL's host.")
    timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds before a call counts as unanswered.")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith("${") and urlsplit(value).scheme not in {"http", "https"}:
            raise ValueError("must start with http:// or https:// (or be a ${NAME} setting)")
        return value.rstrip("/")


class Call(Strict):
    """One HTTP request, its parts templates over the arguments (``{order_id}``) and, for an undo, the result
    (``{result.refund_id}``)."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or value.startswith("//"):
            raise ValueError("must start with a single / (the service's base URL comes before it)")
        return value


class Preview(Call):
    """A dry-run or validation endpoint: it answers whether the call would succeed, changing nothing."""

    ok: str | None = Field(default=None, description="Field of the answer that is true when it would succeed.")
    reason: str | None = Field(default=None, description="Field of the answer that says why not.")


class Lookup(Strict):
    """Where a value is found: an argument, or a field of what a read action returns."""

    arg: str | None = None
    action: str | None = None
    args: dict[str, str] = Field(default_factory=dict)
    field: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Lookup:
        if bool(self.arg) == bool(self.action):
            raise ValueError("give either 'arg' (an argument) or 'action' with 'field' (a read action's answer)")
        if self.action and not self.field:
            raise ValueError("'field' names what the read action's answer holds")
        return self


class Precondition(Lookup):
    """A condition checked through a read action before a person is asked to approve (and in replay)."""

    one_of: list[Any] | None = None
    at_least: Any = None
    message: str = Field(min_length=3, description="What the advisor reads when it does not hold.")


class ActionWording(Strict):
    """What the reply says of an action in each state, as templates: ``{order_id}`` an argument,
    ``{result.refund_id}`` a field of what it returned (once done), ``{reason}`` why it was refused, each with an
    optional format (``{amount:money}``, ``{new_date:date}``). A sentence naming a field with no value is left out.
    A state left out gets the default built from the label; ``""`` says nothing in that state."""

    proposed: str | None = Field(default=None, description="The agent proposes it; a person decides.")
    waiting: str | None = Field(default=None, description="Approved and sent; the system's answer is to come.")
    done: str | None = Field(default=None, description="It ran: past tense; may use {result.x}.")
    refused: str | None = Field(default=None, description="The system or policy refused it: what happens instead.")
    failed: str | None = Field(default=None, description="It could not be done now: what happens next.")
    facts: str | None = Field(default=None, description="A read: what it found that the customer may be told.")
    noun: str | None = Field(default=None, description="How an advisor's messages name it (\"the refund\").")
    verbs: list[str] | None = Field(default=None, description="Verbs of a sentence saying it was done "
                                    "(refunded, reimbursed).")
    topic: list[str] | None = Field(default=None, description="Words such a sentence names (refund, order).")

    @field_validator("verbs", "topic", mode="before")
    @classmethod
    def _words(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [w.strip() for w in re.split(r"[,|]", value) if w.strip()]
        return value


class Declared(Strict):
    """One action of a team's own system."""

    name: str = Field(pattern=NAME)
    label: str = ""
    description: str = Field(min_length=3)
    effect: Literal["read", "write", "destructive"]
    service: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)
    arguments: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    owner: Lookup | None = None
    amount: Lookup | None = None
    result: dict[str, str] | None = None
    idempotency_key: str | None = Field(default=None, description="Header that carries Tandem's idempotency key.")
    retry: int = Field(default=0, ge=0, le=10, description="Extra tries after a timeout or 5xx (reads, or calls "
                                                             "that carry an idempotency key).")
    preview: Preview | None = None
    preconditions: list[Precondition] = Field(default_factory=list)
    undo: Call | None = None
    task_types: list[str] = Field(default_factory=list)
    risk: Literal["low", "medium", "high"] = "medium"
    confirm: bool | None = Field(default=None, description="A person confirms before it runs; default: destructive "
                                 "actions and those without an undo.")
    wording: ActionWording | None = None
    refunds_in_full: bool = Field(default=False, description="Whenever the rules allow it, it gives back everything "
                                  "the customer paid: a condition on getting all their money back is then met.")

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Declared:
        if not self.path.startswith("/") or self.path.startswith("//"):
            raise ValueError("path: must start with a single /")
        if self.effect == "read" and self.method != "GET":
            raise ValueError(f"effect: a read is a GET, not a {self.method}; say write or destructive")
        if self.retry and self.effect != "read" and not self.idempotency_key:
            raise ValueError("retry: a write is retried only when it carries an idempotency key "
                             "(idempotency_key: Idempotency-Key), or a retry could do it twice")
        return self

    def call(self) -> Call:
        return Call(method=self.method, path=self.path, query=self.query, body=self.body, headers=self.headers)

    @property
    def needs_confirmation(self) -> bool:
        if self.confirm is not None:
            return self.confirm
        return self.effect == "destructive" or (self.effect == "write" and self.undo is None)


class McpTool(Strict):
    """A tool as the server listed it when it was registered (``actions import-mcp``)."""

    name: str
    title: str = ""
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    annotations: dict[str, Any] = Field(default_factory=dict)
    wording: ActionWording | None = None


class McpServer(Strict):
    """An MCP server whose tools become actions: launched (``command``) or reached over HTTP (``url``)."""

    name: str = Field(pattern=NAME)
    command: list[str] | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    trusted: bool = Field(default=False, description="Read the tools' annotations (read-only, destructive); "
                                                     "untrusted: every tool is destructive and confirmed.")
    tools: list[McpTool] = Field(default_factory=list)
    task_types: list[str] = Field(default_factory=list)
    timeout: float = Field(default=20.0, gt=0, le=300)

    @model_validator(mode="after")
    def _one(self) -> McpServer:
        if bool(self.command) == bool(self.url):
            raise ValueError("give either 'command' (a server Tandem launches) or 'url' (one it reaches over HTTP)")
        return self


class Part(Strict):
    """One action of a composite, with its arguments as templates over the composite's (``{visit_id}``) and what the
    parts before it returned (``{parts.0.id}``)."""

    action: str = Field(pattern=NAME)
    args: dict[str, Any] = Field(default_factory=dict)


class Composite(Strict):
    """Several declared writes approved once, run in order, undone as a whole (``composite.py``)."""

    name: str = Field(pattern=NAME)
    label: str = ""
    description: str = Field(min_length=3)
    effect: Literal["write", "destructive"] = "write"
    arguments: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    parts: list[Part] = Field(min_length=2)
    task_types: list[str] = Field(default_factory=list)
    risk: Literal["low", "medium", "high"] = "medium"
    confirm: bool | None = None
    wording: ActionWording | None = None


class ActionsFile(Strict):
    services: dict[str, Service] = Field(default_factory=dict)
    actions: list[Declared] = Field(default_factory=list)
    mcp_servers: list[McpServer] = Field(default_factory=list)
    composites: list[Composite] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> ActionsFile:
        names = [a.name for a in self.actions]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"actions: {', '.join(twice)} declared twice")
        return self
