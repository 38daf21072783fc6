"""Outside text on staff pages, shown without doing anything. Streamlit renders Markdown in titles, captions,
labels, help texts, badges, tabs, toasts and ``st.markdown``, so a ticket's ``![](http://…)`` would load a tracking
image when an advisor opens it and its links would be live phishing in the advisor's own tool.

Every value that came from outside (names, addresses, subjects, ids, a query string, an exception's text, a
service's answer) reaches a page through this module, and every function here masks secrets first
(``secret_mask``):

- ``one_line`` is the one way to show a value as text: on one line, cut at a word, escaped. ``escape_markdown`` keeps
  the value's lines. Both escape every character Markdown, HTML, Streamlit's directives (``:red[…]``), LaTeX
  (``$``) and GitHub's bare-URL links could act on.
- ``contacts_as_code`` and ``code_line`` show an address or an id as a code span (copied exactly, never a link).
- Knowledge passages keep their formatting: ``safe_markdown`` parses them with markdown-it and writes them back
  with every image turned into its alt text and every link into plain text, except links and images served over
  http(s) from a host the admin allowed (``TANDEM_ALLOWED_LINK_HOSTS``).

``tests/test_outside_text.py`` checks every rendering call of the pages for it; ``tests/test_browser_hostile.py``
walks every page with hostile values in every field a stranger controls."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from .secret_mask import mask

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character; CommonMark escapes them all
# Streamlit's GitHub-flavoured Markdown turns "http://…", "www.…" and "name@host.tld" inside plain text into links
# after parsing, escapes or not; an invisible word joiner where its patterns need two characters side by side
# ("://", "www.", "x@") keeps them text and looks the same.
_BARE_LINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<!\u2060)(?=@)", re.I)
WORD_JOINER = "\u2060"


def escape_markdown(text: Any) -> str:
    """``text`` (any value, as ``str``) with secrets masked, as literal characters in any Streamlit Markdown: a
    backslash before each ASCII punctuation character (no emphasis, link, image, HTML tag, entity, directive or
    formula is recognised) and a word joiner inside anything Streamlit would turn into a link on its own (bare URLs
    and e-mail addresses)."""
    return _PUNCTUATION.sub(r"\\\1", _BARE_LINK.sub(WORD_JOINER, mask("" if text is None else str(text))))


def one_line(text: Any, limit: int | None = None) -> str:
    """The way to show a value from outside: as ``str``, secrets masked, escaped and on one line (whitespace runs
    become one space), for titles, labels, captions and help texts; cut to ``limit`` characters before escaping so
    an escape is never cut in half, at a word and with "…" (never "found on the recor")."""
    flat = " ".join(mask("" if text is None else str(text)).split())
    return escape_markdown(cut_words(flat, limit - 1) if limit and len(flat) > limit else flat)


def cut_words(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, with "…" when anything was cut."""
    if len(text) <= limit:
        return text
    head = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return head.rstrip(" ,;:-") + "…"


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CONTACT = re.compile(rf"{_EMAIL.pattern}|\+?\d[\d() -]{{5,}}\d")  # an e-mail address, a phone number


def contacts_as_code(text: str, limit: int | None = None, phones: bool = True) -> str:
    """``one_line``, except that each e-mail address (and phone number, unless ``phones`` is False: in prose an
    order number's digits are no phone) in it is a code span: copied, it is exactly what was written (no invisible
    word joiner before an "@"), on one line, and never a link."""
    flat = " ".join(mask(text).split())
    flat = flat[:limit] if limit else flat
    out, at = [], 0
    for m in (_CONTACT if phones else _EMAIL).finditer(flat):
        out += [escape_markdown(flat[at:m.start()]), inline_code(m.group())]
        at = m.end()
    return "".join(out) + escape_markdown(flat[at:])


def code_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line, secrets masked, as a code span: shown exactly as written (an e-mail address with no
    escapes in it), and never a link."""
    flat = " ".join(mask(text).split())
    return inline_code(flat[:limit] if limit else flat)


def inline_code(text: str) -> str:
    """``text`` on one line as a code span whose fence no backtick inside can close."""
    flat = " ".join(text.split())
    fence = _fence(flat, least=1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}" if flat else ""


def allowed_hosts(setting: str | Iterable[str]) -> frozenset[str]:
    """The hosts of a comma-separated setting, lower case (``docs.example.com, help.example.com``)."""
    items = setting.split(",") if isinstance(setting, str) else setting
    return frozenset(h.strip().lower().strip(".") for h in items if h.strip())


def is_allowed(url: str, hosts: frozenset[str]) -> bool:
    """Whether ``url`` may stay live: http(s) on an allowed host or one of its subdomains."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(host) and any(host == h or host.endswith("." + h)
                                                                     for h in hosts)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def safe_markdown(text: str, hosts: str | Iterable[str] = "") -> str:
    """``text`` (Markdown) written back with its headings, lists, emphasis, code and tables, images and links
    kept only when ``is_allowed``; everything else is plain, escaped text."""
    return _Writer(allowed_hosts(hosts)).block(SyntaxTreeNode(_parser().parse(text)))


def _fence(code: str, char: str = "`", least: int = 3) -> str:
    """A run of ``char`` longer than any run of it inside ``code``."""
    longest = max((len(m) for m in re.findall(re.escape(char) + "+", code)), default=0)
    return char * max(least, longest + 1)


