"""Media, locations, contact cards and reactions through the one send path: an intent idempotent
on its key, the Gate's decision recorded, SENDING committed before the provider is called, the
message in the thread with its kind, content and file, and the answer settled."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversa.engine import jobs, outbox, resend, services
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.errors import Refused
from conversa.inbox import uploads
from conversa.inbox.models import Attachment, ContactIdentity, Conversation, Message
from conversa.numbers.models import Number
from conversa.providers.base import ProviderError, SendResult
from tests import media_samples as samples

S = ExecutionJob.Status


class Recorder:
    """A provider that keeps each call, with the job's status in the database at that moment."""

    def __init__(self, answer=None):
        self.calls = []
        self.answer = answer

    def status_now(self, reference: str) -> str:
        job_id = int(reference.removeprefix("job:"))
        return ExecutionJob.objects.values_list("status", flat=True).get(pk=job_id)

    def send_content(self, number, phone, content, reference):
        self.calls.append(("content", phone, content, self.status_now(reference)))
        if isinstance(self.answer, ProviderError):
            raise self.answer
        return self.answer or SendResult(provider_message_id=f"wamid.{reference}")

    def send_text(self, number, phone, body, reference):
        self.calls.append(("text", phone, body, self.status_now(reference)))
        return SendResult(provider_message_id=f"wamid.{reference}")


@pytest.fixture
def provider(monkeypatch, settings, tmp_path) -> Recorder:
    settings.MEDIA_ROOT = str(tmp_path)
    recorder = Recorder()
    monkeypatch.setattr(services, "get_provider", lambda number: recorder)
    return recorder


def run_jobs() -> dict:
    return services.execute_jobs(jobs.claim_batch("w1", 50), "w1")


def checked(name: str, data: bytes, **options) -> uploads.Checked:
    return uploads.check(samples.upload(name, data), **options)


@pytest.mark.parametrize(
    ("name", "data", "voice", "kind", "mime_type"),
    [
        ("foto.png", samples.PNG, False, "image", "image/png"),
        ("video.mp4", samples.MP4, False, "video", "video/mp4"),
        ("musica.mp3", samples.MP3, False, "audio", "audio/mpeg"),
        ("recado.ogg", samples.OGG, True, "voice", "audio/ogg"),
        ("nota.pdf", samples.PDF, False, "document", "application/pdf"),
        ("figurinha.webp", samples.WEBP, False, "sticker", "image/webp"),
    ],
)
def test_a_file_goes_out_through_the_engine_with_its_bytes(
    org, provider, name, data, voice, kind, mime_type
):
    conversation = org.conversation()
    [(intent, created)] = outbox.send_files(
        conversation,
        [checked(name, data, voice=voice)],
        "Veja" if kind in ("image", "video", "document") else "",
        "chat:form-1",
        acting_member=org.owner,
    )
    assert created
    assert intent.content["kind"] == kind
    assert GateDecision.objects.get(intent=intent).verdict == GateDecision.Verdict.ALLOW
    message = intent.job.message
    assert (message.kind, message.status) == (kind, Message.Status.PENDING)
    assert message.content == {
        "media": {"mime_type": mime_type, "file_name": name, "size": len(data)}
    }
    attachment = Attachment.objects.get(message=message)
    assert (attachment.state, attachment.uploaded_by, attachment.kind) == (
        "stored",
        org.owner,
        kind,
    )
    assert attachment.organization == org.org

    assert run_jobs() == {intent.job.pk: S.SENT}
    [(call, phone, content, status_at_call)] = provider.calls
    assert (call, phone, status_at_call) == ("content", conversation.contact.phone, S.SENDING)
    assert (content.kind, content.media, content.mime_type, content.file_name) == (
        kind,
        data,
        mime_type,
        name,
    )
    assert content.caption == ("Veja" if kind in ("image", "video", "document") else "")
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.provider_message_id == f"wamid.job:{intent.job.pk}"


