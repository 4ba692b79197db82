"""One person, one contact: phone numbers normalized, every identifier a contact was seen with
kept (`ContactIdentity`), and contacts found under identifiers of one person merged.

Who a customer is comes as up to three identifiers (providers.base.InboundMessage): a phone
number, WhatsApp's linked id (`@lid`) and the Cloud API's username id. Each identifier belongs
to at most one contact of an organization (a unique constraint); a lookup that finds two
contacts has found one person twice, and `merge.merge_contacts` makes them one.
"""

from collections.abc import Collection
from dataclasses import dataclass

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from psycopg.errors import DeadlockDetected

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.accounts.services import event as timeline_entry
from conversa.bulk import (
    built,
    columns_of,
    fetch,
    insert_instances,
    insert_new,
    insert_rows,
    one_of,
)
from conversa.inbox import merge
from conversa.inbox.models import Contact, ContactIdentity, Conversation
from conversa.inbox.phones import phone_key, phone_variants
from conversa.numbers.models import Number
from conversa.realtime import events, publisher

PHONE = ContactIdentity.Kind.PHONE
LID = ContactIdentity.Kind.LID
USER_ID = ContactIdentity.Kind.USER_ID

NAME_LENGTH = Contact._meta.get_field("name").max_length
VALUE_LENGTH = ContactIdentity._meta.get_field("value").max_length
# How many times a lookup is tried again after another process created the same person.
ATTEMPTS = 8


@dataclass(frozen=True)
class Identifiers:
    """A person's identifiers as one event names them, normalized."""

    phone: str = ""
    lid: str = ""
    user_id: str = ""
    # Other numbers of the same person (a send answer's wa_id, a number changed to).
    other_phones: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, *, phone: str = "", lid: str = "", user_id: str = "", other_phones=()
    ) -> "Identifiers":
        phone = phone_key(phone)
        others = tuple(p for p in dict.fromkeys(phone_key(o) for o in other_phones) if p)
        if not phone and others:
            phone, others = others[0], others[1:]
        return cls(
            phone=phone,
            lid=(lid or "").strip()[:VALUE_LENGTH],
            user_id=(user_id or "").strip()[:VALUE_LENGTH],
            other_phones=tuple(o for o in others if o != phone),
        )

    def __bool__(self) -> bool:
        return bool(self.phone or self.lid or self.user_id)

    def pairs(self) -> list[tuple[str, str]]:
        """(kind, value) to record, in one fixed order: every process inserts the unique keys
        of a person in the same order, so two creating one person wait, never deadlock."""
        found = set()
        for phone in filter(None, [self.phone, *self.other_phones]):
            found |= {(PHONE, value) for value in [phone, *phone_variants(phone)]}
        if self.lid:
            found.add((LID, self.lid))
        if self.user_id:
            found.add((USER_ID, self.user_id))
        return sorted(found)


def identity_filter(pairs: list[tuple[str, str]]) -> Q:
    by_kind: dict[str, list[str]] = {}
    for kind, value in pairs:
        by_kind.setdefault(kind, []).append(value)
    condition = Q(pk__in=[])
    for kind, values in by_kind.items():
        condition |= Q(kind=kind, value__in=values)
    return condition


def with_phones(org_ids: Collection[int], phones: Collection[str]) -> QuerySet[Contact]:
    """The contacts of these organizations with one of these phones, found by phone.

    The organization is compared as `organization_id + 0`, which no index serves: PostgreSQL
    knows nothing of an organization its statistics have not seen yet (a new one, its first
    minutes of traffic), takes it for empty, and chose to read all of its contacts through an
    index that leads with it, filtering by phone, for every lookup: a burst of new customers
    cost the square of its size. By phone (`contact_unique_phone` leads with it), each lookup
    reads its own rows whatever the statistics say."""
    return (
        Contact.objects.alias(org=F("organization_id") + 0)
        .filter(org__in=list(org_ids), phone__in=list(phones))
        .exclude(phone="")
    )


