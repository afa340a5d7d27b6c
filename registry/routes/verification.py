"""Verification for HR clients: one credential (VC JSON, VC-JWT or an uploaded file),
a batch of up to 1,000, and a look-up by certificate number + verification code.

Reports answer in the language of ``Accept-Language`` (zh-CN unless English is asked
for): each check's message, and the summary of an authentic credential."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

import anyio.from_thread
import orjson
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from registry import certificate, i18n, peers
from registry.auth import Principal, take_rate
from registry.credentials.verification import MAX_CREDENTIAL_BYTES, Trust
from registry.deps import HrLookupDep, HrVerifyDep, NodeDep, scoped_hr_client
from registry.errors import InvalidInputError, NotFoundError
from registry.federation.node_requests import REQUEST_MEDIA_TYPE
from registry.limits import INLINE_PARSE_BYTES, json_body, read_json_body
from registry.lookup import LOOKUP_PATH, LOOKUP_PURPOSE, NOT_FOUND, PeerFound, PeerLookup, look_up_credential
from registry.lookup import look_up as look_up_anywhere
from registry.models import HrClient
from registry.node import NodeState
from registry.routing import DirectRoute
from registry.settings import Settings
from registry.verifier import Names, finish_batch, report_json, verify_for

router = APIRouter(tags=["verification"])
MAX_BATCH = 1000
#: The rate a new HR client gets unless an admin sets another (REGISTRY_HR_RATE_PER_MINUTE).
DEFAULT_RATE = Settings.model_fields["hr_rate_per_minute"].default
RATE_LIMIT_DOC = (
    f"**Rate limit.** Each HR client may verify a number of credentials per minute, set "
    f"when an admin creates the client (default {DEFAULT_RATE} per minute, "
    f"`REGISTRY_HR_RATE_PER_MINUTE`). A request costs one, and a batch costs one per "
    f"credential. A client may spend up to one minute's rate at once, or a whole batch "
    f"(up to {MAX_BATCH:,} credentials) even when that is more than its rate; what it "
    f"spent comes back at its rate. Over the limit the answer is 429 with `Retry-After`: "
    f"the whole seconds until the same request fits."
)
RATE_LIMITED_RESPONSE: dict[int | str, dict[str, Any]] = {
    429: {
        "description": (
            f"Over the client's rate limit (default {DEFAULT_RATE} per minute; one per credential "
            "in a batch). Nothing was verified; send the same request again after Retry-After seconds."
        ),
        "headers": {
            "Retry-After": {
                "description": "Seconds until this request fits the client's rate limit",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
        "content": {
            "application/problem+json": {
                "schema": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail", "instance", "retryAfter"],
                    "properties": {
                        "type": {"type": "string", "format": "uri"},
                        "title": {"type": "string"},
                        "status": {"type": "integer", "const": 429},
                        "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "retryAfter": {"type": "integer", "minimum": 1},
                    },
                }
            }
        },
    }
}
JSON_TYPES = (
    "application/json",
    "application/vc",
    "application/vc+json",
    "application/vc+ld+json",
    "application/ld+json",
)
JWT_TYPES = ("application/vc+jwt", "application/jwt", "application/dc+sd-jwt", "application/vc+sd-jwt")


def _rate_limited(endpoint: Any) -> Any:
    """Add the rate limit to an endpoint's description (FastAPI reads the docstring)."""
    endpoint.__doc__ = f"{inspect.cleandoc(endpoint.__doc__ or '')}\n\n{RATE_LIMIT_DOC}"
    return endpoint


class CheckOut(BaseModel):
    check: Literal["proof", "issuer", "key", "authorisation", "validity", "schema", "status"]
    result: Literal["pass", "fail", "unknown"]
    reason: str = Field(description="Why, in English, with the technical detail (for logs)")
    code: str = Field(
        description="The reason as a stable machine code, one per distinct reason (e.g. proof-verified, "
        "proof-signature-mismatch, issuer-untrusted, status-revoked, status-list-unavailable)",
        examples=["status-revoked"],
    )
    message: str = Field(
        description="The reason as a sentence in the language of the answer (Content-Language)",
        examples=["已撤销：科研失信。"],
    )


