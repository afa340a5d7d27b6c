"""Federation historical keys (OpenID Federation 1.0 §8.7): build, verify, and ask whether a
key was valid at an instant.

The historical keys endpoint answers with a signed JWK Set (``typ`` ``jwk-set+jwt``, media
type ``application/jwk-set+jwt``, §8.7.2, §15.6) whose claims are ``iss`` (the entity),
``iat`` and ``keys``: the entity's retired Federation Entity Keys, each a public JWK with a
``kid``, a required ``exp`` (after which the key MUST NOT be considered valid), optional
``iat`` and ``nbf``, and, for a revoked key, ``revoked`` with ``revoked_at`` and an optional
``reason`` (§8.7.3: ``unspecified``, ``compromised``, ``superseded``; federations may add
others). An expired key may later be marked revoked as well (§8.7).

The JWT is verified with the entity's current Federation Entity Keys, as a trust chain
vouches for them (``TrustChain.jwks``); it carries no ``exp`` of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.federation.errors import (
    FederationError,
    FederationKeyNotValidError,
    HistoricalKeysError,
)
from registry.federation.identifiers import check_entity_id
from registry.federation.jws import (
    check_jwks,
    parse_compact_jws,
    sign_compact_jws,
    signing_key,
    verify_signature,
)
from registry.federation.statements import DEFAULT_LEEWAY
from registry.signing.keys import Ed25519PrivateKey, Ed25519PublicKey, jwk_thumbprint, public_key_to_jwk

HISTORICAL_KEYS_TYPE = "jwk-set+jwt"
HISTORICAL_KEYS_MEDIA_TYPE = "application/jwk-set+jwt"
#: §8.7.3.
REVOCATION_REASONS = frozenset({"unspecified", "compromised", "superseded"})


def _seconds(instant: datetime, what: str) -> int:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise FederationError(f"{what} must carry a time zone")
    return int(instant.timestamp())


def _instant(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True)
class HistoricalKey:
    """One retired Federation Entity Key and its lifetime."""

    jwk: Mapping[str, Any]
    expires_at: datetime
    issued_at: datetime | None = None
    not_before: datetime | None = None
    revoked_at: datetime | None = None
    reason: str | None = None

    @property
    def kid(self) -> str:
        return str(self.jwk["kid"])

    def problem_at(self, instant: datetime) -> str | None:
        """Why the key was not valid at ``instant``, or None when it was."""
        if self.not_before is not None and instant < self.not_before:
            return "not valid yet (nbf)"
        if self.issued_at is not None and instant < self.issued_at:
            return "not issued yet (iat)"
        if self.revoked_at is not None and instant >= self.revoked_at:
            reason = f" ({self.reason})" if self.reason else ""
            return f"revoked at {self.revoked_at.isoformat()}{reason}"
        if instant >= self.expires_at:
            return f"expired at {self.expires_at.isoformat()}"
        return None


@dataclass(frozen=True)
class HistoricalKeySet:
    """A verified historical keys JWT."""

    issuer: str
    issued_at: datetime
    keys: tuple[HistoricalKey, ...]

    def key(self, kid: str) -> HistoricalKey | None:
        return next((key for key in self.keys if key.kid == kid), None)


def historical_key(
    public_key: Ed25519PublicKey,
    *,
    expires_at: datetime,
    issued_at: datetime | None = None,
    not_before: datetime | None = None,
    revoked_at: datetime | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """One entry of ``keys`` (§8.7.2): the public JWK, its thumbprint ``kid`` and lifetime."""
    if reason is not None and revoked_at is None:
        raise HistoricalKeysError("a revocation reason needs revoked_at")
    entry: dict[str, Any] = {
        **public_key_to_jwk(public_key),
        "kid": jwk_thumbprint(public_key),
        "exp": _seconds(expires_at, "expires_at"),
    }
    if issued_at is not None:
        entry["iat"] = _seconds(issued_at, "issued_at")
    if not_before is not None:
        entry["nbf"] = _seconds(not_before, "not_before")
    if revoked_at is not None:
        entry["revoked"] = {"revoked_at": _seconds(revoked_at, "revoked_at")}
        if reason is not None:
            entry["revoked"]["reason"] = reason
    return entry


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HistoricalKeysError(f"{what} must be a NumericDate")
    return float(value)


def _parse_key(entry: Mapping[str, Any]) -> HistoricalKey:
    kid = entry["kid"]
    expires = _number(entry.get("exp"), f"exp of key {kid!r}")
    issued = _number(entry["iat"], f"iat of key {kid!r}") if "iat" in entry else None
    not_before = _number(entry["nbf"], f"nbf of key {kid!r}") if "nbf" in entry else None
    revoked_at: float | None = None
    reason: str | None = None
    if "revoked" in entry:
        revoked = entry["revoked"]
        if not isinstance(revoked, Mapping):
            raise HistoricalKeysError(f"revoked of key {kid!r} must be a JSON object")
        revoked_at = _number(revoked.get("revoked_at"), f"revoked_at of key {kid!r}")
        if "reason" in revoked:
            if not isinstance(revoked["reason"], str) or not revoked["reason"]:
                raise HistoricalKeysError(f"reason of key {kid!r} must be a non-empty string")
            reason = revoked["reason"]
    return HistoricalKey(
        jwk=dict(entry),
        expires_at=datetime.fromtimestamp(expires, UTC),
        issued_at=_instant(issued),
        not_before=_instant(not_before),
        revoked_at=_instant(revoked_at),
        reason=reason,
    )


def _check_claims(claims: Mapping[str, Any], allow_http_loopback: bool) -> tuple[HistoricalKey, ...]:
    check_entity_id(
        claims.get("iss"), "iss", allow_http_loopback=allow_http_loopback, error=HistoricalKeysError
    )
    _number(claims.get("iat"), "iat")
    by_kid = check_jwks({"keys": claims.get("keys")}, "keys", HistoricalKeysError)
    return tuple(_parse_key(entry) for entry in by_kid.values())


def sign_historical_keys(
    issuer: str,
    issued_at: datetime,
    keys: Iterable[Mapping[str, Any]],
    private_key: Ed25519PrivateKey,
    *,
    allow_http_loopback: bool = False,
) -> str:
    """The signed JWK Set of §8.7.2 (``typ`` jwk-set+jwt), signed with a current Federation
    Entity Key of ``issuer``; ``keys`` are entries made by :func:`historical_key`."""
    claims = {"iss": issuer, "iat": _seconds(issued_at, "issued_at"), "keys": [dict(k) for k in keys]}
    _check_claims(claims, allow_http_loopback)
    return sign_compact_jws(claims, private_key, HISTORICAL_KEYS_TYPE)


def verify_historical_keys(
    token: str | bytes,
    issuer: str,
    jwks: Mapping[str, Any],
    now: datetime,
    *,
    leeway: timedelta = DEFAULT_LEEWAY,
    allow_http_loopback: bool = False,
) -> HistoricalKeySet:
    """Verify a historical keys JWT of ``issuer`` with ``jwks``, the issuer's current
    Federation Entity Keys from its trust chain. Raises :class:`HistoricalKeysError`."""
    stamp = _seconds(now, "now")
    parsed = parse_compact_jws(token, HISTORICAL_KEYS_TYPE, HistoricalKeysError)
    keys = check_jwks(jwks, f"the keys of {issuer}", HistoricalKeysError)
    verify_signature(parsed, signing_key(keys, parsed.kid, HistoricalKeysError), HistoricalKeysError)
    claims = parsed.unverified_payload(HistoricalKeysError)
    history = _check_claims(claims, allow_http_loopback)
    if claims["iss"] != issuer:
        raise HistoricalKeysError(f"historical keys are issued by {claims['iss']}, not by {issuer}")
    if claims["iat"] > stamp + leeway.total_seconds():
        raise HistoricalKeysError("historical keys are issued in the future (iat)")
    if "exp" in claims and stamp >= _number(claims["exp"], "exp"):
        raise HistoricalKeysError("historical keys JWT has expired (exp)")
    return HistoricalKeySet(issuer=issuer, issued_at=datetime.fromtimestamp(claims["iat"], UTC), keys=history)


def check_key_valid_at(
    history: HistoricalKeySet, entity_id: str, kid: str, instant: datetime
) -> HistoricalKey:
    """Key ``kid`` of ``entity_id`` was valid (issued, not before ``nbf``, not expired, not
    revoked) at ``instant``; returns it, or raises :class:`FederationKeyNotValidError`.
    Keys still current are not in the history: their validity is the trust chain's."""
    _seconds(instant, "instant")
    if history.issuer != entity_id:
        raise FederationKeyNotValidError(f"these historical keys are of {history.issuer}, not of {entity_id}")
    key = history.key(kid)
    if key is None:
        raise FederationKeyNotValidError(f"{entity_id} lists no historical key {kid!r}")
    problem = key.problem_at(instant)
    if problem is not None:
        raise FederationKeyNotValidError(f"key {kid!r} of {entity_id} was {problem} at {instant.isoformat()}")
    return key


def was_key_valid_at(history: HistoricalKeySet, entity_id: str, kid: str, instant: datetime) -> bool:
    """:func:`check_key_valid_at` as a yes/no answer."""
    try:
        check_key_valid_at(history, entity_id, kid, instant)
    except FederationKeyNotValidError:
        return False
    return True
