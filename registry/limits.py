"""What every request passes before any route sees it, in one pure ASGI middleware
(:class:`RequestGuard`): body limits, no secrets in the query string, strict JSON.

Request body limits. Each route has the limit it needs (a
sign-in a few KiB, a batch megabytes; see ``RequestGuard.routes``): a declared
Content-Length over it is refused before the body is read; a body without a declared
length is refused as soon as it grows past it. Both answer 413 problem+json. (A server
such as uvicorn never hands an application more body than the Content-Length it
declared.)

Large bodies belong to routes that authenticate the caller *before* they read it
(``deferred`` routes): the middleware neither buffers nor parses them, so an anonymous
client cannot make the node read, let alone parse, megabytes; those routes read their
body with :func:`read_json_body`, which parses off the event loop."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.errors import PROBLEM_BASE_URI, InvalidInputError, PayloadTooLargeError, RegistryError
from registry.signing import jcs

#: Bodies up to this size are parsed on the event loop (well under a millisecond);
#: larger ones in a worker thread, so that other requests keep being answered.
INLINE_PARSE_BYTES = 32 << 10


def route_limit(routes: Sequence[tuple[str, int]], path: str, default: int) -> int:
    """The limit of the first route that matches ``path`` exactly, or as a prefix when
    the route ends with ``/``."""
    for route, limit in routes:
        if path == route or (route.endswith("/") and path.startswith(route)):
            return limit
    return default


def _counting(receive: Receive, limit: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLargeError(f"the request body is over {limit} bytes")
        return message

    return counted


PARSED_BODY = "strict_json_body"


def strict_json_body(request: Request) -> Any:
    """The request's JSON body as :class:`RequestGuard` read it; LookupError when
    it did not (the body was not sent as JSON)."""
    state = request.scope.get("state") or {}
    if PARSED_BODY in state:
        return state[PARSED_BODY]
    raise LookupError("body not parsed by RequestGuard")


async def parse_json(raw: bytes) -> Any:
    """``raw`` read by the strict parser: inline when small, else in a worker thread."""
    if len(raw) <= INLINE_PARSE_BYTES:
        return jcs.loads(raw)
    return await run_in_threadpool(jcs.loads, raw)


async def read_json_body(request: Request) -> Any:
    """The request's JSON body, read and strictly parsed now (for routes whose large
    bodies the middleware leaves alone until the caller is authenticated)."""
    try:
        return strict_json_body(request)
    except LookupError:
        pass
    raw = await request.body()
    try:
        data = await parse_json(raw)
    except RegistryError as exc:
        raise InvalidInputError(f"malformed JSON: {exc.detail}") from None
    request.scope.setdefault("state", {})[PARSED_BODY] = data
    return data


def json_body(request: Request, raw: bytes) -> Any:
    """The body as JSON, read once and strictly: the middleware's parse when there is
    one (JSON media types), else the strict parser on ``raw`` (e.g. application/vc)."""
    try:
        return strict_json_body(request)
    except LookupError:
        try:
            return jcs.loads(raw)
        except RegistryError as exc:
            raise InvalidInputError(f"malformed JSON: {exc.detail}") from None


async def _problem(send: Send, path: str, status: int, slug: str, title: str, detail: str) -> None:
    body = json.dumps(
        {
            "type": PROBLEM_BASE_URI + slug,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


#: Query parameter names under which clients put secrets (RFC 6750 §2.3 names one).
_SECRET_PARAMETERS = frozenset({b"access_token", b"api_key", b"apikey", b"key", b"token"})


#: At most this many paths keep their looked-up limit (paths are the client's choice).
_MEMO_PATHS = 4096


class RequestGuard:
    """Three checks in one pure ASGI layer (one hand-over per request, the headers
    read once), in this order:

    1. **Body limits.** A declared Content-Length over the route's limit (or not a
       number) is answered 413 before the body is read. A body without a declared
       length is read up to the limit first and answered 413 as soon as it grows past
       it, before any endpoint parses it; on ``deferred`` routes it is instead counted
       as the endpoint reads it (after it authenticated the caller), and cut off past
       the limit. A request with neither header has no body (RFC 9112 §6.3).
    2. **No secrets in the query.** A request whose query string carries an API key or
       a bearer token is refused (400), not served and not silently ignored: query
       strings end up in access logs, proxies and browser histories, and a client
       that sends a key there must learn to send it in the Authorization header (and
       should rotate it).
    3. **Strict JSON.** JSON request bodies are read with the registry's strict parser
       before any endpoint parses them: duplicate member names (which parsers resolve
       differently, so that a signed credential could say two things), invalid UTF-8
       and NaN are answered 422 problem+json. The body is already bounded (1.). Bodies
       of ``deferred`` routes are left to the endpoint (:func:`read_json_body`), which
       reads them only after the caller is authenticated.
    """

    def __init__(
        self,
        app: ASGIApp,
        default: int,
        routes: Sequence[tuple[str, int]],
        deferred: Sequence[str] = (),
        *,
        key_prefix: str,
    ) -> None:
        self.app = app
        self.default = default
        self.routes = tuple(routes)
        self.deferred = tuple((d, 1) for d in deferred)
        # The whole shape of an API key (prefix, 12 hex digits, 43 base64url characters),
        # so that ordinary values that merely start with the prefix (an entity type such
        # as yrd_credential_issuer) pass.
        self.key_shape = re.compile(re.escape(key_prefix.encode()) + rb"[0-9a-f]{12}_[A-Za-z0-9_-]{43}")
        self._by_path: dict[str, tuple[int, bool]] = {}

    def _route(self, path: str) -> tuple[int, bool]:
        """(body limit, deferred) of ``path``, remembered for the paths seen most."""
        found = self._by_path.get(path)
        if found is None:
            found = route_limit(self.routes, path, self.default), bool(route_limit(self.deferred, path, 0))
            if len(self._by_path) < _MEMO_PATHS:
                self._by_path[path] = found
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        lengths: list[bytes] = []
        chunked = False
        media: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                lengths.append(value)
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-type" and media is None:
                media = value.split(b";")[0].strip().lower()
        limit, deferred = self._route(path)

        # 1. Body limits.
        if lengths:
            for length in lengths:
                try:
                    declared = int(length)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    await _refuse_size(send, path, limit)
                    return
        elif chunked and deferred:
            # Read by the endpoint after it authenticated the caller: count as it
            # reads, and cut the request off when the body grows past the limit.
            receive = _counting(receive, limit)
        elif chunked:
            # No declared length: read up to the limit first, so that an oversized body
            # is answered 413 before any endpoint parses it.
            buffered: list[Message] = []
            received = 0
            while True:
                message = await receive()
                buffered.append(message)
                if message["type"] != "http.request":
                    break
                received += len(message.get("body", b""))
                if received > limit:
                    await _refuse_size(send, path, limit)
                    return
                if not message.get("more_body", False):
                    break
            receive = _replay(buffered, receive)

        # 2. No secrets in the query string.
        query: bytes = scope.get("query_string", b"")
        if query and self._carries_secret(query):
            await _problem(
                send,
                path,
                400,
                "credentials-in-query",
                "Credentials in the query string",
                "send API keys and access tokens in the Authorization header, never in the URL; "
                "a key that was sent in a URL may be in logs: rotate it",
            )
            return

        # 3. Strict JSON.
        if (
            media is None
            or not (media == b"application/json" or media.endswith(b"+json"))
            or scope["method"] in ("GET", "HEAD")
            or deferred
        ):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if body:
            try:
                # Kept for the endpoint (strict_json_body), which need not parse again.
                scope.setdefault("state", {})[PARSED_BODY] = await parse_json(body)
            except RegistryError as exc:
                detail = f"malformed JSON: {exc.detail}"
                await _problem(send, path, 422, "invalid-request", "Request is not valid", detail)
                return
        await self.app(scope, _replay(messages, receive), send)

    def _carries_secret(self, query: bytes) -> bool:
        for pair in query.split(b"&"):
            name, _, value = pair.partition(b"=")
            value = unquote_to_bytes(value.replace(b"+", b" "))
            if unquote_to_bytes(name).lower() in _SECRET_PARAMETERS or self.key_shape.search(value):
                return True
        return False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that first hands out ``messages`` (already read), then reads on."""

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


