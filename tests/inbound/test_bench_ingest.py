"""`conversa bench ingest` at a small size: every message stored once, its CPU figures there,
and the tables it emptied vacuumed, so that one run's dead rows do not slow the next."""

import pytest
from django.db import connection

from bench import ingest


def last_vacuum(table: str):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = %s", [table])
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL bench")
@pytest.mark.django_db(transaction=True)
def test_a_small_ingest_run_stores_each_message_once_and_vacuums_what_it_emptied():
    before = last_vacuum("inbox_message")
    figures = ingest.run_shape(30, 3, "evolution", processes=1)
    assert (figures["stored"], figures["lost"], figures["duplicates"]) == (30, 0, 0)
    for key in ("web_cpu_ms_per_message", "database_cpu_ms_per_message"):
        assert figures[key] > 0
    assert figures["senders_cpu_ms_per_message"] >= 0
    vacuumed = last_vacuum("inbox_message")
    assert vacuumed is not None and (before is None or vacuumed > before)
