"""The retention policy: an organization's messages older than its period lose their texts and
files (the rows stay, with a placeholder), nothing younger and no other organization's; a
second run finds nothing; each run that removed something is on the timeline."""

import base64
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.engine import retention
from conversa.engine.worker import Worker
from conversa.errors import Refused
from conversa.inbound import consequences as inbound
from conversa.inbox.models import Attachment, Message
from conversa.providers.base import InboundMessage
from conversa.sandbox import simulator
from tests.media_samples import PNG

NOTHING = {"organizations": 0, "messages_emptied": 0, "media_files_deleted": 0, "bytes_freed": 0}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def aged(message: Message, days: int) -> Message:
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(days=days))
    return message


def picture(org, phone: str) -> Message:
    event = InboundMessage(
        provider_message_id=simulator.new_message_id(),
        phone=phone,
        name="Ana",
        kind="image",
        body="",
        content={"media": {"base64": base64.b64encode(PNG).decode()}},
    )
    return inbound.receive_message(org.number, event)


def keep_for(org, days: int | None) -> None:
    Organization.objects.filter(pk=org.org.pk).update(retention_days=days)


@pytest.fixture
def world(org, other_org):
    """Old and recent messages in an organization keeping 30 days, and old ones in one that
    keeps everything and in one that keeps 100 days."""
    keep_for(org, 30)
    old_text = aged(org.customer_writes("5511911110001", "endereço antigo"), 40)
    old_picture = aged(picture(org, "5511911110001"), 40)
    recent = aged(org.customer_writes("5511911110001", "mensagem recente"), 29)
    forever = aged(other_org.customer_writes("5511911110001", "guardada para sempre"), 400)
    return {"old": [old_text, old_picture], "recent": recent, "forever": forever}


def test_only_messages_older_than_the_period_lose_text_and_file(org, world, media_root):
    old_text, old_picture = world["old"]
    stored = Attachment.objects.get(message=old_picture)
    on_disk = Path(media_root) / stored.file.name
    assert on_disk.exists()

    totals = retention.apply()

    assert totals == {
        "organizations": 1,
        "messages_emptied": 2,
        "media_files_deleted": 1,
        "bytes_freed": len(PNG),
    }
    assert not on_disk.exists()
    for message in world["old"]:
        message.refresh_from_db()
        assert (message.body, message.content, message.removed) == ("", {}, "retention")
    stored.refresh_from_db()
    assert (stored.state, stored.file.name) == ("removed", "")
    assert Message.objects.get(pk=world["recent"].pk).body == "mensagem recente"
    assert Message.objects.get(pk=world["forever"].pk).body == "guardada para sempre"
    [entry] = OperationalEvent.objects.filter(organization=org.org, verb="retention.applied")
    assert entry.data["messages_emptied"] == 2 and entry.data["days"] == 30


def test_another_organizations_period_is_its_own(org, other_org, world):
    keep_for(other_org, 500)
    assert retention.apply()["messages_emptied"] == 2
    assert Message.objects.get(pk=world["forever"].pk).body == "guardada para sempre"
    keep_for(other_org, 100)
    assert retention.apply()["messages_emptied"] == 1
    assert Message.objects.get(pk=world["forever"].pk).removed == "retention"


def test_a_second_run_finds_nothing_and_records_nothing(org, world):
    retention.apply()
    assert retention.apply() == {**NOTHING, "organizations": 1}
    assert OperationalEvent.objects.filter(verb="retention.applied").count() == 1


def test_the_command_prints_its_counts_and_a_dry_run_changes_nothing(org, world):
    out = io.StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)
    assert json.loads(out.getvalue()) == {
        "organizations": 1,
        "messages_emptied": 2,
        "media_files_deleted": 1,
        "bytes_freed": len(PNG),
    }
    assert Message.objects.get(pk=world["old"][0].pk).body == "endereço antigo"
    assert not OperationalEvent.objects.filter(verb="retention.applied").exists()

    out = io.StringIO()
    call_command("apply_retention", stdout=out)
    assert json.loads(out.getvalue())["messages_emptied"] == 2
    out = io.StringIO()
    call_command("apply_retention", stdout=out)
    assert json.loads(out.getvalue()) == {**NOTHING, "organizations": 1}


def test_the_worker_applies_it_about_once_an_hour(org, world):
    worker = Worker()
    worker.apply_retention()
    assert Message.objects.get(pk=world["old"][0].pk).removed == "retention"
    later = aged(org.customer_writes("5511911110001", "outra antiga"), 45)
    worker.apply_retention()  # within the hour: not yet
    assert Message.objects.get(pk=later.pk).body == "outra antiga"
    worker.next_retention = 0
    worker.apply_retention()
    assert Message.objects.get(pk=later.pk).removed == "retention"


def test_the_thread_shows_a_placeholder(org, world):
    retention.apply()
    conversation = world["recent"].conversation_id

    page = org.client().get(f"/inbox/c/{conversation}/thread").content.decode()

    assert "Removed by the retention policy" in page
    assert "endereço antigo" not in page and "mensagem recente" in page


def test_the_period_is_set_on_the_settings_page_within_bounds(org):
    client = org.client()
    assert client.post("/settings/organization/retention", {"retention_days": "90"}).status_code
    assert Organization.objects.get(pk=org.org.pk).retention_days == 90
    page = client.get("/settings/organization/").content.decode()
    assert 'name="retention_days"' in page and 'value="90"' in page
    for bad in ("0", "3651", "abc", "-5"):
        response = client.post("/settings/organization/retention", {"retention_days": bad})
        assert response.status_code == 422
        assert Organization.objects.get(pk=org.org.pk).retention_days == 90
    client.post("/settings/organization/retention", {"retention_days": ""})
    assert Organization.objects.get(pk=org.org.pk).retention_days is None
    changes = OperationalEvent.objects.filter(verb="organization.retention_changed")
    assert [e.data["retention_days"] for e in changes.order_by("id")] == [[None, 90], [90, None]]
    supervisor = org.member(Member.Role.SUPERVISOR)
    denied = org.client(supervisor).post(
        "/settings/organization/retention", {"retention_days": "5"}
    )
    assert denied.status_code == 403
    with pytest.raises(Refused):
        retention.set_retention_days(org.org, 3651, acting_member=org.owner)
