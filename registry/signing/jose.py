"""VC-JOSE: credentials secured as ``application/vc+jwt`` and presentations as
``application/vp+jwt`` (Securing Verifiable Credentials using JOSE and COSE, §3.1.1 and
§3.1.2), EdDSA only.

Signing goes through PyJWT's ``PyJWS`` (with ``Ed25519``, the fully-specified name of
RFC 9864, registered beside ``EdDSA``). Verification parses the compact JWS here: it
applies the same strictness as PyJWT (canonical base64url, JSON-object header,
allow-listed ``alg``) with C-speed primitives, where PyJWT's decoder checks the
base64url alphabet one character at a time in Python and costs about three signature
checks on a 1.5 KB credential (see ``bench/signing.py``).

The algorithm is taken from the key, never from the token: keys here are Ed25519, so
the only acceptable header values are ``EdDSA`` and ``Ed25519``. ``none``, HMAC keyed
with the public key and any other algorithm are refused before a key is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from jwt.algorithms import OKPAlgorithm
from jwt.api_jws import PyJWS

from registry.signing.data_integrity import issuer_id
from registry.signing.did import VerificationMethod, VerificationMethodResolver
from registry.signing.encoding import b64url_decode
from registry.signing.errors import (
    CanonicalizationError,
    EncodingError,
    InvalidSignatureError,
    IssuerMismatchError,
    ProofConfigurationError,
    TokenFormatError,
)
from registry.signing.jcs import canonicalize, loads
from registry.signing.keyring import require_aware
from registry.signing.keys import Ed25519PrivateKey, Ed25519PublicKey

ACCEPTED_ALGORITHMS = frozenset({"EdDSA", "Ed25519"})
VC_JWT_TYPES = frozenset({"vc+jwt", "application/vc+jwt"})
VP_JWT_TYPES = frozenset({"vp+jwt", "application/vp+jwt"})
MAX_TOKEN_BYTES = 256 * 1024

_jws = PyJWS(algorithms=sorted(ACCEPTED_ALGORITHMS))
_jws.register_algorithm("Ed25519", OKPAlgorithm())


@dataclass(frozen=True)
class VerifiedJWS:
    """A compact JWS whose signature has been checked with ``verification_method``."""

    header: dict[str, Any]
    payload: dict[str, Any]
    verification_method: VerificationMethod


def sign_jws(
    payload: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    kid: str,
    typ: str,
    algorithm: str = "EdDSA",
    extra_headers: Mapping[str, Any] | None = None,
) -> str:
    if algorithm not in ACCEPTED_ALGORITHMS:
        raise TokenFormatError(f"algorithm {algorithm!r} is not used here")
    headers = {**(extra_headers or {}), "kid": kid, "typ": typ}
    # The payload is written canonically (RFC 8785): NaN, integers beyond 2**53 and
    # non-string member names are refused rather than silently changed.
    return _jws.encode(canonicalize(payload), private_key, algorithm=algorithm, headers=headers)


def sign_vc_jwt(
    credential: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    kid: str,
    algorithm: str = "EdDSA",
) -> str:
    """Secure a credential as ``application/vc+jwt``: the payload is the credential
    itself; ``kid`` is the absolute DID URL of the verification method."""
    issuer_id(credential)
    return sign_jws(credential, private_key, kid, "vc+jwt", algorithm, {"cty": "vc"})


def _short(value: Any) -> str:
    """An untrusted value for an error message, cut to a readable size."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def split_compact(token: str | bytes, max_bytes: int = MAX_TOKEN_BYTES) -> tuple[bytes, bytes, bytes, bytes]:
    """A compact JWS as (header, payload, signature) segments and the signing input;
    ASCII, at most ``max_bytes``, three non-empty segments, or :class:`TokenFormatError`."""
    if isinstance(token, str):
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError:
            raise TokenFormatError("token must be ASCII text") from None
    elif isinstance(token, (bytes, bytearray, memoryview)):
        raw = bytes(token)
    else:
        raise TokenFormatError("token must be text")
    if len(raw) > max_bytes:
        raise TokenFormatError("token is too large")
    parts = raw.split(b".")
    if len(parts) != 3 or not all(parts):
        raise TokenFormatError("token is not a compact JWS (three non-empty segments)")
    header_b64, payload_b64, signature_b64 = parts
    return header_b64, payload_b64, signature_b64, raw[: len(header_b64) + 1 + len(payload_b64)]


def json_object_segment(segment: bytes, what: str) -> dict[str, Any]:
    """A base64url segment holding a JSON object, read by the strict parser (duplicate
    members refused), or :class:`TokenFormatError`."""
    try:
        value = loads(b64url_decode(segment))
    except (EncodingError, CanonicalizationError) as exc:
        raise TokenFormatError(f"{what} is not base64url JSON: {exc.detail}") from None
    if not isinstance(value, dict):
        raise TokenFormatError(f"{what} is not a JSON object")
    return value


