"""Recognition policy (互认政策; DESIGN "Recognition"): a node publishes numbered versions of
the rules by which it accepts other provinces' credentials as its own types; every
verification report answers in the verifying node's terms under the latest version.
The rules and their checks are pure (first part); the API and the signed policy are
tested on one node (second part); the cross-province answers in
``tests/test_federation_flow.py``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import select

from registry.auth import Principal
from registry.errors import RegistryError
from registry.federation import node_requests, recognition
from registry.models import AuditEvent, RecognitionPolicy
from registry.signing.jose import sign_jws
from registry.signing.keyring import KeyRing
from tests.conftest import Actors, issue_row, resident_id

DAY = date(2027, 3, 1)
LOCAL = frozenset({"ENG-SENIOR", "ENG-ASSOCIATE_SENIOR", "RES-FULL_SENIOR"})


def _rule(**fields: Any) -> recognition.RuleIn:
    base: dict[str, Any] = {"issuerProvince": "32", "credentialType": "*", "validFrom": "2027-01-01"}
    base.update(fields)
    return recognition.RuleIn.model_validate(base)


def _policy(*rules: recognition.RuleIn, version: int = 3) -> recognition.Policy:
    return recognition.Policy(
        version, datetime(2027, 1, 1, tzinfo=UTC), tuple(recognition.Rule.of(r) for r in rules)
    )


def _recognise(
    policy: recognition.Policy | None, province: str | None = "32", code: str = "ENG-SENIOR", **kw: Any
) -> recognition.Recognition:
    args: dict[str, Any] = {
        "policy": policy,
        "own_province": "34",
        "issuer_province": province,
        "type_code": code,
        "valid": True,
        "day": DAY,
        "local_codes": LOCAL,
    }
    args.update(kw)
    return recognition.recognise(**args)


# --- the rules (pure) ------------------------------------------------------------------


def test_a_rule_for_every_type_recognises_each_as_itself() -> None:
    found = _recognise(_policy(_rule()))
    assert (found.state, found.recognised_as, found.policy_version) == ("recognised", "ENG-SENIOR", 3)


def test_a_rule_naming_the_type_wins_over_every_type() -> None:
    named = _rule(
        credentialType="ENG-SENIOR",
        recognisedAs="RES-FULL_SENIOR",
        conditions={"zh": "须聘任", "en": "Once appointed"},
    )
    found = _recognise(_policy(_rule(), named))
    assert found.recognised_as == "RES-FULL_SENIOR"
    assert found.conditions == {"zh": "须聘任", "en": "Once appointed"}
    assert (
        _recognise(_policy(_rule(), named), code="ENG-ASSOCIATE_SENIOR").recognised_as
        == "ENG-ASSOCIATE_SENIOR"
    )


def test_another_province_or_a_type_this_catalogue_lacks_is_not_recognised() -> None:
    policy = _policy(_rule())
    assert _recognise(policy, province="33").state == "not-recognised"
    found = _recognise(policy, code="TEA-HIGHER-FULL_SENIOR")
    assert (found.state, found.policy_version, found.recognised_as) == ("not-recognised", 3, None)


def test_a_rule_applies_from_its_first_day_until_the_day_before_its_end() -> None:
    policy = _policy(_rule(validFrom="2027-03-01", validUntil="2027-04-01"))
    assert _recognise(policy, day=date(2027, 2, 28)).state == "not-recognised"
    assert _recognise(policy, day=date(2027, 3, 1)).state == "recognised"
    assert _recognise(policy, day=date(2027, 3, 31)).state == "recognised"
    assert _recognise(policy, day=date(2027, 4, 1)).state == "not-recognised"


def test_own_credentials_are_native_and_only_a_valid_one_is_recognised() -> None:
    policy = _policy(_rule())
    assert _recognise(policy, province="34").state == "native"
    assert _recognise(policy, valid=False).state == "not-applicable"
    assert _recognise(policy, province=None).state == "not-applicable"  # an issuer outside the federation
    assert _recognise(None).state == "no-policy"


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"recognisedAs": "ENG-SENIOR"}, "omit recognisedAs"),
        ({"credentialType": "ENG-SENIOR"}, "recognisedAs is required"),
        ({"credentialType": "ENG-*", "recognisedAs": "ENG-SENIOR"}, "credentialType"),
        ({"validUntil": "2027-01-01"}, "validUntil must be after validFrom"),
        ({"issuerProvince": "11"}, "issuerProvince"),
        ({"credentialType": "eng senior"}, "credentialType"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_malformed_rules_are_refused(fields: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        _rule(**fields)


def test_a_policy_is_checked_against_this_node_and_its_catalogue() -> None:
    catalogue = {"ENG-SENIOR": True, "ENG-OLD": False}
    body = recognition.PolicyIn(
        rules=[
            _rule(issuerProvince="34"),
            _rule(issuerProvince="33", credentialType="ENG-SENIOR", recognisedAs="NOPE"),
            _rule(issuerProvince="33", credentialType="ENG-X", recognisedAs="ENG-OLD"),
            _rule(issuerProvince="31", validUntil="2027-06-01"),
            _rule(issuerProvince="31", validFrom="2027-05-01"),
            _rule(
                issuerProvince="31",
                validFrom="2027-06-01",
                credentialType="ENG-SENIOR",
                recognisedAs="ENG-SENIOR",
            ),
        ]
    )
    problems = recognition.policy_problems(
        body, "34", lambda code: (True, catalogue[code]) if code in catalogue else None
    )
    assert problems == [
        {"field": "rules.0.issuerProvince", "message": "this node's own credentials need no recognition"},
        {"field": "rules.1.recognisedAs", "message": "NOPE is not in this node's catalogue"},
        {"field": "rules.2.recognisedAs", "message": "ENG-OLD is retired from this node's catalogue"},
        {"field": "rules.4", "message": "rules 3 and 4 both decide * of province 31 on a common day"},
    ]


# --- one node: publishing, reading, the signed policy ---------------------------------

JIANGSU_TITLES = {
    "rules": [
        {"issuerProvince": "33", "credentialType": "*", "validFrom": "2026-01-01"},
        {
            "issuerProvince": "34",
            "credentialType": "ENG-ASSOCIATE_SENIOR",
            "recognisedAs": "ENG-ASSOCIATE_SENIOR",
            "validFrom": "2026-01-01",
            "conditions": {"zh": "须在本省用人单位聘任", "en": "Once appointed by an employer here"},
        },
    ],
    "note": "长三角互认首批",
}


def test_an_admin_publishes_versions_and_anyone_reads_them(client: TestClient) -> None:
    actors = Actors(client.app)
    admin = actors.admin()
    assert client.get("/v1/recognition/policy").status_code == 404
    first = client.put("/v1/recognition/policy", json=JIANGSU_TITLES, headers=admin)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1
    rule = first.json()["rules"][1]
    assert rule["recognisedAs"] == {
        "code": "ENG-ASSOCIATE_SENIOR",
        "name": {"zh": "高级工程师", "en": "Senior engineer"},
    }
    assert rule["issuerProvinceName"] == {"zh": "安徽省", "en": "Anhui"}
    second = client.put("/v1/recognition/policy", json={"rules": JIANGSU_TITLES["rules"][:1]}, headers=admin)
    assert second.json()["version"] == 2
    latest = client.get("/v1/recognition/policy")
    assert (latest.json()["version"], len(latest.json()["rules"])) == (2, 1)
    kept = client.get("/v1/recognition/policy/versions/1").json()
    assert kept == first.json()
    assert client.get("/v1/recognition/policy/versions/3").status_code == 404
    with client.app.state.node.db.session(write=False) as session:  # type: ignore[attr-defined]
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "recognition.publish")).all()
    assert [(e.target_id, e.reason) for e in events] == [("1", "长三角互认首批"), ("2", None)]


def test_only_an_admin_publishes_and_a_bad_policy_changes_nothing(client: TestClient) -> None:
    actors = Actors(client.app)
    assert client.put("/v1/recognition/policy", json=JIANGSU_TITLES).status_code == 401
    assert (
        client.put("/v1/recognition/policy", json=JIANGSU_TITLES, headers=actors.officer()).status_code == 403
    )
    admin = actors.admin()
    own = {
        "rules": [
            *JIANGSU_TITLES["rules"],
            {"issuerProvince": "32", "credentialType": "*", "validFrom": "2026-01-01"},
        ]
    }
    refused = client.put("/v1/recognition/policy", json=own, headers=admin)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [
        {"field": "rules.2.issuerProvince", "message": "this node's own credentials need no recognition"}
    ]
    malformed = client.put(
        "/v1/recognition/policy", json={"rules": [{"issuerProvince": "33"}]}, headers=admin
    )
    assert malformed.status_code == 422
    with client.app.state.node.db.session(write=False) as session:  # type: ignore[attr-defined]
        assert session.exec(select(RecognitionPolicy)).all() == []


def test_the_signed_policy_verifies_with_the_node_s_did_key(client: TestClient) -> None:
    """Signed with the key that signs the node's credentials (``kid`` its verification
    method), which a member finds in the node's trust chain with its history."""
    from registry.signing.did import DidResolver
    from registry.signing.jose import verify_jws

    admin = Actors(client.app).admin()
    assert client.get("/federation/recognition-policy").status_code == 404
    client.put("/v1/recognition/policy", json=JIANGSU_TITLES, headers=admin)
    answer = client.get("/federation/recognition-policy")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == recognition.POLICY_MEDIA_TYPE
    node = client.app.state.node  # type: ignore[attr-defined]
    did_document = client.get("/.well-known/did.json").json()
    resolver = DidResolver(fetch_did_web=lambda did: did_document)
    verified = verify_jws(answer.text, resolver, frozenset({recognition.POLICY_TYP}), "assertionMethod")
    claims = verified.payload
    assert (claims["iss"], claims["sub"], claims["version"]) == (node.did, node.settings.entity_id, 1)
    policy = recognition.policy_from_claims(claims, node.did, node.settings.entity_id, node.clock())
    assert policy.rules[1].recognised_as == "ENG-ASSOCIATE_SENIOR"
    header, payload, signature = answer.text.split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
    with pytest.raises(RegistryError):
        verify_jws(tampered, resolver, frozenset({recognition.POLICY_TYP}), "assertionMethod")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"iss": "did:web:other.example"}, "not the member's own"),
        ({"exp": 1}, "expired"),
        ({"version": "3"}, "integers"),
        (
            {"rules": [{"issuerProvince": "99", "credentialType": "*", "validFrom": "2026-01-01"}]},
            "not a rule",
        ),
        ({"rules": "all"}, "not a list"),
    ],
)
def test_a_member_s_policy_that_is_not_a_policy_is_refused(change: dict[str, Any], why: str) -> None:
    claims = recognition.policy_claims(
        _policy(_rule()), "did:web:js.example", "https://js.example", datetime(2027, 1, 1, tzinfo=UTC)
    )
    claims.update(change)
    with pytest.raises(recognition.PolicyClaimsError, match=why):
        recognition.policy_from_claims(
            claims, "did:web:js.example", "https://js.example", datetime(2027, 1, 1, tzinfo=UTC)
        )


