"""Browser tests: a node served on a loopback port, and one headless Chromium (Debian's
``chromium`` and ``chromium-driver``) driven by Selenium for the whole session.

Without a browser (or without axe-core, installed by ``make`` into
``tests/browser/node_modules``) the tests skip with the reason on a developer's
machine; under CI (``CI=true``) they fail instead, so CI never passes without them.

Screenshots are saved under ``var/screenshots/``; with ``REGISTRY_DOCS_SCREENSHOTS=1``
(``make screenshots``) the ones README shows are also written to ``docs/screenshots/``."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.app import create_app
from registry.database import Database
from registry.verifier import Verifier
from tests.conftest import CHEAP_PASSWORDS, Actors, MutableClock, issue_row, node_settings, resident_id
from tests.loopback import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("REGISTRY_CHROMEDRIVER", "/usr/bin/chromedriver"))
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HOLDER_USERNAME = "chen.jing"
HOLDER_PASSWORD = "a long enough holder passphrase"
OFFICER_USERNAME = "officer.liu"
CLERK_USERNAME = "wang.fang"
OFFICER_PASSWORD = "a long enough officer passphrase"


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail under CI, where the tests must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run; .ci/run installs what they need)")
    pytest.skip(reason)


@dataclass
class LiveNode:
    url: str
    app: Any
    credential: dict[str, Any]
    vc_file: Path
    vc_jwt: str
    code: str
    revoked_file: Path
    hr_key: str = ""

    def qr_link(self, code: str | None = None) -> str:
        number = self.credential["certificateNumber"]
        return f"{self.url}/verify?number={number}&code={code or self.code}"


@pytest.fixture(scope="session")
def live_node(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveNode]:
    """A node on a loopback port with one holder (an account, a title, a verification
    code) and a revoked title of another holder."""
    folder = tmp_path_factory.mktemp("browser-node")
    shutil.copy(sqlite_template, folder / "registry.db")
    url = f"sqlite:///{folder / 'registry.db'}"
    db = Database.from_url(url)
    app = create_app(
        node_settings(folder, url),
        MutableClock(),
        database=db,
        passwords=CHEAP_PASSWORDS,
        run_migrations=False,
        verifier=Verifier(workers=1),
    )
    api = TestClient(app)
    officer = Actors(app).officer()
    issued = api.post(
        "/v1/credentials", json=issue_row(holderName="陈静", idNumber=resident_id(1)), headers=officer
    ).json()
    activation = api.post(f"/v1/holders/{issued['holderId']}/activation-codes", headers=officer).json()
    registered = api.post(
        "/v1/holder/registration",
        json={
            "idType": "resident",
            "idNumber": resident_id(1),
            "activationCode": activation["activationCode"],
            "username": HOLDER_USERNAME,
            "password": HOLDER_PASSWORD,
        },
    )
    assert registered.status_code == 201, registered.text
    token = api.post("/v1/auth/token", json={"username": HOLDER_USERNAME, "password": HOLDER_PASSWORD}).json()
    holder = {"Authorization": f"Bearer {token['access_token']}"}
    code = api.post(f"/v1/holder/credentials/{issued['id']}/verification-codes", headers=holder).json()
    vc_jwt = api.get(f"/v1/holder/credentials/{issued['id']}?format=vc-jwt", headers=holder).text
    revoked = api.post(
        "/v1/credentials", json=issue_row(holderName="韩梅", idNumber=resident_id(2)), headers=officer
    ).json()
    api.post(
        f"/v1/credentials/{revoked['id']}/revocation",
        json={"reasonCode": "research_misconduct"},
        headers=officer,
    ).raise_for_status()
    files = tmp_path_factory.mktemp("credential-files")
    vc_file = files / f"{issued['certificateNumber']}.vc.json"
    vc_file.write_text(json.dumps(issued["verifiableCredential"], ensure_ascii=False), encoding="utf-8")
    revoked_file = files / "revoked-title.vc.json"
    revoked_file.write_text(json.dumps(revoked["verifiableCredential"], ensure_ascii=False), encoding="utf-8")
    from registry.accounts import create_account, create_hr_client
    from registry.auth import Principal

    node = app.state.node
    admin = Principal("cli", "tests", "admin")
    with node.db.session() as session:
        create_account(
            session,
            node.passwords,
            admin,
            OFFICER_USERNAME,
            OFFICER_PASSWORD,
            "issuing_officer",
            node.clock(),
        )
        hr_client, hr_key = create_hr_client(
            session, admin, "苏州工业园区人才服务中心", ["verify", "lookup"], 10_000, node.clock()
        )
        create_account(
            session,
            node.passwords,
            admin,
            CLERK_USERNAME,
            OFFICER_PASSWORD,
            "hr_clerk",
            node.clock(),
            hr_client_id=hr_client.id,
        )
    with serve_in_thread(app) as port:
        yield LiveNode(
            f"http://127.0.0.1:{port}",
            app,
            issued,
            vc_file,
            vc_jwt,
            code["verificationCode"],
            revoked_file,
            hr_key,
        )
    db.dispose()


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


def chromium(downloads: Path, *, accept_insecure_certs: bool = False) -> Any:
    """A headless Chromium from Debian's packages, asking for Chinese first (as most of
    the registry's users do; tests change language with the page's own switch), saving
    downloads in ``downloads``; ``accept_insecure_certs``: trusting any certificate
    (the demo certificate authority's)."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        unavailable(
            f"no browser: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=zh-CN",
    ):
        options.add_argument(argument)
    if accept_insecure_certs:
        options.set_capability("acceptInsecureCerts", True)
    options.add_experimental_option(
        "prefs",
        {
            "intl.accept_languages": "zh-CN,zh",
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
        },
    )
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    return driver


@pytest.fixture(scope="session")
def browser(downloads: Path) -> Iterator[Any]:
    """One headless Chromium for the session."""
    driver = chromium(downloads)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: Any, live_node: LiveNode) -> Any:
    """The browser, with no cookies left from an earlier test."""
    browser.get(live_node.url + "/static/style.css")
    browser.delete_all_cookies()
    return browser


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        unavailable(
            f"axe-core is not installed at {AXE} (make browser-deps runs npm install in tests/browser)"
        )
    return AXE.read_text(encoding="utf-8")
