"""Hardening of issuance input: dates at the edges of the calendar, invisible and
bidirectional characters, Unicode normalisation of names and identity numbers, text a
spreadsheet would run as a formula, and the strength of the production secrets.

Every bad input is a 422 problem+json that names the field (and the row, in a batch);
none is a 500."""

from __future__ import annotations

import random
import shutil
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from sqlmodel import Session, func, select

from registry.accounts import create_hr_client
from registry.auth import Principal
from registry.credentials import issuance
from registry.credentials.catalogue import CredentialTypeIn, seed_types
from registry.credentials.errors import BatchRejectedError, InvalidHolderIdError
from registry.credentials.identity import normalise_id_number
from registry.database import Database
from registry.errors import InvalidInputError
from registry.models import Credential, Holder
from registry.node_keys import NodeKeyStore
from registry.settings import DEVELOPMENT_PASSPHRASE, DEVELOPMENT_SECRET, Settings
from registry.signing.data_integrity import parse_datetime
from registry.signing.keyring import KeyRing
from tests.conftest import NOW, Actors, MutableClock, issue_row, resident_id

PROBLEM_JSON = "application/problem+json"
CSV_HEADER = ",".join(issuance.CSV_COLUMNS) + "\n"


def count(client: TestClient, model: Any) -> int:
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def problem_fields(response: Any) -> set[str]:
    """The fields a 422 problem names: ``field`` of row errors, or the last part of a
    request validation error's ``location``."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    errors = response.json().get("errors") or []
    return {str(e["field"]) if "field" in e else str(e["location"][-1]) for e in errors}


def full_width(text: str) -> str:
    """``text`` as typed with a Chinese input method in full-width mode."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def csv_line(row: dict[str, Any]) -> str:
    return ",".join(str(row.get(to_camel(c), "")) for c in issuance.CSV_COLUMNS) + "\n"


# --- extreme dates ------------------------------------------------------------------------------------------

#: Dates that used to raise OverflowError (a 500 and a reset connection), and their neighbours.
EXTREME_DATES = [
    ("awardedOn", "0001-01-01"),
    ("validUntil", "9999-12-31T23:59:59-14:00"),
    ("validFrom", "0001-01-01T00:00:00+14:00"),
    ("validFrom", "0001-01-01T00:00:00Z"),
    ("validUntil", "9999-12-31T23:59:59Z"),
    ("validUntil", "0001-01-01T00:00:00+14:00"),
    ("awardedOn", "9999-12-31"),
    ("awardedOn", "1949-09-30"),
    ("validUntil", "2200-01-01T00:00:00+08:00"),
    ("validFrom", "1949-09-30T23:59:59+08:00"),
]


@pytest.mark.parametrize(("field", "value"), EXTREME_DATES)
def test_an_extreme_date_in_one_credential_is_422_naming_the_field(
    client: TestClient, actors: Actors, field: str, value: str
) -> None:
    response = client.post("/v1/credentials", json=issue_row(**{field: value}), headers=actors.officer())
    assert field in problem_fields(response)
    assert count(client, Holder) == 0


