"""SD-JWT VC through the node: a holder downloads one (bound to their key or not), shows
only some claims, and an HR client verifies it; the Token Status List its ``status``
claim names shows revocation and suspension (draft-ietf-oauth-status-list §4.1, §7.1);
a forged or replayed presentation is refused."""

from __future__ import annotations

import json
import zlib
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from registry.credentials import sd_jwt_vc, status
from registry.signing import sd_jwt
from registry.signing.encoding import b64url_decode, b64url_encode
from registry.signing.keys import generate_private_key
from tests.conftest import Actors
from tests.test_status import issue

Headers = dict[str, str]
AUDIENCE = "https://hr.example/verifier"


def bound_sd_jwt(client: TestClient, record: dict[str, Any], holder: Headers, key: Any) -> str:
    response = client.post(
        f"/v1/holder/credentials/{record['id']}/sd-jwt",
        json={"holderKey": sd_jwt.public_jwk(key.public_key())},
        headers=holder,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == sd_jwt_vc.MEDIA_TYPE
    return response.text


def verify(client: TestClient, hr: Headers, credential: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/verifications", json={"credential": credential, **extra}, headers=hr)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def checks(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["check"]: (c["result"], c["code"]) for c in report["checks"]}


def present(token: str, keep: set[str], key: Any = None, nonce: str = "n-1", iat: int | None = None) -> str:
    return sd_jwt.present(
        token,
        lambda d: d.name in keep,
        key,
        audience=AUDIENCE if key is not None else None,
        nonce=nonce if key is not None else None,
        iat=iat,
    )


@pytest.fixture
def setting(client: TestClient, actors: Actors) -> tuple[dict[str, Any], Headers, Headers, Headers]:
    officer = actors.officer()
    record = issue(client, officer)
    return record, officer, actors.holder(record["holderId"]), actors.hr()


def test_a_key_bound_sd_jwt_vc_shows_only_what_the_holder_chose(
    client: TestClient, app: Any, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    record, _, holder, hr = setting
    key = ec.generate_private_key(ec.SECP256R1())
    token = bound_sd_jwt(client, record, holder, key)
    now = int(app.state.node.clock().timestamp())
    shown = present(token, {"certificateNumber"}, key, iat=now)
    report = verify(client, hr, shown, keyBinding={"audience": AUDIENCE, "nonce": "n-1"})
    assert report["verdict"] == "valid", report["checks"]
    assert report["format"] == "sd-jwt"
    assert checks(report)["proof"] == ("pass", "proof-sd-jwt-bound")
    assert checks(report)["schema"] == ("pass", "schema-sd-jwt-conforms")
    assert checks(report)["status"] == ("pass", "status-clear")
    assert report["keyBinding"]["audience"] == AUDIENCE
    # Never more personal data than the presenter supplied: no name, only the number.
    assert report["credential"]["certificateNumber"] == record["certificateNumber"]
    assert report["credential"]["holderName"] is None
    assert report["summary"]["holderName"] is None
    assert "持证人1" not in json.dumps(report, ensure_ascii=False)


def test_the_issued_sd_jwt_vc_keeps_personal_claims_selectively_disclosable(
    client: TestClient, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    record, _, holder, _ = setting
    token = client.get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder).text
    parts = sd_jwt.split(token)
    payload = json.loads(b64url_decode(parts.jwt.split(".")[1]))
    header = json.loads(b64url_decode(parts.jwt.split(".")[0]))
    assert header["typ"] == "dc+sd-jwt"
    assert header["alg"] == "EdDSA"
    assert len(payload["_sd"]) == sd_jwt_vc.SD_DIGESTS
    for personal in ("name", "certificateNumber", "holderCommitment", "jti", "sub"):
        assert personal not in payload
    assert payload["vct"].startswith(sd_jwt_vc.VCT_BASE)
    assert payload["status"]["status_list"]["uri"].endswith("/status/token/1")
    assert "cnf" not in payload
    names = {sd_jwt.read_disclosure(d).name for d in parts.disclosures}
    assert {"name", "certificateNumber", "awardedOn", "evaluationCommittee"} <= names


def test_key_binding_asked_for_but_absent_or_for_another_nonce_fails(
    client: TestClient, app: Any, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    record, _, holder, hr = setting
    key = generate_private_key()
    token = bound_sd_jwt(client, record, holder, key)
    now = int(app.state.node.clock().timestamp())
    unbound = present(token, {"name"})
    report = verify(client, hr, unbound, keyBinding={"audience": AUDIENCE, "nonce": "n-1"})
    assert report["verdict"] == "invalid"
    assert checks(report)["proof"] == ("fail", "proof-key-binding-missing")
    replayed = present(token, {"name"}, key, nonce="old-nonce", iat=now)
    report = verify(client, hr, replayed, keyBinding={"audience": AUDIENCE, "nonce": "n-2"})
    assert checks(report)["proof"] == ("fail", "proof-key-binding-mismatch")
    assert report["credential"] is None
    # Without the request asking, the binding's signature is still checked and reported.
    report = verify(client, hr, replayed)
    assert report["verdict"] == "valid"
    assert report["keyBinding"]["nonce"] == "old-nonce"


def test_a_key_binding_by_someone_else_is_refused(
    client: TestClient, app: Any, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    record, _, holder, hr = setting
    token = bound_sd_jwt(client, record, holder, generate_private_key())
    thief = generate_private_key()
    stolen = present(token, {"name"}, thief, iat=int(app.state.node.clock().timestamp()))
    report = verify(client, hr, stolen)
    assert report["verdict"] == "invalid"
    assert checks(report)["proof"] == ("fail", "proof-signature-mismatch")


def test_a_forged_disclosure_is_not_authentic(
    client: TestClient, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    record, _, holder, hr = setting
    token = client.get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder).text
    parts = sd_jwt.split(token)
    forged = sd_jwt.make_disclosure("name", "冒名者")
    report = verify(client, hr, parts.jwt + "~" + forged + "~")
    assert report["verdict"] == "invalid"
    assert checks(report)["proof"] == ("fail", "proof-sd-jwt-invalid")
    assert report["credential"] is None


def test_an_sd_jwt_vc_signed_by_another_key_is_not_this_nodes(
    client: TestClient, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    record, _, holder, hr = setting
    token = client.get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder).text
    parts = sd_jwt.split(token)
    header = json.loads(b64url_decode(parts.jwt.split(".")[0]))
    payload = json.loads(b64url_decode(parts.jwt.split(".")[1]))
    resigned = sd_jwt.issue(
        {"typ": "dc+sd-jwt", "kid": header["kid"]}, payload, parts.disclosures, generate_private_key()
    )
    report = verify(client, hr, resigned)
    assert report["verdict"] == "invalid"
    assert checks(report)["proof"] == ("fail", "proof-signature-mismatch")


def token_list(client: TestClient, uri: str) -> tuple[dict[str, Any], bytes]:
    path = httpx.URL(uri).path
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/statuslist+jwt"
    head, body, _ = response.text.split(".")
    assert json.loads(b64url_decode(head))["typ"] == "statuslist+jwt"
    claims = json.loads(b64url_decode(body))
    assert claims["sub"] == uri  # §5.1: sub is the URI the referenced token names
    return claims, zlib.decompress(b64url_decode(claims["status_list"]["lst"]))


def test_revocation_and_suspension_show_in_the_token_status_list_and_the_report(
    client: TestClient, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    record, officer, holder, hr = setting
    token = client.get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder).text
    payload = json.loads(b64url_decode(sd_jwt.split(token).jwt.split(".")[1]))
    reference = payload["status"]["status_list"]
    claims, data = token_list(client, reference["uri"])
    assert claims["status_list"]["bits"] == 2
    assert status.token_status(data, reference["idx"]) == status.TOKEN_VALID

    response = client.post(
        f"/v1/credentials/{record['id']}/suspension",
        json={"reasonCode": "under_investigation"},
        headers=officer,
    )
    assert response.status_code == 200, response.text
    assert (
        status.token_status(token_list(client, reference["uri"])[1], reference["idx"])
        == status.TOKEN_SUSPENDED
    )
    report = verify(client, hr, token)
    assert checks(report)["status"] == ("fail", "status-suspended")

    response = client.post(
        f"/v1/credentials/{record['id']}/revocation",
        json={"reasonCode": "research_misconduct"},
        headers=officer,
    )
    assert response.status_code == 200, response.text
    assert (
        status.token_status(token_list(client, reference["uri"])[1], reference["idx"]) == status.TOKEN_INVALID
    )
    report = verify(client, hr, token)
    assert report["verdict"] == "invalid"
    assert checks(report)["status"] == ("fail", "status-revoked")
    # A revoked credential gets no new SD-JWT VC.
    response = client.get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder)
    assert response.status_code == 409


def test_token_list_bytes_count_bits_from_the_least_significant() -> None:
    """draft-ietf-oauth-status-list §4.1: index 0 is the two lowest bits of byte 0."""
    revocation = bytes([0b0100_0000]) + bytes(1)  # Bitstring order: index 1 set (MSB first)
    data = status.token_list_bytes(16, revocation, [2])
    assert data[0] == 0b0010_0100  # index 1 → 01 at bits 2-3; index 2 → 10 at bits 4-5
    assert [status.token_status(data, i) for i in range(4)] == [0, 1, 2, 0]


def test_another_nodes_token_status_list_is_unknown(
    client: TestClient, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    from registry.credentials.verification import Check

    reader = status.StatusReader.__new__(status.StatusReader)
    reader.prefix = "https://this.example/status/"
    reader.peers = None  # a node that knows no federation member
    check: Check = status.StatusReader.__call__(
        reader, [{"type": sd_jwt_vc.STATUS_ENTRY, "uri": "https://other.example/status/token/1", "idx": 3}]
    )
    assert (check.result, check.code) == ("unknown", "status-token-list-foreign")


def test_an_unusable_holder_key_is_refused(
    client: TestClient, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    record, _, holder, _ = setting
    for jwk in (
        {"kty": "RSA", "n": "AA", "e": "AQAB"},
        {"kty": "EC", "crv": "P-256", "x": b64url_encode(b"\x01" * 32), "y": b64url_encode(b"\x02" * 32)},
    ):
        response = client.post(
            f"/v1/holder/credentials/{record['id']}/sd-jwt", json={"holderKey": jwk}, headers=holder
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"


def test_another_holders_credential_gets_no_sd_jwt(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    mine, theirs = issue(client, officer, 1), issue(client, officer, 2)
    holder = actors.holder(mine["holderId"])
    response = client.post(
        f"/v1/holder/credentials/{theirs['id']}/sd-jwt",
        json={"holderKey": sd_jwt.public_jwk(generate_private_key().public_key())},
        headers=holder,
    )
    assert response.status_code == 404


def test_an_sd_jwt_vc_as_a_raw_body_and_enveloped_in_the_vc_api(
    client: TestClient, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    record, _, holder, hr = setting
    token = client.get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder).text
    response = client.post(
        "/v1/verifications", content=token, headers={**hr, "Content-Type": "application/dc+sd-jwt"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "valid"
    envelope = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": "EnvelopedVerifiableCredential",
        "id": f"data:application/dc+sd-jwt,{token}",
    }
    response = client.post("/credentials/verify", json={"verifiableCredential": envelope}, headers=hr)
    assert response.status_code == 200, response.text
    assert response.json()["verified"] is True, response.json()


# --- the pages: the portal offers the file, the public page verifies a presentation ---


def test_the_portal_offers_the_sd_jwt_vc_and_the_public_page_verifies_part_of_it(
    client: TestClient, actors: Actors
) -> None:
    from tests.test_web_pages import csrf_of, sign_up, text_of

    officer = actors.officer()
    record = issue(client, officer, 7)
    sign_up(client, officer, 7, record, "holder-sd")
    home = client.get("/holder")
    assert f"/holder/credentials/{record['id']}/sd-jwt" in home.text
    assert "SD-JWT VC" in text_of(home.text)
    token = client.get(f"/holder/credentials/{record['id']}/sd-jwt")
    assert token.status_code == 200
    assert token.headers["content-type"] == sd_jwt_vc.MEDIA_TYPE
    shown = present(token.text, {"certificateNumber"})
    visitor = TestClient(client.app)
    form = visitor.get("/verify")
    page = visitor.post("/verify", data={"csrf_token": csrf_of(form.text), "credential": shown})
    assert page.status_code == 200
    assert 'data-verdict="valid"' in page.text, text_of(page.text)
    assert record["certificateNumber"] in page.text
    assert "持证人7" not in page.text  # the name was not disclosed
    upload = visitor.post(
        "/verify",
        data={"csrf_token": csrf_of(form.text)},
        files={"file": ("c.sd-jwt", shown.encode(), "application/dc+sd-jwt")},
        headers={"Accept-Language": "en"},
    )
    assert 'data-verdict="valid"' in upload.text
    assert "SD-JWT VC" in text_of(upload.text)


def test_the_holder_sees_a_verification_of_an_sd_jwt_vc_shown_without_its_id(
    client: TestClient, app: Any, setting: tuple[dict[str, Any], Headers, Headers, Headers]
) -> None:
    """The holder sees every verification of their credential, even when the presentation
    leaves out its id (jti): the node finds it by the revocation slot its status names."""
    record, _, holder, hr = setting
    token = client.get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder).text
    report = verify(client, hr, present(token, {"awardedOn"}))
    assert report["verdict"] == "valid"
    assert report["credentialRef"]["id"] is None  # not disclosed
    app.state.node.audit_writer.flush()
    events = client.get("/v1/holder/audit", headers=holder).json()
    verified = [e for e in events if e["action"] == "credential.verify"]
    assert verified, events
    assert verified[0]["targetId"] == record["id"]


def test_the_hr_desk_verifies_sd_jwt_vcs_in_a_csv_batch(client: TestClient, actors: Actors) -> None:
    """A CSV's credential column may hold SD-JWT VC presentations; the results show only
    what each discloses."""
    from tests.test_web_desks import hr_session, results_of, wait_done
    from tests.test_web_pages import csrf_of, text_of

    officer = actors.officer()
    record = issue(client, officer, 9)
    holder = actors.holder(record["holderId"])
    token = client.get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder).text
    rows = f"Credential\r\n{present(token, {'certificateNumber'})}\r\n{present(token, {'name'})}\r\n".encode()
    hr_session(client, actors)
    started = client.post(
        "/hr/jobs",
        data={"csrf_token": csrf_of(client.get("/hr").text)},
        files={"file": ("rows.csv", rows, "text/csv")},
        headers={"Accept-Language": "en"},
        follow_redirects=False,
    )
    assert started.status_code == 303, text_of(started.text)
    job = started.headers["location"]
    wait_done(client, f"{job}/progress")
    table = results_of(client, job)
    assert [r[1] for r in table[1:]] == ["Valid", "Valid"]
    assert table[1][3:5] == ["", record["certificateNumber"]]  # the number only
    assert table[2][3:5] == ["持证人9", ""]  # the name only
