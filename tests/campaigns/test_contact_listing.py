"""The Contacts list: search, filters, sorts and keyset pages, in a fixed number of queries."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversa.campaigns import consent, contact_listing
from conversa.campaigns.contact_listing import Filters, list_contacts
from conversa.crm import services as crm
from conversa.inbox import tags
from conversa.inbox.models import Contact, Conversation


def names(page) -> list[str]:
    return [c.name for c in page.contacts]


def make(org, name: str, phone: str, **fields) -> Contact:
    return Contact.objects.create(organization=org.org, name=name, phone=phone, **fields)


def test_search_finds_by_name_phone_tag_and_custom_field(org, other_org):
    ana = make(org, "Ana Souza", "5511988880001")
    bruno = make(org, "Bruno", "5521977770002", custom_fields={"cidade": "Recife"})
    dora = make(org, "Dora", "5541955550004", custom_fields={"cidade": "Belém"})
    carla = make(org, "Carla", "5531966660003")
    tags.tag_contact(
        carla,
        tags.create_tag(org.org, "Atacado", "green", acting_member=org.owner),
        acting_member=org.owner,
    )
    make(other_org, "Ana Souza", "5511988880001")  # another organization's: never listed

    assert names(list_contacts(org.org, Filters(q="souza"))) == ["Ana Souza"]
    assert names(list_contacts(org.org, Filters(q="+55 21 97777"))) == ["Bruno"]
    assert names(list_contacts(org.org, Filters(q="atacado"))) == ["Carla"]
    assert names(list_contacts(org.org, Filters(q="recife"))) == ["Bruno"]
    assert names(list_contacts(org.org, Filters(q="Belém"))) == ["Dora"]
    # Words are not numbers: "pedido 8888" does not match Ana's phone digits.
    assert names(list_contacts(org.org, Filters(q="pedido 8888"))) == []
    assert {ana.pk, bruno.pk, carla.pk, dora.pk} == {c.pk for c in list_contacts(org.org).contacts}


def test_filters_narrow_by_consent_opt_out_block_recent_message_open_and_stage(org):
    consented = make(org, "Consentiu", "5511900000001")
    consent.record_consent(consented, granted=True, channel="agent", evidence="sim")
    make(org, "Saiu", "5511900000002", opted_out=True)
    make(org, "Bloqueado", "5511900000003", blocked=True)
    org.customer_writes("5511990000004", name="Escreveu")
    writer = org.contact("5511990000004")
    writer.name = "Escreveu"
    writer.save()
    old = org.conversation("5511990000005")
    old_contact = old.contact
    old_contact.name = "Antigo"
    old_contact.save()
    long_ago = timezone.now() - timedelta(days=40)
    Conversation.objects.filter(pk=old.pk).update(
        last_inbound_at=long_ago, status=Conversation.Status.RESOLVED
    )
    pipeline = crm.create_pipeline(
        org.org, "Vendas", acting_member=org.owner, stages=[{"name": "Novo"}, {"name": "Fim"}]
    )
    first = pipeline.stages.order_by("position").first()
    crm.create_lead(consented, first, "Plano", acting_member=org.owner)

    def found(**kw) -> set[str]:
        return set(names(list_contacts(org.org, Filters(**kw))))

    assert found(consent="yes") == {"Consentiu"}
    assert "Consentiu" not in found(consent="no")
    assert found(opted_out="yes") == {"Saiu"}
    assert found(blocked="yes") == {"Bloqueado"}
    assert "Bloqueado" not in found(blocked="no")
    assert found(wrote_within=7) == {"Escreveu"}
    assert found(wrote_within=60) == {"Escreveu", "Antigo"}
    assert found(open_conversation="yes") == {"Escreveu"}
    assert "Antigo" in found(open_conversation="no")
    assert found(stage=first.pk) == {"Consentiu"}
    assert found(stage=first.pk, consent="no") == set()


def test_keyset_pages_walk_every_contact_once_in_each_sort(org):
    start = timezone.now() - timedelta(days=10)
    for i, name in enumerate(["Eva", "ana", "Caio", "Bia", "Dan", "Bia"]):
        make(org, name, f"551197111100{i}", created_at=start + timedelta(hours=i))
    org.customer_writes("5511971111003", name="Bia")  # the second Bia wrote last

    for sort in ("name", "created", "last"):
        seen, cursor = [], None
        while True:
            page = list_contacts(org.org, Filters(sort=sort), cursor=cursor, limit=2)
            seen += page.contacts
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == 6 and len({c.pk for c in seen}) == 6, sort
        everyone = list_contacts(org.org, Filters(sort=sort), limit=50).contacts
        assert [c.pk for c in seen] == [c.pk for c in everyone], sort
    by_name = [c.name for c in list_contacts(org.org, Filters(sort="name")).contacts]
    assert by_name == sorted(by_name)
    assert list_contacts(org.org, Filters(sort="created")).contacts[0].name == "Bia"
    newest = list_contacts(org.org, Filters(sort="last")).contacts[0]
    assert newest.phone == "5511971111003"


def test_a_foreign_or_broken_cursor_reads_as_the_first_page(org):
    for i in range(3):
        make(org, f"C{i}", f"55119222200{i}")
    page = list_contacts(org.org, Filters(sort="name"), limit=1)
    # A name cursor given to the "created" sort, and garbage: both start from the top.
    for cursor in (page.next_cursor, "%%%", "bm90IGpzb24"):
        again = list_contacts(org.org, Filters(sort="created"), cursor=cursor, limit=1)
        assert (
            again.contacts[0].pk == list_contacts(org.org, Filters(sort="created")).contacts[0].pk
        )


def test_a_page_costs_the_same_queries_however_many_rows_and_tags(org):
    tag = tags.create_tag(org.org, "VIP", "blue", acting_member=org.owner)

    def queries_for(n: int) -> int:
        for i in range(n):
            contact = make(org, f"P{n}-{i}", f"551198{n:03d}{i:04d}")
            tags.tag_contact(contact, tag, acting_member=org.owner)
            org.customer_writes(contact.phone)
        with CaptureQueriesContext(connection) as captured:
            page = list_contacts(org.org, Filters(q="P", sort="last"))
            assert all(list(c.tags.all()) == [tag] for c in page.contacts)
        return len(captured.captured_queries)

    assert queries_for(2) == queries_for(12)


def test_the_count_stops_past_the_cap(org, monkeypatch):
    Contact.objects.bulk_create(
        Contact(organization=org.org, name=f"N{i}", phone=f"55119444{i:05d}") for i in range(7)
    )
    assert list_contacts(org.org).count == 7
    monkeypatch.setattr(contact_listing, "COUNT_CAP", 3)
    assert list_contacts(org.org).count == 4  # shown as "3+"


def test_a_search_reads_the_same_pages_under_and_past_the_cap(org, monkeypatch):
    """Few matches are sorted from the set found first; past the cap the page walks the sort's
    order testing each contact. Both give the same rows, in the same order."""
    for i in range(5):
        make(org, f"Silva {5 - i}", f"55119666{i:05d}")
    make(org, "Outro", "5511966699999")

    def walk() -> tuple[list[str], int]:
        seen, cursor, first_count = [], None, None
        while True:
            page = list_contacts(org.org, Filters(q="silva"), cursor=cursor, limit=2)
            first_count = page.count if first_count is None else first_count
            seen += names(page)
            if not (cursor := page.next_cursor):
                return seen, first_count

    under = walk()
    monkeypatch.setattr(contact_listing, "COUNT_CAP", 3)
    past = walk()
    assert under == ([f"Silva {i}" for i in range(1, 6)], 5)
    assert past == (under[0], 4)  # shown as "3+"
