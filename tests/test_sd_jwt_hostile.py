"""Hostile and malformed SD-JWTs against RFC 9901 (SD-JWT), draft-ietf-oauth-sd-jwt-vc
and draft-ietf-oauth-status-list: each test names the section it holds the code to. A
forged or malformed token is a failed check in a report (never a 500, never a batch or
desk job failed as a whole), and what is right by the text is pinned."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlmodel import select

from registry.credentials import status
from registry.credentials.verification import Trust, _examine_sd_jwt, examine
from registry.models import AuditEvent
from registry.signing import sd_jwt
from registry.signing.did import VerificationMethod, did_key_from_public_key
from registry.signing.encoding import b64url_decode, b64url_encode
from registry.signing.errors import KeyMaterialError, TokenFormatError
from registry.signing.keyring import KeyRing
from registry.signing.keys import Ed25519PrivateKey, generate_private_key, public_key_to_multikey
from tests.conftest import NOW, Actors, issue_row, resident_id
from tests.test_web_desks import hr_session, wait_done, zip_of
from tests.test_web_pages import csrf_of

Headers = dict[str, str]
STAMP = int(NOW.timestamp())
AUDIENCE = "https://hr.example/verifier"
NONCE = "n-1"
VCT = "https://registry.yrd.example/vct/professional-title/v1"
#: Nested deeper than sd_jwt.MAX_DEPTH.
DEEP: Any = 1
for _ in range(40):
    DEEP = [DEEP]


# --- helpers ------------------------------------------------------------------------------


class SelfIssuer:
    """An issuer whose did:key resolves offline: anyone can be one, so whatever it signs
    reaches the verification pipeline of every node."""

    def __init__(self) -> None:
        self.key: Ed25519PrivateKey = generate_private_key()
        self.did = did_key_from_public_key(self.key.public_key())
        self.kid = f"{self.did}#{public_key_to_multikey(self.key.public_key())}"

    def issue(
        self, payload: dict[str, Any], disclosures: list[str] | None = None, typ: str = "dc+sd-jwt"
    ) -> str:
        claims = {"iss": self.did, "vct": VCT, "iat": STAMP - 60, **payload}
        return sd_jwt.issue({"typ": typ, "kid": self.kid}, claims, disclosures or [], self.key)


def trust_for(issuer: SelfIssuer) -> Trust:
    return Trust.of("did:web:node.example", KeyRing((), {}), trusted=frozenset({issuer.did}))


def checks_of(checks: list[Any]) -> dict[str, tuple[str, str]]:
    return {c.name: (c.result, c.code) for c in checks}


def report_checks(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["check"]: (c["result"], c["code"]) for c in report["checks"]}


def bound_token(alg: str = "sha-256") -> tuple[str, ec.EllipticCurvePrivateKey, Ed25519PrivateKey]:
    issuer = generate_private_key()
    holder = ec.generate_private_key(ec.SECP256R1())
    claims = {"iss": "did:web:i.example", "vct": VCT, "cnf": {"jwk": sd_jwt.public_jwk(holder.public_key())}}
    payload, disclosures = sd_jwt.conceal({**claims, "name": "张三"}, ["name"], alg=alg)
    return sd_jwt.issue({"typ": "dc+sd-jwt"}, payload, disclosures, issuer), holder, issuer


def with_kb(token: str, holder: Any, **claims: Any) -> str:
    payload = {"aud": AUDIENCE, "nonce": NONCE, "iat": STAMP, "sd_hash": sd_jwt.sd_hash(token), **claims}
    return token + sd_jwt.sign_compact({"typ": "kb+jwt"}, payload, holder)


def verify_bound(token: str, issuer: Ed25519PrivateKey) -> sd_jwt.Verified:
    return sd_jwt.verify(
        token,
        lambda header: issuer.public_key(),
        NOW,
        key_binding=sd_jwt.KeyBinding(AUDIENCE, NONCE),
        require_key_binding=True,
    )


def node_sd_jwt(client: TestClient, actors: Actors, seed: int = 1) -> tuple[str, Headers]:
    officer = actors.officer()
    row = issue_row(idNumber=resident_id(seed), holderName=f"持证人{seed}")
    record = client.post("/v1/credentials", json=row, headers=officer)
    assert record.status_code == 201, record.text
    holder = actors.holder(record.json()["holderId"])
    token = client.get(f"/v1/holder/credentials/{record.json()['id']}?format=sd-jwt", headers=holder)
    assert token.status_code == 200, token.text
    return token.text, holder


# --- RFC 9901 §4.1.1 / §7.1 step 2.5: _sd_alg -------------------------------------------------


@pytest.mark.parametrize("alg", [["sha-256"], {"name": "sha-256"}])
def test_a_non_string_sd_alg_is_a_format_error_not_a_type_error(alg: Any) -> None:
    """RFC 9901 §4.1.1: ``_sd_alg`` "is a case-sensitive string"; §7.1 step 2.5: check that
    it is understood. A list or object there must be refused as a malformed token;
    ``reveal`` does ``alg not in HASHES`` and raises TypeError (unhashable)."""
    issuer = SelfIssuer()
    token = issuer.issue({"_sd_alg": alg})
    with pytest.raises(TokenFormatError):
        sd_jwt.verify(token, lambda header: issuer.key.public_key(), NOW)


def test_an_unknown_sd_alg_string_is_refused() -> None:
    """RFC 9901 §7.1 step 2.5 and §9 (MD5/SHA-1 MUST NOT be used)."""
    issuer = SelfIssuer()
    with pytest.raises(TokenFormatError, match="_sd_alg"):
        sd_jwt.verify(issuer.issue({"_sd_alg": "md5"}), lambda header: issuer.key.public_key(), NOW)


def test_a_non_string_sd_alg_through_the_api_is_a_failed_proof_not_a_500(
    client: TestClient, actors: Actors
) -> None:
    """RFC 9901 §7.1 ("If any step fails, the SD-JWT is not valid"): the API's report
    must say the proof failed. A did:key issuer resolves offline, so any caller can send
    this token; today the TypeError escapes ``_examine_sd_jwt`` and the answer is 500."""
    token = SelfIssuer().issue({"_sd_alg": ["sha-256"]})
    response = client.post("/v1/verifications", json={"credential": token}, headers=actors.hr())
    assert response.status_code == 200, response.text
    assert report_checks(response.json())["proof"] == ("fail", "proof-sd-jwt-invalid")


def test_one_malformed_sd_jwt_does_not_fail_a_whole_batch(client: TestClient, actors: Actors) -> None:
    """/v1/verifications/batch answers one report per item: a single SD-JWT whose
    ``_sd_alg`` is not a string (RFC 9901 §4.1.1) must fail its own proof check, not turn
    the batch of every other credential into a 500."""
    good, _ = node_sd_jwt(client, actors)
    bad = SelfIssuer().issue({"_sd_alg": {"x": 1}})
    response = client.post("/v1/verifications/batch", json={"credentials": [good, bad]}, headers=actors.hr())
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["verdict"] for r in results] == ["valid", "invalid"]


def test_one_malformed_sd_jwt_does_not_fail_an_hr_desk_job(client: TestClient, actors: Actors) -> None:
    """The HR desk's ZIP job (RFC 9901 §7.1 as above): a crafted SD-JWT among the files
    should come out as one invalid row. Today ``run_job`` catches the TypeError and marks
    the whole job ``failed``: one file sinks up to 1,000 verifications."""
    good, _ = node_sd_jwt(client, actors)
    bad = SelfIssuer().issue({"_sd_alg": ["sha-256"]})
    hr_session(client, actors)
    archive = zip_of({"good.sd-jwt": good.encode() + b"\n", "bad.sd-jwt": bad.encode()})
    started = client.post(
        "/hr/jobs",
        data={"csrf_token": csrf_of(client.get("/hr").text)},
        files={"file": ("files.zip", archive, "application/zip")},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    state = wait_done(client, f"{started.headers['location']}/progress")
    assert state["state"] == "done", state


def test_the_hr_desk_answers_a_malformed_pasted_sd_jwt_with_a_report(
    client: TestClient, actors: Actors
) -> None:
    """The HR desk's single verification (RFC 9901 §7.1): a failed check, not a 500."""
    hr_session(client, actors)
    token = csrf_of(client.get("/hr").text)
    bad = SelfIssuer().issue({"_sd_alg": ["sha-256"]})
    page = client.post("/hr/verify", data={"csrf_token": token, "credential": bad})
    assert page.status_code == 200
    assert 'data-verdict="invalid"' in page.text


