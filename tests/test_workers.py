"""Several workers, one database (issue 11 point 4): HR clients' rate limits shared in
the database (SharedRateLimiter), the settings that allow several workers only on
PostgreSQL, and ``registry serve --workers 2`` as real processes."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
from tests.conftest import BASE_URL, CHEAP_PASSWORDS, Actors, MutableClock, fresh_pg_url, issue_row

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


def _serve_env(tmp_path: Path, port: int, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "REGISTRY_DATA_DIR": str(tmp_path),
        "REGISTRY_BASE_URL": f"http://127.0.0.1:{port}",
        "REGISTRY_PORT": str(port),
        "REGISTRY_DATABASE_URL": database_url,
    }


SERVE_TWO = [sys.executable, "-m", "registry.cli", "serve", "--workers", "2"]


@contextmanager
def _serving(tmp_path: Path, port: int, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """``registry serve --workers 2`` until the block ends, once both workers listen."""
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            SERVE_TWO, env=_serve_env(tmp_path, port, database_url), stdout=subprocess.DEVNULL, stderr=stderr
        )
    started = time.monotonic()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
                if answered and len(_listeners(process.pid, port)) >= 2:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the node did not answer within 60 s"
            time.sleep(0.2)
        print(f"answered after {time.monotonic() - started:.1f} s")
        yield process
    finally:
        stopping = time.monotonic()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
            print(f"stopped after {time.monotonic() - stopping:.1f} s")
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def pg_url(pg_databases: Any) -> Iterator[str]:
    if pg_databases is None:
        pytest.skip("PostgreSQL tests run when REGISTRY_TEST_DATABASE_URL is set")
    yield from fresh_pg_url(pg_databases)


def test_registry_serve_with_two_workers(tmp_path: Path, database_url: str) -> None:
    """``registry serve --workers 2`` on PostgreSQL: two worker processes answer on one
    port; SQLite is refused with a readable reason."""
    port = free_port()
    if not database_url.startswith("postgresql"):
        env = _serve_env(tmp_path, port, database_url)
        done = subprocess.run(SERVE_TWO, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2
        assert "REGISTRY_WORKERS above 1 needs PostgreSQL" in done.stderr
        return
    with _serving(tmp_path, port, database_url) as process:
        children = _children(process.pid)
        assert len(children) >= 2, children  # the worker processes (and their helpers)
        for _ in range(10):
            assert httpx.get(f"http://127.0.0.1:{port}/.well-known/did.json", timeout=5).status_code == 200


def test_each_worker_accepts_from_a_socket_of_its_own(tmp_path: Path, pg_url: str) -> None:
    """Each worker listens on a socket of its own (SO_REUSEPORT, socket(7)) and the
    supervisor holds none; connections opened together are spread over both workers.
    With one shared socket, a burst of keep-alive connections was often accepted whole by
    one worker, which left the other idle (issue 11 point 4)."""
    port = free_port()
    with _serving(tmp_path, port, pg_url) as process:
        listeners = _listeners(process.pid, port)
        assert len(listeners) == 2, listeners
        assert len(set(listeners.values())) == 2, f"one socket shared by the workers: {listeners}"
        assert process.pid not in listeners, "the supervisor holds a listening socket"
        with contextlib.ExitStack() as stack:
            clients = [stack.enter_context(httpx.Client(timeout=10)) for _ in range(32)]
            for client in clients:  # each connection accepted, answered and kept open
                assert client.get(f"http://127.0.0.1:{port}/health").status_code == 200
            held = _established(list(listeners), port)
        assert sum(held.values()) == 32, held
        # The kernel hashes each connection's ports: all 32 on one socket has odds 2**-31.
        assert all(held.get(pid, 0) >= 1 for pid in listeners), held


def test_a_dead_workers_connections_go_to_the_other(tmp_path: Path, pg_url: str) -> None:
    """A worker killed outright takes its socket with it: new connections are all
    answered by the other worker while the supervisor replaces it (none waits on a socket
    nobody accepts from), and the replacement listens on a socket of its own."""
    port = free_port()
    with _serving(tmp_path, port, pg_url) as process:
        before = _listeners(process.pid, port)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while victim in _listeners(process.pid, port) and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(40):  # a new connection each
            assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        deadline = time.monotonic() + 60
        while len(_listeners(process.pid, port)) < 2:
            assert time.monotonic() < deadline, "the supervisor did not replace the worker"
            time.sleep(0.2)
        after = _listeners(process.pid, port)
        assert victim not in after, after
        assert len(set(after.values())) == 2, after


def test_a_second_node_on_a_served_port_is_refused(tmp_path: Path, pg_url: str) -> None:
    """SO_REUSEPORT would let a second node started by mistake on the same port share
    the first one's connections. The supervisor binds the address without it first, so
    the second node stops with a readable reason and the first keeps every connection."""
    port = free_port()
    first = tmp_path / "first"
    second = tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with _serving(first, port, pg_url) as process:
        env = _serve_env(second, port, pg_url)
        done = subprocess.run(SERVE_TWO, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 1, done.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
        assert "Traceback" not in done.stderr
        assert len(_listeners(process.pid, port)) == 2


def test_a_worker_that_cannot_bind_stops_the_supervisor() -> None:
    """The recipe a worker unpickles into its socket: bound with SO_REUSEPORT; where the
    address is taken, the worker exits with uvicorn's start-up failure code, which stops
    the supervisor instead of restarting the worker forever."""
    import pickle

    from registry.serving import STARTUP_FAILURE, WorkerSocket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as stopped:
            pickle.loads(pickle.dumps(WorkerSocket("127.0.0.1", port)))  # noqa: S301 - our own bytes
        assert stopped.value.code == STARTUP_FAILURE
    finally:
        taken.close()
    sock = pickle.loads(pickle.dumps(WorkerSocket("127.0.0.1", port)))  # noqa: S301 - our own bytes
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert sock.getsockname() == ("127.0.0.1", port)
    finally:
        sock.close()


def test_a_second_node_of_the_same_user_cannot_take_a_locked_port() -> None:
    """The supervisor's lock on its port: while one node holds it, a second node's
    supervisor is refused before any worker binds (SO_REUSEPORT would have let it share
    the port, even in the moment before the first node's workers listen)."""
    from registry.serving import port_lock

    port = free_port()
    with port_lock(port):
        with (
            pytest.raises(OSError, match=f"another registry node serves port {port}") as refused,
            port_lock(port),
        ):
            pass
        assert refused.value.errno == errno.EADDRINUSE
    with port_lock(port):  # released when the first node stopped
        pass


def test_a_worker_that_cannot_start_stops_the_node_with_a_failure_status(tmp_path: Path) -> None:
    """A worker whose app fails at start-up stops uvicorn's supervisor (it is not
    restarted forever), and ``run_workers`` says so in its exit status, so a service
    manager sees a failure (it had exited 0)."""
    port = free_port()
    script = (
        "import sys, uvicorn\n"
        "from registry.serving import run_workers\n"
        f"config = uvicorn.Config('tests.asgi_failing_start:app', workers=2, host='127.0.0.1', port={port},"
        " lifespan='on', log_level='warning')\n"
        f"sys.exit(100 + run_workers(config, '127.0.0.1', {port}))\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 103, done.stderr[-2000:]
    assert "refused on purpose" in done.stderr


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


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


def _tcp_sockets(port: int, state: str) -> set[int]:
    """Inodes of IPv4 TCP sockets whose local port is ``port`` in ``state`` (proc(5):
    0A listening, 01 established)."""
    found: set[int] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            found.add(int(fields[9]))
    return found


def _listeners(supervisor: int, port: int) -> dict[int, int]:
    """Process id -> inode of the listening socket it holds on ``port``, for the
    supervisor and its children."""
    listening = _tcp_sockets(port, "0A")
    held: dict[int, int] = {}
    for pid in [supervisor, *_children(supervisor)]:
        for inode in _socket_inodes(pid) & listening:
            held[pid] = inode
    return held


def _established(pids: list[int], port: int) -> dict[int, int]:
    """Process id -> how many accepted connections on ``port`` it holds."""
    established = _tcp_sockets(port, "01")
    return {pid: len(_socket_inodes(pid) & established) for pid in pids}


def test_worker_connections_have_nagle_off() -> None:
    """The socket ``registry serve --workers N`` hands its workers makes asyncio set
    TCP_NODELAY on every accepted connection (uvicorn's own, protocol 0, does not: each
    answer then waited ~40 ms for a delayed ACK)."""
    import asyncio

    from registry.serving import listening_socket

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
