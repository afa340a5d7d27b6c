"""OpenID Federation endpoints of a node and of the trust anchor, the anchor's admin API,
and a whole trust chain: an anchor app and a Jiangsu node app (two ``create_app`` on two
databases) joined by a ``fetch`` that routes URLs to their TestClients."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import select

from registry.app import create_app
from registry.auth import Principal
from registry.database import Database
from registry.federation import chain, historical_keys, statements
from registry.federation.errors import FetchError, StatementSignatureError
from registry.federation.metadata import ISSUER_ENTITY_TYPE, Authorisation, profile_from_metadata
from registry.models import Account, AuditEvent, NodeKey
from registry.node import NodeState
from registry.settings import Settings
from registry.signing.keyring import KeyRing
from registry.verifier import Verifier
from tests.conftest import (
    CHEAP_PASSWORDS,
    NOW,
    PASSWORD,
    Actors,
    MutableClock,
    PgDatabases,
    fresh_pg_url,
)

ANCHOR_ID = "http://127.0.0.1:8100"
NODE_ID = "http://127.0.0.1:8032"
NODE_DID = "did:web:127.0.0.1%3A8032"
ENTITY_STATEMENT = "application/entity-statement+jwt"
PROBLEM = "application/problem+json"
AUTHORISED_FROM = "2026-01-01T00:00:00+08:00"


# --- two entities, two databases --------------------------------------------------------


@pytest.fixture
def anchor_database_url(
    database_url: str, tmp_path: Path, sqlite_template: Path, pg_databases: PgDatabases | None
) -> Iterator[str]:
    """A second fresh database on the same backend as ``database_url``, for the anchor."""
    if database_url.startswith("sqlite"):
        target = tmp_path / "anchor.db"
        shutil.copy(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    assert pg_databases is not None
    yield from fresh_pg_url(pg_databases)


def _app(settings: Settings, db: Database, clock: MutableClock) -> Any:
    return create_app(
        settings,
        clock,
        database=db,
        passwords=CHEAP_PASSWORDS,
        run_migrations=False,
        verifier=Verifier(workers=1),
    )


@pytest.fixture
def anchor_app(anchor_database_url: str, tmp_path: Path, clock: MutableClock) -> Iterator[Any]:
    db = Database.from_url(anchor_database_url)
    # The template holds the node's keys: the anchor makes its own.
    with db.session() as session:
        session.execute(delete(NodeKey))
    settings = Settings(
        data_dir=tmp_path / "anchor",
        base_url=ANCHOR_ID,
        database_url=anchor_database_url,
        role="anchor",
        federation_allow_private=True,
    )
    yield _app(settings, db, clock)
    db.dispose()


def _federation_jwks(app: Any) -> dict[str, Any]:
    from registry.federation.entity import published_jwks

    node: NodeState = app.state.node
    with node.db.session(write=False) as session:
        return published_jwks(node.federation_keys.load(session), node.clock())


@pytest.fixture
def node_app(
    anchor_app: Any, database_url: str, database: Database, tmp_path: Path, clock: MutableClock
) -> Any:
    settings = Settings(
        data_dir=tmp_path / "node",
        base_url=NODE_ID,
        database_url=database_url,
        province="32",
        trust_anchor=ANCHOR_ID,
        trust_anchor_jwks=json.dumps(_federation_jwks(anchor_app)),
        federation_allow_private=True,
    )
    return _app(settings, database, clock)


@pytest.fixture
def anchor_client(anchor_app: Any) -> Iterator[TestClient]:
    with TestClient(anchor_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def node_client(node_app: Any) -> Iterator[TestClient]:
    with TestClient(node_app, raise_server_exceptions=False) as c:
        yield c


def _admin_account(app: Any) -> Account:
    from registry.accounts import create_account

    node: NodeState = app.state.node
    with node.db.session() as session:
        return create_account(
            session,
            node.passwords,
            Principal("cli", "tests", "admin"),
            "fed.admin",
            PASSWORD,
            "admin",
            node.clock(),
        )


def _bearer(app: Any, account: Account) -> dict[str, str]:
    node: NodeState = app.state.node
    token, _ = node.tokens.issue(account, node.clock())
    return {"Authorization": f"Bearer {token}"}


class Federation:
    """The two entities, their admins, and a ``fetch`` over their TestClients."""

    def __init__(
        self, anchor_app: Any, node_app: Any, anchor_client: TestClient, node_client: TestClient
    ) -> None:
        self.anchor_app, self.node_app = anchor_app, node_app
        self.anchor, self.node = anchor_client, node_client
        self._anchor_admin = _admin_account(anchor_app)
        self._node_admin = _admin_account(node_app)
        self.fetched: list[str] = []

    @property
    def anchor_admin(self) -> dict[str, str]:
        """Headers with an access token valid at the clock's current instant."""
        return _bearer(self.anchor_app, self._anchor_admin)

    @property
    def node_admin(self) -> dict[str, str]:
        return _bearer(self.node_app, self._node_admin)

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        for prefix, client in ((ANCHOR_ID + "/", self.anchor), (NODE_ID + "/", self.node)):
            if url.startswith(prefix):
                response = client.get(url[len(prefix) - 1 :])
                if response.status_code != 200:
                    raise FetchError(f"{url}: HTTP {response.status_code}")
                assert response.headers["content-type"] == ENTITY_STATEMENT
                body: bytes = response.content
                return body
        raise FetchError(f"no entity at {url}")

    def anchor_jwks(self) -> dict[str, Any]:
        response = self.anchor.get("/v1/federation/jwks", headers=self.anchor_admin)
        assert response.status_code == 200, response.text
        jwks: dict[str, Any] = response.json()
        return jwks

    def node_jwks(self) -> dict[str, Any]:
        response = self.node.get("/v1/federation/jwks", headers=self.node_admin)
        assert response.status_code == 200, response.text
        jwks: dict[str, Any] = response.json()
        return jwks

    def admit(self, did: str = NODE_DID) -> dict[str, Any]:
        body = {"entityId": NODE_ID, "did": did, "province": "32", "jwks": self.node_jwks()}
        response = self.anchor.post("/v1/federation/members", json=body, headers=self.anchor_admin)
        assert response.status_code == 201, response.text
        member: dict[str, Any] = response.json()
        return member

    def authorise(self, scope: str, valid_from: str = AUTHORISED_FROM, **extra: str) -> dict[str, Any]:
        body = {"entityId": NODE_ID, "scope": scope, "validFrom": valid_from, **extra}
        response = self.anchor.post("/v1/federation/authorisations", json=body, headers=self.anchor_admin)
        assert response.status_code == 201, response.text
        granted: dict[str, Any] = response.json()
        return granted

    def resolve(self, now: datetime) -> chain.TrustChain:
        return chain.resolve_trust_chain(
            NODE_ID, {ANCHOR_ID: self.anchor_jwks()}, now, self.fetch, allow_http_loopback=True
        )


