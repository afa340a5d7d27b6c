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

A presentation adds two checks of its own (:func:`examine_presentation_proof`,
:func:`holder_binding`): ``presentation`` (its proof, for authentication, with the
challenge and domain the verifier asked for) and ``holderBinding`` (whoever that proof
shows made the presentation is the subject of every credential in it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any, Literal

from registry.credentials import schemas
from registry.credentials.status_list import Bitstring
from registry.errors import RegistryError
from registry.federation.metadata import IssuerProfile
from registry.signing import data_integrity, jcs, jose
from registry.signing.did import DidResolver, VerificationMethod, VerificationMethodResolver
from registry.signing.errors import (
    CanonicalizationError,
    IssuerMismatchError,
    KeyMaterialError,
    ResolutionError,
    SigningError,
    TokenFormatError,
    UnknownVerificationMethodError,
)
from registry.signing.keyring import KeyRing

Result = Literal["pass", "fail", "unknown"]
Verdict = Literal["valid", "invalid", "unknown"]
CHECKS = ("proof", "issuer", "key", "authorisation", "validity", "schema", "status")
#: The checks that make a document's claims the issuer's own words.
AUTHENTICITY_CHECKS = ("proof", "issuer", "key")
#: What a report repeats of a document it did not show authentic: what the document
#: claims to be, never whom it claims to be about.
UNVERIFIED_CLAIM_MEMBERS = ("id", "type", "issuer", "credentialType", "validFrom", "validUntil")
MAX_CREDENTIAL_BYTES = 256 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    result: Result
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "result": self.result, "reason": self.reason}


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


@dataclass(frozen=True)
class Report:
    verdict: Verdict
    format: str
    checks: list[Check]
    unverified_claims: dict[str, Any] | None
    subject_ids: tuple[str, ...] = ()

    @property
    def authentic(self) -> bool:
        return is_authentic(self.checks)

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


def _unknown_rest(checks: list[Check], reason: str) -> None:
    done = {c.name for c in checks}
    checks.extend(Check(n, "unknown", reason) for n in CHECKS if n not in done)


def parse_presented(presented: str | bytes | Mapping[str, Any]) -> tuple[str, Any]:
    """``("vc", dict)`` or ``("vc-jwt", token)``; raises for anything else."""
    if isinstance(presented, Mapping):
        return "vc", dict(presented)
    raw = presented.encode("utf-8") if isinstance(presented, str) else presented
    raw = raw.strip()
    if len(raw) > MAX_CREDENTIAL_BYTES:
        raise CanonicalizationError(f"a credential is at most {MAX_CREDENTIAL_BYTES} bytes")
    if raw.startswith(b"{"):
        return "vc", jcs.loads(raw)
    if raw.count(b".") == 2 and raw.isascii():
        return "vc-jwt", raw.decode("ascii")
    raise CanonicalizationError("not a VC JSON document or a compact VC-JWT")


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


