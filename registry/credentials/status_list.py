"""W3C Bitstring Status List v1.0: the bitstring, its encoding, index allocation,
status entries and status list credentials. Pure: no web, no database.

Bit order (§3.1 Bitstring Generation Algorithm): index 0 is the most significant bit
of the first byte. ``encodedList`` is the multibase base64url (``u``) of the GZIP
of the bitstring. Lists have at least 131,072 entries (§6.1 herd privacy), and
indexes are drawn at random among the free ones so that neighbouring indexes say
nothing about issuance order.
"""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from registry.contexts import TALENT_V1
from registry.credentials.errors import StatusListError, StatusListFullError
from registry.signing.data_integrity import format_datetime
from registry.signing.encoding import b64url_decode, b64url_encode
from registry.signing.errors import EncodingError

MIN_LENGTH = 131_072  # bits; §6.1 "a minimum of 131,072 entries"
MAX_LENGTH = 16 * MIN_LENGTH  # what this registry accepts from others (256 KiB of bits)
StatusPurpose = Literal["revocation", "suspension"]


def bit_at(data: bytes | bytearray, index: int) -> bool:
    """Bit ``index`` of raw list bytes (MSB first), without copying them into a
    :class:`Bitstring`; the caller checks the range."""
    return bool(data[index >> 3] & (0x80 >> (index & 7)))


class Bitstring:
    """A mutable bitstring of ``length`` bits, all clear at first."""

    __slots__ = ("_bits", "length")

    def __init__(self, length: int = MIN_LENGTH, data: bytes | None = None) -> None:
        if length <= 0 or length % 8:
            raise StatusListError("a status list length is a positive multiple of 8 bits")
        self.length = length
        self._bits = bytearray(data) if data is not None else bytearray(length // 8)
        if len(self._bits) * 8 != length:
            raise StatusListError("bitstring data does not match its length")

    def _check(self, index: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.length:
            raise StatusListError(f"index {index!r} is outside the list of {self.length} entries")

    def get(self, index: int) -> bool:
        self._check(index)
        return bit_at(self._bits, index)

    def set(self, index: int, value: bool = True) -> None:
        self._check(index)
        if value:
            self._bits[index >> 3] |= 0x80 >> (index & 7)
        else:
            self._bits[index >> 3] &= ~(0x80 >> (index & 7)) & 0xFF

    def set_indices(self) -> list[int]:
        return [i for i in range(self.length) if self._bits[i >> 3] & (0x80 >> (i & 7))]

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def encode(self) -> str:
        """``encodedList``: ``u`` + base64url(GZIP(bits)), with mtime 0 so that equal
        lists encode to equal text (and equal ETags)."""
        return "u" + b64url_encode(gzip.compress(self._bits, compresslevel=9, mtime=0))

    @classmethod
    def decode(cls, encoded: str, min_length: int = MIN_LENGTH, max_length: int = MAX_LENGTH) -> Bitstring:
        """Decode an ``encodedList`` (§3.2 step 7: expand with GZIP). Any valid GZIP
        stream is accepted; one that expands beyond ``max_length`` bits is refused
        before it is expanded further (no decompression bombs)."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise StatusListError("encodedList must be multibase base64url ('u…')")
        try:
            compressed = b64url_decode(encoded[1:])
        except EncodingError:
            raise StatusListError("encodedList is not base64url") from None
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(compressed, max_length // 8 + 1)
        except zlib.error:
            raise StatusListError("encodedList is not GZIP") from None
        if len(data) > max_length // 8 or inflater.unconsumed_tail:
            raise StatusListError(f"status list is longer than {max_length} entries")
        if not inflater.eof:
            raise StatusListError("encodedList GZIP stream is truncated")
        if len(data) * 8 < min_length:
            # §3.2 step 8: STATUS_LIST_LENGTH_ERROR
            raise StatusListError(f"status list has fewer than {min_length} entries")
        return cls(len(data) * 8, data)


def allocate_index(
    is_taken: Callable[[int], bool], length: int = MIN_LENGTH, rng: random.Random | None = None
) -> int:
    """A uniformly random index for which ``is_taken`` is false. Random probes find
    one quickly while the list has room; near full, a scan from a random start
    guarantees an answer. Raises :class:`StatusListFullError` when none is free."""
    rng = rng or random.SystemRandom()
    for _ in range(64):
        index = rng.randrange(length)
        if not is_taken(index):
            return index
    start = rng.randrange(length)
    for offset in range(length):
        index = (start + offset) % length
        if not is_taken(index):
            return index
    raise StatusListFullError("every index of the status list is allocated")


def status_entry(list_url: str, purpose: StatusPurpose, index: int) -> dict[str, str]:
    """A ``BitstringStatusListEntry`` for a credential's ``credentialStatus``."""
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def status_list_credential(
    list_url: str,
    issuer: str,
    purpose: StatusPurpose,
    bits: Bitstring,
    valid_from: datetime,
    valid_until: datetime | None = None,
    reasons: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` (§2.2) for ``bits``. ``reasons``
    (index -> reason code of a set bit) become the registry's ``statusReasons`` member
    of the subject, with the registry's context that defines it: other verifiers ignore
    it, the registry's nodes show it."""
    credential: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": format_datetime(valid_from),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": bits.encode(),
        },
    }
    if reasons:
        subject = credential["credentialSubject"]
        subject["statusReasons"] = {str(i): reasons[i] for i in sorted(reasons) if bits.get(i)}
        if subject["statusReasons"]:
            # The registry's context defines statusReasons (a JSON literal): without it a
            # JSON-LD processor would drop the member.
            credential["@context"].append(TALENT_V1)
    if valid_until is not None:
        credential["validUntil"] = format_datetime(valid_until)
    return credential


def entry_status(entry: Mapping[str, Any], list_credential: Mapping[str, Any]) -> bool:
    """Whether the bit of ``entry`` is set in ``list_credential`` (§3.2 Validate
    Algorithm, steps after the list credential's own proof has been verified by the
    caller). Raises :class:`StatusListError` for anything that prevents an answer."""
    if entry.get("type") != "BitstringStatusListEntry":
        raise StatusListError("credentialStatus entry is not a BitstringStatusListEntry")
    purpose = entry.get("statusPurpose")
    url = entry.get("statusListCredential")
    if list_credential.get("id") != url:
        raise StatusListError("status list credential is not the one the entry names")
    types = list_credential.get("type")
    if not isinstance(types, list) or "BitstringStatusListCredential" not in types:
        raise StatusListError("not a BitstringStatusListCredential")
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("type") != "BitstringStatusList":
        raise StatusListError("status list credential has no BitstringStatusList subject")
    # §3.2 step 6: the purposes must match.
    if subject.get("statusPurpose") != purpose:
        raise StatusListError("status purpose of the entry and of the list differ")
    raw_index = entry.get("statusListIndex")
    if (
        not isinstance(raw_index, str)
        or not (raw_index.isascii() and raw_index.isdigit())
        or (len(raw_index) > 1 and raw_index[0] == "0")
    ):
        raise StatusListError("statusListIndex must be a decimal integer in a string")
    bits = Bitstring.decode(subject.get("encodedList", ""))
    index = int(raw_index)
    if index >= bits.length:
        raise StatusListError("statusListIndex is beyond the end of the list")  # RANGE_ERROR
    return bits.get(index)
