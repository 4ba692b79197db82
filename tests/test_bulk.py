"""`conversa.bulk.insert_instances`: what it writes is what bulk_create writes."""

from datetime import UTC, datetime

from conversa.bulk import insert_instances
from conversa.inbox.models import Message


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
