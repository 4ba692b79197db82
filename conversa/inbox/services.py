"""State changes of the inbox: contacts, conversations and messages."""

import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.accounts.services import event as timeline_entry
from conversa.bulk import fetch, insert_instances, one_of, set_column
from conversa.inbox import contacts, deadlines, media, message_changes, ownership, surveys
from conversa.inbox.models import Attachment, Contact, Conversation, Message, Queue
from conversa.numbers.models import Number
from conversa.providers.base import InboundMessage, MessageChange, StatusUpdate
from conversa.providers.models import ProviderEvent
from conversa.realtime import events, publisher


def upsert_contact(org: Organization, phone: str, name: str = "") -> Contact:
    """The contact with this number, created on first sight (`contacts.find_or_create_contact`)."""
    return contacts.upsert_contact(org, phone, name)


def current_conversation(number: Number, contact: Contact, *, by_customer: bool) -> Conversation:
    """The contact's unresolved conversation on this number, else its latest one resolved
    within the organization's reopen window (a new message reopens it), else a new open one
    (its first-response clock started only if the customer is writing: `new_conversation`).

    Two processes can both find nothing for a new contact and both insert: the unique constraint
    on unresolved conversations refuses the second insert (it waits for the first transaction
    and fails once that commits), and the loser reads the winner's row instead.
    """
    threads = Conversation.objects.filter(
        organization_id=number.organization_id, number=number, contact=contact
    )
    cutoff = Conversation.reopen_cutoff(number.organization.reopen_window_hours, timezone.now())
    resolved_last = Case(When(status=Conversation.Status.RESOLVED, then=1), default=0)
    conversation = (
        threads.filter(Conversation.continued_by_customer(cutoff))
        .order_by(resolved_last, "-id")
        .first()
    )
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            now = timezone.now()
            routes = routes_for([number], now)
            conversation = new_conversation(number, contact, routes, now, by_customer=by_customer)
            conversation.save()
            announce_conversations([conversation], "created")
            return conversation
    except IntegrityError:
        return threads.exclude(status=Conversation.Status.RESOLVED).get()


def current_conversations(
    number: Number, contacts: list[Contact], *, by_customer: bool
) -> dict[int, Conversation]:
    """`current_conversation` for many contacts on one number (a campaign's batch): contact id
    → conversation. Those who have one are found in one query; each of the rest gets one as
    `current_conversation` makes it."""
    cutoff = Conversation.reopen_cutoff(number.organization.reopen_window_hours, timezone.now())
    resolved_last = Case(When(status=Conversation.Status.RESOLVED, then=1), default=0)
    found: dict[int, Conversation] = {}
    for conversation in (
        Conversation.objects.filter(
            organization_id=number.organization_id,
            number=number,
            contact_id__in=[contact.pk for contact in contacts],
        )
        .filter(Conversation.continued_by_customer(cutoff))
        .order_by("contact_id", resolved_last, "-id")
    ):
        found.setdefault(conversation.contact_id, conversation)
    for contact in contacts:
        if contact.pk not in found:
            found[contact.pk] = current_conversation(number, contact, by_customer=by_customer)
    return found


# How stale a number's last activity may get before an inbound message writes it again: the
# page shows it in minutes, and writing the one number row for every message would make all
# concurrent inbound transactions queue on its lock.
ACTIVITY_RESOLUTION = timedelta(seconds=5)


