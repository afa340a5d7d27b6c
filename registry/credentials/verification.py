"""The verification pipeline: a presented credential (VC JSON with an eddsa-jcs-2022
proof, or a VC-JWT) in, a report out with each check as pass / fail / unknown and a
reason, and an overall verdict.

Checks, in order:
1. ``proof``      the signature verifies with the method it names.
2. ``issuer``     the issuer controls that method and is a node this one trusts.
3. ``key``        the key was valid for signing when the credential was signed.
4. ``validity``   now is within validFrom .. validUntil.
5. ``schema``     the credential conforms to the registry schema it names.
6. ``status``     no revocation or suspension bit is set.

Verdict: ``invalid`` when any check fails, else ``unknown`` when any check could not
be made, else ``valid``. Nothing is ever ``valid`` on a check that was not made.

What a presented document says of itself is untrusted until checks 1-3 pass (the
signature verifies, by a trusted issuer's key that was valid then): until then a
report gives no subject data (holder name, certificate number) at all, and names
the rest ``unverifiedClaims``.

Steps 1-5 are pure (:func:`examine`, safe to run in worker processes); step 6 needs
the node's status lists and runs where they are (:func:`finish`).

Each check also carries a stable ``code`` (one per distinct reason, kebab-case; see
:data:`MESSAGES`) and the parameters of its message. The English ``reason`` is for
logs and existing clients; the message people read is made at the edge, in the
language asked for (:mod:`registry.verifier`), from the English message id of the code
(gettext domain ``reports``). Parameters are plain text, or a :class:`Term` the edge
names in that language (an issuer's department, a reason code's label, a catalogue
type's name, a message id).

A credential may be presented enveloped (VC Data Model 2.0 §4.13.1): an
``EnvelopedVerifiableCredential`` whose ``id`` is a ``data:`` URL (RFC 2397) holding a
VC-JWT (``application/vc+jwt``, VC-JOSE-COSE §3.1.1); it is unwrapped and checked as a
VC-JWT. A credential may carry a proof set or chain (Data Integrity 1.0 §2.1.2): every
proof is verified, and the report lists each (:class:`ProofItem`); see
:func:`_examine_proof_set` for the rule.

A presentation adds two checks of its own (:func:`examine_presentation_proof`,
:func:`open_presentation`, :func:`holder_binding`): ``presentation`` (its proof, for
authentication, with the challenge and domain the verifier asked for; or the JWS of an
enveloped VP-JWT) and ``holderBinding`` (whoever that proof shows made the
presentation is the subject of every credential in it; ``not-applicable`` when it
holds none).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any, Literal, NamedTuple
from urllib.parse import unquote_to_bytes

from registry.contexts import pinned_contexts
from registry.credentials import schemas, sd_jwt_vc
from registry.credentials.status_list import Bitstring
from registry.errors import RegistryError
from registry.federation.metadata import IssuerProfile
from registry.signing import data_integrity, jcs, jose, sd_jwt
from registry.signing.data_integrity import (
    PreviousProofError,
    ProofChainCycleError,
    ProofOutcome,
    UnsupportedProofError,
)
from registry.signing.did import DidResolver, VerificationMethod, VerificationMethodResolver
from registry.signing.errors import (
    CanonicalizationError,
    InvalidSignatureError,
    IssuerMismatchError,
    KeyMaterialError,
    ResolutionError,
    SigningError,
    TokenFormatError,
    UnknownVerificationMethodError,
)
from registry.signing.keyring import KeyRing

Result = Literal["pass", "fail", "unknown"]
#: A check's result; ``not-applicable`` only for a check that has nothing to check (the
#: holder binding of a presentation that holds no credential), which never makes a
#: verdict or a verification pass or fail.
CheckResult = Literal["pass", "fail", "unknown", "not-applicable"]
NOT_APPLICABLE: CheckResult = "not-applicable"
Verdict = Literal["valid", "invalid", "unknown"]
CHECKS = ("proof", "issuer", "key", "authorisation", "validity", "schema", "status")
#: The checks that make a document's claims the issuer's own words.
AUTHENTICITY_CHECKS = ("proof", "issuer", "key")
#: What a report repeats of a document it did not show authentic: what the document
#: claims to be, never whom it claims to be about.
UNVERIFIED_CLAIM_MEMBERS = ("id", "type", "issuer", "credentialType", "validFrom", "validUntil")
MAX_CREDENTIAL_BYTES = 256 * 1024
#: How a message names the format of a presented credential.
_FORMAT_NAMES = {"vc": "VC JSON, eddsa-jcs-2022", "vc-jwt": "VC-JWT", "sd-jwt": "SD-JWT VC"}

#: Every check code with the English message id (gettext domain ``reports``) of what a
#: person reads; ``%(name)s`` placeholders are the check's parameters.
MESSAGES: dict[str, str] = {
    # proof
    "proof-malformed": (
        "The credential could not be read: it is not a well-formed VC JSON document or VC-JWT."
    ),
    "proof-key-not-issuers": "The proof names a key its issuer never had: the credential is not authentic.",
    "proof-key-unresolved": "The signing key could not be found, so the signature could not be checked.",
    "proof-signature-mismatch": (
        "The signature does not match the content: the credential was altered or not signed by its issuer."
    ),
    "proof-invalid": "The credential's proof is not valid.",
    "proof-verified": "The signature verifies (%(format)s).",
    "proof-sd-jwt-verified": (
        "The SD-JWT VC signature verifies and its %(count)s disclosures match; it was presented "
        "without the holder's key binding."
    ),
    "proof-sd-jwt-bound": (
        "The SD-JWT VC signature verifies, its %(count)s disclosures match, and the holder's "
        "key binding verifies."
    ),
    "proof-key-binding-missing": (
        "Key binding was asked for, but the credential is not an SD-JWT VC presented with the "
        "holder's key-binding JWT."
    ),
    "proof-key-binding-mismatch": (
        "The holder's key-binding JWT does not answer this request (another audience or nonce, or too old)."
    ),
    "proof-sd-jwt-invalid": (
        "The SD-JWT VC is not acceptable: its disclosures or key binding do not match what the issuer signed."
    ),
    "proof-unsupported": (
        "The credential is secured by %(cryptosuite)s, which this registry node cannot check."
    ),
    "proof-envelope-malformed": (
        "The enveloped credential could not be read: its data: URL is malformed or too large."
    ),
    "proof-envelope-unsupported": (
        "The enveloped credential is of a kind (%(media)s) this registry node cannot check."
    ),
    # proof sets and chains (Data Integrity 1.0 §2.1.2, §4.5)
    "proof-set-verified": (
        "The issuer's proof verifies (%(format)s) and no proof of the credential fails (%(count)s proofs)."
    ),
    "proof-set-failed": (
        "Proof %(index)s of %(count)s does not verify: the credential was altered or a proof is not genuine."
    ),
    "proof-set-no-issuer-proof": (
        "No proof by the credential's issuer verifies: the credential is not shown to be its issuer's."
    ),
    "proof-set-unverifiable": "None of the credential's proofs could be checked here.",
    "proof-set-malformed": "The credential's proof set is malformed.",
    # one proof of a credential (the report's ``proofs``)
    "proof-item-verified": "This proof verifies (%(cryptosuite)s), by a key of the issuer.",
    "proof-item-verified-other": ("This proof verifies (%(cryptosuite)s), but its key is not the issuer's."),
    "proof-item-signature-mismatch": "This proof's signature does not match the content.",
    "proof-item-key-not-controllers": "This proof names a key its controller never had.",
    "proof-item-key-unresolved": "This proof's key could not be found, so the proof could not be checked.",
    "proof-item-unsupported": "This proof uses %(cryptosuite)s, which this registry node cannot check.",
    "proof-item-purpose": "This proof's key is not one its controller uses for this purpose.",
    "proof-item-previous": "This proof chains to a proof that is missing or does not verify.",
    "proof-item-previous-unchecked": "This proof chains to a proof that could not be checked.",
    "proof-item-chain-cycle": "This proof's chain loops back on itself.",
    "proof-item-invalid": "This proof is not valid.",
    # issuer
    "issuer-mismatch": "The credential was not signed by the issuer it names.",
    "issuer-this-node": "Issued by %(issuer)s, the department of this registry node.",
    "issuer-federation-member": (
        "Issued by %(issuer)s, a member of the federation (its trust chain is valid until %(until)s)."
    ),
    "issuer-trusted": "Issued by %(issuer)s, an issuer this registry node trusts.",
    "issuer-untrusted": "The signature is valid, but its issuer is not one this registry trusts.",
    "issuer-unknown": "The issuer is not one whose trust can be established here.",
    # key
    "key-history-unknown": "No key history is known for this issuer.",
    "key-no-signing-time": "The credential does not say when it was signed.",
    "key-valid": "The signing key was valid when the credential was signed (%(at)s).",
    "key-invalid": "The signing key was not valid when the credential was signed.",
    # authorisation
    "authorisation-own-catalogue": "Issued under this node's own catalogue (the node is not federated).",
    "authorisation-unknown": "The trust anchor's authorisations of this issuer are not at hand.",
    "authorisation-status-list": "A status list, which %(issuer)s publishes for its own credentials.",
    "authorisation-no-type": "The credential names no catalogue type.",
    "authorisation-no-signing-time": "The credential does not say when it was signed.",
    "authorisation-not-granted": (
        "%(issuer)s was not authorised by the trust anchor to issue %(type)s at %(at)s."
    ),
    "authorisation-granted": (
        "%(issuer)s is authorised by the trust anchor to issue %(type)s (from %(from)s until %(until)s)."
    ),
    # validity
    "validity-not-yet": "Not valid before %(from)s.",
    "validity-expired": "Expired at %(until)s.",
    "validity-malformed": "The validity period is malformed.",
    "validity-current": "Valid from %(from)s until %(until)s.",
    # schema
    "schema-status-list": "A status list credential of the shape Bitstring Status List v1.0 requires.",
    "schema-status-list-invalid": (
        "A status list credential not of the shape Bitstring Status List v1.0 requires."
    ),
    "schema-undeclared": "The credential names no schema.",
    "schema-unknown": "The credential names a schema that is not one of the registry's.",
    "schema-nonconforming": "The credential does not conform to its schema (%(schema)s).",
    "schema-conforms": "The credential conforms to its schema (%(schema)s).",
    "schema-sd-jwt-conforms": "An SD-JWT VC of the registry's type %(vct)s.",
    "schema-sd-jwt-invalid": "Not an SD-JWT VC of the registry's types.",
    # status (made by the node's status reader, registry.credentials.status)
    "status-no-entry": "The credential has no status entry, so it cannot be revoked.",
    "status-entry-unsupported": "A status entry is not a BitstringStatusListEntry.",
    "status-token-list-foreign": (
        "The credential's status is in another node's token status list, which this node does not "
        "read yet, so the status is not known."
    ),
    "status-entry-malformed": "A status entry is malformed.",
    "status-list-not-found": "This node has no such status list.",
    "status-purpose-mismatch": "A status entry's purpose differs from its list's.",
    "status-index-out-of-range": "A status entry's index is beyond the end of its list.",
    "status-revoked": "Revoked: %(reason)s.",
    "status-suspended": "Suspended: %(reason)s.",
    "status-list-untrusted": "The status list is not one of a known federation member.",
    "status-list-unavailable": (
        "The issuer's status list is not at hand (it could not be fetched, or is too old), "
        "so the status is not known."
    ),
    "status-clear": "Neither revoked nor suspended.",
    # checks not made
    "not-checked-unreadable": "Not checked: the credential could not be read.",
    "not-checked-unauthentic": "Not checked: the credential is not authentic.",
    "not-checked-key-unresolved": "Not checked: the signature could not be checked.",
    "not-checked-issuer-mismatch": "Not checked: the issuer did not sign this credential.",
    # presentations
    "holder-binding-not-applicable": (
        "The presentation holds no credential: there is nothing to bind to its presenter."
    ),
}
#: Message ids of parameter values (:class:`Term` of kind ``msg``).
VALUE_MESSAGES = ("no start", "no end", "open-ended", "no reason given")

TermKind = Literal["msg", "issuer", "reason", "type"]


class Term(NamedTuple):
    """A message parameter named in the reader's language at the edge: ``msg`` (a message
    id), ``issuer`` (a DID: its department's name), ``reason`` (a status reason code:
    its label), ``type`` (a catalogue type code: its name)."""

    kind: TermKind
    value: str


#: A message parameter: (name, kind, value); kind ``text`` is shown as it is.
Param = tuple[str, str, str]


def params(**values: str | Term) -> tuple[Param, ...]:
    return tuple(
        (name, v.kind, v.value) if isinstance(v, Term) else (name, "text", v) for name, v in values.items()
    )


@dataclass(frozen=True)
class Check:
    name: str
    result: CheckResult
    reason: str
    #: Stable machine code of the reason (a key of :data:`MESSAGES`); empty for most
    #: presentation checks, which only the VC API answers (in its own terms).
    code: str = ""
    params: tuple[Param, ...] = ()

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "result": self.result, "reason": self.reason}


@dataclass(frozen=True)
class ProofItem:
    """One embedded proof of a credential, as the report lists it (picklable):
    ``index`` (from 0) and ``id`` (when the proof has one) say which; ``by_issuer``
    whether its verification method is controlled by the credential's issuer (known
    once it verified)."""

    index: int
    id: str | None
    cryptosuite: str | None
    verification_method: str | None
    result: Result
    reason: str
    code: str
    params: tuple[Param, ...] = ()
    by_issuer: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.id,
            "cryptosuite": self.cryptosuite,
            "verificationMethod": self.verification_method,
            "byIssuer": self.by_issuer,
            "result": self.result,
            "reason": self.reason,
        }


def is_authentic(checks: Sequence[Check]) -> bool:
    """Whether checks 1-3 all passed: the document is, as presented, what a trusted
    issuer signed with a key valid at the time."""
    passed = {c.name for c in checks if c.result == "pass"}
    return all(name in passed for name in AUTHENTICITY_CHECKS)


@dataclass
class Examination:
    """What :func:`examine` found (picklable): checks 1-5, and what status needs.

    ``unverified_claims`` is the summary of what the presented document says, whether
    or not it is authentic; ``subject_ids`` are the ``credentialSubject`` ids of a
    document whose signature verified (empty otherwise)."""

    format: str
    checks: list[Check]
    unverified_claims: dict[str, Any] | None = None
    status_entries: list[Any] = field(default_factory=list)
    subject_ids: tuple[str, ...] = ()
    #: What a person reads of the credential (type names in both languages, specialty,
    #: award date, committee, issuer); shown only when the credential is authentic.
    readable: dict[str, Any] | None = None
    #: Each embedded Data Integrity proof and its result (none for a VC-JWT).
    proofs: tuple[ProofItem, ...] = ()
    #: The media type of the data: URL the credential came in (VC Data Model 2.0
    #: §4.13.1), None when it was not enveloped.
    envelope: str | None = None
    #: An SD-JWT VC's key-binding JWT as verified (its signature by the holder's key and
    #: its sd_hash): ``aud``, ``nonce``, ``iat``; None without one.
    key_binding: dict[str, Any] | None = None


@dataclass(frozen=True)
class Report:
    verdict: Verdict
    format: str
    checks: list[Check]
    unverified_claims: dict[str, Any] | None
    subject_ids: tuple[str, ...] = ()
    readable: dict[str, Any] | None = None
    proofs: tuple[ProofItem, ...] = ()
    envelope: str | None = None
    key_binding: dict[str, Any] | None = None

    @property
    def authentic(self) -> bool:
        return is_authentic(self.checks)

    def ref(self, index: int | None = None) -> dict[str, Any]:
        """Which presented credential this report is of: its position among those
        presented (``index``, from 0, when there were several), its format, the media
        type of its data: URL when it was enveloped, and its ``id`` only when it is
        shown authentic (before that, the id is only what the document claims)."""
        claims = self.unverified_claims or {}
        credential_id = claims.get("id") if self.authentic else None
        return {
            "index": index,
            "id": credential_id if isinstance(credential_id, str) else None,
            "format": self.format,
            "mediaType": self.envelope,
        }

    def to_json(self) -> dict[str, Any]:
        """``credential`` holds the summary only when checks 1-3 passed; otherwise it
        is null and ``unverifiedClaims`` says what the document claims to be, without
        any of its subject data."""
        claims = self.unverified_claims
        authentic = self.authentic
        return {
            "verdict": self.verdict,
            "format": self.format,
            "checks": [c.to_json() for c in self.checks],
            "credential": claims if authentic else None,
            "unverifiedClaims": None if authentic or claims is None else _claimed_identity(claims),
            "proofs": [p.to_json() for p in self.proofs],
            "keyBinding": _key_binding_json(self.key_binding),
        }


def _key_binding_json(payload: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if payload is None:
        return None
    iat = payload.get("iat")
    issued = None
    if isinstance(iat, int | float) and not isinstance(iat, bool):
        try:
            issued = datetime.fromtimestamp(int(iat), UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, ValueError, OSError):
            issued = None
    return {
        "audience": ", ".join(sd_jwt.audiences(payload.get("aud"))) or None,
        "nonce": payload.get("nonce"),
        "issuedAt": issued,
    }


def _claimed_identity(claims: Mapping[str, Any]) -> dict[str, Any]:
    return {name: claims[name] for name in UNVERIFIED_CLAIM_MEMBERS if name in claims}


@dataclass(frozen=True)
class Trust:
    """What a verifier trusts: its own DID and key ring (public history, compromised
    keys included, so that the key check can tell when they went bad), the DIDs of the
    issuers it accepts, and the federation members its trust chains vouch for (each
    with its key history and authorisations; this node's own profile among them when
    it is federated)."""

    own_did: str
    ring_records: tuple[tuple[tuple[str, Any], ...], ...]
    trusted_issuers: frozenset[str]
    peers: tuple[IssuerProfile, ...] = ()
    #: Whether this node belongs to a federation (then the trust anchor's word on its
    #: own authorisations is needed for its own credentials too).
    federated: bool = False

    @classmethod
    def of(
        cls,
        own_did: str,
        ring: KeyRing,
        trusted: frozenset[str] = frozenset(),
        peers: Sequence[IssuerProfile] = (),
        federated: bool = False,
    ) -> Trust:
        records = tuple(tuple(sorted(r.items())) for r in ring.public_records())
        return cls(own_did, records, trusted | {own_did}, tuple(peers), federated)

    def ring(self) -> KeyRing:
        return _ring(self.ring_records)

    @cached_property
    def peer_by_did(self) -> dict[str, IssuerProfile]:
        return {p.did: p for p in self.peers}


@lru_cache(maxsize=16)
def _ring(records: tuple[tuple[tuple[str, Any], ...], ...]) -> KeyRing:
    return KeyRing.from_public_records([dict(r) for r in records])


class _Resolver:
    """Own methods from the key ring (whatever their state); did:key offline; other
    did:web cannot be resolved yet (federation will bring trust chains).

    The ring holds every key this node ever had, so a key id of its own DID that is
    not in the ring is not unknown: the node never had it (a failure, not ``unknown``)."""

    def __init__(self, trust: Trust) -> None:
        self.trust = trust
        self.did_key = DidResolver()

    def resolve(self, verification_method_id: str) -> VerificationMethod:
        if not isinstance(verification_method_id, str):
            raise ResolutionError("verification method id must be a string")
        did, _, kid = verification_method_id.partition("#")
        # This node's ring, or a member's as its trust chain vouches for it: either holds
        # every key its owner has had, so a key id it does not list was never theirs.
        peer = self.trust.peer_by_did.get(did)
        if did == self.trust.own_did:
            ring, owner, source = self.trust.ring(), "this node", "its key ring holds"
        elif peer is not None:
            ring, owner, source = peer.ring(), peer.label, "its trust chain lists"
        else:
            ring = None
        if ring is not None:
            try:
                record = ring.record(kid)
            except KeyMaterialError:
                raise UnknownVerificationMethodError(
                    f"{_short(verification_method_id)} names a key {owner} never had "
                    f"({source} every key it has had)"
                ) from None
            return VerificationMethod(
                verification_method_id, did, record.public_key, frozenset({"assertionMethod"})
            )
        if did.startswith("did:key:"):
            return self.did_key.resolve(verification_method_id)
        raise ResolutionError(f"{did} is not a federation member whose trust chain this node holds")


def _short(value: str) -> str:
    """An untrusted identifier for a reason, cut to a readable size."""
    return value if len(value) <= 96 else value[:93] + "..."


def _unknown_rest(checks: list[Check], reason: str, code: str) -> None:
    done = {c.name for c in checks}
    checks.extend(Check(n, "unknown", reason, code) for n in CHECKS if n not in done)


# --- enveloped credentials and presentations ------------------------------------------
#
# VC Data Model 2.0 §4.13.1 (Enveloped Verifiable Credentials) and §4.13.2 (Enveloped
# Verifiable Presentations): an object of type EnvelopedVerifiableCredential /
# EnvelopedVerifiablePresentation whose ``id`` is a ``data:`` URL (RFC 2397) holding a
# credential or presentation secured by an enveloping proof; VC-JOSE-COSE §3.1.1 and
# §3.1.2 register ``application/vc+jwt`` and ``application/vp+jwt`` for them. The URL is
# untrusted input: its size is bounded (the credential size limit, decoded) and any
# malformation is a failed check, never an error of the request.

ENVELOPED_CREDENTIAL = "EnvelopedVerifiableCredential"
ENVELOPED_PRESENTATION = "EnvelopedVerifiablePresentation"
VC_JWT_MEDIA_TYPE = "application/vc+jwt"
VP_JWT_MEDIA_TYPE = "application/vp+jwt"
#: The longest data: URL read: the decoded limit, with room for percent-encoding.
MAX_DATA_URL_CHARS = 3 * MAX_CREDENTIAL_BYTES + 1024
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


class EnvelopeError(CanonicalizationError):
    """An enveloped credential or presentation whose data: URL cannot be read."""

    slug = "malformed-envelope"
    title = "Malformed enveloped credential or presentation"

    def __init__(self, detail: str, media: str | None = None) -> None:
        super().__init__(detail)
        self.media = media


class UnsupportedEnvelopeError(SigningError):
    """A well-formed data: URL of a media type this node does not verify (an SD-JWT VC,
    a COSE-secured credential): neither verified nor refuted here."""

    slug = "unsupported-envelope"
    title = "Enveloped credential of an unsupported media type"

    def __init__(self, detail: str, media: str) -> None:
        super().__init__(detail)
        self.media = media


def _types_of(document: Mapping[str, Any]) -> list[Any]:
    types = document.get("type")
    return types if isinstance(types, list) else [types]


def is_enveloped(document: Any, kind: str = ENVELOPED_CREDENTIAL) -> bool:
    """Whether ``document`` is an object of type ``kind`` (VC Data Model 2.0 §4.13.1/2)."""
    return isinstance(document, Mapping) and kind in _types_of(document)


def read_data_url(url: Any, max_bytes: int = MAX_CREDENTIAL_BYTES) -> tuple[str, bytes]:
    """RFC 2397 ``data:[<mediatype>][;base64],<data>``: the media type (lower case,
    without parameters) and the decoded bytes (at most ``max_bytes``), or
    :class:`EnvelopeError`."""
    if not isinstance(url, str):
        raise EnvelopeError("the id of an enveloped credential is a data: URL (a string)")
    if len(url) > MAX_DATA_URL_CHARS:
        raise EnvelopeError(f"the data: URL is longer than {MAX_DATA_URL_CHARS} characters")
    if url[:5].lower() != "data:":
        raise EnvelopeError("the id of an enveloped credential is a data: URL (RFC 2397)")
    head, comma, data = url[5:].partition(",")
    if not comma:
        raise EnvelopeError("a data: URL has a comma before its data (RFC 2397)")
    parts = [p.strip() for p in head.split(";")]
    media = parts[0].lower() or "text/plain"
    encoded = len(parts) > 1 and parts[-1].lower() == "base64"
    parameters = parts[1:-1] if encoded else parts[1:]
    if not _MEDIA_TYPE.fullmatch(media) or not all("=" in p for p in parameters):
        raise EnvelopeError("the media type of the data: URL is malformed (RFC 2397)")
    if not data.isascii():
        raise EnvelopeError("a data: URL is ASCII (other octets are percent-encoded)", media)
    raw = unquote_to_bytes(data)
    if encoded:
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise EnvelopeError("the base64 data of the data: URL is malformed", media) from None
    if len(raw) > max_bytes:
        raise EnvelopeError(f"the enveloped data is more than {max_bytes} bytes", media)
    if not raw:
        raise EnvelopeError("the data: URL holds no data", media)
    return media, raw


def _unwrap_credential(envelope: Mapping[str, Any]) -> tuple[str, str]:
    """The media type and compact VC-JWT of an EnvelopedVerifiableCredential."""
    media, raw = read_data_url(envelope.get("id"))
    if media != VC_JWT_MEDIA_TYPE and media not in sd_jwt_vc.MEDIA_TYPES:
        if media.startswith(("application/vc", "application/dc+sd-jwt")):
            raise UnsupportedEnvelopeError(
                f"an enveloped credential of media type {_short(media)} is not verified by this node "
                f"(it verifies {VC_JWT_MEDIA_TYPE} and {sd_jwt_vc.MEDIA_TYPE})",
                media,
            )
        raise EnvelopeError(f"{_short(media)} is not the media type of a secured credential", media)
    try:
        return media, raw.decode("ascii")
    except UnicodeDecodeError:
        raise EnvelopeError("the enveloped credential is not ASCII text", media) from None


def enveloped_content(presented: Any) -> Any:
    """The VC-JWT inside an EnvelopedVerifiableCredential (for reading what it claims
    before the checks run, as for any presented credential); anything else as it is."""
    if is_enveloped(presented):
        try:
            return _unwrap_credential(presented)[1]
        except RegistryError:
            return presented
    return presented


def open_presented(presented: str | bytes | Mapping[str, Any]) -> tuple[str, Any, str | None]:
    """``("vc", dict, None)``, ``("vc-jwt", token, media)`` or ``("sd-jwt", token,
    media)``, where ``media`` is the media type of the data: URL an enveloped token came
    in (None when it was not enveloped); raises for anything else
    (:class:`EnvelopeError`, :class:`UnsupportedEnvelopeError` for enveloped ones)."""
    fmt, parsed = parse_presented(presented)
    if fmt == "vc" and is_enveloped(parsed):
        media, token = _unwrap_credential(parsed)
        return ("sd-jwt" if media in sd_jwt_vc.MEDIA_TYPES else "vc-jwt"), token, media
    return fmt, parsed, None


def parse_presented(presented: str | bytes | Mapping[str, Any]) -> tuple[str, Any]:
    """``("vc", dict)``, ``("vc-jwt", token)`` or ``("sd-jwt", token)`` (an SD-JWT:
    ``jwt~disclosure~…~[kb-jwt]``); raises for anything else."""
    if isinstance(presented, Mapping):
        return "vc", dict(presented)
    raw = presented.encode("utf-8") if isinstance(presented, str) else presented
    raw = raw.strip()
    if len(raw) > MAX_CREDENTIAL_BYTES:
        raise CanonicalizationError(f"a credential is at most {MAX_CREDENTIAL_BYTES} bytes")
    if raw.startswith(b"{"):
        return "vc", jcs.loads(raw)
    if raw.isascii() and b"~" in raw and raw.split(b"~", 1)[0].count(b".") == 2:
        return "sd-jwt", raw.decode("ascii")
    if raw.count(b".") == 2 and raw.isascii():
        return "vc-jwt", raw.decode("ascii")
    raise CanonicalizationError("not a VC JSON document, a compact VC-JWT or an SD-JWT VC")


def _subject_ids(credential: Mapping[str, Any]) -> tuple[str, ...]:
    """The ids of ``credentialSubject`` (one object or a list of them; VC Data Model
    2.0 §4.8 Credential Subject)."""
    subjects = credential.get("credentialSubject")
    subjects = subjects if isinstance(subjects, list) else [subjects]
    return tuple(s["id"] for s in subjects if isinstance(s, Mapping) and isinstance(s.get("id"), str))


def _summary(credential: Mapping[str, Any]) -> dict[str, Any]:
    subject = credential.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    typ = subject.get("title") or subject.get("qualification")
    issuer = credential.get("issuer")
    return {
        "id": credential.get("id"),
        "type": credential.get("type"),
        "issuer": issuer.get("id") if isinstance(issuer, Mapping) else issuer,
        "certificateNumber": subject.get("certificateNumber"),
        "holderName": subject.get("name"),
        "credentialType": typ.get("code") if isinstance(typ, Mapping) else None,
        "validFrom": credential.get("validFrom"),
        "validUntil": credential.get("validUntil"),
    }


def _bilingual(value: Any) -> dict[str, str] | None:
    """A ``{"zh": ..., "en": ...}`` name as the credential carries it (either may lack)."""
    if not isinstance(value, Mapping):
        return None
    names = {lang: value[lang] for lang in ("zh", "en") if isinstance(value.get(lang), str)}
    return names or None


def _readable(credential: Mapping[str, Any], issuer: str) -> dict[str, Any]:
    """What a person reads of a credential, as the document says it (pure)."""
    subject = credential.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    kind = "title" if isinstance(subject.get("title"), Mapping) else "qualification"
    typ = subject.get(kind)
    typ = typ if isinstance(typ, Mapping) else {}
    named = credential.get("issuer")

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    return {
        "kind": kind if typ else None,
        "typeCode": text(typ.get("code")),
        "name": _bilingual(typ.get("name")),
        "series": _bilingual(typ.get("series")),
        "level": _bilingual(typ.get("level")),
        "specialty": text(subject.get("specialty")),
        "awardedOn": text(subject.get("awardedOn")),
        "evaluationCommittee": text(subject.get("evaluationCommittee")),
        "province": text(subject.get("province")),
        "issuer": issuer,
        "issuerName": _bilingual(named.get("name")) if isinstance(named, Mapping) else None,
    }


def _summary_of(parsed: Any) -> dict[str, Any] | None:
    return _summary(parsed) if isinstance(parsed, dict) else None


def _text(value: Any) -> str | None:
    """An untrusted identifier of a proof (id, cryptosuite, verification method) as a
    report repeats it: text only, bounded."""
    if not isinstance(value, str):
        return None
    return value if len(value) <= 512 else value[:509] + "..."


#: The per-proof code of a single proof's check (the report's ``proofs`` entry).
_ITEM_CODES = {
    "proof-verified": "proof-item-verified",
    "proof-signature-mismatch": "proof-item-signature-mismatch",
    "proof-key-not-issuers": "proof-item-key-not-controllers",
    "proof-key-unresolved": "proof-item-key-unresolved",
    "proof-unsupported": "proof-item-unsupported",
}


def _single_item(parsed: Any, check: Check, by_issuer: bool) -> tuple[ProofItem, ...]:
    """The report's ``proofs`` entry of a credential's one embedded proof, from the
    proof check (none for a VC-JWT or a document without one proof object)."""
    proof = parsed.get("proof") if isinstance(parsed, dict) else None
    result = check.result
    if not isinstance(proof, Mapping) or result == "not-applicable":
        return ()
    suite = _text(proof.get("cryptosuite")) or _text(proof.get("type"))
    code = _ITEM_CODES.get(check.code, "proof-item-invalid")
    if check.result == "pass" and not by_issuer:
        code = "proof-item-verified-other"
    return (
        ProofItem(
            0,
            _text(proof.get("id")),
            _text(proof.get("cryptosuite")),
            _text(proof.get("verificationMethod")),
            result,
            check.reason,
            code,
            params(cryptosuite=suite or "?"),
            by_issuer and check.result == "pass",
        ),
    )


def _signature_verifies(fmt: str) -> Check:
    return Check(
        "proof", "pass", "the signature verifies", "proof-verified", params(format=_FORMAT_NAMES[fmt])
    )


def _not_the_issuers(exc: IssuerMismatchError) -> tuple[Check, str, str]:
    """The issuer check of a signature that verifies by a key its issuer does not
    control, and why the other checks were not made."""
    return (
        Check("issuer", "fail", exc.detail, "issuer-mismatch"),
        "not checked: the issuer did not sign this credential",
        "not-checked-issuer-mismatch",
    )


def _unresolved(exc: ResolutionError) -> tuple[Check, str, str]:
    """The proof check when the signing key is not resolved, and why the other checks
    were not made. A method its controller (known in full) never had is an answer: the
    proof is not the controller's (fail). A key that cannot be resolved is unknown."""
    if isinstance(exc, UnknownVerificationMethodError):
        return (
            Check(
                "proof", "fail", f"the proof is not its controller's: {exc.detail}", "proof-key-not-issuers"
            ),
            "not checked: the credential is not authentic",
            "not-checked-unauthentic",
        )
    return (
        Check(
            "proof", "unknown", f"the signing key could not be resolved: {exc.detail}", "proof-key-unresolved"
        ),
        "the signature could not be checked",
        "not-checked-key-unresolved",
    )