def verify_jws(
    token: str | bytes,
    resolve_key: VerificationMethodResolver,
    accepted_types: frozenset[str],
    purpose: str,
    default_issuer: str | None = None,
) -> VerifiedJWS:
    """Verify a compact EdDSA JWS. ``kid`` names the verification method (absolute,
    or a fragment relative to ``default_issuer``), which its controller must list
    under ``purpose`` (``assertionMethod`` for credentials, ``authentication`` for a
    node's requests); the payload is decoded only after the signature verifies.
    ``accepted_types`` are lower-case."""
    header_b64, payload_b64, signature_b64, signing_input = split_compact(token)
    # 1. The protected header: a JSON object, an allowed alg, the expected typ.
    header = json_object_segment(header_b64, "header")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ACCEPTED_ALGORITHMS:
        raise TokenFormatError(f"algorithm {_short(alg)} is not accepted; only EdDSA/Ed25519")
    if "crit" in header:
        raise TokenFormatError("critical header parameters are not supported")
    if header.get("b64", True) is not True:
        raise TokenFormatError("unencoded payloads (b64=false) are not accepted")
    typ = header.get("typ")
    # Media type names are case-insensitive (RFC 7515 §4.1.9, RFC 2045).
    if not isinstance(typ, str) or typ.lower() not in accepted_types:
        raise TokenFormatError(f"token typ must be one of {sorted(accepted_types)}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenFormatError("token header has no kid")
    if kid.startswith("#") and default_issuer:
        kid = default_issuer + kid
    # 2. The key comes from the verification method; it is Ed25519 by construction.
    method = resolve_key.resolve(kid)
    if not isinstance(method.public_key, Ed25519PublicKey):
        raise TokenFormatError("verification method is not an Ed25519 key")
    if purpose not in method.relationships:
        raise IssuerMismatchError(f"verification method is not listed under {purpose} by its controller")
    # 3. The signature over ASCII(header) '.' ASCII(payload) (RFC 7515 §5.2).
    try:
        signature = b64url_decode(signature_b64)
    except EncodingError:
        raise TokenFormatError("signature is not base64url") from None
    if len(signature) != 64:
        raise InvalidSignatureError("an Ed25519 signature is 64 bytes")
    try:
        method.public_key.verify(signature, signing_input)
    except InvalidSignature:
        raise InvalidSignatureError("JWS signature does not verify") from None
    # 4. Only now is the payload read.
    return VerifiedJWS(header, json_object_segment(payload_b64, "payload"), method)


def verify_vc_jwt(
    token: str | bytes,
    resolver: VerificationMethodResolver,
    now: datetime,
    leeway: timedelta = timedelta(minutes=5),
) -> VerifiedJWS:
    """Verify an ``application/vc+jwt`` and return its credential (``payload``).

    Beyond the signature: the payload is a credential; the verification method is
    controlled by its issuer; ``iss``, when present, names the issuer; ``nbf`` and
    ``exp``, when present, hold at ``now``."""
    require_aware(now)
    verified = verify_jws(token, resolver, VC_JWT_TYPES, "assertionMethod")
    credential = verified.payload
    types = credential.get("type")
    if not (types == "VerifiableCredential" or (isinstance(types, list) and "VerifiableCredential" in types)):
        raise TokenFormatError("payload is not a verifiable credential")
    try:
        issuer = issuer_id(credential)
    except ProofConfigurationError as exc:
        raise TokenFormatError(exc.detail) from None
    if verified.verification_method.controller != issuer:
        raise IssuerMismatchError(
            f"signing key is controlled by {verified.verification_method.controller}, "
            f"not by the issuer {issuer}"
        )
    if "iss" in credential and credential["iss"] != issuer:
        raise TokenFormatError("iss claim does not match the credential issuer")
    _check_times(credential, now, leeway)
    return verified


def _check_times(claims: Mapping[str, Any], now: datetime, leeway: timedelta) -> None:
    stamp = now.timestamp()
    for claim in ("nbf", "exp", "iat"):
        # A NumericDate is a JSON number; true/false are not (bool is an int in Python).
        if claim in claims and type(claims[claim]) not in (int, float):
            raise TokenFormatError(f"{claim} claim must be a NumericDate")
    if "nbf" in claims and stamp + leeway.total_seconds() < claims["nbf"]:
        raise TokenFormatError("token is not valid yet (nbf)")
    if "exp" in claims and stamp - leeway.total_seconds() >= claims["exp"]:
        raise TokenFormatError("token has expired (exp)")


def sign_vp_jwt(
    presentation: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    kid: str,
    algorithm: str = "EdDSA",
    claims: Mapping[str, Any] | None = None,
) -> str:
    """Secure a presentation as ``application/vp+jwt`` (VC-JOSE-COSE §3.1.2): the
    payload is the presentation (with ``claims`` such as ``nonce`` and ``aud`` beside
    its members); ``kid`` is the absolute DID URL of the holder's verification method."""
    return sign_jws({**presentation, **(claims or {})}, private_key, kid, "vp+jwt", algorithm, {"cty": "vp"})


def verify_vp_jwt(
    token: str | bytes,
    resolver: VerificationMethodResolver,
    now: datetime,
    leeway: timedelta = timedelta(minutes=5),
) -> VerifiedJWS:
    """Verify an ``application/vp+jwt`` (VC-JOSE-COSE §3.1.2) and return its
    presentation (``payload``).

    The ``kid`` names a verification method its controller lists under
    ``authentication`` (the presentation authenticates its holder); the payload is a
    verifiable presentation; its ``holder``, when present, is that controller, and so is
    ``iss`` when present; ``nbf`` and ``exp``, when present, hold at ``now``."""
    require_aware(now)
    verified = verify_jws(token, resolver, VP_JWT_TYPES, "authentication")
    presentation = verified.payload
    types = presentation.get("type")
    if not (
        types == "VerifiablePresentation" or (isinstance(types, list) and "VerifiablePresentation" in types)
    ):
        raise TokenFormatError("payload is not a verifiable presentation")
    controller = verified.verification_method.controller
    holder = presentation.get("holder")
    holder_id = holder.get("id") if isinstance(holder, Mapping) else holder
    if holder_id is not None and holder_id != controller:
        raise IssuerMismatchError(f"signing key is controlled by {controller}, not by the holder")
    if "iss" in presentation and presentation["iss"] != controller:
        raise TokenFormatError("iss claim does not name the holder whose key signed the presentation")
    _check_times(presentation, now, leeway)
    return verified
