import re
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa.accounts.models import Member, Organization, OrgOwned
from conversa.colours import ColourValidator
from conversa.numbers.models import Number


class Tag(OrgOwned):
    """A label with a colour, put on conversations and contacts. Its name is unique in the
    organization whatever its case ("VIP" and "vip" are one tag)."""

    class Colour(models.TextChoices):
        # A fixed palette: the page has a light and a dark shade of each.
        GREY = "grey", _("Grey")
        RED = "red", _("Red")
        ORANGE = "orange", _("Orange")
        YELLOW = "yellow", _("Yellow")
        GREEN = "green", _("Green")
        TEAL = "teal", _("Teal")
        BLUE = "blue", _("Blue")
        PURPLE = "purple", _("Purple")
        PINK = "pink", _("Pink")

    VALID_COLOUR = ColourValidator(Colour.values)

    name = models.CharField(max_length=50)
    colour = models.CharField(
        max_length=8, choices=Colour.choices, default=Colour.GREY, validators=[VALID_COLOUR]
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "organization", name="tag_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def safe_colour(self) -> str:
        """The colour pages print (in a class name): grey for a row saved outside the palette."""
        return self.VALID_COLOUR.safe(self.colour, self.Colour.GREY)


class Contact(OrgOwned):
    """A person on WhatsApp. `phone` is the digits of their E.164 number, empty for someone
    known only by a username or a linked id; every identifier they were seen with is a
    ContactIdentity."""

    # No index of its own: contact_by_name and contact_by_created lead with it. Beside them it
    # misled the planner into scanning a new organization's contacts for each phone an import
    # looks up (its statistics said it had none yet); so would they, and so did
    # contact_unique_phone while it led with it: lookups by phone name the organization in a
    # form no index serves (`contacts.with_phones`).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    phone = models.CharField(max_length=20, blank=True)
    name = models.CharField(max_length=200, blank=True)
    blocked = models.BooleanField(default=False)
    opted_out = models.BooleanField(default=False)
    # Whether the latest of the contact's marketing consent records (campaigns.Consent) is a
    # grant: derived, kept in step by campaigns.consent in the records' own transaction, so
    # the Gate and audience filters read one column instead of the history.
    marketing_consent = models.BooleanField(default=False)
    # key → text, as a lead's: what an import's extra columns fill and `{{contact.<key>}}`
    # names in a campaign's message.
    custom_fields = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, related_name="contacts", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When their personal data was erased (LGPD, campaigns.privacy): the row stays, anonymized,
    # so counts and the audit trail hold; the person writing again is a new contact.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["phone", "organization"],
                condition=~Q(phone=""),
                name="contact_unique_phone",
            )
        ]
        # The Contacts page's sorts, read in index order page after page (campaigns.
        # contact_listing): by name, and newest first.
        indexes = [
            models.Index(fields=["organization", "name", "id"], name="contact_by_name"),
            models.Index(fields=["organization", "created_at", "id"], name="contact_by_created"),
        ]

    def __str__(self) -> str:
        return self.name or self.display_phone

    @property
    def display_phone(self) -> str:
        return f"+{self.phone}" if self.phone else ""

    @property
    def identifiers(self) -> list["ContactIdentity"]:
        """The identifiers the contact was seen with, phones first, as pages list them. A
        Brazilian mobile is recorded in both forms (inbox.phones.phone_variants); a person
        knows it by one, so the form without the ninth digit is left out when the other is
        there."""
        identities = list(self.identities.all())
        phones = {i.value for i in identities if i.kind == ContactIdentity.Kind.PHONE}

        def older_form(i: ContactIdentity) -> bool:
            v = i.value
            return (
                i.kind == ContactIdentity.Kind.PHONE
                and len(v) == 12
                and v.startswith("55")
                and f"{v[:4]}9{v[4:]}" in phones
            )

        return sorted(
            (i for i in identities if not older_form(i)),
            key=lambda i: (ContactIdentity.ORDER.get(i.kind, 9), i.value),
        )


