"""Ed25519 keys: encrypted PKCS#8 PEM, JWK (RFC 8037), RFC 7638 thumbprints and
Multikey, against RFC 8037 Appendix A and the W3C eddsa-jcs-2022 key pair."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from registry.errors import RegistryError
from registry.signing.encoding import (
    ED25519_PRIV,
    ED25519_PUB,
    b58_encode,
    b64url_encode,
    multibase_encode_b58,
)
from registry.signing.errors import KeyMaterialError
from registry.signing.keys import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    generate_private_key,
    jwk_thumbprint,
    private_key_from_multikey,
    private_key_from_pem,
    private_key_to_pem,
    public_key_from_jwk,
    public_key_from_multikey,
    public_key_from_raw,
    public_key_raw,
    public_key_to_jwk,
    public_key_to_multikey,
)
from tests.conftest import load_vector_json

# RFC 8037 Appendix A.1 (private key) and A.3 (thumbprint of the public key).
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

PASSPHRASE = b"correct horse battery staple"
NO_ENCRYPTION = serialization.NoEncryption()
LOAD_FAILURE = "private key cannot be loaded (wrong passphrase or damaged file)"


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rfc8037_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(b64url(RFC8037_D))


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return rfc8037_private_key()


@pytest.fixture(scope="module")
def pem(key: Ed25519PrivateKey) -> bytes:
    return private_key_to_pem(key, PASSPHRASE)


def same_public_key(a: Ed25519PublicKey, b: Ed25519PublicKey) -> bool:
    return public_key_raw(a) == public_key_raw(b)


def test_key_material_error_is_a_registry_error_and_a_value_error() -> None:
    assert issubclass(KeyMaterialError, RegistryError)
    assert issubclass(KeyMaterialError, ValueError)
    assert KeyMaterialError.slug == "bad-key"


# --- PEM ---------------------------------------------------------------------------------
# The node's own files: a "Registry-KDF: scrypt n=… r=… p=… salt=…" line, then a PKCS#8
# PEM encrypted with base64url(scrypt(passphrase)). A plain encrypted PKCS#8 PEM made
# elsewhere loads with the passphrase as it is.

KDF_LINE = re.compile(rb"^Registry-KDF: scrypt n=(\d+) r=(\d+) p=(\d+) salt=([A-Za-z0-9_-]+)\n")


def split_pem(pem: bytes) -> tuple[re.Match[bytes], bytes]:
    match = KDF_LINE.match(pem)
    assert match is not None, pem[:80]
    return match, pem[match.end() :]


def der_of(pem: bytes) -> bytes:
    body = pem.split(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")[1].split(b"-----END")[0]
    return base64.b64decode(b"".join(body.split()))


def raw_seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, NO_ENCRYPTION)


def test_pem_round_trip_keeps_the_key(key: Ed25519PrivateKey, pem: bytes) -> None:
    _, block = split_pem(pem)
    assert block.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    loaded = private_key_from_pem(pem, PASSPHRASE)
    assert same_public_key(loaded.public_key(), key.public_key())
    message = b"signed with the loaded key"
    key.public_key().verify(loaded.sign(message), message)


def test_pem_round_trip_of_a_generated_key() -> None:
    fresh = generate_private_key()
    loaded = private_key_from_pem(private_key_to_pem(fresh, b"x"), b"x")
    assert same_public_key(loaded.public_key(), fresh.public_key())


def test_pem_kdf_line_states_scrypt_parameters_and_a_random_salt(key: Ed25519PrivateKey, pem: bytes) -> None:
    match, _ = split_pem(pem)
    assert (int(match[1]), int(match[2]), int(match[3])) == (2**15, 8, 1)
    assert len(b64url(match[4].decode())) == 16
    other, _ = split_pem(private_key_to_pem(key, PASSPHRASE))
    assert other[4] != match[4]


def test_pem_is_encrypted_with_the_scrypt_stretched_passphrase(key: Ed25519PrivateKey, pem: bytes) -> None:
    match, block = split_pem(pem)
    n, r, p = int(match[1]), int(match[2]), int(match[3])
    secret = Scrypt(salt=b64url(match[4].decode()), length=32, n=n, r=r, p=p).derive(PASSPHRASE)
    loaded = serialization.load_pem_private_key(block, password=base64.urlsafe_b64encode(secret).rstrip(b"="))
    assert isinstance(loaded, Ed25519PrivateKey)
    assert raw_seed(loaded) == raw_seed(key)
    # The bare passphrase does not open the PKCS#8 block.
    with pytest.raises(ValueError, match=r"Bad decrypt|Incorrect password"):
        serialization.load_pem_private_key(block, password=PASSPHRASE)


def test_pem_without_its_kdf_line_does_not_load_with_the_passphrase(pem: bytes) -> None:
    _, block = split_pem(pem)
    with pytest.raises(KeyMaterialError):
        private_key_from_pem(block, PASSPHRASE)


def test_pem_does_not_hold_the_raw_private_key(key: Ed25519PrivateKey, pem: bytes) -> None:
    assert raw_seed(key) not in der_of(pem)
    assert raw_seed(key) not in pem


def test_plain_pkcs8_pem_made_elsewhere_loads_with_the_passphrase(key: Ed25519PrivateKey) -> None:
    imported = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE),
    )
    assert same_public_key(private_key_from_pem(imported, PASSPHRASE).public_key(), key.public_key())
    with pytest.raises(KeyMaterialError):
        private_key_from_pem(imported, b"wrong")


@pytest.mark.parametrize("passphrase", [b"", None])
def test_pem_refuses_to_save_without_a_passphrase(key: Ed25519PrivateKey, passphrase: bytes | None) -> None:
    with pytest.raises(KeyMaterialError):
        private_key_to_pem(key, passphrase)  # type: ignore[arg-type]


@pytest.mark.parametrize("wrong", [b"", b"correct horse battery stapl", b"Correct horse battery staple"])
def test_pem_wrong_passphrase(pem: bytes, wrong: bytes) -> None:
    with pytest.raises(KeyMaterialError) as info:
        private_key_from_pem(pem, wrong)
    error = info.value
    assert error.detail == LOAD_FAILURE
    assert str(error) == LOAD_FAILURE
    # Nothing about the key, the passphrases or the underlying library error.
    for secret in (PASSPHRASE, wrong, pem):
        if secret:
            assert secret.decode() not in error.detail
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_pem_unencrypted_is_refused_when_a_passphrase_is_given(key: Ed25519PrivateKey) -> None:
    plain = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, NO_ENCRYPTION)
    with pytest.raises(KeyMaterialError) as info:
        private_key_from_pem(plain, PASSPHRASE)
    assert info.value.detail == LOAD_FAILURE


@pytest.mark.parametrize(
    "damaged",
    [
        b"",
        b"not a pem",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    ],
)
def test_pem_damaged_file(damaged: bytes) -> None:
    with pytest.raises(KeyMaterialError) as info:
        private_key_from_pem(damaged, PASSPHRASE)
    assert info.value.detail == LOAD_FAILURE


def test_pem_truncated(pem: bytes) -> None:
    lines = pem.splitlines(keepends=True)
    truncated = b"".join([lines[0], lines[1], lines[2][:20] + b"\n", lines[-1]])
    with pytest.raises(KeyMaterialError):
        private_key_from_pem(truncated, PASSPHRASE)


SALT = b64url_encode(bytes(16)).encode()


@pytest.mark.parametrize(
    "line",
    [
        b"Registry-KDF: scrypt n=8192 r=8 p=1 salt=" + SALT,  # n below 2**14
        b"Registry-KDF: scrypt n=2097152 r=8 p=1 salt=" + SALT,  # n above 2**20
        b"Registry-KDF: scrypt n=49152 r=8 p=1 salt=" + SALT,  # not a power of two
        b"Registry-KDF: scrypt n=32768 r=0 p=1 salt=" + SALT,
        b"Registry-KDF: scrypt n=32768 r=33 p=1 salt=" + SALT,
        b"Registry-KDF: scrypt n=32768 r=8 p=0 salt=" + SALT,
        b"Registry-KDF: scrypt n=32768 r=8 p=17 salt=" + SALT,
        b"Registry-KDF: scrypt n=32768 r=8 p=1 salt=" + b64url_encode(bytes(8)).encode(),  # short salt
        b"Registry-KDF: scrypt n=32768 r=8 p=1",  # no salt
        b"Registry-KDF: scrypt n=32768 r=8 p=1 salt=AAAA=",  # padded salt
        b"Registry-KDF: scrypt n=lots r=8 p=1 salt=" + SALT,
        b"Registry-KDF: scrypt n r=8 p=1 salt=" + SALT,
    ],
)
def test_pem_with_a_bad_kdf_line_is_refused(pem: bytes, line: bytes) -> None:
    _, block = split_pem(pem)
    with pytest.raises(KeyMaterialError) as info:
        private_key_from_pem(line + b"\n" + block, PASSPHRASE)
    assert "KDF" in info.value.detail
    assert PASSPHRASE.decode() not in info.value.detail


def test_pem_of_another_key_type_is_refused() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    other = p256.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE),
    )
    with pytest.raises(KeyMaterialError, match="not an Ed25519 key"):
        private_key_from_pem(other, PASSPHRASE)


# --- raw public keys -------------------------------------------------------------------------


def test_public_key_raw_round_trip(key: Ed25519PrivateKey) -> None:
    raw = public_key_raw(key.public_key())
    assert raw == b64url(RFC8037_X)
    assert public_key_raw(public_key_from_raw(raw)) == raw


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_public_key_from_raw_rejects_wrong_length(length: int) -> None:
    with pytest.raises(KeyMaterialError):
        public_key_from_raw(bytes(length))


# --- JWK ------------------------------------------------------------------------------------


def test_jwk_of_rfc_8037_key(key: Ed25519PrivateKey) -> None:
    # RFC 8037 Appendix A.2: the public key of A.1.
    assert public_key_to_jwk(key.public_key()) == {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}


def test_jwk_round_trip() -> None:
    public_key = generate_private_key().public_key()
    jwk = public_key_to_jwk(public_key)
    assert set(jwk) == {"kty", "crv", "x"}
    assert same_public_key(public_key_from_jwk(jwk), public_key)


def test_jwk_with_optional_public_members_is_accepted() -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "k", "use": "sig", "alg": "EdDSA"}
    assert public_key_raw(public_key_from_jwk(jwk)) == b64url(RFC8037_X)


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "Ed25519", "x": RFC8037_X},
        {"kty": "OKP", "crv": "X25519", "x": RFC8037_X},
        {"kty": "OKP", "crv": "Ed448", "x": RFC8037_X},
        {"kty": "okp", "crv": "Ed25519", "x": RFC8037_X},
        {"crv": "Ed25519", "x": RFC8037_X},
        {"kty": "OKP", "x": RFC8037_X},
        {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": RFC8037_D},  # private part
        {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": ""},
        {"kty": "OKP", "crv": "Ed25519"},  # no x
        {"kty": "OKP", "crv": "Ed25519", "x": None},
        {"kty": "OKP", "crv": "Ed25519", "x": list(b64url(RFC8037_X))},
        {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X[:-1]},  # 42 characters: 31 bytes and 4 stray bits
        {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(b64url(RFC8037_X)[:31])},  # 31 bytes
        {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(b64url(RFC8037_X) + b"\x00")},  # 33 bytes
        {"kty": "OKP", "crv": "Ed25519", "x": ""},
        {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X + "="},  # padded
        {"kty": "OKP", "crv": "Ed25519", "x": base64.b64encode(b"\xfb" * 32).decode()},  # '+', '/'
        {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X[:-1] + "p"},  # non-canonical trailing bits
    ],
)
def test_jwk_rejects(jwk: dict[str, object]) -> None:
    with pytest.raises(KeyMaterialError):
        public_key_from_jwk(jwk)


def test_jwk_non_canonical_x_is_the_same_bytes_to_a_lenient_decoder() -> None:
    # The tampered spelling used above decodes to the RFC key with a lenient decoder.
    assert b64url(RFC8037_X[:-1] + "p") == b64url(RFC8037_X)


@pytest.mark.parametrize("jwk", [None, "{}", [("kty", "OKP")], 42])
def test_jwk_must_be_an_object(jwk: object) -> None:
    with pytest.raises(KeyMaterialError):
        public_key_from_jwk(jwk)  # type: ignore[arg-type]


# --- thumbprint (RFC 7638) --------------------------------------------------------------------


def test_thumbprint_matches_rfc_8037_appendix_a3() -> None:
    public_key = public_key_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X})
    assert jwk_thumbprint(public_key) == RFC8037_THUMBPRINT


def test_thumbprint_of_rfc_private_key_matches(key: Ed25519PrivateKey) -> None:
    assert jwk_thumbprint(key.public_key()) == RFC8037_THUMBPRINT


def test_thumbprint_is_sha256_of_the_sorted_required_members() -> None:
    public_key = generate_private_key().public_key()
    jwk = public_key_to_jwk(public_key)
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"))
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    thumbprint = jwk_thumbprint(public_key)
    assert thumbprint == expected
    assert len(thumbprint) == 43


def test_thumbprints_differ_between_keys() -> None:
    assert jwk_thumbprint(generate_private_key().public_key()) != jwk_thumbprint(
        generate_private_key().public_key()
    )


# --- Multikey -----------------------------------------------------------------------------------


def test_multikey_round_trip(key: Ed25519PrivateKey) -> None:
    multikey = public_key_to_multikey(key.public_key())
    assert multikey.startswith("z6Mk")
    assert multikey == multibase_encode_b58(ED25519_PUB + b64url(RFC8037_X))
    assert same_public_key(public_key_from_multikey(multikey), key.public_key())


def test_multikey_w3c_key_pair() -> None:
    pair = load_vector_json("eddsa-jcs-2022", "keyPair.json")
    private_key = private_key_from_multikey(pair["privateKeyMultibase"])
    assert public_key_to_multikey(private_key.public_key()) == pair["publicKeyMultibase"]
    public_key = public_key_from_multikey(pair["publicKeyMultibase"])
    assert same_public_key(public_key, private_key.public_key())


def test_secret_multikey_round_trip(key: Ed25519PrivateKey) -> None:
    secret = "z" + b58_encode(ED25519_PRIV + raw_seed(key))
    assert secret.startswith("z3u2")
    assert same_public_key(private_key_from_multikey(secret).public_key(), key.public_key())


RAW = bytes(range(1, 33))


@pytest.mark.parametrize(
    "value",
    [
        "z" + b58_encode(ED25519_PRIV + RAW),  # secret-key codec in a public slot
        "z" + b58_encode(bytes([0xEC, 0x01]) + RAW),  # x25519-pub
        "z" + b58_encode(bytes([0xE7, 0x01]) + bytes([2]) + RAW),  # secp256k1-pub
        "z" + b58_encode(ED25519_PUB + RAW[:31]),
        "z" + b58_encode(ED25519_PUB + RAW + b"\x00"),
        "z" + b58_encode(RAW),  # no codec
        "z",
        "",
        "z0OIl",
        "f" + (ED25519_PUB + RAW).hex(),
        "u" + b64url_encode(ED25519_PUB + RAW) + "=",
    ],
)
def test_public_multikey_rejects(value: str) -> None:
    with pytest.raises(KeyMaterialError):
        public_key_from_multikey(value)


@pytest.mark.parametrize(
    "value",
    [
        "z" + b58_encode(ED25519_PUB + RAW),  # public codec in a secret slot
        "z" + b58_encode(ED25519_PRIV + RAW[:31]),
        "z" + b58_encode(ED25519_PRIV + RAW + RAW),  # 64-byte expanded key
        "z" + b58_encode(RAW),
        "",
        "zl",
    ],
)
def test_secret_multikey_rejects(value: str) -> None:
    with pytest.raises(KeyMaterialError):
        private_key_from_multikey(value)


def test_public_multikey_must_be_base58btc() -> None:
    """vc-di-eddsa §2.1.1: the publicKeyMultibase of an Ed25519 Multikey starts with 'z'."""
    with pytest.raises(KeyMaterialError):
        public_key_from_multikey("u" + b64url_encode(ED25519_PUB + b64url(RFC8037_X)))


# --- weak keys (review finding: small-order keys let anyone "sign") ----------------------

SMALL_ORDER_ENCODINGS = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p: not canonical
]


@pytest.mark.parametrize("hex_key", SMALL_ORDER_ENCODINGS)
def test_small_order_and_non_canonical_public_keys_are_refused(hex_key: str) -> None:
    with pytest.raises(KeyMaterialError, match="small order"):
        public_key_from_raw(bytes.fromhex(hex_key))


def test_small_order_did_key_cannot_sign_for_anyone() -> None:
    from registry.credentials.sample import sample_title_credential
    from registry.signing import data_integrity
    from registry.signing.did import DidResolver
    from registry.signing.encoding import ED25519_PUB, b58_encode, multibase_encode_b58
    from registry.signing.errors import ResolutionError
    from tests.conftest import NOW

    multikey = multibase_encode_b58(ED25519_PUB + b"\x01" + bytes(31))
    did = f"did:key:{multikey}"
    credential = sample_title_credential(did, "https://x.example", NOW)
    forged = {
        **credential,
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-jcs-2022",
            "created": "2026-11-27T07:00:00Z",
            "verificationMethod": f"{did}#{multikey}",
            "proofPurpose": "assertionMethod",
            "@context": credential["@context"],
            "proofValue": "z" + b58_encode(b"\x01" + bytes(63)),
        },
    }
    with pytest.raises(ResolutionError):
        data_integrity.verify_issuer_proof(forged, DidResolver(), NOW)


def test_honest_keys_pass_the_weak_key_check() -> None:
    for _ in range(50):
        raw = public_key_raw(generate_private_key().public_key())
        assert public_key_raw(public_key_from_raw(raw)) == raw
