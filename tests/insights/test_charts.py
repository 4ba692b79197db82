"""The per-day chart's axis: a few days named, the first and the last always; the marks written
out as HTML escape what they show."""

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


def test_the_marks_written_out_escape_their_words_and_links():
    heat = charts.heat_rows([[0] * 23 + [5]] + [[0] * 24] * 6)
    heat[0]["weekday"] = "<b>Mon</b>"
    heat[0]["hours"][23]["link"] = "/insights/messages/?a=1&b=<x>"
    body = charts.heat_body(heat)
    assert "<b>" not in body and "&lt;b&gt;Mon&lt;/b&gt; 23:00: 5" in body
    assert 'href="/insights/messages/?a=1&amp;b=&lt;x&gt;"' in body
    assert body.count("<td") == 7 * 24 and body.count("<a ") == 1
    bars = charts.day_bars(days(2))
    bars["days"][0]["label"] = '1" onfocus="x'
    assert 'aria-label="1&quot; onfocus=&quot;x: 0 in, 0 out"' in charts.bar_marks(bars)
    chart = charts.health_bars([{"day": date(2026, 11, 1), "score": 40}])
    chart["bars"][0]["label"] = "<i>"
    assert "<title>&lt;i&gt;: 40</title>" in charts.health_marks(chart)
