"""eddsa-rdfc-2022 verification (W3C Data Integrity EdDSA Cryptosuites v1.0, §3.2).

- §3.2.2 Verify Proof, §3.2.3 Transformation (RDFC-1.0 canonical N-Quads), §3.2.4
  Hashing (SHA-256(canonical proof configuration) || SHA-256(canonical document)),
  §3.2.5 Proof Configuration (the proof options with the document's @context).
- The specification's test vector: Appendix B.1 "Representation: eddsa-rdfc-2022"
  (https://www.w3.org/TR/vc-di-eddsa/#representation-eddsa-rdfc-2022; the files of
  https://github.com/w3c/vc-di-eddsa/tree/main/TestVectors/eddsa-rdfc-2022 and
  TestVectors/keyPair.json), embedded below.
- Contexts are never fetched: only pinned documents are used (VC Data Model 2.0 §4.3
  and §5.3; Data Integrity 1.0 on context handling); JSON-LD safe mode refuses members
  that no context defines (they would not be signed).
- RDFC-1.0 §4.4 / security considerations: the work of a "poison" dataset is bounded.
"""

from __future__ import annotations

import copy
import hashlib
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.contexts import VC_V2, context_document, pinned_contexts
from registry.credentials.verification import Trust, examine, examine_presentation_proof
from registry.signing import data_integrity as di
from registry.signing.did import DidResolver, VerificationMethod
from registry.signing.errors import InvalidSignatureError, ProofConfigurationError
from registry.signing.keyring import KeyRing
from registry.signing.keys import private_key_from_multikey, public_key_from_multikey
from registry.signing.rdfc import (
    CanonicalizationLimitError,
    ContextNotPinnedError,
    PinnedContexts,
    UnsafeJsonLdError,
)
from tests.conftest import Actors, DidKeyIssuer, issue_row

EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
#: The examples context of VC Data Model 2.0 (https://www.w3.org/ns/credentials/examples/v2),
#: which the specification's vector uses; pinned here for the tests only.
EXAMPLES_V2_DOCUMENT = {"@context": {"@vocab": "https://www.w3.org/ns/credentials/examples#"}}

# --- Appendix B.1 (vc-di-eddsa TestVectors/keyPair.json, eddsa-rdfc-2022/*) ------------
VECTOR_PUBLIC_KEY = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
VECTOR_PRIVATE_KEY = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
VECTOR_ISSUER = "https://vc.example/issuers/5678"
VECTOR_METHOD = f"{VECTOR_ISSUER}#{VECTOR_PUBLIC_KEY}"
VECTOR_UNSIGNED: dict[str, Any] = {
    "@context": [VC_V2, EXAMPLES_V2],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": VECTOR_ISSUER,
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}
VECTOR_PROOF_OPTIONS = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-rdfc-2022",
    "created": "2023-02-24T23:36:38Z",
    "verificationMethod": VECTOR_METHOD,
    "proofPurpose": "assertionMethod",
}
#: eddsa-rdfc-2022/proofCanonDataInt.txt (Example: canonical proof configuration).
VECTOR_PROOF_CANONICAL = (
    '_:c14n0 <http://purl.org/dc/terms/created> "2023-02-24T23:36:38Z"'
    "^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n"
    "_:c14n0 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
    "<https://w3id.org/security#DataIntegrityProof> .\n"
    '_:c14n0 <https://w3id.org/security#cryptosuite> "eddsa-rdfc-2022"'
    "^^<https://w3id.org/security#cryptosuiteString> .\n"
    "_:c14n0 <https://w3id.org/security#proofPurpose> <https://w3id.org/security#assertionMethod> .\n"
    f"_:c14n0 <https://w3id.org/security#verificationMethod> <{VECTOR_METHOD}> .\n"
)
#: eddsa-rdfc-2022/combinedHashDataInt.txt: proof configuration hash || document hash.
VECTOR_COMBINED_HASH = (
    "4c4d3890a157f8d611b13c265c2c22f39aa0a567c7c7dd9ba3e45cd579784eeb"
    "517744132ae165a5349155bef0bb0cf2258fff99dfe1dbd914b938d775a36017"
)
#: eddsa-rdfc-2022/signedDataInt.json, proof.proofValue.
VECTOR_PROOF_VALUE = (
    "z21EVs3eXERqTn4acNHT9viboqgzUaQ3kTmhPT3eA8qrVPE7CrQq78WkzctnMX5W4CrzcKnHw8V6dvy5pgWYCU5e9"
)
NOW = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)


