"""Every response the tests see, compared with what the OpenAPI document declares.

While the tests run, each answer of a registry node (an app carrying ``state.node``) is
recorded as (method, path, status, media type) at the ASGI boundary, so middleware
answers (413, 415, 429 ...) count as well as the endpoints'. The last test of the run
(:func:`test_every_observed_response_is_declared`, moved to the end at collection)
matches each path against the document's path templates and fails on any status code
or media type the document does not declare for that operation. Paths the document
leaves out on purpose (web pages, ``/docs``, problem type pages) are not compared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

OPENAPI = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
Message = MutableMapping[str, Any]
OBSERVED: set[tuple[str, str, int, str | None]] = set()
LAST_TEST = "test_every_observed_response_is_declared"

_original_call = FastAPI.__call__


async def _recording_call(
    self: FastAPI,
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http" or getattr(self.state, "node", None) is None:
        await _original_call(self, scope, receive, send)
        return

    async def recording_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            media = None
            for name, value in message.get("headers", ()):
                if name.lower() == b"content-type":
                    media = value.decode("latin-1").split(";", 1)[0].strip().lower()
            OBSERVED.add((scope["method"], scope["path"], message["status"], media))
        await send(message)

    await _original_call(self, scope, receive, recording_send)


def install() -> None:
    FastAPI.__call__ = _recording_call  # type: ignore[method-assign]


def move_last(items: list[pytest.Item]) -> None:
    last = [i for i in items if i.name == LAST_TEST]
    for item in last:
        items.remove(item)
        items.append(item)


@cache
def _templates() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    compiled = []
    for template, item in document["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        compiled.append((re.compile(f"^{pattern}$"), template, item))
    # Literal segments before parameters: /v1/keys/current before /v1/keys/{kid}.
    compiled.sort(key=lambda t: t[1].count("{"))
    return compiled


def undeclared(observed: set[tuple[str, str, int, str | None]]) -> list[str]:
    """What was seen but is not declared, one line per (operation, status, media type)."""
    problems = set()
    for method, path, status, media in observed:
        method = "get" if method == "HEAD" else method.lower()
        for pattern, template, item in _templates():
            if pattern.match(path) and method in item:
                responses = item[method].get("responses", {})
                declared = responses.get(str(status))
                if declared is None:
                    problems.add(f"{method.upper()} {template}: {status} not declared")
                elif media is not None and status not in (204, 304):
                    content = declared.get("content", {})
                    if media not in content:
                        problems.add(f"{method.upper()} {template}: {status} {media} not declared")
                break
    return sorted(problems)


def dump(path: str) -> None:
    """Write what was observed (for looking at a run's responses by hand)."""
    rows = sorted(OBSERVED, key=lambda r: (r[1], r[0], r[2], r[3] or ""))
    Path(path).write_text(json.dumps(rows, indent=0), encoding="utf-8")
