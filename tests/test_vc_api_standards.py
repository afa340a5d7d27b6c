"""The VC API endpoints against the text of the specifications (issue 10, points 1, 2, 7).

Sources, each test citing the section it checks:

- W3C Verifiable Credentials Data Model v2.0 (Recommendation, 2025),
  https://www.w3.org/TR/vc-data-model-2.0/ — §4.3 Contexts, §4.4 Identifiers, §4.5 Types,
  §4.6 Names and Descriptions, §4.7 Issuer, §4.8 Credential Subject, §4.9 Validity Period,
  §4.11 Data Schemas, §5.2 Extensibility, §5.3 Integrity of Related Resources,
  §5.4 Refreshing, §5.5 Terms of Use, §5.6 Evidence, §11.1 Language and Base Direction,
  Appendix B.1 Base Context (its terms are protected).
- W3C Bitstring Status List v1.0, §2.2 BitstringStatusListCredential.
- W3C CCG VC Issuer/Verifier API (issuer.yml, verifier.yml): ``/credentials/issue`` answers
  201, and 400 when "the provided value of 'issuer' does not match the expected
  configuration" or another bad request; ``/credentials/verify`` answers 400 on
  "invalid or malformed input … parameters".

The node answers 400 when the credential given to ``/credentials/issue`` breaks a rule of
the data model (``errors`` names each rule), and 422 when it is a conforming credential the
registry cannot issue (what its catalogue needs, members it sets itself).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import select

from registry.credentials.status_list import Bitstring, status_list_credential
from registry.credentials.verification import _schema
from registry.models import AuditEvent, Credential
from tests.conftest import BASE_URL, NOW, Actors
from tests.test_vc_api import NODE_DID, V2, assert_problem, count, issue_body

REGISTRY_CONTEXT = "https://registry.yrd.example/ns/talent/v1"
TITLE_SCHEMA = f"{BASE_URL}/schemas/professional-title/v1.json"
#: An issuer's own context for the evaluation record it keeps as evidence (VC Data Model
#: 2.0 §5.6 Evidence; §5.2 Extensibility: new terms are defined in a context).
EVALUATION_CONTEXT: dict[str, Any] = {
    "EvaluationRecord": "https://hrss.js.example/ns/evaluation#EvaluationRecord",
    "JiangsuTitleCredential": "https://hrss.js.example/ns/evaluation#JiangsuTitleCredential",
    "committee": "https://hrss.js.example/ns/evaluation#committee",
    "meetingDate": {
        "@id": "https://hrss.js.example/ns/evaluation#meetingDate",
        "@type": "http://www.w3.org/2001/XMLSchema#date",
    },
    "decisionNumber": "https://hrss.js.example/ns/evaluation#decisionNumber",
}
#: The evaluation record of the title: which committee decided, when, under which decision.
EVALUATION_EVIDENCE: dict[str, Any] = {
    "id": "https://hrss.js.example/evaluations/2026/eng-intermediate/decision-42",
    "type": ["EvaluationRecord"],
    "committee": "江苏省工程技术研究系列中级职称评审委员会",
    "meetingDate": "2026-10-28",
    "decisionNumber": "苏职称〔2026〕42号",
}


def body_with(**members: Any) -> dict[str, Any]:
    """A valid issue request (issuer is the node) with ``members`` set on the credential."""
    body = issue_body()
    body["credential"]["issuer"] = NODE_DID
    body["credential"].update(members)
    return body


def issue(client: TestClient, actors: Actors, body: dict[str, Any]) -> Response:
    response: Response = client.post("/credentials/issue", json=body, headers=actors.officer())
    return response


def issued(client: TestClient, actors: Actors, body: dict[str, Any]) -> dict[str, Any]:
    response = issue(client, actors, body)
    assert response.status_code == 201, response.text
    vc: dict[str, Any] = response.json()["verifiableCredential"]
    return vc


def refused(client: TestClient, actors: Actors, body: dict[str, Any], status: int = 400) -> dict[str, Any]:
    problem = assert_problem(issue(client, actors, body), status)
    assert count(client, Credential) == 0
    return problem


def rules(problem: dict[str, Any]) -> str:
    """Every rule and message the problem names, as one text to search."""
    return " ".join([problem["detail"], *(f"{e.get('rule', '')} {e['message']}" for e in problem["errors"])])


# --- Point 1: invalid input is refused, never repaired -------------------------------------------


def test_a_credential_without_an_issuer_is_400_naming_the_rule(client: TestClient, actors: Actors) -> None:
    """VC Data Model 2.0 §4.7 Issuer: "A verifiable credential MUST have an issuer
    property." The node used to put its own in."""
    body = body_with()
    del body["credential"]["issuer"]
    problem = refused(client, actors, body)
    assert "§4.7" in rules(problem)
    assert "issuer" in problem["detail"]
    assert problem["errors"][0]["field"] == "issuer"


