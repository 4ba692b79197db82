"""Media in, never lost: each inbound media message's file is fetched from the provider (over
real HTTP from the sandbox, in both protocols), checked from its bytes, kept in storage, and
served only to members of the organization that owns it."""

import base64
import json
import threading
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from conversa.engine.worker import Worker
from conversa.inbound import consequences as inbound
from conversa.inbound import services as inbound_services
from conversa.inbox import media
from conversa.inbox.models import Attachment, Message
from conversa.numbers.models import Number
from conversa.providers.base import InboundMessage, ParsedEvent, ProviderError
from conversa.providers.evolution import EvolutionProvider
from conversa.sandbox import customer, graph_media, simulator
from conversa.sandbox import media as sandbox_media
from conversa.sandbox.models import SandboxMessageMedia
from tests.conftest import make_org, post_webhook

CUSTOMER = "5511977776666"
PNG = sandbox_media.png(8, 8)
PDF = sandbox_media.pdf("Contract")
# The start of a Windows executable: what an "image" must never be stored as.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def no_webhooks(monkeypatch):
    """The sandbox's own webhooks stay here (these tests store the events themselves)."""
    sent: list[dict] = []
    monkeypatch.setattr(
        simulator.courier,
        "post",
        lambda url, headers, body, delay=0.0, secret="": sent.append(body),
    )
    return sent


@pytest.fixture
def wired(live_server, settings, transactional_db):
    """The sandbox on the live server: the adapters fetch media from it over real HTTP."""
    settings.SANDBOX_URL = f"{live_server.url}/sandbox/evolution"
    settings.CLOUD_API_URL = f"{live_server.url}/sandbox/graph/v21.0"
    return make_org(webhook_base=live_server.url)


def media_message(number: Number, kind: str = "image", media_ref: dict | None = None, **fields):
    """An inbound media message as the parsers hand it over, stored by the inbound path."""
    event = InboundMessage(
        provider_message_id=fields.pop("message_id", simulator.new_message_id()),
        phone=fields.pop("phone", CUSTOMER),
        name="Ana",
        kind=kind,
        body=fields.pop("caption", ""),
        content={"media": {"mime_type": "image/jpeg", **(media_ref or {})}},
    )
    return inbound.receive_message(number, event)


def evolution_media(org, kind: str, content: bytes, mime_type: str, **fields):
    """A customer's file kept by the sandbox's Evolution twin, and its message in Conversa."""
    file = {"file": content, "mime_type": mime_type, "file_name": "file"}
    message_id = customer.customer_sends(org.twin, CUSTOMER, kind, file)
    return media_message(org.number, kind, {"mime_type": mime_type}, message_id=message_id)


def fail_next(message: Message, fetches: int) -> None:
    """The sandbox's fault injector: its next `fetches` of this file answer 503."""
    kept = SandboxMessageMedia.objects.filter(message__message_id=message.provider_message_id)
    assert kept.update(fail_next=fetches) == 1


def cloud_number(org) -> tuple[Number, object]:
    twin = simulator.create_cloud_number("106540352242922", "5511933334444", "", "secret")
    number = Number.objects.create(
        organization=org.org,
        name="Cloud",
        provider=Number.Provider.CLOUD,
        provider_name=twin.name,
        provider_token=twin.token,
        phone_number="5511933334444",
        status=Number.Status.CONNECTED,
    )
    return number, twin


def attachment_of(message: Message) -> Attachment:
    return Attachment.objects.get(message=message)


def run_job_until_settled(attachment: Attachment) -> Attachment:
    """Run the job, making each retry due at once (as if its wait had passed)."""
    for _ in range(10):
        Attachment.objects.filter(pk=attachment.pk, state="pending").update(
            next_attempt_at=timezone.now()
        )
        media.fetch_due(10)
        attachment.refresh_from_db()
        if attachment.state != Attachment.State.PENDING:
            return attachment
    raise AssertionError("the attachment never settled")


# Fetching, over real HTTP