# --- RFC 9901 §7.1 steps 3-5: digests and disclosures -------------------------------------------


def test_a_digest_repeated_in_the_signed_payload_is_refused_even_when_not_disclosed() -> None:
    """RFC 9901 §4.1: "The same digest value MUST NOT appear more than once in the SD-JWT";
    §7.1 step 4: "If any digest value is encountered more than once in the Issuer-signed JWT
    payload (directly or recursively via other Disclosures), the SD-JWT MUST be rejected."
    ``_reveal`` only counts digests that matched a presented disclosure, so a repeated
    decoy (or an undisclosed claim's digest) passes."""
    issuer = SelfIssuer()
    repeated = sd_jwt.digest(sd_jwt.make_disclosure("name", "x"))
    token = issuer.issue({"_sd": [repeated, repeated]})
    with pytest.raises(TokenFormatError, match="more than once"):
        sd_jwt.verify(token, lambda header: issuer.key.public_key(), NOW)


def test_recursive_disclosures_with_sd_and_ellipsis_at_depth_are_processed() -> None:
    """RFC 9901 §4.2.6 and §7.1 step 3.3.2.5/3.3.3.3: a disclosed value holding ``_sd`` and
    ``{"...": digest}`` at depth is processed recursively; an undisclosed element drops out."""
    issuer = SelfIssuer()
    street = sd_jwt.make_disclosure("street", "中山路")
    first = sd_jwt.make_disclosure(None, "DE")
    hidden = sd_jwt.make_disclosure(None, "FR")
    address = sd_jwt.make_disclosure(
        "address",
        {
            "_sd": [sd_jwt.digest(street)],
            "tags": [{"...": sd_jwt.digest(first)}, {"...": sd_jwt.digest(hidden)}],
        },
    )
    token = issuer.issue({"_sd": [sd_jwt.digest(address)]}, [address, street, first])
    claims = sd_jwt.verify(token, lambda header: issuer.key.public_key(), NOW).claims
    assert claims["address"] == {"street": "中山路", "tags": ["DE"]}


