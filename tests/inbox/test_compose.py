"""The composer's files, the thread's reactions and the read receipts, over HTTP: files checked
from their bytes before any intent exists (a form error, never a 500), one intent per file
through the engine, reactions on a customer's message, and blue ticks only when wanted."""

import pytest
from django.urls import reverse

from conversa.accounts.models import OperationalEvent
from conversa.engine.models import MessageIntent
from conversa.inbox import read_receipts, uploads
from conversa.inbox.models import Attachment, Message
from conversa.providers.base import ProviderError
from tests import media_samples as samples

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def compose(client, conversation, **data):
    return client.post(f"/inbox/c/{conversation.pk}/compose", data, headers=HX)


def test_a_photo_and_a_document_from_the_composer_are_two_messages_with_the_caption_on_the_first(
    org,
):
    conversation = org.conversation()
    client = org.client()
    files = [samples.upload("foto.png", samples.PNG), samples.upload("nota.pdf", samples.PDF)]
    answer = compose(client, conversation, body="Segue", files=files, idempotency_key="tok-1")
    assert answer.status_code == 200
    messages = Message.objects.filter(direction="out").order_by("id")
    assert [(m.kind, m.body) for m in messages] == [("image", "Segue"), ("document", "")]
    stored = Attachment.objects.get(message=messages[0])
    assert (stored.state, stored.uploaded_by, stored.file_name) == ("stored", org.owner, "foto.png")
    with stored.file.open("rb") as handle:
        assert handle.read() == samples.PNG
    keys = MessageIntent.objects.order_by("id").values_list("idempotency_key", flat=True)
    assert list(keys) == ["chat:tok-1:0", "chat:tok-1:1"]
    # The thread beside the fresh composer shows the files: the photo's preview, the
    # document's name.
    page = answer.content.decode()
    assert reverse("media-file", args=[stored.pk]) in page and "nota.pdf" in page

    again = [samples.upload("foto.png", samples.PNG), samples.upload("nota.pdf", samples.PDF)]
    compose(client, conversation, body="Segue", files=again, idempotency_key="tok-1")
    assert Message.objects.filter(direction="out").count() == 2
    assert Attachment.objects.count() == 2


def test_an_audio_file_goes_as_a_voice_note_when_asked(org):
    conversation = org.conversation()
    compose(
        org.client(),
        conversation,
        files=[samples.upload("recado.ogg", samples.OGG)],
        voice="1",
        idempotency_key="tok-2",
    )
    assert Message.objects.get(direction="out").kind == "voice"


def test_a_file_whatsapp_does_not_take_is_a_form_error_and_nothing_is_sent(org):
    conversation = org.conversation()
    answer = compose(
        org.client(),
        conversation,
        body="Instale isto",
        files=[samples.upload("foto.png", samples.EXE, "image/png")],
    )
    assert answer.status_code == 422
    html = answer.content.decode()
    assert "cannot be sent on WhatsApp" in html and 'id="reply-error"' in html
    assert "Instale isto" in html  # the draft is kept
    assert not MessageIntent.objects.exists() and not Attachment.objects.exists()


def test_a_file_over_whatsapps_limit_is_a_form_error(org, monkeypatch):
    monkeypatch.setitem(uploads.LIMITS, "image", 100)
    conversation = org.conversation()
    answer = compose(org.client(), conversation, files=[samples.upload("big.png", samples.PNG)])
    assert answer.status_code == 422
    assert "WhatsApp takes at most 100 KB" not in answer.content.decode()  # KB rounds up to 1
    assert "takes at most 1 KB" in answer.content.decode()
    assert not MessageIntent.objects.exists() and not Attachment.objects.exists()


def test_files_in_note_mode_or_too_many_are_refused(org):
    conversation = org.conversation()
    client = org.client()
    note = compose(client, conversation, mode="note", files=[samples.upload("a.png", samples.PNG)])
    assert note.status_code == 422 and "A note cannot carry files" in note.content.decode()
    many = [samples.upload(f"{n}.png", samples.PNG) for n in range(uploads.MAX_FILES + 1)]
    assert compose(client, conversation, files=many).status_code == 422
    assert not Attachment.objects.exists()


def test_text_without_files_is_the_usual_reply(org):
    conversation = org.conversation()
    compose(org.client(), conversation, body="Oi", idempotency_key="tok-3")
    message = Message.objects.get(direction="out")
    assert (message.kind, message.body) == ("text", "Oi")


def test_another_organizations_conversation_is_a_404(org, other_org):
    conversation = other_org.conversation()
    answer = compose(org.client(), conversation, files=[samples.upload("a.png", samples.PNG)])
    assert answer.status_code == 404
    assert not Attachment.objects.exists()


