"""Issuing officers: issue one credential or a batch, read, revoke, suspend, reinstate."""

from __future__ import annotations

import json
import logging
import threading
from functools import partial
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from registry import audit
from registry.auth import Principal
from registry.credentials import batch_csv, issuance
from registry.credentials import status as status_service
from registry.credentials.identity import check_characters
from registry.database import on_commit
from registry.deps import NodeDep, OfficerDep, SessionDep, StaffDep
from registry.errors import ConflictError, InvalidInputError, NotFoundError, RegistryError
from registry.limits import read_json_body
from registry.models import Credential, IssuanceBatch, StatusList
from registry.node import NodeState

router = APIRouter(tags=["issuance"])
log = logging.getLogger("registry.issuance")
BATCH_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


def context(node: NodeState, session: Session) -> issuance.IssuanceContext:
    """What issuance needs, with the key ring read in ``session`` (the one that signs)."""
    return issuance.IssuanceContext(
        did=node.did,
        base_url=node.base_url,
        province=node.settings.province,
        ring=node.ring_in(session),
        id_key=node.id_key,
        rng=node.rng,
        now=node.clock(),
    )


class CredentialRecord(BaseModel):
    id: str
    certificateNumber: str
    holderId: str
    typeCode: str
    status: str
    statusReason: str | None
    batchId: str | None
    issuedAt: str
    verifiableCredential: dict[str, Any]


def record_of(row: Credential) -> CredentialRecord:
    return CredentialRecord(
        id=row.id,
        certificateNumber=row.certificate_number,
        holderId=row.holder_id,
        typeCode=row.type_code,
        status=row.status,
        statusReason=row.status_reason,
        batchId=row.batch_id,
        issuedAt=row.issued_at.isoformat().replace("+00:00", "Z"),
        verifiableCredential=json.loads(row.document),
    )


@router.post(
    "/v1/credentials",
    operation_id="issueCredential",
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "Invalid row (all errors listed)"}},
)
def issue_one(
    body: issuance.IssueRequest, node: NodeDep, session: SessionDep, officer: OfficerDep, response: Response
) -> CredentialRecord:
    """Issue one credential (VC 2.0, eddsa-jcs-2022, revocation and suspension entries)."""
    result = issuance.issue(session, officer, [body], context(node, session))
    row = session.get(Credential, result.credentials[0].id)
    assert row is not None
    response.headers["Location"] = f"/v1/credentials/{row.id}"
    return record_of(row)


class BatchBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"credentials": [issuance.EXAMPLE_ROW]}]}
    )
    # The bounds are checked by issuance._parse (with its own message); declared here.
    credentials: list[dict[str, Any]] = Field(
        description="Rows as for POST /v1/credentials",
        json_schema_extra={"minItems": 1, "maxItems": issuance.MAX_BATCH_ROWS},
    )


class BatchState(BaseModel):
    batchId: str
    state: Literal["queued", "running", "done", "failed"]
    total: int | None = None
    processed: int | None = None
    result: issuance.BatchResult | None = None
    errors: list[dict[str, Any]] | None = None
    detail: str | None = None


async def _batch_rows(request: Request) -> tuple[list[dict[str, Any]], list[int] | None]:
    """The rows of a batch, and for CSV the file's line of each. The body is read only
    now, after the officer was authenticated (the middleware defers it), and parsed and
    shaped in a worker thread: ten thousand rows take a good part of a second, which the
    event loop does not wait. CSV is UTF-8, or GB18030 (GBK) when its ``charset`` says
    so or its bytes are not UTF-8 (see :mod:`registry.credentials.batch_csv`)."""
    header = request.headers.get("content-type", "")
    content_type = header.split(";")[0].strip().lower()
    if content_type == "text/csv":
        raw = await request.body()
        table = await run_in_threadpool(batch_csv.read_batch, raw, batch_csv.charset_of(header))
        return table.rows, table.lines
    if content_type in ("application/json", ""):
        data = await read_json_body(request)
        return await run_in_threadpool(_json_rows, data), None
    raise InvalidInputError(
        "批次请以 application/json 或 text/csv 发送 / send the batch as application/json or text/csv"
    )


