"""Recognition on the pages: the holder applies to have a credential recognised in
another province and follows the application (``/holder/recognition``); the receiving
node's officers decide the applications forwarded to them (``/officer/recognition``).

Both call the recognition API's own functions with the signed-in holder or officer
(``registry.routes.recognition``), so the rules, the node-to-node requests and the
audit are the API's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from registry import peers
from registry.auth import Principal
from registry.credentials import catalogue
from registry.credentials.issuance import CHINA_STANDARD_TIME
from registry.deps import NodeDep
from registry.errors import ConflictError, InvalidInputError, NotFoundError, RegistryError
from registry.federation import applications
from registry.federation.metadata import PROVINCES
from registry.routes import holder as holder_api
from registry.routes import recognition as recognition_api
from registry.web.desk import FORM_EXPIRED, form_fields
from registry.web.holder import SIGN_IN as HOLDER_SIGN_IN
from registry.web.holder import _iso as _when
from registry.web.holder import signed_in
from registry.web.officer import SIGN_IN as OFFICER_SIGN_IN
from registry.web.officer import officer
from registry.web.pages import CSRF_FIELD, N_, Page, page_of

router = APIRouter(include_in_schema=False)

STATES = {
    "pending": N_("Under review"),
    "recognised": N_("Recognised"),
    "refused": N_("Not recognised"),
    "disputed": N_("Disputed: under review again"),
    "sending": N_("Not yet confirmed by the other province: sent again when you look"),
    "disputing": N_("Dispute not yet confirmed by the other province: sent again when you look"),
    "withdrawing": N_("Withdrawal not yet confirmed by the other province: sent again when you look"),
    "withdrawn": N_("Withdrawn"),
}
NOT_FEDERATED = N_("This node is not a member of a federation: there is no other province to apply to.")
UNREACHABLE = N_(
    "The other province's node could not be reached, or it refused the application. Nothing was sent."
)
NOT_IN_FORCE = N_("Only a credential in force can be recognised.")
NO_CREDENTIAL = N_("There is no such credential.")
CHOOSE = N_("Choose a credential and a province.")
NO_LONGER_VALID = N_(
    "The credential no longer verifies valid here (revoked, suspended or not confirmable now): it can "
    "only be refused."
)
SENT = N_("Your application was sent. The other province's node will decide it.")
ALREADY = N_(
    "An application of this credential in that province is waiting for a decision or was recognised."
)


def _type_names(page: Page) -> dict[str, dict[str, str]]:
    with page.node.db.session(write=False) as session:
        return {
            t.code: {"zh_CN": t.name_zh, "en": t.name_en}
            for t in catalogue.list_types(session, include_inactive=True)
        }


def _application(item: applications.ApplicationOut, names: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "id": item.id,
        "province": PROVINCES[item.province],
        "number": item.certificateNumber,
        "holder": item.holderName,
        "type": names.get(item.typeCode),
        "type_code": item.typeCode,
        "state": item.state,
        "state_label": STATES[item.state],
        "recognised_as": names.get(item.recognisedAs or ""),
        "recognised_code": item.recognisedAs,
        "reason": item.decisionReason,
        "statement": item.statement,
        "dispute": item.disputeStatement,
        "disputable": item.state == "refused" and item.disputedAt is None,
        "withdrawable": item.state in applications.WAITING,
        "withdrawn": _when(item.withdrawnAt),
        "created": _when(item.createdAt),
        "decided": _when(item.decidedAt),
        "has_credential": item.recognitionCredential is not None,
    }


# --- the holder ---------------------------------------------------------------------------


async def _holder_page(page: Page, holder: Principal, status_code: int = 200, **values: Any) -> Response:
    node = page.node

    def own() -> list[holder_api.OwnCredential]:
        with node.db.session(write=False) as session:
            return [c for c in holder_api.list_own(session, holder) if c.status == "active"]

    credentials = await run_in_threadpool(own)
    names = await run_in_threadpool(_type_names, page)
    listed = await recognition_api.list_recognition_applications(node, holder)
    # What each other province's published policy says of each credential in force.
    elsewhere: dict[str, list[dict[str, Any]]] = {}
    if node.directory is not None:
        for c in credentials[:10]:
            found = await recognition_api.recognition_elsewhere(node, holder, c.id, page.locale)
            elsewhere[c.id] = [
                {"province": r.provinceName, "state": r.state, "message": r.message} for r in found
            ]
    values.setdefault("error", None)
    values.setdefault("notice", None)
    return page.render(
        "holder_recognition.html",
        status_code,
        federated=node.directory is not None,
        credentials=[
            {
                "id": c.id,
                "number": c.certificateNumber,
                "type": names.get(c.typeCode),
                "type_code": c.typeCode,
                "elsewhere": elsewhere.get(c.id, []),
            }
            for c in credentials
        ],
        provinces=[(code, PROVINCES[code]) for code in sorted(PROVINCES) if code != node.settings.province],
        items=[_application(a, names) for a in listed.applications],
        unreachable=bool(listed.unreachable),
        **values,
    )


@router.get("/holder/recognition")
async def holder_recognition(request: Request, node: NodeDep) -> Response:
    """The holder's applications for recognition in another province, and the form."""
    page = page_of(request, node, "holder")
    holder = await run_in_threadpool(signed_in, page)
    if holder is None:
        return page.redirect(HOLDER_SIGN_IN)
    notice = SENT if request.query_params.get("sent") == "1" else None
    if request.query_params.get("disputed") == "1":
        notice = N_("Your dispute was sent. The other province's node will decide the application again.")
    if request.query_params.get("withdrawn") == "1":
        notice = N_("Your application was withdrawn. The other province's node will not decide it.")
    return await _holder_page(page, holder, notice=notice)


