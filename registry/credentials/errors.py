"""Errors of the credentials package (see :mod:`registry.errors` for the whole tree)."""

from __future__ import annotations

from registry.errors import RegistryError


class CredentialError(RegistryError):
    slug = "credential-error"
    title = "Credential error"
    status = 400


class StatusListError(CredentialError):
    """Bitstring Status List v1.0 §3.2 errors (STATUS_LIST_LENGTH_ERROR, RANGE_ERROR,
    malformed encodedList, purpose mismatch)."""

    slug = "bad-status-list"
    title = "Status list cannot be used"


class StatusListFullError(CredentialError):
    slug = "status-list-full"
    title = "No free index left in the status list"
    status = 409


class InvalidHolderIdError(CredentialError):
    """An identity document number that fails its format or check character."""

    slug = "invalid-holder-id"
    title = "Identity document number is not valid"
    status = 422


class BatchRejectedError(CredentialError):
    """A batch with at least one bad row: nothing was issued; ``errors`` lists every row."""

    slug = "batch-rejected"
    title = "Batch rejected; nothing was issued"
    status = 422


class StatusTransitionError(CredentialError):
    slug = "status-transition-not-allowed"
    title = "Status change not allowed"
    status = 409


class ReasonCodeError(CredentialError):
    """A reason code that is not one of those for the status change asked for (see
    GET /v1/status-reasons): the request is wrong whatever the credential's state."""

    slug = "invalid-reason-code"
    title = "Reason code is not one for this status change"
    status = 422


class CredentialRevokedError(CredentialError):
    """A revoked credential gets nothing new signed or handed out for it (VC-JWTs,
    verification codes); its file as issued stays readable by its holder."""

    slug = "credential-revoked"
    title = "The credential is revoked"
    status = 409
