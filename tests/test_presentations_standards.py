"""Presentations as VC Data Model 2.0 defines them (issue 10, point 3).

Sources, each test citing the section it checks:

- W3C Verifiable Credentials Data Model v2.0 (Recommendation, 2025),
  https://www.w3.org/TR/vc-data-model-2.0/ — §4.13 Verifiable Presentations
  (``verifiableCredential`` is optional: a presentation may hold none), §4.13.1
  Enveloped Verifiable Credentials (type EnvelopedVerifiableCredential, ``id`` a
  ``data:`` URL), §4.13.2 Enveloped Verifiable Presentations (type
  EnvelopedVerifiablePresentation).
- W3C Securing Verifiable Credentials using JOSE and COSE, §3.1.1
  (``application/vc+jwt``) and §3.1.2 (``application/vp+jwt``: the presentation is the
  JWS payload, signed by the holder).
- RFC 2397 (The "data" URL scheme): ``data:[<mediatype>][;base64],<data>``.
- W3C CCG VC API, Verify Presentation: the holder matches the verification method of
  the presentation's proof; challenge and domain as asked.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.credentials.verification import (
    MAX_CREDENTIAL_BYTES,
    EnvelopeError,
    Trust,
    examine,
    read_data_url,
)
from registry.signing import jose
from registry.signing.keyring import KeyRing
from tests.conftest import NOW, Actors, DidKeyIssuer
from tests.test_vc_api import (
    V2,
    assert_problem,
    bound_vc,
    issue_vc,
    presentation,
    presentation_check,
    sign_presentation,
    tampered,
)


def enveloped(token: str, media: str = "application/vc+jwt") -> dict[str, Any]:
    """VC Data Model 2.0 §4.13.1, as its example shows it."""
    return {"@context": V2, "type": "EnvelopedVerifiableCredential", "id": f"data:{media},{token}"}


def enveloped_vp(token: str, media: str = "application/vp+jwt") -> dict[str, Any]:
    """VC Data Model 2.0 §4.13.2."""
    return {"@context": V2, "type": "EnvelopedVerifiablePresentation", "id": f"data:{media},{token}"}


def node_vc_jwt(client: TestClient, credential: dict[str, Any]) -> str:
    """``credential`` (without its proof) as a VC-JWT signed by the node's key."""
    node = client.app.state.node  # type: ignore[attr-defined]
    record, key = node.ring.signing_key(node.clock())
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    unsigned["iat"] = int(node.clock().timestamp())  # when it was signed, as the node says it
    return jose.sign_vc_jwt(unsigned, key, f"{node.did}#{record.kid}")


def verify_vp(client: TestClient, vp: dict[str, Any], **options: str) -> Any:
    return client.post("/presentations/verify", json={"verifiablePresentation": vp, "options": options})


# --- §4.13: a presentation that holds no credential -----------------------------------------------


def test_a_signed_presentation_without_credentials_verifies_on_its_proof_alone(
    client: TestClient, issuer: DidKeyIssuer
) -> None:
    """§4.13: verifiableCredential is optional. The presentation authenticates its
    holder; holder binding has nothing to bind and says so (not a pass)."""
    vp = sign_presentation(
        {"@context": [V2], "type": ["VerifiablePresentation"], "holder": issuer.did}, issuer, challenge="c-1"
    )
    response = verify_vp(client, vp, challenge="c-1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verified"] is True
    assert body["results"] == []
    assert body["presentationResult"]["credentialCount"] == 0
    assert body["presentationResult"]["presenter"] == issuer.did
    assert presentation_check(body, "presentation")["result"] == "pass"
    binding = presentation_check(body, "holderBinding")
    assert binding["result"] == "not-applicable"
    assert "holds no credential" in binding["reason"]
    assert "holderBinding" not in body["checks"]  # never counted as passed


def test_a_tampered_presentation_without_credentials_is_400(client: TestClient, issuer: DidKeyIssuer) -> None:
    vp = sign_presentation(
        {"@context": [V2], "type": ["VerifiablePresentation"], "holder": issuer.did}, issuer
    )
    vp["id"] = "urn:uuid:00000000-0000-4000-8000-000000000001"  # added after signing
    problem = assert_problem(verify_vp(client, vp), 400)
    assert presentation_check(problem, "presentation")["result"] == "fail"
    assert problem["results"] == []


# --- §4.13.1: enveloped credentials inside a presentation ------------------------------------------


