"""The Token Status List endpoint (``GET /status/token/{n}``, draft-ietf-oauth-status-list
§5, §8) is served from memory as the Bitstring lists are: a strong ETag and 304, no
database read and no worker thread per request, a revocation or suspension of this
process served at once, one committed by another process within the refresh bound, a
key marked compromised taken into account, and signed again at half of its validity."""

from __future__ import annotations

import inspect
import json
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.concurrency import run_in_threadpool
from fastapi.testclient import TestClient

from registry.credentials import status
from registry.database import on_commit
from registry.node_keys import compromise_signing_key, signing_kid
from registry.routes import public
from registry.signing.encoding import b64url_decode
from tests.conftest import Actors, MutableClock
from tests.test_status import change, entry, issue
from tests.test_status_cache import ADMIN, another_process, node_of, statements


def token_path(record: dict[str, Any]) -> tuple[str, int]:
    """The token list's path and the credential's index in it (its revocation entry)."""
    revocation = entry(record, "revocation")
    number = revocation["statusListCredential"].rsplit("/", 1)[1]
    return f"/status/token/{number}", int(revocation["statusListIndex"])


def claims_of(body: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(b64url_decode(body.split(".")[1]))
    return claims


def status_at(body: str, index: int) -> int:
    data = zlib.decompress(b64url_decode(claims_of(body)["status_list"]["lst"]))
    return status.token_status(data, index)


def test_the_endpoint_is_a_coroutine_on_the_event_loop() -> None:
    assert inspect.iscoroutinefunction(public.status_list_token)


def test_the_token_has_a_strong_etag_and_a_conditional_request_gets_304(
    client: TestClient, actors: Actors
) -> None:
    """RFC 9110 §8.8.3, §13.1.2; the draft's §8 leaves caching to HTTP."""
    path, _ = token_path(issue(client, actors.officer()))
    first = client.get(path)
    assert first.status_code == 200
    assert first.headers["content-type"] == status.TOKEN_LIST_MEDIA_TYPE
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    max_age = node_of(client).settings.status_list_max_age
    assert first.headers["cache-control"] == f"public, max-age={max_age}"
    again = client.get(path)
    assert again.content == first.content  # the same signed token, not signed again
    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_served_token_costs_no_sql_and_no_worker_thread(
    client: TestClient, actors: Actors, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_of(client)
    node.status_cache.served.refresh_seconds = 3600.0
    path, _ = token_path(issue(client, actors.officer()))
    etag = client.get(path).headers["etag"]
    hops: list[object] = []

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(fn)
        return await run_in_threadpool(fn, *args, **kwargs)

    monkeypatch.setattr(public, "run_in_threadpool", counted)
    with statements(node.db.engine) as seen:
        for _ in range(25):
            assert client.get(path).headers["etag"] == etag
            assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert seen == []
    assert hops == []


@pytest.mark.parametrize(
    ("kind", "reason", "expected"),
    [
        ("revocation", "research_misconduct", status.TOKEN_INVALID),
        ("suspension", "under_investigation", status.TOKEN_SUSPENDED),
    ],
)
def test_a_status_change_through_the_api_is_served_at_once(
    client: TestClient, actors: Actors, kind: str, reason: str, expected: int
) -> None:
    node = node_of(client)
    node.status_cache.served.refresh_seconds = 3600.0  # not the bound: the commit itself
    officer = actors.officer()
    record = issue(client, officer)
    path, index = token_path(record)
    before = client.get(path)
    assert status_at(before.text, index) == status.TOKEN_VALID
    assert change(client, officer, record["id"], kind, reason).status_code == 200
    after = client.get(path)
    assert after.headers["etag"] != before.headers["etag"]
    assert status_at(after.text, index) == expected
    assert client.get(path, headers={"If-None-Match": before.headers["etag"]}).status_code == 200


def test_a_change_by_another_process_is_served_within_the_bound(
    client: TestClient, actors: Actors, tmp_path: Path, database_url: str, clock: MutableClock
) -> None:
    """A second node process on the same database suspends; this one serves the token it
    holds until the bound has passed, then the change (one query on the lists' ETags
    tells it the suspension list changed)."""
    node = node_of(client)
    node.status_cache.served.refresh_seconds = 3600.0
    record = issue(client, actors.officer())
    path, index = token_path(record)
    before = client.get(path)

    with another_process(tmp_path, database_url, clock) as (other, other_actors):
        response = change(other, other_actors.officer(), record["id"], "suspension", "under_investigation")
        assert response.status_code == 200, response.text

    assert client.get(path).content == before.content  # within the bound: what it holds
    node.status_cache.served.refresh_seconds = 0.2
    time.sleep(0.3)
    after = client.get(path)
    assert after.headers["etag"] != before.headers["etag"]
    assert status_at(after.text, index) == status.TOKEN_SUSPENDED


def test_a_change_that_leaves_a_lists_etag_as_it_was_is_still_served_within_the_bound(
    client: TestClient, actors: Actors
) -> None:
    """A writer that changes a list without signing it again (its version moves, its
    ETag does not) is not missed: the token is made from the lists' versions too."""
    from sqlalchemy import text

    node = node_of(client)
    served = node.status_cache.served
    served.refresh_seconds = 3600.0
    record = issue(client, actors.officer())
    path, index = token_path(record)
    before = client.get(path)
    assert status_at(before.text, index) == status.TOKEN_VALID
    suspension = entry(record, "suspension")["statusListCredential"].rsplit("/", 1)[1]
    with node.db.engine.begin() as connection:
        etags = dict(connection.execute(text("SELECT id, etag FROM status_list")).all())
        connection.execute(
            text("UPDATE credential SET status = 'suspended' WHERE id = :id"), {"id": record["id"]}
        )
        connection.execute(
            text("UPDATE status_list SET version = version + 1 WHERE purpose = 'suspension' AND number = :n"),
            {"n": int(suspension)},
        )
        assert dict(connection.execute(text("SELECT id, etag FROM status_list")).all()) == etags
    served.refresh_seconds = 0.2
    time.sleep(0.3)
    after = client.get(path)
    assert after.headers["etag"] != before.headers["etag"]
    assert status_at(after.text, index) == status.TOKEN_SUSPENDED


def test_after_the_bound_an_unchanged_token_is_confirmed_by_one_query(
    client: TestClient, actors: Actors
) -> None:
    node = node_of(client)
    served = node.status_cache.served
    path, _ = token_path(issue(client, actors.officer()))
    etag = client.get(path).headers["etag"]
    served.refresh_seconds = 0.2
    time.sleep(0.3)
    with statements(node.db.engine) as seen:
        assert client.get(path).headers["etag"] == etag  # not signed again
        assert client.get(path).headers["etag"] == etag
    assert len([s for s in seen if "status_list" in s or "credential" in s]) == 1, seen


def test_a_key_marked_compromised_in_this_process_has_the_token_signed_again_at_once(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    node = node_of(client)
    node.status_cache.served.refresh_seconds = 3600.0
    path, _ = token_path(issue(client, actors.officer()))
    before = client.get(path).text
    old_kid = signing_kid(node.ring, clock.now)
    assert old_kid is not None
    assert json.loads(b64url_decode(before.split(".")[0]))["kid"].endswith("#" + old_kid)
    with node.db.session() as session:
        ring = compromise_signing_key(
            session, node.key_store, ADMIN, old_kid, clock.now, "test: leaked", clock.now
        )
        on_commit(session, lambda: node.set_ring(ring))
    after = client.get(path).text
    assert not json.loads(b64url_decode(after.split(".")[0]))["kid"].endswith("#" + old_kid)
    assert claims_of(after)["status_list"] == claims_of(before)["status_list"]


def test_a_token_past_half_its_validity_is_signed_again_before_it_is_served(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    node = node_of(client)
    node.status_cache.served.refresh_seconds = 3600.0
    path, _ = token_path(issue(client, actors.officer()))
    first = claims_of(client.get(path).text)
    clock.advance(seconds=max(node.settings.status_list_max_age, 60) * 6 + 1)
    later = claims_of(client.get(path).text)
    assert later["iat"] == int(clock.now.timestamp())
    assert later["iat"] > first["iat"]
    assert later["exp"] > int(clock.now.timestamp())


def test_an_unknown_token_list_is_404_and_a_bad_number_422(client: TestClient, actors: Actors) -> None:
    missing = client.get("/status/token/1")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    for bad in ("0", "x", "2147483648", "-1"):
        answer = client.get(f"/status/token/{bad}")
        assert answer.status_code == 422, bad
        assert answer.headers["content-type"] == "application/problem+json"
    path, _ = token_path(issue(client, actors.officer()))
    assert path == "/status/token/1"
    assert client.get(path).status_code == 200
