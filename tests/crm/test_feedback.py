"""What a person learns after acting on the CRM: a move says how many follow-ups it scheduled
and when the first goes (or why none will, or why they wait), from what was really
scheduled; an automation's next run says what holds it instead of "in 0 minutes"; a lead's
time in its stage and its value read as people say them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import translation

from conversa.accounts.models import Member
from conversa.crm import followups, wording
from conversa.money import money
from conversa.numbers.models import Number
from tests.crm.helpers import automation, lead, pipeline, stage

HX = {"HX-Request": "true"}


def move(org, moved, to, htmx=True):
    return org.client().post(
        f"/pipeline/leads/{moved.pk}/move", {"stage": to.pk}, headers=HX if htmx else {}
    )


def notice(response) -> str:
    html = response.content.decode()
    if "data-move-notice" not in html:
        return ""
    return html.split("<p data-move-notice>")[1].split("</p>")[0]


def test_a_move_says_how_many_follow_ups_it_scheduled_and_when_the_first_goes(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    answer = move(org, lead(org, p), stage(p, "Proposta"))
    assert answer.status_code == 200
    assert notice(answer) == "3 follow-ups scheduled: the first goes now"
    # A stage without automation: nothing to say.
    assert notice(move(org, lead(org, p, "5511988880002"), stage(p, "Negociação"))) == ""


def test_a_move_says_when_a_later_first_step_goes(org):
    p = pipeline(org)
    automation(
        org, stage(p, "Proposta"), steps=[{"delay": 2, "delay_unit": "days", "template": "Oi"}]
    )
    text = notice(move(org, lead(org, p), stage(p, "Proposta")))
    assert text.startswith("1 follow-up scheduled: the first goes ")
    assert not text.endswith("now")


def test_a_move_says_no_follow_up_will_go_when_the_gate_refuses_them(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    moved = lead(org, p)
    followups.set_opted_out(moved.contact)
    assert notice(move(org, moved, stage(p, "Proposta"))) == (
        "No follow-up will be sent: the contact opted out of automated and campaign messages"
    )


def test_while_every_number_is_paused_the_move_and_the_next_run_say_so(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    Number.objects.filter(pk=org.number.pk).update(paused=True)
    assert notice(move(org, lead(org, p), stage(p, "Proposta"))) == (
        "3 follow-ups scheduled: the first goes now · waiting: all numbers are paused"
    )
    page = org.client().get("/automations/").content.decode()
    assert "Waiting: all numbers are paused" in page
    assert "0 minutes" not in page and "due now" not in page


def test_a_next_run_due_now_says_so_not_in_0_minutes(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    move(org, lead(org, p), stage(p, "Proposta"))
    page = org.client().get("/automations/").content.decode()
    assert "due now" in page and "in 0\xa0minutes" not in page and "in 0 minutes" not in page


def test_a_move_without_script_shows_its_notice_on_the_lead_page(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    moved = lead(org, p)
    client = org.client()
    answer = client.post(
        f"/pipeline/leads/{moved.pk}/move",
        {"stage": stage(p, "Proposta").pk, "next": f"/pipeline/leads/{moved.pk}/"},
        follow=True,
    )
    assert "3 follow-ups scheduled: the first goes now" in answer.content.decode()


def test_time_in_a_stage_and_time_to_a_run_read_as_people_say_them():
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert wording.in_stage_for(now - timedelta(seconds=20), now) == "entered this stage just now"
    assert wording.in_stage_for(now - timedelta(minutes=5), now) == (
        "in this stage for 5\xa0minutes"
    )
    assert wording.until(now - timedelta(minutes=3), now) == "due now"
    assert wording.until(now + timedelta(seconds=30), now) == "in less than a minute"
    assert wording.until(now + timedelta(hours=2, minutes=5), now) == "in 2\xa0hours"
    with translation.override("pt-br"):
        assert wording.in_stage_for(now, now) == "entrou nesta etapa agora mesmo"


def test_values_show_the_currency_formatted_for_the_language(org):
    assert money(Decimal("1234.56")) == "R$1,234.56"
    assert money(Decimal("990")) == "R$990"
    assert money(Decimal("1234.5"), "USD") == "$1,234.50"
    with translation.override("pt-br"):
        assert money(Decimal("1234.56")) == "R$\xa01.234,56"
        assert money(Decimal("12000")) == "R$\xa012.000"
        assert money(Decimal("10"), "USD") == "US$\xa010"
    p = pipeline(org)
    lead(org, p)
    assert "R$1,500" in org.client().get("/pipeline/").content.decode()


def test_an_admin_sets_the_currency_and_the_board_shows_it(org):
    admin = org.member(Member.Role.ADMIN)
    client = org.client(admin)
    answer = client.patch("/api/organization", {"currency": "XYZ"}, content_type="application/json")
    assert answer.status_code == 422
    answer = client.patch("/api/organization", {"currency": "USD"}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["currency"] == "USD"
    p = pipeline(org)
    lead(org, p)
    assert "$1,500" in client.get("/pipeline/").content.decode()
