"""What a team member changes on a contact from its page or the API: its name and custom
fields, blocking, and merging two contacts that are one person, and writing to them first.
Each change is audited with the member and, for blocking and merging, the reason they gave. (Opting out is the CRM's
`followups.set_opted_out`, which also cancels pending follow-ups; consent is
`campaigns.consent.record_consent`.)"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member
from conversa.accounts.services import record, same_org
from conversa.engine import resend
from conversa.engine import services as engine
from conversa.engine.models import MessageIntent
from conversa.errors import Forbidden, Refused
from conversa.inbox import merge, thread
from conversa.inbox.models import Contact, Conversation
from conversa.numbers.models import Number
from conversa.realtime import events, publisher

NAME_LENGTH = Contact._meta.get_field("name").max_length
REASON_LENGTH = 500
# Custom fields are what imports fill and campaign messages name: short keys, short values.
FIELD_KEY_LENGTH = 40
FIELD_VALUE_LENGTH = 500
MAX_FIELDS = 50


def clean_reason(reason: str) -> str:
    """The reason a member gave for an audited action: required, one short paragraph."""
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_LENGTH:
        raise Refused(
            gettext("Give a reason of 1 to %(n)s characters.") % {"n": REASON_LENGTH},
            field="reason",
        )
    return reason


def clean_fields(fields: dict) -> dict[str, str]:
    """Custom fields as stored: keys trimmed, empty values dropped, sizes bounded."""
    cleaned: dict[str, str] = {}
    for key, value in fields.items():
        key, value = str(key).strip(), str(value).strip()
        if not key and not value:
            continue
        if not key or len(key) > FIELD_KEY_LENGTH or len(value) > FIELD_VALUE_LENGTH:
            raise Refused(
                gettext(
                    "A field's name is 1 to %(key)s characters and its value at most %(value)s."
                )
                % {"key": FIELD_KEY_LENGTH, "value": FIELD_VALUE_LENGTH},
                field="custom_fields",
            )
        if value:
            cleaned[key] = value
    if len(cleaned) > MAX_FIELDS:
        raise Refused(
            gettext("A contact has at most %(n)s fields.") % {"n": MAX_FIELDS},
            field="custom_fields",
        )
    return cleaned


@transaction.atomic
def update_contact(
    contact: Contact,
    *,
    name: str | None = None,
    custom_fields: dict | None = None,
    acting_member: Member,
) -> list[str]:
    """Change the contact's name and/or custom fields (None: left as they are). Returns what
    changed; the change is audited (the new name, the keys of the fields changed)."""
    same_org(acting_member, contact.organization_id)
    changed: dict[str, object] = {}
    if name is not None:
        name = name.strip()
        if len(name) > NAME_LENGTH:
            raise Refused(
                gettext("A name is at most %(n)s characters.") % {"n": NAME_LENGTH}, field="name"
            )
        if name != contact.name:
            changed["name"] = name
    if custom_fields is not None:
        fields = clean_fields(custom_fields)
        if fields != contact.custom_fields:
            changed["custom_fields"] = fields
    if not changed:
        return []
    before = dict(contact.custom_fields or {})
    for column, value in changed.items():
        setattr(contact, column, value)
    contact.save(update_fields=list(changed))
    data: dict[str, object] = {}
    if "name" in changed:
        data["name"] = contact.name
    if "custom_fields" in changed:
        after = contact.custom_fields
        data["fields"] = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
    record(contact.organization_id, "contact.edited", contact, actor=acting_member, **data)
    publisher.publish(contact.organization_id, events.ContactUpdated(contact_ids=[contact.pk]))
    return list(changed)


@transaction.atomic
def set_blocked(contact: Contact, blocked: bool, *, reason: str, acting_member: Member) -> bool:
    """Block the contact (the Gate then refuses every send to them, of any origin) or unblock
    them, with the member's reason in the audit. Returns False when nothing changed."""
    same_org(acting_member, contact.organization_id)
    reason = clean_reason(reason)
    if not Contact.objects.filter(pk=contact.pk).exclude(blocked=blocked).update(blocked=blocked):
        return False
    contact.blocked = blocked
    verb = "contact.blocked" if blocked else "contact.unblocked"
    record(contact.organization_id, verb, contact, actor=acting_member, reason=reason)
    publisher.publish(contact.organization_id, events.ContactUpdated(contact_ids=[contact.pk]))
    return True


