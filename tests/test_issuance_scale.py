"""Issuance at scale (issue 11, "Flat issuance"): every query the issuance path runs finds
its rows through an index, also under PostgreSQL's generic plan.

Why the generic plan: psycopg prepares a statement on the server once it has run five
times on a connection (``prepare_threshold``), and PostgreSQL, after five custom plans of
a prepared statement, keeps its generic plan (planned without the parameters' values)
whenever that costs no more than the custom ones did on average (``plan_cache_mode =
auto``). A look-up whose generic plan scans the holder or the credential table costs
time in proportion to the table for every chunk of every batch, so issuance slows down
as the node grows: with ``id_lookup IN`` 500 parameters, one chunk took 3.3 s over 230k
holders instead of 65 ms, and a batch of 10,000 went from 9 s to 250 s. The tests force
that plan (``SET plan_cache_mode = force_generic_plan``) and ``EXPLAIN EXECUTE`` each
statement the issuance path ran, on tables whose size and statistics make a scan
tempting (50,000 holders and credentials, credentials spread over 40 status lists of
each purpose, as on a node of a few million credentials).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from psycopg import sql
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from registry.auth import Principal
from registry.credentials import issuance
from registry.credentials.status import FILL_LIMIT
from registry.node import NodeState
from registry.routes.issuance import context
from tests.conftest import issue_row, resident_id

OFFICER = Principal("account", "scale-officer", "issuing_officer")
FILLER = 50_000
FILLER_LISTS = 40
#: The tables whose scans grow with the node.
LARGE_TABLES = {"holder", "credential"}

Statement = tuple[str, Any]


def rows(seeds: range) -> list[dict[str, Any]]:
    return [issue_row(idNumber=resident_id(seed), holderName=f"持证人{seed}") for seed in seeds]


@contextmanager
def statements_run(engine: Engine) -> Iterator[list[Statement]]:
    """The statements (one parameter set each) run on ``engine`` meanwhile; executemany
    inserts are left out: they look nothing up."""
    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def issuance_path(node: NodeState, seeds: range, batch_id: str) -> list[Statement]:
    """Validate a batch, issue it, and send it again (the replay answers from the
    database): every query an officer's batch makes, recorded."""
    with statements_run(node.db.engine) as seen:
        with node.db.session(write=False) as session:
            requests = issuance.validate_batch(session, rows(seeds), context(node, session))
        for _ in range(2):
            with node.db.session() as session:
                result = issuance.issue(session, OFFICER, requests, context(node, session), batch_id=batch_id)
    assert result.replayed
    assert result.count == len(seeds)
    return seen


def issue(node: NodeState, seeds: range, batch_id: str) -> None:
    with node.db.session() as session:
        requests = [issuance.IssueRequest.model_validate(r) for r in rows(seeds)]
        issuance.issue(session, OFFICER, requests, context(node, session), batch_id=batch_id)


# --- PostgreSQL: the generic plan ---------------------------------------------------------------


