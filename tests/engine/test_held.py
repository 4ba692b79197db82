"""A reply the Gate holds says why under it, in words, and every way its number becomes able
to send again wakes it at once (issue 17): resumed, connected again, the kill switch off."""

from django.utils import timezone, translation

from conversa.engine import held, jobs, services
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.numbers import services as numbers
from conversa.numbers.models import Number

HX = {"HX-Request": "true"}


def held_reply(org, committed):
    conversation = org.conversation()
    with committed():
        intent, _ = services.reply(conversation, "Já volto", acting_member=org.owner)
    job = ExecutionJob.objects.get(intent=intent)
    assert intent.status == MessageIntent.Status.DEFERRED
    assert job.run_after > timezone.now()
    return conversation, job


def test_a_reply_held_on_a_paused_number_says_why_and_goes_on_resume(org, committed):
    numbers.set_paused(org.number, True, acting_member=org.owner)
    conversation, job = held_reply(org, committed)
    thread = org.client().get(f"/inbox/c/{conversation.pk}/thread", headers=HX).content.decode()
    assert f'id="held-{job.message_id}" data-reason="number_paused"' in thread
    assert "Waiting to send:</strong> The number is paused." in thread
    assert "It goes out as soon as the number is resumed." in thread
    with translation.override("pt-br"):
        step = held.Held("number_paused", "", None).next_step
    assert step != "It goes out as soon as the number is resumed." and step
    with committed():
        numbers.set_paused(org.number, False, acting_member=org.owner)
    job.refresh_from_db()
    assert job.run_after <= timezone.now()
    # Once its intent is no longer held (the Gate let it go), the reason is gone.
    MessageIntent.objects.filter(pk=job.intent_id).update(status=MessageIntent.Status.QUEUED)
    assert held.held_messages(org.org.pk, [job.message_id]) == {}


def test_a_reply_held_on_a_disconnected_number_goes_when_it_connects_again(org, committed):
    numbers.apply_connection(org.number, Number.Status.DISCONNECTED)
    conversation, job = held_reply(org, committed)
    [reason] = held.held_messages(org.org.pk, [job.message_id]).values()
    assert reason.code == "number_not_connected"
    assert reason.next_step == "It goes out as soon as the number is connected again."
    with committed():
        numbers.apply_connection(org.number, Number.Status.CONNECTED)
    job.refresh_from_db()
    assert job.run_after <= timezone.now(), "connected again: sent now, not 30 s later"


def test_a_reply_held_as_it_was_about_to_leave_is_redrawn_with_its_reason(
    org, committed, published_events
):
    conversation = org.conversation()
    with committed():
        intent, _ = services.reply(conversation, "Um instante", acting_member=org.owner)
    assert intent.status != MessageIntent.Status.DEFERRED
    # Paused after the Gate let it through, before a worker sent it.
    Number.objects.filter(pk=org.number.pk).update(paused=True)
    published_events.clear()
    claimed = jobs.claim_batch("worker-1", 10)
    with committed():
        services.execute_jobs(claimed, "worker-1")
    job = ExecutionJob.objects.get(intent=intent)
    assert held.held_messages(org.org.pk, [job.message_id])[job.message_id].code == (
        "number_paused"
    )
    changed = [p for _, p in published_events if p["type"] == "MESSAGE_CHANGED"]
    assert changed == [
        {
            "type": "MESSAGE_CHANGED",
            "conversation_ids": [conversation.pk],
            "message_ids": [job.message_id],
        }
    ]
