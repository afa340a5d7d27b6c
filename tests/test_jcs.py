"""RFC 8785 canonicalization: the cyberphone vectors, the 10,000 number lines, the
error cases, and properties (parse(canonical(x)) == x, idempotence, fast == exact)."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.signing import jcs
from registry.signing.errors import CanonicalizationError, DuplicateMemberError
from tests.conftest import vector_path

JCS_CASES = ["arrays", "french", "structures", "unicode", "values", "weird"]


@pytest.mark.parametrize("name", JCS_CASES)
def test_cyberphone_vectors(name: str) -> None:
    source = vector_path("jcs", "input", f"{name}.json").read_bytes()
    expected = vector_path("jcs", "output", f"{name}.json").read_bytes()
    expected_hex = vector_path("jcs", "outhex", f"{name}.txt").read_text()
    canonical = jcs.canonicalize(jcs.loads(source))
    assert canonical == expected
    assert canonical.hex() == "".join(expected_hex.split())
    # The exact path agrees with whatever path canonicalize took.
    assert jcs._exact(jcs.loads(source)).encode() == expected


def test_es6_number_lines() -> None:
    lines = vector_path("jcs", "es6-numbers-10k.txt").read_text().splitlines()
    assert len(lines) == 10_000
    mismatches = []
    for line in lines:
        ieee_hex, expected = line.split(",", 1)
        value = struct.unpack(">d", bytes.fromhex(ieee_hex.zfill(16)))[0]
        got = jcs.canonicalize(value).decode()
        if got != expected:
            mismatches.append((ieee_hex, expected, got))
    assert mismatches == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (123456789012345680.0, "123456789012345680"),
        (5e-324, "5e-324"),
        (-1.7976931348623157e308, "-1.7976931348623157e+308"),
        (333333333.33333329, "333333333.3333333"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_number_serialization(value: float, expected: str) -> None:
    assert jcs.es6_number(value) == expected
    assert jcs.canonicalize([value]) == f"[{expected}]".encode()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(value: float) -> None:
    with pytest.raises(CanonicalizationError, match="NaN and Infinity"):
        jcs.canonicalize({"a": [value]})


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**20])
def test_integers_outside_ijson_range_are_refused(value: int) -> None:
    with pytest.raises(CanonicalizationError, match="I-JSON"):
        jcs.canonicalize({"n": value})


@pytest.mark.parametrize("value", [2**53 - 1, -(2**53 - 1), 0, -1])
def test_integers_at_the_edge_of_the_range(value: int) -> None:
    assert jcs.canonicalize({"n": value}) == f'{{"n":{value}}}'.encode()


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\udc00\ud800"])
def test_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(CanonicalizationError, match="lone surrogate"):
        jcs.canonicalize({"s": text})
    with pytest.raises(CanonicalizationError, match="lone surrogate"):
        jcs.canonicalize({text: 1})


@pytest.mark.parametrize("text", ['{"s":"\\ud800"}', '{ "s": "a\\udc00" }', '{"\\ud800": 1}'])
def test_escaped_lone_surrogates_are_refused_when_parsing(text: str) -> None:
    with pytest.raises(CanonicalizationError, match="lone surrogate"):
        jcs.loads(text)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (None, "str or bytes"),
        (12, "str or bytes"),
        (b"\xef\xbb\xbf{}", "byte order mark"),
        ("\ufeff{}", "byte order mark"),
        ('{"a": 1}'.encode("utf-16"), "not UTF-8"),
        ('{"a": 1}'.encode("utf-32"), "not UTF-8"),
        (b'"\xed\xa0\x80"', "not UTF-8"),
        (b'"\xff"', "not UTF-8"),
    ],
)
def test_only_utf8_json_text_is_parsed(text: object, match: str) -> None:
    with pytest.raises(CanonicalizationError, match=match):
        jcs.loads(text)  # type: ignore[arg-type]


def test_huge_integers_are_refused_without_printing_them() -> None:
    with pytest.raises(CanonicalizationError, match="I-JSON"):
        jcs.canonicalize({"x": 10**5000})


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"a":2}',
        '{"a": 1, "b": {"c": 1, "c": 1}}',
        '[{"x":true},{"y":1,"y":1}]',
        '{"\\u0061":1,"a":2}',
    ],
)
def test_duplicate_member_names_are_rejected_when_parsing(text: str) -> None:
    with pytest.raises(DuplicateMemberError):
        jcs.loads(text)
    with pytest.raises(DuplicateMemberError):
        jcs.loads(text.encode())


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a":-Infinity}', "[1e400]", "{", "", "[1,]"])
def test_malformed_or_non_ijson_text_is_rejected(text: str) -> None:
    with pytest.raises(CanonicalizationError):
        jcs.loads(text)


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+E000 (RFC 8785 §3.2.3).
    value = {"\ue000": 1, "\U0001f600": 2, "a": 3}
    assert jcs.canonicalize(value) == '{"a":3,"😀":2,"\ue000":1}'.encode()


def test_non_json_types_are_refused() -> None:
    for value in [{1: "int key"}, {"s": {1, 2}}, {"b": b"bytes"}, object()]:
        with pytest.raises(CanonicalizationError):
            jcs.canonicalize(value)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    value: Any = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(CanonicalizationError, match="deeply"):
        jcs.canonicalize(value)
    with pytest.raises(CanonicalizationError):
        jcs.loads("[" * 100_000 + "]" * 100_000)


def test_escaping_matches_rfc_8785() -> None:
    value = {"s": '\x00\x08\t\n\x0b\x0c\r\x1f\x7f"\\/\u2028é'}
    assert jcs.canonicalize(value) == (
        '{"s":"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\x7f\\"\\\\/\u2028é"}'.encode()
    )


# --- properties -----------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=30,
)


def _same(a: Any, b: Any) -> bool:
    """Equality for JSON values where -0.0 == 0 and 1.0 == 1 as RFC 8785 makes them."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(b, (int, float)) and isinstance(a, (int, float)) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_parse_of_canonical_is_the_value(value: Any) -> None:
    assert _same(jcs.loads(jcs.canonicalize(value)), value)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonicalization_is_idempotent(value: Any) -> None:
    once = jcs.canonicalize(value)
    assert jcs.canonicalize(jcs.loads(once)) == once


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fast_path_equals_exact_path(value: Any) -> None:
    assert jcs.canonicalize(value) == jcs._exact(value).encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_loads_agrees_with_the_standard_parser(value: Any) -> None:
    for text in (json.dumps(value, ensure_ascii=False), json.dumps(value, indent=2)):
        assert _same(jcs.loads(text), json.loads(text))


def test_long_integer_literals_are_read_as_doubles() -> None:
    # As ECMAScript's JSON.parse reads them; the Python int 2**53 itself is refused above.
    assert jcs.loads("9007199254740992") == 9007199254740992.0
    assert isinstance(jcs.loads("[12345678901234567890]")[0], float)
    assert jcs.canonicalize(jcs.loads("[12345678901234567890]")) == b"[12345678901234567000]"
    assert jcs.loads("9007199254740991") == 2**53 - 1
