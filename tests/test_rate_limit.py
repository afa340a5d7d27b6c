"""The HR clients' rate limit (issue 9, point 2): a batch that fits the rules passes,
``Retry-After`` is true, a request that could never fit is not told to wait, and the
OpenAPI document says what the limit is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.auth import RateLimiter
from registry.errors import InvalidInputError, RateLimitedError
from registry.routes.verification import MAX_BATCH
from tests.conftest import Actors

OPENAPI = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
DEFAULT_RATE = 600


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def retry_after(limiter: RateLimiter, client_id: str, rate: int, cost: int = 1, burst: int = 0) -> int:
    with pytest.raises(RateLimitedError) as caught:
        limiter.take(client_id, rate, cost=cost, burst=burst)
    return int(caught.value.headers["Retry-After"])


# --- the bucket ---


def test_a_full_batch_fits_at_the_default_rate() -> None:
    """What an HR client's batch costs: one for the request, one for each further
    credential (routes/verification.py), 1,000 in all, at 600 a minute."""
    clock = FakeMonotonic()
    limiter = RateLimiter(clock)
    limiter.take("hr", DEFAULT_RATE)
    limiter.take("hr", DEFAULT_RATE, cost=MAX_BATCH - 1, burst=MAX_BATCH)


def test_retry_after_is_true_for_single_requests() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(clock)
    for _ in range(DEFAULT_RATE):
        limiter.take("hr", DEFAULT_RATE)
    wait = retry_after(limiter, "hr", DEFAULT_RATE)
    assert wait == 1  # one token comes back every 0.1 s
    clock.now += 0.05
    retry_after(limiter, "hr", DEFAULT_RATE)
    clock.now += wait - 0.05
    limiter.take("hr", DEFAULT_RATE)


def test_after_a_full_batch_retry_after_says_exactly_when_the_next_request_fits() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(clock)
    limiter.take("hr", DEFAULT_RATE)
    limiter.take("hr", DEFAULT_RATE, cost=MAX_BATCH - 1, burst=MAX_BATCH)
    # 1,000 spent; a single request fits when at most 599 are outstanding: 401 tokens
    # back, at 10 a second, is 40.1 s.
    wait = retry_after(limiter, "hr", DEFAULT_RATE)
    assert wait == 41
    clock.now += 40.0
    assert retry_after(limiter, "hr", DEFAULT_RATE) == 1
    clock.now += 1.0
    limiter.take("hr", DEFAULT_RATE)


def test_a_refused_request_costs_nothing() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(clock)
    limiter.take("hr", DEFAULT_RATE, cost=MAX_BATCH, burst=MAX_BATCH)
    first = retry_after(limiter, "hr", DEFAULT_RATE, cost=MAX_BATCH, burst=MAX_BATCH)
    assert first == 100  # the whole batch must come back: 1,000 at 10 a second
    for _ in range(5):
        assert retry_after(limiter, "hr", DEFAULT_RATE, cost=MAX_BATCH, burst=MAX_BATCH) == first
    clock.now += first
    limiter.take("hr", DEFAULT_RATE, cost=MAX_BATCH, burst=MAX_BATCH)


def test_a_cost_that_can_never_fit_is_not_told_to_wait() -> None:
    limiter = RateLimiter(FakeMonotonic())
    with pytest.raises(InvalidInputError) as caught:
        limiter.take("hr", 5, cost=20)
    assert "5" in caught.value.detail
    limiter.take("hr", 5, cost=5)  # nothing was spent by the refusal


def test_clients_have_their_own_buckets() -> None:
    limiter = RateLimiter(FakeMonotonic())
    limiter.take("a", 2, cost=2)
    retry_after(limiter, "a", 2)
    limiter.take("b", 2, cost=2)


# --- over HTTP ---


def test_an_hr_client_at_the_default_rate_verifies_a_batch_of_1000(
    client: TestClient, actors: Actors
) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    clock = FakeMonotonic()
    node.limiter = RateLimiter(clock)
    hr = actors.hr(rate=DEFAULT_RATE)
    response = client.post("/v1/verifications/batch", json={"credentials": ["a.b.c"] * MAX_BATCH}, headers=hr)
    assert response.status_code == 200, response.text
    assert response.json()["count"] == MAX_BATCH
    # Every credential was counted: the next request waits until it fits.
    refused = client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=hr)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    wait = int(refused.headers["retry-after"])
    assert wait == 41
    assert refused.json()["retryAfter"] == wait
    assert f"{DEFAULT_RATE}" in refused.json()["detail"]
    clock.now += wait
    assert client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=hr).status_code == 200


def test_a_batch_over_a_low_rate_still_counts_every_credential(client: TestClient, actors: Actors) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    clock = FakeMonotonic()
    node.limiter = RateLimiter(clock)
    hr = actors.hr(rate=5)
    batch = client.post("/v1/verifications/batch", json={"credentials": ["a.b.c"] * 20}, headers=hr)
    assert batch.status_code == 200, batch.text
    refused = client.post("/v1/verifications", json={"credential": "a.b.c"}, headers=hr)
    assert refused.status_code == 429
    # 20 spent, 5 a minute: one more fits when 4 are outstanding, 16 tokens later (192 s).
    assert refused.headers["retry-after"] == "192"


# --- the document ---


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize(
    ("path", "operation_id"),
    [
        ("/v1/verifications", "verifyCredential"),
        ("/v1/verifications/batch", "verifyCredentialBatch"),
        ("/v1/verifications/lookup", "lookUpCredential"),
    ],
)
def test_the_verification_routes_document_the_rate_limit(
    document: dict[str, Any], path: str, operation_id: str
) -> None:
    operation = document["paths"][path]["post"]
    assert operation["operationId"] == operation_id
    limited = operation["responses"]["429"]
    assert "Retry-After" in limited["headers"]
    assert limited["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert "application/problem+json" in limited["content"]
    text = operation["description"] + limited["description"]
    assert "per minute" in text
    assert str(DEFAULT_RATE) in text
    assert "one per credential" in text
