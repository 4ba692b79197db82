"""/health and /ready, and the figures Prometheus reads of the same things at scrape time.

- /health: the process is alive and answers; it touches nothing else (a liveness probe).
- /ready: every check passes: the database answers a query, Redis answers when configured, a
  worker was seen within READY_WORKER_MAX_AGE_SECONDS, and no runnable job has waited longer
  than READY_QUEUE_LAG_SECONDS. 200 when all pass, else 503; the JSON names each check with
  a reason in plain words (no address, no credential: those go to the log).

`ReadinessCollector` runs the same checks when /metrics is read, with the queue's depth: the
figures come from the database, so every process shows the same ones (docs/runbook.md).
"""

import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

from conversa.accounts import tenancy
from conversa.engine import liveness
from conversa.insights import aggregates

log = logging.getLogger(__name__)

# Seconds Redis has to answer a ping: a readiness probe must not hang on a dead server.
REDIS_TIMEOUT = 1.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str


def database_connection():
    """The connection the database check queries (a test points it at an unreachable one)."""
    return connections[DEFAULT_DB_ALIAS]


def check_database() -> Check:
    try:
        with database_connection().cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        log.warning("readiness: the database did not answer: %s", exc)
        return Check("database", False, f"The database did not answer ({type(exc).__name__}).")
    return Check("database", True, "The database answers.")


def check_redis() -> Check | None:
    """None when no Redis is configured (the embedded topology needs none)."""
    if not settings.REDIS_URL:
        return None
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
    )
    try:
        client.ping()
    except Exception as exc:
        log.warning("readiness: Redis did not answer: %s", exc)
        return Check("redis", False, f"Redis did not answer ({type(exc).__name__}).")
    finally:
        client.close()
    return Check("redis", True, "Redis answers.")


def check_worker(now) -> Check:
    newest = liveness.newest_heartbeat()
    limit = settings.READY_WORKER_MAX_AGE_SECONDS
    if newest is None:
        return Check("worker", False, "No worker has been seen: start `conversa worker`.")
    age = (now - newest).total_seconds()
    if age > limit:
        return Check("worker", False, f"No worker seen for {age:.0f} s (more than {limit:.0f} s).")
    return Check("worker", True, f"A worker was seen {max(age, 0):.0f} s ago.")


def check_queue(now) -> Check:
    age = liveness.oldest_runnable_age(now=now)
    limit = settings.READY_QUEUE_LAG_SECONDS
    if age > limit:
        return Check(
            "queue",
            False,
            f"The oldest runnable job has waited {age:.0f} s (more than {limit:.0f} s).",
        )
    return Check("queue", True, f"The oldest runnable job has waited {age:.0f} s.")


def readiness() -> list[Check]:
    """Every check, in order. The worker and queue checks read the database: when it does not
    answer they fail as not checked rather than time out a second time."""
    database = check_database()
    checks = [database]
    redis_check = check_redis()
    if redis_check:
        checks.append(redis_check)
    if not database.ok:
        unknown = "Not checked: the database did not answer."
        return [*checks, Check("worker", False, unknown), Check("queue", False, unknown)]
    now = timezone.now()
    # Global figures: never narrowed to the organization of whoever asks.
    with tenancy.working_for(None):
        for check in (check_worker, check_queue):
            try:
                checks.append(check(now))
            except Exception as exc:
                log.warning("readiness: the %s check failed: %s", check.__name__, exc)
                name = check.__name__.removeprefix("check_")
                reason = f"The check could not run ({type(exc).__name__})."
                checks.append(Check(name, False, reason))
    return checks


def health(request):
    """The process is alive (no database, no Redis: a probe that restarts a process must not
    restart it for someone else's outage)."""
    return JsonResponse({"ok": True})


@never_cache
def ready(request):
    """200 when every check passes, else 503 naming the ones that failed."""
    checks = readiness()
    failed = [check.name for check in checks if not check.ok]
    body = {
        "ready": not failed,
        "failed": failed,
        "checks": {check.name: {"ok": check.ok, "reason": check.reason} for check in checks},
    }
    return JsonResponse(body, status=503 if failed else 200)


class ReadinessCollector:
    """What the database says of the engine, computed at each scrape: the readiness checks,
    the queue's depth by status, the runnable jobs and the oldest one's wait, the workers
    alive and the newest heartbeat's age. A figure the database cannot give is left out of
    that scrape (the `conversa_ready` series say why)."""

    def describe(self):
        # Nothing up front: prometheus_client would otherwise call `collect` (the database,
        # Redis) when this is registered, at import.
        return []

    def collect(self):
        checks = readiness()
        ready = GaugeMetricFamily(
            "conversa_ready", "1 when the readiness check passes, else 0", labels=["check"]
        )
        for check in checks:
            ready.add_metric([check.name], 1.0 if check.ok else 0.0)
        yield ready
        if not checks[0].ok:
            return
        try:
            yield from self.engine_figures()
        except Exception as exc:
            log.warning("metrics: the engine's figures could not be read: %s", exc)

    def engine_figures(self):
        now = timezone.now()
        with tenancy.working_for(None):
            depth = liveness.queue_depth()
            runnable = liveness.runnable_jobs(now=now)
            oldest = liveness.oldest_runnable_age(now=now)
            alive = liveness.workers_alive(now=now)
            newest = liveness.newest_heartbeat()
            insights_lag = aggregates.lag_seconds(now)
        jobs = GaugeMetricFamily(
            "conversa_queue_jobs",
            "Jobs in each status that is not final (DEAD and UNCERTAIN wait for a person)",
            labels=["status"],
        )
        for status, count in depth.items():
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "conversa_queue_runnable_jobs", "Jobs a worker could take now", value=runnable
        )
        yield GaugeMetricFamily(
            "conversa_queue_oldest_runnable_age_seconds",
            "How long the oldest runnable job has waited since it could run (0: none waits)",
            value=oldest,
        )
        yield GaugeMetricFamily(
            "conversa_workers_alive",
            "Workers whose heartbeat is within READY_WORKER_MAX_AGE_SECONDS",
            value=alive,
        )
        yield GaugeMetricFamily(
            "conversa_insights_aggregate_lag_seconds",
            "Age of the oldest Insights delta the workers have not folded yet (0: none)",
            value=insights_lag,
        )
        if newest is not None:
            yield GaugeMetricFamily(
                "conversa_worker_heartbeat_age_seconds",
                "Seconds since any worker was last seen",
                value=max((now - newest).total_seconds(), 0.0),
            )


REGISTRY.register(ReadinessCollector())
