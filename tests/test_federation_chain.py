"""Trust chains (OpenID Federation 1.0 §4, §10): resolution through a dict-backed ``fetch``
and validation of a trust anchor, an intermediate and provincial nodes built in memory,
with every way a chain must fail (§10.2), the constraints (§6.2), metadata resolution
(§6.1.4.2) and the chain's expiry (§10.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registry.federation.chain import ResolutionLimits, TrustChain, resolve_trust_chain, validate_trust_chain
from registry.federation.errors import (
    ConstraintViolationError,
    FetchError,
    FetchLimitError,
    PolicyError,
    StatementError,
    StatementSignatureError,
    StatementTimeError,
    TrustChainError,
)
from registry.federation.identifiers import entity_configuration_url, fetch_statement_url
from registry.federation.jws import federation_jwk, federation_jwks, sign_compact_jws
from registry.federation.statements import (
    ENTITY_STATEMENT_TYPE,
    entity_statement_claims,
    sign_entity_statement,
)
from registry.signing.encoding import b64url_encode
from registry.signing.keys import Ed25519PrivateKey, generate_private_key, jwk_thumbprint

NOW = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
ANCHOR = "https://anchor.yrd.example"
EAST = "https://east.yrd.example"  # an intermediate between the anchor and Anhui
JIANGSU = "https://js.yrd.example"  # directly under the anchor
ANHUI = "https://ah.yrd.example"  # under the intermediate

JIANGSU_METADATA: dict[str, Any] = {
    "federation_entity": {
        "organization_name": "Jiangsu talent evaluation",
        "organization_name#zh": "江苏省人才评价",
    },
    "credential_issuer": {
        "did": "did:web:js.yrd.example",
        "credential_types": ["eng.senior", "eng.intermediate", "health.senior"],
        "status_list_base": "https://js.yrd.example/status",
    },
}
ISSUER_POLICY: dict[str, Any] = {
    "credential_issuer": {
        "credential_types": {"subset_of": ["eng.senior", "eng.intermediate"], "essential": True},
        "did": {"essential": True},
    }
}


class Entity:
    def __init__(self, entity_id: str, *, superior: bool = False) -> None:
        self.id = entity_id
        self.key: Ed25519PrivateKey = generate_private_key()
        self.fetch_endpoint = entity_id + "/federation/fetch" if superior else None

    @property
    def jwks(self) -> dict[str, Any]:
        return federation_jwks(self.key.public_key())


class Federation:
    """Statements published by URL, and the ``fetch`` a resolver is given."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.fetched: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        try:
            return self.documents[url]
        except KeyError:
            raise FetchError(f"not found: {url}") from None

    def configure(
        self,
        entity: Entity,
        *,
        authority_hints: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        issued_at: datetime = NOW - HOUR,
        expires_at: datetime = NOW + DAY,
        jwks: dict[str, Any] | None = None,
        key: Ed25519PrivateKey | None = None,
        loopback: bool = False,
    ) -> str:
        metadata = {k: dict(v) for k, v in (metadata or {}).items()}
        if entity.fetch_endpoint:
            metadata.setdefault("federation_entity", {})["federation_fetch_endpoint"] = entity.fetch_endpoint
        claims = entity_statement_claims(
            iss=entity.id,
            sub=entity.id,
            issued_at=issued_at,
            expires_at=expires_at,
            jwks=jwks or entity.jwks,
            authority_hints=authority_hints,
            metadata=metadata or None,
            allow_http_loopback=loopback,
        )
        token = sign_entity_statement(claims, key or entity.key, allow_http_loopback=loopback)
        self.documents[entity_configuration_url(entity.id)] = token.encode()
        return token

    def subordinate(
        self,
        superior: Entity,
        subject: Entity,
        *,
        jwks: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        metadata_policy: dict[str, Any] | None = None,
        constraints: dict[str, Any] | None = None,
        issued_at: datetime = NOW - HOUR,
        expires_at: datetime = NOW + DAY,
        sub: str | None = None,
        crit: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        loopback: bool = False,
    ) -> str:
        claims = entity_statement_claims(
            iss=superior.id,
            sub=sub or subject.id,
            issued_at=issued_at,
            expires_at=expires_at,
            jwks=jwks or subject.jwks,
            metadata=metadata,
            metadata_policy=metadata_policy,
            constraints=constraints,
            crit=crit,
            extra_claims=extra,
            allow_http_loopback=loopback,
        )
        token = sign_entity_statement(claims, superior.key, allow_http_loopback=loopback)
        self.publish_statement(superior, subject, token)
        return token

    def publish_statement(self, superior: Entity, subject: Entity, token: str) -> None:
        assert superior.fetch_endpoint
        self.documents[fetch_statement_url(superior.fetch_endpoint, subject.id)] = token.encode()


