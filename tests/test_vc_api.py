"""The W3C VC API endpoints of the node: ``POST /credentials/issue`` (officers),
``/credentials/verify`` and ``/presentations/verify`` (public), and who may call
``/credentials/status``. Every answer that is not 2xx is RFC 9457 problem+json."""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import func, select

from registry.credentials.sample import sample_title_credential
from registry.models import Credential, Holder
from registry.signing import data_integrity
from registry.signing.encoding import b58_encode
from registry.signing.jcs import canonicalize
from tests.conftest import BASE_URL, NOW, Actors, DidKeyIssuer, resident_id

V2 = "https://www.w3.org/ns/credentials/v2"
NODE_DID = "did:web:127.0.0.1%3A8032"
PROBLEM_JSON = "application/problem+json"
ALL_CHECKS = ["authorisation", "issuer", "key", "proof", "schema", "status", "validity"]


# --- helpers -----------------------------------------------------------------------------------------


def issue_body(seed: int = 7, name: str = "王芳", **subject: Any) -> dict[str, Any]:
    """A VC API issue request for an intermediate engineering title."""
    credential_subject: dict[str, Any] = {
        "name": name,
        "identifier": {"type": "resident", "number": resident_id(seed)},
        "title": {"code": "ENG-INTERMEDIATE"},
        "specialty": "土木工程",
        "evaluationCommittee": "评委会",
        "awardedOn": "2026-11-01",
    }
    credential_subject.update(subject)
    return {
        "credential": {
            "@context": [V2],
            "type": ["VerifiableCredential", "ProfessionalTitleCredential"],
            "issuer": NODE_DID,
            "credentialSubject": credential_subject,
        },
        "options": {},
    }


def issue_vc(client: TestClient, actors: Actors, seed: int = 7, name: str = "王芳") -> dict[str, Any]:
    response = client.post("/credentials/issue", json=issue_body(seed, name), headers=actors.officer())
    assert response.status_code == 201, response.text
    vc: dict[str, Any] = response.json()["verifiableCredential"]
    return vc


def record_id(vc: dict[str, Any]) -> str:
    return str(vc["id"]).removeprefix("urn:uuid:")


def count(client: TestClient, model: Any) -> int:
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def tampered(vc: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(vc)
    changed["credentialSubject"]["specialty"] = "岩土工程"
    return changed


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem document with the given status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    for member in ("type", "title", "detail"):
        assert isinstance(problem.get(member), str), member
        assert problem[member], member
    assert problem["status"] == status
    return problem


def presentation(*credentials: Any) -> dict[str, Any]:
    return {"@context": [V2], "type": ["VerifiablePresentation"], "verifiableCredential": list(credentials)}


def sign_presentation(
    document: dict[str, Any],
    holder: DidKeyIssuer,
    created: datetime = NOW,
    purpose: str = "authentication",
    **bound: str,
) -> dict[str, Any]:
    """An eddsa-jcs-2022 proof whose configuration also carries ``challenge`` / ``domain``
    (``data_integrity.add_proof`` has no parameters for them): the proof configuration
    and the document are hashed and signed exactly as in eddsa-jcs-2022 §3.3."""
    proof: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": data_integrity.format_datetime(created),
        "verificationMethod": holder.vm,
        "proofPurpose": purpose,
        **bound,
        "@context": document["@context"],
    }
    digest = hashlib.sha256(canonicalize(proof)).digest() + hashlib.sha256(canonicalize(document)).digest()
    proof["proofValue"] = "z" + b58_encode(holder.key.sign(digest))
    return {**document, "proof": proof}


# --- POST /credentials/issue ---------------------------------------------------------------------------


