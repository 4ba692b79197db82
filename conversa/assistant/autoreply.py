"""The assistant answers customers on its own, under the same rules as everyone (invariant 13).

1. A customer writes in a conversation whose number or queue has an `AutoReply` rule, in the
   circumstances it names (always, outside business hours, when nobody in the team is online,
   or the first message only): the conversation's `AssistantSession` is due a few seconds later
   (`customer_wrote`, one of the consequences of a customer's message), so that several quick
   messages get one answer; the team's distribution leaves the conversation to the assistant.
2. The worker takes due sessions (`run_due`: a compare-and-set claim with a lease, so a worker
   that dies leaves it to another) and asks the persona for its answer (assistant.answers: from
   the organization's knowledge, or "I do not know", or the words that pass the customer to a
   person); in one transaction, after checking again that no person took the conversation over
   meanwhile, what it says is an ASSISTANT intent: the Gate and the engine send it like any
   other message, once per (conversation, customer message), whatever the retries.
3. It hands the conversation to the team, with a private note saying why, when the persona's
   rules say so (the customer asked for a person, a topic left to people, no knowledge, after
   N answers), when the customer seems unhappy (the model reads their mood before answering,
   unless the rule says not to), when the model fails, or when its circumstances end (the team came online,
   business hours began).
4. It stops for good in a conversation once a person has taken it over (claimed or assigned it,
   or replied, from Conversa or the phone), and answers again only if a person turns it back on
   (`resume`).
"""

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.accounts.services import record, same_org
from conversa.assistant import answers, helpers, llm
from conversa.assistant.models import (
    AssistantOutput,
    AssistantSession,
    AutoReply,
    Persona,
)
from conversa.bulk import fetch, one_of
from conversa.engine import services as engine
from conversa.engine.models import MessageIntent
from conversa.errors import Conflict, Forbidden, Refused
from conversa.inbox import notes, ownership
from conversa.inbox.models import Conversation, Message
from conversa.parallel import in_parallel
from conversa.realtime import events, publisher

log = logging.getLogger(__name__)

State = AssistantSession.State
Outcome = AssistantOutput.Outcome
# The customer's new messages an answer reads at most (they came while it was due).
MAX_NEW_MESSAGES = 20


# 1. A customer wrote ----------------------------------------------------------------------------


def rules_for(conversations: list[Conversation]) -> dict[int, AutoReply]:
    """Conversation id → the rule that applies to it (its queue's first, else its number's):
    one query for the batch."""
    queue_ids = {c.queue_id for c in conversations if c.queue_id}
    number_ids = {c.number_id for c in conversations}
    quote = connection.ops.quote_name
    queues, queue_param = one_of(queue_ids)
    numbers, number_param = one_of(number_ids)
    # Which rules, in a statement written out: every batch of webhooks asks, most find none
    # (see `bulk.one_of`); the ORM reads those there are.
    ids = fetch(
        f"SELECT a.id FROM {quote(AutoReply._meta.db_table)} AS a"  # noqa: S608
        f" JOIN {quote(Persona._meta.db_table)} AS p ON p.id = a.persona_id"
        f" WHERE a.enabled AND p.active AND (a.queue_id {queues} OR a.number_id {numbers})",
        [queue_param, number_param],
    )
    if not ids:
        return {}
    rules = AutoReply.objects.filter(pk__in=[pk for (pk,) in ids]).select_related("persona")
    by_queue = {r.queue_id: r for r in rules if r.queue_id}
    by_number = {r.number_id: r for r in rules if r.number_id}
    found = {}
    for conversation in conversations:
        rule = by_queue.get(conversation.queue_id) or by_number.get(conversation.number_id)
        if rule is not None and rule.organization_id == conversation.organization_id:
            found[conversation.pk] = rule
    return found


def business_open(org: Organization, now: datetime) -> bool:
    """Whether `now` is within the organization's business hours (always, with none set)."""
    schedule = org.sla_schedule()
    if schedule.always_open:
        return True
    today = now.astimezone(ZoneInfo(org.time_zone)).date()
    return any(
        opens <= now < closes
        for offset in (-1, 0, 1)
        for opens, closes in schedule.open_spans(today + timedelta(days=offset))
    )


