"""Sends beyond a typed text, from the operator's composer and the API: files (one intent each),
a location, contact cards, and a reaction to a message. Each is a new intent through the engine,
the one send path (engine/content.py says how each goes out); nothing here talks to a provider."""

from django.db import transaction
from django.utils.translation import gettext as _

from conversa.accounts.models import Member, Organization
from conversa.engine import services as engine
from conversa.engine.content import CAPTIONED
from conversa.engine.models import MessageIntent
from conversa.errors import Refused
from conversa.inbox import uploads
from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number

# What the reaction picker offers; the API and the page take these or "" (take it back).
REACTIONS = ("👍", "❤️", "😂", "😮", "😢", "🙏")
MAX_CAPTION = 1024  # WhatsApp's caption limit


def send_files(
    conversation: Conversation,
    files: list[uploads.Checked],
    caption: str,
    idempotency_key: str,
    *,
    acting_member: Member,
) -> list[tuple[MessageIntent, bool]]:
    """An operator's files in a conversation: each stored, then one intent per file, keyed
    `{idempotency_key}:{n}` so a repeated submit sends each once (the repeat's copies are
    discarded). The caption goes with the first file that can carry one; when none can (a voice
    note, a sticker) it follows as a text of its own."""
    return send_media(
        conversation.organization,
        contact=conversation.contact,
        conversation=conversation,
        files=files,
        caption=caption,
        idempotency_key=idempotency_key,
        origin=MessageIntent.Origin.CHAT_MANUAL,
        acting_member=acting_member,
    )


def send_media(
    org: Organization,
    *,
    contact: Contact,
    files: list[uploads.Checked],
    caption: str,
    idempotency_key: str,
    origin: str,
    acting_member: Member | None,
    conversation: Conversation | None = None,
    number: Number | None = None,
) -> list[tuple[MessageIntent, bool]]:
    """`send_files` for any origin (the API names a contact, and maybe a number)."""
    if len(caption) > MAX_CAPTION:
        raise Refused(
            _("A caption holds at most %(n)s characters.") % {"n": MAX_CAPTION}, field="caption"
        )
    captioned = next((n for n, f in enumerate(files) if f.kind in CAPTIONED), None)
    stored = []
    results = []
    try:
        with transaction.atomic():
            for n, checked in enumerate(files):
                attachment = uploads.store(org, checked, acting_member=acting_member)
                stored.append(attachment)
                text = caption if n == captioned else ""
                result = engine.create_intent(
                    org,
                    contact=contact,
                    body=text,
                    origin=origin,
                    idempotency_key=f"{idempotency_key}:{n}",
                    conversation=conversation,
                    number=number,
                    created_by=acting_member,
                    content={"kind": checked.kind, "caption": text},
                    attachment=attachment,
                )
                if not result[1]:
                    uploads.discard(attachment)
                    stored.remove(attachment)
                results.append(result)
            if caption and captioned is None:
                results.append(
                    engine.create_intent(
                        org,
                        contact=contact,
                        body=caption,
                        origin=origin,
                        idempotency_key=f"{idempotency_key}:caption",
                        conversation=conversation,
                        number=number,
                        created_by=acting_member,
                    )
                )
    except BaseException:
        # The rows rolled back: their files must not outlive them.
        for attachment in stored:
            attachment.file.delete(save=False)
        raise
    return results


def location_preview(location: dict) -> str:
    """How a location reads in the thread and the timeline."""
    label = " · ".join(v for v in (location.get("name"), location.get("address")) if v)
    return f"📍 {label or '{latitude}, {longitude}'.format(**location)}"


def send_location(
    org: Organization,
    *,
    contact: Contact,
    location: dict,
    idempotency_key: str,
    origin: str,
    acting_member: Member | None,
    conversation: Conversation | None = None,
    number: Number | None = None,
) -> tuple[MessageIntent, bool]:
    """A place ({latitude, longitude, name, address}, checked by the caller) as a message."""
    return engine.create_intent(
        org,
        contact=contact,
        body=location_preview(location),
        origin=origin,
        idempotency_key=idempotency_key,
        conversation=conversation,
        number=number,
        created_by=acting_member,
        content={"kind": "location", "location": location},
    )


def send_contacts(
    org: Organization,
    *,
    contact: Contact,
    cards: list[dict],
    idempotency_key: str,
    origin: str,
    acting_member: Member | None,
    conversation: Conversation | None = None,
    number: Number | None = None,
) -> tuple[MessageIntent, bool]:
    """Contact cards ([{name, phones: [digits]}], checked by the caller) as one message."""
    return engine.create_intent(
        org,
        contact=contact,
        body="👤 " + ", ".join(card["name"] for card in cards),
        origin=origin,
        idempotency_key=idempotency_key,
        conversation=conversation,
        number=number,
        created_by=acting_member,
        content={"kind": "contacts", "contacts": cards},
    )


def react(
    message: Message, emoji: str, idempotency_key: str, *, acting_member: Member
) -> tuple[MessageIntent, bool]:
    """The business reacts to a customer's message with `emoji` ("" takes its reaction back).
    Shown on the message once the provider has it (content.apply_reactions)."""
    if emoji and emoji not in REACTIONS:
        raise Refused(_("Pick one of the offered reactions."), field="emoji")
    if message.is_outbound or not message.provider_message_id or message.deleted_at:
        raise Refused(_("Only a customer's message can get a reaction."), field="message")
    conversation = message.conversation
    return engine.create_intent(
        conversation.organization,
        contact=conversation.contact,
        body=emoji,
        origin=MessageIntent.Origin.CHAT_MANUAL,
        idempotency_key=idempotency_key,
        conversation=conversation,
        created_by=acting_member,
        content={
            "kind": "reaction",
            "message_id": message.pk,
            "target": message.provider_message_id,
            "target_from_me": message.is_outbound,
            "emoji": emoji,
        },
    )
