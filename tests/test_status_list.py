"""Bitstring Status List v1.0: the shared encoding vectors, allocation, validation."""

from __future__ import annotations

import base64
import gzip
import random
from typing import Any

import pytest

from registry.credentials.errors import StatusListError, StatusListFullError
from registry.credentials.status_list import (
    MIN_LENGTH,
    Bitstring,
    allocate_index,
    entry_status,
    status_entry,
    status_list_credential,
)
from tests.conftest import NOW, load_vector_json

URL = "https://hrss.js.example/status/revocation/1"


def _indices(spec: Any) -> list[int]:
    if isinstance(spec, dict):
        return list(range(spec["start"], spec["stop"], spec["step"]))
    return list(spec)


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = load_vector_json("bitstring-status-list", "vectors.json")["cases"]
    return cases


def test_vectors_decode_to_their_bits() -> None:
    for case in _cases():
        bits = Bitstring.decode(case["encodedList"], max_length=case["lengthBits"])
        assert bits.length == case["lengthBits"], case["name"]
        assert bits.set_indices() == _indices(case["setIndices"]), case["name"]


def test_vectors_are_reproduced_by_encoding() -> None:
    for case in _cases():
        bits = Bitstring(case["lengthBits"])
        for index in _indices(case["setIndices"]):
            bits.set(index)
        # Equal bits, and our own encoding decodes back to them (GZIP bytes may differ).
        again = Bitstring.decode(bits.encode(), max_length=case["lengthBits"])
        assert (
            again.to_bytes()
            == Bitstring.decode(case["encodedList"], max_length=case["lengthBits"]).to_bytes()
        )


def test_bit_order_is_most_significant_first() -> None:
    bits = Bitstring(MIN_LENGTH)
    bits.set(0)
    bits.set(9)
    assert bits.to_bytes()[:2] == b"\x80\x40"
    bits.set(0, False)
    assert bits.to_bytes()[:2] == b"\x00\x40"
    assert bits.get(9)
    assert not bits.get(0)
    assert not bits.get(MIN_LENGTH - 1)


def test_encoding_is_deterministic() -> None:
    bits = Bitstring()
    bits.set(12345)
    assert bits.encode() == bits.encode()
    assert bits.encode().startswith("uH4sI")  # base64url of the GZIP magic


@pytest.mark.parametrize("index", [-1, MIN_LENGTH, True, "3", 1.0])
def test_out_of_range_indices_are_refused(index: Any) -> None:
    with pytest.raises(StatusListError):
        Bitstring().get(index)


@pytest.mark.parametrize(
    ("encoded", "match"),
    [
        ("zabc", "multibase"),
        ("u!!!", "base64url"),
        ("u" + base64.urlsafe_b64encode(b"not gzip").decode().rstrip("="), "GZIP"),
        ("u" + base64.urlsafe_b64encode(gzip.compress(b"\0" * 1024)).decode().rstrip("="), "fewer than"),
        (
            "u" + base64.urlsafe_b64encode(gzip.compress(b"\0" * 16384)[:-10]).decode().rstrip("="),
            "truncated",
        ),
    ],
)
def test_malformed_lists_are_refused(encoded: str, match: str) -> None:
    with pytest.raises(StatusListError, match=match):
        Bitstring.decode(encoded)


def test_decompression_bomb_is_refused_without_expanding_it() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), mtime=0)  # 64 MiB of zeros in ~64 KB
    encoded = "u" + base64.urlsafe_b64encode(bomb).decode().rstrip("=")
    with pytest.raises(StatusListError, match="longer than"):
        Bitstring.decode(encoded)


def test_allocation_is_random_and_never_reuses() -> None:
    rng = random.Random(7)
    taken: set[int] = set()
    for _ in range(2000):
        index = allocate_index(taken.__contains__, MIN_LENGTH, rng)
        assert index not in taken
        taken.add(index)
    # Spread over the whole list, not sequential.
    assert min(taken) < MIN_LENGTH // 10
    assert max(taken) > MIN_LENGTH * 9 // 10


def test_allocation_finds_the_last_free_index_and_then_reports_full() -> None:
    length = 64
    taken = set(range(length)) - {41}
    assert allocate_index(taken.__contains__, length, random.Random(1)) == 41
    taken.add(41)
    with pytest.raises(StatusListFullError):
        allocate_index(taken.__contains__, length, random.Random(1))


def _list_credential(purpose: Any = "revocation", set_index: int | None = None) -> dict[str, Any]:
    bits = Bitstring()
    if set_index is not None:
        bits.set(set_index)
    return status_list_credential(URL, "did:web:hrss.js.example", purpose, bits, NOW)


def test_entry_status_reads_the_bit() -> None:
    entry = status_entry(URL, "revocation", 94567)
    assert entry_status(entry, _list_credential(set_index=94567)) is True
    assert entry_status(entry, _list_credential(set_index=94566)) is False


def test_list_credential_shape() -> None:
    credential = _list_credential()
    assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert credential["credentialSubject"]["type"] == "BitstringStatusList"
    assert credential["credentialSubject"]["statusPurpose"] == "revocation"
    assert credential["validFrom"] == "2026-11-27T08:00:00Z"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"statusPurpose": "suspension"}, "purpose"),
        ({"statusListIndex": str(MIN_LENGTH)}, "beyond"),
        ({"statusListIndex": "007"}, "decimal"),
        ({"statusListIndex": 5}, "decimal"),
        ({"statusListIndex": "-1"}, "decimal"),
        ({"statusListIndex": "١٢"}, "decimal"),
        ({"statusListCredential": "https://evil.example/list"}, "not the one"),
        ({"type": "StatusList2021Entry"}, "BitstringStatusListEntry"),
    ],
)
def test_entry_mismatches_are_errors_not_answers(change: dict[str, Any], match: str) -> None:
    entry = {**status_entry(URL, "revocation", 5), **change}
    with pytest.raises(StatusListError, match=match):
        entry_status(entry, _list_credential())


def test_reasons_are_published_for_set_bits_only() -> None:
    """The registry's ``statusReasons`` member: index -> reason code, for set bits only
    (a reason of a clear bit would say something the list does not)."""
    from datetime import UTC, datetime

    from registry.credentials.status_list import Bitstring, status_list_credential

    bits = Bitstring()
    bits.set(7)
    credential = status_list_credential(
        "https://hrss.js.example/status/revocation/1",
        "did:web:hrss.js.example",
        "revocation",
        bits,
        datetime(2026, 11, 27, tzinfo=UTC),
        reasons={7: "research_misconduct", 9: "issued_in_error"},
    )
    assert credential["credentialSubject"]["statusReasons"] == {"7": "research_misconduct"}
    plain = status_list_credential(
        "https://hrss.js.example/status/revocation/1",
        "did:web:hrss.js.example",
        "revocation",
        bits,
        datetime(2026, 11, 27, tzinfo=UTC),
    )
    assert "statusReasons" not in plain["credentialSubject"]