def test_the_same_form_sent_twice_sends_each_file_once_and_keeps_one_copy(org, provider):
    conversation = org.conversation()
    files = [checked("a.png", samples.PNG), checked("b.pdf", samples.PDF)]
    first = outbox.send_files(conversation, files, "Oi", "chat:form-2", acting_member=org.owner)
    again = outbox.send_files(conversation, files, "Oi", "chat:form-2", acting_member=org.owner)
    assert [created for _, created in first] == [True, True]
    assert [created for _, created in again] == [False, False]
    assert [i.pk for i, _ in again] == [i.pk for i, _ in first]
    assert Attachment.objects.count() == 2
    assert Message.objects.filter(direction="out").count() == 2
    # The caption goes with the first file only.
    assert [i.body for i, _ in first] == ["Oi", ""]


def test_a_caption_no_file_can_carry_follows_as_text(org, provider):
    conversation = org.conversation()
    results = outbox.send_files(
        conversation,
        [checked("voz.ogg", samples.OGG, voice=True)],
        "Ouça quando puder",
        "chat:form-3",
        acting_member=org.owner,
    )
    assert [(i.content or {}).get("kind") for i, _ in results] == ["voice", None]
    assert results[1][0].body == "Ouça quando puder"
    run_jobs()
    run_jobs()  # one job per conversation at a time: in order
    assert [call[0] for call in provider.calls] == ["content", "text"]


def test_a_location_and_contact_cards_are_messages_with_their_content(org, provider):
    conversation = org.conversation()
    place = {"latitude": -23.55, "longitude": -46.63, "name": "Loja", "address": "Av. Paulista"}
    located, _ = outbox.send_location(
        org.org,
        contact=conversation.contact,
        location=place,
        idempotency_key="api:loc-1",
        origin=MessageIntent.Origin.API,
        acting_member=org.owner,
    )
    cards = [{"name": "Ana Souza", "phones": ["5511988887777"]}]
    carded, _ = outbox.send_contacts(
        org.org,
        contact=conversation.contact,
        cards=cards,
        idempotency_key="api:card-1",
        origin=MessageIntent.Origin.API,
        acting_member=org.owner,
    )
    assert located.job.message.kind == "location"
    assert located.job.message.content == place
    assert located.job.message.body == "📍 Loja · Av. Paulista"
    assert carded.job.message.content == {
        "contacts": [{"name": "Ana Souza", "phones": ["5511988887777"], "wa_ids": []}]
    }
    run_jobs()
    run_jobs()
    sent = {content.kind: content for _, _, content, _ in provider.calls}
    assert sent["location"].location == place
    assert sent["contacts"].contacts == cards
    assert all(status == S.SENDING for *_, status in provider.calls)


def test_a_reaction_shows_on_the_message_once_sent_and_makes_no_message(org, provider):
    inbound = org.customer_writes(text="Chegou!")
    intent, created = outbox.react(inbound, "👍", "chat:react-1", acting_member=org.owner)
    assert created and intent.job.message is None
    assert Message.objects.filter(direction="out").count() == 0
    inbound.refresh_from_db()
    assert inbound.reactions == {}  # not before the provider has it
    run_jobs()
    [(_, _, content, status)] = provider.calls
    assert (content.kind, content.target, content.emoji, status) == (
        "reaction",
        inbound.provider_message_id,
        "👍",
        S.SENDING,
    )
    job = ExecutionJob.objects.get(intent=intent)
    assert (job.status, job.provider_message_id) == (S.SENT, f"wamid.job:{job.pk}")
    inbound.refresh_from_db()
    assert inbound.reactions == {"business": "👍"}
    conversation = Conversation.objects.get(pk=inbound.conversation_id)
    assert conversation.unread_count == 1  # a reaction is no reply: nothing else moves

    outbox.react(inbound, "", "chat:react-2", acting_member=org.owner)
    run_jobs()
    inbound.refresh_from_db()
    assert inbound.reactions == {}
    assert Message.objects.filter(direction="out").count() == 0