class World:
    """The anchor; Jiangsu directly under it; Anhui under the East intermediate."""

    def __init__(self) -> None:
        self.federation = Federation()
        self.anchor = Entity(ANCHOR, superior=True)
        self.east = Entity(EAST, superior=True)
        self.jiangsu = Entity(JIANGSU)
        self.anhui = Entity(ANHUI)
        f = self.federation
        self.anchor_ec = f.configure(
            self.anchor, metadata={"federation_entity": {"organization_name": "YRD"}}
        )
        self.jiangsu_ec = f.configure(self.jiangsu, authority_hints=[ANCHOR], metadata=JIANGSU_METADATA)
        self.anchor_about_jiangsu = f.subordinate(self.anchor, self.jiangsu, metadata_policy=ISSUER_POLICY)
        self.east_ec = f.configure(self.east, authority_hints=[ANCHOR])
        self.anchor_about_east = f.subordinate(self.anchor, self.east, metadata_policy=ISSUER_POLICY)
        self.anhui_ec = f.configure(
            self.anhui,
            authority_hints=[EAST],
            metadata={
                "credential_issuer": {"did": "did:web:ah.yrd.example", "credential_types": ["eng.senior"]}
            },
        )
        self.east_about_anhui = f.subordinate(self.east, self.anhui)

    @property
    def anchors(self) -> dict[str, dict[str, Any]]:
        return {ANCHOR: self.anchor.jwks}

    def resolve(self, subject: str, **kwargs: Any) -> TrustChain:
        now = kwargs.pop("now", NOW)
        return resolve_trust_chain(subject, self.anchors, now, self.federation.fetch, **kwargs)


@pytest.fixture
def world() -> World:
    return World()


# --- valid chains ----------------------------------------------------------------------------


def test_a_node_directly_under_the_anchor(world: World) -> None:
    """§4: [Jiangsu's configuration, the anchor's statement about Jiangsu, the anchor's
    configuration]; the metadata policy narrows the credential types (§6.1.4.2)."""
    chain = world.resolve(JIANGSU)
    assert chain.subject == JIANGSU
    assert chain.trust_anchor == ANCHOR
    assert chain.compact == (world.jiangsu_ec, world.anchor_about_jiangsu, world.anchor_ec)
    assert chain.metadata == {
        "federation_entity": JIANGSU_METADATA["federation_entity"],
        "credential_issuer": {
            **JIANGSU_METADATA["credential_issuer"],
            "credential_types": ["eng.senior", "eng.intermediate"],
        },
    }
    assert chain.jwks == world.jiangsu.jwks
    assert chain.expires_at == NOW + DAY
    assert chain.is_valid_at(NOW)
    assert world.federation.fetched == [
        entity_configuration_url(JIANGSU),
        entity_configuration_url(ANCHOR),
        fetch_statement_url(world.anchor.fetch_endpoint or "", JIANGSU),
    ]


def test_a_node_under_an_intermediate(world: World) -> None:
    """§4: ES[0] Anhui, ES[1] East about Anhui, ES[2] anchor about East, ES[3] anchor."""
    chain = world.resolve(ANHUI)
    assert chain.compact == (world.anhui_ec, world.east_about_anhui, world.anchor_about_east, world.anchor_ec)
    assert [s.iss for s in chain.statements] == [ANHUI, EAST, ANCHOR, ANCHOR]
    assert [s.sub for s in chain.statements] == [ANHUI, ANHUI, EAST, ANCHOR]
    assert chain.metadata["credential_issuer"]["credential_types"] == ["eng.senior"]


