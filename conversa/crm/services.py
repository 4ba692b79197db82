"""State changes of the CRM: pipelines and stages, leads and their moves (automations are
`crm.automations`).

Every change is checked here (the API and the pages call these and show the refusal), recorded
on the object's timeline (OperationalEvent), and scoped: a row of another organization is
refused as not found. Refusals are `conversa.errors.Refused` and its subclasses, which the API and
the pages answer the same way everywhere.

Who may do what: any member creates, edits and moves leads; owners, admins and supervisors
create pipelines and stages.
"""

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

from conversa import cursors
from conversa.accounts.models import Member, Organization
from conversa.accounts.services import must_supervise, record, same_org
from conversa.colours import unknown_colour
from conversa.crm import followups
from conversa.crm.models import (
    FIELD_KEY,
    MAX_CUSTOM_FIELDS,
    MAX_FIELD_VALUE,
    Automation,
    FollowUp,
    Lead,
    Pipeline,
    Stage,
    StageChange,
)
from conversa.errors import Conflict, Refused
from conversa.inbox.models import Contact, Message
from conversa.realtime import events, publisher

# Pipelines and stages


def create_pipeline(
    org: Organization,
    name: str,
    *,
    acting_member: Member,
    stages: list[dict] | None = None,
    custom_fields: list[str] | None = None,
) -> Pipeline:
    """A new pipeline with its stages in order (each {name, colour?, is_won?, is_lost?}) and
    the keys of its leads' custom fields."""
    must_supervise(acting_member)
    name = " ".join(name.split())
    if not name or len(name) > 120:
        raise Refused(gettext("A pipeline's name is 1 to 120 characters."))
    fields = check_field_keys(custom_fields or [])
    with transaction.atomic():
        pipeline = Pipeline.objects.create(organization=org, name=name, custom_fields=fields)
        for spec in stages or []:
            add_stage(pipeline, acting_member=acting_member, **spec)
        record(org.id, "pipeline.created", pipeline, actor=acting_member, name=name)
    return pipeline


def check_field_keys(keys: list[str]) -> list[str]:
    bad = [key for key in keys if not isinstance(key, str) or not FIELD_KEY.match(key)]
    if bad:
        raise Refused(
            gettext(
                "A custom field's key is a lowercase letter then up to 39 lowercase letters, "
                "digits or '_': %(bad)s."
            )
            % {"bad": ", ".join(map(str, bad))}
        )
    if len(set(keys)) != len(keys) or len(keys) > MAX_CUSTOM_FIELDS:
        raise Refused(gettext("Up to %(n)s custom fields, each once.") % {"n": MAX_CUSTOM_FIELDS})
    return list(keys)


def set_custom_fields(pipeline: Pipeline, keys: list[str], *, acting_member: Member) -> Pipeline:
    """Declare the keys of the pipeline's custom fields (what {{lead.<key>}} may name)."""
    must_supervise(acting_member)
    same_org(acting_member, pipeline.organization_id)
    pipeline.custom_fields = check_field_keys(keys)
    pipeline.save(update_fields=["custom_fields"])
    record(
        pipeline.organization_id,
        "pipeline.fields_changed",
        pipeline,
        actor=acting_member,
        keys=keys,
    )
    return pipeline