@pytest.mark.parametrize(
    "issuer",
    [None, "", 42, "not a url", {}, {"id": None}, {"name": "江苏省人社厅"}, [NODE_DID]],
    ids=["null", "empty", "number", "not-a-url", "empty-object", "null-id", "object-without-id", "list"],
)
def test_an_issuer_that_is_neither_a_url_nor_an_object_with_a_url_id_is_400(
    client: TestClient, actors: Actors, issuer: Any
) -> None:
    """§4.7 Issuer: "The value of the issuer property MUST be either a URL or an object
    containing an id property whose value is a URL"."""
    problem = refused(client, actors, body_with(issuer=issuer))
    assert "§4.7" in rules(problem)


@pytest.mark.parametrize(
    "name",
    [
        {"@value": "江苏省人社厅", "@language": "zh", "note": "extra"},
        {"@language": "zh"},
        {"@value": 7},
        {"@value": "Jiangsu", "@language": "en", "@direction": "up"},
        {"@value": "Jiangsu", "@language": "not a tag!"},
        {"zh": "江苏省人社厅", "en": "Jiangsu HRSS"},
        [],
        ["江苏省人社厅", {"@value": "Jiangsu"}],
    ],
    ids=[
        "extra-key",
        "no-value",
        "value-not-string",
        "bad-direction",
        "bad-tag",
        "language-map",
        "empty",
        "mixed",
    ],
)
@pytest.mark.parametrize("member", ["name", "description"])
def test_an_issuer_name_or_description_that_is_not_a_language_value_object_is_400(
    client: TestClient, actors: Actors, name: Any, member: str
) -> None:
    """§4.7 Issuer (name, description on the issuer) with §11.1 Language and Base
    Direction: "The language value object MUST NOT include any other keys beyond @value,
    @language, and @direction"; it "MUST contain a @value property whose value is a
    string"."""
    problem = refused(client, actors, body_with(issuer={"id": NODE_DID, member: name}))
    assert "§11.1" in rules(problem) or "§4.6" in rules(problem)
    assert problem["errors"][0]["field"] == f"issuer.{member}"


@pytest.mark.parametrize("member", ["name", "description"])
def test_a_credential_name_or_description_with_other_members_is_400(
    client: TestClient, actors: Actors, member: str
) -> None:
    """§4.6 Names and Descriptions: "the value of the name property MUST be a string or a
    language value object as described in 11.1"."""
    value = {"@value": "中级职称", "@language": "zh", "@id": "urn:x"}
    problem = refused(client, actors, body_with(**{member: value}))
    assert "§11.1" in rules(problem)


