"""The peer client (registry.federation.client): every way a peer, a DNS answer or a caller's
URL can go wrong is refused, with the network replaced by httpx.MockTransport, a fake
resolver under the real transport, or one real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import logging
import re
import socket
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpcore
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.errors import RegistryError
from registry.federation import client as client_module
from registry.federation.client import (
    ENTITY_STATEMENT,
    JSON,
    STATUS_LIST_MEDIA_TYPES,
    VC_JWT,
    BadStatusError,
    ContentEncodingError,
    FetchResult,
    OutboundPolicy,
    PeerClient,
    PeerTimeoutError,
    PeerTransportError,
    PrivateAddressError,
    RedirectRefusedError,
    ResponseTooLargeError,
    UrlNotAllowedError,
    WrongMediaTypeError,
    address_refusal,
    make_http_client,
)
from registry.federation.errors import FederationError, FetchError
from tests.loopback import serve_in_thread

T = TypeVar("T")

JS = "https://js.example"  # a member's entity identifier
CONFIG_URL = f"{JS}/.well-known/openid-federation"
MiB = 1024 * 1024


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Recorder:
    """A MockTransport handler that records requests and answers with ``respond``."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]):
        self.requests: list[httpx.Request] = []
        self._respond = respond

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self._respond(request)
        return await answer if isinstance(answer, Awaitable) else answer


class Chunks(httpx.AsyncByteStream):
    """A streamed body (httpx does not read it ahead, unlike ``content=``); counts what
    the client pulled, and can pause between chunks."""

    def __init__(self, chunks: Iterable[bytes], pause: float = 0.0) -> None:
        self._chunks = chunks
        self._pause = pause
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            if self._pause:
                await asyncio.sleep(self._pause)
            self.pulled += 1
            yield chunk


class Untouchable(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        raise AssertionError("the body was read")
        yield b""  # pragma: no cover


def statement(body: bytes = b"eyJ.e30.sig", /, **headers: str) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": ENTITY_STATEMENT, **headers}, content=body)


def peer(
    handler: Recorder,
    allowed: Iterable[str] | Callable[[], Iterable[str]] = (JS,),
    **policy: Any,
) -> PeerClient:
    allowed_bases = allowed if callable(allowed) else set(allowed)
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return PeerClient(allowed_bases, policy=OutboundPolicy(**policy), http=http)


def fetch(client: PeerClient, url: str = CONFIG_URL, **kwargs: Any) -> FetchResult:
    kwargs.setdefault("accept", [ENTITY_STATEMENT])
    return run(client.fetch(url, **kwargs))


def bomb(coding: str, size: int = 10 * MiB) -> bytes:
    """``size`` zero bytes compressed (about 1,000:1), made without holding them all."""
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}[coding]
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(MiB)
    parts = [compressor.compress(block) for _ in range(size // MiB)]
    return b"".join([*parts, compressor.flush()])


# --- the happy path ---------------------------------------------------------------------------


def test_a_registered_url_is_fetched() -> None:
    handler = Recorder(lambda r: statement(b"jwt", etag='"v1"', **{"cache-control": "max-age=300"}))
    result = fetch(peer(handler))
    assert result == FetchResult(CONFIG_URL, 200, b"jwt", ENTITY_STATEMENT, '"v1"', 300)
    assert not result.not_modified
    sent = handler.requests[0]
    assert sent.headers["accept"] == ENTITY_STATEMENT
    assert sent.headers["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in sent.headers


def test_post_sends_the_body_and_accepts_201() -> None:
    handler = Recorder(lambda r: httpx.Response(201, headers={"content-type": JSON}, content=r.content))
    client = peer(handler)
    result = run(
        client.post(
            f"{JS}/federation/lookup", content=b"eyJ.req.sig", content_type="application/jwt", accept=[JSON]
        )
    )
    assert (result.status, result.body) == (201, b"eyJ.req.sig")
    assert handler.requests[0].headers["content-type"] == "application/jwt"


TEXT = b"status list " * 1000
_RAW = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)),
        ("deflate", _RAW.compress(TEXT) + _RAW.flush()),  # what some servers send as "deflate"
        ("identity", TEXT),
    ],
    ids=["gzip", "deflate", "raw-deflate", "identity"],
)
def test_bodies_under_the_cap_are_decoded(coding: str, body: bytes) -> None:
    headers = {"content-type": VC_JWT, "content-encoding": coding}
    handler = Recorder(lambda r: httpx.Response(200, headers=headers, stream=Chunks([body[:7], body[7:]])))
    result = fetch(peer(handler), f"{JS}/status/revocation/1", accept=STATUS_LIST_MEDIA_TYPES)
    assert result.body == TEXT


