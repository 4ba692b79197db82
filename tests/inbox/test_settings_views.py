"""The inbox's settings pages: tags and canned replies for owners, admins and supervisors,
each refusal shown on its form, every row within the organization."""

import pytest

from conversa.accounts.models import Member
from conversa.inbox import canned_replies, tags
from conversa.inbox.models import CannedReply, Tag

HX = {"HX-Request": "true"}
PAGES = ["/inbox/settings/tags", "/inbox/settings/canned", "/inbox/settings/canned/new"]


def test_an_agent_gets_no_link_and_a_403(org):
    agent = org.client(org.member())
    inbox = agent.get("/inbox/").content.decode()
    assert "/inbox/settings/tags" not in inbox
    for url in PAGES:
        assert agent.get(url).status_code == 403, url
    assert agent.post("/inbox/settings/tags", {"name": "X", "colour": "red"}).status_code == 403
    assert not Tag.objects.exists()


@pytest.mark.parametrize("role", [Member.Role.OWNER, Member.Role.ADMIN, Member.Role.SUPERVISOR])
def test_owners_admins_and_supervisors_see_the_pages_from_the_navigation(org, role):
    client = org.client(org.member(role))
    assert "/inbox/settings/tags" in client.get("/inbox/").content.decode()
    for url in PAGES:
        assert client.get(url).status_code == 200, url


def test_empty_pages_say_what_goes_there(org):
    client = org.client()
    assert "No tags yet" in client.get("/inbox/settings/tags").content.decode()
    assert "No canned replies yet" in client.get("/inbox/settings/canned").content.decode()


def test_a_tag_is_created_with_a_colour_and_listed_escaped(org):
    client = org.client()
    response = client.post("/inbox/settings/tags", {"name": "<b>VIP</b>", "colour": "red"})
    assert response.status_code == 302
    tag = Tag.objects.get(organization=org.org)
    assert (tag.name, tag.colour) == ("<b>VIP</b>", "red")
    html = client.get("/inbox/settings/tags").content.decode()
    assert "&lt;b&gt;VIP&lt;/b&gt;" in html and "<b>VIP</b>" not in html
    assert 'class="tag-chip tag-red"' in html


def test_a_taken_name_or_an_unknown_colour_is_shown_on_the_form(org):
    client = org.client()
    tags.create_tag(org.org, "VIP", "red", acting_member=org.owner)
    taken = client.post("/inbox/settings/tags", {"name": "vip", "colour": "blue"})
    assert taken.status_code == 409
    html = taken.content.decode()
    assert "exists" in html and 'role="alert"' in html and 'value="vip"' in html
    bad = client.post("/inbox/settings/tags", {"name": "Nova", "colour": "chartreuse"})
    assert bad.status_code == 422 and "Unknown colour" in bad.content.decode()
    empty = client.post("/inbox/settings/tags", {"name": "   ", "colour": "red"})
    assert empty.status_code == 422
    assert Tag.objects.filter(organization=org.org).count() == 1


def test_a_tag_is_deleted_and_leaves_its_conversations(org):
    conversation = org.conversation()
    tag = tags.create_tag(org.org, "VIP", "red", acting_member=org.owner)
    tags.tag_conversation(conversation, tag, acting_member=org.owner)
    client = org.client()
    html = client.get("/inbox/settings/tags").content.decode()
    assert "1 conversation" in html and f"/inbox/settings/tags/{tag.pk}/delete" in html
    assert client.get(f"/inbox/settings/tags/{tag.pk}/delete").status_code == 405
    assert client.post(f"/inbox/settings/tags/{tag.pk}/delete").status_code == 302
    assert not Tag.objects.exists() and not conversation.tags.exists()


def test_another_organizations_tags_and_replies_are_out_of_sight_and_reach(org, other_org):
    theirs = tags.create_tag(other_org.org, "Segredo", "red", acting_member=other_org.owner)
    their_reply = canned_replies.save_canned_reply(
        other_org.org, "segredo", "Só nosso", acting_member=other_org.owner
    )
    client = org.client()
    assert "Segredo" not in client.get("/inbox/settings/tags").content.decode()
    assert "/segredo" not in client.get("/inbox/settings/canned").content.decode()
    assert client.post(f"/inbox/settings/tags/{theirs.pk}/delete").status_code == 404
    assert client.get(f"/inbox/settings/canned/{their_reply.pk}").status_code == 404
    changed = client.post(
        f"/inbox/settings/canned/{their_reply.pk}", {"shortcode": "x", "body": "y"}
    )
    assert changed.status_code == 404
    assert client.post(f"/inbox/settings/canned/{their_reply.pk}/delete").status_code == 404
    assert Tag.objects.filter(pk=theirs.pk).exists()
    their_reply.refresh_from_db()
    assert (their_reply.shortcode, their_reply.body) == ("segredo", "Só nosso")
    # The same name is free in each organization.
    assert (
        client.post("/inbox/settings/tags", {"name": "Segredo", "colour": "red"}).status_code == 302
    )


def test_a_canned_reply_is_created_changed_and_deleted(org):
    client = org.client()
    response = client.post(
        "/inbox/settings/canned/new",
        {"shortcode": "/Ola", "body": "Oi {{contact.first_name}}! <3"},
    )
    assert response.status_code == 302
    reply = CannedReply.objects.get(organization=org.org)
    assert reply.shortcode == "ola"
    html = client.get("/inbox/settings/canned").content.decode()
    assert "/ola" in html and "Oi {{contact.first_name}}! &lt;3" in html
    form = client.get(f"/inbox/settings/canned/{reply.pk}").content.decode()
    assert 'value="ola"' in form and "{{contact.name}}" in form
    client.post(f"/inbox/settings/canned/{reply.pk}", {"shortcode": "oi", "body": "Olá!"})
    reply.refresh_from_db()
    assert (reply.shortcode, reply.body) == ("oi", "Olá!")
    assert client.post(f"/inbox/settings/canned/{reply.pk}/delete").status_code == 302
    assert not CannedReply.objects.exists()


