"""Sign-in, holder registration, and what admins manage: accounts, HR clients, the
catalogue, keys and the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from registry import accounts, audit
from registry.auth import find_account
from registry.credentials import catalogue
from registry.database import on_commit
from registry.deps import AdminDep, AuditorDep, NodeDep, OfficerDep, SessionDep
from registry.errors import AuthenticationError
from registry.models import Account

router = APIRouter()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _examples(*examples: Any) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class TokenRequest(Strict):
    model_config = _examples({"username": "officer.wang", "password": "correct horse battery staple"})
    username: str = Field(min_length=1, max_length=64, examples=["officer.wang"])
    password: str = Field(min_length=1, max_length=256, examples=["correct horse battery staple"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - RFC 6750 token type
    expires_in: int
    role: str


class HolderRegistration(Strict):
    model_config = _examples(
        {
            "idType": "resident",
            "idNumber": "11010519491231002X",
            "activationCode": "3F9A-0C1D-77E2-B4A0",
            "username": "zhang.wei",
            "password": "correct horse battery staple",
        }
    )
    id_type: Literal["resident", "passport"] = Field(alias="idType")
    id_number: str = Field(alias="idNumber", min_length=5, max_length=20)
    activation_code: str = Field(alias="activationCode", min_length=4, max_length=32)
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    password: str = Field(min_length=12, max_length=256)


class AccountCreate(Strict):
    model_config = _examples(
        {"username": "officer.wang", "password": "correct horse battery staple", "role": "issuing_officer"}
    )
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    password: str = Field(min_length=12, max_length=256)
    role: Literal["admin", "issuing_officer", "auditor"]


class AccountOut(BaseModel):
    id: str
    username: str
    role: str


class HrClientCreate(Strict):
    model_config = _examples(
        {"name": "苏州工业园区人才服务中心", "scopes": ["verify", "lookup"], "ratePerMinute": 600}
    )
    name: str = Field(min_length=1, max_length=128, examples=["苏州工业园区人才服务中心"])
    scopes: list[Literal["verify", "lookup"]] = Field(min_length=1, examples=[["verify", "lookup"]])
    rate_per_minute: int | None = Field(default=None, alias="ratePerMinute", ge=1, le=100_000)


class HrClientOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    ratePerMinute: int
    apiKey: str = Field(description="Shown once; only its hash is kept.")


class ActivationCodeOut(BaseModel):
    holderId: str
    activationCode: str
    expiresAt: str


@router.post(
    "/v1/auth/token",
    operation_id="signIn",
    tags=["accounts"],
    responses={
        401: {"description": "User name or password is wrong"},
        429: {"description": "Too many attempts from this address, or failures for this name from it"},
        503: {"description": "The node is busy hashing passwords; send again after Retry-After"},
    },
)
async def sign_in(body: TokenRequest, request: Request, node: NodeDep) -> TokenResponse:
    """Exchange a user name and password for a short-lived access token (JWT). Attempts
    are limited per client address, and failures back off per user name and address
    (never a lock-out of the name itself)."""
    guard = node.sign_in_guard
    address = request.client.host if request.client else "unknown"
    guard.admit(body.username, address)

    def find() -> Account | None:
        # The connection goes back to the pool before the (slow) hash is checked.
        with node.db.session(write=False) as session:
            return find_account(session, body.username)

    account = await run_in_threadpool(find)
    async with guard.hashing_slot():
        # A missing user is checked against a dummy hash: it costs the same time.
        ok = await run_in_threadpool(
            node.passwords.verify, account.password_hash if account else None, body.password
        )
    if account is None or not ok or not account.active:
        guard.failed(body.username, address)
        raise AuthenticationError("user name or password is wrong")
    guard.succeeded(body.username, address)
    token, lifetime = node.tokens.issue(account, node.clock())
    return TokenResponse(access_token=token, expires_in=lifetime, role=account.role)


@router.post(
    "/v1/holder/registration",
    operation_id="registerHolder",
    tags=["holders"],
    status_code=status.HTTP_201_CREATED,
)
def register_holder(body: HolderRegistration, node: NodeDep, session: SessionDep) -> AccountOut:
    """A holder opens an account with the activation code the issuing node gave them."""
    account = accounts.register_holder(
        session,
        node.passwords,
        node.id_key,
        node.code_key,
        id_type=body.id_type,
        id_number=body.id_number,
        activation_code=body.activation_code,
        username=body.username,
        password=body.password,
        now=node.clock(),
    )
    return AccountOut(id=account.id, username=account.username, role=account.role)


@router.post(
    "/v1/accounts", operation_id="createAccount", tags=["admin"], status_code=status.HTTP_201_CREATED
)
def create_account(body: AccountCreate, node: NodeDep, session: SessionDep, admin: AdminDep) -> AccountOut:
    """Create a staff account (admin, issuing officer or auditor)."""
    account = accounts.create_account(
        session, node.passwords, admin, body.username, body.password, body.role, node.clock()
    )
    return AccountOut(id=account.id, username=account.username, role=account.role)


@router.post(
    "/v1/hr-clients", operation_id="createHrClient", tags=["admin"], status_code=status.HTTP_201_CREATED
)
def create_hr_client(
    body: HrClientCreate, node: NodeDep, session: SessionDep, admin: AdminDep
) -> HrClientOut:
    """Register an HR client; its API key is in this answer only."""
    rate = body.rate_per_minute or node.settings.hr_rate_per_minute
    client, key = accounts.create_hr_client(session, admin, body.name, list(body.scopes), rate, node.clock())
    return HrClientOut(
        id=client.id, name=client.name, scopes=client.scopes.split(), ratePerMinute=rate, apiKey=key
    )


@router.post(
    "/v1/catalogue",
    operation_id="addCredentialType",
    tags=["admin"],
    status_code=status.HTTP_201_CREATED,
)
def add_credential_type(
    body: catalogue.CredentialTypeIn, node: NodeDep, session: SessionDep, admin: AdminDep
) -> catalogue.CredentialTypeOut:
    """Add a credential type to the catalogue (codes are stable and never reused)."""
    row = catalogue.add_type(session, body, node.clock())
    audit.record(session, admin, node.clock(), "catalogue.add", "credential_type", row.code)
    return catalogue.to_public(row)


@router.post(
    "/v1/holders/{holder_id}/activation-codes",
    operation_id="createActivationCode",
    tags=["holders"],
    status_code=status.HTTP_201_CREATED,
)
def create_activation_code(
    holder_id: str, node: NodeDep, session: SessionDep, officer: OfficerDep
) -> ActivationCodeOut:
    """A one-time code, handed to the holder out of band, to open their account."""
    code, expires = accounts.new_activation_code(session, node.code_key, officer, holder_id, node.clock())
    return ActivationCodeOut(
        holderId=holder_id, activationCode=code, expiresAt=expires.isoformat().replace("+00:00", "Z")
    )


@router.post("/v1/keys/rotation", operation_id="rotateSigningKey", tags=["admin"])
def rotate_key(node: NodeDep, session: SessionDep, admin: AdminDep) -> dict[str, str]:
    """Retire the signing key and activate a new one; old credentials keep verifying."""
    now = node.clock()
    ring = node.key_store.rotate(session, now)
    record, _ = ring.signing_key(now)
    audit.record(session, admin, now, "key.rotate", "node_key", record.kid)
    # The cached ring changes only once the rotation is committed (answered after that).
    on_commit(session, lambda: node.set_ring(ring))
    return {"kid": record.kid}


@router.get("/v1/audit", operation_id="listAuditEvents", tags=["admin"])
def audit_log(
    node: NodeDep,
    auditor: AuditorDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Events with a larger id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: str | None = None,
    target: str | None = None,
) -> list[dict[str, object]]:
    """The audit log, oldest first, paged by event id."""
    node.audit_writer.flush()
    with node.db.session(write=False) as fresh:  # a snapshot that includes the flushed records
        events = audit.events(fresh, action=action, target_id=target, after_id=after, limit=limit)
        return [audit.public(e) | {"holderId": e.holder_id} for e in events]
