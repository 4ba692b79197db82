"""Stop conditions: a reply, an opt-out or leaving the stage cancels the steps still pending,
through the engine's cancel path, with the reason recorded."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversa.crm import followups, services
from conversa.crm.models import FollowUp
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.inbound import consequences as inbound
from conversa.providers.base import InboundMessage
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxMessage
from tests.crm.helpers import automation, lead, pipeline, run_worker, stage

pytestmark = pytest.mark.django_db
S = ExecutionJob.Status


def follow_ups(the_lead):
    return list(FollowUp.objects.filter(lead=the_lead).select_related("intent__job"))


def sent_texts(org):
    return list(
        SandboxMessage.objects.filter(instance=org.twin, from_me=True).values_list(
            "text", flat=True
        )
    )


def test_a_reply_between_step_one_and_two_cancels_the_rest(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    run_worker()
    assert sent_texts(org) == ["Olá Maria, sobre Plano anual"]
    org.customer_writes(phone=the_lead.contact.phone, text="Tenho interesse!")
    one, two, three = follow_ups(the_lead)
    assert [one.state, two.state, three.state] == ["sent", "cancelled", "cancelled"]
    assert two.cancel_reason == FollowUp.CancelReason.CONTACT_REPLIED
    assert two.get_cancel_reason_display() == "contact replied"
    assert two.intent.job.status == S.FAILED
    assert two.intent.job.last_error == "cancelled: contact replied"
    # Even when it comes due, nothing more leaves.
    ExecutionJob.objects.filter(pk__in=[two.intent.job.pk, three.intent.job.pk]).update(
        run_after=one.due_at
    )
    run_worker()
    assert len(sent_texts(org)) == 1
    counts = followups.counters(org.org)
    assert counts["sent"] == 1 and counts["cancelled"]["contact_replied"] == 2


def test_a_reply_in_a_batch_cancels_too_in_one_query_when_nothing_is_pending(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)

    def arrival(phone):
        return (
            org.number,
            InboundMessage(
                provider_message_id=simulator.new_message_id(),
                phone=phone,
                name="",
                kind="text",
                body="oi",
            ),
        )

    inbound.receive_messages([arrival(the_lead.contact.phone), arrival("5511977770000")])
    assert {f.cancel_reason for f in follow_ups(the_lead)} == {"contact_replied"}
    with CaptureQueriesContext(connection) as queries:
        followups.contact_replied({the_lead.contact.pk, 123456})
    assert len(queries) == 1


def test_an_opted_out_contact_is_sent_nothing_and_the_reason_is_recorded(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    followups.set_opted_out(the_lead.contact, acting_member=org.owner)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    run_worker()
    assert sent_texts(org) == []
    steps = follow_ups(the_lead)
    assert [f.state for f in steps] == ["blocked"] * 3
    assert {f.intent.decisions.last().reason_code for f in steps} == {"contact_opted_out"}
    assert followups.counters(org.org)["blocked"] == 3


def test_opting_out_cancels_pending_steps(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    run_worker()
    assert followups.set_opted_out(the_lead.contact, acting_member=org.owner)
    assert not followups.set_opted_out(the_lead.contact, acting_member=org.owner), "already"
    assert [f.cancel_reason for f in follow_ups(the_lead)] == ["", "opted_out", "opted_out"]


def test_the_gate_blocks_at_send_time_an_opt_out_recorded_behind_the_crm(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    # Flagged without the service (an import, say): the Gate still refuses when the job runs.
    type(the_lead.contact).objects.filter(pk=the_lead.contact.pk).update(opted_out=True)
    run_worker()
    assert sent_texts(org) == []
    first = follow_ups(the_lead)[0]
    assert first.state == "failed"
    assert first.intent.decisions.last().reason_code == "contact_opted_out"


def test_a_claimed_job_cancelled_before_it_is_gated_never_sends(org):
    from conversa.engine import jobs
    from conversa.engine import services as engine

    p = pipeline(org)
    automation(org, stage(p, "Proposta"), steps=[{"template": "Oi"}])
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    [job_id] = jobs.claim_batch("w1", 10)
    followups.contact_replied([the_lead.contact.pk])
    assert engine.execute_job(job_id, "w1") == S.FAILED
    assert sent_texts(org) == []
    assert follow_ups(the_lead)[0].cancel_reason == "contact_replied"


def test_a_job_already_sending_is_not_undone(org):
    from conversa.engine import jobs

    p = pipeline(org)
    automation(org, stage(p, "Proposta"), steps=[{"template": "Oi"}])
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    [job_id] = jobs.claim_batch("w1", 10)
    ExecutionJob.objects.filter(pk=job_id).update(status=S.SENDING)
    assert followups.contact_replied([the_lead.contact.pk]) == 0
    assert follow_ups(the_lead)[0].cancelled_at is None
    assert MessageIntent.objects.get(follow_up__lead=the_lead).status != "failed"


def test_dispatch_makes_due_deferred_steps_runnable_and_reports_progress(org):
    from datetime import timedelta

    from django.utils import timezone

    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    first = follow_ups(the_lead)[0]
    # Held back as a Gate DEFER holds a job: due, not runnable.
    ExecutionJob.objects.filter(pk=first.intent.job.pk).update(
        run_after=timezone.now() + timedelta(hours=1)
    )
    assert run_worker() == 0
    result = followups.dispatch_due(org.org)
    assert (result["made_runnable"], result["queued"]) == (1, 1)
    assert result["progress"]["in_progress"] == 1 and not result["progress"]["done"]
    # Steps 2 and 3 are not due: a dispatch leaves them alone.
    assert followups.dispatch_due(org.org)["made_runnable"] == 0
    run_worker()
    progress = followups.dispatch_progress(org.org, result["at"])
    assert progress["sent"] == 1 and progress["done"]
    assert sent_texts(org) == ["Olá Maria, sobre Plano anual"]


def test_dispatch_progress_names_the_gates_deferral(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"), steps=[{"template": "Oi"}])
    the_lead = lead(org, p)
    services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    org.number.paused = True
    org.number.save()
    result = followups.dispatch_due(org.org)
    run_worker()
    progress = followups.dispatch_progress(org.org, result["at"])
    assert progress["deferred"] == {"number_paused": 1} and progress["done"]
