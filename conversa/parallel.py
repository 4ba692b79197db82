"""Work done by a few threads at once, for the few places where most of it waits on something
other than this process's Python: the database's work on rows (a campaign's start), or a model
answering (the assistant's customers)."""

import contextvars
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import connection


def in_parallel(
    work: Callable, items: Iterable, *, workers: int, on_sqlite: bool = False
) -> Iterator:
    """`work(item)` for each item, its results in the items' order: by `workers` threads
    outside a transaction (each thread its own connection, closed at the end, and the
    caller's context: its correlation id and audit origin); on SQLite only `on_sqlite` (one
    writer: worth it only when the work mostly waits on something else). Else one after the
    other here: inside a transaction every row must be in it.

    The next item is taken while `workers` are at work, no more: memory stays that of a few
    items whatever their number."""
    if (
        workers <= 1
        or connection.in_atomic_block
        or (connection.vendor != "postgresql" and not on_sqlite)
    ):
        for item in items:
            yield work(item)
        return

    def run(item):
        try:
            return work(item)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conversa-parallel") as pool:
        pending: deque[Future] = deque()
        for item in items:
            pending.append(pool.submit(contextvars.copy_context().run, run, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
