"""Tags on conversations and contacts: each change in the history and announced, names unique
in an organization, only supervisors create and delete them, nothing crosses organizations."""

import pytest

from conversa.errors import Refused
from conversa.inbox import tags
from conversa.inbox.models import Tag
from tests.inbox.conftest import history, post


def test_a_tag_on_a_conversation_is_in_its_history_and_announced(
    org, published_events, django_capture_on_commit_callbacks
):
    conversation = org.conversation()
    vip = tags.create_tag(org.org, "VIP", "purple", acting_member=org.owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert tags.tag_conversation(conversation, vip, acting_member=org.owner)
        assert not tags.tag_conversation(conversation, vip, acting_member=org.owner), (
            "already has it"
        )
    assert list(conversation.tags.all()) == [vip]
    assert published_events == [
        (org.org.pk, {"type": "CONVERSATION_UPDATED", "conversation_ids": [conversation.pk]})
    ]
    assert tags.untag_conversation(conversation, vip, acting_member=org.owner)
    assert not tags.untag_conversation(conversation, vip, acting_member=org.owner)
    assert history(conversation) == ["conversation.tagged", "conversation.untagged"]


def test_tag_names_are_unique_in_an_organization_whatever_their_case(org, other_org):
    tags.create_tag(org.org, "VIP", "red", acting_member=org.owner)
    with pytest.raises(Refused, match="exists") as taken:
        tags.create_tag(org.org, "  vip ", "blue", acting_member=org.owner)
    assert taken.value.status == 409
    tags.create_tag(other_org.org, "VIP", "red", acting_member=other_org.owner)  # theirs is theirs
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
        tags.create_tag(org.org, name, colour, acting_member=org.owner)


def test_agents_apply_tags_but_do_not_create_or_delete_them(org):
    agent = org.member()
    with pytest.raises(Refused) as refused:
        tags.create_tag(org.org, "VIP", "red", acting_member=agent)
    assert refused.value.status == 403
    tag = tags.create_tag(org.org, "VIP", "red", acting_member=org.owner)
    contact = org.conversation().contact
    assert tags.tag_contact(contact, tag, acting_member=agent)
    with pytest.raises(Refused):
        tags.delete_tag(tag, acting_member=agent)


def test_deleting_a_tag_takes_it_off_conversations_and_contacts(org):
    conversation = org.conversation()
    tag = tags.create_tag(org.org, "Churn risk", "orange", acting_member=org.owner)
    tags.tag_conversation(conversation, tag, acting_member=org.owner)
    tags.tag_contact(conversation.contact, tag, acting_member=org.owner)
    tags.delete_tag(tag, acting_member=org.owner)
    assert not conversation.tags.exists() and not conversation.contact.tags.exists()


def test_another_organizations_tag_is_never_linked(org, other_org):
    theirs = tags.create_tag(other_org.org, "Deles", "red", acting_member=other_org.owner)
    conversation = org.conversation()
    with pytest.raises(Refused):
        tags.tag_conversation(conversation, theirs, acting_member=org.owner)
    with pytest.raises(Refused):
        tags.tag_contact(conversation.contact, theirs, acting_member=org.owner)
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
    tag = tags.create_tag(org.org, "VIP", "red", acting_member=org.owner)
    conversation = org.conversation()
    tags.tag_conversation(conversation, tag, acting_member=org.owner)
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