@pytest.mark.parametrize(
    ("context", "words"),
    [
        ([V2, {"VerifiableCredential": "https://attacker.example/#Fake"}], "VerifiableCredential"),
        ([V2, {"@protected": False, "name": "https://attacker.example/#name"}], "name"),
        ([V2, {"credentialSubject": {"@id": "https://attacker.example/#s"}}], "credentialSubject"),
        ([V2, 42], "URL"),
        ([V2, "not a url"], "URL"),
        ([REGISTRY_CONTEXT, V2], "first"),
        (V2, "ordered set"),
        ([], "first"),
    ],
    ids=[
        "redefines-vc",
        "redefines-name",
        "redefines-subject",
        "number",
        "not-url",
        "base-second",
        "string",
        "empty",
    ],
)
def test_a_context_that_breaks_the_rules_is_400(
    client: TestClient, actors: Actors, context: Any, words: str
) -> None:
    """§4.3 Contexts: "an ordered set where the first item is a URL with the value
    https://www.w3.org/ns/credentials/v2. Subsequent items … MUST be composed of any
    combination of URLs and objects"; Appendix B.1: the base context's terms are protected
    ("compliant JSON-LD-based processors produce an error when a JSON-LD context redefines
    any term"). An added context that redefines VerifiableCredential used to be signed."""
    problem = refused(client, actors, body_with(**{"@context": context}))
    assert "§4.3" in rules(problem)
    assert words in rules(problem)


@pytest.mark.parametrize(
    "value",
    [
        1_798_761_600,  # a Unix time, which the node used to turn into a date-time
        "2026-11-02",  # a date only
        "2026-11-02T00:00:00",  # no time zone offset: a dateTime, not a dateTimeStamp
        "2026-11-02 00:00:00Z",  # a space for the T
        "2026-11-02t00:00:00z",
        "2026-11-02T24:30:00Z",
        None,
    ],
    ids=["number", "date", "no-offset", "space", "lower-case", "hour-24", "null"],
)
@pytest.mark.parametrize("member", ["validFrom", "validUntil"])
def test_validity_dates_that_are_not_xml_schema_date_time_stamps_are_400(
    client: TestClient, actors: Actors, value: Any, member: str
) -> None:
    """§4.9 Validity Period: "If present, the value of the validFrom property MUST be an
    [XMLSCHEMA11-2] dateTimeStamp string value" (likewise validUntil)."""
    problem = refused(client, actors, body_with(**{member: value}))
    assert "§4.9" in rules(problem)
    assert problem["errors"][0]["field"] == member


def test_valid_from_after_valid_until_is_400(client: TestClient, actors: Actors) -> None:
    """§4.9: "the validFrom value MUST express a point in time that is temporally the same
    or earlier than the point in time expressed by the validUntil value"."""
    body = body_with(validFrom="2027-01-01T00:00:00Z", validUntil="2026-12-01T00:00:00+08:00")
    assert "§4.9" in rules(refused(client, actors, body))


@pytest.mark.parametrize(
    ("members", "section"),
    [
        ({"credentialSubject": "王芳"}, "§4.8"),
        ({"type": "ProfessionalTitleCredential"}, "§4.5"),
        ({"type": ["ProfessionalTitleCredential"]}, "§4.5"),
        ({"type": ["VerifiableCredential", 7]}, "§4.5"),
        ({"id": "not a url"}, "§4.4"),
        ({"evidence": "urn:uuid:0b7c6a5e-3f1d-4c1e-9a51-7f1e2d3c4b5a"}, "§5.6"),
        ({"evidence": [{"committee": "评委会"}]}, "§5.6"),
        ({"termsOfUse": {"id": "https://hrss.js.example/policies/1"}}, "§5.5"),
        ({"refreshService": [{"id": "https://hrss.js.example/refresh"}]}, "§5.4"),
        ({"relatedResource": [{"id": "https://hrss.js.example/a.pdf"}]}, "§5.3"),
        (
            {
                "relatedResource": [
                    {"id": "https://hrss.js.example/a.pdf", "digestSRI": "sha384-x"},
                    {"id": "https://hrss.js.example/a.pdf", "digestMultibase": "uEiB"},
                ]
            },
            "§5.3",
        ),
        ({"credentialSchema": {"id": TITLE_SCHEMA}}, "§4.11"),
        ({"credentialSchema": "urn:uuid:0b7c6a5e-3f1d-4c1e-9a51-7f1e2d3c4b5a"}, "§4.11"),
    ],
    ids=[
        "subject-string",
        "type-string",
        "type-without-vc",
        "type-number",
        "id-not-url",
        "evidence-string",
        "evidence-without-type",
        "terms-without-type",
        "refresh-without-type",
        "related-without-digest",
        "related-repeated-id",
        "schema-without-type",
        "schema-string",
    ],
)
def test_members_that_break_their_data_model_rule_are_400(
    client: TestClient, actors: Actors, members: dict[str, Any], section: str
) -> None:
    """The rules of §4.4, §4.5, §4.8, §4.11, §5.3 ("Each object associated with
    relatedResource MUST contain at least a digestSRI or a digestMultibase value"; the id
    "MUST be unique among the list of related resource objects"), §5.4-§5.6 (each value
    "MUST specify its type")."""
    problem = refused(client, actors, body_with(**members))
    assert section in rules(problem)


