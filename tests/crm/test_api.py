"""The CRM's API: scoped to the organization, thin over the services."""

import json

import pytest

from conversa.crm.models import FollowUp, Lead, StageChange
from conversa.engine.models import MessageIntent
from tests.crm.helpers import STEPS, automation, lead, pipeline, run_worker, stage

pytestmark = pytest.mark.django_db


def call(client, method, url, body=None):
    response = getattr(client, method)(
        f"/api{url}",
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
    )
    return response.status_code, response.json() if response.content else None


def test_pipelines_leads_and_a_same_stage_patch(org):
    client = org.client()
    status, p = call(
        client,
        "post",
        "/crm/pipelines",
        {
            "name": "Vendas",
            "stages": [{"name": "Novo"}, {"name": "Proposta"}],
            "custom_fields": ["plano"],
        },
    )
    assert status == 201 and [s["name"] for s in p["stages"]] == ["Novo", "Proposta"]
    novo, proposta = (s["id"] for s in p["stages"])
    status, a = call(
        client,
        "post",
        "/crm/automations",
        {
            "name": "F",
            "stage_id": proposta,
            "steps": [{"template": "Oi {{lead.plano}}"}],
        },
    )
    assert status == 201 and a["pipeline_id"] == p["id"] and a["steps"][0]["position"] == 1
    status, created = call(
        client,
        "post",
        "/crm/leads",
        {
            "phone": "+5511988887777",
            "name": "Ana",
            "pipeline_id": p["id"],
            "title": "Plano",
            "value": "100.5",
            "custom_fields": {"plano": "Ouro"},
        },
    )
    assert status == 201 and created["stage_id"] == novo
    url = f"/crm/leads/{created['id']}"
    status, moved = call(client, "patch", url, {"stage_id": proposta})
    assert status == 200 and moved["stage_id"] == proposta
    assert MessageIntent.objects.get().body == "Oi Ouro"
    changes = StageChange.objects.count()
    status, again = call(client, "patch", url, {"stage_id": proposta})
    assert status == 200 and again["stage_id"] == proposta
    assert StageChange.objects.count() == changes and MessageIntent.objects.count() == 1
    status, listed = call(client, "get", f"/crm/leads?stage_id={proposta}&q=ana")
    assert [row["id"] for row in listed] == [created["id"]]
    run_worker()
    status, timeline = call(client, "get", f"{url}/timeline")
    verbs = [(e["kind"], e["verb"]) for e in timeline]
    assert ("stage", "moved") in verbs and ("follow_up", "sent") in verbs
    assert ("message", "sent") in verbs
    status, counters = call(client, "get", "/crm/follow-ups/counters")
    assert counters["sent"] == 1 and counters["duplicate_blocked"] == 0


def test_unknown_variables_are_a_422_naming_them(org):
    p = pipeline(org)
    status, body = call(
        org.client(),
        "post",
        "/crm/automations",
        {
            "name": "F",
            "stage_id": stage(p, "Proposta").pk,
            "steps": [{"template": "Oi {{contact.nome}}"}],
        },
    )
    assert status == 422 and "{{contact.nome}}" in json.dumps(body)


def test_another_organization_cannot_see_or_move_a_lead(org, other_org):
    p = pipeline(org)
    mine = lead(org, p)
    automation(org, stage(p, "Proposta"))
    theirs = other_org.client()
    assert call(theirs, "get", f"/crm/leads/{mine.pk}")[0] == 404
    assert (
        call(theirs, "patch", f"/crm/leads/{mine.pk}", {"stage_id": stage(p, "Proposta").pk})[0]
        == 404
    )
    assert call(theirs, "get", f"/crm/leads/{mine.pk}/timeline")[0] == 404
    assert call(theirs, "get", "/crm/leads")[1] == []
    assert call(theirs, "get", "/crm/automations")[1] == []
    # Their own lead into my stage: my stage is not found for them.
    their_p = pipeline(other_org)
    their_lead = lead(other_org, their_p)
    status, _ = call(
        theirs, "patch", f"/crm/leads/{their_lead.pk}", {"stage_id": stage(p, "Proposta").pk}
    )
    assert status == 404
    assert Lead.objects.get(pk=mine.pk).stage.name == "Novo"
    assert FollowUp.objects.count() == 0


