"""Route matching asks only the routers that could match (registry/routing.py): every
route matches exactly as it did when each router was asked, with every method, and
paths that match nothing, or only with a slash added or removed, too."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from fastapi.testclient import TestClient
from starlette import routing
from starlette.routing import BaseRoute, Match

from registry.routing import PrefilteredRouter, route_paths

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


def app_of(client: TestClient) -> FastAPI:
    app: FastAPI = client.app  # type: ignore[assignment]
    return app


def unfiltered(routes: list[BaseRoute]) -> list[BaseRoute]:
    return [
        _IncludedRouter(original_router=r.original_router, include_context=r.include_context)
        if isinstance(r, PrefilteredRouter)
        else r
        for r in routes
    ]


def leaf_paths(routes: list[BaseRoute]) -> list[str]:
    """Every route's path format, through the included routers."""
    found: list[str] = []
    for route in routes:
        if isinstance(route, _IncludedRouter):
            found.extend(leaf_paths(list(route.original_router.routes)))
        else:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                found.append(path + "/x.css" if isinstance(route, routing.Mount) else path)
    return found


def concrete(path: str) -> str:
    """A path the format matches: each parameter given a value."""
    return re.sub(r"\{[^}:]+(:path)?\}", lambda m: "a/b" if m.group(1) else "1", path)


def leaf(route: BaseRoute, scope: dict[str, Any]) -> Any:
    """The route an included router picks for ``scope`` (through nested ones)."""
    while isinstance(route, _IncludedRouter):
        _, _, inner, _ = route._match(scope)
        if inner is None:
            return None
        route = inner
    return route


def outcome(routes: list[BaseRoute], method: str, path: str, root_path: str = "") -> tuple[str, Any, Any]:
    """What the app's router would pick, as FastAPI's loop picks it: the first full
    match (the entry and the route under it), else the first partial one (405), else
    none."""
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": root_path + path,
        "root_path": root_path,
        "headers": [],
        "query_string": b"",
    }
    partial: tuple[str, Any, Any] | None = None
    for index, route in enumerate(routes):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return "full", index, leaf(route, scope)
        if match == Match.PARTIAL and partial is None:
            partial = ("partial", index, leaf(route, scope))
    return partial or ("none", None, None)


def test_the_included_routers_are_prefiltered(client: TestClient) -> None:
    routes = app_of(client).router.routes
    filtered = [r for r in routes if isinstance(r, PrefilteredRouter)]
    assert len(filtered) >= 10
    for router in filtered:
        paths = route_paths(router.original_router, router.include_context.prefix)
        assert paths is not None
        assert router.exact == frozenset(paths[0])
        assert set(router.prefixes) == paths[1]
        assert "" not in router.prefixes  # else it could match anything
    # The VC API's routes are exact paths, a status list's a prefix up to its parameter.
    assert any("/credentials/verify" in r.exact for r in filtered)
    assert any("/status/" in r.prefixes for r in filtered)


