"""Every value a page shows passes ``cx_core.safe_text`` before Streamlit reads it as Markdown: a static check of
every rendering call in ``app.py`` and ``pages/`` (titles, captions, alerts, badges, toasts, widget labels and help
texts, tabs, expanders, popovers and page links all render Markdown, images and links included). A value put into
such a text is a call of the safe-text family, a constant, a number or date formatted by its format spec, a module
constant, or one of the few helpers that only ever return the pack's own words. The browser test of the same promise
(``test_browser_hostile``) proves it on the screen."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cx_core.config import PROJECT_ROOT

# the safe-text family: each masks secrets and shows the value as literal text (or a code span, or vetted Markdown)
SAFE = {"one_line", "escape_markdown", "contacts_as_code", "code_line", "inline_code", "safe_markdown"}
# helpers whose words are the pack's or the product's own, never a customer's, a sender's or a service's
OWN_WORDS = {"label", "action_label", "len", "money_in", "field_name", "sla_text", "round", "int", "max", "min"}
# Streamlit calls whose first argument (and ``label``/``body``/``help``) are rendered as Markdown
RENDERED = {"markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader", "toast",
            "badge", "expander", "popover", "button", "tabs", "text_input", "text_area", "selectbox", "radio",
            "checkbox", "page_link", "metric", "form_submit_button", "download_button", "multiselect",
            "number_input", "date_input", "toggle", "link_button", "file_uploader", "status", "spinner",
            "segmented_control", "pills", "write", "table", "slider", "select_slider", "time_input"}
KEYWORDS = {"label", "body", "help", "caption"}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


class _Scope:
    """What each local name of a function (or the module) is given: a name is safe to show when every value it is
    given, by assignment, ``+=`` or ``.append``, is safe itself."""

    def __init__(self, body: ast.AST) -> None:
        self.given: dict[str, list[ast.AST | None]] = {}
        for node in _own_nodes(body):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._give(target, node.value)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
                self._give(node.target, node.value)
            elif isinstance(node, ast.NamedExpr):
                self._give(node.target, node.value)
            elif isinstance(node, (ast.For, ast.comprehension)):
                self._give(node.target, None)
            elif isinstance(node, (ast.With,)):
                for item in node.items:
                    if item.optional_vars is not None:
                        self._give(item.optional_vars, None)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append"
                  and isinstance(node.func.value, ast.Name) and node.args):
                self.given.setdefault(node.func.value.id, []).append(node.args[0])
        if isinstance(body, (ast.FunctionDef, ast.Lambda)):
            for a in [*body.args.args, *body.args.kwonlyargs, *body.args.posonlyargs]:
                self.given.setdefault(a.arg, []).append(None)

    def _give(self, target: ast.AST, value: ast.AST | None) -> None:
        if isinstance(target, ast.Name):
            self.given.setdefault(target.id, []).append(value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._give(t, None)


def _own_nodes(body: ast.AST) -> list[ast.AST]:
    """The nodes of ``body`` outside the functions and classes defined in it."""
    out, todo = [], list(ast.iter_child_nodes(body))
    while todo:
        node = todo.pop()
        out.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return out


def _unsafe(node: ast.AST, scopes: list[_Scope], seen: frozenset[str] = frozenset()) -> list[ast.AST]:
    """The parts of a rendered text that are neither safe nor the product's own words."""
    def again(n: ast.AST) -> list[ast.AST]:
        return _unsafe(n, scopes, seen)

    if isinstance(node, ast.Constant):
        return []
    if isinstance(node, ast.JoinedStr):
        return [bad for v in node.values if isinstance(v, ast.FormattedValue)
                for bad in ([] if v.format_spec is not None else again(v.value))]
    if isinstance(node, ast.BinOp):
        return again(node.left) + again(node.right)
    if isinstance(node, ast.IfExp):
        return again(node.body) + again(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [bad for v in node.values for bad in again(v)]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [bad for v in node.elts for bad in again(v)]
    if isinstance(node, ast.Dict):
        return [bad for v in [*node.keys, *node.values] if v is not None for bad in again(v)]
    if isinstance(node, ast.DictComp):
        return again(node.key) + again(node.value)
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        return again(node.elt)
    if isinstance(node, ast.Call):
        name = _name(node.func)
        if name in SAFE and any(_name(a.func) in SAFE - {"inline_code"} for a in node.args
                                if isinstance(a, ast.Call)):
            return [node]  # escaped twice: the reader sees backslashes
        if name in SAFE or name in OWN_WORDS:
            return []
        if name == "get" and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.value.id.isupper():
            return [bad for a in node.args[1:2] for bad in again(a)]  # a constant table's word, or the default
        if name == "join" and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Constant):
            return again(node.args[0]) if node.args else []  # "; ".join(parts): each part
        if name in {"replace", "capitalize", "upper", "lower", "strip", "rstrip"} and \
                isinstance(node.func, ast.Attribute):
            return again(node.func.value)
        return [node]
    if isinstance(node, ast.Subscript):
        if isinstance(node.value, ast.Name) and node.value.id.isupper() or \
                isinstance(node.value, ast.Attribute) and node.value.attr.isupper():
            return []  # a module constant's entry (LEVELS[n], insights.LABELS[k])
        if isinstance(node.slice, ast.Slice):
            return again(node.value)  # part of a safe text
        return [node]
    if isinstance(node, ast.Attribute) and node.attr.isupper():
        return []  # another module's constant (insights.DEFINITIONS)
    if isinstance(node, ast.Name):
        if node.id.isupper():
            return []
        for scope in scopes:  # the innermost scope that gives the name a value
            if node.id in scope.given:
                if node.id in seen:
                    return []
                values = scope.given[node.id]
                if any(v is None for v in values):
                    return [node]
                return [bad for v in values for bad in _unsafe(v, scopes, seen | {node.id}) if v is not None][:1]
        return [node]
    return [node]


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _Scope(tree)
    out = []
    bodies = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda)))]
    for body in bodies:
        scopes = [_Scope(body), module] if body is not tree else [module]
        for node in _own_nodes(body):
            if not isinstance(node, ast.Call):
                continue
            # st.caption(…), and (st.success if ok else st.error)(…)
            funcs = [node.func.body, node.func.orelse] if isinstance(node.func, ast.IfExp) else [node.func]
            called = [f.attr for f in funcs if isinstance(f, ast.Attribute) and f.attr in RENDERED
                      and not (isinstance(f.value, ast.Name) and f.value.id in {"log", "logging", "re", "json"})]
            if not called:
                continue
            texts = list(node.args[:1]) + [k.value for k in node.keywords if k.arg in KEYWORDS]
            for text in texts:
                for bad in _unsafe(text, scopes):
                    out.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {called[0]}: "
                               f"{ast.unparse(bad)[:80]}")
    return out


@pytest.mark.parametrize("path", [PROJECT_ROOT / "app.py", *sorted((PROJECT_ROOT / "pages").glob("*.py"))],
                         ids=lambda p: p.name)
def test_every_value_a_page_renders_passes_the_safe_text_family(path: Path) -> None:
    found = _findings(path)
    assert not found, "shown without safe_text:\n" + "\n".join(found)
