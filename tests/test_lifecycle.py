"""What admins do over a node's life (issue 9, point 1): HR clients listed, deactivated
and re-keyed; staff accounts listed, deactivated, reactivated and given one-time
passwords; holders and credentials found by certificate number, name and batch; signing
keys listed and marked compromised from an instant. Every change is audited with who,
when and why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import event

from tests.conftest import NOW, PASSWORD, Actors, MutableClock, issue_row, resident_id
from tests.test_durability import FailingCommits

PROBLEM_JSON = "application/problem+json"
NEW_PASSWORD = "a brand new passphrase of mine"


def node_of(client: TestClient) -> Any:
    return client.app.state.node  # type: ignore[attr-defined]


def problem(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    return body


def audit_events(client: TestClient, admin: dict[str, str], action: str) -> list[dict[str, Any]]:
    response = client.get("/v1/audit", params={"action": action}, headers=admin)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


def issue(client: TestClient, officer: dict[str, str], seed: int, name: str) -> dict[str, Any]:
    response = client.post(
        "/v1/credentials", json=issue_row(holderName=name, idNumber=resident_id(seed)), headers=officer
    )
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def new_hr_client(client: TestClient, admin: dict[str, str], name: str = "苏州人才中心") -> dict[str, Any]:
    response = client.post("/v1/hr-clients", json={"name": name, "scopes": ["verify"]}, headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def verify_with(client: TestClient, key: str, credential: Any) -> Response:
    response: Response = client.post(
        "/v1/verifications", json={"credential": credential}, headers={"Authorization": f"Bearer {key}"}
    )
    return response


def sign_in(client: TestClient, username: str, password: str) -> Response:
    response: Response = client.post("/v1/auth/token", json={"username": username, "password": password})
    return response


# --- HR clients ---


def test_hr_clients_are_listed_without_their_keys(client: TestClient, actors: Actors) -> None:
    admin = actors.admin()
    created = new_hr_client(client, admin)
    listed = client.get("/v1/hr-clients", headers=admin)
    assert listed.status_code == 200, listed.text
    [entry] = [c for c in listed.json() if c["id"] == created["id"]]
    assert entry["name"] == "苏州人才中心"
    assert entry["active"] is True
    assert entry["scopes"] == ["verify"]
    assert "apiKey" not in entry
    assert created["apiKey"] not in listed.text
    problem(client.get("/v1/hr-clients", headers=actors.auditor()), 403)


def test_a_deactivated_hr_client_is_stopped_at_once_in_this_worker(
    client: TestClient, actors: Actors
) -> None:
    admin, officer = actors.admin(), actors.officer()
    credential = issue(client, officer, 1, "张伟")["verifiableCredential"]
    created = new_hr_client(client, admin)
    # The key is now in the node's 5-second cache of authenticated keys.
    assert verify_with(client, created["apiKey"], credential).status_code == 200
    stopped = client.post(
        f"/v1/hr-clients/{created['id']}/deactivation", json={"reason": "密钥泄露"}, headers=admin
    )
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["active"] is False
    # No waiting for the cache: the deactivating worker forgot the key after its commit.
    problem(verify_with(client, created["apiKey"], credential), 401)
    [event] = audit_events(client, admin, "hr-client.deactivate")
    assert event["targetId"] == created["id"]
    assert event["reason"] == "密钥泄露"
    assert event["actorRole"] == "admin"
    assert event["at"] == NOW.isoformat().replace("+00:00", "Z")


def test_an_hr_key_rotation_stops_the_old_key_and_shows_the_new_one_once(
    client: TestClient, actors: Actors
) -> None:
    admin, officer = actors.admin(), actors.officer()
    credential = issue(client, officer, 2, "李娜")["verifiableCredential"]
    created = new_hr_client(client, admin)
    assert verify_with(client, created["apiKey"], credential).status_code == 200
    rotated = client.post(
        f"/v1/hr-clients/{created['id']}/key-rotation", json={"reason": "例行更换"}, headers=admin
    )
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["apiKey"]
    assert new_key != created["apiKey"]
    problem(verify_with(client, created["apiKey"], credential), 401)
    assert verify_with(client, new_key, credential).status_code == 200
    [event] = audit_events(client, admin, "hr-client.rotate-key")
    assert event["reason"] == "例行更换"
    assert new_key not in str(event)
    # A deactivated client gets no new key; unknown clients are 404.
    client.post(f"/v1/hr-clients/{created['id']}/deactivation", json={"reason": "停用"}, headers=admin)
    problem(
        client.post(f"/v1/hr-clients/{created['id']}/key-rotation", json={"reason": "x"}, headers=admin), 409
    )
    problem(client.post("/v1/hr-clients/nope/deactivation", json={"reason": "x"}, headers=admin), 404)


# --- staff accounts ---


def _account_id(client: TestClient, admin: dict[str, str], username: str) -> str:
    listed = client.get("/v1/accounts", headers=admin)
    assert listed.status_code == 200, listed.text
    account_id: str = next(a["id"] for a in listed.json() if a["username"] == username)
    return account_id


def test_staff_accounts_are_listed_deactivated_and_reactivated(client: TestClient, actors: Actors) -> None:
    admin = actors.admin()
    officer = actors.officer()  # username issuing_officer2
    listed = client.get("/v1/accounts", headers=admin).json()
    assert {a["username"] for a in listed} >= {"admin1", "issuing_officer2"}
    assert all(a["role"] != "holder" for a in listed)
    assert all("password" not in key.lower() or key == "mustChangePassword" for a in listed for key in a)
    only_officers = client.get("/v1/accounts", params={"role": "issuing_officer"}, headers=admin).json()
    assert [a["username"] for a in only_officers] == ["issuing_officer2"]
    officer_id = _account_id(client, admin, "issuing_officer2")
    assert client.get("/v1/issuance/batches/none", headers=officer).status_code == 404

    off = client.post(f"/v1/accounts/{officer_id}/deactivation", json={"reason": "调离岗位"}, headers=admin)
    assert off.status_code == 200, off.text
    assert off.json()["active"] is False
    # The access token the officer already holds stops working at once.
    problem(client.get("/v1/issuance/batches/none", headers=officer), 401)
    problem(sign_in(client, "issuing_officer2", PASSWORD), 401)
    inactive = client.get("/v1/accounts", params={"active": "false"}, headers=admin).json()
    assert [a["username"] for a in inactive] == ["issuing_officer2"]

    on = client.post(f"/v1/accounts/{officer_id}/reactivation", json={"reason": "返岗"}, headers=admin)
    assert on.status_code == 200, on.text
    assert sign_in(client, "issuing_officer2", PASSWORD).status_code == 200
    [deactivated] = audit_events(client, admin, "account.deactivate")
    [reactivated] = audit_events(client, admin, "account.reactivate")
    assert (deactivated["reason"], reactivated["reason"]) == ("调离岗位", "返岗")
    assert deactivated["targetId"] == officer_id


def test_an_admin_cannot_deactivate_their_own_account(client: TestClient, actors: Actors) -> None:
    admin = actors.admin()
    own = _account_id(client, admin, "admin1")
    problem(client.post(f"/v1/accounts/{own}/deactivation", json={"reason": "x"}, headers=admin), 409)
    problem(client.post("/v1/accounts/nope/deactivation", json={"reason": "x"}, headers=admin), 404)
    problem(client.post(f"/v1/accounts/{own}/deactivation", json={}, headers=admin), 422)  # a reason
    problem(client.get("/v1/accounts", headers=actors.officer()), 403)


def test_a_password_reset_sets_a_one_time_password_that_must_be_changed(
    client: TestClient, actors: Actors
) -> None:
    admin = actors.admin()
    actors.auditor()  # auditor2
    auditor_id = _account_id(client, admin, "auditor2")
    reset = client.post(
        f"/v1/accounts/{auditor_id}/password-reset", json={"reason": "忘记密码"}, headers=admin
    )
    assert reset.status_code == 200, reset.text
    one_time = reset.json()["oneTimePassword"]
    assert reset.json()["mustChangePassword"] is True
    problem(sign_in(client, "auditor2", PASSWORD), 401)  # the old password is gone
    required = problem(sign_in(client, "auditor2", one_time), 403)
    assert required["type"].endswith("/password-change-required")
    change = {"username": "auditor2", "password": one_time, "newPassword": NEW_PASSWORD}
    problem(client.post("/v1/auth/password", json={**change, "password": "not the one-time one"}), 401)
    problem(client.post("/v1/auth/password", json={**change, "newPassword": one_time}), 422)
    changed = client.post("/v1/auth/password", json=change)
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "auditor"
    token = changed.json()["access_token"]
    assert client.get("/v1/audit", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert sign_in(client, "auditor2", NEW_PASSWORD).status_code == 200
    problem(sign_in(client, "auditor2", one_time), 401)
    [event] = audit_events(client, admin, "account.password-reset")
    assert (event["targetId"], event["reason"]) == (auditor_id, "忘记密码")
    assert one_time not in str(event)
    [own_change] = audit_events(client, admin, "account.password-change")
    assert own_change["actor"] == f"account:{auditor_id}"


def test_an_admin_may_choose_the_one_time_password(client: TestClient, actors: Actors) -> None:
    admin = actors.admin()
    actors.officer()
    officer_id = _account_id(client, admin, "issuing_officer2")
    chosen = "told on the phone 4711"
    reset = client.post(
        f"/v1/accounts/{officer_id}/password-reset",
        json={"reason": "锁定", "oneTimePassword": chosen},
        headers=admin,
    )
    assert reset.status_code == 200, reset.text
    assert "oneTimePassword" not in reset.json() or reset.json()["oneTimePassword"] is None
    problem(sign_in(client, "issuing_officer2", chosen), 403)
    short = {"reason": "x", "oneTimePassword": "short"}
    problem(client.post(f"/v1/accounts/{officer_id}/password-reset", json=short, headers=admin), 422)


# --- holders and credentials ---


def test_credentials_are_found_by_certificate_number_name_and_batch(
    client: TestClient, actors: Actors
) -> None:
    officer, auditor = actors.officer(), actors.auditor()
    first = issue(client, officer, 11, "王小明")
    issue(client, officer, 12, "赵丽")
    batch = client.put(
        "/v1/issuance/batches/eval-2026-11",
        json={"credentials": [issue_row(holderName="王大明", idNumber=resident_id(13))]},
        headers=officer,
    )
    assert batch.status_code in (200, 201), batch.text

    by_number = client.get(
        "/v1/credentials", params={"certificateNumber": first["certificateNumber"]}, headers=auditor
    )
    assert by_number.status_code == 200, by_number.text
    assert [c["id"] for c in by_number.json()] == [first["id"]]
    assert by_number.json()[0]["holderName"] == "王小明"
    by_name = client.get("/v1/credentials", params={"name": "明"}, headers=auditor).json()
    assert sorted(c["holderName"] for c in by_name) == ["王大明", "王小明"]
    by_batch = client.get("/v1/credentials", params={"batch": "eval-2026-11"}, headers=auditor).json()
    assert [c["holderName"] for c in by_batch] == ["王大明"]
    assert by_batch[0]["batchId"] == "eval-2026-11"
    # A wildcard typed by a user is a character, not a pattern.
    assert client.get("/v1/credentials", params={"name": "%"}, headers=auditor).json() == []
    holders = client.get("/v1/holders", params={"name": "王"}, headers=auditor)
    assert holders.status_code == 200, holders.text
    assert sorted(h["name"] for h in holders.json()) == ["王大明", "王小明"]
    assert all(h["idMasked"].count("*") >= 8 for h in holders.json())
    assert client.get("/v1/credentials", params={"name": "明"}, headers=actors.admin()).status_code == 200
    problem(client.get("/v1/credentials", headers=officer), 403)
    problem(client.get("/v1/holders", headers=officer), 403)


def test_a_search_is_audited_as_a_read_of_personal_data(client: TestClient, actors: Actors) -> None:
    officer, auditor, admin = actors.officer(), actors.auditor(), actors.admin()
    record = issue(client, officer, 21, "周杰")
    client.get("/v1/credentials", params={"name": "周"}, headers=auditor)
    client.get("/v1/holders", params={"name": "周"}, headers=auditor)
    [search] = [e for e in audit_events(client, admin, "credential.search") if e["targetType"] == "query"]
    assert search["actorRole"] == "auditor"
    assert search["detail"]["query"] == {"name": "周"}
    assert search["detail"]["results"] == 1
    [holder_search] = [e for e in audit_events(client, admin, "holder.search") if e["targetType"] == "query"]
    assert holder_search["detail"]["results"] == 1
    # The holder sees that their record was read, and by whom.
    holder_id = record["holderId"]
    holder = actors.holder(holder_id)
    seen = client.get("/v1/holder/audit", headers=holder).json()
    assert {"credential.search", "holder.search"} <= {e["action"] for e in seen}


# --- signing keys ---


def test_signing_keys_are_listed_with_their_states(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    admin = actors.admin()
    first = client.get("/v1/keys", headers=admin)
    assert first.status_code == 200, first.text
    [only] = first.json()
    assert only["state"] == "active"
    assert "private" not in first.text.lower()
    clock.advance(minutes=5)
    assert client.post("/v1/keys/rotation", headers=admin).status_code == 200
    states = {k["kid"]: k["state"] for k in client.get("/v1/keys", headers=admin).json()}
    assert states[only["kid"]] == "retired"
    assert sorted(states.values()) == ["active", "retired"]
    problem(client.get("/v1/keys", headers=actors.auditor()), 403)


def test_a_key_is_marked_compromised_only_with_a_confirmation(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    early = issue(client, actors.officer(), 31, "孙悦")["verifiableCredential"]
    clock.advance(days=1)  # access tokens last 15 minutes: new ones
    admin, officer = actors.admin(), actors.officer()
    late = issue(client, officer, 32, "钱坤")["verifiableCredential"]
    kid = early["proof"]["verificationMethod"].partition("#")[2]
    since = (NOW + timedelta(hours=12)).isoformat()
    body = {"confirm": "someone-else", "compromisedFrom": since, "reason": "私钥文件外泄"}
    problem(client.post(f"/v1/keys/{kid}/compromise", json=body, headers=admin), 422)
    node = node_of(client)
    assert node.ring.record(kid).compromised_from is None  # nothing changed
    future = {**body, "confirm": kid, "compromisedFrom": (clock() + timedelta(days=1)).isoformat()}
    problem(client.post(f"/v1/keys/{kid}/compromise", json=future, headers=admin), 422)
    problem(client.post("/v1/keys/nope/compromise", json={**body, "confirm": "nope"}, headers=admin), 404)

    marked = client.post(f"/v1/keys/{kid}/compromise", json={**body, "confirm": kid}, headers=admin)
    assert marked.status_code == 200, marked.text
    states = {k["kid"]: k for k in marked.json()["keys"]}
    assert states[kid]["state"] == "compromised"
    # The compromised key was the signing key: a new one signs from now on.
    new_kid = marked.json()["signingKid"]
    assert new_kid != kid
    assert states[new_kid]["state"] == "active"
    # The cached ring changed after the commit: this worker sees it at once.
    assert node.last_ring.record(kid).compromised_from is not None

    hr = actors.hr()
    late_report = client.post("/v1/verifications", json={"credential": late}, headers=hr).json()
    assert late_report["verdict"] == "invalid"
    early_report = client.post("/v1/verifications", json={"credential": early}, headers=hr).json()
    assert early_report["verdict"] == "valid"
    again = issue(client, officer, 33, "吴迪")["verifiableCredential"]
    assert again["proof"]["verificationMethod"].endswith("#" + new_kid)
    [event] = audit_events(client, admin, "key.compromise")
    assert (event["targetId"], event["reason"]) == (kid, "私钥文件外泄")
    assert event["detail"]["compromisedFrom"].startswith("2026-11-27T20:00:00")


# --- nothing in memory ahead of the database ---


@pytest.fixture
def failing(client: TestClient) -> Iterator[FailingCommits]:
    hook = FailingCommits(node_of(client))
    event.listen(node_of(client).db.engine, "commit", hook)
    yield hook
    event.remove(node_of(client).db.engine, "commit", hook)


def test_a_compromise_or_deactivation_whose_commit_fails_changes_nothing(
    client: TestClient, actors: Actors, failing: FailingCommits
) -> None:
    admin, officer = actors.admin(), actors.officer()
    credential = issue(client, officer, 41, "郑爽")["verifiableCredential"]
    kid = credential["proof"]["verificationMethod"].partition("#")[2]
    hr = new_hr_client(client, admin)
    assert verify_with(client, hr["apiKey"], credential).status_code == 200
    body = {"confirm": kid, "compromisedFrom": NOW.isoformat(), "reason": "演练"}
    failing.armed = True
    compromised = client.post(f"/v1/keys/{kid}/compromise", json=body, headers=admin)
    stopped = client.post(f"/v1/hr-clients/{hr['id']}/deactivation", json={"reason": "x"}, headers=admin)
    failing.armed = False
    assert (compromised.status_code, stopped.status_code) == (503, 503)
    # The cached ring did not move ahead of the database, and the key still works.
    assert node_of(client).ring.record(kid).compromised_from is None
    assert verify_with(client, hr["apiKey"], credential).json()["verdict"] == "valid"


def test_tokens_held_before_a_deactivation_stay_dead_after_reactivation(
    client: TestClient, actors: Actors, clock: Any
) -> None:
    admin = actors.admin()
    officer = actors.officer()  # username issuing_officer2
    officer_id = _account_id(client, admin, "issuing_officer2")
    clock.advance(seconds=1)
    admin = actors.admin()  # a token issued at the new second
    for step in ("deactivation", "reactivation"):
        answer = client.post(f"/v1/accounts/{officer_id}/{step}", json={"reason": "复核"}, headers=admin)
        assert answer.status_code == 200, answer.text
    problem(client.get("/v1/issuance/batches/none", headers=officer), 401)
    fresh = sign_in(client, "issuing_officer2", PASSWORD)
    assert fresh.status_code == 200
    token = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert client.get("/v1/issuance/batches/none", headers=token).status_code == 404
