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
    │   └── VerificationError             a signature, proof or token does not verify
    │       ├── InvalidSignatureError
    │       ├── ProofConfigurationError    wrong type / cryptosuite / purpose / created
    │       ├── IssuerMismatchError        verification method not controlled by issuer
    │       └── TokenFormatError           malformed JWS, forbidden alg, wrong typ
    ├── CredentialError                   (registry.credentials.errors)
    │   ├── StatusListError               Bitstring Status List §3.2 errors, malformed lists
    │   └── StatusListFullError           no free index left
    └── (web and federation errors join here as those packages grow)
"""

from __future__ import annotations

PROBLEM_BASE_URI = "https://registry.yrd.example/problems/"


class RegistryError(Exception):
    """Base of every deliberate registry error.

    ``detail`` is safe to show to the caller: it never holds key material, SQL or a
    stack trace.
    """

    slug: str = "registry-error"
    title: str = "Registry error"
    status: int = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE_URI + self.slug