def add_stage(
    pipeline: Pipeline,
    name: str,
    *,
    acting_member: Member,
    colour: str = Stage.DEFAULT_COLOUR,
    is_won: bool = False,
    is_lost: bool = False,
    position: int | None = None,
) -> Stage:
    """A stage of the pipeline, last unless `position` is given (the others make room)."""
    must_supervise(acting_member)
    same_org(acting_member, pipeline.organization_id)
    name = " ".join(name.split())
    if not name or len(name) > 120:
        raise Refused(gettext("A stage's name is 1 to 120 characters."))
    if is_won and is_lost:
        raise Refused(gettext("A stage is won or lost, not both."))
    if not Stage.VALID_COLOUR.allows(colour):
        raise Refused(unknown_colour(colour))
    with transaction.atomic():
        stages = list(pipeline.stages.order_by("position", "id"))
        if position is None or position >= len(stages):
            position = len(stages)
        for index, stage in enumerate(stages):
            wanted = index if index < position else index + 1
            if stage.position != wanted:
                Stage.objects.filter(pk=stage.pk).update(position=wanted)
        stage = Stage.objects.create(
            organization_id=pipeline.organization_id,
            pipeline=pipeline,
            name=name,
            colour=colour,
            is_won=is_won,
            is_lost=is_lost,
            position=position,
        )
    return stage


def change_stage(
    stage: Stage,
    *,
    acting_member: Member,
    name: str,
    colour: str,
    is_won: bool = False,
    is_lost: bool = False,
) -> Stage:
    """Rename, recolour or re-flag (won / lost) a stage. Its leads, automations and history
    stay where they are."""
    must_supervise(acting_member)
    same_org(acting_member, stage.organization_id)
    name = " ".join((name or "").split())
    if not name or len(name) > 120:
        raise Refused(gettext("A stage's name is 1 to 120 characters."))
    if is_won and is_lost:
        raise Refused(gettext("A stage is won or lost, not both."))
    if not Stage.VALID_COLOUR.allows(colour):
        raise Refused(unknown_colour(colour))
    wanted = {"name": name, "colour": colour, "is_won": bool(is_won), "is_lost": bool(is_lost)}
    changed = {k: v for k, v in wanted.items() if getattr(stage, k) != v}
    if not changed:
        return stage
    for field, value in changed.items():
        setattr(stage, field, value)
    stage.save(update_fields=list(changed))
    record(stage.organization_id, "stage.changed", stage, actor=acting_member, **changed)
    return stage


def move_stage(stage: Stage, offset: int, *, acting_member: Member) -> Stage:
    """Move a stage `offset` places in its pipeline (-1: one earlier, +1: one later); the
    stages are renumbered 0, 1, 2… At either end it stays where it is, and nothing is recorded.

    The pipeline's stages are locked while they are renumbered: two reorders at once each see
    the other's result, and never leave two stages at one position."""
    must_supervise(acting_member)
    same_org(acting_member, stage.organization_id)
    with transaction.atomic():
        stages = list(
            Stage.objects.select_for_update()
            .filter(pipeline_id=stage.pipeline_id)
            .order_by("position", "id")
        )
        index = [s.pk for s in stages].index(stage.pk)
        target = max(0, min(len(stages) - 1, index + offset))
        if target == index:
            return stage
        stages.insert(target, stages.pop(index))
        for position, other in enumerate(stages):
            if other.position != position:
                Stage.objects.filter(pk=other.pk).update(position=position)
        stage.position = target
        record(stage.organization_id, "stage.moved", stage, actor=acting_member, position=target)
    return stage


def delete_stage(stage: Stage, *, acting_member: Member) -> None:
    """Delete a stage nothing depends on. Refused (409) while leads are in it, automations
    start there, or leads have been through it: their stage changes and follow-ups are the
    leads' history, which deleting the stage would take with it. A pipeline keeps one stage."""
    must_supervise(acting_member)
    same_org(acting_member, stage.organization_id)
    in_use = gettext("“%(name)s” cannot be deleted: ") % {"name": stage.name}
    try:
        with transaction.atomic():
            stage = Stage.objects.select_for_update().get(pk=stage.pk)
            if Lead.objects.filter(stage=stage).exists():
                raise Conflict(in_use + gettext("move its leads to another stage first."))
            if Automation.objects.filter(stage=stage).exists():
                raise Conflict(in_use + gettext("delete the automations it starts first."))
            if StageChange.objects.filter(to_stage=stage).exists():
                raise Conflict(
                    in_use + gettext("leads have been through it, and their history names it.")
                )
            if Stage.objects.filter(pipeline_id=stage.pipeline_id).count() == 1:
                raise Conflict(gettext("A pipeline keeps at least one stage."))
            record(
                stage.organization_id, "stage.deleted", stage, actor=acting_member, name=stage.name
            )
            stage.delete()
    except (IntegrityError, ProtectedError) as exc:
        # A lead created into the stage while it was being deleted: the database refuses.
        raise Conflict(in_use + gettext("move its leads to another stage first.")) from exc