@pytest.mark.parametrize(
    "value",
    [
        {"_sd": "not-a-list"},
        {"_sd": [["nested"]]},
        [{"...": 5}],
        [{"...": "digest", "extra": 1}],
    ],
    ids=["sd-string", "sd-of-lists", "ellipsis-int", "ellipsis-with-other-keys"],
)
def test_malformed_sd_or_ellipsis_inside_a_disclosure_is_refused(value: Any) -> None:
    """RFC 9901 §4.2.4.1 (``_sd`` is an array of strings) and §4.2.4.2 (an array digest is
    an object with ``...`` alone, whose value is a digest) apply inside disclosures too."""
    issuer = SelfIssuer()
    disclosure = sd_jwt.make_disclosure("nested", value)
    token = issuer.issue({"_sd": [sd_jwt.digest(disclosure)]}, [disclosure])
    with pytest.raises(TokenFormatError):
        sd_jwt.verify(token, lambda header: issuer.key.public_key(), NOW)


@pytest.mark.parametrize(
    "raw",
    [
        b'["salt"]',
        b'["salt","name",1,2]',
        b"hello",
        b'["salt","name",{"a":1,"a":2}]',
        b'["salt","name",1' + b"0" * 5000 + b"]",
        b'["salt","name",1e400]',
        b'["salt","\xff",1]',
        b'[1,"name",1]',
        b'["salt",1,1]',
        b'["salt","...",1]',
    ],
    ids=[
        "length-1",
        "length-4",
        "not-json",
        "duplicate-keys",
        "huge-integer",
        "overflowing-float",
        "not-utf8",
        "salt-not-string",
        "name-not-string",
        "name-ellipsis",
    ],
)
def test_malformed_disclosures_are_format_errors(raw: bytes) -> None:
    """RFC 9901 §4.2.1/§4.2.2 and §7.1 step 3.3.2.1/3.3.3.1: a disclosure is a JSON array of
    three (salt, name, value) or two (salt, value) elements, salt and name strings; I-JSON
    (no duplicate names, RFC 7493) as the registry reads all JSON."""
    with pytest.raises(TokenFormatError):
        sd_jwt.read_disclosure(b64url_encode(raw))


# --- RFC 9901 §4 serialization -------------------------------------------------------------------


