"""Cross-province verification: a trust anchor and two provincial nodes in one process,
each app on its own database, joined by httpx ASGITransport (requests routed by origin).
An HR client of the Anhui node verifies Jiangsu credentials through its own node: trust
chain, key history, authorisation (评审权), status from Jiangsu's signed list; warm
verifications make no request; a peer that is down or a list that is too old make the
answer ``unknown``, never ``valid``."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from registry.federation import recognition
from registry.federation.jws import federation_jwks
from tests.conftest import MutableClock, issue_row, resident_id
from tests.federation_apps import OriginRouter, federated_app, federation_settings

_ACCOUNTS = itertools.count()
ANCHOR = "https://127.0.0.1:8100"
JIANGSU = "https://127.0.0.1:8032"
ANHUI = "https://127.0.0.1:8034"


@dataclass
class Federation:
    clock: MutableClock
    router: OriginRouter
    clients: dict[str, TestClient] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def node(self, origin: str) -> Any:
        return self.clients[origin].app.state.node  # type: ignore[attr-defined]

    def staff(self, origin: str, role: str) -> dict[str, str]:
        """Fresh headers of a new staff account (tokens last 15 minutes of the clock)."""
        from tests.conftest import Actors

        actors = Actors(self.clients[origin].app)
        actors._n = 1000 + next(_ACCOUNTS)
        return actors.admin() if role == "admin" else actors.officer()

    def issue(self, origin: str, seed: int, **overrides: Any) -> dict[str, Any]:
        row = issue_row(idNumber=resident_id(seed), holderName=f"持证人{seed}", **overrides)
        officer = self.staff(origin, "officer")
        answer = self.clients[origin].post("/v1/credentials", json=row, headers=officer)
        assert answer.status_code == 201, answer.text
        record: dict[str, Any] = answer.json()
        return record

    def verify_at(self, origin: str, credential: dict[str, Any] | str) -> dict[str, Any]:
        hr = self.headers[f"{origin}#hr"]
        answer = self.clients[origin].post("/v1/verifications", json={"credential": credential}, headers=hr)
        assert answer.status_code == 200, answer.text
        report: dict[str, Any] = answer.json()
        return report

    def refresh(self, origin: str) -> None:
        directory = self.node(origin).directory
        self.clients[origin].portal.call(directory.refresh)  # type: ignore[union-attr]

    def forget(self, origin: str) -> None:
        """Drop what ``origin`` holds of its peers (a cold start)."""
        directory = self.node(origin).directory
        directory._profiles.clear()
        directory._lists.clear()
        directory._failures.clear()
        directory._list_failures.clear()
        directory.version += 1


def _check(report: dict[str, Any], name: str) -> dict[str, str]:
    found: dict[str, str] = next(c for c in report["checks"] if c["check"] == name)
    return found


def _admin_and_officer(client: TestClient) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    from tests.conftest import Actors

    actors = Actors(client.app)
    return actors.admin(), actors.officer(), actors.hr()


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    clock = MutableClock()
    router = OriginRouter()
    anchor = federated_app(
        federation_settings(tmp_path / "anchor", ANCHOR, "31", role="anchor"), clock, router
    )
    with anchor:
        anchor_node = anchor.app.state.node  # type: ignore[attr-defined]
        with anchor_node.db.session(write=False) as session:
            ring = anchor_node.federation_keys.load(session)
        anchor_jwks = json.dumps(federation_jwks(*(r.public_key for r in ring.valid_at(clock()))))
        fed = Federation(clock, router, {ANCHOR: anchor})
        admin, _, _ = _admin_and_officer(anchor)
        fed.headers[ANCHOR] = admin
        members = {JIANGSU: "32", ANHUI: "34"}
        opened = []
        for origin, province in members.items():
            client = federated_app(
                federation_settings(
                    tmp_path / province, origin, province, trust_anchor=ANCHOR, trust_anchor_jwks=anchor_jwks
                ),
                clock,
                router,
            )
            client.__enter__()
            opened.append(client)
            fed.clients[origin] = client
            node_admin, officer, hr = _admin_and_officer(client)
            fed.headers[origin] = officer
            fed.headers[f"{origin}#hr"] = hr
            jwks = client.get("/v1/federation/jwks", headers=node_admin).json()
            node = client.app.state.node  # type: ignore[attr-defined]
            admitted = anchor.post(
                "/v1/federation/members",
                json={"entityId": origin, "did": node.did, "province": province, "jwks": jwks},
                headers=admin,
            )
            assert admitted.status_code == 201, admitted.text
        for origin in members:
            granted = anchor.post(
                "/v1/federation/authorisations",
                json={"entityId": origin, "scope": "ENG-*", "validFrom": "2026-01-01T00:00:00Z"},
                headers=admin,
            )
            assert granted.status_code == 201, granted.text
            fed.headers[f"{origin}#eng"] = {"id": str(granted.json()["id"])}
        try:
            yield fed
        finally:
            for client in opened:
                client.__exit__(None, None, None)


def test_a_jiangsu_title_is_valid_at_anhui_with_evidence_from_the_chain(federation: Federation) -> None:
    vc = federation.issue(JIANGSU, 1)["verifiableCredential"]
    report = federation.verify_at(ANHUI, vc)
    assert report["verdict"] == "valid", report
    assert "江苏省" in _check(report, "issuer")["reason"]
    assert ANCHOR in _check(report, "issuer")["reason"]
    assert "ENG-*" in _check(report, "authorisation")["reason"]
    assert "江苏省" in _check(report, "status")["reason"]
    assert report["credential"]["holderName"] == "持证人1"


def test_a_warm_cross_province_verification_makes_no_request(federation: Federation) -> None:
    first = federation.issue(JIANGSU, 2)["verifiableCredential"]
    second = federation.issue(JIANGSU, 3)["verifiableCredential"]
    assert federation.verify_at(ANHUI, first)["verdict"] == "valid"
    federation.router.requests.clear()
    assert federation.verify_at(ANHUI, second)["verdict"] == "valid"
    assert federation.verify_at(ANHUI, first)["verdict"] == "valid"
    assert federation.router.requests == []


def test_a_revocation_at_jiangsu_reaches_anhui_on_refresh(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 4)
    vc = record["verifiableCredential"]
    assert federation.verify_at(ANHUI, vc)["verdict"] == "valid"
    revoked = federation.clients[JIANGSU].post(
        f"/v1/credentials/{record['id']}/revocation",
        json={"reasonCode": "research_misconduct"},
        headers=federation.staff(JIANGSU, "officer"),
    )
    assert revoked.status_code == 200, revoked.text
    node = federation.node(ANHUI)
    federation.clock.advance(seconds=node.settings.peer_status_max_age / 2 + 1)
    federation.refresh(ANHUI)
    report = federation.verify_at(ANHUI, vc)
    assert report["verdict"] == "invalid"
    assert "revoked by 江苏省" in _check(report, "status")["reason"]
    # The integrity sanction is visible in Anhui, not only where it was imposed.
    assert "科研失信" in _check(report, "status")["reason"]


def test_a_list_older_than_the_bound_makes_status_unknown_never_valid(federation: Federation) -> None:
    vc = federation.issue(JIANGSU, 5)["verifiableCredential"]
    assert federation.verify_at(ANHUI, vc)["verdict"] == "valid"
    federation.router.down.add(JIANGSU)
    node = federation.node(ANHUI)
    federation.clock.advance(seconds=node.settings.peer_status_max_age + 1)
    federation.refresh(ANHUI)
    report = federation.verify_at(ANHUI, vc)
    assert report["verdict"] == "unknown"
    assert _check(report, "status")["result"] == "unknown"
    assert "beyond" in _check(report, "status")["reason"]


def test_a_peer_that_is_down_on_a_cold_start_gives_unknown(federation: Federation) -> None:
    vc = federation.issue(JIANGSU, 6)["verifiableCredential"]
    federation.router.down.add(JIANGSU)
    report = federation.verify_at(ANHUI, vc)
    assert report["verdict"] == "unknown"
    assert _check(report, "issuer")["result"] == "unknown"
    # Still not valid, and it does not try again on every request (remembered failure).
    federation.router.requests.clear()
    assert federation.verify_at(ANHUI, vc)["verdict"] == "unknown"
    assert federation.router.requests == []


def test_authorisation_withdrawn_after_issuance_keeps_earlier_credentials(federation: Federation) -> None:
    before = federation.issue(JIANGSU, 7)["verifiableCredential"]
    federation.clock.advance(hours=1)
    withdrawn = federation.clients[ANCHOR].post(
        f"/v1/federation/authorisations/{federation.headers[JIANGSU + '#eng']['id']}/withdrawal",
        json={"reason": "评审权调整"},
        headers=federation.staff(ANCHOR, "admin"),
    )
    assert withdrawn.status_code == 200, withdrawn.text
    federation.clock.advance(minutes=1)
    after = federation.issue(JIANGSU, 8)["verifiableCredential"]
    federation.forget(ANHUI)
    assert federation.verify_at(ANHUI, before)["verdict"] == "valid"
    report = federation.verify_at(ANHUI, after)
    assert report["verdict"] == "invalid"
    assert _check(report, "authorisation")["result"] == "fail"
    assert "not authorised" in _check(report, "authorisation")["reason"]


def test_a_type_outside_the_authorisation_fails(federation: Federation) -> None:
    vc = federation.issue(JIANGSU, 9, typeCode="RES-FULL_SENIOR")["verifiableCredential"]
    report = federation.verify_at(ANHUI, vc)
    assert report["verdict"] == "invalid"
    assert _check(report, "authorisation")["result"] == "fail"


def test_a_key_marked_compromised_at_jiangsu_reaches_anhui(federation: Federation) -> None:
    early = federation.issue(JIANGSU, 10)["verifiableCredential"]
    federation.clock.advance(hours=2)
    late = federation.issue(JIANGSU, 11)["verifiableCredential"]
    assert federation.verify_at(ANHUI, late)["verdict"] == "valid"
    jiangsu = federation.node(JIANGSU)
    since = federation.clock() - timedelta(hours=1)
    with jiangsu.db.session() as session:
        kid = jiangsu.key_store.load(session).signing_key(federation.clock())[0].kid
        jiangsu.key_store.mark_compromised(session, kid, since)
        jiangsu.key_store.rotate(session, federation.clock())
    jiangsu._ring = None
    federation.forget(ANHUI)
    late_report = federation.verify_at(ANHUI, late)
    assert late_report["verdict"] == "invalid"
    assert _check(late_report, "key")["result"] == "fail"
    assert "江苏省" in _check(late_report, "key")["reason"]
    assert federation.verify_at(ANHUI, early)["verdict"] == "valid"


def test_a_forged_key_id_of_a_member_fails(federation: Federation) -> None:
    import copy

    vc = copy.deepcopy(federation.issue(JIANGSU, 12)["verifiableCredential"])
    did = federation.node(JIANGSU).did
    vc["proof"]["verificationMethod"] = f"{did}#forged-key"
    report = federation.verify_at(ANHUI, vc)
    assert report["verdict"] == "invalid"
    assert report["credential"] is None


def test_a_removed_member_is_no_longer_trusted(federation: Federation) -> None:
    vc = federation.issue(JIANGSU, 13)["verifiableCredential"]
    removed = federation.clients[ANCHOR].post(
        "/v1/federation/members/removal",
        json={"entityId": JIANGSU, "reason": "退出联盟"},
        headers=federation.staff(ANCHOR, "admin"),
    )
    assert removed.status_code == 200, removed.text
    federation.forget(ANHUI)
    directory = federation.node(ANHUI).directory
    directory._members_at = -1e9
    report = federation.verify_at(ANHUI, vc)
    assert report["verdict"] != "valid"
    assert _check(report, "issuer")["result"] == "unknown"


def test_vc_api_verify_at_anhui_takes_the_same_path(federation: Federation) -> None:
    vc = federation.issue(JIANGSU, 14)["verifiableCredential"]
    answer = federation.clients[ANHUI].post("/credentials/verify", json={"verifiableCredential": vc})
    assert answer.status_code == 200, answer.text
    assert answer.json()["verified"] is True


def test_batch_verification_at_anhui_covers_both_provinces(federation: Federation) -> None:
    js = federation.issue(JIANGSU, 15)["verifiableCredential"]
    ah = federation.issue(ANHUI, 16)["verifiableCredential"]
    answer = federation.clients[ANHUI].post(
        "/v1/verifications/batch",
        json={"credentials": [js, ah]},
        headers=federation.headers[f"{ANHUI}#hr"],
    )
    assert answer.status_code == 200, answer.text
    assert [r["verdict"] for r in answer.json()["results"]] == ["valid", "valid"]


def test_registry_verify_at_anhui_checks_a_jiangsu_title_through_the_federation(
    federation: Federation,
) -> None:
    from registry.cli import verify_file

    record = federation.issue(JIANGSU, 17)
    settings = federation.node(ANHUI).settings
    data = json.dumps(record["verifiableCredential"], ensure_ascii=False).encode()
    router = federation.router
    report = verify_file(settings, data, http=httpx.AsyncClient(transport=router), clock=federation.clock)
    assert report.verdict == "valid", report.to_json()
    checks = {c.name: c for c in report.checks}
    assert "江苏省" in checks["issuer"].reason
    assert checks["authorisation"].result == "pass"
    # The same file with Jiangsu unreachable and nothing cached: unknown, not valid.
    federation.router.down.add(JIANGSU)
    cold = verify_file(settings, data, http=httpx.AsyncClient(transport=router), clock=federation.clock)
    assert cold.verdict == "unknown"


def test_a_rotated_jiangsu_key_verifies_old_and_new_credentials_at_anhui(federation: Federation) -> None:
    old = federation.issue(JIANGSU, 18)["verifiableCredential"]
    assert federation.verify_at(ANHUI, old)["verdict"] == "valid"
    federation.clock.advance(minutes=5)
    rotated = federation.clients[JIANGSU].post(
        "/v1/keys/rotation", headers=federation.staff(JIANGSU, "admin")
    )
    assert rotated.status_code == 200, rotated.text
    federation.clock.advance(seconds=1)
    new = federation.issue(JIANGSU, 19)["verifiableCredential"]
    assert new["proof"]["verificationMethod"] != old["proof"]["verificationMethod"]
    # Anhui's cached chain does not list the new key yet: not valid until it learns it.
    assert federation.verify_at(ANHUI, new)["verdict"] != "valid"
    # Past half the chain's life the background refresh brings the new key history.
    federation.clock.advance(seconds=federation.node(JIANGSU).settings.statement_lifetime / 2 + 1)
    federation.refresh(ANHUI)
    report = federation.verify_at(ANHUI, new)
    assert report["verdict"] == "valid", [c for c in report["checks"] if c["result"] != "pass"]
    assert federation.verify_at(ANHUI, old)["verdict"] == "valid"


def test_an_expired_chain_is_never_trusted_when_it_cannot_be_renewed(federation: Federation) -> None:
    vc = federation.issue(JIANGSU, 20)["verifiableCredential"]
    assert federation.verify_at(ANHUI, vc)["verdict"] == "valid"
    federation.router.down.update({JIANGSU, ANCHOR})
    federation.clock.advance(seconds=federation.node(JIANGSU).settings.statement_lifetime + 1)
    report = federation.verify_at(ANHUI, vc)
    assert report["verdict"] == "unknown"
    assert _check(report, "issuer")["result"] == "unknown"


def test_a_list_signed_with_a_rotated_key_renews_the_chain_at_once(federation: Federation) -> None:
    old = federation.issue(JIANGSU, 21)
    assert federation.verify_at(ANHUI, old["verifiableCredential"])["verdict"] == "valid"
    rotated = federation.clients[JIANGSU].post(
        "/v1/keys/rotation", headers=federation.staff(JIANGSU, "admin")
    )
    assert rotated.status_code == 200
    federation.clock.advance(seconds=1)
    # A suspension re-signs Jiangsu's suspension list with the new key.
    suspended = federation.clients[JIANGSU].post(
        f"/v1/credentials/{old['id']}/suspension",
        json={"reasonCode": "under_investigation"},
        headers=federation.staff(JIANGSU, "officer"),
    )
    assert suspended.status_code == 200, suspended.text
    # Lists are due (half the status bound), the chain is not (far from half its life).
    federation.clock.advance(seconds=federation.node(ANHUI).settings.peer_status_max_age / 2 + 1)
    federation.refresh(ANHUI)
    report = federation.verify_at(ANHUI, old["verifiableCredential"])
    assert report["verdict"] == "invalid"
    assert "suspended by 江苏省" in _check(report, "status")["reason"]
    assert "调查中" in _check(report, "status")["reason"]


def test_published_reasons_are_kept_only_where_well_formed() -> None:
    """A member's ``statusReasons`` never decides a verdict: malformed entries, entries
    of clear bits and indexes past the end are dropped."""
    from registry.credentials.status_list import Bitstring
    from registry.federation.directory import _published_reasons

    bits = Bitstring()
    bits.set(3)
    bits.set(5)
    published = {
        "3": "research_misconduct",
        "4": "issued_in_error",  # a clear bit
        "5": "",  # empty
        "０": "x",  # not ASCII digits
        "999999999": "superseded",  # past the end
        "05x": "x",
    }
    assert _published_reasons(published, bits) == {3: "research_misconduct"}
    assert _published_reasons(["3"], bits) == {}


# --- recognition: answers in the verifying node's terms (DESIGN "Recognition") ----------


def _publish(federation: Federation, origin: str, rules: list[dict[str, Any]]) -> int:
    admin = federation.staff(origin, "admin")
    answer = federation.clients[origin].put("/v1/recognition/policy", json={"rules": rules}, headers=admin)
    assert answer.status_code == 201, answer.text
    version: int = answer.json()["version"]
    return version


def test_a_jiangsu_title_is_answered_in_anhui_s_terms_under_its_latest_policy(federation: Federation) -> None:
    vc = federation.issue(JIANGSU, 40)["verifiableCredential"]
    before = federation.verify_at(ANHUI, vc)["recognition"]
    assert (before["state"], before["message"]) == ("no-policy", "安徽省尚未发布认可政策。")
    rule = {
        "issuerProvince": "32",
        "credentialType": "ENG-ASSOCIATE_SENIOR",
        "recognisedAs": "ENG-ASSOCIATE_SENIOR",
        "validFrom": "2026-01-01",
        "conditions": {"zh": "须在本省用人单位聘任", "en": "Once appointed by an employer here"},
    }
    assert _publish(federation, ANHUI, [rule]) == 1
    found = federation.verify_at(ANHUI, vc)["recognition"]
    assert found["state"] == "recognised"
    assert found["message"] == "在安徽省认可为高级工程师（认可政策第1版）。"
    assert (found["province"], found["issuerProvince"], found["policyVersion"]) == ("34", "32", 1)
    assert found["conditions"] == "须在本省用人单位聘任"
    # The same credential at its own node is native; Jiangsu's policy is not Anhui's.
    assert federation.verify_at(JIANGSU, vc)["recognition"]["state"] == "native"
    # A new version that no longer covers the type: the next answer says so, with its version.
    later = {**rule, "credentialType": "ENG-FULL_SENIOR", "recognisedAs": "ENG-FULL_SENIOR"}
    assert _publish(federation, ANHUI, [later]) == 2
    after = federation.verify_at(ANHUI, vc)["recognition"]
    assert (after["state"], after["policyVersion"]) == ("not-recognised", 2)
    assert after["message"] == "不在安徽省认可政策（第2版）范围内，持证人可申请认可。"


def test_a_revoked_title_is_not_recognised_whatever_the_policy(federation: Federation) -> None:
    _publish(federation, ANHUI, [{"issuerProvince": "32", "credentialType": "*", "validFrom": "2026-01-01"}])
    record = federation.issue(JIANGSU, 41)
    revoked = federation.clients[JIANGSU].post(
        f"/v1/credentials/{record['id']}/revocation",
        json={"reasonCode": "research_misconduct"},
        headers=federation.staff(JIANGSU, "officer"),
    )
    assert revoked.status_code == 200, revoked.text
    federation.clock.advance(seconds=federation.node(ANHUI).settings.peer_status_max_age / 2 + 1)
    federation.refresh(ANHUI)
    report = federation.verify_at(ANHUI, record["verifiableCredential"])
    assert report["verdict"] == "invalid"
    assert report["recognition"]["state"] == "not-applicable"


def test_the_entity_configuration_names_the_signed_recognition_policy(federation: Federation) -> None:
    from registry.federation.errors import StatementError
    from registry.federation.jws import parse_compact_jws

    token = federation.clients[ANHUI].get("/.well-known/openid-federation").text
    claims = parse_compact_jws(token, "entity-statement+jwt", StatementError).unverified_payload(
        StatementError
    )
    endpoint = claims["metadata"]["yrd_credential_issuer"]["recognition_policy_endpoint"]
    assert endpoint == f"{ANHUI}/federation/recognition-policy"


# --- recognition applications: holder's node -> receiving node -> decision -> holder ---------


def _holder_headers(federation: Federation, origin: str, holder_id: str) -> dict[str, str]:
    from tests.conftest import Actors

    actors = Actors(federation.clients[origin].app)
    actors._n = 2000 + next(_ACCOUNTS)
    return actors.holder(holder_id)


def _fresh_token(federation: Federation, origin: str, holder_id: str) -> dict[str, str]:
    """A new access token for the holder's existing account, at the federation's clock."""
    from sqlmodel import select

    from registry.models import Account

    node = federation.node(origin)
    with node.db.session(write=False) as session:
        account = session.exec(select(Account).where(Account.holder_id == holder_id)).one()
    token, _ = node.tokens.issue(account, federation.clock())
    return {"Authorization": f"Bearer {token}"}


ENG_RULE = {
    "issuerProvince": "32",
    "credentialType": "ENG-ASSOCIATE_SENIOR",
    "recognisedAs": "ENG-ASSOCIATE_SENIOR",
    "validFrom": "2026-01-01",
}


def test_a_holder_applies_anhui_decides_and_the_holder_gets_the_recognition_credential(
    federation: Federation,
) -> None:
    record = federation.issue(JIANGSU, 50)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    jiangsu, anhui = federation.clients[JIANGSU], federation.clients[ANHUI]
    applied = jiangsu.post(
        "/v1/holder/recognition-applications",
        json={"credentialId": record["id"], "province": "34", "statement": "拟调入合肥工作"},
        headers=holder,
    )
    assert applied.status_code == 201, applied.text
    mine = applied.json()
    assert (mine["state"], mine["side"], mine["peerEntity"]) == ("pending", "outgoing", ANHUI)
    # Anhui keeps it, with the credential it verified; its officer sees it.
    officer = federation.staff(ANHUI, "officer")
    pending = anhui.get("/v1/recognition/applications?state=pending", headers=officer).json()
    assert [(a["certificateNumber"], a["province"], a["statement"]) for a in pending] == [
        (record["certificateNumber"], "32", "拟调入合肥工作")
    ]
    # The policy gives the local type; the officer recognises.
    _publish(federation, ANHUI, [ENG_RULE])
    decided = anhui.post(
        f"/v1/recognition/applications/{pending[0]['id']}/decision",
        json={"decision": "recognise", "reason": "符合互认政策"},
        headers=officer,
    )
    assert decided.status_code == 200, decided.text
    credential = decided.json()["recognitionCredential"]
    assert "RecognitionCredential" in credential["type"]
    assert credential["issuer"]["id"] == federation.node(ANHUI).did
    assert credential["credentialSubject"]["certificateNumber"].startswith("34-")
    assert (
        credential["credentialSubject"]["recognitionOf"]["certificateNumber"] == record["certificateNumber"]
    )
    assert credential["relatedResource"][0]["id"] == record["verifiableCredential"]["id"]
    assert (
        credential["credentialSubject"]["holderCommitment"]
        == (record["verifiableCredential"]["credentialSubject"]["holderCommitment"])
    )
    again = anhui.post(
        f"/v1/recognition/applications/{pending[0]['id']}/decision",
        json={"decision": "refuse", "reason": "重复"},
        headers=officer,
    )
    assert again.status_code == 409
    # The holder's node asks Anhui (no sooner than 30 s after it last did) and keeps the answer.
    federation.clock.advance(seconds=31)
    listed = jiangsu.get("/v1/holder/recognition-applications", headers=holder).json()
    assert listed["unreachable"] == {}
    [followed] = listed["applications"]
    assert (followed["state"], followed["recognisedAs"]) == ("recognised", "ENG-ASSOCIATE_SENIOR")
    assert followed["recognitionCredential"] == credential
    # The recognition credential is Anhui's own: native there, Anhui's credential at Jiangsu.
    at_anhui = federation.verify_at(ANHUI, credential)
    assert at_anhui["verdict"] == "valid", at_anhui
    assert at_anhui["recognition"]["state"] == "native"
    assert federation.verify_at(JIANGSU, credential)["verdict"] == "valid"
    # Both ends audited it; the holder sees their application in their activity.
    activity = jiangsu.get("/v1/holder/audit", headers=holder).json()
    assert "recognition.apply" in [e["action"] for e in activity]


def test_an_application_is_refused_with_its_reason(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 51)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    applied = federation.clients[JIANGSU].post(
        "/v1/holder/recognition-applications",
        json={"credentialId": record["id"], "province": "34"},
        headers=holder,
    )
    assert applied.status_code == 201, applied.text
    officer = federation.staff(ANHUI, "officer")
    [incoming] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    no_reason = federation.clients[ANHUI].post(
        f"/v1/recognition/applications/{incoming['id']}/decision",
        json={"decision": "refuse"},
        headers=officer,
    )
    assert no_reason.status_code == 422
    # Without a policy rule, recognising needs the local type named.
    unnamed = federation.clients[ANHUI].post(
        f"/v1/recognition/applications/{incoming['id']}/decision",
        json={"decision": "recognise"},
        headers=officer,
    )
    assert unnamed.status_code == 422
    refused = federation.clients[ANHUI].post(
        f"/v1/recognition/applications/{incoming['id']}/decision",
        json={"decision": "refuse", "reason": "专业不对口"},
        headers=officer,
    )
    assert refused.status_code == 200, refused.text
    federation.clock.advance(seconds=31)
    [followed] = (
        federation.clients[JIANGSU]
        .get("/v1/holder/recognition-applications", headers=holder)
        .json()["applications"]
    )
    assert (followed["state"], followed["decisionReason"], followed["recognitionCredential"]) == (
        "refused",
        "专业不对口",
        None,
    )


def test_a_holder_applies_only_with_their_own_credential_in_force_to_another_province(
    federation: Federation,
) -> None:
    mine, theirs = federation.issue(JIANGSU, 52), federation.issue(JIANGSU, 53)
    holder = _holder_headers(federation, JIANGSU, mine["holderId"])
    jiangsu = federation.clients[JIANGSU]

    def apply(credential_id: str, province: str = "34") -> int:
        answer = jiangsu.post(
            "/v1/holder/recognition-applications",
            json={"credentialId": credential_id, "province": province},
            headers=holder,
        )
        return answer.status_code

    assert apply(theirs["id"]) == 404
    assert apply(mine["id"], "32") == 422
    jiangsu.post(
        f"/v1/credentials/{mine['id']}/suspension",
        json={"reasonCode": "under_investigation"},
        headers=federation.staff(JIANGSU, "officer"),
    ).raise_for_status()
    assert apply(mine["id"]) == 409
    officer = federation.staff(ANHUI, "officer")
    assert federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json() == []


def test_when_the_other_node_is_down_nothing_is_kept(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 54)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    federation.router.down.add(ANHUI)
    answer = federation.clients[JIANGSU].post(
        "/v1/holder/recognition-applications",
        json={"credentialId": record["id"], "province": "34"},
        headers=holder,
    )
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    federation.router.down.discard(ANHUI)
    listed = federation.clients[JIANGSU].get("/v1/holder/recognition-applications", headers=holder).json()
    assert listed["applications"] == []


def _jiangsu_asks_anhui(
    federation: Federation, path: str, purpose: str, body: dict[str, Any], **overrides: Any
) -> httpx.Response:
    """A node-authenticated request from Jiangsu to Anhui at ``path``, signed with
    Jiangsu's key (or as ``overrides`` say)."""
    from registry.federation import node_requests

    node = federation.node(JIANGSU)
    record, key = node.ring.signing_key(federation.clock())
    args: dict[str, Any] = {
        "purpose": purpose,
        "body": body,
        "caller": JIANGSU,
        "audience": ANHUI,
        "url": ANHUI + path,
        "kid": record.kid,
        "key": key,
        "now": federation.clock(),
    }
    args.update(overrides)
    token = node_requests.sign_request(**args)
    return federation.clients[ANHUI].post(
        path, content=token, headers={"Content-Type": "application/node-request+jwt"}
    )


