"""Tags, canned replies and private notes: each change in the conversation's history, each
query within the caller's organization, bad input refused with a clear reason."""

import pytest
from django.test import Client

from conversa.accounts.models import Member, OperationalEvent
from conversa.errors import Refused
from conversa.inbox import teamwork
from conversa.inbox.models import CannedReply, Message, Note, Tag


def history(obj) -> list[str]:
    return list(
        OperationalEvent.objects.filter(
            object_type=obj._meta.model_name, object_id=obj.pk
        ).values_list("verb", flat=True)
    )


def post(client: Client, url: str, data=None):
    return client.post(url, data or {}, content_type="application/json")


def put(client: Client, url: str, data):
    return client.put(url, data, content_type="application/json")


# Tags


def test_a_tag_on_a_conversation_is_in_its_history_and_announced(
    org, published_events, django_capture_on_commit_callbacks
):
    conversation = org.conversation()
    vip = teamwork.create_tag(org.org, "VIP", "purple", by=org.owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert teamwork.tag_conversation(conversation, vip, by=org.owner)
        assert not teamwork.tag_conversation(conversation, vip, by=org.owner), "already has it"
    assert list(conversation.tags.all()) == [vip]
    assert published_events == [
        (org.org.pk, {"type": "CONVERSATION_UPDATED", "conversation_ids": [conversation.pk]})
    ]
    assert teamwork.untag_conversation(conversation, vip, by=org.owner)
    assert not teamwork.untag_conversation(conversation, vip, by=org.owner)
    assert history(conversation) == ["conversation.tagged", "conversation.untagged"]


def test_tag_names_are_unique_in_an_organization_whatever_their_case(org, other_org):
    teamwork.create_tag(org.org, "VIP", "red", by=org.owner)
    with pytest.raises(Refused, match="exists") as taken:
        teamwork.create_tag(org.org, "  vip ", "blue", by=org.owner)
    assert taken.value.status == 409
    teamwork.create_tag(other_org.org, "VIP", "red", by=other_org.owner)  # theirs is theirs
    assert Tag.objects.filter(organization=org.org).count() == 1


@pytest.mark.parametrize(
    ("name", "colour", "reason"),
    [
        ("", "red", "1 to 50"),
        ("   ", "red", "1 to 50"),
        ("x" * 51, "red", "1 to 50"),
        ("Lead", "fuchsia", "Unknown colour"),
    ],
)
def test_a_bad_tag_is_refused(org, name, colour, reason):
    with pytest.raises(Refused, match=reason):
        teamwork.create_tag(org.org, name, colour, by=org.owner)


def test_agents_apply_tags_but_do_not_create_or_delete_them(org):
    agent = org.member()
    with pytest.raises(Refused) as refused:
        teamwork.create_tag(org.org, "VIP", "red", by=agent)
    assert refused.value.status == 403
    tag = teamwork.create_tag(org.org, "VIP", "red", by=org.owner)
    contact = org.conversation().contact
    assert teamwork.tag_contact(contact, tag, by=agent)
    with pytest.raises(Refused):
        teamwork.delete_tag(tag, by=agent)


def test_deleting_a_tag_takes_it_off_conversations_and_contacts(org):
    conversation = org.conversation()
    tag = teamwork.create_tag(org.org, "Churn risk", "orange", by=org.owner)
    teamwork.tag_conversation(conversation, tag, by=org.owner)
    teamwork.tag_contact(conversation.contact, tag, by=org.owner)
    teamwork.delete_tag(tag, by=org.owner)
    assert not conversation.tags.exists() and not conversation.contact.tags.exists()


def test_another_organizations_tag_is_never_linked(org, other_org):
    theirs = teamwork.create_tag(other_org.org, "Deles", "red", by=other_org.owner)
    conversation = org.conversation()
    with pytest.raises(Refused):
        teamwork.tag_conversation(conversation, theirs, by=org.owner)
    with pytest.raises(Refused):
        teamwork.tag_contact(conversation.contact, theirs, by=org.owner)
    assert not conversation.tags.exists()


def test_tags_through_the_api(org, published_events, django_capture_on_commit_callbacks):
    client = org.client()
    conversation = org.conversation()
    created = post(client, "/api/tags", {"name": "VIP", "colour": "green"})
    assert created.status_code == 201
    tag = created.json()
    assert tag == {"id": tag["id"], "name": "VIP", "colour": "green"}
    again = post(client, "/api/tags", {"name": "vip"})
    assert again.status_code == 409
    assert again.json()["error"] == "conflict" and "exists" in again.json()["detail"]
    bad = post(client, "/api/tags", {"name": "Lead", "colour": "fuchsia"})
    assert bad.status_code == 422
    assert "Unknown colour" in bad.json()["errors"][0]["msg"]
    assert client.get("/api/tags").json() == [tag]

    url = f"/api/conversations/{conversation.pk}/tags"
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, url, {"tag_id": tag["id"]}).json() == [tag]
    assert client.get(url).json() == [tag]
    assert published_events[-1] == (
        org.org.pk,
        {"type": "CONVERSATION_UPDATED", "conversation_ids": [conversation.pk]},
    )
    assert client.delete(f"{url}/{tag['id']}").json() == []

    contact_url = f"/api/contacts/{conversation.contact_id}/tags"
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, contact_url, {"tag_id": tag["id"]}).json() == [tag]
    assert published_events[-1] == (
        org.org.pk,
        {"type": "CONTACT_UPDATED", "contact_ids": [conversation.contact_id]},
    )
    assert client.get(contact_url).json() == [tag]
    assert client.delete(f"{contact_url}/{tag['id']}").json() == []

    agent = org.client(org.member())
    refused = agent.delete(f"/api/tags/{tag['id']}")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert client.delete(f"/api/tags/{tag['id']}").status_code == 204
    assert client.get("/api/tags").json() == []


