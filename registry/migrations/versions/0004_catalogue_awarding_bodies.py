"""catalogue: awarding bodies, specialties, national catalogue items, retirement;
a credential's specialty is optional (types without specialties)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import registry.database

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credential_type", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("has_specialty", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("awarding_body_zh", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.add_column(
            sa.Column("awarding_body_en", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True)
        )
        batch_op.add_column(sa.Column("national_item", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("retired_at", registry.database.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("retired_reason", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True)
        )
        batch_op.add_column(sa.Column("seed_version", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("updated_at", registry.database.UTCDateTime(timezone=True), nullable=True)
        )
    # The default only fills the existing rows; new rows always say it. The seed then
    # brings the existing rows up to date (registry.credentials.catalogue.seed).
    with op.batch_alter_table("credential_type", schema=None) as batch_op:
        batch_op.alter_column("has_specialty", server_default=None)
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.alter_column(
            "specialty", existing_type=sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
        )


def downgrade() -> None:
    op.execute("UPDATE credential SET specialty = '' WHERE specialty IS NULL")
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.alter_column(
            "specialty", existing_type=sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        )
    with op.batch_alter_table("credential_type", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("seed_version")
        batch_op.drop_column("retired_reason")
        batch_op.drop_column("retired_at")
        batch_op.drop_column("national_item")
        batch_op.drop_column("awarding_body_en")
        batch_op.drop_column("awarding_body_zh")
        batch_op.drop_column("has_specialty")
