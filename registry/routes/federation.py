"""OpenID Federation 1.0 endpoints, and the trust anchor's admin API.

Every entity (node or anchor):

* ``GET /.well-known/openid-federation`` — its signed Entity Configuration (§9),
  ``application/entity-statement+jwt``, cacheable until its ``exp``.
* ``POST /v1/federation/keys/rotation``, ``GET /v1/federation/jwks`` (admin) — rotate the
  federation key; the federation JWK Set to hand to the trust anchor out of band.

The trust anchor only (``REGISTRY_ROLE=anchor``; elsewhere these answer 404):

* ``GET /federation/fetch?sub=`` (§8.1), ``GET /federation/list`` (§8.2),
  ``GET /federation/historical-keys`` (§8.7).
* ``GET /federation/resolve?sub=&trust_anchor=`` (§8.3): a member's trust chain resolved
  and validated by the anchor, answered as a signed ``application/resolve-response+jwt``.
  The only endpoint that makes the anchor send a request: to the member's own
  configuration, through a peer client that reaches active members only
  (:mod:`registry.federation.resolve`).
* the admin API of members and authorisations under ``/v1/federation/``.

Errors are RFC 9457 problem+json like everywhere else; the federation endpoints' problems
also carry the members ``error`` and ``error_description`` of §8.9, so that clients written
for the specification's error responses read them too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlmodel import Session

from registry import audit
from registry.credentials import catalogue, issuance
from registry.deps import AdminDep, NodeDep, ReadSessionDep, SessionDep
from registry.errors import NotFoundError, RegistryError
from registry.federation import anchor, entity, resolve
from registry.federation.errors import FederationError
from registry.federation.historical_keys import HISTORICAL_KEYS_MEDIA_TYPE
from registry.federation.identifiers import check_entity_id
from registry.federation.metadata import ISSUER_ENTITY_TYPE
from registry.federation.statements import ENTITY_STATEMENT_MEDIA_TYPE
from registry.models import FederationAuthorisation
from registry.node import NodeState
from registry.problems import PROBLEM_JSON
from registry.settings import Settings
from registry.signing.keyring import KeyRing

# --- the specification's error codes (§8.9) ------------------------------------------

#: The §8.9 ``error`` of a problem, by HTTP status.
SPEC_ERRORS = {
    400: "invalid_request",
    404: "not_found",
    422: "invalid_request",
    500: "server_error",
    502: "server_error",
    503: "temporarily_unavailable",
}


class FederationRequestError(FederationError):
    """A federation endpoint's request is not acceptable (§8.9 ``invalid_request``)."""

    slug = "invalid-federation-request"
    title = "Federation request is not acceptable"
    status = 400


class UnsupportedParameterError(FederationError):
    """§8.2.1: a parameter this endpoint does not support (``unsupported_parameter``)."""

    slug = "unsupported-federation-parameter"
    title = "Federation request parameter is not supported"
    status = 400


def with_spec_error(exc: RegistryError, error: str | None = None) -> RegistryError:
    """Add §8.9's ``error`` and ``error_description`` to a problem."""
    code = error or exc.extensions.get("error") or SPEC_ERRORS.get(exc.status, "server_error")
    exc.extensions = {**exc.extensions, "error": code, "error_description": exc.detail}
    return exc


class FederationEndpointRoute(APIRoute):
    """A route whose problems also speak §8.9 (request validation included, which the
    specification answers with 400 ``invalid_request``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def speak_spec_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except RegistryError as exc:
                raise with_spec_error(exc) from None
            except RequestValidationError as exc:
                problems = [
                    {"location": list(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()
                ]
                raise with_spec_error(
                    FederationRequestError("the request parameters are not valid", errors=problems)
                ) from None

        return speak_spec_errors


class FederationProblem(BaseModel):
    """RFC 9457 problem details with the §8.9 error members."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    error: str = Field(examples=["not_found"])
    error_description: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str


def _problem(description: str, *, spec: bool = False) -> dict[str, Any]:
    schema = (FederationProblem if spec else Problem).model_json_schema()
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


class EntityStatementResponse(Response):
    media_type = ENTITY_STATEMENT_MEDIA_TYPE