def _json_rows(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        raise InvalidInputError('a JSON batch is an object {"credentials": [...]}')
    try:
        return BatchBody.model_validate(data).credentials
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _run_batch(
    node: NodeState, principal: Principal, batch_id: str, rows: list[issuance.IssueRequest]
) -> None:
    def progress(done: int, total: int) -> None:
        node.batches.progress(batch_id, done, total)

    node.batches.update(batch_id, state="running", processed=0, total=len(rows))
    try:
        with node.db.session() as session:
            result = issuance.issue(
                session, principal, rows, context(node, session), batch_id=batch_id, progress=progress
            )
        node.batches.update(batch_id, state="done", processed=result.count)
    except RegistryError as exc:
        node.batches.update(batch_id, state="failed", detail=exc.detail, errors=exc.extensions.get("errors"))
    except Exception:  # the request has long returned: record, don't raise into the thread
        log.exception("background batch %s failed", batch_id)
        node.batches.update(batch_id, state="failed", detail="the node could not complete the batch")


@router.put(
    "/v1/issuance/batches/{batch_id}",
    operation_id="issueBatch",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": BatchBody.model_json_schema()},
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": batch_csv.template().decode("utf-8-sig"),
                },
            },
        }
    },
    responses={
        200: {"description": "This batch was issued before; the same result", "model": issuance.BatchResult},
        202: {"description": "Accepted; runs in the background (see Location)", "model": BatchState},
        409: {"description": "The batch id was used for other rows"},
        422: {"description": "Rows with errors; nothing was issued"},
    },
)
async def issue_batch(
    request: Request,
    batch_id: Annotated[str, Path(pattern=BATCH_ID)],
    node: NodeDep,
    officer: OfficerDep,
) -> JSONResponse:
    """Issue an evaluation batch (JSON or CSV), all or nothing. The batch id makes the
    request idempotent; large batches run in the background with visible progress.
    CSV: UTF-8 or GB18030 (``text/csv; charset=gb18030``, or undeclared), headers in
    Chinese, English or the JSON names (GET /v1/issuance/template.csv); its row errors
    give the file's ``line`` besides the ``row``."""
    raw_rows, lines = await _batch_rows(request)

    def validate() -> list[issuance.IssueRequest]:
        with node.db.session(write=False) as session:
            return issuance.validate_batch(session, raw_rows, context(node, session), lines)

    rows = await run_in_threadpool(validate)
    digest = issuance.batch_digest(rows)
    background = len(rows) > node.settings.batch_async_rows or "respond-async" in request.headers.get(
        "prefer", ""
    )

    def find_previous() -> issuance.BatchResult | None:
        with node.db.session(write=False) as session:
            return issuance.existing_batch(session, batch_id, digest)

    previous = await run_in_threadpool(find_previous)
    if previous is not None:
        return JSONResponse(previous.model_dump(), status_code=200)
    location = {"Location": f"/v1/issuance/batches/{batch_id}"}
    if background:
        if not node.batches.claim(batch_id):
            raise ConflictError(f"batch {batch_id!r} is already being issued")
        threading.Thread(target=_run_batch, args=(node, officer, batch_id, rows), daemon=True).start()
        state = BatchState(batchId=batch_id, state="queued", total=len(rows), processed=0)
        return JSONResponse(state.model_dump(exclude_none=True), status_code=202, headers=location)

    def run() -> issuance.BatchResult:
        with node.db.session() as session:
            return issuance.issue(session, officer, rows, context(node, session), batch_id=batch_id)

    result = await run_in_threadpool(run)
    # Another request may have issued this batch while this one waited for the lock.
    return JSONResponse(result.model_dump(), status_code=200 if result.replayed else 201, headers=location)


#: The template's file name: ASCII for old clients, Chinese (RFC 6266 filename*) for the rest.
TEMPLATE_DISPOSITION = "attachment; filename=\"issuance-batch-template.csv\"; filename*=UTF-8''" + quote(
    "职称批量签发模板.csv"
)


