"""W3C VC API endpoints beside the registry's own API, so standard tools work:
``POST /credentials/issue`` (201; 400 for a credential that breaks a rule of VC Data
Model 2.0 or names another issuer, each rule named; 422 for a conforming credential
the registry cannot issue), ``/credentials/verify`` and ``/presentations/verify`` (200
when verified; 400 when a check failed or an option is not supported; 422 when a check
could not be made), ``/credentials/status`` (200; without the registry's reasonCode
the change is recorded with the reason ``unspecified``).

A presentation is ``verified`` only when its presenter is proven to be the subject of
every credential in it (``holderBinding``): an unsigned presentation, or one signed by
a key that is not the subject's, never is, whatever its credentials. A presentation
that holds no credential (VC Data Model 2.0 §4.13: ``verifiableCredential`` is
optional) is verified on its proof alone; its holder binding is ``not-applicable``.
Credentials may be enveloped (§4.13.1: ``data:application/vc+jwt,…``), and so may the
presentation (§4.13.2: ``data:application/vp+jwt,…``); each result names the credential
it is of (``credentialRef``)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from registry import audit
from registry.credentials import issuance, schemas
from registry.credentials import status as status_service
from registry.credentials.errors import StatusTransitionError
from registry.credentials.verification import (
    NOT_APPLICABLE,
    Check,
    Report,
    Trust,
    enveloped_content,
    holder_binding,
    open_presentation,
)
from registry.database import Connectable
from registry.deps import NodeDep, OfficerDep, ReadSessionDep, SessionDep
from registry.errors import PROBLEM_BASE_URI, ConflictError, InvalidInputError, NotFoundError
from registry.limits import INLINE_PARSE_BYTES
from registry.models import Credential, CredentialType
from registry.node import NodeState
from registry.problems import PROBLEM_JSON
from registry.routes.issuance import change_status, context
from registry.routes.verification import prepare_peers, prepare_peers_from_thread, trust_of
from registry.signing.did import DidResolver
from registry.verifier import verify_one

router = APIRouter(tags=["vc-api"])
SUBJECT_KEYS = ("title", "qualification")
#: VC Data Model 2.0 members a caller may add, signed as given (VC Data Model 2.0 §4.6,
#: §4.11 (the registry's own schema only), §5.3-§5.6).
CARRIED_MEMBERS = (
    "name",
    "description",
    "evidence",
    "termsOfUse",
    "relatedResource",
    "refreshService",
    "credentialSchema",
)
#: What a caller may say of a credential to issue; the node sets status and proof.
ISSUE_MEMBERS = {
    "@context",
    "id",
    "type",
    "issuer",
    "credentialSubject",
    "validFrom",
    "validUntil",
    *CARRIED_MEMBERS,
}


class InvalidCredentialError(InvalidInputError):
    """The credential given to issue breaks a rule of VC Data Model 2.0, or names
    another issuer: 400, as the VC API answers a bad issue request."""

    slug = "invalid-credential"
    title = "Not a credential this node can sign as given"
    status = 400


class UnsupportedOptionError(InvalidInputError):
    """A verify option the node does not act on (VC API: 400 for parameters that
    prevent verification); refused rather than ignored."""

    slug = "unsupported-option"
    title = "Option not supported"
    status = 400


class IssueOptions(BaseModel):
    """No issuance options are understood; any given is an error (VC API)."""

    model_config = ConfigDict(extra="forbid")


EXAMPLE_UNSIGNED: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        {
            "EvaluationRecord": "https://hrss.js.example/ns/evaluation#EvaluationRecord",
            "committee": "https://hrss.js.example/ns/evaluation#committee",
            "meetingDate": "https://hrss.js.example/ns/evaluation#meetingDate",
            "decisionNumber": "https://hrss.js.example/ns/evaluation#decisionNumber",
        },
    ],
    "type": ["VerifiableCredential", "ProfessionalTitleCredential"],
    "issuer": "did:web:hrss.js.example",
    "name": [
        {"@value": "工程技术中级职称", "@language": "zh"},
        {"@value": "Intermediate engineering title", "@language": "en"},
    ],
    "credentialSubject": {
        "name": "王芳",
        "identifier": {"type": "resident", "number": "11010519491231002X"},
        "title": {"code": "ENG-INTERMEDIATE"},
        "specialty": "土木工程",
        "evaluationCommittee": "江苏省工程技术研究系列中级职称评审委员会",
        "awardedOn": "2026-11-01",
    },
    "evidence": {
        "type": "EvaluationRecord",
        "committee": "江苏省工程技术研究系列中级职称评审委员会",
        "meetingDate": "2026-10-28",
        "decisionNumber": "苏职称〔2026〕42号",
    },
}


class IssueCredentialRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"credential": EXAMPLE_UNSIGNED, "options": {}}]}
    )
    credential: dict[str, Any] = Field(
        description=(
            "An unsigned VC Data Model 2.0 credential issued by this node (issuer: its DID) "
            "whose credentialSubject carries name, identifier {type: resident|passport, "
            "number}, title or qualification {code}, specialty, evaluationCommittee and "
            "awardedOn. The identity number is used to find the holder and never enters the "
            "issued credential. id (urn:uuid), name, description, evidence, termsOfUse, "
            "relatedResource, refreshService, the registry's own credentialSchema and types "
            "an added context defines are signed as given."
        )
    )
    options: IssueOptions | None = None


class IssueCredentialResponse(BaseModel):
    verifiableCredential: dict[str, Any]


class VerifyCredentialOptions(BaseModel):
    """No option is understood for a credential: a credential's proof is an assertion,
    bound to no challenge or domain. Any option given is refused (400), never ignored."""

    model_config = ConfigDict(extra="allow")


class VerifyOptions(BaseModel):
    """``challenge`` and ``domain`` the presentation's proof must carry; any other
    option is refused (400), never ignored."""

    model_config = ConfigDict(extra="allow")
    challenge: str | None = None
    domain: str | None = None


def _no_unknown_options(options: BaseModel | None) -> None:
    extra = sorted((options.model_extra or {}) if options is not None else {})
    if extra:
        understood = sorted(type(options).model_fields) if options is not None else []
        raise UnsupportedOptionError(
            f"options not supported: {', '.join(extra)} (understood: {', '.join(understood) or 'none'})"
        )


class VerifyCredentialRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"verifiableCredential": "eyJhbGciOiJFZERTQSIs…", "options": {}}]}
    )
    verifiableCredential: dict[str, Any] | str
    options: VerifyCredentialOptions | None = None


class VerifyPresentationRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "verifiablePresentation": {
                        "@context": ["https://www.w3.org/ns/credentials/v2"],
                        "type": ["VerifiablePresentation"],
                        "verifiableCredential": ["eyJhbGciOiJFZERTQSIs…"],
                    },
                    "options": {"challenge": "d1f0a7c2"},
                },
                {
                    "verifiablePresentation": {
                        "@context": ["https://www.w3.org/ns/credentials/v2"],
                        "type": "EnvelopedVerifiablePresentation",
                        "id": "data:application/vp+jwt,eyJhbGciOiJFZERTQSIs…",
                    },
                    "options": {"challenge": "d1f0a7c2"},
                },
            ]
        }
    )
    verifiablePresentation: dict[str, Any] = Field(
        description=(
            "A verifiable presentation with an embedded proof, or an EnvelopedVerifiablePresentation "
            "(VC Data Model 2.0 §4.13.2) whose id is a data:application/vp+jwt URL. Its "
            "verifiableCredential may hold VC objects, VC-JWT strings and EnvelopedVerifiableCredential "
            "objects (data:application/vc+jwt URLs), or nothing."
        )
    )
    options: VerifyOptions | None = None


class ProblemDetail(BaseModel):
    type: str
    title: str
    detail: str


class PresentationCheck(BaseModel):
    check: Literal["presentation", "holderBinding"]
    result: Literal["pass", "fail", "unknown", "not-applicable"] = Field(
        description="not-applicable: holderBinding of a presentation that holds no credential"
    )
    reason: str


class PresentationResult(BaseModel):
    """The presentation's own checks: ``presentation`` (its proof, for authentication,
    with the challenge and domain asked for) and ``holderBinding`` (the presenter is the
    subject of every credential in it)."""

    verified: bool = Field(
        description="true only when both presentation checks passed (holderBinding may be not-applicable)"
    )
    presenter: str | None = Field(
        description="The DID shown by the presentation's proof to have made it; null when none is"
    )
    checks: list[PresentationCheck]
    credentialCount: int = Field(
        description="How many credentials the presentation holds (0: its proof alone was verified)"
    )
    mediaType: str | None = Field(
        default=None,
        description="The media type an enveloped presentation came in (application/vp+jwt); null otherwise",
    )


class VerificationResult(BaseModel):
    """Both shapes the VC API has used: ``checks``/``warnings``/``errors`` as strings, and
    ``problemDetails`` as RFC 9457 objects; ``results`` has the registry's own reports
    (one per credential); ``presentationResult``, for a presentation only, its own checks."""

    verified: bool
    checks: list[str]
    warnings: list[str]
    errors: list[str]
    problemDetails: list[ProblemDetail] = Field(default_factory=list)
    results: list[dict[str, Any]] = Field(
        default_factory=list,
        description=(
            "One report per credential, in the order presented; each names its credential in "
            "credentialRef: index (from 0), format, mediaType (of an enveloped one's data: URL) and "
            "id (only when the credential is shown authentic)"
        ),
    )
    presentationResult: PresentationResult | None = Field(
        default=None, description="Present in answers to /presentations/verify only"
    )


#: The reason recorded for a status change asked for without the registry's reasonCode
#: (the VC API's UpdateCredentialStatusRequest has none).
DEFAULT_REASON = status_service.UNSPECIFIED


class StatusEntry(BaseModel):
    """Older VC API form: ``credentialStatus: [{type, status}]``."""

    type: str
    status: Literal["revoked", "suspended", "active"]


class StatusPurposeRef(BaseModel):
    """Current VC API form: ``credentialStatus: {type, statusPurpose}`` with ``status: bool``."""

    model_config = ConfigDict(extra="forbid")
    type: str
    statusPurpose: Literal["revocation", "suspension"]


class UpdateStatusRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "credentialId": "urn:uuid:0b7c6a5e-3f1d-4c1e-9a51-7f1e2d3c4b5a",
                    "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}],
                    "reasonCode": "research_misconduct",
                }
            ]
        },
    )
    credentialId: str
    credentialStatus: list[StatusEntry] | StatusPurposeRef = Field(
        description="VC API: {type, statusPurpose} with status true/false; or the older [{type, status}]"
    )
    status: bool | None = None
    reasonCode: str = Field(
        default=DEFAULT_REASON,
        description=(
            "Registry reason code (GET /v1/status-reasons); the VC API's request has none, and a "
            f"request without one is recorded with the reason {DEFAULT_REASON!r}"
        ),
    )
    note: str | None = None

    def action(self) -> status_service.Action:
        if isinstance(self.credentialStatus, StatusPurposeRef):
            if self.status is None:
                raise InvalidInputError(
                    "status (true or false) is required with credentialStatus.statusPurpose"
                )
            purpose = self.credentialStatus.statusPurpose
            if purpose == "revocation":
                if not self.status:
                    raise StatusTransitionError("revocation is final; it cannot be set back to false")
                return "revoke"
            return "suspend" if self.status else "reinstate"
        if len(self.credentialStatus) != 1:
            raise InvalidInputError("credentialStatus names exactly one status")
        wanted = self.credentialStatus[0].status
        return "revoke" if wanted == "revoked" else "suspend" if wanted == "suspended" else "reinstate"


def _refuse(violations: list[schemas.Violation]) -> None:
    if violations:
        first = violations[0]
        raise InvalidCredentialError(
            f"{first.field}: {first.message} ({first.rule})", errors=[v.to_json() for v in violations]
        )


def _issuer(credential: dict[str, Any], node_did: str) -> None:
    """The issuer is this node, as a URL or an object with its id and nothing else the
    node would have to vouch for (VC API: 400 when the issuer is not the one configured)."""
    issuer = credential["issuer"]
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if issuer_id != node_did:
        raise InvalidCredentialError(f"this node issues as {node_did}, not {issuer_id}")
    if isinstance(issuer, dict):
        if set(issuer) & {"name", "description"}:
            raise InvalidCredentialError(
                "the node names itself in the credentials it signs (issuer.name, in Chinese and English): "
                "give the issuer as its id only"
            )
        extra = sorted(set(issuer) - {"id"})
        if extra:
            raise InvalidCredentialError(f"issuer members the node does not sign for: {', '.join(extra)}")


def _types(credential: dict[str, Any]) -> list[str]:
    """``type`` as a list (VC Data Model 2.0 §4.5: one or more terms or URLs)."""
    types = credential["type"]
    return list(types) if isinstance(types, list) else [types]


def _defined_terms(contexts: list[Any]) -> set[str] | None:
    """The terms the caller's added contexts define; None when one of them is a URL
    (whose terms the node does not fetch to know)."""
    terms: set[str] = set()
    for item in contexts:
        if not isinstance(item, dict):
            return None
        terms |= set(item)
    return terms


def _caller_members(credential: dict[str, Any], kind_type: str, schema_url: str) -> issuance.CallerMembers:
    """What the caller says of the credential beside the registry's own claims, checked
    against what the registry signs (VC Data Model 2.0 members it can vouch for)."""
    contexts = [c for c in credential["@context"][1:] if c != issuance.REGISTRY_CONTEXT]
    known = {vc_type for vc_type, _, _ in issuance.CREDENTIAL_TYPES.values()}
    types = _types(credential)
    extra_types = [t for t in types if t != "VerifiableCredential" and t != kind_type]
    other_kinds = [t for t in extra_types if t in known]
    if other_kinds:
        raise InvalidInputError(f"type code names a {kind_type}, not a {', '.join(other_kinds)}")
    reserved = [t for t in extra_types if t in schemas.BASE_CONTEXT_TERMS]
    if reserved:
        raise InvalidInputError(f"a {kind_type} is not also a {', '.join(reserved)}: type names what it is")
    defined = _defined_terms(contexts)
    undefined = [t for t in extra_types if not schemas.is_url(t) and defined is not None and t not in defined]
    if undefined:
        raise InvalidInputError(
            f"type {', '.join(undefined)} is defined by no context the credential names: the node signs "
            "terms a context defines (VC Data Model 2.0 §5.2: the base context's @vocab would make them "
            "issuer-dependent, which is not for production)"
        )
    credential_id: str | None = None
    if "id" in credential:
        raw = credential["id"]
        value = raw.removeprefix("urn:uuid:") if raw.startswith("urn:uuid:") else None
        try:
            canonical = value is not None and str(uuid.UUID(value)) == value
        except ValueError:
            canonical = False
        if not canonical:
            raise InvalidInputError(
                f"id {raw!r}: this registry identifies its credentials as urn:uuid:<uuid> (lower case), "
                "the id its status and records use"
            )
        credential_id = value
    if "credentialSchema" in credential:
        wanted = {"id": schema_url, "type": "JsonSchema"}
        given = credential["credentialSchema"]
        if given not in (wanted, [wanted]):
            raise InvalidInputError(
                f"credentialSchema: a {kind_type} conforms to the registry's schema {schema_url} "
                "(JsonSchema), and to no other"
            )
    members = {name: credential[name] for name in CARRIED_MEMBERS if name in credential}
    return issuance.CallerMembers(credential_id, tuple(contexts), tuple(extra_types), members)


def _issue_request(credential: dict[str, Any], node_did: str) -> issuance.IssueRequest:
    if "proof" in credential:
        raise InvalidInputError("the credential to issue must not carry a proof")
    # 1. A conforming VC 2.0 credential (400, every broken rule named).
    _refuse(schemas.data_model_violations(credential))
    # 2. Issued by this node (400, as the VC API answers an issuer not configured).
    _issuer(credential, node_did)
    # 3. What the registry signs (422): members it sets itself, its subject shape.
    subject = credential["credentialSubject"]
    if not isinstance(subject, dict):
        raise InvalidInputError(
            "credentialSubject must be one object: the holder of the title or qualification"
        )
    extra = set(credential) - ISSUE_MEMBERS
    if extra:
        raise InvalidInputError(
            f"members the node sets itself or does not understand: {', '.join(sorted(extra))}"
        )
    found = subject.get("identifier")
    identifier: dict[str, Any] = found if isinstance(found, dict) else {}
    kind: dict[str, Any] = next((subject[k] for k in SUBJECT_KEYS if isinstance(subject.get(k), dict)), {})
    types = _types(credential)
    known = {vc_type for vc_type, _, _ in issuance.CREDENTIAL_TYPES.values()}
    if not set(types) & known:
        raise InvalidInputError("type must be VerifiableCredential and one of " + ", ".join(sorted(known)))
    unknown = set(subject) - {
        "name",
        "identifier",
        "title",
        "qualification",
        "specialty",
        "evaluationCommittee",
        "awardedOn",
    }
    if unknown:
        raise InvalidInputError(f"credentialSubject members not understood: {', '.join(sorted(unknown))}")
    row = {
        "holderName": subject.get("name"),
        "idType": identifier.get("type"),
        "idNumber": identifier.get("number"),
        "typeCode": kind.get("code"),
        "specialty": subject.get("specialty"),
        "evaluationCommittee": subject.get("evaluationCommittee"),
        "awardedOn": subject.get("awardedOn"),
    }
    for name in ("validFrom", "validUntil"):
        if name in credential:
            row[name] = credential[name]
    try:
        return issuance.IssueRequest.model_validate(row)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise InvalidInputError(
            "the credential lacks what the registry needs to issue it", errors=errors
        ) from None


@router.post(
    "/credentials/issue",
    operation_id="vcApiIssueCredential",
    status_code=status.HTTP_201_CREATED,
    responses={
        400: {
            "description": (
                "Not a conforming VC Data Model 2.0 credential (``errors`` names each rule broken), "
                "or an issuer other than this node"
            )
        },
        409: {"description": "A credential with this id was already issued"},
        422: {
            "description": (
                "A conforming credential the registry cannot issue: what its catalogue needs is "
                "missing, or members it sets itself"
            )
        },
    },
)
def issue_credential(
    body: IssueCredentialRequest, node: NodeDep, session: SessionDep, officer: OfficerDep
) -> IssueCredentialResponse:
    """Issue a credential (VC API): 201 with the signed credential. The optional VC 2.0
    members (id, name, description, evidence, termsOfUse, relatedResource,
    refreshService, the registry's own credentialSchema, types an added context defines)
    are signed as given, beside the registry's subject and status entries."""
    row = _issue_request(body.credential, node.did)
    ctype = session.get(CredentialType, row.type_code)
    callers = None
    if ctype is not None:
        kind_type, _, schema_name = issuance.CREDENTIAL_TYPES[ctype.kind]
        if kind_type not in _types(body.credential):
            raise InvalidInputError(
                f"type code {ctype.code} is a {ctype.kind}: the credential type is {kind_type}"
            )
        schema_url = f"{node.base_url}/schemas/{schema_name}/v1.json"
        caller = _caller_members(body.credential, kind_type, schema_url)
        if caller.credential_id is not None and session.get(Credential, caller.credential_id) is not None:
            raise ConflictError(f"a credential urn:uuid:{caller.credential_id} was already issued")
        callers = [caller]
    result = issuance.issue(session, officer, [row], context(node, session), callers=callers)
    stored = session.get(Credential, result.credentials[0].id)
    assert stored is not None
    return IssueCredentialResponse(verifiableCredential=json.loads(stored.document))


def _answer(
    reports: list[Report],
    instance: str,
    presentation: list[Check] | None = None,
    presenter: str | None = None,
    media_type: str | None = None,
) -> Response:
    """The VC API's answer, shaped as :class:`VerificationResult` (built as a plain
    dict and encoded with orjson: the model is the OpenAPI document's description of
    it, and ``test_vcapi`` validates answers against it)."""
    every = [*(presentation or []), *(c for r in reports for c in r.checks)]
    checks = sorted({c.name for c in every if c.result == "pass"})
    errors = [f"{c.name}: {c.reason}" for c in every if c.result == "fail"]
    warnings = [f"{c.name}: {c.reason}" for c in every if c.result == "unknown"]
    verified = not errors and not warnings
    details = [
        {"type": PROBLEM_BASE_URI + "check-failed", "title": "A check failed", "detail": e} for e in errors
    ] + [
        {"type": PROBLEM_BASE_URI + "check-not-made", "title": "A check could not be made", "detail": w}
        for w in warnings
    ]
    body: dict[str, Any] = {
        "verified": verified,
        "checks": checks,
        "warnings": warnings,
        "errors": errors,
        "problemDetails": details,
        "results": [{**r.to_json(), "credentialRef": r.ref(i)} for i, r in enumerate(reports)],
    }
    if presentation is not None:
        body["presentationResult"] = {
            "verified": all(c.result in ("pass", NOT_APPLICABLE) for c in presentation),
            "presenter": presenter,
            "checks": [c.to_json() for c in presentation],
            "credentialCount": len(reports),
            "mediaType": media_type,
        }
    if verified:
        return Response(_encode(body), media_type="application/json")
    code = 400 if errors else 422
    problem = {
        "type": "https://registry.yrd.example/problems/"
        + ("not-verified" if errors else "verification-incomplete"),
        "title": "Not verified" if errors else "Could not be fully verified",
        "status": code,
        "detail": (errors or warnings)[0],
        "instance": instance,
        **body,
    }
    return Response(_encode(problem), status_code=code, media_type=PROBLEM_JSON)


def _encode(answer: dict[str, Any]) -> bytes:
    """The answer as JSON: orjson, or the standard library when the answer repeats
    what orjson cannot encode from an unauthenticated document (an integer beyond 64
    bits, nesting past 255 levels: the claims a report quotes as presented)."""
    try:
        return orjson.dumps(answer)
    except orjson.JSONEncodeError:
        return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


_VERIFY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": VerificationResult, "description": "Verified"},
    400: {"description": "A check failed (problem+json with the checks)"},
    422: {"description": "A check could not be made (problem+json with the checks)"},
}