class JwkSetJwtResponse(Response):
    media_type = HISTORICAL_KEYS_MEDIA_TYPE


class ResolveResponseJwt(Response):
    media_type = resolve.RESOLVE_RESPONSE_MEDIA_TYPE


#: Documented on the federation endpoints (which answer validation errors with 400, never 422).
OTHER_ERRORS: dict[int | str, dict[str, Any]] = {
    "default": _problem("Another error, such as 503 when the database is busy (RFC 9457 problem+json)")
}


def _jwt_content(media_type: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media_type: {"schema": {"type": "string", "description": "a compact JWS"}}},
    }


router = APIRouter(tags=["federation"])
spec_router = APIRouter(tags=["federation"], route_class=FederationEndpointRoute)

# --- helpers -------------------------------------------------------------------------


def allow_http_loopback(settings: Settings) -> bool:
    """Whether this entity's own statements may name http loopback URLs: for local
    development (the default base URL is http://127.0.0.1:8000) and the loopback demo.
    In production the base URL is https, and members' identifiers must be too."""
    return settings.federation_allow_private or settings.environment == "development"


def statement_lifetime(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.statement_lifetime)


def max_age(now: datetime, lifetime: timedelta) -> int:
    """Seconds a statement issued at ``now`` may be cached: never beyond its ``exp``
    (which is written in whole seconds)."""
    return max(0, int((now + lifetime).timestamp()) - math.ceil(now.timestamp()))


def _statement_response(token: str, now: datetime, lifetime: timedelta) -> Response:
    return EntityStatementResponse(
        token, headers={"Cache-Control": f"public, max-age={max_age(now, lifetime)}"}
    )


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat().replace("+00:00", "Z")


def require_anchor(node: NodeDep) -> NodeState:
    """The trust anchor's endpoints exist only on the trust anchor."""
    if node.settings.role != "anchor":
        raise NotFoundError(f"{node.settings.entity_id} is not a trust anchor")
    return node


AnchorDep = Annotated[NodeState, Depends(require_anchor)]


def _federation_ring(node: NodeState, session: Session) -> KeyRing:
    return node.federation_keys.load(session)


def _anchor_only(
    description: str = "This entity is not a trust anchor", *, spec: bool = False
) -> dict[str, Any]:
    return _problem(description, spec=spec)


# --- every entity --------------------------------------------------------------------


def entity_configuration_token(node: NodeState, session: Session, now: datetime) -> str:
    """This entity's signed Entity Configuration at ``now`` (served by the route, and
    read in-process by the node's own trust-chain resolution)."""
    settings = node.settings
    lifetime = statement_lifetime(settings)
    ring = _federation_ring(node, session)
    if settings.role == "anchor":
        token = entity.entity_configuration(
            entity_id=settings.entity_id,
            role="anchor",
            federation_ring=ring,
            now=now,
            lifetime=lifetime,
            organization_name=entity.ANCHOR_NAME,
            organization_name_en=entity.ANCHOR_NAME_EN,
            allow_http_loopback=allow_http_loopback(settings),
        )
    else:
        name, name_en = issuance.PROVINCES[settings.province]
        token = entity.entity_configuration(
            entity_id=settings.entity_id,
            role="node",
            federation_ring=ring,
            now=now,
            lifetime=lifetime,
            organization_name=name,
            organization_name_en=name_en,
            trust_anchor=settings.trust_anchor or None,
            did=settings.did,
            province=settings.province,
            assertion_records=node.key_store.load(session).public_records(),
            credential_types=[row.code for row in catalogue.list_types(session)],
            allow_http_loopback=allow_http_loopback(settings),
        )
    return token


def own_entity_configuration(node: NodeState) -> bytes:
    """For :class:`~registry.federation.directory.PeerDirectory`: this node's own
    configuration without a request to itself."""
    with node.db.session(write=False) as session:
        return entity_configuration_token(node, session, node.clock()).encode()


