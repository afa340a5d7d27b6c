"""The OpenAPI document as the node really answers.

FastAPI documents each route's success response and, for parameters, a 422 in its own
``application/json`` validation shape. The node answers every error as RFC 9457
``application/problem+json`` (registry/problems.py), and some errors come from the
middleware before a route runs (413 body too large, 415 media type, 400 malformed JSON)
or from its dependencies (401, 403, 503 when the database is unavailable). This module
completes the generated document with those answers, by rules that follow the code:

- every error response (4xx, 5xx) is ``application/problem+json`` with the
  :data:`PROBLEM` schema (``errors`` listing each invalid field or row);
- any operation may answer 400 (a secret in the query string is refused), and one
  with a request body 400, 413, 415 and 422;
- an operation with a security requirement may answer 401 and 403;
- an operation with parameters may answer 422;
- every operation may answer 500, and 503 (with ``Retry-After``) where it reads or
  writes the database;
- 429 and 503 carry ``Retry-After``.

``tests/test_openapi.py`` compares every response the test suite sees (status code and
media type) with what the document declares.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

PROBLEM_JSON = "application/problem+json"

#: RFC 9457 §3 members, plus the registry's extension members.
PROBLEM: dict[str, Any] = {
    "title": "Problem",
    "description": (
        "RFC 9457 problem details. `type` is a URI whose page describes the problem "
        "(GET /problems lists them); `errors` lists each invalid field or batch row."
    ),
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri-reference", "description": "The problem type (§3.1.1)"},
        "title": {"type": "string", "description": "Short summary of the problem type (§3.1.3)"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "HTTP status (§3.1.2)"},
        "detail": {"type": "string", "description": "This occurrence explained (§3.1.4)"},
        "instance": {"type": "string", "format": "uri-reference", "description": "The request path (§3.1.5)"},
        "errors": {
            "type": "array",
            "description": "Each invalid field (location, message, type) or batch row (row, field, message)",
            "items": {
                "type": "object",
                "properties": {
                    "location": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "row": {"type": "integer", "minimum": 1},
                    "line": {"type": "integer", "minimum": 1},
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
                "additionalProperties": True,
            },
        },
        "retryAfter": {"type": "integer", "minimum": 1, "description": "Seconds to wait (429)"},
    },
    "additionalProperties": True,
}

RETRY_AFTER = {
    "description": "Seconds after which the same request may be sent again",
    "schema": {"type": "integer", "minimum": 1},
}

#: Descriptions of the errors added by rule (a route's own description wins).
GENERIC: dict[int, str] = {
    400: (
        "Malformed request: the body is not well-formed JSON (or not the declared format), "
        "or the query string carries a secret"
    ),
    401: "No valid credentials: the bearer token or API key is missing, expired or revoked",
    403: "The caller's role or scopes do not allow this operation",
    404: "Not found",
    409: "Conflict with the current state",
    413: "The request body is larger than this operation accepts",
    415: "The request's Content-Type is not one this operation accepts",
    422: "The request is well-formed but not valid; `errors` lists each invalid field",
    429: "Too many requests; send it again after Retry-After seconds",
    500: "The node could not complete the request (nothing was committed)",
    502: "A peer node or the trust anchor did not answer usably",
    503: "The node's database is busy or unavailable; nothing was committed (see Retry-After)",
}

#: Errors of particular operations that their routes do not declare themselves, by
#: operationId (what the code raises: NotFoundError 404, ConflictError 409 ...).
OPERATION_ERRORS: dict[str, dict[int, str]] = {
    "getCredentialType": {404: "No credential type with this code"},
    "addCredentialType": {409: "A credential type with this code exists"},
    "getCredential": {404: "No credential with this id"},
    "getBatch": {404: "No batch with this id"},
    "revokeCredential": {404: "No credential with this id", 409: "The credential is already revoked"},
    "suspendCredential": {
        404: "No credential with this id",
        409: "The credential is revoked or already suspended",
    },
    "reinstateCredential": {404: "No credential with this id", 409: "The credential is not suspended"},
    "vcApiUpdateCredentialStatus": {409: "The status change conflicts with the credential's status"},
    "createAccount": {409: "An account with this user name exists"},
    "signIn": {403: "The account is deactivated"},
    "createVerificationCode": {
        404: "No credential of this holder with this id",
        409: "The credential is revoked",
    },
    "registerHolder": {
        401: "The activation code is wrong, used or expired",
        409: "The holder has already registered",
    },
}

#: Each operation's title as people read it: Chinese first, English beside it.
SUMMARIES: dict[str, str] = {
    "getDidDocument": "本节点 DID 文档 · This node's DID document",
    "getJwks": "本节点公钥集 · This node's public keys (JWK Set)",
    "getEntityConfiguration": "联盟实体配置 · Federation entity configuration",
    "vcApiIssueCredential": "签发凭证（VC API） · Issue a credential (VC API)",
    "vcApiUpdateCredentialStatus": "变更凭证状态（VC API） · Change a credential's status (VC API)",
    "vcApiVerifyCredential": "核验凭证（VC API） · Verify a credential (VC API)",
    "fetchSubordinateStatement": "获取成员声明 · Fetch a member's subordinate statement",
    "getHistoricalKeys": "信任锚历史密钥 · The trust anchor's historical keys",
    "listSubordinates": "联盟成员列表 · List the federation's members",
    "resolveEntity": "解析联盟实体 · Resolve a federation entity",
    "getHealth": "运行状态 · Health",
    "getRegistryContext": "登记系统 JSON-LD 上下文 · The registry's JSON-LD context",
    "getTypeMetadata": "证书类型元数据（SD-JWT VC） · SD-JWT VC Type Metadata of a credential type",
    "vcApiVerifyPresentation": "核验出示（VC API） · Verify a presentation (VC API)",
    "listProblemTypes": "错误类型一览 · List the problem types",
    "getProblemType": "错误类型说明 · A problem type's page",
    "getCredentialSchema": "凭证数据模式 · A credential JSON Schema",
    "getStatusList": "状态列表凭证 · A status list credential",
    "getStatusListToken": "令牌状态列表 · A Token Status List (for SD-JWT VCs)",
    "listAccounts": "工作人员账户列表 · List staff accounts",
    "createAccount": "创建工作人员账户 · Create a staff account",
    "deactivateAccount": "停用账户 · Deactivate an account",
    "resetPassword": "重置密码 · Reset a password",
    "reactivateAccount": "恢复账户 · Reactivate an account",
    "listAuditEvents": "审计日志 · The audit log",
    "changePassword": "修改密码 · Change one's password",
    "signIn": "登录 · Sign in",
    "signOut": "退出登录 · Sign out (end this access token)",
    "listCredentialTypes": "证书类型目录 · The catalogue of credential types",
    "addCredentialType": "新增证书类型 · Add a credential type",
    "deleteCredentialType": "删除证书类型 · Delete a credential type",
    "getCredentialType": "证书类型 · A credential type",
    "correctCredentialType": "更正证书类型 · Correct a credential type",
    "reinstateCredentialType": "恢复证书类型 · Reinstate a credential type",
    "retireCredentialType": "停用证书类型 · Retire a credential type",
    "searchCredentials": "查找证书 · Search credentials",
    "issueCredential": "签发一份证书 · Issue one credential",
    "getCredential": "证书及其状态 · A credential and its status",
    "reinstateCredential": "恢复证书（解除暂停） · Reinstate a suspended credential",
    "revokeCredential": "撤销证书 · Revoke a credential",
    "suspendCredential": "暂停证书 · Suspend a credential",
    "grantFederationAuthorisation": "授予评审权 · Grant an authorisation",
    "withdrawFederationAuthorisation": "收回评审权 · Withdraw an authorisation",
    "getFederationJwks": "本实体联盟公钥集 · This entity's federation keys",
    "rotateFederationKey": "轮换联盟密钥 · Rotate the federation key",
    "getRecognitionPolicy": "本节点认可政策 · This node's recognition policy",
    "getRecognitionPolicyVersion": "认可政策的某一版本 · A version of the recognition policy",
    "publishRecognitionPolicy": "发布认可政策新版本 · Publish a new version of the recognition policy",
    "getSignedRecognitionPolicy": "签名的认可政策 · The signed recognition policy",
    "applyForRecognition": "申请异地认可 · Apply for recognition in another province",
    "listRecognitionApplications": "我的认可申请 · My recognition applications",
    "receiveRecognitionApplication": "接收转来的认可申请 · Receive a forwarded recognition application",
    "recognitionApplicationStatus": "认可申请的决定 · How a recognition application was decided",
    "listIncomingRecognitionApplications": "待本节点决定的认可申请 · Recognition applications to decide",
    "decideRecognitionApplication": "决定认可申请 · Decide a recognition application",
    "credentialRecognitionElsewhere": "凭证在其他省份的认可情况 · The credential in other provinces' terms",
    "disputeRecognitionDecision": "对不予认可提出异议 · Dispute a refusal of recognition",
    "receiveRecognitionDispute": "接收转来的异议 · Receive a forwarded dispute",
    "withdrawRecognitionApplication": "撤回互认申请 · Withdraw a recognition application",
    "receiveRecognitionWithdrawal": "接收转来的撤回 · Receive a forwarded withdrawal",
    "peerLookUpCredential": "为其他省份节点查询证书 · Look a credential up for another province's node",
    "listFederationMembers": "联盟成员及其评审权 · Members and their authorisations",
    "admitFederationMember": "接纳联盟成员 · Admit a member",
    "replaceFederationMemberKeys": "更换成员联盟公钥 · Replace a member's federation keys",
    "removeFederationMember": "移除联盟成员 · Remove a member",
    "listOwnAuditEvents": "谁查看了我的数据 · Who looked at my data",
    "getOwnCommitmentOpening": "身份承诺的盐值 · The opening of my identity commitment",
    "listOwnCredentials": "我的证书 · My credentials",
    "downloadOwnCredential": "下载我的证书 · Download my credential",
    "issueOwnSdJwtVc": "签发绑定我密钥的 SD-JWT VC · An SD-JWT VC bound to my key",
    "listVerificationCodes": "证书的核验码 · A credential's verification codes",
    "createVerificationCode": "生成核验码 · Make a verification code",
    "revokeVerificationCode": "撤销核验码 · Revoke a verification code",
    "registerHolder": "持证人开户 · Open a holder account",
    "searchHolders": "查找持证人 · Search holders",
    "createActivationCode": "生成开户激活码 · Make a holder activation code",
    "listHrClients": "人力资源机构列表 · List HR clients",
    "createHrClient": "登记人力资源机构 · Register an HR client",
    "deactivateHrClient": "停用人力资源机构 · Deactivate an HR client",
    "rotateHrClientKey": "更换 API 密钥 · Rotate an HR client's API key",
    "getBatch": "评审批次及进度 · An evaluation batch and its progress",
    "issueBatch": "签发评审批次 · Issue an evaluation batch",
    "getIssuanceTemplate": "批次 CSV 模板 · The batch CSV template",
    "listSigningKeys": "签名密钥列表 · List signing keys",
    "rotateSigningKey": "轮换签名密钥 · Rotate the signing key",
    "markSigningKeyCompromised": "标记密钥泄露 · Mark a signing key compromised",
    "listStatusReasons": "状态变更原因代码 · Status change reason codes",
    "verifyCredential": "核验一份证书 · Verify one credential",
    "verifyCredentialBatch": "批量核验 · Verify a batch of credentials",
    "lookUpCredential": "凭证书编号和核验码查询 · Look up by certificate number and code",
}


#: What a signed credential file looks like (VC Data Model 2.0 §4; the registry's
#: JSON Schemas at /schemas/{name}/v1.json say the rest).
VERIFIABLE_CREDENTIAL: dict[str, Any] = {
    "title": "VerifiableCredential",
    "description": "A W3C VC 2.0 credential secured with a Data Integrity proof (eddsa-jcs-2022)",
    "type": "object",
    "required": ["@context", "type", "issuer", "credentialSubject", "proof"],
    "properties": {
        "@context": {"type": "array", "items": {"type": ["string", "object"]}, "minItems": 1},
        "id": {"type": "string"},
        "type": {"type": "array", "items": {"type": "string"}, "contains": {"const": "VerifiableCredential"}},
        "issuer": {"type": ["string", "object"]},
        "validFrom": {"type": "string", "format": "date-time"},
        "validUntil": {"type": "string", "format": "date-time"},
        "credentialSubject": {"type": "object"},
        "credentialStatus": {"type": ["object", "array"]},
        "credentialSchema": {"type": ["object", "array"]},
        "proof": {"type": ["object", "array"]},
    },
}
#: Bitstring Status List v1.0 §2.2.
STATUS_LIST_CREDENTIAL: dict[str, Any] = {
    "title": "BitstringStatusListCredential",
    "description": "A signed Bitstring Status List credential (Bitstring Status List v1.0 §2.2)",
    "allOf": [
        {"$ref": "#/components/schemas/VerifiableCredential"},
        {
            "type": "object",
            "properties": {
                "credentialSubject": {
                    "type": "object",
                    "required": ["type", "statusPurpose", "encodedList"],
                    "properties": {
                        "type": {"const": "BitstringStatusList"},
                        "statusPurpose": {"enum": ["revocation", "suspension"]},
                        "encodedList": {"type": "string", "description": "multibase base64url GZIP bits"},
                        "statusReasons": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "The reason code of each set bit (registry extension)",
                        },
                    },
                }
            },
        },
    ],
}
#: Response bodies FastAPI cannot see (routes that answer a Response), by operationId,
#: status and media type.
RESPONSE_SCHEMAS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("getStatusList", "200", "application/vc+json"): {"$ref": "#/components/schemas/StatusListCredential"},
    ("downloadOwnCredential", "200", "application/vc"): {"$ref": "#/components/schemas/VerifiableCredential"},
    ("issueBatch", "201", "application/json"): {"$ref": "#/components/schemas/BatchResult"},
    ("getRegistryContext", "200", "application/ld+json"): {
        "type": "object",
        "required": ["@context"],
        "description": "A JSON-LD 1.1 context document",
    },
    ("getTypeMetadata", "200", "application/json"): {
        "type": "object",
        "required": ["vct"],
        "properties": {
            "vct": {"type": "string", "format": "uri"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "display": {"type": "array", "items": {"type": "object", "required": ["locale", "name"]}},
            "claims": {"type": "array", "items": {"type": "object", "required": ["path"]}},
        },
        "description": "SD-JWT VC Type Metadata (draft-ietf-oauth-sd-jwt-vc)",
    },
}

#: Paths that answer without touching the database (no 503 for them).
_NO_DATABASE = ("/health", "/problems", "/schemas/", "/.well-known/", "/ns/", "/vct/")


def _problem_response(description: str, status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": RETRY_AFTER}
    return response


def _statuses_by_rule(path: str, operation: dict[str, Any]) -> set[int]:
    # 400: any request whose query carries a secret (NoSecretsInQuery), besides bodies.
    statuses = {400, 500}
    if not path.startswith(_NO_DATABASE):
        statuses.add(503)
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}
    if operation.get("security"):
        statuses |= {401, 403}
    if operation.get("parameters"):
        statuses.add(422)
    return statuses


def _complete_response(status: int, response: dict[str, Any]) -> dict[str, Any]:
    """An error response of a route, answered as problem+json whatever FastAPI wrote."""
    content = response.get("content") or {}
    schema = content.get(PROBLEM_JSON, {}).get("schema", {"$ref": "#/components/schemas/Problem"})
    description = response.get("description") or GENERIC.get(status, "Error")
    if description in ("Validation Error", "Successful Response"):
        description = GENERIC.get(status, description)
    completed = {**response, "description": description, "content": {PROBLEM_JSON: {"schema": schema}}}
    if status in (429, 503):
        completed.setdefault("headers", {}).setdefault("Retry-After", RETRY_AFTER)
    return completed


def _drop_default_json(responses: dict[str, Any]) -> None:
    """FastAPI puts ``application/json`` with an empty schema on a route that returns a
    Response; where the route declares its real media types for that status, that entry
    says something the route never sends."""
    for code, response in responses.items():
        content = response.get("content") or {}
        if code.startswith("2") and content.get("application/json") == {"schema": {}} and len(content) > 1:
            del content["application/json"]


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """The generated document with every error answer declared (a new dict)."""
    document = copy.deepcopy(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    schemas["VerifiableCredential"] = VERIFIABLE_CREDENTIAL
    schemas["StatusListCredential"] = STATUS_LIST_CREDENTIAL
    # FastAPI's own validation-error shapes are never sent (errors are problem+json).
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    document.setdefault("servers", [{"url": "/", "description": "This provincial node"}])
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            if (summary := SUMMARIES.get(operation.get("operationId", ""))) is not None:
                operation["summary"] = summary
            responses: dict[str, Any] = operation.setdefault("responses", {})
            _drop_default_json(responses)
            for (operation_id, code, media), schema in RESPONSE_SCHEMAS.items():
                if operation.get("operationId") == operation_id and media in responses.get(code, {}).get(
                    "content", {}
                ):
                    responses[code]["content"][media] = {"schema": schema}
            responses.pop("default", None)
            for code in list(responses):
                if code.isdigit() and int(code) >= 400:
                    responses[code] = _complete_response(int(code), responses[code])
            for status, description in OPERATION_ERRORS.get(operation.get("operationId", ""), {}).items():
                responses.setdefault(str(status), _problem_response(description, status))
            for status in sorted(_statuses_by_rule(path, operation)):
                responses.setdefault(str(status), _problem_response(GENERIC[status], status))
            operation["responses"] = dict(sorted(responses.items()))
    return document


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the completed document (built once)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    completed: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not completed:
            completed.update(complete(generate()))
        return completed

    app.openapi = openapi  # type: ignore[method-assign]
