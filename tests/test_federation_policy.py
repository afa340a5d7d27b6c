"""Metadata policy (OpenID Federation 1.0 §6.1): the specification's own example (§6.1.5)
and essential/subset_of table (§6.1.3.1.8), every operator's merge rule (§6.1.4.1), every
combination the operators forbid (§6.1.3.1), and every policy error on application."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from registry.federation.errors import FederationError, PolicyError
from registry.federation.policy import (
    OPERATORS_IN_ORDER,
    apply_metadata_policy,
    apply_parameter_policy,
    check_metadata_policy,
    check_metadata_policy_crit,
    merge_metadata_policies,
    resolve_metadata_policy,
)

# --- §6.1.5 "Metadata Policy Example", verbatim ------------------------------------------

SPEC_TA_POLICY: dict[str, Any] = {
    "openid_relying_party": {
        "grant_types": {
            "default": ["authorization_code"],
            "subset_of": ["authorization_code", "refresh_token"],
            "superset_of": ["authorization_code"],
        },
        "token_endpoint_auth_method": {
            "one_of": ["private_key_jwt", "self_signed_tls_client_auth"],
            "essential": True,
        },
        "token_endpoint_auth_signing_alg": {"one_of": ["PS256", "ES256"]},
        "subject_type": {"value": "pairwise"},
        "contacts": {"add": ["helpdesk@federation.example.org"]},
    }
}
SPEC_INTERMEDIATE_POLICY: dict[str, Any] = {
    "openid_relying_party": {
        "grant_types": {"subset_of": ["authorization_code"]},
        "token_endpoint_auth_method": {"one_of": ["self_signed_tls_client_auth"]},
        "contacts": {"add": ["helpdesk@org.example.org"]},
    }
}
SPEC_INTERMEDIATE_METADATA: dict[str, Any] = {
    "openid_relying_party": {
        "sector_identifier_uri": "https://org.example.org/sector-ids.json",
        "policy_uri": "https://org.example.org/policy.html",
    }
}
SPEC_MERGED_POLICY: dict[str, Any] = {
    "grant_types": {
        "default": ["authorization_code"],
        "superset_of": ["authorization_code"],
        "subset_of": ["authorization_code"],
    },
    "token_endpoint_auth_method": {"one_of": ["self_signed_tls_client_auth"], "essential": True},
    "token_endpoint_auth_signing_alg": {"one_of": ["PS256", "ES256"]},
    "subject_type": {"value": "pairwise"},
    "contacts": {"add": ["helpdesk@federation.example.org", "helpdesk@org.example.org"]},
}
SPEC_LEAF_METADATA: dict[str, Any] = {
    "openid_relying_party": {
        "redirect_uris": ["https://rp.example.org/callback"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "self_signed_tls_client_auth",
        "contacts": ["rp_admins@rp.example.org"],
    }
}
SPEC_RESOLVED_METADATA: dict[str, Any] = {
    "redirect_uris": ["https://rp.example.org/callback"],
    "grant_types": ["authorization_code"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "self_signed_tls_client_auth",
    "subject_type": "pairwise",
    "sector_identifier_uri": "https://org.example.org/sector-ids.json",
    "policy_uri": "https://org.example.org/policy.html",
    "contacts": [
        "rp_admins@rp.example.org",
        "helpdesk@federation.example.org",
        "helpdesk@org.example.org",
    ],
}


def test_spec_example_merge_gives_the_spec_merged_policy() -> None:
    """§6.1.5: merging the Intermediate's RP policy into the Trust Anchor's."""
    merged = resolve_metadata_policy([SPEC_TA_POLICY, SPEC_INTERMEDIATE_POLICY])
    assert merged == {"openid_relying_party": SPEC_MERGED_POLICY}


def test_spec_example_application_gives_the_spec_resolved_metadata() -> None:
    """§6.1.5 / §6.1.4.2: the Intermediate's metadata first, then the merged policy."""
    metadata = {
        "openid_relying_party": {
            **SPEC_LEAF_METADATA["openid_relying_party"],
            **SPEC_INTERMEDIATE_METADATA["openid_relying_party"],
        }
    }
    merged = resolve_metadata_policy([SPEC_TA_POLICY, SPEC_INTERMEDIATE_POLICY])
    assert apply_metadata_policy(metadata, merged) == {"openid_relying_party": SPEC_RESOLVED_METADATA}


