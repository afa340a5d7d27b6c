"""The OpenAPI document: stable operation ids, examples for every JSON request body,
and problem+json documented as the error format."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

OPENAPI = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return loaded


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in document["paths"].items() for m, op in item.items()]


def test_every_operation_has_a_stable_camel_case_id(document: dict[str, Any]) -> None:
    ids = [op.get("operationId") for _, _, op in _operations(document)]
    assert all(isinstance(i, str) and re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids
    assert len(ids) == len(set(ids))


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.rsplit("/", 1)[1]
    resolved: dict[str, Any] = document["components"]["schemas"][name]
    return resolved


def test_every_json_request_body_has_an_example(document: dict[str, Any]) -> None:
    missing = []
    for method, path, op in _operations(document):
        content = op.get("requestBody", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            continue
        resolved = _resolve(document, schema)
        if not (resolved.get("examples") or content["application/json"].get("example")):
            missing.append(f"{method.upper()} {path}")
    assert missing == []


def test_the_main_endpoints_are_documented(document: dict[str, Any]) -> None:
    ids = {op["operationId"] for _, _, op in _operations(document)}
    assert {
        "issueCredential",
        "issueBatch",
        "revokeCredential",
        "verifyCredential",
        "verifyCredentialBatch",
        "lookUpCredential",
        "getStatusList",
        "vcApiIssueCredential",
        "vcApiVerifyCredential",
        "vcApiVerifyPresentation",
        "vcApiUpdateCredentialStatus",
        "downloadOwnCredential",
    } <= ids
