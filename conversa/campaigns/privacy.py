"""A contact's rights under the LGPD (art. 18): access to everything held about them (`export`)
and the deletion of their personal data (`erase`). Owners and admins only; both audited.

What is "about them": the contact row, its identifiers, tags and custom fields, its consent
records, its conversations with their messages, files and notes, its leads, the sends addressed
to it (MessageIntent), and the audit entries whose object is one of these.
"""

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, OperationalEvent
from conversa.accounts.services import record, same_org
from conversa.assistant.models import AssistantOutput, ModelCall
from conversa.campaigns.models import Consent
from conversa.crm.models import Lead
from conversa.engine import services as engine
from conversa.engine.models import MessageIntent
from conversa.errors import Conflict, Forbidden, Refused
from conversa.inbox import removal
from conversa.inbox.models import Attachment, Contact, ContactIdentity, Conversation, Message, Note
from conversa.providers.models import ProviderEvent
from conversa.realtime import events, publisher
from conversa.webhooks import outbox

# Sends that may still leave: cancelled by an erasure (unless already under way).
OPEN_SENDS = [
    MessageIntent.Status.QUEUED,
    MessageIntent.Status.SCHEDULED,
    MessageIntent.Status.DEFERRED,
]

# The word a person types to confirm an erasure (or its translation in their language).
CONFIRMATION_WORD = "ERASE"


def must_administer(member: Member) -> None:
    if not member.administers:
        raise Forbidden(gettext("Only owners and admins export or erase a contact's data."))


def stamp(moment) -> str | None:
    return moment.isoformat() if moment else None


def audit_about(contact: Contact):
    """The audit entries whose object is the contact or one of its conversations, leads or
    sends."""
    conversations = Conversation.objects.filter(contact=contact).values("id")
    leads = Lead.objects.filter(contact=contact).values("id")
    intents = MessageIntent.objects.filter(contact=contact).values("id")
    return OperationalEvent.objects.filter(organization_id=contact.organization_id).filter(
        Q(object_type="contact", object_id=contact.pk)
        | Q(object_type="conversation", object_id__in=conversations)
        | Q(object_type="lead", object_id__in=leads)
        | Q(object_type="messageintent", object_id__in=intents)
    )


# Export ------------------------------------------------------------------------------------


def export(contact: Contact, *, acting_member: Member):
    """Everything held about `contact`, as a ZIP in a temporary file (on disk, so a contact
    with years of messages and files is never held in memory), positioned at its start; the
    caller streams and closes it. `contact.json` holds the data; `media/` the files, named in
    it. Recorded as `contact.exported` before it is returned."""
    must_administer(acting_member)
    same_org(contact, acting_member.organization_id)
    # Not a `with`: the response streams the file and closes it when done.
    out = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        write_archive(contact, out)
    except BaseException:
        out.close()
        raise
    record(contact.organization_id, "contact.exported", contact, actor=acting_member)
    out.seek(0)
    return out


def write_archive(contact: Contact, out) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("contact.json", "w") as entry:
            for chunk in export_json(contact):
                entry.write(chunk.encode())
        for attachment in stored_files(contact):
            with (
                default_storage.open(attachment.file.name, "rb") as source,
                archive.open(media_path(attachment), "w") as target,
            ):
                shutil.copyfileobj(source, target, 1024 * 1024)


def stored_files(contact: Contact):
    return (
        Attachment.objects.filter(message__conversation__contact=contact)
        .filter(state=Attachment.State.STORED)
        .exclude(file="")
        .order_by("id")
        .iterator(chunk_size=200)
    )


def media_path(attachment: Attachment) -> str:
    # Our stored name (random, with the checked extension), never the customer's file name.
    return f"media/{attachment.message_id}-{attachment.file.name.rsplit('/', 1)[-1]}"