def test_the_composer_offers_attachments_and_inbound_messages_a_reaction_picker(org):
    conversation = org.conversation()
    html = org.client().get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert 'name="files"' in html and 'enctype="multipart/form-data"' in html
    assert 'name="voice"' in html
    assert f"/inbox/c/{conversation.pk}/m/" in html and 'value="👍"' in html


def test_a_reaction_from_the_thread_is_an_intent_and_a_bad_emoji_is_refused(org):
    inbound = org.customer_writes()
    client = org.client()
    url = f"/inbox/c/{inbound.conversation_id}/m/{inbound.pk}/react"
    answer = client.post(url, {"emoji": "❤️", "idempotency_key": "r1"}, headers=HX)
    assert answer.status_code == 200
    intent = MessageIntent.objects.get()
    assert intent.content["kind"] == "reaction" and intent.content["emoji"] == "❤️"
    client.post(url, {"emoji": "❤️", "idempotency_key": "r1"}, headers=HX)
    assert MessageIntent.objects.count() == 1
    refused = client.post(url, {"emoji": "🤡", "idempotency_key": "r2"}, headers=HX)
    assert refused.status_code == 400
    assert MessageIntent.objects.count() == 1


class Receipts:
    def __init__(self, fail: bool = False):
        self.calls = []
        self.fail = fail

    def mark_read(self, number, phone, provider_message_id):
        self.calls.append((number.pk, phone, provider_message_id))
        if self.fail:
            raise ProviderError("Graph 400 for 5511999990001", transient=False, status=400)


@pytest.fixture
def receipts(monkeypatch):
    provider = Receipts()
    monkeypatch.setattr(read_receipts, "get_provider", lambda number: provider)
    # The pool's thread runs the call at once, so the test sees it when the page answers.
    monkeypatch.setattr(read_receipts.pool, "submit", lambda fn, *args: fn(*args))
    return provider


def test_opening_a_conversation_marks_its_unread_messages_read(org, receipts, committed):
    first = org.customer_writes(text="Oi")
    second = org.customer_writes(text="Tem alguém?")
    with committed():
        org.client().get(f"/inbox/c/{first.conversation_id}/")
    assert receipts.calls == [
        (org.number.pk, "5511999990001", first.provider_message_id),
        (org.number.pk, "5511999990001", second.provider_message_id),
    ]
    with committed():
        org.client().get(f"/inbox/c/{first.conversation_id}/")  # nothing unread any more
    assert len(receipts.calls) == 2


def test_no_read_receipts_when_the_organization_turned_them_off(org, receipts, committed):
    message = org.customer_writes()
    org.org.send_read_receipts = False
    org.org.save()
    with committed():
        org.client().get(f"/inbox/c/{message.conversation_id}/")
    assert receipts.calls == []


def test_a_failed_read_receipt_is_logged_without_the_customers_data(
    org, receipts, committed, caplog
):
    receipts.fail = True
    message = org.customer_writes()
    with committed():
        page = org.client().get(f"/inbox/c/{message.conversation_id}/")
    assert page.status_code == 200
    assert "read receipt not sent" in caplog.text
    assert "5511999990001" not in caplog.text and message.provider_message_id not in caplog.text


def test_the_read_receipt_setting_is_for_managers_and_recorded(org):
    agent = org.member()
    assert org.client(agent).get("/inbox/settings/read-receipts").status_code == 403
    client = org.client()
    assert 'value="1" checked' in client.get("/inbox/settings/read-receipts").content.decode()
    answer = client.post("/inbox/settings/read-receipts", {"enabled": "0"})
    assert answer.status_code == 302
    org.org.refresh_from_db()
    assert org.org.send_read_receipts is False
    assert OperationalEvent.objects.filter(verb="organization.read_receipts_changed").exists()


def test_a_send_over_the_request_limit_is_refused_before_it_is_read(org, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_REQUEST", 1024)
    conversation = org.conversation()
    big = samples.upload("big.pdf", samples.PDF + b"0" * 2048)
    answer = compose(org.client(), conversation, files=[big])
    assert answer.status_code == 422
    assert "Send at most 1 KB of files at a time" in answer.content.decode()
    assert not Attachment.objects.exists()


def test_a_reaction_the_gate_blocks_says_why(org):
    inbound = org.customer_writes()
    inbound.conversation.contact.blocked = True
    inbound.conversation.contact.save()
    answer = org.client().post(
        f"/inbox/c/{inbound.conversation_id}/m/{inbound.pk}/react",
        {"emoji": "👍", "idempotency_key": "r1"},
        headers=HX,
    )
    assert answer.status_code == 400
    assert answer.content.decode() == "The contact is blocked"
