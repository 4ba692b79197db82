"""Every list of the API is read a page at a time with one cursor (conversa/cursors.py): a
bounded `limit`, the next page's cursor in `X-Next-Cursor`, a stable order (issue 21, item 7)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from conversa import cursors
from conversa.api import api
from conversa.crm.models import StageChange
from conversa.inbox import tags
from conversa.inbox.models import Message
from tests.conftest import make_org

# Summaries with one row per queue or kind, not lists of records: nothing to page.
AGGREGATES = {
    "GET /api/sla/breached": "one row per queue",
    "GET /api/assistant/accuracy": "one row per kind of output",
}


def list_operations():
    schema = api.get_openapi_schema()
    for path, operations in schema["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        answer = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if answer and answer["schema"].get("type") == "array":
            yield f"GET {path}", operation


def test_every_list_takes_a_cursor_and_a_bounded_limit():
    unpaged = []
    for name, operation in list_operations():
        if name in AGGREGATES:
            continue
        query = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        limit = query.get("limit", {}).get("schema", {})
        if "cursor" not in query or "maximum" not in limit:
            unpaged.append(name)
    assert not unpaged, f"lists without `cursor` and a bounded `limit`: {unpaged}"


@pytest.fixture
def org(db):
    return make_org()


def read_all(client: Client, path: str, limit: int, between=None, query=None) -> list[dict]:
    rows, cursor, pages = [], None, 0
    while True:
        page = {"limit": limit, **(query or {}), **({"cursor": cursor} if cursor else {})}
        answer = client.get(path, page)
        assert answer.status_code == 200, answer.content
        rows += answer.json()
        pages += 1
        cursor = answer.get(cursors.HEADER)
        if not cursor:
            return rows
        assert pages < 50
        if between:
            between(pages)


def test_pages_follow_each_other_without_a_row_twice_or_skipped(org):
    for name in ("Delta", "Alfa", "Echo", "Bravo", "Charlie"):
        tags.create_tag(org.org, name, "green", acting_member=org.owner)
    client = Client(headers={"Authorization": f"Bearer {org.api_token()}"})

    def meanwhile(page: int):
        # A tag sorting before the position read so far, and one after it.
        if page == 1:
            tags.create_tag(org.org, "Aaron", "green", acting_member=org.owner)
            tags.create_tag(org.org, "Zulu", "green", acting_member=org.owner)

    names = [row["name"] for row in read_all(client, "/api/tags", 2, meanwhile)]
    assert names == ["Alfa", "Bravo", "Charlie", "Delta", "Echo", "Zulu"]


def test_a_cursor_that_is_not_one_is_refused_by_name(org):
    tags.create_tag(org.org, "Alfa", "green", acting_member=org.owner)
    tags.create_tag(org.org, "Bravo", "green", acting_member=org.owner)
    client = Client(headers={"Authorization": f"Bearer {org.api_token()}"})
    first = client.get("/api/tags", {"limit": 1})
    cursor = first[cursors.HEADER]
    for wrong in ("not-a-cursor", cursors.encode(["-created_at", "-pk"], ["x", 1])):
        answer = client.get("/api/tags", {"cursor": wrong})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["loc"][-1] == "cursor"
    # Another list's cursor: made for another ordering.
    assert client.get("/api/intents", {"cursor": cursor}).status_code == 422
    assert client.get("/api/tags", {"limit": 10_000}).status_code == 422


def test_a_list_in_memory_pages_the_same_way():
    rows = [{"id": n, "name": name} for n, name in enumerate(["b", "a", "c", "a"], start=1)]
    first = cursors.read_page(rows, order=["name"], cursor=None, limit=2)
    assert [(r["name"], r["id"]) for r in first.rows] == [("a", 2), ("a", 4)]
    rest = cursors.read_page(rows, order=["name"], cursor=first.next_cursor, limit=2)
    assert [r["id"] for r in rest.rows] == [1, 3] and rest.next_cursor is None


def test_automations_page_by_name_and_by_next_due_time(org):
    from tests.crm import helpers as crm

    p = crm.pipeline(org)
    for name in ("Delta", "Alfa", "Charlie", "Bravo"):
        crm.automation(org, crm.stage(p, "Proposta"), name=name)
    client = Client(headers={"Authorization": f"Bearer {org.api_token()}"})
    by_name = [row["name"] for row in read_all(client, "/api/crm/automations", 3)]
    assert by_name == ["Alfa", "Bravo", "Charlie", "Delta"]
    # Nothing is due yet: none has a next due time, and they come in the order they were made.
    due = read_all(client, "/api/crm/automations", 1, query={"sort": "next_due_at"})
    assert [row["name"] for row in due] == ["Delta", "Alfa", "Charlie", "Bravo"]
    assert all(row["next_due_at"] is None for row in due)


def test_a_leads_timeline_pages_across_its_three_sources_ties_included(org):
    from conversa.crm import services as crm_services
    from tests.crm import helpers as crm

    p = crm.pipeline(org)
    crm.automation(org, crm.stage(p, "Proposta"))
    lead = crm.lead(org, p)
    conversation = org.conversation(lead.contact.phone)
    client = Client(headers={"Authorization": f"Bearer {org.api_token()}"})
    path = f"/api/crm/leads/{lead.pk}/timeline"
    for stage in ("Proposta", "Negociação", "Proposta"):  # follow-ups scheduled, cancelled
        crm_services.move_lead(lead, crm.stage(p, stage), acting_member=org.owner)
    for n in range(7):
        org.customer_writes(lead.contact.phone, f"Mensagem {n}")
    # Entries of one moment: three messages and a stage move written at the same instant.
    tie = timezone.now() + timedelta(minutes=5)
    tied = list(Message.objects.filter(conversation=conversation).order_by("id")[:3])
    Message.objects.filter(pk__in=[m.pk for m in tied]).update(created_at=tie)
    first_move = StageChange.objects.filter(lead=lead).order_by("id").first()
    StageChange.objects.filter(pk=first_move.pk).update(created_at=tie)
    whole = client.get(path, {"limit": 100}).json()
    assert len(whole) > 12 and {e["kind"] for e in whole} == {"stage", "follow_up", "message"}
    for limit in (1, 2, 5):
        assert read_all(client, path, limit) == whole
    # A message written meanwhile, older than the first page (the tied moment is ahead): it
    # comes once, in its place, and nothing is seen twice or skipped.
    first = client.get(path, {"limit": 4})
    org.customer_writes(lead.contact.phone, "Mais uma")
    rest = read_all(client, path, 4, query={"cursor": first[cursors.HEADER]})
    assert first.json() + rest == client.get(path, {"limit": 100}).json()
    assert len(rest) == len(whole) - 4 + 1
    other = client.get("/api/tags", {"limit": 1})  # another list's cursor
    assert client.get(path, {"cursor": cursors.encode(["name", "pk"], ["x", 1])}).status_code == 422
    assert other.status_code == 200
