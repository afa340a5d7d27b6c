"""The audit log: every state change and every look-up of personal data, written in
the same transaction as the change itself (no change without its record)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from registry.auth import Principal
from registry.models import AuditEvent


def record(
    session: Session,
    principal: Principal,
    at: datetime,
    action: str,
    target_type: str,
    target_id: str,
    *,
    holder_id: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            at=at,
            actor=principal.actor,
            actor_role=principal.role,
            action=action,
            target_type=target_type,
            target_id=target_id,
            holder_id=holder_id,
            reason=reason,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
        )
    )


def record_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk form of :func:`record` for batches (rows are AuditEvent column dicts)."""
    if rows:
        session.execute(insert(AuditEvent), rows)


def events(
    session: Session,
    *,
    holder_id: str | None = None,
    action: str | None = None,
    target_id: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[AuditEvent]:
    query = select(AuditEvent).where(col(AuditEvent.id) > after_id)
    if holder_id is not None:
        query = query.where(AuditEvent.holder_id == holder_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    return list(session.exec(query.order_by(col(AuditEvent.id)).limit(limit)).all())


def public(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat().replace("+00:00", "Z"),
        "actor": event.actor,
        "actorRole": event.actor_role,
        "action": event.action,
        "targetType": event.target_type,
        "targetId": event.target_id,
        "reason": event.reason,
        "detail": json.loads(event.detail) if event.detail else None,
    }
