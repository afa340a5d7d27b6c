"""JSON Schemas (draft 2020-12) of the registry's credentials, published at
``/schemas/<name>/v1.json`` and named by each credential's ``credentialSchema``.

Verifiers check a credential against the registry's own copy of the schema its
``credentialSchema`` names (by name and version, whatever the host), so a peer cannot
loosen the rules by serving a laxer schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

import jsonschema_rs

SCHEMA_NAMES = {
    "professional-title": ("ProfessionalTitleCredential", "title"),
    "professional-qualification": ("ProfessionalQualificationCredential", "qualification"),
    "vocational-skill": ("VocationalSkillCredential", "qualification"),
}
_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
_BILINGUAL: dict[str, Any] = {
    "type": "object",
    "required": ["zh", "en"],
    "properties": {"zh": _TEXT, "en": _TEXT},
}
_CODED: dict[str, Any] = {
    "type": "object",
    "required": ["code", "zh", "en"],
    "properties": {"code": _TEXT, "zh": _TEXT, "en": _TEXT},
}
_DATETIME = {"type": "string", "format": "date-time"}
_STATUS_ENTRY = {
    "type": "object",
    "required": ["type", "statusPurpose", "statusListIndex", "statusListCredential"],
    "properties": {
        "type": {"const": "BitstringStatusListEntry"},
        "statusPurpose": {"enum": ["revocation", "suspension"]},
        "statusListIndex": {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"},
        "statusListCredential": {"type": "string", "format": "uri"},
    },
}


@cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema named ``name`` (a key of :data:`SCHEMA_NAMES`)."""
    vc_type, subject_key = SCHEMA_NAMES[name]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://registry.yrd.example/schemas/{name}/v1.json",
        "title": vc_type,
        "type": "object",
        "required": [
            "@context",
            "type",
            "issuer",
            "validFrom",
            "credentialSubject",
            "credentialStatus",
            "credentialSchema",
        ],
        "properties": {
            "@context": {
                "type": "array",
                "minItems": 2,
                "prefixItems": [{"const": "https://www.w3.org/ns/credentials/v2"}],
            },
            "id": {"type": "string", "pattern": "^urn:uuid:[0-9a-f-]{36}$"},
            "type": {
                "type": "array",
                "allOf": [{"contains": {"const": "VerifiableCredential"}}, {"contains": {"const": vc_type}}],
            },
            "issuer": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": {"type": "string", "pattern": "^did:"}, "name": _BILINGUAL},
            },
            "validFrom": _DATETIME,
            "validUntil": _DATETIME,
            "credentialSubject": {
                "type": "object",
                "required": [
                    "id",
                    "name",
                    "holderCommitment",
                    subject_key,
                    "certificateNumber",
                    "evaluationCommittee",
                    "awardedOn",
                    "province",
                ],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string", "minLength": 1, "maxLength": 128},
                    "holderCommitment": {"type": "string", "pattern": "^sha256:[A-Za-z0-9_-]{43}$"},
                    subject_key: {
                        "type": "object",
                        "required": ["code", "series", "level", "name"],
                        "properties": {
                            "code": {"type": "string", "minLength": 1},
                            "series": _CODED,
                            "level": _CODED,
                            "name": _BILINGUAL,
                        },
                    },
                    # Absent where the type has no specialties.
                    "specialty": {"type": "string", "minLength": 1},
                    # A national qualification's awarding body (实施部门), not the signing node.
                    "awardingBody": _BILINGUAL,
                    "certificateNumber": {"type": "string", "pattern": "^3[1-4]-[0-9]{4}-[0-9]{7}$"},
                    "evaluationCommittee": {"type": "string", "minLength": 1},
                    "awardedOn": {"type": "string", "format": "date"},
                    "province": {"enum": ["31", "32", "33", "34"]},
                },
                "not": {"anyOf": [{"required": ["idNumber"]}, {"required": ["residentId"]}]},
            },
            "credentialStatus": {
                "type": "array",
                "minItems": 2,
                "items": _STATUS_ENTRY,
                "allOf": [
                    {"contains": {"properties": {"statusPurpose": {"const": "revocation"}}}},
                    {"contains": {"properties": {"statusPurpose": {"const": "suspension"}}}},
                ],
            },
            "credentialSchema": {
                "type": "object",
                "required": ["id", "type"],
                "properties": {"type": {"const": "JsonSchema"}},
            },
        },
    }


