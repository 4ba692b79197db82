"""`conversa bench export` at a small size: both sizes and formats written by a worker process,
every row in the file."""

import pytest

from bench import export


@pytest.mark.django_db(transaction=True)
def test_the_export_bench_writes_every_row_in_both_formats():
    figures = export.run(messages=400)
    assert figures["messages"] == 400
    assert [(r["format"], r["rows"], r["status"]) for r in figures["runs"]] == [
        ("csv", 40, "done"),
        ("xlsx", 40, "done"),
        ("csv", 400, "done"),
        ("xlsx", 400, "done"),
    ]
    assert all(r["worker_peak_rss_mb"] > 0 and r["seconds"] > 0 for r in figures["runs"])
