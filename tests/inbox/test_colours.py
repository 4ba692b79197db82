"""A tag's colour goes into the pages' class names: the API, the services and the model take
one of the palette's names only, and a row saved before that rule shows grey."""

import pytest
from django.core.exceptions import ValidationError

from conversa.inbox import tags
from conversa.inbox.models import Tag

pytestmark = pytest.mark.django_db


def post(client, url: str, data: dict):
    return client.post(url, data, content_type="application/json")


@pytest.mark.parametrize("colour", ["red;background:url(x)", "#fff;}body{xx:yy", "#16a34a", ""])
def test_a_tag_colour_outside_the_palette_is_a_422_naming_the_field(org, colour):
    response = post(org.client(), "/api/tags", {"name": "VIP", "colour": colour})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"][-1] == "colour" and "Unknown colour" in error["msg"]
    assert not Tag.objects.filter(organization=org.org).exists()


def test_a_palette_colour_goes_through_the_api_onto_the_pages(org):
    client = org.client()
    response = post(client, "/api/tags", {"name": "VIP", "colour": "teal"})
    assert response.status_code == 201 and response.json()["colour"] == "teal"
    tag = Tag.objects.get(pk=response.json()["id"])
    conversation = org.conversation()
    tags.tag_conversation(conversation, tag, acting_member=org.owner)
    assert "tag-chip tag-teal" in client.get(f"/inbox/c/{conversation.pk}/").content.decode()


def test_the_model_refuses_what_the_api_refuses(org):
    with pytest.raises(ValidationError) as refused:
        Tag(organization=org.org, name="VIP", colour="red blue").full_clean()
    assert list(refused.value.message_dict) == ["colour"]


def test_a_stored_bad_colour_is_printed_as_grey(org):
    tag = tags.create_tag(org.org, "VIP", "red", acting_member=org.owner)
    conversation = org.conversation()
    tags.tag_conversation(conversation, tag, acting_member=org.owner)
    tags.tag_contact(conversation.contact, tag, acting_member=org.owner)
    # As a row saved before colours were checked: straight into the table. A space adds a
    # class of the sender's choosing.
    raw = "red x{y"
    Tag.objects.filter(pk=tag.pk).update(colour=raw)
    client = org.client()
    for url in [
        f"/inbox/c/{conversation.pk}/",
        f"/inbox/c/{conversation.pk}/contact",
        f"/inbox/c/{conversation.pk}/head",
        "/inbox/list",
        "/inbox/settings/tags",
    ]:
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200 and f"tag-{raw}" not in page, url
        assert "tag-chip tag-grey" in page, url
