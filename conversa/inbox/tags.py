"""Tags: the organization's labels, put on conversations and contacts.

Nothing here is sent to WhatsApp or meets the engine. Changes to a conversation or a contact
are OperationalEvents in its history and a realtime event after commit (ids only).

Who may do what: any member tags and untags their organization's conversations and contacts;
owners, admins and supervisors create and delete tags (they speak for the whole team).
"""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import must_supervise, record, same_org
from conversa.colours import unknown_colour
from conversa.errors import Conflict, Refused
from conversa.inbox.models import Contact, Conversation, Tag
from conversa.realtime import events, publisher


def create_tag(org: Organization, name: str, colour: str, *, acting_member: Member) -> Tag:
    """A new tag of the organization. Refused: a name taken in any case, an empty or too long
    name, a colour outside the palette."""
    must_supervise(acting_member)
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
    record(org.id, "tag.created", tag, actor=acting_member, name=name, colour=colour)
    return tag


@transaction.atomic
def delete_tag(tag: Tag, *, acting_member: Member) -> None:
    """Delete a tag; it leaves every conversation and contact that had it."""
    must_supervise(acting_member)
    same_org(acting_member, tag.organization_id)
    conversation_ids = list(tag.conversations.values_list("id", flat=True)[:1000])
    record(tag.organization_id, "tag.deleted", tag, actor=acting_member, name=tag.name)
    tag.delete()
    if conversation_ids:
        publisher.publish(
            acting_member.organization_id,
            events.ConversationUpdated(conversation_ids=conversation_ids),
        )


@transaction.atomic
def tag_conversation(conversation: Conversation, tag: Tag, *, acting_member: Member | None) -> bool:
    """Put `tag` on the conversation. Returns False when it had it already (nothing recorded)."""
    same_org(tag, conversation.organization_id)
    through = Conversation.tags.through
    if through.objects.filter(conversation_id=conversation.pk, tag_id=tag.pk).exists():
        return False
    through.objects.bulk_create(
        [through(conversation_id=conversation.pk, tag_id=tag.pk)], ignore_conflicts=True
    )
    conversation_changed(
        conversation, "conversation.tagged", acting_member, tag=tag.pk, name=tag.name
    )
    return True


@transaction.atomic
def untag_conversation(
    conversation: Conversation, tag: Tag, *, acting_member: Member | None
) -> bool:
    """Take `tag` off the conversation. Returns False when it did not have it."""
    same_org(tag, conversation.organization_id)
    removed, _ = Conversation.tags.through.objects.filter(
        conversation_id=conversation.pk, tag_id=tag.pk
    ).delete()
    if not removed:
        return False
    conversation_changed(
        conversation, "conversation.untagged", acting_member, tag=tag.pk, name=tag.name
    )
    return True


@transaction.atomic
def tag_contact(contact: Contact, tag: Tag, *, acting_member: Member | None) -> bool:
    """Put `tag` on the contact. Returns False when it had it already."""
    same_org(tag, contact.organization_id)
    through = Contact.tags.through
    if through.objects.filter(contact_id=contact.pk, tag_id=tag.pk).exists():
        return False
    through.objects.bulk_create(
        [through(contact_id=contact.pk, tag_id=tag.pk)], ignore_conflicts=True
    )
    contact_changed(contact, "contact.tagged", acting_member, tag=tag.pk, name=tag.name)
    return True


@transaction.atomic
def untag_contact(contact: Contact, tag: Tag, *, acting_member: Member | None) -> bool:
    """Take `tag` off the contact. Returns False when it did not have it."""
    same_org(tag, contact.organization_id)
    removed, _ = Contact.tags.through.objects.filter(contact_id=contact.pk, tag_id=tag.pk).delete()
    if not removed:
        return False
    contact_changed(contact, "contact.untagged", acting_member, tag=tag.pk, name=tag.name)
    return True


def conversation_changed(
    conversation: Conversation, verb: str, acting_member: Member | None, **data
):
    record(conversation.organization_id, verb, conversation, actor=acting_member, **data)
    publisher.publish(
        conversation.organization_id, events.ConversationUpdated(conversation_ids=[conversation.pk])
    )


def contact_changed(contact: Contact, verb: str, acting_member: Member | None, **data):
    record(contact.organization_id, verb, contact, actor=acting_member, **data)
    publisher.publish(contact.organization_id, events.ContactUpdated(contact_ids=[contact.pk]))
