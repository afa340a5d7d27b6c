"""VC-JOSE (``application/vc+jwt``): round trips, PyJWT interop, algorithm confusion,
tampering, strict compact-JWS parsing, claim checks against an injected clock, and the
shape of every error raised."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.credentials.sample import sample_title_credential
from registry.errors import RegistryError
from registry.signing.did import DidResolver, VerificationMethod
from registry.signing.encoding import b64url_decode, b64url_encode
from registry.signing.errors import (
    CanonicalizationError,
    InvalidSignatureError,
    IssuerMismatchError,
    KeyMaterialError,
    ProofConfigurationError,
    ResolutionError,
    SigningError,
    TokenFormatError,
    VerificationError,
)
from registry.signing.jose import (
    ACCEPTED_ALGORITHMS,
    MAX_TOKEN_BYTES,
    VC_JWT_TYPES,
    sign_jws,
    sign_vc_jwt,
    verify_jws,
    verify_vc_jwt,
)
from registry.signing.keys import (
    Ed25519PrivateKey,
    public_key_raw,
    public_key_to_jwk,
    public_key_to_multikey,
)
from tests.conftest import NOW, DidKeyIssuer

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
BASE_URL = "https://registry.js.example"
LEEWAY = timedelta(minutes=5)

# A fixed key for the hypothesis test (function-scoped fixtures do not mix with @given).
FIXED_ISSUER = DidKeyIssuer(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


# --- helpers -------------------------------------------------------------------------


def credential_for(issuer_did: str, **extra: Any) -> dict[str, Any]:
    credential = sample_title_credential(issuer_did, BASE_URL, NOW - timedelta(days=30))
    credential.update(extra)
    return credential


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def segment(value: Any) -> str:
    """base64url of JSON (or of raw bytes / text given as is)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        value = compact(value)
    return b64url_encode(value)


def vc_header(kid: str, /, **extra: Any) -> dict[str, Any]:
    return {"alg": "EdDSA", "typ": "vc+jwt", "cty": "vc", "kid": kid, **extra}


def sign_segments(header_seg: str, payload_seg: str, key: Ed25519PrivateKey) -> str:
    """Sign the exact bytes ``header_seg '.' payload_seg`` (whatever their spelling)."""
    signature = key.sign(f"{header_seg}.{payload_seg}".encode())
    return f"{header_seg}.{payload_seg}.{b64url_encode(signature)}"


def forge(header: Any, payload: Any, key: Ed25519PrivateKey) -> str:
    return sign_segments(segment(header), segment(payload), key)


