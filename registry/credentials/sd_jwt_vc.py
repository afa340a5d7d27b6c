"""This registry's credentials as SD-JWT VCs (``application/dc+sd-jwt``), and an SD-JWT
VC read back into the shape the verification pipeline checks (pure).

The claims are the credential's, flat as SD-JWT VC has them (draft-ietf-oauth-sd-jwt-vc
§3.2.2): ``iss`` (the node's DID), ``iat`` (when the file was signed), ``nbf``/``exp``
(``validFrom``/``validUntil``), ``vct`` (the registry's type of the credential), ``cnf``
(the holder's key, for key binding), ``status`` (a Token Status List reference: the
credential's index in its revocation list, read through ``/status/token/<n>``, where a
suspension shows as SUSPENDED), and the type of title or qualification with the issuing
province, which are what the credential is about and stay plain. What identifies the
holder or the award is selectively disclosable: ``jti`` (the credential id), ``sub``,
``name``, ``holderCommitment``, ``certificateNumber``, ``specialty``,
``evaluationCommittee``, ``awardedOn``. Decoy digests pad ``_sd`` to a fixed length, so
the number of hidden claims says nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from registry.credentials.type_metadata import VCT_BASE, document_bytes, integrity, integrity_matches
from registry.signing import sd_jwt
from registry.signing.data_integrity import format_datetime, parse_datetime
from registry.signing.errors import TokenFormatError
from registry.signing.keys import Ed25519PrivateKey

MEDIA_TYPE = "application/dc+sd-jwt"
MEDIA_TYPES = frozenset({MEDIA_TYPE, "application/vc+sd-jwt"})
#: vct of each credential type of the registry (the VC type and its schema's name, as
#: ``issuance.CREDENTIAL_TYPES`` has them; this module stays free of the database), and back.
VCT = {
    "ProfessionalTitleCredential": f"{VCT_BASE}professional-title/v1",
    "ProfessionalQualificationCredential": f"{VCT_BASE}professional-qualification/v1",
    "VocationalSkillCredential": f"{VCT_BASE}vocational-skill/v1",
}
VC_TYPE_OF = {vct: vc_type for vc_type, vct in VCT.items()}
DISCLOSABLE = (
    "jti",
    "sub",
    "name",
    "holderCommitment",
    "certificateNumber",
    "specialty",
    "evaluationCommittee",
    "awardedOn",
)
#: ``_sd`` always holds this many digests (real ones and decoys).
SD_DIGESTS = 12
STATUS_ENTRY = "TokenStatusListEntry"


def token_list_url(revocation_list_url: str) -> str:
    """The Token Status List of a revocation list: ``…/status/revocation/3`` →
    ``…/status/token/3``."""
    head, _, number = revocation_list_url.rpartition("/revocation/")
    return f"{head}/token/{number}"


def _stamp(value: str, name: str) -> int:
    return int(parse_datetime(value, name).timestamp())


def claims_of(
    document: Mapping[str, Any], now: datetime, holder_jwk: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The claims of an SD-JWT VC of a credential issued by this node (its VC JSON)."""
    subject = document["credentialSubject"]
    vc_type = next(t for t in document["type"] if t in VCT)
    issuer = document["issuer"]
    claims: dict[str, Any] = {
        "iss": issuer["id"],
        "iat": int(now.timestamp()),
        "nbf": _stamp(document["validFrom"], "validFrom"),
        "vct": VCT[vc_type],
        # Never disclosable (sd_jwt.NEVER_DISCLOSED): the type's metadata as every node serves it.
        "vct#integrity": integrity(VCT[vc_type]),
        "issuerName": issuer.get("name"),
        "jti": document["id"],
        "sub": subject.get("id"),
    }
    if "validUntil" in document:
        claims["exp"] = _stamp(document["validUntil"], "validUntil")
    for name, value in subject.items():
        if name != "id":
            claims[name] = value
    for entry in document.get("credentialStatus", []):
        if entry.get("statusPurpose") == "revocation":
            claims["status"] = {
                "status_list": {
                    "idx": int(entry["statusListIndex"]),
                    "uri": token_list_url(entry["statusListCredential"]),
                }
            }
    if holder_jwk is not None:
        # Only the key's public members: the issuer signs nothing else the holder sent.
        claims["cnf"] = {"jwk": sd_jwt.public_jwk(sd_jwt.public_key_of_jwk(holder_jwk))}
    return {k: v for k, v in claims.items() if v is not None}


