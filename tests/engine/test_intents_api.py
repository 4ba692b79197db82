from conversa.engine import jobs, services
from conversa.engine.models import ExecutionJob, MessageIntent

S = ExecutionJob.Status


def test_create_intent_by_phone_with_idempotency_key(client, org):
    headers = {"Authorization": f"Bearer {org.api_token()}", "Idempotency-Key": "welcome-1"}
    payload = {"phone": "+5511944443333", "body": "Bem-vindo!"}
    first = client.post("/api/intents", payload, content_type="application/json", headers=headers)
    again = client.post("/api/intents", payload, content_type="application/json", headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["origin"] == "api"
    assert [e["verb"] for e in first.json()["timeline"]] == ["intent.created", "gate.allow"]
    assert MessageIntent.objects.count() == 1


def test_create_intent_rejects_a_bad_number_with_a_clear_error(client, org):
    response = client.post(
        "/api/intents",
        {"phone": "call me", "body": "x"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {org.api_token()}"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "phone"


def test_get_intent_shows_its_timeline_and_another_orgs_is_404(client, org, other_org):
    intent, _ = services.reply(org.conversation(), "Olá", acting_member=org.owner)
    theirs, _ = services.reply(other_org.conversation(), "Oi", acting_member=other_org.owner)
    headers = {"Authorization": f"Bearer {org.api_token()}"}
    detail = client.get(f"/api/intents/{intent.pk}", headers=headers).json()
    assert detail["decisions"][0]["verdict"] == "allow"
    assert detail["message_status"] == "pending"
    assert client.get(f"/api/intents/{theirs.pk}", headers=headers).status_code == 404


def test_list_filters(client, org):
    services.reply(org.conversation("5511900000001"), "a", acting_member=org.owner)
    blocked_conversation = org.conversation("5511900000002")
    blocked_conversation.contact.blocked = True
    blocked_conversation.contact.save()
    services.reply(blocked_conversation, "b", acting_member=org.owner)
    headers = {"Authorization": f"Bearer {org.api_token()}"}
    blocked = client.get("/api/intents?status=blocked", headers=headers).json()
    assert [i["body"] for i in blocked] == ["b"]
    pending = client.get("/api/intents?job_status=pending", headers=headers).json()
    assert [i["body"] for i in pending] == ["a"]


def test_cancel_and_resolve_through_the_api(client, org):
    headers = {"Authorization": f"Bearer {org.api_token()}"}
    intent, _ = services.reply(org.conversation("5511900000001"), "a", acting_member=org.owner)
    assert client.post(f"/api/intents/{intent.pk}/cancel", headers=headers).status_code == 200
    assert client.post(f"/api/intents/{intent.pk}/cancel", headers=headers).status_code == 409
    other, _ = services.reply(org.conversation("5511900000002"), "b", acting_member=org.owner)
    url = f"/api/intents/{other.pk}/resolve"
    body = {"action": "resend"}
    assert (
        client.post(url, body, content_type="application/json", headers=headers).status_code == 409
    )
    jobs.claim_batch("w", 10)
    job = ExecutionJob.objects.get(intent=other)
    jobs.transition(job, S.SENDING)
    jobs.transition(job, S.UNCERTAIN)
    response = client.post(url, body, content_type="application/json", headers=headers)
    assert response.status_code == 200
    assert ExecutionJob.objects.get(intent=other).status == S.PENDING
    assert "job.resend" in [e["verb"] for e in response.json()["timeline"]]


def test_intent_page_offers_resend_for_an_uncertain_send(org):
    intent, _ = services.reply(org.conversation(), "a", acting_member=org.owner)
    ExecutionJob.objects.filter(intent=intent).update(status=S.UNCERTAIN)
    client = org.client()
    page = client.get(f"/intents/{intent.pk}/").content.decode()
    assert "Resend" in page and "Mark failed" in page
    client.post(f"/intents/{intent.pk}/mark_failed")
    assert ExecutionJob.objects.get(intent=intent).status == S.FAILED


def test_intents_page_filters_by_status(org):
    services.reply(org.conversation(), "visible-one", acting_member=org.owner)
    client = org.client()
    assert "visible-one" in client.get("/intents/?job_status=pending").content.decode()
    assert "visible-one" not in client.get("/intents/?job_status=sent").content.decode()
