"""Entity Identifiers and the URLs derived from them (OpenID Federation 1.0 §1.2, §8.1.1, §9).

An Entity Identifier is an ``https`` URL with a host, an optional port and path, and no
query or fragment (§1.2 "Entity Identifier"). ``allow_http_loopback`` additionally admits
``http`` on a loopback host (``localhost``, 127.0.0.0/8, ``::1``), for local development
and tests only; it never admits http anywhere else. Identifiers are compared code point
for code point, without normalisation (§16).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlencode, urlsplit

from registry.federation.errors import FederationError, StatementError

WELL_KNOWN_PATH = "/.well-known/openid-federation"
MAX_ENTITY_ID_CHARS = 2048


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_url(
    value: object, what: str, allow_http_loopback: bool, error: type[FederationError]
) -> SplitResult:
    if not isinstance(value, str) or not value or len(value) > MAX_ENTITY_ID_CHARS:
        raise error(f"{what} must be a URL of at most {MAX_ENTITY_ID_CHARS} characters")
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        raise error(f"{what} must be printable ASCII without spaces")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise error(f"{what} is not a valid URL") from None
    host = parts.hostname
    if not host:
        raise error(f"{what} has no host")
    if parts.username is not None or parts.password is not None:
        raise error(f"{what} must not carry user information")
    loopback_http = parts.scheme == "http" and allow_http_loopback and _is_loopback(host)
    if parts.scheme != "https" and not loopback_http:
        raise error(f"{what} must use https")
    if port == 0:
        raise error(f"{what} has an invalid port")
    if "#" in value:
        raise error(f"{what} must not contain a fragment")
    return parts


def check_entity_id(
    value: object,
    what: str = "entity identifier",
    *,
    allow_http_loopback: bool = False,
    error: type[FederationError] = StatementError,
) -> str:
    """``value`` when it is an Entity Identifier (§1.2), else ``error``."""
    _split_url(value, what, allow_http_loopback, error)
    assert isinstance(value, str)
    if "?" in value:
        raise error(f"{what} must not contain a query")
    return value


def check_endpoint_url(
    value: object,
    what: str,
    *,
    allow_http_loopback: bool = False,
    error: type[FederationError] = StatementError,
) -> str:
    """A federation endpoint URL (§5.1.1): https, may have port, path and query, no fragment."""
    _split_url(value, what, allow_http_loopback, error)
    assert isinstance(value, str)
    return value


def entity_configuration_url(entity_id: str) -> str:
    """§9: the Entity Identifier without a trailing "/", then ``/.well-known/openid-federation``."""
    return (entity_id[:-1] if entity_id.endswith("/") else entity_id) + WELL_KNOWN_PATH


def fetch_statement_url(fetch_endpoint: str, subject: str) -> str:
    """§8.1.1: a GET to the superior's fetch endpoint with ``sub`` form-encoded in the query
    (appended to any query the endpoint already has)."""
    separator = "&" if urlsplit(fetch_endpoint).query else "?"
    return fetch_endpoint + separator + urlencode({"sub": subject})


def host_of(entity_id: str) -> str:
    """The host of an (already checked) Entity Identifier, lower-cased."""
    return (urlsplit(entity_id).hostname or "").lower()
