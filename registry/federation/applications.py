"""Recognition applications (DESIGN "Recognition"): a holder moving province applies, at
their own node, to have a credential recognised by another province's node; their node
forwards it in a node-authenticated request (``registry.federation.node_requests``); the
receiving node verifies the credential, keeps the application, and its officer decides:
recognise it as one of its own types (issuing a recognition credential that references
the original) or refuse it with a reason. The holder's node asks the receiving node how
it was decided, again by a node-authenticated request, and keeps the answer.

Both ends keep a ``recognition_application`` row (``side`` outgoing / incoming) and an
audit record; the holder sees theirs.

This module holds the request and answer models and the database work of each step;
``registry.routes.recognition`` does the network and the HTTP.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlmodel import Session, col, select

from registry import audit
from registry.auth import Principal
from registry.credentials import catalogue, issuance
from registry.errors import ConflictError, InvalidInputError, NotFoundError
from registry.federation.metadata import PROVINCES
from registry.federation.recognition import Code
from registry.models import Credential, RecognitionApplication
from registry.signing.jcs import canonicalize

APPLY_PATH = "/federation/recognition-applications"
APPLY_PURPOSE = "recognition.apply"
STATUS_PURPOSE = "recognition.status"
#: An outgoing application still pending is asked about again after this many seconds.
RECHECK_SECONDS = 30

Text = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
State = Literal["pending", "recognised", "refused"]


def status_path(application_id: str) -> str:
    return f"{APPLY_PATH}/{application_id}/status"


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat().replace("+00:00", "Z")


class ApplicationIn(BaseModel):
    """A holder's application (at their own node)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "credentialId": "urn:uuid:0193f0c2-5d6e-7a4b-9c1d-2e3f4a5b6c7d",
                    "province": "34",
                    "statement": "拟调入合肥某研究所工作",
                }
            ]
        },
    )
    credentialId: str = Field(min_length=1, max_length=255, description="The id of one of your credentials")
    province: Literal["31", "32", "33", "34"] = Field(description="Where it should be recognised (GB/T 2260)")
    statement: Text | None = Field(
        default=None, description="Why, for the receiving node's officer (optional)"
    )


