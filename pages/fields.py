"""The widgets an advisor fills an action's details with: one that fits each argument's type, the customer's own
records to choose from, and what a search of the company's systems found (the flights for sale on a route)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pandas as pd
import streamlit as st
from pydantic import BaseModel, ValidationError

from cx_core import desk, shown
from cx_core.actions import action_label
from cx_core.safe_text import escape_markdown, one_line
from cx_core.wording import WORDING, money_in
from pages.common import label


def arg_widget(name: str, field: Any, value: Any, key: str) -> Any:
    """A widget that fits the argument's type: dates, amounts, choices, lists and text."""
    kind = field.annotation
    base = next((a for a in get_args(kind) if a is not type(None)), kind) if get_origin(kind) in (Union, UnionType) \
        else kind
    options = get_args(base) if get_origin(base) is Literal else ()  # a choice, optional or not
    title = field_name(name, field)
    if options:
        return st.selectbox(title, options, index=options.index(value) if value in options else None, key=key,
                            format_func=shown.value, placeholder="Choose…",  # none chosen for the advisor
                            help=one_line(field.description))
    if base is date:
        try:
            current = date.fromisoformat(str(value)) if value else desk.utcnow().date()
        except ValueError:
            current = desk.utcnow().date()
        return st.date_input(title, value=current, key=key, help=one_line(field.description)).isoformat()
    if base in (float, int):
        return st.number_input(title, value=float(value or 0), min_value=0.0, step=1.0 if base is int else 0.01,
                               format="%.0f" if base is int else "%.2f", key=key, help=one_line(field.description))
    if get_origin(base) is list and (rows := record_rows(base)) is not None:
        return rows_widget(title, rows, value, key, field.description)
    if get_origin(base) is list:
        raw = st.text_input(title, value=", ".join(map(str, value or [])), key=key,
                            help=one_line(field.description) + " Separate several with commas.")
        return [x.strip() for x in raw.split(",") if x.strip()]
    said = "" if value is None else str(value)
    raw = st.text_area(title, value=said, key=key, help=one_line(field.description), height=90) if len(said) > 40 else \
        st.text_input(title, value=said, key=key, help=one_line(field.description))  # a message is read whole
    return raw.strip() or None


def record_rows(kind: Any) -> Any:
    """The model each row of a list of records is (a passenger: first name, last name, date of birth), or None."""
    inner = next(iter(get_args(kind)), None)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def rows_widget(title: str, model: Any, value: Any, key: str, description: str | None) -> list[dict[str, Any]]:
    """A list of records (the passengers of a booking) as a table to edit, a row each, a column per field in words
    and dates as dates; rows may be added or removed. Returns the rows as the action takes them."""
    fields = model.model_fields
    dates = {n for n, f in fields.items() if f.annotation is date}
    rows = []
    for v in value or []:
        row = dict(v) if isinstance(v, dict) else {}
        for n in fields:
            x = row.get(n)
            if n in dates:
                try:
                    row[n] = date.fromisoformat(str(x)) if x else None
                except ValueError:
                    row[n] = None
            else:
                row[n] = "" if x is None else str(x)
        rows.append({n: row[n] for n in fields})
    config = {n: st.column_config.DateColumn(field_name(n, f), format="D MMM YYYY") if n in dates else
              st.column_config.TextColumn(field_name(n, f)) for n, f in fields.items()}
    st.caption(f"{one_line(title)}{': ' + one_line(description) if description else ''} — one row each; add or remove "
               "rows as needed.")
    edited = st.data_editor(pd.DataFrame(rows, columns=list(fields)), key=key, num_rows="dynamic", hide_index=True,
                            column_config=config, width="stretch")  # none yet: no empty row to misread
    out = []
    for raw in edited if isinstance(edited, list) else edited.to_dict("records"):
        row = {n: None if not isinstance(raw.get(n), list | dict) and pd.isna(raw.get(n)) else raw.get(n) for n in fields}
        if not any(row.get(n) not in (None, "") for n in fields):
            continue  # an empty row added and left
        out.append({n: (row[n].date().isoformat() if isinstance(row.get(n), datetime) else
                        row[n].isoformat() if isinstance(row.get(n), date) else
                        str(row[n]).strip() if row.get(n) is not None else None) for n in fields})
    return out