def test_spec_example_policy_of_the_structure_section_applies() -> None:
    """§6.1.2: ``default`` with ``one_of``."""
    policy = {
        "openid_relying_party": {
            "id_token_signed_response_alg": {"default": "ES256", "one_of": ["ES256", "ES384", "ES512"]}
        }
    }
    assert apply_metadata_policy({"openid_relying_party": {}}, check_metadata_policy(policy)) == {
        "openid_relying_party": {"id_token_signed_response_alg": "ES256"}
    }
    with pytest.raises(PolicyError, match="not one of"):
        apply_metadata_policy({"openid_relying_party": {"id_token_signed_response_alg": "RS256"}}, policy)


@pytest.mark.parametrize(
    ("essential", "given", "expected"),
    [
        (True, ["a", "e"], ["a"]),
        (False, ["a", "e"], ["a"]),
        (True, ["d", "e"], []),
        (False, ["d", "e"], []),
        (True, None, "error"),
        (False, None, None),
    ],
)
def test_spec_table_of_essential_and_subset_of(essential: bool, given: Any, expected: Any) -> None:
    """§6.1.3.1.8, the table row by row (``None`` is "no parameter"). An essential parameter
    left as ``[]`` by ``subset_of`` is present, so it is not an error."""
    operators = {"essential": essential, "subset_of": ["a", "b", "c"]}
    if expected == "error":
        with pytest.raises(PolicyError, match="essential"):
            apply_parameter_policy("t.p", given is not None, given, operators)
        return
    present, value = apply_parameter_policy("t.p", given is not None, given, operators)
    assert (value if present else None) == expected
    assert present is (expected is not None)


# --- merging (§6.1.4.1) ----------------------------------------------------------------


def _merge(superior: dict[str, Any], subordinate: dict[str, Any]) -> dict[str, Any]:
    merged = resolve_metadata_policy([{"t": {"p": superior}}, {"t": {"p": subordinate}}])
    return merged["t"]["p"]


def test_merge_value_equal_values_is_allowed() -> None:
    assert _merge({"value": ["a", "b"]}, {"value": ["a", "b"]}) == {"value": ["a", "b"]}


def test_merge_two_different_values_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="conflicting 'value'"):
        _merge({"value": "a"}, {"value": "b"})


def test_merge_values_compare_as_json_so_true_is_not_one() -> None:
    with pytest.raises(PolicyError, match="conflicting 'value'"):
        _merge({"value": True}, {"value": 1})


def test_merge_default_conflict_is_a_policy_error() -> None:
    assert _merge({"default": "x"}, {"default": "x"}) == {"default": "x"}
    with pytest.raises(PolicyError, match="conflicting 'default'"):
        _merge({"default": "x"}, {"default": "y"})


def test_merge_add_is_the_union() -> None:
    assert _merge({"add": ["a", "b"]}, {"add": ["b", "c"]}) == {"add": ["a", "b", "c"]}


def test_merge_superset_of_is_the_union() -> None:
    assert _merge({"superset_of": ["a"]}, {"superset_of": ["b"]}) == {"superset_of": ["a", "b"]}


def test_merge_subset_of_is_the_intersection_and_may_be_empty() -> None:
    assert _merge({"subset_of": ["a", "b", "c"]}, {"subset_of": ["c", "b", "x"]}) == {"subset_of": ["b", "c"]}
    assert _merge({"subset_of": ["a"]}, {"subset_of": ["b"]}) == {"subset_of": []}


def test_merge_one_of_is_the_intersection() -> None:
    assert _merge({"one_of": ["a", "b"]}, {"one_of": ["b", "c"]}) == {"one_of": ["b"]}


def test_merge_one_of_with_an_empty_intersection_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="merged 'one_of' is empty"):
        _merge({"one_of": ["a"]}, {"one_of": ["b"]})


@pytest.mark.parametrize(
    ("superior", "subordinate", "expected"),
    [(True, False, True), (False, True, True), (False, False, False), (True, True, True)],
)
def test_merge_essential_is_the_logical_or(superior: bool, subordinate: bool, expected: bool) -> None:
    assert _merge({"essential": superior}, {"essential": subordinate}) == {"essential": expected}


def test_merge_copies_operators_parameters_and_entity_types_absent_above() -> None:
    superior = {"t": {"p": {"essential": True}}}
    subordinate = {"t": {"p": {"one_of": ["a"]}, "q": {"value": 1}}, "u": {"r": {"default": "x"}}}
    assert merge_metadata_policies(check_metadata_policy(superior), check_metadata_policy(subordinate)) == {
        "t": {"p": {"essential": True, "one_of": ["a"]}, "q": {"value": 1}},
        "u": {"r": {"default": "x"}},
    }


