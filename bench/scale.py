"""The node at provincial scale: ``python -m bench.scale --sizes 100000,1000000,10000000``.

Each size is a PostgreSQL node of its own (database ``<name>_<size>``, data directory
``<dir>/<size>``), filled by ``bench.fill`` with the node's own signed credentials (kept
between runs: a later run measures again without loading) and measured: the node is
served by ``registry serve`` (one worker) and each operation is loaded for ``--seconds``
by ``--clients`` Python clients (processes with one keep-alive connection each), over
targets drawn at random from the whole table (``TABLESAMPLE``), in ``--rounds`` rounds:

- ``verify``: ``POST /v1/verifications`` of a sampled credential (an HR key);
- ``status``: ``GET /status/{purpose}/{n}`` of a random list (served from memory);
- ``revoke``: ``POST /v1/credentials/{id}/revocation`` of a distinct active credential
  each time (an issuing officer; two clients, every request a new credential);
- ``lookup``: ``POST /v1/verifications/lookup``, certificate number and the holder's
  verification code (an HR key with scope lookup; audited, the code's use recorded);
- ``holder``: ``GET /v1/holder/credentials`` as a sampled holder (access token);
- ``audit``: ``GET /v1/audit?target=<credential id>`` as an auditor;
- ``issue``: a batch of ``--batch`` new holders' credentials, ``PUT
  /v1/issuance/batches/{id}`` until done (credentials/s; its "p50" and "p99" are the
  batch's seconds).

Printed per size and operation: req/s, p50 and p99 in ms (median and range over the
rounds), errors (none allowed), then the bytes the node's tables take per credential and
each operation's p99 at the largest size against the smallest (target: within 1.2×).
Afterwards every credential revoked during the run is verified and must say revoked.
Traffic goes only to 127.0.0.1; every round stops after ``--seconds``.

The databases (``--url`` names the first part, default ``REGISTRY_SCALE_DATABASE_URL`` or
``postgresql://postgres@127.0.0.1:5432/registry_scale``) are kept for the next run:
``--drop`` removes them at the end (10M credentials take ~40 GB). Figures of every size are
kept in ``--results`` too, so sizes measured in different runs are compared.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from sqlalchemy import make_url, text

from bench import fill
from bench.common import ADMIN, PASSWORD, expect, issue_row, median, server_stack
from bench.workers import serve_workers
from registry import codes
from registry.accounts import create_account, create_hr_client

CLIENTS = 4
SAMPLE = 2000
TARGET = 1.2
OPERATIONS = ("verify", "status", "revoke", "lookup", "holder", "audit")
#: Seeds of the holders the benchmark's batches issue to (the loader's are its positions).
ISSUE_SEEDS = 14_000_000
#: (method, path, JSON body or None, headers)
Request = tuple[str, str, bytes | None, dict[str, str]]


@dataclass
class Figures:
    rate: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""


def _client(port: int, requests: list[Request], seconds: float, once: bool) -> tuple[list[float], int, str]:
    """One keep-alive connection sending ``requests`` in turn (each once when ``once``)
    until ``seconds`` pass: latencies, errors, the first error's answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    errors, first = 0, ""
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline and (not once or i < len(requests)):
        method, path, body, headers = requests[i % len(requests)]
        i += 1
        began = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        latencies.append(time.perf_counter() - began)
        if response.status != 200:
            errors += 1
            first = first or f"{response.status} {method} {path}: {answer[:300]!r}"
    connection.close()
    return latencies, errors, first


def run_round(
    pool: Any, port: int, parts: list[list[Request]], seconds: float, once: bool
) -> tuple[Any, ...]:
    began = time.perf_counter()
    results = pool.starmap(_client, [(port, part, seconds, once) for part in parts])
    elapsed = time.perf_counter() - began
    latencies = sorted(x for lat, _, _ in results for x in lat)
    errors = sum(e for _, e, _ in results)
    first = next((f for _, _, f in results if f), "")
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(int(len(latencies) * 0.99), len(latencies) - 1)] * 1000
    return len(latencies) / elapsed, p50, p99, errors, first


