"""What a member does to a contact, from its page and the API: edit, block, opt out, record
consent, merge. Each change is audited with the member and the reason they gave."""

import pytest

from conversa.accounts.models import Member, OperationalEvent
from conversa.campaigns import contacts
from conversa.campaigns.models import Consent
from conversa.crm import followups
from conversa.errors import Forbidden, Refused
from conversa.inbox.models import Contact, Message


def audit(contact: Contact, verb: str) -> list[dict]:
    entries = OperationalEvent.objects.filter(
        object_type="contact", object_id=contact.pk, verb=verb
    ).order_by("id")
    return [e.data | {"actor": e.actor_id} for e in entries]


def test_blocking_needs_a_reason_and_is_audited_with_it(org):
    contact = org.conversation().contact
    with pytest.raises(Refused):
        contacts.set_blocked(contact, True, reason="  ", acting_member=org.owner)
    with pytest.raises(Refused):
        contacts.set_blocked(contact, True, reason="x" * 501, acting_member=org.owner)
    assert not Contact.objects.get(pk=contact.pk).blocked
    assert contacts.set_blocked(contact, True, reason="ofensas", acting_member=org.owner)
    assert not contacts.set_blocked(contact, True, reason="de novo", acting_member=org.owner)
    assert Contact.objects.get(pk=contact.pk).blocked
    assert audit(contact, "contact.blocked") == [{"reason": "ofensas", "actor": org.owner.pk}]
    contacts.set_blocked(contact, False, reason="engano", acting_member=org.owner)
    assert not Contact.objects.get(pk=contact.pk).blocked
    assert audit(contact, "contact.unblocked")[0]["reason"] == "engano"


def test_another_organizations_member_cannot_touch_a_contact(org, other_org):
    contact = org.conversation().contact
    with pytest.raises(Refused):
        contacts.set_blocked(contact, True, reason="x", acting_member=other_org.owner)
    with pytest.raises(Refused):
        contacts.update_contact(contact, name="Outro", acting_member=other_org.owner)


def test_opting_out_records_the_reason(org):
    contact = org.conversation().contact
    assert followups.set_opted_out(contact, True, reason="pediu", acting_member=org.owner)
    assert audit(contact, "contact.opted_out") == [{"reason": "pediu", "actor": org.owner.pk}]
    followups.set_opted_out(contact, False, acting_member=org.owner)
    assert audit(contact, "contact.opted_in") == [{"actor": org.owner.pk}]


def test_editing_bounds_the_name_and_fields_and_audits_what_changed(org):
    contact = org.conversation().contact
    changed = contacts.update_contact(
        contact,
        name=" Ana Lima ",
        custom_fields={"cidade": "Recife", "plano": "", " ": ""},
        acting_member=org.owner,
    )
    assert changed == ["name", "custom_fields"]
    contact.refresh_from_db()
    assert (contact.name, contact.custom_fields) == ("Ana Lima", {"cidade": "Recife"})
    assert audit(contact, "contact.edited")[0]["fields"] == ["cidade"]
    assert contacts.update_contact(contact, name="Ana Lima", acting_member=org.owner) == []
    for bad in ({"": "sem nome"}, {"k" * 41: "v"}, {"k": "v" * 501}):
        with pytest.raises(Refused):
            contacts.update_contact(contact, custom_fields=bad, acting_member=org.owner)
    with pytest.raises(Refused):
        contacts.update_contact(
            contact, custom_fields={f"k{i}": "v" for i in range(51)}, acting_member=org.owner
        )
    with pytest.raises(Refused):
        contacts.update_contact(contact, name="n" * 201, acting_member=org.owner)


def test_merging_is_for_supervisors_and_keeps_the_reason(org):
    keep = org.conversation("5511988880001").contact
    gone = org.conversation("5511988880002").contact
    agent = org.member(Member.Role.AGENT)
    with pytest.raises(Forbidden):
        contacts.merge_into(keep, gone, reason="mesma pessoa", acting_member=agent)
    with pytest.raises(Refused):
        contacts.merge_into(keep, keep, reason="mesma pessoa", acting_member=org.owner)
    contacts.merge_into(keep, gone, reason="mesma pessoa", acting_member=org.owner)
    assert not Contact.objects.filter(pk=gone.pk).exists()
    # Both wrote to the same number: one conversation now holds both messages.
    assert Message.objects.filter(conversation__contact=keep).count() == 2
    assert audit(keep, "contact.merged_by_member")[0]["reason"] == "mesma pessoa"


