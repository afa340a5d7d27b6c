"""No sample in production (issue 9, point 3): ``registry sample-credential`` stores
nothing and signs with a throwaway key, the sample says it is one, it names a
committee of the node's province, and only the demo's own nodes store samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import func, select

from registry.app import prepare_database
from registry.cli import main
from registry.credentials import schemas
from registry.credentials.sample import SAMPLE_COMMITTEES, SAMPLE_TYPE, is_sample
from registry.database import Database
from registry.models import Credential, Holder
from registry.settings import Settings
from registry.signing import jose


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path / "node"))
    monkeypatch.setenv("REGISTRY_BASE_URL", "http://127.0.0.1:8031")
    monkeypatch.setenv("REGISTRY_PROVINCE", "31")
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def _rows(settings: Settings) -> tuple[int, int]:
    db = Database.from_url(settings.resolved_database_url)
    try:
        with db.session(write=False) as session:
            credentials = session.exec(select(func.count()).select_from(Credential)).one()
            holders = session.exec(select(func.count()).select_from(Holder)).one()
    finally:
        db.dispose()
    return int(credentials), int(holders)


def test_sample_credential_stores_nothing_in_the_node(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "init")[0] == 0
    settings = Settings()
    code, out = _run(capsys, "sample-credential")
    assert code == 0
    assert _run(capsys, "sample-credential", "--format", "jwt")[0] == 0
    assert _rows(settings) == (0, 0)
    # Nor is it the node's: a throwaway did:key signs it, not the node's did:web.
    sample = json.loads(out)
    assert sample["issuer"]["id"].startswith("did:key:")
    assert sample["issuer"]["id"] != settings.did
    assert sample["proof"]["verificationMethod"].startswith(sample["issuer"]["id"] + "#")


def test_the_sample_says_it_is_a_sample_and_names_a_committee_of_the_node_province(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = _run(capsys, "sample-credential")
    sample = json.loads(out)
    assert is_sample(sample)
    assert SAMPLE_TYPE in sample["type"]
    assert "ProfessionalTitleCredential" in sample["type"]
    assert any("样例" in n["@value"] for n in sample["name"])
    assert any("Sample" in n["@value"] for n in sample["name"])
    subject = sample["credentialSubject"]
    assert subject["evaluationCommittee"] == SAMPLE_COMMITTEES["31"]
    assert subject["evaluationCommittee"].startswith("上海市")
    assert subject["province"] == "31"
    assert subject["certificateNumber"].startswith("31-")
    assert subject["certificateNumber"].endswith("-0000000")  # a serial never issued
    assert "11010519491231002X" not in out
    assert schemas.schema_errors("professional-title", sample) == []
    _, token = _run(capsys, "sample-credential", "--format", "jwt")
    _, payload_segment, _, _ = jose.split_compact(token.strip())
    payload = jose.json_object_segment(payload_segment, "payload")
    assert SAMPLE_TYPE in payload["type"]
    assert payload["credentialSubject"]["evaluationCommittee"] == SAMPLE_COMMITTEES["31"]


def test_no_verifier_takes_the_sample_for_a_valid_credential(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = _run(capsys, "sample-credential")
    (node_dir / "sample.vc.json").write_text(out, encoding="utf-8")
    code, report = _run(capsys, "verify", str(node_dir / "sample.vc.json"))
    assert code == 1
    verdict = json.loads(report)
    assert verdict["verdict"] != "valid"
    assert next(c for c in verdict["checks"] if c["check"] == "proof")["result"] == "pass"
    assert next(c for c in verdict["checks"] if c["check"] == "issuer")["result"] != "pass"


@pytest.mark.parametrize("province", ["31", "32", "33", "34"])
def test_each_province_has_its_own_sample_committee(
    province: str, node_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_PROVINCE", province)
    _, out = _run(capsys, "sample-credential")
    subject = json.loads(out)["credentialSubject"]
    assert subject["evaluationCommittee"] == SAMPLE_COMMITTEES[province]
    prefix = {"31": "上海", "32": "江苏", "33": "浙江", "34": "安徽"}[province]
    assert subject["evaluationCommittee"].startswith(prefix)
    assert subject["certificateNumber"].startswith(f"{province}-")


def test_the_demo_nodes_store_samples_marked_as_samples(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from registry import demo

    entities = demo.plan(tmp_path / "demo", ["31", "32", "34"], base_port=18100)
    now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    facts = demo.prepare(tmp_path / "demo", entities, now)
    for entity in entities[1:]:
        assert entity.province is not None
        db = Database.from_url(entity.settings.resolved_database_url)
        try:
            with db.session(write=False) as session:
                stored = session.exec(select(Credential)).all()
        finally:
            db.dispose()
        assert sorted(c.id for c in stored) == sorted(facts["credentials"][entity.province])
        for credential in stored:
            document = json.loads(credential.document)
            assert is_sample(document)
            assert credential.committee == SAMPLE_COMMITTEES[entity.province]
            assert document["credentialSubject"]["evaluationCommittee"] == SAMPLE_COMMITTEES[entity.province]


def test_a_production_node_has_no_sample_after_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    db = Database.from_url(url)
    try:
        prepare_database(Settings(data_dir=tmp_path, database_url=url, environment="development"), db)
        with db.session(write=False) as session:
            assert session.exec(select(func.count()).select_from(Credential)).one() == 0
    finally:
        db.dispose()