class CredentialSummary(BaseModel):
    """What an authentic credential says, for a person, in the language of the answer."""

    kind: str | None = Field(description="Professional title or qualification", examples=["职称"])
    title: str | None = Field(description="The title or qualification", examples=["高级工程师"])
    series: str | None = Field(examples=["工程技术"])
    level: str | None = Field(examples=["副高级"])
    specialty: str | None = Field(examples=["电气工程及其自动化"])
    awardedOn: str | None = Field(examples=["2025年6月30日"])
    evaluationCommittee: str | None = Field(examples=["江苏省工程技术研究系列高级职称评审委员会"])
    issuedBy: str | None = Field(
        description="The issuing department, by name", examples=["江苏省人力资源和社会保障厅"]
    )
    holderName: str | None
    certificateNumber: str | None
    status: str = Field(description="In force, revoked, suspended or unknown", examples=["已撤销"])
    statusReason: str | None = Field(
        description="The reason of a revocation or suspension, by its label", examples=["科研失信"]
    )


class ProofOut(BaseModel):
    """One embedded Data Integrity proof of the credential and its result (a proof set
    or chain lists several: Data Integrity 1.0 §2.1.2, §4.5)."""

    index: int = Field(description="Position of the proof in the credential's proof (from 0)")
    id: str | None = Field(description="The proof's id, when it has one")
    cryptosuite: str | None = Field(examples=["eddsa-jcs-2022"])
    verificationMethod: str | None
    byIssuer: bool = Field(description="Whether it verified by a key the credential's issuer controls")
    result: Literal["pass", "fail", "unknown"] = Field(
        description="unknown: a cryptosuite this node does not check, or a key it cannot resolve"
    )
    reason: str = Field(description="Why, in English, with the technical detail (for logs)")
    code: str = Field(examples=["proof-item-verified", "proof-item-unsupported"])
    message: str = Field(description="The result as a sentence in the language of the answer")


class CredentialRef(BaseModel):
    """Which presented credential a report is of."""

    index: int | None = Field(description="Its position among the credentials presented together")
    id: str | None = Field(description="The credential's id, only when it is shown authentic")
    format: str = Field(examples=["vc", "vc-jwt", "sd-jwt"])
    mediaType: str | None = Field(
        description="The media type of the data: URL of an enveloped credential (application/vc+jwt)"
    )


class KeyBindingOut(BaseModel):
    """The holder's key-binding JWT of an SD-JWT VC, as verified (its signature by the key the
    credential names in cnf, and its sd_hash over what was presented)."""

    audience: str | None = Field(description="Its aud: the verifier it was made for")
    nonce: str | None = Field(description="Its nonce: compare with the one given, or ask for keyBinding")
    issuedAt: str | None = Field(description="Its iat")


class RecognisedAs(BaseModel):
    code: str = Field(description="This node's catalogue code")
    name: str = Field(description="Its name in the language of the answer")


class RecognitionOut(BaseModel):
    state: Literal["native", "recognised", "not-recognised", "no-policy", "not-applicable"]
    code: str = Field(description="recognition-<state>")
    province: str = Field(description="This (the verifying) node's province, GB/T 2260")
    issuerProvince: str | None = Field(
        description="The issuing node's province, when it is a federation member"
    )
    policyVersion: int | None = Field(description="The version of this node's recognition policy applied")
    recognisedAs: RecognisedAs | None = Field(
        description="The local type it counts as (native or recognised)"
    )
    conditions: str | None = Field(description="The rule's conditions, in the language of the answer")
    message: str = Field(
        description="The answer as a sentence, e.g. 在安徽省认可为高级工程师（认可政策第3版）。"
    )