def test_the_page_records_consent_blocks_and_shows_refusals_beside_the_form(org):
    contact = org.conversation().contact
    client = org.client()
    url = f"/contacts/{contact.pk}/"
    assert client.get(url).status_code == 200
    refused = client.post(f"{url}consent", {"granted": "1", "evidence": " "})
    assert refused.status_code == 400 and b"evidence" in refused.content
    response = client.post(f"{url}consent", {"granted": "1", "evidence": "disse sim no balcão"})
    assert response.status_code == 302
    record = Consent.objects.get(contact=contact)
    assert (record.channel, record.evidence, record.recorded_by) == (
        "agent",
        "disse sim no balcão",
        org.owner,
    )
    page = client.get(url).content.decode()
    assert "disse sim no balcão" in page and "Consent recorded." in page
    refused = client.post(f"{url}actions/block", {"reason": ""})
    assert refused.status_code == 400
    assert client.post(f"{url}actions/block", {"reason": "ofensas"}).status_code == 302
    assert client.post(f"{url}actions/opt-out", {"reason": "pediu"}).status_code == 302
    contact.refresh_from_db()
    assert contact.blocked and contact.opted_out
    assert client.post(f"{url}actions/explode", {"reason": "x"}).status_code == 404


def test_the_page_edits_fields_and_tags(org):
    from conversa.inbox import tags

    contact = org.conversation().contact
    tag = tags.create_tag(org.org, "VIP", "green", acting_member=org.owner)
    client = org.client()
    url = f"/contacts/{contact.pk}/"
    client.post(
        f"{url}edit",
        {"name": "Ana", "field_key": ["cidade", "plano"], "field_value": ["Recife", "anual"]},
    )
    client.post(f"{url}tags", {"tag": tag.pk})
    contact.refresh_from_db()
    assert contact.name == "Ana" and contact.custom_fields == {"cidade": "Recife", "plano": "anual"}
    assert list(contact.tags.all()) == [tag]
    client.post(f"{url}tags", {"tag": tag.pk, "do": "remove"})
    assert not contact.tags.exists()


def test_the_merge_page_finds_the_other_contact_and_asks_to_confirm(org):
    keep = org.conversation("5511988880001").contact
    gone = org.conversation("5511988880002").contact
    Contact.objects.filter(pk=gone.pk).update(name="Ana Segunda")
    client = org.client()
    url = f"/contacts/{keep.pk}/merge"
    assert f"?other={gone.pk}" in client.get(url, {"q": "segunda"}).content.decode()
    confirm = client.get(url, {"other": gone.pk}).content.decode()
    assert 'name="confirm"' in confirm
    assert client.post(url, {"other": gone.pk, "confirm": "1", "reason": ""}).status_code == 400
    assert Contact.objects.filter(pk=gone.pk).exists()
    assert (
        client.post(url, {"other": gone.pk, "confirm": "1", "reason": "mesma"}).status_code == 302
    )
    assert not Contact.objects.filter(pk=gone.pk).exists()


def test_the_list_page_filters_and_pages_by_cursor(org):
    for i in range(3):
        Contact.objects.create(organization=org.org, name=f"Pessoa {i}", phone=f"55119555000{i}")
    Contact.objects.create(organization=org.org, name="Zeca", phone="5511955500099", blocked=True)
    client = org.client()
    page = client.get("/contacts/", {"blocked": "yes"}).content.decode()
    assert "Zeca" in page and "Pessoa 0" not in page
    empty = client.get("/contacts/", {"q": "ninguém"}).content.decode()
    assert "No contact matches" in empty
    rows = client.get(
        "/contacts/", {"q": "pessoa"}, headers={"HX-Request": "true", "HX-Target": "contact-list"}
    )
    assert b"<html" not in rows.content and b"Pessoa 2" in rows.content