def _forward(federation: Federation, body: dict[str, Any], **overrides: Any) -> httpx.Response:
    """A recognition.apply request from Jiangsu to Anhui, signed with Jiangsu's key
    (or as ``overrides`` say)."""
    path, purpose = "/federation/recognition-applications", overrides.pop("purpose", "recognition.apply")
    return _jiangsu_asks_anhui(federation, path, purpose, body, **overrides)


def test_a_forwarded_application_is_kept_once_however_often_it_is_sent(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 55)
    body = {
        "application": "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
        "credential": record["verifiableCredential"],
    }
    first = _forward(federation, body)
    assert first.status_code == 201, first.text
    replay = _forward(federation, body)
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    officer = federation.staff(ANHUI, "officer")
    assert len(federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()) == 1


def test_node_requests_that_are_not_jiangsu_s_for_this_use_are_refused(federation: Federation) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    record = federation.issue(JIANGSU, 56)
    body = {
        "application": "0a1b2c3d-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
        "credential": record["verifiableCredential"],
    }
    forged = _forward(federation, body, key=Ed25519PrivateKey.generate())
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
    assert _forward(federation, body, purpose="recognition.status").status_code == 401
    assert _forward(federation, body, audience=JIANGSU).status_code == 401
    assert _forward(federation, body, url=ANHUI + "/elsewhere").status_code == 401
    federation.clock.advance(seconds=400)
    stale = _forward(federation, body, now=federation.clock() - timedelta(seconds=400))
    assert stale.status_code == 401
    as_json = federation.clients[ANHUI].post("/federation/recognition-applications", json=body)
    assert as_json.status_code == 415
    # A credential of Anhui's own forwarded by Jiangsu is not Jiangsu's to forward.
    anhuis = federation.issue(ANHUI, 57)["verifiableCredential"]
    other = _forward(federation, {**body, "credential": anhuis})
    assert other.status_code == 422, other.text
    tampered = {**record["verifiableCredential"], "validFrom": "2020-01-01T00:00:00Z"}
    assert _forward(federation, {**body, "credential": tampered}).status_code == 422
    officer = federation.staff(ANHUI, "officer")
    assert federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json() == []


