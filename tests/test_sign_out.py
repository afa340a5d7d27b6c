"""Sign-out ends the access token itself, not only the page's cookie: a copy of the token
taken before (from a shared computer, a log, a proxy) no longer works. The account's other
sessions go on; an API key cannot sign out (an admin rotates it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from registry.models import RevokedToken
from registry.web.pages import SESSION_COOKIE
from tests.conftest import Actors, MutableClock, issue_row, resident_id
from tests.test_status import issue
from tests.test_web_pages import csrf_of, sign_up


def test_a_signed_out_token_is_refused_and_the_accounts_other_sessions_go_on(
    client: TestClient, actors: Actors, app: Any
) -> None:
    record = issue(client, actors.officer(), 1)
    first = actors.holder(record["holderId"])
    assert client.get("/v1/holder/credentials", headers=first).status_code == 200
    response = client.post("/v1/auth/sign-out", headers=first)
    assert response.status_code == 204, response.text
    refused = client.get("/v1/holder/credentials", headers=first)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert "sign-out" in refused.json()["detail"]
    # A second sign-out with the ended token is refused too (it is no longer a session).
    assert client.post("/v1/auth/sign-out", headers=first).status_code == 401
    # A staff account's token is ended the same way; a token of another session is not.
    officer = actors.officer()
    other = actors.officer()
    assert client.post("/v1/auth/sign-out", headers=officer).status_code == 204
    assert (
        client.post("/v1/credentials", json=issue_row(idNumber=resident_id(9)), headers=officer).status_code
        == 401
    )
    assert (
        client.post("/v1/credentials", json=issue_row(idNumber=resident_id(9)), headers=other).status_code
        == 201
    )


def test_an_api_key_cannot_sign_out(client: TestClient, actors: Actors) -> None:
    response = client.post("/v1/auth/sign-out", headers=actors.hr())
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_the_portals_sign_out_ends_the_token_in_its_cookie(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer, 2)
    sign_up(client, officer, 2, record, "holder-out")
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    copied = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/holder/credentials", headers=copied).status_code == 200
    home = client.get("/holder")
    response = client.post(
        "/holder/sign-out", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get("/v1/holder/credentials", headers=copied).status_code == 401


def test_ended_tokens_are_kept_only_until_they_expire(
    client: TestClient, actors: Actors, app: Any, clock: MutableClock
) -> None:
    node = app.state.node
    first = actors.officer()
    assert client.post("/v1/auth/sign-out", headers=first).status_code == 204
    clock.advance(seconds=(node.tokens.lifetime + timedelta(minutes=1)).total_seconds())
    second = actors.officer()
    assert client.post("/v1/auth/sign-out", headers=second).status_code == 204
    with node.db.session(write=False) as session:
        kept = session.exec(select(RevokedToken)).all()
    assert len(kept) == 1  # the first one had expired: forgotten


def test_the_officer_desks_sign_out_ends_the_token_in_its_cookie(client: TestClient, actors: Actors) -> None:
    from tests.test_web_desks import officer_session

    officer_session(client, actors)
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    copied = {"Authorization": f"Bearer {token}"}
    row = issue_row(idNumber=resident_id(21))
    assert client.post("/v1/credentials", json=row, headers=copied).status_code == 201
    home = client.get("/officer")
    response = client.post(
        "/officer/sign-out", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    refused = client.post("/v1/credentials", json=issue_row(idNumber=resident_id(22)), headers=copied)
    assert refused.status_code == 401
