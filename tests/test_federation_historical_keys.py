"""Federation historical keys (OpenID Federation 1.0 §8.7): the signed JWK Set
(``jwk-set+jwt``), its strict verification, and whether a key of an entity was valid
(issued, not expired, not revoked) at an instant, revoked before and after it included."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registry.federation.errors import FederationKeyNotValidError, HistoricalKeysError
from registry.federation.historical_keys import (
    HISTORICAL_KEYS_TYPE,
    HistoricalKeySet,
    check_key_valid_at,
    historical_key,
    sign_historical_keys,
    verify_historical_keys,
    was_key_valid_at,
)
from registry.federation.jws import federation_jwks, sign_compact_jws
from registry.federation.statements import ENTITY_STATEMENT_TYPE
from registry.signing.encoding import b64url_decode
from registry.signing.keys import generate_private_key, jwk_thumbprint

NOW = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
JIANGSU = "https://js.yrd.example"
CURRENT = generate_private_key()
CURRENT_JWKS = federation_jwks(CURRENT.public_key())
RETIRED = generate_private_key()  # rotated out normally: superseded
COMPROMISED = generate_private_key()  # compromised from an instant
RETIRED_KID = jwk_thumbprint(RETIRED.public_key())
COMPROMISED_KID = jwk_thumbprint(COMPROMISED.public_key())
COMPROMISED_AT = NOW - 10 * DAY


def _entries() -> list[dict[str, Any]]:
    return [
        historical_key(RETIRED.public_key(), issued_at=NOW - 400 * DAY, expires_at=NOW - 30 * DAY),
        historical_key(
            COMPROMISED.public_key(),
            issued_at=NOW - 30 * DAY,
            expires_at=NOW + 300 * DAY,
            revoked_at=COMPROMISED_AT,
            reason="compromised",
        ),
    ]


def _token(**overrides: Any) -> str:
    return sign_historical_keys(JIANGSU, NOW - DAY, _entries(), CURRENT, **overrides)


def _history() -> HistoricalKeySet:
    return verify_historical_keys(_token(), JIANGSU, CURRENT_JWKS, NOW)


def test_round_trip_and_the_spec_shape() -> None:
    """§8.7.2: typ jwk-set+jwt, kid in the header, claims iss, iat and keys."""
    token = _token()
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header == {"alg": "EdDSA", "typ": "jwk-set+jwt", "kid": jwk_thumbprint(CURRENT.public_key())}
    claims = json.loads(b64url_decode(token.split(".")[1]))
    assert set(claims) == {"iss", "iat", "keys"}
    assert claims["keys"][1]["revoked"] == {
        "revoked_at": int(COMPROMISED_AT.timestamp()),
        "reason": "compromised",
    }
    assert {"kid", "kty", "crv", "x", "iat", "exp"} <= set(claims["keys"][0])
    history = _history()
    assert history.issuer == JIANGSU
    assert history.issued_at == NOW - DAY
    assert [key.kid for key in history.keys] == [RETIRED_KID, COMPROMISED_KID]
    compromised = history.key(COMPROMISED_KID)
    assert compromised is not None
    assert compromised.reason == "compromised"


def test_a_key_was_valid_between_issuance_and_expiry() -> None:
    history = _history()
    assert was_key_valid_at(history, JIANGSU, RETIRED_KID, NOW - 100 * DAY)
    assert not was_key_valid_at(history, JIANGSU, RETIRED_KID, NOW - 30 * DAY)  # exp is exclusive
    assert not was_key_valid_at(history, JIANGSU, RETIRED_KID, NOW - 500 * DAY)  # before iat


def test_a_key_revoked_after_the_instant_was_valid_and_before_it_was_not() -> None:
    """§8.7.2 ``revoked_at``: the key must be considered revoked from that time on."""
    history = _history()
    assert was_key_valid_at(history, JIANGSU, COMPROMISED_KID, COMPROMISED_AT - timedelta(seconds=1))
    assert not was_key_valid_at(history, JIANGSU, COMPROMISED_KID, COMPROMISED_AT)
    assert not was_key_valid_at(history, JIANGSU, COMPROMISED_KID, COMPROMISED_AT + DAY)
    with pytest.raises(FederationKeyNotValidError, match=r"revoked at .* \(compromised\)"):
        check_key_valid_at(history, JIANGSU, COMPROMISED_KID, NOW)


def test_an_expired_key_can_also_be_revoked_before_its_expiry() -> None:
    """§8.7: a compromise discovered after expiry can still be recorded."""
    entry = historical_key(
        RETIRED.public_key(), expires_at=NOW - DAY, revoked_at=NOW - 5 * DAY, reason="compromised"
    )
    history = verify_historical_keys(
        sign_historical_keys(JIANGSU, NOW, [entry], CURRENT), JIANGSU, CURRENT_JWKS, NOW
    )
    assert was_key_valid_at(history, JIANGSU, RETIRED_KID, NOW - 6 * DAY)
    assert not was_key_valid_at(history, JIANGSU, RETIRED_KID, NOW - 3 * DAY)


def test_nbf_delays_validity() -> None:
    entry = historical_key(RETIRED.public_key(), not_before=NOW - 2 * DAY, expires_at=NOW)
    history = verify_historical_keys(
        sign_historical_keys(JIANGSU, NOW, [entry], CURRENT), JIANGSU, CURRENT_JWKS, NOW
    )
    assert not was_key_valid_at(history, JIANGSU, RETIRED_KID, NOW - 3 * DAY)
    assert was_key_valid_at(history, JIANGSU, RETIRED_KID, NOW - DAY)


def test_unknown_keys_and_other_entities_are_not_valid() -> None:
    history = _history()
    with pytest.raises(FederationKeyNotValidError, match="lists no historical key"):
        check_key_valid_at(history, JIANGSU, "unknown", NOW - 100 * DAY)
    with pytest.raises(FederationKeyNotValidError, match=r"not of https://ah\.yrd\.example"):
        check_key_valid_at(history, "https://ah.yrd.example", RETIRED_KID, NOW - 100 * DAY)
    assert not was_key_valid_at(history, "https://ah.yrd.example", RETIRED_KID, NOW - 100 * DAY)


def test_verification_with_keys_that_did_not_sign_fails() -> None:
    with pytest.raises(HistoricalKeysError, match="not in the issuer's vouched key set"):
        verify_historical_keys(_token(), JIANGSU, federation_jwks(RETIRED.public_key()), NOW)


def test_another_issuer_is_refused() -> None:
    with pytest.raises(HistoricalKeysError, match=r"not by https://ah\.yrd\.example"):
        verify_historical_keys(_token(), "https://ah.yrd.example", CURRENT_JWKS, NOW)


def test_an_entity_statement_is_not_a_historical_keys_jwt() -> None:
    """§8.7.2: another typ MUST be rejected (no cross-JWT confusion)."""
    claims = {"iss": JIANGSU, "iat": int(NOW.timestamp()), "keys": _entries()}
    token = sign_compact_jws(claims, CURRENT, ENTITY_STATEMENT_TYPE)
    with pytest.raises(HistoricalKeysError, match="typ must be 'jwk-set\\+jwt'"):
        verify_historical_keys(token, JIANGSU, CURRENT_JWKS, NOW)


def test_issued_in_the_future_is_refused() -> None:
    token = sign_historical_keys(JIANGSU, NOW + DAY, _entries(), CURRENT)
    with pytest.raises(HistoricalKeysError, match="future"):
        verify_historical_keys(token, JIANGSU, CURRENT_JWKS, NOW)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda k: k.pop("exp"), "exp of key"),
        (lambda k: k.update(exp=True), "exp of key"),
        (lambda k: k.update(revoked={"reason": "compromised"}), "revoked_at of key"),
        (lambda k: k.update(revoked="compromised"), "must be a JSON object"),
        (lambda k: k.update(revoked={"revoked_at": 1, "reason": ""}), "reason of key"),
        (lambda k: k.update(d="AAAA"), "private or symmetric key material"),
        (lambda k: k.pop("kid"), "non-empty 'kid'"),
        (lambda k: k.update(iat="yesterday"), "iat of key"),
    ],
)
def test_malformed_key_entries_are_refused(mutate: Any, message: str) -> None:
    entries = _entries()
    mutate(entries[0])
    claims = {"iss": JIANGSU, "iat": int(NOW.timestamp()), "keys": entries}
    with pytest.raises(HistoricalKeysError, match=message):
        sign_historical_keys(JIANGSU, NOW, entries, CURRENT)
    token = sign_compact_jws(claims, CURRENT, HISTORICAL_KEYS_TYPE)
    with pytest.raises(HistoricalKeysError, match=message):
        verify_historical_keys(token, JIANGSU, CURRENT_JWKS, NOW)


def test_a_reason_needs_a_revocation_instant() -> None:
    with pytest.raises(HistoricalKeysError, match="needs revoked_at"):
        historical_key(RETIRED.public_key(), expires_at=NOW, reason="superseded")