# --- look-ups of another province's certificate number (node-authenticated) ---------------


def _code(
    federation: Federation, record: dict[str, Any], single_use: bool = False
) -> tuple[str, dict[str, str]]:
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    made = federation.clients[JIANGSU].post(
        f"/v1/holder/credentials/{record['id']}/verification-codes",
        json={"validDays": 7, "singleUse": single_use},
        headers=holder,
    )
    assert made.status_code == 201, made.text
    code: str = made.json()["verificationCode"]
    return code, holder


def test_an_anhui_hr_client_looks_up_a_jiangsu_number_with_the_holder_s_code(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 60)
    code, holder = _code(federation, record, single_use=True)
    _publish(federation, ANHUI, [ENG_RULE])
    hr = federation.headers[f"{ANHUI}#hr"]
    asked = {"certificateNumber": record["certificateNumber"], "verificationCode": code}
    answer = federation.clients[ANHUI].post("/v1/verifications/lookup", json=asked, headers=hr)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["verdict"] == "valid", report["checks"]
    assert report["verifiableCredential"]["id"] == record["verifiableCredential"]["id"]
    assert "江苏省" in _check(report, "issuer")["reason"]
    assert report["recognition"]["message"] == "在安徽省认可为高级工程师（认可政策第1版）。"
    # The single-use code was used at Jiangsu: a second look-up finds nothing.
    again = federation.clients[ANHUI].post("/v1/verifications/lookup", json=asked, headers=hr)
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"
    # The holder sees, at Jiangsu, that Anhui's node looked it up for the HR client.
    events = federation.clients[JIANGSU].get("/v1/holder/audit", headers=holder).json()
    [looked] = [e for e in events if e["action"] == "credential.lookup"]
    assert looked["actor"] == f"node:{ANHUI}"
    assert looked["detail"]["requester"]
    # Anhui keeps its own record of its client's look-up.
    with federation.node(ANHUI).db.session(write=False) as session:
        from sqlmodel import select

        from registry.models import AuditEvent

        mine = session.exec(select(AuditEvent).where(AuditEvent.action == "credential.lookup")).all()
    assert [(e.actor.split(":")[0], json.loads(e.detail or "{}")["node"]) for e in mine] == [
        ("hr_client", JIANGSU)
    ]


