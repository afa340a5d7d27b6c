"""SD-JWT (RFC 9901) and SD-JWT VC (draft-ietf-oauth-sd-jwt-vc), the pure module.

The IETF examples in ../shared/vectors/sd-jwt-vc (P-256 issuer and holder keys in
settings.yml) are verified as published; then every rule of RFC 9901 §7.1 and §7.3
that a forger could break is broken once, and must be refused."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from registry.signing import sd_jwt
from registry.signing.encoding import b64url_decode, b64url_encode
from registry.signing.errors import InvalidSignatureError, KeyMaterialError, TokenFormatError
from registry.signing.keys import generate_private_key
from tests.conftest import load_vector_json, vector_path

AUDIENCE = "https://example.com/verifier"
NONCE = "1234567890"


def _settings_key(name: str) -> dict[str, str]:
    text = vector_path("sd-jwt-vc", "settings.yml").read_text(encoding="utf-8")
    block = text.split(f"{name}:", 1)[1]
    return {m: re.search(rf"\b{m}: (\S+)", block).group(1) for m in ("kty", "crv", "x", "y", "d")}  # type: ignore[union-attr]


def issuer_key() -> ec.EllipticCurvePublicKey:
    key = sd_jwt.private_key_of_jwk(_settings_key("issuer_key"))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key.public_key()


def holder_private() -> sd_jwt.PrivateKey:
    return sd_jwt.private_key_of_jwk(_settings_key("holder_key"))


def text(example: str, name: str) -> str:
    return vector_path("sd-jwt-vc", example, name).read_text(encoding="ascii").strip()


def kb_time(example: str) -> datetime:
    return datetime.fromtimestamp(load_vector_json("sd-jwt-vc", example, "kb_jwt_payload.json")["iat"], UTC)


def verify_example(token: str, example: str = "01", **kwargs: Any) -> sd_jwt.Verified:
    kwargs.setdefault("key_binding", sd_jwt.KeyBinding(AUDIENCE, NONCE))
    return sd_jwt.verify(token, lambda header: issuer_key(), kb_time(example), **kwargs)


# --- the published examples -----------------------------------------------------------


@pytest.mark.parametrize("example", ["01", "03-pid"])
def test_presentation_with_key_binding_gives_the_verified_contents(example: str) -> None:
    """RFC 9901 §7.1 and §7.3 over the examples with a KB-JWT."""
    verified = verify_example(text(example, "sd_jwt_presentation.txt"), example)
    assert verified.claims == load_vector_json("sd-jwt-vc", example, "verified_contents.json")
    assert verified.key_binding == load_vector_json("sd-jwt-vc", example, "kb_jwt_payload.json")
    assert verified.header["typ"] == "dc+sd-jwt"


def test_presentation_without_key_binding() -> None:
    verified = verify_example(text("02", "sd_jwt_presentation.txt"), "01", key_binding=None)
    assert verified.claims == load_vector_json("sd-jwt-vc", "02", "verified_contents.json")
    assert verified.key_binding is None


def test_issued_sd_jwt_with_every_disclosure_gives_the_user_claims() -> None:
    verified = verify_example(text("01", "sd_jwt_issuance.txt"), key_binding=None)
    claims = dict(verified.claims)
    for registered in ("iss", "iat", "exp", "cnf"):
        claims.pop(registered, None)
    assert claims == load_vector_json("sd-jwt-vc", "01", "user_claims.json")


def test_kb_jwt_sd_hash_matches_the_example() -> None:
    """RFC 9901 §4.3.1: sd_hash is over the presented SD-JWT up to the last '~'."""
    presentation = text("01", "sd_jwt_presentation.txt")
    parts = sd_jwt.split(presentation)
    assert parts.kb_jwt == text("01", "kb_jwt_serialized.txt")
    assert (
        sd_jwt.sd_hash(parts.sd_jwt) == load_vector_json("sd-jwt-vc", "01", "kb_jwt_payload.json")["sd_hash"]
    )


def test_a_disclosure_digest_matches_the_example() -> None:
    markdown = vector_path("sd-jwt-vc", "01", "disclosures.md").read_text(encoding="utf-8")
    block = markdown.split("__Claim `given_name`__:", 1)[1].split("__Claim", 1)[0]
    expected = re.search(r"SHA-256 Hash: `([^`]+)`", block).group(1)  # type: ignore[union-attr]
    encoded = "".join(re.findall(r"`([A-Za-z0-9_-]+)`\\?\n", block.split("Disclosure:", 1)[1]))
    assert sd_jwt.digest(encoded) == expected
    assert sd_jwt.read_disclosure(encoded).name == "given_name"


# --- what a forger or a careless holder might send ----------------------------------------


def presentation01() -> str:
    return text("01", "sd_jwt_presentation.txt")


def test_a_changed_disclosure_is_refused() -> None:
    """§7.1 step 3: a disclosure whose digest the issuer did not sign is not referenced."""
    parts = sd_jwt.split(presentation01())
    changed = json.loads(b64url_decode(parts.disclosures[0]))
    changed[-1] = "somewhere else"
    forged = sd_jwt.make_disclosure(changed[1], changed[2], changed[0])
    token = parts.jwt + "~" + forged + "~" + "".join(d + "~" for d in parts.disclosures[1:])
    with pytest.raises(TokenFormatError, match="not referenced"):
        verify_example(token, key_binding=None)


def test_a_disclosure_presented_twice_is_refused() -> None:
    parts = sd_jwt.split(presentation01())
    token = parts.jwt + "~" + "".join(d + "~" for d in (*parts.disclosures, parts.disclosures[0]))
    with pytest.raises(TokenFormatError, match="twice"):
        verify_example(token, key_binding=None)


def _self_issued(claims: dict[str, Any], disclosures: list[str], key: Any = None) -> tuple[str, Any]:
    key = key or generate_private_key()
    token = sd_jwt.issue({"typ": "dc+sd-jwt"}, claims, disclosures, key)
    return token, key.public_key()


def _verify_own(token: str, public: Any, **kwargs: Any) -> sd_jwt.Verified:
    return sd_jwt.verify(token, lambda header: public, datetime(2026, 11, 30, tzinfo=UTC), **kwargs)


def test_a_disclosure_may_not_overwrite_a_signed_claim() -> None:
    """§7.1 step 3.2.2.2: the claim name must not already exist at that level."""
    disclosure = sd_jwt.make_disclosure("name", "Mallory")
    token, public = _self_issued(
        {"vct": "v", "name": "Alice", "_sd": [sd_jwt.digest(disclosure)]}, [disclosure]
    )
    with pytest.raises(TokenFormatError, match="already exists"):
        _verify_own(token, public)


@pytest.mark.parametrize("name", ["_sd", "..."])
def test_a_disclosure_may_not_name_sd_or_ellipsis(name: str) -> None:
    disclosure = sd_jwt.make_disclosure("x", 1)
    raw = b64url_encode(json.dumps(["salt", name, 1]).encode())
    token, public = _self_issued({"vct": "v", "_sd": [sd_jwt.digest(raw), sd_jwt.digest(disclosure)]}, [raw])
    with pytest.raises(TokenFormatError, match="may not name"):
        _verify_own(token, public)


def test_a_digest_used_twice_is_refused() -> None:
    disclosure = sd_jwt.make_disclosure("a", 1)
    d = sd_jwt.digest(disclosure)
    token, public = _self_issued({"vct": "v", "_sd": [d], "nested": {"_sd": [d]}}, [disclosure])
    with pytest.raises(TokenFormatError, match="more than once"):
        _verify_own(token, public)


def test_array_and_object_disclosures_are_not_interchangeable() -> None:
    element = sd_jwt.make_disclosure(None, "x")
    token, public = _self_issued({"vct": "v", "_sd": [sd_jwt.digest(element)]}, [element])
    with pytest.raises(TokenFormatError, match="array-element disclosure"):
        _verify_own(token, public)
    member = sd_jwt.make_disclosure("m", "x")
    token, public = _self_issued({"vct": "v", "list": [{"...": sd_jwt.digest(member)}]}, [member])
    with pytest.raises(TokenFormatError, match="object-member disclosure"):
        _verify_own(token, public)


@pytest.mark.parametrize("claim", sorted(sd_jwt.NEVER_DISCLOSED - {"vct"}))
def test_sd_jwt_vc_claims_that_are_never_selectively_disclosed(claim: str) -> None:
    """SD-JWT VC §3.2.2: iss, nbf, exp, cnf, vct#integrity and status are plain."""
    disclosure = sd_jwt.make_disclosure(claim, "x")
    token, public = _self_issued({"vct": "v", "_sd": [sd_jwt.digest(disclosure)]}, [disclosure])
    with pytest.raises(TokenFormatError, match="may not be selectively disclosed"):
        _verify_own(token, public)
    with pytest.raises(TokenFormatError, match="never selectively disclosed"):
        sd_jwt.conceal({"vct": "v", claim: "x"}, [claim])


