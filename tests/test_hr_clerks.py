"""HR clerks (issue 12, HR desk "signed in as an HR client user"): an admin opens an
account for a clerk of a registered HR client; the clerk signs in to the HR desk with
their own name and password and works with the client's scopes and rate; the audit names
the clerk beside the client; deactivating the clerk, stopping the client or signing out
ends the session at once."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from registry.models import AuditEvent
from tests.conftest import PASSWORD, Actors
from tests.test_web_pages import csrf_of, issue, text_of

CLERK_PASSWORD = "a clerk's long passphrase"


def new_client(client: TestClient, admin: dict[str, str], scopes: list[str] | None = None) -> dict[str, Any]:
    response = client.post(
        "/v1/hr-clients",
        json={"name": "苏州人才中心", "scopes": scopes or ["verify", "lookup"]},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def new_clerk(
    client: TestClient, admin: dict[str, str], hr_client_id: str, name: str = "wang.fang"
) -> dict[str, Any]:
    response = client.post(
        "/v1/accounts",
        json={"username": name, "password": CLERK_PASSWORD, "role": "hr_clerk", "hrClientId": hr_client_id},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def clerk_sign_in(client: TestClient, name: str = "wang.fang", password: str = CLERK_PASSWORD) -> Any:
    form = client.get("/hr/sign-in")
    return client.post(
        "/hr/sign-in/clerk",
        data={"csrf_token": csrf_of(form.text), "username": name, "password": password},
        follow_redirects=False,
    )


def test_a_clerk_signs_in_verifies_and_is_named_in_the_audit(client: TestClient, actors: Actors) -> None:
    admin = actors.admin()
    hr = new_client(client, admin)
    new_clerk(client, admin, hr["id"])
    signed = clerk_sign_in(client)
    assert signed.status_code == 303, text_of(signed.text)
    home = client.get("/hr")
    assert home.status_code == 200
    assert "苏州人才中心 · wang.fang" in text_of(home.text)
    record = issue(client, actors.officer(), 41, "周芷若")
    vc = json.dumps(record["verifiableCredential"]).encode()
    result = client.post(
        "/hr/verify",
        data={"csrf_token": csrf_of(home.text)},
        files={"file": ("c.json", vc, "application/json")},
    )
    assert 'data-verdict="valid"' in result.text
    node = client.app.state.node  # type: ignore[attr-defined]
    node.audit_writer.flush()
    with node.db.session(write=False) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "credential.verify")).all()
    assert [(e.actor, json.loads(e.detail or "{}").get("clerk")) for e in events] == [
        (f"hr_client:{hr['id']}", "wang.fang")
    ]
    # The holder reads the department's name, as for the API.
    holder = actors.holder(record["holderId"])
    seen = client.get("/v1/holder/audit", headers=holder).json()
    assert any(e["action"] == "credential.verify" and "苏州人才中心" in e["actorName"] for e in seen), seen


def test_a_wrong_password_a_staff_account_or_a_stopped_client_gets_no_session(
    client: TestClient, actors: Actors
) -> None:
    admin = actors.admin()
    hr = new_client(client, admin)
    new_clerk(client, admin, hr["id"])
    assert clerk_sign_in(client, password="not the password at all").status_code == 401
    actors.officer()
    assert clerk_sign_in(client, name=f"issuing_officer{actors._n}", password=PASSWORD).status_code == 401
    stopped = client.post(f"/v1/hr-clients/{hr['id']}/deactivation", json={"reason": "停用"}, headers=admin)
    assert stopped.status_code == 200, stopped.text
    refused = clerk_sign_in(client)
    assert refused.status_code == 401
    assert "停用" in text_of(refused.text)


def test_deactivating_the_clerk_or_the_client_or_signing_out_ends_the_session(
    client: TestClient, actors: Actors
) -> None:
    admin = actors.admin()
    hr = new_client(client, admin)
    clerk = new_clerk(client, admin, hr["id"])
    assert clerk_sign_in(client).status_code == 303
    assert client.get("/hr", follow_redirects=False).status_code == 200
    response = client.post(f"/v1/accounts/{clerk['id']}/deactivation", json={"reason": "停用"}, headers=admin)
    assert response.status_code == 200, response.text
    assert client.get("/hr", follow_redirects=False).status_code == 303  # back to sign-in

    other = new_clerk(client, admin, hr["id"], "li.lei")
    assert clerk_sign_in(client, name="li.lei").status_code == 303
    assert client.get("/hr", follow_redirects=False).status_code == 200
    assert (
        client.post(
            f"/v1/hr-clients/{hr['id']}/deactivation", json={"reason": "停用"}, headers=admin
        ).status_code
        == 200
    )
    assert client.get("/hr", follow_redirects=False).status_code == 303
    assert other["role"] == "hr_clerk"


def test_sign_out_ends_the_clerks_token(client: TestClient, actors: Actors) -> None:
    admin = actors.admin()
    hr = new_client(client, admin)
    new_clerk(client, admin, hr["id"])
    assert clerk_sign_in(client).status_code == 303
    kept = client.cookies.get("yrd_hr")
    home = client.get("/hr")
    client.post("/hr/sign-out", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    copied = TestClient(client.app)
    copied.cookies.set("yrd_hr", kept or "")
    assert copied.get("/hr", follow_redirects=False).status_code == 303


def test_an_hr_clerk_account_needs_an_active_hr_client_and_only_a_clerk_has_one(
    client: TestClient, actors: Actors
) -> None:
    admin = actors.admin()
    hr = new_client(client, admin)
    for body in (
        {"username": "no.client", "password": CLERK_PASSWORD, "role": "hr_clerk"},
        {"username": "bad.client", "password": CLERK_PASSWORD, "role": "hr_clerk", "hrClientId": "nope"},
        {
            "username": "officer.x",
            "password": CLERK_PASSWORD,
            "role": "issuing_officer",
            "hrClientId": hr["id"],
        },
    ):
        response = client.post("/v1/accounts", json=body, headers=admin)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    # A clerk's token is not an API credential for staff routes.
    token = client.post("/v1/auth/token", json={"username": "wang.fang", "password": CLERK_PASSWORD})
    assert token.status_code == 401  # no such clerk yet
    new_clerk(client, admin, hr["id"])
    signed = client.post("/v1/auth/token", json={"username": "wang.fang", "password": CLERK_PASSWORD}).json()
    bearer = {"Authorization": f"Bearer {signed['access_token']}"}
    assert client.get("/v1/holder/credentials", headers=bearer).status_code == 403
    assert client.post("/v1/credentials", json={}, headers=bearer).status_code in (403, 422)
