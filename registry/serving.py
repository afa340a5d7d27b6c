"""Listening sockets for ``registry serve --workers N``.

uvicorn's supervisor binds one socket and hands it to every worker process. The workers
then race to accept from it, and a burst of connections (a client pool opening its
keep-alive connections at once) is often accepted whole by the worker that woke first:
``ss -tnp`` showed all 16 of a load generator's connections held by one worker while the
other sat idle, so two workers served no more than one.

On Linux each worker instead binds a socket of its own to the same address with
``SO_REUSEPORT``, and the kernel spreads new connections over the workers' sockets by a
hash of the connection's addresses and ports (socket(7), ``SO_REUSEPORT``). The
supervisor hands each worker a :class:`WorkerSocket`, a recipe that becomes the socket
only when the worker process unpickles it: the supervisor holds no listening socket, so
a worker that dies takes its socket and its queue with it and the kernel stops routing
connections there, instead of queueing them on a socket nobody accepts from.

The kernel lets only sockets of the same user that all set ``SO_REUSEPORT`` share a port.
The supervisor first binds the address once without it (:func:`address_is_free`), so a
second node started by mistake on a port already served is refused instead of quietly
sharing its connections. Where ``SO_REUSEPORT`` is missing the shared socket is kept.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

STARTUP_FAILURE = 3  # uvicorn.config.STARTUP_FAILURE: the supervisor stops instead of restarting


def listening_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to (host, port), not yet listening (the server listens).

    Made here rather than by uvicorn's ``Config.bind_socket``, whose socket has protocol
    number 0: asyncio sets TCP_NODELAY only on connections accepted from a socket whose
    protocol is TCP, and without it every answer written in two parts waits ~40 ms for
    the client's delayed ACK (Nagle)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def reuse_port_spreads_connections() -> bool:
    """Whether this system balances connections over sockets sharing a port (Linux
    3.9 and later). Elsewhere (BSD, macOS) SO_REUSEPORT exists but the last socket bound
    takes every connection, which is no better than one shared socket."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def address_is_free(host: str, port: int) -> OSError | None:
    """None if nothing listens on (host, port), else the error binding it gave.

    Bound without SO_REUSEPORT, so it fails when any socket holds the address, including
    the SO_REUSEPORT sockets of another node's workers."""
    try:
        listening_socket(host, port).close()
    except OSError as error:
        return error
    return None


def _bind_in_worker(host: str, port: int) -> socket.socket:
    """Run in the worker process as it unpickles its :class:`WorkerSocket`."""
    try:
        return listening_socket(host, port, reuse_port=True)
    except OSError as error:
        print(f"registry: worker cannot bind {host}:{port}: {error}", file=sys.stderr)
        # Not a crash to be retried: the supervisor stops (see STARTUP_FAILURE).
        raise SystemExit(STARTUP_FAILURE) from None


class WorkerSocket:
    """A listening socket each worker process binds for itself when it starts.

    uvicorn's supervisor pickles the sockets it passes to a new worker; this one pickles
    as the call that binds a new ``SO_REUSEPORT`` socket in the worker. The supervisor
    never opens it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return _bind_in_worker, (self.host, self.port)

    def __repr__(self) -> str:
        return f"WorkerSocket({self.host!r}, {self.port})"


def worker_sockets(host: str, port: int) -> list[Any]:
    """What the supervisor hands each worker: a socket per worker where the kernel spreads
    connections over them, else one socket they all share. Raises the bind's OSError when
    the address is taken."""
    if port == 0 or not reuse_port_spreads_connections():  # port 0: one port chosen for all
        return [listening_socket(host, port)]
    taken = address_is_free(host, port)
    if taken is not None:
        raise taken
    return [WorkerSocket(host, port)]
