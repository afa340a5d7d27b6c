"""Several registry apps in one process, each on its own database, joined by httpx
ASGITransport: requests are routed by origin (tests of federation flows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from registry.app import create_app
from registry.database import Database
from registry.settings import Settings
from registry.verifier import Verifier
from tests.conftest import CHEAP_PASSWORDS, MutableClock


class OriginRouter(httpx.AsyncBaseTransport):
    """Routes each request to the app serving its origin; counts requests; an origin
    marked down answers as a refused connection would."""

    def __init__(self) -> None:
        self.apps: dict[str, Any] = {}
        self.down: set[str] = set()
        #: origins whose answers are lost: the request is served, then the caller's read
        #: times out (the other end did the work; the caller cannot know)
        self.lose_answers: set[str] = set()
        #: origins whose next answer only is lost
        self.lose_next_answer: set[str] = set()
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        self.requests.append(str(request.url))
        if origin in self.down or origin not in self.apps:
            raise httpx.ConnectError("connection refused", request=request)
        response = await httpx.ASGITransport(app=self.apps[origin]).handle_async_request(request)
        if origin in self.lose_answers or origin in self.lose_next_answer:
            self.lose_next_answer.discard(origin)
            await response.aread()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def federation_settings(folder: Path, base_url: str, province: str, **extra: Any) -> Settings:
    """An entity on its own SQLite file in ``folder``, allowed to reach loopback peers."""
    folder.mkdir(parents=True, exist_ok=True)
    return Settings(
        data_dir=folder,
        base_url=base_url,
        province=province,  # type: ignore[arg-type]
        database_url=f"sqlite:///{folder}/registry.db",
        federation_allow_private=True,
        **extra,
    )


def federated_app(settings: Settings, clock: MutableClock, router: OriginRouter) -> TestClient:
    """The app of ``settings``, reaching its peers through ``router`` (and reachable by them)."""
    app = create_app(
        settings,
        clock,
        database=Database.from_url(settings.resolved_database_url),
        passwords=CHEAP_PASSWORDS,
        verifier=Verifier(workers=1),
        peer_http=httpx.AsyncClient(transport=router),
    )
    router.apps[settings.entity_id] = app
    return TestClient(app, raise_server_exceptions=False)
