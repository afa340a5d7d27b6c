"""Batch issuance benchmark: ``python -m bench.batch_issue``.

10,000 distinct valid rows (GB 11643 identity numbers, distinct holder names) are issued
as one batch on a fresh SQLite node, end to end, two ways:

* HTTP: ``PUT /v1/issuance/batches/<id>`` with the JSON body to a uvicorn server (one
  worker, a child process on a free loopback port). Batches over 2,000 rows run in the
  background: 202, then ``GET /v1/issuance/batches/<id>`` is polled until the state is
  done. Timed from the start of the request to the poll that sees it done.
* service: ``validate_batch`` (read session) + ``issue`` + commit, in this process.

Three repetitions of each, interleaved, each on a fresh database; medians. Target:
>= 2,000 credentials/s. Then the service path once more under cProfile (on another
fresh database): the top entries by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import (
    CpuMeter,
    CpuUse,
    expect,
    free_port,
    issue_rows,
    make_app,
    median,
    node_of,
    officer_headers,
    serve,
)
from registry.auth import Principal
from registry.credentials import issuance
from registry.node import NodeState
from registry.routes.issuance import context

TARGET = 2000.0
POLL_SECONDS = 0.05


@contextmanager
def fresh_node(root: Path, name: str) -> Iterator[tuple[Path, int, NodeState]]:
    """A new node (migrated, key ring, catalogue) in its own folder under ``root``."""
    folder = root / name
    folder.mkdir()
    port = free_port()
    node = node_of(make_app(folder, port))
    # Load the key ring now: its private key is decrypted (scrypt, tens of ms) once per
    # process, at start-up on a serving node, so not within the timed batch.
    expect(bool(node.ring.records), "the node has no key ring")
    try:
        yield folder, port, node
    finally:
        node.db.dispose()


def service_path(node: NodeState, rows: list[dict[str, Any]], batch_id: str) -> dict[str, float]:
    """Seconds of each step: validate (read session), issue, commit."""
    officer = Principal("account", "bench-officer", "issuing_officer")
    start = time.perf_counter()
    with node.db.session(write=False) as session:
        requests = issuance.validate_batch(session, rows, context(node, session))
    validated = time.perf_counter()
    with node.db.session() as session:
        result = issuance.issue(session, officer, requests, context(node, session), batch_id=batch_id)
        issued = time.perf_counter()
    committed = time.perf_counter()
    expect(result.count == len(rows), f"issued {result.count} of {len(rows)}")
    return {"validate": validated - start, "issue": issued - validated, "commit": committed - issued}


def http_path(
    folder: Path, port: int, node: NodeState, rows: list[dict[str, Any]], batch_id: str, timeout: float
) -> tuple[dict[str, float], CpuUse]:
    """Seconds until the 202 answer and until the batch is done, through uvicorn."""
    headers = {**officer_headers(node), "Content-Type": "application/json"}
    body = orjson.dumps({"credentials": rows})
    node.db.dispose()
    url = f"/v1/issuance/batches/{batch_id}"
    with (
        serve(folder, port) as server,
        httpx.Client(base_url=server.base, timeout=timeout) as client,
        CpuMeter().stretch() as use,
    ):
        start = time.perf_counter()
        response = client.put(url, content=body, headers=headers)
        accepted = time.perf_counter()
        expect(response.status_code == 202, f"{response.status_code} {response.text[:500]}")
        deadline = start + timeout
        while True:
            state = client.get(url, headers=headers)
            expect(state.status_code == 200, state.text[:500])
            answer = state.json()
            if answer["state"] == "done":
                break
            expect(answer["state"] in ("queued", "running"), f"the batch {answer['state']}: {answer}")
            expect(time.perf_counter() < deadline, f"the batch was not done within {timeout:.0f} s")
            time.sleep(POLL_SECONDS)
        done = time.perf_counter()
    expect(answer["result"]["count"] == len(rows), f"done with {answer['result']['count']} credentials")
    return {"202 answer": accepted - start, "done": done - start}, use


def profile_service(root: Path, rows: list[dict[str, Any]], top: int) -> str:
    with fresh_node(root, "profile") as (_, _, node):
        profiler = cProfile.Profile()
        profiler.enable()
        seconds = service_path(node, rows, "bench-profile")
        profiler.disable()
    out = io.StringIO()
    total = sum(seconds.values())
    out.write(f"service path under cProfile: {total:.1f} s ({len(rows) / total:.0f} credentials/s)\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000, help="credentials in the batch")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each path")
    parser.add_argument("--top", type=int, default=15, help="profile entries to print")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one batch")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()

    rows = issue_rows(args.count)
    http: list[dict[str, float]] = []
    service: list[dict[str, float]] = []
    http_cpu = CpuUse()
    service_cpu = CpuUse()
    meter = CpuMeter()
    with tempfile.TemporaryDirectory(prefix="bench-batch-issue-") as tmp:
        root = Path(tmp)
        for i in range(args.repeat):
            with fresh_node(root, f"http-{i}") as (folder, port, node):
                seconds, use = http_path(folder, port, node, rows, f"bench-{i}", args.timeout)
                http.append(seconds)
                http_cpu += use
            with fresh_node(root, f"service-{i}") as (_, _, node), meter.stretch() as use:
                service.append(service_path(node, rows, f"bench-{i}"))
            service_cpu += use
        profile = "" if args.no_profile else profile_service(root, rows, args.top)

    n = args.count
    http_done = [s["done"] for s in http]
    service_total = [sum(s.values()) for s in service]
    rate = {"http": n / median(http_done), "service": n / median(service_total)}
    print(f"{n:,} credentials in one batch, fresh SQLite node each time; {args.repeat} repetitions, medians")
    print("cores busy: CPU s per wall s (ours: this process, and the server for HTTP; others: the rest)")
    print(f"{'path':44s} {'cred/s':>7s} {'s':>6s} {'min s':>6s} {'max s':>6s} {'ours':>5s} {'others':>6s}")
    for label, key, values, use in (
        ("HTTP: PUT (202) + poll until done, uvicorn", "http", http_done, http_cpu),
        ("service: validate_batch + issue + commit", "service", service_total, service_cpu),
    ):
        print(
            f"{label:44s} {rate[key]:7.0f} {median(values):6.2f} {min(values):6.2f} {max(values):6.2f} "
            f"{(use.own + use.children) / use.wall:5.2f} {use.others / use.wall:6.2f}"
        )
    print("steps (median s):")
    print(f"  HTTP     202 answer (body, parse, validate) {median([s['202 answer'] for s in http]):6.2f}")
    for step in ("validate", "issue", "commit"):
        print(f"  service  {step:33s} {median([s[step] for s in service]):6.2f}")
    for key, label in (("http", "HTTP"), ("service", "service")):
        verdict = "met" if rate[key] >= TARGET else "MISSED"
        print(f"target: >= {TARGET:,.0f} credentials/s; {label} {rate[key]:,.0f}/s — {verdict}")
    if profile:
        print()
        print(profile.rstrip())


if __name__ == "__main__":
    main()
