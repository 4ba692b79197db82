"""Wakes workers when new work is committed, so they need not poll fast.

In-process, a threading.Event. Across processes on PostgreSQL, NOTIFY/LISTEN on one channel;
elsewhere (SQLite) a worker process falls back to polling every WORKER_POLL_SECONDS.
"""

import threading

import psycopg
from django.db import connection

CHANNEL = "conversa_jobs"
new_work = threading.Event()


def notify() -> None:
    """Call after commit: the work is visible to whoever wakes."""
    new_work.set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {CHANNEL}")


def wait(timeout: float) -> None:
    new_work.wait(timeout)
    new_work.clear()


class Listener:
    """A worker process's ear: LISTEN on its own connection, or the in-process event."""

    def __init__(self):
        self.conn = None

    def wait(self, timeout: float) -> None:
        if connection.vendor != "postgresql":
            wait(timeout)
            return
        if self.conn is None:
            s = connection.settings_dict
            self.conn = psycopg.connect(
                host=s["HOST"] or None,
                port=s["PORT"] or None,
                dbname=s["NAME"],
                user=s["USER"] or None,
                password=s["PASSWORD"] or None,
                autocommit=True,
            )
            self.conn.execute(f"LISTEN {CHANNEL}")
        for _ in self.conn.notifies(timeout=timeout, stop_after=1):
            break

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
