"""The audit log: every state change and every look-up of personal data, written in
the same transaction as the change itself (no change without its record)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from registry import i18n
from registry.auth import Principal
from registry.database import Database
from registry.models import AuditEvent, HrClient

log = logging.getLogger("registry.audit")

#: Whoever verifies through the public W3C VC API: no key, no account, nobody named.
ANONYMOUS = Principal("anonymous", "vc-api", "anonymous")
#: How a holder's audit names who acted (English message ids, domain ``reports``).
ANONYMOUS_VERIFICATION = "anonymous verification"
YOU = "you"
STAFF = "%(department)s (%(role)s)"
FEDERATION_NODE = "%(department)s (federation node)"
ROLE_WORDS = {
    "admin": "node administrator",
    "issuing_officer": "issuing officer",
    "auditor": "auditor",
    "cli": "node operator",
}
#: How a holder's audit names what was done (the rest by their action id).
ACTION_WORDS = {
    "credential.issue": "credential issued",
    "credential.revoke": "credential revoked",
    "credential.suspend": "credential suspended",
    "credential.reinstate": "credential reinstated",
    "credential.verify": "credential verified",
    "credential.lookup": "credential looked up with a verification code",
    "credential.read": "credential record read by node staff",
    "credential.search": "found in a search of credentials by node staff",
    "holder.search": "found in a search of holders by node staff",
    "verification-code.create": "verification code made",
    "verification-code.revoke": "verification code revoked",
    "holder.activation-code": "account activation code made",
    "account.create": "account created",
    "account.deactivate": "account deactivated",
    "account.reactivate": "account reactivated",
    "account.password-change": "password changed",
    "account.password-reset": "password reset",
    "recognition.apply": "applied for recognition in another province",
    "recognition.decided": "recognition decided by the other province",
    "recognition.dispute": "disputed a refusal of recognition",
    "recognition.withdraw": "withdrew an application for recognition",
}


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
        # Core insert (executemany), not the ORM's bulk path: several times cheaper.
        session.connection().execute(insert(AuditEvent.__table__), rows)  # type: ignore[attr-defined]


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


def _hr_client_names(session: Session, events: Sequence[AuditEvent]) -> dict[str, str]:
    ids = sorted({e.actor.partition(":")[2] for e in events if e.actor.startswith("hr_client:")})
    if not ids:
        return {}
    rows = session.exec(select(HrClient.id, HrClient.name).where(col(HrClient.id).in_(ids))).all()
    return dict(rows)


def actor_name(
    event: AuditEvent,
    locale: i18n.Locale,
    hr_clients: Mapping[str, str],
    department: tuple[str, str] | None,
    peers: Mapping[str, tuple[str, str]],
) -> str:
    """Who acted, as the holder reads it: the HR client by its name, a federation node
    by its department, this node's staff by department and role, the holder as "you",
    a VC API verification as anonymous."""
    kind, _, ident = event.actor.partition(":")

    def t(message: str, /, **values: object) -> str:
        return i18n.gettext(locale, "reports", message, **values)

    def named(pair: tuple[str, str] | None, fallback: str) -> str:
        return (pair[0] if locale == "zh_CN" else pair[1]) if pair else fallback

    if kind == "anonymous":
        return t(ANONYMOUS_VERIFICATION)
    if kind == "hr_client":
        return hr_clients.get(ident, event.actor)
    if kind in ("node", "peer"):
        return t(FEDERATION_NODE, department=named(peers.get(ident), ident))
    if event.actor_role == "holder":
        return t(YOU)
    role = ROLE_WORDS.get("cli" if kind == "cli" else event.actor_role)
    own = named(department, "")
    if role is None:
        return own or event.actor
    return t(STAFF, department=own, role=t(role)) if own else t(role)


def readable(
    session: Session,
    events: Sequence[AuditEvent],
    locale: i18n.Locale,
    department: tuple[str, str] | None,
    peers: Mapping[str, tuple[str, str]] = {},
) -> list[dict[str, Any]]:
    """:func:`public` records with who acted and what was done named in ``locale``
    (``actorName``, ``actionName``); ``department`` is this node's (zh, en) name and
    ``peers`` the federation members' by entity identifier and DID. Names are read
    now (an HR client's from its record), so nothing stored changes."""
    hr_clients = _hr_client_names(session, events)
    return [
        {
            **public(e),
            "actorName": actor_name(e, locale, hr_clients, department, peers),
            "actionName": i18n.gettext(locale, "reports", ACTION_WORDS[e.action])
            if e.action in ACTION_WORDS
            else e.action,
        }
        for e in events
    ]


class AuditWriter:
    """Writes the audit records of verifications in the background, in batches.

    A verification changes nothing and reads no personal data the caller does not
    already hold, so its record (which lets the holder see who verified) need not
    share a transaction: it is queued and written within ``interval`` seconds, one
    transaction per batch. Readers of the audit log call :meth:`flush` first. A crash
    loses at most the records of the last ``interval``; state changes and look-ups of
    personal data are never written this way.
    """

    MAX_PENDING = 100_000

    def __init__(self, db: Database, interval: float = 0.1) -> None:
        self.db = db
        self.interval = interval
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self._lock:
                if len(self._pending) + len(rows) > self.MAX_PENDING:
                    log.error("audit queue full: %d verification records dropped", len(rows))
                    return
                self._pending.extend(rows)

    def flush(self) -> None:
        with self._write_lock:
            with self._lock:
                rows, self._pending = self._pending, []
            if not rows:
                return
            try:
                with self.db.session() as session:
                    record_many(session, rows)
            except Exception:
                log.exception("writing %d audit records failed; kept for the next attempt", len(rows))
                with self._lock:
                    self._pending[:0] = rows

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self.flush()
