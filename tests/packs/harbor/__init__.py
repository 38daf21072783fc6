"""Harbor Outfitters, a third pack written the way a new team writes one: its order service's actions declared as
data (``actions.yaml``, imported from the service's OpenAPI document), recipes as data, hard-wrapped Markdown
articles with front matter, prices in pounds, and one action of its own in Python. Nothing in the engine knows it."""

from __future__ import annotations

from pathlib import Path

from cx_core.domain import Brand, DomainPack, Locale

ROOT = Path(__file__).resolve().parent

PACK = DomainPack(
    name="harbor",
    title="Harbor Outfitters",
    package="tests.packs.harbor",
    root=ROOT,
    task_types={"refund_request": "refund", "order_status": "order status", "setup_question": "set-up question",
                "callback_request": "call back"},
    informational=frozenset({"order_status", "setup_question"}),
    brand=Brand(name="Harbor Outfitters", signature="Best wishes,\nHarbor Outfitters Care",
                sender="care@harbor.example"),
    locale=Locale(currency="GBP", time_zone="Europe/London"),
    modules={"actions": "tests.packs.harbor.actions", "records": "tests.packs.harbor.records",
             "planner": "tests.packs.harbor.planner"},
)