def holders(org_id: int, ids: Identifiers) -> tuple[list[Contact], set[tuple[str, str]]]:
    """The contacts holding any of these identifiers, oldest first, and the identifiers
    already recorded. A contact stored with a phone but without its identity (created before
    identities, or by a bulk insert) is found by its phone too."""
    pairs = ids.pairs()
    found: dict[int, Contact] = {}
    recorded = set()
    for identity in ContactIdentity.objects.filter(
        identity_filter(pairs), organization_id=org_id
    ).select_related("contact"):
        found[identity.contact_id] = identity.contact
        recorded.add((identity.kind, identity.value))
    phones = [value for kind, value in pairs if kind == PHONE and (kind, value) not in recorded]
    if phones:
        for contact in with_phones({org_id}, phones):
            found.setdefault(contact.pk, contact)
    return sorted(found.values(), key=lambda c: (c.created_at, c.pk)), recorded


def find_or_create_contact(
    org: Organization,
    *,
    phone: str = "",
    lid: str = "",
    user_id: str = "",
    name: str = "",
    acting_member: Member | None = None,
) -> tuple[Contact, bool]:
    """The contact of the person these identifiers name, and whether this call created it.

    1. Look the identifiers up (a phone by its other Brazilian form too).
    2. None found: create the contact (its phone when known) and its identities in a savepoint.
       Another process creating the same person at the same moment makes the database refuse
       one of the two inserts (the contact's unique phone, an identity's unique value): the
       loser rolls back its savepoint and looks again, finding the winner's rows.
    3. Two or more found are one person: merged into the oldest, then looked up again (a
       merge in another process may have moved what this lookup saw).
    4. One found: the identifiers it lacks are recorded (one another contact took meanwhile,
       a process creating the same person, means looking again, which finds both and merges
       them), then it is held against merges until the transaction ends (`hold`). A pushed
       name fills an empty one, and so does the phone.
    """
    ids = Identifiers.of(phone=phone, lid=lid, user_id=user_id)
    return resolve(org, ids, name=name, acting_member=acting_member)


def resolve(
    org: Organization, ids: Identifiers, *, name: str = "", acting_member: Member | None = None
) -> tuple[Contact, bool]:
    """`find_or_create_contact` for identifiers already normalized."""
    if not ids:
        raise ValueError("a contact needs a phone, a linked id or a username id")
    name = (name or "")[:NAME_LENGTH]
    contact = None
    for _attempt in range(ATTEMPTS):
        found, recorded = holders(org.pk, ids)
        if not found:
            try:
                return create_contact(org, ids, name), True
            except (IntegrityError, OperationalError) as exc:
                # Created meanwhile by another process, or being filled in by one whose
                # transaction waits on this one (`fill`: PostgreSQL fails one of the two to
                # break the deadlock, and it may be this insert): the savepoint rolled back,
                # look again.
                if isinstance(exc, OperationalError) and not deadlocked(exc):
                    raise
                continue
        contact = found[0]
        if len(found) > 1:
            for other in found[1:]:
                contact = merge.merge_contacts(
                    keep=contact, gone=other, reason="same_person", acting_member=acting_member
                )
            # Look again: another process may have merged one of them elsewhere meanwhile,
            # taking identifiers this lookup saw with it.
            continue
        missing = [pair for pair in ids.pairs() if pair not in recorded]
        if not missing and hold([contact.pk]):
            break
        if missing and record_and_hold(contact, missing):
            break
        # Merged away by another process since the lookup, or another contact took one of
        # the identifiers meanwhile (a process creating the same person): look again, which
        # finds where it went, or both, and merges them.
    if contact is None:
        raise IntegrityError("the contact's identifiers kept changing under this lookup")
    fill(contact, phone=ids.phone, name=name)
    return contact, False


def create_contact(org: Organization, ids: Identifiers, name: str) -> Contact:
    with transaction.atomic():
        contact = Contact.objects.create(organization=org, phone=ids.phone, name=name)
        ContactIdentity.objects.bulk_create(
            ContactIdentity(organization=org, contact=contact, kind=kind, value=value)
            for kind, value in ids.pairs()
        )
        publisher.publish(org.pk, events.ContactUpdated(contact_ids=[contact.pk], change="created"))
    return contact


