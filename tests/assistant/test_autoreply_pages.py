"""Settings → Automatic replies and the conversation's assistant banner (pages; the behaviour
is test_autoreply.py's)."""

from conversa.assistant import knowledge, outputs
from conversa.assistant.models import AssistantOutput, AssistantSession, AutoReply, Persona
from conversa.inbox import ownership


def test_setting_automatic_replies(org, other_org):
    client = org.client()
    page = client.get("/settings/assistant/auto-replies/")
    assert page.status_code == 200
    assert "The assistant answers no one yet" in page.content.decode()
    assert "Create a persona first" in page.content.decode()
    persona = Persona.objects.create(organization=org.org, name="Lia", active=True)
    form = {
        "target": f"n:{org.number.pk}",
        "persona": str(persona.pk),
        "when": "outside_hours",
        "wait_seconds": "10",
        "enabled": "on",
    }
    for bad in ({"wait_seconds": "500"}, {"target": f"n:{other_org.number.pk}"}, {"when": "x"}):
        answer = client.post("/settings/assistant/auto-replies/", {**form, **bad})
        assert answer.status_code == 422
        assert "Please correct the fields marked below." in answer.content.decode()
    assert not AutoReply.objects.exists()
    answer = client.post("/settings/assistant/auto-replies/", form)
    assert answer.status_code == 302
    rule = AutoReply.objects.get()
    assert (rule.number, rule.when, rule.wait_seconds, rule.enabled) == (
        org.number,
        "outside_hours",
        10,
        True,
    )
    page = client.get("/settings/assistant/auto-replies/").content.decode()
    assert "As Lia" in page and "Outside business hours" in page
    agent = org.client(org.member())
    assert agent.get("/settings/assistant/auto-replies/").status_code == 403
    assert (
        other_org.client().post(f"/settings/assistant/auto-replies/{rule.pk}/delete").status_code
        == 404
    )
    client.post(f"/settings/assistant/auto-replies/{rule.pk}/delete")
    assert not AutoReply.objects.exists()


def test_the_banner_stops_and_resumes(org, other_org):
    persona = Persona.objects.create(organization=org.org, name="Lia", active=True)
    AutoReply.objects.create(organization=org.org, number=org.number, persona=persona)
    conversation = org.customer_writes(text="Oi").conversation
    client = org.client()
    path = f"/conversations/{conversation.pk}/assistant"
    banner = client.get(path).content.decode()
    assert 'data-state="active"' in banner and "Stop the assistant" in banner
    answer = client.post(f"{path}/stop", headers={"HX-Request": "true"})
    assert 'data-state="taken_over"' in answer.content.decode()
    assert "Turn the assistant back on" in answer.content.decode()
    answer = client.post(f"{path}/resume", headers={"HX-Request": "true"})
    assert 'data-state="active"' in answer.content.decode()
    ownership.claim(conversation, acting_member=org.owner)
    client.post(f"{path}/stop", headers={"HX-Request": "true"})
    answer = client.post(f"{path}/resume", headers={"HX-Request": "true"})
    assert answer.status_code == 409
    assert "a person holds it" in answer.content.decode()
    assert AssistantSession.objects.get().state == "taken_over"
    assert client.post(f"{path}/explode").status_code == 404
    assert other_org.client().get(path).status_code == 404
    # A conversation the assistant never answered shows nothing.
    quiet = org.customer_writes(phone="5511999990009", text="Oi").conversation
    AssistantSession.objects.filter(conversation=quiet).delete()
    assert client.get(f"/conversations/{quiet.pk}/assistant").content.decode().strip() == ""


def test_the_banner_shows_what_the_answer_rested_on_and_takes_a_rating(org, other_org):
    persona = Persona.objects.create(organization=org.org, name="Lia", active=True)
    AutoReply.objects.create(organization=org.org, number=org.number, persona=persona)
    conversation = org.customer_writes(text="Vocês entregam?").conversation
    source = knowledge.save_source(
        org.org,
        acting_member=org.owner,
        title="Entrega",
        kind="text",
        body="Entregamos em todo o <b>Brasil</b>.",
    )
    output = outputs.record_output(
        org.org,
        kind=AssistantOutput.Kind.REPLY,
        text="Sim!",
        passages=list(source.passages.all()),
        conversation=conversation,
    )
    client = org.client(org.member())
    path = f"/conversations/{conversation.pk}/assistant"
    banner = client.get(path).content.decode()
    assert "What its last answer was based on" in banner
    assert "Entregamos em todo o &lt;b&gt;Brasil&lt;/b&gt;." in banner
    # The banner's rating is every AI output's (assistant/_ai_rating.html, one route).
    rate = f"/assistant/outputs/{output.pk}/rate"
    assert rate in banner
    answer = client.post(rate, {"rating": "bad"}, headers={"HX-Request": "true"})
    assert 'aria-pressed="true" data-rate="bad"' in answer.content.decode()
    output.refresh_from_db()
    assert output.rating == "bad"
    assert other_org.client().post(rate, {"rating": "good"}).status_code == 404
    answer = client.post(rate, {"rating": "meh"}, headers={"HX-Request": "true"})
    assert answer.status_code == 422 and "A rating is" in answer.content.decode()
