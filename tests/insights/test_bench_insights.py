"""`conversa bench insights` at a small size: its figures are there, the seed is counted right,
and it leaves nothing behind."""

import pytest

from bench import insights
from conversa.accounts.models import Organization
from conversa.insights.models import Delta, Handled, HourlyCount


@pytest.mark.django_db(transaction=True)
def test_the_insights_bench_at_a_small_size():
    figures = insights.run(conversations=60, days=3, requests=3, ingest_messages=40, senders=4)
    assert figures["messages"] == 600
    assert figures["hourly_rows"] > 0
    for key in ("page_p50_ms", "page_p95_ms", "api_p50_ms", "api_p95_ms", "machine_probe_ms"):
        assert figures[key] > 0
    assert figures["peak_rss_mb"] > 0
    assert figures["backup_seconds"] >= 0 and figures["restore_seconds"] >= 0
    if figures["database"] == "postgresql":
        assert figures["ingest_lost"] == 0
        assert figures["ingest_messages_per_second"] > 0
    assert not Organization.objects.filter(slug__startswith="bench-insights-").exists()
    assert not HourlyCount.objects.exists()
    assert not Delta.objects.exists()
    assert not Handled.objects.exists()