#: The web pages' paths (registry/web): a form posted there that is too large gets a page.
_PAGE_PREFIXES = ("/verify", "/holder", "/hr", "/officer")
#: What a person sees when a page's form is too large (the pages' limits are the API's).
_TOO_LARGE_PAGE = """<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>文件太大 · File too large</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main id="main" class="container">
<h1>文件太大 <span lang="en">File too large</span></h1>
<div class="notice notice-error" role="alert">
<p>提交的内容超过了上限（一个证书文件最多 256 KiB，批量文件最多 8 MiB），未被读取，也没有保存任何内容。</p>
<p lang="en">What was sent is over the limit (a credential file is at most 256 KiB, a batch file
at most 8 MiB). It was not read and nothing was saved.</p>
</div>
<p><a href="/verify">返回核验页面</a> ·
<a href="/verify?lang=en" lang="en">Back to verification</a></p>
</main></body></html>
""".encode()


def _is_page(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in _PAGE_PREFIXES)


async def _refuse_size(send: Send, path: str, limit: int) -> None:
    if _is_page(path):
        await _too_large_page(send)
        return
    detail = f"the request body is over {limit} bytes (or its length is not a number)"
    await _problem(send, path, 413, PayloadTooLargeError.slug, PayloadTooLargeError.title, detail)


async def _too_large_page(send: Send) -> None:
    """413 as a page, with the pages' security headers (no script, nothing from elsewhere)."""
    from registry.web.pages import CONTENT_SECURITY_POLICY

    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(_TOO_LARGE_PAGE)).encode()),
                (b"content-language", b"zh-CN, en"),
                (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _TOO_LARGE_PAGE})
