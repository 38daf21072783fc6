"""Northwind Energy's own service: an electricity and gas supplier's customers, supply accounts, meter readings,
bills and their lines, payment plans and engineer visits, run as a separate process for the third pack's tests.

FastAPI over its own SQLite file. Every change accepts ``Idempotency-Key``: a key seen before is answered with the
first response and applies nothing again. Money is in pounds (GBP). Engineer slots are every weekday morning and
afternoon for three weeks from the service's ``today``. Test-only routes under ``/_test`` reseed the sample data and
read what was received and applied. ``python -m tests.servers.northwind_energy --port 8700 --db nw.sqlite`` runs it
with the sample data (seeded when the file is new).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from fastapi import FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

PROJECT_ROOT = Path(__file__).resolve().parents[2]
Fuel = Literal["electricity", "gas"]
Period = Literal["morning", "afternoon"]
LineKind = Literal["energy", "standing_charge", "late_fee", "credit"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL, tier TEXT,
    phone TEXT, address TEXT, since TEXT);
CREATE TABLE IF NOT EXISTS tariffs (code TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
    fixed_months INTEGER NOT NULL, exit_fee_cents INTEGER NOT NULL, electricity_rate REAL NOT NULL,
    gas_rate REAL NOT NULL, electricity_standing REAL NOT NULL, gas_standing REAL NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, fuel TEXT NOT NULL,
    tariff TEXT NOT NULL, payment_day INTEGER NOT NULL, meter_serial TEXT NOT NULL, supply_address TEXT NOT NULL,
    status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS readings (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, account_id TEXT NOT NULL,
    reading INTEGER NOT NULL, read_on TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bills (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, period TEXT NOT NULL,
    issued_on TEXT NOT NULL, due_on TEXT NOT NULL, estimated INTEGER NOT NULL, paid_cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bill_lines (n INTEGER PRIMARY KEY AUTOINCREMENT, bill_id TEXT NOT NULL, kind TEXT NOT NULL,
    description TEXT NOT NULL, amount_cents INTEGER NOT NULL, estimated INTEGER NOT NULL DEFAULT 0,
    credit_id TEXT);
CREATE TABLE IF NOT EXISTS credits (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, bill_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, account_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL, instalments INTEGER NOT NULL, first_due TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS visits (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, date TEXT NOT NULL,
    period TEXT NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applied (n INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target TEXT NOT NULL,
    data TEXT NOT NULL, idempotency_key TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    body TEXT, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS calls (n INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT NOT NULL, path TEXT NOT NULL,
    query TEXT NOT NULL, idempotency_key TEXT, body TEXT NOT NULL, at REAL NOT NULL);
"""
TABLES = ("meta", "customers", "tariffs", "accounts", "readings", "bills", "bill_lines", "credits", "plans", "visits",
          "applied", "idempotency", "calls")

TARIFFS = [  # code, name, kind, fixed months, exit fee, unit rates (£/kWh), standing charges (£/day)
    ("FLEX", "Northwind Flex", "variable", 0, 0, 0.245, 0.062, 0.53, 0.31),
    ("FIX12", "Fixed 12", "fixed", 12, 7500, 0.231, 0.058, 0.51, 0.30),
    ("FIX24", "Fixed 24", "fixed", 24, 15000, 0.238, 0.060, 0.49, 0.29),
    ("GREEN12", "Green Fixed 12", "fixed", 12, 5000, 0.252, 0.064, 0.51, 0.30),
]


def _weekday_on_or_after(d: date) -> date:
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def sample(today: date) -> dict[str, Any]:
    """The sample customers, accounts, bills and visits around ``today``."""
    month = (today.replace(day=1) - timedelta(days=1))
    period = month.strftime("%B %Y")
    earlier = (month.replace(day=1) - timedelta(days=1)).strftime("%B %Y")
    issued = month.replace(day=min(month.day, 28)).isoformat()
    visit_day = _weekday_on_or_after(today + timedelta(days=3))
    customers = [
        ("C-1001", "priya.shah@example.co.uk", "Priya Shah", "priority", "07700 900123", "14 Mill Lane, Bristol BS3 4HG",
         "2019-05-02"),
        ("C-1002", "tom.bennett@example.co.uk", "Tom Bennett", None, None, "3 Quay Street, Hull HU1 1PS",
         "2023-01-16"),
        ("C-1003", "aisha.okafor@example.co.uk", "Aisha Okafor", "standard", "07700 900456",
         "Flat 2, 9 Carver Road, Leeds LS6 2AB", "2021-09-30"),
        ("C-1004", "gareth.lloyd@example.co.uk", "Gareth Lloyd", "standard", None, "27 Heol Fach, Cardiff CF14 3RT",
         "2018-11-05"),
        ("C-1005", "mei.chen@example.co.uk", "Mei Chen", None, "07700 900789", "61 Orchard Way, Reading RG2 7JH",
         "2022-04-11"),
        ("C-1006", "olu.adeyemi@example.co.uk", "Olu Adeyemi", "standard", None, "8 Brook Terrace, York YO10 3LP",
         "2020-02-20"),
    ]
    accounts = [  # id, customer, fuel, tariff, payment day, meter serial, last actual reading
        ("E-2001", "C-1001", "electricity", "FLEX", 1, "E17K04512", 23540),
        ("G-2002", "C-1001", "gas", "FLEX", 1, "G4A88213", 8412),
        ("E-2003", "C-1002", "electricity", "FIX12", 5, "E21P77310", 40518),
        ("G-2004", "C-1003", "gas", "FLEX", 20, "G4B10027", 15590),
        ("E-2005", "C-1004", "electricity", "GREEN12", 12, "E19S55001", 31002),
        ("E-2006", "C-1005", "electricity", "FLEX", 8, "E20M10944", 12077),
        ("G-2007", "C-1005", "gas", "FLEX", 8, "G4C30561", 5230),
        ("E-2008", "C-1006", "electricity", "FIX12", 15, "E22T00318", 9804),
    ]
    # id, account, period, estimated, energy (£), standing (£), late fee (£), paid (£)
    bills = [
        ("B-3001", "E-2001", period, True, 68.60, 15.60, 0, 0),
        ("B-3002", "G-2002", period, False, 41.10, 9.30, 0, 50.40),
        ("B-3003", "E-2003", period, False, 71.40, 13.00, 12.00, 0),
        ("B-3004", "G-2004", earlier, False, 189.00, 9.30, 12.00, 0),
        ("B-3005", "G-2004", period, False, 193.15, 9.30, 0, 0),
        ("B-3006", "E-2006", period, False, 52.80, 15.60, 12.00, 0),
        ("B-3007", "G-2007", period, False, 38.90, 9.30, 12.00, 0),
        ("B-3008", "E-2008", period, True, 44.25, 15.30, 0, 0),
    ]
    visits = [("V-4001", "E-2005", visit_day.isoformat(), "morning", "smart meter installation", "booked")]
    taken = [(visit_day.isoformat(), "morning")]
    return {"today": today.isoformat(), "issued": issued, "customers": customers, "accounts": accounts,
            "bills": bills, "visits": visits, "taken": taken}