def test_a_json_batch_reports_every_bad_date_of_every_row_and_issues_nothing(
    client: TestClient, actors: Actors
) -> None:
    good = issue_row(idNumber=resident_id(1), holderName="持证人1")
    bad = [
        issue_row(idNumber=resident_id(n), holderName=f"持证人{n}", **{field: value})
        for n, (field, value) in enumerate(EXTREME_DATES, start=2)
    ]
    response = client.put(
        "/v1/issuance/batches/dates-json", json={"credentials": [good, *bad]}, headers=actors.officer()
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"].endswith("/batch-rejected")
    found = {(e["row"], e["field"]) for e in response.json()["errors"]}
    assert found == {(n, field) for n, (field, _) in enumerate(EXTREME_DATES, start=2)}
    assert count(client, Credential) == 0
    assert count(client, Holder) == 0


def test_a_csv_batch_reports_every_bad_date_of_every_row_and_issues_nothing(
    client: TestClient, actors: Actors
) -> None:
    rows = [issue_row(idNumber=resident_id(1), holderName="持证人1")] + [
        issue_row(idNumber=resident_id(n), holderName=f"持证人{n}", **{field: value})
        for n, (field, value) in enumerate(EXTREME_DATES, start=2)
    ]
    body = (CSV_HEADER + "".join(csv_line(r) for r in rows)).encode()
    response = client.put(
        "/v1/issuance/batches/dates-csv",
        content=body,
        headers={**actors.officer(), "Content-Type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    found = {(e["row"], e["field"]) for e in response.json()["errors"]}
    assert found == {(n, field) for n, (field, _) in enumerate(EXTREME_DATES, start=2)}
    assert count(client, Credential) == 0


@pytest.mark.parametrize(("field", "value"), EXTREME_DATES)
def test_an_extreme_date_on_the_vc_api_issue_path_is_refused_naming_the_field(
    client: TestClient, actors: Actors, field: str, value: str
) -> None:
    credential: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "issuer": client.app.state.node.did,  # type: ignore[attr-defined]
        "type": ["VerifiableCredential", "ProfessionalTitleCredential"],
        "credentialSubject": {
            "name": "王芳",
            "identifier": {"type": "resident", "number": resident_id(7)},
            "title": {"code": "ENG-INTERMEDIATE"},
            "specialty": "土木工程",
            "evaluationCommittee": "评委会",
            "awardedOn": "2026-11-01",
        },
    }
    if field == "awardedOn":
        credential["credentialSubject"]["awardedOn"] = value
    else:
        credential[field] = value
    response = client.post("/credentials/issue", json={"credential": credential}, headers=actors.officer())
    assert field in problem_fields(response)
    assert count(client, Credential) == 0


def test_an_award_date_after_today_by_the_node_clock_is_refused(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    officer = actors.officer()
    # NOW is 2026-11-27T08:00Z, 16:00 in China: the 28th is tomorrow there.
    response = client.post("/v1/credentials", json=issue_row(awardedOn="2026-11-28"), headers=officer)
    assert problem_fields(response) == {"awardedOn"}
    assert "after today" in response.json()["errors"][0]["message"]
    clock.now = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # 01:00 on the 28th in China
    officer = actors.officer()  # the first token has expired meanwhile
    response = client.post("/v1/credentials", json=issue_row(awardedOn="2026-11-28"), headers=officer)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"validFrom": "2026-11-19T23:59:59+08:00"}, "validFrom"),  # before the award day began
        ({"validUntil": "2026-11-19T12:00:00Z"}, "validUntil"),  # before the default validFrom
        ({"validFrom": "2026-12-01T00:00:00Z", "validUntil": "2026-12-01T00:00:00Z"}, "validUntil"),
        ({"validFrom": "2026-12-01T00:00:00+08:00", "validUntil": "2026-11-30T16:00:00Z"}, "validUntil"),
    ],
)
def test_the_validity_period_follows_the_award_date(
    client: TestClient, actors: Actors, overrides: dict[str, str], field: str
) -> None:
    response = client.post("/v1/credentials", json=issue_row(**overrides), headers=actors.officer())
    assert problem_fields(response) == {field}


def test_dates_inside_the_window_are_issued_as_given(client: TestClient, actors: Actors) -> None:
    row = issue_row(
        awardedOn="1949-10-01", validFrom="1949-10-01T00:00:00+08:00", validUntil="2199-12-31T23:59:59+08:00"
    )
    response = client.post("/v1/credentials", json=row, headers=actors.officer())
    assert response.status_code == 201, response.text
    vc = response.json()["verifiableCredential"]
    assert vc["credentialSubject"]["awardedOn"] == "1949-10-01"
    assert parse_datetime(vc["validFrom"], "validFrom") == datetime(1949, 9, 30, 16, tzinfo=UTC)
    assert parse_datetime(vc["validUntil"], "validUntil") == datetime(2199, 12, 31, 15, 59, 59, tzinfo=UTC)


# Hypothesis throws odd and extreme date inputs at the row validation and the issuance
# that follows it; the only acceptable outcomes are row errors naming a date field, or a
# credential whose dates lie inside the window.

