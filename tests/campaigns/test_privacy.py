"""A contact's LGPD rights: the export holds everything about them and nothing of anyone else;
the erasure deletes their texts and files, anonymizes them, keeps consent records (marked) and
the audit trail (without details), and the same phone writing again is a new contact."""

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client

from conversa.accounts.models import Member, OperationalEvent
from conversa.assistant.models import AssistantOutput, ModelCall
from conversa.assistant.outputs import record_output
from conversa.campaigns import consent, privacy
from conversa.campaigns.models import Consent
from conversa.crm import services as crm
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.errors import Conflict, Forbidden, Refused
from conversa.inbound import consequences as inbound
from conversa.inbox import notes
from conversa.inbox.models import Attachment, Contact, ContactIdentity, Message, Note, Tag
from conversa.providers.base import InboundMessage
from conversa.providers.models import ProviderEvent
from conversa.sandbox import simulator
from tests.accounts.test_mfa import code_at, enroll
from tests.media_samples import PNG

ANA = "5511977776666"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def picture_from(number, phone: str) -> Message:
    event = InboundMessage(
        provider_message_id=simulator.new_message_id(),
        phone=phone,
        name="Ana Souza",
        kind="image",
        body="",
        content={"media": {"base64": base64.b64encode(PNG).decode(), "file_name": "rg.png"}},
    )
    return inbound.receive_message(number, event)


@pytest.fixture
def ana(org) -> Contact:
    """A contact with something in every place personal data is held."""
    text = org.customer_writes(ANA, "Meu CPF é 123.456.789-00", name="Ana Souza")
    picture_from(org.number, ANA)
    contact = text.conversation.contact
    contact.custom_fields = {"cpf": "123.456.789-00"}
    contact.save(update_fields=["custom_fields"])
    contact.tags.add(Tag.objects.create(organization=org.org, name="VIP"))
    consent.record_consent(
        contact, granted=True, channel="web_form", evidence="checkbox at /promo by ana@x.com"
    )
    notes.add_note(text.conversation, "Ana prefere ligação", acting_member=org.owner)
    pipeline = crm.create_pipeline(
        org.org,
        "Vendas",
        acting_member=org.owner,
        stages=[{"name": "Novo"}],
        custom_fields=["cpf"],
    )
    crm.create_lead(
        contact,
        pipeline.stages.get(),
        "Plano anual",
        acting_member=org.owner,
        notes="Mora na Rua A, 10",
        custom_fields={"cpf": "123.456.789-00"},
    )
    engine.reply(text.conversation, "Olá Ana, seu pedido saiu", acting_member=org.owner)
    return contact


def read_zip(response) -> tuple[dict, dict[str, bytes]]:
    content = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        data = json.loads(archive.read("contact.json"))
        files = {n: archive.read(n) for n in archive.namelist() if n.startswith("media/")}
    return data, files


def test_the_export_holds_everything_about_the_contact_and_nothing_of_others(org, other_org, ana):
    other_org.customer_writes(ANA, "Mensagem da outra empresa", name="Ana de lá")
    org.customer_writes("5511955554444", "Outro cliente daqui")

    response = org.client().get(f"/contacts/{ana.pk}/privacy/export")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f"contact-{ana.pk}-" in response["Content-Disposition"]
    data, files = read_zip(response)
    assert data["contact"]["name"] == "Ana Souza"
    assert data["contact"]["phone"] == f"+{ANA}"
    assert data["contact"]["custom_fields"] == {"cpf": "123.456.789-00"}
    assert data["contact"]["tags"] == ["VIP"]
    assert {"kind": "phone", "value": ANA} in [
        {k: i[k] for k in ("kind", "value")} for i in data["contact"]["identities"]
    ]
    assert data["consent_records"][0]["evidence"] == "checkbox at /promo by ana@x.com"
    [conversation] = data["conversations"]
    bodies = [m["body"] for m in conversation["messages"]]
    assert "Meu CPF é 123.456.789-00" in bodies
    assert conversation["notes"][0]["body"] == "Ana prefere ligação"
    [picture] = [m for m in conversation["messages"] if m["kind"] == "image"]
    assert picture["file"]["file_name"] == "rg.png"
    assert files == {picture["file"]["path"]: PNG}
    assert data["leads"][0]["custom_fields"] == {"cpf": "123.456.789-00"}
    assert data["leads"][0]["notes"] == "Mora na Rua A, 10"
    assert [s["body"] for s in data["sends"]] == ["Olá Ana, seu pedido saiu"]
    assert {"consent.granted", "lead.created"} <= {e["verb"] for e in data["audit"]}
    everything = json.dumps(data, ensure_ascii=False)
    assert "outra empresa" not in everything and "Ana de lá" not in everything
    assert "Outro cliente" not in everything
    assert OperationalEvent.objects.filter(
        organization=org.org, verb="contact.exported", object_id=ana.pk, actor=org.owner
    ).exists()


