"""The node's tables (SQLModel). The schema itself is owned by the Alembic migrations in
``registry/migrations``; a test fails when these models and the migrations differ.

Personal data: a holder's identity number is never stored. ``id_lookup`` is a keyed
hash (HMAC-SHA256 under the node's secret, which lives outside the database) used to
find the holder again; ``id_masked`` shows the first and last characters only; the
credential carries ``holderCommitment`` = SHA-256(salt || number) with a per-holder
salt derived from the node secret and the holder id (never stored), which the holder
gets from the holder API to open the commitment.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from registry.database import UTCDateTime


def _utc(nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class NodeKey(SQLModel, table=True):
    """One Ed25519 key of the node's ring: public history and the encrypted private key."""

    __tablename__ = "node_key"
    kid: str = Field(primary_key=True, max_length=64)
    #: ``assertion`` signs credentials and status lists (the DID's methods);
    #: ``federation`` signs this entity's federation statements (OpenID Federation).
    purpose: str = Field(default="assertion", max_length=16, index=True)
    public_multikey: str = Field(max_length=64)
    created: datetime = Field(sa_column=_utc())
    activated: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    retired: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    compromised_from: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    #: passphrase-encrypted PKCS#8 PEM (registry.signing.keys.private_key_to_pem)
    private_pem: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CredentialType(SQLModel, table=True):
    """A catalogue entry: a title (series x level), a professional qualification, or a
    skill (a skilled worker qualification or a vocational skill level)."""

    __tablename__ = "credential_type"
    code: str = Field(primary_key=True, max_length=64)
    #: title | qualification | skill
    kind: str = Field(max_length=16, index=True)
    #: licensing | level-evaluation for qualifications; empty for titles
    category: str | None = Field(default=None, max_length=32)
    series_code: str = Field(max_length=32, index=True)
    series_zh: str = Field(max_length=64)
    series_en: str = Field(max_length=128)
    level_code: str = Field(max_length=32)
    level_zh: str = Field(max_length=32)
    level_en: str = Field(max_length=64)
    name_zh: str = Field(max_length=64)
    name_en: str = Field(max_length=128)
    #: level code of the professional title this qualification counts as (national policy)
    equivalent_title_level: str | None = Field(default=None, max_length=32)
    #: whether a credential of the type names a specialty (专业); absent where it has none
    has_specialty: bool = True
    #: who awards it: the ministry or association of a national qualification (实施部门);
    #: empty for a title, which names its evaluation committee in each credential
    awarding_body_zh: str | None = Field(default=None, max_length=128)
    awarding_body_en: str | None = Field(default=None, max_length=256)
    #: item number in the national vocational qualification catalogue (2021): 1-59 for a
    #: professional qualification, 1-13 for a skilled worker qualification
    national_item: int | None = None
    #: false once retired: no longer issued, its credentials still verify
    active: bool = True
    retired_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    retired_reason: str | None = Field(default=None, max_length=256)
    #: version of the seed file that last wrote the entry (empty: added by an admin)
    seed_version: int | None = None
    #: when an admin last corrected, retired or reinstated the entry
    updated_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    created_at: datetime = Field(sa_column=_utc())


class Holder(SQLModel, table=True):
    __tablename__ = "holder"
    __table_args__ = (UniqueConstraint("id_type", "id_lookup", name="uq_holder_identity"),)
    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=128)
    #: resident (GB 11643 18-character ID) | passport
    id_type: str = Field(max_length=16)
    id_lookup: str = Field(max_length=64)
    id_masked: str = Field(max_length=32)
    holder_commitment: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_utc())


class StatusList(SQLModel, table=True):
    """One Bitstring Status List of the node, with its last signed list credential."""

    __tablename__ = "status_list"
    __table_args__ = (UniqueConstraint("purpose", "number", name="uq_status_list_number"),)
    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=16)
    number: int
    length: int
    #: indexes handed out so far (never handed out again)
    allocated: int = 0
    bits: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    version: int = 0
    signed_credential: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    etag: str | None = Field(default=None, max_length=80)
    signed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class IssuanceBatch(SQLModel, table=True):
    """An evaluation batch, committed together with its credentials (idempotency record)."""

    __tablename__ = "issuance_batch"
    id: str = Field(primary_key=True, max_length=64)
    request_digest: str = Field(max_length=64)
    count: int
    created_by: str = Field(max_length=80)
    created_at: datetime = Field(sa_column=_utc())


