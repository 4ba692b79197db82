"""Outgoing messages in the words of the people who read them: when something happens, who
asked for a message, what became of it, and each step of its story. Times are in the
organization's time zone (the middleware activates it) and the reader's date format and
language. Reads only; the raw facts (event kinds, keys, ids) stay for the admins' disclosure.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from conversa.accounts.audit import verb_text
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.engine.queries import timeline
from conversa.numbers.models import Number

J = ExecutionJob.Status
Origin = MessageIntent.Origin

# Where a message came from, as a filter's choices and a column say it.
ORIGINS = {
    Origin.CHAT_MANUAL: gettext_lazy("Agent reply"),
    Origin.AUTOMATION: gettext_lazy("Automation"),
    Origin.CAMPAIGN: gettext_lazy("Campaign"),
    Origin.ASSISTANT: gettext_lazy("AI assistant"),
    Origin.API: gettext_lazy("Another system (API)"),
    Origin.CONFIRMATION: gettext_lazy("Automatic confirmation"),
    Origin.SURVEY: gettext_lazy("Satisfaction survey"),
}

# The states a person filters on (MessageIntent.Status), in their words.
STATES = {
    MessageIntent.Status.QUEUED: gettext_lazy("Being sent"),
    MessageIntent.Status.SCHEDULED: gettext_lazy("Scheduled"),
    MessageIntent.Status.DEFERRED: gettext_lazy("Waiting"),
    MessageIntent.Status.BLOCKED: gettext_lazy("Refused"),
    MessageIntent.Status.SENT: gettext_lazy("Sent"),
    MessageIntent.Status.FAILED: gettext_lazy("Not sent"),
}


def when(moment: datetime, now: datetime | None = None) -> str:
    """A moment as people say it: "14:02" today, "Tue 14:02" within a week either way, else
    the date and the time, both in the reader's format ("2:02 p.m." in English)."""
    local = timezone.localtime(moment)
    today = timezone.localtime(now or timezone.now()).date()
    clock = date_format(local, "TIME_FORMAT")
    days = abs((local.date() - today).days)
    if days == 0:
        return clock
    if days < 7:
        return f"{date_format(local, 'D')} {clock}"
    return f"{date_format(local, 'SHORT_DATE_FORMAT')} {clock}"


def lower_first(text: str) -> str:
    """A sentence continued after a colon: "All checks passed" → "all checks passed" (a
    word in capitals, such as "API", stays as it is)."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def reason_words(reason: str) -> str:
    """A Gate's or the engine's stored reason (English), translated, to follow a colon."""
    return lower_first(_(reason)) if reason else ""


def by_whom(intent: MessageIntent, token: str = "") -> str:
    """Who asked for the message: "by Ana", "by the automation “Welcome”", "by the API token
    “CRM sync”" (`token`: the name of the API token it came with)."""
    author = intent.created_by.display_name if intent.created_by else ""
    if intent.origin == Origin.AUTOMATION:
        follow_up = getattr(intent, "follow_up", None)
        automation = follow_up.automation if follow_up else None
        if automation is not None:
            return _("by the automation “%(name)s”") % {"name": automation.name}
        return _("by an automation")
    if intent.origin == Origin.ASSISTANT:
        return _("by the AI assistant")
    if intent.origin == Origin.CAMPAIGN:
        return _("by a campaign")
    if intent.origin == Origin.CONFIRMATION:
        return _("automatically, in answer to the contact's message")
    if intent.origin == Origin.SURVEY:
        return _("automatically, after the conversation was resolved")
    if intent.origin == Origin.API:
        if token:
            return _("by the API token “%(name)s”") % {"name": token}
        if author:
            return _("by %(name)s, through the API") % {"name": author}
        return _("through the API")
    return _("by %(name)s") % {"name": author} if author else _("by a person no longer here")


def source(intent: MessageIntent, token: str = "") -> tuple[str, str]:
    """Where the message came from and who, for a column: ("Automation", "“Welcome”"),
    ("Agent reply", "Ana"), ("Another system (API)", "“CRM sync”"), the API `token`'s name
    when it came with one; the second part may be ""."""
    kind = str(ORIGINS.get(intent.origin, intent.get_origin_display()))
    if intent.origin == Origin.AUTOMATION:
        follow_up = getattr(intent, "follow_up", None)
        automation = follow_up.automation if follow_up else None
        return kind, f"“{automation.name}”" if automation else ""
    if intent.origin == Origin.API and token:
        return kind, f"“{token}”"
    if intent.origin in (Origin.CHAT_MANUAL, Origin.API) and intent.created_by:
        return kind, intent.created_by.display_name
    return kind, ""


