"""The registry's own entity type in federation metadata, and what a verifier learns
from it (pure).

A provincial node's entity configuration carries, under ``yrd_credential_issuer``
(an entity type of this federation, OpenID Federation 1.0 §5.1 lets a federation define
its own), its ``did:web``, province and names, its credential-signing keys with their
whole history (``verification_methods``: created, activated, retired, compromised-from,
as the node's key ring publishes them), the base URL of its status lists and its
endpoints. The node signs that with its federation key; the trust anchor vouches for
the federation key in its subordinate statement and, through ``metadata_policy``
``value`` operators, fixes what the member cannot claim for itself: its DID, province
and **authorisations** (评审权: which credential types it may issue, from when until
when, withdrawals included). ``subset_of`` limits the credential types it may list.

So a verifier that holds a valid trust chain for a node knows, with the anchor's word
for it, which keys signed that node's credentials at which instants and what the node
was authorised to issue at each instant: :class:`IssuerProfile`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from registry.federation.errors import FederationError
from registry.signing.data_integrity import parse_datetime
from registry.signing.errors import KeyMaterialError, SigningError
from registry.signing.keyring import KeyRing

ISSUER_ENTITY_TYPE = "yrd_credential_issuer"
PROVINCES = {
    "31": ("上海市", "Shanghai"),
    "32": ("江苏省", "Jiangsu"),
    "33": ("浙江省", "Zhejiang"),
    "34": ("安徽省", "Anhui"),
}


class IssuerMetadataError(FederationError):
    slug = "bad-issuer-metadata"
    title = "Credential issuer metadata is not acceptable"


def _instant_text(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Authorisation:
    """The anchor's word that a member may issue credentials of ``scope`` (a catalogue
    code such as ``ENG-ASSOCIATE_SENIOR``, a series ``ENG-*``, or ``*``) from
    ``valid_from`` until ``valid_until`` (exclusive; None: open). A withdrawal ends the
    period; it never removes it, so what was issued while it held stays authorised."""

    scope: str
    valid_from: datetime
    valid_until: datetime | None = None

    def covers(self, code: str, instant: datetime) -> bool:
        series = self.scope.endswith("-*") and code.startswith(self.scope[:-1])
        if self.scope not in ("*", code) and not series:
            return False
        return self.valid_from <= instant and (self.valid_until is None or instant < self.valid_until)

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "validFrom": _instant_text(self.valid_from),
            "validUntil": _instant_text(self.valid_until),
        }

    @classmethod
    def from_json(cls, value: Any) -> Authorisation:
        if not isinstance(value, Mapping) or not isinstance(value.get("scope"), str):
            raise IssuerMetadataError("an authorisation is an object with a scope")
        try:
            start = parse_datetime(value.get("validFrom"), "validFrom")
            end_text = value.get("validUntil")
            end = None if end_text is None else parse_datetime(end_text, "validUntil")
        except SigningError as exc:
            raise IssuerMetadataError(f"authorisation of {value['scope']!r}: {exc.detail}") from None
        if end is not None and end <= start:
            raise IssuerMetadataError(f"authorisation of {value['scope']!r} ends before it starts")
        return cls(value["scope"], start, end)


def issuer_metadata(
    *,
    did: str,
    province: str,
    base_url: str,
    key_records: Sequence[Mapping[str, Any]],
    credential_types: Iterable[str],
    name: str | None = None,
    name_en: str | None = None,
) -> dict[str, Any]:
    """What a node says of itself under :data:`ISSUER_ENTITY_TYPE` (``name``: the
    issuing department, e.g. 上海市人力资源和社会保障局)."""
    province_zh, province_en = PROVINCES[province]
    base = base_url.rstrip("/")
    return {
        "did": did,
        "province": province,
        "name": name or f"{province_zh}人力资源和社会保障厅",
        "name#en": name_en or f"{province_en} Department of Human Resources and Social Security",
        "verification_methods": [dict(r) for r in key_records],
        "credential_types": sorted(set(credential_types)),
        "status_list_base": f"{base}/status/",
        "verification_endpoint": f"{base}/v1/verifications",
        "catalogue_endpoint": f"{base}/v1/catalogue",
        "recognition_policy_endpoint": f"{base}/federation/recognition-policy",
    }


def member_policy(
    *, did: str, province: str, authorisations: Sequence[Authorisation], allowed_types: Iterable[str]
) -> dict[str, Any]:
    """The anchor's ``metadata_policy`` for a member (§6.1): what the member cannot say
    for itself."""
    return {
        ISSUER_ENTITY_TYPE: {
            "did": {"value": did, "essential": True},
            "province": {"value": province, "essential": True},
            "authorisations": {"value": [a.to_json() for a in authorisations]},
            "credential_types": {"subset_of": sorted(set(allowed_types))},
        }
    }


@dataclass(frozen=True)
class IssuerProfile:
    """A federation member as its trust chain establishes it (picklable: it travels to
    the verification worker processes inside ``Trust``)."""

    entity_id: str
    did: str
    province: str
    name: str
    name_en: str
    key_records: tuple[tuple[tuple[str, Any], ...], ...]
    authorisations: tuple[Authorisation, ...]
    status_list_base: str
    expires_at: datetime
    trust_anchor: str

    def ring(self) -> KeyRing:
        return _ring(self.key_records)

    def authorisation_for(self, code: str, instant: datetime) -> Authorisation | None:
        return next((a for a in self.authorisations if a.covers(code, instant)), None)

    @property
    def label(self) -> str:
        """How a report names the member: 江苏省 (32)."""
        return f"{PROVINCES.get(self.province, (self.name,))[0]} ({self.province})"


@lru_cache(maxsize=64)
def _ring(records: tuple[tuple[tuple[str, Any], ...], ...]) -> KeyRing:
    return KeyRing.from_public_records([dict(r) for r in records])


def profile_from_metadata(
    entity_id: str, metadata: Mapping[str, Any], expires_at: datetime, trust_anchor: str
) -> IssuerProfile:
    """The profile of ``entity_id`` from its resolved metadata (after the chain's policy
    was applied). Raises :class:`IssuerMetadataError` when anything is missing or wrong:
    a verifier must not guess keys or authorisations."""
    issuer = metadata.get(ISSUER_ENTITY_TYPE)
    if not isinstance(issuer, Mapping):
        raise IssuerMetadataError(f"{entity_id} is not a credential issuer of this federation")
    did, province = issuer.get("did"), issuer.get("province")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise IssuerMetadataError(f"{entity_id} has no DID in its metadata")
    if province not in PROVINCES:
        raise IssuerMetadataError(f"{entity_id} names no province of this federation")
    records = issuer.get("verification_methods")
    if not isinstance(records, list) or not records or not all(isinstance(r, Mapping) for r in records):
        raise IssuerMetadataError(f"{entity_id} publishes no verification methods")
    try:
        key_records = tuple(tuple(sorted(dict(r).items())) for r in records)
        _ring(key_records)
    except (KeyMaterialError, SigningError, TypeError) as exc:
        detail = exc.detail if isinstance(exc, SigningError) else str(exc)
        raise IssuerMetadataError(f"{entity_id} publishes unusable verification methods: {detail}") from None
    authorisations = issuer.get("authorisations", [])
    if not isinstance(authorisations, list):
        raise IssuerMetadataError(f"{entity_id}: authorisations is not a list")
    status_base = issuer.get("status_list_base")
    if not isinstance(status_base, str) or not status_base.startswith(entity_id.rstrip("/") + "/"):
        raise IssuerMetadataError(f"{entity_id}: its status lists must be under its own entity identifier")
    name = issuer.get("name")
    name_en = issuer.get("name#en")
    return IssuerProfile(
        entity_id=entity_id,
        did=did,
        province=province,
        name=name if isinstance(name, str) else PROVINCES[province][0],
        name_en=name_en if isinstance(name_en, str) else PROVINCES[province][1],
        key_records=key_records,
        authorisations=tuple(Authorisation.from_json(a) for a in authorisations),
        status_list_base=status_base,
        expires_at=expires_at,
        trust_anchor=trust_anchor,
    )
