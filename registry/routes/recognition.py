"""Recognition (互认). This node's recognition policy: admins publish versions; anyone
reads them, as JSON or signed with the node's federation key for other nodes;
verifications answer under the latest version (``recognition`` in every report;
registry.verifier). Recognition applications (registry.federation.applications): a
holder applies here, this node forwards the application to the other province's node
and asks it how it was decided; as the receiving node, it verifies, keeps and (its
officers) decides the applications other nodes forward."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry import audit, i18n, peers
from registry.auth import Principal
from registry.credentials.issuance import CHINA_STANDARD_TIME
from registry.database import on_commit
from registry.deps import (
    AdminDep,
    HolderDep,
    NodeDep,
    OfficerDep,
    ReadSessionDep,
    RecognitionReaderDep,
    SessionDep,
)
from registry.errors import ConflictError, InvalidInputError, NotFoundError, RegistryError
from registry.federation import applications, node_requests, recognition
from registry.federation.errors import FederationError
from registry.federation.metadata import PROVINCES
from registry.models import Credential, RecognitionApplication
from registry.node import NodeState
from registry.routes.issuance import context as issuance_context
from registry.routes.verification import (
    RecognisedAs,
    language,
    prepare_peers,
    prepare_peers_from_thread,
    trust_of,
)
from registry.signing.jose import sign_jws
from registry.verifier import _t as verifier_t
from registry.verifier import describe_recognition, verify_one

router = APIRouter(tags=["recognition"])


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


class Named(BaseModel):
    code: str
    name: dict[str, str] | None = Field(
        description="This node's catalogue name {zh, en}; null if it has none"
    )


class RuleOut(BaseModel):
    issuerProvince: str
    issuerProvinceName: dict[str, str]
    credentialType: str
    recognisedAs: Named | None = Field(
        description="null for a rule for every type (*): each counts as itself"
    )
    validFrom: str
    validUntil: str | None
    conditions: dict[str, str] | None


class PolicyOut(BaseModel):
    version: int
    publishedAt: str
    note: str | None
    rules: list[RuleOut]


def policy_out(policy: recognition.Policy, names: dict[str, tuple[str, str]]) -> PolicyOut:
    def named(code: str | None) -> Named | None:
        if code is None:
            return None
        pair = names.get(code)
        return Named(code=code, name={"zh": pair[0], "en": pair[1]} if pair else None)

    return PolicyOut(
        version=policy.version,
        publishedAt=_iso(policy.published_at),
        note=policy.note,
        rules=[
            RuleOut(
                issuerProvince=r.issuer_province,
                issuerProvinceName=dict(zip(("zh", "en"), PROVINCES[r.issuer_province], strict=True)),
                credentialType=r.credential_type,
                recognisedAs=named(r.recognised_as),
                validFrom=r.valid_from.isoformat(),
                validUntil=r.valid_until.isoformat() if r.valid_until else None,
                conditions=dict(r.conditions) if r.conditions else None,
            )
            for r in policy.rules
        ],
    )


def _provincial(node: NodeState) -> None:
    if node.settings.role != "node":
        raise NotFoundError(f"{node.settings.entity_id} is a trust anchor: it recognises no credentials")


def _names(session: Session) -> dict[str, tuple[str, str]]:
    return dict(recognition.View.read(session).type_names)


_NO_POLICY: dict[int | str, dict[str, Any]] = {
    404: {"description": "No policy published yet (or no such version), or this entity is a trust anchor"}
}


@router.get("/v1/recognition/policy", operation_id="getRecognitionPolicy", responses=_NO_POLICY)
def get_policy(node: NodeDep, session: ReadSessionDep) -> PolicyOut:
    """The latest version of this node's recognition policy: which credential types of
    which other province it accepts as which of its own types, from when, on what
    conditions. Verification reports answer under this version. Public."""
    _provincial(node)
    return policy_out(recognition.get(session), _names(session))


@router.get(
    "/v1/recognition/policy/versions/{version}",
    operation_id="getRecognitionPolicyVersion",
    responses=_NO_POLICY,
)
def get_policy_version(
    version: Annotated[int, Path(ge=1, le=1_000_000)], node: NodeDep, session: ReadSessionDep
) -> PolicyOut:
    """A version of the policy as it was published (a report names the version it
    answered under; versions never change). Public."""
    _provincial(node)
    return policy_out(recognition.get(session, version), _names(session))


@router.put(
    "/v1/recognition/policy",
    operation_id="publishRecognitionPolicy",
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "This entity is a trust anchor"},
        409: {
            "description": "Another version was published meanwhile (baseVersion is not the latest, or "
            "another admin published the same version at once): nothing published"
        },
        422: {
            "description": "A rule is malformed, names this node's own province, a type this node's "
            "catalogue lacks or has retired, or overlaps another rule for the same type (every problem "
            "listed in errors; nothing published)"
        },
    },
)
def publish_policy(
    body: recognition.PolicyIn, node: NodeDep, session: SessionDep, admin: AdminDep
) -> PolicyOut:
    """Publish the next version of the policy: every rule, in full. All or nothing;
    audited (``recognition.publish``). Every worker answers under it within five
    seconds; this one at once."""
    now = node.clock()
    policy = recognition.publish(session, body, node.settings.province, admin.actor, now)
    audit.record(
        session,
        admin,
        now,
        "recognition.publish",
        "recognition_policy",
        str(policy.version),
        reason=body.note,
        detail={"rules": len(policy.rules)},
    )
    on_commit(session, node.forget_recognition)
    return policy_out(policy, _names(session))


class RecognitionPolicyJwt(Response):
    media_type = recognition.POLICY_MEDIA_TYPE


@router.get(
    recognition.POLICY_PATH,
    operation_id="getSignedRecognitionPolicy",
    response_class=RecognitionPolicyJwt,
    responses={
        200: {
            "description": "The latest policy as a compact JWS (typ recognition-policy+jwt, EdDSA), "
            "signed with this node's DID key (kid: its verification method; the key history its "
            "entity configuration publishes)",
            "content": {recognition.POLICY_MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        **_NO_POLICY,
    },
)
def get_signed_policy(node: NodeDep, session: ReadSessionDep) -> Response:
    """The latest policy signed for other nodes (claims ``iss`` (this node's DID),
    ``sub`` (its entity identifier), ``iat``, ``exp``, ``version``, ``published_at``,
    ``rules``), with the key that signs its credentials: a member verifies it with the
    key history this node's trust chain vouches for."""
    _provincial(node)
    policy = recognition.get(session)
    now = node.clock()
    record, key = node.ring_in(session).signing_key(now)
    claims = recognition.policy_claims(policy, node.did, node.settings.entity_id, now)
    token = sign_jws(claims, key, f"{node.did}#{record.kid}", recognition.POLICY_TYP)
    return RecognitionPolicyJwt(token, headers={"Cache-Control": "public, max-age=60"})


# --- applications: the holder's node -------------------------------------------------------


@router.post(
    "/v1/holder/recognition-applications",
    operation_id="applyForRecognition",
    tags=["holders"],
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "You have no credential with this id"},
        409: {
            "description": "The credential is not in force, an application of it in that province waits "
            "or was recognised, or this node is not federated"
        },
        422: {"description": "The province is this node's own"},
        502: {
            "description": "The other province's node refused the application (nothing kept), or did not "
            "confirm it (kept as sending, sent again under the same id when the holder next looks)"
        },
    },
)
async def apply_for_recognition(
    body: applications.ApplicationIn, node: NodeDep, holder: HolderDep
) -> applications.ApplicationOut:
    """Apply to have one of your credentials recognised in another province. This node
    sends it (with the credential, which the receiving node verifies) to that province's
    node, signed as this node; it is answered 201 once that node has accepted it. When
    that node refuses it or cannot be reached at all: 502, nothing kept. When its answer
    is lost (a time-out after sending, a 5xx): 502, and the application stays here as
    ``sending`` and is sent again, under the same id, when you next list your
    applications (that node keeps one per id). One application per credential and
    province at a time (409 while one waits, or once it was recognised). Audited;
    visible in your activity."""
    if body.province == node.settings.province:
        raise InvalidInputError(
            "a credential of this province needs no recognition here: choose another province"
        )
    directory = peers.federated(node, "there is no other province to apply to")
    try:
        profile = await directory.member_in(body.province)
    except FederationError as exc:
        raise peers.PeerUnavailableError(exc.detail) from None

    def start() -> tuple[str, dict[str, Any]]:
        # Kept (as ``sending``) before it is sent, under the id the other node will know.
        with node.db.session() as session:
            row = applications.start_outgoing(
                session, holder, body, profile.entity_id, str(uuid.uuid4()), node.clock()
            )
            session.flush()
            return row.id, applications.forwarded_body(session, row)

    application_id, _ = await run_in_threadpool(start)
    return await _forward_application(node, holder, application_id)