def test_vct_is_required() -> None:
    token, public = _self_issued({"iss": "x"}, [])
    with pytest.raises(TokenFormatError, match="vct"):
        _verify_own(token, public)


def test_a_plain_jwt_typ_is_refused() -> None:
    key = generate_private_key()
    token = sd_jwt.issue({"typ": "JWT"}, {"vct": "v"}, [], key)
    with pytest.raises(TokenFormatError, match="typ"):
        _verify_own(token, key.public_key())


def test_a_tampered_issuer_signature_is_refused() -> None:
    parts = sd_jwt.split(presentation01())
    head, body, signature = parts.jwt.split(".")
    payload = json.loads(b64url_decode(body))
    payload["exp"] = payload["exp"] + 1
    token = f"{head}.{b64url_encode(json.dumps(payload).encode())}.{signature}~" + "".join(
        d + "~" for d in parts.disclosures
    )
    with pytest.raises(InvalidSignatureError):
        verify_example(token, key_binding=None)


@pytest.mark.parametrize("alg", ["none", "HS256", "EdDSA", "ES384"])
def test_the_algorithm_comes_from_the_key_not_the_header(alg: str) -> None:
    """A P-256 issuer key accepts ES256 only: alg=none, HMAC and the others are refused."""
    parts = sd_jwt.split(text("02", "sd_jwt_presentation.txt"))
    head, body, signature = parts.jwt.split(".")
    header = json.loads(b64url_decode(head))
    header["alg"] = alg
    token = f"{b64url_encode(json.dumps(header).encode())}.{body}.{signature}~"
    with pytest.raises(TokenFormatError, match="algorithm"):
        verify_example(token, key_binding=None)


