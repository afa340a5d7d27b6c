"""Accounts (staff and holders), holder activation, HR clients: the services behind
the sign-in and administration endpoints."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, select

from registry import audit
from registry.auth import HR_SCOPES, ROLES, Passwords, Principal, new_api_key
from registry.credentials.identity import id_lookup_hash, normalise_id_number, normalise_text
from registry.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from registry.models import Account, Holder, HolderActivation, HrClient

ACTIVATION_DAYS = 30


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
) -> Account:
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}")
    if (role == "holder") != (holder_id is not None):
        raise InvalidInputError("a holder account, and only a holder account, belongs to a holder")
    if session.exec(select(Account).where(Account.username == username)).first() is not None:
        raise ConflictError(f"user name {username!r} is taken")
    account = Account(
        id=str(uuid.uuid4()),
        username=username,
        password_hash=passwords.hash(password),
        role=role,
        holder_id=holder_id,
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
        detail={"role": role},
    )
    return account


def sign_in(session: Session, passwords: Passwords, username: str, password: str) -> Account:
    account = session.exec(select(Account).where(Account.username == username)).first()
    ok = passwords.verify(account.password_hash if account else None, password)
    if account is None or not ok or not account.active:
        raise AuthenticationError("user name or password is wrong")
    return account


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