_OFFSETS = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
)
_ZONES = st.builds(timezone, _OFFSETS)
_NEAR_WINDOW = {"min_value": datetime(1940, 1, 1), "max_value": datetime(2210, 1, 1)}
_FIELD_TEXT = st.one_of(
    # around the window's edges, where most values should be accepted
    st.dates(_NEAR_WINDOW["min_value"].date(), _NEAR_WINDOW["max_value"].date()).map(date.isoformat),
    st.datetimes(**_NEAR_WINDOW, timezones=_ZONES).map(datetime.isoformat),
    # anywhere in the calendar, and odd or malformed text
    st.dates().map(date.isoformat),
    st.datetimes(timezones=_ZONES).map(datetime.isoformat),
    st.datetimes(timezones=_ZONES).map(lambda d: d.isoformat(sep=" ", timespec="microseconds")),
    st.datetimes().map(datetime.isoformat),  # no offset
    st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format,
        st.integers(0, 10_000),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
        st.sampled_from(["Z", "z", "+14:00", "-14:00", "+23:59", "-24:00", "+99:99", "+0800", "", "-00:00"]),
    ),
    st.text(max_size=40),
)
_FIELD_VALUE = st.one_of(
    _FIELD_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
_ABSENT = object()
_ANY_DATES = st.tuples(*[st.one_of(st.just(_ABSENT), _FIELD_VALUE)] * 3)


@st.composite
def _plausible_dates(draw: st.DrawFn) -> tuple[Any, Any, Any]:
    """An award date near the allowed range and a validity period near it, each drawn
    relative to the one before, so that many combinations are issued, some just not."""
    awarded = draw(st.dates(date(1949, 9, 28), date(2026, 11, 29)))
    start = datetime.combine(awarded, datetime.min.time(), timezone(timedelta(hours=8)))
    valid_from = start + draw(st.timedeltas(timedelta(days=-2), timedelta(days=365 * 200)))
    valid_until = valid_from + draw(st.timedeltas(timedelta(days=-2), timedelta(days=365 * 200)))
    zone = draw(_ZONES)
    return (
        awarded.isoformat(),
        draw(st.sampled_from([_ABSENT, valid_from.astimezone(zone).isoformat()])),
        draw(st.sampled_from([_ABSENT, valid_until.astimezone(zone).isoformat()])),
    )


@pytest.fixture(scope="module")
def date_node(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, KeyRing]]:
    """A copy of the migrated template and its key ring for the property test (one for
    all its examples: each example's issuance is rolled back)."""
    target = tmp_path_factory.mktemp("dates") / "registry.db"
    shutil.copy(sqlite_template, target)
    db = Database.from_url(f"sqlite:///{target}")
    with db.session(write=False) as session:
        ring = NodeKeyStore(DEVELOPMENT_PASSPHRASE).load(session)
    yield db, ring
    db.dispose()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dates=st.one_of(_ANY_DATES, _plausible_dates()))
@example(dates=("0001-01-01", _ABSENT, _ABSENT))
@example(dates=(_ABSENT, _ABSENT, "9999-12-31T23:59:59-14:00"))
@example(dates=(_ABSENT, "0001-01-01T00:00:00+14:00", _ABSENT))
@example(dates=("1949-10-01", "1949-09-30T16:00:00Z", "2199-12-31T15:59:59Z"))
def test_no_date_input_yields_anything_but_row_errors(
    date_node: tuple[Database, KeyRing], dates: tuple[Any, Any, Any]
) -> None:
    row = issue_row()
    for name, value in zip(("awardedOn", "validFrom", "validUntil"), dates, strict=True):
        if value is _ABSENT:
            row.pop(name, None)
        else:
            row[name] = value
    db, ring = date_node
    with Session(db.engine) as session:
        ctx = issuance.IssuanceContext(
            did="did:web:127.0.0.1%3A8032",
            base_url="http://127.0.0.1:8032",
            province="32",
            ring=ring,
            id_key=b"k" * 32,
            rng=random.Random(0),
            now=NOW,
        )
        try:
            rows = issuance.validate_batch(session, [row], ctx)
        except BatchRejectedError as exc:
            event("rejected")
            errors = exc.extensions["errors"]
            assert errors
            assert {e["row"] for e in errors} == {1}
            assert {e["field"] for e in errors} <= {"awardedOn", "validFrom", "validUntil"}
            return
        try:
            result = issuance.issue(session, Principal("cli", "tests", "issuing_officer"), rows, ctx)
            event("issued")
            stored = session.get(Credential, result.credentials[0].id)
            assert stored is not None
            assert date(1949, 10, 1) <= stored.awarded_on <= date(2026, 11, 27)
            assert datetime(1949, 9, 30, 16, tzinfo=UTC) <= stored.valid_from
            assert stored.valid_until is None or stored.valid_from < stored.valid_until
            assert stored.valid_until is None or stored.valid_until < datetime(2199, 12, 31, 16, tzinfo=UTC)
        finally:
            session.rollback()


