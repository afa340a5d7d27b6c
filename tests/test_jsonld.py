"""The registry's JSON-LD context: pinned, served from every node, and complete.

- JSON-LD 1.1 §3.1 / §4.1: a credential's ``@context`` URLs must resolve to the contexts
  that define its terms; VC Data Model 2.0 §4.3 (Contexts) and §5.3 (Integrity of
  Related Resources): the base context is https://www.w3.org/ns/credentials/v2, whose
  digests W3C publishes, and further contexts should be stable and integrity-checked.
- JSON-LD 1.1 Processing Algorithms §5.1.2 (Expansion, step 13.4 and 14.2): a member
  whose term no context defines is dropped from the expanded form; "safe mode" (the
  option jsonld.js and Data Integrity 1.0 speak of) makes that an error. PyLD has no
  ``safe`` option; it reports each dropped member to an ``on_property_dropped``
  handler, which these tests use directly, independently of the registry's own
  safe-mode expansion.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyld.context_resolver import ContextResolver
from pyld.jsonld import JsonLdProcessor

from registry.contexts import (
    PINNED,
    TALENT_V1,
    TALENT_V1_PATH,
    TALENT_VOCABULARY,
    VC_V2,
    context_bytes,
    context_document,
    digest_sri,
    pinned_contexts,
)
from registry.credentials.issuance import REGISTRY_CONTEXT
from registry.credentials.status_list import Bitstring, status_list_credential
from registry.signing.rdfc import ContextNotPinnedError, PinnedContexts, UnsafeJsonLdError
from tests.conftest import Actors, issue_row, resident_id

#: VC Data Model 2.0 §5.3, example "Use of the digestMultibase property" (SHA2-256 of
#: https://www.w3.org/ns/credentials/v2, base64url multihash) and the SHA2-384
#: digestSRI of the same document (https://www.w3.org/TR/vc-data-model-2.0/#integrity-of-related-resources).
VC_V2_DIGEST_MULTIBASE = "uEiBZlVztZpfWHgPyslVv6-UwirFoQoRvW1htfx963sknNA"
VC_V2_DIGEST_SRI = "sha384-l/HrjlBCNWyAX91hr6LFV2Y3heB5Tcr6IeE4/Tje8YyzYBM8IhqjHWiWpr8+ZbYU"
XSD_DATE = "http://www.w3.org/2001/XMLSchema#date"


def pinned_only_loader(url: str, options: Any = None) -> dict[str, Any]:
    """A document loader for PyLD that serves the pinned files and fails otherwise."""
    if url not in {p.url for p in PINNED}:
        raise AssertionError(f"the test tried to load {url}, which is not pinned")
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": json.loads(context_bytes(url))}  # fmt: skip


def expand_reporting_drops(document: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Plain PyLD expansion with the pinned loader; the members it dropped."""
    dropped: list[Any] = []
    processor = JsonLdProcessor(on_property_dropped=dropped.append)
    options = {
        "documentLoader": pinned_only_loader,
        "contextResolver": ContextResolver({}, pinned_only_loader),
        "processingMode": "json-ld-1.1",
    }
    return processor.expand(json.loads(json.dumps(document)), options), dropped


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {k for k in value if k != "@context"}
        for k, v in value.items():
            if k != "@context":
                found |= keys_of(v)
        return found
    if isinstance(value, list):
        return set().union(*(keys_of(v) for v in value)) if value else set()
    return set()


def leaves_of(value: Any, key: str = "") -> set[str]:
    """Every string value (not @context URLs; not the type names or the proof purpose,
    which are vocabulary terms and become IRIs; not language tags, which stay tags)."""
    if isinstance(value, dict):
        return set().union(set(), *(leaves_of(v, k) for k, v in value.items() if k != "@context"))
    if isinstance(value, list):
        return set().union(set(), *(leaves_of(v, key) for v in value))
    if isinstance(value, str) and key not in ("type", "@type", "proofPurpose", "@language"):
        return {value}
    return set()


