"""`parallel.in_parallel`: outside a transaction the work runs at once, by as many threads as
asked, its results in the items' order; inside one (or on SQLite unless asked), one after the
other in the caller's thread, so every row is in the caller's transaction."""

import threading

import pytest
from django.db import connection

from conversa.parallel import in_parallel


def test_outside_a_transaction_the_items_are_worked_at_once(transactional_db):
    # Each item waits for the other two: one after the other, the first would wait for ever
    # (the barrier's timeout breaks it and fails the test).
    together = threading.Barrier(3, timeout=60)

    def work(n):
        together.wait()
        return n * 2, threading.current_thread().name

    found = list(in_parallel(work, [1, 2, 3], workers=3, on_sqlite=True))
    assert [double for double, _ in found] == [2, 4, 6]
    assert len({name for _, name in found}) == 3
    assert threading.current_thread().name not in {name for _, name in found}


def test_inside_a_transaction_one_after_the_other_here(db):
    here = threading.current_thread().name
    found = list(in_parallel(lambda n: (n, threading.current_thread().name), [1, 2], workers=2))
    assert found == [(1, here), (2, here)]


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite's one writer")
def test_on_sqlite_only_when_asked(transactional_db):
    here = threading.current_thread().name
    names = {
        name for name in in_parallel(lambda _: threading.current_thread().name, [1, 2], workers=2)
    }
    assert names == {here}
