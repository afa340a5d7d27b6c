"""The application factory. Settings, database, key ring, clock and randomness are
built or passed in here, never at import time."""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from registry import __version__, openapi
from registry.auth import API_KEY_PREFIX, Passwords
from registry.credentials import catalogue
from registry.database import Database, migrate
from registry.limits import RequestGuard
from registry.node import Clock, NodeState, utc_now
from registry.problems import install_problem_handlers
from registry.routes import (
    accounts,
    admin,
    docs,
    federation,
    holder,
    issuance,
    public,
    recognition,
    vcapi,
    verification,
)
from registry.routing import prefilter_routers
from registry.settings import Settings
from registry.verifier import Verifier
from registry.web import router as web_router

__all__ = ["Clock", "NodeState", "create_app", "prepare_database", "utc_now"]

#: Routes whose large bodies are read only after the caller is authenticated.
DEFERRED_BODY_ROUTES = ("/v1/issuance/batches/", "/v1/verifications/batch")
#: The largest verification batch body: 1,000 credentials of up to ~4 KiB each (a
#: title credential is 1.6 KB; parsing 8 MiB of pretty JSON held the GIL long enough
#: to delay other answers by over 100 ms, bench/hostile_bodies.py).
VERIFICATION_BATCH_BYTES = 4 << 20


def body_limits(settings: Settings) -> list[tuple[str, int]]:
    """Each route's body limit (exact path, or a prefix ending in ``/``; first match
    wins); anything else gets ``MAX_BODY_BYTES``. A sign-in needs a few hundred bytes,
    so it may not send more than 2 KiB."""
    kib = 1 << 10
    return [
        ("/v1/auth/token", 2 * kib),
        ("/v1/auth/password", 2 * kib),
        ("/v1/accounts/", 4 * kib),
        ("/v1/hr-clients/", 4 * kib),
        ("/v1/holder/registration", 2 * kib),
        ("/v1/verifications/lookup", 2 * kib),
        ("/v1/holder/credentials/", 2 * kib),
        ("/v1/holders/", 2 * kib),
        ("/v1/accounts", 4 * kib),
        ("/v1/hr-clients", 4 * kib),
        ("/v1/keys/", 4 * kib),
        ("/v1/federation/members", 16 * kib),
        ("/v1/federation/members/keys", 16 * kib),
        ("/v1/federation/members/removal", 2 * kib),
        ("/v1/federation/authorisations", 2 * kib),
        ("/v1/federation/authorisations/", 2 * kib),
        ("/v1/federation/keys/rotation", 1 * kib),
        ("/credentials/status", 4 * kib),
        ("/v1/credentials/", 8 * kib),  # revoke, suspend, reinstate
        ("/v1/catalogue", 16 * kib),
        ("/v1/credentials", 64 * kib),  # issue one
        ("/credentials/issue", 64 * kib),
        ("/v1/verifications/batch", VERIFICATION_BATCH_BYTES),
        ("/v1/issuance/batches/", settings.max_batch_body_bytes),
        # Web pages: a credential file of up to 256 KiB with its form; small forms.
        ("/verify", 272 * kib),
        ("/verify/lookup", 2 * kib),
        ("/holder/", 4 * kib),
        # The desks: a credential file, a CSV or ZIP of up to 1,000, an evaluation batch.
        ("/hr/verify", 272 * kib),
        ("/hr/jobs", 8 << 20),
        ("/hr/", 4 * kib),
        ("/officer/batches", settings.max_batch_body_bytes),
        ("/officer/", 8 * kib),
    ]


