"""The peer client: the only way a node makes outbound HTTP requests (to federation members
and the trust anchor). Everything a peer sends is untrusted, so every request is checked
before it leaves and every answer is bounded while it arrives.

Before any connection (:meth:`PeerClient.fetch`, :meth:`PeerClient.post`):

1. The URL must lie under a registered base URL (members' entity identifiers and endpoint
   URLs, the anchor's): same scheme, host and port, and a path equal to the base path or
   below it at a ``/`` boundary. No user information, no fragment, no dot segments (decoded
   or not), no encoded ``/`` or ``\\``: a server that decodes them could serve a path
   outside the base. https only, unless ``allow_http``.
2. A host written as an IP address (or ``localhost``, ``*.localhost``, or a numeric form
   such as ``127.1`` that resolvers read as an address) must be a public unicast address,
   unless ``allow_private``.

While connecting (:class:`AddressGuardBackend`, beneath httpx and httpcore): the host name
is resolved once, every address it resolves to is checked, and the TCP connection is made
to those very addresses, not to the name. A DNS answer cannot change between the check and
the connection (DNS rebinding), because the connection never asks DNS again. TLS still
verifies the certificate against the host name (httpcore passes the URL's host as
``server_hostname``), and the pool keys connections by that name. Checking in the network
backend rather than rewriting the URL to an IP keeps SNI, certificate checks, ``Host`` and
connection reuse tied to the name a member registered. Only clients made by
:func:`make_http_client` have this guard; a client injected for tests (``MockTransport``,
``ASGITransport``) makes no network connection at all.

While reading (:meth:`PeerClient._read`):

- redirects are never followed: a 3xx (other than an expected 304) is an error naming the
  ``Location``, so a peer cannot bounce the node elsewhere;
- connect/read/write/pool timeouts per operation, and one deadline for the whole exchange
  (a peer trickling a byte a second never trips a read timeout, only the deadline);
- size caps: ``Content-Length`` over the cap is refused before the body is read; the body
  is streamed and the read stops past the cap (chunked or lying lengths); and the decoded
  size is capped too. httpx's own decoders call ``zlib.decompress`` without a bound, so one
  64 KiB network read of a gzip bomb would inflate to ~64 MiB before any check could see
  it. The body is therefore read raw (``aiter_raw``) and inflated here with
  ``decompressobj().decompress(data, max_length)``: no more than cap + 1 decoded bytes
  ever exist. Only ``gzip`` and ``deflate`` are accepted (and asked for); ``br``, ``zstd``
  or stacked codings are refused, whatever decoders happen to be installed;
- the media type must be one the caller expects; conditional requests use ``If-None-Match``
  and a 304 comes back as a :class:`FetchResult` with ``body=None``.

Every exchange is logged on the ``registry.federation.client`` logger (URL, status, bytes,
elapsed ms, outcome ``ok`` / ``not-modified`` / ``refused: <slug>``) and counted in
:class:`FetchStats`.

Errors, all under :class:`~registry.federation.errors.FetchError` (so trust-chain resolution
treats any of them as a dead end) and so under ``FederationError``::

    FetchError
    ├── UrlNotAllowedError        not under a registered base URL, or not an acceptable URL
    ├── PrivateAddressError       the host is, or resolves to, a non-public address
    ├── RedirectRefusedError      a 3xx answer (names the Location)
    ├── ResponseTooLargeError     Content-Length, wire bytes or decoded bytes over the cap
    ├── PeerTimeoutError          a connect/read/write/pool timeout, or the deadline
    ├── BadStatusError            any other status than the ones expected
    ├── WrongMediaTypeError       Content-Type is not one the caller accepts
    └── PeerTransportError        connection refused/reset, TLS failure, protocol error
        ├── PeerNotReachedError   no connection made (refused, unresolvable, connect time-out):
        │                         the request was never sent (PeerConnectTimeoutError is also a
        │                         PeerTimeoutError)
        └── ContentEncodingError  unsupported, stacked, truncated or corrupt coding

Messages name only what the caller gave (the URL, its host) and what the peer said (status,
media type, Location); never an address a name resolved to, nor a socket error text.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import ssl
import time
import zlib
from collections import Counter
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from functools import lru_cache
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Final, TypeAlias

import anyio
import httpcore
import httpx

from registry.federation.errors import FetchError

__all__ = [
    "ENTITY_STATEMENT",
    "JSON",
    "JWK_SET_JWT",
    "STATUS_LIST_MEDIA_TYPES",
    "VC",
    "VC_JWT",
    "AddressGuardBackend",
    "BadStatusError",
    "ContentEncodingError",
    "FetchResult",
    "FetchStats",
    "GuardedTransport",
    "OutboundPolicy",
    "PeerClient",
    "PeerTimeoutError",
    "PeerTransportError",
    "PrivateAddressError",
    "RedirectRefusedError",
    "Resolver",
    "ResponseTooLargeError",
    "UrlNotAllowedError",
    "WrongMediaTypeError",
    "address_refusal",
    "make_http_client",
    "system_resolver",
]

logger = logging.getLogger("registry.federation.client")

# Media types a node asks peers for (OpenID Federation 1.0 §3, §8.7; VC-JOSE; VC 2.0).
ENTITY_STATEMENT: Final = "application/entity-statement+jwt"
JWK_SET_JWT: Final = "application/jwk-set+jwt"
VC_JWT: Final = "application/vc+jwt"
VC: Final = "application/vc"
JSON: Final = "application/json"
STATUS_LIST_MEDIA_TYPES: Final = (VC_JWT, VC, JSON)

_USER_AGENT: Final = "yrd-talent-registry-node"
# What the node can inflate with a bound (see _BoundedDecoder); asking for nothing else
# means an honest peer never sends br or zstd, and a dishonest one is refused.
_ACCEPT_ENCODING: Final = "gzip, deflate"
_SHOWN_CHARS: Final = 200  # peer-supplied text (Location, Content-Type) is cut to this


def _shown(text: str) -> str:
    """Peer-supplied text as it may appear in a message: printable and short."""
    text = text if text.isprintable() else repr(text)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"


# --- errors ----------------------------------------------------------------------------------


class UrlNotAllowedError(FetchError):
    slug = "peer-url-not-allowed"
    title = "URL is not a registered federation URL"


class PrivateAddressError(FetchError):
    slug = "peer-address-not-allowed"
    title = "Peer host is not a public address"


class RedirectRefusedError(FetchError):
    slug = "peer-redirect-refused"
    title = "Peer answered with a redirect"

    def __init__(self, detail: str, *, location: str) -> None:
        super().__init__(detail)
        self.location = location


class ResponseTooLargeError(FetchError):
    slug = "peer-response-too-large"
    title = "Peer response is over the size limit"

    def __init__(self, detail: str, *, limit: int) -> None:
        super().__init__(detail)
        self.limit = limit


class PeerTimeoutError(FetchError):
    slug = "peer-timeout"
    title = "Peer did not answer in time"
    status = 504


class BadStatusError(FetchError):
    slug = "peer-bad-status"
    title = "Peer answered with an unexpected status"

    def __init__(self, detail: str, *, response_status: int) -> None:
        super().__init__(detail)
        #: The peer's HTTP status (``status`` is this error's own problem status).
        self.response_status = response_status


class WrongMediaTypeError(FetchError):
    slug = "peer-wrong-media-type"
    title = "Peer answered with an unexpected media type"

    def __init__(self, detail: str, *, media_type: str) -> None:
        super().__init__(detail)
        self.media_type = media_type


class PeerTransportError(FetchError):
    slug = "peer-transport-error"
    title = "Peer could not be reached or spoke broken HTTP"


class PeerNotReachedError(PeerTransportError):
    """No connection could be made (refused, unresolvable, connect time-out): the
    request was never sent."""

    slug = "peer-not-reached"
    title = "Peer could not be connected to"


class PeerConnectTimeoutError(PeerTimeoutError, PeerNotReachedError):
    """The connection was not made in time: a time-out, and the request never sent."""

    slug = "peer-connect-timeout"
    title = "Peer could not be connected to in time"


class ContentEncodingError(PeerTransportError):
    slug = "peer-bad-content-encoding"
    title = "Peer response has an unacceptable content coding"


# --- settings and results ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Limits and permissions of outbound requests. The defaults suit production; the
    loopback demo and tests set ``allow_private`` and ``allow_http``."""

    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    write_timeout: float = 5.0
    pool_timeout: float = 3.0
    #: The whole exchange: connect, send, headers and the complete body.
    deadline: float = 10.0
    #: Cap on the body, on the wire and decoded; a fetch may set a smaller or larger one.
    max_bytes: int = 1024 * 1024
    allow_private: bool = False
    allow_http: bool = False

    def __post_init__(self) -> None:
        timeouts = (self.connect_timeout, self.read_timeout, self.write_timeout, self.pool_timeout)
        if min(*timeouts, self.deadline) <= 0:
            raise ValueError("timeouts and the deadline must be positive")
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.write_timeout,
            pool=self.pool_timeout,
        )


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful exchange: a new body, or (``body is None``) 304 Not Modified."""

    url: str
    status: int
    #: The decoded body; ``None`` when the peer said 304 to our ``If-None-Match``.
    body: bytes | None
    media_type: str | None
    #: The validator to send next time (the peer's, or on a 304 without one, ours).
    etag: str | None
    #: Seconds the body may be used without asking again (Cache-Control ``max-age`` less
    #: ``Age``); 0 for ``no-cache``/``no-store`` or a malformed directive; None when absent.
    max_age: int | None

    @property
    def not_modified(self) -> bool:
        return self.body is None


@dataclass
class FetchStats:
    """Counts of exchanges by outcome (``ok``, ``not-modified``, or an error slug), overall
    and per origin, and decoded bytes received. In memory, per process."""

    outcomes: Counter[str] = field(default_factory=Counter)
    by_origin: dict[str, Counter[str]] = field(default_factory=dict)
    bytes_received: int = 0

    def record(self, origin: str | None, outcome: str, body_bytes: int) -> None:
        self.outcomes[outcome] += 1
        self.bytes_received += body_bytes
        # Only allow-listed origins get their own counter, so a flood of refused URLs
        # cannot grow this map.
        if origin is not None:
            self.by_origin.setdefault(origin, Counter())[outcome] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "outcomes": dict(self.outcomes),
            "bytes_received": self.bytes_received,
            "by_origin": {origin: dict(counts) for origin, counts in self.by_origin.items()},
        }


# --- addresses ---------------------------------------------------------------------------------

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address (``"loopback"``, ``"private"``, …),
    or ``None`` when a peer may live there."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address written as IPv6 reaches that IPv4 address: judge it as such
        # (``::ffff:127.0.0.1`` is loopback; ``::ffff:8.8.8.8`` is 8.8.8.8).
        if address.ipv4_mapped is not None:
            return address_refusal(address.ipv4_mapped)
        if address in _NAT64:
            return address_refusal(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None and address_refusal(address.sixtofour) is not None:
            return address_refusal(address.sixtofour)
    # Named checks first, for a useful reason; ``is_global`` last catches the rest
    # (e.g. 100.64.0.0/10). Multicast is "global" to ipaddress, hence its own check.
    checks: tuple[tuple[str, bool], ...] = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


def _literal_host_refusal(host: str) -> str | None:
    """For a URL host before any connection: the refusal reason if the host is an address
    (or a name that is always loopback), ``None`` for an ordinary name."""
    try:
        return address_refusal(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host == "localhost" or host.endswith((".localhost", ".localhost.")):
        return "loopback"  # RFC 6761 §6.3: always the loopback interface
    # A top-level label is never all digits (RFC 3696 §2), yet C resolvers read "127.1",
    # "2130706433" or "0x7f.1" as IPv4: refuse these rather than guess what they reach.
    last_label = host.rstrip(".").rsplit(".", 1)[-1]
    if last_label.isdigit() or last_label.startswith("0x"):
        return "numeric"
    return None


Resolver: TypeAlias = Callable[[str, int], Awaitable[Iterable[str]]]
"""``resolver(host, port)`` -> the addresses (as text) to connect to, in order."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The system's resolver (``getaddrinfo``), as a deduplicated list of addresses."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# --- the network backend that checks what it connects to ---------------------------------------


class AddressGuardBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves a host once, refuses it unless every
    address is public (or ``allow_private``), and connects to those checked addresses.

    ``inner`` makes the actual connection (httpcore's anyio backend by default); it is only
    ever given address literals, so nothing below this class resolves a name again.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolver = resolver
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # The connect timeout covers resolution and every attempt together.
        try:
            with anyio.fail_after(timeout):
                addresses = await self._checked_addresses(host, port)
                last_error: Exception | None = None
                for address in addresses:
                    try:
                        return await self._inner.connect_tcp(
                            address, port, timeout, local_address, socket_options
                        )
                    except httpcore.ConnectError as exc:
                        last_error = exc
                assert last_error is not None  # _checked_addresses never returns an empty list
                raise httpcore.ConnectError(f"cannot connect to {host}:{port}") from last_error
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection to {host}:{port} in time") from None

    async def _checked_addresses(self, host: str, port: int) -> list[str]:
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [host]
        else:
            try:
                addresses = list(await self._resolver(host, port))
            except OSError:
                raise httpcore.ConnectError(f"cannot resolve {host}") from None
            if not addresses:
                raise httpcore.ConnectError(f"{host} has no address")
        if not self._allow_private:
            # Every address, not just the first: the system may try them in any order, and
            # a name that mixes public and private addresses is not a peer's name.
            for address in addresses:
                try:
                    reason = address_refusal(ipaddress.ip_address(address))
                except ValueError:
                    reason = "unparseable"
                if reason is not None:
                    verb = "is" if literal is not None else "resolves to"
                    raise PrivateAddressError(f"{host} {verb} a {reason} address")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("peers are reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# --- an httpx transport over httpcore with that backend ----------------------------------------

# Most specific first: httpcore's exception tree mirrors httpx's.
_HTTPCORE_TO_HTTPX: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_error, httpx_error in _HTTPCORE_TO_HTTPX:
            if isinstance(exc, core_error):
                raise httpx_error(str(exc)) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx's default transport, rebuilt on httpcore's public API so that the connection
    pool uses :class:`AddressGuardBackend` (``httpx.AsyncHTTPTransport`` has no way to
    pass a network backend). HTTP/1.1 only, no proxy, no retries."""

    def __init__(
        self,
        *,
        allow_private: bool,
        verify: ssl.SSLContext | None = None,
        resolver: Resolver = system_resolver,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        max_connections: int = 32,
    ) -> None:
        backend = AddressGuardBackend(allow_private=allow_private, resolver=resolver, inner=network_backend)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify if verify is not None else httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=8,
            keepalive_expiry=30.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            core_response = await self._pool.handle_async_request(core_request)
        assert isinstance(core_response.stream, AsyncIterable)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def make_http_client(
    policy: OutboundPolicy,
    *,
    verify: ssl.SSLContext | None = None,
    resolver: Resolver = system_resolver,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """The production HTTP client for :class:`PeerClient`: the address guard, no proxies
    from the environment (a proxy would resolve names itself), no redirects, no cookies.
    ``verify`` is the TLS trust (default: certifi's roots; the demo passes its CA)."""
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(
        transport=GuardedTransport(
            allow_private=policy.allow_private,
            verify=verify,
            resolver=resolver,
            network_backend=network_backend,
        ),
        trust_env=False,
        follow_redirects=False,
        timeout=policy.timeout,
        cookies=no_cookies,
    )


# --- URL checks --------------------------------------------------------------------------------


def _path_of(url: httpx.URL) -> bytes:
    return url.raw_path.partition(b"?")[0]


def _parse_url(value: str) -> httpx.URL:
    try:
        return httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise UrlNotAllowedError(f"{_shown(value)} is not a valid URL") from None


def _is_under(url: httpx.URL, base: httpx.URL) -> bool:
    """``url`` is ``base`` or below it: same scheme, host and port, and base's path
    followed by nothing or ``/`` (so ``/js`` covers ``/js/x`` but not ``/jsx``)."""
    if (url.scheme, url.raw_host, url.port) != (base.scheme, base.raw_host, base.port):
        return False
    prefix = _path_of(base).rstrip(b"/")
    path = _path_of(url)
    return path == prefix or path.startswith(prefix + b"/")


def _check_shape(url: httpx.URL, shown: str, allow_http: bool) -> None:
    if url.scheme != "https" and not (allow_http and url.scheme == "http"):
        raise UrlNotAllowedError(f"{shown} must use https")
    if not url.raw_host:
        raise UrlNotAllowedError(f"{shown} has no host")
    if url.userinfo or url.fragment:
        raise UrlNotAllowedError(f"{shown} must not carry user information or a fragment")
    raw_path = _path_of(url).lower()
    if b"%2f" in raw_path or b"%5c" in raw_path or b"\\" in raw_path:
        raise UrlNotAllowedError(f"{shown} has an encoded slash in its path")
    if any(segment in (".", "..") for segment in url.path.split("/")):
        raise UrlNotAllowedError(f"{shown} has a dot segment in its path")


# --- bounded decoding --------------------------------------------------------------------------


class _BoundedDecoder:
    """Undoes one Content-Encoding while never producing more than ``limit`` bytes.

    ``decompress(data, max_length)`` stops inflating at ``max_length`` and keeps the rest of
    the input in ``unconsumed_tail``; asking for one byte more than the room left tells
    "exactly at the cap" from "over it" without inflating further.
    """

    def __init__(self, coding: str, limit: int, shown_url: str) -> None:
        self._coding = coding
        self._limit = limit
        self._shown_url = shown_url
        self._produced = 0
        self._inflater: Any = None  # zlib's Decompress type is not public
        self._first = True  # deflate: no byte inflated yet
        if coding == "gzip":
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            # RFC 9110 §8.4.1.2 says zlib format; some servers send raw deflate. Like httpx,
            # try zlib and fall back to raw if the very first bytes are not zlib.
            self._inflater = zlib.decompressobj()

    def _too_large(self) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"{self._shown_url} decodes to more than {self._limit} bytes", limit=self._limit
        )

    def feed(self, data: bytes) -> bytes:
        room = self._limit - self._produced
        if self._inflater is None:  # identity
            out = data
        else:
            out = self._inflate(data, room + 1)
            if self._inflater.unconsumed_tail:
                raise self._too_large()
        self._produced += len(out)
        if self._produced > self._limit:
            raise self._too_large()
        return out

    def _inflate(self, data: bytes, max_length: int) -> bytes:
        try:
            out: bytes = self._inflater.decompress(data, max_length)
        except zlib.error:
            if self._coding == "deflate" and self._first:
                self._first = False
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._inflate(data, max_length)
            raise ContentEncodingError(f"{self._shown_url}: corrupt {self._coding} body") from None
        if self._coding == "deflate" and data:
            self._first = False
        return out

    def finish(self) -> None:
        if self._inflater is None:
            return
        if not self._inflater.eof:
            raise ContentEncodingError(f"{self._shown_url}: truncated {self._coding} body")
        if self._inflater.unused_data:
            raise ContentEncodingError(f"{self._shown_url}: data after the end of the {self._coding} body")


def _content_coding(response: httpx.Response, shown_url: str) -> str:
    codings = [c.strip().lower() for c in response.headers.get_list("content-encoding", split_commas=True)]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > 1:
        raise ContentEncodingError(f"{shown_url}: stacked content codings are not accepted")
    coding = codings[0] if codings else "identity"
    if coding not in ("identity", "gzip", "deflate"):
        raise ContentEncodingError(f"{shown_url}: content coding {_shown(coding)} is not accepted")
    return coding


# --- caching headers ---------------------------------------------------------------------------


def _max_age(headers: httpx.Headers) -> int | None:
    """Freshness lifetime left (RFC 9111 §4.2.1, §5.1): max-age less Age, as a private cache."""
    directives: dict[str, list[str]] = {}
    for item in headers.get_list("cache-control", split_commas=True):
        name, _, value = item.strip().partition("=")
        directives.setdefault(name.strip().lower(), []).append(value.strip().strip('"'))
    if "no-store" in directives or "no-cache" in directives:
        return 0
    values = directives.get("max-age")
    if values is None:
        return None
    max_age = _decimal(values[0]) if len(values) == 1 else None
    if max_age is None:
        return 0  # a duplicated or malformed max-age makes the response stale (§4.2.1)
    return max(0, max_age - (_decimal(headers.get("age", "0")) or 0))


def _decimal(value: str) -> int | None:
    """A header's non-negative decimal integer (ASCII digits only: ``str.isdigit`` also
    accepts digits such as "²" that ``int`` refuses)."""
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _media_type(response: httpx.Response) -> str | None:
    value = response.headers.get("content-type")
    return value.split(";", 1)[0].strip().lower() if value else None


# --- the client --------------------------------------------------------------------------------

_GET_OK: Final = (200,)
_POST_OK: Final = (200, 201, 202)

AllowedBases: TypeAlias = Collection[str] | Callable[[], Iterable[str]]
"""Registered base URLs: a collection the caller keeps up to date (a ``set`` it mutates), or
a callable asked afresh on every request."""


@dataclass
class _Exchange:
    """One request: what the caller asked for, and how far it got (for the log line)."""

    method: str
    url: str
    accept: Collection[str]
    limit: int
    #: The ETag sent in ``If-None-Match``; a 304 is then success.
    conditional: str | None
    ok_statuses: Collection[int]
    origin: str | None = None
    status: int | None = None
    wire_bytes: int = 0
    body_bytes: int = 0

    @property
    def shown(self) -> str:
        return _shown(self.url)


class PeerClient:
    """Outbound requests to registered federation URLs, with the checks of this module.

    ``http`` is the client to send through: by default one from :func:`make_http_client`
    (owned and closed here); tests inject one over ``MockTransport`` or ``ASGITransport``
    (the caller closes it); ``owns_http`` hands a client made by the caller over to be
    closed here. ``clock`` is a monotonic clock in seconds, for the log's timing.
    """

    def __init__(
        self,
        allowed: AllowedBases,
        *,
        policy: OutboundPolicy | None = None,
        http: httpx.AsyncClient | None = None,
        stats: FetchStats | None = None,
        clock: Callable[[], float] = time.monotonic,
        owns_http: bool | None = None,
    ) -> None:
        if isinstance(allowed, str):
            raise TypeError("allowed is a collection of base URLs (or a callable), not one string")
        self.policy = policy if policy is not None else OutboundPolicy()
        self.stats = stats if stats is not None else FetchStats()
        self._allowed = allowed
        #: Whether :meth:`aclose` closes ``http`` (by default: when it was made here).
        self._owns_http = http is None if owns_http is None else owns_http
        self._http = http if http is not None else make_http_client(self.policy)
        self._clock = clock

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> PeerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def fetch(
        self,
        url: str,
        *,
        accept: Collection[str],
        etag: str | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """GET ``url``, expecting status 200 and one of the ``accept`` media types. With
        ``etag``, asks ``If-None-Match`` and accepts a 304 (``result.not_modified``)."""
        if etag is not None and not (etag.isascii() and etag.isprintable()):
            raise ValueError("etag must be printable ASCII")
        headers = {"If-None-Match": etag} if etag is not None else {}
        exchange = self._exchange("GET", url, accept, max_bytes, etag, _GET_OK)
        return await self._run(exchange, headers, None)

    async def post(
        self,
        url: str,
        *,
        content: bytes,
        content_type: str,
        accept: Collection[str],
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """POST ``content`` (e.g. a node-signed request JWT) to ``url``; 200, 201 or 202 with
        one of the ``accept`` media types is success."""
        extra = {k: v for k, v in (headers or {}).items() if k.lower() not in ("host", "content-length")}
        extra["Content-Type"] = content_type
        exchange = self._exchange("POST", url, accept, max_bytes, None, _POST_OK)
        return await self._run(exchange, extra, content)

    # -- one exchange: check, send, read, log --

    def _exchange(
        self,
        method: str,
        url: str,
        accept: Collection[str],
        max_bytes: int | None,
        conditional: str | None,
        ok_statuses: Collection[int],
    ) -> _Exchange:
        if not accept:
            raise ValueError("accept must name at least one media type")
        limit = max_bytes if max_bytes is not None else self.policy.max_bytes
        return _Exchange(method, url, accept, limit, conditional, ok_statuses)

    async def _run(self, ex: _Exchange, headers: Mapping[str, str], content: bytes | None) -> FetchResult:
        started = self._clock()
        outcome = "aborted"  # cancelled, or a bug below: still logged
        detail = ""
        try:
            request = httpx.Request(
                ex.method,
                self._check_url(ex),
                headers={
                    **headers,
                    "Accept": ", ".join(ex.accept),
                    "Accept-Encoding": _ACCEPT_ENCODING,
                    "User-Agent": _USER_AGENT,
                },
                content=content,
                # build_request would set this from the client; a bare Request must carry it.
                extensions={"timeout": self.policy.timeout.as_dict()},
            )
            result = await self._send(request, ex)
            outcome = "not-modified" if result.not_modified else "ok"
            return result
        except FetchError as exc:
            outcome, detail = f"refused: {exc.slug}", exc.detail
            raise
        finally:
            self._log(ex, outcome, detail, started)

    def _check_url(self, ex: _Exchange) -> httpx.URL:
        target = _parse_url(ex.url)
        _check_shape(target, ex.shown, self.policy.allow_http)
        bases = self._allowed() if callable(self._allowed) else self._allowed
        if not any(_is_under(target, base) for base in _parse_bases(bases)):
            raise UrlNotAllowedError(f"{ex.shown} is not under a registered federation URL")
        ex.origin = f"{target.scheme}://{target.netloc.decode('ascii')}"
        if not self.policy.allow_private:
            reason = _literal_host_refusal(target.raw_host.decode("ascii"))
            if reason is not None:
                raise PrivateAddressError(f"{target.host} is a {reason} address")
        return target

    async def _send(self, request: httpx.Request, ex: _Exchange) -> FetchResult:
        try:
            with anyio.fail_after(self.policy.deadline):
                response = await self._http.send(request, stream=True, follow_redirects=False)
                try:
                    return await self._read(response, ex)
                finally:
                    # Shielded so a deadline hit mid-body still closes the response.
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
        except TimeoutError:
            raise PeerTimeoutError(
                f"{ex.shown} gave no complete answer within {self.policy.deadline:g} s"
            ) from None
        except httpx.ConnectTimeout:
            raise PeerConnectTimeoutError(f"{ex.shown}: connect timed out") from None
        except httpx.TimeoutException as exc:
            phase = type(exc).__name__.removesuffix("Timeout").lower() or "request"
            raise PeerTimeoutError(f"{ex.shown}: {phase} timed out") from None
        except httpx.ConnectError as exc:
            raise PeerNotReachedError(f"{ex.shown}: {_transport_failure(exc)}") from None
        except httpx.HTTPError as exc:
            raise PeerTransportError(f"{ex.shown}: {_transport_failure(exc)}") from None

    async def _read(self, response: httpx.Response, ex: _Exchange) -> FetchResult:
        """Status, then headers, then the body: each refused as early as it can be."""
        status = ex.status = response.status_code
        if status == 304 and ex.conditional is not None:
            etag = response.headers.get("etag", ex.conditional)
            return FetchResult(ex.url, 304, None, None, etag, _max_age(response.headers))
        if 300 <= status < 400 and status != 304:
            location = response.headers.get("location", "")
            raise RedirectRefusedError(
                f"{ex.shown} answered {status} redirecting to {_shown(location) or '(no Location)'}; "
                "redirects are not followed",
                location=location,
            )
        if status not in ex.ok_statuses:
            raise BadStatusError(f"{ex.shown} answered {status}", response_status=status)
        media_type = _media_type(response)
        if media_type not in {a.lower() for a in ex.accept}:
            raise WrongMediaTypeError(
                f"{ex.shown} answered {_shown(media_type or '(no Content-Type)')}, "
                f"expected {' or '.join(ex.accept)}",
                media_type=media_type or "",
            )
        declared = response.headers.get("content-length")
        if declared is not None:
            length = _decimal(declared)
            if length is None:
                raise PeerTransportError(f"{ex.shown}: malformed Content-Length")
            if length > ex.limit:
                raise ResponseTooLargeError(
                    f"{ex.shown} declares {length} bytes, over the limit of {ex.limit}", limit=ex.limit
                )
        coding = _content_coding(response, ex.shown)
        if response.is_stream_consumed:
            body = _already_read(response, ex)
        else:
            body = await _read_bounded(response, coding, ex)
        etag = response.headers.get("etag")
        return FetchResult(ex.url, status, body, media_type, etag, _max_age(response.headers))

    def _log(self, ex: _Exchange, outcome: str, detail: str, started: float) -> None:
        elapsed_ms = (self._clock() - started) * 1000
        self.stats.record(ex.origin, outcome, ex.body_bytes)
        level = logging.INFO if outcome in ("ok", "not-modified") else logging.WARNING
        logger.log(
            level,
            "%s %s -> %s, %d bytes (%d on the wire), %.0f ms: %s%s",
            ex.method,
            ex.shown,
            ex.status if ex.status is not None else "-",
            ex.body_bytes,
            ex.wire_bytes,
            elapsed_ms,
            outcome,
            f" ({detail})" if detail else "",
            extra={
                "peer_url": ex.url,
                "peer_status": ex.status,
                "peer_bytes": ex.body_bytes,
                "peer_elapsed_ms": round(elapsed_ms, 1),
                "peer_outcome": outcome,
                "peer_detail": detail,
            },
        )


def _transport_failure(exc: BaseException) -> str:
    """What went wrong, safe to show: TLS verification's own words, or the error class
    (socket error texts can quote the addresses a name resolved to)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failure ({cause.reason})"
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__


async def _read_bounded(response: httpx.Response, coding: str, ex: _Exchange) -> bytes:
    """The body, read raw and decoded here: at most ``limit`` bytes on the wire, and never
    more than ``limit`` + 1 decoded bytes in memory (see _BoundedDecoder)."""
    decoder = _BoundedDecoder(coding, ex.limit, ex.shown)
    parts: list[bytes] = []
    async for chunk in response.aiter_raw():
        ex.wire_bytes += len(chunk)
        if ex.wire_bytes > ex.limit:
            raise ResponseTooLargeError(f"{ex.shown} sent more than {ex.limit} bytes", limit=ex.limit)
        parts.append(decoder.feed(chunk))
        ex.body_bytes += len(parts[-1])
    decoder.finish()
    return b"".join(parts)


def _already_read(response: httpx.Response, ex: _Exchange) -> bytes:
    """Only an in-process transport (``MockTransport`` given ``content=``) hands over a
    response httpx has already read and decoded; its size is all there is left to check."""
    body = response.content
    ex.wire_bytes = ex.body_bytes = len(body)
    if len(body) > ex.limit:
        raise ResponseTooLargeError(f"{ex.shown} sent more than {ex.limit} bytes", limit=ex.limit)
    return body


def _parse_bases(bases: Iterable[str]) -> Iterator[httpx.URL]:
    for base in bases:
        parsed = _parse_base(base)
        if parsed is not None:
            yield parsed


@lru_cache(maxsize=1024)
def _parse_base(base: str) -> httpx.URL | None:
    """A registered base URL, or ``None``: a malformed registration covers nothing."""
    try:
        parsed = httpx.URL(base)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    if parsed.query or parsed.fragment or parsed.userinfo or not parsed.raw_host:
        return None
    return parsed
