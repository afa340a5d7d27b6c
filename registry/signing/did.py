"""DIDs and verification methods: ``did:key`` (Ed25519) resolution, ``did:web``
documents built from a key ring, and a resolver that finds a verification method,
its controller and the relationships (``assertionMethod`` …) it is listed under.

Fetching a ``did:web`` document is I/O, so the resolver takes it as an injected
callable; this module never touches the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, unquote

from registry.signing.errors import KeyMaterialError, ResolutionError, UnknownVerificationMethodError
from registry.signing.keyring import KeyRing
from registry.signing.keys import (
    Ed25519PublicKey,
    public_key_from_jwk,
    public_key_from_multikey,
    public_key_to_multikey,
)

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
RELATIONSHIPS = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
)


@dataclass(frozen=True)
class VerificationMethod:
    id: str
    controller: str
    public_key: Ed25519PublicKey
    relationships: frozenset[str]


class VerificationMethodResolver(Protocol):
    def resolve(self, verification_method_id: str) -> VerificationMethod: ...


# --- did:key --------------------------------------------------------------------


def did_key_from_public_key(key: Ed25519PublicKey) -> str:
    return "did:key:" + public_key_to_multikey(key)


def resolve_did_key(did: str) -> dict[str, Any]:
    """The DID document of an Ed25519 ``did:key`` (did:key method, §3.1.2)."""
    if not did.startswith("did:key:"):
        raise ResolutionError("not a did:key")
    multikey = did[len("did:key:") :]
    try:
        public_key_from_multikey(multikey)
    except KeyMaterialError as exc:
        raise ResolutionError(f"did:key does not hold an Ed25519 key: {exc.detail}") from None
    vm_id = f"{did}#{multikey}"
    document: dict[str, Any] = {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": did, "publicKeyMultibase": multikey}
        ],
    }
    for relationship in RELATIONSHIPS:
        document[relationship] = [vm_id]
    return document


# --- did:web --------------------------------------------------------------------


def did_web(host: str, *path: str) -> str:
    """``did:web`` for a host (with optional port) and path segments."""
    return ":".join(["did:web", host.replace(":", "%3A"), *(quote(p, safe="") for p in path)])


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_WEB_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?")
_BAD_SEGMENT = re.compile(r"[/?#\\@%\s]")


def did_web_url(did: str) -> str:
    """Where a ``did:web`` document lives (did:web method, §3.2 Read)."""
    if not did.startswith("did:web:"):
        raise ResolutionError("not a did:web")
    parts = did[len("did:web:") :].split(":")
    if not parts[0] or any(not p for p in parts):
        raise ResolutionError("did:web has an empty host or path segment")
    host = unquote(parts[0])
    if not _WEB_HOST.fullmatch(host):
        raise ResolutionError("did:web host is not a host name with an optional port")
    segments = [unquote(p) for p in parts[1:]]
    if any(_BAD_SEGMENT.search(p) or p in (".", "..") for p in segments):
        raise ResolutionError("did:web path segment is malformed")
    path = "/".join(segments)
    return f"https://{host}/{path}/did.json" if path else f"https://{host}/.well-known/did.json"


def did_web_document(did: str, ring: KeyRing, now: datetime) -> dict[str, Any]:
    """The DID document of a node: every key of the ring that has been activated and
    is not compromised. Retired keys stay listed (under ``assertionMethod`` too) so
    credentials signed before a rotation keep verifying with ordinary tools; the
    ring's history says when each was valid. Compromised keys are left out."""
    methods = [
        {
            "id": f"{did}#{record.kid}",
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": public_key_to_multikey(record.public_key),
        }
        for record in ring.published_at(now)
    ]
    ids = [m["id"] for m in methods]
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "authentication": ids,
        "assertionMethod": ids,
    }


# --- resolving verification methods -----------------------------------------------


MULTIBASE_METHOD_TYPES = frozenset({"Multikey", "Ed25519VerificationKey2020"})
JWK_METHOD_TYPES = frozenset({"JsonWebKey", "JsonWebKey2020"})


def _entries(document: Mapping[str, Any], name: str) -> list[Any]:
    value = document.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ResolutionError(f"DID document member {name} is not a list")
    return value


