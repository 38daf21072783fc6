"""``actions import-openapi``: a team's OpenAPI document turned into declared actions, written to the pack's
``actions.yaml`` for an admin to read and adjust. A GET becomes a read; anything else a write that a person confirms
until an admin says otherwise. Path, query and body parameters become one argument schema; whose record a write
touches is found through the read of the same resource when its answer names a customer, and an ``amount`` argument
is the amount policy limits apply to. Each write gets a ``wording:`` block from its summary (what the reply says of
it while proposed, waiting, done, refused or failed) for the team to edit. Actions already in the file are kept as
they are."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml

from ..errors import InvalidInput
from .loading import problems
from .wording import written

METHODS = ("get", "post", "put", "patch", "delete")
OWNER_FIELDS = ("customer_id", "customerId", "user_id", "userId", "owner_id", "account_id")


def read_document(source: str) -> tuple[dict[str, Any], str]:
    """The OpenAPI document at a path or an http(s) URL, and where it came from (for a relative server URL)."""
    if source.startswith(("http://", "https://")):
        import httpx

        try:
            resp = httpx.get(source, timeout=20, follow_redirects=True)
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise InvalidInput(f"{source}: could not be read ({exc})") from exc
        text = resp.text
    else:
        path = Path(source)
        if not path.exists():
            raise InvalidInput(f"{source}: file not found")
        text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{source}: neither JSON nor YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(doc, dict) or "paths" not in doc or not str(doc.get("openapi", doc.get("swagger", ""))):
        raise InvalidInput(f"{source}: not an OpenAPI document (it needs 'openapi' and 'paths')")
    return doc, source


def snake(name: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    return (text if re.match(r"^[a-z]", text) else f"op_{text}")[:60]


def _resolve(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """``node`` with local ``$ref``s replaced by what they point to (to a bounded depth)."""
    if depth > 12:
        return {}
    if isinstance(node, dict):
        if "$ref" in node and isinstance(node["$ref"], str) and node["$ref"].startswith("#/"):
            target: Any = doc
            for part in node["$ref"][2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            return _resolve(doc, target, depth + 1)
        return {k: _resolve(doc, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(doc, v, depth + 1) for v in node]
    return node


def _schema(raw: dict[str, Any]) -> dict[str, Any]:
    """The parts of a JSON Schema a declared argument keeps (``anyOf`` with null becomes optional)."""
    if "anyOf" in raw:
        kinds = [k for k in raw["anyOf"] if k.get("type") != "null"]
        raw = {**raw, **(kinds[0] if kinds else {"type": "string"})}
    keep = ("type", "enum", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
            "maxLength", "pattern", "items", "default", "description")
    out = {k: v for k, v in raw.items() if k in keep}
    if "description" not in out and raw.get("title"):
        out["description"] = raw["title"]
    out.setdefault("type", "string")
    if out.get("type") == "array" and isinstance(out.get("items"), dict):
        out["items"] = _schema(out["items"])
    return out


def _operation(doc: dict[str, Any], path: str, method: str, op: dict[str, Any], service: str,
               reads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    op = _resolve(doc, op)
    params = [*(_resolve(doc, doc["paths"][path].get("parameters", []))), *op.get("parameters", [])]
    properties: dict[str, Any] = {}
    required: list[str] = []
    query: dict[str, str] = {}
    key_header = None
    for p in params:
        where, name = p.get("in"), str(p.get("name", ""))
        if where == "header":
            if name.lower() == "idempotency-key":
                key_header = name
            continue
        if where not in {"path", "query"} or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        properties[name] = _schema({**(p.get("schema") or {}), "description": p.get("description")
                                    or (p.get("schema") or {}).get("description")})
        if where == "path" or p.get("required"):
            required.append(name)
        if where == "query":
            query[name] = f"{{{name}}}"
    body: dict[str, str] | None = None
    content = (op.get("requestBody") or {}).get("content", {})
    schema = (content.get("application/json") or {}).get("schema") or {}
    if schema.get("type", "object") == "object" and schema.get("properties"):
        body = {}
        for name, sub in schema["properties"].items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in properties:
                continue
            properties[name] = _schema(sub)
            body[name] = f"{{{name}}}"
        required += [r for r in schema.get("required", []) if r in body]
    name = snake(op.get("operationId") or f"{method}_{path}")
    effect = "read" if method == "get" else "destructive" if method == "delete" else "write"
    summary = str(op.get("description") or op.get("summary") or "").strip()
    decl: dict[str, Any] = {
        "name": name, "label": (op.get("summary") or name.replace("_", " ")).strip().rstrip(".")[:80],
        "description": summary or f"{method.upper()} {path}", "effect": effect, "service": service,
        "method": method.upper(), "path": path,
        "arguments": {"type": "object", "required": sorted(set(required)), "properties": properties},
    }
    if query:
        decl["query"] = query
    if body is not None:
        decl["body"] = body
    if effect == "read":
        fields = _response_fields(doc, op)
        owner = next((f for f in OWNER_FIELDS if f in fields), None)
        if owner:
            decl["owner"] = {"action": name, "args": {p: f"{{{p}}}" for p in re.findall(r"\{(\w+)\}", path)},
                             "field": owner}
        reads[name] = {"path": path, "owner": owner}
    else:
        decl["confirm"] = True
        decl["_answer"] = _response_fields(doc, op)
        if key_header:
            decl["idempotency_key"] = key_header
        owner_arg = next((f for f in OWNER_FIELDS if f in properties), None)
        if owner_arg:
            decl["owner"] = {"arg": owner_arg}
        if "amount" in properties:
            decl["amount"] = {"arg": "amount"}
    return decl


def _response_fields(doc: dict[str, Any], op: dict[str, Any]) -> set[str]:
    for status in ("200", "201"):
        schema = (((op.get("responses") or {}).get(status) or {}).get("content", {}).get("application/json") or {}
                  ).get("schema") or {}
        schema = _resolve(doc, schema)
        if schema.get("properties"):
            return set(schema["properties"])
    return set()


DRY_RUN = re.compile(r"/(preview|validate|dry[-_]?run)$")


def _dry_run_of(decl: dict[str, Any], dry: list[dict[str, Any]], writes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The dry run of a write: on its path, with its method; else the one on its path when the write is the only
    write there (``POST /visits/{id}/validate`` for ``PATCH /visits/{id}``)."""
    same_path = [d for d in dry if DRY_RUN.sub("", d["path"]) == decl["path"]]
    same = [d for d in same_path if d["method"] == decl["method"]]
    if same:
        return same[0]
    alone = [w for w in writes if w["path"] == decl["path"]] == [decl]
    return same_path[0] if alone and len(same_path) == 1 else None