def test_issue_answers_201_with_a_signed_credential_of_the_node_that_holds_no_id_number(
    client: TestClient, actors: Actors
) -> None:
    response = client.post("/credentials/issue", json=issue_body(), headers=actors.officer())
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].split(";")[0] == "application/json"
    body = response.json()
    assert list(body) == ["verifiableCredential"]
    vc = body["verifiableCredential"]
    assert vc["@context"][0] == V2
    assert vc["type"] == ["VerifiableCredential", "ProfessionalTitleCredential"]
    assert data_integrity.issuer_id(vc) == NODE_DID == client.app.state.node.did  # type: ignore[attr-defined]
    proof = vc["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["verificationMethod"].startswith(NODE_DID + "#")
    assert proof["proofValue"].startswith("z")
    subject = vc["credentialSubject"]
    assert subject["name"] == "王芳"
    assert subject["title"]["code"] == "ENG-INTERMEDIATE"
    assert subject["specialty"] == "土木工程"
    assert subject["awardedOn"] == "2026-11-01"
    assert subject["holderCommitment"].startswith("sha256:")
    assert "identifier" not in subject
    assert resident_id(7) not in response.text
    assert resident_id(7)[:17] not in response.text
    assert count(client, Credential) == 1


def test_issue_with_missing_subject_fields_is_422_listing_every_missing_field(
    client: TestClient, actors: Actors
) -> None:
    body = issue_body()
    subject = body["credential"]["credentialSubject"]
    del subject["awardedOn"], subject["name"]
    problem = assert_problem(client.post("/credentials/issue", json=body, headers=actors.officer()), 422)
    fields = {e["field"] for e in problem["errors"]}
    assert {"holderName", "awardedOn"} <= fields
    assert all(e["message"] for e in problem["errors"])
    # A specialty is needed where the type has specialties (the catalogue says which).
    body = issue_body()
    del body["credential"]["credentialSubject"]["specialty"]
    problem = assert_problem(client.post("/credentials/issue", json=body, headers=actors.officer()), 422)
    assert [e["field"] for e in problem["errors"]] == ["specialty"]
    assert all(e["message"] for e in problem["errors"])
    assert count(client, Credential) == 0
    assert count(client, Holder) == 0


def test_issue_of_a_credential_that_already_has_a_proof_is_422(client: TestClient, actors: Actors) -> None:
    body = issue_body()
    body["credential"]["proof"] = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022"}
    problem = assert_problem(client.post("/credentials/issue", json=body, headers=actors.officer()), 422)
    assert "proof" in problem["detail"]
    assert count(client, Credential) == 0


def test_issue_of_an_unknown_type_code_is_422_and_issues_nothing(client: TestClient, actors: Actors) -> None:
    body = issue_body(title={"code": "NO-SUCH-TYPE"})
    problem = assert_problem(client.post("/credentials/issue", json=body, headers=actors.officer()), 422)
    assert any(e["field"] == "typeCode" for e in problem["errors"])
    assert count(client, Credential) == 0
    assert count(client, Holder) == 0


def test_issue_of_a_body_that_is_not_json_is_422(client: TestClient, actors: Actors) -> None:
    response = client.post(
        "/credentials/issue",
        content=b"credential: yes",
        headers={**actors.officer(), "Content-Type": "application/json"},
    )
    assert_problem(response, 422)
    assert count(client, Credential) == 0


def test_issue_without_a_token_is_401(client: TestClient) -> None:
    response = client.post("/credentials/issue", json=issue_body())
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert count(client, Credential) == 0


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_issue_by_staff_other_than_an_issuing_officer_is_403(
    client: TestClient, actors: Actors, role: str
) -> None:
    headers = actors.auditor() if role == "auditor" else actors.admin()
    assert_problem(client.post("/credentials/issue", json=issue_body(), headers=headers), 403)
    assert count(client, Credential) == 0


def hr_keys(actors: Actors) -> list[dict[str, str]]:
    """Two HR client keys: one whose secret part holds an underscore (base64url may
    draw one; about half of all keys do) and one whose secret part holds none."""
    found: dict[bool, dict[str, str]] = {}
    for _ in range(200):
        headers = actors.hr()
        secret = headers["Authorization"].removeprefix("Bearer yrd_").partition("_")[2]
        found.setdefault("_" in secret, headers)
        if len(found) == 2:
            return [found[False], found[True]]
    raise AssertionError("could not draw both kinds of HR key")


def test_issue_with_an_hr_key_is_403_whatever_the_key_looks_like(client: TestClient, actors: Actors) -> None:
    for headers in hr_keys(actors):
        response = client.post("/credentials/issue", json=issue_body(), headers=headers)
        assert_problem(response, 403)
    assert count(client, Credential) == 0


# --- POST /credentials/verify --------------------------------------------------------------------------


def test_verify_of_an_own_credential_needs_no_auth_and_is_200_with_every_check_named(
    client: TestClient, actors: Actors
) -> None:
    vc = issue_vc(client, actors)
    response = client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == "application/json"
    body = response.json()
    assert body["verified"] is True
    assert sorted(body["checks"]) == ALL_CHECKS
    assert body["warnings"] == []
    assert body["errors"] == []
    assert "presentationResult" not in body  # a credential, not a presentation


def test_verify_of_a_tampered_credential_is_400_not_verified(client: TestClient, actors: Actors) -> None:
    vc = issue_vc(client, actors)
    response = client.post("/credentials/verify", json={"verifiableCredential": tampered(vc)})
    problem = assert_problem(response, 400)
    assert problem["verified"] is False
    assert problem["errors"]
    assert any(e.startswith("proof") for e in problem["errors"])
    assert "proof" not in problem["checks"]


def test_verify_of_a_vc_jwt_string_downloaded_by_the_holder_is_200(
    client: TestClient, actors: Actors
) -> None:
    vc = issue_vc(client, actors)
    holder_id = vc["credentialSubject"]["id"].removeprefix("urn:uuid:")
    download = client.get(
        f"/v1/holder/credentials/{record_id(vc)}",
        params={"format": "vc-jwt"},
        headers=actors.holder(holder_id),
    )
    assert download.status_code == 200, download.text
    token = download.text
    assert token.count(".") == 2
    response = client.post("/credentials/verify", json={"verifiableCredential": token})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verified"] is True
    assert body["errors"] == []
    assert body["results"][0]["format"] == "vc-jwt"


def test_verify_of_a_did_key_issued_credential_is_400_issuer_not_trusted(
    client: TestClient, issuer: DidKeyIssuer
) -> None:
    vc = data_integrity.add_proof(
        sample_title_credential(issuer.did, BASE_URL, NOW), issuer.key, issuer.vm, NOW
    )
    problem = assert_problem(client.post("/credentials/verify", json={"verifiableCredential": vc}), 400)
    assert problem["verified"] is False
    assert any(e.startswith("issuer") and "not a trusted issuer" in e for e in problem["errors"])
    assert "proof" in problem["checks"]  # the signature itself is good


def test_verify_of_a_credential_of_an_unknown_did_web_issuer_is_422_and_never_200(
    client: TestClient, issuer: DidKeyIssuer
) -> None:
    stranger = "did:web:registry.zj.example"
    vc = data_integrity.add_proof(
        sample_title_credential(stranger, BASE_URL, NOW), issuer.key, f"{stranger}#key-1", NOW
    )
    response = client.post("/credentials/verify", json={"verifiableCredential": vc})
    problem = assert_problem(response, 422)
    assert problem["verified"] is False
    assert problem["warnings"]
    assert problem["checks"] == []


@pytest.mark.parametrize(
    ("action", "reason", "word"),
    [("revocation", "research_misconduct", "revoked"), ("suspension", "under_investigation", "suspended")],
)
def test_verify_of_a_revoked_or_suspended_credential_is_400(
    client: TestClient, actors: Actors, action: str, reason: str, word: str
) -> None:
    vc = issue_vc(client, actors)
    assert client.post("/credentials/verify", json={"verifiableCredential": vc}).status_code == 200
    changed = client.post(
        f"/v1/credentials/{record_id(vc)}/{action}", json={"reasonCode": reason}, headers=actors.officer()
    )
    assert changed.status_code == 200, changed.text
    problem = assert_problem(client.post("/credentials/verify", json={"verifiableCredential": vc}), 400)
    assert problem["verified"] is False
    assert any(e.startswith("status") and word in e for e in problem["errors"])


def test_verify_without_a_verifiable_credential_is_422(client: TestClient) -> None:
    problem = assert_problem(client.post("/credentials/verify", json={"credential": {}}), 422)
    assert any("verifiableCredential" in e["location"] for e in problem["errors"])


# --- POST /presentations/verify ------------------------------------------------------------------------
#
# VC Data Model 2.0 §4.13 (Verifiable Presentations, the ``holder`` property): a
# verifiable presentation is one whose authorship can be trusted after cryptographic
# verification; its ``holder`` is whoever the proof shows made it. The VC API's "Verify Presentation"
# checks that "the holder in the presentation matches the verification method used in
# the presentation's proof" and the challenge / domain the verifier asked for. Whether the
# presenter is the *credential's subject* is the holder-binding check the registry adds:
# a presentation verified only on the strength of its own proof proves nothing about
# holding the credentials inside it.


def bound_vc(client: TestClient, actors: Actors, subject: DidKeyIssuer, seed: int = 7) -> dict[str, Any]:
    """A credential of this node whose subject id is ``subject``'s DID. The issuance API
    names holders by a registry id (``urn:uuid:``) with no key, so the test re-signs an
    issued credential with the node's own key, as the node would if it bound holder keys."""
    vc = issue_vc(client, actors, seed=seed)
    unsigned = {k: copy.deepcopy(v) for k, v in vc.items() if k != "proof"}
    unsigned["credentialSubject"]["id"] = subject.did
    node = client.app.state.node  # type: ignore[attr-defined]
    record, key = node.ring.signing_key(node.clock())
    return data_integrity.add_proof(unsigned, key, f"{node.did}#{record.kid}", node.clock())


def presentation_check(body: dict[str, Any], name: str) -> dict[str, str]:
    check: dict[str, str] = next(c for c in body["presentationResult"]["checks"] if c["check"] == name)
    return check


def test_an_unsigned_presentation_reports_its_credential_but_never_that_the_presenter_holds_it(
    client: TestClient, actors: Actors
) -> None:
    """An unsigned presentation is not a verifiable presentation (VC Data Model 2.0
    §4.13): nothing shows who made it. Its credential is verified on its own (and is
    valid), but the answer is not ``verified``: holder binding could not be made (422)."""
    vc = issue_vc(client, actors)
    response = client.post("/presentations/verify", json={"verifiablePresentation": presentation(vc)})
    problem = assert_problem(response, 422)
    assert problem["verified"] is False
    assert problem["errors"] == []
    assert problem["results"][0]["verdict"] == "valid"
    assert set(ALL_CHECKS) <= set(problem["checks"])
    assert "holderBinding" not in problem["checks"]
    assert any(w.startswith("holderBinding") and "not signed" in w for w in problem["warnings"])
    assert problem["presentationResult"]["verified"] is False
    assert problem["presentationResult"]["presenter"] is None
    assert presentation_check(problem, "holderBinding")["result"] == "unknown"


def test_an_unsigned_presentation_claiming_the_subject_as_holder_proves_nothing(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    """``holder`` is a claim of the presentation; without a proof by that holder it is
    not evidence of anything."""
    vp = {**presentation(bound_vc(client, actors, issuer)), "holder": issuer.did}
    problem = assert_problem(client.post("/presentations/verify", json={"verifiablePresentation": vp}), 422)
    assert problem["verified"] is False
    assert presentation_check(problem, "holderBinding")["result"] == "unknown"
    assert problem["presentationResult"]["presenter"] is None


def test_a_presentation_signed_by_an_arbitrary_did_key_does_not_prove_holding_a_registry_credential(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    """The registry's credentials name their subject by a registry id (``urn:uuid:``)
    that no key controls: no presentation proof can show its presenter is the subject,
    so holder binding cannot be established, and the answer says so (422, not 200)."""
    vc = issue_vc(client, actors)
    vp = sign_presentation({**presentation(vc), "holder": issuer.did}, issuer, challenge="c-1")
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-1"}}
    )
    problem = assert_problem(response, 422)
    assert problem["verified"] is False
    assert problem["results"][0]["verdict"] == "valid"
    assert "presentation" in problem["checks"]  # the presentation's own proof is good
    binding = presentation_check(problem, "holderBinding")
    assert binding["result"] == "unknown"
    assert vc["credentialSubject"]["id"] in binding["reason"]
    assert "no key" in binding["reason"]
    assert problem["presentationResult"]["presenter"] == issuer.did


def test_a_presentation_with_a_tampered_credential_is_400(client: TestClient, actors: Actors) -> None:
    good = issue_vc(client, actors)
    bad = tampered(issue_vc(client, actors, seed=8, name="李娜"))
    response = client.post("/presentations/verify", json={"verifiablePresentation": presentation(good, bad)})
    problem = assert_problem(response, 400)
    assert problem["verified"] is False
    assert any(e.startswith("proof") for e in problem["errors"])


def test_a_presentation_whose_type_lacks_verifiable_presentation_is_400(
    client: TestClient, actors: Actors
) -> None:
    vp = {**presentation(issue_vc(client, actors)), "type": ["Presentation"]}
    problem = assert_problem(client.post("/presentations/verify", json={"verifiablePresentation": vp}), 400)
    assert problem["verified"] is False
    assert any("VerifiablePresentation" in e for e in problem["errors"])


def test_a_presentation_by_the_credential_s_subject_is_200_when_the_challenge_matches(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    holder = issuer
    vp = sign_presentation(
        {**presentation(bound_vc(client, actors, holder)), "holder": holder.did}, holder, challenge="c-1"
    )
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-1"}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verified"] is True
    assert sorted(body["checks"]) == sorted([*ALL_CHECKS, "holderBinding", "presentation"])
    assert body["presentationResult"] == {
        "verified": True,
        "presenter": holder.did,
        "checks": body["presentationResult"]["checks"],
        "credentialCount": 1,
        "mediaType": None,
    }
    assert {c["check"]: c["result"] for c in body["presentationResult"]["checks"]} == {
        "presentation": "pass",
        "holderBinding": "pass",
    }


def test_a_presentation_without_a_holder_member_binds_its_proof_s_controller(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    vp = sign_presentation(presentation(bound_vc(client, actors, issuer)), issuer, challenge="c-1")
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-1"}}
    )
    assert response.status_code == 200, response.text


def test_a_presentation_of_someone_else_s_credential_is_400(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer, other_issuer: DidKeyIssuer
) -> None:
    """The credential is bound to ``issuer``; ``other_issuer`` signs a presentation of it
    as its own holder: the proof is good, the presenter is proven, and is not the subject."""
    vp = sign_presentation(
        {**presentation(bound_vc(client, actors, issuer)), "holder": other_issuer.did},
        other_issuer,
        challenge="c-1",
    )
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-1"}}
    )
    problem = assert_problem(response, 400)
    assert problem["verified"] is False
    assert problem["results"][0]["verdict"] == "valid"
    assert any(e.startswith("holderBinding") and other_issuer.did in e for e in problem["errors"])
    assert presentation_check(problem, "holderBinding")["result"] == "fail"


def test_a_presentation_binds_every_credential_it_holds(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer, other_issuer: DidKeyIssuer
) -> None:
    mine = bound_vc(client, actors, issuer, seed=7)
    theirs = bound_vc(client, actors, other_issuer, seed=8)
    vp = sign_presentation({**presentation(mine, theirs), "holder": issuer.did}, issuer, challenge="c-1")
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-1"}}
    )
    problem = assert_problem(response, 400)
    assert [r["verdict"] for r in problem["results"]] == ["valid", "valid"]
    assert any(e.startswith("holderBinding") and "credential 2" in e for e in problem["errors"])


