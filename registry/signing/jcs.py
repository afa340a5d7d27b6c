"""RFC 8785 JSON Canonicalization Scheme (JCS), exact and fast.

``canonicalize(value)`` returns the canonical UTF-8 bytes of a JSON value made of
dict, list/tuple, str, int, float, bool and None. ``loads(text)`` parses JSON text
strictly (I-JSON, RFC 7493): duplicate member names, NaN/Infinity literals and
numbers that overflow a double are rejected when parsing.

Two paths produce the same bytes:

* The fast path hands the value to orjson with sorted keys. orjson's output is
  already RFC 8785 for strings (§3.2.2.2: only ``"``, ``\\`` and C0 controls are
  escaped, ``\\b \\t \\n \\f \\r`` short forms, ``\\u00xx`` in lower case, no other
  escaping) and for integers in the I-JSON range. It is taken only when a cheap walk
  shows the value has no float (orjson's float syntax differs from ECMAScript's:
  ``1.0`` against ``1``) and no member name outside the Basic Multilingual Plane
  (orjson sorts by code point, RFC 8785 §3.2.3 by UTF-16 code unit).
* The exact path is a small recursive serializer written from the RFC; it handles
  every case, and raises the precise error when a value cannot be canonicalized.

Errors subclass :class:`ValueError` through :class:`CanonicalizationError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

import orjson

from registry.signing.errors import CanonicalizationError, DuplicateMemberError

# I-JSON (RFC 7493 §2.2): integers outside [-(2**53)+1, 2**53-1] are not exact
# doubles, so RFC 8785 (which serializes doubles) cannot represent them faithfully.
MAX_SAFE_INTEGER = 2**53 - 1

_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical form of ``value`` as UTF-8 bytes."""
    try:
        fast = _plain(value)
    except RecursionError:
        fast = False
    if fast:
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS, default=_refuse)
        except orjson.JSONEncodeError:
            pass  # the exact path below raises the precise error
    try:
        return _exact(value).encode("utf-8")
    except RecursionError:
        raise CanonicalizationError("value is nested too deeply") from None


def _refuse(obj: Any) -> Any:
    raise TypeError


def _plain(value: Any) -> bool:
    """True when orjson's sorted output is already canonical for ``value``."""
    t = type(value)
    if t is dict:
        for key in value:
            if type(key) is not str or not (key.isascii() or _bmp_only(key)):
                return False
        items = value.values()
    elif t is list or t is tuple:
        items = value
    else:
        return t is str or t is int or t is bool or value is None
    for item in items:
        ti = type(item)
        if ti is str or ti is int or ti is bool or item is None:
            continue
        if not _plain(item):
            return False
    return True


def _bmp_only(text: str) -> bool:
    return max(map(ord, text)) <= 0xFFFF


# --- the exact path -----------------------------------------------------------


def _exact(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return str(int(value))
        # No str(value) here: a huge integer cannot even be printed (sys.set_int_max_str_digits).
        raise CanonicalizationError("an integer is outside the I-JSON range ±(2**53-1)")
    if isinstance(value, float):
        return es6_number(value)
    if isinstance(value, Mapping):
        members = []
        for key in value:
            if not isinstance(key, str):
                raise CanonicalizationError("object member names must be strings")
            _string(key)  # rejects lone surrogates before sorting
        # RFC 8785 §3.2.3: sort by the UTF-16 code units of the names.
        for key in sorted(value, key=_utf16_units):
            members.append(_string(key) + ":" + _exact(value[key]))
        return "{" + ",".join(members) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_exact(item) for item in value) + "]"
    raise CanonicalizationError(f"a {type(value).__name__} is not a JSON value")


def _utf16_units(key: str) -> bytes:
    return key.encode("utf-16-be")


