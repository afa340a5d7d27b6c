"""A holder's own credentials: list, download as VC JSON or VC-JWT, verification
codes for employers, and who looked at their data. A holder reaches only records
whose holder is theirs; anything else is 404, exactly like a record that does not
exist."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response, status
from fastapi import Path as FastApiPath
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from registry import audit, certificate, codes, i18n
from registry.auth import Principal
from registry.credentials import issuance, sd_jwt_vc
from registry.credentials.errors import CredentialRevokedError
from registry.credentials.identity import commitment_salt
from registry.deps import HolderDep, NodeDep, ReadSessionDep, SessionDep
from registry.errors import ConflictError, InvalidInputError, NotFoundError
from registry.models import Credential, Holder, VerificationCode
from registry.node import NodeState
from registry.signing import jose
from registry.signing.errors import KeyMaterialError

router = APIRouter(tags=["holders"])


class OwnCredential(BaseModel):
    id: str
    certificateNumber: str
    typeCode: str
    status: str
    issuedAt: str
    downloads: dict[str, str]


class CodeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"validDays": 7, "singleUse": True}]}
    )
    valid_days: int = Field(default=7, alias="validDays", ge=1, le=codes.MAX_DAYS)
    single_use: bool = Field(
        default=False,
        alias="singleUse",
        description="True: the first successful look-up consumes the code; "
        "false (the default): any number of look-ups until it expires",
    )


class CodeOut(BaseModel):
    id: int = Field(description="The code's id (to list or revoke it; the code itself is shown only here)")
    credentialId: str
    certificateNumber: str
    verificationCode: str
    expiresAt: str
    singleUse: bool


class CodeRecord(BaseModel):
    """A verification code as the holder's list shows it: never the code itself (only
    its HMAC is kept)."""

    id: int
    credentialId: str
    createdAt: str
    expiresAt: str
    singleUse: bool
    state: Literal["active", "used", "expired", "revoked"] = Field(
        description="active: usable now; used: a single-use code consumed by a look-up; "
        "expired; revoked by the holder"
    )
    lastUsedAt: str | None = Field(description="The last successful look-up with the code")
    revokedAt: str | None


def vc_file(document: dict[str, Any]) -> bytes:
    """A credential's VC JSON file, as issued (indented for people; the proof covers
    the canonical form, not the spacing)."""
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def own_credential(session: Session, holder: Principal, credential_id: str) -> Credential:
    row = session.get(Credential, credential_id)
    if row is None or holder.holder_id is None or row.holder_id != holder.holder_id:
        raise NotFoundError(f"no credential {credential_id}")
    return row


def not_revoked(row: Credential, what: str) -> Credential:
    """A revoked credential gets nothing new: no VC-JWT signed now, no code that would
    invite an employer to look it up. (A suspension can be lifted: a suspended
    credential gets both, and whoever verifies it sees the suspension.)"""
    if row.status == "revoked":
        reason = f" ({row.status_reason})" if row.status_reason else ""
        raise CredentialRevokedError(
            f"credential {row.certificate_number} is revoked{reason}; it gets no new {what}. "
            "Its file as issued can still be downloaded (format=vc)."
        )
    return row


#: What the holder routes answer for a revoked credential, for the OpenAPI document.
REVOKED_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The credential is revoked (problem type credential-revoked): nothing new is made",
        "content": {"application/problem+json": {"schema": {"type": "object"}}},
    }
}


@router.get("/v1/holder/credentials", operation_id="listOwnCredentials")
def list_own(session: ReadSessionDep, holder: HolderDep) -> list[OwnCredential]:
    """The signed-in holder's credentials."""
    rows = session.exec(
        select(Credential).where(Credential.holder_id == holder.holder_id).order_by(col(Credential.issued_at))
    ).all()
    return [
        OwnCredential(
            id=r.id,
            certificateNumber=r.certificate_number,
            typeCode=r.type_code,
            status=r.status,
            issuedAt=r.issued_at.isoformat().replace("+00:00", "Z"),
            downloads={
                "vc": f"/v1/holder/credentials/{r.id}?format=vc",
                "vc-jwt": f"/v1/holder/credentials/{r.id}?format=vc-jwt",
                "pdf": f"/v1/holder/credentials/{r.id}?format=pdf",
                "sd-jwt": f"/v1/holder/credentials/{r.id}?format=sd-jwt",
            },
        )
        for r in rows
    ]