class ContactIdentity(OrgOwned):
    """One identifier a contact was seen with. Unique per organization: a second contact
    found under an identifier another one holds is the same person (they are merged)."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone number")
        LID = "lid", _("WhatsApp linked id")
        USER_ID = "user_id", _("WhatsApp username id")

    # No index of its own, nor leading any: nothing reads identities by organization alone
    # (but its deletion). One that led with it let PostgreSQL, before it had statistics of a new
    # organization's identities, read all of them for every lookup of a batch's phones and
    # filter by value: a burst of new customers cost the square of its size.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The value first: every lookup names it (see `organization`).
            models.UniqueConstraint(
                fields=["value", "organization", "kind"], name="contact_identity_unique"
            )
        ]

    # The words pages show (the choices' longer labels name them in forms and the API).
    LABELS = {Kind.PHONE: _("Phone"), Kind.LID: _("Linked id"), Kind.USER_ID: _("Username id")}
    ORDER = {Kind.PHONE: 0, Kind.LID: 1, Kind.USER_ID: 2}

    @property
    def label(self) -> str:
        return str(self.LABELS.get(self.kind, self.kind))

    @property
    def display_value(self) -> str:
        return f"+{self.value}" if self.kind == self.Kind.PHONE else self.value


class Queue(OrgOwned):
    """A team: the operators who answer a kind of conversation, and how work reaches them."""

    class Distribution(models.TextChoices):
        OFF = "off", _("Off (operators claim)")
        ROUND_ROBIN = "round_robin", _("Round robin")
        LEAST_LOAD = "least_load", _("Least load")

    name = models.CharField(max_length=120)
    members = models.ManyToManyField(Member, related_name="queues", blank=True)
    # New conversations on these numbers land in this queue (a number's first queue by id).
    numbers = models.ManyToManyField(Number, related_name="queues", blank=True)
    distribution = models.CharField(
        max_length=16, choices=Distribution.choices, default=Distribution.OFF
    )
    # SLA targets in business minutes; empty means none.
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)

    # The satisfaction survey after its conversations are resolved: as the organization's
    # settings say ("inherit"), or on or off for this queue; its own question, or blank.
    class Survey(models.TextChoices):
        INHERIT = "inherit", _("As the organization")
        ON = "on", _("On")
        OFF = "off", _("Off")

    survey = models.CharField(max_length=8, choices=Survey.choices, default=Survey.INHERIT)
    survey_question = models.TextField(blank=True, max_length=1000)
    # Round robin's cursor: the member who got the last conversation.
    last_assignee = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="queue_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Conversation(OrgOwned):
    """A thread with one contact on one number."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")

    class Priority(models.IntegerChoices):
        LOW = 0, _("Low")
        NORMAL = 1, _("Normal")
        HIGH = 2, _("High")
        URGENT = 3, _("Urgent")

    # Its lists' indexes lead with it (Meta): an index of its own would only be written.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    number = models.ForeignKey(Number, on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # Indexed where set (Meta): a new customer's conversation, written with neither, is in
    # neither index.
    queue = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        db_index=False,
    )
    assignee = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    # SNOOZED until this time, or (empty) until the customer's next message (which wakes it
    # in any case).
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # When it was last resolved (empty while it is not): a customer's message within the
    # organization's reopen window reopens it, a later one starts a new conversation.
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The SLA clocks (inbox/deadlines.py). A cycle starts when the conversation opens or is
    # reopened from resolved; its due times are the queue's targets counted in the
    # organization's business hours from then, stored so a list can filter and count breaches
    # in SQL. Empty due: no target. The first response is an operator's first reply.
    opened_at = models.DateTimeField(default=timezone.now)
    # The customer's first message of the cycle: the SLA clocks start there, so a conversation
    # the business started (a follow-up, an API send) has none until they write.
    first_inbound_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, related_name="conversations", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            # One live thread per contact and number: two first messages of a new contact
            # arriving at once in two processes must land in one conversation. Phrased as "not
            # resolved" so a state added later is live too.
            models.UniqueConstraint(
                fields=["number", "contact"],
                condition=~Q(status="resolved"),
                name="conversation_one_unresolved_per_contact",
            )
        ]
        # The list's tabs, newest activity first, each read in index order (bench inbox). The
        # trigram indexes for search are PostgreSQL's, in migration 0008.
        indexes = [
            models.Index(
                fields=["organization", "-last_message_at", "-id"], name="conversation_org_recent"
            ),
            models.Index(
                fields=["organization", "assignee", "-last_message_at", "-id"],
                name="conversation_mine_recent",
            ),
            # The queue is carried (PostgreSQL) so the Queue tab's count of "in one of my
            # queues" reads the index alone.
            models.Index(
                fields=["organization", "-last_message_at", "-id"],
                condition=Q(assignee__isnull=True),
                include=["queue"],
                name="conversation_queue_recent",
            ),
            # The overdue ones (`breached`), counted on every list refresh, found by due time.
            models.Index(
                fields=["organization", "resolution_due_at"],
                condition=~Q(status="resolved"),
                name="conversation_resolution_due",
            ),
            models.Index(
                fields=["organization", "first_response_due_at"],
                condition=Q(first_response_at__isnull=True) & ~Q(status="resolved"),
                name="conversation_first_due",
            ),
            # Insights' backlog: the one waiting longest for its first reply, read first.
            models.Index(
                fields=["organization", "first_inbound_at"],
                condition=Q(first_inbound_at__isnull=False, first_response_at__isnull=True)
                & ~Q(status="resolved"),
                name="conversation_waiting",
            ),
            models.Index(
                fields=["queue"], condition=Q(queue__isnull=False), name="conversation_queue"
            ),
            models.Index(
                fields=["assignee"],
                condition=Q(assignee__isnull=False),
                name="conversation_assignee",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} on {self.number}"

    @staticmethod
    def reopen_cutoff(reopen_window_hours: int, now: datetime) -> datetime:
        """Conversations resolved before this instant stay closed when the customer writes."""
        return now - timedelta(hours=reopen_window_hours)

    @classmethod
    def continued_by_customer(cls, cutoff: datetime) -> Q:
        """The threads a new customer message may land in: unresolved, or resolved since
        `cutoff`. A row resolved without a time (before the column existed, or by a bulk
        update) counts as resolved at its last message."""
        return (
            ~Q(status=cls.Status.RESOLVED)
            | Q(resolved_at__gte=cutoff)
            | Q(resolved_at__isnull=True, last_message_at__gte=cutoff)
        )

    @classmethod
    def breached(cls, now: datetime) -> Q:
        """Unresolved conversations past a due time: no first response yet and past its due,
        or past the resolution's due."""
        return ~Q(status=cls.Status.RESOLVED) & (
            Q(first_response_at__isnull=True, first_response_due_at__lt=now)
            | Q(resolution_due_at__lt=now)
        )

    def is_continued_by_customer(self, cutoff: datetime) -> bool:
        """`continued_by_customer` for this row as loaded."""
        if self.status != self.Status.RESOLVED:
            return True
        return (self.resolved_at or self.last_message_at) >= cutoff


class Message(OrgOwned):
    """An inbound or outbound message. Outbound status only moves forward."""

    class Direction(models.TextChoices):
        INBOUND = "in", _("Inbound")
        OUTBOUND = "out", _("Outbound")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    class Removed(models.TextChoices):
        RETENTION = "retention", _("Removed by the retention policy")
        ERASURE = "erasure", _("Removed when the contact's data was erased")

    # Forward order of outbound statuses; FAILED is terminal and set only by the engine.
    STATUS_RANK = {Status.PENDING: 0, Status.SENT: 1, Status.DELIVERED: 2, Status.READ: 3}

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    number = models.ForeignKey(Number, on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=24, default="text")
    body = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    # The WhatsApp message id (Evolution key.id, Cloud API wamid); empty until sent.
    provider_message_id = models.CharField(max_length=128, blank=True)
    # Indexed where set (Meta): a customer's message, with none, is not in the index.
    sender = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # The kind's structure (providers.base.KINDS): a location's coordinates, a card's numbers,
    # a chosen button, an order's items, a media file's provider reference.
    content = models.JSONField(default=dict, blank=True)
    # The provider id of the message this one quotes, when it says.
    reply_to = models.CharField(max_length=128, blank=True)
    # Outbound, typed on the business's own phone: not sent by Conversa, no intent.
    sent_from_phone = models.BooleanField(default=False)
    # Who reacted with what: {"customer": "👍", "business": "❤️"}.
    reactions = models.JSONField(default=dict, blank=True)
    # Earlier texts of an edited message, oldest first: [{"body", "at"}].
    history = models.JSONField(default=list, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    # Deleted for everyone by its sender; the body stays for the audit, pages say it was deleted.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Why its text and file are gone, when they are (the row, its time and status stay, so
    # counts and threads keep it and pages show a placeholder): the organization's retention
    # policy (inbox.retention) or the erasure of its contact (campaigns.privacy).
    removed = models.CharField(max_length=10, choices=Removed.choices, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Invariant 3: a provider message is stored once per number, whatever the retries.
            models.UniqueConstraint(
                fields=["number", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_unique_provider_id",
            )
        ]
        indexes = [
            models.Index(
                fields=["sender"], condition=Q(sender__isnull=False), name="message_sender"
            )
        ]

    @property
    def is_outbound(self) -> bool:
        return self.direction == self.Direction.OUTBOUND


class Attachment(OrgOwned):
    """A media file of a message: inbound ones fetched from the provider by a durable job,
    outbound ones uploaded by a member before the send. Served only to its organization."""

    class State(models.TextChoices):
        PENDING = "pending", _("Loading")
        STORED = "stored", _("Stored")
        FAILED = "failed", _("Download failed")
        # Its file deleted with its message's content (Message.removed); the row stays, as an
        # outbound send's intent refers to it.
        REMOVED = "removed", _("Removed")

    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachment"
    )
    kind = models.CharField(max_length=12)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    file = models.FileField(max_length=255, blank=True)
    mime_type = models.CharField(max_length=100, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"])]


class Note(OrgOwned):
    """A private note in a conversation: seen by the team only, never sent to WhatsApp (it is
    not a Message and never meets the engine)."""

    MAX_LENGTH = 5000

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    # Written by the assistant (why it handed the conversation to the team), not by a member.
    by_assistant = models.BooleanField(default=False)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the assistant wrote it (a summary): the page says so and offers its rating.
    # `author` is then the member who asked for it, or the one whose transfer or resolve
    # asked for it on the organization's behalf.
    assistant_output = models.ForeignKey(
        "assistant.AssistantOutput",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notes",
    )

    class Meta:
        ordering = ["created_at", "id"]


class CannedReply(OrgOwned):
    """A saved answer an operator inserts with `/shortcode`. Its body may name variables
    (`{{contact.name}}`); a body naming an unknown one is refused when saved, so a typo is
    found by whoever writes the reply, not by the customer who would receive it."""

    # Variable → what it reads from (contact, operator, organization). Rendered as plain text.
    VARIABLES = {
        "contact.name": lambda contact, member, org: contact.name,
        "contact.first_name": lambda contact, member, org: contact.name.split(" ")[0],
        "contact.phone": lambda contact, member, org: contact.display_phone,
        "operator.name": lambda contact, member, org: member.display_name if member else "",
        "organization.name": lambda contact, member, org: org.name,
    }
    PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
    SHORTCODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
    MAX_LENGTH = 4096  # WhatsApp's limit for a text message

    shortcode = models.CharField(max_length=32)
    body = models.TextField()
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["shortcode"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "shortcode"], name="canned_reply_unique_shortcode"
            )
        ]

    def __str__(self) -> str:
        return f"/{self.shortcode}"

    @classmethod
    def problems(cls, shortcode: str, body: str) -> list[str]:
        """What is wrong with this shortcode and body, in words for whoever wrote them."""
        found = []
        if not cls.SHORTCODE.match(shortcode):
            found.append(
                _("A shortcode is 1 to 32 lowercase letters, digits, '-' or '_' (no spaces).")
            )
        if not body.strip():
            found.append(_("The reply is empty."))
        elif len(body) > cls.MAX_LENGTH:
            found.append(_("The reply is longer than %(n)s characters.") % {"n": cls.MAX_LENGTH})
        unknown = sorted({name for name in cls.PLACEHOLDER.findall(body)} - set(cls.VARIABLES))
        if unknown:
            found.append(
                _("Unknown variable(s): %(unknown)s. Known: %(known)s.")
                % {
                    "unknown": ", ".join(f"{{{{{name}}}}}" for name in unknown),
                    "known": ", ".join(f"{{{{{name}}}}}" for name in cls.VARIABLES),
                }
            )
        return found


class Presence(OrgOwned):
    """A member's presence as an operator and their notification preferences: one row each,
    made when first needed (`presence.presence_of`).

    The availability itself stays on `Member.availability` (distribution reads it); this row
    holds what decides the automatic changes (see `conversa/inbox/presence.py`)."""

    class Held(models.TextChoices):
        NONE = "", _("Nothing chosen")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    member = models.OneToOneField(
        Member, primary_key=True, on_delete=models.CASCADE, related_name="presence"
    )
    # Online when my first socket connects, away when idle, offline after I leave.
    automatic = models.BooleanField(default=True)
    # Away or offline chosen in the menu: holds until chosen again or the member leaves.
    held = models.CharField(max_length=8, choices=Held.choices, default="", blank=True)
    # Away because every tab was idle (input brings them back), not by choice.
    idle_away = models.BooleanField(default=False)
    # When the member's last socket went away; offline once the grace period has passed.
    left_at = models.DateTimeField(null=True, blank=True, db_index=True)
    notify_assigned = models.BooleanField(default=True)
    notify_messages = models.BooleanField(default=True)
    notify_mentions = models.BooleanField(default=True)
    notify_sound = models.BooleanField(default=True)


class Socket(OrgOwned):
    """One open WebSocket of a member, on whichever web process holds it. Its process renews
    `last_seen` while it is open; a row not renewed for `PRESENCE_SOCKET_EXPIRY_SECONDS`
    belonged to a process that died, and the worker's sweep removes it."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="sockets")
    channel_name = models.CharField(max_length=200, unique=True)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)
    # No input in this tab for the idle period (the page says so).
    idle = models.BooleanField(default=False)


class Mention(OrgOwned):
    """A member named with `@Name` in a note: shown to them until they open the conversation."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="mentions")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="mentions")
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["note", "member"], name="mention_once_per_note")
        ]
        indexes = [models.Index(fields=["member", "read_at"])]


