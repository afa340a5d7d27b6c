"""What issuing a batch saves by taking the holders its validation found (issue 11,
"Flat issuance"): ``issuance.issue`` of the same rows, alternately as ``validate_batch``
returned them (a ``ValidatedBatch``: no second holder look-up) and as a plain list (every
holder looked up again through ``uq_holder_identity``, as before), each run rolled back so
the node does not grow. Run on a node filled by ``bench/fill.py`` (``make bench-scale``
keeps one database per size); prints the issue step's seconds, median of the rounds with
the range, and the ratio, measured in the same run.

    .venv/bin/python -m bench.issue_lookup --size 1000000 --rows 1000 --rounds 7
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench import fill
from bench.common import issue_row, median
from bench.scale import database_for
from registry.auth import Principal
from registry.credentials import issuance
from registry.node import NodeState
from registry.routes.issuance import context

OFFICER = Principal("account", "bench-officer", "issuing_officer")


class _Rollback(Exception):
    """Raised to leave the session without committing what was issued."""


def issue_seconds(node: NodeState, rows: list[issuance.IssueRequest]) -> float:
    seconds = 0.0
    try:
        with node.db.session() as session:
            began = time.perf_counter()
            issuance.issue(session, OFFICER, rows, context(node, session))
            seconds = time.perf_counter() - began
            raise _Rollback
    except _Rollback:
        pass
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("REGISTRY_SCALE_DATABASE_URL", fill.DEFAULT_URL))
    parser.add_argument("--data-dir", type=Path, default=fill.DEFAULT_DATA_DIR)
    parser.add_argument("--size", type=int, default=1_000_000, help="the filled node to use")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    node = fill.open_node(database_for(args.url, args.size), args.data_dir / str(args.size))
    held = fill.loaded(node)
    print(f"node of {held:,} credentials; batches of {args.rows:,} new holders; {args.rounds} rounds each")
    first = 14_900_000  # holders no load (positions from 0) or scale round (from 14,000,000) made
    with node.db.session(write=False) as session:
        raw = [issue_row(seed) for seed in range(first, first + args.rows)]
        validated = issuance.validate_batch(session, raw, context(node, session))
    plain = list(validated)
    issue_seconds(node, validated)  # warm the caches and the connection pool
    reused: list[float] = []
    again: list[float] = []
    for _ in range(max(args.rounds, 3)):
        reused.append(issue_seconds(node, validated))
        again.append(issue_seconds(node, plain))
    a, b = median(again), median(reused)
    print(f"holders looked up again: {a:.3f} s ({min(again):.3f}-{max(again):.3f})")
    print(f"validation's holders:    {b:.3f} s ({min(reused):.3f}-{max(reused):.3f})")
    print(f"issue step {a / b:.2f}x as fast; {args.rows / b:,.0f} credentials/s against {args.rows / a:,.0f}")


if __name__ == "__main__":
    main()