# --- the allow-list and the URL's shape --------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/.well-known/openid-federation",
        "https://js.example.evil.example/x",
        "https://js.example:8443/x",  # another port
        "http://js.example/x",  # another scheme
        "https://zj.example/js/x",
        "ftp://js.example/x",
        "not a url",
        "",
    ],
)
def test_urls_outside_the_allow_list_are_refused_before_any_request(url: str) -> None:
    handler = Recorder(lambda r: statement())
    with pytest.raises(UrlNotAllowedError):
        fetch(peer(handler), url)
    assert handler.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "https://js.example/nodes/jsx/x",  # a sibling path, not below /nodes/js
        "https://js.example/nodes/js/../admin",
        "https://js.example/nodes/js/%2e%2e/admin",
        "https://js.example/nodes/js/%2E%2e%2fadmin",
        "https://js.example/nodes/js%2f..%2fadmin",
        "https://js.example/nodes/js/a\\..\\b",
        "https://user:pw@js.example/nodes/js/x",
        "https://js.example/nodes/js/x#fragment",
    ],
)
def test_paths_and_url_tricks_cannot_leave_a_registered_base_path(url: str) -> None:
    handler = Recorder(lambda r: statement())
    with pytest.raises(UrlNotAllowedError):
        fetch(peer(handler, allowed=["https://js.example/nodes/js"]), url)
    assert handler.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "https://js.example/nodes/js",
        "https://js.example/nodes/js/",
        "https://js.example/nodes/js/.well-known/openid-federation",
        "https://JS.example:443/nodes/js/fetch?sub=https%3A%2F%2Fah.example",
    ],
)
def test_urls_at_or_below_a_registered_base_are_allowed(url: str) -> None:
    handler = Recorder(lambda r: statement())
    fetch(peer(handler, allowed=["https://js.example/nodes/js/"]), url)
    assert len(handler.requests) == 1


def test_the_allow_list_is_read_on_every_request() -> None:
    members: set[str] = set()
    handler = Recorder(lambda r: statement())
    client = peer(handler, allowed=lambda: members)
    with pytest.raises(UrlNotAllowedError):
        fetch(client)
    members.add(JS)  # the anchor admits Jiangsu
    fetch(client)
    members.clear()  # …and removes it
    with pytest.raises(UrlNotAllowedError):
        fetch(client)
    assert len(handler.requests) == 1


def test_malformed_registrations_cover_nothing() -> None:
    handler = Recorder(lambda r: statement())
    allowed = ["https://js.example/?q=1", "https://user@js.example", "https://", "::"]
    with pytest.raises(UrlNotAllowedError):
        fetch(peer(handler, allowed=allowed))


def test_http_only_with_allow_http() -> None:
    handler = Recorder(lambda r: statement())
    with pytest.raises(UrlNotAllowedError, match="https"):
        fetch(peer(handler, allowed=["http://js.example"]), "http://js.example/x")
    fetch(peer(handler, allowed=["http://js.example"], allow_http=True), "http://js.example/x")
    assert len(handler.requests) == 1


# --- private addresses written in the URL ----------------------------------------------------


NON_PUBLIC_HOSTS = [
    "127.0.0.1",
    "127.9.9.9",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",  # noqa: S104
    "224.0.0.1",
    "255.255.255.255",
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[fec0::1]",
    "[ff02::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
    "[::ffff:10.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
    "[2002:a00:1::1]",  # 6to4 of 10.0.0.1
    "localhost",
    "node.localhost",
    "127.1",  # read as 127.0.0.1 by C resolvers
    "2130706433",
    "0x7f.1",
]


