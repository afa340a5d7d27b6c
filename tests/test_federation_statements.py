"""Entity Statements (OpenID Federation 1.0 §3): building and signing both kinds, strict
verification (§3.5) against an injected clock, algorithm confusion, typing, critical
claims, claim placement, Entity Identifiers, and the shape of the federation errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import registry.federation
from registry.errors import RegistryError
from registry.federation import errors as federation_errors
from registry.federation.constraints import host_matches
from registry.federation.errors import (
    FederationError,
    PolicyError,
    StatementError,
    StatementSignatureError,
    StatementTimeError,
)
from registry.federation.identifiers import (
    check_endpoint_url,
    check_entity_id,
    entity_configuration_url,
    fetch_statement_url,
)
from registry.federation.jws import federation_jwk, federation_jwks, sign_compact_jws
from registry.federation.statements import (
    DEFAULT_LEEWAY,
    ENTITY_STATEMENT_TYPE,
    entity_statement_claims,
    sign_entity_statement,
    unverified_claims,
    verify_entity_configuration,
    verify_entity_statement,
)
from registry.signing.encoding import b64url_decode, b64url_encode
from registry.signing.keys import Ed25519PrivateKey, generate_private_key, jwk_thumbprint, public_key_raw

NOW = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)
ANCHOR = "https://anchor.yrd.example"
JIANGSU = "https://js.yrd.example"
ANCHOR_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
JIANGSU_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ANCHOR_JWKS = federation_jwks(ANCHOR_KEY.public_key())
JIANGSU_JWKS = federation_jwks(JIANGSU_KEY.public_key())


def _claims(**overrides: Any) -> dict[str, Any]:
    """A Subordinate Statement by the anchor about Jiangsu, as plain claims."""
    claims: dict[str, Any] = {
        "iss": ANCHOR,
        "sub": JIANGSU,
        "iat": int((NOW - timedelta(hours=1)).timestamp()),
        "exp": int((NOW + timedelta(days=1)).timestamp()),
        "jwks": JIANGSU_JWKS,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _raw_jws(
    header: dict[str, Any], payload: bytes | dict[str, Any], key: Ed25519PrivateKey = ANCHOR_KEY
) -> str:
    """A compact JWS built by hand, to reach the verifier with what a signer would refuse."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url_encode(json.dumps(header).encode())}.{b64url_encode(body)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode('ascii')))}"


def _header(**overrides: Any) -> dict[str, Any]:
    header = {"alg": "EdDSA", "typ": ENTITY_STATEMENT_TYPE, "kid": jwk_thumbprint(ANCHOR_KEY.public_key())}
    header.update(overrides)
    return {k: v for k, v in header.items() if v is not None}


def _verify(token: str, **kwargs: Any) -> Any:
    return verify_entity_statement(token, ANCHOR_JWKS, NOW, **kwargs)


# --- building and signing -------------------------------------------------------------------


def test_subordinate_statement_round_trip() -> None:
    """§3: a statement by a superior about its subordinate, verified with the superior's keys."""
    claims = entity_statement_claims(
        iss=ANCHOR,
        sub=JIANGSU,
        issued_at=NOW - timedelta(minutes=5),
        expires_at=NOW + timedelta(hours=6),
        jwks=JIANGSU_JWKS,
        metadata_policy={"credential_issuer": {"credential_types": {"subset_of": ["eng.senior"]}}},
        constraints={"max_path_length": 0},
        source_endpoint=ANCHOR + "/fetch",
    )
    token = sign_entity_statement(claims, ANCHOR_KEY)
    statement = _verify(token, issuer=ANCHOR, subject=JIANGSU)
    assert statement.claims == claims
    assert statement.header == {
        "alg": "EdDSA",
        "typ": "entity-statement+jwt",
        "kid": jwk_thumbprint(ANCHOR_KEY.public_key()),
    }
    assert not statement.is_configuration
    assert statement.issued_at == NOW - timedelta(minutes=5)
    assert statement.expires_at == NOW + timedelta(hours=6)
    assert statement.constraints == {"max_path_length": 0}
    assert statement.jws == token


