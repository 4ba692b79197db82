"""`conversa bench ingest` at a small size: every message stored once, its CPU figures there,
and the tables it emptied vacuumed, so that one run's dead rows do not slow the next."""

import io

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


def test_the_senders_read_each_answer_to_its_end_on_a_kept_connection():
    wire = io.BytesIO(
        b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"
        b'Content-Length: 21\r\nretry-after: 3\r\n\r\n{"error":"throttled"}'
        b'HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{"ok":true}'
    )
    assert [ingest.read_answer(wire), ingest.read_answer(wire)] == [429, 200]
    with pytest.raises(ConnectionError):
        ingest.read_answer(wire)
    post = ingest.encode_post(8000, "/webhooks/evolution/k", b"{}", {"apikey": "s"})
    assert post == (
        b"POST /webhooks/evolution/k HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
        b"Content-Length: 2\r\napikey: s\r\n\r\n{}"
    )
