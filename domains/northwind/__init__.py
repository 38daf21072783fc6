"""Northwind Energy: an electricity and gas supplier whose customers, supply accounts, meter readings, bills,
payment plans and engineer visits live in its own HTTP service. The pack is data: actions imported from the
service's OpenAPI document (actions.yaml), the customer card (card.yaml), recipes, knowledge and policy."""

from pathlib import Path

from cx_core.domain import Brand, ChannelSpec, DomainPack, Locale

PACK = DomainPack(
    name="northwind", title="Northwind Energy", package="domains.northwind", root=Path(__file__).resolve().parent,
    task_types={
        "meter_reading": "submit a meter reading",
        "bill_question": "question about a bill",
        "fee_waiver": "late fee dispute",
        "tariff_question": "tariff question",
        "tariff_change": "change tariff",
        "payment_plan": "payment plan",
        "payment_date": "change direct-debit date",
        "book_visit": "book an engineer visit",
        "move_visit": "move an engineer visit",
        "moving_home": "moving home",
    },
    informational=frozenset({"bill_question", "tariff_question"}),
    channels=(ChannelSpec("email", "E-mail", sla_minutes=1440), ChannelSpec("chat", "Web chat", 15, live=True),
              ChannelSpec("phone", "Phone", 240, live=True), ChannelSpec("app", "Northwind app", 480)),
    brand=Brand(name="Northwind Energy", signature="Kind regards,\nThe Northwind Energy team",
                sender="help@northwind-energy.example"),
    locale=Locale(currency="GBP", region="GB", time_zone="Europe/London", date_format="%A %d %B %Y",
                  phone_example="0330 088 1234"),
    modules={},  # no Python parts: actions, customers and recipes are declared in the YAML files
)
