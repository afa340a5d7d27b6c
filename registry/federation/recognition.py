"""Recognition (互认): how this node, as the receiving province, accepts credentials issued
by the other provinces' nodes.

A **recognition policy** is a numbered, published list of rules. Each rule says which
credential type of which issuing province (GB/T 2260 code) this node accepts as which of
its own catalogue's types, from which day, until which day (exclusive), on what
conditions. ``credentialType`` ``*`` accepts every type of that province that this
node's catalogue also has, as the same type; a rule naming one type wins over ``*``.
Versions are never changed: publishing makes the next version, and a verification names
the version it answered under ("recognised in Anhui as 高级工程师 under policy v3").

The rules, their checks against a catalogue and :func:`recognise` (what a verified
credential is here) are pure; :func:`publish` and :func:`load` keep the versions in the
``recognition_policy`` table, and :class:`View` is what a verification needs of them
(cached by the node for a few seconds). Serving and signing live in
``registry.routes.recognition``; the reports' sentences in ``registry.verifier``.

Days are days in China Standard Time (a rule in force "from 2027-01-01" is in force from
midnight in Beijing).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.errors import ConflictError, InvalidInputError, NotFoundError
from registry.models import CredentialType, RecognitionPolicy

#: The provinces of the federation (GB/T 2260), as in ``issuance.PROVINCES``.
PROVINCE_CODES = ("31", "32", "33", "34")
ANY_TYPE = "*"
MAX_RULES = 500
#: ``typ`` and media type of the signed policy a node publishes.
POLICY_TYP = "recognition-policy+jwt"
POLICY_MEDIA_TYPE = "application/recognition-policy+jwt"
#: Where a node serves its signed policy (under its entity identifier).
POLICY_PATH = "/federation/recognition-policy"
#: How long a signed policy may be relied on (seconds): a peer reads it again after.
POLICY_LIFETIME = 3600

#: A catalogue code (as ``catalogue._CODE``); a rule's credential type may also be ``*``.
Code = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Z][A-Z0-9_]*(-[A-Z0-9_]+)*$")
]
TypeOrAny = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^(\*|[A-Z][A-Z0-9_]*(-[A-Z0-9_]+)*)$")
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]

State = Literal["native", "recognised", "not-recognised", "no-policy", "not-applicable"]


class Conditions(BaseModel):
    """The conditions of a rule, in both languages (e.g. 须在本省聘任满一年)."""

    model_config = ConfigDict(extra="forbid")
    zh: Text
    en: Text


class RuleIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "issuerProvince": "32",
                    "credentialType": "ENG-ASSOCIATE_SENIOR",
                    "recognisedAs": "ENG-ASSOCIATE_SENIOR",
                    "validFrom": "2027-01-01",
                    "conditions": {"zh": "须在本省用人单位聘任", "en": "Once appointed by an employer here"},
                }
            ]
        },
    )
    issuerProvince: Literal["31", "32", "33", "34"] = Field(
        description="The issuing province (GB/T 2260): 31 上海, 32 江苏, 33 浙江, 34 安徽"
    )
    credentialType: TypeOrAny = Field(
        description="The issuer's catalogue code, or * for every type this node's catalogue also has"
    )
    recognisedAs: Code | None = Field(
        default=None,
        description="This node's catalogue code the type counts as; omitted with credentialType *",
    )
    validFrom: date
    validUntil: date | None = Field(default=None, description="The first day the rule no longer applies")
    conditions: Conditions | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RuleIn:
        if self.credentialType == ANY_TYPE and self.recognisedAs is not None:
            raise ValueError("a rule for every type (*) recognises each as the same type: omit recognisedAs")
        if self.credentialType != ANY_TYPE and self.recognisedAs is None:
            raise ValueError("recognisedAs is required unless credentialType is *")
        if self.validUntil is not None and self.validUntil <= self.validFrom:
            raise ValueError("validUntil must be after validFrom")
        return self


class PolicyIn(BaseModel):
    """A new version of the policy: every rule, in full (the previous version stays
    readable, unchanged)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "rules": [
                        {"issuerProvince": "31", "credentialType": "*", "validFrom": "2026-01-01"},
                        {
                            "issuerProvince": "32",
                            "credentialType": "ENG-ASSOCIATE_SENIOR",
                            "recognisedAs": "ENG-ASSOCIATE_SENIOR",
                            "validFrom": "2026-01-01",
                            "conditions": {
                                "zh": "须在本省用人单位聘任",
                                "en": "Once appointed by an employer here",
                            },
                        },
                    ],
                    "note": "长三角职称互认首批",
                    "baseVersion": 0,
                }
            ]
        },
    )
    rules: list[RuleIn] = Field(max_length=MAX_RULES)
    note: Text | None = Field(default=None, description="What changed, for the record (变更说明)")
    baseVersion: int | None = Field(
        default=None,
        ge=0,
        description="The version this one replaces (0 for the first): when another was published "
        "meanwhile, 409 and nothing is published. Without it, the latest version is replaced",
    )


