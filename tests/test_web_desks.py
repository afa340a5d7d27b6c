"""The desks through the TestClient: the officer desk (a batch's row errors before
anything is issued, the issue with its progress, status changes with a reason), the
HR desk (sign-in with the client's key, one file, a CSV or ZIP job and its results
CSV, zip bombs refused), the holder's verification codes (single-use, revoked), and
who may open what."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from registry.models import AuditEvent, Credential, IssuanceBatch
from registry.web import hr as hr_desk
from registry.web import pages
from tests.conftest import PASSWORD, Actors, resident_id
from tests.test_web_pages import csrf_of, issue, sign_up, text_of

HEADER = "姓名 / Holder name,证件类型 / ID type,证件号码 / ID number,类型代码 / Type code,专业 / Specialty,评审委员会 / Evaluation committee,取得日期 / Awarded on"  # noqa: E501


def batch_csv(rows: list[tuple[str, str, str]]) -> bytes:
    """A batch file: (name, ID number, type code) per row."""
    lines = [HEADER]
    for name, number, code in rows:
        lines.append(
            f"{name},resident,{number},{code},电气工程及其自动化,江苏省工程技术研究系列高级职称评审委员会,2026-06-30"
        )
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def node_of(client: TestClient) -> Any:
    return client.app.state.node  # type: ignore[attr-defined]


def officer_session(client: TestClient, actors: Actors) -> None:
    actors.officer()
    username = f"issuing_officer{actors._n}"
    form = client.get("/officer/sign-in")
    response = client.post(
        "/officer/sign-in",
        data={"csrf_token": csrf_of(form.text), "username": username, "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, text_of(response.text)
    assert response.headers["location"] == "/officer"


def hr_session(client: TestClient, actors: Actors, scopes: tuple[str, ...] = ("verify", "lookup")) -> str:
    key = actors.hr(scopes)["Authorization"].split()[1]
    form = client.get("/hr/sign-in")
    response = client.post(
        "/hr/sign-in", data={"csrf_token": csrf_of(form.text), "api_key": key}, follow_redirects=False
    )
    assert response.status_code == 303, text_of(response.text)
    return key


def wait_done(client: TestClient, progress: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        state: dict[str, Any] = client.get(progress).json()
        if state["state"] not in ("queued", "running"):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.05)


# --- who may open what ---


def test_the_desks_need_their_own_sign_in(client: TestClient, actors: Actors) -> None:
    for path, target in (
        ("/officer", "/officer/sign-in"),
        ("/hr", "/hr/sign-in"),
        ("/hr/jobs/x", "/hr/sign-in"),
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == target
    record = issue(client, actors.officer(), 11, "陈红")
    sign_up(client, actors.officer(), 11, record, "chen.hong")  # a holder's session
    assert client.get("/officer", follow_redirects=False).status_code == 303
    post = client.post(
        "/officer/status", data={"csrf_token": csrf_of(client.get("/holder").text)}, follow_redirects=False
    )
    assert post.status_code == 303  # a holder cannot change a status
    client.cookies.set(pages.SESSION_COOKIE, actors.admin()["Authorization"].split()[1])
    assert client.get("/officer", follow_redirects=False).status_code == 303  # admins do not issue
    client.cookies.set(pages.SESSION_COOKIE, actors.auditor()["Authorization"].split()[1])
    assert client.get("/officer", follow_redirects=False).status_code == 303


def test_a_holder_and_staff_cannot_sign_in_at_the_officer_desk(client: TestClient, actors: Actors) -> None:
    actors.auditor()
    form = client.get("/officer/sign-in")
    response = client.post(
        "/officer/sign-in",
        data={"csrf_token": csrf_of(form.text), "username": f"auditor{actors._n}", "password": PASSWORD},
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text


def test_an_hr_session_cannot_issue_or_use_the_holder_portal(client: TestClient, actors: Actors) -> None:
    hr_session(client, actors)
    assert client.get("/hr").status_code == 200
    assert client.get("/officer", follow_redirects=False).status_code == 303
    token = csrf_of(client.get("/hr").text)
    upload = client.post(
        "/officer/batches",
        data={"csrf_token": token},
        files={"file": ("b.csv", batch_csv([("王五", resident_id(21), "ENG-ASSOCIATE_SENIOR")]), "text/csv")},
        follow_redirects=False,
    )
    assert upload.status_code == 303
    assert upload.headers["location"] == "/officer/sign-in"
    assert client.get("/holder", follow_redirects=False).status_code == 303
    # The key itself is not a session: the cookie holds none.
    assert pages.SESSION_COOKIE not in client.cookies
    assert "yrd_" not in client.cookies.get(hr_desk.HR_COOKIE, "")


def test_a_wrong_key_rotated_key_or_stopped_client_ends_the_hr_desk(
    client: TestClient, actors: Actors
) -> None:
    form = client.get("/hr/sign-in")
    wrong = client.post("/hr/sign-in", data={"csrf_token": csrf_of(form.text), "api_key": "yrd_abc_def"})
    assert wrong.status_code == 401
    hr_session(client, actors)
    node = node_of(client)
    from registry.accounts import deactivate_hr_client
    from registry.auth import Principal
    from registry.models import HrClient

    with node.db.session() as session:
        client_id = session.exec(select(HrClient.id)).first()
        deactivate_hr_client(session, Principal("cli", "tests", "admin"), client_id, "ended", node.clock())
    assert client.get("/hr", follow_redirects=False).headers["location"] == "/hr/sign-in"


# --- CSRF ---


def test_every_desk_form_refuses_a_post_without_its_csrf_token(client: TestClient, actors: Actors) -> None:
    officer_session(client, actors)
    data = {"csrf_token": "forged"}
    csv_file = {"file": ("b.csv", batch_csv([("王五", resident_id(22), "ENG-ASSOCIATE_SENIOR")]), "text/csv")}
    assert client.post("/officer/batches", data=data, files=csv_file).status_code == 403
    assert client.post("/officer/uploads/x/issue", data=data).status_code == 403
    status = client.post("/officer/status", data={**data, "number": "32-2026-0000001", "action": "revoke"})
    assert status.status_code == 403
    assert "表单已过期" in status.text
    other = TestClient(client.app)
    hr_session(other, actors)
    assert other.post("/hr/verify", data=data, files={"file": ("a.json", b"{}")}).status_code == 403
    assert (
        other.post("/hr/jobs", data=data, files={"file": ("a.csv", b"credential\r\nx\r\n")}).status_code
        == 403
    )
    assert other.post("/hr/sign-in", data={**data, "api_key": "yrd_x"}).status_code == 403
    with node_of(client).db.session(write=False) as session:
        assert session.exec(select(IssuanceBatch)).first() is None


# --- the officer desk ---


def test_row_errors_are_shown_before_anything_is_issued_then_the_batch_is_issued(
    client: TestClient, actors: Actors
) -> None:
    officer_session(client, actors)
    home = client.get("/officer")
    bad = batch_csv(
        [
            ("王五", resident_id(31), "ENG-ASSOCIATE_SENIOR"),
            (
                "赵六",
                resident_id(32)[:-1] + ("0" if resident_id(32)[-1] != "0" else "1"),
                "ENG-ASSOCIATE_SENIOR",
            ),
            ("孙七", resident_id(33), "NO-SUCH-TYPE"),
        ]
    )
    preview = client.post(
        "/officer/batches",
        data={"csrf_token": csrf_of(home.text)},
        files={"file": ("eval-2026-11.csv", bad, "text/csv")},
    )
    assert preview.status_code == 422
    text = text_of(preview.text)
    assert "3 行中有 2 行有错误" in text
    assert 'id="issue-button"' not in preview.text
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td>", preview.text)
    assert ("2", "3") in rows  # row 2 is line 3 of the file (under the header)
    assert ("3", "4") in rows
    assert "证件号码" in text
    assert "类型代码" in text
    node = node_of(client)
    with node.db.session(write=False) as session:
        assert session.exec(select(Credential)).all() == []
    good = batch_csv(
        [("王五", resident_id(31), "ENG-ASSOCIATE_SENIOR"), ("赵六", resident_id(32), "ENG-ASSOCIATE_SENIOR")]
    )
    checked = client.post(
        "/officer/batches",
        data={"csrf_token": csrf_of(home.text)},
        files={"file": ("eval-2026-11.csv", good, "text/csv")},
        headers={"Accept-Language": "en"},
    )
    assert checked.status_code == 200, text_of(checked.text)
    assert "All 2 rows are correct" in text_of(checked.text)
    with node.db.session(write=False) as session:
        assert session.exec(select(Credential)).all() == []  # still nothing issued
    action = re.search(r'action="(/officer/uploads/[^"]+/issue)"', checked.text)
    assert action
    started = client.post(action.group(1), data={"csrf_token": csrf_of(checked.text)}, follow_redirects=False)
    assert started.status_code == 303
    assert started.headers["location"] == "/officer/batches/eval-2026-11"
    assert wait_done(client, "/officer/batches/eval-2026-11/progress") == {
        "state": "done",
        "processed": 2,
        "total": 2,
    }
    page = client.get("/officer/batches/eval-2026-11")
    assert page.status_code == 200
    assert "<script" not in page.text  # done: no refresh, no script
    with node.db.session(write=False) as session:
        issued = session.exec(select(Credential)).all()
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "credential.issue")).all()
    assert len(issued) == 2
    assert {e.actor_role for e in events} == {"issuing_officer"}
    for row in issued:
        assert row.certificate_number in page.text
    again = client.post(action.group(1), data={"csrf_token": csrf_of(checked.text)})
    assert again.status_code == 404  # a checked batch is issued once


def test_a_running_batch_page_refreshes_without_javascript(client: TestClient, actors: Actors) -> None:
    officer_session(client, actors)
    node_of(client).batches.update("running-batch", state="running", processed=3, total=10)
    page = client.get("/officer/batches/running-batch")
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.text
    assert '<script src="/static/progress.js" defer></script>' in page.text
    assert 'value="3"' in page.text
    assert client.get("/static/progress.js").headers["content-type"].startswith("text/javascript")
    assert "'self'" in page.headers["content-security-policy"]


def test_revoke_suspend_and_reinstate_with_a_reason(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer(), 41, "钱八")
    officer_session(client, actors)
    token = csrf_of(client.get("/officer").text)
    number = record["certificateNumber"]

    def change(action: str, reason: str, note: str = "") -> Any:
        return client.post(
            "/officer/status",
            data={
                "csrf_token": token,
                "number": number.lower(),
                "action": action,
                "reason_code": reason,
                "note": note,
            },
        )

    wrong = change("revoke", "suspend:under_investigation")
    assert wrong.status_code == 422
    suspended = change("suspend", "suspend:under_investigation", "苏人社〔2026〕17号")
    assert suspended.status_code == 200
    assert f"证书 {number} 已暂停" in text_of(suspended.text)
    assert change("suspend", "suspend:under_investigation").status_code == 409
    assert change("reinstate", "reinstate:investigation_cleared").status_code == 200
    assert change("revoke", "revoke:research_misconduct").status_code == 200
    assert change("reinstate", "reinstate:investigation_cleared").status_code == 409
    missing = client.post(
        "/officer/status",
        data={
            "csrf_token": token,
            "number": "32-2026-9999999",
            "action": "revoke",
            "reason_code": "revoke:issued_in_error",
        },
    )
    assert missing.status_code == 404
    with node_of(client).db.session(write=False) as session:
        events = session.exec(
            select(AuditEvent).where(
                AuditEvent.target_id == record["id"], AuditEvent.action != "credential.issue"
            )
        ).all()
    assert [(e.action, e.reason) for e in events] == [
        ("credential.suspend", "under_investigation"),
        ("credential.reinstate", "investigation_cleared"),
        ("credential.revoke", "research_misconduct"),
    ]
    assert "苏人社〔2026〕17号" in (events[0].detail or "")


# --- the HR desk ---


def test_one_file_is_verified_and_audited_as_the_hr_client(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer(), 51, "周九")
    hr_session(client, actors)
    vc = json.dumps(record["verifiableCredential"], ensure_ascii=False).encode()
    result = client.post(
        "/hr/verify", data={"csrf_token": csrf_of(client.get("/hr").text)}, files={"file": ("t.json", vc)}
    )
    assert result.status_code == 200
    assert 'data-verdict="valid"' in result.text
    node = node_of(client)
    node.audit_writer.flush()
    with node.db.session(write=False) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "credential.verify")).all()
    assert [e.actor.split(":")[0] for e in events] == ["hr_client"]


def test_a_verify_only_client_cannot_look_up(client: TestClient, actors: Actors) -> None:
    hr_session(client, actors, scopes=("verify",))
    token = csrf_of(client.get("/hr").text)
    rows = "证书编号,核验码\r\n32-2026-0000001,AAAA-BBBB-CC\r\n".encode()
    response = client.post(
        "/hr/jobs", data={"csrf_token": token}, files={"file": ("l.csv", rows, "text/csv")}
    )
    assert response.status_code == 403


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def results_of(client: TestClient, job: str) -> list[list[str]]:
    download = client.get(f"{job}/results.csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert download.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))


def test_a_zip_job_with_progress_and_its_results_csv(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    good = issue(client, officer, 61, "吴十")
    revoked = issue(client, officer, 62, "郑十一")
    client.post(
        f"/v1/credentials/{revoked['id']}/revocation",
        json={"reasonCode": "research_misconduct"},
        headers=officer,
    ).raise_for_status()
    tampered = dict(good["verifiableCredential"])
    tampered["credentialSubject"] = {**tampered["credentialSubject"], "name": "冒名者"}
    archive = zip_of(
        {
            "甲.vc.json": json.dumps(good["verifiableCredential"], ensure_ascii=False).encode(),
            "乙.vc.json": json.dumps(revoked["verifiableCredential"], ensure_ascii=False).encode(),
            "丙.vc.json": json.dumps(tampered, ensure_ascii=False).encode(),
            "notes/readme.txt": b"not a credential",
        }
    )
    hr_session(client, actors)
    started = client.post(
        "/hr/jobs",
        data={"csrf_token": csrf_of(client.get("/hr").text)},
        files={"file": ("入职核验.zip", archive, "application/zip")},
        follow_redirects=False,
    )
    assert started.status_code == 303, text_of(started.text)
    job = started.headers["location"]
    assert wait_done(client, f"{job}/progress")["processed"] == 4
    page = client.get(job)
    assert "1 份有效，3 份无效" in text_of(page.text)
    table = results_of(client, job)
    assert table[0][0] == "文件或行 / File or row"
    by_file = {row[0]: row for row in table[1:]}
    assert by_file["甲.vc.json"][1:5] == ["有效", "高级工程师", "吴十", good["certificateNumber"]]
    assert by_file["甲.vc.json"][5] == "江苏省签发，在本省无需认可。"  # in this node's terms
    assert by_file["乙.vc.json"][1] == "无效"
    assert by_file["乙.vc.json"][5] == "仅对有效凭证说明认可情况。"
    assert "撤销" in by_file["乙.vc.json"][6]
    assert by_file["丙.vc.json"][1] == "无效"
    assert by_file["丙.vc.json"][3:5] == ["", ""]  # not authentic: nothing of its subject repeated
    assert "冒名者" not in "".join(by_file["丙.vc.json"])
    node = node_of(client)
    node.audit_writer.flush()
    with node.db.session(write=False) as session:
        actors_seen = {
            e.actor for e in session.exec(select(AuditEvent).where(AuditEvent.action == "credential.verify"))
        }
    assert len(actors_seen) == 1
    assert next(iter(actors_seen)).startswith("hr_client:")
    other = TestClient(client.app)
    hr_session(other, actors)
    assert other.get(job).status_code == 404  # another client's job is not there
    assert other.get(f"{job}/results.csv").status_code == 404


def test_a_csv_job_with_look_ups_in_english(client: TestClient, actors: Actors) -> None:
    record = issue(client, actors.officer(), 71, "冯十二")
    holder = actors.holder(record["holderId"])
    code = client.post(
        f"/v1/holder/credentials/{record['id']}/verification-codes", json={"singleUse": True}, headers=holder
    ).json()["verificationCode"]
    vc = json.dumps(record["verifiableCredential"], ensure_ascii=False).replace('"', '""')
    rows = (
        "Certificate number,Verification code,Credential\r\n"
        f"{record['certificateNumber']},{code},\r\n"
        f"{record['certificateNumber']},{code},\r\n"
        f',,"{vc}"\r\n'
        ",,\r\n"
        "x,,\r\n"
    ).encode()
    hr_session(client, actors)
    started = client.post(
        "/hr/jobs",
        data={"csrf_token": csrf_of(client.get("/hr").text)},
        files={"file": ("rows.csv", rows, "text/csv")},
        headers={"Accept-Language": "en"},
        follow_redirects=False,
    )
    assert started.status_code == 303, text_of(started.text)
    job = started.headers["location"]
    wait_done(client, f"{job}/progress")
    table = results_of(client, job)
    assert [r[0] for r in table[1:]] == ["Row 2", "Row 3", "Row 4", "Row 6"]
    assert table[1][1:4] == ["Valid", "Senior engineer", "冯**"]  # a look-up: the name in part
    assert table[2][1] == "Invalid"  # the single-use code was used by row 2
    assert "No credential" in table[2][6]
    assert table[3][1:4] == ["Valid", "Senior engineer", "冯十二"]  # the file itself was presented
    assert table[4][1] == "Cannot be confirmed"


def test_zip_bombs_and_oversized_archives_are_refused_before_inflating(
    client: TestClient, actors: Actors
) -> None:
    hr_session(client, actors)
    token = csrf_of(client.get("/hr").text)

    def send(data: bytes) -> Any:
        return client.post(
            "/hr/jobs", data={"csrf_token": token}, files={"file": ("x.zip", data, "application/zip")}
        )

    bomb = zip_of({"bomb.json": b"\0" * (50 << 20)})  # 50 MiB of zeros: a few dozen KiB compressed
    assert len(bomb) < 200_000
    refused = send(bomb)
    assert refused.status_code == 422
    assert "ZIP" in text_of(refused.text)
    many = zip_of({f"{i}.json": b"{}" for i in range(1001)})
    assert send(many).status_code == 422
    # An entry that declares less than it holds is read only as far as it declared, and
    # then fails its checksum: reported damaged, never inflated whole.
    liar = bytearray(zip_of({"a.json": b"{" + b" " * (300 << 10) + b"}"}))
    central = liar.rfind(b"PK\x01\x02")
    liar[central + 24 : central + 28] = (100).to_bytes(4, "little")  # the central directory's size
    local = liar.find(b"PK\x03\x04")
    liar[local + 22 : local + 26] = (100).to_bytes(4, "little")
    started = client.post(
        "/hr/jobs",
        data={"csrf_token": token},
        files={"file": ("x.zip", bytes(liar), "application/zip")},
        follow_redirects=False,
    )
    assert started.status_code == 303
    wait_done(client, started.headers["location"] + "/progress")
    (row,) = results_of(client, started.headers["location"])[1:]
    assert row[0] == "a.json"
    assert row[6] == "已损坏：未读取。"
    assert send(b"PK\x03\x04 not really a zip").status_code == 422
    with pytest.raises(hr_desk.UploadError):
        hr_desk.read_zip(zip_of({f"{i}.json": b"{}" for i in range(1001)}))


def test_the_hr_desk_spends_the_client_s_rate_as_the_api_does(client: TestClient, actors: Actors) -> None:
    key = actors.hr(rate=3)["Authorization"].split()[1]
    form = client.get("/hr/sign-in")
    client.post("/hr/sign-in", data={"csrf_token": csrf_of(form.text), "api_key": key})
    token = csrf_of(client.get("/hr").text)
    answers = [
        client.post("/hr/verify", data={"csrf_token": token, "credential": "not a credential"}).status_code
        for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]


# --- verification codes: single use, revocation ---


def holder_codes(client: TestClient, record: dict[str, Any], use: str) -> str:
    home = client.get("/holder")
    made = client.post(
        f"/holder/credentials/{record['id']}/verification-codes",
        data={"csrf_token": csrf_of(home.text), "valid_days": "7", "use": use},
    )
    assert made.status_code == 201
    code = re.search(r'<dd class="mono code">([^<]+)</dd>', made.text)
    assert code
    return code.group(1)


def public_look_up(record: dict[str, Any], code: str, app: Any) -> int:
    employer = TestClient(app)
    form = employer.get("/verify")
    status: int = employer.post(
        "/verify/lookup",
        data={"csrf_token": csrf_of(form.text), "number": record["certificateNumber"], "code": code},
    ).status_code
    return status


def test_a_single_use_code_opens_once_and_a_revoked_code_never(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer, 81, "蒋十三")
    sign_up(client, officer, 81, record, "jiang.shisan")
    once = holder_codes(client, record, "single")
    many = holder_codes(client, record, "multi")
    assert public_look_up(record, once, client.app) == 200
    assert public_look_up(record, once, client.app) == 404
    assert public_look_up(record, many, client.app) == 200
    assert public_look_up(record, many, client.app) == 200
    home = client.get("/holder")
    states = re.findall(r'data-code-state="(\w+)"', home.text)
    assert sorted(states) == ["active", "used"]
    assert once not in home.text
    assert many not in home.text
    revoke = re.search(r'action="(/holder/credentials/[^"]+/verification-codes/\d+/revoke)"', home.text)
    assert revoke
    revoked = client.post(revoke.group(1), data={"csrf_token": csrf_of(home.text)})
    assert revoked.status_code == 200
    assert "核验码已作废" in text_of(revoked.text)
    assert public_look_up(record, many, client.app) == 404
    assert client.post(revoke.group(1), data={"csrf_token": "forged"}).status_code == 403
    activity = client.get("/holder/activity")
    assert "核验码已作废" in text_of(activity.text) or "作废核验码" in text_of(activity.text)


def test_concurrent_look_ups_with_one_single_use_code_succeed_once(
    client: TestClient, actors: Actors
) -> None:
    record = issue(client, actors.officer(), 91, "沈十四")
    holder = actors.holder(record["holderId"])
    code = client.post(
        f"/v1/holder/credentials/{record['id']}/verification-codes", json={"singleUse": True}, headers=holder
    ).json()["verificationCode"]
    hr = actors.hr()
    barrier = threading.Barrier(4)
    answers: list[int] = []

    def look_up() -> None:
        barrier.wait()
        response = client.post(
            "/v1/verifications/lookup",
            json={"certificateNumber": record["certificateNumber"], "verificationCode": code},
            headers=hr,
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=look_up) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 404, 404, 404]
    with node_of(client).db.session(write=False) as session:
        lookups = session.exec(select(AuditEvent).where(AuditEvent.action == "credential.lookup")).all()
    assert len(lookups) == 1


def test_page_and_desk_pages_are_csp_clean(client: TestClient, actors: Actors) -> None:
    for path in ("/officer/sign-in", "/hr/sign-in"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == pages.CONTENT_SECURITY_POLICY
        assert "<script" not in response.text
        assert "style=" not in response.text
    officer_session(client, actors)
    page = client.get("/officer")
    assert "style=" not in page.text
    assert "<script" not in page.text
    assert 'name="csrf_token"' in page.text
