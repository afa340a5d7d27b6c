"""The application factory. Settings, key ring and clock are built or passed in here,
never at import time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from registry import __version__
from registry.node_keys import NodeKeyStore
from registry.problems import install_problem_handlers
from registry.settings import Settings
from registry.signing.did import did_web_document
from registry.signing.keyring import KeyRing
from registry.signing.keys import public_key_to_jwk

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class NodeState:
    """What every request of this node may read: settings, key ring, clock."""

    def __init__(self, settings: Settings, ring: KeyRing, clock: Clock) -> None:
        self.settings = settings
        self.ring = ring
        self.clock = clock


def get_node(request: Request) -> NodeState:
    node: NodeState = request.app.state.node
    return node


NodeDep = Annotated[NodeState, Depends(get_node)]


class DidJSONResponse(JSONResponse):
    media_type = "application/did+json"


def create_app(
    settings: Settings | None = None, clock: Clock = utc_now, ring: KeyRing | None = None
) -> FastAPI:
    settings = settings or Settings()
    if ring is None:
        ring = NodeKeyStore(settings.data_dir, settings.key_passphrase).load_or_create(clock())
    app = FastAPI(
        title="Yangtze River Delta talent credential registry — provincial node",
        version=__version__,
        description=(
            "Issues and verifies professional-title and qualification credentials "
            "(W3C VC 2.0, eddsa-jcs-2022, VC-JWT). Every error is RFC 9457 problem+json."
        ),
    )
    app.state.node = NodeState(settings, ring, clock)
    install_problem_handlers(app)

    @app.get("/health", operation_id="getHealth", tags=["public"])
    def health(node: NodeDep) -> dict[str, str]:
        """Liveness: the node answers and holds a key valid for signing now."""
        signing = "ok" if node.ring.valid_at(node.clock()) else "no-valid-signing-key"
        return {"status": "ok", "signing": signing, "did": node.settings.did}

    @app.get(
        "/.well-known/did.json",
        operation_id="getDidDocument",
        tags=["public"],
        response_class=DidJSONResponse,
    )
    def did_document(node: NodeDep) -> dict[str, Any]:
        """The node's did:web document: active and retired keys, never compromised ones."""
        return did_web_document(node.settings.did, node.ring, node.clock())

    @app.get("/.well-known/jwks.json", operation_id="getJwks", tags=["public"])
    def jwks(node: NodeDep) -> dict[str, list[dict[str, str]]]:
        """The node's public keys as a JWK Set (RFC 7517), kid = RFC 7638 thumbprint."""
        keys = [
            {**public_key_to_jwk(r.public_key), "kid": r.kid, "use": "sig", "alg": "EdDSA"}
            for r in node.ring.published_at(node.clock())
        ]
        return {"keys": keys}

    return app
