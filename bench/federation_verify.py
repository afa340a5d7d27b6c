"""Cross-province verification benchmark: ``python -m bench.federation_verify``.

A trust anchor, a Jiangsu node and an Anhui node (``registry demo``'s set-up: real
processes, https with the demo CA, each on its own SQLite database). An Anhui HR client
verifies, through the Anhui node, a Jiangsu title (cross-province, warm: chain, keys and
lists cached) and an Anhui title (local) of the same body size, in interleaved rounds:

- over HTTP: sequential requests on one keep-alive connection, mean latency per request;
- in-process: the verification path alone (``verify_one`` with the node's Trust and
  status sources), no HTTP;
- cold: the first cross-province verification of a freshly started Anhui node (members
  list, trust chain, two signed status lists fetched and verified), against a warm one;
- background refresh: ``PeerDirectory.refresh`` with everything due.

Target: warm cross-province ≤ 1.2× local. Medians of rounds with their range.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from registry import demo
from registry.accounts import create_hr_client
from registry.app import create_app
from registry.database import Database
from registry.models import Credential
from registry.routes.verification import trust_of
from registry.verifier import Verifier, verify_one

TARGET = 1.2


def _documents(entities: list[demo.Entity], facts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first sample of Jiangsu and of Anhui (same row shape, so the same size)."""
    found = []
    for province in ("32", "34"):
        entity = next(e for e in entities if e.province == province)
        db = Database.from_url(entity.settings.resolved_database_url)
        with db.session(write=False) as session:
            row = session.get(Credential, facts["credentials"][province][0])
            assert row is not None
            found.append(json.loads(row.document))
        db.dispose()
    return found[0], found[1]


def _unlimited_hr_key(anhui: demo.Entity) -> str:
    """An HR client whose rate limit the benchmark does not reach."""
    db = Database.from_url(anhui.settings.resolved_database_url)
    with db.session() as session:
        _, key = create_hr_client(session, demo.DEMO, "基准测试人事处", ["verify"], 10**9, datetime.now(UTC))
    db.dispose()
    return key


