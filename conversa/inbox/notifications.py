"""Notifications: a conversation handed to me, a customer's message in one of mine, a mention
of me in a note. Each goes to the member's own sockets only (`publish_to_member`), as the
member's preferences allow; the page turns it into a browser notification, a sound and the
unread count in its title (conversa/static/conversa/notify.js)."""

import re
from collections.abc import Iterable

from django.utils import timezone

from conversa.accounts.models import Member
from conversa.inbox.models import Conversation, Mention, Note, Presence
from conversa.realtime import events, publisher

# kind → its event, and the preference that turns it off
KINDS = {
    "assigned": (events.NotifyAssigned, "notify_assigned"),
    "message": (events.NotifyMessage, "notify_messages"),
    "mention": (events.NotifyMention, "notify_mentions"),
}


def notify(member_ids: Iterable[int], kind: str, conversation_id: int) -> None:
    """Tell these members (their sockets alone, after commit) of `kind` in the conversation,
    each unless they turned that kind off."""
    ids = {pk for pk in member_ids if pk}
    if not ids:
        return
    event, field = KINDS[kind]
    off = set(
        Presence.objects.filter(member_id__in=ids, **{field: False}).values_list(
            "member_id", flat=True
        )
    )
    for member_id in sorted(ids - off):
        publisher.publish_to_member(member_id, event(conversation_ids=[conversation_id]))


def unread_count(member: Member, presence: Presence | None = None) -> int:
    """What the tab's title counts for the member: their open conversations with messages
    nobody has read, and the mentions of them not yet seen (each as their preferences allow)."""
    presence = presence or Presence.objects.filter(member=member).first() or Presence()
    count = 0
    if presence.notify_messages or presence.notify_assigned:
        count += (
            Conversation.objects.filter(organization_id=member.organization_id, assignee=member)
            .exclude(status=Conversation.Status.RESOLVED)
            .filter(unread_count__gt=0)
            .count()
        )
    if presence.notify_mentions:
        count += Mention.objects.filter(
            organization_id=member.organization_id, member=member, read_at__isnull=True
        ).count()
    return count


def seen(conversation: Conversation, member: Member) -> None:
    """The member opened the conversation: their mentions in it are read."""
    Mention.objects.filter(
        organization_id=conversation.organization_id,
        conversation=conversation,
        member=member,
        read_at__isnull=True,
    ).update(read_at=timezone.now())


def mentioned(note: Note) -> list[Member]:
    """Members of the note's organization named `@Name` in it (their display name, any case;
    the longest name first, so "@Ana Souza" is not also "@Ana"), who may work on its
    conversation, and not its author."""
    body = note.body
    if "@" not in body:
        return []
    members = Member.objects.filter(organization_id=note.organization_id).exclude(pk=note.author_id)
    found = []
    for member in sorted(members, key=lambda m: -len(m.display_name.strip())):
        name = member.display_name.strip()
        if not name:
            continue
        pattern = re.compile(r"(?<![\w@])@" + re.escape(name) + r"(?!\w)", re.IGNORECASE)
        if pattern.search(body):
            found.append(member)
            body = pattern.sub(" ", body)
    conversation = note.conversation
    return [m for m in found if may_see(m, conversation)]


def may_see(member: Member, conversation: Conversation) -> bool:
    if member.supervises or conversation.queue_id is None:
        return True
    if conversation.assignee_id == member.pk:
        return True
    return member.queues.filter(pk=conversation.queue_id).exists()


def mention(note: Note) -> list[int]:
    """Store the mentions of a new note and notify whoever it names. Returns their ids."""
    members = mentioned(note)
    Mention.objects.bulk_create(
        [
            Mention(
                organization_id=note.organization_id,
                note=note,
                conversation_id=note.conversation_id,
                member=member,
            )
            for member in members
        ],
        ignore_conflicts=True,
    )
    ids = [m.pk for m in members]
    notify(ids, "mention", note.conversation_id)
    return ids
