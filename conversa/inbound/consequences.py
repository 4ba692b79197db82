"""A customer wrote: the inbox stores what arrived, then everything that follows it, listed once.

Both inbound paths end here: one message at a time (`receive_message`: a webhook applied alone,
a retried one, the demo) and a batch (`receive_messages`: the webhook front door under load).
The inbox only stores; the consequences that build on it (the CRM's follow-ups, distribution,
realtime, opt-out keywords, and later the assistant and outbound webhooks) are one list, in
`customer_wrote`, so the inbox never imports the modules that react to it.
"""

from collections.abc import Collection

from conversa.assistant import autoreply
from conversa.campaigns import keywords, replies
from conversa.crm import followups
from conversa.inbox import message_changes, notifications, ownership, surveys
from conversa.inbox import services as inbox
from conversa.inbox.models import Message
from conversa.numbers.models import Number
from conversa.providers.base import InboundMessage, PreferenceUpdate
from conversa.realtime import events


def receive_message(number: Number, event: InboundMessage) -> Message | None:
    """Store one inbound message once and apply what follows it; a repeat returns None.

    A message the business typed on its own phone (`from_me`) is stored as outbound and
    nothing follows it: the customer did not write."""
    if event.from_me:
        return message_changes.store_sent_from_phone(number, event)
    message, new_contact = inbox.store_message(number, event)
    if message is None:
        return None
    new_contacts = {message.conversation.contact_id} if new_contact else set()
    customer_wrote([message], new_contact_ids=new_contacts)
    return message


def receive_messages(arrivals: list[tuple[Number, InboundMessage]]) -> list[Message]:
    """Store a batch of new inbound messages (see `inbox.store_messages`) and apply what
    follows them, once for the batch (the business's own phone messages: as `receive_message`)."""
    for number, event in arrivals:
        if event.from_me:
            message_changes.store_sent_from_phone(number, event)
    arrivals = [(number, event) for number, event in arrivals if not event.from_me]
    messages, new_contacts = inbox.store_messages(arrivals)
    if messages:
        customer_wrote(messages, new_contact_ids=new_contacts)
    return messages


def customer_wrote(messages: list[Message], *, new_contact_ids: Collection[int]) -> None:
    """What follows customers' messages, stored in the caller's transaction. A new consequence
    is one line here.

    1. A message that is an opt-out keyword opts its contact out (their follow-ups and queued
       automated and campaign messages cancelled, "opted out"; their marketing consent
       withdrawn) and is answered; an opt-in keyword opts them back in. First, so what it
       cancels is cancelled for that reason, not as a mere reply.
    2. Their contacts' pending CRM follow-ups stop ("contact replied"): one query for the
       batch, none for contacts first seen in it (they have none). Both run after the
       conversations' and numbers' rows were written, the order in which a worker locks
       numbers, then jobs.
    3. A conversation nobody holds is handed to an operator of its queue, if one can take it.
    4. The organization's pages hear of the messages, once the transaction commits.
    5. Whoever holds each conversation is notified on their own sockets (one just handed it
       by step 3 was notified of that instead).
    6. A message that answers a campaign's message within its reply window counts as that
       campaign's reply (none from contacts first seen in the batch: nobody wrote to them).
    Between 2 and 3: where the assistant answers on the conversation's number or queue, its
    answer is due (`assistant.autoreply`), and the team's distribution leaves the conversation
    to it until it hands over; an opt-out or opt-in keyword was answered already (step 1).
    A message that answered the satisfaction survey (recorded as the inbox stored it, which
    left its conversation resolved: `inbox.surveys.take_answers`) is no new request: only
    steps 1 and 4 apply to it (an opt-out keyword always counts; the pages show it).
    """
    answered = keywords.customer_wrote(messages)
    answers = surveys.answers_among(messages)
    requests = [m for m in messages if m.pk not in answers]
    conversations = {m.conversation_id: m.conversation for m in requests}
    followups.contact_replied({c.contact_id for c in conversations.values()} - set(new_contact_ids))
    held = {pk: c.assignee_id for pk, c in conversations.items() if c.assignee_id is not None}
    assistant = autoreply.customer_wrote([m for m in requests if m.pk not in answered])
    for conversation in conversations.values():
        if conversation.assignee_id is None and conversation.pk not in assistant:
            ownership.distribute(conversation)
    inbox.publish_messages(messages, events.MessageReceived)
    for conversation_id, assignee_id in held.items():
        notifications.notify([assignee_id], "message", conversation_id)
    replies.customer_wrote(
        [m for m in requests if m.conversation.contact_id not in new_contact_ids]
    )


def preference_changed(number: Number, event: PreferenceUpdate) -> None:
    """The customer stopped or resumed marketing messages from WhatsApp's own menu: as the
    opt-out (opt-in) keyword, without an answer."""
    keywords.preference_changed(number, event)
