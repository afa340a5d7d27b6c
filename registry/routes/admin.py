"""What auditors and admins look at and admins decide: the register searched by
certificate number, name and batch (a read of personal data, audited), the node's
signing keys with their states, one of which an admin may mark compromised from an
instant, and corrections of the catalogue (correct, retire, reinstate, delete an
unused entry), each audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from registry import accounts, audit
from registry.credentials import catalogue
from registry.database import on_commit
from registry.deps import AdminDep, AuditorDep, NodeDep, SessionDep
from registry.errors import InvalidInputError
from registry.node_keys import KeyState, compromise_signing_key, key_state, signing_kid
from registry.signing.keyring import KeyRing

router = APIRouter(tags=["admin"])


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat().replace("+00:00", "Z")


# --- the register ---

CertificateNumber = Annotated[
    str | None,
    Query(alias="certificateNumber", max_length=32, description="Exactly, e.g. 32-2026-0000001"),
]
Name = Annotated[str | None, Query(min_length=1, max_length=128, description="A part of the holder's name")]
Batch = Annotated[str | None, Query(max_length=64, description="The batch id, exactly")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


class CredentialListItem(BaseModel):
    id: str
    certificateNumber: str
    typeCode: str
    status: str
    statusReason: str | None
    batchId: str | None
    issuedAt: str | None
    holderId: str
    holderName: str
    holderIdMasked: str


class HolderListItem(BaseModel):
    id: str
    name: str
    idType: str
    idMasked: str
    credentials: int
    createdAt: str | None


@router.get(
    "/v1/credentials",
    operation_id="searchCredentials",
    responses={403: {"description": "Only auditors and admins search the register"}},
)
def search_credentials(
    node: NodeDep,
    session: SessionDep,
    reader: AuditorDep,
    certificate_number: CertificateNumber = None,
    name: Name = None,
    batch: Batch = None,
    status: Literal["active", "suspended", "revoked"] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[CredentialListItem]:
    """Credentials with their holders, newest first, by certificate number, a part of
    the holder's name, batch or status. A read of personal data: the search and each
    holder found are audited (holders see it in their own audit)."""
    try:
        found = accounts.find_credentials(
            session,
            certificate_number=certificate_number,
            name=name,
            batch_id=batch,
            status=status,
            limit=limit,
            offset=offset,
        )
    except ValueError as exc:
        raise InvalidInputError(f"name {exc}") from None
    query = {"certificateNumber": certificate_number, "name": name, "batch": batch, "status": status}
    accounts.audit_search(
        session, reader, node.clock(), "credential.search", query, [c.holder_id for c, _ in found]
    )
    return [
        CredentialListItem(
            id=c.id,
            certificateNumber=c.certificate_number,
            typeCode=c.type_code,
            status=c.status,
            statusReason=c.status_reason,
            batchId=c.batch_id,
            issuedAt=_iso(c.issued_at),
            holderId=h.id,
            holderName=h.name,
            holderIdMasked=h.id_masked,
        )
        for c, h in found
    ]


@router.get(
    "/v1/holders",
    operation_id="searchHolders",
    responses={403: {"description": "Only auditors and admins search the register"}},
)
def search_holders(
    node: NodeDep,
    session: SessionDep,
    reader: AuditorDep,
    name: Name = None,
    certificate_number: CertificateNumber = None,
    batch: Batch = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[HolderListItem]:
    """Holders (identity numbers masked) with how many credentials each holds, by a
    part of the name, a certificate number or a batch. Audited as for credentials."""
    try:
        found = accounts.find_holders(
            session,
            name=name,
            certificate_number=certificate_number,
            batch_id=batch,
            limit=limit,
            offset=offset,
        )
    except ValueError as exc:
        raise InvalidInputError(f"name {exc}") from None
    query = {"certificateNumber": certificate_number, "name": name, "batch": batch}
    accounts.audit_search(session, reader, node.clock(), "holder.search", query, [h.id for h, _ in found])
    return [
        HolderListItem(
            id=h.id,
            name=h.name,
            idType=h.id_type,
            idMasked=h.id_masked,
            credentials=n,
            createdAt=_iso(h.created_at),
        )
        for h, n in found
    ]


# --- signing keys ---


class SigningKey(BaseModel):
    kid: str
    purpose: str
    state: KeyState
    publicKeyMultibase: str
    created: str | None
    activated: str | None
    retired: str | None
    compromisedFrom: str | None


class KeyCompromise(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "confirm": "X1bZ…the same kid",
                    "compromisedFrom": "2026-11-20T00:00:00+08:00",
                    "reason": "私钥文件外泄 / private key file leaked",
                }
            ]
        },
    )
    confirm: str = Field(max_length=64, description="The kid of the path again: the confirmation step")
    compromised_from: AwareDatetime = Field(
        alias="compromisedFrom",
        description="From this instant (with a time zone; not in the future) nothing the key signed counts",
    )
    reason: str = Field(min_length=1, max_length=64, description="Why; kept in the audit log")


class KeyCompromiseOut(BaseModel):
    kid: str
    compromisedFrom: str
    signingKid: str = Field(
        description="The key that signs from now on (new when the compromised key signed)"
    )
    keys: list[SigningKey]


def signing_keys(ring: KeyRing, purpose: str, now: datetime) -> list[SigningKey]:
    out = []
    for record in ring.records:
        public = record.to_dict()
        out.append(
            SigningKey(
                kid=record.kid,
                purpose=purpose,
                state=key_state(record, now),
                publicKeyMultibase=public["publicKeyMultibase"],
                created=_iso(record.created),
                activated=_iso(record.activated),
                retired=_iso(record.retired),
                compromisedFrom=_iso(record.compromised_from),
            )
        )
    return out


@router.get("/v1/keys", operation_id="listSigningKeys")
def list_keys(
    node: NodeDep,
    session: SessionDep,
    admin: AdminDep,
    purpose: Literal["assertion", "federation"] = "assertion",
) -> list[SigningKey]:
    """The node's keys with their history and state, oldest first: ``assertion`` keys
    sign credentials and status lists, ``federation`` keys this entity's statements.
    Public halves only."""
    store = node.key_store if purpose == "assertion" else node.federation_keys
    return signing_keys(store.load(session), purpose, node.clock())


@router.post(
    "/v1/keys/{kid}/compromise",
    operation_id="markSigningKeyCompromised",
    responses={
        404: {"description": "The node has no such signing key"},
        422: {"description": "confirm differs from the kid, or the instant is in the future"},
    },
)
def mark_compromised(
    kid: Annotated[str, Path(max_length=64)],
    body: KeyCompromise,
    node: NodeDep,
    session: SessionDep,
    admin: AdminDep,
) -> KeyCompromiseOut:
    """Hold a credential-signing key compromised from an instant: whatever it signed
    from then on fails verification here and at every peer (its history is published),
    what it signed before keeps verifying. The request must repeat the kid in
    ``confirm``. When the key was the signing key, a new key signs from now on; status
    lists it signed after the instant are signed again when next served. Audited with
    the reason."""
    if body.confirm != kid:
        raise InvalidInputError("confirm must repeat the kid of the key being marked compromised")
    now = node.clock()
    reason = accounts.audit_reason(body.reason)
    since = body.compromised_from.astimezone(UTC)
    ring = compromise_signing_key(session, node.key_store, admin, kid, since, reason, now)
    record = ring.record(kid)
    signing = signing_kid(ring, now) or ""
    # The cached ring changes only once this is committed.
    on_commit(session, lambda: node.set_ring(ring))
    return KeyCompromiseOut(
        kid=kid,
        compromisedFrom=_iso(record.compromised_from) or "",
        signingKid=signing,
        keys=signing_keys(ring, "assertion", now),
    )


# --- the catalogue ---

TypeCode = Annotated[str, Path(max_length=64, description="A catalogue code, e.g. ENG-ASSOCIATE_SENIOR")]


@router.patch(
    "/v1/catalogue/{code}",
    operation_id="correctCredentialType",
    responses={
        404: {"description": "No such type in the catalogue"},
        409: {"description": "A level change of a type that credentials use"},
        422: {"description": "The corrected entry breaks a rule of the catalogue (levels, awarding body)"},
    },
)
def correct_credential_type(
    code: TypeCode,
    body: catalogue.CredentialTypeCorrection,
    node: NodeDep,
    session: SessionDep,
    admin: AdminDep,
) -> catalogue.CredentialTypeOut:
    """Correct an entry: its names, levels (checked against the title levels and the
    series' levels), specialty, category, awarding body. The code and kind are stable;
    credentials already issued keep what they were signed with. Audited with the reason
    and each change; the seed no longer overwrites the entry."""
    now = node.clock()
    row, changes = catalogue.correct_type(session, code, body, now)
    if changes:
        audit.record(
            session,
            admin,
            now,
            "catalogue.correct",
            "credential_type",
            code,
            reason=accounts.audit_reason(body.reason),
            detail={"changes": changes},
        )
    return catalogue.to_public(row)


@router.post(
    "/v1/catalogue/{code}/retire",
    operation_id="retireCredentialType",
    responses={404: {"description": "No such type"}, 409: {"description": "Already retired"}},
)
def retire_credential_type(
    code: TypeCode, body: catalogue.Retirement, node: NodeDep, session: SessionDep, admin: AdminDep
) -> catalogue.CredentialTypeOut:
    """Retire a type: no more credentials of it are issued; those issued keep
    verifying. Audited with the reason."""
    now = node.clock()
    reason = accounts.audit_reason(body.reason)
    row = catalogue.retire_type(session, code, reason, now)
    audit.record(session, admin, now, "catalogue.retire", "credential_type", code, reason=reason)
    return catalogue.to_public(row)


@router.post(
    "/v1/catalogue/{code}/reinstate",
    operation_id="reinstateCredentialType",
    responses={404: {"description": "No such type"}, 409: {"description": "Not retired"}},
)
def reinstate_credential_type(
    code: TypeCode, body: catalogue.Retirement, node: NodeDep, session: SessionDep, admin: AdminDep
) -> catalogue.CredentialTypeOut:
    """Issue a retired type again. Audited with the reason."""
    now = node.clock()
    row = catalogue.reinstate_type(session, code, now)
    audit.record(
        session,
        admin,
        now,
        "catalogue.reinstate",
        "credential_type",
        code,
        reason=accounts.audit_reason(body.reason),
    )
    return catalogue.to_public(row)


@router.delete(
    "/v1/catalogue/{code}",
    operation_id="deleteCredentialType",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        404: {"description": "No such type"},
        409: {"description": "Credentials use the type, or it is an entry of the national lists: retire it"},
    },
)
def delete_credential_type(code: TypeCode, node: NodeDep, session: SessionDep, admin: AdminDep) -> Response:
    """Delete an entry an admin added by mistake. Never one that credentials use, nor
    an entry of the national lists (both are retired instead). Audited."""
    catalogue.delete_type(session, code)
    audit.record(session, admin, node.clock(), "catalogue.delete", "credential_type", code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
