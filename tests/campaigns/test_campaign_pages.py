"""The Campaigns pages through the test client: every member sees them, supervisors and up
create, edit drafts, start, pause, resume, cancel and clone; a refusal shows beside its field;
the preview shows what each person would receive; the live fragment counts what happened; another
organization's campaign is a 404 (issue 18, item 6)."""

import re

import pytest
from django.urls import reverse

from conversa.accounts.models import Member
from conversa.campaigns import sending
from conversa.campaigns.models import Campaign
from conversa.crm import followups
from conversa.inbox.models import Tag
from tests.campaigns.test_campaigns import campaign_for, drain, person, provider, tagged
from tests.conftest import cloud_number

__all__ = ["provider"]  # the fixture, used by name

ACTIONS = ["start", "pause", "resume", "cancel", "clone"]


def form_data(org, tag, **changes) -> dict:
    data = {
        "name": "Ofertas de maio",
        "kind": "text",
        "body": "Olá {{contact.first_name}}, temos ofertas!",
        "template_name": "",
        "template_language": "pt_BR",
        "template_values": "",
        "tags": [tag.pk],
        "numbers": [org.number.pk],
        "start_at": "",
        "sending_mode": "org",
        "pace_per_minute": "20",
        "reply_window_hours": "72",
    }
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        data |= {f"{day}_start": "09:00", f"{day}_end": "18:00"}
    return data | changes


def field_error(html: str, text: str) -> bool:
    return re.search(rf'class="field-error">[^<]*{re.escape(text)}', html) is not None


@pytest.fixture
def supervisor(org):
    return org.client(org.member(Member.Role.SUPERVISOR))


@pytest.fixture
def agent(org):
    return org.client(org.member(Member.Role.AGENT))


def test_the_empty_list_explains_campaigns_and_only_supervisors_may_create_one(
    org, supervisor, agent
):
    page = supervisor.get(reverse("campaigns")).content.decode()
    assert "No campaigns yet" in page
    assert "Only people who agreed to receive marketing messages get it" in page
    assert reverse("campaign-new") in page
    seen = agent.get(reverse("campaigns"))
    assert seen.status_code == 200
    assert reverse("campaign-new") not in seen.content.decode()
    assert agent.get(reverse("campaign-new")).status_code == 403
    assert supervisor.get(reverse("campaign-new")).status_code == 200


def test_a_draft_is_made_on_the_form_and_shows_each_persons_message(org, supervisor):
    tag = tagged(org)
    ana = person(org, "5511900000001", "Ana Souza")
    nameless = person(org, "5511900000002", "")
    for contact in (ana, nameless):
        contact.tags.add(tag)
    answer = supervisor.post(reverse("campaign-new"), form_data(org, tag))
    campaign = Campaign.objects.get(organization=org.org)
    assert answer.status_code == 302
    assert answer["Location"] == reverse("campaign", args=[campaign.pk])
    assert (campaign.status, campaign.name, campaign.pace_per_minute) == (
        "draft",
        "Ofertas de maio",
        20,
    )
    assert list(campaign.tags.all()) == [tag]

    page = supervisor.get(reverse("campaign", args=[campaign.pk])).content.decode()
    assert "Olá Ana, temos ofertas!" in page
    assert "A variable came out blank: {{contact.first_name}}" in page
    # One person picked: only their message.
    picked = supervisor.get(
        reverse("campaign-edit", args=[campaign.pk]), {"contact": nameless.pk}
    ).content.decode()
    assert "A variable came out blank" in picked
    assert "Olá Ana" not in picked

    changed = form_data(org, tag, name="Ofertas de junho", sending_mode="week", mon_on="on")
    supervisor.post(reverse("campaign-edit", args=[campaign.pk]), changed)
    campaign.refresh_from_db()
    assert campaign.name == "Ofertas de junho"
    assert campaign.sending_hours == {"mon": [["09:00", "18:00"]]}


