"""Who is calling: passwords (argon2id), short-lived access tokens (JWT, HS256 under a
key derived from the node secret), HR clients' API keys (SHA-256 of a 256-bit secret),
roles and scopes, and the per-client rate limit.

Roles: ``admin`` (accounts, catalogue, HR clients), ``issuing_officer`` (issue,
revoke, suspend, reinstate), ``auditor`` (read credentials and the audit log),
``hr_client`` (verification API, with scopes ``verify`` and ``lookup``) and
``holder`` (own credentials only).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import math
import os
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio.to_thread
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from registry.errors import (
    AuthenticationError,
    InvalidInputError,
    PermissionDeniedError,
    RateLimitedError,
    ServiceUnavailableError,
)
from registry.models import Account, HrClient

ROLES = ("admin", "issuing_officer", "auditor", "holder", "hr_clerk")
HR_SCOPES = ("verify", "lookup")
API_KEY_PREFIX = "yrd_"
ACCESS_TOKEN_ALGORITHM = "HS256"  # noqa: S105 - an algorithm name


def derive_key(secret: str, purpose: str) -> bytes:
    """A subkey of the node secret for one purpose (HMAC-SHA256 as a PRF)."""
    return hmac.new(secret.encode("utf-8"), purpose.encode("ascii"), hashlib.sha256).digest()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    kind: str  # account | hr_client | cli
    id: str
    role: str
    holder_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    #: the user name of the HR clerk acting for an HR client at the desk (None otherwise)
    clerk: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"


CLI_PRINCIPAL = Principal(kind="cli", id="local-operator", role="admin")


class Passwords:
    """argon2id hashing (argon2-cffi, the reference implementation's bindings)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        # Compared against when the account does not exist, so that a wrong user name
        # costs the same time as a wrong password.
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        check_password_strength(password)
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False


def check_password_strength(password: str) -> None:
    if len(password) < 12:
        raise InvalidInputError("a password has at least 12 characters")
    if len(password) > 256:
        raise InvalidInputError("a password has at most 256 characters")


class AccessTokens:
    def __init__(self, secret: str, issuer: str, minutes: int) -> None:
        self._key = derive_key(secret, "access-token")
        self.issuer = issuer
        self.audience = issuer + "#api"
        self.lifetime = timedelta(minutes=minutes)

    def issue(self, account: Account, now: datetime) -> tuple[str, int]:
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": account.id,
            "role": account.role,
            "iat": int(now.timestamp()),
            "exp": int((now + self.lifetime).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        if account.holder_id:
            claims["hid"] = account.holder_id
        token = jwt.encode(claims, self._key, algorithm=ACCESS_TOKEN_ALGORITHM, headers={"typ": "at+jwt"})
        return token, int(self.lifetime.total_seconds())

    def read(self, token: str, now: datetime) -> dict[str, object]:
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                self._key,
                algorithms=[ACCESS_TOKEN_ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                # Time is checked below against the node's clock (injected), not the host's.
                options={
                    "require": ["exp", "iat", "sub", "iss", "aud"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise AuthenticationError("access token is not valid") from None
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(exp, int) or now.timestamp() >= exp:
            raise AuthenticationError("access token has expired")
        if not isinstance(iat, int) or iat > now.timestamp() + 60:
            raise AuthenticationError("access token is issued in the future")
        return claims


def new_api_key() -> tuple[str, str, str]:
    """A fresh API key: (whole key shown once, public key id, SHA-256 hex to store)."""
    key_id = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return key, key_id, api_key_hash(key)


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def find_hr_client(session: Session, key: str) -> HrClient:
    # yrd_<key id>_<secret>; the secret is base64url and may itself contain "_".
    parts = key.split("_", 2)
    if len(parts) != 3 or not key.startswith(API_KEY_PREFIX):
        raise AuthenticationError("API key is not valid")
    client = session.exec(select(HrClient).where(HrClient.key_id == parts[1])).first()
    if client is None or not hmac.compare_digest(client.key_hash, api_key_hash(key)) or not client.active:
        raise AuthenticationError("API key is not valid")
    return client


class ApiKeyCache:
    """Recently authenticated HR keys (by SHA-256), each trusted for ``ttl`` seconds, so
    the verification path does not read the database on every call. A key that is
    deactivated stops working within ``ttl``."""

    def __init__(self, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, tuple[Principal, int, float]] = {}
        self._rates: dict[str, int] = {}

    def get(self, key: str) -> tuple[Principal, int] | None:
        digest = api_key_hash(key)
        with self._lock:
            item = self._items.get(digest)
        if item is None or item[2] < self._clock():
            return None
        return item[0], item[1]

    def put(self, key: str, principal: Principal, rate_per_minute: int) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[api_key_hash(key)] = (principal, rate_per_minute, self._clock() + self.ttl)
            self._rates[principal.id] = rate_per_minute

    def evict_client(self, client_id: str) -> None:
        """Forget every cached key of ``client_id`` (deactivated, or its key rotated):
        its next request is checked against the database."""
        with self._lock:
            stale = [digest for digest, item in self._items.items() if item[0].id == client_id]
            for digest in stale:
                del self._items[digest]

    def rate_of(self, client_id: str) -> int:
        """The rate of a client authenticated recently (its key went through :meth:`put`)."""
        with self._lock:
            return self._rates.get(client_id, 1)


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise PermissionDeniedError(f"this needs one of the roles: {', '.join(roles)}")


def require_scope(principal: Principal, scope: str) -> None:
    if principal.role != "hr_client" or scope not in principal.scopes:
        raise PermissionDeniedError(f"this needs an HR client key with the scope '{scope}'")


def _capacity(rate_per_minute: int, cost: int, burst: int) -> tuple[int, int, float]:
    """(rate, bucket size, tokens per second) of one request, or InvalidInputError
    when its cost could never fit (waiting would not help)."""
    rate = max(rate_per_minute, 1)
    capacity = max(rate, burst)
    if cost > capacity:
        raise InvalidInputError(
            f"this request costs {cost} and can never fit a limit of {rate} a minute "
            f"(at most {capacity} at once); send at most {capacity}"
        )
    return rate, capacity, rate / 60.0


def _limited(rate: int, cost: int, capacity: int, per_second: float, owed: float) -> RateLimitedError:
    """The 429 of a request that does not fit now: ``Retry-After`` is the seconds until
    it does (rounded up)."""
    seconds = (owed + cost - capacity) / per_second
    wait = max(1, int(seconds) + (seconds % 1 > 1e-9))
    costs = f"; this request costs {cost}" if cost > 1 else ""
    return RateLimitedError(
        f"rate limit of {rate} per minute reached{costs}; it fits in {wait} s", retry_after=wait
    )


class RateLimiter:
    """A token bucket per HR client (in this worker's memory), refilled at ``rate``
    tokens a minute. Each worker counts alone: a node served by several workers uses
    :class:`SharedRateLimiter` instead.

    The bucket is kept as what the client owes (tokens spent and not yet refilled), so
    the size of the bucket is chosen by each call: ``max(rate, burst)``. An ordinary
    request has a bucket of one minute's rate; a batch passes ``burst`` (its largest
    size), so a batch the rules allow always fits an idle client's bucket, and every
    credential still counts against the rate.

    A request that must wait raises :class:`RateLimitedError` with a true
    ``Retry-After`` (the seconds until it fits, rounded up) and costs nothing; one
    that could never fit raises :class:`InvalidInputError` (waiting would not help).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        #: client id -> (tokens owed, when that was counted)
        self._owed: dict[str, tuple[float, float]] = {}

    def take(self, client_id: str, rate_per_minute: int, cost: int = 1, *, burst: int = 0) -> None:
        rate, capacity, per_second = _capacity(rate_per_minute, cost, burst)
        now = self._clock()
        with self._lock:
            owed, last = self._owed.get(client_id, (0.0, now))
            owed = max(0.0, owed - (now - last) * per_second)
            if owed + cost > capacity:
                self._owed[client_id] = (owed, now)
                raise _limited(rate, cost, capacity, per_second, owed)
            self._owed[client_id] = (owed + cost, now)


# One statement, atomic under concurrency on PostgreSQL and SQLite (the row is locked
# by the upsert): refill what the time since the last count repays, then take the cost
# if it fits. No row back: it does not fit.
_TAKE = text(
    """
    INSERT INTO rate_bucket (key, owed, counted_at, free_at)
    VALUES (:key, :cost, :now, :now + :cost / :per_second)
    ON CONFLICT (key) DO UPDATE SET
        owed = (CASE WHEN rate_bucket.owed - (:now - rate_bucket.counted_at) * :per_second > 0
                     THEN rate_bucket.owed - (:now - rate_bucket.counted_at) * :per_second
                     ELSE 0 END) + :cost,
        counted_at = :now,
        free_at = :now + ((CASE WHEN rate_bucket.owed - (:now - rate_bucket.counted_at) * :per_second > 0
                               THEN rate_bucket.owed - (:now - rate_bucket.counted_at) * :per_second
                               ELSE 0 END) + :cost) / :per_second
    WHERE (CASE WHEN rate_bucket.owed - (:now - rate_bucket.counted_at) * :per_second > 0
                THEN rate_bucket.owed - (:now - rate_bucket.counted_at) * :per_second
                ELSE 0 END) + :cost <= :capacity
    RETURNING owed
    """
)
_OWED = text("SELECT owed, counted_at FROM rate_bucket WHERE key = :key")
_PRUNE = text("DELETE FROM rate_bucket WHERE free_at < :now")
_NO_FLUSH = text("SET LOCAL synchronous_commit = off")


class SharedRateLimiter:
    """The same token buckets as :class:`RateLimiter`, kept in the node's database
    (table ``rate_bucket``), so the workers of one node share each client's limit: the
    check and the take are one upsert, atomic under concurrency. Its clock is wall
    time (seconds since the epoch), which every worker shares.

    A worker does not write once per request: it leases tokens from the shared bucket
    in chunks of about :attr:`LEASE_SECONDS` of the client's rate (10 at 600 a minute;
    one at a time for a rate under 60 a minute) and spends them locally. Leased tokens
    count as spent in the shared bucket, so all workers together never admit more
    than the limit; a lease not spent within :attr:`LEASE_SECONDS` is forfeited (the
    client waits at most that long more than it would with one worker). A request
    that costs more than a chunk (a batch) takes exactly its cost. When a chunk does
    not fit but the request does, the request takes only what it needs.

    Each write is one short transaction of its own; on PostgreSQL it commits without
    waiting for the disk (``synchronous_commit = off`` for that transaction only: a
    crash may forget the last fraction of a second of spending, never a credential).
    Buckets that are full again are pruned now and then, so the table holds only
    clients that spent something recently."""

    PRUNE_EVERY_SECONDS = 60.0
    LEASE_SECONDS = 1.0

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock
        self._next_prune = 0.0
        self._postgresql = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        #: key -> (tokens leased and not yet spent, when the lease ends)
        self._leased: dict[str, tuple[float, float]] = {}
        #: key -> the lock of whoever is claiming a lease for it (one claim at a time)
        self._claiming: dict[str, threading.Lock] = {}

    def _spend_leased(self, key: str, cost: int, now: float) -> float | None:
        """Spend ``cost`` from this worker's lease (None) or empty the lease and say how
        much it held (what the request still needs is the rest)."""
        with self._lock:
            held, until = self._leased.get(key, (0.0, 0.0))
            held = held if until > now else 0.0
            if held >= cost:
                self._leased[key] = (held - cost, until)
                return None
            self._leased[key] = (0.0, until)
            return held

    def take_leased(self, client_id: str, rate_per_minute: int, cost: int = 1, *, burst: int = 0) -> bool:
        """Spend ``cost`` from this worker's lease if it holds that much (True), without
        the database; else change nothing (False: :meth:`take` claims)."""
        _capacity(rate_per_minute, cost, burst)
        key = client_id[:128]
        with self._lock:
            held, until = self._leased.get(key, (0.0, 0.0))
            if until > self._clock() and held >= cost:
                self._leased[key] = (held - cost, until)
                return True
        return False

    def take(self, client_id: str, rate_per_minute: int, cost: int = 1, *, burst: int = 0) -> None:
        rate, capacity, per_second = _capacity(rate_per_minute, cost, burst)
        key = client_id[:128]
        now = self._clock()
        if self._spend_leased(key, cost, now) is None:
            return
        with self._lock:
            claiming = self._claiming.setdefault(key, threading.Lock())
        # One claim at a time per client in this worker: requests that arrive together
        # when the lease has run out wait for the one claim and spend from its lease.
        # (Each claiming a chunk of its own, and the last overwriting the others'
        # leases, had spent the shared bucket many times faster than the requests did:
        # a client far below its rate was refused with 429.)
        with claiming:
            now = self._clock()
            held = self._spend_leased(key, cost, now)
            if held is None:
                return
            need = cost - held
            chunk = min(max(1.0, math.floor(per_second * self.LEASE_SECONDS)), capacity / 4)
            for ask in (max(need, chunk), need) if chunk > need else (need,):
                if self._claim(key, ask, now, per_second, capacity):
                    with self._lock:
                        # What this request did not use is leased for the next ones.
                        self._leased[key] = (ask - need, now + self.LEASE_SECONDS)
                    return
            with self._lock:  # refused: what was held stays leased
                self._leased[key] = (held, now + self.LEASE_SECONDS)
        with self._engine.connect() as connection:
            row = connection.execute(_OWED, {"key": key}).first()
        owed = max(0.0, row[0] - (now - row[1]) * per_second) if row is not None else 0.0
        raise _limited(rate, int(need), capacity, per_second, owed)

    def _claim(self, key: str, amount: float, now: float, per_second: float, capacity: int) -> bool:
        """Take ``amount`` tokens from the shared bucket if they fit (one upsert)."""
        values = {
            "key": key,
            "cost": amount,
            "now": now,
            "per_second": per_second,
            "capacity": float(capacity),
        }
        with self._engine.begin() as connection:
            if self._postgresql:
                # A bucket lost in a crash costs nothing worth a disk flush per request:
                # the commit returns without waiting for the WAL to reach the disk.
                connection.execute(_NO_FLUSH)
            if now >= self._next_prune:
                self._next_prune = now + self.PRUNE_EVERY_SECONDS
                connection.execute(_PRUNE, {"now": now})
            return connection.execute(_TAKE, values).first() is not None


async def take_rate(
    limiter: RateLimiter | SharedRateLimiter, key: str, rate_per_minute: int, cost: int = 1, *, burst: int = 0
) -> None:
    """``limiter.take`` from async code without blocking the event loop: the in-memory
    limiter inline (a lock held for microseconds), and the shared one inline too while
    this worker's lease holds the tokens; only a claim (a database write) goes to a
    worker thread. (Every request's hop to a thread had cost two workers more than the
    claims they saved.)"""
    if isinstance(limiter, RateLimiter):
        limiter.take(key, rate_per_minute, cost, burst=burst)
    elif not limiter.take_leased(key, rate_per_minute, cost, burst=burst):
        await anyio.to_thread.run_sync(
            functools.partial(limiter.take, key, rate_per_minute, cost, burst=burst)
        )


class SignInGuard:
    """What stands between a flood of anonymous sign-ins and the node:

    * per client address, a token bucket of ``address_rate`` attempts a minute;
    * per (user name, address), a back-off after ``free_failures`` failures: each
      further attempt must wait 2, 4, 8 … seconds (at most ``max_backoff``) after the
      last failure. It is not a lock: the same name from another address is not
      slowed, so nobody can lock a real user out by failing with their name;
    * at most ``hashing_slots`` argon2 verifications at once in this process (one
      fewer than the cores; argon2id takes ~100 ms of a core and 64 MiB); a sign-in that gets no slot within
      ``slot_wait`` seconds answers 503 with ``Retry-After``. Waiting for a slot holds
      no thread and no database connection.

    Memory is bounded: past ``max_entries`` names, the oldest back-offs are dropped.
    """

    def __init__(
        self,
        *,
        address_rate: int = 60,
        free_failures: int = 5,
        max_backoff: float = 300.0,
        hashing_slots: int | None = None,
        slot_wait: float = 5.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address_rate = address_rate
        self.free_failures = free_failures
        self.max_backoff = max_backoff
        self.slot_wait = slot_wait
        self.max_entries = max_entries
        self._clock = clock
        self._addresses = RateLimiter(clock)
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}
        # One core fewer than the machine has: the event loop always keeps a core.
        slots = hashing_slots if hashing_slots is not None else max(1, (os.cpu_count() or 2) - 1)
        self._slots = threading.BoundedSemaphore(slots)

    def _backoff(self, failures: int) -> float:
        over = failures - self.free_failures
        return 0.0 if over <= 0 else min(self.max_backoff, 2.0**over)

    def admit(self, username: str, address: str) -> None:
        """Raise :class:`RateLimitedError` (429, true ``Retry-After``) when this attempt
        must wait; otherwise count it against the address."""
        key = (username.lower(), address)
        now = self._clock()
        with self._lock:
            failures, last = self._failures.get(key, (0, now))
        wait = last + self._backoff(failures) - now
        if wait > 0:
            raise RateLimitedError(
                "too many failed sign-ins for this user name from this address; try again later",
                retry_after=int(wait) + 1,
            )
        self._addresses.take("address:" + address, self.address_rate)

    def failed(self, username: str, address: str) -> None:
        key = (username.lower(), address)
        with self._lock:
            failures, _ = self._failures.pop(key, (0, 0.0))
            self._failures[key] = (failures + 1, self._clock())
            while len(self._failures) > self.max_entries:  # oldest first (insertion order)
                del self._failures[next(iter(self._failures))]

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username.lower(), address), None)

    @asynccontextmanager
    async def hashing_slot(self) -> AsyncIterator[None]:
        """A slot for one password hash. Polls instead of blocking, so that waiters hold
        no thread (and the guard is not tied to one event loop)."""
        deadline = time.monotonic() + self.slot_wait
        while not self._slots.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise ServiceUnavailableError("the node is busy checking passwords; try again", 1)
            await asyncio.sleep(0.01)
        try:
            yield
        finally:
            self._slots.release()


def find_account(session: Session, username: str) -> Account | None:
    return session.exec(select(Account).where(Account.username == username)).first()