@transaction.atomic(savepoint=False)
def store_message(number: Number, event: InboundMessage) -> tuple[Message | None, bool]:
    """Store an inbound message once: (the message, whether its contact is new). A repeat of
    the same provider id stores nothing: (None, False). What follows a customer's message is
    `conversa.inbound.consequences.customer_wrote`'s, not the inbox's.

    1. Find or create the contact by its identifiers (phone, linked id, username id) and its
       conversation (all held unique by the database, so two processes receiving a new
       contact's first messages at once make one of each).
    2. Insert the message; the unique (number, provider_message_id) refuses a second copy, so
       two deliveries of one webhook racing each other still store one row.
    3. A media message gets its attachment (`media.attachment_for`): stored now if the
       webhook carried the bytes, else waiting for the media job.
    4. Count it unread and make the conversation OPEN (a resolved one reopens, a snoozed or
       pending one wakes), in one UPDATE.
    """
    org = number.organization
    now = timezone.now()
    contact, new_contact = contacts.find_or_create_contact(
        org, phone=event.phone, lid=event.lid, user_id=event.user_id, name=event.name
    )
    if new_contact:
        # No other transaction can see this contact before ours commits, so none can have opened
        # a conversation with it: no lookup, no savepoint (the inbound path's hot case).
        routes = routes_for([number], now)
        conversation = new_conversation(number, contact, routes, now, by_customer=True)
        conversation.save()
        announce_conversations([conversation], "created")
    else:
        conversation = current_conversation(number, contact, by_customer=True)
    try:
        with transaction.atomic():
            message = inbound_message(number, conversation, event, now)
            message.save()
    except IntegrityError:
        return None, False
    attachment = media.attachment_for(message, event.content)
    if attachment is not None:
        attachment.save()
    if surveys.take_answers([message], now):
        # A survey's answer: the conversation stays resolved, nobody's work.
        survey_answered([conversation.pk], now)
    else:
        # Whatever its state now (an agent may have just resolved it), a customer's message
        # makes it OPEN: the same statement as the bulk path's `count_unread`.
        Conversation.objects.filter(pk=conversation.pk).update(
            unread_count=F("unread_count") + 1,
            last_message_at=now,
            last_inbound_at=now,
            **CUSTOMER_OPENS,
        )
        customer_opened([conversation], now)
    touch_activity(number, now)
    message_changes.apply_early_changes([message])
    return message, new_contact


def survey_answered(conversation_ids: list[int], now: datetime) -> None:
    """Conversations whose customer answered the satisfaction survey: they stay resolved,
    unread nothing, no clock restarted; only their latest activity moves."""
    Conversation.objects.filter(pk__in=conversation_ids).update(
        last_message_at=now, last_inbound_at=now
    )


# What a customer's message does to its conversation's state, whatever it was.
CUSTOMER_OPENS = {"status": Conversation.Status.OPEN, "snoozed_until": None, "resolved_at": None}


def customer_opened(conversations: list[Conversation], now: datetime) -> None:
    """History for the conversations a customer's message brought back to OPEN (by their state
    as read before the update): reopened from resolved, woken from snoozed or pending; for
    reopened ones, their assignees recounted and a new SLA cycle. The customer's first message
    in a cycle the business started starts its SLA clocks. Nothing to do, and no
    query, in the usual case."""
    deadlines.customer_first_wrote(
        [
            c
            for c in conversations
            if c.first_inbound_at is None and c.status != Conversation.Status.RESOLVED
        ],
        now,
    )
    changed = [c for c in conversations if c.status != Conversation.Status.OPEN]
    if not changed:
        return
    OperationalEvent.objects.bulk_create(
        timeline_entry(
            c.organization_id,
            "conversation.reopened"
            if c.status == Conversation.Status.RESOLVED
            else "conversation.woken",
            c,
            label="customer",
            previous=c.status,
        )
        for c in changed
    )
    reopened = [c for c in changed if c.status == Conversation.Status.RESOLVED]
    ownership.recount_open([c.assignee_id for c in reopened])
    deadlines.restart_clocks(reopened, now, by_customer=True)
    announce_conversations(reopened, "reopened")
    for c in changed:
        for name, value in CUSTOMER_OPENS.items():
            setattr(c, name, value)


def inbound_message(
    number: Number, conversation: Conversation, event: InboundMessage, now
) -> Message:
    """The unsaved row of a customer's message."""
    return Message(
        organization_id=number.organization_id,
        conversation=conversation,
        number=number,
        direction=Message.Direction.INBOUND,
        kind=event.kind,
        body=event.body,
        reply_to=event.reply_to[: Message._meta.get_field("reply_to").max_length],
        status=Message.Status.RECEIVED,
        provider_message_id=event.provider_message_id,
        created_at=event.timestamp or now,
        # A media file's bytes carried in the webhook go to storage (`media.attachment_for`),
        # never into the row.
        content=media.without_bytes(event.content),
    )


@dataclass(frozen=True)
class Route:
    """Where a number's new conversations land: its queue (its first by id) and, from the
    queue's SLA targets and the organization's business hours, their due times if they open
    now."""

    queue_id: int | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None


