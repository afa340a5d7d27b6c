"""The web pages through the TestClient: language, security headers, CSRF, cookies,
the verification page (upload, paste, look-up, QR link) and the holder portal. The
same flows run in a real browser in tests/browser/."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from registry.models import AuditEvent
from registry.web import pages
from tests.conftest import Actors, issue_row, resident_id

HOLDER_PASSWORD = "a long enough holder passphrase"


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF field"
    return match.group(1)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def issue(client: TestClient, officer: dict[str, str], seed: int, name: str) -> dict[str, Any]:
    response = client.post(
        "/v1/credentials", json=issue_row(holderName=name, idNumber=resident_id(seed)), headers=officer
    )
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def sign_up(
    client: TestClient, officer: dict[str, str], seed: int, record: dict[str, Any], username: str
) -> None:
    """Open the holder's account through the sign-up page (which signs them in)."""
    code = client.post(f"/v1/holders/{record['holderId']}/activation-codes", headers=officer).json()
    form = client.get("/holder/sign-up")
    response = client.post(
        "/holder/sign-up",
        data={
            "csrf_token": csrf_of(form.text),
            "id_type": "resident",
            "id_number": resident_id(seed),
            "activation_code": code["activationCode"],
            "username": username,
            "password": HOLDER_PASSWORD,
            "password_again": HOLDER_PASSWORD,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, text_of(response.text)
    assert response.headers["location"] == "/holder"


@pytest.fixture
def officer(actors: Actors) -> dict[str, str]:
    return actors.officer()


# --- language ---


def test_pages_are_chinese_by_default_and_english_when_asked(client: TestClient) -> None:
    zh = client.get("/verify")
    assert zh.status_code == 200
    assert '<html lang="zh-CN">' in zh.text
    assert "核验证书" in zh.text
    assert zh.headers["content-language"] == "zh-CN"
    en = client.get("/verify", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert '<html lang="en">' in en.text
    assert "Verify a credential" in en.text
    assert "核验证书" not in en.text


def test_the_switch_is_a_plain_link_and_its_choice_is_remembered(client: TestClient) -> None:
    page = client.get("/verify?number=&lang=en", headers={"Accept-Language": "zh"})
    assert '<html lang="en">' in page.text
    assert "lang=en; HttpOnly; Max-Age=31536000; Path=/; SameSite=lax" in page.headers["set-cookie"]
    assert 'href="/verify?number=&amp;lang=zh-CN"' in page.text  # the switch back keeps the query
    later = client.get("/holder/sign-in", headers={"Accept-Language": "zh"})
    assert '<html lang="en">' in later.text  # the cookie wins over the header


# --- security of the pages ---


@pytest.mark.parametrize("path", ["/verify", "/holder/sign-in", "/holder/sign-up"])
def test_every_page_has_a_strict_policy_and_no_outside_resources(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == pages.CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in pages.CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in pages.CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert not re.search(r"""(src|href|action)=["']?(https?:)?//""", response.text)
    assert "<script" not in response.text
    assert "style=" not in response.text


def test_the_stylesheet_is_served_by_the_node(client: TestClient) -> None:
    css = client.get("/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/nothing.css").status_code == 404


def test_pages_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/verify", "/holder/", "/static", "/holder"))]
    assert "/" not in paths


def test_a_post_without_the_forms_csrf_token_changes_nothing(
    client: TestClient, officer: dict[str, str]
) -> None:
    record = issue(client, officer, 1, "王芳")
    vc = json.dumps(record["verifiableCredential"]).encode()
    client.get("/verify")  # the CSRF cookie
    for token in (None, "forged", csrf_of(TestClient(client.app).get("/verify").text)):
        data = {} if token is None else {"csrf_token": token}
        response = client.post("/verify", data=data, files={"file": ("a.json", vc, "application/json")})
        assert response.status_code == 403
        assert "表单已过期" in response.text
    fresh = TestClient(client.app)  # a browser without the cookie, with a real token of another
    response = fresh.post("/verify/lookup", data={"csrf_token": csrf_of(client.get("/verify").text)})
    assert response.status_code == 403


def test_cookies_are_http_only_same_site_and_secure_outside_local_development(
    client: TestClient, officer: dict[str, str]
) -> None:
    record = issue(client, officer, 2, "李雷")
    sign_up(client, officer, 2, record, "li.lei")
    cookies = {c.name: c for c in client.cookies.jar}
    assert set(cookies) >= {pages.SESSION_COOKIE, pages.CSRF_COOKIE}
    for cookie in cookies.values():
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert cookie.get_nonstandard_attr("SameSite") in ("strict", "lax")
        assert not cookie.secure  # http on loopback: local development
    node = client.app.state.node  # type: ignore[attr-defined]
    assert not pages.secure_cookies(node)
    node.settings = node.settings.model_copy(update={"base_url": "https://hrss.js.example"})
    assert pages.secure_cookies(node)
    response = client.get("/verify")
    assert "; Secure" in response.headers.get("set-cookie", "; Secure")


def test_page_forms_have_small_body_limits(client: TestClient) -> None:
    client.get("/verify")
    big = {"csrf_token": "x", "number": "1" * 4096, "code": "2"}
    response = client.post("/verify/lookup", data=big)
    assert response.status_code == 413
    response = client.post("/verify", files={"file": ("a.json", b"{" + b" " * (300 << 10) + b"}")})
    assert response.status_code == 413
    # A person posted it: a page in both languages, with the pages' headers, not JSON.
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == pages.CONTENT_SECURITY_POLICY
    assert "文件太大" in response.text
    assert "File too large" in response.text
    assert "<script" not in response.text
    api = client.post("/credentials/verify", content=b"{" + b" " * (4 << 20) + b"}")
    assert api.status_code == 413
    assert api.headers["content-type"] == "application/problem+json"


# --- the verification page ---


def test_an_uploaded_credential_is_verified_with_every_check(
    client: TestClient, officer: dict[str, str]
) -> None:
    record = issue(client, officer, 3, "张伟")
    page = client.get("/verify")
    vc = json.dumps(record["verifiableCredential"], ensure_ascii=False).encode()
    response = client.post(
        "/verify",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("t.vc.json", vc, "application/vc")},
    )
    assert response.status_code == 200
    text = text_of(response.text)
    assert 'data-verdict="valid"' in response.text
    assert "有效" in text
    assert "高级工程师" in text
    assert "江苏省" in text
    assert record["certificateNumber"] in text
    assert "张伟" in text
    for check in ("proof", "issuer", "key", "validity", "schema", "status"):
        assert f'data-check="{check}"' in response.text


def test_a_pasted_jwt_and_a_tampered_file(client: TestClient, officer: dict[str, str]) -> None:
    record = issue(client, officer, 4, "赵敏")
    token = csrf_of(client.get("/verify").text)
    tampered = dict(record["verifiableCredential"])
    tampered["credentialSubject"] = {**tampered["credentialSubject"], "name": "钱某"}
    response = client.post(
        "/verify",
        data={"csrf_token": token},
        files={"file": ("t.json", json.dumps(tampered).encode(), "application/json")},
        headers={"Accept-Language": "en"},
    )
    assert 'data-verdict="invalid"' in response.text
    assert "Invalid" in response.text
    assert "钱某" not in response.text
    assert record["certificateNumber"] not in response.text
    garbage = client.post("/verify", data={"csrf_token": token, "credential": "not a credential"})
    assert garbage.status_code == 200
    assert 'data-verdict="invalid"' in garbage.text  # a credential that cannot be read
    assert "无法读取" in garbage.text
    pdf = client.post("/verify", data={"csrf_token": token}, files={"file": ("c.pdf", b"%PDF-1.7 ...")})
    assert pdf.status_code == 422
    assert "PDF" in pdf.text


def test_a_revoked_credential_is_invalid_with_its_reason(client: TestClient, officer: dict[str, str]) -> None:
    record = issue(client, officer, 5, "孙悦")
    response = client.post(
        f"/v1/credentials/{record['id']}/revocation",
        json={"reasonCode": "research_misconduct"},
        headers=officer,
    )
    assert response.status_code == 200, response.text
    token = csrf_of(client.get("/verify").text)
    vc = json.dumps(record["verifiableCredential"]).encode()
    result = client.post("/verify", data={"csrf_token": token}, files={"file": ("r.json", vc)})
    assert 'data-verdict="invalid"' in result.text
    status = re.search(r'<dd id="credential-status">([^<]*)</dd>', result.text)
    assert status
    assert "撤销" in status.group(1)


def holder_with_code(
    client: TestClient, officer: dict[str, str], seed: int, username: str
) -> tuple[dict[str, Any], str]:
    record = issue(client, officer, seed, "周杰")
    sign_up(client, officer, seed, record, username)
    home = client.get("/holder")
    made = client.post(
        f"/holder/credentials/{record['id']}/verification-codes",
        data={"csrf_token": csrf_of(home.text), "valid_days": "3"},
    )
    assert made.status_code == 201
    link = re.search(r'href="(/verify\?number=[^"]+)"', made.text)
    assert link
    return record, html.unescape(link.group(1))


def test_a_look_up_with_a_code_and_the_qr_link(client: TestClient, officer: dict[str, str]) -> None:
    record, link = holder_with_code(client, officer, 6, "zhou.jie")
    code = dict(p.split("=", 1) for p in urlsplit(link).query.split("&"))["code"]
    employer = TestClient(client.app)
    arrived = employer.get(link, headers={"Accept-Language": "en"})
    assert arrived.status_code == 200
    assert 'data-verdict="valid"' in arrived.text
    assert "周*" in arrived.text
    assert "周杰" not in arrived.text
    form = employer.get("/verify")
    typed = employer.post(
        "/verify/lookup",
        data={"csrf_token": csrf_of(form.text), "number": record["certificateNumber"].lower(), "code": code},
    )
    assert 'data-verdict="valid"' in typed.text
    wrong = employer.post(
        "/verify/lookup",
        data={
            "csrf_token": csrf_of(form.text),
            "number": record["certificateNumber"],
            "code": "AAAA-BBBB-CC",
        },
    )
    assert wrong.status_code == 404
    assert "没有与该证书编号和有效核验码相符的证书" in wrong.text
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        lookups = session.exec(select(AuditEvent).where(AuditEvent.action == "credential.lookup")).all()
    assert [e.actor for e in lookups] == ["web:verification-page"] * 2
    activity = client.get("/holder/activity", headers={"Accept-Language": "en"})
    assert text_of(activity.text).count("Looked up with a verification code") == 2


def test_page_posts_are_limited_per_address(client: TestClient) -> None:
    token = csrf_of(client.get("/verify").text)
    answers = [
        client.post(
            "/verify/lookup", data={"csrf_token": token, "number": "32-2026-9999999", "code": "X"}
        ).status_code
        for _ in range(pages.PAGE_RATE_PER_MINUTE + 1)
    ]
    assert answers[:-1] == [404] * pages.PAGE_RATE_PER_MINUTE
    assert answers[-1] == 429


# --- the holder portal ---


def test_the_portal_needs_a_holder_session(client: TestClient, actors: Actors) -> None:
    for path in ("/holder", "/holder/activity", "/holder/credentials/x/vc"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/holder/sign-in"
    client.cookies.set(pages.SESSION_COOKIE, actors.officer()["Authorization"].split()[1])
    assert client.get("/holder", follow_redirects=False).status_code == 303  # staff: not a holder


def test_sign_in_wrong_password_then_right(client: TestClient, officer: dict[str, str]) -> None:
    record = issue(client, officer, 7, "吴昊")
    sign_up(client, officer, 7, record, "wu.hao")
    out = client.post("/holder/sign-out", data={"csrf_token": csrf_of(client.get("/holder").text)})
    assert out.status_code == 200
    assert "/holder/sign-in" in str(out.url)
    assert client.get("/holder", follow_redirects=False).status_code == 303
    form = client.get("/holder/sign-in")
    bad = client.post(
        "/holder/sign-in",
        data={"csrf_token": csrf_of(form.text), "username": "wu.hao", "password": "wrong password!"},
    )
    assert bad.status_code == 401
    assert "用户名或密码错误" in bad.text
    good = client.post(
        "/holder/sign-in",
        data={"csrf_token": csrf_of(form.text), "username": "wu.hao", "password": HOLDER_PASSWORD},
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert record["certificateNumber"] in client.get("/holder").text


def test_downloads_and_another_holders_credential(client: TestClient, officer: dict[str, str]) -> None:
    mine = issue(client, officer, 8, "郑爽")
    other = issue(client, officer, 9, "冯巩")
    sign_up(client, officer, 8, mine, "zheng.shuang")
    home = client.get("/holder")
    assert f"/holder/credentials/{mine['id']}/vc" in home.text
    assert other["id"] not in home.text
    vc = client.get(f"/holder/credentials/{mine['id']}/vc")
    assert vc.status_code == 200
    assert vc.headers["content-type"].startswith("application/vc")
    assert json.loads(vc.text)["id"] == mine["verifiableCredential"]["id"]
    jwt = client.get(f"/holder/credentials/{mine['id']}/vc-jwt")
    assert jwt.status_code == 200
    assert jwt.text.count(".") == 2
    assert client.get(f"/holder/credentials/{other['id']}/vc").status_code == 404
    assert client.get(f"/holder/credentials/{mine['id']}/exe").status_code == 404
    made = client.post(
        f"/holder/credentials/{other['id']}/verification-codes", data={"csrf_token": csrf_of(home.text)}
    )
    assert made.status_code == 404


def test_a_staff_account_cannot_use_the_holder_portal(client: TestClient, actors: Actors) -> None:
    actors.officer()  # officer1 / conftest PASSWORD
    form = client.get("/holder/sign-in")
    response = client.post(
        "/holder/sign-in",
        data={
            "csrf_token": csrf_of(form.text),
            "username": "issuing_officer1",
            "password": "correct horse battery staple",
        },
    )
    assert response.status_code == 401