KEPT = "; it is kept here and sent again, under the same id, when you next look at your applications"


async def _keep_decision(
    node: NodeState, holder: Principal, application_id: str, peer: str, answer: applications.Decided
) -> applications.ApplicationOut | None:
    """A resend answered after the other node decided: keep the decision too (checked
    as any answer is); None when it cannot be checked now (asked again later)."""
    try:
        did = (await peers.federated(node).member(peer)).did
    except FederationError:
        return None

    def keep() -> applications.ApplicationOut:
        with node.db.session() as session:
            row = applications.holders_application(session, holder.holder_id or "", application_id)
            if applications.answer_problem(row, answer, did) is None:
                applications.record_answer(session, application_id, answer, node.clock())
            session.flush()
            return applications.out(row)

    return await run_in_threadpool(keep)


async def _sent_or_undone(
    node: NodeState,
    sending: Awaitable[applications.Decided],
    undo: Callable[[Session], None],
) -> applications.Decided:
    """The other node's answer to something this node kept before sending it. Known not
    taken there: ``undo`` what was kept (in a write session) and fail. Not known to have
    arrived: kept as it is (sent again later), 502."""
    try:
        return await sending
    except peers.PeerUnavailableError as exc:
        if not exc.not_taken:
            raise peers.PeerUnavailableError(exc.detail + KEPT) from None

        def run_undo() -> None:
            with node.db.session() as session:
                undo(session)

        await run_in_threadpool(run_undo)
        raise


