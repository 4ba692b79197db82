"""Segments: the Contacts page's search and filters, saved under a name, usable as a campaign's
audience. A segment stores the filters, not the people: whoever matches it when it is read is
in it (`matching`), so a contact who consents tomorrow joins a segment of consented contacts.

`clean_filters` is the one way filters are written: it bounds every field as the Contacts page
and `GET /api/contacts` do. Creating, changing and deleting a segment is for supervisors and
above, audited; a segment a running or paused campaign reads cannot be deleted.
"""

import re
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.scoping import scoped
from conversa.accounts.services import must_supervise, record, same_org
from conversa.bounds import MAX_ID
from conversa.campaigns.contact_listing import MAX_DAYS, YES_NO, Filters, narrowed
from conversa.campaigns.models import Campaign, Segment
from conversa.crm.models import Stage
from conversa.errors import Conflict, Refused
from conversa.inbox.listing import COUNT_CAP, capped_counts
from conversa.inbox.models import Contact

NAME_LENGTH = Segment._meta.get_field("name").max_length
# The Contacts page's bound on its search box.
SEARCH_LENGTH = 200
# Enough for any team's audiences, and a list page whose live counts stay one query.
MAX_SEGMENTS = 200
YES_NO_FIELDS = ("consent", "opted_out", "blocked", "open_conversation")
FIELDS = ("q", *YES_NO_FIELDS, "wrote_within", "stage")
DIGITS = re.compile(r"[0-9]{1,19}")
EMPTY = {"q": "", **dict.fromkeys(YES_NO_FIELDS, ""), "wrote_within": None, "stage": None}


def filters_of(segment: Segment) -> Filters:
    """The segment's stored filters as the contact list reads them. Keys it does not know
    (a filter since removed) are ignored; a value `clean_filters` would refuse, which only a
    hand-edited row can hold, counts as that filter left empty."""
    stored = segment.filters if isinstance(segment.filters, dict) else {}
    q = stored.get("q")
    days = stored.get("wrote_within")
    stage = stored.get("stage")
    return Filters(
        q=q[:SEARCH_LENGTH] if isinstance(q, str) else "",
        **{f: stored.get(f) if stored.get(f) in YES_NO else "" for f in YES_NO_FIELDS},
        wrote_within=days if is_int(days) and 1 <= days <= MAX_DAYS else None,
        # A deleted stage's id is kept: it matches no one, rather than everyone.
        stage=stage if is_int(stage) and stage >= 1 else None,
    )


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def as_number(value, field: str) -> int | None:
    """A whole number from 0 to a database key's largest, given as a JSON number or as ASCII
    digits (a form's); None for empty."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if not is_int(value) or not 0 <= value <= MAX_ID:
        raise Refused(gettext("This filter takes a whole number."), field=field)
    return value


def clean_filters(org: Organization, data: dict) -> dict:
    """The filters as a segment stores them: every field of `EMPTY`, each checked and bounded
    as the Contacts page does (yes/no answers, 1 to 3650 days, a pipeline stage of this
    organization, a search of at most 200 characters). Refused, naming the field, otherwise."""
    if not isinstance(data, dict):
        raise Refused(gettext("The filters are a set of named values."), field="filters")
    unknown = sorted(str(key) for key in data if key not in FIELDS)
    if unknown:
        raise Refused(
            gettext("“%(name)s” is not a filter a segment can have.") % {"name": unknown[0][:40]},
            field="filters",
        )
    cleaned = dict(EMPTY)
    q = data.get("q") or ""
    if not isinstance(q, str) or len(q.strip()) > SEARCH_LENGTH:
        raise Refused(
            gettext("The search has at most %(n)s characters.") % {"n": SEARCH_LENGTH}, field="q"
        )
    cleaned["q"] = q.strip()
    for field in YES_NO_FIELDS:
        answer = data.get(field) or ""
        if answer not in ("", *YES_NO):
            raise Refused(gettext("Answer “yes”, “no” or leave it empty."), field=field)
        cleaned[field] = answer
    days = as_number(data.get("wrote_within"), "wrote_within")
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise Refused(
            gettext("“Wrote to us” is a number of days from 1 to %(n)s.") % {"n": MAX_DAYS},
            field="wrote_within",
        )
    cleaned["wrote_within"] = days
    stage = as_number(data.get("stage"), "stage")
    if stage is not None and not scoped(org, Stage).filter(pk=stage).exists():
        raise Refused(gettext("Choose a pipeline stage of your own."), field="stage")
    cleaned["stage"] = stage
    return cleaned


def clean_name(org: Organization, name: str, *, keep: Segment | None = None) -> str:
    """The name trimmed, 1 to 120 characters, and no other segment of the organization's
    (capitals aside): two audiences with one name would be mixed up when a campaign is made."""
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > NAME_LENGTH:
        raise Refused(
            gettext("Give the segment a name of 1 to %(n)s characters.") % {"n": NAME_LENGTH},
            field="name",
        )
    others = scoped(org, Segment).filter(name__iexact=name)
    if keep is not None:
        others = others.exclude(pk=keep.pk)
    if clash := others.values_list("name", flat=True).first():
        raise taken(clash)
    return name


def taken(name: str) -> Conflict:
    return Conflict(
        gettext("There is already a segment called “%(name)s”. Choose another name.")
        % {"name": name},
        field="name",
    )


def saved(segment: Segment) -> None:
    """Save, the name's uniqueness left to the database: two people saving the same name at
    once get the same clear refusal, not an IntegrityError."""
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError as exc:
        raise taken(segment.name) from exc


def matching(segment: Segment) -> QuerySet[Contact]:
    """The organization's contacts who match the segment now (unordered)."""
    return narrowed(segment.organization, filters_of(segment)).order_by()