def test_a_node_s_own_credential_is_native_in_its_reports(client: TestClient) -> None:
    actors = Actors(client.app)
    record = client.post(
        "/v1/credentials", json=issue_row(idNumber=resident_id(7)), headers=actors.officer()
    ).json()
    vc = record["verifiableCredential"]
    hr = actors.hr()
    report = client.post("/v1/verifications", json={"credential": vc}, headers=hr).json()
    assert report["recognition"]["state"] == "native"
    assert report["recognition"]["message"] == "江苏省签发，在本省无需认可。"
    english = client.post(
        "/v1/verifications", json={"credential": vc}, headers={**hr, "Accept-Language": "en"}
    ).json()
    assert english["recognition"]["message"] == "Issued in Jiangsu: it needs no recognition here."
    assert english["recognition"]["recognisedAs"] == {
        "code": "ENG-ASSOCIATE_SENIOR",
        "name": "Senior engineer",
    }
    tampered = {**vc, "validFrom": "2020-01-01T00:00:00Z"}
    bad = client.post("/v1/verifications", json={"credential": tampered}, headers=hr).json()
    assert bad["verdict"] == "invalid"
    assert bad["recognition"]["state"] == "not-applicable"
    assert bad["recognition"]["recognisedAs"] is None


def test_the_verification_page_says_what_the_credential_is_here(client: TestClient) -> None:
    from tests.test_web_pages import csrf_of

    actors = Actors(client.app)
    record = client.post(
        "/v1/credentials", json=issue_row(idNumber=resident_id(8)), headers=actors.officer()
    ).json()
    token = csrf_of(client.get("/verify").text)
    pasted = json.dumps(record["verifiableCredential"], ensure_ascii=False)
    zh = client.post("/verify", data={"csrf_token": token, "credential": pasted})
    assert "本省认可" in zh.text
    assert "江苏省签发，在本省无需认可。" in zh.text
    en = client.post(
        "/verify", data={"csrf_token": token, "credential": pasted}, headers={"Accept-Language": "en"}
    )
    assert "Recognition here" in en.text
    assert "Issued in Jiangsu: it needs no recognition here." in en.text


