"""Holders' identity numbers: validation, masking, the keyed lookup hash and the salted
commitment a credential carries. Pure functions; nothing here stores a raw number.

GB 11643-1999 resident identity number: 6-digit area code, 8-digit birth date, 3-digit
sequence, and a check character computed with ISO 7064 MOD 11-2 (weights 2^(17-i) mod
11; remainder r maps to "10X98765432"[r]).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import date
from functools import lru_cache

from registry.credentials.errors import InvalidHolderIdError

ID_TYPES = ("resident", "passport")
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK = "10X98765432"
_RESIDENT = re.compile(r"[1-9]\d{5}(\d{4})(\d{2})(\d{2})\d{3}[\dX]")
# ICAO 9303 document numbers are up to 9 characters; some issuers use longer ones.
_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")


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
    value = number.strip().upper()
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