def verdict_words(decision: GateDecision, now: datetime | None = None) -> str:
    """ "Allowed: all checks passed", "Waiting until Tue 08:00: quiet hours…", "Refused: …"."""
    reason = reason_words(decision.reason)
    if decision.verdict == GateDecision.Verdict.ALLOW:
        return _("Allowed: %(reason)s") % {"reason": reason}
    if decision.verdict == GateDecision.Verdict.DEFER and decision.defer_until:
        return _("Waiting until %(when)s: %(reason)s") % {
            "when": when(decision.defer_until, now),
            "reason": reason,
        }
    if decision.verdict == GateDecision.Verdict.DEFER:
        return _("Waiting: %(reason)s") % {"reason": reason}
    return _("Refused: %(reason)s") % {"reason": reason}


def sending_number(intent: MessageIntent):
    """The number it leaves (or left, or would leave) from: its job's, else the one the Gate
    last chose, else the one asked for; None when none is known yet."""
    job = getattr(intent, "job", None)
    if job is not None:
        return job.number
    decision = intent.latest_decision
    if decision is not None and decision.number is not None:
        return decision.number
    return intent.number


def moment(intent: MessageIntent) -> datetime:
    """When the message goes or went: a scheduled one's due time, a sent one's sending time,
    else when it was asked for."""
    job = getattr(intent, "job", None)
    if intent.status == MessageIntent.Status.SCHEDULED and job is not None:
        return job.run_after
    if intent.status == MessageIntent.Status.SENT and job is not None:
        message = job.message
        return (message.sent_at if message else None) or job.updated_at
    return intent.created_at


def state(intent: MessageIntent, now: datetime | None = None) -> tuple[str, str]:
    """What became of the message, in one line, and its tone for the chip (ok, wait, bad).
    "Scheduled for Tue 14:00", "Sent 14:02 · delivered 14:02", "Refused: …"."""
    job = getattr(intent, "job", None)
    decision = intent.latest_decision
    status = intent.status
    if status == MessageIntent.Status.SENT:
        message = job.message if job else None
        sent_at = (message.sent_at if message else None) or job.updated_at
        parts = [_("Sent %(when)s") % {"when": when(sent_at, now)}]
        if message and message.read_at:
            parts.append(_("read %(when)s") % {"when": when(message.read_at, now)})
        elif message and message.delivered_at:
            parts.append(_("delivered %(when)s") % {"when": when(message.delivered_at, now)})
        return " · ".join(parts), "ok"
    if job is not None and job.status == J.UNCERTAIN:
        return _("Unsure whether it was sent: decide on its page"), "bad"
    if status == MessageIntent.Status.BLOCKED and decision is not None:
        return verdict_words(decision, now), "bad"
    if status == MessageIntent.Status.FAILED:
        return failure_words(job.last_error if job else "", job), "bad"
    if job is not None and job.status == J.RETRY_WAIT:
        return _("Sending failed; trying again at %(when)s") % {
            "when": when(job.run_after, now)
        }, "wait"
    if status == MessageIntent.Status.SCHEDULED and job is not None:
        return _("Scheduled for %(when)s") % {"when": when(job.run_after, now)}, "wait"
    if (
        decision is not None
        and decision.verdict == GateDecision.Verdict.DEFER
        and job is not None
        and job.status == J.PENDING
    ):
        return verdict_words(decision, now), "wait"
    if job is not None and job.status in (J.CLAIMED, J.SENDING):
        return _("Sending now"), "wait"
    return _("Waiting its turn to be sent"), "wait"


def failure_words(error: str, job: ExecutionJob | None) -> str:
    """Why a message was not sent, from the reason the engine stored."""
    if error == "cancelled" or error.startswith("cancelled: "):
        cause = error.removeprefix("cancelled").removeprefix(": ")
        return _("Cancelled: %(reason)s") % {"reason": _(cause)} if cause else _("Cancelled")
    if error == "marked failed by a person":
        return _("Marked as not sent")
    if job is not None and job.status == J.DEAD:
        return _("Not sent: every attempt failed")
    if error.startswith("retries spent"):
        return _("Not sent: every attempt failed")
    return _("Not sent: %(reason)s") % {"reason": reason_words(error)} if error else _("Not sent")


@dataclass
class Entry:
    """One step of a message's story: when, in words, and what it was for the admins."""

    at: datetime
    text: str
    tone: str = ""
    raw: dict = field(default_factory=dict)
    at_text: str = ""


