"""What the socket layer tells the apps above it, without importing them (realtime is at the
bottom): a member's socket opened, closed, said it is idle or active, is still alive, and a
closed socket's grace period is over. The inbox's presence listens (conversa/inbox/presence.py).

Every signal is sent from a thread (database_sync_to_async), with keyword arguments only."""

from django.dispatch import Signal

# member_id, organization_id, channel_name
socket_opened = Signal()
# member_id, channel_name
socket_closed = Signal()
# member_id, channel_name, idle (bool)
socket_idle = Signal()
# channel_names (the sockets this process still holds)
sockets_alive = Signal()
# member_id: a grace period after one of their sockets closed has passed
grace_over = Signal()