def examine(presented: str | bytes | Mapping[str, Any], trust: Trust, now: datetime) -> Examination:
    """Checks 1-5 of a presented credential (pure)."""
    checks: list[Check] = []
    try:
        fmt, parsed, envelope = open_presented(presented)
    except UnsupportedEnvelopeError as exc:
        checks.append(
            Check(
                "proof",
                "unknown",
                exc.detail,
                "proof-envelope-unsupported",
                params(media=_short(exc.media)),
            )
        )
        _unknown_rest(checks, "the signature could not be checked", "not-checked-key-unresolved")
        return Examination("unknown", checks, envelope=exc.media)
    except EnvelopeError as exc:
        checks.append(
            Check(
                "proof", "fail", f"malformed enveloped credential: {exc.detail}", "proof-envelope-malformed"
            )
        )
        _unknown_rest(checks, "the credential could not be read", "not-checked-unreadable")
        return Examination("unknown", checks, envelope=exc.media)
    except RegistryError as exc:
        checks.append(Check("proof", "fail", f"malformed credential: {exc.detail}", "proof-malformed"))
        _unknown_rest(checks, "the credential could not be read", "not-checked-unreadable")
        return Examination("unknown", checks)
    resolver = _Resolver(trust)
    if fmt == "sd-jwt":
        return _examine_sd_jwt(parsed, resolver, trust, now, envelope)
    if fmt == "vc" and isinstance(parsed, dict) and isinstance(parsed.get("proof"), list):
        return _examine_proof_set(parsed, resolver, trust, now)
    credential: Mapping[str, Any]
    method: VerificationMethod | None = None
    signed_at: datetime | None = None

    def stop(check: Check, reason: str, code: str, by_issuer: bool = False) -> Examination:
        checks.append(check)
        _unknown_rest(checks, reason, code)
        items = _single_item(parsed, checks[0], by_issuer)
        return Examination(fmt, checks, _summary_of(parsed), proofs=items, envelope=envelope)

    # 1-2. Signature, then the issuer's control of the method.
    try:
        if fmt == "vc":
            if not isinstance(parsed, dict):
                raise CanonicalizationError("a credential is a JSON object")
            credential = parsed
            verified = data_integrity.verify_issuer_proof(
                credential, resolver, now, contexts=pinned_contexts()
            )
            method, signed_at = verified.verification_method, verified.created
        else:
            token = jose.verify_vc_jwt(parsed, resolver, now)
            credential, method = token.payload, token.verification_method
            stamp = credential.get("iat")
            if isinstance(stamp, int | float) and not isinstance(stamp, bool):
                try:
                    signed_at = datetime.fromtimestamp(stamp, tz=now.tzinfo)
                except (OverflowError, ValueError, OSError):
                    raise TokenFormatError("iat is not a representable instant") from None
            elif "validFrom" in credential:
                signed_at = data_integrity.parse_datetime(credential["validFrom"], "validFrom")
        checks.append(
            Check(
                "proof",
                "pass",
                f"{fmt} signature verifies with {method.id}",
                "proof-verified",
                params(format=_FORMAT_NAMES.get(fmt, fmt)),
            )
        )
    except ResolutionError as exc:
        return stop(*_unresolved(exc))
    except UnsupportedProofError as exc:
        # Data Integrity 1.0 §4.4 step 3: a proof of a type or cryptosuite this node does
        # not implement is neither verified nor refuted (say, a proof in a national
        # cryptosuite this node does not check yet).
        proof = parsed.get("proof") if isinstance(parsed, dict) else None
        suite = proof.get("cryptosuite") or proof.get("type") if isinstance(proof, Mapping) else None
        return stop(
            Check(
                "proof",
                "unknown",
                f"the proof cannot be checked here: {exc.detail}",
                "proof-unsupported",
                params(cryptosuite=_text(suite) or "?"),
            ),
            "the signature could not be checked",
            "not-checked-key-unresolved",
        )
    except IssuerMismatchError as exc:
        checks.append(_signature_verifies(fmt))
        return stop(*_not_the_issuers(exc))
    except SigningError as exc:
        code = (
            "proof-signature-mismatch"
            if isinstance(exc, InvalidSignatureError)
            else "proof-malformed"
            if isinstance(exc, CanonicalizationError)
            else "proof-invalid"
        )
        return stop(
            Check("proof", "fail", exc.detail, code),
            "not checked: the credential is not authentic",
            "not-checked-unauthentic",
        )
    items = _single_item(parsed, checks[0], True) if fmt == "vc" else ()
    return _examine_rest(fmt, credential, [(method, signed_at)], checks, trust, now, items, envelope)