class Credential(SQLModel, table=True):
    __tablename__ = "credential"
    __table_args__ = (
        UniqueConstraint("revocation_list_id", "revocation_index", name="uq_credential_revocation_slot"),
        UniqueConstraint("suspension_list_id", "suspension_index", name="uq_credential_suspension_slot"),
        # Only the revoked and the suspended credentials: a list's set bits and their
        # reasons (status.set_reasons) without reading the list's other credentials.
        Index(
            "ix_credential_revoked",
            "revocation_list_id",
            "revocation_index",
            postgresql_where=text("status = 'revoked'"),
            sqlite_where=text("status = 'revoked'"),
        ),
        Index(
            "ix_credential_suspended",
            "suspension_list_id",
            "suspension_index",
            postgresql_where=text("status = 'suspended'"),
            sqlite_where=text("status = 'suspended'"),
        ),
    )
    id: str = Field(primary_key=True, max_length=36)
    certificate_number: str = Field(max_length=32, unique=True)
    holder_id: str = Field(foreign_key="holder.id", max_length=36, index=True)
    type_code: str = Field(foreign_key="credential_type.code", max_length=64)
    #: empty for a type without specialties
    specialty: str | None = Field(default=None, max_length=128)
    committee: str = Field(max_length=256)
    awarded_on: date
    valid_from: datetime = Field(sa_column=_utc())
    valid_until: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    batch_id: str | None = Field(default=None, foreign_key="issuance_batch.id", max_length=64, index=True)
    revocation_list_id: int = Field(foreign_key="status_list.id")
    revocation_index: int
    suspension_list_id: int = Field(foreign_key="status_list.id")
    suspension_index: int
    #: active | suspended | revoked
    status: str = Field(default="active", max_length=16)
    status_reason: str | None = Field(default=None, max_length=64)
    kid: str = Field(max_length=64)
    issued_at: datetime = Field(sa_column=_utc())
    #: the signed VC 2.0 document (eddsa-jcs-2022), as issued
    document: str = Field(sa_column=Column(Text, nullable=False))


class VerificationCode(SQLModel, table=True):
    """A time-limited code a holder gives an employer to look a credential up: usable
    until it expires (multi-use) or by the first successful look-up (``single_use``),
    and revocable by the holder. Only an HMAC of the code is stored."""

    __tablename__ = "verification_code"
    id: int | None = Field(default=None, primary_key=True)
    credential_id: str = Field(foreign_key="credential.id", max_length=36, index=True)
    code_hash: str = Field(max_length=64)
    expires_at: datetime = Field(sa_column=_utc())
    created_at: datetime = Field(sa_column=_utc())
    #: consumed by the first successful look-up (``used_at`` set then)
    single_use: bool = False
    #: the last successful look-up (a single-use code: its only one)
    used_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    #: when the holder revoked the code (it is refused from then on)
    revoked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class CertificateSerial(SQLModel, table=True):
    """Next serial of certificate numbers per province and year."""

    __tablename__ = "certificate_serial"
    province: str = Field(primary_key=True, max_length=2)
    year: int = Field(primary_key=True)
    next_serial: int = 1


class Account(SQLModel, table=True):
    """A person who signs in: node admin, issuing officer, auditor or holder."""

    __tablename__ = "account"
    id: str = Field(primary_key=True, max_length=36)
    username: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=256)
    #: admin | issuing_officer | auditor | holder | hr_clerk
    role: str = Field(max_length=32)
    holder_id: str | None = Field(default=None, foreign_key="holder.id", max_length=36, unique=True)
    active: bool = True
    created_at: datetime = Field(sa_column=_utc())
    #: set by an admin's password reset: the one-time password only lets the user
    #: choose a new one (``POST /v1/auth/password``), it signs nobody in
    must_change_password: bool = False
    #: access tokens issued before this instant no longer count (set on deactivation
    #: and password changes)
    tokens_valid_from: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    #: the HR client (department) an ``hr_clerk`` account works for
    hr_client_id: str | None = Field(default=None, foreign_key="hr_client.id", max_length=36)


