"""The look-up of a credential by its certificate number and a verification code the
holder made: the service behind ``POST /v1/verifications/lookup``, the public
verification page and the HR desk.

A look-up reads personal data with the holder's consent (the code): it is audited in
the caller's transaction, and the holder sees it. A single-use code is consumed by
the look-up in the same transaction (one conditional UPDATE: of two concurrent
look-ups with one single-use code, exactly one succeeds); a revoked, expired or used
code, a wrong code and an unknown number are all the same 404.

A certificate number names its province (``34-2026-0000123``). At a federated node,
:func:`look_up` sends the look-up of another province's number to that province's node
in a node-authenticated request (purpose ``credential.lookup``, ``/federation/lookups``):
the issuing node checks and uses the code, audits the look-up as the asking node's (with
who asked there, so the holder sees it), and answers the credential as issued; the asking
node verifies it itself, as any credential of that province, and answers in its own terms.
Both ends audit it."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from registry import audit, codes, peers
from registry.auth import Principal
from registry.credentials.verification import Report, Trust
from registry.errors import NotFoundError
from registry.federation.errors import FederationError
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
    requester: str | None = None,
) -> LookedUp:
    """The credential with this certificate number, when ``code`` is one of its usable
    verification codes; the code's use recorded (a single-use code consumed), the
    credential verified, and the look-up audited as ``principal``'s (``requester``: who
    asked through the node ``principal`` is, for another node's look-up). ``session``
    must be a write session: the caller commits it (or rolls it back, and nothing was
    used)."""
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
            **({"requester": requester} if requester else {}),
        },
    )
    return LookedUp(row, document, report)


# --- another province's numbers ---------------------------------------------------------

LOOKUP_PATH = "/federation/lookups"
LOOKUP_PURPOSE = "credential.lookup"
_NUMBER = re.compile(r"^(3[1-4])-[0-9]{4}-[0-9]{7}$")


class PeerLookup(BaseModel):
    """The body of a ``credential.lookup`` request."""

    model_config = ConfigDict(extra="forbid")
    certificateNumber: str = Field(max_length=32)
    verificationCode: str = Field(max_length=32)
    requester: str | None = Field(default=None, max_length=160, description="Who asked, at the asking node")


class PeerFound(BaseModel):
    """The issuing node's answer: the credential as issued."""

    verifiableCredential: dict[str, Any]


@dataclass(frozen=True)
class Found:
    """What a look-up found, here or at another province's node (``node``: its entity id)."""

    document: dict[str, Any]
    report: Report
    node: str | None = None


def province_of(number: str) -> str | None:
    """The province (GB/T 2260) a certificate number names, when it is well formed."""
    match = _NUMBER.fullmatch(normal_number(number))
    return match.group(1) if match else None


def requester_of(principal: Principal, name: str | None) -> str:
    """How a look-up sent to another node names who asked here."""
    who = name or principal.actor
    named = f"{who} ({principal.clerk})" if principal.clerk else who
    return named[:160]  # PeerLookup.requester's bound


async def look_up(
    node: NodeState,
    number: str,
    code: str,
    principal: Principal,
    trust_of: Callable[[], Trust],
    requester: str | None = None,
) -> Found:
    """Look a credential up here, or at the node of the province its number names
    (federated nodes). ``trust_of`` gives what this node trusts (read once what a
    verification needs of the issuing member is here); ``requester``: the asking HR
    client's name, sent to that node."""
    province = province_of(number)
    if province is None or province == node.settings.province or node.directory is None:

        def here() -> Found:
            with node.db.session() as session:
                found = look_up_credential(session, node, number, code, principal, node.clock(), trust_of())
            return Found(found.document, found.report)

        return await run_in_threadpool(here)
    try:
        profile = await node.directory.member_in(province)
    except FederationError as exc:
        raise peers.PeerUnavailableError(exc.detail) from None
    body = PeerLookup(
        certificateNumber=normal_number(number),
        verificationCode=code,
        requester=requester_of(principal, requester),
    )
    # Sent again once when its answer may have been lost: that node keeps its answer
    # per request, so the code is used once and the look-up recorded once.
    answer = await peers.ask(
        node,
        profile.entity_id,
        LOOKUP_PATH,
        LOOKUP_PURPOSE,
        body.model_dump(),
        PeerFound,
        not_found=NOT_FOUND,
        resend=True,
    )
    document = answer.verifiableCredential
    subject = document.get("credentialSubject")
    issuer = document.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if (
        not isinstance(subject, dict)
        or subject.get("certificateNumber") != body.certificateNumber
        or issuer_id != profile.did
    ):
        raise peers.PeerUnavailableError(
            f"{profile.entity_id} answered with another credential than the one asked for"
        )
    await node.directory.prepare([document])
    now, trust = node.clock(), trust_of()

    def verify_and_record() -> Found:
        with node.db.session() as session:
            report, _ = verify_one(
                session,
                document,
                trust,
                node.base_url,
                None,
                now,
                node.status_cache,
                peer_status=node.directory,
            )
            audit.record(
                session,
                principal,
                now,
                "credential.lookup",
                "credential",
                str(document.get("id")),
                detail={
                    "certificateNumber": body.certificateNumber,
                    "node": profile.entity_id,
                    "verdict": report.verdict,
                    **({"clerk": principal.clerk} if principal.clerk else {}),
                },
            )
        return Found(document, report, profile.entity_id)

    return await run_in_threadpool(verify_and_record)
