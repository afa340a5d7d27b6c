"""What the desks keep between requests: an officer's checked evaluation batch between
its preview and its issue, and an HR desk's verification job while it runs and for a
while after (its results).

Kept in the node's database (table ``desk_item``), so that with several workers
(``registry serve --workers N``) whichever worker answers a request finds what another
made: the job's page, its progress and its results. The job itself runs in the worker
that accepted it and writes its progress there; a job that has not changed for
:data:`STALE_SECONDS` was interrupted (its worker stopped) and says so.

Each item belongs to the principal who made it (``owner``, the audit actor): another
caller asking for it gets nothing, exactly as for an id that does not exist. Items
expire after ``ttl`` seconds; past ``max_items`` of a kind the oldest are dropped. The
methods block (a database round trip): call them from a thread."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update

from registry.models import DeskItem
from registry.node import STALE_SECONDS, NodeState


@dataclass
class Item:
    id: str
    owner: str
    created: datetime
    data: dict[str, Any] = field(default_factory=dict)


def _interrupted(row: DeskItem, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    if data.get("state") in ("queued", "running") and row.updated_at < now - timedelta(seconds=STALE_SECONDS):
        return {**data, "state": "failed", "interrupted": True}
    return data


class Store:
    """Items of one ``kind`` in the node's database (JSON data)."""

    def __init__(self, node: NodeState, kind: str, ttl: float, max_items: int) -> None:
        self.node, self.kind, self.ttl, self.max_items = node, kind, ttl, max_items

    def _prune(self, session: Any, now: datetime) -> None:
        table = DeskItem.__table__  # type: ignore[attr-defined]
        session.execute(
            delete(table).where(
                table.c.kind == self.kind, table.c.created_at < now - timedelta(seconds=self.ttl)
            )
        )
        keep = (
            select(table.c.id)
            .where(table.c.kind == self.kind)
            .order_by(table.c.created_at.desc())
            .limit(self.max_items)
            .scalar_subquery()
        )
        session.execute(delete(table).where(table.c.kind == self.kind, table.c.id.not_in(keep)))

    def add(self, owner: str, **data: Any) -> Item:
        now = self.node.clock()
        item = Item(secrets.token_urlsafe(12), owner, now, dict(data))
        with self.node.db.session() as session:
            self._prune(session, now)
            session.add(
                DeskItem(
                    id=item.id,
                    kind=self.kind,
                    owner=owner,
                    created_at=now,
                    updated_at=now,
                    data=json.dumps(data, ensure_ascii=False),
                )
            )
        return item

    def _row(self, session: Any, item_id: str, owner: str | None) -> DeskItem | None:
        row: DeskItem | None = session.get(DeskItem, item_id)
        if row is None or row.kind != self.kind:
            return None
        if owner is not None and not secrets.compare_digest(row.owner, owner):
            return None
        if row.created_at < self.node.clock() - timedelta(seconds=self.ttl):
            return None
        return row

    def update(self, item_id: str, **data: Any) -> None:
        """Merge ``data`` into the item's (the job that owns it is its only writer)."""
        with self.node.db.session() as session:
            row = self._row(session, item_id, None)
            if row is None:
                return
            merged = {**json.loads(row.data), **data}
            table = DeskItem.__table__  # type: ignore[attr-defined]
            session.execute(
                update(table)
                .where(table.c.id == item_id)
                .values(data=json.dumps(merged, ensure_ascii=False), updated_at=self.node.clock())
            )

    def snapshot(self, item_id: str, owner: str) -> dict[str, Any] | None:
        """The item's data, or None when there is no such item of ``owner``'s."""
        with self.node.db.session(write=False) as session:
            row = self._row(session, item_id, owner)
            if row is None:
                return None
            return _interrupted(row, json.loads(row.data), self.node.clock())

    def owned(self, owner: str, limit: int = 10) -> list[Item]:
        """The owner's items, newest first."""
        now = self.node.clock()
        with self.node.db.session(write=False) as session:
            rows = session.execute(
                select(DeskItem)
                .where(
                    DeskItem.kind == self.kind,  # type: ignore[arg-type]
                    DeskItem.owner == owner,  # type: ignore[arg-type]
                    DeskItem.created_at >= now - timedelta(seconds=self.ttl),  # type: ignore[arg-type]
                )
                .order_by(DeskItem.created_at.desc())  # type: ignore[attr-defined]
                .limit(limit)
            ).scalars()
            return [Item(r.id, r.owner, r.created_at, _interrupted(r, json.loads(r.data), now)) for r in rows]

    def pop(self, item_id: str, owner: str) -> Item | None:
        """Take the item out (once: of two callers at the same moment, one gets it)."""
        with self.node.db.session() as session:
            row = self._row(session, item_id, owner)
            if row is None:
                return None
            table = DeskItem.__table__  # type: ignore[attr-defined]
            taken = cast(CursorResult[Any], session.execute(delete(table).where(table.c.id == item_id)))
            if taken.rowcount != 1:
                return None
            return Item(row.id, row.owner, row.created_at, json.loads(row.data))


@dataclass
class DeskState:
    #: officers' checked batches, waiting for the issue button (an hour)
    uploads: Store
    #: HR verification jobs and their results (a day)
    jobs: Store


def desk_state(node: NodeState) -> DeskState:
    """The desks' stores of ``node``."""
    return DeskState(
        uploads=Store(node, "upload", ttl=3600.0, max_items=200),
        jobs=Store(node, "job", ttl=24 * 3600.0, max_items=1000),
    )