def test_the_pure_verifier_refuses_a_non_empty_last_component() -> None:
    """RFC 9901 §4: "A Verifier that expects an SD-JWT MUST verify that the final
    tilde-separated component is empty" (a trailing newline is not empty)."""
    issuer = SelfIssuer()
    with pytest.raises(TokenFormatError):
        sd_jwt.verify(issuer.issue({}) + "\n", lambda header: issuer.key.public_key(), NOW)


def test_a_pasted_file_with_trailing_newlines_verifies_through_the_api(
    client: TestClient, actors: Actors
) -> None:
    """The registry's own inputs (API body, uploaded file) strip surrounding whitespace
    before RFC 9901 §4 parsing, as a saved file would end with a newline."""
    token, _ = node_sd_jwt(client, actors)
    hr = actors.hr()
    report = client.post("/v1/verifications", json={"credential": token + "\r\n"}, headers=hr).json()
    assert report["verdict"] == "valid", report["checks"]
    upload = client.post(
        "/v1/verifications", files={"file": ("c.sd-jwt", token.encode() + b"\n\n")}, headers=hr
    )
    assert upload.json()["verdict"] == "valid"


def test_the_transitional_vc_sd_jwt_typ_is_accepted() -> None:
    """draft-ietf-oauth-sd-jwt-vc §3.2.1: "it is RECOMMENDED that Verifiers and Holders
    accept both vc+sd-jwt and dc+sd-jwt" for a transitional period."""
    issuer = SelfIssuer()
    verified = sd_jwt.verify(issuer.issue({}, typ="vc+sd-jwt"), lambda header: issuer.key.public_key(), NOW)
    assert verified.header["typ"] == "vc+sd-jwt"


# --- RFC 9901 §4.3 / §7.3: the key-binding JWT ----------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [{"exp": STAMP - 3600}, {"nbf": STAMP + 3600}],
    ids=["expired", "not-yet-valid"],
)
def test_a_kb_jwt_outside_its_own_exp_or_nbf_is_refused(claims: dict[str, int]) -> None:
    """RFC 9901 §7.3 step 5.8: "Check that the Key Binding JWT is a valid JWT in all other
    respects, per [RFC7519]"; RFC 7519 §4.1.4/§4.1.5: a JWT MUST NOT be accepted after
    ``exp`` or before ``nbf``. ``verify_key_binding`` never reads either claim."""
    token, holder, issuer = bound_token()
    with pytest.raises(TokenFormatError):
        verify_bound(with_kb(token, holder, **claims), issuer)


def test_a_kb_jwt_whose_aud_is_an_array_naming_the_verifier_is_accepted() -> None:
    """RFC 9901 §4.3 leaves the representation of ``aud`` to the protocol and §7.3 step 5.8
    defers to RFC 7519, whose §4.1.3 makes ``aud`` "an array of case-sensitive strings" in
    the general case (a single string only in the special case). A KB-JWT with
    ``"aud": [verifier]`` is refused as having "no aud"."""
    token, holder, issuer = bound_token()
    verified = verify_bound(with_kb(token, holder, aud=[AUDIENCE]), issuer)
    assert verified.key_binding is not None


def test_present_computes_sd_hash_with_the_issuers_sd_alg() -> None:
    """RFC 9901 §4.3.1: for ``sd_hash`` "The same hash algorithm as for the Disclosures MUST
    be used (defined by the ``_sd_alg`` element in the Issuer-signed JWT ...)". ``present``
    always hashes with SHA-256, so its own presentations of a sha-384 SD-JWT fail."""
    token, holder, issuer = bound_token("sha-384")
    shown = sd_jwt.present(token, lambda d: True, holder, audience=AUDIENCE, nonce=NONCE, iat=STAMP)
    assert verify_bound(shown, issuer).claims["name"] == "张三"


def test_a_sha_384_kb_jwt_made_to_the_spec_verifies() -> None:
    """RFC 9901 §4.3.1 on the verifier's side: sd_hash with ``_sd_alg`` (sha-384) is checked."""
    token, holder, issuer = bound_token("sha-384")
    payload = {"aud": AUDIENCE, "nonce": NONCE, "iat": STAMP, "sd_hash": sd_jwt.sd_hash(token, "sha-384")}
    shown = token + sd_jwt.sign_compact({"typ": "kb+jwt"}, payload, holder)
    assert verify_bound(shown, issuer).key_binding == payload


