"""The HR desk (``/hr/…``): an HR department's clerk verifies one credential file, or
uploads a CSV or ZIP of up to 1,000 credentials, watches the job's progress and
downloads the results as CSV.

Sign-in. An HR client is the principal the registry knows (the admin registered the
department, gave it scopes and a rate, and holders read its name in their audit), and
its API key is the credential the admin handed it. The clerk pastes the key once into
the sign-in form; the node checks it exactly as a bearer key and answers a session
cookie (HttpOnly, SameSite=Strict, Secure outside local development) that holds no
key: the client's id, when the session began, and an HMAC under a key derived from the
node secret over those and the client's current key hash. Every request reads the
client again, so a deactivated client or a rotated key ends every session at once;
a session lasts ``ACCESS_TOKEN_MINUTES``. Failed sign-ins count against the sign-in
guard like passwords.

What the desk does is the API's: the client's scopes (``verify`` for files, ``lookup``
for rows with a certificate number and a code), its rate limit (one per request and
one per credential, a whole batch fitting as in ``/v1/verifications/batch``), and its
name in the audit (``hr_client:<id>``: the holders see it). Results never carry more
personal data than was presented: the holder name of an authentic file (it is in the
file), a looked-up holder's name only in part."""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import csv
import hashlib
import hmac
import io
import logging
import threading
import zipfile
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from registry import certificate, i18n, lookup
from registry.accounts import require_no_password_change
from registry.auth import API_KEY_PREFIX, Principal, derive_key, find_hr_client, take_rate
from registry.certificate import PdfCertificateError
from registry.credentials import batch_csv
from registry.credentials.verification import MAX_CREDENTIAL_BYTES, Trust
from registry.deps import NodeDep, account_principal
from registry.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    RegistryError,
)
from registry.models import Account, HrClient
from registry.node import NodeState
from registry.peers import PeerUnavailableError
from registry.routes import accounts as accounts_api
from registry.routes import verification as api
from registry.verifier import Names, finish_batch, report_json, verify_for
from registry.web.desk import FORM_EXPIRED, form_fields, sign_in_error
from registry.web.jobs import Store, desk_state
from registry.web.pages import CSRF_FIELD, N_, VERDICTS, Page, client_address, end_session, page_of
from registry.web.verify import PDF_FORMAT, PDF_NOT_READ, _mask_name, outcome, read_pdf

router = APIRouter(include_in_schema=False)
log = logging.getLogger("registry.web.hr")

HR_COOKIE = "yrd_hr"
SIGN_IN = "/hr/sign-in"
HOME = "/hr"
MAX_ITEMS = api.MAX_BATCH
#: The largest CSV or ZIP upload (the body limit of ``/hr/jobs``).
MAX_UPLOAD_BYTES = 8 << 20
#: A ZIP's entries together, uncompressed, at most (a thousand title credentials take
#: under 2 MB; anything far larger is refused before a byte of it is inflated).
MAX_ZIP_TOTAL = 32 << 20
#: Credentials examined together (the job's progress moves by this many).
CHUNK = 50
ROW = N_("Row %(line)s")
NOT_FOUND = N_("No credential has this certificate number with a current verification code.")
NOTHING = N_("Nothing to verify in this row.")
PEER_DOWN = N_("Issued in another province, whose node could not be reached: not looked up.")
ZIP_REFUSED = N_(
    "The ZIP archive is refused: each credential file is at most 256 KiB, and all of them together 32 MiB."
)
TOO_LARGE = N_("Larger than 256 KiB: not read.")
RESULT_HEADERS = [
    "文件或行 / File or row",
    "结论 / Verdict",
    "职称或资格 / Title or qualification",
    "持有人（如所出示）/ Holder name as presented",
    "证书编号 / Certificate number",
    "本省认可 / Recognition here",
    "原因 / Reasons",
]
STATES = {
    "queued": N_("Waiting to start"),
    "running": N_("Verifying"),
    "done": N_("Done"),
    "failed": N_("Failed"),
}


