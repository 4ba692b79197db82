"""The audit log page: filters, pages, CSV export, escaping, tenant isolation; and the timeline
is append-only (in the code, and on PostgreSQL in the database)."""

import csv
import io
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from conversa import spreadsheets
from conversa.accounts import audit, mfa
from conversa.accounts.models import AppendOnly, OperationalEvent, Organization
from conversa.accounts.services import record
from conversa.inbox.models import Tag


def tag(org, name="VIP") -> Tag:
    return Tag.objects.create(organization=org.org, name=name)


def fresh(client):
    session = client.session
    session[mfa.VERIFIED_KEY] = time.time()
    session.save()
    return client


def test_owners_and_admins_only(org):
    assert org.client().get("/settings/audit/").status_code == 200
    assert org.client(org.member("admin")).get("/settings/audit/").status_code == 200
    for role in ("supervisor", "agent"):
        assert org.client(org.member(role)).get("/settings/audit/").status_code == 403
        answer = org.client(org.member(role)).get("/settings/audit/export.csv")
        assert answer.status_code == 403


def test_the_page_shows_sentences_and_unknown_verbs_plainly(org):
    record(org.org.id, "tag.created", tag(org), actor=org.owner)
    record(org.org.id, "something.new", tag(org, "B"), actor=org.owner)
    page = org.client().get("/settings/audit/")
    assert b"Created a tag" in page.content
    assert b"something.new" in page.content


def test_the_page_in_portuguese(org):
    record(org.org.id, "tag.created", tag(org), actor=org.owner)
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    page = client.get("/settings/audit/")
    assert b"Criou uma etiqueta" in page.content


def test_what_acted_is_named_in_words_and_people_by_name(org):
    """ "gate" and "worker" are our words: the page says what they are."""
    record(org.org.id, "tag.created", tag(org), label="gate")
    record(org.org.id, "tag.deleted", tag(org, "B"), label="worker")
    record(org.org.id, "tag.created", tag(org, "C"), actor=org.owner)
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    html = client.get("/settings/audit/").content.decode()
    assert ">Regras de envio</td>" in html and ">Conversa (envio)</td>" in html
    assert f">{org.owner.display_name}</td>" in html
    assert ">gate</td>" not in html and ">worker</td>" not in html


def test_another_organizations_entries_never_show(org, other_org):
    record(other_org.org.id, "tag.created", tag(other_org, "Theirs"), actor=other_org.owner)
    record(org.org.id, "tag.created", tag(org, "Mine"), actor=org.owner)
    page = org.client().get("/settings/audit/?object=tag")
    assert len(page.context["events"]) == 1
    # Their member as a filter is unknown here.
    answer = org.client().get(f"/settings/audit/?who={other_org.owner.pk}")
    assert answer.status_code == 400 and b"Unknown member" in answer.content
    export = fresh(org.client()).get("/settings/audit/export.csv")
    assert other_org.owner.display_name not in b"".join(export.streaming_content).decode()


def test_filters(org):
    agent = org.member("agent")
    first = tag(org, "A")
    record(org.org.id, "tag.created", first, actor=org.owner)
    record(org.org.id, "tag.deleted", first, actor=agent)
    record(org.org.id, "queue.created", org.number, actor=agent)
    record(org.org.id, "tag.created", tag(org, "B"), actor=org.owner)
    client = org.client()

    def shown(query):
        page = client.get(f"/settings/audit/?{query}")
        assert page.status_code == 200, page.content
        return [e.verb for e in page.context["events"]]

    assert shown(f"who={agent.pk}") == ["queue.created", "tag.deleted"]
    assert shown("action=tag.created") == ["tag.created", "tag.created"]
    assert shown("object=number") == ["queue.created"]
    # The page reads days in the organization's zone: its "today" (UTC's differs for hours).
    today = timezone.localdate(timezone=ZoneInfo(org.org.time_zone))
    # Four, and the owner's sign-in (the test client's).
    assert len(shown(f"from={today}&to={today}")) == 5
    yesterday = today - timedelta(days=1)
    assert shown(f"from={yesterday}&to={yesterday}") == []


@pytest.mark.parametrize(
    "query",
    [
        "who=²",
        "who=99999999999999999999",
        "who=0",
        "action=DROP TABLE",
        "object=a b",
        "from=9999-01-01",
        "from=1999-12-31",
        "from=2026-13-01",
        "to=nope",
        "from=2025-02-01&to=2025-01-01",
    ],
)
def test_bad_filters_are_a_clear_400_never_a_500(org, query):
    answer = org.client().get(f"/settings/audit/?{query}")
    assert answer.status_code == 400
    assert answer.context["filters"].errors


