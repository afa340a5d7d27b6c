"""Verification codes: time-limited codes a holder makes for one credential and gives
to an employer, who looks the credential up with the certificate number and the code.

A code is multi-use (any number of look-ups until it expires) or single-use (the
first successful look-up consumes it); the holder may revoke it before then. Only an
HMAC of each code is stored: the holder's list of codes shows when each was made,
until when it runs, how it may be used and whether it was used or revoked, never the
code itself."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col, select

from registry.errors import NotFoundError
from registry.models import VerificationCode

#: Crockford base32 without I, L, O, U: easy to read aloud and type.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_DAYS = 30
#: Codes a credential may have that are still usable (unexpired, unrevoked, unused);
#: a holder who needs more revokes some first.
MAX_LIVE_CODES = 50


def _digest(key: bytes, credential_id: str, code: str) -> str:
    # NFKC: a code typed with a Chinese input method in full-width mode is the same code.
    normal = unicodedata.normalize("NFKC", code).strip().upper().replace("-", "").replace(" ", "")
    return hmac.new(key, f"{credential_id}\x00{normal}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class NewCode:
    """A code just made: the code itself (shown once) and its record's id and expiry."""

    id: int
    code: str
    expires_at: datetime
    single_use: bool


def new_code(
    session: Session,
    key: bytes,
    credential_id: str,
    now: datetime,
    days: int,
    *,
    single_use: bool = False,
) -> NewCode:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(10))  # 50 bits
    code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
    expires = now + timedelta(days=days)
    row = VerificationCode(
        credential_id=credential_id,
        code_hash=_digest(key, credential_id, code),
        expires_at=expires,
        created_at=now,
        single_use=single_use,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return NewCode(row.id, code, expires, single_use)


def _usable(credential_id: str, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """A code of the credential that a look-up may use now."""
    return (
        col(VerificationCode.credential_id) == credential_id,
        col(VerificationCode.expires_at) > now,
        col(VerificationCode.revoked_at).is_(None),
        (col(VerificationCode.single_use).is_(False)) | col(VerificationCode.used_at).is_(None),
    )


def live_codes(session: Session, credential_id: str, now: datetime) -> int:
    """How many codes of the credential are usable now."""
    return len(session.exec(select(VerificationCode.id).where(*_usable(credential_id, now))).all())


def find_usable(session: Session, key: bytes, credential_id: str, code: str, now: datetime) -> int | None:
    """The id of the credential's usable code that ``code`` is (None when it is none:
    wrong, expired, revoked, or single-use and used). Compared in constant time."""
    digest = _digest(key, credential_id, code)
    rows = session.exec(
        select(VerificationCode.id, VerificationCode.code_hash).where(*_usable(credential_id, now))
    ).all()
    found = None
    for code_id, stored in rows:
        if hmac.compare_digest(digest, stored):
            found = code_id
    return found


def use(session: Session, code_id: int, credential_id: str, now: datetime) -> bool:
    """Record a successful look-up with the code: one conditional UPDATE, so that of
    two concurrent look-ups with one single-use code exactly one succeeds (the other
    finds the row used once the first commits, and updates nothing)."""
    result = session.connection().execute(
        update(VerificationCode)
        .where(col(VerificationCode.id) == code_id, *_usable(credential_id, now))
        .values(used_at=now)
    )
    return bool(result.rowcount == 1)


def consume(session: Session, key: bytes, credential_id: str, code: str, now: datetime) -> bool:
    """Whether ``code`` is a usable code of the credential, and if so its use recorded
    (a single-use code is consumed by it)."""
    code_id = find_usable(session, key, credential_id, code, now)
    return code_id is not None and use(session, code_id, credential_id, now)


def code_matches(session: Session, key: bytes, credential_id: str, code: str, now: datetime) -> bool:
    """Whether ``code`` is a usable code of the credential (nothing recorded)."""
    return find_usable(session, key, credential_id, code, now) is not None


def list_codes(session: Session, credential_id: str) -> list[VerificationCode]:
    """The credential's codes, newest first."""
    return list(
        session.exec(
            select(VerificationCode)
            .where(VerificationCode.credential_id == credential_id)
            .order_by(col(VerificationCode.created_at).desc(), col(VerificationCode.id).desc())
        ).all()
    )


def state(row: VerificationCode, now: datetime) -> str:
    """``revoked``, ``used`` (a single-use code consumed), ``expired`` or ``active``."""
    if row.revoked_at is not None:
        return "revoked"
    if row.single_use and row.used_at is not None:
        return "used"
    if row.expires_at <= now:
        return "expired"
    return "active"


def revoke(
    session: Session, credential_id: str, code_id: int, now: datetime
) -> tuple[VerificationCode, bool]:
    """Revoke one of the credential's codes; (the code, whether this changed it). A
    code revoked before stays as it was (revoking twice changes nothing)."""
    row = session.get(VerificationCode, code_id, with_for_update=True)
    if row is None or row.credential_id != credential_id:
        raise NotFoundError(f"no verification code {code_id} of this credential")
    if row.revoked_at is not None:
        return row, False
    row.revoked_at = now
    session.add(row)
    session.flush()
    return row, True
