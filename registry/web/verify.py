"""The public verification page (``/verify``): a credential file (VC JSON, VC-JWT, …)
uploaded or pasted, or a certificate number with the holder's verification code (typed,
or carried by the link of a certificate's QR code: ``/verify?number=…&code=…``).

The page asks the same verification core as ``POST /v1/verifications`` and the same
look-up as ``POST /v1/verifications/lookup``; it is open to anyone, so each client
address may post a limited number of times a minute, and every verification or look-up
of this node's credentials is audited (the holder sees it) under the page's own actor.

What it shows never goes beyond what the presenter supplied: a file's own contents
(the holder name and number in it) once the file is shown authentic, and for a look-up
by number and code the holder's name masked."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from registry import certificate
from registry.auth import Principal, take_rate
from registry.certificate import PdfCertificateError
from registry.credentials import catalogue
from registry.credentials.verification import MAX_CREDENTIAL_BYTES
from registry.deps import NodeDep
from registry.errors import NotFoundError, RateLimitedError, RegistryError
from registry.lookup import look_up
from registry.node import NodeState
from registry.peers import PeerUnavailableError
from registry.routes import verification as api
from registry.verifier import Names, report_json, verify_for
from registry.web.pages import N_, PAGE_RATE_PER_MINUTE, PROVINCES, VERDICTS, Page, client_address, page_of

router = APIRouter(include_in_schema=False)

#: Who verifies through the page, in the audit log the holder reads.
PAGE_PRINCIPAL = Principal("web", "verification-page", "public")

VERDICT_HINTS = {
    "valid": N_("Every check passed: the credential is authentic, in force and not revoked or suspended."),
    "invalid": N_("At least one check failed: do not rely on this credential."),
    "unknown": N_(
        "At least one check could not be made: the credential can be neither accepted nor refused yet."
    ),
}
CHECKS = {
    "proof": N_("Signature"),
    "issuer": N_("Issuer"),
    "key": N_("Signing key"),
    "authorisation": N_("Evaluation authority"),
    "validity": N_("Validity period"),
    "schema": N_("Format"),
    "status": N_("Status"),
    "presentation": N_("Presentation"),
    "holderBinding": N_("Holder binding"),
}
RESULTS = {"pass": N_("Passed"), "fail": N_("Failed"), "unknown": N_("Not confirmed")}
FORMATS = {
    "vc": N_("VC JSON"),
    "vc-jwt": N_("VC-JWT"),
    "dc+sd-jwt": N_("SD-JWT VC"),
    "sd-jwt": N_("SD-JWT VC"),
    "unknown": N_("Unreadable"),
}
PDF_FORMAT = N_("PDF certificate (the VC JSON inside it verified)")


def _mask_name(name: str) -> str:
    """The first character of a name, the rest hidden (张** / W*****)."""
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def _catalogue_title(node: NodeState, code: object) -> dict[str, str] | None:
    """The catalogue's names of a credential type (zh_CN and en)."""
    if not isinstance(code, str):
        return None
    with node.db.session(write=False) as session:
        try:
            row = catalogue.get_type(session, code)
        except NotFoundError:
            return {"zh_CN": code, "en": code}
    return {"zh_CN": row.name_zh, "en": row.name_en}


