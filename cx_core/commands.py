"""What each command of the command line does (``cli`` reads the arguments and calls these). Each returns the
exit code; bad input raises a ``TandemError`` that ``cli`` prints as one line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from . import api_tokens, audit, delivery, demo_history, desk, domain, http_actions, kb_docs, packs, setup, worker
from .actions.base import REGISTRY
from .auth import address_warning, create_user, unlock_account
from .config import Settings, load_settings
from .documents import IngestLimits
from .domain import find
from .domain_check import check
from .errors import InvalidInput
from .http_actions import actions_file, calls, loading, mcp_tools, openapi
from .http_actions.spec import McpServer
from .labelled import read_labelled_csv
from .models import Role
from .packs import vocabulary
from .policy import load_policy
from .setup import first_admin, prepare
from .stopping import stopping_on_signals
from .store.db import Database, has_schema

log = logging.getLogger("tandem")


def _services(settings: Settings | None = None) -> Any:
    from .services import Services  # the models' libraries load only for the commands that read tickets

    return Services(settings or load_settings())


# ------------------------------------------------------------------ demo
def cmd_demo(args: argparse.Namespace) -> int:
    return _demo(_services(), args)


def _demo(services: Any, args: argparse.Namespace) -> int:
    if not services.pack.has_demo:  # a team's own pack: everything but a demo world
        print(f"{services.pack.title} has no demo world; preparing what it needs instead", file=sys.stderr)
        return _setup(services)
    if args.if_missing:

        if has_schema(services.db.engine) and services.kb.count() > 0 and services.model_path.exists():
            print("demo world already built (use 'demo' without --if-missing to rebuild)", file=sys.stderr)
            return 0
    sizes = {k: v for k, v in (("customers", args.customers), ("orders", args.orders)) if v is not None}
    later = getattr(args, "in_background", False)  # the worker reads the first batch, and the page answers at once
    info = setup.build_demo(services, tickets_n=args.tickets, today=getattr(args, "today", None), process=not later,
                            **sizes)
    if later:
        demo_history.mark_pending(services)
        print(f"the worker reads the first {info['tickets']} tickets in the background", file=sys.stderr)
    print(json.dumps(info))
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    """What any pack needs before it runs: a pack with a demo world gets it (once), any other its schema,
    knowledge index, classifier and a first admin."""
    services = _services()
    if warning := address_warning(services.settings):
        print(f"warning: {warning}", file=sys.stderr)
    if services.pack.has_demo:
        done = _demo(services, argparse.Namespace(if_missing=True, tickets=24, customers=None, orders=None,
                                                  in_background=True))
        print("sign in with a demo login (README.md: ada, sam or root)", file=sys.stderr)
        return done
    return _setup(services)


def _setup(services: Any) -> int:

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    say(f"preparing {services.pack.title} (data in {services.settings.data_dir})…")
    info = prepare(services, say)
    made = first_admin(services)
    if made is not None:
        username, password = made
        if password is None:
            say(f"first admin '{username}' created with the password in TANDEM_ADMIN_PASSWORD")
        else:  # shown once, here; only its hash is stored
            print(f"\nFirst admin created. Sign in as '{username}' with this password (shown only now; change it "
                  f"in Users and roles):\n\n    {password}\n", file=sys.stderr, flush=True)
    say(f"{services.pack.title} is ready: {info['articles']} articles"
        + (", classifier trained" if info["trained"] else ""))
    return 0


# ------------------------------------------------------------------ knowledge and tickets
def cmd_ingest_kb(args: argparse.Namespace) -> int:
    """Every file is read within the size limits before the index is opened; the good ones are stored, and each
    refused one gets its own line on stderr (exit code 2)."""
    from tqdm import tqdm


    settings = load_settings()
    parsed = kb_docs.parse_paths([Path(p) for p in args.paths], IngestLimits.from_settings(settings))
    if all(isinstance(doc, InvalidInput) for _, doc in parsed):
        for _, err in parsed:
            print(f"error: {err}", file=sys.stderr)
        return 2
    services = _services(settings)
    services.db.migrate()
    with tqdm(total=0, unit="passage", desc="embedding", file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        done = kb_docs.store(services.db, services.kb, parsed, args.actor, progress)
    for d in done:
        if d["status"] == "refused":
            print(f"error: {d['reason']}", file=sys.stderr)
        else:
            print(f"{d['status']:>9}  {d['doc_id']}  v{d['version']}  {d['passages']} passages")
    print(f"the knowledge base now holds {services.kb.count()} passages")
    return 2 if any(d["status"] == "refused" for d in done) else 0


def cmd_import_tickets(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    services = _services()
    services.db.migrate()
    good, bad = desk.parse_ticket_file(Path(args.file), intake=True, channels=services.pack.channel_names)
    for err in bad:
        print(f"error: {args.file}: {err.message}", file=sys.stderr)
    # the bar shows on a terminal only (disable=None), so piped and logged output stays one line per problem
    with tqdm(total=len(good), unit="ticket", desc="storing", file=sys.stderr, disable=None) as bar:
        added, skipped = desk.add_tickets(services.db, [t for _, t in good], source="import",
                                             progress=bar.update)
    print(f"{added} tickets added, {skipped} already present, {len(bad)} lines refused")
    return 1 if bad else 0


def cmd_replay(args: argparse.Namespace) -> int:
    from . import replay  # builds Services: the models' libraries load only here

    settings = load_settings()
    good, bad = desk.parse_ticket_file(Path(args.tickets), channels=find(settings.domain).channel_names)
    policy_override = load_policy(Path(args.policy), vocabulary(find(settings.domain))) if args.policy else None
    if args.compare and policy_override is None:
        raise InvalidInput("--compare needs --policy NEW.yaml to compare with the active policy")

    for e in bad:
        print(f"error: {args.tickets}: {e.message}", file=sys.stderr)

    def failed(n: int, message: str) -> None:
        print(f"error: {args.tickets}: line {n}: {message}", file=sys.stderr)

    if args.compare:
        assert policy_override is not None
        active = load_policy(settings.active_policy_file)
        report = replay.compare(settings, good, active, policy_override, args.autonomy)
        if args.json:
            print(json.dumps(report, ensure_ascii=False, default=str))
        else:
            a, c = report["active"], report["candidate"]
            for key in ("executed", "needs_approval", "escalated", "denied", "abstained"):
                print(f"{key:>15}: {a['actions'][key]:>4} → {c['actions'][key]:>4}")
            print(f"{'replies sent':>15}: {a['replies_sent']:>4} → {c['replies_sent']:>4}")
            print(f"{len(report['differences'])} of {c['tickets']} tickets differ")
            for d in report["differences"]:
                print(f"  {d['ticket_id']}: {', '.join(d['active']) or '-'}  →  {', '.join(d['candidate']) or '-'}")
        return 1 if bad else 0
    for r in replay.run(settings, good, policy_override, args.autonomy, on_error=failed, today=args.today):
        if args.json:
            print(json.dumps(r, ensure_ascii=False), flush=True)
        else:
            decisions = ", ".join(f"{p['action']}={p['decision']}" for p in r["proposals"]) or "no actions"
            print(f"{r['ticket_id']}: {r['task_type']} ({r['confidence']:.2f}) {r['urgency']} — {decisions}"
                  + (" — ESCALATED" if r["escalated"] else ""))
    return 1 if bad else 0


# ------------------------------------------------------------------ domain packs
def cmd_domain_check(args: argparse.Namespace) -> int:
    """Every problem of a pack, one line each (FILE: FIELD: what to fix), then the count; exit 1 when any."""

    found = check(args.path, sample=args.sample)
    for note in found.notes:
        print(note)
    for problem in found:
        print(problem)
    print(found.summary())
    return 1 if found else 0


# ------------------------------------------------------------------ audit, worker, training, users
def cmd_audit_verify(args: argparse.Namespace) -> int:
    services = _services()
    services.db.migrate()  # a data folder where nothing ran yet has an empty chain, not an error
    result = audit.verify(services.db, args.anchor or "")
    print(result.message)
    return 0 if result.ok else 1


def cmd_audit_anchor(args: argparse.Namespace) -> int:
    services = _services()
    services.db.migrate()
    print(audit.anchor(services.db))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    services = _services()
    services.db.migrate()
    if args.retry_failed is not None:
        again = desk.retry_failed(services.db, args.retry_failed or None)
        print(f"{len(again)} failed ticket{'s' if len(again) != 1 else ''} back in the queue"
              + (f": {', '.join(again)}" if again else ""), file=sys.stderr, flush=True)
    if args.reread is not None:
        if args.task_type and args.task_type not in services.pack.task_types:
            raise InvalidInput(f"--task-type: '{args.task_type}' is not a task type of {services.pack.name} (it has "
                               f"{', '.join(sorted(services.pack.task_types))})")
        again = desk.reread_waiting(services.db, args.reread or None, args.task_type)
        print(f"{len(again)} open ticket{'s' if len(again) != 1 else ''} back in the queue to be read again"
              + (f": {', '.join(again)}" if again else ""), file=sys.stderr, flush=True)
    services.pipeline  # noqa: B018 - load the models before the first ticket
    print("worker running (Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        n = worker.run(services, simulate=not args.no_simulate and services.pack.has_demo, once=args.once,
                       deliver=not args.no_deliver, channels=not args.no_mailbox)
    except KeyboardInterrupt:
        return 0
    print(f"{n} tickets processed", file=sys.stderr)
    return 0


def cmd_dispatch(args: argparse.Namespace) -> int:
    """Delivers the outbox's messages through their channels until stopped (or, with --once, what is due now)."""
    import threading


    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load_settings()
    packs.use(domain.find(settings.domain))  # no models: a dispatcher starts in a second
    db = Database(settings.db_url, pack=settings.domain)
    db.migrate()
    if args.once:
        print(f"{delivery.run_once(db, settings)} messages tried", file=sys.stderr)
        return 0
    stop = threading.Event()
    print("dispatcher running (Ctrl-C stops it)", file=sys.stderr, flush=True)
    with stopping_on_signals(stop):
        delivery.run(db, settings, stop)
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    from .api import serve  # the web server's libraries load only for this command

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    services = _services()
    services.db.migrate()
    serve(services, args.host, args.port)
    return 0


