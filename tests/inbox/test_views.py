"""The operator view over HTTP: the list and its tabs, the thread with its history and
statuses, the header's actions, the composer's window and templates, retries, escaping."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from conversa.engine.models import MessageIntent
from conversa.inbox import canned_replies, ownership, states, tags
from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number

HX = {"HX-Request": "true"}


def test_the_page_lists_the_queue_and_opens_a_conversation(org):
    conversation = org.customer_writes(text="Oi, tudo bem?", name="Mariana").conversation
    client = org.client()
    page = client.get("/inbox/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Mariana" in html and 'id="count-queue"' in html
    # Nothing is mine yet: the Queue tab is the one shown.
    assert 'value="queue" checked' in html
    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert "Oi, tudo bem?" in page and 'data-action="claim"' in page
    assert "24-hour window" in page


def test_picking_a_conversation_in_the_list_redraws_only_the_workspace(org):
    conversation = org.conversation()
    html = (
        org.client()
        .get(f"/inbox/c/{conversation.pk}/", headers={**HX, "HX-Target": "workspace"})
        .content.decode()
    )
    assert 'id="workspace"' in html and 'id="list-filters"' not in html


def test_message_text_is_escaped_everywhere(org):
    evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=1"> <a href="javascript:alert(1)">x</a>'
    conversation = org.customer_writes(text=evil, name="<b>Eve</b>").conversation
    client = org.client()
    for url in ["/inbox/", f"/inbox/c/{conversation.pk}/", f"/inbox/c/{conversation.pk}/thread"]:
        html = client.get(url).content.decode()
        assert "<script>window.pwned" not in html
        assert "<img src=x" not in html and '<a href="javascript' not in html
        assert "<b>Eve</b>" not in html


def test_claim_then_a_second_claim_is_told_who_has_it(org):
    conversation = org.conversation()
    ana, bruno = org.member(), org.member()
    assert (
        org.client(ana).post(f"/inbox/c/{conversation.pk}/do/claim", headers=HX).status_code == 200
    )
    refused = org.client(bruno).post(f"/inbox/c/{conversation.pk}/do/claim", headers=HX)
    assert refused.status_code == 409
    assert f"{ana.display_name} has this conversation." in refused.content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee == ana


def test_actions_show_in_the_thread_as_history(org):
    conversation = org.conversation()
    ana = org.member()
    client = org.client()
    client.post(f"/inbox/c/{conversation.pk}/do/assign", {"member": ana.pk}, headers=HX)
    response = client.post(f"/inbox/c/{conversation.pk}/do/resolve", {"reason": "done"}, headers=HX)
    html = response.content.decode()
    assert f"assigned it to {ana.display_name}" in html
    assert f"Resolved by {org.owner.display_name}" in html and 'data-action="reopen"' in html
    assert response["HX-Trigger"]


def test_an_agent_cannot_assign_and_actions_stay_in_the_organization(org, other_org):
    conversation = org.conversation()
    agent = org.member()
    refused = org.client(agent).post(
        f"/inbox/c/{conversation.pk}/do/assign", {"member": agent.pk}, headers=HX
    )
    # A role refusal, not a clash: 403 with its words (the page shows them in a toast).
    assert refused.status_code == 403 and "Only supervisors" in refused.content.decode()
    theirs = other_org.conversation()
    assert org.client().post(f"/inbox/c/{theirs.pk}/do/claim").status_code == 404
    stranger = other_org.member()
    response = org.client().post(
        f"/inbox/c/{conversation.pk}/do/assign", {"member": stranger.pk}, headers=HX
    )
    assert response.status_code == 404


def test_a_failed_message_is_retried_once_as_a_new_intent(org):
    conversation = org.conversation()
    failed = Message.objects.create(
        organization=org.org,
        conversation=conversation,
        number=org.number,
        direction="out",
        body="Seu pedido saiu",
        status=Message.Status.FAILED,
        error="Number disconnected",
    )
    client = org.client()
    html = client.get(f"/inbox/c/{conversation.pk}/thread").content.decode()
    assert "Number disconnected" in html and f"/m/{failed.pk}/retry" in html
    for _ in range(2):  # a double click
        response = client.post(f"/inbox/c/{conversation.pk}/m/{failed.pk}/retry", headers=HX)
        assert response.status_code == 200
    intents = MessageIntent.objects.filter(idempotency_key=f"chat:retry:{failed.pk}")
    assert intents.count() == 1 and intents.get().body == "Seu pedido saiu"
    assert conversation.messages.filter(direction="out").count() == 2


def test_statuses_show_as_clock_ticks_and_blue_ticks(org):
    conversation = org.conversation()
    for status in ["pending", "sent", "delivered", "read"]:
        Message.objects.create(
            organization=org.org,
            conversation=conversation,
            number=org.number,
            direction="out",
            body=status,
            status=status,
        )
    html = org.client().get(f"/inbox/c/{conversation.pk}/thread").content.decode()
    for status, icon in [
        ("pending", "icon-clock"),
        ("sent", "icon-check"),
        ("delivered", "icon-checks"),
        ("read", "icon-checks"),
    ]:
        assert f'tick-{status}" title=' in html
        assert icon in html


def test_media_shows_a_placeholder(org):
    conversation = org.conversation()
    Message.objects.create(
        organization=org.org,
        conversation=conversation,
        number=org.number,
        direction="in",
        kind="audio",
        body="",
        status="received",
    )
    html = org.client().get(f"/inbox/c/{conversation.pk}/thread").content.decode()
    assert "icon-audio" in html and "Audio" in html


@pytest.fixture
def cloud(org):
    Number.objects.filter(pk=org.number.pk).update(provider=Number.Provider.CLOUD)
    org.number.refresh_from_db()
    return org


def test_outside_the_window_a_cloud_number_takes_a_template_not_text(cloud):
    conversation = cloud.conversation()
    Conversation.objects.filter(pk=conversation.pk).update(
        last_inbound_at=timezone.now() - timedelta(hours=25)
    )
    client = cloud.client()
    html = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert 'name="template_name"' in html and 'id="reply-body"' not in html
    refused = client.post(f"/inbox/c/{conversation.pk}/reply", {"body": "oi"}, headers=HX)
    assert refused.status_code == 422
    response = client.post(
        f"/inbox/c/{conversation.pk}/template",
        {
            "template_name": "pedido_enviado",
            "template_language": "pt_BR",
            "template_variables": "Ana\n4821",
            "idempotency_key": "k1",
        },
        headers=HX,
    )
    assert response.status_code == 200
    intent = MessageIntent.objects.get(idempotency_key="chat:k1")
    assert intent.template == {
        "name": "pedido_enviado",
        "language": "pt_BR",
        "variables": ["Ana", "4821"],
    }
    # The closed window's composer offers the templates sent before to pick from.
    html = client.get(f"/inbox/c/{conversation.pk}/composer").content.decode()
    assert 'list="template-choices"' in html
    assert '<option value="pedido_enviado">pt_BR</option>' in html
    bad = client.post(
        f"/inbox/c/{conversation.pk}/template",
        {"template_name": "Not Valid", "template_language": "pt_BR"},
        headers=HX,
    )
    assert bad.status_code == 422


def test_inside_the_window_the_composer_shows_time_left(cloud):
    conversation = cloud.conversation()
    html = cloud.client().get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert 'id="reply-body"' in html and "min left" in html


def test_tabs_count_and_filter_in_the_list_fragment(org):
    first = org.conversation("5511900000001")
    org.conversation("5511900000002")
    ownership.claim(first, acting_member=org.owner)
    client = org.client()
    html = client.get("/inbox/list", {"tab": "mine"}, headers=HX).content.decode()
    assert 'id="count-mine" hx-swap-oob="true">1<' in html
    assert 'id="count-queue" hx-swap-oob="true">1<' in html
    assert 'id="count-all" hx-swap-oob="true">2<' in html
    html = client.get("/inbox/list", {"tab": "all", "q": "nothing like it"}, headers=HX)
    assert "Nothing matches" in html.content.decode()


def test_load_more_follows_the_cursor(org):
    for n in range(55):
        org.conversation(f"55119000{n:05d}")
    client = org.client()
    html = client.get("/inbox/", {"tab": "all"}).content.decode()
    assert html.count('class="conversation ') == 50 and "Load more" in html
    more = html.split('hx-get="/inbox/list?')[1].split('"')[0].replace("&amp;", "&")
    rest = client.get(f"/inbox/list?{more}", headers=HX).content.decode()
    assert rest.count('class="conversation ') == 5 and "Load more" not in rest


def test_contact_panel_shows_consent_and_past_conversations(org):
    newer = org.conversation()
    conversation = Conversation.objects.create(
        organization=org.org,
        number=org.number,
        contact=newer.contact,
        status=Conversation.Status.RESOLVED,
        last_message_at=timezone.now() - timedelta(days=3),
    )
    Contact.objects.filter(pk=newer.contact_id).update(opted_out=True)
    html = org.client().get(f"/inbox/c/{newer.pk}/contact").content.decode()
    assert "Opted out" in html and f"/inbox/c/{conversation.pk}/" in html


def test_contact_panel_promises_no_campaign_without_a_recorded_consent(org):
    conversation = org.conversation()
    html = org.client().get(f"/inbox/c/{conversation.pk}/contact").content.decode()
    # Not opted out is not consent: only recorded marketing consent lets a campaign through.
    assert "Not opted out" in html
    assert "No marketing consent recorded" in html
    assert "Campaigns will not reach this contact." in html
    assert "consented campaigns may reach" not in html


def test_contact_panel_without_tags_sends_supervisors_to_the_tags_page(org):
    conversation = org.conversation()
    url = f"/inbox/c/{conversation.pk}/contact"
    supervisor = org.client().get(url).content.decode()
    assert 'href="/inbox/settings/tags"' in supervisor and "/api/tags" not in supervisor
    agent = org.client(org.member()).get(url).content.decode()
    assert "A supervisor can create them." in agent
    assert "/inbox/settings/tags" not in agent and "/api/tags" not in agent


def test_a_note_is_kept_for_the_team_and_shown_apart(org):
    conversation = org.conversation()
    response = org.client().post(
        f"/inbox/c/{conversation.pk}/reply",
        {"body": "VIP <b>client</b>", "mode": "note"},
        headers=HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="note"' in html and "VIP &lt;b&gt;client&lt;/b&gt;" in html
    assert not conversation.messages.filter(direction="out").exists()
    assert not MessageIntent.objects.exists()


def test_canned_replies_are_found_by_shortcode_and_rendered_for_the_contact(org):

    conversation = org.customer_writes(name="Mariana Costa").conversation
    canned_replies.save_canned_reply(
        org.org, "ola", "Oi {{contact.first_name}}! <3", acting_member=org.owner
    )
    canned_replies.save_canned_reply(org.org, "preco", "Nossos planos…", acting_member=org.owner)
    html = org.client().get(f"/inbox/c/{conversation.pk}/canned", {"q": "ol"}).content.decode()
    assert "/ola" in html and "/preco" not in html
    assert 'data-body="Oi Mariana! &lt;3"' in html


def test_tags_go_on_the_conversation_and_the_contact_and_filter_the_list(org):

    conversation = org.conversation("5511900000001")
    org.conversation("5511900000002")
    vip = tags.create_tag(org.org, "VIP", "red", acting_member=org.owner)
    client = org.client()
    url = f"/inbox/c/{conversation.pk}/tags"
    html = client.post(url, {"tag": vip.pk}, headers=HX).content.decode()
    assert "tag-red" in html and "VIP" in html
    client.post(url, {"tag": vip.pk, "on": "contact"}, headers=HX)
    assert list(conversation.tags.all()) == [vip] and list(conversation.contact.tags.all()) == [vip]
    listed = client.get("/inbox/list", {"tab": "all", "tag": vip.pk}, headers=HX).content.decode()
    assert listed.count('class="conversation ') == 1
    client.post(url, {"tag": vip.pk, "do": "remove"}, headers=HX)
    assert not conversation.tags.exists()


def test_the_operator_view_speaks_portuguese(org):
    conversation = org.conversation()
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    html = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    for phrase in ["Minhas", "Fila", "Assumir", "Resolver", "Janela de 24 horas", "restam"]:
        assert phrase in html, phrase


def test_snooze_presets_fall_in_the_organizations_time_zone(org):
    from zoneinfo import ZoneInfo

    from conversa.inbox.views import snooze_presets

    tz = ZoneInfo("America/Sao_Paulo")
    now = timezone.make_aware(timezone.datetime(2026, 3, 4, 22, 30), tz)  # a Wednesday
    with timezone.override(tz):
        presets = snooze_presets(now)
    assert presets["hour"] == now + timedelta(hours=1)
    assert presets["tomorrow"] == timezone.make_aware(timezone.datetime(2026, 3, 5, 9), tz)
    assert presets["next_week"] == timezone.make_aware(timezone.datetime(2026, 3, 9, 9), tz)


def test_snooze_from_the_header_until_tomorrow_or_the_customers_reply(org):
    conversation = org.conversation()
    client = org.client()
    url = f"/inbox/c/{conversation.pk}/do/snooze"
    response = client.post(url, {"until": "tomorrow"}, headers=HX)
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == "snoozed" and conversation.snoozed_until > timezone.now()
    html = response.content.decode()
    assert 'id="snoozed-until"' in html and "snoozed it until" in html
    client.post(url, {"until": "reply"}, headers=HX)
    conversation.refresh_from_db()
    assert conversation.status == "snoozed" and conversation.snoozed_until is None
    listed = client.get("/inbox/list", {"tab": "all"}, headers=HX).content.decode()
    assert "Snoozed until a reply" in listed


def test_a_custom_snooze_is_read_in_the_organizations_time_zone_and_must_be_ahead(org):
    from zoneinfo import ZoneInfo

    conversation = org.conversation()
    client = org.client()
    url = f"/inbox/c/{conversation.pk}/do/snooze"
    later = timezone.localtime(timezone.now() + timedelta(days=2), ZoneInfo(org.org.time_zone))
    local = later.strftime("%Y-%m-%dT%H:%M")
    assert client.post(url, {"until": "at", "at": local}, headers=HX).status_code == 200
    conversation.refresh_from_db()
    assert conversation.snoozed_until == later.replace(second=0, microsecond=0)
    for bad in ["2020-01-01T10:00", "not a date", ""]:
        refused = client.post(url, {"until": "at", "at": bad}, headers=HX)
        assert refused.status_code == 409, bad
        assert 'id="action-error"' in refused.content.decode()


def test_pending_and_priority_from_the_header_show_in_the_history_and_the_list(org):
    conversation = org.conversation()
    client = org.client()
    html = client.post(f"/inbox/c/{conversation.pk}/do/pending", headers=HX).content.decode()
    assert "marked it pending" in html and 'data-action="open"' in html
    html = client.post(
        f"/inbox/c/{conversation.pk}/do/priority", {"priority": "3"}, headers=HX
    ).content.decode()
    assert "set the priority to urgent" in html
    conversation.refresh_from_db()
    assert (conversation.status, conversation.priority) == ("pending", 3)
    listed = client.get("/inbox/list", {"tab": "all"}, headers=HX).content.decode()
    assert "priority-3" in listed and "Urgent" in listed
    refused = client.post(f"/inbox/c/{conversation.pk}/do/priority", {"priority": "9"}, headers=HX)
    assert refused.status_code == 409
    html = client.post(f"/inbox/c/{conversation.pk}/do/reopen", headers=HX).content.decode()
    assert "opened it again" in html


def test_a_woken_conversation_says_why_in_its_history(org):
    conversation = org.conversation()
    states.snooze(
        conversation, acting_member=org.owner, until=timezone.now() + timedelta(minutes=1)
    )
    states.wake_snoozed(now=timezone.now() + timedelta(minutes=2))
    html = org.client().get(f"/inbox/c/{conversation.pk}/thread").content.decode()
    assert "The snooze ended: open again" in html
    states.mark_pending(conversation, acting_member=org.owner)
    org.customer_writes(text="Voltei")
    html = org.client().get(f"/inbox/c/{conversation.pk}/thread").content.decode()
    assert "The customer wrote: open again" in html


@pytest.fixture
def sla_queue(org):
    """The org's conversations in a queue with SLA targets, counted around the clock."""
    from conversa.inbox.models import Queue

    org.org.business_hours, org.org.holidays = {}, []
    org.org.save(update_fields=["business_hours", "holidays"])
    return Queue.objects.create(
        organization=org.org, name="Suporte", first_response_minutes=30, resolution_minutes=240
    )


