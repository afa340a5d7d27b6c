"""Fill a PostgreSQL node with realistic credentials: ``python -m bench.fill --to 1000000``.

The node's own rows, signed by the node's own key, bulk-written with ``COPY``: holders
(four in five credentials have a holder of their own, the fifth is a second title of the
previous holder), credentials (title and qualification types from the seeded national
catalogue, with their specialties, committees and awarding bodies; awards spread over
2006–2025; each with a revocation and a suspension slot; one in 500 revoked and one in
1,000 suspended, with their bits set), the status lists those slots live on, and an audit
record per issuance and per status change. Each credential document is built by
``issuance.credential_document`` and signed by ``add_proof`` (eddsa-jcs-2022) exactly as
issuance over the API does, so every loaded credential verifies.

The node is the one ``--data-dir`` and ``--url`` describe (made on first use: migrated,
with a key ring; the same data directory then serves it, so the keyed holder look-up
hashes match). Positions already loaded are kept: ``--to`` is a total, so a benchmark can
grow one database from 100,000 to 1,000,000 to 10,000,000. A node filled here holds only
loaded credentials and batches the node issued after the last load (a credential issued
by the node itself takes a status slot the loader would give out if it grew the node:
``bench.scale`` measures each size on a database of its own).

Work is split in chunks of ``--chunk`` positions over ``--processes`` processes, each
with its own connection, one transaction per chunk (a chunk is either all there or not
at all; a rerun after an interruption carries on after the last whole chunk: chunks are
committed in order of position, see :func:`loaded`). Not a test: it prints its rate.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import make_url, text

from bench.common import CHEAP_PASSWORDS, holder_name, resident_id
from registry.app import create_app
from registry.credentials import catalogue, issuance
from registry.credentials.identity import commitment_salt, holder_commitment, id_lookup_hash, mask_id_number
from registry.credentials.status import FILL_LIMIT, list_url
from registry.credentials.status_list import MIN_LENGTH
from registry.database import Database
from registry.models import StatusList
from registry.node import NodeState
from registry.settings import Settings
from registry.signing.data_integrity import add_proof
from registry.verifier import Verifier

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/registry_scale"
DEFAULT_DATA_DIR = Path("var/scale")
BASE_URL = "http://127.0.0.1:8040"
#: Odd multipliers: position-in-list -> bit index is a bijection on 0..131,071, so the
#: slots of a list are scattered over it as random allocation scatters them.
REVOCATION_STRIDE = 0x2F0B5
SUSPENSION_STRIDE = 0x1B873
FIRST_AWARD_YEAR = 2006
AWARD_YEARS = 20
REVOKED_EVERY, SUSPENDED_EVERY = 500, 1000
LOADER = "bulk-load"
SPECIALTIES = ("电气工程及其自动化", "计算机科学与技术", "临床医学", "材料科学与工程", "化学工程", "土木工程")
PROVINCE_ZH = {"31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省"}

CREDENTIAL_COLUMNS = (
    "id, certificate_number, holder_id, type_code, specialty, committee, awarded_on, valid_from,"
    " valid_until, batch_id, revocation_list_id, revocation_index, suspension_list_id,"
    " suspension_index, status, status_reason, kid, issued_at, document"
)
HOLDER_COLUMNS = "id, name, id_type, id_lookup, id_masked, holder_commitment, created_at"
AUDIT_COLUMNS = "at, actor, actor_role, action, target_type, target_id, holder_id, reason, detail"


@dataclass(frozen=True)
class Loader:
    """What every process needs to make rows: the node's identity and signing key, the
    catalogue types it draws from, the list ids of every list number, and the instant
    the load is stamped with."""

    conninfo: str
    did: str
    base_url: str
    province: str
    kid: str
    private_key: bytes
    id_key: bytes
    types: tuple[dict[str, Any], ...]
    revocation_ids: dict[int, int]
    suspension_ids: dict[int, int]
    now: datetime


def slot(position: int, stride: int) -> tuple[int, int]:
    """(list number, bit index) of the credential at ``position``: lists filled to the
    node's fill limit, as allocation fills them."""
    number, k = divmod(position, FILL_LIMIT)
    return number + 1, (k * stride) % MIN_LENGTH


def holder_position(position: int) -> int:
    """The position whose holder the credential at ``position`` belongs to."""
    return position - 1 if position % 5 == 1 else position


