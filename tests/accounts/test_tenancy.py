"""The tenant backstop: PostgreSQL's row-level security hides and refuses another organization's
rows from a connection working for one organization, even to a query that forgets its filter."""

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from conversa.accounts import tenancy
from conversa.accounts.models import OperationalEvent, OrgOwned
from conversa.accounts.services import record
from conversa.crm.models import Lead, Pipeline, Stage
from conversa.inbox import services
from conversa.inbox.models import Note, Tag
from conversa.insights import aggregates
from conversa.insights.models import (
    DailyCount,
    Delta,
    Duration,
    Handled,
    HourlyCount,
    WeeklyCount,
)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-level security is PostgreSQL's"
)


@pytest.fixture
def held_to_policies(db):
    """Queries as a role the policies hold: the suite may connect as a superuser, whom
    PostgreSQL never holds to row-level security. The role lives in this test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            yield
            return
        role = connection.ops.quote_name(f"rls_probe_{connection.settings_dict['NAME']}")
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        cursor.execute(f"SET LOCAL ROLE {role}")
    yield


def tenant_models():
    tables = dict(tenancy.tenant_tables())
    return [m for m in apps.get_models() if m._meta.db_table in tables]


def a_day_of_work(org):
    """Rows of many kinds for `org`: messages, notes, tags, a lead, tokens, the audit trail."""
    conversation = org.conversation("5511988887777")
    Note.objects.create(
        organization=org.org, conversation=conversation, author=org.owner, body="secret note"
    )
    Tag.objects.create(organization=org.org, name=f"vip-{org.org.pk}")
    pipeline = Pipeline.objects.create(organization=org.org, name="Sales")
    stage = Stage.objects.create(organization=org.org, pipeline=pipeline, name="New", position=0)
    Lead.objects.create(
        organization=org.org,
        pipeline=pipeline,
        stage=stage,
        contact=conversation.contact,
        title="Deal",
    )
    org.api_token()
    record(org.org.pk, "test.done", conversation, actor=org.owner)


def test_every_organization_table_has_a_forced_policy(db):
    tables = tenancy.tenant_tables()
    owned = {m._meta.db_table for m in apps.get_models() if issubclass(m, OrgOwned)}
    # The Insights aggregates name their organization by a plain id, not a key.
    aggregates_ = {
        m._meta.db_table for m in (Delta, HourlyCount, DailyCount, WeeklyCount, Duration, Handled)
    }
    assert owned | aggregates_ | {"accounts_organization"} == {table for table, _ in tables}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname "
            "WHERE p.policyname = %s AND c.relrowsecurity AND c.relforcerowsecurity",
            [tenancy.POLICY],
        )
        protected = {row[0] for row in cursor.fetchall()}
    assert {table for table, _ in tables} <= protected


def test_an_unscoped_query_for_b_returns_none_of_as_rows(org, other_org, held_to_policies):
    a_day_of_work(org)
    a_day_of_work(other_org)
    a, b = org.org.pk, other_org.org.pk
    models = tenant_models()

    def rows_of(org_id):
        found = {}
        for model in models:
            column = "pk" if model._meta.model_name == "organization" else "organization_id"
            # Deliberately unscoped: what a view that forgot `scoped(...)` would ask.
            found[model._meta.label] = model.objects.filter(**{column: org_id}).count()
        return found

    with tenancy.working_for(None):
        seen_unnarrowed = rows_of(a)
    # Not vacuous: unnarrowed, A's rows are there in most tables.
    assert sum(1 for n in seen_unnarrowed.values() if n) >= 12

    with tenancy.working_for(b):
        assert tenancy.narrowed_to() == b
        assert rows_of(a) == dict.fromkeys(seen_unnarrowed, 0)
        assert rows_of(b)["inbox.Message"] == 1
        assert not OperationalEvent.objects.filter(verb="test.done").exclude(organization_id=b)
    assert tenancy.narrowed_to() is None


def test_writing_a_row_for_another_organization_is_refused(org, other_org, held_to_policies):
    with tenancy.working_for(other_org.org.pk):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Tag.objects.create(organization=org.org, name="planted")
        Tag.objects.create(organization=other_org.org, name="own")
        # Nor can a row of B's be moved to A.
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Tag.objects.filter(name="own").update(organization=org.org)


def watch_narrowing(queries):
    def wrapper(execute, sql, params, many, context):
        queries.append((sql, getattr(connection, "conversa_org_id", None)))
        return execute(sql, params, many, context)

    return wrapper


@pytest.mark.parametrize("how", ["session", "token"])
def test_a_members_request_works_for_its_organization_only(org, other_org, how):
    org.customer_writes("5511900000001", "mine")
    queries: list[tuple[str, int | None]] = []
    if how == "session":
        client, path, headers = org.client(), "/inbox/", {}
    else:
        client = org.client()
        client.logout()
        path, headers = "/api/conversations", {"Authorization": f"Bearer {org.api_token()}"}
    with connection.execute_wrapper(watch_narrowing(queries)):
        assert client.get(path, headers=headers).status_code == 200
    on_conversations = [org_id for sql, org_id in queries if '"inbox_conversation"' in sql]
    assert on_conversations and set(on_conversations) == {org.org.pk}
    # …and the connection goes back to the pool working for no one.
    assert tenancy.narrowed_to() is None


AGGREGATES = (Delta, HourlyCount, DailyCount, WeeklyCount, Duration, Handled)


def aggregate_rows(org_id: int) -> dict[str, int]:
    # Deliberately unscoped, as in the test above.
    return {m.__name__: m.objects.filter(organization_id=org_id).count() for m in AGGREGATES}


def test_a_connection_for_b_reads_and_writes_none_of_as_aggregates(
    org, other_org, held_to_policies
):
    for each in (org, other_org):
        conversation = each.conversation("5511988887777")
        services.new_outbound_message(conversation, "Olá", acting_member=each.owner)
        each.customer_writes("5511988886666")  # a delta left unfolded
    aggregates.fold_all()
    for each in (org, other_org):
        each.customer_writes("5511988885555")
    a, b = org.org.pk, other_org.org.pk
    with tenancy.working_for(None):
        assert all(aggregate_rows(a).values()), aggregate_rows(a)
    with tenancy.working_for(b):
        assert aggregate_rows(a) == dict.fromkeys(aggregate_rows(a), 0)
        assert all(aggregate_rows(b).values())
        # A figure that forgot its organization sees B's counts only.
        assert {row.organization_id for row in HourlyCount.objects.all()} == {b}
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            HourlyCount.objects.create(
                organization_id=a, hour="2026-01-01T00:00Z", metric="in", count=1
            )
        # B's own changes still append their deltas (the triggers write as the connection).
        other_org.customer_writes("5511988884444")
        assert Delta.objects.filter(organization_id=b).exists()
