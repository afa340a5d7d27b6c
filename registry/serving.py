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

The kernel lets only sockets of the same user that all set ``SO_REUSEPORT`` share a port,
so a second node started by mistake on the same port (by the same user) would quietly
share the first one's connections: each would answer with its own database and keys.
The supervisor therefore holds an exclusive lock on the port (:func:`port_lock`, a file
lock released when it exits, however it exits) for as long as it serves, and binds the
address once without ``SO_REUSEPORT`` first (:func:`address_is_free`: taken by anything
else). Where ``SO_REUSEPORT`` is missing the shared socket is kept.

A worker that stops takes the connections queued on its socket with it (reset), unless
the kernel moves them to the other workers: Linux 5.14 and later do with
``sysctl net.ipv4.tcp_migrate_req=1``, which an operator sets on the host (README).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

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


def _lock_folder() -> Path:
    """This user's own folder for the port locks (XDG_RUNTIME_DIR, else the temporary
    folder): made private, and refused if someone else owns it."""
    folder = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"registry-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid():
        raise OSError(errno.EPERM, f"{folder} belongs to another user")
    return folder


@contextlib.contextmanager
def port_lock(port: int) -> Iterator[None]:
    """Held while a node's workers serve ``port``: a second node of this user on the same
    port (any address) fails to take it and is refused (OSError EADDRINUSE)."""
    path = _lock_folder() / f"port-{port}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OSError(errno.EADDRINUSE, f"another registry node serves port {port} ({path})") from None
        yield
    finally:
        os.close(fd)  # the lock goes with the descriptor


def run_workers(config: uvicorn.Config, host: str, port: int) -> int:
    """Serve ``config`` with ``config.workers`` worker processes under uvicorn's
    supervisor until it is stopped, the port locked while it serves. Returns the exit
    status: :data:`STARTUP_FAILURE` when a worker could not start (its address taken, the
    app failing at start-up), which stops the supervisor; else 0. Raises OSError before
    serving when the address is taken."""
    from uvicorn.supervisors import Multiprocess

    with contextlib.ExitStack() as stack:
        if port != 0 and reuse_port_spreads_connections():
            stack.enter_context(port_lock(port))
        supervisor = Multiprocess(config, sockets=worker_sockets(host, port))
        with contextlib.suppress(KeyboardInterrupt):
            supervisor.run()
    failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
    return STARTUP_FAILURE if failed else 0
