"""Prometheus metrics of the CRM's follow-ups (served at /metrics). The same figures, per
organization and durable, come from `followups.counters`."""

from prometheus_client import Counter

followups_scheduled = Counter("conversa_followups_scheduled", "Follow-up steps scheduled")
followups_duplicate_blocked = Counter(
    "conversa_followups_duplicate_blocked",
    "Follow-up steps refused by the database as a repeat of their idempotency key",
)
followups_cancelled = Counter(
    "conversa_followups_cancelled", "Follow-up steps cancelled before sending", ["reason"]
)
followups_made_runnable = Counter(
    "conversa_followups_made_runnable", "Due follow-up steps a dispatch made runnable at once"
)