def count(org: Organization, filters: Filters, *, exact: bool = False) -> int:
    """How many of the organization's contacts match `filters`: exactly with `exact` (a
    campaign's audience), else up to COUNT_CAP + 1 ("1000+"), as cheap at a million contacts
    as at ten (the pages' live counts)."""
    contacts = narrowed(org, filters).order_by()
    if exact:
        return contacts.count()
    return capped_counts({"all": contacts.values("pk")}, COUNT_CAP)["all"]


def counts(org: Organization, segments: Iterable[Segment]) -> dict[int, int]:
    """Each segment's count, capped as `count`'s, in one statement: the segments' list."""
    wanted = {str(s.pk): narrowed(org, filters_of(s)).order_by().values("pk") for s in segments}
    if not wanted:
        return {}
    return {int(pk): n for pk, n in capped_counts(wanted, COUNT_CAP).items()}


def open_campaigns(segment: Segment) -> QuerySet[Campaign]:
    """The running or paused campaigns that read this segment."""
    return segment.campaigns.filter(status__in=(Campaign.Status.RUNNING, Campaign.Status.PAUSED))


@transaction.atomic
def create_segment(
    org: Organization, *, name: str, filters: dict, acting_member: Member
) -> Segment:
    """Save the filters as a new segment of the organization (supervisors and above),
    audited. A name another segment has is a conflict (409)."""
    must_supervise(acting_member)
    same_org(acting_member, org.pk)
    if scoped(org, Segment).count() >= MAX_SEGMENTS:
        raise Refused(
            gettext("An organization has at most %(n)s segments: delete one you no longer use.")
            % {"n": MAX_SEGMENTS}
        )
    segment = Segment(
        organization=org,
        name=clean_name(org, name),
        filters=clean_filters(org, filters),
        created_by=acting_member,
    )
    saved(segment)
    record(
        org.pk,
        "segment.created",
        segment,
        actor=acting_member,
        name=segment.name,
        filters=segment.filters,
    )
    return segment


@transaction.atomic
def update_segment(
    segment: Segment,
    *,
    name: str | None = None,
    filters: dict | None = None,
    acting_member: Member,
) -> list[str]:
    """Rename the segment and/or replace its filters (None: left as it is), audited. Returns
    what changed. A campaign reading it meets the new filters from its next read on."""
    must_supervise(acting_member)
    same_org(acting_member, segment.organization_id)
    org = Organization.objects.get(pk=segment.organization_id)
    changed = {}
    if name is not None:
        name = clean_name(org, name, keep=segment)
        if name != segment.name:
            segment.name = changed["name"] = name
    if filters is not None:
        filters = clean_filters(org, filters)
        if filters != segment.filters:
            segment.filters = changed["filters"] = filters
    if changed:
        saved(segment)
        record(segment.organization_id, "segment.changed", segment, actor=acting_member, **changed)
    return sorted(changed)


@transaction.atomic
def delete_segment(segment: Segment, *, acting_member: Member) -> None:
    """Delete the segment (supervisors and above), audited. Refused (409) while a running or
    paused campaign reads it; a draft or finished campaign just loses it from its audience."""
    must_supervise(acting_member)
    same_org(acting_member, segment.organization_id)
    # Locked, so a campaign that starts meanwhile waits for this to commit or refuse.
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    using = list(open_campaigns(segment).values_list("name", flat=True)[:3])
    if using:
        raise Conflict(
            gettext(
                "This segment is the audience of a campaign that is sending or paused "
                "(%(names)s). Finish or cancel it first."
            )
            % {"names": ", ".join(using)}
        )
    record(
        segment.organization_id,
        "segment.deleted",
        segment,
        actor=acting_member,
        name=segment.name,
        filters=segment.filters,
    )
    segment.delete()
