"""A worker's passes record its heartbeat (every few seconds, not every pass); a clean stop
takes it away, so /ready stops counting a worker that is gone."""

from conversa.engine.models import WorkerHeartbeat
from conversa.engine.worker import Worker


def test_a_pass_records_the_heartbeat_a_few_seconds_apart(transactional_db, settings):
    settings.WORKER_HEARTBEAT_SECONDS = 3600
    worker = Worker(worker_id="host:42:beat01")

    worker.run_once()
    first = WorkerHeartbeat.objects.get(worker_id="host:42:beat01")
    worker.run_once()

    assert WorkerHeartbeat.objects.get(worker_id="host:42:beat01").seen_at == first.seen_at


def test_the_next_beat_moves_seen_at(transactional_db, settings):
    settings.WORKER_HEARTBEAT_SECONDS = 0
    worker = Worker(worker_id="host:42:beat02")

    worker.run_once()
    first = WorkerHeartbeat.objects.get(worker_id="host:42:beat02")
    worker.run_once()

    later = WorkerHeartbeat.objects.get(worker_id="host:42:beat02")
    assert later.seen_at > first.seen_at
    assert later.started_at == first.started_at


def test_a_clean_stop_forgets_the_worker(transactional_db):
    worker = Worker(worker_id="host:42:beat03")
    worker.run_once()

    worker.stop()
    worker.close()

    assert not WorkerHeartbeat.objects.filter(worker_id="host:42:beat03").exists()