def issue(
    document: Mapping[str, Any],
    key: Ed25519PrivateKey,
    kid: str,
    now: datetime,
    holder_jwk: Mapping[str, Any] | None = None,
) -> str:
    """An SD-JWT VC of ``document`` signed now with ``key`` (``kid``: the absolute DID URL
    of its verification method), bound to ``holder_jwk`` when given."""
    if holder_jwk is not None:
        sd_jwt.public_key_of_jwk(holder_jwk)  # refuse an unusable key before signing
    claims = claims_of(document, now, holder_jwk)
    hidden = [name for name in DISCLOSABLE if name in claims]
    payload, disclosures = sd_jwt.conceal(claims, hidden, decoys=SD_DIGESTS - len(hidden))
    return sd_jwt.issue({"typ": "dc+sd-jwt", "kid": kid}, payload, disclosures, key)


def _iso(stamp: Any, name: str) -> str:
    if type(stamp) not in (int, float):
        raise TokenFormatError(f"{name} is not a NumericDate")
    try:
        instant = datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, ValueError, OSError):
        raise TokenFormatError(f"{name} is not a representable instant") from None
    return format_datetime(instant)


def to_document(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The verified claims of an SD-JWT VC in the shape of a VC JSON document, for the
    checks after the signature (issuer, key, authorisation, validity, status). Holds
    only what the issuer signed plain and what the holder disclosed."""
    vct = claims.get("vct")
    document: dict[str, Any] = {
        "type": ["VerifiableCredential", *([VC_TYPE_OF[vct]] if vct in VC_TYPE_OF else [])],
        "issuer": {"id": claims.get("iss")},
        "credentialSubject": {},
    }
    if isinstance(claims.get("issuerName"), Mapping):
        document["issuer"]["name"] = claims["issuerName"]
    if "jti" in claims:
        document["id"] = claims["jti"]
    if "nbf" in claims:
        document["validFrom"] = _iso(claims["nbf"], "nbf")
    if "exp" in claims:
        document["validUntil"] = _iso(claims["exp"], "exp")
    subject = document["credentialSubject"]
    if "sub" in claims:
        subject["id"] = claims["sub"]
    reserved = {
        "iss",
        "iat",
        "nbf",
        "exp",
        "vct",
        "cnf",
        "status",
        "jti",
        "sub",
        "issuerName",
        "vct#integrity",
    }
    for name, value in claims.items():
        if name not in reserved:
            subject[name] = value
    reference = claims.get("status")
    if isinstance(reference, Mapping) and isinstance(reference.get("status_list"), Mapping):
        listed = reference["status_list"]
        document["credentialStatus"] = [
            # ``issuer``: whose list it must be (a member's list is read only for its own credentials)
            {
                "type": STATUS_ENTRY,
                "uri": listed.get("uri"),
                "idx": listed.get("idx"),
                "issuer": claims.get("iss"),
            }
        ]
    return document


def signed_at(claims: Mapping[str, Any]) -> datetime | None:
    stamp = claims.get("iat")
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        return None
    try:
        return datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, ValueError, OSError):
        return None


def shape_problems(claims: Mapping[str, Any]) -> list[str]:
    """What is wrong with the claims of an SD-JWT VC of the registry's types (an empty
    list when nothing): a known ``vct``, the type of title or qualification, the
    disclosed claims as strings, a Token Status List reference."""
    problems: list[str] = []
    vct = claims.get("vct")
    if vct not in VC_TYPE_OF:
        problems.append(f"vct {str(vct)[:80]!r} is not one of the registry's")
    elif "vct#integrity" in claims:
        stated = claims["vct#integrity"]
        matches = integrity_matches(stated, document_bytes(vct)) if isinstance(stated, str) else None
        if matches is None:
            problems.append("vct#integrity is not integrity metadata (W3C SRI: sha256-, sha384- or sha512-)")
        elif not matches:
            problems.append(f"vct#integrity does not match the registry's Type Metadata of {vct}")
    kind = "title" if "title" in claims else "qualification"
    typ = claims.get(kind)
    if not isinstance(typ, Mapping) or not isinstance(typ.get("code"), str):
        problems.append("the title or qualification (with its code) is missing")
    for name in DISCLOSABLE[2:]:
        if name in claims and not isinstance(claims[name], str):
            problems.append(f"{name} is not a string")
    reference = claims.get("status")
    listed = reference.get("status_list") if isinstance(reference, Mapping) else None
    if (
        not isinstance(listed, Mapping)
        or type(listed.get("idx")) is not int
        or not isinstance(listed.get("uri"), str)
    ):
        problems.append("status is not a Token Status List reference (status_list with idx and uri)")
    return problems
