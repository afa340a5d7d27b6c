"""``registry`` command line.

registry serve                      run this node
registry init                       create the database, key ring and catalogue if absent
registry admin create USER          make an admin account (password from stdin or a prompt)
registry issue --batch FILE         issue an evaluation batch (CSV or JSON), all or nothing
registry keys rotate                retire the signing key and activate a new one
registry verify FILE                verify a VC JSON (eddsa-jcs-2022) or VC-JWT file ('-': stdin)
registry sample-credential          print a signed sample title credential (VC JSON or VC-JWT)
registry openapi                    print the OpenAPI document

registry federation jwks            print this entity's federation JWK Set (for the trust anchor)
registry federation keys rotate     retire the federation key and activate a new one

The trust anchor (REGISTRY_ROLE=anchor):
registry anchor init                create the anchor's database and keys; print its JWK Set
registry anchor serve               run the trust anchor
registry anchor admit ENTITY_ID --did DID --province NN (--jwks FILE | --jwks-json TEXT)
registry anchor authorise ENTITY_ID SCOPE [--from ISO] [--until ISO]
registry anchor withdraw AUTH_ID --reason TEXT
registry anchor remove ENTITY_ID --reason TEXT
registry anchor members             members and their authorisation history (JSON)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from registry.app import create_app, prepare_database
from registry.auth import CLI_PRINCIPAL, Passwords
from registry.credentials import issuance
from registry.credentials.sample import SAMPLE_ROW
from registry.credentials.verification import Report, Trust
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
    """Runs the node's verification pipeline: status from this node's own lists, and,
    when the node is federated, another province's credential through its trust chain
    and signed lists (fetched for this one run)."""
    with sys.stdin.buffer if args.file == "-" else open(args.file, "rb") as source:
        data = source.read()
    report = verify_file(settings, data)
    print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    return 0 if report.verdict == "valid" else 1


def verify_file(
    settings: Settings,
    data: bytes,
    http: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Report:
    """The report of ``data`` as this node sees it (``http``: how peers are reached)."""
    from registry.node import NodeState
    from registry.routes.federation import own_entity_configuration

    db = _database(settings)
    node = NodeState(settings, db, clock)
    node.join_federation(http)
    directory = node.directory
    if directory is not None:
        directory.own_configuration = lambda: own_entity_configuration(node)

        async def fetch() -> None:
            try:
                await directory.prepare([data])
            finally:
                await directory.client.aclose()

        asyncio.run(fetch())
    with db.session() as session:
        ring = NodeKeyStore(settings.key_passphrase).load(session)
        trust = Trust.of(
            settings.did,
            ring,
            peers=directory.profiles() if directory is not None else (),
            federated=directory is not None,
        )
        report, _ = verify_one(
            session, data, trust, settings.base_url.rstrip("/"), None, clock(), peer_status=directory
        )
    db.dispose()
    return report


def cmd_openapi(settings: Settings, args: argparse.Namespace) -> int:
    sys.stdout.write(openapi_json())
    return 0


def openapi_json() -> str:
    """The OpenAPI document of a node with default settings (no files touched)."""
    settings = Settings(database_url="sqlite://")
    app = create_app(settings)
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


# --- federation -------------------------------------------------------------------

#: A date without a time is midnight in China Standard Time, the federation's time zone.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))


def _instant(text: str, what: str) -> datetime:
    """An ISO 8601 instant with a time zone, or a date (midnight, UTC+8)."""
    try:
        if len(text) == 10:
            return datetime.combine(datetime.fromisoformat(text).date(), time(), CHINA_STANDARD_TIME)
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an ISO 8601 date or date-time") from None
    if instant.tzinfo is None:
        raise ValueError(f"{what} {text!r} needs a time zone (such as Z or +08:00)")
    return instant


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _federation_jwks(settings: Settings, db: Database) -> dict[str, Any]:
    from registry.federation.entity import published_jwks

    with db.session(write=False) as session:
        ring = NodeKeyStore(settings.key_passphrase, "federation").load(session)
    return published_jwks(ring, utc_now())


def cmd_federation_jwks(settings: Settings, args: argparse.Namespace) -> int:
    _print_json(_federation_jwks(settings, _database(settings)))
    return 0


def cmd_federation_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from registry import audit
    from registry.federation.entity import published_jwks

    db = _database(settings)
    now = utc_now()
    with db.session() as session:
        ring = NodeKeyStore(settings.key_passphrase, "federation").rotate(session, now)
        kid = ring.signing_key(now)[0].kid
        audit.record(session, CLI_PRINCIPAL, now, "federation.key.rotate", "node_key", kid)
    print(f"new federation key {kid}; register this JWK Set at the trust anchor:", file=sys.stderr)
    _print_json(published_jwks(ring, now))
    return 0


def _anchor(
    command: Callable[[Settings, argparse.Namespace], int],
) -> Callable[[Settings, argparse.Namespace], int]:
    """The ``anchor`` commands run only with ``REGISTRY_ROLE=anchor``."""

    def run(settings: Settings, args: argparse.Namespace) -> int:
        if settings.role != "anchor":
            print("registry: this is not a trust anchor; set REGISTRY_ROLE=anchor", file=sys.stderr)
            return 2
        return command(settings, args)

    return run


def _members_json(session: Session, entity_id: str | None = None) -> Any:
    from registry.federation import anchor
    from registry.routes.federation import member_out

    records = [member_out(r).model_dump() for r in anchor.members(session)]
    if entity_id is None:
        return records
    return next(r for r in records if r["entityId"] == entity_id)


def cmd_anchor_init(settings: Settings, args: argparse.Namespace) -> int:
    db = _database(settings)
    _print_json({"entityId": settings.entity_id, "jwks": _federation_jwks(settings, db)})
    print(
        f"trust anchor {settings.entity_id} ready; give nodes REGISTRY_TRUST_ANCHOR={settings.entity_id} "
        "and this JWK Set as REGISTRY_TRUST_ANCHOR_JWKS",
        file=sys.stderr,
    )
    return 0


def cmd_anchor_admit(settings: Settings, args: argparse.Namespace) -> int:
    from registry.federation import anchor

    if args.jwks is not None:
        text = sys.stdin.read() if args.jwks == "-" else Path(args.jwks).read_text(encoding="utf-8")
    else:
        text = args.jwks_json
    jwks = json.loads(text)
    db = _database(settings)
    with db.session() as session:
        anchor.admit(
            session,
            CLI_PRINCIPAL,
            utc_now(),
            entity_id=args.entity_id,
            did=args.did,
            province=args.province,
            jwks=jwks,
            anchor_id=settings.entity_id,
            allow_http_loopback=settings.federation_allow_private,
        )
        _print_json(_members_json(session, args.entity_id))
    return 0


def cmd_anchor_authorise(settings: Settings, args: argparse.Namespace) -> int:
    from registry.federation import anchor
    from registry.routes.federation import authorisation_out

    now = utc_now()
    valid_from = _instant(args.valid_from, "--from") if args.valid_from else now
    valid_until = _instant(args.valid_until, "--until") if args.valid_until else None
    db = _database(settings)
    with db.session() as session:
        row = anchor.authorise(
            session,
            CLI_PRINCIPAL,
            now,
            entity_id=args.entity_id,
            scope=args.scope,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        _print_json(authorisation_out(row).model_dump())
    return 0


def cmd_anchor_withdraw(settings: Settings, args: argparse.Namespace) -> int:
    from registry.federation import anchor
    from registry.routes.federation import authorisation_out

    db = _database(settings)
    with db.session() as session:
        row = anchor.withdraw(session, CLI_PRINCIPAL, utc_now(), args.authorisation_id, args.reason)
        _print_json(authorisation_out(row).model_dump())
    return 0


def cmd_anchor_remove(settings: Settings, args: argparse.Namespace) -> int:
    from registry.federation import anchor

    db = _database(settings)
    with db.session() as session:
        anchor.remove(session, CLI_PRINCIPAL, utc_now(), args.entity_id, args.reason)
        _print_json(_members_json(session, args.entity_id))
    return 0


def cmd_anchor_members(settings: Settings, args: argparse.Namespace) -> int:
    db = _database(settings)
    with db.session(write=False) as session:
        _print_json(_members_json(session))
    return 0


def _add_anchor_commands(sub: Any) -> None:
    anchor = sub.add_parser("anchor", help="the federation's trust anchor (REGISTRY_ROLE=anchor)")
    commands = anchor.add_subparsers(dest="anchor_command", required=True)
    commands.add_parser("init", help="create the anchor's database and keys").set_defaults(
        func=_anchor(cmd_anchor_init)
    )
    serve = commands.add_parser("serve", help="run the trust anchor")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=_anchor(cmd_serve))
    admit = commands.add_parser("admit", help="admit a node")
    admit.add_argument("entity_id", metavar="ENTITY_ID", help="the node's base URL")
    admit.add_argument("--did", required=True)
    admit.add_argument("--province", required=True, choices=["31", "32", "33", "34"])
    source = admit.add_mutually_exclusive_group(required=True)
    source.add_argument("--jwks", metavar="FILE", help="the node's federation JWK Set ('-': stdin)")
    source.add_argument("--jwks-json", metavar="TEXT", help="the node's federation JWK Set as JSON text")
    admit.set_defaults(func=_anchor(cmd_anchor_admit))
    authorise = commands.add_parser("authorise", help="authorise a member to issue a type, series or *")
    authorise.add_argument("entity_id", metavar="ENTITY_ID")
    authorise.add_argument("scope", metavar="SCOPE", help="a catalogue code, a series such as ENG-*, or *")
    when = "an ISO 8601 date-time with a time zone, or a date (its midnight in UTC+8)"
    authorise.add_argument("--from", dest="valid_from", metavar="ISO", help=f"{when}; default: now")
    authorise.add_argument("--until", dest="valid_until", metavar="ISO", help=f"{when}; default: open")
    authorise.set_defaults(func=_anchor(cmd_anchor_authorise))
    withdraw = commands.add_parser("withdraw", help="end an authorisation now")
    withdraw.add_argument("authorisation_id", metavar="AUTH_ID", type=int)
    withdraw.add_argument("--reason", required=True)
    withdraw.set_defaults(func=_anchor(cmd_anchor_withdraw))
    remove = commands.add_parser("remove", help="remove a member (its history stays)")
    remove.add_argument("entity_id", metavar="ENTITY_ID")
    remove.add_argument("--reason", required=True)
    remove.set_defaults(func=_anchor(cmd_anchor_remove))
    commands.add_parser("members", help="members and their authorisations").set_defaults(
        func=_anchor(cmd_anchor_members)
    )


def _add_federation_commands(sub: Any) -> None:
    federation = sub.add_parser("federation", help="this entity's federation keys")
    commands = federation.add_subparsers(dest="federation_command", required=True)
    commands.add_parser("jwks", help="print the federation JWK Set").set_defaults(func=cmd_federation_jwks)
    keys = commands.add_parser("keys", help="federation keys").add_subparsers(
        dest="federation_keys_command", required=True
    )
    keys.add_parser("rotate", help="rotate the federation key").set_defaults(func=cmd_federation_keys_rotate)


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
    sub.add_parser(
        "demo",
        help="a trust anchor and the four provincial nodes on loopback, over https (registry demo --help)",
        add_help=False,
    )
    _add_federation_commands(sub)
    _add_anchor_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["demo"]:
        # The demo makes its own settings for five entities (registry/demo.py).
        from registry import demo

        return demo.main(arguments[1:])
    args = build_parser().parse_args(arguments)
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
