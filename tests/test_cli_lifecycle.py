"""The operator at a terminal (issue 9, points 1 and 8): staff accounts, HR clients,
revocation and key compromise as ``registry`` commands; help without markup and with
defaults, ``--version``, errors a person can read, quiet on a closed pipe, and issuance
audited as the operator who ran it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from registry import __version__
from registry.cli import main
from registry.database import Database
from registry.models import AuditEvent, Credential
from registry.settings import Settings
from tests.conftest import resident_id

PASSWORD = "a long enough operator password"


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


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def _events(action: str) -> list[AuditEvent]:
    db = Database.from_url(Settings().resolved_database_url)
    with db.session(write=False) as session:
        rows = list(
            session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id)))
        )
    db.dispose()
    return rows


def _json(out: str) -> Any:
    return json.loads(out)


# --- help, version, errors, pipes ---


def test_help_has_no_markup_and_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    top = _help(capsys)
    assert "``" not in top
    assert "accounts" in top
    assert "hr-clients" in top
    assert "revoke" in top
    issue = _help(capsys, "issue")
    assert "``" not in issue
    assert "--operator" in issue
    assert "(default:" in issue
    assert "CSV" in issue  # a description, not only a usage line
    sample = _help(capsys, "sample-credential")
    assert "(default: vc)" in sample
    compromise = _help(capsys, "keys", "compromise")
    assert "--confirm" in compromise


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"registry {__version__}"


def test_errors_are_sentences_not_problem_documents(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "accounts", "deactivate", "nobody", "--reason", "离职")
    assert code == 1
    assert not err.lstrip().startswith("{")
    assert "registry:" in err
    assert "未找到" in err
    assert "not found" in err.lower()
    assert "nobody" in err


def test_a_rejected_batch_lists_its_rows_readably(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch = node_dir / "eval-bad.csv"
    batch.write_text(
        "holder_name,id_type,id_number,type_code,specialty,evaluation_committee,awarded_on\n"
        "错一行,resident,110105194912310021,HED-FULL_SENIOR,材料,评委会,2026-11-20\n",
        encoding="utf-8",
    )
    code, _, err = _run(capsys, "issue", "--batch", str(batch))
    assert code == 1
    assert not err.lstrip().startswith("{")
    # Row 1 is named by the file's line: line 2, under the header.
    assert "line 2" in err
    assert "第 2 行" in err


def test_a_closed_pipe_ends_quietly_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader of the output went away before the first write reached it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    errors = io.StringIO()
    with open(write_end, "w", encoding="utf-8") as closed_pipe:
        monkeypatch.setattr("sys.stdout", closed_pipe)
        monkeypatch.setattr("sys.stderr", errors)
        code = main(["openapi"])
        monkeypatch.undo()
    assert code == 141
    assert errors.getvalue() == ""


def test_a_closed_pipe_ends_quietly(node_dir: Path) -> None:
    """`registry openapi | head -1`, as a shell runs it."""
    env = {**os.environ}
    reader = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "openapi"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    assert reader.stderr is not None
    first = reader.stdout.readline()
    reader.stdout.close()  # what `| head -1` does
    err = reader.stderr.read().decode()
    reader.stderr.close()
    assert reader.wait(timeout=60) in (141, 0)
    assert first.startswith(b"{")
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
    assert err == ""


# --- staff accounts ---


def test_accounts_are_created_listed_deactivated_and_reactivated(
    node_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, err = _run(
        capsys,
        "accounts",
        "create",
        "officer.wang",
        "--role",
        "issuing_officer",
        "--password-stdin",
        "--operator",
        "root",
    )
    assert code == 0, err
    assert _json(out)["role"] == "issuing_officer"
    code, out, _ = _run(capsys, "officers", "list")  # the alias an operator may reach for
    assert code == 0
    [listed] = _json(out)
    assert (listed["username"], listed["active"]) == ("officer.wang", True)
    code, out, err = _run(
        capsys, "accounts", "deactivate", "officer.wang", "--reason", "调离", "--operator", "li"
    )
    assert code == 0, err
    assert _json(out)["active"] is False
    code, out, _ = _run(capsys, "accounts", "reactivate", "officer.wang", "--reason", "返岗")
    assert _json(out)["active"] is True
    [event] = _events("account.deactivate")
    assert (event.actor, event.actor_role, event.reason) == ("cli:li", "admin", "调离")
    [created] = _events("account.create")
    assert created.actor == "cli:root"


# --- HR clients ---


def test_hr_clients_are_created_listed_rotated_and_deactivated(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "hr-clients", "create", "合肥人才中心", "--scopes", "verify,lookup")
    assert code == 0, err
    created = _json(out)
    assert created["apiKey"].startswith("yrd_")
    assert created["ratePerMinute"] == Settings().hr_rate_per_minute
    code, out, _ = _run(capsys, "hr-clients", "list")
    [listed] = _json(out)
    assert listed["id"] == created["id"]
    assert "apiKey" not in listed
    code, out, err = _run(capsys, "hr-clients", "rotate-key", created["id"], "--reason", "泄露")
    assert code == 0, err
    assert _json(out)["apiKey"] not in (created["apiKey"], None)
    code, out, err = _run(capsys, "hr-clients", "deactivate", created["id"], "--reason", "合同终止")
    assert code == 0, err
    assert _json(out)["active"] is False
    assert [e.reason for e in _events("hr-client.deactivate")] == ["合同终止"]
    assert [e.reason for e in _events("hr-client.rotate-key")] == ["泄露"]


# --- issuance and revocation ---


def _issue_two(node_dir: Path, capsys: pytest.CaptureFixture[str], *operator: str) -> None:
    header = "holder_name,id_type,id_number,type_code,specialty,evaluation_committee,awarded_on\n"
    rows = "".join(
        f"持证人{i},resident,{resident_id(i)},HED-FULL_SENIOR,材料科学,高校教师评委会,2026-11-20\n"
        for i in range(2)
    )
    batch = node_dir / "eval-2026-12.csv"
    batch.write_text(header + rows, encoding="utf-8")
    code, _, err = _run(capsys, "issue", "--batch", str(batch), *operator)
    assert code == 0, err


def test_cli_issuance_is_audited_as_the_operator_with_the_officer_role(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _issue_two(node_dir, capsys, "--operator", "zhang.officer")
    events = _events("credential.issue")
    assert len(events) == 2
    assert {(e.actor, e.actor_role) for e in events} == {("cli:zhang.officer", "issuing_officer")}


def test_cli_issuance_defaults_to_the_os_user(
    node_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "os.user")
    _issue_two(node_dir, capsys)
    assert {e.actor for e in _events("credential.issue")} == {"cli:os.user"}


def test_revoke_by_certificate_number_with_a_reason_code(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _issue_two(node_dir, capsys)
    db = Database.from_url(Settings().resolved_database_url)
    with db.session(write=False) as session:
        number = session.exec(select(Credential.certificate_number)).first()
    db.dispose()
    assert number is not None
    code, _, err = _run(capsys, "revoke", number, "--reason", "not-a-code")
    assert code == 1
    assert "research_misconduct" in err  # the codes there are
    code, out, err = _run(
        capsys,
        "revoke",
        number,
        "--reason",
        "research_misconduct",
        "--note",
        "处理决定 17号",
        "--operator",
        "qian",
    )
    assert code == 0, err
    assert _json(out)["status"] == "revoked"
    [event] = _events("credential.revoke")
    assert (event.actor, event.actor_role, event.reason) == (
        "cli:qian",
        "issuing_officer",
        "research_misconduct",
    )
    code, _, err = _run(capsys, "revoke", "32-2026-9999999", "--reason", "research_misconduct")
    assert code == 1
    assert "32-2026-9999999" in err


# --- keys ---


def test_keys_listed_and_compromised_only_with_confirmation(
    node_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(capsys, "init")[0] == 0
    code, out, _ = _run(capsys, "keys", "list")
    [key] = _json(out)
    assert key["state"] == "active"
    kid = key["kid"]
    # A kid is base64url and may begin with "-" (then argparse would read it as an option):
    # it goes after the options and "--", as the help says.
    code, _, err = _run(
        capsys,
        "keys",
        "compromise",
        "--since",
        "2026-01-01",
        "--reason",
        "泄露",
        "--confirm",
        "wrong",
        "--",
        kid,
    )
    assert code == 2
    assert "confirm" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("not the kid\n"))
    code, _, _ = _run(capsys, "keys", "compromise", "--since", "2026-01-01", "--reason", "泄露", "--", kid)
    assert code == 2
    code, out, _ = _run(capsys, "keys", "list")
    assert _json(out)[0]["state"] == "active"  # nothing changed
    monkeypatch.setattr("sys.stdin", io.StringIO(kid + "\n"))
    code, out, err = _run(
        capsys, "keys", "compromise", "--since", "2026-01-01T00:00:00+08:00", "--reason", "泄露", "--", kid
    )
    assert code == 0, err
    code, out, _ = _run(capsys, "keys", "list")
    states = {k["kid"]: k["state"] for k in _json(out)}
    assert states[kid] == "compromised"
    assert sorted(states.values()) == ["active", "compromised"]  # a new key signs
    [event] = _events("key.compromise")
    assert (event.target_id, event.reason, event.actor_role) == (kid, "泄露", "admin")


def test_a_kid_that_begins_with_a_dash_is_given_after_the_options(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Key ids are base64url (RFC 7638 thumbprints) and may begin with "-": after "--"
    such a kid is read as the key id, not as an option (here: a key the node never had)."""
    assert _run(capsys, "init")[0] == 0
    code, _, err = _run(
        capsys,
        "keys",
        "compromise",
        "--since",
        "2026-01-01",
        "--reason",
        "泄露",
        "--confirm=-hb3",
        "--",
        "-hb3",
    )
    assert code != 0
    assert "-hb3" in err
    assert "ignored explicit argument" not in err
