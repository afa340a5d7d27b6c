"""``registry`` command line.

registry serve                 run this node (did:web document, JWKS, health)
registry init                  create the node's key ring if there is none
registry keys rotate           retire the signing key and activate a new one
registry sample-credential     print a signed sample title credential (VC JSON or VC-JWT)
registry verify FILE           verify a VC JSON (eddsa-jcs-2022) or VC-JWT file
registry openapi               print the OpenAPI document
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from registry.app import create_app, utc_now
from registry.credentials.sample import sample_title_credential
from registry.errors import RegistryError
from registry.node_keys import NodeKeyStore
from registry.settings import Settings
from registry.signing import data_integrity, jcs, jose
from registry.signing.did import DidResolver, did_web_document
from registry.signing.errors import ProofConfigurationError, ResolutionError


def _store(settings: Settings) -> NodeKeyStore:
    return NodeKeyStore(settings.data_dir, settings.key_passphrase)


def _local_resolver(settings: Settings) -> DidResolver:
    """did:key offline, and this node's own did:web from its key ring on disk."""
    ring = _store(settings).load_or_create(utc_now())

    def fetch(did: str) -> Mapping[str, Any]:
        if did != settings.did:
            raise ResolutionError(f"{did} is not this node; fetching other nodes is not done offline")
        return did_web_document(settings.did, ring, utc_now())

    return DidResolver(fetch)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    app = create_app(settings)
    print(f"node {settings.did} serving {settings.base_url}/.well-known/did.json", file=sys.stderr)
    uvicorn.run(app, host=args.host or settings.host, port=args.port or settings.port, log_level="info")
    return 0


def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    existed = store.exists()
    ring = store.load_or_create(utc_now())
    state = "exists" if existed else "created"
    print(f"key ring {state} at {store.ring_path}; signing key {ring.signing_key(utc_now())[0].kid}")
    return 0


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    ring = _store(settings).rotate(utc_now())
    print(f"new signing key {ring.signing_key(utc_now())[0].kid}; {len(ring.records)} keys in the ring")
    return 0


def cmd_sample(settings: Settings, args: argparse.Namespace) -> int:
    now = utc_now()
    ring = _store(settings).load_or_create(now)
    record, key = ring.signing_key(now)
    credential = sample_title_credential(settings.did, settings.base_url, now)
    vm = f"{settings.did}#{record.kid}"
    if args.format == "jwt":
        print(jose.sign_vc_jwt(credential, key, vm))
    else:
        signed = data_integrity.add_proof(credential, key, vm, now)
        print(json.dumps(signed, ensure_ascii=False, indent=2))
    return 0


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    with sys.stdin.buffer if args.file == "-" else open(args.file, "rb") as source:
        text = source.read().strip()
    now = utc_now()
    ring = _store(settings).load_or_create(now)
    resolver = _local_resolver(settings)
    if text.startswith(b"{"):
        verified = data_integrity.verify_issuer_proof(jcs.loads(text), resolver, now)
        method, signed_at = verified.verification_method, verified.created
    else:
        token = jose.verify_vc_jwt(text, resolver, now)
        method = token.verification_method
        valid_from = token.payload.get("validFrom")
        signed_at = data_integrity.parse_datetime(valid_from, "validFrom") if valid_from else None
    if method.controller == settings.did:
        # One of this node's keys: it must have been valid for signing when it signed.
        if signed_at is None:
            raise ProofConfigurationError("credential does not say when it was signed")
        ring.check_valid_at(method.id.partition("#")[2], signed_at)
    print(json.dumps({"verified": True, "verificationMethod": method.id}))
    return 0


def cmd_openapi(settings: Settings, args: argparse.Namespace) -> int:
    sys.stdout.write(openapi_json(settings))
    return 0


def openapi_json(settings: Settings) -> str:
    from registry.signing.keyring import KeyRing
    from registry.signing.keys import generate_private_key

    app = create_app(settings, ring=KeyRing.start(generate_private_key(), utc_now()))
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="registry", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run this node")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("init", help="create the key ring").set_defaults(func=cmd_init)
    keys = sub.add_parser("keys", help="key management").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("rotate", help="rotate the signing key").set_defaults(func=cmd_keys_rotate)
    sample = sub.add_parser("sample-credential", help="print a signed sample credential")
    sample.add_argument("--format", choices=["vc", "jwt"], default="vc")
    sample.set_defaults(func=cmd_sample)
    verify = sub.add_parser("verify", help="verify a credential file ('-' for stdin)")
    verify.add_argument("file")
    verify.set_defaults(func=cmd_verify)
    sub.add_parser("openapi", help="print the OpenAPI document").set_defaults(func=cmd_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
        result: int = args.func(settings, args)
        return result
    except RegistryError as exc:
        print(json.dumps({"type": exc.type_uri, "title": exc.title, "detail": exc.detail}), file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
