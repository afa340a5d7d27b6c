"""The catalogue of credential types: professional titles (series x level), the
professional qualifications and skilled worker qualifications of the national
vocational qualification catalogue (2021) with their awarding bodies, and vocational
skill levels, with bilingual names and stable codes.

Seeded from ``catalogue_seed.json`` (which cites its sources); each start brings the
entries up to the seed's version without touching an entry an admin corrected. Admins
add types, correct them, retire and reinstate them; a type that credentials use is
never deleted (its credentials keep verifying)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlmodel import Session, col, select

from registry.credentials.identity import normalise_text
from registry.errors import ConflictError, InvalidInputError, NotFoundError
from registry.models import Credential, CredentialType

SEED = Path(__file__).resolve().parent / "catalogue_seed.json"
KINDS = ("title", "qualification", "skill")
LEVELS = ("FULL_SENIOR", "ASSOCIATE_SENIOR", "INTERMEDIATE", "ASSISTANT", "TECHNICIAN")
#: The five title levels (初级 is 助理级 or 员级), as every title names them.
TITLE_LEVEL_NAMES = {
    "FULL_SENIOR": ("正高级", "Full senior"),
    "ASSOCIATE_SENIOR": ("副高级", "Associate senior"),
    "INTERMEDIATE": ("中级", "Intermediate"),
    "ASSISTANT": ("助理级", "Assistant"),
    "TECHNICIAN": ("员级", "Technician"),
}
#: Items of the national vocational qualification catalogue (2021 edition) by kind.
NATIONAL_ITEMS = {"qualification": 59, "skill": 13}
_CODE = r"^[A-Z][A-Z0-9_]*(-[A-Z0-9_]+)*$"
#: What an admin may correct (code and kind are stable: credentials carry them).
CORRECTABLE = (
    "category",
    "series_zh",
    "series_en",
    "level_code",
    "level_zh",
    "level_en",
    "name_zh",
    "name_en",
    "equivalent_title_level",
    "has_specialty",
    "awarding_body_zh",
    "awarding_body_en",
    "national_item",
)


class _CredentialTypeFields(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "ENG-ASSOCIATE_SENIOR",
                    "kind": "title",
                    "series_code": "ENG",
                    "series_zh": "工程技术",
                    "series_en": "Engineering",
                    "level_code": "ASSOCIATE_SENIOR",
                    "level_zh": "副高级",
                    "level_en": "Associate senior",
                    "name_zh": "高级工程师",
                    "name_en": "Senior engineer",
                    "has_specialty": True,
                }
            ]
        },
    )

    code: str = Field(min_length=3, max_length=64, pattern=_CODE, examples=["ENG-ASSOCIATE_SENIOR"])
    #: title | qualification (professional) | skill (skilled worker qualification or
    #: vocational skill level)
    kind: Literal["title", "qualification", "skill"]
    category: Literal["licensing", "level-evaluation"] | None = None
    series_code: str = Field(min_length=2, max_length=32, pattern=r"^[A-Z][A-Z0-9_]*$")
    series_zh: str = Field(min_length=1, max_length=64)
    series_en: str = Field(min_length=1, max_length=128)
    level_code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Z][A-Z0-9_]*$")
    level_zh: str = Field(min_length=1, max_length=32)
    level_en: str = Field(min_length=1, max_length=64)
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    equivalent_title_level: Literal[LEVELS] | None = None  # type: ignore[valid-type]
    has_specialty: bool = Field(default=True, description="Credentials of the type name a specialty (专业)")
    awarding_body_zh: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The ministry or association that awards a national qualification (实施部门)",
    )
    awarding_body_en: str | None = Field(default=None, min_length=1, max_length=256)
    national_item: int | None = Field(
        default=None,
        ge=1,
        le=59,
        description="Item number in the national vocational qualification catalogue (2021)",
    )


def type_problems(item: _CredentialTypeFields, series_levels: tuple[str, ...] | None = None) -> list[str]:
    """What is wrong with an entry beside its fields' own rules: levels against the
    title levels (and the series' levels when known), qualifications' categories and
    awarding bodies."""
    problems: list[str] = []
    if item.kind == "title":
        if item.level_code not in TITLE_LEVEL_NAMES:
            problems.append(f"a title's level_code is one of {', '.join(LEVELS)}")
        else:
            zh, en = TITLE_LEVEL_NAMES[item.level_code]
            if (item.level_zh, item.level_en) != (zh, en):
                problems.append(f"level {item.level_code} is named {zh} / {en}")
            if series_levels is not None and item.level_code not in series_levels:
                problems.append(
                    f"series {item.series_code} has the levels {', '.join(series_levels)}, "
                    f"not {item.level_code}"
                )
        if item.category is not None or item.national_item is not None:
            problems.append("a title has no qualification category or national catalogue item")
        if item.awarding_body_zh is not None or item.awarding_body_en is not None:
            problems.append("a title names its evaluation committee in each credential, not an awarding body")
        if item.equivalent_title_level is not None:
            problems.append("a title is its own level: equivalent_title_level is for qualifications")
    else:
        if item.kind == "qualification" and item.category is None:
            problems.append("a qualification is licensing (准入类) or level-evaluation (水平评价类)")
        if (item.awarding_body_zh is None) != (item.awarding_body_en is None):
            problems.append("an awarding body is named in both Chinese and English")
        if item.kind == "qualification" and item.awarding_body_zh is None:
            problems.append("a qualification names its awarding body (实施部门)")
        limit = NATIONAL_ITEMS[item.kind]
        if item.national_item is not None and item.national_item > limit:
            problems.append(f"the national catalogue has {limit} items of kind {item.kind}")
        if item.kind == "skill" and item.national_item is not None and item.category is None:
            problems.append("a skilled worker qualification of the national catalogue has its category")
    return problems


class CredentialTypeIn(_CredentialTypeFields):
    """A new catalogue entry."""

    @field_validator(
        "series_zh",
        "series_en",
        "level_zh",
        "level_en",
        "name_zh",
        "name_en",
        "awarding_body_zh",
        "awarding_body_en",
        mode="before",
    )
    @classmethod
    def _free_text(cls, value: Any) -> Any:
        # Signed into every credential of the type: the rules of holder names apply.
        return normalise_text(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> CredentialTypeIn:
        problems = type_problems(self, series_levels(self.series_code))
        if problems:
            raise ValueError("; ".join(problems))
        return self


class CredentialTypeOut(_CredentialTypeFields):
    # Not a CredentialTypeIn: an answer is not held to the input rules (an entry stored
    # before they were made must still be readable).
    active: bool
    retired_at: datetime | None = None
    retired_reason: str | None = None


class CredentialTypeCorrection(BaseModel):
    """What an admin corrects of an entry (only the members given), and why. The code
    and the kind are stable; the level of a type that credentials use stays too."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "series_zh": "农业技术",
                    "series_en": "Agricultural technology",
                    "reason": "系列名称按人社部职称系列更正 / series name as in the national list",
                }
            ]
        },
    )

    category: Literal["licensing", "level-evaluation"] | None = None
    series_zh: str | None = Field(default=None, min_length=1, max_length=64)
    series_en: str | None = Field(default=None, min_length=1, max_length=128)
    level_code: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Z][A-Z0-9_]*$")
    level_zh: str | None = Field(default=None, min_length=1, max_length=32)
    level_en: str | None = Field(default=None, min_length=1, max_length=64)
    name_zh: str | None = Field(default=None, min_length=1, max_length=64)
    name_en: str | None = Field(default=None, min_length=1, max_length=128)
    equivalent_title_level: Literal[LEVELS] | None = None  # type: ignore[valid-type]
    has_specialty: bool | None = None
    awarding_body_zh: str | None = Field(default=None, min_length=1, max_length=128)
    awarding_body_en: str | None = Field(default=None, min_length=1, max_length=256)
    national_item: int | None = Field(default=None, ge=1, le=59)
    reason: str = Field(min_length=1, max_length=64, description="Why; kept in the audit log")