def test_only_owners_and_admins_export_or_erase_and_another_org_sees_nothing(org, other_org, ana):
    supervisor = org.member(Member.Role.SUPERVISOR)
    assert org.client(supervisor).get(f"/contacts/{ana.pk}/privacy/").status_code == 403
    assert org.client(supervisor).get(f"/contacts/{ana.pk}/privacy/export").status_code == 403
    assert other_org.client().get(f"/contacts/{ana.pk}/privacy/export").status_code == 404
    assert (
        other_org.client()
        .post(f"/contacts/{ana.pk}/privacy/erase", {"confirmation": "ERASE"})
        .status_code
        == 404
    )
    with pytest.raises(Forbidden):
        privacy.erase(ana, acting_member=supervisor, confirmation="ERASE")
    assert Contact.objects.get(pk=ana.pk).erased_at is None


def test_erasure_deletes_texts_and_files_and_anonymizes_the_contact(org, ana, media_root):
    picture = Attachment.objects.get(message__conversation__contact=ana)
    on_disk = Path(media_root) / picture.file.name
    assert on_disk.exists()
    pending = MessageIntent.objects.get(contact=ana)
    assert pending.job.status == ExecutionJob.Status.PENDING
    text = Message.objects.filter(conversation__contact=ana, kind="text", direction="in").get()
    webhook = ProviderEvent.objects.create(
        organization=org.org,
        number=org.number,
        kind="InboundMessage",
        dedupe_key=f"message:{text.provider_message_id}",
        provider_message_id=text.provider_message_id,
        event={"body": text.body},
        payload={"data": {"message": {"conversation": text.body}}},
    )

    response = org.client().post(f"/contacts/{ana.pk}/privacy/erase", {"confirmation": "erase"})

    assert response.status_code == 302
    assert not on_disk.exists()
    messages = Message.objects.filter(conversation__contact=ana)
    assert messages.count() == 3  # the rows (and so the counts) stay: 2 in, the reply out
    assert set(messages.values_list("body", flat=True)) == {""}
    assert set(messages.values_list("removed", flat=True)) == {"erasure"}
    assert all(m.content == {} for m in messages)
    picture.refresh_from_db()
    assert (picture.state, picture.file.name, picture.file_name) == ("removed", "", "")
    ana.refresh_from_db()
    assert ana.name == f"Erased contact #{ana.pk}" and ana.phone == ""
    assert ana.custom_fields == {} and not ana.tags.exists() and ana.erased_at
    assert not ContactIdentity.objects.filter(contact=ana).exists()
    assert ana.opted_out and not ana.marketing_consent
    assert set(Note.objects.filter(conversation__contact=ana).values_list("body", flat=True)) == {
        ""
    }
    lead = ana.leads.get()
    assert (lead.custom_fields, lead.notes) == ({}, "")
    pending.refresh_from_db()
    assert pending.status == MessageIntent.Status.FAILED and pending.body == ""
    assert pending.job.status == ExecutionJob.Status.FAILED
    webhook.refresh_from_db()
    assert (webhook.payload, webhook.event) == ({}, {})


def test_erasure_keeps_consent_records_marked_and_the_audit_without_details(org, ana):
    verbs_before = list(
        privacy.audit_about(ana).order_by("id").values_list("verb", "created_at", "actor")
    )

    done = privacy.erase(ana, acting_member=org.owner, confirmation="ERASE")

    [record] = Consent.objects.filter(contact=ana)
    assert record.erased and record.evidence == "" and record.granted
    assert record.channel == "web_form"  # how and when they consented stays, as the law asks
    about = privacy.audit_about(ana).order_by("id")
    kept = [e for e in about if e.verb != "contact.erased"]
    assert [(e.verb, e.created_at, e.actor_id) for e in kept][: len(verbs_before)] == verbs_before
    assert all(e.data == {"erased": True} for e in kept)
    erased = about.get(verb="contact.erased")
    assert erased.actor == org.owner
    assert erased.data == {"messages": 3, "files": 1, "sends_cancelled": 1}
    assert (done.messages, done.files, done.consent_records) == (3, 1, 1)
    assert "Ana" not in json.dumps([e.data for e in about])


def test_the_same_phone_writing_after_an_erasure_is_a_new_contact(org, other_org, ana):
    their_ana = other_org.customer_writes(ANA, "Oi da outra").conversation.contact
    privacy.erase(ana, acting_member=org.owner, confirmation="ERASE")

    again = org.customer_writes(ANA, "Oi de novo", name="Ana Souza")

    assert again.conversation.contact_id != ana.pk
    assert again.conversation.contact.phone == ANA
    assert Contact.objects.get(pk=ana.pk).name == f"Erased contact #{ana.pk}"
    their_ana.refresh_from_db()
    assert their_ana.phone == ANA and their_ana.erased_at is None
    assert Message.objects.filter(conversation__contact=their_ana, body="Oi da outra").exists()