@spec_router.get(
    "/.well-known/openid-federation",
    operation_id="getEntityConfiguration",
    response_class=EntityStatementResponse,
    responses={
        200: _jwt_content(
            ENTITY_STATEMENT_MEDIA_TYPE,
            "This entity's Entity Configuration (typ entity-statement+jwt), signed with its "
            "active federation key; Cache-Control max-age ends at its exp",
        ),
        500: _problem(
            "No federation key is valid for signing now, or the settings make an invalid statement "
            "(server_error)",
            spec=True,
        ),
        **OTHER_ERRORS,
    },
)
def get_entity_configuration(node: NodeDep, session: ReadSessionDep) -> Response:
    """The signed Entity Configuration (OpenID Federation 1.0 §3, §9): federation keys,
    ``federation_entity`` metadata, and for a provincial node its ``authority_hints`` and
    ``yrd_credential_issuer`` metadata (DID, province, credential types, and its
    credential-signing keys with their history, compromised keys included)."""
    settings, now = node.settings, node.clock()
    token = entity_configuration_token(node, session, now)
    return _statement_response(token, now, statement_lifetime(settings))


# --- the trust anchor's federation endpoints -----------------------------------------


@spec_router.get(
    entity.FETCH_PATH,
    operation_id="fetchSubordinateStatement",
    response_class=EntityStatementResponse,
    responses={
        200: _jwt_content(
            ENTITY_STATEMENT_MEDIA_TYPE,
            "The anchor's Subordinate Statement about the member: its federation keys, the "
            "metadata_policy fixing its DID, province and authorisations, constraints",
        ),
        400: _problem("sub is missing or not an entity identifier (invalid_request)", spec=True),
        404: _problem(
            "sub is not a current member (not_found), or this entity is not a trust anchor", spec=True
        ),
        **OTHER_ERRORS,
    },
)
def fetch_subordinate_statement(
    node: AnchorDep,
    session: ReadSessionDep,
    sub: Annotated[str | None, Query(max_length=2048, description="The member's entity identifier")] = None,
) -> Response:
    """Fetch the Subordinate Statement about a member (OpenID Federation 1.0 §8.1)."""
    if sub is None:
        raise FederationRequestError("the sub parameter is required")
    settings, now = node.settings, node.clock()
    lifetime = statement_lifetime(settings)
    token = anchor.subordinate_statement(
        session,
        sub,
        issuer=settings.entity_id,
        federation_ring=_federation_ring(node, session),
        now=now,
        lifetime=lifetime,
        allow_http_loopback=allow_http_loopback(settings),
    )
    return _statement_response(token, now, lifetime)


@spec_router.get(
    entity.LIST_PATH,
    operation_id="listSubordinates",
    responses={
        200: {"description": "The entity identifiers of the current members (a JSON array)"},
        400: _problem("trust_marked or trust_mark_type is not supported (unsupported_parameter)", spec=True),
        404: _anchor_only(spec=True),
        **OTHER_ERRORS,
    },
)
def list_subordinates(
    request: Request,
    node: AnchorDep,
    session: ReadSessionDep,
    entity_type: Annotated[list[str] | None, Query(description="Only members of these entity types")] = None,
    intermediate: Annotated[bool | None, Query(description="Only Intermediates (true) or leaves")] = None,
) -> list[str]:
    """The current members' entity identifiers (OpenID Federation 1.0 §8.2). Members are
    leaves and credential issuers (``federation_entity``, ``yrd_credential_issuer``)."""
    unsupported = sorted({"trust_marked", "trust_mark_type"}.intersection(request.query_params))
    if unsupported:
        raise with_spec_error(
            UnsupportedParameterError(f"parameter(s) {unsupported} are not supported"),
            "unsupported_parameter",
        )
    if intermediate is True:
        return []
    if entity_type is not None and not {"federation_entity", ISSUER_ENTITY_TYPE}.intersection(entity_type):
        return []
    return anchor.active_member_ids(session)


@spec_router.get(
    entity.HISTORICAL_KEYS_PATH,
    operation_id="getHistoricalKeys",
    response_class=JwkSetJwtResponse,
    responses={
        200: _jwt_content(
            HISTORICAL_KEYS_MEDIA_TYPE,
            "The anchor's retired and revoked federation keys (typ jwk-set+jwt): exp at retirement; "
            "compromised keys revoked from the instant they are held compromised",
        ),
        404: _problem("The anchor has no retired or revoked key yet, or is no trust anchor", spec=True),
        **OTHER_ERRORS,
    },
)
def get_historical_keys(node: AnchorDep, session: ReadSessionDep) -> Response:
    """The trust anchor's historical federation keys (OpenID Federation 1.0 §8.7)."""
    settings = node.settings
    token = entity.historical_keys(
        settings.entity_id,
        _federation_ring(node, session),
        node.clock(),
        allow_http_loopback=allow_http_loopback(settings),
    )
    if token is None:
        raise NotFoundError(f"{settings.entity_id} has no retired or revoked federation keys")
    return JwkSetJwtResponse(token, headers={"Cache-Control": "no-cache"})