def test_automations_pause_resume_delete_and_list(org):
    p = pipeline(org)
    a = automation(org, stage(p, "Proposta"))
    services_lead = lead(org, p)
    client = org.client()
    call(client, "patch", f"/crm/leads/{services_lead.pk}", {"stage_id": stage(p, "Proposta").pk})
    status, listed = call(client, "get", f"/crm/automations?pipeline_id={p.pk}&active=true")
    assert listed[0]["pending"] == 3 and len(listed[0]["steps"]) == len(STEPS)
    status, paused = call(client, "post", f"/crm/automations/{a.pk}/pause")
    assert paused["active"] is False and paused["pending"] == 0
    assert call(client, "post", f"/crm/automations/{a.pk}/resume")[1]["active"] is True
    status, body = call(
        client,
        "put",
        f"/crm/automations/{a.pk}",
        {
            "name": "Novo nome",
            "stage_id": stage(p, "Proposta").pk,
            "steps": [{"template": "Um"}, {"delay": 1, "delay_unit": "hours", "template": "Dois"}],
        },
    )
    assert status == 200 and [s["template"] for s in body["steps"]] == ["Um", "Dois"]
    status, preview = call(
        client,
        "post",
        "/crm/automations/preview",
        {
            "template": "Oi {{contact.first_name}}: {{lead.title}}",
            "lead_id": services_lead.pk,
        },
    )
    assert preview == {"text": "Oi Maria: Plano anual"}
    assert call(client, "delete", f"/crm/automations/{a.pk}")[0] == 204
    assert call(client, "get", "/crm/automations")[1] == []


def test_agents_may_move_leads_but_not_manage_automations(org):
    p = pipeline(org)
    agent = org.client(org.member())
    status, _ = call(
        agent,
        "post",
        "/crm/automations",
        {
            "name": "F",
            "stage_id": stage(p, "Proposta").pk,
            "steps": [{"template": "Oi"}],
        },
    )
    assert status == 403
    the_lead = lead(org, p)
    assert (
        call(agent, "patch", f"/crm/leads/{the_lead.pk}", {"stage_id": stage(p, "Proposta").pk})[0]
        == 200
    )
    assert call(agent, "post", "/crm/follow-ups/dispatch")[0] == 403


def test_internal_dispatch_needs_the_internal_token(org, client, monkeypatch):
    url = "/api/internal/follow-ups/dispatch"
    assert client.post(url).status_code == 401
    monkeypatch.delenv("CONVERSA_INTERNAL_TOKEN", raising=False)
    assert client.post(url, headers={"Authorization": "Bearer x"}).status_code == 403
    monkeypatch.setenv("CONVERSA_INTERNAL_TOKEN", "s3cret-token")
    wrong = client.post(url, headers={"Authorization": "Bearer s3cret-tokem"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
    # An organization's API token is not the internal token.
    assert (
        client.post(url, headers={"Authorization": f"Bearer {org.api_token()}"}).status_code == 403
    )
    ok = client.post(
        url,
        data={"organization": org.org.slug},
        content_type="application/json",
        headers={"Authorization": "Bearer s3cret-token"},
    )
    assert ok.status_code == 200 and ok.json()["made_runnable"] == 0


def test_an_automations_pending_steps_are_counted_together(org):
    p = pipeline(org)
    made = automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    client = org.client()
    call(client, "patch", f"/crm/leads/{the_lead.pk}", {"stage_id": stage(p, "Proposta").pk})
    response = client.get(f"/api/crm/automations/{made.pk}")
    assert response.json()["pending"] == 3
    [listed] = client.get("/api/crm/automations").json()
    assert (listed["pending"], listed["next_due_at"]) == (3, response.json()["next_due_at"])
