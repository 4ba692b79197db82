"""The worker loop: reap, claim a batch, run each claimed job; the same code in every process.
Every few seconds a pass also records the worker's heartbeat (conversa.engine.liveness), wakes the snoozed conversations whose time has come and sweeps
presence (sockets of a process that died; members whose grace period is over), each pass
asks the model for the assistant's answers now due (conversa.assistant.autoreply), fetches a
few customers' media files (conversa.inbox.media) and goes on with a contact import
(conversa.campaigns.imports), every few seconds sending campaigns take the people who joined
their audience and finish when nothing is left (conversa.campaigns.sending), each pass writes a
slice of an export and every minute or so expired exports' files are deleted
(conversa.insights.exports), each pass sends the outbound webhooks now due
(conversa.webhooks.sending), and about once an hour the organizations' retention periods are
applied (conversa.engine.retention).

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

from conversa.assistant import autoreply
from conversa.campaigns import imports
from conversa.campaigns import sending as campaigns
from conversa.engine import jobs, liveness, retention, services, wakeup
from conversa.inbox import media, presence, states
from conversa.insights import aggregates, exports
from conversa.webhooks import sending as webhooks

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
        self.next_fold = 0.0
        self.next_beat = 0.0
        self.next_export_sweep = 0.0

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
        self.sweep_exports()
        self.fold_insights()
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
        return (
            len(claimed)
            + self.answer_customers()
            + self.fetch_media()
            + self.run_imports()
            + self.run_exports()
            + self.send_webhooks()
        )

    def send_webhooks(self) -> int:
        """Outbound webhooks now due (conversa.webhooks.sending), a batch a pass, a few at
        once, each waiting at most a few seconds for its receiver."""
        if self.stopping.is_set():
            return 0
        try:
            return webhooks.send_due(self.worker_id)
        except Exception:
            log.exception("the webhooks pass crashed; its claims are retried when they expire")
            return 0

    def answer_customers(self) -> int:
        """The assistant's answers now due (assistant.autoreply), a few a pass: each waits for
        the model, and the sends of the next pass wait for them."""
        if self.stopping.is_set():
            return 0
        try:
            return autoreply.run_due(settings.ASSISTANT_ANSWERS_PER_PASS)
        except Exception:
            log.exception("the assistant's pass crashed; its claims are retried when they expire")
            return 0

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

    def run_exports(self) -> int:
        """A slice of an export (insights.exports), a couple of seconds a pass, so the sends of
        the next pass wait little; the export goes on where the slice stopped."""
        if self.stopping.is_set():
            return 0
        try:
            return exports.run_due(self.worker_id)
        except Exception:
            log.exception("the export pass crashed; the export resumes when its lease ends")
            return 0

    def sweep_exports(self) -> None:
        # An export's file is kept for hours: a look every minute deletes it on time.
        if time.monotonic() >= self.next_export_sweep:
            self.next_export_sweep = time.monotonic() + settings.EXPORT_SWEEP_SECONDS
            try:
                exports.sweep()
            except Exception:
                log.exception("the expired exports' sweep crashed; the next one tries again")

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

    def fold_insights(self) -> None:
        # The figures read the pending deltas too, so the fold's pace is a matter of how many
        # rows they read, not of being right: every few seconds keeps them few.
        if time.monotonic() >= self.next_fold:
            self.next_fold = time.monotonic() + settings.INSIGHTS_FOLD_SECONDS
            try:
                aggregates.fold_all()
            except Exception:
                log.exception("folding the Insights deltas crashed; the next pass tries again")

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