def test_a_chain_passed_by_value_validates_again(world: World) -> None:
    chain = world.resolve(ANHUI)
    again = validate_trust_chain(chain.compact, world.anchors, NOW, subject=ANHUI)
    assert again == chain


def test_the_anchor_itself_resolves_to_its_own_configuration(world: World) -> None:
    chain = world.resolve(ANCHOR)
    assert chain.compact == (world.anchor_ec,)
    assert chain.jwks == world.anchor.jwks
    assert chain.metadata["federation_entity"]["organization_name"] == "YRD"


def test_the_chain_vouches_only_for_keys_the_superior_lists(world: World) -> None:
    """The subject's federation keys are the ones ES[1] lists, not extra ones it claims."""
    extra = generate_private_key()
    world.federation.configure(
        world.jiangsu,
        authority_hints=[ANCHOR],
        metadata=JIANGSU_METADATA,
        jwks=federation_jwks(world.jiangsu.key.public_key(), extra.public_key()),
    )
    chain = world.resolve(JIANGSU)
    assert chain.jwks == world.jiangsu.jwks
    assert jwk_thumbprint(extra.public_key()) not in str(chain.jwks)


def test_a_dead_authority_hint_is_skipped_for_a_working_one(world: World) -> None:
    world.federation.configure(
        world.jiangsu, authority_hints=["https://gone.yrd.example", ANCHOR], metadata=JIANGSU_METADATA
    )
    assert world.resolve(JIANGSU).trust_anchor == ANCHOR


def test_loopback_http_entities_resolve_only_when_allowed() -> None:
    federation = Federation()
    anchor = Entity("http://127.0.0.1:8000", superior=True)
    node = Entity("http://127.0.0.1:8032")
    federation.configure(anchor, loopback=True)
    federation.configure(node, authority_hints=[anchor.id], loopback=True)
    federation.subordinate(anchor, node, loopback=True)
    anchors = {anchor.id: anchor.jwks}
    with pytest.raises(TrustChainError, match="https"):
        resolve_trust_chain(node.id, anchors, NOW, federation.fetch)
    chain = resolve_trust_chain(node.id, anchors, NOW, federation.fetch, allow_http_loopback=True)
    assert chain.trust_anchor == anchor.id


# --- signatures (§4, §10.2) ---------------------------------------------------------------------


def test_a_bad_signature_on_the_subordinate_statement(world: World) -> None:
    head, payload, signature = world.anchor_about_jiangsu.split(".")
    flipped = b64url_encode(bytes([signature.encode()[0] ^ 1]) + b"\x00" * 63)
    world.federation.publish_statement(world.anchor, world.jiangsu, f"{head}.{payload}.{flipped}")
    with pytest.raises(StatementSignatureError, match="does not verify"):
        world.resolve(JIANGSU)


def test_the_subject_signed_with_a_key_its_superior_does_not_vouch_for(world: World) -> None:
    """Jiangsu rotated to a new key; the anchor's statement still lists only the old one."""
    new = generate_private_key()
    world.federation.configure(
        world.jiangsu,
        authority_hints=[ANCHOR],
        metadata=JIANGSU_METADATA,
        jwks=federation_jwks(world.jiangsu.key.public_key(), new.public_key()),
        key=new,
    )
    with pytest.raises(StatementSignatureError, match="not in the issuer's vouched key set"):
        world.resolve(JIANGSU)


def test_the_superior_vouches_for_another_key_under_the_subjects_kid(world: World) -> None:
    impostor = {
        **federation_jwk(generate_private_key().public_key()),
        "kid": jwk_thumbprint(world.jiangsu.key.public_key()),
    }
    world.federation.subordinate(world.anchor, world.jiangsu, jwks={"keys": [impostor]})
    with pytest.raises(StatementSignatureError, match="does not verify"):
        world.resolve(JIANGSU)


