import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a benchmark and print its figures as JSON (dispatch)."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=["dispatch"])
        parser.add_argument("--jobs", type=int, default=20000)
        parser.add_argument("--workers", type=int, default=4)
        parser.add_argument("--batch-size", type=int, default=50)

    def handle(self, *args, name, jobs, workers, batch_size, **options):
        from bench import dispatch

        figures = dispatch.run(jobs=jobs, workers=workers, batch_size=batch_size)
        self.stdout.write(json.dumps(figures, indent=2))
