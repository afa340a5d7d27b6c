"""The ``registry`` command: init, admin accounts, batch issuance, sample
credentials, verification, key rotation, the OpenAPI document."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from registry.cli import main, openapi_json
from registry.credentials.sample import sample_title_credential
from registry.database import Database
from registry.node import utc_now
from registry.node_keys import NodeKeyStore
from registry.settings import Settings
from registry.signing import data_integrity, jose
from tests.conftest import resident_id

#: A title of this node (Jiangsu, 32, the default province) for a fictitious holder.
SAMPLE_LIKE_ROW = {
    "holderName": "张伟",
    "idType": "resident",
    "idNumber": "11010519491231002X",
    "typeCode": "ENG-ASSOCIATE_SENIOR",
    "specialty": "电气工程及其自动化",
    "evaluationCommittee": "江苏省工程技术研究系列高级职称评审委员会",
    "awardedOn": "2026-11-20",
}


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path / "node"))
    monkeypatch.setenv("REGISTRY_BASE_URL", "http://127.0.0.1:8033")
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _verdict(out: str) -> str:
    verdict: str = json.loads(out)["verdict"]
    return verdict


def test_issued_credential_verifies_before_and_after_rotation(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = node_dir / "one.json"
    batch.write_text(json.dumps([SAMPLE_LIKE_ROW], ensure_ascii=False), encoding="utf-8")
    assert _run(capsys, "issue", "--batch", str(batch))[0] == 0
    settings = Settings()
    db = Database.from_url(settings.resolved_database_url)
    from sqlmodel import select

    from registry.models import Credential

    with db.session(write=False) as session:
        stored = session.exec(select(Credential)).one()
        ring = NodeKeyStore(settings.key_passphrase).load(session)
    db.dispose()
    credential = json.loads(stored.document)
    assert credential["issuer"]["id"] == "did:web:127.0.0.1%3A8033"
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    (node_dir / "title.vc.json").write_text(stored.document)
    record, key = ring.signing_key(stored.issued_at)
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    unsecured["iat"] = int(stored.issued_at.timestamp())
    (node_dir / "title.vc.jwt").write_text(jose.sign_vc_jwt(unsecured, key, f"{settings.did}#{record.kid}"))
    code, out, _ = _run(capsys, "verify", str(node_dir / "title.vc.json"))
    assert (code, _verdict(out)) == (0, "valid"), out
    assert _run(capsys, "verify", str(node_dir / "title.vc.jwt"))[0] == 0
    assert _run(capsys, "keys", "rotate")[0] == 0
    # Signed with the retired key before the rotation: still verifies.
    code, out, _ = _run(capsys, "verify", str(node_dir / "title.vc.json"))
    assert code == 0
    assert _verdict(out) == "valid"
    assert _run(capsys, "verify", str(node_dir / "title.vc.jwt"))[0] == 0


def test_tampered_credential_fails(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "sample-credential")
    tampered = json.loads(out)
    tampered["credentialSubject"]["title"]["name"]["zh"] = "正高级工程师"
    (node_dir / "tampered-title.vc.json").write_text(json.dumps(tampered, ensure_ascii=False))
    code, out, _ = _run(capsys, "verify", str(node_dir / "tampered-title.vc.json"))
    assert code == 1
    report = json.loads(out)
    assert report["verdict"] == "invalid"
    first = report["checks"][0]
    assert {k: first[k] for k in ("check", "result", "reason")} == {
        "check": "proof",
        "result": "fail",
        "reason": "eddsa-jcs-2022 signature does not verify",
    }
    # Issue 9 point 4: a stable code and a message a person reads, zh-CN by default.
    assert first["code"] == "proof-signature-mismatch"
    assert "签名" in first["message"]
    assert report["summary"] is None  # nothing of an unauthentic document is shown as its own
    _, out, _ = _run(capsys, "verify", "--lang", "en", str(node_dir / "tampered-title.vc.json"))
    message = json.loads(out)["checks"][0]["message"]
    assert "signature" in message
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in message)


def test_retired_key_cannot_sign_after_its_retirement(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings()
    db = Database.from_url(settings.resolved_database_url)
    from registry.database import migrate

    migrate(db.engine)
    store = NodeKeyStore(settings.key_passphrase)
    now = utc_now()
    with db.session() as session:
        ring = store.load_or_create(session, now - timedelta(days=2))
        old_record, old_key = ring.signing_key(now - timedelta(days=2))
        store.rotate(session, now - timedelta(days=1))
    db.dispose()
    # The retired (not compromised) key is still published, but it signs "today".
    credential = sample_title_credential(settings.did, settings.base_url, now)
    late = data_integrity.add_proof(credential, old_key, f"{settings.did}#{old_record.kid}", now)
    (node_dir / "signed-after-retirement.vc.json").write_text(json.dumps(late))
    code, out, _ = _run(capsys, "verify", str(node_dir / "signed-after-retirement.vc.json"))
    assert code == 1
    key_check = next(c for c in json.loads(out)["checks"] if c["check"] == "key")
    assert key_check["result"] == "fail"
    assert "not valid for signing" in key_check["reason"]


def test_init_is_idempotent(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, first, _ = _run(capsys, "init")
    assert code == 0
    code, second, _ = _run(capsys, "init")
    assert code == 0
    assert first.split()[-1] == second.split()[-1]  # the same signing key


def test_admin_create_then_sign_in(
    node_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long admin password\n"))
    code, out, err = _run(capsys, "admin", "create", "root.admin", "--password-stdin")
    assert code == 0, err
    assert json.loads(out)["role"] == "admin"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = _run(capsys, "admin", "create", "other.admin", "--password-stdin")
    assert code == 1
    assert "12 characters" in err
    from fastapi.testclient import TestClient

    from registry.app import create_app

    with TestClient(create_app(Settings())) as client:
        response = client.post(
            "/v1/auth/token", json={"username": "root.admin", "password": "a long admin password"}
        )
        assert response.status_code == 200
        assert response.json()["role"] == "admin"


def test_issue_batch_from_csv_is_all_or_nothing_and_idempotent(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = "holder_name,id_type,id_number,type_code,specialty,evaluation_committee,awarded_on\n"
    good = "".join(
        f"持证人{i},resident,{resident_id(i)},HED-FULL_SENIOR,材料科学,高校教师评委会,2026-11-20\n"
        for i in range(4)
    )
    batch = node_dir / "eval-2026-11.csv"
    batch.write_text(
        header + good + "错一行,resident,110105194912310021,HED-FULL_SENIOR,材料,评委会,2026-11-20\n"
    )
    code, _, err = _run(capsys, "issue", "--batch", str(batch))
    assert code == 1
    # Human-readable lines (issue 9): the rejected row is named by the file's line (row 5
    # is line 6, under the header), no problem document.
    assert "line 6" in err
    batch.write_text(header + good)
    code, out, _ = _run(capsys, "issue", "--batch", str(batch), "--json")
    assert code == 0
    first = json.loads(out)
    assert (first["batchId"], first["count"], len(first["credentials"])) == ("eval-2026-11", 4, 4)
    code, out, _ = _run(capsys, "issue", "--batch", str(batch), "--json")
    assert json.loads(out) == first
    settings = Settings()
    db = Database.from_url(settings.resolved_database_url)
    from sqlmodel import func, select

    from registry.models import Credential

    with db.session(write=False) as session:
        assert session.exec(select(func.count()).select_from(Credential)).one() == 4
    db.dispose()


def test_missing_file_is_a_clear_error(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "verify", str(node_dir / "absent.vc.json"))
    assert code == 2
    assert "absent.vc.json" in err


def test_committed_openapi_document_matches_the_app() -> None:
    committed = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
    assert committed.read_text(encoding="utf-8") == openapi_json(), (
        "openapi/openapi.json drifted: run `registry openapi > openapi/openapi.json`"
    )


def test_serve_runs_a_node_on_loopback(tmp_path: Path) -> None:
    """`registry serve` in a real process: it answers on its port, then stops cleanly."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "REGISTRY_DATA_DIR": str(tmp_path / "node"),
        "REGISTRY_BASE_URL": f"http://127.0.0.1:{port}",
        "REGISTRY_PORT": str(port),
    }
    env.pop("REGISTRY_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "registry.cli", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=sink
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.1)
        assert health.json()["status"] == "ok"
        assert health.json()["did"] == f"did:web:127.0.0.1%3A{port}"
        did = httpx.get(f"http://127.0.0.1:{port}/.well-known/did.json", timeout=5).json()
        assert did["id"] == health.json()["did"]
    finally:
        server.terminate()
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit says why.
        assert server.wait(timeout=20) in (0, -15)
    assert "Application shutdown complete" in log.read_text()
