"""The key ring: which keys were valid for signing at an instant, across creation,
rotation (retired is exclusive) and compromise, with every instant passed in."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from registry.errors import RegistryError
from registry.signing.errors import KeyMaterialError, KeyNotValidAtError
from registry.signing.keyring import KeyRecord, KeyRing, require_aware
from registry.signing.keys import (
    Ed25519PrivateKey,
    generate_private_key,
    jwk_thumbprint,
    public_key_raw,
    public_key_to_multikey,
)

T0 = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)  # first key active
T1 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # rotation
TICK = timedelta(microseconds=1)
CST = timezone(timedelta(hours=8))


def kid_of(key: Ed25519PrivateKey) -> str:
    return jwk_thumbprint(key.public_key())


@pytest.fixture
def old_key() -> Ed25519PrivateKey:
    return generate_private_key()


@pytest.fixture
def new_key() -> Ed25519PrivateKey:
    return generate_private_key()


@pytest.fixture
def ring(old_key: Ed25519PrivateKey) -> KeyRing:
    return KeyRing.start(old_key, T0)


@pytest.fixture
def rotated(ring: KeyRing, new_key: Ed25519PrivateKey) -> KeyRing:
    return ring.rotate(new_key, T1)


def kids(records: list[KeyRecord]) -> list[str]:
    return [r.kid for r in records]


# --- start ------------------------------------------------------------------------------


def test_start(ring: KeyRing, old_key: Ed25519PrivateKey) -> None:
    (record,) = ring.records
    assert record.kid == kid_of(old_key)
    assert record.created == record.activated == T0
    assert record.retired is None
    assert record.compromised_from is None
    assert ring.private_keys == {record.kid: old_key}


def test_valid_at_around_activation(ring: KeyRing, old_key: Ed25519PrivateKey) -> None:
    assert ring.valid_at(T0 - TICK) == []
    assert kids(ring.valid_at(T0)) == [kid_of(old_key)]
    assert kids(ring.valid_at(T0 + timedelta(days=3650))) == [kid_of(old_key)]


def test_signing_key_before_activation_raises(ring: KeyRing) -> None:
    with pytest.raises(KeyNotValidAtError):
        ring.signing_key(T0 - TICK)


def test_key_not_valid_at_error_is_a_key_material_error() -> None:
    assert issubclass(KeyNotValidAtError, KeyMaterialError)
    assert issubclass(KeyNotValidAtError, RegistryError)
    assert KeyNotValidAtError.slug == "key-not-valid-at-instant"


def test_a_key_added_without_activation_is_never_valid(ring: KeyRing, new_key: Ed25519PrivateKey) -> None:
    staged = ring.with_key(new_key, T0 + timedelta(days=1), activate=False)
    record = staged.record(kid_of(new_key))
    assert record.activated is None
    assert not record.valid_for_signing_at(T1)
    assert kids(staged.valid_at(T1)) == [staged.records[0].kid]
    assert staged.signing_key(T1)[0].kid == staged.records[0].kid
    with pytest.raises(KeyNotValidAtError):
        staged.check_valid_at(kid_of(new_key), T1)


# --- rotation ----------------------------------------------------------------------------


def test_rotate_retires_the_old_key_at_the_rotation_instant(
    rotated: KeyRing, old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    old, new = rotated.records
    assert old.kid == kid_of(old_key)
    assert old.retired == T1
    assert new.kid == kid_of(new_key)
    assert new.created == new.activated == T1
    assert new.retired is None


def test_valid_at_across_a_rotation(
    rotated: KeyRing, old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    assert rotated.valid_at(T0 - TICK) == []
    assert kids(rotated.valid_at(T0)) == [kid_of(old_key)]
    assert kids(rotated.valid_at(T1 - TICK)) == [kid_of(old_key)]
    # Retired is exclusive: at the rotation instant only the new key is valid.
    assert kids(rotated.valid_at(T1)) == [kid_of(new_key)]
    assert kids(rotated.valid_at(T1 + timedelta(days=1))) == [kid_of(new_key)]


def test_the_retirement_boundary_does_not_depend_on_the_time_zone(
    rotated: KeyRing, old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    at_rotation_in_shanghai = T1.astimezone(CST)
    assert at_rotation_in_shanghai.hour == 8
    assert kids(rotated.valid_at(at_rotation_in_shanghai)) == [kid_of(new_key)]
    assert kids(rotated.valid_at(at_rotation_in_shanghai - TICK)) == [kid_of(old_key)]


def test_signing_key_picks_the_new_key_after_rotation(
    rotated: KeyRing, old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    record, private_key = rotated.signing_key(T1)
    assert record.kid == kid_of(new_key)
    assert private_key is new_key
    record, private_key = rotated.signing_key(T1 - TICK)
    assert record.kid == kid_of(old_key)
    assert private_key is old_key


def test_signing_key_raises_when_no_key_is_valid(rotated: KeyRing) -> None:
    with pytest.raises(KeyNotValidAtError):
        rotated.signing_key(T0 - timedelta(seconds=1))


def test_credential_signed_before_rotation_stays_valid_for_the_old_key(
    rotated: KeyRing, old_key: Ed25519PrivateKey
) -> None:
    kid = kid_of(old_key)
    assert rotated.check_valid_at(kid, T0 + timedelta(days=30)).kid == kid
    assert rotated.check_valid_at(kid, T1 - TICK).kid == kid
    with pytest.raises(KeyNotValidAtError):
        rotated.check_valid_at(kid, T1)
    with pytest.raises(KeyNotValidAtError):
        rotated.check_valid_at(kid, T1 + timedelta(days=30))


def test_check_valid_at_unknown_kid(rotated: KeyRing) -> None:
    with pytest.raises(KeyMaterialError) as info:
        rotated.check_valid_at(kid_of(generate_private_key()), T1)
    assert not isinstance(info.value, KeyNotValidAtError)


def test_second_rotation_keeps_the_history(
    rotated: KeyRing, old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    third = generate_private_key()
    t2 = T1 + timedelta(days=90)
    ring = rotated.rotate(third, t2)
    assert [r.retired for r in ring.records] == [T1, t2, None]
    assert kids(ring.valid_at(T1 - TICK)) == [kid_of(old_key)]
    assert kids(ring.valid_at(t2 - TICK)) == [kid_of(new_key)]
    assert kids(ring.valid_at(t2)) == [kid_of(third)]
    assert ring.signing_key(t2)[1] is third


# --- whole-second bounds -----------------------------------------------------------------------
# Proofs state their creation instant to the second, so activation is floored and
# retirement by rotation is ceiled to whole seconds.

HALF = timedelta(milliseconds=500)


def test_activation_is_floored_to_the_second(old_key: Ed25519PrivateKey) -> None:
    ring = KeyRing.start(old_key, T0 + HALF)
    (record,) = ring.records
    assert record.created == T0 + HALF
    assert record.activated == T0
    assert kids(ring.valid_at(T0)) == [kid_of(old_key)]
    assert ring.valid_at(T0 - TICK) == []


def test_rotation_within_a_second_overlaps_for_that_second(
    ring: KeyRing, old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    rotated = ring.rotate(new_key, T1 + HALF)
    old, new = rotated.records
    assert old.retired == T1 + timedelta(seconds=1)
    assert new.activated == T1
    # A proof dated T1 (to the second) verifies with either key; the newest one signs.
    assert kids(rotated.valid_at(T1)) == [kid_of(old_key), kid_of(new_key)]
    assert kids(rotated.valid_at(T1 + timedelta(seconds=1) - TICK)) == [kid_of(old_key), kid_of(new_key)]
    assert kids(rotated.valid_at(T1 + timedelta(seconds=1))) == [kid_of(new_key)]
    assert rotated.signing_key(T1 + HALF)[1] is new_key
    assert rotated.check_valid_at(kid_of(old_key), T1 + HALF).kid == kid_of(old_key)


def test_rotation_on_a_whole_second_does_not_overlap(rotated: KeyRing) -> None:
    old, new = rotated.records
    assert old.retired == new.activated == T1


def test_compromise_instant_is_not_rounded(ring: KeyRing, old_key: Ed25519PrivateKey) -> None:
    since = T0 + timedelta(days=10) + HALF
    marked = ring.mark_compromised(kid_of(old_key), since)
    assert marked.record(kid_of(old_key)).compromised_from == since
    assert marked.check_valid_at(kid_of(old_key), since - TICK).kid == kid_of(old_key)
    with pytest.raises(KeyNotValidAtError):
        marked.check_valid_at(kid_of(old_key), since)


# --- published keys ------------------------------------------------------------------------------


def test_published_at_keeps_retired_keys_and_drops_compromised_and_inactive(
    old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    leaked, staged, future = generate_private_key(), generate_private_key(), generate_private_key()
    now = T1 + timedelta(days=2)
    ring = (
        KeyRing.start(leaked, T0)
        .rotate(old_key, T0 + timedelta(days=30))
        .mark_compromised(kid_of(leaked), T0 + timedelta(days=10))
        .rotate(new_key, T1)
        .with_key(staged, T1 + timedelta(days=1), activate=False)
        .rotate(future, now + timedelta(days=1))
    )
    assert kids(ring.published_at(now)) == [kid_of(old_key), kid_of(new_key)]
    assert kids(ring.published_at(now + timedelta(days=1))) == [
        kid_of(old_key),
        kid_of(new_key),
        kid_of(future),
    ]
    assert ring.published_at(T0 - TICK) == []


# --- compromise ---------------------------------------------------------------------------


def test_compromised_from(ring: KeyRing, old_key: Ed25519PrivateKey) -> None:
    kid = kid_of(old_key)
    since = T0 + timedelta(days=10)
    marked = ring.mark_compromised(kid, since)
    assert marked.record(kid).compromised_from == since
    assert marked.check_valid_at(kid, since - TICK).kid == kid
    assert kids(marked.valid_at(T0)) == [kid]
    for instant in (since, since + TICK, since + timedelta(days=365)):
        assert marked.valid_at(instant) == []
        with pytest.raises(KeyNotValidAtError):
            marked.check_valid_at(kid, instant)
        with pytest.raises(KeyNotValidAtError):
            marked.signing_key(instant)


def test_compromise_of_a_retired_key(rotated: KeyRing, old_key: Ed25519PrivateKey) -> None:
    kid = kid_of(old_key)
    since = T0 + timedelta(days=10)
    marked = rotated.mark_compromised(kid, since)
    assert marked.check_valid_at(kid, since - TICK).kid == kid
    with pytest.raises(KeyNotValidAtError):
        marked.check_valid_at(kid, since)
    # The active key is untouched.
    assert marked.signing_key(T1)[0].kid != kid


def test_marking_compromised_earlier_moves_the_instant(ring: KeyRing, old_key: Ed25519PrivateKey) -> None:
    kid = kid_of(old_key)
    first = T0 + timedelta(days=10)
    earlier = T0 + timedelta(days=5)
    marked = ring.mark_compromised(kid, first).mark_compromised(kid, earlier)
    assert marked.record(kid).compromised_from == earlier
    with pytest.raises(KeyNotValidAtError):
        marked.check_valid_at(kid, earlier)
    assert marked.check_valid_at(kid, earlier - TICK).kid == kid


@pytest.mark.parametrize("later", [timedelta(0), timedelta(days=1), timedelta(days=400)])
def test_marking_compromised_later_does_not_move_the_instant(
    ring: KeyRing, old_key: Ed25519PrivateKey, later: timedelta
) -> None:
    kid = kid_of(old_key)
    first = T0 + timedelta(days=10)
    marked = ring.mark_compromised(kid, first)
    again = marked.mark_compromised(kid, first + later)
    assert again.record(kid).compromised_from == first
    assert again == marked


def test_mark_compromised_unknown_kid(ring: KeyRing) -> None:
    with pytest.raises(KeyMaterialError):
        ring.mark_compromised("no-such-kid", T1)


def test_rotation_after_compromise(
    ring: KeyRing, old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    since = T0 + timedelta(days=10)
    ring = ring.mark_compromised(kid_of(old_key), since).rotate(new_key, T1)
    assert ring.valid_at(since) == []
    assert ring.signing_key(T1)[1] is new_key
    assert ring.check_valid_at(kid_of(old_key), since - TICK).kid == kid_of(old_key)


# --- time zones -------------------------------------------------------------------------------

NAIVE = datetime(2026, 3, 1, 12, 0)


def test_require_aware() -> None:
    assert require_aware(T0) is T0
    with pytest.raises(KeyMaterialError):
        require_aware(NAIVE)


@pytest.mark.parametrize(
    "call",
    [
        lambda ring, key: KeyRing.start(key, NAIVE),
        lambda ring, key: ring.rotate(key, NAIVE),
        lambda ring, key: ring.with_key(key, NAIVE, activate=True),
        lambda ring, key: ring.mark_compromised(ring.records[0].kid, NAIVE),
        lambda ring, key: ring.valid_at(NAIVE),
        lambda ring, key: ring.check_valid_at(ring.records[0].kid, NAIVE),
        lambda ring, key: ring.signing_key(NAIVE),
        lambda ring, key: ring.records[0].valid_for_signing_at(NAIVE),
    ],
    ids=[
        "start",
        "rotate",
        "with_key",
        "mark_compromised",
        "valid_at",
        "check_valid_at",
        "signing_key",
        "record",
    ],
)
def test_naive_datetimes_are_rejected(ring: KeyRing, new_key: Ed25519PrivateKey, call: Any) -> None:
    with pytest.raises(KeyMaterialError, match="time zone"):
        call(ring, new_key)


# --- duplicates ---------------------------------------------------------------------------------


def test_adding_the_same_key_twice_is_rejected(rotated: KeyRing, old_key: Ed25519PrivateKey) -> None:
    with pytest.raises(KeyMaterialError, match="already"):
        rotated.with_key(old_key, T1, activate=False)
    with pytest.raises(KeyMaterialError, match="already"):
        rotated.rotate(old_key, T1 + timedelta(days=1))


def test_rotating_to_the_active_key_is_rejected(ring: KeyRing, old_key: Ed25519PrivateKey) -> None:
    with pytest.raises(KeyMaterialError):
        ring.rotate(old_key, T1)


# --- immutability ----------------------------------------------------------------------------------


def test_rotate_returns_a_new_ring_and_leaves_the_old_one(
    ring: KeyRing, old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    before = (ring.records, dict(ring.private_keys))
    rotated = ring.rotate(new_key, T1)
    assert rotated is not ring
    assert (ring.records, ring.private_keys) == before
    assert ring.records[0].retired is None
    assert kid_of(new_key) not in ring.private_keys
    assert ring.signing_key(T1)[1] is old_key


def test_mark_compromised_leaves_the_old_ring(ring: KeyRing, old_key: Ed25519PrivateKey) -> None:
    marked = ring.mark_compromised(kid_of(old_key), T1)
    assert marked is not ring
    assert ring.records[0].compromised_from is None
    assert ring.signing_key(T1)[1] is old_key


def test_ring_and_records_are_frozen(ring: KeyRing) -> None:
    assert isinstance(ring.records, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ring.records = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ring.records[0].retired = T1  # type: ignore[misc]


# --- public records ---------------------------------------------------------------------------------


def history(old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey) -> KeyRing:
    return (
        KeyRing.start(old_key, T0)
        .rotate(new_key, T1)
        .mark_compromised(kid_of(old_key), T0 + timedelta(days=10))
        .with_key(generate_private_key(), T1 + timedelta(days=1), activate=False)
    )


def test_public_records_shape(old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey) -> None:
    records = history(old_key, new_key).public_records()
    assert records[0] == {
        "kid": kid_of(old_key),
        "publicKeyMultibase": public_key_to_multikey(old_key.public_key()),
        "created": "2026-01-01T00:00:00+00:00",
        "activated": "2026-01-01T00:00:00+00:00",
        "retired": "2026-06-01T00:00:00+00:00",
        "compromisedFrom": "2026-01-11T00:00:00+00:00",
    }
    assert records[2]["activated"] is None
    assert records[2]["retired"] is None
    # Nothing private in the public records.
    assert all(set(r) == set(records[0]) for r in records)


def test_public_records_round_trip_without_private_keys(
    old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    ring = history(old_key, new_key)
    wire = json.loads(json.dumps(ring.public_records()))
    copy = KeyRing.from_public_records(wire)
    assert copy.records == ring.records
    assert [public_key_raw(r.public_key) for r in copy.records] == [
        public_key_raw(r.public_key) for r in ring.records
    ]
    assert copy.private_keys == {}
    assert copy.public_records() == ring.public_records()
    # The history still answers, but nothing can sign.
    assert kids(copy.valid_at(T1)) == [kid_of(new_key)]
    with pytest.raises(KeyNotValidAtError):
        copy.signing_key(T1)


def test_public_records_round_trip_with_private_keys(
    old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey
) -> None:
    ring = history(old_key, new_key)
    copy = KeyRing.from_public_records(ring.public_records(), dict(ring.private_keys))
    assert copy.records == ring.records
    assert copy.signing_key(T1)[1] is new_key


def test_public_records_keep_the_time_zone(old_key: Ed25519PrivateKey) -> None:
    ring = KeyRing.start(old_key, T0.astimezone(CST))
    (record,) = ring.public_records()
    assert record["created"] == "2026-01-01T08:00:00+08:00"
    copy = KeyRing.from_public_records([record])
    assert copy.records[0].activated == T0


def test_tampered_kid_is_rejected(old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey) -> None:
    records = history(old_key, new_key).public_records()
    records[1]["kid"] = records[0]["kid"]
    with pytest.raises(KeyMaterialError, match="kid"):
        KeyRing.from_public_records(records)


def test_tampered_public_key_is_rejected(old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey) -> None:
    records = history(old_key, new_key).public_records()
    records[0]["publicKeyMultibase"] = records[1]["publicKeyMultibase"]
    with pytest.raises(KeyMaterialError):
        KeyRing.from_public_records(records)


def test_mismatched_private_key_is_rejected(old_key: Ed25519PrivateKey, new_key: Ed25519PrivateKey) -> None:
    ring = history(old_key, new_key)
    with pytest.raises(KeyMaterialError, match="does not match"):
        KeyRing.from_public_records(ring.public_records(), {kid_of(old_key): new_key})


def test_record_without_creation_instant_is_rejected(old_key: Ed25519PrivateKey) -> None:
    (record,) = KeyRing.start(old_key, T0).public_records()
    record["created"] = None
    with pytest.raises(KeyMaterialError):
        KeyRing.from_public_records([record])


@pytest.mark.parametrize("field", ["created", "activated", "retired", "compromisedFrom"])
def test_record_with_naive_instant_is_rejected(old_key: Ed25519PrivateKey, field: str) -> None:
    (record,) = KeyRing.start(old_key, T0).public_records()
    record[field] = "2026-01-01T00:00:00"
    with pytest.raises(KeyMaterialError, match="time zone"):
        KeyRing.from_public_records([record])


MISSING = object()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created", "yesterday"),
        ("retired", "2026-13-01T00:00:00+00:00"),
        pytest.param("kid", MISSING, id="kid-missing"),
    ],
)
def test_malformed_record_is_a_registry_error(old_key: Ed25519PrivateKey, field: str, value: Any) -> None:
    (record,) = KeyRing.start(old_key, T0).public_records()
    if value is MISSING:
        del record[field]
    else:
        record[field] = value
    with pytest.raises(KeyMaterialError):
        KeyRing.from_public_records([record])


def test_records_listing_a_key_twice_or_retired_before_activation_are_refused() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ring = KeyRing.start(generate_private_key(), start)
    record = ring.public_records()[0]
    with pytest.raises(KeyMaterialError, match="twice"):
        KeyRing.from_public_records([record, record])
    backwards = {**record, "retired": (start - timedelta(days=1)).isoformat()}
    with pytest.raises(KeyMaterialError, match="retired before"):
        KeyRing.from_public_records([backwards])
