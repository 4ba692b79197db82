"""The outbound flow: intent → Gate → job, and the one send path."""

import contextlib
import random
import time
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext
from structlog.contextvars import bound_contextvars, get_contextvars

from conversa import logs, tracing
from conversa.accounts import audit
from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.accounts.services import event, record
from conversa.bulk import insert_new, insert_rows, set_column
from conversa.engine import content, gate, jobs, metrics, wakeup
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.errors import Forbidden, InvalidTransition
from conversa.inbox import services as inbox
from conversa.inbox.models import Attachment, Contact, Conversation, Message
from conversa.numbers import services as numbers
from conversa.numbers.models import Number
from conversa.providers.base import ProviderError, SendResult, StatusUpdate
from conversa.providers.models import ProviderEvent
from conversa.providers.registry import get_provider
from conversa.realtime import events, publisher

log = structlog.get_logger(__name__)

S = ExecutionJob.Status
MAX_ATTEMPTS = 5
# A batch of up to this many intents logs a line per intent and per decision, with its
# correlation id (what a request or a worker's batch asks for); a bigger one (a campaign's
# start) logs one line for the batch: a line per person costs more than the rest of its work.
LOG_EACH_UP_TO = 200
BACKOFF_CAP = timedelta(minutes=15)


@dataclass(frozen=True)
class IntentSpec:
    """One request to send, as `create_intents` takes it (the arguments of `create_intent`)."""

    contact: Contact
    body: str
    origin: str
    idempotency_key: str
    conversation: Conversation | None = None
    number: Number | None = None
    created_by: Member | None = None
    template: dict | None = None
    not_before: datetime | None = None
    # Media, a location, contact cards or a reaction (engine/content.py), and media's file.
    content: dict | None = None
    attachment: Attachment | None = None
    # A CAMPAIGN intent's campaign (campaigns.Campaign), which the Gate reads.
    campaign: object | None = None


def create_intent(
    org: Organization,
    *,
    contact: Contact,
    body: str,
    origin: str,
    idempotency_key: str,
    conversation: Conversation | None = None,
    number: Number | None = None,
    created_by: Member | None = None,
    template: dict | None = None,
    not_before: datetime | None = None,
    content: dict | None = None,
    attachment: Attachment | None = None,
) -> tuple[MessageIntent, bool]:
    """`create_intents` for one request: the intent, and whether it was created."""
    spec = IntentSpec(
        contact=contact,
        body=body,
        origin=origin,
        idempotency_key=idempotency_key,
        conversation=conversation,
        number=number,
        created_by=created_by,
        template=template,
        not_before=not_before,
        content=content,
        attachment=attachment,
    )
    [result] = create_intents(org, [spec])
    return result


def create_intents(org: Organization, specs: list[IntentSpec]) -> list[tuple[MessageIntent, bool]]:
    """Record requests to send and let the Gate decide on them, in one transaction and a few
    statements whatever their number; (intent, created) for each spec, in order. Idempotent on
    the key.

    With a `template` ({name, language, variables}) the message is that pre-approved Cloud API
    template, and `body` its readable preview; with `content` (and media's `attachment`) it is
    media, a location, contact cards or a reaction (engine/content.py), `body` its caption or
    preview.

    The number is the conversation's, else `number`, else none: "any number of the
    organization", which the Gate picks (and the conversation with the contact on it).
    1. Insert the intents in one INSERT … ON CONFLICT DO NOTHING: the database's unique
       (organization, key) skips a repeat, even one another transaction inserts at the same
       moment, and that spec gets the existing intent and `created=False` (invariant 1). A key
       repeated within `specs` is created once, for its first spec.
    2. Ask the Gate once for the new intents and store its decisions (invariant 6). Each is
       decided as if alone: an ALLOW here takes nothing from a quota, as the Gate counts sends,
       not jobs waiting.
    3. ALLOW or DEFER: an outbound message and a PENDING job, in the same transaction.
       BLOCK: the message is shown as failed with the Gate's reason; no job exists.
    4. The jobs, and the intents' timeline entries, are inserted in bulk; the workers are woken
       once, after commit.

    With `not_before` in the future the intent is SCHEDULED: its job's `run_after` is that
    time (or the Gate's later DEFER), and the Gate decides again when the job runs, as for any
    job. The outbound message (and, without one, the conversation) is made only when the job
    starts sending, so the thread and the inbox show nothing before it is due.
    """
    # Made in a request (or webhook): that request's id, on every intent it asks for. Made by
    # the worker (a follow-up, a campaign): an id of its own for each.
    correlation = get_contextvars().get("correlation_id")
    trace_parent = tracing.traceparent()
    first: dict[str, MessageIntent] = {}
    for spec in specs:
        if spec.idempotency_key not in first:
            first[spec.idempotency_key] = MessageIntent(
                organization=org,
                number=spec.conversation.number if spec.conversation else spec.number,
                contact=spec.contact,
                conversation=spec.conversation,
                origin=spec.origin,
                body=spec.body,
                template=spec.template,
                content=spec.content,
                attachment=spec.attachment,
                idempotency_key=spec.idempotency_key,
                created_by=spec.created_by,
                not_before=spec.not_before,
                campaign=spec.campaign,
                correlation_id=correlation or logs.correlation_id(),
                trace_parent=trace_parent,
            )
    with transaction.atomic():
        new = insert_new(list(first.values()), ["organization", "idempotency_key"])
        created = {intent.idempotency_key: intent for intent in new}
        refused = [key for key in first if key not in created]
        # A new statement: on PostgreSQL it sees the row of a transaction the insert waited for.
        existing = {
            intent.idempotency_key: intent
            for intent in MessageIntent.objects.for_org(org).filter(idempotency_key__in=refused)
        }
        if new:
            decide_new_intents(org, new)
    results, reported = [], set()
    for spec in specs:
        key = spec.idempotency_key
        if key in created and key not in reported:
            reported.add(key)
            results.append((created[key], True))
        else:
            metrics.jobs_duplicate_blocked.inc()
            results.append((created.get(key) or existing[key], False))
    return results


