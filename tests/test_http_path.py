"""The HTTP verification path (issue 11, point 3): with the node's caches warm, the
dependencies of ``POST /v1/verifications`` and the VC API's ``/credentials/verify`` run
on the event loop, without a hand-over to a worker thread; a key not in the cache is
still looked up (in a worker thread), a deactivated key is refused within the cache's
bound, the shared rate limiter's database write stays off the event loop, and the
request checks are one middleware layer."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from registry import deps
from registry.auth import ApiKeyCache, RateLimiter, SharedRateLimiter
from registry.limits import RequestGuard
from registry.models import HrClient
from registry.node import NodeState
from tests.conftest import Actors
from tests.test_status import issue


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def node_of(client: TestClient) -> NodeState:
    node: NodeState = client.app.state.node  # type: ignore[attr-defined]
    return node


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every hand-over to a worker thread meanwhile (FastAPI's sync dependencies and
    endpoints, ``run_in_threadpool`` and ``anyio.to_thread`` all go through it)."""
    seen: list[Any] = []
    original = anyio.to_thread.run_sync

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(fn)
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return seen


def verify(client: TestClient, vc: dict[str, Any], hr: dict[str, str]) -> Any:
    response = client.post("/v1/verifications", json={"credential": vc}, headers=hr)
    return response


def test_the_dependencies_of_the_verification_path_are_coroutines() -> None:
    assert inspect.iscoroutinefunction(deps.get_node)
    assert inspect.iscoroutinefunction(deps.authenticate)


def test_a_verification_with_a_cached_key_makes_no_thread_hop(
    client: TestClient, actors: Actors, hops: list[Any]
) -> None:
    vc = issue(client, actors.officer())["verifiableCredential"]
    hr = actors.hr()
    assert verify(client, vc, hr).json()["verdict"] == "valid"  # warms the key and the status list
    hops.clear()
    for _ in range(5):
        response = verify(client, vc, hr)
        assert response.status_code == 200, response.text
        assert response.json()["verdict"] == "valid"
    assert hops == []


def test_a_key_not_in_the_cache_is_looked_up_in_a_worker_thread(
    client: TestClient, actors: Actors, hops: list[Any]
) -> None:
    vc = issue(client, actors.officer())["verifiableCredential"]
    verify(client, vc, actors.hr())  # the status list and holder warm
    hr = actors.hr()  # a key never seen
    hops.clear()
    response = verify(client, vc, hr)
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "valid"
    assert len(hops) == 1  # the key's database look-up, and nothing else
    hops.clear()
    assert verify(client, vc, hr).status_code == 200
    assert hops == []  # cached now


def test_an_unknown_key_is_refused(client: TestClient) -> None:
    bogus = "yrd_0123456789ab_" + "A" * 43
    response = client.post(
        "/v1/verifications", json={"credential": "a.b.c"}, headers={"Authorization": f"Bearer {bogus}"}
    )
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_deactivated_key_is_refused_within_the_cache_bound(client: TestClient, actors: Actors) -> None:
    node = node_of(client)
    clock = FakeMonotonic()
    node.api_keys = ApiKeyCache(clock=clock)
    hr = actors.hr()
    assert verify(client, {"not": "a credential"}, hr).status_code in (200, 422)  # cached now
    with node.db.session() as session:
        session.exec(update(HrClient).values(active=False))  # type: ignore[call-overload]
    # Within the bound the cached key still passes (no database read per request)...
    clock.now += node.api_keys.ttl - 0.5
    assert verify(client, {"not": "a credential"}, hr).status_code != 401
    # ...and past it the key is looked up again and refused.
    clock.now += 1.0
    refused = verify(client, {"not": "a credential"}, hr)
    assert refused.status_code == 401, refused.text


def test_the_rate_limit_still_holds_on_the_event_loop(client: TestClient, actors: Actors) -> None:
    node = node_of(client)
    node.limiter = RateLimiter(FakeMonotonic())
    hr = actors.hr(rate=2)
    assert client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=hr).status_code == 200
    assert client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=hr).status_code == 200
    refused = client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=hr)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) >= 1


def test_the_shared_rate_limiter_writes_from_a_worker_thread(client: TestClient, actors: Actors) -> None:
    node = node_of(client)
    shared = SharedRateLimiter(node.db.write_engine)
    node.limiter = shared
    on_loop: list[bool] = []
    take = shared.take

    def recording(*args: Any, **kwargs: Any) -> None:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        take(*args, **kwargs)

    shared.take = recording  # type: ignore[method-assign]
    hr = actors.hr(rate=2)
    for _ in range(2):
        assert client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=hr).status_code == 200
    assert client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=hr).status_code == 429
    assert on_loop == [False, False, False]


def test_an_access_token_still_reads_its_account(client: TestClient, actors: Actors, hops: list[Any]) -> None:
    officer = actors.officer()
    hops.clear()
    # An officer has no verify scope: authenticated (one read of the account), then refused.
    response = client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=officer)
    assert response.status_code == 403, response.text
    assert len(hops) == 1


def test_the_vc_api_verification_makes_no_thread_hop_when_warm(
    client: TestClient, actors: Actors, hops: list[Any]
) -> None:
    vc = issue(client, actors.officer())["verifiableCredential"]
    first = client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert first.status_code == 200, first.text
    hops.clear()
    for _ in range(3):
        response = client.post("/credentials/verify", json={"verifiableCredential": vc})
        assert response.status_code == 200, response.text
        assert response.json()["verified"] is True
    assert hops == []


def test_the_request_checks_are_one_middleware_layer(client: TestClient) -> None:
    layers = [m.cls for m in client.app.user_middleware]  # type: ignore[attr-defined]
    assert layers == [RequestGuard]


def test_a_warm_verification_opens_no_database_session(
    client: TestClient, actors: Actors, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the caches warm, a verification asks the database nothing, and now does not
    even make a session for it (an unused one cost about a tenth of a verification);
    a revoked credential's reason is still read, through a session opened on demand."""
    officer = actors.officer()
    record = issue(client, officer)
    hr = actors.hr()
    assert verify(client, record["verifiableCredential"], hr).json()["verdict"] == "valid"
    node = node_of(client)
    opened: list[bool] = []
    original = node.db.session

    def counted(*, write: bool = True) -> Any:
        opened.append(write)
        return original(write=write)

    monkeypatch.setattr(node.db, "session", counted)
    for _ in range(3):
        assert verify(client, record["verifiableCredential"], hr).json()["verdict"] == "valid"
        vc_api = client.post(
            "/credentials/verify", json={"verifiableCredential": record["verifiableCredential"]}
        )
        assert vc_api.status_code == 200, vc_api.text
    # (Write sessions are the audit writer's, in its own thread, batching the records.)
    assert [write for write in opened if not write] == []
    monkeypatch.setattr(node.db, "session", original)
    revoked = client.post(
        f"/v1/credentials/{record['id']}/revocation",
        json={"reasonCode": "research_misconduct"},
        headers=officer,
    )
    assert revoked.status_code == 200, revoked.text
    monkeypatch.setattr(node.db, "session", counted)
    answer = verify(client, record["verifiableCredential"], hr).json()
    status = next(c for c in answer["checks"] if c["check"] == "status")
    assert status["code"] == "status-revoked"
    assert [write for write in opened if not write] == [False]  # the reason, read on demand