def test_a_configuration_signed_with_a_vouched_key_missing_from_its_own_jwks(world: World) -> None:
    """§4: ES[0] is signed with a key in ES[0]["jwks"] as well as one in ES[1]["jwks"]."""
    other = generate_private_key()
    claims = entity_statement_claims(
        iss=JIANGSU,
        sub=JIANGSU,
        issued_at=NOW - HOUR,
        expires_at=NOW + DAY,
        jwks=federation_jwks(other.public_key()),
        authority_hints=[ANCHOR],
    )
    forged = sign_compact_jws(claims, world.jiangsu.key, ENTITY_STATEMENT_TYPE)
    with pytest.raises(TrustChainError, match="not the same key in its own jwks"):
        validate_trust_chain([forged, world.anchor_about_jiangsu, world.anchor_ec], world.anchors, NOW)
    world.federation.documents[entity_configuration_url(JIANGSU)] = forged.encode()
    with pytest.raises(StatementSignatureError):
        world.resolve(JIANGSU)


def test_the_anchor_configuration_must_list_the_configured_key_that_signed_it(world: World) -> None:
    """§4: ES[i] is signed with a key in ES[i]["jwks"] as well as a configured anchor key."""
    claims = entity_statement_claims(
        iss=ANCHOR,
        sub=ANCHOR,
        issued_at=NOW - HOUR,
        expires_at=NOW + DAY,
        jwks=federation_jwks(generate_private_key().public_key()),
        metadata={"federation_entity": {"federation_fetch_endpoint": world.anchor.fetch_endpoint}},
    )
    forged = sign_compact_jws(claims, world.anchor.key, ENTITY_STATEMENT_TYPE)
    with pytest.raises(TrustChainError, match="not the same key in its own jwks"):
        validate_trust_chain([forged], world.anchors, NOW)


def test_the_anchor_configuration_must_verify_with_the_configured_anchor_keys(world: World) -> None:
    stranger = federation_jwks(generate_private_key().public_key())
    with pytest.raises(StatementSignatureError, match="not in the issuer's vouched key set"):
        resolve_trust_chain(JIANGSU, {ANCHOR: stranger}, NOW, world.federation.fetch)


def test_a_subordinate_statement_signed_by_the_subject_itself(world: World) -> None:
    """A node cannot vouch for itself in the anchor's name."""
    claims = entity_statement_claims(
        iss=ANCHOR, sub=JIANGSU, issued_at=NOW - HOUR, expires_at=NOW + DAY, jwks=world.jiangsu.jwks
    )
    world.federation.publish_statement(
        world.anchor, world.jiangsu, sign_compact_jws(claims, world.jiangsu.key, ENTITY_STATEMENT_TYPE)
    )
    with pytest.raises(StatementSignatureError):
        world.resolve(JIANGSU)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": ENTITY_STATEMENT_TYPE, "kid": "k"},
        {"alg": "HS256", "typ": ENTITY_STATEMENT_TYPE, "kid": "k"},
        {"alg": "EdDSA", "typ": "JWT", "kid": "k"},
    ],
)
def test_alg_none_hs256_and_wrong_typ_in_a_chain(world: World, header: dict[str, Any]) -> None:
    import json

    claims = entity_statement_claims(
        iss=ANCHOR, sub=JIANGSU, issued_at=NOW - HOUR, expires_at=NOW + DAY, jwks=world.jiangsu.jwks
    )
    token = ".".join(
        [
            b64url_encode(json.dumps(header).encode()),
            b64url_encode(json.dumps(claims).encode()),
            b64url_encode(b"s" * 64),
        ]
    )
    world.federation.publish_statement(world.anchor, world.jiangsu, token)
    with pytest.raises(StatementError, match=r"algorithm|typ"):
        world.resolve(JIANGSU)


# --- time (§10.2, §10.4) ---------------------------------------------------------------------


def test_an_expired_subordinate_statement(world: World) -> None:
    world.federation.subordinate(world.anchor, world.jiangsu, issued_at=NOW - DAY, expires_at=NOW - HOUR)
    with pytest.raises(StatementTimeError, match="expired"):
        world.resolve(JIANGSU)


def test_a_not_yet_valid_subordinate_statement(world: World) -> None:
    world.federation.subordinate(world.anchor, world.jiangsu, issued_at=NOW + HOUR, expires_at=NOW + DAY)
    with pytest.raises(StatementTimeError, match="issued in the future"):
        world.resolve(JIANGSU)


def test_an_expired_subject_configuration(world: World) -> None:
    world.federation.configure(world.jiangsu, authority_hints=[ANCHOR], issued_at=NOW - DAY, expires_at=NOW)
    with pytest.raises(StatementTimeError, match="expired"):
        world.resolve(JIANGSU)


