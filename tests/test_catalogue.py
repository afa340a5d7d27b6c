"""The catalogue matches the national lists (issue 9, point 6): the professional-title
series in force with their levels, the 72 items of the national vocational
qualification catalogue (2021) with their awarding bodies, distinct names; admins
correct and retire entries, audited; a seeded node is brought up to the seed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from registry.app import prepare_database
from registry.credentials import catalogue, schemas
from registry.database import Database
from registry.models import AuditEvent, Credential, CredentialType
from tests.conftest import NOW, Actors, MutableClock, issue_row, node_settings, resident_id
from tests.test_access import assert_problem, count, node_of

SEED = json.loads(catalogue.SEED.read_text(encoding="utf-8"))
TYPES = SEED["types"]
#: The series the national list of professional titles has in force.
REQUIRED_SERIES = {
    "工程技术",
    "卫生技术",
    "高等学校教师",
    "中等职业学校教师",
    "中小学教师",
    "技工院校教师",
    "自然科学研究",
    "哲学社会科学研究",
    "实验技术",
    "农业技术",
    "经济",
    "会计",
    "审计",
    "统计",
    "翻译",
    "新闻",
    "出版",
    "图书资料",
    "文物博物",
    "档案",
    "工艺美术",
    "艺术",
    "体育",
    "律师",
    "公证",
    "播音主持",
    "群众文化",
    "船舶",
    "民用航空飞行技术",
}


def _active(kind: str) -> list[dict[str, Any]]:
    return [t for t in TYPES if t["kind"] == kind and t["retired"] is None]


# --- the seed file ---


def test_the_seed_cites_its_sources_with_dates() -> None:
    sources = SEED["sources"]
    assert len(sources) >= 3
    for source in sources:
        assert source["title"]
        assert source["publisher"]
        assert len(source["date"]) == 10
        assert source["date"][4] == "-"
    titles = " ".join(s["title"] for s in sources)
    assert "国家职业资格目录（2021年版）" in titles
    assert any(s["date"] == "2021-11-23" for s in sources)


def test_the_national_qualification_catalogue_has_its_72_items() -> None:
    professional = {t["national_item"]: t["category"] for t in _active("qualification")}
    assert sorted(professional) == list(range(1, 60))
    assert Counter(professional.values()) == {"licensing": 33, "level-evaluation": 26}
    skilled = {t["national_item"] for t in _active("skill") if t["national_item"] is not None}
    assert sorted(skilled) == list(range(1, 14))
    assert len(professional) + len(skilled) == 72
    # Every entry of an item agrees on its category and awarding body.
    for kind in ("qualification", "skill"):
        by_item: dict[int, set[tuple[str, str, str]]] = {}
        for t in _active(kind):
            if t["national_item"] is not None:
                body = (t["category"], t["awarding_body_zh"], t["awarding_body_en"])
                by_item.setdefault(t["national_item"], set()).add(body)
        assert all(len(bodies) == 1 for bodies in by_item.values())


def test_each_qualification_names_its_awarding_body() -> None:
    for t in TYPES:
        if t["kind"] == "qualification" or t["national_item"] is not None:
            assert t["awarding_body_zh"], t["code"]
            assert t["awarding_body_en"], t["code"]
        if t["kind"] == "title":
            assert t["awarding_body_zh"] is None, t["code"]  # its committee is in each credential
    by_code = {t["code"]: t for t in TYPES}
    assert by_code["QUAL-LEGAL"]["awarding_body_zh"] == "司法部"
    assert "住房和城乡建设部" in by_code["QUAL-CONSTRUCTOR-1"]["awarding_body_zh"]
    assert "人力资源社会保障部" in by_code["QUAL-CONSTRUCTOR-1"]["awarding_body_zh"]
    assert by_code["QUAL-CPA"]["awarding_body_zh"] == "财政部"  # the 2021 list names 财政部 alone
    assert "相关行业协会" in by_code["QUAL-URBAN-PLANNER"]["awarding_body_zh"]


#: Items 9-59 of the 2021 catalogue in the order two independent lists of its sub-items
#: give, grouped as the official text groups them (the seed's sources say which): the
#: grouping yields exactly 33 licensing items, the last 拍卖师, and 26 level-evaluation
#: items, the first 工程咨询（投资）, as the announcement counts them.
ITEM_ORDER = {
    "QUAL-NUCLEAR-SAFETY-ENGINEER": 9,
    "QUAL-ARCHITECT-1": 10,
    "QUAL-SUPERVISING-ENGINEER": 11,
    "QUAL-REAL-ESTATE-APPRAISER": 12,
    "QUAL-COST-ENGINEER-1": 13,
    "QUAL-CONSTRUCTOR-1": 14,
    "QUAL-STRUCTURAL-ENGINEER-1": 15,
    "QUAL-SHIP-SURVEYOR": 16,
    "QUAL-SEAFARER": 17,
    "QUAL-VETERINARIAN": 18,
    "QUAL-PERFORMANCE-AGENT": 19,
    "QUAL-TOUR-GUIDE": 20,
    "QUAL-PHYSICIAN": 21,
    "QUAL-NURSE": 22,
    "QUAL-MATERNAL-CHILD-HEALTH": 23,
    "QUAL-SAFETY-ENGINEER-INTERMEDIATE": 24,
    "QUAL-FIRE-ENGINEER-1": 25,
    "QUAL-METROLOGIST-1": 26,
    "QUAL-SPECIAL-EQUIPMENT-INSPECTOR": 27,
    "QUAL-ANNOUNCER": 28,
    "QUAL-JOURNALIST": 29,
    "QUAL-CIVIL-AVIATION-PERSONNEL": 30,
    "QUAL-PHARMACIST": 31,
    "QUAL-PATENT-ATTORNEY": 32,
    "QUAL-AUCTIONEER": 33,
    "QUAL-ENGINEERING-CONSULTANT": 34,
    "QUAL-COMMUNICATIONS-JUNIOR": 35,
    "QUAL-SOFTWARE-JUNIOR": 36,
    "QUAL-SOCIAL-WORKER": 37,
    "QUAL-ACCOUNTING-JUNIOR": 38,
    "QUAL-ASSET-APPRAISER": 39,
    "QUAL-ECONOMICS-JUNIOR": 40,
    "QUAL-REAL-ESTATE-REGISTRATION-AGENT": 41,
    "QUAL-MINING-RIGHTS-APPRAISER": 42,
    "QUAL-EIA-ENGINEER": 43,
    "QUAL-REAL-ESTATE-AGENT": 44,
    "QUAL-VEHICLE-INSPECTION": 45,
    "QUAL-HIGHWAY-WATERWAY-TESTING": 46,
    "QUAL-WATER-QUALITY-INSPECTOR": 47,
    "QUAL-HEALTH-JUNIOR": 48,
    "QUAL-AUDITING-JUNIOR": 49,
    "QUAL-TAX-AGENT": 50,
    "QUAL-CERTIFICATION-AUDITOR": 51,
    "QUAL-EQUIPMENT-SUPERVISOR": 52,
    "QUAL-STATISTICS-JUNIOR": 53,
    "QUAL-PUBLISHING-JUNIOR": 54,
    "QUAL-BANKING-JUNIOR": 55,
    "QUAL-ACTUARY": 56,
    "QUAL-SECURITIES-FUTURES-FUNDS": 57,
    "QUAL-HERITAGE-CONSERVATION": 58,
    "QUAL-CATTI-1": 59,
}


def test_items_9_to_59_are_numbered_in_the_catalogues_order() -> None:
    by_code = {t["code"]: t for t in TYPES}
    assert {code: by_code[code]["national_item"] for code in ITEM_ORDER} == ITEM_ORDER
    assert sorted(ITEM_ORDER.values()) == list(range(9, 60))
    licensing = [t["national_item"] for t in _active("qualification") if t["category"] == "licensing"]
    assert max(licensing) == 33  # ... and every level-evaluation item after it
    assert (
        min(t["national_item"] for t in _active("qualification") if t["category"] == "level-evaluation") == 34
    )


#: The 23 skilled-worker sub-items the two lists name, in their order, each with the seed
#: entry that carries it (a sub-item of a transport item is that entry's specialty).
SKILLED_SUB_ITEMS = (
    ("民用核安全设备焊工、焊接操作工", "SKILLQ-WELDER"),
    ("国防科技工业军用核安全设备焊接人员", "SKILLQ-WELDER"),
    ("保安员", "SKILLQ-SECURITY-GUARD"),
    ("民航安全检查员", "SKILLQ-AVIATION-SECURITY-SCREENER"),
    ("消防员", "SKILLQ-FIREFIGHTER"),
    ("森林消防员", "SKILLQ-FOREST-FIREFIGHTER"),
    ("应急救援员", "SKILLQ-EMERGENCY-RESCUER"),
    ("消防设施操作员", "SKILLQ-FIRE-FACILITY-OPERATOR"),
    ("游泳救生员", "SKILLQ-LIFEGUARD"),
    ("社会体育指导员", "SKILLQ-SOCIAL-SPORTS-INSTRUCTOR"),
    ("民航乘务员", "SKILLQ-FLIGHT-ATTENDANT"),
    ("机场运行指挥员", "SKILLQ-AIRPORT-OPERATIONS"),
    ("轨道列车司机", "SKILLQ-TRAIN-DRIVER"),
    ("危险货物道路运输从业人员", "SKILLQ-DANGEROUS-GOODS-TRANSPORT"),
    ("放射性物品道路运输从业人员", "SKILLQ-DANGEROUS-GOODS-TRANSPORT"),
    ("危险货物水路运输从业人员", "SKILLQ-DANGEROUS-GOODS-TRANSPORT"),
    ("经营性客运驾驶员", "SKILLQ-ROAD-TRANSPORT"),
    ("经营性货运驾驶员", "SKILLQ-ROAD-TRANSPORT"),
    ("出租汽车驾驶员", "SKILLQ-ROAD-TRANSPORT"),
    ("特种作业人员", "SKILLQ-SPECIAL-OPERATIONS"),
    ("建筑施工特种作业人员", "SKILLQ-CONSTRUCTION-SPECIAL-OPERATIONS"),
    ("特种设备安全管理和作业人员", "SKILLQ-SPECIAL-EQUIPMENT-OPERATOR"),
    ("家畜繁殖员", "SKILLQ-LIVESTOCK-BREEDER"),
)


def test_every_skilled_worker_sub_item_has_an_entry_in_the_lists_order() -> None:
    """Every skilled-worker sub-item the lists name can be issued (an entry of its own, or
    its item's entry with the sub-item as specialty), and the items are numbered in the
    lists' order; the seed's sources say the grouping into 13 is not confirmed."""
    by_code = {t["code"]: t for t in TYPES}
    entries = [by_code[code] for _, code in SKILLED_SUB_ITEMS]
    assert all(t["retired"] is None and t["kind"] == "skill" and t["has_specialty"] for t in entries)
    items = [t["national_item"] for t in entries]
    assert items == sorted(items)
    assert set(items) == set(range(1, 14))
    for name, code in SKILLED_SUB_ITEMS:
        entry = by_code[code]
        assert name in entry["name_zh"] or code in (
            "SKILLQ-WELDER",
            "SKILLQ-DANGEROUS-GOODS-TRANSPORT",
            "SKILLQ-ROAD-TRANSPORT",
        ), (name, code)
    # The nuclear welders are certified by the nuclear safety regulators, not by HR departments.
    assert "国家核安全局" in by_code["SKILLQ-WELDER"]["awarding_body_zh"]
    assert "国家国防科技工业局" in by_code["SKILLQ-WELDER"]["awarding_body_zh"]
    sources = " ".join(s["covers"] for s in SEED["sources"])
    assert "NOT confirmed" in sources
    assert "保安员" in sources


def test_sub_items_share_their_item() -> None:
    by_code = {t["code"]: t for t in TYPES}
    # 职业病诊断医师 is a sub-item of 医生资格 (2021), not an item of its own.
    physician = by_code["QUAL-PHYSICIAN"]["national_item"]
    assert by_code["QUAL-OCCUPATIONAL-DISEASE-PHYSICIAN"]["national_item"] == physician
    assert by_code["QUAL-CIVIL-AVIATION-PERSONNEL"]["category"] == "licensing"


def test_every_series_in_force_is_there_with_valid_levels() -> None:
    titles = _active("title")
    assert {t["series_zh"] for t in titles} == REQUIRED_SERIES
    assert "农业" not in {t["series_zh"] for t in TYPES}
    series = {s["code"]: s for s in SEED["series"]}
    assert {s["zh"] for s in series.values()} == REQUIRED_SERIES
    for t in titles:
        zh, en = catalogue.TITLE_LEVEL_NAMES[t["level_code"]]
        assert (t["level_zh"], t["level_en"]) == (zh, en), t["code"]
        assert t["level_code"] in series[t["series_code"]]["levels"], t["code"]
        assert t["category"] is None
        assert t["national_item"] is None
    # Each series has an intermediate and both senior levels; 初级 is 助理级 and/or 员级.
    for code, s in series.items():
        levels = {t["level_code"] for t in titles if t["series_code"] == code}
        assert {"FULL_SENIOR", "ASSOCIATE_SENIOR", "INTERMEDIATE"} <= levels, code
        assert levels & {"ASSISTANT", "TECHNICIAN"}, code
        assert levels == set(s["levels"]), code


def test_health_technology_has_its_four_tracks() -> None:
    names = {t["name_zh"] for t in _active("title") if t["series_code"] == "HEALTH"}
    assert {"医士", "医师", "主治医师", "副主任医师", "主任医师"} <= names
    assert {"护士", "护师", "主管护师", "副主任护师", "主任护师"} <= names
    assert {"药士", "药师", "主管药师", "副主任药师", "主任药师"} <= names
    assert {"技士", "技师", "主管技师", "副主任技师", "主任技师"} <= names
    by_code = {t["code"]: t for t in TYPES}
    assert by_code["HEALTH-NURSING-INTERMEDIATE"]["name_zh"] == "主管护师"


def test_codes_and_english_names_are_unique() -> None:
    codes = Counter(t["code"] for t in TYPES)
    assert [c for c, n in codes.items() if n > 1] == []
    english = Counter(t["name_en"].casefold() for t in TYPES)
    assert [n for n, k in english.items() if k > 1] == []
    # (series, Chinese name) too: the same Chinese name in two series is told apart by its series.
    pairs = Counter((t["series_code"], t["name_zh"]) for t in TYPES)
    assert [p for p, n in pairs.items() if n > 1] == []


def test_names_found_wrong_are_corrected() -> None:
    by_code = {t["code"]: t for t in TYPES}
    assert by_code["AGRI-INTERMEDIATE"]["series_zh"] == "农业技术"
    assert by_code["AGRI-INTERMEDIATE"]["series_en"] == "Agricultural technology"
    assert by_code["QUAL-CONSTRUCTOR-1"]["name_zh"] == "一级建造师"
    assert by_code["QUAL-CONSTRUCTOR-2"]["name_zh"] == "二级建造师"
    assert by_code["ENG-TECHNICIAN"]["name_en"] != by_code["SKILL-LEVEL-2"]["name_en"]
    assert by_code["SKILL-LEVEL-2"]["name_zh"] == "技师"
    # 社会工作 is a level-evaluation qualification, not a title series.
    assert all(t["retired"] for t in TYPES if t["series_code"] == "SOCIAL_WORK")
    assert by_code["QUAL-SOCIAL-WORKER"]["category"] == "level-evaluation"


def test_skill_levels_are_their_own_kind() -> None:
    levels = [t for t in TYPES if t["series_code"] == "SKILL"]
    assert [t["code"] for t in levels] == [f"SKILL-LEVEL-{n}" for n in range(1, 6)]
    assert all(t["kind"] == "skill" and t["national_item"] is None for t in levels)
    assert not any(t["kind"] == "qualification" for t in levels)


def test_every_seed_entry_passes_the_rules_admins_are_held_to() -> None:
    assert len(catalogue.seed_types()) == len(TYPES)
    codes_in_docs = {"ENG-ASSOCIATE_SENIOR", "ENG-INTERMEDIATE", "RES-FULL_SENIOR", "HED-ASSOCIATE_SENIOR"}
    assert codes_in_docs <= {t["code"] for t in _active("title")}


# --- issuance against the catalogue ---


def test_a_qualification_credential_names_its_awarding_body_apart_from_the_node(
    client: TestClient, actors: Actors
) -> None:
    response = client.post(
        "/v1/credentials",
        json=issue_row(typeCode="QUAL-CONSTRUCTOR-1", specialty="建筑工程"),
        headers=actors.officer(),
    )
    assert response.status_code == 201, response.text
    vc = response.json()["verifiableCredential"]
    subject = vc["credentialSubject"]
    assert subject["awardingBody"]["zh"].startswith("住房和城乡建设部")
    assert subject["awardingBody"]["en"].startswith("Ministry of Housing")
    assert vc["issuer"]["id"] == node_of(client).did
    assert schemas.schema_errors("professional-qualification", vc) == []
    title = client.post("/v1/credentials", json=issue_row(idNumber=resident_id(3)), headers=actors.officer())
    assert "awardingBody" not in title.json()["verifiableCredential"]["credentialSubject"]


def test_specialty_is_required_only_where_the_type_has_specialties(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    row = issue_row(typeCode="QUAL-LEGAL")
    del row["specialty"]
    response = client.post("/v1/credentials", json=row, headers=officer)
    assert response.status_code == 201, response.text
    vc = response.json()["verifiableCredential"]
    assert "specialty" not in vc["credentialSubject"]
    assert schemas.schema_errors("professional-qualification", vc) == []
    with node_of(client).db.session(write=False) as session:
        assert session.exec(select(Credential.specialty)).one() is None
    # A specialty on a type without specialties, none on a type with them: row errors.
    problem = assert_problem(
        client.post(
            "/v1/credentials", json=issue_row(typeCode="QUAL-CPA", idNumber=resident_id(4)), headers=officer
        ),
        422,
    )
    assert [e["field"] for e in problem["errors"]] == ["specialty"]
    row = issue_row(idNumber=resident_id(5))
    del row["specialty"]
    problem = assert_problem(client.post("/v1/credentials", json=row, headers=officer), 422)
    assert [e["field"] for e in problem["errors"]] == ["specialty"]
    assert count(client, Credential) == 1


# --- admins correct and retire entries ---


def test_an_admin_corrects_an_entry_with_validated_levels_and_it_is_audited(
    client: TestClient, actors: Actors
) -> None:
    admin = actors.admin()
    response = client.patch(
        "/v1/catalogue/ECON-INTERMEDIATE",
        json={"name_en": "Economist (intermediate)", "reason": "英文名称更正"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert response.json()["name_en"] == "Economist (intermediate)"
    assert client.get("/v1/catalogue/ECON-INTERMEDIATE").json()["name_en"] == "Economist (intermediate)"
    with node_of(client).db.session(write=False) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "catalogue.correct")).one()
    assert event.target_id == "ECON-INTERMEDIATE"
    assert event.reason == "英文名称更正"
    assert json.loads(event.detail or "{}")["changes"]["name_en"] == ["Economist", "Economist (intermediate)"]
    # Levels are checked: a level the series does not have, a level named otherwise.
    problem = assert_problem(
        client.patch(
            "/v1/catalogue/ECON-INTERMEDIATE",
            json={"level_code": "TECHNICIAN", "level_zh": "员级", "level_en": "Technician", "reason": "x"},
            headers=admin,
        ),
        422,
    )
    assert "ECON" in json.dumps(problem["errors"], ensure_ascii=False)
    assert_problem(
        client.patch(
            "/v1/catalogue/ECON-INTERMEDIATE", json={"level_zh": "高级", "reason": "x"}, headers=admin
        ),
        422,
    )
    # A qualification keeps an awarding body in both languages.
    assert_problem(
        client.patch("/v1/catalogue/QUAL-CPA", json={"awarding_body_en": None, "reason": "x"}, headers=admin),
        422,
    )
    # Code and kind are stable; only admins correct.
    assert_problem(
        client.patch("/v1/catalogue/QUAL-CPA", json={"kind": "title", "reason": "x"}, headers=admin), 422
    )
    assert_problem(
        client.patch(
            "/v1/catalogue/QUAL-CPA", json={"name_en": "X", "reason": "x"}, headers=actors.officer()
        ),
        403,
    )
    assert_problem(client.patch("/v1/catalogue/NO-SUCH", json={"reason": "x"}, headers=admin), 404)


def test_a_retired_type_is_not_issued_and_its_credentials_still_verify(
    client: TestClient, actors: Actors
) -> None:
    officer, admin, hr = actors.officer(), actors.admin(), actors.hr()
    issued = client.post("/v1/credentials", json=issue_row(), headers=officer)
    assert issued.status_code == 201, issued.text
    vc = issued.json()["verifiableCredential"]
    retired = client.post(
        "/v1/catalogue/ENG-ASSOCIATE_SENIOR/retire", json={"reason": "测试：停止签发"}, headers=admin
    )
    assert retired.status_code == 200, retired.text
    assert retired.json()["active"] is False
    assert retired.json()["retired_reason"] == "测试：停止签发"
    problem = assert_problem(
        client.post("/v1/credentials", json=issue_row(idNumber=resident_id(8)), headers=officer), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["typeCode"]
    report = client.post("/v1/verifications", json={"credential": vc}, headers=hr).json()
    assert report["verdict"] == "valid", report
    assert_problem(
        client.post("/v1/catalogue/ENG-ASSOCIATE_SENIOR/retire", json={"reason": "x"}, headers=admin), 409
    )
    back = client.post("/v1/catalogue/ENG-ASSOCIATE_SENIOR/reinstate", json={"reason": "恢复"}, headers=admin)
    assert back.status_code == 200
    assert back.json()["active"] is True
    again = client.post("/v1/credentials", json=issue_row(idNumber=resident_id(8)), headers=officer)
    assert again.status_code == 201, again.text
    with node_of(client).db.session(write=False) as session:
        actions = session.exec(
            select(AuditEvent.action).where(AuditEvent.target_type == "credential_type")
        ).all()
    assert sorted(actions) == ["catalogue.reinstate", "catalogue.retire"]


def test_a_type_credentials_use_is_never_deleted(client: TestClient, actors: Actors) -> None:
    officer, admin = actors.officer(), actors.admin()
    assert client.post("/v1/credentials", json=issue_row(), headers=officer).status_code == 201
    problem = assert_problem(client.delete("/v1/catalogue/ENG-ASSOCIATE_SENIOR", headers=admin), 409)
    assert "retire" in problem["detail"]
    # An entry of the national lists is retired, not deleted, even unused.
    assert_problem(client.delete("/v1/catalogue/QUAL-ACTUARY", headers=admin), 409)
    before = count(client, CredentialType)
    added = client.post(
        "/v1/catalogue",
        json={
            "code": "ENG-MISTAKE",
            "kind": "title",
            "series_code": "ENG",
            "series_zh": "工程技术",
            "series_en": "Engineering",
            "level_code": "INTERMEDIATE",
            "level_zh": "中级",
            "level_en": "Intermediate",
            "name_zh": "误加的工程师",
            "name_en": "Engineer added by mistake",
        },
        headers=admin,
    )
    assert added.status_code == 201, added.text
    assert client.delete("/v1/catalogue/ENG-MISTAKE", headers=admin).status_code == 204
    assert count(client, CredentialType) == before
    assert_problem(client.delete("/v1/catalogue/ENG-MISTAKE", headers=admin), 404)


def test_adding_a_title_checks_its_levels(client: TestClient, actors: Actors) -> None:
    body = {
        "code": "ENG-BAD_LEVEL",
        "kind": "title",
        "series_code": "ENG",
        "series_zh": "工程技术",
        "series_en": "Engineering",
        "level_code": "INTERMEDIATE",
        "level_zh": "中级职称",
        "level_en": "Intermediate",
        "name_zh": "工程师乙",
        "name_en": "Engineer B",
    }
    assert_problem(client.post("/v1/catalogue", json=body, headers=actors.admin()), 422)


# --- a node seeded before brought up to the seed ---


def test_a_node_seeded_with_the_old_catalogue_is_corrected_on_upgrade(
    tmp_path: Path, clock: MutableClock
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database.from_url(url)
    try:
        prepare_database(node_settings(tmp_path, url), db, lambda: NOW)
        with db.session() as session:
            # As the first seed wrote them: 农业, 一级注册建造师, no awarding body, no version.
            for row in session.exec(select(CredentialType)).all():
                row.seed_version = None
                row.awarding_body_zh = row.awarding_body_en = None
                if row.series_code == "AGRI":
                    row.series_zh, row.series_en = "农业", "Agriculture"
                if row.code == "QUAL-CONSTRUCTOR-1":
                    row.name_zh = "一级注册建造师"
                if row.code == "ECON-INTERMEDIATE":  # corrected by an admin since
                    row.name_en, row.updated_at = "Economist (local name)", NOW
                session.add(row)
            session.delete(session.get(CredentialType, "QUAL-ACTUARY"))
        later = NOW + timedelta(days=1)
        prepare_database(node_settings(tmp_path, url), db, lambda: later)
        with db.session(write=False) as session:
            rows = {r.code: r for r in session.exec(select(CredentialType)).all()}
        assert rows["AGRI-FULL_SENIOR"].series_zh == "农业技术"
        assert rows["QUAL-CONSTRUCTOR-1"].name_zh == "一级建造师"
        assert rows["QUAL-CONSTRUCTOR-1"].awarding_body_zh
        assert rows["QUAL-ACTUARY"].created_at == later
        assert rows["ECON-INTERMEDIATE"].name_en == "Economist (local name)"  # the admin's stands
        assert all(r.seed_version == catalogue.seed_version() for r in rows.values())
        assert not rows["SOCIAL_WORK-INTERMEDIATE"].active
        # Once per seed version: starting again changes nothing.
        with db.session() as session:
            assert catalogue.seed(session, later) == 0
    finally:
        db.dispose()
