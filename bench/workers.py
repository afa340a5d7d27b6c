"""Several workers, one database: ``python -m bench.workers [--rounds 3] [--seconds 5]``.

The node is started as an operator starts it, ``registry serve --workers N`` (a child
process tree: uvicorn's supervisor and N worker processes) on one PostgreSQL database
(``REGISTRY_BENCH_DATABASE_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``:
a fresh database is made beside it and dropped afterwards), for N = 1 and N = 2, in
interleaved rounds. Each round loads ``POST /v1/verifications`` (an HR client with the
shared, database-kept rate limit when N > 1) and ``GET /status/revocation/1`` for a fixed
time, with ``wrk`` when installed (Debian package ``wrk``: one C thread, little CPU) or
the Python load generator of ``bench.http_verify``.

It prints requests per second of each endpoint at 1 and 2 workers (median and range over
the rounds) and their ratio, with the target: at least 1.7× on 2 cores. The load
generator runs on the same two cores, so the ratio is a floor of what two workers give a
machine whose clients are elsewhere.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi.testclient import TestClient
from sqlalchemy import make_url, text

from bench.common import (
    HOST,
    expect,
    free_port,
    hr_headers,
    issue_row,
    median,
    node_of,
    officer_headers,
    settle,
)
from bench.http_verify import Round, python_round, status_path, wrk_round, wrk_scripts
from registry.app import create_app
from registry.database import make_engine
from registry.settings import Settings

TARGET = 1.7
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    name = f"bench_workers_{uuid.uuid4().hex[:10]}"
    admin = make_engine(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def environment(folder: Path, port: int, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "REGISTRY_DATA_DIR": str(folder),
        "REGISTRY_BASE_URL": f"http://{HOST}:{port}",
        "REGISTRY_PORT": str(port),
        "REGISTRY_DATABASE_URL": database_url,
    }


def prepare(folder: Path, port: int, database_url: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Migrate the database, issue one credential and make an HR key (its headers)."""
    settings = Settings(data_dir=folder, base_url=f"http://{HOST}:{port}", database_url=database_url)
    app = create_app(settings)
    node = node_of(app)
    with TestClient(app) as client:
        response = client.post("/v1/credentials", json=issue_row(0), headers=officer_headers(node))
        expect(response.status_code == 201, response.text)
        vc: dict[str, Any] = response.json()["verifiableCredential"]
    headers = hr_headers(node)
    node.db.dispose()
    return vc, headers


@contextmanager
def serve_workers(folder: Path, port: int, database_url: str, workers: int) -> Iterator[str]:
    """``registry serve --workers N`` until the block ends; yields its base URL once it answers."""
    log = (folder / f"serve-{workers}.log").open("a")
    command = [sys.executable, "-m", "registry.cli", "serve", "--workers", str(workers)]
    process = subprocess.Popen(  # noqa: S603 - our own command
        command, env=environment(folder, port, database_url), stdout=log, stderr=log
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            expect(process.poll() is None, f"the node exited: see {log.name}")
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            expect(time.monotonic() < deadline, "the node did not answer within 90 s")
            time.sleep(0.2)
        settle(process.pid)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--python", action="store_true", help="the Python load generator even if wrk is here")
    args = parser.parse_args()
    args.rounds = max(args.rounds, 3)
    url = os.environ.get("REGISTRY_BENCH_DATABASE_URL", DEFAULT_URL)
    wrk = None if args.python else shutil.which("wrk")
    rounds: dict[tuple[str, int], list[Round]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp, fresh_database(url) as database_url:
        folder = Path(tmp)
        port = free_port()
        vc, headers = prepare(folder, port, database_url)
        body = orjson.dumps({"credential": vc})
        status = status_path(vc, f"http://{HOST}:{port}")
        pool = None if wrk else multiprocessing.get_context("spawn").Pool(args.connections)
        load: Callable[[str, str, float], Round]
        if wrk is not None:
            scripts = wrk_scripts(folder, body, headers["Authorization"])
            generator = f"wrk, 1 thread, {args.connections} connections"

            def load(base: str, name: str, seconds: float) -> Round:
                path = status if name == "status" else "/v1/verifications"
                return wrk_round(wrk, base + path, scripts[name], seconds, args.connections)

        else:
            json_headers = {**headers, "Content-Type": "application/json"}
            generator = f"Python http.client, {args.connections} processes"

            def load(base: str, name: str, seconds: float) -> Round:
                if name == "status":
                    return python_round(pool, args.connections, port, "GET", status, None, {}, seconds)
                return python_round(
                    pool, args.connections, port, "POST", "/v1/verifications", body, json_headers, seconds
                )

        for _ in range(args.rounds):
            for workers in (1, 2):
                with serve_workers(folder, port, database_url, workers) as base:
                    answer = httpx.post(
                        base + "/v1/verifications",
                        content=body,
                        headers={**headers, "Content-Type": "application/json"},
                    )
                    expect(
                        answer.status_code == 200 and answer.json()["verdict"] == "valid", answer.text[:300]
                    )
                    for name in ("verify", "status"):
                        load(base, name, 1.0)  # warm-up
                        result = load(base, name, args.seconds)
                        expect(result.errors == 0, f"{result.errors} errors at {workers} workers on {name}")
                        rounds.setdefault((name, workers), []).append(result)
        if pool is not None:
            pool.close()
    print(
        f"registry serve --workers N on PostgreSQL; {args.rounds} interleaved rounds x "
        f"{args.seconds:.0f} s; {generator}; {os.cpu_count()} cores"
    )
    print(f"{'endpoint':<28} {'1 worker req/s':>22} {'2 workers req/s':>22} {'2 / 1':>18}")
    for name, label in (("verify", "POST /v1/verifications"), ("status", "GET /status/revocation/1")):
        one = [r.rate for r in rounds[(name, 1)]]
        two = [r.rate for r in rounds[(name, 2)]]
        ratios = [b / a for a, b in zip(one, two, strict=True)]
        print(
            f"{label:<28} {median(one):>8.0f} ({min(one):.0f}-{max(one):.0f}) "
            f"{median(two):>8.0f} ({min(two):.0f}-{max(two):.0f}) "
            f"{median(ratios):>6.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        )
    print(f"target: 2 workers >= {TARGET}x 1 worker on 2 cores (the load generator shares them)")


if __name__ == "__main__":
    main()