def verification_method_from_document(document: Mapping[str, Any], vm_id: str) -> VerificationMethod:
    """Find ``vm_id`` in a DID (controller) document and the relationships it has."""
    if not isinstance(document, Mapping):
        raise ResolutionError("DID document is not a JSON object")
    did = document.get("id")
    if not isinstance(did, str):
        raise ResolutionError("DID document has no id")

    def absolute(ref: str) -> str:
        return did + ref if ref.startswith("#") else ref

    found: Mapping[str, Any] | None = None
    embedded: dict[str, Mapping[str, Any]] = {}
    relationships = set()
    for relationship in RELATIONSHIPS:
        for entry in _entries(document, relationship):
            if isinstance(entry, str) and absolute(entry) == vm_id:
                relationships.add(relationship)
            elif isinstance(entry, Mapping) and absolute(str(entry.get("id", ""))) == vm_id:
                relationships.add(relationship)
                embedded[vm_id] = entry
    for entry in _entries(document, "verificationMethod"):
        if isinstance(entry, Mapping) and absolute(str(entry.get("id", ""))) == vm_id:
            found = entry
            break
    found = found or embedded.get(vm_id)
    if found is None:
        raise ResolutionError(f"verification method {vm_id} is not in the DID document of {did}")
    controller = found.get("controller")
    if not isinstance(controller, str):
        raise ResolutionError(f"verification method {vm_id} has no controller")
    # A method found in the document of DID X speaks for X only. A document that names
    # someone else as controller of its own key would otherwise let any DID claim to
    # sign for any issuer; this resolver does not follow such delegations.
    if controller != did or not vm_id.startswith(did + "#"):
        raise ResolutionError(f"verification method {vm_id} is not controlled by the DID {did}")
    method_type = found.get("type")
    try:
        if method_type in MULTIBASE_METHOD_TYPES and "publicKeyJwk" not in found:
            public_key = public_key_from_multikey(found.get("publicKeyMultibase"))  # type: ignore[arg-type]
        elif method_type in JWK_METHOD_TYPES and "publicKeyMultibase" not in found:
            public_key = public_key_from_jwk(found.get("publicKeyJwk"))  # type: ignore[arg-type]
        else:
            raise ResolutionError(
                f"verification method {vm_id} is not a Multikey or JsonWebKey with exactly one public key"
            )
    except KeyMaterialError as exc:
        raise ResolutionError(f"verification method {vm_id}: {exc.detail}") from None
    return VerificationMethod(vm_id, controller, public_key, frozenset(relationships))


class DidResolver:
    """Resolves ``did:key`` locally and ``did:web`` through ``fetch_did_web``, which
    takes a DID and returns its document (and may cache it). did:key results are
    memoized: they never change."""

    def __init__(self, fetch_did_web: Callable[[str], Mapping[str, Any]] | None = None) -> None:
        self._fetch_did_web = fetch_did_web
        self._did_key_cache: dict[str, VerificationMethod] = {}

    def resolve(self, verification_method_id: str) -> VerificationMethod:
        if not isinstance(verification_method_id, str):
            raise ResolutionError("verification method id must be a string")
        did, sep, fragment = verification_method_id.partition("#")
        if not sep or not fragment:
            raise ResolutionError("verification method id must be a DID URL with a fragment")
        if did.startswith("did:key:"):
            cached = self._did_key_cache.get(verification_method_id)
            if cached is None:
                key_document = resolve_did_key(did)
                # did:key §3.1.2: the document is derived from the DID and holds one
                # method, whose fragment is the key's multibase value; any other
                # fragment names a method this DID never had.
                if fragment != did[len("did:key:") :]:
                    raise UnknownVerificationMethodError(
                        f"{did} has no verification method #{_short(fragment)}: "
                        "a did:key has one, named by its key"
                    )
                cached = verification_method_from_document(key_document, verification_method_id)
                if len(self._did_key_cache) < 10_000:
                    self._did_key_cache[verification_method_id] = cached
            return cached
        if did.startswith("did:web:") and self._fetch_did_web is not None:
            try:
                document = self._fetch_did_web(did)
            except LookupError:
                raise ResolutionError(f"no DID document for {did}") from None
            if not isinstance(document, Mapping) or document.get("id") != did:
                raise ResolutionError("fetched DID document is about another DID")
            return verification_method_from_document(document, verification_method_id)
        raise ResolutionError(f"cannot resolve DID method of {did}")


def _short(value: str) -> str:
    """An untrusted identifier for an error message, cut to a readable size."""
    return value if len(value) <= 64 else value[:61] + "..."