def _string(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError("string holds a lone surrogate (not valid Unicode)") from None
    # json's encoder with ensure_ascii off escapes exactly what §3.2.2.2 asks for.
    return str(encode_basestring(text))


def es6_number(x: float) -> str:
    """Serialize a double as ECMAScript's Number.prototype.toString (RFC 8785 §3.2.2.3)."""
    if math.isnan(x) or math.isinf(x):
        raise CanonicalizationError("NaN and Infinity are not JSON numbers")
    if x == 0:
        return "0"  # also -0
    sign = "-" if x < 0 else ""
    # repr gives the shortest digit string that round-trips, as ECMAScript requires.
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    exponent = int(exp_text) if exp_text else 0
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + exponent  # value = 0.<digits> * 10**point
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exp = ("+" if e >= 0 else "-") + str(abs(e))
    if k == 1:
        return sign + digits + "e" + exp
    return sign + digits[0] + "." + digits[1:] + "e" + exp


# --- strict parsing -------------------------------------------------------------


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateMemberError(f"duplicate member name {key!r}")
            seen.add(key)
    return obj


def _reject_constant(name: str) -> Any:
    raise CanonicalizationError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise CanonicalizationError(f"number {text} overflows a double")
    return value


def _integer_or_double(text: str) -> int | float:
    # RFC 8785 §3.2.2.3 reads every JSON number as an IEEE 754 double. Integers in the
    # I-JSON range are exact either way and stay int; a longer one becomes the double
    # that ECMAScript's JSON.parse would make of it.
    value = int(text)
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    return _finite_float(text)


#: Deepest nesting accepted by :func:`loads`. A credential nests about eight levels;
#: serializing exactly costs time proportional to depth × size, so a body of deeply
#: nested members must be refused before that work, not after it.
MAX_DEPTH = 64
#: Most members and array elements in one text (a batch of 1,000 credentials holds
#: about 100,000): every one of them costs Python work after the parse.
MAX_ELEMENTS = 500_000
#: Compact texts up to this size skip the depth walk (12 µs on a 1.5 KB credential,
#: three times the parse): depth × size is what costs, and it stays small below it.
_DEPTH_CHECK_BYTES = 16 << 10


def _check_depth(value: Any, limit: int = MAX_DEPTH, elements: int = MAX_ELEMENTS) -> None:
    """Raise when ``value`` nests deeper than ``limit`` or holds more than ``elements``
    members and array elements in all (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise CanonicalizationError(f"JSON text is nested deeper than {limit} levels")
        seen += len(children)
        if seen > elements:
            raise CanonicalizationError(f"JSON text holds more than {elements} values")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def loads(text: str | bytes) -> Any:
    """Parse JSON text strictly: duplicate names, NaN/Infinity and overflowing numbers
    raise :class:`CanonicalizationError`; malformed text raises it too. Integers beyond
    ±(2**53-1) are read as doubles, as RFC 8785 reads every number.

    Fast path: orjson parses, and when serializing the result gives back the input
    byte for byte, the input cannot have held a duplicate name (orjson keeps the last
    of duplicates, so the round trip would come out shorter). Compact JSON, as this
    registry and most JWT libraries write it, takes that path; any other text goes
    through the standard library's parser with a duplicate-rejecting hook, and is
    refused when it nests deeper than :data:`MAX_DEPTH` (so are compact texts over
    16 KiB; orjson itself stops at 1,024 levels)."""
    if isinstance(text, (bytearray, memoryview)):
        text = bytes(text)
    if not isinstance(text, (str, bytes)):
        raise CanonicalizationError("JSON text must be str or bytes")
    try:
        value = orjson.loads(text)  # strict UTF-8: no BOM, no encoded surrogates
    except orjson.JSONDecodeError:
        pass
    else:
        compact = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        try:
            if orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER) == compact:
                if len(compact) > _DEPTH_CHECK_BYTES:
                    _check_depth(value)
                return value
        except orjson.JSONEncodeError:
            pass  # an integer beyond 2**53: the path below reads it as a double
    if isinstance(text, bytes):
        # JSON exchanged between systems is UTF-8 without a byte order mark (RFC 8259
        # §8.1); the standard parser would also guess UTF-16/32 from bytes.
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise CanonicalizationError("JSON text is not UTF-8") from None
    if text.startswith("\ufeff"):
        raise CanonicalizationError("JSON text starts with a byte order mark")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_integer_or_double,
        )
        _check_depth(value)
        # orjson refused the text or it was not compact: the standard parser lets an
        # escaped lone surrogate ("\ud800") through, which I-JSON forbids; serializing
        # exactly finds it (and anything else RFC 8785 cannot represent).
        _exact(value)
        return value
    except CanonicalizationError:
        raise
    except RecursionError:
        raise CanonicalizationError("JSON text is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CanonicalizationError(f"malformed JSON: {exc}") from None