async def _forward_application(
    node: NodeState, holder: Principal, application_id: str
) -> applications.ApplicationOut:
    """Send a kept (``sending``) application to the receiving node, under its id (the
    receiving node keeps one per id, and answers a resend with the one it kept).
    Accepted: ``pending`` here (or what was decided there, for a resend that comes
    late). Known not taken there: dropped here. Not known to have arrived: kept, 502."""

    def read() -> tuple[str, dict[str, Any]]:
        with node.db.session(write=False) as session:
            row = applications.holders_application(session, holder.holder_id or "", application_id)
            return row.peer_entity, applications.forwarded_body(session, row)

    peer, forwarded = await run_in_threadpool(read)
    apply = applications.APPLY_PATH, applications.APPLY_PURPOSE
    answer = await _sent_or_undone(
        node,
        peers.ask(node, peer, *apply, forwarded, applications.Decided),
        lambda session: applications.drop_unsent(session, application_id),
    )

    def finish() -> applications.ApplicationOut:
        with node.db.session() as session:
            row = applications.finish_outgoing(session, holder, application_id, answer, node.clock())
            session.flush()
            return applications.out(row)

    confirmed = await run_in_threadpool(finish)
    if answer.state in applications.WAITING:
        return confirmed
    return await _keep_decision(node, holder, application_id, peer, answer) or confirmed


async def _forward_dispute(
    node: NodeState, holder: Principal, application_id: str
) -> applications.ApplicationOut:
    """Send a kept (``disputing``) dispute to the receiving node (which takes one per
    application, and answers a resend with the application as it is now). Taken up:
    ``disputed`` (or what was decided since). Known not taken there: the refusal stands
    as it was. Not known to have arrived: kept, 502."""

    def read() -> RecognitionApplication:
        with node.db.session(write=False) as session:
            return applications.holders_application(session, holder.holder_id or "", application_id)

    row = await run_in_threadpool(read)
    path = applications.dispute_path(row.peer_application_id)
    body = {"statement": row.dispute_statement or ""}
    purpose = applications.DISPUTE_PURPOSE

    async def ask() -> applications.Decided:
        answer = await peers.ask(node, row.peer_entity, path, purpose, body, applications.Decided)
        if answer.id != row.peer_application_id or answer.disputedAt is None:
            raise peers.PeerUnavailableError(
                f"{row.peer_entity} did not take the dispute up ({answer.state})", not_taken=True
            )
        return answer

    answer = await _sent_or_undone(
        node, ask(), lambda session: applications.drop_dispute(session, application_id)
    )

    def finish() -> applications.ApplicationOut:
        with node.db.session() as session:
            kept = applications.finish_dispute(session, holder, application_id, node.clock())
            session.flush()
            return applications.out(kept)

    taken = await run_in_threadpool(finish)
    if answer.state in applications.WAITING:
        return taken
    return await _keep_decision(node, holder, application_id, row.peer_entity, answer) or taken


