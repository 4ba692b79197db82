"""Times on the CRM's pages as people say them: "just now" rather than "0 minutes", "due now"
rather than "in 0 minutes" (money is `conversa.money`'s)."""

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

MINUTE = timedelta(minutes=1)


def in_stage_for(entered_at: datetime, now: datetime | None = None) -> str:
    """How long a lead has been in its stage: "entered this stage just now" under a minute, else
    "in this stage for 3 hours"."""
    now = now or timezone.now()
    if now - entered_at < MINUTE:
        return _("entered this stage just now")
    return _("in this stage for %(when)s") % {"when": timesince(entered_at, now, depth=1)}


def until(moment: datetime, now: datetime | None = None) -> str:
    """How soon something is due: "due now" once its time has come, "in less than a minute",
    else "in 2 hours"."""
    now = now or timezone.now()
    if moment <= now:
        return _("due now")
    if moment - now < MINUTE:
        return _("in less than a minute")
    return _("in %(when)s") % {"when": timeuntil(moment, now, depth=1)}
