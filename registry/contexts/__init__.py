"""The JSON-LD contexts the registry pins: exact copies shipped in this package, each
with its SHA-256 recorded here and checked when it is first read.

Nothing is ever fetched: the eddsa-rdfc-2022 verifier canonicalizes with these
documents only (:func:`pinned_contexts`), and a document naming any other context is
refused. Every node serves the registry's own context at the path of its URL
(``GET /ns/talent/v1``, :mod:`registry.routes.contexts`), byte for byte the file here.

- ``https://www.w3.org/ns/credentials/v2``: the VC Data Model 2.0 base context (with
  the Data Integrity and Bitstring Status List terms), as W3C publishes it; its digest
  is the one the VC Data Model 2.0 gives (§5.3 Integrity of Related Resources, example
  "Use of the digestSRI property": ``sha384-l/HrjlBC…ZbYU``; ``digestMultibase``
  ``uEiBZlVztZpfWHgPyslVv6-UwirFoQoRvW1htfx963sknNA`` for SHA-256).
- ``https://registry.yrd.example/ns/talent/v1``: the registry's context, defining
  every term its credentials and status lists use beyond the base context, under the
  vocabulary ``https://registry.yrd.example/ns/talent#``. A published version never
  changes: a change of meaning is a new URL (``…/v2``) and a new file.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.signing.rdfc import PinnedContexts

VC_V2 = "https://www.w3.org/ns/credentials/v2"
TALENT_V1 = "https://registry.yrd.example/ns/talent/v1"
#: Where every node serves the registry's context (the path of its URL).
TALENT_V1_PATH = "/ns/talent/v1"
#: The vocabulary of the registry's terms.
TALENT_VOCABULARY = "https://registry.yrd.example/ns/talent#"
MEDIA_TYPE = "application/ld+json"


@dataclass(frozen=True)
class PinnedFile:
    url: str
    filename: str
    sha256: str


PINNED = (
    PinnedFile(
        VC_V2, "credentials-v2.jsonld", "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734"
    ),
    PinnedFile(
        TALENT_V1, "talent-v1.jsonld", "58ffc13daa1debdef3f57370b312402e4fcf9f43b38d5316151946b80f727401"
    ),
)
_BY_URL = {pinned.url: pinned for pinned in PINNED}


class PinnedContextMismatch(RuntimeError):
    """The packaged copy of a pinned document is not the pinned one (a damaged installation)."""


def read_pinned(package: str, filename: str, sha256: str) -> bytes:
    """The bytes of ``filename`` shipped in ``package``, checked against its pinned SHA-256
    (the registry's published documents: contexts, Type Metadata)."""
    data = resources.files(package).joinpath(filename).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise PinnedContextMismatch(f"{filename} has SHA-256 {digest}, not the pinned {sha256}")
    return data


@cache
def context_bytes(url: str) -> bytes:
    """The exact bytes of the pinned context ``url`` (KeyError if it is not pinned)."""
    pinned = _BY_URL[url]
    return read_pinned(__name__, pinned.filename, pinned.sha256)


def context_document(url: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(context_bytes(url))
    return document


def digest_sri(url: str) -> str:
    """The Subresource Integrity digest (``sha384-…``) of a pinned context, as VC Data
    Model 2.0 §5.3 ``relatedResource.digestSRI`` states it."""
    return "sha384-" + base64.b64encode(hashlib.sha384(context_bytes(url)).digest()).decode("ascii")


@cache
def pinned_contexts() -> PinnedContexts:
    """Every pinned context, for the eddsa-rdfc-2022 verifier (read once per process)."""
    from registry.signing.rdfc import PinnedContexts

    return PinnedContexts({pinned.url: context_document(pinned.url) for pinned in PINNED})