def test_the_job_stores_an_evolution_image_fetched_from_the_sandbox(wired, published_events):
    message = evolution_media(wired, "image", PNG, "image/jpeg")
    attachment = attachment_of(message)
    assert (attachment.state, attachment.kind) == ("pending", "image")
    published_events.clear()

    assert media.fetch_due(10) == 1

    attachment.refresh_from_db()
    assert (attachment.state, attachment.mime_type, attachment.size) == (
        "stored",
        "image/png",
        len(PNG),
    )
    assert attachment.file.name.startswith(f"org_{wired.org.pk}/{timezone.now():%Y/%m}/")
    assert attachment.file.name.endswith(".png") and "file" not in attachment.file.name
    with default_storage.open(attachment.file.name, "rb") as stored:
        assert stored.read() == PNG
    # The thread showing it re-fetches (it had "Loading…").
    assert published_events == [
        (
            wired.org.pk,
            {
                "type": "ATTACHMENT_UPDATED",
                "conversation_ids": [message.conversation_id],
                "message_ids": [message.pk],
            },
        )
    ]


def test_the_evolution_adapter_reads_bytes_the_webhook_carried_without_a_call():
    provider = EvolutionProvider("http://127.0.0.1:9", "k")
    number = Number(provider="evolution", provider_name="n")
    carried = {"kind": "image", "base64": "data:image/png;base64," + base64.b64encode(PNG).decode()}

    assert provider.fetch_media(number, "X", carried).content == PNG
    too_big = {"kind": "sticker", "base64": "A" * (700 * 1024)}
    with pytest.raises(ProviderError) as error:
        provider.fetch_media(number, "X", too_big)
    assert error.value.transient is False


def test_the_worker_pass_runs_the_media_job(wired):
    message = evolution_media(wired, "image", PNG, "image/png")

    assert Worker().run_once() == 1

    assert attachment_of(message).state == "stored"


def test_a_photo_sent_from_the_sandbox_is_loading_then_shown(wired, no_webhooks, client):
    """End to end: the customer sends a photo, its webhook is stored, the job fetches it."""
    simulator.customer_sends_media(wired.twin, CUSTOMER, "image", "Olha o defeito", "Ana")
    [webhook] = no_webhooks

    assert post_webhook(client, wired.number, webhook).status_code == 200

    message = Message.objects.get(organization=wired.org)
    attachment = attachment_of(message)
    card = wired.client().get(f"/media/{attachment.pk}/card").content.decode()
    assert "Loading…" in card
    media.fetch_due(10)
    attachment.refresh_from_db()
    assert (attachment.state, attachment.mime_type) == ("stored", "image/png")
    card = wired.client().get(f"/media/{attachment.pk}/card").content.decode()
    assert f'src="/media/{attachment.pk}"' in card and "<dialog" in card
    response = wired.client().get(f"/media/{attachment.pk}")
    assert b"".join(response.streaming_content) == sandbox_media.sample("image")[0]


def test_the_job_stores_a_cloud_image_by_media_id_url_and_bearer_token(wired):
    number, twin = cloud_number(wired)
    message_id = "wamid." + simulator.new_message_id()
    kept = graph_media.store_media(twin, PNG, "image/png", message_id=message_id)
    message = media_message(number, "image", {"id": kept.media_id}, message_id=message_id)

    assert media.fetch_due(10) == 1

    attachment = attachment_of(message)
    assert (attachment.state, attachment.mime_type, attachment.size) == (
        "stored",
        "image/png",
        len(PNG),
    )
    with default_storage.open(attachment.file.name, "rb") as stored:
        assert stored.read() == PNG


def test_a_cloud_fetch_with_a_wrong_token_fails_without_retrying(wired):
    number, twin = cloud_number(wired)
    kept = graph_media.store_media(twin, PNG, "image/png", message_id="wamid.X1")
    number.provider_token = "EAAG-wrong"
    number.save(update_fields=["provider_token"])
    message = media_message(number, "image", {"id": kept.media_id}, message_id="wamid.X1")

    media.fetch_due(10)

    attachment = attachment_of(message)
    assert (attachment.state, attachment.attempts) == ("failed", 1)
    assert "190" in attachment.error


def test_a_transient_failure_is_retried_with_backoff_then_succeeds(wired):
    message = evolution_media(wired, "image", PNG, "image/png")
    fail_next(message, 2)
    attachment = attachment_of(message)

    media.fetch_due(10)

    attachment.refresh_from_db()
    assert (attachment.state, attachment.attempts) == ("pending", 1)
    assert "503" in attachment.error
    wait = attachment.next_attempt_at - timezone.now()
    assert timedelta(seconds=100) < wait <= timedelta(seconds=120)
    assert media.fetch_due(10) == 0, "not due before its backoff"

    attachment = run_job_until_settled(attachment)
    assert (attachment.state, attachment.attempts, attachment.error) == ("stored", 3, "")