class Problem(BaseModel):
    """Every error: one line saying what is wrong."""

    detail: str = Field(description="What went wrong, in one line.", examples=["account E-9999 not found"])


class Customer(BaseModel):
    """A customer of Northwind Energy."""

    id: str = Field(description="Customer number.", examples=["C-1001"])
    email: str = Field(description="E-mail address on the account.")
    name: str = Field(description="Full name.", examples=["Priya Shah"])
    tier: str | None = Field(default=None, description="Service tier: standard or priority (the Priority Services "
                                                       "Register); absent when not recorded.")
    phone: str | None = Field(default=None, description="Phone number, when given.")
    address: str | None = Field(default=None, description="Postal address.")
    since: str | None = Field(default=None, description="Date the customer joined.")


class Account(BaseModel):
    """A supply account: one fuel at one address, with its tariff, balance and direct-debit day."""

    id: str = Field(description="Supply account number.", examples=["E-2001"])
    customer_id: str = Field(description="Customer the account belongs to.", examples=["C-1001"])
    fuel: Fuel = Field(description="electricity or gas.")
    tariff: str = Field(description="Tariff code.", examples=["FLEX"])
    tariff_name: str = Field(description="Tariff name.", examples=["Northwind Flex"])
    payment_day: int = Field(description="Day of the month the direct debit is taken.", examples=[1])
    balance: float = Field(description="What the customer owes now, in pounds (negative: in credit).")
    meter_serial: str = Field(description="Meter serial number.")
    last_reading: int = Field(description="Last actual meter reading.")
    last_read_on: str = Field(description="Date of the last actual reading.")
    supply_address: str = Field(description="Where the energy is supplied.")
    payment_plan: str | None = Field(default=None, description="Id of the active payment plan, if any.")
    status: str = Field(description="active or closed.")


class Line(BaseModel):
    kind: LineKind = Field(description="What the line charges (or credits).")
    description: str
    amount: float = Field(description="Pounds; a credit is negative.")
    estimated: bool = Field(description="True when the line is worked out from an estimated reading.")


class BillSummary(BaseModel):
    """A bill as listed for a customer."""

    id: str = Field(description="Bill number.", examples=["B-3001"])
    account_id: str
    customer_id: str
    fuel: Fuel
    period: str = Field(description="Month billed.", examples=["October 2026"])
    issued_on: str
    due_on: str
    estimated: bool = Field(description="True when the bill is worked out from an estimated reading.")
    total: float = Field(description="Charges less credits, in pounds.")
    paid: float
    outstanding: float = Field(description="What is still to pay on this bill.")
    late_fee: float = Field(description="Late-payment fee still charged on this bill (0 when none or waived).")


class Bill(BillSummary):
    """A bill with its lines."""

    lines: list[Line]


class AccountList(BaseModel):
    items: list[Account]


class BillList(BaseModel):
    items: list[BillSummary]


class Slot(BaseModel):
    """A free engineer slot."""

    id: str = Field(description="Date and part of the day.", examples=["2026-11-24-morning"])
    date: str
    period: Period


class SlotList(BaseModel):
    items: list[Slot]


class Tariff(BaseModel):
    code: str = Field(examples=["FIX12"])
    name: str
    kind: Literal["fixed", "variable"]
    fixed_months: int
    exit_fee: float = Field(description="Fee for leaving a fixed tariff early, in pounds per fuel.")
    electricity_unit_rate: float = Field(description="Pounds per kWh.")
    gas_unit_rate: float
    electricity_standing_charge: float = Field(description="Pounds per day.")
    gas_standing_charge: float


class TariffList(BaseModel):
    items: list[Tariff]


class Visit(BaseModel):
    id: str = Field(examples=["V-4001"])
    account_id: str
    customer_id: str
    date: str
    period: Period
    reason: str
    status: Literal["booked", "cancelled", "done"]


class VisitList(BaseModel):
    items: list[Visit]


class Check(BaseModel):
    """Whether a change would be accepted, without making it."""

    ok: bool
    reason: str


class ReadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reading: int = Field(ge=0, le=999999, description="The number on the meter's display, without decimals.",
                         examples=[23817])


class ReadingOut(BaseModel):
    id: str
    account_id: str
    reading: int
    read_on: str
    rebilled: str | None = Field(description="The estimated bill worked out again from this reading, if any.")
    bill_total: float | None = Field(description="That bill's new total.")


class CreditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: float = Field(gt=0, description="Pounds to credit; at most what the bill still charges.",
                          examples=[12.0])
    reason: str = Field(min_length=1, max_length=300, examples=["late fee waived: bank error"])


class Credit(BaseModel):
    id: str = Field(examples=["CR-1"])
    bill_id: str
    amount: float
    reason: str
    status: Literal["applied"]


class TariffChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tariff_code: str = Field(min_length=1, description="Code of the new tariff (see getTariffs).",
                             examples=["FIX12"])


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: float = Field(gt=0, description="Pounds to spread; at most the account's balance.", examples=[412.75])
    instalments: int = Field(ge=2, le=12, description="Number of monthly instalments.", examples=[6])


class Plan(BaseModel):
    id: str = Field(examples=["PP-1"])
    account_id: str
    amount: float
    instalments: int
    instalment: float = Field(description="Each monthly payment.")
    first_due: str
    status: Literal["active"]


class PaymentDay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: int = Field(ge=1, le=28, description="Day of the month for the direct debit (1 to 28).", examples=[15])


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Day of the visit.", examples=["2026-11-24"])
    period: Period = Field(description="morning (8am to 12pm) or afternoon (12pm to 5pm).")
    reason: str = Field(min_length=1, max_length=200, examples=["meter fault"])


class VisitMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="New day of the visit.")
    period: Period = Field(description="morning or afternoon.")


AccountId = Annotated[str, PathParam(description="Supply account number.", examples=["E-2001"])]
CustomerId = Annotated[str, PathParam(description="Customer number.", examples=["C-1001"])]
BillId = Annotated[str, PathParam(description="Bill number.", examples=["B-3001"])]
VisitId = Annotated[str, PathParam(description="Visit id.", examples=["V-4001"])]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description="Makes the call safe to retry: a "
                                                                                    "key seen before gets the first "
                                                                                    "answer and changes nothing.")]
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "Not found."},
                                           409: {"model": Problem, "description": "Conflicts with the record's state."},
                                           422: {"model": Problem, "description": "Invalid or refused."}}


def cents(x: float) -> int:
    return int(round(x * 100))


def pounds(c: int) -> float:
    return round(c / 100, 2)


class HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class Store:
    """The service's SQLite file; writes one at a time."""

    def __init__(self, path: Path, today: date | None = None) -> None:
        self.path = path
        self.lock = threading.Lock()
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            fresh = db.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 0
        if fresh:
            self.seed(today or date.today())

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            db = self.connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            finally:
                db.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        db = self.connect()
        try:
            yield db
        finally:
            db.close()

    def seed(self, today: date) -> None:
        data = sample(today)
        with self.write() as db:
            for table in TABLES:
                db.execute(f"DELETE FROM {table}")
            db.execute("INSERT INTO meta VALUES ('today', ?)", (data["today"],))
            db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)", data["customers"])
            db.executemany("INSERT INTO tariffs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", TARIFFS)
            address = {c[0]: c[5] for c in data["customers"]}
            for acc, cust, fuel, tariff, day, serial, last in data["accounts"]:
                db.execute("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, 'active')",
                           (acc, cust, fuel, tariff, day, serial, address[cust]))
                db.execute("INSERT INTO readings (id, account_id, reading, read_on, source) "
                           "VALUES (?, ?, ?, ?, 'engineer')", (f"R-{acc}", acc, last, data["issued"][:8] + "01"))
            for bid, acc, per, est, energy, standing, fee, paid in data["bills"]:
                due = (date.fromisoformat(data["issued"]) + timedelta(days=14)).isoformat()
                db.execute("INSERT INTO bills VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (bid, acc, per, data["issued"], due, int(est), cents(paid)))
                db.execute("INSERT INTO bill_lines (bill_id, kind, description, amount_cents, estimated) VALUES "
                           "(?, 'energy', ?, ?, ?)", (bid, f"Energy used in {per}" + (" (estimated)" if est else ""),
                                                      cents(energy), int(est)))
                db.execute("INSERT INTO bill_lines (bill_id, kind, description, amount_cents) VALUES "
                           "(?, 'standing_charge', ?, ?)", (bid, "Standing charge", cents(standing)))
                if fee:
                    db.execute("INSERT INTO bill_lines (bill_id, kind, description, amount_cents) VALUES "
                               "(?, 'late_fee', 'Late payment fee', ?)", (bid, cents(fee)))
            db.executemany("INSERT INTO visits VALUES (?, ?, ?, ?, ?, ?)", data["visits"])

    # ------------------------------------------------------------------ reading records
    @staticmethod
    def today(db: sqlite3.Connection) -> date:
        return date.fromisoformat(db.execute("SELECT value FROM meta WHERE key = 'today'").fetchone()[0])

    @staticmethod
    def customer(db: sqlite3.Connection, customer_id: str) -> dict[str, Any]:
        row = db.execute("SELECT id, email, name, tier, phone, address, since FROM customers WHERE id = ?",
                         (customer_id,)).fetchone()
        if row is None:
            raise HttpError(404, f"customer {customer_id} not found")
        out = dict(zip(("id", "email", "name", "tier", "phone", "address", "since"), row, strict=True))
        return {k: v for k, v in out.items() if v is not None}

    def account(self, db: sqlite3.Connection, account_id: str) -> dict[str, Any]:
        row = db.execute("SELECT a.id, a.customer_id, a.fuel, a.tariff, t.name, a.payment_day, a.meter_serial, "
                         "a.supply_address, a.status FROM accounts a JOIN tariffs t ON t.code = a.tariff "
                         "WHERE a.id = ?", (account_id,)).fetchone()
        if row is None:
            raise HttpError(404, f"account {account_id} not found")
        acc = dict(zip(("id", "customer_id", "fuel", "tariff", "tariff_name", "payment_day", "meter_serial",
                        "supply_address", "status"), row, strict=True))
        last = db.execute("SELECT reading, read_on FROM readings WHERE account_id = ? ORDER BY n DESC LIMIT 1",
                          (account_id,)).fetchone()
        acc["last_reading"], acc["last_read_on"] = last
        bills = [self.bill(db, b[0]) for b in db.execute("SELECT id FROM bills WHERE account_id = ?", (account_id,))]
        acc["balance"] = round(sum(b["outstanding"] for b in bills), 2)
        plan = db.execute("SELECT id FROM plans WHERE account_id = ? AND status = 'active'", (account_id,)).fetchone()
        acc["payment_plan"] = plan[0] if plan else None
        return acc

    @staticmethod
    def bill(db: sqlite3.Connection, bill_id: str, lines: bool = False) -> dict[str, Any]:
        row = db.execute("SELECT b.id, b.account_id, a.customer_id, a.fuel, b.period, b.issued_on, b.due_on, "
                         "b.estimated, b.paid_cents FROM bills b JOIN accounts a ON a.id = b.account_id "
                         "WHERE b.id = ?", (bill_id,)).fetchone()
        if row is None:
            raise HttpError(404, f"bill {bill_id} not found")
        out = dict(zip(("id", "account_id", "customer_id", "fuel", "period", "issued_on", "due_on", "estimated",
                        "paid"), row, strict=True))
        rows = db.execute("SELECT kind, description, amount_cents, estimated FROM bill_lines WHERE bill_id = ? "
                          "ORDER BY n", (bill_id,)).fetchall()
        total = sum(r[2] for r in rows)
        fee = sum(r[2] for r in rows if r[0] == "late_fee")
        fee_credit = -sum(r[2] for r in rows if r[0] == "credit" and "late" in r[1].lower())
        out.update(estimated=bool(out["estimated"]), total=pounds(total), paid=pounds(out["paid"]),
                   outstanding=pounds(max(total - out["paid"], 0)), late_fee=pounds(max(fee - fee_credit, 0)))
        if lines:
            out["lines"] = [{"kind": r[0], "description": r[1], "amount": pounds(r[2]), "estimated": bool(r[3])}
                            for r in rows]
        return out

    @staticmethod
    def visit(db: sqlite3.Connection, visit_id: str) -> dict[str, Any]:
        row = db.execute("SELECT v.id, v.account_id, a.customer_id, v.date, v.period, v.reason, v.status "
                         "FROM visits v JOIN accounts a ON a.id = v.account_id WHERE v.id = ?", (visit_id,)).fetchone()
        if row is None:
            raise HttpError(404, f"visit {visit_id} not found")
        return dict(zip(("id", "account_id", "customer_id", "date", "period", "reason", "status"), row, strict=True))

    def free_slots(self, db: sqlite3.Connection, start: date | None = None, days: int = 21) -> list[dict[str, Any]]:
        today = self.today(db)
        first = max(start or today + timedelta(days=1), today + timedelta(days=1))
        taken = {(r[0], r[1]) for r in db.execute("SELECT date, period FROM visits WHERE status = 'booked'")}
        out = []
        for i in range(days):
            d = first + timedelta(days=i)
            if d.weekday() >= 5 or d > today + timedelta(days=21):
                continue
            for period in ("morning", "afternoon"):
                if (d.isoformat(), period) not in taken:
                    out.append({"id": f"{d.isoformat()}-{period}", "date": d.isoformat(), "period": period})
        return out

    @staticmethod
    def tariff(db: sqlite3.Connection, code: str) -> dict[str, Any] | None:
        row = db.execute("SELECT code, name, kind, fixed_months, exit_fee_cents, electricity_rate, gas_rate, "
                         "electricity_standing, gas_standing FROM tariffs WHERE upper(code) = upper(?)",
                         (code,)).fetchone()
        if row is None:
            return None
        return {"code": row[0], "name": row[1], "kind": row[2], "fixed_months": row[3], "exit_fee": pounds(row[4]),
                "electricity_unit_rate": row[5], "gas_unit_rate": row[6], "electricity_standing_charge": row[7],
                "gas_standing_charge": row[8]}

    # ------------------------------------------------------------------ the checks each change makes
    def check_reading(self, db: sqlite3.Connection, account_id: str, reading: int) -> dict[str, Any]:
        acc = self.account(db, account_id)
        if reading < acc["last_reading"]:
            raise HttpError(422, f"a reading of {reading} is lower than the last one we have ({acc['last_reading']}, "
                                 f"read on {acc['last_read_on']})")
        if reading - acc["last_reading"] > 20000:
            raise HttpError(422, f"a reading of {reading} is {reading - acc['last_reading']} units above the last "
                                 f"one: check the digits")
        return acc

    def check_credit(self, db: sqlite3.Connection, bill_id: str, amount: float) -> dict[str, Any]:
        bill = self.bill(db, bill_id)
        if cents(amount) > cents(bill["total"]):
            raise HttpError(422, f"a credit of £{amount:.2f} is more than bill {bill_id} charges (£{bill['total']:.2f})")
        return bill

    def check_plan(self, db: sqlite3.Connection, account_id: str, amount: float) -> dict[str, Any]:
        acc = self.account(db, account_id)
        if acc["payment_plan"]:
            raise HttpError(409, f"account {account_id} already has payment plan {acc['payment_plan']}")
        if cents(amount) > cents(acc["balance"]):
            raise HttpError(422, f"a plan of £{amount:.2f} is more than the £{acc['balance']:.2f} owed on account "
                                 f"{account_id}")
        return acc

    def check_slot(self, db: sqlite3.Connection, day: str, period: str, ignore: str = "") -> None:
        try:
            wanted = date.fromisoformat(day)
        except ValueError as exc:
            raise HttpError(422, f"{day} is not a date") from exc
        free = {(s["date"], s["period"]) for s in self.free_slots(db)}
        if ignore:
            v = self.visit(db, ignore)
            free.add((v["date"], v["period"]))
        if (day, period) not in free:
            why = "is a weekend" if wanted.weekday() >= 5 else "is not free"
            raise HttpError(409, f"the {period} of {day} {why}; free slots are listed by listFreeSlots")

    @staticmethod
    def apply(db: sqlite3.Connection, kind: str, target: str, data: dict[str, Any], key: str | None) -> None:
        db.execute("INSERT INTO applied (kind, target, data, idempotency_key, at) VALUES (?, ?, ?, ?, ?)",
                   (kind, target, json.dumps(data), key, time.time()))

    def idempotent(self, key: str | None, fingerprint: dict[str, Any],
                   act: Callable[[sqlite3.Connection], tuple[int, Any]]) -> Response:
        """``act`` once per ``Idempotency-Key``, in one transaction; a key seen before gets its first answer."""
        digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()
        with self.write() as db:
            if key:
                seen = db.execute("SELECT fingerprint, status, body FROM idempotency WHERE key = ?", (key,)).fetchone()
                if seen is not None:
                    if seen[0] != digest:
                        return JSONResponse({"detail": "Idempotency-Key reused with another request"}, 422)
                    return JSONResponse(json.loads(seen[2]), seen[1], headers={"Idempotent-Replayed": "true"})
            try:
                status, body = act(db)
            except HttpError as e:
                status, body = e.status, {"detail": e.detail}
            if key:
                db.execute("INSERT INTO idempotency VALUES (?, ?, ?, ?, ?)",
                           (key, digest, status, json.dumps(body), time.time()))
        return JSONResponse(body, status)

    def record(self, method: str, path: str, query: str, key: str | None, body: bytes) -> None:
        with self.write() as db:
            db.execute("INSERT INTO calls (method, path, query, idempotency_key, body, at) VALUES (?, ?, ?, ?, ?, ?)",
                       (method, path, query, key, body.decode("utf-8", "replace"), time.time()))


def _check(fn: Callable[[], str]) -> dict[str, Any]:
    try:
        return {"ok": True, "reason": fn()}
    except HttpError as e:
        return {"ok": False, "reason": e.detail}


def create_app(db_path: Path, today: date | None = None, token: str = "") -> FastAPI:
    """The service over the SQLite file at ``db_path``; with ``token``, every call but the OpenAPI document and the
    test routes needs ``Authorization: Bearer TOKEN``."""
    store = Store(db_path, today)
    app = FastAPI(title="Northwind Energy", version="2.3.0",
                  description="Customers, supply accounts, meter readings, bills, payment plans and engineer visits "
                              "of Northwind Energy. Money is in pounds. Every change accepts an Idempotency-Key "
                              "header and is safe to retry with the same key.")

    @app.middleware("http")
    async def _record(request: Request, call_next: Callable[[Request], Any]) -> Any:
        path = request.url.path
        if token and not path.startswith(("/_test/", "/openapi.json", "/docs")) and \
                request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"detail": "missing or wrong token"}, 401)
        if not path.startswith("/_test/"):
            body = await request.body()
            store.record(request.method, request.url.path, request.url.query,
                         request.headers.get("idempotency-key"), body)
        return await call_next(request)

    @app.exception_handler(HttpError)
    async def _error(_request: Request, exc: HttpError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg', 'invalid')}"
                 for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(parts)}, 422)

    # ------------------------------------------------------------------ reads
    @app.get("/customers", operation_id="findCustomer", response_model=list[Customer], tags=["customers"],
             summary="Find a customer by e-mail", description="The customers whose e-mail address is this one "
                                                              "(none or one).")
    def find_customer(email: Annotated[str, Query(description="E-mail address.")]) -> list[Any]:
        with store.read() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM customers WHERE lower(email) = lower(?)", (email.strip(),))]
            return [store.customer(db, i) for i in ids]

    @app.get("/customers/{customer_id}", operation_id="getCustomer", response_model=Customer, tags=["customers"],
             summary="Get a customer", responses=ERRORS)
    def get_customer(customer_id: CustomerId) -> dict[str, Any]:
        with store.read() as db:
            return store.customer(db, customer_id)

    @app.get("/customers/{customer_id}/accounts", operation_id="listAccounts", response_model=AccountList,
             tags=["accounts"], summary="List a customer's supply accounts", responses=ERRORS)
    def list_accounts(customer_id: CustomerId) -> dict[str, Any]:
        with store.read() as db:
            store.customer(db, customer_id)
            ids = [r[0] for r in db.execute("SELECT id FROM accounts WHERE customer_id = ? ORDER BY id",
                                            (customer_id,))]
            return {"items": [store.account(db, i) for i in ids]}

    @app.get("/accounts/{account_id}", operation_id="getAccount", response_model=Account, tags=["accounts"],
             summary="Get a supply account", responses=ERRORS)
    def get_account(account_id: AccountId) -> dict[str, Any]:
        with store.read() as db:
            return store.account(db, account_id)

    @app.get("/customers/{customer_id}/bills", operation_id="listBills", response_model=BillList, tags=["bills"],
             summary="List a customer's bills", description="Every bill of the customer's accounts, newest first.",
             responses=ERRORS)
    def list_bills(customer_id: CustomerId) -> dict[str, Any]:
        with store.read() as db:
            store.customer(db, customer_id)
            ids = [r[0] for r in db.execute("SELECT b.id FROM bills b JOIN accounts a ON a.id = b.account_id WHERE "
                                            "a.customer_id = ? ORDER BY b.issued_on DESC, b.id DESC", (customer_id,))]
            return {"items": [store.bill(db, i) for i in ids]}

    @app.get("/bills/{bill_id}", operation_id="getBill", response_model=Bill, tags=["bills"],
             summary="Get a bill with its lines", responses=ERRORS)
    def get_bill(bill_id: BillId) -> dict[str, Any]:
        with store.read() as db:
            return store.bill(db, bill_id, lines=True)

    @app.get("/slots", operation_id="listFreeSlots", response_model=SlotList, tags=["visits"],
             summary="List free engineer slots", description="Free weekday slots (morning or afternoon) in the "
                                                             "next three weeks.")
    def list_free_slots(from_date: Annotated[str | None, Query(description="First day (default tomorrow).")] = None
                        ) -> dict[str, Any]:
        with store.read() as db:
            try:
                start = date.fromisoformat(from_date) if from_date else None
            except ValueError as exc:
                raise HttpError(422, f"from_date: {from_date} is not a date") from exc
            return {"items": store.free_slots(db, start)}

    @app.get("/tariffs", operation_id="getTariffs", response_model=TariffList, tags=["tariffs"],
             summary="List the tariffs on sale")
    def get_tariffs() -> dict[str, Any]:
        with store.read() as db:
            return {"items": [store.tariff(db, r[0]) for r in db.execute("SELECT code FROM tariffs ORDER BY code")]}

    @app.get("/customers/{customer_id}/visits", operation_id="listVisits", response_model=VisitList,
             tags=["visits"], summary="List a customer's engineer visits", responses=ERRORS)
    def list_visits(customer_id: CustomerId) -> dict[str, Any]:
        with store.read() as db:
            store.customer(db, customer_id)
            ids = [r[0] for r in db.execute("SELECT v.id FROM visits v JOIN accounts a ON a.id = v.account_id "
                                            "WHERE a.customer_id = ? ORDER BY v.date", (customer_id,))]
            return {"items": [store.visit(db, i) for i in ids]}

    @app.get("/visits/{visit_id}", operation_id="getVisit", response_model=Visit, tags=["visits"],
             summary="Get an engineer visit", responses=ERRORS)
    def get_visit(visit_id: VisitId) -> dict[str, Any]:
        with store.read() as db:
            return store.visit(db, visit_id)

    # ------------------------------------------------------------------ changes
    @app.post("/accounts/{account_id}/readings", operation_id="submitReading", status_code=201,
              response_model=ReadingOut, tags=["readings"], summary="Submit a meter reading",
              description="Records an actual reading; the account's estimated bill is worked out again from it. "
                          "Refused when lower than the last reading.", responses=ERRORS)
    def submit_reading(account_id: AccountId, body: ReadingIn, idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            acc = store.check_reading(db, account_id, body.reading)
            today = store.today(db).isoformat()
            cur = db.execute("INSERT INTO readings (account_id, reading, read_on, source) VALUES (?, ?, ?, "
                             "'customer')", (account_id, body.reading, today))
            rid = f"R-{cur.lastrowid}"
            db.execute("UPDATE readings SET id = ? WHERE n = ?", (rid, cur.lastrowid))
            rebilled, total = None, None
            est = db.execute("SELECT id FROM bills WHERE account_id = ? AND estimated = 1 ORDER BY issued_on DESC "
                             "LIMIT 1", (account_id,)).fetchone()
            if est is not None:
                t = store.tariff(db, acc["tariff"]) or {}
                units = body.reading - acc["last_reading"]
                energy = cents(units * t[f"{acc['fuel']}_unit_rate"])
                db.execute("UPDATE bill_lines SET amount_cents = ?, estimated = 0, description = ? WHERE bill_id = ? "
                           "AND kind = 'energy'", (energy, f"Energy used: {units} units (actual reading)", est[0]))
                db.execute("UPDATE bills SET estimated = 0 WHERE id = ?", (est[0],))
                rebilled, total = est[0], store.bill(db, est[0])["total"]
            out = {"id": rid, "account_id": account_id, "reading": body.reading, "read_on": today,
                   "rebilled": rebilled, "bill_total": total}
            store.apply(db, "reading", account_id, out, idempotency_key)
            return 201, out

        return store.idempotent(idempotency_key, {"op": "submitReading", "account": account_id,
                                                  "body": body.model_dump()}, act)

    @app.post("/accounts/{account_id}/readings/validate", operation_id="validateReading", response_model=Check,
              tags=["readings"], summary="Check a meter reading without recording it", responses=ERRORS)
    def validate_reading(account_id: AccountId, body: ReadingIn) -> dict[str, Any]:
        with store.read() as db:
            store.account(db, account_id)
            return _check(lambda: (store.check_reading(db, account_id, body.reading), "the reading can be recorded")[1])

    @app.post("/bills/{bill_id}/credits", operation_id="creditBill", status_code=201, response_model=Credit,
              tags=["bills"], summary="Credit a bill",
              description="Credits part of a bill, such as a late-payment fee waived. At most what the bill "
                          "charges.", responses=ERRORS)
    def credit_bill(bill_id: BillId, body: CreditIn, idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            store.check_credit(db, bill_id, body.amount)
            cur = db.execute("INSERT INTO credits (bill_id, amount_cents, reason, status) VALUES (?, ?, ?, "
                             "'applied')", (bill_id, cents(body.amount), body.reason))
            cid = f"CR-{cur.lastrowid}"
            db.execute("UPDATE credits SET id = ? WHERE n = ?", (cid, cur.lastrowid))
            db.execute("INSERT INTO bill_lines (bill_id, kind, description, amount_cents, credit_id) VALUES "
                       "(?, 'credit', ?, ?, ?)", (bill_id, f"Credit: {body.reason}", -cents(body.amount), cid))
            out = {"id": cid, "bill_id": bill_id, "amount": pounds(cents(body.amount)), "reason": body.reason,
                   "status": "applied"}
            store.apply(db, "credit", bill_id, out, idempotency_key)
            return 201, out

        return store.idempotent(idempotency_key, {"op": "creditBill", "bill": bill_id, "body": body.model_dump()},
                                act)

    @app.post("/bills/{bill_id}/credits/preview", operation_id="previewCredit", response_model=Check,
              tags=["bills"], summary="Check a credit without making it", responses=ERRORS)
    def preview_credit(bill_id: BillId, body: CreditIn) -> dict[str, Any]:
        with store.read() as db:
            store.bill(db, bill_id)
            return _check(lambda: (store.check_credit(db, bill_id, body.amount), "the credit fits the bill")[1])

    @app.delete("/credits/{credit_id}", operation_id="deleteCredit", status_code=200, response_model=Credit,
                tags=["bills"], summary="Take back a credit", responses=ERRORS)
    def delete_credit(credit_id: Annotated[str, PathParam(description="Credit id.")],
                      idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            row = db.execute("SELECT bill_id, amount_cents, reason, status FROM credits WHERE id = ?",
                             (credit_id,)).fetchone()
            if row is None:
                raise HttpError(404, f"credit {credit_id} not found")
            if row[3] != "applied":
                raise HttpError(409, f"credit {credit_id} was already taken back")
            db.execute("UPDATE credits SET status = 'reversed' WHERE id = ?", (credit_id,))
            db.execute("DELETE FROM bill_lines WHERE credit_id = ?", (credit_id,))
            out = {"id": credit_id, "bill_id": row[0], "amount": pounds(row[1]), "reason": row[2],
                   "status": "applied"}
            store.apply(db, "credit_reversal", row[0], out, idempotency_key)
            return 200, out

        return store.idempotent(idempotency_key, {"op": "deleteCredit", "credit": credit_id}, act)

    @app.put("/accounts/{account_id}/tariff", operation_id="changeTariff", response_model=Account,
             tags=["tariffs"], summary="Change an account's tariff",
             description="Moves the account to another tariff from the next day.", responses=ERRORS)
    def change_tariff(account_id: AccountId, body: TariffChange, idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            acc = store.account(db, account_id)
            tariff = store.tariff(db, body.tariff_code)
            if tariff is None:
                raise HttpError(422, f"no tariff called {body.tariff_code}")
            if tariff["code"] == acc["tariff"]:
                raise HttpError(409, f"account {account_id} is already on {tariff['name']}")
            db.execute("UPDATE accounts SET tariff = ? WHERE id = ?", (tariff["code"], account_id))
            store.apply(db, "tariff", account_id, {"from": acc["tariff"], "to": tariff["code"]}, idempotency_key)
            return 200, store.account(db, account_id)

        return store.idempotent(idempotency_key, {"op": "changeTariff", "account": account_id,
                                                  "body": body.model_dump()}, act)

    @app.post("/accounts/{account_id}/payment-plans", operation_id="createPaymentPlan", status_code=201,
              response_model=Plan, tags=["payments"], summary="Set up a payment plan",
              description="Spreads what is owed over monthly instalments; at most the account's balance, one "
                          "active plan per account.", responses=ERRORS)
    def create_plan(account_id: AccountId, body: PlanIn, idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            acc = store.check_plan(db, account_id, body.amount)
            today = store.today(db)
            first = today.replace(day=acc["payment_day"])
            if first <= today:
                first = (first.replace(day=1) + timedelta(days=32)).replace(day=acc["payment_day"])
            first = _weekday_on_or_after(first)  # collected on the next working day
            cur = db.execute("INSERT INTO plans (account_id, amount_cents, instalments, first_due, status) VALUES "
                             "(?, ?, ?, ?, 'active')", (account_id, cents(body.amount), body.instalments,
                                                        first.isoformat()))
            pid = f"PP-{cur.lastrowid}"
            db.execute("UPDATE plans SET id = ? WHERE n = ?", (pid, cur.lastrowid))
            out = {"id": pid, "account_id": account_id, "amount": pounds(cents(body.amount)),
                   "instalments": body.instalments, "instalment": round(body.amount / body.instalments, 2),
                   "first_due": first.isoformat(), "status": "active"}
            store.apply(db, "payment_plan", account_id, out, idempotency_key)
            return 201, out

        return store.idempotent(idempotency_key, {"op": "createPaymentPlan", "account": account_id,
                                                  "body": body.model_dump()}, act)

    @app.post("/accounts/{account_id}/payment-plans/preview", operation_id="previewPaymentPlan",
              response_model=Check, tags=["payments"], summary="Check a payment plan without setting it up",
              responses=ERRORS)
    def preview_plan(account_id: AccountId, body: PlanIn) -> dict[str, Any]:
        with store.read() as db:
            store.account(db, account_id)
            return _check(lambda: (store.check_plan(db, account_id, body.amount), "the plan can be set up")[1])

    @app.put("/accounts/{account_id}/payment-day", operation_id="changePaymentDay", response_model=Account,
             tags=["payments"], summary="Change the direct-debit day", responses=ERRORS)
    def change_payment_day(account_id: AccountId, body: PaymentDay,
                           idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            acc = store.account(db, account_id)
            db.execute("UPDATE accounts SET payment_day = ? WHERE id = ?", (body.day, account_id))
            store.apply(db, "payment_day", account_id, {"from": acc["payment_day"], "to": body.day},
                        idempotency_key)
            return 200, store.account(db, account_id)

        return store.idempotent(idempotency_key, {"op": "changePaymentDay", "account": account_id,
                                                  "body": body.model_dump()}, act)

    @app.post("/accounts/{account_id}/visits", operation_id="bookVisit", status_code=201, response_model=Visit,
              tags=["visits"], summary="Book an engineer visit",
              description="Books a free slot (a weekday morning or afternoon) for an engineer at the account's "
                          "supply address. 409 when the slot is not free.", responses=ERRORS)
    def book_visit(account_id: AccountId, body: VisitIn, idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            store.account(db, account_id)
            store.check_slot(db, body.date, body.period)
            n = int(db.execute("SELECT COUNT(*) FROM visits").fetchone()[0]) + 4001
            vid = f"V-{n}"
            db.execute("INSERT INTO visits VALUES (?, ?, ?, ?, ?, 'booked')",
                       (vid, account_id, body.date, body.period, body.reason))
            out = store.visit(db, vid)
            store.apply(db, "visit_booked", account_id, out, idempotency_key)
            return 201, out

        return store.idempotent(idempotency_key, {"op": "bookVisit", "account": account_id,
                                                  "body": body.model_dump()}, act)

    @app.post("/accounts/{account_id}/visits/validate", operation_id="validateVisit", response_model=Check,
              tags=["visits"], summary="Check a visit booking without making it", responses=ERRORS)
    def validate_visit(account_id: AccountId, body: VisitIn) -> dict[str, Any]:
        with store.read() as db:
            store.account(db, account_id)
            return _check(lambda: (store.check_slot(db, body.date, body.period), "the slot is free")[1])

    @app.patch("/visits/{visit_id}", operation_id="moveVisit", response_model=Visit, tags=["visits"],
               summary="Move an engineer visit", description="Moves a booked visit to another free slot.",
               responses=ERRORS)
    def move_visit(visit_id: VisitId, body: VisitMove, idempotency_key: IdempotencyKey = None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            before = store.visit(db, visit_id)
            if before["status"] != "booked":
                raise HttpError(409, f"visit {visit_id} is {before['status']}")
            store.check_slot(db, body.date, body.period, ignore=visit_id)
            db.execute("UPDATE visits SET date = ?, period = ? WHERE id = ?", (body.date, body.period, visit_id))
            out = store.visit(db, visit_id)
            store.apply(db, "visit_moved", visit_id, {"from": [before["date"], before["period"]],
                                                      "to": [body.date, body.period]}, idempotency_key)
            return 200, out

        return store.idempotent(idempotency_key, {"op": "moveVisit", "visit": visit_id, "body": body.model_dump()},
                                act)

    # a cancellation and its undo, for composite steps (not in the document the Northwind pack was imported from)
    @app.post("/visits/{visit_id}/cancel", operation_id="cancelVisit", response_model=Visit, tags=["visits"],
              include_in_schema=False,
              summary="Cancel an engineer visit", description="Cancels a booked visit; its slot is free again.",
              responses=ERRORS)
    def cancel_visit(visit_id: VisitId, idempotency_key: IdempotencyKey = None) -> Response:
        return _visit_status(visit_id, "booked", "cancelled", "visit_cancelled", "cancelVisit", idempotency_key)

    @app.post("/visits/{visit_id}/restore", operation_id="restoreVisit", response_model=Visit, tags=["visits"],
              include_in_schema=False,
              summary="Book a cancelled visit again", description="Puts back a cancelled visit at its own time, "
                                                                  "when that slot is still free.", responses=ERRORS)
    def restore_visit(visit_id: VisitId, idempotency_key: IdempotencyKey = None) -> Response:
        return _visit_status(visit_id, "cancelled", "booked", "visit_restored", "restoreVisit", idempotency_key)

    def _visit_status(visit_id: str, was: str, now: str, kind: str, op: str, key: str | None) -> Response:
        def act(db: sqlite3.Connection) -> tuple[int, Any]:
            before = store.visit(db, visit_id)
            if before["status"] != was:
                raise HttpError(409, f"visit {visit_id} is {before['status']}")
            if now == "booked":  # its time must still be free
                store.check_slot(db, before["date"], before["period"])
            db.execute("UPDATE visits SET status = ? WHERE id = ?", (now, visit_id))
            out = store.visit(db, visit_id)
            store.apply(db, kind, visit_id, out, key)
            return 200, out

        return store.idempotent(key, {"op": op, "visit": visit_id}, act)

    @app.patch("/visits/{visit_id}/validate", operation_id="validateVisitMove", response_model=Check,
               tags=["visits"], summary="Check a visit move without making it", responses=ERRORS)
    def validate_move(visit_id: VisitId, body: VisitMove) -> dict[str, Any]:
        with store.read() as db:
            store.visit(db, visit_id)
            return _check(lambda: (store.check_slot(db, body.date, body.period, ignore=visit_id),
                                   "the slot is free")[1])

    # ------------------------------------------------------------------ for the tests
    @app.get("/_test/health", include_in_schema=False)
    def _health() -> dict[str, Any]:
        return {"ok": True}

    @app.post("/_test/seed", include_in_schema=False)
    def _seed(today: str | None = None) -> dict[str, Any]:
        store.seed(date.fromisoformat(today) if today else date.today())
        return {"ok": True}

    @app.get("/_test/calls", include_in_schema=False)
    def _calls() -> list[dict[str, Any]]:
        with store.read() as db:
            rows = db.execute("SELECT method, path, query, idempotency_key, body FROM calls ORDER BY n").fetchall()
        return [{"method": r[0], "path": r[1], "query": r[2], "idempotency_key": r[3], "body": r[4]} for r in rows]

    @app.get("/_test/applied", include_in_schema=False)
    def _applied() -> list[dict[str, Any]]:
        with store.read() as db:
            rows = db.execute("SELECT kind, target, data, idempotency_key FROM applied ORDER BY n").fetchall()
        return [{"kind": r[0], "target": r[1], "data": json.loads(r[2]), "idempotency_key": r[3]} for r in rows]

    return app


@dataclass
class NorthwindService:
    """A running service process and the test routes that read it."""

    url: str
    folder: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def _test(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/_test/{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def seed(self, today: date | None = None) -> None:
        self._test("POST", "seed", params={"today": today.isoformat()} if today else None)

    def calls(self) -> list[dict[str, Any]]:
        return list(self._test("GET", "calls"))

    def writes(self) -> list[dict[str, Any]]:
        """The calls that change something (not the reads, not the dry runs)."""
        return [c for c in self.calls() if c["method"] != "GET" and not c["path"].endswith(("/validate", "/preview"))]

    def applied(self) -> list[dict[str, Any]]:
        return list(self._test("GET", "applied"))

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@contextmanager
def running_northwind(folder: Path, today: date | None = None, token: str = "") -> Iterator[NorthwindService]:
    """The service as its own process on a free port of 127.0.0.1 over ``folder/northwind.sqlite`` (with
    ``token``, calls need it as a bearer token)."""
    from tests.helpers import free_port

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(folder / "northwind.log", "ab")
    cmd = [sys.executable, "-m", "tests.servers.northwind_energy", "--port", str(port), "--db",
           str(folder / "northwind.sqlite")] + (["--today", today.isoformat()] if today else []) + \
        (["--token", token] if token else [])
    service = NorthwindService(f"http://127.0.0.1:{port}", folder,
                               subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT))
    log.close()
    try:
        deadline = time.monotonic() + 30
        while True:
            assert service.process is not None
            if service.process.poll() is not None:
                raise RuntimeError("the Northwind service exited: "
                                   + (folder / "northwind.log").read_text(errors="replace")[-2000:])
            try:
                if httpx.get(f"{service.url}/_test/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the Northwind service did not start in 30 s")
            time.sleep(0.05)
        yield service
    finally:
        service.stop()


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="the service's today (sample data)")
    parser.add_argument("--token", default="", help="the bearer token calls must carry (default: none needed)")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(args.db, args.today, args.token), host=args.host, port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