@pytest.mark.parametrize("host", NON_PUBLIC_HOSTS)
def test_non_public_hosts_are_refused_unless_allow_private(host: str) -> None:
    base = f"https://{host}:8443"
    handler = Recorder(lambda r: statement())
    with pytest.raises(PrivateAddressError) as refused:
        fetch(peer(handler, allowed=[base]), f"{base}/x")
    assert handler.requests == []
    assert refused.value.slug == "peer-address-not-allowed"
    fetch(peer(handler, allowed=[base], allow_private=True), f"{base}/x")
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_acceptable(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("::ffff:169.254.1.1", "link-local"),
        ("10.0.0.1", "private"),
        ("fd12::1", "private"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("::", "unspecified"),
        ("240.0.0.1", "private|reserved"),
        ("::7f00:1", "reserved"),  # IPv4-compatible (deprecated) form
        ("100.64.0.1", "non-public"),
        ("fec0::1", "site-local|private"),  # Python versions differ on is_private here
    ],
)
def test_address_refusal_names_the_kind(address: str, reason: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) in reason.split("|")


# --- redirects, statuses, media types ----------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(status: int) -> None:
    handler = Recorder(lambda r: httpx.Response(status, headers={"location": "http://169.254.169.254/"}))
    with pytest.raises(RedirectRefusedError, match=re.escape("169.254.169.254")) as refused:
        fetch(peer(handler))
    assert refused.value.location == "http://169.254.169.254/"
    assert len(handler.requests) == 1


def test_a_redirecting_client_is_not_followed_either() -> None:
    handler = Recorder(lambda r: httpx.Response(302, headers={"location": f"{JS}/elsewhere"}))
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True)
    with pytest.raises(RedirectRefusedError):
        run(PeerClient({JS}, http=http).fetch(CONFIG_URL, accept=[ENTITY_STATEMENT]))
    assert len(handler.requests) == 1


@pytest.mark.parametrize("status", [500, 503, 404, 204, 206])
def test_other_statuses_are_errors(status: int) -> None:
    handler = Recorder(lambda r: httpx.Response(status, headers={"content-type": ENTITY_STATEMENT}))
    with pytest.raises(BadStatusError, match=str(status)) as refused:
        fetch(peer(handler))
    assert refused.value.response_status == status


def test_304_without_a_conditional_request_is_an_error() -> None:
    handler = Recorder(lambda r: httpx.Response(304))
    with pytest.raises(BadStatusError):
        fetch(peer(handler))