def hs256(header: Mapping[str, Any], payload: Any, secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


def split(token: str) -> list[str]:
    parts = token.split(".")
    assert len(parts) == 3
    return parts


def first(make: Callable[[int], str], predicate: Callable[[str], bool]) -> str:
    """The first ``make(n)`` that satisfies ``predicate`` (deterministic search)."""
    for n in range(512):
        candidate = make(n)
        if predicate(candidate):
            return candidate
    raise AssertionError("no candidate satisfies the predicate")


def lenient_b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def set_trailing_bit(text: str) -> str:
    """The same bytes, spelled with a non-zero spare bit in the last character."""
    assert len(text) % 4 in (2, 3)
    last = B64URL_ALPHABET.index(text[-1])
    assert last % 2 == 0
    spelled = text[:-1] + B64URL_ALPHABET[last + 1]
    assert lenient_b64decode(spelled) == lenient_b64decode(text)
    return spelled


def key_secrets(key: Ed25519PrivateKey) -> list[str]:
    raw = key.private_bytes_raw()
    return [b64url_encode(raw), base64.b64encode(raw).decode(), raw.hex(), raw.hex().upper()]


def assert_safe_error(exc: BaseException, secrets: list[str]) -> None:
    assert isinstance(exc, RegistryError)
    assert isinstance(exc.slug, str)
    assert exc.slug
    assert exc.slug != RegistryError.slug
    assert exc.type_uri.endswith(exc.slug)
    assert isinstance(exc.detail, str)
    assert exc.detail.strip()
    assert str(exc) == exc.detail
    for secret in secrets:
        assert secret not in exc.detail


class SpyResolver:
    """Records every verification method id it is asked for."""

    def __init__(self, inner: DidResolver) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def resolve(self, verification_method_id: str) -> VerificationMethod:
        self.calls.append(verification_method_id)
        return self.inner.resolve(verification_method_id)


Refuse = Callable[..., SigningError]


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture
def credential(issuer: DidKeyIssuer) -> dict[str, Any]:
    return credential_for(issuer.did)


@pytest.fixture
def token(issuer: DidKeyIssuer, credential: dict[str, Any]) -> str:
    return sign_vc_jwt(credential, issuer.key, issuer.vm)


@pytest.fixture
def spy(resolver: DidResolver) -> SpyResolver:
    return SpyResolver(resolver)


@pytest.fixture
def refuse(resolver: DidResolver, now: datetime, issuer: DidKeyIssuer, other_issuer: DidKeyIssuer) -> Refuse:
    """Verify ``token`` expecting ``expected``; check the error is a safe RegistryError."""
    secrets = key_secrets(issuer.key) + key_secrets(other_issuer.key)

    def _refuse(
        token: Any,
        expected: type[SigningError] | tuple[type[SigningError], ...] = TokenFormatError,
        *,
        using: Any = None,
        leeway: timedelta = LEEWAY,
    ) -> SigningError:
        with pytest.raises(expected) as info:
            verify_vc_jwt(token, using or resolver, now, leeway)
        assert_safe_error(info.value, secrets)
        return info.value

    return _refuse


# --- round trip ----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", sorted(ACCEPTED_ALGORITHMS))
def test_round_trip_returns_the_credential(
    issuer: DidKeyIssuer, credential: dict[str, Any], resolver: DidResolver, now: datetime, algorithm: str
) -> None:
    token = sign_vc_jwt(credential, issuer.key, issuer.vm, algorithm=algorithm)
    verified = verify_vc_jwt(token, resolver, now)
    assert verified.payload == credential
    assert verified.header == {"alg": algorithm, "typ": "vc+jwt", "cty": "vc", "kid": issuer.vm}
    assert verified.verification_method.id == issuer.vm
    assert verified.verification_method.controller == issuer.did
    assert public_key_raw(verified.verification_method.public_key) == public_key_raw(issuer.key.public_key())


@pytest.mark.parametrize("algorithm", sorted(ACCEPTED_ALGORITHMS))
def test_signed_header_names_the_algorithm_type_and_kid(
    issuer: DidKeyIssuer, credential: dict[str, Any], algorithm: str
) -> None:
    token = sign_vc_jwt(credential, issuer.key, issuer.vm, algorithm=algorithm)
    header = json.loads(lenient_b64decode(split(token)[0]))
    assert header["alg"] == algorithm
    assert header["typ"] == "vc+jwt"
    assert header["cty"] == "vc"
    assert header["kid"] == issuer.vm
    assert json.loads(lenient_b64decode(split(token)[1])) == credential


def test_token_is_canonical_compact_ascii(token: str) -> None:
    assert token.isascii()
    for part in split(token):
        assert part
        assert set(part) <= set(B64URL_ALPHABET)
        assert b64url_encode(b64url_decode(part)) == part


def test_bytes_token_is_accepted(token: str, resolver: DidResolver, now: datetime) -> None:
    assert verify_vc_jwt(token.encode("ascii"), resolver, now).payload["issuer"]


def test_issuer_given_as_a_plain_string(issuer: DidKeyIssuer, resolver: DidResolver, now: datetime) -> None:
    credential = credential_for(issuer.did, issuer=issuer.did)
    token = sign_vc_jwt(credential, issuer.key, issuer.vm)
    assert verify_vc_jwt(token, resolver, now).payload == credential


def test_signing_is_deterministic(issuer: DidKeyIssuer, credential: dict[str, Any]) -> None:
    assert sign_vc_jwt(credential, issuer.key, issuer.vm) == sign_vc_jwt(credential, issuer.key, issuer.vm)


def test_signing_refuses_other_algorithms(issuer: DidKeyIssuer, credential: dict[str, Any]) -> None:
    for algorithm in ("HS256", "none", "ES256", "eddsa"):
        with pytest.raises(TokenFormatError) as info:
            sign_vc_jwt(credential, issuer.key, issuer.vm, algorithm=algorithm)
        assert_safe_error(info.value, key_secrets(issuer.key))


def test_signing_refuses_a_credential_without_issuer(issuer: DidKeyIssuer) -> None:
    credential = credential_for(issuer.did)
    del credential["issuer"]
    with pytest.raises(ProofConfigurationError) as info:
        sign_vc_jwt(credential, issuer.key, issuer.vm)
    assert_safe_error(info.value, key_secrets(issuer.key))


def test_verify_jws_resolves_a_relative_kid_against_the_default_issuer(
    issuer: DidKeyIssuer, credential: dict[str, Any], spy: SpyResolver
) -> None:
    fragment = "#" + issuer.vm.partition("#")[2]
    token = sign_jws(credential, issuer.key, fragment, "vc+jwt")
    verified = verify_jws(token, spy, VC_JWT_TYPES, "assertionMethod", default_issuer=issuer.did)
    assert spy.calls == [issuer.vm]
    assert verified.payload == credential
    assert verified.header["kid"] == fragment


def test_verify_jws_checks_the_accepted_types(issuer: DidKeyIssuer, resolver: DidResolver) -> None:
    token = sign_jws({"hello": "world"}, issuer.key, issuer.vm, "example+jwt")
    assert verify_jws(token, resolver, frozenset({"example+jwt"}), "assertionMethod").payload == {
        "hello": "world"
    }
    with pytest.raises(TokenFormatError):
        verify_jws(token, resolver, VC_JWT_TYPES, "assertionMethod")


def test_relative_kid_without_default_issuer_is_not_resolvable(
    issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse
) -> None:
    fragment = "#" + issuer.vm.partition("#")[2]
    refuse(sign_jws(credential, issuer.key, fragment, "vc+jwt"), ResolutionError)


def test_naive_now_is_refused(token: str, resolver: DidResolver) -> None:
    with pytest.raises(KeyMaterialError) as info:
        verify_vc_jwt(token, resolver, NOW.replace(tzinfo=None))
    assert_safe_error(info.value, [])


# --- interop with plain PyJWT --------------------------------------------------------


def test_our_token_decodes_with_pyjwt(issuer: DidKeyIssuer, token: str, credential: dict[str, Any]) -> None:
    assert jwt.decode(token, issuer.key.public_key(), algorithms=["EdDSA"]) == credential
    assert jwt.get_unverified_header(token)["typ"] == "vc+jwt"


def test_pyjwt_token_verifies_with_ours(
    issuer: DidKeyIssuer, credential: dict[str, Any], resolver: DidResolver, now: datetime
) -> None:
    # PyJWT escapes non-ASCII (json.dumps ensure_ascii): the strict parser's slow path.
    token = jwt.encode(credential, issuer.key, algorithm="EdDSA", headers={"kid": issuer.vm, "typ": "vc+jwt"})
    verified = verify_vc_jwt(token, resolver, now)
    assert verified.payload == credential
    assert verified.header["alg"] == "EdDSA"
    assert verified.verification_method.id == issuer.vm


def test_pyjwt_token_without_typ_is_refused(
    issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse
) -> None:
    token = jwt.encode(credential, issuer.key, algorithm="EdDSA", headers={"kid": issuer.vm})
    refuse(token)  # PyJWT writes typ "JWT"


def test_application_vc_jwt_typ_is_accepted(
    issuer: DidKeyIssuer, credential: dict[str, Any], resolver: DidResolver, now: datetime
) -> None:
    token = forge(vc_header(issuer.vm, typ="application/vc+jwt"), credential, issuer.key)
    assert verify_vc_jwt(token, resolver, now).payload == credential


def test_whitespace_in_header_json_is_accepted(
    issuer: DidKeyIssuer, credential: dict[str, Any], resolver: DidResolver, now: datetime
) -> None:
    header = json.dumps(vc_header(issuer.vm), indent=2).encode()
    token = forge(header, credential, issuer.key)
    assert verify_vc_jwt(token, resolver, now).payload == credential


# --- algorithm confusion --------------------------------------------------------------


def hmac_secrets(issuer: DidKeyIssuer) -> dict[str, bytes]:
    public = issuer.key.public_key()
    return {
        "raw": public_key_raw(public),
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "multikey": public_key_to_multikey(public).encode(),
        "jwk-x": public_key_to_jwk(public)["x"].encode(),
        "jwk": compact(public_key_to_jwk(public)),
        "did": issuer.did.encode(),
    }


@pytest.mark.parametrize("secret_kind", ["raw", "pem", "der", "multikey", "jwk-x", "jwk", "did"])
@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_keyed_with_the_public_key_is_refused(
    issuer: DidKeyIssuer,
    credential: dict[str, Any],
    spy: SpyResolver,
    refuse: Refuse,
    secret_kind: str,
    alg: str,
) -> None:
    secret = hmac_secrets(issuer)[secret_kind]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    header = vc_header(issuer.vm, alg=alg)
    signing_input = f"{segment(header)}.{segment(credential)}"
    mac = hmac.new(secret, signing_input.encode(), digest).digest()
    refuse(f"{signing_input}.{b64url_encode(mac)}", using=spy)
    assert spy.calls == []  # refused before a key is touched


def test_hmac_forgery_is_a_real_hs256_token(issuer: DidKeyIssuer, credential: dict[str, Any]) -> None:
    """Sanity check of the forging helper: PyJWT accepts it as HS256 with that secret."""
    secret = hmac_secrets(issuer)["raw"]
    token = hs256(vc_header(issuer.vm, alg="HS256"), credential, secret)
    assert jwt.decode(token, secret, algorithms=["HS256"]) == credential


@pytest.mark.parametrize(
    "signature",
    [pytest.param("", id="empty"), "AAAA", "garbage", "x" * 86, pytest.param("ed25519", id="valid-ed25519")],
)
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(
    issuer: DidKeyIssuer,
    credential: dict[str, Any],
    spy: SpyResolver,
    refuse: Refuse,
    alg: str,
    signature: str,
) -> None:
    header_seg, payload_seg = segment(vc_header(issuer.vm, alg=alg)), segment(credential)
    if signature == "ed25519":
        token = sign_segments(header_seg, payload_seg, issuer.key)
    else:
        token = f"{header_seg}.{payload_seg}.{signature}"
    refuse(token, using=spy)
    assert spy.calls == []


def test_unsecured_jwt_with_two_segments_is_refused(
    issuer: DidKeyIssuer, credential: dict[str, Any], spy: SpyResolver, refuse: Refuse
) -> None:
    token = f"{segment(vc_header(issuer.vm, alg='none'))}.{segment(credential)}"
    refuse(token, using=spy)
    refuse(token + ".", using=spy)
    assert spy.calls == []


@pytest.mark.parametrize(
    "alg",
    [
        "ES256",
        "ES256K",
        "RS256",
        "PS256",
        "HS256",
        "EdDSA ",
        " EdDSA",
        "eddsa",
        "EDDSA",
        "ed25519",
        "ED25519",
        "Ed448",
        "",
        None,
        0,
        1,
        True,
        False,
        1.5,
    ],
)
def test_other_algorithms_are_refused_even_with_a_valid_signature(
    issuer: DidKeyIssuer,
    credential: dict[str, Any],
    spy: SpyResolver,
    refuse: Refuse,
    alg: Any,
) -> None:
    token = forge(vc_header(issuer.vm, alg=alg), credential, issuer.key)
    refuse(token, using=spy)
    assert spy.calls == []


def test_missing_alg_is_refused(
    issuer: DidKeyIssuer, credential: dict[str, Any], spy: SpyResolver, refuse: Refuse
) -> None:
    header = vc_header(issuer.vm)
    del header["alg"]
    refuse(forge(header, credential, issuer.key), using=spy)
    assert spy.calls == []


@pytest.mark.parametrize("alg", [["EdDSA"], {"EdDSA": True}, []], ids=["list", "object", "empty-list"])
def test_unhashable_alg_is_a_token_format_error(
    issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse, alg: Any
) -> None:
    refuse(forge(vc_header(issuer.vm, alg=alg), credential, issuer.key))


@pytest.mark.parametrize("typ", [["vc+jwt"], {"vc+jwt": True}], ids=["list", "object"])
def test_unhashable_typ_is_a_token_format_error(
    issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse, typ: Any
) -> None:
    refuse(forge(vc_header(issuer.vm, typ=typ), credential, issuer.key))


@pytest.mark.parametrize("extra", [{"jwk": "public"}, {"jku": "https://evil.example/jwks"}, {"x5u": "x"}])
def test_embedded_key_hints_do_not_choose_the_key(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse, extra: Any
) -> None:
    """A header that carries the attacker's own key is still checked with the kid's key."""
    if "jwk" in extra:
        extra = {"jwk": public_key_to_jwk(other_issuer.key.public_key())}
    token = forge(vc_header(issuer.vm, **extra), credential, other_issuer.key)
    refuse(token, InvalidSignatureError)


# --- tampering -----------------------------------------------------------------------


def flips(text: str) -> Iterator[str]:
    """``text`` with one character replaced: every position, two other alphabet letters."""
    for position, char in enumerate(text):
        index = B64URL_ALPHABET.index(char)
        for step in (1, 32):
            yield text[:position] + B64URL_ALPHABET[(index + step) % 64] + text[position + 1 :]


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        (0, (VerificationError, ResolutionError)),
        (1, InvalidSignatureError),
        (2, (InvalidSignatureError, TokenFormatError)),
    ],
    ids=["header", "payload", "signature"],
)
def test_flipping_any_character_fails(
    token: str, resolver: DidResolver, now: datetime, issuer: DidKeyIssuer, part: int, expected: Any
) -> None:
    parts = split(token)
    secrets = key_secrets(issuer.key)
    checked = 0
    for changed in flips(parts[part]):
        assert changed != parts[part]
        tampered = ".".join([*parts[:part], changed, *parts[part + 1 :]])
        with pytest.raises(expected) as info:
            verify_vc_jwt(tampered, resolver, now)
        assert_safe_error(info.value, secrets)
        checked += 1
    assert checked == 2 * len(parts[part])


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_single_character_substitution_fails(data: st.DataObject) -> None:
    token = sign_vc_jwt(credential_for(FIXED_ISSUER.did), FIXED_ISSUER.key, FIXED_ISSUER.vm)
    position = data.draw(st.integers(0, len(token) - 1), label="position")
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != token[position]))
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(SigningError) as info:
        verify_vc_jwt(tampered, DidResolver(), NOW)
    assert_safe_error(info.value, key_secrets(FIXED_ISSUER.key))