@pytest.fixture
def federation(
    anchor_app: Any, node_app: Any, anchor_client: TestClient, node_client: TestClient
) -> Federation:
    return Federation(anchor_app, node_app, anchor_client, node_client)


def _ring(app: Any, purpose: str = "assertion") -> KeyRing:
    node: NodeState = app.state.node
    store = node.key_store if purpose == "assertion" else node.federation_keys
    with node.db.session(write=False) as session:
        return store.load(session)


# --- the entity configuration -----------------------------------------------------------


def test_entity_configuration_verifies_and_carries_the_assertion_key_history(
    federation: Federation, clock: MutableClock
) -> None:
    node: NodeState = federation.node_app.state.node
    old_kid = _ring(federation.node_app).signing_key(NOW)[0].kid
    clock.advance(days=1)
    rotated = federation.node.post("/v1/keys/rotation", headers=federation.node_admin)
    assert rotated.status_code == 200, rotated.text
    compromised_from = NOW + timedelta(hours=12)
    with node.db.session() as session:
        node.set_ring(node.key_store.mark_compromised(session, old_kid, compromised_from))
    now = clock()
    response = federation.node.get("/.well-known/openid-federation")
    assert response.status_code == 200
    assert response.headers["content-type"] == ENTITY_STATEMENT
    statement = statements.verify_entity_configuration(response.text, NODE_ID, now, allow_http_loopback=True)
    assert statement.header["typ"] == "entity-statement+jwt"
    assert statement.issued_at == now
    assert statement.expires_at == now + timedelta(seconds=node.settings.statement_lifetime)
    max_age = int(response.headers["cache-control"].split("max-age=")[1])
    assert 0 < max_age <= (statement.expires_at - now).total_seconds()
    assert statement.authority_hints == (ANCHOR_ID,)
    assert statement.jwks == federation.node_jwks()
    assert statement.kid == _ring(federation.node_app, "federation").signing_key(now)[0].kid
    federation_entity = statement.metadata["federation_entity"]
    assert federation_entity["organization_name"] == "江苏省人力资源和社会保障厅"
    assert federation_entity["organization_name#en"].startswith("Jiangsu")
    assert "federation_fetch_endpoint" not in federation_entity
    issuer = statement.metadata[ISSUER_ENTITY_TYPE]
    assert (issuer["did"], issuer["province"]) == (NODE_DID, "32")
    assert "ENG-ASSOCIATE_SENIOR" in issuer["credential_types"]
    methods = {m["kid"]: m for m in issuer["verification_methods"]}
    assert len(methods) == 2
    assert methods[old_kid]["compromisedFrom"] == compromised_from.isoformat()
    assert methods[old_kid]["retired"] == (NOW + timedelta(days=1)).isoformat()
    new_kid = rotated.json()["kid"]
    assert methods[new_kid]["compromisedFrom"] is None
    assert methods[new_kid]["retired"] is None
    # The DID document leaves the compromised key out; the configuration keeps its history.
    did_document = federation.node.get("/.well-known/did.json").json()
    assert [vm["id"].split("#")[1] for vm in did_document["verificationMethod"]] == [new_kid]


