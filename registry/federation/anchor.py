"""The trust anchor's register: member nodes, their authorisations (评审权), and the
Subordinate Statements the anchor signs about them (OpenID Federation 1.0 §3.3, §8.1).

A service over the caller's SQLModel session: nothing here commits (the request's
session, or the CLI's, commits when the whole change is made), and every state change
writes its audit record in the same transaction.

* **Members** (:func:`admit`, :func:`replace_keys`, :func:`remove`): a node is admitted by
  its entity identifier (its base URL), DID, province and federation JWK Set, handed over
  out of band. A removal keeps the row (``removed_at``, who, why) and ends the member's
  open authorisations at that instant; a removed member may be admitted again, and then
  starts without authorisations.
* **Authorisations** (:func:`authorise`, :func:`withdraw`): which credential types a
  member may issue — a catalogue code (``ENG-ASSOCIATE_SENIOR``), a whole series
  (``ENG-*``) or everything (``*``) — from ``valid_from`` until ``valid_until`` (open when
  None). They are history: a withdrawal sets ``withdrawn_at`` and the period then ends at
  ``min(valid_until, withdrawn_at)``; nothing is deleted or overwritten, so a credential
  issued while an authorisation held stays authorised and one issued after does not.
* **Subordinate Statements** (:func:`subordinate_statement`): about an active member,
  with its registered keys, ``metadata_policy`` fixing its DID, province and
  authorisations (``value``) and limiting the credential types it may list
  (``subset_of`` the codes any of its authorisations ever covered), and
  ``constraints.max_path_length`` 0 (a member has no subordinates).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from registry import audit
from registry.auth import Principal
from registry.credentials.issuance import EARLIEST, LATEST
from registry.errors import ConflictError, NotFoundError
from registry.federation.entity import FETCH_PATH, sign_with_ring
from registry.federation.errors import FederationError
from registry.federation.identifiers import check_entity_id
from registry.federation.jws import check_jwks
from registry.federation.metadata import PROVINCES, Authorisation, member_policy
from registry.federation.statements import entity_statement_claims
from registry.models import CredentialType, FederationAuthorisation, FederationMember
from registry.signing.did import did_web_url
from registry.signing.errors import ResolutionError
from registry.signing.keyring import KeyRing

#: Every type, in a scope.
ALL_TYPES = "*"
#: Bounds of what is registered (the columns' sizes, and a sane number of keys).
MAX_ENTITY_ID_CHARS = 255
MAX_DID_CHARS = 255
MAX_REASON_CHARS = 255
MAX_MEMBER_KEYS = 16
#: §6.2.1: a member has no Intermediates below it.
MEMBER_CONSTRAINTS: dict[str, Any] = {"max_path_length": 0}


class FederationInputError(FederationError):
    """What the anchor was asked to register is not acceptable (entity identifier, DID,
    province, JWK Set, scope, dates, reason). Nothing was changed."""

    slug = "invalid-federation-input"
    title = "Federation registration input is not acceptable"
    status = 422


@dataclass(frozen=True)
class MemberRecord:
    """A member and its whole authorisation history (oldest first)."""

    member: FederationMember
    authorisations: tuple[FederationAuthorisation, ...]

    @property
    def active(self) -> bool:
        return self.member.removed_at is None


# --- rules --------------------------------------------------------------------------


def effective_until(row: FederationAuthorisation) -> datetime | None:
    """Where an authorisation's period ends: its ``valid_until``, or its withdrawal when
    that came first (None: open)."""
    ends = [t for t in (row.valid_until, row.withdrawn_at) if t is not None]
    return min(ends) if ends else None


def authorisation_periods(rows: Iterable[FederationAuthorisation]) -> list[Authorisation]:
    """The periods the anchor vouches for: each authorisation from ``valid_from`` to its
    effective end. One withdrawn before it began never held and is left out."""
    periods = []
    for row in rows:
        start, end = row.valid_from.astimezone(UTC), effective_until(row)
        if end is not None and end <= start:
            continue
        periods.append(Authorisation(row.scope, start, None if end is None else end.astimezone(UTC)))
    return periods


def scope_covers(scope: str, code: str) -> bool:
    """A scope names one code, a series (``ENG-*``: every code beginning ``ENG-``) or all."""
    if scope in (ALL_TYPES, code):
        return True
    return scope.endswith("-*") and code.startswith(scope[:-1])


def _catalogue_codes(session: Session) -> list[str]:
    return list(session.exec(select(CredentialType.code).order_by(col(CredentialType.code))).all())


def allowed_types(session: Session, scopes: Iterable[str]) -> list[str]:
    """The catalogue codes any of ``scopes`` covers."""
    scopes = set(scopes)
    return [code for code in _catalogue_codes(session) if any(scope_covers(s, code) for s in scopes)]


def check_scope(session: Session, scope: str) -> str:
    """``*``, a series ``SERIES-*`` with codes in the catalogue, or a catalogue code."""
    if scope == ALL_TYPES:
        return scope
    if not isinstance(scope, str) or not scope or len(scope) > 64 or not scope.isascii():
        raise FederationInputError("a scope is a catalogue code, a series such as ENG-*, or *")
    if scope.endswith("-*"):
        if not allowed_types(session, [scope]):
            raise FederationInputError(f"no credential type of the catalogue is in series {scope!r}")
        return scope
    if session.get(CredentialType, scope) is None:
        raise FederationInputError(f"no credential type {scope!r} in the catalogue")
    return scope


def _instant(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise FederationInputError(f"{what} must carry a time zone")
    if not EARLIEST <= value < LATEST:
        raise FederationInputError(f"{what} must lie between 1949-10-01 and 2200-01-01")
    return value.astimezone(UTC)


def _reason(reason: str) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > MAX_REASON_CHARS:
        raise FederationInputError(f"a reason of 1 to {MAX_REASON_CHARS} characters is required")
    return text


def _entity_id(entity_id: object, allow_http_loopback: bool) -> str:
    checked = check_entity_id(
        entity_id, "entityId", allow_http_loopback=allow_http_loopback, error=FederationInputError
    )
    if len(checked) > MAX_ENTITY_ID_CHARS:
        raise FederationInputError(f"entityId is longer than {MAX_ENTITY_ID_CHARS} characters")
    if checked.endswith("/"):
        raise FederationInputError("entityId is the node's base URL without a trailing '/'")
    return checked


def _jwks_text(jwks: object) -> str:
    keys = check_jwks(jwks, "jwks", FederationInputError)
    if len(keys) > MAX_MEMBER_KEYS:
        raise FederationInputError(f"jwks has more than {MAX_MEMBER_KEYS} keys")
    if not any(k.get("kty") == "OKP" and k.get("crv") == "Ed25519" for k in keys.values()):
        raise FederationInputError("jwks has no Ed25519 key, so it could not verify a statement")
    return json.dumps({"keys": list(keys.values())}, ensure_ascii=False, sort_keys=True)


def _did(did: object) -> str:
    if not isinstance(did, str) or len(did) > MAX_DID_CHARS:
        raise FederationInputError(f"did must be a did:web of at most {MAX_DID_CHARS} characters")
    try:
        did_web_url(did)
    except ResolutionError as exc:
        raise FederationInputError(f"did: {exc.detail}") from None
    return did


# --- reading ------------------------------------------------------------------------


def get_member(session: Session, entity_id: str, *, active: bool = False) -> FederationMember:
    """The member row; ``active``: only while it is a member (else 404)."""
    member = session.get(FederationMember, entity_id)
    if member is None or (active and member.removed_at is not None):
        raise NotFoundError(f"{entity_id} is not a member of this federation")
    return member


def _authorisation_rows(session: Session, entity_id: str) -> list[FederationAuthorisation]:
    query = (
        select(FederationAuthorisation)
        .where(FederationAuthorisation.entity_id == entity_id)
        .order_by(col(FederationAuthorisation.id))
    )
    return list(session.exec(query).all())


def members(session: Session, *, include_removed: bool = True) -> list[MemberRecord]:
    """Members (removed ones too, unless asked otherwise) with their authorisations."""
    query = select(FederationMember)
    if not include_removed:
        query = query.where(col(FederationMember.removed_at).is_(None))
    rows = session.exec(query.order_by(col(FederationMember.entity_id))).all()
    by_member: dict[str, list[FederationAuthorisation]] = {row.entity_id: [] for row in rows}
    if by_member:
        query_auth = (
            select(FederationAuthorisation)
            .where(col(FederationAuthorisation.entity_id).in_(list(by_member)))
            .order_by(col(FederationAuthorisation.id))
        )
        for authorisation in session.exec(query_auth).all():
            by_member[authorisation.entity_id].append(authorisation)
    return [MemberRecord(row, tuple(by_member[row.entity_id])) for row in rows]


def active_member_ids(session: Session) -> list[str]:
    """The entity identifiers of the current members (§8.2)."""
    query = (
        select(FederationMember.entity_id)
        .where(col(FederationMember.removed_at).is_(None))
        .order_by(col(FederationMember.entity_id))
    )
    return list(session.exec(query).all())


# --- changing -----------------------------------------------------------------------


def admit(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    entity_id: str,
    did: str,
    province: str,
    jwks: Mapping[str, Any],
    anchor_id: str | None = None,
    allow_http_loopback: bool = False,
) -> FederationMember:
    """Admit a node (409 while it is a member already, or while another member holds
    the DID). A removed member is admitted again on the same row, without the
    authorisations it had (they ended at its removal)."""
    entity_id = _entity_id(entity_id, allow_http_loopback)
    if anchor_id is not None and entity_id == anchor_id.rstrip("/"):
        raise FederationInputError("the trust anchor cannot be a member of itself")
    did = _did(did)
    if province not in PROVINCES:
        raise FederationInputError(f"province must be one of {sorted(PROVINCES)}")
    jwks_text = _jwks_text(jwks)
    member = session.get(FederationMember, entity_id, with_for_update=True)
    if member is not None and member.removed_at is None:
        raise ConflictError(f"{entity_id} is a member already (since {member.admitted_at.isoformat()})")
    holder = session.exec(
        select(FederationMember.entity_id).where(
            FederationMember.did == did,
            col(FederationMember.removed_at).is_(None),
            FederationMember.entity_id != entity_id,
        )
    ).first()
    if holder is not None:
        raise ConflictError(f"member {holder} has DID {did} already")
    readmitted = member is not None
    if member is None:
        member = FederationMember(
            entity_id=entity_id,
            did=did,
            province=province,
            jwks=jwks_text,
            admitted_at=now,
            admitted_by=principal.actor,
        )
    else:
        member.did, member.province, member.jwks = did, province, jwks_text
        member.admitted_at, member.admitted_by = now, principal.actor
        member.removed_at = member.removed_by = member.removal_reason = None
    session.add(member)
    session.flush()
    detail: dict[str, Any] = {
        "did": did,
        "province": province,
        "kids": sorted(check_jwks(jwks, "jwks", FederationInputError)),
    }
    if readmitted:
        detail["readmitted"] = True
    audit.record(session, principal, now, "federation.admit", "federation_member", entity_id, detail=detail)
    return member


def replace_keys(
    session: Session, principal: Principal, now: datetime, entity_id: str, jwks: Mapping[str, Any]
) -> FederationMember:
    """Register a member's new federation JWK Set (after it rotated its federation key)."""
    jwks_text = _jwks_text(jwks)
    member = get_member(session, entity_id, active=True)
    old = sorted(k["kid"] for k in json.loads(member.jwks)["keys"])
    member.jwks = jwks_text
    session.add(member)
    session.flush()
    new = sorted(k["kid"] for k in json.loads(jwks_text)["keys"])
    audit.record(
        session,
        principal,
        now,
        "federation.keys",
        "federation_member",
        entity_id,
        detail={"previousKids": old, "kids": new},
    )
    return member