class VerificationReport(BaseModel):
    verdict: Literal["valid", "invalid", "unknown"] = Field(
        description="valid only when every check passed; unknown when a check could not be made"
    )
    format: str
    checks: list[CheckOut]
    summary: CredentialSummary | None = Field(
        description=(
            "What the credential says, in the language of the answer (title, series, level, "
            "specialty, award date, committee, issuing department, status and its reason), only "
            "when it is authentic. Null otherwise."
        )
    )
    credential: dict[str, Any] | None = Field(
        description=(
            "What the credential says (holder name, certificate number, type, validity), "
            "only when it is authentic: the proof, issuer and key checks passed (a revoked "
            "or expired credential is still authentic). Null otherwise."
        )
    )
    unverifiedClaims: dict[str, Any] | None = Field(
        description=(
            "When the credential is not shown authentic: what the presented document claims "
            "to be (id, type, issuer, credentialType, validFrom, validUntil), not vouched for "
            "by anyone. It never repeats the document's subject data (name, certificate number). "
            "Null when the credential is authentic or could not be read."
        )
    )
    proofs: list[ProofOut] = Field(
        description=(
            "Each embedded Data Integrity proof and its result; empty for a VC-JWT. With a proof "
            "set, the proof check passes when a proof by the issuer verifies and no proof fails."
        )
    )
    credentialRef: CredentialRef = Field(description="Which presented credential this report is of")
    keyBinding: KeyBindingOut | None = Field(
        description="An SD-JWT VC's key-binding JWT when one was presented and verified; null otherwise"
    )
    recognition: RecognitionOut | None = Field(
        description="What the credential is in this node's terms under its latest recognition policy "
        "(native, recognised as which local type, not recognised, no policy yet, or not applicable to a "
        "credential that is not valid); null where the answering entity recognises nothing (a trust anchor)"
    )


class KeyBindingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    audience: str = Field(min_length=1, max_length=512, description="The aud the key-binding JWT must name")
    nonce: str = Field(min_length=1, max_length=512, description="The nonce this verifier gave the holder")


class VerificationRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"credential": "eyJhbGciOiJFZERTQSIsImN0eSI6InZjIiwia2lkIjoi…"}]},
    )
    credential: dict[str, Any] | str = Field(
        description="A VC JSON object, a compact VC-JWT string, or an SD-JWT VC (jwt~disclosures~[kb-jwt])"
    )
    key_binding: KeyBindingRequest | None = Field(
        default=None,
        alias="keyBinding",
        description="Ask for holder key binding (SD-JWT VC, RFC 9901 §7.3): the credential must be an "
        "SD-JWT VC presented with a key-binding JWT for this audience and nonce, made within 5 minutes; "
        "otherwise the proof check fails",
    )


class BatchVerificationRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"credentials": ["eyJhbGciOiJFZERTQSIs…", "eyJhbGciOiJFZERTQSIs…"]}]},
    )
    credentials: list[dict[str, Any] | str] = Field(min_length=1, max_length=MAX_BATCH)


class BatchVerificationReport(BaseModel):
    count: int
    valid: int
    invalid: int
    unknown: int
    results: list[VerificationReport]


class LookupRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"certificateNumber": "32-2026-0000123", "verificationCode": "K7QH-3MZP-X2"}]
        },
    )
    certificate_number: str = Field(alias="certificateNumber", max_length=32, examples=["32-2026-0000123"])
    verification_code: str = Field(alias="verificationCode", max_length=32, examples=["K7QH-3MZP-X2"])


class LookupReport(VerificationReport):
    verifiableCredential: dict[str, Any]


def language(request: Request) -> i18n.Locale:
    """The language of the answer, from ``Accept-Language`` (zh-CN by default)."""
    return i18n.negotiate(request.headers.get("accept-language"))


def language_headers(locale: i18n.Locale) -> dict[str, str]:
    return {"Content-Language": i18n.TAGS[locale], "Vary": "Accept-Language"}


def names_of(node: NodeState, trust: Trust) -> Names:
    return Names.of_node(node, trust, node.clock())


def trust_of(node: NodeState) -> Trust:
    """What this node trusts, rebuilt only when its key ring or the federation members'
    profiles changed, or when a held trust chain expired."""
    ring = node.ring
    directory = node.directory
    version = directory.version if directory is not None else 0
    expires = directory.expires_at if directory is not None else None
    cached = node.trust_cache
    if (
        cached is None
        or cached[0] is not ring
        or cached[1] != version
        or (cached[2] is not None and node.clock() >= cached[2])
    ):
        peers = directory.profiles() if directory is not None else ()
        trust = Trust.of(node.did, ring, peers=peers, federated=directory is not None)
        cached = ring, version, expires, trust
        node.trust_cache = cached
    return cached[3]


async def prepare_peers(node: NodeState, items: Sequence[Any]) -> None:
    """Fetch what verifying ``items`` needs from federation members that this node
    does not hold fresh (nothing, once warm)."""
    if node.directory is not None:
        await node.directory.prepare(items)


