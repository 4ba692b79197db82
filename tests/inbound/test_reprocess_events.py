"""`conversa reprocess-events`: what was kept unread is read again with today's parser, applied
once, and a second run changes nothing. "Yesterday's parser" is today's with a refusal in front
of it: the upgrade is taking the refusal away."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversa import cli
from conversa.inbound.reprocess import reprocess_events
from conversa.inbox.models import Message
from conversa.providers.base import ParsedEvent, Unparsed, WebhookMalformed
from conversa.providers.evolution import EvolutionProvider
from conversa.providers.models import ProviderEvent
from tests.conftest import post_webhook
from tests.inbox.test_inbound import upsert

TODAY = EvolutionProvider.parse_webhook


@pytest.fixture
def old_parser(monkeypatch):
    """While active, the parser does not understand messages yet."""

    def refuse(self, number, raw_body):
        if b"messages.upsert" in raw_body:
            raise WebhookMalformed("messages.upsert: not understood by this version")
        return TODAY(self, number, raw_body)

    monkeypatch.setattr(EvolutionProvider, "parse_webhook", refuse)
    return monkeypatch


def upgrade(monkeypatch) -> None:
    monkeypatch.setattr(EvolutionProvider, "parse_webhook", TODAY)


def run(capsys, *args) -> dict:
    call_command("reprocess_events", *args)
    return json.loads(capsys.readouterr().out)


def test_what_today_reads_is_applied_once_and_a_second_run_changes_nothing(
    client, org, old_parser, capsys
):
    assert post_webhook(client, org.number, upsert("3EB0LATER", text="Oi")).status_code == 200
    kept = ProviderEvent.objects.get()
    assert (kept.kind, kept.processed_at) == ("Unparsed", None)
    assert "not understood" in kept.reason
    assert not Message.objects.exists()
    upgrade(old_parser)

    first = run(capsys)
    second = run(capsys)

    assert first == {"examined": 1, "reparsed": 1, "still_unparsed": 0, "applied": 1}
    assert second == {"examined": 0, "reparsed": 0, "still_unparsed": 0, "applied": 0}
    stored = Message.objects.get()
    assert (stored.provider_message_id, stored.body) == ("3EB0LATER", "Oi")
    assert stored.conversation.unread_count == 1
    kept.refresh_from_db()
    assert kept.processed_at is not None


def test_what_is_still_unreadable_stays_with_todays_reason(client, org, capsys):
    post_webhook(client, org.number, b"{not json")
    ProviderEvent.objects.update(reason="an old reason")

    assert run(capsys) == {"examined": 1, "reparsed": 0, "still_unparsed": 1, "applied": 0}
    assert run(capsys) == {"examined": 1, "reparsed": 0, "still_unparsed": 1, "applied": 0}
    kept = ProviderEvent.objects.get()
    assert kept.processed_at is None
    assert "not JSON" in kept.reason
    assert not Message.objects.exists()


def test_since_and_number_choose_what_is_read(client, org, other_org, old_parser, capsys):
    post_webhook(client, org.number, upsert("3EB0OLD"))
    post_webhook(client, org.number, upsert("3EB0NEW"))
    post_webhook(client, other_org.number, upsert("3EB0OTHER"))
    ProviderEvent.objects.filter(payload__data__key__id="3EB0OLD").update(
        received_at=timezone.now() - timedelta(days=10)
    )
    upgrade(old_parser)

    summary = run(capsys, "--since", "7d", "--number", str(org.number.pk))

    assert summary == {"examined": 1, "reparsed": 1, "still_unparsed": 0, "applied": 1}
    assert list(Message.objects.values_list("provider_message_id", flat=True)) == ["3EB0NEW"]
    since = (timezone.now() - timedelta(days=30)).date().isoformat()
    assert run(capsys, "--since", since)["applied"] == 2


def test_an_unparsed_part_of_a_webhook_is_read_again_without_repeating_the_rest(
    client, org, monkeypatch, capsys
):
    """The parser kept one item of a webhook unread and applied the other: reading it again
    stores only what was missing."""

    def half(self, number, raw_body):
        read = TODAY(self, number, raw_body)
        return [*read, ParsedEvent(Unparsed("a new kind"), "unparsed-item:1", json.loads(raw_body))]

    monkeypatch.setattr(EvolutionProvider, "parse_webhook", half)
    post_webhook(client, org.number, upsert("3EB0HALF"))
    assert ProviderEvent.objects.filter(kind="Unparsed", processed_at=None).count() == 1
    upgrade(monkeypatch)

    assert run(capsys) == {"examined": 1, "reparsed": 1, "still_unparsed": 0, "applied": 0}
    assert Message.objects.count() == 1


def test_the_command_is_spelt_with_a_hyphen(client, org, monkeypatch, capsys):
    post_webhook(client, org.number, b"{not json")
    monkeypatch.setattr("sys.argv", ["conversa", "reprocess-events", "--since", "1h"])

    cli.main()

    assert json.loads(capsys.readouterr().out)["examined"] == 1


@pytest.mark.parametrize("since", ["yesterday", "7x", "2026-13-45"])
def test_a_since_it_cannot_read_is_refused(db, since):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("reprocess_events", "--since", since)


def test_the_service_takes_a_number(client, org, other_org):
    post_webhook(client, org.number, b"{not json")
    post_webhook(client, other_org.number, b"[not json")

    summary = reprocess_events(number_id=other_org.number.pk)

    assert summary["examined"] == 1
