"""A 2xx means committed: the answer is sent only after the request's transaction has
committed, and a commit that fails answers 503 problem+json with nothing stored and no
in-memory state (the cached key ring) ahead of the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlmodel import func, select

from registry.models import Account, AuditEvent, Credential, HrClient
from tests.conftest import Actors, issue_row, resident_id


class FailingCommits:
    """Makes every commit of a *write* transaction fail as a full disk or a dropped
    connection would, while armed. Read transactions (sign-in look-ups) still commit."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.armed = False
        self.failed = 0

    def __call__(self, connection: Connection) -> None:
        if self.armed and connection.get_execution_options().get("sqlite_write"):
            self.failed += 1
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))


@pytest.fixture
def failing(client: TestClient) -> Iterator[FailingCommits]:
    node = client.app.state.node  # type: ignore[attr-defined]
    hook = FailingCommits(node)
    event.listen(node.db.engine, "commit", hook)
    yield hook
    event.remove(node.db.engine, "commit", hook)


def _count(node: Any, model: Any) -> int:
    node.audit_writer.flush()
    with node.db.session(write=False) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]


def test_issuance_whose_commit_fails_is_not_acknowledged(
    client: TestClient, actors: Actors, failing: FailingCommits
) -> None:
    node = failing.node
    officer = actors.officer()
    before = _count(node, Credential), _count(node, AuditEvent)
    failing.armed = True
    response = client.post("/v1/credentials", json=issue_row(idNumber=resident_id(7)), headers=officer)
    failing.armed = False
    _assert_unavailable(response)
    assert failing.failed == 1
    assert (_count(node, Credential), _count(node, AuditEvent)) == before
    # The same request again, with the disk back, is issued once.
    again = client.post("/v1/credentials", json=issue_row(idNumber=resident_id(7)), headers=officer)
    assert again.status_code == 201, again.text
    assert _count(node, Credential) == before[0] + 1


def test_hr_client_key_is_not_shown_when_its_commit_fails(
    client: TestClient, actors: Actors, failing: FailingCommits
) -> None:
    admin = actors.admin()
    before = _count(failing.node, HrClient)
    failing.armed = True
    response = client.post(
        "/v1/hr-clients", json={"name": "某研究院人事处", "scopes": ["verify"]}, headers=admin
    )
    failing.armed = False
    _assert_unavailable(response)
    assert "apiKey" not in response.text
    assert _count(failing.node, HrClient) == before


def test_key_rotation_whose_commit_fails_leaves_the_cached_ring(
    client: TestClient, actors: Actors, failing: FailingCommits
) -> None:
    admin = actors.admin()
    kid_before = client.get("/.well-known/did.json").json()["assertionMethod"]
    failing.armed = True
    response = client.post("/v1/keys/rotation", headers=admin)
    failing.armed = False
    _assert_unavailable(response)
    # Neither the cached ring nor the published document moved ahead of the database.
    assert client.get("/.well-known/did.json").json()["assertionMethod"] == kid_before
    with failing.node.db.session(write=False) as session:
        stored = failing.node.key_store.load(session)
    assert [r.kid for r in failing.node.ring.records] == [r.kid for r in stored.records]
    rotated = client.post("/v1/keys/rotation", headers=admin)
    assert rotated.status_code == 200
    assert client.get("/.well-known/did.json").json()["assertionMethod"] != kid_before


def test_holder_registration_whose_commit_fails_answers_503_and_sign_in_agrees(
    client: TestClient, actors: Actors, failing: FailingCommits
) -> None:
    officer = actors.officer()
    number = resident_id(11)
    issued = client.post("/v1/credentials", json=issue_row(idNumber=number), headers=officer)
    assert issued.status_code == 201
    holder_id = issued.json()["holderId"]
    code = client.post(f"/v1/holders/{holder_id}/activation-codes", headers=officer).json()
    registration = {
        "idType": "resident",
        "idNumber": number,
        "activationCode": code["activationCode"],
        "username": "holder.durable",
        "password": "a long enough password",
    }
    accounts_before = _count(failing.node, Account)
    failing.armed = True
    response = client.post("/v1/holder/registration", json=registration)
    failing.armed = False
    _assert_unavailable(response)
    assert _count(failing.node, Account) == accounts_before
    sign_in = client.post(
        "/v1/auth/token", json={"username": "holder.durable", "password": "a long enough password"}
    )
    assert sign_in.status_code == 401
    # The activation code was not used up: registering again works.
    assert client.post("/v1/holder/registration", json=registration).status_code == 201
