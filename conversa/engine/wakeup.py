"""Wakes the in-process worker when new work is committed, so it need not poll fast.

Separate worker processes fall back to WORKER_POLL_SECONDS; the engine issue moves them to
PostgreSQL LISTEN/NOTIFY.
"""

import threading

new_work = threading.Event()


def notify() -> None:
    new_work.set()


def wait(timeout: float) -> None:
    new_work.wait(timeout)
    new_work.clear()