# --- node-authenticated requests (pure) ----------------------------------------------------

SIGNED_AT = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
CALLER, RECEIVER = "https://js.example", "https://ah.example"
URL = RECEIVER + "/federation/recognition-applications"


def _ring() -> KeyRing:
    return KeyRing.start(Ed25519PrivateKey.generate(), SIGNED_AT - timedelta(days=30))


def _request(ring: KeyRing, **overrides: Any) -> str:
    record, key = ring.signing_key(SIGNED_AT)
    args: dict[str, Any] = {
        "purpose": "recognition.apply",
        "body": {"application": "a"},
        "caller": CALLER,
        "audience": RECEIVER,
        "url": URL,
        "kid": record.kid,
        "key": key,
        "now": SIGNED_AT,
    }
    args.update(overrides)
    return node_requests.sign_request(**args)


def _open(
    token: str, ring: KeyRing, now: datetime = SIGNED_AT, **overrides: Any
) -> node_requests.NodeRequest:
    args: dict[str, Any] = {"audience": RECEIVER, "url": URL, "purpose": "recognition.apply"}
    args.update(overrides)
    return node_requests.open_request(token, caller_ring=ring, now=now, **args)


def test_a_node_request_opens_with_the_caller_s_ring() -> None:
    ring = _ring()
    opened = _open(_request(ring), ring)
    assert (opened.caller, opened.purpose, dict(opened.body)) == (
        CALLER,
        "recognition.apply",
        {"application": "a"},
    )
    assert node_requests.unverified_caller(_request(ring)) == CALLER


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"audience": "https://other.example"}, "aud"),
        ({"url": RECEIVER + "/other"}, "htu"),
        ({"purpose": "recognition.status"}, "purpose"),
    ],
)
def test_a_request_for_another_node_url_or_purpose_is_refused(change: dict[str, str], fragment: str) -> None:
    ring = _ring()
    with pytest.raises(node_requests.NodeRequestError, match=fragment):
        _open(_request(ring), ring, **change)


