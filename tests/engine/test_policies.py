"""The organization's and the numbers' policies (`engine/policies.py`, `/api/organization`,
`PATCH /api/numbers/{id}`): owners and admins only, checked whole and saved all or nothing,
recorded, bounded; resuming wakes what was held."""

from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.engine import policies
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.engine.services import create_intent
from conversa.errors import Forbidden, Refused
from conversa.inbox.models import Queue
from conversa.numbers.models import Number
from tests.inbox.conftest import post


def patch(client, url: str, data):
    return client.patch(url, data, content_type="application/json")


def wanted(org: Organization, **changes) -> policies.OrganizationPolicies:
    return policies.OrganizationPolicies(
        **{**policies.OrganizationPolicies.of(org).__dict__, **changes}
    )


def verbs(org) -> list[str]:
    return list(
        OperationalEvent.objects.filter(organization=org.org).values_list("verb", flat=True)
    )


def test_an_admin_changes_the_policies_at_once_and_it_is_recorded(org):
    admin = org.member(Member.Role.ADMIN)
    changes = policies.update_organization(
        org.org,
        acting_member=admin,
        wanted=wanted(
            org.org,
            name="  Loja   Centro ",
            time_zone="Europe/Lisbon",
            quiet_hours_start=time(21),
            quiet_hours_end=time(8),
            sending_hours={"tue": [["08:00", "20:00"]], "mon": [["08:00", "12:00"]]},
            reopen_window_hours=48,
            default_hourly_quota=50,
            default_daily_quota=300,
        ),
    )
    fresh = Organization.objects.get(pk=org.org.pk)
    assert fresh.name == "Loja Centro" and fresh.time_zone == "Europe/Lisbon"
    assert (fresh.quiet_hours_start, fresh.quiet_hours_end) == (time(21), time(8))
    assert list(fresh.sending_hours) == ["mon", "tue"]
    assert fresh.sending_hours["tue"] == [["08:00", "20:00"]]
    assert changes["quiet_hours_start"] == [None, "21:00"]
    event = OperationalEvent.objects.get(verb="organization.settings_changed")
    assert event.actor == admin and event.data["time_zone"] == [
        "America/Sao_Paulo",
        "Europe/Lisbon",
    ]
    # The same again changes nothing and records nothing.
    assert policies.update_organization(org.org, acting_member=admin, wanted=wanted(fresh)) == {}
    assert verbs(org).count("organization.settings_changed") == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "   "),
        ("time_zone", "Mars/Olympus"),
        ("time_zone", "posix/" + "../" * 2 + "etc"),
        ("quiet_hours_start", None),  # with an end: both or neither
        ("sending_hours", {"mon": [["20:00", "08:00"]]}),
        ("sending_hours", {"funday": [["08:00", "09:00"]]}),
        ("sending_hours", {"mon": []}),
        ("reopen_window_hours", 365 * 24 + 1),
        ("reopen_window_hours", -1),
        ("default_hourly_quota", 10**12),
        ("default_daily_quota", True),
    ],
)
def test_a_bad_policy_is_refused_on_its_field_and_nothing_is_saved(org, field, value):
    base = {"name": "Renamed", "quiet_hours_start": time(22), "quiet_hours_end": time(6)}
    with pytest.raises(Refused) as refused:
        policies.update_organization(
            org.org, acting_member=org.owner, wanted=wanted(org.org, **{**base, field: value})
        )
    assert refused.value.field == field
    fresh = Organization.objects.get(pk=org.org.pk)
    assert fresh.name != "Renamed" and fresh.quiet_hours_start is None
    assert "organization.settings_changed" not in verbs(org)


def test_no_path_stores_an_unknown_time_zone(org):
    with pytest.raises(ValidationError), transaction.atomic():
        Organization.objects.filter(pk=org.org.pk).update(time_zone="Nowhere/Atlantis")
    org.org.time_zone = "Nowhere/Atlantis"
    with pytest.raises(ValidationError), transaction.atomic():
        org.org.save()
    assert Organization.objects.get(pk=org.org.pk).time_zone == "America/Sao_Paulo"


