"""The officer desk (``/officer/…``): issuing officers sign in with their staff account
(the API's password check and sign-in guard; the session is the API's access token
in an HttpOnly cookie), upload an evaluation batch (CSV), see every row error before
anything is issued, issue it with a progress bar, and revoke, suspend or reinstate a
credential with a reason code.

Everything goes through the services the API uses, with the signed-in officer as
the principal: ``issuance.validate_batch`` and the API's background batch (progress
in ``node.batches``), and the API's status change, so the rules and the audit
records are the API's. Only the role ``issuing_officer`` opens the desk (admins do
not issue: separation of duties, as in the API)."""

from __future__ import annotations

import re
import threading
from functools import partial
from pathlib import PurePath
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from registry import i18n
from registry.accounts import require_no_password_change
from registry.auth import Principal
from registry.credentials import batch_csv, issuance
from registry.credentials import status as status_service
from registry.credentials.errors import BatchRejectedError, ReasonCodeError, StatusTransitionError
from registry.deps import NodeDep
from registry.errors import AuthenticationError, NotFoundError, RateLimitedError, RegistryError
from registry.lookup import normal_number
from registry.models import Credential, IssuanceBatch
from registry.routes import accounts as accounts_api
from registry.routes import issuance as issuance_api
from registry.web import row_errors
from registry.web.desk import FORM_EXPIRED, form_fields, session_principal, sign_in_error
from registry.web.jobs import desk_state
from registry.web.pages import CSRF_FIELD, N_, SESSION_COOKIE, Page, end_session, page_of

router = APIRouter(include_in_schema=False)

SIGN_IN = "/officer/sign-in"
HOME = "/officer"
ROLE = "issuing_officer"
BATCH_ID = re.compile(issuance_api.BATCH_ID)
ACTIONS = {"revoke": N_("Revoke"), "suspend": N_("Suspend"), "reinstate": N_("Reinstate")}
DONE = {
    "revoke": N_("Credential %(number)s is revoked."),
    "suspend": N_("Credential %(number)s is suspended."),
    "reinstate": N_("Credential %(number)s is reinstated."),
}
STATES = {
    "queued": N_("Waiting to start"),
    "running": N_("Issuing"),
    "done": N_("Issued"),
    "failed": N_("Failed: nothing was issued"),
}
COLUMN_NAMES = {c.name: (c.zh, c.en) for c in batch_csv.COLUMNS}


def officer(page: Page) -> Principal | None:
    """The issuing officer whose session this request carries (None otherwise)."""
    principal = session_principal(page)
    return principal if principal is not None and principal.role == ROLE else None


async def _officer_or_none(page: Page) -> Principal | None:
    return await run_in_threadpool(officer, page)


# --- sign-in, sign-out ---


@router.get("/officer/sign-in")
async def sign_in_page(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "officer")
    if await _officer_or_none(page) is not None:
        return page.redirect(HOME)
    return page.render("officer_sign_in.html", error=None, username="")


@router.post("/officer/sign-in")
async def sign_in(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "officer")
    form = await form_fields(request, 3)
    username = form.get("username", "").strip()[:64]
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return page.render("officer_sign_in.html", 403, error=FORM_EXPIRED, username=username)
    try:
        if not username or not form.get("password"):
            raise AuthenticationError("missing")
        account = await accounts_api.checked_password(node, request, username, form["password"][:256])
        if account.role != ROLE:
            raise AuthenticationError("not an issuing officer")
        require_no_password_change(account)
    except RegistryError as exc:
        headers = {k: v for k, v in exc.headers.items() if k == "Retry-After"}
        status = 401 if isinstance(exc, AuthenticationError) else exc.status
        return page.render(
            "officer_sign_in.html", status, headers, error=sign_in_error(exc), username=username
        )
    token, _ = node.tokens.issue(account, node.clock())
    page.renew_csrf()
    page.cookies[SESSION_COOKIE] = (token, None, "strict")
    return page.redirect(HOME)