# --- input hygiene ------------------------------------------------------------------------------------------

FREE_TEXT_FIELDS = ("holderName", "specialty", "evaluationCommittee")
#: Bidirectional embeddings, overrides, isolates and marks; zero-width characters and the
#: BOM; Unicode noncharacters (U+FDD0..U+FDEF and the last two code points of every plane).
INVISIBLE = [
    *(chr(c) for c in range(0x202A, 0x202F)),
    *(chr(c) for c in range(0x2066, 0x206A)),
    "\u200e",
    "\u200f",
    "\u061c",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\ufdd0",
    "\ufdef",
    "\ufffe",
    "\uffff",
    "\U0001fffe",
    "\U0010ffff",
]


@pytest.mark.parametrize("field", FREE_TEXT_FIELDS)
@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_invisible_and_bidirectional_characters_are_refused_naming_the_field(field: str, char: str) -> None:
    with pytest.raises(ValidationError) as caught:
        issuance.IssueRequest.model_validate(issue_row(**{field: f"张{char}伟"}))
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]
    assert f"U+{ord(char):04X}" in caught.value.errors()[0]["msg"]


@pytest.mark.parametrize("field", FREE_TEXT_FIELDS)
def test_a_right_to_left_override_is_422_over_http_and_writes_nothing(
    client: TestClient, actors: Actors, field: str
) -> None:
    response = client.post(
        "/v1/credentials", json=issue_row(**{field: "张伟\u202egnp.exe"}), headers=actors.officer()
    )
    assert problem_fields(response) == {field}
    assert count(client, Holder) == 0


def test_catalogue_text_and_hr_client_names_are_held_to_the_same_rules(
    client: TestClient, actors: Actors
) -> None:
    entry = seed_types()[0].model_dump() | {"code": "ENG-NEW", "name_zh": "高级\u202e工程师"}
    with pytest.raises(ValidationError) as caught:
        CredentialTypeIn.model_validate(entry)
    assert [e["loc"] for e in caught.value.errors()] == [("name_zh",)]
    admin = actors.admin()
    assert problem_fields(client.post("/v1/catalogue", json=entry, headers=admin)) == {"name_zh"}
    response = client.post(
        "/v1/hr-clients", json={"name": '=HYPERLINK("http://x")', "scopes": ["verify"]}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert "name" in response.json()["detail"]


def test_an_hr_client_name_is_stored_in_nfc(database: Database) -> None:
    with database.session() as session:
        client, _ = create_hr_client(
            session, Principal("cli", "tests", "admin"), "Ca\u0300 Mau 人才中心", ["verify"], 60, NOW
        )
        assert client.name == "C\u00e0 Mau 人才中心"
        with pytest.raises(InvalidInputError, match="name"):
            create_hr_client(
                session, Principal("cli", "tests", "admin"), "人才\u200b中心", ["verify"], 60, NOW
            )


def test_a_status_note_with_a_bidirectional_override_is_refused(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = client.post("/v1/credentials", json=issue_row(), headers=officer).json()
    body = {"reasonCode": "issued_in_error", "note": "决定 \u202e号71-6202"}
    response = client.post(f"/v1/credentials/{record['id']}/revocation", json=body, headers=officer)
    assert problem_fields(response) == {"note"}
    body["note"] = "决定 2026-17号"
    response = client.post(f"/v1/credentials/{record['id']}/revocation", json=body, headers=officer)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("name", ["김민준", "Zoë Müller", "Nguyễn Thị Ánh"])
def test_a_name_sent_in_nfd_is_the_same_holder_as_in_nfc_and_is_signed_in_nfc(
    client: TestClient, actors: Actors, name: str
) -> None:
    officer = actors.officer()
    nfc, nfd = unicodedata.normalize("NFC", name), unicodedata.normalize("NFD", name)
    assert nfc != nfd
    first = client.post("/v1/credentials", json=issue_row(holderName=nfd), headers=officer)
    assert first.status_code == 201, first.text
    second = client.post(
        "/v1/credentials", json=issue_row(holderName=nfc, typeCode="ENG-INTERMEDIATE"), headers=officer
    )
    assert second.status_code == 201, second.text
    assert first.json()["holderId"] == second.json()["holderId"]
    assert first.json()["verifiableCredential"]["credentialSubject"]["name"] == nfc
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        assert session.exec(select(Holder.name)).one() == nfc


def test_the_length_limit_applies_to_the_nfc_text() -> None:
    # U+FB2C is three characters in NFC: 128 of them would overflow the 128-character
    # column (PostgreSQL refuses the insert) if the limit were checked before normalising.
    with pytest.raises(ValidationError) as caught:
        issuance.IssueRequest.model_validate(issue_row(holderName="\ufb2c" * 128))
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("holderName",), "string_too_long")]


