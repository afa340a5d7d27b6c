"""DIDs: did:key documents, did:web URLs and node documents built from a key ring,
and the resolver that finds a verification method, its controller and relationships.
did:web documents come from an injected fetcher (a dict here); nothing touches the network."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registry.signing.did import (
    DID_CONTEXT,
    MULTIKEY_CONTEXT,
    RELATIONSHIPS,
    DidResolver,
    did_key_from_public_key,
    did_web,
    did_web_document,
    did_web_url,
    resolve_did_key,
    verification_method_from_document,
)
from registry.signing.encoding import ED25519_PRIV, ED25519_PUB, b58_encode, b64url_encode, multibase_decode
from registry.signing.errors import ResolutionError, SigningError
from registry.signing.keyring import KeyRing
from registry.signing.keys import (
    Ed25519PrivateKey,
    generate_private_key,
    jwk_thumbprint,
    private_key_from_multikey,
    public_key_raw,
    public_key_to_jwk,
    public_key_to_multikey,
)
from tests.conftest import DidKeyIssuer, load_vector_json

# The example of the did:key method specification (§2, Ed25519).
SPEC_DID_KEY = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"

NODE = "did:web:registry.jiangsu.example:nodes:32"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 6, 1, tzinfo=UTC)
RAW = bytes(range(1, 33))


def kid_of(key: Ed25519PrivateKey) -> str:
    return jwk_thumbprint(key.public_key())


def multikey_of(key: Ed25519PrivateKey) -> str:
    return public_key_to_multikey(key.public_key())


class Fetcher:
    """A did:web fetcher over a dict of documents that counts its calls."""

    def __init__(self, documents: Mapping[str, Mapping[str, Any]]) -> None:
        self.documents = documents
        self.calls: list[str] = []

    def __call__(self, did: str) -> Mapping[str, Any]:
        self.calls.append(did)
        return self.documents[did]


def web_document(did: str, key: Ed25519PrivateKey, **relationships: list[Any]) -> dict[str, Any]:
    """A did:web document with one Multikey ``#k1`` and the relationships given."""
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [
            {"id": f"{did}#k1", "type": "Multikey", "controller": did, "publicKeyMultibase": multikey_of(key)}
        ],
        **relationships,
    }


def resolver_for(*documents: dict[str, Any]) -> DidResolver:
    return DidResolver(Fetcher({d["id"]: d for d in documents}))


def test_resolution_error_is_a_signing_error() -> None:
    assert issubclass(ResolutionError, SigningError)
    assert ResolutionError.slug == "unresolvable-verification-method"


# --- did:key ----------------------------------------------------------------------------------


def test_did_key_from_public_key(issuer: DidKeyIssuer) -> None:
    assert issuer.did == "did:key:" + multikey_of(issuer.key)
    assert issuer.did.startswith("did:key:z6Mk")


def test_did_key_of_the_w3c_key_pair() -> None:
    pair = load_vector_json("eddsa-jcs-2022", "keyPair.json")
    key = private_key_from_multikey(pair["privateKeyMultibase"])
    assert did_key_from_public_key(key.public_key()) == "did:key:" + pair["publicKeyMultibase"]


def test_did_key_document_shape() -> None:
    multikey = SPEC_DID_KEY.removeprefix("did:key:")
    vm_id = f"{SPEC_DID_KEY}#{multikey}"
    assert resolve_did_key(SPEC_DID_KEY) == {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": SPEC_DID_KEY,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": SPEC_DID_KEY, "publicKeyMultibase": multikey}
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
    }


@pytest.mark.parametrize(
    "did",
    [
        "did:key:",
        "did:key:z",
        "did:key:zzz",
        "did:key:z0OIl",
        "did:key:" + "z" + b58_encode(bytes([0xEC, 0x01]) + RAW),  # X25519 (z6LS…)
        "did:key:" + "z" + b58_encode(bytes([0xE7, 0x01, 0x02]) + RAW),  # secp256k1 (zQ3s…)
        "did:key:" + "z" + b58_encode(bytes([0x80, 0x24, 0x02]) + RAW),  # P-256 (zDn…)
        "did:key:" + "z" + b58_encode(ED25519_PRIV + RAW),  # a secret key
        "did:key:" + "z" + b58_encode(ED25519_PUB + RAW[:31]),
        SPEC_DID_KEY + "#frag",
        SPEC_DID_KEY + ":extra",
        "did:web:example.com",
        "did:example:123",
        "",
    ],
)
def test_resolve_did_key_rejects(did: str) -> None:
    with pytest.raises(ResolutionError):
        resolve_did_key(did)