def test_a_wrong_code_or_a_node_that_is_down_never_gives_a_credential(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 61)
    code, _ = _code(federation, record)
    hr = federation.headers[f"{ANHUI}#hr"]
    wrong = {"certificateNumber": record["certificateNumber"], "verificationCode": "AAAA-BBBB-CC"}
    assert (
        federation.clients[ANHUI].post("/v1/verifications/lookup", json=wrong, headers=hr).status_code == 404
    )
    federation.router.down.add(JIANGSU)
    right = {"certificateNumber": record["certificateNumber"], "verificationCode": code}
    down = federation.clients[ANHUI].post("/v1/verifications/lookup", json=right, headers=hr)
    assert down.status_code == 502
    assert down.headers["content-type"] == "application/problem+json"
    assert record["certificateNumber"] not in down.text or "verifiableCredential" not in down.text


def test_the_anhui_verification_page_looks_up_a_jiangsu_number(federation: Federation) -> None:
    from tests.test_web_pages import csrf_of

    record = federation.issue(JIANGSU, 62)
    code, _ = _code(federation, record)
    browser = TestClient(federation.clients[ANHUI].app, base_url=ANHUI)  # its cookies are Secure
    page = browser.get("/verify")
    answer = browser.post(
        "/verify/lookup",
        data={"csrf_token": csrf_of(page.text), "number": record["certificateNumber"], "code": code},
    )
    assert answer.status_code == 200
    assert 'data-verdict="valid"' in answer.text
    assert "持证人62" not in answer.text  # the page shows a looked-up name in part
    assert "安徽省尚未发布认可政策。" in answer.text


