"""Segments: saved Contacts-page filters, bounded as the page bounds them, matching whoever
fits them now, counted live; changed by supervisors and above (audited), kept while a campaign
that is sending or paused reads them; another organization's segment is a 404."""

import pytest
from django.test import Client

from conversa.accounts.models import Member, OperationalEvent
from conversa.campaigns import consent, segments
from conversa.campaigns.contact_listing import Filters
from conversa.campaigns.models import Campaign, Segment
from conversa.crm import services as crm
from conversa.errors import Conflict, Forbidden, Refused
from conversa.inbox.models import Contact

EVERYONE = {
    "q": "",
    "consent": "",
    "opted_out": "",
    "blocked": "",
    "wrote_within": None,
    "open_conversation": "",
    "stage": None,
}


def make(org, name: str, phone: str, **fields) -> Contact:
    return Contact.objects.create(organization=org.org, name=name, phone=phone, **fields)


def consented(org, name: str, phone: str) -> Contact:
    contact = make(org, name, phone)
    consent.record_consent(contact, granted=True, channel="agent", evidence="disse sim")
    return contact


def new_segment(org, name="Consentidos", **filters) -> Segment:
    return segments.create_segment(org.org, name=name, filters=filters, acting_member=org.owner)


def stage_of(org):
    pipeline = crm.create_pipeline(
        org.org, "Vendas", acting_member=org.owner, stages=[{"name": "Novo"}, {"name": "Fim"}]
    )
    return pipeline.stages.order_by("position").first()


# Services


def test_clean_filters_keeps_every_field_bounded_as_the_contacts_page(org, other_org):
    stage = stage_of(org)
    cleaned = segments.clean_filters(
        org.org,
        {"q": "  ana ", "consent": "yes", "wrote_within": "30", "stage": str(stage.pk)},
    )
    assert cleaned == {
        **EVERYONE,
        "q": "ana",
        "consent": "yes",
        "wrote_within": 30,
        "stage": stage.pk,
    }
    assert segments.clean_filters(org.org, {}) == EVERYONE
    assert (
        segments.clean_filters(org.org, {"wrote_within": 3650, "blocked": "no"})["blocked"] == "no"
    )

    foreign = stage_of(other_org)
    refusals = [
        ({"consent": "maybe"}, "consent"),
        ({"opted_out": True}, "opted_out"),
        ({"open_conversation": "YES"}, "open_conversation"),
        ({"wrote_within": 0}, "wrote_within"),
        ({"wrote_within": 3651}, "wrote_within"),
        ({"wrote_within": "7 days"}, "wrote_within"),
        ({"wrote_within": True}, "wrote_within"),
        ({"stage": foreign.pk}, "stage"),
        ({"stage": "99999999999999999999"}, "stage"),
        ({"stage": -1}, "stage"),
        ({"q": "x" * 201}, "q"),
        ({"q": ["ana"]}, "q"),
        ({"sort": "name"}, "filters"),
    ]
    for given, field in refusals:
        with pytest.raises(Refused) as refused:
            segments.clean_filters(org.org, given)
        assert refused.value.field == field, given
        assert str(refused.value)


def test_filters_of_ignores_keys_that_no_longer_exist_and_keeps_a_deleted_stage(org):
    segment = Segment.objects.create(
        organization=org.org,
        name="Antigo",
        filters={"q": "ana", "consent": "yes", "sort": "last", "tag": 3, "wrote_within": "x"},
    )
    assert segments.filters_of(segment) == Filters(q="ana", consent="yes")
    segment.filters = {"stage": 123456}
    # A stage since deleted narrows to no one, never widens to everyone.
    assert segments.filters_of(segment).stage == 123456
    make(org, "Ana", "5511900000001")
    assert segments.matching(segment).count() == 0
    segment.filters = "not a dict"
    assert segments.filters_of(segment) == Filters()