def cmd_api_token(args: argparse.Namespace) -> int:
    services = _services()
    services.db.migrate()
    if args.token_command == "create":
        token_id, token = api_tokens.create(services.db, args.name, "cli", args.scope or api_tokens.DEFAULT_SCOPES,
                                            args.all_tickets, args.rate, args.daily_quota)
        print(token)
        reach = "every ticket" if args.all_tickets or "admin" in (args.scope or ()) else "the tickets it opens"
        print(f"token {token_id} '{args.name}' created ({', '.join(args.scope or api_tokens.DEFAULT_SCOPES)} on "
              f"{reach}); it is shown once, keep it now", file=sys.stderr)
    elif args.token_command == "list":
        for t in api_tokens.all_tokens(services.db):
            state = f"revoked {t['revoked_at']:%Y-%m-%d %H:%M}" if t["revoked_at"] else "active"
            used = f"last used {t['last_used_at']:%Y-%m-%d %H:%M}" if t["last_used_at"] else "never used"
            reach = "every ticket" if t["all_tickets"] or "admin" in t["scopes"] else "own tickets"
            print(f"{t['id']:>4}  {t['name']:<24} {t['prefix']}…  {','.join(t['scopes'])} on {reach}  {state}, "
                  f"{used}")
    elif args.token_command in ("widen", "narrow"):
        api_tokens.widen(services.db, args.id, args.token_command == "widen", "cli")
        print(f"token {args.id} now reaches " + ("every ticket of every channel" if args.token_command == "widen"
                                                 else "only the tickets it opened"))
    else:
        api_tokens.revoke(services.db, args.id, "cli")
        print(f"token {args.id} revoked")
    return 0