def test_entity_configuration_round_trip() -> None:
    """§3: iss == sub, signed with a key in its own jwks, verified with that jwks."""
    claims = entity_statement_claims(
        iss=JIANGSU,
        sub=JIANGSU,
        issued_at=NOW,
        expires_at=NOW + timedelta(days=1),
        jwks=JIANGSU_JWKS,
        authority_hints=[ANCHOR],
        metadata={"federation_entity": {"organization_name": "Jiangsu", "organization_name#zh": "江苏"}},
    )
    token = sign_entity_statement(claims, JIANGSU_KEY)
    statement = verify_entity_configuration(token, JIANGSU, NOW)
    assert statement.is_configuration
    assert statement.authority_hints == (ANCHOR,)
    assert statement.metadata["federation_entity"]["organization_name#zh"] == "江苏"


def test_the_kid_is_the_rfc7638_thumbprint_and_in_the_jwks() -> None:
    jwk = federation_jwk(JIANGSU_KEY.public_key())
    assert jwk["kid"] == jwk_thumbprint(JIANGSU_KEY.public_key())
    assert set(jwk) == {"kty", "crv", "x", "kid"}
    header = json.loads(
        b64url_decode(sign_entity_statement(_claims(iss=JIANGSU, sub=JIANGSU), JIANGSU_KEY).split(".")[0])
    )
    assert header["kid"] == jwk["kid"]


def test_an_entity_configuration_signed_with_a_foreign_key_is_refused() -> None:
    with pytest.raises(StatementError, match="own jwks"):
        sign_entity_statement(_claims(iss=JIANGSU, sub=JIANGSU), ANCHOR_KEY)


def test_the_builder_refuses_what_a_verifier_would_refuse() -> None:
    with pytest.raises(StatementError, match="must not appear in an Entity Configuration"):
        entity_statement_claims(
            iss=JIANGSU,
            sub=JIANGSU,
            issued_at=NOW,
            expires_at=NOW + timedelta(hours=1),
            jwks=JIANGSU_JWKS,
            constraints={"max_path_length": 1},
        )
    with pytest.raises(StatementError, match="exp must be later than iat"):
        entity_statement_claims(iss=ANCHOR, sub=JIANGSU, issued_at=NOW, expires_at=NOW, jwks=JIANGSU_JWKS)
    with pytest.raises(StatementError, match="extra_claims must not set defined claims"):
        entity_statement_claims(
            iss=ANCHOR,
            sub=JIANGSU,
            issued_at=NOW,
            expires_at=NOW + timedelta(1),
            jwks=JIANGSU_JWKS,
            extra_claims={"iss": "x"},
        )
    with pytest.raises(FederationError, match="time zone"):
        entity_statement_claims(
            iss=ANCHOR, sub=JIANGSU, issued_at=NOW.replace(tzinfo=None), expires_at=NOW, jwks=JIANGSU_JWKS
        )


# --- signatures and keys (§3.5 steps 10-12) --------------------------------------------------


def test_tampered_payload_fails_the_signature() -> None:
    token = sign_entity_statement(_claims(), ANCHOR_KEY)
    header, _, signature = token.split(".")
    forged = b64url_encode(json.dumps(_claims(sub="https://evil.example")).encode())
    with pytest.raises(StatementSignatureError, match="does not verify"):
        _verify(f"{header}.{forged}.{signature}")


def test_a_signature_by_another_key_with_the_same_kid_fails() -> None:
    token = sign_compact_jws(_claims(), generate_private_key(), ENTITY_STATEMENT_TYPE)
    header = json.loads(b64url_decode(token.split(".")[0]))
    header["kid"] = jwk_thumbprint(ANCHOR_KEY.public_key())
    _, payload, signature = token.split(".")
    with pytest.raises(StatementSignatureError, match="does not verify"):
        _verify(f"{b64url_encode(json.dumps(header).encode())}.{payload}.{signature}")


