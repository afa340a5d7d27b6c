"""Public endpoints: health, DID document, JWKS, status lists, catalogue, schemas."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from registry.credentials import catalogue, schemas, status
from registry.deps import NodeDep, ReadSessionDep
from registry.errors import NotFoundError
from registry.node import NodeState
from registry.routing import DirectRoute
from registry.signing.did import did_web_document
from registry.signing.keys import public_key_to_jwk

router = APIRouter(tags=["public"])


class DidJSONResponse(JSONResponse):
    media_type = "application/did+json"


class SchemaJSONResponse(JSONResponse):
    media_type = "application/schema+json"


# First among the routes: a status list is what outside verifiers ask for most.
#: The status list's path parameters and conditional header, as the endpoint reads them
#: itself (FastAPI's parameter handling cost more than the rest of the request).
_STATUS_LIST_PARAMETERS: list[dict[str, Any]] = [
    {
        "in": "path",
        "name": "purpose",
        "required": True,
        "schema": {"enum": ["revocation", "suspension"], "title": "Purpose", "type": "string"},
    },
    {
        "in": "path",
        "name": "number",
        "required": True,
        "schema": {"maximum": 2**31 - 1, "minimum": 1, "title": "Number", "type": "integer"},
    },
    {
        "in": "header",
        "name": "if-none-match",
        "required": False,
        "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "If-None-Match"},
    },
]
_PURPOSES = ("revocation", "suspension")
_MAX_LIST_NUMBER = 2**31 - 1


def _status_list_key(request: Request) -> tuple[str, int]:
    """The list's purpose and number from the path, checked as the OpenAPI document
    declares them (422 problem+json otherwise)."""
    purpose = request.path_params.get("purpose")
    raw = request.path_params.get("number")
    errors: list[dict[str, Any]] = []
    if purpose not in _PURPOSES:
        errors.append(
            {
                "type": "literal_error",
                "loc": ("path", "purpose"),
                "msg": "Input should be 'revocation' or 'suspension'",
                "input": purpose,
            }
        )
    number = _list_number(raw, errors)
    return str(purpose), number


def _list_number(raw: object, errors: list[dict[str, Any]]) -> int:
    """The list number from the path (1 to 2³¹ − 1, ASCII digits); raises the 422 of
    ``errors`` and this one's, if any."""
    number = (
        int(raw) if isinstance(raw, str) and 0 < len(raw) <= 10 and raw.isascii() and raw.isdigit() else 0
    )
    if not 1 <= number <= _MAX_LIST_NUMBER:
        errors.append(
            {
                "type": "int_range",
                "loc": ("path", "number"),
                "msg": f"Input should be a whole number from 1 to {_MAX_LIST_NUMBER}",
                "input": raw,
            }
        )
    if errors:
        raise RequestValidationError(errors)
    return number


_Endpoint = Callable[[Request], Awaitable[Response]]


def _direct(path: str, **kwargs: Any) -> Callable[[_Endpoint], _Endpoint]:
    """``router.get`` for an endpoint that takes the request alone and checks it
    itself, called without FastAPI's request handling (:class:`DirectRoute`)."""

    def add(endpoint: _Endpoint) -> _Endpoint:
        router.add_api_route(path, endpoint, methods=["GET"], route_class_override=DirectRoute, **kwargs)
        return endpoint

    return add


class StatusListTokenResponse(Response):
    media_type = status.TOKEN_LIST_MEDIA_TYPE


_TOKEN_LIST_PARAMETERS: list[dict[str, Any]] = [
    _STATUS_LIST_PARAMETERS[1],
    _STATUS_LIST_PARAMETERS[2],
]


