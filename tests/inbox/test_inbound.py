import json

from conversa.inbox.models import Conversation, Message
from conversa.providers.models import ProviderEvent
from tests.conftest import post_webhook


def upsert(message_id="3EB0AAA", phone="5511988887777", text="Oi, tudo bem?", name="Maria"):
    return {
        "event": "messages.upsert",
        "instance": "x",
        "data": {
            "key": {"remoteJid": f"{phone}@s.whatsapp.net", "fromMe": False, "id": message_id},
            "pushName": name,
            "message": {"conversation": text},
            "messageType": "conversation",
            "messageTimestamp": 1766816680,
        },
        "date_time": "2026-01-01T05:04:46.134Z",
    }


def status_update(message_id, status):
    return {
        "event": "messages.update",
        "instance": "x",
        "data": {
            "keyId": message_id,
            "remoteJid": "5511988887777@s.whatsapp.net",
            "fromMe": True,
            "status": status,
        },
    }


def test_customer_message_is_stored_with_contact_and_conversation(client, org):
    response = post_webhook(client, org.number, upsert())
    assert response.status_code == 200
    message = Message.objects.get()
    assert message.body == "Oi, tudo bem?"
    assert message.direction == Message.Direction.INBOUND
    assert message.conversation.contact.name == "Maria"
    assert message.conversation.contact.phone == "5511988887777"
    assert message.organization == org.org
    assert message.conversation.unread_count == 1


def test_webhook_sent_twice_stores_one_message(client, org):
    first = post_webhook(client, org.number, upsert())
    second = post_webhook(client, org.number, upsert())
    assert first.json()["stored"] == 1
    assert second.json() == {"ok": True, "stored": 0, "duplicates": 1}
    assert Message.objects.count() == 1
    assert ProviderEvent.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1


def test_same_message_id_under_another_event_shape_is_not_stored_twice(client, org):
    """The database, not the dedupe key, is the last word: one row per provider message id."""
    post_webhook(client, org.number, upsert(text="first"))
    payload = upsert(text="first")
    payload["data"]["message"] = {"extendedTextMessage": {"text": "first"}}
    post_webhook(client, org.number, payload)
    assert Message.objects.count() == 1


def test_wrong_secret_is_401_and_stores_nothing(client, org):
    response = post_webhook(client, org.number, upsert(), secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert not ProviderEvent.objects.exists()
    assert not Message.objects.exists()


def test_missing_secret_is_401(client, org):
    response = client.post(
        f"/webhooks/sandbox/{org.number.webhook_key}",
        data=json.dumps(upsert()),
        content_type="application/json",
    )
    assert response.status_code == 401


def test_malformed_json_is_kept_unparsed_and_keeps_what_was_stored(client, org):
    post_webhook(client, org.number, upsert())
    response = post_webhook(client, org.number, b'{"event": "messages.upsert", "data": ')
    assert response.status_code == 200
    assert "not JSON" in ProviderEvent.objects.get(kind="Unparsed").reason
    assert Message.objects.count() == 1


def test_upsert_without_key_is_kept_unparsed(client, org):
    payload = upsert()
    del payload["data"]["key"]
    response = post_webhook(client, org.number, payload)
    assert response.status_code == 200
    assert "key" in ProviderEvent.objects.get(kind="Unparsed").reason
    assert not Message.objects.exists()


def test_another_organizations_secret_does_not_open_this_number(client, org, other_org):
    response = post_webhook(client, org.number, upsert(), secret=other_org.number.webhook_secret)
    assert response.status_code == 401


def test_resolved_conversation_reopens_on_a_new_customer_message(client, org):
    post_webhook(client, org.number, upsert("A1"))
    Conversation.objects.update(status=Conversation.Status.RESOLVED)
    post_webhook(client, org.number, upsert("A2"))
    assert Conversation.objects.get().status == Conversation.Status.OPEN
    assert Conversation.objects.count() == 1


def outbound(org, provider_message_id="3EB0OUT"):
    conversation = org.conversation()
    return Message.objects.create(
        organization=org.org,
        conversation=conversation,
        number=org.number,
        direction=Message.Direction.OUTBOUND,
        body="Olá",
        status=Message.Status.SENT,
        provider_message_id=provider_message_id,
    )


def test_status_moves_forward(client, org):
    message = outbound(org)
    post_webhook(client, org.number, status_update("3EB0OUT", "DELIVERY_ACK"))
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    post_webhook(client, org.number, status_update("3EB0OUT", "READ"))
    message.refresh_from_db()
    assert message.status == Message.Status.READ
    assert message.read_at is not None


def test_status_never_moves_backwards(client, org):
    """Invariant 4: a late DELIVERY_ACK after READ changes nothing."""
    message = outbound(org)
    post_webhook(client, org.number, status_update("3EB0OUT", "READ"))
    post_webhook(client, org.number, status_update("3EB0OUT", "DELIVERY_ACK"))
    post_webhook(client, org.number, status_update("3EB0OUT", "SERVER_ACK"))
    message.refresh_from_db()
    assert message.status == Message.Status.READ


def test_numeric_statuses_are_understood(client, org):
    message = outbound(org)
    post_webhook(client, org.number, status_update("3EB0OUT", 3))
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_status_before_its_message_is_applied_when_the_send_is_recorded(client, org):
    """A reordered webhook: DELIVERY_ACK arrives before the worker recorded the provider id."""
    from conversa.inbox.services import apply_early_statuses

    post_webhook(client, org.number, status_update("3EB0LATE", "DELIVERY_ACK"))
    event = ProviderEvent.objects.get()
    assert event.processed_at is None
    message = outbound(org, provider_message_id="3EB0LATE")
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SENT)
    applied = apply_early_statuses([(org.number, "3EB0LATE")])
    # Returned for the engine to log under the message's correlation id (engine.log_status).
    assert [(m.pk, update.provider_message_id) for m, update in applied] == [
        (message.pk, "3EB0LATE")
    ]
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    event.refresh_from_db()
    assert event.processed_at is not None


def test_connection_update_changes_the_number(client, org):
    payload = {
        "event": "connection.update",
        "instance": "x",
        "data": {"instance": "x", "state": "close", "statusReason": 403},
        "date_time": "2026-01-01T05:04:46.134Z",
    }
    post_webhook(client, org.number, payload)
    org.number.refresh_from_db()
    assert (org.number.status, org.number.connection_reason) == ("disconnected", "banned")


def test_conversation_page_shows_its_messages_without_waiting_for_a_refresh(org):
    message = org.customer_writes(text="Chegou meu pedido?")
    page = org.client().get(f"/inbox/c/{message.conversation_id}/")
    assert "Chegou meu pedido?" in page.content.decode()


def test_message_bodies_are_escaped(org):
    message = org.customer_writes(text='<script>alert("x")</script>')
    page = org.client().get(f"/inbox/c/{message.conversation_id}/").content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page


def test_non_numeric_timestamp_is_read_as_unknown_not_a_crash(client, org):
    payload = upsert()
    payload["data"]["messageTimestamp"] = "yesterday"
    response = post_webhook(client, org.number, payload)
    assert response.status_code == 200
    assert Message.objects.get().body == payload["data"]["message"]["conversation"]