def test_merge_does_not_modify_its_inputs() -> None:
    superior = check_metadata_policy({"t": {"p": {"add": ["a"]}}})
    subordinate = check_metadata_policy({"t": {"p": {"add": ["b"]}}})
    before = copy.deepcopy((superior, subordinate))
    merge_metadata_policies(superior, subordinate)
    assert (superior, subordinate) == before


@pytest.mark.parametrize(
    ("superior", "subordinate", "message"),
    [
        ({"one_of": ["a", "b"]}, {"subset_of": ["a"]}, "'one_of' cannot be combined with 'subset_of'"),
        ({"superset_of": ["a"]}, {"one_of": ["a"]}, "'one_of' cannot be combined with 'superset_of'"),
        ({"add": ["a"]}, {"one_of": ["a"]}, "'add' cannot be combined with 'one_of'"),
        ({"subset_of": ["a", "b"]}, {"value": ["c"]}, "'value' must be a subset of 'subset_of'"),
        (
            {"subset_of": ["a", "b"]},
            {"superset_of": ["c"]},
            "'subset_of' must be a superset of 'superset_of'",
        ),
        ({"value": ["a"]}, {"add": ["b"]}, "'add' must be a subset of 'value'"),
        ({"one_of": ["a", "b"]}, {"value": "c"}, "'value' must be one of 'one_of'"),
        ({"value": None}, {"essential": True}, "'value' null cannot be combined with 'essential' true"),
        ({"default": "x"}, {"value": None}, "'value' null cannot be combined with 'default'"),
    ],
)
def test_merge_into_a_forbidden_combination_is_a_policy_error(
    superior: dict[str, Any], subordinate: dict[str, Any], message: str
) -> None:
    """§6.1.4.1: a merged parameter policy with a combination §6.1.3.1 does not allow."""
    check_metadata_policy({"t": {"p": superior}})
    check_metadata_policy({"t": {"p": subordinate}})
    with pytest.raises(PolicyError, match=message):
        _merge(superior, subordinate)


def test_a_subordinate_can_only_restrict() -> None:
    """§6.1.1 "Hierarchy": an intermediate cannot widen what the anchor allows."""
    merged = _merge(
        {"subset_of": ["32.engineering.senior"]}, {"subset_of": ["32.engineering.senior", "32.health.senior"]}
    )
    assert merged == {"subset_of": ["32.engineering.senior"]}


def test_resolve_three_levels_top_down() -> None:
    anchor = {"credential_issuer": {"credential_types": {"subset_of": ["a", "b", "c"], "essential": True}}}
    intermediate = {"credential_issuer": {"credential_types": {"subset_of": ["a", "b"]}}}
    immediate = {"credential_issuer": {"credential_types": {"superset_of": ["a"]}}}
    resolved = resolve_metadata_policy([anchor, intermediate, immediate])
    assert resolved == {
        "credential_issuer": {
            "credential_types": {"subset_of": ["a", "b"], "essential": True, "superset_of": ["a"]}
        }
    }
    assert resolve_metadata_policy([]) == {}


# --- checking one policy (§6.1.2, §6.1.3) -----------------------------------------------