def test_every_route_matches_as_it_did_unfiltered(client: TestClient) -> None:
    routes = list(app_of(client).router.routes)
    reference = unfiltered(routes)
    paths = {concrete(p) for p in leaf_paths(routes)}
    assert len(paths) > 100
    variants = set(paths)
    for path in paths:
        variants |= {
            path + "/",
            path.rstrip("/") or "/",
            path + "x",
            path + "\n",  # a route's "$" matches before a final newline
            path + "/\n",
            path[: max(1, len(path) // 2)],
        }
    variants |= {"/", "", "/nothing/here", "/v1", "/v1/", "/status/", "/status/token/", "//v1/verifications"}
    for path in sorted(variants):
        for method in METHODS:
            found = outcome(routes, method, path)
            assert found == outcome(reference, method, path), (method, path)
            if found[0] == "full":
                assert found[2] is not None, (method, path)  # the route itself is compared
    for path in ("/health", "/v1/verifications", "/status/revocation/1"):  # behind a proxy's prefix
        for method in ("GET", "POST"):
            assert outcome(routes, method, path, "/registry") == outcome(
                reference, method, path, "/registry"
            ), (method, path)


def test_a_request_asks_only_the_routers_that_could_match(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Any] = []
    original = _IncludedRouter.matches

    def counted(self: _IncludedRouter, scope: Any) -> tuple[Match, Any]:
        asked.append(self.original_router)
        return original(self, scope)

    monkeypatch.setattr(_IncludedRouter, "matches", counted)
    response = client.post("/credentials/verify", json={"verifiableCredential": "x"})
    assert response.status_code in (400, 422)  # routed to the VC API (and refused there)
    from registry.routes import vcapi

    assert vcapi.router in asked
    assert len(asked) <= 2, [getattr(r, "tags", r) for r in asked]  # not the dozen before it


def test_mounts_include_prefixes_and_routes_added_later_match_as_unfiltered() -> None:
    from fastapi import APIRouter
    from starlette.responses import PlainTextResponse

    from registry.routing import prefilter_routers

    async def static(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse(f"mounted {scope['path_params']['tenant']}")(scope, receive, send)

    async def static_app(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("late")(scope, receive, send)

    mounted = APIRouter()
    mounted.mount("/files/{tenant}", static)
    plain = APIRouter(prefix="/p")

    @plain.get("/one")
    def one() -> str:
        return "one"

    late = APIRouter()

    @late.get("/first")
    def first() -> str:
        return "first"

    app = FastAPI()
    app.include_router(mounted)
    app.include_router(plain, prefix="/v{version}")  # an include prefix with a parameter
    app.include_router(late)
    assert prefilter_routers(app) == 3
    prefixes = {r.prefixes for r in app.router.routes if isinstance(r, PrefilteredRouter)}
    assert ("/v",) in prefixes  # the include's prefix counts, up to its parameter

    @plain.get("/two")
    def two() -> str:
        return "two"

    late.mount("/late", static_app)  # moves no routes version: the count of routes tells

    client = TestClient(app)
    assert client.get("/files/anhui/a.css").text == "mounted anhui"
    assert client.get("/v1/p/one").json() == "one"
    assert client.get("/v1/p/two").json() == "two"  # added after the routers were prefiltered
    assert client.get("/v1/p/three").status_code == 404
    assert client.get("/p/one").status_code == 404
    assert client.get("/late/x").text == "late"
    assert client.get("/first").json() == "first"


def test_a_path_with_a_final_newline_is_answered_as_without_it(client: TestClient) -> None:
    assert client.get("/health%0A").status_code == client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nothing/here", 404),
        ("DELETE", "/v1/verifications", 405),
        ("GET", "/status/revocation/abc", 422),
        ("GET", "/health", 200),
    ],
)
def test_answers_are_those_of_the_unfiltered_router(
    client: TestClient, method: str, path: str, status: int
) -> None:
    app = app_of(client)
    first = client.request(method, path, follow_redirects=False)
    saved = list(app.router.routes)
    try:
        app.router.routes[:] = unfiltered(saved)
        second = client.request(method, path, follow_redirects=False)
    finally:
        app.router.routes[:] = saved
    assert first.status_code == second.status_code == status
    assert first.headers.get("content-type") == second.headers.get("content-type")


def _count_dependency_solving(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The requests FastAPI solves dependencies for from now on (a DirectRoute's: none)."""
    import fastapi.routing

    solved: list[Any] = []
    original = fastapi.routing.solve_dependencies

    async def counted(*args: Any, **kwargs: Any) -> Any:
        solved.append(kwargs.get("request"))
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    return solved


def test_the_status_lists_are_served_without_fastapis_request_handling(
    client: TestClient, actors: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``DirectRoute``: the endpoint is called as it is (no dependency solving), and
    still answers as the document says: 200, 304, 404, 422 and 405 as problem+json."""

    from registry.routes import public
    from registry.routing import DirectRoute
    from tests.test_status import issue

    direct = {r.path for r in public.router.routes if isinstance(r, DirectRoute)}
    assert direct == {"/status/{purpose}/{number}", "/status/token/{number}"}
    issue(client, actors.officer())
    solved = _count_dependency_solving(monkeypatch)
    for path in ("/status/revocation/1", "/status/token/1"):
        first = client.get(path)
        assert first.status_code == 200
        assert client.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert solved == []
    assert client.get("/health").status_code == 200
    assert solved  # an ordinary route does solve its dependencies
    for path, code in (
        ("/status/revocation/999", 404),
        ("/status/other/1", 422),
        ("/status/token/0", 422),
        ("/status/token/x", 422),
    ):
        answer = client.get(path)
        assert answer.status_code == code, path
        assert answer.headers["content-type"] == "application/problem+json", path
    refused = client.post("/status/revocation/1")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET"


def test_a_direct_route_takes_an_async_endpoint_of_the_request_alone() -> None:
    from fastapi import Request, Response

    from registry.routing import DirectRoute

    async def good(request: Request) -> Response:
        return Response()

    def blocking(request: Request) -> Response:
        return Response()

    async def two(request: Request, other: int) -> Response:
        return Response()

    DirectRoute("/x", good, methods=["GET"])
    for endpoint in (blocking, two):
        with pytest.raises(TypeError):
            DirectRoute("/x", endpoint, methods=["GET"])


def test_hr_verification_is_served_without_fastapis_request_handling(
    client: TestClient, actors: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``POST /v1/verifications`` reads, checks and answers everything itself, so it is
    a ``DirectRoute`` (no dependency solving: about 8% of a verification in-process);
    its answers are those the document declares: 200, 401, 403, 422 problem+json, 405."""

    from registry.routes import verification
    from registry.routing import DirectRoute
    from tests.test_status import issue

    [route] = [r for r in verification.router.routes if getattr(r, "path", "") == "/v1/verifications"]
    assert isinstance(route, DirectRoute)
    record = issue(client, actors.officer())
    hr = actors.hr()
    solved = _count_dependency_solving(monkeypatch)
    answer = client.post("/v1/verifications", json={"credential": record["verifiableCredential"]}, headers=hr)
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "valid"
    assert solved == []
    for headers, body, code in (
        ({}, {"credential": record["verifiableCredential"]}, 401),
        (actors.hr(scopes=("lookup",)), {"credential": record["verifiableCredential"]}, 403),
        (hr, {"credential": 42}, 422),
    ):
        refused = client.post("/v1/verifications", json=body, headers=headers)
        assert refused.status_code == code, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/verifications", headers=hr).status_code == 405
