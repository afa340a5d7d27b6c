"""Language negotiation (RFC 9110 §12.5.4) and the gettext catalogues (registry/i18n.py)."""

from __future__ import annotations

import pytest

from registry import i18n


@pytest.mark.parametrize(
    ("header", "explicit", "expected"),
    [
        (None, None, "zh_CN"),
        ("", None, "zh_CN"),
        ("en", None, "en"),
        ("en-GB,en;q=0.9", None, "en"),
        ("zh-TW", None, "zh_CN"),
        ("zh-Hans-CN", None, "zh_CN"),
        ("fr, en;q=0.5, zh;q=0.8", None, "zh_CN"),
        ("fr, en;q=0.9, zh;q=0.8", None, "en"),
        ("en;q=0, zh;q=0.1", None, "zh_CN"),
        ("de, fr", None, "zh_CN"),
        ("*", None, "zh_CN"),
        ("en;q=abc, zh", None, "zh_CN"),
        ("en", "zh-CN", "zh_CN"),
        ("zh", "en", "en"),
        ("en", "klingon", "en"),
        ("en," * 1000, None, "zh_CN"),
    ],
)
def test_negotiate(header: str | None, explicit: str | None, expected: str) -> None:
    assert i18n.negotiate(header, explicit) == expected


def test_weights_order_and_ties_keep_header_order() -> None:
    assert i18n.parse_accept_language("en;q=0.5, zh, fr;q=0.5") == ["zh", "en", "fr"]


@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_every_chinese_message_is_translated(domain: str) -> None:
    assert i18n.untranslated("zh_CN", domain) == []


@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_english_catalogue_has_no_message_chinese_lacks(domain: str) -> None:
    assert i18n.message_ids("en", domain) <= i18n.message_ids("zh_CN", domain)


def test_gettext_translates_and_fills_parameters() -> None:
    assert i18n.gettext("zh_CN", "reports", "valid") == "有效"
    assert i18n.gettext("en", "reports", "valid") == "valid"
    assert i18n.gettext("en", "reports", "%(n)s rows", n=3) == "3 rows"
    with pytest.raises(ValueError, match="unknown message domain"):
        i18n.translations("en", "nope")