def test_the_example_expired_after_its_exp() -> None:
    token = text("02", "sd_jwt_presentation.txt")
    with pytest.raises(TokenFormatError, match="expired"):
        sd_jwt.verify(token, lambda header: issuer_key(), datetime(2030, 1, 1, tzinfo=UTC))


# --- key binding (§7.3) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        (sd_jwt.KeyBinding("https://other.example", NONCE), "audience"),
        (sd_jwt.KeyBinding(AUDIENCE, "another-nonce"), "nonce"),
    ],
)
def test_key_binding_for_another_verifier_or_nonce_is_refused(
    expected: sd_jwt.KeyBinding, message: str
) -> None:
    with pytest.raises(TokenFormatError, match=message):
        verify_example(presentation01(), key_binding=expected)


def test_an_old_key_binding_is_refused() -> None:
    token = presentation01()
    with pytest.raises(TokenFormatError, match="too old"):
        sd_jwt.verify(
            token,
            lambda h: issuer_key(),
            kb_time("01") + timedelta(hours=1),
            key_binding=sd_jwt.KeyBinding(AUDIENCE, NONCE),
        )


def test_key_binding_over_other_disclosures_is_refused() -> None:
    """sd_hash binds the KB-JWT to the disclosures shown: dropping one breaks it."""
    parts = sd_jwt.split(presentation01())
    token = parts.jwt + "~" + parts.disclosures[0] + "~" + parts.kb_jwt
    with pytest.raises(TokenFormatError, match="sd_hash"):
        verify_example(token)


