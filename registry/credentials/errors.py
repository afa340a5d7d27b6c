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
