"""Geometry of the Insights page's server-drawn charts: bars for messages per day and the
weekday × hour heatmap's shades, and the marks of the charts drawn many times over (a bar a
day, a cell an hour) written out here as escaped HTML. Written by the template, those few
hundred marks were some five thousand template nodes, a fifth of the page's time at size.
Numbers are written as Python writes them, a decimal point in every language (coordinates
and counts, as the template's `localize off` did). No drawing library."""

import math
from datetime import date
from functools import lru_cache

from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

WIDTH, HEIGHT = 720, 180


@lru_cache(maxsize=1024)
def day_label(day: date, language: str | None) -> str:
    """A day as the reader's language writes it short, once per day and language: both
    charts name every day of the period."""
    return date_format(day, "SHORT_DATE_FORMAT")


WEEKDAYS = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


def day_bars(per_day: list[dict]) -> dict:
    """Two bars a day (in, out) scaled to the busiest day, in a WIDTH × HEIGHT box."""
    top = max([max(d["inbound"], d["outbound"]) for d in per_day] + [1])
    slot = WIDTH / max(len(per_day), 1)
    bar = max(slot * 0.4, 1)
    days = []
    for n, day in enumerate(per_day):
        x = n * slot
        label = day_label(day["day"], get_language())
        days.append(
            {
                "label": label,
                "inbound": day["inbound"],
                "outbound": day["outbound"],
                "x_in": round(x + slot * 0.1, 2),
                "x_out": round(x + slot * 0.1 + bar, 2),
                "h_in": round(HEIGHT * day["inbound"] / top, 2),
                "h_out": round(HEIGHT * day["outbound"] / top, 2),
            }
        )
    for day in days:
        day["y_in"] = round(HEIGHT - day["h_in"], 2)
        day["y_out"] = round(HEIGHT - day["h_out"], 2)
    # Under the bars, at most about seven days named (each at the middle of its slot, in
    # percent of the width): a month's thirty labels would not fit a phone.
    # The period's last day is always named; a named day too close before it gives way.
    step = math.ceil(len(days) / 7) or 1
    named = list(range(0, len(days), step))
    if named and named[-1] != len(days) - 1:
        if len(days) - 1 - named[-1] < step / 2:
            named.pop()
        named.append(len(days) - 1)
    axis = [
        {"label": days[n]["label"], "left": round(100 * (n + 0.5) / len(days), 2)} for n in named
    ]
    return {
        "days": days,
        "axis": axis,
        "bar": round(bar, 2),
        "width": WIDTH,
        "height": HEIGHT,
        "top": top,
    }


def heat_rows(grid: list[list[int]]) -> list[dict]:
    """Each weekday's 24 hours with a shade level 0–4 relative to the busiest hour."""
    top = max([max(row) for row in grid] + [1])
    return [
        {
            "weekday": WEEKDAYS[n],
            "hours": [
                {"hour": hour, "count": count, "level": 0 if not count else 1 + 3 * count // top}
                for hour, count in enumerate(row)
            ],
        }
        for n, row in enumerate(grid)
    ]


def queue_bars(queues: list[dict]) -> list[dict]:
    """Conversations opened per queue as horizontal bars: each row's share of the busiest, in
    percent of the chart's width (no queue last, as the table has it)."""
    top = max([q["opened"] for q in queues] + [1])
    return [{**q, "width": round(100 * q["opened"] / top, 1)} for q in queues]


HEALTH_WIDTH, HEALTH_HEIGHT = 140, 32


def health_bars(health: list[dict]) -> dict:
    """A number's score per day as small bars in a HEALTH_WIDTH × HEALTH_HEIGHT box, coloured
    by band (good from 80, fair from 50, poor below); a quiet day has none. With the lowest
    and the latest score for the text beside it."""
    slot = HEALTH_WIDTH / max(len(health), 1)
    bars = []
    for n, day in enumerate(health):
        if day["score"] is None:
            continue
        height = max(HEALTH_HEIGHT * day["score"] / 100, 1)
        band = "good" if day["score"] >= 80 else "fair" if day["score"] >= 50 else "poor"
        bars.append(
            {
                "label": day_label(day["day"], get_language()),
                "score": day["score"],
                "band": band,
                "x": round(n * slot + slot * 0.1, 2),
                "y": round(HEALTH_HEIGHT - height, 2),
                "width": round(max(slot * 0.8, 0.5), 2),
                "height": round(height, 2),
            }
        )
    scores = [b["score"] for b in bars]
    return {
        "bars": bars,
        "width": HEALTH_WIDTH,
        "height": HEALTH_HEIGHT,
        "lowest": min(scores) if scores else None,
        "latest": scores[-1] if scores else None,
    }


def named_mark(name: str, *rects: tuple) -> str:
    """An SVG group that keyboards reach, named (`name`, escaped already) on hover and focus,
    of the rectangles (class, x, y, width, height)."""
    shapes = "".join(
        f'<rect class="{cls}" x="{x}" y="{y}" width="{width}" height="{height}"/>'
        for cls, x, y, width, height in rects
    )
    return f'<g tabindex="0" aria-label="{name}"><title>{name}</title>{shapes}</g>'


def bar_marks(bars: dict) -> SafeString:
    """The SVG groups of `day_bars`: each day's two bars, named on hover and focus."""
    inbound, outbound = escape(gettext("in")), escape(gettext("out"))
    width = bars["bar"]
    marks = [
        named_mark(
            f"{escape(d['label'])}: {d['inbound']} {inbound}, {d['outbound']} {outbound}",
            ("bar-in", d["x_in"], d["y_in"], width, d["h_in"]),
            ("bar-out", d["x_out"], d["y_out"], width, d["h_out"]),
        )
        for d in bars["days"]
    ]
    return mark_safe("".join(marks))  # noqa: S308 (every text and link above is escaped)


def heat_body(heat: list[dict]) -> SafeString:
    """The heatmap's rows (`heat_rows`): a cell an hour, its count named on hover and focus,
    opening its messages when it has a `link`."""
    rows = []
    for row in heat:
        weekday = escape(row["weekday"])
        cells = []
        for h in row["hours"]:
            when, count, shade = f"{weekday} {h['hour']}:00", h["count"], h["level"]
            if h.get("link"):
                cells.append(
                    f'<td class="heat-{shade}" title="{when} · {count}">'
                    f'<a href="{escape(h["link"])}" aria-label="{when}: {count}">'
                    f"<span>{count}</span></a></td>"
                )
            else:
                cells.append(
                    f'<td class="heat-{shade}" tabindex="0" title="{when} · {count}"'
                    f' aria-label="{when}: {count}"><span>{count}</span></td>'
                )
        rows.append(f'<tr><th scope="row" class="small">{weekday}</th>{"".join(cells)}</tr>')
    return mark_safe("".join(rows))  # noqa: S308 (every text and link above is escaped)


def health_marks(chart: dict) -> SafeString:
    """The SVG groups of `health_bars`: a bar a day, its score named on hover and focus."""
    marks = [
        named_mark(
            f"{escape(b['label'])}: {b['score']}",
            (f"health-{b['band']}", b["x"], b["y"], b["width"], b["height"]),
        )
        for b in chart["bars"]
    ]
    return mark_safe("".join(marks))  # noqa: S308 (every text above is escaped)
