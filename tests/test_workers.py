"""Several workers, one database (issue 11 point 4): HR clients' rate limits shared in
the database (SharedRateLimiter), the settings that allow several workers only on
PostgreSQL, and ``registry serve --workers 2`` as real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from registry.app import create_app
from registry.auth import SharedRateLimiter
from registry.database import Database
from registry.errors import InvalidInputError, RateLimitedError
from registry.settings import Settings
from registry.verifier import Verifier
from tests.conftest import BASE_URL, CHEAP_PASSWORDS, Actors, MutableClock, issue_row

RATE = 600


class FakeWallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def retry_after(limiter: SharedRateLimiter, key: str, rate: int, cost: int = 1, burst: int = 0) -> int:
    with pytest.raises(RateLimitedError) as caught:
        limiter.take(key, rate, cost=cost, burst=burst)
    return int(caught.value.headers["Retry-After"])


@pytest.fixture
def workers(database: Database) -> Iterator[tuple[SharedRateLimiter, SharedRateLimiter, FakeWallClock]]:
    """Two workers' limiters: each its own engine (as its own process has) on one database."""
    clock = FakeWallClock()
    other = Database.from_url(database.engine.url.render_as_string(hide_password=False))
    yield SharedRateLimiter(database.write_engine, clock), SharedRateLimiter(other.write_engine, clock), clock
    other.dispose()


def test_workers_share_one_bucket_per_client(workers: Any) -> None:
    first, second, clock = workers
    first.take("hr", RATE, cost=400)
    second.take("hr", RATE, cost=200)
    # 600 spent between the two: the next request waits for one token (0.1 s -> 1 s).
    assert retry_after(first, "hr", RATE) == 1
    assert retry_after(second, "hr", RATE) == 1
    clock.now += 0.11  # (wall-clock seconds near 1.8e9 carry ~0.2 µs of rounding)
    second.take("hr", RATE)
    assert retry_after(first, "hr", RATE) == 1


def test_retry_after_is_true_and_a_refusal_costs_nothing(workers: Any) -> None:
    first, second, clock = workers
    first.take("hr", RATE, cost=1000, burst=1000)
    assert retry_after(second, "hr", RATE, cost=1000, burst=1000) == 100  # 1,000 at 10 a second
    for _ in range(3):
        assert retry_after(first, "hr", RATE, cost=1000, burst=1000) == 100
    clock.now += 99.0
    assert retry_after(second, "hr", RATE, cost=1000, burst=1000) == 1
    clock.now += 1.0
    second.take("hr", RATE, cost=1000, burst=1000)


def test_a_cost_that_can_never_fit_is_not_told_to_wait(workers: Any) -> None:
    first, _, _ = workers
    with pytest.raises(InvalidInputError):
        first.take("hr", 5, cost=20)
    first.take("hr", 5, cost=5)


def test_clients_have_their_own_buckets_and_full_buckets_are_pruned(workers: Any, database: Database) -> None:
    first, second, clock = workers
    first.take("a", 2, cost=2)
    retry_after(second, "a", 2)
    second.take("b", 2, cost=2)
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM rate_bucket")).scalar_one() == 2
    clock.now += SharedRateLimiter.PRUNE_EVERY_SECONDS + 120  # both full again long ago
    first.take("c", 2)
    with database.engine.connect() as connection:
        keys = [row[0] for row in connection.execute(text("SELECT key FROM rate_bucket"))]
    assert keys == ["c"]


def test_several_workers_need_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="REGISTRY_WORKERS above 1 needs PostgreSQL"):
        Settings(data_dir=tmp_path, base_url=BASE_URL, workers=2)
    assert Settings(data_dir=tmp_path, base_url=BASE_URL).workers == 1


def _node(tmp_path: Path, url: str, clock: MutableClock) -> Any:
    settings = Settings(data_dir=tmp_path, base_url=BASE_URL, database_url=url, workers=2)
    return create_app(
        settings, clock, passwords=CHEAP_PASSWORDS, run_migrations=False, verifier=Verifier(workers=1)
    )