def prepare_peers_from_thread(node: NodeState, items: Sequence[Any]) -> None:
    """:func:`prepare_peers` for a sync endpoint (running in a worker thread)."""
    if node.directory is not None:
        anyio.from_thread.run(node.directory.prepare, items)


def is_bare_vc(data: dict[str, Any]) -> bool:
    """Whether a JSON object posted without the ``{"credential": ...}`` envelope is a
    credential itself: it has the members every VC has (``@context``, ``type``) or a
    ``proof``. Whether it is a good one is for the verification to say."""
    return ("@context" in data and "type" in data) or "proof" in data


async def _presented(request: Request) -> tuple[str | bytes | dict[str, Any], KeyBindingRequest | None]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=1) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise InvalidInputError("upload the credential file in the form field 'file'")
            data = await upload.read(MAX_CREDENTIAL_BYTES + 1)
        if len(data) > MAX_CREDENTIAL_BYTES:
            raise InvalidInputError(f"a credential file is at most {MAX_CREDENTIAL_BYTES} bytes")
        if certificate.is_pdf(data):  # a PDF certificate: the credential file it carries
            return await run_in_threadpool(certificate.embedded_credential, data), None
        return data, None
    raw = await request.body()
    if content_type in JWT_TYPES:
        return raw, None
    if content_type in JSON_TYPES or not content_type:
        data = json_body(request, raw)
        if content_type == "application/json" and isinstance(data, dict) and "credential" in data:
            try:
                envelope = VerificationRequest.model_validate(data)
                return envelope.credential, envelope.key_binding
            except ValidationError as exc:
                raise RequestValidationError(exc.errors(include_url=False)) from None
        if not isinstance(data, dict) or (content_type == "application/json" and not is_bare_vc(data)):
            raise InvalidInputError(
                'send {"credential": ...} (a VC object or a VC-JWT string) or the VC itself '
                "(an object with @context, type and proof) as application/json, a VC as "
                "application/vc, a VC-JWT as application/vc+jwt, or a file as multipart/form-data"
            )
        return data, None
    raise InvalidInputError(
        'send {"credential": ...} as application/json, a credential as application/vc or '
        "application/vc+jwt, or a file as multipart/form-data"
    )


BARE_VC_SCHEMA: dict[str, Any] = {
    "title": "VerifiableCredential",
    "description": "A VC JSON object posted as it is",
    "type": "object",
    "required": ["@context", "type"],
    "additionalProperties": True,
}
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": 'The envelope {"credential": ...} (a VC object or a VC-JWT string), '
                    "or the VC object itself (recognised by its @context and type, or its proof)",
                    "anyOf": [
                        {k: v for k, v in VerificationRequest.model_json_schema().items() if k != "examples"},
                        BARE_VC_SCHEMA,
                    ],
                    "examples": [
                        *VerificationRequest.model_json_schema()["examples"],
                        {
                            "@context": ["https://www.w3.org/ns/credentials/v2", "…"],
                            "type": ["VerifiableCredential", "…"],
                            "issuer": "did:web:hrss.js.example",
                            "credentialSubject": {"…": "…"},
                            "proof": {
                                "type": "DataIntegrityProof",
                                "cryptosuite": "eddsa-jcs-2022",
                                "…": "…",
                            },
                        },
                    ],
                }
            },
            "application/vc": {"schema": {"type": "object"}},
            "application/vc+jwt": {"schema": {"type": "string"}},
            "application/dc+sd-jwt": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A credential file: VC JSON, VC-JWT, SD-JWT VC, "
                            "or a PDF certificate "
                            "(the credential file it carries is verified)",
                        }
                    },
                    "required": ["file"],
                }
            },
        },
    }
}


