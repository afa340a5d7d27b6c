"""The desks end to end in headless Chromium: the officer desk (a batch with an error,
corrected, issued with its progress, then a revocation), the HR desk (a ZIP verified
in the background, its results downloaded as CSV, one file verified), and the
holder's verification codes (a single-use code used once, a code revoked), with an
axe-core check (no serious or critical violations) on every page."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.conftest import CLERK_USERNAME, OFFICER_PASSWORD, OFFICER_USERNAME, LiveNode
from tests.browser.test_pages_in_browser import (
    assert_accessible,
    html_lang,
    screenshot,
    sign_in,
    submit,
    switch_to,
    text,
    verdict,
    wait_for,
)
from tests.conftest import resident_id

HEADER = (
    "姓名 / Holder name,证件类型 / ID type,证件号码 / ID number,类型代码 / Type code,专业 / Specialty,"
    "评审委员会 / Evaluation committee,取得日期 / Awarded on"
)


def batch_file(folder: Path, rows: list[tuple[str, int, str]]) -> Path:
    lines = [HEADER] + [
        f"{name},居民身份证,{resident_id(seed)},{code},电气工程及其自动化,"
        f"江苏省工程技术研究系列高级职称评审委员会,2026/6/30"
        for name, seed, code in rows
    ]
    path = folder / "eval-2026-browser.csv"
    path.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def wait_present(driver: Any, selector: str, seconds: float = 20) -> None:
    WebDriverWait(driver, seconds).until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))


def test_the_officer_desk(page: Any, live_node: LiveNode, axe_source: str, tmp_path: Path) -> None:
    page.get(live_node.url + "/officer")
    assert page.current_url.endswith("/officer/sign-in")
    assert_accessible(page, axe_source)
    page.find_element(By.ID, "username").send_keys(OFFICER_USERNAME)
    page.find_element(By.ID, "password").send_keys(OFFICER_PASSWORD)
    submit(page, page.find_element(By.CSS_SELECTOR, "main form button"))
    assert page.current_url.endswith("/officer")
    assert_accessible(page, axe_source)
    rows = [("刘洋", 501, "ENG-ASSOCIATE_SENIOR"), ("黄磊", 502, "ENG-NO-SUCH-LEVEL")]
    page.find_element(By.ID, "batch-file").send_keys(str(batch_file(tmp_path, rows)))
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/officer/batches'] button"))
    assert "2 行中有 1 行有错误" in text(page, "#batch-rejected")
    assert "ENG-NO-SUCH-LEVEL" in text(page, "table.row-errors") or "类型代码" in text(
        page, "table.row-errors"
    )
    assert not page.find_elements(By.ID, "issue-button")  # nothing can be issued yet
    assert_accessible(page, axe_source)
    screenshot(page, "officer-preview-errors-zh", docs=True)
    submit(page, page.find_element(By.LINK_TEXT, "上传更正后的文件"))
    rows[1] = ("黄磊", 502, "ENG-ASSOCIATE_SENIOR")
    page.find_element(By.ID, "batch-file").send_keys(str(batch_file(tmp_path, rows)))
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/officer/batches'] button"))
    assert "全部 2 行均正确" in text(page, "#batch-ready")
    assert_accessible(page, axe_source)
    submit(page, page.find_element(By.ID, "issue-button"))
    assert page.current_url.endswith("/officer/batches/eval-2026-browser")
    wait_present(page, "#batch-done")
    assert page.find_element(By.ID, "progress").get_attribute("value") == "2"
    numbers = [e.text for e in page.find_elements(By.CSS_SELECTOR, "table.batch-numbers td.mono")]
    assert len(numbers) == 2
    assert_accessible(page, axe_source)
    screenshot(page, "officer-batch-done-zh")
    page.get(live_node.url + "/officer?lang=en")
    page.find_element(By.ID, "status-number").send_keys(numbers[0])
    page.find_element(By.CSS_SELECTOR, "input[name=action][value=revoke]").click()
    Select(page.find_element(By.ID, "status-reason")).select_by_value("revoke:research_misconduct")
    page.find_element(By.ID, "status-note").send_keys("Decision 2026-17")
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/officer/status'] button"))
    assert f"Credential {numbers[0]} is revoked." in text(page, "#notice")
    assert html_lang(page) == "en"
    assert_accessible(page, axe_source)
    screenshot(page, "officer-revoked-en")


def test_the_hr_desk(
    page: Any, live_node: LiveNode, axe_source: str, downloads: Path, tmp_path: Path
) -> None:
    page.get(live_node.url + "/hr")
    assert page.current_url.endswith("/hr/sign-in")
    assert_accessible(page, axe_source)
    page.find_element(By.ID, "api-key").send_keys(live_node.hr_key)
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/hr/sign-in'] button"))
    assert page.current_url.endswith("/hr")
    assert "苏州工业园区人才服务中心" in text(page, ".holder-bar")
    assert_accessible(page, axe_source)
    archive = tmp_path / "入职核验.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(live_node.vc_file, "陈静.vc.json")
        z.write(live_node.revoked_file, "韩梅.vc.json")
        z.writestr("说明.txt", "not a credential")
    page.find_element(By.ID, "batch-file").send_keys(str(archive))
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/hr/jobs'] button"))
    assert "/hr/jobs/" in page.current_url
    wait_present(page, "#job-done")
    assert "1 份有效，2 份无效" in text(page, "#job-done")
    results = text(page, "table.results")
    assert "陈静" in results
    assert "撤销" in results  # the revoked title, with its reason
    assert_accessible(page, axe_source)
    screenshot(page, "hr-results-zh", docs=True)
    page.find_element(By.ID, "results-csv").click()
    saved = wait_for(downloads / "入职核验-核验结果.csv")
    content = saved.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert table[0][1] == "结论 / Verdict"
    assert {row[0]: row[1] for row in table[1:]}["陈静.vc.json"] == "有效"
    page.get(live_node.url + "/hr")
    switch_to(page, "English")
    page.find_element(By.ID, "file").send_keys(str(live_node.vc_file))
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/hr/verify'] button"))
    assert verdict(page) == "valid"
    assert_accessible(page, axe_source)
    # A clerk of the same department signs in with their own account instead of the key.
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/hr/sign-out'] button"))
    assert page.current_url.endswith("/hr/sign-in")
    page.find_element(By.ID, "clerk-username").send_keys(CLERK_USERNAME)
    page.find_element(By.ID, "clerk-password").send_keys(OFFICER_PASSWORD)
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/hr/sign-in/clerk'] button"))
    assert page.current_url.endswith("/hr")
    assert f"苏州工业园区人才服务中心 · {CLERK_USERNAME}" in text(page, ".holder-bar")
    assert_accessible(page, axe_source)


def test_a_holder_makes_a_single_use_code_and_revokes_one(
    page: Any, live_node: LiveNode, axe_source: str
) -> None:
    sign_in(page, live_node)
    page.find_element(By.CSS_SELECTOR, ".inline-form input[name=use][value=single]").click()
    submit(page, page.find_element(By.CSS_SELECTOR, ".inline-form button"))
    assert "仅限一次" in text(page, "#new-code")
    link = page.find_element(By.CSS_SELECTOR, "#new-code a").get_attribute("href")
    assert_accessible(page, axe_source)
    screenshot(page, "holder-codes-zh")
    page.get(link)
    assert verdict(page) == "valid"
    page.get(link)  # used once: a second look-up fails
    assert "没有与该证书编号和有效核验码相符的证书" in text(page, "[role=alert]")
    page.get(live_node.url + "/holder?lang=en")
    states = [
        r.get_attribute("data-code-state")
        for r in page.find_elements(By.CSS_SELECTOR, "table.codes tr[data-code-state]")
    ]
    assert states[0] == "used"
    page.find_element(By.CSS_SELECTOR, ".inline-form input[name=use][value=multi]").click()
    submit(page, page.find_element(By.CSS_SELECTOR, ".inline-form button"))
    newest = page.find_element(By.CSS_SELECTOR, "table.codes tbody tr")
    assert newest.get_attribute("data-code-state") == "active"
    submit(page, newest.find_element(By.CSS_SELECTOR, "button"))
    assert "revoked" in text(page, "#notice")
    assert (
        page.find_element(By.CSS_SELECTOR, "table.codes tbody tr").get_attribute("data-code-state")
        == "revoked"
    )
    assert_accessible(page, axe_source)
    screenshot(page, "holder-codes-en")
