"""The outbound flow: intent → Gate → job, and the one send path."""

import logging
import random
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.engine import gate, jobs, metrics, wakeup
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.inbox import services as inbox
from conversa.inbox.models import Contact, Conversation, Message
from conversa.instances import services as instances
from conversa.providers.base import ProviderError
from conversa.providers.models import ProviderEvent
from conversa.providers.registry import get_provider
from conversa.providers.services import apply_early_statuses
from conversa.realtime import publisher

log = logging.getLogger(__name__)

S = ExecutionJob.Status
MAX_ATTEMPTS = 5
BACKOFF_CAP = timedelta(minutes=15)


def record(org_id: int, verb: str, obj, *, actor: Member | None = None, label="system", **data):
    OperationalEvent.objects.create(
        organization_id=org_id,
        actor=actor,
        actor_label=actor.display_name if actor else label,
        verb=verb,
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        data=data,
    )


def create_intent(
    org: Organization,
    *,
    contact: Contact,
    body: str,
    origin: str,
    idempotency_key: str,
    conversation: Conversation,
    created_by: Member | None = None,
) -> tuple[MessageIntent, bool]:
    """Record a request to send and let the Gate decide on it. Idempotent on the key.

    1. Insert the intent; the database's unique (organization, key) refuses a repeat, which
       returns the existing intent and `created=False` (invariant 1).
    2. Ask the Gate and store its decision (invariant 6).
    3. ALLOW or DEFER: an outbound message and a PENDING job, in the same transaction.
       BLOCK: the message is shown as failed with the Gate's reason; no job exists.
    """
    # Sending to a contact without a conversation ("any connected instance") comes with the
    # engine's own issue; until then every intent answers in a conversation.
    instance = conversation.instance
    with transaction.atomic():
        try:
            with transaction.atomic():
                intent = MessageIntent.objects.create(
                    organization=org,
                    instance=instance,
                    contact=contact,
                    conversation=conversation,
                    origin=origin,
                    body=body,
                    idempotency_key=idempotency_key,
                    created_by=created_by,
                )
        except IntegrityError:
            metrics.jobs_duplicate_blocked.inc()
            existing = MessageIntent.objects.for_org(org).get(idempotency_key=idempotency_key)
            return existing, False
        record(org.id, "intent.created", intent, actor=created_by, origin=origin)
        now = timezone.now()
        decision = ask_gate(intent, now)
        message = inbox.new_outbound_message(conversation, body, created_by)
        if decision.verdict == GateDecision.Verdict.BLOCK:
            intent.status = MessageIntent.Status.BLOCKED
            intent.save(update_fields=["status"])
            inbox.advance_status(message, Message.Status.FAILED, error=decision.reason)
        else:
            deferred = decision.verdict == GateDecision.Verdict.DEFER
            ExecutionJob.objects.create(
                organization=org,
                intent=intent,
                instance=instance,
                contact=contact,
                message=message,
                run_after=decision.defer_until if deferred else now,
            )
            if deferred:
                intent.status = MessageIntent.Status.DEFERRED
                intent.save(update_fields=["status"])
            transaction.on_commit(wakeup.notify)
        publisher.publish(org.id, publisher.INTENT_UPDATED, intent_id=intent.id)
    return intent, True


def ask_gate(intent: MessageIntent, now) -> GateDecision:
    """The Gate's decision on `intent` now, stored, counted and put on its timeline."""
    decision = gate.evaluate(intent, now)
    metrics.gate_decisions.labels(decision.verdict, decision.reason_code).inc()
    record(
        intent.organization_id,
        f"gate.{decision.verdict}",
        intent,
        label="gate",
        reason=decision.reason,
    )
    return decision


def reply(
    conversation: Conversation, body: str, member: Member, idempotency_key: str | None = None
) -> tuple[MessageIntent, bool]:
    """An operator's answer in a conversation (origin CHAT_MANUAL)."""
    return create_intent(
        conversation.organization,
        contact=conversation.contact,
        body=body,
        origin=MessageIntent.Origin.CHAT_MANUAL,
        idempotency_key=idempotency_key or f"chat:{uuid.uuid4()}",
        conversation=conversation,
        created_by=member,
    )


