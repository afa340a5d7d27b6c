"""The status-list endpoint serves the signed lists from memory: a strong ETag and 304,
no database read and no worker thread per request, a status change of this process
served at once, one committed by another process (a second node process on the same
database) within the refresh bound, and a key marked compromised taken into account."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.concurrency import run_in_threadpool
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from registry.app import create_app
from registry.auth import Principal
from registry.credentials import status
from registry.credentials.status_list import entry_status
from registry.database import Database, on_commit
from registry.node import NodeState
from registry.node_keys import compromise_signing_key, signing_kid
from registry.routes import public
from registry.verifier import Verifier
from tests.conftest import CHEAP_PASSWORDS, Actors, MutableClock, node_settings
from tests.test_status import change, entry, fetch_list, issue, list_path

ADMIN = Principal("cli", "tests", "admin")


def node_of(client: TestClient) -> NodeState:
    node: NodeState = client.app.state.node  # type: ignore[attr-defined]
    return node


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` (and its write engine) meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def another_process(
    tmp_path: Path, database_url: str, clock: MutableClock
) -> Iterator[tuple[TestClient, Actors]]:
    """A second node process on the same database: its own app and engine, and user
    names apart from this process's."""
    other_db = Database.from_url(database_url)
    try:
        other_app = create_app(
            node_settings(tmp_path / "other", database_url),
            clock,
            database=other_db,
            passwords=CHEAP_PASSWORDS,
            run_migrations=False,
            verifier=Verifier(workers=1),
        )
        with TestClient(other_app, raise_server_exceptions=False) as other:
            other_actors = Actors(other_app)
            other_actors._n = 100
            yield other, other_actors
    finally:
        other_db.dispose()


def test_the_endpoint_is_a_coroutine_on_the_event_loop() -> None:
    assert inspect.iscoroutinefunction(public.status_list)


def test_the_list_has_a_strong_etag_cache_control_and_a_conditional_request_gets_304(
    client: TestClient, actors: Actors
) -> None:
    record = issue(client, actors.officer())
    path = list_path(entry(record, "revocation"))
    first = client.get(path)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/vc+json"
    etag = first.headers["etag"]
    assert etag.startswith('"')  # strong: no W/
    assert etag.endswith('"')
    max_age = node_of(client).settings.status_list_max_age
    assert first.headers["cache-control"] == f"public, max-age={max_age}"
    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert not_modified.headers["cache-control"] == f"public, max-age={max_age}"
    other = client.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.content == first.content