def team_online(conversation: Conversation) -> bool:
    """Whether someone who may answer the conversation is online: a member of its queue, or of
    the organization for a conversation in no queue."""
    people = Member.objects.filter(
        organization_id=conversation.organization_id,
        is_active=True,
        availability=Member.Availability.ONLINE,
    )
    if conversation.queue_id is not None:
        people = people.filter(queues=conversation.queue_id)
    return people.exists()


def why_not(
    rule: AutoReply, conversation: Conversation, session: AssistantSession | None, now, batch
) -> str:
    """ "" when the rule's circumstances hold for this conversation now; else, in words, why the
    team answers instead."""
    if rule.when == AutoReply.When.OUTSIDE_HOURS and business_open(conversation.organization, now):
        return gettext("Business hours began: the team answers now.")
    if rule.when == AutoReply.When.NOBODY_ONLINE and team_online(conversation):
        return gettext("Someone in the team is online to answer.")
    if rule.when == AutoReply.When.FIRST_MESSAGE:
        earlier = Message.objects.filter(
            conversation_id=conversation.pk, direction=Message.Direction.INBOUND
        ).exclude(pk__in=batch)
        if session is not None or earlier.exists():
            return gettext("The assistant answers only a conversation's first message.")
    return ""


def person_took_over(session: AssistantSession) -> str:
    """Why a person has taken the conversation over since the assistant started in it, in
    words; "" when nobody has: it holds the conversation, was given it, or replied (in Conversa
    or on the phone)."""
    conversation = Conversation.objects.only("assignee_id").get(pk=session.conversation_id)
    if conversation.assignee_id is not None:
        return gettext("A person took the conversation.")
    given = OperationalEvent.objects.filter(
        organization_id=session.organization_id,
        object_type="conversation",
        object_id=session.conversation_id,
        verb="conversation.assigned",
        created_at__gte=session.started_at,
    )
    if given.exists():
        return gettext("A person took the conversation.")
    replied = Message.objects.filter(
        conversation_id=session.conversation_id,
        direction=Message.Direction.OUTBOUND,
        created_at__gte=session.started_at,
    ).filter(Q(sender__isnull=False) | Q(sent_from_phone=True))
    if replied.exists():
        return gettext("A person replied.")
    return ""


def customer_wrote(messages: list[Message]) -> set[int]:
    """Make the assistant's answer due in the conversations of `messages` where it answers
    (in the caller's transaction); the ids of the conversations it holds, which the team's
    distribution leaves alone. One query when no rule applies."""
    conversations = {m.conversation_id: m.conversation for m in messages}
    rules = rules_for(list(conversations.values())) if conversations else {}
    if not rules:
        return set()
    sessions = AssistantSession.objects.filter(conversation_id__in=list(rules)).in_bulk(
        field_name="conversation_id"
    )
    batch = [m.pk for m in messages]
    now = timezone.now()
    held = set()
    for pk, rule in rules.items():
        conversation = conversations[pk]
        session = sessions.get(pk)
        if session is not None and session.state != State.ACTIVE:
            continue  # handed to the team, or a person took over: only a person turns it on
        if conversation.assignee_id is not None:
            if session is not None:
                stop(session, State.TAKEN_OVER, gettext("A person took the conversation."))
            continue
        if session is not None and (reason := person_took_over(session)):
            stop(session, State.TAKEN_OVER, reason)
            continue
        if reason := why_not(rule, conversation, session, now, batch):
            if session is not None:
                hand_off(session, reason)
                # Its summary is the model's work: owed to a worker (`think_summary`), not
                # written in the transaction of the customer's webhook.
                AssistantSession.objects.filter(pk=session.pk).update(due_at=now)
            continue
        due = now + timedelta(seconds=rule.wait_seconds)
        if session is None:
            AssistantSession.objects.create(
                organization_id=conversation.organization_id,
                conversation=conversation,
                auto_reply=rule,
                due_at=due,
                started_at=now,
            )
        else:
            AssistantSession.objects.filter(pk=session.pk).update(due_at=due, auto_reply=rule)
        held.add(pk)
    return held