def test_a_node_request_out_of_its_time_is_refused() -> None:
    ring = _ring()
    token = _request(ring)
    with pytest.raises(node_requests.NodeRequestError, match="expired"):
        _open(token, ring, now=SIGNED_AT + timedelta(seconds=120 + node_requests.CLOCK_SKEW))
    with pytest.raises(node_requests.NodeRequestError, match="future"):
        _open(token, ring, now=SIGNED_AT - timedelta(seconds=node_requests.CLOCK_SKEW + 1))
    assert _open(token, ring, now=SIGNED_AT + timedelta(seconds=150)).caller == CALLER  # within the skew


def test_a_node_request_signed_by_another_key_or_a_compromised_one_is_refused() -> None:
    ring = _ring()
    with pytest.raises(node_requests.NodeRequestError, match="not the calling node's"):
        _open(_request(_ring()), ring)  # a key the caller's ring does not have
    record, _ = ring.signing_key(SIGNED_AT)
    compromised = ring.mark_compromised(record.kid, SIGNED_AT - timedelta(minutes=1))
    with pytest.raises(node_requests.NodeRequestError, match="not the calling node's"):
        _open(_request(ring), compromised)


def test_a_tampered_node_request_is_refused() -> None:
    ring = _ring()
    header, payload, signature = _request(ring).split(".")
    other = _request(ring, body={"application": "b"}).split(".")[1]
    with pytest.raises(node_requests.NodeRequestError, match="signature"):
        _open(f"{header}.{other}.{signature}", ring)
    with pytest.raises(node_requests.NodeRequestError):
        _open(f"{header}.{payload}.", ring)


