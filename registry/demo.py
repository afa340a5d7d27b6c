"""``registry demo``: a trust anchor and the four provincial nodes on loopback, each a
real process with its own SQLite database and keys, served over https with a
certificate authority made for the demo (entity identifiers and ``did:web`` are https
URLs by their specifications).

It admits and authorises the nodes at the anchor, publishes each node's recognition
policy (the other provinces' titles and qualifications count as the same type: Article
11 of the provincial decision), issues sample credentials at each node (marked as
samples in the credentials themselves), verifies a Jiangsu title at the Anhui node as an
Anhui HR client would (answered in Anhui's terms: "recognised in Anhui as …"),
revokes another Jiangsu title (科研失信) and verifies it at Anhui too, prints the
reports and how to try more, and keeps serving until Ctrl-C (``--once``: stops after the reports).
Run again on the same folder, it reuses what it made.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from registry.accounts import create_hr_client
from registry.app import prepare_database
from registry.auth import Principal
from registry.credentials import issuance
from registry.credentials import status as status_service
from registry.credentials.sample import SAMPLE_COMMITTEES, sample_members
from registry.database import Database
from registry.federation import anchor, recognition
from registry.federation.jws import federation_jwks
from registry.federation.metadata import PROVINCES
from registry.federation.tls import client_ssl_context, write_demo_tls
from registry.models import Credential
from registry.node_keys import NodeKeyStore
from registry.settings import Settings

HOST = "127.0.0.1"
ANCHOR_PORT = 8100
#: Province code -> (folder name, port).
NODES = {"31": ("shanghai", 8031), "32": ("jiangsu", 8032), "33": ("zhejiang", 8033), "34": ("anhui", 8034)}
DEMO = Principal("cli", "demo", "admin")
OFFICER = Principal("cli", "demo-officer", "issuing_officer")
#: Each province's sample committee (a Shanghai sample names a Shanghai committee).
COMMITTEES = SAMPLE_COMMITTEES
#: Holders of the sample credentials (fictitious; valid GB 11643 check characters).
HOLDERS = [
    ("张伟", "11010519491231002X"),
    ("李娜", "320102198001010012"),
]


@dataclass(frozen=True)
class Entity:
    name: str
    province: str | None
    port: int
    settings: Settings


def _resident(province: str, seed: int) -> str:
    from registry.credentials.identity import gb11643_check_character

    first17 = f"{province}0102198{seed % 10}0101{seed:03d}"
    return first17 + gb11643_check_character(first17)


def plan(folder: Path, provinces: Sequence[str], base_port: int | None = None) -> list[Entity]:
    """The anchor and the nodes of ``provinces``, with their settings."""
    ca_file = folder / "tls" / "ca.pem"
    jwks_file = folder / "anchor-jwks.json"
    offset = 0 if base_port is None else base_port - ANCHOR_PORT

    def settings(name: str, port: int, **extra: Any) -> Settings:
        return Settings(
            base_url=f"https://{HOST}:{port}",
            data_dir=folder / name,
            database_url=f"sqlite:///{folder / name / 'registry.db'}",
            host=HOST,
            port=port,
            federation_allow_private=True,
            federation_ca_file=str(ca_file),
            **extra,
        )

    entities = [
        Entity("anchor", None, ANCHOR_PORT + offset, settings("anchor", ANCHOR_PORT + offset, role="anchor"))
    ]
    for province in provinces:
        name, port = NODES[province]
        node_settings = settings(
            name,
            port + offset,
            province=province,
            trust_anchor=f"https://{HOST}:{ANCHOR_PORT + offset}",
            trust_anchor_jwks=f"@{jwks_file}",
        )
        entities.append(Entity(name, province, port + offset, node_settings))
    return entities


def _federation_jwks(db: Database, settings: Settings, now: datetime) -> dict[str, Any]:
    with db.session(write=False) as session:
        ring = NodeKeyStore(settings.key_passphrase, "federation").load(session)
    return federation_jwks(*(r.public_key for r in ring.valid_at(now)))


def prepare(folder: Path, entities: Sequence[Entity], now: datetime) -> dict[str, Any]:
    """Databases, keys, TLS files, admissions, authorisations and sample credentials
    (idempotent). Answers what the walkthrough needs: credential ids and the HR key."""
    folder.mkdir(parents=True, exist_ok=True)
    write_demo_tls(folder / "tls", [e.name for e in entities], now=now)
    databases = {}
    for entity in entities:
        (folder / entity.name).mkdir(parents=True, exist_ok=True)
        db = Database.from_url(entity.settings.resolved_database_url)
        databases[entity.name] = db
        if entity.province is None:
            prepare_database(entity.settings, db, lambda: now)
            jwks = _federation_jwks(db, entity.settings, now)
            (folder / "anchor-jwks.json").write_text(json.dumps(jwks), encoding="utf-8")
    anchor_entity = entities[0]
    facts: dict[str, Any] = {"credentials": {}, "ca_file": str(folder / "tls" / "ca.pem")}
    for entity in entities[1:]:
        assert entity.province is not None
        db = databases[entity.name]
        prepare_database(entity.settings, db, lambda: now)
        jwks = _federation_jwks(db, entity.settings, now)
        with databases["anchor"].session() as session:
            listed = {m.member.entity_id for m in anchor.members(session, include_removed=False)}
            if entity.settings.entity_id not in listed:
                anchor.admit(
                    session,
                    DEMO,
                    now,
                    entity_id=entity.settings.entity_id,
                    did=entity.settings.did,
                    province=entity.province,
                    jwks=jwks,
                    anchor_id=anchor_entity.settings.entity_id,
                    allow_http_loopback=True,
                )
                anchor.authorise(
                    session,
                    DEMO,
                    now,
                    entity_id=entity.settings.entity_id,
                    scope="*",
                    valid_from=datetime(2020, 1, 1, tzinfo=UTC),
                )
        _mutual_recognition(db, entity.province, now)
        facts["credentials"][entity.province] = _samples(db, entity, now)
        if entity.province == "34":
            facts["hr_key"] = _hr_key(folder, db, now)
    for db in databases.values():
        db.dispose()
    return facts


#: What each demo node's recognition policy v1 says: the other provinces' credentials of
#: every type this node's catalogue has count as the same type (the decision's Article 11:
#: 推进人才评价标准、职业资格、职称跨区域互认).
MUTUAL = "长三角职称、职业资格跨区域互认（演示） Yangtze River Delta mutual recognition (demo)"


def _mutual_recognition(db: Database, province: str, now: datetime) -> None:
    with db.session() as session:
        if recognition.load(session) is not None:
            return
        rules = [
            recognition.RuleIn(issuerProvince=other, credentialType="*", validFrom=date(2020, 1, 1))
            for other in ("31", "32", "33", "34")
            if other != province
        ]
        recognition.publish(
            session, recognition.PolicyIn(rules=rules, note=MUTUAL), province, DEMO.actor, now
        )


def _samples(db: Database, entity: Entity, now: datetime) -> list[str]:
    """Two sample titles issued at this demo node (once): their credential ids. Each
    says it is a sample (type SampleCredential, name, description); only the demo's
    own databases hold them."""
    from registry.node import NodeState

    assert entity.province is not None
    node = NodeState(entity.settings, db, lambda: now)
    rows = [
        issuance.IssueRequest.model_validate(
            {
                "holderName": name,
                "idType": "resident",
                "idNumber": number if i == 0 else _resident(entity.province, int(entity.province) + i),
                "typeCode": "ENG-ASSOCIATE_SENIOR",
                "specialty": "电气工程及其自动化",
                "evaluationCommittee": COMMITTEES[entity.province],
                "awardedOn": "2026-11-20",
            }
        )
        for i, (name, number) in enumerate(HOLDERS)
    ]
    with db.session() as session:
        from registry.routes.issuance import context

        result = issuance.issue(
            session,
            OFFICER,
            rows,
            context(node, session),
            batch_id="demo-samples",
            callers=[sample_members() for _ in rows],
        )
    return [c.id for c in result.credentials]


def _hr_key(folder: Path, db: Database, now: datetime) -> str:
    path = folder / "anhui-hr-key.txt"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    with db.session() as session:
        _, key = create_hr_client(session, DEMO, "安徽省某研究院人事处", ["verify", "lookup"], 600, now)
    path.write_text(key, encoding="utf-8")
    path.chmod(0o600)
    return key


def _serve(settings_json: str, cert: str, key: str) -> None:
    """Child process: one entity served over https."""
    import uvicorn

    from registry.app import create_app
    from registry.verifier import Verifier

    settings = Settings.model_validate_json(settings_json)
    app = create_app(settings, verifier=Verifier(workers=1))
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=cert,
        ssl_keyfile=key,
        log_level="warning",
    )


@contextmanager
def serving(folder: Path, entities: Sequence[Entity], timeout: float = 60.0) -> Iterator[httpx.Client]:
    """Every entity in its own process until the block ends; yields an https client
    that trusts the demo CA."""
    context = multiprocessing.get_context("spawn")
    processes = []
    tls = folder / "tls"
    for entity in entities:
        process = context.Process(
            target=_serve,
            args=(
                entity.settings.model_dump_json(),
                str(tls / f"{entity.name}.pem"),
                str(tls / f"{entity.name}-key.pem"),
            ),
            daemon=True,
        )
        process.start()
        processes.append(process)
    client = httpx.Client(verify=client_ssl_context(tls / "ca.pem"), timeout=30.0)
    try:
        deadline = time.monotonic() + timeout
        for entity, process in zip(entities, processes, strict=True):
            while True:
                if not process.is_alive():
                    raise RuntimeError(f"{entity.name} exited with code {process.exitcode}")
                try:
                    if client.get(f"{entity.settings.base_url}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{entity.name} did not answer within {timeout:.0f} s")
                time.sleep(0.2)
        yield client
    finally:
        client.close()
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()


def _show(report: dict[str, Any], title: str) -> str:
    verdicts = {"valid": "有效 valid", "invalid": "无效 invalid", "unknown": "无法确认 unknown"}
    lines = [f"== {title}", f"   结论 verdict: {verdicts.get(report['verdict'], report['verdict'])}"]
    for check in report["checks"]:
        lines.append(f"   [{check['result']:7}] {check['check']:13} {check['reason']}")
    if report.get("recognition"):
        lines.append(f"   认可 recognition: {report['recognition']['message']}")
    return "\n".join(lines)


def walkthrough(
    client: httpx.Client, entities: Sequence[Entity], facts: dict[str, Any]
) -> list[dict[str, Any]]:
    """Verify a Jiangsu title at Anhui; revoke another Jiangsu title; verify it at Anhui."""
    by_province = {e.province: e for e in entities if e.province}
    jiangsu, anhui = by_province["32"], by_province["34"]
    ids = facts["credentials"]["32"]
    db = Database.from_url(jiangsu.settings.resolved_database_url)
    try:
        with db.session(write=False) as session:
            documents = [json.loads(session.get(Credential, i).document) for i in ids]  # type: ignore[union-attr]
        with db.session() as session:
            revoked = session.get(Credential, ids[1])
            if revoked is not None and revoked.status != "revoked":
                from registry.node import NodeState

                node = NodeState(jiangsu.settings, db)
                status_service.change_status(
                    session,
                    OFFICER,
                    ids[1],
                    "revoke",
                    "research_misconduct",
                    "演示：科研失信 demo: research misconduct",
                    did=node.did,
                    base_url=node.base_url,
                    ring=node.ring_in(session),
                    now=datetime.now(UTC),
                    ttl=node.settings.status_list_max_age,
                )
    finally:
        db.dispose()
    headers = {"Authorization": f"Bearer {facts['hr_key']}"}
    reports = []
    for document in documents:
        answer = client.post(
            f"{anhui.settings.base_url}/v1/verifications", json={"credential": document}, headers=headers
        )
        answer.raise_for_status()
        reports.append(answer.json())
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="registry demo", description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("var/demo"))
    parser.add_argument("--once", action="store_true", help="stop after printing the reports")
    parser.add_argument(
        "--provinces", default="31,32,33,34", help="province codes of the nodes (32 and 34 are needed)"
    )
    parser.add_argument(
        "--base-port", type=int, default=None, help=f"the anchor's port (default {ANCHOR_PORT})"
    )
    args = parser.parse_args(argv)
    provinces = [p.strip() for p in args.provinces.split(",") if p.strip()]
    if not {"32", "34"} <= set(provinces) or not set(provinces) <= set(NODES):
        parser.error("--provinces must name 32 and 34, among 31, 32, 33, 34")
    folder = args.folder.resolve()
    entities = plan(folder, provinces, args.base_port)
    facts = prepare(folder, entities, datetime.now(UTC))
    print(f"demo folder: {folder}")
    with serving(folder, entities) as client:
        reports = walkthrough(client, entities, facts)
        print(_show(reports[0], "安徽节点核验江苏职称 · a Jiangsu title verified at the Anhui node"))
        print(_show(reports[1], "安徽节点核验已撤销的江苏职称 · a revoked Jiangsu title verified at Anhui"))
        print()
        print("服务中 serving:")
        for entity in entities:
            label = (
                "trust anchor 信任锚" if entity.province is None else f"{PROVINCES[entity.province][0]} node"
            )
            print(f"   {label:22} {entity.settings.base_url}/.well-known/openid-federation")
        anhui = next(e for e in entities if e.province == "34")
        print(f"CA file (curl --cacert, httpx verify=): {facts['ca_file']}")
        print(f"Anhui HR API key: {facts['hr_key']}")
        print(
            f"try: curl --cacert {facts['ca_file']} -H 'Authorization: Bearer {facts['hr_key']}' "
            "-H 'Content-Type: application/json' -d @credential.json "
            f"{anhui.settings.base_url}/v1/verifications"
        )
        sys.stdout.flush()
        if args.once:
            return 0 if [r["verdict"] for r in reports] == ["valid", "invalid"] else 1
        print("Ctrl-C stops the demo.")
        stop = {"now": False}

        def interrupted(*_: object) -> None:
            stop["now"] = True

        signal.signal(signal.SIGTERM, interrupted)
        try:
            while not stop["now"]:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
