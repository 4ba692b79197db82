"""Managing pipelines: create one with its stages, add, rename, recolour, reorder and delete
stages (an empty one only), declare custom fields; owners, admins and supervisors only, and
one organization never seeing or changing another's."""

import pytest

from conversa.accounts.models import Member
from conversa.crm import services
from conversa.crm.models import Pipeline, Stage
from conversa.errors import Refused
from tests.crm.helpers import automation, lead, pipeline, stage

EVIL = "<script>window.pwned=1</script>"


def names(p: Pipeline) -> list[str]:
    return list(p.stages.order_by("position", "id").values_list("name", flat=True))


def positions(p: Pipeline) -> list[int]:
    return list(p.stages.order_by("position", "id").values_list("position", flat=True))


# Services


def test_a_stage_is_renamed_recoloured_and_flagged(org):
    p = pipeline(org)
    won = services.change_stage(
        stage(p, "Ganho"),
        acting_member=org.owner,
        name="  Fechado  ",
        colour="#16a34a",
        is_won=True,
    )
    won.refresh_from_db()
    assert (won.name, won.colour, won.is_won, won.is_lost) == ("Fechado", "#16a34a", True, False)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "", "colour": "#16a34a"},
        {"name": "x" * 121, "colour": "#16a34a"},
        {"name": "Ok", "colour": "red; background: url(x)"},
        {"name": "Ok", "colour": "#16a34a", "is_won": True, "is_lost": True},
    ],
)
def test_a_stage_change_is_refused_with_a_bad_name_colour_or_both_outcomes(org, changes):
    p = pipeline(org)
    with pytest.raises(Refused):
        services.change_stage(stage(p, "Novo"), acting_member=org.owner, **changes)
    assert stage(p, "Novo").colour == "#64748b"


def test_stages_move_one_place_and_stay_at_either_end(org):
    p = pipeline(org)
    services.move_stage(stage(p, "Ganho"), -1, acting_member=org.owner)
    assert names(p) == ["Novo", "Proposta", "Ganho", "Negociação"]
    services.move_stage(stage(p, "Novo"), -1, acting_member=org.owner)
    services.move_stage(stage(p, "Negociação"), 1, acting_member=org.owner)
    assert names(p) == ["Novo", "Proposta", "Ganho", "Negociação"]
    services.move_stage(stage(p, "Novo"), 1, acting_member=org.owner)
    assert names(p) == ["Proposta", "Novo", "Ganho", "Negociação"]
    assert positions(p) == [0, 1, 2, 3]


def test_an_empty_stage_is_deleted(org):
    p = pipeline(org)
    services.delete_stage(stage(p, "Negociação"), acting_member=org.owner)
    assert names(p) == ["Novo", "Proposta", "Ganho"]


def test_a_stage_with_leads_automations_or_history_is_not_deleted(org):
    p = pipeline(org)
    one = lead(org, p)
    with pytest.raises(Refused, match="move its leads") as refused:
        services.delete_stage(stage(p, "Novo"), acting_member=org.owner)
    assert refused.value.status == 409
    automation(org, stage(p, "Proposta"))
    with pytest.raises(Refused, match="automations"):
        services.delete_stage(stage(p, "Proposta"), acting_member=org.owner)
    services.move_lead(one, stage(p, "Negociação"), acting_member=org.owner)
    services.move_lead(one, stage(p, "Ganho"), acting_member=org.owner)
    with pytest.raises(Refused, match="history"):
        services.delete_stage(stage(p, "Negociação"), acting_member=org.owner)
    assert len(names(p)) == 4


def test_a_pipeline_keeps_its_last_stage(org):
    p = services.create_pipeline(
        org.org, "Só um", acting_member=org.owner, stages=[{"name": "Único"}]
    )
    with pytest.raises(Refused, match="at least one stage"):
        services.delete_stage(stage(p, "Único"), acting_member=org.owner)


def test_agents_manage_no_stage(org):
    p = pipeline(org)
    agent = org.member()
    for call in (
        lambda: services.change_stage(
            stage(p, "Novo"), acting_member=agent, name="X", colour="#16a34a"
        ),
        lambda: services.move_stage(stage(p, "Novo"), 1, acting_member=agent),
        lambda: services.delete_stage(stage(p, "Ganho"), acting_member=agent),
    ):
        with pytest.raises(Refused) as refused:
            call()
        assert refused.value.status == 403


