"""Recognition applications (DESIGN "Recognition"): a holder moving province applies, at
their own node, to have a credential recognised by another province's node; their node
forwards it in a node-authenticated request (``registry.federation.node_requests``); the
receiving node verifies the credential, keeps the application, and its officer decides:
recognise it as one of its own types (issuing a recognition credential that references
the original) or refuse it with a reason. The holder's node asks the receiving node how
it was decided, again by a node-authenticated request, and keeps the answer. While it
waits for a decision, the holder may withdraw it (撤回): their node keeps the withdrawal
(``withdrawing``) and forwards it; the receiving node takes it unless its officers decided
first, and then answers with the decision instead.

Both ends keep a ``recognition_application`` row (``side`` outgoing / incoming) and an
audit record; the holder sees theirs.

This module holds the request and answer models and the database work of each step;
``registry.routes.recognition`` does the network and the HTTP.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import or_, update
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
WITHDRAW_PURPOSE = "recognition.withdraw"
DISPUTE_PURPOSE = "recognition.dispute"
#: An outgoing application still pending is asked about again after this many seconds.
RECHECK_SECONDS = 30

Text = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
State = Literal["pending", "recognised", "refused", "disputed", "withdrawn"]
#: States in which an application waits for the receiving node's officers.
WAITING = ("pending", "disputed")
#: What the holder's node shows of its own rows: the receiving node's states, and
#: ``sending`` / ``disputing`` / ``withdrawing`` while the other node has not confirmed
#: the application, the dispute or the withdrawal (this node sends it again, under the
#: same id, when the holder looks).
OutState = Literal[
    "sending", "pending", "recognised", "refused", "disputing", "disputed", "withdrawing", "withdrawn"
]
UNCONFIRMED = ("sending", "disputing", "withdrawing")
#: outgoing rows are ``sending`` from when they are kept until the receiving node answers


class NoLongerValidError(ConflictError):
    """The credential of an application no longer verifies valid (to recognise it)."""

    slug = "credential-no-longer-valid"
    title = "The credential no longer verifies valid here"


class ApplicationExistsError(ConflictError):
    """An application of the credential in that province waits or was recognised."""

    slug = "recognition-application-exists"
    title = "An application of this credential in that province already exists"


def _row(session: Session, application_id: str, *, lock: bool = False) -> RecognitionApplication | None:
    """The application row; ``lock``: locked for this transaction and read again from
    the database (``populate_existing``: a row this session read before, unlocked, is
    otherwise returned as it was then, and a decision could overwrite a withdrawal
    committed in between)."""
    if lock:
        return session.get(
            RecognitionApplication, application_id, with_for_update=True, populate_existing=True
        )
    return session.get(RecognitionApplication, application_id)


def status_path(application_id: str) -> str:
    return f"{APPLY_PATH}/{application_id}/status"


def withdrawal_path(application_id: str) -> str:
    return f"{APPLY_PATH}/{application_id}/withdrawal"


def dispute_path(application_id: str) -> str:
    return f"{APPLY_PATH}/{application_id}/dispute"


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


class DisputeIn(BaseModel):
    """A holder's dispute (异议) of a refusal: why it should be decided again."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"statement": "本人专业为电气工程，与本省工程系列对应，请复核。"}]},
    )
    statement: Text = Field(description="Why the refusal should be decided again")


class Forwarded(BaseModel):
    """The body of a ``recognition.apply`` request (validated at the receiving node)."""

    model_config = ConfigDict(extra="forbid")
    application: str = Field(pattern=r"^[0-9a-f-]{36}$")
    credential: dict[str, Any]
    statement: Text | None = None


class Decided(BaseModel):
    """The receiving node's answer to a ``recognition.status`` request (and to the
    application itself). Checked as it arrives at the holder's node: a peer's answer is
    untrusted input."""

    id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    state: State
    recognisedAs: Code | None = None
    decisionReason: str | None = Field(default=None, max_length=500)
    decidedAt: AwareDatetime | None = None
    #: when the holder's dispute was taken up (a dispute is taken once)
    disputedAt: AwareDatetime | None = None
    #: when the holder's withdrawal was taken (state withdrawn)
    withdrawnAt: AwareDatetime | None = None
    recognitionCredential: dict[str, Any] | None = None


