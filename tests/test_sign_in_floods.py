"""Sign-in under a flood: the connection is released before the password is hashed,
hashing is bounded, attempts are limited per address, failures back off per (name,
address) without locking the name's owner out, and an exhausted pool answers 503."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from registry.app import create_app
from registry.auth import Passwords, SignInGuard
from registry.database import Database, make_engine
from registry.verifier import Verifier
from tests.conftest import CHEAP_PASSWORDS, PASSWORD, Actors, MutableClock, node_settings


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _officer_name(actors: Actors) -> str:
    actors.officer()
    return f"issuing_officer{actors._n}"


def _sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post("/v1/auth/token", json={"username": username, "password": password})


def test_failing_with_a_name_does_not_lock_its_owner_out(app: Any, actors: Actors) -> None:
    name = _officer_name(actors)
    with TestClient(app, client=("203.0.113.9", 4000), raise_server_exceptions=False) as attacker:
        answers = [_sign_in(attacker, name, "wrong password, again").status_code for _ in range(15)]
    assert set(answers) <= {401, 429}
    assert answers[-1] == 429  # the attacker's own address is backing off
    with TestClient(app, client=("198.51.100.7", 4000), raise_server_exceptions=False) as owner:
        answer = _sign_in(owner, name, PASSWORD)
    assert answer.status_code == 200, answer.text


def test_failures_back_off_per_name_and_address_with_a_true_retry_after(
    client: TestClient, actors: Actors
) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    clock = FakeMonotonic()
    node.sign_in_guard = SignInGuard(free_failures=3, clock=clock)
    name = _officer_name(actors)
    for _ in range(3):
        assert _sign_in(client, name, "not the password at all").status_code == 401
    # Three failures are free; the fourth one starts the back-off of 2 s.
    assert _sign_in(client, name, "not the password at all").status_code == 401
    waiting = _sign_in(client, name, PASSWORD)
    assert waiting.status_code == 429
    assert waiting.headers["content-type"] == "application/problem+json"
    assert waiting.headers["retry-after"] == "3"
    clock.now += 2.5
    assert _sign_in(client, name, PASSWORD).status_code == 200
    # Success clears the back-off.
    assert _sign_in(client, name, PASSWORD).status_code == 200


def test_attempts_are_limited_per_client_address(client: TestClient, actors: Actors) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    node.sign_in_guard = SignInGuard(address_rate=5, clock=FakeMonotonic())
    answers = [_sign_in(client, f"random.name.{i}", "some password or other").status_code for i in range(6)]
    assert answers == [401] * 5 + [429]


class RecordingPasswords(Passwords):
    """Cheap argon2 that records, while it hashes, how many connections are checked out
    and how many hashes run at once."""

    def __init__(self, node: Any, delay: float = 0.0) -> None:
        super().__init__(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        self.node = node
        self.delay = delay
        self.checked_out: list[int] = []
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def verify(self, password_hash: str | None, password: str) -> bool:
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.checked_out.append(self.node.db.engine.pool.checkedout())
        try:
            time.sleep(self.delay)
            return super().verify(password_hash, password)
        finally:
            with self._lock:
                self.running -= 1


def test_sign_in_holds_no_database_connection_while_hashing(client: TestClient, actors: Actors) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    name = _officer_name(actors)
    node.passwords = recording = RecordingPasswords(node)
    assert _sign_in(client, name, PASSWORD).status_code == 200
    assert _sign_in(client, "nobody.at.all", "some password or other").status_code == 401
    assert recording.checked_out == [0, 0]


def test_concurrent_sign_ins_hash_a_bounded_number_at_once(client: TestClient) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    node.passwords = recording = RecordingPasswords(node, delay=0.05)
    node.sign_in_guard = SignInGuard(hashing_slots=2, address_rate=1000)
    with ThreadPoolExecutor(12) as pool:
        answers = list(
            pool.map(
                lambda i: _sign_in(client, f"flood.{i}", "some password or other").status_code, range(24)
            )
        )
        health = client.get("/health")
    assert answers == [401] * 24
    assert health.status_code == 200
    assert recording.most_running == 2


def test_sign_ins_that_get_no_hashing_slot_answer_503_with_retry_after(client: TestClient) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    node.passwords = RecordingPasswords(node, delay=0.5)
    node.sign_in_guard = SignInGuard(hashing_slots=1, slot_wait=0.1, address_rate=1000)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: _sign_in(client, f"busy.{i}", "some password or other"), range(4)))
    codes = sorted(a.status_code for a in answers)
    assert 401 in codes
    assert 503 in codes
    busy = next(a for a in answers if a.status_code == 503)
    assert busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"] == "application/problem+json"


def test_an_exhausted_connection_pool_answers_503_not_500(
    tmp_path: Path, database_url: str, clock: MutableClock
) -> None:
    db = Database(make_engine(database_url, pool_size=1, pool_timeout=0.2))
    app = create_app(
        node_settings(tmp_path, database_url),
        clock,
        database=db,
        passwords=CHEAP_PASSWORDS,
        run_migrations=False,
        verifier=Verifier(workers=1),
    )
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            held = [db.engine.connect() for _ in range(db.engine.pool.size() + db.engine.pool._max_overflow)]  # type: ignore[attr-defined]
            try:
                answer = _sign_in(client, "officer.somebody", "some password or other")
            finally:
                for connection in held:
                    connection.close()
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"]
            assert answer.headers["content-type"] == "application/problem+json"
            assert _sign_in(client, "officer.somebody", "some password or other").status_code == 401
    finally:
        db.dispose()


@pytest.mark.parametrize("address", ["192.0.2.1", "192.0.2.2"])
def test_guard_memory_is_bounded(address: str) -> None:
    guard = SignInGuard(max_entries=100, clock=FakeMonotonic())
    for i in range(1000):
        guard.failed(f"random-{i}", address)
    assert len(guard._failures) == 100
