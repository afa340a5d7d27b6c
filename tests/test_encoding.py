"""Strict byte encodings: unpadded base64url (RFC 7515 §2, RFC 4648 §5), base58btc,
multibase (``z``/``u``) and multicodec prefixes. Every decoder accepts exactly one
spelling per byte string and raises :class:`EncodingError` for anything else."""

from __future__ import annotations

import base64
import random

import pytest

from registry.errors import RegistryError
from registry.signing.encoding import (
    ED25519_PRIV,
    ED25519_PUB,
    b58_decode,
    b58_encode,
    b64url_decode,
    b64url_encode,
    multibase_decode,
    multibase_encode_b58,
    strip_multicodec,
)
from registry.signing.errors import EncodingError, SigningError

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def sample_bytes(length: int) -> bytes:
    """Deterministic bytes of ``length``, different for every length."""
    return random.Random(length).randbytes(length)


# --- the error type ------------------------------------------------------------------


def test_encoding_error_is_a_registry_error_and_a_value_error() -> None:
    assert issubclass(EncodingError, SigningError)
    assert issubclass(EncodingError, RegistryError)
    assert issubclass(EncodingError, ValueError)
    assert EncodingError.slug == "bad-encoding"


# --- base64url -----------------------------------------------------------------------


@pytest.mark.parametrize("length", range(41))
def test_b64url_round_trip(length: int) -> None:
    data = sample_bytes(length)
    text = b64url_encode(data)
    assert "=" not in text
    assert set(text) <= set(B64URL_ALPHABET)
    assert len(text) % 4 != 1
    assert b64url_decode(text) == data
    assert b64url_decode(text.encode("ascii")) == data


def test_b64url_matches_rfc_4648_test_vectors() -> None:
    # RFC 4648 §10, unpadded.
    vectors = {b"": "", b"f": "Zg", b"fo": "Zm8", b"foo": "Zm9v", b"foob": "Zm9vYg", b"fooba": "Zm9vYmE"}
    for data, text in vectors.items():
        assert b64url_encode(data) == text
        assert b64url_decode(text) == data


def test_b64url_uses_the_url_safe_alphabet() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"


@pytest.mark.parametrize(
    "text",
    [
        "Zg==",  # padding
        "Zm8=",  # padding
        "Zg=",
        "+_8",  # standard alphabet '+'
        "-/8",  # standard alphabet '/'
        "Zm9v+w",
        "Zm9v/w",
        "Zmé9",  # non-ASCII
        "Zm9v\u00a0",
        "A",  # len % 4 == 1
        "Zm9vY",
        "Zm9vYmFyY",
        "Zm9*",  # outside the alphabet
        "Zm 9",
        "Zm9v\n",
        "Zm\n9v",
        "AB",  # non-zero trailing bits: "AA" is the one spelling of b"\x00"
        "QR",
        "Zm9",  # "Zm8" is the spelling of b"fo"
    ],
)
def test_b64url_rejects(text: str) -> None:
    with pytest.raises(EncodingError):
        b64url_decode(text)


def test_b64url_rejects_non_ascii_bytes() -> None:
    with pytest.raises(EncodingError):
        b64url_decode(b"\xff\xfe")


@pytest.mark.parametrize("length", [n for n in range(1, 41) if n % 3])
def test_b64url_rejects_every_non_canonical_spelling(length: int) -> None:
    """Setting an unused low bit in the last character keeps the decoded bytes for a
    lenient decoder; the strict one refuses it."""
    text = b64url_encode(sample_bytes(length))
    index = B64URL_ALPHABET.index(text[-1])
    assert index % 2 == 0  # the unused trailing bits are clear in the canonical spelling
    tampered = text[:-1] + B64URL_ALPHABET[index + 1]
    # A lenient decoder yields the same bytes, which is why this must be refused.
    assert base64.urlsafe_b64decode(tampered + "=" * (-len(tampered) % 4)) == sample_bytes(length)
    with pytest.raises(EncodingError, match="canonical"):
        b64url_decode(tampered)


