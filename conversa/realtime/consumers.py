import asyncio
import contextlib
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from conversa.accounts.models import Member
from conversa.realtime import signals
from conversa.realtime.publisher import member_group, org_group

log = logging.getLogger(__name__)

# Grace timers outlive the consumer that started them (the socket is gone): a reference keeps
# each task from being collected before it runs.
pending = set()


@database_sync_to_async
def membership_of(user) -> tuple[int, int] | None:
    """(organization id, member id) of a signed-in user, or None."""
    if not user or not user.is_authenticated:
        return None
    return (
        Member.objects.filter(user=user, is_active=True)
        .order_by("id")
        .values_list("organization_id", "pk")
        .first()
    )


async def organization_id_of(user) -> int | None:
    found = await membership_of(user)
    return found[0] if found else None


def members_only(consumer):
    """Refuse a socket without a member's session before any consumer exists.

    A consumer listens on the channel layer from the moment it starts; one refused during its
    handshake is never told its socket is gone (the server answers 403), and with Redis its
    pending read held `conversa serve` open at shutdown. Here the refusal needs no layer."""

    async def app(scope, receive, send):
        found = await membership_of(scope.get("user"))
        if found is None:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4401})
            return
        org_id, member_id = found
        await consumer({**scope, "organization_id": org_id, "member_id": member_id}, receive, send)

    return app


@database_sync_to_async
def tell(signal, **kwargs) -> None:
    # What listens (presence) failing must not cost the member their live updates.
    for receiver, answer in signal.send_robust(sender=EventsConsumer, **kwargs):
        if isinstance(answer, Exception):
            log.error(
                "%s failed on %s", receiver.__qualname__, signal_name(signal), exc_info=answer
            )


def signal_name(signal) -> str:
    return next((name for name, s in vars(signals).items() if s is signal), "a socket signal")


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """A signed-in member's socket: joins its own organization's group and its member's own
    group, and nothing else. It tells the presence what happens to it (opened, idle, closed)
    and renews its row while open (`conversa.realtime.signals`)."""

    async def connect(self):
        org_id, member_id = self.scope.get("organization_id"), self.scope.get("member_id")
        if org_id is None or member_id is None:
            found = await membership_of(self.scope.get("user"))
            if found is None:
                await self.close(code=4401)
                return
            org_id, member_id = found
        self.member_id = member_id
        self.groups_joined = [org_group(org_id), member_group(member_id)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.idle = False
        self.heartbeat = asyncio.create_task(self.beat())
        await tell(
            signals.socket_opened,
            member_id=member_id,
            organization_id=org_id,
            channel_name=self.channel_name,
        )

    async def beat(self):
        while True:
            await asyncio.sleep(settings.PRESENCE_HEARTBEAT_SECONDS)
            with contextlib.suppress(Exception):
                await tell(signals.sockets_alive, channel_names=[self.channel_name])

    async def __call__(self, scope, receive, send):
        # However the consumer ends (a close, or an error such as an event sent to a socket
        # that just went away, which skips `disconnect`), its member's presence hears of it.
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.leave()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.leave()

    async def leave(self):
        """Once per socket: stop renewing its row, tell the presence it closed, and start
        the grace period's timer."""
        if not hasattr(self, "heartbeat") or getattr(self, "left", False):
            return
        self.left = True
        self.heartbeat.cancel()
        await tell(signals.socket_closed, member_id=self.member_id, channel_name=self.channel_name)
        task = asyncio.get_running_loop().create_task(grace_then_settle(self.member_id))
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # Only short JSON text; anything else is ignored, never an error that drops the socket.
        if text_data is None or len(text_data) > 200:
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        # Clients act through HTTP, where CSRF and permissions apply; the only thing a page
        # says here is whether its tab is idle, which concerns its own member alone.
        if not isinstance(content, dict) or content.get("type") != "presence":
            return
        idle = content.get("idle")
        if not isinstance(idle, bool) or idle == self.idle:
            return
        self.idle = idle
        await tell(
            signals.socket_idle, member_id=self.member_id, channel_name=self.channel_name, idle=idle
        )

    async def conversa_event(self, message):
        await self.send_json(message["event"])


async def grace_then_settle(member_id: int) -> None:
    """After the grace period, let the presence decide whether the member has left (this
    process's timer; the worker's sweep covers a process that stops before it fires)."""
    await asyncio.sleep(settings.PRESENCE_GRACE_SECONDS + 0.2)
    with contextlib.suppress(Exception):
        await tell(signals.grace_over, member_id=member_id)