def test_free_text_is_signed_in_nfc(client: TestClient, actors: Actors) -> None:
    row = issue_row(
        specialty=unicodedata.normalize("NFD", "Électronique"), evaluationCommittee="Comité e\u0301"
    )
    subject = client.post("/v1/credentials", json=row, headers=actors.officer()).json()[
        "verifiableCredential"
    ]["credentialSubject"]
    assert subject["specialty"] == "\u00c9lectronique"
    assert subject["evaluationCommittee"] == "Comit\u00e9 \u00e9"


def test_passport_and_resident_numbers_are_normalised_with_nfkc_and_upper_case() -> None:
    assert normalise_id_number("passport", "Ｅ１２３４５６７８") == "E12345678"
    assert normalise_id_number("passport", "e12345678") == "E12345678"
    assert normalise_id_number("passport", " ｅ１２３４５６７８\u3000") == "E12345678"
    assert normalise_id_number("resident", "11010519491231002x") == "11010519491231002X"
    assert normalise_id_number("resident", full_width("11010519491231002x")) == "11010519491231002X"
    with pytest.raises(InvalidHolderIdError):  # Arabic-Indic digits are digits to \d, not to GB 11643
        normalise_id_number("resident", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X")


def test_a_full_width_or_lower_case_passport_finds_the_same_holder(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    holders = set()
    for number, code in [
        ("E12345678", "ENG-ASSOCIATE_SENIOR"),
        ("Ｅ１２３４５６７８", "ENG-INTERMEDIATE"),
        ("e12345678", "QUAL-CONSTRUCTOR-1"),
    ]:
        row = issue_row(holderName="John Smith", idType="passport", idNumber=number, typeCode=code)
        response = client.post("/v1/credentials", json=row, headers=officer)
        assert response.status_code == 201, response.text
        holders.add(response.json()["holderId"])
    assert len(holders) == 1


def test_a_full_width_resident_number_with_a_lower_case_x_finds_the_same_holder(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    first = client.post("/v1/credentials", json=issue_row(), headers=officer)
    typed = full_width(issuance.EXAMPLE_ROW["idNumber"].lower())
    second = client.post(
        "/v1/credentials", json=issue_row(idNumber=typed, typeCode="ENG-INTERMEDIATE"), headers=officer
    )
    assert second.status_code == 201, second.text
    assert first.json()["holderId"] == second.json()["holderId"]


FORMULAS = ["=1+1", "+8613800000000", "-2+3", "@SUM(A1:A2)", "  =cmd|' /C calc'!A0", "\u3000=1", "＝1", "＠x"]


@pytest.mark.parametrize("field", FREE_TEXT_FIELDS)
@pytest.mark.parametrize("value", FORMULAS)
def test_text_a_spreadsheet_would_run_as_a_formula_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        issuance.IssueRequest.model_validate(issue_row(**{field: value}))
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]
    assert "formula" in caught.value.errors()[0]["msg"]


def test_a_formula_is_422_over_http_in_json_and_csv(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    assert problem_fields(
        client.post("/v1/credentials", json=issue_row(holderName="=1+1"), headers=officer)
    ) == {"holderName"}
    rows = [
        issue_row(idNumber=resident_id(1), holderName="持证人1"),
        issue_row(idNumber=resident_id(2), holderName="持证人2", specialty="-1"),
        issue_row(idNumber=resident_id(3), holderName="@持证人3"),
    ]
    response = client.put(
        "/v1/issuance/batches/formula",
        content=(CSV_HEADER + "".join(csv_line(r) for r in rows)).encode(),
        headers={**officer, "Content-Type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    assert {(e["row"], e["field"]) for e in response.json()["errors"]} == {
        (2, "specialty"),
        (3, "holderName"),
    }
    assert count(client, Credential) == 0


def test_legitimate_values_with_signs_inside_are_issued(client: TestClient, actors: Actors) -> None:
    row = issue_row(
        holderName="Mary O'Brien-Smith",
        idType="passport",
        idNumber="E12345678",
        specialty="C++ 软件工程",
        evaluationCommittee="江苏省工程技术研究系列高级职称评审委员会 (2026-11)",
    )
    response = client.post("/v1/credentials", json=row, headers=actors.officer())
    assert response.status_code == 201, response.text


def test_a_verification_code_typed_in_full_width_finds_the_credential(
    client: TestClient, actors: Actors
) -> None:
    record = client.post("/v1/credentials", json=issue_row(), headers=actors.officer()).json()
    holder = actors.holder(record["holderId"])
    made = client.post(
        f"/v1/holder/credentials/{record['id']}/verification-codes", json={"validDays": 2}, headers=holder
    )
    code = made.json()["verificationCode"]
    response = client.post(
        "/v1/verifications/lookup",
        json={"certificateNumber": record["certificateNumber"], "verificationCode": full_width(code.lower())},
        headers=actors.hr(),
    )
    assert response.status_code == 200, response.text


def test_an_activation_code_typed_in_full_width_opens_the_account(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = client.post("/v1/credentials", json=issue_row(), headers=officer).json()
    code = client.post(f"/v1/holders/{record['holderId']}/activation-codes", headers=officer).json()[
        "activationCode"
    ]
    body = {
        "idType": "resident",
        "idNumber": full_width(issuance.EXAMPLE_ROW["idNumber"]),
        "activationCode": full_width(code.lower()),
        "username": "zhang.wei",
        "password": "a long enough holder passphrase",
    }
    response = client.post("/v1/holder/registration", json=body)
    assert response.status_code == 201, response.text


# --- production secrets -------------------------------------------------------------------------------------

STRONG_SECRET = "q7Jx2LrV9mZ4tKc8WbN3hP6sD1fG5yA0eU"  # 34 characters, 34 distinct
STRONG_PASSPHRASE = "pale violet kettle drums at noon"


def production(**overrides: str) -> Settings:
    values = {
        "environment": "production",
        "base_url": "https://hrss.js.example",
        "secret_key": STRONG_SECRET,
        "key_passphrase": STRONG_PASSPHRASE,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_strong_secrets_load_in_production() -> None:
    assert production().secret_key == STRONG_SECRET


@pytest.mark.parametrize(
    "secret",
    [
        "q7Jx2LrV9mZ4tKc8WbN3hP6sD1fG5y",  # 30 bytes
        "ab" * 20,  # two distinct characters
        "0123456789" * 4,  # ten distinct characters, but a shorter text repeated
        DEVELOPMENT_SECRET,
        "changeme-" + STRONG_SECRET,
        STRONG_PASSPHRASE.replace(" ", "-") + "-example",
    ],
)
def test_a_weak_secret_key_is_refused_in_production(secret: str) -> None:
    with pytest.raises(ValidationError, match="REGISTRY_SECRET_KEY"):
        production(secret_key=secret)


@pytest.mark.parametrize(
    "passphrase",
    [DEVELOPMENT_PASSPHRASE, DEVELOPMENT_SECRET, "aaaaaaaaaaaaaaaa", "changeme-changeme", STRONG_SECRET],
)
def test_a_weak_or_reused_key_passphrase_is_refused_in_production(passphrase: str) -> None:
    with pytest.raises(ValidationError, match="REGISTRY_KEY_PASSPHRASE"):
        production(key_passphrase=passphrase)


def test_every_problem_of_the_settings_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        production(secret_key="x" * 40, key_passphrase=DEVELOPMENT_PASSPHRASE, base_url="http://x.example")
    message = str(caught.value)
    assert "REGISTRY_SECRET_KEY" in message
    assert "REGISTRY_KEY_PASSPHRASE" in message
    assert "https" in message


def test_a_settings_error_does_not_print_the_secrets() -> None:
    secret = "Zq" * 20
    with pytest.raises(ValidationError) as caught:
        production(secret_key=secret, key_passphrase=secret)
    assert "Zq" not in str(caught.value)


def test_development_keeps_its_convenient_defaults() -> None:
    assert Settings().secret_key == DEVELOPMENT_SECRET
