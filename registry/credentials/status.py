"""The node's status lists: index allocation (random, never reused), revoke / suspend /
reinstate with reason codes, and the signed list credentials it serves.

An index belongs to one credential for ever: the credential row keeps it, and a
unique constraint on (list, index) refuses a second owner. A list takes new
credentials until three quarters of it are allocated, so random draws stay cheap and
every list keeps a crowd to hide in (herd privacy).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import orjson
from sqlalchemy import func, text, update
from sqlmodel import Session, col, select

from registry import audit
from registry.auth import Principal
from registry.credentials import sd_jwt_vc
from registry.credentials.errors import ReasonCodeError, StatusTransitionError
from registry.credentials.status_list import (
    MIN_LENGTH,
    Bitstring,
    StatusPurpose,
    allocate_index,
    bit_at,
    status_entry,
    status_list_credential,
)
from registry.credentials.verification import Check, Term, params
from registry.database import Connectable, Database
from registry.errors import NotFoundError
from registry.models import Credential, StatusList
from registry.signing import jose
from registry.signing.data_integrity import add_proof
from registry.signing.encoding import b64url_encode
from registry.signing.errors import KeyMaterialError
from registry.signing.keyring import KeyRing

PURPOSES: tuple[StatusPurpose, ...] = ("revocation", "suspension")
FILL_LIMIT = MIN_LENGTH * 3 // 4

#: Reason codes. Revocation is final; suspension can be lifted (reinstatement).
REVOCATION_REASONS = {
    "research_misconduct": "科研失信 Research misconduct (integrity sanction)",
    "fraudulent_application": "申报材料弄虚作假 Fraudulent application",
    "issued_in_error": "误发 Issued in error",
    "evaluation_annulled": "评审结果撤销 Evaluation annulled",
    "disciplinary_sanction": "纪律处分 Disciplinary sanction",
    "superseded": "被替代 Superseded by a new credential",
}
SUSPENSION_REASONS = {
    "under_investigation": "调查中 Under investigation",
    "research_misconduct_investigation": "科研失信调查中 Research-integrity investigation",
    "disciplinary_procedure": "纪律审查中 Disciplinary procedure",
    "administrative_hold": "行政暂停 Administrative hold",
}
REINSTATEMENT_REASONS = {
    "investigation_cleared": "调查结论无问题 Investigation cleared",
    "suspension_expired": "暂停期满 Suspension period ended",
    "suspended_in_error": "误停 Suspended in error",
}
#: The reason recorded for a change asked through the W3C VC API without the registry's
#: reasonCode (that API has none); the registry's own API always needs a real reason.
UNSPECIFIED = "unspecified"
UNSPECIFIED_LABEL = "未说明 No reason given (VC API request)"
#: Every reason code with its label (zh and en), as reports show it.
REASON_LABELS: dict[str, str] = {
    **REVOCATION_REASONS,
    **SUSPENSION_REASONS,
    **REINSTATEMENT_REASONS,
    UNSPECIFIED: UNSPECIFIED_LABEL,
}
Action = Literal["revoke", "suspend", "reinstate"]
REASONS: dict[str, dict[str, str]] = {
    "revoke": REVOCATION_REASONS,
    "suspend": SUSPENSION_REASONS,
    "reinstate": REINSTATEMENT_REASONS,
}


def list_url(base_url: str, purpose: str, number: int) -> str:
    return f"{base_url}/status/{purpose}/{number}"


def _open_list(session: Session, purpose: StatusPurpose) -> StatusList:
    row = session.exec(
        select(StatusList)
        .where(StatusList.purpose == purpose, col(StatusList.allocated) < FILL_LIMIT)
        .order_by(col(StatusList.number))
        .limit(1)
    ).first()
    if row is not None:
        return row
    last = session.exec(select(func.max(StatusList.number)).where(StatusList.purpose == purpose)).one()
    row = StatusList(
        purpose=purpose,
        number=(last or 0) + 1,
        length=MIN_LENGTH,
        bits=bytes(MIN_LENGTH // 8),
    )
    session.add(row)
    session.flush()
    return row


#: Which of some candidate indexes are already held on a list: one statement text for any
#: number of candidates (an array parameter on PostgreSQL, a JSON array on SQLite), each
#: candidate one probe of the (list, index) unique index; never a read of the whole list.
_TAKEN_AMONG = {
    ("postgresql", "revocation"): text(
        "SELECT revocation_index FROM credential"
        " WHERE revocation_list_id = :id AND revocation_index = ANY(:candidates)"
    ),
    ("postgresql", "suspension"): text(
        "SELECT suspension_index FROM credential"
        " WHERE suspension_list_id = :id AND suspension_index = ANY(:candidates)"
    ),
    ("sqlite", "revocation"): text(
        "SELECT revocation_index FROM credential WHERE revocation_list_id = :id"
        " AND revocation_index IN (SELECT value FROM json_each(:candidates))"
    ),
    ("sqlite", "suspension"): text(
        "SELECT suspension_index FROM credential WHERE suspension_list_id = :id"
        " AND suspension_index IN (SELECT value FROM json_each(:candidates))"
    ),
}
#: Candidates asked about per statement.
_PROBE_CHUNK = 4096
#: Rounds of random candidates before a list is read whole (never reached while a list
#: keeps a quarter of its indexes free: each round asks for more than enough).
_PROBE_ROUNDS = 16


def _taken_among(session: Session, purpose: StatusPurpose, list_id: int, candidates: list[int]) -> set[int]:
    """The ``candidates`` already held by a credential on list ``list_id``."""
    dialect = session.get_bind().dialect.name
    statement = _TAKEN_AMONG[("postgresql" if dialect == "postgresql" else "sqlite", purpose)]
    connection = session.connection()
    taken: set[int] = set()
    for start in range(0, len(candidates), _PROBE_CHUNK):
        chunk = candidates[start : start + _PROBE_CHUNK]
        value: object = chunk if dialect == "postgresql" else json.dumps(chunk)
        taken.update(int(i) for (i,) in connection.execute(statement, {"id": list_id, "candidates": value}))
    return taken


def _taken(session: Session, purpose: StatusPurpose, list_id: int) -> set[int]:
    """Every index held on list ``list_id`` (the fallback of :func:`_free_indexes`)."""
    if purpose == "revocation":
        query = select(Credential.revocation_index).where(Credential.revocation_list_id == list_id)
    else:
        query = select(Credential.suspension_index).where(Credential.suspension_list_id == list_id)
    return set(session.exec(query).all())


def _free_indexes(
    session: Session, purpose: StatusPurpose, row: StatusList, count: int, rng: random.Random
) -> list[int]:
    """``count`` distinct indexes of ``row`` that no credential holds, uniformly at random
    among the free ones: random candidates (never the same twice) are drawn, the ones
    already held are asked for in one probe of the unique index each, and the free ones
    are taken in the order drawn. The rows read grow with ``count``, not with the list:
    at most three quarters of a list is held, so a candidate is free with probability
    one quarter or more, and each round asks about enough candidates for all that is
    still needed."""
    assert row.id is not None
    length = row.length
    held = min(row.allocated, length)  # before this allocation (the counter is raised after)
    free_share = max(length - held, 1) / length
    chosen: list[int] = []
    drawn: set[int] = set()
    for _ in range(_PROBE_ROUNDS):
        need = count - len(chosen)
        if need == 0:
            return chosen
        want = min(int(need / free_share * 1.25) + 16, length - len(drawn))
        candidates: list[int] = []
        while len(candidates) < want:
            index = rng.randrange(length)
            if index not in drawn:
                drawn.add(index)
                candidates.append(index)
        taken = _taken_among(session, purpose, row.id, candidates)
        chosen.extend(i for i in candidates if i not in taken)
        del chosen[count:]
        if len(drawn) >= length:
            break
    if len(chosen) == count:
        return chosen
    # Unreachable for a list under its fill limit; kept so that allocation never fails
    # while an index is free.
    taken_all = _taken(session, purpose, row.id)
    taken_all.update(chosen)
    for _ in range(count - len(chosen)):
        index = allocate_index(taken_all.__contains__, length, rng)
        taken_all.add(index)
        chosen.append(index)
    return chosen


def allocate(
    session: Session, purpose: StatusPurpose, count: int, rng: random.Random
) -> list[tuple[int, int, int]]:
    """``count`` fresh (list id, list number, index) slots for ``purpose``.

    The open list's row is locked first (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite
    a write transaction holds the database from its ``BEGIN IMMEDIATE``) and stays locked
    until commit, so two issuers never draw from the same free set at once: the second
    waits, then sees the first one's credentials. The unique constraint on the credential
    table is the last guard. Free indexes are found by probing random candidates
    (:func:`_free_indexes`), so a batch reads rows in proportion to its size, not to the
    list's.
    """
    slots: list[tuple[int, int, int]] = []
    while len(slots) < count:
        open_row = _open_list(session, purpose)
        assert open_row.id is not None
        row = session.get(StatusList, open_row.id, with_for_update=True, populate_existing=True)
        assert row is not None
        assert row.id is not None
        take = min(count - len(slots), FILL_LIMIT - row.allocated)
        if take <= 0:
            continue  # filled by another issuer meanwhile: the next open list
        indexes = _free_indexes(session, purpose, row, take, rng)
        session.execute(
            update(StatusList)
            .where(col(StatusList.id) == row.id)
            .values(allocated=StatusList.allocated + take)
        )
        session.refresh(row)
        slots.extend((row.id, row.number, index) for index in indexes)
    rng.shuffle(slots)
    return slots


_SET_REASONS = {
    "revocation": text(
        "SELECT revocation_index, status_reason FROM credential"
        " WHERE revocation_list_id = :id AND status = 'revoked' AND status_reason IS NOT NULL"
    ),
    "suspension": text(
        "SELECT suspension_index, status_reason FROM credential"
        " WHERE suspension_list_id = :id AND status = 'suspended' AND status_reason IS NOT NULL"
    ),
}


def set_reasons(session: Session, row: StatusList) -> dict[int, str]:
    """The reason code of every set bit of ``row``: published with the list, so that a
    research-integrity sanction (科研失信) is visible to every province's verifiers, not
    only to this node's."""
    session.flush()  # a status change of this transaction is part of the answer
    found = session.connection().execute(_SET_REASONS[row.purpose], {"id": row.id})
    return {int(index): str(reason) for index, reason in found}


