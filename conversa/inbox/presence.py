"""Presence that works without thinking: an operator's availability follows their sockets.

The rules (each change is audited, published as OPERATOR_STATUS and, going online, offered
the waiting conversations of their queues, through `ownership.set_availability`):

1. Choosing in the menu (or the API) sets online, away or offline at once. Away or offline
   so chosen *holds*: nothing automatic changes it while the member stays (reloads and new
   tabs included), until they choose again or until they leave (rule 4). Online chosen
   holds nothing: the automatic rules apply again.
2. With "online when I connect" on (the default, `Presence.automatic`), a socket that opens
   makes the member online, unless a choice holds. Off: only the member's choices change it.
3. A tab with no input for `PRESENCE_IDLE_SECONDS` says so over its socket; when every open
   tab of the member is idle, an online member turns away, and the first input in any tab
   brings them back online. Only an away that idleness caused is undone by input.
4. When a member's last socket closes, they are offline once `PRESENCE_GRACE_SECONDS` have
   passed with no socket back (a reload reconnects within it, so it does not flap), and any
   held choice is forgotten: the next visit starts online again (rule 2).
5. Going away or offline takes nothing from the member: the conversations they hold stay
   theirs (distribution only stops giving them new ones).

Sockets are rows (`Socket`), so the rules hold whichever web process holds which socket: the
process renews each row every `PRESENCE_HEARTBEAT_SECONDS`; a process that dies leaves rows
that stop being renewed, and the worker's `sweep` removes them after
`PRESENCE_SOCKET_EXPIRY_SECONDS`, then applies rule 4 counted from when they were last seen.
Each change locks the member's `Presence` row first, so two processes deciding for one
member take turns."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member
from conversa.accounts.services import record, same_org
from conversa.errors import Forbidden, Refused
from conversa.inbox import ownership
from conversa.inbox.models import Presence, Socket
from conversa.realtime import signals

ONLINE, AWAY, OFFLINE = (
    Member.Availability.ONLINE,
    Member.Availability.AWAY,
    Member.Availability.OFFLINE,
)


def presence_of(member: Member) -> Presence:
    """The member's presence row (made with the defaults the first time)."""
    Presence.objects.bulk_create(
        [Presence(member=member, organization_id=member.organization_id)], ignore_conflicts=True
    )
    return Presence.objects.get(member=member)


def locked(member_id: int) -> tuple[Member, Presence] | None:
    """The member and their presence row, locked until the transaction ends (None: gone)."""
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        return None
    presence_of(member)
    presence = Presence.objects.select_for_update().get(member_id=member_id)
    member.refresh_from_db(fields=["availability"])
    return member, presence


def change(member: Member, availability: str, *, how: str, acting_member: Member | None = None):
    """Set the availability if it differs: audited, published, and online offers work."""
    if member.availability == availability:
        return
    previous = member.availability
    ownership.set_availability(member, availability)
    record(
        member.organization_id,
        "member.availability",
        member,
        actor=acting_member,
        label="presence",
        availability=availability,
        previous=previous,
        how=how,
    )


@transaction.atomic
def choose(member: Member, availability: str, *, acting_member: Member) -> None:
    """The member chooses online, away or offline (the menu, the API): rule 1."""
    same_org(member, acting_member.organization_id)
    if acting_member.pk != member.pk:
        raise Forbidden(gettext("Members choose their own availability."))
    if availability not in Member.Availability.values:
        raise Refused(gettext("Choose online, away or offline."))
    member, presence = locked(member.pk)
    presence.held = "" if availability == ONLINE else availability
    presence.idle_away = False
    presence.save(update_fields=["held", "idle_away"])
    change(member, availability, how="chosen", acting_member=acting_member)
    acting_member.availability = availability


@transaction.atomic
def set_preferences(member: Member, *, acting_member: Member, **preferences: bool) -> Presence:
    """The member's own presence and notification preferences (settings/notifications)."""
    if acting_member.pk != member.pk:
        raise Forbidden(gettext("Members set their own preferences."))
    allowed = {"automatic", "notify_assigned", "notify_messages", "notify_mentions"}
    allowed.add("notify_sound")
    unknown = set(preferences) - allowed
    if unknown:
        raise Refused(f"Unknown preference: {', '.join(sorted(unknown))}")
    _, presence = locked(member.pk)
    changed = {k: bool(v) for k, v in preferences.items() if getattr(presence, k) != bool(v)}
    for name, value in changed.items():
        setattr(presence, name, value)
    if changed:
        presence.save(update_fields=list(changed))
        record(member.organization_id, "member.preferences", member, actor=acting_member, **changed)
    return presence