def test_another_organization_s_member_changes_no_stage(org, other_org):
    p = pipeline(org)
    for call in (
        lambda: services.change_stage(
            stage(p, "Novo"), acting_member=other_org.owner, name="X", colour="#16a34a"
        ),
        lambda: services.move_stage(stage(p, "Novo"), 1, acting_member=other_org.owner),
        lambda: services.delete_stage(stage(p, "Ganho"), acting_member=other_org.owner),
    ):
        with pytest.raises(Refused) as refused:
            call()
        assert refused.value.status == 404
    assert names(p) == ["Novo", "Proposta", "Negociação", "Ganho"]


# The page


def test_the_board_links_supervisors_to_the_pipelines_page(org):
    pipeline(org)
    assert "Manage pipelines" in org.client().get("/pipeline/").content.decode()
    assert "Manage pipelines" not in org.client(org.member()).get("/pipeline/").content.decode()


def test_a_pipeline_is_created_with_its_stages_in_order(org):
    response = org.client().post(
        "/pipeline/manage/", {"name": "Renovações", "stages": "Aviso\n\n  Proposta \nRenovado\n"}
    )
    p = Pipeline.objects.get(organization=org.org, name="Renovações")
    assert response.status_code == 302 and response["Location"].endswith(f"?pipeline={p.pk}")
    assert names(p) == ["Aviso", "Proposta", "Renovado"]
    page = org.client().get(response["Location"]).content.decode()
    assert "Stages of Renovações" in page and "Renovado" in page


def test_a_pipeline_without_a_name_or_stages_is_refused_on_the_form(org):
    client = org.client()
    no_stages = client.post("/pipeline/manage/", {"name": "Vazio", "stages": " \n "})
    assert no_stages.status_code == 422
    assert "at least one stage" in no_stages.content.decode()
    no_name = client.post("/pipeline/manage/", {"name": "", "stages": "Novo"})
    assert no_name.status_code == 422
    assert "name is 1 to 120 characters" in no_name.content.decode()
    assert not Pipeline.objects.filter(organization=org.org).exists()


def test_a_stage_is_added_from_the_palette(org):
    p = pipeline(org)
    client = org.client()
    response = client.post(
        f"/pipeline/manage/{p.pk}/stages",
        {"name": "Perdido", "colour": "#dc2626", "outcome": "lost"},
    )
    assert response.status_code == 302
    added = stage(p, "Perdido")
    assert (added.colour, added.is_lost, added.position) == ("#dc2626", True, 4)
    odd = client.post(
        f"/pipeline/manage/{p.pk}/stages", {"name": "Estranho", "colour": "url(javascript:x)"}
    )
    assert odd.status_code == 422 and "Choose a colour of the palette" in odd.content.decode()
    assert not p.stages.filter(name="Estranho").exists()


def test_a_stage_is_renamed_and_recoloured_and_its_name_shown_as_text(org):
    p = pipeline(org)
    novo = stage(p, "Novo")
    client = org.client()
    response = client.post(
        f"/pipeline/manage/stages/{novo.pk}", {"name": EVIL, "colour": "#0d9488", "outcome": ""}
    )
    assert response.status_code == 302
    novo.refresh_from_db()
    assert (novo.name, novo.colour) == (EVIL, "#0d9488")
    page = client.get(f"/pipeline/manage/?pipeline={p.pk}").content.decode()
    assert EVIL not in page and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert "--stage: #0d9488" in page


