"""SD-JWT VC Type Metadata (draft-ietf-oauth-sd-jwt-vc, "SD-JWT VC Type Metadata": Type
Metadata Format, Retrieving Type Metadata from a URL, Document Integrity, Display
Metadata, Claim Metadata): every node serves the registry's three documents at the paths
of their ``vct`` URLs, byte for byte the pinned files; the SD-JWT VCs it issues carry
``vct#integrity`` (W3C SRI) of those bytes, and say what the documents say of each claim
(selectively disclosable or not, always present or not); a wrong integrity is reported."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.credentials import sd_jwt_vc, type_metadata
from registry.signing import sd_jwt
from registry.signing.encoding import b64url_decode
from tests.conftest import Actors, issue_row, resident_id
from tests.test_sd_jwt_vc import checks, verify

#: Claims of the JWT and SD-JWT VC machinery, not of the credential's subject.
REGISTERED = {"iss", "iat", "nbf", "exp", "vct", "vct#integrity", "status", "cnf", "_sd", "_sd_alg"}


def path_of(pinned: type_metadata.PinnedType) -> str:
    assert pinned.vct.startswith("https://registry.yrd.example/")
    return pinned.path


@pytest.mark.parametrize("pinned", type_metadata.PINNED, ids=lambda p: p.filename)
def test_each_type_s_metadata_is_served_at_the_path_of_its_vct(
    client: TestClient, pinned: type_metadata.PinnedType
) -> None:
    """Retrieving Type Metadata from a URL: HTTP GET on the vct URL answers a JSON object;
    here the exact pinned bytes, immutable and cached (Caching), readable cross-origin."""
    response = client.get(path_of(pinned))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == type_metadata.document_bytes(pinned.vct)
    assert hashlib.sha256(response.content).hexdigest() == pinned.sha256
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["access-control-allow-origin"] == "*"
    etag = response.headers["etag"]
    again = client.get(path_of(pinned), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    document = response.json()
    assert isinstance(document, dict)
    assert document["vct"] == pinned.vct  # the vct it describes, identical to the credentials'


def test_an_unknown_type_is_a_problem(client: TestClient) -> None:
    response = client.get("/vct/professional-titles/v1")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/vct/professional-title/v2").status_code == 404


@pytest.mark.parametrize("pinned", type_metadata.PINNED, ids=lambda p: p.filename)
def test_each_document_is_well_formed_type_metadata(pinned: type_metadata.PinnedType) -> None:
    """Type Metadata Format, Display Metadata, Claim Metadata: display entries with a
    locale and a name (Chinese first, English beside it); claims with a non-empty path of
    strings, nulls or non-negative integers, labels in both languages, ``sd`` one of
    always/allowed/never, ``mandatory`` a boolean; one entry per path."""
    document = type_metadata.document(pinned.vct)
    assert set(document) <= {"vct", "name", "description", "display", "claims"}
    assert [d["locale"] for d in document["display"]] == ["zh-CN", "en"]
    assert all(isinstance(d["name"], str) and d["name"] for d in document["display"])
    paths = [tuple(c["path"]) for c in document["claims"]]
    assert len(paths) == len(set(paths))
    for claim in document["claims"]:
        assert claim["path"]
        assert all(p is None or isinstance(p, str) or (type(p) is int and p >= 0) for p in claim["path"])
        assert [d["locale"] for d in claim["display"]] == ["zh-CN", "en"]
        assert all(isinstance(d["label"], str) and d["label"] for d in claim["display"])
        assert claim["sd"] in {"always", "allowed", "never"}
        assert type(claim.get("mandatory", False)) is bool


def test_sri_integrity_metadata() -> None:
    """W3C SRI §3.3.5: the strongest algorithm's expressions decide; options are ignored;
    metadata with no known hash expression is no match here (it says nothing)."""
    data = b'{"vct": "x"}'
    sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
    sha384 = base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert type_metadata.integrity_matches(f"sha256-{sha256}", data) is True
    assert type_metadata.integrity_matches(f"sha256-{sha256}?ct=application/json", data) is True
    assert type_metadata.integrity_matches(f"sha256-AAAA sha384-{sha384}", data) is True
    assert type_metadata.integrity_matches(f"sha256-AAAA\tsha384-{sha384}\n", data) is True
    assert type_metadata.integrity_matches(f"sha256-{sha256} sha384-AAAA", data) is False
    assert type_metadata.integrity_matches(f"sha256-{sha256}", data + b" ") is False
    assert type_metadata.integrity_matches("md5-abc", data) is None
    assert type_metadata.integrity_matches("", data) is None


def _issue(client: TestClient, officer: dict[str, str], seed: int, **row: Any) -> dict[str, Any]:
    body = issue_row(idNumber=resident_id(seed), holderName=f"持证人{seed}", **row)
    response = client.post("/v1/credentials", json=body, headers=officer)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def _issued(client: TestClient, actors: Actors) -> list[tuple[dict[str, Any], str]]:
    """SD-JWT VCs of each kind, with and without a specialty, with their records."""
    officer = actors.officer()
    records = [
        _issue(client, officer, 301),  # a title with a specialty
        _issue(client, officer, 302, typeCode="QUAL-CPA", specialty=None),  # none: the type has none
        _issue(client, officer, 303, typeCode="SKILLQ-SECURITY-GUARD", specialty="守护押运"),
    ]
    found = []
    for record in records:
        holder = actors.holder(record["holderId"])
        answer = client.get(f"/v1/holder/credentials/{record['id']}?format=sd-jwt", headers=holder)
        assert answer.status_code == 200, answer.text
        found.append((record, answer.text))
    return found


def _claims(token: str) -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    """The payload signed plain, the names of the disclosed claims, all claims."""
    parts = sd_jwt.split(token)
    payload: dict[str, Any] = json.loads(b64url_decode(parts.jwt.split(".")[1]))
    disclosed = {d.name: d.value for d in map(sd_jwt.read_disclosure, parts.disclosures)}
    everything = {**{k: v for k, v in payload.items() if k not in ("_sd", "_sd_alg")}, **disclosed}
    return payload, set(disclosed), everything


def test_issued_sd_jwt_vcs_say_what_their_type_metadata_says(client: TestClient, actors: Actors) -> None:
    """Document Integrity: ``vct#integrity`` is SRI metadata of the exact bytes served at
    the vct's path. Claim Metadata: a claim marked ``sd: always`` is selectively
    disclosable, ``never`` is signed plain, ``mandatory`` is always there; and every
    claim of the credential is described."""
    seen_kinds = set()
    for _record, token in _issued(client, actors):
        payload, disclosed, everything = _claims(token)
        vct = payload["vct"]
        seen_kinds.add(vct)
        served = client.get(type_metadata.BY_VCT[vct].path).content
        assert type_metadata.integrity_matches(payload["vct#integrity"], served) is True
        sri = "sha256-" + base64.b64encode(hashlib.sha256(served).digest()).decode()
        assert payload["vct#integrity"] == sri
        document = json.loads(served)
        top = {c["path"][0] for c in document["claims"]}
        for claim in document["claims"]:
            if len(claim["path"]) != 1:
                head, *rest = claim["path"]
                value = everything.get(head)
                for step in rest:
                    value = value.get(step) if isinstance(value, dict) else None
                if claim.get("mandatory"):
                    assert value is not None, (vct, claim["path"])
                continue
            name = claim["path"][0]
            if claim.get("mandatory"):
                assert name in everything, (vct, name)
            if name in everything:
                if claim["sd"] == "always":
                    assert name in disclosed, (vct, name)
                    assert name not in payload, (vct, name)
                if claim["sd"] == "never":
                    assert name in payload, (vct, name)
                    assert name not in disclosed, (vct, name)
        undescribed = set(everything) - REGISTERED - top
        assert not undescribed, (vct, undescribed)
    assert seen_kinds == set(type_metadata.BY_VCT)


def _resigned(app: Any, token: str, change: dict[str, Any]) -> str:
    """The SD-JWT VC with its payload changed and signed again with the node's own key:
    authentic, but saying something else."""
    parts = sd_jwt.split(token)
    header = json.loads(b64url_decode(parts.jwt.split(".")[0]))
    payload = {**json.loads(b64url_decode(parts.jwt.split(".")[1])), **change}
    _, key = app.state.node.ring.signing_key(app.state.node.clock())
    return sd_jwt.issue({"typ": header["typ"], "kid": header["kid"]}, payload, parts.disclosures, key)


def test_a_wrong_vct_integrity_is_reported_not_valid(client: TestClient, app: Any, actors: Actors) -> None:
    """A credential whose ``vct#integrity`` does not match the type's metadata (or is not
    integrity metadata) does not conform to its type, even signed by the node's own key;
    the same credential with the true integrity is valid."""
    record, token = _issued(client, actors)[0]
    hr = actors.hr()
    true = verify(client, hr, _resigned(app, token, {}))
    assert true["verdict"] == "valid", true["checks"]
    wrong = "sha256-" + base64.b64encode(hashlib.sha256(b"another document").digest()).decode()
    for integrity in (wrong, "md5-abc", 42):
        report = verify(client, hr, _resigned(app, token, {"vct#integrity": integrity}))
        assert report["verdict"] == "invalid", (integrity, report["checks"])
        assert checks(report)["schema"][0] == "fail", (integrity, report["checks"])
    # A credential issued before the integrity was added (none at all) still conforms.
    payload = json.loads(b64url_decode(sd_jwt.split(token).jwt.split(".")[1]))
    payload.pop("vct#integrity")
    parts = sd_jwt.split(token)
    header = json.loads(b64url_decode(parts.jwt.split(".")[0]))
    _, key = app.state.node.ring.signing_key(app.state.node.clock())
    older = sd_jwt.issue({"typ": header["typ"], "kid": header["kid"]}, payload, parts.disclosures, key)
    assert verify(client, hr, older)["verdict"] == "valid"
    assert record["id"]
    assert sd_jwt_vc.VC_TYPE_OF[payload["vct"]] == "ProfessionalTitleCredential"
