"""What /metrics shows of health: request latency labelled by the URL pattern's name (never the
path), the queue's depth and lag and the workers alive (read from the database at scrape time),
webhook lag, sign-in failures. Counters are the process's own: each test reads a change."""

import asyncio
import json
import re
import time
from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from conversa.asgi import application
from conversa.engine import liveness
from conversa.engine.models import ExecutionJob, WorkerHeartbeat
from conversa.providers.evolution import SECRET_HEADER
from tests.accounts.test_mfa import enroll, sign_in
from tests.conftest import post_webhook
from tests.inbox.test_inbound import upsert
from tests.test_ready import a_job


def scrape() -> dict[str, list]:
    """Every sample of /metrics, by family name."""
    text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def known_routes(patterns=None, prefix: str = "", namespace: str = "") -> set[str]:
    """Every view name (namespaced as resolver matches name them) and every full route
    pattern of the URLconf, and the fixed labels."""
    found = {"unmatched", "webhook"}
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found |= known_routes(entry.url_patterns, route, inner)
            continue
        found.add(route)
        if entry.name:
            found.add(f"{namespace}{entry.name}")
    return found


def route_counts() -> dict[str, float]:
    counts: dict[str, float] = {}
    for s in scrape()["conversa_http_request_duration_seconds"]:
        if s.name.endswith("_count") and "route" in s.labels:
            counts[s.labels["route"]] = counts.get(s.labels["route"], 0) + s.value
    return counts


def test_request_latency_is_labelled_by_route_name(org):
    client = org.client()
    conversation = org.conversation()
    labels_before = route_counts()
    before = sample(
        "conversa_http_request_duration_seconds_count",
        route="conversation",
        method="GET",
        status="2xx",
    )

    assert client.get(f"/inbox/c/{conversation.pk}/").status_code == 200
    assert client.get("/no/such/page/12345").status_code == 404

    after = sample(
        "conversa_http_request_duration_seconds_count",
        route="conversation",
        method="GET",
        status="2xx",
    )
    assert after == before + 1
    assert sample(
        "conversa_http_request_duration_seconds_count",
        route="unmatched",
        method="GET",
        status="4xx",
    )
    # The labels these requests counted under (other tests may have run their own URLconfs):
    # names and patterns of the URLconf only, no path, no id.
    routes = {
        route for route, count in route_counts().items() if count > labels_before.get(route, 0)
    }
    assert {"conversation", "unmatched"} <= routes
    known = known_routes()
    assert not [route for route in routes if route not in known]
    assert not [route for route in routes if re.search(r"\d{3,}", route)]


def test_unnamed_patterns_are_labelled_by_their_pattern(db):
    Client().get("/instances/")

    assert sample(
        "conversa_http_request_duration_seconds_count",
        route="instances/",
        method="GET",
        status="3xx",
    )


def test_an_odd_method_is_other(db):
    Client().generic("BREW", "/health")

    assert sample(
        "conversa_http_request_duration_seconds_count", route="health", method="other", status="2xx"
    )


@pytest.mark.django_db(transaction=True)
def test_webhooks_through_the_front_door_are_the_webhook_route(org):
    before = sample(
        "conversa_http_request_duration_seconds_count", route="webhook", method="POST", status="2xx"
    )

    async def post():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            answer = await c.post(
                f"/webhooks/sandbox/{org.number.webhook_key}",
                content=json.dumps(upsert("3EB0FRONT")),
                headers={"content-type": "application/json", **webhook_secret(org)},
            )
            return answer.status_code

    assert asyncio.run(post()) == 200
    after = sample(
        "conversa_http_request_duration_seconds_count", route="webhook", method="POST", status="2xx"
    )
    assert after == before + 1


def webhook_secret(org) -> dict:
    return {SECRET_HEADER: org.number.webhook_secret}


