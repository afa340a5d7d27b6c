"""The registry's JSON-LD context, served by every node at the path of its URL.

Credentials name ``https://registry.yrd.example/ns/talent/v1``; each node answers
``GET /ns/talent/v1`` with the exact pinned bytes (:mod:`registry.contexts`), so the
context resolves wherever a credential is checked and its digest is the same from every
node. A version never changes, so it is cached for a year and marked immutable.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from registry.contexts import MEDIA_TYPE, PINNED, TALENT_V1, TALENT_V1_PATH, context_bytes

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
    etag = f'"sha256-{_SHA256[TALENT_V1]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={MAX_AGE}, immutable",
        # JSON-LD processors in browsers load contexts cross-origin.
        "Access-Control-Allow-Origin": "*",
    }
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(context_bytes(TALENT_V1), media_type=MEDIA_TYPE, headers=headers)