def sign_list(
    row: StatusList,
    did: str,
    base_url: str,
    ring: KeyRing,
    now: datetime,
    ttl: int,
    reasons: Mapping[int, str] | None = None,
) -> None:
    """Re-sign the list credential of ``row`` (after its bits changed), with the
    reasons of its set bits."""
    record, key = ring.signing_key(now)
    url = list_url(base_url, row.purpose, row.number)
    unsigned = status_list_credential(
        url,
        did,
        row.purpose,  # type: ignore[arg-type]
        Bitstring(row.length, row.bits),
        now,
        now + timedelta(seconds=max(ttl, 60) * 12),
        reasons=reasons,
    )
    signed = add_proof(unsigned, key, f"{did}#{record.kid}", now)
    text = json.dumps(signed, ensure_ascii=False, separators=(",", ":"))
    row.signed_credential = text
    row.signed_at = now
    row.etag = '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


# --- Token Status List (draft-ietf-oauth-status-list) of the revocation lists ----------
#
# An SD-JWT VC names its status as ``status.status_list`` {idx, uri}: the credential's
# index in its revocation list, read through a Status List Token at ``/status/token/<n>``
# (§5: ``typ: statuslist+jwt``; ``sub`` its own URI; ``status_list`` {bits, lst}, ``lst``
# the DEFLATE/ZLIB-compressed, base64url byte array, §4.1). Two bits an entry: 0x00 VALID,
# 0x01 INVALID (revoked), 0x02 SUSPENDED (§7.1); the bits of each entry are counted from
# the least significant bit of its byte (§4.1), unlike the W3C Bitstring Status List.

