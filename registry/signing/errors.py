"""Errors of the signing core. See :mod:`registry.errors` for the whole tree."""

from __future__ import annotations

from registry.errors import RegistryError


class SigningError(RegistryError):
    slug = "signing-error"
    title = "Signing error"
    status = 400


class EncodingError(SigningError, ValueError):
    slug = "bad-encoding"
    title = "Malformed encoding"


class KeyMaterialError(SigningError, ValueError):
    slug = "bad-key"
    title = "Unusable key material"


class KeyNotValidAtError(KeyMaterialError):
    slug = "key-not-valid-at-instant"
    title = "Key not valid for signing at that instant"


class CanonicalizationError(SigningError, ValueError):
    """RFC 8785 cannot represent the value (§3.2.2: I-JSON numbers and strings)."""

    slug = "not-canonicalizable"
    title = "Value cannot be canonicalized (RFC 8785)"


class DuplicateMemberError(CanonicalizationError):
    slug = "duplicate-member"
    title = "Duplicate member name in JSON object"


class ResolutionError(SigningError):
    slug = "unresolvable-verification-method"
    title = "Verification method cannot be resolved"


class VerificationError(SigningError):
    slug = "verification-failed"
    title = "Verification failed"


class InvalidSignatureError(VerificationError):
    slug = "invalid-signature"
    title = "Signature does not verify"


class ProofConfigurationError(VerificationError):
    slug = "bad-proof"
    title = "Proof is not acceptable"


class IssuerMismatchError(VerificationError):
    slug = "issuer-mismatch"
    title = "Verification method is not controlled by the issuer"


class TokenFormatError(VerificationError):
    slug = "bad-token"
    title = "Malformed or unacceptable token"