def hold(contact_ids: list[int]) -> set[int]:
    """Keep these contacts from being merged away until the transaction ends, and return those
    that still exist.

    A merge locks both contacts FOR UPDATE before moving their rows and deleting one. Rows
    that point at a contact take their lock only when the transaction commits (Django's
    foreign keys are deferred), too late: a message stored for a contact being merged away
    would fail at commit. FOR KEY SHARE (PostgreSQL) waits for a merge in progress and blocks
    a new one, and never blocks another message of the same contact. SQLite runs one writing
    transaction at a time: nothing to hold there.
    """
    if not contact_ids:
        return set()
    if connection.vendor != "postgresql":
        return set(Contact.objects.filter(pk__in=contact_ids).values_list("pk", flat=True))
    table = connection.ops.quote_name(Contact._meta.db_table)
    with connection.cursor() as cursor:
        # Only the table's quoted name is formatted in; the ids are parameters.
        cursor.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",  # noqa: S608
            [list(contact_ids)],
        )
        return {row[0] for row in cursor.fetchall()}


class Taken(Exception):
    pass


def record_and_hold(contact: Contact, missing: list[tuple[str, str]]) -> bool:
    """Record the identifiers and hold the contact, or neither (a savepoint): rows added for a
    contact merged away meanwhile would fail the transaction's commit. The hold comes last,
    once no merge is left to do: a process holding one contact while merging another could
    wait on a process doing the same the other way round."""
    try:
        with transaction.atomic():
            if not record_identities(contact, missing) or not hold([contact.pk]):
                raise Taken
    except Taken:
        return False
    return True


def record_identities(contact: Contact, missing: list[tuple[str, str]]) -> bool:
    """Add identifiers the contact lacks; False when another contact holds one of them."""
    if not missing:
        return True
    rows = [
        ContactIdentity(
            organization_id=contact.organization_id, contact=contact, kind=kind, value=value
        )
        for kind, value in missing
    ]
    inserted = insert_new(rows, ["organization", "kind", "value"])
    return len(inserted) == len(rows)


def fill(contact: Contact, *, phone: str = "", name: str = "") -> None:
    """A pushed name fills an empty one; a phone fills an empty one unless another contact
    holds it (then it stays an identity only)."""
    changed = []
    if name and not contact.name:
        contact.name = name
        changed.append("name")
    if phone and not contact.phone:
        contact.phone = phone
        changed.append("phone")
    if not changed:
        return
    try:
        with transaction.atomic():
            contact.save(update_fields=changed)
    except (IntegrityError, OperationalError) as exc:
        # Another contact holds the phone, or is taking it in a transaction not yet committed
        # that waits on this one (PostgreSQL detects the deadlock and fails one of the two: its
        # savepoint rolls back, the rest of the transaction stands): it stays this one's
        # identity; the name goes in.
        if isinstance(exc, OperationalError) and not deadlocked(exc):
            raise
        contact.phone = ""
        if "name" in changed:
            contact.save(update_fields=["name"])


def deadlocked(exc: OperationalError) -> bool:
    """Whether PostgreSQL failed the statement to break a deadlock."""
    return isinstance(exc.__cause__, DeadlockDetected)


NUMBER_CHANGED = "number_changed"