@pytest.mark.parametrize(("iat", "accepted"), [(True, False), ("1", False), (STAMP + 0.25, True)])
def test_kb_jwt_iat_is_a_numeric_date(iat: Any, accepted: bool) -> None:
    """RFC 9901 §4.3: ``iat`` REQUIRED with the syntax of RFC 7519 (a NumericDate: a JSON
    number, which a boolean is not; fractions are allowed)."""
    token, holder, issuer = bound_token()
    shown = with_kb(token, holder, iat=iat)
    if accepted:
        assert verify_bound(shown, issuer).key_binding is not None
    else:
        with pytest.raises(TokenFormatError, match="iat"):
            verify_bound(shown, issuer)


def test_a_kb_jwt_whose_alg_is_not_the_cnf_keys_is_refused() -> None:
    """RFC 9901 §7.3 step 5.1-5.3: the holder key comes from ``cnf``; an EdDSA KB-JWT
    cannot verify under the P-256 ``cnf.jwk`` (the algorithm is the key's)."""
    token, _, issuer = bound_token()
    with pytest.raises(TokenFormatError, match="algorithm"):
        verify_bound(with_kb(token, generate_private_key()), issuer)


def test_a_cnf_jwk_with_extra_public_members_still_binds() -> None:
    """RFC 7800 §3.2: the ``jwk`` "MAY contain other JWK members, including the kid"; the
    verifier reads the key from the required members and ignores the rest."""
    issuer = generate_private_key()
    holder = ec.generate_private_key(ec.SECP256R1())
    jwk = {**sd_jwt.public_jwk(holder.public_key()), "kid": "wallet-1", "alg": "ES256", "use": "sig"}
    token = sd_jwt.issue({"typ": "dc+sd-jwt"}, {"vct": VCT, "cnf": {"jwk": jwk}}, [], issuer)
    assert verify_bound(with_kb(token, holder), issuer).key_binding is not None


def test_a_cnf_jwk_with_private_material_is_refused_when_verifying() -> None:
    """RFC 7800 §3.2 / RFC 7517 §9.2: a confirmation key is public; a ``d`` member there
    means the issuer published the holder's private key."""
    issuer = generate_private_key()
    holder = ec.generate_private_key(ec.SECP256R1())
    jwk = {**sd_jwt.public_jwk(holder.public_key()), "d": b64url_encode(b"\x01" * 32)}
    token = sd_jwt.issue({"typ": "dc+sd-jwt"}, {"vct": VCT, "cnf": {"jwk": jwk}}, [], issuer)
    with pytest.raises(KeyMaterialError):
        verify_bound(with_kb(token, holder), issuer)


# --- SD-JWT VC in the pipeline: issuer, validity -------------------------------------------


def test_an_expired_sd_jwt_vc_is_a_validity_failure_not_a_proof_failure() -> None:
    """RFC 9901 §7.1 step 6 and draft-ietf-oauth-sd-jwt-vc §3.2.2 (``exp``): the signature
    is authentic; the report puts the expiry under validity."""
    issuer = SelfIssuer()
    exam = examine(issuer.issue({"exp": STAMP - 3600}), trust_for(issuer), NOW)
    checks = checks_of(exam.checks)
    assert checks["proof"] == ("pass", "proof-sd-jwt-verified")
    assert checks["validity"] == ("fail", "validity-expired")


def test_an_iss_other_than_the_kid_controller_is_an_issuer_mismatch() -> None:
    """draft-ietf-oauth-sd-jwt-vc §3.5 / RFC 9901 §7.1 step 2.3: the signing key must
    belong to the issuer named by ``iss``."""
    issuer = SelfIssuer()
    exam = examine(issuer.issue({"iss": SelfIssuer().did}), trust_for(issuer), NOW)
    checks = checks_of(exam.checks)
    assert checks["proof"] == ("pass", "proof-verified")
    assert checks["issuer"] == ("fail", "issuer-mismatch")


