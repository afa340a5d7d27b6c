"""What every request of a node may read: settings, database, key ring, clock,
randomness and the small in-memory helpers (rate limiter, batch progress)."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.audit import AuditWriter
from registry.auth import (
    AccessTokens,
    ApiKeyCache,
    Passwords,
    RateLimiter,
    SharedRateLimiter,
    SignInGuard,
    derive_key,
)
from registry.credentials.status import StatusCache
from registry.credentials.verification import Trust
from registry.database import Database, on_commit
from registry.federation import recognition
from registry.federation.client import OutboundPolicy, PeerClient, make_http_client
from registry.federation.directory import PeerDirectory
from registry.federation.resolve import EntityResolver
from registry.federation.tls import client_ssl_context
from registry.models import DeskItem
from registry.node_keys import NodeKeyStore
from registry.settings import Settings
from registry.signing.keyring import KeyRing
from registry.verifier import Verifier

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


#: A queued or running batch or desk job unchanged for this long was interrupted (its
#: worker stopped): the batch runner and the desks (registry/web/jobs.py) say so.
STALE_SECONDS = 300.0


class BatchProgress:
    """Progress of batches being issued in the background (a large batch runs in a
    thread of the worker that accepted it; its state is readable while it runs). Kept in
    the database (``desk_item`` rows of kind ``batch``) so that every worker of a node
    answers for every batch; finished batches are in ``issuance_batch``, failed ones stay
    here with their errors for a day. A queued or running batch unchanged for
    :data:`STALE_SECONDS` was interrupted (its worker stopped): it may be claimed again."""

    KIND = "batch"
    TTL = timedelta(days=1)

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
        #: the batches this process runs or ran, as it last knew them (freshest here)
        self._local: dict[str, dict[str, object]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(batch_id: str) -> str:
        """The row id of a batch id (up to 64 characters) in ``desk_item`` (32)."""
        return "batch:" + hashlib.sha256(batch_id.encode("utf-8")).hexdigest()[:26]

    def _live(self, row: DeskItem | None) -> dict[str, object] | None:
        if row is None or row.created_at < self.clock() - self.TTL:
            return None
        fields: dict[str, object] = json.loads(row.data)
        stale = row.updated_at < self.clock() - timedelta(seconds=STALE_SECONDS)
        if fields.get("state") in ("queued", "running") and stale:
            fields.update(
                state="failed", detail="the batch was interrupted (its worker stopped); send it again"
            )
        return fields

    def update(self, batch_id: str, **fields: object) -> None:
        """A change of state (running, done, failed), here and in the database."""
        with self._lock:
            self._local.setdefault(batch_id, {}).update(fields)
        now = self.clock()
        with self.db.session() as session:
            row = session.get(DeskItem, self.key(batch_id), with_for_update=True)
            if row is None:
                row = DeskItem(
                    id=self.key(batch_id), kind=self.KIND, owner="", created_at=now, updated_at=now, data="{}"
                )
            row.data = json.dumps({**json.loads(row.data), **fields}, ensure_ascii=False, default=str)
            row.updated_at = now
            session.add(row)

    def progress(self, batch_id: str, done: int, total: int) -> None:
        """Credentials done so far: called from inside the batch's own write transaction.
        Here at once; in the database too when it is PostgreSQL (other workers read it
        there). A SQLite node has one worker, and SQLite's one writer is the batch."""
        with self._lock:
            self._local.setdefault(batch_id, {}).update(state="running", processed=done, total=total)
        if self.db.engine.dialect.name != "sqlite":
            self.update(batch_id, state="running", processed=done, total=total)

    def get(self, batch_id: str) -> dict[str, object] | None:
        with self._lock:
            local = self._local.get(batch_id)
            if local is not None and local.get("state") in ("queued", "running"):
                return dict(local)  # this process runs it: its own count is the freshest
        with self.db.session(write=False) as session:
            return self._live(session.get(DeskItem, self.key(batch_id)))

    def claim(self, batch_id: str) -> bool:
        """Mark a batch as queued; false if it already runs (in any worker)."""
        now = self.clock()
        with self.db.session() as session:
            row = session.get(DeskItem, self.key(batch_id), with_for_update=True)
            current = self._live(row)
            if current is not None and current.get("state") in ("queued", "running"):
                return False
            if row is None:
                row = DeskItem(
                    id=self.key(batch_id), kind=self.KIND, owner="", created_at=now, updated_at=now, data=""
                )
                try:
                    with session.begin_nested():
                        session.add(row)
                        session.flush()
                except IntegrityError:  # another worker claimed it at the same moment
                    return False
            row.data, row.created_at, row.updated_at = json.dumps({"state": "queued"}), now, now
            session.add(row)
        with self._lock:
            self._local[batch_id] = {"state": "queued"}
        return True


