"""The catalogue of credential types: professional titles (series x level),
professional qualifications and vocational skill levels, with bilingual names and
stable codes. Seeded from ``catalogue_seed.json``; admins add types."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from registry.credentials.identity import normalise_text
from registry.errors import ConflictError, NotFoundError
from registry.models import CredentialType

SEED = Path(__file__).resolve().parent / "catalogue_seed.json"
LEVELS = ("FULL_SENIOR", "ASSOCIATE_SENIOR", "INTERMEDIATE", "ASSISTANT", "TECHNICIAN")
_CODE = r"^[A-Z][A-Z0-9_]*(-[A-Z0-9_]+)*$"


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
                }
            ]
        },
    )

    code: str = Field(min_length=3, max_length=64, pattern=_CODE, examples=["ENG-ASSOCIATE_SENIOR"])
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


class CredentialTypeIn(_CredentialTypeFields):
    """A new catalogue entry."""

    @field_validator("series_zh", "series_en", "level_zh", "level_en", "name_zh", "name_en", mode="before")
    @classmethod
    def _free_text(cls, value: Any) -> Any:
        # Signed into every credential of the type: the rules of holder names apply.
        return normalise_text(value) if isinstance(value, str) else value


class CredentialTypeOut(_CredentialTypeFields):
    # Not a CredentialTypeIn: an answer is not held to the input rules (an entry stored
    # before they were made must still be readable).
    active: bool


def to_public(row: CredentialType) -> CredentialTypeOut:
    return CredentialTypeOut.model_validate(row, from_attributes=True)


@cache
def seed_types() -> tuple[CredentialTypeIn, ...]:
    data = json.loads(SEED.read_text(encoding="utf-8"))
    return tuple(CredentialTypeIn.model_validate(t) for t in data["types"])


def seed(session: Session, now: datetime) -> int:
    """Add the seed types missing from the catalogue (idempotent); returns how many."""
    existing = set(session.exec(select(CredentialType.code)).all())
    added = 0
    for item in seed_types():
        if item.code not in existing:
            session.add(CredentialType(**item.model_dump(), created_at=now))
            added += 1
    session.flush()
    return added


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
    row = CredentialType(**item.model_dump(), created_at=now)
    session.add(row)
    session.flush()
    return row


def type_document(row: CredentialType) -> dict[str, Any]:
    """How a credential names its type (``credentialSubject.title`` / ``.qualification``)."""
    return {
        "code": row.code,
        "series": {"code": row.series_code, "zh": row.series_zh, "en": row.series_en},
        "level": {"code": row.level_code, "zh": row.level_zh, "en": row.level_en},
        "name": {"zh": row.name_zh, "en": row.name_en},
    }
