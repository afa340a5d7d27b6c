"""Recognition in a real browser, across a real federation on loopback: a trust anchor,
the Jiangsu node and the Anhui node, each an app served by uvicorn over https (the
demo's certificate authority: ``did:web`` means https) on its own port with its own
SQLite database, reaching one another through the peer client. A
Jiangsu holder applies in the portal for recognition in Anhui; an Anhui officer decides
at the desk; the holder follows it and the Anhui verification page answers in Anhui's
terms. Each page passes the axe-core check in both languages."""

from __future__ import annotations

import json
import shutil
import ssl
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By

from registry.accounts import create_account
from registry.app import create_app
from registry.auth import Principal
from registry.database import Database
from registry.federation.jws import federation_jwks
from registry.federation.tls import write_demo_tls
from registry.settings import Settings
from registry.verifier import Verifier
from tests.browser.test_pages_in_browser import assert_accessible, screenshot, submit, text
from tests.conftest import CHEAP_PASSWORDS, MutableClock, issue_row, resident_id
from tests.loopback import bound_socket, serve_in_thread

PASSWORD = "a long enough passphrase for the desk"
ADMIN = Principal("cli", "browser-tests", "admin")


@dataclass
class LiveFederation:
    anchor: str
    jiangsu: str
    anhui: str
    clock: MutableClock
    credential: dict[str, Any]


def _app(
    folder: Path, url: str, province: str, clock: MutableClock, template: Path, ca_file: Path, **extra: Any
) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, folder / "registry.db")
    database = f"sqlite:///{folder / 'registry.db'}"
    settings = Settings(
        data_dir=folder,
        base_url=url,
        province=province,  # type: ignore[arg-type]
        database_url=database,
        federation_allow_private=True,
        federation_ca_file=str(ca_file),
        **extra,
    )
    return create_app(
        settings,
        clock,
        database=Database.from_url(database),
        passwords=CHEAP_PASSWORDS,
        run_migrations=False,
        verifier=Verifier(workers=1),
    )


def _account(app: Any, username: str, role: str, holder_id: str | None = None) -> None:
    node = app.state.node
    with node.db.session() as session:
        create_account(
            session, node.passwords, ADMIN, username, PASSWORD, role, node.clock(), holder_id=holder_id
        )


