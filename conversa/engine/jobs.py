"""Every ExecutionJob transition, and the only code that changes a job's status.

Each transition is a conditional UPDATE on the expected current status, so two processes
racing on one job cannot both win: the loser sees 0 rows and gets InvalidTransition.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from conversa.engine import metrics
from conversa.engine.models import ExecutionJob
from conversa.errors import InvalidTransition

S = ExecutionJob.Status

ALLOWED: dict[str, set[str]] = {
    S.PENDING: {S.CLAIMED, S.FAILED},
    S.CLAIMED: {S.SENDING, S.PENDING, S.FAILED},
    S.SENDING: {S.SENT, S.RETRY_WAIT, S.FAILED, S.DEAD, S.UNCERTAIN},
    S.RETRY_WAIT: {S.CLAIMED, S.FAILED},
    S.UNCERTAIN: {S.SENT, S.PENDING, S.FAILED},
    S.SENT: set(),
    S.FAILED: set(),
    S.DEAD: set(),
}


def transition(job: ExecutionJob, to: str, **fields) -> ExecutionJob:
    """Move `job` from its current status to `to`, or raise InvalidTransition."""
    if not transition_many([job], to, **fields):
        raise InvalidTransition(f"job {job.pk} is no longer {job.status}")
    return job


def transition_many(batch: list[ExecutionJob], to: str, **fields) -> list[ExecutionJob]:
    """Move each job of `batch` from its current status to `to`: one UPDATE per current status.

    Returns the jobs that moved; a job someone else moved first (the reaper, a person) is
    left out, unchanged. A transition the state machine does not allow raises
    InvalidTransition before anything is written. Field values may be expressions (F, Case):
    those are written but not copied onto the objects.
    """
    for job in batch:
        if to not in ALLOWED[job.status]:
            raise InvalidTransition(f"job {job.pk}: {job.status} → {to} is not a valid transition")
    fields["updated_at"] = timezone.now()
    moved = []
    for current in {job.status for job in batch}:
        group = [job for job in batch if job.status == current]
        ids = [job.pk for job in group]
        rows = ExecutionJob.objects.filter(pk__in=ids, status=current).update(status=to, **fields)
        if rows != len(group):
            # Rare: some rows moved under us. Only those now stamped by this very update are ours.
            ours = set(
                ExecutionJob.objects.filter(
                    pk__in=ids, status=to, updated_at=fields["updated_at"]
                ).values_list("pk", flat=True)
            )
            group = [job for job in group if job.pk in ours]
        moved.extend(group)
    for job in moved:
        job.status = to
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):
                setattr(job, name, value)
    return moved


IN_FLIGHT = [S.CLAIMED, S.SENDING, S.RETRY_WAIT]


def claimable(now: datetime):
    """Runnable jobs that are first in line for their contact on their number.

    A job waits while an earlier job of the same (number, contact) is in flight, waiting to
    retry, or itself runnable, so parallel workers and retries never reorder a conversation.
    An earlier job deferred to later (quiet hours, say) does not hold the conversation up.
    """
    return ExecutionJob.objects.filter(
        status__in=[S.PENDING, S.RETRY_WAIT], run_after__lte=now
    ).filter(~Exists(ahead(now)))


def ahead(now: datetime):
    """The jobs ahead of the outer job in its conversation (same number and contact, earlier)
    that hold it back at `now`: in flight, waiting to retry, or runnable."""
    return ExecutionJob.objects.filter(
        number=OuterRef("number"), contact=OuterRef("contact"), id__lt=OuterRef("id")
    ).filter(Q(status__in=IN_FLIGHT) | Q(status=S.PENDING, run_after__lte=now))


def overtaking(claimed: list[ExecutionJob], now: datetime) -> set[int]:
    """Of the claimed jobs, those a job ahead of them holds back at `now`. A claim was first
    in line when it was made; an earlier job deferred until a moment since passed (a number's
    circuit breaker, its cooldown) is runnable again, and goes first."""
    if not claimed:
        return set()
    held_back = ExecutionJob.objects.filter(pk__in=[job.pk for job in claimed]).filter(
        Exists(ahead(now))
    )
    return set(held_back.values_list("pk", flat=True))


def claim_batch(worker_id: str, limit: int) -> list[int]:
    """Claim up to `limit` runnable jobs for this worker and return their ids.

    PostgreSQL: `FOR UPDATE SKIP LOCKED` lets many workers take disjoint batches without
    waiting on each other. SQLite (one writer at a time): a conditional UPDATE per job, and a
    row count of 0 means another worker got there first.
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WORKER_LEASE_SECONDS)
    claim = {"status": S.CLAIMED, "worker_id": worker_id, "lease_until": lease, "updated_at": now}
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(
                claimable(now)
                .select_for_update(skip_locked=True)
                .order_by("run_after", "id")
                .values_list("id", flat=True)[:limit]
            )
            ExecutionJob.objects.filter(id__in=ids).update(**claim)
        metrics.jobs_claimed.inc(len(ids))
        return ids
    candidates = claimable(now).order_by("run_after", "id").values_list("id", "status")[:limit]
    claimed = []
    for job_id, status in list(candidates):
        if ExecutionJob.objects.filter(id=job_id, status=status).update(**claim) == 1:
            claimed.append(job_id)
        else:
            metrics.jobs_skipped_already_claimed.inc()
    metrics.jobs_claimed.inc(len(claimed))
    return claimed


def reap(now=None) -> dict[str, int]:
    """Recover claims whose lease expired (invariant 2).

    CLAIMED past its lease: the worker died before SENDING, nothing left → back to PENDING.
    SENDING past its lease: the send may have happened → UNCERTAIN, never resent on its own.
    """
    now = now or timezone.now()
    expired = ExecutionJob.objects.filter(lease_until__lt=now)
    released = expired.filter(status=S.CLAIMED).update(
        status=S.PENDING, worker_id="", lease_until=None, updated_at=now
    )
    uncertain = expired.filter(status=S.SENDING).update(
        status=S.UNCERTAIN, lease_until=None, updated_at=now
    )
    metrics.jobs_uncertain.inc(uncertain)
    return {"released": released, "uncertain": uncertain}


def release(job_ids: list[int], worker_id: str) -> int:
    """Give back claims this worker has not started on (a clean stop)."""
    return ExecutionJob.objects.filter(
        id__in=job_ids, status=S.CLAIMED, worker_id=worker_id
    ).update(status=S.PENDING, worker_id="", lease_until=None, updated_at=timezone.now())