class Retirement(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "该资格已退出国家职业资格目录 / left the national catalogue"}]
        },
    )
    reason: str = Field(
        min_length=1, max_length=64, description="Why; kept with the entry and in the audit log"
    )


def to_public(row: CredentialType) -> CredentialTypeOut:
    return CredentialTypeOut.model_validate(row, from_attributes=True)


@cache
def _seed_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SEED.read_text(encoding="utf-8"))
    return data


def seed_version() -> int:
    return int(_seed_file()["version"])


@cache
def series_table() -> dict[str, dict[str, Any]]:
    """The title series of the seed by code: names, levels and tracks."""
    return {s["code"]: s for s in _seed_file()["series"]}


def series_levels(series_code: str) -> tuple[str, ...] | None:
    """The levels of a title series the seed knows (None for a series it does not)."""
    found = series_table().get(series_code)
    return None if found is None else tuple(found["levels"])


@cache
def seed_types() -> tuple[CredentialTypeIn, ...]:
    """The entries of the seed (each held to the rules of an admin's entry)."""
    return tuple(
        CredentialTypeIn.model_validate({k: v for k, v in t.items() if k != "retired"})
        for t in _seed_file()["types"]
    )


@cache
def seed_retirements() -> dict[str, str]:
    """Why the seed retires the entries it retires, by code."""
    return {t["code"]: t["retired"] for t in _seed_file()["types"] if t.get("retired")}


