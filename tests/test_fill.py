"""The scale benchmark's loader (``bench/fill.py``, issue 11 "Ten million credentials"):
what it writes is the node's own, so a loaded node verifies its credentials (valid, and
revoked or suspended where the loader set the bit), keeps its indexes and constraints
after a bulk load, grows from a load to a larger one, and refuses to grow from a hole."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from bench import fill
from registry.accounts import create_hr_client
from registry.auth import Principal
from registry.node import NodeState
from tests.conftest import PgDatabases, fresh_pg_url

ADMIN = Principal("cli", "tests", "admin")
SCHEMA = text(
    "SELECT count(*) FROM pg_indexes WHERE tablename IN ('holder', 'credential', 'audit_event')"
    " UNION ALL SELECT count(*) FROM pg_constraint WHERE conrelid::regclass::text IN"
    " ('holder', 'credential', 'audit_event')"
)


def run_fill(monkeypatch: pytest.MonkeyPatch, url: str, folder: Path, total: int) -> None:
    argv = ["fill", "--url", url, "--data-dir", str(folder), "--to", str(total), "--chunk", "250"]
    monkeypatch.setattr(sys, "argv", [*argv, "--processes", "1"])
    fill.main()


def schema(node: NodeState) -> list[int]:
    with node.db.engine.connect() as connection:
        return [int(n) for (n,) in connection.execute(SCHEMA)]


def verdicts(app: Any, positions: list[int]) -> list[tuple[str, str]]:
    """(verdict, status check code) of the loaded credentials at ``positions``, verified
    over the API by an HR client of the node."""
    node: NodeState = app.state.node
    with node.db.session() as session:
        _, key = create_hr_client(session, ADMIN, "测试人才中心", ["verify"], 10_000, node.clock())
        documents = [
            session.exec(  # type: ignore[call-overload]
                text("SELECT document FROM credential WHERE id = :id"),
                params={"id": fill.a_uuid(b"credential", p)},
            ).one()[0]
            for p in positions
        ]
    found = []
    with TestClient(app) as client:
        for document in documents:
            answer = client.post(
                "/v1/verifications",
                content=b'{"credential":' + document.encode() + b"}",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            assert answer.status_code == 200, answer.text
            status = next(c for c in answer.json()["checks"] if c["check"] == "status")
            found.append((answer.json()["verdict"], status["code"]))
    return found


def test_a_loaded_node_verifies_its_credentials_and_grows(
    pg_databases: PgDatabases | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if pg_databases is None:
        pytest.skip("the loader is for PostgreSQL: set REGISTRY_TEST_DATABASE_URL")
    with contextmanager(fresh_pg_url)(pg_databases) as url:
        node = fill.open_node(url, tmp_path)
        before = schema(node)
        node.db.dispose()
        run_fill(monkeypatch, url, tmp_path, 1000)  # bulk: indexes dropped, then made again
        app = fill.open_app(url, tmp_path)
        node = app.state.node
        assert schema(node) == before
        with node.db.engine.connect() as connection:  # analysed: the planner knows the tables
            analysed = connection.execute(
                text(
                    "SELECT n_distinct FROM pg_stats WHERE tablename = 'credential' AND attname = 'holder_id'"
                )
            ).all()
        assert analysed != []
        assert not fill.saved_definitions(tmp_path).exists()
        assert fill.loaded(node) == 1000
        revoked, suspended = fill.REVOKED_EVERY - 1, fill.SUSPENDED_EVERY // 3
        assert fill.status_of(revoked)[0] == "revoked"
        assert fill.status_of(suspended)[0] == "suspended"
        assert verdicts(app, [0, 1, revoked, suspended]) == [
            ("valid", "status-clear"),
            ("valid", "status-clear"),  # the second title of the first holder
            ("invalid", "status-revoked"),
            ("invalid", "status-suspended"),
        ]
        with node.db.engine.connect() as connection:
            holders = connection.execute(text("SELECT count(*) FROM holder")).scalar_one()
            audits = connection.execute(
                text("SELECT count(*) FROM audit_event WHERE actor = 'bulk-load'")
            ).scalar_one()
        assert holders == 800  # four in five credentials have a holder of their own
        assert audits == 1000 + 2 + 1  # an issuance each; the revocations (499, 999) and a suspension (333)
        node.db.dispose()

        run_fill(monkeypatch, url, tmp_path, 1500)  # grows without a bulk load
        app = fill.open_app(url, tmp_path)
        node = app.state.node
        assert fill.loaded(node) == 1500
        assert verdicts(app, [1499, 1333]) == [("invalid", "status-revoked"), ("invalid", "status-suspended")]
        with node.db.engine.begin() as connection:  # a hole: an interrupted load's missing chunk
            connection.execute(
                text("DELETE FROM audit_event WHERE target_id = :id"),
                {"id": fill.a_uuid(b"credential", 700)},
            )
            connection.execute(
                text("DELETE FROM credential WHERE id = :id"), {"id": fill.a_uuid(b"credential", 700)}
            )
        with pytest.raises(SystemExit, match="not the loader's first"):
            fill.loaded(node)
        node.db.dispose()