@transaction.atomic
def link_identities(
    org: Organization,
    *,
    phone: str = "",
    lid: str = "",
    user_id: str = "",
    new_phone: str = "",
    reason: str = "linked",
    acting_member: Member | None = None,
) -> Contact:
    """Apply a provider's IdentityUpdate: the identifiers it names are one person's.

    - "linked" (a `@lid` seen with its phone, a send answer's `wa_id` for the number typed in
      `phone`): the contacts found under any of them become one (the oldest kept) and it
      records every one of them; nothing shows in the conversation.
    - "number_changed": the customer moved from `phone` to `new_phone`. The contact's phone
      becomes the new number (the old one stays an identity, so a late message from it still
      lands here), and the change shows in its conversations and the audit.
    """
    ids = Identifiers.of(phone=phone, lid=lid, user_id=user_id, other_phones=[new_phone])
    contact, _created = resolve(org, ids, acting_member=acting_member)
    new = phone_key(new_phone)
    if reason != NUMBER_CHANGED or not new or new == ids.phone:
        return contact
    if contact.phone != new:
        # Every contact holding the new number was merged into this one above: it is free.
        contact.phone = new
        contact.save(update_fields=["phone"])
    number_changed(contact, f"+{ids.phone}" if ids.phone else "", acting_member=acting_member)
    return contact


def number_changed(contact: Contact, old: str, *, acting_member: Member | None) -> None:
    """The audit of a number change: on the contact, and in its latest conversation on each
    number, where the team reads it."""
    latest: dict[int, Conversation] = {}
    for conversation in Conversation.objects.filter(contact=contact).order_by(
        "last_message_at", "id"
    ):
        latest[conversation.number_id] = conversation
    data = {"from": old, "to": contact.display_phone}
    org_id = contact.organization_id
    OperationalEvent.objects.bulk_create(
        [
            timeline_entry(org_id, "contact.number_changed", contact, actor=acting_member, **data),
            *(
                timeline_entry(
                    org_id, "conversation.number_changed", c, actor=acting_member, **data
                )
                for c in latest.values()
            ),
        ]
    )
    publisher.publish(org_id, events.ContactUpdated(contact_ids=[contact.pk]))
    if latest:
        ids = sorted(c.pk for c in latest.values())
        publisher.publish(org_id, events.ConversationUpdated(conversation_ids=ids))


def upsert_contact(org: Organization, phone: str, name: str = "") -> Contact:
    """The contact with this number, created on first sight; a pushed name fills an empty one."""
    return find_or_create_contact(org, phone=phone, name=name)[0]


def user_ids_of(contact_ids: set[int]) -> dict[int, str]:
    """Contact id → its username id (the Cloud API's business-scoped user id), for those
    that have one, in one query."""
    if not contact_ids:
        return {}
    rows = ContactIdentity.objects.filter(contact_id__in=contact_ids, kind=USER_ID).order_by("id")
    found: dict[int, str] = {}
    for contact_id, value in rows.values_list("contact_id", "value"):
        found.setdefault(contact_id, value)
    return found


def recipient(contact: Contact, number: Number) -> str:
    """Who a send from `number` goes to: the contact's phone; for a contact known only by a
    username, its username id on a Cloud API number (the only provider that addresses one).
    "" when the contact cannot be reached from this number (the Gate refuses those)."""
    if contact.phone:
        return contact.phone
    if number.provider != Number.Provider.CLOUD:
        return ""
    return user_ids_of({contact.pk}).get(contact.pk, "")


def phone_owners(wanted: set[tuple[int, str]]) -> dict[tuple[int, str], Contact]:
    """(organization id, phone) → the contact holding it: as its identity, else (a contact
    stored before identities, or by a bulk insert) as its phone, as `holders` finds them.

    One statement written out for both, not two of the ORM: every batch of webhooks asks,
    and compiling the queries cost more than running them (see `bulk.one_of`). The
    organization is compared as in `with_phones`, and the rows are matched to their pairs
    here."""
    if not wanted:
        return {}
    quote = connection.ops.quote_name
    contacts, identities = quote(Contact._meta.db_table), quote(ContactIdentity._meta.db_table)
    values, value_param = one_of(sorted({value for _, value in wanted}))
    orgs, org_param = one_of(sorted({org_id for org_id, _ in wanted}))
    picked = columns_of(Contact, "c")
    rows = fetch(
        f"SELECT {picked}, i.value FROM {identities} AS i"  # noqa: S608
        f" JOIN {contacts} AS c ON c.id = i.contact_id"
        f" WHERE i.value {values} AND i.organization_id {orgs} AND i.kind = %s"
        f" UNION ALL SELECT {picked}, NULL FROM {contacts} AS c"
        f" WHERE c.phone {values} AND c.organization_id + 0 {orgs} AND NOT (c.phone = '')",
        [value_param, org_param, PHONE, value_param, org_param],
    )
    by_phone = []
    owner: dict[tuple[int, str], Contact] = {}
    for row in rows:
        contact, held_as = built(Contact, row), row[-1]
        if held_as is None:
            by_phone.append(contact)
        elif (contact.organization_id, held_as) in wanted:
            owner[(contact.organization_id, held_as)] = contact
    for contact in by_phone:
        key = (contact.organization_id, contact.phone)
        if key in wanted:
            owner.setdefault(key, contact)
    return owner


