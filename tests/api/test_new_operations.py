"""The API operations added so that every page action has one (issue 21, item 7): each does
what its page does, through the same service. Who may call them: tests/accounts/test_role_matrix.py."""

import json

import pytest
from django.test import Client

from conversa.accounts.models import Member, OperationalEvent
from conversa.campaigns import imports
from conversa.crm import services as crm
from conversa.engine.models import MessageIntent
from conversa.inbox import surveys
from conversa.inbox.models import Attachment, Contact, Presence
from conversa.numbers.models import Number
from tests.conftest import make_org


def call(org, method: str, path: str, data=None, member=None):
    token = org.api_token(member)
    return Client().generic(
        method,
        path,
        data=json.dumps(data or {}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def org(db):
    return make_org()


def test_a_reaction_to_a_customer_message_is_an_intent(org):
    message = org.customer_writes("5511988887777", "Chegou?")
    path = f"/api/conversations/{message.conversation_id}/messages/{message.pk}/reaction"
    answer = call(org, "POST", path, {"emoji": "👍"})
    assert answer.status_code == 201, answer.content
    intent = MessageIntent.objects.get(pk=answer.json()["id"])
    assert intent.organization_id == org.org.pk
    refused = call(org, "POST", path, {"emoji": "🦄"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "emoji"]


def test_retrying_a_message_that_did_not_fail_is_a_conflict(org):
    message = org.customer_writes("5511988887777", "Oi")
    path = f"/api/conversations/{message.conversation_id}/messages/{message.pk}/retry"
    answer = call(org, "POST", path)
    assert answer.status_code == 409
    assert answer.json()["error"] == "conflict"


def test_a_failed_download_goes_back_in_line(org):
    message = org.customer_writes("5511988887777", "foto")
    attachment = Attachment.objects.create(
        organization_id=org.org.pk, message=message, kind="image", state="failed", attempts=5
    )
    answer = call(org, "POST", f"/api/attachments/{attachment.pk}/retry")
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "pending"
    other = make_org()
    assert call(other, "POST", f"/api/attachments/{attachment.pk}/retry").status_code == 404


def test_survey_and_read_receipts_are_set_as_their_pages_set_them(org):
    answer = call(org, "PUT", "/api/survey", {"enabled": True, "question": "", "open_hours": 48})
    assert answer.status_code == 200, answer.content
    saved = surveys.settings_of(org.org.pk)
    assert (saved.enabled, saved.open_hours) == (True, 48)
    assert call(org, "PUT", "/api/survey", {"enabled": True, "open_hours": 0}).status_code == 422
    answer = call(org, "PUT", "/api/read-receipts", {"enabled": False})
    assert answer.json() == {"enabled": False}
    org.org.refresh_from_db()
    assert org.org.send_read_receipts is False
    agent = org.member(Member.Role.AGENT)
    refused = call(org, "PUT", "/api/read-receipts", {"enabled": True}, member=agent)
    assert refused.status_code == 403


def test_own_profile_and_notifications(org):
    answer = call(org, "PUT", "/api/me", {"display_name": "  Ana  Souza ", "language": "pt-br"})
    assert answer.status_code == 200, answer.content
    org.owner.refresh_from_db()
    assert (org.owner.display_name, org.owner.language) == ("Ana Souza", "pt-br")
    wanted = {
        "automatic": False,
        "notify_assigned": True,
        "notify_messages": False,
        "notify_mentions": True,
        "notify_sound": False,
    }
    answer = call(org, "PUT", "/api/operators/me/notifications", wanted)
    assert answer.json() == wanted
    presence = Presence.objects.get(member=org.owner)
    assert (presence.automatic, presence.notify_messages) == (False, False)


def test_retention_is_set_and_recorded(org):
    answer = call(org, "PUT", "/api/organization/retention", {"retention_days": 30})
    assert answer.json() == {"retention_days": 30}
    assert call(org, "PUT", "/api/organization/retention", {"retention_days": 0}).status_code == 422
    assert call(org, "PUT", "/api/organization/retention", {"retention_days": None}).json() == {
        "retention_days": None
    }
    assert OperationalEvent.objects.filter(
        organization_id=org.org.pk, verb="organization.retention_changed"
    ).exists()


def test_stages_are_changed_moved_and_deleted(org):
    pipeline = crm.create_pipeline(
        org.org,
        "Vendas",
        acting_member=org.owner,
        stages=[{"name": "Novo"}, {"name": "Proposta"}, {"name": "Fechado"}],
    )
    first, second, third = pipeline.stages.order_by("position")
    answer = call(org, "PATCH", f"/api/crm/stages/{third.pk}", {"name": "Ganho", "is_won": True})
    assert answer.status_code == 200, answer.content
    assert (answer.json()["name"], answer.json()["is_won"]) == ("Ganho", True)
    assert answer.json()["colour"] == third.colour  # not sent: unchanged
    moved = call(org, "POST", f"/api/crm/stages/{third.pk}/move", {"direction": "up"})
    assert [s["name"] for s in moved.json()["stages"]] == ["Novo", "Ganho", "Proposta"]
    crm.create_lead(org.conversation().contact, first, "Plano", acting_member=org.owner)
    assert call(org, "DELETE", f"/api/crm/stages/{first.pk}").status_code == 409
    assert call(org, "DELETE", f"/api/crm/stages/{second.pk}").status_code == 204
    fields = call(
        org, "PUT", f"/api/crm/pipelines/{pipeline.pk}/fields", {"custom_fields": ["cidade"]}
    )
    assert fields.json()["custom_fields"] == ["cidade"]
    assert [s["name"] for s in fields.json()["stages"]] == ["Novo", "Ganho"]


def test_an_imports_columns_are_mapped_and_it_starts(org):
    imp = imports.upload(
        org.org,
        file_name="lista.csv",
        data=b"telefone;nome\n11988887777;Ana\n",
        acting_member=org.owner,
    )
    path = f"/api/contact-imports/{imp.pk}/mapping"
    answer = call(org, "PUT", path, {"mapping": {"0": "phone", "1": "name"}, "start": True})
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] != "draft"
    again = call(org, "PUT", path, {"mapping": {"0": "phone"}})
    assert again.status_code == 422  # already started


def test_two_contacts_of_one_person_are_merged(org):
    keep = org.conversation("5511977776666").contact
    gone = org.conversation("5511966665555").contact
    path = f"/api/contacts/{keep.pk}/merge"
    assert call(org, "POST", path, {"other_id": gone.pk}).status_code == 422  # no reason
    answer = call(org, "POST", path, {"other_id": gone.pk, "reason": "a mesma pessoa"})
    assert answer.status_code == 200, answer.content
    assert not Contact.objects.filter(pk=gone.pk).exists()
    assert call(org, "POST", path, {"other_id": keep.pk, "reason": "x"}).status_code == 422


def test_a_number_is_added_through_the_provider(delivered_webhooks):
    org = make_org(webhook_base=delivered_webhooks)
    refused = call(org, "POST", "/api/numbers", {"name": "Loja", "provider": "evolution"})
    assert refused.status_code == 422
    assert {e["loc"][1] for e in refused.json()["errors"]} >= {"base_url", "api_key"}
    answer = call(org, "POST", "/api/numbers", {"name": "Loja Centro", "provider": "sandbox"})
    assert answer.status_code == 201, answer.content
    number = Number.objects.get(pk=answer.json()["id"], organization=org.org)
    assert number.name == "Loja Centro"
    connected = call(org, "POST", f"/api/numbers/{number.pk}/connect")
    assert connected.status_code == 200