@pytest.mark.parametrize("cut", [1, 2, 4, 43, 85])
def test_truncated_signature_fails(token: str, refuse: Refuse, cut: int) -> None:
    refuse(token[:-cut], (InvalidSignatureError, TokenFormatError))


def test_extended_signature_fails(token: str, refuse: Refuse) -> None:
    refuse(token + "AA", (InvalidSignatureError, TokenFormatError))


def test_signature_of_another_token_fails(
    issuer: DidKeyIssuer, token: str, resolver: DidResolver, refuse: Refuse
) -> None:
    other = sign_vc_jwt(credential_for(issuer.did, id="urn:uuid:other"), issuer.key, issuer.vm)
    h, p, _ = split(token)
    refuse(f"{h}.{p}.{split(other)[2]}", InvalidSignatureError)


def test_resigned_by_another_key_under_the_issuers_kid(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse
) -> None:
    refuse(sign_vc_jwt(credential, other_issuer.key, issuer.vm), InvalidSignatureError)


def test_resigned_by_another_key_under_its_own_kid(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse
) -> None:
    # The signature is good, but the signer does not control the credential's issuer DID.
    error = refuse(sign_vc_jwt(credential, other_issuer.key, other_issuer.vm), IssuerMismatchError)
    assert issuer.did in error.detail