def routes_for(numbers: list[Number], now: datetime) -> dict[int, Route]:
    """Number id → its `Route` (numbers outside any queue are absent), in one query. The
    numbers come with their organization (the webhook front door reads them together)."""
    by_id = {i.pk: i for i in numbers}
    routes: dict[int, Route] = {}
    quote = connection.ops.quote_name
    among, ids = one_of(by_id)
    # Written out: every batch of webhooks asks (see `bulk.one_of`).
    found = fetch(
        "SELECT r.number_id, r.queue_id, q.first_response_minutes, q.resolution_minutes"  # noqa: S608
        f" FROM {quote(Queue.numbers.through._meta.db_table)} AS r"
        f" JOIN {quote(Queue._meta.db_table)} AS q ON q.id = r.queue_id"
        f" WHERE r.number_id {among} ORDER BY r.queue_id",
        [ids],
    )
    for number_id, queue_id, first, resolution in found:
        if number_id in routes:
            continue
        due = (None, None)
        if first is not None or resolution is not None:
            schedule = by_id[number_id].organization.sla_schedule()
            due = deadlines.due_times(now, first, resolution, schedule)
        routes[number_id] = Route(queue_id, *due)
    return routes


def new_conversation(
    number: Number, contact: Contact, routes: dict[int, Route], now: datetime, *, by_customer: bool
) -> Conversation:
    """The unsaved first conversation of a contact on a number, in the number's queue, its
    SLA clocks started `now` when the customer is writing (one the business starts waits for
    the customer's first message, `customer_opened`)."""
    route = routes.get(number.pk) or Route()
    return Conversation(
        organization_id=number.organization_id,
        number=number,
        contact=contact,
        queue_id=route.queue_id,
        created_at=now,
        opened_at=now,
        last_message_at=now,
        first_inbound_at=now if by_customer else None,
        first_response_due_at=route.first_response_due_at if by_customer else None,
        resolution_due_at=route.resolution_due_at if by_customer else None,
    )


def announce_conversations(conversations: list[Conversation], change: str) -> None:
    """Conversations created or reopened by the inbound path: which the outbound webhooks send
    as `conversation.created` / `conversation.reopened` (pages hear of their messages)."""
    by_org: dict[int, list[int]] = {}
    for c in conversations:
        by_org.setdefault(c.organization_id, []).append(c.pk)
    for org_id, ids in by_org.items():
        publisher.publish(
            org_id, events.ConversationUpdated(conversation_ids=sorted(ids), change=change)
        )


def touch_activity(number: Number, now) -> None:
    if number.last_activity_at is None or now - number.last_activity_at > ACTIVITY_RESOLUTION:
        Number.objects.filter(pk=number.pk).update(last_activity_at=now)
        number.last_activity_at = now


def apply_status(number: Number, event: StatusUpdate) -> Message | None:
    """Move an outbound message's status forward; never backwards (invariant 4).

    Returns the message, or None when no outbound message has that provider id yet.
    """
    outbound = Message.objects.for_org(number.organization).filter(
        number=number,
        direction=Message.Direction.OUTBOUND,
        provider_message_id=event.provider_message_id,
    )
    message = outbound.first()
    if message is None and hold_sends([(number.pk, event.provider_message_id)]):
        # The send may be committing right now: once its lock is ours, it is either visible or
        # will see this status waiting (`apply_early_statuses`).
        message = outbound.first()
    if message is None:
        return None
    advance_status(message, event.status, error=event.error)
    return message


def hold_sends(sent: list[tuple[int, str]]) -> bool:
    """PostgreSQL: hold, until the transaction ends, a lock per (number id, provider message
    id), so a status or a change that finds no message yet and the storing of that message
    (our send recorded, a customer's message stored) take turns.
    Without it each can miss the other under READ COMMITTED (the status is left waiting for a
    send that was already recorded). SQLite writes one transaction at a time: nothing to do.
    Returns whether locks were taken."""
    if connection.vendor != "postgresql" or not sent:
        return False
    keys = sorted(
        {
            int.from_bytes(
                hashlib.blake2b(f"{number_id}:{pid}".encode(), digest_size=8).digest(),
                "big",
                signed=True,
            )
            for number_id, pid in sent
        }
    )
    fetch(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(%s::bigint[]) AS k ORDER BY k) s",
        [keys],
    )
    return True


