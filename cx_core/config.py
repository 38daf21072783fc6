"""One ``Settings`` object, read from the environment (``TANDEM_*``) and ``.streamlit/secrets.toml``."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import secret_mask
from .domain import DEFAULT_DOMAIN, find
from .errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _secrets_file_values() -> dict[str, Any]:
    """Values under ``[tandem]`` in ``.streamlit/secrets.toml``, if the file exists."""
    path = PROJECT_ROOT / ".streamlit" / "secrets.toml"
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    section = data.get("tandem", {})
    return section if isinstance(section, dict) else {}


class Settings(BaseSettings):
    """Where Tandem keeps its data and which engines it uses. Build once, pass down."""

    model_config = SettingsConfigDict(env_prefix="TANDEM_", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="Folder for the SQLite file, Chroma and models.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    domain: str = Field(default=DEFAULT_DOMAIN, description="The domain pack served: a folder under domains/ or an "
                                                     "installed 'tandem.domains' entry point.")
    knowledge_dir: Path = Field(default=Path(), description="Knowledge base, training examples and default policy; "
                                "default: the domain pack's own knowledge folder.")
    policy_file: Path | None = Field(default=None, description="Active policy YAML; default the domain pack's.")
    chroma_url: str = Field(default="", description="Chroma server URL; empty means a local persistent folder.")
    seed: int = Field(default=20261121, description="Seed of the demo world.")
    simulator_interval: float = Field(default=6.0, description="Seconds between simulated tickets.")
    worker_poll: float = Field(default=1.0, description="Seconds between worker polls for new tickets.")
    lease_seconds: float = Field(default=60.0, description="Seconds a worker's claim on a ticket lasts unless renewed; "
                                 "a dead worker's tickets are taken back after it.")
    llm_base_url: str = Field(default="", description="OpenAI-compatible base URL; empty means the offline engine.")
    llm_model: str = Field(default="", description="Model name for the OpenAI-compatible engine.")
    llm_timeout: float = Field(default=20.0, description="Seconds before the offline engine answers instead.")
    llm_daily_tokens: int = Field(default=0, ge=0, description="Tokens the model may use in a day (UTC); past them "
                                  "the offline engine answers until midnight. 0: no limit.")
    advisor_cost_per_hour: float = Field(default=36.0, description="Loaded cost of an advisor hour (Insights).")
    agent_cost_per_ticket: float = Field(default=0.02, description="Compute cost of the agent per ticket (Insights).")
    llm_api_key: str = Field(default="", validation_alias="OPENAI_API_KEY", description="Key for the LLM server.")
    sign_in_delay_after: int = Field(default=5, ge=1, description="Failed sign-ins of one account from one "
                                     "address before each further attempt from there waits (2 s, 4 s, 8 s…).")
    sign_in_lock_after: int = Field(default=20, ge=2, description="Failed sign-ins of one account from one address, "
                                    "within the window, that lock it there until an admin unlocks it.")
    sign_in_account_delay_after: int = Field(default=25, ge=1, description="Wrong passwords for one account from "
                                             "addresses it never signed in from before every such address waits.")
    sign_in_window_minutes: int = Field(default=1440, ge=1, description="An account's failures are forgotten "
                                                                        "after this long without one.")
    sign_in_client_delay_after: int = Field(default=10, ge=1, description="Failed sign-ins from one client "
                                                                          "address before its attempts wait.")
    sign_in_client_window_minutes: int = Field(default=60, ge=1, description="A client's failures are forgotten "
                                                                             "after this long without one.")
    sign_in_client_lock_after: int = Field(default=50, ge=2, description="Failed sign-ins from one client address, "
                                           "whatever names, that lock the address for a while.")
    sign_in_client_lock_minutes: int = Field(default=60, ge=1, description="How long a locked client address waits.")
    sign_in_max_delay_seconds: int = Field(default=900, ge=1, description="The longest wait between attempts.")
    client_address_header: str = Field(default="", description="Header a reverse proxy sets to the client address "
                                                               "(e.g. X-Forwarded-For, last address used); empty "
                                                               "means the connection's own address.")
    session_hours: float = Field(default=12.0, gt=0, le=24 * 90, description="How long a browser stays signed in "
                                 "after signing in (across reloads and new tabs), in hours.")
    session_secret: SecretStr = Field(default=SecretStr(""), description="Key that signs session tokens; empty "
                                      "means a random key made once and kept in data_dir/session.key. Give every "
                                      "app server of one database the same key; changing it signs everyone out.")
    max_upload_mb: int = Field(default=20, ge=1, description="Largest knowledge file accepted, in MB (upload page, "
                                                             "ingest-kb); keep server.maxUploadSize in "
                                                             ".streamlit/config.toml at least this big.")
    max_unpacked_mb: int = Field(default=50, ge=1, description="Most text a knowledge file may unpack to, in MB: a "
                                                               "DOCX's parts, a PDF stream, a document's text.")
    max_document_parts: int = Field(default=1000, ge=1, description="Most files inside one DOCX (a zip).")
    max_pdf_pages: int = Field(default=1000, ge=1, description="Most pages in one PDF.")
    allowed_link_hosts: str = Field(default="", description="Comma-separated hosts whose links and images stay live "
                                                            "in knowledge passages (and their subdomains); empty "
                                                            "means none.")

    admin_password: SecretStr = Field(default=SecretStr(""), description="Password of the first admin ('admin') "
                                      "that setup creates when there is no staff account yet; empty: a random one, "
                                      "printed once.")

    # ---- delivery: the outbox's dispatcher
    delivery_max_attempts: int = Field(default=12, ge=1, description="Attempts at delivering one outgoing message "
                                       "before it is marked failed (shown on the ticket and the Channels page).")
    delivery_retry_seconds: float = Field(default=5.0, gt=0, description="Wait before the first retry; doubled "
                                          "after each failure, up to delivery_retry_max_seconds.")
    delivery_retry_max_seconds: float = Field(default=900.0, gt=0, description="The longest wait between retries.")
    delivery_lease_seconds: float = Field(default=60.0, gt=0, description="How long a dispatcher holds a message "
                                          "without renewing it: it renews it right before the hand-over and every "
                                          "third of it while a send lasts, so a slow mail server or helpdesk never "
                                          "lets it run out; a dead dispatcher's messages are taken over after it. "
                                          "Keep it well above the database's longest pause.")
    delivery_poll: float = Field(default=1.0, gt=0, description="Seconds between the dispatcher's looks at the "
                                 "outbox.")
    # ---- inbound API and webhooks
    api_max_body_kb: int = Field(default=256, ge=1, description="Largest request body the API and webhooks accept, "
                                 "in KB (larger: 413).")
    webhook_max_age_seconds: int = Field(default=300, ge=1, description="A signed webhook whose timestamp is older "
                                         "(or further ahead) than this is refused.")
    api_rate_per_minute: int = Field(default=600, ge=1, description="Requests one API token may make a minute "
                                     "(beyond it: 429 with Retry-After); a token can carry its own.")
    api_daily_quota: int = Field(default=20000, ge=1, description="New tickets and messages one API token may add "
                                 "a day (UTC; beyond it: 429 until midnight); a token can carry its own.")
    api_failed_auth_per_minute: int = Field(default=30, ge=1, description="Calls with a missing or wrong token one "
                                            "client address may make a minute before it gets 429 for a while.")
    outbound_webhook_url: str = Field(default="", description="Where replies to tickets that came in through the "
                                      "API are POSTed (signed); empty: they are read with GET /api/v1/tickets/ID.")
    outbound_webhook_secret: SecretStr = Field(default=SecretStr(""), description="Key that signs outbound "
                                               "webhooks (X-Tandem-Signature).")
    # ---- e-mail: a mailbox polled over IMAP, replies over SMTP
    imap_host: str = Field(default="", description="IMAP server of the support mailbox; empty: no mailbox.")
    imap_port: int = Field(default=993, description="IMAP port (993 with TLS, 143 without).")
    imap_ssl: bool = Field(default=True, description="IMAP over TLS.")
    imap_user: str = Field(default="", description="IMAP login.")
    imap_password: SecretStr = Field(default=SecretStr(""), description="IMAP password.")
    imap_folder: str = Field(default="INBOX", description="The folder new mail arrives in.")
    imap_poll_seconds: float = Field(default=30.0, gt=0, description="Seconds between looks at the mailbox when the "
                                     "server offers no IDLE (with IDLE, new mail is read as it arrives).")
    smtp_host: str = Field(default="", description="SMTP server replies are sent through; empty: no e-mail out.")
    smtp_port: int = Field(default=587, description="SMTP port (587 with STARTTLS, 465 with TLS, 25 plain).")
    smtp_security: str = Field(default="starttls", pattern="^(starttls|ssl|none)$", description="starttls, ssl or "
                               "none.")
    smtp_user: str = Field(default="", description="SMTP login (empty: no login).")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP password.")
    mail_from: str = Field(default="", description="The From address of replies, e.g. 'Acme Care "
                           "<care@example.com>'; default the domain's sender.")
    # ---- helpdesks: Chatwoot, Zendesk, django-helpdesk
    chatwoot_url: str = Field(default="", description="Chatwoot's base URL, e.g. https://chat.example.com.")
    chatwoot_account_id: str = Field(default="", description="The Chatwoot account the inbox belongs to.")
    chatwoot_api_token: SecretStr = Field(default=SecretStr(""), description="An agent's or bot's api_access_token.")
    chatwoot_webhook_secret: SecretStr = Field(default=SecretStr(""), description="The webhook's secret "
                                               "(verifies X-Chatwoot-Signature).")
    zendesk_url: str = Field(default="", description="https://YOUR-SUBDOMAIN.zendesk.com")
    zendesk_email: str = Field(default="", description="The agent e-mail the API token belongs to.")
    zendesk_api_token: SecretStr = Field(default=SecretStr(""), description="A Zendesk API token.")
    zendesk_webhook_secret: SecretStr = Field(default=SecretStr(""), description="The webhook's signing secret "
                                              "(verifies X-Zendesk-Webhook-Signature).")
    zammad_url: str = Field(default="", description="Zammad's base URL, e.g. https://support.example.com.")
    zammad_api_token: SecretStr = Field(default=SecretStr(""), description="An agent's Token Access token with "
                                        "ticket.agent permission (sent as 'Authorization: Token token=…').")
    zammad_webhook_secret: SecretStr = Field(default=SecretStr(""), description="The webhook's HMAC SHA1 signature "
                                             "token (verifies X-Hub-Signature).")
    helpdesk_url: str = Field(default="", description="django-helpdesk's base URL, e.g. https://help.example.com.")
    helpdesk_user: str = Field(default="", description="A django-helpdesk staff user for its REST API.")
    helpdesk_password: SecretStr = Field(default=SecretStr(""), description="That user's password.")
    helpdesk_poll_seconds: float = Field(default=60.0, gt=0, description="Seconds between looks at django-helpdesk's "
                                         "open tickets, catching what a lost webhook missed.")
    helpdesk_webhook_token: SecretStr = Field(default=SecretStr(""), description="The token in the webhook URL "
                                              "django-helpdesk calls (?token=…); its webhooks are not signed.")

    @field_validator("simulator_interval", "worker_poll", "lease_seconds")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than 0")
        return value

    @model_validator(mode="after")
    def _no_blank_secrets(self) -> Settings:
        """A secret given as blanks is a mistake (a webhook checked against "  " accepts anyone who knows it is
        blank): refused, naming the setting. An empty value means the feature is off, as when it is not set.
        Every secret is then made known to the masking step, so none is ever stored, shown or logged."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value if name == "llm_api_key" \
                else None
            if isinstance(text, str) and text and not text.strip():
                setting = "OPENAI_API_KEY" if name == "llm_api_key" else f"TANDEM_{name.upper()}"
                raise ConfigError(f"{setting} is set but blank: give it the {_SECRET_WHAT.get(name, 'secret')} or "
                                  "unset it")
        secret_mask.register_settings(self)
        return self

    @model_validator(mode="after")
    def _pack_defaults(self) -> Settings:
        """The pack's knowledge folder unless another is set; a pack other than the default keeps its own data
        folder."""
        pack = find(self.domain)
        if "knowledge_dir" not in self.model_fields_set:
            self.knowledge_dir = pack.knowledge_dir
        if self.domain != DEFAULT_DOMAIN and "data_dir" not in self.model_fields_set:
            self.data_dir = PROJECT_ROOT / "data" / pack.name
        return self

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'tandem.db'}"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def model_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def active_policy_file(self) -> Path:
        """The explicit policy file, else the admin-edited copy in data_dir, else the shipped default."""
        if self.policy_file:
            return self.policy_file
        edited = self.data_dir / "policy.yaml"
        return edited if edited.exists() else self.knowledge_dir / "policy.yaml"

    @property
    def writable_policy_file(self) -> Path:
        """Where an admin's change is saved: the explicit file, else data_dir (the shipped file stays as is)."""
        return self.policy_file or (self.data_dir / "policy.yaml")

    @property
    def articles_dir(self) -> Path:
        return self.knowledge_dir / "articles"


