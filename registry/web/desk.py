"""What the staff and HR desks share: small forms, the staff session (the API's access
token in the HttpOnly session cookie, checked exactly as a bearer token) and the
words of sign-in failures."""

from __future__ import annotations

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials

from registry.accounts import PasswordChangeRequiredError
from registry.auth import API_KEY_PREFIX, Principal
from registry.deps import get_principal
from registry.errors import RateLimitedError, RegistryError, ServiceUnavailableError
from registry.web.pages import N_, SESSION_COOKIE, Page

FORM_EXPIRED = N_("This form has expired or did not come from this site. Please submit it again.")


async def form_fields(request: Request, fields: int) -> dict[str, str]:
    """A small url-encoded or multipart form without files (its text fields)."""
    async with request.form(max_files=0, max_fields=fields) as data:
        return {k: v for k, v in data.items() if isinstance(v, str)}


def session_principal(page: Page) -> Principal | None:
    """The account whose access token the session cookie holds (None when there is
    none, it expired, or the account changed or was deactivated since)."""
    token = page.request.cookies.get(SESSION_COOKIE)
    if not token or token.startswith(API_KEY_PREFIX) or len(token) > 4096:
        return None
    try:
        return get_principal(page.node, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
    except RegistryError:
        return None


def sign_in_error(exc: RegistryError) -> str:
    """What a sign-in form says when the sign-in was refused."""
    if isinstance(exc, PasswordChangeRequiredError):
        return N_("Your password was reset: choose a new password before you sign in.")
    if isinstance(exc, RateLimitedError):
        return N_("Too many sign-in attempts. Please wait a while and try again.")
    if isinstance(exc, ServiceUnavailableError):
        return N_("The node is busy. Please try again in a moment.")
    return N_("The user name or password is wrong.")
