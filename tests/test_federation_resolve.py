"""The trust anchor's resolve endpoint (OpenID Federation 1.0 §8.3) and the verifier of
its answers.

A trust anchor and two provincial nodes (Jiangsu, Anhui) in one process, each app on its
own database, joined by the ``OriginRouter`` of ``test_federation_flow`` (which counts
requests): the anchor resolves Jiangsu's trust chain, fetching only Jiangsu's
configuration (its own statements are made in-process), and signs the answer. The
verifier (:func:`registry.federation.resolve.verify_resolve_response`) is tested on its
own with keys made here, and on the anchor's real answers.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from registry.federation import chain as chains
from registry.federation.errors import FederationError, FetchError
from registry.federation.jws import federation_jwks
from registry.federation.metadata import ISSUER_ENTITY_TYPE, profile_from_metadata
from registry.federation.resolve import (
    RESOLVE_RESPONSE_MEDIA_TYPE,
    ResolveResponseError,
    sign_resolve_response,
    verify_resolve_response,
)
from registry.federation.statements import (
    ENTITY_STATEMENT_TYPE,
    unverified_claims,
    verify_entity_statement,
)
from registry.signing.jose import sign_jws
from registry.signing.keys import Ed25519PrivateKey, generate_private_key, jwk_thumbprint
from tests.conftest import NOW, Actors, MutableClock, issue_row, resident_id
from tests.federation_apps import OriginRouter, federated_app, federation_settings

ANCHOR = "https://127.0.0.1:8100"
JIANGSU = "https://127.0.0.1:8032"
ANHUI = "https://127.0.0.1:8034"
ZHEJIANG = "https://127.0.0.1:8033"  # never admitted
PROBLEM = "application/problem+json"
#: Jiangsu signs its configuration for 30 minutes, the anchor for an hour: the chain's
#: earliest exp is Jiangsu's.
JIANGSU_LIFETIME = 1800
_ACCOUNTS = itertools.count()


@dataclass
class World:
    clock: MutableClock
    router: OriginRouter
    clients: dict[str, TestClient] = field(default_factory=dict)
    hr: dict[str, dict[str, str]] = field(default_factory=dict)
    authorisation_id: int = 0

    def node(self, origin: str) -> Any:
        return self.clients[origin].app.state.node  # type: ignore[attr-defined]

    def staff(self, origin: str, role: str) -> dict[str, str]:
        """Headers of a new account (access tokens last 15 minutes of the clock)."""
        actors = Actors(self.clients[origin].app)
        actors._n = 1000 + next(_ACCOUNTS)
        return actors.admin() if role == "admin" else actors.officer()

    def resolve(
        self, sub: str = JIANGSU, trust_anchor: str | list[str] | None = ANCHOR, **params: Any
    ) -> httpx.Response:
        query: dict[str, Any] = {"sub": sub, **params}
        if trust_anchor is not None:
            query["trust_anchor"] = trust_anchor
        response: httpx.Response = self.clients[ANCHOR].get("/federation/resolve", params=query)
        return response

    def anchor_jwks(self) -> dict[str, Any]:
        node = self.node(ANCHOR)
        with node.db.session(write=False) as session:
            ring = node.federation_keys.load(session)
        return federation_jwks(*(r.public_key for r in ring.valid_at(self.clock())))

    def anchor_key(self) -> Ed25519PrivateKey:
        node = self.node(ANCHOR)
        with node.db.session(write=False) as session:
            return node.federation_keys.load(session).signing_key(self.clock())[1]  # type: ignore[no-any-return]

    def fetch(self, url: str) -> bytes:
        """A node's own resolution, over the apps (sync, for ``resolve_trust_chain``)."""
        for origin, client in self.clients.items():
            if url.startswith(origin + "/"):
                response = client.get(url[len(origin) :])
                if response.status_code != 200:
                    raise FetchError(f"{url}: HTTP {response.status_code}")
                body: bytes = response.content
                return body
        raise FetchError(f"no entity at {url}")

    def node_resolution(self) -> chains.TrustChain:
        return chains.resolve_trust_chain(JIANGSU, {ANCHOR: self.anchor_jwks()}, self.clock(), self.fetch)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = MutableClock()
    router = OriginRouter()
    anchor = federated_app(
        federation_settings(tmp_path / "anchor", ANCHOR, "31", role="anchor"), clock, router
    )
    with anchor:
        w = World(clock, router, {ANCHOR: anchor})
        anchor_jwks = json.dumps(w.anchor_jwks())
        opened = []
        try:
            for origin, province, extra in (
                (JIANGSU, "32", {"statement_lifetime": JIANGSU_LIFETIME}),
                (ANHUI, "34", {}),
            ):
                settings = federation_settings(
                    tmp_path / province,
                    origin,
                    province,
                    trust_anchor=ANCHOR,
                    trust_anchor_jwks=anchor_jwks,
                    **extra,
                )
                client = federated_app(settings, clock, router)
                client.__enter__()
                opened.append(client)
                w.clients[origin] = client
                w.hr[origin] = Actors(client.app).hr()
                jwks = client.get("/v1/federation/jwks", headers=w.staff(origin, "admin")).json()
                admitted = anchor.post(
                    "/v1/federation/members",
                    json={"entityId": origin, "did": w.node(origin).did, "province": province, "jwks": jwks},
                    headers=w.staff(ANCHOR, "admin"),
                )
                assert admitted.status_code == 201, admitted.text
                granted = anchor.post(
                    "/v1/federation/authorisations",
                    json={"entityId": origin, "scope": "ENG-*", "validFrom": "2026-01-01T00:00:00Z"},
                    headers=w.staff(ANCHOR, "admin"),
                )
                assert granted.status_code == 201, granted.text
                if origin == JIANGSU:
                    w.authorisation_id = granted.json()["id"]
            router.requests.clear()
            yield w
        finally:
            for client in opened:
                client.__exit__(None, None, None)