class ApplicationOut(BaseModel):
    id: str
    side: Literal["outgoing", "incoming"] = Field(
        description="outgoing: a holder's application this node forwarded; incoming: one it decides"
    )
    state: OutState = Field(
        description="sending / disputing / withdrawing: kept here, not yet confirmed by the other node "
        "(sent again when the holder next looks); pending, disputed: waiting for its officers; recognised, "
        "refused; withdrawn: by the holder before a decision"
    )
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
    disputeStatement: str | None = Field(description="The holder's dispute of a refusal (异议), once made")
    disputedAt: str | None
    withdrawnAt: str | None = Field(description="When the holder withdrew it (撤回), before a decision")
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
        disputeStatement=row.dispute_statement,
        disputedAt=_iso(row.disputed_at),
        withdrawnAt=_iso(row.withdrawn_at),
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
        decidedAt=row.decided_at,
        disputedAt=row.disputed_at,
        withdrawnAt=row.withdrawn_at,
        recognitionCredential=json.loads(row.recognition_credential) if row.recognition_credential else None,
    )


def kept_incoming(session: Session, caller: str, application_id: str) -> RecognitionApplication | None:
    """The application ``caller`` forwarded under ``application_id``, if this node keeps it."""
    return session.exec(
        select(RecognitionApplication).where(
            RecognitionApplication.side == "incoming",
            RecognitionApplication.peer_entity == caller,
            RecognitionApplication.peer_application_id == application_id,
        )
    ).first()


# --- at the holder's node ----------------------------------------------------------------


def holders_credential(
    session: Session, holder_id: str, credential_id: str, lock: bool = False
) -> Credential:
    """The holder's own credential, in force (someone else's is 404, as is no credential);
    ``lock``: held until the transaction ends (applications of it are serialised)."""
    row = session.get(
        Credential, credential_id.removeprefix("urn:uuid:"), with_for_update=lock, populate_existing=lock
    )
    if row is None or row.holder_id != holder_id:
        raise NotFoundError("you have no credential with this id")
    if row.status != "active":
        raise ConflictError(f"the credential is {row.status}: only a credential in force can be recognised")
    return row


def start_outgoing(
    session: Session,
    holder: Principal,
    body: ApplicationIn,
    peer: str,
    rng_id: str,
    now: datetime,
) -> RecognitionApplication:
    """Keep the holder's application before it is sent (state ``sending``; its id is
    the one the receiving node will know it by, so a retry is the same application
    there). The holder's credential is locked for the check: one application per
    credential and province at a time (an earlier one still being sent is sent again);
    a credential already recognised there needs none (409)."""
    credential = holders_credential(session, holder.holder_id or "", body.credentialId, lock=True)
    document = json.loads(credential.document)
    earlier = session.exec(
        select(RecognitionApplication).where(
            RecognitionApplication.side == "outgoing",
            RecognitionApplication.holder_id == credential.holder_id,
            RecognitionApplication.credential_id == str(document["id"]),
            RecognitionApplication.province == body.province,
            col(RecognitionApplication.state).in_(("sending", *WAITING, *UNCONFIRMED, "recognised")),
        )
    ).first()
    if earlier is not None and earlier.state != "sending":
        what = {
            "recognised": "was recognised",
            "disputing": "is being disputed (not yet confirmed by the other province)",
            "withdrawing": "is being withdrawn (not yet confirmed by the other province)",
        }.get(earlier.state, "is waiting for a decision")
        raise ApplicationExistsError(
            f"an application of this credential in that province {what} ({earlier.id})"
        )
    if earlier is not None:
        return earlier
    row = RecognitionApplication(
        id=rng_id,
        side="outgoing",
        peer_entity=peer,
        peer_application_id=rng_id,  # until the receiving node answers with its own
        holder_id=credential.holder_id,
        credential_id=str(document["id"]),
        certificate_number=credential.certificate_number,
        holder_name=str(document["credentialSubject"]["name"]),
        type_code=credential.type_code,
        province=body.province,
        statement=body.statement,
        state="sending",
        created_at=now,
    )
    session.add(row)
    return row