def test_the_look_up_endpoint_takes_only_node_requests(federation: Federation) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from registry.federation import node_requests

    record = federation.issue(JIANGSU, 63)
    code, _ = _code(federation, record)
    body = {"certificateNumber": record["certificateNumber"], "verificationCode": code}
    jiangsu = federation.clients[JIANGSU]
    assert jiangsu.post("/federation/lookups", json=body).status_code == 415
    node = federation.node(ANHUI)
    kid = node.ring.signing_key(federation.clock())[0].kid
    forged = node_requests.sign_request(
        purpose="credential.lookup",
        body=body,
        caller=ANHUI,
        audience=JIANGSU,
        url=JIANGSU + "/federation/lookups",
        kid=kid,
        key=Ed25519PrivateKey.generate(),
        now=federation.clock(),
    )
    refused = jiangsu.post(
        "/federation/lookups", content=forged, headers={"Content-Type": "application/node-request+jwt"}
    )
    assert refused.status_code == 401
    assert "verifiableCredential" not in refused.text


# --- what the review of recognition found (each failed before its fix) -----------------------


def test_an_enveloped_credential_is_not_kept_as_an_application(federation: Federation) -> None:
    """The outer object of an enveloped credential is nobody's word: a node could have
    wrapped its own valid VC-JWT in one naming someone else, which the receiving node
    would have kept, and recognised, as presented."""
    record = federation.issue(JIANGSU, 80)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    jwt = (
        federation.clients[JIANGSU]
        .get(f"/v1/holder/credentials/{record['id']}?format=vc-jwt", headers=holder)
        .text
    )
    wrapper = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["EnvelopedVerifiableCredential"],
        "id": f"data:application/vc+jwt,{jwt}",
        "credentialSubject": {"name": "冒名者", "certificateNumber": record["certificateNumber"]},
    }
    body = {"application": "1f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f", "credential": wrapper}
    refused = _forward(federation, body)
    assert refused.status_code == 422, refused.text
    officer = federation.staff(ANHUI, "officer")
    assert federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json() == []


def test_one_application_per_credential_and_province_at_each_end(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 81)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    ask = {"credentialId": record["id"], "province": "34"}
    first = federation.clients[JIANGSU].post("/v1/holder/recognition-applications", json=ask, headers=holder)
    assert first.status_code == 201, first.text
    second = federation.clients[JIANGSU].post("/v1/holder/recognition-applications", json=ask, headers=holder)
    assert second.status_code == 409
    assert second.json()["type"].endswith("/recognition-application-exists")
    # A node that forwards the same credential again under another id is refused too.
    other = {
        "application": "2f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
        "credential": record["verifiableCredential"],
    }
    assert _forward(federation, other).status_code == 409
    officer = federation.staff(ANHUI, "officer")
    assert len(federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()) == 1
    assert (
        len(
            federation.clients[JIANGSU]
            .get("/v1/holder/recognition-applications", headers=holder)
            .json()["applications"]
        )
        == 1
    )


def test_the_caller_is_named_as_its_trust_chain_names_it(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 82)
    body = {
        "application": "3f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
        "credential": record["verifiableCredential"],
    }
    kept = _forward(federation, body, caller=JIANGSU + "/")
    assert kept.status_code == 201, kept.text
    officer = federation.staff(ANHUI, "officer")
    [application] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    assert application["peerEntity"] == JIANGSU


def test_an_unknown_local_type_is_422_and_admins_read_the_applications(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 83)
    body = {
        "application": "4f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
        "credential": record["verifiableCredential"],
    }
    assert _forward(federation, body).status_code == 201
    admin = federation.staff(ANHUI, "admin")
    [application] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=admin).json()
    unknown = federation.clients[ANHUI].post(
        f"/v1/recognition/applications/{application['id']}/decision",
        json={"decision": "recognise", "recognisedAs": "ENG-NO-SUCH"},
        headers=federation.staff(ANHUI, "officer"),
    )
    assert unknown.status_code == 422, unknown.text


def test_a_policy_published_over_another_s_version_is_refused(federation: Federation) -> None:
    admin = federation.staff(ANHUI, "admin")
    rules = [ENG_RULE]
    first = federation.clients[ANHUI].put(
        "/v1/recognition/policy", json={"rules": rules, "baseVersion": 0}, headers=admin
    )
    assert first.status_code == 201
    stale = federation.clients[ANHUI].put(
        "/v1/recognition/policy", json={"rules": [], "baseVersion": 0}, headers=admin
    )
    assert stale.status_code == 409
    assert federation.clients[ANHUI].get("/v1/recognition/policy").json()["version"] == 1


# --- SD-JWT VCs of another province: their Token Status Lists ------------------------------


def test_a_jiangsu_sd_jwt_vc_is_valid_at_anhui_and_its_suspension_shows(federation: Federation) -> None:
    """draft-ietf-oauth-status-list §8.3: the verifier fetches the Status List Token the
    credential's ``status`` names, checks it is signed by the issuer (here: with a key
    of the member's history, through its trust chain) and reads the 2-bit entry."""
    record = federation.issue(JIANGSU, 90)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    sd_jwt = (
        federation.clients[JIANGSU]
        .get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder)
        .text
    )
    report = federation.verify_at(ANHUI, sd_jwt)
    assert report["verdict"] == "valid", report["checks"]
    assert _check(report, "status")["code"] == "status-clear"
    assert "江苏省" in _check(report, "status")["reason"]
    suspended = federation.clients[JIANGSU].post(
        f"/v1/credentials/{record['id']}/suspension",
        json={"reasonCode": "under_investigation"},
        headers=federation.staff(JIANGSU, "officer"),
    )
    assert suspended.status_code == 200, suspended.text
    federation.clock.advance(seconds=federation.node(ANHUI).settings.peer_status_max_age / 2 + 1)
    federation.refresh(ANHUI)
    after = federation.verify_at(ANHUI, sd_jwt)
    assert after["verdict"] == "invalid"
    assert _check(after, "status")["code"] == "status-suspended"


def test_a_jiangsu_sd_jwt_vc_with_a_stale_token_list_is_unknown(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 91)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    sd_jwt = (
        federation.clients[JIANGSU]
        .get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder)
        .text
    )
    assert federation.verify_at(ANHUI, sd_jwt)["verdict"] == "valid"
    federation.router.down.add(JIANGSU)
    federation.clock.advance(seconds=federation.node(ANHUI).settings.peer_status_max_age + 1)
    federation.refresh(ANHUI)
    report = federation.verify_at(ANHUI, sd_jwt)
    assert report["verdict"] == "unknown"
    assert _check(report, "status")["result"] == "unknown"


# --- disputes (异议): a refusal decided again ---------------------------------------------------


def _dispute(client: TestClient, application: str, statement: str, holder: dict[str, str]) -> httpx.Response:
    url = f"/v1/holder/recognition-applications/{application}/dispute"
    return client.post(url, json={"statement": statement}, headers=holder)


def test_a_holder_disputes_a_refusal_and_anhui_decides_again(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 95)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    jiangsu, anhui = federation.clients[JIANGSU], federation.clients[ANHUI]
    mine = jiangsu.post(
        "/v1/holder/recognition-applications",
        json={"credentialId": record["id"], "province": "34"},
        headers=holder,
    ).json()
    early = jiangsu.post(
        f"/v1/holder/recognition-applications/{mine['id']}/dispute",
        json={"statement": "太早"},
        headers=holder,
    )
    assert early.status_code == 409  # nothing refused yet
    officer = federation.staff(ANHUI, "officer")
    [incoming] = anhui.get("/v1/recognition/applications", headers=officer).json()
    refused = anhui.post(
        f"/v1/recognition/applications/{incoming['id']}/decision",
        json={"decision": "refuse", "reason": "专业不对口"},
        headers=officer,
    )
    assert refused.status_code == 200
    federation.clock.advance(seconds=31)
    jiangsu.get("/v1/holder/recognition-applications", headers=holder)  # learns the refusal
    disputed = _dispute(jiangsu, mine["id"], "本人专业为电气工程，与工程系列对应，请复核。", holder)
    assert disputed.status_code == 200, disputed.text
    assert disputed.json()["state"] == "disputed"
    # Anhui has it waiting again, with the dispute beside the first refusal.
    [waiting] = anhui.get("/v1/recognition/applications?state=disputed", headers=officer).json()
    assert (waiting["decisionReason"], waiting["disputeStatement"]) == (
        "专业不对口",
        "本人专业为电气工程，与工程系列对应，请复核。",
    )
    twice = jiangsu.post(
        f"/v1/holder/recognition-applications/{mine['id']}/dispute",
        json={"statement": "再次"},
        headers=holder,
    )
    assert twice.json()["state"] == "disputed"  # the same dispute, not a second one
    recognised = anhui.post(
        f"/v1/recognition/applications/{waiting['id']}/decision",
        json={"decision": "recognise", "recognisedAs": "ENG-ASSOCIATE_SENIOR", "reason": "复核后认可"},
        headers=officer,
    )
    assert recognised.status_code == 200, recognised.text
    federation.clock.advance(seconds=31)
    [followed] = jiangsu.get("/v1/holder/recognition-applications", headers=holder).json()["applications"]
    assert (followed["state"], followed["decisionReason"]) == ("recognised", "复核后认可")
    assert followed["recognitionCredential"] is not None
    # Decided after a dispute: no further dispute.
    again = jiangsu.post(
        f"/v1/holder/recognition-applications/{mine['id']}/dispute",
        json={"statement": "又一次"},
        headers=holder,
    )
    assert again.status_code == 409
    activity = [e["action"] for e in jiangsu.get("/v1/holder/audit", headers=holder).json()]
    assert "recognition.dispute" in activity
    assert "recognition.decided" in activity