def test_a_reaction_is_refused_for_an_emoji_not_offered_or_an_own_message(org, provider):
    inbound = org.customer_writes()
    with pytest.raises(Refused):
        outbox.react(inbound, "💩", "chat:r-1", acting_member=org.owner)
    outbound, _ = services.reply(inbound.conversation, "Oi", acting_member=org.owner)
    with pytest.raises(Refused):
        outbox.react(outbound.job.message, "👍", "chat:r-2", acting_member=org.owner)
    assert not MessageIntent.objects.filter(content__isnull=False).exists()


@pytest.fixture
def cloud_conversation(org) -> Conversation:
    number = Number.objects.create(
        organization=org.org,
        name="Cloud",
        provider=Number.Provider.CLOUD,
        provider_name="1065",
        status=Number.Status.CONNECTED,
    )
    contact = org.conversation().contact
    return Conversation.objects.create(
        organization=org.org,
        number=number,
        contact=contact,
        last_inbound_at=timezone.now() - timedelta(hours=25),
    )


def test_media_and_reactions_outside_the_24_hour_window_are_refused_like_text(
    org, provider, cloud_conversation
):
    conversation = cloud_conversation
    [(media, _)] = outbox.send_files(
        conversation, [checked("a.png", samples.PNG)], "", "chat:w-1", acting_member=org.owner
    )
    inbound = Message.objects.create(
        organization=org.org,
        conversation=conversation,
        number=conversation.number,
        direction="in",
        body="old",
        status="received",
        provider_message_id="wamid.OLD",
    )
    reaction, _ = outbox.react(inbound, "👍", "chat:w-2", acting_member=org.owner)
    for intent in (media, reaction):
        assert intent.status == MessageIntent.Status.BLOCKED
        assert intent.decisions.get().reason_code == "outside_window"
    assert not ExecutionJob.objects.exists()
    assert media.attachment.message.status == Message.Status.FAILED


def test_a_send_answer_with_another_wa_id_adds_it_to_the_contact(org, provider):
    conversation = org.conversation("5511988887777")
    provider.answer = SendResult(provider_message_id="wamid.X", wa_id="551188887777")
    outbox.send_files(
        conversation, [checked("a.png", samples.PNG)], "", "chat:wa-1", acting_member=org.owner
    )
    run_jobs()
    identities = ContactIdentity.objects.filter(contact=conversation.contact, kind="phone")
    assert "551188887777" in set(identities.values_list("value", flat=True))


def test_a_file_gone_from_storage_fails_the_send_for_good(org, provider):
    conversation = org.conversation()
    [(intent, _)] = outbox.send_files(
        conversation, [checked("a.png", samples.PNG)], "", "chat:gone", acting_member=org.owner
    )
    intent.attachment.file.storage.delete(intent.attachment.file.name)
    run_jobs()
    job = ExecutionJob.objects.get(intent=intent)
    assert job.status == S.FAILED
    assert "missing" in job.last_error
    assert provider.calls == []


def test_a_failed_file_sent_again_is_the_same_file(org, provider):
    conversation = org.conversation()
    provider.answer = ProviderError("refused", transient=False)
    [(intent, _)] = outbox.send_files(
        conversation, [checked("a.pdf", samples.PDF)], "", "chat:again", acting_member=org.owner
    )
    run_jobs()
    failed = Message.objects.get(pk=intent.job.message_id)
    assert failed.status == Message.Status.FAILED
    provider.answer = None
    retried, created = resend.retry(failed, acting_member=org.owner)
    assert created and retried.attachment_id == intent.attachment_id
    run_jobs()
    assert provider.calls[-1][2].media == samples.PDF
    new_message = ExecutionJob.objects.get(intent=retried).message
    assert new_message.kind == "document"
    assert Attachment.objects.get(message=new_message).file.name == intent.attachment.file.name
    assert Attachment.objects.get(message=failed).file.name == intent.attachment.file.name