@dataclass(frozen=True)
class Queued:
    """One request to send of a batch that `queue_intents` records (a campaign's message to
    one person): its message is shown in a conversation only when its job starts sending."""

    organization_id: int
    contact_id: int
    number_id: int
    body: str
    template: dict | None
    idempotency_key: str
    origin: str
    campaign_id: int | None = None
    not_before: datetime | None = None


def queue_intents(org: Organization, queued: list[Queued]) -> dict[str, int]:
    """Record many requests to send whose message is shown only when due (a campaign's), let
    the Gate decide on them and queue their jobs, in one transaction and a handful of
    statements whatever their number, with no model instance per intent: idempotency key →
    the id of each intent created. A key already held (invariant 1: by another pass at the
    same moment too, the insert waits for it) is left out.

    `create_intents` does the same for intents of any kind, made one model each; at a
    campaign's 100,000 people those instances cost more than the database's work.
    1. The Gate judges each first (`gate.judge_many`, its facts read afresh, one query per
       kind), so each intent is inserted with the status its verdict gives it.
    2. The intents, in one INSERT … ON CONFLICT DO NOTHING.
    3. The decisions of those inserted (invariant 6; the timeline shows them from there) and a
       PENDING job for each ALLOW or DEFER (a BLOCK has none), each in one statement. No
       "intent.created" audit entry per intent: the timeline tells the creation from the
       intent's own row (`queries.timeline`), and the caller records what asked for them once
       (a campaign's "campaign.started"); a row each would cost as much as the decisions.
       The workers are woken once, after commit.
    """
    if not queued:
        return {}
    now = timezone.now()
    # Outside a request or job (a command, the worker's campaign pass), the call is the cause:
    # its intents share one correlation id.
    correlation = get_contextvars().get("correlation_id") or uuid.uuid4().hex
    trace_parent = tracing.traceparent()
    Status = MessageIntent.Status
    with transaction.atomic():
        judged = gate.judge_many([(q, q.number_id) for q in queued], now, reserve=False)
        rows = []
        for q, entry in zip(queued, judged, strict=True):
            scheduled = q.not_before is not None and q.not_before > now
            if entry.verdict.verdict == GateDecision.Verdict.BLOCK:
                status = Status.BLOCKED
            elif scheduled:
                status = Status.SCHEDULED
            elif entry.verdict.verdict == GateDecision.Verdict.DEFER:
                status = Status.DEFERRED
            else:
                status = Status.QUEUED
            rows.append(
                {
                    "organization_id": q.organization_id,
                    "number_id": q.number_id,
                    "contact_id": q.contact_id,
                    "origin": q.origin,
                    "body": q.body,
                    "template": q.template,
                    "campaign_id": q.campaign_id,
                    "idempotency_key": q.idempotency_key,
                    "not_before": q.not_before,
                    "status": status,
                    "created_at": now,
                    "correlation_id": correlation,
                    "trace_parent": trace_parent,
                }
            )
        inserted = insert_rows(
            MessageIntent,
            rows,
            unique=["organization", "idempotency_key"],
            returning=("id", "idempotency_key"),
        )
        created = {key: pk for pk, key in inserted}
        new = [
            (q, entry, created[q.idempotency_key])
            for q, entry in zip(queued, judged, strict=True)
            if q.idempotency_key in created
        ]
        gate.store([(q.organization_id, pk) for q, _, pk in new], [e for _, e, _ in new], now)
        jobs_made = insert_rows(
            ExecutionJob,
            [
                {
                    "organization_id": q.organization_id,
                    "intent_id": pk,
                    "number_id": entry.number.pk,
                    "contact_id": q.contact_id,
                    "status": S.PENDING,
                    "run_after": max(entry.verdict.defer_until or now, q.not_before or now),
                    "attempts": 0,
                    "worker_id": "",
                    "provider_message_id": "",
                    "last_error": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for q, entry, pk in new
                if entry.verdict.verdict != GateDecision.Verdict.BLOCK
            ],
        )
        if jobs_made:
            transaction.on_commit(wakeup.notify)
        count_verdicts([entry.verdict for _, entry, _ in new])
        metrics.jobs_duplicate_blocked.inc(len(queued) - len(new))
        log.info(
            "intent.created_many",
            organization_id=org.pk,
            origins=sorted({q.origin for q in queued}),
            intents=len(new),
            jobs=len(jobs_made),
        )
        if new:
            publisher.publish(
                org.id,
                events.IntentUpdated(intent_ids=[pk for _, _, pk in new], change="decided"),
            )
    return created


def decide_new_intents(org: Organization, intents: list[MessageIntent]) -> None:
    """Steps 2–4 of `create_intents` for the intents it just inserted."""
    # Asked for through an API token: its name, for the message's story ("by the API token
    # “CRM sync”").
    source = audit.origin.get()
    token = {"api_token": source.api_token} if source and source.api_token else {}
    OperationalEvent.objects.bulk_create(
        event(
            org.id, "intent.created", intent, actor=intent.created_by, origin=intent.origin, **token
        )
        for intent in intents
    )
    if len(intents) > LOG_EACH_UP_TO:
        log.info(
            "intent.created_many",
            organization_id=org.pk,
            origins=sorted({intent.origin for intent in intents}),
            intents=len(intents),
            first_intent_id=intents[0].pk,
            last_intent_id=intents[-1].pk,
        )
    else:
        for intent in intents:
            log.info(
                "intent.created",
                correlation_id=intent.correlation_id,
                intent_id=intent.pk,
                organization_id=org.pk,
                origin=intent.origin,
            )
    now = timezone.now()
    decisions = ask_gate([(intent, intent.number_id) for intent in intents], now, reserve=False)
    new_jobs, blocked, statuses = [], {}, {}
    moved_conversation = conversations_for(org, intents, decisions, now)
    messages = new_messages(org, [i for i in intents if i.conversation and shown_now(i, now)])
    for intent, decision in zip(intents, decisions, strict=True):
        scheduled = intent.not_before is not None and intent.not_before > now
        message = messages.get(intent.pk)
        if decision.verdict == GateDecision.Verdict.BLOCK:
            statuses.setdefault(MessageIntent.Status.BLOCKED, []).append(intent)
            if message:
                blocked.setdefault(decision.reason, []).append(message)
            continue
        deferred = decision.verdict == GateDecision.Verdict.DEFER
        run_after = decision.defer_until if deferred else now
        if scheduled:
            run_after = max(run_after, intent.not_before)
        new_jobs.append(
            ExecutionJob(
                organization=org,
                intent=intent,
                number=decision.number,
                contact=intent.contact,
                message=message,
                run_after=run_after,
            )
        )
        if scheduled or deferred:
            status = MessageIntent.Status.SCHEDULED if scheduled else MessageIntent.Status.DEFERRED
            statuses.setdefault(status, []).append(intent)
    if moved_conversation:
        set_column(
            MessageIntent,
            "conversation",
            {intent.pk: intent.conversation_id for intent in moved_conversation},
        )
    for status, changed in statuses.items():
        MessageIntent.objects.filter(pk__in=[intent.pk for intent in changed]).update(status=status)
        for intent in changed:
            intent.status = status
    for reason, messages in blocked.items():
        inbox.advance_statuses(messages, Message.Status.FAILED, error=reason)
    if new_jobs:
        ExecutionJob.objects.bulk_create(new_jobs)
        transaction.on_commit(wakeup.notify)
    publisher.publish(
        org.id,
        events.IntentUpdated(intent_ids=[intent.pk for intent in intents], change="decided"),
    )


def shown_now(intent: MessageIntent, now) -> bool:
    """Whether the intent's outbound message (and conversation) is made with it, or only when
    its job starts sending (`add_messages`): a scheduled one shows nothing before it is due,
    and a campaign's is due at its pace, its place in a queue of thousands, not now."""
    scheduled = intent.not_before is not None and intent.not_before > now
    return not scheduled and intent.campaign_id is None


def conversations_for(
    org: Organization, intents: list[MessageIntent], decisions: list[GateDecision], now
) -> list[MessageIntent]:
    """The conversation of each intent due now that has none, on the number the Gate chose
    (`inbox.current_conversations`, one query per number for the batch); the intents given one."""
    waiting: dict[int, list[MessageIntent]] = {}
    numbers: dict[int, Number] = {}
    for intent, decision in zip(intents, decisions, strict=True):
        if intent.conversation is None and decision.number is not None and shown_now(intent, now):
            numbers[decision.number.pk] = with_org(decision.number, org)
            waiting.setdefault(decision.number.pk, []).append(intent)
    for number_id, mine in waiting.items():
        found = inbox.current_conversations(
            numbers[number_id], [intent.contact for intent in mine], by_customer=False
        )
        for intent in mine:
            intent.conversation = found[intent.contact_id]
    return [intent for mine in waiting.values() for intent in mine]


def new_messages(org: Organization, intents: list[MessageIntent]) -> dict[int, Message]:
    """Intent id → the outbound message shown for each of these intents (each with its
    conversation): plain texts no member sent in one go, the rest (media, a member's) one by
    one."""
    found, texts = {}, []
    for intent in intents:
        with_org(intent.conversation, org)
        if intent.content or intent.created_by_id is not None:
            found[intent.pk] = content.new_message(intent)
        else:
            texts.append(intent)
    made = inbox.new_outbound_texts([(intent.conversation, intent.body) for intent in texts])
    found.update((intent.pk, message) for intent, message in zip(texts, made, strict=True))
    return found


def with_org(obj: Number | Conversation, org: Organization) -> Number | Conversation:
    """`obj` with its organization `org` set, when it is `org`'s: the Gate loads numbers (and
    `current_conversation` makes conversations) without it, and the inbox code reads it, one
    query per intent otherwise."""
    if obj.organization_id == org.pk:
        obj.organization = org
    return obj


def count_verdicts(verdicts: list) -> dict[tuple[str, str], int]:
    """Count the Gate's verdicts (or decisions) in its metric, one call per kind of verdict;
    the counts by (verdict, reason code)."""
    tally: dict[tuple[str, str], int] = {}
    for verdict in verdicts:
        key = (verdict.verdict, verdict.reason_code)
        tally[key] = tally.get(key, 0) + 1
    for (verdict, reason_code), count in tally.items():
        metrics.gate_decisions.labels(verdict, reason_code).inc(count)
    return tally


def ask_gate(
    pairs: list[tuple[MessageIntent, int | None]], now, *, reserve: bool = True
) -> list[GateDecision]:
    """The Gate's decisions on (intent, number id) pairs now, stored (the intents' timelines
    show them from there: `queries.timeline`), counted and logged (`reserve`: see
    `gate.evaluate_many`)."""
    decisions = gate.evaluate_many(pairs, now, reserve=reserve)
    tally = count_verdicts(decisions)
    if len(pairs) > LOG_EACH_UP_TO:
        log.info(
            "gate.decided_many",
            organization_ids=sorted({intent.organization_id for intent, _ in pairs}),
            decisions=len(decisions),
            verdicts={f"{verdict}:{code}": n for (verdict, code), n in tally.items()},
        )
        return decisions
    for (intent, _), decision in zip(pairs, decisions, strict=True):
        log.info(
            "gate.decided",
            correlation_id=intent.correlation_id,
            intent_id=intent.pk,
            organization_id=intent.organization_id,
            verdict=decision.verdict,
            reason_code=decision.reason_code,
        )
    return decisions


def reply(
    conversation: Conversation,
    body: str,
    idempotency_key: str | None = None,
    *,
    acting_member: Member,
    content: dict | None = None,
    attachment: Attachment | None = None,
) -> tuple[MessageIntent, bool]:
    """An operator's answer in a conversation (origin CHAT_MANUAL): text, or `content`."""
    return create_intent(
        conversation.organization,
        contact=conversation.contact,
        body=body,
        origin=MessageIntent.Origin.CHAT_MANUAL,
        idempotency_key=idempotency_key or f"chat:{uuid.uuid4()}",
        conversation=conversation,
        created_by=acting_member,
        content=content,
        attachment=attachment,
    )


def execute_job(job_id: int, worker_id: str) -> str:
    """`execute_jobs` for one job: its new status."""
    return execute_jobs([job_id], worker_id)[job_id]


def execute_jobs(job_ids: list[int], worker_id: str, pool: Executor | None = None) -> dict:
    """Run jobs this worker claimed through the Gate and the provider; their new statuses.

    1. The Gate decides again with fresh facts: a contact may have opted out or the number
       dropped since the intent was made. DEFER releases the claim until later; BLOCK fails it.
    2. SENDING is committed before the provider is called, so a crash during the call leaves
       a trace the reaper turns into UNCERTAIN instead of a silent resend.
    3. The provider calls run on `pool` when given, in parallel: the claim holds at most one job
       per conversation, so this cannot reorder one.
    4. The answers are settled together: SENT with the provider's message id, or RETRY_WAIT /
       DEAD / FAILED / UNCERTAIN by the error class the adapter gave.
    Steps 1–2 and 4 are one transaction each, whatever the number of jobs.
    """
    # The Gate reads its own fresh facts; the jobs carry only what the send uses.
    loaded = list(
        ExecutionJob.objects.select_related("intent", "number", "contact", "message")
        .filter(pk__in=job_ids)
        .order_by("id")
    )
    mine = [job for job in loaded if job.status == S.CLAIMED and job.worker_id == worker_id]
    if mine:
        with transaction.atomic():
            sending = decide_before_send(mine, timezone.now())
        if any(job.message_id is None for job in sending):
            # Apart from the Gate's transaction, which holds numbers' rows: a conversation's
            # row is never locked after a number's there.
            with transaction.atomic():
                add_messages(sending)
        # A provider answered in-process (the benchmark's sandbox) blocks on nothing: no thread.
        threaded = pool and not all(
            getattr(get_provider(j.number), "inline", False) for j in sending
        )
        outcomes = list((pool.map if threaded else map)(send, sending))
        with transaction.atomic():
            settle(sending, outcomes)
    return {job.pk: job.status for job in loaded}


def decide_before_send(claimed: list[ExecutionJob], now) -> list[ExecutionJob]:
    """Gate the claimed jobs; those allowed move to SENDING with a fresh lease. A claim that
    an earlier job of its conversation now goes ahead of is given back first, unasked, its
    time to run unchanged: the conversation's order holds at the send, not only at the claim."""
    behind = jobs.overtaking(claimed, now)
    if behind:
        jobs.transition_many(
            [job for job in claimed if job.pk in behind], S.PENDING, worker_id="", lease_until=None
        )
        claimed = [job for job in claimed if job.pk not in behind]
    decisions = ask_gate([(job.intent, job.number_id) for job in claimed], now)
    allowed = []
    for job, decision in zip(claimed, decisions, strict=True):
        # Each move is conditional on the job still being CLAIMED: one cancelled meanwhile
        # (`cancel_intents`) is left as it is, and never reaches SENDING.
        if decision.verdict == GateDecision.Verdict.DEFER:
            released = jobs.transition_many(
                [job], S.PENDING, run_after=decision.defer_until, worker_id="", lease_until=None
            )
            if released:
                set_intents_status([job.intent], MessageIntent.Status.DEFERRED)
                if job.message_id is not None and job.intent.conversation_id is not None:
                    # The thread shows why the reply waits (engine/held.py): redrawn now.
                    publisher.publish(
                        job.organization_id,
                        events.MessageChanged(
                            conversation_ids=[job.intent.conversation_id],
                            message_ids=[job.message_id],
                        ),
                    )
        elif decision.verdict == GateDecision.Verdict.BLOCK:
            with contextlib.suppress(InvalidTransition):
                fail(job, decision.reason, S.FAILED)
        else:
            allowed.append(job)
    lease = now + timedelta(seconds=settings.WORKER_LEASE_SECONDS)
    sending = jobs.transition_many(
        allowed, S.SENDING, attempts=F("attempts") + 1, lease_until=lease
    )
    for job in sending:
        job.attempts += 1
    return sending


def add_messages(sending: list[ExecutionJob]) -> None:
    """The outbound messages of scheduled and campaign intents, made as their jobs start
    sending (and the conversation, for an intent made without one): until now there was
    nothing to show. A few statements for the batch: conversations found per number, plain
    texts inserted together (`new_messages`)."""
    waiting = [job for job in sending if job.message_id is None]
    by_number: dict[int, list[ExecutionJob]] = {}
    for job in waiting:
        if job.intent.conversation_id is None:
            by_number.setdefault(job.number_id, []).append(job)
    for mine in by_number.values():
        found = inbox.current_conversations(
            mine[0].number, [job.contact for job in mine], by_customer=False
        )
        for job in mine:
            job.intent.conversation = found[job.contact_id]
    set_column(
        MessageIntent,
        "conversation",
        {job.intent_id: job.intent.conversation_id for mine in by_number.values() for job in mine},
    )
    by_org: dict[int, list[ExecutionJob]] = {}
    for job in waiting:
        by_org.setdefault(job.organization_id, []).append(job)
    for mine in by_org.values():
        org = mine[0].intent.organization
        made = new_messages(org, [job.intent for job in mine])
        for job in mine:
            job.message = made.get(job.intent_id)
    set_column(ExecutionJob, "message", {job.pk: job.message.pk for job in waiting if job.message})


def send(job: ExecutionJob) -> SendResult | ProviderError:
    """The one call to a provider's send in the code base (`content.dispatch` picks which);
    the error is returned, not raised, so a batch's sends all come back to be settled. Its log
    lines (the adapter's too) carry the intent's correlation id, and it runs in the job's span."""
    started = time.monotonic()
    with (
        bound_contextvars(
            correlation_id=job.intent.correlation_id,
            organization_id=job.organization_id,
            intent_id=job.intent_id,
            job_id=job.pk,
        ),
        tracing.job_span(job, job.number.provider),
    ):
        log.info("provider.sending", provider=job.number.provider, attempt=job.attempts)
        try:
            result = content.dispatch(get_provider(job.number), job)
        except ProviderError as exc:
            log.info("provider.refused", error=type(exc).__name__, transient=exc.transient)
            return exc
        finally:
            metrics.provider_send_seconds.observe(time.monotonic() - started)
        log.info("provider.accepted", provider_message_id=result.provider_message_id)
        return result


def settle(sending: list[ExecutionJob], outcomes: list[SendResult | ProviderError]) -> None:
    """Record what the provider answered for each send.

    Numbers' rows are touched (the circuit breaker) in id order, the order the Gate locks them
    in, so two workers settling and deciding at once cannot deadlock.
    """
    answered = sorted(zip(sending, outcomes, strict=True), key=lambda pair: pair[0].number_id)
    sent = []
    for number_id in dict.fromkeys(job.number_id for job, _ in answered):
        mine = [(job, outcome) for job, outcome in answered if job.number_id == number_id]
        for job, outcome in mine:
            if isinstance(outcome, ProviderError):
                handle_send_error(job, outcome)
        succeeded = [(job, o.provider_message_id) for job, o in mine if isinstance(o, SendResult)]
        if succeeded:
            numbers.record_send_outcome(succeeded[0][0].number, ok=True)
        sent += succeeded
    mark_sent(sorted(sent, key=lambda pair: pair[0].pk))
    content.record_wa_ids(answered)


def mark_sent(sent: list[tuple[ExecutionJob, str]], how: str = "provider answer") -> None:
    """Jobs the provider accepted, with its message ids: SENT, and their messages with them."""
    provider_ids = {job.pk: provider_id for job, provider_id in sent}
    batch = [job for job, _ in sent]
    moved = jobs.transition_many(batch, S.SENT, lease_until=None) if batch else []
    if len(moved) < len(batch):
        # The reaper may have judged a slow send UNCERTAIN meanwhile: the answer that finally
        # came settles it. Anything else (a person marked it failed) keeps what the person chose.
        late = [job for job in batch if job not in moved]
        statuses = ExecutionJob.objects.in_bulk([job.pk for job in late])
        for job in late:
            job.status = statuses[job.pk].status
        uncertain = [job for job in late if job.status == S.UNCERTAIN]
        moved += jobs.transition_many(uncertain, S.SENT, lease_until=None) if uncertain else []
        for job in late:
            if job not in moved:
                log.warning("job %s was sent but is %s: left as it is", job.pk, job.status)
    if not moved:
        return
    metrics.jobs_sent.inc(len(moved))
    for job in moved:
        job.provider_message_id = provider_ids[job.pk]
        log.info(
            "job.sent",
            correlation_id=job.intent.correlation_id,
            job_id=job.pk,
            intent_id=job.intent_id,
            organization_id=job.organization_id,
            provider_message_id=job.provider_message_id,
        )
    set_column(ExecutionJob, "provider_message_id", {job.pk: provider_ids[job.pk] for job in moved})
    set_intents_status([job.intent for job in moved], MessageIntent.Status.SENT)
    OperationalEvent.objects.bulk_create(
        event(
            job.organization_id,
            "job.sent",
            job.intent,
            label="worker",
            provider_message_id=job.provider_message_id,
            how=how,
        )
        for job in moved
    )
    with_message = [job for job in moved if job.message_id]
    inbox.record_sends([(job.message, job.provider_message_id) for job in with_message])
    early = inbox.apply_early_statuses(
        [(job.number, job.provider_message_id) for job in with_message]
    )
    for message, status in early:
        log_status(message, status)
    content.apply_reactions(moved)


def log_status(message: Message, event: StatusUpdate) -> None:
    """A status webhook's line, under the correlation id of the intent that sent the message
    (a message sent from the phone itself has none): when it is applied on arrival, and when
    it arrived before the send was recorded and is applied then."""
    correlation = (
        ExecutionJob.objects.filter(message=message)
        .values_list("intent__correlation_id", flat=True)
        .first()
    )
    log.info(
        "message.status",
        correlation_id=correlation or "",
        organization_id=message.organization_id,
        message_id=message.pk,
        provider_message_id=event.provider_message_id,
        status=event.status,
    )


def handle_send_error(job: ExecutionJob, exc: ProviderError) -> None:
    """Classify a failed send: UNCERTAIN when it may have happened, else retry or fail."""
    if exc.transient:
        numbers.record_send_outcome(job.number, ok=False)
    log.info(
        "job.send_failed",
        correlation_id=job.intent.correlation_id,
        job_id=job.pk,
        intent_id=job.intent_id,
        organization_id=job.organization_id,
        error=type(exc).__name__,
        ambiguous=exc.ambiguous,
        transient=exc.transient,
        attempt=job.attempts,
    )
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


def fail(
    job: ExecutionJob, reason: str, status: str, *, acting_member: Member | None = None
) -> None:
    jobs.transition(job, status, last_error=reason, lease_until=None)
    log.info(
        f"job.{status}",
        correlation_id=job.intent.correlation_id,
        job_id=job.pk,
        intent_id=job.intent_id,
        organization_id=job.organization_id,
    )
    if status == S.DEAD:
        metrics.jobs_dead.inc()
    set_intents_status([job.intent], MessageIntent.Status.FAILED)
    record(
        job.organization_id,
        f"job.{status}",
        job.intent,
        actor=acting_member,
        label="worker",
        error=reason,
    )
    if job.message_id:
        inbox.advance_status(job.message, Message.Status.FAILED, error=reason)


# The statuses the Gate decides (the others are where a send ended).
DECIDED = {
    MessageIntent.Status.QUEUED,
    MessageIntent.Status.SCHEDULED,
    MessageIntent.Status.DEFERRED,
    MessageIntent.Status.BLOCKED,
}


def set_intents_status(intents: list[MessageIntent], status: str) -> None:
    """Set the intents' status and tell their organizations' sockets. A Gate's status that
    some intents did not have yet is a new decision (`change="decided"`, the webhooks'
    `intent.decided`): a job deferred again and again is decided once."""
    rows = MessageIntent.objects.filter(pk__in=[intent.pk for intent in intents])
    decided = set()
    if status in DECIDED:
        decided = set(rows.exclude(status=status).values_list("pk", flat=True))
    rows.update(status=status)
    by_org: dict[tuple[int, bool], list[int]] = {}
    for intent in intents:
        intent.status = status
        by_org.setdefault((intent.organization_id, intent.pk in decided), []).append(intent.pk)
    for (org_id, new), ids in by_org.items():
        change = "decided" if new else None
        publisher.publish(org_id, events.IntentUpdated(intent_ids=ids, change=change))


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
        "number", "intent", "message"
    )
    for job in uncertain.order_by("id")[:limit]:
        echo = (
            ProviderEvent.objects.filter(number_id=job.number_id, reference=job.reference)
            .exclude(provider_message_id="")
            .values_list("provider_message_id", flat=True)
            .first()
        )
        if echo:
            with transaction.atomic():
                mark_sent([(job, echo)], how="provider echo")
            counts["echo"] += 1
            continue
        provider = get_provider(job.number)
        if job.updated_at > now - grace or not getattr(provider, "supports_lookup", False):
            continue
        try:
            found = provider.lookup_reference(job.number, job.reference)
        except ProviderError:
            continue
        with transaction.atomic():
            if found:
                mark_sent([(job, found)], how="provider lookup")
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