def test_a_served_list_costs_no_sql_and_no_worker_thread(
    client: TestClient, actors: Actors, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_of(client)
    node.status_cache.served.refresh_seconds = 3600.0
    record = issue(client, actors.officer())
    paths = [list_path(entry(record, purpose)) for purpose in ("revocation", "suspension")]
    etags = {path: client.get(path).headers["etag"] for path in paths}

    hops: list[object] = []

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(fn)
        return await run_in_threadpool(fn, *args, **kwargs)

    monkeypatch.setattr(public, "run_in_threadpool", counted)
    with statements(node.db.engine) as seen:
        for _ in range(25):
            for path in paths:
                assert client.get(path).headers["etag"] == etags[path]
                assert client.get(path, headers={"If-None-Match": etags[path]}).status_code == 304
    assert seen == []
    assert hops == []


def test_after_the_bound_one_small_query_confirms_the_list(client: TestClient, actors: Actors) -> None:
    node = node_of(client)
    served = node.status_cache.served
    record = issue(client, actors.officer())
    path = list_path(entry(record, "revocation"))
    etag = client.get(path).headers["etag"]
    served.refresh_seconds = 0.2
    time.sleep(0.3)
    with statements(node.db.engine) as seen:
        assert client.get(path).headers["etag"] == etag  # confirmed: one ETag query
        assert client.get(path).headers["etag"] == etag  # and served from memory again
    on_lists = [s for s in seen if "status_list" in s]
    assert len(on_lists) == 1, seen
    assert on_lists[0].startswith("SELECT purpose, number, etag FROM status_list")


def test_one_read_confirms_every_list_served(client: TestClient, actors: Actors) -> None:
    """A node of ten million credentials has about 200 lists: their ETags are read in one
    query per refresh period, not one per list (the scale benchmark measured the status
    list p99 at 3.9x its 100,000-credential figure when each list was confirmed alone)."""
    node = node_of(client)
    served = node.status_cache.served
    record = issue(client, actors.officer())
    paths = [list_path(entry(record, purpose)) for purpose in ("revocation", "suspension")]
    etags = [client.get(path).headers["etag"] for path in paths]
    served.refresh_seconds = 0.2
    time.sleep(0.3)
    with statements(node.db.engine) as seen:
        assert [client.get(path).headers["etag"] for path in paths] == etags
    assert len([s for s in seen if "status_list" in s]) == 1, seen  # the first confirmed both


def test_a_revocation_through_the_api_is_served_at_once(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    node = node_of(client)
    node.status_cache.served.refresh_seconds = 3600.0  # not the bound: the commit itself
    officer = actors.officer()
    record = issue(client, officer)
    revocation = entry(record, "revocation")
    before = fetch_list(client, revocation)
    assert entry_status(revocation, before.json()) is False
    assert change(client, officer, record["id"], "revocation", "research_misconduct").status_code == 200
    after = fetch_list(client, revocation)
    assert after.headers["etag"] != before.headers["etag"]
    assert entry_status(revocation, after.json()) is True
    assert after.json()["credentialSubject"]["statusReasons"] == {
        revocation["statusListIndex"]: "research_misconduct"
    }
    # the old ETag no longer matches
    assert (
        client.get(list_path(revocation), headers={"If-None-Match": before.headers["etag"]}).status_code
        == 200
    )


def test_a_refused_status_change_leaves_the_served_list_as_it_was(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer)
    revocation = entry(record, "revocation")
    etag = fetch_list(client, revocation).headers["etag"]
    assert change(client, officer, record["id"], "revocation", "no_such_reason").status_code == 422
    assert fetch_list(client, revocation).headers["etag"] == etag


def test_a_change_by_another_process_is_served_within_the_bound(
    client: TestClient,
    actors: Actors,
    tmp_path: Path,
    database_url: str,
    clock: MutableClock,
) -> None:
    """A second node process on the same database (its own app and engine) revokes; this
    one serves its list from memory until the bound has passed, then the change."""
    node = node_of(client)
    node.status_cache.served.refresh_seconds = 3600.0
    record = issue(client, actors.officer())
    revocation = entry(record, "revocation")
    before = fetch_list(client, revocation)

    with another_process(tmp_path, database_url, clock) as (other, other_actors):
        officer = other_actors.officer()
        response = change(other, officer, record["id"], "revocation", "fraudulent_application")
        assert response.status_code == 200, response.text
        changed = fetch_list(other, revocation)
        assert entry_status(revocation, changed.json()) is True

    # within the bound: this process still serves what it holds (no read per request)
    assert fetch_list(client, revocation).headers["etag"] == before.headers["etag"]
    node.status_cache.served.refresh_seconds = 0.2
    time.sleep(0.3)
    after = fetch_list(client, revocation)
    assert after.headers["etag"] == changed.headers["etag"]
    assert after.content == changed.content
    assert entry_status(revocation, after.json()) is True


def test_a_key_marked_compromised_in_this_process_has_the_list_signed_again_at_once(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    node = node_of(client)
    node.status_cache.served.refresh_seconds = 3600.0
    record = issue(client, actors.officer())
    revocation = entry(record, "revocation")
    before = fetch_list(client, revocation).json()
    old_kid = signing_kid(node.ring, clock.now)
    assert old_kid is not None
    assert before["proof"]["verificationMethod"].endswith("#" + old_kid)

    with node.db.session() as session:
        ring = compromise_signing_key(
            session, node.key_store, ADMIN, old_kid, clock.now, "test: key leaked", clock.now
        )
        on_commit(session, lambda: node.set_ring(ring))
    after = fetch_list(client, revocation).json()
    assert not after["proof"]["verificationMethod"].endswith("#" + old_kid)
    assert after["credentialSubject"]["encodedList"] == before["credentialSubject"]["encodedList"]


def test_an_unknown_list_is_404_and_is_served_once_it_exists(client: TestClient, actors: Actors) -> None:
    missing = client.get("/status/revocation/1")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    record = issue(client, actors.officer())
    assert list_path(entry(record, "revocation")) == "/status/revocation/1"
    assert client.get("/status/revocation/1").status_code == 200


def test_a_list_past_half_its_validity_is_signed_again_before_it_is_served(
    client: TestClient, actors: Actors, clock: MutableClock
) -> None:
    node = node_of(client)
    node.status_cache.served.refresh_seconds = 3600.0
    record = issue(client, actors.officer())
    revocation = entry(record, "revocation")
    first = fetch_list(client, revocation)
    clock.advance(seconds=max(node.settings.status_list_max_age, 60) * 6 + 1)
    later = fetch_list(client, revocation)
    assert later.headers["etag"] != first.headers["etag"]
    assert later.json()["validFrom"] == clock.now.isoformat().replace("+00:00", "Z")


def test_the_refresh_bound_is_documented() -> None:
    assert status.LIST_REFRESH_SECONDS == 5.0
    assert status.StatusCache().served.refresh_seconds == status.LIST_REFRESH_SECONDS
    assert "within\n    5 seconds" in (public.status_list.__doc__ or "")


def test_a_status_change_forgets_only_the_list_it_changed(client: TestClient, actors: Actors) -> None:
    """A revocation re-reads its revocation list; the suspension list (and, on a large
    node, the other ~200 lists) stay served from memory (the scale benchmark's status
    p99 at ten million was 3.4x its 100,000 figure when every revocation forgot them all)."""
    node = node_of(client)
    officer = actors.officer()
    record = issue(client, officer)
    revocation, suspension = (list_path(entry(record, p)) for p in ("revocation", "suspension"))
    before = {path: client.get(path).headers["etag"] for path in (revocation, suspension)}
    answer = client.post(
        f"/v1/credentials/{record['id']}/revocation", json={"reasonCode": "issued_in_error"}, headers=officer
    )
    assert answer.status_code == 200
    with statements(node.db.engine) as seen:
        assert client.get(suspension).headers["etag"] == before[suspension]
    assert [s for s in seen if "status_list" in s] == []  # from memory
    assert client.get(revocation).headers["etag"] != before[revocation]  # read again: revoked
