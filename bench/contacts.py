"""`conversa bench contacts`: how fast the Contacts list answers at size (PostgreSQL).

1. Seed one organization with N contacts in a few INSERT … SELECT over generate_series (names
   from the inbox bench's lists, unique Brazilian mobiles, a city as a custom field, one in
   three consented, one in fifty opted out), a conversation for one contact in five, and a tag
   on one in ten.
2. Read pages as the page and the API do (`contact_listing.list_contacts`, in this process):
   the first page and four more by cursor, by name and by creation, with and without a
   filter; then searches (a surname, a city, digits of a number, a tag).
3. Report each kind's p95 in milliseconds and this process's peak memory, then delete the
   organization's rows.
"""

import os
import resource
import statistics
import time

from django.db import connection

from bench.inbox import insert_select
from bench.inbox_words import FIRST_NAMES, LAST_NAMES
from conversa.accounts.models import Organization
from conversa.campaigns.contact_listing import Filters, list_contacts
from conversa.inbox.models import Contact, Conversation, Tag
from conversa.numbers.models import Number

CITIES = ["Recife", "Campinas", "Salvador", "Curitiba", "Manaus", "Belém", "Natal"]


def seed(n: int) -> Organization:
    org = Organization.objects.create(name="Bench contacts", slug=f"bench-contacts-{os.getpid()}")
    number = Number.objects.create(
        organization=org, name="Bench", provider_name=f"bench-contacts-{os.getpid()}"
    )
    tag = Tag.objects.create(organization=org, name="Atacado")
    params = {"org": org.pk, "n": n, "first": FIRST_NAMES, "last": LAST_NAMES, "cities": CITIES}
    insert_select(
        Contact,
        {
            "organization_id": "%(org)s",
            "phone": "'55' || (11 + g %% 80) || '9' || lpad(((g::bigint * 7919) %% 100000000)::text,"
            " 8, '0')",
            "name": "(%(first)s::text[])[1 + g %% cardinality(%(first)s::text[])] || ' ' ||"
            " (%(last)s::text[])[1 + (g * 7) %% cardinality(%(last)s::text[])]",
            "marketing_consent": "g %% 3 = 0",
            "opted_out": "g %% 50 = 0",
            "custom_fields": "jsonb_build_object('cidade', (%(cities)s::text[])"
            "[1 + g %% cardinality(%(cities)s::text[])])",
            "created_at": "now() - interval '365 days' * (1 - g::float / %(n)s)",
        },
        "FROM generate_series(1, %(n)s) AS g",
        params,
    )
    contacts = "FROM (SELECT id, row_number() OVER () AS g FROM inbox_contact"
    contacts += " WHERE organization_id = %(org)s) AS c"
    insert_select(
        Conversation,
        {
            "organization_id": "%(org)s",
            "number_id": "%(number)s",
            "contact_id": "c.id",
            "status": "CASE WHEN c.g %% 10 < 5 THEN 'open' ELSE 'resolved' END",
            "last_message_at": "now() - interval '1 minute' * c.g",
            "last_inbound_at": "now() - interval '1 minute' * c.g",
        },
        contacts + " WHERE c.g %% 5 = 0",
        {**params, "number": number.pk},
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inbox_contact_tags (contact_id, tag_id) SELECT id, %s FROM inbox_contact"
            " WHERE organization_id = %s AND id %% 10 = 0",
            [tag.pk, org.pk],
        )
        cursor.execute("ANALYZE inbox_contact")
        cursor.execute("ANALYZE inbox_conversation")
    return org


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[18], 1) if len(samples) > 1 else samples[0]


def pages(org: Organization, filters: Filters, follow: int = 4) -> list[float]:
    """The first page and `follow` more by cursor: each one's time."""
    times, cursor = [], None
    for _ in range(follow + 1):
        start = time.perf_counter()
        page = list_contacts(org, filters, cursor=cursor, count=cursor is None)
        times.append((time.perf_counter() - start) * 1000)
        cursor = page.next_cursor
        if cursor is None:
            break
    return times


def run(contacts: int = 1_000_000, rounds: int = 5) -> dict:
    if connection.vendor != "postgresql":
        raise SystemExit("bench contacts seeds with PostgreSQL's generate_series: set DATABASE_URL")
    started = time.perf_counter()
    org = seed(contacts)
    seed_seconds = round(time.perf_counter() - started, 1)
    try:
        page_ms: list[float] = []
        search_ms: list[float] = []
        for _ in range(rounds):
            for sort in ("name", "created"):
                page_ms += pages(org, Filters(sort=sort))
                page_ms += pages(org, Filters(sort=sort, consent="yes", opted_out="no"))
            for q in (LAST_NAMES[3], "Campinas", "98765", "Atacado"):
                search_ms.append(timed(lambda q=q: list_contacts(org, Filters(q=q))))
        return {
            "contacts": contacts,
            "seed_seconds": seed_seconds,
            "page_ms_p95": p95(page_ms),
            "search_ms_p95": p95(search_ms),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM inbox_contact_tags WHERE tag_id IN"
                " (SELECT id FROM inbox_tag WHERE organization_id = %s)",
                [org.pk],
            )
            cursor.execute("DELETE FROM inbox_conversation WHERE organization_id = %s", [org.pk])
            cursor.execute("DELETE FROM inbox_contact WHERE organization_id = %s", [org.pk])
        org.delete()