# --- withdrawals (撤回): an application the holder no longer wants decided ---------------------


def _apply(federation: Federation, seed: int) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """A Jiangsu credential put to Anhui by its holder: (the record, the holder's headers,
    the application as Jiangsu answered it)."""
    record = federation.issue(JIANGSU, seed)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    answer = federation.clients[JIANGSU].post(
        "/v1/holder/recognition-applications",
        json={"credentialId": record["id"], "province": "34"},
        headers=holder,
    )
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["state"] == "pending"
    return record, holder, answer.json()


def _withdraw(federation: Federation, application: str, holder: dict[str, str]) -> httpx.Response:
    url = f"/v1/holder/recognition-applications/{application}/withdrawal"
    return federation.clients[JIANGSU].post(url, headers=holder)


def test_a_holder_withdraws_a_pending_application_and_anhui_can_no_longer_decide_it(
    federation: Federation,
) -> None:
    record, holder, mine = _apply(federation, 110)
    jiangsu, anhui = federation.clients[JIANGSU], federation.clients[ANHUI]
    officer = federation.staff(ANHUI, "officer")
    [incoming] = anhui.get("/v1/recognition/applications?state=pending", headers=officer).json()
    withdrawn = _withdraw(federation, mine["id"], holder)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state"] == "withdrawn"
    assert withdrawn.json()["withdrawnAt"] is not None
    # Anhui keeps it as withdrawn, out of its officers' queue and its decided list.
    assert anhui.get("/v1/recognition/applications?state=pending", headers=officer).json() == []
    [kept] = anhui.get("/v1/recognition/applications?state=withdrawn", headers=officer).json()
    assert (kept["id"], kept["withdrawnAt"] is not None) == (incoming["id"], True)
    late = anhui.post(
        f"/v1/recognition/applications/{incoming['id']}/decision",
        json={"decision": "recognise", "recognisedAs": "ENG-ASSOCIATE_SENIOR"},
        headers=officer,
    )
    assert late.status_code == 409
    again = _withdraw(federation, mine["id"], holder)
    assert (again.status_code, again.json()["state"]) == (200, "withdrawn")
    # The credential can be put to Anhui again: a new application, waiting.
    renewed = jiangsu.post(
        "/v1/holder/recognition-applications",
        json={"credentialId": record["id"], "province": "34"},
        headers=holder,
    )
    assert renewed.status_code in (200, 201), renewed.text
    assert renewed.json()["id"] != mine["id"]
    assert renewed.json()["state"] == "pending"
    activity = [e["action"] for e in jiangsu.get("/v1/holder/audit", headers=holder).json()]
    assert "recognition.withdraw" in activity
    # Withdrawn is final: it cannot be disputed either.
    assert _dispute(jiangsu, mine["id"], "改主意了", holder).status_code == 409


def test_a_withdrawal_arriving_after_anhui_decided_keeps_the_decision(federation: Federation) -> None:
    _, holder, mine = _apply(federation, 111)
    anhui = federation.clients[ANHUI]
    officer = federation.staff(ANHUI, "officer")
    [incoming] = anhui.get("/v1/recognition/applications", headers=officer).json()
    refused = anhui.post(
        f"/v1/recognition/applications/{incoming['id']}/decision",
        json={"decision": "refuse", "reason": "专业不对口"},
        headers=officer,
    )
    assert refused.status_code == 200
    # Jiangsu has not asked since: its row still says pending when the holder withdraws.
    late = _withdraw(federation, mine["id"], holder)
    assert late.status_code == 409, late.text
    assert "refused" in late.json()["detail"]
    [now] = (
        federation.clients[JIANGSU]
        .get("/v1/holder/recognition-applications", headers=holder)
        .json()["applications"]
    )
    assert (now["state"], now["decisionReason"], now["withdrawnAt"]) == ("refused", "专业不对口", None)
    [there] = anhui.get("/v1/recognition/applications?state=refused", headers=officer).json()
    assert there["withdrawnAt"] is None
    assert _withdraw(federation, mine["id"], holder).status_code == 409  # decided: nothing to withdraw


def test_a_withdrawal_whose_answer_is_lost_is_sent_again_when_looked_at(federation: Federation) -> None:
    _, holder, mine = _apply(federation, 112)
    officer = federation.staff(ANHUI, "officer")
    federation.router.lose_answers.add(ANHUI)
    lost = _withdraw(federation, mine["id"], holder)
    assert lost.status_code == 502, lost.text
    [there] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    assert there["state"] == "withdrawn"  # taken there; Jiangsu could not know
    federation.router.lose_answers.discard(ANHUI)
    [kept] = (
        federation.clients[JIANGSU]
        .get("/v1/holder/recognition-applications", headers=holder)
        .json()["applications"]
    )
    assert kept["state"] == "withdrawn"  # sent again as the holder looked, and confirmed


def test_an_unconfirmed_withdrawal_is_sent_again_at_most_every_30_seconds(federation: Federation) -> None:
    """However often the holder looks (a page reloaded in a loop), their node sends an
    unconfirmed row to the other province at most once per 30 seconds."""
    _, holder, mine = _apply(federation, 115)
    federation.router.lose_answers.add(ANHUI)
    assert _withdraw(federation, mine["id"], holder).status_code == 502  # the holder's own try

    def sent() -> int:
        return sum(1 for url in federation.router.requests if url.endswith("/withdrawal"))

    before = sent()
    for _ in range(5):
        listed = federation.clients[JIANGSU].get("/v1/holder/recognition-applications", headers=holder).json()
        assert listed["applications"][0]["state"] == "withdrawing"
        assert mine["id"] in listed["unreachable"]  # why it is not confirmed yet
    first_look = sent() - before
    assert 1 <= first_look <= 2  # one resend (and its one retry of a lost answer), not five
    federation.clock.advance(seconds=31)
    federation.router.lose_answers.discard(ANHUI)
    [kept] = (
        federation.clients[JIANGSU]
        .get("/v1/holder/recognition-applications", headers=holder)
        .json()["applications"]
    )
    assert kept["state"] == "withdrawn"
    assert sent() - before == first_look + 1


def test_a_withdrawal_anhui_never_received_leaves_the_application_waiting(federation: Federation) -> None:
    _, holder, mine = _apply(federation, 113)
    federation.router.down.add(ANHUI)
    refused = _withdraw(federation, mine["id"], holder)
    assert refused.status_code == 502, refused.text
    federation.router.down.discard(ANHUI)
    [kept] = (
        federation.clients[JIANGSU]
        .get("/v1/holder/recognition-applications", headers=holder)
        .json()["applications"]
    )
    assert kept["state"] == "pending"
    officer = federation.staff(ANHUI, "officer")
    [there] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    assert there["state"] == "pending"


def test_only_the_forwarding_node_can_withdraw_an_application(federation: Federation) -> None:
    """recognition.withdraw for an application Anhui does not have from the caller: 404,
    nothing changes; with another purpose than the path's: 401."""
    _apply(federation, 114)

    def withdraw(application: str, purpose: str = "recognition.withdraw") -> httpx.Response:
        path = f"/federation/recognition-applications/{application}/withdrawal"
        return _jiangsu_asks_anhui(federation, path, purpose, {})

    assert withdraw("00000000-0000-4000-8000-000000000000").status_code == 404
    officer = federation.staff(ANHUI, "officer")
    [incoming] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    assert withdraw(incoming["id"], purpose="recognition.dispute").status_code == 401
    [still] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    assert still["state"] == "pending"
    assert withdraw(incoming["id"]).json()["state"] == "withdrawn"


