"""Resolve Entity (OpenID Federation 1.0 §8.3): the trust anchor's resolve endpoint, and
how a resolve response is checked.

A resolver collects and validates a trust chain from the subject to a trust anchor and
answers with a signed JWT (§8.3.2: ``typ`` ``resolve-response+jwt``, media type
``application/resolve-response+jwt``) whose claims are ``iss`` (the resolver), ``sub``,
``iat``, ``exp`` (no later than the chain's earliest ``exp``, §10.4), ``metadata`` (the
subject's Resolved Metadata after the chain's policy, only the requested entity types
when ``entity_type`` was given, §8.3.1) and ``trust_chain`` (the compact statements, the
subject's configuration first and the anchor's last, §4.3). In this federation the
resolver is the trust anchor itself, so a holder of the anchor's keys can check an
answer with one signature (:func:`verify_resolve_response`).

The module has two halves:

* pure (no I/O; the instant is a parameter): :func:`resolve_response_claims`,
  :func:`sign_resolve_response`, :func:`verify_resolve_response`, the §8.3/§8.9 errors;
* :class:`EntityResolver`, the anchor's service: the trust chain resolved through
  :func:`~registry.federation.chain.resolve_trust_chain` in a worker thread, the anchor's
  own configuration and its own subordinate statement read in-process (never a request
  to itself), the subject's configuration fetched through a :class:`PeerClient` whose
  allowed bases are the anchor's active members. A validated chain is cached per subject
  until its earliest ``exp`` and only while the anchor's own word about the subject
  (its subordinate statement, its own keys) is unchanged; a failure is cached for a few
  seconds only.

Errors (all :class:`~registry.federation.errors.FederationError`)::

    ResolveError                      a resolution failed; carries the §8.9 ``error`` code
    ├── UnknownTrustAnchorError       404 invalid_trust_anchor: not this resolver's anchor
    ├── InvalidTrustChainError        400 invalid_trust_chain: no valid chain to the anchor
    ├── InvalidMetadataError          400 invalid_metadata: the chain's policy refuses it
    └── SubjectUnreachableError       502 invalid_trust_chain: a statement could not be fetched
    ResolveResponseError              a resolve response that must not be accepted
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.federation.chain import TrustChain, resolve_trust_chain, validate_trust_chain
from registry.federation.client import ENTITY_STATEMENT, PeerClient
from registry.federation.entity import FETCH_PATH
from registry.federation.errors import FederationError, FetchError, PolicyError
from registry.federation.identifiers import (
    check_entity_id,
    entity_configuration_url,
    fetch_statement_url,
)
from registry.federation.jws import (
    check_jwks,
    parse_compact_jws,
    sign_compact_jws,
    signing_key,
    verify_signature,
)
from registry.federation.statements import DEFAULT_LEEWAY
from registry.signing import jcs
from registry.signing.keys import Ed25519PrivateKey

log = logging.getLogger("registry.federation.resolve")

RESOLVE_RESPONSE_TYPE = "resolve-response+jwt"
RESOLVE_RESPONSE_MEDIA_TYPE = "application/resolve-response+jwt"


# --- errors ------------------------------------------------------------------------------


class ResolveError(FederationError):
    """A resolution failed. ``error`` is the §8.9 error code the endpoint answers with."""

    slug = "resolve-failed"
    title = "Entity could not be resolved"
    status = 400
    error = "invalid_request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, **{"error": self.error, **extensions})

    def again(self) -> ResolveError:
        """A fresh copy to raise (a cached failure is raised once per request)."""
        return type(self)(self.detail, **self.extensions)


class UnknownTrustAnchorError(ResolveError):
    """§8.9: "The Trust Anchor cannot be found or used" (404)."""

    slug = "resolve-trust-anchor-unknown"
    title = "Trust anchor is not one this resolver uses"
    status = 404
    error = "invalid_trust_anchor"


class InvalidTrustChainError(ResolveError):
    """§8.9: "The Trust Chain cannot be validated" (400)."""

    slug = "resolve-invalid-trust-chain"
    title = "No valid trust chain from the subject to the trust anchor"
    error = "invalid_trust_chain"


class InvalidMetadataError(ResolveError):
    """§8.9: "Metadata or Metadata Policy values are invalid or conflict" (400): the
    chain's metadata policy cannot be merged or refuses the subject's metadata (§6.1)."""

    slug = "resolve-invalid-metadata"
    title = "The subject's metadata does not pass the chain's metadata policy"
    error = "invalid_metadata"


class SubjectUnreachableError(ResolveError):
    """A statement of the chain could not be fetched (the subject is down, slow, or
    answers with something other than a statement). The chain cannot be validated
    (``invalid_trust_chain``), and the fault is upstream of the resolver: 502."""

    slug = "resolve-subject-unreachable"
    title = "A statement of the trust chain could not be fetched"
    status = 502
    error = "invalid_trust_chain"


class ResolveResponseError(FederationError):
    """A resolve response that must not be accepted: wrong ``typ`` or ``alg``, a key the
    resolver does not hold, a bad signature, wrong ``iss``/``sub``, expired or not yet
    issued, malformed claims, or (when asked for) a trust chain that does not validate."""

    slug = "bad-resolve-response"
    title = "Resolve response is not acceptable"


def resolution_failure(subject: str, trust_anchor: str, exc: FederationError) -> FederationError:
    """The §8.9 error for why ``subject`` could not be resolved to ``trust_anchor``.
    A failure of the resolver itself (status 500, e.g. it cannot sign its own
    configuration) is returned as it is (``server_error``)."""
    if isinstance(exc, ResolveError) or (exc.status >= 500 and not isinstance(exc, FetchError)):
        return exc
    reasons = exc.extensions.get("reasons") or [{"type": exc.type_uri, "detail": exc.detail}]
    kind: type[ResolveError]
    if isinstance(exc, FetchError):
        kind = SubjectUnreachableError
    elif isinstance(exc, PolicyError):
        kind = InvalidMetadataError
    else:
        kind = InvalidTrustChainError
    return kind(f"{subject} cannot be resolved to {trust_anchor}: {exc.detail}", reasons=reasons)


# --- the response (pure) -----------------------------------------------------------------


def _seconds(instant: datetime, what: str) -> float:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise FederationError(f"{what} must carry a time zone")
    return instant.timestamp()


def filter_metadata(metadata: Mapping[str, Any], entity_types: Iterable[str] | None) -> dict[str, Any]:
    """§8.3.1 ``entity_type``: only the requested entity types (all when None)."""
    if entity_types is None:
        return {name: dict(value) for name, value in metadata.items()}
    wanted = set(entity_types)
    return {name: dict(value) for name, value in metadata.items() if name in wanted}


def resolve_response_claims(
    *, issuer: str, chain: TrustChain, now: datetime, entity_types: Iterable[str] | None = None
) -> dict[str, Any]:
    """The claims of a resolve response about ``chain`` at ``now`` (§8.3.2). ``exp`` is the
    chain's earliest ``exp`` (§10.4): the answer never outlives what it rests on."""
    stamp = _seconds(now, "now")
    if not chain.is_valid_at(now):
        raise InvalidTrustChainError(f"the trust chain of {chain.subject} has expired")
    issued_at, expires_at = int(stamp), int(chain.expires_at.timestamp())
    if expires_at <= issued_at:  # pragma: no cover - statements' exp are whole seconds
        raise InvalidTrustChainError(f"the trust chain of {chain.subject} expires within the second")
    return {
        "iss": issuer,
        "sub": chain.subject,
        "iat": issued_at,
        "exp": expires_at,
        "metadata": filter_metadata(chain.metadata, entity_types),
        "trust_chain": list(chain.compact),
    }