@cache
def _validator(name: str) -> jsonschema_rs.Draft202012Validator:
    # jsonschema-rs (Rust): about 10 µs per credential against about 800 µs for the
    # pure-Python jsonschema package, which was the largest cost of a verification.
    return jsonschema_rs.Draft202012Validator(schema(name), validate_formats=True)


def schema_name_of(schema_id: str) -> str | None:
    """The registry schema a ``credentialSchema.id`` names (``…/schemas/<name>/v1.json``)."""
    parts = schema_id.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-1] == "v1.json" and parts[-3] == "schemas" and parts[-2] in SCHEMA_NAMES:
        return parts[-2]
    return None


def schema_errors(name: str, document: Mapping[str, Any]) -> list[str]:
    """Every schema violation of ``document`` (empty when it conforms)."""
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: [str(p) for p in e.instance_path])
    return [f"{'/'.join(str(p) for p in e.instance_path) or '(root)'}: {e.message}" for e in errors]


# --- VC Data Model 2.0: the rules a credential's own members follow ---------------------
#
# W3C Verifiable Credentials Data Model v2.0 (Recommendation), checked member by member so
# that every violation names its rule. Used on what a caller asks the node to sign
# (``/credentials/issue``): a credential that breaks one is refused, never repaired.

VC_BASE_CONTEXT = "https://www.w3.org/ns/credentials/v2"
#: Terms the base context defines, at its top level and in the scope of
#: VerifiableCredential. They are protected (Appendix B.1 Base Context: "compliant
#: JSON-LD-based processors produce an error when a JSON-LD context redefines any term").
BASE_CONTEXT_TERMS = frozenset(
    {
        "id",
        "type",
        "description",
        "digestMultibase",
        "digestSRI",
        "mediaType",
        "name",
        "VerifiableCredential",
        "VerifiablePresentation",
        "EnvelopedVerifiableCredential",
        "EnvelopedVerifiablePresentation",
        "JsonSchemaCredential",
        "JsonSchema",
        "BitstringStatusListCredential",
        "BitstringStatusList",
        "BitstringStatusListEntry",
        "DataIntegrityProof",
        "confidenceMethod",
        "credentialSchema",
        "credentialStatus",
        "credentialSubject",
        "evidence",
        "holder",
        "issuer",
        "proof",
        "refreshService",
        "relatedResource",
        "renderMethod",
        "termsOfUse",
        "validFrom",
        "validUntil",
        "verifiableCredential",
        "kid",
        "iss",
        "sub",
        "jku",
        "x5u",
        "exp",
        "iat",
        "nbf",
        "cnf",
        "_sd",
        "_sd_alg",
        "...",
    }
)
# XML Schema 1.1 Part 2 dateTimeStamp (a dateTime whose time zone offset is required),
# the form VC Data Model 2.0 §4.9 requires of validFrom and validUntil.
_DATE_TIME_STAMP = re.compile(
    r"-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|24:00:00(\.0+)?)"
    r"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))",
    re.ASCII,
)
# RFC 3986 scheme ":" then something, with no white space: what §4.4 calls a URL.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+", re.ASCII)
# BCP 47 Language-Tag, the well-formed shape of its common forms (§11.1).
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", re.ASCII)
_RULES = {
    "@context": "VC Data Model 2.0 §4.3 Contexts",
    "id": "VC Data Model 2.0 §4.4 Identifiers",
    "type": "VC Data Model 2.0 §4.5 Types",
    "name": "VC Data Model 2.0 §4.6 Names and Descriptions, §11.1 Language and Base Direction",
    "issuer": "VC Data Model 2.0 §4.7 Issuer",
    "credentialSubject": "VC Data Model 2.0 §4.8 Credential Subject",
    "validFrom": "VC Data Model 2.0 §4.9 Validity Period",
    "credentialStatus": "VC Data Model 2.0 §4.10 Status",
    "credentialSchema": "VC Data Model 2.0 §4.11 Data Schemas",
    "relatedResource": "VC Data Model 2.0 §5.3 Integrity of Related Resources",
    "refreshService": "VC Data Model 2.0 §5.4 Refreshing",
    "termsOfUse": "VC Data Model 2.0 §5.5 Terms of Use",
    "evidence": "VC Data Model 2.0 §5.6 Evidence",
}
_RULES["description"] = _RULES["name"]
_RULES["validUntil"] = _RULES["validFrom"]


