"""What happens to a message after it is stored, and the messages the business typed on its
own phone: the one place that decides.

- A reaction sets or removes the reacting side's emoji (`Message.reactions`), an edit replaces
  the body and keeps the earlier text in `Message.history`, a revoke marks the message deleted
  (its body stays, for the audit). None of them is a new message: nothing is counted unread,
  nothing reopens, the open thread hears `MessageChanged`.
- A change that arrives before its message (webhooks are reordered) stays an unprocessed
  provider event, keyed by its message's provider id, and is applied when that message is
  stored (`apply_early_changes`), as early statuses are.
- Applying is order-free: reactions go by the latest of each side, edits by their time, a
  revoke by its first time, so the same changes in any order, any number of times, leave the
  same message.
- A message typed on the business's phone is stored outbound, "sent from the phone"
  (`store_sent_from_phone`); the echo of a send of Conversa's own stores nothing, whichever of
  the echo and the send's answer comes first (`absorb_echoes`).
"""

from bisect import insort
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from conversa.accounts.services import record as timeline
from conversa.inbox import contacts
from conversa.inbox import services as inbox
from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number
from conversa.providers.base import IdentityUpdate, InboundMessage, MessageChange
from conversa.providers.models import ProviderEvent, waiting_about
from conversa.realtime import events, publisher

KIND = MessageChange.__name__
# Who reacted, by the change's `from_me`.
SIDE = {True: "business", False: "customer"}


def apply_change(number: Number, event: MessageChange, record: ProviderEvent) -> bool:
    """Apply a change just stored as `record` to its message; False (the record stays
    unprocessed, for `apply_early_changes`) when the message is not stored yet."""
    target = Message.objects.for_org(number.organization).filter(
        number=number, provider_message_id=event.provider_message_id
    )
    message = target.first()
    if message is None and inbox.hold_sends([(number.pk, event.provider_message_id)]):
        # Its message may be committing right now (inbox.hold_sends): look again once it is.
        message = target.first()
    if message is None:
        return False
    settle([message], new={record.pk})
    return True


def apply_early_changes(messages: list[Message]) -> None:
    """Apply the changes that arrived before these just-stored messages (one query)."""
    keyed = [m for m in messages if m.provider_message_id]
    if not keyed:
        return
    inbox.hold_sends([(m.number_id, m.provider_message_id) for m in keyed])
    waiting = waiting_about(KIND, ((m.number_id, m.provider_message_id) for m in keyed))
    if waiting:
        settle(keyed, new=waiting)


def apply_early_changes_to(keys: set[tuple[int, str]]) -> None:
    """`apply_early_changes` for the messages with these (number id, provider id)."""
    if not keys:
        return
    found = Message.objects.filter(
        number_id__in={number_id for number_id, _ in keys},
        provider_message_id__in=[provider_id for _, provider_id in keys],
    )
    apply_early_changes([m for m in found if (m.number_id, m.provider_message_id) in keys])


def settle(messages: list[Message], *, new: set[int] | None = None) -> None:
    """Apply to each message its change records with a pk in `new` (every one of its records
    when None: a message that takes over another's changes), and mark them processed.

    Reactions are read from all the message's reaction records (the latest of each side wins),
    so they need no order; edits and revokes are applied one by one in their time order, each
    in a way that does not depend on what came before it."""
    by_key = {(m.number_id, m.provider_message_id): m for m in messages}
    records = ProviderEvent.objects.filter(kind=KIND).order_by("id").about(by_key)
    applied: list[int] = []
    changed: list[Message] = []
    for key, message in by_key.items():
        mine = [r for r in records if (r.number_id, r.provider_message_id) == key]
        fresh = [r for r in mine if new is None or r.pk in new]
        if not fresh:
            continue
        fields = set()
        if any(change_of(r).change == "reaction" for r in fresh):
            fields |= react(message, mine)
        for record in sorted(fresh, key=lambda r: (moment(r), r.pk)):
            change = change_of(record)
            if change.change == "edit":
                fields |= edit(message, change.body, moment(record))
            elif change.change == "revoke":
                fields |= revoke(message, change, moment(record))
        if fields:
            message.save(update_fields=sorted(fields))
            changed.append(message)
        applied += [r.pk for r in fresh]
    ProviderEvent.objects.filter(pk__in=applied, processed_at__isnull=True).update(
        processed_at=timezone.now()
    )
    publish_changed(changed)


def change_of(record: ProviderEvent) -> MessageChange:
    fields = {k: v for k, v in record.event.items() if k in MessageChange.__dataclass_fields__}
    fields["timestamp"] = None
    return MessageChange(**fields)


def moment(record: ProviderEvent) -> datetime:
    """When a change was made: the provider's time, else when it arrived."""
    stamp = record.event.get("timestamp")
    when = parse_datetime(stamp) if isinstance(stamp, str) else None
    return when or record.received_at


def react(message: Message, records: list[ProviderEvent]) -> set[str]:
    """Each side's reaction is its latest one ("" removed it)."""
    latest: dict[str, tuple] = {}
    for record in records:
        change = change_of(record)
        if change.change != "reaction":
            continue
        side = SIDE[bool(change.from_me)]
        at = (moment(record), record.pk)
        if side not in latest or at > latest[side][0]:
            latest[side] = (at, change.emoji)
    reactions = dict(message.reactions or {})
    for side, (_, emoji) in latest.items():
        if emoji:
            reactions[side] = emoji
        else:
            reactions.pop(side, None)
    if reactions == (message.reactions or {}):
        return set()
    message.reactions = reactions
    return {"reactions"}


