"""Languages of what people read: Chinese (zh-CN, the registry's default) and English.

Messages live in gettext catalogues (Babel's ``.po`` format) under
``registry/locale/<locale>/LC_MESSAGES/<domain>.po``, one domain per audience:

- ``reports``: verification reports and other API answers people read (check
  messages, labels of titles, levels, statuses and reasons);
- ``web``: the node's web pages (templates and their Python views).

Message ids are English; the ``zh_CN`` catalogue translates every one of them and the
``en`` catalogue may correct the English. The ``.po`` files are compiled in memory the
first time a domain is used (no compiled ``.mo`` files in the repository, no build
step). :func:`untranslated` lists what a catalogue lacks, for the tests.

The language of an answer is chosen from ``Accept-Language`` (RFC 9110 §12.5.4) by
:func:`negotiate`: an explicit choice (a ``lang`` query parameter or cookie on the web
pages) wins, then the header's preferences by weight, then zh-CN.
"""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

Locale = Literal["zh_CN", "en"]
LOCALES: tuple[Locale, ...] = ("zh_CN", "en")
DEFAULT: Locale = "zh_CN"
DOMAINS = ("reports", "web")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: BCP 47 tags for ``lang`` attributes and ``Content-Language``.
TAGS: dict[Locale, str] = {"zh_CN": "zh-CN", "en": "en"}

# One language-range with an optional weight (RFC 9110 §12.4.2, §12.5.4).
_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$"
)
_MAX_HEADER = 1024


def _locale_of(tag: str) -> Locale | None:
    """The supported locale a language tag or range asks for: any Chinese (zh, zh-CN,
    zh-Hans, zh-TW ...) is zh-CN (the only Chinese the registry writes), any English is en."""
    primary = tag.split("-", 1)[0].lower()
    if primary == "zh":
        return "zh_CN"
    if primary == "en":
        return "en"
    return None


def parse_accept_language(header: str | None) -> list[str]:
    """The header's language ranges, highest weight first (ties in header order);
    ranges with q=0 and malformed items are dropped, and an oversized header is ignored."""
    if not header or len(header) > _MAX_HEADER:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        match = _RANGE.match(item)
        if match is None:
            continue
        weight = float(match.group(2)) if match.group(2) is not None else 1.0
        if weight > 0:
            weighted.append((-weight, position, match.group(1)))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(accept_language: str | None, explicit: str | None = None) -> Locale:
    """The locale to answer in: ``explicit`` (a tag such as ``en`` or ``zh-CN``) when it
    names a supported language, else the first supported range of ``Accept-Language``,
    else zh-CN. ``*`` means any language, so the default."""
    if explicit:
        chosen = _locale_of(explicit.strip())
        if chosen is not None:
            return chosen
    for tag in parse_accept_language(accept_language):
        if tag == "*":
            return DEFAULT
        chosen = _locale_of(tag)
        if chosen is not None:
            return chosen
    return DEFAULT


def catalogue_path(locale: Locale, domain: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"


@cache
def translations(locale: Locale, domain: str) -> Translations:
    """The compiled catalogue of one domain in one locale (an empty one, which returns
    every message id unchanged, when the file does not exist yet)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown message domain {domain!r}")
    path = catalogue_path(locale, domain)
    if not path.exists():
        return Translations(domain=domain)
    with path.open("rb") as po:
        catalogue = read_po(po, locale=locale, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=domain)


def gettext(locale: Locale, domain: str, message: str, /, **params: object) -> str:
    """``message`` in ``locale``, with ``%(name)s`` placeholders filled from ``params``."""
    text = translations(locale, domain).gettext(message)
    return text % params if params else text


def untranslated(locale: Locale, domain: str) -> list[str]:
    """Message ids of a catalogue without a usable translation (empty or fuzzy)."""
    path = catalogue_path(locale, domain)
    if not path.exists():
        return []
    with path.open("rb") as po:
        catalogue = read_po(po, locale=locale, domain=domain)
    return [
        str(m.id)
        for m in catalogue
        if m.id and (m.fuzzy or not m.string or (isinstance(m.string, tuple) and not all(m.string)))
    ]


def message_ids(locale: Locale, domain: str) -> set[str]:
    path = catalogue_path(locale, domain)
    if not path.exists():
        return set()
    with path.open("rb") as po:
        return {str(m.id) for m in read_po(po, locale=locale, domain=domain) if m.id}