def _anchor_view(node: NodeState, subject: str) -> tuple[resolve.AnchorView, KeyRing]:
    """The anchor's own word at this instant (one read transaction): its federation ring,
    its published keys, its active members, and its statement about ``subject`` (404
    ``not_found`` when ``subject`` is not a current member; none for the anchor itself)."""
    settings, now = node.settings, node.clock()
    lifetime, loopback = statement_lifetime(settings), allow_http_loopback(settings)
    with node.db.session(write=False) as session:
        ring = _federation_ring(node, session)
        claims = None
        if subject != settings.entity_id:
            claims = anchor.member_statement_claims(
                session,
                subject,
                issuer=settings.entity_id,
                now=now,
                lifetime=lifetime,
                allow_http_loopback=loopback,
            )
        members = frozenset(anchor.active_member_ids(session))
    jwks = entity.published_jwks(ring, now)

    def statement() -> bytes:
        assert claims is not None
        return entity.sign_with_ring(claims, ring, now, allow_http_loopback=loopback).encode()

    view = resolve.AnchorView(
        now=now,
        anchor_jwks=jwks,
        members=members,
        fingerprint=resolve.statement_fingerprint(claims, jwks),
        configuration=lambda: own_entity_configuration(node),
        statement=None if claims is None else statement,
    )
    return view, ring


@spec_router.get(
    entity.RESOLVE_PATH,
    operation_id="resolveEntity",
    response_class=ResolveResponseJwt,
    responses={
        200: _jwt_content(
            resolve.RESOLVE_RESPONSE_MEDIA_TYPE,
            "A resolve response (typ resolve-response+jwt) signed with the anchor's federation key: iss "
            "(the anchor), sub, iat, exp (the trust chain's earliest exp), metadata (the member's "
            "resolved metadata, only the entity types asked for), trust_chain (member's configuration, "
            "the anchor's statement about it, the anchor's configuration)",
        ),
        400: _problem(
            "sub or trust_anchor is missing or malformed (invalid_request); the member's trust chain "
            "does not validate (invalid_trust_chain) or its metadata fails the policy (invalid_metadata)",
            spec=True,
        ),
        404: _problem(
            "trust_anchor is not this anchor (invalid_trust_anchor); sub is not a current member "
            "(not_found); or this entity is not a trust anchor",
            spec=True,
        ),
        502: _problem(
            "The member's configuration could not be fetched (invalid_trust_chain); remembered for a "
            "few seconds",
            spec=True,
        ),
        **OTHER_ERRORS,
    },
)
async def resolve_entity(
    node: AnchorDep,
    sub: Annotated[
        str | None, Query(description="Required: the entity identifier to resolve (a member, or the anchor)")
    ] = None,
    trust_anchor: Annotated[
        list[str] | None,
        Query(description="Required: this anchor's entity identifier (the chain ends there); may repeat"),
    ] = None,
    entity_type: Annotated[
        list[str] | None, Query(description="Only these entity types of the resolved metadata")
    ] = None,
) -> Response:
    """Resolve a member (OpenID Federation 1.0 §8.3): its trust chain to this anchor,
    validated (signatures, times, ``authority_hints``, constraints, metadata policy), and
    its resolved metadata — DID, province, authorisations, credential-signing keys with
    their history — signed by the anchor. The anchor's own statements are read in-process;
    only the member's configuration is fetched, and only members are ever asked. A chain
    is reused until its earliest ``exp`` while the anchor's statement about the member is
    unchanged; a failure is reused for a few seconds."""
    settings = node.settings
    resolver = node.resolver
    if resolver is None:  # pragma: no cover - every anchor has one (NodeState.join_federation)
        raise entity.EntityConfigurationError("this trust anchor has no resolver")
    # §8.3.1: sub and trust_anchor are REQUIRED (§8.9 invalid_request, 400).
    if not sub:
        raise FederationRequestError("the sub parameter is required")
    if not trust_anchor:
        raise FederationRequestError("the trust_anchor parameter is required")
    check_entity_id(
        sub, "sub", allow_http_loopback=allow_http_loopback(settings), error=FederationRequestError
    )
    if entity_type is not None and not all(t and len(t) <= 255 for t in entity_type):
        raise FederationRequestError("entity_type must name entity types")
    # This anchor resolves to itself only (§8.9 invalid_trust_anchor, 404). Entity
    # identifiers are compared as strings (§16).
    if settings.entity_id not in trust_anchor:
        raise resolve.UnknownTrustAnchorError(
            f"this resolver resolves trust chains to {settings.entity_id} only"
        )
    # Membership first: a subject that is not a current member is 404 without a request.
    view, ring = await run_in_threadpool(_anchor_view, node, sub)
    chain = await resolver.resolve(sub, view)
    claims = resolve.resolve_response_claims(
        issuer=settings.entity_id, chain=chain, now=view.now, entity_types=entity_type
    )
    token = resolve.sign_resolve_response(claims, entity.active_key(ring, view.now))
    seconds = max(0, claims["exp"] - math.ceil(view.now.timestamp()))
    return ResolveResponseJwt(token, headers={"Cache-Control": f"public, max-age={seconds}"})