@_rate_limited
async def verify(request: Request) -> Response:
    """Verify one credential: each check (proof, issuer, key, validity, schema, status)
    as pass/fail/unknown with a reason, and a verdict."""
    # The caller and the node checked here, not as dependencies: FastAPI's solving of
    # them cost more than the checks on the busiest route (the same checks as
    # HrVerifyDep; the bearer scheme is declared in the route's security above).
    client = await scoped_hr_client(request, "verify")
    node: NodeState = request.app.state.node
    presented, binding = await _presented(request)
    await prepare_peers(node, [presented])
    trust, now = trust_of(node), node.clock()
    locale = language(request)
    expected = (binding.audience, binding.nonce) if binding is not None else None

    def run() -> dict[str, Any]:
        return verify_for(node, presented, trust, client, now, locale, expected)

    # The work is CPU-bound (a thread would not run it any sooner) and, once the
    # node's caches are warm, asks the database nothing: a credential of ordinary size
    # is checked here, without the hand-over to a thread. A large one (canonicalizing a
    # megabyte takes a tenth of a second) goes to a thread, so that the event loop keeps
    # answering everyone else. The report is built in exactly the documented shape
    # (tests compare it with the model), so it is serialised without a second validation.
    declared = request.headers.get("content-length", "")
    inline = declared.isdigit() and int(declared) <= INLINE_PARSE_BYTES
    report = run() if inline else await run_in_threadpool(run)
    return Response(orjson.dumps(report), media_type="application/json", headers=language_headers(locale))


# The busiest route is a DirectRoute: it reads, checks and answers everything itself
# (above), so FastAPI's request handling (dependency solving, serialisation) is skipped;
# it is documented as any route.
router.add_api_route(
    "/v1/verifications",
    verify,
    methods=["POST"],
    route_class_override=DirectRoute,
    operation_id="verifyCredential",
    openapi_extra={**_BODY_DOC, "security": [{"HTTPBearer": []}]},
    response_model=VerificationReport,
    responses=RATE_LIMITED_RESPONSE,
)