def test_an_enveloped_vc_jwt_in_a_presentation_is_unwrapped_and_verified(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    """§4.13.1 with VC-JOSE-COSE §3.1.1: data:application/vc+jwt,<compact JWS>."""
    token = node_vc_jwt(client, bound_vc(client, actors, issuer))
    vp = sign_presentation({**presentation(enveloped(token)), "holder": issuer.did}, issuer, challenge="c-1")
    response = verify_vp(client, vp, challenge="c-1")
    assert response.status_code == 200, response.text
    body = response.json()
    result = body["results"][0]
    assert result["verdict"] == "valid"
    assert result["credentialRef"] == {
        "index": 0,
        "id": result["credential"]["id"],
        "format": "vc-jwt",
        "mediaType": "application/vc+jwt",
    }
    assert result["credential"]["id"].startswith("urn:uuid:")
    assert presentation_check(body, "holderBinding")["result"] == "pass"


def test_a_tampered_enveloped_vc_jwt_is_400(client: TestClient, actors: Actors, issuer: DidKeyIssuer) -> None:
    token = node_vc_jwt(client, bound_vc(client, actors, issuer))
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload[:-4]}AAAA.{signature}"
    vp = sign_presentation({**presentation(enveloped(forged)), "holder": issuer.did}, issuer)
    problem = assert_problem(verify_vp(client, vp), 400)
    result = problem["results"][0]
    assert result["verdict"] == "invalid"
    assert result["credentialRef"]["id"] is None  # not authentic: its id is only a claim
    assert result["credentialRef"]["mediaType"] == "application/vc+jwt"


@pytest.mark.parametrize(
    ("url", "result"),
    [
        ("data:application/vc+jwt", "fail"),  # RFC 2397: no comma
        ("data:application/vc+jwt;base64,@@@", "fail"),  # not base64
        ("https://example.com/credential.jwt", "fail"),  # not a data: URL
        ("data:application/vc+jwt,not.a.jws", "fail"),
        ("data:text/plain,hello", "fail"),  # not a secured credential's media type
        ("data:application/dc+sd-jwt,eyJ.eyJ.sig~", "fail"),  # an SD-JWT VC, not well formed
        ("data:application/vc+cose,2D2E", "unknown"),  # a secured credential not verified here
    ],
    ids=["no-comma", "bad-base64", "not-data", "not-a-jws", "text-plain", "sd-jwt", "cose"],
)
def test_a_malformed_or_unsupported_enveloped_credential_is_a_clear_check_not_an_error(
    client: TestClient, actors: Actors, url: str, result: str
) -> None:
    envelope = {"@context": V2, "type": "EnvelopedVerifiableCredential", "id": url}
    body = client.post("/presentations/verify", json={"verifiablePresentation": presentation(envelope)})
    assert body.status_code in (400, 422), body.text
    report = body.json()["results"][0]
    assert report["checks"][0]["check"] == "proof"
    assert report["checks"][0]["result"] == result
    assert report["verdict"] == ("invalid" if result == "fail" else "unknown")
    # The registry's own API answers the same envelope with a report, never a 500.
    answer = client.post("/v1/verifications", json={"credential": envelope}, headers=actors.hr())
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"][0]["result"] == result


def test_the_registry_api_verifies_an_enveloped_vc_jwt_and_names_it(
    client: TestClient, actors: Actors
) -> None:
    token = node_vc_jwt(client, issue_vc(client, actors))
    report = client.post(
        "/v1/verifications", json={"credential": enveloped(token)}, headers=actors.hr()
    ).json()
    assert report["verdict"] == "valid", report["checks"]
    assert report["credentialRef"]["mediaType"] == "application/vc+jwt"
    assert report["credentialRef"]["format"] == "vc-jwt"
    base64_form = enveloped(base64.b64encode(token.encode()).decode(), "application/vc+jwt;base64")
    again = client.post("/v1/verifications", json={"credential": base64_form}, headers=actors.hr()).json()
    assert again["verdict"] == "valid"


def test_data_urls_are_bounded() -> None:
    """Untrusted input: the decoded data is at most the credential size limit."""
    with pytest.raises(EnvelopeError, match="more than"):
        read_data_url("data:application/vc+jwt," + "a" * (MAX_CREDENTIAL_BYTES + 1))
    with pytest.raises(EnvelopeError, match="longer than"):
        read_data_url("data:application/vc+jwt," + "a" * (4 * MAX_CREDENTIAL_BYTES))
    assert read_data_url("data:Application/VC+JWT;charset=us-ascii,a%2Eb") == ("application/vc+jwt", b"a.b")
    exam = examine(
        enveloped("a" * (MAX_CREDENTIAL_BYTES + 1)), Trust.of("did:web:n.example", KeyRing((), {})), NOW
    )
    assert (exam.checks[0].result, exam.checks[0].code) == ("fail", "proof-envelope-malformed")


