"""One person, one contact: normalized phones, every identifier kept, contacts found twice
merged (issue 15, item 2)."""

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from psycopg.errors import DeadlockDetected

from conversa.accounts.models import OperationalEvent
from conversa.inbound import consequences
from conversa.inbox import contacts, phones, services, thread
from conversa.inbox.models import Contact, ContactIdentity, Conversation, Message
from conversa.providers.base import InboundMessage
from conversa.sandbox import simulator
from tests.plans import index_conditions


def identities(contact: Contact) -> set[tuple[str, str]]:
    return set(contact.identities.values_list("kind", "value"))


def arrives(org, *, phone="", lid="", user_id="", text="Oi", name="Cliente", number=None):
    return consequences.receive_message(
        number or org.number,
        InboundMessage(
            provider_message_id=simulator.new_message_id(),
            phone=phone,
            name=name,
            kind="text",
            body=text,
            lid=lid,
            user_id=user_id,
        ),
    )


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("5511988887777", "5511988887777"),
        ("+55 (11) 98888-7777", "5511988887777"),
        ("0055 11 98888 7777", "5511988887777"),
        ("11 98888-7777", "5511988887777"),  # typed in Brazil, without the country code
        ("(11) 3222-3333", "551132223333"),  # a landline
        ("551188887777", "551188887777"),  # an old mobile without its ninth digit: possible
        ("12025550123", "12025550123"),
        ("+1 202 555 0123", "12025550123"),
        ("4915112345678", "4915112345678"),
        ("", ""),
        ("abc", ""),
        ("12", ""),
        ("55119000", ""),
        ("+" + "9" * 30, ""),
        ("1" * 100, ""),
    ],
)
def test_phones_normalize_to_e164_digits(raw, normalized):
    assert phones.normalize_phone(raw) == normalized


def test_a_brazilian_mobile_as_providers_give_it_normalizes_as_the_library_reads_it():
    """`normalize_phone` takes 55, an area code, 9 and eight digits (the first 6-9) as they
    are, without phonenumbers: in every area code, valid or not, that is the library's reading."""
    for area in (area for area in range(11, 100) if area % 10):  # no area code has a 0
        for first in "6789":
            for rest in ("0000000", "1234567", "9999999"):
                phone = f"55{area}9{first}{rest}"
                assert phones.normalize_phone(phone) == phones.read_phone(phone, "BR")
                assert phones.normalize_phone(phone) == phone


def test_brazilian_mobiles_have_a_form_with_and_without_the_ninth_digit():
    assert phones.phone_variants("5511988887777") == ["551188887777"]
    assert phones.phone_variants("551188887777") == ["5511988887777"]
    assert phones.phone_variants("551132223333") == []  # landlines have one form
    assert phones.phone_variants("12025550123") == []
    assert phones.phone_variants("") == []


def test_a_number_the_library_does_not_know_still_gets_its_message_stored(org):
    message = arrives(org, phone="55119000")
    assert message.conversation.contact.phone == "55119000"


def test_a_member_typed_number_is_normalized_with_a_phone_identity(org):
    contact, created = contacts.find_or_create_contact(org.org, phone="+55 (11) 98888-7777")
    assert created and contact.phone == "5511988887777"
    assert identities(contact) == {("phone", "5511988887777"), ("phone", "551188887777")}
    again, created = contacts.find_or_create_contact(org.org, phone="11 98888 7777")
    assert (again, created) == (contact, False)


def test_a_linked_id_first_then_phone_and_linked_id_is_one_contact(org):
    first = arrives(org, lid="123456789012345")
    contact = first.conversation.contact
    assert contact.phone == ""
    assert identities(contact) == {("lid", "123456789012345")}
    second = arrives(org, phone="5511988887777", lid="123456789012345")
    assert second.conversation == first.conversation
    contact.refresh_from_db()
    assert contact.phone == "5511988887777"
    assert ("phone", "5511988887777") in identities(contact)
    third = arrives(org, phone="5511988887777")
    assert third.conversation == first.conversation
    assert Contact.objects.filter(organization=org.org).count() == 1