def test_a_kid_missing_from_the_trusted_key_set_is_refused() -> None:
    token = sign_entity_statement(_claims(), generate_private_key())
    with pytest.raises(StatementSignatureError, match="not in the issuer's vouched key set"):
        _verify(token)


def test_a_signature_of_the_wrong_length_is_refused() -> None:
    token = sign_entity_statement(_claims(), ANCHOR_KEY)
    head, payload, _ = token.split(".")
    with pytest.raises(StatementSignatureError, match="64 bytes"):
        _verify(f"{head}.{payload}.{b64url_encode(b'x' * 63)}")


def test_a_non_ed25519_key_in_the_set_cannot_verify() -> None:
    jwks = {
        "keys": [{"kty": "RSA", "kid": jwk_thumbprint(ANCHOR_KEY.public_key()), "n": "AQAB", "e": "AQAB"}]
    }
    token = sign_entity_statement(_claims(), ANCHOR_KEY)
    with pytest.raises(StatementSignatureError, match="not an Ed25519 key"):
        verify_entity_statement(token, jwks, NOW)


def test_a_key_declared_for_another_algorithm_cannot_verify() -> None:
    jwk = {**federation_jwk(ANCHOR_KEY.public_key()), "alg": "RS256"}
    with pytest.raises(StatementSignatureError, match="not declared for EdDSA"):
        verify_entity_statement(sign_entity_statement(_claims(), ANCHOR_KEY), {"keys": [jwk]}, NOW)


# --- algorithm and type confusion (§3, §3.5 steps 1-3) ----------------------------------------


def test_alg_none_is_refused() -> None:
    header = b64url_encode(json.dumps({"alg": "none", "typ": ENTITY_STATEMENT_TYPE, "kid": "k"}).encode())
    payload = b64url_encode(json.dumps(_claims()).encode())
    with pytest.raises(StatementError, match="three non-empty segments"):
        _verify(f"{header}.{payload}.")
    with pytest.raises(StatementError, match="algorithm 'none' is not accepted"):
        _verify(f"{header}.{payload}.{b64url_encode(b'x' * 64)}")


def test_hs256_keyed_with_the_public_key_is_refused() -> None:
    """The classic confusion: an HMAC keyed with the bytes of the public key."""
    header = b64url_encode(
        json.dumps(
            {"alg": "HS256", "typ": ENTITY_STATEMENT_TYPE, "kid": jwk_thumbprint(ANCHOR_KEY.public_key())}
        ).encode()
    )
    payload = b64url_encode(json.dumps(_claims()).encode())
    mac = hmac.new(
        public_key_raw(ANCHOR_KEY.public_key()), f"{header}.{payload}".encode(), hashlib.sha256
    ).digest()
    with pytest.raises(StatementError, match="algorithm 'HS256' is not accepted"):
        _verify(f"{header}.{payload}.{b64url_encode(mac)}")


@pytest.mark.parametrize("alg", ["ES256", "RS256", "eddsa", None, 1])
def test_other_algorithms_are_refused(alg: Any) -> None:
    with pytest.raises(StatementError, match="is not accepted"):
        _verify(_raw_jws(_header(alg=alg), _claims()))


def test_the_fully_specified_ed25519_alg_is_accepted() -> None:
    assert _verify(_raw_jws(_header(alg="Ed25519"), _claims())).sub == JIANGSU


@pytest.mark.parametrize("typ", [None, "JWT", "jwk-set+jwt", "trust-mark+jwt", "entity-statement", ""])
def test_a_missing_or_wrong_typ_is_refused(typ: Any) -> None:
    """§3: statements without typ or with another typ MUST be rejected."""
    with pytest.raises(StatementError, match="typ must be 'entity-statement\\+jwt'"):
        _verify(_raw_jws(_header(typ=typ), _claims()))