def test_queue_figures_come_from_the_database(org):
    liveness.beat("metrics:1:abc")
    a_job(org, waiting=timedelta(seconds=400))
    a_job(org, waiting=-timedelta(hours=1))

    families = scrape()

    depth = {s.labels["status"]: s.value for s in families["conversa_queue_jobs"]}
    assert depth == {
        "pending": 2.0,
        "retry_wait": 0.0,
        "claimed": 0.0,
        "sending": 0.0,
        "uncertain": 0.0,
        "dead": 0.0,
    }
    assert families["conversa_queue_runnable_jobs"][0].value == 1.0
    assert 400 <= families["conversa_queue_oldest_runnable_age_seconds"][0].value < 3600
    assert families["conversa_workers_alive"][0].value == 1.0
    assert families["conversa_worker_heartbeat_age_seconds"][0].value < 60
    ready = {s.labels["check"]: s.value for s in families["conversa_ready"]}
    assert ready["database"] == 1.0 and ready["worker"] == 1.0 and ready["queue"] == 0.0


def test_no_worker_shows_as_none_alive(db):
    families = scrape()

    assert families["conversa_workers_alive"][0].value == 0.0
    assert "conversa_worker_heartbeat_age_seconds" not in families
    assert {s.labels["check"]: s.value for s in families["conversa_ready"]}["worker"] == 0.0
    assert families["conversa_queue_oldest_runnable_age_seconds"][0].value == 0.0


def test_webhook_lag_is_measured_from_the_event_time(client, org):
    before = sample("conversa_webhook_lag_seconds_count", provider="sandbox")
    before_sum = sample("conversa_webhook_lag_seconds_sum", provider="sandbox")
    payload = upsert("3EB0LAG")
    payload["data"]["messageTimestamp"] = int(time.time()) - 40

    assert post_webhook(client, org.number, payload).status_code == 200
    # The same message again: stored once, measured once.
    assert post_webhook(client, org.number, payload).status_code == 200

    assert sample("conversa_webhook_lag_seconds_count", provider="sandbox") == before + 1
    lag = sample("conversa_webhook_lag_seconds_sum", provider="sandbox") - before_sum
    assert 39 <= lag < 600


def test_events_without_a_time_of_their_own_are_not_measured(client, org):
    before = sample("conversa_webhook_lag_seconds_count", provider="sandbox")
    status = {
        "event": "messages.update",
        "instance": "x",
        "data": {"keyId": "3EB0NOPE", "remoteJid": "5511988887777@s.whatsapp.net", "status": 3},
    }

    assert post_webhook(client, org.number, status).status_code == 200

    assert sample("conversa_webhook_lag_seconds_count", provider="sandbox") == before


def test_failed_sign_ins_are_counted_by_reason(org, settings):
    settings.LOGIN_RATE_LIMIT_ACCOUNT = "2/minute"
    email = org.owner.user.username
    before = {
        reason: sample("conversa_login_failures_total", reason=reason)
        for reason in ("password", "throttled")
    }
    client = Client()

    for _ in range(3):
        client.post("/login/", {"username": email, "password": "wrong password"})

    assert sample("conversa_login_failures_total", reason="password") == before["password"] + 2
    assert sample("conversa_login_failures_total", reason="throttled") == before["throttled"] + 1


def test_a_job_gone_dead_counts_in_the_depth(org):
    job = a_job(org, waiting=timedelta(0))
    ExecutionJob.objects.filter(pk=job.pk).update(status=ExecutionJob.Status.DEAD)

    depth = {s.labels["status"]: s.value for s in scrape()["conversa_queue_jobs"]}

    assert depth["dead"] == 1.0 and depth["pending"] == 0.0


def test_heartbeats_age_and_prune(db):
    now = timezone.now()
    liveness.beat("old:1:a", now=now - timedelta(days=2))
    liveness.beat("recent:1:b", now=now - timedelta(minutes=10))
    liveness.beat("now:1:c", now=now)

    assert liveness.newest_heartbeat() == now
    assert liveness.workers_alive(now=now) == 1
    # The first is gone: a worker not seen for a day is not coming back.
    assert sorted(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == [
        "now:1:c",
        "recent:1:b",
    ]


def test_a_wrong_second_step_code_is_counted(org):
    enroll(org)
    client, _ = sign_in(org.owner)
    before = sample("conversa_login_failures_total", reason="second_factor")

    assert client.post("/login/verify", {"code": "000000"}).status_code == 422

    assert sample("conversa_login_failures_total", reason="second_factor") == before + 1
