import hashlib
import secrets
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa import business_hours as sla
from conversa.crypto import EncryptedField


def default_business_hours() -> dict:
    return {day: [list(span) for span in spans] for day, spans in sla.DEFAULT_HOURS.items()}


def time_zones() -> frozenset[str]:
    """The IANA time zones this system knows (`zoneinfo.available_timezones`)."""
    return sla.known_zones()


def validate_time_zone(value: str) -> None:
    if value not in time_zones():
        raise ValidationError(_("Unknown time zone: %(zone)s."), params={"zone": value})


class TimeZoneField(models.CharField):
    """An IANA time zone name. Every way the ORM writes one (save, create, update,
    bulk_update) goes through `get_db_prep_save`, which refuses an unknown zone: a name
    the Gate's ZoneInfo cannot read never reaches the database."""

    default_validators = [validate_time_zone]

    def get_db_prep_save(self, value, connection):
        if value is not None and value not in time_zones():
            raise ValidationError(_("Unknown time zone: %(zone)s."), params={"zone": value})
        return super().get_db_prep_save(value, connection)


# Bounds of the organization's policies (the settings page, the API and the database agree).
MAX_REOPEN_WINDOW_HOURS = 365 * 24
MAX_HOURLY_QUOTA = 100_000
MAX_DAILY_QUOTA = 1_000_000
# Messages' texts and files are kept for at most this many days when a retention is set.
MAX_RETENTION_DAYS = 3650


class Organization(models.Model):
    """A tenant. Every row that is not global belongs to one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    time_zone = TimeZoneField(max_length=64, default="America/Sao_Paulo")
    # The currency of its deals (ISO 4217): the CRM shows leads' values in it.
    currency = models.CharField(max_length=3, default="BRL")
    # The kill switch: while set, the Gate lets nothing leave for this organization.
    sending_paused = models.BooleanField(default=False)
    # Local times (in `time_zone`) when only an operator's own replies leave. The window may
    # cross midnight (21:00 → 08:00); both empty, or start equal to end, means none.
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    # A customer's message within this many hours of a conversation's resolution reopens it;
    # a later one starts a new conversation. 0: every resolved conversation stays closed.
    reopen_window_hours = models.PositiveIntegerField(default=7 * 24)
    # The allowed dayparts: when messages no person typed (automations, campaigns, the API,
    # the assistant) may leave, local, per weekday, in business_hours' shape: {"mon":
    # [["08:00", "20:00"]], …}; a weekday left out allows none that day; {} means any time.
    # The Gate defers such messages to the next allowed period (engine/gate.py).
    sending_hours = models.JSONField(default=dict, blank=True)
    # The quotas a new number starts with (each number's own can be changed after); 0 means
    # unlimited.
    default_hourly_quota = models.PositiveIntegerField(default=200)
    default_daily_quota = models.PositiveIntegerField(default=1000)
    # The SLA clock runs only within these (local, in `time_zone`): {"mon": [["09:00",
    # "18:00"]], …}; {} means always open. Holidays are whole local days off, ISO dates.
    # Checked by `clean`; conversations' due times are computed from them (inbox/deadlines.py).
    business_hours = models.JSONField(default=default_business_hours, blank=True)
    holidays = models.JSONField(default=list, blank=True)
    # Tell customers their messages were read (blue ticks) when an agent opens the conversation.
    send_read_receipts = models.BooleanField(default=True)
    # Owners and admins must sign in with a second factor (an authenticator app): one without
    # it is sent to set it up before any other page. API tokens are not affected.
    require_mfa_for_admins = models.BooleanField(default=False)
    # Messages' texts and files older than this many days are deleted (inbox.retention);
    # empty keeps them for ever.
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(retention_days__isnull=True)
                | models.Q(retention_days__gte=1, retention_days__lte=MAX_RETENTION_DAYS),
                name="organization_retention_days_bounded",
            ),
            models.CheckConstraint(
                condition=models.Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | models.Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="organization_quiet_hours_both_or_neither",
            ),
            models.CheckConstraint(
                condition=models.Q(reopen_window_hours__lte=MAX_REOPEN_WINDOW_HOURS),
                name="organization_reopen_window_within_a_year",
            ),
            models.CheckConstraint(
                condition=models.Q(default_hourly_quota__lte=MAX_HOURLY_QUOTA)
                & models.Q(default_daily_quota__lte=MAX_DAILY_QUOTA),
                name="organization_default_quotas_bounded",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        problems = sla.schedule_problems(self.time_zone, self.business_hours, self.holidays)
        # The dayparts have the same shape (the zone is checked once, above).
        problems += sla.schedule_problems("UTC", self.sending_hours, [])
        if problems:
            raise ValidationError(problems)

    def delete(self, *args, **kwargs):
        # The audit timeline refuses deletes (a PostgreSQL trigger, see OperationalEvent); the
        # one exception is the whole organization going, which the trigger recognises by this
        # transaction-local setting naming it.
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('conversa.erasing_organization', %s, true)",
                        [str(self.pk)],
                    )
            return super().delete(*args, **kwargs)

    def sla_schedule(self) -> sla.Schedule:
        """The business hours the SLA clock runs in."""
        return sla.Schedule.from_settings(
            self.time_zone, self.business_hours, [date.fromisoformat(d) for d in self.holidays]
        )


class OrgQuerySet(models.QuerySet):
    def for_org(self, org: Organization) -> "OrgQuerySet":
        return self.filter(organization=org)


# A foreign key that copies one its row already holds through a checked foreign key (a job's
# organization and contact are its intent's) is not checked again by the database: a
# campaign's start writes 100,000 of each such row, and those checks at commit were the
# largest part of its time. Django still applies on_delete, and the copy is written from its
# source. The constraint is dropped on PostgreSQL only (bulk.drop_foreign_key).
COPIED = {"db_constraint": False}


class OrgOwned(models.Model):
    """Base of every domain row: it carries its organization, and `for_org` is the one filter."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")

    objects = OrgQuerySet.as_manager()

    class Meta:
        abstract = True