def test_erasure_needs_the_word_and_happens_once(org, ana):
    with pytest.raises(Refused, match="ERASE"):
        privacy.erase(ana, acting_member=org.owner, confirmation="sim")
    assert Message.objects.filter(conversation__contact=ana).exclude(body="").exists()
    response = org.client().post(f"/contacts/{ana.pk}/privacy/erase", {"confirmation": "talvez"})
    assert response.status_code == 422
    assert "Type ERASE to confirm" in response.content.decode()

    privacy.erase(ana, acting_member=org.owner, confirmation="ERASE")
    with pytest.raises(Conflict):
        privacy.erase(ana, acting_member=org.owner, confirmation="ERASE")


def test_the_api_exports_and_erases(org, other_org, ana):
    headers = {"Authorization": f"Bearer {org.api_token()}"}
    client = Client()

    exported = client.get(f"/api/contacts/{ana.pk}/export", headers=headers)
    assert exported.status_code == 200
    data, _ = read_zip(exported)
    assert data["contact"]["id"] == ana.pk

    refused = client.post(
        f"/api/contacts/{ana.pk}/erase",
        {"confirmation": "no"},
        content_type="application/json",
        headers=headers,
    )
    assert refused.status_code == 422
    foreign = client.post(
        f"/api/contacts/{ana.pk}/erase",
        {"confirmation": "ERASE"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {other_org.api_token()}"},
    )
    assert foreign.status_code == 404
    erased = client.post(
        f"/api/contacts/{ana.pk}/erase",
        {"confirmation": "ERASE"},
        content_type="application/json",
        headers=headers,
    )
    assert erased.status_code == 200
    assert erased.json()["messages_emptied"] == 3
    assert erased.json()["media_files_deleted"] == 1
    again = client.post(
        f"/api/contacts/{ana.pk}/erase",
        {"confirmation": "ERASE"},
        content_type="application/json",
        headers=headers,
    )
    assert again.status_code == 409


def test_a_member_with_two_step_verification_gives_a_fresh_code_before_erasing(org, ana):
    secret, _ = enroll(org)
    client = org.client()
    erase = f"/contacts/{ana.pk}/privacy/erase"

    asked = client.post(erase, {"confirmation": "ERASE"})

    assert asked.status_code == 302 and asked.url.startswith("/login/reverify")
    assert Contact.objects.get(pk=ana.pk).erased_at is None
    assert client.get(f"/contacts/{ana.pk}/privacy/export").url.startswith("/login/reverify")
    client.post("/login/reverify", {"code": code_at(secret, +1), "next": "/"})
    assert client.post(erase, {"confirmation": "ERASE"}).status_code == 302
    assert Contact.objects.get(pk=ana.pk).erased_at is not None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_lets_only_an_erasure_of_that_organization_empty_details(org, other_org, ana):
    entry = privacy.audit_about(ana).first()
    erase_sql = """UPDATE accounts_operationalevent SET data = '{"erased": true}'::jsonb
                   WHERE id = %s"""
    for named in (None, other_org.org.pk):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            if named:
                cursor.execute(
                    "SELECT set_config('conversa.erasing_personal_data', %s, true)", [str(named)]
                )
            cursor.execute(erase_sql, [entry.pk])
    assert OperationalEvent.objects.get(pk=entry.pk).data != {"erased": True}
    assert privacy.audit_about(ana).erase_data() >= 1
    assert OperationalEvent.objects.get(pk=entry.pk).data == {"erased": True}


def test_erasure_empties_the_assistants_records_of_their_conversations(org, other_org, ana):
    """The AI log keeps what a customer asked and the messages sent to the model: their words."""
    conversation = ana.conversations.get()
    theirs = ModelCall.objects.create(
        organization=org.org,
        day=conversation.created_at.date(),
        purpose="autoreply",
        model="sandbox",
        prompt_tokens=40,
        messages=[{"role": "user", "content": "Meu CPF é 123.456.789-00"}],
    )
    answer = record_output(
        org.org,
        kind=AssistantOutput.Kind.REPLY,
        text="Ana, seu CPF 123.456.789-00 está certo",
        question="Meu CPF é 123.456.789-00",
        conversation=conversation,
        model_call_id=theirs.pk,
    )
    elsewhere = other_org.conversation("5511988887777")
    kept = record_output(
        other_org.org, kind=AssistantOutput.Kind.REPLY, text="Oi", conversation=elsewhere
    )
    privacy.erase(ana, acting_member=org.owner, confirmation="ERASE")
    answer.refresh_from_db()
    theirs.refresh_from_db()
    assert (answer.question, answer.text, theirs.messages) == ("", "", [])
    assert theirs.prompt_tokens == 40  # the counts stay
    kept.refresh_from_db()
    assert kept.text == "Oi"
