"""Proof sets and proof chains on one credential (issue 10, point 4).

Sources, each test citing the section it checks:

- W3C Verifiable Credential Data Integrity 1.0 (Recommendation, 2025),
  https://www.w3.org/TR/vc-data-integrity/ — §2.1 Proofs ("Relationship to Verifiable
  Credentials": the verification method's controller is the issuer), §2.1.2 Proof Sets
  and Proof Chains (``proof`` is a list; ``previousProof`` names earlier proofs), §4.4
  Verify Proof (step 3: a cryptosuite the verifier implements), §4.5 Verify Proof Sets
  and Chains (step 3.2: a ``previousProof`` that does not exist is an error; step 3.3: a
  chained proof is verified over the document holding the proofs it names; step 3.4:
  proofs whose verification raised are not combined; step 6.1: any proof that does not
  verify makes the combined result false).
- W3C Data Integrity EdDSA Cryptosuites v1.0 §3.2 (eddsa-rdfc-2022), §3.3 (eddsa-jcs-2022).

The rule implemented (``registry.credentials.verification._examine_proof_set``): every
proof is verified; the proof check passes when a proof by the issuer verifies and no
proof fails; a proof in a cryptosuite this node does not implement is ``unknown`` and
neither fails nor carries the credential.
"""

from __future__ import annotations

import copy
import hashlib
import pickle
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.contexts import pinned_contexts
from registry.credentials.verification import (
    MESSAGES,
    Trust,
    examine,
    examine_packed,
    unpack,
)
from registry.signing import data_integrity as di
from registry.signing.encoding import b58_encode
from registry.signing.jcs import canonicalize
from registry.signing.keyring import KeyRing
from registry.signing.keys import Ed25519PrivateKey
from tests.conftest import NOW, Actors, DidKeyIssuer
from tests.test_rdfc import _registry_credential
from tests.test_verification import issue

#: A cryptosuite name this node does not implement, as a second proof in a national
#: algorithm (SM2) beside Ed25519 would carry.
OTHER_SUITE = "sm2-jcs-2026"


def proof_of(
    unsigned: dict[str, Any],
    key: Ed25519PrivateKey,
    vm: str,
    suite: str = di.CRYPTOSUITE,
    created: Any = None,
) -> dict[str, Any]:
    """One proof over ``unsigned`` (no ``proof`` member), made by ``add_proof``."""
    signed = di.add_proof(
        unsigned,
        key,
        vm,
        created or NOW - timedelta(hours=1),
        cryptosuite=suite,
        contexts=pinned_contexts() if suite == di.CRYPTOSUITE_RDFC else None,
    )
    proof: dict[str, Any] = signed["proof"]
    return proof


def chained_proof(
    unsigned: dict[str, Any],
    previous: list[dict[str, Any]],
    key: Ed25519PrivateKey,
    vm: str,
    proof_id: str,
    previous_ids: str | list[str] | None = None,
) -> dict[str, Any]:
    """An eddsa-jcs-2022 proof with ``id`` (and ``previousProof``) over the document
    holding ``previous`` as its ``proof`` (Data Integrity 1.0 §4.5 step 3.3; none: the
    unsecured document), hashed as eddsa-jcs-2022 §3.3.4 says."""
    config: dict[str, Any] = {
        "id": proof_id,
        "type": "DataIntegrityProof",
        "cryptosuite": di.CRYPTOSUITE,
        "created": di.format_datetime(NOW - timedelta(hours=1)),
        "verificationMethod": vm,
        "proofPurpose": "assertionMethod",
        "@context": unsigned["@context"],
    }
    if previous_ids is not None:
        config["previousProof"] = previous_ids
    document = {**unsigned, "proof": previous} if previous else unsigned
    digest = hashlib.sha256(canonicalize(config)).digest() + hashlib.sha256(canonicalize(document)).digest()
    return {**config, "proofValue": "z" + b58_encode(key.sign(digest))}


def trusting(issuer: DidKeyIssuer) -> Trust:
    """A verifier that trusts ``issuer`` (a did:key) but holds no key history for it:
    the proof and issuer checks can pass; the key check stays unknown."""
    return Trust.of("did:web:node.example", KeyRing((), {}), trusted=frozenset({issuer.did}))