@router.get(
    "/v1/holder/credentials/{credential_id}",
    operation_id="downloadOwnCredential",
    responses={
        200: {
            "content": {
                "application/vc": {},
                "application/vc+jwt": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                sd_jwt_vc.MEDIA_TYPE: {"schema": {"type": "string"}},
            },
            "description": "The signed credential file (or the PDF certificate carrying it)",
        },
        404: {"description": "No such credential of this holder"},
        **REVOKED_RESPONSE,
    },
)
def download(
    credential_id: str,
    node: NodeDep,
    session: ReadSessionDep,
    holder: HolderDep,
    format: Annotated[Literal["vc", "vc-jwt", "pdf", "sd-jwt"], Query()] = "vc",
) -> Response:
    """Download a credential as VC JSON (eddsa-jcs-2022, as issued), as a VC-JWT
    signed now by the node's current key (``iat`` says when), or as a PDF certificate
    (a printable page in Chinese and English with a QR code of the verification page,
    carrying the VC JSON as issued: ``registry/certificate.py``). A revoked credential
    is downloaded only as issued (VC JSON); a VC-JWT or PDF of it is 409
    credential-revoked. ``format=sd-jwt`` is an SD-JWT VC without key binding (every
    disclosure included; the holder leaves out what they do not want to show): for one
    bound to the holder's own key, POST to ``…/sd-jwt``."""
    row = own_credential(session, holder, credential_id)
    document: dict[str, Any] = json.loads(row.document)
    name = row.certificate_number
    if format == "vc":
        return Response(
            vc_file(document),
            media_type="application/vc",
            headers={"Content-Disposition": f'attachment; filename="{name}.vc.json"'},
        )
    if format == "pdf":
        not_revoked(row, "PDF certificate")
        link = certificate.verify_link(node.base_url, name)
        return Response(
            certificate.render(document, vc_file(document), link),
            media_type=certificate.MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    if format == "sd-jwt":
        return sd_jwt_file(node, session, row, document, None)
    not_revoked(row, "VC-JWT")
    now = node.clock()
    record, key = node.ring_in(session).signing_key(now)
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    unsecured["iat"] = int(now.timestamp())
    token = jose.sign_vc_jwt(unsecured, key, f"{node.did}#{record.kid}")
    return Response(
        token,
        media_type="application/vc+jwt",
        headers={"Content-Disposition": f'attachment; filename="{name}.vc.jwt"'},
    )


def sd_jwt_file(
    node: NodeState, session: Session, row: Credential, document: dict[str, Any], holder_jwk: Any
) -> Response:
    """An SD-JWT VC of the credential signed now (409 when it is revoked)."""
    not_revoked(row, "SD-JWT VC")
    now = node.clock()
    record, key = node.ring_in(session).signing_key(now)
    try:
        token = sd_jwt_vc.issue(document, key, f"{node.did}#{record.kid}", now, holder_jwk)
    except KeyMaterialError as exc:
        raise InvalidInputError(f"holderKey: {exc.detail}") from None
    return Response(
        token,
        media_type=sd_jwt_vc.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{row.certificate_number}.sd-jwt"'},
    )


class SdJwtRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "holderKey": {
                        "kty": "EC",
                        "crv": "P-256",
                        "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
                        "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ",
                    }
                }
            ]
        },
    )
    holder_key: dict[str, Any] = Field(
        alias="holderKey",
        description="The holder's public key as a JWK (P-256 or Ed25519), put in the credential's "
        "cnf claim: presentations must then carry a key-binding JWT signed with it",
    )


