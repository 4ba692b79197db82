"""The worker loop: reap, claim a batch, run each claimed job; the same code in every process.
Every few seconds a pass also records the worker's heartbeat (conversa.engine.liveness), wakes the snoozed conversations whose time has come and sweeps
presence (sockets of a process that died; members whose grace period is over), each pass
fetches a few customers' media files (conversa.inbox.media) and goes on with a contact import
(conversa.campaigns.imports), every few seconds sending campaigns take the people who joined
their audience and finish when nothing is left (conversa.campaigns.sending), and about once an
hour the organizations' retention periods are applied (conversa.engine.retention).

`conversa worker` runs it in the foreground; `conversa serve` runs it beside the web app (see
conversa.asgi). A stop request finishes the jobs in hand and releases claims not yet started,
so a clean stop leaves nothing CLAIMED.
"""

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

from conversa.campaigns import imports
from conversa.campaigns import sending as campaigns
from conversa.engine import jobs, liveness, retention, services, wakeup
from conversa.inbox import media, presence, states

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Claims up to `batch_size` jobs a pass and sends up to `concurrency` of them at once.

    Each group of `concurrency` jobs is gated and marked SENDING just before its sends, so the
    SENDING lease only has to cover one provider call, and a stop between groups releases the
    claims not started.
    """

    def __init__(self, batch_size: int = 10, concurrency: int = 1, worker_id: str | None = None):
        self.batch_size = max(batch_size, concurrency)
        self.concurrency = max(1, concurrency)
        self.worker_id = worker_id or new_worker_id()
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(self.concurrency) if self.concurrency > 1 else None
        self.next_wake = 0.0
        self.next_sweep = 0.0
        self.next_retention = 0.0
        self.next_campaigns = 0.0
        self.next_beat = 0.0

    def run_once(self) -> int:
        """One pass: reap expired leases, claim, execute. Returns how many jobs it ran."""
        close_old_connections()
        self.beat()
        jobs.reap()
        services.reconcile_uncertain()
        self.wake_snoozed()
        self.sweep_presence()
        self.apply_retention()
        self.run_campaigns()
        claimed = jobs.claim_batch(self.worker_id, self.batch_size)
        for start in range(0, len(claimed), self.concurrency):
            if self.stopping.is_set():
                jobs.release(claimed[start:], self.worker_id)
                return start
            group = claimed[start : start + self.concurrency]
            try:
                services.execute_jobs(group, self.worker_id, self.pool)
            except Exception:
                log.exception("jobs %s crashed the worker pass; their leases will expire", group)
        return len(claimed) + self.fetch_media() + self.run_imports()

    def fetch_media(self) -> int:
        """Customers' files due for download (inbox.media), a few a pass, so a slow download
        holds the sends of the next pass up only briefly."""
        if self.stopping.is_set():
            return 0
        try:
            return media.fetch_due(settings.MEDIA_FETCH_BATCH)
        except Exception:
            log.exception("the media pass crashed; its claims are retried when their lease ends")
            return 0

    def run_imports(self) -> int:
        """A slice of a contact import (campaigns.imports), a couple of seconds a pass, so the
        sends of the next pass wait little; the import resumes where the slice stopped."""
        if self.stopping.is_set():
            return 0
        try:
            return imports.run_due(self.worker_id)
        except Exception:
            log.exception("the import pass crashed; the import resumes when its lease ends")
            return 0

    def wake_snoozed(self) -> None:
        # A snooze is set in minutes: a look every few seconds is on time, and spares the
        # database a query on every pass of every worker.
        if time.monotonic() >= self.next_wake:
            self.next_wake = time.monotonic() + settings.WAKE_SNOOZED_SECONDS
            states.wake_snoozed()

    def sweep_presence(self) -> None:
        # Sockets of a web process that died stop being renewed: a look every few seconds
        # takes them away, and sets offline whoever they left without any (inbox/presence.py).
        if time.monotonic() >= self.next_sweep:
            self.next_sweep = time.monotonic() + settings.PRESENCE_SWEEP_SECONDS
            try:
                presence.sweep()
            except Exception:
                log.exception("the presence sweep crashed; the next one tries again")

    def apply_retention(self) -> None:
        # Old messages' texts and files go in batches; an hour's delay past a retention period
        # of days is on time. Several workers may run it at once: each batch is idempotent.
        if time.monotonic() >= self.next_retention:
            self.next_retention = time.monotonic() + settings.RETENTION_INTERVAL_SECONDS
            try:
                retention.apply()
            except Exception:
                log.exception("applying the retention periods crashed; the next run tries again")

    def run_campaigns(self) -> None:
        # Sending campaigns take the people who joined their audience since, and finish once
        # nothing is left to send: every few seconds is on time for both.
        if time.monotonic() >= self.next_campaigns:
            self.next_campaigns = time.monotonic() + settings.CAMPAIGN_PASS_SECONDS
            try:
                campaigns.run_due()
            except Exception:
                log.exception("the campaign pass crashed; the next one tries again")

    def beat(self) -> None:
        # /ready and the "no worker" alert read the newest heartbeat; one every few seconds is
        # fresh enough for them and spares the database a write on every pass.
        if time.monotonic() >= self.next_beat:
            self.next_beat = time.monotonic() + settings.WORKER_HEARTBEAT_SECONDS
            try:
                liveness.beat(self.worker_id)
            except Exception:
                log.exception("the worker heartbeat was not recorded; the next pass tries again")

    def run_forever(self) -> None:
        log.info("worker %s started", self.worker_id)
        listener = wakeup.Listener()
        while not self.stopping.is_set():
            if self.run_once() == 0:
                listener.wait(settings.WORKER_POLL_SECONDS)
        listener.close()
        self.close()
        log.info("worker %s stopped", self.worker_id)

    def stop(self) -> None:
        self.stopping.set()
        wakeup.new_work.set()

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown()
        try:
            liveness.forget(self.worker_id)
        except Exception:
            log.exception("the worker's heartbeat was left behind; it ages out")
        close_old_connections()
