"""Issuance as a PostgreSQL node grows: ``python -m bench.issuance_scale``.

Batches of 10,000 distinct new holders' credentials are issued one after another on a
fresh PostgreSQL node (a database this script creates, named with its process id, and
drops at the end), through the service path a background batch runs: ``validate_batch``
(read session), then ``issue`` and commit. Each batch's credentials/s is printed with its
steps, so a reader sees whether the last batch is as fast as the first (issue 11: the
holder look-up's generic plan scanned the holder table, and a batch of 10,000 went from 9 s
at 10k credentials to 250 s at 200k).

``--generic`` runs every statement under ``plan_cache_mode = force_generic_plan`` (the
plan PostgreSQL keeps for a statement psycopg has prepared), so the figures do not depend
on when the server switches to it. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, text

from bench.common import CHEAP_PASSWORDS, CpuMeter, expect, issue_rows
from registry.app import create_app
from registry.auth import Principal
from registry.credentials import issuance
from registry.database import Database, make_engine
from registry.node import NodeState
from registry.routes.issuance import context
from registry.settings import Settings
from registry.verifier import Verifier

OFFICER = Principal("account", "bench-officer", "issuing_officer")
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET = 2000.0


def issue_batch(node: NodeState, rows: list[dict[str, Any]], batch_id: str) -> dict[str, float]:
    """Seconds of each step: validate (read session), issue, commit."""
    start = time.perf_counter()
    with node.db.session(write=False) as session:
        requests = issuance.validate_batch(session, rows, context(node, session))
    validated = time.perf_counter()
    with node.db.session() as session:
        result = issuance.issue(session, OFFICER, requests, context(node, session), batch_id=batch_id)
        issued = time.perf_counter()
    committed = time.perf_counter()
    expect(result.count == len(rows), f"issued {result.count} of {len(rows)}")
    return {"validate": validated - start, "issue": issued - validated, "commit": committed - issued}


def table_sizes(node: NodeState) -> str:
    with node.db.engine.connect() as connection:
        sizes = connection.execute(
            text(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
                " WHERE relname IN ('holder', 'credential', 'audit_event') ORDER BY relname"
            )
        ).all()
    return ", ".join(f"{name} {size / 2**20:,.0f} MiB" for name, size in sizes)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default=DEFAULT_SERVER, help="a PostgreSQL URL to create the database on")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--generic", action="store_true", help="force_generic_plan on every connection")
    args = parser.parse_args()

    name = f"registry_bench_issuance_{os.getpid()}"
    admin = make_engine(args.server).execution_options(isolation_level="AUTOCOMMIT")
    url = make_url(args.server).set(database=name)
    if args.generic:
        url = url.update_query_dict({"options": "-c plan_cache_mode=force_generic_plan"})
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    timings: list[dict[str, float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-issuance-scale-") as tmp:
            settings = Settings(
                data_dir=Path(tmp),
                base_url="http://127.0.0.1:8032",
                database_url=url.render_as_string(hide_password=False),
            )
            database = Database.from_url(settings.database_url)
            app = create_app(settings, database=database, passwords=CHEAP_PASSWORDS, verifier=Verifier(1))
            node: NodeState = app.state.node
            expect(bool(node.ring.records), "the node has no key ring")
            with node.db.engine.connect() as connection:
                mode = connection.execute(text("SHOW plan_cache_mode")).scalar_one()
                server = connection.execute(text("SHOW server_version")).scalar_one()
            print(
                f"{args.batches} batches of {args.batch_size:,} new holders' credentials on PostgreSQL "
                f"{server} (database {name}, plan_cache_mode {mode}); service path: "
                "validate_batch + issue + commit; "
                f"{os.cpu_count()} cores; CPU s per wall s: ours (this process), others (PostgreSQL and "
                "the rest of the machine)"
            )
            print(
                f"{'batch':>5s} {'credentials':>11s} {'cred/s':>7s} {'s':>6s} "
                f"{'validate':>8s} {'issue':>6s} {'commit':>6s} {'ours':>5s} {'others':>6s}"
            )
            meter = CpuMeter()
            for batch in range(args.batches):
                rows = issue_rows(args.batch_size, first=batch * args.batch_size)
                with meter.stretch() as use:
                    seconds = issue_batch(node, rows, f"scale-{batch + 1:03d}")
                timings.append(seconds)
                total = sum(seconds.values())
                print(
                    f"{batch + 1:5d} {(batch + 1) * args.batch_size:11,d} {args.batch_size / total:7.0f} "
                    f"{total:6.2f} {seconds['validate']:8.2f} {seconds['issue']:6.2f} "
                    f"{seconds['commit']:6.2f} {use.own / use.wall:5.2f} {use.others / use.wall:6.2f}",
                    flush=True,
                )
            print(f"sizes: {table_sizes(node)}")
            node.db.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    rates = [args.batch_size / sum(t.values()) for t in timings]
    if len(rates) >= 2:
        first, last = rates[0], rates[-1]
        print(
            f"first batch {first:,.0f}/s, last {last:,.0f}/s: last/first {last / first:.2f}; "
            f"median {statistics.median(rates):,.0f}/s (range {min(rates):,.0f}-{max(rates):,.0f})"
        )
        verdict = "met" if statistics.median(rates) >= TARGET else "MISSED"
        print(f"target (issue 11): >= {TARGET:,.0f} credentials/s end to end — service path median {verdict}")


if __name__ == "__main__":
    main()