def test_a_holder_signed_presentation_is_400_when_the_challenge_differs(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    vp = sign_presentation(
        {**presentation(issue_vc(client, actors)), "holder": issuer.did}, issuer, challenge="c-1"
    )
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-2"}}
    )
    problem = assert_problem(response, 400)
    assert problem["verified"] is False
    assert any("challenge" in e for e in problem["errors"])


def test_a_challenge_changed_after_signing_breaks_the_presentation_proof(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    vp = sign_presentation(
        {**presentation(issue_vc(client, actors)), "holder": issuer.did}, issuer, challenge="c-1"
    )
    vp["proof"]["challenge"] = "c-2"
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-2"}}
    )
    problem = assert_problem(response, 400)
    assert any(e.startswith("presentation") for e in problem["errors"])


@pytest.mark.parametrize(("asked", "status"), [("verifier.example", 200), ("evil.example", 400)])
def test_a_holder_signed_presentation_is_checked_against_the_domain_asked_for(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer, asked: str, status: int
) -> None:
    vp = sign_presentation(
        {**presentation(bound_vc(client, actors, issuer)), "holder": issuer.did},
        issuer,
        challenge="c-1",
        domain="verifier.example",
    )
    response = client.post(
        "/presentations/verify",
        json={"verifiablePresentation": vp, "options": {"challenge": "c-1", "domain": asked}},
    )
    assert response.status_code == status, response.text
    if status != 200:
        assert any("domain" in e for e in assert_problem(response, status)["errors"])


