"""Issuance: one credential or a whole evaluation batch, all-or-nothing.

A batch is checked row by row first and every row error is reported together; if any
row is bad nothing is written. A batch id makes a batch idempotent: sending the same
rows again answers with what was issued; other rows under the same id are refused.
Each credential is a VC 2.0 document signed ``eddsa-jcs-2022`` with one
``BitstringStatusListEntry`` for revocation and one for suspension.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Literal, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel
from sqlalchemy import Connection, insert, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.auth import Principal
from registry.credentials import catalogue
from registry.credentials.errors import BatchRejectedError, InvalidHolderIdError
from registry.credentials.identity import (
    check_characters,
    commitment_salt,
    holder_commitment,
    id_lookup_hash,
    mask_id_number,
    normalise_id_number,
    normalise_text,
)
from registry.credentials.status import allocate, list_url
from registry.credentials.status_list import status_entry
from registry.errors import ConflictError, InvalidInputError
from registry.models import (
    AuditEvent,
    CertificateSerial,
    Credential,
    CredentialType,
    Holder,
    IssuanceBatch,
)
from registry.signing.data_integrity import add_proof, format_datetime
from registry.signing.keyring import KeyRing

VC_CONTEXT_V2 = "https://www.w3.org/ns/credentials/v2"
REGISTRY_CONTEXT = "https://registry.yrd.example/ns/talent/v1"
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
#: Every date of a credential lies in [EARLIEST, LATEST): no title or qualification of
#: this system is older than the People's Republic, no validity period needs to reach
#: past 2200, and inside these bounds every UTC offset converts without overflow (at
#: year 1 or 9999 Python's datetime raises OverflowError).
EARLIEST = datetime(1949, 10, 1, tzinfo=CHINA_STANDARD_TIME)
LATEST = datetime(2200, 1, 1, tzinfo=CHINA_STANDARD_TIME)
MAX_BATCH_ROWS = 20_000
PROVINCES = {
    "31": ("上海市人力资源和社会保障局", "Shanghai Municipal Human Resources and Social Security Bureau"),
    "32": (
        "江苏省人力资源和社会保障厅",
        "Jiangsu Provincial Department of Human Resources and Social Security",
    ),
    "33": (
        "浙江省人力资源和社会保障厅",
        "Zhejiang Provincial Department of Human Resources and Social Security",
    ),
    "34": (
        "安徽省人力资源和社会保障厅",
        "Anhui Provincial Department of Human Resources and Social Security",
    ),
}
CREDENTIAL_TYPES = {
    "title": ("ProfessionalTitleCredential", "title", "professional-title"),
    "qualification": ("ProfessionalQualificationCredential", "qualification", "professional-qualification"),
    "skill": ("VocationalSkillCredential", "qualification", "vocational-skill"),
}
CSV_COLUMNS = (
    "holder_name",
    "id_type",
    "id_number",
    "type_code",
    "specialty",
    "evaluation_committee",
    "awarded_on",
    "valid_from",
    "valid_until",
)
#: An award date as written by hand or by a spreadsheet: 2026-11-21, 2026/11/21, 2026/1/5.
AWARD_DATE = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})", re.ASCII)


EXAMPLE_ROW: dict[str, Any] = {
    "holderName": "张伟",
    "idType": "resident",
    "idNumber": "11010519491231002X",
    "typeCode": "ENG-ASSOCIATE_SENIOR",
    "specialty": "电气工程及其自动化",
    "evaluationCommittee": "江苏省工程技术研究系列高级职称评审委员会",
    "awardedOn": "2026-11-20",
}


class IssueRequest(BaseModel):
    """One credential to issue (also one row of a batch)."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        str_strip_whitespace=True,
        json_schema_extra={"examples": [EXAMPLE_ROW]},
    )

    holder_name: str = Field(min_length=1, max_length=128, examples=["张伟"])
    id_type: Literal["resident", "passport"] = Field(examples=["resident"])
    id_number: str = Field(min_length=5, max_length=20, examples=["11010519491231002X"])
    type_code: str = Field(min_length=1, max_length=64, examples=["ENG-ASSOCIATE_SENIOR"])
    #: the specialty (专业), where the type has specialties (catalogue ``has_specialty``)
    specialty: str | None = Field(default=None, min_length=1, max_length=128, examples=["电气工程及其自动化"])
    evaluation_committee: str = Field(
        min_length=1, max_length=256, examples=["江苏省工程技术研究系列高级职称评审委员会"]
    )
    awarded_on: date = Field(examples=["2026-11-20"])
    #: defaults to the start of ``awardedOn`` in China Standard Time
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @field_validator("holder_name", "specialty", "evaluation_committee", mode="before")
    @classmethod
    def _free_text(cls, value: Any) -> Any:
        # Before the str checks, so that the length limits apply to the NFC text.
        return normalise_text(value) if isinstance(value, str) else value

    @field_validator("id_number", "type_code")
    @classmethod
    def _printable(cls, value: str) -> str:
        return check_characters(value)

    @field_validator("awarded_on", mode="before")
    @classmethod
    def _award_date_forms(cls, value: Any) -> Any:
        # 2026/11/21 and 2026/1/5 as well as 2026-11-21: a spreadsheet in a Chinese
        # locale writes dates with slashes and without leading zeros.
        if isinstance(value, str):
            text = unicodedata.normalize("NFKC", value).strip()  # full-width digits too
            found = AWARD_DATE.fullmatch(text)
            if found is not None:
                try:
                    return date(*(int(part) for part in found.group(1, 3, 4)))
                except ValueError:
                    raise ValueError(f"{text} is not a calendar date") from None
        return value

    @field_validator("awarded_on")
    @classmethod
    def _award_in_range(cls, value: date) -> date:
        # Not after today either, but that needs the node's clock: see _check_rows.
        if value < EARLIEST.date():
            raise ValueError(f"must not be before {EARLIEST.date()}")
        return value

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _in_window(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a date-time needs a time zone offset (e.g. Z or +08:00)")
        # Compared before any conversion: an aware comparison cannot overflow.
        if not EARLIEST <= value < LATEST:
            raise ValueError(f"must be from {EARLIEST.isoformat()} and before {LATEST.isoformat()}")
        value = value.astimezone(UTC)
        # Earlier fields that failed their own checks are absent from info.data.
        awarded: date | None = info.data.get("awarded_on")
        if info.field_name == "valid_from":
            if awarded is not None and value < start_of_day(awarded):
                raise ValueError("must not be before the award date (awardedOn, China Standard Time)")
        elif "valid_from" in info.data and awarded is not None:
            start = info.data["valid_from"] or start_of_day(awarded)
            if value <= start:
                raise ValueError("must be after validFrom (by default the start of awardedOn)")
        return value

    @property
    def effective_valid_from(self) -> datetime:
        return self.valid_from if self.valid_from is not None else start_of_day(self.awarded_on)


def start_of_day(day: date) -> datetime:
    """The instant (UTC) a day begins in China Standard Time."""
    return datetime.combine(day, time(0), CHINA_STANDARD_TIME).astimezone(UTC)


class CallerMembers(NamedTuple):
    """What a VC API caller says of a credential beside the registry's own claims (VC
    Data Model 2.0 members a registry can sign honestly), carried into the document as
    given: ``contexts`` after the base and registry contexts, ``types`` after
    VerifiableCredential and the registry's type, ``members`` (name, description,
    evidence, termsOfUse, relatedResource, refreshService, credentialSchema) as they are,
    and ``credential_id`` (a UUID) for the credential's ``urn:uuid:`` id."""

    credential_id: str | None
    contexts: tuple[Any, ...]
    types: tuple[str, ...]
    members: dict[str, Any]


class IssuedCredential(BaseModel):
    id: str
    certificateNumber: str
    holderId: str


class BatchResult(BaseModel):
    batchId: str | None
    count: int
    credentials: list[IssuedCredential]
    #: True when this batch id had been issued before (the answer repeats that result)
    replayed: bool = Field(default=False, exclude=True)


RowError = dict[str, Any]


def _field_name(part: Any) -> Any:
    """A field as the API names it (camelCase), whichever name the row gave it."""
    field = IssueRequest.model_fields.get(part) if isinstance(part, str) else None
    return field.alias if field is not None and field.alias else part


def _error_field(error: Any) -> str | None:
    loc = error["loc"]
    return ".".join(str(p) for p in (_field_name(loc[0]), *loc[1:])) if loc else None


def _row_errors_from_validation(row: int, exc: ValidationError) -> list[RowError]:
    return [{"row": row, "field": _error_field(e), "message": e["msg"]} for e in exc.errors()]


#: Values that pass their own field's checks, put in place of the fields of a row that
#: failed them, so that the row's other fields are still checked (catalogue, identity
#: number, duplicates, names on record) and a row shows every error it has at once.
#: What is found about a stand-in is not reported (see :func:`validate_batch`).
_STAND_INS: dict[str, Any] = {
    "holderName": "x",
    "idType": "passport",
    "idNumber": "X0000000",
    "typeCode": "X",
    "specialty": "x",
    "evaluationCommittee": "x",
    "awardedOn": EARLIEST.date().isoformat(),
}


def _partial(raw: Any, failed: set[str]) -> IssueRequest | None:
    """A row that failed validation, with stand-ins for its ``failed`` fields (the set
    grows when a field fails only beside a stand-in), or None when nothing more of it
    can be checked (it is not an object)."""
    if not isinstance(raw, dict):
        return None
    named = {_field_name(k): v for k, v in raw.items()}
    for _ in range(len(IssueRequest.model_fields) + 1):
        trial = {k: v for k, v in named.items() if k not in failed}
        trial.update((k, v) for k, v in _STAND_INS.items() if k in failed)
        try:
            return IssueRequest.model_validate(trial)
        except ValidationError as exc:
            more = {f for f in (_error_field(e) for e in exc.errors()) if f is not None}
            if more <= failed:
                return None
            failed |= more
    return None


#: A parsed row: its number, the request, and the fields that failed validation (the
#: request has stand-ins for them; empty for a valid row).
ParsedRow = tuple[int, IssueRequest, frozenset[str]]


def _parse(raw_rows: Sequence[Any]) -> tuple[list[ParsedRow], list[RowError]]:
    if not raw_rows:
        raise InvalidInputError("a batch needs at least one credential")
    if len(raw_rows) > MAX_BATCH_ROWS:
        raise InvalidInputError(f"a batch has at most {MAX_BATCH_ROWS} credentials")
    parsed: list[ParsedRow] = []
    errors: list[RowError] = []
    for number, raw in enumerate(raw_rows, start=1):
        try:
            parsed.append((number, IssueRequest.model_validate(raw), frozenset()))
        except ValidationError as exc:
            found = _row_errors_from_validation(number, exc)
            errors.extend(found)
            failed = {e["field"] for e in found if e["field"] is not None}
            partial = _partial(raw, failed) if failed else None
            if partial is not None:
                parsed.append((number, partial, frozenset(failed)))
    return parsed, errors


def _reject(errors: list[RowError]) -> None:
    if errors:
        errors.sort(key=lambda e: e["row"])
        raise BatchRejectedError(f"{len({e['row'] for e in errors})} rows have errors", errors=errors)


#: Errors of a row in the order of its columns.
_FIELD_ORDER = {to_camel(name): i for i, name in enumerate(CSV_COLUMNS)}


def validate_batch(
    session: Session, raw_rows: Sequence[Any], ctx: IssuanceContext, lines: Sequence[int] | None = None
) -> list[IssueRequest]:
    """Rows (dicts) to requests, or :class:`BatchRejectedError` listing every error of
    every row: shape, types, identity numbers, catalogue codes, names on record. A row
    whose fields fail validation is still checked for what its other fields allow.
    ``lines`` (a CSV batch): the file's line of each row, given with its errors.
    Writes nothing."""
    parsed, errors = _parse(raw_rows)
    numbers = [n for n, _, _ in parsed]
    rows = [r for _, r, _ in parsed]
    failed = {n: bad for n, _, bad in parsed if bad}
    _, identities, more = _check_rows(session, rows, ctx, numbers, failed)
    _, holder_errors, on_record = _holders(session, rows, identities, ctx, write=False, numbers=numbers)
    more.extend(holder_errors)
    # A field that failed validation has its own error: what its stand-in led to is not reported.
    errors.extend(e for e in more if e["field"] not in failed.get(e["row"], frozenset()))
    errors.sort(key=lambda e: (e["row"], _FIELD_ORDER.get(e["field"], len(_FIELD_ORDER))))
    if lines is not None:
        errors = [{"row": e["row"], "line": lines[e["row"] - 1], **e} for e in errors]
    _reject(errors)
    return ValidatedBatch(rows, on_record)


class ValidatedBatch(list[IssueRequest]):
    """Rows that passed :func:`validate_batch`, with the holders it found on record (by
    (id_type, id_lookup)), whose names it checked: :func:`issue` takes them as they are
    instead of looking every holder up again (one statement per thousand holders less;
    the second probe had been thought costly at ten million credentials, but
    ``bench/issue_lookup.py`` measured it at 0.99x, the first having warmed its pages).
    Holders are never deleted, so one on record stays on record; one created between the
    validation and the issue by another request is caught by ``uq_holder_identity`` when
    :func:`issue` inserts it (409, send the batch again)."""

    def __init__(self, rows: Iterable[IssueRequest], on_record: dict[tuple[str, str], HolderInfo]) -> None:
        super().__init__(rows)
        self.on_record = on_record


def batch_digest(rows: Iterable[IssueRequest]) -> str:
    """SHA-256 over the parsed rows: the same batch as CSV or JSON has the same digest."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(orjson.dumps(row.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS))
        digest.update(b"\n")
    return digest.hexdigest()


class IssuanceContext:
    """What issuance needs of the node."""

    def __init__(
        self,
        *,
        did: str,
        base_url: str,
        province: str,
        ring: KeyRing,
        id_key: bytes,
        rng: random.Random,
        now: datetime,
    ) -> None:
        self.did, self.base_url, self.province = did, base_url, province
        self.ring, self.id_key, self.rng, self.now = ring, id_key, rng, now


def _reserve_serials(session: Session, province: str, year: int, count: int) -> int:
    """First of ``count`` consecutive serials for (province, year), atomically."""
    dialect = session.get_bind().dialect.name
    values = {"province": province, "year": year, "next_serial": 1}
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(CertificateSerial).values(values)
    session.execute(stmt.on_conflict_do_nothing())
    end = session.execute(
        update(CertificateSerial)
        .where(col(CertificateSerial.province) == province, col(CertificateSerial.year) == year)
        .values(next_serial=CertificateSerial.next_serial + count)
        .returning(col(CertificateSerial.next_serial))
    ).scalar_one()
    first: int = end - count
    if end - 1 > 9_999_999:
        raise ConflictError(f"certificate serials of {province}-{year} are exhausted")
    return first


def time_ordered_id(rng: random.Random, now: datetime) -> str:
    """A UUIDv7 (RFC 9562 §5.7): the Unix time in milliseconds (48 bits), version 7, the
    variant, and 74 random bits. Credential and holder ids: a new row's key lands beside
    the last ones in the primary-key and foreign-key indexes instead of on a random page
    of them. With random (version 4) ids, a batch of 1,000 on a node of ten million wrote
    into a random leaf of six indexes per credential (1,100 credentials/s at 100,000,
    301/s at ten million: bench/scale.py). What the time in it tells is when the row was
    made: for a credential, what its proof's ``created`` says anyway; for a holder, when
    the node first issued to them."""
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    random_bits = rng.getrandbits(74)
    value = (
        (millis << 80)
        | (0x7 << 76)
        | ((random_bits >> 62) << 64)  # rand_a, 12 bits
        | (0b10 << 62)  # the RFC 9562 variant
        | (random_bits & ((1 << 62) - 1))  # rand_b, 62 bits
    )
    return str(uuid.UUID(int=value))


def certificate_number(province: str, year: int, serial: int) -> str:
    """Province code (GB/T 2260), year of issue and a 7-digit serial: ``32-2026-0000123``."""
    return f"{province}-{year}-{serial:07d}"


def _check_rows(
    session: Session,
    rows: Sequence[IssueRequest],
    ctx: IssuanceContext,
    numbers: Sequence[int] | None = None,
    failed: dict[int, frozenset[str]] | None = None,
) -> tuple[dict[str, CredentialType], list[tuple[str, str, str]], list[RowError]]:
    """Checks beyond a row's own fields. ``failed``: by row number, the fields that
    failed validation (stand-ins: see :func:`validate_batch`); a row without a usable
    identity document gets no identity."""
    errors: list[RowError] = []
    types = {t.code: t for t in catalogue.list_types(session)}
    identities: list[tuple[str, str, str]] = []
    seen: dict[tuple[str, str, str], int] = {}
    today = ctx.now.astimezone(CHINA_STANDARD_TIME).date()
    for number, row in zip(numbers or range(1, len(rows) + 1), rows, strict=True):
        if row.awarded_on > today:
            errors.append(
                {
                    "row": number,
                    "field": "awardedOn",
                    "message": f"the award date is after today ({today}, China Standard Time)",
                }
            )
        if row.type_code not in types:
            errors.append(
                {"row": number, "field": "typeCode", "message": f"no active type {row.type_code!r}"}
            )
        for field, message in catalogue.row_problems(types.get(row.type_code), row.specialty):
            errors.append({"row": number, "field": field, "message": message})
        if failed and not failed.get(number, frozenset()).isdisjoint(("idType", "idNumber")):
            identities.append((row.id_type, "", ""))
            continue
        try:
            normal = normalise_id_number(row.id_type, row.id_number)
        except InvalidHolderIdError as exc:
            errors.append({"row": number, "field": "idNumber", "message": exc.detail})
            identities.append((row.id_type, "", ""))
            continue
        lookup = id_lookup_hash(ctx.id_key, row.id_type, normal)
        identities.append((row.id_type, normal, lookup))
        first = seen.setdefault((row.id_type, lookup, row.type_code), number)
        if first != number:
            errors.append(
                {"row": number, "field": "typeCode", "message": f"same holder and type as row {first}"}
            )
    return types, identities, errors


class HolderInfo(NamedTuple):
    id: str
    name: str
    holder_commitment: str


#: The holders of (id_type, id_lookup) pairs on PostgreSQL: a join against the pairs
#: passed as two array parameters, probing the unique index ``uq_holder_identity`` once
#: per pair. The statement has the same text and the same two parameters whatever the
#: number of pairs, so when psycopg prepares it and PostgreSQL switches to the generic
#: plan (after five executions), that plan still probes the index: the planner
#: estimates 10 rows for an ``unnest`` of a parameter. An ``IN`` list of one parameter
#: per value on ``id_lookup`` alone (which no index leads with) had a generic plan that
#: scanned the whole holder table for every chunk (issue 11).
HOLDERS_BY_IDENTITY_PG = text(
    "SELECT h.id, h.name, h.holder_commitment, h.id_type, h.id_lookup"
    " FROM unnest(CAST(:id_types AS text[]), CAST(:id_lookups AS text[])) AS sought(id_type, id_lookup)"
    " JOIN holder AS h ON h.id_type = sought.id_type AND h.id_lookup = sought.id_lookup"
)
#: Pairs per look-up on PostgreSQL: small enough that even a custom plan probes the
#: index rather than hashing the whole table, large enough to need few round trips.
PG_HOLDER_CHUNK = 1000
#: Values per look-up on SQLite, one bind parameter each (expanding IN).
SQLITE_HOLDER_CHUNK = 500


def _known_holders(connection: Connection, sought: Sequence[tuple[str, str]]) -> Iterator[Sequence[Any]]:
    """(id, name, holder_commitment, id_type, id_lookup) of the holders on record among
    ``sought`` (id_type, id_lookup) pairs, each found through ``uq_holder_identity``."""
    if connection.dialect.name == "postgresql":
        for start in range(0, len(sought), PG_HOLDER_CHUNK):
            chunk = sought[start : start + PG_HOLDER_CHUNK]
            yield from connection.execute(
                HOLDERS_BY_IDENTITY_PG,
                {"id_types": [t for t, _ in chunk], "id_lookups": [lookup for _, lookup in chunk]},
            )
        return
    # SQLite: both columns of the unique index constrained by IN lists, so it searches
    # the index (id_type=? AND id_lookup=?); on id_lookup alone, or with a row value
    # IN (VALUES ...), it scans the table. A pair of another type cannot match by
    # accident: the keyed hash covers the type (identity.id_lookup_hash).
    table = Holder.__table__  # type: ignore[attr-defined]
    query = sa_select(table.c.id, table.c.name, table.c.holder_commitment, table.c.id_type, table.c.id_lookup)
    for start in range(0, len(sought), SQLITE_HOLDER_CHUNK):
        chunk = sought[start : start + SQLITE_HOLDER_CHUNK]
        yield from connection.execute(
            query.where(
                table.c.id_type.in_(sorted({t for t, _ in chunk})),
                table.c.id_lookup.in_([lookup for _, lookup in chunk]),
            )
        )


def _holders(
    session: Session,
    rows: Sequence[IssueRequest],
    identities: list[tuple[str, str, str]],
    ctx: IssuanceContext,
    write: bool = True,
    numbers: Sequence[int] | None = None,
    on_record: dict[tuple[str, str], HolderInfo] | None = None,
) -> tuple[list[HolderInfo | None], list[RowError], dict[tuple[str, str], HolderInfo]]:
    """The holder of each row: found by keyed hash, or created (plain rows and one
    executemany: ORM objects cost more than the rest of a holder's issuance); and the
    holders found on record. ``on_record``: what a validation of these rows found (not
    looked up again)."""
    if on_record is None:
        identities_sought = sorted({(id_type, lookup) for id_type, _, lookup in identities if lookup})
        on_record = {}
        for hid, name, commitment, id_type, lookup in _known_holders(session.connection(), identities_sought):
            on_record[(id_type, lookup)] = HolderInfo(hid, name, commitment)
    known = dict(on_record)
    errors: list[RowError] = []
    result: list[HolderInfo | None] = []
    new: list[dict[str, Any]] = []
    numbered = zip(numbers or range(1, len(rows) + 1), rows, identities, strict=True)
    for number, row, (id_type, normal, lookup) in numbered:
        if not lookup:
            result.append(None)
            continue
        found = known.get((id_type, lookup))
        # Names on record before names were normalised may be NFD; the row's name is NFC.
        if found is not None and unicodedata.normalize("NFC", found.name) != row.holder_name:
            errors.append(
                {
                    "row": number,
                    "field": "holderName",
                    "message": "the name differs from the holder on record for this identity number",
                }
            )
        if found is None:
            hid = time_ordered_id(ctx.rng, ctx.now)
            found = HolderInfo(
                hid, row.holder_name, holder_commitment(commitment_salt(ctx.id_key, hid), normal)
            )
            known[(id_type, lookup)] = found
            if write:
                new.append(
                    {
                        "id": hid,
                        "name": row.holder_name,
                        "id_type": id_type,
                        "id_lookup": lookup,
                        "id_masked": mask_id_number(normal),
                        "holder_commitment": found.holder_commitment,
                        "created_at": ctx.now,
                    }
                )
        result.append(found)
    if write and new and not errors and all(r is not None for r in result):
        try:
            with session.begin_nested():
                session.connection().execute(insert(Holder.__table__), new)  # type: ignore[attr-defined]
        except IntegrityError:
            raise ConflictError(
                "another request registered one of these holders at the same moment; send the batch again"
            ) from None
    return result, errors, on_record


def credential_document(
    *,
    credential_id: str,
    ctx: IssuanceContext,
    row: IssueRequest,
    ctype: CredentialType,
    holder: HolderInfo,
    number: str,
    revocation: str,
    suspension: str,
    caller: CallerMembers | None = None,
) -> dict[str, Any]:
    vc_type, subject_key, schema = CREDENTIAL_TYPES[ctype.kind]
    zh, en = PROVINCES[ctx.province]
    document: dict[str, Any] = {
        "@context": [VC_CONTEXT_V2, REGISTRY_CONTEXT],
        "id": f"urn:uuid:{credential_id}",
        "type": ["VerifiableCredential", vc_type],
        "issuer": {"id": ctx.did, "name": {"zh": zh, "en": en}},
        "validFrom": format_datetime(row.effective_valid_from),
        "credentialSubject": {
            "id": f"urn:uuid:{holder.id}",
            "name": row.holder_name,
            "holderCommitment": holder.holder_commitment,
            subject_key: catalogue.type_document(ctype),
            "specialty": row.specialty,
            "certificateNumber": number,
            "evaluationCommittee": row.evaluation_committee,
            "awardedOn": row.awarded_on.isoformat(),
            "province": ctx.province,
        },
        "credentialStatus": [
            status_entry(revocation.rsplit("#", 1)[0], "revocation", int(revocation.rsplit("#", 1)[1])),
            status_entry(suspension.rsplit("#", 1)[0], "suspension", int(suspension.rsplit("#", 1)[1])),
        ],
        "credentialSchema": {"id": f"{ctx.base_url}/schemas/{schema}/v1.json", "type": "JsonSchema"},
    }
    subject = document["credentialSubject"]
    if row.specialty is None:
        # A type without specialties: the credential says none.
        del subject["specialty"]
    awarding = catalogue.awarding_body(ctype)
    if awarding is not None:
        # Who awards a national qualification, apart from the node that signs it.
        subject["awardingBody"] = awarding
    if row.valid_until is not None:
        document["validUntil"] = format_datetime(row.valid_until)
    if caller is not None:
        document["@context"].extend(caller.contexts)
        document["type"].extend(caller.types)
        document.update(caller.members)
    return document


def existing_batch(session: Session, batch_id: str, digest: str) -> BatchResult | None:
    """The result of a batch already issued under ``batch_id``, or None."""
    batch = session.get(IssuanceBatch, batch_id)
    if batch is None:
        return None
    if batch.request_digest != digest:
        raise ConflictError(f"batch {batch_id!r} was already issued with other content")
    return batch_result(session, batch_id)


def batch_result(session: Session, batch_id: str) -> BatchResult:
    rows = session.exec(
        select(Credential.id, Credential.certificate_number, Credential.holder_id)
        .where(Credential.batch_id == batch_id)
        .order_by(col(Credential.certificate_number))
    ).all()
    return BatchResult(
        batchId=batch_id,
        count=len(rows),
        credentials=[IssuedCredential(id=i, certificateNumber=n, holderId=h) for i, n, h in rows],
        replayed=True,
    )


def issue(
    session: Session,
    principal: Principal,
    rows: Sequence[IssueRequest],
    ctx: IssuanceContext,
    *,
    batch_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    callers: Sequence[CallerMembers] | None = None,
) -> BatchResult:
    """Issue every row or none. The caller's transaction commits; nothing here does.
    ``callers`` (one per row: the VC API path) adds what its caller said of each
    credential beside the registry's claims. Rows from :func:`validate_batch` (a
    :class:`ValidatedBatch`) bring the holders it found on record."""
    digest = batch_digest(rows)
    if batch_id is not None:
        previous = existing_batch(session, batch_id, digest)
        if previous is not None:
            return previous
        # Written first: a concurrent submission of the same id waits on this key and
        # then fails here (the caller may send it again: it will get the first result).
        session.add(
            IssuanceBatch(
                id=batch_id,
                request_digest=digest,
                count=len(rows),
                created_by=principal.actor,
                created_at=ctx.now,
            )
        )
        try:
            session.flush()
        except IntegrityError:
            raise ConflictError(
                f"batch {batch_id!r} was being issued by another request; send it again for its result"
            ) from None
    types, identities, errors = _check_rows(session, rows, ctx)
    validated = rows.on_record if isinstance(rows, ValidatedBatch) else None
    holders, holder_errors, _ = _holders(session, rows, identities, ctx, on_record=validated)
    _reject(errors + holder_errors)
    total = len(rows)
    year = ctx.now.astimezone(CHINA_STANDARD_TIME).year
    first_serial = _reserve_serials(session, ctx.province, year, total)
    revocations = allocate(session, "revocation", total, ctx.rng)
    suspensions = allocate(session, "suspension", total, ctx.rng)
    record, key = ctx.ring.signing_key(ctx.now)
    vm = f"{ctx.did}#{record.kid}"
    credential_rows: list[dict[str, Any]] = []
    audit_rows: list[dict[str, Any]] = []
    issued: list[IssuedCredential] = []
    for i, row in enumerate(rows):
        ctype, holder = types[row.type_code], holders[i]
        assert holder is not None
        caller = callers[i] if callers is not None else None
        if caller is not None and caller.credential_id is not None:
            credential_id = caller.credential_id
        else:
            credential_id = time_ordered_id(ctx.rng, ctx.now)
        number = certificate_number(ctx.province, year, first_serial + i)
        (rev_list, rev_number, rev_index), (sus_list, sus_number, sus_index) = revocations[i], suspensions[i]
        document = credential_document(
            credential_id=credential_id,
            ctx=ctx,
            row=row,
            ctype=ctype,
            holder=holder,
            number=number,
            revocation=f"{list_url(ctx.base_url, 'revocation', rev_number)}#{rev_index}",
            suspension=f"{list_url(ctx.base_url, 'suspension', sus_number)}#{sus_index}",
            caller=caller,
        )
        signed = add_proof(document, key, vm, ctx.now)
        credential_rows.append(
            {
                "id": credential_id,
                "certificate_number": number,
                "holder_id": holder.id,
                "type_code": ctype.code,
                "specialty": row.specialty,
                "committee": row.evaluation_committee,
                "awarded_on": row.awarded_on,
                "valid_from": row.effective_valid_from,
                "valid_until": row.valid_until,
                "batch_id": batch_id,
                "revocation_list_id": rev_list,
                "revocation_index": rev_index,
                "suspension_list_id": sus_list,
                "suspension_index": sus_index,
                "status": "active",
                "status_reason": None,
                "kid": record.kid,
                "issued_at": ctx.now,
                "document": orjson.dumps(signed).decode("utf-8"),
            }
        )
        audit_rows.append(
            {
                "at": ctx.now,
                "actor": principal.actor,
                "actor_role": principal.role,
                "action": "credential.issue",
                "target_type": "credential",
                "target_id": credential_id,
                "holder_id": holder.id,
                "reason": None,
                "detail": json.dumps({"certificateNumber": number, "batchId": batch_id}, ensure_ascii=False),
            }
        )
        issued.append(IssuedCredential(id=credential_id, certificateNumber=number, holderId=holder.id))
        if progress is not None and (i + 1) % 500 == 0:
            progress(i + 1, total)
    connection = session.connection()
    for start in range(0, total, 2000):  # Core executemany, not the ORM's bulk path
        connection.execute(insert(Credential.__table__), credential_rows[start : start + 2000])  # type: ignore[attr-defined]
        connection.execute(insert(AuditEvent.__table__), audit_rows[start : start + 2000])  # type: ignore[attr-defined]
    session.flush()
    if progress is not None:
        progress(total, total)
    return BatchResult(batchId=batch_id, count=total, credentials=issued)


class Recognised(NamedTuple):
    """What a recognition credential repeats of the credential it recognises (as the
    receiving node verified it)."""

    peer_entity: str
    credential_id: str
    issuer: str
    province: str
    certificate_number: str
    subject_id: str
    holder_name: str
    holder_commitment: str
    specialty: str | None
    evaluation_committee: str
    awarded_on: date
    #: VC Data Model 2.0 §5.3: the multibase SHA-256 digest of the recognised
    #: credential (RFC 8785 form) as it was presented
    digest_multibase: str


RECOGNITION_TYPE = "RecognitionCredential"


def issue_recognition(
    session: Session, principal: Principal, ctx: IssuanceContext, local: CredentialType, of: Recognised
) -> IssuedCredential:
    """Issue, as this node, the credential that recognises ``of`` as this node's type
    ``local`` (a holder's application decided by an officer): a credential of this node
    like any other (its own certificate number and status entries, revocable, in the
    register), typed also ``RecognitionCredential``, naming the recognised credential in
    ``credentialSubject.recognitionOf`` and its digest in ``relatedResource``. The holder
    is on record here under the recognised credential's subject (this node never sees
    an identity number); the commitment is the original's. The caller commits."""
    lookup = hashlib.sha256(f"{of.peer_entity}|{of.subject_id}".encode()).hexdigest()
    holder = session.exec(
        select(Holder).where(Holder.id_type == "recognition", Holder.id_lookup == lookup)
    ).first()
    if holder is None:
        holder = Holder(
            id=str(uuid.UUID(int=ctx.rng.getrandbits(128), version=4)),
            name=of.holder_name,
            id_type="recognition",
            id_lookup=lookup,
            id_masked="—",
            holder_commitment=of.holder_commitment,
            created_at=ctx.now,
        )
        session.add(holder)
        session.flush()
    row = IssueRequest.model_construct(
        holder_name=of.holder_name,
        id_type="passport",
        id_number="",
        type_code=local.code,
        specialty=of.specialty if local.has_specialty else None,
        evaluation_committee=of.evaluation_committee,
        awarded_on=of.awarded_on,
        valid_from=None,
        valid_until=None,
    )
    caller = CallerMembers(
        credential_id=None,
        contexts=(),
        types=(RECOGNITION_TYPE,),
        members={"relatedResource": [{"id": of.credential_id, "digestMultibase": of.digest_multibase}]},
    )
    year = ctx.now.astimezone(CHINA_STANDARD_TIME).year
    serial = _reserve_serials(session, ctx.province, year, 1)
    ((rev_list, rev_number, rev_index),) = allocate(session, "revocation", 1, ctx.rng)
    ((sus_list, sus_number, sus_index),) = allocate(session, "suspension", 1, ctx.rng)
    record, key = ctx.ring.signing_key(ctx.now)
    credential_id = time_ordered_id(ctx.rng, ctx.now)
    number = certificate_number(ctx.province, year, serial)
    document = credential_document(
        credential_id=credential_id,
        ctx=ctx,
        row=row,
        ctype=local,
        holder=HolderInfo(holder.id, holder.name, holder.holder_commitment),
        number=number,
        revocation=f"{list_url(ctx.base_url, 'revocation', rev_number)}#{rev_index}",
        suspension=f"{list_url(ctx.base_url, 'suspension', sus_number)}#{sus_index}",
        caller=caller,
    )
    document["credentialSubject"]["recognitionOf"] = {
        "id": of.credential_id,
        "issuer": of.issuer,
        "province": of.province,
        "certificateNumber": of.certificate_number,
    }
    signed = add_proof(document, key, f"{ctx.did}#{record.kid}", ctx.now)
    session.add(
        Credential(
            id=credential_id,
            certificate_number=number,
            holder_id=holder.id,
            type_code=local.code,
            specialty=row.specialty,
            committee=row.evaluation_committee,
            awarded_on=row.awarded_on,
            valid_from=row.effective_valid_from,
            valid_until=None,
            batch_id=None,
            revocation_list_id=rev_list,
            revocation_index=rev_index,
            suspension_list_id=sus_list,
            suspension_index=sus_index,
            status="active",
            status_reason=None,
            kid=record.kid,
            issued_at=ctx.now,
            document=orjson.dumps(signed).decode("utf-8"),
        )
    )
    session.add(
        AuditEvent(
            at=ctx.now,
            actor=principal.actor,
            actor_role=principal.role,
            action="credential.issue",
            target_type="credential",
            target_id=credential_id,
            holder_id=holder.id,
            detail=json.dumps(
                {"certificateNumber": number, "recognitionOf": of.credential_id}, ensure_ascii=False
            ),
        )
    )
    session.flush()
    return IssuedCredential(id=credential_id, certificateNumber=number, holderId=holder.id)
