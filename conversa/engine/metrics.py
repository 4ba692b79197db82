"""Prometheus metrics of the engine (served at /metrics)."""

from prometheus_client import Counter, Histogram

jobs_claimed = Counter("conversa_jobs_claimed", "Jobs claimed by a worker")
jobs_skipped_already_claimed = Counter(
    "conversa_jobs_skipped_already_claimed", "Claims lost to another worker (SQLite path)"
)
jobs_duplicate_blocked = Counter(
    "conversa_jobs_duplicate_blocked", "Intents refused by the idempotency key constraint"
)
jobs_sent = Counter("conversa_jobs_sent", "Jobs sent")
jobs_retried = Counter("conversa_jobs_retried", "Jobs put in RETRY_WAIT")
jobs_dead = Counter("conversa_jobs_dead", "Jobs whose retries were spent")
jobs_uncertain = Counter("conversa_jobs_uncertain", "Jobs whose send may have happened")
gate_decisions = Counter("conversa_gate_decisions", "Gate decisions", ["verdict", "reason_code"])
provider_send_seconds = Histogram(
    "conversa_provider_send_seconds", "Time a provider send call took, answered or not"
)