class Member(OrgOwned):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Admin")
        SUPERVISOR = "supervisor", _("Supervisor")
        AGENT = "agent", _("Agent")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )

    class Availability(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    display_name = models.CharField(max_length=120)
    # As an operator of the shared inbox: only online operators under capacity get new work.
    availability = models.CharField(
        max_length=8, choices=Availability.choices, default=Availability.OFFLINE
    )
    capacity = models.PositiveSmallIntegerField(default=10)
    # Conversations assigned and not resolved: a cache, recounted from the data at every
    # assignment change so it cannot drift.
    open_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    # A deactivated member keeps their history (messages, notes, the audit timeline) but is
    # no member for signing in, the API or distribution (accounts/members.py).
    is_active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # The interface language the member chose ("" follows the browser); set as the language
    # cookie when they sign in and when they save their profile.
    language = models.CharField(
        max_length=8, blank=True, default="", choices=[("", "")] + list(settings.LANGUAGES)
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="member_unique_per_org")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def supervises(self) -> bool:
        """Owners, admins and supervisors see every conversation, manage the team's queues, tags,
        canned replies, pipelines and automations, and act on others' conversations."""
        return self.role in (self.Role.OWNER, self.Role.ADMIN, self.Role.SUPERVISOR)

    @property
    def administers(self) -> bool:
        """Owners and admins run the organization: its settings, members, numbers, API tokens and
        audit log."""
        return self.role in (self.Role.OWNER, self.Role.ADMIN)

    @property
    def manages_numbers(self) -> bool:
        """Owners and admins add, pair, pause and remove the organization's numbers."""
        return self.administers


class ApiToken(OrgOwned):
    """A per-organization API token. Only a SHA-256 of the secret is stored.

    It acts as its member, narrowed by its scope: `read` only reads (GET), `send` also creates
    intents and sends messages, `manage` does everything the member's role allows. A revoked
    or expired token is refused at once and kept for the record.
    """

    PREFIX = "cv_"

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        SEND = "send", _("Read and send")
        MANAGE = "manage", _("Manage")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    token_hash = models.CharField(max_length=64, unique=True)
    # Tokens made before scopes existed did everything their member could: they keep it.
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.MANAGE)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def usable(self, now=None) -> bool:
        """Neither revoked nor past its expiry."""
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def new_secret(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class Invitation(OrgOwned):
    """An invitation to join the organization by email. The link's secret is sent once and only
    its SHA-256 is stored; it works once, until `expires_at`, unless revoked."""

    LIFETIME = timedelta(days=7)

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Member.Role.choices, default=Member.Role.AGENT)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # One open invitation per email: a second invite is a resend, refused by the
            # database as well as by the service.
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def status(self) -> str:
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()


