"""Two contacts found to be one person become one.

Everything that points at a contact moves to the one kept, found generically from the models'
own relations: the inbox never names the apps that build on it (the CRM's leads and follow-ups,
the engine's intents and jobs), and a model added later that points at a contact moves too.
"""

from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext_lazy as _

from conversa.accounts.models import Member, OperationalEvent
from conversa.accounts.services import event as timeline_entry
from conversa.bulk import insert_new
from conversa.inbox.models import Contact, ContactIdentity, Conversation
from conversa.realtime import events, publisher

# Why two contacts were merged, as the timeline says it.
REASONS = {
    "same_person": _("their WhatsApp identifiers belong to one person"),
    "linked": _("WhatsApp linked their identifiers"),
    "number_changed": _("the customer changed their number"),
    "manual": _("a person merged them"),
}


def reason_text(reason: str) -> str:
    return str(REASONS.get(reason, REASONS["same_person"]))


@transaction.atomic
def merge_contacts(
    *, keep: Contact, gone: Contact, reason: str, acting_member: Member | None = None
) -> Contact:
    """Merge `gone` into `keep` and delete `gone`; returns the contact left.

    1. Lock both rows (in id order, as every merge does, so two merges wait, never deadlock);
       a contact another process merged away meanwhile ends this one: nothing left to do.
    2. Conversations: where both have an unresolved one on the same number (a number holds one
       per contact), the newer's messages, notes and history move into the older, which is
       kept; then all of `gone`'s conversations become `keep`'s.
    3. Every other row pointing at `gone` (identities, tags, leads, follow-ups, intents, jobs…)
       moves to `keep`; a row `keep` already has an equal of (a tag on both) is dropped.
    4. Consent: the stricter wins (opted out or blocked on either stays so; marketing consent
       only if both had it, their records moved with the rest); an empty name or phone is
       filled from `gone`.
    5. The audit: on the contact, and in each conversation that came from `gone`.
    """
    if keep.pk == gone.pk:
        return keep
    if keep.organization_id != gone.organization_id:
        raise ValueError("contacts of two organizations are never one person")
    locked = {
        c.pk: c
        for c in Contact.objects.select_for_update()
        .filter(pk__in=[keep.pk, gone.pk])
        .order_by("pk")
    }
    keep, gone = locked.get(keep.pk), locked.get(gone.pk)
    if keep is None or gone is None:
        return keep or gone
    conversation_ids = merge_conversations(keep, gone)
    for relation in pointing_at(Contact):
        if relation.related_model is not Conversation:
            move_rows(relation.field, gone.pk, keep.pk)
    changed = []
    for flag in ("opted_out", "blocked"):
        if getattr(gone, flag) and not getattr(keep, flag):
            setattr(keep, flag, True)
            changed.append(flag)
    if keep.marketing_consent and not gone.marketing_consent:
        keep.marketing_consent = False
        changed.append("marketing_consent")
    if gone.name and not keep.name:
        keep.name = gone.name
        changed.append("name")
    if gone.phone:
        # A contact stored before identities may lack its phone's: the number stays known.
        insert_new(
            [
                ContactIdentity(
                    organization_id=keep.organization_id,
                    contact=keep,
                    kind="phone",
                    value=gone.phone,
                )
            ],
            ["organization", "kind", "value"],
        )
    gone_pk, gone_label = gone.pk, {"name": gone.name, "phone": gone.display_phone}
    # Not Django's delete, which would cascade to whatever still points at it: every row was
    # moved above, and one that was not (a bug) must fail the merge, not vanish with it.
    Contact.objects.filter(pk=gone.pk)._raw_delete(Contact.objects.db)
    if gone.phone and not keep.phone:
        # After the delete: the phone is unique per organization.
        keep.phone = gone.phone
        changed.append("phone")
    if changed:
        keep.save(update_fields=changed)
    org_id = keep.organization_id
    data = {"merged": gone_pk, **gone_label, "reason": reason}
    OperationalEvent.objects.bulk_create(
        [
            timeline_entry(org_id, "contact.merged", keep, actor=acting_member, **data),
            *(
                timeline_entry(
                    org_id,
                    "conversation.contact_merged",
                    Conversation(pk=pk),
                    actor=acting_member,
                    **data,
                )
                for pk in conversation_ids
            ),
        ]
    )
    publisher.publish(org_id, events.ContactUpdated(contact_ids=[keep.pk, gone_pk]))
    if conversation_ids:
        publisher.publish(org_id, events.ConversationUpdated(conversation_ids=conversation_ids))
    return keep


def merge_conversations(keep: Contact, gone: Contact) -> list[int]:
    """Hand `gone`'s conversations to `keep`, one live conversation per number left; returns
    the ids of those that now hold `gone`'s history."""
    live = {
        c.number_id: c
        for c in Conversation.objects.filter(contact=keep).exclude(
            status=Conversation.Status.RESOLVED
        )
    }
    folded_into = set()
    for conversation in Conversation.objects.filter(contact=gone).exclude(
        status=Conversation.Status.RESOLVED
    ):
        other = live.get(conversation.number_id)
        if other is not None:
            older, newer = sorted([conversation, other], key=lambda c: (c.created_at, c.pk))
            fold(newer, into=older)
            folded_into.add(older.pk)
    ids = set(Conversation.objects.filter(contact=gone).values_list("pk", flat=True))
    Conversation.objects.filter(pk__in=ids).update(contact=keep)
    return sorted(ids | folded_into)


def fold(newer: Conversation, *, into: Conversation) -> None:
    """Move a conversation's messages, notes, intents, tags and history into an older one of
    the same person on the same number, and delete it."""
    for relation in pointing_at(Conversation):
        move_rows(relation.field, newer.pk, into.pk)
    OperationalEvent.objects.filter(
        organization_id=newer.organization_id, object_type="conversation", object_id=newer.pk
    ).repoint(object_id=into.pk)
    latest = [c.last_inbound_at for c in (newer, into) if c.last_inbound_at]
    Conversation.objects.filter(pk=into.pk).update(
        unread_count=models.F("unread_count") + newer.unread_count,
        last_message_at=max(newer.last_message_at, into.last_message_at),
        last_inbound_at=max(latest) if latest else None,
    )
    Conversation.objects.filter(pk=newer.pk)._raw_delete(Conversation.objects.db)


def pointing_at(model: type[models.Model]) -> list:
    """Every relation of another model (hidden ones and many-to-many tables included) whose
    rows point at one row of `model`."""
    return [
        relation
        for relation in model._meta.get_fields(include_hidden=True)
        if relation.auto_created
        and not relation.concrete
        and (relation.one_to_many or relation.one_to_one)
    ]


def move_rows(field: models.ForeignKey, old: int, new: int) -> None:
    """Point the rows of `field` at `new` instead of `old`, in one statement; when a unique
    constraint refuses that (the row's twin already points at `new`), one at a time, dropping
    each refused row: the twin it clashes with stays."""
    rows = field.model._base_manager.filter(**{field.attname: old})
    try:
        with transaction.atomic():
            rows.update(**{field.attname: new})
        return
    except IntegrityError:
        pass
    for pk in list(rows.values_list("pk", flat=True)):
        try:
            with transaction.atomic():
                field.model._base_manager.filter(pk=pk).update(**{field.attname: new})
        except IntegrityError:
            field.model._base_manager.filter(pk=pk).delete()
