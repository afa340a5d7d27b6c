"""eddsa-rdfc-2022 against eddsa-jcs-2022 verification: ``python -m bench.rdfc``.

The same ~1.5 KB professional-title credential is signed with both cryptosuites by one
did:key, and each is verified (``verify_issuer_proof``, did:key resolved offline) in
interleaved runs, so a noisy neighbour slows both alike. Each run times ``--count``
verifications of each; the report gives, per cryptosuite, the median per-verification
time over the runs with its range (min-max), and the ratio of the medians. The first
eddsa-rdfc-2022 verification of a process (its contexts processed once, then cached)
is reported on its own.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from registry.contexts import pinned_contexts
from registry.credentials.sample import sample_title_credential
from registry.signing import data_integrity
from registry.signing.did import DidResolver, did_key_from_public_key
from registry.signing.keys import generate_private_key, public_key_to_multikey


def _per_call_ms(fn: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - start) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs (at least 3)")
    parser.add_argument("--count", type=int, default=200, help="verifications of each suite per run")
    args = parser.parse_args()
    runs = max(args.runs, 3)

    key = generate_private_key()
    issuer = did_key_from_public_key(key.public_key())
    vm = f"{issuer}#{public_key_to_multikey(key.public_key())}"
    now = datetime.now(UTC)
    credential = sample_title_credential(issuer, "https://hrss.js.example", now)
    resolver = DidResolver()
    contexts = pinned_contexts()
    jcs_signed = data_integrity.add_proof(credential, key, vm, now)
    started = time.perf_counter()
    rdfc_signed = data_integrity.add_proof(
        credential, key, vm, now, cryptosuite=data_integrity.CRYPTOSUITE_RDFC, contexts=contexts
    )
    first_sign_ms = (time.perf_counter() - started) * 1000

    def verify_jcs() -> None:
        data_integrity.verify_issuer_proof(jcs_signed, resolver, now)

    def verify_rdfc() -> None:
        data_integrity.verify_issuer_proof(rdfc_signed, resolver, now, contexts=contexts)

    started = time.perf_counter()
    verify_rdfc()
    first_rdfc_ms = (time.perf_counter() - started) * 1000
    verify_jcs()

    timings: dict[str, list[float]] = {"eddsa-jcs-2022": [], "eddsa-rdfc-2022": []}
    for _ in range(runs):
        timings["eddsa-jcs-2022"].append(_per_call_ms(verify_jcs, args.count))
        timings["eddsa-rdfc-2022"].append(_per_call_ms(verify_rdfc, args.count))

    size = len(orjson.dumps(credential))
    print(f"credential: {size} bytes (sample title credential); {runs} runs x {args.count} verifications")
    print(f"first eddsa-rdfc-2022 signing in this process (contexts processed): {first_sign_ms:.1f} ms")
    print(f"first eddsa-rdfc-2022 verification after it: {first_rdfc_ms:.2f} ms")
    medians: dict[str, float] = {}
    for suite, values in timings.items():
        medians[suite] = statistics.median(values)
        print(
            f"{suite:16s} verify: median {medians[suite]:.3f} ms per verification "
            f"(range {min(values):.3f}-{max(values):.3f} ms; {1000 / medians[suite]:,.0f}/s)"
        )
    ratio = medians["eddsa-rdfc-2022"] / medians["eddsa-jcs-2022"]
    print(f"ratio eddsa-rdfc-2022 / eddsa-jcs-2022: {ratio:.1f}x")


if __name__ == "__main__":
    main()
