"""Regression tests for what a review of the node found: each names the defect it
guards against."""

from __future__ import annotations

import asyncio
import copy
import os
import signal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlmodel import func, select

from registry.credentials.sample import sample_title_credential
from registry.credentials.verification import Trust
from registry.models import Credential, Holder
from registry.node_keys import NodeKeyStore
from registry.signing import data_integrity, jose
from registry.verifier import POOL_THRESHOLD, Verifier
from tests.conftest import BASE_URL, NOW, Actors, DidKeyIssuer, MutableClock, issue_row, resident_id


def _issue(client: TestClient, actors: Actors, seed: int = 1, **overrides: Any) -> dict[str, Any]:
    row = issue_row(idNumber=resident_id(seed), holderName=f"持证人{seed}", **overrides)
    response = client.post("/v1/credentials", json=row, headers=actors.officer())
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def _count(client: TestClient, model: Any) -> int:
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _with_duplicate_name(vc: dict[str, Any]) -> bytes:
    """The signed credential's JSON with a second, earlier "name" in its subject: a
    parser that keeps the first member reads another holder than the signature covers."""
    import json

    text = json.dumps(vc, ensure_ascii=False, separators=(",", ":"))
    return text.replace('"credentialSubject":{', '"credentialSubject":{"name":"王小明",', 1).encode()


def test_duplicate_member_names_are_refused_on_every_json_endpoint(
    client: TestClient, actors: Actors
) -> None:
    vc = _issue(client, actors)["verifiableCredential"]
    doubled = _with_duplicate_name(vc)
    hr = {**actors.hr(), "Content-Type": "application/json"}
    bodies = {
        "/v1/verifications": b'{"credential":' + doubled + b"}",
        "/v1/verifications/batch": b'{"credentials":[' + doubled + b"]}",
        "/credentials/verify": b'{"verifiableCredential":' + doubled + b"}",
    }
    for path, body in bodies.items():
        response = client.post(path, content=body, headers=hr)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "duplicate" in response.json()["detail"]


def test_a_status_index_in_other_digits_is_a_failed_check_not_a_server_error(
    client: TestClient, issuer: DidKeyIssuer
) -> None:
    unsigned = sample_title_credential(issuer.did, BASE_URL, NOW)
    unsigned["credentialStatus"][0]["statusListIndex"] = "²"
    unsigned["credentialStatus"][1]["statusListIndex"] = "9" * 5000
    vc = data_integrity.add_proof(unsigned, issuer.key, issuer.vm, NOW)
    response = client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert response.status_code == 400
    status = next(r for r in response.json()["results"][0]["checks"] if r["check"] == "status")
    assert status["result"] == "fail"


def test_a_vc_jwt_with_an_absurd_iat_is_refused_not_a_server_error(
    client: TestClient, actors: Actors, issuer: DidKeyIssuer
) -> None:
    unsigned = sample_title_credential(issuer.did, BASE_URL, NOW)
    unsigned["iat"] = 1e20
    token = jose.sign_vc_jwt(unsigned, issuer.key, issuer.vm)
    response = client.post("/v1/verifications", json={"credential": token}, headers=actors.hr())
    assert response.status_code == 200
    assert response.json()["verdict"] == "invalid"


def test_numbers_too_large_for_the_database_are_422(client: TestClient, actors: Actors) -> None:
    assert client.get("/status/revocation/99999999999999999999").status_code == 422
    assert client.get("/v1/audit?after=99999999999999999999", headers=actors.auditor()).status_code == 422


def test_every_credential_of_a_batch_counts_against_the_rate(client: TestClient, actors: Actors) -> None:
    vc = _issue(client, actors)["verifiableCredential"]
    hr = actors.hr(rate=5)
    # A batch the rules allow passes even over the rate (issue 9); its credentials are
    # then owed, so the next request waits (tests/test_rate_limit.py has the figures).
    response = client.post("/v1/verifications/batch", json={"credentials": [vc] * 20}, headers=hr)
    assert response.status_code == 200, response.text
    again = client.post("/v1/verifications/batch", json={"credentials": [vc] * 2}, headers=hr)
    assert again.status_code == 429
    assert int(again.headers["retry-after"]) > 60


def test_failed_sign_ins_back_off_per_user_name_and_address(client: TestClient, actors: Actors) -> None:
    """Five failures are free; then the same name from the same address must wait
    (the owner, from another address, is not slowed: tests/test_sign_in_floods.py)."""
    actors.officer()
    codes = [
        client.post(
            "/v1/auth/token", json={"username": "issuing_officer1", "password": "wrong password!"}
        ).status_code
        for _ in range(7)
    ]
    assert codes == [401] * 6 + [429]


def test_an_empty_presentation_is_not_verified(client: TestClient) -> None:
    """VC Data Model 2.0 §4.13: a presentation may hold no credential, and is then
    verified on its proof alone; unsigned, nothing shows who made it, so it is not
    verified (422: a check could not be made, as for any unsigned presentation)."""
    body = {"verifiablePresentation": {"type": ["VerifiablePresentation"]}}
    response = client.post("/presentations/verify", json=body)
    assert response.status_code == 422
    answer = response.json()
    assert answer["verified"] is False
    assert answer["results"] == []
    checks = {c["check"]: c["result"] for c in answer["presentationResult"]["checks"]}
    assert checks == {"presentation": "unknown", "holderBinding": "not-applicable"}


