"""Times as people say them: the one relative-time phrase every page uses.

`{{ value|relative }}` (a template builtin: no `{% load %}`) says "just now" under a minute,
never "0 minutes ago", then "5 minutes ago", "3 hours ago"; a time ahead says "in under a
minute", "in 2 hours". One unit only ("2 days", not "2 days, 3 hours"): the exact time belongs
in the `<time>` element's `title` (docs/ui.md, Times)."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

register = template.Library()


def relative_time(value: datetime, now: datetime | None = None) -> str:
    """`value` against `now` (the current time by default) in the active language."""
    now = now or timezone.now()
    seconds = (now - value).total_seconds()
    if abs(seconds) < 60:
        return _("just now") if seconds >= 0 else _("in under a minute")
    if seconds > 0:
        return _("%(time)s ago") % {"time": timesince(value, now, depth=1)}
    return _("in %(time)s") % {"time": timeuntil(value, now, depth=1)}


@register.filter(name="relative", expects_localtime=False)
def relative(value) -> str:
    """The template filter: nothing for no time, so `{{ x|relative|default:"—" }}` works."""
    if not isinstance(value, datetime):
        return ""
    return relative_time(value)
