"""Fixtures the engine's tests share with the inbox's."""

from tests.inbox.conftest import committed  # noqa: F401 (a fixture)