def examine(presented: str | bytes | Mapping[str, Any], trust: Trust, now: datetime) -> Examination:
    """Checks 1-5 of a presented credential (pure)."""
    checks: list[Check] = []
    try:
        fmt, parsed = parse_presented(presented)
    except RegistryError as exc:
        checks.append(Check("proof", "fail", f"malformed credential: {exc.detail}"))
        _unknown_rest(checks, "the credential could not be read")
        return Examination("unknown", checks)
    resolver = _Resolver(trust)
    credential: Mapping[str, Any]
    method: VerificationMethod | None = None
    signed_at: datetime | None = None
    # 1-2. Signature, then the issuer's control of the method.
    try:
        if fmt == "vc":
            if not isinstance(parsed, dict):
                raise CanonicalizationError("a credential is a JSON object")
            credential = parsed
            verified = data_integrity.verify_issuer_proof(credential, resolver, now)
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
        checks.append(Check("proof", "pass", f"{fmt} signature verifies with {method.id}"))
    except UnknownVerificationMethodError as exc:
        # Before ResolutionError, of which it is a kind: the method's controller is
        # known in full and never had it, so the proof is not the controller's.
        checks.append(Check("proof", "fail", f"the proof is not its controller's: {exc.detail}"))
        _unknown_rest(checks, "not checked: the credential is not authentic")
        return Examination(fmt, checks, _summary(parsed) if isinstance(parsed, dict) else None)
    except ResolutionError as exc:
        checks.append(Check("proof", "unknown", f"the signing key could not be resolved: {exc.detail}"))
        _unknown_rest(checks, "the signature could not be checked")
        return Examination(fmt, checks, _summary(parsed) if isinstance(parsed, dict) else None)
    except IssuerMismatchError as exc:
        checks.append(Check("proof", "pass", "the signature verifies"))
        checks.append(Check("issuer", "fail", exc.detail))
        _unknown_rest(checks, "not checked: the issuer did not sign this credential")
        return Examination(fmt, checks, _summary(parsed) if isinstance(parsed, dict) else None)
    except SigningError as exc:
        checks.append(Check("proof", "fail", exc.detail))
        _unknown_rest(checks, "not checked: the credential is not authentic")
        return Examination(fmt, checks, _summary(parsed) if isinstance(parsed, dict) else None)
    issuer = data_integrity.issuer_id(credential)
    peer = trust.peer_by_did.get(issuer)
    if issuer == trust.own_did:
        checks.append(Check("issuer", "pass", f"issued by this node ({issuer})"))
    elif peer is not None:
        until = peer.expires_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        checks.append(
            Check(
                "issuer",
                "pass",
                f"issued by {peer.name} {peer.label}, a member of the federation "
                f"(trust chain to {peer.trust_anchor} valid until {until})",
            )
        )
    elif issuer in trust.trusted_issuers:
        checks.append(Check("issuer", "pass", f"issued by a trusted node ({issuer})"))
    elif issuer.startswith("did:key:"):
        checks.append(Check("issuer", "fail", f"signature valid, but {issuer} is not a trusted issuer"))
    else:
        checks.append(
            Check("issuer", "unknown", f"{issuer} is not a node whose trust can be established here")
        )
    # 3. Key valid when it signed (this node's ring, or the member's as its chain says).
    ring = trust.ring() if issuer == trust.own_did else peer.ring() if peer is not None else None
    kid = method.id.partition("#")[2]
    if ring is None:
        checks.append(Check("key", "unknown", "no key history is known for this issuer"))
    elif signed_at is None:
        checks.append(Check("key", "fail", "the credential does not say when it was signed"))
    else:
        try:
            ring.check_valid_at(kid, signed_at)
            checks.append(Check("key", "pass", f"key {kid} was valid for signing at {signed_at.isoformat()}"))
        except KeyMaterialError as exc:
            who = f"{peer.label}: " if peer is not None and issuer != trust.own_did else ""
            checks.append(Check("key", "fail", who + exc.detail))
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
    return Examination(fmt, checks, _summary(credential), status_entries, _subject_ids(credential))


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
            return Check("authorisation", "pass", "issued under this node's own catalogue (not federated)")
        return Check(
            "authorisation", "unknown", "the trust anchor's authorisations of this issuer are not at hand"
        )
    if is_status_list_credential(credential):
        return Check(
            "authorisation",
            "pass",
            f"a status list credential, which {profile.label} publishes for its own credentials",
        )
    code = _type_code(credential)
    if code is None:
        return Check("authorisation", "fail", "the credential names no catalogue type")
    if signed_at is None:
        return Check("authorisation", "fail", "the credential does not say when it was signed")
    found = profile.authorisation_for(code, signed_at)
    if found is None:
        when = signed_at.isoformat(timespec="seconds")
        return Check(
            "authorisation",
            "fail",
            f"{profile.label} was not authorised by the trust anchor to issue {code} at {when}",
        )
    start = found.valid_from.date().isoformat()
    end = found.valid_until.date().isoformat() if found.valid_until else "open"
    return Check(
        "authorisation",
        "pass",
        f"{profile.label} authorised by the trust anchor for {found.scope} ({start} – {end})",
    )