async def _batch_items(request: Request) -> list[dict[str, Any] | str]:
    """The envelope of a batch, checked by hand: validating a thousand credentials
    member by member through the request model cost more than checking them. The body
    is read here, after the client was authenticated (the middleware defers it)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise InvalidInputError("send the batch as application/json")
    data = await read_json_body(request)
    items = data.get("credentials") if isinstance(data, dict) else None
    problems: list[dict[str, Any]] = []
    if not isinstance(data, dict) or set(data) != {"credentials"} or not isinstance(items, list):
        problems.append(
            {
                "loc": ("body",),
                "msg": 'a batch is {"credentials": [...]} and nothing else',
                "type": "value_error",
            }
        )
    elif not 1 <= len(items) <= MAX_BATCH:
        problems.append(
            {
                "loc": ("body", "credentials"),
                "msg": f"1 to {MAX_BATCH} credentials",
                "type": "too_long" if items else "too_short",
            }
        )
    else:
        problems.extend(
            {"loc": ("body", "credentials", i), "msg": "a VC object or a VC-JWT string", "type": "type_error"}
            for i, item in enumerate(items)
            if not isinstance(item, dict | str)
        )
    if problems:
        raise RequestValidationError(problems)
    return items  # type: ignore[return-value]


@router.post(
    "/v1/verifications/batch",
    operation_id="verifyCredentialBatch",
    response_model=BatchVerificationReport,
    responses=RATE_LIMITED_RESPONSE,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BatchVerificationRequest.model_json_schema()}},
        }
    },
)
@_rate_limited
async def verify_batch(request: Request, node: NodeDep, client: HrVerifyDep) -> Response:
    """Verify up to 1,000 credentials; one report per item, in order. Large batches use
    every core of the node. Each credential counts against the client's rate (the
    request itself counted one already)."""
    credentials = await _batch_items(request)
    if len(credentials) > 1:
        rate = node.api_keys.rate_of(client.id)
        await take_rate(node.limiter, client.id, rate, cost=len(credentials) - 1, burst=MAX_BATCH)
    await prepare_peers(node, credentials)
    trust, now = trust_of(node), node.clock()
    locale = language(request)
    exams = await node.verifier.examine_batch(credentials, trust, now)

    def run() -> list[dict[str, Any]]:
        with node.db.session(write=False) as session:
            reports, rows = finish_batch(
                session,
                exams,
                node.base_url,
                node.did,
                client,
                now,
                node.status_cache,
                node.holder_of,
                node.directory,
            )
        node.audit_writer.submit(rows)
        names = names_of(node, trust)
        return [report_json(r, locale, names) for r in reports]

    results = await run_in_threadpool(run)
    verdicts = [r["verdict"] for r in results]
    answer = {
        "count": len(results),
        "valid": verdicts.count("valid"),
        "invalid": verdicts.count("invalid"),
        "unknown": verdicts.count("unknown"),
        "results": results,
    }
    return Response(orjson.dumps(answer), media_type="application/json", headers=language_headers(locale))


@router.post(
    "/v1/verifications/lookup",
    operation_id="lookUpCredential",
    responses={
        404: {"description": "No credential with this number and a current code"},
        502: {
            "description": "The number is another province's and that province's node cannot be reached "
            "(or answered with another credential)"
        },
        **RATE_LIMITED_RESPONSE,
    },
)
@_rate_limited
async def look_up(
    body: LookupRequest,
    request: Request,
    response: Response,
    node: NodeDep,
    client: HrLookupDep,
) -> LookupReport:
    """Look a credential up by certificate number and the holder's verification code
    (a look-up of personal data: audited, and visible to the holder). Another
    province's number (its first two digits) is looked up at that province's node,
    which checks the code and audits it as this node's look-up for this client; the
    credential it answers is verified here, as any of that province."""
    locale = language(request)
    name = await run_in_threadpool(hr_client_name, node, client)
    found = await look_up_anywhere(
        node, body.certificate_number, body.verification_code, client, partial(trust_of, node), name
    )
    response.headers.update(language_headers(locale))
    answer = report_json(found.report, locale, names_of(node, trust_of(node)))
    return LookupReport.model_validate({**answer, "verifiableCredential": found.document})


def hr_client_name(node: NodeState, principal: Principal) -> str | None:
    """The name of the HR client ``principal`` is (for another node's audit)."""
    if principal.kind != "hr_client":
        return None
    with node.db.session(write=False) as session:
        row = session.get(HrClient, principal.id)
    return row.name if row is not None else None


@router.post(
    LOOKUP_PATH,
    operation_id="peerLookUpCredential",
    tags=["federation"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {REQUEST_MEDIA_TYPE: {"schema": {"type": "string", "description": "a compact JWS"}}},
        }
    },
    responses={
        401: {
            "description": "Not signed by a federation member's key, or not for this node, URL or "
            "purpose, or expired"
        },
        404: {"description": "No credential with this number and a current code"},
        409: {"description": "This node is not federated"},
        415: {"description": "Not sent as application/node-request+jwt"},
        422: {"description": "The body is not a look-up"},
        **peers.PEER_RATE_LIMITED,
    },
)
async def peer_look_up(request: Request, node: NodeDep) -> PeerFound:
    """Another province's node looks up one of this node's credentials for its HR
    client (node-authenticated request, purpose ``credential.lookup``, body
    ``{certificateNumber, verificationCode, requester}``): the code is checked and used
    here, the look-up audited as the calling node's with who asked there (the holder
    sees it), and the credential answered as issued."""
    opened = await peers.open_request(node, request, LOOKUP_PATH, LOOKUP_PURPOSE)
    body = peers.body_of(opened, PeerLookup, "a look-up")
    caller = Principal(kind="node", id=opened.caller, role="peer_node")
    trust = trust_of(node)

    def run() -> PeerFound:
        with node.db.session() as session:
            # The same request again (its answer was lost): the same answer; the code is
            # not used, nor the look-up recorded, twice.
            kept = peers.kept_answer(session, opened, PeerFound)
            if kept is not None:
                return kept
            found = look_up_credential(
                session,
                node,
                body.certificateNumber,
                body.verificationCode,
                caller,
                node.clock(),
                trust,
                requester=body.requester,
            )
            answer = PeerFound(verifiableCredential=found.document)
            peers.keep_answer(session, opened, answer, node.clock())
        return answer

    try:
        return await run_in_threadpool(run)
    except (IntegrityError, NotFoundError):
        # The same request, answered meanwhile by a concurrent resend (on PostgreSQL the
        # resend waits for the first to commit, then finds its single-use code used):
        # the answer kept for it.

        def again() -> PeerFound:
            with node.db.session(write=False) as session:
                kept = peers.kept_answer(session, opened, PeerFound)
            if kept is None:
                raise NotFoundError(NOT_FOUND) from None
            return kept

        return await run_in_threadpool(again)
