"""Request body limits (pure ASGI middleware): a declared Content-Length over the limit
is refused before the body is read; a body without a declared length is read up to
the limit before the endpoint sees it, and refused as soon as it grows past it. Both
answer 413 problem+json. (A server such as uvicorn never hands an application more
body than the Content-Length it declared.)"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.errors import PROBLEM_BASE_URI, InvalidInputError, PayloadTooLargeError, RegistryError
from registry.signing import jcs


class BodyLimit:
    def __init__(self, app: ASGIApp, default: int, large: int, large_prefixes: Sequence[str]) -> None:
        self.app = app
        self.default = default
        self.large = large
        self.large_prefixes = tuple(large_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.large if path.startswith(self.large_prefixes) else self.default
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    await self._refuse(send, path, limit)
                    return
        if not any(name == b"content-length" for name, _ in scope["headers"]):
            # No declared length (chunked): read up to the limit first, so that an
            # oversized body is answered 413 before any endpoint parses it.
            buffered: list[Message] = []
            received = 0
            while True:
                message = await receive()
                buffered.append(message)
                if message["type"] != "http.request":
                    break
                received += len(message.get("body", b""))
                if received > limit:
                    await self._refuse(send, path, limit)
                    return
                if not message.get("more_body", False):
                    break

            async def replay() -> Message:
                return buffered.pop(0) if buffered else await receive()

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(send: Send, path: str, limit: int) -> None:
        detail = f"the request body is over {limit} bytes (or its length is not a number)"
        await _problem(send, path, 413, PayloadTooLargeError.slug, PayloadTooLargeError.title, detail)


PARSED_BODY = "strict_json_body"


def strict_json_body(request: Request) -> Any:
    """The request's JSON body as :class:`StrictJSONBodies` read it; LookupError when
    it did not (the body was not sent as JSON)."""
    state = request.scope.get("state") or {}
    if PARSED_BODY in state:
        return state[PARSED_BODY]
    raise LookupError("body not parsed by StrictJSONBodies")


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


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return bool(media == b"application/json" or media.endswith(b"+json"))
    return False


class StrictJSONBodies:
    """JSON request bodies are read with the registry's strict parser before any
    endpoint parses them: duplicate member names (which parsers resolve differently, so
    that a signed credential could say two things), invalid UTF-8 and NaN are answered
    422 problem+json. Runs inside :class:`BodyLimit`, so the body is already bounded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD") or not _is_json(scope):
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
        body = b"".join(chunks)
        if body:
            try:
                # Kept for the endpoint (strict_json_body), which need not parse again.
                scope.setdefault("state", {})[PARSED_BODY] = jcs.loads(body)
            except RegistryError as exc:
                await _problem(
                    send,
                    scope["path"],
                    422,
                    "invalid-request",
                    "Request is not valid",
                    f"malformed JSON: {exc.detail}",
                )
                return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


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