@pytest.mark.parametrize("typ", ["application/entity-statement+jwt", "Entity-Statement+JWT"])
def test_typ_is_a_case_insensitive_media_type(typ: str) -> None:
    """RFC 7515 §4.1.9."""
    assert _verify(_raw_jws(_header(typ=typ), _claims())).iss == ANCHOR


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (_header(kid=None), "no kid"),
        (_header(kid=""), "no kid"),
        (_header(crit=["exp"]), "not accepted"),
        (_header(trust_chain=["a.b.c"]), "not accepted"),
        (_header(jwk=federation_jwk(ANCHOR_KEY.public_key())), "not accepted"),
        (_header(b64=False), "b64=false"),
    ],
)
def test_header_problems_are_refused(header: dict[str, Any], message: str) -> None:
    """§3: kid is required; §4.3: no trust_chain header on statements; keys never come from
    the token itself."""
    with pytest.raises(StatementError, match=message):
        _verify(_raw_jws(header, _claims()))


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "a..c", "é.b.c", "!!!.b.c", "x" * (256 * 1024 + 1)],
)
def test_malformed_compact_serialisations_are_refused(token: str) -> None:
    with pytest.raises(StatementError):
        _verify(token)


def test_duplicate_member_names_in_the_payload_are_refused() -> None:
    """Two parsers could read two different statements from one signature."""
    claims = json.dumps(_claims())
    payload = (claims[:-1] + ', "sub": "https://evil.example"}').encode()
    with pytest.raises(StatementError, match="duplicate"):
        _verify(_raw_jws(_header(), payload))


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(StatementError, match="not a JSON object"):
        _verify(_raw_jws(_header(), b"[1,2]"))


# --- time (§3.5 steps 7-8) -------------------------------------------------------------------


def test_an_expired_statement_is_refused() -> None:
    token = _raw_jws(_header(), _claims(exp=int((NOW - timedelta(seconds=1)).timestamp())))
    with pytest.raises(StatementTimeError, match="expired"):
        _verify(token)


def test_exp_equal_to_now_is_expired_and_gets_no_leeway() -> None:
    token = _raw_jws(_header(), _claims(exp=int(NOW.timestamp())))
    with pytest.raises(StatementTimeError, match="expired"):
        _verify(token)
    assert verify_entity_statement(token, ANCHOR_JWKS, NOW - timedelta(seconds=1)).sub == JIANGSU


def test_a_statement_issued_in_the_future_is_refused_beyond_the_leeway() -> None:
    future = _raw_jws(_header(), _claims(iat=int((NOW + DEFAULT_LEEWAY + timedelta(seconds=1)).timestamp())))
    with pytest.raises(StatementTimeError, match="issued in the future"):
        _verify(future)
    within = _raw_jws(_header(), _claims(iat=int((NOW + DEFAULT_LEEWAY).timestamp())))
    assert _verify(within).sub == JIANGSU
    with pytest.raises(StatementTimeError, match="issued in the future"):
        _verify(within, leeway=timedelta(0))


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(FederationError, match="time zone"):
        verify_entity_statement(_raw_jws(_header(), _claims()), ANCHOR_JWKS, NOW.replace(tzinfo=None))


