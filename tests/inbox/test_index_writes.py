"""A new customer's message writes no index it does not need: the conversation's organization
has none of its own (its lists' indexes lead with it), and the conversation's queue and
assignee and the message's sender are indexed only where set, yet looked up through them."""

import pytest
from django.db import connection

from conversa.inbox.models import Conversation, Message

WHERE_SET = [
    ("inbox_conversation", "queue_id", "conversation_queue"),
    ("inbox_conversation", "assignee_id", "conversation_assignee"),
    ("inbox_message", "sender_id", "message_sender"),
]


def indexes_of(table: str, column: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name
        for name, about in constraints.items()
        if about["index"] and about["columns"] == [column]
    }


@pytest.mark.parametrize(("table", "column", "index"), WHERE_SET)
def test_a_column_a_customers_message_leaves_empty_is_indexed_only_where_set(
    db, table, column, index
):
    assert indexes_of(table, column) == {index}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index])
            assert f"WHERE ({column} IS NOT NULL)" in cursor.fetchone()[0]


def test_a_conversation_is_in_no_index_of_its_organization_alone(db):
    assert indexes_of("inbox_conversation", "organization_id") == set()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_lookups_by_queue_assignee_and_sender_read_their_indexes(org):
    with connection.cursor() as cursor:
        # A test's tables are tiny: only whether each index can serve its lookup is asked.
        cursor.execute("SET LOCAL enable_seqscan = off")
    assert "conversation_queue" in Conversation.objects.filter(queue_id=7).explain()
    assert "conversation_assignee" in Conversation.objects.filter(assignee_id=7).explain()
    assert "message_sender" in Message.objects.filter(sender_id=7).explain()
