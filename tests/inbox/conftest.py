"""Fixtures shared by the inbox's tests."""

import pytest

from conversa.accounts.models import Member
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