def test_resolve_did_key_requires_base58btc() -> None:
    """did:key §2: the identifier is MULTIBASE(base58-btc, …), so one key has one DID."""
    with pytest.raises(ResolutionError):
        resolve_did_key("did:key:u" + b64url_encode(multibase_decode(SPEC_DID_KEY.removeprefix("did:key:"))))


# --- did:web -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json"),
        ("did:web:example.com%3a3000:u", "https://example.com:3000/u/did.json"),
        ("did:web:registry.jiangsu.example:nodes:32", "https://registry.jiangsu.example/nodes/32/did.json"),
    ],
)
def test_did_web_url(did: str, url: str) -> None:
    assert did_web_url(did) == url


@pytest.mark.parametrize(
    "did",
    [
        "did:web:",
        "did:web::user",
        "did:web:example.com:",
        "did:web:example.com::alice",
        "did:web:example.com:user:",
        "did:web:example.com%2Fevil",  # '/' in the host
        "did:web:user%40example.com",  # userinfo
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "did:webs:example.com",
        "web:example.com",
    ],
)
def test_did_web_url_rejects(did: str) -> None:
    with pytest.raises(ResolutionError):
        did_web_url(did)


@pytest.mark.parametrize(
    "host",
    [
        "example.com%23",  # would become https://example.com#/.well-known/did.json
        "example.com%3Fx",
        "evil.example%5Cexample.com",
        "example.com%3A",
        "example.com%3Aport",
        "-example.com",
        "example..com",
        "exa%20mple.com",
    ],
)
def test_did_web_url_rejects_hosts_that_are_not_host_names(host: str) -> None:
    with pytest.raises(ResolutionError):
        did_web_url("did:web:" + host)


@pytest.mark.parametrize(
    "segment", ["%2E%2E", "..", ".", "a%2Fb", "a%3Fb", "a%23b", "a%5Cb", "a%40b", "a%20b", "a%25b"]
)
def test_did_web_url_rejects_malformed_path_segments(segment: str) -> None:
    with pytest.raises(ResolutionError):
        did_web_url(f"did:web:example.com:{segment}:did")


@pytest.mark.parametrize(
    ("host", "path", "did", "url"),
    [
        (
            "w3c-ccg.github.io",
            (),
            "did:web:w3c-ccg.github.io",
            "https://w3c-ccg.github.io/.well-known/did.json",
        ),
        (
            "w3c-ccg.github.io",
            ("user", "alice"),
            "did:web:w3c-ccg.github.io:user:alice",
            "https://w3c-ccg.github.io/user/alice/did.json",
        ),
        (
            "example.com:3000",
            (),
            "did:web:example.com%3A3000",
            "https://example.com:3000/.well-known/did.json",
        ),
        (
            "localhost:8032",
            ("nodes", "32"),
            "did:web:localhost%3A8032:nodes:32",
            "https://localhost:8032/nodes/32/did.json",
        ),
    ],
)
def test_did_web_is_the_inverse_of_did_web_url(host: str, path: tuple[str, ...], did: str, url: str) -> None:
    assert did_web(host, *path) == did
    assert did_web_url(did_web(host, *path)) == url


# --- did:web documents from a key ring -------------------------------------------------------------


class NodeKeys:
    """A ring with a compromised, a retired, an active, a staged and a future key."""

    def __init__(self) -> None:
        self.compromised, self.retired, self.active, self.staged, self.future = (
            generate_private_key() for _ in range(5)
        )
        self.now = T1 + timedelta(days=2)
        self.ring = (
            KeyRing.start(self.compromised, T0)
            .rotate(self.retired, T0 + timedelta(days=30))
            .mark_compromised(kid_of(self.compromised), T0 + timedelta(days=10))
            .rotate(self.active, T1)
            .with_key(self.staged, T1 + timedelta(days=1), activate=False)
            .rotate(self.future, self.now + timedelta(days=1))  # activated after `now`
        )

    def vm(self, key: Ed25519PrivateKey) -> str:
        return f"{NODE}#{kid_of(key)}"