def test_a_refused_stage_edit_keeps_what_was_typed_in_its_open_form(org):
    p = pipeline(org)
    novo = stage(p, "Novo")
    response = org.client().post(
        f"/pipeline/manage/stages/{novo.pk}", {"name": "", "colour": "#0d9488"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "name is 1 to 120 characters" in html
    assert 'class="confirm stage-edit" open' in html


def test_a_stage_set_outside_the_palette_keeps_its_colour_when_renamed(org):
    p = pipeline(org)
    api_made = services.add_stage(p, "Outro", acting_member=org.owner, colour="#123456")
    org.client().post(f"/pipeline/manage/stages/{api_made.pk}", {"name": "Outra coisa"})
    api_made.refresh_from_db()
    assert (api_made.name, api_made.colour) == ("Outra coisa", "#123456")


def test_stages_are_reordered_with_up_and_down(org):
    p = pipeline(org)
    client = org.client()
    client.post(f"/pipeline/manage/stages/{stage(p, 'Ganho').pk}/move", {"direction": "up"})
    client.post(f"/pipeline/manage/stages/{stage(p, 'Novo').pk}/move", {"direction": "down"})
    assert names(p) == ["Proposta", "Novo", "Ganho", "Negociação"]
    sideways = client.post(f"/pipeline/manage/stages/{stage(p, 'Novo').pk}/move", {})
    assert sideways.status_code == 400


def test_an_empty_stage_is_deleted_and_one_with_leads_refused_with_the_reason(org):
    p = pipeline(org)
    lead(org, p)
    client = org.client()
    assert client.post(f"/pipeline/manage/stages/{stage(p, 'Ganho').pk}/delete").status_code == 302
    refused = client.post(f"/pipeline/manage/stages/{stage(p, 'Novo').pk}/delete")
    assert refused.status_code == 400
    assert "move its leads to another stage first" in refused.content.decode()
    assert names(p) == ["Novo", "Proposta", "Negociação"]


def test_custom_fields_are_saved_and_bad_keys_shown_on_the_form(org):
    p = pipeline(org)
    client = org.client()
    saved = client.post(f"/pipeline/manage/{p.pk}/fields", {"fields": "cpf, plano\ncidade"})
    assert saved.status_code == 302
    p.refresh_from_db()
    assert p.custom_fields == ["cpf", "plano", "cidade"]
    bad = client.post(f"/pipeline/manage/{p.pk}/fields", {"fields": "cpf, Plano Anual, cpf"})
    html = bad.content.decode()
    assert bad.status_code == 422 and 'aria-invalid="true"' in html
    assert "Plano, Anual" in html and 'value="cpf, Plano Anual, cpf"' in html
    twice = client.post(f"/pipeline/manage/{p.pk}/fields", {"fields": "cpf cpf"})
    assert "each once" in twice.content.decode()
    p.refresh_from_db()
    assert p.custom_fields == ["cpf", "plano", "cidade"]


@pytest.mark.parametrize("role", [Member.Role.ADMIN, Member.Role.SUPERVISOR])
def test_admins_and_supervisors_manage_pipelines(org, role):
    p = pipeline(org)
    client = org.client(org.member(role))
    assert client.get("/pipeline/manage/").status_code == 200
    client.post(f"/pipeline/manage/stages/{stage(p, 'Novo').pk}/move", {"direction": "down"})
    assert names(p)[0] == "Proposta"


def test_agents_are_refused_the_pipelines_page_and_its_changes(org):
    p = pipeline(org)
    agent = org.client(org.member())
    novo = stage(p, "Novo")
    assert agent.get("/pipeline/manage/").status_code == 403
    assert agent.post("/pipeline/manage/", {"name": "X", "stages": "A"}).status_code == 403
    assert agent.post(f"/pipeline/manage/{p.pk}/stages", {"name": "X"}).status_code == 403
    assert agent.post(f"/pipeline/manage/{p.pk}/fields", {"fields": "a"}).status_code == 403
    assert agent.post(f"/pipeline/manage/stages/{novo.pk}", {"name": "X"}).status_code == 403
    move = agent.post(f"/pipeline/manage/stages/{novo.pk}/move", {"direction": "down"})
    assert move.status_code == 403
    assert agent.post(f"/pipeline/manage/stages/{novo.pk}/delete").status_code == 403
    assert names(p) == ["Novo", "Proposta", "Negociação", "Ganho"]
    assert Pipeline.objects.filter(organization=org.org).count() == 1


def test_another_organization_neither_sees_nor_changes_this_one_s_pipelines(org, other_org):
    p = pipeline(org)
    theirs = services.create_pipeline(
        other_org.org, "Pipeline deles", acting_member=other_org.owner, stages=[{"name": "Deles"}]
    )
    outsider = other_org.client()
    page = outsider.get("/pipeline/manage/").content.decode()
    assert "Pipeline deles" in page and "Vendas" not in page and "Proposta" not in page
    assert outsider.get(f"/pipeline/manage/?pipeline={p.pk}").status_code == 404
    novo = stage(p, "Novo")
    assert outsider.post(f"/pipeline/manage/{p.pk}/stages", {"name": "X"}).status_code == 404
    assert outsider.post(f"/pipeline/manage/{p.pk}/fields", {"fields": "a"}).status_code == 404
    assert outsider.post(f"/pipeline/manage/stages/{novo.pk}", {"name": "X"}).status_code == 404
    move = outsider.post(f"/pipeline/manage/stages/{novo.pk}/move", {"direction": "down"})
    assert move.status_code == 404
    assert outsider.post(f"/pipeline/manage/stages/{novo.pk}/delete").status_code == 404
    assert names(p) == ["Novo", "Proposta", "Negociação", "Ganho"]
    assert not Stage.objects.filter(pipeline=theirs, name="X").exists()
