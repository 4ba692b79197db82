"""The policies' pages: the organization's settings (owners and admins), the kill switch's
confirmation step and its banner for every member, a number's settings, and a
conversation's hold banner with the reason in words."""

import pytest
from django.utils import timezone

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.inbox.models import Queue
from conversa.numbers.models import Number

FORM = {
    "name": "Loja Centro",
    "time_zone": "America/Sao_Paulo",
    "quiet_hours_start": "21:00",
    "quiet_hours_end": "08:00",
    "sending_mode": "week",
    "mon_on": "on",
    "mon_start": "08:00",
    "mon_end": "20:00",
    "sat_on": "on",
    "sat_start": "09:00",
    "sat_end": "13:00",
    "reopen_window_hours": "48",
    "default_hourly_quota": "100",
    "default_daily_quota": "800",
}


def test_an_owner_saves_the_organizations_settings_from_the_page(org):
    client = org.client()
    page = client.get("/settings/organization/")
    assert page.status_code == 200
    assert b"Pause all sending" in page.content and b"/inbox/settings/hours" in page.content
    saved = client.post("/settings/organization/", FORM)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    fresh = Organization.objects.get(pk=org.org.pk)
    assert fresh.name == "Loja Centro" and fresh.reopen_window_hours == 48
    assert fresh.sending_hours == {"mon": [["08:00", "20:00"]], "sat": [["09:00", "13:00"]]}
    assert (fresh.default_hourly_quota, fresh.default_daily_quota) == (100, 800)
    assert client.get(saved["Location"]).status_code == 200
    assert OperationalEvent.objects.filter(verb="organization.settings_changed").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time_zone", "Mars/Olympus"),
        ("reopen_window_hours", "²"),
        ("reopen_window_hours", "٣"),
        ("reopen_window_hours", "99999999999999999999"),
        ("default_daily_quota", "-1"),
        ("quiet_hours_start", "25:00"),
        ("quiet_hours_end", ""),
        ("mon_end", "07:00"),
    ],
)
def test_a_bad_setting_is_shown_on_the_form_and_nothing_is_saved(org, field, value):
    answer = org.client().post("/settings/organization/", {**FORM, field: value})
    assert answer.status_code == 422
    assert b"field-error" in answer.content or b'role="alert"' in answer.content
    assert Organization.objects.get(pk=org.org.pk).name != "Loja Centro"


@pytest.mark.parametrize("role", [Member.Role.SUPERVISOR, Member.Role.AGENT])
def test_only_owners_and_admins_reach_the_organizations_settings(org, role):
    client = org.client(org.member(role))
    assert client.get("/settings/organization/").status_code == 403
    assert client.post("/settings/organization/", FORM).status_code == 403
    answer = client.post("/settings/organization/kill-switch", {"paused": "1", "confirmed": "yes"})
    assert answer.status_code == 403
    assert client.get(f"/numbers/{org.number.pk}/settings").status_code == 403
    assert not Organization.objects.get(pk=org.org.pk).sending_paused
    assert (
        org.client(org.member(Member.Role.ADMIN)).get("/settings/organization/").status_code == 200
    )


def test_the_kill_switch_asks_first_then_every_member_sees_the_banner(org):
    client = org.client()
    asked = client.post("/settings/organization/kill-switch", {"paused": "1"})
    assert asked.status_code == 200 and b"Yes, pause all sending" in asked.content
    assert not Organization.objects.get(pk=org.org.pk).sending_paused
    done = client.post("/settings/organization/kill-switch", {"paused": "1", "confirmed": "yes"})
    assert done.status_code == 302
    assert Organization.objects.get(pk=org.org.pk).sending_paused
    agent = org.client(org.member())
    inbox = agent.get("/inbox/")
    assert b"Sending is paused for the whole organization" in inbox.content
    assert b"Sending is paused" in agent.get("/settings/organization/banner").content
    client.post("/settings/organization/kill-switch", {"paused": "0", "confirmed": "yes"})
    assert b"Sending is paused" not in agent.get("/inbox/").content
    verbs = set(OperationalEvent.objects.values_list("verb", flat=True))
    assert {"organization.sending_paused", "organization.sending_resumed"} <= verbs