def field_widget(name: str, field: Any, value: Any, key: str, choices: dict[str, list[tuple[str, str]]],
                 found: list[tuple[str, str]] | None = None) -> Any:
    """``arg_widget``, except that a record field offers the customer's own records to choose from, and a field the
    pack searches for (``found``: each value as JSON, with its label) offers what the search found."""
    if found:
        return searched_widget(name, field, value, key, found)
    single = choices.get(name)
    many = choices.get(name[:-1]) if name.endswith("_ids") else None
    if single:
        single = desk.once_each(single, str(value) if value is not None else None)  # each time on offer once
        ids = [c[0] for c in single]
        labels = {k: said_as(text) for k, text in single}
        current = str(value) if value is not None else None
        if current and current not in labels:
            ids, labels = [current, *ids], {**labels, current: current}
        return st.selectbox(field_name(name, field), ids, index=ids.index(current) if current in ids else None,
                            format_func=labels.get, key=key, help=one_line(field.description), placeholder="Choose…")
    if many:
        ids = [c[0] for c in many]
        labels = {k: said_as(text) for k, text in many}
        current = [str(v) for v in value or []]
        ids = [*[v for v in current if v not in labels], *ids]
        return st.multiselect(field_name(name, field), ids, default=[v for v in current if v in ids],
                              format_func=lambda v: labels.get(v, v), key=key, help=one_line(field.description))
    return arg_widget(name, field, value, key)


def first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err.get("loc", ())) or "arguments"
    return f"{where.replace('_', ' ')}: {err.get('msg', 'invalid value')}"


def field_name(name: str, field: Any = None) -> str:
    """A field as a person says it: the title its action gives it ("Checked bags"), else its name in words."""
    title = getattr(field, "title", None)
    return str(title) if title else shown.field(name)


_MONEY_FIELDS = {"amount", "price", "total", "refund_amount", "credit", "fee"}
_MACHINE_ID = re.compile(r"^(?:\w+_\w+|\d{6,})$")  # "credit_card_4315301", "6970132219": nobody reads these
_ONLY_A_TIME = re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4}(?:, \d\d:\d\d)?(?: · \d+ free at this time)?$")  # a free slot is its time


def said_as(text: str) -> str:
    """A record's choice label as a person reads it: an id people copy stays in front ("#W1234567 · delivered"),
    a machine's id gives way to what it is ("Mastercard ending 8062", "Electric Kettle"), and a record that is
    only a time reads as that time ("30 Nov 2026, 09:00", not "SL-00271 · 30 Nov 2026, 09:00")."""
    ident, _, rest = text.partition(" · ")
    return rest[:1].upper() + rest[1:] if rest and (_MACHINE_ID.match(ident) or _ONLY_A_TIME.match(rest)) else text


GONE = " (no longer available)"  # an id among none of the customer's choices now


def value_text(name: str, value: Any, choices: dict[str, list[tuple[str, str]]]) -> str:
    """An argument's value, each record id with what it is ("W1234567 · delivered · Desk lamp")."""
    known = {k: said_as(text) for k, text in choices.get(name if not name.endswith("_ids") else name[:-1], [])}
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, dict) for v in values):  # a record inside: the ids in it said as what they are
        named = {k: said_as(text) for options in choices.values() for k, text in options}
        return "; ".join(shown.value({k: named.get(str(x), x) if isinstance(x, str) else x for k, x in v.items()})
                         if isinstance(v, dict) else shown.value(v) for v in values)
    if name in _MONEY_FIELDS and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return ", ".join(money_in(float(v)) for v in values)  # "$49.00", in the pack's currency
    # an id among none of the customer's choices now (a free time someone else has booked since): said so
    return ", ".join(known.get(str(v), shown.value(v) + (GONE if known else "")) for v in values)


def searched_widget(name: str, field: Any, value: Any, key: str, found: list[tuple[str, str]]) -> Any:
    """A pick among what a search found (several for a list field: the flights of a trip, in order), the current
    value chosen to begin with."""
    labels = dict(found)
    current = [json.dumps(v, sort_keys=True) for v in (value if isinstance(value, list) else [value]) if v]
    ids = [*[c for c in current if c not in labels], *labels]
    show = {**labels, **{c: shown.value(json.loads(c)) for c in current if c not in labels}}
    if get_origin(field.annotation) is list or isinstance(value, list):
        picked = st.multiselect(field_name(name, field), ids, default=current, format_func=show.get, key=key,
                                help=one_line(field.description) + " Found for sale now; pick each in travel order.")
        return [json.loads(v) for v in picked]
    one = st.selectbox(field_name(name, field), ids, index=ids.index(current[0]) if current else None,
                       format_func=show.get, key=key, help=one_line(field.description), placeholder="Choose…")
    return json.loads(one) if one else None