def test_a_template_campaign_is_saved_with_its_values(org, supervisor):
    tag = tagged(org)
    cloud = cloud_number(org, provider_name="1234", app_secret="s" * 16)  # templates' numbers
    data = form_data(
        org,
        tag,
        numbers=[cloud.pk],
        kind="template",
        template_name="promo_maio",
        template_language="en_US",
        template_values="{{contact.first_name}}\n\n20%\n",
    )
    assert supervisor.post(reverse("campaign-new"), data).status_code == 302
    campaign = Campaign.objects.get(organization=org.org)
    assert campaign.body == ""
    assert campaign.template == {
        "name": "promo_maio",
        "language": "en_US",
        "variables": ["{{contact.first_name}}", "20%"],
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"body": "Olá {{contact.apelido!}}"}, "body", "Unknown variable(s)"),
        ({"body": ""}, "body", "Write a message or choose a template"),
        (
            {"kind": "template", "template_name": "Promo Maio"},
            "template_name",
            "lowercase letters, digits and underscores",
        ),
        ({"pace_per_minute": "601"}, "pace_per_minute", "less than or equal to 600"),
        ({"reply_window_hours": "0"}, "reply_window_hours", "Replies count for 1 to"),
        ({"start_at": "2999-01-01T10:00"}, "start_at", "Start within a year."),
        ({"sending_mode": "week"}, "sending_mode", "Allow at least one day"),
        ({"mon_on": "on", "sending_mode": "week", "mon_end": "08:00"}, "mon_end", "must end after"),
    ],
)
def test_a_refusal_shows_beside_its_field_and_nothing_is_saved(
    org, supervisor, changes, field, message
):
    answer = supervisor.post(reverse("campaign-new"), form_data(org, tagged(org), **changes))
    assert answer.status_code == 422
    page = answer.content.decode()
    assert field_error(page, message), page
    assert "Please correct the fields marked below." in page
    assert answer.context["form"].errors[field]
    assert not Campaign.objects.filter(organization=org.org).exists()


def test_another_organizations_objects_are_not_choices(org, other_org, supervisor):
    theirs = Tag.objects.create(organization=other_org.org, name="deles")
    data = form_data(org, theirs, numbers=[other_org.number.pk])
    answer = supervisor.post(reverse("campaign-new"), data)
    assert answer.status_code == 422
    assert set(answer.context["form"].errors) == {"tags", "numbers"}
    assert "deles" not in answer.content.decode()


def test_start_pause_resume_cancel_and_clone_through_the_pages_forms(org, supervisor, provider):
    tag = tagged(org)
    for phone in ("5511900000001", "5511900000002"):
        person(org, phone).tags.add(tag)
    campaign = campaign_for(org, tag, pace_per_minute=1)
    page = reverse("campaign", args=[campaign.pk])

    def act(action):
        answer = supervisor.post(reverse(f"campaign-{action}", args=[campaign.pk]))
        campaign.refresh_from_db()
        return answer

    assert act("start")["Location"] == page
    assert campaign.status == "running"
    assert 'data-poll-every="30000"' in supervisor.get(page).content.decode()
    act("pause")
    assert campaign.status == "paused"
    assert (
        "Paused: nothing more is sent until you resume it." in supervisor.get(page).content.decode()
    )
    act("resume")
    assert campaign.status == "running"
    act("cancel")
    assert campaign.status == "cancelled"
    shown = supervisor.get(page).content.decode()
    assert "data-poll-every" not in shown
    assert "Cancel campaign" not in shown
    copy_answer = act("clone")
    copy = Campaign.objects.get(cloned_from=campaign)
    assert copy_answer["Location"] == reverse("campaign-edit", args=[copy.pk])
    assert copy.status == "draft" and copy.name == f"Copy of {campaign.name}"


def test_a_refused_action_is_told_on_the_page(org, supervisor):
    campaign = campaign_for(org, tagged(org))
    answer = supervisor.post(reverse("campaign-pause", args=[campaign.pk]))
    assert answer.status_code == 400
    assert "Only a campaign that is sending can be paused." in answer.content.decode()
    assert supervisor.get(reverse("campaign-start", args=[campaign.pk])).status_code == 405