# --- claims (§3.1-§3.5) ------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["iss", "sub", "iat", "exp", "jwks"])
def test_each_required_claim_is_required(missing: str) -> None:
    with pytest.raises(StatementError):
        _verify(_raw_jws(_header(), {k: v for k, v in _claims().items() if k != missing}))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"iat": True}, "iat claim must be a NumericDate"),
        ({"exp": "2026-12-01"}, "exp claim must be a NumericDate"),
        ({"iss": "http://anchor.yrd.example"}, "iss must use https"),
        ({"sub": "https://js.yrd.example/?x=1"}, "sub must not contain a query"),
        ({"sub": "https://js.yrd.example/#frag"}, "sub must not contain a fragment"),
        ({"sub": "https://user@js.yrd.example"}, "user information"),
        ({"sub": "js.yrd.example"}, "no host"),
        ({"jwks": {"keys": []}}, "non-empty 'keys' array"),
        ({"jwks": {"keys": [{"kty": "OKP"}]}}, "non-empty 'kid'"),
        ({"jwks": {"keys": [federation_jwk(JIANGSU_KEY.public_key())] * 2}}, "two keys with kid"),
        (
            {"jwks": {"keys": [{**federation_jwk(JIANGSU_KEY.public_key()), "d": "AAAA"}]}},
            "private or symmetric key material",
        ),
        ({"jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "k"}]}}, "key 'k' in jwks"),
        ({"metadata": {"credential_issuer": {"did": None}}}, "null"),
        ({"metadata": {"credential_issuer": []}}, "must be a JSON object"),
        ({"authority_hints": [ANCHOR]}, "must not appear in a Subordinate Statement"),
        ({"trust_marks": []}, "must not appear in a Subordinate Statement"),
        ({"trust_anchor": ANCHOR}, "Explicit Registration"),
        ({"constraints": {"max_path_length": -1}}, "max_path_length"),
        ({"constraints": {"max_path_length": True}}, "max_path_length"),
        ({"constraints": {"allowed_entity_types": ["federation_entity"]}}, "federation_entity"),
        ({"constraints": {"naming_constraints": {"permitted": "js.yrd.example"}}}, "permitted"),
        ({"source_endpoint": "http://anchor.yrd.example/fetch"}, "https"),
    ],
)
def test_malformed_or_misplaced_claims_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(StatementError, match=message):
        _verify(_raw_jws(_header(), _claims(**overrides)))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"metadata_policy": {"t": {"p": {"value": "a"}}}}, "must not appear in an Entity Configuration"),
        ({"constraints": {}}, "must not appear in an Entity Configuration"),
        ({"metadata_policy_crit": ["regexp"]}, "must not appear in an Entity Configuration"),
        ({"source_endpoint": ANCHOR + "/fetch"}, "must not appear in an Entity Configuration"),
        ({"authority_hints": []}, "non-empty array"),
        ({"authority_hints": [ANCHOR, ANCHOR]}, "twice"),
        ({"authority_hints": [JIANGSU]}, "its own authority"),
        ({"authority_hints": ["http://anchor.yrd.example"]}, "https"),
    ],
)
def test_configuration_claims_are_checked(claims: dict[str, Any], message: str) -> None:
    token = _raw_jws(
        {**_header(), "kid": jwk_thumbprint(JIANGSU_KEY.public_key())},
        _claims(iss=JIANGSU, sub=JIANGSU, **claims),
        JIANGSU_KEY,
    )
    with pytest.raises(StatementError, match=message):
        verify_entity_configuration(token, JIANGSU, NOW)


def test_unknown_critical_claim_is_refused_and_an_understood_one_accepted() -> None:
    """§3.1 ``crit``, §3.5 step 13, §13.4."""
    token = _raw_jws(_header(), _claims(crit=["jti"], jti="7l2lncFdY6SlhNia"))
    with pytest.raises(StatementError, match=r"critical claim\(s\) \['jti'\] are not understood"):
        _verify(token)
    assert _verify(token, understood_claims={"jti"}).claims["jti"] == "7l2lncFdY6SlhNia"


def test_unknown_non_critical_claims_are_accepted() -> None:
    assert _verify(_raw_jws(_header(), _claims(jti="x"))).claims["jti"] == "x"


