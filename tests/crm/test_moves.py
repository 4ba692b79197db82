"""Moving a lead: one transaction that records the move and schedules its follow-ups once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversa.crm import automations, followups, services
from conversa.crm.models import FollowUp, StageChange
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.errors import Refused
from conversa.inbox import tags
from tests.crm.helpers import automation, lead, pipeline, stage

pytestmark = pytest.mark.django_db


def test_moving_into_a_stage_schedules_each_step_once(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    change = services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    steps = list(FollowUp.objects.filter(lead=the_lead).select_related("intent__job"))
    assert [f.position for f in steps] == [1, 2, 3]
    intents = [f.intent for f in steps]
    assert {i.origin for i in intents} == {MessageIntent.Origin.AUTOMATION}
    assert intents[0].body == "Olá Maria, sobre Plano anual"
    assert intents[2].body == "Última chance: R$ 1500.00"
    assert [i.idempotency_key for i in intents] == [
        f"{org.org.pk}:{the_lead.pk}:{change.to_stage_id}:{f.automation_id}:{f.step_id}:{change.pk}"
        for f in steps
    ]
    # Step 1 now, step 2 two days after the entry, step 3 three days after step 2.
    assert steps[1].due_at - change.created_at == timedelta(days=2)
    assert steps[2].due_at - change.created_at == timedelta(days=5)
    assert [f.state for f in steps] == ["scheduled"] * 3
    later = steps[1].intent
    assert later.status == MessageIntent.Status.SCHEDULED
    assert later.job.run_after == steps[1].due_at
    assert later.conversation_id is None and later.job.message_id is None, "nothing shown yet"
    assert steps[0].intent.job.message_id is not None, "due now: in the thread at once"


def test_the_same_move_processed_twice_creates_each_step_once(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    change = services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    assert services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner) is None
    # The scheduling itself run again for the same stage entry (a retried task, say): the
    # database refuses every key a second time.
    change = StageChange.objects.select_related("lead__organization", "lead__contact").get(
        pk=change.pk
    )
    assert followups.schedule(change) == []
    assert MessageIntent.objects.filter(organization=org.org).count() == 3
    assert FollowUp.objects.count() == 3
    assert followups.counters(org.org)["duplicate_blocked"] == 3


def test_same_stage_move_schedules_nothing(org):
    p = pipeline(org)
    automation(org, stage(p, "Novo"))
    the_lead = lead(org, p)
    before = (StageChange.objects.count(), MessageIntent.objects.count())
    assert services.move_lead(the_lead, stage(p, "Novo"), acting_member=org.owner) is None
    assert (StageChange.objects.count(), MessageIntent.objects.count()) == before


def test_leaving_cancels_and_reentering_fires_again_once(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    services.move_lead(the_lead, stage(p, "Negociação"), acting_member=org.owner)
    first = list(FollowUp.objects.filter(lead=the_lead).select_related("intent__job"))
    # Step 1 was due at once and may be sent; steps 2 and 3 were waiting: cancelled.
    assert [f.cancel_reason for f in first] == ["left_stage"] * 3
    assert {f.intent.job.status for f in first} == {ExecutionJob.Status.FAILED}
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    again = FollowUp.objects.filter(lead=the_lead, cancelled_at__isnull=True)
    assert again.count() == 3
    assert FollowUp.objects.filter(lead=the_lead).count() == 6


def test_filters_by_tag_and_owner(org):

    p = pipeline(org)
    vip = tags.create_tag(org.org, "VIP", "red", acting_member=org.owner)
    automation(org, stage(p, "Proposta"), tag=vip)
    automation(org, stage(p, "Proposta"), owner=org.member())
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    assert FollowUp.objects.count() == 0
    tags.tag_contact(the_lead.contact, vip, acting_member=org.owner)
    services.move_lead(the_lead, stage(p, "Novo"), acting_member=org.owner)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    assert FollowUp.objects.count() == 3


def test_paused_automation_fires_nothing_and_pausing_cancels(org):
    p = pipeline(org)
    auto = automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    assert automations.set_automation_active(auto, False, acting_member=org.owner) == 3
    services.move_lead(the_lead, stage(p, "Novo"), acting_member=org.owner)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    assert FollowUp.objects.count() == 3
    assert followups.counters(org.org)["cancelled"]["automation_paused"] == 3


def test_unknown_variables_are_refused_with_the_known_ones(org):
    p = pipeline(org, custom_fields=["plano"])
    with pytest.raises(Refused) as refused:
        automation(org, stage(p, "Proposta"), steps=[{"template": "Oi {{contact.nme}} {{lead.x}}"}])
    assert "{{contact.nme}}" in str(refused.value) and "{{lead.x}}" in str(refused.value)
    assert "{{lead.plano}}" in str(refused.value)
    auto = automation(org, stage(p, "Proposta"), steps=[{"template": "Plano {{lead.plano}}"}])
    contact = lead(org, p).contact
    the_lead = services.create_lead(
        contact, stage(p, "Novo"), "X", acting_member=org.owner, custom_fields={"plano": "Ouro"}
    )
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    assert FollowUp.objects.get(lead=the_lead, automation=auto).intent.body == "Plano Ouro"


def test_business_hours_step_waits_for_the_next_opening(org):
    org.org.time_zone = "UTC"
    org.org.business_hours = {"mon": [["09:00", "18:00"]]}
    org.org.save()
    p = pipeline(org)
    automation(
        org,
        stage(p, "Proposta"),
        steps=[{"delay": 1, "delay_unit": "minutes", "business_hours": True, "template": "Oi"}],
    )
    services.move_lead(lead(org, p), stage(p, "Proposta"), acting_member=org.owner)
    due = FollowUp.objects.get().due_at
    assert due.weekday() == 0 and 9 <= due.hour < 18
    assert due > timezone.now()


def test_another_organizations_stage_is_refused(org, other_org):
    p, theirs = pipeline(org), pipeline(other_org)
    with pytest.raises(Refused):
        services.move_lead(lead(org, p), stage(theirs, "Proposta"), acting_member=org.owner)
