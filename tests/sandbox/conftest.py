import pytest

from conversa.sandbox import simulator


@pytest.fixture(autouse=True)
def webhooks_sent(monkeypatch) -> list[dict]:
    """The webhooks the sandbox would deliver, kept here instead of sent from a background
    thread to a host that does not exist in tests."""
    sent: list[dict] = []

    def record(url, headers, body, delay=0.0, secret=""):
        sent.append(
            {"url": url, "headers": headers, "body": body, "delay": delay, "secret": secret}
        )

    monkeypatch.setattr(simulator.courier, "post", record)
    return sent


@pytest.fixture
def member_client(org):
    """The simulator's pages are for members: `org`'s owner, who sees `org`'s numbers there."""
    return org.client()
