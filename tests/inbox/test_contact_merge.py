"""Two contacts of one person become one: everything pointing at the one merged away moves,
consent keeps the stricter answer, and the audit says what happened (issue 15, item 2)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversa.accounts.models import OperationalEvent
from conversa.crm import services as crm
from conversa.crm.models import FollowUp, Lead
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.inbox import contacts, thread
from conversa.inbox.merge import merge_contacts
from conversa.inbox.models import Contact, ContactIdentity, Conversation, Note, Tag
from conversa.numbers.models import Number
from tests.crm.helpers import automation, pipeline, stage
from tests.inbox.test_contacts_identity import arrives


def test_merge_moves_conversations_messages_leads_tags_consent_and_is_audited(org, committed):
    sales = pipeline(org)
    automation(org, stage(sales, "Novo"))
    first = arrives(org, phone="5511988887777", text="a1", name="").conversation
    keep = first.contact
    second = arrives(org, phone="5521977776666", text="b1", name="Bruna").conversation
    gone = second.contact
    Note.objects.create(organization=org.org, conversation=second, body="note on b")
    other_number = Number.objects.create(
        organization=org.org, name="Second", provider="sandbox", status="connected"
    )
    resolved = arrives(org, phone="5521977776666", text="b2", number=other_number).conversation
    Conversation.objects.filter(pk=resolved.pk).update(status=Conversation.Status.RESOLVED)
    vip = Tag.objects.create(organization=org.org, name="VIP")
    late = Tag.objects.create(organization=org.org, name="Late payer")
    keep.tags.add(vip)
    gone.tags.add(vip, late)
    Contact.objects.filter(pk=gone.pk).update(opted_out=True)
    gone.refresh_from_db()
    older_lead = crm.create_lead(keep, stage(sales, "Novo"), "Plano A", acting_member=org.owner)
    newer_lead = crm.create_lead(gone, stage(sales, "Novo"), "Plano B", acting_member=org.owner)
    assert FollowUp.objects.filter(contact=gone).exists()  # the automation scheduled hers
    intent, _ = engine.create_intent(
        org.org, contact=gone, body="Olá", origin="api", idempotency_key="merge-1"
    )

    with committed():
        kept = merge_contacts(keep=keep, gone=gone, reason="manual", acting_member=org.owner)

    assert kept.pk == keep.pk
    assert not Contact.objects.filter(pk=gone.pk).exists()
    kept.refresh_from_db()
    assert kept.opted_out and not kept.blocked  # the stricter answer wins
    assert kept.name == "Bruna"  # an empty name is filled
    assert kept.phone == "5511988887777"
    assert set(kept.tags.values_list("name", flat=True)) == {"VIP", "Late payer"}
    # One live conversation on the number: the older, holding both threads' messages and notes.
    live = Conversation.objects.exclude(status=Conversation.Status.RESOLVED)
    assert list(live) == [first]
    inbound = first.messages.filter(direction="in").values_list("body", flat=True)
    assert sorted(inbound) == ["a1", "b1"]
    assert first.messages.filter(direction="out").count() == 3  # the follow-up and the intent
    assert list(first.notes.values_list("body", flat=True)) == ["note on b"]
    assert not Conversation.objects.filter(pk=second.pk).exists()
    assert Conversation.objects.get(pk=resolved.pk).contact == kept
    assert set(Lead.objects.values_list("pk", "contact_id")) == {
        (older_lead.pk, kept.pk),
        (newer_lead.pk, kept.pk),
    }
    assert not FollowUp.objects.exclude(contact=kept).exists()
    assert MessageIntent.objects.get(pk=intent.pk).contact == kept
    assert not ExecutionJob.objects.exclude(contact=kept).exists()
    assert {("phone", "5511988887777"), ("phone", "5521977776666")} <= set(
        ContactIdentity.objects.filter(contact=kept).values_list("kind", "value")
    )
    audit = OperationalEvent.objects.get(verb="contact.merged")
    assert (audit.object_type, audit.object_id, audit.actor) == ("contact", kept.pk, org.owner)
    assert audit.data["merged"] == gone.pk and audit.data["reason"] == "manual"
    assert audit.data["phone"] == "+5521977776666"
    texts = [item.text for item in thread.history(first)]
    assert "Merged with the contact Bruna: a person merged them" in texts
    # The merged contact's later messages land in the kept one's thread.
    assert arrives(org, phone="5521977776666").conversation == first


def test_merging_a_contact_already_merged_away_does_nothing(org):
    keep = arrives(org, phone="5511988887777").conversation.contact
    gone = arrives(org, phone="5521977776666").conversation.contact
    merge_contacts(keep=keep, gone=gone, reason="manual")
    with CaptureQueriesContext(connection):
        again = merge_contacts(keep=keep, gone=gone, reason="manual")
    assert again == keep
    assert OperationalEvent.objects.filter(verb="contact.merged").count() == 1


def test_blocked_on_either_side_stays_blocked(org):
    keep = arrives(org, phone="5511988887777").conversation.contact
    gone = arrives(org, lid="77").conversation.contact
    Contact.objects.filter(pk=gone.pk).update(blocked=True)
    gone.refresh_from_db()
    contacts.link_identities(org.org, phone="5511988887777", lid="77")
    keep.refresh_from_db()
    assert keep.blocked


def test_a_contact_without_a_phone_is_refused_by_the_gate_on_evolution_numbers(org):
    contact = arrives(org, lid="123").conversation.contact
    intent, _ = engine.create_intent(
        org.org, contact=contact, body="Olá", origin="api", idempotency_key="no-phone-1"
    )
    decision = intent.decisions.get()
    assert (decision.verdict, decision.reason_code) == (GateDecision.Verdict.BLOCK, "no_phone")
    assert "no phone number" in decision.reason
    assert intent.status == MessageIntent.Status.BLOCKED


def test_a_username_contact_can_be_written_from_a_cloud_number(org):
    Number.objects.filter(pk=org.number.pk).update(status="disconnected")
    cloud = Number.objects.create(
        organization=org.org, name="Cloud", provider="cloud", status="connected"
    )
    contact = arrives(org, user_id="BR.ABC").conversation.contact
    intent, _ = engine.create_intent(
        org.org,
        contact=contact,
        body="Olá",
        origin="api",
        idempotency_key="user-id-1",
        template={"name": "hello", "language": "pt_BR", "variables": []},
    )
    decision = intent.decisions.get()
    assert (decision.verdict, decision.number) == (GateDecision.Verdict.ALLOW, cloud)
    assert contacts.recipient(contact, cloud) == "BR.ABC"
    assert contacts.recipient(contact, org.number) == ""