# Leads


def clean_custom_fields(pipeline: Pipeline, values) -> dict[str, str]:
    """Custom field values as {key: text}, keys among the pipeline's; refused otherwise."""
    if values is None:
        return {}
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        raise Refused(gettext("Custom fields are {key: text}."))
    unknown = sorted(set(values) - set(pipeline.custom_fields or []))
    if unknown:
        raise Refused(
            gettext("Unknown custom field(s): %(unknown)s. Known: %(known)s.")
            % {
                "unknown": ", ".join(unknown),
                "known": ", ".join(pipeline.custom_fields or []) or "—",
            }
        )
    if any(len(v) > MAX_FIELD_VALUE for v in values.values()):
        raise Refused(gettext("A custom field is up to %(n)s characters.") % {"n": MAX_FIELD_VALUE})
    return dict(values)


def clean_value(value) -> Decimal:
    try:
        value = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise Refused(gettext("The value is a number.")) from exc
    if not value.is_finite() or value < 0 or value >= Decimal("1e10"):
        raise Refused(gettext("The value is a number from 0 to 9,999,999,999.99."))
    return value.quantize(Decimal("0.01"))


def clean_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise Refused(gettext("A lead's title is 1 to 200 characters."))
    return title


def create_lead(
    contact: Contact,
    stage: Stage,
    title: str,
    *,
    acting_member: Member | None,
    value=0,
    owner: Member | None = None,
    notes: str = "",
    custom_fields: dict | None = None,
) -> Lead:
    """A new lead of `contact` in `stage`. Its arrival there is a stage entry like any move:
    recorded as a StageChange (from no stage) and firing the stage's automations, in the same
    transaction."""
    org_id = contact.organization_id
    same_org(stage, org_id)
    if owner is not None:
        same_org(owner, org_id)
    pipeline = stage.pipeline
    with transaction.atomic():
        now = timezone.now()
        lead = Lead.objects.create(
            organization_id=org_id,
            pipeline=pipeline,
            stage=stage,
            contact=contact,
            title=clean_title(title),
            value=clean_value(value),
            owner=owner,
            notes=notes or "",
            custom_fields=clean_custom_fields(pipeline, custom_fields),
            created_at=now,
            updated_at=now,
            stage_entered_at=now,
        )
        record(org_id, "lead.created", lead, actor=acting_member, stage=stage.pk, title=lead.title)
        change = StageChange.objects.create(
            organization_id=org_id,
            lead=lead,
            to_stage=stage,
            moved_by=acting_member,
            created_at=now,
        )
        followups.schedule(change)
        publisher.publish(org_id, events.LeadUpdated(lead_ids=[lead.pk], change="created"))
    return lead