# --- §4.13.2: enveloped presentations -------------------------------------------------------------


def vp_jwt(
    holder: DidKeyIssuer, credentials: list[Any], signer: DidKeyIssuer | None = None, **claims: Any
) -> str:
    """VC-JOSE-COSE §3.1.2: the presentation as the payload of a JWS by the holder."""
    key = signer or holder
    document = {"@context": [V2], "type": ["VerifiablePresentation"], "holder": holder.did}
    if credentials:
        document["verifiableCredential"] = credentials
    return jose.sign_vp_jwt(document, key.key, key.vm, claims=claims)


def test_an_enveloped_vp_jwt_is_unwrapped_and_its_credentials_verified(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    inner = enveloped(node_vc_jwt(client, bound_vc(client, actors, issuer)))
    token = vp_jwt(
        issuer, [inner, bound_vc(client, actors, issuer, seed=8)], nonce="c-1", aud="verifier.example"
    )
    response = verify_vp(client, enveloped_vp(token), challenge="c-1", domain="verifier.example")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["presentationResult"]["mediaType"] == "application/vp+jwt"
    assert body["presentationResult"]["presenter"] == issuer.did
    assert body["presentationResult"]["credentialCount"] == 2
    assert [(r["credentialRef"]["index"], r["credentialRef"]["format"]) for r in body["results"]] == [
        (0, "vc-jwt"),
        (1, "vc"),
    ]
    assert all(r["verdict"] == "valid" for r in body["results"])


def test_a_vp_jwt_signed_by_a_key_other_than_its_holder_s_is_400(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer, other_issuer: DidKeyIssuer
) -> None:
    token = vp_jwt(issuer, [bound_vc(client, actors, issuer)], signer=other_issuer)
    problem = assert_problem(verify_vp(client, enveloped_vp(token)), 400)
    check = presentation_check(problem, "presentation")
    assert check["result"] == "fail"
    assert "not by the holder" in check["reason"]
    assert presentation_check(problem, "holderBinding")["result"] == "unknown"
    assert problem["results"] == []  # its contents are nobody's word


def test_a_vp_jwt_with_another_nonce_or_a_forged_payload_is_400(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    token = vp_jwt(issuer, [bound_vc(client, actors, issuer)], nonce="c-1")
    assert_problem(verify_vp(client, enveloped_vp(token), challenge="c-2"), 400)
    header, payload, signature = token.split(".")
    assert_problem(verify_vp(client, enveloped_vp(f"{header}.{payload}x.{signature}")), 400)


def test_an_enveloped_presentation_of_another_media_type_is_not_verified(
    client: TestClient, issuer: DidKeyIssuer
) -> None:
    token = vp_jwt(issuer, [])
    assert_problem(verify_vp(client, enveloped_vp(token, "text/plain")), 400)
    problem = assert_problem(verify_vp(client, enveloped_vp(token, "application/vp+sd-jwt")), 422)
    assert presentation_check(problem, "presentation")["result"] == "unknown"
    assert_problem(verify_vp(client, {**enveloped_vp(token), "id": "data:application/vp+jwt"}), 400)


# --- which credential each result belongs to ----------------------------------------------------


def test_each_result_names_the_credential_it_is_of(client: TestClient, actors: Actors) -> None:
    good = issue_vc(client, actors)
    bad = tampered(issue_vc(client, actors, seed=9))
    body = client.post(
        "/presentations/verify", json={"verifiablePresentation": presentation(good, bad)}
    ).json()
    refs = [r["credentialRef"] for r in body["results"]]
    assert refs == [
        {"index": 0, "id": good["id"], "format": "vc", "mediaType": None},
        {"index": 1, "id": None, "format": "vc", "mediaType": None},
    ]
    assert body["results"][1]["unverifiedClaims"]["id"] == bad["id"]  # claimed, named as a claim only


def test_the_registry_api_names_the_credential_and_lists_its_proof(
    client: TestClient, actors: Actors
) -> None:
    vc = issue_vc(client, actors)
    report = client.post(
        "/v1/verifications", json={"credential": copy.deepcopy(vc)}, headers=actors.hr()
    ).json()
    assert report["credentialRef"] == {"index": None, "id": vc["id"], "format": "vc", "mediaType": None}
    assert [(p["result"], p["code"], p["byIssuer"]) for p in report["proofs"]] == [
        ("pass", "proof-item-verified", True)
    ]
