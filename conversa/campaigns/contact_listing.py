"""The contact list: one query for the Contacts page and for `GET /api/contacts`.

Search (name, phone, tag, custom field value) and filters (consent, opted out, blocked, last
customer message, open conversation, pipeline stage) narrow it; it is sorted by name, by last
message or by creation, and read in pages by keyset on (sort value, id), as the inbox's list
is: a page costs the same at the top and deep down, and contacts arriving meanwhile do not
shift the next page. The count says "1000+" past 1000 (inbox.listing's cap) instead of
counting a million contacts on every page.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from conversa.accounts.models import Organization
from conversa.accounts.scoping import scoped
from conversa.crm.models import Lead
from conversa.inbox.listing import COUNT_CAP, capped_counts
from conversa.inbox.models import Contact, Conversation, Tag

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_DAYS = 3650
# A search naming more tags than this reads only the first ones' contacts.
MAX_TAGS = 50
NAME, LAST, CREATED = "name", "last", "created"
SORTS = (NAME, LAST, CREATED)
YES, NO = "yes", "no"
YES_NO = (YES, NO)
# A query made only of these is a phone number (or part of one): "+55 (11) 9 8765-4321".
PHONE = re.compile(r"[\d\s()+.-]+")


@dataclass
class Filters:
    q: str = ""
    consent: str = ""  # "yes", "no" or "" (either)
    opted_out: str = ""
    blocked: str = ""
    wrote_within: int | None = None  # days since the customer's last message
    open_conversation: str = ""
    stage: int | None = None  # a pipeline stage holding one of the contact's leads
    sort: str = NAME

    @property
    def active(self) -> bool:
        return bool(
            self.q.strip()
            or self.consent
            or self.opted_out
            or self.blocked
            or self.wrote_within
            or self.open_conversation
            or self.stage
        )


@dataclass
class Page:
    contacts: list[Contact]
    next_cursor: str | None
    count: int  # up to COUNT_CAP + 1 ("1000+")


def yes_no(queryset: QuerySet, value: str, condition: Q | Exists) -> QuerySet:
    if value == YES:
        return queryset.filter(condition)
    if value == NO:
        return queryset.exclude(condition)
    return queryset


def open_conversation() -> Exists:
    unresolved = Conversation.objects.filter(contact=OuterRef("pk")).exclude(
        status=Conversation.Status.RESOLVED
    )
    return Exists(unresolved)


def searched(org: Organization, q: str) -> Q:
    """Contacts whose name, a tag's name or a custom field (key or value) holds `q`, or whose
    number holds its digits when `q` is a number.

    The tags matching `q` are looked up first (an organization has few): when none does, the
    condition is only LIKEs, each answered by its trigram index on PostgreSQL (0008, 0017),
    and a rare term is found through them instead of by testing every contact, which a
    subquery in the OR would force."""
    who = Q(name__icontains=q) | Q(custom_fields__icontains=q)
    escaped = json.dumps(q)[1:-1]
    if escaped != q:
        # SQLite keeps the JSON as written, "Bel\\u00e9m": match the value in that spelling too.
        who |= Q(custom_fields__icontains=escaped)
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3 and PHONE.fullmatch(q):
        who |= Q(phone__contains=digits)
    tags = list(scoped(org, Tag).filter(name__icontains=q).values_list("pk", flat=True)[:MAX_TAGS])
    if tags:
        tagged = Contact.tags.through.objects.filter(tag_id__in=tags)
        who |= Q(pk__in=tagged.values("contact_id"))
    return who


def narrowed(org: Organization, filters: Filters) -> QuerySet:
    """The organization's contacts under the filters and the search."""
    contacts = scoped(org, Contact)
    if filters.q.strip():
        contacts = contacts.filter(searched(org, filters.q.strip()))
    contacts = yes_no(contacts, filters.consent, Q(marketing_consent=True))
    contacts = yes_no(contacts, filters.opted_out, Q(opted_out=True))
    contacts = yes_no(contacts, filters.blocked, Q(blocked=True))
    contacts = yes_no(contacts, filters.open_conversation, open_conversation())
    if filters.wrote_within:
        since = timezone.now() - timedelta(days=filters.wrote_within)
        wrote = Conversation.objects.filter(contact=OuterRef("pk"), last_inbound_at__gte=since)
        contacts = contacts.filter(Exists(wrote))
    if filters.stage:
        leads = Lead.objects.filter(organization=org, contact=OuterRef("pk"), stage=filters.stage)
        contacts = contacts.filter(Exists(leads))
    return contacts


def with_columns(contacts: QuerySet) -> QuerySet:
    """What each row shows: its last message's time (`last_at`, the creation time for a
    contact who never wrote) and whether it has an open conversation (`has_open`)."""
    latest = Conversation.objects.filter(contact=OuterRef("pk")).order_by("-last_message_at")
    return contacts.annotate(
        last_at=Coalesce(Subquery(latest.values("last_message_at")[:1]), F("created_at")),
        has_open=open_conversation(),
    )


ORDER = {NAME: ("name", "id"), LAST: ("-last_at", "-id"), CREATED: ("-created_at", "-id")}


def sort_value(contact: Contact, sort: str):
    if sort == NAME:
        return contact.name
    return (contact.last_at if sort == LAST else contact.created_at).isoformat()


def encode_cursor(contact: Contact, sort: str) -> str:
    raw = json.dumps([sort, sort_value(contact, sort), contact.pk])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[str | datetime, int] | None:
    """The (sort value, id) a cursor of this sort stands for; None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, value, pk = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if kind != sort or not isinstance(value, str) or not isinstance(pk, int) or pk < 1:
        return None
    if sort == NAME:
        return value, pk
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    return (moment, pk) if moment else None


def after(contacts: QuerySet, sort: str, cursor: str | None) -> QuerySet:
    position = decode_cursor(cursor, sort) if cursor else None
    if position is None:
        return contacts
    value, pk = position
    if sort == NAME:
        return contacts.filter(Q(name__gt=value) | Q(name=value, pk__gt=pk))
    column = "last_at" if sort == LAST else "created_at"
    return contacts.filter(Q(**{f"{column}__lt": value}) | Q(**{column: value, "pk__lt": pk}))


def list_contacts(
    org: Organization,
    filters: Filters | None = None,
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    count: bool = True,
) -> Page:
    """One page of contacts (with their tags), the cursor of the next (None on the last) and
    the number matching, capped: a fixed number of queries whatever the page's size.

    A search is found in two steps, as the inbox's is. First up to COUNT_CAP + 1 matches in
    no order: the database picks its fastest way, the trigram indexes for a rare term, a
    short walk for a common one. When they are all the matches (a few hundred at most), the
    page is sorted from them and the count is theirs. Past the cap the term is common, and
    the page walks the sort's index testing each contact: matches come quickly."""
    filters = filters or Filters()
    sort = filters.sort if filters.sort in SORTS else NAME
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    matching = narrowed(org, filters)
    total = None if count else 0
    if filters.q.strip():
        found = list(matching.order_by().values_list("pk", flat=True)[: COUNT_CAP + 1])
        total = len(found)
        if total <= COUNT_CAP:
            matching = scoped(org, Contact).filter(pk__in=found)
    page = after(with_columns(matching), sort, cursor)
    rows = list(page.prefetch_related("tags").order_by(*ORDER[sort])[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1], sort) if len(rows) > limit else None
    if total is None:
        total = capped_counts({"all": matching.order_by().values("pk")}, COUNT_CAP)["all"]
    return Page(contacts=rows[:limit], next_cursor=next_cursor, count=total)
