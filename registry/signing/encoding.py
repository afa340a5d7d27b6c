"""Byte encodings used by the signing core: base64url (RFC 7515 §2), base58btc,
multibase (``z`` = base58btc, ``u`` = base64url) and the multicodec prefixes of
Ed25519 keys. All decoders are strict: a string that is not the canonical encoding of
some byte string is rejected, so one value has exactly one accepted spelling.
"""

from __future__ import annotations

import base64
import binascii

import based58

from registry.signing.errors import EncodingError

# --- base64url without padding (RFC 7515 §2, RFC 4648 §5) -----------------------

_URLSAFE_TO_STD = bytes.maketrans(b"-_", b"+/")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Decode unpadded base64url, rejecting padding, '+', '/', stray characters and
    non-zero trailing bits (a non-canonical spelling of the same bytes)."""
    try:
        raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    except UnicodeEncodeError:
        raise EncodingError("base64url text contains non-ASCII characters") from None
    if len(raw) % 4 == 1:
        raise EncodingError("base64url text has an impossible length")
    if b"+" in raw or b"/" in raw or b"=" in raw:
        raise EncodingError("base64url text contains '+', '/' or '='")
    try:
        data = binascii.a2b_base64(raw.translate(_URLSAFE_TO_STD) + b"=" * (-len(raw) % 4), strict_mode=True)
    except binascii.Error as exc:
        raise EncodingError("text is not base64url") from exc
    # a2b_base64 ignores set trailing bits; the canonical spelling has them clear.
    if raw and base64.urlsafe_b64encode(data).rstrip(b"=") != raw:
        raise EncodingError("base64url text is not canonical")
    return data


# --- base58btc (the Bitcoin alphabet) ---------------------------------------------
# based58 (Rust) decodes a 64-byte signature in ~2.7 us where a Python loop takes
# ~8-10 us; on the eddsa-jcs-2022 verify path that difference is ~5% of the budget
# (bench/signing.py).


def b58_encode(data: bytes) -> str:
    return str(based58.b58encode(data).decode("ascii"))


# Base58 decoding is quadratic in the length; this registry only decodes keys (34-35
# bytes with their multicodec prefix) and signatures (64 bytes), so anything longer
# than this is refused before any arithmetic.
MAX_B58_CHARS = 128


def b58_decode(text: str) -> bytes:
    if not isinstance(text, str) or len(text) > MAX_B58_CHARS:
        raise EncodingError("base58btc value is not text of at most 128 characters")
    try:
        return bytes(based58.b58decode(text.encode("ascii")))
    except (UnicodeEncodeError, AttributeError, ValueError):
        raise EncodingError("text is not base58btc") from None


# --- multibase ---------------------------------------------------------------------


def multibase_encode_b58(data: bytes) -> str:
    return "z" + b58_encode(data)


def multibase_decode(text: str) -> bytes:
    """Decode a multibase string in base58btc (``z``) or base64url (``u``)."""
    if not isinstance(text, str) or not text:
        raise EncodingError("multibase value must be a non-empty string")
    prefix, body = text[0], text[1:]
    if prefix == "z":
        return b58_decode(body)
    if prefix == "u":
        return b64url_decode(body)
    raise EncodingError(f"unsupported multibase prefix {prefix!r}")


# --- multicodec (unsigned varint prefixes) ----------------------------------------

ED25519_PUB = b"\xed\x01"  # 0xed, ed25519-pub
ED25519_PRIV = b"\x80\x26"  # 0x1300, ed25519-priv


def strip_multicodec(data: bytes, prefix: bytes, length: int, what: str) -> bytes:
    if not data.startswith(prefix) or len(data) != len(prefix) + length:
        raise EncodingError(f"value is not a multicodec {what}")
    return data[len(prefix) :]