def test_another_organization_cannot_see_or_touch_our_tags(org, other_org):
    tag = teamwork.create_tag(org.org, "VIP", "red", by=org.owner)
    conversation = org.conversation()
    teamwork.tag_conversation(conversation, tag, by=org.owner)
    theirs = other_org.client()
    assert theirs.get("/api/tags").json() == []
    assert theirs.delete(f"/api/tags/{tag.pk}").status_code == 404
    assert theirs.get(f"/api/conversations/{conversation.pk}/tags").status_code == 404
    their_conversation = other_org.conversation()
    lend = post(theirs, f"/api/conversations/{their_conversation.pk}/tags", {"tag_id": tag.pk})
    assert lend.status_code == 404 and lend.json()["error"] == "not_found"
    steal = theirs.delete(f"/api/conversations/{conversation.pk}/tags/{tag.pk}")
    assert steal.status_code == 404
    assert list(conversation.tags.all()) == [tag]


# Canned replies


def test_a_canned_reply_is_rendered_for_the_conversation_as_plain_text(org):
    conversation = org.customer_writes(name="Maria <b>Silva</b>").conversation
    ana = org.member()
    reply = teamwork.save_canned_reply(
        org.org,
        "/Hello",
        "Olá {{contact.first_name}} ({{ contact.name }}, {{contact.phone}}), aqui é "
        "{{operator.name}} da {{organization.name}}.",
        by=org.owner,
    )
    assert reply.shortcode == "hello"
    text = teamwork.render_canned(reply, conversation, ana)
    assert text == (
        f"Olá Maria (Maria <b>Silva</b>, +5511999990001), aqui é {ana.display_name} "
        f"da {org.org.name}."
    ), "values are inserted as they are: escaping is the display's job"


def test_a_body_stored_with_a_variable_unknown_today_shows_it_as_typed(org):
    conversation = org.conversation()
    reply = CannedReply.objects.create(
        organization=org.org, shortcode="old", body="Oi {{contact.nickname}}"
    )
    assert teamwork.render_canned(reply, conversation, org.owner) == "Oi {{contact.nickname}}"


