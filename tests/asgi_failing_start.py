"""An ASGI app whose start-up fails (its lifespan says so), for ``tests/test_workers.py``:
a worker process that cannot start."""

from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()  # lifespan.startup
        await send({"type": "lifespan.startup.failed", "message": "refused on purpose"})
