import json
from pathlib import Path

from tests.sandbox.conftest import webhooks_sent  # noqa: F401 (autouse here too)

# Real Evolution API payloads, copied into the repository with their sources (SOURCES.md there).
PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads" / "evolution"


def payload_files() -> list[Path]:
    return sorted(PAYLOADS.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_bytes())