def test_a_username_sender_is_a_contact_without_a_phone(org):
    first = arrives(org, user_id="BR.1234567890ABCDEF", name="Ana")
    second = arrives(org, user_id="BR.1234567890ABCDEF")
    assert second.conversation == first.conversation
    contact = first.conversation.contact
    assert (contact.phone, contact.name) == ("", "Ana")
    assert identities(contact) == {("user_id", "BR.1234567890ABCDEF")}
    assert Conversation.objects.get().unread_count == 2


def test_the_ninth_digit_finds_the_same_contact_both_ways(org):
    with_nine = arrives(org, phone="5511988887777")
    without = arrives(org, phone="551188887777")
    assert without.conversation == with_nine.conversation
    Contact.objects.all().delete()
    without = arrives(org, phone="551188887777")
    with_nine = arrives(org, phone="5511988887777")
    assert with_nine.conversation == without.conversation


def test_a_contact_stored_before_identities_is_found_by_its_phone(org):
    legacy = Contact.objects.create(organization=org.org, phone="5511977776666", name="Old")
    message = arrives(org, phone="5511977776666")
    assert message.conversation.contact == legacy
    assert ("phone", "5511977776666") in identities(legacy)


def test_a_send_answer_wa_id_links_the_number_typed(org):
    typed, _ = contacts.find_or_create_contact(org.org, phone="5521987654321", name="Bia")
    # Meta answered with another wa_id for the number typed: the next message from it is hers.
    linked = contacts.link_identities(org.org, phone="5521987654321", new_phone="5521912340000")
    assert linked == typed
    assert ("phone", "5521912340000") in identities(typed)
    message = arrives(org, phone="5521912340000")
    assert message.conversation.contact == typed
    typed.refresh_from_db()
    assert typed.phone == "5521987654321"  # "linked" changes nothing the team sees
    assert not OperationalEvent.objects.filter(verb__endswith="number_changed").exists()


def test_a_linked_id_seen_with_its_phone_merges_the_two_contacts_it_had_made(org, committed):
    by_phone = arrives(org, phone="5511988887777", text="from the phone").conversation
    by_lid = arrives(org, lid="99887766554433", text="from the lid").conversation
    assert by_phone.contact != by_lid.contact
    with committed():
        kept = contacts.link_identities(org.org, phone="5511988887777", lid="99887766554433")
    assert kept == by_phone.contact  # the older
    assert Contact.objects.filter(organization=org.org).count() == 1
    conversation = Conversation.objects.get()
    assert conversation == by_phone  # the older thread holds both messages
    assert sorted(conversation.messages.values_list("body", flat=True)) == [
        "from the lid",
        "from the phone",
    ]
    assert conversation.unread_count == 2
    assert identities(kept) >= {("phone", "5511988887777"), ("lid", "99887766554433")}


def test_a_number_change_moves_the_contact_and_keeps_the_old_number(org):
    conversation = arrives(org, phone="5511988887777").conversation
    contact = conversation.contact
    contacts.link_identities(
        org.org, phone="5511988887777", new_phone="5511911112222", reason="number_changed"
    )
    contact.refresh_from_db()
    assert contact.phone == "5511911112222"
    assert {("phone", "5511988887777"), ("phone", "5511911112222")} <= identities(contact)
    texts = [item.text for item in thread.history(conversation)]
    assert "The customer changed their number from +5511988887777 to +5511911112222" in texts
    audit = OperationalEvent.objects.get(verb="contact.number_changed")
    assert (audit.object_id, audit.data["to"]) == (contact.pk, "+5511911112222")
    # Late messages from the old number and the first from the new land in the same thread.
    assert arrives(org, phone="5511988887777").conversation == conversation
    assert arrives(org, phone="5511911112222").conversation == conversation
    assert Contact.objects.filter(organization=org.org).count() == 1


