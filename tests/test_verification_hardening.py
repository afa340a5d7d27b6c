"""Hardening of verification: a key id this node never had, reports that do not
pass unverified personal data off as the credential's, and presentations that must
prove their presenter.

A node knows its whole key ring (every key it ever had, with activation, retirement
and compromise instants). A proof naming ``<this node's DID>#<kid>`` for a kid not in
the ring cannot be this node's: the verdict is ``invalid``, not ``unknown`` (which is
kept for what cannot be checked here, such as another province's ``did:web``).

When a credential is not shown authentic (proof, issuer and key checks did not all
pass), its report says nothing about whom it is about: ``credential`` is null and
``unverifiedClaims`` names only what the document claims to be (id, type, issuer,
credential type, validity period), never the holder's name, certificate number or
any other subject data. This follows the sigstore habit of naming untrusted data as
such (``_unverified_claims``)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.credentials.sample import sample_title_credential
from registry.credentials.verification import (
    Check,
    PresentationProof,
    Report,
    Trust,
    examine,
    examine_packed,
    examine_presentation_proof,
    finish,
    holder_binding,
    unpack,
)
from registry.signing import data_integrity, jose
from registry.signing.did import DidResolver
from registry.signing.keyring import KeyRing
from registry.signing.keys import generate_private_key
from tests.conftest import BASE_URL, NOW, Actors, DidKeyIssuer, MutableClock, issue_row, resident_id
from tests.test_cli import _run, node_dir  # noqa: F401 (a fixture)
from tests.test_vc_api import sign_presentation

NODE_DID = "did:web:127.0.0.1%3A8032"
FORGED_NAME = "冒名顶替者"
FORGED_NUMBER = "32-2026-9999999"
#: What a report may say of a document it could not show authentic.
UNVERIFIED_MEMBERS = {"id", "type", "issuer", "credentialType", "validFrom", "validUntil"}


# --- helpers -----------------------------------------------------------------------------------------


def issue(client: TestClient, actors: Actors, seed: int = 1) -> dict[str, Any]:
    row = issue_row(idNumber=resident_id(seed), holderName=f"持证人{seed}")
    response = client.post("/v1/credentials", json=row, headers=actors.officer())
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def forged_claims(vc: dict[str, Any]) -> dict[str, Any]:
    """The node's credential, unsigned, about someone else."""
    unsigned = {k: copy.deepcopy(v) for k, v in vc.items() if k != "proof"}
    unsigned["credentialSubject"]["name"] = FORGED_NAME
    unsigned["credentialSubject"]["certificateNumber"] = FORGED_NUMBER
    return unsigned


def forged_with_unknown_kid(
    vc: dict[str, Any], own_did: str = NODE_DID, now: datetime = NOW
) -> dict[str, Any]:
    """Signed by an attacker's key under a key id of the node's own DID that the node
    never had."""
    return data_integrity.add_proof(forged_claims(vc), generate_private_key(), f"{own_did}#forged-key", now)


def forged_jwt_with_unknown_kid(vc: dict[str, Any], now: datetime = NOW) -> str:
    claims = {**forged_claims(vc), "iat": int(now.timestamp())}
    return jose.sign_vc_jwt(claims, generate_private_key(), f"{NODE_DID}#forged-key")


def hr_verify(client: TestClient, hr: dict[str, str], credential: Any) -> dict[str, Any]:
    response = client.post("/v1/verifications", json={"credential": credential}, headers=hr)
    assert response.status_code == 200, response.text
    assert FORGED_NAME not in response.text
    assert FORGED_NUMBER not in response.text
    report: dict[str, Any] = response.json()
    return report


def results(report: dict[str, Any]) -> dict[str, str]:
    return {c["check"]: c["result"] for c in report["checks"]}


def assert_claims_not_vouched_for(report: dict[str, Any]) -> None:
    """Nothing about the holder; what the document claims to be, named as unverified."""
    assert report["credential"] is None, report
    claims = report["unverifiedClaims"]
    if report["format"] == "vc-jwt":  # the payload of a token is read only once it verifies
        assert claims is None or set(claims) <= UNVERIFIED_MEMBERS, report
        return
    assert isinstance(claims, dict), report
    assert set(claims) <= UNVERIFIED_MEMBERS, claims
    assert "holderName" not in claims
    assert "certificateNumber" not in claims


def no_status(entries: Any) -> Check:
    return Check("status", "pass", "no status list set a bit (test stub)")


# --- point 5: a key id this node never had is invalid ------------------------------------------------