def test_the_anchors_configuration_names_its_endpoints(federation: Federation, clock: MutableClock) -> None:
    response = federation.anchor.get("/.well-known/openid-federation")
    assert response.status_code == 200
    statement = statements.verify_entity_statement(
        response.text,
        federation.anchor_jwks(),
        clock(),
        issuer=ANCHOR_ID,
        subject=ANCHOR_ID,
        allow_http_loopback=True,
    )
    assert statement.authority_hints == ()
    assert ISSUER_ENTITY_TYPE not in statement.metadata
    assert statement.metadata["federation_entity"] == {
        "organization_name": "长三角人才评价互认联盟信任锚",
        "organization_name#en": "Yangtze River Delta talent credential federation — trust anchor",
        "homepage_uri": ANCHOR_ID + "/",
        "federation_fetch_endpoint": ANCHOR_ID + "/federation/fetch",
        "federation_list_endpoint": ANCHOR_ID + "/federation/list",
        "federation_historical_keys_endpoint": ANCHOR_ID + "/federation/historical-keys",
        "federation_resolve_endpoint": ANCHOR_ID + "/federation/resolve",
    }


def test_federation_key_rotation_publishes_the_new_key(federation: Federation, clock: MutableClock) -> None:
    before = federation.node_jwks()
    clock.advance(minutes=5)
    response = federation.node.post("/v1/federation/keys/rotation", headers=federation.node_admin)
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["jwks"] == federation.node_jwks()
    assert before["keys"][0] in rotated["jwks"]["keys"]  # retired, still published
    statement = statements.verify_entity_configuration(
        federation.node.get("/.well-known/openid-federation").text, NODE_ID, clock(), allow_http_loopback=True
    )
    assert statement.kid == rotated["kid"]
    assert rotated["kid"] in {k["kid"] for k in statement.jwks["keys"]}
    node: NodeState = federation.node_app.state.node
    with node.db.session(write=False) as session:
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.target_id == rotated["kid"])).all()
    assert actions == ["federation.key.rotate"]