async def _forward_withdrawal(
    node: NodeState, holder: Principal, application_id: str
) -> applications.ApplicationOut:
    """Send a kept (``withdrawing``) withdrawal to the receiving node (which takes it
    while the application waits, and answers a resend as it is now). Taken: ``withdrawn``.
    Decided there first: the application waits no longer, so the decision is kept
    instead (the answer is that decision). Known not taken: the application waits as it
    did. Not known to have arrived: kept, 502."""

    def read() -> RecognitionApplication:
        with node.db.session(write=False) as session:
            return applications.holders_application(session, holder.holder_id or "", application_id)

    row = await run_in_threadpool(read)
    path = applications.withdrawal_path(row.peer_application_id)
    purpose = applications.WITHDRAW_PURPOSE

    async def ask() -> applications.Decided:
        answer = await peers.ask(node, row.peer_entity, path, purpose, {}, applications.Decided, resend=True)
        if answer.id != row.peer_application_id or answer.state in applications.WAITING:
            raise peers.PeerUnavailableError(
                f"{row.peer_entity} did not take the withdrawal ({answer.state})", not_taken=True
            )
        return answer

    answer = await _sent_or_undone(
        node, ask(), lambda session: applications.drop_withdrawal(session, application_id)
    )
    if answer.state != "withdrawn":

        def undo() -> None:
            with node.db.session() as session:
                applications.drop_withdrawal(session, application_id)

        await run_in_threadpool(undo)
        decided = await _keep_decision(node, holder, application_id, row.peer_entity, answer)
        if decided is None or decided.state in applications.WAITING:
            # Not kept: the member cannot be checked now, or its answer is not acceptable
            # (answer_problem); the application is asked about again later.
            raise peers.PeerUnavailableError(
                f"{row.peer_entity} answered the withdrawal with a decision ({answer.state}) that "
                "cannot be kept now"
            )
        return decided

    def finish() -> applications.ApplicationOut:
        with node.db.session() as session:
            kept = applications.finish_withdrawal(session, holder, application_id, answer, node.clock())
            session.flush()
            return applications.out(kept)

    return await run_in_threadpool(finish)


async def _refresh(node: NodeState, rows: list[RecognitionApplication], holder: Principal) -> dict[str, str]:
    """Ask the receiving nodes about the pending applications of ``rows`` not asked
    about recently; keep their answers. Returns why each that could not be asked was not."""
    directory = node.directory
    now = node.clock()
    due = [
        r
        for r in rows
        if r.state in applications.WAITING
        and (r.checked_at is None or (now - r.checked_at).total_seconds() >= applications.RECHECK_SECONDS)
    ]
    unconfirmed = [r for r in rows if r.state in applications.UNCONFIRMED]
    if directory is None or not (due or unconfirmed):
        return {}
    problems: dict[str, str] = {}

    def claim(ids: list[str]) -> list[str]:
        with node.db.session() as session:
            return [i for i in ids if applications.claim_resend(session, i, now)]

    # Sent again at most once per RECHECK_SECONDS however often the holder looks, up to
    # three a look, one at a time, within one request budget (the page waits for it).
    for row in unconfirmed:
        problems[row.id] = (
            "not yet confirmed by the other node (sent again when you look, at most every "
            f"{applications.RECHECK_SECONDS} seconds)"
        )
    claimed = set(await run_in_threadpool(claim, [r.id for r in unconfirmed[:3]])) if unconfirmed else set()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(directory.request_budget):
            for row in (r for r in unconfirmed[:3] if r.id in claimed):
                try:
                    if row.state == "sending":
                        await _forward_application(node, holder, row.id)
                    elif row.state == "withdrawing":
                        await _forward_withdrawal(node, holder, row.id)
                    else:
                        await _forward_dispute(node, holder, row.id)
                    del problems[row.id]
                except RegistryError as exc:
                    problems[row.id] = exc.detail

    async def one(row: RecognitionApplication) -> None:
        path = applications.status_path(row.peer_application_id)
        try:
            answer = await peers.ask(
                node, row.peer_entity, path, applications.STATUS_PURPOSE, {}, applications.Decided
            )
            peer = await directory.member(row.peer_entity)
        except (peers.PeerUnavailableError, FederationError) as exc:
            problems[row.id] = exc.detail
            return
        problem = applications.answer_problem(row, answer, peer.did)
        if problem is not None:
            problems[row.id] = f"{row.peer_entity}: {problem}"
            return

        def keep() -> None:
            with node.db.session() as session:
                applications.record_answer(session, row.id, answer, node.clock())

        await run_in_threadpool(keep)

    await asyncio.gather(*(one(r) for r in due[:20]))
    return problems


class HolderApplications(BaseModel):
    applications: list[applications.ApplicationOut]
    unreachable: dict[str, str] = Field(
        description="By application id: why the receiving node could not be asked just now (its state is "
        "then the one last known)"
    )


