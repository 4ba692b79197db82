"""Fixtures shared by the inbox's tests."""

import pytest


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Within it, what waits for the commit runs at its end (the test's transaction never
    commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