class _Writer:
    """Markdown out of markdown-it's syntax tree, one node type at a time."""

    def __init__(self, hosts: frozenset[str]) -> None:
        self.hosts = hosts

    def block(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind in {"root", "list_item"}:
            return self.block_children(node)
        if kind == "paragraph":
            return self.inline(node.children)
        if kind == "heading":
            return "#" * int(node.tag[1]) + " " + self.inline(node.children)
        if kind in {"bullet_list", "ordered_list"}:
            return self.items(node)
        if kind == "blockquote":
            return "\n".join(f"> {line}" if line else ">" for line in self.block_children(node).splitlines())
        if kind in {"fence", "code_block"}:
            fence = _fence(node.content)
            return f"{fence}\n{node.content.rstrip(chr(10))}\n{fence}"
        if kind == "hr":
            return "---"
        if kind == "table":
            return self.table(node)
        return escape_markdown(node.content)  # a kind this writer does not know stays plain text

    def block_children(self, node: SyntaxTreeNode) -> str:
        return "\n\n".join(part for part in (self.block(c) for c in node.children) if part)

    def items(self, node: SyntaxTreeNode) -> str:
        start = int(str(node.attrs.get("start", 1)))
        tight = any(p.hidden for item in node.children for p in item.children if p.type == "paragraph")
        out = []
        for n, item in enumerate(node.children, start):
            marker = f"{n}. " if node.type == "ordered_list" else "- "
            body = "\n".join(part for part in (self.block(c) for c in item.children) if part) if tight \
                else self.block(item)
            lines = body.splitlines() or [""]
            out.append("\n".join([marker + lines[0]] + [" " * len(marker) + ln if ln else "" for ln in lines[1:]]))
        return ("\n" if tight else "\n\n").join(out)

    def table(self, node: SyntaxTreeNode) -> str:
        rows = [tr for part in node.children for tr in part.children]
        lines = ["| " + " | ".join(self.inline(cell.children) for cell in tr.children) + " |" for tr in rows]
        if lines:
            lines.insert(1, "|" + "---|" * len(rows[0].children))
        return "\n".join(lines)

    def inline(self, nodes: list[SyntaxTreeNode]) -> str:
        return "".join(self.span(n) for n in nodes)

    def span(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "inline":
            return self.inline(node.children)
        if kind == "text":
            return escape_markdown(node.content)
        if kind == "softbreak":
            return "\n"
        if kind == "hardbreak":
            return "  \n"
        if kind in {"strong", "em", "s"}:
            mark = {"strong": "**", "em": "*", "s": "~~"}[kind]
            return mark + self.inline(node.children) + mark
        if kind == "code_inline":
            return inline_code(node.content)
        if kind == "link":
            label = self.inline(node.children)
            href = str(node.attrs.get("href", ""))
            return f"[{label}](<{href}>)" if is_allowed(href, self.hosts) and _plain_url(href) else label
        if kind == "image":
            alt = escape_markdown(node.content)
            src = str(node.attrs.get("src", ""))
            return f"![{alt}](<{src}>)" if is_allowed(src, self.hosts) and _plain_url(src) else alt
        return escape_markdown(node.content)


def _plain_url(url: str) -> bool:
    """A URL that fits in ``<…>`` as it is (markdown-it has already percent-encoded the rest)."""
    return not re.search(r"[<>\s\\]", url)


# ---------------------------------------------------------------- plain text for customers
_MD_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(\s*<?[^)\s>]*>?(?:\s+\"[^\"\n]*\")?\s*\)")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>", re.I)
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_EM = re.compile(r"(?<![\w*\\])\*(?=[^\s*])([^*\n]*?[^\s*\\])\*(?![\w*])|(?<![\w\\])_(?=[^\s_])([^_\n]*?[^\s_\\])_(?!\w)")
_MD_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_MD_CODE = re.compile(r"(`+)\s?(.+?)\s?\1")
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
_MD_SETEXT = re.compile(r"^[ \t]{0,3}(?:=+|-{2,})[ \t]*$", re.M)
_MD_RULE = re.compile(r"^[ \t]{0,3}(?:(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$", re.M)
_MD_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?", re.M)
_MD_BULLET = re.compile(r"^([ \t]*)[*+][ \t]+", re.M)
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def plain_text(text: str) -> str:
    """``text`` with its Markdown syntax taken out, for a channel that shows characters as they are (e-mail, SMS,
    a phone script, social replies): emphasis, code and strike marks go, a heading or quote keeps its words, a link
    keeps its words and, when it points to a web or mail address, the address in brackets ("the returns page
    (https://…)"), an image keeps its description, bullets become "- ". Line breaks and the words stay as written;
    an asterisk that marks nothing ("5 * 3", "*") stays."""
    text = _MD_IMAGE.sub(lambda m: m.group(1), text)

    def link(m: re.Match[str]) -> str:
        words, url = m.group(1), m.group(2)
        if re.match(r"(?:https?|mailto):", url, re.I) and url.removeprefix("mailto:") != words:
            return f"{words} ({url.removeprefix('mailto:')})"
        return words

    text = _MD_LINK.sub(link, text)
    text = _MD_AUTOLINK.sub(r"\1", text)
    text = _MD_CODE.sub(lambda m: m.group(2), text)
    for _ in range(2):  # nested emphasis ("***both***")
        text = _MD_STRONG.sub(r"\2", text)
        text = _MD_EM.sub(lambda m: m.group(1) or m.group(2), text)
    text = _MD_STRIKE.sub(r"\1", text)
    text = _MD_HEADING.sub(r"\1", text)
    text = _MD_SETEXT.sub("", text)
    text = _MD_RULE.sub("", text)
    text = _MD_QUOTE.sub("", text)
    text = _MD_BULLET.sub(r"\1- ", text)
    text = _MD_ESCAPE.sub(r"\1", text)
    return re.sub(r"\n{3,}", "\n\n", text)
