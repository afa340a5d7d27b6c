"""Verification codes through the holder API: single-use or multi-use, the holder's
list (never the codes themselves), revocation, the look-up honouring both, and the
audit records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from registry import codes
from registry.models import AuditEvent, VerificationCode
from tests.conftest import Actors, MutableClock, issue_row, resident_id


def setup(client: TestClient, actors: Actors, seed: int = 1) -> tuple[dict[str, Any], dict[str, str]]:
    officer = actors.officer()
    record = client.post(
        "/v1/credentials", json=issue_row(idNumber=resident_id(seed)), headers=officer
    ).json()
    return record, actors.holder(record["holderId"])


def make(client: TestClient, holder: dict[str, str], record: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = client.post(
        f"/v1/holder/credentials/{record['id']}/verification-codes", json=body or None, headers=holder
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def look_up(client: TestClient, hr: dict[str, str], record: dict[str, Any], code: str) -> int:
    status: int = client.post(
        "/v1/verifications/lookup",
        json={"certificateNumber": record["certificateNumber"], "verificationCode": code},
        headers=hr,
    ).status_code
    return status


def test_codes_are_multi_use_by_default_and_single_use_when_asked(client: TestClient, actors: Actors) -> None:
    record, holder = setup(client, actors)
    hr = actors.hr()
    many = make(client, holder, record)
    once = make(client, holder, record, singleUse=True, validDays=1)
    assert many["singleUse"] is False
    assert once["singleUse"] is True
    assert [look_up(client, hr, record, many["verificationCode"]) for _ in range(3)] == [200, 200, 200]
    assert look_up(client, hr, record, once["verificationCode"]) == 200
    assert look_up(client, hr, record, once["verificationCode"]) == 404


def test_a_failed_look_up_does_not_use_a_single_use_code(client: TestClient, actors: Actors) -> None:
    record, holder = setup(client, actors)
    other, _ = setup(client, actors, seed=2)
    once = make(client, holder, record, singleUse=True)
    hr = actors.hr()
    assert look_up(client, hr, other, once["verificationCode"]) == 404  # another credential
    assert look_up(client, hr, record, once["verificationCode"]) == 200


def test_the_list_shows_state_never_the_code(client: TestClient, actors: Actors, clock: MutableClock) -> None:
    record, holder = setup(client, actors)
    hr = actors.hr()
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session() as session:  # made two days ago, valid for one
        short = codes.new_code(session, node.code_key, record["id"], clock.now - timedelta(days=2), 1)
    once = make(client, holder, record, singleUse=True)
    kept = make(client, holder, record, validDays=7)
    assert look_up(client, hr, record, once["verificationCode"]) == 200
    listed = client.get(f"/v1/holder/credentials/{record['id']}/verification-codes", headers=holder)
    assert listed.status_code == 200
    items = {c["id"]: c for c in listed.json()}
    assert items[once["id"]]["state"] == "used"
    assert items[once["id"]]["lastUsedAt"] is not None
    assert items[short.id]["state"] == "expired"
    assert items[kept["id"]]["state"] == "active"
    assert [c["id"] for c in listed.json()] == sorted(items, reverse=True)  # newest first
    for code in (once["verificationCode"], short.code, kept["verificationCode"]):
        assert code not in listed.text
    assert set(listed.json()[0]) == {
        "id",
        "credentialId",
        "createdAt",
        "expiresAt",
        "singleUse",
        "state",
        "lastUsedAt",
        "revokedAt",
    }


def test_a_revoked_code_is_refused_and_the_revocation_audited(client: TestClient, actors: Actors) -> None:
    record, holder = setup(client, actors)
    hr = actors.hr()
    made = make(client, holder, record)
    assert look_up(client, hr, record, made["verificationCode"]) == 200
    url = f"/v1/holder/credentials/{record['id']}/verification-codes/{made['id']}/revocation"
    revoked = client.post(url, headers=holder)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["state"] == "revoked"
    assert look_up(client, hr, record, made["verificationCode"]) == 404
    again = client.post(url, headers=holder)
    assert again.status_code == 200
    assert again.json()["revokedAt"] == revoked.json()["revokedAt"]
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "verification-code.revoke")).all()
    assert len(events) == 1
    assert events[0].holder_id == record["holderId"]
    audit = client.get("/v1/holder/audit", headers=holder).json()
    assert "verification-code.revoke" in [e["action"] for e in audit]


def test_only_the_holder_reaches_their_codes(client: TestClient, actors: Actors) -> None:
    record, holder = setup(client, actors)
    other, stranger = setup(client, actors, seed=2)
    made = make(client, holder, record)
    base = f"/v1/holder/credentials/{record['id']}/verification-codes"
    assert client.get(base, headers=stranger).status_code == 404
    assert client.post(f"{base}/{made['id']}/revocation", headers=stranger).status_code == 404
    # A code of one credential is not found under another, even the same holder's.
    mine_too = make(client, stranger, other)
    assert client.post(f"{base}/{mine_too['id']}/revocation", headers=holder).status_code == 404
    assert client.get(base, headers=actors.officer()).status_code == 403
    assert client.get(base, headers=actors.hr()).status_code == 403
    assert client.post(f"{base}/0/revocation", headers=holder).status_code == 422


def test_the_number_of_usable_codes_is_bounded(client: TestClient, actors: Actors) -> None:
    record, holder = setup(client, actors)
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session() as session:
        for _ in range(codes.MAX_LIVE_CODES):
            codes.new_code(session, node.code_key, record["id"], node.clock(), 7)
    response = client.post(f"/v1/holder/credentials/{record['id']}/verification-codes", headers=holder)
    assert response.status_code == 409
    with node.db.session(write=False) as session:
        assert len(session.exec(select(VerificationCode)).all()) == codes.MAX_LIVE_CODES


def test_the_creation_is_audited_with_its_use(client: TestClient, actors: Actors) -> None:
    record, holder = setup(client, actors)
    made = make(client, holder, record, singleUse=True, validDays=3)
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        (event,) = session.exec(
            select(AuditEvent).where(AuditEvent.action == "verification-code.create")
        ).all()
    assert event.detail is not None
    assert '"singleUse": true' in event.detail
    assert f'"codeId": {made["id"]}' in event.detail