def test_a_segment_matches_whoever_fits_it_now(org, other_org):
    ana = consented(org, "Ana", "5511900000001")
    bruno = make(org, "Bruno", "5511900000002")
    make(org, "Carla", "5511900000003", opted_out=True)
    consented(other_org, "Ana", "5511900000001")  # another organization's: never in it
    segment = new_segment(org, consent="yes", opted_out="no")
    assert set(segments.matching(segment)) == {ana}

    consent.record_consent(bruno, granted=True, channel="agent", evidence="ligou")
    assert set(segments.matching(segment)) == {ana, bruno}
    assert segments.count(org.org, segments.filters_of(segment), exact=True) == 2


def test_search_and_stage_filters_narrow_a_segment(org):
    stage = stage_of(org)
    ana = make(org, "Ana Souza", "5511900000001")
    make(org, "Bruno", "5511900000002")
    crm.create_lead(ana, stage, "Plano", acting_member=org.owner)
    assert set(segments.matching(new_segment(org, "Busca", q="souza"))) == {ana}
    assert set(segments.matching(new_segment(org, "Etapa", stage=stage.pk))) == {ana}


def test_the_live_count_stops_past_the_cap_and_exact_counts_all(org, monkeypatch):
    Contact.objects.bulk_create(
        Contact(organization=org.org, name=f"P{i}", phone=f"55119000001{i:02d}") for i in range(7)
    )
    monkeypatch.setattr(segments, "COUNT_CAP", 5)
    assert segments.count(org.org, Filters()) == 6  # "5+"
    assert segments.count(org.org, Filters(), exact=True) == 7
    one, two = new_segment(org, "Todos"), new_segment(org, "Ninguém", q="ninguém")
    assert segments.counts(org.org, [one, two]) == {one.pk: 6, two.pk: 0}


