"""The shape of the product's code, held: no import cycle (imports inside functions and the packages a submodule
import runs count), project imports inside functions in ``cx_core`` few and each with its reason, no product file
over 600 lines, no function over 80."""

from __future__ import annotations

import ast
from pathlib import Path

from cx_core.config import PROJECT_ROOT

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80
MAX_LOCAL_IMPORTS = 20


def _files() -> list[Path]:
    return sorted([*PROJECT_ROOT.joinpath("cx_core").rglob("*.py"), *PROJECT_ROOT.joinpath("domains").rglob("*.py"),
                   *PROJECT_ROOT.joinpath("pages").glob("*.py"), PROJECT_ROOT / "app.py"])


def _module(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _inside(node: ast.AST, parents: dict[ast.AST, ast.AST], kinds: tuple[type, ...]) -> ast.AST | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, kinds):
            return node
    return None


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    block = _inside(node, parents, (ast.If,))
    return isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    found = [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names]
    return [t for t in found if t in known]


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    paths = {_module(p): p for p in _files()}
    known = set(paths)
    edges: dict[str, set[str]] = {m: set() for m in paths}
    local: list[str] = []
    for module, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = _parents(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or _type_checking_only(node, parents):
                continue
            targets = _targets(node, module, path.name == "__init__.py", known)
            if targets and module.startswith("cx_core") and _inside(node, parents, (ast.FunctionDef,
                                                                                   ast.AsyncFunctionDef)):
                local.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
            for target in targets:
                parts = target.split(".")
                for k in range(2, len(parts) + 1):  # importing a submodule runs its parent packages first
                    step = ".".join(parts[:k])
                    if step in known and step != module and not module.startswith(step + "."):
                        edges[module].add(step)
    return edges, local


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_and_few_imports_inside_functions() -> None:
    edges, local = _graph()
    assert _cycles(edges) == []
    assert len(local) < MAX_LOCAL_IMPORTS, local


def test_no_file_or_function_too_long_to_hold() -> None:
    long_files, long_functions = [], []
    for path in _files():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(str(path.relative_to(PROJECT_ROOT)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None \
                    and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                long_functions.append(f"{path.relative_to(PROJECT_ROOT)}:{node.name}")
    assert long_files == [] and long_functions == []


def test_no_control_character_hides_in_the_source() -> None:
    """A backspace where ``\\b`` was meant (written through an unescaped string) silently turns a pattern off."""
    bad = [f"{p.relative_to(PROJECT_ROOT)}:{n}" for p in _files() + sorted((PROJECT_ROOT / "tests").glob("*.py"))
           for n, line in enumerate(p.read_text().splitlines(), 1)
           if any(ord(c) < 32 and c != "\t" for c in line)]
    assert not bad, bad
