"""Whether the engine is alive and keeping up: the workers' heartbeats, and how long the oldest
job that could run has waited. Read by /ready and at /metrics scrape time (conversa.health).

Every query here is global (a worker serves every organization) and rides an index: heartbeats
by `seen_at`, jobs by (status, run_after).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone

from conversa.engine.models import ExecutionJob, WorkerHeartbeat

S = ExecutionJob.Status
# Waiting for a worker, once `run_after` has come.
RUNNABLE = [S.PENDING, S.RETRY_WAIT]
# The statuses counted as the queue's depth: everything but a final success or refusal (SENT,
# FAILED grow for ever and are history, not queue). DEAD and UNCERTAIN wait for a person.
QUEUED = [S.PENDING, S.RETRY_WAIT, S.CLAIMED, S.SENDING, S.UNCERTAIN, S.DEAD]
# A heartbeat this old belongs to a worker that is gone for good: its row is deleted.
PRUNE_AFTER = timedelta(days=1)


def beat(worker_id: str, *, now: datetime | None = None) -> None:
    """Record that `worker_id` is alive now, and delete the rows of workers long gone."""
    now = now or timezone.now()
    # One thread of each worker beats, so its first beat creates the row unraced.
    if not WorkerHeartbeat.objects.filter(worker_id=worker_id).update(seen_at=now):
        WorkerHeartbeat.objects.create(worker_id=worker_id, started_at=now, seen_at=now)
    WorkerHeartbeat.objects.filter(seen_at__lt=now - PRUNE_AFTER).delete()


def forget(worker_id: str) -> None:
    """A worker that stopped cleanly is not alive any more."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def newest_heartbeat() -> datetime | None:
    """When any worker was last seen (None: never, or not for a day)."""
    return WorkerHeartbeat.objects.aggregate(newest=Max("seen_at"))["newest"]


def workers_alive(*, now: datetime | None = None) -> int:
    """Workers seen within `READY_WORKER_MAX_AGE_SECONDS`."""
    since = (now or timezone.now()) - timedelta(seconds=settings.READY_WORKER_MAX_AGE_SECONDS)
    return WorkerHeartbeat.objects.filter(seen_at__gte=since).count()


def oldest_runnable_age(*, now: datetime | None = None) -> float:
    """Seconds the oldest runnable job (PENDING or RETRY_WAIT whose `run_after` has come) has
    waited since it could run; 0 when none waits. A job scheduled for later is not late."""
    now = now or timezone.now()
    # One status at a time: each is the first entry of the (status, run_after) index, where
    # a MIN over both would read every runnable job's entry.
    firsts = [
        ExecutionJob.objects.filter(status=status, run_after__lte=now)
        .order_by("run_after")
        .values_list("run_after", flat=True)
        .first()
        for status in RUNNABLE
    ]
    oldest = min((first for first in firsts if first is not None), default=None)
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


def runnable_jobs(*, now: datetime | None = None) -> int:
    """Jobs a worker could take now."""
    now = now or timezone.now()
    return ExecutionJob.objects.filter(status__in=RUNNABLE, run_after__lte=now).count()


def queue_depth() -> dict[str, int]:
    """Jobs in each status of `QUEUED`, every status present (0 when none)."""
    counted = dict(
        ExecutionJob.objects.filter(status__in=QUEUED)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {str(status): counted.get(status, 0) for status in QUEUED}
