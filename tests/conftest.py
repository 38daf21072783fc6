"""Shared fixtures: one demo world per test session (fixed seed and date); each test gets its own copy."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1) > 1:
    # several test processes on two cores: one math thread each (and in every command they start); more threads
    # each fight over the cores and embed at half the speed
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from cx_core.config import PROJECT_ROOT, Settings, load_settings  # noqa: E402
from cx_core.services import Services  # noqa: E402

NOW = datetime(2026, 11, 18, 9, 30)  # a Wednesday
# the day the airline's demo world is built on in the tests that read its bookings: fixed, so that which flights
# have flown, been cancelled or are still ahead never depends on the day the suite runs
WORLD_DAY = date(2026, 11, 26)
SHARED = PROJECT_ROOT.parent / "shared"


# the files that take longest start first (measured: ``--durations=0`` summed per file), so the test processes
# (``pytest -n 3``) finish together instead of one waiting on a long file picked up last; the scheduler deals files
# out in turn (``--no-loadscope-reorder`` keeps this order), so the longest ones go to different processes; the rest
# keep their order
LONGEST_FIRST = ("test_browser.py", "test_airline_pack.py", "test_crash.py", "test_evaluation.py",
                 "test_api_schemathesis.py", "test_api_attacks.py", "test_eval_actions.py", "test_third_pack.py",
                 "test_cli.py", "test_busy_database.py", "test_browser_hostile.py", "test_browser_session.py",
                 "test_pages.py", "test_http_actions.py", "test_schema_reader.py", "test_delivery_ownership.py")


def pytest_configure(config: pytest.Config) -> None:
    """One embedding cache for the whole run: both test processes and every command they start embed a text once
    (the controller sets it before the test processes start; they and their subprocesses inherit it)."""
    if not os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("TANDEM_EMBEDDING_CACHE"):
        folder = Path(tempfile.mkdtemp(prefix="tandem-test-embeddings-"))
        os.environ["TANDEM_EMBEDDING_CACHE"] = str(folder / "vectors.sqlite")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: within a file, and among the rest, the order is kept


@pytest.fixture(autouse=True, scope="session")
def _demo_pack_in_force() -> None:
    """The demo company is the pack in force unless a test puts another in force (as ``Services`` does)."""
    from cx_core import packs
    from cx_core.domain import DEFAULT_DOMAIN

    packs.use_named(DEFAULT_DOMAIN)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a model API: an OpenAI client built by mistake fails at once."""
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-unused")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")


def _build_world(data: Path) -> Settings:
    from cx_core.auth import ensure_demo_users
    from cx_core.triage import train_default
    from domains.lumen.demo.world import build_world

    settings = load_settings(data_dir=data, database_url="")
    svc = Services(settings)
    build_world(svc.db, settings.seed, NOW.date())
    ensure_demo_users(svc.db)
    svc.kb.reset()
    svc.kb.ingest_paths([settings.articles_dir])
    train_default(settings.knowledge_dir / "training" / "task_types.csv", svc.embedder, svc.model_path)
    svc.close()
    return settings


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A demo world, knowledge index and trained classifier, built once per test run: the first test process to
    need it builds it, the others (``pytest -n``) wait for it and read the same one; tests work on copies."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # one test process
        return _build_world(tmp_path_factory.mktemp("world"))
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent  # shared by every process of this run
    data, done = root / "world", root / "world.built"
    with FileLock(str(root / "world.lock")):
        if not done.exists():
            shutil.rmtree(data, ignore_errors=True)
            _build_world(data)
            done.touch()
    return load_settings(data_dir=data, database_url="")


def copy_world(world: Settings, dest: Path) -> Settings:
    dest.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(str(world.data_dir / "tandem.db"))
    dst = sqlite3.connect(str(dest / "tandem.db"))
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    shutil.copytree(world.chroma_path, dest / "chroma", dirs_exist_ok=True)
    shutil.copytree(world.model_dir, dest / "models", dirs_exist_ok=True)
    return load_settings(data_dir=dest, database_url="")


@pytest.fixture
def services(world: Settings, tmp_path: Path) -> Iterator[Services]:
    """Services over a private copy of the demo world."""
    svc = Services(copy_world(world, tmp_path / "data"))
    yield svc
    svc.close()


@pytest.fixture
def shared_data() -> Path:
    path = SHARED / "data"
    if not path.exists():
        pytest.skip("../shared/data is not available")
    return path
