"""Trust chain constraints (OpenID Federation 1.0 §6.2).

A Subordinate Statement's ``constraints`` apply to its subject and to every entity below it
(§3.3); each statement's constraints are applied independently, and any failure makes the
chain invalid (§6.2). Three parameters are defined; others are ignored (§6.2):

* ``max_path_length`` (§6.2.1): at most that many Intermediates between the entity that
  sets it and the chain subject;
* ``naming_constraints`` (§6.2.2): ``permitted`` / ``excluded`` host name subtrees in the
  syntax of RFC 5280 §4.2.1.10 (``host.example.com`` is one host, ``.example.com`` any host
  below it but not ``example.com`` itself), matched against the host of each subordinate
  Entity Identifier; an excluded match wins over a permitted one;
* ``allowed_entity_types`` (§6.2.3): entity types other than these (``federation_entity``
  is always allowed and must not be listed) are removed from the subject's metadata after
  the superior's ``metadata`` is applied and before the metadata policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from registry.federation.errors import ConstraintViolationError, StatementError
from registry.federation.identifiers import host_of

FEDERATION_ENTITY = "federation_entity"


def _names(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise StatementError(f"{what} must be an array of non-empty strings")
    return value


def check_constraints(value: object) -> dict[str, Any]:
    """The syntax of a ``constraints`` claim value (§3.5 step 19, §6.2)."""
    if not isinstance(value, Mapping):
        raise StatementError("constraints must be a JSON object")
    if "max_path_length" in value:
        length = value["max_path_length"]
        if type(length) is not int or length < 0:
            raise StatementError("constraints.max_path_length must be an integer >= 0")
    if "naming_constraints" in value:
        naming = value["naming_constraints"]
        if not isinstance(naming, Mapping):
            raise StatementError("constraints.naming_constraints must be a JSON object")
        for member in ("permitted", "excluded"):
            if member in naming:
                _names(naming[member], f"constraints.naming_constraints.{member}")
    if "allowed_entity_types" in value:
        types = _names(value["allowed_entity_types"], "constraints.allowed_entity_types")
        if FEDERATION_ENTITY in types:
            raise StatementError("constraints.allowed_entity_types must not list federation_entity")
    return dict(value)


def host_matches(host: str, constraint: str) -> bool:
    """RFC 5280 §4.2.1.10 host constraint, as §6.2.2 uses it (case-insensitive)."""
    host, constraint = host.lower(), constraint.lower()
    if constraint.startswith("."):
        return host.endswith(constraint) and len(host) > len(constraint)
    return host == constraint


def enforce_constraints(
    constraints: Mapping[str, Any],
    *,
    setter: str,
    intermediates_below: int,
    subordinates: Sequence[str],
) -> None:
    """Check one statement's constraints. ``setter`` issued it; ``intermediates_below`` is the
    number of Intermediates between the setter and the chain subject; ``subordinates`` are
    the Entity Identifiers of the statement's subject and every entity below it."""
    max_path_length = constraints.get("max_path_length")
    if max_path_length is not None and intermediates_below > max_path_length:
        raise ConstraintViolationError(
            f"{setter} allows at most {max_path_length} intermediate(s) below it; "
            f"the chain has {intermediates_below}"
        )
    naming = constraints.get("naming_constraints")
    if naming is not None:
        permitted = naming.get("permitted")
        excluded = naming.get("excluded", [])
        for entity_id in subordinates:
            host = host_of(entity_id)
            if any(host_matches(host, name) for name in excluded):
                raise ConstraintViolationError(
                    f"{entity_id} is excluded by the naming constraints of {setter}"
                )
            if permitted is not None and not any(host_matches(host, name) for name in permitted):
                raise ConstraintViolationError(
                    f"{entity_id} is outside the names permitted by the naming constraints of {setter}"
                )


def filter_entity_types(metadata: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """§6.2.3: keep only the allowed entity types, and ``federation_entity``."""
    keep = {FEDERATION_ENTITY, *allowed}
    return {entity_type: value for entity_type, value in metadata.items() if entity_type in keep}
