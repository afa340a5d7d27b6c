"""The node's public endpoints, its key ring in the database, settings, and its
problem+json errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from registry.app import create_app
from registry.credentials.sample import sample_title_credential
from registry.database import Database
from registry.models import NodeKey
from registry.node_keys import NodeKeyStore
from registry.settings import Settings
from registry.signing import data_integrity, jose
from registry.signing.did import DidResolver
from registry.signing.errors import KeyMaterialError
from registry.signing.keys import public_key_from_jwk
from tests.conftest import BASE_URL, CHEAP_PASSWORDS, NOW, node_settings


def test_node_did_is_did_web_of_its_base_url() -> None:
    assert Settings(base_url=BASE_URL).did == "did:web:127.0.0.1%3A8032"
    assert Settings(base_url="https://hrss.js.example/nodes/32").did == "did:web:hrss.js.example:nodes:32"


def test_did_document_serves_the_signing_key_and_credentials_verify_against_it(client: TestClient) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    response = client.get("/.well-known/did.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/did+json")
    document = response.json()
    assert document["id"] == node.did
    record, key = node.ring.signing_key(NOW)
    vm = f"{node.did}#{record.kid}"
    assert vm in document["assertionMethod"]

    def fetch(did: str) -> dict[str, object]:
        assert did == node.did
        result: dict[str, object] = client.get("/.well-known/did.json").json()
        return result

    resolver = DidResolver(fetch)
    credential = sample_title_credential(node.did, BASE_URL, NOW)
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


def test_rotated_and_compromised_keys_in_the_did_document(tmp_path: Path, database_url: str) -> None:
    db = Database.from_url(database_url)
    store = NodeKeyStore(Settings().key_passphrase)
    with db.session() as session:
        first = store.load(session).records[0].kid
        ring = store.rotate(session, NOW + timedelta(days=1))
        second = ring.records[1].kid
        ring = store.rotate(session, NOW + timedelta(days=2))
        store.mark_compromised(session, second, NOW + timedelta(days=1, hours=12))
    later = NOW + timedelta(days=3)
    app = create_app(node_settings(tmp_path, database_url), lambda: later, database=db, run_migrations=False)
    with TestClient(app) as client:
        document = client.get("/.well-known/did.json").json()
    kids = {m["id"].split("#")[1] for m in document["verificationMethod"]}
    assert first in kids  # retired keys stay so old credentials verify
    assert second not in kids  # compromised keys are withdrawn
    assert len(kids) == 2
    db.dispose()


def test_health(client: TestClient) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    assert client.get("/health").json() == {"status": "ok", "signing": "ok", "did": node.did}


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


def test_default_secrets_are_refused_in_production() -> None:
    with pytest.raises(ValueError, match="PASSPHRASE"):
        Settings(environment="production", base_url="https://hrss.js.example")
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(
            environment="production",
            base_url="https://hrss.js.example",
            key_passphrase="a-long-enough-secret",
        )
    with pytest.raises(ValueError, match="https") as refused:
        Settings(
            environment="production",
            base_url="http://x.example",
            key_passphrase="Kq7#vR2m!pX9wL4t",
            secret_key="pN3xR8vQ2mK7wT5zL9cF4hJ6bD1sG0aE",
        )
    # Strong secrets: https is the only thing refused.
    assert "SECRET_KEY" not in str(refused.value)
    assert "PASSPHRASE" not in str(refused.value)


def test_private_keys_are_encrypted_in_the_database(database: Database) -> None:
    with database.session(write=False) as session:
        row = session.exec(select(NodeKey).where(NodeKey.purpose == "assertion")).one()
        assert b"ENCRYPTED PRIVATE KEY" in bytes(row.private_pem)
        with pytest.raises(KeyMaterialError):
            NodeKeyStore("another-passphrase-entirely").load(session)


def test_unexpected_errors_do_not_leak(app: Any) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal state /etc/passwd SELECT * FROM keys")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text
    assert "SELECT" not in response.text


def test_migrations_and_models_agree(database: Database) -> None:
    """The Alembic head describes exactly the tables the code uses."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import registry.models  # noqa: F401

    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []


def test_passwords_are_argon2id(client: TestClient) -> None:
    assert CHEAP_PASSWORDS.hash("a long enough password").startswith("$argon2id$")
