"""A stage's colour goes into the pages' style attributes: the API, the services and the model
take a hex colour only, and a row saved before that rule shows the default colour."""

import json

import pytest
from django.core.exceptions import ValidationError

from conversa.crm import services
from conversa.crm.models import Stage
from conversa.errors import Refused
from tests.crm.helpers import automation, lead, pipeline, stage

pytestmark = pytest.mark.django_db

# CSS of the sender's choosing, the second in the 16 characters the column holds.
MALICIOUS = ["red;background:url(x)", "#fff;}body{xx:yy", "red", "#12345", "#0a0 "]


def post(client, url: str, body: dict):
    return client.post(f"/api{url}", json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("colour", MALICIOUS)
def test_a_stage_colour_that_is_not_hex_is_a_422_naming_the_field(org, colour):
    p = pipeline(org)
    response = post(org.client(), f"/crm/pipelines/{p.pk}/stages", {"name": "X", "colour": colour})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"][-1] == "colour" and "Unknown colour" in error["msg"]
    assert not p.stages.filter(name="X").exists()


def test_a_new_pipelines_stage_colour_is_checked_too(org):
    response = post(
        org.client(),
        "/crm/pipelines",
        {"name": "Vendas", "stages": [{"name": "Novo", "colour": "#fff;}body{xx:yy"}]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-3:] == ["stages", 0, "colour"]


@pytest.mark.parametrize("colour", ["#0a0", "#16A34A", "#16a34a80"])
def test_a_hex_colour_goes_through_the_api_onto_the_board(org, colour):
    p = pipeline(org)
    client = org.client()
    response = post(client, f"/crm/pipelines/{p.pk}/stages", {"name": "X", "colour": colour})
    assert response.status_code == 201 and response.json()["colour"] == colour
    assert stage(p, "X").colour == colour
    board = client.get(f"/pipeline/?pipeline={p.pk}").content.decode()
    assert f"--stage: {colour}" in board


def test_the_services_and_the_model_refuse_what_the_api_refuses(org):
    p = pipeline(org)
    with pytest.raises(Refused, match="Unknown colour"):
        services.add_stage(p, "X", acting_member=org.owner, colour="#fff;}body{xx:yy")
    assert not p.stages.filter(name="X").exists()
    with pytest.raises(ValidationError) as refused:
        Stage(pipeline=p, organization=org.org, name="X", colour="url(x)").full_clean()
    assert list(refused.value.message_dict) == ["colour"]


def test_a_stored_bad_colour_is_printed_as_the_default(org):
    p = pipeline(org)
    novo = stage(p, "Novo")
    made = lead(org, p)
    automation(org, novo)
    conversation = org.conversation(made.contact.phone)
    raw = "#fff;}body{xx:yy"
    # As a row saved before colours were checked: straight into the table. The other stages
    # are coloured, so the default on a page is the bad row's.
    Stage.objects.filter(pk=novo.pk).update(colour=raw)
    p.stages.exclude(pk=novo.pk).update(colour="#0d9488")
    client = org.client()
    pages = {
        "inbox": f"/inbox/c/{conversation.pk}/",
        "contact panel": f"/inbox/c/{conversation.pk}/contact",
        "board": f"/pipeline/?pipeline={p.pk}",
        "list": f"/pipeline/list?pipeline={p.pk}",
        "lead": f"/pipeline/leads/{made.pk}/",
        "settings": f"/pipeline/manage/?pipeline={p.pk}",
        "automations": "/automations/",
    }
    for name, url in pages.items():
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200 and raw not in page, name
        assert f"--stage: {Stage.DEFAULT_COLOUR}" in page, name


def test_renaming_a_stage_with_a_stored_bad_colour_gives_it_the_default(org):
    p = pipeline(org)
    novo = stage(p, "Novo")
    Stage.objects.filter(pk=novo.pk).update(colour="red;x:y")
    response = org.client().post(f"/pipeline/manage/stages/{novo.pk}", {"name": "Novos"})
    assert response.status_code == 302
    novo.refresh_from_db()
    assert (novo.name, novo.colour) == ("Novos", Stage.DEFAULT_COLOUR)