class UploadError(InvalidInputError):
    """An upload the desk refuses, with the message the clerk reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- the session ---


def _session_key(node: NodeState) -> bytes:
    return derive_key(node.settings.secret_key, "hr-desk-session")


def _signature(node: NodeState, client_id: str, began: int, key_hash: str) -> str:
    message = f"{client_id}\x00{began}\x00{key_hash}".encode()
    digest = hmac.new(_session_key(node), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def session_value(node: NodeState, client: HrClient, began: int) -> str:
    return f"{client.id}.{began}.{_signature(node, client.id, began, client.key_hash)}"


@dataclass(frozen=True)
class HrSession:
    principal: Principal
    rate: int
    name: str


#: The start of a clerk's session cookie (then the clerk's access token).
CLERK_SESSION = "clerk:"


def _clerk_session(page: Page, token: str) -> HrSession | None:
    """The HR client of a clerk's session: the clerk's access token, valid (not expired,
    not signed out, the account active and unchanged since) and its client active."""
    node = page.node
    try:
        claims = node.tokens.read(token, node.clock())
        account_principal(node, claims)
    except RegistryError:
        return None
    with node.db.session(write=False) as session:
        account = session.get(Account, claims["sub"])
        client = session.get(HrClient, account.hr_client_id) if account and account.hr_client_id else None
    if account is None or account.role != "hr_clerk" or client is None or not client.active:
        return None
    principal = Principal(
        "hr_client", client.id, "hr_client", scopes=frozenset(client.scopes.split()), clerk=account.username
    )
    return HrSession(principal, client.rate_per_minute, f"{client.name} · {account.username}")


def signed_in(page: Page) -> HrSession | None:
    """The HR client whose desk session this request carries (None when there is
    none, it expired, the client was deactivated or its key rotated since, or the
    clerk's account was deactivated, changed or signed out)."""
    value = page.request.cookies.get(HR_COOKIE, "")
    if value.startswith(CLERK_SESSION):
        return _clerk_session(page, value[len(CLERK_SESSION) :])
    parts = value.split(".")
    if len(parts) != 3 or len(value) > 200 or not parts[1].isdigit():
        return None
    client_id, began_text, signature = parts
    began = int(began_text)
    now = page.node.clock().timestamp()
    lifetime = page.node.settings.access_token_minutes * 60
    if not began - 60 <= now < began + lifetime:
        return None
    with page.node.db.session(write=False) as session:
        client = session.get(HrClient, client_id)
    if client is None or not client.active:
        return None
    expected = _signature(page.node, client.id, began, client.key_hash)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    principal = Principal("hr_client", client.id, "hr_client", scopes=frozenset(client.scopes.split()))
    return HrSession(principal, client.rate_per_minute, client.name)


async def _session(page: Page) -> HrSession | None:
    return await run_in_threadpool(signed_in, page)


@router.get("/hr/sign-in")
async def sign_in_page(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "hr")
    if await _session(page) is not None:
        return page.redirect(HOME)
    return page.render("hr_sign_in.html", error=None)


@router.post("/hr/sign-in/clerk")
async def clerk_sign_in(request: Request, node: NodeDep) -> Response:
    """A clerk's own name and password (an ``hr_clerk`` account of an active HR client),
    checked as the API's sign-in checks them, for a desk session."""
    page = page_of(request, node, "hr")
    form = await form_fields(request, 3)
    username = form.get("username", "").strip()[:64]
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return page.render("hr_sign_in.html", 403, error=FORM_EXPIRED, username=username)
    try:
        if not username or not form.get("password"):
            raise AuthenticationError("missing")
        account = await accounts_api.checked_password(node, request, username, form["password"][:256])
        if account.role != "hr_clerk":
            raise AuthenticationError("not an HR clerk")
        require_no_password_change(account)
    except RegistryError as exc:
        headers = {k: v for k, v in exc.headers.items() if k == "Retry-After"}
        status = 401 if isinstance(exc, AuthenticationError) else exc.status
        return page.render("hr_sign_in.html", status, headers, error=sign_in_error(exc), username=username)
    if not await _clerk_client_active(node, account):
        return page.render("hr_sign_in.html", 401, error=CLIENT_STOPPED, username=username)
    token, _ = node.tokens.issue(account, node.clock())
    page.renew_csrf()
    page.cookies[HR_COOKIE] = (CLERK_SESSION + token, None, "strict")
    return page.redirect(HOME)


CLIENT_STOPPED = N_("Your department's access to this node is stopped. Ask the node's administrator.")


async def _clerk_client_active(node: NodeState, account: Account) -> bool:
    def read() -> bool:
        with node.db.session(write=False) as session:
            client = session.get(HrClient, account.hr_client_id) if account.hr_client_id else None
            return client is not None and client.active

    return await run_in_threadpool(read)


@router.post("/hr/sign-in")
async def sign_in(request: Request, node: NodeDep) -> Response:
    """The HR client's API key, checked as the API checks it, for a desk session."""
    page = page_of(request, node, "hr")
    form = await form_fields(request, 2)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return page.render("hr_sign_in.html", 403, error=FORM_EXPIRED)
    key = form.get("api_key", "").strip()[:256]
    guard, address = node.sign_in_guard, client_address(request)
    try:
        guard.admit("hr-desk", address)

        def find() -> HrClient:
            if not key.startswith(API_KEY_PREFIX):
                raise NotFoundError("not a key")
            with node.db.session(write=False) as session:
                return find_hr_client(session, key)

        client = await run_in_threadpool(find)
    except RateLimitedError as exc:
        error = N_("Too many sign-in attempts. Please wait a while and try again.")
        return page.render("hr_sign_in.html", 429, exc.headers, error=error)
    except RegistryError:
        guard.failed("hr-desk", address)
        error = N_("This API key is not valid, or its HR client is deactivated.")
        return page.render("hr_sign_in.html", 401, error=error)
    guard.succeeded("hr-desk", address)
    page.renew_csrf()
    began = int(node.clock().timestamp())
    page.cookies[HR_COOKIE] = (session_value(node, client, began), None, "strict")
    return page.redirect(HOME)


@router.post("/hr/sign-out")
async def sign_out(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "hr")
    form = await form_fields(request, 1)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return page.render("hr_sign_in.html", 403, error=FORM_EXPIRED)
    page.renew_csrf()
    value = request.cookies.get(HR_COOKIE, "")
    if value.startswith(CLERK_SESSION):
        await end_session(node, value[len(CLERK_SESSION) :])
    page.cookies[HR_COOKIE] = ("", 0, "strict")
    return page.redirect(SIGN_IN)


# --- the desk ---


def _jobs(node: NodeState) -> Store:
    return desk_state(node).jobs


async def _home_values(page: Page, hr: HrSession, error: str | None = None, **values: Any) -> dict[str, Any]:
    recent = await run_in_threadpool(_jobs(page.node).owned, hr.principal.actor)
    return {
        "client_name": hr.name,
        "scopes": sorted(hr.principal.scopes),
        "max_items": MAX_ITEMS,
        "jobs": [
            {
                "id": j.id,
                "name": j.data.get("name", ""),
                "state": STATES.get(j.data["state"], ""),
                "total": j.data["total"],
            }
            for j in recent
        ],
        "error": error,
        "result": None,
        **values,
    }


async def _home(page: Page, hr: HrSession, status_code: int = 200, **values: Any) -> Response:
    return page.render("hr_home.html", status_code, **await _home_values(page, hr, **values))


@router.get("/hr")
async def home(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "hr")
    hr = await _session(page)
    if hr is None:
        return page.redirect(SIGN_IN)
    return await _home(page, hr)


async def _charge(node: NodeState, hr: HrSession, count: int) -> None:
    """What the API charges: one for the request, and a batch's other credentials on
    top (a whole batch of up to 1,000 fits an idle client's bucket)."""
    await take_rate(node.limiter, hr.principal.id, hr.rate)
    if count > 1:
        await take_rate(node.limiter, hr.principal.id, hr.rate, cost=count - 1, burst=MAX_ITEMS)


def _refusal(exc: RegistryError) -> tuple[str, dict[str, str]]:
    if isinstance(exc, RateLimitedError):
        return N_("Your HR client's rate limit is reached. Please wait and try again."), dict(exc.headers)
    return N_("The request could not be handled. Please try again."), {}


@router.post("/hr/verify")
async def verify_file(request: Request, node: NodeDep) -> Response:
    """One credential file (or pasted credential), as ``POST /v1/verifications``."""
    page = page_of(request, node, "hr")
    hr = await _session(page)
    if hr is None:
        return page.redirect(SIGN_IN)
    async with request.form(max_files=1, max_fields=3, max_part_size=MAX_CREDENTIAL_BYTES) as data:
        token = data.get(CSRF_FIELD)
        upload = data.get("file")
        pasted = data.get("credential")
        presented: str | bytes = ""
        if isinstance(upload, UploadFile) and upload.filename:
            presented = await upload.read(MAX_CREDENTIAL_BYTES + 1)
        if not presented and isinstance(pasted, str):
            presented = pasted.strip()
    if not page.csrf_ok(token):
        return await _home(page, hr, 403, error=FORM_EXPIRED)
    if "verify" not in hr.principal.scopes:
        return await _home(
            page, hr, 403, error=N_("Your HR client may not verify files (it lacks the scope verify).")
        )
    if not presented:
        message = N_("Choose a credential file, or paste a credential (VC-JWT, SD-JWT VC or VC JSON).")
        return await _home(page, hr, 422, error=message)
    if len(presented) > MAX_CREDENTIAL_BYTES:
        return await _home(page, hr, 413, error=N_("A credential file is at most 256 KiB."))
    try:
        await _charge(node, hr, 1)  # before a PDF is parsed: it counts as a verification
        carried = await read_pdf(presented)
    except PdfCertificateError:
        return await _home(page, hr, 422, error=PDF_NOT_READ)
    except RegistryError as exc:
        message, headers = _refusal(exc)
        return page.render("hr_home.html", exc.status, headers, **await _home_values(page, hr, message))
    try:
        await api.prepare_peers(node, [carried])
    except RegistryError as exc:
        message, headers = _refusal(exc)
        return page.render("hr_home.html", exc.status, headers, **await _home_values(page, hr, message))
    trust, now = api.trust_of(node), node.clock()

    def run() -> dict[str, Any]:
        answer = verify_for(node, carried, trust, hr.principal, now, page.locale)
        return outcome(node, answer, mask_holder=False)

    result = await run_in_threadpool(run)
    if carried is not presented:
        result["format"] = PDF_FORMAT
    return await _home(page, hr, result=result)


# --- uploads: CSV or ZIP of up to 1,000 credentials ---


@dataclass(frozen=True)
class Item:
    """One thing to verify: a credential (file bytes) or a look-up (number, code), or
    a row with nothing usable (``problem``)."""

    label: str
    presented: bytes | None = None
    number: str = ""
    code: str = ""
    problem: str = ""


_CREDENTIAL_HEADERS = {"credential", "vc", "vcjwt", "vcjson", "file", "凭证", "证书文件", "电子证书"}
_NUMBER_HEADERS = {"certificatenumber", "number", "证书编号", "编号"}
_CODE_HEADERS = {"verificationcode", "code", "核验码", "验证码"}


def _header_kind(cell: str) -> str | None:
    for part in cell.replace("\ufeff", "").split("/"):
        key = "".join(ch for ch in part.lower() if ch.isalnum())
        if key in _CREDENTIAL_HEADERS:
            return "credential"
        if key in _NUMBER_HEADERS:
            return "number"
        if key in _CODE_HEADERS:
            return "code"
    return None


def _cell(record: list[str], columns: dict[str, int], kind: str) -> str:
    index = columns.get(kind)
    return record[index].strip() if index is not None and index < len(record) else ""


def read_csv(raw: bytes, locale: i18n.Locale) -> list[Item]:
    """A CSV with a header row naming a credential column (VC JSON, VC-JWT or SD-JWT VC) and/or
    the columns certificate number and verification code; one credential a row."""
    try:
        text = batch_csv.decode(raw, None).removeprefix("\ufeff")
    except RegistryError:
        raise UploadError(N_("The CSV file is neither UTF-8 nor GB18030.")) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    items: list[Item] = []
    columns: dict[str, int] | None = None
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if columns is None:
                columns = {}
                for index, cell in enumerate(record):
                    kind = _header_kind(cell)
                    if kind is not None and kind not in columns:
                        columns[kind] = index
                if "credential" not in columns and not {"number", "code"} <= columns.keys():
                    raise UploadError(
                        N_(
                            "The CSV file needs a header row with a column credential (VC JSON, VC-JWT "
                            "or SD-JWT VC), or the columns certificate number and verification code."
                        )
                    )
                continue
            if len(items) >= MAX_ITEMS:
                raise UploadError(N_("At most 1,000 credentials at once."))

            label = i18n.gettext(locale, "web", ROW, line=reader.line_num)
            credential, number, code = (_cell(record, columns, k) for k in ("credential", "number", "code"))
            if credential:
                data = credential.encode("utf-8")
                if len(data) > MAX_CREDENTIAL_BYTES:
                    items.append(Item(label, problem=TOO_LARGE))
                else:
                    items.append(Item(label, presented=data))
            elif number and code:
                items.append(Item(label, number=number[:32], code=code[:32]))
            else:
                items.append(Item(label, problem=NOTHING))
    except csv.Error:
        raise UploadError(N_("The CSV file cannot be read.")) from None
    return items


def _entry_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not info.flag_bits & 0x800:  # not marked UTF-8: a Chinese Windows names entries in GBK
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("gb18030")
    return name


def read_zip(raw: bytes) -> list[Item]:
    """The credential files of a ZIP, refused whole when it could be a bomb: more than
    1,000 entries, an entry larger than a credential may be, or more than 32 MiB in
    all, each as the archive declares it, checked before anything is inflated; and
    every entry is read only up to the credential limit, whatever it declared."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError):
        raise UploadError(N_("The file is not a ZIP archive.")) from None
    infos = [
        i
        for i in archive.infolist()
        if not i.is_dir() and not any(p.startswith(".") or p == "__MACOSX" for p in i.filename.split("/"))
    ]
    if len(infos) > MAX_ITEMS:
        raise UploadError(N_("At most 1,000 credentials at once."))
    if not infos:
        raise UploadError(N_("The ZIP archive holds no files."))
    declared = sum(i.file_size for i in infos)
    if declared > MAX_ZIP_TOTAL or any(i.file_size > MAX_CREDENTIAL_BYTES for i in infos):
        raise UploadError(ZIP_REFUSED)
    items: list[Item] = []
    for info in infos:
        name = _entry_name(info)[:200]
        if info.flag_bits & 0x1:
            items.append(Item(name, problem=N_("Encrypted: not read.")))
            continue
        try:
            with archive.open(info) as entry:
                data = entry.read(MAX_CREDENTIAL_BYTES + 1)
        except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError):
            items.append(Item(name, problem=N_("Damaged: not read.")))
            continue
        if len(data) > MAX_CREDENTIAL_BYTES:  # it declared less than it holds
            raise UploadError(ZIP_REFUSED)
        if certificate.is_pdf(data):  # a PDF certificate: the credential file it carries
            try:
                data = certificate.embedded_credential(data)
            except PdfCertificateError:
                items.append(Item(name, problem=PDF_NOT_READ))
                continue
        items.append(Item(name, presented=data))
    return items


def _reasons(answer: dict[str, Any]) -> str:
    """Each check that did not pass, in its own words (each said once)."""
    said = [str(c.get("message") or c["reason"]) for c in answer["checks"] if c["result"] != "pass"]
    return " ".join(dict.fromkeys(said))


def _result(label: str, answer: dict[str, Any], locale: i18n.Locale, *, looked_up: bool) -> dict[str, Any]:
    summary = answer.get("summary") or {}
    credential = answer.get("credential") or {}
    holder = summary.get("holderName") or "" if credential else ""
    return {
        "label": label,
        "verdict": answer["verdict"],
        "verdict_label": i18n.gettext(locale, "web", VERDICTS[answer["verdict"]]),
        "title": summary.get("title") or "",
        "holder": _mask_name(holder) if looked_up else holder,
        "number": (summary.get("certificateNumber") or credential.get("certificateNumber") or "")
        if credential
        else "",
        "recognition": (answer.get("recognition") or {}).get("message") or "",
        "reasons": _reasons(answer),
    }


def _problem_result(label: str, message: str, locale: i18n.Locale) -> dict[str, Any]:
    return {
        "label": label,
        "verdict": "unknown" if message != NOT_FOUND else "invalid",
        "verdict_label": i18n.gettext(
            locale, "web", VERDICTS["unknown" if message != NOT_FOUND else "invalid"]
        ),
        "title": "",
        "holder": "",
        "number": "",
        "recognition": "",
        "reasons": i18n.gettext(locale, "web", message),
    }


def run_job(
    node: NodeState,
    job_id: str,
    principal: Principal,
    items: list[Item],
    locale: i18n.Locale,
    trust: Trust,
    now: datetime,
    loop: asyncio.AbstractEventLoop | None = None,
) -> None:
    """The job's credentials in chunks: files through the verifier (audited as the
    client's verifications), look-ups through the look-up service (each its own
    transaction: a single-use code is consumed only by a look-up that commits)."""
    store = _jobs(node)
    names = Names.of_node(node, trust, now)
    results: list[dict[str, Any]] = []
    store.update(job_id, state="running", processed=0)
    try:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            files = [it for it in chunk if it.presented is not None]
            presented = [f.presented for f in files if f.presented is not None]
            exams = asyncio.run(node.verifier.examine_batch(presented, trust, now)) if presented else []
            with node.db.session(write=False) as session:
                reports, rows = finish_batch(
                    session,
                    exams,
                    node.base_url,
                    node.did,
                    principal,
                    now,
                    node.status_cache,
                    node.holder_of,
                    node.directory,
                )
            node.audit_writer.submit(rows)
            by_item = dict(zip([id(f) for f in files], reports, strict=True))
            for it in chunk:
                if it.problem:
                    results.append(_problem_result(it.label, it.problem, locale))
                elif it.presented is not None:
                    answer = report_json(by_item[id(it)], locale, names)
                    results.append(_result(it.label, answer, locale, looked_up=False))
                else:
                    results.append(_look_up(node, it, principal, locale, trust, names, loop))
            store.update(job_id, processed=len(results))
        counts = {v: sum(1 for r in results if r["verdict"] == v) for v in VERDICTS}
        store.update(job_id, state="done", results=results, counts=counts)
    except Exception:  # the request has long returned: record, don't raise into the thread
        log.exception("HR desk job %s failed", job_id)
        store.update(job_id, state="failed")


def _look_up(
    node: NodeState,
    item: Item,
    principal: Principal,
    locale: i18n.Locale,
    trust: Trust,
    names: Names,
    loop: asyncio.AbstractEventLoop | None = None,
) -> dict[str, Any]:
    """One look-up of a job: here, or (another province's number, ``loop`` given: the
    server's event loop, where the peer client lives) at that province's node."""
    try:
        if loop is not None and lookup.province_of(item.number) not in (None, node.settings.province):
            name = api.hr_client_name(node, principal)
            coro = lookup.look_up(node, item.number, item.code, principal, partial(api.trust_of, node), name)
            found: Any = asyncio.run_coroutine_threadsafe(coro, loop).result()
        else:
            session: Session
            with node.db.session() as session:
                found = lookup.look_up_credential(
                    session, node, item.number, item.code, principal, node.clock(), trust
                )
    except NotFoundError:
        return _problem_result(item.label, NOT_FOUND, locale)
    except PeerUnavailableError:
        return _problem_result(item.label, PEER_DOWN, locale)
    answer = report_json(found.report, locale, names)
    return _result(item.label, answer, locale, looked_up=True)


@router.post("/hr/jobs")
async def upload(request: Request, node: NodeDep) -> Response:
    """A CSV or ZIP of up to 1,000 credentials, verified in the background."""
    page = page_of(request, node, "hr")
    hr = await _session(page)
    if hr is None:
        return page.redirect(SIGN_IN)
    async with request.form(max_files=1, max_fields=2) as data:
        token = data.get(CSRF_FIELD)
        upload_file = data.get("file")
        raw, name = b"", ""
        if isinstance(upload_file, UploadFile) and upload_file.filename:
            name = upload_file.filename[:200]
            raw = await upload_file.read(MAX_UPLOAD_BYTES + 1)
    if not page.csrf_ok(token):
        return await _home(page, hr, 403, error=FORM_EXPIRED)
    if not raw:
        return await _home(page, hr, 422, error=N_("Choose a CSV or ZIP file."))
    if len(raw) > MAX_UPLOAD_BYTES:
        return await _home(page, hr, 413, error=N_("The file is too large: at most 8 MiB."))
    try:
        is_zip = raw.startswith(b"PK\x03\x04") or raw.startswith(b"PK\x05\x06")
        items = await run_in_threadpool(read_zip if is_zip else lambda r: read_csv(r, page.locale), raw)
        if not items:
            raise UploadError(N_("The file holds nothing to verify."))
    except UploadError as exc:
        return await _home(page, hr, 422, error=exc.message)
    needs = {"verify" for it in items if it.presented is not None} | {"lookup" for it in items if it.number}
    if not needs <= hr.principal.scopes:
        error = N_(
            "Your HR client may not do all of this: files need the scope verify, and rows with a "
            "certificate number and a code need the scope lookup."
        )
        return await _home(page, hr, 403, error=error)
    try:
        await _charge(node, hr, len(items))
        await api.prepare_peers(node, [it.presented for it in items if it.presented is not None])
    except RegistryError as exc:
        message, headers = _refusal(exc)
        return page.render("hr_home.html", exc.status, headers, **await _home_values(page, hr, message))
    trust, now = api.trust_of(node), node.clock()
    job = await run_in_threadpool(
        partial(_jobs(node).add, hr.principal.actor, state="queued", processed=0, total=len(items), name=name)
    )
    threading.Thread(
        target=run_job,
        args=(node, job.id, hr.principal, items, page.locale, trust, now, asyncio.get_running_loop()),
        daemon=True,
    ).start()
    return page.redirect(f"/hr/jobs/{job.id}")


@router.get("/hr/jobs/{job_id}")
async def job_page(request: Request, node: NodeDep, job_id: str) -> Response:
    page = page_of(request, node, "hr")
    hr = await _session(page)
    if hr is None:
        return page.redirect(SIGN_IN)
    job = await run_in_threadpool(_jobs(node).snapshot, job_id[:32], hr.principal.actor)
    if job is None:
        return await _home(page, hr, 404, error=N_("There is no such job (results are kept for a day)."))
    total, processed = job["total"], job["processed"]
    return page.render(
        "hr_job.html",
        job_id=job_id,
        job=job,
        state_label=STATES[job["state"]],
        processed=processed,
        total=total,
        percent=int(100 * processed / total) if total else 0,
        progress_url=f"/hr/jobs/{job_id}/progress",
    )


@router.get("/hr/jobs/{job_id}/progress")
async def job_progress(request: Request, node: NodeDep, job_id: str) -> Response:
    page = page_of(request, node, "hr")
    hr = await _session(page)
    if hr is None:
        return page.finish(JSONResponse({"state": "signed-out"}, status_code=401))
    job = await run_in_threadpool(_jobs(node).snapshot, job_id[:32], hr.principal.actor)
    if job is None:
        return page.finish(JSONResponse({"state": "unknown"}, status_code=404))
    return page.finish(JSONResponse({k: job[k] for k in ("state", "processed", "total")}))


def results_csv(results: list[dict[str, Any]]) -> bytes:
    """The results as CSV: UTF-8 with a byte order mark (Excel shows the Chinese), one
    header row with each cell in Chinese and English."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RESULT_HEADERS)
    for r in results:
        cells = [
            r["label"],
            r["verdict_label"],
            r["title"],
            r["holder"],
            r["number"],
            r.get("recognition", ""),  # absent from results kept from before recognition
            r["reasons"],
        ]
        # A cell that opens with = + - @ would be a formula in a spreadsheet: quoted as text.
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@", "\t", "\r") else c for c in cells])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


@router.get("/hr/jobs/{job_id}/results.csv")
async def job_results(request: Request, node: NodeDep, job_id: str) -> Response:
    page = page_of(request, node, "hr")
    hr = await _session(page)
    if hr is None:
        return page.redirect(SIGN_IN)
    job = await run_in_threadpool(_jobs(node).snapshot, job_id[:32], hr.principal.actor)
    if job is None or job["state"] != "done":
        return await _home(page, hr, 404, error=N_("There is no such job (results are kept for a day)."))
    stem = (job.get("name") or "credentials").rsplit(".", 1)[0]
    ascii_name = "verification-results.csv"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(stem + '-核验结果.csv')}"
    response = Response(
        results_csv(job["results"]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )
    return page.finish(response)