def merge_into(keep: Contact, gone: Contact, *, reason: str, acting_member: Member) -> Contact:
    """A member merges `gone` into `keep` (one person seen as two contacts): everything of
    `gone` moves to `keep` (inbox.merge), and the member's reason is audited on `keep`.
    Supervisors and above only: a merge deletes a contact and cannot be undone."""
    same_org(acting_member, keep.organization_id)
    if not acting_member.supervises:
        raise Forbidden(gettext("Only supervisors and admins merge contacts."))
    same_org(gone, keep.organization_id)
    reason = clean_reason(reason)
    if keep.pk == gone.pk:
        raise Refused(gettext("Pick another contact to merge."), field="other")
    with transaction.atomic():
        kept = merge.merge_contacts(
            keep=keep, gone=gone, reason="manual", acting_member=acting_member
        )
        record(
            kept.organization_id,
            "contact.merged_by_member",
            kept,
            actor=acting_member,
            reason=reason,
            merged=gone.pk,
        )
    return kept


MESSAGE_LENGTH = 4096  # a WhatsApp text's limit, as the inbox's composer has it


def window_open(contact: Contact, number: Number, now: datetime | None = None) -> bool:
    """Whether the contact wrote to `number` in the last 24 hours (WhatsApp's service window:
    outside it, a Cloud API number may send only an approved template)."""
    since = (now or timezone.now()) - thread.WINDOW
    return Conversation.objects.filter(
        contact=contact, number=number, last_inbound_at__gte=since
    ).exists()


def needs_template(contact: Contact, number: Number) -> bool:
    return number.provider == Number.Provider.CLOUD and not window_open(contact, number)


def start_conversation(
    contact: Contact,
    number: Number,
    *,
    body: str = "",
    template: dict | None = None,
    idempotency_key: str,
    acting_member: Member,
) -> MessageIntent:
    """A member writes first to a contact from `number`: one CHAT_MANUAL intent through the
    engine (the one send path), so the Gate decides as for any reply (a blocked contact, a
    paused number, quotas). A text, or a Cloud API template ({name, language, variables});
    where the 24-hour window is closed on a Cloud API number, only a template. The key makes
    a double submit one message."""
    same_org(acting_member, contact.organization_id)
    same_org(number, contact.organization_id)
    if template is None:
        body = body.strip()
        if not body or len(body) > MESSAGE_LENGTH:
            raise Refused(
                gettext("Write a message of 1 to %(n)s characters.") % {"n": MESSAGE_LENGTH},
                field="body",
            )
        if needs_template(contact, number):
            raise Refused(
                gettext(
                    "This contact has not written to this number in 24 hours: "
                    "WhatsApp allows only an approved template."
                ),
                field="template",
            )
    else:
        check_template(template)
        body = resend.template_preview(template)
    intent, _created = engine.create_intent(
        contact.organization,
        contact=contact,
        body=body,
        origin=MessageIntent.Origin.CHAT_MANUAL,
        idempotency_key=f"contact:{contact.pk}:{idempotency_key}",
        number=number,
        created_by=acting_member,
        template=template,
    )
    return intent


def check_template(template: dict) -> None:
    """A template as the Cloud API takes it, with the inbox composer's bounds."""
    variables = template.get("variables", [])
    if not resend.TEMPLATE_NAME.match(template.get("name", "")):
        raise Refused(
            gettext("A template name has lowercase letters, digits and underscores only."),
            field="template",
        )
    if not resend.TEMPLATE_LANGUAGE.match(template.get("language", "")):
        raise Refused(gettext("Choose the template's language."), field="template")
    if len(variables) > 20 or any(len(v) > 1024 for v in variables):
        raise Refused(gettext("At most 20 values, each up to 1024 characters."), field="template")
