"""RDF Dataset Canonicalization (RDFC-1.0) of JSON-LD documents with pinned contexts,
the transformation of the ``eddsa-rdfc-2022`` cryptosuite (Data Integrity EdDSA
Cryptosuites v1.0, §3.2.3 Transformation and §3.2.5 Proof Configuration).

JSON-LD gives a document its meaning through its ``@context``; a context fetched at
verification time would let whoever serves it change what a signed document says, and
would make every verification depend on the network. So nothing is ever fetched here:
a :class:`PinnedContexts` holds the exact documents its caller pins (URL -> JSON-LD
document) and refuses any other URL with :class:`ContextNotPinnedError`.

Expansion is in *safe mode* (the behaviour Data Integrity 1.0 asks of RDFC-based
cryptosuites, JSON-LD 1.1 processors' ``safe`` option): a member whose name no context
defines, or a relative IRI, would be silently left out of the canonical form and so
of what the signature covers, while a JSON reader of the same document still sees it.
Such a document is refused (:class:`UnsafeJsonLdError`) instead of being signed or
verified without it.

RDFC-1.0 §4.4 (and its security considerations) asks implementations to bound the
work a crafted, blank-node-heavy ("poison") dataset can cause: the number of Hash
N-Degree Quads calls and the size of the lists whose permutations are tried are
bounded here (:class:`CanonicalizationLimitError`).

Pure: no file, network or database access; the pinned documents are given.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pyld.canon import URDNA2015
from pyld.context_resolver import ContextResolver
from pyld.jsonld import JsonLdError, JsonLdProcessor

from registry.signing.errors import ProofConfigurationError

#: Hash N-Degree Quads calls one canonicalization may make (RDFC-1.0 §4.4: bound the
#: "deep iterations"). A credential's blank nodes are few and mostly distinguishable by
#: their first-degree hashes: it needs none or a handful.
MAX_DEEP_HASHES = 1_000
#: The largest set of blank nodes with one related hash whose permutations are tried
#: (6! = 720 orderings per call).
MAX_PERMUTED = 6


class ContextNotPinnedError(ProofConfigurationError):
    """A document names a JSON-LD context this verifier does not hold."""

    slug = "context-not-pinned"
    title = "JSON-LD context is not pinned"


class UnsafeJsonLdError(ProofConfigurationError):
    """Safe mode: expansion would drop a member or keep a relative IRI."""

    slug = "unsafe-json-ld"
    title = "JSON-LD document is not fully defined by its contexts"


class CanonicalizationLimitError(ProofConfigurationError):
    slug = "canonicalization-limit"
    title = "RDF canonicalization needs more work than allowed"


class _OnlyPinned(dict[str, Any]):
    """The resolved-context cache shared by the operations of one thread: it keeps the
    pinned URLs' resolved contexts and nothing else (a document's inline contexts would
    otherwise pile up in it)."""

    def __init__(self, urls: frozenset[str]) -> None:
        super().__init__()
        self._urls = urls

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self._urls:
            super().__setitem__(key, value)


class _BoundedCanonicalizer(URDNA2015):  # type: ignore[misc]
    """RDFC-1.0 (the algorithm URDNA2015 became, same output for SHA-256) with the
    work bounds of RDFC-1.0 §4.4."""

    def __init__(self) -> None:
        super().__init__()
        self._deep_hashes = 0

    def hash_n_degree_quads(self, id_: str, issuer: Any) -> Any:
        self._deep_hashes += 1
        if self._deep_hashes > MAX_DEEP_HASHES:
            raise CanonicalizationLimitError(
                f"canonicalization needs over {MAX_DEEP_HASHES} Hash N-Degree Quads steps (RDFC-1.0 §4.4)"
            )
        return super().hash_n_degree_quads(id_, issuer)

    def create_hash_to_related(self, id_: str, issuer: Any) -> Any:
        related = super().create_hash_to_related(id_, issuer)
        if any(len(nodes) > MAX_PERMUTED for nodes in related.values()):
            raise CanonicalizationLimitError(
                f"over {MAX_PERMUTED} indistinguishable related blank nodes (RDFC-1.0 §4.4)"
            )
        return related


class PinnedContexts:
    """The JSON-LD contexts a document may use, by URL, and nothing else.

    ``documents`` maps each context URL to its JSON-LD document (a JSON object with
    an ``@context`` member). They are copied: later changes to the mapping do not
    reach this object. Safe to share between threads (each thread keeps its own cache
    of processed contexts)."""

    def __init__(self, documents: Mapping[str, Mapping[str, Any]]) -> None:
        pinned: dict[str, dict[str, Any]] = {}
        for url, document in documents.items():
            if not isinstance(document, Mapping) or "@context" not in document:
                raise ValueError(f"pinned document for {url} is not a JSON-LD context document")
            # A JSON round trip: plain dicts and lists, nothing shared with the caller.
            pinned[url] = json.loads(json.dumps(document))
        self._documents = pinned
        self._urls = frozenset(pinned)
        self._local = threading.local()

    @property
    def urls(self) -> frozenset[str]:
        return self._urls

    def load(self, url: str, options: Any = None) -> dict[str, Any]:
        """A PyLD document loader that serves the pinned documents only."""
        document = self._documents.get(url)
        if document is None:
            raise ContextNotPinnedError(
                f"the JSON-LD context {url} is not one this verifier holds pinned; contexts "
                "are never fetched, so a document using it cannot be canonicalized"
            )
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": copy.deepcopy(document),
            # "static": PyLD may keep the processed context in the resolver's cache.
            "tag": "static",
        }

    def _options(self) -> dict[str, Any]:
        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = _OnlyPinned(self._urls)
        return {
            "documentLoader": self.load,
            "contextResolver": ContextResolver(cache, self.load),
            "processingMode": "json-ld-1.1",
            "base": "",
        }

    def expand(self, document: Mapping[str, Any]) -> list[Any]:
        """JSON-LD 1.1 expansion in safe mode (see the module's documentation)."""
        processor = _SafeProcessor()
        with _translated_errors():
            expanded: list[Any] = processor.expand(_plain(document), self._options())
        return expanded

    def canonicalize(self, document: Mapping[str, Any]) -> str:
        """The RDFC-1.0 canonical N-Quads of ``document`` (safe-mode expansion first)."""
        processor = _SafeProcessor()
        with _translated_errors():
            # JSON-LD to RDF expands the document once, through the safe-mode check.
            dataset = processor.to_rdf(_plain(document), self._options())
            if not processor.checked:
                # Fail closed should a PyLD version convert without calling expand().
                raise UnsafeJsonLdError("the JSON-LD processor converted the document unchecked")
            canonical: str = _BoundedCanonicalizer().main(dataset, {"format": "application/n-quads"})
        return canonical


class _SafeProcessor(JsonLdProcessor):  # type: ignore[misc]
    """PyLD's processor whose expansion is in safe mode: a dropped member (reported by
    PyLD to ``on_property_dropped``) or a relative IRI is an error."""

    def __init__(self) -> None:
        self.dropped: list[str | None] = []
        super().__init__(on_property_dropped=self.dropped.append)
        self.checked = False

    def expand(self, input_: Any, options: Any) -> Any:
        expanded = super().expand(input_, options)
        if self.dropped:
            names = ", ".join(sorted({str(name) for name in self.dropped}))
            raise UnsafeJsonLdError(
                f"the document's contexts do not define {names}: it would not be covered by an "
                "RDF canonical form (JSON-LD safe mode)"
            )
        for problem in _relative_iris(expanded):
            raise UnsafeJsonLdError(f"{problem} (JSON-LD safe mode)")
        self.checked = True
        return expanded


def _plain(document: Mapping[str, Any]) -> Any:
    # PyLD walks dicts and lists only (and may annotate what it is given).
    return json.loads(json.dumps(document))


@contextmanager
def _translated_errors() -> Iterator[None]:
    """PyLD's errors as signing errors (a loader's own error is their ``__cause__``)."""
    try:
        yield
    except ProofConfigurationError:
        raise
    except (JsonLdError, ValueError, TypeError, KeyError, RecursionError) as error:
        cause: BaseException | None = error
        while cause is not None:
            if isinstance(cause, ProofConfigurationError):
                raise cause from None
            cause = cause.__cause__ or cause.__context__
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        code = getattr(error, "code", None)
        detail = f"{message} ({code})" if code else message
        raise UnsafeJsonLdError(f"not a JSON-LD document that can be canonicalized: {detail}") from None


def _is_absolute(iri: Any) -> bool:
    return isinstance(iri, str) and (":" in iri)


def _relative_iris(node: Any, where: str = "document") -> Iterator[str]:
    """Every ``@id`` or ``@type`` of an expanded document that is not an absolute IRI or
    a blank node identifier: RDF conversion would drop what it names."""
    if isinstance(node, list):
        for item in node:
            yield from _relative_iris(item, where)
        return
    if not isinstance(node, dict):
        return
    identifier = node.get("@id")
    if identifier is not None and not _is_absolute(identifier):
        yield f"{where} has a relative identifier {identifier!r}"
    types = node.get("@type")
    if "@value" in node:
        if types is not None and types != "@json" and not _is_absolute(types):
            yield f"{where} has a value of the relative datatype {types!r}"
        return
    for typ in types if isinstance(types, list) else [] if types is None else [types]:
        if not _is_absolute(typ):
            yield f"{where} has the type {typ!r}, which no context defines"
    for key, value in node.items():
        if key in ("@id", "@type", "@value", "@language", "@direction", "@index"):
            continue
        yield from _relative_iris(value, key if not key.startswith("@") else where)
