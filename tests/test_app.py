"""The node's public endpoints and its problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from registry.app import create_app
from registry.credentials.sample import sample_title_credential
from registry.node_keys import NodeKeyStore
from registry.settings import Settings
from registry.signing import data_integrity, jose
from registry.signing.did import DidResolver
from registry.signing.errors import KeyMaterialError
from registry.signing.keys import public_key_from_jwk
from tests.conftest import NOW


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "node", base_url="http://127.0.0.1:8032")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=lambda: NOW), raise_server_exceptions=False) as c:
        yield c


def test_node_did_is_did_web_of_its_base_url(settings: Settings) -> None:
    assert settings.did == "did:web:127.0.0.1%3A8032"
    assert Settings(base_url="https://hrss.js.example/nodes/32").did == "did:web:hrss.js.example:nodes:32"


def test_did_document_serves_the_signing_key_and_credentials_verify_against_it(
    client: TestClient, settings: Settings
) -> None:
    response = client.get("/.well-known/did.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/did+json")
    document = response.json()
    assert document["id"] == settings.did
    ring = NodeKeyStore(settings.data_dir, settings.key_passphrase).load()
    record, key = ring.signing_key(NOW)
    vm = f"{settings.did}#{record.kid}"
    assert vm in document["assertionMethod"]

    def fetch(did: str) -> dict[str, object]:
        assert did == settings.did
        result: dict[str, object] = client.get("/.well-known/did.json").json()
        return result

    resolver = DidResolver(fetch)
    credential = sample_title_credential(settings.did, settings.base_url, NOW)
    signed = data_integrity.add_proof(credential, key, vm, NOW)
    data_integrity.verify_issuer_proof(signed, resolver, NOW)
    jose.verify_vc_jwt(jose.sign_vc_jwt(credential, key, vm), resolver, NOW)


def test_jwks_matches_the_did_document(client: TestClient) -> None:
    jwks = client.get("/.well-known/jwks.json").json()["keys"]
    document = client.get("/.well-known/did.json").json()
    assert len(jwks) == len(document["verificationMethod"]) == 1
    assert jwks[0]["alg"] == "EdDSA"
    assert document["verificationMethod"][0]["id"].endswith("#" + jwks[0]["kid"])
    public_key_from_jwk({k: v for k, v in jwks[0].items() if k in ("kty", "crv", "x")})


def test_rotated_and_compromised_keys_in_the_did_document(settings: Settings) -> None:
    store = NodeKeyStore(settings.data_dir, settings.key_passphrase)
    ring = store.load_or_create(NOW - timedelta(days=3))
    first = ring.records[0].kid
    ring = store.rotate(NOW - timedelta(days=2))
    second = ring.records[1].kid
    ring = store.rotate(NOW - timedelta(days=1))
    store.save(ring.mark_compromised(second, NOW - timedelta(days=1, hours=12)))
    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        document = client.get("/.well-known/did.json").json()
    kids = {m["id"].split("#")[1] for m in document["verificationMethod"]}
    assert first in kids  # retired keys stay so old credentials verify
    assert second not in kids  # compromised keys are withdrawn
    assert len(kids) == 2


def test_health(client: TestClient, settings: Settings) -> None:
    assert client.get("/health").json() == {"status": "ok", "signing": "ok", "did": settings.did}


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/nowhere", 404), ("POST", "/health", 405)])
def test_errors_are_problem_json(client: TestClient, method: str, path: str, status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["instance"] == path
    assert {"title", "detail"} <= body.keys()


def test_default_passphrase_is_refused_in_production(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PASSPHRASE"):
        Settings(environment="production", base_url="https://hrss.js.example")
    with pytest.raises(ValueError, match="https"):
        Settings(environment="production", base_url="http://x.example", key_passphrase="a-long-enough-secret")


def test_key_store_keeps_private_keys_encrypted(settings: Settings) -> None:
    store = NodeKeyStore(settings.data_dir, settings.key_passphrase)
    ring = store.load_or_create(NOW)
    pem = (store.keys_dir / f"{ring.records[0].kid}.pem").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert (store.keys_dir / f"{ring.records[0].kid}.pem").stat().st_mode & 0o077 == 0
    with pytest.raises(KeyMaterialError):
        NodeKeyStore(settings.data_dir, "another-passphrase-entirely").load()


def test_rotation_without_a_ring_is_refused(settings: Settings) -> None:
    with pytest.raises(KeyMaterialError):
        NodeKeyStore(settings.data_dir, settings.key_passphrase).rotate(NOW)


def test_unexpected_errors_do_not_leak(settings: Settings) -> None:
    app = create_app(settings, clock=lambda: NOW, ring=None)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal state /etc/passwd SELECT * FROM keys")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text
    assert "SELECT" not in response.text