def test_a_presentation_proof_for_assertion_instead_of_authentication_is_400(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    vp = sign_presentation(
        {**presentation(issue_vc(client, actors)), "holder": issuer.did},
        issuer,
        purpose="assertionMethod",
        challenge="c-1",
    )
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-1"}}
    )
    problem = assert_problem(response, 400)
    assert any("authentication" in e for e in problem["errors"])


def test_a_presentation_signed_by_someone_other_than_its_holder_is_400(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer, other_issuer: DidKeyIssuer
) -> None:
    """The VC API verifies "that the holder in the presentation matches the verification
    method used in the presentation's proof": another key cannot speak for the holder."""
    vp = sign_presentation(
        {**presentation(issue_vc(client, actors)), "holder": issuer.did}, other_issuer, challenge="c-1"
    )
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-1"}}
    )
    problem = assert_problem(response, 400)
    assert problem["verified"] is False


def test_a_challenge_asked_of_an_unsigned_presentation_is_400(client: TestClient, actors: Actors) -> None:
    vp = presentation(issue_vc(client, actors))
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-1"}}
    )
    problem = assert_problem(response, 400)
    assert any("challenge" in e for e in problem["errors"])


def test_a_domain_asked_of_an_unsigned_presentation_is_400(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    """A domain binds the presentation to the verifier that asked; only a proof can
    carry it (Data Integrity §4.3: the proof's domain must match the expected one)."""
    vp = {**presentation(bound_vc(client, actors, issuer)), "holder": issuer.did}
    response = client.post(
        "/presentations/verify",
        json={"verifiablePresentation": vp, "options": {"domain": "verifier.example"}},
    )
    problem = assert_problem(response, 400)
    assert problem["verified"] is False
    assert any(e.startswith("presentation") and "domain" in e for e in problem["errors"])


def test_a_challenge_asked_of_a_proof_that_carries_none_is_400(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    vp = sign_presentation({**presentation(bound_vc(client, actors, issuer)), "holder": issuer.did}, issuer)
    response = client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-1"}}
    )
    problem = assert_problem(response, 400)
    assert any(e.startswith("presentation") and "challenge" in e for e in problem["errors"])


def test_a_presentation_proof_naming_a_did_key_fragment_it_never_had_is_400(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    vp = sign_presentation({**presentation(bound_vc(client, actors, issuer)), "holder": issuer.did}, issuer)
    vp["proof"]["verificationMethod"] = issuer.did + "#key-2"
    problem = assert_problem(client.post("/presentations/verify", json={"verifiablePresentation": vp}), 400)
    assert any(e.startswith("presentation") for e in problem["errors"])


# --- POST /credentials/status --------------------------------------------------------------------------


def test_an_auditor_cannot_change_a_credential_status(client: TestClient, actors: Actors) -> None:
    vc = issue_vc(client, actors)
    body = {
        "credentialId": vc["id"],
        "credentialStatus": [{"type": "BitstringStatusListEntry", "status": "revoked"}],
        "reasonCode": "issued_in_error",
    }
    assert_problem(client.post("/credentials/status", json=body, headers=actors.auditor()), 403)
    assert client.post("/credentials/verify", json={"verifiableCredential": vc}).status_code == 200


# --- every error is problem+json -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "auth", "status"),
    [
        ("POST", "/credentials/issue", {}, "officer", 422),
        # Not a VC Data Model 2.0 credential: 400, as the VC API answers a bad issue request.
        ("POST", "/credentials/issue", {"credential": {"credentialSubject": "x"}}, "officer", 400),
        ("POST", "/credentials/issue", None, "none", 401),
        ("POST", "/credentials/verify", b"{not json", "none", 422),
        ("POST", "/credentials/verify", {"verifiableCredential": 42}, "none", 422),
        ("POST", "/presentations/verify", {}, "none", 422),
        ("POST", "/presentations/verify", {"verifiablePresentation": "x"}, "none", 422),
        (
            "POST",
            "/presentations/verify",
            {"verifiablePresentation": {"type": "VerifiablePresentation", "verifiableCredential": [1]}},
            "none",
            422,
        ),
        ("POST", "/credentials/status", {}, "none", 401),
        ("POST", "/credentials/status", {"credentialId": "x"}, "officer", 422),
        ("GET", "/credentials/verify", None, "none", 405),
    ],
)
def test_every_error_of_the_vc_api_is_problem_json(
    client: TestClient, actors: Actors, method: str, path: str, body: Any, auth: str, status: int
) -> None:
    headers = actors.officer() if auth == "officer" else {}
    if isinstance(body, bytes):
        response = client.request(
            method, path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
    else:
        response = client.request(method, path, json=body, headers=headers)
    assert_problem(response, status)


@pytest.mark.parametrize(
    ("change", "words", "status"),
    [
        # VC API: 400 when "the provided value of 'issuer' does not match the expected configuration".
        (lambda c: c.update(issuer="did:example:someone-else"), "issues as", 400),
        (
            lambda c: c.update(type=["VerifiableCredential", "UniversityDegreeCredential"]),
            "type must be",
            422,
        ),
        # VC Data Model 2.0 §4.3 Contexts: the first item is the base context (400: not a VC 2.0 credential).
        (lambda c: c.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}), "@context", 400),
        (lambda c: c["credentialSubject"].update(salary="30000"), "not understood", 422),
        (
            lambda c: c.update(type=["VerifiableCredential", "ProfessionalQualificationCredential"]),
            "is a title",
            422,
        ),
    ],
)
def test_issue_refuses_what_it_would_otherwise_silently_change(
    client: TestClient, actors: Actors, change: Any, words: str, status: int
) -> None:
    body = issue_body()
    change(body["credential"])
    problem = assert_problem(client.post("/credentials/issue", json=body, headers=actors.officer()), status)
    assert words in problem["detail"]
    assert count(client, Credential) == 0


