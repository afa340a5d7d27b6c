"""Selective Disclosure for JWTs (SD-JWT, RFC 9901) and SD-JWT-based Verifiable
Credentials (SD-JWT VC, ``typ: dc+sd-jwt``), pure.

An SD-JWT is ``<issuer-signed JWT>~<disclosure>~…~<disclosure>~`` and, presented with
key binding, ``…~<KB-JWT>``. A disclosure is the base64url of a JSON array ``[salt,
name, value]`` (an object member) or ``[salt, value]`` (an array element); the signed
payload holds only the digests of the disclosures (``_sd`` arrays, ``{"...": digest}``
array elements), so a holder shows a claim by sending its disclosure and hides it by
leaving the disclosure out.

Verification follows RFC 9901 §7.1 (issuer-signed JWT, then disclosures: every digest
at most once, every disclosure referenced, no claim disclosed over an existing one,
no ``_sd``/``...`` claim names) and §7.3 (key binding: ``typ: kb+jwt``, signed by the
key in ``cnf.jwk``, ``sd_hash`` over the presented SD-JWT, ``aud``, ``nonce``, ``iat``
in the window). SD-JWT VC (draft-ietf-oauth-sd-jwt-vc §3.2.2) adds: ``vct`` is
required, and ``iss``, ``nbf``, ``exp``, ``cnf``, ``vct``, ``vct#integrity`` and
``status`` are never selectively disclosed.

Algorithms are taken from the keys, never from the tokens: an Ed25519 key accepts
``EdDSA``/``Ed25519``, a P-256 key ``ES256``; ``none`` and anything else are refused
before a key is touched.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from registry.signing.encoding import b64url_decode, b64url_encode
from registry.signing.errors import (
    EncodingError,
    InvalidSignatureError,
    KeyMaterialError,
    TokenFormatError,
)
from registry.signing.jcs import canonicalize, loads
from registry.signing.jose import MAX_TOKEN_BYTES, json_object_segment, split_compact
from registry.signing.keys import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    public_key_from_jwk,
    public_key_to_jwk,
)

SD_JWT_VC_TYPES = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
KB_JWT_TYPE = "kb+jwt"
#: Hash algorithms of ``_sd_alg`` (IANA "Named Information Hash Algorithm" names).
HASHES: dict[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256,
    "sha-384": hashlib.sha384,
    "sha-512": hashlib.sha512,
}
#: SD-JWT VC §3.2.2: claims an issuer must not make selectively disclosable.
NEVER_DISCLOSED = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"})
MAX_DISCLOSURES = 256
MAX_DEPTH = 32

PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey


# --- keys and compact JWS with the algorithm fixed by the key --------------------------


def public_key_of_jwk(jwk: Any) -> PublicKey:
    """A holder's public key from ``cnf.jwk``: Ed25519 (RFC 8037) or P-256 (RFC 7518
    §6.2, the point checked to lie on the curve). A JWK with a private part is refused."""
    if not isinstance(jwk, Mapping):
        raise KeyMaterialError("the key is not a JWK object")
    if "d" in jwk:
        raise KeyMaterialError("the JWK holds private key material")
    if jwk.get("kty") == "OKP":
        return public_key_from_jwk(jwk)
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise KeyMaterialError("only Ed25519 (OKP) and P-256 (EC) keys are accepted")
    try:
        x, y = b64url_decode(str(jwk.get("x", ""))), b64url_decode(str(jwk.get("y", "")))
    except EncodingError as exc:
        raise KeyMaterialError(f"the JWK's coordinates are not base64url: {exc.detail}") from None
    if len(x) != 32 or len(y) != 32:
        raise KeyMaterialError("a P-256 coordinate is 32 bytes")
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except ValueError:
        raise KeyMaterialError("the point is not on the P-256 curve") from None


def public_jwk(key: PublicKey) -> dict[str, str]:
    if isinstance(key, Ed25519PublicKey):
        return public_key_to_jwk(key)
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }


def private_key_of_jwk(jwk: Mapping[str, Any]) -> PrivateKey:
    """A private JWK (Ed25519 or P-256), as test vectors and wallets hold them."""
    try:
        d = b64url_decode(str(jwk["d"]))
    except (KeyError, EncodingError):
        raise KeyMaterialError("the JWK has no usable 'd' member") from None
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        return Ed25519PrivateKey.from_private_bytes(d)
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        return ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
    raise KeyMaterialError("only Ed25519 (OKP) and P-256 (EC) keys are accepted")


def _algorithms_of(key: PublicKey) -> frozenset[str]:
    if isinstance(key, Ed25519PublicKey):
        return frozenset({"EdDSA", "Ed25519"})
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return frozenset({"ES256"})
    raise KeyMaterialError("only Ed25519 and P-256 keys are used here")


def sign_compact(header: Mapping[str, Any], payload: Mapping[str, Any], key: PrivateKey) -> str:
    """A compact JWS over canonical JSON (RFC 8785) with ``alg`` set from the key."""
    alg = "EdDSA" if isinstance(key, Ed25519PrivateKey) else "ES256"
    if not isinstance(key, Ed25519PrivateKey) and not isinstance(key.curve, ec.SECP256R1):
        raise KeyMaterialError("only Ed25519 and P-256 keys are used here")
    protected = b64url_encode(canonicalize({**header, "alg": alg}))
    body = b64url_encode(canonicalize(payload))
    signing_input = f"{protected}.{body}".encode("ascii")
    if isinstance(key, Ed25519PrivateKey):
        signature = key.sign(signing_input)
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{protected}.{body}.{b64url_encode(signature)}"


def read_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, read before its key is chosen."""
    return json_object_segment(split_compact(token)[0], "header")


