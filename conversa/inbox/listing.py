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
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils.dateparse import parse_datetime

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.accounts.scoping import scoped
from conversa.inbox.models import Contact, Conversation, Message, Survey

MINE, QUEUE, ALL = "mine", "queue", "all"
# Status filter values beyond the model's own: "active" is every state but resolved.
ACTIVE = "active"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Tabs count this many conversations at most; past it they say "1000+". Under a search, each
# match costs a test, so they stop at a page.
COUNT_CAP = 1000
SEARCH_COUNT_CAP = PAGE_SIZE


# What a time window (`Filters.since`, `until`) applies to: when the conversation was opened
# (created), resolved (its last resolution), or first answered in its current cycle. Insights
# links each of its figures to the list behind it with these.
WINDOWS = {"opened": "created_at", "resolved": "resolved_at", "responded": "first_response_at"}
# Windows over what happened in the conversation rather than its own columns: a member's reply
# (Insights' conversations handled), a satisfaction rating answered (Insights' CSAT) and a
# reopening (a resolved conversation that came back).
REPLIED, RATED, REOPENED = "replied", "rated", "reopened"
# The rating filter's values: any rating, or one of 1 to 5.
ANY_RATING = "any"
RATINGS = (ANY_RATING, "1", "2", "3", "4", "5")


@dataclass
class Filters:
    status: str = ""  # a Conversation.Status, "active" (not resolved), or "" for any
    operator: int | None = None  # assignee's member id
    number: int | None = None
    tag: int | None = None
    q: str = ""
    queue: int | None = None
    by: str = ""  # a key of WINDOWS, REPLIED or RATED; the window below applies to that moment
    since: datetime | None = None
    until: datetime | None = None  # excluded
    rating: str = ""  # one of RATINGS: conversations with a satisfaction rating (that one)
    member: int | None = None  # whose replies (REPLIED) or resolutions rated (RATED)

    @property
    def windowed(self) -> bool:
        return self.by in (*WINDOWS, REPLIED, RATED, REOPENED) and bool(self.since or self.until)

    @property
    def active(self) -> bool:
        return bool(
            self.status
            or self.operator
            or self.number
            or self.tag
            or self.q
            or self.queue
            or self.windowed
            or self.rating
            or self.by in (REPLIED, RATED, REOPENED)
        )


@dataclass
class Page:
    tab: str
    conversations: list[Conversation]
    next_cursor: str | None
    counts: dict[str, int] = field(default_factory=dict)


def tabs_for(member: Member) -> list[str]:
    return [MINE, QUEUE, ALL] if member.supervises else [MINE, QUEUE]


def tab_condition(member: Member, tab: str) -> Q:
    """Which conversations a tab holds, as a condition (for the list and for its count)."""
    if tab == MINE:
        return Q(assignee=member)
    if tab == QUEUE:
        if member.supervises:
            return Q(assignee__isnull=True)  # supervisors work in every queue
        mine = Q(queue__isnull=True) | Q(queue__in=member.queues.values("pk"))
        return Q(assignee__isnull=True) & mine
    return Q()


def filtered(
    org: Organization,
    filters: Filters,
    within: Q | None = None,
    *,
    cursor: str | None = None,
    want: int = COUNT_CAP + 1,
) -> QuerySet:
    """The organization's conversations in `within` (a tab's condition, say), narrowed by the
    filters and started after `cursor`. Under a search, only the first `want` matches (newest
    first) are in it."""
    conversations = scoped(org, Conversation)
    if within is not None:
        conversations = conversations.filter(within)
    if filters.status == ACTIVE:
        conversations = conversations.exclude(status=Conversation.Status.RESOLVED)
    elif filters.status in Conversation.Status.values:
        conversations = conversations.filter(status=filters.status)
    if filters.operator:
        conversations = conversations.filter(assignee_id=filters.operator)
    if filters.number:
        conversations = conversations.filter(number_id=filters.number)
    if filters.tag:
        conversations = by_tag(conversations, filters.tag)
    if filters.queue:
        conversations = conversations.filter(queue_id=filters.queue)
    if filters.windowed and filters.by in WINDOWS:
        conversations = conversations.filter(within_window(WINDOWS[filters.by], filters))
    if filters.by == REPLIED:
        conversations = conversations.filter(pk__in=replied_in(org, filters))
    if filters.by == REOPENED:
        conversations = conversations.filter(pk__in=reopened_in(org, filters))
    if filters.rating or filters.by == RATED:
        conversations = conversations.filter(pk__in=rated_in(org, filters))
    conversations = after(conversations, cursor)
    if filters.q.strip():
        conversations = searched(org, conversations, filters.q.strip(), want)
    return conversations


