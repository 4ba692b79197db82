"""Canned replies: filled in for the conversation as plain text, a bad one refused with every
reason, and through the API only within the caller's organization."""

import pytest

from conversa.errors import Refused
from conversa.inbox import canned_replies
from conversa.inbox.models import CannedReply
from tests.inbox.conftest import post, put


def test_a_canned_reply_is_rendered_for_the_conversation_as_plain_text(org):
    conversation = org.customer_writes(name="Maria <b>Silva</b>").conversation
    ana = org.member()
    reply = canned_replies.save_canned_reply(
        org.org,
        "/Hello",
        "Olá {{contact.first_name}} ({{ contact.name }}, {{contact.phone}}), aqui é "
        "{{operator.name}} da {{organization.name}}.",
        acting_member=org.owner,
    )
    assert reply.shortcode == "hello"
    text = canned_replies.render_canned(reply, conversation, ana)
    assert text == (
        f"Olá Maria (Maria <b>Silva</b>, +5511999990001), aqui é {ana.display_name} "
        f"da {org.org.name}."
    ), "values are inserted as they are: escaping is the display's job"


def test_a_body_stored_with_a_variable_unknown_today_shows_it_as_typed(org):
    conversation = org.conversation()
    reply = CannedReply.objects.create(
        organization=org.org, shortcode="old", body="Oi {{contact.nickname}}"
    )
    assert canned_replies.render_canned(reply, conversation, org.owner) == "Oi {{contact.nickname}}"


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
        canned_replies.save_canned_reply(org.org, shortcode, body, acting_member=org.owner)
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