@pytest.mark.parametrize(
    ("operators", "message"),
    [
        ({"add": ["a"], "one_of": ["a"]}, "'add' cannot be combined with 'one_of'"),
        ({"one_of": ["a"], "subset_of": ["a"]}, "'one_of' cannot be combined with 'subset_of'"),
        ({"one_of": ["a"], "superset_of": ["a"]}, "'one_of' cannot be combined with 'superset_of'"),
        ({"value": None, "default": "a"}, "'value' null cannot be combined with 'default'"),
        ({"value": None, "essential": True}, "'value' null cannot be combined with 'essential' true"),
        ({"value": ["a"], "add": ["b"]}, "'add' must be a subset of 'value'"),
        ({"value": "a", "add": ["a"]}, "'add' must be a subset of 'value'"),
        ({"value": None, "add": ["a"]}, "'add' must be a subset of 'value'"),
        ({"add": ["x"], "subset_of": ["a"]}, "'add' must be a subset of 'subset_of'"),
        ({"value": "x", "one_of": ["a"]}, "'value' must be one of 'one_of'"),
        ({"value": ["x"], "subset_of": ["a"]}, "'value' must be a subset of 'subset_of'"),
        ({"value": "a", "subset_of": ["a"]}, "'value' must be a subset of 'subset_of'"),
        ({"value": ["x"], "superset_of": ["a"]}, "'value' must be a superset of 'superset_of'"),
        ({"subset_of": ["a"], "superset_of": ["a", "b"]}, "'subset_of' must be a superset of 'superset_of'"),
    ],
)
def test_forbidden_combinations_in_one_policy(operators: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        check_metadata_policy({"t": {"p": operators}})


@pytest.mark.parametrize(
    "operators",
    [
        {"value": ["a"], "add": ["a"], "subset_of": ["a", "b"], "superset_of": ["a"], "essential": True},
        {"value": "a", "one_of": ["a", "b"], "default": "b", "essential": False},
        {"value": None, "essential": False},
        {"value": None, "subset_of": ["a"], "superset_of": ["a"]},
        {"add": ["a"], "default": ["b"], "superset_of": ["c"], "essential": True},
        {"subset_of": ["a", "b"], "superset_of": ["a", "b"]},
        {"one_of": ["a"], "default": "b", "essential": True},
    ],
)
def test_allowed_combinations_pass(operators: dict[str, Any]) -> None:
    assert check_metadata_policy({"t": {"p": operators}}) == {"t": {"p": operators}}


@pytest.mark.parametrize(
    ("operators", "message"),
    [
        ({"essential": "yes"}, "'essential' must be true or false"),
        ({"default": None}, "'default' must not be null"),
        ({"add": "a"}, "'add' must be an array"),
        ({"one_of": "a"}, "'one_of' must be an array"),
        ({"subset_of": [True]}, "'subset_of' must be an array"),
        ({"superset_of": [["nested"]]}, "'superset_of' must be an array"),
        ({"one_of": [None]}, "'one_of' must be an array"),
    ],
)
def test_operator_value_of_an_unsupported_type_is_a_policy_error(
    operators: dict[str, Any], message: str
) -> None:
    """§6.1.3: an operator configured with an unsupported JSON type."""
    with pytest.raises(PolicyError, match=message):
        check_metadata_policy({"t": {"p": operators}})


@pytest.mark.parametrize(
    "policy",
    [[], "x", {}, {"t": {}}, {"t": []}, {"t": {"p": {}}}, {"t": {"p": ["value"]}}],
)
def test_malformed_structure_is_a_policy_error(policy: Any) -> None:
    """§6.1.2: three levels of non-empty JSON objects."""
    with pytest.raises(PolicyError):
        check_metadata_policy(policy)


def test_unknown_operators_are_ignored_unless_critical() -> None:
    """§6.1.3.2."""
    policy = {"t": {"p": {"regexp": "^a", "essential": True}, "q": {"regexp": "^b"}}}
    assert check_metadata_policy(policy) == {"t": {"p": {"essential": True}}}
    with pytest.raises(PolicyError, match="critical operator 'regexp' is not understood"):
        check_metadata_policy(policy, critical_operators=["regexp"])
    with pytest.raises(PolicyError, match="critical operator 'regexp'"):
        resolve_metadata_policy([policy], critical_operators=["regexp"])


@pytest.mark.parametrize(
    "value", [[], "regexp", ["regexp", "regexp"], ["value"], ["subset_of", "regexp"], [""], [1]]
)
def test_malformed_metadata_policy_crit_is_a_policy_error(value: Any) -> None:
    """§3.3: non-empty, distinct, not standard operator names."""
    with pytest.raises(PolicyError):
        check_metadata_policy_crit(value)


def test_metadata_policy_crit_accepts_extension_names() -> None:
    assert check_metadata_policy_crit(["regexp", "intersects"]) == ("regexp", "intersects")


# --- application (§6.1.4.2) --------------------------------------------------------------


def _apply(operators: dict[str, Any], given: Any = None) -> Any:
    metadata = {"t": {} if given is None else {"p": given}}
    return apply_metadata_policy(metadata, check_metadata_policy({"t": {"p": operators}}))["t"].get("p")


def test_value_sets_the_parameter() -> None:
    assert _apply({"value": "pairwise"}, "public") == "pairwise"
    assert _apply({"value": ["a"]}) == ["a"]


def test_value_null_removes_the_parameter() -> None:
    """§6.1.3.1.1."""
    result = apply_metadata_policy({"t": {"p": "x", "q": 1}}, {"t": {"p": {"value": None}}})
    assert result == {"t": {"q": 1}}


def test_add_appends_missing_values_and_initialises_an_absent_parameter() -> None:
    """§6.1.3.1.2."""
    assert _apply({"add": ["b", "c"]}, ["a", "b"]) == ["a", "b", "c"]
    assert _apply({"add": ["b"]}) == ["b"]


def test_default_only_when_absent() -> None:
    """§6.1.3.1.3."""
    assert _apply({"default": "x"}) == "x"
    assert _apply({"default": "x"}, "y") == "y"


def test_subset_of_removes_values_outside_the_set() -> None:
    """§6.1.3.1.5: a value modifier as well as a check."""
    assert _apply({"subset_of": ["a", "b"]}, ["c", "b", "a"]) == ["b", "a"]
    assert _apply({"subset_of": ["a", "b"]}) is None


def test_superset_of_passes_when_met() -> None:
    assert _apply({"superset_of": ["a"]}, ["a", "b"]) == ["a", "b"]
    assert _apply({"superset_of": ["a"]}) is None  # absent and voluntary: not checked


def test_one_of_compares_as_json() -> None:
    assert _apply({"one_of": [1, "1"]}, 1) == 1
    with pytest.raises(PolicyError, match="not one of"):
        _apply({"one_of": ["1"]}, 1)
    assert _apply({"one_of": [{"a": 1, "b": 2}]}, {"b": 2, "a": 1}) == {"b": 2, "a": 1}


@pytest.mark.parametrize(
    ("operators", "given", "message"),
    [
        ({"one_of": ["ES256"]}, "RS256", "not one of"),
        ({"one_of": ["a"]}, ["a"], "'one_of' applies to a single"),
        ({"one_of": ["a"]}, True, "'one_of' applies to a single"),
        ({"subset_of": ["a"]}, "a", "'subset_of' applies to an array"),
        ({"superset_of": ["a", "b"]}, ["a"], "does not contain every value"),
        ({"superset_of": ["a"]}, "a", "'superset_of' applies to an array"),
        ({"add": ["a"]}, "b", "'add' applies to an array"),
        ({"essential": True}, None, "essential but absent"),
        ({"essential": True, "subset_of": ["a"]}, None, "essential but absent"),
    ],
)
def test_application_errors(operators: dict[str, Any], given: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        _apply(operators, given)


def test_value_null_then_essential_false_leaves_it_absent() -> None:
    assert _apply({"value": None, "essential": False}, "x") is None


def test_value_then_subset_of_apply_in_order() -> None:
    """§6.1.3.1: value first, subset_of after it."""
    assert _apply({"value": ["a", "b"], "subset_of": ["a", "b", "c"]}, ["z"]) == ["a", "b"]


def test_null_metadata_value_is_refused() -> None:
    with pytest.raises(PolicyError, match="null"):
        apply_metadata_policy({"t": {"p": None}}, {"t": {"p": {"essential": True}}})


def test_policies_for_absent_entity_types_do_not_apply() -> None:
    result = apply_metadata_policy({"a": {"x": 1}}, {"b": {"y": {"essential": True}}})
    assert result == {"a": {"x": 1}}


def test_language_tagged_parameters_are_separate_parameters() -> None:
    """§6.1.2: a policy for ``name#zh`` applies only to that parameter."""
    metadata = {"federation_entity": {"organization_name": "Jiangsu", "organization_name#zh": "江苏"}}
    policy = {"federation_entity": {"organization_name#zh": {"value": "江苏省人才评价中心"}}}
    assert apply_metadata_policy(metadata, policy) == {
        "federation_entity": {"organization_name": "Jiangsu", "organization_name#zh": "江苏省人才评价中心"}
    }


def test_application_does_not_modify_its_input() -> None:
    metadata = {"t": {"p": ["a", "b"]}}
    before = copy.deepcopy(metadata)
    apply_metadata_policy(metadata, {"t": {"p": {"subset_of": ["a"], "add": ["a"]}}})
    assert metadata == before


def test_operators_are_applied_in_the_spec_order() -> None:
    assert OPERATORS_IN_ORDER == (
        "value",
        "add",
        "default",
        "one_of",
        "subset_of",
        "superset_of",
        "essential",
    )


def test_policy_error_is_a_federation_error() -> None:
    assert issubclass(PolicyError, FederationError)
    assert PolicyError.slug == "metadata-policy-error"
