"""The echo of a send of ours (the business's phone reports it too) racing the provider's answer
to that send, on PostgreSQL: whichever transaction writes the provider id first, the other waits
on the unique (number, provider id) and, once the first commits, one row remains: our send's.

Each interleaving is forced: the first writer holds its transaction open until the second is
seen waiting for its lock (pg_stat_activity), then commits.
"""

import threading

import pytest
from django.db import connection, transaction

from conversa.engine import jobs
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob
from conversa.inbox.models import Message
from tests.conftest import make_org, wait_for
from tests.inbox.test_message_changes import PHONE, deliver, phone_message

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two writing transactions: PostgreSQL only"
)


def sending_job(org) -> ExecutionJob:
    engine.reply(org.conversation(PHONE), "Seu pedido saiu", acting_member=org.owner)
    (job_id,) = jobs.claim_batch("w1", 10)
    job = ExecutionJob.objects.select_related("message", "number", "intent").get(pk=job_id)
    jobs.transition(job, ExecutionJob.Status.SENDING)
    return job


def someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def race(first, second) -> list[BaseException]:
    """Run `first` in a transaction held open until `second` (in another) waits for it."""
    errors: list[BaseException] = []
    holding, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                first()
                holding.set()
                assert release.wait(30)
        except BaseException as exc:  # reported to the test, not lost in the thread
            errors.append(exc)
            holding.set()
        finally:
            connection.close()

    def follow():
        try:
            assert holding.wait(30)
            second()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=hold), threading.Thread(target=follow)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: errors or someone_waits_for_a_lock(), "the second writer to wait")
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
    return errors


@pytest.mark.parametrize("echo_first", [True, False], ids=["echo-first", "send-first"])
def test_echo_and_send_racing_end_as_one_row(transactional_db, echo_first):
    org = make_org()
    job = sending_job(org)
    echo = phone_message(message_id="RACE1", body="Seu pedido saiu")

    def store_echo():
        deliver(org.number, echo)

    def record_send():
        engine.mark_sent([(job, "RACE1")])

    errors = race(store_echo, record_send) if echo_first else race(record_send, store_echo)

    assert errors == []
    ours = Message.objects.get(provider_message_id="RACE1")
    assert ours.pk == job.message_id
    assert (ours.status, ours.sent_from_phone, ours.sender_id) == ("sent", False, org.owner.pk)
    assert Message.objects.filter(direction="out").count() == 1
    assert ExecutionJob.objects.get(pk=job.pk).status == ExecutionJob.Status.SENT
    # Replayed afterwards, the echo changes nothing.
    deliver(org.number, echo)
    assert Message.objects.filter(direction="out").count() == 1
