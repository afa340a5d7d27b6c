"""Metadata policy (OpenID Federation 1.0 §6.1): check, merge down a trust chain, apply.

A ``metadata_policy`` has three levels (§6.1.2): Entity Type Identifier → metadata parameter
name → operators. The seven standard operators (§6.1.3.1) are applied in this order:
``value``, ``add``, ``default``, ``one_of``, ``subset_of``, ``superset_of``, ``essential``.

* :func:`check_metadata_policy` validates one statement's policy: structure, operator value
  types and the operator combinations each operator allows (§6.1.3, §6.1.4.1). Operators
  this code does not know are ignored, unless named critical in ``metadata_policy_crit``
  (§6.1.3.2), which is a policy error since no extension operator is implemented.
* :func:`merge_metadata_policies` merges a subordinate's policy into its superior's
  (§6.1.4.1): ``value`` and ``default`` must be equal, ``add`` and ``superset_of`` are
  united, ``one_of`` (non-empty) and ``subset_of`` intersected, ``essential`` OR-ed, and the
  merged combination must still be allowed. :func:`resolve_metadata_policy` folds a chain's
  policies from the most superior down.
* :func:`apply_metadata_policy` applies a resolved policy to metadata (§6.1.4.2).

Values are compared as JSON values (their RFC 8785 form), so ``true`` is not ``1`` and
``{"a":1,"b":2}`` equals ``{"b":2,"a":1}``. Merged arrays keep the superior's order first;
the spec leaves the order undefined. Every failure is a :class:`PolicyError`, which makes
the trust chain invalid (§6.1.4).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from registry.federation.errors import PolicyError
from registry.signing.errors import CanonicalizationError
from registry.signing.jcs import canonicalize

#: §6.1.3.1: the standard operators, in their order of application.
OPERATORS_IN_ORDER: tuple[str, ...] = (
    "value",
    "add",
    "default",
    "one_of",
    "subset_of",
    "superset_of",
    "essential",
)
STANDARD_OPERATORS = frozenset(OPERATORS_IN_ORDER)
_ARRAY_OPERATORS = frozenset({"add", "one_of", "subset_of", "superset_of"})
#: Pairs no operator lists among the combinations it allows (§6.1.3.1.2, .4, .5, .6).
_FORBIDDEN_PAIRS = (
    frozenset({"add", "one_of"}),
    frozenset({"one_of", "subset_of"}),
    frozenset({"one_of", "superset_of"}),
)

Policy = dict[str, dict[str, dict[str, Any]]]


def _key(value: Any, where: str) -> bytes:
    try:
        return canonicalize(value)
    except CanonicalizationError as exc:
        raise PolicyError(f"{where}: value cannot be compared as JSON: {exc.detail}") from None


def _keys(values: Iterable[Any], where: str) -> set[bytes]:
    return {_key(v, where) for v in values}


def _union(first: Sequence[Any], second: Sequence[Any], where: str) -> list[Any]:
    seen: set[bytes] = set()
    out: list[Any] = []
    for item in (*first, *second):
        k = _key(item, where)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def _intersection(first: Sequence[Any], second: Sequence[Any], where: str) -> list[Any]:
    keep = _keys(second, where)
    return _union([v for v in first if _key(v, where) in keep], [], where)


def _is_subset(small: Sequence[Any], large: Sequence[Any], where: str) -> bool:
    return _keys(small, where) <= _keys(large, where)


# --- checking one policy (§6.1.2, §6.1.3) -------------------------------------------


def _check_operator_value(where: str, operator: str, value: Any) -> None:
    """§6.1.3: an operator configured with an unsupported JSON type is a policy error."""
    if operator == "essential":
        if not isinstance(value, bool):
            raise PolicyError(f"{where}: 'essential' must be true or false")
    elif operator == "default":
        if value is None:
            raise PolicyError(f"{where}: 'default' must not be null")
    elif operator in _ARRAY_OPERATORS:
        # Arrays of strings, numbers or objects (§6.1.3.1.2, .4, .5, .6).
        if not isinstance(value, list) or not all(
            isinstance(v, str | int | float | dict) and not isinstance(v, bool) for v in value
        ):
            raise PolicyError(f"{where}: '{operator}' must be an array of strings, numbers or objects")
        _keys(value, where)
    # 'value' accepts any JSON value; null removes the parameter (§6.1.3.1.1).


def check_operator_combination(where: str, operators: Mapping[str, Any]) -> None:
    """The combinations each standard operator allows, and their conditions (§6.1.3.1).

    A ``value`` of ``null`` removes the parameter, so the checks that ``one_of``,
    ``subset_of`` and ``superset_of`` make on a present parameter are vacuous for it;
    ``add`` would put the removed parameter back, so it must then be empty."""
    names = STANDARD_OPERATORS.intersection(operators)
    for pair in _FORBIDDEN_PAIRS:
        if pair <= names:
            first, second = sorted(pair)
            raise PolicyError(f"{where}: '{first}' cannot be combined with '{second}'")
    if "value" in names:
        value = operators["value"]
        if value is None and "default" in names:
            raise PolicyError(f"{where}: 'value' null cannot be combined with 'default'")
        if value is None and operators.get("essential") is True:
            raise PolicyError(f"{where}: 'value' null cannot be combined with 'essential' true")
        if "add" in names:
            values = [] if value is None else value
            if not isinstance(values, list) or not _is_subset(operators["add"], values, where):
                raise PolicyError(f"{where}: the values of 'add' must be a subset of 'value'")
        if (
            value is not None
            and "one_of" in names
            and _key(value, where) not in _keys(operators["one_of"], where)
        ):
            raise PolicyError(f"{where}: 'value' must be one of 'one_of'")
        if (
            value is not None
            and "subset_of" in names
            and not (isinstance(value, list) and _is_subset(value, operators["subset_of"], where))
        ):
            raise PolicyError(f"{where}: 'value' must be a subset of 'subset_of'")
        if (
            value is not None
            and "superset_of" in names
            and not (isinstance(value, list) and _is_subset(operators["superset_of"], value, where))
        ):
            raise PolicyError(f"{where}: 'value' must be a superset of 'superset_of'")
    if {"add", "subset_of"} <= names and not _is_subset(operators["add"], operators["subset_of"], where):
        raise PolicyError(f"{where}: the values of 'add' must be a subset of 'subset_of'")
    if {"subset_of", "superset_of"} <= names and not _is_subset(
        operators["superset_of"], operators["subset_of"], where
    ):
        raise PolicyError(f"{where}: 'subset_of' must be a superset of 'superset_of'")


def check_metadata_policy(
    policy: object, critical_operators: Iterable[str] = (), what: str = "metadata_policy"
) -> Policy:
    """Validate a ``metadata_policy`` claim value and return a copy of it with only the
    standard operators. Unknown operators are dropped (§6.1.3.2) unless listed in
    ``critical_operators`` (the chain's collected ``metadata_policy_crit``)."""
    critical = frozenset(critical_operators)
    if not isinstance(policy, Mapping) or not policy:
        raise PolicyError(f"{what} must be a non-empty JSON object")
    checked: Policy = {}
    for entity_type, parameters in policy.items():
        if not isinstance(parameters, Mapping) or not parameters:
            raise PolicyError(f"{what}.{entity_type} must be a non-empty JSON object")
        checked_parameters: dict[str, dict[str, Any]] = {}
        for parameter, operators in parameters.items():
            where = f"{entity_type}.{parameter}"
            if not isinstance(operators, Mapping) or not operators:
                raise PolicyError(f"{what}.{where} must be a non-empty JSON object of operators")
            kept: dict[str, Any] = {}
            for operator, value in operators.items():
                if operator in STANDARD_OPERATORS:
                    _check_operator_value(where, operator, value)
                    kept[operator] = copy.deepcopy(value)
                elif operator in critical:
                    raise PolicyError(f"{where}: critical operator {operator!r} is not understood")
            check_operator_combination(where, kept)
            if kept:
                checked_parameters[parameter] = kept
        if checked_parameters:
            checked[entity_type] = checked_parameters
    return checked


def check_metadata_policy_crit(value: object) -> tuple[str, ...]:
    """§3.3: a non-empty array of distinct operator names that are not standard ones."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise PolicyError("metadata_policy_crit must be a non-empty array of operator names")
    if len(set(value)) != len(value):
        raise PolicyError("metadata_policy_crit lists an operator twice")
    standard = sorted(STANDARD_OPERATORS.intersection(value))
    if standard:
        raise PolicyError(f"metadata_policy_crit must not list standard operators {standard}")
    return tuple(value)


# --- merging down the chain (§6.1.4.1) ----------------------------------------------


def _merge_operator(where: str, operator: str, superior: Any, subordinate: Any) -> Any:
    if operator in ("value", "default"):
        if _key(superior, where) != _key(subordinate, where):
            raise PolicyError(f"{where}: conflicting '{operator}' values cannot be merged")
        return superior
    if operator in ("add", "superset_of"):
        return _union(superior, subordinate, where)
    if operator == "one_of":
        merged = _intersection(superior, subordinate, where)
        if not merged:
            raise PolicyError(f"{where}: the merged 'one_of' is empty")
        return merged
    if operator == "subset_of":
        return _intersection(superior, subordinate, where)  # may be empty (§6.1.3.1.5)
    if operator == "essential":
        return bool(superior) or bool(subordinate)
    raise PolicyError(f"{where}: operator {operator!r} cannot be merged")  # pragma: no cover


def merge_metadata_policies(superior: Policy, subordinate: Policy) -> Policy:
    """Merge a checked subordinate policy into a checked superior one (§6.1.4.1), at the
    three levels: entity types, parameters, operators. Neither input is modified."""
    merged: Policy = copy.deepcopy(superior)
    for entity_type, parameters in subordinate.items():
        current = merged.setdefault(entity_type, {})
        for parameter, operators in parameters.items():
            where = f"{entity_type}.{parameter}"
            if parameter not in current:
                current[parameter] = copy.deepcopy(dict(operators))
                continue
            combined = dict(current[parameter])
            for operator, value in operators.items():
                if operator in combined:
                    combined[operator] = _merge_operator(where, operator, combined[operator], value)
                else:
                    combined[operator] = copy.deepcopy(value)
            check_operator_combination(where, combined)
            current[parameter] = combined
    return merged


def resolve_metadata_policy(
    policies: Sequence[Mapping[str, Any]], critical_operators: Iterable[str] = ()
) -> Policy:
    """The chain's resolved policy (§6.1.4.1): ``policies`` are the present
    ``metadata_policy`` claims ordered from the most superior statement down to the one
    issued by the subject's immediate superior. An empty sequence gives ``{}``."""
    critical = frozenset(critical_operators)
    resolved: Policy = {}
    for policy in policies:
        resolved = merge_metadata_policies(resolved, check_metadata_policy(policy, critical))
    return resolved


# --- applying to metadata (§6.1.4.2) -------------------------------------------------


def _as_array(where: str, operator: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise PolicyError(f"{where}: '{operator}' applies to an array parameter, not {type(value).__name__}")
    return value


def apply_parameter_policy(
    where: str, present: bool, value: Any, operators: Mapping[str, Any]
) -> tuple[bool, Any]:
    """Apply one parameter's operators in the order of §6.1.3.1; returns (present, value)."""
    if present and value is None:
        raise PolicyError(f"{where}: metadata must not use null values (§5)")
    if "value" in operators:  # §6.1.3.1.1
        if operators["value"] is None:
            present, value = False, None
        else:
            present, value = True, copy.deepcopy(operators["value"])
    if "add" in operators:  # §6.1.3.1.2
        if present:
            value = _union(_as_array(where, "add", value), operators["add"], where)
        else:
            present, value = True, _union(operators["add"], [], where)
    if "default" in operators and not present:  # §6.1.3.1.3
        present, value = True, copy.deepcopy(operators["default"])
    if "one_of" in operators and present:  # §6.1.3.1.4
        if isinstance(value, list | bool) or value is None:
            raise PolicyError(f"{where}: 'one_of' applies to a single string, number or object")
        if _key(value, where) not in _keys(operators["one_of"], where):
            raise PolicyError(f"{where}: value is not one of those the policy allows")
    if "subset_of" in operators and present:  # §6.1.3.1.5: may leave []
        value = _intersection(_as_array(where, "subset_of", value), operators["subset_of"], where)
    if (  # §6.1.3.1.6
        "superset_of" in operators
        and present
        and not _is_subset(operators["superset_of"], _as_array(where, "superset_of", value), where)
    ):
        raise PolicyError(f"{where}: value does not contain every value 'superset_of' requires")
    if operators.get("essential") is True and not present:  # §6.1.3.1.7
        raise PolicyError(f"{where}: the parameter is essential but absent")
    return present, value


def apply_metadata_policy(metadata: Mapping[str, Any], policy: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a resolved policy to an entity's metadata (§6.1.4.2) and return new metadata.
    Policies for entity types the metadata does not have are not applied."""
    resolved: dict[str, Any] = copy.deepcopy(dict(metadata))
    for entity_type, parameters in policy.items():
        entity_metadata = resolved.get(entity_type)
        if entity_metadata is None:
            continue
        if not isinstance(entity_metadata, dict):
            raise PolicyError(f"metadata for {entity_type} is not a JSON object")
        for parameter, operators in parameters.items():
            present, value = apply_parameter_policy(
                f"{entity_type}.{parameter}",
                parameter in entity_metadata,
                entity_metadata.get(parameter),
                operators,
            )
            if present:
                entity_metadata[parameter] = value
            else:
                entity_metadata.pop(parameter, None)
    return resolved