def test_a_forged_signature_is_never_reported_as_verifying() -> None:
    """RFC 9901 §7.1 step 2.2-2.3 and §9.1 ("The Verifier MUST always check the signature").
    ``issuer_key`` raises IssuerMismatchError for a method not under assertionMethod before
    ``verify_compact`` runs, and the handler then records proof "pass: the signature
    verifies" for a token signed by nobody's key. (Latent: this node's resolver lists every
    key under assertionMethod today; any resolver that does not exposes it.)"""
    issuer = SelfIssuer()

    class AuthenticationOnly:
        def resolve(self, verification_method_id: str) -> VerificationMethod:
            return VerificationMethod(
                verification_method_id, issuer.did, issuer.key.public_key(), frozenset({"authentication"})
            )

    forged = sd_jwt.issue(
        {"typ": "dc+sd-jwt", "kid": issuer.kid}, {"iss": issuer.did, "vct": VCT}, [], generate_private_key()
    )
    exam = _examine_sd_jwt(forged, AuthenticationOnly(), trust_for(issuer), NOW, None)  # type: ignore[arg-type]
    assert checks_of(exam.checks)["proof"][0] != "pass"


# --- the holder's key in cnf (registry/routes/holder.py, sd_jwt_vc.issue) -----------------


def test_the_issuer_signs_only_the_public_members_of_the_holder_key(
    client: TestClient, actors: Actors
) -> None:
    """RFC 7800 §3.2 (``cnf.jwk`` is the holder's *public* key) and RFC 9901 §9.7 (the
    issuer vouches for everything it signs, ``cnf`` included): ``sd_jwt_vc.issue`` checks
    the JWK with ``public_key_of_jwk`` but then signs ``dict(holder_jwk)`` as sent, so any
    extra member a caller adds (a symmetric ``k``, arbitrary text) becomes issuer-signed
    content. It should sign ``public_jwk(public_key_of_jwk(holder_jwk))``."""
    officer = actors.officer()
    record = client.post("/v1/credentials", json=issue_row(idNumber=resident_id(3)), headers=officer).json()
    holder = actors.holder(record["holderId"])
    key = ec.generate_private_key(ec.SECP256R1())
    public = sd_jwt.public_jwk(key.public_key())
    response = client.post(
        f"/v1/holder/credentials/{record['id']}/sd-jwt",
        json={"holderKey": {**public, "k": b64url_encode(b"a shared secret"), "note": "任意文字"}},
        headers=holder,
    )
    assert response.status_code == 200, response.text
    payload = json.loads(b64url_decode(sd_jwt.split(response.text).jwt.split(".")[1]))
    assert payload["cnf"]["jwk"] == public


def test_a_holder_key_with_an_unsignable_member_is_not_a_server_error(
    client: TestClient, actors: Actors
) -> None:
    """RFC 7517 §4 / I-JSON (RFC 7493 §2.2): an extra member with an integer beyond 2**53
    cannot be signed canonically. Whether the node drops it (signing only the public
    members) or refuses the key, the answer is never a 500."""
    officer = actors.officer()
    record = client.post("/v1/credentials", json=issue_row(idNumber=resident_id(4)), headers=officer).json()
    holder = actors.holder(record["holderId"])
    public = sd_jwt.public_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())
    response = client.post(
        f"/v1/holder/credentials/{record['id']}/sd-jwt",
        json={"holderKey": {**public, "ext": 2**60}},
        headers=holder,
    )
    assert response.status_code in (200, 400, 422), response.text


@pytest.mark.parametrize("kty", ["OKP", "EC"])
def test_a_holder_key_with_a_private_part_is_refused(client: TestClient, actors: Actors, kty: str) -> None:
    """RFC 7517 §9.2: ``d`` is private key material; a holder key slot never takes it."""
    officer = actors.officer()
    record = client.post("/v1/credentials", json=issue_row(idNumber=resident_id(5)), headers=officer).json()
    holder = actors.holder(record["holderId"])
    key: Any = generate_private_key() if kty == "OKP" else ec.generate_private_key(ec.SECP256R1())
    jwk = {**sd_jwt.public_jwk(key.public_key()), "d": b64url_encode(b"\x01" * 32)}
    response = client.post(
        f"/v1/holder/credentials/{record['id']}/sd-jwt", json={"holderKey": jwk}, headers=holder
    )
    assert response.status_code == 422, response.text


# --- draft-ietf-oauth-status-list ----------------------------------------------------------