class VectorResolver:
    """The vector's verification method is an https URL whose controller document is
    not published; the test stands in for it."""

    def resolve(self, verification_method_id: str) -> VerificationMethod:
        assert verification_method_id == VECTOR_METHOD
        key = public_key_from_multikey(VECTOR_PUBLIC_KEY)
        return VerificationMethod(VECTOR_METHOD, VECTOR_ISSUER, key, frozenset({"assertionMethod"}))


@pytest.fixture
def vector_contexts() -> PinnedContexts:
    return PinnedContexts({VC_V2: context_document(VC_V2), EXAMPLES_V2: EXAMPLES_V2_DOCUMENT})


def vector_signed() -> dict[str, Any]:
    return {
        **copy.deepcopy(VECTOR_UNSIGNED),
        "proof": {**VECTOR_PROOF_OPTIONS, "proofValue": VECTOR_PROOF_VALUE},
    }


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may open a connection (contexts are never fetched)."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --- the specification's vector -----------------------------------------------------------


def test_vector_intermediates_are_reproduced(vector_contexts: PinnedContexts) -> None:
    """§3.2.5 then §3.2.3 and §3.2.4: canonical proof configuration and the hashes."""
    config = {**VECTOR_PROOF_OPTIONS, "@context": VECTOR_UNSIGNED["@context"]}
    assert vector_contexts.canonicalize(config) == VECTOR_PROOF_CANONICAL
    combined = (
        hashlib.sha256(vector_contexts.canonicalize(config).encode()).digest()
        + hashlib.sha256(vector_contexts.canonicalize(VECTOR_UNSIGNED).encode()).digest()
    )
    assert combined.hex() == VECTOR_COMBINED_HASH


def test_vector_signed_document_is_reproduced(vector_contexts: PinnedContexts) -> None:
    """§3.2.1 with the vector's key gives the vector's signed credential (Ed25519 is
    deterministic)."""
    key = private_key_from_multikey(VECTOR_PRIVATE_KEY)
    created = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)
    signed = di.add_proof(
        VECTOR_UNSIGNED,
        key,
        VECTOR_METHOD,
        created,
        cryptosuite=di.CRYPTOSUITE_RDFC,
        contexts=vector_contexts,
    )
    assert signed == vector_signed()


def test_vector_signed_document_verifies(vector_contexts: PinnedContexts) -> None:
    """§3.2.2 Verify Proof."""
    verified = di.verify_issuer_proof(vector_signed(), VectorResolver(), NOW, contexts=vector_contexts)
    assert verified.verification_method.id == VECTOR_METHOD
    assert verified.created == datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["credentialSubject"].update(alumniOf="The School of Forgeries"),
        lambda d: d.update(validFrom="2022-01-01T00:00:00Z"),
        lambda d: d["type"].append("DiplomaCredential"),
        lambda d: d.update(issuer="https://vc.example/issuers/9999"),
        lambda d: d["proof"].update(created="2023-02-24T23:36:39Z"),
    ],
)
def test_a_tampered_credential_fails(vector_contexts: PinnedContexts, tamper: Any) -> None:
    signed = vector_signed()
    tamper(signed)
    with pytest.raises((InvalidSignatureError, ProofConfigurationError)):
        di.verify_proof(signed, VectorResolver(), NOW, contexts=vector_contexts)


