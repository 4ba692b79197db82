"""Private notes: what the team writes in a conversation for itself, never sent to the
customer. Any member writes them in their organization's conversations."""

from django.db import transaction
from django.utils.translation import gettext

from conversa.accounts.models import Member
from conversa.accounts.services import record, same_org
from conversa.errors import Refused
from conversa.inbox import notifications
from conversa.inbox.models import Conversation, Note
from conversa.realtime import events, publisher


@transaction.atomic
def add_note(conversation: Conversation, body: str, *, acting_member: Member | None) -> Note:
    """A private note in the conversation, for the team only: stored, put in the history and
    announced (CONVERSATION_UPDATED: its page re-fetches the notes); never sent to the customer.
    Members it names with `@Name` are mentioned: stored, and notified on their own sockets.
    With no `acting_member` the assistant wrote it (why it handed the conversation over)."""
    if acting_member is not None:
        same_org(acting_member, conversation.organization_id)
    body = body.strip()
    if not body or len(body) > Note.MAX_LENGTH:
        raise Refused(gettext("A note is 1 to %(n)s characters.") % {"n": Note.MAX_LENGTH})
    note = Note.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        author=acting_member,
        by_assistant=acting_member is None,
        body=body,
    )
    # The history keeps that a note was written, not its text: the note is the record.
    record(
        conversation.organization_id,
        "conversation.note_added",
        conversation,
        actor=acting_member,
        label="assistant",
        note=note.pk,
    )
    notifications.mention(note)
    publisher.publish(
        conversation.organization_id, events.ConversationUpdated(conversation_ids=[conversation.pk])
    )
    return note
