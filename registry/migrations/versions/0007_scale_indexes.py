"""indexes for a node of millions: audit records by target, set status bits by list

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 16:00:00

The auditor's query by target (``GET /v1/audit?target=``) scanned the audit log, which
grows by a record per issuance: ``(target_id, id)`` answers it in id order. Every status
change re-signs its list with the reason of every set bit (``status.set_reasons``), which
read all of the list's up to 98,304 credentials to find the few revoked or suspended
ones: partial indexes over the revoked and the suspended credentials hold only those.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REVOKED = sa.text("status = 'revoked'")
SUSPENDED = sa.text("status = 'suspended'")


def upgrade() -> None:
    op.create_index("ix_audit_event_target", "audit_event", ["target_id", "id"])
    op.create_index(
        "ix_credential_revoked",
        "credential",
        ["revocation_list_id", "revocation_index"],
        postgresql_where=REVOKED,
        sqlite_where=REVOKED,
    )
    op.create_index(
        "ix_credential_suspended",
        "credential",
        ["suspension_list_id", "suspension_index"],
        postgresql_where=SUSPENDED,
        sqlite_where=SUSPENDED,
    )


def downgrade() -> None:
    op.drop_index("ix_credential_suspended", table_name="credential")
    op.drop_index("ix_credential_revoked", table_name="credential")
    op.drop_index("ix_audit_event_target", table_name="audit_event")
