"""Request body limits (pure ASGI middleware): a declared Content-Length over the limit
is refused before the body is read; a body that grows past it while streaming is
refused as soon as it does. Both answer 413 problem+json."""

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
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLargeError(f"the request body is over {limit} bytes")
            return message

        await self.app(scope, limited, send)

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