@dataclass(frozen=True)
class Rule:
    issuer_province: str
    credential_type: str
    recognised_as: str | None
    valid_from: date
    valid_until: date | None
    conditions: Mapping[str, str] | None

    @classmethod
    def of(cls, item: RuleIn) -> Rule:
        return cls(
            item.issuerProvince,
            item.credentialType,
            item.recognisedAs,
            item.validFrom,
            item.validUntil,
            item.conditions.model_dump() if item.conditions else None,
        )

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Rule:
        until = value.get("validUntil")
        return cls(
            value["issuerProvince"],
            value["credentialType"],
            value.get("recognisedAs"),
            date.fromisoformat(value["validFrom"]),
            date.fromisoformat(until) if until else None,
            value.get("conditions"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "issuerProvince": self.issuer_province,
            "credentialType": self.credential_type,
            "recognisedAs": self.recognised_as,
            "validFrom": self.valid_from.isoformat(),
            "validUntil": self.valid_until.isoformat() if self.valid_until else None,
            "conditions": dict(self.conditions) if self.conditions else None,
        }

    def in_force(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)

    def overlaps(self, other: Rule) -> bool:
        """Whether both rules are in force on some day."""
        ends = self.valid_until or date.max
        other_ends = other.valid_until or date.max
        return self.valid_from < other_ends and other.valid_from < ends


@dataclass(frozen=True)
class Policy:
    version: int
    published_at: datetime
    rules: tuple[Rule, ...]
    note: str | None = None

    def rule_for(self, province: str, type_code: str, day: date) -> Rule | None:
        """The rule that decides ``type_code`` of ``province`` on ``day``: one naming
        the type, else one for every type (*), else None."""
        candidates = [r for r in self.rules if r.issuer_province == province and r.in_force(day)]
        exact = next((r for r in candidates if r.credential_type == type_code), None)
        return exact or next((r for r in candidates if r.credential_type == ANY_TYPE), None)

    def rules_json(self) -> str:
        return json.dumps([r.to_json() for r in self.rules], ensure_ascii=False, sort_keys=True)


def policy_problems(
    policy: PolicyIn, own_province: str, local_type: Callable[[str], tuple[bool, bool] | None]
) -> list[dict[str, str]]:
    """Every reason ``policy`` cannot be published by the node of ``own_province``:
    a rule for its own province (its own credentials need no recognition), a
    ``recognisedAs`` this node's catalogue lacks or has retired, two rules for the same
    type of the same province in force on a common day. ``local_type(code)`` gives
    (exists, active) or None for a code not in the catalogue."""
    problems: list[dict[str, str]] = []
    rules = [Rule.of(r) for r in policy.rules]
    for n, rule in enumerate(rules):
        where = f"rules.{n}"
        if rule.issuer_province == own_province:
            problems.append(
                {
                    "field": f"{where}.issuerProvince",
                    "message": "this node's own credentials need no recognition",
                }
            )
        if rule.recognised_as is not None:
            found = local_type(rule.recognised_as)
            if found is None:
                problems.append(
                    {
                        "field": f"{where}.recognisedAs",
                        "message": f"{rule.recognised_as} is not in this node's catalogue",
                    }
                )
            elif not found[1]:
                problems.append(
                    {
                        "field": f"{where}.recognisedAs",
                        "message": f"{rule.recognised_as} is retired from this node's catalogue",
                    }
                )
        for m in range(n):
            earlier = rules[m]
            same = (earlier.issuer_province, earlier.credential_type) == (
                rule.issuer_province,
                rule.credential_type,
            )
            if same and earlier.overlaps(rule):
                problems.append(
                    {
                        "field": f"{where}",
                        "message": f"rules {m} and {n} both decide {rule.credential_type} of "
                        f"province {rule.issuer_province} on a common day",
                    }
                )
    return problems


@dataclass(frozen=True)
class Recognition:
    """What a verified credential is in this node's terms."""

    state: State
    #: this (the verifying) node's province
    province: str
    issuer_province: str | None = None
    policy_version: int | None = None
    #: this node's catalogue code the credential counts as (recognised, native)
    recognised_as: str | None = None
    conditions: Mapping[str, str] | None = None

    @property
    def code(self) -> str:
        return f"recognition-{self.state}"


def recognise(
    *,
    policy: Policy | None,
    own_province: str,
    issuer_province: str | None,
    type_code: str | None,
    valid: bool,
    day: date,
    local_codes: Sequence[str] | frozenset[str],
) -> Recognition:
    """What a credential of ``type_code`` from ``issuer_province`` is here on ``day``.

    Only a valid credential is recognised (``valid``: the verdict was valid); one of
    this node's province is native; otherwise the policy decides, and a ``*`` rule
    recognises only a type this node's catalogue has (``local_codes``)."""
    if not valid or issuer_province is None or type_code is None:
        return Recognition("not-applicable", own_province)
    if issuer_province == own_province:
        return Recognition("native", own_province, issuer_province, recognised_as=type_code)
    if policy is None:
        return Recognition("no-policy", own_province, issuer_province)
    rule = policy.rule_for(issuer_province, type_code, day)
    local = None if rule is None else (rule.recognised_as or type_code)
    if rule is None or local not in local_codes:
        return Recognition("not-recognised", own_province, issuer_province, policy.version)
    return Recognition("recognised", own_province, issuer_province, policy.version, local, rule.conditions)


def policy_claims(policy: Policy, did: str, entity_id: str, now: datetime) -> dict[str, Any]:
    """The claims of the signed policy this node publishes (``typ`` :data:`POLICY_TYP`,
    signed with its DID key): ``iss`` its DID, ``sub`` its entity identifier."""
    return {
        "iss": did,
        "sub": entity_id,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + POLICY_LIFETIME,
        "version": policy.version,
        "published_at": int(policy.published_at.timestamp()),
        "rules": [r.to_json() for r in policy.rules],
    }


class PolicyClaimsError(ValueError):
    """A member's signed policy whose claims are not a policy."""


def policy_from_claims(claims: Mapping[str, Any], did: str, entity_id: str, now: datetime) -> Policy:
    """A member's policy from the claims of its signed policy (already verified with
    its key): for that member (``iss``, ``sub``), not expired, every rule as a rule this
    node would accept. Raises :class:`PolicyClaimsError`."""
    if claims.get("iss") != did or claims.get("sub") != entity_id:
        raise PolicyClaimsError("the policy is not the member's own (iss, sub)")
    version, published, expires = claims.get("version"), claims.get("published_at"), claims.get("exp")
    if not (type(version) is int and type(published) is int and type(expires) is int) or version < 1:
        raise PolicyClaimsError("the policy's version, published_at and exp must be integers")
    if expires <= int(now.timestamp()):
        raise PolicyClaimsError("the signed policy has expired")
    rules = claims.get("rules")
    if not isinstance(rules, list) or len(rules) > MAX_RULES:
        raise PolicyClaimsError(f"the policy's rules are not a list of at most {MAX_RULES}")
    try:
        parsed = tuple(
            Rule.of(RuleIn.model_validate({k: v for k, v in r.items() if v is not None})) for r in rules
        )
    except (ValidationError, AttributeError) as exc:
        raise PolicyClaimsError(f"a rule of the policy is not a rule: {str(exc)[:200]}") from None
    return Policy(version, datetime.fromtimestamp(min(max(published, 0), 2**33), UTC), parsed)


# --- storage -------------------------------------------------------------------------


def _policy(row: RecognitionPolicy) -> Policy:
    return Policy(
        row.version,
        row.published_at,
        tuple(Rule.from_json(r) for r in json.loads(row.rules)),
        row.note,
    )


def load(session: Session, version: int | None = None) -> Policy | None:
    """Version ``version`` of the policy (None: the latest), or None when there is none."""
    if version is None:
        row = session.exec(
            select(RecognitionPolicy).order_by(col(RecognitionPolicy.version).desc()).limit(1)
        ).first()
    else:
        row = session.get(RecognitionPolicy, version)
    return None if row is None else _policy(row)


def get(session: Session, version: int | None = None) -> Policy:
    policy = load(session, version)
    if policy is None:
        if version is None:
            raise NotFoundError("this node has not published a recognition policy yet")
        raise NotFoundError(f"this node has no recognition policy version {version}")
    return policy


def publish(session: Session, body: PolicyIn, own_province: str, actor: str, now: datetime) -> Policy:
    """Check ``body`` against this node's catalogue and store it as the next version
    (all or nothing: any problem is a 422 listing every one, and nothing is stored). Two
    admins publishing at once: one gets the version, the other a 409."""
    types = {row.code: row.active for row in session.exec(select(CredentialType)).all()}
    problems = policy_problems(
        body, own_province, lambda code: (True, types[code]) if code in types else None
    )
    if problems:
        raise InvalidInputError("the recognition policy cannot be published", errors=problems)
    latest = session.exec(select(func.max(RecognitionPolicy.version))).one() or 0
    if body.baseVersion is not None and body.baseVersion != latest:
        raise ConflictError(
            f"version {latest} is the latest, not {body.baseVersion}: read it and publish again"
        )
    policy = Policy(latest + 1, now, tuple(Rule.of(r) for r in body.rules), body.note)
    session.add(
        RecognitionPolicy(
            version=policy.version,
            published_at=now,
            published_by=actor,
            note=body.note,
            rules=policy.rules_json(),
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError(
            f"version {policy.version} was published meanwhile: read it and publish again"
        ) from None
    return policy


@dataclass(frozen=True)
class View:
    """What verification needs to answer in this node's terms: the latest policy (None
    before the first) and the names of this node's catalogue types."""

    policy: Policy | None
    type_names: Mapping[str, tuple[str, str]]

    @cached_property
    def codes(self) -> frozenset[str]:
        """This node's catalogue codes (made once: every report asks)."""
        return frozenset(self.type_names)

    @classmethod
    def read(cls, session: Session) -> View:
        rows = session.exec(select(CredentialType.code, CredentialType.name_zh, CredentialType.name_en)).all()
        return cls(load(session), {code: (zh, en) for code, zh, en in rows})

    def recognise(
        self,
        own_province: str,
        issuer_province: str | None,
        type_code: str | None,
        valid: bool,
        day: date,
    ) -> Recognition:
        return recognise(
            policy=self.policy,
            own_province=own_province,
            issuer_province=issuer_province,
            type_code=type_code,
            valid=valid,
            day=day,
            local_codes=self.codes,
        )