def remove(
    session: Session, principal: Principal, now: datetime, entity_id: str, reason: str
) -> FederationMember:
    """End a membership (404 when it is not a member). The row stays; the member's open
    authorisations end now (withdrawn, with the removal as their reason)."""
    reason = _reason(reason)
    member = get_member(session, entity_id, active=True)
    member.removed_at, member.removed_by, member.removal_reason = now, principal.actor, reason
    session.add(member)
    ended = []
    for row in _authorisation_rows(session, entity_id):
        end = effective_until(row)
        if row.withdrawn_at is None and (end is None or end > now):
            row.withdrawn_at, row.withdrawn_by = now, principal.actor
            row.withdrawal_reason = f"member removed: {reason}"[:MAX_REASON_CHARS]
            session.add(row)
            ended.append(row.id)
    session.flush()
    audit.record(
        session,
        principal,
        now,
        "federation.remove",
        "federation_member",
        entity_id,
        reason=reason[:64],
        detail={"reason": reason, "authorisationsEnded": ended},
    )
    return member


def authorise(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    entity_id: str,
    scope: str,
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> FederationAuthorisation:
    """Record that a member may issue ``scope`` from ``valid_from`` until ``valid_until``
    (404 for a non-member, 409 for a removed one, 422 for an unknown scope or bad dates)."""
    start = _instant(valid_from, "validFrom")
    end = None if valid_until is None else _instant(valid_until, "validUntil")
    if end is not None and end <= start:
        raise FederationInputError("validUntil must be later than validFrom")
    member = get_member(session, entity_id)
    if member.removed_at is not None:
        raise ConflictError(f"{entity_id} was removed from the federation; admit it again first")
    scope = check_scope(session, scope)
    row = FederationAuthorisation(
        entity_id=entity_id,
        scope=scope,
        valid_from=start,
        valid_until=end,
        granted_at=now,
        granted_by=principal.actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal,
        now,
        "federation.authorise",
        "federation_authorisation",
        str(row.id),
        detail={
            "entityId": entity_id,
            "scope": scope,
            "validFrom": start.isoformat(),
            "validUntil": None if end is None else end.isoformat(),
        },
    )
    return row


def withdraw(
    session: Session, principal: Principal, now: datetime, authorisation_id: int, reason: str
) -> FederationAuthorisation:
    """End an authorisation now (404 when there is none, 409 when it was withdrawn)."""
    reason = _reason(reason)
    row = session.get(FederationAuthorisation, authorisation_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no authorisation {authorisation_id}")
    if row.withdrawn_at is not None:
        raise ConflictError(
            f"authorisation {authorisation_id} was withdrawn at {row.withdrawn_at.isoformat()}"
        )
    row.withdrawn_at, row.withdrawn_by, row.withdrawal_reason = now, principal.actor, reason
    session.add(row)
    session.flush()
    until = effective_until(row)
    audit.record(
        session,
        principal,
        now,
        "federation.withdraw",
        "federation_authorisation",
        str(authorisation_id),
        reason=reason[:64],
        detail={
            "entityId": row.entity_id,
            "scope": row.scope,
            "reason": reason,
            "effectiveUntil": None if until is None else until.isoformat(),
        },
    )
    return row


# --- statements ---------------------------------------------------------------------


def member_statement_claims(
    session: Session,
    subject: str,
    *,
    issuer: str,
    now: datetime,
    lifetime: timedelta,
    allow_http_loopback: bool = False,
) -> dict[str, Any]:
    """The claims of the anchor's Subordinate Statement about ``subject`` (404 when it
    is not a current member)."""
    member = get_member(session, subject, active=True)
    rows = _authorisation_rows(session, subject)
    policy = member_policy(
        did=member.did,
        province=member.province,
        authorisations=authorisation_periods(rows),
        allowed_types=allowed_types(session, {row.scope for row in rows}),
    )
    return entity_statement_claims(
        iss=issuer,
        sub=member.entity_id,
        issued_at=now,
        expires_at=now + lifetime,
        jwks=json.loads(member.jwks),
        metadata_policy=policy,
        constraints=MEMBER_CONSTRAINTS,
        source_endpoint=issuer.rstrip("/") + FETCH_PATH,
        allow_http_loopback=allow_http_loopback,
    )


def subordinate_statement(
    session: Session,
    subject: str,
    *,
    issuer: str,
    federation_ring: KeyRing,
    now: datetime,
    lifetime: timedelta,
    allow_http_loopback: bool = False,
) -> str:
    """The signed Subordinate Statement about ``subject`` (§8.1), by the anchor ``issuer``
    with its active federation key; valid from ``now`` for ``lifetime``."""
    claims = member_statement_claims(
        session, subject, issuer=issuer, now=now, lifetime=lifetime, allow_http_loopback=allow_http_loopback
    )
    return sign_with_ring(claims, federation_ring, now, allow_http_loopback=allow_http_loopback)


__all__ = [
    "ALL_TYPES",
    "FederationInputError",
    "MemberRecord",
    "active_member_ids",
    "admit",
    "allowed_types",
    "authorisation_periods",
    "authorise",
    "check_scope",
    "effective_until",
    "get_member",
    "member_statement_claims",
    "members",
    "remove",
    "replace_keys",
    "scope_covers",
    "subordinate_statement",
    "withdraw",
]