@dataclass
class Targets:
    requests: dict[str, list[Request]]
    revocable: list[str]
    lists: list[tuple[str, int]]


def sample(node: Any, size: int) -> list[tuple[str, str, str, str, str]]:
    """About ``SAMPLE`` credentials drawn from every part of the table (pages at random)."""
    percent = min(100.0, SAMPLE * 100.0 * 3 / size)
    with node.db.engine.connect() as connection:
        rows = connection.execute(
            text(
                f"SELECT id, holder_id, certificate_number, status, document FROM credential"  # noqa: S608
                f" TABLESAMPLE SYSTEM ({percent}) LIMIT {SAMPLE * 2}"
            )
        ).all()
    random.Random(size).shuffle(rows)
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows[:SAMPLE]]


def prepare(node: Any, size: int, revocations: int) -> Targets:
    """Accounts, keys, codes and the request lists for one size."""
    rows = sample(node, size)
    expect(len(rows) >= SAMPLE // 2, f"only {len(rows)} credentials sampled")
    now = node.clock()
    tag = f"{size}-{os.getpid()}-{int(time.time())}"
    json_type = {"Content-Type": "application/json"}
    with node.db.session() as session:
        _, hr_key = create_hr_client(session, ADMIN, "规模基准人才中心", ["verify", "lookup"], 10**9, now)
        officer = create_account(
            session, node.passwords, ADMIN, f"officer-{tag}", PASSWORD, "issuing_officer", now
        )
        auditor = create_account(session, node.passwords, ADMIN, f"auditor-{tag}", PASSWORD, "auditor", now)
        holders: dict[str, str] = {}
        for _, holder_id, _, _, _ in rows[:200]:
            if holder_id in holders:
                continue
            found = session.exec(
                text("SELECT id FROM account WHERE holder_id = :h"), params={"h": holder_id}
            ).first()
            if found is None:
                account = create_account(
                    session, node.passwords, ADMIN, f"holder-{holder_id}", PASSWORD, "holder", now, holder_id
                )
            else:
                account = session.get(type(officer), found[0])
            holders[holder_id] = node.tokens.issue(account, now)[0]
        lookups = []
        for credential_id, _, number, _, _ in rows[:200]:
            made = codes.new_code(session, node.code_key, credential_id, now, 30)
            lookups.append((number, made.code))
    hr = {"Authorization": f"Bearer {hr_key}", **json_type}
    officer_auth = {"Authorization": f"Bearer {node.tokens.issue(officer, now)[0]}", **json_type}
    auditor_auth = {"Authorization": f"Bearer {node.tokens.issue(auditor, now)[0]}"}
    with node.db.engine.connect() as connection:
        lists = [
            (str(p), int(n)) for p, n in connection.execute(text("SELECT purpose, number FROM status_list"))
        ]
    active = [r[0] for r in rows if r[3] == "active"][-revocations:]
    revoke_body = json.dumps({"reasonCode": "issued_in_error", "note": "规模基准 scale benchmark"}).encode()
    return Targets(
        requests={
            "verify": [
                ("POST", "/v1/verifications", b'{"credential":' + r[4].encode() + b"}", hr) for r in rows
            ],
            "status": [("GET", f"/status/{p}/{n}", None, {}) for p, n in lists],
            "revoke": [
                ("POST", f"/v1/credentials/{c}/revocation", revoke_body, officer_auth) for c in active
            ],
            "lookup": [
                (
                    "POST",
                    "/v1/verifications/lookup",
                    json.dumps({"certificateNumber": n, "verificationCode": c}).encode(),
                    hr,
                )
                for n, c in lookups
            ],
            "holder": [
                ("GET", "/v1/holder/credentials", None, {"Authorization": f"Bearer {t}"})
                for t in holders.values()
            ],
            "audit": [("GET", f"/v1/audit?target={r[0]}", None, auditor_auth) for r in rows],
        },
        revocable=active,
        lists=lists,
    )


def bytes_per_credential(node: Any) -> tuple[float, int]:
    with node.db.engine.connect() as connection:
        total = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        count = connection.execute(text("SELECT count(*) FROM credential")).scalar_one()
    return total / count, int(count)


def database_for(url: str, size: int) -> str:
    """Each size is its own node (database ``<name>_<size>``): the node's own issuance,
    measured here, takes status slots the loader would give out if it grew the node."""
    target = make_url(url)
    return target.set(database=f"{target.database}_{size}").render_as_string(hide_password=False)


def issue_round(base: str, headers: dict[str, str], first_seed: int, count: int) -> float:
    """Seconds to issue a batch of ``count`` new holders' credentials over HTTP
    (``PUT /v1/issuance/batches/{id}``, then polled until done when answered 202)."""
    rows = [issue_row(seed) for seed in range(first_seed, first_seed + count)]
    url = f"{base}/v1/issuance/batches/scale-{first_seed}"
    with httpx.Client(timeout=600) as client:
        began = time.perf_counter()
        answer = client.put(url, content=json.dumps({"credentials": rows}).encode(), headers=headers)
        expect(answer.status_code in (201, 202), f"{answer.status_code} {answer.text[:300]}")
        while answer.status_code == 202 or answer.json().get("state") in ("queued", "running"):
            time.sleep(0.05)
            answer = client.get(url, headers=headers)
            expect(answer.status_code == 200, answer.text[:300])
        seconds = time.perf_counter() - began
    result = answer.json().get("result", answer.json())
    expect(result["count"] == count, f"issued {result['count']} of {count}")
    return seconds


def measure(args: argparse.Namespace, size: int, pool: Any) -> tuple[dict[str, Figures], float, list[str]]:
    url, data_dir = database_for(args.url, size), args.data_dir / str(size)
    node = fill.open_node(url, data_dir)
    per_credential, _ = bytes_per_credential(node)
    count = fill.loaded(node)
    expect(count == size, f"the node holds {count:,} loaded credentials, not {size:,}")
    targets = prepare(node, size, args.revocations * args.rounds)
    with node.db.engine.connect() as connection:  # new holders' seeds: after every earlier run's
        issued_before = connection.execute(text("SELECT count(*) FROM credential WHERE batch_id IS NOT NULL"))
        first_seed = ISSUE_SEEDS + int(issued_before.scalar_one())
    node.db.dispose()
    port = urlsplit(fill.BASE_URL).port
    assert port is not None
    figures = {name: Figures() for name in (*OPERATIONS, "issue")}
    with serve_workers(data_dir, port, url, 1) as base:  # registry serve, one worker
        for purpose, number in targets.lists:  # signed once, then served from memory
            expect(
                httpx.get(f"{base}/status/{purpose}/{number}", timeout=60).status_code == 200, "status list"
            )
        revocations = iter(range(0, len(targets.revocable), args.revocations))
        for _ in range(args.rounds):
            for name in OPERATIONS:
                requests = targets.requests[name]
                once = name == "revoke"
                clients = 2 if once else args.clients
                if once:
                    start = next(revocations)
                    requests = requests[start : start + args.revocations]
                else:  # shuffled, and enough for every client (a small node has two lists)
                    requests = random.sample(requests, len(requests)) * (clients // len(requests) + 1)
                parts = [requests[i::clients] for i in range(clients)]
                rate, p50, p99, errors, first = run_round(pool, port, parts, args.seconds, once)
                f = figures[name]
                f.rate.append(rate)
                f.p50.append(p50)
                f.p99.append(p99)
                f.errors += errors
                f.first_error = f.first_error or first
            seconds = issue_round(base, targets.requests["revoke"][0][3], first_seed, args.batch)
            first_seed += args.batch
            f = figures["issue"]
            f.rate.append(args.batch / seconds)  # credentials/s
            f.p50.append(seconds * 1000)
            f.p99.append(seconds * 1000)
        revoked = check_revoked(base, targets, url)
    return figures, per_credential, revoked


def check_revoked(base: str, targets: Targets, url: str) -> list[str]:
    """Every credential the run revoked verifies as revoked: those that do not."""
    hr = targets.requests["verify"][0][3]
    wrong = []
    with psycopg.connect(fill.conninfo_of(url)) as connection:
        for credential_id in targets.revocable:
            row = connection.execute(
                "SELECT status, document FROM credential WHERE id = %s", (credential_id,)
            ).fetchone()
            if row is None or row[0] != "revoked":
                continue  # not reached in the time given
            answer = httpx.post(
                base + "/v1/verifications", content=b'{"credential":' + row[1].encode() + b"}", headers=hr
            ).json()
            status = [c for c in answer["checks"] if c["check"] == "status"]
            if answer["verdict"] != "invalid" or not status or status[0]["code"] != "status-revoked":
                wrong.append(credential_id)
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("REGISTRY_SCALE_DATABASE_URL", fill.DEFAULT_URL))
    parser.add_argument("--data-dir", type=Path, default=fill.DEFAULT_DATA_DIR)
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--revocations", type=int, default=100, help="per round")
    parser.add_argument("--batch", type=int, default=1000, help="credentials issued per round")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("var/scale-results.json"),
        help="figures of every size measured, kept across runs (sizes may live in different databases)",
    )
    args = parser.parse_args()
    args.rounds = max(args.rounds, 3)
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, tuple[dict[str, Figures], float]] = {}
    pool = multiprocessing.get_context("spawn").Pool(max(args.clients, 2))
    try:
        for size in sizes:
            began = time.perf_counter()
            load = ["--url", database_for(args.url, size), "--data-dir", str(args.data_dir / str(size))]
            subprocess.run([sys.executable, "-m", "bench.fill", *load, "--to", str(size)], check=True)  # noqa: S603 - our module
            print(f"filled to {size:,} in {time.perf_counter() - began:,.0f} s", flush=True)
            figures, per_credential, wrong = measure(args, size, pool)
            results[size] = (figures, per_credential)
            report(size, figures, per_credential, os.cpu_count() or 0)
            expect(not wrong, f"revoked during the run but not verified as revoked: {wrong[:5]}")
            for name, f in figures.items():
                expect(f.errors == 0, f"{f.errors} errors on {name}: {f.first_error}")
    finally:
        pool.close()
        if args.drop:
            for size in sizes:
                target = make_url(database_for(args.url, size))
                admin_url = fill.conninfo_of(str(target.set(database="postgres")))
                with psycopg.connect(admin_url, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    kept = json.loads(args.results.read_text(encoding="utf-8")) if args.results.exists() else {}
    for size, (figures, per_credential) in results.items():
        kept[str(size)] = {
            "bytesPerCredential": per_credential,
            "p99": {name: f.p99 for name, f in figures.items()},
            "measured": time.strftime("%Y-%m-%d %H:%M"),
        }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(kept, indent=1), encoding="utf-8")
    if len(kept) >= 2:
        small, large = min(kept, key=int), max(kept, key=int)
        print(f"\np99 at {int(large):,} against {int(small):,} (target: within {TARGET}x; {args.results})")
        for name in (*OPERATIONS, "issue"):
            if name not in kept[small]["p99"] or name not in kept[large]["p99"]:
                continue
            a, b = median(kept[small]["p99"][name]), median(kept[large]["p99"][name])
            verdict = "met" if b <= TARGET * a else "MISSED"
            print(f"  {name:<8} {a:8.2f} ms -> {b:8.2f} ms: {b / a:5.2f}x  {verdict}")


def report(size: int, figures: dict[str, Figures], per_credential: float, cores: int) -> None:
    print(
        f"\n{size:,} credentials: {per_credential:,.0f} bytes per credential (whole database); "
        f"{cores} cores; uvicorn {server_stack()}"
    )
    print(f"{'operation':<9} {'req/s':>22} {'p50 ms':>22} {'p99 ms':>22} {'errors':>6}")
    for name, f in figures.items():
        cells = [f"{median(v):8.1f} ({min(v):.1f}-{max(v):.1f})".rjust(22) for v in (f.rate, f.p50, f.p99)]
        print(f"{name:<9} {' '.join(cells)} {f.errors:>6}", flush=True)


if __name__ == "__main__":
    main()
