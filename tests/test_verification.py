"""Verification for HR clients over HTTP: one credential (VC JSON, VC-JWT, raw bodies,
uploaded files), tampering, revocation and suspension, validity periods, foreign and
untrusted issuers, key history (rotation, compromise), batches, look-ups by
certificate number and verification code, the holder's view of who verified, bad
input, authentication and rate limits."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from registry.credentials.sample import sample_title_credential
from registry.signing import data_integrity
from registry.signing.data_integrity import format_datetime
from registry.signing.encoding import b64url_decode, b64url_encode
from tests.conftest import BASE_URL, NOW, Actors, DidKeyIssuer, MutableClock, issue_row, resident_id

NODE_DID = "did:web:127.0.0.1%3A8032"
CHECK_NAMES = ["proof", "issuer", "key", "authorisation", "validity", "schema", "status"]
PROBLEM_JSON = "application/problem+json"


# --- helpers ---


def hr_key(
    actors: Actors, scopes: tuple[str, ...] = ("verify", "lookup"), rate: int = 10_000
) -> dict[str, str]:
    return actors.hr(scopes=scopes, rate=rate)


def issue(client: TestClient, officer: dict[str, str], seed: int = 1, **overrides: Any) -> dict[str, Any]:
    row = issue_row(idNumber=resident_id(seed), holderName=f"持证人{seed}", **overrides)
    response = client.post("/v1/credentials", json=row, headers=officer)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def verify(client: TestClient, hr: dict[str, str], credential: Any) -> dict[str, Any]:
    response = client.post("/v1/verifications", json={"credential": credential}, headers=hr)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def results(report: dict[str, Any]) -> dict[str, str]:
    return {c["check"]: c["result"] for c in report["checks"]}


def reason(report: dict[str, Any], check: str) -> str:
    text: str = next(c["reason"] for c in report["checks"] if c["check"] == check)
    return text


def assert_valid(report: dict[str, Any]) -> None:
    assert report["verdict"] == "valid", report
    assert [c["check"] for c in report["checks"]] == CHECK_NAMES
    assert all(c["result"] == "pass" for c in report["checks"]), report


def assert_problem(response: Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert {"type", "title", "detail", "instance"} <= problem.keys()
    if slug is not None:
        assert problem["type"].endswith("/" + slug), problem
    return problem


def as_jwt(client: TestClient, actors: Actors, record: dict[str, Any]) -> str:
    holder = actors.holder(record["holderId"])
    response = client.get(f"/v1/holder/credentials/{record['id']}?format=vc-jwt", headers=holder)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vc+jwt")
    token: str = response.text
    return token


def change_status(
    client: TestClient, officer: dict[str, str], credential_id: str, action: str, code: str
) -> None:
    response = client.post(
        f"/v1/credentials/{credential_id}/{action}", json={"reasonCode": code}, headers=officer
    )
    assert response.status_code == 200, response.text


def tampered_jwt(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["credentialSubject"]["name"] = "李四"
    forged = b64url_encode(json.dumps(claims, ensure_ascii=False).encode("utf-8"))
    return f"{header}.{forged}.{signature}"


# --- one credential, every way it can be presented ---


def test_a_freshly_issued_credential_is_valid_with_all_six_checks_passing(
    client: TestClient, actors: Actors
) -> None:
    record = issue(client, actors.officer())
    report = verify(client, hr_key(actors), record["verifiableCredential"])
    assert_valid(report)
    assert report["format"] == "vc"
    assert report["credential"]["certificateNumber"] == record["certificateNumber"]
    assert report["credential"]["issuer"] == NODE_DID


def test_the_same_credential_as_a_vc_jwt_is_valid_in_json_and_as_a_raw_body(
    client: TestClient, actors: Actors
) -> None:
    record = issue(client, actors.officer())
    token = as_jwt(client, actors, record)
    hr = hr_key(actors)
    in_json = verify(client, hr, token)
    assert_valid(in_json)
    assert in_json["format"] == "vc-jwt"
    assert in_json["credential"]["certificateNumber"] == record["certificateNumber"]
    raw = client.post(
        "/v1/verifications", content=token, headers={**hr, "Content-Type": "application/vc+jwt"}
    )
    assert raw.status_code == 200, raw.text
    assert_valid(raw.json())
    assert raw.json()["format"] == "vc-jwt"


def test_a_raw_vc_body_and_uploaded_files_are_valid(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    vc = record["verifiableCredential"]
    hr = hr_key(actors)
    raw = client.post(
        "/v1/verifications",
        content=json.dumps(vc, ensure_ascii=False).encode("utf-8"),
        headers={**hr, "Content-Type": "application/vc"},
    )
    assert raw.status_code == 200, raw.text
    assert_valid(raw.json())
    as_file = json.dumps(vc, ensure_ascii=False, indent=2).encode("utf-8")
    uploaded = client.post(
        "/v1/verifications", files={"file": ("title.vc.json", as_file, "application/json")}, headers=hr
    )
    assert uploaded.status_code == 200, uploaded.text
    assert_valid(uploaded.json())
    assert uploaded.json()["format"] == "vc"
    token = as_jwt(client, actors, record)
    jwt_file = client.post(
        "/v1/verifications",
        files={"file": ("title.vc.jwt", token.encode("ascii"), "application/vc+jwt")},
        headers=hr,
    )
    assert jwt_file.status_code == 200, jwt_file.text
    assert_valid(jwt_file.json())
    assert jwt_file.json()["format"] == "vc-jwt"


def test_an_upload_without_the_file_field_is_refused(client: TestClient, actors: Actors) -> None:
    response = client.post(
        "/v1/verifications",
        files={"document": ("title.vc.json", b"{}", "application/json")},
        headers=hr_key(actors),
    )
    assert_problem(response, 422, "invalid-input")


# --- tampering ---


def test_a_credential_with_a_changed_name_or_title_fails_its_proof(
    client: TestClient, actors: Actors
) -> None:
    vc = issue(client, actors.officer())["verifiableCredential"]
    hr = hr_key(actors)
    renamed = json.loads(json.dumps(vc))
    renamed["credentialSubject"]["name"] = "李四"
    report = verify(client, hr, renamed)
    assert report["verdict"] == "invalid"
    assert results(report)["proof"] == "fail"
    promoted = json.loads(json.dumps(vc))
    promoted["credentialSubject"]["title"]["name"]["zh"] = "正高级工程师"
    report = verify(client, hr, promoted)
    assert report["verdict"] == "invalid"
    assert results(report)["proof"] == "fail"


def test_a_vc_jwt_with_a_changed_payload_is_invalid(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    token = as_jwt(client, actors, record)
    report = verify(client, hr_key(actors), tampered_jwt(token))
    assert report["verdict"] == "invalid"
    assert results(report)["proof"] == "fail"


# --- status: revoked, suspended, reinstated ---


def test_a_revoked_credential_is_invalid_with_the_reason(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    hr = hr_key(actors)
    assert_valid(verify(client, hr, record["verifiableCredential"]))
    token = as_jwt(client, actors, record)  # a revoked credential gets no new VC-JWT (issue 9)
    change_status(client, officer, record["id"], "revocation", "research_misconduct")
    report = verify(client, hr, record["verifiableCredential"])
    assert report["verdict"] == "invalid"
    checks = results(report)
    assert checks["status"] == "fail"
    assert checks["proof"] == "pass"
    assert "revoked" in reason(report, "status")
    assert "research_misconduct" in reason(report, "status")
    token_report = verify(client, hr, token)
    assert token_report["verdict"] == "invalid"
    assert results(token_report)["status"] == "fail"


def test_a_suspended_credential_is_invalid_and_valid_again_once_reinstated(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    vc = issue(client, officer)["verifiableCredential"]
    record_id = vc["id"].removeprefix("urn:uuid:")
    hr = hr_key(actors)
    change_status(client, officer, record_id, "suspension", "under_investigation")
    report = verify(client, hr, vc)
    assert report["verdict"] == "invalid"
    assert results(report)["status"] == "fail"
    assert "suspended" in reason(report, "status")
    assert "revoked" not in reason(report, "status")
    change_status(client, officer, record_id, "reinstatement", "investigation_cleared")
    assert_valid(verify(client, hr, vc))


def test_revoking_one_credential_leaves_another_valid(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    revoked = issue(client, officer, seed=1)
    kept = issue(client, officer, seed=2)
    change_status(client, officer, revoked["id"], "revocation", "issued_in_error")
    hr = hr_key(actors)
    assert verify(client, hr, revoked["verifiableCredential"])["verdict"] == "invalid"
    assert_valid(verify(client, hr, kept["verifiableCredential"]))


# --- validity period ---


def test_a_credential_past_its_valid_until_is_invalid(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    until = format_datetime(NOW + timedelta(days=3))
    vc = issue(client, actors.officer(), validUntil=until)["verifiableCredential"]
    assert vc["validUntil"] == until
    hr = hr_key(actors)
    assert_valid(verify(client, hr, vc))
    clock.advance(days=4)
    report = verify(client, hr, vc)
    assert report["verdict"] == "invalid"
    assert results(report)["validity"] == "fail"
    assert results(report)["proof"] == "pass"
    assert "expired" in reason(report, "validity")


def test_a_credential_not_yet_valid_is_invalid_until_its_valid_from(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    start = format_datetime(NOW + timedelta(days=5))
    vc = issue(client, actors.officer(), validFrom=start)["verifiableCredential"]
    assert vc["validFrom"] == start
    hr = hr_key(actors)
    report = verify(client, hr, vc)
    assert report["verdict"] == "invalid"
    assert results(report)["validity"] == "fail"
    assert results(report)["proof"] == "pass"
    clock.advance(days=6)
    assert_valid(verify(client, hr, vc))


# --- issuers this node does not trust or cannot resolve ---


def test_a_did_key_credential_has_a_good_signature_but_an_untrusted_issuer(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    unsigned = sample_title_credential(issuer.did, BASE_URL, NOW)
    vc = data_integrity.add_proof(unsigned, issuer.key, issuer.vm, NOW)
    report = verify(client, hr_key(actors), vc)
    assert report["verdict"] == "invalid"
    checks = results(report)
    assert checks["proof"] == "pass"
    assert checks["issuer"] == "fail"
    assert "not a trusted issuer" in reason(report, "issuer")


def test_a_credential_of_an_unresolvable_did_web_is_unknown_never_valid(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    other = "did:web:hrss.zj.example"
    unsigned = sample_title_credential(other, BASE_URL, NOW)
    vc = data_integrity.add_proof(unsigned, issuer.key, f"{other}#key-1", NOW)
    report = verify(client, hr_key(actors), vc)
    assert report["verdict"] == "unknown"
    checks = results(report)
    assert checks["proof"] == "unknown"
    assert "fail" not in checks.values()
    assert "pass" not in checks.values()


def test_a_credential_naming_another_did_s_method_fails_the_issuer_check(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer, other_issuer: DidKeyIssuer
) -> None:
    unsigned = sample_title_credential(other_issuer.did, BASE_URL, NOW)
    vc = data_integrity.add_proof(unsigned, issuer.key, issuer.vm, NOW)
    report = verify(client, hr_key(actors), vc)
    assert report["verdict"] == "invalid"
    assert results(report)["issuer"] == "fail"


# --- key history ---


def test_credentials_signed_before_and_after_a_key_rotation_both_verify(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    before = issue(client, actors.officer(), seed=1)["verifiableCredential"]
    clock.advance(hours=1)
    rotated = client.post("/v1/keys/rotation", headers=actors.admin())
    assert rotated.status_code == 200, rotated.text
    new_kid = rotated.json()["kid"]
    clock.advance(hours=1)
    after = issue(client, actors.officer(), seed=2)["verifiableCredential"]
    assert after["proof"]["verificationMethod"] == f"{NODE_DID}#{new_kid}"
    assert before["proof"]["verificationMethod"] != after["proof"]["verificationMethod"]
    hr = hr_key(actors)
    assert_valid(verify(client, hr, before))
    assert_valid(verify(client, hr, after))


def test_a_key_marked_compromised_fails_only_what_it_signed_from_then_on(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    early = issue(client, actors.officer(), seed=1)["verifiableCredential"]
    clock.advance(days=1)
    late = issue(client, actors.officer(), seed=2)["verifiableCredential"]
    method = early["proof"]["verificationMethod"]
    assert late["proof"]["verificationMethod"] == method
    kid = method.partition("#")[2]
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session() as session:
        ring = node.key_store.mark_compromised(session, kid, NOW + timedelta(hours=12))
    node.set_ring(ring)
    hr = hr_key(actors)
    report = verify(client, hr, late)
    assert report["verdict"] == "invalid"
    assert results(report)["key"] == "fail"
    assert results(report)["proof"] == "pass"
    assert_valid(verify(client, hr, early))


# --- batches ---


def test_a_batch_answers_each_item_in_order_and_counts_the_verdicts(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    good = issue(client, officer, seed=1)
    revoked = issue(client, officer, seed=2)
    change_status(client, officer, revoked["id"], "revocation", "research_misconduct")
    tampered = json.loads(json.dumps(good["verifiableCredential"]))
    tampered["credentialSubject"]["name"] = "王五"
    token = as_jwt(client, actors, good)
    items = [
        good["verifiableCredential"],
        tampered,
        revoked["verifiableCredential"],
        "not a credential",
        token,
    ]
    response = client.post("/v1/verifications/batch", json={"credentials": items}, headers=hr_key(actors))
    assert response.status_code == 200, response.text
    body = response.json()
    verdicts = [r["verdict"] for r in body["results"]]
    assert verdicts == ["valid", "invalid", "invalid", "invalid", "valid"]
    assert results(body["results"][1])["proof"] == "fail"
    assert results(body["results"][2])["status"] == "fail"
    assert "research_misconduct" in reason(body["results"][2], "status")
    assert results(body["results"][3])["proof"] == "fail"
    assert body["results"][4]["format"] == "vc-jwt"
    assert (body["count"], body["valid"], body["invalid"], body["unknown"]) == (5, 2, 3, 0)


def test_a_batch_counts_unknown_verdicts(client: TestClient, actors: Actors, issuer: DidKeyIssuer) -> None:
    other = "did:web:hrss.zj.example"
    foreign = data_integrity.add_proof(
        sample_title_credential(other, BASE_URL, NOW), issuer.key, f"{other}#key-1", NOW
    )
    good = issue(client, actors.officer())["verifiableCredential"]
    response = client.post(
        "/v1/verifications/batch", json={"credentials": [foreign, good]}, headers=hr_key(actors)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["verdict"] for r in body["results"]] == ["unknown", "valid"]
    assert (body["count"], body["valid"], body["invalid"], body["unknown"]) == (2, 1, 0, 1)


def test_a_batch_of_more_than_1000_or_of_none_is_refused(client: TestClient, actors: Actors) -> None:
    hr = hr_key(actors)
    too_many = client.post("/v1/verifications/batch", json={"credentials": ["x"] * 1001}, headers=hr)
    assert_problem(too_many, 422)
    empty = client.post("/v1/verifications/batch", json={"credentials": []}, headers=hr)
    assert_problem(empty, 422)


# --- look-up by certificate number and verification code ---


def make_code(client: TestClient, holder: dict[str, str], credential_id: str, days: int = 2) -> str:
    response = client.post(
        f"/v1/holder/credentials/{credential_id}/verification-codes", json={"validDays": days}, headers=holder
    )
    assert response.status_code == 201, response.text
    code: str = response.json()["verificationCode"]
    return code


def lookup(client: TestClient, hr: dict[str, str], number: str, code: str) -> Response:
    response: Response = client.post(
        "/v1/verifications/lookup", json={"certificateNumber": number, "verificationCode": code}, headers=hr
    )
    return response


def test_a_look_up_with_the_holder_s_code_returns_the_verified_credential(
    client: TestClient, actors: Actors
) -> None:
    record = issue(client, actors.officer())
    holder = actors.holder(record["holderId"])
    code = make_code(client, holder, record["id"])
    response = lookup(client, hr_key(actors, scopes=("lookup",)), record["certificateNumber"], code)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid(body)
    assert body["verifiableCredential"] == record["verifiableCredential"]


def test_a_look_up_with_a_wrong_code_is_not_found(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    code = make_code(client, actors.holder(record["holderId"]), record["id"])
    wrong = "0000-0000-00" if code != "0000-0000-00" else "1111-1111-11"
    response = lookup(client, hr_key(actors), record["certificateNumber"], wrong)
    assert_problem(response, 404, "not-found")
    unknown_number = lookup(client, hr_key(actors), "32-2026-9999999", code)
    assert_problem(unknown_number, 404, "not-found")


def test_a_look_up_with_an_expired_code_is_not_found(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    record = issue(client, actors.officer())
    code = make_code(client, actors.holder(record["holderId"]), record["id"], days=2)
    hr = hr_key(actors)
    assert lookup(client, hr, record["certificateNumber"], code).status_code == 200
    clock.advance(days=3)
    assert_problem(lookup(client, hr, record["certificateNumber"], code), 404, "not-found")


def test_a_code_for_one_credential_does_not_open_another(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    first = issue(client, officer)
    second = issue(client, officer, typeCode="QUAL-CONSTRUCTOR-1")
    assert first["holderId"] == second["holderId"]
    code = make_code(client, actors.holder(first["holderId"]), first["id"])
    response = lookup(client, hr_key(actors), second["certificateNumber"], code)
    assert_problem(response, 404, "not-found")


def test_a_look_up_needs_the_lookup_scope(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    code = make_code(client, actors.holder(record["holderId"]), record["id"])
    response = lookup(client, hr_key(actors, scopes=("verify",)), record["certificateNumber"], code)
    assert_problem(response, 403, "forbidden")


def test_a_look_up_is_in_the_holder_s_audit_with_the_hr_client(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    holder = actors.holder(record["holderId"])
    code = make_code(client, holder, record["id"])
    assert lookup(client, hr_key(actors), record["certificateNumber"], code).status_code == 200
    events = client.get("/v1/holder/audit", headers=holder)
    assert events.status_code == 200, events.text
    lookups = [e for e in events.json() if e["action"] == "credential.lookup"]
    assert len(lookups) == 1
    assert lookups[0]["actor"].startswith("hr_client:")
    assert lookups[0]["targetId"] == record["id"]


def test_an_hr_verification_is_in_the_holder_s_audit(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer, seed=1)
    other = issue(client, officer, seed=2)
    verify(client, hr_key(actors), record["verifiableCredential"])
    response = client.get("/v1/holder/audit", headers=actors.holder(record["holderId"]))
    assert response.status_code == 200, response.text
    verifications = [e for e in response.json() if e["action"] == "credential.verify"]
    assert len(verifications) == 1
    assert verifications[0]["actor"].startswith("hr_client:")
    assert verifications[0]["targetId"] == record["id"]
    others = client.get("/v1/holder/audit", headers=actors.holder(other["holderId"])).json()
    assert not [e for e in others if e["action"] == "credential.verify"]


# --- bad input, authentication, rate limits ---


def test_a_malformed_json_body_is_an_invalid_request(client: TestClient, actors: Actors) -> None:
    response = client.post(
        "/v1/verifications",
        content=b'{"credential": ',
        headers={**hr_key(actors), "Content-Type": "application/json"},
    )
    assert_problem(response, 422, "invalid-request")


def test_a_credential_that_is_neither_an_object_nor_a_string_is_refused(
    client: TestClient, actors: Actors
) -> None:
    response = client.post("/v1/verifications", json={"credential": 5}, headers=hr_key(actors))
    assert_problem(response, 422)


def test_an_unknown_top_level_member_is_refused(client: TestClient, actors: Actors) -> None:
    vc = issue(client, actors.officer())["verifiableCredential"]
    response = client.post(
        "/v1/verifications", json={"credential": vc, "verbose": True}, headers=hr_key(actors)
    )
    assert_problem(response, 422)


def test_an_unsupported_content_type_is_refused(client: TestClient, actors: Actors) -> None:
    response = client.post(
        "/v1/verifications", content=b"hello", headers={**hr_key(actors), "Content-Type": "text/plain"}
    )
    assert_problem(response, 422, "invalid-input")


def test_verifying_without_credentials_is_unauthenticated(client: TestClient) -> None:
    response = client.post("/v1/verifications", json={"credential": "a.b.c"})
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_officer_token_is_not_an_hr_key(client: TestClient, actors: Actors) -> None:
    response = client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=actors.officer())
    assert_problem(response, 403, "forbidden")


def test_an_unknown_api_key_is_unauthenticated(client: TestClient) -> None:
    response = client.post(
        "/v1/verifications", json={"credential": "a.b.c"}, headers={"Authorization": "Bearer yrd_abc_def"}
    )
    assert_problem(response, 401, "unauthenticated")
    assert "www-authenticate" in response.headers


def test_every_issued_api_key_authenticates(client: TestClient, actors: Actors) -> None:
    # The random part of a key is base64url, which may hold "_" (about half of all keys).
    refused = [
        header
        for header in (actors.hr() for _ in range(32))
        if client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=header).status_code != 200
    ]
    assert refused == []


def test_an_hr_client_over_its_rate_gets_429_with_retry_after(client: TestClient, actors: Actors) -> None:
    hr = hr_key(actors, rate=2)
    for _ in range(2):
        assert client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=hr).status_code == 200
    response = client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=hr)
    problem = assert_problem(response, 429, "rate-limited")
    assert int(response.headers["retry-after"]) >= 1
    assert problem["retryAfter"] == int(response.headers["retry-after"])
    other = hr_key(actors, rate=2)
    assert client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=other).status_code == 200
