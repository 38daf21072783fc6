"""The command line: ``python -m cx_core COMMAND``. Bad input gives one clear line and a non-zero exit."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from . import api_tokens, commands
from .errors import TandemError
from .models import Autonomy, Role
from .secret_mask import mask


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def _day(text: str) -> Any:
    """A ``YYYY-MM-DD`` argument, or one line saying what to give."""
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a day: give it as YYYY-MM-DD, e.g. 2026-11-20") from None


def _add_demo(sub: Any) -> None:
    d = sub.add_parser("demo", help="(re)build the demo world, knowledge base and first tickets")
    d.add_argument("--if-missing", action="store_true", help="do nothing if a demo world already exists")
    d.add_argument("--tickets", type=int, default=24, help="tickets to create and process (default 24)")
    d.add_argument("--customers", type=int, default=None, help="size of the demo world (the pack's default)")
    d.add_argument("--orders", type=int, default=None, help="orders in the demo world (domains that have orders)")
    d.add_argument("--today", type=_day, metavar="YYYY-MM-DD", help="build the world as on this day (its dates, "
                   "free slots and flight statuses), whatever the machine's clock says")
    d.set_defaults(func=commands.cmd_demo)


def _add_setup(sub: Any) -> None:
    su = sub.add_parser("setup", help="prepare the pack before it runs: its schema, knowledge index, classifier and "
                                      "a first admin (a pack with a demo world: the demo, once)",
                        description="Safe at every start: what is there is kept, changed articles become new "
                                    "versions and changed labelled examples retrain the classifier. When there is no "
                                    "staff account yet, creates 'admin' with TANDEM_ADMIN_PASSWORD, or with a random "
                                    "password printed once here.")
    su.set_defaults(func=commands.cmd_setup)


def _add_ingest_kb(sub: Any) -> None:
    k = sub.add_parser("ingest-kb", help="add or update knowledge-base documents (Markdown, text, PDF, HTML, DOCX, "
                                         "FAQ CSV); each change becomes a new version")
    k.add_argument("paths", nargs="+", help="files or folders")
    k.add_argument("--actor", default="system", help="who is recorded as the uploader (default: system)")
    k.set_defaults(func=commands.cmd_ingest_kb)


def _add_import_tickets(sub: Any) -> None:
    i = sub.add_parser("import-tickets", help="add tickets from a JSONL or CSV file")
    i.add_argument("file")
    i.set_defaults(func=commands.cmd_import_tickets)


def _add_replay(sub: Any) -> None:
    r = sub.add_parser("replay", help="process tickets in a throw-away copy of the backends (dry run)")
    r.add_argument("--tickets", required=True, help="JSONL or CSV ticket file")
    r.add_argument("--policy", help="policy YAML to use instead of the active one")
    r.add_argument("--autonomy", type=int, choices=[int(a) for a in Autonomy], help="force this level for every ticket")
    r.add_argument("--json", action="store_true", help="one JSON object per ticket")
    r.add_argument("--today", type=_day, metavar="YYYY-MM-DD", help="read every ticket as on this day (its dates, "
                   "the records' states and the rules' deadlines), whatever the machine's clock says")
    r.add_argument("--compare", action="store_true",
                   help="compare --policy with the active policy: counts and the tickets whose outcome differs")
    r.set_defaults(func=commands.cmd_replay)


def _add_audit(sub: Any) -> None:
    a = sub.add_parser("audit", help="audit log tools")
    asub = a.add_subparsers(dest="audit_command", required=True, parser_class=_Parser)
    v = asub.add_parser("verify", help="check the hash chain; names the first bad event")
    v.add_argument("--anchor", metavar="SEQ:HASH", help="an anchor printed earlier by 'audit anchor': the chain must "
                   "still contain it (catches a log rewritten from its first event)")
    v.set_defaults(func=commands.cmd_audit_verify)
    an = asub.add_parser("anchor", help="print the chain's current head (SEQ:HASH) to keep outside the database")
    an.set_defaults(func=commands.cmd_audit_anchor)


def _add_domain(sub: Any) -> None:
    dm = sub.add_parser("domain", help="domain pack tools")
    dsub = dm.add_subparsers(dest="domain_command", required=True, parser_class=_Parser)
    dc = dsub.add_parser("check", help="list every problem of a domain pack (its file and field), without loading "
                                       "any model; exit 1 when there is one",
                         description="Checks a domain pack as the engine will use it: PACK, the modules it names "
                                     "by role, the actions they register, the articles, the labelled examples, the "
                                     "policy and the recipes. Prints one line per problem, 'FILE: FIELD: what is "
                                     "wrong and what to fix', then the number of problems (or that the pack is "
                                     "ready). Exit 0 when there is none, 1 when there is any.")
    dc.add_argument("path", metavar="PATH", help="the pack's folder (e.g. domains/acme) or a pack's name")
    dc.add_argument("--sample", metavar="EMAIL", default="",
                    help="call each read of card.yaml once for the customer with this e-mail (the team's system "
                         "must answer), note what each answered and check the recipes' bindings against its rows")
    dc.set_defaults(func=commands.cmd_domain_check)


def _add_worker(sub: Any) -> None:
    w = sub.add_parser("worker", help="process new tickets in the background (and, for a pack with a demo world, "
                                      "simulate arrivals)")
    w.add_argument("--no-simulate", action="store_true", help="do not create simulated tickets (a pack without a "
                                                              "demo world never does)")
    w.add_argument("--no-deliver", action="store_true", help="leave outgoing messages to a separate 'dispatch' process")
    w.add_argument("--no-mailbox", action="store_true", help="do not read the configured mailbox here")
    w.add_argument("--once", action="store_true", help="stop when the queue is empty")
    w.add_argument("--retry-failed", nargs="*", metavar="TICKET_ID", default=None,
                   help="first put tickets the agent failed on back in the queue: the ones named, or every one")
    w.add_argument("--reread", nargs="*", metavar="TICKET_ID", default=None,
                   help="first put open tickets back in the queue, to be read again with the pack as it is now (what "
                        "people decided stays decided): the ones named, or every open one nobody has taken")
    w.add_argument("--task-type", metavar="NAME", help="with --reread and no ids: only open tickets of this task type")
    w.set_defaults(func=commands.cmd_worker)


def _add_dispatch(sub: Any) -> None:
    ds = sub.add_parser("dispatch", help="deliver outgoing messages (replies by e-mail, to helpdesks, webhooks) with "
                                         "retries; the worker does this too")
    ds.add_argument("--once", action="store_true", help="deliver what is due now, then stop")
    ds.set_defaults(func=commands.cmd_dispatch)


def _add_api(sub: Any) -> None:
    ap = sub.add_parser("api", help="serve the inbound HTTP API and helpdesk webhooks (OpenAPI at "
                                    "/api/v1/openapi.json)")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8600, help="port (default 8600)")
    ap.set_defaults(func=commands.cmd_api)


def _add_api_token(sub: Any) -> None:
    at = sub.add_parser("api-token", help="tokens for the inbound API")
    atsub = at.add_subparsers(dest="token_command", required=True, parser_class=_Parser)
    atc = atsub.add_parser("create", help="create a token and print it once (only its hash is kept)")
    atc.add_argument("name", help="what the token is for, e.g. 'web form'")
    atc.add_argument("--scope", action="append", choices=sorted(api_tokens.SCOPES), metavar="SCOPE",
                     help="write (add tickets and messages), read (read tickets back) or admin (every ticket); "
                          "repeat for several; default: write and read")
    atc.add_argument("--all-tickets", action="store_true", help="reach every ticket of every channel, not only the "
                                                                "tickets the token opens")
    atc.add_argument("--rate", type=int, metavar="N", help="requests a minute (default TANDEM_API_RATE_PER_MINUTE)")
    atc.add_argument("--daily-quota", type=int, metavar="N", help="new tickets and messages a day (default "
                                                                  "TANDEM_API_DAILY_QUOTA)")
    atc.set_defaults(func=commands.cmd_api_token)
    atl = atsub.add_parser("list", help="list tokens (never the tokens themselves)")
    atl.set_defaults(func=commands.cmd_api_token)
    atr = atsub.add_parser("revoke", help="revoke a token: calls with it get 401 from now on")
    atr.add_argument("id", type=int, help="the token's number, from 'api-token list'")
    atr.set_defaults(func=commands.cmd_api_token)
    for verb, what in (("widen", "let a token reach every ticket of every channel (audited)"),
                       ("narrow", "let a token reach only the tickets it opened again (audited)")):
        atw = atsub.add_parser(verb, help=what)
        atw.add_argument("id", type=int, help="the token's number, from 'api-token list'")
        atw.set_defaults(func=commands.cmd_api_token)


def _add_actions(sub: Any) -> None:
    ac = sub.add_parser("actions", help="actions on your own systems, declared without code (HTTP, OpenAPI, MCP)")
    acsub = ac.add_subparsers(dest="actions_command", required=True, parser_class=_Parser)
    ai = acsub.add_parser("import-openapi", help="write actions for the operations of an OpenAPI document to the "
                                                 "pack's actions.yaml (GET: read; others: writes a person confirms)")
    ai.add_argument("spec", help="the OpenAPI document: a file (JSON or YAML) or an http(s) URL")
    ai.add_argument("--domain", help="the pack to write to (default TANDEM_DOMAIN)")
    ai.add_argument("--only", nargs="+", metavar="OPERATION", help="only these operations (operationId)")
    ai.add_argument("--service", help="the service's name in the file (default: from the document's title)")
    ai.add_argument("--base-url", help="the service's base URL (default: the document's first server)")
    ai.add_argument("--replace", action="store_true", help="overwrite actions the file already has")
    ai.set_defaults(func=commands.cmd_actions)
    am = acsub.add_parser("import-mcp", help="make the tools of an MCP server actions (listed now, kept in the "
                                             "pack's actions.yaml)")
    am.add_argument("name", help="a name for the server, e.g. vouchers")
    am.add_argument("--command", dest="command_line", nargs=argparse.REMAINDER,
                    help="the command that starts the server over stdio (the rest of the line)")
    am.add_argument("--url", help="the server's streamable HTTP endpoint, e.g. https://tools.internal/mcp")
    am.add_argument("--trusted", action="store_true", help="read the tools' annotations (read-only, destructive); "
                                                           "without it every tool is destructive and confirmed")
    am.add_argument("--task-types", nargs="+", help="the task types its tools serve")
    am.add_argument("--domain", help="the pack to write to (default TANDEM_DOMAIN)")
    am.set_defaults(func=commands.cmd_actions)
    ak = acsub.add_parser("check", help="every problem of the pack's declared actions, with its file and field; "
                                        "exit 1 when there is one")
    ak.add_argument("--domain", help="the pack to check (default TANDEM_DOMAIN)")
    ak.set_defaults(func=commands.cmd_actions)


def _add_train_intents(sub: Any) -> None:
    t = sub.add_parser("train-intents", help="train the task-type classifier on a labelled CSV")
    t.add_argument("file")
    t.add_argument("--text-col", default="text")
    t.add_argument("--label-col", default="auto", help="default: label, category or intent, whichever exists")
    t.set_defaults(func=commands.cmd_train_intents)


def _add_eval(sub: Any) -> None:
    e = sub.add_parser("eval", help="measure triage, retrieval or actions on outside data")
    e.add_argument("what", choices=["intents", "retrieval", "actions", "reading", "natural"])
    e.add_argument("--train", help="intents: labelled CSV to train on")
    e.add_argument("--test", help="intents: labelled CSV to score")
    e.add_argument("--text-col", default="text")
    e.add_argument("--label-col", default="auto", help="default: label, category or intent, whichever exists")
    e.add_argument("--documents", help="retrieval: documents JSONL (id, title, content)")
    e.add_argument("--tasks", help="retrieval: tasks JSON with required_documents; actions: τ-bench retail tasks")
    e.add_argument("--db", help="actions: the τ-bench database of the domain (a db.json file or a folder of tables)")
    e.add_argument("--domain", help="actions: the domain pack to evaluate (default TANDEM_DOMAIN)")
    e.add_argument("--details", help="actions: write every task's proposed and expected actions to this file")
    e.add_argument("--k", type=int, default=10)
    e.add_argument("--sgd", metavar="DIR", help="reading: the Schema-Guided Dialogue folder (../shared/data/sgd)")
    e.add_argument("--split", choices=["dev", "test", "train"], default="dev",
                   help="reading: the split to read (default dev)")
    e.add_argument("--limit", type=int, metavar="N", help="reading: only the first N turns")
    e.add_argument("--services", metavar="A,B", help="reading: only these services")
    e.add_argument("--tickets", dest="ticket_file", metavar="FILE", help="natural: the tickets (JSONL)")
    e.add_argument("--expected", metavar="FILE", help="natural: what a good advisor proposes for each ticket")
    e.add_argument("--today", type=_day, metavar="YYYY-MM-DD", help="natural: read the tickets as on this day")
    e.add_argument("--autonomy", type=int, default=2, help="natural: the level every ticket is read at (default 2)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=commands.cmd_eval)


def _add_train_reader(sub: Any) -> None:
    t = sub.add_parser("train-reader", help="rebuild the schema reader's weights from the Schema-Guided Dialogue "
                                            "training services (cx_core/reading/model/reader.joblib)")
    t.add_argument("--sgd", metavar="DIR", required=True, help="the Schema-Guided Dialogue folder")
    t.add_argument("--turns", type=int, default=30000, help="training turns sampled for the argument model")
    t.add_argument("--out", help="where to write the weights (default: the shipped file)")
    t.set_defaults(func=commands.cmd_train_reader)


def _add_users(sub: Any) -> None:
    u = sub.add_parser("users", help="staff accounts")
    usub = u.add_subparsers(dest="users_command", required=True, parser_class=_Parser)
    ua = usub.add_parser("add", help="create or update a staff user")
    ua.add_argument("username")
    ua.add_argument("--role", choices=[r.value for r in Role], required=True)
    ua.add_argument("--name")
    ua.add_argument("--password")
    ua.add_argument("--password-stdin", action="store_true")
    ua.set_defaults(func=commands.cmd_users_add)
    uu = usub.add_parser("unlock", help="let an account locked (or made to wait) after failed sign-ins sign in again")
    uu.add_argument("username", help="the name the failed sign-ins were made with")
    uu.set_defaults(func=commands.cmd_users_unlock)


# every command of the command line, in the order ``--help`` lists them
COMMANDS = (_add_demo, _add_setup, _add_ingest_kb, _add_import_tickets, _add_replay, _add_audit, _add_domain,
            _add_worker, _add_dispatch, _add_api, _add_api_token, _add_actions, _add_train_intents, _add_train_reader,
            _add_eval, _add_users)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m cx_core", description="Tandem — the advisor copilot.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        return int(args.func(args))
    except TandemError as exc:
        print(f"error: {mask(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