@pytest.mark.parametrize("content_type", ["text/html", "application/json", "application/jwt", None])
def test_an_unexpected_media_type_is_refused_before_the_body_is_read(content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    handler = Recorder(lambda r: httpx.Response(200, headers=headers, stream=Untouchable()))
    with pytest.raises(WrongMediaTypeError):
        fetch(peer(handler))


def test_media_type_parameters_and_case_are_ignored() -> None:
    handler = Recorder(lambda r: statement(**{"content-type": "Application/Entity-Statement+JWT; charset=x"}))
    assert fetch(peer(handler)).media_type == ENTITY_STATEMENT


# --- conditional requests and caching headers --------------------------------------------------


def test_etag_round_trip_gives_not_modified() -> None:
    current = '"list-v7"'

    def respond(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == current:
            return httpx.Response(304, headers={"cache-control": "max-age=120", "age": "20"})
        return httpx.Response(
            200,
            headers={"content-type": VC_JWT, "etag": current, "cache-control": "public, max-age=600"},
            content=b"eyJ.list.sig",
        )

    handler = Recorder(respond)
    client = peer(handler)
    url = f"{JS}/status/revocation/1"
    first = fetch(client, url, accept=STATUS_LIST_MEDIA_TYPES)
    assert (first.body, first.etag, first.max_age) == (b"eyJ.list.sig", current, 600)
    again = fetch(client, url, accept=STATUS_LIST_MEDIA_TYPES, etag=first.etag)
    assert again.not_modified
    assert (again.status, again.body, again.etag, again.max_age) == (304, None, current, 100)
    assert handler.requests[1].headers["if-none-match"] == current
    changed = fetch(client, url, accept=STATUS_LIST_MEDIA_TYPES, etag='"list-v6"')
    assert changed.body == b"eyJ.list.sig"
    assert client.stats.outcomes == {"ok": 2, "not-modified": 1}


@pytest.mark.parametrize(
    ("cache_control", "max_age"),
    [
        (None, None),
        ("max-age=²", 0),  # a Unicode digit: not a delta-seconds
        ("max-age=60", 60),
        ('max-age="60"', 60),
        ("no-cache, max-age=60", 0),
        ("no-store", 0),
        ("max-age=60, max-age=90", 0),
        ("max-age=-1", 0),
        ("max-age=soon", 0),
        ("private", None),
    ],
)
def test_cache_control_max_age(cache_control: str | None, max_age: int | None) -> None:
    # Header values as bytes: what a peer sends, "²" included (httpx reads it as Latin-1).
    headers = [(b"content-type", ENTITY_STATEMENT.encode())]
    if cache_control is not None:
        headers.append((b"cache-control", cache_control.encode("latin-1")))
    handler = Recorder(lambda r: httpx.Response(200, headers=headers, content=b"jwt"))
    assert fetch(peer(handler)).max_age == max_age


def test_an_etag_with_a_line_break_is_refused() -> None:
    handler = Recorder(lambda r: statement())
    with pytest.raises(ValueError, match="etag"):
        fetch(peer(handler), etag='"v1"\r\nX-Injected: 1')


# --- size caps ---------------------------------------------------------------------------------


def test_an_oversized_content_length_is_refused_before_reading() -> None:
    handler = Recorder(
        lambda r: httpx.Response(
            200,
            headers={"content-type": ENTITY_STATEMENT, "content-length": str(5 * MiB)},
            stream=Untouchable(),
        )
    )
    with pytest.raises(ResponseTooLargeError, match="declares") as refused:
        fetch(peer(handler, max_bytes=MiB))
    assert refused.value.limit == MiB


@pytest.mark.parametrize("length", ["-1", "1e6", "²", "12, 12"])
def test_a_malformed_content_length_is_refused(length: str) -> None:
    handler = Recorder(
        lambda r: httpx.Response(
            200,
            headers=[
                (b"content-type", ENTITY_STATEMENT.encode()),
                (b"content-length", length.encode("latin-1")),
            ],
            stream=Untouchable(),
        )
    )
    with pytest.raises(PeerTransportError, match="Content-Length"):
        fetch(peer(handler))


def test_an_oversized_chunked_body_stops_being_read_past_the_cap() -> None:
    endless = Chunks(bytes(64 * 1024) for _ in range(10_000))  # 625 MiB if read to the end
    handler = Recorder(
        lambda r: httpx.Response(200, headers={"content-type": ENTITY_STATEMENT}, stream=endless)
    )
    with pytest.raises(ResponseTooLargeError, match="more than"):
        fetch(peer(handler, max_bytes=MiB))
    assert endless.pulled == 17  # 16 chunks fill 1 MiB; the 17th goes over


def test_a_lying_content_length_does_not_lift_the_cap() -> None:
    body = Chunks([bytes(512 * 1024)] * 4)
    handler = Recorder(
        lambda r: httpx.Response(
            200, headers={"content-type": ENTITY_STATEMENT, "content-length": "10"}, stream=body
        )
    )
    with pytest.raises(ResponseTooLargeError):
        fetch(peer(handler, max_bytes=MiB))
    assert body.pulled == 3


def test_a_per_fetch_cap_overrides_the_policy() -> None:
    handler = Recorder(lambda r: statement(bytes(2000)))
    with pytest.raises(ResponseTooLargeError):
        fetch(peer(handler), max_bytes=1000)
    assert fetch(peer(handler), max_bytes=2000).body == bytes(2000)


def test_a_body_already_read_by_a_mock_transport_is_still_capped() -> None:
    handler = Recorder(lambda r: statement(bytes(3000)))  # content= : httpx reads it ahead
    with pytest.raises(ResponseTooLargeError):
        fetch(peer(handler, max_bytes=1000))


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
def test_a_compression_bomb_is_refused_without_inflating_past_the_cap(coding: str) -> None:
    body = bomb(coding)  # 10 MiB of zeros in about 10 KB
    assert len(body) < 20_000
    header = "deflate" if coding == "raw-deflate" else coding
    small = bomb(coding, MiB)
    handler = Recorder(
        lambda r: httpx.Response(
            200,
            headers={"content-type": ENTITY_STATEMENT, "content-encoding": header},
            stream=Chunks([small]),
        )
    )
    # Warm-up (first-use allocations out of the way): exactly the cap decodes and is kept.
    assert fetch(peer(handler, max_bytes=MiB)).body == bytes(MiB)
    handler = Recorder(
        lambda r: httpx.Response(
            200, headers={"content-type": ENTITY_STATEMENT, "content-encoding": header}, stream=Chunks([body])
        )
    )
    client = peer(handler, max_bytes=MiB)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError, match="decodes to more than 1048576 bytes"):
            fetch(client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Inflating the whole bomb would hold 10 MiB (twice that while joining); a bounded
    # inflate holds the cap plus zlib's output buffer.
    assert peak < 4 * MiB, f"peak {peak} bytes"


def test_a_bomb_of_many_small_chunks_is_also_bounded() -> None:
    body = bomb("gzip")
    chunks = Chunks(body[i : i + 100] for i in range(0, len(body), 100))
    handler = Recorder(
        lambda r: httpx.Response(
            200, headers={"content-type": ENTITY_STATEMENT, "content-encoding": "gzip"}, stream=chunks
        )
    )
    with pytest.raises(ResponseTooLargeError):
        fetch(peer(handler, max_bytes=MiB))
    assert chunks.pulled < len(body) // 100


@pytest.mark.parametrize(
    ("coding", "body", "message"),
    [
        ("br", b"\x0b\x02\x80hello\x03", "br is not accepted"),
        ("zstd", b"(\xb5/\xfd", "zstd is not accepted"),
        ("gzip, gzip", gzip.compress(gzip.compress(b"x")), "stacked"),
        ("gzip", gzip.compress(b"x" * 100)[:-8], "truncated"),
        ("gzip", gzip.compress(b"x") + b"trailing", "after the end"),
        ("gzip", b"not gzip at all", "corrupt"),
        ("deflate", b"\xff\xff not deflate either", "corrupt"),
    ],
)
def test_unacceptable_or_broken_content_codings(coding: str, body: bytes, message: str) -> None:
    handler = Recorder(
        lambda r: httpx.Response(
            200, headers={"content-type": ENTITY_STATEMENT, "content-encoding": coding}, stream=Chunks([body])
        )
    )
    with pytest.raises(ContentEncodingError, match=message):
        fetch(peer(handler))


# --- time limits and transport failures --------------------------------------------------------


@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")]
)
def test_transport_timeouts(exc: httpx.TimeoutException) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(PeerTimeoutError, match="timed out"):
        fetch(peer(Recorder(respond)))


def test_a_peer_slower_than_the_deadline() -> None:
    async def respond(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return statement()

    started = time.monotonic()
    with pytest.raises(PeerTimeoutError, match=re.escape("0.2 s")):
        fetch(peer(Recorder(respond), deadline=0.2))
    assert time.monotonic() - started < 2


def test_a_trickling_body_hits_the_deadline() -> None:
    trickle = Chunks((b"x" for _ in range(1000)), pause=0.05)  # never a read timeout, 50 s in all
    handler = Recorder(
        lambda r: httpx.Response(200, headers={"content-type": ENTITY_STATEMENT}, stream=trickle)
    )
    with pytest.raises(PeerTimeoutError):
        fetch(peer(handler, deadline=0.3))
    assert 2 <= trickle.pulled < 20


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("[Errno 111] Connect call failed ('10.9.8.7', 443)"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("reset"),
    ],
)
def test_transport_errors_say_what_failed_but_not_where(exc: httpx.TransportError) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(PeerTransportError) as refused:
        fetch(peer(Recorder(respond)))
    assert type(exc).__name__ in refused.value.detail
    assert "10.9.8.7" not in refused.value.detail


# --- logging and stats -------------------------------------------------------------------------


def test_every_fetch_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    handler = Recorder(
        lambda r: statement(b"abc") if r.url.path.endswith("federation") else httpx.Response(500)
    )
    client = peer(handler)
    with caplog.at_level(logging.INFO, logger="registry.federation.client"):
        fetch(client)
        with pytest.raises(BadStatusError):
            fetch(client, f"{JS}/broken")
        with pytest.raises(UrlNotAllowedError):
            fetch(client, "https://evil.example/x")
    records = [r for r in caplog.records if r.name == "registry.federation.client"]
    assert [r.peer_outcome for r in records] == [  # type: ignore[attr-defined]
        "ok",
        "refused: peer-bad-status",
        "refused: peer-url-not-allowed",
    ]
    ok, bad, refused = records
    assert ok.levelno == logging.INFO
    assert bad.levelno == logging.WARNING
    assert "https://js.example/.well-known/openid-federation -> 200, 3 bytes" in ok.getMessage()
    assert ok.getMessage().endswith(": ok")
    assert (bad.peer_status, refused.peer_status) == (500, None)  # type: ignore[attr-defined]
    assert bad.getMessage().endswith(": refused: peer-bad-status (https://js.example/broken answered 500)")
    assert isinstance(ok.peer_elapsed_ms, float)  # type: ignore[attr-defined]
    assert client.stats.snapshot() == {
        "outcomes": {"ok": 1, "refused: peer-bad-status": 1, "refused: peer-url-not-allowed": 1},
        "bytes_received": 3,
        "by_origin": {JS: {"ok": 1, "refused: peer-bad-status": 1}},
    }


def test_the_clock_is_injected(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter([100.0, 100.25])
    http = httpx.AsyncClient(transport=httpx.MockTransport(Recorder(lambda r: statement())))
    client = PeerClient({JS}, http=http, clock=lambda: next(ticks))
    seen: list[float] = []
    monkeypatch.setattr(
        client_module.logger, "log", lambda *args, **kwargs: seen.append(kwargs["extra"]["peer_elapsed_ms"])
    )
    fetch(client)
    assert seen == [250.0]


# --- errors ------------------------------------------------------------------------------------

CLIENT_ERRORS = [
    UrlNotAllowedError,
    PrivateAddressError,
    RedirectRefusedError,
    ResponseTooLargeError,
    PeerTimeoutError,
    BadStatusError,
    WrongMediaTypeError,
    PeerTransportError,
    ContentEncodingError,
]


def test_client_errors_are_fetch_errors_with_unique_slugs() -> None:
    def subclasses(cls: type[RegistryError]) -> list[type[RegistryError]]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    every_slug = [e.slug for e in subclasses(RegistryError)]
    for error in CLIENT_ERRORS:
        assert issubclass(error, FetchError)
        assert issubclass(error, FederationError)
        assert error.slug.startswith("peer-")
        assert every_slug.count(error.slug) == 1
        assert 400 <= error.status < 600
        assert error.__name__ in (client_module.__doc__ or "")


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        OutboundPolicy(deadline=0)
    with pytest.raises(ValueError, match="positive"):
        OutboundPolicy(max_bytes=0)
    with pytest.raises(ValueError, match="accept"):
        fetch(peer(Recorder(lambda r: statement())), accept=[])


# --- the real transport: names are resolved once, checked, and connected to as addresses --------

HTTP_200 = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/entity-statement+jwt\r\nContent-Length: 3\r\n\r\njwt"
)


class FakeDns:
    """A resolver with fixed answers; ``answers`` may change between calls (rebinding)."""

    def __init__(self, *answers: list[str]) -> None:
        self._answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self._answers[min(len(self.calls), len(self._answers)) - 1]


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the sockets: records where it was asked to connect, and answers with
    a canned HTTP response (or refuses the addresses in ``unreachable``)."""

    def __init__(self, unreachable: Iterable[str] = ()) -> None:
        self.connected: list[tuple[str, int]] = []
        self.unreachable = set(unreachable)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected.append((host, port))
        if host in self.unreachable:
            raise httpcore.ConnectError("refused")
        return httpcore.AsyncMockStream([HTTP_200])

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def guarded_peer(dns: FakeDns, backend: RecordingBackend, base: str, **policy: Any) -> PeerClient:
    outbound = OutboundPolicy(allow_http=True, **policy)
    http = make_http_client(outbound, resolver=dns, network_backend=backend)
    return PeerClient({base}, policy=outbound, http=http)


def test_a_name_is_resolved_once_and_its_checked_address_is_what_is_connected_to() -> None:
    dns = FakeDns(["8.8.4.4"])
    backend = RecordingBackend()
    client = guarded_peer(dns, backend, "http://js.example:8080")
    result = fetch(client, "http://js.example:8080/.well-known/openid-federation")
    assert result.body == b"jwt"
    assert dns.calls == [("js.example", 8080)]
    assert backend.connected == [("8.8.4.4", 8080)]


def test_dns_rebinding_between_check_and_connect_is_impossible() -> None:
    # First answer public, every later one loopback: a resolver that the connection asked
    # again would now reach 127.0.0.1. The connection uses the checked answer.
    dns = FakeDns(["8.8.4.4"], ["127.0.0.1"])
    backend = RecordingBackend()
    client = guarded_peer(dns, backend, "http://js.example")
    fetch(client, "http://js.example/a")
    assert backend.connected == [("8.8.4.4", 80)]
    assert len(dns.calls) == 1
    # A new connection (the first was closed) resolves afresh, and is checked afresh.
    run(client._http.aclose())
    client = guarded_peer(dns, backend, "http://js.example")
    with pytest.raises(PrivateAddressError, match=re.escape("js.example resolves to a loopback address")):
        fetch(client, "http://js.example/a")
    assert backend.connected == [("8.8.4.4", 80)]


@pytest.mark.parametrize(
    "answer",
    [["10.0.0.7"], ["169.254.169.254"], ["::ffff:127.0.0.1"], ["fe80::1"], ["8.8.4.4", "192.168.0.1"]],
)
def test_a_name_resolving_to_any_private_address_is_refused_before_connecting(answer: list[str]) -> None:
    dns = FakeDns(answer)
    backend = RecordingBackend()
    with pytest.raises(PrivateAddressError) as refused:
        fetch(guarded_peer(dns, backend, "http://js.example"), "http://js.example/x")
    assert backend.connected == []
    # The message names the host the caller gave, not the address DNS gave.
    assert "js.example resolves to a" in refused.value.detail
    assert not any(address in refused.value.detail for address in answer)


def test_allow_private_connects_to_a_private_answer() -> None:
    dns = FakeDns(["10.0.0.7"])
    backend = RecordingBackend()
    fetch(guarded_peer(dns, backend, "http://js.example", allow_private=True), "http://js.example/x")
    assert backend.connected == [("10.0.0.7", 80)]


def test_the_next_checked_address_is_tried_when_one_does_not_answer() -> None:
    dns = FakeDns(["2001:4860:4860::8844", "8.8.4.4"])
    backend = RecordingBackend(unreachable={"2001:4860:4860::8844"})
    fetch(guarded_peer(dns, backend, "http://js.example"), "http://js.example/x")
    assert backend.connected == [("2001:4860:4860::8844", 80), ("8.8.4.4", 80)]


def test_unresolvable_and_unreachable_names_are_transport_errors() -> None:
    class NoSuchName(FakeDns):
        async def __call__(self, host: str, port: int) -> list[str]:
            raise socket.gaierror(-2, "Name or service not known")

    with pytest.raises(PeerTransportError, match="ConnectError"):
        fetch(guarded_peer(NoSuchName(), RecordingBackend(), "http://js.example"), "http://js.example/x")
    with pytest.raises(PeerTransportError, match="ConnectError"):
        fetch(guarded_peer(FakeDns([]), RecordingBackend(), "http://js.example"), "http://js.example/x")
    backend = RecordingBackend(unreachable={"8.8.4.4"})
    with pytest.raises(PeerTransportError, match="ConnectError"):
        fetch(guarded_peer(FakeDns(["8.8.4.4"]), backend, "http://js.example"), "http://js.example/x")


def test_slow_resolution_counts_against_the_connect_timeout() -> None:
    class SlowDns(FakeDns):
        async def __call__(self, host: str, port: int) -> list[str]:
            await asyncio.sleep(5)
            return ["8.8.4.4"]

    with pytest.raises(PeerTimeoutError, match="connect timed out"):
        fetch(
            guarded_peer(SlowDns(), RecordingBackend(), "http://js.example", connect_timeout=0.1),
            "http://js.example/x",
        )


# --- one real server on 127.0.0.1 --------------------------------------------------------------


@contextmanager
def serve(app: Starlette) -> Iterator[int]:
    """Runs ``app`` with uvicorn in a thread on a free loopback port; yields the port."""
    with serve_in_thread(app) as port:
        yield port


@pytest.fixture(scope="module")
def loopback_peer() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []

    async def configuration(request: Request) -> Response:
        seen.append(request.url.path)
        return Response(b"eyJ.e30.sig", media_type=ENTITY_STATEMENT, headers={"etag": '"c1"'})

    async def gzip_bomb(request: Request) -> Response:
        seen.append(request.url.path)
        headers = {"content-encoding": "gzip"}
        return Response(bomb("gzip"), media_type=ENTITY_STATEMENT, headers=headers)

    app = Starlette(
        routes=[Route("/.well-known/openid-federation", configuration), Route("/bomb", gzip_bomb)]
    )
    with serve(app) as port:
        yield port, seen


def test_a_real_loopback_fetch_needs_allow_private(loopback_peer: tuple[int, list[str]]) -> None:
    port, seen = loopback_peer
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/.well-known/openid-federation"

    async def scenario() -> None:
        async with PeerClient({base}, policy=OutboundPolicy(allow_http=True)) as refusing:
            with pytest.raises(PrivateAddressError, match=re.escape("127.0.0.1 is a loopback address")):
                await refusing.fetch(url, accept=[ENTITY_STATEMENT])
        assert seen == []
        policy = OutboundPolicy(allow_http=True, allow_private=True)
        async with PeerClient({base}, policy=policy) as local:
            result = await local.fetch(url, accept=[ENTITY_STATEMENT])
            assert (result.status, result.body, result.etag) == (200, b"eyJ.e30.sig", '"c1"')
            with pytest.raises(ResponseTooLargeError, match="decodes to more than"):
                await local.fetch(f"{base}/bomb", accept=[ENTITY_STATEMENT])

    seen.clear()
    run(scenario())
    assert seen == ["/.well-known/openid-federation", "/bomb"]


def test_a_real_connection_goes_to_the_checked_address_not_the_name(
    loopback_peer: tuple[int, list[str]],
) -> None:
    # "jiangsu.test" cannot resolve here (.test is reserved, and there is no DNS): the
    # fetch works only because the connection is made to the address the fake resolver gave.
    port, seen = loopback_peer
    base = f"http://jiangsu.test:{port}"
    url = f"{base}/.well-known/openid-federation"

    async def scenario() -> None:
        dns = FakeDns(["127.0.0.1"])
        policy = OutboundPolicy(allow_http=True)
        async with make_http_client(policy, resolver=dns) as http:
            with pytest.raises(
                PrivateAddressError, match=re.escape("jiangsu.test resolves to a loopback address")
            ):
                await PeerClient({base}, policy=policy, http=http).fetch(url, accept=[ENTITY_STATEMENT])
        assert seen == []
        policy = OutboundPolicy(allow_http=True, allow_private=True)
        async with make_http_client(policy, resolver=dns) as http:
            result = await PeerClient({base}, policy=policy, http=http).fetch(url, accept=[ENTITY_STATEMENT])
        assert result.body == b"eyJ.e30.sig"
        assert dns.calls == [("jiangsu.test", port), ("jiangsu.test", port)]

    seen.clear()
    run(scenario())
    assert seen == ["/.well-known/openid-federation"]


def test_the_default_resolver_reads_the_system() -> None:
    answers = run(client_module.system_resolver("localhost", 80))
    assert answers
    assert all(ipaddress.ip_address(a).is_loopback for a in answers)
    assert run(client_module.system_resolver("127.0.0.1", 80)) == ["127.0.0.1"]


def test_a_node_closes_the_peer_client_it_made_when_it_stops(tmp_path: Any) -> None:
    """The node's own HTTP client (made with its CA file) belongs to its peer client and
    is closed when the node stops; before, its connections to peers were left open."""
    from fastapi.testclient import TestClient

    from registry.app import create_app
    from registry.database import Database
    from registry.verifier import Verifier
    from tests.conftest import CHEAP_PASSWORDS, MutableClock
    from tests.federation_apps import federation_settings

    settings = federation_settings(
        tmp_path,
        "https://127.0.0.1:8032",
        "32",
        trust_anchor="https://127.0.0.1:8100",
        trust_anchor_jwks='{"keys": []}',
    )
    app = create_app(
        settings,
        MutableClock(),
        database=Database.from_url(settings.resolved_database_url),
        passwords=CHEAP_PASSWORDS,
        verifier=Verifier(workers=1),
    )
    directory = app.state.node.directory
    with TestClient(app):
        assert not directory.client._http.is_closed
    assert directory.client._http.is_closed


@pytest.mark.parametrize(
    ("exc", "never_sent"),
    [
        (httpx.ConnectError("[Errno 111] Connect call failed"), True),
        (httpx.ConnectTimeout("connect"), True),
        (httpx.ReadTimeout("read"), False),
        (httpx.ReadError("reset"), False),
    ],
)
def test_a_request_that_was_never_sent_is_told_apart(exc: httpx.TransportError, never_sent: bool) -> None:
    """A node that forwards a request keeps what it sent unless it knows the request
    never left (no connection): after a read failure the other end may have acted."""
    from registry.federation.client import PeerNotReachedError

    def respond(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(FetchError) as failed:
        fetch(peer(Recorder(respond)))
    assert isinstance(failed.value, PeerNotReachedError) is never_sent