def test_token_status_reads_the_specifications_two_bit_example() -> None:
    """draft-ietf-oauth-status-list §4.1 (bits counted from the least significant bit) with
    its own 2-bit example: lst "eNo76fITAAPfAgc" = [0xc9, 0x44, 0xf9] holds
    1,2,0,3, 0,1,0,1, 1,2,3,3."""
    data = zlib.decompress(b64url_decode("eNo76fITAAPfAgc"))
    assert data == bytes([0xC9, 0x44, 0xF9])
    assert [status.token_status(data, i) for i in range(12)] == [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


def test_token_list_bytes_matches_the_specifications_example_for_statuses_it_uses() -> None:
    """draft-ietf-oauth-status-list §4.1 and §7.1: the example without its 0x03 entries,
    made from a W3C Bitstring (index 0 = most significant bit) of INVALID entries and a set
    of SUSPENDED indexes."""
    revoked = {0, 5, 7, 8}
    bitstring = bytearray(2)
    for index in revoked:
        bitstring[index // 8] |= 0x80 >> (index % 8)
    data = status.token_list_bytes(12, bytes(bitstring), [1, 9])
    assert data == bytes([0xC9 & 0x3F, 0x44, 0xF9 & 0x0F])


def test_the_status_list_token_names_the_referenced_tokens_iss_and_uri(
    client: TestClient, actors: Actors
) -> None:
    """draft-ietf-oauth-status-list §5.1: ``typ`` statuslist+jwt; ``sub`` equals the
    Referenced Token's ``status.status_list.uri``; ``iss``, present in both, is equal;
    ``iat`` present; ``ttl`` positive; ``status_list`` {bits, lst} and nothing more."""
    token, _ = node_sd_jwt(client, actors)
    referenced = json.loads(b64url_decode(sd_jwt.split(token).jwt.split(".")[1]))
    uri = referenced["status"]["status_list"]["uri"]
    response = client.get("/status/token/1")
    assert response.headers["content-type"] == "application/statuslist+jwt"
    head, body, _ = response.text.split(".")
    assert json.loads(b64url_decode(head))["typ"] == "statuslist+jwt"
    claims = json.loads(b64url_decode(body))
    assert claims["sub"] == uri
    assert claims["iss"] == referenced["iss"]
    assert isinstance(claims["iat"], int)
    assert claims["ttl"] > 0
    assert set(claims["status_list"]) == {"bits", "lst"}
    assert claims["exp"] > claims["iat"]


# --- SigningError everywhere ------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"_sd": "x"},
        {"vct": 5},
        {"exp": "tomorrow"},
        {"nbf": True},
        {"status": {"status_list": {"idx": -1, "uri": "http://127.0.0.1:8032/status/token/1"}}},
        {"cnf": {"jwk": {"kty": "EC", "crv": "P-256", "x": 5, "y": []}}},
        {"deep": DEEP},
    ],
    ids=["sd-string", "vct-int", "exp-string", "nbf-bool", "idx-negative", "cnf-garbage", "deep"],
)
def test_malformed_issuer_signed_payloads_are_reports_not_exceptions(payload: dict[str, Any]) -> None:
    """RFC 9901 §7.1 ("If any step fails, the SD-JWT is not valid"): every malformation
    of the signed payload is a check in the report, never an escaping exception."""
    issuer = SelfIssuer()
    exam = examine(issuer.issue(payload), trust_for(issuer), NOW)
    assert exam.format == "sd-jwt"
    assert {c.name for c in exam.checks} >= {"proof", "validity", "schema"}


# --- expect_key_binding and the audit record ---------------------------------------------------


def test_the_audit_record_carries_the_verdict_the_verifier_was_given(
    client: TestClient, actors: Actors
) -> None:
    """RFC 9901 §7.3 ("If any step fails, the presentation is not valid"): when the request
    asks for key binding and the KB-JWT answers another nonce, the API says ``invalid``.
    ``verify_for`` writes the holder-visible audit row from the report *before*
    ``expect_key_binding`` turns it invalid, so the holder reads ``valid`` for a refused
    presentation."""
    officer = actors.officer()
    record = client.post("/v1/credentials", json=issue_row(idNumber=resident_id(6)), headers=officer).json()
    holder = actors.holder(record["holderId"])
    key = ec.generate_private_key(ec.SECP256R1())
    token = client.post(
        f"/v1/holder/credentials/{record['id']}/sd-jwt",
        json={"holderKey": sd_jwt.public_jwk(key.public_key())},
        headers=holder,
    ).text
    now = int(client.app.state.node.clock().timestamp())  # type: ignore[attr-defined]
    shown = sd_jwt.present(token, lambda d: d.name == "jti", key, audience=AUDIENCE, nonce="old", iat=now)
    report = client.post(
        "/v1/verifications",
        json={"credential": shown, "keyBinding": {"audience": AUDIENCE, "nonce": "new"}},
        headers=actors.hr(),
    ).json()
    assert report["verdict"] == "invalid"
    node = client.app.state.node  # type: ignore[attr-defined]
    node.audit_writer.flush()
    with node.db.session(write=False) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "credential.verify")).all()
    assert [json.loads(e.detail)["verdict"] for e in events] == ["invalid"]


