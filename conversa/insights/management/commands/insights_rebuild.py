import json
import time

from django.core.management.base import BaseCommand, CommandError

from conversa.accounts.models import Organization
from conversa.insights import aggregates


class Command(BaseCommand):
    help = (
        "Count the Insights figures afresh from the messages and conversations (after a bulk "
        "load, or to repair them), for one organization or every one. Prints a JSON summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", type=int, help="its id; every one when not given")

    def handle(self, *args, organization: int | None = None, **options):
        orgs = Organization.objects.order_by("pk")
        if organization is not None:
            orgs = orgs.filter(pk=organization)
            if not orgs.exists():
                raise CommandError(f"No organization has the id {organization}.")
        started, rows = time.perf_counter(), 0
        for org in orgs:
            rows += aggregates.rebuild(org)
        seconds = round(time.perf_counter() - started, 3)
        self.stdout.write(
            json.dumps({"organizations": orgs.count(), "rows": rows, "seconds": seconds})
        )