@_direct(
    "/status/token/{number}",
    operation_id="getStatusListToken",
    response_class=StatusListTokenResponse,
    responses={
        200: {
            "description": (
                "The signed Status List Token (draft-ietf-oauth-status-list §5, JWT, EdDSA) of "
                "revocation list `number`: 2 bits an entry, 0 valid, 1 revoked, 2 suspended"
            ),
            "content": {status.TOKEN_LIST_MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        404: {"description": "No such list", "content": {"application/problem+json": {}}},
    },
    openapi_extra={"parameters": _TOKEN_LIST_PARAMETERS},
)
async def status_list_token(request: Request) -> Response:
    """The Token Status List of revocation list `number`, which the `status` claim of
    this node's SD-JWT VCs names (`status.status_list.uri`, `idx`), with `Cache-Control`
    as the Bitstring lists have it and a strong ETag (`If-None-Match` → 304).

    Served from the node's memory as the Bitstring lists are: a revocation or
    suspension made through this node process is served at once; one made by another
    worker process or the command line within 5 seconds. The token is signed again
    when half of its validity has passed."""
    number = _list_number(request.path_params.get("number"), [])
    node: NodeState = request.app.state.node
    now = node.clock()
    served = node.status_cache.served
    item = served.current_token(number, now, node.last_ring)
    if item is None:
        item = await run_in_threadpool(served.load_token, node.db, number, **_loading(node, now))
    return _conditional(request, node, item.etag, item.body, status.TOKEN_LIST_MEDIA_TYPE)


@_direct(
    "/status/{purpose}/{number}",
    operation_id="getStatusList",
    responses={
        200: {
            "description": "The signed BitstringStatusListCredential (eddsa-jcs-2022)",
            "content": {"application/vc+json": {}},
        },
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        404: {"description": "No such list", "content": {"application/problem+json": {}}},
    },
    openapi_extra={"parameters": _STATUS_LIST_PARAMETERS},
)
async def status_list(request: Request) -> Response:
    """A signed Bitstring Status List credential (>= 131,072 entries), with
    Cache-Control (`max-age` is `STATUS_LIST_MAX_AGE`) and a strong ETag; a conditional
    request whose `If-None-Match` names the current ETag gets 304.

    Served from the node's memory: a status change made through this node process is
    served at once; one made by another worker process or the command line within
    5 seconds (the node compares the list's ETag with its database at most that often).
    The list is signed again when half of its validity has passed."""
    purpose, number = _status_list_key(request)
    node: NodeState = request.app.state.node
    now = node.clock()
    served = node.status_cache.served
    item = served.current(purpose, number, now, node.last_ring)
    if item is None:
        item = await run_in_threadpool(served.load, node.db, purpose, number, **_loading(node, now))
    return _conditional(request, node, item.etag, item.body, "application/vc+json")


def _loading(node: NodeState, now: datetime) -> dict[str, Any]:
    """What reading a served list or token again (and signing it when due) needs."""
    return {
        "did": node.did,
        "base_url": node.base_url,
        "ring": lambda: node.ring,
        "ring_in": node.ring_in,
        "now": now,
        "ttl": node.settings.status_list_max_age,
    }


def _conditional(request: Request, node: NodeState, etag: str, body: bytes, media_type: str) -> Response:
    """The list with its ETag and Cache-Control, or 304 when If-None-Match names it."""
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={node.settings.status_list_max_age}"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: ``*`` matches any current representation; entity tags are
    compared weakly (``W/"x"`` matches ``"x"``)."""
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag.removeprefix("W/") in tags


@router.get("/health", operation_id="getHealth")
async def health(node: NodeDep) -> dict[str, str]:
    """Liveness: the node answers and holds a key valid for signing now. Answered on
    the event loop from the ring last loaded (at most seconds old), so it needs neither
    a worker thread nor a database connection and answers while either is scarce."""
    ring = node.last_ring
    if ring is None:
        ring = await run_in_threadpool(lambda: node.ring)
    signing = "ok" if ring.valid_at(node.clock()) else "no-valid-signing-key"
    return {"status": "ok", "signing": signing, "did": node.did}


@router.get("/.well-known/did.json", operation_id="getDidDocument", response_class=DidJSONResponse)
def did_document(node: NodeDep) -> dict[str, Any]:
    """The node's did:web document: active and retired keys, never compromised ones."""
    return did_web_document(node.did, node.ring, node.clock())


@router.get("/.well-known/jwks.json", operation_id="getJwks")
def jwks(node: NodeDep) -> dict[str, list[dict[str, str]]]:
    """The node's public keys as a JWK Set (RFC 7517), kid = RFC 7638 thumbprint."""
    keys = [
        {**public_key_to_jwk(r.public_key), "kid": r.kid, "use": "sig", "alg": "EdDSA"}
        for r in node.ring.published_at(node.clock())
    ]
    return {"keys": keys}


@router.get("/v1/catalogue", operation_id="listCredentialTypes")
def list_catalogue(
    session: ReadSessionDep,
    kind: Annotated[Literal["title", "qualification", "skill"] | None, Query()] = None,
) -> list[catalogue.CredentialTypeOut]:
    """The catalogue of credential types this node issues (bilingual names, stable codes)."""
    return [catalogue.to_public(row) for row in catalogue.list_types(session, kind)]


@router.get("/v1/catalogue/{code}", operation_id="getCredentialType")
def get_catalogue_entry(code: str, session: ReadSessionDep) -> catalogue.CredentialTypeOut:
    return catalogue.to_public(catalogue.get_type(session, code))


@router.get("/schemas/{name}/v1.json", operation_id="getCredentialSchema", response_class=SchemaJSONResponse)
def credential_schema(name: str) -> dict[str, Any]:
    """The JSON Schema a credential names in ``credentialSchema``."""
    if name not in schemas.SCHEMA_NAMES:
        raise NotFoundError(f"no schema {name!r}")
    return schemas.schema(name)