# --- a federation member's Status List Token, as another node reads it -------------------


def _member_token(**changes: Any) -> tuple[Any, str, bytes]:
    """A member profile, the URL of its token list, and a token as ``changes`` make it."""
    import zlib
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from registry.credentials.status import TOKEN_LIST_TYPE, token_list_bytes
    from registry.federation.metadata import IssuerProfile
    from registry.signing.encoding import b64url_encode
    from registry.signing.jose import sign_jws
    from registry.signing.keyring import KeyRing

    now = datetime(2027, 3, 1, tzinfo=UTC)
    ring = KeyRing.start(Ed25519PrivateKey.generate(), now - timedelta(days=1))
    record, key = ring.signing_key(now)
    did, url = "did:web:js.example", "https://js.example/status/token/1"
    profile = IssuerProfile(
        "https://js.example",
        did,
        "32",
        "江苏省人力资源和社会保障厅",
        "Jiangsu",
        tuple(tuple(sorted(r.items())) for r in ring.public_records()),
        (),
        "https://js.example/status/",
        now + timedelta(days=1),
        "https://anchor.example",
    )
    data = token_list_bytes(16, bytes([0b01000000, 0]), [3])
    payload: dict[str, Any] = {
        "iss": did,
        "sub": url,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 3600,
        "status_list": {"bits": 2, "lst": b64url_encode(zlib.compress(data))},
    }
    payload.update(changes.pop("payload", {}))
    signer = changes.pop("key", key)
    token = sign_jws(payload, signer, f"{did}#{record.kid}", changes.pop("typ", TOKEN_LIST_TYPE))
    return profile, url, token.encode()


def test_a_member_s_token_list_is_read_entry_by_entry() -> None:
    from datetime import UTC, datetime

    from registry.credentials.status import token_status
    from registry.federation.directory import _verified_token_list

    profile, url, token = _member_token()
    held = _verified_token_list(url, profile, token, None, datetime(2027, 3, 1, 0, 5, tzinfo=UTC))
    assert (held.purpose, held.length) == ("token", 16)
    assert [token_status(held.bits, i) for i in (0, 1, 3)] == [0, 1, 2]  # valid, revoked, suspended


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"payload": {"sub": "https://js.example/status/token/2"}}, "not the one asked for"),
        ({"payload": {"exp": 1}}, "expired"),
        ({"payload": {"status_list": {"bits": 1, "lst": "eJwDAAAAAAE"}}}, "2-bit"),
        ({"payload": {"status_list": {"bits": 2, "lst": "not base64 deflate!"}}}, "DEFLATE"),
        ({"payload": {"iat": True}}, "integers"),
        ({"typ": "JWT"}, "typ"),
        ({"key": "other"}, "signature"),
    ],
)
def test_a_member_s_token_list_not_as_it_must_be_is_refused(changes: dict[str, Any], why: str) -> None:
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from registry.errors import RegistryError
    from registry.federation.directory import _verified_token_list

    if changes.get("key") == "other":
        changes["key"] = Ed25519PrivateKey.generate()
    profile, url, token = _member_token(**changes)
    with pytest.raises(RegistryError, match=why):
        _verified_token_list(url, profile, token, None, datetime(2027, 3, 1, 0, 5, tzinfo=UTC))


def test_a_member_s_token_list_that_inflates_beyond_the_bound_is_refused() -> None:
    import zlib
    from datetime import UTC, datetime

    from registry.errors import RegistryError
    from registry.federation.directory import MAX_TOKEN_LIST_BYTES, _verified_token_list
    from registry.signing.encoding import b64url_encode

    bomb = b64url_encode(zlib.compress(bytes(MAX_TOKEN_LIST_BYTES * 4), 9))
    profile, url, token = _member_token(payload={"status_list": {"bits": 2, "lst": bomb}})
    with pytest.raises(RegistryError, match="too large"):
        _verified_token_list(url, profile, token, None, datetime(2027, 3, 1, 0, 5, tzinfo=UTC))