def test_every_violation_is_named_at_once(client: TestClient, actors: Actors) -> None:
    body = body_with(issuer=None, validFrom="soon", name={"@value": 1})
    problem = refused(client, actors, body)
    assert {e["field"] for e in problem["errors"]} == {"issuer", "validFrom", "name"}
    assert all(e["rule"].startswith("VC Data Model 2.0 §") for e in problem["errors"])


# --- Point 2: valid VC 2.0 members are signed as given -------------------------------------------


def test_the_vc_2_0_members_a_registry_can_sign_are_carried_into_the_signed_credential_unchanged(
    client: TestClient, actors: Actors
) -> None:
    """§4.4 (id), §4.5 (extra types from an added context), §4.6 (name and description as
    strings, language value objects and arrays of them), §4.11 (the registry's own schema),
    §5.3-§5.6 (relatedResource, refreshService, termsOfUse, evidence): all optional members
    of a conforming credential, signed alongside the registry's subject and status."""
    members: dict[str, Any] = {
        "@context": [V2, EVALUATION_CONTEXT],
        "id": "urn:uuid:6f1d3c7a-2b4e-4f5a-9c8d-1e2f3a4b5c6d",
        "type": ["VerifiableCredential", "ProfessionalTitleCredential", "JiangsuTitleCredential"],
        "name": [
            {"@value": "工程技术中级职称", "@language": "zh"},
            {"@value": "Intermediate engineering title", "@language": "en", "@direction": "ltr"},
        ],
        "description": "江苏省工程技术研究系列中级职称",
        "evidence": [EVALUATION_EVIDENCE],
        "termsOfUse": {"type": "IssuerPolicy", "id": "https://hrss.js.example/policies/titles"},
        "relatedResource": [
            {
                "id": "https://hrss.js.example/evaluations/2026/decision-42.pdf",
                "mediaType": "application/pdf",
                "digestSRI": "sha384-l/HrjlBCNWyAX91hr6LFV2Y3heB5Tcr6IeE4/Tje8YyzYBM8IhqjHWiWpr8+ZbYU",
            }
        ],
        "refreshService": {
            "type": "VerifiableCredentialRefreshService2021",
            "url": "https://hrss.js.example/r",
        },
        "credentialSchema": {"id": TITLE_SCHEMA, "type": "JsonSchema"},
    }
    body = body_with(**copy.deepcopy(members))
    vc = issued(client, actors, body)
    for name in ("id", "name", "description", "evidence", "termsOfUse", "relatedResource", "refreshService"):
        assert vc[name] == members[name], name
    assert vc["credentialSchema"] == members["credentialSchema"]
    assert vc["@context"] == [V2, REGISTRY_CONTEXT, EVALUATION_CONTEXT]
    assert vc["type"] == members["type"]
    # The registry's own subject and status entries beside them.
    assert vc["credentialSubject"]["certificateNumber"].startswith("32-2026-")
    assert "identifier" not in vc["credentialSubject"]
    assert {e["statusPurpose"] for e in vc["credentialStatus"]} == {"revocation", "suspension"}
    # Stored under the id asked for, and verifiable as signed.
    stored = client.get(f"/v1/credentials/{vc['id'].removeprefix('urn:uuid:')}", headers=actors.auditor())
    assert stored.status_code == 200, stored.text
    report = client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert report.status_code == 200, report.text
    changed = copy.deepcopy(vc)
    changed["evidence"][0]["decisionNumber"] = "苏职称〔2026〕43号"
    assert client.post("/credentials/verify", json={"verifiableCredential": changed}).status_code == 400