def sign_resolve_response(claims: Mapping[str, Any], private_key: Ed25519PrivateKey) -> str:
    """Sign as a compact JWS: ``typ`` resolve-response+jwt, ``alg`` EdDSA, ``kid`` the
    RFC 7638 thumbprint of the resolver's federation key (§8.3.2)."""
    return sign_compact_jws(claims, private_key, RESOLVE_RESPONSE_TYPE)


@dataclass(frozen=True)
class ResolveResponse:
    """A resolve response whose signature, type, issuer, subject and times were checked."""

    issuer: str
    subject: str
    issued_at: datetime
    expires_at: datetime
    #: The subject's Resolved Metadata as the resolver vouches for it.
    metadata: Mapping[str, Any]
    #: ES[0] … ES[i] as the resolver sent them (validated only when asked for).
    trust_chain: tuple[str, ...]
    claims: Mapping[str, Any]


def _numeric_date(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResolveResponseError(f"{name} claim must be a NumericDate")
    return float(value)


def verify_resolve_response(
    token: str | bytes,
    resolver: str,
    jwks: Mapping[str, Any],
    now: datetime,
    *,
    subject: str | None = None,
    trust_anchors: Mapping[str, Mapping[str, Any]] | None = None,
    leeway: timedelta = DEFAULT_LEEWAY,
    allow_http_loopback: bool = False,
) -> ResolveResponse:
    """Check a resolve response of ``resolver``, whose federation keys ``jwks`` the caller
    trusts (the trust anchor's, configured out of band), at instant ``now``.

    With ``subject``, the response must be about it. With ``trust_anchors`` (entity ID →
    JWK Set), its ``trust_chain`` is validated as well (§10.2), the response must not
    outlive it, and each entity type of its ``metadata`` must be what the chain resolves.
    Raises :class:`ResolveResponseError`."""
    stamp = _seconds(now, "now")
    # 1. A signed JWT explicitly typed resolve-response+jwt (§8.3.2: another typ, or none,
    #    is rejected), alg EdDSA/Ed25519 only, a kid, no crit.
    parsed = parse_compact_jws(token, RESOLVE_RESPONSE_TYPE, ResolveResponseError)
    # 2. The kid names a key of the resolver, and the signature verifies with it.
    keys = check_jwks(jwks, f"the keys of {resolver}", ResolveResponseError)
    verify_signature(parsed, signing_key(keys, parsed.kid, ResolveResponseError), ResolveResponseError)
    # Only now is the payload read.
    claims = parsed.unverified_payload(ResolveResponseError)
    # 3. iss is the resolver; sub an entity identifier (the one asked about).
    if claims.get("iss") != resolver:
        raise ResolveResponseError(f"the response is issued by {claims.get('iss')!r}, not by {resolver}")
    sub = check_entity_id(
        claims.get("sub"), "sub", allow_http_loopback=allow_http_loopback, error=ResolveResponseError
    )
    if subject is not None and sub != subject:
        raise ResolveResponseError(f"the response is about {sub}, not about {subject}")
    # 4. iat not in the future, exp after iat and not passed.
    issued_at, expires_at = _numeric_date(claims, "iat"), _numeric_date(claims, "exp")
    if expires_at <= issued_at:
        raise ResolveResponseError("exp must be later than iat")
    if issued_at > stamp + leeway.total_seconds():
        raise ResolveResponseError("the response is issued in the future (iat)")
    if stamp >= expires_at:
        raise ResolveResponseError(f"the response about {sub} has expired (exp)")
    # 5. metadata: entity types mapped to JSON objects; trust_chain: compact statements.
    metadata = claims.get("metadata")
    if not isinstance(metadata, Mapping) or not all(isinstance(v, Mapping) for v in metadata.values()):
        raise ResolveResponseError("metadata must be a JSON object of entity types to JSON objects")
    trust_chain = claims.get("trust_chain")
    if (
        not isinstance(trust_chain, list)
        or not trust_chain
        or not all(isinstance(s, str) and s for s in trust_chain)
    ):
        raise ResolveResponseError("trust_chain must be a non-empty array of compact statements")
    # 6. On request, the chain itself (§10.2), and the response within what it establishes.
    if trust_anchors is not None:
        try:
            chain = validate_trust_chain(
                trust_chain,
                trust_anchors,
                now,
                subject=sub,
                leeway=leeway,
                allow_http_loopback=allow_http_loopback,
            )
        except FederationError as exc:
            raise ResolveResponseError(f"its trust_chain is not valid: {exc.detail}") from None
        if expires_at > chain.expires_at.timestamp():
            raise ResolveResponseError("the response outlives its trust chain (exp)")
        for entity_type, parameters in metadata.items():
            if chain.metadata.get(entity_type) != parameters:
                raise ResolveResponseError(f"metadata.{entity_type} is not what the trust chain resolves")
    return ResolveResponse(
        issuer=resolver,
        subject=sub,
        issued_at=datetime.fromtimestamp(issued_at, UTC),
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        metadata=metadata,
        trust_chain=tuple(trust_chain),
        claims=claims,
    )


# --- the trust anchor's resolver (I/O) ---------------------------------------------------


def statement_fingerprint(claims: Mapping[str, Any] | None, anchor_jwks: Mapping[str, Any]) -> str:
    """What a cached resolution depends on at the anchor: its subordinate statement about
    the subject (without ``iat``/``exp``, which change with every signing) and its own
    published keys. An admission, removal, new member keys, a grant or withdrawal, or a
    key the anchor no longer publishes changes it, in any worker and from the CLI alike."""
    statement = None if claims is None else {k: v for k, v in claims.items() if k not in ("iat", "exp")}
    return hashlib.sha256(jcs.canonicalize({"statement": statement, "keys": dict(anchor_jwks)})).hexdigest()


@dataclass(frozen=True)
class AnchorView:
    """What the trust anchor says, read from its own database for one request."""

    #: The request's instant.
    now: datetime
    #: The federation keys the anchor publishes now: its configuration is checked with them.
    anchor_jwks: Mapping[str, Any]
    #: The active members' entity identifiers: the only bases the peer client may reach.
    members: frozenset[str]
    #: :func:`statement_fingerprint` of what follows.
    fingerprint: str
    #: The anchor's own signed Entity Configuration, made in-process.
    configuration: Callable[[], bytes]
    #: The anchor's signed Subordinate Statement about the subject, made in-process
    #: (None when the subject is the anchor itself).
    statement: Callable[[], bytes] | None


@dataclass(frozen=True)
class _Cached:
    fingerprint: str
    chain: TrustChain


@dataclass(frozen=True)
class _Failure:
    fingerprint: str
    until: datetime
    error: ResolveError


class EntityResolver:
    """The trust anchor's resolver: validated trust chains of its members, cached.

    ``allowed`` is the set of base URLs ``client`` may reach (the client reads this very
    set); before each resolution it is made the anchor's active members, so a request
    never goes anywhere else, the anchor itself included."""

    def __init__(
        self,
        *,
        trust_anchor: str,
        client: PeerClient,
        allowed: set[str],
        allow_http_loopback: bool = False,
        failure_ttl: float = 10.0,
    ) -> None:
        self.trust_anchor = trust_anchor
        self.client = client
        self.allowed = allowed
        self.allow_http_loopback = allow_http_loopback
        #: Seconds a failed resolution is remembered (a subject that is down costs one
        #: time-out per this period, not one per request).
        self.failure_ttl = timedelta(seconds=failure_ttl)
        self._chains: dict[str, _Cached] = {}
        self._failures: dict[str, _Failure] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[TrustChain]] = {}

    def cached(self, subject: str, view: AnchorView) -> TrustChain | None:
        """The chain held for ``subject``, when it still stands for ``view``."""
        found = self._chains.get(subject)
        if found is None or found.fingerprint != view.fingerprint or not found.chain.is_valid_at(view.now):
            return None
        return found.chain

    async def resolve(self, subject: str, view: AnchorView) -> TrustChain:
        """The validated trust chain from ``subject`` to this anchor (cached, or resolved
        now; concurrent requests for the same subject share one resolution). Raises a
        :class:`ResolveError` (or a 500 :class:`FederationError` of the anchor itself)."""
        chain = self.cached(subject, view)
        if chain is not None:
            return chain
        failure = self._failures.get(subject)
        if failure is not None and failure.fingerprint == view.fingerprint and view.now < failure.until:
            raise failure.error.again()
        key = (subject, view.fingerprint)
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._resolve(subject, view))
            self._pending[key] = pending

            def done(task: asyncio.Future[TrustChain]) -> None:
                self._pending.pop(key, None)
                if not task.cancelled():
                    task.exception()  # retrieved here, should every waiter have gone

            pending.add_done_callback(done)
        return await asyncio.shield(pending)

    async def _resolve(self, subject: str, view: AnchorView) -> TrustChain:
        # Only the active members may be reached, whatever the chain's statements name.
        self.allowed.intersection_update(view.members)
        self.allowed.update(view.members)
        loop = asyncio.get_running_loop()
        own_configuration = entity_configuration_url(self.trust_anchor)
        own_statement = fetch_statement_url(self.trust_anchor + FETCH_PATH, subject)

        def fetch(url: str) -> bytes:
            # The anchor's own statements are made in-process: no request to itself.
            if url == own_configuration:
                return view.configuration()
            if url == own_statement and view.statement is not None:
                return view.statement()
            future = asyncio.run_coroutine_threadsafe(
                self.client.fetch(url, accept=(ENTITY_STATEMENT,)), loop
            )
            return future.result().body or b""

        try:
            chain = await asyncio.to_thread(
                resolve_trust_chain,
                subject,
                {self.trust_anchor: view.anchor_jwks},
                view.now,
                fetch,
                allow_http_loopback=self.allow_http_loopback,
            )
        except FederationError as exc:
            error = resolution_failure(subject, self.trust_anchor, exc)
            log.warning("resolve %s: %s", subject, error.detail)
            self._chains.pop(subject, None)
            if not isinstance(error, ResolveError):  # the anchor's own fault: not remembered
                raise error from None
            self._failures[subject] = _Failure(view.fingerprint, view.now + self.failure_ttl, error)
            raise error.again() from None
        self._failures.pop(subject, None)
        # Nothing expired is kept (subjects are members, so the table stays small).
        for stale in [s for s, c in self._chains.items() if not c.chain.is_valid_at(view.now)]:
            del self._chains[stale]
        self._chains[subject] = _Cached(view.fingerprint, chain)
        log.info("resolve %s: trust chain valid until %s", subject, chain.expires_at.isoformat())
        return chain


__all__ = [
    "RESOLVE_RESPONSE_MEDIA_TYPE",
    "RESOLVE_RESPONSE_TYPE",
    "AnchorView",
    "EntityResolver",
    "InvalidMetadataError",
    "InvalidTrustChainError",
    "ResolveError",
    "ResolveResponse",
    "ResolveResponseError",
    "SubjectUnreachableError",
    "UnknownTrustAnchorError",
    "filter_metadata",
    "resolution_failure",
    "resolve_response_claims",
    "sign_resolve_response",
    "statement_fingerprint",
    "verify_resolve_response",
]
