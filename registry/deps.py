"""FastAPI dependencies: the node, a unit-of-work session, and the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from registry.auth import (
    API_KEY_PREFIX,
    Principal,
    find_hr_client,
    require_role,
    require_scope,
    take_rate,
)
from registry.errors import AuthenticationError
from registry.models import Account, RevokedToken
from registry.node import NodeState

# Dependencies that do not block are ``async def``: FastAPI runs a plain ``def``
# dependency in a worker thread (a hand-over each way, for every request), an async one
# on the event loop. Whatever may block (a database read on a cache miss, the shared
# rate limiter's write) goes to a worker thread from inside them, and only then.


async def get_node(request: Request) -> NodeState:
    node: NodeState = request.app.state.node
    return node


NodeDep = Annotated[NodeState, Depends(get_node)]


def get_session(node: NodeDep) -> Iterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back
    when anything raises (so a failed request changes nothing)."""
    with node.db.session() as session:
        yield session


# scope="function": the commit runs when the endpoint returns and *before* the response
# is sent (a request-scoped yield dependency would commit after the client already had
# its 2xx). A failed commit therefore reaches the problem handlers: 503, never a 2xx.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session(node: NodeDep) -> Iterator[Session]:
    """A session for endpoints that only read."""
    with node.db.session(write=False) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]

_bearer = HTTPBearer(
    auto_error=False,
    description="An access token from POST /v1/auth/token, or an HR client's API key (yrd_…).",
)


async def authenticate(
    node: NodeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller (the dependency). The event loop does the work when nothing blocks
    (an API key in the node's cache, the in-memory rate limiter, an access token's
    signature); a worker thread does the database reads (a key not in the cache, an
    access token's account) and the shared rate limiter's write."""
    token = _token(credentials)
    if token.startswith(API_KEY_PREFIX):
        cached = node.api_keys.get(token)
        if cached is None:
            cached = await run_in_threadpool(_authenticate_key, node, token)
        principal, rate = cached
        await take_rate(node.limiter, principal.id, rate)
        return principal
    claims = node.tokens.read(token, node.clock())
    return await run_in_threadpool(account_principal, node, claims)


def get_principal(node: NodeState, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """:func:`authenticate` for code that may block (it runs in a worker thread)."""
    token = _token(credentials)
    if token.startswith(API_KEY_PREFIX):
        principal, rate = node.api_keys.get(token) or _authenticate_key(node, token)
        node.limiter.take(principal.id, rate)
        return principal
    return account_principal(node, node.tokens.read(token, node.clock()))


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise AuthenticationError("this needs an access token or an API key (Authorization: Bearer …)")
    return credentials.credentials


def _authenticate_key(node: NodeState, token: str) -> tuple[Principal, int]:
    """An API key not in the cache, checked against the database (blocking) and cached
    for the cache's bound (a deactivated key stops working within it)."""
    with node.db.session(write=False) as session:
        client = find_hr_client(session, token)
    principal = Principal("hr_client", client.id, "hr_client", scopes=frozenset(client.scopes.split()))
    node.api_keys.put(token, principal, client.rate_per_minute)
    return principal, client.rate_per_minute


def account_principal(node: NodeState, claims: dict[str, object]) -> Principal:
    """The account of a valid access token, read now (blocking): a deactivation, a
    password reset or change, or a sign-out with this token takes effect at once."""
    jti = claims.get("jti")
    with node.db.session(write=False) as session:
        account = session.get(Account, claims["sub"])
        signed_out = isinstance(jti, str) and session.get(RevokedToken, jti) is not None
    if account is None or not account.active:
        raise AuthenticationError("the account of this token is not active")
    if signed_out:
        raise AuthenticationError("this token was ended by a sign-out; sign in again")
    # Tokens issued before a deactivation, a password reset or a password change do not
    # come back to life (whole seconds: a token's iat is in seconds).
    valid_from = account.tokens_valid_from
    issued = claims.get("iat")
    if valid_from is not None and (not isinstance(issued, int) or issued < int(valid_from.timestamp())):
        raise AuthenticationError("this token was issued before the account's last change; sign in again")
    return Principal("account", account.id, account.role, holder_id=account.holder_id)


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def _role_dependency(*roles: str) -> object:
    async def check(principal: PrincipalDep) -> Principal:
        require_role(principal, *roles)
        return principal

    return Depends(check)


def _scope_dependency(scope: str) -> object:
    # One dependency rather than a check on top of PrincipalDep (which needs the node's
    # dependency again): each level of dependencies costs FastAPI a solve per request,
    # and these guard the verification path. The bearer scheme stays a sub-dependency,
    # so the OpenAPI document names it as before.
    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        principal = await authenticate(request.app.state.node, credentials)
        require_scope(principal, scope)
        return principal

    return Depends(check)


async def scoped_hr_client(request: Request, scope: str) -> Principal:
    """The HR client (or account) of ``request`` holding ``scope``, for an endpoint that
    checks it itself rather than through FastAPI's dependency solving (which costs more
    than the check on the busiest route). The route declares the bearer scheme in its
    OpenAPI ``security``."""
    principal = await authenticate(request.app.state.node, await _bearer(request))
    require_scope(principal, scope)
    return principal


AdminDep = Annotated[Principal, _role_dependency("admin")]
# Separation of duties: admins manage accounts, keys and the catalogue but do not issue.
OfficerDep = Annotated[Principal, _role_dependency("issuing_officer")]
AuditorDep = Annotated[Principal, _role_dependency("auditor", "admin")]
StaffDep = Annotated[Principal, _role_dependency("issuing_officer", "auditor")]
#: Who reads the recognition applications this node decides: its officers (who decide
#: them), auditors and admins (who answer for the node's policy).
RecognitionReaderDep = Annotated[Principal, _role_dependency("issuing_officer", "auditor", "admin")]
HolderDep = Annotated[Principal, _role_dependency("holder")]
HrVerifyDep = Annotated[Principal, _scope_dependency("verify")]
HrLookupDep = Annotated[Principal, _scope_dependency("lookup")]