def _token(http: httpx.Client, url: str, username: str) -> dict[str, str]:
    answer = http.post(f"{url}/v1/auth/token", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _federation_keys(app: Any) -> dict[str, Any]:
    node = app.state.node
    with node.db.session(write=False) as session:
        ring = node.federation_keys.load(session)
    return federation_jwks(*(r.public_key for r in ring.valid_at(node.clock())))


@pytest.fixture(scope="module")
def live_federation(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[LiveFederation]:
    folder = tmp_path_factory.mktemp("browser-federation")
    clock = MutableClock(datetime.now(UTC).replace(microsecond=0))
    tls = write_demo_tls(folder / "tls", ["anchor", "js", "ah"], now=clock())
    tls_names = {"anchor": "anchor", "32": "js", "34": "ah"}
    sockets = {name: bound_socket() for name in ("anchor", "32", "34")}
    urls = {name: f"https://127.0.0.1:{sock.getsockname()[1]}" for name, sock in sockets.items()}
    anchor = _app(folder / "anchor", urls["anchor"], "31", clock, sqlite_template, tls.ca_file, role="anchor")
    anchor_keys = json.dumps(_federation_keys(anchor))
    nodes = {
        province: _app(
            folder / province,
            urls[province],
            province,
            clock,
            sqlite_template,
            tls.ca_file,
            trust_anchor=urls["anchor"],
            trust_anchor_jwks=anchor_keys,
        )
        for province in ("32", "34")
    }
    _account(anchor, "anchor.admin", "admin")
    for province, app in nodes.items():
        _account(app, f"admin.{province}", "admin")
        _account(app, f"officer.{province}", "issuing_officer")
    with (
        ExitStack() as stack,
        httpx.Client(timeout=30, verify=ssl.create_default_context(cafile=str(tls.ca_file))) as http,
    ):
        for name, app in {"anchor": anchor, **nodes}.items():
            stack.enter_context(
                serve_in_thread(
                    app,
                    sockets[name],
                    ssl_certfile=str(tls.cert_files[tls_names[name]]),
                    ssl_keyfile=str(tls.key_files[tls_names[name]]),
                    # The app's own start and end: its peer client is closed in its loop.
                    lifespan="on",
                )
            )
        admin = _token(http, urls["anchor"], "anchor.admin")
        for province, app in nodes.items():
            admitted = http.post(
                f"{urls['anchor']}/v1/federation/members",
                json={
                    "entityId": urls[province],
                    "did": app.state.node.did,
                    "province": province,
                    "jwks": _federation_keys(app),
                },
                headers=admin,
            )
            assert admitted.status_code == 201, admitted.text
            granted = http.post(
                f"{urls['anchor']}/v1/federation/authorisations",
                json={"entityId": urls[province], "scope": "*", "validFrom": "2020-01-01T00:00:00Z"},
                headers=admin,
            )
            assert granted.status_code == 201, granted.text
        officer = _token(http, urls["32"], "officer.32")
        issued = http.post(
            f"{urls['32']}/v1/credentials",
            json=issue_row(holderName="周敏", idNumber=resident_id(811)),
            headers=officer,
        )
        assert issued.status_code == 201, issued.text
        credential = issued.json()
        _account(nodes["32"], "zhou.min", "holder", holder_id=credential["holderId"])
        published = http.put(
            f"{urls['34']}/v1/recognition/policy",
            json={"rules": [{"issuerProvince": "32", "credentialType": "*", "validFrom": "2020-01-01"}]},
            headers=_token(http, urls["34"], "admin.34"),
        )
        assert published.status_code == 201, published.text
        yield LiveFederation(urls["anchor"], urls["32"], urls["34"], clock, credential)


@pytest.fixture(scope="module")
def tls_browser(downloads: Path) -> Iterator[Any]:
    """Headless Chromium as the session's, trusting the demo's certificates (made for
    this module: the shared browser is not told to)."""
    from tests.browser.conftest import chromium

    driver = chromium(downloads, accept_insecure_certs=True)
    try:
        yield driver
    finally:
        driver.quit()


def _sign_in(driver: Any, url: str, desk: str, username: str) -> None:
    driver.get(f"{url}/{desk}/sign-in")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main form button"))
    assert not driver.current_url.endswith("/sign-in"), text(driver, "main")


def test_a_holder_applies_and_an_anhui_officer_decides_in_the_browser(
    tls_browser: Any, live_federation: LiveFederation, axe_source: str
) -> None:
    browser = tls_browser
    fed, number = live_federation, live_federation.credential["certificateNumber"]
    browser.get(fed.jiangsu + "/static/style.css")
    browser.delete_all_cookies()
    _sign_in(browser, fed.jiangsu, "holder", "zhou.min")
    browser.get(fed.jiangsu + "/holder/recognition")
    assert number in text(browser, "#credential")
    assert_accessible(browser, axe_source)
    browser.find_element(By.CSS_SELECTOR, "#province option[value='34']").click()
    browser.find_element(By.ID, "statement").send_keys("拟调入合肥某研究所工作")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#apply-form button"))
    assert browser.find_elements(By.ID, "notice"), text(browser, "main")
    assert "申请已发出" in text(browser, "#notice")
    assert "审核中" in text(browser, "#applications")
    assert_accessible(browser, axe_source)
    screenshot(browser, "holder-recognition-zh", docs=True)

    # Cookies are per host, not per port: the officer signs in on the same browser.
    _sign_in(browser, fed.anhui, "officer", "officer.34")
    browser.get(fed.anhui + "/officer/recognition?lang=en")
    assert number in text(browser, "main")
    assert_accessible(browser, axe_source)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form[action$='/decision'] button"))
    assert "recognised" in text(browser, "#notice")
    assert number in text(browser, "#decided")
    assert_accessible(browser, axe_source)

    fed.clock.advance(seconds=31)  # the holder's node asks again after 30 s
    _sign_in(browser, fed.jiangsu, "holder", "zhou.min")
    browser.get(fed.jiangsu + "/holder/recognition?lang=en")
    row = text(browser, "#applications")
    assert "Recognised" in row
    assert "Recognised as Senior engineer." in row
    assert browser.find_elements(By.CSS_SELECTOR, "#applications a[download]")
    assert_accessible(browser, axe_source)
    screenshot(browser, "holder-recognition-en", docs=True)

    # The Jiangsu title, verified on Anhui's public page, is answered in Anhui's terms.
    browser.get(fed.anhui + "/verify?lang=zh-CN")
    field = browser.find_element(By.ID, "credential")
    pasted = json.dumps(fed.credential["verifiableCredential"], ensure_ascii=False)
    browser.execute_script("arguments[0].value = arguments[1]", field, pasted)  # as if pasted
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form[action='/verify'] button"))
    assert "在安徽省认可为高级工程师（认可政策第1版）。" in text(browser, ".result")
    assert_accessible(browser, axe_source)