def test_a_numbers_settings_page_changes_it(org, other_org):
    queue = Queue.objects.create(organization=org.org, name="Vendas")
    client = org.client()
    url = f"/numbers/{org.number.pk}/settings"
    assert client.get(url).status_code == 200
    data = {"name": "Loja", "hourly_quota": "5", "daily_quota": "0", "queue": str(queue.pk)}
    assert client.post(url, {**data, "paused": "on"}).status_code == 302
    number = Number.objects.get(pk=org.number.pk)
    assert (number.name, number.hourly_quota, number.daily_quota, number.paused) == (
        "Loja",
        5,
        0,
        True,
    )
    assert list(number.queues.all()) == [queue]
    assert client.post(url, {**data, "hourly_quota": "²"}).status_code == 422
    assert client.post(url, {**data, "queue": "999999"}).status_code == 422
    assert other_org.client().get(url).status_code == 404
    assert b"/settings" in client.get("/numbers/").content


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"paused": True}, b"The number is paused"),
        ({"status": Number.Status.DISCONNECTED, "connection_reason": "logged_out"}, b"Logged out"),
        ({"daily_quota": 1}, b"daily sending quota"),
    ],
)
def test_agents_see_why_a_conversations_number_is_held(org, change, words):
    conversation = org.conversation()
    agent = org.client(org.member())
    url = f"/conversations/{conversation.pk}/hold"
    assert b"on hold" not in agent.get(url).content
    if "daily_quota" in change:
        from conversa.engine.models import ExecutionJob

        ExecutionJob.objects.create(
            organization=org.org,
            intent=_intent(org, conversation),
            number=org.number,
            contact=conversation.contact,
            status=ExecutionJob.Status.SENT,
            updated_at=timezone.now(),
        )
    Number.objects.filter(pk=org.number.pk).update(**change)
    answer = agent.get(url)
    assert b"on hold" in answer.content and words in answer.content


def _intent(org, conversation):
    from conversa.engine.models import MessageIntent

    return MessageIntent.objects.create(
        organization=org.org,
        contact=conversation.contact,
        number=org.number,
        origin=MessageIntent.Origin.CHAT_MANUAL,
        body="Oi",
        idempotency_key="sent-1",
    )


def test_the_kill_switch_shows_in_the_conversation_and_another_org_sees_nothing(org, other_org):
    conversation = org.conversation()
    Organization.objects.filter(pk=org.org.pk).update(sending_paused=True)
    answer = org.client(org.member()).get(f"/conversations/{conversation.pk}/hold")
    assert b"Sending is paused for the organization" in answer.content
    assert other_org.client().get(f"/conversations/{conversation.pk}/hold").status_code == 404


def test_the_pages_and_banners_speak_portuguese(org):
    Organization.objects.filter(pk=org.org.pk).update(sending_paused=True)
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    page = client.get("/settings/organization/").content.decode()
    assert "Horário de silêncio" in page and "Retomar envio" in page
    assert "O envio está pausado para toda a organização." in page
    conversation = org.conversation()
    hold = client.get(f"/conversations/{conversation.pk}/hold").content.decode()
    assert "As mensagens deste número estão retidas." in hold
    assert "Cotas de envio" in client.get(f"/numbers/{org.number.pk}/settings").content.decode()


def test_ids_no_row_can_have_are_not_found(org):
    client = org.client()
    huge = 10**20
    assert client.get(f"/numbers/{huge}/settings").status_code == 404
    assert client.get(f"/conversations/{huge}/hold").status_code == 404
    answer = client.patch(f"/api/numbers/{huge}", {}, content_type="application/json")
    assert answer.status_code == 422
