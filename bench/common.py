"""What the node benchmarks share: a node in a temporary folder, accounts and keys made
straight through the services, valid issuance rows, a uvicorn server in a child process
on a free loopback port, CPU accounting from /proc (the cores are shared, so a figure
says how many it had), and small statistics helpers."""

from __future__ import annotations

import multiprocessing
import os
import socket
import statistics
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from registry.accounts import create_account, create_hr_client
from registry.app import create_app
from registry.auth import Passwords, Principal
from registry.credentials.identity import gb11643_check_character
from registry.node import NodeState
from registry.settings import Settings
from registry.verifier import Verifier

with warnings.catch_warnings():
    # Starlette asks for its httpx fork; httpx is what the project uses (see pyproject).
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

__all__ = ["TestClient"]  # re-exported, imported here without its deprecation warning

HOST = "127.0.0.1"
ADMIN = Principal("cli", "bench", "admin")
PASSWORD = "correct horse battery staple"  # noqa: S105 - the benchmark officer's password
#: argon2id at its cheapest: account set-up is not what these benchmarks measure.
CHEAP_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志文斌辉"
TYPE_CODES = ("ENG-ASSOCIATE_SENIOR", "ENG-INTERMEDIATE", "RES-FULL_SENIOR", "HED-ASSOCIATE_SENIOR")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def node_settings(folder: Path, port: int) -> Settings:
    return Settings(
        data_dir=folder, base_url=f"http://{HOST}:{port}", database_url=f"sqlite:///{folder}/registry.db"
    )


def make_app(folder: Path, port: int, workers: int = 1, *, real_passwords: bool = False) -> FastAPI:
    """A node on a fresh (or existing) SQLite file in ``folder``: migrated, with a key
    ring and the seeded catalogue. Passwords are hashed at argon2's cheapest unless
    ``real_passwords`` (the node's production parameters)."""
    passwords = Passwords() if real_passwords else CHEAP_PASSWORDS
    return create_app(node_settings(folder, port), passwords=passwords, verifier=Verifier(workers))


def node_of(app: FastAPI) -> NodeState:
    node: NodeState = app.state.node
    return node


def officer_headers(node: NodeState, username: str = "bench-officer") -> dict[str, str]:
    with node.db.session() as session:
        account = create_account(
            session, node.passwords, ADMIN, username, PASSWORD, "issuing_officer", node.clock()
        )
    token, _ = node.tokens.issue(account, node.clock())
    return {"Authorization": f"Bearer {token}"}


def hr_headers(
    node: NodeState, scopes: Sequence[str] = ("verify",), rate: int = 1_000_000_000
) -> dict[str, str]:
    with node.db.session() as session:
        _, key = create_hr_client(session, ADMIN, "基准测试人才中心", list(scopes), rate, node.clock())
    return {"Authorization": f"Bearer {key}"}