def test_b64url_canonical_one_byte() -> None:
    assert b64url_decode("AA") == b"\x00"
    with pytest.raises(EncodingError):
        b64url_decode("AB")


# --- base58btc -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x00\x00\x00\x01",
        b"\x00\xff",
        b"\x01",
        b"\xff" * 32,
        bytes(range(64)),
        *(sample_bytes(n) for n in range(1, 41, 3)),
    ],
)
def test_b58_round_trip(data: bytes) -> None:
    text = b58_encode(data)
    assert b58_decode(text) == data
    # Each leading zero byte is one leading '1'.
    zeros = len(data) - len(data.lstrip(b"\x00"))
    assert len(text) - len(text.lstrip("1")) == zeros


def test_b58_known_values() -> None:
    # draft-msporny-base58 §5 examples.
    assert b58_encode(b"Hello World!") == "2NEpo7TZRRrLZSi2U"
    assert b58_encode(b"The quick brown fox jumps over the lazy dog.") == (
        "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"
    )
    assert b58_decode("11233QC4") == bytes.fromhex("0000287fb4cd")
    assert b58_encode(bytes.fromhex("0000287fb4cd")) == "11233QC4"


@pytest.mark.parametrize("text", ["0", "O", "I", "l", "2O", "3l2", "z0", " 2", "2 ", "2\n", "+", "é"])
def test_b58_rejects_characters_outside_the_alphabet(text: str) -> None:
    with pytest.raises(EncodingError):
        b58_decode(text)


# --- multibase -----------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 2, 31, 32, 34, 64])
def test_multibase_base58btc_round_trip(length: int) -> None:
    data = sample_bytes(length)
    text = multibase_encode_b58(data)
    assert text[0] == "z"
    assert text[1:] == b58_encode(data)
    assert multibase_decode(text) == data


@pytest.mark.parametrize("length", [0, 1, 2, 31, 32, 34, 64])
def test_multibase_base64url_decodes(length: int) -> None:
    data = sample_bytes(length)
    assert multibase_decode("u" + b64url_encode(data)) == data


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "f00",  # base16, not supported
        "m" + base64.b64encode(b"abc").decode(),  # base64 (standard), not supported
        "Zabc",  # prefixes are case-sensitive
        "Uabc",
        "z0",  # bad base58 body
        "zOIl",
        "uZg==",  # padded base64url body
        "uAB",  # non-canonical base64url body
        "uA",  # impossible length
        "u+_8",
    ],
)
def test_multibase_rejects(text: str) -> None:
    with pytest.raises(EncodingError):
        multibase_decode(text)


@pytest.mark.parametrize("value", [None, b"zabc", 42])
def test_multibase_rejects_non_strings(value: object) -> None:
    with pytest.raises(EncodingError):
        multibase_decode(value)  # type: ignore[arg-type]


# --- multicodec ----------------------------------------------------------------------


def test_multicodec_prefixes_are_the_unsigned_varints() -> None:
    assert bytes([0xED, 0x01]) == ED25519_PUB  # 0xed ed25519-pub
    assert bytes([0x80, 0x26]) == ED25519_PRIV  # 0x1300 ed25519-priv


def test_strip_multicodec() -> None:
    body = sample_bytes(32)
    assert strip_multicodec(ED25519_PUB + body, ED25519_PUB, 32, "key") == body


@pytest.mark.parametrize(
    "data",
    [
        ED25519_PRIV + bytes(32),  # other codec
        ED25519_PUB + bytes(31),  # short
        ED25519_PUB + bytes(33),  # long
        ED25519_PUB,
        b"",
        bytes(34),
    ],
)
def test_strip_multicodec_rejects(data: bytes) -> None:
    with pytest.raises(EncodingError):
        strip_multicodec(data, ED25519_PUB, 32, "Ed25519 public key")