@router.post("/holder/recognition")
async def apply(request: Request, node: NodeDep) -> Response:
    page = page_of(request, node, "holder")
    holder = await run_in_threadpool(signed_in, page)
    if holder is None:
        return page.redirect(HOLDER_SIGN_IN)
    form = await form_fields(request, 4)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return await _holder_page(page, holder, 403, error=FORM_EXPIRED)
    try:
        body = applications.ApplicationIn.model_validate(
            {
                "credentialId": form.get("credential", ""),
                "province": form.get("province", ""),
                **({"statement": form["statement"]} if form.get("statement", "").strip() else {}),
            }
        )
    except ValidationError:
        return await _holder_page(page, holder, 422, error=CHOOSE)
    try:
        await recognition_api.apply_for_recognition(body, node, holder)
    except RegistryError as exc:
        if isinstance(exc, peers.PeerUnavailableError):
            error = UNREACHABLE
        elif isinstance(exc, NotFoundError):
            error = NO_CREDENTIAL
        elif isinstance(exc, applications.ApplicationExistsError):
            error = ALREADY
        elif isinstance(exc, ConflictError):
            error = NOT_FEDERATED if node.directory is None else NOT_IN_FORCE
        elif isinstance(exc, InvalidInputError):
            error = CHOOSE
        else:
            raise
        return await _holder_page(page, holder, exc.status, error=error)
    # Post/redirect/get: reloading the answer does not send the application again.
    return page.redirect("/holder/recognition?sent=1")


@router.post("/holder/recognition/{application_id}/dispute")
async def dispute(request: Request, node: NodeDep, application_id: str) -> Response:
    """The holder disputes a refusal (异议), with a statement."""
    page = page_of(request, node, "holder")
    holder = await run_in_threadpool(signed_in, page)
    if holder is None:
        return page.redirect(HOLDER_SIGN_IN)
    form = await form_fields(request, 2)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return await _holder_page(page, holder, 403, error=FORM_EXPIRED)
    try:
        body = applications.DisputeIn.model_validate({"statement": form.get("statement", "")})
    except ValidationError:
        return await _holder_page(page, holder, 422, error=N_("Say why the refusal should be decided again."))
    try:
        await recognition_api.dispute_recognition_decision(application_id[:36], body, node, holder)
    except RegistryError as exc:
        if isinstance(exc, peers.PeerUnavailableError):
            error = UNREACHABLE
        elif isinstance(exc, NotFoundError):
            error = N_("There is no such application.")
        elif isinstance(exc, applications.ApplicationExistsError):
            error = ALREADY
        elif isinstance(exc, ConflictError):
            error = N_("Only a refusal can be disputed, once.")
        else:
            raise
        return await _holder_page(page, holder, exc.status, error=error)
    return page.redirect("/holder/recognition?disputed=1")


@router.post("/holder/recognition/{application_id}/withdrawal")
async def withdraw(request: Request, node: NodeDep, application_id: str) -> Response:
    """The holder withdraws an application waiting for a decision (撤回)."""
    page = page_of(request, node, "holder")
    holder = await run_in_threadpool(signed_in, page)
    if holder is None:
        return page.redirect(HOLDER_SIGN_IN)
    form = await form_fields(request, 1)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return await _holder_page(page, holder, 403, error=FORM_EXPIRED)
    try:
        await recognition_api.withdraw_recognition_application(application_id[:36], node, holder)
    except RegistryError as exc:
        if isinstance(exc, peers.PeerUnavailableError):
            error = N_(
                "The other province's node could not be reached, or did not take the withdrawal. If it was "
                "sent, it is sent again when you look at your applications."
            )
        elif isinstance(exc, NotFoundError):
            error = N_("There is no such application.")
        elif isinstance(exc, ConflictError) and node.directory is None:
            error = NOT_FEDERATED
        elif isinstance(exc, ConflictError):
            error = N_(
                "Only an application waiting for a decision can be withdrawn: it was decided, or the other "
                "province's node has not confirmed it yet."
            )
        else:
            raise
        return await _holder_page(page, holder, exc.status, error=error)
    return page.redirect("/holder/recognition?withdrawn=1")