def test_the_header_shows_each_sla_clocks_time_left_or_breach(org, sla_queue):
    now = timezone.now()
    conversation = org.conversation()
    Conversation.objects.filter(pk=conversation.pk).update(
        queue=sla_queue,
        first_response_due_at=now - timedelta(minutes=5, seconds=30),
        resolution_due_at=now + timedelta(hours=2, minutes=10, seconds=30),
    )
    html = org.client().get(f"/inbox/c/{conversation.pk}/head").content.decode()
    assert 'id="sla-first_response"' in html and "First response: breached 5 min ago" in html
    assert "sla-breached" in html
    assert "Resolution: 2 h 10 min left" in html and "sla-ok" in html
    Conversation.objects.filter(pk=conversation.pk).update(status="resolved")
    html = org.client().get(f"/inbox/c/{conversation.pk}/head").content.decode()
    assert 'id="sla-' not in html


def test_breached_conversations_are_marked_in_the_list_and_counted_per_tab(org, sla_queue):
    now = timezone.now()
    late = org.conversation("5511900000001")
    on_time = org.conversation("5511900000002")
    Conversation.objects.filter(pk=late.pk).update(
        queue=sla_queue, first_response_due_at=now - timedelta(minutes=1)
    )
    Conversation.objects.filter(pk=on_time.pk).update(
        queue=sla_queue, first_response_due_at=now + timedelta(hours=1)
    )
    client = org.client()
    html = client.get("/inbox/", {"tab": "all"}).content.decode()
    assert html.count("SLA breached") == 1 and "conversation  breached" not in html
    row = html.split(f'data-conversation-id="{late.pk}"')[0].rsplit("<a ", 1)[1]
    assert "breached" in row
    # The tab's count says what it counts, in words (it was a cryptic "!1").
    badge = r'id="breached-all"(?![^>]*hidden)[^>]*title="1 conversation past its due time"'
    assert re.search(badge + r'><span class="late-long" aria-hidden="true">1 late</span>', html)
    assert re.search(r'id="breached-mine"[^>]*hidden', html)
    fragment = client.get("/inbox/list", {"tab": "all"}, headers=HX).content.decode()
    assert 'id="breached-queue" hx-swap-oob="true"' in fragment


