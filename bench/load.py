"""Mixed load: ``python -m bench.load [--seconds 20] [--verifiers 8]``.

A node (SQLite, one uvicorn worker in a child process, as ``make run`` serves it) takes
four kinds of traffic at once for a fixed time, from this process over loopback:

* HR verifications: ``POST /v1/verifications`` with one of the node's credentials
  (``--verifiers`` concurrent clients, each sending the next request when the last
  one is answered);
* batch issuance: ``PUT /v1/issuance/batches/<id>`` with 200 new rows, one after another;
* revocations: ``POST /v1/credentials/<id>/revocation`` of credentials issued before the
  run, one after another;
* holder downloads: ``GET /v1/holder/credentials/<id>`` (VC JSON and VC-JWT) by holders
  signed in with their own accounts, two clients.

It prints, per operation, the number of requests, requests per second, p50 and p99
latency, and every answer that was not the one expected (none are allowed: the
benchmark exits non-zero). Afterwards it checks the results: every credential revoked
during the run verifies as revoked (``status`` fails with the revocation), every
batch answered 201 is stored in full, and a holder's VC-JWT of a revoked credential is
refused.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi.testclient import TestClient

from bench.common import (
    ADMIN,
    CpuMeter,
    expect,
    free_port,
    hr_headers,
    issue_rows,
    make_app,
    node_of,
    officer_headers,
    serve,
)
from registry import accounts
from registry.node import NodeState

BATCH_ROWS = 200
PRE_ISSUED = 600
HOLDERS = 20


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def record(self, operation: str, started: float, ok: bool, what: str) -> None:
        self.latencies[operation].append(time.perf_counter() - started)
        if not ok:
            self.errors[operation].append(what[:300])


@dataclass
class Fixture:
    verify_bodies: list[bytes]
    revocable: list[str]
    holder_credentials: list[tuple[dict[str, str], str]]
    officer: dict[str, str]
    hr: dict[str, str]


def prepare(folder: Path, port: int) -> Fixture:
    """Issue the credentials the run uses and open holder accounts, in this process."""
    app = make_app(folder, port)
    node = node_of(app)
    officer = officer_headers(node)
    with TestClient(app) as client:
        response = client.put(
            f"/v1/issuance/batches/{uuid.uuid4()}",
            json={"credentials": issue_rows(PRE_ISSUED, first=1_000_000)},
            headers=officer,
        )
        expect(response.status_code == 201, response.text[:500])
        issued = response.json()["credentials"]
        verify_bodies = []
        for item in issued[:50]:
            vc = client.get(f"/v1/credentials/{item['id']}", headers=officer)
            expect(vc.status_code == 200, vc.text[:300])
            verify_bodies.append(orjson.dumps(vc.json()["verifiableCredential"]))
    holders = open_holder_accounts(node, issued[50 : 50 + HOLDERS])
    fixture = Fixture(
        verify_bodies=verify_bodies,
        revocable=[item["id"] for item in issued[50 + HOLDERS :]],
        holder_credentials=holders,
        officer=officer,
        hr=hr_headers(node),
    )
    node.db.dispose()
    return fixture


def open_holder_accounts(node: NodeState, issued: list[dict[str, Any]]) -> list[tuple[dict[str, str], str]]:
    from registry.models import Holder

    out = []
    now = node.clock()
    with node.db.session() as session:
        for n, item in enumerate(issued):
            holder = session.get(Holder, item["holderId"])
            expect(holder is not None, f"holder {item['holderId']} not stored")
            account = accounts.create_account(
                session,
                node.passwords,
                ADMIN,
                f"holder-{n}",
                "a long holder password",
                "holder",
                now,
                item["holderId"],
            )
            token, _ = node.tokens.issue(account, now)
            out.append(({"Authorization": f"Bearer {token}"}, item["id"]))
    return out


async def verifier_loop(client: httpx.AsyncClient, fx: Fixture, tally: Tally, stop: float) -> None:
    headers = {**fx.hr, "Content-Type": "application/json"}
    while time.perf_counter() < stop:
        body = random.choice(fx.verify_bodies)
        started = time.perf_counter()
        response = await client.post("/v1/verifications", content=body, headers=headers)
        ok = response.status_code == 200 and response.json()["verdict"] in ("valid", "invalid")
        tally.record("verify", started, ok, f"{response.status_code} {response.text}")


async def issuer_loop(
    client: httpx.AsyncClient, fx: Fixture, tally: Tally, stop: float, done: list[Any]
) -> None:
    first = 2_000_000
    while time.perf_counter() < stop:
        rows = issue_rows(BATCH_ROWS, first=first)
        first += BATCH_ROWS
        batch_id = str(uuid.uuid4())
        started = time.perf_counter()
        response = await client.put(
            f"/v1/issuance/batches/{batch_id}", json={"credentials": rows}, headers=fx.officer
        )
        ok = response.status_code == 201 and response.json()["count"] == BATCH_ROWS
        tally.record("issue batch", started, ok, f"{response.status_code} {response.text}")
        if ok:
            done.append(batch_id)


async def revoker_loop(
    client: httpx.AsyncClient, fx: Fixture, tally: Tally, stop: float, revoked: list[str]
) -> None:
    for credential_id in fx.revocable:
        if time.perf_counter() >= stop:
            return
        started = time.perf_counter()
        response = await client.post(
            f"/v1/credentials/{credential_id}/revocation",
            json={"reasonCode": "research_misconduct"},
            headers=fx.officer,
        )
        ok = response.status_code == 200
        tally.record("revoke", started, ok, f"{response.status_code} {response.text}")
        if ok:
            revoked.append(credential_id)


async def holder_loop(client: httpx.AsyncClient, fx: Fixture, tally: Tally, stop: float) -> None:
    while time.perf_counter() < stop:
        headers, credential_id = random.choice(fx.holder_credentials)
        fmt = random.choice(("vc", "vc-jwt"))
        started = time.perf_counter()
        response = await client.get(f"/v1/holder/credentials/{credential_id}?format={fmt}", headers=headers)
        tally.record(
            "holder download", started, response.status_code == 200, f"{response.status_code} {response.text}"
        )


async def run(
    base: str, fx: Fixture, seconds: float, verifiers: int
) -> tuple[Tally, list[str], list[Any], float]:
    tally = Tally()
    revoked: list[str] = []
    batches: list[Any] = []
    limits = httpx.Limits(max_connections=verifiers + 8)
    async with httpx.AsyncClient(base_url=base, timeout=60.0, limits=limits) as client:
        start = time.perf_counter()
        stop = start + seconds
        await asyncio.gather(
            *(verifier_loop(client, fx, tally, stop) for _ in range(verifiers)),
            issuer_loop(client, fx, tally, stop, batches),
            revoker_loop(client, fx, tally, stop, revoked),
            holder_loop(client, fx, tally, stop),
            holder_loop(client, fx, tally, stop),
        )
        elapsed = time.perf_counter() - start
    return tally, revoked, batches, elapsed


def check_afterwards(base: str, fx: Fixture, revoked: list[str], batches: list[Any]) -> list[str]:
    """What is wrong after the run (empty when every revocation and batch holds)."""
    wrong = []
    with httpx.Client(base_url=base, timeout=60.0) as client:
        for credential_id in revoked:
            vc = client.get(f"/v1/credentials/{credential_id}", headers=fx.officer)
            if vc.status_code != 200:
                wrong.append(f"revoked {credential_id}: look-up {vc.status_code}")
                continue
            report = client.post(
                "/v1/verifications", json=vc.json()["verifiableCredential"], headers=fx.hr
            ).json()
            status = next((c for c in report["checks"] if c["check"] == "status"), None)
            if report["verdict"] != "invalid" or status is None or status["result"] != "fail":
                wrong.append(f"revoked {credential_id} verifies as {report['verdict']}")
        for batch_id in batches:
            answer = client.get(f"/v1/issuance/batches/{batch_id}", headers=fx.officer)
            if answer.status_code != 200 or answer.json()["result"]["count"] != BATCH_ROWS:
                wrong.append(f"batch {batch_id}: {answer.status_code} {answer.text[:200]}")
    return wrong


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--verifiers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        folder = Path(tmp)
        port = free_port()
        fx = prepare(folder, port)
        with serve(folder, port) as server, CpuMeter().stretch() as use:
            tally, revoked, batches, elapsed = asyncio.run(run(server.base, fx, args.seconds, args.verifiers))
            wrong = check_afterwards(server.base, fx, revoked, batches)
            log = server.log_summary()
    print(f"mixed load for {elapsed:.1f} s, SQLite, one uvicorn worker, {args.verifiers} HR verifiers")
    print(f"{'operation':<16} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    failures = 0
    for operation, values in sorted(tally.latencies.items()):
        errors = len(tally.errors[operation])
        failures += errors
        print(
            f"{operation:<16} {len(values):>9} {len(values) / elapsed:>8.1f} "
            f"{percentile(values, 0.5) * 1000:>8.1f} {percentile(values, 0.99) * 1000:>8.1f} {errors:>7}"
        )
    issued = len(batches) * BATCH_ROWS
    print(f"credentials issued during the run: {issued} ({issued / elapsed:.0f}/s)")
    print(f"revoked during the run: {len(revoked)}; afterwards every one verifies as revoked: {not wrong}")
    print(
        f"CPU seconds over {use.wall:.1f} s: server {use.children:.1f}, this client {use.own:.1f}, "
        f"other processes {use.others:.1f} (2 cores: the machine's noise)"
    )
    print(log)
    for operation, messages in tally.errors.items():
        for message in messages[:5]:
            print(f"ERROR {operation}: {message}")
    for line in wrong[:20]:
        print(f"WRONG {line}")
    expect(failures == 0 and not wrong, f"{failures} unexpected answers, {len(wrong)} wrong results")


if __name__ == "__main__":
    main()