def test_key_binding_by_another_key_is_refused() -> None:
    parts = sd_jwt.split(presentation01())
    other = ec.generate_private_key(ec.SECP256R1())
    forged = sd_jwt.sign_compact(
        {"typ": "kb+jwt"},
        {
            "aud": AUDIENCE,
            "nonce": NONCE,
            "iat": int(kb_time("01").timestamp()),
            "sd_hash": sd_jwt.sd_hash(parts.sd_jwt),
        },
        other,
    )
    with pytest.raises(InvalidSignatureError):
        verify_example(parts.sd_jwt + forged)


def test_key_binding_required_but_absent() -> None:
    with pytest.raises(TokenFormatError, match="without a key-binding"):
        verify_example(text("02", "sd_jwt_presentation.txt"))


def test_a_kb_jwt_typ_other_than_kb_jwt_is_refused() -> None:
    parts = sd_jwt.split(presentation01())
    forged = sd_jwt.sign_compact(
        {"typ": "JWT"},
        {
            "aud": AUDIENCE,
            "nonce": NONCE,
            "iat": int(kb_time("01").timestamp()),
            "sd_hash": sd_jwt.sd_hash(parts.sd_jwt),
        },
        holder_private(),
    )
    with pytest.raises(TokenFormatError, match="typ"):
        verify_example(parts.sd_jwt + forged)


# --- issue and present with this module --------------------------------------------------


@pytest.mark.parametrize("holder_kind", ["p-256", "ed25519"])
def test_issue_then_present_part_with_key_binding(holder_kind: str) -> None:
    issuer = generate_private_key()
    holder: Any = (
        ec.generate_private_key(ec.SECP256R1()) if holder_kind == "p-256" else generate_private_key()
    )
    claims = {
        "iss": "did:web:example",
        "vct": "https://example/vct",
        "cnf": {"jwk": sd_jwt.public_jwk(holder.public_key())},
        "name": "张三",
        "certificateNumber": "32-2026-0000001",
        "title": {"code": "engineering-senior"},
    }
    payload, disclosures = sd_jwt.conceal(claims, ["name", "certificateNumber"], decoys=3)
    assert len(payload["_sd"]) == 5
    assert "name" not in payload
    token = sd_jwt.issue({"typ": "dc+sd-jwt", "kid": "did:web:example#k"}, payload, disclosures, issuer)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    shown = sd_jwt.present(
        token,
        lambda d: d.name == "certificateNumber",
        holder,
        audience="hr",
        nonce="n-1",
        iat=int(now.timestamp()),
    )
    verified = sd_jwt.verify(
        shown,
        lambda h: issuer.public_key(),
        now,
        key_binding=sd_jwt.KeyBinding("hr", "n-1"),
        require_key_binding=True,
    )
    assert verified.claims["certificateNumber"] == "32-2026-0000001"
    assert "name" not in verified.claims
    assert "_sd" not in verified.claims
    assert "_sd_alg" not in verified.claims
    assert verified.claims["title"] == {"code": "engineering-senior"}


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "P-256", "x": b64url_encode(b"\x01" * 32), "y": b64url_encode(b"\x02" * 32)},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "RSA", "n": "AA", "e": "AQAB"},
        {**_settings_key.__wrapped__("holder_key")}
        if hasattr(_settings_key, "__wrapped__")
        else {"kty": "EC", "d": "x"},
    ],
    ids=["off-curve", "p-384", "rsa", "private"],
)
def test_unusable_holder_keys_are_refused(jwk: dict[str, str]) -> None:
    with pytest.raises(KeyMaterialError):
        sd_jwt.public_key_of_jwk(jwk)


@pytest.mark.parametrize(
    "token",
    ["", "no-tilde", "a.b.c~~", "~", "é.b.c~"],
    ids=["empty", "no-separator", "empty-disclosure", "empty-jwt", "not-ascii"],
)
def test_malformed_sd_jwts_are_refused(token: str) -> None:
    with pytest.raises(TokenFormatError):
        sd_jwt.split(token)