TOKEN_LIST_TYPE = "statuslist+jwt"  # noqa: S105 (a media type, not a secret)
TOKEN_LIST_MEDIA_TYPE = "application/statuslist+jwt"  # noqa: S105
TOKEN_BITS = 2
TOKEN_VALID, TOKEN_INVALID, TOKEN_SUSPENDED = 0, 1, 2


def token_list_url(base_url: str, number: int) -> str:
    return f"{base_url}/status/token/{number}"


def token_list_bytes(length: int, revocation_bits: bytes, suspended: Iterable[int]) -> bytes:
    """The Token Status List byte array of a revocation list (pure): INVALID where the
    revocation bit is set, SUSPENDED at the suspended credentials' revocation indexes."""
    out = bytearray((length * TOKEN_BITS + 7) // 8)

    def put(index: int, value: int) -> None:
        shift = (index % 4) * TOKEN_BITS
        out[index // 4] = (out[index // 4] & ~(0b11 << shift)) | (value << shift)

    for index in suspended:
        put(index, TOKEN_SUSPENDED)
    for position, byte in enumerate(revocation_bits):
        if byte:
            for bit in range(8):
                if byte & (0x80 >> bit) and position * 8 + bit < length:
                    put(position * 8 + bit, TOKEN_INVALID)
    return bytes(out)


def token_status(data: bytes, index: int) -> int:
    """The status of entry ``index`` of a Token Status List byte array (2 bits)."""
    return (data[index // 4] >> ((index % 4) * TOKEN_BITS)) & 0b11


def token_status_list(
    session: Session, number: int, *, did: str, base_url: str, ring: KeyRing, now: datetime, ttl: int
) -> str:
    """The signed Status List Token of revocation list ``number`` as it is now."""
    row = get_list(session, "revocation", number)
    suspended = session.exec(
        select(Credential.revocation_index).where(
            Credential.revocation_list_id == row.id, Credential.status == "suspended"
        )
    ).all()
    data = token_list_bytes(row.length, row.bits, suspended)
    record, key = ring.signing_key(now)
    issued = int(now.timestamp())
    payload = {
        "iss": did,
        "sub": token_list_url(base_url, number),
        "iat": issued,
        "exp": issued + max(ttl, 60) * 12,
        "ttl": ttl,
        "status_list": {"bits": TOKEN_BITS, "lst": b64url_encode(zlib.compress(data, 9))},
    }
    return jose.sign_jws(payload, key, f"{did}#{record.kid}", TOKEN_LIST_TYPE)


def get_list(session: Session, purpose: str, number: int, *, for_update: bool = False) -> StatusList:
    query = select(StatusList).where(StatusList.purpose == purpose, StatusList.number == number)
    row = session.exec(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFoundError(f"no {purpose} status list {number}")
    return row


def list_is_fresh(row: StatusList, now: datetime, ttl: int, ring: KeyRing | None = None) -> bool:
    """Signed, not past half of the signed credential's validity, and (given the key
    ring) not signed by a key that has since been marked compromised from an instant
    before the signing: verifiers would refuse that list, so it is signed again."""
    return (
        row.signed_credential is not None
        and row.signed_at is not None
        and now - row.signed_at <= timedelta(seconds=max(ttl, 60) * 6)
        and (ring is None or not signed_by_compromised_key(row, ring))
    )


def signed_by_compromised_key(row: StatusList, ring: KeyRing) -> bool:
    signed_at = row.signed_at
    if signed_at is None or row.signed_credential is None:
        return False
    # The common case costs a scan of a few records, no parsing.
    if not _any_compromised_by(ring, signed_at):
        return False
    return _compromised_at(ring, _signing_kid(row.signed_credential), signed_at)


def _any_compromised_by(ring: KeyRing, instant: datetime) -> bool:
    return any(r.compromised_from is not None and r.compromised_from <= instant for r in ring.records)


def _signing_kid(signed_credential: str) -> str:
    method = orjson.loads(signed_credential).get("proof", {}).get("verificationMethod", "")
    return str(method).partition("#")[2]


def _compromised_at(ring: KeyRing, kid: str, instant: datetime) -> bool:
    try:
        ring.check_valid_at(kid, instant)
    except KeyMaterialError:
        return True
    return False


def current_list_credential(
    session: Session,
    purpose: str,
    number: int,
    did: str,
    base_url: str,
    ring: KeyRing,
    now: datetime,
    ttl: int,
) -> StatusList:
    """The list row with a signed credential that is still fresh (re-signed when it has
    never been signed or is past half of its validity). The row is locked first, so a
    status change committed meanwhile is signed too, never overwritten by older bits."""
    row = get_list(session, purpose, number, for_update=True)
    if not list_is_fresh(row, now, ttl, ring):
        sign_list(row, did, base_url, ring, now, ttl, set_reasons(session, row))
        session.add(row)
        session.flush()
    return row


def change_status(
    session: Session,
    principal: Principal,
    credential_id: str,
    action: Action,
    reason_code: str,
    note: str | None,
    *,
    did: str,
    base_url: str,
    ring: KeyRing,
    now: datetime,
    ttl: int,
    allow_unspecified: bool = False,
) -> Credential:
    """Revoke, suspend or reinstate one credential, re-sign the list it touches and
    audit it. Revocation is final; only a suspended credential can be reinstated."""
    credential = session.get(Credential, credential_id, with_for_update=True)
    if credential is None:
        raise NotFoundError(f"no credential {credential_id}")
    reasons = REASONS[action]
    if reason_code == UNSPECIFIED and allow_unspecified:
        pass  # the W3C VC API carries no reason; recorded as given without one
    elif reason_code not in reasons:
        raise ReasonCodeError(
            f"reason code {reason_code!r} is not one for {action}; use one of: {', '.join(sorted(reasons))}"
        )
    if credential.status == "revoked":
        raise StatusTransitionError("the credential is revoked; revocation is final")
    if action == "reinstate" and credential.status != "suspended":
        raise StatusTransitionError("only a suspended credential can be reinstated")
    if action == "suspend" and credential.status == "suspended":
        raise StatusTransitionError("the credential is already suspended")
    previous = credential.status
    if action == "revoke":
        list_id, index, value, credential.status = (
            credential.revocation_list_id,
            credential.revocation_index,
            True,
            "revoked",
        )
    else:
        list_id, index = credential.suspension_list_id, credential.suspension_index
        value = action == "suspend"
        credential.status = "suspended" if value else "active"
    credential.status_reason = reason_code if action != "reinstate" else None
    row = session.get(StatusList, list_id, with_for_update=True)
    assert row is not None
    bits = Bitstring(row.length, row.bits)
    bits.set(index, value)
    row.bits = bits.to_bytes()
    row.version += 1
    session.add(credential)
    sign_list(row, did, base_url, ring, now, ttl, set_reasons(session, row))
    session.add_all([credential, row])
    audit.record(
        session,
        principal,
        now,
        f"credential.{action}",
        "credential",
        credential.id,
        holder_id=credential.holder_id,
        reason=reason_code,
        detail={"from": previous, "to": credential.status, "note": note}
        if note
        else {"from": previous, "to": credential.status},
    )
    session.flush()
    return credential


#: How long this process serves a signed status list from memory before it compares the
#: list's ETag with the database again: a change committed by another worker or by the
#: CLI is served within this many seconds; one committed by this process at once.
LIST_REFRESH_SECONDS = 5.0

_SERVED_ETAGS = text("SELECT purpose, number, etag FROM status_list")
#: what a Status List Token is made from: every list's version (which every change of
#: its bits moves, whether or not the list was signed again) and ETag
_TOKEN_SOURCES = text("SELECT purpose, number, version, etag FROM status_list")


@dataclass(frozen=True, slots=True)
class ServedList:
    """One signed list credential as the status-list endpoint serves it."""

    body: bytes
    etag: str
    signed_at: datetime
    #: half of its validity: from then on it is signed again before it is served
    resign_at: datetime
    #: the key id of its proof (checked against the ring for compromise)
    kid: str
    #: ``time.monotonic()`` when its ETag was last compared with the database
    checked: float

    @classmethod
    def of(cls, row: StatusList, ttl: int, checked: float) -> ServedList:
        assert row.signed_credential is not None
        assert row.etag is not None
        assert row.signed_at is not None
        return cls(
            body=row.signed_credential.encode("utf-8"),
            etag=row.etag,
            signed_at=row.signed_at,
            resign_at=row.signed_at + timedelta(seconds=max(ttl, 60) * 6),
            kid=_signing_kid(row.signed_credential),
            checked=checked,
        )

    def fresh(self, now: datetime, ring: KeyRing) -> bool:
        """Not past half of its validity, and not signed by a key ``ring`` holds
        compromised from before the signing (as :func:`list_is_fresh`)."""
        return _served_fresh(self.resign_at, self.signed_at, self.kid, now, ring)


#: a list's version and ETag
TokenSource = tuple[int, "str | None"]


@dataclass(frozen=True, slots=True)
class ServedToken:
    """One signed Status List Token as ``GET /status/token/{number}`` serves it."""

    body: bytes
    etag: str
    signed_at: datetime
    #: half of its validity (``exp`` is a dozen ``ttl`` after ``iat``): signed again then
    resign_at: datetime
    #: the key id of its signature (checked against the ring for compromise)
    kid: str
    #: the versions and ETags of the lists it was made from: its revocation list's and
    #: every suspension list's (a suspension shows in the token of the credential's
    #: revocation list)
    made_from: tuple[TokenSource, tuple[tuple[int, TokenSource], ...]]
    #: ``time.monotonic()`` when ``made_from`` was last compared with the database
    checked: float

    def fresh(self, now: datetime, ring: KeyRing) -> bool:
        return _served_fresh(self.resign_at, self.signed_at, self.kid, now, ring)


def _served_fresh(resign_at: datetime, signed_at: datetime, kid: str, now: datetime, ring: KeyRing) -> bool:
    return now <= resign_at and not (
        _any_compromised_by(ring, signed_at) and _compromised_at(ring, kid, signed_at)
    )


def _token_made_from(
    heads: Mapping[tuple[str, int], TokenSource], number: int
) -> tuple[TokenSource, tuple[tuple[int, TokenSource], ...]]:
    suspensions = tuple(sorted((n, e) for (p, n), e in heads.items() if p == "suspension"))
    return heads[("revocation", number)], suspensions


class ServedLists:
    """The signed list credentials as ``GET /status/{purpose}/{number}`` serves them:
    held in this process's memory with their ETags, so a request costs neither a
    database read nor a worker thread. An entry is served while

    - its ETag was compared with the database less than ``refresh_seconds`` ago (a
      change committed by another worker or by the CLI is served within that bound),
    - no status change of this process has committed since it was read (:meth:`expire`,
      run after the commit through :meth:`StatusCache.invalidate`),
    - it is not past half of its validity, and its key is not one the node's key ring
      holds compromised from before the signing (checked on every request against the
      ring in memory: a few records, no parsing; a compromise marked by this process
      counts at once, one marked by another once the ring is reloaded, see
      ``NodeState.RING_TTL_SECONDS``); otherwise it is signed again.

    Otherwise :meth:`load` reads it again (one load at a time; requests that waited
    for it find it loaded) and signs it again when it is due."""

    def __init__(self, refresh_seconds: float = LIST_REFRESH_SECONDS) -> None:
        self.refresh_seconds = refresh_seconds
        self._items: dict[tuple[str, int], ServedList] = {}
        self._tokens: dict[int, ServedToken] = {}
        self._generation = 0
        self._state = threading.Lock()
        self._loading = threading.Lock()

    def current(self, purpose: str, number: int, now: datetime, ring: KeyRing | None) -> ServedList | None:
        """The entry to serve without asking the database, or None (then :meth:`load`)."""
        item = self._items.get((purpose, number))
        return item if self._servable(item, now, ring) else None

    def _servable(self, item: ServedList | ServedToken | None, now: datetime, ring: KeyRing | None) -> bool:
        return (
            item is not None
            and ring is not None
            and time.monotonic() - item.checked < self.refresh_seconds
            and item.fresh(now, ring)
        )

    def expire(self, keys: list[tuple[str, int]]) -> None:
        """Forget the entries of ``keys``: a status change of this process has
        committed. A load that read the database before this does not keep what it read."""
        with self._state:
            self._generation += 1
            for key in keys:
                self._items.pop(key, None)
                if key[0] == "suspension":
                    self._tokens.clear()  # the suspended credential's token, whichever it is
                else:
                    self._tokens.pop(key[1], None)

    def current_token(self, number: int, now: datetime, ring: KeyRing | None) -> ServedToken | None:
        """The Status List Token to serve without asking the database, or None (then
        :meth:`load_token`). The same bound as the lists: compared with the database
        at most ``refresh_seconds`` ago, none of this process's changes since, not past
        half of its validity, its key not compromised before it signed."""
        item = self._tokens.get(number)
        return item if self._servable(item, now, ring) else None

    def load_token(
        self,
        db: Database,
        number: int,
        *,
        did: str,
        base_url: str,
        ring: Callable[[], KeyRing],
        ring_in: Callable[[Session], KeyRing],
        now: datetime,
        ttl: int,
    ) -> ServedToken:
        """Compare the lists the token was made from with the database, and make and
        sign it again when one changed or it is due. Blocking: run it off the event loop."""
        with self._loading:
            current_ring = ring()
            item = self.current_token(number, now, current_ring)
            if item is not None:
                return item
            with self._state:
                generation = self._generation
                known = self._tokens.get(number)
            checked = time.monotonic()
            with db.session(write=False) as session:
                rows = session.connection().execute(_TOKEN_SOURCES)
                heads = {(str(p), int(n)): (int(v), e) for p, n, v, e in rows}
                if ("revocation", number) not in heads:
                    raise NotFoundError(f"no revocation status list {number}")
                made_from = _token_made_from(heads, number)
                if known is not None and known.made_from == made_from and known.fresh(now, current_ring):
                    item = replace(known, checked=checked)
                else:
                    signing_ring = ring_in(session)
                    token = token_status_list(
                        session, number, did=did, base_url=base_url, ring=signing_ring, now=now, ttl=ttl
                    )
                    item = ServedToken(
                        body=token.encode("ascii"),
                        etag='"' + hashlib.sha256(token.encode("ascii")).hexdigest()[:32] + '"',
                        signed_at=now,
                        resign_at=now + timedelta(seconds=max(ttl, 60) * 6),
                        kid=signing_ring.signing_key(now)[0].kid,
                        made_from=made_from,
                        checked=checked,
                    )
            with self._state:
                if self._generation == generation:
                    self._tokens[number] = item
            return item

    def load(
        self,
        db: Database,
        purpose: str,
        number: int,
        *,
        did: str,
        base_url: str,
        ring: Callable[[], KeyRing],
        ring_in: Callable[[Session], KeyRing],
        now: datetime,
        ttl: int,
    ) -> ServedList:
        """Compare the entry's ETag with the database (reading the list again when it
        changed), sign the list again when it is due, and keep the result. Blocking:
        run it off the event loop. ``ring`` is the node's cached key ring, ``ring_in``
        the ring read in a signing transaction."""
        key = (purpose, number)
        with self._loading:
            current_ring = ring()
            item = self.current(purpose, number, now, current_ring)
            if item is not None:
                return item  # loaded by the request this one waited for
            with self._state:
                generation = self._generation
                known_items = dict(self._items)
            known = known_items.get(key)
            checked = time.monotonic()  # the bound counts from before the read
            item = None
            with db.session(write=False) as session:
                # Every list's ETag in one read: the entries that did not change are good
                # for another refresh period too, so a node with hundreds of lists reads
                # their heads once a period, not once per list per period (at ten million
                # credentials, 204 lists: one read each 5 s instead of 41 a second, each
                # holding this lock while requests for other lists waited behind it).
                heads = {(str(p), int(n)): e for p, n, e in session.connection().execute(_SERVED_ETAGS)}
                if key not in heads:
                    raise NotFoundError(f"no {purpose} status list {number}")
                if known is not None and heads[key] == known.etag and known.fresh(now, current_ring):
                    item = replace(known, checked=checked)
                else:
                    row = get_list(session, purpose, number)
                    if list_is_fresh(row, now, ttl, current_ring):
                        item = ServedList.of(row, ttl, checked)
            unchanged = {
                k: replace(v, checked=checked)
                for k, v in known_items.items()
                if k != key and heads.get(k) == v.etag and v.fresh(now, current_ring)
            }
            if item is None:
                with db.session() as write:
                    row = current_list_credential(
                        write, purpose, number, did, base_url, ring_in(write), now, ttl
                    )
                item = ServedList.of(row, ttl, checked)
            with self._state:
                if self._generation == generation:
                    self._items.update(unchanged)
                    self._items[key] = item
            return item


class StatusCache:
    """This node's lists as the verification path reads them, shared by the requests of
    a process: (list id, version, length, bits) per list, trusted for ``max_age``
    seconds, then re-read when the version moved. A status change made by this process
    clears the cache at once (:meth:`invalidate`); one made by another worker is seen
    within ``max_age`` seconds. (Verifiers elsewhere cache the signed lists for
    ``STATUS_LIST_MAX_AGE``, minutes, so seconds here change nothing for them.)

    ``served`` holds the signed list credentials the status-list endpoint serves
    (:class:`ServedLists`); :meth:`invalidate` expires them too."""

    def __init__(self, max_age: float = 2.0) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._lists: dict[tuple[str, int], tuple[float, int, int, int, bytes]] = {}
        self.served = ServedLists()

    def get(self, purpose: str, number: int) -> tuple[int, int, int, bytes] | None:
        with self._lock:
            item = self._lists.get((purpose, number))
        if item is None or time.monotonic() - item[0] > self.max_age:
            return None
        return item[1:]

    def stale(self, purpose: str, number: int) -> tuple[int, int, int, bytes] | None:
        """The cached entry whatever its age (its bits are reused if the version holds)."""
        with self._lock:
            item = self._lists.get((purpose, number))
        return None if item is None else item[1:]

    def put(self, purpose: str, number: int, list_id: int, version: int, length: int, bits: bytes) -> None:
        with self._lock:
            self._lists[(purpose, number)] = (time.monotonic(), list_id, version, length, bits)

    def invalidate(self, changed: Iterable[tuple[str, int]]) -> None:
        """After a status change of this process committed: the verification path and
        the status-list endpoint read the ``changed`` lists (purpose, number) again.
        Only the changed list: at ten million credentials a node serves about 200 lists,
        and forgetting all of them on every revocation made the next requests read and
        sign them again one after another."""
        keys = list(changed)
        with self._lock:
            for key in keys:
                self._lists.pop(key, None)
        self.served.expire(keys)


_MAX_DIGITS = 10


def _decimal(value: Any) -> int | None:
    """A non-negative decimal integer written in ASCII digits, or None."""
    if isinstance(value, str) and 0 < len(value) <= _MAX_DIGITS and value.isascii() and value.isdigit():
        return int(value)
    return None


# The verification path runs these on every request: plain SQL, compiled once, on the
# session's connection (the ORM's statement building cost more than the queries).
_LIST_HEAD = text("SELECT id, version, length FROM status_list WHERE purpose = :purpose AND number = :number")
_LIST_BITS = text("SELECT bits FROM status_list WHERE id = :id")
_SUSPENSION_SLOT = text(
    "SELECT s.number, c.suspension_index FROM credential c JOIN status_list s ON s.id = c.suspension_list_id"
    " WHERE c.revocation_list_id = :id AND c.revocation_index = :i"
)
_REASON = {
    "revocation": text(
        "SELECT status, status_reason FROM credential"
        " WHERE revocation_list_id = :id AND revocation_index = :i"
    ),
    "suspension": text(
        "SELECT status, status_reason FROM credential"
        " WHERE suspension_list_id = :id AND suspension_index = :i"
    ),
}


class PeerStatus(Protocol):
    """Federation members' lists as this node last confirmed them (no I/O here):
    ``("set" | "clear" | "unknown", what the answer rests on)``."""

    def status(self, url: str, purpose: str, index: int) -> tuple[str, str]: ...

    def issuer_label(self, url: str) -> str | None: ...

    def list_owner(self, url: str) -> str | None:
        """The DID of the member whose lists ``url`` is among (its status-list base)."""
        return None

    def token_status(self, url: str, index: int, issuer: str) -> tuple[str, str]:
        """Entry ``index`` of a member's Status List Token, when ``issuer`` signed it:
        revoked, suspended, clear or unknown, with the evidence."""
        return "unknown", "this verifier reads no member's token status lists"

    def reason_code(self, url: str, index: int) -> str | None:
        """The reason code the member published for a set bit, if any."""
        ...


class StatusReader:
    """Answers the status check of the verification pipeline from this node's own
    lists, and from federation members' signed lists as ``peers`` holds them (fetched
    and verified elsewhere; a list not held or held too long is ``unknown``)."""

    def __init__(
        self,
        session: Connectable,
        base_url: str,
        cache: StatusCache | None = None,
        peers: PeerStatus | None = None,
        own_did: str | None = None,
    ) -> None:
        self.session = session
        self.prefix = f"{base_url}/status/"
        self.cache = cache or StatusCache()
        self.peers = peers
        #: this node's DID: its own lists answer only for its own credentials
        self.own_did = own_did
        self._lists: dict[tuple[str, int], tuple[int, int, bytes] | None] = {}

    def _list(self, purpose: str, number: int) -> tuple[int, int, bytes] | None:
        """(list id, length, bits) of one of this node's lists."""
        key = (purpose, number)
        if key not in self._lists:
            cached = self.cache.get(purpose, number)
            if cached is not None:
                list_id, _, length, bits = cached
                self._lists[key] = (list_id, length, bits)
                return self._lists[key]
            connection = self.session.connection()
            head = connection.execute(_LIST_HEAD, {"purpose": purpose, "number": number}).first()
            if head is None:
                self._lists[key] = None
            else:
                list_id, version, length = head
                old = self.cache.stale(purpose, number)
                if old is not None and old[0] == list_id and old[1] == version:
                    bits = old[3]
                else:
                    bits = bytes(connection.execute(_LIST_BITS, {"id": list_id}).scalar_one())
                self.cache.put(purpose, number, list_id, version, length, bits)
                self._lists[key] = (list_id, length, bits)
        return self._lists[key]

    def _reason(self, purpose: str, list_id: int, index: int) -> str | None:
        """The reason of the change that set this bit; a suspension's reason is gone
        once the credential is revoked (the record keeps the revocation's)."""
        found = self.session.connection().execute(_REASON[purpose], {"id": list_id, "i": index}).first()
        if found is None:
            return None
        status, reason = found
        return reason if status == ("revoked" if purpose == "revocation" else "suspended") else None

    def _token_entries(self, entry: Mapping[str, Any]) -> list[dict[str, str]] | None:
        """The two Bitstring entries of the credential that an SD-JWT VC's Token Status
        List reference names on this node (its index in a revocation list), or None
        when the reference is another node's."""
        uri, index = entry.get("uri"), entry.get("idx")
        token_prefix = f"{self.prefix}token/"
        if not isinstance(uri, str) or not uri.startswith(token_prefix) or type(index) is not int:
            return None
        number = _decimal(uri[len(token_prefix) :])
        held = self._list("revocation", number) if number is not None else None
        base_url = self.prefix.removesuffix("/status/")
        revocation = status_entry(list_url(base_url, "revocation", number or 0), "revocation", index)
        if held is None:
            return [revocation]
        found = self.session.connection().execute(_SUSPENSION_SLOT, {"id": held[0], "i": index}).first()
        if found is None:
            return [revocation]
        return [revocation, status_entry(list_url(base_url, "suspension", found[0]), "suspension", found[1])]

    def _peer_token_status(self, entry: Mapping[str, Any]) -> Check:
        """The status of an SD-JWT VC from a federation member: its Status List Token
        as ``peers`` holds it (fetched, verified with the member's key, within the
        status bound), else ``unknown``. A revocation's reason is the one the member
        published with its Bitstring revocation list of the same number, when held."""
        uri, index, issuer = entry.get("uri"), entry.get("idx"), entry.get("issuer")
        label = self.peers.issuer_label(uri) if self.peers is not None and isinstance(uri, str) else None
        if (
            self.peers is None
            or label is None
            or not isinstance(uri, str)
            or type(index) is not int
            or index < 0
            or not isinstance(issuer, str)
        ):
            return Check(
                "status",
                "unknown",
                f"the token status list {str(uri)[:120]} is not one of a known federation member",
                "status-token-list-foreign",
            )
        state, evidence = self.peers.token_status(uri, index, issuer)
        if state == "unknown":
            return Check("status", "unknown", f"{label}: {evidence}", "status-list-unavailable")
        if state == "clear":
            return Check(
                "status", "pass", f"neither revoked nor suspended ({label} {evidence})", "status-clear"
            )
        reason = ""
        if state == "revoked":
            reason = self.peers.reason_code(uri.replace("/status/token/", "/status/revocation/"), index) or ""
        return Check(
            "status",
            "fail",
            f"{state} by {label} ({evidence})",
            f"status-{state}",
            params(reason=Term("reason", reason)),
        )

    def for_issuer(self, issuer: str | None) -> Callable[[Sequence[Any]], Check]:
        """The status check of a credential of ``issuer`` (as its verified document says):
        a list is read only for its own issuer's credentials."""
        return functools.partial(self.__call__, issuer=issuer)

    def __call__(self, entries: Sequence[Any], issuer: str | None = None) -> Check:
        expanded: list[Any] = []
        for entry in entries:
            if isinstance(entry, dict) and entry.get("type") == sd_jwt_vc.STATUS_ENTRY:
                mapped = self._token_entries(entry)
                if mapped is None:
                    if issuer is not None and entry.get("issuer") != issuer:
                        return Check(
                            "status",
                            "unknown",
                            "the token status reference is not the credential's issuer's",
                            "status-list-untrusted",
                        )
                    return self._peer_token_status(entry)
                expanded.extend(mapped)
            else:
                expanded.append(entry)
        entries = expanded
        if not entries:
            return Check(
                "status",
                "pass",
                "the credential has no status entry, so it cannot be revoked",
                "status-no-entry",
            )
        findings: list[str] = []
        unknown: list[str] = []
        clear: list[str] = []
        #: (code, reason code) of the first revocation, else of the first suspension.
        found: list[tuple[str, str]] = []
        unknown_code = "status-list-unavailable"
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry":
                return Check(
                    "status",
                    "fail",
                    "a credentialStatus entry is not a BitstringStatusListEntry",
                    "status-entry-unsupported",
                )
            url = entry.get("statusListCredential")
            purpose = entry.get("statusPurpose")
            index = _decimal(entry.get("statusListIndex"))
            if not isinstance(url, str) or index is None or purpose not in PURPOSES:
                return Check(
                    "status", "fail", "a credentialStatus entry is malformed", "status-entry-malformed"
                )
            if not url.startswith(self.prefix):
                label = self.peers.issuer_label(url) if self.peers is not None else None
                if self.peers is None or label is None:
                    unknown.append(f"the {purpose} list {url} is not one of a known federation member")
                    unknown_code = "status-list-untrusted"
                    continue
                owner = self.peers.list_owner(url)
                if issuer is not None and owner != issuer:
                    unknown.append(
                        f"the {purpose} list {url} is another member's than the credential's issuer's"
                    )
                    unknown_code = "status-list-untrusted"
                    continue
                state, evidence = self.peers.status(url, purpose, index)
                if state == "set":
                    word = "revoked" if purpose == "revocation" else "suspended"
                    findings.append(f"{word} by {label} ({evidence})")
                    found.append((f"status-{word}", self.peers.reason_code(url, index) or ""))
                elif state == "unknown":
                    unknown.append(f"{label}: {evidence}")
                else:
                    clear.append(f"{label} {purpose} {evidence}")
                continue
            if issuer is not None and self.own_did is not None and issuer != self.own_did:
                unknown.append(f"the {purpose} list {url} is this node's, not the credential's issuer's")
                unknown_code = "status-list-untrusted"
                continue
            list_purpose, _, raw_number = url[len(self.prefix) :].partition("/")
            number = _decimal(raw_number)
            held = self._list(list_purpose, number) if number is not None else None
            if held is None:
                return Check("status", "fail", f"this node has no status list {url}", "status-list-not-found")
            if list_purpose != purpose:
                return Check(
                    "status", "fail", "the entry's purpose differs from its list's", "status-purpose-mismatch"
                )
            list_id, length, bits = held
            if index >= length:
                return Check(
                    "status",
                    "fail",
                    "statusListIndex is beyond the end of the list",
                    "status-index-out-of-range",
                )
            if bit_at(bits, index):
                reason = self._reason(purpose, list_id, index)
                word = "revoked" if purpose == "revocation" else "suspended"
                findings.append(f"{word} ({reason})" if reason else word)
                found.append((f"status-{word}", reason or ""))
        if findings:
            # A revocation is what a reader needs to know first (it is final).
            code, reason_code = min(found, key=lambda f: f[0] != "status-revoked")
            return Check(
                "status", "fail", "; ".join(findings), code, params(reason=Term("reason", reason_code))
            )
        if unknown:
            return Check("status", "unknown", "; ".join(unknown), unknown_code)
        evidence = f" ({'; '.join(clear)})" if clear else ""
        return Check("status", "pass", f"neither revoked nor suspended{evidence}", "status-clear")
