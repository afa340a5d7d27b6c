"""The ``registry`` command: sample credentials, verification, key rotation."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from registry.app import utc_now
from registry.cli import main, openapi_json
from registry.credentials.sample import sample_title_credential
from registry.node_keys import NodeKeyStore
from registry.settings import Settings
from registry.signing import data_integrity


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path / "node"))
    monkeypatch.setenv("REGISTRY_BASE_URL", "http://127.0.0.1:8033")
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_credential_verifies_before_and_after_rotation(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "sample-credential")
    assert code == 0
    credential = json.loads(out)
    assert credential["issuer"]["id"] == "did:web:127.0.0.1%3A8033"
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    (node_dir / "title.vc.json").write_text(out)
    code, out, _ = _run(capsys, "sample-credential", "--format", "jwt")
    (node_dir / "title.vc.jwt").write_text(out)
    assert _run(capsys, "verify", str(node_dir / "title.vc.json"))[0] == 0
    assert _run(capsys, "verify", str(node_dir / "title.vc.jwt"))[0] == 0
    assert _run(capsys, "keys", "rotate")[0] == 0
    # Signed with the retired key before the rotation: still verifies.
    code, out, _ = _run(capsys, "verify", str(node_dir / "title.vc.json"))
    assert code == 0
    assert json.loads(out)["verificationMethod"] == credential["proof"]["verificationMethod"]
    assert _run(capsys, "verify", str(node_dir / "title.vc.jwt"))[0] == 0


def test_tampered_credential_fails_with_a_problem(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "sample-credential")
    tampered = json.loads(out)
    tampered["credentialSubject"]["title"]["name"]["zh"] = "正高级工程师"
    (node_dir / "tampered-title.vc.json").write_text(json.dumps(tampered, ensure_ascii=False))
    code, _, err = _run(capsys, "verify", str(node_dir / "tampered-title.vc.json"))
    assert code == 1
    assert json.loads(err)["type"].endswith("/invalid-signature")


def test_retired_key_cannot_sign_after_its_retirement(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings()
    store = NodeKeyStore(settings.data_dir, settings.key_passphrase)
    now = utc_now()
    ring = store.load_or_create(now - timedelta(days=2))
    old_record, old_key = ring.signing_key(now - timedelta(days=2))
    store.rotate(now - timedelta(days=1))
    # The retired (not compromised) key is still published, but it signs "today".
    credential = sample_title_credential(settings.did, settings.base_url, now)
    late = data_integrity.add_proof(credential, old_key, f"{settings.did}#{old_record.kid}", now)
    (node_dir / "signed-after-retirement.vc.json").write_text(json.dumps(late))
    code, _, err = _run(capsys, "verify", str(node_dir / "signed-after-retirement.vc.json"))
    assert code == 1
    assert json.loads(err)["type"].endswith("/key-not-valid-at-instant")


def test_init_is_idempotent(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, first, _ = _run(capsys, "init")
    assert code == 0
    assert "created" in first
    code, second, _ = _run(capsys, "init")
    assert code == 0
    assert "exists" in second
    assert first.split()[-1] == second.split()[-1]


def test_missing_file_is_a_clear_error(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "verify", str(node_dir / "absent.vc.json"))
    assert code == 2
    assert "absent.vc.json" in err


def test_committed_openapi_document_matches_the_app(node_dir: Path) -> None:
    committed = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
    assert committed.read_text(encoding="utf-8") == openapi_json(Settings()), (
        "openapi/openapi.json drifted: run `registry openapi > openapi/openapi.json`"
    )
