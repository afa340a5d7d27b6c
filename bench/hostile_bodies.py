"""How long /health takes to answer while one hostile request (or one flood) is being
served: the node must keep answering everyone else within 100 ms whatever a single
client sends.

A node runs in a child process (one uvicorn worker, SQLite, the production argon2
parameters). For each scenario a poller asks GET /health every 10 ms from its own
connection while the hostile request is sent; the figure is the worst and the 99th
percentile /health latency seen during the hostile request, median over the rounds with
the range. All traffic goes to 127.0.0.1 and every loop is bounded in count and time.

    python -m bench.hostile_bodies [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import (
    TestClient,
    expect,
    free_port,
    hr_headers,
    issue_row,
    issue_rows,
    make_app,
    node_of,
    officer_headers,
    serve,
)

TARGET_MS = 100.0
MB = 1 << 20


@dataclass
class Observation:
    status: str
    seconds: float
    health_ms: list[float] = field(default_factory=list)

    @property
    def worst(self) -> float:
        return max(self.health_ms) if self.health_ms else float("nan")

    @property
    def p99(self) -> float:
        if not self.health_ms:
            return float("nan")
        ordered = sorted(self.health_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def poll_health(base: str, started: Any, stop: Any, out: Any) -> None:
    """Child process (so that the hostile clients' threads cannot delay it): GET /health
    every 10 ms until ``stop``; a failure or time-out counts as 5 s."""
    latencies: list[float] = []
    with httpx.Client(base_url=base, timeout=5.0) as client:
        client.get("/health")
        started.set()
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                client.get("/health").raise_for_status()
                latencies.append((time.perf_counter() - start) * 1000)
            except httpx.HTTPError:
                latencies.append(5000.0)
            time.sleep(0.01)
    out.send(latencies)


def observe(base: str, hostile: Callable[[], str]) -> Observation:
    context = multiprocessing.get_context("spawn")
    started, stop = context.Event(), context.Event()
    receiver, sender = context.Pipe(duplex=False)
    poller = context.Process(target=poll_health, args=(base, started, stop, sender), daemon=True)
    poller.start()
    started.wait(30)
    time.sleep(0.05)
    start = time.perf_counter()
    try:
        status = hostile()
    finally:
        elapsed = time.perf_counter() - start
        stop.set()
        latencies: list[float] = receiver.recv() if receiver.poll(30) else []
        poller.join(10)
    return Observation(status, elapsed, latencies)


def nested(depth: int) -> Any:
    value: Any = 1.5
    for _ in range(depth):
        value = {"p": [value]}
    return value


def fill(build: Callable[[int], Any], limit: int, indent: int = 1) -> bytes:
    """The largest ``build(n)``, pretty-printed, that stays under ``limit`` bytes."""
    low, high = 1, 1
    while len(json.dumps(build(high), indent=indent)) < limit and high < 1 << 22:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if len(json.dumps(build(middle), indent=indent)) < limit else (low, middle)
    return json.dumps(build(low), indent=indent).encode()


def prepare(folder: Path, port: int) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    app = make_app(folder, port)
    node = node_of(app)
    officer = officer_headers(node)
    with TestClient(app) as client:
        answer = client.post("/v1/credentials", json=issue_row(1), headers=officer)
        expect(answer.status_code == 201, answer.text)
        vc: dict[str, Any] = answer.json()["verifiableCredential"]
    headers = hr_headers(node, rate=10**9)
    node.db.dispose()
    return vc, headers, officer


def scenarios(
    base: str, vc: dict[str, Any], hr: dict[str, str], officer: dict[str, str]
) -> dict[str, Callable[[], str]]:
    json_type = {"Content-Type": "application/json"}
    # As deep as the strict parser allows (64 levels): 5 around each nested(29), and
    # 3 around each nested(30); each body as large as its route accepts.
    one = {**vc, "proof": {**vc["proof"], "x": [nested(29)] * 3}}
    pretty_proofs = fill(lambda n: {"credentials": [one] * min(n, 1000)}, 4 * MB)
    floats = fill(lambda n: {"credential": {**vc, "evidence": [1.5e-7] * n}}, MB, indent=0)
    deep_anonymous = fill(lambda n: {"verifiableCredential": {**vc, "x": [nested(30)] * n}}, MB)
    batch = orjson.dumps({"credentials": [vc] * 1000})

    def post(path: str, body: bytes, headers: dict[str, str], method: str = "POST") -> str:
        with httpx.Client(base_url=base, timeout=300) as client:
            answer = client.request(method, path, content=body, headers={**json_type, **headers})
        return f"{answer.status_code} ({len(body) / MB:.1f} MB)"

    def issue_batch() -> str:
        body = orjson.dumps(
            {"credentials": issue_rows(10_000, first=1_000_000 + int(time.time()) % 1000 * 10_000)}
        )
        with httpx.Client(base_url=base, timeout=300) as client:
            batch = f"bench-{time.monotonic_ns()}"
            answer = client.put(
                f"/v1/issuance/batches/{batch}", content=body, headers={**json_type, **officer}
            )
            deadline = time.monotonic() + 120
            state = answer.json().get("state", "")
            while (
                answer.status_code == 202 and state not in ("done", "failed") and time.monotonic() < deadline
            ):
                time.sleep(0.2)
                state = client.get(f"/v1/issuance/batches/{batch}", headers=officer).json()["state"]
        return f"{answer.status_code} then {state} ({len(body) / MB:.1f} MB)"

    def sign_in_flood() -> str:
        # From 24 loopback addresses (127.0.0.10-33), so that the per-address limit does
        # not hide what the password hashing costs.
        def one(i: int) -> int:
            transport = httpx.HTTPTransport(local_address=f"127.0.0.{10 + i % 24}")
            with httpx.Client(base_url=base, timeout=60, transport=transport) as client:
                body = {"username": f"random.{os.getpid()}.{i}", "password": "not a password at all"}
                return client.post("/v1/auth/token", json=body).status_code

        with ThreadPoolExecutor(24) as pool:
            codes = list(pool.map(one, range(96)))
        return " ".join(f"{c}×{codes.count(c)}" for c in sorted(set(codes)))

    return {
        "anonymous 8 MB JSON to /v1/verifications/batch": lambda: post(
            "/v1/verifications/batch", b'{"credentials":[' + b"1," * (4 * MB - 10) + b"1]}", {}
        ),
        "officer batch of 10,000 rows, issued in the background until done": issue_batch,
        "anonymous 30 MB JSON to PUT /v1/issuance/batches/x": lambda: post(
            "/v1/issuance/batches/x", b"[" + b"1," * (15 * MB - 10) + b"1]", {}, "PUT"
        ),
        "HR 4 MB batch of nested proofs (depth 63, pretty)": lambda: post(
            "/v1/verifications/batch", pretty_proofs, hr
        ),
        "HR 1 MB pretty credential of 120k floats": lambda: post("/v1/verifications", floats, hr),
        "anonymous 1 MB VC nested 63 deep to /credentials/verify": lambda: post(
            "/credentials/verify", deep_anonymous, {}
        ),
        "HR valid batch of 1,000 credentials": lambda: post("/v1/verifications/batch", batch, hr),
        "96 anonymous sign-ins from 24 addresses, 24 at once (argon2id)": sign_in_flood,
    }


def idle_second() -> str:
    time.sleep(1.0)
    return "idle"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="run only scenarios whose name contains this")
    args = parser.parse_args()
    print(f"/health latency during one hostile request; target worst < {TARGET_MS:.0f} ms")
    print(f"cores: {os.cpu_count()}, rounds: {args.rounds}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        vc, hr, officer = prepare(folder, port)
        with serve(folder, port, real_passwords=True) as server:
            named = scenarios(server.base, vc, hr, officer)
            idle = [observe(server.base, idle_second) for _ in range(args.rounds)]
            rows: list[tuple[str, list[Observation]]] = [("idle (no hostile request)", idle)]
            for name, hostile in named.items():
                if args.only not in name:
                    continue
                rows.append((name, [observe(server.base, hostile) for _ in range(args.rounds)]))
            print(server.log_summary())
    print()
    print("| scenario | answer | request s | /health worst ms, median (range) | /health p99 ms |")
    print("|---|---|---:|---:|---:|")
    for name, observations in rows:
        worst = [o.worst for o in observations]
        p99 = statistics.median(o.p99 for o in observations)
        seconds = statistics.median(o.seconds for o in observations)
        print(
            f"| {name} | {observations[-1].status} | {seconds:.2f} | "
            f"{statistics.median(worst):.0f} ({min(worst):.0f}–{max(worst):.0f}) | {p99:.0f} |"
        )
    over = [name for name, obs in rows if statistics.median(o.worst for o in obs) >= TARGET_MS]
    print()
    print("target met" if not over else "target MISSED for: " + "; ".join(over))


if __name__ == "__main__":
    main()
