"""Ed25519 keys and their public representations.

* private keys saved as PKCS#8 PEM, encrypted with a passphrase. cryptography's
  ``BestAvailableEncryption`` writes PBES2 with AES-256-CBC but only 2,048 PBKDF2
  iterations, and offers no stronger setting for PKCS#8; so the PEM is encrypted with
  a 256-bit secret stretched from the passphrase by scrypt (N=2**15, r=8, p=1,
  random salt). The scrypt parameters and salt stand as an RFC 7468 explanatory line
  before the PEM block; a plain PKCS#8 PEM without that line loads with the
  passphrase as it is (for importing keys made elsewhere);
* public keys as JWK (RFC 8037 ``OKP``/``Ed25519``) and as Multikey
  (``z6Mk…``: base58btc of the multicodec ``ed25519-pub`` prefix and the 32 bytes);
* ``kid`` is the RFC 7638 JWK thumbprint (SHA-256, base64url).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from registry.signing.encoding import (
    ED25519_PRIV,
    ED25519_PUB,
    b64url_decode,
    b64url_encode,
    multibase_decode,
    multibase_encode_b58,
    strip_multicodec,
)
from registry.signing.errors import EncodingError, KeyMaterialError

__all__ = [
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "generate_private_key",
    "jwk_thumbprint",
    "private_key_from_multikey",
    "private_key_from_pem",
    "private_key_to_pem",
    "public_key_from_jwk",
    "public_key_from_multikey",
    "public_key_from_raw",
    "public_key_raw",
    "public_key_to_jwk",
    "public_key_to_multikey",
]


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


_KDF_LINE = b"Registry-KDF: scrypt"
_LOAD_FAILURE = "private key cannot be loaded (wrong passphrase or damaged file)"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1


def _stretch(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    secret = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)
    return b64url_encode(secret).encode("ascii")


def private_key_to_pem(key: Ed25519PrivateKey, passphrase: bytes) -> bytes:
    """Encrypted PKCS#8 PEM (see the module docstring); an empty passphrase is refused."""
    if not passphrase:
        raise KeyMaterialError("a private key is never saved without a passphrase")
    salt = os.urandom(16)
    secret = _stretch(passphrase, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    header = b"%s n=%d r=%d p=%d salt=%s\n" % (
        _KDF_LINE,
        _SCRYPT_N,
        _SCRYPT_R,
        _SCRYPT_P,
        b64url_encode(salt).encode("ascii"),
    )
    return header + key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    )


def _pem_secret(pem: bytes, passphrase: bytes) -> tuple[bytes, bytes]:
    if not pem.startswith(_KDF_LINE):
        return pem, passphrase
    line, _, rest = pem.partition(b"\n")
    try:
        fields = dict(item.split(b"=", 1) for item in line[len(_KDF_LINE) :].split())
        n, r, p = int(fields[b"n"]), int(fields[b"r"]), int(fields[b"p"])
        salt = b64url_decode(fields[b"salt"])
    except (KeyError, ValueError, EncodingError):
        raise KeyMaterialError("private key file has a malformed KDF line") from None
    # At most 256 MiB of scrypt memory (128 * n * r bytes), whatever the file asks for.
    if not (
        2**14 <= n <= 2**20
        and n & (n - 1) == 0
        and 1 <= r <= 32
        and 128 * n * r <= 2**28
        and 1 <= p <= 16
        and len(salt) >= 16
    ):
        raise KeyMaterialError("private key file asks for KDF parameters outside the accepted range")
    return rest, _stretch(passphrase, salt, n, r, p)


def private_key_from_pem(pem: bytes, passphrase: bytes) -> Ed25519PrivateKey:
    if not passphrase:  # keys are only ever loaded from encrypted files
        raise KeyMaterialError(_LOAD_FAILURE) from None
    pem, secret = _pem_secret(pem, passphrase)
    try:
        key = serialization.load_pem_private_key(pem, password=secret)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # Wrong passphrase, unencrypted PEM or damaged file: one message for all, so
        # the error says nothing about the key.
        raise KeyMaterialError(_LOAD_FAILURE) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyMaterialError("private key is not an Ed25519 key")
    return key