def test_an_expired_anchor_configuration(world: World) -> None:
    world.federation.configure(world.anchor, issued_at=NOW - DAY, expires_at=NOW - timedelta(seconds=1))
    with pytest.raises(StatementTimeError, match="expired"):
        world.resolve(JIANGSU)


def test_an_expired_intermediate_configuration_ends_the_path(world: World) -> None:
    world.federation.configure(
        world.east, authority_hints=[ANCHOR], issued_at=NOW - DAY, expires_at=NOW - HOUR
    )
    with pytest.raises(StatementTimeError, match="expired"):
        world.resolve(ANHUI)


def test_expires_at_is_the_earliest_exp_in_the_chain(world: World) -> None:
    """§10.4: the minimum exp; a cache must not keep the chain longer."""
    f = world.federation
    f.configure(world.anchor, expires_at=NOW + 3 * DAY)
    f.subordinate(world.anchor, world.east, metadata_policy=ISSUER_POLICY, expires_at=NOW + 7 * HOUR)
    f.configure(world.east, authority_hints=[ANCHOR], expires_at=NOW + 2 * HOUR)  # not in the chain
    f.subordinate(world.east, world.anhui, expires_at=NOW + 5 * HOUR + timedelta(seconds=30))
    f.configure(
        world.anhui,
        authority_hints=[EAST],
        metadata={"credential_issuer": {"did": "did:web:ah.yrd.example", "credential_types": ["eng.senior"]}},
        expires_at=NOW + 2 * DAY,
    )
    chain = world.resolve(ANHUI)
    assert chain.expires_at == NOW + 5 * HOUR + timedelta(seconds=30)
    assert chain.is_valid_at(NOW + 5 * HOUR)
    assert not chain.is_valid_at(chain.expires_at)


def test_expired_material_never_becomes_trusted_later(world: World) -> None:
    chain = world.resolve(JIANGSU)
    with pytest.raises(StatementTimeError, match="expired"):
        validate_trust_chain(chain.compact, world.anchors, chain.expires_at)


# --- shape: iss/sub continuity, loops, anchors (§4, §10.1, §10.2) ------------------------------


def test_a_statement_about_another_subject_wrong_sub(world: World) -> None:
    """The anchor's fetch endpoint answers for Jiangsu with its statement about East."""
    world.federation.publish_statement(world.anchor, world.jiangsu, world.anchor_about_east)
    with pytest.raises(TrustChainError, match=r"is about https://east\.yrd\.example"):
        world.resolve(JIANGSU)


def test_a_subordinate_statement_with_a_forged_sub_for_the_path(world: World) -> None:
    """A statement published at the right URL but about someone else."""
    world.federation.subordinate(world.anchor, world.jiangsu, sub=ANHUI, jwks=world.jiangsu.jwks)
    with pytest.raises(TrustChainError, match=r"is about https://ah\.yrd\.example"):
        world.resolve(JIANGSU)


def test_iss_sub_discontinuity(world: World) -> None:
    """§10.2: ES[j]["iss"] == ES[j+1]["sub"]."""
    with pytest.raises(TrustChainError, match=r"issued by 'https://east\.yrd\.example'"):
        validate_trust_chain(
            [world.anhui_ec, world.east_about_anhui, world.anchor_about_jiangsu, world.anchor_ec],
            world.anchors,
            NOW,
        )
    with pytest.raises(TrustChainError, match=r"starts with the configuration of 'https://js\.yrd\.example'"):
        validate_trust_chain(
            [world.jiangsu_ec, world.east_about_anhui, world.anchor_about_east, world.anchor_ec],
            world.anchors,
            NOW,
        )


def test_the_subject_must_be_the_one_asked_for(world: World) -> None:
    with pytest.raises(TrustChainError, match=r"not about https://ah\.yrd\.example"):
        validate_trust_chain(
            [world.jiangsu_ec, world.anchor_about_jiangsu, world.anchor_ec], world.anchors, NOW, subject=ANHUI
        )