def test_a_node_request_cannot_live_long() -> None:
    with pytest.raises(ValueError, match="lives"):
        _request(_ring(), lifetime=node_requests.MAX_LIFETIME + 1)


@pytest.mark.parametrize(("iat", "exp"), [(10**15, 10**15 + 60), (True, 2), (-(10**15), -(10**15) + 60)])
def test_a_node_request_with_absurd_times_is_refused_before_any_key_is_read(iat: Any, exp: Any) -> None:
    ring = _ring()
    record, key = ring.signing_key(SIGNED_AT)
    claims = {
        "iss": CALLER,
        "aud": RECEIVER,
        "iat": iat,
        "exp": exp,
        "jti": "j",
        "purpose": "p",
        "htu": URL,
        "body": {},
    }
    token = sign_jws(claims, key, record.kid, node_requests.REQUEST_TYP)
    with pytest.raises(node_requests.NodeRequestError) as refused:
        _open(token, ring)
    assert refused.value.status == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("NodeRequest")


# --- the holder's node reads the receiving node's answers as untrusted input ---------------


def _outgoing() -> Any:
    from registry.models import RecognitionApplication

    return RecognitionApplication(
        id="a" * 8 + "-0000-4000-8000-" + "0" * 12,
        side="outgoing",
        peer_entity="https://ah.example",
        peer_application_id="b" * 8 + "-0000-4000-8000-" + "0" * 12,
        credential_id="urn:uuid:c",
        certificate_number="32-2026-0000001",
        holder_name="许晴",
        type_code="ENG-ASSOCIATE_SENIOR",
        province="34",
        state="pending",
        created_at=datetime(2027, 1, 1, tzinfo=UTC),
    )


def _recognition_credential(issuer: str = "did:web:ah.example", of: str = "urn:uuid:c") -> dict[str, Any]:
    return {"issuer": {"id": issuer}, "credentialSubject": {"recognitionOf": {"id": of}}}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"id": "c" * 8 + "-0000-4000-8000-" + "0" * 12, "state": "pending"}, "another application"),
        (
            {"state": "recognised", "recognisedAs": "ENG-ASSOCIATE_SENIOR"},
            "without its recognition credential",
        ),
        (
            {
                "state": "recognised",
                "recognisedAs": "ENG-X",
                "recognitionCredential": _recognition_credential("did:web:x"),
            },
            "not the receiving node's",
        ),
        (
            {
                "state": "recognised",
                "recognisedAs": "ENG-X",
                "recognitionCredential": _recognition_credential(of="urn:uuid:z"),
            },
            "recognises another credential",
        ),
        ({"state": "refused", "recognitionCredential": _recognition_credential()}, "is refused"),
        (
            {
                "state": "recognised",
                "recognisedAs": "ENG-X",
                "recognitionCredential": _recognition_credential(),
            },
            None,
        ),
    ],
)
def test_an_answer_about_an_application_is_checked_before_it_is_kept(
    answer: dict[str, Any], problem: str | None
) -> None:
    from registry.federation import applications

    row = _outgoing()
    decided = applications.Decided.model_validate({"id": row.peer_application_id, **answer})
    found = applications.answer_problem(row, decided, "did:web:ah.example")
    assert found is None if problem is None else problem in (found or "")


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "not-a-uuid", "state": "pending"},
        {"id": "b" * 8 + "-0000-4000-8000-" + "0" * 12, "state": "pending", "decidedAt": "yesterday"},
        {"id": "b" * 8 + "-0000-4000-8000-" + "0" * 12, "state": "recognised", "recognisedAs": "x" * 300},
        {"id": "b" * 8 + "-0000-4000-8000-" + "0" * 12, "state": "refused", "decisionReason": "x" * 501},
        {"id": "b" * 8 + "-0000-4000-8000-" + "0" * 12, "state": "sending"},
    ],
)
def test_a_malformed_answer_is_not_read(answer: dict[str, Any]) -> None:
    from registry.federation import applications

    with pytest.raises(ValidationError):
        applications.Decided.model_validate(answer)


