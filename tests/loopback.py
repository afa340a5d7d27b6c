"""A uvicorn server in a thread on a free loopback port, for tests that need a real
socket (TLS, the peer client's address guard)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def bound_socket() -> socket.socket:
    """A socket bound to a free loopback port (its port is known before the app that
    will serve on it is made: a federation member's entity identifier names it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_in_thread(app: Any, sock: socket.socket | None = None, **config: Any) -> Iterator[int]:
    """Runs ``app`` until the block ends (on ``sock``, else a free loopback port);
    yields the port. ``config`` goes to ``uvicorn.Config`` (e.g. ``ssl_certfile``)."""
    sock = sock if sock is not None else bound_socket()
    port: int = sock.getsockname()[1]
    options: dict[str, Any] = {"lifespan": "off", "ws": "none", "log_config": None, "access_log": False}
    settings = uvicorn.Config(app, **(options | config))
    server = uvicorn.Server(settings)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
