"""Who may do what: holder onboarding and sign-in, access tokens, a holder's own
credentials and audit, roles on every privileged endpoint, what admins manage, the
public catalogue, bad input (always problem+json, never a change), and the GB 11643
identity-number rules underneath."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from jwt.api_jws import PyJWS
from sqlmodel import func, select

from registry.credentials.errors import InvalidHolderIdError
from registry.credentials.identity import (
    gb11643_check_character,
    holder_commitment,
    id_lookup_hash,
    mask_id_number,
    normalise_id_number,
)
from registry.models import (
    Account,
    AuditEvent,
    Credential,
    CredentialType,
    Holder,
    HolderActivation,
    HrClient,
    IssuanceBatch,
    NodeKey,
    VerificationCode,
)
from tests.conftest import Actors, MutableClock, issue_row, resident_id

PROBLEM_JSON = "application/problem+json"
HOLDER_PASSWORD = "a long enough holder passphrase"
ONE_MIB = 1 << 20


# --- helpers ---


def node_of(client: TestClient) -> Any:
    return client.app.state.node  # type: ignore[attr-defined]


def count(client: TestClient, model: Any) -> int:
    with node_of(client).db.session(write=False) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem document with the given status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    for member in ("type", "title", "detail", "instance"):
        assert isinstance(problem[member], str), problem
    return problem


def issue(client: TestClient, officer: dict[str, str], seed: int, name: str, **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/credentials",
        json=issue_row(holderName=name, idNumber=resident_id(seed), **extra),
        headers=officer,
    )
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def activation_code(client: TestClient, officer: dict[str, str], holder_id: str) -> str:
    response = client.post(f"/v1/holders/{holder_id}/activation-codes", headers=officer)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["holderId"] == holder_id
    code: str = body["activationCode"]
    return code


def registration(seed: int, code: str, username: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "idType": "resident",
        "idNumber": resident_id(seed),
        "activationCode": code,
        "username": username,
        "password": HOLDER_PASSWORD,
    }
    body.update(overrides)
    return body


def sign_in(client: TestClient, username: str, password: str = HOLDER_PASSWORD) -> dict[str, str]:
    response = client.post("/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def onboard(
    client: TestClient, officer: dict[str, str], seed: int, name: str, username: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Issue a credential to a new holder, open their account over HTTP and sign in."""
    record = issue(client, officer, seed, name)
    code = activation_code(client, officer, record["holderId"])
    response = client.post("/v1/holder/registration", json=registration(seed, code, username))
    assert response.status_code == 201, response.text
    return record, sign_in(client, username)


