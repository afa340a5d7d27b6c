"""The holder portal (``/holder/…``): sign in (and first sign-up with the activation
code), the holder's credentials with their status and downloads, verification codes
for employers, and who verified or looked up their data.

The session is the API's own access token (a short-lived JWT, the same checks as a
bearer token: account active, issued after the account's last change) in an HttpOnly
cookie; sign-in goes through the API's password check and sign-in guard. Everything
the portal shows or does is the holder API's endpoint functions, called with the
signed-in holder, so the roles and the audit are the API's."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from registry import audit, codes
from registry.accounts import require_no_password_change
from registry.auth import API_KEY_PREFIX, Principal
from registry.credentials import catalogue
from registry.credentials.errors import CredentialRevokedError
from registry.deps import NodeDep, get_principal
from registry.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RegistryError,
)
from registry.routes import accounts as accounts_api
from registry.routes import holder as holder_api
from registry.web.desk import form_fields, sign_in_error
from registry.web.pages import CSRF_FIELD, N_, SESSION_COOKIE, VERDICTS, Page, end_session, page_of

router = APIRouter(include_in_schema=False)

STATUSES = {"active": N_("Active"), "suspended": N_("Suspended"), "revoked": N_("Revoked")}
DOWNLOADS = {
    "vc": N_("VC JSON (signed, as issued)"),
    "vc-jwt": N_("VC-JWT"),
    "sd-jwt": N_("SD-JWT VC (selective disclosure)"),
    "dc+sd-jwt": N_("SD-JWT VC (selective disclosure)"),
    "pdf": N_("PDF certificate"),
}
ACTIONS = {
    "credential.issue": N_("Issued"),
    "credential.verify": N_("Verified"),
    "credential.read": N_("Read by staff"),
    "credential.lookup": N_("Looked up with a verification code"),
    "credential.revoke": N_("Revoked"),
    "credential.suspend": N_("Suspended"),
    "credential.reinstate": N_("Reinstated"),
    "verification-code.create": N_("Verification code made"),
    "verification-code.revoke": N_("Verification code revoked"),
    "holder.activation-code": N_("Activation code made"),
    "account.create": N_("Account opened"),
    "recognition.apply": N_("Applied for recognition in another province"),
    "recognition.decided": N_("Recognition decided by the other province"),
    "recognition.dispute": N_("Disputed a refusal of recognition"),
    "recognition.withdraw": N_("Withdrew an application for recognition"),
    "account.deactivate": N_("Account deactivated"),
    "account.reactivate": N_("Account reactivated"),
    "account.password-change": N_("Password changed"),
    "account.password-reset": N_("Password reset"),
    "credential.search": N_("Found in a search by node staff"),
    "holder.search": N_("Found in a search of holders by node staff"),
}
ACTORS = {
    "hr_client": N_("HR client"),
    "public": N_("Public verification page"),
    "holder": N_("You"),
    "issuing_officer": N_("Issuing officer"),
    "admin": N_("Node administrator"),
    "auditor": N_("Auditor"),
    "peer": N_("Another province's node"),
    "peer_node": N_("Another province's node"),
}
VALID_DAYS = (1, 3, 7, 14, 30)
SINGLE_USE = N_("Single use")
MULTI_USE = N_("Until it expires")
CODE_STATES = {
    "active": N_("Usable"),
    "used": N_("Used"),
    "expired": N_("Expired"),
    "revoked": N_("Revoked"),
}
SIGN_IN = "/holder/sign-in"
FORM_EXPIRED = N_("This form has expired or did not come from this site. Please submit it again.")


def signed_in(page: Page) -> Principal | None:
    """The holder whose session cookie this request carries (None when there is none,
    it expired, or it is not a holder's)."""
    token = page.request.cookies.get(SESSION_COOKIE)
    if not token or token.startswith(API_KEY_PREFIX) or len(token) > 4096:
        return None
    try:
        principal = get_principal(page.node, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
    except RegistryError:
        return None
    return principal if principal.role == "holder" and principal.holder_id else None


def _iso(value: str | None) -> str:
    """An ISO instant as ``2026-11-27 08:00 UTC``."""
    if not value:
        return ""
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return instant.strftime("%Y-%m-%d %H:%M UTC")


def _start_session(page: Page, token: str) -> Response:
    page.renew_csrf()
    page.cookies[SESSION_COOKIE] = (token, None, "strict")
    return page.redirect("/holder")


# --- sign-in, sign-up, sign-out ---


@router.get("/holder/sign-in")
async def sign_in_page(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "holder")
    if await run_in_threadpool(signed_in, page) is not None:
        return page.redirect("/holder")
    return page.render("holder_sign_in.html", error=None, username="")


@router.post("/holder/sign-in")
async def sign_in(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "holder")
    form = await form_fields(request, 3)
    username = form.get("username", "").strip()[:64]
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return page.render("holder_sign_in.html", 403, error=FORM_EXPIRED, username=username)
    try:
        if not username or not form.get("password"):
            raise AuthenticationError("missing")
        account = await accounts_api.checked_password(node, request, username, form["password"][:256])
        if account.role != "holder":
            raise AuthenticationError("not a holder")
        require_no_password_change(account)
    except RegistryError as exc:
        headers = {k: v for k, v in exc.headers.items() if k == "Retry-After"}
        status = 401 if isinstance(exc, AuthenticationError) else exc.status
        return page.render(
            "holder_sign_in.html", status, headers, error=sign_in_error(exc), username=username
        )
    token, _ = node.tokens.issue(account, node.clock())
    return _start_session(page, token)


@router.get("/holder/sign-up")
async def sign_up_page(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "holder")
    return page.render("holder_sign_up.html", error=None, form={})


@router.post("/holder/sign-up")
async def sign_up(request: Request, node: NodeDep) -> Response:
    """Open an account with the activation code from the issuing node (the API's
    registration), then be signed in."""
    page = page_of(request, node, "holder")
    form = await form_fields(request, 8)
    kept = {k: form.get(k, "")[:64] for k in ("id_type", "username")}
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return page.render("holder_sign_up.html", 403, error=FORM_EXPIRED, form=kept)
    if form.get("password", "") != form.get("password_again", ""):
        error = N_("The two passwords differ.")
        return page.render("holder_sign_up.html", 422, error=error, form=kept)
    try:
        body = accounts_api.HolderRegistration.model_validate(
            {
                "idType": form.get("id_type", ""),
                "idNumber": form.get("id_number", "").strip(),
                "activationCode": form.get("activation_code", "").strip(),
                "username": form.get("username", "").strip(),
                "password": form.get("password", ""),
            }
        )
    except ValidationError:
        error = N_(
            "Check the form: a user name of 3 to 64 letters, digits, dots, hyphens or underscores, "
            "and a password of at least 12 characters."
        )
        return page.render("holder_sign_up.html", 422, error=error, form=kept)
    guard = node.sign_in_guard
    address = request.client.host if request.client else "unknown"
    try:
        guard.admit("sign-up", address)

        def register() -> Any:
            with node.db.session() as session:
                return accounts_api.register_holder(body, node, session)

        async with guard.hashing_slot():
            await run_in_threadpool(register)
        account = await accounts_api.checked_password(node, request, body.username, body.password)
    except RegistryError as exc:
        if isinstance(exc, AuthenticationError):
            guard.failed("sign-up", address)
            error = N_("The activation code and identity number do not match an open invitation.")
        elif isinstance(exc, ConflictError):
            error = N_("An account exists already for this holder, or the user name is taken.")
        elif isinstance(exc, RateLimitedError):
            error = N_("Too many attempts. Please wait a while and try again.")
        else:
            error = N_("The account could not be opened. Check the form and try again.")
        return page.render("holder_sign_up.html", exc.status, exc.headers, error=error, form=kept)
    token, _ = node.tokens.issue(account, node.clock())
    return _start_session(page, token)


@router.post("/holder/sign-out")
async def sign_out(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "holder")
    form = await form_fields(request, 1)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return page.render("holder_sign_in.html", 403, error=FORM_EXPIRED, username="")
    page.renew_csrf()
    await end_session(node, request.cookies.get(SESSION_COOKIE))
    page.cookies[SESSION_COOKIE] = ("", 0, "strict")
    return page.redirect(SIGN_IN)


# --- the portal ---


def _credentials(page: Page, holder: Principal, with_codes: bool = False) -> list[dict[str, Any]]:
    node = page.node
    with node.db.session(write=False) as session:
        rows = holder_api.list_own(session, holder)
        names = {t.code: t for t in catalogue.list_types(session, include_inactive=True)}
        made = {r.id: holder_api.list_codes(r.id, node, session, holder) for r in rows} if with_codes else {}
    items = []
    for row in rows:
        kind = names.get(row.typeCode)
        items.append(
            {
                "id": row.id,
                "number": row.certificateNumber,
                "title": {"zh_CN": kind.name_zh, "en": kind.name_en} if kind else None,
                "type_code": row.typeCode,
                "status": row.status,
                "status_label": STATUSES.get(row.status, row.status),
                "issued": _iso(row.issuedAt),
                "downloads": [
                    {"format": f, "label": DOWNLOADS.get(f, f), "url": f"/holder/credentials/{row.id}/{f}"}
                    for f in row.downloads
                ],
                "codes": [
                    {
                        "id": c.id,
                        "created": _iso(c.createdAt),
                        "expires": _iso(c.expiresAt),
                        "use": SINGLE_USE if c.singleUse else MULTI_USE,
                        "state": c.state,
                        "state_label": CODE_STATES[c.state],
                        "last_used": _iso(c.lastUsedAt),
                    }
                    for c in made.get(row.id, [])
                ],
            }
        )
    return items


async def _home(page: Page, holder: Principal, status_code: int = 200, **values: Any) -> Response:
    items = await run_in_threadpool(_credentials, page, holder, True)
    values.setdefault("new_code", None)
    values.setdefault("notice", None)
    values.setdefault("error", None)
    return page.render(
        "holder_home.html",
        status_code,
        credentials=items,
        valid_days=VALID_DAYS,
        max_days=codes.MAX_DAYS,
        **values,
    )


@router.get("/holder")
async def holder_home(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "holder")
    holder = await run_in_threadpool(signed_in, page)
    if holder is None:
        return page.redirect(SIGN_IN)
    return await _home(page, holder)


@router.get("/holder/credentials/{credential_id}/{file_format}")
async def download(request: Request, node: NodeDep, credential_id: str, file_format: str) -> Response:
    """A credential file in one of the formats the holder API offers."""
    page = page_of(request, node, "holder")
    holder = await run_in_threadpool(signed_in, page)
    if holder is None:
        return page.redirect(SIGN_IN)

    def fetch() -> Response:
        with node.db.session(write=False) as session:
            return holder_api.download(credential_id, node, session, holder, cast(Any, file_format))

    try:
        offered = {
            d["format"]
            for c in await run_in_threadpool(_credentials, page, holder)
            if c["id"] == credential_id
            for d in c["downloads"]
        }
        if file_format not in offered:
            raise NotFoundError("no such credential or format")
        response = await run_in_threadpool(fetch)
    except RegistryError as exc:
        if isinstance(exc, CredentialRevokedError):
            error = N_("This credential is revoked: it is available only as issued (VC JSON).")
        else:
            error = N_("There is no such credential or file.")
        return await _home(page, holder, exc.status, error=error)
    return page.finish(response)


@router.post("/holder/credentials/{credential_id}/verification-codes")
async def make_code(request: Request, node: NodeDep, credential_id: str) -> Response:
    """A verification code (shown once) for an employer to look this credential up."""
    page = page_of(request, node, "holder")
    holder = await run_in_threadpool(signed_in, page)
    if holder is None:
        return page.redirect(SIGN_IN)
    form = await form_fields(request, 3)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return await _home(page, holder, 403, error=FORM_EXPIRED)
    try:
        body = holder_api.CodeRequest.model_validate(
            {"validDays": form.get("valid_days", "7"), "singleUse": form.get("use", "multi") == "single"}
        )
    except ValidationError:
        return await _home(page, holder, 422, error=N_("Choose how many days the code is valid."))

    def create() -> holder_api.CodeOut:
        with node.db.session() as session:
            return holder_api.create_code(credential_id[:64], node, session, holder, body)

    try:
        made = await run_in_threadpool(create)
    except RegistryError as exc:
        if isinstance(exc, CredentialRevokedError):
            error = N_("This credential is revoked: it gets no verification code.")
        elif isinstance(exc, ConflictError):
            error = N_("This credential has as many usable codes as it may have: revoke some first.")
        else:
            error = N_("There is no such credential.")
        return await _home(page, holder, exc.status, error=error)
    new_code = {
        "number": made.certificateNumber,
        "code": made.verificationCode,
        "expires": _iso(made.expiresAt),
        "use": SINGLE_USE if made.singleUse else MULTI_USE,
        "link": f"/verify?number={made.certificateNumber}&code={made.verificationCode}",
    }
    return await _home(page, holder, 201, new_code=new_code)


@router.post("/holder/credentials/{credential_id}/verification-codes/{code_id}/revoke")
async def revoke_code(request: Request, node: NodeDep, credential_id: str, code_id: str) -> Response:
    """Revoke one of the credential's codes (the holder API's revocation, audited)."""
    page = page_of(request, node, "holder")
    holder = await run_in_threadpool(signed_in, page)
    if holder is None:
        return page.redirect(SIGN_IN)
    form = await form_fields(request, 1)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return await _home(page, holder, 403, error=FORM_EXPIRED)
    if not code_id.isdigit() or len(code_id) > 18:
        return await _home(page, holder, 404, error=N_("There is no such verification code."))

    def revoke() -> holder_api.CodeRecord:
        with node.db.session() as session:
            return holder_api.revoke_code(credential_id[:64], int(code_id), node, session, holder)

    try:
        await run_in_threadpool(revoke)
    except NotFoundError as exc:
        return await _home(page, holder, exc.status, error=N_("There is no such verification code."))
    return await _home(
        page, holder, notice=N_("The verification code is revoked: look-ups with it now fail.")
    )


def _activity(page: Page, holder: Principal) -> list[dict[str, Any]]:
    numbers = {c["id"]: c["number"] for c in _credentials(page, holder)}
    node = page.node
    node.audit_writer.flush()
    with node.db.session(write=False) as fresh:  # a snapshot that includes the flushed records
        found = audit.events(fresh, holder_id=holder.holder_id, limit=1000)
        events = [audit.public(e) for e in found]
    rows = []
    for event in reversed(events):  # newest first
        detail = event.get("detail") or {}
        verdict = detail.get("verdict") if isinstance(detail, dict) else None
        rows.append(
            {
                "at": _iso(str(event["at"])),
                "action": ACTIONS.get(str(event["action"]), str(event["action"])),
                "actor": ACTORS.get(str(event["actorRole"]), str(event["actorRole"])),
                "actor_id": str(event["actor"]),
                "target": numbers.get(str(event["targetId"]), ""),
                "verdict": VERDICTS.get(verdict) if isinstance(verdict, str) else None,
            }
        )
    return rows


@router.get("/holder/activity")
async def activity(request: Request, node: NodeDep) -> Response:
    """Who verified or looked up the holder's credentials, and everything else recorded
    about their data, newest first."""
    page = page_of(request, node, "holder")
    holder = await run_in_threadpool(signed_in, page)
    if holder is None:
        return page.redirect(SIGN_IN)
    rows = await run_in_threadpool(_activity, page, holder)
    return page.render("holder_activity.html", events=rows)