def test_identifiers_are_per_organization(org, other_org):
    mine = arrives(org, lid="555").conversation.contact
    theirs = arrives(other_org, lid="555").conversation.contact
    assert mine != theirs
    assert ContactIdentity.objects.filter(value="555").count() == 2


def test_a_batch_resolves_identities_and_sends_the_unusual_one_at_a_time(org):
    known = arrives(org, phone="5511988887777").conversation.contact
    lid_only = arrives(org, lid="4242").conversation.contact
    batch = [
        (org.number, InboundMessage(simulator.new_message_id(), "5511988887777", "", "text", "a")),
        (org.number, InboundMessage(simulator.new_message_id(), "551188887777", "", "text", "b")),
        (org.number, InboundMessage(simulator.new_message_id(), "5521999990001", "N", "text", "c")),
        (org.number, InboundMessage(simulator.new_message_id(), "", "", "text", "d", lid="4242")),
        (
            org.number,
            InboundMessage(simulator.new_message_id(), "", "U", "text", "e", user_id="BR.U1"),
        ),
    ]
    messages, new_contacts = services.store_messages(batch)
    owner = {m.body: m.conversation.contact_id for m in messages}
    assert owner["a"] == owner["b"] == known.pk
    assert owner["d"] == lid_only.pk
    fresh = Contact.objects.get(phone="5521999990001")
    assert owner["c"] == fresh.pk and fresh.name == "N"
    assert identities(fresh) == {("phone", "5521999990001"), ("phone", "552199990001")}
    by_user_id = Contact.objects.get(identities__value="BR.U1")
    assert new_contacts == {fresh.pk, by_user_id.pk}
    assert Message.objects.count() == 7


def test_a_batch_of_known_senders_costs_the_same_statements_whatever_its_size(org):
    phones = [f"55119{n:08d}" for n in range(30)]
    for phone in phones:
        arrives(org, phone=phone)

    def statements(count: int) -> int:
        batch = [
            (org.number, InboundMessage(simulator.new_message_id(), phone, "", "text", "x"))
            for phone in phones[:count]
        ]
        with CaptureQueriesContext(connection) as queries:
            services.store_messages(batch)
        return len(queries)

    assert statements(3) == statements(30)


def test_a_batch_of_new_customers_writes_their_conversations_once(org):
    """New customers' conversations are inserted as the batch leaves them (their unread
    messages counted, their last message now): no lookup of conversations they cannot have
    and no second write; a known customer's conversation is counted as before."""
    known = arrives(org, phone="5511988887777").conversation
    batch = [
        (org.number, InboundMessage(simulator.new_message_id(), phone, "", "text", body))
        for phone, body in [("5521999990001", "a"), ("5521999990001", "b"), ("5521999990002", "c")]
    ]
    with CaptureQueriesContext(connection) as queries:
        messages, new_contacts = services.store_messages(batch)
    conversation_sql = [q["sql"] for q in queries if '"inbox_conversation"' in q["sql"]]
    assert [sql.split()[0] for sql in conversation_sql] == ["INSERT"]
    assert len(new_contacts) == 2
    for message in messages:
        conversation = Conversation.objects.get(pk=message.conversation_id)
        expected = 2 if message.body in "ab" else 1
        assert conversation.unread_count == message.conversation.unread_count == expected
        assert conversation.last_inbound_at == conversation.last_message_at is not None
        assert conversation.status == Conversation.Status.OPEN
    again = [
        (org.number, InboundMessage(simulator.new_message_id(), phone, "", "text", "d"))
        for phone in ("5521999990001", "5511988887777")
    ]
    services.store_messages(again)
    known.refresh_from_db()
    assert known.unread_count == 2
    assert Conversation.objects.get(contact__phone="5521999990001").unread_count == 3


def test_a_batch_whose_phone_points_at_two_contacts_merges_them(org):
    nine = Contact.objects.create(organization=org.org, phone="5511988887777")
    eight = Contact.objects.create(organization=org.org, phone="551188887777")
    batch = [
        (org.number, InboundMessage(simulator.new_message_id(), "551188887777", "", "text", "x"))
    ]
    [message], _ = services.store_messages(batch)
    assert message.conversation.contact == nine  # the older
    assert not Contact.objects.filter(pk=eight.pk).exists()