def test_a_change_of_json_form_only_keeps_the_signature(vector_contexts: PinnedContexts) -> None:
    """RDFC signs the meaning: member order and a one-element array for a single value
    are the same RDF dataset."""
    signed = vector_signed()
    reordered = {k: signed[k] for k in reversed(list(signed))}
    reordered["credentialSubject"] = {"alumniOf": ["The School of Examples"], "id": "did:example:abcdefgh"}
    di.verify_proof(reordered, VectorResolver(), NOW, contexts=vector_contexts)


def test_a_member_no_context_defines_is_refused_not_ignored(vector_contexts: PinnedContexts) -> None:
    """Safe mode: without the examples context's @vocab, ``alumniOf`` is undefined;
    plain RDFC would drop it from what is signed, so a forger could add it freely."""
    contexts = PinnedContexts({VC_V2: context_document(VC_V2)})
    signed = vector_signed()
    signed["@context"] = [VC_V2]
    with pytest.raises(UnsafeJsonLdError, match="alumniOf"):
        di.verify_proof(signed, VectorResolver(), NOW, contexts=contexts)


def test_an_unpinned_context_fails_clearly_without_any_fetch(vector_contexts: PinnedContexts) -> None:
    signed = vector_signed()
    signed["@context"] = [VC_V2, "https://contexts.example/alumni/v1"]
    with pytest.raises(ContextNotPinnedError, match=r"https://contexts\.example/alumni/v1.*never fetched"):
        di.verify_proof(signed, VectorResolver(), NOW, contexts=vector_contexts)


def test_without_pinned_contexts_an_rdfc_proof_is_refused() -> None:
    with pytest.raises(ProofConfigurationError, match="eddsa-rdfc-2022 needs the JSON-LD contexts"):
        di.verify_proof(vector_signed(), VectorResolver(), NOW)


def test_a_proof_context_other_than_the_documents_is_refused(vector_contexts: PinnedContexts) -> None:
    """§3.2.2 step 4 (stricter here: equal, as for eddsa-jcs-2022)."""
    signed = vector_signed()
    signed["proof"]["@context"] = [VC_V2]
    with pytest.raises(ProofConfigurationError, match="@context"):
        di.verify_proof(signed, VectorResolver(), NOW, contexts=vector_contexts)


def test_poison_datasets_are_bounded() -> None:
    """RDFC-1.0 §4.4: blank nodes that only their mutual links distinguish make the
    canonicalization factorial; it stops at the bound instead."""
    nodes = [f"_:n{i}" for i in range(9)]
    graph = [{"@id": n, "https://ex.example/#knows": [{"@id": m} for m in nodes if m != n]} for n in nodes]
    with pytest.raises(CanonicalizationLimitError, match=r"RDFC-1\.0"):
        PinnedContexts({}).canonicalize({"@graph": graph})


# --- in the registry's verification pipeline -------------------------------------------


def _registry_credential(issuer: DidKeyIssuer) -> dict[str, Any]:
    return {
        "@context": [VC_V2, "https://registry.yrd.example/ns/talent/v1"],
        "id": "urn:uuid:0b7c6a5e-3f1d-4c1e-9a51-7f1e2d3c4b5a",
        "type": ["VerifiableCredential", "ProfessionalTitleCredential"],
        "issuer": {"id": issuer.did, "name": {"zh": "某钱包签发方", "en": "A wallet issuer"}},
        "validFrom": "2026-11-20T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:holder",
            "name": "张伟",
            "title": {
                "code": "ENG-ASSOCIATE_SENIOR",
                "series": {"code": "ENG", "zh": "工程技术", "en": "Engineering"},
                "level": {"code": "ASSOCIATE_SENIOR", "zh": "副高级", "en": "Associate senior"},
                "name": {"zh": "高级工程师", "en": "Senior Engineer"},
            },
            "certificateNumber": "32-2026-0000001",
            "awardedOn": "2026-11-20",
        },
    }


