"""Errors of the federation core. See :mod:`registry.errors` for the whole tree.

    FederationError                       the base; never raised itself
    ├── StatementError                    malformed entity statement, wrong typ/alg, bad claims,
    │   │                                 unknown critical claim (§3, §3.5, §13.4)
    │   ├── StatementSignatureError       kid not in the vouched key set, or signature invalid
    │   └── StatementTimeError            iat in the future or exp passed (§3.5 steps 7-8)
    ├── PolicyError                       the spec's "policy error" (§6.1.3, §6.1.4)
    ├── TrustChainError                   no chain, loop, discontinuity, limits (§4, §10)
    │   ├── ConstraintViolationError      max_path_length, naming or entity-type constraint (§6.2)
    │   └── FetchLimitError               a resolution used up its fetch budget (§18.1)
    ├── FetchError                        raised by an injected fetch: the peer did not answer
    ├── HistoricalKeysError               malformed or unverifiable historical-keys JWT (§8.7)
    └── FederationKeyNotValidError        a key was expired, revoked or unknown at an instant

A verifier that catches :class:`FederationError` catches every one of them; none of them
carries key material in its ``detail``.
"""

from __future__ import annotations

from registry.errors import RegistryError


class FederationError(RegistryError):
    slug = "federation-error"
    title = "Federation error"
    status = 400


class StatementError(FederationError):
    slug = "bad-entity-statement"
    title = "Entity statement is not acceptable"


class StatementSignatureError(StatementError):
    slug = "entity-statement-signature-invalid"
    title = "Entity statement signature does not verify with the vouched keys"


class StatementTimeError(StatementError):
    slug = "entity-statement-not-valid-now"
    title = "Entity statement is expired or not yet valid"


class PolicyError(FederationError):
    """The "policy error" of OpenID Federation 1.0 §6.1.3 and §6.1.4: a malformed policy,
    an operator combination or merge the spec forbids, or metadata the policy rejects."""

    slug = "metadata-policy-error"
    title = "Metadata policy error"


class TrustChainError(FederationError):
    slug = "invalid-trust-chain"
    title = "Trust chain cannot be resolved or validated"


class ConstraintViolationError(TrustChainError):
    slug = "trust-chain-constraint-violated"
    title = "Trust chain violates a constraint"


class FetchLimitError(TrustChainError):
    """Ends a whole resolution, where other failures only end one candidate path."""

    slug = "trust-chain-fetch-limit"
    title = "Trust chain resolution reached its fetch limit"


class FetchError(FederationError):
    """For fetch implementations: the statement could not be obtained (peer down, HTTP
    error, oversized body). Resolution treats it as a dead end and tries other paths."""

    slug = "federation-fetch-failed"
    title = "Federation statement could not be fetched"
    status = 502


class HistoricalKeysError(FederationError):
    slug = "bad-historical-keys"
    title = "Historical keys JWT is not acceptable"


class FederationKeyNotValidError(FederationError):
    slug = "federation-key-not-valid-at-instant"
    title = "Federation key was not valid at that instant"
