"""No unauthenticated freeze: each route has the body limit it needs, large bodies are
read only after the caller is authenticated, nesting is bounded, large JSON is parsed
off the event loop, and secrets in query strings are refused. (The /health latency
under each hostile body is measured by bench/hostile_bodies.py, not timed here.)"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry import limits
from registry.signing import jcs
from registry.signing.errors import CanonicalizationError
from tests.conftest import Actors


def _nested(depth: int) -> Any:
    """``depth`` arrays, one inside the other, around a number."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


async def _asgi(
    app: Any, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, int]:
    """Send a request straight to the ASGI app; answer its status and how many body
    bytes the app read."""
    consumed = 0
    pending = list(chunks)
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.5", 5000),
        "server": ("127.0.0.1", 8032),
        "state": {},
    }
    await app(scope, receive, send)
    return status, consumed


@pytest.mark.parametrize(
    ("path", "size"),
    [("/v1/auth/token", 3 << 10), ("/v1/holder/registration", 3 << 10), ("/v1/accounts", 5 << 10)],
)
def test_small_routes_have_small_body_limits(client: TestClient, path: str, size: int) -> None:
    body = json.dumps({"username": "x" * size, "password": "y"})
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/verifications/batch"), ("PUT", "/v1/issuance/batches/b-1")]
)
def test_anonymous_large_bodies_are_not_read_before_authentication(
    client: TestClient, method: str, path: str
) -> None:
    chunk = b"[" + b"1," * (32 << 10) + b"1]"
    chunks = [chunk] * 32  # 2 MiB, declared (under both routes' limits)
    headers = {"content-type": "application/json", "content-length": str(len(chunk) * 32)}
    status, consumed = asyncio.run(_asgi(client.app, method, path, headers, chunks))
    assert status == 401
    assert consumed == 0


def test_authenticated_batches_are_read_and_parsed_strictly(client: TestClient, actors: Actors) -> None:
    doubled = b'{"credentials":["a"],"credentials":["b"]}'
    hr = {**actors.hr(), "Content-Type": "application/json"}
    response = client.post("/v1/verifications/batch", content=doubled, headers=hr)
    assert response.status_code == 422
    assert "duplicate" in response.json()["detail"]


def test_a_chunked_body_past_a_deferred_routes_limit_is_cut_off(client: TestClient, actors: Actors) -> None:
    hr = {**actors.hr(), "Content-Type": "application/json"}

    def body() -> Any:
        yield b'{"credentials":['
        for _ in range(9 * 16):  # 9 MiB, over the 4 MiB of a verification batch
            yield b'"' + b"x" * (64 << 10) + b'",'
        yield b'"x"]}'

    response = client.post("/v1/verifications/batch", content=body(), headers=hr)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_large_json_bodies_are_parsed_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = jcs.loads

    def recording(text: str | bytes) -> Any:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return real(text)

    monkeypatch.setattr(limits.jcs, "loads", recording)
    small = json.dumps({"verifiableCredential": {"a": 1}}).encode()
    large = json.dumps({"verifiableCredential": {"a": ["x" * 100] * 1000}}, indent=1).encode()
    for body in (small, large):
        client.post("/credentials/verify", content=body, headers={"Content-Type": "application/json"})
    assert seen == [True, False]  # the small one inline, the large one in a worker thread


def test_nesting_is_bounded_on_the_slow_path() -> None:
    deep_ok = json.dumps(_nested(jcs.MAX_DEPTH), indent=1)
    assert jcs.loads(deep_ok) == _nested(jcs.MAX_DEPTH)
    with pytest.raises(CanonicalizationError, match="nested deeper"):
        jcs.loads(json.dumps(_nested(jcs.MAX_DEPTH + 1), indent=1))


def test_nesting_is_bounded_on_large_compact_texts() -> None:
    big_deep = json.dumps([["x" * 20_000], _nested(jcs.MAX_DEPTH + 5)], separators=(",", ":"))
    with pytest.raises(CanonicalizationError, match="nested deeper"):
        jcs.loads(big_deep)
    # A small compact text costs little whatever its depth (orjson stops at 1,024).
    small_deep = json.dumps(_nested(200), separators=(",", ":"))
    assert jcs.loads(small_deep) == _nested(200)


def test_a_deeply_nested_body_is_refused_with_problem_json(client: TestClient) -> None:
    body = json.dumps({"verifiableCredential": _nested(500)}, indent=1)
    response = client.post("/credentials/verify", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "nested" in response.json()["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "api_key=yrd_abc_def",
        "access_token=eyJhbGciOi",
        "x=1&key=whatever",
        "q=yrd%5Ffffe5dca3192_mtF2usq208-Fs5c-8qDH9vv11Lvyk8KI22UIpnw6DFI",
        "Token=abc",
    ],
)
def test_secrets_in_query_strings_are_refused(client: TestClient, actors: Actors, query: str) -> None:
    response = client.get(f"/v1/catalogue?{query}")
    assert response.status_code == 400
    assert response.json()["type"].endswith("/credentials-in-query")
    hr = actors.hr()
    verify = client.post(f"/v1/verifications?{query}", json={"credential": {}}, headers=hr)
    assert verify.status_code == 400


def test_ordinary_query_strings_pass(client: TestClient) -> None:
    assert client.get("/v1/catalogue?kind=title").status_code == 200
    # A value that only starts with the key prefix is no key (an entity type, say).
    assert client.get("/v1/catalogue?kind=title&x=yrd_credential_issuer").status_code == 200


def test_large_credentials_are_verified_off_the_event_loop(
    client: TestClient, actors: Actors, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.routes import verification

    seen: list[bool] = []
    real = verification.verify_for

    def recording(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return real(*args, **kwargs)

    monkeypatch.setattr(verification, "verify_for", recording)
    hr = actors.hr()
    small = {"credential": {"type": ["VerifiableCredential"]}}
    large = {"credential": {"type": ["VerifiableCredential"], "evidence": ["x" * 100] * 1000}}
    for body in (small, large):
        assert client.post("/v1/verifications", json=body, headers=hr).status_code == 200
    assert seen == [True, False]  # an ordinary credential inline, a large one in a thread


def test_element_counts_are_bounded() -> None:
    many = "[" + ",".join(["1"] * (jcs.MAX_ELEMENTS + 1)) + "]"
    with pytest.raises(CanonicalizationError, match="more than"):
        jcs.loads(many)
    # Pretty text (the slow path) too.
    with pytest.raises(CanonicalizationError, match="more than"):
        jcs.loads(many.replace(",", ", "))
    assert len(jcs.loads("[" + ",".join(["1"] * 1000) + "]")) == 1000