def test_issue_refuses_options_it_does_not_understand(client: TestClient, actors: Actors) -> None:
    body = issue_body()
    body["options"] = {"credentialId": "urn:uuid:1"}
    assert_problem(client.post("/credentials/issue", json=body, headers=actors.officer()), 422)
    assert count(client, Credential) == 0


def test_the_current_vc_api_status_request_form_revokes_suspends_and_reinstates(
    client: TestClient, actors: Actors
) -> None:
    vc = issue_vc(client, actors)
    officer = actors.officer()

    def send(purpose: str, status: bool, reason: str) -> Response:
        body = {
            "credentialId": vc["id"],
            "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": purpose},
            "status": status,
            "reasonCode": reason,
        }
        return client.post("/credentials/status", json=body, headers=officer)

    assert send("suspension", True, "under_investigation").json()["status"] == "suspended"
    assert client.post("/credentials/verify", json={"verifiableCredential": vc}).status_code == 400
    assert send("suspension", False, "investigation_cleared").json()["status"] == "active"
    assert client.post("/credentials/verify", json={"verifiableCredential": vc}).status_code == 200
    assert send("revocation", True, "research_misconduct").json()["status"] == "revoked"
    assert_problem(send("revocation", False, "issued_in_error"), 409)


def test_a_request_holding_the_write_lock_survives_a_key_ring_reload(
    client: TestClient, actors: Actors
) -> None:
    """The ring cache expires while an issuance holds SQLite's write lock: reloading it
    must not wait for that lock (it used to, until the busy timeout, then 500)."""
    node = client.app.state.node  # type: ignore[attr-defined]
    node.RING_TTL_SECONDS = 0.0
    assert client.post("/credentials/issue", json=issue_body(), headers=actors.officer()).status_code == 201


