"""A batch's row errors as the officer desk shows them, in the page's language.

The API answers each row error in English (``message``), with its row, field and line;
the desk shows the same errors in Chinese on a Chinese page. Each kind of message the
issuance path produces (pydantic's field checks, the registry's validators, the catalogue,
identity numbers, duplicates, names on record) is recognised here by its English form and
given as a message of the ``web`` catalogue with the values it carries. A message of no
known form is shown as it is (in English) rather than dropped."""

from __future__ import annotations

import re

from registry import i18n
from registry.web.pages import N_

#: (English form, message id). Placeholders are the form's named groups.
FORMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        # pydantic's field checks
        (r"Field required", N_("Required: this column is empty or missing.")),
        (
            r"String should have at least (?P<n>\d+) characters?",
            N_("Too short: at least %(n)s characters."),
        ),
        (r"String should have at most (?P<n>\d+) characters?", N_("Too long: at most %(n)s characters.")),
        (
            r"Input should be 'resident' or 'passport'",
            N_("The identity document type is resident (resident ID card) or passport."),
        ),
        (r"Input should be a valid date\b.*", N_("Not a date: write 2026-11-21 or 2026/11/21.")),
        (
            r"Input should be a valid datetime\b.*",
            N_("Not a date and time: write it as 2026-11-21T00:00:00+08:00."),
        ),
        (r"Input should be a valid string", N_("Not text.")),
        (r"Extra inputs are not permitted", N_("A column this batch does not have (see the template).")),
        # the registry's validators (pydantic prefixes "Value error, ")
        (r"Value error, (?P<value>.+) is not a calendar date", N_("%(value)s is not a calendar date.")),
        (r"Value error, must not be before (?P<day>\d{4}-\d{2}-\d{2})", N_("Must not be before %(day)s.")),
        (
            r"Value error, a date-time needs a time zone offset.*",
            N_("A date and time needs its time zone offset (e.g. +08:00 or Z)."),
        ),
        (
            r"Value error, must be from (?P<start>\S+) and before (?P<end>\S+)",
            N_("Must be from %(start)s and before %(end)s."),
        ),
        (
            r"Value error, must not be before the award date.*",
            N_("Must not be before the award date (China Standard Time)."),
        ),
        (
            r"Value error, must be after validFrom.*",
            N_("Must be after the start of validity (by default the start of the award date)."),
        ),
        (
            r"Value error, must not contain .* \(U\+(?P<code>[0-9A-F]{4,6})\)",
            N_("Contains an invisible, control or formatting character (U+%(code)s): type it again."),
        ),
        (
            r"Value error, must not begin with =, \+, - or @.*",
            N_("Must not begin with =, +, - or @ (a spreadsheet would run it as a formula)."),
        ),
        # issuance's own checks
        (
            r"the award date is after today \((?P<today>[\d-]+), China Standard Time\)",
            N_("The award date is after today (%(today)s, China Standard Time)."),
        ),
        (r"no active type '(?P<code>.+)'", N_("No type %(code)s in the catalogue (or it is not in use).")),
        (r"type (?P<code>\S+) is retired: (?P<reason>.*)", N_("Type %(code)s is retired: %(reason)s")),
        (
            r"type (?P<code>\S+) \((?P<name>.+)\) needs a specialty \(专业\)",
            N_("Type %(code)s (%(name)s) needs a specialty."),
        ),
        (
            r"type (?P<code>\S+) \((?P<name>.+)\) has no specialty: leave it out",
            N_("Type %(code)s (%(name)s) has no specialty: leave the column empty."),
        ),
        (
            r"same holder and type as row (?P<row>\d+)",
            N_("The same holder and type as row %(row)s: a batch awards a type to a holder once."),
        ),
        (
            r"the name differs from the holder on record for this identity number",
            N_("The name differs from the name on record for this identity number."),
        ),
        # identity numbers (registry.credentials.identity)
        (r"a resident ID number starts with 17 digits", N_("A resident ID number starts with 17 digits.")),
        (
            r"identity document type must be one of .*",
            N_("The identity document type is resident (resident ID card) or passport."),
        ),
        (
            r"a passport number is 5 to 20 letters and digits",
            N_("A passport number is 5 to 20 letters and digits."),
        ),
        (
            r"a resident ID number is 17 digits and a check character \(0-9 or X\)",
            N_("A resident ID number is 17 digits and a check character (0-9 or X)."),
        ),
        (
            r"the birth date inside the resident ID number does not exist",
            N_("The birth date inside the resident ID number does not exist."),
        ),
        (
            r"the birth date inside the resident ID number is before 1900",
            N_("The birth date inside the resident ID number is before 1900."),
        ),
        (
            r"the check character of the resident ID number is wrong \(GB 11643\)",
            N_("The check character of the resident ID number is wrong (GB 11643): check the number."),
        ),
    )
)


def readable(message: str, locale: i18n.Locale) -> str:
    """``message`` (a row error as the API gives it) in ``locale``."""
    for form, message_id in FORMS:
        found = form.fullmatch(message)
        if found is not None:
            return i18n.gettext(locale, "web", message_id, **found.groupdict())
    return message