def outcome(node: NodeState, report: dict[str, Any], *, mask_holder: bool) -> dict[str, Any]:
    """What the result template shows of a verification report: the verdict, each
    check with its reason (the localised ``message`` when the report has one), and the
    credential's details when it is authentic."""
    checks = [
        {
            "name": c["check"],
            "label": CHECKS.get(c["check"], c["check"]),
            "result": c["result"],
            "result_label": RESULTS.get(c["result"], c["result"]),
            "text": c.get("message") or c["reason"],
        }
        for c in report["checks"]
    ]
    status = next((c for c in checks if c["name"] == "status"), None)
    credential = report.get("credential")
    summary = report.get("summary") or {}
    details: dict[str, Any] | None = None
    if credential:
        number = credential.get("certificateNumber") or ""
        holder = summary.get("holderName") or credential.get("holderName") or ""
        province = number.split("-", 1)[0] if isinstance(number, str) else ""
        state = summary.get("status")
        details = {
            "title": summary.get("title") or _catalogue_title(node, credential.get("credentialType")),
            "series_level": " · ".join(x for x in (summary.get("series"), summary.get("level")) if x),
            "specialty": summary.get("specialty"),
            "issued_by": summary.get("issuedBy"),
            "province": PROVINCES.get(province),
            "holder": _mask_name(holder) if mask_holder else holder,
            "number": number,
            "awarded_on": summary.get("awardedOn"),
            "status": ": ".join(x for x in (state, summary.get("statusReason")) if x) if state else None,
            "valid_from": credential.get("validFrom"),
            "valid_until": credential.get("validUntil"),
            "issuer": credential.get("issuer"),
        }
    claimed = report.get("unverifiedClaims")
    return {
        "verdict": report["verdict"],
        "verdict_label": VERDICTS[report["verdict"]],
        "verdict_hint": VERDICT_HINTS[report["verdict"]],
        "format": FORMATS.get(report.get("format", ""), report.get("format", "")),
        "checks": checks,
        "status": status,
        "details": details,
        "claimed": {"issuer": claimed.get("issuer"), "type": claimed.get("credentialType")}
        if claimed
        else None,
        "recognition": report.get("recognition"),
        "looked_up": mask_holder,
    }


async def _admit(page: Page) -> None:
    """A page post counts against its client address (30 a minute)."""
    await take_rate(page.node.limiter, "page:" + client_address(page.request), PAGE_RATE_PER_MINUTE)


def _problem(page: Page, exc: RegistryError, form: dict[str, str]) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitedError):
        message = N_("Too many verifications from your address. Please wait a minute and try again.")
        headers.update(exc.headers)
    elif isinstance(exc, NotFoundError):
        message = N_(
            "No credential has this certificate number with a current verification code. "
            "Check both with the holder: codes expire."
        )
    elif isinstance(exc, PeerUnavailableError):
        message = N_(
            "The certificate was issued in another province, whose node cannot be reached just now. "
            "Please try again later."
        )
    else:
        message = N_("The request could not be handled. Please try again.")
    return page.render("verify.html", exc.status, headers=headers, error=message, form=form, result=None)


async def _verify(page: Page, presented: str | bytes) -> dict[str, Any]:
    node = page.node
    await api.prepare_peers(node, [presented])
    trust, now = api.trust_of(node), node.clock()

    def run() -> dict[str, Any]:
        answer = verify_for(node, presented, trust, PAGE_PRINCIPAL, now, page.locale)
        return outcome(node, answer, mask_holder=False)

    return await run_in_threadpool(run)


async def _look_up(page: Page, number: str, code: str) -> dict[str, Any]:
    """The look-up of ``POST /v1/verifications/lookup`` (:mod:`registry.lookup`): the
    credential with this number and a usable code of its holder's (a single-use code
    consumed), verified and audited as a look-up of personal data (the holder sees it)."""
    node = page.node
    body = api.LookupRequest.model_validate({"certificateNumber": number, "verificationCode": code})
    # Another province's number is looked up at that province's node (registry.lookup).
    trust_of = partial(api.trust_of, node)
    found = await look_up(node, body.certificate_number, body.verification_code, PAGE_PRINCIPAL, trust_of)
    answer = report_json(found.report, page.locale, Names.of_node(node, trust_of(), node.clock()))
    return await run_in_threadpool(partial(outcome, node, answer, mask_holder=True))


