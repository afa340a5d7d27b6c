"""Sign-in (and the change of a one-time password), holder registration, and what
admins manage: staff accounts and HR clients over their life, the catalogue, key
rotation and the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from registry import accounts, audit
from registry.auth import find_account
from registry.credentials import catalogue
from registry.database import on_commit
from registry.deps import AdminDep, AuditorDep, NodeDep, OfficerDep, PrincipalDep, SessionDep
from registry.errors import AuthenticationError
from registry.models import Account, HrClient
from registry.node import NodeState

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
    role: Literal["admin", "issuing_officer", "auditor", "hr_clerk"]
    hrClientId: str | None = Field(
        default=None,
        max_length=36,
        description="For an hr_clerk (and only for one): the HR client (department) the clerk works for. "
        "The clerk signs in to the HR desk (/hr) with their own name and password, with that client's "
        "scopes and rate; the audit names the clerk.",
    )


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


class PasswordChange(Strict):
    model_config = _examples(
        {
            "username": "officer.wang",
            "password": "Xk3-9fQz-Lw2p",
            "newPassword": "a passphrase only I know",
        }
    )
    username: str = Field(min_length=1, max_length=64, examples=["officer.wang"])
    password: str = Field(min_length=1, max_length=256, description="The current (one-time) password")
    new_password: str = Field(alias="newPassword", min_length=12, max_length=256)


class Reason(Strict):
    model_config = _examples({"reason": "调离岗位 / moved to another post"})
    reason: str = Field(min_length=1, max_length=64, description="Why; kept in the audit log")


class PasswordReset(Strict):
    model_config = _examples({"reason": "忘记密码 / forgotten password"})
    reason: str = Field(min_length=1, max_length=64, description="Why; kept in the audit log")
    one_time_password: str | None = Field(
        default=None,
        alias="oneTimePassword",
        min_length=12,
        max_length=256,
        description="The one-time password to set; when absent the node makes one and answers it once",
    )


class AccountRecord(BaseModel):
    id: str
    username: str
    role: str
    active: bool
    mustChangePassword: bool
    createdAt: str
    hrClientId: str | None = Field(default=None, description="The HR client of an hr_clerk")


class PasswordResetOut(AccountRecord):
    oneTimePassword: str | None = Field(
        default=None, description="The password the node made (shown once); absent when the admin chose it"
    )


class HrClientRecord(BaseModel):
    id: str
    name: str
    keyId: str = Field(description="The public part of the API key (yrd_<keyId>_…), to tell keys apart")
    scopes: list[str]
    ratePerMinute: int
    active: bool
    createdAt: str


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


async def checked_password(node: NodeState, request: Request, username: str, password: str) -> Account:
    """The active account whose password this is, checked under the sign-in guard:
    limited per address, backing off per (name, address), the connection released before
    the (slow) hash, hashes bounded; a missing user costs the same as a wrong password."""
    guard = node.sign_in_guard
    address = request.client.host if request.client else "unknown"
    guard.admit(username, address)

    def find() -> Account | None:
        with node.db.session(write=False) as session:
            return find_account(session, username)

    account = await run_in_threadpool(find)
    async with guard.hashing_slot():
        ok = await run_in_threadpool(
            node.passwords.verify, account.password_hash if account else None, password
        )
    if account is None or not ok or not account.active:
        guard.failed(username, address)
        raise AuthenticationError("user name or password is wrong")
    guard.succeeded(username, address)
    return account


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
    account = await checked_password(node, request, body.username, body.password)
    accounts.require_no_password_change(account)
    token, lifetime = node.tokens.issue(account, node.clock())
    return TokenResponse(access_token=token, expires_in=lifetime, role=account.role)


@router.post(
    "/v1/auth/password",
    operation_id="changePassword",
    tags=["accounts"],
    responses={
        401: {"description": "User name or password is wrong"},
        422: {"description": "The new password is too short, too long or the same as the current one"},
        429: {"description": "Too many attempts from this address, or failures for this name from it"},
        503: {"description": "The node is busy hashing passwords; send again after Retry-After"},
    },
)
async def change_password(body: PasswordChange, request: Request, node: NodeDep) -> TokenResponse:
    """Choose a new password with the current one, and be signed in. This is how a
    one-time password set by an admin (sign-in answers 403 password-change-required)
    is replaced; it works for any staff or holder account. Limited like sign-in."""
    known = await checked_password(node, request, body.username, body.password)

    def change() -> Account:
        with node.db.session() as session:
            return accounts.change_password(session, node.passwords, known, body.new_password, node.clock())

    async with node.sign_in_guard.hashing_slot():
        changed = await run_in_threadpool(change)
    token, lifetime = node.tokens.issue(changed, node.clock())
    return TokenResponse(access_token=token, expires_in=lifetime, role=changed.role)


@router.post(
    "/v1/auth/sign-out",
    operation_id="signOut",
    tags=["accounts"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: {"description": "No valid access token (an API key cannot sign out: rotate it)"}},
)
def sign_out(request: Request, node: NodeDep, session: SessionDep, principal: PrincipalDep) -> Response:
    """End this access token now, before it expires: any request with it is then 401.
    The account's other sessions go on."""
    if principal.kind != "account":
        raise AuthenticationError("an API key cannot sign out; an admin rotates or deactivates it")
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    accounts.sign_out(session, node.tokens.read(token, node.clock()), node.clock())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
    """Create a staff account (admin, issuing officer, auditor, or an HR client's clerk)."""
    account = accounts.create_account(
        session,
        node.passwords,
        admin,
        body.username,
        body.password,
        body.role,
        node.clock(),
        hr_client_id=body.hrClientId,
    )
    return AccountOut(id=account.id, username=account.username, role=account.role)


