"""/health says the process is alive; /ready says the install can do its work: the database
answers a query, Redis answers when configured, a worker was seen lately and the queue keeps
up. 503 names the check that failed, in plain words."""

import socket
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from conversa import health
from conversa.engine import liveness
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob, MessageIntent


@pytest.fixture
def worker_seen(db):
    liveness.beat("test-host:1:abc123")


def ready() -> tuple[int, dict]:
    answer = Client().get("/ready")
    return answer.status_code, answer.json()


def a_job(org, *, waiting: timedelta) -> ExecutionJob:
    """A job a worker could have run `waiting` ago."""
    contact = org.conversation().contact
    intent, _ = engine.create_intent(
        org.org,
        contact=contact,
        body="Olá",
        origin=MessageIntent.Origin.API,
        idempotency_key=f"ready-{contact.pk}-{waiting.total_seconds()}",
    )
    ExecutionJob.objects.filter(intent=intent).update(run_after=timezone.now() - waiting)
    return ExecutionJob.objects.get(intent=intent)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_health_answers_without_the_database():
    # No `db` fixture: a query here would fail the test.
    answer = Client().get("/health")

    assert answer.status_code == 200
    assert answer.json() == {"ok": True}


def test_ready_when_everything_is_up(org, worker_seen, settings):
    a_job(org, waiting=timedelta(seconds=5))

    status, body = ready()

    assert status == 200
    assert body["ready"] is True
    assert body["failed"] == []
    expected = ["database", *(["redis"] if settings.REDIS_URL else []), "worker", "queue"]
    assert list(body["checks"]) == expected
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["worker"]["reason"].startswith("A worker was seen")


def test_not_ready_when_the_database_does_not_answer(worker_seen, monkeypatch, tmp_path):
    default = connections["default"]
    params = {**default.settings_dict}
    if default.vendor == "sqlite":
        params["NAME"] = str(tmp_path / "no-such-folder" / "conversa.sqlite3")
    else:
        params.update(HOST="127.0.0.1", PORT=str(closed_port()), OPTIONS={"connect_timeout": 2})
    unreachable = type(default)(params, alias="unreachable")
    monkeypatch.setattr(health, "database_connection", lambda: unreachable)

    try:
        status, body = ready()
    finally:
        unreachable.close()

    assert status == 503
    assert body["ready"] is False
    assert body["failed"] == ["database", "worker", "queue"]
    reason = body["checks"]["database"]["reason"]
    assert reason == "The database did not answer (OperationalError)."
    assert body["checks"]["worker"]["reason"] == "Not checked: the database did not answer."
    assert str(tmp_path) not in str(body) and "127.0.0.1" not in str(body)


def test_not_ready_when_redis_is_configured_but_down(worker_seen, settings):
    settings.REDIS_URL = f"redis://:secret-password@127.0.0.1:{closed_port()}/0"

    status, body = ready()

    assert status == 503
    assert body["failed"] == ["redis"]
    assert body["checks"]["redis"] == {
        "ok": False,
        "reason": "Redis did not answer (ConnectionError).",
    }
    assert "secret-password" not in str(body)
    assert body["checks"]["database"]["ok"] is True


def test_no_redis_check_without_redis(worker_seen, settings):
    settings.REDIS_URL = ""

    status, body = ready()

    assert status == 200
    assert "redis" not in body["checks"]


def test_not_ready_when_no_worker_was_ever_seen(db):
    status, body = ready()

    assert status == 503
    assert body["failed"] == ["worker"]
    assert body["checks"]["worker"]["reason"] == (
        "No worker has been seen: start `conversa worker`."
    )


def test_not_ready_when_the_last_heartbeat_is_too_old(db, settings):
    settings.READY_WORKER_MAX_AGE_SECONDS = 60
    liveness.beat("gone:1:abc", now=timezone.now() - timedelta(seconds=90))

    status, body = ready()

    assert status == 503
    assert body["failed"] == ["worker"]
    assert body["checks"]["worker"]["reason"].startswith("No worker seen for 9")
    assert body["checks"]["worker"]["reason"].endswith("(more than 60 s).")


def test_not_ready_when_a_runnable_job_waits_too_long(org, worker_seen, settings):
    settings.READY_QUEUE_LAG_SECONDS = 300
    a_job(org, waiting=timedelta(seconds=400))

    status, body = ready()

    assert status == 503
    assert body["failed"] == ["queue"]
    assert body["checks"]["queue"]["reason"].startswith("The oldest runnable job has waited 4")
    assert body["checks"]["queue"]["reason"].endswith("(more than 300 s).")


def test_a_job_scheduled_for_later_is_not_lag(org, worker_seen, settings):
    settings.READY_QUEUE_LAG_SECONDS = 300
    a_job(org, waiting=-timedelta(hours=2))

    status, body = ready()

    assert status == 200
    assert body["checks"]["queue"]["reason"] == "The oldest runnable job has waited 0 s."


def test_ready_reads_every_organization_for_a_signed_in_member(org, other_org, worker_seen):
    a_job(other_org, waiting=timedelta(seconds=400))

    answer = org.client().get("/ready")

    assert answer.status_code == 503
    assert answer.json()["failed"] == ["queue"]