@pytest.mark.parametrize("fmt", ["vc", "vc-jwt"])
def test_a_proof_naming_a_key_id_of_this_node_that_it_never_had_is_invalid(fmt: str) -> None:
    """The pure pipeline: the node's ring is its whole key history, so a key id of its
    own DID that is not in the ring cannot have made the proof (fails, never unknown)."""
    ring = KeyRing.start(generate_private_key(), NOW - timedelta(days=30))
    trust = Trust.of(NODE_DID, ring)
    record, node_key = ring.signing_key(NOW)
    vc = data_integrity.add_proof(
        sample_title_credential(NODE_DID, BASE_URL, NOW), node_key, f"{NODE_DID}#{record.kid}", NOW
    )
    assert finish(examine(vc, trust, NOW), no_status).verdict == "valid"
    presented: Any = forged_with_unknown_kid(vc) if fmt == "vc" else forged_jwt_with_unknown_kid(vc)
    report = finish(examine(presented, trust, NOW), no_status)
    assert report.verdict == "invalid"
    proof = report.checks[0]
    assert (proof.name, proof.result) == ("proof", "fail")
    assert "forged-key" in proof.reason
    assert "never had" in proof.reason
    assert report.to_json()["credential"] is None
    assert FORGED_NAME not in json.dumps(report.to_json(), ensure_ascii=False)


def test_a_did_key_proof_naming_a_fragment_that_is_not_its_key_is_invalid(issuer: DidKeyIssuer) -> None:
    """A did:key document is derived from the DID itself: a fragment other than the key
    is a method the DID never had, so the proof fails (it was ``unknown``)."""
    trust = Trust.of(NODE_DID, KeyRing.start(generate_private_key(), NOW - timedelta(days=1)))
    vc = data_integrity.add_proof(
        sample_title_credential(issuer.did, BASE_URL, NOW), issuer.key, f"{issuer.did}#key-2", NOW
    )
    report = finish(examine(vc, trust, NOW), no_status)
    assert report.verdict == "invalid"
    assert (report.checks[0].name, report.checks[0].result) == ("proof", "fail")


def test_a_credential_signed_under_a_forged_key_id_of_this_node_is_invalid_and_names_no_one(
    client: TestClient, actors: Actors
) -> None:
    vc = issue(client, actors)["verifiableCredential"]
    hr = actors.hr()
    report = hr_verify(client, hr, forged_with_unknown_kid(vc))
    assert report["verdict"] == "invalid"
    assert results(report)["proof"] == "fail"
    assert "fail" in results(report).values()
    assert_claims_not_vouched_for(report)
    assert report["unverifiedClaims"]["issuer"] == NODE_DID


def test_a_vc_jwt_whose_kid_names_a_key_this_node_never_had_is_invalid_and_names_no_one(
    client: TestClient, actors: Actors
) -> None:
    vc = issue(client, actors)["verifiableCredential"]
    report = hr_verify(client, actors.hr(), forged_jwt_with_unknown_kid(vc))
    assert report["verdict"] == "invalid"
    assert report["format"] == "vc-jwt"
    assert results(report)["proof"] == "fail"
    assert_claims_not_vouched_for(report)


def test_an_authentic_credential_keeps_its_subject_data_in_the_report_even_when_revoked(
    client: TestClient, actors: Actors
) -> None:
    """The issuer's own words are what an HR department needs to see when a credential
    was revoked (whose credential, which certificate)."""
    record = issue(client, actors)
    response = client.post(
        f"/v1/credentials/{record['id']}/revocation",
        json={"reasonCode": "research_misconduct"},
        headers=actors.officer(),
    )
    assert response.status_code == 200, response.text
    report = hr_verify(client, actors.hr(), record["verifiableCredential"])
    assert report["verdict"] == "invalid"
    assert report["credential"]["holderName"] == "持证人1"
    assert report["credential"]["certificateNumber"] == record["certificateNumber"]
    assert report["unverifiedClaims"] is None