# 2. The worker answers --------------------------------------------------------------------------


def lease() -> timedelta:
    """How long a worker holds a due answer: the model's longest call with its retries."""
    calls = settings.ASSISTANT_RETRIES + 1
    return timedelta(
        seconds=calls * settings.ASSISTANT_TIMEOUT_SECONDS
        + settings.ASSISTANT_RETRIES * settings.ASSISTANT_RETRY_MAX_WAIT_SECONDS
        + 30
    )


def run_due(limit: int = 4) -> int:
    """The worker's assistant pass: answer up to `limit` conversations whose answer is due, or
    write the summary a handoff owes (a session handed off with a due time). Returns how many
    it took.

    The model's part of each (`think`, `think_summary`) runs for all of them at once
    (`parallel.in_parallel`): it mostly waits on the model, and one customer's answer need not
    wait behind another's. What each decided is then written here, one after the other: the
    realtime events it publishes must leave from this thread (the in-memory channel layer of
    `conversa serve` lives on its event loop)."""
    now = timezone.now()
    due = (
        AssistantSession.objects.filter(state__in=[State.ACTIVE, State.HANDED_OFF], due_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("due_at")
        .values_list("pk", "state", "due_at", "claimed_until")[:limit]
    )
    claimed = []
    for pk, state, due_at, claimed_until in list(due):
        won = AssistantSession.objects.filter(
            pk=pk, state=state, due_at=due_at, claimed_until=claimed_until
        ).update(claimed_until=now + lease())
        if won:  # else another worker took it, or the customer wrote again meanwhile
            claimed.append((pk, state, due_at))

    def prepare(task):
        pk, state, due_at = task
        try:
            return (think_summary if state == State.HANDED_OFF else think)(pk, due_at)
        except Exception:
            log.exception("the assistant's answer in session %s failed", pk)
            return None

    for (pk, _state, _due_at), finish in zip(
        claimed,
        in_parallel(prepare, claimed, workers=len(claimed), on_sqlite=True),
        strict=True,
    ):
        try:
            if finish is not None:
                finish()
        except Exception:
            # Its claim expires and another pass tries again; the answer's key keeps it single.
            log.exception("the assistant's answer in session %s failed", pk)
    return len(claimed)


def think(pk: int, due_at: datetime) -> Callable[[], None]:
    """The model's part of an answer, outside any transaction (a write lock held while the
    model writes would stall every other writer; SQLite has one); what to do with it, to be
    called after. The persona's answer (assistant.answers) says what to send: an answer, "I do
    not know", or the words that pass the customer to a person; a model that failed sends
    nothing and hands over."""
    session = AssistantSession.objects.select_related(
        "organization", "conversation__contact", "auto_reply__persona"
    ).get(pk=pk)
    conversation = session.conversation
    new = list(
        Message.objects.filter(
            conversation_id=conversation.pk,
            direction=Message.Direction.INBOUND,
            pk__gt=session.answered_message_id or 0,
        ).order_by("pk")[:MAX_NEW_MESSAGES]
    )
    rule = session.auto_reply
    output = None
    if new and not person_took_over(session):
        if rule is None or not rule.enabled or not rule.persona.active:
            output = AssistantOutput(
                outcome=Outcome.HANDED_OFF,
                reason=gettext("The assistant was turned off for this number or team."),
            )
        elif rule.handoff_when_unhappy and (mood := unhappy(conversation)):
            output = mood
        else:
            output = answers.answer(
                rule.persona,
                answers.recent_turns(conversation),
                kind=AssistantOutput.Kind.REPLY,
                conversation=conversation,
            )
    summary = (
        handoff_summary(conversation) if output and output.outcome == Outcome.HANDED_OFF else None
    )

    def finish() -> None:
        with transaction.atomic():
            locked = AssistantSession.objects.select_for_update().get(pk=pk)
            if locked.state == State.ACTIVE and new:
                # Checked again: a person may have replied or claimed while the model wrote.
                if reason := person_took_over(locked):
                    stop(locked, State.TAKEN_OVER, reason)
                else:
                    follow(locked, conversation, output, new, summary)
            done = {"claimed_until": None}
            if locked.due_at == due_at:
                done["due_at"] = None
            AssistantSession.objects.filter(pk=pk).update(**done)

    return finish


def think_summary(pk: int, due_at: datetime) -> Callable[[], None]:
    """The summary a handoff made in a customer's webhook owes (business hours began, someone
    in the team came online): the model's summary, then (called after) a note with it, once
    (its claim held). A model that cannot write one leaves none; a session turned back on
    meanwhile is left alone."""
    session = AssistantSession.objects.select_related("conversation").get(pk=pk)
    written = None
    if session.state == State.HANDED_OFF:
        # A failure is in the AI log; the handoff keeps its note, without a summary.
        with contextlib.suppress(llm.ModelError, Refused):
            written = helpers.summary_of(session.conversation, acting_member=None)

    def finish() -> None:
        if written is not None:
            helpers.keep_summary(
                session.conversation,
                *written,
                why=gettext("Summary at handoff:"),
                acting_member=None,
            )
        AssistantSession.objects.filter(pk=pk, due_at=due_at).update(
            due_at=None, claimed_until=None
        )

    return finish


def handoff_summary(conversation: Conversation) -> AssistantOutput | None:
    """The model's summary of the conversation for the team it is handed to (its text on the
    output); None when the model cannot write one: the handoff's note goes without it."""
    try:
        output, _text = helpers.summary_of(conversation, acting_member=None)
    except (llm.ModelError, Refused):
        return None
    return output


def unhappy(conversation: Conversation) -> AssistantOutput | None:
    """A handover when the model reads the customer as unhappy (its reading kept in the AI
    log); None otherwise, or when it cannot read it (the answer goes on: the persona's rules
    still hand over when they should)."""
    try:
        reading = helpers.classified(conversation, acting_member=None)
    except (llm.ModelError, Refused):
        return None
    if reading.sentiment != "negative":
        return None
    return AssistantOutput(
        outcome=Outcome.HANDED_OFF, reason=gettext("The customer seems unhappy.")
    )


def follow(
    session: AssistantSession,
    conversation: Conversation,
    output: AssistantOutput,
    new: list[Message],
    summary: AssistantOutput | None = None,
) -> None:
    """What the answer says to do, in the session's transaction; `summary`, for a handoff, goes
    in its note."""
    if output.text:
        intent = send(session, conversation, output.text, new[-1])
        AssistantOutput.objects.filter(pk=output.pk).update(intent=intent)
    else:
        session.answered_message_id = new[-1].pk
        AssistantSession.objects.filter(pk=session.pk).update(answered_message_id=new[-1].pk)
    if output.outcome == Outcome.FAILED:
        reason = gettext("The assistant could not answer: %(why)s") % {"why": output.reason}
        hand_off(session, reason, question=new)
    elif output.outcome == Outcome.HANDED_OFF:
        hand_off(session, output.reason, question=new, summary=summary)
    elif session.auto_reply.when == AutoReply.When.FIRST_MESSAGE:
        hand_off(session, gettext("The assistant answered the first message."))


def send(
    session: AssistantSession, conversation: Conversation, text: str, last: Message
) -> MessageIntent:
    """The answer, as an ASSISTANT intent through the Gate and the engine: one per
    (conversation, customer message), whatever the retries."""
    intent, created = engine.create_intent(
        session.organization,
        contact=conversation.contact,
        conversation=conversation,
        body=text,
        origin=MessageIntent.Origin.ASSISTANT,
        idempotency_key=f"assistant:{conversation.pk}:{last.pk}",
    )
    # A repeat (a worker that died after sending, taken again) answered nothing new.
    session.answered_message_id, session.turns = last.pk, session.turns + int(created)
    AssistantSession.objects.filter(pk=session.pk).update(
        answered_message_id=last.pk, turns=session.turns
    )
    return intent


# 3 and 4. Handing over, stopping, resuming -------------------------------------------------------


def stop(
    session: AssistantSession, state: str, reason: str, acting_member: Member | None = None
) -> None:
    """The assistant stops in the session's conversation (for good until a person resumes it)."""
    now = timezone.now()
    session.state, session.reason, session.stopped_at = state, reason[:300], now
    session.stopped_by, session.due_at = acting_member, None
    AssistantSession.objects.filter(pk=session.pk).update(
        state=state,
        reason=session.reason,
        stopped_at=now,
        stopped_by=acting_member,
        due_at=None,
        answered_message_id=session.answered_message_id,
    )
    record(
        session.organization_id,
        "assistant.stopped",
        session.conversation,
        actor=acting_member,
        label="assistant",
        state=state,
        reason=session.reason,
    )
    publisher.publish(
        session.organization_id,
        events.ConversationUpdated(conversation_ids=[session.conversation_id]),
    )


def hand_off(
    session: AssistantSession,
    reason: str,
    question: list[Message] = (),
    summary: AssistantOutput | None = None,
) -> None:
    """To the team: the conversation goes to its queue's distribution, with a private note
    saying why, what the customer last asked and, when the model wrote one, a summary of the
    conversation (the note then links to it in the AI log)."""
    stop(session, State.HANDED_OFF, reason)
    conversation = Conversation.objects.get(pk=session.conversation_id)
    asked = " ".join(m.body for m in question if m.body)
    with translation.override(settings.LANGUAGE_CODE):
        body = gettext("The assistant handed this conversation to the team. %(reason)s") % {
            "reason": reason
        }
        if asked:
            body += "\n" + gettext("The customer wrote: “%(text)s”") % {"text": asked[:1000]}
        if summary is not None:
            body += "\n" + gettext("Summary: %(text)s") % {"text": summary.text}
    note = notes.add_note(conversation, body[: notes.Note.MAX_LENGTH], acting_member=None)
    if summary is not None:
        notes.Note.objects.filter(pk=note.pk).update(assistant_output=summary)
    ownership.distribute(conversation)
    # Once distributed: the webhooks' conversation.handed_off says to whom it went.
    publisher.publish(
        conversation.organization_id,
        events.ConversationUpdated(conversation_ids=[conversation.pk], change="handed_off"),
    )


def resume(conversation: Conversation, *, acting_member: Member) -> AssistantSession:
    """A person turns the assistant back on in `conversation`: it answers the customer's next
    message, as the conversation's rule says. Refused where no rule applies, or while a person
    holds the conversation."""
    same_org(conversation, acting_member.organization_id)
    if not ownership.may_work_on(acting_member, conversation):
        raise Forbidden(gettext("This conversation is in a queue you are not in."))
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.assignee_id is not None:
            raise Conflict(gettext("Release the conversation first: a person holds it."))
        rule = rules_for([conversation]).get(conversation.pk)
        if rule is None:
            raise Conflict(
                gettext("The assistant does not answer on this number or team: set it up first.")
            )
        session, _created = AssistantSession.objects.select_for_update().get_or_create(
            conversation=conversation,
            defaults={"organization_id": conversation.organization_id, "auto_reply": rule},
        )
        session.state, session.reason, session.auto_reply = State.ACTIVE, "", rule
        session.started_at, session.stopped_at, session.stopped_by = timezone.now(), None, None
        session.due_at = session.claimed_until = None
        last = (
            Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        )
        # What the customer wrote before is the team's to answer: the assistant takes the next.
        session.answered_message_id = last
        session.save()
        record(
            conversation.organization_id,
            "assistant.resumed",
            conversation,
            actor=acting_member,
        )
    publisher.publish(
        conversation.organization_id, events.ConversationUpdated(conversation_ids=[conversation.pk])
    )
    return session


def stop_here(conversation: Conversation, *, acting_member: Member) -> AssistantSession | None:
    """A person stops the assistant in `conversation` (for good, until one resumes it)."""
    same_org(conversation, acting_member.organization_id)
    if not ownership.may_work_on(acting_member, conversation):
        raise Forbidden(gettext("This conversation is in a queue you are not in."))
    with transaction.atomic():
        session = (
            AssistantSession.objects.select_for_update().filter(conversation=conversation).first()
        )
        if session is None or session.state != State.ACTIVE:
            return session
        stop(session, State.TAKEN_OVER, gettext("A person stopped the assistant."), acting_member)
    return session
