"""The worker loop: reap, claim a batch, run each claimed job; the same code in every process.

`conversa worker` runs it in the foreground; `conversa serve` runs it beside the web app (see
conversa.asgi). A stop request finishes the jobs in hand and releases claims not yet started,
so a clean stop leaves nothing CLAIMED.
"""

import logging
import os
import socket
import threading
import uuid

from django.conf import settings
from django.db import close_old_connections

from conversa.engine import jobs, services, wakeup

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(self, batch_size: int = 10, worker_id: str | None = None):
        self.batch_size = batch_size
        self.worker_id = worker_id or new_worker_id()
        self.stopping = threading.Event()

    def run_once(self) -> int:
        """One pass: reap expired leases, claim, execute. Returns how many jobs it ran."""
        close_old_connections()
        jobs.reap()
        services.reconcile_uncertain()
        claimed = jobs.claim_batch(self.worker_id, self.batch_size)
        for index, job_id in enumerate(claimed):
            if self.stopping.is_set():
                jobs.release(claimed[index:], self.worker_id)
                return index
            try:
                services.execute_job(job_id, self.worker_id)
            except Exception:
                log.exception("job %s crashed the worker pass; its lease will expire", job_id)
        return len(claimed)

    def run_forever(self) -> None:
        log.info("worker %s started", self.worker_id)
        listener = wakeup.Listener()
        while not self.stopping.is_set():
            if self.run_once() == 0:
                listener.wait(settings.WORKER_POLL_SECONDS)
        listener.close()
        close_old_connections()
        log.info("worker %s stopped", self.worker_id)

    def stop(self) -> None:
        self.stopping.set()
        wakeup.new_work.set()
