import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a benchmark and print its figures as JSON (dispatch, chaos)."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=["dispatch", "chaos"])
        parser.add_argument("--jobs", type=int, default=20000)
        parser.add_argument("--workers", type=int, help="worker processes (dispatch 4, chaos 3)")
        parser.add_argument("--batch-size", type=int, default=200)
        parser.add_argument("--intents", type=int, default=10000, help="chaos: intents to send")

    def handle(self, *args, name, jobs, workers, batch_size, intents, **options):
        from bench import chaos, dispatch

        if name == "chaos":
            figures = chaos.run(intents=intents, workers=workers or 3)
        else:
            figures = dispatch.run(jobs=jobs, workers=workers or 4, batch_size=batch_size)
        self.stdout.write(json.dumps(figures, indent=2))