def holder_token_claims(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    token = headers["Authorization"].removeprefix("Bearer ")
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- 1. holder onboarding ---


def test_a_holder_opens_an_account_with_an_activation_code_and_signs_in(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    record = issue(client, officer, 101, "王芳")
    response = client.post(f"/v1/holders/{record['holderId']}/activation-codes", headers=officer)
    assert response.status_code == 201, response.text
    code = response.json()["activationCode"]
    assert isinstance(code, str)
    assert len(code) >= 8
    assert response.json()["expiresAt"] == "2026-12-27T08:00:00Z"
    registered = client.post("/v1/holder/registration", json=registration(101, code, "wang.fang"))
    assert registered.status_code == 201, registered.text
    assert registered.json()["username"] == "wang.fang"
    assert registered.json()["role"] == "holder"
    token = client.post("/v1/auth/token", json={"username": "wang.fang", "password": HOLDER_PASSWORD})
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["role"] == "holder"
    own = client.get(
        "/v1/holder/credentials", headers={"Authorization": f"Bearer {body['access_token']}"}
    ).json()
    assert [c["id"] for c in own] == [record["id"]]
    with node_of(client).db.session(write=False) as session:
        account = session.exec(select(Account).where(Account.username == "wang.fang")).one()
        assert account.holder_id == record["holderId"]
        assert HOLDER_PASSWORD not in account.password_hash
        activation = session.exec(select(HolderActivation)).one()
        assert code not in activation.code_hash


def test_an_activation_code_works_only_once(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer, 102, "李娜")
    code = activation_code(client, officer, record["holderId"])
    first = client.post("/v1/holder/registration", json=registration(102, code, "li.na"))
    assert first.status_code == 201, first.text
    again = client.post("/v1/holder/registration", json=registration(102, code, "li.na.two"))
    assert_problem(again, 401)
    assert count(client, Account) == 2  # the officer and li.na


def test_an_activation_code_with_another_persons_id_number_is_refused(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    a = issue(client, officer, 103, "赵敏")
    issue(client, officer, 104, "钱进")
    code = activation_code(client, officer, a["holderId"])
    other_person = client.post("/v1/holder/registration", json=registration(104, code, "qian.jin"))
    assert_problem(other_person, 401)
    nobody = client.post("/v1/holder/registration", json=registration(999_105, code, "no.body"))
    assert_problem(nobody, 401)
    assert count(client, Account) == 1
    # the code was not spent by the failed attempts: its holder can still use it
    own = client.post("/v1/holder/registration", json=registration(103, code, "zhao.min"))
    assert own.status_code == 201, own.text


def test_an_expired_activation_code_is_refused(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    officer = actors.officer()
    record = issue(client, officer, 106, "孙丽")
    code = activation_code(client, officer, record["holderId"])
    clock.advance(days=31)
    response = client.post("/v1/holder/registration", json=registration(106, code, "sun.li"))
    assert_problem(response, 401)
    assert count(client, Account) == 1


def test_registration_with_a_wrong_check_character_is_refused_as_invalid(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    record = issue(client, officer, 107, "周杰")
    code = activation_code(client, officer, record["holderId"])
    good = resident_id(107)
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    response = client.post(
        "/v1/holder/registration", json=registration(107, code, "zhou.jie", idNumber=wrong)
    )
    problem = assert_problem(response, 422)
    assert "check character" in problem["detail"]
    assert count(client, Account) == 1


def test_registration_with_a_short_password_is_refused_and_keeps_the_code(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    record = issue(client, officer, 108, "吴刚")
    code = activation_code(client, officer, record["holderId"])
    short = client.post(
        "/v1/holder/registration", json=registration(108, code, "wu.gang", password="elevenchars")
    )
    assert_problem(short, 422)
    assert "elevenchars" not in short.text
    assert count(client, Account) == 1
    ok = client.post("/v1/holder/registration", json=registration(108, code, "wu.gang"))
    assert ok.status_code == 201, ok.text


def test_a_holder_cannot_open_a_second_account(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record, _ = onboard(client, officer, 109, "郑爽", "zheng.shuang")
    code = activation_code(client, officer, record["holderId"])
    response = client.post("/v1/holder/registration", json=registration(109, code, "zheng.shuang.2"))
    assert_problem(response, 409)
    assert count(client, Account) == 2
    with node_of(client).db.session(write=False) as session:
        unused = session.exec(select(HolderActivation).where(HolderActivation.used_at == None)).all()  # noqa: E711
    assert len(unused) == 1  # the refused registration did not spend the new code


# --- 2. sign-in and access tokens ---


def test_wrong_password_and_unknown_user_get_the_same_401(client: TestClient, actors: Actors) -> None:
    onboard(client, actors.officer(), 110, "冯云", "feng.yun")
    wrong = client.post("/v1/auth/token", json={"username": "feng.yun", "password": "not the password!"})
    unknown = client.post("/v1/auth/token", json={"username": "no.such.user", "password": HOLDER_PASSWORD})
    for response in (wrong, unknown):
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "access_token" not in response.text
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.json()["type"] == unknown.json()["type"]


def test_an_access_token_expires_after_fifteen_minutes(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    _, holder = onboard(client, actors.officer(), 111, "陈晨", "chen.chen")
    clock.advance(minutes=14)
    assert client.get("/v1/holder/credentials", headers=holder).status_code == 200
    clock.advance(minutes=2)
    response = client.get("/v1/holder/credentials", headers=holder)
    assert_problem(response, 401)
    assert "www-authenticate" in response.headers


def forge(kind: str, token: str, claims: dict[str, Any]) -> str:
    header_b64, payload_b64, signature_b64 = token.split(".")
    if kind == "altered-signature":
        # change a character in the middle: the last one may only carry padding bits
        middle = len(signature_b64) // 2
        flipped = "A" if signature_b64[middle] != "A" else "B"
        return f"{header_b64}.{payload_b64}.{signature_b64[:middle]}{flipped}{signature_b64[middle + 1 :]}"
    if kind == "other-key":
        return jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256", headers={"typ": "at+jwt"})
    assert kind == "alg-none"
    header = b64url(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    return f"{header}.{payload_b64}."


@pytest.mark.parametrize("kind", ["altered-signature", "other-key", "alg-none"])
def test_a_forged_access_token_is_refused(client: TestClient, actors: Actors, kind: str) -> None:
    _, holder = onboard(client, actors.officer(), 112, "褚明", "chu.ming")
    assert client.get("/v1/holder/credentials", headers=holder).status_code == 200
    token = holder["Authorization"].removeprefix("Bearer ")
    forged = forge(kind, token, holder_token_claims(client, holder))
    assert forged != token
    response = client.get("/v1/holder/credentials", headers={"Authorization": f"Bearer {forged}"})
    assert_problem(response, 401)


# --- 3. a holder's own credentials ---


Holders = tuple[dict[str, str], list[dict[str, Any]], dict[str, str], list[dict[str, Any]]]


@pytest.fixture
def two_holders(client: TestClient, actors: Actors) -> Holders:
    """Holder A with two credentials and holder B with one, both signed in."""
    officer = actors.officer()
    a1, a = onboard(client, officer, 201, "甲持证人", "holder.a")
    a2 = issue(client, officer, 201, "甲持证人", typeCode="QUAL-CONSTRUCTOR-1")
    b1, b = onboard(client, officer, 202, "乙持证人", "holder.b")
    return a, [a1, a2], b, [b1]


def test_a_holder_lists_only_their_own_credentials(client: TestClient, two_holders: Holders) -> None:
    a, a_records, b, b_records = two_holders
    listed = client.get("/v1/holder/credentials", headers=a)
    assert listed.status_code == 200
    items = listed.json()
    assert sorted(i["id"] for i in items) == sorted(r["id"] for r in a_records)
    assert {i["certificateNumber"] for i in items} == {r["certificateNumber"] for r in a_records}
    assert all(i["status"] == "active" for i in items)
    assert [i["id"] for i in client.get("/v1/holder/credentials", headers=b).json()] == [b_records[0]["id"]]


def test_a_holder_downloads_a_credential_as_vc_json(client: TestClient, two_holders: Holders) -> None:
    a, a_records, _, _ = two_holders
    for record in a_records:
        response = client.get(f"/v1/holder/credentials/{record['id']}?format=vc", headers=a)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].split(";")[0] == "application/vc"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith("attachment")
        assert f'filename="{record["certificateNumber"]}.vc.json"' in disposition
        assert json.loads(response.content) == record["verifiableCredential"]


def test_a_holder_downloads_a_credential_as_vc_jwt_signed_by_the_node(
    client: TestClient, two_holders: Holders, clock: MutableClock
) -> None:
    a, a_records, _, _ = two_holders
    record = a_records[0]
    response = client.get(f"/v1/holder/credentials/{record['id']}?format=vc-jwt", headers=a)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == "application/vc+jwt"
    token = response.text
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "vc+jwt"
    assert header["alg"] == "EdDSA"
    node = node_of(client)
    key_record, _ = node.ring.signing_key(clock.now)
    assert header["kid"] == f"{node.did}#{key_record.kid}"
    decoded = PyJWS().decode_complete(token, key_record.public_key, algorithms=["EdDSA"])
    payload = json.loads(decoded["payload"])
    assert payload["iat"] == int(clock.now.timestamp())
    without_proof = {k: v for k, v in record["verifiableCredential"].items() if k != "proof"}
    assert {k: v for k, v in payload.items() if k != "iat"} == without_proof
    assert "proof" not in payload


def test_another_holders_credential_is_not_found_like_an_unknown_id(
    client: TestClient, two_holders: Holders
) -> None:
    a, _, _, b_records = two_holders
    theirs = b_records[0]["id"]
    unknown = str(uuid.uuid4())
    codes_before = count(client, VerificationCode)

    def same_answer(make: Callable[[str], Response]) -> None:
        foreign, missing = make(theirs), make(unknown)
        p1, p2 = assert_problem(foreign, 404), assert_problem(missing, 404)
        assert (p1["type"], p1["title"]) == (p2["type"], p2["title"])
        assert p1["detail"].replace(theirs, "ID") == p2["detail"].replace(unknown, "ID")
        assert p1["instance"].replace(theirs, "ID") == p2["instance"].replace(unknown, "ID")
        assert b_records[0]["certificateNumber"] not in foreign.text

    def download(fmt: str) -> Callable[[str], Response]:
        return lambda i: client.get(f"/v1/holder/credentials/{i}?format={fmt}", headers=a)

    def make_code(i: str) -> Response:
        path = f"/v1/holder/credentials/{i}/verification-codes"
        response: Response = client.post(path, json={"validDays": 7}, headers=a)
        return response

    same_answer(download("vc"))
    same_answer(download("vc-jwt"))
    same_answer(make_code)
    assert count(client, VerificationCode) == codes_before


def test_a_holders_audit_shows_only_events_about_their_data(
    client: TestClient, actors: Actors, two_holders: Holders
) -> None:
    a, a_records, b, b_records = two_holders
    hr = actors.hr()
    for holder, record in ((a, a_records[0]), (b, b_records[0])):
        made = client.post(
            f"/v1/holder/credentials/{record['id']}/verification-codes", json={"validDays": 3}, headers=holder
        )
        assert made.status_code == 201, made.text
        verified = client.post(
            "/v1/verifications", json={"credential": record["verifiableCredential"]}, headers=hr
        )
        assert verified.status_code == 200, verified.text
    a_holder = a_records[0]["holderId"]
    b_holder = b_records[0]["holderId"]
    with node_of(client).db.session(write=False) as session:
        a_account = session.exec(select(Account).where(Account.username == "holder.a")).one().id
        b_account = session.exec(select(Account).where(Account.username == "holder.b")).one().id
    response = client.get("/v1/holder/audit", headers=a)
    assert response.status_code == 200
    events = response.json()
    mine = {a_holder, a_account} | {r["id"] for r in a_records}
    assert {e["targetId"] for e in events} <= mine
    actions = {e["action"] for e in events}
    assert {"credential.issue", "verification-code.create", "account.create", "credential.verify"} <= actions
    verifications = [e for e in events if e["action"] == "credential.verify"]
    assert [(e["targetId"], e["actorRole"]) for e in verifications] == [(a_records[0]["id"], "hr_client")]
    assert sum(e["action"] == "credential.issue" for e in events) == 2
    text = response.text
    for foreign in (b_holder, b_account, b_records[0]["id"], b_records[0]["certificateNumber"]):
        assert foreign not in text
    # and B's view holds nothing of A's
    b_text = client.get("/v1/holder/audit", headers=b).text
    for foreign in (a_holder, a_account, *(r["id"] for r in a_records)):
        assert foreign not in b_text


# --- 4. roles ---


def refused(
    client: TestClient,
    method: str,
    path: str,
    forbidden: dict[str, dict[str, str]],
    **kwargs: Any,
) -> None:
    """Each forbidden caller gets 403 and a request without a token 401."""
    for who, headers in forbidden.items():
        response = client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == 403, (who, response.text)
        assert_problem(response, 403)
    anonymous = client.request(method, path, **kwargs)
    assert_problem(anonymous, 401)
    assert "www-authenticate" in anonymous.headers


def a_holder(client: TestClient, actors: Actors) -> dict[str, str]:
    """A holder account (the holder exists because a credential was issued to them)."""
    record = issue(client, actors.officer(), 301, "丙持证人")
    return actors.holder(record["holderId"])


def test_only_issuing_officers_issue_credentials(client: TestClient, actors: Actors) -> None:
    holder = a_holder(client, actors)
    before = count(client, Credential), count(client, Holder)
    row = issue_row(holderName="丁持证人", idNumber=resident_id(302))
    forbidden = {"admin": actors.admin(), "auditor": actors.auditor(), "holder": holder, "hr": actors.hr()}
    refused(client, "POST", "/v1/credentials", forbidden, json=row)
    assert (count(client, Credential), count(client, Holder)) == before
    assert client.post("/v1/credentials", json=row, headers=actors.officer()).status_code == 201


def test_only_admins_create_accounts(client: TestClient, actors: Actors) -> None:
    holder = a_holder(client, actors)
    forbidden = {
        "officer": actors.officer(),
        "auditor": actors.auditor(),
        "holder": holder,
        "hr": actors.hr(),
    }
    before = count(client, Account)
    body = {"username": "new.staff", "password": "a long enough password", "role": "admin"}
    refused(client, "POST", "/v1/accounts", forbidden, json=body)
    assert count(client, Account) == before
    assert client.post("/v1/accounts", json=body, headers=actors.admin()).status_code == 201


def test_only_admins_register_hr_clients(client: TestClient, actors: Actors) -> None:
    holder = a_holder(client, actors)
    forbidden = {
        "officer": actors.officer(),
        "auditor": actors.auditor(),
        "holder": holder,
        "hr": actors.hr(),
    }
    before = count(client, HrClient)
    body = {"name": "南京人才中心", "scopes": ["verify", "lookup"]}
    refused(client, "POST", "/v1/hr-clients", forbidden, json=body)
    assert count(client, HrClient) == before
    assert client.post("/v1/hr-clients", json=body, headers=actors.admin()).status_code == 201


def new_type(code: str = "SCI_POP-ASSOCIATE_SENIOR") -> dict[str, Any]:
    series = code.split("-", 1)[0]
    return {
        "code": code,
        "kind": "title",
        "category": None,
        "series_code": series,
        "series_zh": "科学普及",
        "series_en": "Science popularisation",
        "level_code": "ASSOCIATE_SENIOR",
        "level_zh": "副高级",
        "level_en": "Associate senior",
        "name_zh": "副研究馆员（科普）",
        "name_en": "Associate research fellow (science popularisation)",
        "equivalent_title_level": None,
    }


def test_only_admins_add_catalogue_types(client: TestClient, actors: Actors) -> None:
    holder = a_holder(client, actors)
    forbidden = {
        "officer": actors.officer(),
        "auditor": actors.auditor(),
        "holder": holder,
        "hr": actors.hr(),
    }
    before = count(client, CredentialType)
    refused(client, "POST", "/v1/catalogue", forbidden, json=new_type())
    assert count(client, CredentialType) == before
    assert client.get("/v1/catalogue/SCI_POP-ASSOCIATE_SENIOR").status_code == 404
    assert client.post("/v1/catalogue", json=new_type(), headers=actors.admin()).status_code == 201


def test_only_admins_rotate_keys(client: TestClient, actors: Actors) -> None:
    holder = a_holder(client, actors)
    forbidden = {
        "officer": actors.officer(),
        "auditor": actors.auditor(),
        "holder": holder,
        "hr": actors.hr(),
    }
    before = count(client, NodeKey)
    did_before = client.get("/.well-known/did.json").json()
    refused(client, "POST", "/v1/keys/rotation", forbidden)
    assert count(client, NodeKey) == before
    assert client.get("/.well-known/did.json").json() == did_before
    rotated = client.post("/v1/keys/rotation", headers=actors.admin())
    assert rotated.status_code == 200, rotated.text
    assert count(client, NodeKey) == before + 1


def test_only_auditors_and_admins_read_the_audit_log(client: TestClient, actors: Actors) -> None:
    holder = a_holder(client, actors)
    forbidden = {"officer": actors.officer(), "holder": holder, "hr": actors.hr()}
    refused(client, "GET", "/v1/audit", forbidden)
    for allowed in (actors.auditor(), actors.admin()):
        response = client.get("/v1/audit", headers=allowed)
        assert response.status_code == 200, response.text
        assert any(e["action"] == "credential.issue" for e in response.json())


def test_only_holders_list_holder_credentials(client: TestClient, actors: Actors) -> None:
    holder = a_holder(client, actors)
    forbidden = {
        "officer": actors.officer(),
        "admin": actors.admin(),
        "auditor": actors.auditor(),
        "hr": actors.hr(),
    }
    refused(client, "GET", "/v1/holder/credentials", forbidden)
    response = client.get("/v1/holder/credentials", headers=holder)
    assert response.status_code == 200
    assert len(response.json()) == 1


def test_only_hr_keys_with_scope_verify_verify_credentials(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer, 303, "戊持证人")
    holder = actors.holder(record["holderId"])
    body = {"credential": record["verifiableCredential"]}
    forbidden = {
        "holder": holder,
        "officer": officer,
        "admin": actors.admin(),
        "hr-lookup-only": actors.hr(scopes=("lookup",)),
    }
    events = count(client, AuditEvent)
    refused(client, "POST", "/v1/verifications", forbidden, json=body)
    assert count(client, AuditEvent) == events
    response = client.post("/v1/verifications", json=body, headers=actors.hr(scopes=("verify",)))
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "valid"


# --- 5. admin ---


def test_an_admin_creates_an_issuing_officer_who_signs_in_and_issues(
    client: TestClient, actors: Actors
) -> None:
    password = "officer passphrase 2026"
    response = client.post(
        "/v1/accounts",
        json={"username": "officer.wang", "password": password, "role": "issuing_officer"},
        headers=actors.admin(),
    )
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "issuing_officer"
    assert password not in response.text
    token = client.post("/v1/auth/token", json={"username": "officer.wang", "password": password})
    assert token.status_code == 200
    assert token.json()["role"] == "issuing_officer"
    officer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    issued = client.post("/v1/credentials", json=issue_row(), headers=officer)
    assert issued.status_code == 201, issued.text


def test_account_creation_refuses_duplicates_short_passwords_and_the_holder_role(
    client: TestClient, actors: Actors
) -> None:
    admin = actors.admin()
    body = {"username": "auditor.li", "password": "auditor passphrase", "role": "auditor"}
    assert client.post("/v1/accounts", json=body, headers=admin).status_code == 201
    before = count(client, Account)
    duplicate = client.post("/v1/accounts", json={**body, "role": "admin"}, headers=admin)
    assert_problem(duplicate, 409)
    short = client.post(
        "/v1/accounts", json={**body, "username": "short.pw", "password": "only11chars"}, headers=admin
    )
    assert_problem(short, 422)
    assert "only11chars" not in short.text
    holder = client.post(
        "/v1/accounts", json={**body, "username": "a.holder", "role": "holder"}, headers=admin
    )
    assert_problem(holder, 422)
    assert count(client, Account) == before
    with node_of(client).db.session(write=False) as session:
        roles = session.exec(select(Account.role).where(Account.username == "auditor.li")).all()
    assert roles == ["auditor"]


def test_an_hr_client_key_is_shown_once_works_and_only_its_hash_is_stored(
    client: TestClient, actors: Actors
) -> None:
    record = issue(client, actors.officer(), 401, "己持证人")
    response = client.post(
        "/v1/hr-clients", json={"name": "合肥人才服务中心", "scopes": ["verify"]}, headers=actors.admin()
    )
    assert response.status_code == 201, response.text
    created = response.json()
    key = created["apiKey"]
    assert key.startswith("yrd_")
    assert created["scopes"] == ["verify"]
    verified = client.post(
        "/v1/verifications",
        json={"credential": record["verifiableCredential"]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["verdict"] == "valid"
    secret = key.split("_", 2)[2]
    with node_of(client).db.session(write=False) as session:
        row = session.get(HrClient, created["id"])
        assert row is not None
        assert row.key_hash != key
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        stored = row.model_dump_json()
        events = [e.model_dump_json() for e in session.exec(select(AuditEvent)).all()]
    assert key not in stored
    assert secret not in stored
    assert all(key not in e and secret not in e for e in events)
    wrong = client.post(
        "/v1/verifications",
        json={"credential": record["verifiableCredential"]},
        headers={"Authorization": f"Bearer {key[:-2]}xx"},
    )
    assert_problem(wrong, 401)


def test_every_hr_client_key_works_even_with_an_underscore_in_its_secret(
    client: TestClient, actors: Actors
) -> None:
    """The secret is base64url, whose alphabet has "_": such a key must work too."""
    record = issue(client, actors.officer(), 402, "辛持证人")
    admin = actors.admin()
    for _ in range(60):
        created = client.post(
            "/v1/hr-clients", json={"name": "上海人才中心", "scopes": ["verify"]}, headers=admin
        )
        assert created.status_code == 201, created.text
        key = created.json()["apiKey"]
        if "_" in key.split("_", 2)[2]:
            break
    else:
        raise AssertionError("no key with an underscore in its secret in 60 tries")
    response = client.post(
        "/v1/verifications",
        json={"credential": record["verifiableCredential"]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "valid"


def test_an_admin_adds_a_catalogue_type_that_officers_can_issue(client: TestClient, actors: Actors) -> None:
    added = client.post("/v1/catalogue", json=new_type(), headers=actors.admin())
    assert added.status_code == 201, added.text
    assert added.json()["code"] == "SCI_POP-ASSOCIATE_SENIOR"
    shown = client.get("/v1/catalogue/SCI_POP-ASSOCIATE_SENIOR")
    assert shown.status_code == 200
    assert shown.json()["name_zh"] == "副研究馆员（科普）"
    assert shown.json()["active"] is True
    issued = client.post(
        "/v1/credentials", json=issue_row(typeCode="SCI_POP-ASSOCIATE_SENIOR"), headers=actors.officer()
    )
    assert issued.status_code == 201, issued.text
    subject = issued.json()["verifiableCredential"]["credentialSubject"]
    assert subject["title"]["code"] == "SCI_POP-ASSOCIATE_SENIOR"
    assert subject["title"]["name"]["zh"] == "副研究馆员（科普）"


def test_catalogue_codes_are_unique_and_well_formed(client: TestClient, actors: Actors) -> None:
    admin = actors.admin()
    before = count(client, CredentialType)
    again = client.post("/v1/catalogue", json=new_type("ENG-FULL_SENIOR"), headers=admin)
    assert_problem(again, 409)
    assert client.get("/v1/catalogue/ENG-FULL_SENIOR").json()["name_zh"] == "正高级工程师"
    bad = client.post("/v1/catalogue", json=new_type("lower-case"), headers=admin)
    assert_problem(bad, 422)
    assert count(client, CredentialType) == before


# --- 6. the public catalogue ---


def test_the_public_catalogue_lists_bilingual_types_without_authentication(client: TestClient) -> None:
    response = client.get("/v1/catalogue")
    assert response.status_code == 200
    types = response.json()
    assert len(types) >= 100
    assert all(t["name_zh"] and t["name_en"] and t["series_zh"] and t["series_en"] for t in types)
    assert len({t["code"] for t in types}) == len(types)
    by_code = {t["code"]: t for t in types}
    assert by_code["ENG-FULL_SENIOR"]["name_zh"] == "正高级工程师"
    assert by_code["RES-ASSOCIATE_SENIOR"]["name_zh"] == "副研究员"
    assert {t["kind"] for t in types} == {"title", "qualification", "skill"}


def test_the_catalogue_filters_by_kind(client: TestClient) -> None:
    titles = client.get("/v1/catalogue", params={"kind": "title"}).json()
    assert titles
    assert all(t["kind"] == "title" for t in titles)
    everything = client.get("/v1/catalogue").json()
    assert len(titles) == sum(t["kind"] == "title" for t in everything)
    assert_problem(client.get("/v1/catalogue", params={"kind": "bogus"}), 422)


def test_an_unknown_catalogue_code_is_a_404_problem(client: TestClient) -> None:
    problem = assert_problem(client.get("/v1/catalogue/NO-SUCH"), 404)
    assert problem["type"].endswith("/not-found")
    shown = client.get("/v1/catalogue/RES-ASSOCIATE_SENIOR")
    assert shown.status_code == 200
    assert shown.json()["name_zh"] == "副研究员"


# --- 7. bad input ---


def test_malformed_json_is_an_invalid_request_problem(client: TestClient, actors: Actors) -> None:
    response = client.post(
        "/v1/credentials",
        content=b'{"holderName": "\xe5\xbc\xa0\xe4\xbc\x9f", ',
        headers={**actors.officer(), "Content-Type": "application/json"},
    )
    problem = assert_problem(response, 422)
    assert problem["type"].endswith("/invalid-request")
    assert count(client, Credential) == 0


def test_a_body_over_one_mebibyte_is_refused_with_413(client: TestClient, actors: Actors) -> None:
    body = json.dumps(issue_row(specialty="电" * (ONE_MIB // 3 + 40_000)), ensure_ascii=False).encode()
    assert len(body) > ONE_MIB
    response = client.post(
        "/v1/credentials", content=body, headers={**actors.officer(), "Content-Type": "application/json"}
    )
    problem = assert_problem(response, 413)
    assert problem["type"].endswith("/payload-too-large")
    assert count(client, Credential) == 0


def test_a_content_length_over_the_limit_is_refused_before_reading(
    client: TestClient, actors: Actors
) -> None:
    body = json.dumps(issue_row()).encode()
    response = client.post(
        "/v1/credentials",
        content=body,
        headers={**actors.officer(), "Content-Type": "application/json", "Content-Length": str(2 * ONE_MIB)},
    )
    assert_problem(response, 413)
    assert count(client, Credential) == 0


def test_a_streamed_body_growing_over_the_limit_is_refused_with_413(
    client: TestClient, actors: Actors
) -> None:
    """No Content-Length (chunked): the limit applies while the body streams in."""

    def chunks() -> Iterator[bytes]:
        yield b'{"holderName": "'
        for _ in range(12):
            yield b"x" * 100_000
        yield b'"}'

    response = client.post(
        "/v1/credentials", content=chunks(), headers={**actors.officer(), "Content-Type": "application/json"}
    )
    assert response.request.headers.get("content-length") is None
    problem = assert_problem(response, 413)
    assert problem["type"].endswith("/payload-too-large")
    assert count(client, Credential) == 0


def test_a_batch_body_over_one_mebibyte_is_not_refused_for_size(client: TestClient, actors: Actors) -> None:
    rows = [issue_row(idNumber=resident_id(501), specialty="x" * (ONE_MIB + 100_000))]
    body = json.dumps({"credentials": rows}).encode()
    assert ONE_MIB < len(body) < 32 * ONE_MIB
    response = client.put(
        "/v1/issuance/batches/x",
        content=body,
        headers={**actors.officer(), "Content-Type": "application/json"},
    )
    assert response.status_code != 413
    problem = assert_problem(response, 422)
    assert problem["type"].endswith("/batch-rejected")
    assert problem["errors"][0]["field"] == "specialty"
    assert count(client, Credential) == 0


def test_unknown_fields_in_an_issue_row_are_refused(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    single = client.post("/v1/credentials", json=issue_row(salary=30000), headers=officer)
    assert_problem(single, 422)
    batch = client.put(
        "/v1/issuance/batches/extra-1",
        json={"credentials": [issue_row(idNumber=resident_id(502)), issue_row(salary=30000)]},
        headers=officer,
    )
    problem = assert_problem(batch, 422)
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [(2, "salary")]
    assert count(client, Credential) == 0
    assert count(client, IssuanceBatch) == 0


def test_a_batch_that_is_a_json_array_is_refused(client: TestClient, actors: Actors) -> None:
    response = client.put("/v1/issuance/batches/array-1", json=[issue_row()], headers=actors.officer())
    assert_problem(response, 422)
    assert count(client, Credential) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"credentials": [issue_row()], "comment": "unknown member"},
        {"credentials": "not a list"},
        {"rows": [issue_row()]},
    ],
    ids=["unknown-member", "credentials-not-a-list", "no-credentials"],
)
def test_a_batch_object_of_the_wrong_shape_is_a_422_problem(
    client: TestClient, actors: Actors, body: dict[str, Any]
) -> None:
    response = client.put("/v1/issuance/batches/shape-1", json=body, headers=actors.officer())
    assert_problem(response, 422)
    assert count(client, Credential) == 0


def test_a_verification_request_of_the_wrong_shape_is_a_422_problem(
    client: TestClient, actors: Actors
) -> None:
    hr = actors.hr()
    bodies: list[dict[str, Any]] = [{"credential": 5}, {"credential": {}, "extra": True}, {"vc": {}}]
    for body in bodies:
        response = client.post("/v1/verifications", json=body, headers=hr)
        assert_problem(response, 422)


def test_csv_that_is_neither_utf8_nor_gb18030_is_refused(client: TestClient, actors: Actors) -> None:
    # GB18030 (GBK) files are read (tests/test_batch_csv.py); 0xFF begins no character in
    # either encoding.
    header = "holder_name,id_type,id_number,type_code,specialty,evaluation_committee,awarded_on\n"
    line = f"张伟,resident,{resident_id(503)},ENG-INTERMEDIATE,电气工程,评审委员会,2026-11-20\n"
    body = (header + line).encode("gb18030").replace("张".encode("gb18030"), b"\xff\xff")
    response = client.put(
        "/v1/issuance/batches/gbk-1", content=body, headers={**actors.officer(), "Content-Type": "text/csv"}
    )
    problem = assert_problem(response, 422)
    assert "UTF-8" in problem["detail"]
    assert count(client, Credential) == 0


def test_bad_batch_ids_are_refused_without_a_server_error(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    rows = {"credentials": [issue_row()]}
    for path in (
        "/v1/issuance/batches/a/b",
        "/v1/issuance/batches/a%2Fb",
        "/v1/issuance/batches/" + "a" * 65,
    ):
        response = client.put(path, json=rows, headers=officer)
        assert response.status_code in (404, 422), (path, response.text)
        assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    assert count(client, Credential) == 0
    assert count(client, IssuanceBatch) == 0
    ok = client.put("/v1/issuance/batches/" + "a" * 64, json=rows, headers=officer)
    assert ok.status_code == 201, ok.text


# --- 8. nothing internal in error bodies ---


def test_error_bodies_show_no_stack_traces_sql_or_key_material(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    admin = actors.admin()
    record = issue(client, officer, 601, "庚持证人")
    json_type = {"Content-Type": "application/json"}
    responses = [
        client.post("/v1/credentials", content=b"{", headers={**officer, **json_type}),
        client.post("/v1/credentials", json=issue_row(idNumber="110105194912310021"), headers=officer),
        client.post(
            "/v1/credentials",
            json=issue_row(holderName="另一个名字", idNumber=resident_id(601)),
            headers=officer,
        ),
        client.post("/v1/credentials", json=issue_row(), headers={"Authorization": "Bearer not.a.token"}),
        client.post("/v1/credentials", json=issue_row(), headers={"Authorization": "Bearer yrd_x_y"}),
        client.post("/v1/credentials", json=issue_row(), headers=admin),
        client.get(f"/v1/credentials/{uuid.uuid4()}", headers=officer),
        client.get("/v1/credentials/'; DROP TABLE credential; --", headers=officer),
        client.put("/v1/issuance/batches/x", json={"credentials": "oops"}, headers=officer),
        client.put(
            "/v1/issuance/batches/x", content=b"\xff\xfe", headers={**officer, "Content-Type": "text/csv"}
        ),
        client.post("/v1/catalogue", json=new_type("ENG-FULL_SENIOR"), headers=admin),
        client.post("/v1/verifications", json={"credential": 5}, headers=actors.hr()),
        client.post("/v1/verifications/lookup", json={"certificateNumber": "x"}, headers=actors.hr()),
        client.post(
            f"/v1/credentials/{record['id']}/revocation", json={"reasonCode": "nope"}, headers=officer
        ),
        client.post("/v1/auth/token", json={"username": "x" * 65, "password": "y"}),
    ]
    forbidden = re.compile(
        r"Traceback|SELECT |INSERT |sqlalchemy|psycopg|sqlite3|BEGIN PRIVATE|\.py\"?, line"
    )
    for response in responses:
        assert response.status_code >= 400, response.text
        assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON, response.text
        assert not forbidden.search(response.text), response.text
        assert response.json()["status"] == response.status_code


# --- 9. GB 11643 identity numbers (pure functions) ---


def test_gb11643_accepts_a_valid_resident_id_with_an_x_check_character_in_either_case() -> None:
    assert normalise_id_number("resident", "11010519491231002X") == "11010519491231002X"
    assert normalise_id_number("resident", "11010519491231002x") == "11010519491231002X"
    assert gb11643_check_character("11010519491231002") == "X"


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check character
        "11010519491231002",  # 17 digits
        "1101051949123100201",  # 19 characters
        "11010519491231002A",  # a letter as check character
        "1101051949I231002X",  # a letter inside
        "ABCDEFGHIJKLMNOPQR",  # letters only
    ],
)
def test_gb11643_refuses_malformed_resident_ids(number: str) -> None:
    with pytest.raises(InvalidHolderIdError):
        normalise_id_number("resident", number)


def test_gb11643_refuses_a_birth_date_that_does_not_exist_even_with_a_right_check_character() -> None:
    first17 = "11010519490230002"  # 30 February 1949
    number = first17 + gb11643_check_character(first17)
    with pytest.raises(InvalidHolderIdError, match="birth date"):
        normalise_id_number("resident", number)


def test_passport_numbers_are_5_to_20_letters_and_digits_upper_cased() -> None:
    assert normalise_id_number("passport", "e1234567") == "E1234567"
    assert normalise_id_number("passport", "AB123") == "AB123"
    assert normalise_id_number("passport", "A" * 10 + "1" * 10) == "A" * 10 + "1" * 10
    for bad in ("AB 123", "AB12", "A" * 21, "AB-12345", "护照123456"):
        with pytest.raises(InvalidHolderIdError):
            normalise_id_number("passport", bad)


def test_mask_keeps_four_first_and_four_last_characters_of_a_resident_id() -> None:
    assert mask_id_number("11010519491231002X") == "1101**********002X"


def test_id_lookup_hash_depends_on_the_key_and_the_id_type() -> None:
    number = "E1234567"
    k1, k2 = b"k" * 32, b"j" * 32
    assert id_lookup_hash(k1, "passport", number) == id_lookup_hash(k1, "passport", number)
    assert id_lookup_hash(k1, "passport", number) != id_lookup_hash(k2, "passport", number)
    assert id_lookup_hash(k1, "passport", number) != id_lookup_hash(k1, "resident", number)
    assert number not in id_lookup_hash(k1, "passport", number)


def test_holder_commitment_is_sha256_base64url_and_changes_with_the_salt() -> None:
    number = "11010519491231002X"
    commitment = holder_commitment("salt-one", number)
    assert re.fullmatch(r"sha256:[A-Za-z0-9_-]{43}", commitment)
    expected = hashlib.sha256(b"salt-one" + number.encode()).digest()
    assert commitment == "sha256:" + b64url(expected)
    assert holder_commitment("salt-two", number) != commitment
    assert holder_commitment("salt-one", number) == commitment


def test_a_holder_opens_their_commitment_and_the_database_cannot(client: TestClient, actors: Actors) -> None:
    """The commitment salt is derived from the node secret, not stored: the holder gets
    it from the API and the commitment opens with their ID number; the holder row
    alone holds nothing to test ID numbers against."""
    import base64
    import hashlib

    from registry.models import Holder

    record = client.post("/v1/credentials", json=issue_row(), headers=actors.officer()).json()
    opening = client.get("/v1/holder/commitment", headers=actors.holder(record["holderId"]))
    assert opening.status_code == 200
    body = opening.json()
    digest = hashlib.sha256((body["salt"] + "11010519491231002X").encode()).digest()
    expected = "sha256:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert body["holderCommitment"] == expected
    assert record["verifiableCredential"]["credentialSubject"]["holderCommitment"] == expected
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        row = session.get(Holder, record["holderId"])
        assert row is not None
        assert body["salt"] not in row.model_dump_json()
    assert client.get("/v1/holder/commitment", headers=actors.officer()).status_code == 403
