"""Answers a person can read (issue 9): verification reports with a stable code and a
message per check in the language asked for (zh-CN by default, English on request),
a summary of an authentic credential (title, series, level, specialty, award date,
committee, issuing department, status and its reason by label), and a holder's audit
that names who looked (the HR client, an anonymous VC API verification)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from registry import audit, i18n, verifier
from registry.auth import Principal
from registry.credentials.status import REASON_LABELS
from registry.credentials.verification import MESSAGES, VALUE_MESSAGES
from tests.conftest import Actors
from tests.test_verification import CHECK_NAMES, as_jwt, change_status, issue, lookup, make_code, tampered_jwt

KEBAB = re.compile(r"^[a-z]+(-[a-z]+)+$")
HR_NAME = "上海交通大学人力资源处"


def hr(actors: Actors, name: str = HR_NAME) -> dict[str, str]:
    from registry.accounts import create_hr_client

    node = actors.node
    with node.db.session() as session:
        _, key = create_hr_client(
            session, Principal("cli", "tests", "admin"), name, ["verify", "lookup"], 10_000, node.clock()
        )
    return {"Authorization": f"Bearer {key}"}


def verify(
    client: TestClient, headers: dict[str, str], credential: Any, language: str | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    extra = {"Accept-Language": language} if language is not None else {}
    response = client.post("/v1/verifications", json={"credential": credential}, headers={**headers, **extra})
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report, dict(response.headers)


def check(report: dict[str, Any], name: str) -> dict[str, str]:
    found: dict[str, str] = next(c for c in report["checks"] if c["check"] == name)
    return found


def assert_coded(report: dict[str, Any]) -> None:
    assert [c["check"] for c in report["checks"]] == CHECK_NAMES
    for c in report["checks"]:
        assert KEBAB.match(c["code"]), c
        assert c["code"] in MESSAGES, c
        assert c["message"], c
        assert c["reason"], c  # the English reason stays for existing clients


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# --- reports ---


def test_a_report_is_in_chinese_by_default(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    report, headers = verify(client, hr(actors), record["verifiableCredential"])
    assert headers["content-language"] == "zh-CN"
    assert "accept-language" in headers["vary"].lower()
    assert report["verdict"] == "valid"
    assert_coded(report)
    assert all(has_chinese(c["message"]) for c in report["checks"]), report["checks"]
    assert check(report, "proof")["code"] == "proof-verified"
    assert check(report, "issuer")["message"] == "由本节点所属部门江苏省人力资源和社会保障厅签发。"
    assert check(report, "status") | {"reason": ""} == {
        "check": "status",
        "result": "pass",
        "reason": "",
        "code": "status-clear",
        "message": "未被撤销，也未被暂停。",
    }
    assert report["summary"] == {
        "kind": "职称",
        "title": "高级工程师",
        "series": "工程技术",
        "level": "副高级",
        "specialty": "电气工程及其自动化",
        "awardedOn": "2026年11月20日",
        "evaluationCommittee": "江苏省工程技术研究系列高级职称评审委员会",
        "issuedBy": "江苏省人力资源和社会保障厅",
        "holderName": "持证人1",
        "certificateNumber": record["certificateNumber"],
        "status": "正常",
        "statusReason": None,
    }


def test_a_report_is_in_english_when_asked(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    report, headers = verify(client, hr(actors), record["verifiableCredential"], "en-GB,en;q=0.9,zh;q=0.5")
    assert headers["content-language"] == "en"
    assert_coded(report)
    assert not any(has_chinese(c["message"]) for c in report["checks"]), report["checks"]
    assert check(report, "status")["message"] == "Neither revoked nor suspended."
    summary = report["summary"]
    assert summary["kind"] == "professional title"
    assert summary["title"] == "Senior engineer"
    assert summary["series"] == "Engineering"
    assert summary["level"] == "Associate senior"
    assert summary["awardedOn"] == "2026-11-20"
    assert summary["issuedBy"] == "Jiangsu Provincial Department of Human Resources and Social Security"
    assert summary["status"] == "in force"


def test_a_revoked_credential_shows_its_reason_by_label(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    change_status(client, officer, record["id"], "revocation", "research_misconduct")
    headers = hr(actors)
    report, _ = verify(client, headers, record["verifiableCredential"])
    assert report["verdict"] == "invalid"
    status = check(report, "status")
    assert (status["code"], status["message"]) == ("status-revoked", "已撤销：科研失信。")
    assert "research_misconduct" in status["reason"]
    assert report["summary"]["status"] == "已撤销"
    assert report["summary"]["statusReason"] == "科研失信"
    english, _ = verify(client, headers, record["verifiableCredential"], "en")
    assert check(english, "status")["message"] == "Revoked: Research misconduct (integrity sanction)."
    assert english["summary"]["statusReason"] == "Research misconduct (integrity sanction)"


def test_a_suspended_credential_shows_its_reason_by_label(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    change_status(client, officer, record["id"], "suspension", "under_investigation")
    report, _ = verify(client, hr(actors), record["verifiableCredential"])
    assert check(report, "status")["code"] == "status-suspended"
    assert (report["summary"]["status"], report["summary"]["statusReason"]) == ("已暂停", "调查中")


def test_a_tampered_credential_gets_no_summary(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer())
    token = tampered_jwt(as_jwt(client, actors, record))
    report, _ = verify(client, hr(actors), token)
    assert report["verdict"] == "invalid"
    assert report["summary"] is None
    assert report["credential"] is None
    assert_coded(report)
    proof = check(report, "proof")
    assert (proof["code"], proof["message"]) == (
        "proof-signature-mismatch",
        "签名与内容不符：该凭证已被篡改，或并非由其签发方签名。",
    )
    assert {c["code"] for c in report["checks"][1:]} == {"not-checked-unauthentic"}
    assert "李四" not in json.dumps(report, ensure_ascii=False)


def test_an_unreadable_credential_is_coded(client: TestClient, actors: Actors) -> None:
    response = client.post(
        "/v1/verifications",
        content=b"not a credential",
        headers={**hr(actors), "Content-Type": "application/vc+jwt", "Accept-Language": "en"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert_coded(report)
    assert check(report, "proof")["code"] == "proof-malformed"
    assert check(report, "schema")["message"] == "Not checked: the credential could not be read."
    assert report["summary"] is None


def test_batches_uploads_and_look_ups_answer_in_the_language_asked(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    record = issue(client, officer, seed=1)
    revoked = issue(client, officer, seed=2)
    change_status(client, officer, revoked["id"], "revocation", "issued_in_error")
    headers = hr(actors)
    batch = client.post(
        "/v1/verifications/batch",
        json={"credentials": [record["verifiableCredential"], revoked["verifiableCredential"]]},
        headers={**headers, "Accept-Language": "en"},
    )
    assert batch.status_code == 200, batch.text
    assert batch.headers["content-language"] == "en"
    first, second = batch.json()["results"]
    assert first["summary"]["title"] == "Senior engineer"
    assert second["summary"]["statusReason"] == "Issued in error"
    assert all(KEBAB.match(c["code"]) for r in (first, second) for c in r["checks"])

    upload = client.post(
        "/v1/verifications",
        files={"file": ("credential.vc.json", json.dumps(record["verifiableCredential"]), "application/vc")},
        headers=headers,
    )
    assert upload.status_code == 200, upload.text
    assert upload.headers["content-language"] == "zh-CN"
    assert upload.json()["summary"]["issuedBy"] == "江苏省人力资源和社会保障厅"

    code = make_code(client, actors.holder(record["holderId"]), record["id"])
    found = lookup(client, headers, record["certificateNumber"], code)
    assert found.status_code == 200, found.text
    assert found.headers["content-language"] == "zh-CN"
    assert found.json()["summary"]["title"] == "高级工程师"
    assert check(found.json(), "status")["code"] == "status-clear"


# --- the holder's audit ---


def test_the_holder_s_audit_names_the_hr_client_and_anonymous_verifications(
    client: TestClient, actors: Actors
) -> None:
    record = issue(client, actors.officer())
    holder = actors.holder(record["holderId"])
    verify(client, hr(actors), record["verifiableCredential"])
    public = client.post("/credentials/verify", json={"verifiableCredential": record["verifiableCredential"]})
    assert public.status_code == 200, public.text
    # The W3C VC API answers in its own terms: not localised.
    assert "content-language" not in public.headers
    assert "message" not in public.json()["results"][0]["checks"][0]

    response = client.get("/v1/holder/audit", headers=holder)
    assert response.status_code == 200, response.text
    assert response.headers["content-language"] == "zh-CN"
    verifications = [e for e in response.json() if e["action"] == "credential.verify"]
    assert [(e["actorName"], e["actionName"]) for e in verifications] == [
        (HR_NAME, "核验凭证"),
        ("匿名核验", "核验凭证"),
    ]
    assert verifications[0]["actor"].startswith("hr_client:")
    assert verifications[1]["actor"] == "anonymous:vc-api"
    assert verifications[1]["targetId"] == record["id"]
    issued = next(e for e in response.json() if e["action"] == "credential.issue")
    assert issued["actorName"] == "江苏省人力资源和社会保障厅（发证经办人）"

    english = client.get("/v1/holder/audit", headers={**holder, "Accept-Language": "en"}).json()
    names = [e["actorName"] for e in english if e["action"] == "credential.verify"]
    assert names == [HR_NAME, "anonymous verification"]


def test_a_presentation_verified_through_the_vc_api_is_an_anonymous_verification(
    client: TestClient, actors: Actors
) -> None:
    record = issue(client, actors.officer())
    presentation = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [record["verifiableCredential"]],
    }
    response = client.post("/presentations/verify", json={"verifiablePresentation": presentation})
    # Unsigned: nothing shows who presented it, so the answer is "could not be fully verified".
    assert response.status_code == 422, response.text
    events = client.get("/v1/holder/audit", headers=actors.holder(record["holderId"])).json()
    assert [e["actorName"] for e in events if e["action"] == "credential.verify"] == ["匿名核验"]


# --- catalogues ---


def test_every_message_id_in_code_is_in_the_chinese_catalogue() -> None:
    used = {
        *MESSAGES.values(),
        *VALUE_MESSAGES,
        *verifier.STATUS_WORDS.values(),
        *verifier.KIND_WORDS.values(),
        *verifier.RECOGNITION_MESSAGES.values(),
        verifier.DATE_MESSAGE,
        audit.ANONYMOUS_VERIFICATION,
        audit.YOU,
        audit.STAFF,
        audit.FEDERATION_NODE,
        *audit.ROLE_WORDS.values(),
        *audit.ACTION_WORDS.values(),
    }
    assert used - i18n.message_ids("zh_CN", "reports") == set()
    assert all(KEBAB.match(code) for code in MESSAGES)


def test_every_status_reason_has_its_label_in_both_languages() -> None:
    for code, label in REASON_LABELS.items():
        chinese, _, english = label.partition(" ")
        assert verifier.reason_label(code, "zh_CN") == chinese
        assert verifier.reason_label(code, "en") == english
        assert i18n.gettext("zh_CN", "reports", english) == chinese


def test_every_action_a_holder_can_see_has_a_readable_name() -> None:
    """Issue 9 point 4: the holder's audit names what happened, never a raw action id.
    Every action the code records about credentials, codes, holders and accounts (the
    string literals in registry/) has its words in ACTION_WORDS and the zh catalogue."""
    import re
    from pathlib import Path

    from registry import audit, i18n

    source = Path(audit.__file__).resolve().parent
    found = {
        match
        for path in source.rglob("*.py")
        for match in re.findall(
            r'"((?:credential|verification-code|holder|account|recognition)\.[a-z-]+)"',
            path.read_text(encoding="utf-8"),
        )
    } - {"holder.id", "credential.id"}
    # Recognition at the receiving node (no holder there: its officers' and the calling
    # node's steps) and the node-to-node request purposes that are not actions.
    found -= {"recognition.receive", "recognition.decide", "recognition.publish", "recognition.status"}
    assert "verification-code.revoke" in found
    assert "recognition.withdraw" in found
    assert sorted(found - set(audit.ACTION_WORDS)) == []
    assert {audit.ACTION_WORDS[a] for a in found} <= i18n.message_ids("zh_CN", "reports")
    # And the portal's activity page (domain web) names each as well.
    from registry.web.holder import ACTIONS

    assert sorted(found - set(ACTIONS)) == []
    assert {ACTIONS[a] for a in found} <= i18n.message_ids("zh_CN", "web")
