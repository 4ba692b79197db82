"""The conversation list: one query for the operator view and for `GET /api/conversations`.

Tabs: Mine (assigned to me), Queue (unassigned in my queues, or in no queue at all) and All
(supervisors). Filters narrow every tab the same way, and each tab's count is taken with the
same filters, so the numbers on the tabs are what the tabs show. Newest activity first, pages
by keyset on (last_message_at, id): a page costs the same at the top and deep down, and rows
arriving meanwhile do not shift the next page.
"""

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils.dateparse import parse_datetime

from conversa.accounts.models import Member, Organization
from conversa.accounts.scoping import scoped
from conversa.inbox.models import Contact, Conversation, Message

MINE, QUEUE, ALL = "mine", "queue", "all"
SUPERVISING = (Member.Role.OWNER, Member.Role.ADMIN, Member.Role.SUPERVISOR)
# Status filter values beyond the model's own: "active" is every state but resolved.
ACTIVE = "active"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Tabs count this many conversations at most; past it they say "1000+".
COUNT_CAP = 1000


@dataclass
class Filters:
    status: str = ""  # a Conversation.Status, "active" (not resolved), or "" for any
    operator: int | None = None  # assignee's member id
    instance: int | None = None
    tag: int | None = None
    q: str = ""

    @property
    def active(self) -> bool:
        return bool(self.status or self.operator or self.instance or self.tag or self.q)


@dataclass
class Page:
    tab: str
    conversations: list[Conversation]
    next_cursor: str | None
    counts: dict[str, int] = field(default_factory=dict)


def tabs_for(member: Member) -> list[str]:
    return [MINE, QUEUE, ALL] if member.role in SUPERVISING else [MINE, QUEUE]


def tab_condition(member: Member, tab: str) -> Q:
    """Which conversations a tab holds, as a condition (for the list and for its count)."""
    if tab == MINE:
        return Q(assignee=member)
    if tab == QUEUE:
        if member.role in SUPERVISING:
            return Q(assignee__isnull=True)  # supervisors work in every queue
        mine = Q(queue__isnull=True) | Q(queue__in=member.queues.values("pk"))
        return Q(assignee__isnull=True) & mine
    return Q()


def filtered(org: Organization, filters: Filters) -> QuerySet:
    """The organization's conversations narrowed by the filters (not by tab, not paged)."""
    conversations = scoped(org, Conversation)
    if filters.status == ACTIVE:
        conversations = conversations.exclude(status=Conversation.Status.RESOLVED)
    elif filters.status in Conversation.Status.values:
        conversations = conversations.filter(status=filters.status)
    if filters.operator:
        conversations = conversations.filter(assignee_id=filters.operator)
    if filters.instance:
        conversations = conversations.filter(instance_id=filters.instance)
    if filters.tag:
        conversations = by_tag(conversations, filters.tag)
    if filters.q.strip():
        conversations = conversations.filter(matches(org, filters.q.strip()))
    return conversations


def by_tag(conversations: QuerySet, tag_id: int) -> QuerySet:
    """Conversations carrying the tag, or whose contact does."""
    tagged = Conversation.objects.filter(Q(tags__id=tag_id) | Q(contact__tags__id=tag_id))
    return conversations.filter(pk__in=tagged.values("pk"))


def matches(org: Organization, q: str) -> Q:
    """Contact name, number (its digits anywhere), or the text of any message.

    Phrased as "the contact is one of these" or "the conversation is one of these", not as a
    condition on each row, so PostgreSQL finds the matching contacts and messages through
    their trigram indexes once instead of testing every conversation for a match.
    """
    who = Q(name__icontains=q)
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3:
        who |= Q(phone__contains=digits)
    contacts = Contact.objects.filter(who, organization=org).values("pk")
    said = Message.objects.filter(organization=org, body__icontains=q).values("conversation_id")
    return Q(contact__in=contacts) | Q(pk__in=said)


def encode_cursor(conversation: Conversation) -> str:
    raw = f"{conversation.last_message_at.isoformat()}|{conversation.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The (last_message_at, id) a cursor stands for; None for anything not a cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = raw.split("|")
        moment = parse_datetime(at)
        return (moment, int(pk)) if moment else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def after(conversations: QuerySet, cursor: str | None) -> QuerySet:
    position = decode_cursor(cursor) if cursor else None
    if position is None:
        return conversations
    at, pk = position
    return conversations.filter(Q(last_message_at__lt=at) | Q(last_message_at=at, pk__lt=pk))


def with_preview(conversations: QuerySet) -> QuerySet:
    """The newest message's text, direction and kind for the list's second line."""
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-created_at", "-id")
    related = conversations.select_related("contact", "instance", "assignee", "queue")
    return related.prefetch_related("tags").annotate(
        last_body=Subquery(last.values("body")[:1]),
        last_direction=Subquery(last.values("direction")[:1]),
        last_kind=Subquery(last.values("kind")[:1]),
    )


def count_tabs(org: Organization, member: Member, filters: Filters) -> dict[str, int]:
    """Each tab's size under the same filters, counted up to `COUNT_CAP` + 1 (shown as
    "1000+"): one short read of each tab's index instead of a count of every conversation the
    organization ever had on every refresh. A search is run once and its matches counted by
    tab in one pass (a count per tab would search three times)."""
    conversations = filtered(org, filters).order_by()
    conditions = {tab: tab_condition(member, tab) for tab in tabs_for(member)}
    if filters.q.strip():
        found = list(conversations.values_list("pk", flat=True)[: COUNT_CAP + 1])
        return Conversation.objects.filter(pk__in=found).aggregate(
            **{tab: Count("pk", filter=c) if c else Count("pk") for tab, c in conditions.items()}
        )
    return {
        tab: conversations.filter(condition)[: COUNT_CAP + 1].count()
        for tab, condition in conditions.items()
    }


def count_label(count: int) -> str:
    return f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)


def list_conversations(
    org: Organization,
    member: Member,
    *,
    tab: str = MINE,
    filters: Filters | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    counts: bool = True,
    preview: bool = True,
) -> Page:
    """One page of the member's conversations in `tab` (a tab the member may not see is
    Mine), the cursor of the next page (None on the last), and every tab's count. With
    `preview`, each row also has its newest message, number, assignee, queue and tags (the
    page's list shows them; the API's rows do not)."""
    filters = filters or Filters()
    if tab not in tabs_for(member):
        tab = MINE
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    conversations = filtered(org, filters).filter(tab_condition(member, tab))
    page = after(conversations, cursor)
    page = with_preview(page) if preview else page.select_related("contact")
    rows = list(page.order_by("-last_message_at", "-id")[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return Page(
        tab=tab,
        conversations=rows[:limit],
        next_cursor=next_cursor,
        counts=count_tabs(org, member, filters) if counts else {},
    )