def execute_job(job_id: int, worker_id: str) -> str:
    """Run one claimed job through the Gate and the provider. Returns the job's new status.

    1. The Gate decides again with fresh facts: a contact may have opted out or the number
       dropped since the intent was made. DEFER releases the claim until later; BLOCK fails it.
    2. SENDING is committed before the provider is called, so a crash during the call leaves
       a trace the reaper turns into UNCERTAIN instead of a silent resend.
    3. The provider's answer: SENT with its message id, or RETRY_WAIT / DEAD / FAILED by the
       error class the adapter gave.
    """
    # The Gate reads its own fresh facts; the job needs only what the send uses.
    job = ExecutionJob.objects.select_related("intent", "instance", "contact", "message").get(
        pk=job_id
    )
    if job.status != S.CLAIMED or job.worker_id != worker_id:
        return job.status
    intent = job.intent
    now = timezone.now()
    with transaction.atomic():
        decision = ask_gate(intent, now)
        if decision.verdict == GateDecision.Verdict.DEFER:
            jobs.transition(
                job, S.PENDING, run_after=decision.defer_until, worker_id="", lease_until=None
            )
            set_intent_status(intent, MessageIntent.Status.DEFERRED)
            return job.status
        if decision.verdict == GateDecision.Verdict.BLOCK:
            fail(job, decision.reason, S.FAILED)
            return job.status
        jobs.transition(job, S.SENDING, attempts=job.attempts + 1)
    started = time.monotonic()
    try:
        result = get_provider(job.instance).send_text(
            job.instance, job.contact.phone, intent.body, reference=job.reference
        )
    except ProviderError as exc:
        metrics.provider_send_seconds.observe(time.monotonic() - started)
        with transaction.atomic():
            handle_send_error(job, exc)
        return job.status
    metrics.provider_send_seconds.observe(time.monotonic() - started)
    with transaction.atomic():
        # The reaper may have judged this send UNCERTAIN while it was slow: the answer that
        # finally came settles it either way.
        job.refresh_from_db(fields=["status"])
        mark_sent(job, result.provider_message_id)
        instances.record_send_outcome(job.instance, ok=True)
    return job.status


def mark_sent(job: ExecutionJob, provider_message_id: str, how: str = "provider answer") -> None:
    jobs.transition(job, S.SENT, provider_message_id=provider_message_id, lease_until=None)
    metrics.jobs_sent.inc()
    set_intent_status(job.intent, MessageIntent.Status.SENT)
    record(
        job.organization_id,
        "job.sent",
        job.intent,
        label="worker",
        provider_message_id=provider_message_id,
        how=how,
    )
    if job.message_id:
        Message.objects.filter(pk=job.message_id).update(provider_message_id=provider_message_id)
        inbox.advance_status(job.message, Message.Status.SENT)
        apply_early_statuses(job.instance, provider_message_id)


def handle_send_error(job: ExecutionJob, exc: ProviderError) -> None:
    """Classify a failed send: UNCERTAIN when it may have happened, else retry or fail."""
    if exc.transient:
        instances.record_send_outcome(job.instance, ok=False)
    if exc.ambiguous:
        jobs.transition(job, S.UNCERTAIN, last_error=str(exc), lease_until=None)
        metrics.jobs_uncertain.inc()
        record(job.organization_id, "job.uncertain", job.intent, label="worker", error=str(exc))
        return
    if not exc.transient:
        fail(job, str(exc), S.FAILED)
        return
    if job.attempts >= MAX_ATTEMPTS:
        fail(job, f"retries spent: {exc}", S.DEAD)
        return
    backoff = min(timedelta(seconds=settings.RETRY_BASE_SECONDS * 2**job.attempts), BACKOFF_CAP)
    delay = max(backoff * random.uniform(0.8, 1.2), timedelta(seconds=exc.retry_after or 0))
    jobs.transition(
        job, S.RETRY_WAIT, run_after=timezone.now() + delay, last_error=str(exc), lease_until=None
    )
    metrics.jobs_retried.inc()
    record(
        job.organization_id,
        "job.retry_wait",
        job.intent,
        label="worker",
        error=str(exc),
        attempt=job.attempts,
    )


