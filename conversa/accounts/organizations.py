"""Creating an organization with its first owner: the first-run page, sign-up (when
`SIGNUP_ENABLED`) and `conversa createorganization` all come here."""

from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import record
from conversa.errors import Conflict, Refused


def signup_open() -> bool:
    """Whether a visitor may create an organization: always on a fresh install (the first
    run), afterwards only when the deployment turns sign-up on."""
    return settings.SIGNUP_ENABLED or not Organization.objects.exists()


def clean_email(email: str) -> str:
    """An email as Conversa stores it (it is also the user's username): trimmed, lower case."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise Refused(gettext("Enter a valid email address."), field="email") from exc
    if len(email) > 150:
        raise Refused(gettext("This email is too long."), field="email")
    return email


def clean_name(value: str, field: str, limit: int) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise Refused(gettext("This field is required."), field=field)
    if len(value) > limit:
        raise Refused(gettext("At most %(limit)d characters.") % {"limit": limit}, field=field)
    return value


def clean_time_zone(time_zone: str) -> str:
    """An IANA zone name from `zoneinfo`'s list; anything else never reaches the database."""
    if time_zone not in available_timezones():
        raise Refused(gettext("Choose a time zone from the list."), field="time_zone")
    return time_zone


def check_password(password: str, user=None) -> None:
    """Django's password validators, their first complaint as the refusal."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise Refused(" ".join(exc.messages), field="password") from exc


def unique_slug(name: str) -> str:
    base = slugify(name)[:40] or "organization"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def create_organization(
    *,
    name: str,
    time_zone: str,
    owner_name: str,
    owner_email: str,
    password: str,
    language: str = "",
) -> Member:
    """A new organization, its owner's account and membership. Returns the owner.

    Refused (Invalid, on the field) for an empty name, a zone not in the IANA list, an email
    that is not one, a password Django's validators reject; Conflict when an account with the
    email exists (that person signs in and is invited instead)."""
    name = clean_name(name, "name", 200)
    time_zone = clean_time_zone(time_zone)
    owner_name = clean_name(owner_name, "owner_name", 120)
    email = clean_email(owner_email)
    users = get_user_model()
    if users.objects.filter(username=email).exists():
        raise Conflict(
            gettext("An account with this email exists: sign in instead."), field="email"
        )
    user = users(username=email, email=email, first_name=owner_name[:150])
    check_password(password, user)
    user.set_password(password)
    user.save()
    org = Organization.objects.create(name=name, slug=unique_slug(name), time_zone=time_zone)
    owner = Member.objects.create(
        organization=org,
        user=user,
        role=Member.Role.OWNER,
        display_name=owner_name,
        language=language if language in dict(settings.LANGUAGES) else "",
    )
    record(org.pk, "organization.created", org, actor=owner, name=name, time_zone=time_zone)
    return owner
