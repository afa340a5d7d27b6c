"""A node's signing keys with their history.

Each key has the instants it was created and activated, and, once they happen, the
instant it was retired (rotation) and the instant from which it is held compromised.
The ring answers "which keys were valid for signing at instant T", so a credential
signed before a rotation keeps verifying and one dated after a compromise does not.

Lifetimes have whole-second bounds, because proofs state their creation instant to
the second: a key counts as active from the start of the second it was activated in,
and a key retired by rotation stays valid to the end of that second. A credential
signed just before a rotation therefore verifies with the old key, and the one-second
overlap lies between two keys of the same node.

The ring is immutable: ``rotate`` and ``mark_compromised`` return a new ring. No
method reads the clock: every instant is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from registry.signing.errors import KeyMaterialError, KeyNotValidAtError
from registry.signing.keys import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    jwk_thumbprint,
    public_key_from_multikey,
    public_key_to_multikey,
)


def require_aware(instant: datetime, what: str = "instant") -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise KeyMaterialError(f"{what} must carry a time zone")
    return instant


def floor_second(instant: datetime) -> datetime:
    return instant.replace(microsecond=0)


def ceil_second(instant: datetime) -> datetime:
    return floor_second(instant) + timedelta(seconds=1) if instant.microsecond else instant


@dataclass(frozen=True)
class KeyRecord:
    """The public half of a ring key and its lifetime."""

    kid: str
    public_key: Ed25519PublicKey = field(repr=False, compare=False)
    created: datetime
    activated: datetime | None = None
    retired: datetime | None = None
    compromised_from: datetime | None = None

    def valid_for_signing_at(self, instant: datetime) -> bool:
        require_aware(instant)
        if self.activated is None or instant < self.activated:
            return False
        if self.retired is not None and instant >= self.retired:
            return False
        return self.compromised_from is None or instant < self.compromised_from

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "kid": self.kid,
            "publicKeyMultibase": public_key_to_multikey(self.public_key),
            "created": iso(self.created),
            "activated": iso(self.activated),
            "retired": iso(self.retired),
            "compromisedFrom": iso(self.compromised_from),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRecord:
        try:
            return cls._from_dict(data)
        except KeyMaterialError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KeyMaterialError(f"key record is malformed ({type(exc).__name__})") from None

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> KeyRecord:
        def when(name: str) -> datetime | None:
            value = data.get(name)
            return None if value is None else require_aware(datetime.fromisoformat(value), name)

        public_key = public_key_from_multikey(data["publicKeyMultibase"])
        if jwk_thumbprint(public_key) != data["kid"]:
            raise KeyMaterialError("key record kid does not match its public key")
        created = when("created")
        if created is None:
            raise KeyMaterialError("key record has no creation instant")
        return cls(
            kid=data["kid"],
            public_key=public_key,
            created=created,
            activated=when("activated"),
            retired=when("retired"),
            compromised_from=when("compromisedFrom"),
        )


@dataclass(frozen=True)
class KeyRing:
    """Records in creation order; private keys only for the keys this node holds."""

    records: tuple[KeyRecord, ...] = ()
    private_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def start(cls, key: Ed25519PrivateKey, now: datetime) -> KeyRing:
        """A ring whose first key is active from ``now``."""
        return cls().with_key(key, now, activate=True)

    def with_key(self, key: Ed25519PrivateKey, now: datetime, *, activate: bool) -> KeyRing:
        require_aware(now)
        public_key = key.public_key()
        kid = jwk_thumbprint(public_key)
        if any(r.kid == kid for r in self.records):
            raise KeyMaterialError("key is already in the ring")
        start = floor_second(now)
        record = KeyRecord(kid, public_key, created=now, activated=start if activate else None)
        return KeyRing((*self.records, record), {**self.private_keys, kid: key})

    def rotate(self, new_key: Ed25519PrivateKey, now: datetime) -> KeyRing:
        """Retire every key active at ``now`` and activate ``new_key`` from ``now``."""
        require_aware(now)
        if any(r.activated is not None and r.activated > now for r in self.records):
            raise KeyMaterialError("rotation instant precedes the activation of a key in the ring")
        retired = tuple(
            replace(r, retired=ceil_second(now)) if r.valid_for_signing_at(now) else r for r in self.records
        )
        return KeyRing(retired, dict(self.private_keys)).with_key(new_key, now, activate=True)

    def mark_compromised(self, kid: str, since: datetime) -> KeyRing:
        """Signatures dated at or after ``since`` are no longer accepted for ``kid``."""
        require_aware(since)
        record = self.record(kid)
        if record.compromised_from is not None and record.compromised_from <= since:
            return self
        updated = replace(record, compromised_from=since)
        return KeyRing(tuple(updated if r.kid == kid else r for r in self.records), self.private_keys)

    def record(self, kid: str) -> KeyRecord:
        for r in self.records:
            if r.kid == kid:
                return r
        raise KeyMaterialError(f"no key {kid!r} in the ring")

    def valid_at(self, instant: datetime) -> list[KeyRecord]:
        """The keys that were valid for signing at ``instant``."""
        return [r for r in self.records if r.valid_for_signing_at(instant)]

    def published_at(self, now: datetime) -> list[KeyRecord]:
        """The keys a node publishes at ``now``: activated by then and not compromised.
        Retired keys stay published so that what they signed keeps verifying."""
        return [
            r
            for r in self.records
            if r.activated is not None and r.activated <= now and r.compromised_from is None
        ]

    def check_valid_at(self, kid: str, instant: datetime) -> KeyRecord:
        record = self.record(kid)
        if not record.valid_for_signing_at(instant):
            raise KeyNotValidAtError(f"key {kid} was not valid for signing at {instant.isoformat()}")
        return record

    def signing_key(self, now: datetime) -> tuple[KeyRecord, Ed25519PrivateKey]:
        """The newest key valid at ``now`` whose private half this ring holds."""
        for r in reversed(self.records):
            if r.valid_for_signing_at(now) and r.kid in self.private_keys:
                return r, self.private_keys[r.kid]
        raise KeyNotValidAtError(f"no key is valid for signing at {now.isoformat()}")

    def public_records(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.records]

    @classmethod
    def from_public_records(
        cls, records: list[dict[str, Any]], private_keys: dict[str, Ed25519PrivateKey] | None = None
    ) -> KeyRing:
        parsed = tuple(KeyRecord.from_dict(r) for r in records)
        if len({r.kid for r in parsed}) != len(parsed):
            raise KeyMaterialError("key ring lists a key twice")
        for r in parsed:
            if r.activated is not None and r.retired is not None and r.retired < r.activated:
                raise KeyMaterialError(f"key {r.kid} is retired before it was activated")
        keys = dict(private_keys or {})
        for kid, key in keys.items():
            if jwk_thumbprint(key.public_key()) != kid:
                raise KeyMaterialError(f"private key does not match record {kid}")
        return cls(parsed, keys)