def _previews(found: list[dict[str, Any]], notes: list[str] | None = None) -> list[dict[str, Any]]:
    """Dry-run operations (``POST /orders/{id}/refunds/preview``) attached to their write as its preview; one that
    belongs to no write is said in ``notes``."""
    out = []
    dry = [d for d in found if d["effect"] != "read" and DRY_RUN.search(d["path"])]
    writes = [d for d in found if d["effect"] != "read" and d not in dry]
    used: list[dict[str, Any]] = []
    for decl in found:
        if decl in dry:
            continue
        match = _dry_run_of(decl, dry, writes) if decl["effect"] != "read" else None
        if match is not None:
            used.append(match)
            preview: dict[str, Any] = {"method": match["method"], "path": match["path"]}
            if match.get("body"):
                preview["body"] = match["body"]
            if match.get("query"):
                preview["query"] = match["query"]
            props = match.get("_answer", set())
            if "ok" in props:
                preview["ok"] = "ok"
            for reason in ("reason", "message", "detail"):
                if reason in props:
                    preview["reason"] = reason
                    break
            decl["preview"] = preview
        out.append(decl)
    for d in dry:
        if d not in used and notes is not None:
            notes.append(f"{d['name']} ({d['method'].upper()} {d['path']}) is a dry run of no write in the document "
                         f"(none at {d['method'].upper()} {DRY_RUN.sub('', d['path'])}): give the write it checks a "
                         "preview: by hand")
    out = _undos(out)
    for decl in out:
        decl.pop("_answer", None)
    return out