def test_create_update_delete_are_audited_and_names_are_unique(org):
    segment = new_segment(org, "Clientes", consent="yes")
    assert segment.created_by == org.owner and segment.filters["consent"] == "yes"
    with pytest.raises(Conflict) as clash:
        new_segment(org, " clientes ")
    assert clash.value.field == "name" and "Clientes" in str(clash.value)
    with pytest.raises(Refused):
        new_segment(org, "   ")
    with pytest.raises(Refused):
        new_segment(org, "x" * 121)

    other = new_segment(org, "Outros")
    with pytest.raises(Conflict):
        segments.update_segment(other, name="CLIENTES", acting_member=org.owner)
    changed = segments.update_segment(
        segment, name="Clientes fiéis", filters={"wrote_within": 30}, acting_member=org.owner
    )
    assert changed == ["filters", "name"]
    segment.refresh_from_db()
    assert segment.name == "Clientes fiéis" and segment.filters == {**EVERYONE, "wrote_within": 30}
    assert segments.update_segment(segment, name="Clientes fiéis", acting_member=org.owner) == []

    segments.delete_segment(segment, acting_member=org.owner)
    assert not Segment.objects.filter(pk=segment.pk).exists()
    verbs = list(
        OperationalEvent.objects.filter(object_type="segment", object_id=segment.pk)
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs == ["segment.created", "segment.changed", "segment.deleted"]


def test_agents_and_other_organizations_cannot_change_segments(org, other_org):
    segment = new_segment(org)
    agent = org.member(Member.Role.AGENT)
    with pytest.raises(Forbidden):
        segments.create_segment(org.org, name="Meu", filters={}, acting_member=agent)
    with pytest.raises(Forbidden):
        segments.update_segment(segment, name="Meu", acting_member=agent)
    with pytest.raises(Forbidden):
        segments.delete_segment(segment, acting_member=agent)
    with pytest.raises(Refused) as stranger:
        segments.delete_segment(segment, acting_member=other_org.owner)
    assert stranger.value.status == 404
    supervisor = org.member(Member.Role.SUPERVISOR)
    segments.update_segment(segment, name="Do supervisor", acting_member=supervisor)


@pytest.mark.parametrize("status", [Campaign.Status.RUNNING, Campaign.Status.PAUSED])
def test_a_segment_an_open_campaign_reads_cannot_be_deleted(org, status):
    segment = new_segment(org)
    campaign = Campaign.objects.create(organization=org.org, name="Black Friday", status=status)
    campaign.segments.add(segment)
    with pytest.raises(Conflict) as refused:
        segments.delete_segment(segment, acting_member=org.owner)
    assert "Black Friday" in str(refused.value)
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_a_draft_or_finished_campaign_just_loses_a_deleted_segment(org):
    segment = new_segment(org)
    draft = Campaign.objects.create(organization=org.org, name="Rascunho")
    done = Campaign.objects.create(
        organization=org.org, name="Feita", status=Campaign.Status.FINISHED
    )
    draft.segments.add(segment)
    done.segments.add(segment)
    segments.delete_segment(segment, acting_member=org.owner)
    assert not draft.segments.exists() and Campaign.objects.filter(pk=done.pk).exists()


# Pages


def test_the_list_shows_an_empty_state_then_each_segment_with_its_count_and_words(org):
    client = org.client()
    empty = client.get("/contacts/segments/").content.decode()
    assert "No segments yet" in empty and "/contacts/segments/new" in empty

    consented(org, "Ana", "5511900000001")
    make(org, "Bruno", "5511900000002")
    new_segment(org, "Consentidos", consent="yes")
    new_segment(org, "Recentes", wrote_within=30)
    page = client.get("/contacts/segments/").content.decode()
    assert "Consentidos" in page and "Recentes" in page
    assert "Marketing consent given" in page and "Wrote to us in the last 30 days" in page
    assert 'class="segment-count-cell">1<' in page and 'class="segment-count-cell">0<' in page
    assert org.owner.display_name in page


def test_save_as_segment_carries_the_contacts_filters_into_the_form(org):
    client = org.client()
    contacts = client.get("/contacts/", {"consent": "yes", "q": "ana"}).content.decode()
    assert 'href="/contacts/segments/"' in contacts
    assert "/contacts/segments/new?q=ana&amp;consent=yes" in contacts
    form = client.get("/contacts/segments/new", {"q": "ana", "consent": "yes"}).content.decode()
    assert 'value="ana"' in form and '<option value="yes" selected>' in form


def test_the_form_saves_a_segment_and_shows_refusals_beside_it(org):
    client = org.client()
    consented(org, "Ana", "5511900000001")
    form = {"name": "Consentidos", "consent": "yes", "open": "no", "wrote_within": ""}
    response = client.post("/contacts/segments/new", form)
    assert response.status_code == 302 and response["Location"] == "/contacts/segments/"
    segment = Segment.objects.get(organization=org.org)
    assert segment.filters == {**EVERYONE, "consent": "yes", "open_conversation": "no"}

    again = client.post("/contacts/segments/new", {**form, "name": "consentidos", "q": "ana"})
    assert again.status_code == 400
    body = again.content.decode()
    assert "There is already a segment called" in body
    assert 'value="consentidos"' in body and 'value="ana"' in body
    bad = client.post("/contacts/segments/new", {"name": "Novo", "wrote_within": "0"})
    assert bad.status_code == 400 and "number of days" in bad.content.decode()

    url = f"/contacts/segments/{segment.pk}/"
    assert "1</strong>" in client.get(url).content.decode()
    edited = client.post(url, {"name": "Todos", "consent": ""})
    assert edited.status_code == 302
    segment.refresh_from_db()
    assert segment.name == "Todos" and segment.filters == EVERYONE


def test_the_live_count_follows_the_filters(org, other_org):
    client = org.client()
    consented(org, "Ana", "5511900000001")
    make(org, "Bruno", "5511900000002")
    foreign = stage_of(other_org)

    def count(**params) -> str:
        response = client.get("/contacts/segments/count", params, headers={"HX-Request": "true"})
        assert response.status_code == 200 and b"<html" not in response.content
        return response.content.decode()

    assert "2</strong> contacts match now" in count()
    assert "1</strong> contact matches now" in count(consent="yes")
    assert "0</strong>" in count(q="ninguém")
    assert "Choose a pipeline stage of your own" in count(stage=str(foreign.pk))


def test_agents_see_segments_but_cannot_change_them(org):
    segment = new_segment(org)
    agent = org.client(org.member(Member.Role.AGENT))
    listing = agent.get("/contacts/segments/").content.decode()
    assert "Consentidos" in listing and "/contacts/segments/new" not in listing
    page = agent.get(f"/contacts/segments/{segment.pk}/").content.decode()
    assert "Only owners, admins and supervisors change segments" in page and "disabled" in page
    assert agent.get("/contacts/segments/new").status_code == 403
    assert agent.post(f"/contacts/segments/{segment.pk}/", {"name": "Meu"}).status_code == 403
    assert agent.post(f"/contacts/segments/{segment.pk}/delete").status_code == 403
    assert "Save as segment" not in agent.get("/contacts/", {"consent": "yes"}).content.decode()


def test_delete_from_the_page_unless_an_open_campaign_reads_it(org):
    client = org.client()
    kept, gone = new_segment(org, "Em uso"), new_segment(org, "Sem uso")
    campaign = Campaign.objects.create(
        organization=org.org, name="Natal", status=Campaign.Status.RUNNING
    )
    campaign.segments.add(kept)
    page = client.get(f"/contacts/segments/{kept.pk}/").content.decode()
    assert "Natal" in page
    refused = client.post(f"/contacts/segments/{kept.pk}/delete")
    assert refused.status_code == 400 and "Finish or cancel it first" in refused.content.decode()
    assert client.get(f"/contacts/segments/{kept.pk}/delete").status_code == 405
    done = client.post(f"/contacts/segments/{gone.pk}/delete")
    assert done.status_code == 302
    assert list(Segment.objects.filter(organization=org.org)) == [kept]


def test_another_organizations_segment_is_a_404_on_every_page(org, other_org):
    theirs = new_segment(other_org, "Deles")
    client = org.client()
    assert client.get(f"/contacts/segments/{theirs.pk}/").status_code == 404
    assert client.post(f"/contacts/segments/{theirs.pk}/", {"name": "x"}).status_code == 404
    assert client.post(f"/contacts/segments/{theirs.pk}/delete").status_code == 404
    assert "Deles" not in client.get("/contacts/segments/").content.decode()
    assert Segment.objects.filter(pk=theirs.pk, name="Deles").exists()


def test_the_pages_read_in_portuguese(org):
    new_segment(org, "Consentidos", consent="yes")
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    page = client.get("/contacts/segments/").content.decode()
    assert "Segmentos" in page and "Consentimento de marketing dado" in page
    form = client.get("/contacts/segments/new").content.decode()
    assert "Novo segmento" in form and "contatos correspondem agora" in form


# API


def test_the_api_creates_reads_counts_changes_and_deletes(org):
    consented(org, "Ana", "5511900000001")
    make(org, "Bruno", "5511900000002")
    stage = stage_of(org)
    api = Client(headers={"Authorization": f"Bearer {org.api_token()}"})

    def send(method, path, body=None):
        return getattr(api, method)(path, body, content_type="application/json")

    created = send("post", "/api/segments", {"name": "Consentidos", "filters": {"consent": "yes"}})
    assert created.status_code == 201
    body = created.json()
    assert body["count"] == 1 and body["filters"]["consent"] == "yes"
    assert body["created_by_id"] == org.owner.pk
    pk = body["id"]
    assert [s["name"] for s in api.get("/api/segments").json()] == ["Consentidos"]
    assert api.get(f"/api/segments/{pk}").json()["count"] == 1
    assert api.get(f"/api/segments/{pk}/count").json() == {"count": 1, "capped": False}
    assert api.get(f"/api/segments/{pk}/count", {"exact": "true"}).json()["count"] == 1
    assert send("post", "/api/segments/count", {}).json() == {"count": 2, "capped": False}
    assert send("post", "/api/segments/count", {"stage_id": stage.pk}).json()["count"] == 0

    patched = send(
        "patch", f"/api/segments/{pk}", {"filters": {"wrote_within_days": 7, "stage_id": stage.pk}}
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Consentidos"
    assert patched.json()["filters"]["wrote_within_days"] == 7
    assert patched.json()["filters"]["consent"] == ""  # the filters are replaced whole
    assert send("patch", f"/api/segments/{pk}", {"name": "Recentes"}).json()["name"] == "Recentes"
    assert api.delete(f"/api/segments/{pk}").status_code == 204
    assert api.get(f"/api/segments/{pk}").status_code == 404


def test_the_api_answers_bad_input_with_4xx_json(org, other_org):
    api = Client(headers={"Authorization": f"Bearer {org.api_token()}"})

    def post(path, body):
        return api.post(path, body, content_type="application/json")

    post("/api/segments", {"name": "Todos"})
    foreign = stage_of(other_org)
    bad = [
        ("/api/segments", {"name": ""}, 422),
        ("/api/segments", {"name": "x" * 121}, 422),
        ("/api/segments", {"name": "Novo", "filters": {"consent": "maybe"}}, 422),
        ("/api/segments", {"name": "Novo", "filters": {"wrote_within_days": 0}}, 422),
        ("/api/segments", {"name": "Novo", "filters": {"wrote_within_days": 3651}}, 422),
        ("/api/segments", {"name": "Novo", "filters": {"sort": "name"}}, 422),
        ("/api/segments", {"name": "Novo", "filters": {"stage_id": foreign.pk}}, 422),
        ("/api/segments", {"name": "Novo", "filters": {"q": "x" * 201}}, 422),
        ("/api/segments", {"name": "todos"}, 409),
        ("/api/segments/count", {"stage_id": 0}, 422),
    ]
    for path, body, status in bad:
        response = post(path, body)
        assert response.status_code == status, (body, response.content)
        assert response.json()["error"] in ("invalid", "conflict")
    stage_refusal = post("/api/segments/count", {"stage_id": foreign.pk}).json()
    assert stage_refusal["errors"][0]["loc"] == ["body", "stage"]
    assert api.get("/api/segments/0").status_code == 422
    assert api.get("/api/segments/count").status_code in (405, 422)


def test_the_api_keeps_organizations_apart_and_agents_read_only(org, other_org):
    theirs = new_segment(other_org, "Deles")
    mine = new_segment(org, "Meus")
    api = Client(headers={"Authorization": f"Bearer {org.api_token()}"})
    assert api.get(f"/api/segments/{theirs.pk}").status_code == 404
    assert api.get(f"/api/segments/{theirs.pk}/count").status_code == 404
    assert api.delete(f"/api/segments/{theirs.pk}").status_code == 404
    changed = api.patch(
        f"/api/segments/{theirs.pk}", {"name": "x"}, content_type="application/json"
    )
    assert changed.status_code == 404 and changed.json()["error"] == "not_found"
    assert [s["name"] for s in api.get("/api/segments").json()] == ["Meus"]

    agent = org.member(Member.Role.AGENT)
    as_agent = Client(headers={"Authorization": f"Bearer {org.api_token(agent)}"})
    assert as_agent.get(f"/api/segments/{mine.pk}").status_code == 200
    refused = as_agent.post("/api/segments", {"name": "Meu"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert as_agent.delete(f"/api/segments/{mine.pk}").status_code == 403