def test_the_new_header_controls_and_history_speak_portuguese(org):
    conversation = org.conversation()
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    client.post(f"/inbox/c/{conversation.pk}/do/priority", {"priority": "2"}, headers=HX)
    html = client.post(f"/inbox/c/{conversation.pk}/do/snooze", {"until": "reply"}, headers=HX)
    html = html.content.decode()
    for phrase in [
        "Adiar",
        "Prioridade",
        "até o cliente responder",
        "mudou a prioridade para alta",
    ]:
        assert phrase in html, phrase
    html = client.get("/inbox/settings/hours").content.decode()
    assert "Horário comercial" in html and "Segunda-feira" in html


def test_retrying_a_message_that_did_not_fail_says_why(org):
    """A refusal the view does not show itself becomes the page's answer (operator_view): the
    reason as text for the page's toast, not a silent 200."""
    conversation = org.conversation()
    delivered = Message.objects.create(
        organization=org.org,
        conversation=conversation,
        number=org.number,
        direction="out",
        body="Chegou",
        status=Message.Status.DELIVERED,
    )
    response = org.client().post(f"/inbox/c/{conversation.pk}/m/{delivered.pk}/retry", headers=HX)
    assert response.status_code == 400
    assert response.content.decode() == "Only a failed message can be sent again."
    assert not MessageIntent.objects.filter(idempotency_key=f"chat:retry:{delivered.pk}").exists()