class DecisionIn(BaseModel):
    """An officer's decision on an incoming application."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "recognise", "recognisedAs": "ENG-ASSOCIATE_SENIOR", "reason": "符合互认政策"},
                {"decision": "refuse", "reason": "所申请专业与本省职称系列不对应"},
            ]
        },
    )
    decision: Literal["recognise", "refuse"]
    recognisedAs: Code | None = Field(
        default=None,
        description="This node's catalogue code it counts as; by default the one this node's policy gives",
    )
    reason: Text | None = Field(
        default=None, description="Required to refuse; recorded with a recognition too"
    )

    @model_validator(mode="after")
    def _reasoned(self) -> DecisionIn:
        if self.decision == "refuse" and self.reason is None:
            raise ValueError("a refusal needs its reason")
        if self.decision == "refuse" and self.recognisedAs is not None:
            raise ValueError("a refusal recognises nothing: omit recognisedAs")
        return self


class Forwarded(BaseModel):
    """The body of a ``recognition.apply`` request (validated at the receiving node)."""

    model_config = ConfigDict(extra="forbid")
    application: str = Field(pattern=r"^[0-9a-f-]{36}$")
    credential: dict[str, Any]
    statement: Text | None = None


class Decided(BaseModel):
    """The receiving node's answer to a ``recognition.status`` request (and to the
    application itself)."""

    id: str
    state: State
    recognisedAs: str | None = None
    decisionReason: str | None = None
    decidedAt: str | None = None
    recognitionCredential: dict[str, Any] | None = None


class ApplicationOut(BaseModel):
    id: str
    side: Literal["outgoing", "incoming"] = Field(
        description="outgoing: a holder's application this node forwarded; incoming: one it decides"
    )
    state: State
    province: str = Field(description="outgoing: the province asked; incoming: the issuing province")
    provinceName: dict[str, str]
    peerEntity: str = Field(description="The other node")
    credentialId: str
    certificateNumber: str
    holderName: str
    typeCode: str
    statement: str | None
    recognisedAs: str | None
    decisionReason: str | None
    decidedAt: str | None
    createdAt: str
    checkedAt: str | None = Field(description="outgoing: when the receiving node was last asked")
    recognitionCredential: dict[str, Any] | None = Field(
        description="The recognition credential the receiving node issued (VC JSON), once recognised"
    )


def out(row: RecognitionApplication) -> ApplicationOut:
    zh, en = PROVINCES[row.province]
    return ApplicationOut(
        id=row.id,
        side=row.side,  # type: ignore[arg-type]
        state=row.state,  # type: ignore[arg-type]
        province=row.province,
        provinceName={"zh": zh, "en": en},
        peerEntity=row.peer_entity,
        credentialId=row.credential_id,
        certificateNumber=row.certificate_number,
        holderName=row.holder_name,
        typeCode=row.type_code,
        statement=row.statement,
        recognisedAs=row.recognised_as,
        decisionReason=row.decision_reason,
        decidedAt=_iso(row.decided_at),
        createdAt=_iso(row.created_at) or "",
        checkedAt=_iso(row.checked_at),
        recognitionCredential=json.loads(row.recognition_credential) if row.recognition_credential else None,
    )


def decided(row: RecognitionApplication) -> Decided:
    return Decided(
        id=row.id,
        state=row.state,  # type: ignore[arg-type]
        recognisedAs=row.recognised_as,
        decisionReason=row.decision_reason,
        decidedAt=_iso(row.decided_at),
        recognitionCredential=json.loads(row.recognition_credential) if row.recognition_credential else None,
    )


# --- at the holder's node ----------------------------------------------------------------


def holders_credential(session: Session, holder_id: str, credential_id: str) -> Credential:
    """The holder's own credential, in force (someone else's is 404, as is no credential)."""
    row = session.get(Credential, credential_id.removeprefix("urn:uuid:"))
    if row is None or row.holder_id != holder_id:
        raise NotFoundError("you have no credential with this id")
    if row.status != "active":
        raise ConflictError(f"the credential is {row.status}: only a credential in force can be recognised")
    return row


def record_outgoing(
    session: Session,
    holder: Principal,
    credential: Credential,
    body: ApplicationIn,
    application_id: str,
    peer: str,
    answer: Decided,
    now: datetime,
) -> RecognitionApplication:
    """Keep the application the receiving node accepted (its id is ``answer.id``)."""
    document = json.loads(credential.document)
    row = RecognitionApplication(
        id=application_id,
        side="outgoing",
        peer_entity=peer,
        peer_application_id=answer.id,
        holder_id=credential.holder_id,
        credential_id=str(document["id"]),
        certificate_number=credential.certificate_number,
        holder_name=str(document["credentialSubject"]["name"]),
        type_code=credential.type_code,
        province=body.province,
        statement=body.statement,
        state=answer.state,
        created_at=now,
        checked_at=now,
    )
    session.add(row)
    audit.record(
        session,
        holder,
        now,
        "recognition.apply",
        "recognition_application",
        application_id,
        holder_id=credential.holder_id,
        detail={"province": body.province, "node": peer, "certificateNumber": credential.certificate_number},
    )
    return row


def holders_applications(session: Session, holder_id: str) -> list[RecognitionApplication]:
    return list(
        session.exec(
            select(RecognitionApplication)
            .where(RecognitionApplication.side == "outgoing", RecognitionApplication.holder_id == holder_id)
            .order_by(col(RecognitionApplication.created_at).desc())
        ).all()
    )


def holders_application(session: Session, holder_id: str, application_id: str) -> RecognitionApplication:
    row = session.get(RecognitionApplication, application_id)
    if row is None or row.side != "outgoing" or row.holder_id != holder_id:
        raise NotFoundError("you have no recognition application with this id")
    return row


def record_answer(session: Session, application_id: str, answer: Decided, now: datetime) -> None:
    """What the receiving node said of an outgoing application (a decision is final:
    a later answer never undoes it)."""
    row = session.get(RecognitionApplication, application_id)
    if row is None:
        return
    row.checked_at = now
    if row.state == "pending" and answer.state != "pending":
        row.state = answer.state
        row.recognised_as = answer.recognisedAs
        row.decision_reason = answer.decisionReason
        row.decided_at = datetime.fromisoformat(answer.decidedAt) if answer.decidedAt else now
        if answer.recognitionCredential is not None:
            row.recognition_credential = json.dumps(answer.recognitionCredential, ensure_ascii=False)
    session.add(row)


# --- at the receiving node ---------------------------------------------------------------


def peer_principal(entity: str) -> Principal:
    """How the audit names a calling node."""
    return Principal(kind="node", id=entity, role="peer_node")


def receive(
    session: Session,
    caller: str,
    forwarded: Forwarded,
    readable: Mapping[str, Any],
    issuer_province: str,
    now: datetime,
) -> tuple[RecognitionApplication, bool]:
    """Keep an application ``caller`` forwarded (its credential verified valid and
    issued by ``caller``): (the row, whether it is new). The same application sent
    again (a retry, a replay) is the same row."""
    existing = session.exec(
        select(RecognitionApplication).where(
            RecognitionApplication.side == "incoming",
            RecognitionApplication.peer_entity == caller,
            RecognitionApplication.peer_application_id == forwarded.application,
        )
    ).first()
    if existing is not None:
        return existing, False
    document = forwarded.credential
    subject = document.get("credentialSubject") or {}
    row = RecognitionApplication(
        id=str(uuid.uuid4()),
        side="incoming",
        peer_entity=caller,
        peer_application_id=forwarded.application,
        credential_id=str(document.get("id")),
        certificate_number=str(subject.get("certificateNumber", ""))[:32],
        holder_name=str(subject.get("name", ""))[:128],
        type_code=str(readable.get("typeCode") or ""),
        province=issuer_province,
        statement=forwarded.statement,
        credential=json.dumps(document, ensure_ascii=False),
        state="pending",
        created_at=now,
    )
    session.add(row)
    audit.record(
        session,
        peer_principal(caller),
        now,
        "recognition.receive",
        "recognition_application",
        row.id,
        detail={"node": caller, "certificateNumber": row.certificate_number, "typeCode": row.type_code},
    )
    return row, True


def incoming(session: Session, application_id: str) -> RecognitionApplication:
    row = session.get(RecognitionApplication, application_id)
    if row is None or row.side != "incoming":
        raise NotFoundError("this node has no recognition application with this id")
    return row


def incoming_of(session: Session, caller: str, application_id: str) -> RecognitionApplication:
    """An incoming application as the node that forwarded it asks about it (another
    node's application is not found)."""
    row = session.get(RecognitionApplication, application_id)
    if row is None or row.side != "incoming" or row.peer_entity != caller:
        raise NotFoundError("this node has no recognition application with this id from the calling node")
    return row


def list_incoming(
    session: Session, state: str | None, limit: int, offset: int
) -> list[RecognitionApplication]:
    query = select(RecognitionApplication).where(RecognitionApplication.side == "incoming")
    if state is not None:
        query = query.where(RecognitionApplication.state == state)
    query = query.order_by(col(RecognitionApplication.created_at)).offset(offset).limit(limit)
    return list(session.exec(query).all())


def digest_multibase(document: Mapping[str, Any]) -> str:
    """VC Data Model 2.0 §5.3 ``digestMultibase``: multibase base64url (``u``) of the
    multihash SHA2-256 of the document's RFC 8785 form."""
    import base64

    multihash = b"\x12\x20" + hashlib.sha256(canonicalize(document)).digest()
    return "u" + base64.urlsafe_b64encode(multihash).decode("ascii").rstrip("=")


def decide(
    session: Session,
    officer: Principal,
    application_id: str,
    body: DecisionIn,
    default_local: str | None,
    ctx: issuance.IssuanceContext,
) -> RecognitionApplication:
    """An officer's decision (final; audited). To recognise, this node issues the
    recognition credential as ``body.recognisedAs`` or ``default_local`` (what its
    policy gives for the type), a type of its catalogue in force."""
    row = incoming(session, application_id)
    if row.state != "pending":
        raise ConflictError(f"the application was already decided: {row.state}")
    now = ctx.now
    if body.decision == "refuse":
        row.state, row.decision_reason = "refused", body.reason
    else:
        code = body.recognisedAs or default_local
        if code is None:
            raise InvalidInputError(
                "this node's policy does not say what the type counts as here: give recognisedAs"
            )
        local = catalogue.get_type(session, code)
        if not local.active:
            raise InvalidInputError(f"{code} is retired from this node's catalogue")
        document = json.loads(row.credential or "{}")
        subject = document.get("credentialSubject") or {}
        issuer = document.get("issuer")
        awarded = subject.get("awardedOn")
        issued = issuance.issue_recognition(
            session,
            officer,
            ctx,
            local,
            issuance.Recognised(
                peer_entity=row.peer_entity,
                credential_id=row.credential_id,
                issuer=str(issuer.get("id") if isinstance(issuer, Mapping) else issuer),
                province=row.province,
                certificate_number=row.certificate_number,
                subject_id=str(subject.get("id") or row.credential_id),
                holder_name=row.holder_name,
                holder_commitment=str(subject.get("holderCommitment", "")),
                specialty=subject.get("specialty") if isinstance(subject.get("specialty"), str) else None,
                evaluation_committee=str(subject.get("evaluationCommittee") or "—"),
                awarded_on=date.fromisoformat(awarded) if isinstance(awarded, str) else now.date(),
                digest_multibase=digest_multibase(document),
            ),
        )
        credential = session.get(Credential, issued.id)
        assert credential is not None
        row.state, row.recognised_as, row.decision_reason = "recognised", code, body.reason
        row.recognition_credential = credential.document
    row.decided_at, row.decided_by = now, officer.actor
    session.add(row)
    audit.record(
        session,
        officer,
        now,
        "recognition.decide",
        "recognition_application",
        row.id,
        reason=body.reason,
        detail={"decision": row.state, "recognisedAs": row.recognised_as, "node": row.peer_entity},
    )
    session.flush()
    return row