def update_lead(lead: Lead, *, acting_member: Member | None, **changes) -> Lead:
    """Change a lead's title, value, owner, notes or custom fields (only those given). Its
    stage changes through `move_lead` only."""
    same_org(lead.pipeline, lead.organization_id)
    allowed = {"title", "value", "owner", "notes", "custom_fields"}
    if set(changes) - allowed:
        raise ValueError(f"not a lead field: {sorted(set(changes) - allowed)}")
    if "title" in changes:
        changes["title"] = clean_title(changes["title"])
    if "value" in changes:
        changes["value"] = clean_value(changes["value"])
    if changes.get("owner") is not None:
        same_org(changes["owner"], lead.organization_id)
    if "custom_fields" in changes:
        changes["custom_fields"] = clean_custom_fields(lead.pipeline, changes["custom_fields"])
    if "notes" in changes:
        changes["notes"] = changes["notes"] or ""
    changed = {k: v for k, v in changes.items() if getattr(lead, k) != v}
    if not changed:
        return lead
    for name, value in changed.items():
        setattr(lead, name, value)
    lead.updated_at = timezone.now()
    lead.save(update_fields=[*changed, "updated_at"])
    record(
        lead.organization_id,
        "lead.updated",
        lead,
        actor=acting_member,
        fields=sorted(changed),
    )
    publisher.publish(lead.organization_id, events.LeadUpdated(lead_ids=[lead.pk]))
    return lead


def move_lead(lead: Lead, stage: Stage, *, acting_member: Member | None) -> StageChange | None:
    """Move a lead into `stage` of its pipeline; the StageChange recorded, or None when the
    lead was in that stage already (a no-op: nothing recorded, nothing scheduled — invariant 8).

    One transaction:
    1. Lock the lead's row and read its stage afresh: of ten moves racing into one stage, the
       first moves it and the nine others, waiting on the lock, find it there and do nothing.
    2. Record the StageChange (its id is the stage-entry epoch) and set the lead's stage.
    3. Schedule the new stage's matching automations (`followups.schedule`), then cancel the
       follow-ups still pending from the stage it left ("left stage"). In that order: the Gate
       locks numbers' rows before a cancellation locks jobs' rows, the order a worker takes.
    `lead` is refreshed with the stage it ends in.
    """
    same_org(stage, lead.organization_id)
    if stage.pipeline_id != lead.pipeline_id:
        raise Refused(gettext("That stage is in another pipeline."))
    with transaction.atomic():
        locked = (
            Lead.objects.select_for_update(of=("self",))
            .select_related("organization", "contact", "pipeline", "owner")
            .get(pk=lead.pk)
        )
        if locked.stage_id == stage.pk:
            lead.stage, lead.stage_entered_at = stage, locked.stage_entered_at
            return None
        now = timezone.now()
        previous = locked.stage_id
        change = StageChange.objects.create(
            organization_id=locked.organization_id,
            lead=locked,
            from_stage_id=previous,
            to_stage=stage,
            moved_by=acting_member,
            created_at=now,
        )
        Lead.objects.filter(pk=locked.pk).update(stage=stage, stage_entered_at=now, updated_at=now)
        locked.stage, locked.stage_entered_at, locked.updated_at = stage, now, now
        change.lead = locked
        record(
            locked.organization_id,
            "lead.moved",
            locked,
            actor=acting_member,
            from_stage=previous,
            to_stage=stage.pk,
            stage_change=change.pk,
        )
        followups.schedule(change)
        followups.cancel(
            list(
                followups.pending()
                .filter(lead=locked)
                .exclude(stage_change=change)
                .select_related("intent", "lead")
            ),
            FollowUp.CancelReason.LEFT_STAGE,
            acting_member=acting_member,
        )
        publisher.publish(
            locked.organization_id,
            events.LeadUpdated(lead_ids=[locked.pk], change="stage_changed"),
        )
    lead.stage, lead.stage_entered_at, lead.updated_at = stage, now, now
    return change


# Reading


# A timeline's order: newest first, then by kind, source row (newest first) and verb (a
# follow-up's scheduling and its outcome are two entries of one row); no two entries tie.
TIMELINE_ORDER = ("-at", "kind", "-id", "verb")


