"""Prometheus metrics of inbound webhooks (served at /metrics by the web process that stored
them)."""

from django.utils import timezone
from prometheus_client import Histogram

from conversa.providers.base import ParsedEvent

webhook_lag = Histogram(
    "conversa_webhook_lag_seconds",
    "From the moment a provider event says it happened to our storing it (events that carry "
    "their own time: messages, reactions and edits, marketing preferences)",
    ["provider"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)


def observe_lag(provider: str, parsed: list[ParsedEvent], stored: list[bool]) -> None:
    """Each newly stored event's lag (a repeat's was measured the first time). A clock ahead of
    ours counts as no lag. When the events were kept whole as one Unparsed event instead
    (`stored` does not match `parsed`), nothing is measured."""
    if len(parsed) != len(stored):
        return
    now = timezone.now()
    for item, new in zip(parsed, stored, strict=True):
        happened = getattr(item.event, "timestamp", None)
        if new and happened is not None:
            webhook_lag.labels(provider).observe(max((now - happened).total_seconds(), 0.0))
