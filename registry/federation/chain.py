"""Trust chains (OpenID Federation 1.0 §4, §10): resolve and validate, as pure functions.

A trust chain is ES[0] … ES[i] (§4): the subject's Entity Configuration, the Subordinate
Statements issued by each superior about the entity below it, and the Trust Anchor's Entity
Configuration. :func:`validate_trust_chain` checks a given sequence (§10.2) and resolves
the subject's metadata (§6.1.4, §6.2); :func:`resolve_trust_chain` first collects the
statements by following ``authority_hints`` through an injected ``fetch`` (§10.1).

Trust flows downwards only: the anchor's configuration is checked with the anchor keys the
caller configured; every other statement ES[j] with the keys ES[j+1] vouches for
(``ES[j+1]["jwks"]``), so the subject's configuration is checked with the keys its
immediate superior's statement lists, not with keys it merely claims for itself. Nothing
expired or not yet valid is accepted, and the chain's ``expires_at`` is the earliest
``exp`` in it (§10.4): a cache must not keep it longer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.federation.constraints import enforce_constraints, filter_entity_types
from registry.federation.errors import (
    FederationError,
    FetchError,
    FetchLimitError,
    StatementError,
    TrustChainError,
)
from registry.federation.identifiers import (
    check_endpoint_url,
    check_entity_id,
    entity_configuration_url,
    fetch_statement_url,
)
from registry.federation.jws import check_jwks, same_public_key
from registry.federation.policy import apply_metadata_policy, resolve_metadata_policy
from registry.federation.statements import (
    DEFAULT_LEEWAY,
    EntityStatement,
    unverified_claims,
    verify_entity_configuration,
    verify_entity_statement,
)

#: ``fetch(url) -> body``: an HTTP GET that returns the response body, or raises
#: :class:`FetchError` (or any :class:`FederationError`) when there is none to give.
Fetch = Callable[[str], bytes]


@dataclass(frozen=True)
class ResolutionLimits:
    """Bounds on one resolution (§18.1 asks for a limit on authority hints inspected)."""

    #: Subordinate Statements in a chain: the Intermediates plus the Trust Anchor.
    max_superiors: int = 4
    #: Authority hints inspected per entity; further ones are ignored.
    max_authority_hints: int = 8
    #: Fetches in one resolution, configurations and subordinate statements together.
    max_fetches: int = 32


@dataclass(frozen=True)
class TrustChain:
    """A validated trust chain and what it establishes about its subject."""

    subject: str
    trust_anchor: str
    #: ES[0] … ES[i], each verified with the keys the next one vouches for.
    statements: tuple[EntityStatement, ...]
    #: The subject's Resolved Metadata (§1.2): its metadata, the immediate superior's
    #: ``metadata``, ``allowed_entity_types`` and the merged metadata policy applied.
    metadata: Mapping[str, Any]
    #: The subject's Federation Entity Keys as its immediate superior vouches for them
    #: (ES[1]["jwks"]; for a Trust Anchor, its own verified configuration's).
    jwks: Mapping[str, Any]
    #: The merged metadata policy of the chain (§6.1.4.1).
    metadata_policy: Mapping[str, Any] = field(repr=False)
    #: The earliest ``exp`` in the chain (§10.4).
    expires_at: datetime

    @property
    def compact(self) -> tuple[str, ...]:
        """The chain as the JSON array of §4.3 / ``application/trust-chain+json``."""
        return tuple(statement.jws for statement in self.statements)

    def is_valid_at(self, now: datetime) -> bool:
        """True while no statement of the chain has expired (issuance was checked already)."""
        return now < self.expires_at


def _check_anchors(trust_anchors: Mapping[str, Mapping[str, Any]], allow_http_loopback: bool) -> None:
    if not trust_anchors:
        raise TrustChainError("no trust anchor is configured")
    for anchor, jwks in trust_anchors.items():
        check_entity_id(
            anchor, "trust anchor", allow_http_loopback=allow_http_loopback, error=TrustChainError
        )
        check_jwks(jwks, f"the keys configured for {anchor}", TrustChainError)


def _also_in_own_jwks(statement: EntityStatement, vouched: Mapping[str, Any]) -> None:
    """§4: an Entity Configuration is signed with a key in its own ``jwks`` as well as with
    one the level above vouches for; the two must be the same key."""
    own = check_jwks(statement.jwks, "jwks", StatementError).get(statement.kid)
    theirs = check_jwks(vouched, "vouched key set", StatementError).get(statement.kid)
    if not same_public_key(own, theirs):
        raise TrustChainError(
            f"the configuration of {statement.sub} is signed with key {statement.kid!r}, "
            "which is not the same key in its own jwks and in the key set vouched for it"
        )


def _superior_metadata(metadata: Mapping[str, Any], superior: Mapping[str, Any]) -> dict[str, Any]:
    """§3.1 ``metadata`` in a Subordinate Statement: for entity types the subject has, the
    superior's parameters override the subject's."""
    merged = {entity_type: dict(parameters) for entity_type, parameters in metadata.items()}
    for entity_type, parameters in superior.items():
        if entity_type in merged:
            merged[entity_type].update(parameters)
    return merged


def validate_trust_chain(
    statements: Sequence[str | bytes],
    trust_anchors: Mapping[str, Mapping[str, Any]],
    now: datetime,
    *,
    subject: str | None = None,
    leeway: timedelta = DEFAULT_LEEWAY,
    allow_http_loopback: bool = False,
    understood_claims: Iterable[str] = (),
) -> TrustChain:
    """Validate ES[0] … ES[i] (§10.2) against ``trust_anchors`` (entity ID → JWK Set) at
    ``now``, then resolve the subject's metadata (§6.1.4.2, §6.2). Raises a
    :class:`FederationError` (:class:`TrustChainError`, :class:`StatementError` or one of
    their subclasses, :class:`PolicyError`)."""
    understood_claims = tuple(understood_claims)
    _check_anchors(trust_anchors, allow_http_loopback)
    count = len(statements)
    if count == 0 or count == 2:
        raise TrustChainError(
            "a trust chain is the subject's configuration, the subordinate statements above it "
            "and the trust anchor's configuration (or the anchor's configuration alone)"
        )
    options: dict[str, Any] = {
        "leeway": leeway,
        "allow_http_loopback": allow_http_loopback,
        "understood_claims": understood_claims,
    }
    # ES[i]: the Trust Anchor's configuration, verified with the configured anchor keys, and
    # signed with a key in its own jwks as well (§4, §10.2).
    anchor = unverified_claims(statements[-1]).get("iss")
    if not isinstance(anchor, str) or anchor not in trust_anchors:
        raise TrustChainError(f"the chain ends at {anchor!r}, which is not a configured trust anchor")
    top = verify_entity_statement(
        statements[-1], trust_anchors[anchor], now, issuer=anchor, subject=anchor, **options
    )
    _also_in_own_jwks(top, trust_anchors[anchor])
    verified = [top]
    # ES[i-1] … ES[1]: Subordinate Statements, each issued by the subject of the one above
    # (ES[j]["iss"] == ES[j+1]["sub"]) and verified with the keys that one vouches for.
    for index in range(count - 2, 0, -1):
        upper = verified[0]
        issuer = unverified_claims(statements[index]).get("iss")
        if issuer != upper.sub:
            raise TrustChainError(
                f"statement {index} is issued by {issuer!r}, but the statement above it is about {upper.sub}"
            )
        statement = verify_entity_statement(statements[index], upper.jwks, now, issuer=upper.sub, **options)
        if statement.is_configuration:
            raise TrustChainError(f"statement {index} must be a Subordinate Statement, not a configuration")
        verified.insert(0, statement)
    # ES[0]: the subject's configuration, verified with the keys its superior vouches for.
    if count > 1:
        upper = verified[0]
        leaf_claims = unverified_claims(statements[0])
        if leaf_claims.get("iss") != upper.sub or leaf_claims.get("sub") != upper.sub:
            raise TrustChainError(
                f"the statement by {upper.iss} is about {upper.sub}, but the chain starts with the "
                f"configuration of {leaf_claims.get('sub')!r}"
            )
        leaf = verify_entity_statement(
            statements[0], upper.jwks, now, issuer=upper.sub, subject=upper.sub, **options
        )
        _also_in_own_jwks(leaf, upper.jwks)
        # §3.5 step 6: the immediate superior is one of the subject's authority_hints.
        if upper.iss not in leaf.authority_hints:
            raise TrustChainError(f"{upper.iss} is not among the authority_hints of {leaf.sub}")
        verified.insert(0, leaf)
    chain = tuple(verified)
    if subject is not None and chain[0].sub != subject:
        raise TrustChainError(f"the chain is about {chain[0].sub}, not about {subject}")
    # §10.1, §17.1: no entity appears twice (a loop).
    path = [chain[0].sub, *(statement.iss for statement in chain[1:-1])]
    if len(set(path)) != len(path):
        raise TrustChainError("an entity appears twice in the chain (a loop)")
    # §6.2: each Subordinate Statement's constraints, applied independently.
    for index in range(1, count - 1):
        enforce_constraints(
            chain[index].constraints,
            setter=chain[index].iss,
            intermediates_below=index - 1,
            subordinates=[chain[k].sub for k in range(1, index + 1)],
        )
    # §6.1.4.2, §6.2.3: the superior's metadata, then allowed_entity_types, then the policy.
    metadata: dict[str, Any] = {k: dict(v) for k, v in chain[0].metadata.items()}
    if count > 1:
        metadata = _superior_metadata(metadata, chain[1].metadata)
    for statement in chain[1:-1]:
        allowed = statement.constraints.get("allowed_entity_types")
        if allowed is not None:
            metadata = filter_entity_types(metadata, allowed)
    critical = {name for statement in chain[1:-1] for name in statement.metadata_policy_crit}
    policies = [s.metadata_policy for s in reversed(chain[1:-1]) if s.metadata_policy is not None]
    policy = resolve_metadata_policy(policies, critical)
    return TrustChain(
        subject=chain[0].sub,
        trust_anchor=anchor,
        statements=chain,
        metadata=apply_metadata_policy(metadata, policy),
        jwks=chain[1].jwks if count > 1 else chain[0].jwks,
        metadata_policy=policy,
        expires_at=datetime.fromtimestamp(min(s.claims["exp"] for s in chain), UTC),
    )


# --- resolution (§10.1) ---------------------------------------------------------------


class _Discovery:
    """The state of one resolution: fetch count, configurations already obtained (§10.1:
    nothing is fetched twice), and why each abandoned path was abandoned."""

    def __init__(
        self,
        fetch: Fetch,
        trust_anchors: Mapping[str, Mapping[str, Any]],
        now: datetime,
        limits: ResolutionLimits,
        options: Mapping[str, Any],
    ) -> None:
        self.fetch = fetch
        self.trust_anchors = trust_anchors
        self.now = now
        self.limits = limits
        self.options = options
        self.fetches = 0
        self.configurations: dict[str, tuple[str, EntityStatement]] = {}
        self.failures: list[FederationError] = []

    def get(self, url: str) -> str:
        if self.fetches >= self.limits.max_fetches:
            raise FetchLimitError(f"resolution stopped after {self.fetches} fetches (the limit)")
        self.fetches += 1
        body = self.fetch(url)
        if not isinstance(body, bytes | bytearray):
            raise FetchError(f"fetch of {url} returned no body")
        try:
            return bytes(body).strip().decode("ascii")
        except UnicodeDecodeError:
            raise StatementError(f"the body fetched from {url} is not a compact JWS") from None

    def configuration(self, entity_id: str) -> tuple[str, EntityStatement]:
        """An entity's configuration, fetched once (§9) and checked: with the configured keys
        for a trust anchor, else with its own keys until a superior vouches for them."""
        if entity_id not in self.configurations:
            token = self.get(entity_configuration_url(entity_id))
            if entity_id in self.trust_anchors:
                statement = verify_entity_statement(
                    token,
                    self.trust_anchors[entity_id],
                    self.now,
                    issuer=entity_id,
                    subject=entity_id,
                    leeway=self.options["leeway"],
                    allow_http_loopback=self.options["allow_http_loopback"],
                    understood_claims=self.options["understood_claims"],
                )
            else:
                statement = verify_entity_configuration(
                    token,
                    entity_id,
                    self.now,
                    leeway=self.options["leeway"],
                    allow_http_loopback=self.options["allow_http_loopback"],
                    understood_claims=self.options["understood_claims"],
                )
            self.configurations[entity_id] = (token, statement)
        return self.configurations[entity_id]

    def subordinate_statement(self, superior: EntityStatement, subject: str) -> str:
        """§8.1: from the fetch endpoint published in the superior's own configuration."""
        federation_entity = superior.metadata.get("federation_entity", {})
        endpoint = check_endpoint_url(
            federation_entity.get("federation_fetch_endpoint"),
            f"federation_fetch_endpoint of {superior.sub}",
            allow_http_loopback=self.options["allow_http_loopback"],
            error=TrustChainError,
        )
        return self.get(fetch_statement_url(endpoint, subject))

    def paths(self, below: EntityStatement, visited: frozenset[str], superiors: int) -> Iterator[list[str]]:
        """Every statement path from ``below`` up to a configured trust anchor, depth first in
        the order of ``authority_hints``: [statement about below, …, anchor configuration]."""
        hints = below.authority_hints
        if not hints:
            self.failures.append(
                TrustChainError(f"{below.sub} is not a configured trust anchor and names no authority")
            )
            return
        if len(hints) > self.limits.max_authority_hints:
            self.failures.append(
                TrustChainError(
                    f"{below.sub} names {len(hints)} authorities; "
                    f"only the first {self.limits.max_authority_hints} are inspected"
                )
            )
        for hint in hints[: self.limits.max_authority_hints]:
            if hint in visited:
                # §10.1: an authority hint that leads to a loop is not used.
                self.failures.append(
                    TrustChainError(f"authority hint {hint} of {below.sub} leads back into the path (a loop)")
                )
                continue
            if superiors + 1 > self.limits.max_superiors:
                self.failures.append(
                    TrustChainError(
                        f"a path through {hint} would need more than {self.limits.max_superiors} superiors"
                    )
                )
                continue
            try:
                token, superior = self.configuration(hint)
                statement = self.subordinate_statement(superior, below.sub)
            except FetchLimitError:
                raise
            except FederationError as exc:
                self.failures.append(exc)
                continue
            if hint in self.trust_anchors:
                yield [statement, token]
            else:
                for rest in self.paths(superior, visited | {hint}, superiors + 1):
                    yield [statement, *rest]