def timeline_page(lead: Lead, *, cursor: str | None, limit: int) -> cursors.Page:
    """The lead's story, newest first, a page at a time after `cursor` (`TIMELINE_ORDER`): its
    stage moves, each follow-up scheduled and what became of it (sent, cancelled with its
    reason, blocked or failed with the Gate's or the engine's reason), and the messages
    exchanged with its contact since it was created. Each entry is {at, kind: "stage" |
    "follow_up" | "message", verb, data}, and the id of its row.

    The stage moves and follow-ups of one lead are few and read whole; the messages, which
    grow with the conversation, only the page's worth after the cursor, so a page is a few
    queries whatever the story's length. Paged in memory as any list (`cursors.read_page`)."""
    position = cursors.decode(cursor, cursors.ordering(TIMELINE_ORDER)) if cursor else None
    if position:
        moment = parse_datetime(position[0]) if isinstance(position[0], str) else None
        kind, pk, verb, row = position[1:]
        if moment is None or not (
            isinstance(kind, str) and isinstance(verb, str) and isinstance(pk, int) and pk == row
        ):
            raise cursors.not_a_cursor()
        position[0] = moment
    entries = []
    changes = StageChange.objects.filter(lead=lead).select_related("to_stage", "from_stage")
    for change in changes.select_related("moved_by"):
        entries.append(
            {
                "at": change.created_at,
                "kind": "stage",
                "id": change.pk,
                "verb": "created" if change.from_stage_id is None else "moved",
                "data": {
                    "stage_change_id": change.pk,
                    "from_stage": change.from_stage.name if change.from_stage else None,
                    "to_stage": change.to_stage.name,
                    "by": change.moved_by.display_name if change.moved_by else None,
                },
            }
        )
    steps = (
        FollowUp.objects.filter(lead=lead)
        .select_related("intent__job", "automation")
        .prefetch_related("intent__decisions")
    )
    for f in steps:
        base = {
            "follow_up_id": f.pk,
            "intent_id": f.intent_id,
            "automation": f.automation.name if f.automation else None,
            "position": f.position,
            "body": f.intent.body,
        }
        entries.append(
            {
                "at": f.created_at,
                "kind": "follow_up",
                "id": f.pk,
                "verb": "scheduled",
                "data": {**base, "due_at": f.due_at.isoformat()},
            }
        )
        state, job = f.state, getattr(f.intent, "job", None)
        decision = f.intent.latest_decision
        if state == FollowUp.State.CANCELLED:
            at = f.cancelled_at
            data = {"reason": f.cancel_reason, "reason_label": f.get_cancel_reason_display()}
        elif state == FollowUp.State.SENT:
            at, data = job.updated_at, {}
        elif state == FollowUp.State.BLOCKED:
            at = decision.created_at
            data = {"reason": decision.reason_code, "reason_label": decision.reason}
        elif state == FollowUp.State.FAILED:
            at, data = job.updated_at, {"reason_label": job.last_error}
        else:
            continue
        entries.append(
            {
                "at": at,
                "kind": "follow_up",
                "id": f.pk,
                "verb": str(state),
                "data": {**base, **data},
            }
        )
    messages = Message.objects.filter(
        organization_id=lead.organization_id,
        conversation__contact_id=lead.contact_id,
        created_at__gte=lead.created_at,
    )
    if position:
        at, kind, pk = position[:3]
        later = Q(created_at__lt=at)
        if kind < "message":  # every message of that moment comes after
            later |= Q(created_at=at)
        elif kind == "message":
            later |= Q(created_at=at, id__lt=pk)
        messages = messages.filter(later)
    messages = messages.order_by("-created_at", "-id")[: limit + 1]
    for message in messages:
        entries.append(
            {
                "at": message.created_at,
                "kind": "message",
                "id": message.pk,
                "verb": "received" if message.direction == Message.Direction.INBOUND else "sent",
                "data": {
                    "message_id": message.pk,
                    "conversation_id": message.conversation_id,
                    "body": message.body,
                    "status": message.status,
                    "error": message.error,
                },
            }
        )
    return cursors.read_page(entries, order=TIMELINE_ORDER, cursor=cursor, limit=limit)