@pytest.mark.parametrize(
    ("crit", "message"),
    [
        ([], "non-empty array"),
        (["jti", "jti"], "twice"),
        (["exp"], "defined by the specification"),
        (["metadata_policy"], "defined by the specification"),
        (["absent"], "not present"),
        ("jti", "non-empty array"),
    ],
)
def test_malformed_crit_is_refused(crit: Any, message: str) -> None:
    with pytest.raises(StatementError, match=message):
        _verify(_raw_jws(_header(), _claims(crit=crit, jti="x")), understood_claims={"jti", "absent"})


def test_critical_policy_operators_not_understood_are_a_policy_error() -> None:
    """§3.3 ``metadata_policy_crit``: the statement and any chain with it are invalid."""
    token = _raw_jws(
        _header(),
        _claims(metadata_policy_crit=["regexp"], metadata_policy={"t": {"p": {"essential": True}}}),
    )
    with pytest.raises(PolicyError, match="'regexp'"):
        _verify(token)


def test_a_malformed_metadata_policy_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="'one_of' cannot be combined"):
        _verify(
            _raw_jws(_header(), _claims(metadata_policy={"t": {"p": {"one_of": ["a"], "subset_of": ["a"]}}}))
        )


def test_expected_issuer_and_subject_are_enforced() -> None:
    token = _raw_jws(_header(), _claims())
    with pytest.raises(StatementError, match=r"not by https://other\.example"):
        _verify(token, issuer="https://other.example")
    with pytest.raises(StatementError, match=r"not about https://other\.example"):
        _verify(token, subject="https://other.example")


def test_verify_entity_configuration_requires_iss_and_sub_to_name_the_entity() -> None:
    token = sign_entity_statement(_claims(), ANCHOR_KEY)  # a subordinate statement
    with pytest.raises(StatementError, match="not the Entity Configuration of"):
        verify_entity_configuration(token, JIANGSU, NOW)


def test_unverified_claims_read_without_a_key_but_still_check_the_header() -> None:
    token = sign_entity_statement(_claims(), generate_private_key())
    assert unverified_claims(token)["sub"] == JIANGSU
    with pytest.raises(StatementError, match="typ"):
        unverified_claims(_raw_jws(_header(typ="JWT"), _claims()))


# --- Entity Identifiers and derived URLs (§1.2, §8.1.1, §9) --------------------------------------


@pytest.mark.parametrize(
    "value",
    ["https://js.yrd.example", "https://js.yrd.example:8443/node", "https://js.yrd.example/"],
)
def test_valid_entity_identifiers(value: str) -> None:
    assert check_entity_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "http://js.yrd.example",
        "ftp://js.yrd.example",
        "https://",
        "https://js.yrd.example?",
        "https://js.yrd.example:99999",
        "https://js.yrd.example/ path",
        "https://江苏.example",
        "",
        None,
        42,
    ],
)
def test_invalid_entity_identifiers(value: Any) -> None:
    with pytest.raises(StatementError):
        check_entity_id(value)


@pytest.mark.parametrize(
    "value", ["http://127.0.0.1:8001", "http://localhost:8001/node", "http://[::1]:8001"]
)
def test_http_is_allowed_on_loopback_only_when_asked(value: str) -> None:
    with pytest.raises(StatementError, match="https"):
        check_entity_id(value)
    assert check_entity_id(value, allow_http_loopback=True) == value


def test_http_loopback_option_never_admits_other_hosts() -> None:
    for value in ("http://10.0.0.1", "http://js.yrd.example", "http://127.0.0.1.evil.example"):
        with pytest.raises(StatementError, match="https"):
            check_entity_id(value, allow_http_loopback=True)


def test_a_statement_between_loopback_entities_verifies_only_with_the_option() -> None:
    token = _raw_jws(_header(), _claims(iss="http://127.0.0.1:8000", sub="http://127.0.0.1:8001"))
    with pytest.raises(StatementError, match="https"):
        _verify(token)
    assert _verify(token, allow_http_loopback=True).sub == "http://127.0.0.1:8001"