def public_key_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# Curve25519 in Edwards form (RFC 8032 §5.1): p, d.
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _edwards_add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = a, b
    t = _D * x1 * x2 * y1 * y2 % _P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, _P - 2, _P) % _P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, _P - 2, _P) % _P
    return x3, y3


def _is_weak_public_key(raw: bytes) -> bool:
    """True for encodings no honest key has: a non-canonical y (>= p), a y that is not
    on the curve, or a point of small order (8P is the identity). With a small-order
    public key, the all-zero signature scalar verifies for any message under
    cofactorless verification, so such keys would let anyone "sign" as a did:key."""
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    sign = raw[31] >> 7
    if y >= _P:
        return True
    # RFC 8032 §5.1.3 decoding: x^2 = (y^2 - 1) / (d y^2 + 1).
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if v * x * x % _P == (-u) % _P:
        x = x * _SQRT_M1 % _P
    elif v * x * x % _P != u:
        return True  # not on the curve
    if x == 0 and sign:
        return True
    if x & 1 != sign:
        x = _P - x
    point = (x, y)
    for _ in range(3):
        point = _edwards_add(point, point)
    return point == (0, 1)


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    if not isinstance(raw, bytes) or len(raw) != 32:
        raise KeyMaterialError("an Ed25519 public key is 32 bytes")
    return _checked_public_key(raw)


@functools.lru_cache(maxsize=4096)
def _checked_public_key(raw: bytes) -> Ed25519PublicKey:
    # The weak-key check costs ~1 ms in Python; a node sees few distinct keys, and
    # public key objects are immutable, so each is checked and built once.
    if _is_weak_public_key(raw):
        raise KeyMaterialError("not a valid Ed25519 public key (small order or not canonical)")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise KeyMaterialError("not a valid Ed25519 public key") from None


def public_key_to_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public_key_raw(key))}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """An Ed25519 public JWK (RFC 8037). A JWK that carries a private part is refused:
    a public key slot must never be fed a private key."""
    if not isinstance(jwk, Mapping):
        raise KeyMaterialError("JWK must be a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeyMaterialError("JWK is not an Ed25519 (OKP) key")
    if "d" in jwk:
        raise KeyMaterialError("JWK holds private key material")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise KeyMaterialError("JWK has no 'x' member")
    try:
        return public_key_from_raw(b64url_decode(x))
    except EncodingError as exc:
        raise KeyMaterialError(f"JWK 'x' is not base64url: {exc.detail}") from None


def jwk_thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 §3: SHA-256 over the required members in lexicographic order."""
    jwk = public_key_to_jwk(key)
    members = '{"crv":"Ed25519","kty":"OKP","x":"' + jwk["x"] + '"}'
    return b64url_encode(hashlib.sha256(members.encode("ascii")).digest())


def public_key_to_multikey(key: Ed25519PublicKey) -> str:
    return multibase_encode_b58(ED25519_PUB + public_key_raw(key))


def public_key_from_multikey(value: str) -> Ed25519PublicKey:
    """An Ed25519 Multikey; vc-di-eddsa §2.1.1 requires the base58btc (``z``) form."""
    if not isinstance(value, str) or not value.startswith("z"):
        raise KeyMaterialError("an Ed25519 Multikey is base58btc multibase ('z…')")
    try:
        raw = strip_multicodec(multibase_decode(value), ED25519_PUB, 32, "Ed25519 public key")
    except EncodingError as exc:
        raise KeyMaterialError(f"not an Ed25519 Multikey: {exc.detail}") from None
    return public_key_from_raw(raw)


def private_key_from_multikey(value: str) -> Ed25519PrivateKey:
    """A ``z3u2…`` secret-key Multikey (multicodec ``ed25519-priv``), as in test vectors."""
    try:
        raw = strip_multicodec(multibase_decode(value), ED25519_PRIV, 32, "Ed25519 private key")
    except EncodingError as exc:
        raise KeyMaterialError(f"not an Ed25519 secret Multikey: {exc.detail}") from None
    return Ed25519PrivateKey.from_private_bytes(raw)
