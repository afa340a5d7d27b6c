"""Alembic environment: the connection comes from :func:`registry.database.migrate`
(``config.attributes["connection"]``) or, from the alembic command line, from
``REGISTRY_DATABASE_URL``."""

from __future__ import annotations

import os

from alembic import context
from sqlmodel import SQLModel

import registry.models  # noqa: F401 - registers the tables on SQLModel.metadata
from registry.database import make_engine

target_metadata = SQLModel.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(os.environ.get("REGISTRY_DATABASE_URL", "sqlite:///var/registry.db"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
