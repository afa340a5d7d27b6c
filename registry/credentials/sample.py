"""A realistic professional-title credential (VC Data Model 2.0), used by the CLI's
sample command and by the benchmarks. It carries no raw ID number: the holder is a
salted hash commitment."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from registry.credentials.issuance import EXAMPLE_ROW
from registry.signing.data_integrity import format_datetime

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


#: What ``registry sample-credential`` issues: the example row of the issuance API (a
#: fictitious holder; the resident ID number is the GB 11643 specimen).
SAMPLE_ROW = EXAMPLE_ROW