def test_of_two_officers_deciding_at_once_the_second_sees_the_first_s_decision(client: TestClient) -> None:
    """The application is locked while it is decided (PostgreSQL: SELECT … FOR UPDATE;
    SQLite: one writer): the second decision waits, then finds it decided (409), and
    no second recognition credential is issued."""
    import threading
    import time as clock

    from registry.errors import ConflictError
    from registry.federation import applications
    from registry.models import RecognitionApplication
    from registry.routes.issuance import context as issuance_context

    node = client.app.state.node  # type: ignore[attr-defined]
    officer = Principal("account", "officer-1", "issuing_officer")
    with node.db.session() as session:
        session.add(
            RecognitionApplication(
                id="5f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
                side="incoming",
                peer_entity="https://ah.example",
                peer_application_id="6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
                credential_id="urn:uuid:x",
                certificate_number="34-2026-0000001",
                holder_name="许晴",
                type_code="ENG-ASSOCIATE_SENIOR",
                province="34",
                credential="{}",
                created_at=node.clock(),
            )
        )
    first_decided = threading.Event()
    outcomes: dict[str, str] = {}

    def decide(name: str, hold: float) -> None:
        body = applications.DecisionIn(decision="refuse", reason=f"{name} 的决定")
        try:
            with node.db.session() as session:
                applications.decide(
                    session,
                    officer,
                    "5f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
                    body,
                    None,
                    issuance_context(node, session),
                )
                first_decided.set()
                clock.sleep(hold)  # still uncommitted while the other officer decides
            outcomes[name] = "decided"
        except ConflictError:
            outcomes[name] = "conflict"

    first = threading.Thread(target=decide, args=("first", 0.5))
    first.start()
    assert first_decided.wait(10)
    second = threading.Thread(target=decide, args=("second", 0))
    second.start()
    first.join(10)
    second.join(10)
    assert outcomes == {"first": "decided", "second": "conflict"}
    with node.db.session(write=False) as session:
        row = session.get(RecognitionApplication, "5f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f")
    assert row is not None
    assert row.decision_reason == "first 的决定"


def test_a_withdrawal_committed_after_the_decision_s_first_read_stops_the_decision(
    database: Any, database_url: str
) -> None:
    """The decision route reads the application before ``decide`` locks it, in the same
    session. On PostgreSQL a withdrawal committed in between must be seen under the lock
    (the row is read again, not taken from the session as first read): the officer gets
    409, the application stays withdrawn. (SQLite write sessions take the write lock
    first, so nothing can commit in between there.)"""
    from types import SimpleNamespace

    from registry.errors import ConflictError
    from registry.federation import applications
    from registry.models import RecognitionApplication

    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite write sessions are serialised from their start")
    now = datetime(2027, 3, 1, tzinfo=UTC)
    caller = "https://js.registry.example"
    with database.session() as session:
        session.add(
            RecognitionApplication(
                id="5b0c3d2e-1f4a-4b6c-8d7e-9f0a1b2c3d4e",
                side="incoming",
                peer_entity=caller,
                peer_application_id="6c1d4e3f-2a5b-4c7d-9e8f-0a1b2c3d4e5f",
                credential_id="urn:uuid:7d2e5f40-3b6c-4d8e-af90-1b2c3d4e5f60",
                certificate_number="32-2027-0000001",
                holder_name="持证人",
                type_code="ENG-ASSOCIATE_SENIOR",
                province="32",
                state="pending",
                created_at=now,
            )
        )
    officer = Principal("account", "officer-1", "issuing_officer")
    refuse = applications.DecisionIn(decision="refuse", reason="专业不对口")
    with database.session() as deciding:
        first = applications.incoming(deciding, "5b0c3d2e-1f4a-4b6c-8d7e-9f0a1b2c3d4e")
        assert first.state == "pending"
        with database.session() as other:
            applications.receive_withdrawal(other, caller, "5b0c3d2e-1f4a-4b6c-8d7e-9f0a1b2c3d4e", now)
        with pytest.raises(ConflictError):
            applications.decide(
                deciding,
                officer,
                "5b0c3d2e-1f4a-4b6c-8d7e-9f0a1b2c3d4e",
                refuse,
                None,
                SimpleNamespace(now=now),  # type: ignore[arg-type]
            )
    with database.session(write=False) as session:
        row = session.get(RecognitionApplication, "5b0c3d2e-1f4a-4b6c-8d7e-9f0a1b2c3d4e")
        assert row is not None
        assert (row.state, row.decision_reason) == ("withdrawn", None)
