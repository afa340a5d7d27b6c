"""Shared fixtures. Specification vectors are read from ../shared/vectors beside the
checkout; tests that need them skip, with the reason, when the folder is absent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from registry.signing.did import DidResolver, did_key_from_public_key
from registry.signing.keys import Ed25519PrivateKey, generate_private_key, public_key_to_multikey

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOW = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)


def vector_path(*parts: str) -> Path:
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"specification vectors not found at {path} (../shared/vectors is absent)")
    return path


def load_vector_json(*parts: str) -> Any:
    return json.loads(vector_path(*parts).read_text(encoding="utf-8"))


class DidKeyIssuer:
    """An issuer whose DID is the did:key of its own key (resolvable offline)."""

    def __init__(self, key: Ed25519PrivateKey | None = None) -> None:
        self.key = key or generate_private_key()
        self.did = did_key_from_public_key(self.key.public_key())
        self.vm = f"{self.did}#{public_key_to_multikey(self.key.public_key())}"


@pytest.fixture
def issuer() -> DidKeyIssuer:
    return DidKeyIssuer()


@pytest.fixture
def other_issuer() -> DidKeyIssuer:
    return DidKeyIssuer()


@pytest.fixture
def resolver() -> DidResolver:
    return DidResolver()


@pytest.fixture
def now() -> datetime:
    return NOW