def _examine_sd_jwt(
    token: str, resolver: _Resolver, trust: Trust, now: datetime, envelope: str | None
) -> Examination:
    """Checks 1-5 of an SD-JWT VC (RFC 9901 §7.1, §7.3; SD-JWT VC §3.2.2, §3.5): the
    issuer-signed JWT by the key its ``kid`` names (a DID URL, resolved as for any
    credential), the disclosures, the key-binding JWT when one is presented; then the
    checks of any credential over what the issuer signed plain and the holder
    disclosed (:func:`sd_jwt_vc.to_document`). The schema check is the SD-JWT VC type's
    (``vct``), since a holder may leave claims out."""
    checks: list[Check] = []
    methods: list[VerificationMethod] = []

    def issuer_key(header: dict[str, Any]) -> sd_jwt.PublicKey:
        kid = header.get("kid")
        if not isinstance(kid, str) or "#" not in kid:
            raise TokenFormatError("the SD-JWT's kid is not a DID URL of the issuer's key")
        method = resolver.resolve(kid)
        methods.append(method)
        return method.public_key

    def stop(check: Check, reason: str, code: str) -> Examination:
        checks.append(check)
        _unknown_rest(checks, reason, code)
        return Examination("sd-jwt", checks, None, envelope=envelope)

    try:
        verified = sd_jwt.verify(token, issuer_key, now, check_validity=False)
        claims = verified.claims
        # Only once the signature verified: a relationship refused before would be
        # reported as a verifying signature.
        if "assertionMethod" not in methods[0].relationships:
            raise IssuerMismatchError("the verification method is not listed under assertionMethod")
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or issuer != methods[0].controller:
            raise IssuerMismatchError(
                f"signing key is controlled by {methods[0].controller}, "
                f"not by the issuer (iss) {_short(str(issuer))}"
            )
        credential = sd_jwt_vc.to_document(claims)
    except ResolutionError as exc:
        return stop(*_unresolved(exc))
    except IssuerMismatchError as exc:
        checks.append(_signature_verifies("sd-jwt"))
        return stop(*_not_the_issuers(exc))
    except SigningError as exc:
        code = (
            "proof-signature-mismatch" if isinstance(exc, InvalidSignatureError) else "proof-sd-jwt-invalid"
        )
        return stop(
            Check("proof", "fail", exc.detail, code),
            "not checked: the credential is not authentic",
            "not-checked-unauthentic",
        )
    bound = verified.key_binding is not None
    checks.append(
        Check(
            "proof",
            "pass",
            f"SD-JWT VC signature verifies with {methods[0].id}; "
            f"{len(verified.disclosures)} disclosures match; "
            + ("the holder's key-binding JWT verifies" if bound else "presented without key binding"),
            "proof-sd-jwt-bound" if bound else "proof-sd-jwt-verified",
            params(count=str(len(verified.disclosures))),
        )
    )
    exam = _examine_rest(
        "sd-jwt", credential, [(methods[0], sd_jwt_vc.signed_at(claims))], checks, trust, now, (), envelope
    )
    problems = sd_jwt_vc.shape_problems(claims)
    shape = (
        Check(
            "schema",
            "fail",
            f"not an SD-JWT VC of the registry's types: {problems[0]}",
            "schema-sd-jwt-invalid",
        )
        if problems
        else Check(
            "schema",
            "pass",
            f"an SD-JWT VC of the registry's type {claims['vct']}",
            "schema-sd-jwt-conforms",
            params(vct=str(claims["vct"])),
        )
    )
    exam.checks = [shape if c.name == "schema" else c for c in exam.checks]
    exam.key_binding = verified.key_binding
    return exam


