"""Geometry of the Insights page's server-drawn charts: bars for messages per day and the
weekday × hour heatmap's shades. Plain numbers for the template; no drawing library."""

from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

WIDTH, HEIGHT = 720, 180
WEEKDAYS = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


def day_bars(per_day: list[dict]) -> dict:
    """Two bars a day (in, out) scaled to the busiest day, in a WIDTH × HEIGHT box."""
    top = max([max(d["inbound"], d["outbound"]) for d in per_day] + [1])
    slot = WIDTH / max(len(per_day), 1)
    bar = max(slot * 0.4, 1)
    days = []
    for n, day in enumerate(per_day):
        x = n * slot
        label = date_format(day["day"], "SHORT_DATE_FORMAT")
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
    return {"days": days, "bar": round(bar, 2), "width": WIDTH, "height": HEIGHT, "top": top}


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
