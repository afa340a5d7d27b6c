"""CSV batches as offices make them (issue 9, point 5): Chinese and English headers,
GB18030 files, dates with slashes, every error of every row with the file's own line
numbers, the template, the CLI, and the column documentation."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, func, select

from registry.cli import main
from registry.credentials import batch_csv
from registry.credentials.issuance import IssueRequest
from registry.database import Database
from registry.errors import InvalidInputError
from registry.models import Credential
from registry.settings import Settings
from tests.conftest import Actors, resident_id

PROBLEM_JSON = "application/problem+json"
README = Path(__file__).resolve().parents[1] / "README.md"
ZH_HEADER = "姓名,证件类型,证件号码,类型代码,专业,评审委员会,取得日期"
#: A resident ID number whose check character is wrong (the right one is X).
WRONG_CHECK = "110105194912310021"


def count(client: TestClient) -> int:
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        return int(session.exec(select(func.count()).select_from(Credential)).one())


def put_csv(
    client: TestClient, actors: Actors, batch_id: str, body: bytes, content_type: str = "text/csv"
) -> Any:
    return client.put(
        f"/v1/issuance/batches/{batch_id}",
        content=body,
        headers={**actors.officer(), "Content-Type": content_type},
    )


def subject(client: TestClient, actors: Actors, credential_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/credentials/{credential_id}", headers=actors.officer())
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["verifiableCredential"]["credentialSubject"]
    return found


def zh_line(seed: int, name: str = "", awarded: str = "2026-11-20", **cells: str) -> str:
    values = {
        "name": name or f"持证人{seed}",
        "idType": "居民身份证",
        "idNumber": resident_id(seed),
        "typeCode": "ENG-INTERMEDIATE",
        "specialty": "电气工程及其自动化",
        "committee": "江苏省工程技术研究系列中级职称评审委员会",
        "awarded": awarded,
    } | cells
    return ",".join(values.values()) + "\r\n"


# --- headers ---------------------------------------------------------------------------------------------


def test_chinese_headers_and_id_type_words_are_accepted(client: TestClient, actors: Actors) -> None:
    body = ZH_HEADER + "\r\n" + zh_line(1) + zh_line(2).replace("居民身份证", "resident")
    response = put_csv(client, actors, "zh-headers", body.encode("utf-8"))
    assert response.status_code == 201, response.text
    assert response.json()["count"] == 2
    issued = subject(client, actors, response.json()["credentials"][0]["id"])
    assert issued["specialty"] == "电气工程及其自动化"
    assert issued["evaluationCommittee"] == "江苏省工程技术研究系列中级职称评审委员会"


def test_english_headers_in_any_case_and_spacing_are_accepted(client: TestClient, actors: Actors) -> None:
    header = " HOLDER NAME ,id type,Id Number,type code,SPECIALTY,Evaluation Committee,awarded on,Valid Until"
    line = (
        "Mary O'Brien,Passport,E12345678,ENG-INTERMEDIATE,Power systems,评委会,2026-11-20,2030-01-01T00:00Z"
    )
    response = put_csv(client, actors, "en-headers", f"{header}\n{line}\n".encode())
    assert response.status_code == 201, response.text
    record = client.get(
        f"/v1/credentials/{response.json()['credentials'][0]['id']}", headers=actors.officer()
    )
    assert record.json()["verifiableCredential"]["validUntil"] == "2030-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("cell", "name"),
    [
        ("姓名", "holderName"),
        ("holderName", "holderName"),
        ("holder_name", "holderName"),
        ("  Holder   Name ", "holderName"),
        ("\ufeff姓名", "holderName"),
        ("姓名 / Holder name", "holderName"),
        ("姓名（holderName）", "holderName"),
        ("ＩＤ　Ｎｕｍｂｅｒ", "idNumber"),
        ("身份证号码", "idNumber"),
        ("取得日期*", "awardedOn"),
    ],
)
def test_a_header_cell_names_its_column(cell: str, name: str) -> None:
    column = batch_csv.match_header(cell)
    assert column is not None
    assert column.name == name


@pytest.mark.parametrize("cell", ["salary", "姓名 / ID number", "", "证件"])
def test_a_header_cell_that_names_no_one_column_is_unknown(cell: str) -> None:
    assert batch_csv.match_header(cell) is None


def test_a_wrong_header_says_what_is_wrong_and_which_columns_there_are(
    client: TestClient, actors: Actors
) -> None:
    body = "姓名,证件号码,证件号码,类型代码,专业,评审委员会,工资\n".encode()
    response = put_csv(client, actors, "bad-header", body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    detail = response.json()["detail"]
    for part in ("工资", "证件类型 (idType)", "取得日期 (awardedOn)", "named twice", "line 1"):
        assert part in detail


# --- encodings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/csv; charset=gb18030", 'text/csv; charset="GBK"', "text/csv;charset=gb2312", "text/csv"],
)
def test_gb18030_files_are_read_with_or_without_a_charset(
    client: TestClient, actors: Actors, content_type: str
) -> None:
    # 䶮 (U+4DAE) is outside GBK: GB18030 gives it four bytes.
    body = (ZH_HEADER + "\r\n" + zh_line(1, name="王䶮") + zh_line(2, name="欧阳娜娜")).encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    response = put_csv(client, actors, "gb18030", body, content_type)
    assert response.status_code == 201, response.text
    names = [subject(client, actors, c["id"])["name"] for c in response.json()["credentials"]]
    assert names == ["王䶮", "欧阳娜娜"]


def test_utf8_with_a_byte_order_mark_and_excel_line_ends_is_read(client: TestClient, actors: Actors) -> None:
    body = b"\xef\xbb\xbf" + (ZH_HEADER + "\r\n" + zh_line(1)).encode("utf-8")
    response = put_csv(client, actors, "utf8-bom", body, "text/csv; charset=utf-8")
    assert response.status_code == 201, response.text


def test_bytes_that_are_neither_utf8_nor_gb18030_are_a_clear_422(client: TestClient, actors: Actors) -> None:
    body = (ZH_HEADER + "\r\n" + zh_line(1)).encode("utf-8") + b"\xff\xfe,x\r\n"
    response = put_csv(client, actors, "garbage", body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    detail = response.json()["detail"]
    assert "UTF-8" in detail
    assert "GB18030" in detail
    assert "line 3" in detail
    assert "第 3 行" in detail
    assert count(client) == 0


def test_a_declared_charset_is_believed(client: TestClient, actors: Actors) -> None:
    gbk = (ZH_HEADER + "\r\n" + zh_line(1)).encode("gb18030")
    said_utf8 = put_csv(client, actors, "said-utf8", gbk, "text/csv; charset=utf-8")
    assert said_utf8.status_code == 422
    assert "charset=gb18030" in said_utf8.json()["detail"]
    latin = put_csv(client, actors, "latin", b"holder_name\n", "text/csv; charset=iso-8859-1")
    assert latin.status_code == 422
    assert "iso-8859-1" in latin.json()["detail"]
    assert count(client) == 0


def test_decode_unit() -> None:
    assert batch_csv.decode("姓名\n".encode("gb18030"), "gbk") == "姓名\n"
    assert batch_csv.decode(b"\xef\xbb\xbfa\n") == "a\n"
    assert batch_csv.decode("a".encode("gb18030").join([b"\x84\x31\x95\x33", b""]), "gb18030") == "a"
    with pytest.raises(InvalidInputError):
        batch_csv.decode(b"a\n\xff", "gb18030")


# --- dates -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "awarded"),
    [("2026/11/21", "2026-11-21"), ("2026/1/5", "2026-01-05"), ("2026-11-21", "2026-11-21")],
)
def test_award_dates_with_slashes_work_in_csv_and_json(
    client: TestClient, actors: Actors, written: str, awarded: str
) -> None:
    body = (ZH_HEADER + "\n" + zh_line(1, awarded=written)).encode()
    response = put_csv(client, actors, "slash-csv", body)
    assert response.status_code == 201, response.text
    assert subject(client, actors, response.json()["credentials"][0]["id"])["awardedOn"] == awarded
    row = {
        "holderName": "张伟",
        "idType": "resident",
        "idNumber": resident_id(2),
        "typeCode": "ENG-INTERMEDIATE",
        "specialty": "电气工程",
        "evaluationCommittee": "评委会",
        "awardedOn": written,
    }
    one = client.post("/v1/credentials", json=row, headers=actors.officer())
    assert one.status_code == 201, one.text
    assert one.json()["verifiableCredential"]["credentialSubject"]["awardedOn"] == awarded


@pytest.mark.parametrize("written", ["2026/2/30", "2026/13/1", "2026/11-21", "26/11/21", "2026/011/21"])
def test_dates_that_are_no_calendar_date_are_refused(written: str) -> None:
    row = {
        "holderName": "张伟",
        "idType": "passport",
        "idNumber": "E12345678",
        "typeCode": "ENG-INTERMEDIATE",
        "specialty": "x",
        "evaluationCommittee": "x",
        "awardedOn": written,
    }
    with pytest.raises(ValueError, match="awardedOn"):
        IssueRequest.model_validate(row)


# --- every error of every row ----------------------------------------------------------------------------


def test_a_row_with_a_bad_date_reports_its_unknown_type_and_wrong_check_character_too(
    client: TestClient, actors: Actors
) -> None:
    body = (
        ZH_HEADER
        + "\n"
        + zh_line(1)
        + zh_line(2, awarded="2026/2/30", typeCode="NO-SUCH-TYPE", idNumber=WRONG_CHECK)
        + zh_line(3, awarded="2026/11/31")
    ).encode()
    response = put_csv(client, actors, "every-error", body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["row"], e["line"], e["field"]) for e in errors] == [
        (2, 3, "idNumber"),
        (2, 3, "typeCode"),
        (2, 3, "awardedOn"),
        (3, 4, "awardedOn"),
    ]
    assert "check character" in errors[0]["message"]
    assert "NO-SUCH-TYPE" in errors[1]["message"]
    assert count(client) == 0


def test_a_json_row_reports_every_error_in_camel_case_without_lines(
    client: TestClient, actors: Actors
) -> None:
    rows = [
        {
            "holder_name": "张伟",
            "id_type": "resident",
            "id_number": WRONG_CHECK,
            "type_code": "NO-SUCH-TYPE",
            "specialty": "电气工程",
            "evaluation_committee": "评委会",
            "awarded_on": "2026-13-01",
        }
    ]
    response = client.put(
        "/v1/issuance/batches/json-every", json={"credentials": rows}, headers=actors.officer()
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert {e["field"] for e in errors} == {"idNumber", "typeCode", "awardedOn"}
    assert all(set(e) == {"row", "field", "message"} for e in errors)


def test_a_duplicate_is_found_beside_a_row_that_failed(client: TestClient, actors: Actors) -> None:
    body = (ZH_HEADER + "\n" + zh_line(1) + zh_line(1, name="持证人1", specialty="=1+1")).encode()
    response = put_csv(client, actors, "dup-bad", body)
    found = {(e["line"], e["field"]) for e in response.json()["errors"]}
    assert found == {(3, "specialty"), (3, "typeCode")}


def test_a_bad_type_of_identity_hides_no_other_error_and_makes_no_false_one(
    client: TestClient, actors: Actors
) -> None:
    body = (ZH_HEADER + "\n" + zh_line(1, idType="军官证", typeCode="NO-SUCH-TYPE")).encode()
    response = put_csv(client, actors, "id-type", body)
    assert [(e["line"], e["field"]) for e in response.json()["errors"]] == [(2, "idType"), (2, "typeCode")]


def test_errors_name_the_files_lines_when_a_quoted_cell_spans_lines(
    client: TestClient, actors: Actors
) -> None:
    body = (
        ZH_HEADER
        + "\r\n"
        + zh_line(1, name='"持证人\r\n一"')  # lines 2-3: a line break is no part of a name
        + "\r\n"  # line 4, empty
        + ",,,,,,\r\n"  # line 5, empty cells (Excel leaves such rows)
        + zh_line(2, committee='"评审\n委员会\n（第二批）"', idNumber=WRONG_CHECK)  # lines 6-8
        + zh_line(3, typeCode="NO-SUCH-TYPE")  # line 9
        + zh_line(4)  # line 10
    ).encode()
    response = put_csv(client, actors, "lines", body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["row"], e["line"], e["field"]) for e in errors] == [
        (1, 2, "holderName"),
        (2, 6, "idNumber"),
        (2, 6, "evaluationCommittee"),
        (3, 9, "typeCode"),
    ]
    assert "U+000A" in errors[2]["message"]
    table = batch_csv.parse(body.decode())
    assert table.lines == [2, 6, 9, 10]
    assert table.rows[1]["evaluationCommittee"] == "评审\n委员会\n（第二批）"


def test_cells_beyond_the_header_name_their_lines() -> None:
    text = ZH_HEADER + "\n" + zh_line(1).strip() + ",,\n" + zh_line(2).strip() + ",extra\n"
    with pytest.raises(InvalidInputError) as caught:
        batch_csv.parse(text)
    assert "3" in caught.value.detail
    assert caught.value.extensions["lines"] == [3]


# --- the template ----------------------------------------------------------------------------------------


def test_the_template_round_trips_through_the_api(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    assert client.get("/v1/issuance/template.csv").status_code == 401
    response = client.get("/v1/issuance/template.csv", headers=officer)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="' in disposition
    assert ".csv" in disposition
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel shows the Chinese headers
    header = raw.decode("utf-8-sig").splitlines()[0]
    assert "姓名" in header
    assert "Holder name" in header
    assert "取得日期" in header
    assert "Awarded on" in header
    # Filled as Excel saves it: the same header, one row, CRLF line ends.
    filled = raw + zh_line(7, awarded="2026/11/21").encode("utf-8")
    issued = client.put(
        "/v1/issuance/batches/from-template", content=filled, headers={**officer, "Content-Type": "text/csv"}
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["count"] == 1
    assert subject(client, actors, issued.json()["credentials"][0]["id"])["name"] == "持证人7"


def test_the_template_is_for_issuing_officers(client: TestClient, actors: Actors) -> None:
    assert client.get("/v1/issuance/template.csv", headers=actors.hr()).status_code in (401, 403)
    assert client.get("/v1/issuance/template.csv", headers=actors.admin()).status_code == 403


def test_the_template_reads_back_as_an_empty_batch_of_every_column() -> None:
    text = batch_csv.decode(batch_csv.template())
    assert batch_csv.parse(text).rows == []
    assert [batch_csv.match_header(c) for c in text.strip().split(",")] == list(batch_csv.COLUMNS)


# --- the CLI ---------------------------------------------------------------------------------------------


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path / "node"))
    monkeypatch.setenv("REGISTRY_BASE_URL", "http://127.0.0.1:8033")
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _issued() -> list[tuple[str, str]]:
    db = Database.from_url(Settings().resolved_database_url)
    with db.session(write=False) as session:
        rows = session.exec(
            select(Credential.certificate_number, Credential.holder_id).order_by(
                col(Credential.certificate_number)
            )
        ).all()
    db.dispose()
    return [(n, h) for n, h in rows]


def test_the_cli_prints_what_it_issued_and_reads_a_gb18030_csv_named_txt(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = node_dir / "eval-2026-gbk.txt"
    lines = zh_line(1, awarded="2026/11/20") + zh_line(2, name="王䶮") + "\r\n" + zh_line(3)
    batch.write_bytes((ZH_HEADER + "\r\n" + lines).encode("gb18030"))
    code, out, err = _run(capsys, "issue", "--batch", str(batch))
    assert code == 0, err
    issued = _issued()
    assert len(issued) == 3
    table = out.splitlines()
    for (number, holder), line, file_line in zip(issued, table[1:4], (2, 3, 5), strict=True):
        assert re.fullmatch(rf"{file_line}\s+{re.escape(number)}\s+{holder}", line), line
    assert "certificate number" in table[0]
    assert "holder id" in table[0]
    assert "3 credentials issued" in table[4]
    assert "已签发 3 份" in table[4]
    # Again: the same batch id answers with what was issued.
    code, again, _ = _run(capsys, "issue", "--batch", str(batch))
    assert code == 0
    assert again.splitlines()[1:4] == table[1:4]
    assert "issued before" in again


def test_the_cli_takes_json_by_content_whatever_the_name(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = node_dir / "eval-json.csv"
    row = {
        "holderName": "张伟",
        "idType": "resident",
        "idNumber": resident_id(4),
        "typeCode": "ENG-INTERMEDIATE",
        "specialty": "电气工程",
        "evaluationCommittee": "评委会",
        "awardedOn": "2026/11/20",
    }
    batch.write_text("\n  " + json.dumps({"credentials": [row]}, ensure_ascii=False), encoding="utf-8")
    code, out, err = _run(capsys, "issue", "--batch", str(batch), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["count"] == 1
    assert [(c["certificateNumber"], c["holderId"]) for c in result["credentials"]] == _issued()


def test_the_cli_names_the_lines_of_a_rejected_csv(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = node_dir / "eval-bad.dat"
    batch.write_text(
        ZH_HEADER + "\n" + zh_line(1) + zh_line(2, idNumber=WRONG_CHECK, awarded="2026/2/30"),
        encoding="utf-8",
    )
    code, _, err = _run(capsys, "issue", "--batch", str(batch))
    assert code == 1
    assert "line 3, idNumber" in err
    assert "line 3, awardedOn" in err
    assert _issued() == []


def test_detection_by_content() -> None:
    assert batch_csv.is_csv(ZH_HEADER.encode("gb18030"))
    assert batch_csv.is_csv(b"\xef\xbb\xbfholder_name,id_type\n")
    assert not batch_csv.is_csv(b'\xef\xbb\xbf \n{"credentials": []}')
    assert not batch_csv.is_csv(b"[]")


def test_the_issue_help_lists_the_columns(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["issue", "--help"])
    text = capsys.readouterr().out
    for column in batch_csv.COLUMNS:
        need = "必填 required" if column.required else "选填 optional"
        assert re.search(rf"{column.name}\s+{column.zh} / {column.en} \({need}\)", text), column.name
        assert column.format_zh in text
    assert "GB18030" in text
    assert "template.csv" in text


# --- the documentation -----------------------------------------------------------------------------------


def test_readme_lists_the_columns_of_the_column_table() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "### CSV batches" in readme
    assert batch_csv.columns_markdown() in readme, (
        "README's CSV column table differs from batch_csv.columns_markdown(): paste it again"
    )


def test_the_column_table_covers_every_field_of_a_row() -> None:
    assert [c.field for c in batch_csv.COLUMNS] == list(IssueRequest.model_fields)
    assert [c.name for c in batch_csv.COLUMNS] == [f.alias for f in IssueRequest.model_fields.values()]
