"""The CRM pages over HTTP: the board and the list (filters, counts), moves from the board (the
same stage does nothing), a new lead's form, a lead's page and its timeline, the automations
page with its slide-over, checks and Dispatch now; who may do what, one organization never
seeing another's, and everything a person typed shown as text."""

from decimal import Decimal

import pytest

from conversa.crm import automations
from conversa.crm.models import Automation, FollowUp, Lead, StageChange
from conversa.crm.views import parse_value
from conversa.engine.models import MessageIntent
from conversa.inbox.models import Contact, Tag
from tests.crm.helpers import automation, lead, pipeline, run_worker, stage

HX = {"HX-Request": "true"}
EVIL = '<script>window.pwned=1</script><img src=x onerror="alert(1)">'


def steps_form(**extra) -> dict:
    return {
        "name": "Seguimento",
        "step-delay": ["0", "2"],
        "step-unit": ["minutes", "days"],
        "step-timing": ["exact", "business"],
        "step-template": ["Oi {{contact.first_name}}", "E aí, {{lead.title}}?"],
        "active": "on",
        **extra,
    }


# The board and the list


def test_the_board_shows_each_stage_with_its_count_total_and_cards(org):
    p = pipeline(org)
    lead(org, p, "5511988880001", "Plano anual")
    second = lead(org, p, "5511988880002", "Plano mensal")
    org.client().post(f"/pipeline/leads/{second.pk}/move", {"stage": stage(p, "Proposta").pk})
    html = org.client().get("/pipeline/").content.decode()
    assert html.count('class="column"') == 4
    assert f'id="column-head-{stage(p, "Novo").pk}"' in html
    assert "Plano anual" in html and "Plano mensal" in html
    assert 'data-count="1"' in html and 'data-total="1500.00"' in html
    assert "Move to…" in html


def test_the_list_filters_by_stage_owner_and_search(org):
    p = pipeline(org)
    lead(org, p, "5511988880001", "Plano anual")
    other = lead(org, p, "5511977770002", "Consultoria")
    client = org.client()
    assert "Consultoria" not in client.get("/pipeline/list?q=anual").content.decode()
    assert "Consultoria" in client.get("/pipeline/list?q=77770002").content.decode()
    client.post(f"/pipeline/leads/{other.pk}/move", {"stage": stage(p, "Proposta").pk})
    by_stage = client.get(f"/pipeline/list?stage={stage(p, 'Proposta').pk}").content.decode()
    assert "Consultoria" in by_stage and "Plano anual" not in by_stage
    mine = client.get(f"/pipeline/list?owner={org.owner.pk}").content.decode()
    assert "No lead matches these filters" in mine
    nobody = client.get("/pipeline/list?owner=none").content.decode()
    assert "Consultoria" in nobody and "Plano anual" in nobody
    fragment = client.get("/pipeline/list?q=anual", headers={**HX, "HX-Target": "lead-table"})
    assert 'id="crm-filters"' not in fragment.content.decode()


def test_a_page_with_no_pipeline_says_so(org):
    html = org.client().get("/pipeline/").content.decode()
    assert "No pipeline yet" in html


# Moves


