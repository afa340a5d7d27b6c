"""The node's key ring in the database: table ``node_key`` holds each key's public
history (kid, public key, created/activated/retired/compromised-from) and the private
key as passphrase-encrypted PKCS#8 PEM. Rows are written in the caller's transaction,
so a rotation is all there or not at all."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlmodel import Session, col, select

from registry.models import NodeKey
from registry.signing.errors import KeyMaterialError
from registry.signing.keyring import KeyRing
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

    def mark_compromised(self, session: Session, kid: str, since: datetime) -> KeyRing:
        ring = self.load(session, for_update=True).mark_compromised(kid, since)
        self.save(session, ring)
        return ring