class RevokedToken(SQLModel, table=True):
    """An access token ended by its holder's sign-out before it expired (kept until then)."""

    __tablename__ = "revoked_token"
    jti: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_column=_utc(index=True))


class RecognitionPolicy(SQLModel, table=True):
    """One published version of this node's recognition policy (互认政策): which other
    provinces' credential types it accepts as which of its own, from when, on what
    conditions. Versions are never changed or deleted: a verification names the version
    it answered under (registry.federation.recognition)."""

    __tablename__ = "recognition_policy"
    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    published_at: datetime = Field(sa_column=_utc())
    #: the actor who published it (``account:<id>`` or ``cli:local-operator``)
    published_by: str = Field(max_length=80)
    note: str | None = Field(default=None, max_length=500)
    #: the rules as JSON (RecognitionRule.to_json of each, in order)
    rules: str = Field(sa_column=Column(Text, nullable=False))


class RecognitionApplication(SQLModel, table=True):
    """A holder's application to have a credential recognised in another province, as
    each end keeps it: ``outgoing`` at the holder's node (which forwarded it), and
    ``incoming`` at the receiving node (which decides it). ``peer_application_id`` is
    the other end's id; an incoming application is stored once per calling node and
    its id (a replayed request changes nothing)."""

    __tablename__ = "recognition_application"
    __table_args__ = (
        UniqueConstraint(
            "side", "peer_entity", "peer_application_id", name="uq_recognition_application_peer"
        ),
    )
    id: str = Field(primary_key=True, max_length=36)
    #: outgoing | incoming
    side: str = Field(max_length=8, index=True)
    #: the other node's entity identifier
    peer_entity: str = Field(max_length=255)
    peer_application_id: str = Field(max_length=36)
    #: the applicant (outgoing only: the receiving node has no holder record)
    holder_id: str | None = Field(default=None, foreign_key="holder.id", max_length=36, index=True)
    credential_id: str = Field(max_length=255)
    certificate_number: str = Field(max_length=32)
    holder_name: str = Field(max_length=128)
    type_code: str = Field(max_length=64)
    #: outgoing: the province asked; incoming: the issuing province
    province: str = Field(max_length=2)
    statement: str | None = Field(default=None, max_length=500)
    #: the credential as presented (incoming only), kept for review and for the
    #: digest the recognition credential names
    credential: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: sending (outgoing, until the receiving node answers) | pending | recognised |
    #: refused | disputed (a refusal the holder disputed, 异议, to be decided again) |
    #: withdrawn (by the holder while it waited; outgoing: withdrawing until the
    #: receiving node confirms); outgoing also disputing (a dispute not yet confirmed)
    state: str = Field(default="pending", max_length=16, index=True)
    recognised_as: str | None = Field(default=None, max_length=64)
    decision_reason: str | None = Field(default=None, max_length=500)
    decided_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    decided_by: str | None = Field(default=None, max_length=80)
    #: the holder's dispute of a refusal (one per application) and when it was made
    dispute_statement: str | None = Field(default=None, max_length=500)
    disputed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    #: when the holder withdrew it (撤回), while it waited for a decision
    withdrawn_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    #: the recognition credential the receiving node issued (VC JSON), once recognised
    recognition_credential: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=_utc())
    #: outgoing: when the receiving node was last asked how it decided
    checked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    #: outgoing: when this node last sent an unconfirmed application, dispute or
    #: withdrawal again because the holder looked (at most once per RECHECK_SECONDS)
    resent_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class PeerAnswer(SQLModel, table=True):
    """This node's answer to a peer's node-authenticated request that used something up
    (a look-up with a single-use code), kept until the request expires: the same request
    sent again (its answer was lost on the way back) gets the same answer, and nothing
    is used or recorded twice."""

    __tablename__ = "peer_answer"
    caller: str = Field(primary_key=True, max_length=255)
    jti: str = Field(primary_key=True, max_length=64)
    purpose: str = Field(max_length=32)
    answer: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime = Field(sa_column=_utc(index=True))