def test_only_a_draft_is_edited(org, supervisor, provider):
    tag = tagged(org)
    campaign = campaign_for(org, tag)
    sending.start(campaign, acting_member=org.owner)
    edit = reverse("campaign-edit", args=[campaign.pk])
    assert supervisor.get(edit)["Location"] == reverse("campaign", args=[campaign.pk])
    supervisor.post(edit, form_data(org, tag, name="Outro nome"))
    campaign.refresh_from_db()
    assert campaign.name == "Black Friday"
    assert edit not in supervisor.get(reverse("campaign", args=[campaign.pk])).content.decode()


def test_agents_see_campaigns_but_do_not_run_them(org, agent):
    campaign = campaign_for(org, tagged(org))
    page = agent.get(reverse("campaign", args=[campaign.pk]))
    assert page.status_code == 200
    assert reverse("campaign-start", args=[campaign.pk]) not in page.content.decode()
    assert agent.get(reverse("campaign-live", args=[campaign.pk])).status_code == 200
    assert agent.get(reverse("campaign-edit", args=[campaign.pk])).status_code == 403
    for action in ACTIONS:
        assert agent.post(reverse(f"campaign-{action}", args=[campaign.pk])).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_another_organizations_campaign_is_a_404(org, other_org, supervisor):
    theirs = campaign_for(other_org, tagged(other_org))
    for name in ("campaign", "campaign-edit", "campaign-live"):
        assert supervisor.get(reverse(name, args=[theirs.pk])).status_code == 404
    for action in ACTIONS:
        assert supervisor.post(reverse(f"campaign-{action}", args=[theirs.pk])).status_code == 404
    assert theirs.name not in supervisor.get(reverse("campaigns")).content.decode()


def test_the_live_fragment_counts_what_happened_and_stops_polling_once_finished(
    org, supervisor, provider
):
    tag = tagged(org)
    sent_to = person(org, "5511900000001")
    leaving = person(org, "5511900000002")
    person(org, "5511900000003", agreed=False).tags.add(tag)
    for contact in (sent_to, leaving):
        contact.tags.add(tag)
    campaign = campaign_for(org, tag)
    sending.start(campaign, acting_member=org.owner)
    followups.set_opted_out(leaving, True, reason="SAIR", acting_member=None)
    drain()
    live = reverse("campaign-live", args=[campaign.pk])
    running = supervisor.get(live).content.decode()
    assert 'data-poll-every="30000"' in running

    def count(html, name):
        return re.search(rf'data-count="{name}"><dt>[^<]*</dt><dd>(\d+)</dd>', html).group(1)

    assert (count(running, "sent"), count(running, "skipped"), count(running, "queued")) == (
        "1",
        "2",
        "0",
    )
    assert re.search(r"<span>Opted out</span> <strong>1</strong>", running)
    assert re.search(r"<span>No marketing consent</span> <strong>1</strong>", running)
    assert f"/campaigns/{campaign.pk}/export.csv" in running
    assert f"/campaigns/{campaign.pk}/export.xlsx" in running
    assert sending.finish_if_done(campaign)
    finished = supervisor.get(live).content.decode()
    assert "data-poll-every" not in finished
    assert "Ended on" in finished
    assert 'class="table campaign-series"' in finished


def test_the_list_shows_each_campaigns_figures_fifty_a_page(org, supervisor, provider):
    tag = tagged(org)
    person(org, "5511900000001").tags.add(tag)
    started = campaign_for(org, tag, name="Primeira")
    sending.start(started, acting_member=org.owner)
    drain()
    Campaign.objects.bulk_create(
        Campaign(organization=org.org, name=f"Rascunho {n}", body="Oi") for n in range(50)
    )
    first = supervisor.get(reverse("campaigns"))
    assert len(first.context["campaigns"]) == 50
    assert "Page 1 of 2" in first.content.decode()
    second = supervisor.get(reverse("campaigns"), {"page": "2"})
    [row] = second.context["campaigns"]
    assert (row.name, row.audience, row.sent, row.replied) == ("Primeira", 1, 1, 0)
    assert supervisor.get(reverse("campaigns"), {"page": "²"}).status_code == 200
