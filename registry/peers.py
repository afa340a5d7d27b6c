"""Node-authenticated requests as this node sends and receives them
(``registry.federation.node_requests`` signs and opens them; this module adds the node:
its signing key, its peer directory, the HTTP edges).

:func:`ask` signs a request with this node's current DID key and posts it through the
peer client (the only outbound HTTP); :func:`open_request` checks one that arrived: the
body's media type, the caller a federation member whose trust chain this node resolves,
the signature by a key of the caller's history valid when it was signed, and that it is
for this node, this URL and this purpose."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import delete
from sqlmodel import Session, col

from registry.auth import take_rate
from registry.errors import ConflictError, InvalidInputError, NotFoundError, UnsupportedMediaTypeError
from registry.federation import node_requests
from registry.federation.client import (
    BadStatusError,
    PeerNotReachedError,
    PeerTimeoutError,
    PeerTransportError,
    PrivateAddressError,
    UrlNotAllowedError,
)
from registry.federation.directory import PeerDirectory
from registry.federation.errors import FederationError
from registry.models import PeerAnswer
from registry.node import NodeState

Answer = TypeVar("Answer", bound=BaseModel)

#: Documented on every endpoint that takes node-authenticated requests.
PEER_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "The calling node is over PEER_RATE_PER_MINUTE: send again after Retry-After"}
}


def body_of(opened: node_requests.NodeRequest, model: type[Answer], what: str) -> Answer:
    """The body of a request that was opened, read as ``model`` (422 listing every
    problem when it is not ``what``)."""
    try:
        return model.model_validate(opened.body)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(map(str, e["loc"])) or None, "message": e["msg"]} for e in exc.errors()
        ]
        raise InvalidInputError(f"the request body is not {what}", errors=problems) from None


class PeerUnavailableError(FederationError):
    slug = "peer-unavailable"
    title = "The other province's node cannot be reached or refused the request"
    status = 502

    def __init__(self, detail: str, *, not_taken: bool = False) -> None:
        super().__init__(detail)
        #: True when the request is known not to have been taken: the peer answered no
        #: (4xx), or it was never sent (no connection). False: it may have arrived (a
        #: time-out or a 5xx after it was sent).
        self.not_taken = not_taken


def federated(node: NodeState, what: str = "there is no other province to ask") -> PeerDirectory:
    """This node's peer directory (409 when the node is not a federation member)."""
    if node.directory is None:
        raise ConflictError(f"this node is not a member of a federation: {what}")
    return node.directory


def signed(node: NodeState, purpose: str, body: dict[str, Any], audience: str, url: str) -> str:
    now = node.clock()
    record, key = node.ring.signing_key(now)
    return node_requests.sign_request(
        purpose=purpose,
        body=body,
        caller=node.settings.entity_id,
        audience=audience,
        url=url,
        kid=record.kid,
        key=key,
        now=now,
    )


async def ask(
    node: NodeState,
    audience: str,
    path: str,
    purpose: str,
    body: dict[str, Any],
    answer: type[Answer],
    *,
    not_found: str | None = None,
    resend: bool = False,
) -> Answer:
    """Send a node-authenticated request to ``audience`` (a member's entity identifier)
    at ``path`` and read its JSON answer as ``answer``. A 404 from the peer is a
    :class:`NotFoundError` saying ``not_found`` when given; anything else that fails is
    :class:`PeerUnavailableError` (502)."""
    directory = federated(node)
    url = audience + path
    token = signed(node, purpose, body, audience, url)

    async def post() -> bytes:
        result = await directory.client.post(
            url,
            content=token.encode("ascii"),
            content_type=node_requests.REQUEST_MEDIA_TYPE,
            accept=("application/json",),
        )
        return result.body or b""

    maybe_sent = False
    try:
        try:
            received = await post()
        except (PeerTimeoutError, PeerTransportError) as exc:
            # ``resend``: the same signed request once more when it may have arrived and
            # only its answer was lost (the other node answers a resend as it did).
            if not resend or isinstance(exc, PeerNotReachedError):
                raise
            maybe_sent = True
            received = await post()
        return answer.model_validate_json(received)
    except BadStatusError as exc:
        if not_found is not None and exc.response_status == 404:
            raise NotFoundError(not_found) from None
        # A refusal (4xx) means the request was not taken; 401 (this node's key not yet
        # known there) and 429 (wait) say nothing final, and after an attempt that may
        # have arrived, nothing about that attempt.
        refused = 400 <= exc.response_status < 500 and exc.response_status not in (401, 429)
        raise PeerUnavailableError(
            f"{audience}: {exc.detail}", not_taken=refused and not maybe_sent
        ) from None
    except FederationError as exc:
        never_sent = isinstance(exc, PeerNotReachedError | UrlNotAllowedError | PrivateAddressError)
        raise PeerUnavailableError(
            f"{audience}: {exc.detail}", not_taken=never_sent and not maybe_sent
        ) from None
    except ValidationError:
        raise PeerUnavailableError(f"{audience} answered with something this node cannot read") from None


async def open_request(
    node: NodeState, request: Request, path: str, purpose: str
) -> node_requests.NodeRequest:
    """The node-authenticated request ``request`` carries, checked (401 otherwise)."""
    directory = federated(node)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != node_requests.REQUEST_MEDIA_TYPE:
        raise UnsupportedMediaTypeError(f"send the request as {node_requests.REQUEST_MEDIA_TYPE}")
    token = await request.body()
    caller = node_requests.unverified_caller(token)
    try:
        profile = await directory.member(caller)
    except FederationError as exc:
        raise node_requests.NodeRequestError(
            f"the calling node is not a federation member here: {exc.detail}"
        ) from None
    opened = node_requests.open_request(
        token,
        caller_ring=profile.ring(),
        audience=node.settings.entity_id,
        url=node.settings.entity_id + path,
        purpose=purpose,
        now=node.clock(),
    )
    # One peer's requests are counted (a node that asks too much waits: 429): a member
    # cannot try verification codes, or fill the applications table, without bound.
    await take_rate(node.limiter, f"peer:{profile.entity_id}", node.settings.peer_rate_per_minute)
    # The caller as its trust chain names it (``iss`` may end in a slash).
    return dataclasses.replace(opened, caller=profile.entity_id)


# --- answers kept per request ------------------------------------------------------------


def kept_answer(session: Session, opened: node_requests.NodeRequest, model: type[Answer]) -> Answer | None:
    """The answer this node gave to this very request (a resend), if it kept one."""
    row = session.get(PeerAnswer, (opened.caller, opened.jti))
    if row is None or row.purpose != opened.purpose:
        return None
    return model.model_validate_json(row.answer)


def keep_answer(
    session: Session, opened: node_requests.NodeRequest, answer: BaseModel, now: datetime
) -> None:
    """Keep the answer to ``opened`` until it expires (in the transaction that did the
    work: both or neither), and forget answers whose requests have expired."""
    session.execute(delete(PeerAnswer).where(col(PeerAnswer.expires_at) < now))
    session.add(
        PeerAnswer(
            caller=opened.caller,
            jti=opened.jti,
            purpose=opened.purpose,
            answer=answer.model_dump_json(),
            expires_at=opened.expires_at + timedelta(seconds=node_requests.CLOCK_SKEW),
        )
    )