def test_a_cloud_lookup_answering_503_is_retried(wired):
    number, twin = cloud_number(wired)
    kept = graph_media.store_media(twin, PNG, "image/png", message_id="wamid.X3")
    kept.fail_next = 1
    kept.save(update_fields=["fail_next"])
    message = media_message(number, "image", {"id": kept.media_id}, message_id="wamid.X3")

    media.fetch_due(10)

    attachment = attachment_of(message)
    assert (attachment.state, attachment.attempts) == ("pending", 1)
    assert attachment.error.startswith("Graph 503 (131000)")
    attachment = run_job_until_settled(attachment)
    assert (attachment.state, attachment.attempts, attachment.error) == ("stored", 2, "")


def test_after_its_attempts_a_download_fails_and_retry_download_puts_it_back(wired, settings):
    message = evolution_media(wired, "image", PNG, "image/png")
    fail_next(message, settings.MEDIA_FETCH_ATTEMPTS)

    attachment = run_job_until_settled(attachment_of(message))

    assert (attachment.state, attachment.attempts) == ("failed", settings.MEDIA_FETCH_ATTEMPTS)
    assert attachment.next_attempt_at is None
    assert "503" in attachment.error

    media.retry_download(attachment, acting_member=wired.owner)
    assert (attachment.state, attachment.attempts, attachment.error) == ("pending", 0, "")
    media.fetch_due(10)
    attachment.refresh_from_db()
    assert attachment.state == "stored"


def test_an_image_that_is_an_executable_is_refused(wired):
    message = evolution_media(wired, "image", EXE, "image/jpeg")

    media.fetch_due(10)

    attachment = attachment_of(message)
    assert (attachment.state, attachment.file.name) == ("failed", "")
    assert attachment.error == "the file is application/x-msdownload, not an image"


def test_a_file_past_its_kinds_limit_is_refused_while_it_downloads(wired):
    sticker = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * (500 * 1024)
    message = evolution_media(wired, "sticker", sticker, "image/webp")

    media.fetch_due(10)

    attachment = attachment_of(message)
    assert attachment.state == "failed"
    assert attachment.error == "the file is larger than the 500 KB WhatsApp allows for its kind"


def test_a_cloud_file_announced_past_its_limit_is_not_downloaded(wired):
    number, twin = cloud_number(wired)
    # The sandbox keeps no image past 5 MB, as Meta; a document's limit is 100 MB. The
    # message says image, and GET /{media id} announces the size before any download.
    big = PDF + b"\x00" * (5 * 1024 * 1024)
    kept = graph_media.store_media(twin, big, "application/pdf", message_id="wamid.X2")
    message = media_message(number, "image", {"id": kept.media_id}, message_id="wamid.X2")

    media.fetch_due(10)

    attachment = attachment_of(message)
    assert (attachment.state, attachment.attempts) == ("failed", 1)
    assert attachment.error == "the file is larger than the 5 MB WhatsApp allows for its kind"


def test_documents_of_any_type_and_voice_notes_are_kept(wired):
    document = evolution_media(wired, "document", EXE, "application/x-msdownload")
    voice = evolution_media(wired, "audio", sandbox_media.ogg_opus(), "audio/ogg; codecs=opus")

    assert media.fetch_due(10) == 2

    assert attachment_of(document).state == "stored"
    assert attachment_of(voice).mime_type == "audio/ogg"


def test_a_message_fetched_twice_stores_one_file(wired):
    """Two workers whose claims overlapped: the second outcome does not overwrite the first."""
    message = evolution_media(wired, "image", PNG, "image/png")
    [attachment] = media.claim_due(10)
    Attachment.objects.filter(pk=attachment.pk).update(next_attempt_at=timezone.now())
    [again] = media.claim_due(10)

    media.fetch(again)
    media.fetch(attachment)

    stored = attachment_of(message)
    assert (stored.state, stored.attempts) == ("stored", 2)
    assert default_storage.exists(stored.file.name)
    folder = default_storage.path(stored.file.name).rsplit("/", 1)[0]
    assert len(default_storage.listdir(folder)[1]) == 1