def forwarded_body(session: Session, row: RecognitionApplication) -> dict[str, Any]:
    """What the holder's node sends for ``row``: its id, the credential as issued, the
    holder's statement."""
    credential = session.get(Credential, row.credential_id.removeprefix("urn:uuid:"))
    assert credential is not None
    return {
        "application": row.id,
        "credential": json.loads(credential.document),
        **({"statement": row.statement} if row.statement else {}),
    }


def finish_outgoing(
    session: Session, holder: Principal, application_id: str, answer: Decided, now: datetime
) -> RecognitionApplication:
    """The receiving node accepted the application: keep its id and state; audited."""
    row = _row(session, application_id, lock=True)
    if row is None:
        raise ConflictError("the application was dropped meanwhile: apply again")
    if row.state != "sending":  # confirmed meanwhile (a resend by another request)
        return row
    row.peer_application_id, row.state, row.checked_at = answer.id, "pending", now
    session.add(row)
    audit.record(
        session,
        holder,
        now,
        "recognition.apply",
        "recognition_application",
        application_id,
        holder_id=row.holder_id,
        detail={
            "province": row.province,
            "node": row.peer_entity,
            "certificateNumber": row.certificate_number,
        },
    )
    return row


def claim_resend(session: Session, application_id: str, now: datetime) -> bool:
    """Whether this request may send an unconfirmed row again now: at most once per
    :data:`RECHECK_SECONDS` however often the holder looks (or how many of their requests
    arrive together: the claim is one conditional update)."""
    since = now - timedelta(seconds=RECHECK_SECONDS)
    table = RecognitionApplication.__table__  # type: ignore[attr-defined]
    claimed = session.connection().execute(
        update(table)
        .where(
            table.c.id == application_id,
            table.c.state.in_(UNCONFIRMED),
            or_(table.c.resent_at.is_(None), table.c.resent_at <= since),
        )
        .values(resent_at=now)
    )
    return bool(claimed.rowcount)


def drop_unsent(session: Session, application_id: str) -> None:
    """The receiving node could not be reached or refused: nothing is kept."""
    row = _row(session, application_id, lock=True)
    if row is not None and row.state == "sending":
        session.delete(row)


def holders_applications(session: Session, holder_id: str) -> list[RecognitionApplication]:
    return list(
        session.exec(
            select(RecognitionApplication)
            .where(
                RecognitionApplication.side == "outgoing",
                RecognitionApplication.holder_id == holder_id,
            )
            .order_by(col(RecognitionApplication.created_at).desc())
        ).all()
    )


def holders_application(
    session: Session, holder_id: str, application_id: str, lock: bool = False
) -> RecognitionApplication:
    row = _row(session, application_id, lock=lock)
    if row is None or row.side != "outgoing" or row.holder_id != holder_id:
        raise NotFoundError("you have no recognition application with this id")
    return row


def answer_problem(row: RecognitionApplication, answer: Decided, peer_did: str) -> str | None:
    """Why the receiving node's answer about ``row`` cannot be kept, if it cannot: another
    application's answer, a recognition without its credential, or a credential that is
    not the receiving node's recognition of this very credential."""
    if answer.id != row.peer_application_id:
        return "the answer is about another application"
    if answer.state == "recognised":
        credential = answer.recognitionCredential
        if credential is None or answer.recognisedAs is None:
            return "a recognition without its recognition credential"
        issuer = credential.get("issuer")
        subject = credential.get("credentialSubject")
        of = subject.get("recognitionOf") if isinstance(subject, dict) else None
        if (issuer.get("id") if isinstance(issuer, dict) else issuer) != peer_did:
            return "the recognition credential is not the receiving node's"
        if not isinstance(of, dict) or of.get("id") != row.credential_id:
            return "the recognition credential recognises another credential"
    elif answer.recognitionCredential is not None:
        return f"a recognition credential with an application that is {answer.state}"
    return None


