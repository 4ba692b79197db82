"""The Insights counts read (reading.py): a period out of its weeks', days' and hours' rows
equals its hours alone; a page's figures read together from a few wider statements equal
each read on its own; metrics named and under a prefix are counted either way."""

from collections import defaultdict
from datetime import timedelta

import pytest

from conversa.inbox.models import Queue
from conversa.insights import aggregates, figures, reading
from tests.insights.test_aggregates import KEY
from tests.insights.test_figures import END, START


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (timedelta(days=20, hours=-5), timedelta(days=19, hours=3)),  # weeks, days and hours
        (timedelta(days=9), timedelta(days=2, hours=1)),  # a week, days and an hour
        (timedelta(hours=30), timedelta(hours=2)),  # days and hours, no whole week
    ],
)
def test_a_period_read_from_weeks_days_and_hours_equals_its_hours(day, before, after):
    aggregates.fold_all()
    start, end = START - before, END + after
    hourly: dict = defaultdict(int)
    for (_, *key), n in reading.counts(day.org, start, end, by=KEY).items():
        hourly[tuple(key)] += n
    assert hourly
    for columns in (KEY[1:], ("metric", "agent_id"), ("metric", "queue_id"), ("metric",)):
        expected: dict = defaultdict(int)
        for key, n in hourly.items():
            if (queue := key[2]) >= 0 and (agent := key[3]) >= 0:
                named = dict(zip(KEY[1:], key, strict=True), queue_id=queue, agent_id=agent)
                expected[tuple(named[c] for c in columns)] += n
        assert reading.counts(day.org, start, end, by=columns) == dict(expected)


def test_the_figures_read_together_are_the_ones_read_one_by_one(day, monkeypatch):
    """The page and the API read a few wider statements and answer each figure out of them
    (`reading.together`): the same figures, under every filter, as each figure reading
    its own; and one statement per wider read, not one per figure."""
    queue = Queue.objects.filter(organization=day.org).first()
    every = [
        figures.NONE,
        figures.Filters(number=day.number),
        figures.Filters(queue=queue),
        figures.Filters(agent=day.b),
        figures.Filters(tag=day.tag),
        figures.Filters(number=day.number, agent=day.a),
    ]
    statements = []
    alone = reading.statement
    monkeypatch.setattr(
        reading, "statement", lambda *args: statements.append(args[1]) or alone(*args)
    )
    together = {}
    for filters in every:
        statements.clear()
        together[filters] = figures.all_figures(day.org, START, END, filters)
        if filters == figures.NONE:
            assert len(statements) == len(figures.wider_reads(day.org, START, END, filters)) + 4
            assert together[filters]["agents"][0]["handled"]
            assert together[filters]["times"]["first_response"]["count"]
        together[filters, "headline"] = figures.headline(day.org, START, END, filters)
    monkeypatch.setattr(figures, "wider_reads", lambda *args, **kwargs: [])
    for filters in every:
        statements.clear()
        assert figures.all_figures(day.org, START, END, filters) == together[filters]
        assert figures.headline(day.org, START, END, filters) == together[filters, "headline"]
        if filters == figures.NONE:
            assert len(statements) > 20


def test_a_read_of_named_metrics_and_a_prefix_counts_either(day):
    def read(**which):
        return reading.counts(day.org, START, END, by=("metric",), **which)

    named, prefixed = read(metrics=["in", "out"]), read(metric_prefix="gate:")
    assert named and prefixed
    assert read(metrics=["in", "out"], metric_prefix="gate:") == named | prefixed