def _declared() -> set[str]:
    return {*http_actions.LOADED.actions, *http_actions.LOADED.mcp, *http_actions.LOADED.composites}


def cmd_actions(args: argparse.Namespace) -> int:
    """Declared actions on a team's own systems: import them from an OpenAPI document, or check the pack's file."""

    pack = domain.find(args.domain or load_settings().domain)
    target = actions_file(pack.root)
    if args.actions_command == "import-openapi":

        packs.use(pack)
        notes: list[str] = []
        path, added, kept = openapi.import_openapi(args.spec, target, args.only or None, args.service,
                                                   args.base_url, args.replace,
                                                   frozenset(n for n in REGISTRY if n not in _declared()), notes)
        for name in added:
            print(f"   added  {name}")
        for name in kept:
            print(f"    kept  {name} (already in the file; --replace to overwrite)")
        for note in notes:
            print(f"    note  {note}")
        print(f"{len(added)} actions written to {path}; review them, then: python -m cx_core actions check")
        return 0
    if args.actions_command == "import-mcp":

        if bool(args.command_line) == bool(args.url):
            raise InvalidInput("give the server's --command (launched over stdio) or its --url (streamable HTTP)")
        server = McpServer(name=args.name, command=args.command_line or None, url=args.url, trusted=args.trusted,
                           task_types=args.task_types or [])
        path, names = mcp_tools.import_mcp(target, server)
        for name in names:
            print(f"   added  {name}")
        kind = "trusted: its annotations count" if args.trusted else "untrusted: every tool is confirmed by a person"
        print(f"{len(names)} tools of '{args.name}' written to {path} ({kind})")
        return 0
    logging.getLogger("tandem.http_actions").setLevel(logging.CRITICAL)  # its problems are printed below instead
    packs.use(pack)
    own = frozenset(n for n in REGISTRY if n not in _declared())
    found = openapi.check(target, own, frozenset(pack.task_types))
    for line in found:
        print(line)
    path = target
    if not path.exists():
        print(f"{pack.name} declares no actions in {path}")
        return 0
    loaded = http_actions.LOADED
    for name, service in loaded.services.items():
        for missing in calls.missing_settings(service.base_url, service.headers):
            print(f"note: {path}: services.{name}: {missing} is not set here (calls to {name} fail until it is)")
    in_force = len(loaded.actions) + len(loaded.mcp) + len(loaded.composites)
    if loaded.refused:
        print(f"not in force: {', '.join(sorted(loaded.refused))} (each for the problem named above); "
              f"{in_force} in force")
    if not found:
        parsed = loading.load(path)
        print(f"{path}: {len(parsed.actions)} actions, {len(parsed.mcp_servers)} MCP servers, no problems")
    else:
        print(f"{len(found)} problem{'s' if len(found) != 1 else ''}")
    return 1 if found else 0


