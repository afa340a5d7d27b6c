"""Holders' identity: the text of names (and of every other free text a credential
carries), identity numbers with their validation, masking, the keyed lookup hash and the
salted commitment a credential carries. Pure functions; nothing here stores a raw number.

GB 11643-1999 resident identity number: 6-digit area code, 8-digit birth date, 3-digit
sequence, and a check character computed with ISO 7064 MOD 11-2 (weights 2^(17-i) mod
11; remainder r maps to "10X98765432"[r]).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from datetime import date
from functools import lru_cache

from registry.credentials.errors import InvalidHolderIdError

ID_TYPES = ("resident", "passport")
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK = "10X98765432"
# [0-9], not \d: \d also matches other scripts' digits, which GB 11643 does not know.
_RESIDENT = re.compile(r"[1-9][0-9]{5}([0-9]{4})([0-9]{2})([0-9]{2})[0-9]{3}[0-9X]")
# ICAO 9303 document numbers are up to 9 characters; some issuers use longer ones.
_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")


# Characters refused in any text the registry stores or signs:
# - control characters (C0, C1; NUL among them, which PostgreSQL text refuses) and lone
#   surrogates (which no UTF-8 encoder writes);
# - bidirectional embeddings, overrides, isolates and marks (U+202A-202E, U+2066-2069,
#   U+200E/200F, U+061C): they reorder what a reader sees, so a name can be shown as
#   another ("Trojan Source", CVE-2021-42574);
# - zero-width characters and the BOM (U+200B-200D, U+2060, U+FEFF): two names that look
#   the same would be different holders and different signed text;
# - Unicode noncharacters (U+FDD0-FDEF and the last two code points of every plane),
#   never meant for interchange.
# Unassigned code points are kept (a rare name character may be newer than Python's
# Unicode tables), and so is the private use area (legacy encodings of rare characters).
_REFUSED_CHARACTERS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff\ufdd0-\ufdef"
    + "".join(rf"\U{plane:04X}FFFE\U{plane:04X}FFFF" for plane in range(17))
    + "]"
)
# A spreadsheet runs a cell that begins with one of these as a formula ("CSV injection").
# Such text is refused where it enters rather than escaped where it leaves: this node
# writes no CSV, but its signed credentials end up in HR departments' spreadsheets, and
# a signed value cannot be escaped later without breaking its signature. No name,
# specialty or committee begins with one; identity and certificate numbers are not free
# text and are not affected. Full-width forms (U+FF1D, ...) count, as NFKC maps them here.
_FORMULA_START = ("=", "+", "-", "@")


def check_characters(value: str) -> str:
    """``value`` unchanged, or ValueError naming the first refused character (see above)."""
    found = _REFUSED_CHARACTERS.search(value)
    if found is not None:
        char = found.group()
        category = unicodedata.category(char)
        kind = (
            "a control character"
            if category in ("Cc", "Cs")
            else "a Unicode noncharacter"
            if category == "Cn"
            else "an invisible or bidirectional formatting character"
        )
        raise ValueError(f"must not contain {kind} (U+{ord(char):04X})")
    return value


def normalise_text(value: str) -> str:
    """Free text (a name, a specialty, a committee) in NFC, the form that is stored,
    compared and signed: the same name typed as NFC or NFD is one name. ValueError for
    refused characters and for text a spreadsheet would run as a formula."""
    text = unicodedata.normalize("NFC", check_characters(value))
    if unicodedata.normalize("NFKC", text.lstrip()[:1]).startswith(_FORMULA_START):
        raise ValueError("must not begin with =, +, - or @ (a spreadsheet would run it as a formula)")
    return text


def gb11643_check_character(first17: str) -> str:
    """The check character of the first 17 digits (ISO 7064 MOD 11-2)."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidHolderIdError("a resident ID number starts with 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalise_id_number(id_type: str, number: str) -> str:
    """The canonical form of an identity number, or :class:`InvalidHolderIdError`."""
    if id_type not in ID_TYPES:
        raise InvalidHolderIdError(f"identity document type must be one of {', '.join(ID_TYPES)}")
    # NFKC: full-width letters and digits (as typed with a Chinese input method) are the
    # ASCII ones, so one document number always gives one lookup hash and one holder.
    value = unicodedata.normalize("NFKC", number).strip().upper()
    if id_type == "passport":
        if not _PASSPORT.fullmatch(value):
            raise InvalidHolderIdError("a passport number is 5 to 20 letters and digits")
        return value
    match = _RESIDENT.fullmatch(value)
    if not match:
        raise InvalidHolderIdError("a resident ID number is 17 digits and a check character (0-9 or X)")
    year, month, day = (int(g) for g in match.groups())
    try:
        born = date(year, month, day)
    except ValueError:
        raise InvalidHolderIdError("the birth date inside the resident ID number does not exist") from None
    if born.year < 1900:
        raise InvalidHolderIdError("the birth date inside the resident ID number is before 1900")
    if gb11643_check_character(value[:17]) != value[17]:
        raise InvalidHolderIdError("the check character of the resident ID number is wrong (GB 11643)")
    return value


def mask_id_number(normalised: str) -> str:
    """First and last characters kept, the rest hidden: ``3201**********123X``."""
    keep_head, keep_tail = (4, 4) if len(normalised) >= 12 else (1, 2)
    hidden = len(normalised) - keep_head - keep_tail
    return normalised[:keep_head] + "*" * hidden + normalised[-keep_tail:]


def id_lookup_hash(key: bytes, id_type: str, normalised: str) -> str:
    """Keyed hash that finds a holder again: HMAC-SHA256(node key, type NUL number)."""
    message = f"{id_type}\x00{normalised}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@lru_cache(maxsize=8)
def _commitment_key(id_key: bytes) -> bytes:
    return hmac.new(id_key, b"holder-commitment", hashlib.sha256).digest()


def commitment_salt(id_key: bytes, holder_id: str) -> str:
    """The salt of a holder's commitment, derived from the node secret and the holder id
    and never stored: a copy of the database alone cannot test ID numbers against the
    commitment (the space of resident ID numbers is small enough to enumerate)."""
    digest = hmac.new(_commitment_key(id_key), holder_id.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def holder_commitment(salt: str, normalised: str) -> str:
    """``sha256:`` + base64url(SHA-256(salt || number)): what a credential carries
    instead of the number; the holder opens it by showing the salt and the number."""
    digest = hashlib.sha256(salt.encode("ascii") + normalised.encode("ascii")).digest()
    return "sha256:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