# The question a survey asks unless the organization (or the queue) words its own: the
# businesses Conversa serves first write in Portuguese.
DEFAULT_SURVEY_QUESTION = (
    "Como você avalia o nosso atendimento? Responda com um número de 1 (muito ruim) a "
    "5 (excelente). Se quiser, escreva um comentário depois do número."
)
MAX_SURVEY_OPEN_HOURS = 7 * 24


class SurveySettings(OrgOwned):
    """The organization's satisfaction survey after a resolved conversation: off unless
    turned on. A queue may turn it on or off for its conversations and word its own
    question (`Queue.survey`, `Queue.survey_question`)."""

    enabled = models.BooleanField(default=False)
    # Blank: DEFAULT_SURVEY_QUESTION.
    question = models.TextField(blank=True, max_length=1000)
    # How long after the resolution the customer's number still counts as the answer.
    open_hours = models.PositiveSmallIntegerField(default=24)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="survey_settings_one_per_org"),
            models.CheckConstraint(
                condition=Q(open_hours__gte=1) & Q(open_hours__lte=MAX_SURVEY_OPEN_HOURS),
                name="survey_open_hours_bounded",
            ),
        ]


class Survey(OrgOwned):
    """One satisfaction question after one resolution of a conversation, and its answer:
    a rating 1–5 and an optional comment. Recorded against the member who resolved it."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    # The intent's key: one survey per (conversation, resolution), refused twice by the database.
    key = models.CharField(max_length=96)
    # Who resolved the conversation, its queue and number then: what the figures group by.
    agent = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.ForeignKey(
        "inbox.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    number = models.ForeignKey(
        Number, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The outbound message that asks: until it has left, nothing the customer writes answers it.
    question_message = models.ForeignKey(
        "inbox.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    asked_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="survey_unique_key"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="survey_rating_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "-asked_at"]),
            # csat_summary: an organization's answers in a period.
            models.Index(fields=["organization", "answered_at"]),
        ]
