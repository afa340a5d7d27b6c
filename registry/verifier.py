"""The node's verifier: the pure pipeline (in worker processes for large batches) plus
this node's status lists, the audit record that lets a holder see who verified
their credentials, and reports in the language asked for (:func:`report_json`)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import bindparam, text

from registry import i18n
from registry.auth import Principal
from registry.credentials.issuance import CHINA_STANDARD_TIME, PROVINCES
from registry.credentials.status import REASON_LABELS, PeerStatus, StatusCache, StatusReader
from registry.credentials.verification import (
    MESSAGES,
    Check,
    Examination,
    Param,
    ProofItem,
    Report,
    Trust,
    examine,
    examine_many,
    examine_packed,
    expect_key_binding,
    finish,
    unpack,
)
from registry.database import Connectable
from registry.federation.metadata import PROVINCES as PROVINCE_NAMES
from registry.federation.recognition import Recognition
from registry.federation.recognition import View as RecognitionView

if TYPE_CHECKING:
    from registry.node import NodeState

Presented = str | bytes | Mapping[str, Any]
log = logging.getLogger("registry.verifier")
_HOLDERS_OF = text("SELECT id, holder_id FROM credential WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
#: Below this many credentials a batch is checked in the request's own process.
POOL_THRESHOLD = 64


class Verifier:
    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_serving(cls, serving_workers: int, cores: int | None = None) -> Verifier:
        """The verifier of one of ``serving_workers`` processes serving the node: the
        machine's cores shared among them, at least one each. Every serving process
        keeps its own pool, so a pool of one process per core in each of N workers
        started N times too many processes (their start-up alone, importing the node,
        cost seconds of both cores while a freshly started node was first loaded)."""
        available = cores if cores is not None else (os.cpu_count() or 1)
        return cls(max(1, available // max(1, serving_workers)))

    def pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: the serving process has threads; forking it could copy a held lock.
                # The serving process checks nothing itself: CPU-bound Python in it would
                # hold the GIL against its event loop, and every other request would wait.
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_lower_priority,
                )
            return self._pool

    def warm(self) -> None:
        """Start the worker processes now (a node's first large batch would otherwise
        wait seconds for them); does nothing with one worker."""
        if self.workers > 1:
            pool = self.pool()
            for _ in range(self.workers):
                pool.submit(os.getpid)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    async def examine_batch(
        self, items: Sequence[Presented], trust: Trust, now: datetime
    ) -> list[Examination]:
        if self.workers <= 1 or len(items) < POOL_THRESHOLD:
            # In a thread, not on the event loop: a small batch may still be megabytes.
            return await asyncio.to_thread(examine_many, items, trust, now)
        pool = self.pool()
        loop = asyncio.get_running_loop()
        # Credentials travel as compact JSON (bytes pickle far faster than nested dicts;
        # the worker's strict parser reads them back exactly), answers as plain tuples.
        wire = [_compact(item) for item in items]
        size = -(-len(wire) // (self.workers * 2))
        chunks = [wire[i : i + size] for i in range(0, len(wire), size)]
        try:
            parts = await asyncio.gather(
                *(loop.run_in_executor(pool, examine_packed, c, trust, now) for c in chunks)
            )
        except BrokenProcessPool:
            # A worker died (killed, out of memory): drop the pool (the next batch makes
            # a new one) and check this batch in a thread rather than fail it.
            log.error("verification worker pool broke; checking this batch in-process")
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(examine_many, items, trust, now)
        return [unpack(packed) for part in parts for packed in part]


def _lower_priority() -> None:
    """Worker processes check batches at a lower CPU priority than the serving process:
    when they keep every core busy, the serving process's event loop is still scheduled
    first, so other requests are answered while a large batch is checked."""
    try:
        os.nice(10)
    except OSError:  # not permitted here: the batch is still checked, only less politely
        log.info("verification workers keep the serving process's priority")


def _compact(item: Presented) -> Presented:
    if isinstance(item, Mapping):
        try:
            return orjson.dumps(item)
        except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits
            return item
    return item


_CREDENTIAL_BY_REVOCATION_SLOT = text(
    "SELECT c.id FROM credential c JOIN status_list s ON s.id = c.revocation_list_id"
    " WHERE s.purpose = 'revocation' AND s.number = :number AND c.revocation_index = :index"
)


def _undisclosed_own_ids(
    session: Connectable, exams: Sequence[Examination], own_did: str, base_url: str, known: Mapping[int, str]
) -> dict[int, str]:
    """This node's SD-JWT VCs presented without their id (``jti`` left undisclosed),
    found by the revocation slot their status reference names: the holder still sees
    that someone verified their credential."""
    found: dict[int, str] = {}
    prefix = f"{base_url}/status/token/"
    for i, exam in enumerate(exams):
        if i in known or exam.format != "sd-jwt":
            continue
        summary = exam.unverified_claims or {}
        if summary.get("issuer") != own_did or not any(
            c.name == "proof" and c.result == "pass" for c in exam.checks
        ):
            continue
        for entry in exam.status_entries:
            uri = entry.get("uri") if isinstance(entry, Mapping) else None
            index = entry.get("idx") if isinstance(entry, Mapping) else None
            number = uri[len(prefix) :] if isinstance(uri, str) and uri.startswith(prefix) else ""
            if number.isdigit() and len(number) <= 10 and type(index) is int and 0 <= index < 2**31:
                cid = (
                    session.connection()
                    .execute(_CREDENTIAL_BY_REVOCATION_SLOT, {"number": int(number), "index": index})
                    .scalar()
                )
                if cid is not None:
                    found[i] = str(cid)
    return found


def _own_credential_ids(exams: Sequence[Examination], own_did: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for i, exam in enumerate(exams):
        summary = exam.unverified_claims or {}
        proof_ok = any(c.name == "proof" and c.result == "pass" for c in exam.checks)
        cid = summary.get("id")
        if (
            proof_ok
            and summary.get("issuer") == own_did
            and isinstance(cid, str)
            and cid.startswith("urn:uuid:")
        ):
            try:
                found[i] = str(uuid.UUID(cid[len("urn:uuid:") :]))
            except ValueError:
                continue
    return found


def finish_batch(
    session: Connectable,
    exams: Sequence[Examination],
    base_url: str,
    own_did: str,
    principal: Principal | None,
    now: datetime,
    status_cache: StatusCache | None = None,
    holder_of: dict[str, str] | None = None,
    peer_status: PeerStatus | None = None,
    adjust: Callable[[Report], Report] | None = None,
) -> tuple[list[Report], list[dict[str, Any]]]:
    """Status checks from this node's lists (and federation members' lists as
    ``peer_status`` holds them); and the audit records (visible to the holder) of this
    node's credentials that a client verified, for the caller to write (see
    :class:`registry.audit.AuditWriter`). ``adjust``: what the verifier asked beyond the
    checks (key binding), applied before the verdicts are recorded."""
    reader = StatusReader(session, base_url, status_cache, peer_status, own_did)
    reports = [finish(exam, reader.for_issuer((exam.readable or {}).get("issuer"))) for exam in exams]
    if adjust is not None:
        reports = [adjust(r) for r in reports]
    rows: list[dict[str, Any]] = []
    own = _own_credential_ids(exams, own_did) if principal is not None else {}
    if principal is not None:
        own.update(_undisclosed_own_ids(session, exams, own_did, base_url, own))
    if principal is not None and own:
        known = holder_of if holder_of is not None else {}
        missing = sorted({cid for cid in own.values() if cid not in known})
        found: dict[str, str] = {}
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            found.update(
                (cid, holder) for cid, holder in session.connection().execute(_HOLDERS_OF, {"ids": chunk})
            )
        holders = {
            cid: known[cid] if cid in known else found[cid]
            for cid in own.values()
            if cid in known or cid in found
        }
        if holder_of is not None:
            if len(holder_of) > 100_000:
                holder_of.clear()
            holder_of.update(found)
        rows = [
            {
                "at": now,
                "actor": principal.actor,
                "actor_role": principal.role,
                "action": "credential.verify",
                "target_type": "credential",
                "target_id": cid,
                "holder_id": holders[cid],
                "reason": None,
                "detail": orjson.dumps(
                    {"verdict": reports[i].verdict, **({"clerk": principal.clerk} if principal.clerk else {})}
                ).decode(),
            }
            for i, cid in own.items()
            if cid in holders
        ]
    return reports, rows


def verify_one(
    session: Connectable,
    presented: Presented,
    trust: Trust,
    base_url: str,
    principal: Principal | None,
    now: datetime,
    status_cache: StatusCache | None = None,
    holder_of: dict[str, str] | None = None,
    peer_status: PeerStatus | None = None,
    adjust: Callable[[Report], Report] | None = None,
) -> tuple[Report, list[dict[str, Any]]]:
    reports, rows = finish_batch(
        session,
        [examine(presented, trust, now)],
        base_url,
        trust.own_did,
        principal,
        now,
        status_cache,
        holder_of,
        peer_status,
        adjust,
    )
    return reports[0], rows


def verify_for(
    node: NodeState,
    presented: Presented,
    trust: Trust,
    principal: Principal | None,
    now: datetime,
    locale: i18n.Locale,
    key_binding: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """One credential verified by ``node`` for ``principal`` (the API's HR client, a
    page's visitor or HR clerk): the report in ``locale``, its audit rows queued to the
    background writer. Blocking (a read session); call it where blocking is fine.
    ``key_binding`` (audience, nonce): the holder key binding the verifier asks for."""
    with node.db.reader() as session:
        report, rows = verify_one(
            session,
            presented,
            trust,
            node.base_url,
            principal,
            now,
            node.status_cache,
            node.holder_of,
            node.directory,
            (lambda r: expect_key_binding(r, *key_binding, now)) if key_binding is not None else None,
        )
    node.audit_writer.submit(rows)
    return report_json(report, locale, Names.of_node(node, trust, now))


# --- reports people read ---------------------------------------------------------------
#
# A report's checks carry codes and parameters (the pure pipeline knows no language);
# here they become sentences in the reader's language, from the gettext domain
# ``reports``, and an authentic credential gets a summary of what it says.

#: How a summary names the state of a credential, by the code of its status check.
STATUS_WORDS = {
    "status-clear": "in force",
    "status-no-entry": "in force",
    "status-revoked": "revoked",
    "status-suspended": "suspended",
}
#: How a summary names the kind of a credential.
KIND_WORDS = {"title": "professional title", "qualification": "qualification"}
DATE_MESSAGE = "%(year)d-%(month)02d-%(day)02d"


def _lang(locale: i18n.Locale) -> str:
    """The key of a bilingual ``{"zh", "en"}`` name for ``locale``."""
    return "zh" if locale == "zh_CN" else "en"


#: Each message's translation by locale, looked up once (a report takes a dozen; the
#: catalogues do not change while the node runs). Bounded: the messages are the
#: pipeline's own, never a client's words, but a bound costs nothing.
_TRANSLATED: dict[tuple[str, str], str] = {}
_TRANSLATED_MAX = 4096


def _t(locale: i18n.Locale, message: str, /, **values: object) -> str:
    text = _TRANSLATED.get((locale, message))
    if text is None:
        text = i18n.gettext(locale, "reports", message)
        if len(_TRANSLATED) < _TRANSLATED_MAX:
            _TRANSLATED[locale, message] = text
    return text % values if values else text


def _pick(names: Mapping[str, str] | None, locale: i18n.Locale) -> str | None:
    """One language of a bilingual name, else the other one."""
    if not names:
        return None
    return names.get(_lang(locale)) or names.get("zh") or names.get("en")


def reason_label(code: str | None, locale: i18n.Locale) -> str:
    """The label of a status reason code in ``locale`` (``REASON_LABELS`` gives each as
    "<Chinese> <English>"; the English part is the message id)."""
    if not code:
        return _t(locale, "no reason given")
    label = REASON_LABELS.get(code)
    if label is None:
        return code
    chinese, _, english = label.partition(" ")
    if locale == "en":
        return english or label
    translated = _t(locale, english) if english else label
    return chinese if translated == english else translated


@dataclass(frozen=True)
class Names:
    """How a report speaks in this node's terms: this node's department (from the
    province table) and each federation member's (from its trust chain's profile) by
    name, and, for a provincial node, its recognition policy (what a credential of
    another province counts as here on ``today``)."""

    own_did: str
    own_department: tuple[str, str] | None
    peers: Mapping[str, tuple[str, str]]
    own_province: str | None = None
    peer_provinces: Mapping[str, str] = field(default_factory=dict)
    recognition: RecognitionView | None = None
    today: date | None = None

    @classmethod
    def of(
        cls,
        trust: Trust,
        province: str | None,
        view: RecognitionView | None = None,
        now: datetime | None = None,
    ) -> Names:
        return cls(
            trust.own_did,
            PROVINCES.get(province) if province else None,
            {p.did: (p.name, p.name_en) for p in trust.peers},
            province,
            {p.did: p.province for p in trust.peers},
            view,
            now.astimezone(CHINA_STANDARD_TIME).date() if now is not None else None,
        )

    @classmethod
    def of_node(cls, node: NodeState, trust: Trust, now: datetime) -> Names:
        """The names of ``node``, with its recognition policy when it is a provincial node."""
        settings = node.settings
        view = node.recognition if settings.role == "node" else None
        return cls.of(trust, settings.province, view, now)

    def issuer(self, did: str, locale: i18n.Locale, stated: Mapping[str, str] | None = None) -> str:
        """The department that ``did`` is, by name; ``stated`` is the name an authentic
        credential gives its issuer, used for an issuer neither this node nor a member."""
        pair = self.own_department if did == self.own_did else self.peers.get(did)
        if pair is not None:
            return pair[0] if locale == "zh_CN" else pair[1]
        return _pick(stated, locale) or did

    def province_of(self, did: str | None) -> str | None:
        """The province (GB/T 2260) of an issuer this node knows: itself or a member."""
        if did is None:
            return None
        return self.own_province if did == self.own_did else self.peer_provinces.get(did)


def _param(param: Param, locale: i18n.Locale, names: Names, readable: Mapping[str, Any] | None) -> str:
    _, kind, value = param
    if kind == "msg":
        return _t(locale, value)
    if kind == "reason":
        return reason_label(value, locale)
    if kind == "issuer":
        stated = readable.get("issuerName") if readable and readable.get("issuer") == value else None
        return names.issuer(value, locale, stated)
    if kind == "type" and readable and readable.get("typeCode") == value:
        return _pick(readable.get("name"), locale) or value
    return value


def check_message(
    check: Check | ProofItem, locale: i18n.Locale, names: Names, readable: Mapping[str, Any] | None = None
) -> str:
    """What ``check`` (or one proof of the credential) says, as a sentence in ``locale``."""
    message = MESSAGES.get(check.code)
    if message is None:  # a check the pipeline gives no code (only the VC API's own)
        return check.reason
    values = {p[0]: _param(p, locale, names, readable) for p in check.params}
    return _t(locale, message, **values)


def _date(value: str | None, locale: i18n.Locale) -> str | None:
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return value
    return _t(locale, DATE_MESSAGE, year=day.year, month=day.month, day=day.day) if day else None


def summary(report: Report, locale: i18n.Locale, names: Names) -> dict[str, Any] | None:
    """What an authentic credential says, for a person, in ``locale``; None for a
    document not shown authentic (its claims are nobody's word)."""
    readable, claims = report.readable, report.unverified_claims or {}
    if not report.authentic or readable is None:
        return None
    status = next((c for c in report.checks if c.name == "status"), None)
    word = STATUS_WORDS.get(status.code, "unknown") if status is not None else "unknown"
    reason = None
    if status is not None and word in ("revoked", "suspended"):
        reason = reason_label({n: v for n, _, v in status.params}.get("reason"), locale)
    kind = readable.get("kind")
    issuer = readable.get("issuer")
    return {
        "kind": _t(locale, KIND_WORDS[kind]) if kind in KIND_WORDS else None,
        "title": _pick(readable.get("name"), locale),
        "series": _pick(readable.get("series"), locale),
        "level": _pick(readable.get("level"), locale),
        "specialty": readable.get("specialty"),
        "awardedOn": _date(readable.get("awardedOn"), locale),
        "evaluationCommittee": readable.get("evaluationCommittee"),
        "issuedBy": names.issuer(issuer, locale, readable.get("issuerName")) if issuer else None,
        "holderName": claims.get("holderName"),
        "certificateNumber": claims.get("certificateNumber"),
        "status": _t(locale, word),
        "statusReason": reason,
    }


#: What a report says of recognition, by state (messages of the ``reports`` domain).
RECOGNITION_MESSAGES = {
    "native": "Issued in %(province)s: it needs no recognition here.",
    "recognised": "Recognised in %(province)s as %(title)s under recognition policy v%(version)s.",
    "not-recognised": (
        "Not covered by %(province)s's recognition policy v%(version)s: its holder may apply for recognition."
    ),
    "no-policy": "%(province)s has not published a recognition policy yet.",
    "not-applicable": "Recognition is stated only for a valid credential.",
}


def _province_name(code: str | None, locale: i18n.Locale) -> str | None:
    pair = PROVINCE_NAMES.get(code) if code else None
    return None if pair is None else pair[0] if locale == "zh_CN" else pair[1]


def recognition_json(report: Report, locale: i18n.Locale, names: Names) -> dict[str, Any] | None:
    """What the credential of ``report`` is in this node's terms (None when this node
    has no recognition: the trust anchor, the CLI without a node)."""
    view, province = names.recognition, names.own_province
    if view is None or province is None or names.today is None:
        return None
    readable = report.readable if report.authentic else None
    issuer = readable.get("issuer") if readable else None
    type_code = readable.get("typeCode") if readable else None
    found = view.recognise(
        province, names.province_of(issuer), type_code, report.verdict == "valid", names.today
    )
    return describe_recognition(found, locale, view.type_names)


def describe_recognition(
    found: Recognition, locale: i18n.Locale, type_names: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    """A :class:`Recognition` as people read it in ``locale`` (``type_names``: the names
    of the catalogue codes it may name)."""
    local = found.recognised_as
    pair = type_names.get(local) if local else None
    title = (pair[0] if locale == "zh_CN" else pair[1]) if pair else local
    message = _t(
        locale,
        RECOGNITION_MESSAGES[found.state],
        province=_province_name(found.province, locale) or found.province,
        title=title or "",
        version=found.policy_version or "",
    )
    return {
        "state": found.state,
        "code": found.code,
        "province": found.province,
        "issuerProvince": found.issuer_province,
        "policyVersion": found.policy_version,
        "recognisedAs": None if local is None else {"code": local, "name": title},
        "conditions": _pick(found.conditions, locale),
        "message": message,
    }


def report_json(
    report: Report, locale: i18n.Locale, names: Names, index: int | None = None
) -> dict[str, Any]:
    """:meth:`Report.to_json` with each check's code and message in ``locale``, each
    embedded proof's result with its code and message, which credential it is of
    (``credentialRef``; ``index`` is its position among those presented together),
    and the summary of an authentic credential."""
    answer = report.to_json()
    answer["proofs"] = [
        {**p.to_json(), "code": p.code, "message": check_message(p, locale, names)} for p in report.proofs
    ]
    answer["credentialRef"] = report.ref(index)
    readable = report.readable if report.authentic else None
    answer["checks"] = [
        {
            **c.to_json(),
            "code": c.code or f"{c.name}-{c.result}",
            "message": check_message(c, locale, names, readable),
        }
        for c in report.checks
    ]
    answer["summary"] = summary(report, locale, names)
    answer["recognition"] = recognition_json(report, locale, names)
    return answer