def checks_of(document: dict[str, Any], trust: Trust) -> tuple[dict[str, Any], list[Any]]:
    exam = examine(document, trust, NOW)
    return {c.name: c for c in exam.checks}, list(exam.proofs)


# --- the pure pipeline ---------------------------------------------------------------------------


def test_two_proofs_by_the_issuer_in_two_cryptosuites_both_verify(issuer: DidKeyIssuer) -> None:
    """§2.1.2: a proof set, eddsa-jcs-2022 and eddsa-rdfc-2022, each verified with its own
    cryptosuite through the same dispatch (§4.5 step 3.4)."""
    unsigned = _registry_credential(issuer)
    proofs = [
        proof_of(unsigned, issuer.key, issuer.vm),
        proof_of(unsigned, issuer.key, issuer.vm, di.CRYPTOSUITE_RDFC),
    ]
    checks, items = checks_of({**unsigned, "proof": proofs}, trusting(issuer))
    assert (checks["proof"].result, checks["proof"].code) == ("pass", "proof-set-verified")
    assert checks["issuer"].result == "pass"
    assert [(i.index, i.cryptosuite, i.result, i.by_issuer, i.code) for i in items] == [
        (0, di.CRYPTOSUITE, "pass", True, "proof-item-verified"),
        (1, di.CRYPTOSUITE_RDFC, "pass", True, "proof-item-verified"),
    ]
    assert all(i.verification_method == issuer.vm for i in items)


def test_one_good_proof_and_one_tampered_proof_fail_the_credential(issuer: DidKeyIssuer) -> None:
    """§4.5 step 6.1: "If cryptosuiteVerificationResult.verified is false, set
    combinedVerificationResult.verified to false" — a good issuer proof does not carry
    a set holding a proof that does not verify."""
    unsigned = _registry_credential(issuer)
    good = proof_of(unsigned, issuer.key, issuer.vm)
    bad = proof_of(unsigned, issuer.key, issuer.vm, di.CRYPTOSUITE_RDFC)
    bad["created"] = di.format_datetime(NOW - timedelta(hours=2))  # signed over another instant
    checks, items = checks_of({**unsigned, "proof": [good, bad]}, trusting(issuer))
    assert (checks["proof"].result, checks["proof"].code) == ("fail", "proof-set-failed")
    assert "proof 2 of 2" in checks["proof"].reason
    assert all(checks[n].result == "unknown" for n in ("issuer", "key", "validity", "schema"))
    assert [(i.result, i.code) for i in items] == [
        ("pass", "proof-item-verified"),
        ("fail", "proof-item-signature-mismatch"),
    ]


def test_a_tampered_credential_fails_every_proof_of_its_set(issuer: DidKeyIssuer) -> None:
    unsigned = _registry_credential(issuer)
    proofs = [
        proof_of(unsigned, issuer.key, issuer.vm),
        proof_of(unsigned, issuer.key, issuer.vm, di.CRYPTOSUITE_RDFC),
    ]
    document = {**copy.deepcopy(unsigned), "proof": proofs}
    document["credentialSubject"]["certificateNumber"] = "32-2026-0000002"
    checks, items = checks_of(document, trusting(issuer))
    assert checks["proof"].result == "fail"
    assert [i.result for i in items] == ["fail", "fail"]


def test_a_proof_in_a_cryptosuite_not_implemented_here_is_unknown_and_does_not_fail_the_set(
    issuer: DidKeyIssuer,
) -> None:
    """§4.4 step 3 (a cryptosuite the verifier implements) with §4.5 step 3.4 (only the
    proofs whose verification ran without an exception are combined): an SM2 proof
    beside the Ed25519 one is listed as not checked; the issuer's proof carries."""
    unsigned = _registry_credential(issuer)
    other = {**proof_of(unsigned, issuer.key, issuer.vm), "cryptosuite": OTHER_SUITE}
    checks, items = checks_of(
        {**unsigned, "proof": [proof_of(unsigned, issuer.key, issuer.vm), other]}, trusting(issuer)
    )
    assert (checks["proof"].result, checks["proof"].code) == ("pass", "proof-set-verified")
    assert "1 could not be checked" in checks["proof"].reason
    assert (items[1].result, items[1].code, items[1].cryptosuite) == (
        "unknown",
        "proof-item-unsupported",
        OTHER_SUITE,
    )
    assert OTHER_SUITE in {n: v for n, _, v in items[1].params}.values()


