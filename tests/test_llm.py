"""The OpenAI-compatible engine at the HTTP layer: good answers are used, bad ones fall back, PII never leaves."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from cx_core import model_usage
from cx_core.llm import OfflineEngine, OpenAIEngine
from cx_core.model_usage import Metered
from cx_core.models import Citation, Draft, Passage
from cx_core.store.db import Database

DRAFT = Draft(summary="Ann (standard) via email. 1 request.",
              reply="Hi Ann,\n\nI've moved the delivery of order #W1234567 to Friday 20 November. We deliver Monday "
                    "to Saturday. [1]\n\nKind regards,\nLumen Home Customer Care",
              citations=[Citation(doc_id="delivery-reschedule", title="Rescheduling a delivery", heading="Limits")])
PASSAGES = [Passage(doc_id="delivery-reschedule", title="Rescheduling a delivery", heading="Limits",
                    text="A delivery can be rescheduled twice. Call ann@example.com or 555-201-3344.", score=1.0)]


def engine_answering(content: str | None, status: int = 200, seen: list[dict[str, object]] | None = None,
                     tokens: int = 0) -> OpenAIEngine:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if seen is not None:
            seen.append(body)
        if content is None:
            return httpx.Response(status, json={"error": {"message": "down"}})
        return httpx.Response(200, json={"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                         "choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": content}}],
                                         **({"usage": {"prompt_tokens": tokens - 10, "completion_tokens": 10,
                                                       "total_tokens": tokens}} if tokens else {})})

    return OpenAIEngine("http://llm.test/v1", "m", "k", http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def test_a_valid_answer_is_used_and_no_personal_data_is_sent() -> None:
    seen: list[dict[str, object]] = []
    reply = DRAFT.reply.replace("I've moved", "Good news: I've moved")
    out = engine_answering(json.dumps({"summary": "Ann wants a new delivery day.", "reply": reply}), seen=seen)\
        .polish(DRAFT, PASSAGES, "en")
    assert out.engine == "openai" and out.draft.reply.startswith("Hi Ann,\n\nGood news")
    assert out.draft.citations == DRAFT.citations
    sent = json.dumps(seen)
    assert "ann@example.com" not in sent and "555-201-3344" not in sent and "[email]" in sent


def test_the_customer_s_name_never_leaves_and_comes_back_in_the_answer() -> None:
    seen: list[dict[str, object]] = []
    answer = {"summary": "[name 1] wants a new delivery day.",
              "reply": DRAFT.reply.replace("Hi Ann,", "Dear [name 1],").replace("I've moved", "Good news: I've moved")}
    out = engine_answering(json.dumps(answer), seen=seen).polish(DRAFT, PASSAGES, "en", names=["Ann", "Lee"])
    assert "Ann" not in json.dumps(seen) and "[name 1]" in json.dumps(seen)
    assert out.engine == "openai" and out.draft.reply.startswith("Dear Ann,") and out.draft.summary.startswith("Ann ")


def test_invalid_or_failing_answers_fall_back_to_the_offline_draft() -> None:
    for engine in (engine_answering("not json at all"), engine_answering(None, status=500),
                   engine_answering(json.dumps({"summary": "s", "reply": "Hi Ann, done."}))):
        out = engine.polish(DRAFT, PASSAGES, "en")
        assert out.engine == "offline" and out.draft == DRAFT and out.fallback_reason


def test_offline_engine_keeps_the_draft() -> None:
    assert OfflineEngine().polish(DRAFT, PASSAGES, "en").draft == DRAFT


def test_a_server_without_schema_formats_is_asked_again_without_them() -> None:
    seen: list[dict[str, object]] = []
    reply = DRAFT.reply.replace("I've moved", "Good news: I've moved")
    good = json.dumps({"summary": "Ann wants a new delivery day.", "reply": reply})

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if "response_format" in body:
            status = 400 if body["response_format"]["type"] == "json_schema" else 422
            return httpx.Response(status, json={"error": {"message": "response_format is not supported"}})
        return httpx.Response(200, json={"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                         "choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": good}}]})

    engine = OpenAIEngine("http://llm.test/v1", "m", "k", http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    assert engine.polish(DRAFT, PASSAGES, "en").engine == "openai"
    assert engine.polish(DRAFT, PASSAGES, "en").engine == "openai"
    formats = [b.get("response_format", {}).get("type") for b in seen]  # type: ignore[attr-defined]
    assert formats == ["json_schema", "json_object", None, None]  # each form tried once, the answer remembered


def test_a_models_calls_are_counted_by_day_and_stage_and_the_days_budget_stops_calls_not_the_desk(
        tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tandem.db'}")
    db.migrate()
    calls: list[dict[str, object]] = []
    good = json.dumps({"summary": "Ann wants a new delivery day.", "reply": DRAFT.reply})
    metered = Metered(engine_answering(good, seen=calls, tokens=400), db, daily_tokens=700)
    first = metered.polish(DRAFT, PASSAGES, "en")
    assert first.engine == "openai" and first.tokens == 400 and model_usage.tokens_today(db) == 400
    assert metered.polish(DRAFT, PASSAGES, "en").engine == "openai"  # 400 used of 700: still called
    spent = metered.polish(DRAFT, PASSAGES, "en")  # 800 used: the budget stops the call, the offline draft stands
    assert len(calls) == 2 and spent.engine == "offline" and spent.draft is DRAFT
    assert "budget of 700 tokens is spent" in spent.fallback_reason
    broken = Metered(engine_answering(None, status=503), db).polish(DRAFT, PASSAGES, "en")  # no limit, server down
    assert broken.engine == "offline" and broken.draft is DRAFT
    [row] = model_usage.usage(db)
    assert (row["stage"], row["calls"], row["tokens"], row["fallbacks"], row["not_called"]) == ("wording", 3, 800, 1, 1)
    assert row["mean_latency_ms"] >= 0
    db.dispose()