def test_an_unknown_variable_or_a_taken_shortcode_is_shown_on_the_form(org):
    client = org.client()
    canned_replies.save_canned_reply(org.org, "ola", "Oi", acting_member=org.owner)
    typo = client.post(
        "/inbox/settings/canned/new", {"shortcode": "prazo", "body": "Oi {{contact.nme}}"}
    )
    assert typo.status_code == 422
    html = typo.content.decode()
    assert "Unknown variable(s): {{contact.nme}}" in html and 'role="alert"' in html
    assert "Oi {{contact.nme}}</textarea>" in html  # the draft is kept
    taken = client.post("/inbox/settings/canned/new", {"shortcode": "ola", "body": "Outro"})
    assert taken.status_code == 409 and "/ola is taken" in taken.content.decode()
    bad = client.post("/inbox/settings/canned/new", {"shortcode": "com espaço", "body": ""})
    assert bad.status_code == 422 and "The reply is empty" in bad.content.decode()
    assert CannedReply.objects.count() == 1


def test_the_body_is_checked_as_it_is_typed(org):
    client = org.client()
    url = "/inbox/settings/canned/check"
    html = client.post(url, {"body": "Oi {{contact.nme}}"}, headers=HX).content.decode()
    assert "Unknown variable(s): {{contact.nme}}" in html
    assert client.post(url, {"body": "Oi {{contact.name}}"}, headers=HX).content.strip() == b""
    assert org.client(org.member()).post(url, {"body": "x"}).status_code == 403


def test_the_pages_speak_portuguese(org):
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    html = client.get("/inbox/settings/tags").content.decode()
    assert "Etiquetas" in html and "Respostas prontas" in html


def week(**days) -> dict:
    """The business hours form's fields: each named day open with its spans."""
    data = {"mode": "week", "time_zone": "America/Sao_Paulo", "holidays": ["", ""]}
    for day, spans in days.items():
        data[f"{day}_open"] = "1"
        for n, (start, end) in enumerate(spans):
            data[f"{day}_start_{n}"], data[f"{day}_end_{n}"] = start, end
    return data


def test_business_hours_are_saved_with_holidays_and_time_zone(org):
    client = org.client()
    html = client.get("/inbox/settings/hours").content.decode()
    assert 'name="mon_open" value="1" checked' in html and 'value="09:00"' in html
    data = week(mon=[("08:00", "12:00"), ("13:00", "18:00")], sat=[("09:00", "13:00")])
    data["holidays"] = ["2027-01-01", "", "2026-12-25"]  # one date field each, blanks left
    data["time_zone"] = "America/Manaus"
    response = client.post("/inbox/settings/hours", data)
    assert response.status_code == 302
    org.org.refresh_from_db()
    assert org.org.business_hours == {
        "mon": [["08:00", "12:00"], ["13:00", "18:00"]],
        "sat": [["09:00", "13:00"]],
    }
    assert org.org.holidays == ["2026-12-25", "2027-01-01"]
    assert org.org.time_zone == "America/Manaus"
    saved = client.get(response["Location"]).content.decode()
    assert "Business hours saved" in saved
    # Each holiday is a date picker holding its day, and empty ones follow to add more.
    assert '<input type="date" name="holidays" value="2026-12-25"' in saved
    assert saved.count('type="date" name="holidays" value=""') == 3


def test_a_holiday_that_is_not_a_date_is_named_in_the_error(org):
    """A browser without a date picker lets people type: the answer says which value and how."""
    response = org.client().post(
        "/inbox/settings/hours", {**week(mon=[("09:00", "18:00")]), "holidays": ["25/12/2026"]}
    )
    assert response.status_code == 422
    assert "“25/12/2026” is not a date. Pick the day from the calendar." in (
        response.content.decode()
    )
    org.org.refresh_from_db()
    assert org.org.holidays == []


def test_around_the_clock_stores_no_hours(org):
    response = org.client().post(
        "/inbox/settings/hours", {"mode": "always", "time_zone": "America/Sao_Paulo"}
    )
    assert response.status_code == 302
    org.org.refresh_from_db()
    assert (org.org.business_hours, org.org.holidays) == ({}, [])


def test_bad_business_hours_are_shown_on_the_form_and_nothing_changes(org):
    client = org.client()
    before = org.org.business_hours
    for data in [
        week(mon=[("18:00", "09:00")]),
        week(mon=[("09:00", "")]),
        {**week(mon=[("09:00", "18:00")]), "holidays": ["25/12/2026"]},
        {**week(mon=[("09:00", "18:00")]), "time_zone": "Mars/Olympus"},
    ]:
        response = client.post("/inbox/settings/hours", data)
        assert response.status_code == 422, data
        assert 'id="hours-error"' in response.content.decode()
    org.org.refresh_from_db()
    assert org.org.business_hours == before


def test_business_hours_are_for_managers_only(org):
    agent = org.client(org.member())
    assert agent.get("/inbox/settings/hours").status_code == 403
    assert agent.post("/inbox/settings/hours", {"mode": "always"}).status_code == 403
