"""registry: operate a provincial node of the Yangtze River Delta talent credential registry.

  registry init                       create the database, key ring and catalogue if absent
  registry serve                      run this node
  registry admin create USER          make the first admin account (password from stdin or a prompt)
  registry accounts create|list|deactivate|reactivate|reset-password    staff accounts (alias: officers)
  registry hr-clients create|list|deactivate|rotate-key                 HR clients and their API keys
  registry issue --batch FILE         issue an evaluation batch (CSV or JSON), all or nothing
  registry revoke CERT_NO --reason CODE    revoke a credential (codes: GET /v1/status-reasons)
  registry keys list|rotate|compromise     the signing keys; compromise asks to repeat the kid
  registry verify FILE                verify a VC JSON (eddsa-jcs-2022) or VC-JWT file ('-': stdin)
  registry sample-credential          print a sample title credential (stored nowhere; VC JSON or VC-JWT)
  registry openapi                    print the OpenAPI document
  registry demo                       a trust anchor and four provincial nodes on loopback

  registry federation jwks            print this entity's federation JWK Set (for the trust anchor)
  registry federation keys rotate     retire the federation key and activate a new one

The trust anchor (REGISTRY_ROLE=anchor):
  registry anchor init | serve | members
  registry anchor admit ENTITY_ID --did DID --province NN (--jwks FILE | --jwks-json TEXT)
  registry anchor authorise ENTITY_ID SCOPE [--from ISO] [--until ISO]
  registry anchor withdraw AUTH_ID --reason TEXT
  registry anchor remove ENTITY_ID --reason TEXT

Commands that change the node are audited as the operator who ran them (--operator,
default: the user running the command). Settings come from REGISTRY_* variables.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from registry import __version__, i18n
from registry.app import create_app, prepare_database
from registry.auth import CLI_PRINCIPAL, Passwords, Principal
from registry.credentials import issuance
from registry.credentials.sample import unsaved_sample
from registry.credentials.verification import Report, Trust
from registry.database import Database
from registry.errors import RegistryError
from registry.federation import recognition
from registry.models import Account, Credential, HrClient
from registry.node import utc_now
from registry.node_keys import NodeKeyStore, key_state
from registry.serving import run_workers
from registry.settings import Settings
from registry.verifier import Names, report_json, verify_one


def _database(settings: Settings) -> Database:
    db = Database.from_url(settings.resolved_database_url)
    prepare_database(settings, db)
    return db


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    workers = getattr(args, "workers", None) or settings.workers
    if workers > 1:
        # Checked by the settings: several workers need PostgreSQL.
        settings = settings.model_copy(update={"workers": workers})
        Settings.model_validate(settings.model_dump())
    app = create_app(settings)
    for warning in settings.startup_warnings(host=args.host, port=args.port):
        print(f"registry: warning: {warning}", file=sys.stderr)
    print(f"node {settings.did} serving {settings.base_url}/.well-known/did.json", file=sys.stderr)
    host, port = args.host or settings.host, args.port or settings.port
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="info")
        return 0
    # The database is migrated and seeded and the key ring made (create_app above);
    # each worker process builds its own app from the same environment.
    app.state.node.db.dispose()
    os.environ["REGISTRY_WORKERS"] = str(workers)
    print(f"registry: {workers} worker processes share the database and HR rate limits", file=sys.stderr)
    config = uvicorn.Config(
        "registry.app:create_app", factory=True, workers=workers, host=host, port=port, log_level="info"
    )
    try:
        status = run_workers(config, host, port)
    except OSError as error:
        print(f"registry: cannot listen on {host}:{port}: {error.strerror or error}", file=sys.stderr)
        return 1
    if status != 0:
        print("registry: a worker process could not start (see above); the node stopped", file=sys.stderr)
    return status


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
            session, Passwords(), _operator(args, "admin"), args.username, password, "admin", utc_now()
        )
    print(json.dumps({"id": account.id, "username": account.username, "role": account.role}))
    return 0


def cmd_issue(settings: Settings, args: argparse.Namespace) -> int:
    """Issue a batch file: CSV or JSON told apart by content (not by the file name),
    CSV in UTF-8 or GB18030; then what was issued, as a table or as JSON."""
    from registry.credentials import batch_csv

    path = Path(args.batch)
    data = path.read_bytes()
    lines: list[int] | None = None
    if batch_csv.is_csv(data):
        table = batch_csv.read_batch(data)
        raw_rows, lines = table.rows, table.lines
    else:
        document = json.loads(data.decode("utf-8-sig"))
        raw_rows = document["credentials"] if isinstance(document, dict) else document
    batch_id = args.batch_id or path.stem
    db = _database(settings)
    with db.session() as session:
        ctx = _issuance_context(settings, session)
        rows = issuance.validate_batch(session, raw_rows, ctx, lines)
        officer = _operator(args, "issuing_officer")
        result = issuance.issue(session, officer, rows, ctx, batch_id=batch_id)
    if args.json:
        _print_json(result.model_dump())
    else:
        print(_issued_table(result, lines))
    return 0


def _width(text: str) -> int:
    """Columns a terminal gives ``text`` (a Chinese character takes two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _issued_table(result: issuance.BatchResult, lines: Sequence[int] | None) -> str:
    """One line per credential (the file's line, or the row, of each: credentials are
    numbered in the order of the rows), then the count."""
    where = "行 line" if lines is not None else "序号 row"
    head = [where, "证书编号 certificate number", "持证人 holder id"]
    body = [
        [str(lines[i] if lines is not None else i + 1), c.certificateNumber, c.holderId]
        for i, c in enumerate(result.credentials)
    ]
    widths = [max(_width(r[k]) for r in [head, *body]) for k in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(head), *(line(r) for r in body)]
    if result.replayed:
        out.append(
            f"批次 {result.batchId} 此前已签发，共 {result.count} 份证书 / "
            f"batch {result.batchId} was issued before: {result.count} credentials"
        )
    else:
        out.append(
            f"批次 {result.batchId} 已签发 {result.count} 份证书 / "
            f"batch {result.batchId}: {result.count} credentials issued"
        )
    return "\n".join(out)


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    db = _database(settings)
    now = utc_now()
    with db.session() as session:
        ring = NodeKeyStore(settings.key_passphrase).rotate(session, now)
        from registry import audit

        admin = _operator(args, "admin")
        audit.record(session, admin, now, "key.rotate", "node_key", ring.signing_key(now)[0].kid)
    print(f"new signing key {ring.signing_key(now)[0].kid}; {len(ring.records)} keys in the ring")
    return 0


# --- the operator, and what operators do over the node's life ---------------------


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name (a container without one)
        return "unknown"


def _operator(args: argparse.Namespace, role: str) -> Principal:
    """The person at the terminal, as the audit log names them (``cli:NAME``), acting
    in ``role`` (issuing officer for issuance and revocation, admin otherwise)."""
    from registry.credentials.identity import normalise_text

    name = getattr(args, "operator", None) or _os_user()
    try:
        name = normalise_text(name.strip())
    except ValueError as exc:
        raise ValueError(f"--operator {exc}") from None
    if not 1 <= len(name) <= 64:
        raise ValueError("--operator is 1 to 64 characters")
    return Principal(kind="cli", id=name, role=role)


def _read_password(args: argparse.Namespace, prompt: str) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass(prompt)
    if getpass.getpass("again: ") != password:
        print("registry: 两次输入的密码不同 / the passwords differ", file=sys.stderr)
        return None
    return password


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat().replace("+00:00", "Z")


def _account_json(row: Account) -> dict[str, Any]:
    return {
        "id": row.id,
        "username": row.username,
        "role": row.role,
        "active": row.active,
        "mustChangePassword": row.must_change_password,
        "createdAt": _iso(row.created_at),
        "hrClientId": row.hr_client_id,
    }


def cmd_accounts_create(settings: Settings, args: argparse.Namespace) -> int:
    from registry.accounts import create_account

    password = _read_password(args, f"password for {args.username}: ")
    if password is None:
        return 2
    db = _database(settings)
    with db.session() as session:
        account = create_account(
            session,
            Passwords(),
            _operator(args, "admin"),
            args.username,
            password,
            args.role,
            utc_now(),
            hr_client_id=args.hr_client,
        )
        _print_json(_account_json(account))
    return 0


def cmd_accounts_list(settings: Settings, args: argparse.Namespace) -> int:
    from registry.accounts import list_accounts

    db = _database(settings)
    with db.session(write=False) as session:
        _print_json([_account_json(a) for a in list_accounts(session, role=args.role)])
    return 0


def _set_active(active: bool) -> Callable[[Settings, argparse.Namespace], int]:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        from registry.accounts import set_account_active

        db = _database(settings)
        with db.session() as session:
            row = set_account_active(
                session, _operator(args, "admin"), args.account, active, args.reason, utc_now()
            )
            _print_json(_account_json(row))
        return 0

    return run


def cmd_accounts_reset_password(settings: Settings, args: argparse.Namespace) -> int:
    from registry.accounts import reset_password

    chosen = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    db = _database(settings)
    with db.session() as session:
        row, made = reset_password(
            session, Passwords(), _operator(args, "admin"), args.account, args.reason, utc_now(), chosen
        )
        _print_json(_account_json(row) | ({"oneTimePassword": made} if made else {}))
    print(
        "registry: 一次性密码仅可用于设置新密码 / the one-time password only lets the user choose a new one "
        "(POST /v1/auth/password)",
        file=sys.stderr,
    )
    return 0


def _hr_client_json(client: HrClient) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "keyId": client.key_id,
        "scopes": client.scopes.split(),
        "ratePerMinute": client.rate_per_minute,
        "active": client.active,
        "createdAt": _iso(client.created_at),
    }