def test_kid_of_another_issuer_signed_by_the_issuer(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse
) -> None:
    refuse(sign_vc_jwt(credential, issuer.key, other_issuer.vm), InvalidSignatureError)


def test_kid_with_a_mismatched_fragment_is_unresolvable(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse
) -> None:
    kid = issuer.did + "#" + other_issuer.vm.partition("#")[2]
    refuse(sign_vc_jwt(credential, issuer.key, kid), ResolutionError)


def test_swapping_the_payload_between_issuers_fails(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, token: str, refuse: Refuse
) -> None:
    theirs = sign_vc_jwt(credential_for(other_issuer.did), other_issuer.key, other_issuer.vm)
    h, _, s = split(token)
    refuse(f"{h}.{split(theirs)[1]}.{s}", InvalidSignatureError)
    h2, _, s2 = split(theirs)
    refuse(f"{h2}.{split(token)[1]}.{s2}", InvalidSignatureError)


# --- did:web verification methods ---------------------------------------------------


def web_resolver(document: Mapping[str, Any]) -> DidResolver:
    return DidResolver(fetch_did_web=lambda did: document)


def test_did_web_method_of_the_issuer_verifies(
    issuer: DidKeyIssuer, resolver: DidResolver, now: datetime
) -> None:
    web = "did:web:js.example"
    document = {
        "id": web,
        "verificationMethod": [
            {
                "id": f"{web}#k1",
                "type": "Multikey",
                "controller": web,
                "publicKeyMultibase": public_key_to_multikey(issuer.key.public_key()),
            }
        ],
        "assertionMethod": [f"{web}#k1"],
    }
    credential = credential_for(web)
    token = sign_vc_jwt(credential, issuer.key, f"{web}#k1")
    assert verify_vc_jwt(token, web_resolver(document), now).payload == credential


def test_foreign_document_cannot_claim_the_issuers_control(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse
) -> None:
    evil = "did:web:evil.example"
    document = {
        "id": evil,
        "verificationMethod": [
            {
                "id": f"{evil}#k",
                "type": "Multikey",
                "controller": issuer.did,  # a lie: issuer's DID document does not list this key
                "publicKeyMultibase": public_key_to_multikey(other_issuer.key.public_key()),
            }
        ],
        "assertionMethod": [f"{evil}#k"],
    }
    token = sign_vc_jwt(credential, other_issuer.key, f"{evil}#k")
    refuse(token, (IssuerMismatchError, ResolutionError), using=web_resolver(document))


@pytest.mark.parametrize("relationship", ["authentication", "capabilityInvocation", None])
def test_method_not_listed_for_assertion_is_refused(
    issuer: DidKeyIssuer, refuse: Refuse, relationship: str | None
) -> None:
    web = "did:web:js.example"
    document: dict[str, Any] = {
        "id": web,
        "verificationMethod": [
            {
                "id": f"{web}#auth",
                "type": "Multikey",
                "controller": web,
                "publicKeyMultibase": public_key_to_multikey(issuer.key.public_key()),
            }
        ],
    }
    if relationship:
        document[relationship] = [f"{web}#auth"]
    token = sign_vc_jwt(credential_for(web), issuer.key, f"{web}#auth")
    refuse(token, (VerificationError, ResolutionError), using=web_resolver(document))


