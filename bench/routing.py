"""Route matching benchmark: ``python -m bench.routing``.

The node's app (a fresh SQLite node) is asked which route a request goes to, as
FastAPI's router loop asks (each entry of the app's routes in turn, until one matches
fully), for a few paths: the busiest (status list, verification, VC API verification,
the holder's list), the last of the API's routes, and a path that matches nothing
(asked twice by FastAPI: once more for the trailing-slash redirect). Two ways in
interleaved rounds: with each included router prefiltered (``registry/routing.py``,
what the node does) and unfiltered (FastAPI's own ``_IncludedRouter`` entries).
Printed: µs per match, the median of the rounds and their range.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.routing import _IncludedRouter
from starlette.routing import BaseRoute, Match

from bench.common import free_port, make_app, median
from registry.routing import PrefilteredRouter

PATHS = (
    ("GET", "/status/revocation/1"),
    ("POST", "/v1/verifications"),
    ("POST", "/credentials/verify"),
    ("GET", "/v1/holder/credentials"),
    ("POST", "/federation/recognition-applications"),
    ("GET", "/nothing/here"),
)


def pick(routes: list[BaseRoute], method: str, path: str) -> BaseRoute | None:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000, help="matches per path per round")
    args = parser.parse_args()
    rounds = max(args.rounds, 3)
    with tempfile.TemporaryDirectory(prefix="bench-routing-") as tmp:
        app = make_app(Path(tmp), free_port())
        filtered = list(app.router.routes)
        plain = [
            _IncludedRouter(original_router=r.original_router, include_context=r.include_context)
            if isinstance(r, PrefilteredRouter)
            else r
            for r in filtered
        ]
        ways = {"prefiltered": filtered, "unfiltered": plain}
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(rounds):
            for method, path in PATHS:
                picked = {name: pick(routes, method, path) for name, routes in ways.items()}
                assert (picked["prefiltered"] is None) == (picked["unfiltered"] is None), path
                for name, routes in ways.items():
                    start = time.perf_counter()
                    for _ in range(args.calls):
                        pick(routes, method, path)
                    micros = (time.perf_counter() - start) / args.calls * 1e6
                    times.setdefault((f"{method} {path}", name), []).append(micros)
    print(f"route matching, µs per request (median of {rounds} rounds, range); {len(filtered)} entries")
    print(f"{'request':48s} {'prefiltered':>20s} {'unfiltered':>20s} {'ratio':>6s}")
    for method, path in PATHS:
        label = f"{method} {path}"
        cells = []
        for name in ways:
            values = times[(label, name)]
            cells.append(f"{median(values):6.1f} ({min(values):.1f}-{max(values):.1f})")
        ratio = median(times[(label, "unfiltered")]) / median(times[(label, "prefiltered")])
        print(f"{label:48s} {cells[0]:>20s} {cells[1]:>20s} {ratio:5.1f}x")


if __name__ == "__main__":
    main()
