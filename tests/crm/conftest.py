import pytest


@pytest.fixture(autouse=True)
def sandbox_in_process(settings):
    """The sandbox answers sends in-process and at once: its ledger is the proof of what left."""
    settings.SANDBOX_IN_PROCESS = True