def test_a_credential_signed_by_a_compromised_key_names_no_one(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    """A key held compromised from an instant signs nothing trustworthy after it: the
    signature may be the thief's, so the subject data is not vouched for."""
    clock.advance(days=1)
    late = issue(client, actors)["verifiableCredential"]
    kid = late["proof"]["verificationMethod"].partition("#")[2]
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session() as session:
        ring = node.key_store.mark_compromised(session, kid, NOW + timedelta(hours=12))
    node.set_ring(ring)
    response = client.post("/v1/verifications", json={"credential": late}, headers=actors.hr())
    report = response.json()
    assert report["verdict"] == "invalid"
    assert results(report)["key"] == "fail"
    assert "持证人1" not in response.text
    assert_claims_not_vouched_for(report)


def test_a_did_key_or_foreign_did_web_credential_names_no_one(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    """did:key issuers stay "signature valid, issuer untrusted" (invalid), another
    province's did:web stays unknown: in neither is the subject data vouched for."""
    did_key_vc = data_integrity.add_proof(
        sample_title_credential(issuer.did, BASE_URL, NOW), issuer.key, issuer.vm, NOW
    )
    stranger = "did:web:hrss.zj.example"
    foreign = data_integrity.add_proof(
        sample_title_credential(stranger, BASE_URL, NOW), issuer.key, f"{stranger}#key-1", NOW
    )
    hr = actors.hr()
    for vc, verdict in ((did_key_vc, "invalid"), (foreign, "unknown")):
        response = client.post("/v1/verifications", json={"credential": vc}, headers=hr)
        report = response.json()
        assert report["verdict"] == verdict
        assert "张伟" not in response.text
        assert_claims_not_vouched_for(report)
    checks = results(client.post("/v1/verifications", json={"credential": did_key_vc}, headers=hr).json())
    assert (checks["proof"], checks["issuer"]) == ("pass", "fail")


def test_a_batch_names_no_one_for_credentials_it_could_not_show_authentic(
    client: TestClient, actors: Actors
) -> None:
    vc = issue(client, actors)["verifiableCredential"]
    items = [vc, forged_with_unknown_kid(vc), forged_jwt_with_unknown_kid(vc)]
    response = client.post("/v1/verifications/batch", json={"credentials": items}, headers=actors.hr())
    assert response.status_code == 200, response.text
    assert FORGED_NAME not in response.text
    body = response.json()
    assert [r["verdict"] for r in body["results"]] == ["valid", "invalid", "invalid"]
    assert body["results"][0]["credential"]["holderName"] == "持证人1"
    for report in body["results"][1:]:
        assert_claims_not_vouched_for(report)


def test_the_vc_api_answers_400_for_a_key_id_this_node_never_had(client: TestClient, actors: Actors) -> None:
    vc = issue(client, actors)["verifiableCredential"]
    for forged in (forged_with_unknown_kid(vc), forged_jwt_with_unknown_kid(vc)):
        response = client.post("/credentials/verify", json={"verifiableCredential": forged})
        assert response.status_code == 400, response.text
        assert FORGED_NAME not in response.text
        body = response.json()
        assert body["verified"] is False
        assert any(e.startswith("proof") and "forged-key" in e for e in body["errors"])
        assert_claims_not_vouched_for(body["results"][0])


def test_the_cli_reports_a_key_id_this_node_never_had_as_invalid_and_names_no_one(
    node_dir: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "sample-credential")
    assert code == 0
    vc = json.loads(out)
    own_did = data_integrity.issuer_id(vc)
    forged = forged_with_unknown_kid(vc, own_did, datetime.fromisoformat(vc["proof"]["created"]))
    (node_dir / "forged-key-title.vc.json").write_text(json.dumps(forged, ensure_ascii=False))
    code, out, _ = _run(capsys, "verify", str(node_dir / "forged-key-title.vc.json"))
    assert code == 1
    assert FORGED_NAME not in out
    report = json.loads(out)
    assert report["verdict"] == "invalid"
    assert report["checks"][0]["result"] == "fail"
    assert_claims_not_vouched_for(report)


def test_a_worker_s_answer_keeps_the_claims_and_subject_ids(issuer: DidKeyIssuer) -> None:
    """Large batches are examined in worker processes and answered as tuples: the
    subject ids (for holder binding) and the claims survive the trip."""
    ring = KeyRing.start(generate_private_key(), NOW - timedelta(days=1))
    record, key = ring.signing_key(NOW)
    unsigned = sample_title_credential(NODE_DID, BASE_URL, NOW)
    unsigned["credentialSubject"]["id"] = issuer.did
    vc = data_integrity.add_proof(unsigned, key, f"{NODE_DID}#{record.kid}", NOW)
    trust = Trust.of(NODE_DID, ring)
    direct = examine(vc, trust, NOW)
    (travelled,) = [unpack(p) for p in examine_packed([vc], trust, NOW)]
    assert travelled == direct
    assert travelled.subject_ids == (issuer.did,)
    assert travelled.unverified_claims is not None
    assert travelled.unverified_claims["holderName"] == "张伟"


# --- point 6: presentations prove their presenter (the pure steps) ------------------------------------


def vp(*credentials: Any, **members: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": list(credentials),
        **members,
    }


def report_of(*subject_ids: str, authentic: bool = True) -> Report:
    checks = [Check(n, "pass", "") for n in ("proof", "issuer", "key", "validity", "schema", "status")]
    if not authentic:
        checks[1] = Check("issuer", "unknown", "another province")
    return Report("valid" if authentic else "unknown", "vc", checks, {"id": "urn:uuid:x"}, subject_ids)


def test_an_unsigned_presentation_proves_no_presenter(resolver: DidResolver) -> None:
    proof = examine_presentation_proof(vp(), resolver, NOW)
    assert (proof.check.result, proof.presenter) == ("unknown", None)
    assert "not signed" in proof.check.reason


@pytest.mark.parametrize(
    ("challenge", "domain"), [("c-1", None), (None, "verifier.example"), ("c-1", "v.example")]
)
def test_an_unsigned_presentation_fails_when_a_challenge_or_domain_was_asked_for(
    resolver: DidResolver, challenge: str | None, domain: str | None
) -> None:
    """VC API "Verify Presentation": the challenge and domain are checked in the proof;
    asking for them is asking for a proof."""
    proof = examine_presentation_proof(vp(), resolver, NOW, challenge, domain)
    assert (proof.check.result, proof.presenter) == ("fail", None)
    for asked, word in ((challenge, "challenge"), (domain, "domain")):
        assert (word in proof.check.reason) == (asked is not None)


def test_a_signed_presentation_names_its_proof_s_controller_as_presenter(
    resolver: DidResolver, issuer: DidKeyIssuer
) -> None:
    signed = sign_presentation(vp(), issuer, challenge="c-1", domain=["a.example", "verifier.example"])  # type: ignore[arg-type]
    proof = examine_presentation_proof(signed, resolver, NOW, "c-1", "verifier.example")
    assert (proof.check.result, proof.presenter) == ("pass", issuer.did)
    assert "challenge and domain" in proof.check.reason


def test_a_presentation_signed_under_an_unresolvable_did_web_proves_no_presenter(
    resolver: DidResolver, issuer: DidKeyIssuer
) -> None:
    stranger = DidKeyIssuer(issuer.key)
    stranger.vm = "did:web:hrss.zj.example#key-1"
    proof = examine_presentation_proof(sign_presentation(vp(), stranger), resolver, NOW)
    assert (proof.check.result, proof.presenter) == ("unknown", None)


def test_holder_binding_passes_only_for_a_proven_presenter_who_is_every_subject(issuer: DidKeyIssuer) -> None:
    proven = PresentationProof(Check("presentation", "pass", "signed"), issuer.did)
    other = DidKeyIssuer().did
    assert holder_binding(proven, [report_of(issuer.did), report_of(other, issuer.did)]).result == "pass"
    failed = holder_binding(proven, [report_of(issuer.did), report_of(other)])
    assert failed.result == "fail"
    assert "credential 2" in failed.reason
    # VC Data Model 2.0 §4.13: verifiableCredential is optional; a presentation without
    # one has nothing to bind, which is said as such (never as a pass).
    empty = holder_binding(proven, [])
    assert (empty.result, empty.code) == ("not-applicable", "holder-binding-not-applicable")


@pytest.mark.parametrize(
    ("report", "words"),
    [
        (report_of(), "names no subject id"),
        (report_of("urn:uuid:6f1c0d2e-0000-4000-8000-000000000001"), "no key controls"),
        (report_of("did:key:z6MkSomeoneElse", authentic=False), "not shown authentic"),
    ],
)
def test_holder_binding_is_unknown_when_the_subject_cannot_be_bound(
    issuer: DidKeyIssuer, report: Report, words: str
) -> None:
    """The registry's own credentials name their subject by a registry id no key
    controls: binding cannot be established (unknown), and the reason says why."""
    proven = PresentationProof(Check("presentation", "pass", "signed"), issuer.did)
    binding = holder_binding(proven, [report])
    assert binding.result == "unknown"
    assert words in binding.reason


def test_holder_binding_is_unknown_without_a_proven_presenter() -> None:
    unsigned = PresentationProof(Check("presentation", "unknown", "the presentation is not signed"), None)
    binding = holder_binding(unsigned, [report_of("did:key:z6MkAnyone")])
    assert binding.result == "unknown"
    assert "not signed" in binding.reason
