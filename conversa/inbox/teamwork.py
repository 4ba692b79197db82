"""What a team adds around its conversations: tags, canned replies and private notes.

Nothing here is sent to WhatsApp or meets the engine. Changes to a conversation are
OperationalEvents in its history and a realtime event after commit (ids only).

Who may do what: any member tags, untags and writes notes in their organization's
conversations and contacts; owners, admins and supervisors create and delete tags and write,
change and delete canned replies (they speak for the whole team).
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import must_supervise, record, same_org
from conversa.colours import unknown_colour
from conversa.errors import Conflict, Refused
from conversa.inbox.models import CannedReply, Contact, Conversation, Note, Tag
from conversa.realtime import events, publisher

# Tags


def create_tag(org: Organization, name: str, colour: str, *, by: Member) -> Tag:
    """A new tag of the organization. Refused: a name taken in any case, an empty or too long
    name, a colour outside the palette."""
    must_supervise(by)
    name = " ".join(name.split())
    if not name or len(name) > Tag._meta.get_field("name").max_length:
        raise Refused(gettext("A tag's name is 1 to 50 characters."))
    if not Tag.VALID_COLOUR.allows(colour):
        raise Refused(unknown_colour(colour))
    try:
        # Within its own savepoint: the unique index decides between two people creating the
        # same name at once, and the loser's outer transaction stays usable.
        with transaction.atomic():
            tag = Tag.objects.create(organization=org, name=name, colour=colour)
    except IntegrityError as exc:
        raise Conflict(gettext("A tag named “%(name)s” exists.") % {"name": name}) from exc
    record(org.id, "tag.created", tag, actor=by, name=name, colour=colour)
    return tag


@transaction.atomic
def delete_tag(tag: Tag, *, by: Member) -> None:
    """Delete a tag; it leaves every conversation and contact that had it."""
    must_supervise(by)
    same_org(by, tag.organization_id)
    conversation_ids = list(tag.conversations.values_list("id", flat=True)[:1000])
    record(tag.organization_id, "tag.deleted", tag, actor=by, name=tag.name)
    tag.delete()
    if conversation_ids:
        publisher.publish(
            by.organization_id, events.ConversationUpdated(conversation_ids=conversation_ids)
        )


@transaction.atomic
def tag_conversation(conversation: Conversation, tag: Tag, *, by: Member | None) -> bool:
    """Put `tag` on the conversation. Returns False when it had it already (nothing recorded)."""
    same_org(tag, conversation.organization_id)
    through = Conversation.tags.through
    if through.objects.filter(conversation_id=conversation.pk, tag_id=tag.pk).exists():
        return False
    through.objects.bulk_create(
        [through(conversation_id=conversation.pk, tag_id=tag.pk)], ignore_conflicts=True
    )
    conversation_changed(conversation, "conversation.tagged", by, tag=tag.pk, name=tag.name)
    return True


@transaction.atomic
def untag_conversation(conversation: Conversation, tag: Tag, *, by: Member | None) -> bool:
    """Take `tag` off the conversation. Returns False when it did not have it."""
    same_org(tag, conversation.organization_id)
    removed, _ = Conversation.tags.through.objects.filter(
        conversation_id=conversation.pk, tag_id=tag.pk
    ).delete()
    if not removed:
        return False
    conversation_changed(conversation, "conversation.untagged", by, tag=tag.pk, name=tag.name)
    return True


@transaction.atomic
def tag_contact(contact: Contact, tag: Tag, *, by: Member | None) -> bool:
    """Put `tag` on the contact. Returns False when it had it already."""
    same_org(tag, contact.organization_id)
    through = Contact.tags.through
    if through.objects.filter(contact_id=contact.pk, tag_id=tag.pk).exists():
        return False
    through.objects.bulk_create(
        [through(contact_id=contact.pk, tag_id=tag.pk)], ignore_conflicts=True
    )
    contact_changed(contact, "contact.tagged", by, tag=tag.pk, name=tag.name)
    return True


@transaction.atomic
def untag_contact(contact: Contact, tag: Tag, *, by: Member | None) -> bool:
    """Take `tag` off the contact. Returns False when it did not have it."""
    same_org(tag, contact.organization_id)
    removed, _ = Contact.tags.through.objects.filter(contact_id=contact.pk, tag_id=tag.pk).delete()
    if not removed:
        return False
    contact_changed(contact, "contact.untagged", by, tag=tag.pk, name=tag.name)
    return True


def conversation_changed(conversation: Conversation, verb: str, by: Member | None, **data):
    record(conversation.organization_id, verb, conversation, actor=by, **data)
    publisher.publish(
        conversation.organization_id, events.ConversationUpdated(conversation_ids=[conversation.pk])
    )


def contact_changed(contact: Contact, verb: str, by: Member | None, **data):
    record(contact.organization_id, verb, contact, actor=by, **data)
    publisher.publish(contact.organization_id, events.ContactUpdated(contact_ids=[contact.pk]))


# Canned replies


def save_canned_reply(
    org: Organization,
    shortcode: str,
    body: str,
    *,
    by: Member,
    reply: CannedReply | None = None,
) -> CannedReply:
    """Create a canned reply, or change `reply`. Refused with every problem at once: a
    shortcode not made of lowercase letters, digits, '-' and '_'; an empty or too long body;
    a variable that is not one of `CannedReply.VARIABLES` (a typo like `{{contact.nme}}` is
    caught here rather than sent to a customer); a shortcode taken (409)."""
    must_supervise(by)
    shortcode = shortcode.strip().removeprefix("/").lower()
    problems = CannedReply.problems(shortcode, body)
    if problems:
        raise Refused(" ".join(str(p) for p in problems))
    if reply is not None:
        same_org(reply, org.id)
    else:
        reply = CannedReply(organization=org, created_by=by)
    reply.shortcode, reply.body, reply.updated_at = shortcode, body, timezone.now()
    try:
        with transaction.atomic():
            reply.save()
    except IntegrityError as exc:
        raise Conflict(gettext("The shortcode /%(code)s is taken.") % {"code": shortcode}) from exc
    return reply


def delete_canned_reply(reply: CannedReply, *, by: Member) -> None:
    must_supervise(by)
    same_org(reply, by.organization_id)
    reply.delete()


def search_canned_replies(org: Organization, prefix: str = "", limit: int = 20):
    """The organization's canned replies whose shortcode starts with `prefix` (what follows
    the `/` typed in the composer), by shortcode."""
    prefix = prefix.strip().removeprefix("/").lower()
    replies = CannedReply.objects.for_org(org)
    if prefix:
        replies = replies.filter(shortcode__startswith=prefix)
    return replies.order_by("shortcode")[:limit]


def render_canned(reply: CannedReply, conversation: Conversation, member: Member | None) -> str:
    """The reply's body with its variables filled in for this conversation's contact, the
    operator `member` and the organization. Plain text: the composer and the thread escape it
    when they display it. A variable unknown by now (the body was saved before it was
    removed) is left as typed, so the operator sees it before sending."""
    same_org(reply, conversation.organization_id)
    contact, org = conversation.contact, conversation.organization

    def fill(match) -> str:
        read = CannedReply.VARIABLES.get(match.group(1))
        return read(contact, member, org) if read else match.group(0)

    return CannedReply.PLACEHOLDER.sub(fill, reply.body)


# Notes


@transaction.atomic
def add_note(conversation: Conversation, body: str, *, author: Member) -> Note:
    """A private note in the conversation, for the team only: stored, put in the history and
    announced (CONVERSATION_UPDATED: its page re-fetches the notes); never sent to the customer."""
    same_org(author, conversation.organization_id)
    body = body.strip()
    if not body or len(body) > Note.MAX_LENGTH:
        raise Refused(gettext("A note is 1 to %(n)s characters.") % {"n": Note.MAX_LENGTH})
    note = Note.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        author=author,
        body=body,
    )
    # The history keeps that a note was written, not its text: the note is the record.
    record(
        conversation.organization_id,
        "conversation.note_added",
        conversation,
        actor=author,
        note=note.pk,
    )
    publisher.publish(
        conversation.organization_id, events.ConversationUpdated(conversation_ids=[conversation.pk])
    )
    return note
