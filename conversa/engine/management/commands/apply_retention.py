import json

from django.core.management.base import BaseCommand

from conversa.engine import retention


class Command(BaseCommand):
    help = (
        "Delete the texts and files of messages older than each organization's retention "
        "period (the messages stay, emptied); idempotent. Prints a JSON summary. The worker "
        "does this about once an hour on its own."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be removed; change nothing"
        )

    def handle(self, *args, dry_run: bool = False, **options):
        self.stdout.write(json.dumps(retention.apply(dry_run=dry_run), sort_keys=True))