# --- the anchor's federation endpoints ---------------------------------------------------


def test_anchor_endpoints_are_404_on_a_node(federation: Federation) -> None:
    for path in ("/federation/fetch?sub=" + NODE_ID, "/federation/list", "/federation/historical-keys"):
        response = federation.node.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["error"] == "not_found"
        assert response.json()["error_description"] == response.json()["detail"]
    response = federation.node.get("/v1/federation/members", headers=federation.node_admin)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_fetch_and_list(federation: Federation, clock: MutableClock) -> None:
    assert federation.anchor.get("/federation/list").json() == []
    missing = federation.anchor.get("/federation/fetch")
    assert missing.status_code == 400
    assert missing.headers["content-type"] == PROBLEM
    assert (missing.json()["error"], missing.json()["status"]) == ("invalid_request", 400)
    too_long = federation.anchor.get("/federation/fetch", params={"sub": "https://x.example/" + "a" * 3000})
    assert (too_long.status_code, too_long.json()["error"]) == (400, "invalid_request")
    federation.admit()
    response = federation.anchor.get("/federation/fetch", params={"sub": NODE_ID})
    assert response.status_code == 200
    assert response.headers["content-type"] == ENTITY_STATEMENT
    statement = statements.verify_entity_statement(
        response.text,
        federation.anchor_jwks(),
        clock(),
        issuer=ANCHOR_ID,
        subject=NODE_ID,
        allow_http_loopback=True,
    )
    max_age = int(response.headers["cache-control"].split("max-age=")[1])
    assert 0 < max_age <= (statement.expires_at - clock()).total_seconds()
    assert statement.jwks == federation.node_jwks()
    assert federation.anchor.get("/federation/list").json() == [NODE_ID]
    assert federation.anchor.get("/federation/list", params={"entity_type": "federation_entity"}).json() == [
        NODE_ID
    ]
    # A value that starts like an API key but is not one passes NoSecretsInQuery.
    listed = federation.anchor.get("/federation/list", params={"entity_type": "yrd_credential_issuer"})
    assert listed.json() == [NODE_ID]
    assert federation.anchor.get("/federation/list", params={"entity_type": "openid_provider"}).json() == []
    assert federation.anchor.get("/federation/list", params={"intermediate": "true"}).json() == []
    unsupported = federation.anchor.get("/federation/list", params={"trust_marked": "true"})
    assert (unsupported.status_code, unsupported.json()["error"]) == (400, "unsupported_parameter")


