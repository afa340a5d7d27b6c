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


class UnknownVerificationMethodError(ResolutionError):
    """The controller's DID document is known in full and has no such verification
    method (a did:key fragment other than its key; a key id a node never had). Unlike
    an unresolvable DID, this is an answer: a proof naming the method cannot be by
    the controller, so a verifier fails it rather than calling it unknown."""

    slug = "unknown-verification-method"
    title = "The controller never had this verification method"


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