def cmd_train_intents(args: argparse.Namespace) -> int:
    from .triage import IntentModel  # trains a model: its libraries load only here

    services = _services()
    texts, labels = read_labelled_csv(Path(args.file), args.text_col, args.label_col)
    model = IntentModel.train(texts, labels, services.embedder)
    model.save(services.model_path)
    print(f"trained on {len(texts)} examples, {len(set(labels))} labels → {services.model_path}")
    return 0


def _eval_reading(args: argparse.Namespace) -> int:
    """``eval reading --sgd DIR``: each user turn read with only its service's schema; one JSON object last."""
    from tqdm import tqdm

    from .reading import sgd

    if not args.sgd:
        raise InvalidInput("eval reading needs --sgd DIR (the Schema-Guided Dialogue folder, ../shared/data/sgd)")
    if args.limit is not None and args.limit < 1:
        raise InvalidInput("--limit must be at least 1")
    services = {s.strip() for s in (args.services or "").split(",") if s.strip()} or None
    bar = tqdm(total=0, unit="turn", file=sys.stderr, disable=args.json and not sys.stderr.isatty())

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    result = sgd.evaluate(Path(args.sgd), args.split, args.limit, services, progress=progress)
    bar.close()
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()
                                                          if k != "by_service"))
    return 0


