"""Sample credentials: what a node's credentials look like, for a fictitious holder.

A sample is never a credential of a production node. ``registry sample-credential``
makes one without storing anything: it is signed by a throwaway ``did:key`` (so no
verifier trusts it), and it says it is a sample itself (the type ``SampleCredential``
and its ``name`` and ``description``). Only the demo federation (``registry demo``)
stores samples, in its own databases, marked the same way. A node's sample names a
committee of the node's province.

``sample_title_credential`` is a realistic unsigned title credential for the tests
and benchmarks of signing. None carries a raw ID number: the holder is a salted hash
commitment."""

from __future__ import annotations

import os
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from registry.credentials import catalogue, issuance
from registry.credentials.identity import commitment_salt, holder_commitment, normalise_id_number
from registry.credentials.issuance import EXAMPLE_ROW
from registry.credentials.status import list_url
from registry.models import CredentialType
from registry.signing import jose
from registry.signing.data_integrity import add_proof, format_datetime
from registry.signing.did import did_key_from_public_key
from registry.signing.keyring import KeyRing
from registry.signing.keys import generate_private_key

VC_CONTEXT_V2 = "https://www.w3.org/ns/credentials/v2"
REGISTRY_CONTEXT = "https://registry.yrd.example/ns/talent/v1"


def sample_title_credential(issuer: str, base_url: str, issued: datetime) -> dict[str, Any]:
    """An associate-senior engineering title (高级工程师) awarded by Jiangsu (32)."""
    return {
        "@context": [VC_CONTEXT_V2, REGISTRY_CONTEXT],
        "id": "urn:uuid:0b7c6a5e-3f1d-4c1e-9a51-7f1e2d3c4b5a",
        "type": ["VerifiableCredential", "ProfessionalTitleCredential"],
        "issuer": {
            "id": issuer,
            "name": {
                "zh": "江苏省人力资源和社会保障厅",
                "en": "Jiangsu Department of Human Resources and Social Security",
            },
        },
        "validFrom": format_datetime(issued),
        "validUntil": format_datetime(issued + timedelta(days=3650)),
        "credentialSubject": {
            "id": "urn:yrd:holder:4f2a9c61",
            "name": "张伟",
            "holderCommitment": "sha256:Qx3b0d3c6Jb8mA2d5pZt1o2Q4yJm6r8sV0wX2zB4cE6",
            "title": {
                "code": "ENG-SENIOR",
                "series": {"code": "ENG", "zh": "工程技术", "en": "Engineering"},
                "level": {"code": "ASSOCIATE_SENIOR", "zh": "副高级", "en": "Associate senior"},
                "name": {"zh": "高级工程师", "en": "Senior Engineer"},
            },
            "specialty": "电气工程及其自动化",
            "certificateNumber": "32-2025-0000123",
            "evaluationCommittee": "江苏省工程技术研究系列高级职称评审委员会",
            "awardedOn": issued.date().isoformat(),
            "province": "32",
        },
        "credentialStatus": [
            {
                "id": f"{base_url}/status/revocation/1#94567",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": "94567",
                "statusListCredential": f"{base_url}/status/revocation/1",
            },
            {
                "id": f"{base_url}/status/suspension/1#23111",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "suspension",
                "statusListIndex": "23111",
                "statusListCredential": f"{base_url}/status/suspension/1",
            },
        ],
        "credentialSchema": {
            "id": f"{base_url}/schemas/professional-title/v1.json",
            "type": "JsonSchema",
        },
    }


#: The sample title's evaluation committee in each province (sample names).
SAMPLE_COMMITTEES = {
    "31": "上海市工程技术系列高级职称评审委员会",
    "32": "江苏省工程技术研究系列高级职称评审委员会",
    "33": "浙江省工程技术人员高级职务评审委员会",
    "34": "安徽省工程系列高级专业技术资格评审委员会",
}
#: The type that marks a sample (defined by the registry's context).
SAMPLE_TYPE = "SampleCredential"
SAMPLE_NAME = [
    {"@value": "样例证书（虚构持证人，非真实职称）", "@language": "zh"},
    {"@value": "Sample credential (a fictitious holder, not a real title)", "@language": "en"},
]
SAMPLE_DESCRIPTION = [
    {"@value": "仅用于演示凭证格式，不证明任何人的职称或资格。", "@language": "zh"},
    {
        "@value": "Shows the form of the registry's credentials; it attests nobody's title or qualification.",
        "@language": "en",
    },
]
#: The fictitious holder: the example row of the issuance API (the resident ID number
#: is the GB 11643 specimen).
SAMPLE_HOLDER_ID = "5a3e7c1d-0000-4000-8000-00000000a001"


def sample_row(province: str) -> dict[str, Any]:
    """The row of a sample title of ``province``: its own committee."""
    return {**EXAMPLE_ROW, "evaluationCommittee": SAMPLE_COMMITTEES[province]}


def sample_members() -> issuance.CallerMembers:
    """What marks a credential as a sample: its type, name and description."""
    return issuance.CallerMembers(
        credential_id=None,
        contexts=(),
        types=(SAMPLE_TYPE,),
        members={"name": SAMPLE_NAME, "description": SAMPLE_DESCRIPTION},
    )


def is_sample(credential: dict[str, Any]) -> bool:
    types = credential.get("type")
    return isinstance(types, list) and SAMPLE_TYPE in types


def _seed_type(code: str, now: datetime) -> CredentialType:
    item = next(t for t in catalogue.seed_types() if t.code == code)
    return CredentialType(**item.model_dump(), created_at=now)


def unsaved_sample(province: str, base_url: str, now: datetime, *, jwt: bool = False) -> str | dict[str, Any]:
    """A sample title credential of ``province`` as a node of it would issue one, but
    signed by a throwaway ``did:key`` (generated here, then forgotten) and stored
    nowhere: verifiers find its signature sound and its issuer untrusted. The
    certificate serial 0000000 is never issued. VC JSON, or a VC-JWT with ``jwt``."""
    key = generate_private_key()
    did = did_key_from_public_key(key.public_key())
    method = f"{did}#{did[len('did:key:') :]}"
    row = issuance.IssueRequest.model_validate(sample_row(province))
    id_key = os.urandom(32)
    ctx = issuance.IssuanceContext(
        did=did,
        base_url=base_url.rstrip("/"),
        province=province,
        ring=KeyRing.start(key, now),
        id_key=id_key,
        rng=random.SystemRandom(),
        now=now,
    )
    normal = normalise_id_number(row.id_type, row.id_number)
    holder = issuance.HolderInfo(
        SAMPLE_HOLDER_ID,
        row.holder_name,
        holder_commitment(commitment_salt(id_key, SAMPLE_HOLDER_ID), normal),
    )
    year = now.astimezone(issuance.CHINA_STANDARD_TIME).year
    document = issuance.credential_document(
        credential_id=str(uuid.uuid4()),
        ctx=ctx,
        row=row,
        ctype=_seed_type(str(row.type_code), now),
        holder=holder,
        number=issuance.certificate_number(province, year, 0),
        revocation=f"{list_url(ctx.base_url, 'revocation', 1)}#0",
        suspension=f"{list_url(ctx.base_url, 'suspension', 1)}#0",
        caller=sample_members(),
    )
    zh, en = issuance.PROVINCES[province]
    document["issuer"]["name"] = {"zh": f"{zh}（样例签发者）", "en": f"{en} (sample issuer)"}
    if jwt:
        unsecured = {**document, "iat": int(now.timestamp())}
        return jose.sign_vc_jwt(unsecured, key, method)
    return add_proof(document, key, method, now)
