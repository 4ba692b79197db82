import json

from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth.models import AnonymousUser

from conversa.realtime import events, publisher
from conversa.realtime.consumers import EventsConsumer


class Socket(ApplicationCommunicator):
    """A WebSocket client at the ASGI level (channels.testing needs daphne, which we don't ship)."""

    def __init__(self, user):
        scope = {"type": "websocket", "path": "/ws/events/", "headers": [], "subprotocols": []}
        super().__init__(EventsConsumer.as_asgi(), {**scope, "user": user})

    async def connect(self):
        await self.send_input({"type": "websocket.connect"})
        answer = await self.receive_output(3)
        return answer["type"] == "websocket.accept", answer.get("code")

    async def receive_json_from(self, timeout):
        return json.loads((await self.receive_output(timeout))["text"])

    async def disconnect(self):
        """What the server sends once a socket is closed (by either side): the consumer
        ends on its own, as it does in `conversa serve`, and is not left to be cancelled
        with the event loop."""
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(10)  # a loaded machine's, not a quiet one's


def socket_for(user) -> Socket:
    return Socket(user)


def test_anonymous_socket_is_refused(transactional_db):
    async def scenario():
        socket = socket_for(AnonymousUser())
        connected, code = await socket.connect()
        await socket.disconnect()
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert not connected
    assert code == 4401


def test_socket_hears_its_organization_and_never_another(transactional_db, org, other_org):
    event = events.MessageReceived(conversation_ids=[1], message_ids=[2]).payload()

    async def scenario():
        socket = socket_for(org.owner.user)
        connected, _ = await socket.connect()
        assert connected
        # Connecting made its member online (inbox/presence.py): the organization hears it.
        status = await socket.receive_json_from(timeout=3)
        assert status == {"type": "OPERATOR_STATUS", "member_ids": [org.owner.pk]}
        await sync_to_async(publisher._send)(other_org.org.id, event)
        heard_nothing = await socket.receive_nothing(timeout=0.3)
        await sync_to_async(publisher._send)(org.org.id, event)
        heard = await socket.receive_json_from(timeout=3)
        await socket.disconnect()
        return heard_nothing, heard

    heard_nothing, heard = async_to_sync(scenario)()
    assert heard_nothing
    assert heard == event


def test_events_carry_ids_only_and_leave_after_commit(
    org, published_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        message = org.customer_writes("5511955554444", "segredo do cliente", name="Fulano")
    assert published_events == [], "nothing leaves before the commit"
    for callback in callbacks:
        callback()
    assert (
        org.org.pk,
        {
            "type": "MESSAGE_RECEIVED",
            "conversation_ids": [message.conversation_id],
            "message_ids": [message.pk],
        },
    ) in published_events
    for _, payload in published_events:
        assert all(
            k.endswith("_ids") and isinstance(v, list) and all(isinstance(i, int) for i in v)
            for k, v in payload.items()
            if k not in ("type", "change")
        )
        # What happened, one word of the event's closed list (test_events checks the list).
        assert payload.get("change") in (None, "created")


def test_a_batch_of_sends_is_one_event_per_kind_with_ids_only(
    org, published_events, django_capture_on_commit_callbacks
):
    from conversa.engine import services
    from conversa.engine.models import ExecutionJob

    intents = [
        services.reply(org.conversation(f"551190000030{n}"), "segredo", acting_member=org.owner)[0]
        for n in range(3)
    ]
    batch = list(
        ExecutionJob.objects.filter(intent__in=intents).select_related(
            "intent", "message", "number"
        )
    )
    for job in batch:
        job.status = ExecutionJob.Status.UNCERTAIN  # settled by an echo, no provider needed
        ExecutionJob.objects.filter(pk=job.pk).update(status=job.status)
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_sent([(job, f"3EB0{job.pk}") for job in batch], how="provider echo")
    sent = [payload for _, payload in published_events]
    kinds = [payload["type"] for payload in sent]
    assert sorted(kinds) == ["INTENT_UPDATED", "MESSAGE_STATUS_UPDATED"]
    for payload in sent:
        assert set(payload) <= {"type", "conversation_ids", "message_ids", "intent_ids"}
        assert all(
            isinstance(v, list) and all(isinstance(i, int) for i in v)
            for k, v in payload.items()
            if k != "type"
        )
    intents_event = sent[kinds.index("INTENT_UPDATED")]
    assert sorted(intents_event["intent_ids"]) == sorted(i.pk for i in intents)