def test_a_single_proof_in_a_cryptosuite_not_implemented_here_is_unknown_not_invalid(
    issuer: DidKeyIssuer,
) -> None:
    """§4.4 step 3: the node cannot verify it, so it says so rather than calling the
    credential forged or valid."""
    unsigned = _registry_credential(issuer)
    document = {
        **unsigned,
        "proof": {**proof_of(unsigned, issuer.key, issuer.vm), "cryptosuite": OTHER_SUITE},
    }
    exam = examine(document, trusting(issuer), NOW)
    proof = exam.checks[0]
    assert (proof.name, proof.result, proof.code) == ("proof", "unknown", "proof-unsupported")
    assert all(c.result == "unknown" for c in exam.checks)
    assert [(i.result, i.code) for i in exam.proofs] == [("unknown", "proof-item-unsupported")]


def test_only_unsupported_proofs_leave_the_proof_check_unknown(issuer: DidKeyIssuer) -> None:
    unsigned = _registry_credential(issuer)
    other = {**proof_of(unsigned, issuer.key, issuer.vm), "cryptosuite": OTHER_SUITE}
    checks, _ = checks_of(
        {**unsigned, "proof": [other, {**other, "cryptosuite": "bbs-2023"}]}, trusting(issuer)
    )
    assert (checks["proof"].result, checks["proof"].code) == ("unknown", "proof-set-unverifiable")
    assert all(c.result == "unknown" for c in checks.values())


def test_proofs_by_a_key_other_than_the_issuer_s_only_fail_the_issuer_rule(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer
) -> None:
    """§2.1 (Relationship to Verifiable Credentials): the issuer's proof is by a method
    its issuer controls. A set whose verifying proofs are all someone else's does not
    show the credential to be the issuer's."""
    unsigned = _registry_credential(issuer)
    proofs = [proof_of(unsigned, other_issuer.key, other_issuer.vm)]
    checks, items = checks_of({**unsigned, "proof": proofs}, trusting(issuer))
    assert (checks["proof"].result, checks["proof"].code) == ("fail", "proof-set-no-issuer-proof")
    assert other_issuer.did in checks["proof"].reason
    assert (items[0].result, items[0].by_issuer, items[0].code) == (
        "pass",
        False,
        "proof-item-verified-other",
    )


def test_a_co_signer_s_proof_beside_the_issuer_s_is_listed_and_the_credential_passes(
    issuer: DidKeyIssuer, other_issuer: DidKeyIssuer
) -> None:
    unsigned = _registry_credential(issuer)
    proofs = [
        proof_of(unsigned, other_issuer.key, other_issuer.vm),
        proof_of(unsigned, issuer.key, issuer.vm),
    ]
    checks, items = checks_of({**unsigned, "proof": proofs}, trusting(issuer))
    assert checks["proof"].result == "pass"
    assert [i.by_issuer for i in items] == [False, True]


def test_a_proof_chain_verifies_each_link_over_the_proofs_before_it(issuer: DidKeyIssuer) -> None:
    """§2.1.2 and §4.5 step 3.3: the second proof names the first in previousProof and
    is verified over the document holding it."""
    unsigned = _registry_credential(issuer)
    first = chained_proof(unsigned, [], issuer.key, issuer.vm, "urn:uuid:proof-1")
    second = chained_proof(unsigned, [first], issuer.key, issuer.vm, "urn:uuid:proof-2", "urn:uuid:proof-1")
    checks, items = checks_of({**unsigned, "proof": [first, second]}, trusting(issuer))
    assert checks["proof"].result == "pass", checks["proof"].reason
    assert [(i.id, i.result) for i in items] == [("urn:uuid:proof-1", "pass"), ("urn:uuid:proof-2", "pass")]