def export_json(contact: Contact):
    """The JSON document in pieces: each conversation's messages are read in chunks and
    written as they come."""
    dump = json.dumps
    yield '{"exported_at": ' + dump(stamp(timezone.now()))
    yield ', "contact": ' + dump(contact_data(contact), ensure_ascii=False)
    consents = Consent.objects.filter(contact=contact).select_related("recorded_by")
    yield ', "consent_records": ' + dump(
        [consent_data(c) for c in consents.order_by("recorded_at", "id")], ensure_ascii=False
    )
    yield ', "conversations": ['
    conversations = Conversation.objects.filter(contact=contact).select_related("number")
    for n, conversation in enumerate(conversations.order_by("created_at", "id")):
        yield ("" if n == 0 else ", ") + conversation_head(conversation)[:-1]
        yield ', "messages": ['
        messages = (
            Message.objects.filter(conversation=conversation)
            .select_related("attachment")
            .order_by("created_at", "id")
        )
        for i, message in enumerate(messages.iterator(chunk_size=500)):
            yield ("" if i == 0 else ", ") + dump(message_data(message), ensure_ascii=False)
        notes = Note.objects.filter(conversation=conversation).select_related("author")
        yield '], "notes": ' + dump(
            [
                {
                    "author": n.author.display_name if n.author else None,
                    "body": n.body,
                    "created_at": stamp(n.created_at),
                }
                for n in notes.order_by("created_at", "id")
            ],
            ensure_ascii=False,
        )
        yield "}"
    yield '], "leads": ' + dump(leads_data(contact), ensure_ascii=False)
    intents = MessageIntent.objects.filter(contact=contact).order_by("created_at", "id")
    yield ', "sends": ' + dump(
        [intent_data(i) for i in intents.iterator(chunk_size=500)], ensure_ascii=False
    )
    yield ', "audit": ' + dump(
        [
            {
                "at": stamp(e.created_at),
                "who": e.actor_label,
                "verb": e.verb,
                "object": e.object_type,
                "object_id": e.object_id,
                "data": e.data,
            }
            for e in audit_about(contact).order_by("created_at", "id").iterator(chunk_size=500)
        ],
        ensure_ascii=False,
        default=str,
    )
    yield "}"


def contact_data(contact: Contact) -> dict:
    return {
        "id": contact.pk,
        "name": contact.name,
        "phone": contact.display_phone,
        "blocked": contact.blocked,
        "opted_out": contact.opted_out,
        "marketing_consent": contact.marketing_consent,
        "custom_fields": contact.custom_fields,
        "tags": sorted(contact.tags.values_list("name", flat=True)),
        "identities": [
            {"kind": i.kind, "value": i.value, "since": stamp(i.created_at)}
            for i in ContactIdentity.objects.filter(contact=contact).order_by("kind", "value")
        ],
        "created_at": stamp(contact.created_at),
        "erased_at": stamp(contact.erased_at),
    }


def consent_data(consent: Consent) -> dict:
    return {
        "purpose": consent.purpose,
        "granted": consent.granted,
        "channel": consent.channel,
        "evidence": consent.evidence,
        "recorded_at": stamp(consent.recorded_at),
        "recorded_by": consent.recorded_by.display_name if consent.recorded_by else None,
        "erased": consent.erased,
    }


def conversation_head(conversation: Conversation) -> str:
    """The conversation's fields as a JSON object (its lists are written after them)."""
    return json.dumps(
        {
            "id": conversation.pk,
            "number": conversation.number.phone_number or conversation.number.name,
            "status": conversation.status,
            "created_at": stamp(conversation.created_at),
        },
        ensure_ascii=False,
    )


def message_data(message: Message) -> dict:
    attachment = getattr(message, "attachment", None)
    stored = attachment and attachment.state == Attachment.State.STORED and attachment.file.name
    return {
        "id": message.pk,
        "direction": message.direction,
        "kind": message.kind,
        "body": message.body,
        "content": message.content,
        "status": message.status,
        "created_at": stamp(message.created_at),
        "sent_at": stamp(message.sent_at),
        "delivered_at": stamp(message.delivered_at),
        "read_at": stamp(message.read_at),
        "edited_at": stamp(message.edited_at),
        "earlier_versions": message.history,
        "deleted_at": stamp(message.deleted_at),
        "reactions": message.reactions,
        "removed": message.removed,
        "file": (
            {
                "path": media_path(attachment),
                "mime_type": attachment.mime_type,
                "file_name": attachment.file_name,
                "size": attachment.size,
            }
            if stored
            else None
        ),
    }


def leads_data(contact: Contact) -> list[dict]:
    leads = Lead.objects.filter(contact=contact).select_related("pipeline", "stage")
    return [
        {
            "id": lead.pk,
            "pipeline": lead.pipeline.name,
            "stage": lead.stage.name,
            "title": lead.title,
            "value": str(lead.value),
            "notes": lead.notes,
            "custom_fields": lead.custom_fields,
            "created_at": stamp(lead.created_at),
        }
        for lead in leads.order_by("created_at", "id")
    ]


def intent_data(intent: MessageIntent) -> dict:
    return {
        "id": intent.pk,
        "origin": intent.origin,
        "status": intent.status,
        "body": intent.body,
        "template": intent.template,
        "content": intent.content,
        "created_at": stamp(intent.created_at),
    }


# Erasure -----------------------------------------------------------------------------------


