"""Prometheus metrics of signing in (served at /metrics). Who failed is in the audit log; these
count how often, for the "sign-in failures spike" alert."""

from prometheus_client import Counter

login_failures = Counter(
    "conversa_login_failures",
    "Sign-ins refused: a wrong email or password (password), refused by the throttle before "
    "the password was checked (throttled), a wrong second-step code (second_factor)",
    ["reason"],
)