_SECRET_WHAT = {"session_secret": "key that signs sessions (16 characters or more)",
                "admin_password": "first admin's password (8 characters or more)",
                "outbound_webhook_secret": "key that signs outbound webhooks",
                "imap_password": "mailbox's password", "smtp_password": "mail server's password",
                "chatwoot_api_token": "agent's api_access_token", "chatwoot_webhook_secret": "webhook's secret",
                "zendesk_api_token": "API token", "zendesk_webhook_secret": "webhook's signing secret",
                "zammad_api_token": "agent's access token", "zammad_webhook_secret": "webhook's signature token",
                "helpdesk_password": "staff user's password", "helpdesk_webhook_token": "webhook's token",
                "llm_api_key": "model server's key"}


def load_settings(**overrides: Any) -> Settings:
    """Settings from secrets.toml, then the environment, then explicit overrides (highest)."""
    from_secrets = {
        key: value for key, value in _secrets_file_values().items() if f"TANDEM_{key.upper()}" not in os.environ
    }
    try:
        base = Settings(**{**from_secrets, **overrides})
    except ConfigError:
        raise
    except ValueError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise ConfigError("invalid setting: " + " ".join(lines[1:3])) from exc
    base.data_dir.mkdir(parents=True, exist_ok=True)
    return base
