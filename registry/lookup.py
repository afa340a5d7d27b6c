"""The look-up of a credential by its certificate number and a verification code the
holder made: the service behind ``POST /v1/verifications/lookup``, the public
verification page and the HR desk.

A look-up reads personal data with the holder's consent (the code): it is audited in
the caller's transaction, and the holder sees it. A single-use code is consumed by
the look-up in the same transaction (one conditional UPDATE: of two concurrent
look-ups with one single-use code, exactly one succeeds); a revoked, expired or used
code, a wrong code and an unknown number are all the same 404."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from registry import audit, codes
from registry.auth import Principal
from registry.credentials.verification import Report, Trust
from registry.errors import NotFoundError
from registry.models import Credential
from registry.node import NodeState
from registry.verifier import verify_one

NOT_FOUND = "no credential with this certificate number and a current verification code"


@dataclass(frozen=True)
class LookedUp:
    """A credential found with a usable code: its record, its document as issued and
    the node's verification report of it (status included)."""

    credential: Credential
    document: dict[str, Any]
    report: Report


def normal_number(number: str) -> str:
    """A certificate number as typed (full-width, lower case, spaces) in its stored form."""
    return unicodedata.normalize("NFKC", number).strip().upper()


def look_up_credential(
    session: Session,
    node: NodeState,
    number: str,
    code: str,
    principal: Principal,
    now: datetime,
    trust: Trust,
) -> LookedUp:
    """The credential with this certificate number, when ``code`` is one of its usable
    verification codes; the code's use recorded (a single-use code consumed), the
    credential verified, and the look-up audited as ``principal``'s. ``session`` must
    be a write session: the caller commits it (or rolls it back, and nothing was used)."""
    wanted = normal_number(number)
    row = session.exec(select(Credential).where(Credential.certificate_number == wanted)).first()
    if row is None or not codes.consume(session, node.code_key, row.id, code, now):
        raise NotFoundError(NOT_FOUND)
    document: dict[str, Any] = json.loads(row.document)
    report, _ = verify_one(session, document, trust, node.base_url, None, now, node.status_cache)
    audit.record(
        session,
        principal,
        now,
        "credential.lookup",
        "credential",
        row.id,
        holder_id=row.holder_id,
        detail={
            "certificateNumber": row.certificate_number,
            "verdict": report.verdict,
            **({"clerk": principal.clerk} if principal.clerk else {}),
        },
    )
    return LookedUp(row, document, report)