@router.post(
    "/v1/holder/credentials/{credential_id}/sd-jwt",
    operation_id="issueOwnSdJwtVc",
    response_class=Response,
    responses={
        200: {
            "content": {sd_jwt_vc.MEDIA_TYPE: {"schema": {"type": "string"}}},
            "description": "The SD-JWT VC (issuer-signed JWT and every disclosure), bound to holderKey",
        },
        404: {"description": "No such credential of this holder"},
        **REVOKED_RESPONSE,
    },
)
def issue_sd_jwt(
    credential_id: str,
    node: NodeDep,
    session: ReadSessionDep,
    holder: HolderDep,
    body: Annotated[SdJwtRequest, Body()],
) -> Response:
    """An SD-JWT VC (``application/dc+sd-jwt``, draft-ietf-oauth-sd-jwt-vc) of the
    holder's credential, bound to the holder's key (``cnf.jwk``), signed now. The name,
    certificate number, specialty, committee, award date and ids are selectively
    disclosable; the type of title or qualification, the issuer, the validity and the
    status reference are not."""
    row = own_credential(session, holder, credential_id)
    return sd_jwt_file(node, session, row, json.loads(row.document), body.holder_key)


@router.post(
    "/v1/holder/credentials/{credential_id}/verification-codes",
    operation_id="createVerificationCode",
    status_code=status.HTTP_201_CREATED,
    responses=REVOKED_RESPONSE,
)
def create_code(
    credential_id: str,
    node: NodeDep,
    session: SessionDep,
    holder: HolderDep,
    body: Annotated[
        CodeRequest | None,
        Body(
            examples=[{"validDays": 7}], description="Optional: without a body the code is valid for 7 days"
        ),
    ] = None,
) -> CodeOut:
    """A time-limited code to give an employer for a look-up of this credential. The
    body is optional (without one, the code is valid for 7 days). A revoked credential
    gets no code: 409 credential-revoked."""
    body = body or CodeRequest()
    row = not_revoked(own_credential(session, holder, credential_id), "verification code")
    now = node.clock()
    if codes.live_codes(session, row.id, now) >= codes.MAX_LIVE_CODES:
        raise ConflictError(
            f"the credential has {codes.MAX_LIVE_CODES} usable verification codes; revoke some first"
        )
    made = codes.new_code(session, node.code_key, row.id, now, body.valid_days, single_use=body.single_use)
    audit.record(
        session,
        holder,
        now,
        "verification-code.create",
        "credential",
        row.id,
        holder_id=row.holder_id,
        detail={"validDays": body.valid_days, "singleUse": body.single_use, "codeId": made.id},
    )
    return CodeOut(
        id=made.id,
        credentialId=row.id,
        certificateNumber=row.certificate_number,
        verificationCode=made.code,
        expiresAt=made.expires_at.isoformat().replace("+00:00", "Z"),
        singleUse=made.single_use,
    )


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat().replace("+00:00", "Z") if instant is not None else None


def code_record(row: VerificationCode, now: datetime) -> CodeRecord:
    assert row.id is not None
    return CodeRecord(
        id=row.id,
        credentialId=row.credential_id,
        createdAt=row.created_at.isoformat().replace("+00:00", "Z"),
        expiresAt=row.expires_at.isoformat().replace("+00:00", "Z"),
        singleUse=row.single_use,
        state=codes.state(row, now),  # type: ignore[arg-type]
        lastUsedAt=_iso(row.used_at),
        revokedAt=_iso(row.revoked_at),
    )


@router.get(
    "/v1/holder/credentials/{credential_id}/verification-codes",
    operation_id="listVerificationCodes",
    responses={404: {"description": "No credential of this holder with this id"}},
)
def list_codes(
    credential_id: str, node: NodeDep, session: ReadSessionDep, holder: HolderDep
) -> list[CodeRecord]:
    """The credential's verification codes, newest first: when each was made, until
    when it runs, single- or multi-use, and whether it was used or revoked. Never the
    codes themselves (only their HMAC is kept)."""
    row = own_credential(session, holder, credential_id)
    now = node.clock()
    return [code_record(c, now) for c in codes.list_codes(session, row.id)]


