"""The trust anchor's register (registry.federation.anchor): admission, removal,
authorisations as history, the Subordinate Statements it signs, and the ``registry
anchor`` and ``registry federation`` commands. Runs on SQLite and (when set) PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from registry.auth import Principal
from registry.cli import main
from registry.database import Database
from registry.errors import ConflictError, NotFoundError
from registry.federation import anchor
from registry.federation.anchor import FederationInputError
from registry.federation.jws import federation_jwks
from registry.federation.metadata import ISSUER_ENTITY_TYPE, Authorisation
from registry.federation.statements import verify_entity_statement
from registry.models import AuditEvent, FederationAuthorisation
from registry.node_keys import NodeKeyStore
from registry.signing.keys import generate_private_key
from tests.conftest import NOW

ADMIN = Principal("cli", "tests", "admin")
ANCHOR = "https://anchor.yrd.example"
JIANGSU = "https://js.yrd.example"
JIANGSU_DID = "did:web:js.yrd.example"
ANHUI = "http://127.0.0.1:8034"
DAY = timedelta(days=1)
CST = timezone(timedelta(hours=8))
JIANGSU_KEY = generate_private_key()
JIANGSU_JWKS: dict[str, Any] = federation_jwks(JIANGSU_KEY.public_key())


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """One transaction for the whole test (services never commit)."""
    with database.session() as session:
        yield session


def _admit(session: Session, entity_id: str = JIANGSU, did: str = JIANGSU_DID, **kw: Any) -> None:
    anchor.admit(
        session,
        ADMIN,
        kw.pop("now", NOW),
        entity_id=entity_id,
        did=did,
        province=kw.pop("province", "32"),
        jwks=kw.pop("jwks", JIANGSU_JWKS),
        **kw,
    )


def _actions(session: Session) -> list[str]:
    rows = session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
    return [a for a in rows if a.startswith("federation.")]


# --- admission -------------------------------------------------------------------------


def test_admitting_a_member_twice_conflicts(session: Session) -> None:
    _admit(session)
    with pytest.raises(ConflictError) as raised:
        _admit(session, now=NOW + DAY)
    assert raised.value.status == 409
    assert anchor.active_member_ids(session) == [JIANGSU]
    assert _actions(session) == ["federation.admit"]


def test_two_members_cannot_share_a_did(session: Session) -> None:
    _admit(session)
    with pytest.raises(ConflictError, match="has DID"):
        _admit(session, entity_id="https://js2.yrd.example")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"entity_id": "http://js.yrd.example"}, "https"),
        ({"entity_id": "https://js.yrd.example?x=1"}, "query"),
        ({"entity_id": "https://js.yrd.example/"}, "trailing"),
        ({"entity_id": ANCHOR, "anchor_id": ANCHOR}, "member of itself"),
        ({"did": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}, "did:web"),
        ({"province": "35"}, "province"),
        ({"jwks": {"keys": []}}, "non-empty"),
        ({"jwks": {"keys": [{**JIANGSU_JWKS["keys"][0], "d": "AAAA"}]}}, "private"),
        ({"jwks": {"keys": [{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}]}}, "no Ed25519"),
    ],
)
def test_admission_refuses_bad_input(session: Session, change: dict[str, Any], message: str) -> None:
    with pytest.raises(FederationInputError, match=message) as raised:
        _admit(session, **change)
    assert raised.value.status == 422
    assert anchor.members(session) == []


def test_http_loopback_members_only_when_allowed(session: Session) -> None:
    with pytest.raises(FederationInputError, match="https"):
        _admit(session, entity_id=ANHUI, did="did:web:127.0.0.1%3A8034", province="34")
    _admit(session, entity_id=ANHUI, did="did:web:127.0.0.1%3A8034", province="34", allow_http_loopback=True)
    assert anchor.active_member_ids(session) == [ANHUI]


# --- authorisations --------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["ENG-NOT_A_LEVEL", "NOPE-*", "ENG", "", "ENG-*-*"])
def test_authorising_an_unknown_scope_is_refused(session: Session, scope: str) -> None:
    _admit(session)
    with pytest.raises(FederationInputError) as raised:
        anchor.authorise(session, ADMIN, NOW, entity_id=JIANGSU, scope=scope, valid_from=NOW)
    assert raised.value.status == 422
    assert session.exec(select(FederationAuthorisation)).all() == []


@pytest.mark.parametrize("scope", ["ENG-ASSOCIATE_SENIOR", "ENG-*", "*"])
def test_a_code_a_series_or_everything_can_be_authorised(session: Session, scope: str) -> None:
    _admit(session)
    row = anchor.authorise(session, ADMIN, NOW, entity_id=JIANGSU, scope=scope, valid_from=NOW)
    assert (row.scope, row.valid_from, row.valid_until, row.granted_by) == (scope, NOW, None, "cli:tests")


def test_authorisation_dates_are_checked(session: Session) -> None:
    _admit(session)
    naive = datetime(2026, 1, 1)
    bad: list[tuple[datetime, datetime | None, str]] = [
        (naive, None, "time zone"),
        (NOW, NOW, "later than"),
        (NOW, NOW - DAY, "later than"),
        (datetime(1900, 1, 1, tzinfo=UTC), None, "between"),
        (NOW, datetime(2300, 1, 1, tzinfo=UTC), "between"),
    ]
    for start, end, message in bad:
        with pytest.raises(FederationInputError, match=message):
            anchor.authorise(
                session, ADMIN, NOW, entity_id=JIANGSU, scope="ENG-*", valid_from=start, valid_until=end
            )


def test_authorising_a_stranger_or_a_removed_member(session: Session) -> None:
    with pytest.raises(NotFoundError):
        anchor.authorise(session, ADMIN, NOW, entity_id=JIANGSU, scope="*", valid_from=NOW)
    _admit(session)
    anchor.remove(session, ADMIN, NOW, JIANGSU, "迁移")
    with pytest.raises(ConflictError, match="removed"):
        anchor.authorise(session, ADMIN, NOW, entity_id=JIANGSU, scope="*", valid_from=NOW)


def test_withdrawing_twice_conflicts(session: Session) -> None:
    _admit(session)
    row = anchor.authorise(session, ADMIN, NOW, entity_id=JIANGSU, scope="ENG-*", valid_from=NOW)
    assert row.id is not None
    anchor.withdraw(session, ADMIN, NOW + DAY, row.id, "评审委员会资格暂停")
    with pytest.raises(ConflictError) as raised:
        anchor.withdraw(session, ADMIN, NOW + 2 * DAY, row.id, "again")
    assert raised.value.status == 409
    assert row.withdrawn_at == NOW + DAY  # the first withdrawal stands
    with pytest.raises(NotFoundError):
        anchor.withdraw(session, ADMIN, NOW, row.id + 1000, "no such")
    other = anchor.authorise(session, ADMIN, NOW, entity_id=JIANGSU, scope="*", valid_from=NOW)
    assert other.id is not None
    with pytest.raises(FederationInputError, match="reason"):
        anchor.withdraw(session, ADMIN, NOW, other.id, "   ")


def test_authorisation_periods_after_withdrawal(session: Session) -> None:
    _admit(session)
    t0 = datetime(2026, 1, 1, tzinfo=CST)

    def grant(scope: str, start: datetime, end: datetime | None = None) -> int:
        row = anchor.authorise(
            session, ADMIN, NOW, entity_id=JIANGSU, scope=scope, valid_from=start, valid_until=end
        )
        assert row.id is not None
        return row.id

    open_ended = grant("ENG-*", t0)
    bounded = grant("HEALTH-*", t0, t0 + 100 * DAY)  # ends before it is withdrawn
    future = grant("ECON-*", NOW + 10 * DAY)  # withdrawn before it begins
    kept = grant("ACC-*", t0)
    anchor.withdraw(session, ADMIN, NOW, open_ended, "暂停")
    anchor.withdraw(session, ADMIN, NOW, bounded, "到期后撤回")
    anchor.withdraw(session, ADMIN, NOW, future, "取消")
    rows = {r.id: r for r in session.exec(select(FederationAuthorisation)).all()}
    assert anchor.effective_until(rows[open_ended]) == NOW
    assert anchor.effective_until(rows[bounded]) == t0 + 100 * DAY
    assert anchor.effective_until(rows[kept]) is None
    periods = anchor.authorisation_periods(rows[i] for i in (open_ended, bounded, future, kept))
    assert periods == [
        Authorisation("ENG-*", t0, NOW),
        Authorisation("HEALTH-*", t0, t0 + 100 * DAY),
        Authorisation("ACC-*", t0, None),
    ]
    engineering = periods[0]
    assert engineering.covers("ENG-ASSOCIATE_SENIOR", NOW - DAY)  # issued while it held
    assert not engineering.covers("ENG-ASSOCIATE_SENIOR", NOW)  # issued at the withdrawal
    assert not engineering.covers("HEALTH-ASSOCIATE_SENIOR", NOW - DAY)
    # The statement vouches for the same periods, and every type ever authorised may be listed.
    claims = anchor.member_statement_claims(session, JIANGSU, issuer=ANCHOR, now=NOW, lifetime=DAY)
    policy = claims["metadata_policy"][ISSUER_ENTITY_TYPE]
    assert policy["authorisations"]["value"] == [p.to_json() for p in periods]
    allowed = policy["credential_types"]["subset_of"]
    assert "ECON-FULL_SENIOR" in allowed
    assert "ENG-TECHNICIAN" in allowed
    assert not any(code.startswith("QUAL-") for code in allowed)


def test_removal_keeps_history(session: Session) -> None:
    _admit(session)
    withdrawn = anchor.authorise(session, ADMIN, NOW - 9 * DAY, entity_id=JIANGSU, scope="*", valid_from=NOW)
    assert withdrawn.id is not None
    anchor.withdraw(session, ADMIN, NOW + DAY, withdrawn.id, "撤回")
    kept = anchor.authorise(session, ADMIN, NOW, entity_id=JIANGSU, scope="ENG-*", valid_from=NOW - 30 * DAY)
    removed_at = NOW + 2 * DAY
    anchor.remove(session, ADMIN, removed_at, JIANGSU, "节点停止运行")
    [record] = anchor.members(session)
    assert not record.active
    assert (record.member.removed_at, record.member.removed_by, record.member.removal_reason) == (
        removed_at,
        "cli:tests",
        "节点停止运行",
    )
    first, second = record.authorisations
    assert (first.id, first.withdrawn_at, first.withdrawal_reason) == (withdrawn.id, NOW + DAY, "撤回")
    assert (second.id, second.withdrawn_at) == (kept.id, removed_at)
    assert second.withdrawal_reason == "member removed: 节点停止运行"
    assert anchor.active_member_ids(session) == []
    assert anchor.members(session, include_removed=False) == []
    with pytest.raises(NotFoundError):
        anchor.member_statement_claims(session, JIANGSU, issuer=ANCHOR, now=NOW, lifetime=DAY)
    with pytest.raises(NotFoundError):
        anchor.remove(session, ADMIN, removed_at, JIANGSU, "again")
    assert _actions(session) == [
        "federation.admit",
        "federation.authorise",
        "federation.withdraw",
        "federation.authorise",
        "federation.remove",
    ]
    # Admitted again: the same row, no authorisation revived.
    _admit(session, now=NOW + 3 * DAY)
    [record] = anchor.members(session)
    assert record.active
    assert record.member.admitted_at == NOW + 3 * DAY
    assert len(record.authorisations) == 2
    claims = anchor.member_statement_claims(session, JIANGSU, issuer=ANCHOR, now=NOW + 3 * DAY, lifetime=DAY)
    assert claims["metadata_policy"][ISSUER_ENTITY_TYPE]["authorisations"]["value"] == [
        {"scope": "*", "validFrom": "2026-11-27T08:00:00Z", "validUntil": "2026-11-28T08:00:00Z"},
        {"scope": "ENG-*", "validFrom": "2026-10-28T08:00:00Z", "validUntil": "2026-11-29T08:00:00Z"},
    ]


def test_replacing_a_members_keys(session: Session) -> None:
    _admit(session)
    new_jwks = federation_jwks(generate_private_key().public_key())
    anchor.replace_keys(session, ADMIN, NOW, JIANGSU, new_jwks)
    claims = anchor.member_statement_claims(session, JIANGSU, issuer=ANCHOR, now=NOW, lifetime=DAY)
    assert claims["jwks"] == new_jwks
    with pytest.raises(FederationInputError):
        anchor.replace_keys(session, ADMIN, NOW, JIANGSU, {"keys": "none"})
    with pytest.raises(NotFoundError):
        anchor.replace_keys(session, ADMIN, NOW, ANHUI, new_jwks)
    assert _actions(session) == ["federation.admit", "federation.keys"]


def test_subordinate_statement_is_signed_and_vouches_for_the_member(session: Session) -> None:
    _admit(session)
    anchor.authorise(session, ADMIN, NOW, entity_id=JIANGSU, scope="ENG-ASSOCIATE_SENIOR", valid_from=NOW)
    ring = NodeKeyStore("development-only-passphrase", "federation").load(session)
    token = anchor.subordinate_statement(
        session, JIANGSU, issuer=ANCHOR, federation_ring=ring, now=NOW, lifetime=timedelta(hours=1)
    )
    record, _ = ring.signing_key(NOW)
    anchor_jwks = federation_jwks(record.public_key)
    statement = verify_entity_statement(token, anchor_jwks, NOW, issuer=ANCHOR, subject=JIANGSU)
    assert statement.jwks == JIANGSU_JWKS
    assert statement.constraints == {"max_path_length": 0}
    assert statement.expires_at == NOW + timedelta(hours=1)
    assert statement.claims["source_endpoint"] == ANCHOR + "/federation/fetch"
    policy = statement.metadata_policy
    assert policy is not None
    assert policy[ISSUER_ENTITY_TYPE]["did"] == {"value": JIANGSU_DID, "essential": True}
    assert policy[ISSUER_ENTITY_TYPE]["province"] == {"value": "32", "essential": True}
    assert policy[ISSUER_ENTITY_TYPE]["credential_types"] == {"subset_of": ["ENG-ASSOCIATE_SENIOR"]}
    # Another key does not verify it.
    with pytest.raises(Exception, match="not in the issuer's vouched key set"):
        verify_entity_statement(token, JIANGSU_JWKS, NOW)


# --- the command line ------------------------------------------------------------------


@pytest.fixture
def anchor_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path / "anchor"))
    monkeypatch.setenv("REGISTRY_BASE_URL", "http://127.0.0.1:8100")
    monkeypatch.setenv("REGISTRY_ROLE", "anchor")
    monkeypatch.setenv("REGISTRY_FEDERATION_ALLOW_PRIVATE", "true")
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_anchor_commands(anchor_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "anchor", "init")
    assert code == 0, err
    initialised = json.loads(out)
    assert initialised["entityId"] == "http://127.0.0.1:8100"
    code, out, _ = _run(capsys, "federation", "jwks")
    assert json.loads(out) == initialised["jwks"]
    jwks_file = anchor_dir / "jiangsu-federation.jwks.json"
    jwks_file.write_text(json.dumps(JIANGSU_JWKS))
    admit = ("anchor", "admit", "http://127.0.0.1:8032", "--did", "did:web:127.0.0.1%3A8032", "--province")
    code, out, err = _run(capsys, *admit, "32", "--jwks", str(jwks_file))
    assert code == 0, err
    assert json.loads(out)["active"] is True
    code, _, err = _run(capsys, *admit, "32", "--jwks-json", json.dumps(JIANGSU_JWKS))
    assert code == 1
    assert "Conflicts with the current state" in err  # the conflict, as a person reads it
    assert "is a member already" in err
    code, out, err = _run(
        capsys, "anchor", "authorise", "http://127.0.0.1:8032", "ENG-*", "--from", "2026-01-01"
    )
    assert code == 0, err
    granted = json.loads(out)
    assert granted["validFrom"] == "2025-12-31T16:00:00Z"  # midnight in China Standard Time
    assert granted["validUntil"] is None
    code, _, err = _run(
        capsys, "anchor", "authorise", "http://127.0.0.1:8032", "ENG-*", "--from", "2026-01-01T00:00"
    )
    assert code == 2
    assert "time zone" in err
    code, _, err = _run(capsys, "anchor", "authorise", "http://127.0.0.1:8032", "NOPE-*")
    assert code == 1
    assert "Federation registration input is not acceptable" in err
    assert "NOPE-*" in err
    code, out, err = _run(capsys, "anchor", "withdraw", str(granted["id"]), "--reason", "暂停")
    assert code == 0, err
    assert json.loads(out)["withdrawnAt"] is not None
    code, _, err = _run(capsys, "anchor", "withdraw", str(granted["id"]), "--reason", "暂停")
    assert code == 1
    assert "Conflicts with the current state" in err
    code, out, err = _run(capsys, "anchor", "remove", "http://127.0.0.1:8032", "--reason", "停止运行")
    assert code == 0, err
    code, out, _ = _run(capsys, "anchor", "members")
    [member] = json.loads(out)
    assert member["active"] is False
    assert member["removalReason"] == "停止运行"
    assert [a["withdrawalReason"] for a in member["authorisations"]] == ["暂停"]
    code, out, err = _run(capsys, "federation", "keys", "rotate")
    assert code == 0, err
    rotated = json.loads(out)
    assert len(rotated["keys"]) == 2
    assert initialised["jwks"]["keys"][0] in rotated["keys"]


def test_anchor_commands_need_the_anchor_role(
    anchor_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_ROLE", "node")
    code, _, err = _run(capsys, "anchor", "members")
    assert code == 2
    assert "REGISTRY_ROLE=anchor" in err
