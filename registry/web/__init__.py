"""The node's web pages, server-rendered (Jinja2) in zh-CN and en: the public
verification page, the holder portal, the HR desk and the officer desk. One layout
(``templates/base.html``), one stylesheet and one small script (live progress) served
by the node (``static/``), nothing from another host."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from registry.web import holder, hr, officer, recognition, verify
from registry.web.pages import SECURITY_HEADERS, STATIC

router = APIRouter(include_in_schema=False)
router.include_router(verify.router)
router.include_router(holder.router)
router.include_router(hr.router)
router.include_router(officer.router)
router.include_router(recognition.router)

#: The files under /static/ and their media types (nothing else is served there).
STATIC_FILES = {
    "style.css": "text/css; charset=utf-8",
    # The progress bars' live updates (progressive enhancement: without it the pages
    # refresh themselves).
    "progress.js": "text/javascript; charset=utf-8",
}


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        return Response(status_code=404)
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers=headers)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/verify", status_code=303)
