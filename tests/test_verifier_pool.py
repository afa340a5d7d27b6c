"""Large verification batches run in worker processes: the answers are the same as
in-process, item by item and in order."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from fastapi.testclient import TestClient

from registry.credentials.verification import Trust
from registry.verifier import POOL_THRESHOLD, Verifier
from tests.conftest import NOW, Actors, issue_row, resident_id


def test_worker_processes_give_the_same_reports_in_order(client: TestClient, actors: Actors) -> None:
    rows = [issue_row(idNumber=resident_id(i), holderName=f"持证人{i}") for i in range(8)]
    issued = client.put("/v1/issuance/batches/pool", json={"credentials": rows}, headers=actors.officer())
    assert issued.status_code == 201
    node = client.app.state.node  # type: ignore[attr-defined]
    documents = []
    for item in issued.json()["credentials"]:
        record = client.get(f"/v1/credentials/{item['id']}", headers=actors.auditor()).json()
        documents.append(record["verifiableCredential"])
    items: list[Any] = []
    for i in range(POOL_THRESHOLD + 6):
        document = copy.deepcopy(documents[i % len(documents)])
        if i % 5 == 0:
            document["credentialSubject"]["specialty"] = "篡改"
        items.append(document if i % 7 else "not a credential")
    trust = Trust.of(node.did, node.ring)
    pooled = Verifier(workers=2)
    try:
        in_workers = asyncio.run(pooled.examine_batch(items, trust, NOW))
    finally:
        pooled.close()
    in_process = asyncio.run(Verifier(workers=1).examine_batch(items, trust, NOW))
    assert [e.checks for e in in_workers] == [e.checks for e in in_process]
    proof = [next(c.result for c in e.checks if c.name == "proof") for e in in_workers]
    assert proof[1] == "pass"
    assert proof[5] == "fail"  # tampered
    assert proof[7] == "fail"  # not a credential