def _proof_item(outcome: ProofOutcome, issuer: str) -> ProofItem:
    """The report's entry of one proof of a set or chain."""
    suite = outcome.cryptosuite
    shown = params(cryptosuite=_short(suite) if suite else "?")
    base = (outcome.index, _text(outcome.id), _text(suite), _text(outcome.verification_method))
    if outcome.result == "pass" and outcome.verified is not None:
        by_issuer = outcome.verified.verification_method.controller == issuer
        who = "the issuer's" if by_issuer else f"{outcome.verified.verification_method.controller}'s"
        return ProofItem(
            *base,
            "pass",
            f"verifies with {outcome.verified.verification_method.id} ({who} key)",
            "proof-item-verified" if by_issuer else "proof-item-verified-other",
            shown,
            by_issuer,
        )
    error = outcome.error
    detail = error.detail if error is not None else "not verified"
    if isinstance(error, ProofChainCycleError):
        code = "proof-item-chain-cycle"
    elif isinstance(error, PreviousProofError):
        code = "proof-item-previous" if outcome.result == "fail" else "proof-item-previous-unchecked"
    elif isinstance(error, UnsupportedProofError):
        code = "proof-item-unsupported"
    elif isinstance(error, UnknownVerificationMethodError):
        code = "proof-item-key-not-controllers"
    elif isinstance(error, ResolutionError):
        code = "proof-item-key-unresolved"
    elif isinstance(error, InvalidSignatureError):
        code = "proof-item-signature-mismatch"
    elif isinstance(error, IssuerMismatchError):
        code = "proof-item-purpose"
    else:
        code = "proof-item-invalid"
    return ProofItem(*base, outcome.result, detail, code, shown)


