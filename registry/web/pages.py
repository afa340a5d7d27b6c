"""What every page of the node shares: the Jinja2 environments (one per locale, with
the ``web`` gettext catalogue), the language of a request, the security headers, the
CSRF token of forms and the cookies.

Security of the pages:

- every answer carries a strict Content-Security-Policy (nothing from another host, no
  inline script or style), ``nosniff``, ``no-referrer`` (a verification code in a QR
  link must not leak to another site) and ``no-store`` (results and portal pages are
  personal);
- forms carry a CSRF token: the HMAC, under a key derived from the node secret, of a
  random value kept in an HttpOnly cookie (a signed double-submit cookie), checked on
  every POST before anything else is read;
- cookies are HttpOnly, SameSite and, outside local development (an ``https`` base
  URL or the production environment), Secure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from registry import accounts, i18n
from registry.auth import derive_key
from registry.errors import AuthenticationError
from registry.node import NodeState

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
SESSION_COOKIE = "yrd_session"
#: The first page of each section (where a language switch on a form's answer goes).
SECTION_HOMES = {"holder": "/holder", "hr": "/hr", "officer": "/officer", "verify": "/verify"}
CSRF_COOKIE = "yrd_csrf"
LANG_COOKIE = "lang"
CSRF_FIELD = "csrf_token"
#: A year: the language a visitor chose with the switch.
LANG_COOKIE_SECONDS = 365 * 24 * 3600
#: Page form posts (verification, look-up, sign-in) per client address and minute.
PAGE_RATE_PER_MINUTE = 30


def N_(message: str) -> str:
    """Marks ``message`` for the ``web`` catalogue; the template translates it."""
    return message


#: GB/T 2260 codes of the provinces and their names (translated in the templates).
PROVINCES = {
    "31": N_("Shanghai"),
    "32": N_("Jiangsu"),
    "33": N_("Zhejiang"),
    "34": N_("Anhui"),
}

#: The verdict of a verification, in the words HR clerks read (有效 / 无效 / 无法确认).
VERDICTS = {"valid": N_("Valid"), "invalid": N_("Invalid"), "unknown": N_("Cannot be confirmed")}


@cache
def environment(locale: i18n.Locale) -> Environment:
    """The templates in ``locale``: autoescaped, gettext from the ``web`` catalogue."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.translations(locale, "web"), newstyle=True
    )
    return env


def _csrf_key(node: NodeState) -> bytes:
    return derive_key(node.settings.secret_key, "page-csrf")


def csrf_token(node: NodeState, seed: str) -> str:
    digest = hmac.new(_csrf_key(node), b"csrf\x00" + seed.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def secure_cookies(node: NodeState) -> bool:
    """Secure cookies everywhere but local development over plain http."""
    settings = node.settings
    return settings.environment != "development" or settings.base_url.startswith("https://")


@dataclass
class Page:
    """One request's page context: its language, its CSRF seed and the cookies the
    answer must set."""

    request: Request
    node: NodeState
    locale: i18n.Locale
    csrf_seed: str
    cookies: dict[str, tuple[str, int | None, str]] = field(default_factory=dict)
    section: str = ""

    def text(self, message: str, **params: Any) -> str:
        """``message`` translated, for the few answers that are not templates."""
        return i18n.gettext(self.locale, "web", message, **params)

    @property
    def csrf(self) -> str:
        return csrf_token(self.node, self.csrf_seed)

    def csrf_ok(self, submitted: object) -> bool:
        """Whether a posted token belongs to this browser's CSRF cookie (a browser
        that has none, or a token made for another, fails)."""
        if CSRF_COOKIE not in self.request.cookies or not isinstance(submitted, str):
            return False
        return hmac.compare_digest(submitted.encode(), self.csrf.encode())

    def renew_csrf(self) -> None:
        """A fresh CSRF seed (at sign-in and sign-out: no token survives them)."""
        self.csrf_seed = secrets.token_urlsafe(24)
        self.cookies[CSRF_COOKIE] = (self.csrf_seed, None, "strict")

    def switch_url(self, locale: i18n.Locale) -> str:
        """This page's URL in ``locale`` (the other query parameters kept). A page that
        answers a form's post switches to its section's first page: a GET of the post's
        address would be another request (a file download's address, say) or none."""
        if self.request.method not in ("GET", "HEAD"):
            return f"{SECTION_HOMES.get(self.section, '/verify')}?{urlencode([('lang', i18n.TAGS[locale])])}"
        query = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        query.append(("lang", i18n.TAGS[locale]))
        return f"{self.request.url.path}?{urlencode(query)}"

    def render(
        self, template: str, status_code: int = 200, headers: dict[str, str] | None = None, **values: Any
    ) -> HTMLResponse:
        env = environment(self.locale)
        province = self.node.settings.province
        body = env.get_template(template).render(
            lang_tag=i18n.TAGS[self.locale],
            locale=self.locale,
            csrf_field=CSRF_FIELD,
            csrf_token=self.csrf,
            section=self.section,
            switch={loc: self.switch_url(loc) for loc in i18n.LOCALES},
            node_province=PROVINCES.get(province, province),
            **values,
        )
        response = HTMLResponse(body, status_code=status_code, headers=headers)
        self.finish(response)
        return response

    def finish(self, response: Response) -> Response:
        """The security headers and the cookies this request set, on ``response``."""
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Language"] = i18n.TAGS[self.locale]
        response.headers["Vary"] = "Accept-Language, Cookie"
        secure = secure_cookies(self.node)
        for name, (value, max_age, same_site) in self.cookies.items():
            response.set_cookie(
                name,
                value,
                max_age=max_age,
                path="/",
                secure=secure,
                httponly=True,
                samesite=same_site,  # type: ignore[arg-type]
            )
        return response

    def redirect(self, url: str) -> Response:
        """303 See Other (after a POST, the browser GETs ``url``)."""
        return self.finish(Response(status_code=303, headers={"Location": url}))


async def end_session(node: NodeState, token: str | None) -> None:
    """Sign-out of a page session that holds an access token: the token ends now (not
    only the cookie), so a copy of it taken earlier no longer works."""
    if not token:
        return
    try:
        claims = node.tokens.read(token, node.clock())
    except AuthenticationError:
        return  # expired or not ours: nothing to end

    def end() -> None:
        with node.db.session() as session:
            accounts.sign_out(session, claims, node.clock())

    await run_in_threadpool(end)


def page_of(request: Request, node: NodeState, section: str = "") -> Page:
    """The page context of ``request``: the language from ``?lang=``, else the ``lang``
    cookie, else ``Accept-Language``; the CSRF seed from its cookie (a new one when
    the browser has none)."""
    asked = request.query_params.get("lang")
    explicit = asked or request.cookies.get(LANG_COOKIE)
    locale = i18n.negotiate(request.headers.get("accept-language"), explicit)
    seed = request.cookies.get(CSRF_COOKIE, "")
    page = Page(request, node, locale, seed, section=section)
    if not seed or len(seed) > 64 or not seed.isascii():
        page.renew_csrf()
    if asked and asked.split("-", 1)[0].lower() in ("zh", "en"):
        page.cookies[LANG_COOKIE] = (i18n.TAGS[locale], LANG_COOKIE_SECONDS, "lax")
    return page


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