def test_evidence_holds_the_evaluation_record(client: TestClient, actors: Actors) -> None:
    """§5.6 Evidence: "information … the issuer relied on when issuing"; here the
    evaluation committee, its meeting date and the decision number."""
    body = body_with(**{"@context": [V2, EVALUATION_CONTEXT], "evidence": EVALUATION_EVIDENCE})
    vc = issued(client, actors, body)
    assert vc["evidence"] == EVALUATION_EVIDENCE


@pytest.mark.parametrize(
    "issuer",
    [NODE_DID, {"id": NODE_DID}],
    ids=["url", "object"],
)
def test_the_node_s_own_issuer_as_a_url_or_an_object_is_accepted(
    client: TestClient, actors: Actors, issuer: Any
) -> None:
    """§4.7 Issuer: a URL, or an object with an id that is that URL."""
    vc = issued(client, actors, body_with(issuer=issuer))
    assert vc["issuer"]["id"] == NODE_DID


@pytest.mark.parametrize(
    ("members", "status", "words"),
    [
        ({"issuer": "did:web:hrss.zj.example"}, 400, "issues as"),
        ({"issuer": {"id": NODE_DID, "name": "教育部"}}, 400, "names itself"),
        ({"issuer": {"id": NODE_DID, "url": "https://hrss.js.example"}}, 400, "issuer"),
        (
            {"credentialSchema": {"id": "https://schemas.example/degree.json", "type": "JsonSchema"}},
            422,
            "schema",
        ),
        (
            {
                "credentialSchema": {
                    "id": f"{BASE_URL}/schemas/vocational-skill/v1.json",
                    "type": "JsonSchema",
                }
            },
            422,
            "schema",
        ),
        ({"credentialStatus": {"type": "BitstringStatusListEntry"}}, 422, "credentialStatus"),
        ({"id": "https://hrss.js.example/credentials/42"}, 422, "urn:uuid"),
        ({"type": ["VerifiableCredential", "ProfessionalTitleCredential", "Undefined"]}, 422, "Undefined"),
        (
            {"type": ["VerifiableCredential", "ProfessionalTitleCredential", "VerifiablePresentation"]},
            422,
            "type",
        ),
        (
            {
                "type": [
                    "VerifiableCredential",
                    "ProfessionalTitleCredential",
                    "BitstringStatusListCredential",
                ]
            },
            422,
            "type",
        ),
    ],
    ids=[
        "other-issuer",
        "other-issuer-name",
        "issuer-member",
        "other-schema",
        "schema-of-another-kind",
        "status",
        "id-not-uuid",
        "undefined-type",
        "presentation-type",
        "status-list-type",
    ],
)
def test_what_would_sign_claims_outside_the_catalogue_is_still_refused(
    client: TestClient, actors: Actors, members: dict[str, Any], status: int, words: str
) -> None:
    """A conforming credential can still ask for what the registry must not sign: another
    issuer (the VC API's 400 for an issuer that "does not match the expected
    configuration"), another schema, status entries the node allocates itself, types no
    context defines (§5.2 Extensibility: the base context's ``@vocab`` makes them
    issuer-dependent, which is not for production)."""
    problem = refused(client, actors, body_with(**members), status)
    assert words in problem["detail"]


def test_an_id_already_issued_is_409(client: TestClient, actors: Actors) -> None:
    """§4.4 Identifiers: an id identifies one thing; the node does not sign a second
    credential under an id it has used."""
    body = body_with(id="urn:uuid:6f1d3c7a-2b4e-4f5a-9c8d-1e2f3a4b5c6d")
    issued(client, actors, body)
    other = copy.deepcopy(body)
    other["credential"]["credentialSubject"]["identifier"]["number"] = issue_body(8)["credential"][
        "credentialSubject"
    ]["identifier"]["number"]
    assert_problem(issue(client, actors, other), 409)
    assert count(client, Credential) == 1


# --- Point 7: small departures ---------------------------------------------------------------------


