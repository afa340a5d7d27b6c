"""Recognition on the pages (issue: web pages, holder portal point "apply for recognition
and follow the application"; verification page point "the title in the verifier's
terms"): a Jiangsu holder applies in the portal, an Anhui officer decides at the desk,
the holder follows it and downloads the recognition credential; in both languages.
The nodes are the federation of ``tests/test_federation_flow.py`` (in one process)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from registry.web.pages import SESSION_COOKIE
from tests.test_federation_flow import ANHUI, ENG_RULE, JIANGSU, Federation, _holder_headers, _publish
from tests.test_federation_flow import federation as federation
from tests.test_web_pages import csrf_of, text_of


def _browser(federation: Federation, origin: str, headers: dict[str, str]) -> TestClient:
    """A client of ``origin`` whose session cookie is the account of ``headers``."""
    client = TestClient(federation.clients[origin].app, base_url=origin)
    client.cookies.set(SESSION_COOKIE, headers["Authorization"].removeprefix("Bearer "))
    return client


def test_a_holder_applies_in_the_portal_and_an_officer_decides_at_the_desk(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 70)
    headers = _holder_headers(federation, JIANGSU, record["holderId"])
    holder = _browser(federation, JIANGSU, headers)
    page = holder.get("/holder/recognition")
    assert page.status_code == 200
    assert record["certificateNumber"] in page.text
    assert '<option value="34">安徽省</option>' in page.text
    assert '<option value="32">' not in page.text  # not the holder's own province
    # What Anhui's published policy says (none yet): read from its signed policy.
    assert "安徽省尚未发布认可政策。" in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "credential": record["id"],
        "province": "34",
        "statement": "拟调入合肥工作",
    }
    posted = holder.post("/holder/recognition", data=form, follow_redirects=False)
    assert posted.status_code == 303, text_of(posted.text)  # reloading the answer sends nothing again
    sent = holder.get(posted.headers["location"])
    assert "申请已发出" in sent.text
    assert 'data-state="pending"' in sent.text
    assert "审核中" in sent.text
    again = holder.post("/holder/recognition", data=form)
    assert again.status_code == 409
    assert "正在审核或已获认可" in again.text

    _publish(federation, ANHUI, [ENG_RULE])
    desk = _browser(federation, ANHUI, federation.staff(ANHUI, "officer"))
    pending = desk.get("/officer/recognition")
    assert pending.status_code == 200
    assert record["certificateNumber"] in pending.text
    assert "拟调入合肥工作" in pending.text
    [application] = (
        federation.clients[ANHUI]
        .get("/v1/recognition/applications", headers=federation.staff(ANHUI, "officer"))
        .json()
    )
    token = csrf_of(pending.text)
    unreasoned = desk.post(
        f"/officer/recognition/{application['id']}/decision", data={"csrf_token": token, "decision": "refuse"}
    )
    assert unreasoned.status_code == 422
    assert "不予认可须填写理由" in unreasoned.text
    decided = desk.post(
        f"/officer/recognition/{application['id']}/decision",
        data={"csrf_token": token, "decision": "recognise", "recognised_as": "ENG-ASSOCIATE_SENIOR"},
    )
    assert decided.status_code == 200, text_of(decided.text)
    assert f"{record['certificateNumber']} 的申请：已认可" in decided.text
    forged = desk.post(
        f"/officer/recognition/{application['id']}/decision",
        data={"csrf_token": "forged", "decision": "refuse", "reason": "x"},
    )
    assert forged.status_code == 403

    federation.clock.advance(seconds=31)
    followed = holder.get("/holder/recognition")
    assert 'data-state="recognised"' in followed.text
    assert "认可为高级工程师。" in followed.text
    english = holder.get("/holder/recognition?lang=en")
    assert "Recognised as Senior engineer." in english.text
    listed = federation.clients[JIANGSU].get("/v1/holder/recognition-applications", headers=headers).json()
    download = holder.get(f"/holder/recognition/{listed['applications'][0]['id']}/credential.json")
    assert download.status_code == 200
    credential: dict[str, Any] = json.loads(download.content)
    assert "RecognitionCredential" in credential["type"]
    assert (
        credential["credentialSubject"]["recognitionOf"]["certificateNumber"] == record["certificateNumber"]
    )


def test_another_holder_cannot_download_someone_s_recognition_credential(federation: Federation) -> None:
    record, other = federation.issue(JIANGSU, 71), federation.issue(JIANGSU, 72)
    headers = _holder_headers(federation, JIANGSU, record["holderId"])
    applied = federation.clients[JIANGSU].post(
        "/v1/holder/recognition-applications",
        json={"credentialId": record["id"], "province": "34"},
        headers=headers,
    )
    assert applied.status_code == 201
    intruder = _browser(federation, JIANGSU, _holder_headers(federation, JIANGSU, other["holderId"]))
    answer = intruder.get(f"/holder/recognition/{applied.json()['id']}/credential.json")
    assert answer.status_code == 404
    assert record["certificateNumber"] not in answer.text


def test_the_page_says_when_the_other_node_cannot_be_reached(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 73)
    holder = _browser(federation, JIANGSU, _holder_headers(federation, JIANGSU, record["holderId"]))
    page = holder.get("/holder/recognition?lang=en")
    federation.router.down.add(ANHUI)
    sent = holder.post(
        "/holder/recognition",
        data={"csrf_token": csrf_of(page.text), "credential": record["id"], "province": "34"},
    )
    assert sent.status_code == 502
    assert "could not be reached" in sent.text
    assert "No applications yet." in sent.text


def test_a_holder_disputes_a_refusal_in_the_portal(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 74)
    headers = _holder_headers(federation, JIANGSU, record["holderId"])
    applied = federation.clients[JIANGSU].post(
        "/v1/holder/recognition-applications",
        json={"credentialId": record["id"], "province": "34"},
        headers=headers,
    )
    assert applied.status_code == 201
    officer = federation.staff(ANHUI, "officer")
    [incoming] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    federation.clients[ANHUI].post(
        f"/v1/recognition/applications/{incoming['id']}/decision",
        json={"decision": "refuse", "reason": "专业不对口"},
        headers=officer,
    ).raise_for_status()
    federation.clock.advance(seconds=31)
    holder = _browser(federation, JIANGSU, headers)
    page = holder.get("/holder/recognition")
    assert "专业不对口" in page.text
    assert f'action="/holder/recognition/{applied.json()["id"]}/dispute"' in page.text
    posted = holder.post(
        f"/holder/recognition/{applied.json()['id']}/dispute",
        data={"csrf_token": csrf_of(page.text), "statement": "本人专业与工程系列对应，请复核。"},
        follow_redirects=False,
    )
    assert posted.status_code == 303, text_of(posted.text)
    after = holder.get(posted.headers["location"])
    assert "异议已发出" in after.text
    assert 'data-state="disputed"' in after.text
    assert "/dispute" not in after.text  # once per application
    desk = _browser(federation, ANHUI, federation.staff(ANHUI, "officer"))
    waiting = desk.get("/officer/recognition")
    assert "本人专业与工程系列对应，请复核。" in waiting.text
    assert "此前不予认可的理由" in waiting.text


def test_a_holder_withdraws_an_application_in_the_portal(federation: Federation) -> None:
    record = federation.issue(JIANGSU, 75)
    headers = _holder_headers(federation, JIANGSU, record["holderId"])
    applied = federation.clients[JIANGSU].post(
        "/v1/holder/recognition-applications",
        json={"credentialId": record["id"], "province": "34"},
        headers=headers,
    )
    assert applied.status_code == 201
    holder = _browser(federation, JIANGSU, headers)
    page = holder.get("/holder/recognition")
    action = f'action="/holder/recognition/{applied.json()["id"]}/withdrawal"'
    assert action in page.text
    assert "撤回申请" in page.text
    expired = holder.post(
        f"/holder/recognition/{applied.json()['id']}/withdrawal", data={"csrf_token": "stale"}
    )
    assert expired.status_code == 403  # a forged form withdraws nothing
    assert 'data-state="pending"' in holder.get("/holder/recognition").text
    posted = holder.post(
        f"/holder/recognition/{applied.json()['id']}/withdrawal",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert posted.status_code == 303, text_of(posted.text)
    after = holder.get(posted.headers["location"])
    assert "您的申请已撤回" in after.text
    assert 'data-state="withdrawn"' in after.text
    assert "已撤回" in after.text
    assert action not in after.text  # nothing left to withdraw
    english = holder.get("/holder/recognition", headers={"Accept-Language": "en"})
    assert "Withdrawn" in english.text
    officer = federation.staff(ANHUI, "officer")
    [there] = federation.clients[ANHUI].get("/v1/recognition/applications", headers=officer).json()
    assert there["state"] == "withdrawn"
    desk = _browser(federation, ANHUI, officer).get("/officer/recognition").text
    before, _, withdrawn = desk.partition('id="withdrawn"')
    assert record["certificateNumber"] not in before  # out of the queue and the decided ones
    assert record["certificateNumber"] in withdrawn  # shown as withdrawn by the holder
    assert "持证人已撤回" in desk