def test_a_refusal_upheld_after_a_dispute_cannot_be_disputed_again(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 96)
    body = {
        "application": "6a1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
        "credential": record["verifiableCredential"],
    }
    assert _forward(federation, body).status_code == 201
    officer = federation.staff(ANHUI, "officer")
    [incoming] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    decide = f"/v1/recognition/applications/{incoming['id']}/decision"
    federation.clients[ANHUI].post(decide, json={"decision": "refuse", "reason": "一"}, headers=officer)
    path = f"/federation/recognition-applications/{incoming['id']}/dispute"

    def dispute(statement: str) -> httpx.Response:
        return _jiangsu_asks_anhui(federation, path, "recognition.dispute", {"statement": statement})

    assert dispute("请复核").json()["state"] == "disputed"
    federation.clients[ANHUI].post(
        decide, json={"decision": "refuse", "reason": "复核后维持"}, headers=officer
    )
    # Sent again, the dispute is the same one: answered as the application now is (refused
    # for good), never taken a second time.
    again = dispute("再请复核")
    assert (again.status_code, again.json()["state"]) == (200, "refused")
    assert again.json()["disputedAt"] is not None
    [kept] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    assert (kept["state"], kept["disputeStatement"]) == ("refused", "请复核")
    assert dispute("").status_code == 422


def test_a_peer_that_asks_too_often_waits(federation: Federation) -> None:
    """A member cannot try verification codes (or fill the applications table) without
    bound: its node-authenticated requests are counted per peer (peer_rate_per_minute)."""
    record = federation.issue(JIANGSU, 97)
    jiangsu = federation.node(JIANGSU)
    jiangsu.settings = jiangsu.settings.model_copy(update={"peer_rate_per_minute": 2})
    hr = federation.headers[f"{ANHUI}#hr"]
    wrong = {"certificateNumber": record["certificateNumber"], "verificationCode": "AAAA-BBBB-CC"}
    answers = [
        federation.clients[ANHUI].post("/v1/verifications/lookup", json=wrong, headers=hr).status_code
        for _ in range(3)
    ]
    # Anhui's third look-up finds Jiangsu refusing for now: never a credential.
    assert answers == [404, 404, 502]
    with federation.node(JIANGSU).db.session(write=False) as session:
        from sqlmodel import select

        from registry.models import AuditEvent

        tried = session.exec(select(AuditEvent).where(AuditEvent.action == "credential.lookup")).all()
    assert tried == []  # a wrong code is never a look-up of personal data


# --- the other provinces' published policies, read by the holder's node ----------------------


def test_a_holder_sees_what_anhui_s_signed_policy_says_of_their_credential(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 98)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    url = f"/v1/holder/credentials/{record['id']}/recognition"
    [before] = federation.clients[JIANGSU].get(url, headers=holder).json()
    assert (before["province"], before["state"]) == ("34", "no-policy")
    _publish(federation, ANHUI, [ENG_RULE])
    federation.node(JIANGSU).directory._policies.clear()  # read again at once (else after 5 minutes)
    [after] = federation.clients[JIANGSU].get(url, headers=holder).json()
    assert (after["state"], after["policyVersion"]) == ("recognised", 1)
    assert after["message"] == "在安徽省认可为高级工程师（认可政策第1版）。"
    english = federation.clients[JIANGSU].get(url, headers={**holder, "Accept-Language": "en"}).json()
    assert english[0]["message"] == "Recognised in Anhui as Senior engineer under recognition policy v1."
    # Anhui down, nothing held: unknown, and why; never "recognised".
    federation.node(JIANGSU).directory._policies.clear()
    federation.router.down.add(ANHUI)
    [down] = federation.clients[JIANGSU].get(url, headers=holder).json()
    assert down["state"] == "unknown"
    assert "暂时无法读取安徽省的认可政策" in down["message"]
    other = federation.issue(JIANGSU, 99)
    assert (
        federation.clients[JIANGSU]
        .get(f"/v1/holder/credentials/{other['id']}/recognition", headers=holder)
        .status_code
        == 404
    )


def test_a_member_s_policy_is_not_used_past_its_signed_exp(federation: Federation) -> None:
    """A member's signed policy is kept up to 5 minutes, and never past its exp (RFC 7519
    section 4.1.4): once the exp has passed, the next answer reads the policy again. (It
    had been kept the full 5 minutes from when it was read, up to 5 minutes past exp.)"""
    record = federation.issue(JIANGSU, 96)
    url = f"/v1/holder/credentials/{record['id']}/recognition"
    _publish(federation, ANHUI, [ENG_RULE])
    federation.node(JIANGSU).directory._policies.clear()
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    [first] = federation.clients[JIANGSU].get(url, headers=holder).json()
    assert (first["state"], first["policyVersion"]) == ("recognised", 1)
    _publish(federation, ANHUI, [])  # version 2 recognises nothing
    [held] = federation.clients[JIANGSU].get(url, headers=holder).json()
    assert (held["state"], held["policyVersion"]) == ("recognised", 1)  # within 5 minutes and exp
    federation.clock.advance(seconds=recognition.POLICY_LIFETIME + 1)  # past version 1's exp
    holder = _fresh_token(federation, JIANGSU, record["holderId"])  # the first one has expired
    [after] = federation.clients[JIANGSU].get(url, headers=holder).json()
    assert (after["state"], after["policyVersion"]) == ("not-recognised", 2), after