def account_record(row: Account) -> AccountRecord:
    return AccountRecord(
        id=row.id,
        username=row.username,
        role=row.role,
        active=row.active,
        mustChangePassword=row.must_change_password,
        createdAt=_iso(row.created_at),
        hrClientId=row.hr_client_id,
    )


def _iso(instant: Any) -> str:
    return str(instant.isoformat().replace("+00:00", "Z"))


AccountId = Annotated[str, Path(max_length=64, description="The account's id (or its user name)")]
_ACCOUNT_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such account"},
    422: {"description": "The reason is missing or not acceptable"},
}


@router.get("/v1/accounts", operation_id="listAccounts", tags=["admin"])
def list_accounts(
    session: SessionDep,
    admin: AdminDep,
    role: Literal["admin", "issuing_officer", "auditor"] | None = None,
    active: bool | None = None,
) -> list[AccountRecord]:
    """Staff accounts (admins, issuing officers, auditors), oldest first."""
    return [account_record(a) for a in accounts.list_accounts(session, role=role, active=active)]


@router.post(
    "/v1/accounts/{account_id}/deactivation",
    operation_id="deactivateAccount",
    tags=["admin"],
    responses={**_ACCOUNT_ERRORS, 409: {"description": "An admin cannot deactivate their own account"}},
)
def deactivate_account(
    account_id: AccountId, body: Reason, node: NodeDep, session: SessionDep, admin: AdminDep
) -> AccountRecord:
    """Deactivate an account: it cannot sign in, and the access tokens it holds stop
    working at once. Audited with the reason."""
    row = accounts.set_account_active(session, admin, account_id, False, body.reason, node.clock())
    return account_record(row)


@router.post(
    "/v1/accounts/{account_id}/reactivation",
    operation_id="reactivateAccount",
    tags=["admin"],
    responses=_ACCOUNT_ERRORS,
)
def reactivate_account(
    account_id: AccountId, body: Reason, node: NodeDep, session: SessionDep, admin: AdminDep
) -> AccountRecord:
    """Let a deactivated account sign in again (tokens from before stay dead)."""
    row = accounts.set_account_active(session, admin, account_id, True, body.reason, node.clock())
    return account_record(row)


@router.post(
    "/v1/accounts/{account_id}/password-reset",
    operation_id="resetPassword",
    tags=["admin"],
    responses=_ACCOUNT_ERRORS,
)
def reset_password(
    account_id: AccountId, body: PasswordReset, node: NodeDep, session: SessionDep, admin: AdminDep
) -> PasswordResetOut:
    """Set a one-time password (the admin's, or one the node makes and answers once).
    It signs nobody in: sign-in answers 403 password-change-required until the user
    chooses a new password with POST /v1/auth/password. Audited with the reason."""
    row, generated = accounts.reset_password(
        session, node.passwords, admin, account_id, body.reason, node.clock(), body.one_time_password
    )
    return PasswordResetOut(**account_record(row).model_dump(), oneTimePassword=generated)


def hr_client_record(client: HrClient) -> HrClientRecord:
    return HrClientRecord(
        id=client.id,
        name=client.name,
        keyId=client.key_id,
        scopes=client.scopes.split(),
        ratePerMinute=client.rate_per_minute,
        active=client.active,
        createdAt=_iso(client.created_at),
    )


@router.get("/v1/hr-clients", operation_id="listHrClients", tags=["admin"])
def list_hr_clients(session: SessionDep, admin: AdminDep, active: bool | None = None) -> list[HrClientRecord]:
    """HR clients, oldest first (their keys are never shown again)."""
    return [hr_client_record(c) for c in accounts.list_hr_clients(session, active=active)]


@router.post(
    "/v1/hr-clients/{client_id}/deactivation",
    operation_id="deactivateHrClient",
    tags=["admin"],
    responses={404: {"description": "No such HR client"}},
)
def deactivate_hr_client(
    client_id: Annotated[str, Path(max_length=36)],
    body: Reason,
    node: NodeDep,
    session: SessionDep,
    admin: AdminDep,
) -> HrClientRecord:
    """Stop an HR client and its API key (a leaked key, an ended contract). This
    worker refuses the key from its next request; other workers within 5 s."""
    client = accounts.deactivate_hr_client(session, admin, client_id, body.reason, node.clock())
    # Forgotten once committed: a rolled-back deactivation leaves the key working.
    on_commit(session, lambda: accounts.forget_hr_client(node.api_keys, client_id))
    return hr_client_record(client)


@router.post(
    "/v1/hr-clients/{client_id}/key-rotation",
    operation_id="rotateHrClientKey",
    tags=["admin"],
    responses={
        404: {"description": "No such HR client"},
        409: {"description": "The HR client is deactivated"},
    },
)
def rotate_hr_client_key(
    client_id: Annotated[str, Path(max_length=36)],
    body: Reason,
    node: NodeDep,
    session: SessionDep,
    admin: AdminDep,
) -> HrClientOut:
    """A new API key for the client, in this answer only; the old key stops working
    (in this worker at once, in others within 5 s)."""
    client, key = accounts.rotate_hr_client_key(session, admin, client_id, body.reason, node.clock())
    on_commit(session, lambda: accounts.forget_hr_client(node.api_keys, client_id))
    return HrClientOut(
        id=client.id,
        name=client.name,
        scopes=client.scopes.split(),
        ratePerMinute=client.rate_per_minute,
        apiKey=key,
    )


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