def status_of(position: int) -> tuple[str, str | None]:
    if position % REVOKED_EVERY == REVOKED_EVERY - 1:
        return "revoked", ("superseded", "issued_in_error", "research_misconduct")[
            position // REVOKED_EVERY % 3
        ]
    if position % SUSPENDED_EVERY == SUSPENDED_EVERY // 3:
        return "suspended", "under_investigation"
    return "active", None


def a_uuid(kind: bytes, position: int) -> str:
    digest = hashlib.sha256(kind + position.to_bytes(8, "big")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def award_date(position: int) -> date:
    year = FIRST_AWARD_YEAR + position % AWARD_YEARS
    return date(year, 1, 1) + timedelta(days=(position // AWARD_YEARS) % 360)


def certificate_number(province: str, position: int) -> str:
    """Numbers by year of award, serials in order of position within the year."""
    return issuance.certificate_number(province, award_date(position).year, position // AWARD_YEARS + 1)


def _ctx(loader: Loader) -> issuance.IssuanceContext:
    """The issuance context ``credential_document`` reads (identity and base URL only)."""
    return issuance.IssuanceContext(
        did=loader.did,
        base_url=loader.base_url,
        province=loader.province,
        ring=None,  # type: ignore[arg-type]
        id_key=loader.id_key,
        rng=None,  # type: ignore[arg-type]
        now=loader.now,
    )


def rows_for(loader: Loader, start: int, end: int) -> tuple[list[tuple[Any, ...]], ...]:
    """Holder, credential and audit rows of positions ``start``..``end`` (a multiple of 5
    apart, so a holder's second credential is in its chunk)."""
    key = Ed25519PrivateKey.from_private_bytes(loader.private_key)
    vm = f"{loader.did}#{loader.kid}"
    ctx = _ctx(loader)
    # Plain attribute bags: the ORM's attribute descriptors cost ~17 µs a credential.
    types = [SimpleNamespace(**t) for t in loader.types]
    holders: list[tuple[Any, ...]] = []
    credentials: list[tuple[Any, ...]] = []
    audits: list[tuple[Any, ...]] = []
    people: dict[int, issuance.HolderInfo] = {}
    for position in range(start, end):
        owner = holder_position(position)
        person = people.get(owner)
        id_number = resident_id(owner)
        if person is None:
            hid = a_uuid(b"holder", owner)
            person = people[owner] = issuance.HolderInfo(
                hid, holder_name(owner), holder_commitment(commitment_salt(loader.id_key, hid), id_number)
            )
            holders.append(
                (
                    hid,
                    person.name,
                    "resident",
                    id_lookup_hash(loader.id_key, "resident", id_number),
                    mask_id_number(id_number),
                    person.holder_commitment,
                    loader.now,
                )
            )
        ctype = types[(position * 7 + (3 if owner != position else 0)) % len(types)]
        awarded = award_date(position)
        specialty = SPECIALTIES[position % len(SPECIALTIES)] if ctype.has_specialty else None
        committee = f"{PROVINCE_ZH[loader.province]}{ctype.series_zh}评审委员会"
        # What credential_document reads of an issuance row (IssueRequest's fields).
        row = SimpleNamespace(
            holder_name=person.name,
            specialty=specialty,
            evaluation_committee=committee,
            awarded_on=awarded,
            valid_until=None,
            effective_valid_from=issuance.start_of_day(awarded),
        )
        rev_number, rev_index = slot(position, REVOCATION_STRIDE)
        sus_number, sus_index = slot(position, SUSPENSION_STRIDE)
        credential_id, number = a_uuid(b"credential", position), certificate_number(loader.province, position)
        document = issuance.credential_document(
            credential_id=credential_id,
            ctx=ctx,
            row=row,  # type: ignore[arg-type]
            ctype=ctype,  # type: ignore[arg-type]
            holder=person,
            number=number,
            revocation=f"{list_url(loader.base_url, 'revocation', rev_number)}#{rev_index}",
            suspension=f"{list_url(loader.base_url, 'suspension', sus_number)}#{sus_index}",
        )
        signed = add_proof(document, key, vm, loader.now)
        status, reason = status_of(position)
        credentials.append(
            (
                credential_id,
                number,
                person.id,
                ctype.code,
                specialty,
                committee,
                awarded,
                row.effective_valid_from,
                None,
                None,
                loader.revocation_ids[rev_number],
                rev_index,
                loader.suspension_ids[sus_number],
                sus_index,
                status,
                reason,
                loader.kid,
                loader.now,
                orjson.dumps(signed).decode("utf-8"),
            )
        )
        detail = json.dumps({"certificateNumber": number, "batchId": None}, ensure_ascii=False)
        audits.append(
            (
                loader.now,
                LOADER,
                "issuing_officer",
                "credential.issue",
                "credential",
                credential_id,
                person.id,
                None,
                detail,
            )
        )
        if status != "active":
            action = "credential.revoke" if status == "revoked" else "credential.suspend"
            audits.append(
                (
                    loader.now,
                    LOADER,
                    "issuing_officer",
                    action,
                    "credential",
                    credential_id,
                    person.id,
                    reason,
                    None,
                )
            )
    return holders, credentials, audits


_connection: psycopg.Connection[Any] | None = None
_loader: Loader | None = None


def _start(loader: Loader) -> None:
    global _connection, _loader
    _loader = loader
    _connection = psycopg.connect(loader.conninfo, autocommit=True)  # each chunk: its own transaction
    _connection.execute("SET synchronous_commit = off")


def load_chunk(bounds: tuple[int, int]) -> tuple[int, float, float]:
    """Make and COPY one chunk in one transaction: (count, seconds making, seconds writing)."""
    assert _connection is not None
    assert _loader is not None
    start, end = bounds
    began = time.perf_counter()
    holders, credentials, audits = rows_for(_loader, start, end)
    made = time.perf_counter()
    with _connection.transaction(), _connection.cursor() as cursor:
        for table, columns, rows in (
            ("holder", HOLDER_COLUMNS, holders),
            ("credential", CREDENTIAL_COLUMNS, credentials),
            ("audit_event", AUDIT_COLUMNS, audits),
        ):
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for values in rows:
                    copy.write_row(values)
    return end - start, made - began, time.perf_counter() - made


def conninfo_of(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    target = make_url(url)
    with psycopg.connect(conninfo_of(str(target.set(database="postgres"))), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
        if exists is None:
            admin.execute(f'CREATE DATABASE "{target.database}"')


def open_app(url: str, data_dir: Path) -> FastAPI:
    """The node on ``url`` with ``data_dir``: migrated, with its key ring (made on first use)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, base_url=BASE_URL, database_url=url)
    database = Database.from_url(settings.database_url)
    return create_app(settings, database=database, passwords=CHEAP_PASSWORDS, verifier=Verifier(1))


def open_node(url: str, data_dir: Path) -> NodeState:
    node: NodeState = open_app(url, data_dir).state.node
    return node


def loaded(node: NodeState) -> int:
    """How many positions are loaded, checked to be the first ones: the credential of the
    last counted position is there and the next one's is not. (Chunks commit in their own
    processes, so an interrupted load can leave a hole; it is then refused, not filled.)"""
    with node.db.engine.connect() as connection:
        # The loader's credentials carry no batch id (the benchmark's own batches do).
        count = int(
            connection.execute(text("SELECT count(*) FROM credential WHERE batch_id IS NULL")).scalar_one()
        )
        present = text("SELECT count(*) FROM credential WHERE id = :id")
        last = (
            connection.execute(present, {"id": a_uuid(b"credential", count - 1)}).scalar_one() if count else 1
        )
        after = connection.execute(present, {"id": a_uuid(b"credential", count)}).scalar_one()
    if last != 1 or after != 0:
        raise SystemExit(
            f"{count:,} credentials that are not the loader's first {count:,}: fill a fresh database"
        )
    return count


def catalogue_types(node: NodeState) -> tuple[dict[str, Any], ...]:
    with node.db.session(write=False) as session:
        types = [t for t in catalogue.list_types(session) if t.active]
    return tuple(t.model_dump() for t in sorted(types, key=lambda t: t.code))


def ensure_lists(node: NodeState, total: int) -> tuple[dict[int, int], dict[int, int]]:
    """Status-list rows for every list number the positions below ``total`` use: ids by
    number, for each purpose."""
    needed = (total - 1) // FILL_LIMIT + 1 if total else 0
    ids: dict[str, dict[int, int]] = {"revocation": {}, "suspension": {}}
    with node.db.session() as session:
        for purpose in ids:
            for row in session.exec(
                text("SELECT number, id FROM status_list WHERE purpose = :p"), params={"p": purpose}
            ).all():  # type: ignore[call-overload]
                ids[purpose][int(row[0])] = int(row[1])
            for number in range(1, needed + 1):
                if number not in ids[purpose]:
                    row = StatusList(
                        purpose=purpose, number=number, length=MIN_LENGTH, bits=bytes(MIN_LENGTH // 8)
                    )
                    session.add(row)
                    session.flush()
                    assert row.id is not None
                    ids[purpose][number] = row.id
    return ids["revocation"], ids["suspension"]


def finish_lists(node: NodeState, first: int, total: int) -> None:
    """Set the bits and the allocation counts of the lists positions ``first``..``total``
    went to (bits already set, by the node since, are kept), to be signed when first served."""
    touched: dict[tuple[str, int], list[int]] = {}
    for position in range(first, total):
        status, _ = status_of(position)
        for purpose, stride in (("revocation", REVOCATION_STRIDE), ("suspension", SUSPENSION_STRIDE)):
            number, index = slot(position, stride)
            bits = touched.setdefault((purpose, number), [])
            if (purpose == "revocation" and status == "revoked") or (
                purpose == "suspension" and status == "suspended"
            ):
                bits.append(index)
    with node.db.session() as session:
        for (purpose, number), indexes in touched.items():
            row = session.exec(
                text("SELECT id, bits FROM status_list WHERE purpose = :p AND number = :n FOR UPDATE"),
                params={"p": purpose, "n": number},
            ).one()  # type: ignore[call-overload]
            packed = bytearray(row[1])
            for index in indexes:  # most significant bit first (Bitstring Status List §3.1)
                packed[index // 8] |= 0x80 >> (index % 8)
            allocated = min(total - (number - 1) * FILL_LIMIT, FILL_LIMIT)
            session.exec(
                text(
                    "UPDATE status_list SET bits = :bits, allocated = :allocated, signed_credential = NULL,"
                    " etag = NULL, signed_at = NULL, version = version + 1 WHERE id = :id"
                ),
                params={"bits": bytes(packed), "allocated": allocated, "id": row[0]},
            )  # type: ignore[call-overload]
        for year in range(FIRST_AWARD_YEAR, FIRST_AWARD_YEAR + AWARD_YEARS):
            # The next serial of each year: after the last position of that year.
            last = max(
                (p for p in range(max(total - AWARD_YEARS, 0), total) if award_date(p).year == year),
                default=None,
            )
            if last is None:
                continue
            session.exec(
                text(
                    "INSERT INTO certificate_serial (province, year, next_serial) VALUES (:p, :y, :n)"
                    " ON CONFLICT (province, year) DO UPDATE SET next_serial = excluded.next_serial"
                ),
                params={"p": node.settings.province, "y": year, "n": last // AWARD_YEARS + 2},
            )  # type: ignore[call-overload]


#: Tables the loader writes; their secondary indexes and constraints (not the primary
#: keys, which other tables' foreign keys need) are dropped for a bulk load and made again
#: after it, each in one pass (a sort, a join) instead of ten million random inserts and
#: five million foreign-key look-ups.
BULK_TABLES = ("holder", "credential", "audit_event")
DEFINITIONS = text(
    "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), NULL"
    " FROM pg_constraint AS c WHERE c.conrelid::regclass::text = ANY(:tables) AND c.contype IN ('u', 'f')"
    " UNION ALL SELECT i.tablename, i.indexname, NULL, i.indexdef FROM pg_indexes AS i"
    " WHERE i.tablename = ANY(:tables) AND i.schemaname = 'public'"
    " AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conname = i.indexname)"
)


def saved_definitions(data_dir: Path) -> Path:
    return data_dir / "bulk-dropped.json"


def drop_for_bulk(node: NodeState, data_dir: Path) -> None:
    """Drop the secondary indexes and constraints of the loader's tables, their
    definitions saved first in the data directory (so an interrupted load restores them
    on the next run: :func:`restore_after_bulk`)."""
    with node.db.engine.begin() as connection:
        found = [list(r) for r in connection.execute(DEFINITIONS, {"tables": list(BULK_TABLES)})]
        saved_definitions(data_dir).write_text(json.dumps(found), encoding="utf-8")
        for table, name, constraint, _ in sorted(found, key=lambda r: r[2] is None):  # constraints first
            if constraint is not None:
                connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
            else:
                connection.execute(text(f'DROP INDEX "{name}"'))


def restore_after_bulk(node: NodeState, data_dir: Path) -> None:
    """Make the dropped indexes and constraints again (unique ones before the foreign
    keys), then forget them."""
    path = saved_definitions(data_dir)
    if not path.exists():
        return
    found = json.loads(path.read_text(encoding="utf-8"))
    began = time.perf_counter()
    with node.db.engine.begin() as connection:
        connection.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        for table, name, constraint, index in sorted(found, key=lambda r: (r[2] or "").startswith("FOREIGN")):
            if constraint is not None:
                connection.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {constraint}'))
            else:
                connection.execute(text(index))
    path.unlink()
    print(
        f"{len(found)} indexes and constraints made again in {time.perf_counter() - began:,.0f} s", flush=True
    )


def vacuum(node: NodeState) -> None:
    """VACUUM (ANALYZE) the loaded tables, outside a transaction (inside one, ANALYZE's
    statistics would be rolled back with it): the planner's statistics (without them it
    guessed 5,018 credentials per holder and planned a parallel scan for a holder's
    list, 12 ms instead of 0.1 ms), and the visibility map (counts by index only)."""
    began = time.perf_counter()
    with node.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE) holder, credential, audit_event, status_list"))
    print(f"VACUUM (ANALYZE) in {time.perf_counter() - began:,.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("REGISTRY_SCALE_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--to", type=int, required=True, help="total credentials the node should hold")
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--bulk",
        choices=("auto", "yes", "no"),
        default="auto",
        help="drop secondary indexes and constraints while loading (auto: when the table at least doubles)",
    )
    args = parser.parse_args()
    if args.chunk % 5:
        parser.error("--chunk must be a multiple of 5")
    ensure_database(args.url)
    node = open_node(args.url, args.data_dir)
    restore_after_bulk(node, args.data_dir)  # after an interrupted bulk load
    first = loaded(node)
    if first >= args.to:
        print(f"{first:,} credentials already loaded")
        return
    revocation_ids, suspension_ids = ensure_lists(node, args.to)
    now = node.clock()
    record, key = node.ring.signing_key(now)
    loader = Loader(
        conninfo=conninfo_of(args.url),
        did=node.did,
        base_url=node.base_url,
        province=node.settings.province,
        kid=record.kid,
        private_key=key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        ),
        id_key=node.id_key,
        types=catalogue_types(node),
        revocation_ids=revocation_ids,
        suspension_ids=suspension_ids,
        now=now,
    )
    chunks = [(s, min(s + args.chunk, args.to)) for s in range(first, args.to, args.chunk)]
    print(
        f"loading positions {first:,}..{args.to:,} in {len(chunks)} chunks of {args.chunk:,} "
        f"over {args.processes} processes ({len(loader.types)} catalogue types)",
        flush=True,
    )
    began = time.perf_counter()
    bulk = args.bulk == "yes" or (args.bulk == "auto" and args.to >= 2 * first)
    if bulk:
        drop_for_bulk(node, args.data_dir)
    done = making = writing = 0.0
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.processes, initializer=_start, initargs=(loader,)) as pool:
        # A chunk commits in its own process, so an interruption can leave a later chunk
        # committed before an earlier one: ``loaded`` refuses to carry on from a hole.
        for i, (count, made, wrote) in enumerate(pool.imap(load_chunk, chunks)):
            done += count
            making += made
            writing += wrote
            if (i + 1) % 20 == 0 or i + 1 == len(chunks):
                elapsed = time.perf_counter() - began
                print(
                    f"{first + int(done):>12,} loaded; {done / elapsed:,.0f} credentials/s; "
                    f"per chunk: making {making / (i + 1):.2f} s, writing {writing / (i + 1):.2f} s",
                    flush=True,
                )
    if bulk:
        restore_after_bulk(node, args.data_dir)
    finish_lists(node, first, args.to)
    vacuum(node)
    elapsed = time.perf_counter() - began
    print(
        f"{args.to - first:,} credentials in {elapsed:,.0f} s: {(args.to - first) / elapsed:,.0f}/s",
        flush=True,
    )
    node.db.dispose()


if __name__ == "__main__":
    main()