class HolderActivation(SQLModel, table=True):
    """A one-time code, handed to a holder out of band, that lets them open an account."""

    __tablename__ = "holder_activation"
    id: int | None = Field(default=None, primary_key=True)
    holder_id: str = Field(foreign_key="holder.id", max_length=36, index=True)
    code_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_column=_utc())
    used_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class HrClient(SQLModel, table=True):
    """An HR department calling the verification API with an API key."""

    __tablename__ = "hr_client"
    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=128)
    #: public part of the key (``yrd_<key_id>_<secret>``), to find the record
    key_id: str = Field(max_length=32, unique=True)
    #: SHA-256 of the whole key (the secret has 256 bits of entropy)
    key_hash: str = Field(max_length=64)
    #: space-separated: verify lookup
    scopes: str = Field(max_length=128)
    rate_per_minute: int
    active: bool = True
    created_at: datetime = Field(sa_column=_utc())


class AuditEvent(SQLModel, table=True):
    """Who did what, when and why: every state change and every look-up of personal data."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_holder_at", "holder_id", "at"),
        # An auditor's query by target, in id order (GET /v1/audit?target=).
        Index("ix_audit_event_target", "target_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_utc(index=True))
    actor: str = Field(max_length=80)
    actor_role: str = Field(max_length=32)
    action: str = Field(max_length=64, index=True)
    target_type: str = Field(max_length=32)
    target_id: str = Field(max_length=64)
    #: the holder whose data this concerns (so the holder can see it)
    holder_id: str | None = Field(default=None, max_length=36)
    reason: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class FederationMember(SQLModel, table=True):
    """A node the trust anchor admitted (kept after removal: ``removed_at``)."""

    __tablename__ = "federation_member"
    #: The member's entity identifier: its https base URL.
    entity_id: str = Field(primary_key=True, max_length=255)
    did: str = Field(max_length=255)
    province: str = Field(max_length=2)
    #: The member's federation JWK Set (JSON), registered at admission.
    jwks: str = Field(sa_column=Column(Text, nullable=False))
    admitted_at: datetime = Field(sa_column=_utc())
    admitted_by: str = Field(max_length=80)
    removed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    removed_by: str | None = Field(default=None, max_length=80)
    removal_reason: str | None = Field(default=None, max_length=255)


class FederationAuthorisation(SQLModel, table=True):
    """评审权: a member may issue credentials of ``scope`` (catalogue code, ``SERIES-*``
    or ``*``) from ``valid_from`` until ``valid_until``. History: a withdrawal sets
    ``withdrawn_at`` and the period ends there; rows are never deleted."""

    __tablename__ = "federation_authorisation"
    id: int | None = Field(default=None, primary_key=True)
    entity_id: str = Field(foreign_key="federation_member.entity_id", max_length=255, index=True)
    scope: str = Field(max_length=64)
    valid_from: datetime = Field(sa_column=_utc())
    valid_until: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    granted_at: datetime = Field(sa_column=_utc())
    granted_by: str = Field(max_length=80)
    withdrawn_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    withdrawn_by: str | None = Field(default=None, max_length=80)
    withdrawal_reason: str | None = Field(default=None, max_length=255)


class RateBucket(SQLModel, table=True):
    """A rate limit's token bucket kept in the database, so that every worker of a node
    counts against the same limit (``registry serve --workers N``). ``owed`` tokens
    were spent and not yet refilled as of ``counted_at`` (seconds since the epoch);
    ``free_at`` is when the bucket is full again, after which the row may be pruned."""

    __tablename__ = "rate_bucket"
    key: str = Field(primary_key=True, max_length=128)
    owed: float
    counted_at: float
    free_at: float = Field(index=True)


class DeskItem(SQLModel, table=True):
    """What the web desks keep between requests (registry/web/jobs.py): an officer's
    checked batch until it is issued, an HR verification job and its results. In the
    database, so that with several workers any of them answers for any item."""

    __tablename__ = "desk_item"
    __table_args__ = (Index("ix_desk_item_kind_owner", "kind", "owner", "created_at"),)
    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=16)
    #: the audit actor who made it; nobody else sees it
    owner: str = Field(max_length=80)
    created_at: datetime = Field(sa_column=_utc())
    #: the last change (a running job's progress): a job that stops changing was interrupted
    updated_at: datetime = Field(sa_column=_utc())
    data: str = Field(sa_column=Column(Text, nullable=False))