def test_two_workers_enforce_one_limit_over_http(
    tmp_path: Path, database_url: str, clock: MutableClock, request: pytest.FixtureRequest
) -> None:
    """An HR client at 3 a minute, its requests spread over two workers: the fourth is
    429 whichever worker takes it (with a limit per worker, both would take three)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers run on PostgreSQL")
    app_a, app_b = _node(tmp_path / "a", database_url, clock), _node(tmp_path / "b", database_url, clock)
    headers = Actors(app_a).hr(rate=3)
    officer = Actors(app_a).officer()
    with TestClient(app_a) as a, TestClient(app_b) as b:
        vc = a.post("/v1/credentials", json=issue_row(), headers=officer).json()["verifiableCredential"]
        answers = [client.post("/v1/verifications", json=vc, headers=headers) for client in (a, b, a)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        refused = b.post("/v1/verifications", json=vc, headers=headers)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["Retry-After"]) == 20  # one token in 20 s at 3 a minute
        assert a.post("/v1/verifications", json=vc, headers=headers).status_code == 429
    for app in (app_a, app_b):
        app.state.node.db.dispose()


def test_registry_serve_with_two_workers(tmp_path: Path, database_url: str) -> None:
    """``registry serve --workers 2`` on PostgreSQL: two worker processes answer on one
    port; SQLite is refused with a readable reason."""
    port = free_port()
    env = {
        **os.environ,
        "REGISTRY_DATA_DIR": str(tmp_path),
        "REGISTRY_BASE_URL": f"http://127.0.0.1:{port}",
        "REGISTRY_PORT": str(port),
        "REGISTRY_DATABASE_URL": database_url,
    }
    command = [sys.executable, "-m", "registry.cli", "serve", "--workers", "2"]
    if not database_url.startswith("postgresql"):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2
        assert "REGISTRY_WORKERS above 1 needs PostgreSQL" in done.stderr
        return
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    started = time.monotonic()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the node did not answer within 60 s"
            time.sleep(0.2)
        print(f"answered after {time.monotonic() - started:.1f} s")
        children = _children(process.pid)
        assert len(children) >= 2, children  # the worker processes (and their helpers)
        for _ in range(10):
            assert httpx.get(f"http://127.0.0.1:{port}/.well-known/did.json", timeout=5).status_code == 200
    finally:
        stopping = time.monotonic()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
            print(f"stopped after {time.monotonic() - stopping:.1f} s")
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    found: list[int] = []
    for task in tasks.iterdir() if tasks.exists() else []:
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        found.extend(int(c) for c in children)
    return found


def test_worker_connections_have_nagle_off() -> None:
    """The socket ``registry serve --workers N`` hands its workers makes asyncio set
    TCP_NODELAY on every accepted connection (uvicorn's own, protocol 0, does not: each
    answer then waited ~40 ms for a delayed ACK)."""
    import asyncio

    from registry.cli import listening_socket

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        sock = listening_socket("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) != 0


def test_workers_lease_tokens_in_chunks_and_never_exceed_the_limit(workers: Any) -> None:
    """At 600 a minute a worker leases 10 tokens per write (a second of the rate), so
    600 requests cost about 60 writes, not 600; the two workers together still admit
    at most the bucket, and refuse once it is spent."""
    first, second, clock = workers
    claims = {"n": 0}
    for limiter in (first, second):
        real = limiter._claim

        def counting(*args: Any, real: Any = real) -> bool:
            claims["n"] += 1
            return bool(real(*args))

        limiter._claim = counting
    for n in range(RATE - 2 * 10):  # these fit whatever the two workers hold unspent
        (first if n % 2 else second).take("hr", RATE)
    assert claims["n"] <= (RATE - 2 * 10) // 10 + 2  # one write per lease, not one per request
    admitted = RATE - 2 * 10
    for n in range(100):
        try:
            (first if n % 2 else second).take("hr", RATE)
            admitted += 1
        except RateLimitedError:
            pass
    assert RATE - 2 * 10 <= admitted <= RATE  # at most the two workers' unspent leases lost
    clock.now += SharedRateLimiter.LEASE_SECONDS + 0.5  # leases end; the bucket refills
    first.take("hr", RATE)


def test_async_callers_take_the_shared_limit_off_the_event_loop(
    workers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``auth.take_rate``: the API's dependencies, the batch route and the web pages'
    rate limits never write to the database on the event loop (the shared limiter goes
    to a worker thread; the in-memory one stays inline)."""
    import asyncio
    import threading

    import anyio.to_thread

    from registry.auth import RateLimiter, take_rate

    first, _, _ = workers
    loop_thread: list[int] = []
    take_threads: list[int] = []
    real_take = first.take

    def recording(*args: Any, **kwargs: Any) -> None:
        take_threads.append(threading.get_ident())
        real_take(*args, **kwargs)

    monkeypatch.setattr(first, "take", recording)
    hops = {"n": 0}
    real_run_sync = anyio.to_thread.run_sync

    async def counting(*args: Any, **kwargs: Any) -> Any:
        hops["n"] += 1
        return await real_run_sync(*args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)

    async def main() -> None:
        loop_thread.append(threading.get_ident())
        await take_rate(first, "page:127.0.0.1", 30)
        await take_rate(RateLimiter(), "hr", 600)

    asyncio.run(main())
    assert hops["n"] == 1  # the shared take only
    assert take_threads
    assert take_threads[0] != loop_thread[0]