def cmd_hr_clients_create(settings: Settings, args: argparse.Namespace) -> int:
    from registry.accounts import create_hr_client

    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    rate = args.rate or settings.hr_rate_per_minute
    db = _database(settings)
    with db.session() as session:
        client, key = create_hr_client(session, _operator(args, "admin"), args.name, scopes, rate, utc_now())
        _print_json(_hr_client_json(client) | {"apiKey": key})
    print("registry: API 密钥只显示这一次 / the API key is shown this once", file=sys.stderr)
    return 0


def cmd_hr_clients_list(settings: Settings, args: argparse.Namespace) -> int:
    from registry.accounts import list_hr_clients

    db = _database(settings)
    with db.session(write=False) as session:
        _print_json([_hr_client_json(c) for c in list_hr_clients(session)])
    return 0


def cmd_hr_clients_deactivate(settings: Settings, args: argparse.Namespace) -> int:
    from registry.accounts import deactivate_hr_client

    db = _database(settings)
    with db.session() as session:
        client = deactivate_hr_client(
            session, _operator(args, "admin"), args.client_id, args.reason, utc_now()
        )
        _print_json(_hr_client_json(client))
    print(
        "registry: 运行中的节点在 5 秒内拒绝该密钥 / running nodes refuse its key within 5 s", file=sys.stderr
    )
    return 0