TAGS = [
    {"name": "public", "description": "Open to anyone: keys, status lists, catalogue, schemas."},
    {"name": "verification", "description": "HR clients (API key with scope verify or lookup)."},
    {"name": "issuance", "description": "Issuing officers: issue, batches, revoke, suspend, reinstate."},
    {"name": "holders", "description": "Holders: own credentials, downloads, verification codes."},
    {"name": "accounts", "description": "Sign-in."},
    {"name": "admin", "description": "Node admins and auditors."},
    {"name": "vc-api", "description": "W3C VC API endpoints."},
    {"name": "federation", "description": "OpenID Federation 1.0: entity statements, trust anchor."},
    {
        "name": "recognition",
        "description": "Recognition policy (互认政策): which other provinces' credentials this node "
        "accepts as which of its own types; read by anyone, published by admins.",
    },
]


def prepare_database(
    settings: Settings, db: Database, clock: Clock = utc_now, *, run_migrations: bool = True
) -> None:
    """Migrate, make the key ring if there is none, and bring the catalogue up to its seed."""
    if run_migrations:
        migrate(db.engine)
    with db.session() as session:
        from registry.node_keys import NodeKeyStore

        NodeKeyStore(settings.key_passphrase).load_or_create(session, clock())
        NodeKeyStore(settings.key_passphrase, "federation").load_or_create(session, clock())
        # Adds what is missing and, once per seed version, corrects the seeded entries.
        catalogue.seed(session, clock())


def create_app(
    settings: Settings | None = None,
    clock: Clock = utc_now,
    *,
    database: Database | None = None,
    passwords: Passwords | None = None,
    rng: random.Random | None = None,
    run_migrations: bool = True,
    verifier: Verifier | None = None,
    peer_http: httpx.AsyncClient | None = None,
) -> FastAPI:
    settings = settings or Settings()
    db = database or Database.from_url(settings.resolved_database_url)
    prepare_database(settings, db, clock, run_migrations=run_migrations)
    node = NodeState(settings, db, clock, passwords=passwords, rng=rng)
    node.verifier = verifier or Verifier.for_serving(settings.workers)
    node.join_federation(peer_http)
    if node.directory is not None:
        node.directory.own_configuration = lambda: federation.own_entity_configuration(node)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A thread that parses or checks a large body holds the GIL for up to the switch
        # interval each time the event loop asks for it; 1 ms instead of 5 ms keeps the
        # loop's answers to other requests within a few milliseconds of that work
        # (bench/hostile_bodies.py).
        sys.setswitchinterval(0.001)
        node.audit_writer.start()
        node.verifier.warm()
        refresher = asyncio.create_task(node.directory.run()) if node.directory is not None else None
        yield
        if refresher is not None:
            refresher.cancel()
            await node.directory.client.aclose()  # type: ignore[union-attr]
        if node.resolver is not None:
            await node.resolver.client.aclose()
        node.audit_writer.stop()
        node.verifier.close()

    app = FastAPI(
        title="Yangtze River Delta talent credential registry — provincial node",
        version=__version__,
        description=(
            "Issues and verifies professional-title and qualification credentials "
            "(W3C VC 2.0, eddsa-jcs-2022, VC-JWT, Bitstring Status List). "
            "Every error is RFC 9457 problem+json."
        ),
        openapi_tags=TAGS,
        lifespan=lifespan,
        # Served by registry.routes.docs with assets from the node itself, not a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.node = node
    install_problem_handlers(app)
    from registry.routes import contexts as context_routes

    app.include_router(context_routes.router)
    for module in (
        public,
        verification,
        issuance,
        holder,
        accounts,
        admin,
        recognition,
        vcapi,
        federation,
        docs,
    ):
        app.include_router(module.router)
    app.include_router(web_router)
    # Each included router is asked only about paths it could match (registry/routing.py).
    prefilter_routers(app)
    openapi.install(app)
    # Body limits, no secrets in the query string, strict JSON: one pure ASGI layer.
    app.add_middleware(
        RequestGuard,
        default=settings.max_body_bytes,
        routes=body_limits(settings),
        deferred=DEFERRED_BODY_ROUTES,
        key_prefix=API_KEY_PREFIX,
    )
    return app
