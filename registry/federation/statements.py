"""Entity Statements (OpenID Federation 1.0 §3): build, sign, verify.

An Entity Statement is a compact JWS with ``typ`` ``entity-statement+jwt`` (§3, media type
``application/entity-statement+jwt``, §15.1), signed here with EdDSA and a ``kid`` that is
the RFC 7638 thumbprint of the signing key (§3.1 ``jwks`` recommends it). When ``iss`` equals
``sub`` it is the entity's Entity Configuration; otherwise a Subordinate Statement issued by
a superior about its immediate subordinate.

Verification follows §3.5, in an order that reads nothing from the payload before the
signature is checked against a key set the caller trusts. :func:`unverified_claims` reads
a statement's claims without any signature check, for the one step that needs it: learning
``iss``/``sub``/``jwks`` of an Entity Configuration before its keys are vouched for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.federation.constraints import check_constraints
from registry.federation.errors import (
    FederationError,
    PolicyError,
    StatementError,
    StatementSignatureError,
    StatementTimeError,
)
from registry.federation.identifiers import check_endpoint_url, check_entity_id
from registry.federation.jws import (
    check_jwks,
    parse_compact_jws,
    same_public_key,
    sign_compact_jws,
    signing_key,
    verify_signature,
)
from registry.federation.policy import check_metadata_policy, check_metadata_policy_crit
from registry.signing.keys import Ed25519PrivateKey, jwk_thumbprint, public_key_to_jwk

ENTITY_STATEMENT_TYPE = "entity-statement+jwt"
ENTITY_STATEMENT_MEDIA_TYPE = "application/entity-statement+jwt"
#: Clock skew allowed on ``iat`` (§3.5 step 7). ``exp`` gets none: expired means expired.
DEFAULT_LEEWAY = timedelta(seconds=60)

#: Claims this specification defines for Entity Statements (§3.1-§3.4); ``crit`` must not
#: list them (§3.1 ``crit``, §13.4).
DEFINED_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "iat",
        "exp",
        "jwks",
        "metadata",
        "crit",
        "authority_hints",
        "trust_anchor_hints",
        "trust_marks",
        "trust_mark_issuers",
        "trust_mark_owners",
        "constraints",
        "metadata_policy",
        "metadata_policy_crit",
        "source_endpoint",
        "trust_anchor",
        "aud",
    }
)
#: §3.2 and §3.5 steps 14, 15, 20-22: only in Entity Configurations.
CONFIGURATION_ONLY_CLAIMS = frozenset(
    {"authority_hints", "trust_anchor_hints", "trust_marks", "trust_mark_issuers", "trust_mark_owners"}
)
#: §3.3 and §3.5 steps 17-19, 23: only in Subordinate Statements.
SUBORDINATE_ONLY_CLAIMS = frozenset(
    {"constraints", "metadata_policy", "metadata_policy_crit", "source_endpoint"}
)


@dataclass(frozen=True)
class EntityStatement:
    """An Entity Statement whose signature verified with the key set given to the verifier.

    Whether that key set is trusted is the caller's business: a trust chain makes it so
    (§4). The claims were checked for syntax and placement (§3.5)."""

    jws: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def iss(self) -> str:
        return str(self.claims["iss"])

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])

    @property
    def kid(self) -> str:
        return str(self.header["kid"])

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.claims["iat"], UTC)

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.claims["exp"], UTC)

    @property
    def jwks(self) -> Mapping[str, Any]:
        jwks: Mapping[str, Any] = self.claims["jwks"]
        return jwks

    @property
    def is_configuration(self) -> bool:
        return self.iss == self.sub

    @property
    def authority_hints(self) -> tuple[str, ...]:
        return tuple(self.claims.get("authority_hints", ()))

    @property
    def metadata(self) -> Mapping[str, Any]:
        metadata: Mapping[str, Any] = self.claims.get("metadata", {})
        return metadata

    @property
    def metadata_policy(self) -> Mapping[str, Any] | None:
        return self.claims.get("metadata_policy")

    @property
    def metadata_policy_crit(self) -> tuple[str, ...]:
        return tuple(self.claims.get("metadata_policy_crit", ()))

    @property
    def constraints(self) -> Mapping[str, Any]:
        constraints: Mapping[str, Any] = self.claims.get("constraints", {})
        return constraints


def _seconds(instant: datetime, what: str) -> float:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise FederationError(f"{what} must carry a time zone")
    return instant.timestamp()


def _numeric_date(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    # A NumericDate is a JSON number; true/false are not (bool is an int in Python).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StatementError(f"{name} claim must be a NumericDate")
    return float(value)


def _entity_ids(value: object, what: str, allow_http_loopback: bool) -> None:
    if not isinstance(value, list) or not value:
        raise StatementError(f"{what} must be a non-empty array of entity identifiers")
    for item in value:
        check_entity_id(item, f"an entry of {what}", allow_http_loopback=allow_http_loopback)
    if len(set(value)) != len(value):
        raise StatementError(f"{what} lists an entity twice")


def _check_metadata(value: object) -> None:
    """§3.1 ``metadata`` and §5: entity types map to JSON objects whose members are not null."""
    if not isinstance(value, Mapping):
        raise StatementError("metadata must be a JSON object")
    for entity_type, parameters in value.items():
        if not isinstance(parameters, Mapping):
            raise StatementError(f"metadata.{entity_type} must be a JSON object")
        nulls = sorted(name for name, v in parameters.items() if v is None)
        if nulls:
            raise StatementError(f"metadata.{entity_type} uses null for {nulls} (§5 forbids null values)")


def _check_crit(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """§13.4: a non-empty array of distinct names of claims present in the JWT and not
    defined for Entity Statements."""
    crit = claims["crit"]
    if not isinstance(crit, list) or not crit or not all(isinstance(c, str) and c for c in crit):
        raise StatementError("crit must be a non-empty array of claim names")
    if len(set(crit)) != len(crit):
        raise StatementError("crit lists a claim twice")
    defined = sorted(DEFINED_CLAIMS.intersection(crit))
    if defined:
        raise StatementError(f"crit must not list claims defined by the specification: {defined}")
    absent = sorted(set(crit).difference(claims))
    if absent:
        raise StatementError(f"crit lists claims that are not present: {absent}")
    return tuple(crit)


def check_statement_claims(claims: Mapping[str, Any], *, allow_http_loopback: bool = False) -> None:
    """The syntax and placement of every claim (§3.1-§3.5), without time or key checks."""
    iss = check_entity_id(claims.get("iss"), "iss", allow_http_loopback=allow_http_loopback)
    sub = check_entity_id(claims.get("sub"), "sub", allow_http_loopback=allow_http_loopback)
    if _numeric_date(claims, "exp") <= _numeric_date(claims, "iat"):
        raise StatementError("exp must be later than iat")
    check_jwks(claims.get("jwks"), "jwks", StatementError)
    configuration = iss == sub
    misplaced = sorted(
        (SUBORDINATE_ONLY_CLAIMS if configuration else CONFIGURATION_ONLY_CLAIMS).intersection(claims)
    )
    if misplaced:
        kind = "an Entity Configuration" if configuration else "a Subordinate Statement"
        raise StatementError(f"{misplaced} must not appear in {kind}")
    if "trust_anchor" in claims:
        raise StatementError("trust_anchor is only for Explicit Registration responses (§3.5)")
    for name in ("authority_hints", "trust_anchor_hints"):
        if name in claims:
            _entity_ids(claims[name], name, allow_http_loopback)
    if iss in claims.get("authority_hints", ()):
        raise StatementError("an entity cannot be its own authority")
    if "metadata" in claims:
        _check_metadata(claims["metadata"])
    if "metadata_policy_crit" in claims:
        check_metadata_policy_crit(claims["metadata_policy_crit"])
    if "metadata_policy" in claims:
        # Syntax only: whether critical operators are understood is the verifier's question.
        check_metadata_policy(claims["metadata_policy"])
    if "constraints" in claims:
        check_constraints(claims["constraints"])
    if "source_endpoint" in claims:
        check_endpoint_url(
            claims["source_endpoint"], "source_endpoint", allow_http_loopback=allow_http_loopback
        )
    if "trust_marks" in claims and not (
        isinstance(claims["trust_marks"], list) and all(isinstance(m, Mapping) for m in claims["trust_marks"])
    ):
        raise StatementError("trust_marks must be an array of JSON objects")
    for name in ("trust_mark_issuers", "trust_mark_owners"):
        if name in claims and not isinstance(claims[name], Mapping):
            raise StatementError(f"{name} must be a JSON object")
    if "crit" in claims:
        _check_crit(claims)


# --- building and signing --------------------------------------------------------------


def entity_statement_claims(
    *,
    iss: str,
    sub: str,
    issued_at: datetime,
    expires_at: datetime,
    jwks: Mapping[str, Any],
    authority_hints: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    metadata_policy: Mapping[str, Any] | None = None,
    metadata_policy_crit: Iterable[str] | None = None,
    constraints: Mapping[str, Any] | None = None,
    source_endpoint: str | None = None,
    crit: Iterable[str] | None = None,
    extra_claims: Mapping[str, Any] | None = None,
    allow_http_loopback: bool = False,
) -> dict[str, Any]:
    """The claims of an Entity Configuration (``iss == sub``) or a Subordinate Statement,
    checked as a verifier would check them. Times are whole seconds."""
    claims: dict[str, Any] = dict(extra_claims or {})
    overridden = sorted(DEFINED_CLAIMS.intersection(claims))
    if overridden:
        raise StatementError(f"extra_claims must not set defined claims {overridden}")
    claims.update(
        iss=iss,
        sub=sub,
        iat=int(_seconds(issued_at, "issued_at")),
        exp=int(_seconds(expires_at, "expires_at")),
        jwks=dict(jwks),
    )
    optional: dict[str, Any] = {
        "authority_hints": None if authority_hints is None else list(authority_hints),
        "metadata": metadata,
        "metadata_policy": metadata_policy,
        "metadata_policy_crit": None if metadata_policy_crit is None else list(metadata_policy_crit),
        "constraints": constraints,
        "source_endpoint": source_endpoint,
        "crit": None if crit is None else list(crit),
    }
    claims.update({name: value for name, value in optional.items() if value is not None})
    check_statement_claims(claims, allow_http_loopback=allow_http_loopback)
    return claims


def sign_entity_statement(
    claims: Mapping[str, Any], private_key: Ed25519PrivateKey, *, allow_http_loopback: bool = False
) -> str:
    """Sign checked claims as a compact JWS (``typ`` entity-statement+jwt, ``alg`` EdDSA,
    ``kid`` the key's thumbprint). An Entity Configuration must be signed by one of the keys
    in its own ``jwks`` (§4: ES[0] is signed with a key in ES[0]["jwks"])."""
    check_statement_claims(claims, allow_http_loopback=allow_http_loopback)
    public_key = private_key.public_key()
    if claims["iss"] == claims["sub"]:
        own = check_jwks(claims["jwks"], "jwks", StatementError).get(jwk_thumbprint(public_key))
        if not same_public_key(own, public_key_to_jwk(public_key)):
            raise StatementError("an Entity Configuration must be signed with a key in its own jwks")
    return sign_compact_jws(claims, private_key, ENTITY_STATEMENT_TYPE)


# --- reading and verifying --------------------------------------------------------------


def unverified_claims(token: str | bytes) -> dict[str, Any]:
    """The claims of a well-formed statement (header checked: ``typ``, ``alg``, ``kid``)
    WITHOUT any signature check. Nothing read here is trustworthy until a statement from
    a trusted superior vouches for the key that signed it."""
    return parse_compact_jws(token, ENTITY_STATEMENT_TYPE, StatementError).unverified_payload(StatementError)


def verify_entity_statement(
    token: str | bytes,
    jwks: Mapping[str, Any],
    now: datetime,
    *,
    issuer: str | None = None,
    subject: str | None = None,
    leeway: timedelta = DEFAULT_LEEWAY,
    allow_http_loopback: bool = False,
    understood_claims: Iterable[str] = (),
) -> EntityStatement:
    """Verify a statement with the issuer's key set ``jwks`` (§3.5) at instant ``now``.

    Raises :class:`StatementError` (format, claims, unknown critical claim),
    :class:`StatementSignatureError` (kid not in ``jwks``, bad signature),
    :class:`StatementTimeError` (``iat`` beyond ``now + leeway``, ``exp`` not after ``now``)
    or :class:`PolicyError` (malformed or uncomprehended ``metadata_policy``)."""
    stamp = _seconds(now, "now")
    # 1-3. A signed JWT with typ entity-statement+jwt and an accepted alg (never none).
    parsed = parse_compact_jws(token, ENTITY_STATEMENT_TYPE, StatementError)
    # 11-12. The kid names a key of the issuer's vouched set; the signature verifies with it.
    keys = check_jwks(jwks, "the issuer's key set", StatementError)
    verify_signature(parsed, signing_key(keys, parsed.kid, StatementSignatureError), StatementSignatureError)
    # Only now is the payload read.
    claims = parsed.unverified_payload(StatementError)
    # 4-6, 9, 13-23. Required claims, their types, entity identifiers, placement.
    check_statement_claims(claims, allow_http_loopback=allow_http_loopback)
    if issuer is not None and claims["iss"] != issuer:
        raise StatementError(f"statement is issued by {claims['iss']}, not by {issuer}")
    if subject is not None and claims["sub"] != subject:
        raise StatementError(f"statement is about {claims['sub']}, not about {subject}")
    # 7-8. iat not in the future (small leeway), exp in the future.
    if claims["iat"] > stamp + leeway.total_seconds():
        raise StatementTimeError(f"statement by {claims['iss']} is issued in the future (iat)")
    if stamp >= claims["exp"]:
        raise StatementTimeError(f"statement by {claims['iss']} about {claims['sub']} has expired (exp)")
    # 13. Critical claims must be understood by the caller.
    if "crit" in claims:
        unknown = sorted(set(claims["crit"]).difference(understood_claims))
        if unknown:
            raise StatementError(f"critical claim(s) {unknown} are not understood")
    # 18. Critical policy operators must be understood (§3.3, §6.1.3.2: a policy error). No
    # extension operator is implemented, so any listed one invalidates the statement.
    if "metadata_policy_crit" in claims:
        raise PolicyError(
            f"critical metadata policy operator(s) {claims['metadata_policy_crit']} are not understood"
        )
    return EntityStatement(jws=parsed.token, header=dict(parsed.header), claims=claims)


def verify_entity_configuration(
    token: str | bytes,
    entity_id: str,
    now: datetime,
    *,
    leeway: timedelta = DEFAULT_LEEWAY,
    allow_http_loopback: bool = False,
    understood_claims: Iterable[str] = (),
) -> EntityStatement:
    """An Entity Configuration of ``entity_id`` checked against its own ``jwks`` (§3.5 step
    10: the issuing entity's configuration is the statement itself). This proves only that
    the statement is self-consistent; a superior's statement must vouch for the keys."""
    claims = unverified_claims(token)
    if claims.get("iss") != entity_id or claims.get("sub") != entity_id:
        raise StatementError(f"not the Entity Configuration of {entity_id} (iss and sub must both name it)")
    own_jwks = claims.get("jwks")
    return verify_entity_statement(
        token,
        own_jwks if isinstance(own_jwks, Mapping) else {},
        now,
        issuer=entity_id,
        subject=entity_id,
        leeway=leeway,
        allow_http_loopback=allow_http_loopback,
        understood_claims=understood_claims,
    )


__all__ = [
    "CONFIGURATION_ONLY_CLAIMS",
    "DEFAULT_LEEWAY",
    "DEFINED_CLAIMS",
    "ENTITY_STATEMENT_MEDIA_TYPE",
    "ENTITY_STATEMENT_TYPE",
    "SUBORDINATE_ONLY_CLAIMS",
    "EntityStatement",
    "check_statement_claims",
    "entity_statement_claims",
    "sign_entity_statement",
    "unverified_claims",
    "verify_entity_configuration",
    "verify_entity_statement",
]
