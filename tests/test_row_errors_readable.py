"""Row errors of an evaluation batch in the officer's language (issue 9: answers a person
can read): every kind of error the issuance path gives in English is shown in Chinese on
a Chinese page, with its values, and in English on an English one."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.credentials import issuance
from registry.credentials.errors import BatchRejectedError
from registry.routes.issuance import context
from registry.web import row_errors
from tests.conftest import Actors, issue_row, resident_id
from tests.test_web_desks import HEADER, officer_session
from tests.test_web_pages import csrf_of, text_of

CJK = re.compile(r"[\u4e00-\u9fff]")


def bad_rows() -> list[dict[str, Any]]:
    """One row for each kind of error (several rows carry several)."""
    good = resident_id(1)
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    return [
        {**issue_row(idNumber=resident_id(2)), "holderName": ""},  # too short
        {k: v for k, v in issue_row(idNumber=resident_id(3)).items() if k != "evaluationCommittee"},
        issue_row(idNumber=resident_id(4), holderName="x" * 129),  # too long
        issue_row(idNumber=resident_id(5), idType="driving-licence"),
        issue_row(idNumber=resident_id(6), awardedOn="2026-02-30"),  # not a calendar date
        issue_row(idNumber=resident_id(7), awardedOn="yesterday"),
        issue_row(idNumber=resident_id(8), awardedOn="1900-01-01"),
        issue_row(idNumber=resident_id(9), validFrom="2026-06-30T00:00:00"),  # no offset
        issue_row(idNumber=resident_id(10), validUntil="2001-01-01T00:00:00Z"),  # before validFrom
        issue_row(idNumber=resident_id(11), awardedOn="2099-01-01"),  # after today
        issue_row(idNumber=resident_id(12), typeCode="NO-SUCH-TYPE"),
        issue_row(idNumber=wrong_check),
        issue_row(idNumber="12345"),  # not 17 digits
        issue_row(idNumber="11010519491331002X"),  # no such birth date
        issue_row(idType="passport", idNumber="E1234!"),
        issue_row(idNumber=resident_id(13), holderName="=SUM(A1)"),
        issue_row(idNumber=resident_id(14), holderName="张\u200b三"),
        issue_row(idNumber=resident_id(15), specialty=None),  # the type needs one
        issue_row(idNumber=resident_id(16)),
        issue_row(idNumber=resident_id(16)),  # same holder and type as the row before
        {**issue_row(idNumber=resident_id(17)), "shoeSize": "42"},
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_row_error_of_the_issuance_path_reads_in_chinese_and_english(app: Any) -> None:
    node = app.state.node
    with node.db.session(write=False) as session, pytest.raises(BatchRejectedError) as caught:
        issuance.validate_batch(session, bad_rows(), context(node, session))
    messages = {e["message"] for e in caught.value.extensions["errors"]}
    assert len(messages) >= 18
    untranslated = [m for m in messages if not CJK.search(row_errors.readable(m, "zh_CN"))]
    assert untranslated == []
    english = [row_errors.readable(m, "en") for m in messages]
    # English, but for a type's own name, shown as the catalogue has it: (高级工程师).
    assert not [m for m in english if CJK.search(re.sub(r"\([^)]*\)", "", m))]


def test_a_message_of_no_known_form_is_shown_as_it_is() -> None:
    assert row_errors.readable("something new went wrong", "zh_CN") == "something new went wrong"


def test_the_officer_desk_shows_row_errors_in_chinese(client: TestClient, actors: Actors) -> None:
    officer_session(client, actors)
    home = client.get("/officer")
    lines = [
        HEADER,
        f"王五,resident,{resident_id(31)},NO-SUCH-TYPE,电气工程及其自动化,江苏省工程技术研究系列高级职称评审委员会,2026-06-30",
        f"赵六,resident,{resident_id(32)},ENG-ASSOCIATE_SENIOR,电气工程及其自动化,江苏省工程技术研究系列高级职称评审委员会,2026/02/30",
    ]
    data = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
    preview = client.post(
        "/officer/batches",
        data={"csrf_token": csrf_of(home.text)},
        files={"file": ("b.csv", data, "text/csv")},
    )
    assert preview.status_code == 422
    text = text_of(preview.text)
    assert "目录中没有类型 NO-SUCH-TYPE" in text
    assert "2026/02/30 不是有效的日历日期" in text
    english = client.post(
        "/officer/batches",
        data={"csrf_token": csrf_of(home.text)},
        files={"file": ("b.csv", data, "text/csv")},
        headers={"Accept-Language": "en"},
    )
    assert "No type NO-SUCH-TYPE in the catalogue" in text_of(english.text)