class AppendOnly(Exception):
    """The audit timeline is written once: no row of it is changed or deleted."""


class EventQuerySet(OrgQuerySet):
    def update(self, **kwargs):
        raise AppendOnly("The audit timeline is append-only.")

    def delete(self):
        raise AppendOnly("The audit timeline is append-only.")

    def erase_data(self) -> int:
        """Empty these entries' details (`data`): the other change the timeline allows, for
        entries about a contact whose personal data is erased (LGPD). What happened, to which
        object, who did it and when stay as written. On PostgreSQL the trigger lets `data`
        change only while the transaction names the organization in
        `conversa.erasing_personal_data` (migration `audit_erasure`)."""
        count = 0
        for org_id in self.values_list("organization_id", flat=True).distinct().order_by():
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT set_config('conversa.erasing_personal_data', %s, true)",
                            [str(org_id)],
                        )
                mine = self.filter(organization_id=org_id)
                count += models.QuerySet.update(mine, data={"erased": True})
        return count

    def repoint(self, *, object_id: int) -> int:
        """Move these entries to another object of the same type: the one change the timeline
        allows, for history that follows its object when two are folded into one (a merged
        conversation). What happened, who did it and when stay as written."""
        return super().update(object_id=object_id)


class OperationalEvent(OrgOwned):
    """The audit timeline: who or what did what, when, to which object, and from where.

    Append-only: `save` refuses to change a stored row and `delete` refuses; on PostgreSQL a
    trigger refuses UPDATE and DELETE as well (migration `audit_append_only`), except an
    actor set to NULL when a member row goes, `repoint`, `erase_data`, and the deletion of a
    whole organization (`Organization.delete`).
    """

    actor = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    # "system", "worker", "gate", "provider" when no person acted.
    actor_label = models.CharField(max_length=64, default="system")
    verb = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.BigIntegerField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # From where, for what a person did through a page or the API: the client's address (see
    # TRUSTED_PROXIES) and browser.
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")

    objects = EventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "object_type", "object_id"]),
            # The audit page: newest first within an organization, pages by id (keyset).
            models.Index(fields=["organization", "-id"], name="event_org_newest"),
            models.Index(fields=["organization", "verb", "-id"], name="event_org_verb_newest"),
        ]
        ordering = ["created_at", "id"]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly("The audit timeline is append-only.")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("The audit timeline is append-only.")


class SecondFactor(models.Model):
    """A person's authenticator app (TOTP, RFC 6238). Belongs to the user, not to one
    organization: signing in is per person. The secret is encrypted at rest."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="second_factor"
    )
    secret = EncryptedField()
    # None while being set up: the person has not yet typed a first code from the app.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last 30-second step a code was accepted for; a code of that step or an earlier one
    # is refused (a code seen over a shoulder or in a log cannot be replayed).
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """A one-time code to sign in without the authenticator app. Only a SHA-256 is stored:
    the codes are 60 random bits, so a fast hash cannot be searched back (a slow password
    hasher is for the low entropy of chosen passwords)."""

    factor = models.ForeignKey(SecondFactor, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["factor", "code_hash"], name="recovery_code_unique")
        ]
