"""What an entity of this federation says of itself, signed (pure: no web, no database;
the key rings, the instant and the facts are parameters).

* :func:`entity_configuration` — the Entity Configuration (OpenID Federation 1.0 §3,
  ``typ`` entity-statement+jwt, ``iss`` = ``sub`` = the entity identifier) served at
  ``/.well-known/openid-federation`` (§9). Its ``jwks`` are the federation keys the ring
  publishes at that instant (the active key and retired ones, never a compromised one,
  as the DID document does for credential-signing keys); it is signed with the active
  key. Every entity has ``metadata.federation_entity`` (names in Chinese, and in English
  under ``organization_name#en``, §5.2.2 language tags; ``homepage_uri``). A trust anchor
  adds its endpoints (fetch §8.1, list §8.2, resolve §8.3, historical keys §8.7). A
  provincial node adds ``authority_hints`` (its trust anchor, when configured) and
  ``metadata.yrd_credential_issuer`` (:func:`metadata.issuer_metadata`:
  its DID, province, credential types and credential-signing keys with their whole
  history, compromised keys included, so that verifiers learn the compromise instant).
* :func:`historical_keys` — the signed JWK Set of the entity's retired and revoked
  federation keys (§8.7.2): a retired key expires (``exp``) at its retirement; a
  compromised key is revoked from the instant it is held compromised, reason
  ``compromised`` (§8.7.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from registry.federation.errors import FederationError, StatementError
from registry.federation.historical_keys import historical_key, sign_historical_keys
from registry.federation.jws import federation_jwk
from registry.federation.metadata import ISSUER_ENTITY_TYPE, issuer_metadata
from registry.federation.statements import entity_statement_claims, sign_entity_statement
from registry.signing.errors import KeyNotValidAtError
from registry.signing.keyring import KeyRecord, KeyRing
from registry.signing.keys import Ed25519PrivateKey

#: Where a trust anchor serves the federation endpoints (relative to its entity identifier).
FETCH_PATH = "/federation/fetch"
LIST_PATH = "/federation/list"
RESOLVE_PATH = "/federation/resolve"
HISTORICAL_KEYS_PATH = "/federation/historical-keys"
#: How the trust anchor names itself.
ANCHOR_NAME = "长三角人才评价互认联盟信任锚"
ANCHOR_NAME_EN = "Yangtze River Delta talent credential federation — trust anchor"
#: §8.7.3: the revocation reason of a key held compromised.
COMPROMISED = "compromised"

Role = Literal["node", "anchor"]


class EntityConfigurationError(FederationError):
    """This entity cannot describe itself (no active federation key, or settings that make
    an invalid statement, such as a trust anchor that is not an entity identifier)."""

    slug = "entity-configuration-unavailable"
    title = "Entity configuration cannot be made"
    status = 500


def anchor_endpoints(entity_id: str) -> dict[str, str]:
    """The federation endpoints of a trust anchor at ``entity_id``."""
    base = entity_id.rstrip("/")
    return {
        "federation_fetch_endpoint": base + FETCH_PATH,
        "federation_list_endpoint": base + LIST_PATH,
        "federation_resolve_endpoint": base + RESOLVE_PATH,
        "federation_historical_keys_endpoint": base + HISTORICAL_KEYS_PATH,
    }


def federation_key(record: KeyRecord) -> dict[str, str]:
    """A federation key as a JWK: RFC 7638 thumbprint ``kid``, for EdDSA signatures."""
    return {**federation_jwk(record.public_key), "use": "sig", "alg": "EdDSA"}


def published_jwks(ring: KeyRing, now: datetime) -> dict[str, list[dict[str, str]]]:
    """The federation keys the entity publishes at ``now`` (its ``jwks``): activated,
    not compromised; retired keys included."""
    return {"keys": [federation_key(record) for record in ring.published_at(now)]}


def federation_entity_metadata(
    entity_id: str, role: Role, organization_name: str, organization_name_en: str
) -> dict[str, Any]:
    """``metadata.federation_entity`` (§5.1.1, §5.2.2)."""
    metadata: dict[str, Any] = {
        "organization_name": organization_name,
        "organization_name#en": organization_name_en,
        "homepage_uri": entity_id.rstrip("/") + "/",
    }
    if role == "anchor":
        metadata.update(anchor_endpoints(entity_id))
    return metadata


def entity_configuration(
    *,
    entity_id: str,
    role: Role,
    federation_ring: KeyRing,
    now: datetime,
    lifetime: timedelta,
    organization_name: str,
    organization_name_en: str,
    trust_anchor: str | None = None,
    did: str | None = None,
    province: str | None = None,
    assertion_records: Sequence[Mapping[str, Any]] = (),
    credential_types: Iterable[str] = (),
    allow_http_loopback: bool = False,
) -> str:
    """This entity's Entity Configuration at ``now``: its claims checked as a verifier
    would check them, then signed with the ring's active federation key.

    A node (``role`` ``node``) needs ``did`` and ``province``; ``assertion_records`` are
    its credential-signing ring's public records (:meth:`KeyRing.public_records`: every
    key, compromised ones too) and ``credential_types`` the catalogue codes it issues."""
    if lifetime <= timedelta(0):
        raise EntityConfigurationError("the statement lifetime must be positive")
    metadata: dict[str, Any] = {
        "federation_entity": federation_entity_metadata(
            entity_id, role, organization_name, organization_name_en
        )
    }
    authority_hints: list[str] | None = None
    if role == "node":
        if did is None or province is None:
            raise EntityConfigurationError("a provincial node's configuration needs its DID and province")
        metadata[ISSUER_ENTITY_TYPE] = issuer_metadata(
            did=did,
            province=province,
            base_url=entity_id,
            key_records=assertion_records,
            credential_types=credential_types,
            name=organization_name,
            name_en=organization_name_en,
        )
        if trust_anchor:
            authority_hints = [trust_anchor.rstrip("/")]
    jwks = published_jwks(federation_ring, now)
    if not jwks["keys"]:
        raise EntityConfigurationError("the entity publishes no federation key")
    try:
        claims = entity_statement_claims(
            iss=entity_id,
            sub=entity_id,
            issued_at=now,
            expires_at=now + lifetime,
            jwks=jwks,
            authority_hints=authority_hints,
            metadata=metadata,
            allow_http_loopback=allow_http_loopback,
        )
    except StatementError as exc:
        raise EntityConfigurationError(
            f"this entity's settings make an invalid statement: {exc.detail}"
        ) from None
    return sign_with_ring(claims, federation_ring, now, allow_http_loopback=allow_http_loopback)


def active_key(ring: KeyRing, now: datetime) -> Ed25519PrivateKey:
    """The ring's federation key for signing at ``now``."""
    try:
        return ring.signing_key(now)[1]
    except KeyNotValidAtError:
        raise EntityConfigurationError("no federation key is valid for signing now") from None


