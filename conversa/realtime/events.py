"""The realtime events: one definition per type, with a fixed shape.

An event carries its type and ids only (no message text, no phone numbers): pages re-fetch what
changed. Ids are always lists, in plural keys, whether one object changed or a batch of them,
so a page reads one shape. A definition forbids any other field: a misspelt or singular key
raises where the event is made, not in a browser that silently ignores it.

Beside its ids an event may say what happened in a `change`: one word of a closed list (a
`Literal`), never free text, so it can carry nothing personal. Pages ignore it; the outbound
webhooks read it (`conversa.webhooks.outbox`) to tell a conversation resolved from one retagged.
"""

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

# An event about nothing is a mistake at its publish site, not a refresh for every page.
Ids = Annotated[list[StrictInt], Field(min_length=1)]


class Event(BaseModel):
    """A realtime event; its subclasses are the catalogue (`CATALOGUE`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    type: ClassVar[str]

    def payload(self) -> dict:
        """What a socket receives: `{"type": …, "<object>_ids": [...], …}` (and `change`, when
        the publisher said what happened)."""
        return {"type": self.type, **self.model_dump(exclude_none=True)}


class MessageReceived(Event):
    """Customers' messages were stored."""

    type = "MESSAGE_RECEIVED"
    conversation_ids: Ids
    message_ids: Ids


class MessageSent(Event):
    """Outbound messages were queued (the clock icon)."""

    type = "MESSAGE_SENT"
    conversation_ids: Ids
    message_ids: Ids


class MessageStatusUpdated(Event):
    """Messages moved to sent, delivered, read or failed."""

    type = "MESSAGE_STATUS_UPDATED"
    conversation_ids: Ids
    message_ids: Ids


class MessageChanged(Event):
    """Messages were reacted to, edited or deleted, or a reply is held for a new reason (not
    new messages: nothing unread)."""

    type = "MESSAGE_CHANGED"
    conversation_ids: Ids
    message_ids: Ids


class AttachmentUpdated(Event):
    """Messages' files were stored, failed to download, or were put back to download."""

    type = "ATTACHMENT_UPDATED"
    conversation_ids: Ids
    message_ids: Ids


class ConversationUpdated(Event):
    """Conversations' state, tags, notes, queue or unread count changed."""

    type = "CONVERSATION_UPDATED"
    conversation_ids: Ids
    change: Literal["created", "resolved", "reopened", "handed_off"] | None = None


class ConversationAssigned(Event):
    """Conversations were claimed, assigned, transferred or released."""

    type = "CONVERSATION_ASSIGNED"
    conversation_ids: Ids


class OperatorStatus(Event):
    """Operators' availability or capacity changed."""

    type = "OPERATOR_STATUS"
    member_ids: Ids


class ContactUpdated(Event):
    """Contacts' own data changed (their tags, their opt-out): their panels re-fetch."""

    type = "CONTACT_UPDATED"
    contact_ids: Ids
    change: Literal["created", "opted_out", "opted_in"] | None = None


class NumberUpdated(Event):
    """Numbers were added, paired, connected, paused or removed, or their health changed."""

    type = "NUMBER_UPDATED"
    number_ids: Ids
    change: Literal["status_changed"] | None = None


class IntentUpdated(Event):
    """Message intents changed status."""

    type = "INTENT_UPDATED"
    intent_ids: Ids
    change: Literal["decided"] | None = None


class CampaignUpdated(Event):
    """Campaigns started, paused, resumed, were cancelled or finished."""

    type = "CAMPAIGN_UPDATED"
    campaign_ids: Ids
    change: Literal["started", "paused", "resumed", "cancelled", "finished"] | None = None


class LeadUpdated(Event):
    """Leads were created, changed or moved."""

    type = "LEAD_UPDATED"
    lead_ids: Ids
    change: Literal["created", "stage_changed"] | None = None


class FollowupsUpdated(Event):
    """Leads' follow-ups were scheduled or cancelled."""

    type = "FOLLOWUPS_UPDATED"
    lead_ids: Ids


class NotifyAssigned(Event):
    """For one member only (their own sockets): conversations were handed to them. The page
    shows a browser notification, plays a sound and updates the unread count in its title."""

    type = "NOTIFY_ASSIGNED"
    conversation_ids: Ids


class NotifyMessage(Event):
    """For one member only: customers wrote in conversations they hold."""

    type = "NOTIFY_MESSAGE"
    conversation_ids: Ids


class NotifyMention(Event):
    """For one member only: they were mentioned in notes of these conversations."""

    type = "NOTIFY_MENTION"
    conversation_ids: Ids


CATALOGUE: dict[str, type[Event]] = {event.type: event for event in Event.__subclasses__()}
