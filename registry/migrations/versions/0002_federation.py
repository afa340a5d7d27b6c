"""federation: key purposes, members and authorisations of a trust anchor

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import registry.database

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("node_key", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "purpose",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="assertion",
            )
        )
        batch_op.create_index(batch_op.f("ix_node_key_purpose"), ["purpose"], unique=False)
    # The default only fills the existing rows; new rows always name their purpose.
    with op.batch_alter_table("node_key", schema=None) as batch_op:
        batch_op.alter_column("purpose", server_default=None)
    op.create_table(
        "federation_member",
        sa.Column("entity_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("did", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("province", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("jwks", sa.Text(), nullable=False),
        sa.Column("admitted_at", registry.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("admitted_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("removed_at", registry.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("removal_reason", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.PrimaryKeyConstraint("entity_id"),
    )
    op.create_table(
        "federation_authorisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("valid_from", registry.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", registry.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("granted_at", registry.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("withdrawn_at", registry.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("withdrawal_reason", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.ForeignKeyConstraint(["entity_id"], ["federation_member.entity_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("federation_authorisation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_federation_authorisation_entity_id"), ["entity_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("federation_authorisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_authorisation_entity_id"))
    op.drop_table("federation_authorisation")
    op.drop_table("federation_member")
    with op.batch_alter_table("node_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_node_key_purpose"))
        batch_op.drop_column("purpose")