@router.post(
    "/v1/holder/credentials/{credential_id}/verification-codes/{code_id}/revocation",
    operation_id="revokeVerificationCode",
    responses={404: {"description": "No such code of a credential of this holder"}},
)
def revoke_code(
    credential_id: str,
    code_id: Annotated[int, FastApiPath(ge=1, le=2**62)],
    node: NodeDep,
    session: SessionDep,
    holder: HolderDep,
) -> CodeRecord:
    """Revoke a verification code: look-ups with it fail from now on (as for a wrong
    code). Revoking a revoked code changes nothing. Audited."""
    row = own_credential(session, holder, credential_id)
    now = node.clock()
    code, changed = codes.revoke(session, row.id, code_id, now)
    if changed:
        audit.record(
            session,
            holder,
            now,
            "verification-code.revoke",
            "credential",
            row.id,
            holder_id=row.holder_id,
            detail={"codeId": code_id},
        )
    return code_record(code, now)


class OwnAuditEvent(BaseModel):
    id: int
    at: str
    actor: str = Field(description="Who acted, as recorded (kind:id)", examples=["hr_client:5b1e…"])
    actorRole: str
    actorName: str = Field(
        description="Who acted, named in the language of the answer: the HR client's name, a "
        "federation node's department, this node's staff, you, or an anonymous verification "
        "(through the public W3C VC API)",
        examples=["上海某某研究院人事处", "匿名核验"],
    )
    action: str
    actionName: str = Field(description="What was done, in the language of the answer", examples=["凭证核验"])
    targetType: str
    targetId: str
    reason: str | None
    detail: dict[str, Any] | None


@router.get("/v1/holder/audit", operation_id="listOwnAuditEvents")
def own_audit(
    request: Request,
    response: Response,
    node: NodeDep,
    holder: HolderDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OwnAuditEvent]:
    """Everything recorded about the holder's data: issuance, status changes,
    verifications and look-ups, with who did them, named in the language of
    ``Accept-Language`` (zh-CN by default)."""
    locale = i18n.negotiate(request.headers.get("accept-language"))
    response.headers["Content-Language"] = i18n.TAGS[locale]
    response.headers["Vary"] = "Accept-Language"
    department = issuance.PROVINCES.get(node.settings.province)
    directory = node.directory
    peers = {
        key: (p.name, p.name_en)
        for p in (directory.profiles() if directory is not None else ())
        for key in (p.entity_id, p.did)
    }
    node.audit_writer.flush()
    with node.db.session(write=False) as fresh:  # a snapshot that includes the flushed records
        found = audit.events(fresh, holder_id=holder.holder_id, after_id=after, limit=limit)
        return [
            OwnAuditEvent.model_validate(e) for e in audit.readable(fresh, found, locale, department, peers)
        ]


class CommitmentOpening(BaseModel):
    holderId: str
    holderCommitment: str
    salt: str
    method: str = Field(description="How the commitment is computed from the salt and the ID number")


@router.get("/v1/holder/commitment", operation_id="getOwnCommitmentOpening")
def own_commitment(node: NodeDep, session: ReadSessionDep, holder: HolderDep) -> CommitmentOpening:
    """The salt of the holder's ``holderCommitment``: with it and their ID number the
    holder proves to anyone that a credential is theirs, without the node storing it."""
    assert holder.holder_id is not None
    row = session.get(Holder, holder.holder_id)
    if row is None:
        raise NotFoundError("no holder record for this account")
    return CommitmentOpening(
        holderId=row.id,
        holderCommitment=row.holder_commitment,
        salt=commitment_salt(node.id_key, row.id),
        method="sha256: base64url(SHA-256(ASCII(salt) || ASCII(upper-case ID number)))",
    )