def _fields(item: CredentialTypeIn) -> dict[str, Any]:
    return item.model_dump()


def seed(session: Session, now: datetime) -> int:
    """Bring the catalogue up to the seed (idempotent): add the entries missing, and
    once per seed version update the entries an older seed wrote (names, awarding
    bodies, specialties, retirements) unless an admin has corrected them since; an
    admin's entries are never touched, nor any code. Returns how many entries changed."""
    version = seed_version()
    retired = seed_retirements()
    rows = {row.code: row for row in session.exec(select(CredentialType)).all()}
    changed = 0
    for item in seed_types():
        row = rows.get(item.code)
        reason = retired.get(item.code)
        if row is None:
            row = CredentialType(**_fields(item), created_at=now, seed_version=version)
            if reason is not None:
                row.active, row.retired_at, row.retired_reason = False, now, reason
            session.add(row)
            changed += 1
            continue
        if row.seed_version is not None and row.seed_version >= version:
            continue
        if row.updated_at is None:
            for name, value in _fields(item).items():
                if name not in ("code", "kind"):
                    setattr(row, name, value)
            if reason is not None and row.active:
                row.active, row.retired_at, row.retired_reason = False, now, reason
        else:
            # Corrected by an admin: only what the older seed could not say is added.
            for name in ("awarding_body_zh", "awarding_body_en", "national_item"):
                if getattr(row, name) is None:
                    setattr(row, name, getattr(item, name))
        row.seed_version = version
        session.add(row)
        changed += 1
    session.flush()
    return changed


def list_types(
    session: Session, kind: str | None = None, include_inactive: bool = False
) -> list[CredentialType]:
    query = select(CredentialType)
    if kind is not None:
        query = query.where(CredentialType.kind == kind)
    if not include_inactive:
        query = query.where(col(CredentialType.active))
    return list(session.exec(query.order_by(col(CredentialType.code))).all())


def get_type(session: Session, code: str) -> CredentialType:
    row = session.get(CredentialType, code)
    if row is None:
        raise NotFoundError(f"no credential type {code!r} in the catalogue")
    return row


def add_type(session: Session, item: CredentialTypeIn, now: datetime) -> CredentialType:
    if session.get(CredentialType, item.code) is not None:
        raise ConflictError(f"credential type {item.code!r} already exists; codes are stable")
    row = CredentialType(**_fields(item), created_at=now)
    session.add(row)
    session.flush()
    return row


def in_use(session: Session, code: str) -> bool:
    """Whether any credential of this node is of the type."""
    found = session.exec(select(Credential.id).where(Credential.type_code == code).limit(1)).first()
    return found is not None