@router.get(
    "/v1/holder/recognition-applications", operation_id="listRecognitionApplications", tags=["holders"]
)
async def list_recognition_applications(node: NodeDep, holder: HolderDep) -> HolderApplications:
    """Your recognition applications, newest first, each as the receiving node last
    said (pending ones are asked about again when last asked over 30 seconds ago): a
    recognised one carries its recognition credential."""

    def read() -> list[RecognitionApplication]:
        with node.db.session(write=False) as session:
            return applications.holders_applications(session, holder.holder_id or "")

    problems = await _refresh(node, await run_in_threadpool(read), holder)
    rows = await run_in_threadpool(read)
    return HolderApplications(applications=[applications.out(r) for r in rows], unreachable=problems)


@router.post(
    "/v1/holder/recognition-applications/{application_id}/dispute",
    operation_id="disputeRecognitionDecision",
    tags=["holders"],
    responses={
        404: {"description": "You have no recognition application with this id"},
        409: {
            "description": "The application was not refused, or was disputed before, or another application "
            "of the credential in that province waits or was recognised; or this node is not federated"
        },
        502: {
            "description": "The other province's node refused the dispute (the refusal stands), or did not "
            "confirm it (kept as disputing, sent again when the holder next looks)"
        },
    },
)
async def dispute_recognition_decision(
    application_id: Annotated[str, Path(max_length=36)],
    body: applications.DisputeIn,
    node: NodeDep,
    holder: HolderDep,
) -> applications.ApplicationOut:
    """Dispute (异议) a refusal: the other province's node takes the application up again
    with your statement, and its officers decide it again (recognise, or refuse for
    good). Once per application, and not while another application of the credential
    in that province waits or was recognised. Kept here first, then sent; answered when
    that node took it up (its refusal: 502, and the refusal stands; not known to have
    arrived: 502, kept as ``disputing`` and sent again when you next look). Audited;
    visible in your activity."""

    def start() -> RecognitionApplication:
        with node.db.session() as session:
            row = applications.start_dispute(
                session, holder.holder_id or "", application_id, body.statement, node.clock()
            )
            session.flush()
            return row

    row = await run_in_threadpool(start)
    if row.state == "disputed":
        return applications.out(row)
    return await _forward_dispute(node, holder, application_id)


@router.post(
    "/v1/holder/recognition-applications/{application_id}/withdrawal",
    operation_id="withdrawRecognitionApplication",
    tags=["holders"],
    responses={
        404: {"description": "You have no recognition application with this id"},
        409: {
            "description": "The application does not wait for a decision (it was recognised or refused, "
            "also when the other province's node decided it before the withdrawal arrived), or the other "
            "node has not confirmed it yet; or this node is not federated"
        },
        502: {
            "description": "The other province's node did not take the withdrawal (the application waits "
            "as it did), or did not confirm it (kept as withdrawing, sent again when the holder next looks)"
        },
    },
)
async def withdraw_recognition_application(
    application_id: Annotated[str, Path(max_length=36)], node: NodeDep, holder: HolderDep
) -> applications.ApplicationOut:
    """Withdraw (撤回) an application that waits for a decision (pending, or disputed): the
    other province's node stops considering it. Kept here first, then sent; answered when
    that node took it (``withdrawn``). If its officers decided first, the decision stands
    and is kept here (409, with what was decided); not known to have arrived: 502, kept as
    ``withdrawing`` and sent again when you next look. Sent again: the same answer.
    Afterwards the credential can be put to that province again. Audited; visible in your
    activity."""

    def start() -> RecognitionApplication:
        with node.db.session() as session:
            row = applications.start_withdrawal(session, holder.holder_id or "", application_id, node.clock())
            session.flush()
            return row

    row = await run_in_threadpool(start)
    if row.state == "withdrawn":
        return applications.out(row)
    answer = await _forward_withdrawal(node, holder, application_id)
    if answer.state != "withdrawn":
        raise ConflictError(
            f"the other province's node decided the application before the withdrawal arrived: {answer.state}"
        )
    return answer


# --- applications: the receiving node --------------------------------------------------------


_NODE_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            node_requests.REQUEST_MEDIA_TYPE: {"schema": {"type": "string", "description": "a compact JWS"}}
        },
    }
}