def expanded_properties(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "@value" in value:  # a literal (an @json one is a JSON value, not properties)
            return set()
        found = {k for k in value if not k.startswith("@")}
        for v in value.values():
            found |= expanded_properties(v)
        return found
    if isinstance(value, list):
        return set().union(set(), *(expanded_properties(v) for v in value))
    return set()


def expanded_strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        if value.get("@type") == "@json":
            return leaves_of(value["@value"])
        found = {v for k, v in value.items() if k in ("@value", "@id") and isinstance(v, str)}
        for v in value.values():
            found |= expanded_strings(v)
        return found
    if isinstance(value, list):
        return set().union(set(), *(expanded_strings(v) for v in value))
    return set()


def assert_nothing_lost(document: dict[str, Any]) -> list[Any]:
    expanded, dropped = expand_reporting_drops(document)
    assert dropped == [], f"terms no context defines: {dropped}"
    # Nothing left relative (JSON-LD to RDF drops relative IRIs too) and every value kept.
    properties = expanded_properties(expanded)
    assert all(":" in p for p in properties), properties
    assert leaves_of(document) <= expanded_strings(expanded), leaves_of(document) - expanded_strings(expanded)
    # The registry's own safe-mode expansion agrees.
    assert pinned_contexts().expand(document) == expanded
    return expanded


# --- pinned copies ----------------------------------------------------------------


def test_each_pinned_context_file_has_its_recorded_sha256() -> None:
    for pinned in PINNED:
        assert hashlib.sha256(context_bytes(pinned.url)).hexdigest() == pinned.sha256


def test_the_base_context_is_the_one_w3c_publishes() -> None:
    """VC Data Model 2.0 §5.3 gives the base context's digests; the pinned copy has them."""
    data = context_bytes(VC_V2)
    multihash = b"\x12\x20" + hashlib.sha256(data).digest()
    assert "u" + base64.urlsafe_b64encode(multihash).decode().rstrip("=") == VC_V2_DIGEST_MULTIBASE
    assert digest_sri(VC_V2) == VC_V2_DIGEST_SRI
    assert "@vocab" not in context_document(VC_V2)["@context"]  # undefined terms are not absorbed


def test_credentials_name_the_pinned_registry_context() -> None:
    assert REGISTRY_CONTEXT == TALENT_V1
    assert TALENT_V1.endswith(TALENT_V1_PATH)
    document = context_document(TALENT_V1)["@context"]
    assert document["@protected"] is True
    assert document["@version"] == 1.1


def test_a_context_that_is_not_pinned_is_never_loaded() -> None:
    contexts = PinnedContexts({VC_V2: context_document(VC_V2)})
    with pytest.raises(ContextNotPinnedError, match="never fetched"):
        contexts.expand({"@context": [VC_V2, TALENT_V1], "type": ["VerifiableCredential"]})


# --- served from every node ---------------------------------------------------------


def test_every_node_serves_the_registry_context_byte_for_byte(client: TestClient) -> None:
    response = client.get(TALENT_V1_PATH)
    assert response.status_code == 200
    assert response.content == context_bytes(TALENT_V1)
    assert response.headers["content-type"] == "application/ld+json"
    assert "immutable" in response.headers["cache-control"]
    assert "max-age=31536000" in response.headers["cache-control"]
    pinned = next(p for p in PINNED if p.url == TALENT_V1)
    assert response.headers["etag"] == f'"sha256-{pinned.sha256}"'
    assert hashlib.sha256(response.content).hexdigest() == pinned.sha256
    again = client.get(TALENT_V1_PATH, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


# --- complete: an issued credential expands and loses no term -----------------------


@pytest.mark.parametrize("type_code", ["ENG-ASSOCIATE_SENIOR", "QUAL-CONSTRUCTOR-1", "SKILL-LEVEL-1"])
def test_an_issued_credential_expands_in_safe_mode_losing_no_term(
    client: TestClient, actors: Actors, type_code: str
) -> None:
    row = issue_row(typeCode=type_code, idNumber=resident_id(7), validUntil="2036-11-20T00:00:00Z")
    response = client.post("/v1/credentials", json=row, headers=actors.officer())
    assert response.status_code == 201, response.text
    vc = response.json()["verifiableCredential"]
    assert vc["@context"][:2] == [VC_V2, TALENT_V1]
    expanded = assert_nothing_lost(vc)
    properties = expanded_properties(expanded)
    subject = vc["credentialSubject"]
    registry_terms = keys_of(subject) - {"id", "name"}
    for term in registry_terms:
        assert TALENT_VOCABULARY + term in properties or term in ("zh", "en"), term
    # The credential's type is the registry's, and the award date is an xsd:date.
    node = expanded[0]
    assert any(t.startswith(TALENT_VOCABULARY) for t in node["@type"])
    subject_node = node["https://www.w3.org/2018/credentials#credentialSubject"][0]
    awarded = subject_node[TALENT_VOCABULARY + "awardedOn"][0]
    assert awarded == {"@value": subject["awardedOn"], "@type": XSD_DATE}
    # The type's name is a language map: schema:name with @zh and @en values.
    kind = TALENT_VOCABULARY + ("title" if "title" in subject else "qualification")
    names = subject_node[kind][0]["https://schema.org/name"]
    assert {n["@language"] for n in names} == {"zh", "en"}


def test_a_status_list_with_reasons_expands_losing_no_term() -> None:
    """``statusReasons`` (reason codes of set bits) is defined, as a JSON literal."""
    bits = Bitstring(131_072)
    bits.set(94567, True)
    credential = status_list_credential(
        "https://node.example/status/revocation/1",
        "did:web:node.example",
        "revocation",
        bits,
        datetime(2026, 11, 27, tzinfo=UTC),
        reasons={94567: "research-misconduct"},
    )
    # The list names the context that defines statusReasons (with no reasons, only VC 2.0's).
    assert credential["@context"] == [VC_V2, TALENT_V1]
    expanded = assert_nothing_lost(credential)
    subject = expanded[0]["https://www.w3.org/2018/credentials#credentialSubject"][0]
    reasons = subject[TALENT_VOCABULARY + "statusReasons"][0]
    assert reasons == {"@value": {"94567": "research-misconduct"}, "@type": "@json"}


def test_a_member_no_context_defines_is_refused_in_safe_mode(client: TestClient, actors: Actors) -> None:
    response = client.post("/v1/credentials", json=issue_row(), headers=actors.officer())
    vc = response.json()["verifiableCredential"]
    vc["credentialSubject"]["favouriteColour"] = "blue"
    _, dropped = expand_reporting_drops(vc)
    assert dropped  # plain JSON-LD expansion would silently lose it
    with pytest.raises(UnsafeJsonLdError, match="favouriteColour"):
        pinned_contexts().expand(vc)


def test_the_registry_context_cannot_be_overridden_after_it() -> None:
    """@protected: a later context redefining a registry term is an error (JSON-LD 1.1
    §4.1.11), so nobody can append a context that changes what a credential says."""
    document = {
        "@context": [VC_V2, TALENT_V1, {"certificateNumber": "https://attacker.example/#n"}],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"certificateNumber": "32-2026-0000001"},
    }
    with pytest.raises(UnsafeJsonLdError, match="protected term redefinition"):
        pinned_contexts().expand(document)


def test_a_sample_credential_expands_losing_no_term() -> None:
    """Issue 9 point 3: a sample says so in its type (``SampleCredential``, defined by the
    registry context) and in its name and description; nothing of it is dropped."""
    from registry.credentials.sample import unsaved_sample

    sample = unsaved_sample("31", "https://hrss.sh.example", datetime(2026, 11, 27, tzinfo=UTC))
    assert isinstance(sample, dict)
    assert "SampleCredential" in sample["type"]
    expanded = assert_nothing_lost(sample)
    assert TALENT_VOCABULARY + "SampleCredential" in expanded[0]["@type"]


def test_a_recognition_credential_expands_losing_no_term(client: TestClient) -> None:
    """A recognition credential (registry.federation.applications) names the credential
    it recognises in ``recognitionOf``, whose ``issuer`` its scoped context defines (the
    VC 2.0 ``issuer`` is scoped to VerifiableCredential and does not reach it)."""
    from registry.auth import CLI_PRINCIPAL as CLI
    from registry.credentials import catalogue, issuance
    from registry.models import Credential
    from registry.routes.issuance import context as issuance_context

    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session() as session:
        issued = issuance.issue_recognition(
            session,
            CLI,
            issuance_context(node, session),
            catalogue.get_type(session, "ENG-ASSOCIATE_SENIOR"),
            issuance.Recognised(
                peer_entity="https://anhui.example",
                credential_id="urn:uuid:0193f0c2-5d6e-7a4b-9c1d-2e3f4a5b6c7d",
                issuer="did:web:anhui.example",
                province="34",
                certificate_number="34-2026-0000042",
                subject_id="urn:uuid:0193f0c2-0000-7a4b-9c1d-2e3f4a5b6c7d",
                holder_name="许晴",
                holder_commitment="sha256:" + "A" * 43,
                specialty="电气工程及其自动化",
                evaluation_committee="安徽省工程系列高级职称评审委员会",
                awarded_on=datetime(2025, 6, 30).date(),
                digest_multibase="uEiA" + "A" * 43,
            ),
        )
        document = json.loads(session.get(Credential, issued.id).document)  # type: ignore[union-attr]
    assert "RecognitionCredential" in document["type"]
    expanded = assert_nothing_lost(document)
    subject = expanded[0]["https://www.w3.org/2018/credentials#credentialSubject"][0]
    of = subject[TALENT_VOCABULARY + "recognitionOf"][0]
    assert of["https://www.w3.org/2018/credentials#issuer"] == [{"@id": "did:web:anhui.example"}]
    assert of["@id"] == "urn:uuid:0193f0c2-5d6e-7a4b-9c1d-2e3f4a5b6c7d"
