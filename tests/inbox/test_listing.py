"""The conversation list: tabs, counts, filters, search and keyset pages, always inside the
caller's organization; the same query behind the page and `GET /api/conversations`."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversa.accounts.models import Member
from conversa.inbox import listing, ownership, states
from conversa.inbox.listing import Filters
from conversa.inbox.models import Conversation, Queue


def ids(page) -> list[int]:
    return [c.pk for c in page.conversations]


def spread(conversations) -> None:
    """Distinct activity times, the first given the newest."""
    now = timezone.now()
    for n, conversation in enumerate(conversations):
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=now - timedelta(minutes=n)
        )


@pytest.fixture
def team(org):
    """Two queues; Ana in Sales only; Sales' and Support's waiting conversations, one
    with no queue, one of Ana's own and one of Bruno's."""
    sales = Queue.objects.create(organization=org.org, name="Sales")
    support = Queue.objects.create(organization=org.org, name="Support")
    ana, bruno = org.member(), org.member()
    sales.members.add(ana)
    support.members.add(bruno)
    convs = {}
    for n, name in enumerate(["sales", "support", "loose", "anas", "brunos"]):
        convs[name] = org.customer_writes(f"55119000010{n:02d}", f"hi {name}", name).conversation
    Conversation.objects.filter(pk=convs["sales"].pk).update(queue=sales)
    Conversation.objects.filter(pk__in=[convs["support"].pk, convs["brunos"].pk]).update(
        queue=support
    )
    Conversation.objects.filter(pk=convs["anas"].pk).update(queue=sales)
    ownership.claim(convs["anas"], acting_member=ana)
    ownership.claim(convs["brunos"], acting_member=bruno)
    spread(convs.values())
    return ana, bruno, convs


def test_mine_is_what_i_was_given_and_queue_what_waits_in_my_queues(org, team):
    ana, bruno, c = team
    mine = listing.list_conversations(org.org, ana, tab="mine")
    assert ids(mine) == [c["anas"].pk]
    queue = listing.list_conversations(org.org, ana, tab="queue")
    # Not Support's: Ana is not in it. The conversation in no queue is anyone's to take.
    assert ids(queue) == [c["sales"].pk, c["loose"].pk]
    assert queue.counts == {"mine": 1, "queue": 2}


def test_all_is_for_supervisors_and_an_agent_asking_for_it_gets_mine(org, team):
    ana, bruno, c = team
    page = listing.list_conversations(org.org, ana, tab="all")
    assert page.tab == "mine" and ids(page) == [c["anas"].pk]
    supervisor = org.member(Member.Role.SUPERVISOR)
    everything = listing.list_conversations(org.org, supervisor, tab="all")
    assert ids(everything) == [c[k].pk for k in ["sales", "support", "loose", "anas", "brunos"]]
    # Supervisors' Queue is every unassigned conversation, whatever the queue.
    assert everything.counts == {"mine": 0, "queue": 3, "all": 5}


def test_filters_narrow_the_list_and_the_counts_alike(org, team):
    ana, bruno, c = team
    owner = org.owner
    states.resolve(c["loose"], acting_member=owner)
    resolved = listing.list_conversations(
        org.org, owner, tab="all", filters=Filters(status="resolved")
    )
    assert ids(resolved) == [c["loose"].pk]
    active = listing.list_conversations(org.org, owner, tab="all", filters=Filters(status="active"))
    assert c["loose"].pk not in ids(active) and active.counts["all"] == 4
    brunos = listing.list_conversations(
        org.org, owner, tab="all", filters=Filters(operator=bruno.pk)
    )
    assert ids(brunos) == [c["brunos"].pk] and brunos.counts == {"mine": 0, "queue": 0, "all": 1}


def test_number_filter(org, team):
    ana, bruno, c = team
    page = listing.list_conversations(
        org.org, org.owner, tab="all", filters=Filters(number=org.number.pk)
    )
    assert len(ids(page)) == 5
    page = listing.list_conversations(
        org.org, org.owner, tab="all", filters=Filters(number=org.number.pk + 1000)
    )
    assert ids(page) == [] and page.counts["all"] == 0


def test_search_finds_name_number_and_message_text(org):
    first = org.customer_writes("5511988880001", "quero o plano anual", "Mariana Costa")
    second = org.customer_writes("5521977770002", "meu pedido atrasou", "João Pereira")
    org.customer_writes("5521977770002", "é o pedido #4821", "João Pereira")
    owner = org.owner

    def search(q):
        return set(ids(listing.list_conversations(org.org, owner, tab="all", filters=Filters(q=q))))

    assert search("mariana") == {first.conversation_id}
    assert search("+55 21 97777") == {second.conversation_id}
    assert search("#4821") == {second.conversation_id}
    assert search("PLANO") == {first.conversation_id}
    assert search("nada disso") == set()


def test_a_search_pages_through_name_and_text_matches_newest_first(org):
    """Matches by contact and by message are found by two queries and merged: the pages
    still come newest first, every match once, and the counts add both up."""
    by_name = [
        org.customer_writes(f"551191111000{n}", "bom dia", f"Rosa {n}").conversation
        for n in range(3)
    ]
    by_text = [
        org.customer_writes(f"551192222000{n}", "quero a rosa vermelha", "Cliente").conversation
        for n in range(3)
    ]
    org.customer_writes("5511933330001", "nada a ver", "Outro")
    newest_first = [by_text[0], by_name[0], by_text[1], by_name[1], by_text[2], by_name[2]]
    spread(newest_first)
    seen, cursor = [], None
    while True:
        page = listing.list_conversations(
            org.org, org.owner, tab="all", filters=Filters(q="rosa"), cursor=cursor, limit=4
        )
        assert page.counts["all"] == 6
        seen += ids(page)
        if not (cursor := page.next_cursor):
            break
    assert seen == [c.pk for c in newest_first]


def test_a_number_is_searched_in_numbers_only_when_the_query_is_one(org):
    numbered = org.customer_writes("5511987654213", "oi", "Cliente").conversation
    ordered = org.customer_writes("5511911110000", "o pedido 4213 chegou", "Outra").conversation

    def search(q):
        return set(
            ids(listing.list_conversations(org.org, org.owner, tab="all", filters=Filters(q=q)))
        )

    assert search("4213") == {numbered.pk, ordered.pk}
    assert search("(11) 98765-4213") == {numbered.pk}
    assert search("pedido 4213") == {ordered.pk}, "not every number with 4213 in it"


def test_search_counts_stop_sooner_but_each_tab_counts_its_own(org):
    """Past the cap the widest tab says "50+"; a narrower tab whose matches are all older
    than the widest tab's first 50 still counts them."""
    conversations = [
        org.customer_writes(f"55119444{n:05d}", "quero trocar", "Cliente").conversation
        for n in range(listing.SEARCH_COUNT_CAP + 10)
    ]
    spread(conversations)
    for conversation in conversations[-5:]:  # the owner holds the five oldest
        ownership.claim(conversation, acting_member=org.owner)
    filters = Filters(q="trocar")
    page = listing.list_conversations(org.org, org.owner, tab="all", filters=filters)
    assert page.counts == {
        "mine": 5,
        "queue": listing.SEARCH_COUNT_CAP + 1,
        "all": listing.SEARCH_COUNT_CAP + 1,
    }
    cap = listing.count_cap(filters)
    assert listing.count_label(page.counts["all"], cap) == f"{listing.SEARCH_COUNT_CAP}+"
    mine = listing.list_conversations(org.org, org.owner, tab="mine", filters=filters)
    assert len(mine.conversations) == mine.counts["mine"] == 5
    assert mine.counts == page.counts, "counted the same from any tab"