def _examine_proof_set(
    credential: dict[str, Any], resolver: _Resolver, trust: Trust, now: datetime
) -> Examination:
    """Check 1 of a credential whose ``proof`` is a proof set or chain, then the rest.

    Every proof is verified, each with its own cryptosuite (Data Integrity 1.0 §4.5;
    chained proofs over the proofs they name). The proof check then:

    - fails when any proof fails (§4.5 step 6.1: "If cryptosuiteVerificationResult.verified
      is false, set combinedVerificationResult.verified to false"), a chained proof
      whose previous proof is missing (§4.5 step 3.2) or fails included;
    - passes when, besides, at least one proof by the issuer verifies: its verification
      method is controlled by the credential's issuer, as VC Data Model 2.0 asks of the
      issuer's proof (Data Integrity 1.0 §2.1 "Relationship to Verifiable Credentials");
    - fails when proofs verify but none is the issuer's (``proof-set-no-issuer-proof``);
    - is unknown when no proof could be checked.

    A proof this node cannot check (a cryptosuite it does not implement, a key it cannot
    resolve) is ``unknown`` in the list and neither fails nor carries the credential:
    §4.5 step 3.4 keeps in the combined result only the proofs whose verification ran
    without an exception. So a credential with an Ed25519 proof and a second proof in
    another cryptosuite (SM2, say) verifies on a node that checks only the first.
    The key check then holds for a proof by the issuer whose key was valid when it made
    it."""
    checks: list[Check] = []
    summary = _summary(credential)
    try:
        issuer = data_integrity.issuer_id(credential)
        outcomes = data_integrity.verify_proof_set(credential, resolver, now, contexts=pinned_contexts())
    except SigningError as exc:
        checks.append(Check("proof", "fail", exc.detail, "proof-set-malformed"))
        _unknown_rest(checks, "not checked: the credential is not authentic", "not-checked-unauthentic")
        return Examination("vc", checks, summary)
    items = tuple(_proof_item(o, issuer) for o in outcomes)
    count = str(len(outcomes))
    failed = [o for o in outcomes if o.result == "fail"]
    passed = [o for o in outcomes if o.result == "pass" and o.verified is not None]
    by_issuer = [o for o in passed if o.verified and o.verified.verification_method.controller == issuer]
    if failed:
        first = failed[0]
        detail = first.error.detail if first.error is not None else "it does not verify"
        checks.append(
            Check(
                "proof",
                "fail",
                f"proof {first.index + 1} of {count} does not verify: {detail}",
                "proof-set-failed",
                params(index=str(first.index + 1), count=count),
            )
        )
        _unknown_rest(checks, "not checked: the credential is not authentic", "not-checked-unauthentic")
        return Examination("vc", checks, summary, proofs=items)
    if by_issuer:
        unknown = len(outcomes) - len(passed)
        besides = f"; {unknown} could not be checked here" if unknown else ""
        checks.append(
            Check(
                "proof",
                "pass",
                f"{len(passed)} of {count} proofs verify, {len(by_issuer)} by the issuer; "
                f"none fails{besides}",
                "proof-set-verified",
                params(format=_FORMAT_NAMES["vc"], count=count),
            )
        )
        candidates: list[tuple[VerificationMethod, datetime | None]] = [
            (o.verified.verification_method, o.verified.created) for o in by_issuer if o.verified
        ]
        return _examine_rest("vc", credential, candidates, checks, trust, now, items, None)
    if passed:
        others = ", ".join(
            sorted({_short(o.verified.verification_method.controller) for o in passed if o.verified})
        )
        checks.append(
            Check(
                "proof",
                "fail",
                f"no proof by the issuer {_short(issuer)} verifies (the proofs that verify are by {others})",
                "proof-set-no-issuer-proof",
            )
        )
        _unknown_rest(
            checks, "not checked: the issuer did not sign this credential", "not-checked-issuer-mismatch"
        )
        return Examination("vc", checks, summary, proofs=items)
    reasons = "; ".join(f"proof {i.index + 1}: {i.reason}" for i in items)
    checks.append(
        Check(
            "proof",
            "unknown",
            f"none of the {count} proofs could be checked ({reasons})",
            "proof-set-unverifiable",
        )
    )
    _unknown_rest(checks, "the signature could not be checked", "not-checked-key-unresolved")
    return Examination("vc", checks, summary, proofs=items)