@pytest.mark.parametrize("role", [Member.Role.SUPERVISOR, Member.Role.AGENT])
def test_supervisors_and_agents_change_no_policy(org, role):
    member = org.member(role)
    with pytest.raises(Forbidden):
        policies.update_organization(
            org.org, acting_member=member, wanted=wanted(org.org, name="X")
        )
    with pytest.raises(Forbidden):
        policies.set_sending_paused(org.org, acting_member=member, paused=True)
    with pytest.raises(Forbidden):
        policies.update_number(
            org.number,
            acting_member=member,
            wanted=policies.NumberPolicies("X", 1, 1, None, True),
        )


def held_message(org) -> ExecutionJob:
    contact = org.conversation().contact
    intent, _ = create_intent(
        org.org,
        contact=contact,
        body="Oi",
        origin=MessageIntent.Origin.CHAT_MANUAL,
        idempotency_key=f"held-{contact.pk}",
        number=org.number,
    )
    return ExecutionJob.objects.get(intent=intent)


def test_the_kill_switch_holds_then_wakes_what_waits_and_is_recorded(
    org, committed, published_events
):
    with committed():
        assert policies.set_sending_paused(org.org, acting_member=org.owner, paused=True)
    assert not policies.set_sending_paused(org.org, acting_member=org.owner, paused=True)
    job = held_message(org)
    assert job.intent.status == MessageIntent.Status.DEFERRED
    assert job.run_after > timezone.now()
    with committed():
        assert policies.set_sending_paused(org.org, acting_member=org.owner, paused=False)
    job.refresh_from_db()
    assert job.run_after <= timezone.now()  # back to the Gate now, not at its recheck
    assert verbs(org).count("organization.sending_paused") == 1
    assert "organization.sending_resumed" in verbs(org)
    announced = [p for _, p in published_events if p["type"] == "NUMBER_UPDATED"]
    assert announced and org.number.pk in announced[-1]["number_ids"]


def test_a_number_is_renamed_limited_queued_and_paused_at_once(org, committed):
    queue = Queue.objects.create(organization=org.org, name="Vendas")
    other = Queue.objects.create(organization=org.org, name="Suporte")
    other.numbers.add(org.number)
    changes = policies.update_number(
        org.number,
        acting_member=org.owner,
        wanted=policies.NumberPolicies("Loja", 10, 50, queue.pk, True),
    )
    number = Number.objects.get(pk=org.number.pk)
    assert (number.name, number.hourly_quota, number.daily_quota, number.paused) == (
        "Loja",
        10,
        50,
        True,
    )
    assert list(number.queues.all()) == [queue]
    assert changes["queue_id"] == [other.pk, queue.pk]
    assert "number.settings_changed" in verbs(org)
    job = held_message(org)
    assert job.run_after > timezone.now()
    with committed():
        policies.update_number(
            number,
            acting_member=org.owner,
            wanted=policies.NumberPolicies("Loja", 10, 50, queue.pk, False),
        )
    job.refresh_from_db()
    assert job.run_after <= timezone.now()


def test_a_number_refuses_another_organizations_queue_and_huge_quotas(org, other_org):
    theirs = Queue.objects.create(organization=other_org.org, name="Deles")
    for bad, field in (
        (policies.NumberPolicies("N", 1, 1, theirs.pk, False), "queue_id"),
        (policies.NumberPolicies("N", 10**9, 1, None, False), "hourly_quota"),
        (policies.NumberPolicies("", 1, 1, None, False), "name"),
    ):
        with pytest.raises(Refused) as refused:
            policies.update_number(org.number, acting_member=org.owner, wanted=bad)
        assert refused.value.field == field
    assert Number.objects.get(pk=org.number.pk).name == org.number.name


class Provider:
    def create_instance(self, number, url):
        return ""


def test_new_numbers_start_with_the_organizations_default_quotas(org, monkeypatch):
    from conversa.numbers import services

    # The provider's answer is not what this is about: one that accepts anything.
    monkeypatch.setattr(services, "get_provider", lambda number: Provider())
    Organization.objects.filter(pk=org.org.pk).update(
        default_hourly_quota=7, default_daily_quota=70
    )
    org.org.refresh_from_db()
    number = services.add_number(org.org, services.NumberSettings(name="Nova", provider="sandbox"))
    assert (number.hourly_quota, number.daily_quota) == (7, 70)