def apply_early_statuses(sent: list[tuple[Number, str]]) -> list[tuple[Message, StatusUpdate]]:
    """Apply status updates (and reactions, edits, revokes) that arrived before the sends
    they are about were recorded; the (message, status update) pairs applied."""
    if not sent:
        return []
    hold_sends([(number.pk, provider_id) for number, provider_id in sent])
    numbers = {number.pk: number for number, _ in sent}
    early = (
        ProviderEvent.objects.filter(
            kind__in=[StatusUpdate.__name__, MessageChange.__name__], processed_at__isnull=True
        )
        .order_by("id")
        .about((number.pk, provider_id) for number, provider_id in sent)
    )
    changed, applied = set(), []
    for record in early:
        if record.kind == MessageChange.__name__:
            changed.add((record.number_id, record.provider_message_id))
            continue
        number, update = numbers[record.number_id], StatusUpdate(**record.event)
        message = apply_status(number, update)
        if message is not None:
            ProviderEvent.objects.filter(pk=record.pk).update(processed_at=timezone.now())
            applied.append((message, update))
    message_changes.apply_early_changes_to(changed)
    return applied


def advance_status(message: Message, status: str, *, error: str = "") -> bool:
    """Set `status` if it is ahead of the current one. Returns whether anything changed."""
    return advance_statuses([message], status, error=error) == 1


def advance_statuses(messages: list[Message], status: str, *, error: str = "") -> int:
    """Move each message to `status` where that is ahead of its current one (invariant 4), in
    one conditional UPDATE, so a concurrent update cannot move one back. Returns how many moved.
    """
    if not messages:
        return 0
    now = timezone.now()
    fields: dict = {"status": status}
    if status == Message.Status.FAILED:
        allowed_from = [Message.Status.PENDING, Message.Status.SENT]
        fields["error"] = error
    else:
        rank = Message.STATUS_RANK[status]
        allowed_from = [s for s, r in Message.STATUS_RANK.items() if r < rank]
        stamp = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}[status]
        fields[stamp] = now
    ids = [message.pk for message in messages]
    changed = Message.objects.filter(pk__in=ids, status__in=allowed_from).update(**fields)
    if not changed:
        return 0
    moved = messages
    if changed != len(messages):
        now_at = set(Message.objects.filter(pk__in=ids, status=status).values_list("pk", flat=True))
        moved = [message for message in messages if message.pk in now_at]
    for message in moved:
        for name, value in fields.items():
            setattr(message, name, value)
    publish_messages(moved, events.MessageStatusUpdated)
    return changed


def record_sends(sent: list[tuple[Message, str]]) -> None:
    """Outbound messages the provider accepted: their provider ids, then SENT.

    The echo of a send (the business's phone reports it too) may have been stored first, as
    "sent from the phone", under the same id: it is removed and the send takes its place and
    what it gathered (`message_changes.absorb_echoes`), so one row remains."""
    if not sent:
        return
    ids = {message.pk: provider_id for message, provider_id in sent}
    echoes = []
    try:
        with transaction.atomic():
            set_column(Message, "provider_message_id", ids)
    except IntegrityError:
        echoes = message_changes.absorb_echoes(sent)
        set_column(Message, "provider_message_id", ids)
    for message, provider_id in sent:
        message.provider_message_id = provider_id
    advance_statuses([message for message, _ in sent], Message.Status.SENT)
    message_changes.take_over_echoes(echoes, sent)


def publish_messages(
    messages: list[Message], event: type[events.MessageReceived | events.MessageStatusUpdated]
) -> None:
    """One event per organization for many messages."""
    by_org: dict[int, list[Message]] = {}
    for message in messages:
        by_org.setdefault(message.organization_id, []).append(message)
    for org_id, group in by_org.items():
        publisher.publish(
            org_id,
            event(
                conversation_ids=sorted({m.conversation_id for m in group}),
                message_ids=[m.id for m in group],
            ),
        )