@transaction.atomic
def socket_opened(*, member_id: int, organization_id: int, channel_name: str) -> None:
    """Rule 2: a socket of the member opened."""
    found = locked(member_id)
    if found is None:
        return
    member, presence = found
    Socket.objects.update_or_create(
        channel_name=channel_name,
        defaults={
            "member": member,
            "organization_id": organization_id,
            "last_seen": timezone.now(),
            "idle": False,
        },
    )
    if presence.left_at is not None:
        presence.left_at = None
        presence.save(update_fields=["left_at"])
    if presence.automatic and not presence.held and member.availability != ONLINE:
        presence.idle_away = False
        presence.save(update_fields=["idle_away"])
        change(member, ONLINE, how="connected")


@transaction.atomic
def socket_idle(*, member_id: int, channel_name: str, idle: bool) -> None:
    """Rule 3: a tab says it has gone idle, or has input again."""
    found = locked(member_id)
    if found is None:
        return
    member, presence = found
    Socket.objects.filter(channel_name=channel_name, member_id=member_id).update(
        idle=idle, last_seen=timezone.now()
    )
    if idle:
        away_if_all_idle(member, presence)
    elif presence.idle_away and member.availability == AWAY:
        presence.idle_away = False
        presence.save(update_fields=["idle_away"])
        change(member, ONLINE, how="active")


def away_if_all_idle(member: Member, presence: Presence) -> None:
    sockets = Socket.objects.filter(member=member)
    if not presence.automatic or presence.held or member.availability != ONLINE:
        return
    if sockets.exists() and not sockets.filter(idle=False).exists():
        presence.idle_away = True
        presence.save(update_fields=["idle_away"])
        change(member, AWAY, how="idle")


@transaction.atomic
def socket_closed(*, member_id: int, channel_name: str) -> None:
    """Rule 4, its start: the member's last socket closed (the grace period starts), or one
    that had input closed and leaves only idle ones (rule 3)."""
    found = locked(member_id)
    if found is None:
        return
    member, presence = found
    Socket.objects.filter(channel_name=channel_name).delete()
    if not Socket.objects.filter(member_id=member_id).exists():
        presence.left_at = timezone.now()
        presence.save(update_fields=["left_at"])
    else:
        away_if_all_idle(member, presence)


def sockets_alive(*, channel_names: list[str]) -> None:
    """A web process still holds these sockets (its heartbeat)."""
    Socket.objects.filter(channel_name__in=channel_names).update(last_seen=timezone.now())


@transaction.atomic
def settle(member_id: int) -> bool:
    """Rule 4, its end: offline if the member's sockets have been gone for the grace period.
    True when the member has left (whatever their availability was)."""
    found = locked(member_id)
    if found is None:
        return False
    member, presence = found
    grace = timedelta(seconds=settings.PRESENCE_GRACE_SECONDS)
    if presence.left_at is None or presence.left_at > timezone.now() - grace:
        return False
    if Socket.objects.filter(member_id=member_id).exists():
        return False
    presence.left_at = None
    presence.held = ""
    presence.idle_away = False
    presence.save(update_fields=["left_at", "held", "idle_away"])
    if presence.automatic:
        change(member, OFFLINE, how="left")
    return True


def sweep() -> int:
    """The worker's pass: remove sockets no process has renewed (their process died), start
    the grace of members left without any, counted from when their sockets were last seen,
    and settle every member whose grace is over. Returns how many members left."""
    now = timezone.now()
    expired = Socket.objects.filter(
        last_seen__lt=now - timedelta(seconds=settings.PRESENCE_SOCKET_EXPIRY_SECONDS)
    )
    for member_id, last_seen in (
        expired.values("member_id").annotate(seen=Max("last_seen")).values_list("member_id", "seen")
    ):
        with transaction.atomic():
            found = locked(member_id)
            if found is None:
                continue
            _, presence = found
            expired.filter(member_id=member_id).delete()
            if presence.left_at is None and not Socket.objects.filter(member_id=member_id).exists():
                presence.left_at = last_seen
                presence.save(update_fields=["left_at"])
    grace = timedelta(seconds=settings.PRESENCE_GRACE_SECONDS)
    due = Presence.objects.filter(left_at__lte=now - grace).values_list("member_id", flat=True)
    return sum(settle(member_id) for member_id in list(due))


# The socket layer's news (conversa.realtime.signals), each in its own transaction.


@receiver(signals.socket_opened)
def on_socket_opened(sender, *, member_id, organization_id, channel_name, **kwargs):
    socket_opened(member_id=member_id, organization_id=organization_id, channel_name=channel_name)


@receiver(signals.socket_closed)
def on_socket_closed(sender, *, member_id, channel_name, **kwargs):
    socket_closed(member_id=member_id, channel_name=channel_name)


@receiver(signals.socket_idle)
def on_socket_idle(sender, *, member_id, channel_name, idle, **kwargs):
    socket_idle(member_id=member_id, channel_name=channel_name, idle=idle)


@receiver(signals.sockets_alive)
def on_sockets_alive(sender, *, channel_names, **kwargs):
    sockets_alive(channel_names=channel_names)


@receiver(signals.grace_over)
def on_grace_over(sender, *, member_id, **kwargs):
    settle(member_id)
