"""The registry's JSON-LD context and its SD-JWT VC Type Metadata, served by every node
at the paths of their URLs.

Credentials name ``https://registry.yrd.example/ns/talent/v1``; each node answers
``GET /ns/talent/v1`` with the exact pinned bytes (:mod:`registry.contexts`), so the
context resolves wherever a credential is checked and its digest is the same from every
node. The same holds for the Type Metadata of each ``vct`` (``GET /vct/<name>/v1``,
:mod:`registry.credentials.type_metadata`), whose SHA-256 the SD-JWT VCs carry as
``vct#integrity``. A version never changes, so it is cached for a year and marked
immutable.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response

from registry.contexts import MEDIA_TYPE, PINNED, TALENT_V1, TALENT_V1_PATH, context_bytes
from registry.credentials import type_metadata
from registry.errors import NotFoundError

router = APIRouter(tags=["public"])

_SHA256 = {pinned.url: pinned.sha256 for pinned in PINNED}
#: One year: a published context version never changes.
MAX_AGE = 365 * 24 * 3600


def _matches(if_none_match: str, etag: str) -> bool:
    # RFC 9110 §13.1.2: "*" matches any current representation; weak comparison.
    if if_none_match.strip() == "*":
        return True
    return etag in (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))


@router.get(
    TALENT_V1_PATH,
    operation_id="getRegistryContext",
    response_class=Response,
    responses={
        200: {
            "description": "The registry's JSON-LD context (exact pinned bytes; SHA-256 in the ETag)",
            "content": {MEDIA_TYPE: {}},
        },
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
    },
)
async def registry_context(if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The JSON-LD context ``https://registry.yrd.example/ns/talent/v1`` that the
    registry's credentials name: every term they use beyond the VC 2.0 base context."""
    return _immutable(context_bytes(TALENT_V1), MEDIA_TYPE, _SHA256[TALENT_V1], if_none_match)


def _immutable(data: bytes, media_type: str, sha256: str, if_none_match: str | None) -> Response:
    """A published version's exact bytes: its SHA-256 the ETag, cached a year, readable
    cross-origin (browsers' JSON-LD processors and wallets load them so)."""
    etag = f'"sha256-{sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={MAX_AGE}, immutable",
        "Access-Control-Allow-Origin": "*",
    }
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


_TYPES = {pinned.path.removeprefix("/vct/").removesuffix("/v1"): pinned for pinned in type_metadata.PINNED}


@router.get(
    "/vct/{name}/v1",
    operation_id="getTypeMetadata",
    response_class=Response,
    responses={
        200: {
            "description": "SD-JWT VC Type Metadata of the type (exact pinned bytes; SHA-256 in the ETag "
            "and in the credentials' vct#integrity)",
            "content": {type_metadata.MEDIA_TYPE: {}},
        },
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        404: {"description": "No such type", "content": {"application/problem+json": {}}},
    },
)
async def vct_type_metadata(
    name: Annotated[
        str, Path(description="professional-title, professional-qualification or vocational-skill")
    ],
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The SD-JWT VC Type Metadata (draft-ietf-oauth-sd-jwt-vc) of the registry's
    ``vct`` ``https://registry.yrd.example/vct/<name>/v1``: the type's and each claim's
    name in Chinese and English, which claims are selectively disclosable and which the
    issuer always includes."""
    pinned = _TYPES.get(name)
    if pinned is None:
        raise NotFoundError(f"the registry has no credential type {name[:64]!r} (类型元数据不存在)")
    data = type_metadata.document_bytes(pinned.vct)
    return _immutable(data, type_metadata.MEDIA_TYPE, pinned.sha256, if_none_match)