def correct_type(
    session: Session, code: str, correction: CredentialTypeCorrection, now: datetime
) -> tuple[CredentialType, dict[str, list[Any]]]:
    """Apply an admin's correction, checked as a new entry would be. Answers the row and
    what changed (member: [before, after])."""
    row = get_type(session, code)
    given = correction.model_dump(exclude_unset=True, exclude={"reason"})
    current = {name: getattr(row, name) for name in CredentialTypeIn.model_fields}
    merged = {**current, **given}
    try:
        item = CredentialTypeIn.model_validate(merged)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]} for e in exc.errors()
        ]
        raise InvalidInputError(f"the corrected entry {code} is not valid", errors=errors) from None
    after = _fields(item)
    changes = {name: [current[name], after[name]] for name in CORRECTABLE if current[name] != after[name]}
    if "level_code" in changes and in_use(session, code):
        raise ConflictError(
            f"credentials of type {code} were issued at level {row.level_code}: add a new type instead"
        )
    for name, (_, value) in changes.items():
        setattr(row, name, value)
    if changes:
        row.updated_at = now
        session.add(row)
        session.flush()
    return row, changes


def retire_type(session: Session, code: str, reason: str, now: datetime) -> CredentialType:
    """No more credentials of the type are issued; those issued keep verifying."""
    row = get_type(session, code)
    if not row.active:
        raise ConflictError(f"credential type {code} is already retired")
    row.active, row.retired_at, row.retired_reason, row.updated_at = False, now, reason, now
    session.add(row)
    session.flush()
    return row


def reinstate_type(session: Session, code: str, now: datetime) -> CredentialType:
    row = get_type(session, code)
    if row.active:
        raise ConflictError(f"credential type {code} is not retired")
    row.active, row.retired_at, row.retired_reason, row.updated_at = True, None, None, now
    session.add(row)
    session.flush()
    return row


def delete_type(session: Session, code: str) -> None:
    """Only an entry added by mistake: never one that credentials use, nor one of the
    seed (the national lists: retire it instead)."""
    row = get_type(session, code)
    if in_use(session, code):
        raise ConflictError(f"credentials of type {code} were issued: retire the type instead of deleting it")
    if row.seed_version is not None:
        raise ConflictError(f"{code} is an entry of the national lists: retire it instead of deleting it")
    session.delete(row)
    session.flush()


def row_problems(ctype: CredentialType | None, specialty: str | None) -> list[tuple[str, str]]:
    """(field, message) for what an issuance row asks of its type that the type does
    not allow: a retired type, a specialty missing or not had."""
    if ctype is None:
        return []
    problems: list[tuple[str, str]] = []
    if not ctype.active:
        problems.append(
            ("typeCode", f"type {ctype.code} is retired: {ctype.retired_reason or 'no reason given'}")
        )
    if ctype.has_specialty and specialty is None:
        problems.append(("specialty", f"type {ctype.code} ({ctype.name_zh}) needs a specialty (专业)"))
    elif not ctype.has_specialty and specialty is not None:
        problems.append(("specialty", f"type {ctype.code} ({ctype.name_zh}) has no specialty: leave it out"))
    return problems


def type_document(row: CredentialType) -> dict[str, Any]:
    """How a credential names its type (``credentialSubject.title`` / ``.qualification``)."""
    return {
        "code": row.code,
        "series": {"code": row.series_code, "zh": row.series_zh, "en": row.series_en},
        "level": {"code": row.level_code, "zh": row.level_zh, "en": row.level_en},
        "name": {"zh": row.name_zh, "en": row.name_en},
    }


def awarding_body(row: CredentialType) -> dict[str, str] | None:
    """``credentialSubject.awardingBody`` of a national qualification: who awards it,
    apart from the node that signs the credential. None for a title (its evaluation
    committee is ``evaluationCommittee``) and for a skill level."""
    if row.awarding_body_zh is None or row.awarding_body_en is None:
        return None
    return {"zh": row.awarding_body_zh, "en": row.awarding_body_en}
