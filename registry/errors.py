"""The one error hierarchy of the registry.

Every error the registry raises on purpose inherits from :class:`RegistryError`. Each
error class carries a stable ``slug`` (it becomes the problem type URI), a short
``title`` and the HTTP ``status`` it maps to. The web layer turns any of them into an
RFC 9457 problem+json document; nothing else in the code needs to know about HTTP.

    RegistryError
    ├── SigningError                      (registry.signing.errors)
    │   ├── EncodingError                 bad base58/base64url/multibase/multicodec
    │   ├── KeyMaterialError              bad key material, wrong passphrase, unknown kid
    │   │   └── KeyNotValidAtError        key not valid for signing at the instant
    │   ├── CanonicalizationError         RFC 8785 (NaN, big integers, lone surrogates, …)
    │   │   └── DuplicateMemberError      duplicate member name while parsing
    │   ├── ResolutionError               DID / verification method cannot be resolved
    │   │   └── UnknownVerificationMethodError  the DID is known in full and lacks it: a failure
    │   └── VerificationError             a signature, proof or token does not verify
    │       ├── InvalidSignatureError
    │       ├── ProofConfigurationError    wrong type / cryptosuite / purpose / created
    │       ├── IssuerMismatchError        verification method not controlled by issuer
    │       └── TokenFormatError           malformed JWS, forbidden alg, wrong typ
    ├── CredentialError                   (registry.credentials.errors)
    │   ├── StatusListError               Bitstring Status List §3.2 errors, malformed lists
    │   └── StatusListFullError           no free index left
    │   ├── StatusListFullError           no free index left
    │   ├── InvalidHolderIdError          ID number fails GB 11643 / passport rules
    │   ├── BatchRejectedError            a batch with row errors (nothing issued)
    │   ├── StatusTransitionError         e.g. reinstating a revoked credential
    │   ├── ReasonCodeError (422)         a reason code not for that status change
    │   └── CredentialRevokedError (409)  no VC-JWT or verification code for a revoked credential
    ├── InvalidInputError (422)           well-formed request, unacceptable content
    ├── NotFoundError (404)               no such record, or not yours to see
    ├── ConflictError (409)               duplicate code, batch id reused with other content
    ├── UnsupportedMediaTypeError (415)   a body of another media type than the endpoint takes
    ├── AuthenticationError (401)         no or bad credentials / token / API key
    ├── PermissionDeniedError (403)       authenticated, but the role or scope is wrong
    ├── PayloadTooLargeError (413)        request body over the endpoint's limit
    ├── RateLimitedError (429)            an HR client over its rate, sign-in back-off
    ├── ServiceUnavailableError (503)     busy (database, password hashing): send again later
    └── FederationError                   (registry.federation.errors)
        ├── StatementError                malformed statement, typ/alg, claims, unknown crit
        │   ├── StatementSignatureError   kid not vouched for, or signature invalid
        │   └── StatementTimeError        iat in the future / exp passed
        ├── PolicyError                   metadata_policy errors (OpenID Federation §6.1)
        ├── TrustChainError               no chain, loop, discontinuity, limits
        │   ├── ConstraintViolationError  max_path_length / naming / entity types (§6.2)
        │   └── FetchLimitError           resolution used up its fetch budget
        ├── FetchError (502)              a peer could not be fetched (registry.federation.client:
        │                                 URL not allowed, private address, redirect, too large,
        │                                 time-out, bad status, media type, transport, encoding)
        ├── FederationInputError (422)    bad admission / authorisation input at the anchor
        ├── EntityConfigurationError (500) this entity cannot make its configuration
        ├── IssuerMetadataError           a member's yrd_credential_issuer metadata is unusable
        ├── invalid-federation-request / unsupported-federation-parameter (400, federation routes)
        ├── ResolveError                  the anchor's resolve endpoint: unknown anchor, invalid
        │                                 chain or metadata, subject unreachable (§8.3, §8.9)
        ├── ResolveResponseError          a resolve response that does not verify
        ├── HistoricalKeysError           bad historical-keys JWT (§8.7)
        └── FederationKeyNotValidError    key expired, revoked or unknown at an instant
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROBLEM_BASE_URI = "https://registry.yrd.example/problems/"


class RegistryError(Exception):
    """Base of every deliberate registry error.

    ``detail`` is safe to show to the caller: it never holds key material, SQL or a
    stack trace.
    """

    slug: str = "registry-error"
    title: str = "Registry error"
    status: int = 500

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        #: RFC 9457 extension members (e.g. ``errors`` for a rejected batch).
        self.extensions: Mapping[str, Any] = extensions
        #: Extra response headers (e.g. ``Retry-After``, ``WWW-Authenticate``).
        self.headers: dict[str, str] = {}

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE_URI + self.slug


class InvalidInputError(RegistryError):
    slug = "invalid-input"
    title = "Input is not acceptable"
    status = 422


class NotFoundError(RegistryError):
    slug = "not-found"
    title = "Not found"
    status = 404


class UnsupportedMediaTypeError(RegistryError):
    slug = "unsupported-media-type"
    title = "The request body is not of a media type this endpoint accepts"
    status = 415


class ConflictError(RegistryError):
    slug = "conflict"
    title = "Conflicts with the current state"
    status = 409


class AuthenticationError(RegistryError):
    slug = "unauthenticated"
    title = "Authentication required"
    status = 401

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["WWW-Authenticate"] = 'Bearer realm="registry"'


class PermissionDeniedError(RegistryError):
    slug = "forbidden"
    title = "Not allowed for this role or scope"
    status = 403


class PayloadTooLargeError(RegistryError):
    slug = "payload-too-large"
    title = "Request body too large"
    status = 413


class RateLimitedError(RegistryError):
    slug = "rate-limited"
    title = "Too many requests"
    status = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retryAfter=retry_after)
        self.headers["Retry-After"] = str(retry_after)


class ServiceUnavailableError(RegistryError):
    """Nothing was done and nothing committed; the same request may be sent again."""

    slug = "service-unavailable"
    title = "Service busy"
    status = 503

    def __init__(self, detail: str, retry_after: int = 2) -> None:
        super().__init__(detail, retryAfter=retry_after)
        self.headers["Retry-After"] = str(retry_after)