def _eval_natural(args: argparse.Namespace) -> int:
    """``eval natural --tickets F --expected F``: the tickets replayed in a throw-away copy of this data folder (as
    on ``--today``) and scored against their expectations, the tune and check halves apart; one JSON object."""
    from . import natural_eval, replay
    from .actions.base import REGISTRY, is_read

    if not args.ticket_file or not args.expected:
        raise InvalidInput("eval natural needs --tickets FILE and --expected FILE")
    settings = load_settings()
    good, bad = desk.parse_ticket_file(Path(args.ticket_file), channels=find(settings.domain).channel_names)
    if bad:
        raise InvalidInput(f"{args.ticket_file}: {bad[0].message}")
    expected = natural_eval.read_jsonl(Path(args.expected))
    records = list(replay.run(settings, good, None, args.autonomy, today=args.today))
    result = natural_eval.score(expected, records, {name for name in REGISTRY if is_read(name)})
    if args.details:
        Path(args.details).write_text(json.dumps({"score": result, "records": records}, indent=1,
                                                 ensure_ascii=False), encoding="utf-8")
    result.pop("tickets")
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


def cmd_train_reader(args: argparse.Namespace) -> int:
    """Fits the schema reader on the training services and writes its weights (joblib, compressed)."""
    import joblib

    from .embedding import shared_embedder
    from .reading.shipped import MODEL_FILE
    from .reading.training import train

    if args.turns < 100:
        raise InvalidInput("--turns must be at least 100")
    embedder = shared_embedder()
    model, report = train(Path(args.sgd), lambda texts: embedder.encode(list(texts)), args.turns,
                          lambda line: print(line, file=sys.stderr, flush=True))
    out = Path(args.out) if args.out else MODEL_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out, compress=3)
    report["bytes"] = out.stat().st_size
    print(json.dumps(report))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    # the evaluations load the embedding model and the classifier's libraries only for this command
    from .embedding import shared_embedder
    from .evaluation import eval_intents, eval_retrieval

    if args.what == "reading":
        return _eval_reading(args)
    if args.what == "natural":
        return _eval_natural(args)
    if args.what == "actions":
        pack = find(args.domain or load_settings().domain)
        if not args.db or not args.tasks:
            raise InvalidInput(f"eval actions needs --db and --tasks (τ-bench data for the {pack.name} domain)")
        full = pack.module("evaluation").evaluate(Path(args.db), Path(args.tasks))
        if args.details:
            Path(args.details).write_text(json.dumps(full, indent=1), encoding="utf-8")
        result = {k: full[k] for k in ("n", "proposed", "exact", "precision", "coverage", "db_match",
                                       "policy_violations", "request_recall", "request_precision", "requests",
                                       "requests_proposed", "requests_read", "halves", "split_seed")}
        print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
        return 0
    if args.what == "intents":
        if not args.train or not args.test:
            raise InvalidInput("eval intents needs --train CSV and --test CSV")
        result = eval_intents(Path(args.train), Path(args.test), args.text_col, args.label_col, shared_embedder())
    else:
        if not args.documents or not args.tasks:
            raise InvalidInput("eval retrieval needs --documents JSONL and --tasks JSON")
        if args.k < 1:
            raise InvalidInput("--k must be at least 1")
        result = eval_retrieval(Path(args.documents), Path(args.tasks), args.k, shared_embedder())
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:

    services = _services()
    services.db.migrate()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
    if not password:
        raise InvalidInput("give --password or --password-stdin")
    user = create_user(services.db, args.username, args.name or args.username, Role(args.role), password, "cli")
    print(f"user {user.username} saved with role {user.role.value}")
    return 0


def cmd_users_unlock(args: argparse.Namespace) -> int:

    services = _services()
    services.db.migrate()
    done = unlock_account(services.db, args.username, "cli")
    print(f"{done['username']} can sign in again ({done['failures']} failed attempts cleared"
          + (", lock lifted)" if done["was_locked"] else ")"))
    return 0


# ------------------------------------------------------------------ parser