# Bytes carried in the webhook


def test_base64_in_the_webhook_is_stored_at_once_and_not_kept_in_the_row(org):
    event = InboundMessage(
        provider_message_id=simulator.new_message_id(),
        phone=CUSTOMER,
        name="Ana",
        kind="document",
        body="Segue",
        content={
            "media": {
                "mime_type": "application/pdf",
                "file_name": "contrato.pdf",
                "base64": base64.b64encode(PDF).decode(),
            }
        },
    )

    message = inbound.receive_message(org.number, event)

    message.refresh_from_db()
    assert message.content == {
        "media": {"mime_type": "application/pdf", "file_name": "contrato.pdf"}
    }
    assert "base64" not in json.dumps(message.content)
    attachment = attachment_of(message)
    assert (attachment.state, attachment.file_name, attachment.size) == (
        "stored",
        "contrato.pdf",
        len(PDF),
    )
    assert attachment.file.name.endswith(".pdf") and "contrato" not in attachment.file.name
    with default_storage.open(attachment.file.name, "rb") as stored:
        assert stored.read() == PDF


def test_carried_bytes_of_the_wrong_type_fail_at_once(org):
    event = InboundMessage(
        provider_message_id=simulator.new_message_id(),
        phone=CUSTOMER,
        name="Ana",
        kind="image",
        body="",
        content={"media": {"mime_type": "image/jpeg", "base64": base64.b64encode(EXE).decode()}},
    )

    message = inbound.receive_message(org.number, event)

    attachment = attachment_of(message)
    assert (attachment.state, attachment.error) == (
        "failed",
        "the file is application/x-msdownload, not an image",
    )


def test_the_bulk_path_creates_the_batchs_attachments(org):
    pdf = base64.b64encode(PDF).decode()
    batch = [
        (
            org.number,
            ParsedEvent(
                event=InboundMessage(
                    provider_message_id=f"M{n}",
                    phone=f"55119777700{n:02d}",
                    name="",
                    kind=kind,
                    body="",
                    content={"media": media_ref},
                ),
                dedupe_key=f"message:M{n}",
            ),
        )
        for n, (kind, media_ref) in enumerate(
            [
                ("image", {"mime_type": "image/jpeg"}),
                ("document", {"mime_type": "application/pdf", "base64": pdf}),
                ("text", {}),
            ]
        )
    ]

    assert inbound_services.apply_events(batch) == [True, True, True]

    attachments = {a.message.provider_message_id: a for a in Attachment.objects.all()}
    assert set(attachments) == {"M0", "M1"}
    assert attachments["M0"].state == "pending"
    assert attachments["M1"].state == "stored"
    assert "base64" not in Message.objects.get(provider_message_id="M1").content["media"]


def test_an_unexpected_error_counts_as_an_attempt_and_cannot_loop_for_ever(org, settings):
    """A number whose provider this Conversa cannot speak to (LookupError, not ProviderError)."""
    Number.objects.filter(pk=org.number.pk).update(provider="retired-provider")
    org.number.refresh_from_db()
    message = media_message(org.number)

    attachment = run_job_until_settled(attachment_of(message))

    assert (attachment.state, attachment.error) == ("failed", "unexpected error")
    assert attachment.attempts == settings.MEDIA_FETCH_ATTEMPTS


def test_an_announced_size_is_kept_until_the_file_is_stored(org):
    message = media_message(org.number, "video", {"mime_type": "video/mp4", "size": "734003"})

    assert attachment_of(message).size == 734003


def test_two_workers_claim_disjoint_files(transactional_db):
    """PostgreSQL: SKIP LOCKED; SQLite: a conditional UPDATE per file. Never one file twice."""
    org = make_org()
    for n in range(8):
        media_message(org.number, phone=f"55119777701{n:02d}")
    claimed: list[list[int]] = []
    ready = threading.Barrier(2)

    def worker():
        ready.wait()
        try:
            claimed.append([a.pk for a in media.claim_due(8)])
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    first, second = claimed
    assert not set(first) & set(second)
    assert len(first) + len(second) == 8
    assert set(Attachment.objects.values_list("attempts", flat=True)) == {1}
