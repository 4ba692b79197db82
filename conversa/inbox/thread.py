"""What the operator view shows of one conversation: its messages and the changes in its
history (assigned to X, resolved by Y) as one timeline, the customer-service window, and the
contact's other conversations. Reads only; the changes live in ownership, states, tags and notes."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from conversa.accounts.models import Member, OperationalEvent
from conversa.accounts.scoping import scoped
from conversa.inbox import deadlines, kinds, merge
from conversa.inbox.models import Conversation, Queue
from conversa.numbers.models import Number

# WhatsApp's customer-service window: free text only within 24 hours of the customer's last
# message (enforced by the Cloud API; other providers deliver anyway).
WINDOW = timedelta(hours=24)
MAX_MESSAGES = 300

# Kinds that are not plain text: (icon, label). The label is translated when shown.
MEDIA_LABELS = {
    "image": ("image", gettext_lazy("Photo")),
    "video": ("video", gettext_lazy("Video")),
    "audio": ("audio", gettext_lazy("Audio")),
    "voice": ("audio", gettext_lazy("Voice message")),
    "document": ("document", gettext_lazy("Document")),
    "sticker": ("sticker", gettext_lazy("Sticker")),
    "location": ("location", gettext_lazy("Location")),
    "contacts": ("contact", gettext_lazy("Contact card")),
    # Before issue 15 a card was stored as kind "contact".
    "contact": ("contact", gettext_lazy("Contact card")),
    "choice": ("check", gettext_lazy("Reply")),
    "order": ("document", gettext_lazy("Order")),
    "poll": ("checks", gettext_lazy("Poll")),
    "unsupported": ("alert", gettext_lazy("Unsupported message")),
}


@dataclass
class Item:
    """One line of the thread: a message, a note, or a change in the conversation."""

    kind: str  # "message", "note" or "event"
    at: datetime
    obj: object = None
    text: str = ""
    detail: str = ""

    @property
    def day(self):
        return timezone.localtime(self.at).date()


def media(kind: str) -> tuple[str, str] | None:
    """(icon, label) of a message that is not plain text; the label is translated."""
    if kind == "text":
        return None
    icon, label = MEDIA_LABELS.get(kind, ("document", gettext_lazy("Attachment")))
    return icon, str(label)


def event_text(event: OperationalEvent, members: dict, queues: dict) -> tuple[str, str]:
    """A history entry as a sentence, and its note or reason."""
    data, actor = event.data or {}, event.actor_label
    name = members.get(data.get("assignee") or data.get("to_member"), "?")
    verb = event.verb.removeprefix("conversation.")
    if verb == "assigned":
        if data.get("how") == "claim":
            return _("%(actor)s claimed the conversation") % {"actor": actor}, ""
        if data.get("how") == "assign":
            return _("%(actor)s assigned it to %(name)s") % {"actor": actor, "name": name}, ""
        return _("Assigned to %(name)s by the queue") % {"name": name}, ""
    if verb == "released":
        return _("%(actor)s released it to the queue") % {"actor": actor}, ""
    if verb == "transferred":
        note = data.get("note", "")
        if data.get("to_queue"):
            queue = queues.get(data["to_queue"], "?")
            text = _("%(actor)s moved it to the %(queue)s queue") % {"actor": actor, "queue": queue}
            return text, note
        return _("%(actor)s transferred it to %(name)s") % {"actor": actor, "name": name}, note
    if verb == "resolved":
        return _("Resolved by %(actor)s") % {"actor": actor}, data.get("reason", "")
    if verb == "rated":
        text = _("Rated %(rating)s/5 by the customer") % {"rating": data.get("rating", "?")}
        return text, data.get("comment", "")
    if verb == "reopened":
        reason = data.get("reason", "")
        if event.actor_id is None and actor == "customer":
            return _("The customer wrote again: reopened"), ""
        if data.get("previous") in (Conversation.Status.PENDING, Conversation.Status.SNOOZED):
            return _("%(actor)s opened it again") % {"actor": actor}, reason
        return _("Reopened by %(actor)s") % {"actor": actor}, reason
    if verb == "pending":
        text = _("%(actor)s marked it pending, waiting on the customer")
        return text % {"actor": actor}, data.get("reason", "")
    if verb == "snoozed":
        until = parse_datetime(data.get("until") or "")
        if until is None:
            text = _("%(actor)s snoozed it until the customer replies") % {"actor": actor}
        else:
            when = date_format(timezone.localtime(until), "SHORT_DATETIME_FORMAT")
            text = _("%(actor)s snoozed it until %(when)s") % {"actor": actor, "when": when}
        return text, data.get("reason", "")
    if verb == "woken":
        if event.actor_id is None and actor == "customer":
            return _("The customer wrote: open again"), ""
        return _("The snooze ended: open again"), ""
    if verb == "priority_changed":
        try:
            priority = Conversation.Priority(data.get("priority")).label
        except ValueError:
            priority = "?"
        text = _("%(actor)s set the priority to %(priority)s")
        return text % {"actor": actor, "priority": str(priority).lower()}, ""
    if verb == "tagged":
        return _("%(actor)s tagged it “%(tag)s”") % {"actor": actor, "tag": data.get("name")}, ""
    if verb == "untagged":
        text = _("%(actor)s removed the tag “%(tag)s”")
        return text % {"actor": actor, "tag": data.get("name")}, ""
    if verb == "number_changed":
        text = _("The customer changed their number from %(old)s to %(new)s")
        return text % {"old": data.get("from") or "?", "new": data.get("to") or "?"}, ""
    if verb == "contact_merged":
        who = data.get("name") or data.get("phone") or "?"
        text = _("Merged with the contact %(who)s: %(reason)s")
        return text % {"who": who, "reason": merge.reason_text(data.get("reason", ""))}, ""
    return "", ""


def history(conversation: Conversation) -> list[Item]:
    events = list(
        OperationalEvent.objects.filter(
            organization_id=conversation.organization_id,
            object_type="conversation",
            object_id=conversation.pk,
        ).order_by("created_at", "id")
    )
    member_ids = {e.data.get(k) for e in events for k in ("assignee", "to_member")} - {None}
    queue_ids = {e.data.get("to_queue") for e in events} - {None}
    org = conversation.organization
    members = dict(scoped(org, Member).filter(pk__in=member_ids).values_list("pk", "display_name"))
    queues = dict(scoped(org, Queue).filter(pk__in=queue_ids).values_list("pk", "name"))
    items = []
    for e in events:
        text, detail = event_text(e, members, queues)
        if text:
            items.append(Item("event", e.created_at, e, text, detail))
    return items


def timeline(conversation: Conversation, notes=()) -> tuple[list[Item], bool]:
    """The newest messages (and the history and notes since the oldest shown) in time order,
    and whether older messages were left out."""
    newest = list(
        conversation.messages.select_related("sender", "attachment").order_by("-created_at", "-id")[
            : MAX_MESSAGES + 1
        ]
    )
    truncated = len(newest) > MAX_MESSAGES
    messages = newest[:MAX_MESSAGES][::-1]
    for m in messages:
        # A chosen reply, a poll or an unsupported kind says what it is in its own words.
        m.media = None if m.kind in kinds.SELF_DESCRIBED else media(m.kind)
        m.shown = kinds.shown(m)
    items = [Item("message", m.created_at, m) for m in messages]
    items += [Item("note", n.created_at, n) for n in notes]
    items += history(conversation)
    if truncated:
        oldest = messages[0].created_at
        items = [i for i in items if i.at >= oldest]
    items.sort(key=lambda i: (i.at, {"message": 0, "note": 1, "event": 2}[i.kind]))
    return items, truncated


@dataclass
class Window:
    """The customer-service window as the composer shows it."""

    open: bool
    ends_at: datetime | None
    enforced: bool  # Cloud API: outside the window only templates go

    # Under this much time left the composer warns that the window is closing.
    ending_minutes = 60

    @property
    def templates_only(self) -> bool:
        return self.enforced and not self.open

    @property
    def ending(self) -> bool:
        return self.open and self.left() < timedelta(minutes=self.ending_minutes)

    def left(self, now: datetime | None = None) -> timedelta:
        if not self.ends_at:
            return timedelta(0)
        return max(self.ends_at - (now or timezone.now()), timedelta(0))

    @property
    def phrase_hours(self) -> str:
        return _("%(hours)s h %(minutes)s min left")

    @property
    def phrase_minutes(self) -> str:
        return _("%(minutes)s min left")

    def left_text(self, now: datetime | None = None) -> str:
        """ "5 h 12 min left" (the page's script keeps it current with the same phrases)."""
        minutes = int(self.left(now).total_seconds() // 60)
        hours, minutes = divmod(minutes, 60)
        if hours:
            return self.phrase_hours % {"hours": hours, "minutes": minutes}
        return self.phrase_minutes % {"minutes": minutes}


def service_window(conversation: Conversation, now: datetime | None = None) -> Window:
    now = now or timezone.now()
    last = conversation.last_inbound_at
    ends_at = last + WINDOW if last else None
    return Window(
        open=bool(ends_at and ends_at > now),
        ends_at=ends_at,
        enforced=conversation.number.provider == Number.Provider.CLOUD,
    )


def past_conversations(conversation: Conversation, limit: int = 10) -> list[Conversation]:
    """The contact's other conversations in this organization, newest first."""
    return list(
        scoped(conversation.organization, Conversation)
        .filter(contact_id=conversation.contact_id)
        .exclude(pk=conversation.pk)
        .select_related("number")
        .order_by("-last_message_at", "-id")[:limit]
    )


CLOCK_NAMES = {
    "first_response": gettext_lazy("First response"),
    "resolution": gettext_lazy("Resolution"),
}


@dataclass
class SlaClock:
    """One running SLA clock as the conversation's header shows it."""

    name: str
    state: str  # deadlines.OK, AT_RISK or BREACHED
    due_at: datetime
    text: str

    @property
    def label(self) -> str:
        return str(CLOCK_NAMES[self.name])


def duration_text(seconds: int) -> str:
    """Business time as "2 h 5 min", "40 min", or "less than a minute" (never "0 min")."""
    minutes = max(int(seconds), 0) // 60
    if not minutes:
        return _("less than a minute")
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)s min") % {"minutes": minutes}


def sla_clocks(conversation: Conversation, now: datetime | None = None) -> list[SlaClock]:
    """The conversation's running SLA clocks (first response until an operator replies,
    resolution until it is resolved): business time left, or how long past due."""
    if conversation.status == Conversation.Status.RESOLVED:
        return []
    now = now or timezone.now()
    queue = conversation.queue
    running = []
    if conversation.first_response_due_at and conversation.first_response_at is None:
        target = queue.first_response_minutes if queue else None
        running.append(("first_response", conversation.first_response_due_at, target))
    if conversation.resolution_due_at:
        target = queue.resolution_minutes if queue else None
        running.append(("resolution", conversation.resolution_due_at, target))
    if not running:
        return []
    schedule = conversation.organization.sla_schedule()
    clocks = []
    for name, due_at, target in running:
        clock = deadlines.clock_state(name, due_at, target, schedule, now)
        if clock.state == deadlines.BREACHED:
            text = _("breached %(time)s ago") % {"time": duration_text(-clock.seconds_left)}
        else:
            text = _("%(time)s left") % {"time": duration_text(clock.seconds_left)}
        clocks.append(SlaClock(name, clock.state, due_at, text))
    return clocks
