import json
import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from conversa.inbound.reprocess import reprocess_events

DURATION = re.compile(r"(?P<amount>[0-9]{1,6})(?P<unit>[mhdw])")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_value(text: str):
    """An ISO date or date-time, or a duration back from now (30m, 12h, 7d, 2w)."""
    text = text.strip()
    duration = DURATION.fullmatch(text)
    if duration:
        return timezone.now() - timedelta(**{UNITS[duration["unit"]]: int(duration["amount"])})
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = None if day is None else timezone.datetime(day.year, day.month, day.day)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"--since {text!r}: give an ISO date (2026-01-31) or a duration (7d)")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = (
        "Parse again, with today's parsers, the webhook events kept unread (Unparsed) and apply "
        "what now reads; idempotent. Prints a JSON summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO date or date-time, or a duration: 30m, 12h, 7d")
        parser.add_argument("--number", type=int, help="Only this number's events (its id)")

    def handle(self, *args, since=None, number=None, **options):
        summary = reprocess_events(since=since_value(since) if since else None, number_id=number)
        self.stdout.write(json.dumps(summary))
