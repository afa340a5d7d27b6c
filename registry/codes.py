"""Verification codes: time-limited codes a holder makes for one credential and gives
to an employer, who looks the credential up with the certificate number and the code.
Only an HMAC of each code is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from registry.models import VerificationCode

#: Crockford base32 without I, L, O, U: easy to read aloud and type.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_DAYS = 30


def _digest(key: bytes, credential_id: str, code: str) -> str:
    # NFKC: a code typed with a Chinese input method in full-width mode is the same code.
    normal = unicodedata.normalize("NFKC", code).strip().upper().replace("-", "").replace(" ", "")
    return hmac.new(key, f"{credential_id}\x00{normal}".encode(), hashlib.sha256).hexdigest()


def new_code(
    session: Session, key: bytes, credential_id: str, now: datetime, days: int
) -> tuple[str, datetime]:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(10))  # 50 bits
    code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
    expires = now + timedelta(days=days)
    session.add(
        VerificationCode(
            credential_id=credential_id,
            code_hash=_digest(key, credential_id, code),
            expires_at=expires,
            created_at=now,
        )
    )
    session.flush()
    return code, expires


def code_matches(session: Session, key: bytes, credential_id: str, code: str, now: datetime) -> bool:
    digest = _digest(key, credential_id, code)
    rows = session.exec(
        select(VerificationCode.code_hash).where(
            VerificationCode.credential_id == credential_id, col(VerificationCode.expires_at) > now
        )
    ).all()
    return any(hmac.compare_digest(digest, stored) for stored in rows)