def _anhui_serves_policy(federation: Federation, token: str) -> None:
    """Anhui's node as the holder's node reaches it, answering ``token`` as its signed
    policy (everything else as it is)."""
    from starlette.responses import Response as Answer

    from registry.federation import recognition

    real = federation.router.apps[ANHUI]

    async def serving(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == recognition.POLICY_PATH:
            await Answer(token, media_type=recognition.POLICY_MEDIA_TYPE)(scope, receive, send)
        else:
            await real(scope, receive, send)

    federation.router.apps[ANHUI] = serving


def test_a_policy_signed_with_a_key_the_member_never_had_is_not_read(federation: Federation) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from registry.federation import recognition
    from registry.signing.jose import sign_jws

    anhui = federation.node(ANHUI)
    rules = (recognition.Rule.of(recognition.RuleIn.model_validate(ENG_RULE)),)
    claims = recognition.policy_claims(
        recognition.Policy(1, federation.clock(), rules), anhui.did, ANHUI, federation.clock()
    )
    kid = anhui.ring.signing_key(federation.clock())[0].kid
    forged = sign_jws(claims, Ed25519PrivateKey.generate(), f"{anhui.did}#{kid}", recognition.POLICY_TYP)
    _anhui_serves_policy(federation, forged)
    record = federation.issue(JIANGSU, 100)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    [answer] = (
        federation.clients[JIANGSU]
        .get(f"/v1/holder/credentials/{record['id']}/recognition", headers=holder)
        .json()
    )
    assert answer["state"] == "unknown"
    assert answer["policyVersion"] is None


# --- answers lost on the way back: kept at both ends, sent again under the same id ------------


def _refuse_all(federation: Federation, reason: str = "专业不对口") -> None:
    officer = federation.staff(ANHUI, "officer")
    for incoming in (
        federation.clients[ANHUI].get("/v1/recognition/applications?state=pending", headers=officer).json()
    ):
        federation.clients[ANHUI].post(
            f"/v1/recognition/applications/{incoming['id']}/decision",
            json={"decision": "refuse", "reason": reason},
            headers=officer,
        ).raise_for_status()


def test_an_application_whose_answer_was_lost_is_kept_and_sent_again(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 101)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    ask = {"credentialId": record["id"], "province": "34"}
    federation.verify_at(JIANGSU, federation.issue(ANHUI, 104)["verifiableCredential"])  # Anhui's chain held
    federation.router.lose_answers.add(ANHUI)
    lost = federation.clients[JIANGSU].post("/v1/holder/recognition-applications", json=ask, headers=holder)
    assert lost.status_code == 502
    assert "sent again" in lost.json()["detail"]
    federation.router.lose_answers.discard(ANHUI)
    officer = federation.staff(ANHUI, "officer")
    assert len(federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()) == 1
    # The holder looks: their node sends it again under the same id, and Anhui answers the one it kept.
    [mine] = (
        federation.clients[JIANGSU]
        .get("/v1/holder/recognition-applications", headers=holder)
        .json()["applications"]
    )
    assert mine["state"] == "pending"
    assert len(federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()) == 1


def test_a_dispute_whose_answer_was_lost_is_kept_and_sent_again(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 102)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    jiangsu = federation.clients[JIANGSU]
    mine = jiangsu.post(
        "/v1/holder/recognition-applications",
        json={"credentialId": record["id"], "province": "34"},
        headers=holder,
    ).json()
    _refuse_all(federation)
    federation.clock.advance(seconds=31)
    jiangsu.get("/v1/holder/recognition-applications", headers=holder)
    federation.router.lose_answers.add(ANHUI)
    lost = _dispute(jiangsu, mine["id"], "请复核", holder)
    assert lost.status_code == 502
    federation.router.lose_answers.discard(ANHUI)
    [kept] = jiangsu.get("/v1/holder/recognition-applications", headers=holder).json()["applications"]
    assert kept["state"] == "disputed"
    officer = federation.staff(ANHUI, "officer")
    [waiting] = (
        federation.clients[ANHUI].get("/v1/recognition/applications?state=disputed", headers=officer).json()
    )
    assert waiting["disputeStatement"] == "请复核"


def test_a_refusal_cannot_be_disputed_while_a_new_application_waits(federation: Federation) -> None:
    """Else the credential could be recognised twice (two recognition credentials)."""
    record = federation.issue(JIANGSU, 103)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    jiangsu = federation.clients[JIANGSU]
    ask = {"credentialId": record["id"], "province": "34"}
    first = jiangsu.post("/v1/holder/recognition-applications", json=ask, headers=holder).json()
    _refuse_all(federation)
    federation.clock.advance(seconds=31)
    jiangsu.get("/v1/holder/recognition-applications", headers=holder)
    second = jiangsu.post("/v1/holder/recognition-applications", json=ask, headers=holder)
    assert second.status_code == 201, second.text
    refused = _dispute(jiangsu, first["id"], "请复核", holder)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/recognition-application-exists")


def test_a_member_s_credential_naming_another_node_s_list_is_unknown_there(federation: Federation) -> None:
    """A list answers only for its own issuer's credentials: a Jiangsu credential that
    names Anhui's revocation list (where that index may be clear) is never "clear" at
    Anhui (or anywhere), whatever the bit says."""
    from registry.signing.data_integrity import add_proof

    record = federation.issue(JIANGSU, 105)
    document = {k: v for k, v in record["verifiableCredential"].items() if k != "proof"}
    entries = document["credentialStatus"]
    anhui_list = f"{ANHUI}/status/revocation/1"
    document["credentialStatus"] = [
        {**e, "statusListCredential": anhui_list} if e["statusPurpose"] == "revocation" else e
        for e in entries
    ]
    jiangsu = federation.node(JIANGSU)
    record_key, key = jiangsu.ring.signing_key(federation.clock())
    forged = add_proof(document, key, f"{jiangsu.did}#{record_key.kid}", federation.clock())
    report = federation.verify_at(ANHUI, forged)
    assert _check(report, "status")["result"] == "unknown", _check(report, "status")
    assert report["verdict"] == "unknown"


def test_a_look_up_whose_answer_was_lost_is_sent_again_and_uses_the_code_once(federation: Federation) -> None:
    """The issuing node keeps its answer per request (caller, jti) until the request
    expires: the asking node sends the same signed request again once, and the
    single-use code is used, and the look-up recorded, once."""
    record = federation.issue(JIANGSU, 106)
    code, holder = _code(federation, record, single_use=True)
    federation.verify_at(ANHUI, record["verifiableCredential"])  # Jiangsu's chain held at Anhui
    federation.router.lose_next_answer.add(JIANGSU)
    hr = federation.headers[f"{ANHUI}#hr"]
    asked = {"certificateNumber": record["certificateNumber"], "verificationCode": code}
    answer = federation.clients[ANHUI].post("/v1/verifications/lookup", json=asked, headers=hr)
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "valid"
    events = federation.clients[JIANGSU].get("/v1/holder/audit", headers=holder).json()
    assert [e["action"] for e in events].count("credential.lookup") == 1


def test_a_resend_is_answered_with_what_was_kept_whatever_changed_since(federation: Federation) -> None:
    """Third review: a resend is not a new request. An application sent again after its
    credential was suspended is the one kept (not refused and dropped here while kept
    there); a dispute sent again after the officers decided gets the decision."""
    record = federation.issue(JIANGSU, 107)
    holder = _holder_headers(federation, JIANGSU, record["holderId"])
    jiangsu = federation.clients[JIANGSU]
    federation.verify_at(JIANGSU, federation.issue(ANHUI, 108)["verifiableCredential"])  # Anhui's chain held
    federation.router.lose_answers.add(ANHUI)
    ask = {"credentialId": record["id"], "province": "34"}
    assert jiangsu.post("/v1/holder/recognition-applications", json=ask, headers=holder).status_code == 502
    federation.router.lose_answers.discard(ANHUI)
    jiangsu.post(
        f"/v1/credentials/{record['id']}/suspension",
        json={"reasonCode": "under_investigation"},
        headers=federation.staff(JIANGSU, "officer"),
    ).raise_for_status()
    [mine] = jiangsu.get("/v1/holder/recognition-applications", headers=holder).json()["applications"]
    assert mine["state"] == "pending"  # the one Anhui kept, not dropped
    # Refused, disputed with the answer lost, then recognised: the resend brings the decision.
    _refuse_all(federation)
    federation.clock.advance(seconds=31)
    jiangsu.get("/v1/holder/recognition-applications", headers=holder)
    federation.router.lose_answers.add(ANHUI)
    assert _dispute(jiangsu, mine["id"], "请复核", holder).status_code == 502
    federation.router.lose_answers.discard(ANHUI)
    officer = federation.staff(ANHUI, "officer")
    [waiting] = (
        federation.clients[ANHUI].get("/v1/recognition/applications?state=disputed", headers=officer).json()
    )
    federation.clients[ANHUI].post(
        f"/v1/recognition/applications/{waiting['id']}/decision",
        json={"decision": "recognise", "recognisedAs": "ENG-ASSOCIATE_SENIOR"},
        headers=officer,
    ).raise_for_status()
    [followed] = jiangsu.get("/v1/holder/recognition-applications", headers=holder).json()["applications"]
    assert followed["state"] == "recognised"
    assert followed["recognitionCredential"] is not None


@pytest.mark.parametrize(
    "shift", [{"iat": 3 * 86400, "exp": 3 * 86400 + 3600}, {"iat": 0, "exp": 10 * 365 * 86400}]
)
def test_a_member_s_policy_signed_for_the_future_or_for_years_is_not_read(
    federation: Federation, shift: dict[str, int]
) -> None:

    from registry.federation import recognition
    from registry.signing.jose import sign_jws

    anhui = federation.node(ANHUI)
    rules = (recognition.Rule.of(recognition.RuleIn.model_validate(ENG_RULE)),)
    policy = recognition.Policy(7, federation.clock(), rules)
    claims = recognition.policy_claims(policy, anhui.did, ANHUI, federation.clock())
    now = claims["iat"]
    claims["iat"], claims["exp"] = now + shift["iat"], now + shift["exp"]
    record, key = anhui.ring.signing_key(federation.clock())  # the member's own key
    signed = sign_jws(claims, key, f"{anhui.did}#{record.kid}", recognition.POLICY_TYP)
    _anhui_serves_policy(federation, signed)
    credential = federation.issue(JIANGSU, 109)
    holder = _holder_headers(federation, JIANGSU, credential["holderId"])
    [answer] = (
        federation.clients[JIANGSU]
        .get(f"/v1/holder/credentials/{credential['id']}/recognition", headers=holder)
        .json()
    )
    assert (answer["state"], answer["policyVersion"]) == ("unknown", None)


def test_a_credential_revoked_since_it_arrived_is_not_recognised(federation: Federation) -> None:
    """The original is verified again when an officer recognises it: a sanction imposed
    since the application arrived (科研失信) stops its recognition (409, nothing issued);
    it can still be refused."""
    record = federation.issue(JIANGSU, 110)
    body = {
        "application": "7a1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
        "credential": record["verifiableCredential"],
    }
    assert _forward(federation, body).status_code == 201
    federation.clients[JIANGSU].post(
        f"/v1/credentials/{record['id']}/revocation",
        json={"reasonCode": "research_misconduct"},
        headers=federation.staff(JIANGSU, "officer"),
    ).raise_for_status()
    federation.clock.advance(seconds=federation.node(ANHUI).settings.peer_status_max_age / 2 + 1)
    federation.refresh(ANHUI)
    officer = federation.staff(ANHUI, "officer")
    [incoming] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    decide = f"/v1/recognition/applications/{incoming['id']}/decision"
    stopped = federation.clients[ANHUI].post(
        decide, json={"decision": "recognise", "recognisedAs": "ENG-ASSOCIATE_SENIOR"}, headers=officer
    )
    assert stopped.status_code == 409, stopped.text
    assert "revoked" in stopped.json()["detail"]
    assert stopped.json()["type"].endswith("/credential-no-longer-valid")
    [still] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    assert still["state"] == "pending"
    refused = federation.clients[ANHUI].post(
        decide, json={"decision": "refuse", "reason": "已因科研失信撤销"}, headers=officer
    )
    assert refused.status_code == 200