def _examine_rest(
    fmt: str,
    credential: Mapping[str, Any],
    candidates: Sequence[tuple[VerificationMethod, datetime | None]],
    checks: list[Check],
    trust: Trust,
    now: datetime,
    proofs: tuple[ProofItem, ...],
    envelope: str | None,
) -> Examination:
    """Checks 2-5 of a credential whose signature verified: ``candidates`` are the
    verification methods (and signing instants) of its issuer's proofs that verify."""
    issuer = data_integrity.issuer_id(credential)
    peer = trust.peer_by_did.get(issuer)
    if issuer == trust.own_did:
        checks.append(
            Check(
                "issuer",
                "pass",
                f"issued by this node ({issuer})",
                "issuer-this-node",
                params(issuer=Term("issuer", issuer)),
            )
        )
    elif peer is not None:
        until = peer.expires_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        checks.append(
            Check(
                "issuer",
                "pass",
                f"issued by {peer.name} {peer.label}, a member of the federation "
                f"(trust chain to {peer.trust_anchor} valid until {until})",
                "issuer-federation-member",
                params(issuer=Term("issuer", issuer), until=until),
            )
        )
    elif issuer in trust.trusted_issuers:
        checks.append(
            Check(
                "issuer",
                "pass",
                f"issued by a trusted node ({issuer})",
                "issuer-trusted",
                params(issuer=Term("issuer", issuer)),
            )
        )
    elif issuer.startswith("did:key:"):
        checks.append(
            Check(
                "issuer", "fail", f"signature valid, but {issuer} is not a trusted issuer", "issuer-untrusted"
            )
        )
    else:
        checks.append(
            Check(
                "issuer",
                "unknown",
                f"{issuer} is not a node whose trust can be established here",
                "issuer-unknown",
            )
        )
    # 3. Key valid when it signed (this node's ring, or the member's as its chain says):
    #    for one of the issuer's proofs that verified (a proof set may hold several).
    ring = trust.ring() if issuer == trust.own_did else peer.ring() if peer is not None else None
    signed_at = candidates[0][1]
    if ring is None:
        checks.append(
            Check("key", "unknown", "no key history is known for this issuer", "key-history-unknown")
        )
    elif all(at is None for _, at in candidates):
        checks.append(
            Check("key", "fail", "the credential does not say when it was signed", "key-no-signing-time")
        )
    else:
        refused: KeyMaterialError | None = None
        for candidate, at in candidates:
            if at is None:
                continue
            kid = candidate.id.partition("#")[2]
            try:
                ring.check_valid_at(kid, at)
            except KeyMaterialError as exc:
                refused = refused or exc
                continue
            signed_at = at
            shown = at.isoformat()
            checks.append(
                Check(
                    "key",
                    "pass",
                    f"key {kid} was valid for signing at {shown}",
                    "key-valid",
                    params(at=shown),
                )
            )
            break
        else:
            assert refused is not None
            who = f"{peer.label}: " if peer is not None and issuer != trust.own_did else ""
            checks.append(Check("key", "fail", who + refused.detail, "key-invalid"))
            signed_at = next(at for _, at in candidates if at is not None)
    # 3a. The issuer was authorised (评审权) for this type when it signed.
    checks.append(_authorisation(credential, issuer, trust, signed_at))
    # 4. Validity period.
    checks.append(_validity(credential, now))
    # 5. Schema.
    checks.append(_schema(credential))
    entries = credential.get("credentialStatus")
    if entries is None:
        status_entries: list[Any] = []
    elif isinstance(entries, list):
        status_entries = entries
    else:
        status_entries = [entries]
    return Examination(
        fmt,
        checks,
        _summary(credential),
        status_entries,
        _subject_ids(credential),
        _readable(credential, issuer),
        proofs,
        envelope,
    )


def _type_code(credential: Mapping[str, Any]) -> str | None:
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping):
        return None
    typ = subject.get("title") or subject.get("qualification")
    code = typ.get("code") if isinstance(typ, Mapping) else None
    return code if isinstance(code, str) else None


def _authorisation(
    credential: Mapping[str, Any], issuer: str, trust: Trust, signed_at: datetime | None
) -> Check:
    """Whether the trust anchor had authorised the issuer for the credential's type at
    the instant it was signed. A node that is not federated vouches for its own
    catalogue; a federated one is held to what the anchor says of it too."""
    profile = trust.peer_by_did.get(issuer)
    if profile is None:
        if issuer == trust.own_did and not trust.federated:
            return Check(
                "authorisation",
                "pass",
                "issued under this node's own catalogue (not federated)",
                "authorisation-own-catalogue",
            )
        return Check(
            "authorisation",
            "unknown",
            "the trust anchor's authorisations of this issuer are not at hand",
            "authorisation-unknown",
        )
    if is_status_list_credential(credential):
        return Check(
            "authorisation",
            "pass",
            f"a status list credential, which {profile.label} publishes for its own credentials",
            "authorisation-status-list",
            params(issuer=Term("issuer", issuer)),
        )
    code = _type_code(credential)
    if code is None:
        return Check(
            "authorisation", "fail", "the credential names no catalogue type", "authorisation-no-type"
        )
    if signed_at is None:
        return Check(
            "authorisation",
            "fail",
            "the credential does not say when it was signed",
            "authorisation-no-signing-time",
        )
    found = profile.authorisation_for(code, signed_at)
    if found is None:
        when = signed_at.isoformat(timespec="seconds")
        return Check(
            "authorisation",
            "fail",
            f"{profile.label} was not authorised by the trust anchor to issue {code} at {when}",
            "authorisation-not-granted",
            params(issuer=Term("issuer", issuer), type=Term("type", code), at=when),
        )
    start = found.valid_from.date().isoformat()
    end = found.valid_until.date().isoformat() if found.valid_until else "open"
    return Check(
        "authorisation",
        "pass",
        f"{profile.label} authorised by the trust anchor for {found.scope} ({start} – {end})",
        "authorisation-granted",
        params(
            issuer=Term("issuer", issuer),
            type=Term("type", code),
            **{"from": start, "until": end if found.valid_until else Term("msg", "open-ended")},
        ),
    )


def _validity(credential: Mapping[str, Any], now: datetime) -> Check:
    try:
        start = credential.get("validFrom")
        end = credential.get("validUntil")
        if start is not None and data_integrity.parse_datetime(start, "validFrom") > now:
            return Check(
                "validity", "fail", f"not valid before {start}", "validity-not-yet", params(**{"from": start})
            )
        if end is not None and data_integrity.parse_datetime(end, "validUntil") <= now:
            return Check("validity", "fail", f"expired at {end}", "validity-expired", params(until=end))
    except SigningError as exc:
        return Check("validity", "fail", exc.detail, "validity-malformed")
    period = f"from {start or '(no start)'} until {end or '(no end)'}"
    shown = params(
        **{
            "from": start if isinstance(start, str) else Term("msg", "no start"),
            "until": end if isinstance(end, str) else Term("msg", "no end"),
        }
    )
    return Check("validity", "pass", f"valid {period}", "validity-current", shown)


