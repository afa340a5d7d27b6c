"""The node's verifier: the pure pipeline (in worker processes for large batches) plus
this node's status lists, and the audit record that lets a holder see who verified
their credentials."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, text
from sqlmodel import Session

from registry.auth import Principal
from registry.credentials.status import PeerStatus, StatusCache, StatusReader
from registry.credentials.verification import (
    Examination,
    Report,
    Trust,
    examine,
    examine_many,
    examine_packed,
    finish,
    unpack,
)

Presented = str | bytes | Mapping[str, Any]
log = logging.getLogger("registry.verifier")
_HOLDERS_OF = text("SELECT id, holder_id FROM credential WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
#: Below this many credentials a batch is checked in the request's own process.
POOL_THRESHOLD = 64


class Verifier:
    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: the serving process has threads; forking it could copy a held lock.
                # The serving process checks nothing itself: CPU-bound Python in it would
                # hold the GIL against its event loop, and every other request would wait.
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_lower_priority,
                )
            return self._pool

    def warm(self) -> None:
        """Start the worker processes now (a node's first large batch would otherwise
        wait seconds for them); does nothing with one worker."""
        if self.workers > 1:
            pool = self.pool()
            for _ in range(self.workers):
                pool.submit(os.getpid)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    async def examine_batch(
        self, items: Sequence[Presented], trust: Trust, now: datetime
    ) -> list[Examination]:
        if self.workers <= 1 or len(items) < POOL_THRESHOLD:
            # In a thread, not on the event loop: a small batch may still be megabytes.
            return await asyncio.to_thread(examine_many, items, trust, now)
        pool = self.pool()
        loop = asyncio.get_running_loop()
        # Credentials travel as compact JSON (bytes pickle far faster than nested dicts;
        # the worker's strict parser reads them back exactly), answers as plain tuples.
        wire = [_compact(item) for item in items]
        size = -(-len(wire) // (self.workers * 2))
        chunks = [wire[i : i + size] for i in range(0, len(wire), size)]
        try:
            parts = await asyncio.gather(
                *(loop.run_in_executor(pool, examine_packed, c, trust, now) for c in chunks)
            )
        except BrokenProcessPool:
            # A worker died (killed, out of memory): drop the pool (the next batch makes
            # a new one) and check this batch in a thread rather than fail it.
            log.error("verification worker pool broke; checking this batch in-process")
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(examine_many, items, trust, now)
        return [unpack(packed) for part in parts for packed in part]


def _lower_priority() -> None:
    """Worker processes check batches at a lower CPU priority than the serving process:
    when they keep every core busy, the serving process's event loop is still scheduled
    first, so other requests are answered while a large batch is checked."""
    try:
        os.nice(10)
    except OSError:  # not permitted here: the batch is still checked, only less politely
        log.info("verification workers keep the serving process's priority")


def _compact(item: Presented) -> Presented:
    if isinstance(item, Mapping):
        try:
            return orjson.dumps(item)
        except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits
            return item
    return item


def _own_credential_ids(exams: Sequence[Examination], own_did: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for i, exam in enumerate(exams):
        summary = exam.unverified_claims or {}
        proof_ok = any(c.name == "proof" and c.result == "pass" for c in exam.checks)
        cid = summary.get("id")
        if (
            proof_ok
            and summary.get("issuer") == own_did
            and isinstance(cid, str)
            and cid.startswith("urn:uuid:")
        ):
            try:
                found[i] = str(uuid.UUID(cid[len("urn:uuid:") :]))
            except ValueError:
                continue
    return found


def finish_batch(
    session: Session,
    exams: Sequence[Examination],
    base_url: str,
    own_did: str,
    principal: Principal | None,
    now: datetime,
    status_cache: StatusCache | None = None,
    holder_of: dict[str, str] | None = None,
    peer_status: PeerStatus | None = None,
) -> tuple[list[Report], list[dict[str, Any]]]:
    """Status checks from this node's lists (and federation members' lists as
    ``peer_status`` holds them); and the audit records (visible to the holder) of this
    node's credentials that a client verified, for the caller to write (see
    :class:`registry.audit.AuditWriter`)."""
    reader = StatusReader(session, base_url, status_cache, peer_status)
    reports = [finish(exam, reader) for exam in exams]
    rows: list[dict[str, Any]] = []
    own = _own_credential_ids(exams, own_did) if principal is not None else {}
    if principal is not None and own:
        known = holder_of if holder_of is not None else {}
        missing = sorted({cid for cid in own.values() if cid not in known})
        found: dict[str, str] = {}
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            found.update(
                (cid, holder) for cid, holder in session.connection().execute(_HOLDERS_OF, {"ids": chunk})
            )
        holders = {
            cid: known[cid] if cid in known else found[cid]
            for cid in own.values()
            if cid in known or cid in found
        }
        if holder_of is not None:
            if len(holder_of) > 100_000:
                holder_of.clear()
            holder_of.update(found)
        rows = [
            {
                "at": now,
                "actor": principal.actor,
                "actor_role": principal.role,
                "action": "credential.verify",
                "target_type": "credential",
                "target_id": cid,
                "holder_id": holders[cid],
                "reason": None,
                "detail": f'{{"verdict": "{reports[i].verdict}"}}',
            }
            for i, cid in own.items()
            if cid in holders
        ]
    return reports, rows


def verify_one(
    session: Session,
    presented: Presented,
    trust: Trust,
    base_url: str,
    principal: Principal | None,
    now: datetime,
    status_cache: StatusCache | None = None,
    holder_of: dict[str, str] | None = None,
    peer_status: PeerStatus | None = None,
) -> tuple[Report, list[dict[str, Any]]]:
    reports, rows = finish_batch(
        session,
        [examine(presented, trust, now)],
        base_url,
        trust.own_did,
        principal,
        now,
        status_cache,
        holder_of,
        peer_status,
    )
    return reports[0], rows
