"""Public endpoints: health, DID document, JWKS, status lists, catalogue, schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from registry.credentials import catalogue, schemas, status
from registry.deps import NodeDep, ReadSessionDep
from registry.errors import NotFoundError
from registry.signing.did import did_web_document
from registry.signing.keys import public_key_to_jwk

router = APIRouter(tags=["public"])


class DidJSONResponse(JSONResponse):
    media_type = "application/did+json"


class SchemaJSONResponse(JSONResponse):
    media_type = "application/schema+json"


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


@router.get(
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
)
def status_list(
    purpose: Literal["revocation", "suspension"],
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
    node: NodeDep,
    session: ReadSessionDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A signed Bitstring Status List credential (>= 131,072 entries), with
    Cache-Control and an ETag; conditional requests get 304."""
    now = node.clock()
    row = status.get_list(session, purpose, number)
    if not status.list_is_fresh(row, now, node.settings.status_list_max_age, node.ring):
        with node.db.session() as write:
            row = status.current_list_credential(
                write,
                purpose,
                number,
                node.did,
                node.base_url,
                node.ring_in(write),
                now,
                node.settings.status_list_max_age,
            )
    assert row.signed_credential is not None
    assert row.etag is not None
    headers = {
        "ETag": row.etag,
        "Cache-Control": f"public, max-age={node.settings.status_list_max_age}",
    }
    if if_none_match is not None and _matches(if_none_match, row.etag):
        return Response(status_code=304, headers=headers)
    return Response(row.signed_credential, media_type="application/vc+json", headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: ``*`` matches any current representation; entity tags are
    compared weakly (``W/"x"`` matches ``"x"``)."""
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag.removeprefix("W/") in tags


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
