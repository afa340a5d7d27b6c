"""Settings: one class, ``REGISTRY_`` environment prefix, built by the app factory or
the CLI (never at import time)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.signing.did import did_web

DEVELOPMENT_PASSPHRASE = "development-only-passphrase"  # noqa: S105 - refused outside development
DEVELOPMENT_SECRET = "development-only-secret-key-do-not-deploy"  # noqa: S105 - refused outside development
#: Words of placeholder values copied from examples and templates (compared in lower case).
PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "changethis", "example", "default", "development")
#: Fewer distinct characters than this is a pattern or a repetition, not a random key
#: (a random 32-character hex key falls below it about once in 7,000 draws).
MIN_DISTINCT_CHARACTERS = 10
GENERATE_HINT = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def weak_secret_reason(value: str) -> str | None:
    """Why ``value`` is too weak to protect a production node, or None. (Lengths are
    checked in every environment: 32 characters for the key, 12 for the passphrase.)"""
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"has fewer than {MIN_DISTINCT_CHARACTERS} distinct characters"
    if value in (value + value)[1:-1]:  # true exactly when value is a shorter text repeated
        return "is a shorter text repeated"
    lowered = value.lower()
    if value in (DEVELOPMENT_PASSPHRASE, DEVELOPMENT_SECRET) or any(w in lowered for w in PLACEHOLDER_WORDS):
        return "is a development or placeholder value"
    return None


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    # hide_input_in_errors: an error at start-up must not print the secrets it refuses.
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "production"] = "development"
    #: Public base URL of this node; its host (and port) make the node's did:web.
    base_url: str = "http://127.0.0.1:8000"
    #: Where the node keeps its SQLite database (when DATABASE_URL is empty) and files.
    #: A relative path is resolved against the current directory when the settings are
    #: loaded: the node then uses and prints the absolute path.
    data_dir: Path = Path("var")
    #: Passphrase that encrypts the private keys at rest (kept out of repr and errors).
    key_passphrase: str = Field(default=DEVELOPMENT_PASSPHRASE, repr=False)
    #: Province code (GB/T 2260) of the issuing authority this node speaks for.
    province: Literal["31", "32", "33", "34"] = "32"
    host: str = "127.0.0.1"
    port: int = 8000
    #: Worker processes serving the node (``registry serve --workers N``). More than one
    #: needs PostgreSQL; HR clients' rate limits are then kept in the database.
    workers: int = Field(default=1, ge=1, le=64)
    #: SQLAlchemy URL; empty means the SQLite file ``<data_dir>/registry.db``.
    #: ``postgresql://user@host/db`` uses PostgreSQL through psycopg 3.
    database_url: str = ""
    #: Secret for access tokens and for the keyed hash of identity numbers. Kept out of
    #: the database, so a stolen database alone does not let anyone test ID numbers.
    secret_key: str = Field(default=DEVELOPMENT_SECRET, repr=False)
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
    # --- federation (OpenID Federation 1.0) ---
    #: ``node``: a provincial node; ``anchor``: the federation's trust anchor.
    role: Literal["node", "anchor"] = "node"
    #: The trust anchor's entity identifier (its https base URL); empty: not federated.
    trust_anchor: str = ""
    #: The trust anchor's federation JWK Set, given out of band: JSON text, or @path.
    trust_anchor_jwks: str = ""
    #: Lifetime of this entity's federation statements (exp - iat), seconds.
    statement_lifetime: int = 3600
    #: A peer's status list older than this (seconds since it was fetched) makes the
    #: status check ``unknown``: revocations must reach verifiers within this bound.
    peer_status_max_age: int = 900
    #: Node-authenticated requests one peer node may make a minute (look-ups for its HR
    #: clients, recognition applications, their status and disputes); beyond: 429.
    peer_rate_per_minute: int = Field(default=6000, ge=1)
    #: Local development and the loopback demo only: let federation requests reach
    #: loopback and private addresses, and http on loopback.
    federation_allow_private: bool = False
    #: A PEM file of certificate authorities to trust for peers' https (the demo's CA).
    federation_ca_file: str = ""

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # "var" means the folder under the directory the command was started in; an
        # operator who starts the node from elsewhere would make a second, empty node.
        # Resolved once, here, every later use and message names the same folder.
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _no_weak_secrets_outside_development(self) -> Settings:
        # Every problem is named at once, so an operator fixes them in one go.
        problems = []
        if len(self.secret_key) < 32:  # so at least 32 bytes
            problems.append("REGISTRY_SECRET_KEY must be at least 32 characters")
        if len(self.key_passphrase) < 12:
            problems.append("REGISTRY_KEY_PASSPHRASE must be at least 12 characters")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append("REGISTRY_BASE_URL must be an http(s) URL")
        if self.environment != "development":
            # The secret key is used as it is (HMAC, token signing), so it must be random;
            # the passphrase is stretched with scrypt, so a long phrase of words will do.
            weak = weak_secret_reason(self.secret_key)
            if weak:
                problems.append(f"REGISTRY_SECRET_KEY {weak}; {GENERATE_HINT}")
            weak = weak_secret_reason(self.key_passphrase)
            if weak:
                problems.append(f"REGISTRY_KEY_PASSPHRASE {weak}")
            elif self.key_passphrase == self.secret_key:
                problems.append("REGISTRY_KEY_PASSPHRASE must not be the same as REGISTRY_SECRET_KEY")
            if parts.scheme != "https":
                problems.append("REGISTRY_BASE_URL must be https outside development")
            if self.federation_allow_private:
                problems.append("REGISTRY_FEDERATION_ALLOW_PRIVATE is for local development only")
        if self.workers > 1 and not self.resolved_database_url.startswith(("postgresql", "postgres")):
            problems.append(
                "REGISTRY_WORKERS above 1 needs PostgreSQL (REGISTRY_DATABASE_URL): SQLite takes "
                "one writer at a time"
            )
        if self.role == "node" and bool(self.trust_anchor) != bool(self.trust_anchor_jwks):
            problems.append("REGISTRY_TRUST_ANCHOR and REGISTRY_TRUST_ANCHOR_JWKS go together")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def startup_warnings(self, *, host: str | None = None, port: int | None = None) -> list[str]:
        """What an operator should be told loudly when the node starts: settings that
        are allowed but disagree. ``host`` and ``port`` are those the node is really
        started on (``registry serve --host/--port``), when not the settings' own.

        The base URL names how others reach the node (its did:web and every URL in its
        credentials). When it names a loopback address or the address the node binds
        to, nothing stands between them, so its port must be the port the node listens
        on. A public name (a reverse proxy in front) is not compared."""
        host = host or self.host
        port = port or self.port
        parts = urlsplit(self.base_url)
        named = (parts.hostname or "").lower()
        try:
            url_port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return [f"REGISTRY_BASE_URL {self.base_url} has no valid port"]
        if (_is_loopback(named) or named == host.lower()) and url_port != port:
            return [
                f"REGISTRY_PORT is {port} but REGISTRY_BASE_URL {self.base_url} names port {url_port}: "
                f"the node's did:web and the URLs in its credentials point to where it does not "
                f"listen. Make the port in REGISTRY_BASE_URL {port}, or REGISTRY_PORT {url_port}."
            ]
        return []

    @property
    def entity_id(self) -> str:
        """This entity's OpenID Federation entity identifier: its base URL."""
        return self.base_url.rstrip("/")

    def trust_anchor_keys(self) -> dict[str, Any]:
        """The configured trust anchor's JWK Set (from JSON text or ``@path``)."""
        text = self.trust_anchor_jwks.strip()
        if text.startswith("@"):
            text = Path(text[1:]).read_text(encoding="utf-8")
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("REGISTRY_TRUST_ANCHOR_JWKS is not a JWK Set")
        return value

    @property
    def did(self) -> str:
        """did:web of the node: host (and port) of the base URL, then its path segments."""
        parts = urlsplit(self.base_url)
        segments = [s for s in parts.path.split("/") if s]
        return did_web(parts.netloc, *segments)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'registry.db'}"