def test_the_contact_panel_shows_its_identifiers_escaped(org):
    conversation = arrives(org, phone="5511988887777", lid="<b>lid</b>").conversation
    page = org.client().get(f"/inbox/c/{conversation.pk}/contact")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Identifiers" in html and "Linked id" in html and "+5511988887777" in html
    assert "&lt;b&gt;lid&lt;/b&gt;" in html and "<b>lid</b>" not in html
    # Both Brazilian forms are recorded; the panel names the person's number once.
    assert "+551188887777" not in html


def test_a_mobile_recorded_in_both_forms_is_listed_once_a_landline_as_it_is(org):
    mobile = arrives(org, phone="5511988887777").conversation.contact
    assert sorted(i.value for i in mobile.identities.all()) == ["551188887777", "5511988887777"]
    assert [i.display_value for i in mobile.identifiers] == ["+5511988887777"]
    landline = arrives(org, phone="551133334444").conversation.contact
    assert [i.display_value for i in landline.identifiers] == ["+551133334444"]


def test_the_contact_panel_speaks_portuguese(org):
    conversation = arrives(org, user_id="BR.XYZ").conversation
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    html = client.get(f"/inbox/c/{conversation.pk}/contact").content.decode()
    assert "Identificadores" in html and "ID de usuário" in html


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_a_new_organizations_batch_looks_each_phone_up_whatever_the_statistics_say(org):
    """Statistics that know another organization but not this one (a new organization's first
    minutes) made the batch's lookups read all of its contacts and identities for every batch,
    filtering by phone: each lookup must reach its rows by the phone itself."""
    from conversa.accounts.models import Organization

    def fill(organization, prefix: str, n: int) -> None:
        people = Contact.objects.bulk_create(
            Contact(organization=organization, phone=f"{prefix}{i:07d}") for i in range(n)
        )
        ContactIdentity.objects.bulk_create(
            ContactIdentity(organization=organization, contact=c, kind="phone", value=c.phone)
            for c in people
        )

    fill(Organization.objects.create(name="Known", slug="known-stats"), "552199", 2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inbox_contact")
        cursor.execute("ANALYZE inbox_contactidentity")
    fill(org.org, "551199", 2000)
    batch = [
        (org.number, InboundMessage(simulator.new_message_id(), f"551188{i:07d}", "", "text", "x"))
        for i in range(16)
    ]
    with CaptureQueriesContext(connection) as queries:
        services.store_messages(batch)
    lookups = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT")
        and ('FROM "inbox_contact"' in q["sql"] or 'FROM "inbox_contactidentity"' in q["sql"])
    ]
    # One statement, its identities' branch and its contacts' (stored without identities).
    assert len(lookups) == 1
    conditions, plan = index_conditions(lookups[0])
    assert any("(value)::text = ANY" in line for line in conditions), plan
    assert any("(phone)::text = ANY" in line for line in conditions), plan


def test_a_contact_insert_failed_to_break_a_deadlock_looks_again(org, monkeypatch):
    """PostgreSQL may fail a new contact's insert to break a deadlock with a process filling
    the same phone in: its savepoint rolled back, the lookup runs again, and another failure
    of the database still raises."""
    real = contacts.create_contact
    failures = []

    def failing(organization, ids, name):
        if len(failures) < 2:
            failures.append(1)
            exc = OperationalError("deadlock detected" if len(failures) == 1 else "gone")
            exc.__cause__ = DeadlockDetected() if len(failures) == 1 else None
            raise exc
        return real(organization, ids, name)

    monkeypatch.setattr(contacts, "create_contact", failing)
    with pytest.raises(OperationalError, match="gone"):
        contacts.find_or_create_contact(org.org, phone="5511977776666")
    contact, created = contacts.find_or_create_contact(org.org, phone="5511977776666")
    assert created and contact.phone == "5511977776666" and len(failures) == 2