def record_answer(session: Session, application_id: str, answer: Decided, now: datetime) -> None:
    """What the receiving node said of an outgoing application (checked by
    :func:`answer_problem` first). A decision is final: a later answer never undoes it;
    the holder's activity shows when it arrived."""
    row = _row(session, application_id, lock=True)
    if row is None:
        return
    row.checked_at = now
    if answer.state == "withdrawn":
        # Taken there while this node had not heard (the answer to a resend was lost).
        if row.state in (*WAITING, "withdrawing"):
            record_withdrawal(session, None, row, answer.withdrawnAt or now)
    elif row.state in WAITING and answer.state not in WAITING:
        row.state = answer.state
        row.recognised_as = answer.recognisedAs
        row.decision_reason = answer.decisionReason
        row.decided_at = answer.decidedAt or now
        if answer.recognitionCredential is not None:
            row.recognition_credential = json.dumps(answer.recognitionCredential, ensure_ascii=False)
        audit.record(
            session,
            peer_principal(row.peer_entity),
            now,
            "recognition.decided",
            "recognition_application",
            row.id,
            holder_id=row.holder_id,
            detail={"decision": row.state, "recognisedAs": row.recognised_as, "node": row.peer_entity},
        )
    session.add(row)


# --- at the receiving node ---------------------------------------------------------------


def peer_principal(entity: str) -> Principal:
    """How the audit names a calling node."""
    return Principal(kind="node", id=entity, role="peer_node")


def forwarded_problems(document: Mapping[str, Any]) -> list[str]:
    """Why a forwarded credential cannot be kept as presented: only a VC JSON document
    with its embedded proof is taken (an enveloped credential's outer object is nobody's
    word, and what is kept and recognised must be what was verified), with an ``id`` and
    a certificate number of the registry's form."""
    problems = []
    types = document.get("type")
    if not isinstance(document.get("proof"), (dict, list)) or (
        isinstance(types, list) and "EnvelopedVerifiableCredential" in types
    ):
        problems.append("send the credential as issued: VC JSON with its Data Integrity proof")
    credential_id = document.get("id")
    if not isinstance(credential_id, str) or not 0 < len(credential_id) <= 255:
        problems.append("the credential has no id of at most 255 characters")
    subject = document.get("credentialSubject")
    number = subject.get("certificateNumber") if isinstance(subject, dict) else None
    if not isinstance(number, str) or not re.fullmatch(r"3[1-4]-[0-9]{4}-[0-9]{7}", number):
        problems.append("the credential has no certificate number of the registry's form")
    return problems


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
    other = session.exec(
        select(RecognitionApplication).where(
            RecognitionApplication.side == "incoming",
            RecognitionApplication.peer_entity == caller,
            RecognitionApplication.credential_id == str(document.get("id")),
            col(RecognitionApplication.state).in_((*WAITING, "recognised")),
        )
    ).first()
    if other is not None:
        raise ConflictError(
            f"this node already has an application of this credential that is {other.state} ({other.id})"
        )
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


def incoming(session: Session, application_id: str, lock: bool = False) -> RecognitionApplication:
    row = _row(session, application_id, lock=lock)
    if row is None or row.side != "incoming":
        raise NotFoundError("this node has no recognition application with this id")
    return row


def incoming_of(
    session: Session, caller: str, application_id: str, *, lock: bool = False
) -> RecognitionApplication:
    """An incoming application as the node that forwarded it asks about it (another
    node's application is not found); ``lock``: locked for this transaction."""
    row = _row(session, application_id, lock=lock)
    if row is None or row.side != "incoming" or row.peer_entity != caller:
        raise NotFoundError("this node has no recognition application with this id from the calling node")
    return row


