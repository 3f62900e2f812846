"""Process-wide settings, read from the environment (prefix ``CRMSYNC_``) or a ``.env`` file."""

from __future__ import annotations

import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable. The defaults are the embedded mode: SQLite, in-process worker."""

    model_config = SettingsConfigDict(
        env_prefix="CRMSYNC_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    app_name: str = Field("Acme", description="Names the CRM custom fields: '<App> Person ID'.")
    data_dir: Path = Field(Path("var"), description="Embedded mode: database, queue, key file.")
    database_url: str = ""
    redis_url: str = Field("", description="Set to run the task queue on Redis (scale-out).")
    queue_name: str = Field(
        "crmsync", description="The task queue's name: installations sharing a Redis differ."
    )
    encryption_key: str = Field("", description="Fernet key; embedded mode generates a key file.")
    public_url: str = Field("http://127.0.0.1:8000", description="Where the service is reached.")
    profile_url_template: str = "https://app.example.com/people/{person_id}"
    host_api_keys: list[str] = Field(default_factory=list)
    metrics_token: str = Field(
        "",
        description="Bearer token /metrics requires; empty: only loopback clients read it.",
    )
    max_body_bytes: int = Field(
        5 * 1024 * 1024,
        ge=0,
        description="A request body over this many bytes is refused (413) before it is "
        "parsed, by the host API and the admin UI alike.",
    )
    worker_threads: int = 2
    batch_lease_seconds: int = 120
    requests_per_transaction: int = Field(
        8,
        ge=1,
        description="At most this many write requests' worth of people are claimed, planned "
        "and recorded in one transaction, while the CRM answers faster than the engine "
        "records (no rate limit holds it back): fewer commits and statements per record.",
    )
    owner_cache_seconds: int = 900
    setup_check_seconds: int = Field(
        600, description="How long a check that the CRM's custom fields exist stays valid."
    )
    run_seconds: float = Field(
        3.0,
        description="How long one sync run keeps a worker thread when other connections are "
        "waiting in the queue (with none waiting it carries on).",
    )
    sweep_interval_seconds: int = 30
    max_attempts: int = 8
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0
    http_timeout_seconds: float = 30.0
    http_retry_base_seconds: float = Field(0.5, description="In-call retry backoff base.")
    enabled_providers: list[str] = Field(
        default_factory=list, description="Only load these provider folders (empty: all)."
    )
    provider_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per provider: client_id, client_secret, base URLs, rate limits.",
    )

    @field_validator("app_name")
    @classmethod
    def _app_name_is_a_word(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9 ]{0,30}", value):
            raise ValueError("app_name must start with a letter: letters, digits and spaces")
        return value

    @property
    def app_slug(self) -> str:
        """Internal-name prefix for custom fields, e.g. ``acme`` for ``Acme``."""
        return re.sub(r"[^a-z0-9]+", "_", self.app_name.lower()).strip("_")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'crmsync.db').as_posix()}"

    def provider(self, name: str) -> dict[str, Any]:
        return dict(self.provider_overrides.get(name, {}))

    def resolved_encryption_key(self) -> str:
        """The configured key, or the embedded key file (created with mode 0600 on first use)."""
        if self.encryption_key:
            return self.encryption_key
        from cryptography.fernet import Fernet

        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
        return path.read_text().strip()


def new_api_key() -> str:
    return "csk_" + secrets.token_urlsafe(32)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