def sender_moved(sender: str | None, contact: str) -> str:
    """A warning when the ticket's sender is no longer the account's email address (the customer changed it since,
    or someone else wrote from an old address); '' when they match or the card shows no address."""
    sender = (sender or "").strip().lower()
    shown_emails = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", contact.lower())
    if "@" not in sender or not shown_emails or sender in shown_emails:
        return ""
    return (f"The sender ({sender}) is not the account's email address now ({shown_emails[0]}): check who wrote before "
            "sharing account details.")


_MONEY = re.compile(r"amount|price|total|paid|refund|credit|fee|balance|cost|charge", re.I)


def shown_rows(rows: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """A record's rows as text, one type per column (nested values written out), so every table draws alike; a
    sum of money in the pack's currency ("$1,001.00")."""
    return [{shown.field(str(k)): money_in(float(v)) if _MONEY.search(str(k)) and isinstance(v, int | float)
             and not isinstance(v, bool) else shown.value(v) for k, v in row.items()} for row in rows or []]


def complete(args: dict[str, Any], spec: Any) -> bool:
    """Whether the proposal's details are all there (an unsure one can then be approved as it stands)."""
    if spec is None:
        return False
    try:
        spec.args_model.model_validate(args)
    except ValidationError:
        return False
    return True


def records_tabs(view: dict[str, Any], proposals: list[dict[str, Any]] | None = None) -> None:
    """The customer's records, one tab each, across the whole width so that their columns can be read; the tab
    holding a record the ticket's ``proposals`` name first, so it opens on it."""
    card, past = view["card"], view["past"]
    about = {str(v) for p in proposals or [] for v in (p.get("args") or {}).values() if isinstance(v, str) and v}
    names = sorted(card["tabs"], key=lambda n: not any(
        str(v) in about for row in card["tabs"][n] or [] for v in row.values()))
    names = [*names, "Tickets"]
    for tab, name in zip(st.tabs([one_line(n) for n in names]), names, strict=True):
        with tab:
            if name != "Tickets":
                rows = shown_rows(card["tabs"][name])
                if not rows:
                    st.caption(f"No {one_line(name.lower())} on record for this customer.")
                    continue
                # a static table: every cell wraps and reads whole (no cut "Ship to" or flights); the records are
                # data, so each cell is escaped, never Markdown
                st.table([{escape_markdown(k): escape_markdown(v) for k, v in r.items()} for r in rows],
                         hide_index=True, border="horizontal")
                continue
            if not past:
                st.caption("No earlier tickets from this customer.")
            for r in past:
                st.page_link("pages/workspace.py", label=f"{r['created_at']:%d %b %Y} · {one_line(desk.cut_words(r['subject'], 70))}"
                             f" · {label(r['task_type']) if r['task_type'] else 'not read yet'}"
                             f" · {one_line(TICKET_STATE.get(r['status'], r['status']))}",
                             query_params={"ticket": r["id"]})


TICKET_STATE = {"waiting": "waiting on customer", "processing": "being read by the agent", "new": "new"}


def result_text(p: dict[str, Any]) -> str:
    """What an executed action did, in one line of plain words: its own sentence (the one the reply says), else
    its result's plain values; nested details are left to the audit log."""
    w = WORDING.get(p["action"])
    try:
        said = w.done(p["args"], p["result"], {}) if w else ""
    except (KeyError, TypeError, ValueError):
        said = ""
    if said:
        return re.sub(r"^I(?:'ve| have) (\w)", lambda m: m.group(1).upper(), said)
    plain = {k: v for k, v in p["result"].items() if not k.startswith("_") and k not in ("action", "user_id")
             and isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip()}
    words = {k: v for k, v in plain.items() if isinstance(v, str)} or plain  # a bare number is a record's id
    details = "; ".join(f"{shown.field(k).lower()}: {shown.value(v)}" for k, v in list(words.items())[:6])
    return action_label(p["action"]) + (f" ({details})" if details else "")  # "Notify field team (technician: …)"
