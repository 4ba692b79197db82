"""Fixtures shared by the inbox's tests."""

import pytest
from django.test import Client

from conversa.accounts.models import Member, OperationalEvent
from conversa.inbox.models import Queue


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Within it, what waits for the commit runs at its end (the test's transaction never
    commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def queue_with_operator(org, *, capacity: int, name: str = "Suporte") -> tuple[Queue, Member]:
    """A round-robin queue with one member, online, who may hold `capacity` conversations."""
    queue = Queue.objects.create(
        organization=org.org, name=name, distribution=Queue.Distribution.ROUND_ROBIN
    )
    member = org.member()
    queue.members.add(member)
    Member.objects.filter(pk=member.pk).update(capacity=capacity, availability="online")
    member.refresh_from_db()
    return queue, member


def history(obj) -> list[str]:
    """The verbs of `obj`'s timeline, oldest first."""
    return list(
        OperationalEvent.objects.filter(
            object_type=obj._meta.model_name, object_id=obj.pk
        ).values_list("verb", flat=True)
    )


def post(client: Client, url: str, data=None):
    return client.post(url, data or {}, content_type="application/json")


def put(client: Client, url: str, data):
    return client.put(url, data, content_type="application/json")
