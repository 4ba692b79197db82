"""One person's first messages reaching several processes at once, each naming them by other
identifiers (a phone with and without Brazil's ninth digit, a linked id, a username id, some
together): one contact in the end, holding every identifier, and one conversation with every
message (PostgreSQL; docs/design.md, invariant 10)."""

import os
from pathlib import Path

import pytest
from django.db import connection

from bench.cluster import database_url
from conversa.inbox.models import Contact, ContactIdentity, Conversation, Message
from tests.conftest import make_org
from tests.integration.together import release, spawn

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="several writing processes: PostgreSQL only"
)

NINE, EIGHT, LID, USER = "5511988887777", "551188887777", "207391834119245", "BR.5Z9QK1"
# (phone, lid, user id) of each racing process's message: linked to one another only through
# the ones that carry two identifiers.
SENDERS = [
    (NINE, "-", "-"),
    ("-", LID, "-"),
    (NINE, LID, "-"),
    (EIGHT, "-", "-"),
    ("-", "-", USER),
    (EIGHT, "-", USER),
    (NINE, "-", "-"),
    ("-", LID, "-"),
]


@pytest.mark.parametrize("round_", range(3))
def test_processes_naming_one_person_differently_at_once_make_one_contact(transactional_db, round_):
    org = make_org()
    script = Path(__file__).with_name("contact_at.py")
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": ""}
    processes = [
        spawn([str(script), str(org.number.pk), f"wamid.race{round_}-{n}", *sender], env)
        for n, sender in enumerate(SENDERS)
    ]
    release(processes)
    answers = [p.communicate(timeout=120)[0].split() for p in processes]
    assert [p.returncode for p in processes] == [0] * len(SENDERS), answers
    held = ContactIdentity.objects.filter(organization=org.org)
    assert Contact.objects.filter(organization=org.org).count() == 1, list(
        held.values_list("contact_id", "kind", "value")
    )
    [contact] = Contact.objects.filter(organization=org.org)
    assert contact.phone in (NINE, EIGHT)
    assert set(ContactIdentity.objects.filter(contact=contact).values_list("kind", "value")) == {
        ("phone", NINE),
        ("phone", EIGHT),
        ("lid", LID),
        ("user_id", USER),
    }
    assert ContactIdentity.objects.filter(organization=org.org).count() == 4
    [conversation] = Conversation.objects.filter(organization=org.org)
    assert conversation.contact == contact
    assert Message.objects.filter(conversation=conversation).count() == len(SENDERS)
    assert conversation.unread_count == len(SENDERS)