@router.post("/officer/sign-out")
async def sign_out(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "officer")
    form = await form_fields(request, 1)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return page.render("officer_sign_in.html", 403, error=FORM_EXPIRED, username="")
    page.renew_csrf()
    await end_session(node, request.cookies.get(SESSION_COOKIE))
    page.cookies[SESSION_COOKIE] = ("", 0, "strict")
    return page.redirect(SIGN_IN)


# --- the desk ---


def _reasons() -> dict[str, list[tuple[str, str]]]:
    return {action: sorted(reasons.items()) for action, reasons in status_service.REASONS.items()}


def _home(page: Page, status_code: int = 200, **values: Any) -> Response:
    values.setdefault("error", None)
    values.setdefault("notice", None)
    values.setdefault("status_form", {"number": "", "action": "revoke", "reason": "", "note": ""})
    values.setdefault("batch_id", "")
    return page.render(
        "officer_home.html",
        status_code,
        actions=ACTIONS,
        reasons=_reasons(),
        max_bytes_mib=page.node.settings.max_batch_body_bytes >> 20,
        **values,
    )


@router.get("/officer")
async def home(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "officer")
    if await _officer_or_none(page) is None:
        return page.redirect(SIGN_IN)
    return _home(page)


@router.get("/officer/template.csv")
async def template(request: Request, node: NodeDep) -> Response:
    """The API's blank batch template (UTF-8 with a byte order mark, zh / en headers)."""
    page = page_of(request, node, "officer")
    if await _officer_or_none(page) is None:
        return page.redirect(SIGN_IN)
    response = Response(
        batch_csv.template(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": issuance_api.TEMPLATE_DISPOSITION},
    )
    return page.finish(response)


def _batch_id_from(name: str, typed: str) -> str:
    """The batch id typed, else the file's name without its extension (as the CLI does)."""
    candidate = typed.strip() or PurePath(name or "").stem
    return candidate[:64]


def _readable_errors(errors: list[dict[str, Any]], locale: i18n.Locale) -> list[dict[str, Any]]:
    rows = []
    for e in errors:
        field = e.get("field") or ""
        names = COLUMN_NAMES.get(field.split(".")[0])
        rows.append(
            {
                "row": e.get("row"),
                "line": e.get("line"),
                "field": (names[0] if locale == "zh_CN" else names[1]) if names else field,
                "message": row_errors.readable(str(e.get("message", "")), locale),
            }
        )
    return rows


@router.post("/officer/batches")
async def upload_batch(request: Request, node: NodeDep) -> Response:
    """An evaluation batch (CSV) checked, nothing issued: every row error, or the rows
    and the button that issues them."""
    page = page_of(request, node, "officer")
    principal = await _officer_or_none(page)
    if principal is None:
        return page.redirect(SIGN_IN)
    limit = node.settings.max_batch_body_bytes
    async with request.form(max_files=1, max_fields=3) as data:
        token = data.get(CSRF_FIELD)
        typed = data.get("batch_id")
        upload = data.get("file")
        raw = b""
        name = ""
        if isinstance(upload, UploadFile) and upload.filename:
            name = upload.filename
            raw = await upload.read(limit + 1)
    if not page.csrf_ok(token):
        return _home(page, 403, error=FORM_EXPIRED)
    batch_id = _batch_id_from(name, typed if isinstance(typed, str) else "")
    if not raw:
        return _home(page, 422, error=N_("Choose the batch file (CSV)."), batch_id=batch_id)
    if len(raw) > limit:
        return _home(page, 413, error=N_("The batch file is too large."), batch_id=batch_id)
    if not BATCH_ID.match(batch_id):
        error = N_(
            "A batch id has 1 to 64 letters, digits, dots, colons, hyphens or underscores, "
            "and starts with a letter or digit."
        )
        return _home(page, 422, error=error, batch_id=batch_id)

    def check() -> dict[str, Any]:
        table = batch_csv.read_batch(raw, None)
        with node.db.session(write=False) as session:
            ctx = issuance_api.context(node, session)
            try:
                rows = issuance.validate_batch(session, table.rows, ctx, table.lines)
            except BatchRejectedError as exc:
                return {"errors": exc.extensions.get("errors") or [], "count": len(table.rows)}
            digest = issuance.batch_digest(rows)
            previous = issuance.existing_batch(session, batch_id, digest)
            used = previous is None and session.get(IssuanceBatch, batch_id) is not None
        return {"rows": rows, "lines": table.lines, "digest": digest, "previous": previous, "used": used}

    try:
        checked = await run_in_threadpool(check)
    except RegistryError:
        error = N_(
            "The file could not be read as a CSV batch: save it from the template as CSV "
            "(UTF-8 or GB18030), with its header row."
        )
        return _home(page, 422, error=error, batch_id=batch_id)
    values: dict[str, Any] = {
        "batch_id": batch_id,
        "file_name": name,
        "errors": [],
        "rows": [],
        "upload": None,
    }
    if "errors" in checked:
        values["errors"] = _readable_errors(checked["errors"], page.locale)
        values["error_rows"] = len({e["row"] for e in checked["errors"]})
        values["count"] = checked["count"]
        return page.render("officer_preview.html", 422, **values)
    if checked["previous"] is not None:
        return page.redirect(f"/officer/batches/{batch_id}")
    if checked["used"]:
        error = N_("This batch id was used for another batch. Choose another batch id.")
        return _home(page, 409, error=error, batch_id=batch_id)
    rows: list[issuance.IssueRequest] = checked["rows"]
    # Kept as JSON in the database (any worker may get the issue button's post).
    kept = [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in rows]
    upload_item = await run_in_threadpool(
        partial(desk_state(node).uploads.add, principal.actor, batch_id=batch_id, rows=kept)
    )
    values["count"] = len(rows)
    values["upload"] = upload_item.id
    values["rows"] = [
        {
            "row": i,
            "line": checked["lines"][i - 1],
            "name": r.holder_name,
            "type_code": r.type_code,
            "specialty": r.specialty or "",
            "awarded_on": r.awarded_on.isoformat(),
        }
        for i, r in enumerate(rows[:200], start=1)
    ]
    return page.render("officer_preview.html", **values)


@router.post("/officer/uploads/{upload_id}/issue")
async def issue_batch(request: Request, node: NodeDep, upload_id: str) -> Response:
    """Issue a checked batch in the background (the API's batch runner); its page
    shows the progress."""
    page = page_of(request, node, "officer")
    principal = await _officer_or_none(page)
    if principal is None:
        return page.redirect(SIGN_IN)
    form = await form_fields(request, 1)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return _home(page, 403, error=FORM_EXPIRED)
    item = await run_in_threadpool(desk_state(node).uploads.pop, upload_id[:64], principal.actor)
    if item is None:
        error = N_("This checked batch is no longer here (it is kept for an hour). Upload the file again.")
        return _home(page, 404, error=error)
    batch_id: str = item.data["batch_id"]
    # The rows as they were checked (validated again from their JSON: the same values).
    rows = [issuance.IssueRequest.model_validate(r) for r in item.data["rows"]]
    if not node.batches.claim(batch_id):
        return page.redirect(f"/officer/batches/{batch_id}")
    node.batches.update(batch_id, total=len(rows), processed=0)
    threading.Thread(
        target=issuance_api._run_batch, args=(node, principal, batch_id, rows), daemon=True
    ).start()
    return page.redirect(f"/officer/batches/{batch_id}")


def _batch_state(node: Any, batch_id: str) -> dict[str, Any] | None:
    running = node.batches.get(batch_id)
    if running is not None and running.get("state") in ("queued", "running", "failed"):
        return {
            "state": running["state"],
            **{k: running.get(k) for k in ("processed", "total", "errors", "detail")},
        }
    with node.db.session(write=False) as session:
        batch = session.get(IssuanceBatch, batch_id)
        if batch is None:
            return None
        result = issuance.batch_result(session, batch_id)
    return {
        "state": "done",
        "processed": batch.count,
        "total": batch.count,
        "credentials": [c.certificateNumber for c in result.credentials],
    }


@router.get("/officer/batches/{batch_id}")
async def batch_page(request: Request, node: NodeDep, batch_id: str) -> Response:
    page = page_of(request, node, "officer")
    if await _officer_or_none(page) is None:
        return page.redirect(SIGN_IN)
    state = await run_in_threadpool(_batch_state, node, batch_id[:64])
    if state is None:
        return _home(page, 404, error=N_("There is no such batch."))
    total = state.get("total") or 0
    processed = state.get("processed") or 0
    return page.render(
        "officer_batch.html",
        batch_id=batch_id,
        state=state,
        state_label=STATES.get(state["state"], state["state"]),
        processed=processed,
        total=total,
        percent=int(100 * processed / total) if total else 0,
        errors=_readable_errors(state.get("errors") or [], page.locale),
        progress_url=f"/officer/batches/{batch_id}/progress",
    )


@router.get("/officer/batches/{batch_id}/progress")
async def batch_progress(request: Request, node: NodeDep, batch_id: str) -> Response:
    """The progress as JSON, for the page's script (progressive enhancement)."""
    page = page_of(request, node, "officer")
    if await _officer_or_none(page) is None:
        return page.finish(JSONResponse({"state": "signed-out"}, status_code=401))
    state = await run_in_threadpool(_batch_state, node, batch_id[:64])
    if state is None:
        return page.finish(JSONResponse({"state": "unknown"}, status_code=404))
    return page.finish(
        JSONResponse(
            {k: state.get(k) for k in ("state", "processed", "total")}, headers={"Cache-Control": "no-store"}
        )
    )


@router.post("/officer/status")
async def change_status(request: Request, node: NodeDep) -> Response:
    """Revoke, suspend or reinstate a credential (by certificate number) with a reason
    code and a note: the API's status change, audited as the officer's."""
    page = page_of(request, node, "officer")
    principal = await _officer_or_none(page)
    if principal is None:
        return page.redirect(SIGN_IN)
    form = await form_fields(request, 5)
    kept = {
        "number": form.get("number", "").strip()[:32],
        "action": form.get("action", ""),
        "reason": form.get("reason_code", "")[:64],
        "note": form.get("note", "")[:1000],
    }
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return _home(page, 403, error=FORM_EXPIRED, status_form=kept)
    action = kept["action"]
    if action not in ACTIONS or not kept["number"] or not kept["reason"]:
        error = N_("Enter the certificate number, choose what to do and a reason.")
        return _home(page, 422, error=error, status_form=kept)
    reason = kept["reason"].split(":", 1)[-1]  # the select's values are action:reason

    def run() -> str:
        with node.db.session() as session:
            row = session.exec(
                select(Credential).where(Credential.certificate_number == normal_number(kept["number"]))
            ).first()
            if row is None:
                raise NotFoundError("no credential with this number")
            body = issuance_api.StatusChange.model_validate(
                {"reasonCode": reason, "note": kept["note"] or None}
            )
            changed = issuance_api.change_status(
                node,
                session,
                principal,
                row.id,
                cast(Any, action),
                body.reason_code,
                body.note,
            )
            return changed.certificate_number

    try:
        number = await run_in_threadpool(run)
    except (RegistryError, ValueError) as exc:
        if isinstance(exc, NotFoundError):
            error = N_("No credential of this node has this certificate number.")
        elif isinstance(exc, ReasonCodeError):
            error = N_(
                "Choose a reason for this change: revocation, suspension and reinstatement "
                "each have their own reasons."
            )
        elif isinstance(exc, StatusTransitionError):
            error = N_(
                "This change is not possible: a revoked credential stays revoked, and only a suspended "
                "credential can be reinstated or not suspended again."
            )
        elif isinstance(exc, RateLimitedError):
            error = N_("Too many requests. Please wait a minute and try again.")
        else:
            error = N_(
                "The note may not contain control or invisible characters, and has at most 1,000 characters."
            )
        status = exc.status if isinstance(exc, RegistryError) else 422
        return _home(page, status, error=error, status_form=kept)
    notice = {"message": DONE[action], "number": number}
    return _home(page, notice=notice)