@pytest.mark.parametrize("member", ["credentialStatus", "evidence", "credentialSchema"])
def test_vc_api_issue_refuses_malformed_members(client: TestClient, actors: Actors, member: str) -> None:
    """VC Data Model 2.0 §4.10, §5.2, §5.6: these members are objects (or arrays of them),
    not strings: 400, the member named, nothing issued. (An ``id`` is accepted since the
    VC API issue path signs the caller's valid members: tests/test_vc_api_standards.py.)"""
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "issuer": client.app.state.node.did,  # type: ignore[attr-defined]
        "type": ["VerifiableCredential", "ProfessionalTitleCredential"],
        "credentialSubject": {
            "name": "王芳",
            "identifier": {"type": "resident", "number": resident_id(7)},
            "title": {"code": "ENG-INTERMEDIATE"},
            "specialty": "土木工程",
            "evaluationCommittee": "评委会",
            "awardedOn": "2026-11-01",
        },
        member: "urn:uuid:0b7c6a5e-3f1d-4c1e-9a51-7f1e2d3c4b5a",
    }
    response = client.post("/credentials/issue", json={"credential": credential}, headers=actors.officer())
    assert response.status_code == 400, response.text
    assert member in response.text
    assert _count(client, Credential) == 0


@pytest.mark.parametrize("name", ["张\x00伟", "张\u0007伟", "张\x85伟"])
def test_control_characters_in_text_fields_are_refused(client: TestClient, actors: Actors, name: str) -> None:
    response = client.post("/v1/credentials", json=issue_row(holderName=name), headers=actors.officer())
    assert response.status_code == 422
    assert _count(client, Holder) == 0


def test_a_csv_cell_too_large_for_the_reader_is_422(client: TestClient, actors: Actors) -> None:
    header = "holder_name,id_type,id_number,type_code,specialty,evaluation_committee,awarded_on\n"
    body = (header + "张伟,resident,x," + "a" * 140_000 + ",b,c,2026-11-20\n").encode()
    response = client.put(
        "/v1/issuance/batches/big-cell",
        content=body,
        headers={**actors.officer(), "Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_suspension_reason_is_not_shown_once_the_credential_is_revoked(
    client: TestClient, actors: Actors
) -> None:
    record = _issue(client, actors)
    officer = actors.officer()
    base = f"/v1/credentials/{record['id']}"
    client.post(f"{base}/suspension", json={"reasonCode": "under_investigation"}, headers=officer)
    client.post(f"{base}/revocation", json={"reasonCode": "issued_in_error"}, headers=officer)
    response = client.post(
        "/v1/verifications", json={"credential": record["verifiableCredential"]}, headers=actors.hr()
    )
    status = next(c for c in response.json()["checks"] if c["check"] == "status")
    assert status["reason"] == "revoked (issued_in_error); suspended"


def test_a_rotation_made_elsewhere_is_used_by_the_next_issuance_at_once(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    """Another worker (or the CLI) rotates; this node's cached ring is seconds old. The
    next credential must be signed with the new key, or its key check fails for ever."""
    node = client.app.state.node  # type: ignore[attr-defined]
    _ = node.ring  # cache the ring as it is now
    clock.advance(hours=1)
    with node.db.session() as session:
        NodeKeyStore(node.settings.key_passphrase).rotate(session, clock())
    clock.advance(seconds=1)
    vc = _issue(client, actors)["verifiableCredential"]
    report = client.post("/v1/verifications", json={"credential": vc}, headers=actors.hr()).json()
    assert report["verdict"] == "valid", report


def test_a_database_that_stays_locked_is_503_with_retry_after(app: Any) -> None:
    @app.get("/locked")
    def locked() -> None:
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/locked")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == "application/problem+json"
    assert "BEGIN" not in response.text


def test_a_dead_worker_process_does_not_fail_batches(client: TestClient, actors: Actors) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    vc = _issue(client, actors)["verifiableCredential"]
    items = [copy.deepcopy(vc) for _ in range(POOL_THRESHOLD)]
    trust = Trust.of(node.did, node.ring)
    verifier = Verifier(workers=2)
    try:
        asyncio.run(verifier.examine_batch(items, trust, NOW))
        pool = verifier.pool()
        victim = next(iter(pool._processes))  # a worker of the pool
        os.kill(victim, signal.SIGKILL)
        exams = asyncio.run(verifier.examine_batch(items, trust, NOW))  # the pool is broken
        assert len(exams) == len(items)
        assert all(e.checks[0].result == "pass" for e in exams)
        again = asyncio.run(verifier.examine_batch(items, trust, NOW))  # a new pool
        assert len(again) == len(items)
        assert verifier.pool() is not pool
    finally:
        verifier.close()


def test_the_verification_answer_is_exactly_the_documented_model(client: TestClient, actors: Actors) -> None:
    """The report is serialised without passing through the response model: it must
    still be exactly what the OpenAPI document says."""
    from registry.routes.verification import VerificationReport

    vc = _issue(client, actors)["verifiableCredential"]
    for credential in (vc, "not a credential"):
        response = client.post("/v1/verifications", json={"credential": credential}, headers=actors.hr())
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert VerificationReport.model_validate(body).model_dump() == body