def test_the_api_reads_and_changes_the_organization(org):
    client = org.client()
    got = client.get("/api/organization")
    assert got.status_code == 200 and got.json()["sending_paused"] is False
    changed = patch(
        client,
        "/api/organization",
        {
            "time_zone": "Asia/Tokyo",
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:30",
            "sending_hours": {"sat": [["09:00", "13:00"]]},
            "default_daily_quota": 500,
            "sending_paused": True,
        },
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["time_zone"] == "Asia/Tokyo" and body["quiet_hours_end"] == "07:30"
    assert body["sending_hours"] == {"sat": [["09:00", "13:00"]]}
    assert body["sending_paused"] is True and body["default_daily_quota"] == 500
    cleared = patch(
        client, "/api/organization", {"quiet_hours_start": None, "quiet_hours_end": None}
    )
    assert cleared.json()["quiet_hours_start"] is None


@pytest.mark.parametrize(
    "payload",
    [
        {"time_zone": "Mars/Olympus"},
        {"quiet_hours_start": "25:00", "quiet_hours_end": "07:00"},
        {"quiet_hours_start": "22:00"},
        {"reopen_window_hours": 10**20},
        {"reopen_window_hours": 365 * 24 + 1},
        {"default_hourly_quota": -1},
        {"sending_hours": {"mon": [["09:00", "08:00"]]}},
        {"sending_hours": {"noday": [["09:00", "10:00"]]}},
        {"sending_hours": {"mon": [["9", "10"]]}},
        {"name": ""},
        {"sending_paused": "maybe"},
    ],
)
def test_the_api_refuses_bad_settings_with_a_clear_4xx(org, payload):
    answer = patch(org.client(), "/api/organization", payload)
    assert answer.status_code == 422, answer.content
    assert answer.json()["error"] == "invalid"
    assert Organization.objects.get(pk=org.org.pk).time_zone == "America/Sao_Paulo"


def test_only_owners_and_admins_use_the_organization_api(org, other_org):
    for role in (Member.Role.SUPERVISOR, Member.Role.AGENT):
        client = org.client(org.member(role))
        assert client.get("/api/organization").status_code == 403
        assert patch(client, "/api/organization", {"sending_paused": True}).status_code == 403
    assert (
        patch(org.client(org.member(Member.Role.ADMIN)), "/api/organization", {}).status_code == 200
    )
    assert not Organization.objects.get(pk=org.org.pk).sending_paused
    # Another organization's owner changes their own, never this one.
    patch(other_org.client(), "/api/organization", {"name": "Outra"})
    assert Organization.objects.get(pk=org.org.pk).name != "Outra"


def test_the_api_changes_a_number(org, other_org):
    queue = Queue.objects.create(organization=org.org, name="Vendas")
    client = org.client()
    url = f"/api/numbers/{org.number.pk}"
    answer = patch(client, url, {"name": "Loja", "hourly_quota": 0, "queue_id": queue.pk})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["name"], body["hourly_quota"], body["queue_id"]) == ("Loja", 0, queue.pk)
    assert patch(client, url, {"paused": True}).json()["paused"] is True
    assert patch(client, url, {"queue_id": None}).json()["queue_id"] is None
    for bad in ({"daily_quota": 10**10}, {"queue_id": 2**63}, {"name": ""}, {"queue_id": 0}):
        assert patch(client, url, bad).status_code == 422, bad
    theirs = Queue.objects.create(organization=other_org.org, name="Deles")
    assert patch(client, url, {"queue_id": theirs.pk}).status_code == 422
    assert patch(other_org.client(), url, {"name": "Hack"}).status_code == 404
    agent = org.client(org.member())
    assert patch(agent, url, {"paused": False}).status_code == 403
    assert Number.objects.get(pk=org.number.pk).paused


def test_pausing_from_the_card_is_recorded(org):
    answer = post(org.client(), f"/api/numbers/{org.number.pk}/pause")
    assert answer.status_code == 200
    assert "number.paused" in verbs(org)