def _verify(session: Session, node: NodeState, presented: dict[str, Any] | str) -> Report:
    """One credential verified from a worker thread (a sync endpoint)."""
    prepare_peers_from_thread(node, [enveloped_content(presented)])
    return _verify_prepared(session, node, presented, trust_of(node), node.clock())


def _verify_prepared(
    session: Connectable, node: NodeState, presented: dict[str, Any] | str, trust: Trust, now: datetime
) -> Report:
    """One credential verified, what it needs from federation members already fetched."""
    # The VC API is public: a verification of one of this node's credentials is
    # recorded, for its holder to see, as an anonymous verification.
    report, rows = verify_one(
        session,
        presented,
        trust,
        node.base_url,
        audit.ANONYMOUS,
        now,
        node.status_cache,
        node.holder_of,
        peer_status=node.directory,
    )
    node.audit_writer.submit(rows)
    return report


@router.post("/credentials/verify", operation_id="vcApiVerifyCredential", responses=_VERIFY_RESPONSES)
async def verify_credential(body: VerifyCredentialRequest, request: Request, node: NodeDep) -> Response:
    """Verify a credential (VC API). Options are refused (400): none is understood."""
    _no_unknown_options(body.options)
    presented = body.verifiableCredential
    await prepare_peers(node, [enveloped_content(presented)])
    trust, now = trust_of(node), node.clock()

    def run() -> Response:
        with node.db.reader() as session:
            report = _verify_prepared(session, node, presented, trust, now)
        return _answer([report], "/credentials/verify")

    # As POST /v1/verifications: CPU-bound and, with the node's caches warm, without a
    # database read, so a credential of ordinary size is checked on the event loop; a
    # large one in a worker thread, so that the loop keeps answering everyone else.
    declared = request.headers.get("content-length", "")
    inline = declared.isdigit() and int(declared) <= INLINE_PARSE_BYTES
    return run() if inline else await run_in_threadpool(run)


