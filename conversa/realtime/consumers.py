from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from conversa.accounts.models import Member
from conversa.realtime.publisher import org_group


@database_sync_to_async
def organization_id_of(user) -> int | None:
    if not user or not user.is_authenticated:
        return None
    return (
        Member.objects.filter(user=user, is_active=True)
        .order_by("id")
        .values_list("organization_id", flat=True)
        .first()
    )


def members_only(consumer):
    """Refuse a socket without a member's session before any consumer exists.

    A consumer listens on the channel layer from the moment it starts; one refused during its
    handshake is never told its socket is gone (the server answers 403), and with Redis its
    pending read held `conversa serve` open at shutdown. Here the refusal needs no layer."""

    async def app(scope, receive, send):
        org_id = await organization_id_of(scope.get("user"))
        if org_id is None:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4401})
            return
        await consumer({**scope, "organization_id": org_id}, receive, send)

    return app


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """A signed-in member's socket: joins its own organization's group and nothing else."""

    async def connect(self):
        org_id = self.scope.get("organization_id")
        if org_id is None:
            org_id = await organization_id_of(self.scope.get("user"))
        if org_id is None:
            await self.close(code=4401)
            return
        self.group = org_group(org_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The socket is one-way: clients act through HTTP, where CSRF and permissions apply.
        return

    async def conversa_event(self, message):
        await self.send_json(message["event"])
