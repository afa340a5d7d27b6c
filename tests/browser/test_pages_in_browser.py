"""The pages end to end in headless Chromium, in both languages: the verification page
(upload, paste, QR link, look-up with a code), the holder portal (sign-in, downloads,
a verification code, the activity), keyboard use, and an axe-core accessibility check
(no serious or critical violations) on every page."""

from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path
from typing import Any

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.conftest import (
    DOCS_SCREENSHOTS,
    HOLDER_PASSWORD,
    HOLDER_USERNAME,
    SCREENSHOTS,
    LiveNode,
)

AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]})
  .then(r => done(r.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))))
  .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), nodes: []}]));
"""


def screenshot(driver: Any, name: str, *, docs: bool = False) -> Path:
    """The whole page as ``var/screenshots/<name>.png`` (and, for README's pictures
    under ``make screenshots``, ``docs/screenshots/<name>.png``)."""
    height = max(900, min(int(driver.execute_script("return document.documentElement.scrollHeight")), 4000))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # The whole page through the DevTools protocol: headless Chromium caps the window at
    # its screen's height, so a resized window would cut a long page off.
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    if docs and os.environ.get("REGISTRY_DOCS_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_SCREENSHOTS / path.name)
    return path


def assert_accessible(driver: Any, axe_source: str) -> None:
    driver.execute_script(axe_source)
    violations = driver.execute_async_script(AXE_RUN)
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{driver.current_url}: {serious}"


def submit(driver: Any, element: Any, key: str | None = None) -> None:
    """Click ``element`` (or press ``key`` in it) and wait until the next page is there.

    The old page is marked on its ``window`` (a navigation makes a new one) and the wait
    is for a complete document without the mark. Asking Chromium about an element of the
    old page while it is being replaced can fail with an inspector error rather than a
    stale reference (seen in CI), so errors while the page changes count as "not yet"."""
    driver.execute_script("window.registryOldPage = true;")
    if key is None:
        element.click()
    else:
        element.send_keys(key)
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return !window.registryOldPage && document.readyState === 'complete';")
    )


def text(driver: Any, selector: str) -> str:
    value: str = driver.find_element(By.CSS_SELECTOR, selector).text
    return value


def html_lang(driver: Any) -> str:
    lang: str = driver.find_element(By.TAG_NAME, "html").get_attribute("lang")
    return lang


def switch_to(driver: Any, label: str) -> None:
    submit(driver, driver.find_element(By.CSS_SELECTOR, ".lang-switch").find_element(By.LINK_TEXT, label))


def verdict(driver: Any) -> str:
    value: str = driver.find_element(By.ID, "verdict").get_attribute("data-verdict")
    return value


def test_the_verification_page_in_both_languages(page: Any, live_node: LiveNode, axe_source: str) -> None:
    page.get(live_node.url + "/verify")
    assert html_lang(page) == "zh-CN"  # the browser asks for Chinese
    assert text(page, "h1") == "核验证书"
    assert page.execute_script("return document.scripts.length") == 0  # works without JavaScript
    assert_accessible(page, axe_source)
    screenshot(page, "verify-zh", docs=True)
    switch_to(page, "English")
    assert html_lang(page) == "en"
    assert text(page, "h1") == "Verify a credential"
    assert_accessible(page, axe_source)
    screenshot(page, "verify-en", docs=True)
    page.get(live_node.url + "/verify")  # the choice is remembered
    assert html_lang(page) == "en"


def test_the_keyboard_reaches_the_skip_link_first(page: Any, live_node: LiveNode) -> None:
    page.get(live_node.url + "/verify")
    page.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    active = page.switch_to.active_element
    assert active.get_attribute("class") == "skip-link"
    active.send_keys(Keys.ENTER)  # same page: an anchor
    assert page.current_url.endswith("#main")


def test_an_uploaded_file_in_both_languages(page: Any, live_node: LiveNode, axe_source: str) -> None:
    page.get(live_node.url + "/verify?lang=zh-CN")
    page.find_element(By.ID, "file").send_keys(str(live_node.vc_file))
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/verify'] button"))
    assert verdict(page) == "valid"
    assert text(page, ".verdict-word") == "有效"
    facts = text(page, ".facts")
    assert "高级工程师" in facts
    assert live_node.credential["certificateNumber"] in facts
    assert "江苏省" in facts
    assert_accessible(page, axe_source)
    screenshot(page, "verify-result-zh", docs=True)
    switch_to(page, "English")
    page.find_element(By.ID, "file").send_keys(str(live_node.revoked_file))
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/verify'] button"))
    assert verdict(page) == "invalid"
    assert text(page, ".verdict-word") == "Invalid"
    assert "revoked" in text(page, "#credential-status").lower()
    assert_accessible(page, axe_source)
    screenshot(page, "verify-result-revoked-en")


def test_a_pasted_jwt(page: Any, live_node: LiveNode) -> None:
    page.get(live_node.url + "/verify?lang=en")
    field = page.find_element(By.ID, "credential")
    page.execute_script("arguments[0].value = arguments[1]", field, live_node.vc_jwt)  # as if pasted
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/verify'] button"))
    assert verdict(page) == "valid"
    assert "VC-JWT" in text(page, "table.checks caption")


def test_the_qr_link_and_a_look_up_with_a_code(page: Any, live_node: LiveNode, axe_source: str) -> None:
    page.get(live_node.qr_link())
    assert verdict(page) == "valid"
    assert "陈*" in text(page, ".facts")  # the holder's name only in part
    assert "陈静" not in page.page_source
    assert_accessible(page, axe_source)
    page.get(live_node.url + "/verify?lang=en")
    page.find_element(By.ID, "number").send_keys(live_node.credential["certificateNumber"])
    code = page.find_element(By.ID, "code")
    code.send_keys("ZZZZ-ZZZZ-ZZ")
    submit(page, code, Keys.ENTER)  # submitted from the keyboard
    assert "No credential has this certificate number" in text(page, "[role=alert]")
    code = page.find_element(By.ID, "code")
    code.clear()
    code.send_keys(live_node.code)
    submit(page, code, Keys.ENTER)
    assert verdict(page) == "valid"
    screenshot(page, "verify-lookup-en")


def wait_for(path: Path, seconds: float = 10) -> Path:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} was not downloaded"
        time.sleep(0.05)
    return path


def sign_in(driver: Any, live_node: LiveNode) -> None:
    driver.get(live_node.url + "/holder")
    assert driver.current_url.endswith("/holder/sign-in")
    driver.find_element(By.ID, "username").send_keys(HOLDER_USERNAME)
    password = driver.find_element(By.ID, "password")
    password.send_keys(HOLDER_PASSWORD)
    submit(driver, password, Keys.ENTER)
    assert driver.current_url.endswith("/holder")


def test_the_holder_portal(page: Any, live_node: LiveNode, downloads: Path, axe_source: str) -> None:
    page.get(live_node.url + "/holder/sign-in?lang=en")
    page.find_element(By.ID, "username").send_keys(HOLDER_USERNAME)
    page.find_element(By.ID, "password").send_keys("not the password")
    submit(page, page.find_element(By.CSS_SELECTOR, "form button"))
    assert "wrong" in text(page, "[role=alert]")
    assert_accessible(page, axe_source)
    sign_in(page, live_node)
    number = live_node.credential["certificateNumber"]
    assert number in text(page, ".credential")
    assert_accessible(page, axe_source)
    screenshot(page, "holder-en", docs=True)
    for link in page.find_elements(By.CSS_SELECTOR, ".downloads a"):
        link.click()
    assert '"proof"' in wait_for(downloads / f"{number}.vc.json").read_text(encoding="utf-8")
    assert wait_for(downloads / f"{number}.vc.jwt").read_text(encoding="ascii").count(".") == 2
    pdf = wait_for(downloads / f"{number}.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    submit(page, page.find_element(By.CSS_SELECTOR, ".inline-form button"))
    made = text(page, "#new-code")
    assert "New verification code" in made
    link = page.find_element(By.CSS_SELECTOR, "#new-code a").get_attribute("href")
    switch_to(page, "中文")
    assert text(page, "h1") == "我的证书"
    assert_accessible(page, axe_source)
    screenshot(page, "holder-zh", docs=True)
    page.get(link)  # the employer's link works
    assert verdict(page) == "valid"
    page.get(live_node.url + "/verify")  # and so does the PDF certificate, uploaded
    page.find_element(By.ID, "file").send_keys(str(pdf))
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/verify'] button"))
    assert verdict(page) == "valid"
    assert "PDF 证书（已核验其内嵌的 VC JSON）" in page.page_source
    page.get(live_node.url + "/holder/activity")
    rows = text(page, "table.activity")
    assert "凭核验码查询" in rows
    assert "公共核验页面" in rows
    assert_accessible(page, axe_source)
    screenshot(page, "holder-activity-zh", docs=True)
    submit(page, page.find_element(By.CSS_SELECTOR, ".sign-out button"))
    assert page.current_url.endswith("/holder/sign-in")
    page.get(live_node.url + "/holder")
    assert page.current_url.endswith("/holder/sign-in")