def test_serving_workers_share_the_cores_among_their_verification_pools() -> None:
    """Each serving process has its own pool: N workers on C cores get C // N processes
    each (at least one, which checks in a thread), not C each."""
    from registry.verifier import Verifier

    assert Verifier.for_serving(1, cores=2).workers == 2
    assert Verifier.for_serving(2, cores=2).workers == 1
    assert Verifier.for_serving(2, cores=8).workers == 4
    assert Verifier.for_serving(4, cores=2).workers == 1


def test_requests_arriving_together_share_one_lease(workers: Any) -> None:
    """When a worker's lease has run out and many requests arrive at once, one claims a
    chunk and the others spend from it. Each claiming its own chunk (and the last
    overwriting the others' leases) spent the shared bucket many times faster than the
    requests did: a client within its rate got 429 at two workers under load."""
    import threading
    import time as time_module

    first, _, _ = workers
    claims: list[float] = []
    real = first._claim

    def slow_claim(key: str, amount: float, *args: Any) -> bool:
        claims.append(amount)
        time_module.sleep(0.02)  # a claim is a database round trip: let the others arrive
        return bool(real(key, amount, *args))

    first._claim = slow_claim
    start = threading.Barrier(16)
    refused: list[Exception] = []

    def one_request() -> None:
        start.wait()
        try:
            first.take("hr", RATE)
        except RateLimitedError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=one_request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == []
    assert sum(claims) <= 2 * 10  # a chunk is 10 at 600 a minute; 16 requests need 16


def test_a_request_the_lease_covers_takes_no_thread_hop(
    workers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``auth.take_rate`` with the shared limiter: a claim (a database write) goes to a
    worker thread; requests that this worker's lease covers are spent inline (every
    request's hop to a thread had cost two workers more than the claims saved)."""
    import asyncio

    import anyio.to_thread

    from registry.auth import take_rate

    first, _, clock = workers
    hops = {"n": 0}
    real_run_sync = anyio.to_thread.run_sync

    async def counting(*args: Any, **kwargs: Any) -> Any:
        hops["n"] += 1
        return await real_run_sync(*args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)

    async def requests(count: int) -> None:
        for _ in range(count):
            await take_rate(first, "hr", RATE)

    asyncio.run(requests(10))  # one claim of a chunk of 10, then nine from the lease
    assert hops["n"] == 1
    asyncio.run(requests(1))  # the lease is spent: a new claim
    assert hops["n"] == 2
    clock.now += SharedRateLimiter.LEASE_SECONDS + 0.1
    asyncio.run(requests(1))  # the lease ran out: a claim again
    assert hops["n"] == 3