# --- header format -------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"typ": "JWT"}, id="typ-JWT"),
        pytest.param({"typ": "jwt"}, id="typ-jwt"),
        pytest.param({"typ": "vc+ld+jwt"}, id="typ-vc+ld+jwt"),
        pytest.param({"typ": "vp+jwt"}, id="typ-vp+jwt"),
        pytest.param({"typ": "dc+sd-jwt"}, id="typ-sd-jwt"),
        pytest.param({"typ": None}, id="typ-null"),
        pytest.param({"typ": 1}, id="typ-number"),
        pytest.param({"typ": ""}, id="typ-empty"),
        pytest.param({"crit": ["exp"]}, id="crit"),
        pytest.param({"crit": []}, id="crit-empty"),
        pytest.param({"crit": ["b64"], "b64": False}, id="crit-b64-false"),
        pytest.param({"b64": False}, id="b64-false"),
        pytest.param({"b64": "true"}, id="b64-string"),
        pytest.param({"b64": 1}, id="b64-one"),
        pytest.param({"b64": None}, id="b64-null"),
        pytest.param({"kid": ""}, id="kid-empty"),
        pytest.param({"kid": None}, id="kid-null"),
        pytest.param({"kid": ["did:key:x#y"]}, id="kid-list"),
        pytest.param({"kid": 7}, id="kid-number"),
    ],
)
def test_unacceptable_header(
    issuer: DidKeyIssuer, credential: dict[str, Any], spy: SpyResolver, refuse: Refuse, changes: Any
) -> None:
    refuse(forge(vc_header(issuer.vm, **changes), credential, issuer.key), using=spy)
    assert spy.calls == []


@pytest.mark.parametrize("missing", ["typ", "kid"])
def test_header_member_missing(
    issuer: DidKeyIssuer, credential: dict[str, Any], refuse: Refuse, missing: str
) -> None:
    header = vc_header(issuer.vm)
    del header[missing]
    refuse(forge(header, credential, issuer.key))


def test_b64_true_is_harmless(
    issuer: DidKeyIssuer, credential: dict[str, Any], resolver: DidResolver, now: datetime
) -> None:
    token = forge(vc_header(issuer.vm, b64=True), credential, issuer.key)
    assert verify_vc_jwt(token, resolver, now).payload == credential


@pytest.mark.parametrize(
    "template",
    [
        '{{"alg":"EdDSA","alg":"EdDSA","typ":"vc+jwt","kid":"{kid}"}}',
        '{{"alg":"none","typ":"vc+jwt","kid":"{kid}","alg":"EdDSA"}}',
        '{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","typ":"vc+jwt"}}',
        '{{"alg":"EdDSA","typ":"vc+jwt","kid":"did:key:z6Mk#x","kid":"{kid}"}}',
        '{{"alg":"EdDSA","typ":"vc+jwt","kid":"{kid}","\\u0061lg":"EdDSA"}}',
        '{{ "alg" : "EdDSA", "typ": "vc+jwt", "kid": "{kid}", "typ": "vc+jwt" }}',
        '{{"alg":"EdDSA","typ":"vc+jwt","kid":"{kid}","x":{{"a":1,"a":2}}}}',
    ],
    ids=["same-value", "none-then-eddsa", "typ-twice", "kid-twice", "escaped-name", "spaced", "nested"],
)
def test_duplicate_header_members_are_refused(
    issuer: DidKeyIssuer, credential: dict[str, Any], spy: SpyResolver, refuse: Refuse, template: str
) -> None:
    header = template.format(kid=issuer.vm).encode()
    refuse(forge(header, credential, issuer.key), using=spy)
    assert spy.calls == []


@pytest.mark.parametrize(
    "header",
    [
        b"[]",
        b'["EdDSA"]',
        b'"EdDSA"',
        b"null",
        b"42",
        b"true",
        b"",
        b"{",
        b"not json",
        b'{"alg":NaN}',
        b"\xff\xfe",
    ],
)
def test_header_that_is_not_a_json_object(
    credential: dict[str, Any], issuer: DidKeyIssuer, refuse: Refuse, header: bytes
) -> None:
    if not header:
        refuse(f".{segment(credential)}.AAAA")
    else:
        refuse(forge(header, credential, issuer.key))


# --- compact serialization ----------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda h, p, s: f"{h}.{p}", id="two-segments"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{s}.{s}", id="four-segments"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{s}.", id="trailing-dot"),
        pytest.param(lambda h, p, s: f".{h}.{p}.{s}", id="leading-dot"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{s}..", id="five-segments"),
        pytest.param(lambda h, p, s: f"{h}..{p}.{s}", id="empty-inner"),
        pytest.param(lambda h, p, s: f".{p}.{s}", id="empty-header"),
        pytest.param(lambda h, p, s: f"{h}..{s}", id="empty-payload"),
        pytest.param(lambda h, p, s: f"{h}.{p}.", id="empty-signature"),
        pytest.param(lambda h, p, s: "..", id="all-empty"),
        pytest.param(lambda h, p, s: "", id="empty-token"),
        pytest.param(lambda h, p, s: ".", id="one-dot"),
        pytest.param(lambda h, p, s: f"{h}{p}{s}", id="no-dots"),
        pytest.param(lambda h, p, s: f" {h}.{p}.{s}", id="leading-space"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{s}\n", id="trailing-newline"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{s} ", id="trailing-space"),
        pytest.param(lambda h, p, s: f"{h}.{p[:10]}\n{p[10:]}.{s}", id="newline-in-payload"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{s}\x00", id="nul"),
    ],
)
def test_not_a_compact_jws(token: str, refuse: Refuse, make: Callable[[str, str, str], str]) -> None:
    refuse(make(*split(token)), (TokenFormatError, InvalidSignatureError))


@pytest.mark.parametrize("value", [None, 3.5, ["a.b.c"], {"token": "a.b.c"}], ids=repr)
def test_token_of_the_wrong_type(refuse: Refuse, value: Any) -> None:
    refuse(value)


@pytest.mark.parametrize("where", [0, 1, 2])
def test_non_ascii_token(token: str, refuse: Refuse, where: int) -> None:
    parts = split(token)
    parts[where] = parts[where][:5] + "é" + parts[where][6:]
    refuse(".".join(parts))


def test_non_ascii_bytes_token(token: str, refuse: Refuse) -> None:
    raw = bytearray(token.encode())
    raw[3] = 0xFF
    refuse(bytes(raw))


def test_non_ascii_payload_segment_signed_by_the_issuer(
    issuer: DidKeyIssuer, credential: dict[str, Any], resolver: DidResolver, now: datetime
) -> None:
    header_seg = segment(vc_header(issuer.vm))
    payload_seg = segment(credential)
    payload_seg = payload_seg[:8] + "é" + payload_seg[9:]
    token = sign_segments(header_seg, payload_seg, issuer.key)
    with pytest.raises(TokenFormatError):
        verify_vc_jwt(token.encode("utf-8"), resolver, now)