def _no_chain(subject: str, failures: Sequence[FederationError]) -> FederationError:
    if len(failures) == 1:
        return failures[0]
    return TrustChainError(
        f"no valid trust chain from {subject} to a configured trust anchor",
        reasons=[{"type": failure.type_uri, "detail": failure.detail} for failure in failures],
    )


def resolve_trust_chain(
    subject: str,
    trust_anchors: Mapping[str, Mapping[str, Any]],
    now: datetime,
    fetch: Fetch,
    *,
    limits: ResolutionLimits = ResolutionLimits(),
    leeway: timedelta = DEFAULT_LEEWAY,
    allow_http_loopback: bool = False,
    understood_claims: Iterable[str] = (),
) -> TrustChain:
    """Resolve a trust chain for ``subject`` (§10.1) and return the first one that validates
    (§10.2; candidates are tried in the order of ``authority_hints``).

    ``fetch`` is called with ``<entity>/.well-known/openid-federation`` URLs (§9) and with
    superiors' ``federation_fetch_endpoint`` URLs with ``?sub=`` (§8.1.1). Raises the
    failure of the only candidate when there was one, else :class:`TrustChainError` whose
    ``reasons`` extension lists why each path was abandoned."""
    check_entity_id(subject, "subject", allow_http_loopback=allow_http_loopback, error=TrustChainError)
    _check_anchors(trust_anchors, allow_http_loopback)
    options: dict[str, Any] = {
        "leeway": leeway,
        "allow_http_loopback": allow_http_loopback,
        "understood_claims": tuple(understood_claims),
    }
    discovery = _Discovery(fetch, trust_anchors, now, limits, options)
    token, configuration = discovery.configuration(subject)
    if subject in trust_anchors:
        return validate_trust_chain([token], trust_anchors, now, subject=subject, **options)
    for path in discovery.paths(configuration, frozenset({subject}), 0):
        try:
            return validate_trust_chain([token, *path], trust_anchors, now, subject=subject, **options)
        except FederationError as exc:
            discovery.failures.append(exc)
    raise _no_chain(subject, discovery.failures)
