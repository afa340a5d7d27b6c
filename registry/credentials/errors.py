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
