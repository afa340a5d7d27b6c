"""Status lists and status changes over HTTP: the signed Bitstring Status List
credentials the node serves (caching headers, conditional requests, re-signing when
stale), revoke / suspend / reinstate with reason codes, refused transitions that change
nothing, audit, roles, indexes never reused, and the VC API status endpoint."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlmodel import select

from registry.credentials.status_list import MIN_LENGTH, Bitstring, entry_status
from registry.models import StatusList
from registry.signing import data_integrity
from registry.signing.did import DidResolver
from tests.conftest import BASE_URL, NOW, Actors, MutableClock, issue_row, resident_id

NODE_DID = "did:web:127.0.0.1%3A8032"
Headers = dict[str, str]


# --- helpers ---


def issue(client: TestClient, officer: Headers, seed: int = 1) -> dict[str, Any]:
    response = client.post(
        "/v1/credentials",
        json=issue_row(idNumber=resident_id(seed), holderName=f"持证人{seed}"),
        headers=officer,
    )
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def entry(record: dict[str, Any], purpose: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        e for e in record["verifiableCredential"]["credentialStatus"] if e["statusPurpose"] == purpose
    ]
    assert len(entries) == 1
    return entries[0]


def list_path(status_entry: dict[str, Any]) -> str:
    url: str = status_entry["statusListCredential"]
    assert url.startswith(BASE_URL + "/status/")
    return url.removeprefix(BASE_URL)


def fetch_list(client: TestClient, status_entry: dict[str, Any]) -> httpx.Response:
    response: httpx.Response = client.get(list_path(status_entry))
    assert response.status_code == 200, response.text
    return response


def list_credential(client: TestClient, status_entry: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = fetch_list(client, status_entry).json()
    return document


def node_resolver(client: TestClient) -> DidResolver:
    def fetch(did: str) -> dict[str, Any]:
        assert did == NODE_DID
        document: dict[str, Any] = client.get("/.well-known/did.json").json()
        return document

    return DidResolver(fetch)


def assert_signed_by_node(client: TestClient, document: dict[str, Any], clock: MutableClock) -> None:
    assert document["issuer"] == NODE_DID
    assert document["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    verified = data_integrity.verify_issuer_proof(document, node_resolver(client), clock.now)
    assert verified.verification_method.controller == NODE_DID


def set_bits(document: dict[str, Any]) -> list[int]:
    return Bitstring.decode(document["credentialSubject"]["encodedList"]).set_indices()


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= body.keys()
    if slug is not None:
        assert body["type"].endswith("/" + slug), body
    return body


def change(
    client: TestClient, headers: Headers, credential_id: str, kind: str, reason: str, note: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"reasonCode": reason}
    if note is not None:
        body["note"] = note
    response: httpx.Response = client.post(
        f"/v1/credentials/{credential_id}/{kind}", json=body, headers=headers
    )
    return response


def current(client: TestClient, officer: Headers, credential_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/credentials/{credential_id}", headers=officer)
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


# --- the served list credential ---


def test_a_revocation_list_is_a_signed_cacheable_bitstring_with_the_new_credential_clear(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    record = issue(client, actors.officer())
    revocation = entry(record, "revocation")
    assert revocation["type"] == "BitstringStatusListEntry"
    response = fetch_list(client, revocation)
    assert response.headers["content-type"] == "application/vc+json"
    assert response.headers["etag"].startswith('"')
    assert response.headers["cache-control"] == "public, max-age=300"
    document = response.json()
    assert document["id"] == revocation["statusListCredential"]
    assert "BitstringStatusListCredential" in document["type"]
    assert document["credentialSubject"]["statusPurpose"] == "revocation"
    assert_signed_by_node(client, document, clock)
    bits = Bitstring.decode(document["credentialSubject"]["encodedList"])
    assert bits.length >= 131_072
    assert bits.set_indices() == []
    assert entry_status(revocation, document) is False
    suspension_list = list_credential(client, entry(record, "suspension"))
    assert suspension_list["credentialSubject"]["statusPurpose"] == "suspension"
    assert_signed_by_node(client, suspension_list, clock)
    assert entry_status(entry(record, "suspension"), suspension_list) is False


def test_revocation_sets_the_bit_changes_the_etag_and_the_list_stays_signed(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    bystander = issue(client, officer, seed=2)
    revocation = entry(record, "revocation")
    old_etag = fetch_list(client, revocation).headers["etag"]

    response = change(client, officer, record["id"], "revocation", "research_misconduct", "科研诚信调查结论")
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["id"] == record["id"]
    assert changed["status"] == "revoked"
    assert changed["statusReason"] == "research_misconduct"
    assert current(client, officer, record["id"])["status"] == "revoked"

    response = fetch_list(client, revocation)
    new_etag = response.headers["etag"]
    assert new_etag != old_etag
    document = response.json()
    assert_signed_by_node(client, document, clock)
    assert entry_status(revocation, document) is True
    assert set_bits(document) == [int(revocation["statusListIndex"])]
    assert entry(bystander, "revocation")["statusListCredential"] == revocation["statusListCredential"]
    assert entry_status(entry(bystander, "revocation"), document) is False
    suspension_list = list_credential(client, entry(record, "suspension"))
    assert entry_status(entry(record, "suspension"), suspension_list) is False


def test_a_conditional_request_with_the_current_etag_is_304_and_with_an_old_one_200(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    revocation = entry(record, "revocation")
    old_etag = fetch_list(client, revocation).headers["etag"]
    assert change(client, officer, record["id"], "revocation", "research_misconduct").status_code == 200
    new_etag = fetch_list(client, revocation).headers["etag"]
    assert new_etag != old_etag

    not_modified = client.get(list_path(revocation), headers={"If-None-Match": new_etag})
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == new_etag
    assert not_modified.headers["cache-control"] == "public, max-age=300"
    assert not_modified.content == b""

    either = client.get(list_path(revocation), headers={"If-None-Match": f'"nope", {new_etag}'})
    assert either.status_code == 304

    stale = client.get(list_path(revocation), headers={"If-None-Match": old_etag})
    assert stale.status_code == 200
    assert stale.headers["etag"] == new_etag
    assert entry_status(revocation, stale.json()) is True


def test_if_none_match_uses_weak_comparison_and_star_as_http_says(client: TestClient, actors: Actors) -> None:
    """RFC 9110 §13.1.2: If-None-Match compares weakly (a proxy that compresses the
    list may turn the ETag into W/"…") and "*" matches any current representation."""
    record = issue(client, actors.officer())
    revocation = entry(record, "revocation")
    etag = fetch_list(client, revocation).headers["etag"]
    weak = client.get(list_path(revocation), headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    assert weak.headers["etag"] == etag
    star = client.get(list_path(revocation), headers={"If-None-Match": "*"})
    assert star.status_code == 304


def test_suspension_sets_the_suspension_bit_and_reinstatement_clears_it(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    suspension = entry(record, "suspension")
    revocation = entry(record, "revocation")
    first_etag = fetch_list(client, suspension).headers["etag"]
    revocation_etag = fetch_list(client, revocation).headers["etag"]

    response = change(client, officer, record["id"], "suspension", "under_investigation")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "suspended"
    assert response.json()["statusReason"] == "under_investigation"
    response = fetch_list(client, suspension)
    suspended_etag = response.headers["etag"]
    assert suspended_etag != first_etag
    assert_signed_by_node(client, response.json(), clock)
    assert entry_status(suspension, response.json()) is True
    assert set_bits(response.json()) == [int(suspension["statusListIndex"])]
    # the revocation list is not touched by a suspension
    assert fetch_list(client, revocation).headers["etag"] == revocation_etag
    assert entry_status(revocation, list_credential(client, revocation)) is False

    response = change(client, officer, record["id"], "reinstatement", "investigation_cleared", "无问题")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    assert response.json()["statusReason"] is None
    assert current(client, officer, record["id"])["status"] == "active"
    response = fetch_list(client, suspension)
    assert response.headers["etag"] != suspended_etag
    assert_signed_by_node(client, response.json(), clock)
    assert entry_status(suspension, response.json()) is False
    assert set_bits(response.json()) == []

    # a reinstated credential can be suspended again
    again = change(client, officer, record["id"], "suspension", "administrative_hold")
    assert again.status_code == 200, again.text
    assert entry_status(suspension, list_credential(client, suspension)) is True


def test_a_suspended_credential_can_be_revoked_and_then_both_bits_are_set(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    assert change(client, officer, record["id"], "suspension", "under_investigation").status_code == 200
    response = change(client, officer, record["id"], "revocation", "research_misconduct")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "revoked"
    assert response.json()["statusReason"] == "research_misconduct"
    for purpose in ("revocation", "suspension"):
        assert entry_status(entry(record, purpose), list_credential(client, entry(record, purpose))) is True


# --- refused transitions change nothing ---

REFUSED = [
    pytest.param([], ("reinstatement", "investigation_cleared"), id="reinstate-active"),
    pytest.param(
        [("suspension", "under_investigation")], ("suspension", "administrative_hold"), id="suspend-twice"
    ),
    pytest.param(
        [("revocation", "research_misconduct")], ("revocation", "issued_in_error"), id="revoke-twice"
    ),
    pytest.param(
        [("revocation", "research_misconduct")], ("suspension", "under_investigation"), id="suspend-revoked"
    ),
    pytest.param(
        [("revocation", "research_misconduct")],
        ("reinstatement", "investigation_cleared"),
        id="reinstate-revoked",
    ),
    pytest.param(
        [("suspension", "under_investigation"), ("revocation", "research_misconduct")],
        ("reinstatement", "investigation_cleared"),
        id="reinstate-suspended-then-revoked",
    ),
]
# A reason code that is not one for the change asked for is a wrong request, whatever
# the credential's state: 422 (issue 9).
WRONG_REASON = [
    pytest.param([], ("revocation", "investigation_cleared"), id="revoke-with-reinstatement-reason"),
    pytest.param([], ("suspension", "research_misconduct"), id="suspend-with-revocation-reason"),
    pytest.param(
        [("suspension", "under_investigation")],
        ("reinstatement", "under_investigation"),
        id="reinstate-with-suspension-reason",
    ),
    pytest.param([], ("revocation", "no_such_reason"), id="revoke-with-unknown-reason"),
    pytest.param(
        [("revocation", "research_misconduct")],
        ("reinstatement", "no_such_reason"),
        id="reinstate-revoked-unknown",
    ),
]


@pytest.mark.parametrize(
    ("before", "refused", "problem"),
    [
        *(pytest.param(*p.values, (409, "status-transition-not-allowed"), id=p.id) for p in REFUSED),
        *(pytest.param(*p.values, (422, "invalid-reason-code"), id=p.id) for p in WRONG_REASON),
    ],
)
def test_a_refused_status_change_is_409_or_422_and_changes_nothing(
    client: TestClient,
    actors: Actors,
    before: list[tuple[str, str]],
    refused: tuple[str, str],
    problem: tuple[int, str],
) -> None:
    officer = actors.officer()
    auditor = actors.auditor()
    record = issue(client, officer)
    for kind, reason in before:
        assert change(client, officer, record["id"], kind, reason).status_code == 200
    state = current(client, officer, record["id"])
    etags = {p: fetch_list(client, entry(record, p)).headers["etag"] for p in ("revocation", "suspension")}
    events = client.get("/v1/audit", params={"target": record["id"]}, headers=auditor).json()

    kind, reason = refused
    response = change(client, officer, record["id"], kind, reason, "不应生效")
    assert_problem(response, *problem)

    after = current(client, officer, record["id"])
    assert (after["status"], after["statusReason"]) == (state["status"], state["statusReason"])
    for purpose, etag in etags.items():
        assert fetch_list(client, entry(record, purpose)).headers["etag"] == etag
    later = client.get("/v1/audit", params={"target": record["id"]}, headers=auditor).json()
    changes = [e for e in later if e["action"].split(".")[-1] in ("revoke", "suspend", "reinstate")]
    assert len(changes) == len(before)
    assert len([e for e in later if e["action"] != "credential.read"]) == len(
        [e for e in events if e["action"] != "credential.read"]
    )


# --- not found and bad requests ---


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("revocation", "research_misconduct"),
        ("suspension", "under_investigation"),
        ("reinstatement", "investigation_cleared"),
    ],
)
def test_a_status_change_of_an_unknown_credential_is_404(
    client: TestClient, actors: Actors, kind: str, reason: str
) -> None:
    response = change(client, actors.officer(), "00000000-0000-4000-8000-000000000000", kind, reason)
    assert_problem(response, 404, "not-found")


def test_an_unknown_list_number_is_404_and_an_unknown_purpose_422(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    assert list_path(entry(record, "revocation")) == "/status/revocation/1"
    assert client.get("/status/revocation/1").status_code == 200
    assert_problem(client.get("/status/revocation/99"), 404, "not-found")
    assert_problem(client.get("/status/suspension/99"), 404, "not-found")
    assert_problem(client.get("/status/other/1"), 422)


def test_a_status_change_with_an_unexpected_field_or_no_reason_is_422(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    etag = fetch_list(client, entry(record, "revocation")).headers["etag"]
    no_reason = client.post(f"/v1/credentials/{record['id']}/revocation", json={}, headers=officer)
    assert_problem(no_reason, 422)
    extra = client.post(
        f"/v1/credentials/{record['id']}/revocation",
        json={"reasonCode": "research_misconduct", "status": "revoked"},
        headers=officer,
    )
    assert_problem(extra, 422)
    assert current(client, officer, record["id"])["status"] == "active"
    assert fetch_list(client, entry(record, "revocation")).headers["etag"] == etag


def test_the_reason_codes_are_published(client: TestClient) -> None:
    reasons = client.get("/v1/status-reasons").json()
    assert "research_misconduct" in reasons["revoke"]
    assert "under_investigation" in reasons["suspend"]
    assert "investigation_cleared" in reasons["reinstate"]


# --- audit ---


def test_each_status_change_is_audited_and_visible_to_its_holder(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    other = issue(client, officer, seed=2)
    assert (
        change(client, officer, record["id"], "suspension", "under_investigation", "接到举报").status_code
        == 200
    )
    assert change(client, officer, record["id"], "reinstatement", "investigation_cleared").status_code == 200
    assert (
        change(client, officer, record["id"], "revocation", "research_misconduct", "处理决定").status_code
        == 200
    )

    expected = [
        (
            "credential.suspend",
            "under_investigation",
            {"from": "active", "to": "suspended", "note": "接到举报"},
        ),
        ("credential.reinstate", "investigation_cleared", {"from": "suspended", "to": "active"}),
        ("credential.revoke", "research_misconduct", {"from": "active", "to": "revoked", "note": "处理决定"}),
    ]
    auditor = actors.auditor()
    log = client.get("/v1/audit", params={"target": record["id"]}, headers=auditor)
    assert log.status_code == 200, log.text
    changes = [e for e in log.json() if e["action"] in {a for a, _, _ in expected}]
    assert [(e["action"], e["reason"], e["detail"]) for e in changes] == expected
    for event in changes:
        assert event["actorRole"] == "issuing_officer"
        assert event["targetId"] == record["id"]
        assert event["holderId"] == record["holderId"]
        assert event["at"] == NOW.isoformat().replace("+00:00", "Z")
    by_action = client.get("/v1/audit", params={"action": "credential.revoke"}, headers=actors.admin())
    assert [e["targetId"] for e in by_action.json()] == [record["id"]]

    holder = actors.holder(record["holderId"])
    own_credentials = client.get("/v1/holder/credentials", headers=holder).json()
    assert [(c["id"], c["status"]) for c in own_credentials] == [(record["id"], "revoked")]
    own = client.get("/v1/holder/audit", headers=holder)
    assert own.status_code == 200, own.text
    seen = [(e["action"], e["reason"], e["detail"]) for e in own.json() if e["targetId"] == record["id"]]
    for item in expected:
        assert item in seen
    # only this holder's records: the other holder's credential is not in it
    assert {e["targetId"] for e in own.json() if e["targetType"] == "credential"} == {record["id"]}

    theirs = client.get("/v1/holder/audit", headers=actors.holder(other["holderId"])).json()
    assert not [e for e in theirs if e["targetId"] == record["id"]]
    assert any(e["action"] == "credential.issue" and e["targetId"] == other["id"] for e in theirs)


# --- roles ---


def test_only_issuing_officers_may_change_a_status(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    etags = {p: fetch_list(client, entry(record, p)).headers["etag"] for p in ("revocation", "suspension")}
    others = {
        "auditor": actors.auditor(),
        "admin": actors.admin(),
        "hr": actors.hr(),
        "holder": actors.holder(record["holderId"]),
    }
    vc_api_body = {
        "credentialId": f"urn:uuid:{record['id']}",
        "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}],
        "reasonCode": "issued_in_error",
    }
    for name, headers in others.items():
        for kind, reason in (
            ("revocation", "research_misconduct"),
            ("suspension", "under_investigation"),
            ("reinstatement", "investigation_cleared"),
        ):
            response = change(client, headers, record["id"], kind, reason)
            assert response.status_code == 403, (name, kind, response.text)
            assert_problem(response, 403, "forbidden")
        assert_problem(
            client.post("/credentials/status", json=vc_api_body, headers=headers), 403, "forbidden"
        )
    anonymous = change(client, {}, record["id"], "revocation", "research_misconduct")
    assert_problem(anonymous, 401, "unauthenticated")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert_problem(client.post("/credentials/status", json=vc_api_body), 401, "unauthenticated")
    bad_token = change(
        client, {"Authorization": "Bearer not-a-token"}, record["id"], "revocation", "superseded"
    )
    assert_problem(bad_token, 401)

    assert current(client, officer, record["id"])["status"] == "active"
    for purpose, etag in etags.items():
        assert fetch_list(client, entry(record, purpose)).headers["etag"] == etag


# --- indexes ---


def test_status_indexes_are_never_reused_after_revocations(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()

    def batch(batch_id: str, seeds: range) -> list[dict[str, Any]]:
        rows = [issue_row(idNumber=resident_id(i), holderName=f"持证人{i}") for i in seeds]
        response = client.put(f"/v1/issuance/batches/{batch_id}", json={"credentials": rows}, headers=officer)
        assert response.status_code == 201, response.text
        ids = [c["id"] for c in response.json()["credentials"]]
        assert len(ids) == len(seeds)
        return [current(client, officer, i) for i in ids]

    first = batch("idx-1", range(30))
    revoked = first[::3]
    for record in revoked:
        assert change(client, officer, record["id"], "revocation", "issued_in_error").status_code == 200
    for record in first[1::3]:
        assert change(client, officer, record["id"], "suspension", "administrative_hold").status_code == 200
    second = batch("idx-2", range(30, 60))

    records = first + second
    for purpose in ("revocation", "suspension"):
        slots = [
            (entry(r, purpose)["statusListCredential"], int(entry(r, purpose)["statusListIndex"]))
            for r in records
        ]
        assert len(set(slots)) == 60, purpose
        assert all(0 <= index < MIN_LENGTH for _, index in slots)
        lists = {url: list_credential(client, {"statusListCredential": url}) for url in {u for u, _ in slots}}
        for record in second:
            status_entry = entry(record, purpose)
            assert entry_status(status_entry, lists[status_entry["statusListCredential"]]) is False
    urls = {entry(r, "revocation")["statusListCredential"] for r in records}
    revocation_lists = {url: list_credential(client, {"statusListCredential": url}) for url in urls}
    bits_set = sum(len(set_bits(doc)) for doc in revocation_lists.values())
    assert bits_set == len(revoked)
    for record in revoked:
        revocation = entry(record, "revocation")
        assert entry_status(revocation, revocation_lists[revocation["statusListCredential"]]) is True


# --- VC API status endpoint ---


def vc_api_status(credential_id: str, status: str = "revoked", reason: str | None = "issued_in_error") -> Any:
    body: dict[str, Any] = {
        "credentialId": f"urn:uuid:{credential_id}",
        "credentialStatus": [{"type": "BitstringStatusListCredential", "status": status}],
    }
    if reason is not None:
        body["reasonCode"] = reason
    return body


def test_the_vc_api_status_endpoint_revokes_and_sets_the_bit(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    revocation = entry(record, "revocation")
    etag = fetch_list(client, revocation).headers["etag"]
    response = client.post("/credentials/status", json=vc_api_status(record["id"]), headers=officer)
    assert response.status_code == 200, response.text
    assert response.json() == {"credentialId": f"urn:uuid:{record['id']}", "status": "revoked"}
    after = current(client, officer, record["id"])
    assert (after["status"], after["statusReason"]) == ("revoked", "issued_in_error")
    listed = fetch_list(client, revocation)
    assert listed.headers["etag"] != etag
    assert_signed_by_node(client, listed.json(), clock)
    assert entry_status(revocation, listed.json()) is True
    events = client.get("/v1/audit", params={"action": "credential.revoke"}, headers=actors.auditor()).json()
    assert [(e["targetId"], e["reason"]) for e in events] == [(record["id"], "issued_in_error")]
    again = client.post("/credentials/status", json=vc_api_status(record["id"]), headers=officer)
    assert_problem(again, 409, "status-transition-not-allowed")


def test_the_vc_api_status_endpoint_suspends_and_reactivates(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    suspension = entry(record, "suspension")
    suspend = vc_api_status(record["id"], "suspended", "under_investigation")
    response = client.post("/credentials/status", json=suspend, headers=officer)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "suspended"
    assert entry_status(suspension, list_credential(client, suspension)) is True
    reactivate = vc_api_status(record["id"], "active", "investigation_cleared")
    response = client.post("/credentials/status", json=reactivate, headers=officer)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    assert entry_status(suspension, list_credential(client, suspension)) is False


def test_the_vc_api_status_endpoint_needs_a_known_credential_and_the_v1_api_a_real_reason(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    revocation = entry(record, "revocation")
    etag = fetch_list(client, revocation).headers["etag"]
    # The registry's own API never takes "unspecified": a state change says why.
    unspecified = client.post(
        f"/v1/credentials/{record['id']}/revocation", json={"reasonCode": "unspecified"}, headers=officer
    )
    assert_problem(unspecified, 422)
    unknown = client.post(
        "/credentials/status",
        json=vc_api_status("00000000-0000-4000-8000-000000000000"),
        headers=officer,
    )
    assert_problem(unknown, 404, "not-found")
    assert current(client, officer, record["id"])["status"] == "active"
    assert fetch_list(client, revocation).headers["etag"] == etag
    assert entry_status(revocation, list_credential(client, revocation)) is False


# --- freshness ---


def test_a_stale_status_list_is_re_signed_when_requested(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    record = issue(client, actors.officer())
    revocation = entry(record, "revocation")
    first = fetch_list(client, revocation)
    document = first.json()
    first_from = data_integrity.parse_datetime(document["validFrom"], "validFrom")
    assert first_from == NOW
    assert data_integrity.parse_datetime(document["validUntil"], "validUntil") > NOW

    clock.advance(minutes=5)  # within the list's freshness: the same signed list is served
    cached = fetch_list(client, revocation)
    assert cached.headers["etag"] == first.headers["etag"]
    assert cached.json() == document

    clock.advance(hours=1)
    later = fetch_list(client, revocation)
    resigned = later.json()
    assert later.headers["etag"] != first.headers["etag"]
    resigned_from = data_integrity.parse_datetime(resigned["validFrom"], "validFrom")
    assert resigned_from > first_from
    assert resigned_from == clock.now
    assert data_integrity.parse_datetime(resigned["validUntil"], "validUntil") > clock.now
    assert data_integrity.parse_datetime(resigned["proof"]["created"], "created") == clock.now
    assert_signed_by_node(client, resigned, clock)
    assert resigned["credentialSubject"]["encodedList"] == document["credentialSubject"]["encodedList"]
    assert entry_status(revocation, resigned) is False
    # and the re-signed list is what is served from then on
    assert fetch_list(client, revocation).headers["etag"] == later.headers["etag"]


def test_the_stored_list_matches_what_is_served(client: TestClient, actors: Actors) -> None:
    """The bits served are the bits the node keeps (a revocation is durable)."""
    officer = actors.officer()
    record = issue(client, officer)
    assert change(client, officer, record["id"], "revocation", "fraudulent_application").status_code == 200
    served = fetch_list(client, entry(record, "revocation"))
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        row = session.exec(select(StatusList).where(StatusList.purpose == "revocation")).one()
        assert row.etag == served.headers["etag"]
        assert json.loads(row.signed_credential) == served.json()
        assert Bitstring(row.length, row.bits).set_indices() == [
            int(entry(record, "revocation")["statusListIndex"])
        ]


def test_a_revocation_committed_while_a_stale_list_is_re_signed_is_not_lost(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    """A GET that re-signs a stale list must not publish bits older than a status change
    that committed between its read of the list and its write. The change is made
    right after the re-signing transaction has read the list row: on PostgreSQL it
    commits at once (nothing is locked yet) unless the node locks the row; on SQLite
    it waits for the database lock the re-signing transaction holds."""
    node = client.app.state.node  # type: ignore[attr-defined]
    engine = node.db.engine
    record = issue(client, actors.officer())
    revocation = entry(record, "revocation")
    fetch_list(client, revocation)
    clock.advance(hours=1)  # the list is now stale: the next GET re-signs it
    officer = actors.officer()

    change_started = threading.Event()  # the status change has begun a write transaction
    change_done = threading.Event()
    answers: list[httpx.Response] = []
    fired = threading.Event()

    def revoke_in_background() -> None:
        try:
            answers.append(change(client, officer, record["id"], "revocation", "research_misconduct"))
        finally:
            change_done.set()

    def status_change_is_waiting() -> bool:
        if engine.dialect.name == "sqlite":
            return change_started.is_set()
        with engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        return bool(waiting)

    def before_execute(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if fired.is_set() and statement.startswith("BEGIN IMMEDIATE"):
            change_started.set()

    def after_execute(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if fired.is_set():
            return
        writing = connection.get_execution_options().get("sqlite_write", False)
        if writing and "FROM status_list" in statement:
            fired.set()  # the re-signing transaction has read the list row
            threading.Thread(target=revoke_in_background, daemon=True).start()
            deadline = time.monotonic() + 30
            while not change_done.wait(0.01) and not status_change_is_waiting():
                assert time.monotonic() < deadline, "the status change neither finished nor waited"

    sa_event.listen(engine, "before_cursor_execute", before_execute)
    sa_event.listen(engine, "after_cursor_execute", after_execute)
    try:
        resigned = fetch_list(client, revocation)
        assert change_done.wait(30)
    finally:
        sa_event.remove(engine, "after_cursor_execute", after_execute)
        sa_event.remove(engine, "before_cursor_execute", before_execute)
    assert fired.is_set()
    assert resigned.json()["validFrom"] != NOW.isoformat().replace("+00:00", "Z")
    assert len(answers) == 1
    assert answers[0].status_code == 200, answers[0].text
    assert current(client, officer, record["id"])["status"] == "revoked"
    served = list_credential(client, revocation)
    assert entry_status(revocation, served) is True
