"""``registry`` command line.

registry serve                      run this node
registry init                       create the database, key ring and catalogue if absent
registry admin create USER          make an admin account (password from stdin or a prompt)
registry issue --batch FILE         issue an evaluation batch (CSV or JSON), all or nothing
registry keys rotate                retire the signing key and activate a new one
registry verify FILE                verify a VC JSON (eddsa-jcs-2022) or VC-JWT file ('-': stdin)
registry sample-credential          print a signed sample title credential (VC JSON or VC-JWT)
registry openapi                    print the OpenAPI document
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlmodel import Session

from registry.app import create_app, prepare_database
from registry.auth import CLI_PRINCIPAL, Passwords
from registry.credentials import issuance
from registry.credentials.sample import SAMPLE_ROW
from registry.credentials.verification import Trust
from registry.database import Database
from registry.errors import RegistryError
from registry.models import Credential
from registry.node import utc_now
from registry.node_keys import NodeKeyStore
from registry.settings import Settings
from registry.signing import jose
from registry.verifier import verify_one


def _database(settings: Settings) -> Database:
    db = Database.from_url(settings.resolved_database_url)
    prepare_database(settings, db)
    return db


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    app = create_app(settings)
    print(f"node {settings.did} serving {settings.base_url}/.well-known/did.json", file=sys.stderr)
    uvicorn.run(app, host=args.host or settings.host, port=args.port or settings.port, log_level="info")
    return 0


def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    db = _database(settings)
    with db.session() as session:
        ring = NodeKeyStore(settings.key_passphrase).load(session)
    print(
        f"node {settings.did} ready at {settings.resolved_database_url.split('@')[-1]}; "
        f"signing key {ring.signing_key(utc_now())[0].kid}"
    )
    return 0


def cmd_admin_create(settings: Settings, args: argparse.Namespace) -> int:
    from registry.accounts import create_account

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password for the new admin: ")
        if getpass.getpass("again: ") != password:
            print("registry: the passwords differ", file=sys.stderr)
            return 2
    db = _database(settings)
    with db.session() as session:
        account = create_account(
            session, Passwords(), CLI_PRINCIPAL, args.username, password, "admin", utc_now()
        )
    print(json.dumps({"id": account.id, "username": account.username, "role": account.role}))
    return 0


def cmd_issue(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.batch)
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        raw_rows = issuance.rows_from_csv(text)
    else:
        data = json.loads(text)
        raw_rows = data["credentials"] if isinstance(data, dict) else data
    batch_id = args.batch_id or path.stem
    db = _database(settings)
    with db.session() as session:
        ctx = _issuance_context(settings, session)
        rows = issuance.validate_batch(session, raw_rows, ctx)
        result = issuance.issue(session, CLI_PRINCIPAL, rows, ctx, batch_id=batch_id)
    print(json.dumps({"batchId": result.batchId, "count": result.count}, ensure_ascii=False))
    return 0


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    db = _database(settings)
    now = utc_now()
    with db.session() as session:
        ring = NodeKeyStore(settings.key_passphrase).rotate(session, now)
        from registry import audit

        audit.record(session, CLI_PRINCIPAL, now, "key.rotate", "node_key", ring.signing_key(now)[0].kid)
    print(f"new signing key {ring.signing_key(now)[0].kid}; {len(ring.records)} keys in the ring")
    return 0


def _issuance_context(settings: Settings, session: Session) -> issuance.IssuanceContext:
    import random

    from registry.auth import derive_key

    return issuance.IssuanceContext(
        did=settings.did,
        base_url=settings.base_url.rstrip("/"),
        province=settings.province,
        ring=NodeKeyStore(settings.key_passphrase).load(session),
        id_key=derive_key(settings.secret_key, "holder-id-lookup"),
        rng=random.SystemRandom(),
        now=utc_now(),
    )


def cmd_sample(settings: Settings, args: argparse.Namespace) -> int:
    """Issue (once; later calls print the same credential) a title credential for a
    fictitious holder, as VC JSON or as a VC-JWT."""
    db = _database(settings)
    with db.session() as session:
        ctx = _issuance_context(settings, session)
        rows = issuance.validate_batch(session, [SAMPLE_ROW], ctx)
        result = issuance.issue(session, CLI_PRINCIPAL, rows, ctx, batch_id="sample-credential")
        row = session.get(Credential, result.credentials[0].id)
        assert row is not None
        document = json.loads(row.document)
    if args.format == "jwt":
        record, key = ctx.ring.signing_key(ctx.now)
        unsecured = {k: v for k, v in document.items() if k != "proof"}
        unsecured["iat"] = int(ctx.now.timestamp())
        print(jose.sign_vc_jwt(unsecured, key, f"{settings.did}#{record.kid}"))
    else:
        print(json.dumps(document, ensure_ascii=False, indent=2))
    return 0


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Runs the node's verification pipeline (status from this node's own lists)."""
    with sys.stdin.buffer if args.file == "-" else open(args.file, "rb") as source:
        data = source.read()
    now = utc_now()
    db = _database(settings)
    with db.session() as session:
        ring = NodeKeyStore(settings.key_passphrase).load(session)
        report, _ = verify_one(
            session, data, Trust.of(settings.did, ring), settings.base_url.rstrip("/"), None, now
        )
    print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    return 0 if report.verdict == "valid" else 1


def cmd_openapi(settings: Settings, args: argparse.Namespace) -> int:
    sys.stdout.write(openapi_json())
    return 0


def openapi_json() -> str:
    """The OpenAPI document of a node with default settings (no files touched)."""
    settings = Settings(database_url="sqlite://")
    app = create_app(settings)
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
    sub.add_parser("init", help="create the database, key ring and catalogue").set_defaults(func=cmd_init)
    admin = sub.add_parser("admin", help="accounts").add_subparsers(dest="admin_command", required=True)
    create = admin.add_parser("create", help="make an admin account")
    create.add_argument("username")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.set_defaults(func=cmd_admin_create)
    issue = sub.add_parser("issue", help="issue credentials")
    issue.add_argument("--batch", required=True, help="CSV (header row) or JSON file of the batch")
    issue.add_argument("--batch-id", help="idempotency key (default: the file name without extension)")
    issue.set_defaults(func=cmd_issue)
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
        body = {"type": exc.type_uri, "title": exc.title, "detail": exc.detail, **exc.extensions}
        print(json.dumps(body, ensure_ascii=False), file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError) as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
