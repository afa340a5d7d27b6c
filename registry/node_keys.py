"""The node's key ring in the database: table ``node_key`` holds each key's public
history (kid, public key, created/activated/retired/compromised-from) and the private
key as passphrase-encrypted PKCS#8 PEM. Rows are written in the caller's transaction,
so a rotation is all there or not at all."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Literal

from sqlmodel import Session, col, select

from registry import audit
from registry.auth import Principal
from registry.errors import InvalidInputError, NotFoundError
from registry.models import NodeKey
from registry.signing.errors import KeyMaterialError, KeyNotValidAtError
from registry.signing.keyring import KeyRecord, KeyRing
from registry.signing.keys import (
    Ed25519PrivateKey,
    generate_private_key,
    private_key_from_pem,
    private_key_to_pem,
)


@lru_cache(maxsize=64)
def _decrypt(pem: bytes, passphrase: bytes) -> Ed25519PrivateKey:
    # scrypt makes each decryption cost tens of milliseconds; a key is decrypted once
    # per process, not once per ring load.
    return private_key_from_pem(pem, passphrase)


class NodeKeyStore:
    """One key ring of the node: ``assertion`` (its DID's credential-signing keys) or
    ``federation`` (the keys of its OpenID Federation statements)."""

    def __init__(self, passphrase: str, purpose: str = "assertion") -> None:
        self._passphrase = passphrase.encode("utf-8")
        self.purpose = purpose

    def exists(self, session: Session) -> bool:
        query = select(NodeKey.kid).where(NodeKey.purpose == self.purpose).limit(1)
        return session.exec(query).first() is not None

    def load(self, session: Session, *, for_update: bool = False) -> KeyRing:
        """The ring; ``for_update`` locks its rows (PostgreSQL) so that two rotations at
        once run one after the other instead of leaving two active keys."""
        mine = NodeKey.purpose == self.purpose
        query = select(NodeKey).where(mine).order_by(col(NodeKey.created), col(NodeKey.kid))
        if for_update:
            # Lock the first key, then read the ring afresh: a rotation that committed
            # while this one waited is seen (its new key included), not overwritten.
            session.exec(
                select(NodeKey.kid)
                .where(mine)
                .order_by(col(NodeKey.created), col(NodeKey.kid))
                .limit(1)
                .with_for_update()
            ).first()
            query = query.execution_options(populate_existing=True)
        rows = session.exec(query).all()
        if not rows:
            raise KeyMaterialError(f"the node has no {self.purpose} key ring; run 'registry init' first")
        records = [
            {
                "kid": row.kid,
                "publicKeyMultibase": row.public_multikey,
                "created": row.created.isoformat(),
                "activated": row.activated.isoformat() if row.activated else None,
                "retired": row.retired.isoformat() if row.retired else None,
                "compromisedFrom": row.compromised_from.isoformat() if row.compromised_from else None,
            }
            for row in rows
        ]
        keys = {row.kid: _decrypt(bytes(row.private_pem), self._passphrase) for row in rows}
        return KeyRing.from_public_records(records, keys)

    def save(self, session: Session, ring: KeyRing) -> None:
        existing = {
            row.kid: row for row in session.exec(select(NodeKey).where(NodeKey.purpose == self.purpose)).all()
        }
        for record in ring.records:
            row = existing.get(record.kid)
            if row is None:
                key = ring.private_keys.get(record.kid)
                if key is None:
                    raise KeyMaterialError(f"no private key for new ring key {record.kid}")
                row = NodeKey(
                    kid=record.kid,
                    purpose=self.purpose,
                    public_multikey=record.to_dict()["publicKeyMultibase"],
                    created=record.created,
                    private_pem=private_key_to_pem(key, self._passphrase),
                )
            row.activated = record.activated
            row.retired = record.retired
            row.compromised_from = record.compromised_from
            session.add(row)
        session.flush()

    def load_or_create(self, session: Session, now: datetime) -> KeyRing:
        if self.exists(session):
            return self.load(session)
        ring = KeyRing.start(generate_private_key(), now)
        self.save(session, ring)
        return ring

    def rotate(self, session: Session, now: datetime) -> KeyRing:
        ring = self.load(session, for_update=True).rotate(generate_private_key(), now)
        self.save(session, ring)
        return ring

    def mark_compromised(
        self, session: Session, kid: str, since: datetime, *, replace_at: datetime | None = None
    ) -> KeyRing:
        """Hold ``kid`` compromised from ``since`` (an earlier instant already recorded
        stays). With ``replace_at``: when no key of the ring can sign at that instant
        any more (the signing key was the one compromised), a new key is activated
        then, in the same transaction, so the node keeps issuing."""
        ring = self.load(session, for_update=True)
        ring.record(kid)  # KeyMaterialError for a kid the ring does not have
        ring = ring.mark_compromised(kid, since)
        if replace_at is not None and not any(r.kid in ring.private_keys for r in ring.valid_at(replace_at)):
            ring = ring.rotate(generate_private_key(), replace_at)
        self.save(session, ring)
        return ring


KeyState = Literal["active", "retired", "compromised", "pending"]


def key_state(record: KeyRecord, now: datetime) -> KeyState:
    """``compromised``, ``retired``, ``active`` (may sign at ``now``) or ``pending``
    (created, not yet activated)."""
    if record.compromised_from is not None:
        return "compromised"
    if record.retired is not None:  # within its last second it may still sign
        return "retired"
    if record.valid_for_signing_at(now):
        return "active"
    return "pending"


def signing_kid(ring: KeyRing, now: datetime) -> str | None:
    """The kid that signs at ``now``, or None when no key of the ring can."""
    try:
        return ring.signing_key(now)[0].kid
    except KeyNotValidAtError:
        return None


def compromise_signing_key(
    session: Session,
    store: NodeKeyStore,
    principal: Principal,
    kid: str,
    since: datetime,
    reason: str,
    now: datetime,
) -> KeyRing:
    """An admin's decision (API or CLI): ``kid`` is held compromised from ``since``
    (passed, not future), a new key signs from ``now`` when ``kid`` was the signing
    key, and both are audited with the reason. Returns the new ring, which the caller
    caches only after the commit."""
    if since.tzinfo is None or since > now:
        raise InvalidInputError("a key is held compromised from a past instant with a time zone")
    current = store.load(session, for_update=True)
    if kid not in {r.kid for r in current.records}:
        raise NotFoundError(f"no {store.purpose} key {kid!r}")
    before = signing_kid(current, now)
    ring = store.mark_compromised(session, kid, since, replace_at=now)
    after = signing_kid(ring, now)
    compromised = ring.record(kid).compromised_from
    detail: dict[str, str] = (
        {"compromisedFrom": compromised.isoformat().replace("+00:00", "Z")} if compromised else {}
    )
    if after is not None and after != before:
        detail["newSigningKid"] = after
    audit.record(session, principal, now, "key.compromise", "node_key", kid, reason=reason, detail=detail)
    if after is not None and after != before:
        audit.record(session, principal, now, "key.rotate", "node_key", after, reason=reason)
    return ring