def fail(job: ExecutionJob, reason: str, status: str, actor: Member | None = None) -> None:
    jobs.transition(job, status, last_error=reason, lease_until=None)
    if status == S.DEAD:
        metrics.jobs_dead.inc()
    set_intent_status(job.intent, MessageIntent.Status.FAILED)
    record(
        job.organization_id, f"job.{status}", job.intent, actor=actor, label="worker", error=reason
    )
    if job.message_id:
        inbox.advance_status(job.message, Message.Status.FAILED, error=reason)


def set_intent_status(intent: MessageIntent, status: str) -> None:
    MessageIntent.objects.filter(pk=intent.pk).update(status=status)
    intent.status = status
    publisher.publish(intent.organization_id, publisher.INTENT_UPDATED, intent_id=intent.id)


def reconcile_uncertain(now=None, limit: int = 50) -> dict[str, int]:
    """Settle UNCERTAIN jobs from what the provider says (invariant 2).

    1. The provider echoed our reference in a status webhook: the send happened → SENT.
    2. After ECHO_GRACE_SECONDS, a provider that can be asked (the sandbox) is asked by reference:
       found → SENT; it confirms it never accepted the send → PENDING, to be sent once.
    3. Otherwise the job stays UNCERTAIN for a person to resend or mark failed.
    """
    now = now or timezone.now()
    grace = timedelta(seconds=settings.ECHO_GRACE_SECONDS)
    counts = {"echo": 0, "lookup": 0, "requeued": 0}
    uncertain = ExecutionJob.objects.filter(status=S.UNCERTAIN).select_related(
        "instance", "intent", "message"
    )
    for job in uncertain.order_by("id")[:limit]:
        echo = (
            ProviderEvent.objects.filter(instance_id=job.instance_id, reference=job.reference)
            .exclude(provider_message_id="")
            .values_list("provider_message_id", flat=True)
            .first()
        )
        if echo:
            with transaction.atomic():
                mark_sent(job, echo, how="provider echo")
            counts["echo"] += 1
            continue
        provider = get_provider(job.instance)
        if job.updated_at > now - grace or not getattr(provider, "supports_lookup", False):
            continue
        try:
            found = provider.lookup_reference(job.instance, job.reference)
        except ProviderError:
            continue
        with transaction.atomic():
            if found:
                mark_sent(job, found, how="provider lookup")
                counts["lookup"] += 1
            else:
                jobs.transition(job, S.PENDING, worker_id="", run_after=timezone.now())
                record(
                    job.organization_id,
                    "job.requeued",
                    job.intent,
                    label="worker",
                    reason="the provider confirms it never received the message",
                )
                counts["requeued"] += 1
    return counts


def resolve_uncertain(job: ExecutionJob, action: str, member: Member) -> ExecutionJob:
    """A person settles an UNCERTAIN job: "resend" (send it again) or "mark_failed"."""
    with transaction.atomic():
        if action == "resend":
            jobs.transition(job, S.PENDING, worker_id="", run_after=timezone.now())
            record(job.organization_id, "job.resend", job.intent, actor=member)
            transaction.on_commit(wakeup.notify)
        elif action == "mark_failed":
            fail(job, "marked failed by a person", S.FAILED, actor=member)
        else:
            raise ValueError(f"unknown action {action!r}")
    return job


def cancel(intent: MessageIntent, member: Member) -> MessageIntent:
    """Cancel an intent whose job has not started sending. Raises InvalidTransition after."""
    with transaction.atomic():
        job = ExecutionJob.objects.select_for_update().filter(intent=intent).first()
        if job is None or job.status not in (S.PENDING, S.RETRY_WAIT):
            raise jobs.InvalidTransition("only a job that has not started sending can be cancelled")
        fail(job, "cancelled", S.FAILED, actor=member)
    return intent
