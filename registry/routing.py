"""Route matching that asks only the routers that could match, and routes called
without FastAPI's request handling (:class:`DirectRoute`).

FastAPI (0.165) keeps each included router as one entry of the app's routes and, for
every request, asks each entry in turn whether it matches; an entry asks each of its
routes, with some bookkeeping per route (about 2 µs here). The node includes a dozen
routers with 130 routes, so a request for the VC API's ``/credentials/verify`` spent
78 µs finding its route, and a path that matches nothing 150 µs, twice over (the
slash-redirect scan); prefiltered, 12 and 13 µs (``bench/routing.py``, a quiet run).

:func:`prefilter_routers` gives each included router the paths of its routes without
parameters, and the literal beginnings of the others' (up to the first ``{``; a mount's
whole path), and has it answer "no match" at once for a path that is none of the first
and begins with none of the second: it could not have matched it. A path ending in a
newline (which a route's ``$`` lets through), and every path once routes have been
added to the router after this was set up, are left to FastAPI. Everything else
— what matches, 405 for a known path with another method, the trailing-slash
redirect, the OpenAPI document, ``url_path_for`` — is FastAPI's own.

``fastapi.routing._IncludedRouter`` is FastAPI's private class: the version is pinned in
constraints.txt, and ``tests/test_routing.py`` checks that every route still matches as
it did unfiltered.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter, _IncludedRouter
from starlette import routing
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


@dataclass
class PrefilteredRouter(_IncludedRouter):
    """An included router asked to match only the paths in ``exact`` (its routes
    without parameters) and those that begin with one of ``prefixes`` (the literal
    beginnings of the others)."""

    exact: frozenset[str] = field(default=frozenset())
    prefixes: tuple[str, ...] = field(default=())
    routes_version: int | None = None
    route_count: int = -1

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope.get("type") in ("http", "websocket")
            and self.original_router._get_routes_version() == self.routes_version
            and len(self.original_router.routes) == self.route_count  # a mount() moves no version
        ):
            path = get_route_path(scope)
            # A route's pattern ends with "$", which also matches before a final
            # newline ("/health\n" is "/health"): such a path is left to FastAPI.
            if path not in self.exact and not path.startswith(self.prefixes) and not path.endswith("\n"):
                return Match.NONE, {}
        return super().matches(scope)


def route_paths(router: APIRouter, prefix: str = "") -> tuple[set[str], set[str]] | None:
    """The paths ``router`` routes (under ``prefix``): those without parameters, and the
    literal beginnings of the others; None when one of its routes matches on something
    else than a path (a host)."""
    exact: set[str] = set()
    beginnings: set[str] = set()
    for route in router.routes:
        if isinstance(route, _IncludedRouter):
            inner = route_paths(route.original_router, prefix + route.include_context.prefix)
            if inner is None:
                return None
            exact |= inner[0]
            beginnings |= inner[1]
            continue
        if isinstance(route, routing.Host):
            return None
        path: Any = getattr(route, "path", None)
        if not isinstance(path, str):
            return None
        full = prefix + path
        if isinstance(route, routing.Mount):
            # the mounted app has the rest of the path (and the mount's own may have parameters)
            beginnings.add(full.split("{", 1)[0].rstrip("/"))
        elif "{" in full:
            beginnings.add(full.split("{", 1)[0])
        else:
            exact.add(full)
    return exact, beginnings


def prefilter_routers(app: FastAPI) -> int:
    """Replace each router included in ``app`` by a :class:`PrefilteredRouter` (after
    every ``include_router``). Returns how many were replaced."""
    replaced = 0
    routes = app.router.routes
    for i, route in enumerate(routes):
        if type(route) is not _IncludedRouter:
            continue
        paths = route_paths(route.original_router, route.include_context.prefix)
        if paths is None or "" in paths[1]:
            continue  # it could match any path
        routes[i] = PrefilteredRouter(
            original_router=route.original_router,
            include_context=route.include_context,
            exact=frozenset(paths[0]),
            prefixes=tuple(sorted(paths[1])),
            routes_version=route.original_router._get_routes_version(),
            route_count=len(route.original_router.routes),
        )
        replaced += 1
    return replaced


class DirectRoute(APIRoute):
    """A route whose endpoint is ``async def endpoint(request: Request) -> Response``
    and reads and checks what it needs itself (the public status lists: a path and one
    header). FastAPI documents it as any route, from its declared responses and
    ``openapi_extra``, but calls the endpoint as it is: no dependency solving, body
    reading or response serialisation, which cost a status list 16 of its 48 µs
    in-process. What the endpoint raises goes to the app's exception handlers as from
    any route; a method the route does not have is 405 as for any route."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        parameters = list(inspect.signature(endpoint).parameters.values())
        if not inspect.iscoroutinefunction(endpoint) or len(parameters) != 1:
            name = getattr(endpoint, "__name__", endpoint)
            raise TypeError(f"{name}: a DirectRoute endpoint is async, with the request its one argument")
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[..., Any]:
        return self.endpoint