def list_incoming(
    session: Session, state: str | None, limit: int, offset: int, *, decided: bool = False
) -> list[RecognitionApplication]:
    """Incoming applications: of ``state`` (any), oldest first; ``decided``: the
    decided ones, newest decision first."""
    query = select(RecognitionApplication).where(RecognitionApplication.side == "incoming")
    if decided:
        query = query.where(col(RecognitionApplication.state).not_in((*WAITING, "withdrawn")))
        query = query.order_by(col(RecognitionApplication.decided_at).desc())
    else:
        if state == "waiting":
            query = query.where(col(RecognitionApplication.state).in_(WAITING))
        elif state is not None:
            query = query.where(RecognitionApplication.state == state)
        query = query.order_by(col(RecognitionApplication.created_at))
    return list(session.exec(query.offset(offset).limit(limit)).all())


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
    # Locked: of two officers deciding at once, the second sees the first's decision.
    row = incoming(session, application_id, lock=True)
    if row.state not in WAITING:
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
        try:
            local = catalogue.get_type(session, code)
        except NotFoundError:
            raise InvalidInputError(f"{code} is not in this node's catalogue") from None
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
                awarded_on=date.fromisoformat(awarded)
                if isinstance(awarded, str)
                else now.astimezone(issuance.CHINA_STANDARD_TIME).date(),
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


# --- disputes (异议) -------------------------------------------------------------------------


def _other_application(
    session: Session, side: str, row: RecognitionApplication, states: tuple[str, ...]
) -> RecognitionApplication | None:
    """Another application of the same credential with the same node in ``states``."""
    return session.exec(
        select(RecognitionApplication).where(
            RecognitionApplication.side == side,
            RecognitionApplication.peer_entity == row.peer_entity,
            RecognitionApplication.credential_id == row.credential_id,
            RecognitionApplication.id != row.id,
            col(RecognitionApplication.state).in_(states),
        )
    ).first()


def start_dispute(
    session: Session, holder_id: str, application_id: str, statement: str, now: datetime
) -> RecognitionApplication:
    """The holder's dispute of a refusal, kept (``disputing``, the row locked) before
    it is sent: once per application, and not while another application of the same
    credential in that province waits or was recognised (one recognition each). A
    dispute already being sent or taken up is returned as it is."""
    row = holders_application(session, holder_id, application_id, lock=True)
    if row.state in ("disputing", "disputed"):
        return row
    if row.state != "refused" or row.disputed_at is not None:
        raise ConflictError(
            f"only a refusal can be disputed, once: the application is {row.state}"
            + (" and was disputed before" if row.disputed_at is not None else "")
        )
    other = _other_application(session, "outgoing", row, (*UNCONFIRMED, *WAITING, "recognised"))
    if other is not None:
        raise ApplicationExistsError(
            f"another application of this credential in that province is {other.state} ({other.id})"
        )
    row.state, row.dispute_statement, row.disputed_at = "disputing", statement, now
    session.add(row)
    return row


def finish_dispute(
    session: Session, holder: Principal, application_id: str, now: datetime
) -> RecognitionApplication:
    """The receiving node took the dispute up: the application waits there again."""
    row = _row(session, application_id, lock=True)
    assert row is not None
    if row.state != "disputing":
        return row
    return record_dispute(session, holder, row, row.dispute_statement or "", now)


def drop_dispute(session: Session, application_id: str) -> None:
    """The receiving node refused the dispute: the refusal stands, as it was."""
    row = _row(session, application_id, lock=True)
    if row is not None and row.state == "disputing":
        row.state, row.dispute_statement, row.disputed_at = "refused", None, None
        session.add(row)


def record_dispute(
    session: Session, actor: Principal, row: RecognitionApplication, statement: str, now: datetime
) -> RecognitionApplication:
    """A refusal disputed (at either end): to be decided again by the receiving node's
    officers. Audited (the holder's node: for the holder)."""
    row.state, row.dispute_statement = "disputed", statement
    row.disputed_at = row.disputed_at or now
    session.add(row)
    audit.record(
        session,
        actor,
        now,
        "recognition.dispute",
        "recognition_application",
        row.id,
        holder_id=row.holder_id,
        reason=statement,
        detail={"node": row.peer_entity, "certificateNumber": row.certificate_number},
    )
    return row


