"""Node-authenticated requests (DESIGN "Federation"): one provincial node asks another
for something (forward a holder's recognition application, ask how it was decided) in
a compact JWS signed with its own credential-signing key, the key of its DID, which the
receiving node knows from the caller's trust chain (its ``yrd_credential_issuer``
metadata, key history included).

The JWS (``typ`` ``node-request+jwt``, EdDSA) carries:

- ``iss``: the calling node's entity identifier; ``aud``: the receiving node's;
- ``iat``, ``exp``: a lifetime of at most :data:`MAX_LIFETIME` seconds;
- ``jti``: unique per request;
- ``purpose``: what is asked (``recognition.apply``, ``recognition.status``), so a
  request signed for one purpose is never taken for another;
- ``htu``: the URL it is sent to, so it cannot be replayed at another endpoint;
- ``body``: a JSON object, the request itself.

Pure: :func:`sign_request` and :func:`open_request` (the key ring of the caller is a
parameter: the receiving node finds it through its peer directory first). Replaying a
request within its lifetime does no harm by design: every request that changes state is
idempotent at the receiving end (an application is stored once per caller and
application id), look-ups are answered once per request (``registry.peers``: a resend
of the same request gets the answer kept for it), and the others only read.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.federation.errors import FederationError
from registry.federation.jws import parse_compact_jws, verify_signature
from registry.signing.errors import KeyMaterialError
from registry.signing.jose import sign_jws
from registry.signing.keyring import KeyRing

REQUEST_TYP = "node-request+jwt"
REQUEST_MEDIA_TYPE = "application/node-request+jwt"
#: The longest a request may live (seconds), and the clock difference tolerated.
MAX_LIFETIME = 300
CLOCK_SKEW = 60


class NodeRequestError(FederationError):
    """A node-authenticated request that is not acceptable (401: the caller is not
    shown to be the node it says it is, or the request is not for this use)."""

    slug = "bad-node-request"
    title = "Node-authenticated request is not acceptable"
    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        # RFC 9110 §11.6.1: a 401 names the scheme it wants.
        self.headers["WWW-Authenticate"] = f'NodeRequest realm="federation", typ="{REQUEST_TYP}"'


def _integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class NodeRequest:
    caller: str
    purpose: str
    body: Mapping[str, Any]
    jti: str
    issued_at: datetime
    expires_at: datetime


def sign_request(
    *,
    purpose: str,
    body: Mapping[str, Any],
    caller: str,
    audience: str,
    url: str,
    kid: str,
    key: Ed25519PrivateKey,
    now: datetime,
    lifetime: int = 120,
) -> str:
    """The request JWS of ``caller`` to ``audience`` at ``url``."""
    if not 0 < lifetime <= MAX_LIFETIME:
        raise ValueError("a node request lives between 1 and MAX_LIFETIME seconds")
    issued = int(now.timestamp())
    claims = {
        "iss": caller,
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": str(uuid.uuid4()),
        "purpose": purpose,
        "htu": url,
        "body": dict(body),
    }
    return sign_jws(claims, key, kid, REQUEST_TYP)


def unverified_caller(token: str | bytes) -> str:
    """Who the request says it comes from (to find their keys; nothing is trusted yet)."""
    parsed = parse_compact_jws(token, REQUEST_TYP, NodeRequestError)
    caller = parsed.unverified_payload(NodeRequestError).get("iss")
    if not isinstance(caller, str) or not caller:
        raise NodeRequestError("the request names no calling node (iss)")
    return caller


def open_request(
    token: str | bytes,
    *,
    caller_ring: KeyRing,
    audience: str,
    url: str,
    purpose: str,
    now: datetime,
) -> NodeRequest:
    """Check a request: signed by a key of ``caller_ring`` valid when it was signed
    (a key held compromised from before then, retired or unknown fails), for this node
    (``aud``), this URL (``htu``), this ``purpose``, within its lifetime."""
    parsed = parse_compact_jws(token, REQUEST_TYP, NodeRequestError)
    claims = parsed.unverified_payload(NodeRequestError)
    issued, expires = claims.get("iat"), claims.get("exp")
    if not (_integer(issued) and _integer(expires)):
        raise NodeRequestError("the request needs integer iat and exp")
    # Times first, as integers: nothing unchecked is converted (an iat of 10**15 is
    # not a date), and a request out of its time needs no key.
    moment = int(now.timestamp())
    if expires - issued > MAX_LIFETIME or expires <= issued:
        raise NodeRequestError(f"the request must live between 1 and {MAX_LIFETIME} seconds")
    if issued > moment + CLOCK_SKEW:
        raise NodeRequestError("the request was issued in the future (iat)")
    if moment >= expires + CLOCK_SKEW:
        raise NodeRequestError("the request has expired (exp)")
    signed_at = datetime.fromtimestamp(issued, now.tzinfo)
    try:
        record = caller_ring.check_valid_at(parsed.kid, signed_at)
    except KeyMaterialError as exc:
        raise NodeRequestError(
            f"the request's key is not the calling node's at its iat: {exc.detail}"
        ) from None
    verify_signature(parsed, record.public_key, NodeRequestError)
    if claims.get("aud") != audience:
        raise NodeRequestError("the request is not for this node (aud)")
    if claims.get("htu") != url:
        raise NodeRequestError("the request was signed for another URL (htu)")
    if claims.get("purpose") != purpose:
        raise NodeRequestError(f"the request was signed for another purpose than {purpose}")
    body, jti = claims.get("body"), claims.get("jti")
    if not isinstance(body, dict):
        raise NodeRequestError("the request body is not a JSON object")
    if not isinstance(jti, str) or not 0 < len(jti) <= 64:
        raise NodeRequestError("the request needs a jti of at most 64 characters")
    ends = datetime.fromtimestamp(expires, now.tzinfo)
    return NodeRequest(str(claims["iss"]), purpose, body, jti, signed_at, ends)