def _problem(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["error"] == error, problem
    assert problem["error_description"] == problem["detail"]
    return problem


def _header(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return header


# --- the endpoint ------------------------------------------------------------------------


def test_the_anchor_lists_its_resolve_endpoint(world: World) -> None:
    configuration = world.clients[ANCHOR].get("/.well-known/openid-federation").text
    statement = verify_entity_statement(configuration, world.anchor_jwks(), world.clock(), issuer=ANCHOR)
    assert (
        statement.metadata["federation_entity"]["federation_resolve_endpoint"]
        == ANCHOR + "/federation/resolve"
    )


def test_a_member_resolves_to_what_a_node_resolves_for_itself(world: World) -> None:
    """§8.3.2: a signed resolve-response+jwt whose metadata is the member's Resolved
    Metadata: DID, authorisations and key history equal to a node's own resolution."""
    # Anhui verifies a Jiangsu title: its directory resolves Jiangsu's chain on its own.
    issued = world.clients[JIANGSU].post(
        "/v1/credentials",
        json=issue_row(idNumber=resident_id(1), holderName="持证人1"),
        headers=world.staff(JIANGSU, "officer"),
    )
    assert issued.status_code == 201, issued.text
    report = world.clients[ANHUI].post(
        "/v1/verifications",
        json={"credential": issued.json()["verifiableCredential"]},
        headers=world.hr[ANHUI],
    )
    assert report.json()["verdict"] == "valid", report.text
    [anhui_profile] = [p for p in world.node(ANHUI).directory.profiles() if p.entity_id == JIANGSU]
    world.router.requests.clear()

    response = world.resolve()
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == RESOLVE_RESPONSE_MEDIA_TYPE
    # Only Jiangsu's configuration was fetched: the anchor's own statements are in-process.
    assert world.router.requests == [JIANGSU + "/.well-known/openid-federation"]
    now = world.clock()
    anchor_jwks = world.anchor_jwks()
    answer = verify_resolve_response(
        response.text, ANCHOR, anchor_jwks, now, subject=JIANGSU, trust_anchors={ANCHOR: anchor_jwks}
    )
    assert _header(response.text)["typ"] == "resolve-response+jwt"
    assert (answer.issuer, answer.subject, answer.issued_at) == (ANCHOR, JIANGSU, now)

    own = world.node_resolution()
    assert answer.metadata == own.metadata
    profile = profile_from_metadata(JIANGSU, answer.metadata, answer.expires_at, ANCHOR)
    assert profile.did == anhui_profile.did == world.node(JIANGSU).did
    assert profile.authorisations == anhui_profile.authorisations
    assert [a.scope for a in profile.authorisations] == ["ENG-*"]
    assert profile.key_records == anhui_profile.key_records
    issuer = answer.metadata[ISSUER_ENTITY_TYPE]
    assert [m["kid"] for m in issuer["verification_methods"]] == [
        r.kid for r in world.node(JIANGSU).ring.records
    ]

    # trust_chain: Jiangsu's configuration, the anchor's statement about it, the anchor's
    # configuration (§4.3); exp is the chain's earliest exp (§10.4), here Jiangsu's.
    links = [unverified_claims(s) for s in answer.trust_chain]
    assert [(c["iss"], c["sub"]) for c in links] == [(JIANGSU, JIANGSU), (ANCHOR, JIANGSU), (ANCHOR, ANCHOR)]
    assert answer.claims["exp"] == min(c["exp"] for c in links) == int(now.timestamp()) + JIANGSU_LIFETIME
    assert answer.expires_at == own.expires_at
    assert answer.claims["exp"] < links[-1]["exp"]
    max_age = int(response.headers["cache-control"].split("max-age=")[1])
    assert 0 < max_age <= answer.claims["exp"] - now.timestamp()


def test_a_resolution_is_cached_until_the_chain_expires(world: World) -> None:
    first = world.resolve()
    assert first.status_code == 200, first.text
    world.router.requests.clear()
    world.clock.advance(seconds=JIANGSU_LIFETIME - 60)
    again = world.resolve()
    assert again.status_code == 200
    assert world.router.requests == []  # served from the cache
    exp = verify_resolve_response(again.text, ANCHOR, world.anchor_jwks(), world.clock()).expires_at
    assert exp == NOW + timedelta(seconds=JIANGSU_LIFETIME)  # the cached chain's, not a new one
    # Past the chain's earliest exp: resolved again, never served expired.
    world.clock.advance(seconds=61)
    renewed = world.resolve()
    assert renewed.status_code == 200, renewed.text
    assert world.router.requests == [JIANGSU + "/.well-known/openid-federation"]
    answer = verify_resolve_response(renewed.text, ANCHOR, world.anchor_jwks(), world.clock())
    assert answer.expires_at == world.clock() + timedelta(seconds=JIANGSU_LIFETIME)


def test_an_authorisation_withdrawn_is_resolved_at_once(world: World) -> None:
    """The cache holds a chain only while the anchor's statement about the member is
    unchanged: a withdrawal shows in the next answer."""
    assert world.resolve().status_code == 200
    world.clock.advance(minutes=5)
    withdrawn = world.clients[ANCHOR].post(
        f"/v1/federation/authorisations/{world.authorisation_id}/withdrawal",
        json={"reason": "评审权调整"},
        headers=world.staff(ANCHOR, "admin"),
    )
    assert withdrawn.status_code == 200, withdrawn.text
    response = world.resolve()
    assert response.status_code == 200, response.text
    answer = verify_resolve_response(response.text, ANCHOR, world.anchor_jwks(), world.clock())
    [authorisation] = answer.metadata[ISSUER_ENTITY_TYPE]["authorisations"]
    assert authorisation["validUntil"] == withdrawn.json()["effectiveUntil"]


def test_concurrent_requests_share_one_resolution(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    app = world.clients[ANCHOR].app
    # Without the cache, only the sharing of the resolution in flight saves requests.
    monkeypatch.setattr(world.node(ANCHOR).resolver, "cached", lambda subject, view: None)
    query = {"sub": JIANGSU, "trust_anchor": ANCHOR}

    async def three_at_once() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ANCHOR) as client:
            answers = await asyncio.gather(
                *(client.get("/federation/resolve", params=query) for _ in range(3))
            )
        return [a.status_code for a in answers]

    assert world.clients[ANCHOR].portal.call(three_at_once) == [200, 200, 200]  # type: ignore[union-attr]
    assert world.router.requests == [JIANGSU + "/.well-known/openid-federation"]


def test_entity_type_selects_the_metadata(world: World) -> None:
    """§8.3.1 ``entity_type``: only the entity types asked for (all when absent)."""
    everything = verify_resolve_response(world.resolve().text, ANCHOR, world.anchor_jwks(), world.clock())
    assert set(everything.metadata) == {"federation_entity", ISSUER_ENTITY_TYPE}
    issuer_only = world.resolve(entity_type=ISSUER_ENTITY_TYPE)
    assert issuer_only.status_code == 200, issuer_only.text
    answer = verify_resolve_response(issuer_only.text, ANCHOR, world.anchor_jwks(), world.clock())
    assert answer.metadata == {ISSUER_ENTITY_TYPE: everything.metadata[ISSUER_ENTITY_TYPE]}
    both = world.resolve(entity_type=["federation_entity", ISSUER_ENTITY_TYPE])
    assert verify_resolve_response(both.text, ANCHOR, world.anchor_jwks(), world.clock()).metadata == (
        everything.metadata
    )
    other = world.resolve(entity_type="openid_provider")
    assert other.status_code == 200
    assert verify_resolve_response(other.text, ANCHOR, world.anchor_jwks(), world.clock()).metadata == {}


def test_a_subject_that_is_not_a_member_is_404_without_a_request(world: World) -> None:
    for sub in (ZHEJIANG, "https://registry.elsewhere.example"):
        response = world.resolve(sub)
        problem = _problem(response, 404, "not_found")
        assert sub in problem["detail"]
    assert world.router.requests == []


def test_a_removed_member_is_no_longer_resolved(world: World) -> None:
    assert world.resolve().status_code == 200  # now cached
    removed = world.clients[ANCHOR].post(
        "/v1/federation/members/removal",
        json={"entityId": JIANGSU, "reason": "退出联盟"},
        headers=world.staff(ANCHOR, "admin"),
    )
    assert removed.status_code == 200, removed.text
    world.router.requests.clear()
    _problem(world.resolve(), 404, "not_found")
    assert world.router.requests == []


def test_a_member_that_is_down_is_a_problem_never_a_200(world: World) -> None:
    world.router.down.add(JIANGSU)
    problem = _problem(world.resolve(), 502, "invalid_trust_chain")
    assert problem["type"].endswith("/resolve-subject-unreachable")
    assert JIANGSU in problem["detail"]
    assert [r["type"].rsplit("/", 1)[1] for r in problem["reasons"]] == [
        "peer-not-reached"
    ]  # no connection: the request never left
    # Remembered for a few seconds: no request per call while it is down.
    world.router.requests.clear()
    _problem(world.resolve(), 502, "invalid_trust_chain")
    assert world.router.requests == []
    # Back up, and past the short negative cache: resolved.
    world.router.down.clear()
    world.clock.advance(seconds=11)
    assert world.resolve().status_code == 200
    assert world.router.requests == [JIANGSU + "/.well-known/openid-federation"]


def test_a_chain_that_does_not_validate_is_invalid_trust_chain(world: World) -> None:
    """Jiangsu rotates its federation key and signs with it before the anchor registered
    it: its configuration is not signed with a key the anchor vouches for (§10.2)."""
    rotated = world.clients[JIANGSU].post(
        "/v1/federation/keys/rotation", headers=world.staff(JIANGSU, "admin")
    )
    assert rotated.status_code == 200, rotated.text
    problem = _problem(world.resolve(), 400, "invalid_trust_chain")
    assert problem["type"].endswith("/resolve-invalid-trust-chain")
    # The anchor registers the new keys: its statement changed, so the cached failure is
    # not used and the member resolves at once.
    registered = world.clients[ANCHOR].post(
        "/v1/federation/members/keys",
        json={"entityId": JIANGSU, "jwks": rotated.json()["jwks"]},
        headers=world.staff(ANCHOR, "admin"),
    )
    assert registered.status_code == 200, registered.text
    assert world.resolve().status_code == 200


def test_trust_anchor_and_sub_parameters(world: World) -> None:
    # §8.3.1: both REQUIRED (§8.9 invalid_request, 400).
    _problem(world.resolve(trust_anchor=None), 400, "invalid_request")
    _problem(
        world.clients[ANCHOR].get("/federation/resolve", params={"trust_anchor": ANCHOR}),
        400,
        "invalid_request",
    )
    _problem(world.resolve("not an entity identifier"), 400, "invalid_request")
    _problem(world.resolve(JIANGSU + "?x=1"), 400, "invalid_request")
    # §8.9 invalid_trust_anchor (404): this anchor resolves to itself only.
    problem = _problem(
        world.resolve(trust_anchor="https://anchor.elsewhere.example"), 404, "invalid_trust_anchor"
    )
    assert problem["type"].endswith("/resolve-trust-anchor-unknown")
    _problem(world.resolve(trust_anchor=ANCHOR + "/"), 404, "invalid_trust_anchor")  # §16: exact match
    assert world.router.requests == []
    # Several trust anchors, this one among them: resolved to this one.
    assert world.resolve(trust_anchor=["https://anchor.elsewhere.example", ANCHOR]).status_code == 200


def test_the_anchor_resolves_itself_in_process(world: World) -> None:
    response = world.resolve(ANCHOR)
    assert response.status_code == 200, response.text
    assert world.router.requests == []
    anchor_jwks = world.anchor_jwks()
    answer = verify_resolve_response(
        response.text, ANCHOR, anchor_jwks, world.clock(), subject=ANCHOR, trust_anchors={ANCHOR: anchor_jwks}
    )
    assert len(answer.trust_chain) == 1
    assert ISSUER_ENTITY_TYPE not in answer.metadata


def test_resolve_is_404_on_a_node(world: World) -> None:
    response = world.clients[ANHUI].get(
        "/federation/resolve", params={"sub": JIANGSU, "trust_anchor": ANCHOR}
    )
    _problem(response, 404, "not_found")
    assert world.router.requests == []


def test_the_anchors_answer_checked_against_its_chain(world: World) -> None:
    """An answer signed by the anchor's key but saying something its chain does not
    (here: an authorisation added, an exp beyond the chain) fails the chain check."""
    response = world.resolve()
    anchor_jwks = world.anchor_jwks()
    now = world.clock()
    claims = dict(verify_resolve_response(response.text, ANCHOR, anchor_jwks, now).claims)
    anchors = {ANCHOR: anchor_jwks}

    forged_metadata = json.loads(json.dumps(claims))
    forged_metadata["metadata"][ISSUER_ENTITY_TYPE]["authorisations"].append(
        {"scope": "*", "validFrom": "2026-01-01T00:00:00Z", "validUntil": None}
    )
    token = sign_resolve_response(forged_metadata, world.anchor_key())
    verify_resolve_response(token, ANCHOR, anchor_jwks, now)  # the signature alone holds
    with pytest.raises(ResolveResponseError, match="not what the trust chain resolves"):
        verify_resolve_response(token, ANCHOR, anchor_jwks, now, trust_anchors=anchors)

    outliving = {**claims, "exp": claims["exp"] + 3600}
    token = sign_resolve_response(outliving, world.anchor_key())
    with pytest.raises(ResolveResponseError, match="outlives its trust chain"):
        verify_resolve_response(token, ANCHOR, anchor_jwks, now, trust_anchors=anchors)

    broken = {**claims, "trust_chain": claims["trust_chain"][1:]}
    token = sign_resolve_response(broken, world.anchor_key())
    with pytest.raises(ResolveResponseError, match="trust_chain is not valid"):
        verify_resolve_response(token, ANCHOR, anchor_jwks, now, trust_anchors=anchors)


# --- the verifier, on its own ------------------------------------------------------------

RESOLVER = "https://anchor.yrd.example"
SUBJECT = "https://js.registry.yrd.example"


@pytest.fixture(scope="module")
def resolver_key() -> Ed25519PrivateKey:
    return generate_private_key()


def _jwks(key: Ed25519PrivateKey) -> dict[str, Any]:
    return federation_jwks(key.public_key())


def _claims(now: datetime = NOW, **overrides: Any) -> dict[str, Any]:
    stamp = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": RESOLVER,
        "sub": SUBJECT,
        "iat": stamp,
        "exp": stamp + 600,
        "metadata": {ISSUER_ENTITY_TYPE: {"did": "did:web:js.registry.yrd.example", "province": "32"}},
        "trust_chain": ["a.b.c", "d.e.f", "g.h.i"],
    }
    claims.update(overrides)
    return claims


def test_the_verifier_accepts_a_well_formed_response(resolver_key: Ed25519PrivateKey) -> None:
    token = sign_resolve_response(_claims(), resolver_key)
    answer = verify_resolve_response(token, RESOLVER, _jwks(resolver_key), NOW, subject=SUBJECT)
    assert answer.subject == SUBJECT
    assert answer.expires_at == NOW + timedelta(seconds=600)
    assert answer.metadata[ISSUER_ENTITY_TYPE]["province"] == "32"
    assert answer.trust_chain == ("a.b.c", "d.e.f", "g.h.i")


def test_the_verifier_refuses_a_tampered_response(resolver_key: Ed25519PrivateKey) -> None:
    token = sign_resolve_response(_claims(), resolver_key)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["metadata"][ISSUER_ENTITY_TYPE]["province"] = "34"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(ResolveResponseError, match="signature"):
        verify_resolve_response(f"{header}.{forged}.{signature}", RESOLVER, _jwks(resolver_key), NOW)
    # Signed by a key that is not the resolver's.
    other = sign_resolve_response(_claims(), generate_private_key())
    with pytest.raises(ResolveResponseError, match="not in the issuer's vouched key set"):
        verify_resolve_response(other, RESOLVER, _jwks(resolver_key), NOW)


def test_the_verifier_refuses_another_typ(resolver_key: Ed25519PrivateKey) -> None:
    """§8.3.2: a resolve response with another typ, or none, is rejected."""
    kid = jwk_thumbprint(resolver_key.public_key())
    for typ in (ENTITY_STATEMENT_TYPE, "JWT"):
        token = sign_jws(_claims(), resolver_key, kid, typ)
        with pytest.raises(ResolveResponseError, match="typ"):
            verify_resolve_response(token, RESOLVER, _jwks(resolver_key), NOW)


def test_the_verifier_refuses_an_expired_response(resolver_key: Ed25519PrivateKey) -> None:
    token = sign_resolve_response(_claims(), resolver_key)
    verify_resolve_response(token, RESOLVER, _jwks(resolver_key), NOW + timedelta(seconds=599))
    for later in (600, 3600):
        with pytest.raises(ResolveResponseError, match="expired"):
            verify_resolve_response(token, RESOLVER, _jwks(resolver_key), NOW + timedelta(seconds=later))


@pytest.mark.parametrize(
    ("overrides", "kwargs", "message"),
    [
        ({"iss": "https://other-anchor.example"}, {}, "issued by"),
        ({}, {"subject": "https://zj.registry.yrd.example"}, "not about"),
        ({"iat": int(NOW.timestamp()) + 3600, "exp": int(NOW.timestamp()) + 7200}, {}, "future"),
        ({"exp": int(NOW.timestamp())}, {}, "later than iat"),
        ({"exp": "tomorrow"}, {}, "NumericDate"),
        ({"metadata": []}, {}, "metadata"),
        ({"metadata": {"federation_entity": "x"}}, {}, "metadata"),
        ({"trust_chain": []}, {}, "trust_chain"),
        ({"trust_chain": "a.b.c"}, {}, "trust_chain"),
        ({"sub": "http://js.registry.yrd.example"}, {}, "https"),
    ],
)
def test_the_verifier_refuses_bad_claims(
    resolver_key: Ed25519PrivateKey, overrides: dict[str, Any], kwargs: dict[str, Any], message: str
) -> None:
    token = sign_resolve_response(_claims(**overrides), resolver_key)
    with pytest.raises(ResolveResponseError, match=message):
        verify_resolve_response(token, RESOLVER, _jwks(resolver_key), NOW, **kwargs)


def test_resolve_response_errors_are_federation_errors() -> None:
    assert issubclass(ResolveResponseError, FederationError)


def test_resolution_failures_carry_the_spec_error_codes() -> None:
    """§8.9: invalid_metadata for a policy error (§6.1), invalid_trust_chain otherwise;
    a statement that could not be fetched is a 502; the resolver's own fault stays 500."""
    from registry.federation.entity import EntityConfigurationError
    from registry.federation.errors import PolicyError, StatementSignatureError, TrustChainError
    from registry.federation.resolve import resolution_failure

    cases = [
        (
            PolicyError("credential_types is not a subset"),
            400,
            "invalid_metadata",
            "resolve-invalid-metadata",
        ),
        (
            StatementSignatureError("signature does not verify"),
            400,
            "invalid_trust_chain",
            "resolve-invalid-trust-chain",
        ),
        (FetchError("connection refused"), 502, "invalid_trust_chain", "resolve-subject-unreachable"),
    ]
    for cause, status, error, slug in cases:
        failure = resolution_failure(SUBJECT, RESOLVER, cause)
        assert (failure.status, failure.extensions["error"], failure.slug) == (status, error, slug)
        assert failure.extensions["reasons"] == [{"type": cause.type_uri, "detail": cause.detail}]
        assert SUBJECT in failure.detail
        assert cause.detail in failure.detail
    several = TrustChainError("no valid trust chain", reasons=[{"type": "t", "detail": "d"}])
    assert resolution_failure(SUBJECT, RESOLVER, several).extensions["reasons"] == [
        {"type": "t", "detail": "d"}
    ]
    own = EntityConfigurationError("no federation key is valid for signing now")
    assert resolution_failure(SUBJECT, RESOLVER, own) is own
