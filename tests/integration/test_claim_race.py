"""Ten operators claim one conversation at the same moment, each in its own process
(PostgreSQL): one wins, nine are told who has it, and the history shows one assignment."""

import os
from pathlib import Path

import pytest
from django.db import connection

from bench.cluster import database_url
from conversa.accounts.models import OperationalEvent
from tests.integration.together import release, spawn

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="several writing processes: PostgreSQL only"
)


def test_ten_processes_claim_one_conversation_one_wins(org, transactional_db):
    conversation = org.conversation()
    operators = [org.member() for _ in range(10)]
    script = Path(__file__).with_name("claim_at.py")
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": ""}
    processes = [
        spawn([str(script), str(conversation.pk), str(member.pk)], env) for member in operators
    ]
    release(processes)
    results = [p.communicate(timeout=60)[0].split() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    winners = [member for outcome, member in results if outcome == "won"]
    assert len(winners) == 1
    refusals = [holder for outcome, holder in results if outcome == "refused"]
    assert refusals == winners * 9, "every loser is told who won"
    conversation.refresh_from_db()
    assert str(conversation.assignee_id) == winners[0]
    assignments = OperationalEvent.objects.filter(
        object_type="conversation", object_id=conversation.pk, verb="conversation.assigned"
    )
    assert assignments.count() == 1
    assert conversation.assignee.open_count == 1