def test_pages_go_by_id_and_stay_complete(org, monkeypatch):
    from conversa.accounts import audit_views

    monkeypatch.setattr(audit_views, "PAGE_SIZE", 3)
    one = tag(org)
    for n in range(7):
        record(org.org.id, "tag.created", one, actor=org.owner, n=n)
    client = org.client()
    seen, query = [], "action=tag.created"
    for _ in range(5):
        page = client.get(f"/settings/audit/?{query}")
        seen += [e.data["n"] for e in page.context["events"]]
        query = page.context["older"]
        if not query:
            break
    assert seen == [6, 5, 4, 3, 2, 1, 0]
    assert client.get("/settings/audit/?before=²").status_code == 200
    assert client.get("/settings/audit/?before=99999999999999999999999").status_code == 200


def test_csv_export_is_streamed_audited_and_safe_in_a_spreadsheet(org):
    hostile = tag(org, "=HYPERLINK(x)")
    record(org.org.id, "tag.created", hostile, actor=org.owner, name="=1+2", note="@SUM(A1)")
    org.owner.display_name = "-Evil"
    org.owner.save()
    record(org.org.id, "tag.deleted", hostile, actor=org.owner)
    client = fresh(org.client())
    answer = client.get("/settings/audit/export.csv?action=tag.deleted")
    assert answer.status_code == 200 and answer.streaming
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert rows[0][:3] == ["when", "who", "action"]
    assert rows[1][1] == "'-Evil" and rows[1][2] == "Deleted a tag"
    assert len(rows) == 2
    exported = OperationalEvent.objects.get(organization=org.org, verb="audit.exported")
    assert exported.actor == org.owner and exported.data["filters"]["action"] == "tag.deleted"
    full = client.get("/settings/audit/export.csv?action=tag.created")
    text = b"".join(full.streaming_content).decode()
    assert "'{" not in text  # the details cell is JSON, starting with {
    assert all(
        not cell.startswith(spreadsheets.FORMULA_STARTS)
        for row in csv.reader(io.StringIO(text))
        for cell in row
    )


def test_safe_cell():
    assert audit.safe_cell("=1+1") == "'=1+1"
    assert audit.safe_cell("+55 11") == "'+55 11"
    assert audit.safe_cell("-") == "'-"
    assert audit.safe_cell("@x") == "'@x"
    assert audit.safe_cell("Ana") == "Ana"
    assert audit.safe_cell(None) == ""


def test_export_asks_for_a_fresh_code_with_two_step_verification(org):
    from tests.accounts.test_mfa import enroll

    enroll(org)
    answer = org.client().get("/settings/audit/export.csv")
    assert answer.status_code == 302 and answer.url.startswith("/login/reverify")


def test_user_strings_are_escaped_on_the_page(org):
    org.owner.display_name = "<script>alert(1)</script>"
    org.owner.save()
    record(org.org.id, "tag.created", tag(org), actor=org.owner)
    page = org.client().get("/settings/audit/")
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;" in page.content


def test_entries_written_in_a_request_say_from_where(org):
    client = org.client()
    client.post("/inbox/settings/tags", {"name": "VIP", "colour": "blue"}, HTTP_USER_AGENT="UA/1")
    event = OperationalEvent.objects.get(organization=org.org, verb="tag.created")
    assert event.ip_address == "127.0.0.1" and event.user_agent == "UA/1"
    # Outside a request (the worker): nothing is made up.
    record(org.org.id, "tag.deleted", event, label="worker")
    assert OperationalEvent.objects.get(verb="tag.deleted").ip_address is None


def test_the_timeline_is_append_only_in_the_code(org):
    record(org.org.id, "tag.created", tag(org), actor=org.owner)
    event = OperationalEvent.objects.get(organization=org.org)
    event.verb = "tag.deleted"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        OperationalEvent.objects.filter(pk=event.pk).update(verb="x")
    with pytest.raises(AppendOnly):
        OperationalEvent.objects.filter(pk=event.pk).delete()
    assert OperationalEvent.objects.get(pk=event.pk).verb == "tag.created"


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_database_refuses_updates_and_deletes_on_postgresql(org):
    record(org.org.id, "tag.created", tag(org), actor=org.owner)
    event = OperationalEvent.objects.get(organization=org.org)
    for sql in (
        "UPDATE accounts_operationalevent SET verb = 'x' WHERE id = %s",
        """UPDATE accounts_operationalevent SET data = '{"x": 1}'::jsonb WHERE id = %s""",
        "DELETE FROM accounts_operationalevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    assert OperationalEvent.objects.get(pk=event.pk).verb == "tag.created"


def test_deleting_an_organization_still_takes_its_timeline(org, other_org):
    record(org.org.id, "tag.created", tag(org), actor=org.owner)
    record(other_org.org.id, "tag.created", tag(other_org), actor=other_org.owner)
    Organization.objects.get(pk=org.org.pk).delete()
    assert not OperationalEvent.objects.filter(organization_id=org.org.pk).exists()
    assert OperationalEvent.objects.filter(organization=other_org.org).count() == 1


def test_a_members_deletion_keeps_their_entries(org):
    agent = org.member("agent")
    record(org.org.id, "tag.created", tag(org), actor=agent)
    agent.delete()
    event = OperationalEvent.objects.get(organization=org.org, verb="tag.created")
    assert event.actor is None and event.actor_label == agent.display_name
