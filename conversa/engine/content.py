"""Sends that are not plain text: which provider call a job makes, and what media, a location,
contact cards or a reaction leave in the thread.

An intent's `content` names its kind the way providers.base.OutboundContent does:

- media (image, video, audio, voice, document, sticker): {"kind", "caption"}; the file is the
  intent's `attachment` (stored before the intent is made), read from storage at send time so
  no bytes ever sit in a row
- location: {"kind", "location": {"latitude", "longitude", "name", "address"}}
- contacts: {"kind", "contacts": [{"name", "phones": [..]}]}
- reaction: {"kind", "message_id" (ours), "target" (its provider id), "target_from_me",
  "emoji"} ("" takes the business's reaction away)

Every one goes through the engine like text (an intent idempotent on its key, the Gate, a
claimed job, SENDING before the call, settled). A reaction makes no message of its own: once
sent it is shown on the message it reacts to (`apply_reactions`); its job keeps the provider's
id for the audit.
"""

import logging

from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.inbox import contacts
from conversa.inbox import services as inbox
from conversa.inbox.contacts import recipient
from conversa.inbox.models import Attachment, Contact, Message
from conversa.providers.base import MEDIA_KINDS, OutboundContent, ProviderError, SendResult
from conversa.realtime import events

log = logging.getLogger(__name__)

KINDS = (*MEDIA_KINDS, "location", "contacts", "reaction")
# Kinds whose message may carry a caption (WhatsApp shows none on audio or stickers).
CAPTIONED = ("image", "video", "document")


def dispatch(provider, job: ExecutionJob) -> SendResult:
    """The provider call for the job's intent: its template, its content, else its text."""
    intent = job.intent
    if intent.template:
        template = intent.template
        return provider.send_template(
            job.number,
            job.contact.phone,
            template["name"],
            template["language"],
            template.get("variables") or [],
            reference=job.reference,
        )
    if intent.content:
        if not hasattr(provider, "send_content"):
            raise ProviderError("this provider sends text only", transient=False)
        return provider.send_content(
            job.number,
            recipient(job.contact, job.number),
            outbound(intent),
            reference=job.reference,
        )
    return provider.send_text(
        job.number, recipient(job.contact, job.number), intent.body, reference=job.reference
    )


def outbound(intent: MessageIntent) -> OutboundContent:
    """The intent's content as the provider takes it (media with its file's bytes)."""
    content = intent.content
    kind = content.get("kind")
    if kind in MEDIA_KINDS:
        attachment = intent.attachment
        return OutboundContent(
            kind=kind,
            media=read_file(attachment),
            mime_type=attachment.mime_type,
            file_name=attachment.file_name,
            caption=content.get("caption", "") if kind in CAPTIONED else "",
        )
    if kind == "location":
        return OutboundContent(kind=kind, location=content["location"])
    if kind == "contacts":
        return OutboundContent(kind=kind, contacts=content["contacts"])
    if kind == "reaction":
        return OutboundContent(
            kind=kind,
            target=content["target"],
            target_from_me=bool(content.get("target_from_me")),
            emoji=content.get("emoji", ""),
        )
    raise ProviderError(f"cannot send content of kind {kind!r}", transient=False)


def read_file(attachment: Attachment | None) -> bytes:
    """The attachment's bytes from storage. A file that is gone fails the send for good; any
    other storage error (an S3 hiccup) is retried."""
    if attachment is None or not attachment.file:
        raise ProviderError("the file to send is missing", transient=False)
    try:
        with attachment.file.open("rb") as handle:
            return handle.read()
    except FileNotFoundError as exc:
        raise ProviderError("the file to send is missing from storage", transient=False) from exc
    except OSError as exc:
        # The class only: a storage error's text may hold a path with a customer's file name.
        reason = f"the file to send could not be read ({type(exc).__name__})"
        raise ProviderError(reason, transient=True) from exc


def message_content(intent: MessageIntent) -> dict:
    """What the outbound message keeps of the content, shaped as an inbound message of the same
    kind keeps it (providers.base.KINDS), so the thread shows both alike. No bytes."""
    content = intent.content
    kind = content["kind"]
    if kind in MEDIA_KINDS:
        attachment = intent.attachment
        media = {"mime_type": attachment.mime_type, "file_name": attachment.file_name}
        return {"media": {**media, "size": attachment.size}}
    if kind == "location":
        return dict(content["location"])
    if kind == "contacts":
        cards = content["contacts"]
        return {
            "contacts": [{"name": c["name"], "phones": c["phones"], "wa_ids": []} for c in cards]
        }
    return {}


def new_message(intent: MessageIntent) -> Message | None:
    """The outbound message an intent shows in its conversation (PENDING until sent), with its
    kind, content and file; none for a reaction, which is shown on the message it is about."""
    content = intent.content
    if content and content.get("kind") == "reaction":
        return None
    if not content:
        return inbox.new_outbound_message(
            intent.conversation, intent.body, acting_member=intent.created_by
        )
    message = inbox.new_outbound_message(
        intent.conversation,
        intent.body,
        acting_member=intent.created_by,
        kind=content["kind"],
        content=message_content(intent),
    )
    if intent.attachment_id:
        attach(intent.attachment, message)
    return message


def attach(attachment: Attachment, message: Message) -> None:
    """Link the file to the message that shows it. A file already shown by another message (a
    failed send tried again) is shown by a second row naming the same stored file."""
    if attachment.message_id not in (None, message.pk):
        attachment.pk, attachment.id, attachment._state.adding = None, None, True
    attachment.message = message
    attachment.save()


def apply_reactions(sent: list[ExecutionJob]) -> None:
    """Show the business's reactions that were just sent on the messages they are about."""
    changed = []
    for job in sent:
        content = job.intent.content or {}
        if content.get("kind") != "reaction":
            continue
        target = (
            Message.objects.select_for_update()
            .filter(organization_id=job.organization_id, pk=content.get("message_id"))
            .first()
        )
        if target is None:
            continue  # deleted meanwhile: nothing to show it on
        reactions = dict(target.reactions or {})
        if content.get("emoji"):
            reactions["business"] = content["emoji"]
        else:
            reactions.pop("business", None)
        target.reactions = reactions
        target.save(update_fields=["reactions"])
        changed.append(target)
    if changed:
        inbox.publish_messages(changed, events.MessageStatusUpdated)


def record_wa_ids(answered: list[tuple[ExecutionJob, SendResult | ProviderError]]) -> None:
    """The recipient's WhatsApp id as the provider answered a send (Brazil's ninth digit: Meta
    may answer with the number without it), kept as one more identity of the contact, so
    the next message from that id lands in the same conversation."""
    for job, outcome in answered:
        if not isinstance(outcome, SendResult) or not outcome.wa_id:
            continue
        wa_id = "".join(ch for ch in outcome.wa_id if ch.isdigit())[:20]
        if wa_id and wa_id != job.contact.phone and job.contact.phone:
            record_wa_id(job.contact, wa_id)


def record_wa_id(contact: Contact, wa_id: str) -> None:
    """`wa_id` is the contact's WhatsApp id too: recorded, and a contact already known by it
    becomes one with this one (`contacts.link_identities`)."""
    contacts.link_identities(contact.organization, phone=contact.phone, new_phone=wa_id)