def test_fetch_for_a_removed_member_is_404(federation: Federation) -> None:
    federation.admit()
    assert federation.anchor.get("/federation/fetch", params={"sub": NODE_ID}).status_code == 200
    removal = {"entityId": NODE_ID, "reason": "节点停止运行"}
    response = federation.anchor.post(
        "/v1/federation/members/removal", json=removal, headers=federation.anchor_admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    response = federation.anchor.get("/federation/fetch", params={"sub": NODE_ID})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["error"] == "not_found"
    assert NODE_ID in problem["error_description"]
    assert problem["type"].endswith("/not-found")
    assert federation.anchor.get("/federation/list").json() == []
    with pytest.raises(FetchError, match="HTTP 404"):
        federation.resolve(NOW)


def test_historical_keys_after_a_federation_key_rotation(federation: Federation, clock: MutableClock) -> None:
    none_yet = federation.anchor.get("/federation/historical-keys")
    assert (none_yet.status_code, none_yet.json()["error"]) == (404, "not_found")
    old_kid = federation.anchor_jwks()["keys"][0]["kid"]
    clock.advance(days=30)
    rotated = federation.anchor.post("/v1/federation/keys/rotation", headers=federation.anchor_admin)
    assert rotated.status_code == 200, rotated.text
    retired_at = clock() + timedelta(seconds=0)
    clock.advance(days=1)
    response = federation.anchor.get("/federation/historical-keys")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+jwt"
    current = {"keys": [k for k in federation.anchor_jwks()["keys"] if k["kid"] == rotated.json()["kid"]]}
    history = historical_keys.verify_historical_keys(
        response.text, ANCHOR_ID, current, clock(), allow_http_loopback=True
    )
    [old] = history.keys
    assert old.kid == old_kid
    assert old.expires_at == retired_at
    assert old.revoked_at is None
    assert historical_keys.was_key_valid_at(history, ANCHOR_ID, old_kid, retired_at - timedelta(days=1))
    assert not historical_keys.was_key_valid_at(history, ANCHOR_ID, old_kid, retired_at)
    # Marked compromised: revoked from that instant, with the reason.
    node: NodeState = federation.anchor_app.state.node
    compromised_from = retired_at - timedelta(days=10)
    with node.db.session() as session:
        node.federation_keys.mark_compromised(session, old_kid, compromised_from)
    history = historical_keys.verify_historical_keys(
        federation.anchor.get("/federation/historical-keys").text,
        ANCHOR_ID,
        current,
        clock(),
        allow_http_loopback=True,
    )
    [old] = history.keys
    assert (old.revoked_at, old.reason) == (compromised_from, "compromised")
    assert not historical_keys.was_key_valid_at(history, ANCHOR_ID, old_kid, compromised_from)
    # The compromised key is no longer in the anchor's configuration either.
    assert [k["kid"] for k in federation.anchor_jwks()["keys"]] == [rotated.json()["kid"]]


# --- the admin API -----------------------------------------------------------------------


def test_admin_api_needs_an_admin(federation: Federation) -> None:
    body = {"entityId": NODE_ID, "did": NODE_DID, "province": "32", "jwks": federation.node_jwks()}
    assert federation.anchor.post("/v1/federation/members", json=body).status_code == 401
    officer = Actors(federation.anchor_app).officer()
    assert federation.anchor.post("/v1/federation/members", json=body, headers=officer).status_code == 403
    assert federation.anchor.get("/v1/federation/jwks", headers=officer).status_code == 403
    assert federation.anchor.get("/federation/list").json() == []


def test_admin_api_refuses_bad_bodies(federation: Federation) -> None:
    admin = federation.anchor_admin
    federation.admit()
    twice = federation.anchor.post(
        "/v1/federation/members",
        json={"entityId": NODE_ID, "did": NODE_DID, "province": "32", "jwks": federation.node_jwks()},
        headers=admin,
    )
    assert (twice.status_code, twice.headers["content-type"]) == (409, PROBLEM)
    cases: list[tuple[str, dict[str, Any], int]] = [
        (
            "/v1/federation/authorisations",
            {"entityId": NODE_ID, "scope": "ENG-*", "validFrom": "2026-01-01T00:00:00"},
            422,
        ),
        (
            "/v1/federation/authorisations",
            {"entityId": NODE_ID, "scope": "NOPE-*", "validFrom": AUTHORISED_FROM},
            422,
        ),
        (
            "/v1/federation/authorisations",
            {"entityId": NODE_ID, "scope": "*", "validFrom": AUTHORISED_FROM, "x": 1},
            422,
        ),
        (
            "/v1/federation/authorisations",
            {"entityId": NODE_ID, "scope": "*", "validFrom": AUTHORISED_FROM, "validUntil": AUTHORISED_FROM},
            422,
        ),
        (
            "/v1/federation/authorisations",
            {"entityId": "https://x.example", "scope": "*", "validFrom": AUTHORISED_FROM},
            404,
        ),
        ("/v1/federation/authorisations/999/withdrawal", {"reason": "no such"}, 404),
        ("/v1/federation/members/keys", {"entityId": NODE_ID, "jwks": {"keys": [{"kty": "OKP"}]}}, 422),
        ("/v1/federation/members/removal", {"entityId": "https://x.example", "reason": "none"}, 404),
    ]
    for path, body, expected in cases:
        response = federation.anchor.post(path, json=body, headers=admin)
        assert response.status_code == expected, (path, body, response.text)
        assert response.headers["content-type"] == PROBLEM
    [member] = federation.anchor.get("/v1/federation/members", headers=admin).json()
    assert member["authorisations"] == []


def test_members_list_shows_the_authorisation_history(federation: Federation, clock: MutableClock) -> None:
    admin = federation.anchor_admin
    federation.admit()
    granted = federation.authorise("ENG-*")
    assert (granted["validFrom"], granted["validUntil"], granted["effectiveUntil"]) == (
        "2025-12-31T16:00:00Z",
        None,
        None,
    )
    clock.advance(days=2)
    path = f"/v1/federation/authorisations/{granted['id']}/withdrawal"
    response = federation.anchor.post(
        path, json={"reason": "评审委员会资格暂停"}, headers=federation.anchor_admin
    )
    assert response.status_code == 200, response.text
    withdrawn_at = (NOW + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    assert (response.json()["withdrawnAt"], response.json()["effectiveUntil"]) == (withdrawn_at, withdrawn_at)
    admin = federation.anchor_admin
    again = federation.anchor.post(path, json={"reason": "again"}, headers=admin)
    assert (again.status_code, again.headers["content-type"]) == (409, PROBLEM)
    [member] = federation.anchor.get("/v1/federation/members", headers=admin).json()
    assert member["entityId"] == NODE_ID
    assert member["active"] is True
    [history] = member["authorisations"]
    assert history["withdrawalReason"] == "评审委员会资格暂停"
    assert history["withdrawnBy"].startswith("account:")


# --- a whole trust chain -----------------------------------------------------------------


def test_a_trust_chain_from_the_node_to_the_anchor(federation: Federation, clock: MutableClock) -> None:
    node: NodeState = federation.node_app.state.node
    # The node rotated its credential-signing key once and holds the old one compromised.
    old_kid = _ring(federation.node_app).signing_key(NOW)[0].kid
    clock.advance(hours=1)
    assert federation.node.post("/v1/keys/rotation", headers=federation.node_admin).status_code == 200
    compromised_from = NOW + timedelta(minutes=30)
    with node.db.session() as session:
        node.key_store.mark_compromised(session, old_kid, compromised_from)
    federation.admit()
    federation.authorise("ENG-*")
    economics = federation.authorise("ECON-*")
    clock.advance(days=1)
    withdrawn_at = clock()
    response = federation.anchor.post(
        f"/v1/federation/authorisations/{economics['id']}/withdrawal",
        json={"reason": "暂停"},
        headers=federation.anchor_admin,
    )
    assert response.status_code == 200, response.text
    clock.advance(minutes=1)
    now = clock()

    trust_chain = federation.resolve(now)

    assert federation.fetched == [
        NODE_ID + "/.well-known/openid-federation",
        ANCHOR_ID + "/.well-known/openid-federation",
        ANCHOR_ID + "/federation/fetch?sub=http%3A%2F%2F127.0.0.1%3A8032",
    ]
    assert (trust_chain.subject, trust_chain.trust_anchor) == (NODE_ID, ANCHOR_ID)
    assert trust_chain.jwks == federation.node_jwks()
    assert trust_chain.expires_at == now + timedelta(seconds=node.settings.statement_lifetime)
    profile = profile_from_metadata(NODE_ID, trust_chain.metadata, trust_chain.expires_at, ANCHOR_ID)
    assert (profile.did, profile.province, profile.label) == (NODE_DID, "32", "江苏省 (32)")
    start = datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert profile.authorisations == (
        Authorisation("ENG-*", start, None),
        Authorisation("ECON-*", start, withdrawn_at),
    )
    assert profile.authorisation_for("ECON-FULL_SENIOR", withdrawn_at - timedelta(seconds=1)) is not None
    assert profile.authorisation_for("ECON-FULL_SENIOR", withdrawn_at) is None
    assert profile.authorisation_for("ENG-ASSOCIATE_SENIOR", now) is not None
    ring = profile.ring()
    assert ring.public_records() == _ring(federation.node_app).public_records()
    assert ring.record(old_kid).compromised_from == compromised_from
    assert ring.valid_at(now)[0].kid != old_kid
    # subset_of: the node claims its whole catalogue; only types it was ever authorised for stay.
    claimed = trust_chain.statements[0].metadata[ISSUER_ENTITY_TYPE]["credential_types"]
    resolved = trust_chain.metadata[ISSUER_ENTITY_TYPE]["credential_types"]
    assert "HEALTH-FULL_SENIOR" in claimed
    assert "HEALTH-FULL_SENIOR" not in resolved
    assert {"ENG-ASSOCIATE_SENIOR", "ECON-FULL_SENIOR"} <= set(resolved)
    assert all(code.split("-")[0] in ("ENG", "ECON") for code in resolved)


def test_the_anchors_did_overrides_what_the_node_claims(federation: Federation, clock: MutableClock) -> None:
    federation.admit(did="did:web:js.registry.yrd.example")
    trust_chain = federation.resolve(clock())
    assert trust_chain.statements[0].metadata[ISSUER_ENTITY_TYPE]["did"] == NODE_DID
    profile = profile_from_metadata(NODE_ID, trust_chain.metadata, trust_chain.expires_at, ANCHOR_ID)
    assert profile.did == "did:web:js.registry.yrd.example"
    assert profile.authorisations == ()
    assert trust_chain.metadata[ISSUER_ENTITY_TYPE]["credential_types"] == []


def test_a_node_rotating_its_federation_key_needs_the_anchor_to_register_it(
    federation: Federation, clock: MutableClock
) -> None:
    federation.admit()
    federation.resolve(clock())
    clock.advance(minutes=1)
    rotated = federation.node.post("/v1/federation/keys/rotation", headers=federation.node_admin)
    assert rotated.status_code == 200, rotated.text
    # The anchor still vouches for the old key only: the node's configuration does not verify.
    with pytest.raises(StatementSignatureError):
        federation.resolve(clock())
    response = federation.anchor.post(
        "/v1/federation/members/keys",
        json={"entityId": NODE_ID, "jwks": rotated.json()["jwks"]},
        headers=federation.anchor_admin,
    )
    assert response.status_code == 200, response.text
    assert federation.resolve(clock()).jwks == rotated.json()["jwks"]


def test_a_node_without_a_trust_anchor_names_no_authority(client: TestClient, clock: MutableClock) -> None:
    response = client.get("/.well-known/openid-federation")
    assert response.status_code == 200
    statement = statements.verify_entity_configuration(
        response.text, NODE_ID, clock(), allow_http_loopback=True
    )
    assert "authority_hints" not in statement.claims
    assert statement.metadata[ISSUER_ENTITY_TYPE]["did"] == NODE_DID


def test_a_misconfigured_trust_anchor_is_a_server_error(
    database_url: str, database: Database, tmp_path: Path, clock: MutableClock
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        base_url=NODE_ID,
        database_url=database_url,
        trust_anchor="https://anchor.yrd.example/?tenant=1",
        trust_anchor_jwks='{"keys": []}',
    )
    with TestClient(_app(settings, database, clock), raise_server_exceptions=False) as client:
        response = client.get("/.well-known/openid-federation")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["error"] == "server_error"
    assert "query" in response.json()["error_description"]