@router.post(
    applications.APPLY_PATH,
    operation_id="receiveRecognitionApplication",
    status_code=status.HTTP_201_CREATED,
    response_model=applications.Decided,
    openapi_extra=_NODE_REQUEST_BODY,
    responses={
        200: {
            "description": "The same application was received before (a retry): the one kept",
            "model": applications.Decided,
        },
        401: {
            "description": "Not signed by a federation member's key, or not for this node, URL or "
            "purpose, or expired"
        },
        409: {
            "description": "Another application of this credential from the calling node waits or was "
            "recognised; or this node is not federated"
        },
        415: {"description": "Not sent as application/node-request+jwt"},
        **peers.PEER_RATE_LIMITED,
        422: {
            "description": "The body is not an application, or its credential is not valid, or not "
            "the calling node's"
        },
    },
)
async def receive_recognition_application(request: Request, node: NodeDep) -> Response:
    """A node forwards its holder's application (node-authenticated request, purpose
    ``recognition.apply``, body ``{application, credential, statement}``). The
    credential must verify valid here and be the calling node's own. Kept once per
    calling node and application id; audited."""
    opened = await peers.open_request(node, request, applications.APPLY_PATH, applications.APPLY_PURPOSE)
    forwarded = peers.body_of(opened, applications.Forwarded, "a recognition application")

    def kept() -> applications.Decided | None:
        with node.db.session(write=False) as session:
            row = applications.kept_incoming(session, opened.caller, forwarded.application)
            return None if row is None else applications.decided(row)

    # Sent again (its answer was lost): the one kept, whatever has changed since.
    earlier = await run_in_threadpool(kept)
    if earlier is not None:
        return JSONResponse(earlier.model_dump(mode="json"), status_code=200)
    shape = applications.forwarded_problems(forwarded.credential)
    if shape:
        raise InvalidInputError(
            "the credential cannot be kept as presented: " + "; ".join(shape),
            errors=[{"field": "credential", "message": p} for p in shape],
        )
    profile = await peers.federated(node).member(opened.caller)
    await prepare_peers(node, [forwarded.credential])
    now = node.clock()

    def verify_and_keep() -> tuple[applications.Decided, bool]:
        trust = trust_of(node)
        with node.db.reader() as reader:
            report, rows = verify_one(
                reader,
                forwarded.credential,
                trust,
                node.base_url,
                applications.peer_principal(opened.caller),
                now,
                node.status_cache,
                node.holder_of,
                node.directory,
            )
        node.audit_writer.submit(rows)
        readable = report.readable or {}
        if report.verdict != "valid":
            failed = [c.reason for c in report.checks if c.result != "pass"]
            raise InvalidInputError(
                f"the credential is {report.verdict} here: " + "; ".join(failed),
                errors=[{"field": "credential", "message": r} for r in failed],
            )
        if report.format != "vc" or readable.get("issuer") != profile.did:
            raise InvalidInputError("a node forwards applications for its own credentials only")
        try:
            with node.db.session() as session:
                row, new = applications.receive(
                    session, opened.caller, forwarded, readable, profile.province, now
                )
                session.flush()
                return applications.decided(row), new
        except IntegrityError:
            # The same application, kept meanwhile by a concurrent retry: that one.
            with node.db.session(write=False) as session:
                row, new = applications.receive(
                    session, opened.caller, forwarded, readable, profile.province, now
                )
                assert not new
                return applications.decided(row), False

    answer, new = await run_in_threadpool(verify_and_keep)
    return JSONResponse(answer.model_dump(mode="json"), status_code=201 if new else 200)


def _from_peer(answers: dict[int | str, dict[str, Any]] | None = None) -> dict[int | str, dict[str, Any]]:
    """The answers of an endpoint another node calls about an application it forwarded
    (node-authenticated), with ``answers`` added or in place of these."""
    return {
        401: {
            "description": "Not signed by a federation member's key, or not for this node, URL or "
            "purpose, or expired"
        },
        404: {"description": "No such application from the calling node"},
        409: {"description": "This node is not federated"},
        415: {"description": "Not sent as application/node-request+jwt"},
        **peers.PEER_RATE_LIMITED,
        **(answers or {}),
    }


@router.post(
    applications.APPLY_PATH + "/{application_id}/status",
    operation_id="recognitionApplicationStatus",
    openapi_extra=_NODE_REQUEST_BODY,
    responses=_from_peer(),
)
async def recognition_application_status(
    application_id: Annotated[str, Path(max_length=36)], request: Request, node: NodeDep
) -> applications.Decided:
    """How an application the calling node forwarded was decided (node-authenticated
    request, purpose ``recognition.status``, empty body): a recognised one carries the
    recognition credential. Only the node that forwarded it may ask."""
    opened = await peers.open_request(
        node, request, applications.status_path(application_id), applications.STATUS_PURPOSE
    )

    def read() -> applications.Decided:
        with node.db.session(write=False) as session:
            return applications.decided(applications.incoming_of(session, opened.caller, application_id))

    return await run_in_threadpool(read)