def new_outbound_message(
    conversation: Conversation,
    body: str,
    *,
    acting_member: Member | None,
    kind: str = "text",
    content: dict | None = None,
) -> Message:
    """An outbound message waiting for the engine (status PENDING, the clock icon)."""
    message = Message.objects.create(
        organization=conversation.organization,
        conversation=conversation,
        number=conversation.number,
        direction=Message.Direction.OUTBOUND,
        kind=kind,
        body=body,
        content=content or {},
        status=Message.Status.PENDING,
        sender=acting_member,
    )
    changes = {"last_message_at": message.created_at}
    if acting_member is not None:
        # An operator's first reply to the customer stops the first-response clock
        # (automations' do not, nor a message sent before the customer wrote).
        changes["first_response_at"] = Case(
            When(
                first_inbound_at__isnull=False,
                then=Coalesce("first_response_at", Value(message.created_at)),
            ),
            default=F("first_response_at"),
        )
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    publisher.publish(
        conversation.organization_id,
        events.MessageSent(conversation_ids=[conversation.id], message_ids=[message.id]),
    )
    return message


def new_outbound_texts(pairs: list[tuple[Conversation, str]]) -> list[Message]:
    """`new_outbound_message` for many texts that no member sends (automated ones), in a few
    statements: one insert, one update of the conversations, one realtime event."""
    if not pairs:
        return []
    now = timezone.now()
    messages = Message.objects.bulk_create(
        Message(
            organization_id=conversation.organization_id,
            conversation=conversation,
            number_id=conversation.number_id,
            direction=Message.Direction.OUTBOUND,
            body=body,
            status=Message.Status.PENDING,
            created_at=now,
        )
        for conversation, body in pairs
    )
    conversation_ids = sorted({conversation.pk for conversation, _ in pairs})
    Conversation.objects.filter(pk__in=conversation_ids).update(last_message_at=now)
    publisher.publish(
        pairs[0][0].organization_id,
        events.MessageSent(
            conversation_ids=conversation_ids, message_ids=[message.id for message in messages]
        ),
    )
    return messages


def mark_read(conversation: Conversation) -> None:
    """The team has seen the conversation: clear its unread count."""
    if conversation.unread_count:
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
        conversation.unread_count = 0
        publisher.publish(
            conversation.organization_id,
            events.ConversationUpdated(conversation_ids=[conversation.id]),
        )


def store_messages(
    arrivals: list[tuple[Number, InboundMessage]],
) -> tuple[list[Message], set[int]]:
    """Store many new inbound messages at once (the inbound path under load): a few statements
    for the whole batch instead of a dozen per message. Returns the messages and the ids of the
    contacts first seen in the batch.

    The caller has already made sure, under its event records' unique keys, that each message
    is new. Rows are inserted without ignoring conflicts: if another process races this batch
    (the same message, a new contact's first thread), a unique constraint raises IntegrityError
    and the caller applies the batch one message at a time with `store_message` instead.
    Senders known by more than a phone (a linked id, a username id), and phones that point at
    two contacts (to be merged), go through `store_message` here, one at a time.
    """
    if not arrivals:
        return [], set()
    now = timezone.now()
    usual = [(n, e) for n, e in arrivals if e.phone and not e.lid and not e.user_id]
    # Senders whose phone points at two contacts are left out of `contact_of`: below, they go
    # one at a time, which merges them.
    contact_of, new_contacts, _conflicting = contacts.contacts_for_batch(
        [(number.organization_id, event.phone, event.name) for number, event in usual]
    )
    unusual = [
        (n, e)
        for n, e in arrivals
        if (n.organization_id, e.phone) not in contact_of or e.lid or e.user_id or not e.phone
    ]
    usual = [(n, e) for n, e in usual if (n.organization_id, e.phone) in contact_of]
    messages: list[Message] = []
    if usual:
        senders = {
            (number.pk, contact_of[(number.organization_id, event.phone)].pk): (
                number,
                contact_of[(number.organization_id, event.phone)],
            )
            for number, event in usual
        }
        unread = Counter(
            (number.pk, contact_of[(number.organization_id, event.phone)].pk)
            for number, event in usual
        )
        threads, started = threads_for(senders, now, new_contacts=new_contacts, unread=unread)
        messages = insert_instances(
            [
                inbound_message(
                    number,
                    threads[(number.pk, contact_of[(number.organization_id, event.phone)].pk)],
                    event,
                    now,
                )
                for number, event in usual
            ]
        )
        attachments = [
            attachment
            for message, (_, event) in zip(messages, usual, strict=True)
            if (attachment := media.attachment_for(message, event.content)) is not None
        ]
        # Only when there are: even an empty bulk_create builds a queryset, and most batches
        # are text.
        if attachments:
            Attachment.objects.bulk_create(attachments)
        # Survey answers leave their conversations resolved; every other message opens its own.
        answers = surveys.take_answers(messages, now)
        rest = [m for m in messages if m.pk not in answers]
        if answers:
            survey_answered(list({m.conversation_id for m in messages if m.pk in answers}), now)
        # A conversation started by this batch was written with its unread count already.
        if counted := [m for m in rest if m.conversation_id not in started]:
            count_unread(counted, now)
        message_changes.apply_early_changes(messages)
        opened = {m.conversation_id: m.conversation for m in rest}
        customer_opened(list(opened.values()), now)
        for number in {number.pk: number for number, _ in usual}.values():
            touch_activity(number, now)
    for number, event in unusual:
        message, new_contact = store_message(number, event)
        if message is not None:
            messages.append(message)
            if new_contact:
                new_contacts.add(message.conversation.contact_id)
    return messages, new_contacts