def test_a_chained_proof_naming_a_proof_that_is_not_there_fails(issuer: DidKeyIssuer) -> None:
    """§4.5 step 3.2: "If a proof with id equal to previousProof does not exist in
    allProofs, an error MUST be raised"."""
    unsigned = _registry_credential(issuer)
    first = chained_proof(unsigned, [], issuer.key, issuer.vm, "urn:uuid:proof-1")
    second = chained_proof(unsigned, [first], issuer.key, issuer.vm, "urn:uuid:proof-2", "urn:uuid:proof-1")
    checks, items = checks_of({**unsigned, "proof": [second]}, trusting(issuer))
    assert checks["proof"].result == "fail"
    assert (items[0].result, items[0].code) == ("fail", "proof-item-previous")
    assert "urn:uuid:proof-1" in items[0].reason


def test_a_chain_whose_earlier_proof_fails_fails_every_later_link(issuer: DidKeyIssuer) -> None:
    """§4.5: a chained proof is valid only when every previousProof up its chain is."""
    unsigned = _registry_credential(issuer)
    first = chained_proof(unsigned, [], issuer.key, issuer.vm, "urn:uuid:proof-1")
    second = chained_proof(unsigned, [first], issuer.key, issuer.vm, "urn:uuid:proof-2", "urn:uuid:proof-1")
    first_broken = {**first, "created": di.format_datetime(NOW - timedelta(hours=3))}
    _, items = checks_of({**unsigned, "proof": [first_broken, second]}, trusting(issuer))
    assert [i.result for i in items] == ["fail", "fail"]


def test_a_proof_chain_cycle_is_refused(issuer: DidKeyIssuer) -> None:
    """§4.5: "If a cycle is detected in a proof chain, then a PROOF_CHAIN_CYCLE_ERROR
    MUST be raised"."""
    unsigned = _registry_credential(issuer)
    one = chained_proof(unsigned, [], issuer.key, issuer.vm, "urn:uuid:a", "urn:uuid:b")
    two = chained_proof(unsigned, [], issuer.key, issuer.vm, "urn:uuid:b", "urn:uuid:a")
    checks, items = checks_of({**unsigned, "proof": [one, two]}, trusting(issuer))
    assert checks["proof"].result == "fail"
    assert all(i.result == "fail" for i in items)


@pytest.mark.parametrize(
    "proofs",
    [[], ["not a proof"], [{"id": "urn:x"}, {"id": "urn:x"}], [{}] * 9],
    ids=["empty", "not-an-object", "duplicate-ids", "too-many"],
)
def test_a_malformed_proof_set_fails_clearly(issuer: DidKeyIssuer, proofs: list[Any]) -> None:
    checks, _ = checks_of({**_registry_credential(issuer), "proof": proofs}, trusting(issuer))
    assert (checks["proof"].result, checks["proof"].code) == ("fail", "proof-set-malformed")


def test_the_per_proof_results_survive_the_worker_processes(issuer: DidKeyIssuer) -> None:
    """Batches are examined in worker processes (``examine_packed``/``unpack``): the
    list of proofs travels with the rest, and pickles."""
    unsigned = _registry_credential(issuer)
    other = {**proof_of(unsigned, issuer.key, issuer.vm), "cryptosuite": OTHER_SUITE}
    document = {**unsigned, "proof": [proof_of(unsigned, issuer.key, issuer.vm), other]}
    direct = examine(document, trusting(issuer), NOW)
    packed = pickle.loads(pickle.dumps(examine_packed([document], trusting(issuer), NOW)))  # noqa: S301
    assert unpack(packed[0]) == direct
    assert len(direct.proofs) == 2


def test_every_per_proof_code_has_a_message() -> None:
    codes = [c for c in MESSAGES if c.startswith(("proof-item-", "proof-set-"))]
    assert len(codes) >= 15


# --- over HTTP ----------------------------------------------------------------------------------


def node_proof_set(client: TestClient, actors: Actors, *suites: str) -> dict[str, Any]:
    """A credential of this node with one proof per suite, all by the node's key."""
    record = issue(client, actors.officer())
    vc = record["verifiableCredential"]
    node = client.app.state.node  # type: ignore[attr-defined]
    _, key = node.ring.signing_key(node.clock())
    vm = vc["proof"]["verificationMethod"]
    unsigned = {k: v for k, v in vc.items() if k != "proof"}
    proofs = []
    for suite in suites:
        if suite == OTHER_SUITE:
            proofs.append({**proof_of(unsigned, key, vm, created=node.clock()), "cryptosuite": OTHER_SUITE})
        else:
            proofs.append(proof_of(unsigned, key, vm, suite, created=node.clock()))
    return {**unsigned, "proof": proofs}


