from tests.sandbox.conftest import webhooks_sent  # noqa: F401 (autouse here too)