def cmd_hr_clients_rotate_key(settings: Settings, args: argparse.Namespace) -> int:
    from registry.accounts import rotate_hr_client_key

    db = _database(settings)
    with db.session() as session:
        client, key = rotate_hr_client_key(
            session, _operator(args, "admin"), args.client_id, args.reason, utc_now()
        )
        _print_json(_hr_client_json(client) | {"apiKey": key})
    print(
        "registry: 新密钥只显示这一次，旧密钥 5 秒内失效 / the new key is shown this once; "
        "the old one stops within 5 s",
        file=sys.stderr,
    )
    return 0


def cmd_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke a credential by its certificate number (final)."""
    import unicodedata

    from sqlmodel import select

    from registry.credentials import status
    from registry.errors import NotFoundError

    number = unicodedata.normalize("NFKC", args.certificate_number).strip()
    db = _database(settings)
    now = utc_now()
    with db.session() as session:
        credential = session.exec(select(Credential).where(Credential.certificate_number == number)).first()
        if credential is None:
            raise NotFoundError(f"no credential with certificate number {number}")
        row = status.change_status(
            session,
            _operator(args, "issuing_officer"),
            credential.id,
            "revoke",
            args.reason,
            args.note,
            did=settings.did,
            base_url=settings.base_url.rstrip("/"),
            ring=NodeKeyStore(settings.key_passphrase).load(session),
            now=now,
            ttl=settings.status_list_max_age,
        )
        _print_json(
            {
                "id": row.id,
                "certificateNumber": row.certificate_number,
                "status": row.status,
                "statusReason": row.status_reason,
            }
        )
    return 0


def _keys_json(ring: Any, purpose: str, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "kid": r.kid,
            "purpose": purpose,
            "state": key_state(r, now),
            "created": _iso(r.created),
            "activated": _iso(r.activated),
            "retired": _iso(r.retired),
            "compromisedFrom": _iso(r.compromised_from),
        }
        for r in ring.records
    ]


def cmd_keys_list(settings: Settings, args: argparse.Namespace) -> int:
    db = _database(settings)
    with db.session(write=False) as session:
        ring = NodeKeyStore(settings.key_passphrase, args.purpose).load(session)
    _print_json(_keys_json(ring, args.purpose, utc_now()))
    return 0


def cmd_keys_compromise(settings: Settings, args: argparse.Namespace) -> int:
    """Mark a signing key compromised from an instant, once the kid is repeated."""
    from registry.accounts import audit_reason
    from registry.node_keys import compromise_signing_key, signing_kid

    confirm = args.confirm
    if confirm is None:
        print(
            f"registry: 将把密钥 {args.kid} 自 {args.since} 起标记为已泄露，此后其签名一律无效 / "
            f"key {args.kid} will be held compromised from {args.since}: nothing it signed since is valid",
            file=sys.stderr,
        )
        print("type the kid again to confirm / 再次输入密钥标识以确认: ", end="", file=sys.stderr, flush=True)
        confirm = sys.stdin.readline().strip()
    if confirm != args.kid:
        print(
            "registry: 确认不符，未做更改 / the confirmation differs from the kid; nothing changed",
            file=sys.stderr,
        )
        return 2
    since = _instant(args.since, "--since")
    now = utc_now()
    db = _database(settings)
    with db.session() as session:
        ring = compromise_signing_key(
            session,
            NodeKeyStore(settings.key_passphrase),
            _operator(args, "admin"),
            args.kid,
            since,
            audit_reason(args.reason),
            now,
        )
    _print_json(
        {"kid": args.kid, "signingKid": signing_kid(ring, now), "keys": _keys_json(ring, "assertion", now)}
    )
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
    """Print a sample title credential of this node's province (its committee), for a
    fictitious holder, as VC JSON or as a VC-JWT. Nothing is stored and the node's keys
    do not sign it: a throwaway did:key does, and the credential says it is a sample,
    so no verifier takes it for a real title. (The demo federation stores samples in
    its own databases: ``registry demo``.)"""
    now = utc_now()
    made = unsaved_sample(settings.province, settings.base_url, now, jwt=args.format == "jwt")
    print(made if isinstance(made, str) else json.dumps(made, ensure_ascii=False, indent=2))
    return 0


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Runs the node's verification pipeline: status from this node's own lists, and,
    when the node is federated, another province's credential through its trust chain
    and signed lists (fetched for this one run)."""
    with sys.stdin.buffer if args.file == "-" else open(args.file, "rb") as source:
        data = source.read()
    names: list[Names] = []
    report = verify_file(settings, data, names_out=names)
    locale = i18n.negotiate(None, args.lang or os.environ.get("LANG", "").split(".")[0].replace("_", "-"))
    print(json.dumps(report_json(report, locale, names[0]), ensure_ascii=False, indent=2))
    return 0 if report.verdict == "valid" else 1


