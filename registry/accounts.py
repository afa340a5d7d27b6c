"""Accounts (staff and holders), holder activation, HR clients, and the register as
auditors search it: the services behind the sign-in and administration endpoints.

Lifecycle: staff accounts and HR clients are never deleted (the audit log names
them); they are deactivated, and accounts reactivated. A password reset sets a
one-time password that signs nobody in: it only lets its user choose a new password
(:func:`change_password`). Every change is audited with who, when and why (``reason``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, delete, func, select

from registry import audit
from registry.auth import HR_SCOPES, ROLES, ApiKeyCache, Passwords, Principal, new_api_key
from registry.credentials.identity import id_lookup_hash, normalise_id_number, normalise_text
from registry.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from registry.models import Account, Credential, Holder, HolderActivation, HrClient, RevokedToken

ACTIVATION_DAYS = 30
STAFF_ROLES = ("admin", "issuing_officer", "auditor", "hr_clerk")


class PasswordChangeRequiredError(PermissionDeniedError):
    """The password was right, but it is a one-time password: choose a new one first."""

    slug = "password-change-required"
    title = "The password must be changed"


def _code_hash(key: bytes, code: str) -> str:
    # NFKC: a code typed with a Chinese input method in full-width mode is the same code.
    normal = unicodedata.normalize("NFKC", code).strip().upper()
    return hmac.new(key, normal.encode("utf-8"), hashlib.sha256).hexdigest()


def create_account(
    session: Session,
    passwords: Passwords,
    principal: Principal,
    username: str,
    password: str,
    role: str,
    now: datetime,
    holder_id: str | None = None,
    hr_client_id: str | None = None,
) -> Account:
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}")
    if (role == "holder") != (holder_id is not None):
        raise InvalidInputError("a holder account, and only a holder account, belongs to a holder")
    if (role == "hr_clerk") != (hr_client_id is not None):
        raise InvalidInputError("an HR clerk account, and only one, works for an HR client (hrClientId)")
    if hr_client_id is not None:
        client = session.get(HrClient, hr_client_id)
        if client is None or not client.active:
            raise InvalidInputError(f"no active HR client {hr_client_id}")
    if session.exec(select(Account).where(Account.username == username)).first() is not None:
        raise ConflictError(f"user name {username!r} is taken")
    account = Account(
        id=str(uuid.uuid4()),
        username=username,
        password_hash=passwords.hash(password),
        role=role,
        holder_id=holder_id,
        hr_client_id=hr_client_id,
        created_at=now,
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        principal,
        now,
        "account.create",
        "account",
        account.id,
        holder_id=holder_id,
        detail={"role": role, **({"hrClientId": hr_client_id} if hr_client_id else {})},
    )
    return account


def require_no_password_change(account: Account) -> None:
    """Raise :class:`PasswordChangeRequiredError` for an account holding a one-time password."""
    if account.must_change_password:
        raise PasswordChangeRequiredError(
            "this is a one-time password; choose a new one with POST /v1/auth/password"
        )


# --- staff accounts: list, deactivate, reactivate, reset and change passwords ---


def list_accounts(session: Session, *, role: str | None = None, active: bool | None = None) -> list[Account]:
    """Staff accounts (never holders'), oldest first."""
    query = select(Account).where(col(Account.role).in_(STAFF_ROLES))
    if role is not None:
        query = query.where(Account.role == role)
    if active is not None:
        query = query.where(Account.active == active)
    return list(session.exec(query.order_by(col(Account.created_at), col(Account.username))).all())


def find_account(session: Session, account: str) -> Account:
    """An account by id or by user name (operators type names)."""
    row = (
        session.get(Account, account)
        or session.exec(select(Account).where(Account.username == account)).first()
    )
    if row is None:
        raise NotFoundError(f"no account {account!r}")
    return row


def set_account_active(
    session: Session, principal: Principal, account: str, active: bool, reason: str, now: datetime
) -> Account:
    """Deactivate or reactivate an account (by id or user name). A deactivated account's
    access tokens stop working at once (every request reads the flag); asking for the
    state an account already has changes and audits nothing."""
    row = find_account(session, account)
    if not active and principal.kind == "account" and principal.id == row.id:
        raise ConflictError("an admin cannot deactivate their own account")
    if row.active == active:
        return row
    row.active = active
    if not active:
        # Tokens issued before now stay dead even after a reactivation.
        row.tokens_valid_from = now
    session.add(row)
    action = "account.reactivate" if active else "account.deactivate"
    audit.record(
        session,
        principal,
        now,
        action,
        "account",
        row.id,
        holder_id=row.holder_id,
        reason=audit_reason(reason),
    )
    session.flush()
    return row


def reset_password(
    session: Session,
    passwords: Passwords,
    principal: Principal,
    account: str,
    reason: str,
    now: datetime,
    one_time_password: str | None = None,
) -> tuple[Account, str | None]:
    """Set a one-time password (the admin's, or a fresh one returned here, shown
    once). It signs nobody in: the user must choose a new password with it. Tokens
    issued before the reset no longer count."""
    row = find_account(session, account)
    generated = None
    if one_time_password is None:
        generated = one_time_password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    row.password_hash = passwords.hash(one_time_password)
    row.must_change_password = True
    row.tokens_valid_from = now
    session.add(row)
    audit.record(
        session,
        principal,
        now,
        "account.password-reset",
        "account",
        row.id,
        holder_id=row.holder_id,
        reason=audit_reason(reason),
    )
    session.flush()
    return row, generated


def change_password(
    session: Session, passwords: Passwords, account: Account, new_password: str, now: datetime
) -> Account:
    """The user (whose current password the caller has checked) chooses a new one."""
    if passwords.verify(account.password_hash, new_password):
        raise InvalidInputError("the new password must differ from the current one")
    row = session.get(Account, account.id)
    if row is None or not row.active:
        raise AuthenticationError("user name or password is wrong")
    row.password_hash = passwords.hash(new_password)
    row.must_change_password = False
    row.tokens_valid_from = now
    session.add(row)
    principal = Principal("account", row.id, row.role, holder_id=row.holder_id)
    audit.record(
        session, principal, now, "account.password-change", "account", row.id, holder_id=row.holder_id
    )
    session.flush()
    return row


def audit_reason(reason: str) -> str:
    """Why, as the audit log keeps it (64 characters; the rules of names apply)."""
    try:
        text = normalise_text(reason.strip())
    except ValueError as exc:
        raise InvalidInputError(f"reason {exc}") from None
    if not 1 <= len(text) <= 64:
        raise InvalidInputError("a reason has 1 to 64 characters")
    return text


def new_activation_code(
    session: Session, code_key: bytes, principal: Principal, holder_id: str, now: datetime
) -> tuple[str, datetime]:
    """A one-time code (shown once) with which the holder opens an account."""
    if session.get(Holder, holder_id) is None:
        raise NotFoundError(f"no holder {holder_id}")
    code = "-".join(secrets.token_hex(2).upper() for _ in range(4))
    expires = now + timedelta(days=ACTIVATION_DAYS)
    session.add(
        HolderActivation(holder_id=holder_id, code_hash=_code_hash(code_key, code), expires_at=expires)
    )
    audit.record(session, principal, now, "holder.activation-code", "holder", holder_id, holder_id=holder_id)
    session.flush()
    return code, expires


def register_holder(
    session: Session,
    passwords: Passwords,
    id_key: bytes,
    code_key: bytes,
    *,
    id_type: str,
    id_number: str,
    activation_code: str,
    username: str,
    password: str,
    now: datetime,
) -> Account:
    """A holder opens an account: the activation code must be unused, unexpired and
    issued for the holder the identity number belongs to."""
    lookup = id_lookup_hash(id_key, id_type, normalise_id_number(id_type, id_number))
    activation = session.exec(
        select(HolderActivation).where(HolderActivation.code_hash == _code_hash(code_key, activation_code))
    ).first()
    holder = session.exec(select(Holder).where(Holder.id_type == id_type, Holder.id_lookup == lookup)).first()
    if (
        activation is None
        or holder is None
        or activation.holder_id != holder.id
        or activation.used_at is not None
        or activation.expires_at <= now
    ):
        raise AuthenticationError("the activation code and identity number do not match an open invitation")
    if session.exec(select(Account).where(Account.holder_id == holder.id)).first() is not None:
        raise ConflictError("this holder already has an account")
    activation.used_at = now
    session.add(activation)
    principal = Principal("holder-registration", holder.id, "holder", holder_id=holder.id)
    return create_account(session, passwords, principal, username, password, "holder", now, holder.id)


def create_hr_client(
    session: Session,
    principal: Principal,
    name: str,
    scopes: list[str],
    rate_per_minute: int,
    now: datetime,
) -> tuple[HrClient, str]:
    unknown = [s for s in scopes if s not in HR_SCOPES]
    if unknown or not scopes:
        raise InvalidInputError(f"scopes are some of {', '.join(HR_SCOPES)}")
    # Shown to holders among those who verified their credentials: the rules of names apply.
    try:
        name = normalise_text(name.strip())
    except ValueError as exc:
        raise InvalidInputError(f"name {exc}") from None
    if not 1 <= len(name) <= 128:
        raise InvalidInputError("name must be 1 to 128 characters")
    key, key_id, key_hash = new_api_key()
    client = HrClient(
        id=str(uuid.uuid4()),
        name=name,
        key_id=key_id,
        key_hash=key_hash,
        scopes=" ".join(sorted(set(scopes))),
        rate_per_minute=rate_per_minute,
        created_at=now,
    )
    session.add(client)
    session.flush()
    audit.record(
        session,
        principal,
        now,
        "hr-client.create",
        "hr_client",
        client.id,
        detail={"name": name, "scopes": client.scopes, "ratePerMinute": rate_per_minute},
    )
    return client, key


def list_hr_clients(session: Session, *, active: bool | None = None) -> list[HrClient]:
    query = select(HrClient)
    if active is not None:
        query = query.where(HrClient.active == active)
    return list(session.exec(query.order_by(col(HrClient.created_at), col(HrClient.name))).all())


def _hr_client(session: Session, client_id: str) -> HrClient:
    client = session.get(HrClient, client_id, with_for_update=True)
    if client is None:
        raise NotFoundError(f"no HR client {client_id!r}")
    return client


def deactivate_hr_client(
    session: Session, principal: Principal, client_id: str, reason: str, now: datetime
) -> HrClient:
    """Stop an HR client and its key. The caller forgets the key in its own cache
    after the commit (:func:`forget_hr_client`); other workers stop trusting it within
    their cache's lifetime (5 s)."""
    client = _hr_client(session, client_id)
    if not client.active:
        return client
    client.active = False
    session.add(client)
    audit.record(
        session, principal, now, "hr-client.deactivate", "hr_client", client.id, reason=audit_reason(reason)
    )
    session.flush()
    return client


def rotate_hr_client_key(
    session: Session, principal: Principal, client_id: str, reason: str, now: datetime
) -> tuple[HrClient, str]:
    """A new API key (returned, shown once); the old one stops working (the caller
    forgets it after the commit, as for a deactivation)."""
    client = _hr_client(session, client_id)
    if not client.active:
        raise ConflictError("the HR client is deactivated; register a new one")
    key, key_id, key_hash = new_api_key()
    previous = client.key_id
    client.key_id, client.key_hash = key_id, key_hash
    session.add(client)
    audit.record(
        session,
        principal,
        now,
        "hr-client.rotate-key",
        "hr_client",
        client.id,
        reason=audit_reason(reason),
        detail={"previousKeyId": previous, "keyId": key_id},
    )
    session.flush()
    return client, key


def forget_hr_client(cache: ApiKeyCache, client_id: str) -> None:
    """Drop every cached key of ``client_id`` from this worker's cache of
    authenticated keys, so its next request is checked against the database."""
    cache.evict_client(client_id)


# --- the register as auditors search it (a read of personal data: audited) ---


def _contains(text: str) -> str:
    return normalise_text(text.strip())


def find_credentials(
    session: Session,
    *,
    certificate_number: str | None = None,
    name: str | None = None,
    batch_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[tuple[Credential, Holder]]:
    """Credentials with their holders, newest first: the certificate number exactly
    (full-width digits read as ASCII), the holder's name as a part of it (``%`` and
    ``_`` are characters, not patterns), the batch exactly."""
    query = select(Credential, Holder).join(Holder, col(Holder.id) == col(Credential.holder_id))
    if certificate_number is not None:
        number = unicodedata.normalize("NFKC", certificate_number).strip()
        query = query.where(Credential.certificate_number == number)
    if name is not None:
        query = query.where(col(Holder.name).contains(_contains(name), autoescape=True))
    if batch_id is not None:
        query = query.where(Credential.batch_id == batch_id)
    if status is not None:
        query = query.where(Credential.status == status)
    query = query.order_by(col(Credential.issued_at).desc(), col(Credential.id)).offset(offset).limit(limit)
    return [(c, h) for c, h in session.exec(query).all()]


def find_holders(
    session: Session,
    *,
    name: str | None = None,
    certificate_number: str | None = None,
    batch_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[tuple[Holder, int]]:
    """Holders with how many credentials they hold, by name (a part of it), by the
    certificate number of one of their credentials, or by batch."""
    count = func.count(col(Credential.id))
    query = (
        select(Holder, count)
        .join(Credential, col(Credential.holder_id) == col(Holder.id), isouter=True)
        .group_by(col(Holder.id))
    )
    if name is not None:
        query = query.where(col(Holder.name).contains(_contains(name), autoescape=True))
    if certificate_number is not None:
        number = unicodedata.normalize("NFKC", certificate_number).strip()
        query = query.where(
            col(Holder.id).in_(select(Credential.holder_id).where(Credential.certificate_number == number))
        )
    if batch_id is not None:
        query = query.where(
            col(Holder.id).in_(select(Credential.holder_id).where(Credential.batch_id == batch_id))
        )
    query = query.order_by(col(Holder.name), col(Holder.id)).offset(offset).limit(limit)
    return [(h, int(n)) for h, n in session.exec(query).all()]


def audit_search(
    session: Session,
    principal: Principal,
    now: datetime,
    action: str,
    query: Mapping[str, object],
    holder_ids: list[str],
) -> None:
    """A search is a read of personal data: one record of the search (what was asked,
    how many answered) and one per holder found, which the holder sees."""
    criteria = {k: v for k, v in query.items() if v is not None}
    audit.record(
        session,
        principal,
        now,
        action,
        "query",
        action,
        detail={"query": criteria, "results": len(holder_ids)},
    )
    for holder_id in dict.fromkeys(holder_ids):
        audit.record(session, principal, now, action, "holder", holder_id, holder_id=holder_id)


def sign_out(session: Session, claims: Mapping[str, object], now: datetime) -> None:
    """End the access token whose (verified) ``claims`` these are, before it expires:
    its ``jti`` is kept until its ``exp`` (tokens already expired are forgotten here)."""
    jti, exp = claims.get("jti"), claims.get("exp")
    if not isinstance(jti, str) or not isinstance(exp, int):
        return
    session.exec(delete(RevokedToken).where(col(RevokedToken.expires_at) < now))
    if session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, expires_at=datetime.fromtimestamp(exp, UTC)))