def within_window(moment: str, filters: Filters) -> Q:
    """`moment` (a column) in the filters' window [since, until)."""
    window = Q()
    if filters.since:
        window &= Q(**{f"{moment}__gte": filters.since})
    if filters.until:
        window &= Q(**{f"{moment}__lt": filters.until})
    return window


def replied_in(org: Organization, filters: Filters) -> QuerySet:
    """The conversations a member (`filters.member`, else any) sent a message in during the
    window: the conversations Insights counts as handled."""
    replies = Message.objects.filter(
        organization=org, direction=Message.Direction.OUTBOUND, sender__isnull=False
    )
    if filters.member:
        replies = replies.filter(sender_id=filters.member)
    return replies.filter(within_window("created_at", filters)).values("conversation_id")


def reopened_in(org: Organization, filters: Filters) -> QuerySet:
    """The conversations reopened during the window, as their timelines say (Insights'
    reopened figure counts these events; one reopened twice in the window is listed once)."""
    events = OperationalEvent.objects.filter(
        organization=org, verb="conversation.reopened", object_type="conversation"
    )
    return events.filter(within_window("created_at", filters)).values("object_id")


def rated_in(org: Organization, filters: Filters) -> QuerySet:
    """The conversations with a satisfaction rating (`filters.rating`: any, or that one)
    answered in the window when it is a RATED one, of a resolution by `filters.member` when
    given: the ratings Insights counts."""
    answers = Survey.objects.filter(organization=org, rating__isnull=False)
    if filters.rating in RATINGS[1:]:
        answers = answers.filter(rating=int(filters.rating))
    if filters.member:
        answers = answers.filter(agent_id=filters.member)
    if filters.by == RATED:
        answers = answers.filter(within_window("answered_at", filters))
    return answers.values("conversation_id")


def by_tag(conversations: QuerySet, tag_id: int) -> QuerySet:
    """Conversations carrying the tag, or whose contact does."""
    tagged = Conversation.objects.filter(Q(tags__id=tag_id) | Q(contact__tags__id=tag_id))
    return conversations.filter(pk__in=tagged.values("pk"))


def searched(org: Organization, conversations: QuerySet, q: str, want: int) -> QuerySet:
    """Conversations whose contact's name or number, or the text of any of their messages,
    holds `q`: every one of the first `want` (newest first), and perhaps some after them.

    Found as two queries, merged: the conversations with a matching message, and those of a
    matching contact. Each alone is a plain semi-join whose plan PostgreSQL picks from its
    estimates: for a common word, walk the conversations newest first and test each one's
    messages until `want` have matched; for a rare one, find the few matching messages
    through the trigram index. Asked as one query (an OR of the two), neither plan is
    possible and it reads every match of a common word, or tests every conversation.
    """
    if connection.features.supports_slicing_ordering_in_compound:
        # One statement; each half keeps its own plan (a UNION ALL of two limited queries).
        first, second = halves(org, conversations, q, want, "pk")
        return conversations.filter(pk__in=first.union(second, all=True))
    first, second = halves(org, conversations, q, want, "last_message_at", "pk")
    newest: dict[int, datetime] = {}
    for at, pk in [*first, *second]:  # SQLite (no LIMIT inside a UNION): two queries, and a
        newest[pk] = max(at, newest.get(pk, at))  # conversation may move between them
    found = sorted(((at, pk) for pk, at in newest.items()), reverse=True)
    return conversations.filter(pk__in=[pk for _, pk in found[:want]])


def halves(
    org: Organization,
    conversations: QuerySet,
    q: str,
    want: int,
    *fields: str,
    newest_first: bool = True,
) -> tuple[QuerySet, QuerySet]:
    """The two halves of a search, each `want` rows at most: conversations with a message
    holding `q`, and conversations of a contact matching it. Newest first, or, for a count,
    in whatever order the database finds them fastest: a surname's matches in a queue come
    quicker from the few contacts who bear it than from walking the queue newest first."""
    said = Message.objects.filter(organization=org, body__icontains=q)
    by_message = conversations.filter(Exists(said.filter(conversation=OuterRef("pk"))))
    by_contact = conversations.filter(contact__in=matching_contacts(org, q))
    order = ("-last_message_at", "-id") if newest_first else ()
    first, second = (
        matches.order_by(*order).values_list(*fields)[:want] for matches in (by_message, by_contact)
    )
    return first, second


# A query made only of these is a phone number (or part of one): "+55 (11) 9 8765-4321".
PHONE = re.compile(r"[\d\s()+.-]+")