def test_a_move_from_the_board_goes_through_move_lead_and_answers_the_column_heads(org):
    p = pipeline(org)
    one = lead(org, p)
    automation(org, stage(p, "Proposta"))
    response = org.client().post(
        f"/pipeline/leads/{one.pk}/move",
        {"stage": stage(p, "Proposta").pk},
        headers={**HX, "HX-Current-URL": "http://testserver/pipeline/"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('hx-swap-oob="true"') == 4
    one.refresh_from_db()
    assert one.stage == stage(p, "Proposta")
    assert FollowUp.objects.filter(lead=one).count() == 3


def test_same_stage_drop_records_nothing_and_schedules_nothing(org):
    p = pipeline(org)
    one = lead(org, p)
    automation(org, stage(p, "Novo"))
    changes = StageChange.objects.filter(lead=one).count()
    intents = MessageIntent.objects.count()
    response = org.client().post(
        f"/pipeline/leads/{one.pk}/move", {"stage": stage(p, "Novo").pk}, headers=HX
    )
    assert response.status_code == 200
    assert StageChange.objects.filter(lead=one).count() == changes
    assert MessageIntent.objects.count() == intents


def test_a_refused_move_answers_its_reason_as_text_for_the_toast(org):
    p, other = pipeline(org), pipeline(org)
    one = lead(org, p)
    response = org.client().post(
        f"/pipeline/leads/{one.pk}/move", {"stage": stage(other, "Proposta").pk}, headers=HX
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "another pipeline" in response.content.decode()
    gone = org.client().post(f"/pipeline/leads/{one.pk}/move", {"stage": 999999}, headers=HX)
    assert gone.status_code == 404


def test_without_javascript_a_move_redirects_only_to_this_site(org):
    p = pipeline(org)
    one = lead(org, p)
    response = org.client().post(
        f"/pipeline/leads/{one.pk}/move",
        {"stage": stage(p, "Proposta").pk, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == f"/pipeline/leads/{one.pk}/"


def test_moves_need_a_post(org):
    p = pipeline(org)
    one = lead(org, p)
    assert org.client().get(f"/pipeline/leads/{one.pk}/move").status_code == 405


# A new lead


def test_a_new_lead_by_phone_and_name_lands_in_its_stage(org):
    p = pipeline(org)
    response = org.client().post(
        "/pipeline/leads/new",
        {
            "pipeline": p.pk,
            "phone": "+55 (11) 96666-5555",
            "name": "Lúcia",
            "title": "Kit escolar",
            "value": "1.250,50",
            "stage": stage(p, "Proposta").pk,
            "owner": org.owner.pk,
        },
    )
    created = Lead.objects.get(title="Kit escolar")
    assert response.status_code == 302 and response["Location"] == f"/pipeline/leads/{created.pk}/"
    assert created.contact.phone == "5511966665555" and created.contact.name == "Lúcia"
    assert created.value == Decimal("1250.50") and created.stage == stage(p, "Proposta")
    assert StageChange.objects.filter(lead=created, from_stage=None).count() == 1


def test_a_new_lead_with_bad_input_shows_each_problem_and_saves_nothing(org):
    p = pipeline(org)
    response = org.client().post(
        "/pipeline/leads/new",
        {"pipeline": p.pk, "phone": "123", "title": "", "value": "dez reais", "stage": 999999},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "8 to 15 digits" in html
    assert "Say what the lead is about." in html
    assert "The value is a number" in html
    assert "Choose a stage of this pipeline." in html
    assert not Lead.objects.exists() and not Contact.objects.filter(phone="123").exists()


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("", Decimal("0.00")),
        ("1500", Decimal("1500.00")),
        ("1.500", Decimal("1500.00")),
        ("1.500,50", Decimal("1500.50")),
        ("1,500.50", Decimal("1500.50")),
        ("R$ 99,9", Decimal("99.90")),
        ("12.5", Decimal("12.50")),
        ("abc1x2", None),
        ("dez reais", None),
        ("-5", None),
        ("1e400", None),
        ("99999999999", None),
    ],
)
def test_values_are_read_as_people_type_them(typed, value):
    assert parse_value(typed) == value


# A lead's page


def test_the_lead_page_edits_details_and_custom_fields(org):
    p = pipeline(org, custom_fields=["cpf"])
    one = lead(org, p)
    client = org.client()
    page = client.get(f"/pipeline/leads/{one.pk}/").content.decode()
    assert 'name="field-cpf"' in page and "Created in" in page
    response = client.post(
        f"/pipeline/leads/{one.pk}/edit",
        {"title": "Plano anual 2", "value": "2000", "owner": "", "notes": "ok", "field-cpf": "1"},
    )
    assert response.status_code == 302
    one.refresh_from_db()
    assert (one.title, one.value, one.owner, one.custom_fields) == (
        "Plano anual 2",
        Decimal("2000.00"),
        None,
        {"cpf": "1"},
    )
    bad = client.post(f"/pipeline/leads/{one.pk}/edit", {"title": "", "value": "x"})
    assert bad.status_code == 422 and "Say what the lead is about." in bad.content.decode()


def test_the_timeline_shows_moves_follow_ups_and_cancellations_with_their_reason(org):
    p = pipeline(org)
    one = lead(org, p)
    automation(org, stage(p, "Proposta"))
    client = org.client()
    client.post(f"/pipeline/leads/{one.pk}/move", {"stage": stage(p, "Proposta").pk})
    client.post(f"/pipeline/leads/{one.pk}/move", {"stage": stage(p, "Negociação").pk})
    html = client.get(
        f"/pipeline/leads/{one.pk}/", headers={**HX, "HX-Target": "lead-timeline"}
    ).content.decode()
    assert 'id="lead-timeline"' in html and "<h1>" not in html
    assert "Moved from Proposta to <strong>Negociação</strong>" in html
    assert "Step 2 of “Proposta follow-up” scheduled" in html
    assert "Step 2 of “Proposta follow-up” cancelled" in html
    assert "left stage" in html


def test_titles_notes_and_names_are_shown_as_text(org):
    p = pipeline(org, custom_fields=["cpf"])
    contact = Contact.objects.create(organization=org.org, phone="5511955554444", name=EVIL)
    from conversa.crm import services

    evil = services.create_lead(
        contact,
        stage(p, "Novo"),
        EVIL,
        acting_member=org.owner,
        notes=EVIL,
        custom_fields={"cpf": EVIL},
    )
    client = org.client()
    for url in ["/pipeline/", "/pipeline/list", f"/pipeline/leads/{evil.pk}/", "/pipeline/board"]:
        html = client.get(url).content.decode()
        assert "<script>window.pwned" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;" in html, url


# Automations


def test_the_automations_page_lists_trigger_steps_status_and_schedule(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    one = lead(org, p)
    org.client().post(f"/pipeline/leads/{one.pk}/move", {"stage": stage(p, "Proposta").pk})
    html = org.client().get("/automations/").content.decode()
    assert "Proposta follow-up" in html and "Lead enters" in html
    assert "Step 2 · after 2 days" in html and "Step 1 · at once" in html
    assert '<mark class="var">{{lead.title}}</mark>' in html
    assert 'class="flow-pending">3<' in html
    assert "Dispatch now" in html and "New automation" in html


def test_filter_chips_and_sorting(org):
    p = pipeline(org)
    a = automation(org, stage(p, "Proposta"))
    b = automation(org, stage(p, "Novo"))
    b.name = "Boas-vindas"
    b.save()

    automations.set_automation_active(a, False, acting_member=org.owner)
    client = org.client()
    paused = client.get("/automations/?status=paused").content.decode()
    assert "Proposta follow-up" in paused and "Boas-vindas</h2>" not in paused
    by_event = client.get(f"/automations/?event={stage(p, 'Novo').pk}").content.decode()
    assert "Boas-vindas</h2>" in by_event and "Proposta follow-up</h2>" not in by_event
    on_number = client.get(f"/automations/?number={org.number.pk}").content.decode()
    assert "No automation matches these filters" in on_number
    fragment = client.get(
        "/automations/?sort=updated",
        headers={**HX, "HX-Target": "automation-list", "HX-Trigger": "automation-filters"},
    )
    assert fragment["HX-Push-Url"] == "/automations/?sort=updated"
    assert 'id="automation-filters"' not in fragment.content.decode()


def test_the_slide_over_saves_an_automation_and_answers_its_row(org):
    p = pipeline(org)
    tag = Tag.objects.create(organization=org.org, name="VIP")
    client = org.client()
    form = client.get("/automations/new", headers={**HX, "HX-Target": "slide-over-body"})
    assert 'id="automation-form"' in form.content.decode()
    response = client.post(
        "/automations/new",
        steps_form(stage=stage(p, "Proposta").pk, tag=tag.pk, number=org.number.pk),
        headers=HX,
    )
    assert response.status_code == 200
    saved = Automation.objects.get(name="Seguimento")
    assert f'id="automation-{saved.pk}"' in response.content.decode()
    steps = list(saved.steps.order_by("position"))
    assert [(s.delay, s.delay_unit, s.business_hours) for s in steps] == [
        (0, "minutes", False),
        (2, "days", True),
    ]
    assert saved.tag == tag and saved.number == org.number
    # Edited: a step removed, the rest reordered.
    client.post(
        f"/automations/{saved.pk}",
        {**steps_form(stage=stage(p, "Novo").pk), "step-template": ["Só um"], "step-delay": "5"},
        headers=HX,
    )
    saved.refresh_from_db()
    assert saved.stage == stage(p, "Novo")
    assert [s.template for s in saved.steps.all()] == ["Só um"]


def test_a_refused_automation_comes_back_with_the_service_s_words_and_the_draft(org):
    p = pipeline(org)
    response = org.client().post(
        "/automations/new",
        steps_form(
            stage=stage(p, "Proposta").pk,
            **{"step-template": ["Oi {{contato.nome}}", ""]},
        ),
        headers=HX,
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Unknown variable(s): {{contato.nome}}" in html
    assert "The message is empty." in html
    assert "Oi {{contato.nome}}" in html  # the draft, kept
    assert not Automation.objects.exists()
    bad_delay = org.client().post(
        "/automations/new",
        steps_form(stage=stage(p, "Proposta").pk, **{"step-delay": ["x", "1"]}),
        headers=HX,
    )
    assert bad_delay.status_code == 422 and "whole number" in bad_delay.content.decode()


def test_the_check_renders_each_step_for_a_sample_lead_as_text(org):
    p = pipeline(org)
    lead(org, p, title=EVIL)
    response = org.client().post(
        "/automations/check",
        steps_form(
            stage=stage(p, "Novo").pk,
            **{"step-template": ["Sobre {{lead.title}} <b>x</b>", "{{lead.nada}}"]},
        ),
        headers=HX,
    )
    html = response.content.decode()
    assert 'id="step-preview-0" hx-swap-oob="true"' in html
    assert "Sobre &lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "Unknown variable(s): {{lead.nada}}" in html


def test_pause_resume_and_delete_from_the_row(org):
    p = pipeline(org)
    a = automation(org, stage(p, "Proposta"))
    client = org.client()
    paused = client.post(f"/automations/{a.pk}/active", {"active": "0"}, headers=HX)
    assert "Resume" in paused.content.decode()
    a.refresh_from_db()
    assert not a.active
    client.post(f"/automations/{a.pk}/active", {"active": "1"}, headers=HX)
    a.refresh_from_db()
    assert a.active
    assert client.post(f"/automations/{a.pk}/delete", headers=HX).status_code == 200
    assert not Automation.objects.filter(pk=a.pk).exists()


def test_dispatch_now_answers_the_overlay_that_follows_the_progress(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    one = lead(org, p)
    org.client().post(f"/pipeline/leads/{one.pk}/move", {"stage": stage(p, "Proposta").pk})
    response = org.client().post("/automations/dispatch", headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    # Step 1 is due and waits for a worker: the overlay polls until it is handled.
    assert 'data-phase="queued"' in html and 'id="dispatch-sent"' in html
    assert "1 due step made runnable now." in html
    polled = html.split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    assert polled.startswith("/automations/dispatch/progress?at=") and "queued=1" in polled
    run_worker()
    done = org.client().get(polled).content.decode()
    assert 'data-phase="done"' in done and 'id="dispatch-sent">1<' in done
    assert "hx-trigger" not in done  # the polling stops
    assert org.client().get("/automations/dispatch/progress?at=nonsense").status_code == 404


def test_dispatch_now_with_nothing_due_is_done_at_once(org):
    pipeline(org)
    html = org.client().post("/automations/dispatch", headers=HX).content.decode()
    assert 'data-phase="done"' in html and "Nothing was due" in html


# Who may do what


def test_agents_work_leads_but_do_not_manage_automations(org):
    p = pipeline(org)
    a = automation(org, stage(p, "Proposta"))
    one = lead(org, p)
    agent = org.client(org.member())
    assert (
        agent.post(f"/pipeline/leads/{one.pk}/move", {"stage": stage(p, "Proposta").pk}).status_code
        == 302
    )
    page = agent.get("/automations/").content.decode()
    assert "Proposta follow-up" in page and "Dispatch now" not in page and "Edit</a>" not in page
    refused = agent.post("/automations/new", steps_form(stage=stage(p, "Novo").pk), headers=HX)
    assert refused.status_code == 403 and not Automation.objects.filter(name="Seguimento").exists()
    assert agent.post(f"/automations/{a.pk}/active", {"active": "0"}).status_code == 403
    assert agent.post(f"/automations/{a.pk}/delete").status_code == 403
    assert agent.post("/automations/dispatch", headers=HX).status_code == 403
    assert (
        agent.get("/automations/dispatch/progress?at=2026-01-01T00:00:00+00:00").status_code == 403
    )


def test_signed_out_people_are_sent_to_sign_in(client, db):
    for url in ["/pipeline/", "/pipeline/list", "/automations/", "/pipeline/leads/new"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_another_organization_sees_none_of_this_one_s_leads_or_automations(org, other_org):
    p = pipeline(org)
    one = lead(org, p, title="Segredo comercial")
    a = automation(org, stage(p, "Proposta"))
    theirs = pipeline(other_org)
    outsider = other_org.client()
    for url in ["/pipeline/", "/pipeline/list", "/automations/", "/pipeline/board"]:
        html = outsider.get(url).content.decode()
        assert "Segredo comercial" not in html and "Proposta follow-up" not in html, url
    assert outsider.get(f"/pipeline/leads/{one.pk}/").status_code == 404
    assert outsider.get(f"/pipeline/?pipeline={p.pk}").status_code == 404
    assert outsider.get(f"/automations/{a.pk}").status_code == 404
    assert (
        outsider.post(
            f"/pipeline/leads/{one.pk}/move", {"stage": stage(p, "Proposta").pk}
        ).status_code
        == 404
    )
    assert outsider.post(f"/pipeline/leads/{one.pk}/edit", {"title": "x"}).status_code == 404
    assert outsider.post(f"/automations/{a.pk}/delete").status_code == 404
    # Their own stage id with our lead, or our stage with their form: not found either way.
    assert (
        outsider.post(
            f"/pipeline/leads/{one.pk}/move", {"stage": stage(theirs, "Proposta").pk}
        ).status_code
        == 404
    )
    new = outsider.post("/automations/new", steps_form(stage=stage(p, "Proposta").pk), headers=HX)
    assert new.status_code == 422 and not Automation.objects.filter(name="Seguimento").exists()
    one.refresh_from_db()
    assert one.stage == stage(p, "Novo") and one.title == "Segredo comercial"
