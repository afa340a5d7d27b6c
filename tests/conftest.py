"""Shared fixtures. Specification vectors are read from ../shared/vectors beside the
checkout; tests that need them skip, with the reason, when the folder is absent."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from registry.signing.did import DidResolver, did_key_from_public_key
from registry.signing.keys import Ed25519PrivateKey, generate_private_key, public_key_to_multikey
from tests import observed_responses

observed_responses.install()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The comparison of observed and declared responses runs after every other test.
    observed_responses.move_last(items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if target := os.environ.get("REGISTRY_TEST_OBSERVED_RESPONSES"):
        observed_responses.dump(target)


VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOW = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)


def vector_path(*parts: str) -> Path:
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"specification vectors not found at {path} (../shared/vectors is absent)")
    return path


def load_vector_json(*parts: str) -> Any:
    return json.loads(vector_path(*parts).read_text(encoding="utf-8"))


class DidKeyIssuer:
    """An issuer whose DID is the did:key of its own key (resolvable offline)."""

    def __init__(self, key: Ed25519PrivateKey | None = None) -> None:
        self.key = key or generate_private_key()
        self.did = did_key_from_public_key(self.key.public_key())
        self.vm = f"{self.did}#{public_key_to_multikey(self.key.public_key())}"


@pytest.fixture
def issuer() -> DidKeyIssuer:
    return DidKeyIssuer()


@pytest.fixture
def other_issuer() -> DidKeyIssuer:
    return DidKeyIssuer()


@pytest.fixture
def resolver() -> DidResolver:
    return DidResolver()


@pytest.fixture
def now() -> datetime:
    return NOW


# --- a provincial node on SQLite (always) and PostgreSQL (when REGISTRY_TEST_DATABASE_URL is set) ---

import shutil  # noqa: E402
import uuid as _uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from datetime import timedelta  # noqa: E402

from argon2 import PasswordHasher  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import make_url, text  # noqa: E402

from registry.app import create_app, prepare_database  # noqa: E402
from registry.auth import Passwords, Principal  # noqa: E402
from registry.credentials.issuance import EXAMPLE_ROW  # noqa: E402
from registry.database import Database, make_engine  # noqa: E402
from registry.settings import Settings  # noqa: E402
from registry.verifier import Verifier  # noqa: E402

PG_URL = os.environ.get("REGISTRY_TEST_DATABASE_URL")
BASE_URL = "http://127.0.0.1:8032"
#: One template per test process, so concurrent runs on one server do not collide.
PG_TEMPLATE = f"registry_test_template_{os.getpid()}"
#: argon2id at its cheapest: the tests check behaviour, not hashing cost.
CHEAP_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
PASSWORD = "correct horse battery staple"


def node_settings(tmp: Path, url: str) -> Settings:
    return Settings(data_dir=tmp, base_url=BASE_URL, database_url=url)


class MutableClock:
    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with a key ring and the catalogue, copied per test."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "registry.db"
    url = f"sqlite:///{path}"
    db = Database.from_url(url)
    prepare_database(node_settings(folder, url), db, lambda: NOW)
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


def _pg_admin_url() -> str:
    assert PG_URL is not None
    return make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)


class PgDatabases:
    """Fresh copies of the PostgreSQL template, made ahead by a background thread.

    ``CREATE DATABASE … TEMPLATE`` takes ~160 ms, mostly the server's own work; made while
    the previous test runs, a test finds its database ready. Used databases are dropped
    in the background too. At most ``ahead`` copies wait (they are small)."""

    def __init__(self, admin_url: str, template: str, ahead: int = 3) -> None:
        import queue
        import threading

        self._admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
        self._template = template
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=ahead)
        self._drops: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._make, name="pg-make", daemon=True),
            threading.Thread(target=self._drop, name="pg-drop", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _make(self) -> None:
        import queue

        while not self._stop.is_set():
            name = f"registry_test_{_uuid.uuid4().hex[:12]}"
            try:
                with self._admin.connect() as c:
                    c.execute(text(f"CREATE DATABASE {name} TEMPLATE {self._template}"))
                item: str | BaseException = name
            except Exception as exc:  # handed to the test that takes it
                item = exc
            while not self._stop.is_set():
                try:
                    self._ready.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            else:
                if isinstance(item, str):
                    self._drops.put(item)

    def _drop(self) -> None:
        while (name := self._drops.get()) is not None:
            with self._admin.connect() as c:
                c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def take(self) -> str:
        item = self._ready.get(timeout=120)
        if isinstance(item, BaseException):
            raise item
        return item

    def release(self, name: str) -> None:
        self._drops.put(name)

    def close(self) -> None:
        import queue

        self._stop.set()
        self._threads[0].join(30)
        while True:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, str):
                self._drops.put(item)
        self._drops.put(None)
        self._threads[1].join(120)
        self._admin.dispose()


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """A migrated PostgreSQL template database; each test gets a fresh copy."""
    if PG_URL is None:
        yield None
        return
    admin = make_engine(_pg_admin_url()).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {PG_TEMPLATE}"))
    url = make_url(PG_URL).set(database=PG_TEMPLATE).render_as_string(hide_password=False)
    db = Database.from_url(url)
    prepare_database(node_settings(tmp_path_factory.mktemp("pg"), url), db, lambda: NOW)
    db.dispose()
    yield url
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_databases(pg_template: str | None) -> Iterator[PgDatabases | None]:
    if pg_template is None:
        yield None
        return
    databases = PgDatabases(_pg_admin_url(), PG_TEMPLATE)
    yield databases
    databases.close()


def fresh_pg_url(databases: PgDatabases) -> Iterator[str]:
    """A fresh copy of the template for one test (dropped afterwards)."""
    assert PG_URL is not None
    name = databases.take()
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        databases.release(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_databases: PgDatabases | None
) -> Iterator[str]:
    """A fresh database for one test: a copy of the migrated template."""
    if request.param == "sqlite":
        target = tmp_path / "registry.db"
        shutil.copy(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    if pg_databases is None:
        pytest.skip("PostgreSQL tests run when REGISTRY_TEST_DATABASE_URL is set")
    yield from fresh_pg_url(pg_databases)


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database.from_url(database_url)
    yield db
    db.dispose()


@pytest.fixture
def app(tmp_path: Path, database_url: str, database: Database, clock: MutableClock) -> Any:
    return create_app(
        node_settings(tmp_path, database_url),
        clock,
        database=database,
        passwords=CHEAP_PASSWORDS,
        run_migrations=False,
        verifier=Verifier(workers=1),
    )


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


class Actors:
    """Accounts and keys made straight through the services, and their headers."""

    def __init__(self, app: Any) -> None:
        self.node = app.state.node
        self._n = 0

    def _account(self, role: str, holder_id: str | None = None) -> dict[str, str]:
        from registry.accounts import create_account

        self._n += 1
        admin = Principal("cli", "tests", "admin")
        with self.node.db.session() as session:
            account = create_account(
                session,
                self.node.passwords,
                admin,
                f"{role}{self._n}",
                PASSWORD,
                role,
                self.node.clock(),
                holder_id,
            )
        token, _ = self.node.tokens.issue(account, self.node.clock())
        return {"Authorization": f"Bearer {token}"}

    def admin(self) -> dict[str, str]:
        return self._account("admin")

    def officer(self) -> dict[str, str]:
        return self._account("issuing_officer")

    def auditor(self) -> dict[str, str]:
        return self._account("auditor")

    def holder(self, holder_id: str) -> dict[str, str]:
        return self._account("holder", holder_id)

    def hr(self, scopes: tuple[str, ...] = ("verify", "lookup"), rate: int = 10_000) -> dict[str, str]:
        from registry.accounts import create_hr_client

        admin = Principal("cli", "tests", "admin")
        with self.node.db.session() as session:
            _, key = create_hr_client(session, admin, "测试人才中心", list(scopes), rate, self.node.clock())
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def actors(app: Any) -> Actors:
    return Actors(app)


def issue_row(**overrides: Any) -> dict[str, Any]:
    """One valid issuance row (JSON names)."""
    row = dict(EXAMPLE_ROW)
    row.update(overrides)
    return row


def resident_id(seed: int) -> str:
    """A valid GB 11643 resident ID number, different for each ``seed``."""
    from registry.credentials.identity import gb11643_check_character

    born = date_from_seed(seed)
    first17 = f"320102{born:%Y%m%d}{seed % 1000:03d}"
    return first17 + gb11643_check_character(first17)


def date_from_seed(seed: int) -> datetime:
    return datetime(1960, 1, 1, tzinfo=UTC) + timedelta(days=(seed // 1000) % 15000)
