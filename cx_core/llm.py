"""The language engine behind a small protocol.

``OfflineEngine`` (default) keeps the deterministic draft as it is. ``OpenAIEngine`` asks any
OpenAI-compatible server (OpenAI, Azure, vLLM, Ollama, llama.cpp) to rewrite the draft's wording; its answer
is parsed into the same types, citation markers must survive, and on timeout or invalid output the offline
draft stands and the result says why. Personal data is redacted before a prompt leaves the process.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from .models import Draft, Passage
from .redact import redact_all


@dataclass
class Polished:
    draft: Draft
    engine: str
    fallback_reason: str = ""
    tokens: int = 0  # what the model's server counted for the call (prompt and answer), when it says


class Engine(Protocol):
    name: str

    def polish(self, draft: Draft, passages: list[Passage], language: str,
               names: list[str] | None = None) -> Polished: ...


class OfflineEngine:
    """Deterministic: the extractive summary and template + knowledge reply are the answer."""

    name = "offline"

    def polish(self, draft: Draft, passages: list[Passage], language: str,
               names: list[str] | None = None) -> Polished:
        return Polished(draft, self.name)


class _Rewrite(BaseModel):
    summary: str
    reply: str


SYSTEM = ("You rewrite customer-service drafts. Keep every fact, amount, date, order number and every citation "
          "marker like [1] exactly as given; add no promises and no facts that are not in the draft or the sources. "
          "Answer with JSON only: {\"summary\": str, \"reply\": str}.")


_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": False, "required": ["summary", "reply"],
                           "properties": {"summary": {"type": "string"}, "reply": {"type": "string"}}}
RESPONSE_FORMATS: list[Any] = [
    {"type": "json_schema", "json_schema": {"name": "rewrite", "schema": _SCHEMA, "strict": True}},
    {"type": "json_object", "schema": _SCHEMA},
]


class OpenAIEngine:
    """Any OpenAI-compatible chat-completions endpoint."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 20.0,
                 http_client: Any = None) -> None:
        from openai import OpenAI

        self.model = model
        self.tokens = 0  # the last call's tokens, as the server counted them
        self.format_level = 0  # index into RESPONSE_FORMATS of the form this server takes (past the end: none)
        self.format_confirmed = False
        self.client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=1,
                             http_client=http_client)

    def _complete(self, prompt: str) -> str:
        """The model's answer, constrained to the rewrite's JSON schema where the server can: OpenAI's
        ``json_schema`` format (OpenAI, vLLM, Ollama, llama.cpp's own server), else the ``json_object`` + schema
        form (llama-cpp-python, Anyscale), else plain text. Servers refuse a form they do not know in different
        ways (400, 422, even 500), so until one form has worked, a refusal moves on to the next form; the form
        that worked is kept, and later errors are errors."""
        from openai import APIStatusError

        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
        kwargs: dict[str, Any] = {"model": self.model, "temperature": 0.2, "max_tokens": 700, "messages": messages}
        while True:
            form = RESPONSE_FORMATS[self.format_level] if self.format_level < len(RESPONSE_FORMATS) else None
            try:
                answer = self.client.chat.completions.create(**kwargs, **({"response_format": form} if form else {}))
            except APIStatusError as exc:
                if self.format_confirmed or form is None or exc.status_code not in {400, 404, 415, 422, 500, 501}:
                    raise
                self.format_level += 1
                continue
            self.format_confirmed = True
            usage = getattr(answer, "usage", None)
            self.tokens += int(getattr(usage, "total_tokens", 0) or 0)
            return answer.choices[0].message.content or ""

    def polish(self, draft: Draft, passages: list[Passage], language: str,
               names: list[str] | None = None) -> Polished:
        """``names`` (the customer's first and last name) are replaced by markers before the prompt leaves and
        put back in the answer, so the model never sees who the customer is."""
        masks = _name_masks(names or [])

        def hide(text: str) -> str:
            text = redact_all(text)
            for marker, pattern, _ in masks:
                text = pattern.sub(marker, text)
            return text

        sources = "\n\n".join(f"[{p.doc_id} — {p.heading}]\n{hide(p.text)}" for p in passages[:4])
        prompt = (f"Language of the customer: {language}\n\nSources:\n{sources}\n\nDraft summary:\n"
                  f"{hide(draft.summary)}\n\nDraft reply:\n{hide(draft.reply)}")
        self.tokens = 0
        try:
            text = self._complete(prompt)
            match = re.search(r"\{.*\}", text, re.S)
            parsed = _Rewrite.model_validate(json.loads(match.group(0) if match else text))
        except (ValidationError, ValueError, AttributeError, IndexError) as exc:
            return Polished(draft, OfflineEngine.name, f"the model's answer was not usable ({type(exc).__name__})",
                            self.tokens)
        except Exception as exc:  # noqa: BLE001 - any transport failure falls back to the offline answer
            return Polished(draft, OfflineEngine.name, f"the model did not answer ({type(exc).__name__})", self.tokens)
        markers = set(re.findall(r"\[\d+\]", draft.reply))
        if not markers <= set(re.findall(r"\[\d+\]", parsed.reply)) or not parsed.reply.strip():
            return Polished(draft, OfflineEngine.name, "the model dropped citations", self.tokens)

        def unhide(text: str) -> str:
            for marker, _, name in masks:
                text = text.replace(marker, name)
            return text

        return Polished(Draft(summary=unhide(parsed.summary.strip()) or draft.summary,
                              reply=unhide(parsed.reply.strip()), citations=draft.citations), self.name,
                        tokens=self.tokens)


def _name_masks(names: list[str]) -> list[tuple[str, re.Pattern[str], str]]:
    """A marker, a whole-word pattern and the name itself for each name; names of one or two letters are left
    alone (they would mask ordinary words)."""
    kept = [n.strip() for n in names if len(n.strip()) > 2]
    return [(f"[name {i + 1}]", re.compile(rf"\b{re.escape(n)}\b", re.I), n) for i, n in enumerate(kept)]


def make_engine(base_url: str, model: str, api_key: str, timeout: float) -> Engine:
    if base_url:
        return OpenAIEngine(base_url, model or "default", api_key, timeout)
    return OfflineEngine()