def test_the_immediate_superior_must_be_an_authority_hint(world: World) -> None:
    """§3.5 step 6: otherwise the federation graph is not well-formed."""
    jiangsu_ec = world.federation.configure(world.jiangsu, authority_hints=[EAST], metadata=JIANGSU_METADATA)
    with pytest.raises(TrustChainError, match="not among the authority_hints"):
        validate_trust_chain([jiangsu_ec, world.anchor_about_jiangsu, world.anchor_ec], world.anchors, NOW)


def test_a_configuration_in_the_middle_of_a_chain_is_refused(world: World) -> None:
    with pytest.raises(TrustChainError, match="must be a Subordinate Statement"):
        validate_trust_chain(
            [world.jiangsu_ec, world.anchor_about_jiangsu, world.anchor_ec, world.anchor_ec],
            world.anchors,
            NOW,
        )


@pytest.mark.parametrize("count", [0, 2])
def test_chains_of_impossible_length(world: World, count: int) -> None:
    with pytest.raises(TrustChainError, match="a trust chain is"):
        validate_trust_chain([world.jiangsu_ec, world.anchor_ec][:count], world.anchors, NOW)


def test_a_chain_ending_at_an_unconfigured_anchor(world: World) -> None:
    other = {"https://other-anchor.example": federation_jwks(generate_private_key().public_key())}
    with pytest.raises(TrustChainError, match="not a configured trust anchor"):
        validate_trust_chain([world.jiangsu_ec, world.anchor_about_jiangsu, world.anchor_ec], other, NOW)


def test_a_path_that_never_reaches_a_configured_anchor(world: World) -> None:
    rogue = Entity("https://rogue.example", superior=True)
    world.federation.configure(rogue)
    world.federation.subordinate(rogue, world.jiangsu)
    world.federation.configure(world.jiangsu, authority_hints=[rogue.id], metadata=JIANGSU_METADATA)
    with pytest.raises(TrustChainError, match="not a configured trust anchor and names no authority"):
        world.resolve(JIANGSU)


def test_a_loop_in_authority_hints(world: World) -> None:
    """§10.1: nothing is fetched twice, and the hint that leads to a loop is not used."""
    a = Entity("https://a.yrd.example", superior=True)
    b = Entity("https://b.yrd.example", superior=True)
    f = world.federation
    f.configure(a, authority_hints=[b.id])
    f.configure(b, authority_hints=[a.id])
    f.subordinate(a, world.jiangsu)
    f.subordinate(b, a)
    f.subordinate(a, b)
    f.configure(world.jiangsu, authority_hints=[a.id], metadata=JIANGSU_METADATA)
    with pytest.raises(TrustChainError, match="leads back into the path"):
        world.resolve(JIANGSU)
    assert len(f.fetched) == len(set(f.fetched))


def test_a_loop_is_skipped_when_another_hint_reaches_the_anchor(world: World) -> None:
    a = Entity("https://a.yrd.example", superior=True)
    b = Entity("https://b.yrd.example", superior=True)
    f = world.federation
    f.configure(a, authority_hints=[b.id])
    f.configure(b, authority_hints=[a.id, ANCHOR])
    f.subordinate(a, world.jiangsu)
    f.subordinate(b, a)
    f.subordinate(world.anchor, b)
    f.configure(world.jiangsu, authority_hints=[a.id], metadata=JIANGSU_METADATA)
    chain = world.resolve(JIANGSU)
    assert [s.iss for s in chain.statements] == [JIANGSU, a.id, b.id, ANCHOR, ANCHOR]


def test_an_entity_twice_in_a_chain_passed_by_value_is_a_loop(world: World) -> None:
    """§17.1: chains never contain loops, even when every signature and every iss/sub link
    is right: [A, B about A, A about B, anchor about A, anchor]."""
    a = Entity("https://a.yrd.example", superior=True)
    b = Entity("https://b.yrd.example", superior=True)
    f = world.federation
    a_ec = f.configure(a, authority_hints=[b.id, ANCHOR])
    looped = [a_ec, f.subordinate(b, a), f.subordinate(a, b), f.subordinate(world.anchor, a), world.anchor_ec]
    with pytest.raises(TrustChainError, match="an entity appears twice in the chain"):
        validate_trust_chain(looped, world.anchors, NOW)
    assert validate_trust_chain([a_ec, looped[3], world.anchor_ec], world.anchors, NOW).subject == a.id


