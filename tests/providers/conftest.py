import json
from pathlib import Path

import pytest

from conversa.providers import sandbox

# Real Evolution API payloads, copied into the repository with their sources (SOURCES.md there).
PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads" / "evolution"


def payload_files() -> list[Path]:
    return sorted(PAYLOADS.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_bytes())


@pytest.fixture(autouse=True)
def webhooks_sent(monkeypatch) -> list[dict]:
    """The webhooks the sandbox would deliver, kept here instead of sent from a background
    thread to a host that does not exist in tests."""
    sent: list[dict] = []

    def record(url, headers, body, delay=0.0, secret=""):
        sent.append(
            {"url": url, "headers": headers, "body": body, "delay": delay, "secret": secret}
        )

    monkeypatch.setattr(sandbox.courier, "post", record)
    return sent