def padded_to(issuer: DidKeyIssuer, total: int) -> str:
    """A token signed by the issuer whose length is exactly ``total``."""
    header_seg = segment(vc_header(issuer.vm))
    overhead = len(header_seg) + 2 + 86
    base = len(segment(credential_for(issuer.did, pad="")))
    for extra in range(3 * (total - overhead - base) // 4 - 8, 3 * (total - overhead - base) // 4 + 8):
        payload_seg = segment(credential_for(issuer.did, pad="x" * extra))
        if overhead + len(payload_seg) == total:
            return sign_segments(header_seg, payload_seg, issuer.key)
    # 4k+1 segment lengths do not exist: widen the header by one member instead.
    header_seg = segment(vc_header(issuer.vm, p="x"))
    overhead = len(header_seg) + 2 + 86
    for extra in range(3 * (total - overhead - base) // 4 - 8, 3 * (total - overhead - base) // 4 + 8):
        payload_seg = segment(credential_for(issuer.did, pad="x" * extra))
        if overhead + len(payload_seg) == total:
            return sign_segments(header_seg, payload_seg, issuer.key)
    raise AssertionError(f"cannot build a token of {total} bytes")


def test_token_of_exactly_the_maximum_size_is_accepted(
    issuer: DidKeyIssuer, resolver: DidResolver, now: datetime
) -> None:
    token = padded_to(issuer, MAX_TOKEN_BYTES)
    assert len(token) == MAX_TOKEN_BYTES
    assert verify_vc_jwt(token, resolver, now).payload["pad"]


@pytest.mark.parametrize("excess", [1, 2, 1000, MAX_TOKEN_BYTES])
def test_oversized_token_is_refused_before_resolution(
    issuer: DidKeyIssuer, spy: SpyResolver, refuse: Refuse, excess: int
) -> None:
    token = padded_to(issuer, MAX_TOKEN_BYTES + excess)
    assert len(token) == MAX_TOKEN_BYTES + excess
    refuse(token, using=spy)
    refuse(token.encode(), using=spy)
    assert spy.calls == []


def test_oversized_non_ascii_token_is_refused(refuse: Refuse) -> None:
    refuse("é" * (MAX_TOKEN_BYTES + 1))


# --- non-canonical base64url ----------------------------------------------------------


def header_segment_where(issuer: DidKeyIssuer, predicate: Callable[[str], bool]) -> str:
    return first(lambda n: segment(vc_header(issuer.vm, pad="~" * n)), predicate)


def payload_segment_where(issuer: DidKeyIssuer, predicate: Callable[[str], bool]) -> str:
    return first(lambda n: segment(credential_for(issuer.did, pad="~" * n)), predicate)


def has_spare_bits(text: str) -> bool:
    return len(text) % 4 in (2, 3)


def has_url_chars(text: str) -> bool:
    return "-" in text or "_" in text


def to_standard_alphabet(text: str) -> str:
    return text.translate(str.maketrans("-_", "+/"))


def pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


@pytest.mark.parametrize(
    "respell", [pad, to_standard_alphabet, set_trailing_bit], ids=["padding", "std-alphabet", "trailing-bits"]
)
def test_non_canonical_header_is_refused_even_when_signed(
    issuer: DidKeyIssuer, credential: dict[str, Any], spy: SpyResolver, refuse: Refuse, respell: Any
) -> None:
    predicate = has_url_chars if respell is to_standard_alphabet else has_spare_bits
    header_seg = header_segment_where(issuer, predicate)
    payload_seg = segment(credential)
    assert verify_vc_jwt(sign_segments(header_seg, payload_seg, issuer.key), DidResolver(), NOW)
    respelled = respell(header_seg)
    assert respelled != header_seg
    refuse(sign_segments(respelled, payload_seg, issuer.key), using=spy)
    assert spy.calls == []


@pytest.mark.parametrize(
    "respell", [pad, to_standard_alphabet, set_trailing_bit], ids=["padding", "std-alphabet", "trailing-bits"]
)
def test_non_canonical_payload_is_refused_even_when_signed(
    issuer: DidKeyIssuer, refuse: Refuse, respell: Any
) -> None:
    predicate = has_url_chars if respell is to_standard_alphabet else has_spare_bits
    header_seg = segment(vc_header(issuer.vm))
    payload_seg = payload_segment_where(issuer, predicate)
    assert verify_vc_jwt(sign_segments(header_seg, payload_seg, issuer.key), DidResolver(), NOW)
    respelled = respell(payload_seg)
    assert respelled != payload_seg
    refuse(sign_segments(header_seg, respelled, issuer.key))


@pytest.mark.parametrize(
    "respell", [pad, to_standard_alphabet, set_trailing_bit], ids=["padding", "std-alphabet", "trailing-bits"]
)
def test_non_canonical_signature_is_refused(issuer: DidKeyIssuer, refuse: Refuse, respell: Any) -> None:
    def signed(n: int) -> str:
        return sign_vc_jwt(credential_for(issuer.did, id=f"urn:uuid:{n}"), issuer.key, issuer.vm)

    if respell is to_standard_alphabet:
        token = first(signed, lambda t: has_url_chars(split(t)[2]))
    else:
        token = signed(0)
    assert verify_vc_jwt(token, DidResolver(), NOW)
    h, p, s = split(token)
    respelled = respell(s)
    assert respelled != s
    assert lenient_b64decode(respelled.replace("+", "-").replace("/", "_").rstrip("=")) == b64url_decode(s)
    refuse(f"{h}.{p}.{respelled}")


def test_signature_with_stray_characters_is_refused(token: str, refuse: Refuse) -> None:
    h, p, s = split(token)
    for bad in (s[:40] + "*" + s[41:], s[:40] + "=" + s[41:], s[:-2] + "==", s + "="):
        refuse(f"{h}.{p}.{bad}", (TokenFormatError, InvalidSignatureError))


def test_signature_of_impossible_length_is_refused(token: str, refuse: Refuse) -> None:
    h, p, s = split(token)
    assert len(s) == 86
    refuse(f"{h}.{p}.{s[:-1]}", TokenFormatError)  # 85 % 4 == 1: no byte string is spelled so
    refuse(f"{h}.{p}.{s}AAA", TokenFormatError)  # 89
    refuse(f"{h}.{p}.{s}A", InvalidSignatureError)  # 87: canonical, but 65 bytes


# --- payload ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b'"VerifiableCredential"',
        b"null",
        b"42",
        b"true",
        b"{",
        b"",
        b"\xff",
        b'{"a":NaN}',
        b'{"a":1e400}',
    ],
)
def test_payload_that_is_not_a_json_object(issuer: DidKeyIssuer, refuse: Refuse, payload: bytes) -> None:
    header_seg = segment(vc_header(issuer.vm))
    if not payload:
        refuse(f"{header_seg}..AAAA")
    else:
        refuse(sign_segments(header_seg, b64url_encode(payload), issuer.key))