def test_the_node_s_own_status_list_credential_verifies_as_valid(client: TestClient, actors: Actors) -> None:
    """Bitstring Status List v1.0 §2.2: a BitstringStatusListCredential names no
    credentialSchema; its schema check is the shape §2.2 gives it."""
    vc = issued(client, actors, body_with())
    url = vc["credentialStatus"][0]["statusListCredential"]
    listed = client.get(url.removeprefix(BASE_URL))
    assert listed.status_code == 200, listed.text
    response = client.post("/credentials/verify", json={"verifiableCredential": listed.json()})
    assert response.status_code == 200, response.text
    schema = next(c for c in response.json()["results"][0]["checks"] if c["check"] == "schema")
    assert schema["result"] == "pass"
    assert "§2.2" in schema["reason"]


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update(type="StatusList2021"),
        lambda s: s.update(encodedList="not multibase"),
        lambda s: s.pop("statusPurpose"),
    ],
    ids=["subject-type", "encoded-list", "no-purpose"],
)
def test_a_status_list_credential_of_the_wrong_shape_fails_the_schema_check(change: Any) -> None:
    """§2.2: credentialSubject.type "MUST be BitstringStatusList"; statusPurpose is
    required; encodedList is the multibase base64url GZIP bitstring (§2.2, §3.1)."""
    document = status_list_credential(
        f"{BASE_URL}/status/revocation/1", NODE_DID, "revocation", Bitstring(), NOW
    )
    assert _schema(document).result == "pass"
    change(document["credentialSubject"])
    assert _schema(document).result == "fail"


def test_a_status_change_without_a_reason_code_records_the_default_reason(
    client: TestClient, actors: Actors
) -> None:
    """VC API UpdateCredentialStatusRequest: credentialId, credentialStatus and status are
    the required members; the registry's reasonCode is its own addition, so a request
    without it is recorded with the reason ``unspecified``."""
    vc = issued(client, actors, body_with())
    body = {
        "credentialId": vc["id"],
        "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "suspension"},
        "status": True,
    }
    response = client.post("/credentials/status", json=body, headers=actors.officer())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "suspended"
    node = client.app.state.node  # type: ignore[attr-defined]
    with node.db.session(write=False) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "credential.suspend")).one()
    assert event.reason == "unspecified"


def test_status_request_without_reason_code_is_not_a_request_validation_error(
    client: TestClient, actors: Actors
) -> None:
    """The request form of the VC API has no reasonCode: the node's own reason list, not
    its request schema, decides what a missing reason means."""
    vc = issued(client, actors, body_with())
    body = {
        "credentialId": vc["id"],
        "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "suspension"},
        "status": True,
    }
    response = client.post("/credentials/status", json=body, headers=actors.officer())
    assert response.json().get("type", "") != "https://registry.yrd.example/problems/invalid-request"


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("/credentials/verify", {"checks": ["proof"]}),
        ("/credentials/verify", {"challenge": "c-1"}),
        ("/presentations/verify", {"returnPresentation": True}),
        ("/presentations/verify", {"challenge": "c-1", "skipStatus": True}),
    ],
    ids=["checks", "challenge-on-credential", "return-presentation", "skip-status"],
)
def test_unknown_verify_options_are_400_naming_them(
    client: TestClient, actors: Actors, path: str, options: dict[str, Any]
) -> None:
    """VC API verifier.yml: 400 is "invalid or malformed input that prevented the
    verification process from being performed … issues with the request format,
    structure, or parameters". An option the node does not act on is refused, never
    ignored (a caller asking to skip a check would otherwise believe it skipped)."""
    vc = issued(client, actors, body_with())
    if path == "/credentials/verify":
        body: dict[str, Any] = {"verifiableCredential": vc, "options": options}
    else:
        vp = {"@context": [V2], "type": ["VerifiablePresentation"], "verifiableCredential": [vc]}
        body = {"verifiablePresentation": vp, "options": options}
    problem = assert_problem(client.post(path, json=body), 400)
    assert problem["type"].endswith("/unsupported-option")
    unknown = sorted(set(options) - {"challenge"}) if path == "/presentations/verify" else sorted(options)
    for name in unknown:
        assert name in problem["detail"]
