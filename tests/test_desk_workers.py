"""Several workers, one database (issue 11 point 4, issue 12 points 4 and 5): what the desks
and the batch runner keep between requests is in the database, so a request that lands on
another worker than the one that started a job finds it. Two apps on one database stand
for two ``registry serve --workers 2`` processes (each has its own memory). A job whose
worker stopped says it was interrupted instead of running for ever."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from registry.app import create_app
from registry.node import NodeState
from registry.verifier import Verifier
from registry.web import jobs
from tests.conftest import CHEAP_PASSWORDS, Actors, MutableClock, node_settings, resident_id
from tests.test_web_desks import batch_csv, hr_session, officer_session, results_of, wait_done, zip_of
from tests.test_web_pages import csrf_of, issue, text_of


@pytest.fixture
def other_worker(tmp_path: Path, database_url: str, clock: MutableClock) -> Iterator[Any]:
    """A second app on the same database, with a memory of its own."""
    app = create_app(
        node_settings(tmp_path, database_url),
        clock,
        passwords=CHEAP_PASSWORDS,
        run_migrations=False,
        verifier=Verifier(workers=1),
    )
    yield app
    app.state.node.db.dispose()


def beside(client: TestClient, app: Any) -> TestClient:
    """A client of ``app`` with ``client``'s cookies (the same browser, another worker)."""
    other = TestClient(app)
    other.cookies.update(client.cookies)
    return other


def test_an_hr_job_started_on_one_worker_is_followed_on_another(
    client: TestClient, actors: Actors, other_worker: Any
) -> None:
    record = issue(client, actors.officer(), 401, "甲乙")
    hr_session(client, actors)
    archive = zip_of({"a.vc.json": json.dumps(record["verifiableCredential"], ensure_ascii=False).encode()})
    started = client.post(
        "/hr/jobs",
        data={"csrf_token": csrf_of(client.get("/hr").text)},
        files={"file": ("a.zip", archive, "application/zip")},
        follow_redirects=False,
    )
    assert started.status_code == 303, text_of(started.text)
    job = started.headers["location"]
    elsewhere = beside(client, other_worker)
    assert wait_done(elsewhere, f"{job}/progress")["processed"] == 1
    assert elsewhere.get(job).status_code == 200
    rows = results_of(elsewhere, job)
    assert rows[1][1] == "有效"
    assert job.rsplit("/", 1)[1] in elsewhere.get("/hr").text  # listed on the other worker's desk


def test_a_batch_checked_on_one_worker_is_issued_from_another(
    client: TestClient, actors: Actors, other_worker: Any
) -> None:
    officer_session(client, actors)
    home = client.get("/officer")
    checked = client.post(
        "/officer/batches",
        data={"csrf_token": csrf_of(home.text)},
        files={
            "file": (
                "eval-w.csv",
                batch_csv([("王甲", resident_id(402), "ENG-ASSOCIATE_SENIOR")]),
                "text/csv",
            )
        },
    )
    assert checked.status_code == 200, text_of(checked.text)
    action = re.search(r'action="(/officer/uploads/[^"]+/issue)"', checked.text)
    assert action
    elsewhere = beside(client, other_worker)
    started = elsewhere.post(
        action.group(1), data={"csrf_token": csrf_of(checked.text)}, follow_redirects=False
    )
    assert started.status_code == 303
    assert wait_done(elsewhere, "/officer/batches/eval-w/progress")["state"] == "done"
    assert wait_done(client, "/officer/batches/eval-w/progress")["state"] == "done"
    again = client.post(action.group(1), data={"csrf_token": csrf_of(checked.text)})
    assert again.status_code == 404  # taken once, by whichever worker


def test_a_running_batch_is_seen_and_not_claimed_twice_across_workers(app: Any, other_worker: Any) -> None:
    mine: NodeState = app.state.node
    theirs: NodeState = other_worker.state.node
    assert mine.batches.claim("b-1")
    assert not theirs.batches.claim("b-1")  # queued in the other worker
    mine.batches.update("b-1", state="running", processed=0, total=5000)
    assert theirs.batches.get("b-1") == {"state": "running", "processed": 0, "total": 5000}
    mine.batches.update("b-1", state="failed", detail="无效 invalid")
    assert theirs.batches.claim("b-1")  # a failed batch may be sent again


def test_a_job_whose_worker_stopped_says_it_was_interrupted(
    client: TestClient, actors: Actors, clock: MutableClock, other_worker: Any
) -> None:
    hr_session(client, actors)
    node: NodeState = client.app.state.node  # type: ignore[attr-defined]
    store = jobs.desk_state(node).jobs
    owner = hr_actor(node)
    job = store.add(owner, state="running", processed=3, total=10, name="x.zip")
    assert (store.snapshot(job.id, owner) or {})["state"] == "running"
    assert node.batches.claim("b-2")
    theirs: NodeState = other_worker.state.node
    clock.advance(seconds=jobs.STALE_SECONDS + 1)  # nothing changed for five minutes
    assert store.snapshot(job.id, owner) == {
        "state": "failed",
        "interrupted": True,
        "processed": 3,
        "total": 10,
        "name": "x.zip",
    }
    page = client.get(f"/hr/jobs/{job.id}")
    assert page.status_code == 200
    assert "核验任务已中断" in text_of(page.text)
    assert "本页会自动更新" not in text_of(page.text)
    seen = theirs.batches.get("b-2")
    assert seen is not None
    assert seen["state"] == "failed"
    assert "interrupted" in str(seen["detail"])
    assert theirs.batches.claim("b-2")  # another worker may run it again


def hr_actor(node: NodeState) -> str:
    with node.db.session(write=False) as session:
        row = session.exec(text("SELECT id FROM hr_client ORDER BY created_at DESC LIMIT 1")).first()  # type: ignore[call-overload]
    return f"hr_client:{row[0]}"