@router.post(
    applications.APPLY_PATH + "/{application_id}/dispute",
    operation_id="receiveRecognitionDispute",
    openapi_extra=_NODE_REQUEST_BODY,
    responses=_from_peer(
        {
            409: {
                "description": "The application was not refused, or was disputed before; or this node is "
                "not federated"
            },
            422: {"description": "The body is not a dispute"},
        }
    ),
)
async def receive_recognition_dispute(
    application_id: Annotated[str, Path(max_length=36)], request: Request, node: NodeDep
) -> applications.Decided:
    """The holder's node forwards a dispute (异议) of a refusal (node-authenticated
    request, purpose ``recognition.dispute``, body ``{statement}``): the application
    waits for this node's officers again. Once per application (sent again: the same
    answer); only the node that forwarded the application may. Audited."""
    path = applications.dispute_path(application_id)
    opened = await peers.open_request(node, request, path, applications.DISPUTE_PURPOSE)
    body = peers.body_of(opened, applications.DisputeIn, "a dispute")

    def keep() -> applications.Decided:
        with node.db.session() as session:
            row = applications.receive_dispute(
                session, opened.caller, application_id, body.statement, node.clock()
            )
            session.flush()
            return applications.decided(row)

    return await run_in_threadpool(keep)


@router.post(
    applications.APPLY_PATH + "/{application_id}/withdrawal",
    operation_id="receiveRecognitionWithdrawal",
    openapi_extra=_NODE_REQUEST_BODY,
    responses=_from_peer({422: {"description": "The body is not an empty object"}}),
)
async def receive_recognition_withdrawal(
    application_id: Annotated[str, Path(max_length=36)], request: Request, node: NodeDep
) -> applications.Decided:
    """The holder's node forwards the holder's withdrawal (撤回) of an application
    (node-authenticated request, purpose ``recognition.withdraw``, body ``{}``): taken
    while it waits for this node's officers (``withdrawn``; they can no longer decide
    it). Decided before it arrived: answered with the decision, which stands. Sent again:
    the same answer; only the node that forwarded the application may. Audited."""
    path = applications.withdrawal_path(application_id)
    opened = await peers.open_request(node, request, path, applications.WITHDRAW_PURPOSE)
    peers.body_of(opened, applications.WithdrawalIn, "an empty object")

    def keep() -> applications.Decided:
        with node.db.session() as session:
            row = applications.receive_withdrawal(session, opened.caller, application_id, node.clock())
            session.flush()
            return applications.decided(row)

    return await run_in_threadpool(keep)


# --- applications: the receiving node's officers ----------------------------------------------