class NodeState:
    #: How long a loaded key ring is trusted before it is read again (a rotation made
    #: by another worker or the CLI is seen within this time).
    RING_TTL_SECONDS = 5.0

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock = utc_now,
        *,
        passwords: Passwords | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.key_store = NodeKeyStore(settings.key_passphrase)
        #: The keys that sign this entity's federation statements (OpenID Federation).
        self.federation_keys = NodeKeyStore(settings.key_passphrase, "federation")
        self.passwords = passwords or Passwords()
        self.tokens = AccessTokens(settings.secret_key, settings.did, settings.access_token_minutes)
        self.id_key = derive_key(settings.secret_key, "holder-id-lookup")
        self.code_key = derive_key(settings.secret_key, "verification-code")
        #: HR clients' rate limits: in memory for one worker, in the database when the
        #: node runs several (``registry serve --workers N``), so that they share them.
        self.limiter: RateLimiter | SharedRateLimiter = (
            SharedRateLimiter(db.write_engine) if settings.workers > 1 else RateLimiter()
        )
        self.sign_in_guard = SignInGuard()
        self.api_keys = ApiKeyCache()
        self.audit_writer = AuditWriter(db)
        self.status_cache = StatusCache()
        #: the key ring and the verification Trust built from it
        self.trust_cache: tuple[KeyRing, int, datetime | None, Trust] | None = None
        #: credential id -> holder id (never changes), for verification audit records
        self.holder_of: dict[str, str] = {}
        self.rng = rng or random.SystemRandom()
        self.batches = BatchProgress(db, clock)
        self.verifier: Verifier = Verifier()
        #: What this node knows of the other federation members (None: not federated).
        self.directory: PeerDirectory | None = None
        #: The trust anchor's resolver of its members' trust chains (None: not an anchor).
        self.resolver: EntityResolver | None = None
        self._ring: KeyRing | None = None
        self._ring_loaded = 0.0
        self._ring_lock = threading.Lock()
        self._recognition: recognition.View | None = None
        self._recognition_loaded = 0.0

    def join_federation(self, http: httpx.AsyncClient | None = None) -> None:
        """Set up the peer directory when a trust anchor is configured. ``http`` is the
        client peers are reached through (tests pass one over ASGITransport)."""
        settings = self.settings
        if settings.role == "anchor":
            self.serve_resolution(http)
            return
        if settings.role != "node" or not settings.trust_anchor:
            return
        allowed: set[str] = set()
        dev = settings.federation_allow_private
        client = self._peer_client(allowed, http)
        self.directory = PeerDirectory(
            trust_anchor=settings.trust_anchor.rstrip("/"),
            trust_anchor_jwks=settings.trust_anchor_keys(),
            own_entity_id=settings.entity_id,
            client=client,
            allowed=allowed,
            clock=self.clock,
            status_max_age=settings.peer_status_max_age,
            allow_http_loopback=dev,
        )

    def _peer_client(self, allowed: set[str], http: httpx.AsyncClient | None) -> PeerClient:
        """The guarded client to the base URLs in ``allowed`` (loopback and http only in
        development), over ``http`` or one of its own with the configured CA file."""
        settings = self.settings
        dev = settings.federation_allow_private
        policy = OutboundPolicy(allow_private=dev, allow_http=dev)
        if http is not None:
            return PeerClient(allowed, policy=policy, http=http)
        ca_file = settings.federation_ca_file
        own = make_http_client(policy, verify=client_ssl_context(Path(ca_file)) if ca_file else None)
        # The node's own client: closed with the peer client when the node stops.
        return PeerClient(allowed, policy=policy, http=own, owns_http=True)

    def serve_resolution(self, http: httpx.AsyncClient | None = None) -> None:
        """The trust anchor's resolver (OpenID Federation 1.0 §8.3): a peer client whose
        allowed set is the anchor's active members (the resolver sets it from the
        database before each resolution; empty until then), nothing else, not even the
        anchor itself. ``http`` as for :meth:`join_federation`."""
        settings = self.settings
        if settings.role != "anchor":
            return
        allowed: set[str] = set()
        dev = settings.federation_allow_private
        client = self._peer_client(allowed, http)
        self.resolver = EntityResolver(
            trust_anchor=settings.entity_id,
            client=client,
            allowed=allowed,
            allow_http_loopback=dev or settings.environment == "development",
        )

    @property
    def did(self) -> str:
        return self.settings.did

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    @property
    def ring(self) -> KeyRing:
        with self._ring_lock:
            if self._ring is None or time.monotonic() - self._ring_loaded > self.RING_TTL_SECONDS:
                # A read session: a request holding SQLite's write lock may get here, and a
                # second writer would wait for it for ever. The ring exists (create_app).
                with self.db.session(write=False) as session:
                    self._ring = self.key_store.load(session)
                self._ring_loaded = time.monotonic()
            return self._ring

    @property
    def last_ring(self) -> KeyRing | None:
        """The ring last loaded, without reading the database (None before the first)."""
        return self._ring

    def ring_in(self, session: Session) -> KeyRing:
        """The ring as the database has it now, read in the caller's transaction: what
        signs must use this, so a rotation by another worker or the CLI is never
        missed (the cached :attr:`ring` may be seconds old)."""
        ring = self.key_store.load(session)
        # Cached only once that transaction has committed (a rotation in it may yet fail).
        on_commit(session, lambda: self.set_ring(ring))
        return ring

    @property
    def recognition(self) -> recognition.View:
        """This node's latest recognition policy and catalogue names, read again after
        :attr:`RING_TTL_SECONDS` (a version published by another worker or the CLI is
        used within that time; one published by this worker at once)."""
        view = self._recognition
        if view is None or time.monotonic() - self._recognition_loaded > self.RING_TTL_SECONDS:
            with self.db.session(write=False) as session:
                view = recognition.View.read(session)
            self._recognition, self._recognition_loaded = view, time.monotonic()
        return view

    def forget_recognition(self) -> None:
        """Read the policy again at its next use (after a publication commits)."""
        self._recognition = None

    def set_ring(self, ring: KeyRing) -> None:
        with self._ring_lock:
            self._ring, self._ring_loaded = ring, time.monotonic()