@dataclass
class Erased:
    messages: int
    files: int
    sends_cancelled: int
    consent_records: int
    audit_entries: int


def confirmed(confirmation: str) -> bool:
    """Whether the typed word is the confirmation word, in English or the person's language."""
    typed = (confirmation or "").strip().upper()
    return typed in {CONFIRMATION_WORD, gettext(CONFIRMATION_WORD).upper()}


def erase(contact: Contact, *, acting_member: Member, confirmation: str) -> Erased:
    """Erase the contact's personal data, keeping what the law and the counts need.

    1. Sends to them not yet under way are cancelled ("contact erased").
    2. Their messages are emptied and their files deleted from storage (inbox.removal), with
       the files uploaded for sends to them.
    3. In one transaction, the contact row locked: the raw webhooks their messages came in,
       notes in their conversations, the texts of sends to them, the assistant's records of
       their conversations (question, answer, the messages sent to the model) and the data of
       the outbound webhooks about them are emptied; their leads lose their notes and custom
       fields; their identifiers and tags go, so the same phone writing again is a new
       contact; the contact
       keeps its id under a placeholder name, opted out and without consent; consent records
       stay (who consented, when, how: the law asks for it) marked erased, their evidence
       emptied; the audit entries about them lose their details (`data`) but keep what
       happened, when and who did it; one `contact.erased` entry records the counts.
    Refused without the confirmation word, and for a contact already erased (409).
    """
    must_administer(acting_member)
    same_org(contact, acting_member.organization_id)
    if not confirmed(confirmation):
        raise Refused(
            gettext("Type %(word)s to confirm.") % {"word": gettext(CONFIRMATION_WORD)},
            field="confirmation",
        )
    if Contact.objects.filter(pk=contact.pk, erased_at__isnull=False).exists():
        raise Conflict(gettext("This contact's data was already erased."))
    intents = list(MessageIntent.objects.filter(contact=contact, status__in=OPEN_SENDS))
    cancelled = engine.cancel_intents(intents, "contact erased", acting_member=acting_member)
    messages = Message.objects.filter(conversation__contact=contact)
    removed = removal.remove(messages, Message.Removed.ERASURE)
    # Files uploaded for sends to them that never became a message (cancelled, refused).
    uploads = Attachment.objects.filter(
        message__isnull=True,
        pk__in=MessageIntent.objects.filter(contact=contact).values("attachment_id"),
    )
    removed += removal.remove_files(uploads)
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        provider_events_of(messages).update(payload={}, event={})
        Note.objects.filter(conversation__contact=locked).update(body="")
        # A send under way keeps its text until it settles (its worker reads it); the rest lose it.
        MessageIntent.objects.filter(contact=locked).exclude(status__in=OPEN_SENDS).update(
            body="", content=None
        )
        Lead.objects.filter(contact=locked).update(notes="", custom_fields={})
        # The AI log holds their words too: what they asked, what was answered, and the messages
        # sent to the model. The rows stay (ratings, tokens and costs are counts).
        outputs = AssistantOutput.objects.filter(conversation__contact=locked)
        ModelCall.objects.filter(pk__in=outputs.values("model_call_id")).update(messages=[])
        outputs.update(question="", text="")
        # What the webhooks carried about them, for replays and sends still to come.
        outbox.erase_contact(locked.organization_id, locked.pk)
        ContactIdentity.objects.filter(contact=locked).delete()
        locked.tags.clear()
        consents = Consent.objects.filter(contact=locked).update(erased=True, evidence="")
        audit = audit_about(locked).erase_data()
        placeholder = gettext("Erased contact #%(id)s") % {"id": locked.pk}
        Contact.objects.filter(pk=locked.pk).update(
            name=placeholder,
            phone="",
            custom_fields={},
            opted_out=True,
            marketing_consent=False,
            erased_at=timezone.now(),
        )
        done = Erased(removed.messages, removed.files, len(cancelled), consents, audit)
        record(
            locked.organization_id,
            "contact.erased",
            locked,
            actor=acting_member,
            messages=done.messages,
            files=done.files,
            sends_cancelled=done.sends_cancelled,
        )
    contact.refresh_from_db()
    publisher.publish(contact.organization_id, events.ContactUpdated(contact_ids=[contact.pk]))
    return done


def provider_events_of(messages):
    """The stored webhooks these messages came in (or whose statuses they got)."""
    sent = messages.exclude(provider_message_id="")
    return ProviderEvent.objects.filter(
        number_id__in=sent.values("number_id"),
        provider_message_id__in=sent.values("provider_message_id"),
    )
