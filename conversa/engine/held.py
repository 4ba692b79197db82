"""Why an operator's message has not left yet, in the words the thread shows under it.

A message the Gate deferred (its number paused, disconnected or over quota, the kill switch,
quiet hours…) waits with the clock icon; its latest deferral says why, and what will send it:
a person (resuming the number, reconnecting it, resuming sending) or a time. When the message
leaves, its intent is no longer deferred and the reason goes with it."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext

from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent

# What ends each hold when a person does it; the others end at the deferral's time.
UNTIL_A_PERSON = {
    "number_paused": "resumed",
    "number_not_connected": "reconnected",
    "org_paused": "sending_resumed",
    "campaign_paused": "campaign_resumed",
}


@dataclass(frozen=True)
class Held:
    code: str
    reason: str  # the Gate's reason, translated
    until: datetime | None  # when the Gate looks again, for holds that end at a time

    @property
    def next_step(self) -> str:
        who = UNTIL_A_PERSON.get(self.code)
        if who == "resumed":
            return gettext("It goes out as soon as the number is resumed.")
        if who == "reconnected":
            return gettext("It goes out as soon as the number is connected again.")
        if who == "sending_resumed":
            return gettext("It goes out as soon as sending is resumed.")
        if who == "campaign_resumed":
            return gettext("It goes out as soon as the campaign is resumed.")
        if self.until is None:
            return ""
        local = timezone.localtime(self.until)
        if local.date() == timezone.localdate():
            when = time_format(local, "TIME_FORMAT")
        else:
            when = date_format(local, "SHORT_DATETIME_FORMAT")
        return gettext("It goes out by itself at %(when)s.") % {"when": when}


def held_messages(org_id: int, message_ids: list[int]) -> dict[int, Held]:
    """Message id → why the Gate holds it, for those of `message_ids` whose intent is deferred
    (their latest deferral). Two queries, none when no id is given."""
    if not message_ids:
        return {}
    intents = dict(
        ExecutionJob.objects.filter(
            organization_id=org_id,
            message_id__in=message_ids,
            intent__status=MessageIntent.Status.DEFERRED,
        ).values_list("intent_id", "message_id")
    )
    held = {}
    for decision in GateDecision.objects.filter(
        organization_id=org_id, intent_id__in=intents, verdict=GateDecision.Verdict.DEFER
    ).order_by("created_at", "id"):
        held[intents[decision.intent_id]] = Held(
            decision.reason_code,
            gettext(decision.reason) if decision.reason else "",
            decision.defer_until,
        )
    return held