def test_configuration_and_fetch_urls() -> None:
    """§9: a trailing "/" is removed before the well-known path; §8.1.1: ``sub`` is
    form-encoded, after any query the endpoint has."""
    assert (
        entity_configuration_url("https://js.yrd.example")
        == "https://js.yrd.example/.well-known/openid-federation"
    )
    assert entity_configuration_url("https://js.yrd.example/node/") == (
        "https://js.yrd.example/node/.well-known/openid-federation"
    )
    assert fetch_statement_url("https://anchor.yrd.example/fetch", JIANGSU) == (
        "https://anchor.yrd.example/fetch?sub=https%3A%2F%2Fjs.yrd.example"
    )
    assert fetch_statement_url("https://anchor.yrd.example/api?op=fetch", JIANGSU) == (
        "https://anchor.yrd.example/api?op=fetch&sub=https%3A%2F%2Fjs.yrd.example"
    )
    assert check_endpoint_url("https://anchor.yrd.example/api?op=fetch", "endpoint")
    with pytest.raises(StatementError, match="fragment"):
        check_endpoint_url("https://anchor.yrd.example/fetch#x", "endpoint")


@pytest.mark.parametrize(
    ("host", "constraint", "expected"),
    [
        ("host.example.com", ".example.com", True),
        ("my.host.example.com", ".example.com", True),
        ("example.com", ".example.com", False),
        ("evilexample.com", ".example.com", False),
        ("host.example.com", "host.example.com", True),
        ("HOST.Example.com", "host.example.COM", True),
        ("my.host.example.com", "host.example.com", False),
    ],
)
def test_naming_constraint_host_matching(host: str, constraint: str, expected: bool) -> None:
    """§6.2.2, the spec's own examples of RFC 5280 §4.2.1.10 domain constraints."""
    assert host_matches(host, constraint) is expected


# --- the package and its errors -----------------------------------------------------------------


FEDERATION_ERRORS = [
    e for e in vars(federation_errors).values() if isinstance(e, type) and issubclass(e, FederationError)
]


@pytest.mark.parametrize("error", FEDERATION_ERRORS, ids=lambda e: e.__name__)
def test_every_federation_error_is_a_registry_error_with_a_slug(error: type[FederationError]) -> None:
    assert issubclass(error, RegistryError)
    assert error.slug
    assert error.slug != RegistryError.slug
    assert error.title
    assert 400 <= error.status < 600
    assert error.__name__ in (federation_errors.__doc__ or "")


def test_federation_slugs_are_unique_across_the_registry() -> None:
    def subclasses(cls: type[RegistryError]) -> list[type[RegistryError]]:
        return [cls, *(found for sub in cls.__subclasses__() for found in subclasses(sub))]

    slugs = [e.slug for e in subclasses(RegistryError)]
    federation_slugs = [e.slug for e in FEDERATION_ERRORS]
    assert len(set(federation_slugs)) == len(federation_slugs)
    for slug in federation_slugs:
        assert slugs.count(slug) == 1, slug


#: The pure core; the peer client and the routes beside it in the package use the network.
PURE_MODULES = (
    "errors",
    "identifiers",
    "jws",
    "statements",
    "policy",
    "constraints",
    "chain",
    "historical_keys",
    "metadata",
    "entity",
)


def test_federation_core_is_pure() -> None:
    """No web framework, database or HTTP client in the pure core (STYLE.md)."""
    package = Path(registry.federation.__file__).parent
    assert all((package / f"{name}.py").exists() for name in PURE_MODULES)
    code = (
        "import sys\n"
        + "".join(f"import registry.federation.{name}\n" for name in PURE_MODULES)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'sqlmodel', 'sqlalchemy', 'httpx', 'httpcore', 'uvicorn', "
        "'pydantic', 'requests'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"the federation core imports {result.stdout.strip()}"