def verify_file(
    settings: Settings,
    data: bytes,
    http: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] = utc_now,
    names_out: list[Names] | None = None,
) -> Report:
    """The report of ``data`` as this node sees it (``http``: how peers are reached);
    ``names_out`` receives how the report names issuers (for :func:`report_json`)."""
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
        now = clock()
        report, _ = verify_one(
            session, data, trust, settings.base_url.rstrip("/"), None, now, peer_status=directory
        )
        view = recognition.View.read(session) if settings.role == "node" else None
    if names_out is not None:
        names_out.append(Names.of(trust, settings.province, view, now))
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


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its help, unless it has none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class OverviewFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """The top-level help: the overview of commands as written (its columns line up)."""


def _describe(parser: argparse.ArgumentParser) -> None:
    """Every subcommand gets the formatter, and its one-line help as its description."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                child.formatter_class = HelpFormatter
                if child.description is None:
                    child.description = helps.get(name)
                _describe(child)


def _operator_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--operator",
        metavar="NAME",
        default=_os_user(),
        help="who runs this, as the audit log names them",
    )
    return parent


def _reason(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", required=True, help="why (kept in the audit log; up to 64 characters)")


def _add_lifecycle_commands(sub: Any, operator: argparse.ArgumentParser) -> None:
    accounts = sub.add_parser(
        "accounts", aliases=["officers"], help="staff accounts: officers, auditors, admins, HR clerks"
    )
    commands = accounts.add_subparsers(dest="accounts_command", required=True)
    create = commands.add_parser("create", parents=[operator], help="make a staff account")
    create.add_argument("username")
    create.add_argument(
        "--role", choices=["issuing_officer", "auditor", "admin", "hr_clerk"], default="issuing_officer"
    )
    create.add_argument(
        "--hr-client", metavar="ID", help="for an hr_clerk: the HR client (department) the clerk works for"
    )
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.set_defaults(func=cmd_accounts_create)
    listing = commands.add_parser("list", help="staff accounts (JSON)")
    listing.add_argument(
        "--role", choices=["issuing_officer", "auditor", "admin", "hr_clerk"], help="only this role"
    )
    listing.set_defaults(func=cmd_accounts_list)
    for name, active, text in (
        ("deactivate", False, "stop an account: no sign-in, its tokens stop at once"),
        ("reactivate", True, "let a deactivated account sign in again"),
    ):
        command = commands.add_parser(name, parents=[operator], help=text)
        command.add_argument("account", metavar="USER", help="user name or account id")
        _reason(command)
        command.set_defaults(func=_set_active(active))
    reset = commands.add_parser(
        "reset-password",
        parents=[operator],
        help="set a one-time password the user must replace (printed once unless given on stdin)",
    )
    reset.add_argument("account", metavar="USER", help="user name or account id")
    _reason(reset)
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the one-time password from standard input"
    )
    reset.set_defaults(func=cmd_accounts_reset_password)

    clients = sub.add_parser("hr-clients", help="HR clients and their API keys")
    commands = clients.add_subparsers(dest="hr_clients_command", required=True)
    create = commands.add_parser(
        "create", parents=[operator], help="register an HR client; prints its key once"
    )
    create.add_argument("name", help="the department's name, shown to holders")
    create.add_argument("--scopes", default="verify,lookup", help="comma-separated: verify, lookup")
    create.add_argument(
        "--rate", type=int, metavar="N", help="credentials a minute (default: REGISTRY_HR_RATE_PER_MINUTE)"
    )
    create.set_defaults(func=cmd_hr_clients_create)
    commands.add_parser("list", help="HR clients (JSON; keys are never shown again)").set_defaults(
        func=cmd_hr_clients_list
    )
    deactivate = commands.add_parser("deactivate", parents=[operator], help="stop a client and its key")
    deactivate.add_argument("client_id", metavar="CLIENT_ID")
    _reason(deactivate)
    deactivate.set_defaults(func=cmd_hr_clients_deactivate)
    rotate = commands.add_parser(
        "rotate-key", parents=[operator], help="a new key for a client (printed once); the old one stops"
    )
    rotate.add_argument("client_id", metavar="CLIENT_ID")
    _reason(rotate)
    rotate.set_defaults(func=cmd_hr_clients_rotate_key)

    revoke = sub.add_parser(
        "revoke", parents=[operator], help="revoke a credential by its certificate number (final)"
    )
    revoke.add_argument("certificate_number", metavar="CERT_NO", help="such as 32-2026-0000001")
    revoke.add_argument(
        "--reason", required=True, metavar="CODE", help="a revocation reason code, e.g. research_misconduct"
    )
    revoke.add_argument("--note", help="free text kept in the audit log (a decision number)")
    revoke.set_defaults(func=cmd_revoke)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="registry", description=__doc__, formatter_class=OverviewFormatter)
    parser.add_argument("--version", action="version", version=f"registry {__version__}")
    operator = _operator_option()
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run this node")
    serve.add_argument("--host", help="address to listen on (default: REGISTRY_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: REGISTRY_PORT)")
    serve.add_argument(
        "--workers",
        type=int,
        choices=range(1, 65),
        metavar="N",
        help="worker processes (default: REGISTRY_WORKERS, 1); more than one needs PostgreSQL",
    )
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("init", help="create the database, key ring and catalogue").set_defaults(func=cmd_init)
    admin = sub.add_parser("admin", help="the first admin account").add_subparsers(
        dest="admin_command", required=True
    )
    create = admin.add_parser("create", parents=[operator], help="make an admin account")
    create.add_argument("username")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.set_defaults(func=cmd_admin_create)
    _add_lifecycle_commands(sub, operator)
    issue = sub.add_parser(
        "issue",
        parents=[operator],
        help="issue an evaluation batch (CSV with a header row, or JSON), all or nothing; "
        "audited as the operator with the issuing-officer role",
        description="issue an evaluation batch (CSV with a header row, or JSON), all or nothing;\n"
        "audited as the operator with the issuing-officer role",
        epilog=_issue_epilog(),
    )
    issue.add_argument(
        "--batch",
        required=True,
        metavar="FILE",
        help="CSV (header row; UTF-8 or GB18030/GBK) or JSON file of the batch, told apart by content",
    )
    issue.add_argument("--batch-id", help="idempotency key (default: the file name without extension)")
    issue.add_argument(
        "--json", action="store_true", help="print the result as JSON instead of a table of credentials"
    )
    issue.set_defaults(func=cmd_issue)
    keys = sub.add_parser("keys", help="the node's signing keys").add_subparsers(
        dest="keys_command", required=True
    )
    listing = keys.add_parser("list", help="the keys with their history and state (JSON)")
    listing.add_argument("--purpose", choices=["assertion", "federation"], default="assertion")
    listing.set_defaults(func=cmd_keys_list)
    keys.add_parser(
        "rotate", parents=[operator], help="retire the signing key and activate a new one"
    ).set_defaults(func=cmd_keys_rotate)
    compromise = keys.add_parser(
        "compromise",
        parents=[operator],
        help="hold a signing key compromised from an instant: what it signed since then fails; "
        "a new key signs from now when it was the signing key",
    )
    compromise.add_argument(
        "kid",
        metavar="KID",
        help="the key id, as 'registry keys list' shows it (a kid is base64url and may begin with '-': "
        "give it after the options and '--', e.g. ... --reason R -- -hb3…)",
    )
    compromise.add_argument(
        "--since",
        required=True,
        metavar="ISO",
        help="an ISO 8601 date-time with a time zone, or a date (its midnight in UTC+8)",
    )
    _reason(compromise)
    compromise.add_argument(
        "--confirm", metavar="KID", help="the kid again (default: asked for on the terminal)"
    )
    compromise.set_defaults(func=cmd_keys_compromise)
    sample = sub.add_parser(
        "sample-credential", help="print a sample credential (a throwaway key signs it; nothing is stored)"
    )
    sample.add_argument("--format", choices=["vc", "jwt"], default="vc", help="VC JSON or VC-JWT")
    sample.set_defaults(func=cmd_sample)
    verify = sub.add_parser("verify", help="verify a credential file ('-' for stdin); exit 0 only when valid")
    verify.add_argument("file", help="VC JSON or VC-JWT")
    verify.add_argument(
        "--lang",
        choices=["zh-CN", "en"],
        help="language of the report's messages and summary (default: from LANG, else zh-CN)",
    )
    verify.set_defaults(func=cmd_verify)
    sub.add_parser("openapi", help="print the OpenAPI document").set_defaults(func=cmd_openapi)
    sub.add_parser(
        "demo",
        help="a trust anchor and the four provincial nodes on loopback, over https (registry demo --help)",
        add_help=False,
    )
    _add_federation_commands(sub)
    _add_anchor_commands(sub)
    _describe(parser)
    issue.formatter_class = OverviewFormatter  # the column list of its epilog keeps its lines
    return parser


def _issue_epilog() -> str:
    from registry.credentials import batch_csv

    return (
        "CSV 列 / CSV columns (表头可用中文、英文或 JSON 字段名 / headers in Chinese, English or the JSON\n"
        "names; UTF-8 or GB18030 (GBK); template / 模板: GET /v1/issuance/template.csv):\n"
        + batch_csv.columns_help()
        + "\n\nPrints each credential's certificate number and holder id, then the count."
    )


#: The first half of each error line, by HTTP status of the error.
_ZH_TITLES = {
    400: "请求无效",
    401: "未认证",
    403: "无权限",
    404: "未找到",
    409: "与当前状态冲突",
    413: "内容过大",
    422: "输入不符合要求",
    429: "请求过多",
    502: "无法访问对方节点",
    503: "服务繁忙，请稍后重试",
}


def explain(exc: RegistryError) -> str:
    """An error as lines a person reads: Chinese and English, then one line per row
    error of a rejected batch (never the problem document itself)."""
    zh = _ZH_TITLES.get(exc.status, "错误")
    lines = [f"registry: {zh} / {exc.title}: {exc.detail}"]
    errors = exc.extensions.get("errors")
    for item in errors if isinstance(errors, list) else ():
        if not isinstance(item, dict):
            lines.append(f"  {item}")
            continue
        where = []
        for key, zh_key in (("line", "行"), ("row", "行")):
            if item.get(key) is not None:
                where.append(f"第 {item[key]} {zh_key} / {key} {item[key]}")
                break
        if item.get("field"):
            where.append(str(item["field"]))
        rest = {k: v for k, v in item.items() if k not in ("line", "row", "field", "message")}
        message = str(item.get("message", ""))
        if rest:
            message += " (" + ", ".join(f"{k}: {v}" for k, v in rest.items()) + ")"
        lines.append(f"  {', '.join(where)}: {message}" if where else f"  {message}")
    return "\n".join(lines)


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
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return result
    except BrokenPipeError:
        # The reader went away (`registry openapi | head -1`): end quietly, as a
        # program killed by SIGPIPE would, and let nothing flush into the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141
    except RegistryError as exc:
        print(explain(exc), file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError) as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("registry: 已中断 / interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
