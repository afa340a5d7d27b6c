"""Settings: one class, ``REGISTRY_`` environment prefix, built by the app factory or
the CLI (never at import time)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.signing.did import did_web

DEVELOPMENT_PASSPHRASE = "development-only-passphrase"  # noqa: S105 - refused outside development
DEVELOPMENT_SECRET = "development-only-secret-key-do-not-deploy"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    #: Public base URL of this node; its host (and port) make the node's did:web.
    base_url: str = "http://127.0.0.1:8000"
    #: Where the node keeps its key ring (encrypted private keys and public history).
    data_dir: Path = Path("var")
    #: Passphrase that encrypts the private keys at rest.
    key_passphrase: str = DEVELOPMENT_PASSPHRASE
    #: Province code (GB/T 2260) of the issuing authority this node speaks for.
    province: Literal["31", "32", "33", "34"] = "32"
    host: str = "127.0.0.1"
    port: int = 8000
    #: SQLAlchemy URL; empty means the SQLite file ``<data_dir>/registry.db``.
    #: ``postgresql://user@host/db`` uses PostgreSQL through psycopg 3.
    database_url: str = ""
    #: Secret for access tokens and for the keyed hash of identity numbers. Kept out of
    #: the database, so a stolen database alone does not let anyone test ID numbers.
    secret_key: str = DEVELOPMENT_SECRET
    access_token_minutes: int = 15
    #: Request body limits (bytes): ordinary requests, and batch issuance/verification.
    max_body_bytes: int = 1 << 20
    max_batch_body_bytes: int = 32 << 20
    #: Batches with more rows than this run in the background (202 + progress resource).
    batch_async_rows: int = 2000
    #: Default rate limit of a new HR client (requests per minute).
    hr_rate_per_minute: int = 600
    #: How long status list credentials may be cached (Cache-Control max-age, seconds).
    status_list_max_age: int = 300

    @model_validator(mode="after")
    def _no_default_secrets_outside_development(self) -> Settings:
        if self.environment != "development" and self.key_passphrase == DEVELOPMENT_PASSPHRASE:
            raise ValueError("REGISTRY_KEY_PASSPHRASE must be set outside development")
        if self.environment != "development" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("REGISTRY_SECRET_KEY must be set outside development")
        if len(self.secret_key) < 32:
            raise ValueError("REGISTRY_SECRET_KEY must be at least 32 characters")
        if len(self.key_passphrase) < 12:
            raise ValueError("REGISTRY_KEY_PASSPHRASE must be at least 12 characters")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("REGISTRY_BASE_URL must be an http(s) URL")
        if self.environment != "development" and parts.scheme != "https":
            raise ValueError("REGISTRY_BASE_URL must be https outside development")
        return self

    @property
    def did(self) -> str:
        """did:web of the node: host (and port) of the base URL, then its path segments."""
        parts = urlsplit(self.base_url)
        segments = [s for s in parts.path.split("/") if s]
        return did_web(parts.netloc, *segments)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'registry.db'}"