def verify_compact(
    token: str, key: PublicKey, typ: str | frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) of a compact JWS whose signature ``key`` verifies; ``alg``
    must be one of the key's, ``typ`` (case-insensitive) the expected one."""
    header_b64, payload_b64, signature_b64, signing_input = split_compact(token)
    header = json_object_segment(header_b64, "header")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _algorithms_of(key):
        raise TokenFormatError(f"algorithm {str(alg)[:20]!r} is not the key's")
    if "crit" in header:
        raise TokenFormatError("critical header parameters are not supported")
    accepted = frozenset({typ}) if isinstance(typ, str) else typ
    found = header.get("typ")
    # RFC 7515 §4.1.9: "application/" may be omitted; media types are case-insensitive.
    if not isinstance(found, str) or found.lower().removeprefix("application/") not in accepted:
        raise TokenFormatError(f"token typ must be one of {sorted(accepted)}")
    try:
        signature = b64url_decode(signature_b64)
    except EncodingError:
        raise TokenFormatError("signature is not base64url") from None
    if len(signature) != 64:
        raise InvalidSignatureError("the signature is not 64 bytes")
    try:
        if isinstance(key, Ed25519PublicKey):
            key.verify(signature, signing_input)
        else:
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise InvalidSignatureError("JWS signature does not verify") from None
    return header, json_object_segment(payload_b64, "payload")


# --- disclosures ---------------------------------------------------------------------


def digest(disclosure: str, alg: str = "sha-256") -> str:
    """RFC 9901 §4.2.3: base64url of the hash of the disclosure's ASCII text."""
    return b64url_encode(HASHES[alg](disclosure.encode("ascii")).digest())


def make_disclosure(name: str | None, value: Any, salt: str | None = None) -> str:
    """RFC 9901 §4.2.1/§4.2.2: an object member (``name``) or an array element (None),
    with a 128-bit salt."""
    salt = salt if salt is not None else b64url_encode(secrets.token_bytes(16))
    content = [salt, value] if name is None else [salt, name, value]
    return b64url_encode(orjson.dumps(content))


@dataclass(frozen=True)
class Disclosure:
    encoded: str
    salt: str
    #: None for an array element
    name: str | None
    value: Any


def read_disclosure(encoded: str) -> Disclosure:
    try:
        content = loads(b64url_decode(encoded))
    except (EncodingError, ValueError) as exc:
        raise TokenFormatError(f"a disclosure is not base64url JSON: {exc}") from None
    if not isinstance(content, list) or len(content) not in (2, 3) or not isinstance(content[0], str):
        raise TokenFormatError("a disclosure is not an array [salt, name, value] or [salt, value]")
    if len(content) == 2:
        return Disclosure(encoded, content[0], None, content[1])
    name = content[1]
    if not isinstance(name, str):
        raise TokenFormatError("a disclosure's claim name is not a string")
    if name in ("_sd", "..."):
        raise TokenFormatError(f"a disclosure may not name the claim {name!r}")
    return Disclosure(encoded, content[0], name, content[2])


