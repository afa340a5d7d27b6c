"""The node's everyday queries at provincial scale (issue 11, "Ten million credentials"):
a status change, the auditor's query by target, the holder's list and activity and a
look-up by certificate number find their rows through an index under PostgreSQL's generic
plan, on tables whose size and statistics make a scan tempting (see
``tests/test_issuance_scale.py`` for why the generic plan).

Two of these scanned before migration 0007, and the scale benchmark (``bench/scale.py``)
showed their cost growing with the node: ``GET /v1/audit?target=`` read the audit log,
which gains a record with every issuance, and every status change re-signs its list with
the reasons of its set bits, which read all of the list's (up to 98,304) credentials to
find the revoked or suspended few.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from registry import codes
from registry.models import Credential
from registry.node import NodeState
from tests.conftest import Actors
from tests.test_issuance_scale import fill, generic_plans, issue, statements_run

LARGE_TABLES = {"holder", "credential", "audit_event"}
AUDIT_FILLER = 60_000


def fill_more(node: NodeState) -> None:
    """On top of ``fill``: an audit log of 60,000 issuance records, and one filler
    credential in 50 revoked and one in 100 suspended (as a node's lists carry them)."""
    fill(node.db.engine)
    with node.db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_event (at, actor, actor_role, action, target_type, target_id, holder_id)"
                " SELECT now(), 'filler', 'issuing_officer', 'credential.issue', 'credential',"
                " 'filler-' || (g % 50000), 'filler-' || (g % 50000) FROM generate_series(1, :n) AS g"
            ),
            {"n": AUDIT_FILLER},
        )
        connection.execute(
            text(
                "UPDATE credential"
                " SET status = CASE right(id, 2) WHEN '00' THEN 'suspended' ELSE 'revoked' END,"
                " status_reason = CASE right(id, 2)"
                " WHEN '00' THEN 'under_investigation' ELSE 'superseded' END"
                " WHERE id LIKE 'filler-%' AND right(id, 2) IN ('00', '50')"
            )
        )
    with node.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_everyday_queries_use_indexes_under_the_generic_plan(app: Any, actors: Actors) -> None:
    node: NodeState = app.state.node
    issue(node, range(0, 6), "few")
    fill_more(node)
    with node.db.session(write=False) as session:
        own = session.exec(
            text("SELECT id, holder_id, certificate_number FROM credential WHERE id NOT LIKE 'filler-%'")
        )  # type: ignore[call-overload]
        mine = [tuple(r) for r in own.all()]
    with node.db.session() as session:
        code = codes.new_code(session, node.code_key, mine[0][0], node.clock(), 30).code
    officer, auditor, holder, hr = actors.officer(), actors.auditor(), actors.holder(mine[0][1]), actors.hr()
    reason = {"reasonCode": "superseded"}
    with TestClient(app) as client, statements_run(node.db.engine) as seen:
        assert (
            client.post(f"/v1/credentials/{mine[1][0]}/revocation", json=reason, headers=officer).status_code
            == 200
        )
        suspend = {"reasonCode": "under_investigation"}
        assert (
            client.post(f"/v1/credentials/{mine[2][0]}/suspension", json=suspend, headers=officer).status_code
            == 200
        )
        reinstate = {"reasonCode": "investigation_cleared"}
        answer = client.post(f"/v1/credentials/{mine[2][0]}/reinstatement", json=reinstate, headers=officer)
        assert answer.status_code == 200, answer.text
        answer = client.get(f"/v1/audit?target={mine[1][0]}", headers=auditor)
        assert [e["action"] for e in answer.json()] == ["credential.issue", "credential.revoke"]
        assert client.get("/v1/holder/credentials", headers=holder).status_code == 200
        assert client.get("/v1/holder/audit", headers=holder).status_code == 200
        looked_up = {"certificateNumber": mine[0][2], "verificationCode": code}
        assert client.post("/v1/verifications/lookup", json=looked_up, headers=hr).status_code == 200
    plans = generic_plans(node.db.engine, seen)
    scans = [
        (step["Node Type"], step.get("Relation Name"), statement)
        for statement, steps in plans
        for step in steps
        if step.get("Relation Name") in LARGE_TABLES and step["Node Type"] == "Seq Scan"
    ]
    assert scans == []
    probes = {step["Index Name"] for _, steps in plans for step in steps if "Index Name" in step}
    assert "ix_credential_revoked" in probes  # the revocation list's reasons (set_reasons)
    assert "ix_credential_suspended" in probes  # the suspension list's reasons
    assert "ix_audit_event_target" in probes  # the auditor's query by target
    assert "ix_credential_holder_id" in probes  # the holder's list
    assert "credential_certificate_number_key" in probes  # the look-up by certificate number


def test_the_status_reasons_come_from_the_set_bits_only(app: Any, actors: Actors) -> None:
    """The partial indexes hold only revoked / suspended credentials: a reinstated one
    leaves the suspension list's reasons (on SQLite and PostgreSQL alike)."""
    node: NodeState = app.state.node
    issue(node, range(0, 3), "three")
    officer = actors.officer()
    with node.db.session(write=False) as session:
        ids = [c.id for c in session.exec(text("SELECT id FROM credential")).all()]  # type: ignore[call-overload]
    with TestClient(app) as client:
        for credential_id in ids[:2]:
            answer = client.post(
                f"/v1/credentials/{credential_id}/suspension",
                json={"reasonCode": "under_investigation"},
                headers=officer,
            )
            assert answer.status_code == 200
        answer = client.post(
            f"/v1/credentials/{ids[0]}/reinstatement",
            json={"reasonCode": "investigation_cleared"},
            headers=officer,
        )
        assert answer.status_code == 200
        with node.db.session(write=False) as session:
            first, second = session.get(Credential, ids[0]), session.get(Credential, ids[1])
            assert first is not None
            assert second is not None
        listed = client.get("/status/suspension/1").json()
    assert listed["credentialSubject"]["statusReasons"] == {
        str(second.suspension_index): "under_investigation"
    }


def test_new_credentials_and_holders_get_time_ordered_ids(app: Any, clock: Any) -> None:
    """RFC 9562 §5.7 UUIDv7 keys: a batch's new rows land beside the last ones in the
    primary-key and foreign-key indexes (bench/scale.py: with random version-4 ids a
    batch of 1,000 issued at 301 credentials/s on ten million, 1,100/s on 100,000)."""
    import uuid
    from datetime import timedelta

    node: NodeState = app.state.node
    issue(node, range(0, 3), "first")
    clock.advance(seconds=2)
    issue(node, range(3, 6), "second")
    with node.db.session(write=False) as session:
        rows = session.exec(  # type: ignore[call-overload]
            text("SELECT id, holder_id, batch_id FROM credential ORDER BY batch_id, id")
        ).all()
    ids = [uuid.UUID(r[0]) for r in rows] + [uuid.UUID(r[1]) for r in rows]
    assert {i.version for i in ids} == {7}
    assert {i.variant for i in ids} == {uuid.RFC_4122}
    first = {int.from_bytes(uuid.UUID(r[0]).bytes[:6], "big") for r in rows if r[2] == "first"}
    second = {int.from_bytes(uuid.UUID(r[0]).bytes[:6], "big") for r in rows if r[2] == "second"}
    assert first == {int((clock.now - timedelta(seconds=2)).timestamp() * 1000)}
    assert second == {int(clock.now.timestamp() * 1000)}
    assert max(r[0] for r in rows if r[2] == "first") < min(r[0] for r in rows if r[2] == "second")