def test_payload_with_duplicate_members(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, refuse: Refuse
) -> None:
    text = compact(credential_for(other_issuer.did))[:-1] + f',"issuer":"{issuer.did}"}}'.encode()
    # The issuer's signature is good; a parser keeping the last duplicate would read ``issuer``.
    refuse(sign_segments(segment(vc_header(issuer.vm)), b64url_encode(text), issuer.key))


@pytest.mark.parametrize(
    "types",
    [
        pytest.param(["ProfessionalTitleCredential"], id="no-vc"),
        pytest.param([], id="empty"),
        pytest.param(None, id="null"),
        pytest.param(["verifiablecredential"], id="lower-case"),
        pytest.param([["VerifiableCredential"]], id="nested"),
        pytest.param({"VerifiableCredential": True}, id="object"),
    ],
)
def test_payload_without_verifiable_credential_type(issuer: DidKeyIssuer, refuse: Refuse, types: Any) -> None:
    refuse(forge(vc_header(issuer.vm), credential_for(issuer.did, type=types), issuer.key))


def test_type_may_be_the_single_string_verifiable_credential(
    issuer: DidKeyIssuer, resolver: DidResolver, now: datetime
) -> None:
    # VC Data Model 2.0 allows a single type term as a plain string.
    token = forge(vc_header(issuer.vm), credential_for(issuer.did, type="VerifiableCredential"), issuer.key)
    assert verify_vc_jwt(token, resolver, now).payload["type"] == "VerifiableCredential"


def test_payload_without_type(issuer: DidKeyIssuer, refuse: Refuse) -> None:
    credential = credential_for(issuer.did)
    del credential["type"]
    refuse(forge(vc_header(issuer.vm), credential, issuer.key))


@pytest.mark.parametrize("issuer_value", [None, "", {}, {"id": ""}, {"id": 5}, 5, ["did:key:x"]], ids=repr)
def test_payload_without_usable_issuer(issuer: DidKeyIssuer, refuse: Refuse, issuer_value: Any) -> None:
    refuse(forge(vc_header(issuer.vm), credential_for(issuer.did, issuer=issuer_value), issuer.key))


def test_payload_issuer_missing(issuer: DidKeyIssuer, refuse: Refuse) -> None:
    credential = credential_for(issuer.did)
    del credential["issuer"]
    refuse(forge(vc_header(issuer.vm), credential, issuer.key))


def test_iss_equal_to_the_issuer_is_accepted(
    issuer: DidKeyIssuer, resolver: DidResolver, now: datetime
) -> None:
    credential = credential_for(issuer.did, iss=issuer.did)
    assert (
        verify_vc_jwt(forge(vc_header(issuer.vm), credential, issuer.key), resolver, now).payload
        == credential
    )


@pytest.mark.parametrize("iss", ["did:key:z6MkOther", "", None, 1, ["x"]], ids=repr)
def test_iss_not_equal_to_the_issuer(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, refuse: Refuse, iss: Any
) -> None:
    refuse(forge(vc_header(issuer.vm), credential_for(issuer.did, iss=iss), issuer.key))
    refuse(forge(vc_header(issuer.vm), credential_for(issuer.did, iss=other_issuer.did), issuer.key))


# --- time claims against the injected clock --------------------------------------------


def stamp(now: datetime, delta: timedelta = timedelta(0)) -> int:
    return int((now + delta).timestamp())


def signed_with(issuer: DidKeyIssuer, **claims: Any) -> str:
    return forge(vc_header(issuer.vm), credential_for(issuer.did, **claims), issuer.key)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"nbf": timedelta(hours=1)}, id="nbf-in-an-hour"),
        pytest.param({"nbf": LEEWAY + timedelta(seconds=1)}, id="nbf-just-beyond-leeway"),
        pytest.param({"exp": -timedelta(hours=1)}, id="exp-an-hour-ago"),
        pytest.param({"exp": -LEEWAY}, id="exp-at-leeway-boundary"),
        pytest.param({"exp": -LEEWAY - timedelta(seconds=1)}, id="exp-just-beyond-leeway"),
        pytest.param({"nbf": -timedelta(days=2), "exp": -timedelta(days=1)}, id="window-in-the-past"),
        pytest.param({"nbf": timedelta(days=1), "exp": timedelta(days=2)}, id="window-in-the-future"),
    ],
)
def test_time_claims_outside_the_window(
    issuer: DidKeyIssuer, now: datetime, refuse: Refuse, claims: dict[str, timedelta]
) -> None:
    error = refuse(signed_with(issuer, **{k: stamp(now, v) for k, v in claims.items()}))
    assert any(claim in error.detail for claim in claims)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"nbf": timedelta(minutes=4)}, id="nbf-within-leeway"),
        pytest.param({"nbf": LEEWAY}, id="nbf-at-leeway-boundary"),
        pytest.param({"nbf": timedelta(0)}, id="nbf-now"),
        pytest.param({"nbf": -timedelta(days=1)}, id="nbf-yesterday"),
        pytest.param({"exp": -timedelta(minutes=4)}, id="exp-within-leeway"),
        pytest.param({"exp": -LEEWAY + timedelta(seconds=1)}, id="exp-one-second-inside-leeway"),
        pytest.param({"exp": timedelta(days=365)}, id="exp-next-year"),
        pytest.param({"iat": timedelta(days=1)}, id="iat-in-the-future-is-not-checked"),
        pytest.param(
            {"nbf": -timedelta(days=1), "exp": timedelta(days=1), "iat": -timedelta(days=1)}, id="all-three"
        ),
    ],
)
def test_time_claims_inside_the_window(
    issuer: DidKeyIssuer, resolver: DidResolver, now: datetime, claims: dict[str, timedelta]
) -> None:
    token = signed_with(issuer, **{k: stamp(now, v) for k, v in claims.items()})
    assert verify_vc_jwt(token, resolver, now).payload["issuer"]["id"] == issuer.did