@pytest.mark.parametrize(
    ("shortcode", "body", "reason"),
    [
        ("hello", "Oi {{contact.nme}}", "Unknown variable(s): {{contact.nme}}"),
        ("hello", "Oi {{ name }} e {{x.y}}", "{{name}}, {{x.y}}"),
        ("hello", "   ", "empty"),
        ("hello", "x" * 4097, "longer than"),
        ("hello world", "Oi", "shortcode is 1 to 32"),
        ("", "Oi", "shortcode is 1 to 32"),
        ("olá", "Oi", "shortcode is 1 to 32"),
    ],
)
def test_a_bad_canned_reply_is_refused_and_nothing_is_stored(org, shortcode, body, reason):
    with pytest.raises(Refused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        teamwork.save_canned_reply(org.org, shortcode, body, by=org.owner)
    assert not CannedReply.objects.exists()


def test_canned_replies_through_the_api(org, other_org):
    client = org.client()
    created = post(client, "/api/canned-replies", {"shortcode": "hello", "body": "Oi!"})
    assert created.status_code == 201
    hello = created.json()
    post(client, "/api/canned-replies", {"shortcode": "help", "body": "Como ajudo?"})
    post(client, "/api/canned-replies", {"shortcode": "bye", "body": "Tchau {{contact.name}}"})
    taken = post(client, "/api/canned-replies", {"shortcode": "hello", "body": "Outra"})
    assert taken.status_code == 409 and "/hello is taken" in taken.json()["detail"]
    typo = post(client, "/api/canned-replies", {"shortcode": "x", "body": "{{contact.nme}}"})
    assert typo.status_code == 422 and typo.json()["error"] == "invalid"
    assert "{{contact.nme}}" in typo.json()["errors"][0]["msg"]

    found = client.get("/api/canned-replies?q=/he").json()
    assert [r["shortcode"] for r in found] == ["hello", "help"]
    assert [r["shortcode"] for r in client.get("/api/canned-replies").json()] == [
        "bye",
        "hello",
        "help",
    ]
    changed = put(
        client,
        f"/api/canned-replies/{hello['id']}",
        {"shortcode": "hello", "body": "Olá {{contact.name}}, {{operator.name}} aqui"},
    )
    assert changed.status_code == 200
    conversation = org.customer_writes(name="Maria").conversation
    rendered = client.get(f"/api/conversations/{conversation.pk}/canned-replies/{hello['id']}")
    assert rendered.json() == {"text": f"Olá Maria, {org.owner.display_name} aqui"}

    agent = org.client(org.member())
    assert agent.get("/api/canned-replies?q=he").status_code == 200, "agents use them"
    assert agent.delete(f"/api/canned-replies/{hello['id']}").status_code == 403

    theirs = other_org.client()
    assert theirs.get("/api/canned-replies").json() == []
    assert theirs.get(f"/api/canned-replies/{hello['id']}").status_code == 404
    hijack = put(theirs, f"/api/canned-replies/{hello['id']}", {"shortcode": "a", "body": "b"})
    assert hijack.status_code == 404
    assert theirs.delete(f"/api/canned-replies/{hello['id']}").status_code == 404
    their_conversation = other_org.conversation()
    leak = theirs.get(f"/api/conversations/{their_conversation.pk}/canned-replies/{hello['id']}")
    assert leak.status_code == 404

    assert client.delete(f"/api/canned-replies/{hello['id']}").status_code == 204
    assert client.get(f"/api/canned-replies/{hello['id']}").status_code == 404


# Notes


def test_a_note_is_kept_for_the_team_and_never_becomes_a_message(
    org, published_events, django_capture_on_commit_callbacks
):
    conversation = org.conversation()
    ana = org.member()
    with django_capture_on_commit_callbacks(execute=True):
        note = teamwork.add_note(conversation, "  Cliente pediu desconto  ", author=ana)
    assert (note.body, note.author, note.conversation) == (
        "Cliente pediu desconto",
        ana,
        conversation,
    )
    assert conversation.messages.count() == 1, "only the customer's message"
    assert not Message.objects.filter(body__contains="desconto").exists()
    assert history(conversation) == ["conversation.note_added"]
    assert published_events == [
        (org.org.pk, {"type": "CONVERSATION_UPDATED", "conversation_ids": [conversation.pk]})
    ]
    with pytest.raises(Refused):
        teamwork.add_note(conversation, "   ", author=ana)


def test_notes_through_the_api(org, other_org):
    conversation = org.conversation()
    ana = org.member(Member.Role.AGENT)
    url = f"/api/conversations/{conversation.pk}/notes"
    created = post(org.client(ana), url, {"body": "Ligar amanhã <script>x</script>"})
    assert created.status_code == 201
    note = created.json()
    assert note["author_id"] == ana.pk and note["author_name"] == ana.display_name
    assert note["body"] == "Ligar amanhã <script>x</script>", "stored as typed, escaped on display"
    assert org.client().get(url).json() == [note]
    empty = post(org.client(), url, {"body": ""})
    assert empty.status_code == 422

    theirs = other_org.client()
    assert theirs.get(url).status_code == 404
    assert post(theirs, url, {"body": "spy"}).status_code == 404
    assert Note.objects.count() == 1