def test_the_pipeline_checks_an_rdfc_proof_with_the_pinned_contexts(issuer: DidKeyIssuer) -> None:
    signed = di.add_proof(
        _registry_credential(issuer),
        issuer.key,
        issuer.vm,
        NOW - timedelta(days=1),
        cryptosuite=di.CRYPTOSUITE_RDFC,
        contexts=pinned_contexts(),
    )
    trust = Trust.of("did:web:node.example", KeyRing((), {}))
    checks = {c.name: c for c in examine(signed, trust, NOW).checks}
    assert checks["proof"].result == "pass", checks["proof"].reason
    assert checks["issuer"].result == "fail"  # a did:key is not a trusted issuer
    signed["credentialSubject"]["certificateNumber"] = "32-2026-0000002"
    checks = {c.name: c for c in examine(signed, trust, NOW).checks}
    assert checks["proof"].result == "fail"
    assert "eddsa-rdfc-2022 signature does not verify" in checks["proof"].reason


def test_the_pipeline_never_calls_an_unpinned_context_valid(issuer: DidKeyIssuer) -> None:
    credential = _registry_credential(issuer)
    signed = di.add_proof(
        credential, issuer.key, issuer.vm, NOW, cryptosuite=di.CRYPTOSUITE_RDFC, contexts=pinned_contexts()
    )
    signed["@context"] = [*signed["@context"], "https://contexts.example/wallet/v1"]
    report = examine(signed, Trust.of("did:web:node.example", KeyRing((), {})), NOW)
    proof = next(c for c in report.checks if c.name == "proof")
    assert proof.result == "fail"
    assert "https://contexts.example/wallet/v1" in proof.reason
    assert "never fetched" in proof.reason
    assert all(c.result != "pass" for c in report.checks)


def test_a_presentation_with_an_rdfc_proof_is_checked(issuer: DidKeyIssuer, resolver: DidResolver) -> None:
    """Presentations share the dispatch: an authentication proof in eddsa-rdfc-2022."""
    presentation = {"@context": [VC_V2], "type": ["VerifiablePresentation"], "holder": issuer.did}
    signed = di.add_proof(
        presentation,
        issuer.key,
        issuer.vm,
        NOW,
        "authentication",
        cryptosuite=di.CRYPTOSUITE_RDFC,
        contexts=pinned_contexts(),
    )
    assert examine_presentation_proof(signed, resolver, NOW).check.result == "pass"
    signed["holder"] = "did:example:someone-else"
    assert examine_presentation_proof(signed, resolver, NOW).check.result == "fail"


def test_a_node_verifies_its_own_credential_signed_eddsa_rdfc_2022(
    client: TestClient, actors: Actors
) -> None:
    """Over HTTP: a credential of this node, re-signed with eddsa-rdfc-2022 by the
    node's key (as a wallet or issuer using that suite would), is valid."""
    issued = client.post("/v1/credentials", json=issue_row(), headers=actors.officer())
    assert issued.status_code == 201, issued.text
    vc = issued.json()["verifiableCredential"]
    node = client.app.state.node  # type: ignore[attr-defined]
    record, key = node.ring.signing_key(node.clock())
    unsigned = {k: v for k, v in vc.items() if k != "proof"}
    signed = di.add_proof(
        unsigned,
        key,
        vc["proof"]["verificationMethod"],
        node.clock(),
        cryptosuite=di.CRYPTOSUITE_RDFC,
        contexts=pinned_contexts(),
    )
    assert vc["proof"]["verificationMethod"].endswith(f"#{record.kid}")
    response = client.post("/v1/verifications", json={"credential": signed}, headers=actors.hr())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["verdict"] == "valid", report
    signed["credentialSubject"]["specialty"] = "伪造专业"
    response = client.post("/v1/verifications", json={"credential": signed}, headers=actors.hr())
    assert response.json()["verdict"] == "invalid"
