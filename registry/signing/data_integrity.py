"""W3C Data Integrity proofs with the ``eddsa-jcs-2022`` and ``eddsa-rdfc-2022``
cryptosuites.

Spec: Data Integrity EdDSA Cryptosuites v1.0, §3.3 (eddsa-jcs-2022) and §3.2
(eddsa-rdfc-2022), on top of Verifiable Credential Data Integrity 1.0, §4.2 Add Proof
and §4.3 Verify Proof. Comments number the steps as the specification does.

``add_proof`` secures a document (the registry issues eddsa-jcs-2022; eddsa-rdfc-2022
is made for tests and benchmarks). ``verify_proof`` runs the specification's proof
verification and dispatches on the proof's ``cryptosuite``; ``verify_issuer_proof``
adds the Verifiable Credentials rule that the verification method is controlled by the
credential's issuer. Both raise a :class:`VerificationError` subclass on any failure
(:class:`UnsupportedProofError` for a proof type or cryptosuite this verifier does not
implement). ``verify_proof_set`` verifies every proof of a proof set or chain (Data
Integrity 1.0 §2.1.2, §4.5) and answers one :class:`ProofOutcome` per proof.

eddsa-rdfc-2022 canonicalizes the JSON-LD meaning of the document (RDFC-1.0), so it
needs the document's contexts: the caller passes the pinned ones
(:class:`registry.signing.rdfc.PinnedContexts`); none is ever fetched, and without them
such a proof is refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeGuard

from cryptography.exceptions import InvalidSignature

from registry.signing.did import VerificationMethod, VerificationMethodResolver
from registry.signing.encoding import b58_decode, b58_encode
from registry.signing.errors import (
    CanonicalizationError,
    EncodingError,
    InvalidSignatureError,
    IssuerMismatchError,
    ProofConfigurationError,
    ResolutionError,
    SigningError,
    UnknownVerificationMethodError,
)
from registry.signing.jcs import canonicalize
from registry.signing.keyring import require_aware
from registry.signing.keys import Ed25519PrivateKey

if TYPE_CHECKING:
    from registry.signing.rdfc import PinnedContexts

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
CRYPTOSUITE_RDFC = "eddsa-rdfc-2022"
#: The cryptosuites ``verify_proof`` checks (``add_proof`` makes either).
CRYPTOSUITES = (CRYPTOSUITE, CRYPTOSUITE_RDFC)
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
#: The most proofs one document may carry here: each costs a signature check (and an
#: RDFC canonicalization), so an untrusted set is bounded.
MAX_PROOFS = 8


class UnsupportedProofError(ProofConfigurationError):
    """The proof's type or cryptosuite is not one this verifier implements (Data
    Integrity 1.0 §4.4 step 3): the proof is neither verified nor refuted here."""

    slug = "unsupported-proof"
    title = "Proof type or cryptosuite not supported"


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


def _hash_data_rdfc(
    document: Mapping[str, Any], proof_options: Mapping[str, Any], contexts: PinnedContexts | None
) -> bytes:
    if contexts is None:
        raise ProofConfigurationError(
            f"{CRYPTOSUITE_RDFC} needs the JSON-LD contexts, and none are pinned for this check"
        )
    # §3.2.5 Proof Configuration: the options with the document's @context.
    proof_config = {**proof_options, "@context": document.get("@context")}
    # §3.2.3 Transformation (RDFC-1.0) and §3.2.4 Hashing: SHA-256(canonical proof
    # configuration) || SHA-256(canonical document).
    config_hash = hashlib.sha256(contexts.canonicalize(proof_config).encode("utf-8")).digest()
    document_hash = hashlib.sha256(contexts.canonicalize(document).encode("utf-8")).digest()
    return config_hash + document_hash


def add_proof(
    document: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
    proof_purpose: str = "assertionMethod",
    *,
    cryptosuite: str = CRYPTOSUITE,
    contexts: PinnedContexts | None = None,
) -> dict[str, Any]:
    """Return a copy of ``document`` with an eddsa-jcs-2022 ``proof`` (§3.3.1), or with
    ``cryptosuite=CRYPTOSUITE_RDFC`` and the pinned ``contexts`` an eddsa-rdfc-2022 one
    (§3.2.1)."""
    if not _is_object(document):
        raise ProofConfigurationError("only a JSON object can be secured")
    if "proof" in document:
        raise ProofConfigurationError("document already has a proof (proof sets are not made here)")
    if cryptosuite not in CRYPTOSUITES:
        raise ProofConfigurationError(f"cryptosuite must be one of {', '.join(CRYPTOSUITES)}")
    # §3.3.5 / §3.2.5 Proof Configuration: type, cryptosuite, created,
    # verificationMethod, proofPurpose.
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": cryptosuite,
        "created": format_datetime(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if cryptosuite == CRYPTOSUITE_RDFC:
        # §3.2.1: the proof is the options; the configuration hashed adds the
        # document's @context (§3.2.5), which the proof does not repeat.
        hash_data = _hash_data_rdfc(document, proof, contexts)
    else:
        # "@context" copied from the document when it has one.
        if "@context" in document:
            proof["@context"] = document["@context"]
        # §3.3.3 Transformation (JCS) and §3.3.4 Hashing.
        hash_data = _hash_data(document, proof)
    # Then §3.3.6 / §3.2.6 Proof Serialization.
    signature = private_key.sign(hash_data)
    proof["proofValue"] = "z" + b58_encode(signature)
    return {**document, "proof": proof}


def verify_proof(
    secured: Mapping[str, Any],
    resolver: VerificationMethodResolver,
    now: datetime,
    expected_purpose: str = "assertionMethod",
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    *,
    contexts: PinnedContexts | None = None,
) -> VerifiedProof:
    """Verify the single proof of ``secured`` (DI §4.4): eddsa-jcs-2022 (§3.3.2) or,
    given the pinned JSON-LD ``contexts``, eddsa-rdfc-2022 (§3.2.2). A proof set is
    refused here; :func:`verify_proof_set` verifies those."""
    require_aware(now)
    if not _is_object(secured):
        raise ProofConfigurationError("secured document must be a JSON object")
    # DI §4.4 step 1-2: the proof and the unsecured document.
    proof = secured.get("proof")
    if isinstance(proof, list):
        raise ProofConfigurationError("proof sets and chains are not accepted; expected one proof")
    if not _is_object(proof):
        raise ProofConfigurationError("document has no proof")
    unsecured = {k: v for k, v in secured.items() if k != "proof"}
    return _verify_one(unsecured, proof, resolver, now, expected_purpose, max_clock_skew, contexts)


def _verify_one(
    unsecured: Mapping[str, Any],
    proof: Mapping[str, Any],
    resolver: VerificationMethodResolver,
    now: datetime,
    expected_purpose: str,
    max_clock_skew: timedelta,
    contexts: PinnedContexts | None,
) -> VerifiedProof:
    # step 3: the proof must be of a type and cryptosuite this verifier implements.
    if proof.get("type") != PROOF_TYPE:
        raise UnsupportedProofError(f"proof type must be {PROOF_TYPE}")
    cryptosuite = proof.get("cryptosuite")
    if cryptosuite not in CRYPTOSUITES:
        raise UnsupportedProofError(f"cryptosuite must be {' or '.join(CRYPTOSUITES)}")
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
    # eddsa-jcs-2022 §3.3.2 step 4 (and eddsa-rdfc-2022 §3.2.2 step 4) lets the
    # document's @context merely *start with* the proof's @context and hashes the
    # proof's. This verifier is stricter: the two must be equal, so a context appended
    # after signing (which could redefine terms for a JSON-LD reader) is a change to
    # the credential and fails.
    if "@context" in proof_options and proof_options["@context"] != unsecured.get("@context"):
        raise ProofConfigurationError("document @context differs from the proof @context")
    rdfc_hash = None
    if cryptosuite == CRYPTOSUITE_RDFC:
        # §3.2.3-§3.2.5 first: they need no I/O, so a document this verifier cannot
        # canonicalize (an unpinned context, an undefined term) fails before any
        # verification method is resolved.
        rdfc_hash = _hash_data_rdfc(unsecured, proof_options, contexts)
    # step 6: the verification method, and that its controller authorises it for the purpose.
    vm_id = proof.get("verificationMethod")
    if not isinstance(vm_id, str):
        raise ProofConfigurationError("proof has no verificationMethod")
    method = resolver.resolve(vm_id)
    if expected_purpose not in method.relationships:
        raise IssuerMismatchError(
            f"verification method is not listed under {expected_purpose} by its controller"
        )
    # steps 7-9: transform, hash and verify (§3.3.3, §3.3.4, §3.3.7; for
    # eddsa-rdfc-2022 §3.2.3, §3.2.4, §3.2.7).
    hash_data = rdfc_hash if rdfc_hash is not None else _hash_data(unsecured, proof_options)
    try:
        method.public_key.verify(signature, hash_data)
    except InvalidSignature:
        raise InvalidSignatureError(f"{cryptosuite} signature does not verify") from None
    return VerifiedProof(method, created, expected_purpose)


# --- proof sets and chains ----------------------------------------------------------------
#
# Data Integrity 1.0 §2.1.2 (Proof Sets and Proof Chains): ``proof`` may be a list. The
# proofs of a set are independent, each made over the unsecured document; a proof of a
# chain names the proofs before it in ``previousProof`` (an id or a list of ids) and is
# made over the document holding them. §4.5 (Verify Proof Sets and Chains) verifies each
# proof: for a chained one, over the document whose ``proof`` is the list of the proofs
# it names (step 3.3), which must all exist (step 3.2: else PROOF_VERIFICATION_ERROR);
# and "if cryptosuiteVerificationResult.verified is false, set
# combinedVerificationResult.verified to false" (step 6.1): one proof that does not
# verify makes the whole document unverified.

ProofResult = Literal["pass", "fail", "unknown"]


@dataclass(frozen=True)
class ProofOutcome:
    """One proof of a set or chain: ``pass`` (it verifies; ``verified`` says by whom),
    ``fail`` (it does not: altered, forged, malformed, or chained to a proof that is
    missing or fails), or ``unknown`` (it could not be checked here: a cryptosuite this
    verifier does not implement, a key it cannot resolve, or a chain to such a proof).
    ``error`` is why it did not pass."""

    index: int
    id: str | None
    cryptosuite: str | None
    verification_method: str | None
    result: ProofResult
    error: SigningError | None
    verified: VerifiedProof | None


class PreviousProofError(ProofConfigurationError):
    """A chained proof names a previous proof the document does not hold, or one that
    does not verify (Data Integrity 1.0 §4.5 step 3.2)."""

    slug = "previous-proof"
    title = "Previous proof missing or not verified"


class ProofChainCycleError(ProofConfigurationError):
    """Data Integrity 1.0 §4.5: a ``previousProof`` chain loops (PROOF_CHAIN_CYCLE_ERROR)."""

    slug = "proof-chain-cycle"
    title = "Proof chain cycle"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _previous_ids(proof: Mapping[str, Any]) -> list[str]:
    previous = proof.get("previousProof")
    if previous is None:
        return []
    if isinstance(previous, str):
        return [previous]
    if isinstance(previous, list) and previous and all(isinstance(p, str) for p in previous):
        return list(previous)
    raise ProofConfigurationError("previousProof must be a proof id or a list of proof ids")


def verify_proof_set(
    secured: Mapping[str, Any],
    resolver: VerificationMethodResolver,
    now: datetime,
    expected_purpose: str = "assertionMethod",
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    *,
    contexts: PinnedContexts | None = None,
) -> list[ProofOutcome]:
    """Verify every proof of a proof set or chain (Data Integrity 1.0 §4.5), each with
    its own cryptosuite, and answer one :class:`ProofOutcome` per proof, in order.
    Raises only when the set itself is unusable (not a non-empty list of at most
    :data:`MAX_PROOFS` objects, or proof ids that are not unique)."""
    require_aware(now)
    if not _is_object(secured):
        raise ProofConfigurationError("secured document must be a JSON object")
    proofs = secured.get("proof")
    if not isinstance(proofs, list) or not proofs:
        raise ProofConfigurationError("a proof set is a non-empty list of proofs")
    if len(proofs) > MAX_PROOFS:
        raise ProofConfigurationError(f"a proof set holds at most {MAX_PROOFS} proofs here")
    if not all(_is_object(p) for p in proofs):
        raise ProofConfigurationError("every proof of a proof set is a JSON object")
    ids = [_text(p.get("id")) for p in proofs]
    named = [i for i in ids if i is not None]
    if len(named) != len(set(named)):
        raise ProofConfigurationError("the proofs of a proof set have distinct ids")
    by_id = {i: n for n, i in enumerate(ids) if i is not None}
    unsecured = {k: v for k, v in secured.items() if k != "proof"}
    outcomes: list[ProofOutcome] = []
    previous_of: list[list[int]] = []
    for index, proof in enumerate(proofs):
        base = (index, ids[index], _text(proof.get("cryptosuite")), _text(proof.get("verificationMethod")))
        try:
            previous = _previous_ids(proof)
            missing = [p for p in previous if p not in by_id]
            if missing:
                raise PreviousProofError(
                    f"previousProof {_short(missing[0])} is not a proof of this document (DI §4.5 step 3.2)"
                )
            previous_of.append([by_id[p] for p in previous])
            # §4.5 step 3.3: a chained proof is verified over the document holding the
            # proofs it names; a proof of the set alone, over the unsecured document.
            document = {**unsecured, "proof": [proofs[by_id[p]] for p in previous]} if previous else unsecured
            verified = _verify_one(document, proof, resolver, now, expected_purpose, max_clock_skew, contexts)
        except SigningError as exc:
            if len(previous_of) == index:
                previous_of.append([])
            unknown = isinstance(exc, UnsupportedProofError) or (
                isinstance(exc, ResolutionError) and not isinstance(exc, UnknownVerificationMethodError)
            )
            outcomes.append(ProofOutcome(*base, "unknown" if unknown else "fail", exc, None))
            continue
        outcomes.append(ProofOutcome(*base, "pass", None, verified))
    # §4.5: a chained proof verifies only when every proof up its chain does; a cycle
    # is PROOF_CHAIN_CYCLE_ERROR.
    return [_through_chain(outcome, outcomes, previous_of) for outcome in outcomes]


def _through_chain(
    outcome: ProofOutcome, outcomes: list[ProofOutcome], previous_of: list[list[int]]
) -> ProofOutcome:
    if outcome.result != "pass" or not previous_of[outcome.index]:
        return outcome
    ancestors: set[int] = set()

    def visit(index: int, path: frozenset[int]) -> bool:
        """Collect the proofs up the chain; False on a cycle (at most MAX_PROOFS deep)."""
        for before in previous_of[index]:
            if before in path:
                return False
            ancestors.add(before)
            if not visit(before, path | {before}):
                return False
        return True

    error: SigningError
    if not visit(outcome.index, frozenset({outcome.index})):
        error = ProofChainCycleError("the proof chain loops back on itself (DI §4.5)")
        return replace(outcome, result="fail", error=error, verified=None)
    up = [outcomes[i] for i in sorted(ancestors)]
    failed = next((o for o in up if o.result == "fail"), None)
    if failed is not None:
        error = PreviousProofError(f"it chains to proof {failed.index + 1}, which does not verify")
        return replace(outcome, result="fail", error=error, verified=None)
    unchecked = next((o for o in up if o.result == "unknown"), None)
    if unchecked is not None:
        error = PreviousProofError(f"it chains to proof {unchecked.index + 1}, which could not be checked")
        return replace(outcome, result="unknown", error=error, verified=None)
    return outcome


def _short(value: str) -> str:
    return value if len(value) <= 64 else value[:61] + "..."


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
    *,
    contexts: PinnedContexts | None = None,
) -> VerifiedProof:
    """:func:`verify_proof` for ``assertionMethod`` and, as VC Data Model 2.0 asks,
    a verification method controlled by the credential's issuer."""
    if not _is_object(credential):
        raise ProofConfigurationError("credential must be a JSON object")
    issuer = issuer_id(credential)
    verified = verify_proof(credential, resolver, now, "assertionMethod", max_clock_skew, contexts=contexts)
    if verified.verification_method.controller != issuer:
        raise IssuerMismatchError(
            f"verification method is controlled by {verified.verification_method.controller}, "
            f"not by the issuer {issuer}"
        )
    return verified
