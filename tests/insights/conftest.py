"""The day of known events (test_figures) for every Insights test, the exports' too."""

from tests.insights.test_figures import day  # noqa: F401 (a fixture)
