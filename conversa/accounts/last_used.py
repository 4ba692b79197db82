"""An API token's "last used" time, written off the request path.

It was written by the authentication itself, inside the request: a busy client's requests then
queued on the token's row, and on SQLite other requests failed with "database is locked" while a
large webhook held the write lock. Now the answer never waits for it: one background thread per
process writes it, at most once a minute per token, with a short lock wait; a write that cannot
happen at once is skipped (the next request a minute later tries again) and logged.
"""

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from conversa.accounts.models import ApiToken

log = logging.getLogger(__name__)

# "Last used" is shown to the minute.
RESOLUTION = timedelta(minutes=1)
LOCK_WAIT_MS = 250

writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="token-last-used")
queued: dict[int, float] = {}
queued_lock = threading.Lock()


def touch(token: ApiToken) -> Future | None:
    """Note that `token` was just used: queued for the writer unless it was written (or queued
    by this process) less than a minute ago. Returns the queued write, if any."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < RESOLUTION:
        return None
    moment = time.monotonic()
    with queued_lock:
        if queued.get(token.pk, float("-inf")) > moment - RESOLUTION.total_seconds():
            return None
        if len(queued) > 10_000:
            queued.clear()
        queued[token.pk] = moment
    return writer.submit(write, token.pk, now)


def write(token_id: int, now: datetime) -> bool:
    """Set the time, unless another process did within the minute; never raises."""
    try:
        with waiting_briefly_for_locks():
            stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - RESOLUTION)
            return bool(ApiToken.objects.filter(stale, pk=token_id).update(last_used_at=now))
    except Exception as exc:
        # Only the token's id: never its secret or who holds it.
        log.warning("token %s: last used time not written (%s)", token_id, type(exc).__name__)
        return False
    finally:
        connection.close()


@contextmanager
def waiting_briefly_for_locks() -> Iterator[None]:
    """A transaction that waits at most LOCK_WAIT_MS for a lock. SQLite's is set before it
    begins: its transactions take the write lock as they begin (IMMEDIATE, settings.py), and
    set inside, the connection's own 20 s wait held this thread at the BEGIN."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
                cursor.execute("SET LOCAL statement_timeout = '2s'")
        yield


def settle() -> None:
    """Wait until every write queued so far is done (tests, and a clean shutdown)."""
    writer.submit(lambda: None).result(timeout=30)