# --- admin: this entity's federation keys --------------------------------------------


class JwkSet(BaseModel):
    keys: list[dict[str, Any]]


class KeyRotationOut(BaseModel):
    kid: str = Field(description="The new active federation key")
    jwks: JwkSet = Field(description="The federation JWK Set to register at the trust anchor")


@router.get(
    "/v1/federation/jwks",
    operation_id="getFederationJwks",
    responses={401: _problem("No access token"), 403: _problem("Not an admin")},
)
def get_federation_jwks(node: NodeDep, session: ReadSessionDep, admin: AdminDep) -> JwkSet:
    """This entity's federation JWK Set (the keys its Entity Configuration publishes), to
    hand to the trust anchor out of band, at admission or after a rotation."""
    return JwkSet.model_validate(entity.published_jwks(_federation_ring(node, session), node.clock()))


@router.post(
    "/v1/federation/keys/rotation",
    operation_id="rotateFederationKey",
    responses={401: _problem("No access token"), 403: _problem("Not an admin")},
)
def rotate_federation_key(node: NodeDep, session: SessionDep, admin: AdminDep) -> KeyRotationOut:
    """Retire the federation key and activate a new one, which signs this entity's
    statements from now on. A node's trust anchor must register the new JWK Set
    (``POST /v1/federation/members/keys``) before chains through the node validate again;
    a trust anchor's new keys must reach the verifiers that configure them."""
    now = node.clock()
    ring = node.federation_keys.rotate(session, now)
    record, _ = ring.signing_key(now)
    audit.record(session, admin, now, "federation.key.rotate", "node_key", record.kid)
    return KeyRotationOut(kid=record.kid, jwks=JwkSet.model_validate(entity.published_jwks(ring, now)))


# --- admin: the trust anchor's members and authorisations ----------------------------

EXAMPLE_ENTITY_ID = "https://js.registry.yrd.example"
EXAMPLE_JWKS: dict[str, Any] = {
    "keys": [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
            "use": "sig",
            "alg": "EdDSA",
        }
    ]
}


def _examples(*examples: Any) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class MemberAdmission(BaseModel):
    model_config = _examples(
        {
            "entityId": EXAMPLE_ENTITY_ID,
            "did": "did:web:js.registry.yrd.example",
            "province": "32",
            "jwks": EXAMPLE_JWKS,
        }
    )
    entity_id: str = Field(alias="entityId", min_length=8, max_length=255)
    did: str = Field(min_length=9, max_length=255)
    province: Literal["31", "32", "33", "34"]
    jwks: dict[str, Any] = Field(description="The node's federation JWK Set (GET /v1/federation/jwks)")


