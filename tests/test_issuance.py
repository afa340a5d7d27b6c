"""Issuance over HTTP: one credential, batches (JSON and CSV), all-or-nothing,
idempotency, progress of background batches, and what the issued VC contains."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import func, select

from registry.models import AuditEvent, Credential, Holder
from registry.signing import data_integrity
from tests.conftest import NOW, Actors, issue_row, resident_id


def count(client: TestClient, model: Any) -> int:
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_issue_one_credential_gives_a_signed_vc_without_the_id_number(
    client: TestClient, actors: Actors
) -> None:
    response = client.post("/v1/credentials", json=issue_row(), headers=actors.officer())
    assert response.status_code == 201, response.text
    record = response.json()
    assert response.headers["location"] == f"/v1/credentials/{record['id']}"
    assert record["certificateNumber"] == "32-2026-0000001"
    vc = record["verifiableCredential"]
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert vc["type"] == ["VerifiableCredential", "ProfessionalTitleCredential"]
    assert vc["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    subject = vc["credentialSubject"]
    assert subject["title"]["name"]["zh"] == "高级工程师"
    assert subject["holderCommitment"].startswith("sha256:")
    assert "11010519491231002X" not in response.text
    purposes = sorted(e["statusPurpose"] for e in vc["credentialStatus"])
    assert purposes == ["revocation", "suspension"]
    assert (
        data_integrity.parse_datetime(vc["validFrom"], "validFrom").isoformat() == "2026-11-19T16:00:00+00:00"
    )
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        holder = session.exec(select(Holder)).one()
        assert holder.id_masked == "1101**********002X"
        assert "11010519491231002X" not in holder.model_dump_json()


def test_certificate_numbers_are_sequential_per_province_and_year(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    numbers = [
        client.post("/v1/credentials", json=issue_row(idNumber=resident_id(i)), headers=officer).json()[
            "certificateNumber"
        ]
        for i in range(3)
    ]
    assert numbers == ["32-2026-0000001", "32-2026-0000002", "32-2026-0000003"]


def test_a_batch_with_one_bad_row_issues_nothing_and_reports_every_error(
    client: TestClient, actors: Actors
) -> None:
    rows = [
        issue_row(idNumber=resident_id(1)),
        issue_row(idNumber="110105194912310021"),  # wrong check character
        issue_row(idNumber=resident_id(3), typeCode="NO-SUCH-TYPE"),
        issue_row(idNumber=resident_id(4), awardedOn="2026-02-30"),
    ]
    response = client.put(
        "/v1/issuance/batches/eval-2026-11", json={"credentials": rows}, headers=actors.officer()
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/batch-rejected")
    errors = problem["errors"]
    assert {e["row"] for e in errors} == {2, 3, 4}
    assert any("check character" in e["message"] for e in errors)
    assert count(client, Credential) == 0
    assert count(client, Holder) == 0
    assert client.get("/v1/issuance/batches/eval-2026-11", headers=actors.officer()).status_code == 404


def test_a_batch_is_idempotent_by_batch_id(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    rows = [issue_row(idNumber=resident_id(i), holderName=f"持证人{i}") for i in range(5)]
    first = client.put("/v1/issuance/batches/b-1", json={"credentials": rows}, headers=officer)
    assert first.status_code == 201, first.text
    again = client.put("/v1/issuance/batches/b-1", json={"credentials": rows}, headers=officer)
    assert again.status_code == 200
    assert sorted(c["id"] for c in again.json()["credentials"]) == sorted(
        c["id"] for c in first.json()["credentials"]
    )
    assert count(client, Credential) == 5
    other = client.put("/v1/issuance/batches/b-1", json={"credentials": rows[:4]}, headers=officer)
    assert other.status_code == 409
    assert count(client, Credential) == 5


def test_csv_and_json_of_the_same_batch_are_the_same_batch(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    header = "holder_name,id_type,id_number,type_code,specialty,evaluation_committee,awarded_on\n"
    lines = [
        f"持证人{i},resident,{resident_id(i)},RES-INTERMEDIATE,凝聚态物理,评委会,2026-11-20\n"
        for i in range(3)
    ]
    csv_body = (header + "".join(lines)).encode("utf-8")
    response = client.put(
        "/v1/issuance/batches/csv-1", content=csv_body, headers={**officer, "Content-Type": "text/csv"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["count"] == 3
    rows = [
        issue_row(
            holderName=f"持证人{i}",
            idNumber=resident_id(i),
            typeCode="RES-INTERMEDIATE",
            specialty="凝聚态物理",
            evaluationCommittee="评委会",
        )
        for i in range(3)
    ]
    again = client.put("/v1/issuance/batches/csv-1", json={"credentials": rows}, headers=officer)
    assert again.status_code == 200


def test_csv_with_unknown_columns_is_refused(client: TestClient, actors: Actors) -> None:
    body = b"holder_name,id_type,id_number,type_code,specialty,evaluation_committee,awarded_on,salary\n"
    response = client.put(
        "/v1/issuance/batches/csv-2", content=body, headers={**actors.officer(), "Content-Type": "text/csv"}
    )
    assert response.status_code == 422
    assert "salary" in response.json()["detail"]


def test_same_identity_with_another_name_is_a_row_error(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    assert client.post("/v1/credentials", json=issue_row(), headers=officer).status_code == 201
    response = client.post(
        "/v1/credentials", json=issue_row(holderName="李四", typeCode="ENG-INTERMEDIATE"), headers=officer
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "holderName"


def test_one_holder_gets_several_credentials(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    a = client.post("/v1/credentials", json=issue_row(), headers=officer).json()
    b = client.post("/v1/credentials", json=issue_row(typeCode="QUAL-CONSTRUCTOR-1"), headers=officer).json()
    assert a["holderId"] == b["holderId"]
    assert b["verifiableCredential"]["type"][1] == "ProfessionalQualificationCredential"


def test_status_indexes_are_random_and_never_shared(client: TestClient, actors: Actors) -> None:
    rows = [issue_row(idNumber=resident_id(i), holderName=f"持证人{i}") for i in range(40)]
    result = client.put("/v1/issuance/batches/idx", json={"credentials": rows}, headers=actors.officer())
    assert result.status_code == 201
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        slots = session.exec(select(Credential.revocation_list_id, Credential.revocation_index)).all()
    indexes = [i for _, i in slots]
    assert len(set(slots)) == 40
    assert max(indexes) - min(indexes) > 40  # spread over the list, not consecutive


def test_large_batches_run_in_the_background_with_progress(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    rows = [issue_row(idNumber=resident_id(i), holderName=f"持证人{i}") for i in range(30)]
    response = client.put(
        "/v1/issuance/batches/async-1",
        json={"credentials": rows},
        headers={**officer, "Prefer": "respond-async"},
    )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == "/v1/issuance/batches/async-1"
    assert response.json()["total"] == 30
    state: dict[str, Any] = {}
    for _ in range(200):
        state = client.get("/v1/issuance/batches/async-1", headers=officer).json()
        if state["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert state["state"] == "done", state
    assert state["processed"] == 30
    assert len(state["result"]["credentials"]) == 30


def test_background_batch_errors_are_reported_before_it_is_accepted(
    client: TestClient, actors: Actors
) -> None:
    rows = [issue_row(idNumber=resident_id(1)), issue_row(idNumber="bad")]
    response = client.put(
        "/v1/issuance/batches/async-2",
        json={"credentials": rows},
        headers={**actors.officer(), "Prefer": "respond-async"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["row"] == 2


def test_every_issued_credential_is_audited_with_its_holder(client: TestClient, actors: Actors) -> None:
    record = client.post("/v1/credentials", json=issue_row(), headers=actors.officer()).json()
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "credential.issue")).one()
    assert event.target_id == record["id"]
    assert event.holder_id == record["holderId"]
    assert event.actor_role == "issuing_officer"
    assert event.at == NOW


def test_concurrent_submissions_of_one_batch_issue_it_once(client: TestClient, actors: Actors) -> None:
    """Three clients send the same batch at once: one issues it; the others get its
    result (200) or are told it was being issued (409) — never a 500, never twice."""
    from concurrent.futures import ThreadPoolExecutor

    officer = actors.officer()
    rows = [issue_row(idNumber=resident_id(i), holderName=f"持证人{i}") for i in range(20)]

    def send(_: int) -> int:
        return client.put(
            "/v1/issuance/batches/race", json={"credentials": rows}, headers=officer
        ).status_code

    with ThreadPoolExecutor(3) as pool:
        codes = list(pool.map(send, range(3)))
    assert codes.count(201) == 1, codes
    assert set(codes) <= {200, 201, 409}, codes
    assert count(client, Credential) == 20
    assert (
        client.put("/v1/issuance/batches/race", json={"credentials": rows}, headers=officer).status_code
        == 200
    )


def test_concurrent_rotations_leave_one_active_key(client: TestClient, actors: Actors, clock: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    clock.advance(hours=1)
    admins = [actors.admin() for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        codes = list(pool.map(lambda h: client.post("/v1/keys/rotation", headers=h).status_code, admins))
    assert all(c in (200, 503) for c in codes), codes
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        ring = node.key_store.load(session)
    assert len(ring.valid_at(clock())) == 1