def fill(engine: Engine) -> None:
    """Holders and credentials enough that scanning them costs more than probing an
    index, written in SQL (the node's own path would take minutes), then ANALYZE."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO status_list (purpose, number, length, allocated, bits, version)"
                " SELECT purpose, 100 + g, 131072, :full, '\\x'::bytea, 0"
                " FROM generate_series(1, :lists) AS g, unnest(ARRAY['revocation', 'suspension']) AS purpose"
            ),
            {"full": FILL_LIMIT, "lists": FILLER_LISTS},
        )
        connection.execute(
            text(
                "INSERT INTO holder (id, name, id_type, id_lookup, id_masked, holder_commitment, created_at)"
                " SELECT 'filler-' || g, '填充' || g, 'resident', md5(g::text) || md5('x' || g),"
                " '3201**********0000', 'sha256:filler', now() FROM generate_series(1, :n) AS g"
            ),
            {"n": FILLER},
        )
        connection.execute(
            text(
                "INSERT INTO credential (id, certificate_number, holder_id, type_code, specialty, committee,"
                " awarded_on, valid_from, issued_at, revocation_list_id, revocation_index,"
                " suspension_list_id, suspension_index, status, kid, document)"
                " SELECT 'filler-' || g, '32-2000-' || lpad(g::text, 7, '0'), 'filler-' || g,"
                " 'ENG-ASSOCIATE_SENIOR', '电气工程', '评审委员会', DATE '2000-01-01', now(), now(),"
                " r.id, g / :lists, s.id, g / :lists, 'active', 'filler', '{}'"
                " FROM generate_series(1, :n) AS g"
                " JOIN status_list AS r ON r.purpose = 'revocation' AND r.number = 100 + 1 + g % :lists"
                " JOIN status_list AS s ON s.purpose = 'suspension' AND s.number = 100 + 1 + g % :lists"
            ),
            {"n": FILLER, "lists": FILLER_LISTS},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


def as_prepared(statement: str) -> tuple[str, list[str]]:
    """psycopg's ``%(name)s`` placeholders as ``$n`` (for PREPARE), with the names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", number, statement).replace("%%", "%"), names


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def generic_plans(engine: Engine, statements: list[Statement]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each statement's generic plan: PREPARE, then EXPLAIN EXECUTE with its parameters
    under ``plan_cache_mode = force_generic_plan`` (the plan does not depend on them)."""
    plans = []
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("SET plan_cache_mode = force_generic_plan")
        for statement, parameters in statements:
            prepared, names = as_prepared(statement)
            raw.execute(sql.SQL("PREPARE issuance_step AS {}").format(sql.SQL(prepared)))
            arguments = sql.SQL(", ").join(sql.Literal(parameters[name]) for name in names)
            query: sql.Composable = sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE issuance_step")
            if names:
                query = sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE issuance_step ({})").format(arguments)
            document = raw.execute(query).fetchone()
            assert document is not None
            plans.append((statement, list(plan_nodes(document[0][0]["Plan"]))))
            raw.execute("DEALLOCATE issuance_step")
        connection.rollback()
    return plans


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_issuance_queries_use_indexes_under_the_generic_plan(app: Any) -> None:
    node: NodeState = app.state.node
    issue(node, range(0, 20), "first")
    fill(node.db.engine)
    # 10 holders on record (seeds 10-19) and 20 new ones: both branches of the look-up.
    plans = generic_plans(node.db.engine, issuance_path(node, range(10, 40), "second"))

    scans = [
        (node_["Node Type"], node_.get("Relation Name"), node_.get("Index Name"), statement)
        for statement, nodes in plans
        for node_ in nodes
        if node_.get("Relation Name") in LARGE_TABLES
    ]
    assert [s for s in scans if s[0] == "Seq Scan"] == []
    # The look-ups this test is about were seen, and probe their indexes (a bitmap
    # index scan names its index, its heap scan the table):
    probes = {node_["Index Name"] for _, nodes in plans for node_ in nodes if "Index Name" in node_}
    assert "uq_holder_identity" in probes  # the holder look-up (_holders)
    assert "uq_credential_revocation_slot" in probes  # revocation slots taken (status.allocate)
    assert "uq_credential_suspension_slot" in probes  # suspension slots taken (status.allocate)
    assert "ix_credential_batch_id" in probes  # the replay (batch_result)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_holder_look_up_is_one_statement_for_any_number_of_holders(app: Any) -> None:
    """psycopg prepares a statement by its text: an IN list of one parameter per value
    is a new statement for every chunk size (and its generic plan cannot know how many
    values it has); two array parameters are one statement, with one generic plan."""
    node: NodeState = app.state.node
    looked_up: list[Statement] = []
    for seeds in (range(0, 3), range(100, 2600)):
        with statements_run(node.db.engine) as seen, node.db.session(write=False) as session:
            issuance.validate_batch(session, rows(seeds), context(node, session))
        looked_up.extend((s, p) for s, p in seen if "FROM holder" in s or "JOIN holder" in s)
    assert len(looked_up) == 1 + 3  # 2,500 holders: chunks of 1,000
    assert len({statement for statement, _ in looked_up}) == 1
    assert all(sorted(parameters) == ["id_lookups", "id_types"] for _, parameters in looked_up)


# --- SQLite: its own form, also through the index -----------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_issuance_queries_search_indexes_on_sqlite(app: Any) -> None:
    """SQLite has no arrays: the holder look-up constrains both columns of the unique
    index with IN lists, which SQLite searches; on ``id_lookup`` alone (or with a row
    value ``IN (VALUES ...)``) it scans the holder table for every chunk."""
    node: NodeState = app.state.node
    issue(node, range(0, 20), "first")
    statements = issuance_path(node, range(10, 40), "second")
    with node.db.engine.connect() as connection:
        details = [
            (detail, statement)
            for statement, parameters in statements
            for _, _, _, detail in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        ]
    touching = [(d, s) for d, s in details if re.search(r"\b(holder|credential)\b", d)]
    assert [(d, s) for d, s in touching if not d.startswith("SEARCH")] == []
    assert any("holder USING INDEX" in d and "id_type=? AND id_lookup=?" in d for d, _ in touching)


# --- one holder look-up per batch --------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_issue_takes_the_holders_its_validation_found(app: Any) -> None:
    """A batch looks its holders up once: issuing rows that validate_batch passed reads no
    holder again. Holders on record and new ones both."""
    node: NodeState = app.state.node
    issue(node, range(0, 10), "earlier")
    with node.db.session(write=False) as session:
        requests = issuance.validate_batch(session, rows(range(5, 25)), context(node, session))
    with statements_run(node.db.engine) as seen, node.db.session() as session:
        result = issuance.issue(session, OFFICER, requests, context(node, session), batch_id="later")
    assert result.count == 20
    assert [s for s, _ in seen if "FROM holder" in s or "JOIN holder" in s] == []
    with node.db.session(write=False) as session:
        again = issuance.validate_batch(session, rows(range(5, 25)), context(node, session))
    assert len(again.on_record) == 20  # the 5 earlier holders and the 15 made by "later"
    ids = {c.holderId for c in result.credentials}
    assert {h.id for h in again.on_record.values()} == ids


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_holder_registered_between_validation_and_issue_is_a_conflict_that_changes_nothing(
    app: Any,
) -> None:
    """The validation's holders are taken as they are; a holder another request
    registered in between is caught by uq_holder_identity: 409, nothing committed."""
    from registry.errors import ConflictError
    from registry.models import IssuanceBatch

    node: NodeState = app.state.node
    with node.db.session(write=False) as session:
        requests = issuance.validate_batch(session, rows(range(300, 305)), context(node, session))
    issue(node, range(302, 303), "in-between")
    with pytest.raises(ConflictError), node.db.session() as session:
        issuance.issue(session, OFFICER, requests, context(node, session), batch_id="late")
    with node.db.session(write=False) as session:
        assert session.get(IssuanceBatch, "late") is None
        sent_again = issuance.validate_batch(session, rows(range(300, 305)), context(node, session))
    with node.db.session() as session:
        assert (
            issuance.issue(session, OFFICER, sent_again, context(node, session), batch_id="late").count == 5
        )