class MemberKeys(BaseModel):
    model_config = _examples({"entityId": EXAMPLE_ENTITY_ID, "jwks": EXAMPLE_JWKS})
    entity_id: str = Field(alias="entityId", min_length=8, max_length=255)
    jwks: dict[str, Any]


class MemberRemoval(BaseModel):
    model_config = _examples({"entityId": EXAMPLE_ENTITY_ID, "reason": "省级节点迁移，停止签发"})
    entity_id: str = Field(alias="entityId", min_length=8, max_length=255)
    reason: str = Field(min_length=1, max_length=255)


class AuthorisationGrant(BaseModel):
    model_config = _examples(
        {"entityId": EXAMPLE_ENTITY_ID, "scope": "ENG-*", "validFrom": "2026-01-01T00:00:00+08:00"},
        {
            "entityId": EXAMPLE_ENTITY_ID,
            "scope": "ENG-ASSOCIATE_SENIOR",
            "validFrom": "2026-01-01T00:00:00Z",
            "validUntil": "2031-01-01T00:00:00Z",
        },
    )
    entity_id: str = Field(alias="entityId", min_length=8, max_length=255)
    scope: str = Field(
        min_length=1,
        max_length=64,
        description="A catalogue code, a series (ENG-*) or * (every type)",
        examples=["ENG-*"],
    )
    valid_from: AwareDatetime = Field(alias="validFrom")
    valid_until: AwareDatetime | None = Field(default=None, alias="validUntil")


class Withdrawal(BaseModel):
    model_config = _examples({"reason": "评审委员会资格被暂停"})
    reason: str = Field(min_length=1, max_length=255)


class AuthorisationOut(BaseModel):
    id: int
    entityId: str
    scope: str
    validFrom: str
    validUntil: str | None
    effectiveUntil: str | None = Field(description="validUntil, or the withdrawal when earlier")
    grantedAt: str
    grantedBy: str
    withdrawnAt: str | None
    withdrawnBy: str | None
    withdrawalReason: str | None


class MemberOut(BaseModel):
    entityId: str
    did: str
    province: str
    active: bool
    jwks: JwkSet
    admittedAt: str
    admittedBy: str
    removedAt: str | None
    removedBy: str | None
    removalReason: str | None
    authorisations: list[AuthorisationOut]


def authorisation_out(row: FederationAuthorisation) -> AuthorisationOut:
    assert row.id is not None
    return AuthorisationOut(
        id=row.id,
        entityId=row.entity_id,
        scope=row.scope,
        validFrom=_iso(row.valid_from) or "",
        validUntil=_iso(row.valid_until),
        effectiveUntil=_iso(anchor.effective_until(row)),
        grantedAt=_iso(row.granted_at) or "",
        grantedBy=row.granted_by,
        withdrawnAt=_iso(row.withdrawn_at),
        withdrawnBy=row.withdrawn_by,
        withdrawalReason=row.withdrawal_reason,
    )


def member_out(record: anchor.MemberRecord) -> MemberOut:
    member = record.member
    return MemberOut(
        entityId=member.entity_id,
        did=member.did,
        province=member.province,
        active=record.active,
        jwks=JwkSet.model_validate(json.loads(member.jwks)),
        admittedAt=_iso(member.admitted_at) or "",
        admittedBy=member.admitted_by,
        removedAt=_iso(member.removed_at),
        removedBy=member.removed_by,
        removalReason=member.removal_reason,
        authorisations=[authorisation_out(row) for row in record.authorisations],
    )


def _member_record(session: Session, entity_id: str) -> anchor.MemberRecord:
    return next(r for r in anchor.members(session) if r.member.entity_id == entity_id)


_ADMIN_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: _problem("No access token"),
    403: _problem("Not an admin"),
}