def test_every_failed_path_is_reported(world: World) -> None:
    world.federation.configure(
        world.jiangsu,
        authority_hints=["https://gone-1.yrd.example", "https://gone-2.yrd.example"],
        metadata=JIANGSU_METADATA,
    )
    with pytest.raises(TrustChainError, match="no valid trust chain") as raised:
        world.resolve(JIANGSU)
    reasons = raised.value.extensions["reasons"]
    assert [r["type"].rsplit("/", 1)[1] for r in reasons] == ["federation-fetch-failed"] * 2


# --- resolution limits (§18.1) -------------------------------------------------------------------


def test_the_number_of_superiors_is_bounded(world: World) -> None:
    with pytest.raises(TrustChainError, match="more than 1 superiors"):
        world.resolve(ANHUI, limits=ResolutionLimits(max_superiors=1))
    assert world.resolve(ANHUI, limits=ResolutionLimits(max_superiors=2)).subject == ANHUI


def test_the_number_of_fetches_is_bounded(world: World) -> None:
    with pytest.raises(FetchLimitError, match="after 3 fetches"):
        world.resolve(ANHUI, limits=ResolutionLimits(max_fetches=3))
    assert len(world.federation.fetched) == 3


def test_the_number_of_authority_hints_inspected_is_bounded(world: World) -> None:
    hints = [f"https://fake-{n}.yrd.example" for n in range(5)] + [ANCHOR]
    world.federation.configure(world.jiangsu, authority_hints=hints, metadata=JIANGSU_METADATA)
    with pytest.raises(TrustChainError, match="no valid trust chain") as raised:
        world.resolve(JIANGSU, limits=ResolutionLimits(max_authority_hints=3))
    details = [reason["detail"] for reason in raised.value.extensions["reasons"]]
    assert details[0].endswith("names 6 authorities; only the first 3 are inspected")
    assert len(details) == 4
    assert world.resolve(JIANGSU, limits=ResolutionLimits(max_authority_hints=6)).trust_anchor == ANCHOR


# --- constraints (§6.2) ---------------------------------------------------------------------------


def test_max_path_length_zero_at_the_anchor_refuses_an_intermediate(world: World) -> None:
    """§6.2.1: the anchor allows no Intermediate between itself and the subject."""
    world.federation.subordinate(world.anchor, world.east, constraints={"max_path_length": 0})
    with pytest.raises(ConstraintViolationError, match="at most 0 intermediate"):
        world.resolve(ANHUI)


def test_max_path_length_one_allows_one_intermediate(world: World) -> None:
    world.federation.subordinate(world.anchor, world.east, constraints={"max_path_length": 1})
    world.federation.subordinate(world.east, world.anhui, constraints={"max_path_length": 0})
    assert world.resolve(ANHUI).subject == ANHUI


def test_naming_constraints_exclude_and_permit(world: World) -> None:
    """§6.2.2: RFC 5280 host subtrees; an excluded match wins."""
    world.federation.subordinate(
        world.anchor,
        world.east,
        constraints={"naming_constraints": {"permitted": [".yrd.example"], "excluded": ["ah.yrd.example"]}},
    )
    with pytest.raises(ConstraintViolationError, match="excluded"):
        world.resolve(ANHUI)
    world.federation.subordinate(
        world.anchor, world.east, constraints={"naming_constraints": {"permitted": [".js.yrd.example"]}}
    )
    with pytest.raises(ConstraintViolationError, match="outside the names permitted"):
        world.resolve(ANHUI)
    world.federation.subordinate(
        world.anchor, world.east, constraints={"naming_constraints": {"permitted": [".yrd.example"]}}
    )
    assert world.resolve(ANHUI).subject == ANHUI


def test_allowed_entity_types_remove_other_metadata(world: World) -> None:
    """§6.2.3: before the policy, after the superior's metadata; federation_entity stays."""
    metadata = {**JIANGSU_METADATA, "openid_relying_party": {"client_name": "x"}}
    world.federation.configure(world.jiangsu, authority_hints=[ANCHOR], metadata=metadata)
    world.federation.subordinate(
        world.anchor,
        world.jiangsu,
        metadata_policy=ISSUER_POLICY,
        constraints={"allowed_entity_types": ["credential_issuer"]},
    )
    assert set(world.resolve(JIANGSU).metadata) == {"federation_entity", "credential_issuer"}