@router.get("/holder/recognition/{application_id}/credential.json")
async def recognition_credential(request: Request, node: NodeDep, application_id: str) -> Response:
    """The recognition credential of a recognised application (VC JSON, as issued)."""
    page = page_of(request, node, "holder")
    holder = await run_in_threadpool(signed_in, page)
    if holder is None:
        return page.redirect(HOLDER_SIGN_IN)

    def read() -> str | None:
        with node.db.session(write=False) as session:
            row = applications.holders_application(session, holder.holder_id or "", application_id[:36])
            return row.recognition_credential

    try:
        document = await run_in_threadpool(read)
    except NotFoundError as exc:
        return await _holder_page(page, holder, exc.status, error=N_("There is no such application."))
    if document is None:
        return await _holder_page(
            page, holder, 404, error=N_("This application has no recognition credential.")
        )
    response = Response(
        document.encode("utf-8"),
        media_type="application/vc+ld+json",
        headers={"Content-Disposition": f'attachment; filename="recognition-{application_id[:36]}.json"'},
    )
    return page.finish(response)


# --- the receiving node's officers -------------------------------------------------------------


def _incoming(page: Page) -> list[dict[str, Any]]:
    """Every application waiting (oldest first), the latest decided ones, and those their
    holders withdrew."""
    node = page.node
    names = _type_names(page)
    with node.db.session(write=False) as session:
        rows = applications.list_incoming(session, "waiting", 500, 0)
        rows += applications.list_incoming(session, None, 50, 0, decided=True)
        rows += applications.list_incoming(session, "withdrawn", 50, 0)
    items = []
    today = node.clock().astimezone(CHINA_STANDARD_TIME).date()
    for row in rows:
        item = _application(applications.out(row), names)
        found = node.recognition.recognise(node.settings.province, row.province, row.type_code, True, today)
        item["policy"] = found.recognised_as if found.state == "recognised" else None
        items.append(item)
    return items


async def _officer_page(page: Page, status_code: int = 200, **values: Any) -> Response:
    items = await run_in_threadpool(_incoming, page)
    names = await run_in_threadpool(_type_names, page)
    values.setdefault("error", None)
    values.setdefault("notice", None)
    return page.render(
        "officer_recognition.html",
        status_code,
        pending=[i for i in items if i["state"] in applications.WAITING],
        decided=[i for i in items if i["state"] not in (*applications.WAITING, "withdrawn")],
        withdrawn=[i for i in items if i["state"] == "withdrawn"],
        local_types=sorted(names.items()),
        **values,
    )


@router.get("/officer/recognition")
async def officer_recognition(request: Request, node: NodeDep) -> Response:
    """Applications other provinces' nodes forwarded here, to decide."""
    page = page_of(request, node, "officer")
    staff = await run_in_threadpool(officer, page)
    if staff is None:
        return page.redirect(OFFICER_SIGN_IN)
    return await _officer_page(page)


@router.post("/officer/recognition/{application_id}/decision")
async def decide(request: Request, node: NodeDep, application_id: str) -> Response:
    page = page_of(request, node, "officer")
    staff = await run_in_threadpool(officer, page)
    if staff is None:
        return page.redirect(OFFICER_SIGN_IN)
    form = await form_fields(request, 4)
    if not page.csrf_ok(form.get(CSRF_FIELD)):
        return await _officer_page(page, 403, error=FORM_EXPIRED)
    try:
        body = applications.DecisionIn.model_validate(
            {
                "decision": form.get("decision", ""),
                **({"recognisedAs": form["recognised_as"]} if form.get("recognised_as") else {}),
                **({"reason": form["reason"]} if form.get("reason", "").strip() else {}),
            }
        )
    except ValidationError:
        return await _officer_page(
            page, 422, error=N_("To refuse, give the reason; to recognise, choose the type.")
        )

    def run() -> applications.ApplicationOut:
        with node.db.session() as session:
            return recognition_api.decide_recognition_application(
                application_id[:36], body, node, session, staff
            )

    try:
        decided = await run_in_threadpool(run)
    except applications.NoLongerValidError as exc:
        return await _officer_page(page, exc.status, error=NO_LONGER_VALID)
    except (NotFoundError, ConflictError, InvalidInputError) as exc:
        message = {
            404: N_("There is no such application."),
            409: N_("The application was already decided."),
        }.get(exc.status, N_("To refuse, give the reason; to recognise, choose the type."))
        return await _officer_page(page, exc.status, error=message)
    notice = (
        N_("Application of %(number)s: recognised. The recognition credential is issued.")
        if decided.state == "recognised"
        else N_("Application of %(number)s: not recognised.")
    )
    return await _officer_page(page, notice=page.text(notice, number=decided.certificateNumber))
