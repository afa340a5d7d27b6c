"""eddsa-jcs-2022: the W3C vectors byte for byte, and every way a proof must fail."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.credentials.sample import sample_title_credential
from registry.signing import data_integrity as di
from registry.signing import jcs
from registry.signing.did import DidResolver, did_web, did_web_document
from registry.signing.encoding import b58_decode, b58_encode
from registry.signing.errors import (
    InvalidSignatureError,
    IssuerMismatchError,
    ProofConfigurationError,
    ResolutionError,
    SigningError,
    VerificationError,
)
from registry.signing.keyring import KeyRing
from registry.signing.keys import generate_private_key, private_key_from_multikey
from tests.conftest import NOW, DidKeyIssuer, load_vector_json, vector_path

VECTOR_CREATED = "2023-02-24T23:36:38Z"


def _text(name: str) -> str:
    return vector_path("eddsa-jcs-2022", name).read_text().strip()


# --- the W3C vectors ---------------------------------------------------------------


def test_vector_intermediates_are_reproduced() -> None:
    unsigned = load_vector_json("eddsa-jcs-2022", "unsigned.json")
    proof_config = load_vector_json("eddsa-jcs-2022", "proofConfigJCS.json")
    canonical_document = jcs.canonicalize(unsigned)
    canonical_config = jcs.canonicalize(proof_config)
    assert canonical_document.decode() == _text("canonDocJCS.txt")
    assert canonical_config.decode() == _text("proofCanonJCS.txt")
    document_hash = hashlib.sha256(canonical_document).hexdigest()
    config_hash = hashlib.sha256(canonical_config).hexdigest()
    assert document_hash == _text("docHashJCS.txt")
    assert config_hash == _text("proofHashJCS.txt")
    assert config_hash + document_hash == _text("combinedHashJCS.txt")
    assert di._hash_data(unsigned, proof_config).hex() == _text("combinedHashJCS.txt")


def test_vector_signature_and_signed_document_are_reproduced() -> None:
    key_pair = load_vector_json("eddsa-jcs-2022", "keyPair.json")
    key = private_key_from_multikey(key_pair["privateKeyMultibase"])
    unsigned = load_vector_json("eddsa-jcs-2022", "unsigned.json")
    proof_config = load_vector_json("eddsa-jcs-2022", "proofConfigJCS.json")
    created = di.parse_datetime(VECTOR_CREATED, "created")
    signed = di.add_proof(unsigned, key, proof_config["verificationMethod"], created)
    signature = b58_decode(signed["proof"]["proofValue"][1:])
    assert signature.hex() == _text("sigHexJCS.txt")
    assert signed["proof"]["proofValue"] == _text("sigBTC58JCS.txt")
    assert jcs.canonicalize(signed) == jcs.canonicalize(load_vector_json("eddsa-jcs-2022", "signedJCS.json"))


def test_vector_signed_document_verifies_but_its_issuer_does_not_control_the_key(
    resolver: DidResolver,
) -> None:
    signed = load_vector_json("eddsa-jcs-2022", "signedJCS.json")
    verified = di.verify_proof(signed, resolver, NOW)
    assert verified.verification_method.id == signed["proof"]["verificationMethod"]
    assert verified.created == di.parse_datetime(VECTOR_CREATED, "created")
    # issuer https://vc.example/issuers/5678 is not the did:key controller of the method.
    with pytest.raises(IssuerMismatchError):
        di.verify_issuer_proof(signed, resolver, NOW)


def test_vector_with_did_key_issuer_verifies_fully(resolver: DidResolver) -> None:
    signed = load_vector_json("eddsa-jcs-2022", "signedJCS-didkey-issuer.json")
    verified = di.verify_issuer_proof(signed, resolver, NOW)
    assert verified.verification_method.controller == signed["issuer"]


# --- own credentials -----------------------------------------------------------------


def _signed(issuer: DidKeyIssuer, **changes: Any) -> dict[str, Any]:
    credential = sample_title_credential(issuer.did, "https://hrss.js.example", NOW - timedelta(days=1))
    credential.update(changes)
    return di.add_proof(credential, issuer.key, issuer.vm, NOW - timedelta(hours=1))


def test_round_trip(issuer: DidKeyIssuer, resolver: DidResolver) -> None:
    signed = _signed(issuer)
    verified = di.verify_issuer_proof(signed, resolver, NOW)
    assert verified.proof_purpose == "assertionMethod"
    assert signed["proof"]["@context"] == signed["@context"]
    assert signed["proof"]["proofValue"].startswith("z")


def test_add_proof_does_not_touch_the_input(issuer: DidKeyIssuer) -> None:
    credential = sample_title_credential(issuer.did, "https://x.example", NOW)
    before = copy.deepcopy(credential)
    di.add_proof(credential, issuer.key, issuer.vm, NOW)
    assert credential == before


def test_document_with_a_proof_is_not_signed_again(issuer: DidKeyIssuer) -> None:
    with pytest.raises(ProofConfigurationError):
        di.add_proof(_signed(issuer), issuer.key, issuer.vm, NOW)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("type", "Ed25519Signature2020", ProofConfigurationError),
        ("cryptosuite", "eddsa-rdfc-2022", ProofConfigurationError),
        ("cryptosuite", "ecdsa-jcs-2019", ProofConfigurationError),
        ("proofPurpose", "authentication", ProofConfigurationError),
        ("created", "2026-11-28T08:00:00Z", ProofConfigurationError),  # a day in the future
        ("created", "2026-11-27", ProofConfigurationError),
        ("created", "2026-11-27T07:00:00", ProofConfigurationError),  # no time zone
        ("created", 1732694400, ProofConfigurationError),
        ("expires", "2026-11-27T07:59:59Z", ProofConfigurationError),
        ("proofValue", "u" + "A" * 86, ProofConfigurationError),
        ("proofValue", "z0OIl", ProofConfigurationError),
        ("proofValue", "z" + b58_encode(b"\x01" * 63), InvalidSignatureError),
        ("proofValue", None, ProofConfigurationError),
        ("verificationMethod", None, ProofConfigurationError),
        ("verificationMethod", "did:example:123#key-1", ResolutionError),
        ("verificationMethod", "https://example.com/keys/1", ResolutionError),
    ],
)
def test_unacceptable_proofs_are_refused(
    issuer: DidKeyIssuer, resolver: DidResolver, field: str, value: Any, error: type[Exception]
) -> None:
    signed = _signed(issuer)
    if value is None:
        del signed["proof"][field]
    else:
        signed["proof"][field] = value
    with pytest.raises(error):
        di.verify_issuer_proof(signed, resolver, NOW)


def test_created_within_the_clock_skew_is_accepted(issuer: DidKeyIssuer, resolver: DidResolver) -> None:
    credential = sample_title_credential(issuer.did, "https://x.example", NOW)
    signed = di.add_proof(credential, issuer.key, issuer.vm, NOW + timedelta(minutes=4))
    di.verify_issuer_proof(signed, resolver, NOW)
    with pytest.raises(ProofConfigurationError, match="future"):
        di.verify_issuer_proof(signed, resolver, NOW, max_clock_skew=timedelta(minutes=1))


def test_missing_proof_and_proof_sets_are_refused(issuer: DidKeyIssuer, resolver: DidResolver) -> None:
    signed = _signed(issuer)
    no_proof = {k: v for k, v in signed.items() if k != "proof"}
    with pytest.raises(ProofConfigurationError):
        di.verify_issuer_proof(no_proof, resolver, NOW)
    with pytest.raises(ProofConfigurationError):
        di.verify_issuer_proof({**signed, "proof": [signed["proof"]]}, resolver, NOW)
    with pytest.raises(ProofConfigurationError):
        di.verify_issuer_proof({**signed, "proof": "z123"}, resolver, NOW)


def test_method_of_another_controller_is_refused(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, resolver: DidResolver
) -> None:
    # Signed by other_issuer's key, claiming to be issued by issuer.
    credential = sample_title_credential(issuer.did, "https://x.example", NOW)
    forged = di.add_proof(credential, other_issuer.key, other_issuer.vm, NOW)
    di.verify_proof(forged, resolver, NOW)  # the signature itself is fine
    with pytest.raises(IssuerMismatchError):
        di.verify_issuer_proof(forged, resolver, NOW)


def test_method_pointing_at_the_issuer_but_signed_by_another_key_fails(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer, resolver: DidResolver
) -> None:
    credential = sample_title_credential(issuer.did, "https://x.example", NOW)
    forged = di.add_proof(credential, other_issuer.key, issuer.vm, NOW)
    with pytest.raises(InvalidSignatureError):
        di.verify_issuer_proof(forged, resolver, NOW)


def test_method_not_authorised_for_assertion_is_refused(issuer: DidKeyIssuer) -> None:
    did = did_web("hrss.js.example")
    key = generate_private_key()
    ring = KeyRing.start(key, NOW - timedelta(days=1))
    document = did_web_document(did, ring, NOW)
    document["assertionMethod"] = []  # listed for authentication only
    resolver = DidResolver(lambda d: document)
    credential = sample_title_credential(did, "https://hrss.js.example", NOW)
    signed = di.add_proof(credential, key, f"{did}#{ring.records[0].kid}", NOW)
    with pytest.raises(IssuerMismatchError, match="assertionMethod"):
        di.verify_issuer_proof(signed, resolver, NOW)


def test_context_must_start_with_the_proof_context(issuer: DidKeyIssuer, resolver: DidResolver) -> None:
    signed = _signed(issuer)
    signed["@context"] = list(reversed(signed["@context"]))
    with pytest.raises(ProofConfigurationError, match="@context"):
        di.verify_issuer_proof(signed, resolver, NOW)


def test_did_web_issuer_keeps_verifying_after_key_rotation() -> None:
    did = did_web("hrss.js.example")
    old, new = generate_private_key(), generate_private_key()
    ring = KeyRing.start(old, NOW - timedelta(days=30))
    record, key = ring.signing_key(NOW - timedelta(days=10))
    credential = sample_title_credential(did, "https://hrss.js.example", NOW - timedelta(days=10))
    signed = di.add_proof(credential, key, f"{did}#{record.kid}", NOW - timedelta(days=10))
    ring = ring.rotate(new, NOW - timedelta(days=1))
    documents = {did: did_web_document(did, ring, NOW)}
    verified = di.verify_issuer_proof(signed, DidResolver(documents.__getitem__), NOW)
    assert verified.verification_method.id.endswith(record.kid)
    # …and the ring says the key was valid at the proof's creation instant.
    assert verified.created is not None
    ring.check_valid_at(record.kid, verified.created)


# --- any single mutation fails ---------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, Mapping):
        for key, item in value.items():
            paths.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths.extend(_paths(item, (*prefix, index)))
    return paths


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def _mutations(value: Any, draw: st.DrawFn) -> Any:
    if isinstance(value, str):
        if value and draw(st.booleans()):
            i = draw(st.integers(0, len(value) - 1))
            replacement = draw(st.characters(codec="utf-8").filter(lambda c: c != value[i]))
            return value[:i] + replacement + value[i + 1 :]
        return value + draw(st.text(min_size=1, max_size=3))
    if isinstance(value, dict):
        choice = draw(st.sampled_from(["add", "remove"] if value else ["add"]))
        mutated = dict(value)
        if choice == "remove":
            del mutated[draw(st.sampled_from(sorted(value)))]
        else:
            mutated[draw(st.text(min_size=1, max_size=5).filter(lambda k: k not in value))] = "x"
        return mutated
    if isinstance(value, list):
        choice = draw(st.sampled_from(["append", "drop", "reverse"] if len(value) > 1 else ["append"]))
        if choice == "append":
            return [*value, "x"]
        if choice == "drop":
            return value[:-1]
        return list(reversed(value))
    return draw(st.sampled_from(["changed", 0, None, True]).filter(lambda v: v != value))


_ISSUER = DidKeyIssuer()
_SIGNED = _signed(_ISSUER)
_PATHS = _paths(_SIGNED)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_mutation_fails_verification(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(_PATHS))
    mutated = copy.deepcopy(_SIGNED)
    new_value = _mutations(_get(mutated, path), data.draw)
    if not path:
        mutated = new_value
    else:
        _get(mutated, path[:-1])[path[-1]] = new_value
    assert jcs.canonicalize(mutated) != jcs.canonicalize(_SIGNED)
    with pytest.raises(SigningError):
        di.verify_issuer_proof(mutated, DidResolver(), NOW)


def test_every_error_is_a_verification_or_resolution_error() -> None:
    assert issubclass(InvalidSignatureError, VerificationError)
    assert issubclass(IssuerMismatchError, VerificationError)
    assert issubclass(ProofConfigurationError, VerificationError)
    assert issubclass(ResolutionError, SigningError)


# --- review findings: malformed input is a SigningError, never a crash ----------------


@pytest.mark.parametrize(
    "created",
    [
        "20261127T070000Z",
        "2026-W48-5T07:00:00Z",
        "2026-11-27T07Z",
        "2026-11-27T07:00:00+15:00",
        "0001-01-01T00:00:00+14:00",
        "2026-11-27 07:00:00Z",
        "2026-02-30T07:00:00Z",
        "２０２６-11-27T07:00:00Z",
    ],
)
def test_created_must_be_an_xml_schema_date_time_stamp(
    issuer: DidKeyIssuer, resolver: DidResolver, created: str
) -> None:
    signed = _signed(issuer)
    signed["proof"]["created"] = created
    with pytest.raises(ProofConfigurationError, match="date"):
        di.verify_issuer_proof(signed, resolver, NOW)


@pytest.mark.parametrize("created", ["2026-11-27T07:00:00Z", "2026-11-27T15:00:00.123+08:00"])
def test_date_time_stamps_are_parsed(created: str) -> None:
    assert di.parse_datetime(created, "created").tzinfo is not None


@pytest.mark.parametrize("document", [None, [], "credential", 5])
def test_non_object_documents_are_refused(issuer: DidKeyIssuer, resolver: DidResolver, document: Any) -> None:
    with pytest.raises(ProofConfigurationError):
        di.verify_issuer_proof(document, resolver, NOW)
    with pytest.raises(ProofConfigurationError):
        di.verify_proof(document, resolver, NOW)
    with pytest.raises(ProofConfigurationError):
        di.add_proof(document, issuer.key, issuer.vm, NOW)


def test_long_proof_value_is_refused_before_decoding(issuer: DidKeyIssuer, resolver: DidResolver) -> None:
    signed = _signed(issuer)
    signed["proof"]["proofValue"] = "z" + "2" * 200_000  # quadratic to decode if it were tried
    with pytest.raises(ProofConfigurationError):
        di.verify_issuer_proof(signed, resolver, NOW)


def test_huge_integer_in_a_document_is_a_proof_error(issuer: DidKeyIssuer, resolver: DidResolver) -> None:
    signed = _signed(issuer)
    signed["credentialSubject"]["n"] = 10**5000
    with pytest.raises(ProofConfigurationError):
        di.verify_issuer_proof(signed, resolver, NOW)
    with pytest.raises(ProofConfigurationError):
        di.add_proof({"x": 10**5000}, issuer.key, issuer.vm, NOW)