def test_fractional_numeric_dates(
    issuer: DidKeyIssuer, resolver: DidResolver, now: datetime, refuse: Refuse
) -> None:
    base = now.timestamp()
    assert verify_vc_jwt(signed_with(issuer, exp=base + 0.5), resolver, now, timedelta(0))
    refuse(signed_with(issuer, exp=base - 0.5), leeway=timedelta(0))
    refuse(signed_with(issuer, nbf=base + 0.5), leeway=timedelta(0))


def test_zero_leeway(issuer: DidKeyIssuer, resolver: DidResolver, now: datetime, refuse: Refuse) -> None:
    refuse(signed_with(issuer, exp=stamp(now)), leeway=timedelta(0))
    assert verify_vc_jwt(signed_with(issuer, exp=stamp(now) + 1), resolver, now, timedelta(0))
    assert verify_vc_jwt(signed_with(issuer, nbf=stamp(now)), resolver, now, timedelta(0))
    refuse(signed_with(issuer, nbf=stamp(now) + 1), leeway=timedelta(0))


def test_the_injected_clock_decides(issuer: DidKeyIssuer, resolver: DidResolver, now: datetime) -> None:
    token = signed_with(issuer, nbf=stamp(now, -timedelta(hours=1)), exp=stamp(now, timedelta(hours=1)))
    assert verify_vc_jwt(token, resolver, now)
    with pytest.raises(TokenFormatError):
        verify_vc_jwt(token, resolver, now + timedelta(hours=2))
    with pytest.raises(TokenFormatError):
        verify_vc_jwt(token, resolver, now - timedelta(hours=2))


@pytest.mark.parametrize("claim", ["nbf", "exp", "iat"])
@pytest.mark.parametrize(
    "value",
    ["1700000000", "2026-11-27T08:00:00Z", None, [1], {"t": 1}, ""],
    ids=["numeric-string", "iso-string", "null", "list", "object", "empty-string"],
)
def test_numeric_date_of_the_wrong_type(issuer: DidKeyIssuer, refuse: Refuse, claim: str, value: Any) -> None:
    error = refuse(signed_with(issuer, **{claim: value}))
    assert claim in error.detail


@pytest.mark.parametrize("claim", ["nbf", "iat"])
@pytest.mark.parametrize("value", [True, False])
def test_boolean_numeric_date_is_refused(
    issuer: DidKeyIssuer, refuse: Refuse, claim: str, value: bool
) -> None:
    refuse(signed_with(issuer, **{claim: value}))


# --- errors ------------------------------------------------------------------------


def test_every_failure_is_a_registry_error_without_key_material(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, credential: dict[str, Any], token: str, now: datetime
) -> None:
    h, p, s = split(token)
    secret = hmac_secrets(issuer)["raw"]
    bad_tokens = [
        "",
        "a.b",
        f"{h}.{p}.{s}x",
        f"{h}.{p}.{s[::-1]}",
        hs256(vc_header(issuer.vm, alg="HS256"), credential, secret),
        forge(vc_header(issuer.vm, alg="none"), credential, issuer.key),
        forge(vc_header(issuer.vm, typ="JWT"), credential, issuer.key),
        forge(vc_header("did:example:nobody#k"), credential, issuer.key),
        forge(vc_header("did:key:not-a-key#k"), credential, issuer.key),
        forge(vc_header("no-fragment"), credential, issuer.key),
        sign_vc_jwt(credential, other_issuer.key, other_issuer.vm),
        sign_vc_jwt(credential, other_issuer.key, issuer.vm),
        signed_with(issuer, exp=stamp(now, -timedelta(days=1))),
        signed_with(issuer, iss=other_issuer.did),
        "é" * 10,
    ]
    secrets = key_secrets(issuer.key) + key_secrets(other_issuer.key)
    slugs = set()
    for bad in bad_tokens:
        with pytest.raises(RegistryError) as info:
            verify_vc_jwt(bad, DidResolver(), now)
        assert isinstance(info.value, SigningError)
        assert_safe_error(info.value, secrets)
        slugs.add(info.value.slug)
    assert slugs >= {"bad-token", "invalid-signature", "issuer-mismatch", "unresolvable-verification-method"}


def test_verification_errors_share_a_base() -> None:
    for cls in (TokenFormatError, InvalidSignatureError, IssuerMismatchError):
        assert issubclass(cls, VerificationError)
        assert issubclass(cls, RegistryError)
    assert len({TokenFormatError.slug, InvalidSignatureError.slug, IssuerMismatchError.slug}) == 3


# --- review findings: the signer refuses what it cannot write faithfully -------------------


@pytest.mark.parametrize(
    "extra",
    [{"x": float("nan")}, {"x": 2**60}, {1: 2}, {"x": float("inf")}],
    ids=["nan", "big-int", "int-key", "inf"],
)
def test_signer_refuses_values_it_cannot_write_faithfully(
    issuer: DidKeyIssuer, extra: dict[Any, Any]
) -> None:
    credential = {**credential_for(issuer.did), **extra}
    with pytest.raises(CanonicalizationError):
        sign_vc_jwt(credential, issuer.key, issuer.vm)


def test_long_did_key_kid_is_refused_quickly(issuer: DidKeyIssuer, refuse: Refuse) -> None:
    kid = "did:key:z" + "2" * 150_000 + "#k"
    refuse(forge(vc_header(kid), credential_for(issuer.did), issuer.key), ResolutionError)