@router.get("/verify")
async def verify_page(request: Request, node: NodeDep, number: str = "", code: str = "") -> Response:
    """The form; with ``number`` and ``code`` (a certificate's QR link) the look-up's result."""
    page = page_of(request, node, "verify")
    form = {"number": number, "code": code}
    if not (number and code):
        return page.render("verify.html", form=form, result=None, error=None)
    return await _lookup_answer(page, form)


async def _lookup_answer(page: Page, form: dict[str, str]) -> Response:
    try:
        await _admit(page)
        result = await _look_up(page, form["number"], form["code"])
    except ValidationError:
        message = N_("Enter the certificate number and the verification code as the holder gave them.")
        return page.render("verify.html", 422, form=form, result=None, error=message)
    except RegistryError as exc:
        return _problem(page, exc, form)
    return page.render("verify.html", form=form, result=result, error=None)


@router.post("/verify/lookup")
async def verify_lookup(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "verify")
    async with request.form(max_files=0, max_fields=4) as data:
        fields = {k: v for k, v in data.items() if isinstance(v, str)}
    form = {"number": fields.get("number", "").strip(), "code": fields.get("code", "").strip()}
    if not page.csrf_ok(fields.get("csrf_token")):
        return page.render("verify.html", 403, form=form, result=None, error=FORM_EXPIRED)
    if not (form["number"] and form["code"]):
        message = N_("Enter both the certificate number and the verification code.")
        return page.render("verify.html", 422, form=form, result=None, error=message)
    return await _lookup_answer(page, form)


FORM_EXPIRED = N_("This form has expired or did not come from this site. Please submit it again.")
PDF_NOT_READ = N_(
    "This PDF carries no signed credential file that can be read: it is not a certificate "
    "issued by a registry node, or it was altered. Scan the certificate's QR code, or ask "
    "the holder for the credential file (VC JSON or VC-JWT)."
)


@router.post("/verify")
async def verify_upload(request: Request, node: NodeDep) -> Response:
    """A credential file uploaded (field ``file``) or pasted (field ``credential``)."""
    page = page_of(request, node, "verify")
    empty = {"number": "", "code": ""}
    async with request.form(max_files=1, max_fields=3, max_part_size=MAX_CREDENTIAL_BYTES) as data:
        token = data.get("csrf_token")
        upload = data.get("file")
        pasted = data.get("credential")
        presented: str | bytes = ""
        if isinstance(upload, UploadFile) and upload.filename:
            presented = await upload.read(MAX_CREDENTIAL_BYTES + 1)
        if not presented and isinstance(pasted, str):
            presented = pasted.strip()
    if not page.csrf_ok(token):
        return page.render("verify.html", 403, form=empty, result=None, error=FORM_EXPIRED)
    if not presented:
        message = N_("Choose a credential file, or paste a credential (VC-JWT, SD-JWT VC or VC JSON).")
        return page.render("verify.html", 422, form=empty, result=None, error=message)
    if len(presented) > MAX_CREDENTIAL_BYTES:
        message = N_("A credential file is at most 256 KiB.")
        return page.render("verify.html", 413, form=empty, result=None, error=message)
    try:
        await _admit(page)  # before a PDF is parsed: every post counts against the address
        carried = await read_pdf(presented)
    except PdfCertificateError:
        return page.render("verify.html", 422, form=empty, result=None, error=PDF_NOT_READ)
    except RegistryError as exc:
        return _problem(page, exc, empty)
    try:
        result = await _verify(page, carried)
    except RegistryError as exc:
        return _problem(page, exc, empty)
    if carried is not presented:
        result["format"] = PDF_FORMAT
    return page.render("verify.html", form=empty, result=result, error=None)


async def read_pdf(presented: str | bytes) -> str | bytes:
    """The credential file a PDF certificate carries (read in a thread: parsing a PDF is
    not for the event loop), or ``presented`` itself when it is not a PDF."""
    if isinstance(presented, bytes) and certificate.is_pdf(presented):
        return await run_in_threadpool(certificate.embedded_credential, presented)
    return presented