def _http_round(client: httpx.Client, url: str, body: bytes, headers: dict[str, str], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        answer = client.post(url, content=body, headers=headers)
        if answer.status_code != 200 or answer.json()["verdict"] != "valid":
            raise RuntimeError(answer.text)
    return (time.perf_counter() - start) / n


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def http_rounds(
    client: httpx.Client,
    anhui: demo.Entity,
    hr: str,
    peer: dict[str, Any],
    local: dict[str, Any],
    rounds: int,
) -> tuple[list[float], list[float]]:
    url = f"{anhui.settings.base_url}/v1/verifications"
    headers = {"Authorization": f"Bearer {hr}", "Content-Type": "application/json"}
    bodies = {k: json.dumps({"credential": v}).encode() for k, v in (("peer", peer), ("local", local))}
    print(f"body sizes: Jiangsu {len(bodies['peer'])} B, Anhui {len(bodies['local'])} B")
    for body in bodies.values():
        _http_round(client, url, body, headers, 50)  # warm: chain, lists, caches, connection
    peer_ms, local_ms = [], []
    for _ in range(rounds):
        peer_ms.append(_http_round(client, url, bodies["peer"], headers, 200) * 1000)
        local_ms.append(_http_round(client, url, bodies["local"], headers, 200) * 1000)
    return peer_ms, local_ms


def cold_first(
    folder: Path, entities: list[demo.Entity], hr: str, peer: dict[str, Any]
) -> tuple[float, float]:
    """A freshly started Anhui node (Jiangsu and the anchor keep running): the first
    cross-province verification and the one after it, in milliseconds."""
    anhui = [e for e in entities if e.province == "34"]
    with demo.serving(folder, anhui) as client:
        url = f"{anhui[0].settings.base_url}/v1/verifications"
        headers = {"Authorization": f"Bearer {hr}"}
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            answer = client.post(url, json={"credential": peer}, headers=headers)
            timings.append((time.perf_counter() - start) * 1000)
            if answer.json()["verdict"] != "valid":
                raise RuntimeError(answer.text)
    return timings[0], timings[1]


def in_process(
    entities: list[demo.Entity], peer: dict[str, Any], local: dict[str, Any], rounds: int
) -> tuple[list[float], list[float], float]:
    """The verification path alone at the Anhui node, against the live Jiangsu node and
    anchor for its peer data (fetched once, then cached); and one background refresh."""
    anhui = next(e for e in entities if e.province == "34")
    app = create_app(anhui.settings, verifier=Verifier(workers=1))
    node = app.state.node
    directory = node.directory
    assert directory is not None

    async def warm() -> float:
        await directory.prepare([peer, local])
        start = time.perf_counter()
        directory._fetched = {e: datetime(2000, 1, 1, tzinfo=UTC) for e in directory._fetched}
        directory._lists = {
            u: type(found)(
                found.url,
                found.did,
                found.purpose,
                found.bits,
                found.length,
                found.etag,
                datetime(2000, 1, 1, tzinfo=UTC),
            )
            for u, found in directory._lists.items()
        }
        await directory.refresh()
        refresh = time.perf_counter() - start
        await directory.client.aclose()
        return refresh

    refresh_seconds = asyncio.run(warm())
    trust = trust_of(node)

    def run(document: dict[str, Any], n: int) -> float:
        start = time.perf_counter()
        with node.db.session(write=False) as session:
            for _ in range(n):
                report, _ = verify_one(
                    session,
                    document,
                    trust,
                    node.base_url,
                    None,
                    node.clock(),
                    node.status_cache,
                    peer_status=directory,
                )
                if report.verdict != "valid":
                    raise RuntimeError(str(report.to_json()))
        return (time.perf_counter() - start) / n * 1e6

    run(peer, 200), run(local, 200)
    peer_us, local_us = [], []
    for _ in range(rounds):
        peer_us.append(run(peer, 1000))
        local_us.append(run(local, 1000))
    node.db.dispose()
    return peer_us, local_us, refresh_seconds * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, rounds: {args.rounds}; target warm cross-province ≤ {TARGET}× local")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        entities = demo.plan(folder, ["32", "34"], base_port=29100)
        facts = demo.prepare(folder, entities, datetime.now(UTC))
        peer, local = _documents(entities, facts)
        hr = _unlimited_hr_key(next(e for e in entities if e.province == "34"))
        with demo.serving(folder, entities) as client:
            anhui = next(e for e in entities if e.province == "34")
            peer_ms, local_ms = http_rounds(client, anhui, hr, peer, local, args.rounds)
        ratios = [p / q for p, q in zip(peer_ms, local_ms, strict=True)]
        print("HTTP POST /v1/verifications at the Anhui node (ms per request, sequential, https):")
        print(f"  Jiangsu title (warm) {_spread(peer_ms)}; Anhui title {_spread(local_ms)}")
        print(f"  ratio {_spread(ratios)}×  (target ≤ {TARGET})")
        others = [e for e in entities if e.province != "34"]
        with demo.serving(folder, others):
            colds = [cold_first(folder, entities, hr, peer) for _ in range(3)]
            peer_us, local_us, refresh_ms = in_process(entities, peer, local, args.rounds)
        print("cold: first cross-province verification of a fresh Anhui node, then the next (ms):")
        print(f"  first {_spread([c[0] for c in colds])}; next {_spread([c[1] for c in colds])}")
        in_ratios = [p / q for p, q in zip(peer_us, local_us, strict=True)]
        print("in-process verification path at Anhui (µs per credential):")
        print(f"  Jiangsu title {_spread(peer_us)}; Anhui title {_spread(local_us)}")
        print(f"  ratio {_spread(in_ratios)}×  (target ≤ {TARGET})")
        print(f"background refresh of one member (chain + 2 lists, everything due): {refresh_ms:.1f} ms")
        met = statistics.median(ratios) <= TARGET and statistics.median(in_ratios) <= TARGET
        print("target met" if met else "target MISSED")


if __name__ == "__main__":
    main()