def is_status_list_credential(credential: Mapping[str, Any]) -> bool:
    """Whether ``credential`` says it is a BitstringStatusListCredential and names no
    schema (Bitstring Status List v1.0 §2.2 gives it none)."""
    types = credential.get("type")
    return (
        isinstance(types, list)
        and "BitstringStatusListCredential" in types
        and "credentialSchema" not in credential
    )


def _status_list_shape(credential: Mapping[str, Any]) -> Check:
    """Bitstring Status List v1.0 §2.2: the shape of a BitstringStatusListCredential,
    checked in place of a schema it does not name."""
    rule = "Bitstring Status List v1.0 §2.2"
    problems: list[str] = []
    if "VerifiableCredential" not in credential.get("type", []):
        problems.append("type must include VerifiableCredential")
    if not schemas.is_url(credential.get("id")):
        problems.append("id must be the URL of the list")
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping):
        problems.append("credentialSubject must be one BitstringStatusList object")
    else:
        if subject.get("type") != "BitstringStatusList":
            problems.append("credentialSubject.type must be BitstringStatusList")
        purpose = subject.get("statusPurpose")
        if not (isinstance(purpose, str) and purpose) and not (
            isinstance(purpose, list) and purpose and all(isinstance(p, str) and p for p in purpose)
        ):
            problems.append("credentialSubject.statusPurpose is required")
        encoded = subject.get("encodedList")
        try:
            if not isinstance(encoded, str):
                problems.append("credentialSubject.encodedList is required (a multibase string)")
            else:
                Bitstring.decode(encoded)
        except RegistryError as exc:
            problems.append(f"credentialSubject.encodedList: {exc.detail}")
    if problems:
        return Check(
            "schema",
            "fail",
            f"a status list credential not of the shape of {rule}: {problems[0]}",
            "schema-status-list-invalid",
        )
    return Check(
        "schema", "pass", f"a status list credential; checked against {rule}'s shape", "schema-status-list"
    )


def _schema(credential: Mapping[str, Any]) -> Check:
    if is_status_list_credential(credential):
        return _status_list_shape(credential)
    declared = credential.get("credentialSchema")
    if not isinstance(declared, Mapping) or not isinstance(declared.get("id"), str):
        return Check("schema", "unknown", "the credential names no credentialSchema", "schema-undeclared")
    name = schemas.schema_name_of(declared["id"])
    if name is None:
        return Check(
            "schema", "unknown", f"schema {declared['id']} is not one of the registry's", "schema-unknown"
        )
    errors = schemas.schema_errors(name, credential)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return Check(
            "schema",
            "fail",
            f"does not conform to {name} v1: {errors[0]}{more}",
            "schema-nonconforming",
            params(schema=f"{name} v1"),
        )
    return Check("schema", "pass", f"conforms to {name} v1", "schema-conforms", params(schema=f"{name} v1"))


StatusChecker = Callable[[Sequence[Any]], Check]


def finish(exam: Examination, status_of: StatusChecker) -> Report:
    """Add the status check (unless the credential failed before) and decide."""
    checks = list(exam.checks)
    if not any(c.name == "status" for c in checks):
        checks.append(status_of(exam.status_entries))
    results = {c.result for c in checks}
    verdict: Verdict = "invalid" if "fail" in results else "unknown" if "unknown" in results else "valid"
    return Report(
        verdict,
        exam.format,
        checks,
        exam.unverified_claims,
        exam.subject_ids,
        exam.readable,
        exam.proofs,
        exam.envelope,
        exam.key_binding,
    )


def expect_key_binding(
    report: Report, audience: str, nonce: str, now: datetime, max_age: float = 300.0
) -> Report:
    """The report of a presentation that the verifier asked to be key-bound for its
    ``audience`` with its ``nonce`` (RFC 9901 §7.3 step 5): the proof check fails unless
    an SD-JWT VC came with a key-binding JWT (whose signature and sd_hash
    :func:`examine` verified) naming them, made at most ``max_age`` seconds ago."""
    bound = report.key_binding
    failure: Check | None = None
    if report.format != "sd-jwt" or bound is None:
        failure = Check(
            "proof",
            "fail",
            "key binding was asked for, but the credential is not an SD-JWT VC "
            "presented with a key-binding JWT",
            "proof-key-binding-missing",
        )
    else:
        iat = bound.get("iat")
        stamp = now.timestamp()
        problems = []
        if audience not in sd_jwt.audiences(bound.get("aud")):
            problems.append("it is for another audience (aud)")
        if not isinstance(bound.get("nonce"), str) or bound["nonce"] != nonce:
            problems.append("its nonce is not the one given")
        if not isinstance(iat, int | float) or iat < stamp - max_age - 300:
            problems.append("it is too old (iat)")
        if problems:
            failure = Check(
                "proof",
                "fail",
                "the key-binding JWT does not answer this request: " + "; ".join(problems),
                "proof-key-binding-mismatch",
            )
    if failure is None or not any(c.name == "proof" and c.result == "pass" for c in report.checks):
        return report
    checks = [failure if c.name == "proof" else c for c in report.checks]
    return Report(
        "invalid",
        report.format,
        checks,
        report.unverified_claims,
        report.subject_ids,
        report.readable,
        report.proofs,
        report.envelope,
        report.key_binding,
    )


def examine_many(
    items: Sequence[str | bytes | Mapping[str, Any]], trust: Trust, now: datetime
) -> list[Examination]:
    """:func:`examine` over a chunk."""
    return [examine(item, trust, now) for item in items]


PackedProof = tuple[int, str | None, str | None, str | None, Result, str, str, tuple[Param, ...], bool]
Packed = tuple[
    str,
    list[tuple[str, CheckResult, str, str, tuple[Param, ...]]],
    dict[str, Any] | None,
    list[Any],
    tuple[str, ...],
    dict[str, Any] | None,
    list[PackedProof],
    str | None,
    dict[str, Any] | None,
]


def examine_packed(
    items: Sequence[str | bytes | Mapping[str, Any]], trust: Trust, now: datetime
) -> list[Packed]:
    """:func:`examine` over a chunk sent to a worker process, answered as plain tuples
    (they pickle several times faster than the dataclasses)."""
    return [
        (
            e.format,
            [(c.name, c.result, c.reason, c.code, c.params) for c in e.checks],
            e.unverified_claims,
            e.status_entries,
            e.subject_ids,
            e.readable,
            [
                (
                    p.index,
                    p.id,
                    p.cryptosuite,
                    p.verification_method,
                    p.result,
                    p.reason,
                    p.code,
                    p.params,
                    p.by_issuer,
                )
                for p in e.proofs
            ],
            e.envelope,
            e.key_binding,
        )
        for e in (examine(item, trust, now) for item in items)
    ]


def unpack(packed: Packed) -> Examination:
    fmt, checks, claims, entries, subject_ids, readable, proofs, envelope, key_binding = packed
    return Examination(
        fmt,
        [Check(*c) for c in checks],
        claims,
        entries,
        tuple(subject_ids),
        readable,
        tuple(ProofItem(*p) for p in proofs),
        envelope,
        key_binding,
    )


# --- presentations ----------------------------------------------------------------------
#
# VC Data Model 2.0 §4.13 (Verifiable Presentations): a presentation is verifiable when
# its proof lets a verifier trust who made it; its ``holder`` property names that party.
# The VC API's "Verify Presentation" checks that the holder matches the verification
# method of the presentation's proof, and the challenge and domain the verifier asked
# for (Data Integrity §4.3 steps on ``challenge``/``domain``).
# Holder binding is the registry's last step: the proven presenter must be the subject
# (``credentialSubject.id``) of every credential presented, read from credentials shown
# authentic only, since an unverified document could name anyone as its subject.

PRESENTATION_CHECKS = ("presentation", "holderBinding")


@dataclass(frozen=True)
class PresentationProof:
    """What a presentation's own proof established: the ``presentation`` check, and the
    presenter (the controller of a proof that verified and matched), else None."""

    check: Check
    presenter: str | None


def _presentation_failed(reason: str) -> PresentationProof:
    return PresentationProof(Check("presentation", "fail", reason), None)


def _bound_value_matches(value: Any, expected: str) -> bool:
    # Data Integrity 1.0 §2.1: ``domain`` is a string or an unordered set of strings.
    return value == expected or (isinstance(value, list) and expected in value)


