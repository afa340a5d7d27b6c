"""Every message of the web pages (templates and the Python views of registry/web/)
is in the zh_CN ``web`` catalogue, so no page shows English to a Chinese reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.extract import extract_from_dir

from registry import i18n

WEB = Path(i18n.__file__).resolve().parent / "web"
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}
KEYWORDS = {"_": None, "gettext": None, "N_": None}


def web_messages() -> dict[str, str]:
    """Message id -> where it is used (file:line), for every literal message."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        WEB, METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, f"{filename}:{lineno}")
    return found


def test_the_extraction_finds_the_pages_messages() -> None:
    messages = web_messages()
    assert "Verify a credential" in messages  # a template
    assert "Cannot be confirmed" in messages  # a Python view (N_)
    assert "Node of %(province)s" in messages  # with a parameter


def test_every_web_message_is_in_the_chinese_catalogue() -> None:
    known = i18n.message_ids("zh_CN", "web")
    missing = {m: where for m, where in web_messages().items() if m not in known}
    assert missing == {}, f"add these to registry/locale/zh_CN/LC_MESSAGES/web.po: {missing}"


def test_the_catalogue_has_no_message_the_pages_no_longer_use() -> None:
    unused = i18n.message_ids("zh_CN", "web") - set(web_messages())
    assert unused == set()


def test_the_language_switch_on_a_forms_answer_goes_to_the_sections_first_page(
    client: Any, actors: Any
) -> None:
    """After a post (a new verification code, a verification result) the switch is a GET
    of the section's first page, not of the post's address: GET of
    /holder/credentials/<id>/verification-codes is another route (a file download) and
    answered "no such credential or file"."""
    import re as _re

    page = client.get("/verify")
    token = _re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = client.post("/verify", data={"csrf_token": token, "credential": "not a credential"})
    links = _re.findall(r'href="([^"]*lang=[^"]*)"', answer.text)
    assert links
    assert all(link.startswith("/verify?lang=") for link in links), links
    looked = client.post(
        "/verify/lookup", data={"csrf_token": token, "number": "32-2026-0000001", "code": "X"}
    )
    assert all(
        link.startswith("/verify?lang=") for link in _re.findall(r'href="([^"]*lang=[^"]*)"', looked.text)
    )
    kept = client.get("/verify?number=32-2026-0000001")
    assert "/verify?number=32-2026-0000001&amp;lang=en" in kept.text