@router.get(
    "/v1/issuance/template.csv",
    operation_id="getIssuanceTemplate",
    response_class=Response,
    responses={
        200: {
            "description": "A CSV file with the header row (Chinese / English) and no rows",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def issuance_template(officer: OfficerDep) -> Response:
    """The CSV template of an evaluation batch: UTF-8 with a byte order mark (Excel
    shows the Chinese headers), one header row, each cell the Chinese and the English
    header of a column. Fill rows under it and send it back to PUT
    /v1/issuance/batches/{batchId} unchanged otherwise.

    For issuing officers, as is everything under /v1/issuance: the blank template holds
    nothing secret, but those who may send a batch are the ones who need it, and
    anonymous callers get only what verifiers and peers need of a node."""
    return Response(
        content=batch_csv.template(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": TEMPLATE_DISPOSITION},
    )


@router.get("/v1/issuance/batches/{batch_id}", operation_id="getBatch")
def get_batch(batch_id: str, node: NodeDep, session: SessionDep, officer: StaffDep) -> BatchState:
    """A batch: done (with its credentials), or its progress while it runs, or why it failed."""
    running = node.batches.get(batch_id)
    if running is not None and running.get("state") in ("queued", "running", "failed"):
        return BatchState.model_validate({"batchId": batch_id, **running})
    batch = session.get(IssuanceBatch, batch_id)
    if batch is None:
        raise NotFoundError(f"no batch {batch_id!r}")
    result = issuance.batch_result(session, batch_id)
    return BatchState(batchId=batch_id, state="done", total=batch.count, processed=batch.count, result=result)


def load_credential(session: Session, credential_id: str) -> Credential:
    row = session.get(Credential, credential_id)
    if row is None:
        raise NotFoundError(f"no credential {credential_id}")
    return row


@router.get("/v1/credentials/{credential_id}", operation_id="getCredential")
def get_credential(
    credential_id: str, node: NodeDep, session: SessionDep, staff: StaffDep
) -> CredentialRecord:
    """A credential and its status (a look-up of personal data: audited)."""
    row = load_credential(session, credential_id)
    audit.record(
        session, staff, node.clock(), "credential.read", "credential", row.id, holder_id=row.holder_id
    )
    return record_of(row)


class StatusChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reasonCode": "research_misconduct", "note": "省科技厅科研失信处理决定 2026-17号"}]
        },
    )
    reason_code: str = Field(alias="reasonCode", examples=["research_misconduct"])
    note: str | None = Field(default=None, max_length=1000)

    @field_validator("note")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # Audited and shown to the holder: no control, invisible or bidirectional characters.
        return None if value is None else check_characters(value)


def change_status(
    node: NodeState,
    session: Session,
    officer: Principal,
    credential_id: str,
    action: status_service.Action,
    reason_code: str,
    note: str | None,
    *,
    allow_unspecified: bool = False,
) -> Credential:
    """A status change signed with this node's key and list settings; this process's
    verifications see it at once. ``allow_unspecified``: the VC API's change without a
    reason, recorded as ``unspecified``."""
    row = status_service.change_status(
        session,
        officer,
        credential_id,
        action,
        reason_code,
        note,
        did=node.did,
        base_url=node.base_url,
        ring=node.ring_in(session),
        now=node.clock(),
        ttl=node.settings.status_list_max_age,
        allow_unspecified=allow_unspecified,
    )
    # The changed list is forgotten once committed, so that no reader re-caches its old bits.
    revoked = action == "revoke"
    purpose = "revocation" if revoked else "suspension"
    list_id = row.revocation_list_id if revoked else row.suspension_list_id
    changed = session.get(StatusList, list_id)
    assert changed is not None
    on_commit(session, partial(node.status_cache.invalidate, [(purpose, changed.number)]))
    return row


def _change(
    action: status_service.Action,
    credential_id: str,
    body: StatusChange,
    node: NodeState,
    session: Session,
    officer: Principal,
) -> CredentialRecord:
    return record_of(
        change_status(node, session, officer, credential_id, action, body.reason_code, body.note)
    )


@router.post("/v1/credentials/{credential_id}/revocation", operation_id="revokeCredential")
def revoke(
    credential_id: str, body: StatusChange, node: NodeDep, session: SessionDep, officer: OfficerDep
) -> CredentialRecord:
    """Revoke (final). Reason codes: see GET /v1/status-reasons."""
    return _change("revoke", credential_id, body, node, session, officer)


@router.post("/v1/credentials/{credential_id}/suspension", operation_id="suspendCredential")
def suspend(
    credential_id: str, body: StatusChange, node: NodeDep, session: SessionDep, officer: OfficerDep
) -> CredentialRecord:
    """Suspend (can be lifted by reinstatement)."""
    return _change("suspend", credential_id, body, node, session, officer)


@router.post("/v1/credentials/{credential_id}/reinstatement", operation_id="reinstateCredential")
def reinstate(
    credential_id: str, body: StatusChange, node: NodeDep, session: SessionDep, officer: OfficerDep
) -> CredentialRecord:
    """Lift a suspension."""
    return _change("reinstate", credential_id, body, node, session, officer)


@router.get("/v1/status-reasons", operation_id="listStatusReasons", tags=["public"])
def status_reasons() -> dict[str, dict[str, str]]:
    """Reason codes for revocation, suspension and reinstatement."""
    return {
        "revoke": status_service.REVOCATION_REASONS,
        "suspend": status_service.SUSPENSION_REASONS,
        "reinstate": status_service.REINSTATEMENT_REASONS,
    }