def examine_presentation_proof(
    presentation: Mapping[str, Any],
    resolver: VerificationMethodResolver,
    now: datetime,
    challenge: str | None = None,
    domain: str | None = None,
) -> PresentationProof:
    """The ``presentation`` check (pure)."""
    # 1. It is a verifiable presentation (VC Data Model 2.0 §4.13: type).
    types = presentation.get("type")
    if not (
        types == "VerifiablePresentation" or (isinstance(types, list) and "VerifiablePresentation" in types)
    ):
        return _presentation_failed("type must include VerifiablePresentation")
    # 2. Without a proof nobody is shown to have made it; a verifier that asked for a
    #    challenge or domain asked for a proof carrying them.
    proof = presentation.get("proof")
    if proof is None:
        asked = [name for name, value in (("challenge", challenge), ("domain", domain)) if value is not None]
        if asked:
            return _presentation_failed(
                f"a {' and a '.join(asked)} was asked for but the presentation has no proof"
            )
        return PresentationProof(
            Check(
                "presentation", "unknown", "the presentation is not signed: nothing shows who presented it"
            ),
            None,
        )
    # 3. The proof verifies, made for authentication (Data Integrity §4.3).
    try:
        verified = data_integrity.verify_proof(
            presentation, resolver, now, "authentication", contexts=pinned_contexts()
        )
    except UnknownVerificationMethodError as exc:
        return _presentation_failed(f"the proof is not its controller's: {exc.detail}")
    except ResolutionError as exc:
        return PresentationProof(
            Check("presentation", "unknown", f"the presenter's key could not be resolved: {exc.detail}"), None
        )
    except SigningError as exc:
        return _presentation_failed(exc.detail)
    presenter = verified.verification_method.controller
    # 4. The holder the presentation names is the one who signed it (VC API).
    holder = presentation.get("holder")
    holder_id = holder.get("id") if isinstance(holder, Mapping) else holder
    if holder_id is not None and holder_id != presenter:
        return _presentation_failed(f"the proof is by {presenter}, not by the presentation's holder")
    # 5. The challenge and domain asked for are the ones the proof signed.
    if challenge is not None and proof.get("challenge") != challenge:
        return _presentation_failed("the proof's challenge does not match the one asked for")
    if domain is not None and not _bound_value_matches(proof.get("domain"), domain):
        return _presentation_failed("the proof's domain does not match the one asked for")
    bound = [name for name, value in (("challenge", challenge), ("domain", domain)) if value is not None]
    matched = f", with the {' and '.join(bound)} asked for" if bound else ""
    return PresentationProof(
        Check("presentation", "pass", f"signed by {presenter} for authentication{matched}"), presenter
    )


@dataclass(frozen=True)
class OpenedPresentation:
    """A presented presentation, opened: ``presentation`` is the document whose
    credentials are to be checked (None when an enveloped one could not be opened, so
    its credentials are not known), ``proof`` what its proof established, ``envelope``
    the media type it came enveloped in (None for a presentation with an embedded proof)."""

    presentation: Mapping[str, Any] | None
    proof: PresentationProof
    envelope: str | None = None


def _open_vp_jwt(
    token: str,
    media: str,
    resolver: VerificationMethodResolver,
    now: datetime,
    challenge: str | None,
    domain: str | None,
) -> OpenedPresentation:
    """An ``application/vp+jwt`` (VC-JOSE-COSE §3.1.2): its JWS is the presentation's
    proof, by a key its holder lists for authentication; the challenge asked for is its
    ``nonce`` claim and the domain its ``aud`` (RFC 7519 §4.1.3: a string or a list).
    Its payload is read only once the signature verifies."""

    def failed(reason: str) -> OpenedPresentation:
        return OpenedPresentation(None, _presentation_failed(reason), media)

    try:
        verified = jose.verify_vp_jwt(token, resolver, now)
    except UnknownVerificationMethodError as exc:
        return failed(f"the VP-JWT is not signed by its holder's key: {exc.detail}")
    except ResolutionError as exc:
        check = Check("presentation", "unknown", f"the presenter's key could not be resolved: {exc.detail}")
        return OpenedPresentation(None, PresentationProof(check, None), media)
    except SigningError as exc:
        return failed(f"the VP-JWT does not verify: {exc.detail}")
    payload = verified.payload
    presenter = verified.verification_method.controller
    if challenge is not None and payload.get("nonce") != challenge:
        return failed("the VP-JWT's nonce does not match the challenge asked for")
    if domain is not None and not _bound_value_matches(payload.get("aud"), domain):
        return failed("the VP-JWT's audience (aud) does not match the domain asked for")
    bound = [name for name, value in (("challenge", challenge), ("domain", domain)) if value is not None]
    matched = f", with the {' and '.join(bound)} asked for" if bound else ""
    check = Check("presentation", "pass", f"a VP-JWT signed by {presenter} for authentication{matched}")
    return OpenedPresentation(payload, PresentationProof(check, presenter), media)


def open_presentation(
    presented: Mapping[str, Any] | str,
    resolver: VerificationMethodResolver,
    now: datetime,
    challenge: str | None = None,
    domain: str | None = None,
) -> OpenedPresentation:
    """The ``presentation`` check of a presentation as presented (pure): with an
    embedded proof (:func:`examine_presentation_proof`); enveloped (VC Data Model 2.0
    §4.13.2: an EnvelopedVerifiablePresentation whose ``id`` is a
    ``data:application/vp+jwt,…`` URL); or a compact VP-JWT itself."""
    if isinstance(presented, str):
        if len(presented) > MAX_CREDENTIAL_BYTES:
            return OpenedPresentation(
                None,
                _presentation_failed(f"a VP-JWT is at most {MAX_CREDENTIAL_BYTES} bytes"),
                VP_JWT_MEDIA_TYPE,
            )
        return _open_vp_jwt(presented, VP_JWT_MEDIA_TYPE, resolver, now, challenge, domain)
    if is_enveloped(presented, ENVELOPED_PRESENTATION):
        try:
            media, raw = read_data_url(presented.get("id"))
        except EnvelopeError as exc:
            reason = f"the enveloped presentation could not be read: {exc.detail}"
            return OpenedPresentation(None, _presentation_failed(reason), exc.media)
        if media != VP_JWT_MEDIA_TYPE:
            if media.startswith("application/vp"):
                check = Check(
                    "presentation",
                    "unknown",
                    f"an enveloped presentation of media type {_short(media)} is not verified by this "
                    f"node (it verifies {VP_JWT_MEDIA_TYPE})",
                )
                return OpenedPresentation(None, PresentationProof(check, None), media)
            reason = f"{_short(media)} is not the media type of a secured presentation"
            return OpenedPresentation(None, _presentation_failed(reason), media)
        try:
            token = raw.decode("ascii")
        except UnicodeDecodeError:
            return OpenedPresentation(None, _presentation_failed("the VP-JWT is not ASCII text"), media)
        return _open_vp_jwt(token, media, resolver, now, challenge, domain)
    proof = examine_presentation_proof(presented, resolver, now, challenge, domain)
    return OpenedPresentation(presented, proof)


def _is_did(identifier: str) -> bool:
    return identifier.startswith("did:")


def holder_binding(proof: PresentationProof, reports: Sequence[Report], *, opened: bool = True) -> Check:
    """The ``holderBinding`` check (pure): the proven presenter is the subject of
    every credential presented. ``unknown`` when no presenter is proven or a subject
    cannot be bound to any key, or when the presentation could not be opened (its
    credentials are not known); ``fail`` when the proven presenter is someone else;
    ``not-applicable`` when the presentation holds no credential (VC Data Model 2.0
    §4.13: ``verifiableCredential`` is optional; such a presentation only authenticates
    its presenter, and its proof alone is checked)."""
    if not opened:
        return Check(
            "holderBinding",
            "unknown",
            f"not checked: the presentation could not be opened ({proof.check.reason}), so its "
            "credentials are not known",
        )
    if not reports:
        return Check(
            "holderBinding",
            NOT_APPLICABLE,
            "the presentation holds no credential: there is nothing to bind to its presenter",
            "holder-binding-not-applicable",
        )
    presenter = proof.presenter
    if presenter is None:
        return Check(
            "holderBinding",
            "unknown",
            f"no presenter is proven ({proof.check.reason}), so nothing shows that the presenter "
            "holds these credentials",
        )
    failed: list[str] = []
    unknown: list[str] = []
    for number, report in enumerate(reports, start=1):
        subjects = report.subject_ids
        if not report.authentic:
            unknown.append(f"credential {number} is not shown authentic, so its subject is not known")
        elif not subjects:
            unknown.append(f"credential {number} names no subject id: nothing binds it to a presenter")
        elif presenter in subjects:
            continue
        elif not any(_is_did(s) for s in subjects):
            unknown.append(
                f"the subject of credential {number} is {', '.join(map(_short, subjects))}, an "
                "identifier no key controls (the credential carries no holder key): no presentation "
                "proof can show that its presenter is the subject"
            )
        else:
            failed.append(
                f"the presenter {presenter} is not the subject of credential {number} "
                f"({', '.join(map(_short, subjects))})"
            )
    if failed:
        return Check("holderBinding", "fail", "; ".join(failed))
    if unknown:
        return Check("holderBinding", "unknown", "; ".join(unknown))
    return Check("holderBinding", "pass", f"the presenter {presenter} is the subject of every credential")