def resident_id(seed: int) -> str:
    """A valid GB 11643 resident ID number, different for each ``seed`` below 15,000,000."""
    born = datetime(1960, 1, 1, tzinfo=UTC) + timedelta(days=(seed // 1000) % 15000)
    first17 = f"320102{born:%Y%m%d}{seed % 1000:03d}"
    return first17 + gb11643_check_character(first17)


def holder_name(seed: int) -> str:
    """A plausible name, different for each ``seed`` (a numeric suffix past the pairs)."""
    n = len(GIVEN)
    surname = SURNAMES[seed % len(SURNAMES)]
    rest = seed // len(SURNAMES)
    name = surname + GIVEN[rest % n] + GIVEN[(rest // n) % n]
    return name if rest < n * n else f"{name}{rest // (n * n)}"


def issue_row(seed: int) -> dict[str, Any]:
    """One valid issuance row (JSON names) for the holder ``seed``."""
    return {
        "holderName": holder_name(seed),
        "idType": "resident",
        "idNumber": resident_id(seed),
        "typeCode": TYPE_CODES[seed % len(TYPE_CODES)],
        "specialty": "电气工程及其自动化",
        "evaluationCommittee": "江苏省工程技术研究系列高级职称评审委员会",
        "awardedOn": "2026-11-20",
    }


def issue_rows(count: int, first: int = 0) -> list[dict[str, Any]]:
    return [issue_row(seed) for seed in range(first, first + count)]


def expect(condition: bool, message: str) -> None:
    """Stop the benchmark when the node answered something else than it should."""
    if not condition:
        raise RuntimeError(message)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- CPU accounting (Linux /proc; None elsewhere) -----------------------------------------

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def _processes() -> dict[int, tuple[int, float]]:
    """Every live process: pid -> (parent pid, user + system CPU seconds)."""
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and all its descendants now alive (a server's workers and
    their process pools)."""
    processes = _processes()
    total = 0.0
    for child, (_, seconds) in processes.items():
        node = child
        while node > 1 and node != pid:
            node = processes.get(node, (0, 0.0))[0]
        if node == pid:
            total += seconds
    return total


def settle(pid: int, idle_share: float = 0.05, interval: float = 0.5, limit: float = 60.0) -> float:
    """Wait until ``pid``'s process tree has used less than ``idle_share`` of a core over
    ``interval`` (a node answers /health before its process pools have finished
    starting, and their start-up would be measured as load); the seconds waited."""
    began = time.monotonic()
    before = tree_cpu(pid)
    while time.monotonic() - began < limit:
        time.sleep(interval)
        now = tree_cpu(pid)
        if now - before < idle_share * interval:
            break
        before = now
    return time.monotonic() - began


def children_cpu(pid: int) -> float:
    """CPU seconds of the live children of ``pid`` (a process pool's workers)."""
    return sum(seconds for parent, seconds in _processes().values() if parent == pid)


def machine_cpu() -> tuple[float, float] | None:
    """CPU seconds all processes of the machine have used, and the hypervisor's steal."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / TICK, steal / TICK


@dataclass
class CpuUse:
    """CPU seconds used over a stretch of wall-clock time: by this process, its
    children, every other process of the machine, and stolen by the hypervisor."""

    wall: float = 0.0
    own: float = 0.0
    children: float = 0.0
    others: float = 0.0
    steal: float = 0.0

    def __iadd__(self, other: CpuUse) -> CpuUse:
        self.wall += other.wall
        self.own += other.own
        self.children += other.children
        self.others += other.others
        self.steal += other.steal
        return self


class CpuMeter:
    """Measures a stretch of time: ``with meter.stretch() as use: ...``. Children are
    the live child processes of this one (a process pool, a server)."""

    def _ours(self) -> tuple[float, float]:
        return time.process_time(), children_cpu(os.getpid())

    @contextmanager
    def stretch(self) -> Iterator[CpuUse]:
        use = CpuUse()
        machine0, (own0, children0), wall0 = machine_cpu(), self._ours(), time.perf_counter()
        yield use
        use.wall = time.perf_counter() - wall0
        own1, children1 = self._ours()
        machine1 = machine_cpu()
        use.own, use.children = own1 - own0, children1 - children0
        if machine0 is not None and machine1 is not None:
            use.others = max(0.0, machine1[0] - machine0[0] - use.own - use.children)
            use.steal = machine1[1] - machine0[1]


# --- a uvicorn server in a child process -------------------------------------------------

#: The path of the reference app's hello (:func:`plain_app`).
PLAIN_HELLO_PATH = "/hello"
#: The path of the reference app's second route: one Ed25519 signature checked, nothing else.
PLAIN_ED25519_PATH = "/ed25519"


def plain_app() -> FastAPI:
    """The HTTP benchmarks' reference: a plain FastAPI app answering ``{"hello": "world"}``,
    none of the node's middleware, state or routes.

    Its second route, ``GET /ed25519``, is the same hello after checking one Ed25519
    signature (cryptography, a fixed key and 64-byte message made at start-up). Every
    verification checks at least one signature, so this route's rate over the hello's is
    a ceiling on what any verification route can reach on this machine and server, in
    any framework: the HTTP benchmark prints it beside the verification targets."""
    app = FastAPI()
    private = Ed25519PrivateKey.generate()
    public, message = private.public_key(), bytes(range(64))
    signature = private.sign(message)

    @app.get(PLAIN_HELLO_PATH)
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get(PLAIN_ED25519_PATH)
    async def ed25519() -> dict[str, str]:
        public.verify(signature, message)  # raises on a bad signature
        return {"hello": "world"}

    return app


#: set to "h11" to have the benchmarks' servers run uvicorn with h11 and asyncio instead
#: of its "auto" choice (``--stack h11``), for a comparison of the two
STACK_ENV = "BENCH_UVICORN_STACK"


def server_stack() -> str:
    """What uvicorn serves with here ("auto": httptools and uvloop when installed, as
    the node's dependencies have them; else h11 and asyncio)."""
    import importlib.util

    if os.environ.get(STACK_ENV) == "h11":
        return "h11, asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{http}, {loop}"


def _redirect_stderr(log: str) -> None:
    stream = open(log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - for the process's life
    os.dup2(stream.fileno(), 2)
    sys.stderr = stream


def _run(app: FastAPI, port: int) -> None:
    """The same uvicorn settings for every server a benchmark compares."""
    import uvicorn

    if os.environ.get(STACK_ENV) == "h11":
        uvicorn.run(app, host=HOST, port=port, log_level="warning", http="h11", loop="asyncio")
    else:
        uvicorn.run(app, host=HOST, port=port, log_level="warning")


def _serve(folder: str, port: int, hello: bool, log: str, real_passwords: bool = False) -> None:
    """Child process: the node on the database in ``folder``, one uvicorn worker; its
    standard error goes to ``log``."""
    _redirect_stderr(log)
    app = make_app(Path(folder), port, real_passwords=real_passwords)
    if hello:

        @app.get("/bench/hello", include_in_schema=False)
        def bench_hello() -> dict[str, str]:
            return {"hello": "world"}

    _run(app, port)


def _serve_plain(port: int, log: str) -> None:
    """Child process: :func:`plain_app`, one uvicorn worker, as :func:`_serve`."""
    _redirect_stderr(log)
    _run(plain_app(), port)


class Server:
    """A node served by uvicorn in a child process; ``log`` is its standard error."""

    def __init__(self, base: str, log: Path, pid: int | None) -> None:
        self.base, self.log, self.pid = base, log, pid

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the server process has used (Linux /proc), or None."""
        return process_cpu(self.pid) if self.pid is not None else None

    def log_summary(self) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        tracebacks = text.count("Traceback (most recent call last)")
        if not tracebacks:
            return "server log: no tracebacks"
        disconnects = text.count("starlette.requests.ClientDisconnect")
        return (
            f"server log: {tracebacks} tracebacks, {disconnects} of them ClientDisconnect "
            "(a load round ending with requests in flight)"
        )

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@contextmanager
def _serving(
    target: Any, args: tuple[Any, ...], base: str, log: Path, ready_path: str, timeout: float
) -> Iterator[Server]:
    """Run ``target(*args)`` in a child process (spawn, so it shares nothing with this
    one) until the block ends; yields once ``ready_path`` answers 200."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    process.start()
    server = Server(base, log, process.pid)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if not process.is_alive():
                raise RuntimeError(f"the server exited with code {process.exitcode}:\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.base}{ready_path}", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within {timeout:.0f} s:\n{server.log_tail()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.join(15)
        if process.is_alive():
            process.kill()
            process.join()


@contextmanager
def serve(
    folder: Path, port: int, *, hello: bool = False, timeout: float = 60.0, real_passwords: bool = False
) -> Iterator[Server]:
    """Serve the node in ``folder`` on ``port`` until the block ends; yields once the
    node answers."""
    log = folder / f"server-{port}.log"
    args = (str(folder), port, hello, str(log), real_passwords)
    with _serving(_serve, args, f"http://{HOST}:{port}", log, "/health", timeout) as server:
        yield server


@contextmanager
def serve_plain(folder: Path, port: int, *, timeout: float = 60.0) -> Iterator[Server]:
    """Serve :func:`plain_app` on ``port`` with the node's uvicorn settings (the HTTP
    benchmarks' reference, run beside the node in the same run)."""
    log = folder / f"plain-{port}.log"
    with _serving(
        _serve_plain, (port, str(log)), f"http://{HOST}:{port}", log, PLAIN_HELLO_PATH, timeout
    ) as server:
        yield server