@router.get("/v1/recognition/applications", operation_id="listIncomingRecognitionApplications")
def list_incoming_applications(
    node: NodeDep,
    session: ReadSessionDep,
    staff: RecognitionReaderDep,
    state: Literal["pending", "disputed", "recognised", "refused", "withdrawn"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[applications.ApplicationOut]:
    """Applications other provinces' nodes forwarded here, oldest first (officers,
    auditors, admins)."""
    return [applications.out(r) for r in applications.list_incoming(session, state, limit, offset)]


@router.post(
    "/v1/recognition/applications/{application_id}/decision",
    operation_id="decideRecognitionApplication",
    responses={
        404: {"description": "No such incoming application"},
        409: {
            "description": "Already decided, or (to recognise) the original credential no longer "
            "verifies valid here (revoked, suspended, or its status cannot be confirmed now)"
        },
        422: {
            "description": "No local type given and the policy gives none, or the type is retired or unknown"
        },
    },
)
def decide_recognition_application(
    application_id: Annotated[str, Path(max_length=36)],
    body: applications.DecisionIn,
    node: NodeDep,
    session: SessionDep,
    officer: OfficerDep,
) -> applications.ApplicationOut:
    """Decide an application: ``recognise`` issues this node's recognition credential
    (the local type from ``recognisedAs``, by default what the latest policy gives for
    the type) referencing the original, once the original verifies valid here again
    (revoked, suspended or unconfirmable since it arrived: 409, nothing decided; it
    can still be refused); ``refuse`` needs a reason. Final; audited. The holder's node
    learns it when it next asks."""
    if body.decision == "recognise":
        # Checked before this request's write transaction begins (peers may be asked).
        with node.db.session(write=False) as reader:
            document = json.loads(applications.incoming(reader, application_id).credential or "{}")
        _still_valid(node, officer, document)
    row = applications.incoming(session, application_id)
    found = node.recognition.recognise(
        node.settings.province,
        row.province,
        row.type_code,
        True,
        node.clock().astimezone(CHINA_STANDARD_TIME).date(),
    )
    default = found.recognised_as if found.state == "recognised" else None
    ctx = issuance_context(node, session)
    return applications.out(applications.decide(session, officer, application_id, body, default, ctx))


def _still_valid(node: NodeState, officer: Principal, document: dict[str, Any]) -> None:
    """The original credential verified again at decision time (from a worker thread):
    a sanction imposed since it arrived (科研失信) must stop its recognition."""
    prepare_peers_from_thread(node, [document])
    now = node.clock()
    with node.db.reader() as reader:
        report, rows = verify_one(
            reader,
            document,
            trust_of(node),
            node.base_url,
            officer,
            now,
            node.status_cache,
            node.holder_of,
            node.directory,
        )
    node.audit_writer.submit(rows)
    if report.verdict != "valid":
        failed = [c.reason for c in report.checks if c.result != "pass"]
        raise applications.NoLongerValidError(
            f"the credential is {report.verdict} here now: " + "; ".join(failed) + " (it can be refused)",
            errors=[{"field": "credential", "message": r} for r in failed],
        )


# --- what the other provinces' published policies say of a holder's credential -------------


class ProvinceRecognition(BaseModel):
    province: str = Field(description="The other province (GB/T 2260)")
    provinceName: dict[str, str]
    state: Literal["native", "recognised", "not-recognised", "no-policy", "not-applicable", "unknown"]
    policyVersion: int | None
    recognisedAs: RecognisedAs | None
    conditions: str | None
    message: str = Field(description="In the language asked for (Accept-Language)")


@router.get(
    "/v1/holder/credentials/{credential_id}/recognition",
    operation_id="credentialRecognitionElsewhere",
    tags=["holders"],
    responses={
        404: {"description": "You have no credential with this id"},
        409: {"description": "This node is not federated"},
    },
)
async def credential_recognition(
    credential_id: Annotated[str, Path(max_length=64)], request: Request, node: NodeDep, holder: HolderDep
) -> list[ProvinceRecognition]:
    """What each other province's published recognition policy says of this credential
    today (read from each member's signed policy, verified with the member's key
    history, kept 5 minutes): recognised there as which type (no application needed:
    its verifiers already answer so), not covered (apply), no policy, or unknown (its
    policy could not be read now, and why). Only a credential in force is recognised.
    A rule for every type (``*``) counts it as the same catalogue code (the provinces
    seed the same national catalogue)."""
    return await recognition_elsewhere(node, holder, credential_id, language(request))


async def recognition_elsewhere(
    node: NodeState, holder: Principal, credential_id: str, locale: i18n.Locale
) -> list[ProvinceRecognition]:
    """:func:`credential_recognition` in ``locale`` (for the portal too)."""
    directory = peers.federated(node)

    def read() -> tuple[Credential, dict[str, tuple[str, str]]]:
        with node.db.session(write=False) as session:
            row = session.get(Credential, credential_id.removeprefix("urn:uuid:"))
            if row is None or row.holder_id != holder.holder_id:
                raise NotFoundError("you have no credential with this id")
            return row, _names(session)

    credential, names = await run_in_threadpool(read)
    codes = frozenset(names)
    today = node.clock().astimezone(CHINA_STANDARD_TIME).date()
    answers = []
    for profile in await directory.member_profiles():
        zh, en = PROVINCES[profile.province]
        try:
            policy = await directory.policy_of(profile)
        except FederationError as exc:
            text = verifier_t(locale, POLICY_UNREADABLE, province=zh if locale == "zh_CN" else en)
            answers.append(
                ProvinceRecognition(
                    province=profile.province,
                    provinceName={"zh": zh, "en": en},
                    state="unknown",
                    policyVersion=None,
                    recognisedAs=None,
                    conditions=None,
                    message=f"{text} ({exc.detail[:200]})",
                )
            )
            continue
        found = recognition.recognise(
            policy=policy,
            own_province=profile.province,
            issuer_province=node.settings.province,
            type_code=credential.type_code,
            valid=credential.status == "active"
            and (credential.valid_until is None or credential.valid_until > node.clock()),
            day=today,
            local_codes=codes,
        )
        described = describe_recognition(found, locale, names)
        answers.append(
            ProvinceRecognition(
                province=profile.province,
                provinceName={"zh": zh, "en": en},
                state=found.state,
                policyVersion=found.policy_version,
                recognisedAs=described["recognisedAs"],
                conditions=described["conditions"],
                message=described["message"],
            )
        )
    return answers


#: Said when a member's policy cannot be read now (``reports`` domain).
POLICY_UNREADABLE = "%(province)s's recognition policy cannot be read just now."