def conceal(
    claims: Mapping[str, Any],
    disclosable: Iterable[str],
    *,
    alg: str = "sha-256",
    decoys: int = 0,
    salt: Callable[[], str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The payload with the top-level members named in ``disclosable`` replaced by
    digests in ``_sd`` (sorted, with ``decoys`` random digests, RFC 9901 §4.2.5), and the
    disclosures. Members named but absent are skipped."""
    payload = dict(claims)
    disclosures: list[str] = []
    digests: list[str] = []
    for name in disclosable:
        if name not in payload:
            continue
        if name in NEVER_DISCLOSED:
            raise TokenFormatError(f"{name} is never selectively disclosed in an SD-JWT VC")
        encoded = make_disclosure(name, payload.pop(name), salt() if salt else None)
        disclosures.append(encoded)
        digests.append(digest(encoded, alg))
    digests.extend(b64url_encode(HASHES[alg](secrets.token_bytes(32)).digest()) for _ in range(decoys))
    if digests:
        payload["_sd"] = sorted(digests)
        payload["_sd_alg"] = alg
    return payload, disclosures


def issue(
    header: Mapping[str, Any], payload: Mapping[str, Any], disclosures: Sequence[str], key: PrivateKey
) -> str:
    """An SD-JWT: the issuer-signed JWT, then each disclosure, each followed by ``~``."""
    return sign_compact(header, payload, key) + "~" + "".join(d + "~" for d in disclosures)


@dataclass(frozen=True)
class Parts:
    jwt: str
    disclosures: tuple[str, ...]
    #: empty when the SD-JWT is presented without key binding
    kb_jwt: str
    #: the presented SD-JWT up to and including the ``~`` before the KB-JWT (sd_hash input)
    sd_jwt: str


def split(token: str) -> Parts:
    """RFC 9901 §4: ``jwt~d1~…~dn~[kb-jwt]``."""
    if not isinstance(token, str) or not token.isascii():
        raise TokenFormatError("an SD-JWT is ASCII text")
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenFormatError("the SD-JWT is too large")
    parts = token.split("~")
    if len(parts) < 2:
        raise TokenFormatError("not an SD-JWT: no '~' separator")
    jwt, *middle, kb = parts
    if len(middle) > MAX_DISCLOSURES:
        raise TokenFormatError(f"more than {MAX_DISCLOSURES} disclosures")
    if not jwt or any(not d for d in middle):
        raise TokenFormatError("an SD-JWT has an empty part between '~' separators")
    return Parts(jwt, tuple(middle), kb, token[: len(token) - len(kb)])


def _reveal(
    node: Any, by_digest: dict[str, Disclosure], used: set[str], depth: int, top: bool, seen: set[str]
) -> Any:
    """RFC 9901 §7.1 step 3: replace digests by the disclosed claims, recursively.
    ``seen``: every digest met so far, disclosed or not (§4.1: the same digest value
    MUST NOT appear more than once); ``used``: those a disclosure answered."""
    if depth > MAX_DEPTH:
        raise TokenFormatError("the SD-JWT nests too deeply")
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for name, value in node.items():
            if name == "_sd" or (top and name == "_sd_alg"):
                continue
            out[name] = _reveal(value, by_digest, used, depth + 1, False, seen)
        found = node.get("_sd", [])
        if not isinstance(found, list) or not all(isinstance(d, str) for d in found):
            raise TokenFormatError("_sd is not an array of digests")
        for d in found:
            if d in seen:
                raise TokenFormatError("a digest appears more than once")
            seen.add(d)
            disclosure = by_digest.get(d)
            if disclosure is None:
                continue  # a decoy, or a claim the holder did not disclose
            used.add(d)
            if disclosure.name is None:
                raise TokenFormatError("an array-element disclosure is referenced from an object")
            if disclosure.name in out:
                raise TokenFormatError(f"the disclosed claim {disclosure.name!r} already exists")
            if top and disclosure.name in NEVER_DISCLOSED:
                raise TokenFormatError(f"{disclosure.name} may not be selectively disclosed")
            out[disclosure.name] = _reveal(disclosure.value, by_digest, used, depth + 1, False, seen)
        return out
    if isinstance(node, list):
        items: list[Any] = []
        for element in node:
            if isinstance(element, dict) and "..." in element:
                if len(element) != 1 or not isinstance(element["..."], str):
                    raise TokenFormatError("an array-element digest is an object with '...' alone")
                d = element["..."]
                if d in seen:
                    raise TokenFormatError("a digest appears more than once")
                seen.add(d)
                disclosure = by_digest.get(d)
                if disclosure is None:
                    continue
                used.add(d)
                if disclosure.name is not None:
                    raise TokenFormatError("an object-member disclosure is referenced from an array")
                items.append(_reveal(disclosure.value, by_digest, used, depth + 1, False, seen))
            else:
                items.append(_reveal(element, by_digest, used, depth + 1, False, seen))
        return items
    return node


def sd_alg_of(payload: Mapping[str, Any]) -> str:
    """``_sd_alg`` of an issuer-signed payload (RFC 9901 §4.1.1: a case-sensitive
    string; sha-256 when absent), one this module implements (§7.1 step 2.5)."""
    alg = payload.get("_sd_alg", "sha-256")
    if not isinstance(alg, str) or alg not in HASHES:
        raise TokenFormatError(f"_sd_alg {str(alg)[:20]!r} is not supported")
    return alg


def reveal(
    payload: Mapping[str, Any], disclosures: Sequence[str]
) -> tuple[dict[str, Any], tuple[Disclosure, ...]]:
    """The processed payload (RFC 9901 §7.1 step 3-5) and the disclosures read."""
    alg = sd_alg_of(payload)
    read = tuple(read_disclosure(d) for d in disclosures)
    by_digest: dict[str, Disclosure] = {}
    for disclosure in read:
        key = digest(disclosure.encoded, alg)
        if key in by_digest:
            raise TokenFormatError("the same disclosure is presented twice")
        by_digest[key] = disclosure
    used: set[str] = set()
    claims = _reveal(dict(payload), by_digest, used, 0, True, set())
    if len(used) != len(by_digest):
        raise TokenFormatError("a disclosure is not referenced by the SD-JWT")
    return claims, read


@dataclass(frozen=True)
class KeyBinding:
    """What the verifier expects of a KB-JWT (RFC 9901 §7.3): its audience, the nonce
    it gave, and how old ``iat`` may be."""

    audience: str
    nonce: str
    max_age: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class Verified:
    header: dict[str, Any]
    #: the processed claims: what the issuer signed, with what the holder disclosed
    claims: dict[str, Any]
    disclosures: tuple[Disclosure, ...]
    #: the key-binding JWT's payload when one was presented and verified
    key_binding: dict[str, Any] | None


def _numeric(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if type(value) not in (int, float):
        raise TokenFormatError(f"{name} is not a NumericDate")
    return float(value)


def check_times(
    claims: Mapping[str, Any], now: datetime, leeway: timedelta, what: str = "the SD-JWT"
) -> None:
    """RFC 7519 §4.1.4, §4.1.5: ``exp`` and ``nbf`` hold at ``now`` (with ``leeway``)."""
    stamp, slack = now.timestamp(), leeway.total_seconds()
    nbf, exp = _numeric(claims, "nbf"), _numeric(claims, "exp")
    _numeric(claims, "iat")
    if nbf is not None and stamp + slack < nbf:
        raise TokenFormatError(f"{what} is not valid yet (nbf)")
    if exp is not None and stamp - slack >= exp:
        raise TokenFormatError(f"{what} has expired (exp)")


def verify(
    token: str,
    issuer_key: Callable[[dict[str, Any]], PublicKey],
    now: datetime,
    *,
    key_binding: KeyBinding | None = None,
    require_key_binding: bool = False,
    types: frozenset[str] = SD_JWT_VC_TYPES,
    leeway: timedelta = timedelta(minutes=5),
    check_validity: bool = True,
) -> Verified:
    """Verify an SD-JWT VC as presented. ``issuer_key(header)`` gives the key of the
    issuer-signed JWT (it may raise); the KB-JWT is checked against ``cnf.jwk`` when
    present, and ``aud``/``nonce`` against ``key_binding`` when given (a KB-JWT with no
    expectation given is still checked for signature, ``sd_hash`` and ``iat``)."""
    parts = split(token)
    header = read_header(parts.jwt)
    key = issuer_key(header)
    header, payload = verify_compact(parts.jwt, key, types)
    claims, disclosures = reveal(payload, parts.disclosures)
    vct = claims.get("vct")
    if not isinstance(vct, str) or not vct:
        raise TokenFormatError("an SD-JWT VC has a vct claim (a string)")
    if check_validity:
        check_times(claims, now, leeway)
    bound = None
    if parts.kb_jwt:
        bound = verify_key_binding(parts, claims, now, key_binding, leeway, sd_alg_of(payload))
    elif require_key_binding or key_binding is not None:
        raise TokenFormatError("the SD-JWT is presented without a key-binding JWT")
    return Verified(header, claims, disclosures, bound)


def sd_hash(sd_jwt: str, alg: str = "sha-256") -> str:
    return b64url_encode(HASHES[alg](sd_jwt.encode("ascii")).digest())


def verify_key_binding(
    parts: Parts,
    claims: Mapping[str, Any],
    now: datetime,
    expected: KeyBinding | None,
    leeway: timedelta = timedelta(minutes=5),
    alg: str = "sha-256",
) -> dict[str, Any]:
    """RFC 9901 §7.3 step 5."""
    confirmation = claims.get("cnf")
    if not isinstance(confirmation, Mapping) or "jwk" not in confirmation:
        raise TokenFormatError("a key-binding JWT is presented but the SD-JWT names no holder key (cnf.jwk)")
    holder_key = public_key_of_jwk(confirmation["jwk"])
    _, payload = verify_compact(parts.kb_jwt, holder_key, KB_JWT_TYPE)
    iat = _numeric(payload, "iat")
    if iat is None:
        raise TokenFormatError("the key-binding JWT has no iat")
    stamp, slack = now.timestamp(), leeway.total_seconds()
    if iat > stamp + slack:
        raise TokenFormatError("the key-binding JWT is issued in the future (iat)")
    if expected is not None and iat < stamp - expected.max_age.total_seconds() - slack:
        raise TokenFormatError("the key-binding JWT is too old (iat)")
    # "a valid JWT in all other respects" (§7.3 step 5.8): its own exp and nbf hold.
    check_times(payload, now, leeway, "the key-binding JWT")
    if payload.get("sd_hash") != sd_hash(parts.sd_jwt, alg):
        raise TokenFormatError("the key-binding JWT's sd_hash is not of this SD-JWT")
    if not isinstance(payload.get("nonce"), str) or not payload["nonce"]:
        raise TokenFormatError("the key-binding JWT has no nonce")
    if not audiences(payload.get("aud")):
        raise TokenFormatError("the key-binding JWT has no aud")
    if expected is not None:
        if expected.audience not in audiences(payload["aud"]):
            raise TokenFormatError("the key-binding JWT is for another audience (aud)")
        if not secrets.compare_digest(payload["nonce"].encode(), expected.nonce.encode()):
            raise TokenFormatError("the key-binding JWT's nonce is not the one given")
    return payload


def audiences(aud: Any) -> tuple[str, ...]:
    """The audiences an ``aud`` claim names: one string, or an array of strings (RFC 7519
    §4.1.3); empty when it names none properly."""
    if isinstance(aud, str):
        return (aud,) if aud else ()
    if isinstance(aud, list) and aud and all(isinstance(a, str) and a for a in aud):
        return tuple(aud)
    return ()


def present(
    sd_jwt: str,
    keep: Callable[[Disclosure], bool],
    holder_key: PrivateKey | None = None,
    *,
    audience: str | None = None,
    nonce: str | None = None,
    iat: int | None = None,
) -> str:
    """A presentation: the disclosures ``keep`` selects (a kept claim's nested
    disclosures are the caller's to keep too) and, with ``holder_key``, a KB-JWT."""
    parts = split(sd_jwt)
    kept = [d for d in parts.disclosures if keep(read_disclosure(d))]
    shown = parts.jwt + "~" + "".join(d + "~" for d in kept)
    if holder_key is None:
        return shown
    if audience is None or nonce is None or iat is None:
        raise TokenFormatError("a key-binding JWT needs an audience, a nonce and iat")
    # §4.3.1: sd_hash with the hash algorithm of the disclosures.
    alg = sd_alg_of(json_object_segment(split_compact(parts.jwt)[1], "payload"))
    kb = sign_compact(
        {"typ": KB_JWT_TYPE},
        {"aud": audience, "iat": iat, "nonce": nonce, "sd_hash": sd_hash(shown, alg)},
        holder_key,
    )
    return shown + kb