def test_a_node_credential_with_jcs_and_rdfc_proofs_is_valid_and_lists_both(
    client: TestClient, actors: Actors
) -> None:
    document = node_proof_set(client, actors, di.CRYPTOSUITE, di.CRYPTOSUITE_RDFC)
    response = client.post("/v1/verifications", json={"credential": document}, headers=actors.hr())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["verdict"] == "valid", report["checks"]
    proof = next(c for c in report["checks"] if c["check"] == "proof")
    assert proof["code"] == "proof-set-verified"
    assert (
        proof["message"]
        == "签发方的签名核验通过（VC JSON, eddsa-jcs-2022），且该凭证的签名均未失败（共 2 个签名）。"
    )
    assert [
        (p["index"], p["cryptosuite"], p["result"], p["byIssuer"], p["code"]) for p in report["proofs"]
    ] == [
        (0, di.CRYPTOSUITE, "pass", True, "proof-item-verified"),
        (1, di.CRYPTOSUITE_RDFC, "pass", True, "proof-item-verified"),
    ]
    assert report["proofs"][1]["message"] == "此签名核验通过（eddsa-rdfc-2022），由签发方的密钥签署。"
    vc_api = client.post("/credentials/verify", json={"verifiableCredential": document})
    assert vc_api.status_code == 200, vc_api.text
    assert [p["result"] for p in vc_api.json()["results"][0]["proofs"]] == ["pass", "pass"]


def test_a_node_credential_with_a_second_proof_in_another_suite_is_valid_and_says_so(
    client: TestClient, actors: Actors
) -> None:
    document = node_proof_set(client, actors, di.CRYPTOSUITE, OTHER_SUITE)
    response = client.post(
        "/v1/verifications", json={"credential": document}, headers={**actors.hr(), "Accept-Language": "en"}
    )
    report = response.json()
    assert report["verdict"] == "valid", report["checks"]
    assert report["proofs"][1] | {"reason": ""} == {
        "index": 1,
        "id": None,
        "cryptosuite": OTHER_SUITE,
        "verificationMethod": document["proof"][1]["verificationMethod"],
        "byIssuer": False,
        "result": "unknown",
        "reason": "",
        "code": "proof-item-unsupported",
        "message": f"This proof uses {OTHER_SUITE}, which this registry node cannot check.",
    }


def test_a_node_credential_with_a_tampered_second_proof_is_invalid_over_both_apis(
    client: TestClient, actors: Actors
) -> None:
    document = node_proof_set(client, actors, di.CRYPTOSUITE, di.CRYPTOSUITE_RDFC)
    document["proof"][1]["proofValue"] = document["proof"][0]["proofValue"]
    report = client.post("/v1/verifications", json={"credential": document}, headers=actors.hr()).json()
    assert report["verdict"] == "invalid"
    assert [p["result"] for p in report["proofs"]] == ["pass", "fail"]
    assert report["summary"] is None  # not shown authentic
    vc_api = client.post("/credentials/verify", json={"verifiableCredential": document})
    assert vc_api.status_code == 400
    assert any(e.startswith("proof:") and "proof 2 of 2" in e for e in vc_api.json()["errors"])


def test_a_node_credential_signed_only_by_someone_else_is_invalid(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    record = issue(client, actors.officer())
    unsigned = {k: v for k, v in record["verifiableCredential"].items() if k != "proof"}
    document = {**unsigned, "proof": [proof_of(unsigned, issuer.key, issuer.vm)]}
    report = client.post("/v1/verifications", json={"credential": document}, headers=actors.hr()).json()
    assert report["verdict"] == "invalid"
    proof = next(c for c in report["checks"] if c["check"] == "proof")
    assert (proof["result"], proof["code"]) == ("fail", "proof-set-no-issuer-proof")