def _undos(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``DELETE /refunds/{refund_id}`` is the undo of ``POST …/refunds`` when the POST answers the new resource's
    ``id``: attached to it (so a supervisor's reversal calls it), not an action of its own."""
    out = []
    for decl in found:
        m = re.fullmatch(r"/(\w+)/\{(\w+)\}", decl["path"])
        creator = None
        if decl["method"] == "DELETE" and m:
            creator = next((d for d in found if d["method"] == "POST" and d["path"].endswith(f"/{m.group(1)}")
                            and "id" in d.get("_answer", set()) and "undo" not in d), None)
        if creator is not None and m is not None:
            creator["undo"] = {"method": "DELETE", "path": f"/{m.group(1)}/{{result.id}}"}
            continue
        out.append(decl)
    return out


def _owner_by_read(decl: dict[str, Any], reads: dict[str, dict[str, Any]]) -> None:
    """A write on a resource is owned by whoever the read of that resource names (``POST /orders/{id}/refunds`` by
    ``GET /orders/{id}``'s customer), when such a read exists."""
    if "owner" in decl or decl["effect"] == "read":
        return
    best = None
    for name, read in reads.items():
        if read["owner"] and decl["path"].startswith(read["path"]) and \
                set(re.findall(r"\{(\w+)\}", read["path"])) <= set(decl["arguments"]["properties"]):
            if best is None or len(read["path"]) > len(reads[best]["path"]):
                best = name
    if best is not None:
        params = re.findall(r"\{(\w+)\}", reads[best]["path"])
        decl["owner"] = {"action": best, "args": {p: f"{{{p}}}" for p in params}, "field": reads[best]["owner"]}


def import_openapi(source: str, target: Path, only: list[str] | None = None, service: str | None = None,
                   base_url: str | None = None, replace: bool = False, taken: frozenset[str] = frozenset(),
                   notes: list[str] | None = None) -> tuple[Path, list[str], list[str]]:
    """Writes the document's operations (or the ``only`` ones, by operationId or action name) to the actions file
    ``target``; a name the pack's own actions use (``taken``) gets the service's name in front. An operation whose
    path ends in ``/preview`` or ``/validate`` is the dry run of the write it belongs to, not an action. Returns the
    file, the actions added, and the ones kept because the file had them already."""
    doc, origin = read_document(source)
    title = snake(str((doc.get("info") or {}).get("title") or "service"))[:30]
    service = service or title
    servers = doc.get("servers") or []
    url = base_url or (servers[0].get("url") if servers and isinstance(servers[0], dict) else "")
    if url and not url.startswith("${") and not urlsplit(url).scheme and origin.startswith(("http://", "https://")):
        url = urljoin(origin, url)
    if not url and origin.startswith(("http://", "https://")):
        parts = urlsplit(origin)
        url = f"{parts.scheme}://{parts.netloc}"
    if not url:
        raise InvalidInput("the document names no server: give --base-url (e.g. https://orders.internal)")
    wanted = {snake(w): w for w in only or []}
    matched: set[str] = set()
    reads: dict[str, dict[str, Any]] = {}
    found: list[dict[str, Any]] = []
    for path, item in (doc.get("paths") or {}).items():
        for method in METHODS:
            op = (item or {}).get(method)
            if not isinstance(op, dict) or op.get("x-tandem-skip"):
                continue
            opid = snake(str(op.get("operationId") or f"{method}_{path}"))
            if wanted and opid not in wanted:
                continue
            matched.add(opid)
            found.append(_operation(doc, path, method, op, service, reads))
    if wanted:
        missing = {original for name, original in wanted.items() if name not in matched}
        if missing:
            raise InvalidInput(f"no operation called {', '.join(sorted(missing))} in {source}")
    found = _previews(found, notes)
    for decl in found:
        _owner_by_read(decl, reads)
        if decl["name"] in taken:
            decl["name"] = snake(f"{service}_{decl['name']}")
        said = written(decl["label"], decl["arguments"], decl["effect"])
        if said:
            decl["wording"] = said  # the reply's words in each state, from the summary: the team edits them
    current: dict[str, Any] = {}
    if target.exists():
        current = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
    services = dict(current.get("services") or {})
    if service not in services:
        services[service] = {"base_url": url.rstrip("/"), "timeout": 10}
    actions = list(current.get("actions") or [])
    have = {a.get("name"): i for i, a in enumerate(actions) if isinstance(a, dict)}
    added, kept = [], []
    for decl in found:
        if decl["name"] in have and not replace:
            kept.append(decl["name"])
            continue
        if decl["name"] in have:
            actions[have[decl["name"]]] = decl
        else:
            actions.append(decl)
        added.append(decl["name"])
    out = {**current, "services": services, "actions": actions}
    header = (f"# Actions on the team's own systems, imported from {source} and then reviewed by an admin.\n"
              "# GET operations are reads; the others are writes a person confirms until you set confirm: false.\n"
              "# Check each write's owner (whose record it touches) and amount, then: python -m cx_core actions "
              "check\n")
    target.write_text(header + yaml.safe_dump(out, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")
    return target, added, kept


def check(path: Path, known: frozenset[str], task_types: frozenset[str]) -> list[str]:
    """Every problem of an actions file, one line each as ``FILE: FIELD: what to fix``."""
    if not path.exists():
        return []
    return [f"{path}: {field}: {message}" for field, message in problems(path, known, task_types)]