def test_the_api_lists_reads_edits_and_acts_with_bounds(org, other_org):
    contact = org.conversation().contact
    stranger = other_org.conversation().contact
    headers = {"Authorization": f"Bearer {org.api_token()}"}
    from django.test import Client

    api = Client()
    listed = api.get("/api/contacts", {"q": "5511999990001"}, headers=headers).json()
    assert [c["id"] for c in listed["contacts"]] == [contact.pk] and listed["count"] == 1
    assert api.get(f"/api/contacts/{stranger.pk}", headers=headers).status_code == 404
    assert api.get("/api/contacts", {"limit": 201}, headers=headers).status_code == 422
    assert api.get("/api/contacts", {"wrote_within_days": 0}, headers=headers).status_code == 422

    def post(path, body):
        return api.post(path, body, content_type="application/json", headers=headers)

    patched = api.patch(
        f"/api/contacts/{contact.pk}",
        {"name": "Ana", "custom_fields": {"cidade": "Recife"}},
        content_type="application/json",
        headers=headers,
    )
    assert patched.json()["custom_fields"] == {"cidade": "Recife"}
    assert post(f"/api/contacts/{contact.pk}/block", {"reason": ""}).status_code == 422
    assert post(f"/api/contacts/{contact.pk}/block", {"reason": "spam"}).json()["blocked"]
    assert post(f"/api/contacts/{contact.pk}/opt-out", {"reason": "x"}).json()["opted_out"]
    granted = post(f"/api/contacts/{contact.pk}/consent", {"granted": True, "evidence": "form"})
    assert granted.status_code == 201
    body = granted.json()
    assert body["marketing_consent"] and body["consent_history"][0]["channel"] == "api"
    first = api.get("/api/contacts", {"limit": 1, "blocked": "yes"}, headers=headers).json()
    assert first["contacts"][0]["blocked"] and first["next_cursor"] is None


def test_starting_a_conversation_sends_once_through_the_engine(org):
    from conversa.engine.models import MessageIntent

    contact = Contact.objects.create(organization=org.org, name="Nova", phone="5511977776666")
    client = org.client()
    form = {"number": org.number.pk, "body": "Olá, Nova!", "idempotency_key": "1" * 36}
    first = client.post(f"/contacts/{contact.pk}/start", form)
    again = client.post(f"/contacts/{contact.pk}/start", form)  # a double submit
    intent = MessageIntent.objects.get(contact=contact)
    assert first["Location"] == again["Location"] == f"/intents/{intent.pk}/"
    assert (intent.origin, intent.number_id, intent.body, intent.created_by) == (
        MessageIntent.Origin.CHAT_MANUAL,
        org.number.pk,
        "Olá, Nova!",
        org.owner,
    )
    assert (
        client.post(f"/contacts/{contact.pk}/start", {"number": org.number.pk}).status_code == 400
    )


def test_a_cloud_number_outside_the_window_takes_only_a_template(org):
    from conversa.numbers.models import Number

    cloud = Number.objects.create(
        organization=org.org,
        name="Oficial",
        provider=Number.Provider.CLOUD,
        provider_name="cloud-1",
        phone_number="5511900001111",
        status=Number.Status.CONNECTED,
    )
    contact = org.conversation().contact  # wrote to the sandbox number, not to this one
    assert not contacts.needs_template(contact, org.number)
    assert contacts.needs_template(contact, cloud)
    with pytest.raises(Refused):
        contacts.start_conversation(
            contact, cloud, body="Oi", idempotency_key="a", acting_member=org.owner
        )
    with pytest.raises(Refused):
        contacts.start_conversation(
            contact,
            cloud,
            template={"name": "Bad Name", "language": "pt_BR", "variables": []},
            idempotency_key="b",
            acting_member=org.owner,
        )
    intent = contacts.start_conversation(
        contact,
        cloud,
        template={"name": "boas_vindas", "language": "pt_BR", "variables": ["Ana"]},
        idempotency_key="c",
        acting_member=org.owner,
    )
    assert intent.template["name"] == "boas_vindas" and intent.number_id == cloud.pk
    page = org.client().get(f"/contacts/{contact.pk}/").content.decode()
    assert "template only" in page
