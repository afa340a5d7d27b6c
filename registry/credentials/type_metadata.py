"""SD-JWT VC Type Metadata of the registry's credential types (draft-ietf-oauth-sd-jwt-vc,
"SD-JWT VC Type Metadata").

Each ``vct`` the registry issues is an HTTPS URL (``sd_jwt_vc.VCT``); the Type Metadata
of that type "MAY be retrieved from it" with HTTP GET, as a JSON object. Every node
serves the three documents at the paths of their URLs (``GET /vct/<name>/v1``,
:mod:`registry.routes.contexts`), byte for byte the files shipped here, each pinned by
its SHA-256 and checked when first read. They name each type for people (``display``,
zh-CN and en) and each claim with its label, whether it is selectively disclosable
(``sd``: ``always`` / ``never``) and whether the issuer always includes it
(``mandatory``); ``tests/test_type_metadata.py`` holds issued credentials to that.

An SD-JWT VC the node issues carries ``vct#integrity``: W3C Subresource Integrity
metadata (``sha256-`` and the base64 of the SHA-256 of the exact bytes served), never
disclosable. A published version never changes: a change is a new URL (``…/v2``) and a
new file, so a credential's integrity stays true for as long as it exists.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from registry.contexts import read_pinned

VCT_BASE = "https://registry.yrd.example/vct/"
MEDIA_TYPE = "application/json"


@dataclass(frozen=True)
class PinnedType:
    vct: str
    filename: str
    sha256: str

    @property
    def path(self) -> str:
        """Where every node serves the document: the path of the vct URL."""
        return "/" + self.vct.removeprefix("https://").partition("/")[2]


PINNED = (
    PinnedType(
        f"{VCT_BASE}professional-title/v1",
        "vct-professional-title-v1.json",
        "c0755c8d4e5f01f848389c360c91172594c3ee6e733d43e062b4b6a13a6042a8",
    ),
    PinnedType(
        f"{VCT_BASE}professional-qualification/v1",
        "vct-professional-qualification-v1.json",
        "07a87e0b17828831dcaadfd39c6a857c4e1f460787b4e1d7c1ab7671477138c3",
    ),
    PinnedType(
        f"{VCT_BASE}vocational-skill/v1",
        "vct-vocational-skill-v1.json",
        "ebd7aac5638f7221037eba3e2b3c212c739b88b6f2d50e665f8efee14c8bc33e",
    ),
)
BY_VCT = {pinned.vct: pinned for pinned in PINNED}


@cache
def document_bytes(vct: str) -> bytes:
    """The exact bytes of the Type Metadata of ``vct`` (KeyError if it is not the
    registry's; :class:`registry.contexts.PinnedContextMismatch` if the file is damaged)."""
    pinned = BY_VCT[vct]
    return read_pinned(__name__.rpartition(".")[0], pinned.filename, pinned.sha256)


def document(vct: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(document_bytes(vct))
    return parsed


def integrity(vct: str) -> str:
    """``vct#integrity`` of the registry's type ``vct``: SRI metadata of the bytes served."""
    digest = bytes.fromhex(BY_VCT[vct].sha256)
    return "sha256-" + base64.b64encode(digest).decode("ascii")


_SRI_ALGORITHMS = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


def integrity_matches(metadata: str, data: bytes) -> bool | None:
    """Whether ``data`` matches the SRI ``metadata`` (W3C Subresource Integrity §3.3.5):
    of its hash expressions (``alg-base64``, options after ``?`` ignored, separated by
    whitespace), those of the strongest algorithm present must include the digest of
    ``data``. None when it holds no hash expression of a known algorithm (SRI would let
    that pass; a credential's integrity that says nothing is not taken as a match)."""
    expressions: list[tuple[str, str]] = []
    for token in re.split(r"[\t\n\f\r ]+", metadata):  # ASCII whitespace (SRI §3.3.3)
        algorithm, dash, value = token.partition("-")
        if dash and algorithm in _SRI_ALGORITHMS:
            expressions.append((algorithm, value.partition("?")[0]))
    if not expressions:
        return None
    strongest = max((a for a, _ in expressions), key=list(_SRI_ALGORITHMS).index)
    expected = base64.b64encode(_SRI_ALGORITHMS[strongest](data).digest()).decode("ascii")
    return any(a == strongest and v == expected for a, v in expressions)
