"""Who a campaign reaches: the contacts of its segments, its tags and its imports, each person
once however many ways they match, read in a handful of queries whatever the audience's size
(ids first, then the contacts in chunks)."""

from collections.abc import Iterator
from dataclasses import dataclass

from conversa.accounts.scoping import scoped
from conversa.bulk import among
from conversa.campaigns import messages, segments
from conversa.campaigns.models import Campaign, CampaignRecipient, ImportedContact
from conversa.inbox.models import Contact

CHUNK = 5000


def contact_ids(campaign: Campaign) -> set[int]:
    """The ids of everyone the campaign's audience holds now (erased contacts left out)."""
    org = campaign.organization
    ids: set[int] = set()
    for segment in campaign.segments.all():
        segment.organization = org
        ids.update(segments.matching(segment).values_list("pk", flat=True))
    tag_ids = list(campaign.tags.values_list("pk", flat=True))
    if tag_ids:
        tagged = scoped(org, Contact).filter(tags__in=tag_ids)
        ids.update(tagged.values_list("pk", flat=True))
    import_ids = list(campaign.imports.values_list("pk", flat=True))
    if import_ids:
        imported = ImportedContact.objects.filter(
            organization=org, contact_import__in=import_ids
        ).values_list("contact_id", flat=True)
        ids.update(imported)
    if ids:
        erased = scoped(org, Contact).filter(erased_at__isnull=False).values_list("pk", flat=True)
        ids.difference_update(erased)
    return ids


def new_contact_ids(campaign: Campaign) -> list[int]:
    """The audience's people who are not yet the campaign's recipients, in id order: what a
    start adds, and what a later pass adds when the audience grew."""
    known = set(
        CampaignRecipient.objects.filter(campaign=campaign).values_list("contact_id", flat=True)
    )
    return sorted(contact_ids(campaign) - known)


@dataclass(frozen=True)
class Person:
    """What a campaign reads of a contact to address them (`messages.render`) and to know
    whether it may (`sending.skip_reason`): a row, not a model instance, which costs more to
    build than the rest of its work at 100,000 people."""

    pk: int
    name: str
    phone: str
    custom_fields: dict
    blocked: bool
    opted_out: bool
    marketing_consent: bool

    display_phone = Contact.display_phone


PERSON = [field.name for field in Person.__dataclass_fields__.values()]


def people_in_chunks(campaign: Campaign, ids: list[int]) -> Iterator[list[Person]]:
    """The people of `ids` in id order, CHUNK at a time; their custom fields only when the
    message has one of them as a variable (decoding them is most of the reading)."""
    custom = messages.uses_custom_fields(campaign)
    columns = PERSON if custom else [name for name in PERSON if name != "custom_fields"]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = scoped(campaign.organization, Contact).filter(pk__in=among(chunk)).order_by("pk")
        if custom:
            yield [Person(*row) for row in rows.values_list(*columns)]
        else:
            yield [
                Person(pk, name, phone, {}, *rest)
                for pk, name, phone, *rest in rows.values_list(*columns)
            ]