def sign_with_ring(
    claims: Mapping[str, Any], ring: KeyRing, now: datetime, *, allow_http_loopback: bool = False
) -> str:
    """Sign an entity statement with the ring's active federation key."""
    key = active_key(ring, now)
    try:
        return sign_entity_statement(claims, key, allow_http_loopback=allow_http_loopback)
    except StatementError as exc:  # e.g. the active key is held compromised from a later instant
        raise EntityConfigurationError(f"this entity cannot sign the statement: {exc.detail}") from None


def historical_key_entries(ring: KeyRing) -> list[dict[str, Any]]:
    """The §8.7.2 entries of the ring's retired and compromised keys (keys still current
    are not history; a key never activated never signed anything)."""
    entries: list[dict[str, Any]] = []
    for record in ring.records:
        if record.activated is None or (record.retired is None and record.compromised_from is None):
            continue
        ends = [t for t in (record.retired, record.compromised_from) if t is not None]
        compromised = record.compromised_from
        entries.append(
            historical_key(
                record.public_key,
                expires_at=min(ends),
                issued_at=record.activated,
                revoked_at=compromised,
                reason=COMPROMISED if compromised is not None else None,
            )
        )
    return entries


def historical_keys(
    entity_id: str, federation_ring: KeyRing, now: datetime, *, allow_http_loopback: bool = False
) -> str | None:
    """The signed historical keys JWK Set of ``entity_id`` (§8.7.2), or None while the
    entity has no retired or revoked federation key (a JWK Set is never empty)."""
    entries = historical_key_entries(federation_ring)
    if not entries:
        return None
    key = active_key(federation_ring, now)
    return sign_historical_keys(entity_id, now, entries, key, allow_http_loopback=allow_http_loopback)
