"""The per-day chart's axis: a few days named, the first and the last always."""

from datetime import date, timedelta

import pytest

from conversa.insights import charts


def days(n: int) -> list[dict]:
    first = date(2026, 11, 1)
    return [{"day": first + timedelta(days=k), "inbound": k, "outbound": 2 * k} for k in range(n)]


@pytest.mark.parametrize("n", [1, 2, 7, 8, 14, 30, 31, 92])
def test_the_axis_names_the_first_and_last_day_and_at_most_eight(n):
    bars = charts.day_bars(days(n))
    named = [a["label"] for a in bars["axis"]]
    assert named[0] == bars["days"][0]["label"]
    assert named[-1] == bars["days"][-1]["label"]
    assert len(named) <= 8
    assert len(set(named)) == len(named)
    lefts = [a["left"] for a in bars["axis"]]
    assert lefts == sorted(lefts)
    assert all(0 < left < 100 for left in lefts)


def test_a_week_names_every_day():
    assert len(charts.day_bars(days(7))["axis"]) == 7