def contacts_for_batch(
    senders: list[tuple[int, str, str]],
) -> tuple[dict[tuple[int, str], Contact], set[int], set[tuple[int, str]]]:
    """The contacts of many senders known by their phone alone (the inbound batch's usual
    case), in a few statements for the batch: one query for their identities, and for those
    first seen one insert of contacts and one of identities.

    `senders` are (organization id, phone as the provider gave it, pushed name). Returns
    (organization id, phone as given) → contact; the ids of the contacts created; and the
    senders whose phone points at two contacts (to be merged), which the caller resolves one at
    a time with `find_or_create_contact`. A contact created by another process at the
    same moment makes the insert raise IntegrityError (the caller's cue to go one at a time).
    """
    wanted: dict[tuple[int, str], str] = {}
    names: dict[tuple[int, str], str] = {}
    for org_id, raw, name in senders:
        phone = phone_key(raw)
        wanted[(org_id, raw)] = phone
        names[(org_id, phone)] = names.get((org_id, phone)) or (name or "")[:NAME_LENGTH]
    forms = {key: [key[1], *phone_variants(key[1])] for key in names}
    owner = phone_owners({(org_id, v) for (org_id, _), vs in forms.items() for v in vs})
    found: dict[tuple[int, str], Contact] = {}
    conflicting: set[tuple[int, str]] = set()
    for (org_id, phone), values in forms.items():
        owners = {owner[(org_id, v)].pk: owner[(org_id, v)] for v in values if (org_id, v) in owner}
        if len(owners) > 1:
            conflicting.add((org_id, phone))
        elif owners:
            found[(org_id, phone)] = next(iter(owners.values()))
    # No `hold` here, to keep the known senders' batch at one query: a contact merged away
    # before the batch commits fails the commit (its rows' deferred foreign keys), and the
    # caller applies the batch again one message at a time, which finds where it went.
    missing = [key for key in names if key not in found and key not in conflicting]
    created = insert_instances(
        [
            Contact(organization_id=org_id, phone=phone, name=names[(org_id, phone)])
            for org_id, phone in missing
        ]
    )
    found.update(zip(missing, created, strict=True))
    by_org: dict[int, list[int]] = {}
    for contact in created:
        by_org.setdefault(contact.organization_id, []).append(contact.pk)
    for org_id, ids in by_org.items():
        publisher.publish(org_id, events.ContactUpdated(contact_ids=ids, change="created"))
    # Rows, not model instances: nothing reads them back, and a new customer brings two.
    created_at = timezone.now()
    insert_rows(
        ContactIdentity,
        [
            {
                "organization_id": org_id,
                "contact_id": found[(org_id, phone)].pk,
                "kind": PHONE,
                "value": value,
                "created_at": created_at,
            }
            for (org_id, phone), values in forms.items()
            if (org_id, phone) in found
            for value in values
            if (org_id, value) not in owner
        ],
    )
    for key, contact in found.items():
        if names[key] and not contact.name:
            contact.name = names[key]
            contact.save(update_fields=["name"])
    by_sender = {
        sender: found[(sender[0], phone)]
        for sender, phone in wanted.items()
        if (sender[0], phone) in found
    }
    trouble = {sender for sender, phone in wanted.items() if (sender[0], phone) in conflicting}
    return by_sender, {c.pk for c in created}, trouble
