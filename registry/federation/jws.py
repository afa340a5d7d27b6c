"""Compact JWS for federation JWTs: strict parsing, JWK Sets, EdDSA signatures.

Mirrors :mod:`registry.signing.jose` (and reuses its signer): the token is split and
decoded with C-speed primitives and the registry's strict JSON parser (duplicate member
names refused), ``alg`` must be ``EdDSA`` or ``Ed25519`` (RFC 8037, RFC 9864) before any
key is touched, so ``none``, HMAC keyed with a public key and every other algorithm are
refused. The verification key is the JWK whose ``kid`` the header names, looked up in a
key set the caller already trusts; the key set is never taken from the token itself.
PyJWT's ``jwt.decode`` is not used on untrusted input, for the reasons given in ``jose``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature

from registry.federation.errors import FederationError
from registry.signing.encoding import b64url_decode
from registry.signing.errors import EncodingError, KeyMaterialError, TokenFormatError
from registry.signing.jose import ACCEPTED_ALGORITHMS, json_object_segment, sign_jws, split_compact
from registry.signing.keys import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    jwk_thumbprint,
    public_key_from_jwk,
    public_key_raw,
    public_key_to_jwk,
)

MAX_JWS_BYTES = 256 * 1024
# Members that only private or symmetric JWKs have (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# JOSE header parameters that an entity statement or signed JWK Set must not carry:
# ``crit`` (no extension is understood), ``trust_chain``/``peer_trust_chain`` (§4.3: never
# on Entity Configurations or Subordinate Statements), and keys shipped inside the token.
_FORBIDDEN_HEADERS = frozenset({"crit", "trust_chain", "peer_trust_chain", "jwk", "jku", "x5u", "x5c"})


@dataclass(frozen=True)
class CompactJWS:
    """A parsed compact JWS whose signature has NOT been checked."""

    token: str
    header: Mapping[str, Any]
    payload_segment: bytes
    signature: bytes
    signing_input: bytes
    kid: str

    def unverified_payload(self, error: type[FederationError]) -> dict[str, Any]:
        return _json_object(self.payload_segment, "payload", error)


def _json_object(segment: bytes, what: str, error: type[FederationError]) -> dict[str, Any]:
    """:func:`registry.signing.jose.json_object_segment`, failing as ``error``."""
    try:
        return json_object_segment(segment, what)
    except TokenFormatError as exc:
        raise error(exc.detail) from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def media_type_matches(typ: object, expected: str) -> bool:
    """RFC 7515 §4.1.9: ``typ`` is a case-insensitive media type whose ``application/``
    prefix may be omitted."""
    if not isinstance(typ, str):
        return False
    typ = typ.lower()
    return typ == expected or typ == "application/" + expected


def parse_compact_jws(token: str | bytes, typ: str, error: type[FederationError]) -> CompactJWS:
    """Split and check the protected header: JSON object, allowed ``alg``, ``typ`` equal to
    ``typ``, a non-empty ``kid``, no critical or forbidden header parameters."""
    try:
        header_b64, payload_b64, signature_b64, signing_input = split_compact(token, MAX_JWS_BYTES)
    except TokenFormatError as exc:
        raise error(exc.detail) from None
    header = _json_object(header_b64, "header", error)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ACCEPTED_ALGORITHMS:
        raise error(f"algorithm {_short(alg)} is not accepted; only EdDSA/Ed25519")
    if not media_type_matches(header.get("typ"), typ):
        raise error(f"token typ must be {typ!r}")
    forbidden = sorted(_FORBIDDEN_HEADERS.intersection(header))
    if forbidden:
        raise error(f"header parameter(s) {forbidden} are not accepted")
    if header.get("b64", True) is not True:
        raise error("unencoded payloads (b64=false) are not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise error("token header has no kid")
    try:
        signature = b64url_decode(signature_b64)
    except EncodingError:
        raise error("signature is not base64url") from None
    return CompactJWS(
        token=signing_input.decode("ascii") + "." + signature_b64.decode("ascii"),
        header=header,
        payload_segment=payload_b64,
        signature=signature,
        signing_input=signing_input,
        kid=kid,
    )


def check_jwks(value: object, what: str, error: type[FederationError]) -> dict[str, Mapping[str, Any]]:
    """A public JWK Set (RFC 7517 §5) with at least one key, every key a JSON object with a
    ``kty`` and a unique non-empty ``kid`` (§3.1 ``jwks``), no private key material, and each
    Ed25519 key valid. Returns the keys by ``kid``. Keys of other types are kept (a set may
    hold them) but can never verify a signature here."""
    if not isinstance(value, Mapping):
        raise error(f"{what} must be a JWK Set (a JSON object)")
    keys = value.get("keys")
    if not isinstance(keys, list) or not keys:
        raise error(f"{what} must have a non-empty 'keys' array")
    by_kid: dict[str, Mapping[str, Any]] = {}
    for jwk in keys:
        if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kty"), str):
            raise error(f"every key in {what} must be a JWK object with a 'kty'")
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise error(f"every key in {what} must have a non-empty 'kid'")
        if kid in by_kid:
            raise error(f"{what} has two keys with kid {_short(kid)}")
        if _PRIVATE_JWK_MEMBERS.intersection(jwk):
            raise error(f"{what} holds private or symmetric key material")
        if jwk.get("kty") == "OKP":
            try:
                public_key_from_jwk(jwk)
            except KeyMaterialError as exc:
                raise error(f"key {_short(kid)} in {what}: {exc.detail}") from None
        by_kid[kid] = jwk
    return by_kid


def signing_key(
    keys: Mapping[str, Mapping[str, Any]], kid: str, error: type[FederationError]
) -> Ed25519PublicKey:
    """The Ed25519 key named ``kid`` in a checked key set, usable for EdDSA signatures."""
    jwk = keys.get(kid)
    if jwk is None:
        raise error(f"signing key {_short(kid)} is not in the issuer's vouched key set")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise error(f"signing key {_short(kid)} is not an Ed25519 key")
    alg = jwk.get("alg", "EdDSA")
    if not isinstance(alg, str) or alg not in ACCEPTED_ALGORITHMS or jwk.get("use", "sig") != "sig":
        raise error(f"signing key {_short(kid)} is not declared for EdDSA signatures")
    try:
        return public_key_from_jwk(jwk)
    except KeyMaterialError as exc:  # pragma: no cover - check_jwks already parsed it
        raise error(exc.detail) from None


def same_public_key(first: Mapping[str, Any] | None, second: Mapping[str, Any] | None) -> bool:
    """Both JWKs are the same Ed25519 public key."""
    if first is None or second is None:
        return False
    if first.get("kty") != "OKP" or second.get("kty") != "OKP":
        return False
    try:
        return public_key_raw(public_key_from_jwk(first)) == public_key_raw(public_key_from_jwk(second))
    except KeyMaterialError:
        return False


def verify_signature(parsed: CompactJWS, key: Ed25519PublicKey, error: type[FederationError]) -> None:
    """RFC 7515 §5.2: the signature over ASCII(header) '.' ASCII(payload)."""
    if len(parsed.signature) != 64:
        raise error("an Ed25519 signature is 64 bytes")
    try:
        key.verify(parsed.signature, parsed.signing_input)
    except InvalidSignature:
        raise error("signature does not verify") from None


def federation_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """A public Ed25519 JWK with its RFC 7638 thumbprint as ``kid`` (§3.1 ``jwks``)."""
    return {**public_key_to_jwk(public_key), "kid": jwk_thumbprint(public_key)}


def federation_jwks(*public_keys: Ed25519PublicKey) -> dict[str, list[dict[str, str]]]:
    """A JWK Set of Federation Entity Keys."""
    return {"keys": [federation_jwk(key) for key in public_keys]}


def sign_compact_jws(payload: Mapping[str, Any], private_key: Ed25519PrivateKey, typ: str) -> str:
    """Sign with ``alg`` EdDSA, ``kid`` the RFC 7638 thumbprint of the key, the given ``typ``;
    the payload is written canonically (RFC 8785), so non-JSON values are refused."""
    return sign_jws(payload, private_key, jwk_thumbprint(private_key.public_key()), typ)