# --- metadata and policy through the chain (§6.1.4) --------------------------------------------


def test_the_superiors_metadata_overrides_and_applies_only_to_present_types(world: World) -> None:
    world.federation.subordinate(
        world.east,
        world.anhui,
        metadata={
            "credential_issuer": {"status_list_base": "https://status.yrd.example/ah"},
            "openid_provider": {"issuer": "https://ah.yrd.example"},
        },
    )
    metadata = world.resolve(ANHUI).metadata
    assert metadata["credential_issuer"]["status_list_base"] == "https://status.yrd.example/ah"
    assert "openid_provider" not in metadata


def test_a_policy_merged_down_the_chain_restricts_the_subject(world: World) -> None:
    world.federation.subordinate(
        world.east,
        world.anhui,
        metadata_policy={"credential_issuer": {"credential_types": {"subset_of": ["eng.intermediate"]}}},
    )
    chain = world.resolve(ANHUI)
    assert chain.metadata["credential_issuer"]["credential_types"] == []
    assert chain.metadata_policy["credential_issuer"]["credential_types"] == {
        "subset_of": ["eng.intermediate"],
        "essential": True,
    }


def test_conflicting_policies_in_the_chain_invalidate_it(world: World) -> None:
    world.federation.subordinate(
        world.anchor, world.east, metadata_policy={"credential_issuer": {"did": {"value": "did:web:a"}}}
    )
    world.federation.subordinate(
        world.east, world.anhui, metadata_policy={"credential_issuer": {"did": {"value": "did:web:b"}}}
    )
    with pytest.raises(PolicyError, match="conflicting 'value'"):
        world.resolve(ANHUI)


def test_metadata_the_policy_rejects_invalidates_the_chain(world: World) -> None:
    world.federation.configure(
        world.jiangsu,
        authority_hints=[ANCHOR],
        metadata={"credential_issuer": {"credential_types": ["eng.senior"]}},
    )
    with pytest.raises(PolicyError, match=r"credential_issuer\.did: the parameter is essential but absent"):
        world.resolve(JIANGSU)


# --- critical claims and operators (§3.5, §6.1.3.2) ------------------------------------------


def test_an_unknown_critical_claim_in_the_chain(world: World) -> None:
    world.federation.subordinate(
        world.anchor,
        world.jiangsu,
        metadata_policy=ISSUER_POLICY,
        crit=["authorisation"],
        extra={"authorisation": []},
    )
    with pytest.raises(StatementError, match="critical claim"):
        world.resolve(JIANGSU)
    assert world.resolve(JIANGSU, understood_claims={"authorisation"}).subject == JIANGSU


def test_an_unknown_critical_policy_operator_in_the_chain(world: World) -> None:
    world.federation.subordinate(
        world.anchor,
        world.jiangsu,
        extra={},
        metadata_policy={"credential_issuer": {"did": {"regexp": "^did:web:", "essential": True}}},
    )
    assert world.resolve(JIANGSU).subject == JIANGSU  # an unknown operator is ignored…
    claims = entity_statement_claims(
        iss=ANCHOR,
        sub=JIANGSU,
        issued_at=NOW - HOUR,
        expires_at=NOW + DAY,
        jwks=world.jiangsu.jwks,
        metadata_policy={"credential_issuer": {"did": {"regexp": "^did:web:", "essential": True}}},
        metadata_policy_crit=["regexp"],
    )
    world.federation.publish_statement(
        world.anchor, world.jiangsu, sign_entity_statement(claims, world.anchor.key)
    )
    with pytest.raises(PolicyError, match="'regexp'"):  # …unless it is critical
        world.resolve(JIANGSU)


def test_a_fetch_that_returns_no_bytes_is_a_fetch_error(world: World) -> None:
    def fetch(url: str) -> Any:
        return None

    with pytest.raises(FetchError, match="no body"):
        resolve_trust_chain(JIANGSU, world.anchors, NOW, fetch)
