"""``Services``: one object built from ``Settings`` that owns the heavy clients and is passed down."""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from pathlib import Path

from . import domain, packs
from .config import Settings, load_settings
from .drafting import Drafter
from .embedding import Embedder, shared_embedder
from .errors import ConfigError
from .knowledge import KnowledgeBase
from .llm import make_engine
from .model_usage import Metered
from .pipeline import Pipeline
from .policy import Policy, load_policy
from .reading.backing import Backing
from .store.db import Database
from .triage import IntentModel, Triager, train_default

TRAINING_CSV = "training/task_types.csv"
log = logging.getLogger("tandem.services")


class Services:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.pack = packs.use(domain.find(self.settings.domain))
        self.db = Database(self.settings.db_url, pack=self.pack.name)
        self._policy: Policy | None = None
        self._policy_mtime = -1.0
        self._lock = threading.Lock()
        self.policy_error = ""  # why the newest policy file was refused, if it was

    # ------------------------------------------------------------ policy (reloaded when the file changes)
    def vocabulary(self) -> domain.Vocabulary:
        """The task types, actions and channels a policy of this domain may name."""
        return packs.vocabulary(self.pack)

    def policy(self) -> Policy:
        path = self.settings.active_policy_file
        mtime = path.stat().st_mtime if path.exists() else -1.0
        with self._lock:
            if self._policy is None or mtime != self._policy_mtime:
                try:
                    self._policy = load_policy(path, self.vocabulary())
                    self.policy_error = ""
                except ConfigError as exc:
                    if self._policy is not None:
                        self.policy_error = f"{exc} — version {self._policy.version} stays active"
                    else:
                        self._policy = self._shipped_policy(path, exc)
                    log.error("policy refused: %s", self.policy_error)
                self._policy_mtime = mtime
        return self._policy

    def _shipped_policy(self, refused: Path, exc: ConfigError) -> Policy:
        """An edited policy refused at start (e.g. it names an action this domain does not have): the domain's
        shipped policy is in force until an admin fixes it, and the refusal is shown to admins."""
        shipped = self.settings.knowledge_dir / "policy.yaml"
        if refused == shipped or self.settings.policy_file:
            raise exc  # nothing safer to fall back to
        policy = load_policy(shipped, self.vocabulary())
        self.policy_error = f"{exc} — the shipped policy (version {policy.version}) is in force until it is fixed"
        return policy

    # ------------------------------------------------------------ heavy parts, built on first use
    @cached_property
    def embedder(self) -> Embedder:
        return shared_embedder()

    @cached_property
    def kb(self) -> KnowledgeBase:
        return KnowledgeBase(self.settings.chroma_path, self.settings.chroma_url)

    @property
    def model_path(self) -> Path:
        return self.settings.model_dir / "task_types.joblib"

    @cached_property
    def intent_model(self) -> IntentModel:
        if self.model_path.exists():
            try:
                model = IntentModel.load(self.model_path)
                model.embedder = self.embedder
                return model
            except ConfigError:
                log.warning("the stored intent model is from an older version; retraining it")
        model = train_default(self.settings.knowledge_dir / TRAINING_CSV, self.embedder, self.model_path)
        model.embedder = self.embedder
        return model

    @cached_property
    def triager(self) -> Triager:
        esc = self.policy().escalation
        from .actions import REGISTRY  # the actions in force, read when the triage first needs them

        return Triager(self.intent_model, self.embedder, abstain_below=esc.confidence_below,
                       frustration_escalate=esc.frustration_above, backing=Backing(lambda: list(REGISTRY.values())))

    @cached_property
    def pipeline(self) -> Pipeline:
        s = self.settings
        engine = make_engine(s.llm_base_url, s.llm_model, s.llm_api_key, s.llm_timeout)
        if s.llm_base_url:  # a model's calls are counted, and held to the day's budget
            engine = Metered(engine, self.db, s.llm_daily_tokens)
        return Pipeline(self.db, self.kb, self.triager, Drafter(self.embedder), self.policy, engine, self.pack)

    def close(self) -> None:
        self.db.dispose()