def receive_dispute(
    session: Session, caller: str, application_id: str, statement: str, now: datetime
) -> RecognitionApplication:
    """The holder's node forwards a dispute of a refusal (sent again: the same one)."""
    row = incoming_of(session, caller, application_id, lock=True)
    if row.disputed_at is not None:
        return row  # taken before (sent again): answered as it is now, decided or not
    if row.state != "refused":
        raise ConflictError(f"only a refusal can be disputed, once: the application is {row.state}")
    other = _other_application(session, "incoming", row, (*WAITING, "recognised"))
    if other is not None:
        raise ConflictError(f"another application of this credential is {other.state} ({other.id})")
    return record_dispute(session, peer_principal(caller), row, statement, now)


# --- withdrawals (撤回) ----------------------------------------------------------------------


def start_withdrawal(
    session: Session, holder_id: str, application_id: str, now: datetime
) -> RecognitionApplication:
    """The holder withdraws an application that waits for a decision (``pending`` or
    ``disputed``), kept (``withdrawing``, the row locked) before it is sent. A withdrawal
    already being sent or taken is returned as it is; a decided application, or one the
    other node has not confirmed yet, cannot be withdrawn (409)."""
    row = holders_application(session, holder_id, application_id, lock=True)
    if row.state in ("withdrawing", "withdrawn"):
        return row
    if row.state not in WAITING:
        why = {
            "recognised": "it was recognised",
            "refused": "it was refused",
            "sending": "the other province's node has not confirmed it yet: look at your applications "
            "again, then withdraw it",
            "disputing": "your dispute is not confirmed by the other province's node yet: look at your "
            "applications again, then withdraw it",
        }[row.state]
        raise ConflictError(f"only an application waiting for a decision can be withdrawn: {why}")
    row.state, row.withdrawn_at = "withdrawing", now
    session.add(row)
    return row


def record_withdrawal(
    session: Session, actor: Principal | None, row: RecognitionApplication, at: datetime
) -> RecognitionApplication:
    """The holder's application withdrawn, kept at their node and audited for them
    (``actor`` None: the withdrawal the receiving node reports it took, before this node
    heard its answer; named as that node)."""
    row.state, row.withdrawn_at = "withdrawn", at
    session.add(row)
    audit.record(
        session,
        actor or peer_principal(row.peer_entity),
        at,
        "recognition.withdraw",
        "recognition_application",
        row.id,
        holder_id=row.holder_id,
        detail={"node": row.peer_entity, "certificateNumber": row.certificate_number},
    )
    return row


def finish_withdrawal(
    session: Session, holder: Principal, application_id: str, answer: Decided, now: datetime
) -> RecognitionApplication:
    """The receiving node took the withdrawal: the application is withdrawn."""
    row = _row(session, application_id, lock=True)
    assert row is not None
    if row.state != "withdrawing":
        return row
    return record_withdrawal(session, holder, row, answer.withdrawnAt or row.withdrawn_at or now)


def drop_withdrawal(session: Session, application_id: str) -> None:
    """The receiving node did not take the withdrawal: the application waits as it did."""
    row = _row(session, application_id, lock=True)
    if row is not None and row.state == "withdrawing":
        row.state = "disputed" if row.disputed_at is not None else "pending"
        row.withdrawn_at = None
        session.add(row)


class WithdrawalIn(BaseModel):
    """The body of a ``recognition.withdraw`` request: nothing (the application is in the
    path)."""

    model_config = ConfigDict(extra="forbid")


def receive_withdrawal(
    session: Session, caller: str, application_id: str, now: datetime
) -> RecognitionApplication:
    """The holder's node forwards the holder's withdrawal of an application it forwarded.
    Taken while the application waits (withdrawn; audited); sent again, the same answer;
    decided first, answered with the decision (nothing changes)."""
    row = incoming_of(session, caller, application_id, lock=True)
    if row.state in WAITING:
        row.state, row.withdrawn_at = "withdrawn", now
        session.add(row)
        audit.record(
            session,
            peer_principal(caller),
            now,
            "recognition.withdraw",
            "recognition_application",
            row.id,
            detail={"node": caller, "certificateNumber": row.certificate_number},
        )
    return row
