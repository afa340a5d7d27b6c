"""Status-list index allocation: two batches never get the same index (also when they
draw the same random numbers, one after the other or at once), and a batch reads rows
in proportion to its size, not to the list (no read of every index taken)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from registry.auth import Principal
from registry.credentials import issuance, status
from registry.credentials.status_list import MIN_LENGTH
from registry.node import NodeState
from registry.routes.issuance import context
from tests.conftest import issue_row, resident_id

OFFICER = Principal("account", "allocation-officer", "issuing_officer")


def requests(seeds: range) -> list[issuance.IssueRequest]:
    return [
        issuance.IssueRequest.model_validate(
            issue_row(idNumber=resident_id(seed), holderName=f"持证人{seed}")
        )
        for seed in seeds
    ]


class SameIndexDraws(random.Random):
    """Draws indexes (``randrange``) from ``random.Random(seed)``, so two batches with
    the same seed try the same indexes in the same order; identifiers stay random."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self._indexes = random.Random(seed)

    def randrange(self, *args: Any, **kwargs: Any) -> int:
        return self._indexes.randrange(*args, **kwargs)


def issue_with(node: NodeState, seeds: range, batch_id: str, seed: int) -> None:
    """Issue a batch whose index draws come from ``seed`` (:class:`SameIndexDraws`)."""
    with node.db.session() as session:
        ctx = context(node, session)
        ctx.rng = SameIndexDraws(seed)
        issuance.issue(session, OFFICER, requests(seeds), ctx, batch_id=batch_id)


def slots(node: NodeState) -> list[tuple[int, int, int, int]]:
    with node.db.session(write=False) as session:
        rows = session.connection().execute(
            text(
                "SELECT revocation_list_id, revocation_index, suspension_list_id, suspension_index"
                " FROM credential"
            )
        )
        return [(int(a), int(b), int(c), int(d)) for a, b, c, d in rows]


def assert_no_shared_index(node: NodeState, expected: int) -> None:
    found = slots(node)
    assert len(found) == expected
    assert len({(r[0], r[1]) for r in found}) == expected
    assert len({(r[2], r[3]) for r in found}) == expected
    assert all(0 <= r[1] < MIN_LENGTH and 0 <= r[3] < MIN_LENGTH for r in found)


def test_a_batch_drawing_the_same_random_numbers_as_the_last_gets_other_indexes(app: Any) -> None:
    """The same seed draws the same candidates: the second batch gets them only where
    the first left them free, so the first batch's indexes are found taken."""
    node: NodeState = app.state.node
    issue_with(node, range(0, 20), "same-draws-1", seed=7)
    issue_with(node, range(20, 40), "same-draws-2", seed=7)
    assert_no_shared_index(node, 40)


def test_two_batches_issued_at_once_with_the_same_draws_get_different_indexes(app: Any) -> None:
    """The second batch starts while the first has allocated and not yet committed; it
    waits for the first (the list row's lock on PostgreSQL, the write lock on SQLite)
    and then finds the first one's indexes taken."""
    node: NodeState = app.state.node
    engine = node.db.engine
    first_allocated = threading.Event()
    second_started = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []
    first_thread: list[int] = []

    def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() == first_thread[0] and "FROM credential" in statement:
            first_allocated.set()

    def before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() != first_thread[0] and first_allocated.is_set():
            second_started.set()

    def first() -> None:
        first_thread.append(threading.get_ident())
        try:
            with node.db.session() as session:
                ctx = context(node, session)
                ctx.rng = SameIndexDraws(11)
                issuance.issue(session, OFFICER, requests(range(0, 15)), ctx, batch_id="at-once-1")
                assert release.wait(30)
        except BaseException as exc:  # reported below
            errors.append(exc)

    def second() -> None:
        try:
            issue_with(node, range(15, 30), "at-once-2", seed=11)
        except BaseException as exc:  # reported below
            errors.append(exc)

    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "before_cursor_execute", before)
    try:
        one = threading.Thread(target=first, daemon=True)
        one.start()
        assert first_allocated.wait(30)
        two = threading.Thread(target=second, daemon=True)
        two.start()
        assert second_started.wait(30)
        waiting_deadline = time.monotonic() + 30
        while engine.dialect.name == "postgresql" and not _a_session_waits_for_a_lock(engine):
            assert time.monotonic() < waiting_deadline, "the second batch did not wait for the first"
            time.sleep(0.01)
        time.sleep(0.1)  # let the second batch reach its wait (SQLite: BEGIN IMMEDIATE)
        release.set()
        one.join(30)
        two.join(30)
    finally:
        release.set()
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    assert errors == []
    assert_no_shared_index(node, 30)


def _a_session_waits_for_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)


@contextmanager
def credential_reads(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements that read the credential table meanwhile, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if not many and statement.lstrip().upper().startswith("SELECT") and "FROM credential" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_allocation_reads_rows_in_proportion_to_the_batch_not_to_the_list(app: Any) -> None:
    """With 300 indexes taken on the open lists, allocating 5 more reads a handful of
    rows: every statement that reads the credential table is run again afterwards and
    its rows counted (reading every taken index, as allocation once did, is 300)."""
    node: NodeState = app.state.node
    issue_with(node, range(0, 300), "filler", seed=3)
    with node.db.session() as session, credential_reads(node.db.engine) as seen:
        for purpose in status.PURPOSES:
            got = status.allocate(session, purpose, 5, random.Random(5))
            assert len(got) == 5
        session.rollback()
    assert seen, "allocation asked nothing of the credential table"
    assert len(seen) <= 4  # one probe per purpose (a second round is rare)
    rows = 0
    with node.db.engine.connect() as connection:
        for statement, parameters in seen:
            rows += len(connection.exec_driver_sql(statement, parameters).fetchall())
    assert rows <= 10


def test_the_sqlite_probe_searches_the_slot_index(app: Any) -> None:
    node: NodeState = app.state.node
    if node.db.engine.dialect.name != "sqlite":
        return  # PostgreSQL's plan: tests/test_issuance_scale.py (generic plans)
    with node.db.engine.connect() as connection:
        for purpose in status.PURPOSES:
            statement = status._TAKEN_AMONG[("sqlite", purpose)]
            plan = " ".join(
                str(row[-1])
                for row in connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement.text.replace(':id', '?').replace(':candidates', '?')}",
                    (1, "[1, 2, 3]"),
                )
            )
            assert "SEARCH credential USING COVERING INDEX" in plan, plan
            assert f"({purpose}_list_id=? AND {purpose}_index=?)" in plan, plan
