"""`conversa.bulk.insert_instances` and `insert_new`: what they write is what bulk_create
writes; `built`: what it reads is what a queryset reads."""

from datetime import UTC, datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversa.bulk import built, columns_of, fetch, insert_instances, insert_new
from conversa.inbox.models import Contact, Message
from conversa.providers.models import ProviderEvent


def unsaved(conversation, provider_id: str) -> Message:
    return Message(
        organization_id=conversation.organization_id,
        conversation=conversation,
        number_id=conversation.number_id,
        direction=Message.Direction.INBOUND,
        kind="image",
        body="Olá, <b>tudo bem?</b> 😀",
        status=Message.Status.RECEIVED,
        provider_message_id=provider_id,
        created_at=datetime(2026, 3, 8, 5, 30, 15, 123456, tzinfo=UTC),
        content={"caption": "ação", "size": 12, "nested": [1, None, {"a": True}]},
    )


def test_inserted_instances_read_back_as_bulk_create_writes_them(org):
    conversation = org.conversation()
    by_orm = Message.objects.bulk_create([unsaved(conversation, f"orm-{n}") for n in range(3)])
    by_rows = insert_instances([unsaved(conversation, f"rows-{n}") for n in range(3)])
    assert [m.provider_message_id for m in by_rows] == ["rows-0", "rows-1", "rows-2"]
    for message in by_rows:
        assert message.pk and not message._state.adding
        assert Message.objects.get(pk=message.pk).provider_message_id == message.provider_message_id

    def stored(messages):
        rows = Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("pk").values()
        return [
            {k: v for k, v in row.items() if k not in ("id", "provider_message_id")} for row in rows
        ]

    assert stored(by_rows) == stored(by_orm)
    # An instance it inserted saves as an update of its row, not a second row.
    by_rows[0].body = "changed"
    by_rows[0].save(update_fields=["body"])
    assert Message.objects.get(pk=by_rows[0].pk).body == "changed"
    assert insert_instances([]) == []


def webhook(number, key: str) -> ProviderEvent:
    return ProviderEvent(
        organization_id=number.organization_id,
        number=number,
        kind="InboundMessage",
        dedupe_key=key,
        provider_message_id=key,
        # A datetime inside a JSON field written by its own encoder (DjangoJSONEncoder).
        event={"timestamp": datetime(2026, 3, 8, 5, 30, 15, 123456, tzinfo=UTC), "body": "ação"},
        payload={"data": {"key": {"fromMe": False}}, "list": [1, None, True]},
    )


def test_new_rows_read_back_as_bulk_create_writes_them_and_held_ones_are_skipped(org):
    by_orm = ProviderEvent.objects.bulk_create([webhook(org.number, f"orm-{n}") for n in range(2)])
    held = insert_new([webhook(org.number, "rows-0")], ["number", "dedupe_key"])
    inserted = insert_new(
        [webhook(org.number, f"rows-{n}") for n in range(3)], ["number", "dedupe_key"]
    )
    assert [e.dedupe_key for e in inserted] == ["rows-1", "rows-2"]
    assert all(e.pk and not e._state.adding for e in held + inserted)

    def stored(events):
        rows = ProviderEvent.objects.filter(pk__in=[e.pk for e in events]).order_by("pk")
        return [
            (e.kind, e.event, e.payload, e.reason, e.processed_at, e.received_at is not None)
            for e in rows
        ]

    assert stored(inserted) == stored(by_orm)
    assert ProviderEvent.objects.filter(dedupe_key__startswith="rows-").count() == 3


def test_an_insert_run_again_on_a_connection_is_prepared_and_shown_with_its_values(org):
    """PostgreSQL parses and plans the batch's inserts once per connection (`prepared_cursor`);
    what tests capture still reads as the statement with its values in."""
    conversation = org.conversation()
    with CaptureQueriesContext(connection) as captured:
        insert_instances([unsaved(conversation, "first")])
        insert_instances([unsaved(conversation, "second")])
    assert '"provider_message_id":"second"' in captured.captured_queries[-1]["sql"]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['INSERT INTO "inbox_message"%'],
        )
        assert cursor.fetchone() == (1,)


def test_an_instance_built_from_a_written_out_statement_is_the_one_a_queryset_reads(org):
    held = Contact.objects.create(
        organization=org.org,
        phone="5511987654321",
        name="Zé <b>",
        custom_fields={"plano": "ouro", "itens": [1, None, {"a": True}]},
        erased_at=datetime(2026, 3, 8, 5, 30, 15, 123456, tzinfo=UTC),
    )
    table = connection.ops.quote_name(Contact._meta.db_table)
    [row] = fetch(
        f"SELECT {columns_of(Contact, 'c')}, 'extra' FROM {table} AS c WHERE c.id = %s",  # noqa: S608
        [held.pk],
    )
    contact = built(Contact, row)
    read = Contact.objects.get(pk=held.pk)
    assert row[-1] == "extra"
    assert not contact._state.adding and contact._state.db == "default"
    for field in Contact._meta.concrete_fields:
        assert getattr(contact, field.attname) == getattr(read, field.attname), field.name
    assert contact.custom_fields == {"plano": "ouro", "itens": [1, None, {"a": True}]}
    assert contact.erased_at == datetime(2026, 3, 8, 5, 30, 15, 123456, tzinfo=UTC)