def story(intent: MessageIntent, now: datetime | None = None) -> list[Entry]:
    """The message's timeline in words, oldest first: its creation, each decision of the
    sending rules (with the time it waits until), each attempt and its outcome, delivery and
    reading. Each entry keeps its raw event (kind, actor, data) for the admins."""
    job = getattr(intent, "job", None)
    entries = []
    for item in timeline(intent):
        if item["verb"].startswith("gate."):
            continue  # told from the decisions themselves, which know what they wait for
        raw = {"kind": item["verb"], "actor": item["actor"], **item["data"]}
        entries.append(Entry(item["at"], event_words(intent, item, now), raw=raw))
    for index, decision in enumerate(intent.decisions.order_by("created_at", "id")):
        tone = {"allow": "ok", "defer": "wait", "block": "bad"}[decision.verdict]
        raw = {
            "kind": f"gate.{decision.verdict}",
            "reason_code": decision.reason_code,
            "number": decision.number_id,
        }
        text = verdict_words(decision, now)
        if (
            decision.verdict == GateDecision.Verdict.ALLOW
            and intent.not_before is not None
            and decision.created_at < intent.not_before
        ):
            # Decided when it was scheduled: the rules are checked again when it is due.
            text = _("Allowed for now: %(reason)s (checked again when it is due)") % {
                "reason": reason_words(decision.reason)
            }
        elif decision.verdict == GateDecision.Verdict.ALLOW and index:
            # The rules are asked again just before sending: the same verdict, not a new one.
            text = _("Checked again before sending: %(reason)s") % {
                "reason": reason_words(decision.reason)
            }
        if decision.number is not None:
            text = _("%(verdict)s (number %(number)s)") % {
                "verdict": text,
                "number": decision.number.name,
            }
        entries.append(Entry(decision.created_at, text, tone, raw))
    message = job.message if job else None
    if message and message.delivered_at:
        entries.append(Entry(message.delivered_at, _("Delivered"), "ok", {"kind": "delivered"}))
    if message and message.read_at:
        entries.append(Entry(message.read_at, _("Read by the contact"), "ok", {"kind": "read"}))
    entries.sort(key=lambda entry: entry.at)
    for entry in entries:
        entry.at_text = when(entry.at, now)
    return entries


def event_words(intent: MessageIntent, item: dict, now: datetime | None = None) -> str:
    """One recorded event of a message's timeline as a sentence."""
    verb, data = item["verb"], item["data"]
    person = item["actor"] if item.get("by_person") else ""
    if verb == "intent.created":
        scheduled = intent.not_before is not None and intent.not_before > item["at"]
        if scheduled:
            return _("Scheduled for %(when)s %(by)s") % {
                "when": when(intent.not_before, now),
                "by": by_whom(intent, data.get("api_token", "")),
            }
        return _("Created %(by)s") % {"by": by_whom(intent, data.get("api_token", ""))}
    if verb == "job.sent":
        return _("Sent to WhatsApp")
    if verb == "job.retry_wait":
        return _("Sending failed (attempt %(n)s); it will be tried again") % {
            "n": data.get("attempt", 1)
        }
    if verb in ("job.failed", "job.dead"):
        text = failure_words(data.get("error", ""), None)
        if verb == "job.dead":
            text = _("Not sent: every attempt failed")
        return f"{text} {_('by %(name)s') % {'name': person}}" if person else text
    if verb == "job.cancelled":
        text = failure_words(data.get("reason", "cancelled"), None)
        return f"{text} {_('by %(name)s') % {'name': person}}" if person else text
    if verb == "job.uncertain":
        return _("Unsure whether it was sent: WhatsApp's provider did not answer in time")
    if verb == "job.requeued":
        return _("Queued again: the provider confirms it never received it")
    if verb == "job.resend":
        return _("Sent again at the request of %(name)s") % {"name": item["actor"]}
    return verb_text(verb)


def numbers_holding(org, number=None) -> str:
    """Why nothing can leave now, whatever the message, when the numbers are the cause:
    sending paused for the organization, every number (or the one asked for) paused, or
    none connected; "" when some number may send. Words to follow "Waiting: "."""
    if org.sending_paused:
        return _("sending is paused for the whole organization")
    candidates = (
        [number]
        if number is not None
        else list(Number.objects.for_org(org).exclude(status=Number.Status.REMOVED))
    )
    if not candidates:
        return _("the organization has no WhatsApp number")
    if all(n.paused for n in candidates):
        if number is not None:
            return _("the number %(name)s is paused") % {"name": number.name}
        return _("all numbers are paused")
    if not any(n.status == Number.Status.CONNECTED and not n.paused for n in candidates):
        if number is not None:
            return _("the number %(name)s is not connected") % {"name": number.name}
        return _("no number is connected")
    return ""
