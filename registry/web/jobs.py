"""What the desks keep between requests, in this process's memory and in bounds: an
officer's checked evaluation batch between its preview and its issue, and an HR
desk's verification job while it runs and for a while after (its results).

Each item belongs to the principal who made it (``owner``, the audit actor): another
caller asking for it gets nothing, exactly as for an id that does not exist. Items
expire after ``ttl`` seconds; past ``max_items`` the oldest are dropped."""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from registry.node import NodeState


@dataclass
class Item:
    id: str
    owner: str
    created: float
    data: dict[str, Any] = field(default_factory=dict)


class Store:
    def __init__(
        self, ttl: float = 3600.0, max_items: int = 200, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, Item] = {}

    def _prune(self) -> None:
        cutoff = self._clock() - self.ttl
        for key in [k for k, v in self._items.items() if v.created < cutoff]:
            del self._items[key]
        while len(self._items) > self.max_items:
            del self._items[next(iter(self._items))]

    def add(self, owner: str, **data: Any) -> Item:
        item = Item(secrets.token_urlsafe(12), owner, self._clock(), dict(data))
        with self._lock:
            self._items[item.id] = item
            self._prune()
        return item

    def get(self, item_id: str, owner: str) -> Item | None:
        with self._lock:
            self._prune()
            item = self._items.get(item_id)
        return item if item is not None and secrets.compare_digest(item.owner, owner) else None

    def update(self, item_id: str, **data: Any) -> None:
        with self._lock:
            item = self._items.get(item_id)
            if item is not None:
                item.data.update(data)

    def snapshot(self, item_id: str, owner: str) -> dict[str, Any] | None:
        """A copy of an item's data (safe to read while its job writes)."""
        with self._lock:
            item = self._items.get(item_id)
            if item is None or not secrets.compare_digest(item.owner, owner):
                return None
            return dict(item.data)

    def owned(self, owner: str, limit: int = 10) -> list[Item]:
        """The owner's items, newest first (copies)."""
        with self._lock:
            self._prune()
            mine = [i for i in self._items.values() if secrets.compare_digest(i.owner, owner)]
            return [Item(i.id, i.owner, i.created, dict(i.data)) for i in reversed(mine)][:limit]

    def pop(self, item_id: str, owner: str) -> Item | None:
        with self._lock:
            item = self._items.get(item_id)
            if item is None or not secrets.compare_digest(item.owner, owner):
                return None
            del self._items[item_id]
            return item


@dataclass
class DeskState:
    #: officers' checked batches, waiting for the issue button (an hour)
    uploads: Store = field(default_factory=lambda: Store(ttl=3600.0, max_items=50))
    #: HR verification jobs and their results (a day)
    jobs: Store = field(default_factory=lambda: Store(ttl=24 * 3600.0, max_items=200))


_STATES: weakref.WeakKeyDictionary[NodeState, DeskState] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def desk_state(node: NodeState) -> DeskState:
    """The desks' state of ``node`` (made on first use)."""
    with _STATES_LOCK:
        state = _STATES.get(node)
        if state is None:
            state = _STATES[node] = DeskState()
        return state