class Violation(NamedTuple):
    """A broken rule: the member (dotted path), the rule's section and what is wrong."""

    field: str
    rule: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


def is_url(value: Any) -> bool:
    """§4.4: a single URL (here: an absolute URI, a scheme and no white space)."""
    return isinstance(value, str) and _URL.fullmatch(value) is not None


def _objects(value: Any) -> list[Any] | None:
    """One object or a non-empty list of objects as a list; None for anything else."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return value
    return None


def _language_text_error(value: Any) -> str | None:
    """§4.6 / §11.1: a string, a language value object, or a list of them."""
    if isinstance(value, str):
        return None
    items = value if isinstance(value, list) else [value]
    if not items:
        return "must be a string or language value objects, not an empty list"
    for item in items:
        if not isinstance(item, Mapping):
            return "must be a string, a language value object, or a list of language value objects"
        extra = sorted(set(item) - {"@value", "@language", "@direction"})
        if extra:
            return (
                "a language value object MUST NOT include any other keys beyond @value, @language "
                f"and @direction (it has {', '.join(extra)})"
            )
        if not isinstance(item.get("@value"), str):
            return "a language value object MUST contain a @value property whose value is a string"
        language = item.get("@language")
        if language is not None and not (isinstance(language, str) and _LANGUAGE_TAG.fullmatch(language)):
            return "@language must be a well-formed BCP 47 language tag"
        if "@direction" in item and item["@direction"] not in ("ltr", "rtl"):
            return "@direction must be a base direction: ltr or rtl"
    return None


def _typed_objects_error(value: Any, what: str) -> str | None:
    """§5.4-§5.6 and §4.10: one or more objects, each of which MUST specify its type."""
    objects = _objects(value)
    if objects is None:
        return f"must be one or more {what} objects"
    for item in objects:
        kind = item.get("type")
        if not (
            (isinstance(kind, str) and kind)
            or (isinstance(kind, list) and kind and all(isinstance(k, str) and k for k in kind))
        ):
            return f"each {what} object MUST specify its type"
    return None


def _context_errors(context: Any) -> list[str]:
    if not isinstance(context, list):
        return ["must be an ordered set (a JSON array) whose first item is " + VC_BASE_CONTEXT]
    if not context or context[0] != VC_BASE_CONTEXT:
        return [f"the first item MUST be the URL {VC_BASE_CONTEXT}"]
    errors: list[str] = []
    for number, item in enumerate(context[1:], start=2):
        if isinstance(item, str):
            if not is_url(item):
                errors.append(f"item {number} is neither a URL nor a context object")
            elif item == VC_BASE_CONTEXT:
                errors.append(f"item {number} repeats the base context")
        elif isinstance(item, Mapping):
            redefined = sorted(term for term in item if term in BASE_CONTEXT_TERMS)
            if redefined:
                errors.append(
                    f"item {number} redefines {', '.join(redefined)}, protected by the base context "
                    "(Appendix B.1: a context that redefines a term of the base context is an error)"
                )
        else:
            errors.append(f"item {number} is neither a URL nor a context object")
    return errors


def _date_time_stamp(value: Any) -> tuple[bool, datetime | None]:
    """Whether ``value`` is a dateTimeStamp, and its instant when Python can hold it
    (not for 24:00:00 or a year past 9999, which are well-formed all the same)."""
    if not isinstance(value, str) or _DATE_TIME_STAMP.fullmatch(value) is None:
        return False, None
    try:
        return True, datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return True, None


def data_model_violations(credential: Mapping[str, Any]) -> list[Violation]:
    """Every rule of VC Data Model 2.0 that ``credential`` (unsecured: no proof is
    looked at) breaks, in the order of the specification's sections."""
    found: list[Violation] = []

    def add(member: str, message: str, path: str | None = None) -> None:
        found.append(Violation(path or member, _RULES[member], message))

    for message in _context_errors(credential.get("@context")):
        add("@context", message)
    if "id" in credential and not is_url(credential["id"]):
        add("id", "if present, the value of id MUST be a single URL")
    types = credential.get("type")
    type_list = types if isinstance(types, list) else [types]
    if not all(isinstance(t, str) and t for t in type_list) or not isinstance(types, list | str):
        add("type", "the value of type MUST be one or more terms or absolute URL strings")
    elif "VerifiableCredential" not in type_list:
        add("type", "the type of a verifiable credential MUST include VerifiableCredential")
    for member in ("name", "description"):
        if member in credential and (error := _language_text_error(credential[member])) is not None:
            add(member, f"{member} {error}")
    if "issuer" not in credential:
        add("issuer", "a verifiable credential MUST have an issuer property")
    else:
        issuer = credential["issuer"]
        issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        if not is_url(issuer_id):
            add(
                "issuer",
                "the value of issuer MUST be a URL or an object containing an id property that is a URL",
            )
        if isinstance(issuer, Mapping):
            for member in ("name", "description"):
                if member in issuer and (error := _language_text_error(issuer[member])) is not None:
                    add(member, f"issuer {member} {error}", f"issuer.{member}")
    if _objects(credential.get("credentialSubject")) is None:
        add("credentialSubject", "credentialSubject MUST be one or more objects, each the subject of claims")
    stamps: dict[str, datetime] = {}
    for member in ("validFrom", "validUntil"):
        if member in credential:
            well_formed, stamp = _date_time_stamp(credential[member])
            if not well_formed:
                add(member, f"{member} MUST be an XML Schema dateTimeStamp string (with a time zone offset)")
            elif stamp is not None:
                stamps[member] = stamp
    if len(stamps) == 2 and stamps["validFrom"] > stamps["validUntil"]:
        add("validFrom", "validFrom MUST be the same as or earlier than validUntil")
    if "credentialStatus" in credential and (
        error := _typed_objects_error(credential["credentialStatus"], "credentialStatus")
    ):
        add("credentialStatus", error)
    if "credentialSchema" in credential:
        schemas = _objects(credential["credentialSchema"])
        if schemas is None or not all(
            is_url(s.get("id")) and isinstance(s.get("type"), str) for s in schemas
        ):
            add("credentialSchema", "each credentialSchema MUST specify its type and an id that is a URL")
    if "relatedResource" in credential:
        resources = _objects(credential["relatedResource"])
        if resources is None:
            add("relatedResource", "relatedResource MUST be one or more objects")
        else:
            ids = [r.get("id") for r in resources]
            if not all(is_url(i) for i in ids):
                add("relatedResource", "the id of each related resource is REQUIRED and is a URL")
            elif len(set(ids)) != len(ids):
                add("relatedResource", "the id MUST be unique among the list of related resource objects")
            if not all(
                isinstance(r.get("digestSRI"), str) or isinstance(r.get("digestMultibase"), str)
                for r in resources
            ):
                add("relatedResource", "each related resource MUST contain a digestSRI or a digestMultibase")
    for member, what in (
        ("refreshService", "refreshService"),
        ("termsOfUse", "termsOfUse"),
        ("evidence", "evidence"),
    ):
        if member in credential and (error := _typed_objects_error(credential[member], what)):
            add(member, error)
    return found
