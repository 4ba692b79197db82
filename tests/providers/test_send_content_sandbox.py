"""A photo sent from the composer's path, end to end over real HTTP: the engine, the adapter and
the sandbox's emulation of each protocol (Evolution's sendMedia; the Graph API's media upload
and send by id), with the provider's message id settled back on the thread's message.

These need the sandbox's media routes (the simulator's Graph and Evolution emulation of issue
15): until they are there, the sandbox answers 404 and the job fails."""

from django.utils import timezone

from conversa.engine import outbox
from conversa.engine.models import ExecutionJob
from conversa.engine.worker import Worker
from conversa.inbox import uploads
from conversa.inbox.models import Conversation, Message
from conversa.numbers.models import Number
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxMessage
from tests import media_samples as samples
from tests.conftest import make_org, wait_for

SECRET = "app-secret-for-tests"  # noqa: S105


def photo() -> uploads.Checked:
    return uploads.check(samples.upload("foto.png", samples.PNG))


def sent(org_owner, conversation: Conversation) -> ExecutionJob:
    [(intent, _)] = outbox.send_files(
        conversation, [photo()], "Olha só", "chat:e2e", acting_member=org_owner
    )
    assert Worker().run_once() == 1
    return ExecutionJob.objects.select_related("message").get(intent=intent)


def test_a_photo_goes_out_through_evolutions_send_media(delivered_webhooks, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    org = make_org(webhook_base=delivered_webhooks)
    conversation = org.conversation()
    job = sent(org.owner, conversation)
    assert job.status == ExecutionJob.Status.SENT, job.last_error
    receipt = SandboxMessage.objects.get(instance=org.twin, from_me=True)
    assert (receipt.message_id, receipt.reference) == (job.provider_message_id, job.reference)
    assert job.message.kind == "image"
    assert job.message.provider_message_id == job.provider_message_id


def test_a_photo_goes_out_through_the_graph_apis_upload_and_send(
    delivered_webhooks, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    org = make_org(webhook_base=delivered_webhooks)
    number = Number.objects.create(
        organization=org.org,
        name="Cloud number",
        provider=Number.Provider.CLOUD,
        provider_name="106540352242933",
        app_secret=SECRET,
        phone_number="5511933335555",
        status=Number.Status.CONNECTED,
    )
    twin = simulator.create_cloud_number(
        number.provider_name,
        number.phone_number,
        f"{delivered_webhooks}/webhooks/cloud/{number.webhook_key}",
        SECRET,
    )
    number.provider_token = twin.token
    number.save(update_fields=["provider_token"])
    simulator.customer_says(twin, "5511988887777", "Manda a foto?", name="Ana")
    wait_for(lambda: Conversation.objects.filter(number=number).exists(), "the conversation")
    conversation = Conversation.objects.get(number=number)
    assert conversation.last_inbound_at > timezone.now() - timezone.timedelta(minutes=5)
    job = sent(org.owner, conversation)
    assert job.status == ExecutionJob.Status.SENT, job.last_error
    receipt = SandboxMessage.objects.get(instance=twin, from_me=True)
    assert receipt.message_id == job.provider_message_id
    wait_for(
        lambda: (
            Message.objects.get(pk=job.message_id).status
            in (Message.Status.DELIVERED, Message.Status.READ)
        ),
        "the delivered status",
    )