def _validity(credential: Mapping[str, Any], now: datetime) -> Check:
    try:
        start = credential.get("validFrom")
        end = credential.get("validUntil")
        if start is not None and data_integrity.parse_datetime(start, "validFrom") > now:
            return Check("validity", "fail", f"not valid before {start}")
        if end is not None and data_integrity.parse_datetime(end, "validUntil") <= now:
            return Check("validity", "fail", f"expired at {end}")
    except SigningError as exc:
        return Check("validity", "fail", exc.detail)
    period = f"from {start or '(no start)'} until {end or '(no end)'}"
    return Check("validity", "pass", f"valid {period}")


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
        return Check("schema", "fail", f"a status list credential not of the shape of {rule}: {problems[0]}")
    return Check("schema", "pass", f"a status list credential; checked against {rule}'s shape")


def _schema(credential: Mapping[str, Any]) -> Check:
    if is_status_list_credential(credential):
        return _status_list_shape(credential)
    declared = credential.get("credentialSchema")
    if not isinstance(declared, Mapping) or not isinstance(declared.get("id"), str):
        return Check("schema", "unknown", "the credential names no credentialSchema")
    name = schemas.schema_name_of(declared["id"])
    if name is None:
        return Check("schema", "unknown", f"schema {declared['id']} is not one of the registry's")
    errors = schemas.schema_errors(name, credential)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return Check("schema", "fail", f"does not conform to {name} v1: {errors[0]}{more}")
    return Check("schema", "pass", f"conforms to {name} v1")


StatusChecker = Callable[[Sequence[Any]], Check]


def finish(exam: Examination, status_of: StatusChecker) -> Report:
    """Add the status check (unless the credential failed before) and decide."""
    checks = list(exam.checks)
    if not any(c.name == "status" for c in checks):
        checks.append(status_of(exam.status_entries))
    results = {c.result for c in checks}
    verdict: Verdict = "invalid" if "fail" in results else "unknown" if "unknown" in results else "valid"
    return Report(verdict, exam.format, checks, exam.unverified_claims, exam.subject_ids)


def examine_many(
    items: Sequence[str | bytes | Mapping[str, Any]], trust: Trust, now: datetime
) -> list[Examination]:
    """:func:`examine` over a chunk."""
    return [examine(item, trust, now) for item in items]


Packed = tuple[str, list[tuple[str, Result, str]], dict[str, Any] | None, list[Any], tuple[str, ...]]


def examine_packed(
    items: Sequence[str | bytes | Mapping[str, Any]], trust: Trust, now: datetime
) -> list[Packed]:
    """:func:`examine` over a chunk sent to a worker process, answered as plain tuples
    (they pickle several times faster than the dataclasses)."""
    return [
        (
            e.format,
            [(c.name, c.result, c.reason) for c in e.checks],
            e.unverified_claims,
            e.status_entries,
            e.subject_ids,
        )
        for e in (examine(item, trust, now) for item in items)
    ]


def unpack(packed: Packed) -> Examination:
    fmt, checks, claims, entries, subject_ids = packed
    return Examination(fmt, [Check(*c) for c in checks], claims, entries, tuple(subject_ids))


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
        verified = data_integrity.verify_proof(presentation, resolver, now, "authentication")
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


def _is_did(identifier: str) -> bool:
    return identifier.startswith("did:")


def holder_binding(proof: PresentationProof, reports: Sequence[Report]) -> Check:
    """The ``holderBinding`` check (pure): the proven presenter is the subject of
    every credential presented. ``unknown`` when no presenter is proven or a subject
    cannot be bound to any key; ``fail`` when the proven presenter is someone else."""
    if not reports:
        return Check("holderBinding", "fail", "the presentation holds no credential")
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