def test_an_agents_search_counts_every_match_of_each_tab_under_the_cap(org, team):
    ana, bruno, c = team
    # Sales' customer, named "sales", now also says it: matched twice, counted once.
    org.customer_writes("5511900001000", "hi sales", "sales")
    filters = Filters(q="sales")
    for tab in ("mine", "queue"):
        page = listing.list_conversations(org.org, ana, tab=tab, filters=filters)
        assert page.counts == {"mine": 0, "queue": 1}
    filters = Filters(
        q="hi"
    )  # every conversation says hi: Ana sees hers and Sales' and the loose one
    page = listing.list_conversations(org.org, ana, tab="mine", filters=filters)
    assert ids(page) == [c["anas"].pk]
    assert page.counts == {"mine": 1, "queue": 2}


def test_pages_follow_the_cursor_newest_first_without_gaps_or_repeats(org):
    conversations = [org.conversation(f"55119111100{n:02d}") for n in range(7)]
    # Two share one instant: the id breaks the tie.
    spread(conversations)
    same = conversations[3].__class__.objects.get(pk=conversations[3].pk).last_message_at
    Conversation.objects.filter(pk=conversations[4].pk).update(last_message_at=same)
    seen, cursor = [], None
    while True:
        page = listing.list_conversations(org.org, org.owner, tab="all", cursor=cursor, limit=3)
        seen += ids(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = list(
        Conversation.objects.filter(organization=org.org)
        .order_by("-last_message_at", "-id")
        .values_list("pk", flat=True)
    )
    assert seen == expected and len(seen) == 7


def test_a_cursor_that_is_not_one_starts_from_the_top(org):
    conversation = org.conversation()
    page = listing.list_conversations(org.org, org.owner, tab="all", cursor="not-a-cursor!")
    assert ids(page) == [conversation.pk]


def test_another_organizations_conversations_never_show(org, other_org):
    org.customer_writes("5511900000001", "oi", "Nosso")
    other_org.customer_writes("5511900000001", "oi", "Deles")
    page = listing.list_conversations(org.org, org.owner, tab="all", filters=Filters(q="oi"))
    assert [c.contact.name for c in page.conversations] == ["Nosso"]
    assert page.counts["all"] == 1
    theirs = Conversation.objects.get(organization=other_org.org)
    page = listing.list_conversations(
        org.org, org.owner, tab="all", filters=Filters(number=theirs.number_id)
    )
    assert ids(page) == []


def test_the_list_carries_the_newest_message_for_its_preview(org):
    org.customer_writes("5511900000001", "primeira")
    org.customer_writes("5511900000001", "segunda")
    [conversation] = listing.list_conversations(org.org, org.owner, tab="all").conversations
    assert conversation.last_body == "segunda" and conversation.last_direction == "in"


def test_api_lists_with_the_same_filters_and_a_next_cursor(org, team):
    ana, bruno, c = team
    client = org.client()
    response = client.get("/api/conversations", {"limit": 2})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == [c["sales"].pk, c["support"].pk]
    assert response["X-Tab-Counts"] == "mine=0,queue=3,all=5"
    response = client.get("/api/conversations", {"limit": 2, "cursor": response["X-Next-Cursor"]})
    assert [row["id"] for row in response.json()] == [c["loose"].pk, c["anas"].pk]
    response = client.get("/api/conversations", {"limit": 2, "cursor": response["X-Next-Cursor"]})
    assert [row["id"] for row in response.json()] == [c["brunos"].pk]
    assert "X-Next-Cursor" not in response

    as_ana = org.client(ana)
    assert [r["id"] for r in as_ana.get("/api/conversations").json()] == [c["anas"].pk]
    queue = as_ana.get("/api/conversations", {"tab": "queue", "q": "sales"}).json()
    assert [r["id"] for r in queue] == [c["sales"].pk]
    assert client.get("/api/conversations", {"tab": "nope"}).status_code == 422


def test_an_api_page_reads_its_rows_in_one_query_however_many(org, team):
    ana, bruno, c = team
    client = org.client()

    def page(limit):
        with CaptureQueriesContext(connection) as queries:
            rows = client.get("/api/conversations", {"limit": limit}).json()
        return rows, len(queries)

    (one, few), (five, more) = page(1), page(5)
    assert len(one) == 1 and len(five) == 5
    assert few == more, "no column of a row is loaded row by row"
    anas = next(row for row in five if row["id"] == c["anas"].pk)
    assert anas["assignee_id"] == ana.pk and anas["contact"]["name"] == "anas"
    assert anas["contact"]["phone"] and anas["opened_at"] and anas["last_message_at"]
