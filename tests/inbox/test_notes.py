"""Private notes: kept for the team in the conversation's history, never sent as a message,
and through the API only within the caller's organization."""

import pytest

from conversa.accounts.models import Member
from conversa.errors import Refused
from conversa.inbox import notes
from conversa.inbox.models import Message, Note
from tests.inbox.conftest import history, post


def test_a_note_is_kept_for_the_team_and_never_becomes_a_message(
    org, published_events, django_capture_on_commit_callbacks
):
    conversation = org.conversation()
    ana = org.member()
    with django_capture_on_commit_callbacks(execute=True):
        note = notes.add_note(conversation, "  Cliente pediu desconto  ", acting_member=ana)
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
        notes.add_note(conversation, "   ", acting_member=ana)


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
