"""Signing-core benchmark: ``python -m bench.signing``.

On a ~1.5 KB professional-title credential it prints ops/s for raw Ed25519 verify
(cryptography), JCS canonicalization, eddsa-jcs-2022 sign and verify, VC-JWT sign and
verify, and for comparison rfc8785 (pure Python) and PyJWT's decode. Every verify is
reported as a ratio to raw Ed25519 verify measured in the same run; rounds of all
operations are interleaved and the best round of each is kept, so a noisy neighbour
slows all of them alike rather than one.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

import jwt
import orjson
import rfc8785

from registry.credentials.sample import sample_title_credential
from registry.signing import data_integrity, jcs, jose
from registry.signing.did import DidResolver, did_key_from_public_key
from registry.signing.keys import generate_private_key, public_key_to_multikey


def _rate(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            fn()
        n += 20
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=0.08, help="per operation per round")
    args = parser.parse_args()

    key = generate_private_key()
    issuer = did_key_from_public_key(key.public_key())
    vm = f"{issuer}#{public_key_to_multikey(key.public_key())}"
    now = datetime.now(UTC)
    credential = sample_title_credential(issuer, "https://hrss.js.example", now)
    size = len(orjson.dumps(credential))
    resolver = DidResolver()
    signed = data_integrity.add_proof(credential, key, vm, now)
    token = jose.sign_vc_jwt(credential, key, vm)
    message = jcs.canonicalize(credential)
    raw_sig = key.sign(message)
    public = key.public_key()
    data_integrity.verify_issuer_proof(signed, resolver, now)
    jose.verify_vc_jwt(token, resolver, now)

    ops: dict[str, Callable[[], object]] = {
        "raw Ed25519 verify (cryptography)": lambda: public.verify(raw_sig, message),
        "raw Ed25519 sign": lambda: key.sign(message),
        "JCS canonicalize (registry)": lambda: jcs.canonicalize(credential),
        "JCS canonicalize (rfc8785, pure Python)": lambda: rfc8785.dumps(credential),
        "eddsa-jcs-2022 sign": lambda: data_integrity.add_proof(credential, key, vm, now),
        "eddsa-jcs-2022 verify": lambda: data_integrity.verify_issuer_proof(signed, resolver, now),
        "VC-JWT sign (PyJWT)": lambda: jose.sign_vc_jwt(credential, key, vm),
        "VC-JWT verify (registry)": lambda: jose.verify_vc_jwt(token, resolver, now),
        "VC-JWT decode (PyJWT jwt.decode)": lambda: jwt.decode(token, public, algorithms=["EdDSA"]),
    }
    best = dict.fromkeys(ops, 0.0)
    for _ in range(args.rounds):
        for name, fn in ops.items():
            best[name] = max(best[name], _rate(fn, args.seconds))
    raw = best["raw Ed25519 verify (cryptography)"]
    print(f"credential: {size} bytes of JSON; best of {args.rounds} interleaved rounds")
    print(f"{'operation':42s} {'ops/s':>10s} {'x raw verify':>13s}")
    for name, rate in best.items():
        print(f"{name:42s} {rate:10.0f} {rate / raw:13.2f}")
    print("targets: eddsa-jcs-2022 verify >= 0.80x, VC-JWT verify >= 0.60x")
    print(
        f"measured: eddsa-jcs-2022 verify {best['eddsa-jcs-2022 verify'] / raw:.2f}x, "
        f"VC-JWT verify {best['VC-JWT verify (registry)'] / raw:.2f}x"
    )


if __name__ == "__main__":
    main()
