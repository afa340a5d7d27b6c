"""Request body limits (pure ASGI middleware): a declared Content-Length over the limit
is refused before the body is read; a body without a declared length is read up to
the limit before the endpoint sees it, and refused as soon as it grows past it. Both
answer 413 problem+json. (A server such as uvicorn never hands an application more
body than the Content-Length it declared.)"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.errors import PROBLEM_BASE_URI, PayloadTooLargeError


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
        body = json.dumps(
            {
                "type": PROBLEM_BASE_URI + PayloadTooLargeError.slug,
                "title": PayloadTooLargeError.title,
                "status": 413,
                "detail": f"the request body is over {limit} bytes (or its length is not a number)",
                "instance": path,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