@pytest.fixture
def node() -> NodeKeys:
    return NodeKeys()


def test_did_web_document_lists_retired_and_active_keys_only(node: NodeKeys) -> None:
    document = did_web_document(NODE, node.ring, node.now)
    expected = [node.vm(node.retired), node.vm(node.active)]
    assert document["@context"] == [DID_CONTEXT, MULTIKEY_CONTEXT]
    assert document["id"] == NODE
    assert [m["id"] for m in document["verificationMethod"]] == expected
    assert document["authentication"] == expected
    assert document["assertionMethod"] == expected
    for method, key in zip(document["verificationMethod"], (node.retired, node.active), strict=True):
        assert method == {
            "id": node.vm(key),
            "type": "Multikey",
            "controller": NODE,
            "publicKeyMultibase": multikey_of(key),
        }


def test_did_web_document_lists_a_key_from_its_activation(node: NodeKeys) -> None:
    later = node.now + timedelta(days=1)
    ids = [m["id"] for m in did_web_document(NODE, node.ring, later)["verificationMethod"]]
    assert ids == [node.vm(node.retired), node.vm(node.active), node.vm(node.future)]


def test_did_web_document_resolves_through_the_resolver(node: NodeKeys) -> None:
    resolver = resolver_for(did_web_document(NODE, node.ring, node.now))
    for key in (node.retired, node.active):
        method = resolver.resolve(node.vm(key))
        assert method.id == node.vm(key)
        assert method.controller == NODE
        assert public_key_raw(method.public_key) == public_key_raw(key.public_key())
        assert method.relationships == {"authentication", "assertionMethod"}
    for key in (node.compromised, node.staged, node.future):
        with pytest.raises(ResolutionError):
            resolver.resolve(node.vm(key))


# --- DidResolver: did:key -------------------------------------------------------------------------


def test_resolver_did_key(resolver: DidResolver, issuer: DidKeyIssuer) -> None:
    method = resolver.resolve(issuer.vm)
    assert method.id == issuer.vm
    assert method.controller == issuer.did
    assert public_key_raw(method.public_key) == public_key_raw(issuer.key.public_key())
    assert method.relationships == frozenset(RELATIONSHIPS)


def test_resolver_caches_did_key(resolver: DidResolver, issuer: DidKeyIssuer) -> None:
    assert resolver.resolve(issuer.vm) is resolver.resolve(issuer.vm)


def test_resolver_did_key_needs_no_fetcher(issuer: DidKeyIssuer) -> None:
    def no_network(did: str) -> Mapping[str, Any]:
        raise AssertionError(f"fetched {did}")

    assert DidResolver(no_network).resolve(issuer.vm).controller == issuer.did


@pytest.mark.parametrize("fragment", ["#key-1", "#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"])
def test_resolver_did_key_with_another_fragment(
    resolver: DidResolver, issuer: DidKeyIssuer, fragment: str
) -> None:
    with pytest.raises(ResolutionError):
        resolver.resolve(issuer.did + fragment)


# --- DidResolver: did:web --------------------------------------------------------------------------

WEB = "did:web:registry.anhui.example"


@pytest.fixture
def web_key() -> Ed25519PrivateKey:
    return generate_private_key()


def test_resolver_did_web(web_key: Ed25519PrivateKey) -> None:
    fetcher = Fetcher({WEB: web_document(WEB, web_key, assertionMethod=[f"{WEB}#k1"])})
    resolver = DidResolver(fetcher)
    method = resolver.resolve(f"{WEB}#k1")
    assert method.id == f"{WEB}#k1"
    assert method.controller == WEB
    assert public_key_raw(method.public_key) == public_key_raw(web_key.public_key())
    assert method.relationships == {"assertionMethod"}
    assert fetcher.calls == [WEB]


def test_resolver_did_web_with_a_jwk(web_key: Ed25519PrivateKey) -> None:
    document = web_document(WEB, web_key, assertionMethod=[f"{WEB}#k1"])
    method = document["verificationMethod"][0]
    del method["publicKeyMultibase"]
    method["type"] = "JsonWebKey"
    method["publicKeyJwk"] = public_key_to_jwk(web_key.public_key())
    resolved = resolver_for(document).resolve(f"{WEB}#k1")
    assert public_key_raw(resolved.public_key) == public_key_raw(web_key.public_key())