def may_settle(member: Member, intent: MessageIntent) -> bool:
    """Cancelling, resending or marking failed a send: supervisors, or the send's own author."""
    if member.organization_id != intent.organization_id:
        return False
    return member.supervises or (
        intent.created_by_id is not None and intent.created_by_id == member.pk
    )


def refuse_unless_settles(member: Member, intent: MessageIntent) -> None:
    if not may_settle(member, intent):
        raise Forbidden(gettext("Only a supervisor or whoever sent it can change this send."))


def resolve_uncertain(job: ExecutionJob, action: str, *, acting_member: Member) -> ExecutionJob:
    """A person settles an UNCERTAIN job: "resend" (send it again) or "mark_failed".
    Supervisors, or the send's author (`may_settle`)."""
    refuse_unless_settles(acting_member, job.intent)
    with transaction.atomic():
        if action == "resend":
            jobs.transition(job, S.PENDING, worker_id="", run_after=timezone.now())
            record(job.organization_id, "job.resend", job.intent, actor=acting_member)
            transaction.on_commit(wakeup.notify)
        elif action == "mark_failed":
            fail(job, "marked failed by a person", S.FAILED, acting_member=acting_member)
        else:
            raise ValueError(f"unknown action {action!r}")
    return job


def cancel_intents(
    intents: list[MessageIntent], reason: str, *, acting_member: Member | None = None
) -> list[MessageIntent]:
    """Cancel the jobs of these intents that have not started sending; the intents cancelled.

    A job PENDING, waiting to retry or CLAIMED (a worker took it but has not asked the Gate
    yet) becomes FAILED with `reason`, by a conditional UPDATE on its status: if a worker moves
    it to SENDING first, the cancel finds it gone and leaves it (a send under way is not
    undone); if the cancel is first, the worker's own conditional move to SENDING finds it gone
    and never sends. An intent without a job (BLOCKED) or already settled is left out.
    """
    if not intents:
        return []
    with transaction.atomic():
        open_jobs = list(
            ExecutionJob.objects.select_related("intent", "message")
            .filter(
                intent__in=[intent.pk for intent in intents],
                status__in=[S.PENDING, S.RETRY_WAIT, S.CLAIMED],
            )
            .order_by("id")
        )
        cancelled = jobs.transition_many(
            open_jobs, S.FAILED, last_error=reason, lease_until=None, worker_id=""
        )
        if not cancelled:
            return []
        set_intents_status([job.intent for job in cancelled], MessageIntent.Status.FAILED)
        OperationalEvent.objects.bulk_create(
            event(
                job.organization_id, "job.cancelled", job.intent, actor=acting_member, reason=reason
            )
            for job in cancelled
        )
        messages = [job.message for job in cancelled if job.message_id]
        inbox.advance_statuses(messages, Message.Status.FAILED, error=reason)
    return [job.intent for job in cancelled]


def cancel(intent: MessageIntent, *, acting_member: Member) -> MessageIntent:
    """Cancel an intent whose job has not started sending. Raises InvalidTransition after;
    Forbidden unless the member is a supervisor or the intent's author (`may_settle`)."""
    refuse_unless_settles(acting_member, intent)
    with transaction.atomic():
        job = ExecutionJob.objects.select_for_update().filter(intent=intent).first()
        if job is None or job.status not in (S.PENDING, S.RETRY_WAIT):
            raise InvalidTransition("only a job that has not started sending can be cancelled")
        fail(job, "cancelled", S.FAILED, acting_member=acting_member)
    return intent
