"""W3C Data Integrity proofs with the ``eddsa-jcs-2022`` cryptosuite.

Spec: Data Integrity EdDSA Cryptosuites v1.0, §3.3 (eddsa-jcs-2022), on top of
Verifiable Credential Data Integrity 1.0, §4.2 Add Proof and §4.3 Verify Proof.
Comments number the steps as the specification does.

``add_proof`` secures a document. ``verify_proof`` runs the specification's proof
verification; ``verify_issuer_proof`` adds the Verifiable Credentials rule that the
verification method is controlled by the credential's issuer. Both raise a
:class:`VerificationError` subclass on any failure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeGuard

from cryptography.exceptions import InvalidSignature

from registry.signing.did import VerificationMethod, VerificationMethodResolver
from registry.signing.encoding import b58_decode, b58_encode
from registry.signing.errors import (
    CanonicalizationError,
    EncodingError,
    InvalidSignatureError,
    IssuerMismatchError,
    ProofConfigurationError,
)
from registry.signing.jcs import canonicalize
from registry.signing.keyring import require_aware
from registry.signing.keys import Ed25519PrivateKey

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)


class VerifiedProof(NamedTuple):
    """What a successful verification established (never built on failure)."""

    verification_method: VerificationMethod
    created: datetime | None
    proof_purpose: str


def format_datetime(instant: datetime) -> str:
    """XML Schema dateTimeStamp in UTC with second precision, as VCs use."""
    return require_aware(instant).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_DATE_TIME_STAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-](?:0[0-9]|1[0-4]):[0-9]{2})"
)


def parse_datetime(value: Any, what: str) -> datetime:
    """An XML Schema dateTimeStamp (``2026-11-27T08:00:00Z``, offsets up to ±14:00);
    other ISO 8601 spellings Python would accept (week dates, basic format) are not."""
    if not isinstance(value, str) or not _DATE_TIME_STAMP.fullmatch(value):
        raise ProofConfigurationError(f"{what} is not an XML Schema dateTimeStamp")
    try:
        instant = datetime.fromisoformat(value)
        instant.astimezone(UTC)  # out of range once moved to UTC (year 1 / 9999)
    except (ValueError, OverflowError):
        raise ProofConfigurationError(f"{what} is not a valid date-time") from None
    return instant


def _hash_data(document: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    # §3.3.4 Hashing: SHA-256(canonical proof config) || SHA-256(canonical document).
    try:
        config_hash = hashlib.sha256(canonicalize(proof_config)).digest()
        document_hash = hashlib.sha256(canonicalize(document)).digest()
    except CanonicalizationError as exc:
        raise ProofConfigurationError(f"document cannot be canonicalized: {exc.detail}") from None
    return config_hash + document_hash


def add_proof(
    document: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """Return a copy of ``document`` with an eddsa-jcs-2022 ``proof`` (§3.3.1)."""
    if not _is_object(document):
        raise ProofConfigurationError("only a JSON object can be secured")
    if "proof" in document:
        raise ProofConfigurationError("document already has a proof (proof sets are not made here)")
    # §3.3.5 Proof Configuration: type, cryptosuite, created, verificationMethod,
    # proofPurpose; "@context" copied from the document when it has one.
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": format_datetime(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in document:
        proof["@context"] = document["@context"]
    # §3.3.3 Transformation (JCS) and §3.3.4 Hashing, then §3.3.6 Proof Serialization.
    signature = private_key.sign(_hash_data(document, proof))
    proof["proofValue"] = "z" + b58_encode(signature)
    return {**document, "proof": proof}


def verify_proof(
    secured: Mapping[str, Any],
    resolver: VerificationMethodResolver,
    now: datetime,
    expected_purpose: str = "assertionMethod",
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> VerifiedProof:
    """Verify the single eddsa-jcs-2022 proof of ``secured`` (§3.3.2, DI §4.3)."""
    require_aware(now)
    if not _is_object(secured):
        raise ProofConfigurationError("secured document must be a JSON object")
    # DI §4.3 step 1-2: the proof and the unsecured document.
    proof = secured.get("proof")
    if isinstance(proof, list):
        raise ProofConfigurationError("proof sets and chains are not accepted; expected one proof")
    if not _is_object(proof):
        raise ProofConfigurationError("document has no proof")
    unsecured = {k: v for k, v in secured.items() if k != "proof"}
    # step 3: the proof must be of a type and cryptosuite this verifier implements.
    if proof.get("type") != PROOF_TYPE:
        raise ProofConfigurationError(f"proof type must be {PROOF_TYPE}")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofConfigurationError(f"cryptosuite must be {CRYPTOSUITE}")
    # step 4: the purpose must be the one the verifier expects.
    if proof.get("proofPurpose") != expected_purpose:
        raise ProofConfigurationError(f"proof purpose must be {expected_purpose}")
    # step 5: created, when present, is a dateTimeStamp not in the future.
    created = None
    if "created" in proof:
        created = parse_datetime(proof["created"], "proof created")
        if created > now + max_clock_skew:
            raise ProofConfigurationError("proof was created in the future")
    if "expires" in proof and parse_datetime(proof["expires"], "proof expires") <= now:
        raise ProofConfigurationError("proof has expired")
    proof_value = proof.get("proofValue")
    if not isinstance(proof_value, str) or not proof_value.startswith("z"):
        raise ProofConfigurationError("proofValue must be a base58btc multibase string")
    try:
        signature = b58_decode(proof_value[1:])
    except EncodingError:
        raise ProofConfigurationError("proofValue is not base58btc") from None
    if len(signature) != 64:
        raise InvalidSignatureError("an Ed25519 signature is 64 bytes")
    proof_options = {k: v for k, v in proof.items() if k != "proofValue"}
    # eddsa-jcs-2022 §3.3.2 step 4 lets the document's @context merely *start with*
    # the proof's @context and hashes the proof's. This verifier is stricter: the two
    # must be equal, so a context appended after signing (which could redefine terms
    # for a JSON-LD reader) is a change to the credential and fails.
    if "@context" in proof_options and proof_options["@context"] != unsecured.get("@context"):
        raise ProofConfigurationError("document @context differs from the proof @context")
    # step 6: the verification method, and that its controller authorises it for the purpose.
    vm_id = proof.get("verificationMethod")
    if not isinstance(vm_id, str):
        raise ProofConfigurationError("proof has no verificationMethod")
    method = resolver.resolve(vm_id)
    if expected_purpose not in method.relationships:
        raise IssuerMismatchError(
            f"verification method is not listed under {expected_purpose} by its controller"
        )
    # steps 7-9: transform, hash and verify (§3.3.3, §3.3.4, §3.3.7).
    try:
        method.public_key.verify(signature, _hash_data(unsecured, proof_options))
    except InvalidSignature:
        raise InvalidSignatureError("eddsa-jcs-2022 signature does not verify") from None
    return VerifiedProof(method, created, expected_purpose)


def _is_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return type(value) is dict or isinstance(value, Mapping)


def issuer_id(credential: Mapping[str, Any]) -> str:
    issuer = credential.get("issuer")
    if _is_object(issuer):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or not issuer:
        raise ProofConfigurationError("credential has no issuer id")
    return issuer


def verify_issuer_proof(
    credential: Mapping[str, Any],
    resolver: VerificationMethodResolver,
    now: datetime,
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> VerifiedProof:
    """:func:`verify_proof` for ``assertionMethod`` and, as VC Data Model 2.0 asks,
    a verification method controlled by the credential's issuer."""
    if not _is_object(credential):
        raise ProofConfigurationError("credential must be a JSON object")
    issuer = issuer_id(credential)
    verified = verify_proof(credential, resolver, now, "assertionMethod", max_clock_skew)
    if verified.verification_method.controller != issuer:
        raise IssuerMismatchError(
            f"verification method is controlled by {verified.verification_method.controller}, "
            f"not by the issuer {issuer}"
        )
    return verified