def test_verification_problems_are_also_given_as_problem_details(client: TestClient, actors: Actors) -> None:
    vc = issue_vc(client, actors)
    good = client.post("/credentials/verify", json={"verifiableCredential": vc}).json()
    assert good["problemDetails"] == []
    body = assert_problem(
        client.post("/credentials/verify", json={"verifiableCredential": tampered(vc)}), 400
    )
    assert body["problemDetails"][0]["type"].endswith("/check-failed")
    assert body["problemDetails"][0]["detail"] == body["errors"][0]


def test_verification_answers_have_the_shape_the_openapi_document_declares(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    """The answers are built as plain JSON (for speed): each is exactly a
    VerificationResult (the schema of the document's 200), with the problem members
    added when it is not 200, and a presentation's result only for a presentation."""
    from registry.routes.vcapi import VerificationResult

    model_fields = set(VerificationResult.model_fields)
    problem_members = {"type", "title", "status", "detail", "instance"}
    vc = issue_vc(client, actors)
    vp = sign_presentation(
        {**presentation(bound_vc(client, actors, issuer)), "holder": issuer.did}, issuer, challenge="c-9"
    )
    answers = [
        client.post("/credentials/verify", json={"verifiableCredential": vc}),
        client.post("/credentials/verify", json={"verifiableCredential": tampered(vc)}),
        client.post(
            "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c-9"}}
        ),
        client.post(
            "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "other"}}
        ),
    ]
    assert [a.status_code for a in answers] == [200, 400, 200, 400]
    for index, answer in enumerate(answers):
        body = answer.json()
        is_presentation = index >= 2
        expected = model_fields if is_presentation else model_fields - {"presentationResult"}
        if answer.status_code != 200:
            expected = expected | problem_members
        assert set(body) == expected, (index, set(body) ^ expected)
        checked = VerificationResult.model_validate({k: v for k, v in body.items() if k in model_fields})
        assert checked.model_dump(exclude_unset=True) == {k: v for k, v in body.items() if k in model_fields}


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "claim",
    [10**20, _nested(252)],
    ids=["integer-beyond-64-bits", "nested-252-deep"],
)
def test_a_claim_quoted_as_presented_never_turns_the_answer_into_a_500(
    client: TestClient, claim: Any
) -> None:
    """The report quotes an unauthenticated document's id and type as presented: what
    the fast encoder cannot encode is encoded by the standard library instead."""
    vc = {"@context": [V2], "id": claim, "type": ["VerifiableCredential"], "issuer": "did:web:example.org"}
    response = client.post("/credentials/verify", json={"verifiableCredential": vc})
    problem = assert_problem(response, 400)
    assert problem["verified"] is False