def edit(message: Message, body: str, at: datetime) -> set[str]:
    """The latest edit is the body; every other text, the first included, is in the history
    with the time it was written, oldest first. An edit older than the current text (it came
    late) only joins the history."""
    history = list(message.history or [])
    if message.edited_at is None or at >= message.edited_at:
        written = message.edited_at or message.created_at
        insort(history, version(message.body, written), key=version_time)
        message.body, message.edited_at = body, at
    else:
        insort(history, version(body, at), key=version_time)
    message.history = history
    return {"history", "body", "edited_at"}


def version(body: str, at: datetime) -> dict:
    return {"body": body, "at": at.isoformat()}


def version_time(entry: dict) -> datetime:
    return parse_datetime(entry.get("at") or "") or datetime.min.replace(tzinfo=UTC)


def revoke(message: Message, change: MessageChange, at: datetime) -> set[str]:
    """Deleted for everyone, at the first time it was said; the body stays, and the audit
    timeline records it once."""
    if message.deleted_at is not None and message.deleted_at <= at:
        return set()
    if message.deleted_at is None:
        label = "phone" if change.from_me else "customer"
        timeline(message.organization_id, "message.deleted", message, label=label)
    message.deleted_at = at
    return {"deleted_at"}


def publish_changed(messages: list[Message]) -> None:
    by_org: dict[int, list[Message]] = {}
    for message in messages:
        by_org.setdefault(message.organization_id, []).append(message)
    for org_id, group in by_org.items():
        publisher.publish(
            org_id,
            events.MessageChanged(
                conversation_ids=sorted({m.conversation_id for m in group}),
                message_ids=[m.pk for m in group],
            ),
        )


@transaction.atomic(savepoint=False)
def store_sent_from_phone(number: Number, event: InboundMessage) -> Message | None:
    """Store a message the business typed on its own phone: outbound, SENT, "sent from the
    phone", no member and no intent. It is not a customer's message: no unread count, a
    resolved conversation stays resolved, and none of `customer_wrote` follows. The echo of a
    send of Conversa's own (its provider id is already stored) stores nothing: None."""
    stored = Message.objects.filter(number=number, provider_message_id=event.provider_message_id)
    if stored.exists():
        return None
    # No name: a phone message's push name is the business's own, not the customer's.
    contact = sender_contact(number, phone=event.phone, lid=event.lid, user_id=event.user_id)
    conversation = inbox.current_conversation(number, contact, by_customer=False)
    now = timezone.now()
    at = event.timestamp or now
    try:
        with transaction.atomic():
            message = Message.objects.create(
                organization_id=number.organization_id,
                conversation=conversation,
                number=number,
                direction=Message.Direction.OUTBOUND,
                kind=event.kind,
                body=event.body,
                content=event.content,
                reply_to=event.reply_to[: Message._meta.get_field("reply_to").max_length],
                status=Message.Status.SENT,
                sent_from_phone=True,
                provider_message_id=event.provider_message_id,
                created_at=at,
                sent_at=at,
            )
    except IntegrityError:
        # Our send recorded this id meanwhile: this was its echo.
        return None
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now)
    inbox.touch_activity(number, now)
    publisher.publish(
        number.organization_id,
        events.MessageSent(conversation_ids=[conversation.pk], message_ids=[message.pk]),
    )
    apply_early_changes([message])
    return message


def sender_contact(number: Number, *, phone: str, lid: str = "", user_id: str = "") -> Contact:
    """The contact a phone message went to, by any identifier it was seen with (created when
    new; contacts.find_or_create_contact)."""
    return contacts.find_or_create_contact(
        number.organization, phone=phone, lid=lid, user_id=user_id
    )[0]


def absorb_echoes(sent: list[tuple[Message, str]]) -> list[Message]:
    """Remove the "sent from the phone" rows that are in fact the echoes of these sends of
    ours (the echo's webhook won the race against the send's answer), so the send can take
    its provider id: one row per message. Returns the rows removed."""
    wanted = {(message.number_id, provider_id) for message, provider_id in sent}
    echoes = [
        echo
        for echo in Message.objects.filter(
            number_id__in={number_id for number_id, _ in wanted},
            provider_message_id__in=[provider_id for _, provider_id in wanted],
            sent_from_phone=True,
        )
        if (echo.number_id, echo.provider_message_id) in wanted
    ]
    if echoes:
        Message.objects.filter(pk__in=[echo.pk for echo in echoes]).delete()
    return echoes


def take_over_echoes(echoes: list[Message], sent: list[tuple[Message, str]]) -> None:
    """What the removed echoes had gathered moves to the sends they echoed: a status further
    along (delivered, read) and every change (reactions, edits, revokes)."""
    ours = {(message.number_id, provider_id): message for message, provider_id in sent}
    taken = []
    for echo in echoes:
        message = ours[(echo.number_id, echo.provider_message_id)]
        rank = Message.STATUS_RANK.get(echo.status)
        if rank is not None and rank > Message.STATUS_RANK.get(message.status, 0):
            inbox.advance_statuses([message], echo.status)
        taken.append(message)
    if taken:
        settle(taken)
        publisher.publish(
            taken[0].organization_id,
            events.ConversationUpdated(conversation_ids=sorted({m.conversation_id for m in taken})),
        )


def apply_identity_update(number: Number, event: IdentityUpdate) -> None:
    """The provider linked identifiers of one person (contacts.link_identities): a number
    change moves the contact to its new number with an audit entry; identifiers seen
    together make one contact."""
    contacts.link_identities(
        number.organization,
        phone=event.phone,
        lid=event.lid,
        user_id=event.user_id,
        new_phone=event.new_phone,
        reason=event.reason,
    )
