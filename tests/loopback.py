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


@contextmanager
def serve_in_thread(app: Any, **config: Any) -> Iterator[int]:
    """Runs ``app`` until the block ends; yields the port. ``config`` goes to
    ``uvicorn.Config`` (e.g. ``ssl_certfile``, ``ssl_keyfile``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    settings = uvicorn.Config(app, lifespan="off", ws="none", log_config=None, access_log=False, **config)
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
