"""RFC 9457 problem details for every error the web layer returns."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.errors import PROBLEM_BASE_URI, RegistryError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("registry")


def problem(request: Request, status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE_URI + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RegistryError)
    async def registry_error(request: Request, exc: RegistryError) -> JSONResponse:
        response = problem(request, exc.status, exc.slug, exc.title, exc.detail, **exc.extensions)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem(
            request,
            422,
            "invalid-request",
            "Request is not valid",
            "the request failed validation",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        phrase = HTTPStatus(exc.status_code).phrase
        slug = phrase.lower().replace(" ", "-").replace("'", "")
        detail = exc.detail if isinstance(exc.detail, str) else phrase
        response = problem(request, exc.status_code, slug, phrase, detail)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def database_busy(request: Request, exc: Exception) -> JSONResponse:
        # SQLite "database is locked" after the busy timeout, PostgreSQL lock or
        # connection trouble, a failed commit, no free connection in the pool: nothing
        # was committed (the session rolled back), and the request may be sent again.
        reason = type(getattr(exc, "orig", None) or exc).__name__
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, reason)
        response = problem(
            request,
            503,
            "database-busy",
            "Database busy",
            "the node's database is busy; send the request again",
        )
        response.headers["Retry-After"] = "2"
        return response

    for unavailable in (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError):
        app.add_exception_handler(unavailable, database_busy)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(
            request, 500, "internal-error", "Internal error", "the node could not complete the request"
        )
