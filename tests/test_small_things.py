"""Small things that cost users time (issue 9, point 8): a bare VC posted as
application/json, a verification-code request without a body, unknown reason codes,
revoked credentials' codes and VC-JWTs, and settings that say what they mean without
printing secrets."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from registry import cli
from registry.settings import Settings
from tests.conftest import NOW, Actors, issue_row, resident_id

Headers = dict[str, str]


def issue(client: TestClient, officer: Headers, seed: int = 1) -> dict[str, Any]:
    row = issue_row(idNumber=resident_id(seed), holderName=f"持证人{seed}")
    response = client.post("/v1/credentials", json=row, headers=officer)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/" + slug), problem
    return problem


def revoke(client: TestClient, officer: Headers, credential_id: str) -> None:
    response = client.post(
        f"/v1/credentials/{credential_id}/revocation",
        json={"reasonCode": "research_misconduct"},
        headers=officer,
    )
    assert response.status_code == 200, response.text


# --- a bare VC as application/json ---


def test_a_bare_vc_posted_as_application_json_is_verified(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    response = client.post("/v1/verifications", json=record["verifiableCredential"], headers=actors.hr())
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "valid"
    assert response.json()["credential"]["certificateNumber"] == record["certificateNumber"]


def test_the_envelope_still_works_for_a_vc_and_a_vc_jwt(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    hr = actors.hr()
    wrapped = client.post(
        "/v1/verifications", json={"credential": record["verifiableCredential"]}, headers=hr
    )
    assert wrapped.status_code == 200, wrapped.text
    assert wrapped.json()["verdict"] == "valid"
    token = client.get(
        f"/v1/holder/credentials/{record['id']}?format=vc-jwt", headers=actors.holder(record["holderId"])
    ).text
    as_jwt = client.post("/v1/verifications", json={"credential": token}, headers=hr)
    assert as_jwt.status_code == 200, as_jwt.text
    assert as_jwt.json()["format"] == "vc-jwt"


def test_a_tampered_bare_vc_is_invalid_not_refused(client: TestClient, actors: Actors) -> None:
    vc = issue(client, actors.officer())["verifiableCredential"]
    vc["credentialSubject"]["name"] = "王五"
    response = client.post("/v1/verifications", json=vc, headers=actors.hr())
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "invalid"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": "张三"}, id="neither-envelope-nor-vc"),
        pytest.param([{"credential": "a.b.c"}], id="an-array"),
        pytest.param("a.b.c", id="a-string"),
    ],
)
def test_a_json_body_that_is_neither_is_422_saying_what_to_send(
    client: TestClient, actors: Actors, body: Any
) -> None:
    response = client.post("/v1/verifications", json=body, headers=actors.hr())
    problem = assert_problem(response, 422, "invalid-input")
    assert '{"credential": ...}' in problem["detail"]
    assert "@context" in problem["detail"]


def test_an_envelope_with_another_member_is_refused_member_by_member(
    client: TestClient, actors: Actors
) -> None:
    body = {"credential": "a.b.c", "extra": 1}
    response = client.post("/v1/verifications", json=body, headers=actors.hr())
    problem = assert_problem(response, 422, "invalid-request")
    assert [e["location"] for e in problem["errors"]] == [["extra"]]


# --- verification codes ---


def test_a_verification_code_request_without_a_body_uses_the_defaults(
    client: TestClient, actors: Actors
) -> None:
    record = issue(client, actors.officer())
    holder = actors.holder(record["holderId"])
    response = client.post(f"/v1/holder/credentials/{record['id']}/verification-codes", headers=holder)
    assert response.status_code == 201, response.text
    assert response.json()["expiresAt"] == (NOW + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    with_body = client.post(
        f"/v1/holder/credentials/{record['id']}/verification-codes", json={"validDays": 3}, headers=holder
    )
    assert with_body.status_code == 201, with_body.text
    assert with_body.json()["expiresAt"] == (NOW + timedelta(days=3)).isoformat().replace("+00:00", "Z")
    wrong = client.post(
        f"/v1/holder/credentials/{record['id']}/verification-codes", json={"validDays": 0}, headers=holder
    )
    assert wrong.status_code == 422


# --- reason codes ---


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        pytest.param("revocation", "no_such_reason", id="revoke-unknown"),
        pytest.param("suspension", "no_such_reason", id="suspend-unknown"),
        pytest.param("reinstatement", "no_such_reason", id="reinstate-unknown"),
        pytest.param("revocation", "investigation_cleared", id="revoke-with-a-reinstatement-reason"),
        pytest.param("suspension", "research_misconduct", id="suspend-with-a-revocation-reason"),
    ],
)
def test_a_reason_code_not_for_the_change_is_422_and_changes_nothing(
    client: TestClient, actors: Actors, kind: str, reason: str
) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    if kind == "reinstatement":
        suspended = client.post(
            f"/v1/credentials/{record['id']}/suspension",
            json={"reasonCode": "under_investigation"},
            headers=officer,
        )
        assert suspended.status_code == 200, suspended.text
    before = client.get(f"/v1/credentials/{record['id']}", headers=officer).json()
    response = client.post(
        f"/v1/credentials/{record['id']}/{kind}", json={"reasonCode": reason}, headers=officer
    )
    problem = assert_problem(response, 422, "invalid-reason-code")
    assert reason in problem["detail"]
    after = client.get(f"/v1/credentials/{record['id']}", headers=officer).json()
    assert (after["status"], after["statusReason"]) == (before["status"], before["statusReason"])


# --- revoked credentials ---


def test_a_revoked_credential_gets_no_new_verification_code(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    holder = actors.holder(record["holderId"])
    revoke(client, officer, record["id"])
    response = client.post(
        f"/v1/holder/credentials/{record['id']}/verification-codes", json={"validDays": 7}, headers=holder
    )
    problem = assert_problem(response, 409, "credential-revoked")
    assert "revoked" in problem["detail"]


def test_a_revoked_credential_gets_no_vc_jwt_but_its_issued_file_stays_readable(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    holder = actors.holder(record["holderId"])
    revoke(client, officer, record["id"])
    token = client.get(f"/v1/holder/credentials/{record['id']}?format=vc-jwt", headers=holder)
    assert_problem(token, 409, "credential-revoked")
    issued = client.get(f"/v1/holder/credentials/{record['id']}?format=vc", headers=holder)
    assert issued.status_code == 200, issued.text
    assert json.loads(issued.text) == record["verifiableCredential"]


def test_a_suspended_credential_still_gets_codes_and_vc_jwts(client: TestClient, actors: Actors) -> None:
    """A suspension can be lifted; the status check shows it to whoever verifies."""
    officer = actors.officer()
    record = issue(client, officer)
    holder = actors.holder(record["holderId"])
    suspended = client.post(
        f"/v1/credentials/{record['id']}/suspension",
        json={"reasonCode": "under_investigation"},
        headers=officer,
    )
    assert suspended.status_code == 200, suspended.text
    code = client.post(f"/v1/holder/credentials/{record['id']}/verification-codes", headers=holder)
    assert code.status_code == 201, code.text
    token = client.get(f"/v1/holder/credentials/{record['id']}?format=vc-jwt", headers=holder)
    assert token.status_code == 200, token.text


# --- settings ---


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith("REGISTRY_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_a_port_that_disagrees_with_the_base_url_is_reported(clean_environment: pytest.MonkeyPatch) -> None:
    settings = Settings(base_url="http://127.0.0.1:8032", port=8000)
    warnings = settings.startup_warnings()
    assert len(warnings) == 1
    for word in ("REGISTRY_PORT", "REGISTRY_BASE_URL", "8000", "8032"):
        assert word in warnings[0]
    # The port the node is started on (registry serve --port) is the one compared.
    assert settings.startup_warnings(port=8032) == []
    assert Settings(base_url="http://localhost:8000", port=8000).startup_warnings() == []
    assert Settings(base_url="http://127.0.0.1", port=80).startup_warnings() == []
    assert len(Settings(base_url="http://127.0.0.1", port=8000).startup_warnings()) == 1


def test_a_public_base_url_behind_a_reverse_proxy_is_not_a_disagreement(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    settings = Settings(base_url="https://hrss.js.example", port=8000)
    assert settings.startup_warnings() == []
    bound = Settings(base_url="http://10.0.0.5:8032", host="10.0.0.5", port=8000)
    assert len(bound.startup_warnings()) == 1


def test_a_relative_data_dir_is_resolved_at_load(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.chdir(tmp_path)
    clean_environment.setenv("REGISTRY_DATA_DIR", "var/node")
    settings = Settings()
    assert settings.data_dir == tmp_path.resolve() / "var" / "node"
    assert settings.data_dir.is_absolute()
    assert (
        settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'node' / 'registry.db'}"
    )
    # Another current directory later changes nothing about the loaded settings.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean_environment.chdir(elsewhere)
    assert settings.data_dir == tmp_path.resolve() / "var" / "node"
    assert Settings().data_dir == elsewhere.resolve() / "var" / "node"  # a second node would be here
    assert Settings(data_dir=Path("~/registry")).data_dir == Path.home().resolve() / "registry"


SECRET = "Sup3r-Secret-Marker-Value-9f8e7d6c5b4a"
PASSPHRASE = "Passphrase-Marker-0a1b2c3d"


@pytest.mark.parametrize(
    "environment",
    [
        pytest.param(
            {"REGISTRY_ENVIRONMENT": "production", "REGISTRY_SECRET_KEY": "changeme-" + SECRET},
            id="weak-secret-in-production",
        ),
        pytest.param({"REGISTRY_SECRET_KEY": SECRET[:20]}, id="short-secret"),
        pytest.param(
            {
                "REGISTRY_SECRET_KEY": SECRET,
                "REGISTRY_KEY_PASSPHRASE": SECRET,
                "REGISTRY_ENVIRONMENT": "production",
            },
            id="passphrase-same-as-secret",
        ),
        pytest.param(
            {"REGISTRY_SECRET_KEY": SECRET, "REGISTRY_KEY_PASSPHRASE": PASSPHRASE, "REGISTRY_PORT": "eighty"},
            id="another-field-wrong",
        ),
        pytest.param(
            {
                "REGISTRY_SECRET_KEY": SECRET,
                "REGISTRY_KEY_PASSPHRASE": PASSPHRASE,
                "REGISTRY_ENVIRONMENT": "prod",
            },
            id="unknown-environment",
        ),
    ],
)
def test_settings_errors_never_print_secret_values(
    clean_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], environment: dict[str, str]
) -> None:
    clean_environment.setenv("REGISTRY_KEY_PASSPHRASE", PASSPHRASE)
    for name, value in environment.items():
        clean_environment.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    shown = str(caught.value) + repr(caught.value)
    assert SECRET[:20] not in shown
    assert PASSPHRASE not in shown
    # What an operator sees from the command line.
    assert cli.main(["init"]) == 2
    printed = capsys.readouterr()
    assert printed.err.startswith("registry: ")
    assert SECRET[:20] not in printed.out + printed.err
    assert PASSPHRASE not in printed.out + printed.err


def test_settings_never_show_their_secrets_in_repr(clean_environment: pytest.MonkeyPatch) -> None:
    settings = Settings(secret_key=SECRET, key_passphrase=PASSPHRASE)
    shown = repr(settings) + str(settings)
    assert SECRET not in shown
    assert PASSPHRASE not in shown
    assert settings.secret_key == SECRET  # still the plain value for the code that uses it