def matching_contacts(org: Organization, q: str) -> QuerySet:
    """The contacts whose name holds `q`, or whose number holds its digits when `q` is a
    number ("pedido 4213" is not looking for numbers with 4213 in them)."""
    who = Q(name__icontains=q)
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3 and PHONE.fullmatch(q):
        who |= Q(phone__contains=digits)
    return Contact.objects.filter(who, organization=org).values("pk")


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
    related = conversations.select_related("contact", "number", "assignee", "queue")
    return related.prefetch_related("tags").annotate(
        last_body=Subquery(last.values("body")[:1]),
        last_direction=Subquery(last.values("direction")[:1]),
        last_kind=Subquery(last.values("kind")[:1]),
    )


def count_tabs(
    org: Organization, member: Member, filters: Filters, found: list[int] | None = None
) -> dict[str, int]:
    """Each tab's size under the same filters, counted up to `count_cap` + 1 (shown as
    "1000+"): one short read of each tab's index instead of a count of every conversation the
    organization ever had on every refresh, all tabs in one statement.

    A search is run over all the member's tabs at once, in any order (a count needs no
    order), unless the caller has its matches already (`found`). When they fit under the cap
    they are every match, counted by tab in one pass; past it, the widest tab says "50+" and
    each narrower one counts its own matches (a tab's matches may all be older than the
    widest tab's first 50)."""
    conditions = {tab: tab_condition(member, tab) for tab in tabs_for(member)}
    cap = count_cap(filters)
    q = filters.q.strip()
    conversations = filtered(org, replace(filters, q="")).order_by()
    if not q:
        return capped_counts(
            {tab: conversations.filter(condition) for tab, condition in conditions.items()}, cap
        )
    compound = connection.features.supports_slicing_ordering_in_compound
    if found is None:
        widest = Q() if ALL in conditions else conditions[MINE] | conditions[QUEUE]
        first, second = halves(
            org, conversations.filter(widest), q, cap + 1, "pk", newest_first=False
        )
        found = list({pk for (pk,) in (first.union(second) if compound else [*first, *second])})
    if len(found) <= cap:
        return (
            scoped(org, Conversation)
            .filter(pk__in=found)
            .aggregate(
                **{
                    tab: Count("pk", filter=c) if c else Count("pk")
                    for tab, c in conditions.items()
                }
            )
        )
    narrower = {
        tab: halves(org, conversations.filter(condition), q, cap + 1, "pk", newest_first=False)
        for tab, condition in conditions.items()
        if tab != ALL
    }
    if compound:
        counts = capped_counts({tab: a.union(b) for tab, (a, b) in narrower.items()}, cap)
    else:
        counts = {tab: len({*a, *b}) for tab, (a, b) in narrower.items()}
    if ALL in conditions:
        counts[ALL] = cap + 1
    return {tab: min(counts[tab], cap + 1) for tab in conditions}


def capped_counts(querysets: dict[str, QuerySet], cap: int) -> dict[str, int]:
    """Each query's row count, up to `cap` + 1 (a UNION: as limited as its parts), in one
    statement: one round trip to the database instead of one per tab."""
    columns, params = [], []
    for queryset in querysets.values():
        if not queryset.query.combinator:
            queryset = queryset.values("pk")[: cap + 1]
        sql, more = queryset.query.sql_with_params()
        # The ORM's own SQL, every value in it a parameter.
        columns.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped)")  # noqa: S608
        params.extend(more)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        return dict(zip(querysets, cursor.fetchone(), strict=True))


def count_cap(filters: Filters) -> int:
    return SEARCH_COUNT_CAP if filters.q.strip() else COUNT_CAP


def count_label(count: int, cap: int = COUNT_CAP) -> str:
    return f"{cap}+" if count > cap else str(count)


def list_conversations(
    org: Organization,
    member: Member,
    *,
    tab: str = MINE,
    filters: Filters | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    counts: bool = True,
    columns: list[str] | None = None,
) -> Page:
    """One page of the member's conversations in `tab` (a tab the member may not see is
    Mine), the cursor of the next page (None on the last), and every tab's count. Each row
    has its newest message, number, assignee, queue and tags, as the page's list shows them;
    or, given `columns`, only those of the conversation and its contact (`contact__name`),
    as the API's rows do."""
    filters = filters or Filters()
    if tab not in tabs_for(member):
        tab = MINE
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    page = filtered(org, filters, tab_condition(member, tab), cursor=cursor, want=limit + 1)
    page = with_preview(page) if columns is None else page.select_related("contact").only(*columns)
    rows = list(page.order_by("-last_message_at", "-id")[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    found = None
    every_match_needed = len(rows) > count_cap(filters) or not next_cursor
    if filters.q.strip() and tab == ALL and cursor is None and every_match_needed:
        found = [c.pk for c in rows]  # the counts' matches, in hand already
    return Page(
        tab=tab,
        conversations=rows[:limit],
        next_cursor=next_cursor,
        counts=count_tabs(org, member, filters, found) if counts else {},
    )