@router.post("/presentations/verify", operation_id="vcApiVerifyPresentation", responses=_VERIFY_RESPONSES)
def verify_presentation(body: VerifyPresentationRequest, node: NodeDep, session: ReadSessionDep) -> Response:
    """Verify a presentation (VC API): its proof (authentication, with the challenge
    and domain asked for, which then require one), every credential in it, and that
    whoever the proof shows made it is the subject of each (holder binding). An
    unsigned presentation's credentials are reported one by one, never as held. A
    presentation without credentials is verified on its proof alone. An enveloped
    presentation (``data:application/vp+jwt,…``) is opened once its JWS verifies by
    its holder's key; enveloped credentials in it are checked as VC-JWTs."""
    _no_unknown_options(body.options)
    options = body.options or VerifyOptions()
    opened = open_presentation(
        body.verifiablePresentation, DidResolver(), node.clock(), options.challenge, options.domain
    )
    presentation = opened.presentation
    embedded = presentation.get("verifiableCredential", []) if presentation is not None else []
    embedded = embedded if isinstance(embedded, list) else [embedded]
    if not all(isinstance(c, dict | str) for c in embedded):
        raise InvalidInputError(
            "verifiableCredential holds credentials (objects, VC-JWT strings or "
            "EnvelopedVerifiableCredential objects)"
        )
    reports = [_verify(session, node, c) for c in embedded]
    checks = [opened.proof.check, holder_binding(opened.proof, reports, opened=presentation is not None)]
    return _answer(reports, "/presentations/verify", checks, opened.proof.presenter, opened.envelope)


@router.post(
    "/credentials/status",
    operation_id="vcApiUpdateCredentialStatus",
    responses={404: {"description": "No such credential"}},
)
def update_status(
    body: UpdateStatusRequest, node: NodeDep, session: SessionDep, officer: OfficerDep
) -> dict[str, str]:
    """Change a credential's status (VC API): revoked, suspended, or active again."""
    credential_id = body.credentialId.removeprefix("urn:uuid:")
    if session.get(Credential, credential_id) is None:
        raise NotFoundError(f"no credential {body.credentialId}")
    row = change_status(
        node,
        session,
        officer,
        credential_id,
        body.action(),
        body.reasonCode,
        body.note,
        allow_unspecified=body.reasonCode == status_service.UNSPECIFIED,
    )
    return {"credentialId": f"urn:uuid:{row.id}", "status": row.status}