@router.post(
    "/v1/federation/members",
    operation_id="admitFederationMember",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_ADMIN_PROBLEMS,
        404: _anchor_only(),
        409: _problem("A member already, or another member has this DID"),
        422: _problem("Entity identifier, DID, province or JWK Set is not acceptable"),
    },
)
def admit_member(body: MemberAdmission, node: AnchorDep, session: SessionDep, admin: AdminDep) -> MemberOut:
    """Admit a provincial node: its entity identifier (base URL), DID, province and
    federation JWK Set (from its ``GET /v1/federation/jwks``). It has no authorisations
    until they are granted."""
    anchor.admit(
        session,
        admin,
        node.clock(),
        entity_id=body.entity_id,
        did=body.did,
        province=body.province,
        jwks=body.jwks,
        anchor_id=node.settings.entity_id,
        allow_http_loopback=node.settings.federation_allow_private,
    )
    return member_out(_member_record(session, body.entity_id))


@router.get(
    "/v1/federation/members",
    operation_id="listFederationMembers",
    responses={**_ADMIN_PROBLEMS, 404: _anchor_only(), 422: _problem("removed is not true or false")},
)
def list_members(
    node: AnchorDep,
    session: ReadSessionDep,
    admin: AdminDep,
    removed: Annotated[bool, Query(description="Include removed members")] = True,
) -> list[MemberOut]:
    """Members (removed ones too, unless ``removed=false``) with their whole authorisation
    history: withdrawn authorisations stay, with when, by whom and why."""
    return [member_out(record) for record in anchor.members(session, include_removed=removed)]


@router.post(
    "/v1/federation/members/removal",
    operation_id="removeFederationMember",
    responses={
        **_ADMIN_PROBLEMS,
        404: _problem("Not a current member, or this entity is not a trust anchor"),
        422: _problem("The body is malformed, or the reason is missing"),
    },
)
def remove_member(body: MemberRemoval, node: AnchorDep, session: SessionDep, admin: AdminDep) -> MemberOut:
    """End a membership: the anchor stops vouching for the node (fetch answers 404), its
    open authorisations end now, and the record and its history stay."""
    anchor.remove(session, admin, node.clock(), body.entity_id, body.reason)
    return member_out(_member_record(session, body.entity_id))


@router.post(
    "/v1/federation/members/keys",
    operation_id="replaceFederationMemberKeys",
    responses={
        **_ADMIN_PROBLEMS,
        404: _problem("Not a current member, or this entity is not a trust anchor"),
        422: _problem("The body is malformed, or the JWK Set is not acceptable"),
    },
)
def replace_member_keys(body: MemberKeys, node: AnchorDep, session: SessionDep, admin: AdminDep) -> MemberOut:
    """Register a member's new federation JWK Set, after it rotated its federation key."""
    anchor.replace_keys(session, admin, node.clock(), body.entity_id, body.jwks)
    return member_out(_member_record(session, body.entity_id))


@router.post(
    "/v1/federation/authorisations",
    operation_id="grantFederationAuthorisation",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_ADMIN_PROBLEMS,
        404: _problem("Not a member, or this entity is not a trust anchor"),
        409: _problem("The member was removed"),
        422: _problem(
            "Malformed body, unknown scope, a date without time zone, or validUntil not after validFrom"
        ),
    },
)
def grant_authorisation(
    body: AuthorisationGrant, node: AnchorDep, session: SessionDep, admin: AdminDep
) -> AuthorisationOut:
    """Record that a member may issue a credential type (a catalogue code), a series
    (``ENG-*``) or every type (``*``) from ``validFrom`` until ``validUntil`` (open when
    absent)."""
    row = anchor.authorise(
        session,
        admin,
        node.clock(),
        entity_id=body.entity_id,
        scope=body.scope,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    return authorisation_out(row)


@router.post(
    "/v1/federation/authorisations/{authorisation_id}/withdrawal",
    operation_id="withdrawFederationAuthorisation",
    responses={
        **_ADMIN_PROBLEMS,
        404: _problem("No such authorisation, or this entity is not a trust anchor"),
        409: _problem("Withdrawn already"),
        422: _problem("The body is malformed, or the reason is missing"),
    },
)
def withdraw_authorisation(
    authorisation_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: Withdrawal,
    node: AnchorDep,
    session: SessionDep,
    admin: AdminDep,
) -> AuthorisationOut:
    """End an authorisation now. Its period ends at the withdrawal (or its validUntil
    when earlier): credentials issued before stay authorised, later ones are not."""
    row = anchor.withdraw(session, admin, node.clock(), authorisation_id, body.reason)
    return authorisation_out(row)


router.include_router(spec_router)