def test_resolver_without_fetcher_refuses_did_web(resolver: DidResolver) -> None:
    with pytest.raises(ResolutionError):
        resolver.resolve(f"{WEB}#k1")


def test_resolver_rejects_a_document_about_another_did(web_key: Ed25519PrivateKey) -> None:
    other = "did:web:registry.zhejiang.example"
    resolver = DidResolver(Fetcher({WEB: web_document(other, web_key, assertionMethod=[f"{other}#k1"])}))
    with pytest.raises(ResolutionError, match="another DID"):
        resolver.resolve(f"{WEB}#k1")


@pytest.mark.parametrize(
    "vm_id", [WEB, f"{WEB}#", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", ""]
)
def test_resolver_rejects_ids_without_fragment(web_key: Ed25519PrivateKey, vm_id: str) -> None:
    resolver = resolver_for(web_document(WEB, web_key, assertionMethod=[f"{WEB}#k1"]))
    with pytest.raises(ResolutionError, match="fragment"):
        resolver.resolve(vm_id)


@pytest.mark.parametrize("vm_id", [None, 42, [f"{WEB}#k1"]])
def test_resolver_rejects_non_string_ids(resolver: DidResolver, vm_id: Any) -> None:
    with pytest.raises(ResolutionError):
        resolver.resolve(vm_id)


@pytest.mark.parametrize(
    "vm_id",
    [
        "did:example:123#k1",
        "did:jwk:eyJrdHkiOiJPS1AifQ#0",
        "did:ion:abc#k1",
        "https://example.com/key#k1",
        "x#k1",
    ],
)
def test_resolver_rejects_unknown_methods(web_key: Ed25519PrivateKey, vm_id: str) -> None:
    resolver = resolver_for(web_document(WEB, web_key, assertionMethod=[f"{WEB}#k1"]))
    with pytest.raises(ResolutionError, match="cannot resolve"):
        resolver.resolve(vm_id)


def test_resolver_rejects_a_method_missing_from_the_document(web_key: Ed25519PrivateKey) -> None:
    # Listed under assertionMethod, but defined nowhere.
    resolver = resolver_for(web_document(WEB, web_key, assertionMethod=[f"{WEB}#k1", f"{WEB}#k2"]))
    with pytest.raises(ResolutionError, match="not in the DID document"):
        resolver.resolve(f"{WEB}#k2")


def test_authentication_only_method_lacks_assertion_method(web_key: Ed25519PrivateKey) -> None:
    resolver = resolver_for(web_document(WEB, web_key, authentication=[f"{WEB}#k1"]))
    method = resolver.resolve(f"{WEB}#k1")
    assert method.relationships == {"authentication"}
    assert "assertionMethod" not in method.relationships


def test_method_in_no_relationship_has_none(web_key: Ed25519PrivateKey) -> None:
    assert resolver_for(web_document(WEB, web_key)).resolve(f"{WEB}#k1").relationships == frozenset()


def test_relative_references_in_relationships_are_resolved_against_the_document(
    web_key: Ed25519PrivateKey,
) -> None:
    """DID Core §3.2.2 allows relative DID URLs (``#k1``); they count for the document's
    own DID only."""
    resolver = resolver_for(web_document(WEB, web_key, assertionMethod=["#k1"], authentication=["#k2"]))
    assert resolver.resolve(f"{WEB}#k1").relationships == {"assertionMethod"}


def test_relative_method_id_in_verification_method(web_key: Ed25519PrivateKey) -> None:
    document = web_document(WEB, web_key, assertionMethod=["#k1"])
    document["verificationMethod"][0]["id"] = "#k1"
    method = resolver_for(document).resolve(f"{WEB}#k1")
    assert method.id == f"{WEB}#k1"
    assert method.relationships == {"assertionMethod"}


def test_embedded_method_in_assertion_method(web_key: Ed25519PrivateKey) -> None:
    """An embedded verification method (DID Core §5.3) counts for that relationship only."""
    embedded = {
        "id": f"{WEB}#k9",
        "type": "Multikey",
        "controller": WEB,
        "publicKeyMultibase": multikey_of(web_key),
    }
    resolver = resolver_for(web_document(WEB, generate_private_key(), assertionMethod=[embedded]))
    method = resolver.resolve(f"{WEB}#k9")
    assert method.relationships == {"assertionMethod"}
    assert public_key_raw(method.public_key) == public_key_raw(web_key.public_key())


@pytest.mark.parametrize(
    "change",
    [
        {"controller": None},
        {"controller": ["did:web:registry.anhui.example"]},
        {"publicKeyMultibase": None},
        {"publicKeyMultibase": "z" + b58_encode(bytes([0xEC, 0x01]) + RAW)},  # X25519
        {"publicKeyMultibase": "zzz"},
        {
            "publicKeyJwk": {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
            }
        },
        {"publicKeyJwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}},
    ],
)
def test_resolver_rejects_unusable_methods(web_key: Ed25519PrivateKey, change: dict[str, Any]) -> None:
    document = web_document(WEB, web_key, assertionMethod=[f"{WEB}#k1"])
    method = document["verificationMethod"][0]
    for name, value in change.items():
        if name == "publicKeyJwk":
            del method["publicKeyMultibase"]
        if value is None:
            del method[name]
        else:
            method[name] = value
    with pytest.raises(ResolutionError):
        resolver_for(document).resolve(f"{WEB}#k1")


@pytest.mark.parametrize("embedded", [False, True])
def test_resolver_rejects_a_method_whose_controller_is_another_did(
    web_key: Ed25519PrivateKey, embedded: bool
) -> None:
    """A document for one DID that names another DID as controller of its key must not
    let that key sign for the other DID (verify_issuer_proof compares the controller
    with the issuer)."""
    attacker = "did:web:attacker.example"
    victim = "did:web:registry.jiangsu.example"
    method = {
        "id": f"{attacker}#k1",
        "type": "Multikey",
        "controller": victim,
        "publicKeyMultibase": multikey_of(web_key),
    }
    document: dict[str, Any] = {"@context": [DID_CONTEXT, MULTIKEY_CONTEXT], "id": attacker}
    if embedded:
        document["assertionMethod"] = [method]
    else:
        document["verificationMethod"] = [method]
        document["assertionMethod"] = [method["id"]]
    with pytest.raises(ResolutionError):
        resolver_for(document).resolve(f"{attacker}#k1")


# --- review findings: odd document shapes are resolution errors ---------------------------


def _web_document(**changes: Any) -> tuple[str, dict[str, Any]]:
    did = "did:web:hrss.ah.example"
    ring = KeyRing.start(generate_private_key(), datetime(2026, 1, 1, tzinfo=UTC))
    document = did_web_document(did, ring, datetime(2026, 6, 1, tzinfo=UTC))
    document.update(changes)
    return f"{did}#{ring.records[0].kid}", document


@pytest.mark.parametrize(
    "changes",
    [
        {"verificationMethod": 5},
        {"verificationMethod": {"id": "x"}},
        {"assertionMethod": 5},
        {"assertionMethod": "#k"},
    ],
)
def test_malformed_document_members_are_resolution_errors(changes: dict[str, Any]) -> None:
    vm, document = _web_document(**changes)
    with pytest.raises(ResolutionError):
        verification_method_from_document(document, vm)


@pytest.mark.parametrize("fetched", [[], None, "did", 5])
def test_fetcher_returning_a_non_object_is_a_resolution_error(fetched: Any) -> None:
    vm, _ = _web_document()
    with pytest.raises(ResolutionError):
        DidResolver(lambda did: fetched).resolve(vm)


def test_fetcher_lookup_errors_become_resolution_errors() -> None:
    vm, _ = _web_document()
    with pytest.raises(ResolutionError, match="no DID document"):
        DidResolver({}.__getitem__).resolve(vm)


@pytest.mark.parametrize(
    "change",
    [
        {"type": "EcdsaSecp256k1VerificationKey2019"},
        {"type": None},
        {
            "publicKeyJwk": {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            }
        },
    ],
)
def test_method_type_and_single_key_are_required(change: dict[str, Any]) -> None:
    vm, document = _web_document()
    method = {**document["verificationMethod"][0], **change}
    if method["type"] is None:
        del method["type"]
    document["verificationMethod"] = [method]
    with pytest.raises(ResolutionError, match="Multikey or JsonWebKey"):
        verification_method_from_document(document, vm)


def test_long_did_key_is_refused_before_decoding() -> None:
    did = "did:key:z" + "2" * 150_000
    with pytest.raises(ResolutionError):
        DidResolver().resolve(f"{did}#z")