def threads_for(
    senders: dict[tuple[int, int], tuple[Number, Contact]],
    now: datetime,
    *,
    new_contacts: Collection[int] = (),
    unread: Mapping[tuple[int, int], int],
) -> tuple[dict[tuple[int, int], Conversation], set[int]]:
    """(number id, contact id) → the conversation each message goes to, as
    `current_conversation` chooses: the unresolved one, else the latest resolved within the
    organization's reopen window (reopened by `count_unread`), else a new one; and the ids of
    the new ones, written as `count_unread` would leave them with `unread`'s messages (one
    statement, not an insert and an update of every index). Contacts in `new_contacts` were
    created in this transaction: they have none yet, and are not looked up.
    """
    # The numbers come with their organization (the webhook front door reads them together).
    cutoffs = {
        number.organization_id: Conversation.reopen_cutoff(
            number.organization.reopen_window_hours, now
        )
        for number, _ in senders.values()
    }
    known = {contact_id for _, contact_id in senders if contact_id not in new_contacts}
    existing: Iterable[Conversation] = ()
    if known:
        existing = Conversation.objects.filter(
            Conversation.continued_by_customer(min(cutoffs.values())),
            number_id__in={number_id for number_id, _ in senders},
            contact_id__in=known,
        ).order_by("id")
    chosen: dict[tuple[int, int], Conversation] = {}
    for conversation in existing:
        key = (conversation.number_id, conversation.contact_id)
        if key not in senders:
            continue
        if not conversation.is_continued_by_customer(cutoffs[conversation.organization_id]):
            continue
        best = chosen.get(key)
        resolved = conversation.status == Conversation.Status.RESOLVED
        if best is None or not resolved or best.status == Conversation.Status.RESOLVED:
            chosen[key] = conversation
    numbers = list({number.pk: number for number, _ in senders.values()}.values())
    routes = routes_for(numbers, now)
    fresh = []
    for key, (number, contact) in senders.items():
        if key not in chosen:
            conversation = new_conversation(number, contact, routes, now, by_customer=True)
            conversation.unread_count, conversation.last_inbound_at = unread[key], now
            fresh.append(conversation)
    created = insert_instances(fresh)
    for conversation in created:
        chosen[(conversation.number_id, conversation.contact_id)] = conversation
    announce_conversations(created, "created")
    return chosen, {c.pk for c in created}


def count_unread(messages: list[Message], now) -> None:
    """Each conversation: unread plus its new messages, its last activity now, and OPEN
    whatever its state (`CUSTOMER_OPENS`, as `store_message`), in one statement."""
    added: dict[int, int] = {}
    for message in messages:
        added[message.conversation_id] = added.get(message.conversation_id, 0) + 1
    quote = connection.ops.quote_name
    table = quote(Conversation._meta.db_table)
    rows = ", ".join(["(%s, %s)"] * len(added))
    sql = (
        f"UPDATE {table} SET unread_count = unread_count + v.column2, "  # noqa: S608
        "last_message_at = %s, last_inbound_at = %s, "
        "status = %s, snoozed_until = NULL, resolved_at = NULL "
        f"FROM (VALUES {rows}) AS v WHERE {table}.id = v.column1"
    )
    params = [now, now, CUSTOMER_OPENS["status"]]
    params += [item for pair in added.items() for item in pair]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
